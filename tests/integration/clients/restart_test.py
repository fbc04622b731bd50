#!/usr/bin/python3
"""Proves that acknowledged records survive a restart: a clean one (SIGTERM, exit 0,
start on the same data directory) and a crash (SIGKILL while producers are writing).

librdkafka and kafka-python each write 1000 records (~300 bytes, lz4) with acks=all
to a 2-partition topic, rolling several 64 KiB segments; after SIGTERM and a
restart both topics are listed with the same watermarks and every record reads
back in order, by both clients. Then two producers (librdkafka, kafka-python) write in a
loop, each recording only the records the broker acknowledged; the broker is stopped
mid-stream, once with SIGTERM (exit 0 required) and once with SIGKILL, and restarted, and every acknowledged record must be there,
at the offset it was acknowledged with (flush_mode group: acked means fsynced).
"""
import random
import sys
import threading
import time

import confluent_kafka
import kafka

import clients
import harness

COUNT = 1000
PARTITIONS = 2
state = {}


def restart_records(client):
    """COUNT records with ~300 bytes of incompressible value each, so that with
    log_segment_bytes=65536 every partition rolls several segments."""
    rng = random.Random(client)
    return [(f"k{i}", f"{client}-{i}-" + rng.randbytes(150).hex(), [("i", str(i))],
             i % PARTITIONS) for i in range(COUNT)]


def produce_before_restart(broker):
    for client in ["librdkafka", "kafka-python"]:
        topic = harness.unique_topic(f"restart-{client}")
        records = restart_records(client)
        # Small batches (about 4 kB), so that segments roll between them.
        if client == "librdkafka":
            reports = clients.rdk_produce(broker.bootstrap, topic, records, codec="lz4",
                                          batch_num_messages=20)
        else:
            reports = clients.kp_produce(broker.bootstrap, topic, records, codec="lz4",
                                         batch_size=4096)
        state[client] = (topic, clients.expected_records(records, reports))


def clean_restart(broker):
    broker.restart()


def listed_after_restart(broker):
    listed = clients.rdk_partitions
    consumer = clients.rdk_consumer(broker.bootstrap)
    try:
        for client, (topic, expected) in state.items():
            assert listed(broker.bootstrap, topic) == list(range(PARTITIONS)), topic
            for p, records in clients.by_partition(expected).items():
                marks = consumer.get_watermark_offsets(confluent_kafka.TopicPartition(topic, p),
                                                       timeout=10, cached=False)
                assert marks == (0, len(records)), f"{topic} [{p}]: watermarks {marks}"
    finally:
        consumer.close()


def segments_rolled(broker):
    """The data set is meant to span segments: at least 2 .log files per partition
    (DATA/TOPIC-PARTITION/OFFSET.log), so that recovery reads more than one."""
    for client, (topic, _) in state.items():
        for p in range(PARTITIONS):
            logs = sorted((broker.data_dir / f"{topic}-{p}").glob("*.log"))
            assert len(logs) >= 2, f"{topic}-{p}: segments {[f.name for f in logs]}"


def read_after_restart(broker, reader):
    assert state, "nothing was produced"
    for client, (topic, expected) in state.items():
        if reader == "librdkafka":
            got = clients.rdk_consume(broker.bootstrap, topic, len(expected))
        else:
            got = clients.kp_consume(broker.bootstrap, topic, len(expected))
        assert sorted(got) == expected, (f"{client}'s topic: {len(got)} records back, "
                                         f"{len(expected)} acknowledged")
        by_partition = clients.by_partition(got)
        for p, rs in by_partition.items():
            assert [r[1] for r in rs] == list(range(len(rs))), f"gap in partition {p}"


class LoopingProducer(threading.Thread):
    """Produces until stopped; keeps (partition, offset) -> value of acknowledged records."""

    def __init__(self, broker, client, topic):
        super().__init__(daemon=True)
        self.broker, self.client, self.topic = broker, client, topic
        self.acked = {}
        self.stopping = threading.Event()
        self.error = None

    def run(self):
        try:
            if self.client == "librdkafka":
                self._run_rdk()
            else:
                self._run_kp()
        except Exception as error:  # reported by the case that joins this thread
            self.error = error

    def _run_rdk(self):
        producer = confluent_kafka.Producer(clients.rdk_conf(
            self.broker.bootstrap, acks="all", linger_ms=2, message_timeout_ms=3000,
            retries=0))

        def report(err, msg):
            if err is None:
                self.acked[(msg.partition(), msg.offset())] = msg.value().decode()
        i = 0
        while not self.stopping.is_set():
            try:
                producer.produce(self.topic, value=f"rdk-{i}", partition=i % PARTITIONS,
                                 on_delivery=report)
                i += 1
            except BufferError:
                pass
            producer.poll(0.001)
        producer.flush(10)

    def _run_kp(self):
        producer = kafka.KafkaProducer(bootstrap_servers=self.broker.bootstrap, acks="all",
                                       linger_ms=2, retries=0, request_timeout_ms=3000,
                                       max_block_ms=3000)
        i = 0
        pending = []
        while not self.stopping.is_set():
            value = f"kp-{i}"
            try:
                pending.append((value, producer.send(self.topic, value.encode(),
                                                     partition=i % PARTITIONS)))
            except kafka.errors.KafkaError:
                pass
            i += 1
            if len(pending) >= 50:
                self._collect(pending)
                pending = []
        self._collect(pending)
        producer.close(5)

    def _collect(self, pending):
        for value, future in pending:
            try:
                meta = future.get(timeout=10)
                self.acked[(meta.partition, meta.offset)] = value
            except kafka.errors.KafkaError:
                pass


def stop_mid_stream(broker, hard):
    """SIGKILL (hard) or SIGTERM (asserting exit 0) while two producers write."""
    producers = [LoopingProducer(broker, c, harness.unique_topic(f"kill-{c}"))
                 for c in ["librdkafka", "kafka-python"]]
    for p in producers:
        clients.rdk_produce(broker.bootstrap, p.topic, [("k", "first", [], 0)])  # creates it
        p.start()
    harness.deadline_poll(lambda: all(len(p.acked) >= 300 for p in producers), 30,
                          "300 acknowledged records from each producer")
    state["hard" if hard else "soft"] = producers
    try:
        if hard:
            broker.kill()
        else:
            broker.stop()
    finally:
        for p in producers:
            p.stopping.set()
        for p in producers:
            p.join(60)
            assert not p.is_alive(), f"{p.client} producer did not stop"
        broker.start()


def acked_after_kill(broker, reader, hard=True):
    producers = state.get("hard" if hard else "soft")
    assert producers, "the kill case did not run"
    for p in producers:
        assert p.error is None, f"{p.client} producer thread failed: {p.error!r}"
        if reader == "librdkafka":
            got = clients.rdk_consume(broker.bootstrap, p.topic, None)
        else:
            got = clients.kp_consume(broker.bootstrap, p.topic, None)
        stored = {(r[0], r[1]): r[3] for r in got}
        missing = {k: v for k, v in p.acked.items() if stored.get(k) != v}
        assert not missing, (f"{p.client}: {len(missing)} of {len(p.acked)} acknowledged records "
                             f"missing or changed after SIGKILL, e.g. "
                             f"{sorted(missing.items())[:3]} (stored: "
                             f"{[stored.get(k) for k in sorted(missing)[:3]]})")
        print(f"# {p.client}: {len(p.acked)} acked, {len(stored)} stored", flush=True)


def main():
    harness.run_cases([
        ("librdkafka and kafka-python write 1000 records each with acks=all (lz4)",
         produce_before_restart),
        ("the partitions rolled several 64 KiB segments", segments_rolled),
        ("SIGTERM exits 0 and tidelogd restarts on the same data directory", clean_restart),
        ("both topics are listed after the restart, watermarks 0 and the record count",
         listed_after_restart),
        ("librdkafka reads every acknowledged record after the restart",
         lambda b: read_after_restart(b, "librdkafka")),
        ("kafka-python reads every acknowledged record after the restart",
         lambda b: read_after_restart(b, "kafka-python")),
        ("SIGTERM while two producers write exits 0, then restart",
         lambda b: stop_mid_stream(b, hard=False)),
        ("librdkafka finds every record acknowledged before SIGTERM",
         lambda b: acked_after_kill(b, "librdkafka", hard=False)),
        ("kafka-python finds every record acknowledged before SIGTERM",
         lambda b: acked_after_kill(b, "kafka-python", hard=False)),
        ("SIGKILL while two producers write, then restart",
         lambda b: stop_mid_stream(b, hard=True)),
        ("librdkafka finds every record acknowledged before SIGKILL",
         lambda b: acked_after_kill(b, "librdkafka")),
        ("kafka-python finds every record acknowledged before SIGKILL",
         lambda b: acked_after_kill(b, "kafka-python")),
    ], {"num_partitions": PARTITIONS, "log_segment_bytes": 65536})


if __name__ == "__main__":
    sys.exit(main())
