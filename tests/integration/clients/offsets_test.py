#!/usr/bin/python3
"""Proves ListOffsets (earliest/latest watermarks, offsets by timestamp) and the Fetch
long-poll wake-up, as each real client uses them.

Setup: librdkafka writes 10 records in one batch to a 2-partition topic's partition 0,
with CreateTime timestamps BASE, BASE+1000, ..., BASE+9000, and 3 records to
partition 1. Each client then asks for the watermarks (expect low 0, high 10 and 3),
for the offset of BASE+2500 (expect 3: the first record at or after it, inside the
batch), of BASE (0) and of a time after every record (none). The long-poll cases
park a consumer in a fetch with a 10 s max wait, produce one record, and require it
within 5 s: a broker that did not wake parked fetches would answer only at 10 s.
"""
import sys
import threading
import time

import confluent_kafka
import kafka
from kafka.structs import TopicPartition as KpTopicPartition

import clients
import harness

BASE_MS = 1_700_000_000_000
COUNT = 10
TOPIC = harness.unique_topic("offsets")
LONG_WAIT_MS = 10_000
WAKE_LIMIT_S = 5.0


def setup(broker):
    producer = confluent_kafka.Producer(clients.rdk_conf(broker.bootstrap, acks="all",
                                                         linger_ms=200))
    errors = []

    def report(err, _msg):
        if err is not None:
            errors.append(err)
    for i in range(COUNT):
        producer.produce(TOPIC, key=f"k{i}", value=f"v{i}", partition=0,
                         timestamp=BASE_MS + 1000 * i, on_delivery=report)
    for i in range(3):
        producer.produce(TOPIC, value=f"p1-{i}", partition=1, timestamp=BASE_MS + i,
                         on_delivery=report)
    assert producer.flush(30) == 0 and not errors, errors


def rdk_watermarks(broker):
    consumer = clients.rdk_consumer(broker.bootstrap)
    try:
        for partition, high in [(0, COUNT), (1, 3)]:
            got = consumer.get_watermark_offsets(
                confluent_kafka.TopicPartition(TOPIC, partition), timeout=10, cached=False)
            assert got == (0, high), f"partition {partition}: watermarks {got}, want (0, {high})"
    finally:
        consumer.close()


def rdk_offsets_for_times(broker):
    consumer = clients.rdk_consumer(broker.bootstrap)
    try:
        for ts, want in [(BASE_MS + 2500, 3), (BASE_MS, 0), (BASE_MS - 5, 0),
                         (BASE_MS + 9000, 9), (BASE_MS + 60_000, -1)]:
            [tp] = consumer.offsets_for_times(
                [confluent_kafka.TopicPartition(TOPIC, 0, ts)], timeout=10)
            assert tp.error is None and tp.offset == want, \
                f"offsets_for_times({ts - BASE_MS:+d} ms): {tp.offset} ({tp.error}), want {want}"
    finally:
        consumer.close()


def kp_watermarks(broker):
    consumer = clients.kp_consumer(broker.bootstrap)
    try:
        tps = [KpTopicPartition(TOPIC, 0), KpTopicPartition(TOPIC, 1)]
        assert consumer.beginning_offsets(tps) == {tps[0]: 0, tps[1]: 0}
        end = consumer.end_offsets(tps)
        assert end == {tps[0]: COUNT, tps[1]: 3}, f"end_offsets {end}"
    finally:
        consumer.close()


def kp_offsets_for_times(broker):
    consumer = clients.kp_consumer(broker.bootstrap)
    try:
        tp = KpTopicPartition(TOPIC, 0)
        for ts, want in [(BASE_MS + 2500, 3), (BASE_MS, 0), (BASE_MS + 9000, 9),
                         (BASE_MS + 60_000, None)]:
            got = consumer.offsets_for_times({tp: ts})[tp]
            if want is None:
                assert got is None, f"offsets_for_times(+60 s): {got}, want None"
            else:
                assert got is not None and got.offset == want, \
                    f"offsets_for_times({ts - BASE_MS:+d} ms): {got}, want offset {want}"
                assert got.timestamp == BASE_MS + 1000 * want, f"timestamp {got}"
    finally:
        consumer.close()


def kafkajs_offsets(broker):
    answer = harness.kafkajs({"op": "offsets", "brokers": [broker.bootstrap], "topic": TOPIC,
                              "timestamp": BASE_MS + 2500})
    got = sorted((p["partition"], p["low"], p["high"]) for p in answer["offsets"])
    assert got == [(0, 0, COUNT), (1, 0, 3)], f"fetchTopicOffsets {got}"
    by_time = sorted((p["partition"], p["offset"]) for p in answer["byTime"])
    # Partition 1's records are all older than BASE+2500: kafkajs then reports the high watermark.
    assert by_time == [(0, 3), (1, 3)], f"fetchTopicOffsetsByTimestamp {by_time}"


def kcat_offsets_for_times(broker):
    out = clients.kcat(["-Q", "-b", broker.bootstrap, "-t", f"{TOPIC}:0:{BASE_MS + 2500}"])
    # kcat 1.7 prints "<topic> [0] offset 3"
    assert f"{TOPIC} [0] offset 3" in out, out


def rdk_out_of_range_reset(broker):
    """Fetch past the end gets OFFSET_OUT_OF_RANGE; auto.offset.reset=earliest starts over."""
    consumer = clients.rdk_consumer(broker.bootstrap, auto_offset_reset="earliest")
    try:
        consumer.assign([confluent_kafka.TopicPartition(TOPIC, 0, COUNT + 1000)])
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is not None and msg.error() is None:
                assert msg.offset() == 0, f"first record after the reset has offset {msg.offset()}"
                return
        raise AssertionError("no record within 15 s after fetching past the end")
    finally:
        consumer.close()


def kp_out_of_range_reset(broker):
    consumer = clients.kp_consumer(broker.bootstrap, auto_offset_reset="earliest")
    try:
        tp = KpTopicPartition(TOPIC, 0)
        consumer.assign([tp])
        consumer.seek(tp, COUNT + 1000)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            for messages in consumer.poll(timeout_ms=200).values():
                assert messages[0].offset == 0, f"first record has offset {messages[0].offset}"
                return
        raise AssertionError("no record within 15 s after fetching past the end")
    finally:
        consumer.close()


def wait_for_wake(start_consumer, poll_once, broker, partition):
    """Parks a consumer in a long fetch, produces one record, returns its latency."""
    topic_offset = [None]
    received = threading.Event()
    consumer = start_consumer()
    try:
        # The first polls send the Fetch, which the broker parks (nothing to read).
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            assert poll_once(consumer, 0.2) is None, "read a record before producing one"
        sent = time.monotonic()
        clients.rdk_produce(broker.bootstrap, TOPIC, [("wake", "up", [], partition)])
        while time.monotonic() - sent < LONG_WAIT_MS / 1000 + 5:
            value = poll_once(consumer, 0.1)
            if value is not None:
                topic_offset[0] = value
                received.set()
                break
        latency = time.monotonic() - sent
        assert received.is_set(), "the record never arrived"
        assert topic_offset[0] == b"up", topic_offset[0]
        assert latency < WAKE_LIMIT_S, (
            f"record arrived after {latency:.1f} s; fetch max wait is {LONG_WAIT_MS} ms: "
            "the parked fetch was not woken by the produce")
        return latency
    finally:
        consumer.close()


def rdk_long_poll(broker):
    tp = confluent_kafka.TopicPartition(TOPIC, 1)

    def start():
        consumer = clients.rdk_consumer(broker.bootstrap, fetch_wait_max_ms=LONG_WAIT_MS)
        _, high = consumer.get_watermark_offsets(tp, timeout=10, cached=False)
        consumer.assign([confluent_kafka.TopicPartition(TOPIC, 1, high)])
        return consumer

    def poll(consumer, timeout):
        msg = consumer.poll(timeout)
        if msg is None or msg.error() is not None:
            return None
        return msg.value()
    latency = wait_for_wake(start, poll, broker, 1)
    print(f"# woken after {latency:.3f} s", flush=True)


def kp_long_poll(broker):
    tp = KpTopicPartition(TOPIC, 1)

    def start():
        consumer = clients.kp_consumer(broker.bootstrap, fetch_max_wait_ms=LONG_WAIT_MS,
                                       request_timeout_ms=LONG_WAIT_MS + 20_000)
        consumer.assign([tp])
        consumer.seek_to_end(tp)
        consumer.position(tp)
        return consumer

    def poll(consumer, timeout):
        for messages in consumer.poll(timeout_ms=int(timeout * 1000)).values():
            return messages[0].value
        return None
    latency = wait_for_wake(start, poll, broker, 1)
    print(f"# woken after {latency:.3f} s", flush=True)


def main():
    harness.run_cases([
        ("librdkafka writes 13 records with chosen timestamps to 2 partitions", setup),
        ("librdkafka get_watermark_offsets: earliest 0, latest 10 and 3", rdk_watermarks),
        ("librdkafka offsets_for_times: first record at or after a time, -1 past the end",
         rdk_offsets_for_times),
        ("kafka-python beginning_offsets/end_offsets", kp_watermarks),
        ("kafka-python offsets_for_times (exact offset and timestamp, None past the end)",
         kp_offsets_for_times),
        ("kafkajs admin fetchTopicOffsets and fetchTopicOffsetsByTimestamp", kafkajs_offsets),
        ("kcat -Q offset for a timestamp", kcat_offsets_for_times),
        ("librdkafka: fetch past the end, auto.offset.reset=earliest reads from offset 0",
         rdk_out_of_range_reset),
        ("kafka-python: fetch past the end, auto_offset_reset=earliest reads from offset 0",
         kp_out_of_range_reset),
        ("librdkafka consumer parked in a 10 s fetch gets a new record within 5 s", rdk_long_poll),
        ("kafka-python consumer parked in a 10 s fetch gets a new record within 5 s",
         kp_long_poll),
    ], {"num_partitions": 2})


if __name__ == "__main__":
    sys.exit(main())
