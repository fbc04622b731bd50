#!/usr/bin/python3
"""Proves that idempotent producers write every record exactly once, in order,
although connections fail mid-stream and responses are lost (issue 6).

One tidelogd advertises the address of a fault-injecting proxy (fault_proxy.py),
so every client connection goes through it. The proxy drops connections and
swallows Produce responses at seeded random moments (the seed is printed;
TIDELOG_FAULT_SEED=N replays it), so clients resend batches the broker may
already hold. Each record's value names its producer and its index i (record i
goes to partition i % 4). After a run the proxy stops injecting faults and a
librdkafka consumer reads every partition to its end; each partition must hold
each record exactly once, in send order, each at the offset its delivery report
gave, and every acknowledged record must be there.

- librdkafka (enable.idempotence, acks=all, linger 5 ms, max.in.flight 5)
  writes 1,000,000 records; every one must be acknowledged.
- The same faults with idempotence off must leave duplicates: proves that the
  proxy's faults reach the broker, i.e. that the cases above can fail.
- kafkajs (idempotent: true) writes 50,000 records, one send() at a time.
- librdkafka writes through the same faults while the broker is killed with
  SIGKILL and restarted on the same port and data directory; every acknowledged
  record must be there exactly once, no record twice, each partition in send
  order.

Every fault case requires that faults happened (the count is printed): about
40 per librdkafka run, 60 per kafkajs run. About 25 s on 2 cores (the TAP
comments give each case's time and the total).
"""
import array
import os
import random
import sys
import threading
import time
import traceback

import confluent_kafka

import clients
import fault_proxy
import groups
import harness

PARTITIONS = 4
RDK_RECORDS = 1_000_000
# kafkajs sends one Produce at a time (see kafkajs_client.js) and each fault
# costs it a reconnect and a retry wait (50 ms, doubling). 50,000 records in
# sends of 100 are 500 sends, about 60 faults with FAULT_EVERY, and take about
# 6 s here (2 cores): under a minute even on a machine 5 times slower.
KAFKAJS_RECORDS = 50_000
KAFKAJS_PER_SEND = 100
# The control case sends until a swallowed response happened (at least this many).
CONTROL_RECORDS_MIN = 50_000
CONTROL_RECORDS_MAX = 1_000_000
KILL_RECORDS = 300_000
# A fault after every 3-15 Produce requests. With 64 KiB batches librdkafka
# sends about 600 Produce requests for 1M records here (more with retries), so
# several dozen faults per run, with up to 5 requests in flight at each.
FAULT_EVERY = (3, 15)
RDK_BATCH_BYTES = 65536


def seed_from_environment():
    text = os.environ.get("TIDELOG_FAULT_SEED")
    return int(text) if text else random.SystemRandom().randrange(1 << 32)


class RdkRun:
    """One librdkafka producer writing `count` records `{tag}-{i}` to partition
    i % PARTITIONS; keeps each record's delivery report: its offset, or the error."""

    def __init__(self, bootstrap, topic, tag, count, **settings):
        self.topic, self.tag, self.count = topic, tag, count
        self.offsets = array.array("q", [-1]) * count  # -1: no successful report
        self.errors = {}  # index -> error name
        self.fatal = []
        self.sent = 0
        self.acked = 0
        self.stopping = threading.Event()
        conf = dict(acks="all", linger_ms=5, max_in_flight_requests_per_connection=5,
                    message_timeout_ms=120_000, socket_timeout_ms=10_000,
                    retry_backoff_ms=20, reconnect_backoff_ms=20, reconnect_backoff_max_ms=200)
        conf.update(settings)
        conf = clients.rdk_conf(bootstrap, **conf)
        conf["error_cb"] = self._on_error
        self.producer = confluent_kafka.Producer(conf)
        self._prefix = len(tag) + 1

    def _on_error(self, error):
        if error.fatal():
            self.fatal.append(str(error))

    def _report(self, err, msg):
        index = int(msg.value()[self._prefix:])
        if err is None:
            self.offsets[index] = msg.offset()
            self.acked += 1
        else:
            self.errors[index] = err.name()

    def produce_all(self, until=None):
        """Sends records 0, 1, ... up to count, or until `until()` (asked every 1000
        records) or a fatal error."""
        produce, poll, topic, tag = self.producer.produce, self.producer.poll, self.topic, self.tag
        for i in range(self.count):
            if self.stopping.is_set() or self.fatal:
                break
            if until is not None and i % 1000 == 0 and until():
                break
            value = f"{tag}-{i}".encode()
            while not self.fatal:
                try:
                    produce(topic, value=value, partition=i % PARTITIONS, on_delivery=self._report)
                    self.sent = i + 1
                    break
                except BufferError:  # the queue is full: serve delivery reports
                    poll(0.05)
                except confluent_kafka.KafkaException as error:  # fatal idempotence error
                    self.fatal.append(str(error))
            if i % 1000 == 0:
                poll(0)

    def flush(self, timeout_s):
        """Waits for every delivery report; purges what is left after timeout_s.
        Returns how many records were left."""
        try:
            remaining = self.producer.flush(timeout_s)
        except confluent_kafka.KafkaException as error:  # a fatal error is raised here too
            self.fatal.append(str(error))
            remaining = len(self.producer)
        if remaining:
            try:
                self.producer.purge()
                self.producer.flush(10)
            except confluent_kafka.KafkaException:
                pass  # already recorded
        return remaining


def consume_all(bootstrap, topic, timeout_s=120):
    """{partition: [(offset, value)...]} of every record up to the high watermark."""
    consumer = clients.rdk_consumer(bootstrap, fetch_max_bytes=16 << 20,
                                    max_partition_fetch_bytes=4 << 20)
    try:
        ends = {}
        for p in range(PARTITIONS):
            _, ends[p] = consumer.get_watermark_offsets(
                confluent_kafka.TopicPartition(topic, p), timeout=10, cached=False)
        out = {p: [] for p in range(PARTITIONS)}
        consumer.assign([confluent_kafka.TopicPartition(topic, p, confluent_kafka.OFFSET_BEGINNING)
                         for p in range(PARTITIONS) if ends[p] > 0])
        deadline = time.monotonic() + timeout_s
        done = {p for p in range(PARTITIONS) if ends[p] == 0}
        while len(done) < PARTITIONS:
            assert time.monotonic() < deadline, \
                f"read {[len(out[p]) for p in out]} records of {ends} in {timeout_s} s"
            for msg in consumer.consume(num_messages=10000, timeout=0.5):
                if msg.error() is not None:
                    raise confluent_kafka.KafkaException(msg.error())
                p = msg.partition()
                out[p].append((msg.offset(), msg.value()))
                if msg.offset() + 1 >= ends[p]:
                    done.add(p)
        return out
    finally:
        consumer.close()


def check_log(stored, tag, count, delivered, require_all):
    """The exactly-once checks on what a partition holds, for the records `{tag}-{i}`.

    stored: {partition: [(offset, value)]}; delivered(i) -> the acknowledged offset
    of record i, or -1. Every record is stored at most once, on partition i % P, in
    send order; every acknowledged record is stored at its acknowledged offset; with
    require_all every record is stored. Returns {index: offset} of what is stored."""
    prefix = f"{tag}-".encode()
    found = {}
    problems = []
    for p, records in stored.items():
        previous = -1
        for offset, value in records:
            if not value.startswith(prefix):
                continue  # another case's record
            i = int(value[len(prefix):])
            if i in found:
                problems.append(f"record {i} stored twice: offsets {found[i]} and {offset}")
            elif i % PARTITIONS != p:
                problems.append(f"record {i} on partition {p}")
            elif i < previous:
                problems.append(f"partition {p}: record {i} at offset {offset} after "
                                f"record {previous}")
            found.setdefault(i, offset)
            previous = max(previous, i)
        if len(problems) > 20:
            break
    for i in range(count):
        acked = delivered(i)
        if acked >= 0 and found.get(i) != acked:
            problems.append(f"record {i} acknowledged at offset {acked}, stored at {found.get(i)}")
        elif require_all and i not in found:
            problems.append(f"record {i} missing")
        if len(problems) > 20:
            break
    assert not problems, f"{len(problems)}+ problems: " + "; ".join(problems[:20])
    return found


def kafkajs_offsets(bases, count, per_send):
    """Each record's acknowledged offset, from each send's base offset per partition:
    within a send, a partition's records follow its base offset in send order."""
    assert len(bases) == (count + per_send - 1) // per_send, \
        f"{len(bases)} sends acknowledged for {count} records"
    offsets = []
    for send, base in enumerate(bases):
        next_offset = {int(p): o for p, o in base.items()}
        for i in range(send * per_send, min((send + 1) * per_send, count)):
            offsets.append(next_offset[i % PARTITIONS])
            next_offset[i % PARTITIONS] += 1
    return offsets


class Cases:
    def __init__(self, tap, broker, proxy):
        self.tap, self.broker, self.proxy = tap, broker, proxy

    def new_topic(self, prefix):
        topic = harness.unique_topic(prefix)
        groups.create_topic(self.broker.bootstrap, topic, PARTITIONS)
        return topic

    def faults_since(self, before):
        return self.proxy.fault_count() - before

    def rdk_exactly_once(self, _):
        topic = self.new_topic("idem-rdk")
        before = self.proxy.fault_count()
        self.proxy.enabled = True
        run = RdkRun(self.broker.bootstrap, topic, "rdk", RDK_RECORDS, enable_idempotence=True,
                     batch_size=RDK_BATCH_BYTES)
        with harness.elapsed() as produce_s:
            run.produce_all()
            remaining = run.flush(300)
        self.proxy.enabled = False
        faults = self.faults_since(before)
        self.tap.comment(f"librdkafka: {RDK_RECORDS} records in {produce_s():.1f} s, "
                         f"{faults} faults; proxy: {self.proxy.summary()}")
        assert not run.fatal, f"fatal librdkafka errors: {run.fatal[:3]}"
        assert remaining == 0, f"{remaining} records undelivered after 300 s"
        assert not run.errors, f"{len(run.errors)} delivery errors, e.g. " \
            f"{sorted(run.errors.items())[:5]}"
        assert faults > 0, "no fault was injected: the case proves nothing"
        stored = consume_all(self.broker.bootstrap, topic)
        check_log(stored, "rdk", RDK_RECORDS, run.offsets.__getitem__, require_all=True)
        total = sum(len(v) for v in stored.values())
        assert total == RDK_RECORDS, f"{total} records stored, {RDK_RECORDS} sent"

    def rdk_control_duplicates(self, _):
        """Idempotence off, responses swallowed: librdkafka's retries must duplicate
        records. Only swallow_response here, which always leaves the batch in the
        log, and records are sent until one such fault happened."""
        topic = self.new_topic("idem-control")
        weights = self.proxy.weights
        self.proxy.weights = {"swallow_response": 1}
        before = self.proxy.fault_count()
        self.proxy.enabled = True
        try:
            run = RdkRun(self.broker.bootstrap, topic, "ctl", CONTROL_RECORDS_MAX,
                         enable_idempotence=False, retries=1_000_000)
            run.produce_all(until=lambda: self.faults_since(before) > 0 and
                            run.sent >= CONTROL_RECORDS_MIN)
            remaining = run.flush(120)
        finally:
            self.proxy.enabled = False
            self.proxy.weights = weights
        faults = self.faults_since(before)
        assert remaining == 0, f"{remaining} records undelivered"
        stored = consume_all(self.broker.bootstrap, topic)
        total = sum(len(v) for v in stored.values())
        self.tap.comment(f"without idempotence: {run.sent} sent, {total} stored "
                         f"({total - run.sent} duplicates) after {faults} swallowed responses")
        assert faults > 0, "no fault was injected"
        try:
            check_log(stored, "ctl", run.sent, lambda i: -1, require_all=True)
        except AssertionError as expected:
            assert "twice" in str(expected), f"unexpected kind of failure: {expected}"
            return
        raise AssertionError(f"{faults} swallowed responses and no duplicate without "
                             "idempotence: the proxy's faults do not cause retries")

    def kafkajs_exactly_once(self, _):
        topic = self.new_topic("idem-kafkajs")
        before = self.proxy.fault_count()
        self.proxy.enabled = True
        try:
            answer = harness.kafkajs({
                "op": "idempotentProduce", "brokers": [self.broker.bootstrap], "topic": topic,
                "count": KAFKAJS_RECORDS, "perSend": KAFKAJS_PER_SEND, "partitions": PARTITIONS,
                "tag": "kjs"}, timeout_s=120)
        finally:
            self.proxy.enabled = False
        faults = self.faults_since(before)
        self.tap.comment(f"kafkajs: {KAFKAJS_RECORDS} records, {faults} faults; "
                         f"proxy: {self.proxy.summary()}")
        assert faults > 0, "no fault was injected: the case proves nothing"
        offsets = kafkajs_offsets(answer["bases"], KAFKAJS_RECORDS, KAFKAJS_PER_SEND)
        stored = consume_all(self.broker.bootstrap, topic)
        check_log(stored, "kjs", KAFKAJS_RECORDS, offsets.__getitem__, require_all=True)
        total = sum(len(v) for v in stored.values())
        assert total == KAFKAJS_RECORDS, f"{total} records stored, {KAFKAJS_RECORDS} sent"

    def rdk_sigkill(self, _):
        """SIGKILL and restart while librdkafka writes through the faulty proxy.
        librdkafka keeps the unacknowledged batches and resends them, with their
        sequences, once the broker is back; the broker must know them from its
        producer state snapshot and the log tail it replayed."""
        topic = self.new_topic("idem-kill")
        before = self.proxy.fault_count()
        self.proxy.enabled = True
        run = RdkRun(self.broker.bootstrap, topic, "kill", KILL_RECORDS, enable_idempotence=True)
        producing = threading.Thread(target=run.produce_all, daemon=True)
        producing.start()
        try:
            harness.deadline_poll(lambda: run.fatal or run.acked >= KILL_RECORDS // 3,
                                  60, f"{KILL_RECORDS // 3} acknowledged records")
            acked_before_kill = run.acked
            self.broker.kill()
            self.proxy.drop_all()
            self.broker.start()
        finally:
            producing.join(120)
        remaining = run.flush(120)
        self.proxy.enabled = False
        faults = self.faults_since(before)
        acked = run.acked
        errors = {}
        for name in run.errors.values():
            errors[name] = errors.get(name, 0) + 1
        self.tap.comment(f"SIGKILL after {acked_before_kill} acknowledged, {faults} proxy "
                         f"faults; in the end "
                         f"{run.sent} sent, {acked} acknowledged, delivery errors {errors}, "
                         f"{remaining} undelivered at flush, fatal {run.fatal[:2]}")
        assert not producing.is_alive(), "the producer loop did not end"
        stored = consume_all(self.broker.bootstrap, topic)
        found = check_log(stored, "kill", run.sent, run.offsets.__getitem__, require_all=False)
        self.tap.comment(f"after the SIGKILL: {len(found)} records stored, of which "
                         f"{len(found) - acked} unacknowledged")
        # The acknowledged records are intact (above); a fatal error would still
        # mean that the broker forgot the producer's state across the crash.
        assert not run.fatal, f"librdkafka's fatal error around the restart: {run.fatal[:2]}"
        assert acked > acked_before_kill, "nothing was acknowledged after the restart"


def main():
    started = time.monotonic()
    tap = harness.Tap()
    seed = seed_from_environment()
    tap.comment(f"fault seed {seed} (TIDELOG_FAULT_SEED={seed} replays the fault sequence)")
    proxy = fault_proxy.FaultProxy(seed, every=FAULT_EVERY)
    proxy.enabled = False
    broker = harness.Broker(name="idempotence", advertised_kafka_addr=proxy.address,
                            num_partitions=PARTITIONS)
    cases = Cases(tap, broker, proxy)
    plan = [
        ("librdkafka idempotent producer writes 1,000,000 records through the faulty proxy "
         "exactly once, in order", cases.rdk_exactly_once),
        ("without idempotence the same faults leave duplicates (the proxy's faults bite)",
         cases.rdk_control_duplicates),
        (f"kafkajs idempotent producer writes {KAFKAJS_RECORDS} records through the faulty "
         "proxy exactly once, in order", cases.kafkajs_exactly_once),
        ("SIGKILL and restart mid-run: every acknowledged record once, none twice, in order",
         cases.rdk_sigkill),
    ]
    try:
        try:
            broker.start()
            proxy.upstream_port = broker.port
        except Exception:
            tap.comment(traceback.format_exc())
            for name, _ in plan:
                tap.case(name, harness._raise, "broker did not start")
            return tap.finish()
        for name, function in plan:
            tap.case(name, function, broker)
        tap.case("broker stops cleanly on SIGTERM (exit 0)", broker.stop)
    finally:
        proxy.close()
        broker.close()
    tap.comment(f"fault seed {seed}; {time.monotonic() - started:.0f} s in all")
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
