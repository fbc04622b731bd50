#!/usr/bin/python3
"""Reads a whole topic with confluent-kafka (librdkafka) and prints it as JSON.

Used by feeds_test.py in-process, and as a program inside a network namespace
(the af_packet case runs the broker there): `feed_consume.py BOOTSTRAP TOPIC
EXPECTED TIMEOUT_S` waits (polling with a deadline) until the topic's high
watermarks add up to EXPECTED and stay there a moment, then reads every
record from offset 0 of every partition. `feed_consume.py --metrics URL`
prints the body of a GET.
"""
import json
import sys
import time
import urllib.request

from confluent_kafka import Consumer, TopicPartition

# After the watermarks reach the expected count, how long they must hold
# still: extra records (a bug) would show up in it.
SETTLE_S = 0.5


def watermarks(consumer, topic):
    meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
    if meta is None or meta.error is not None or not meta.partitions:
        return None
    return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in sorted(meta.partitions)}


def read_topic(bootstrap, topic, expected, timeout_s):
    """Every record of `topic` once the high watermarks sum to `expected`:
    dicts with partition, offset, key/value (hex, None for null), headers
    (name -> hex), timestamp_ms."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"feed-check-{time.time_ns()}",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest",
                         "fetch.wait.max.ms": 50})
    try:
        deadline = time.monotonic() + timeout_s
        marks, steady_since = None, None
        while True:
            marks = watermarks(consumer, topic)
            total = sum(marks.values()) if marks else 0
            if total == expected:
                steady_since = steady_since or time.monotonic()
                if time.monotonic() - steady_since >= SETTLE_S:
                    break
            else:
                steady_since = None
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic}: high watermarks {marks} (sum {total}), "
                                     f"expected {expected} records within {timeout_s} s")
            time.sleep(0.05)
        consumer.assign([TopicPartition(topic, p, 0) for p in marks])
        records = []
        remaining = dict(marks)
        while any(remaining.values()):
            if time.monotonic() > deadline + 60:
                raise AssertionError(f"{topic}: still missing {remaining} after reading")
            for m in consumer.consume(num_messages=10000, timeout=1.0):
                if m.error():
                    raise AssertionError(f"consume error: {m.error()}")
                records.append({
                    "partition": m.partition(), "offset": m.offset(),
                    "key": None if m.key() is None else m.key().hex(),
                    "value": None if m.value() is None else m.value().hex(),
                    "headers": {k: (v or b"").hex() for k, v in (m.headers() or [])},
                    "timestamp_ms": m.timestamp()[1],
                })
                if m.offset() + 1 >= marks[m.partition()]:
                    remaining[m.partition()] = 0
        return records
    finally:
        consumer.close()


def main(argv):
    if argv[1] == "--metrics":
        with urllib.request.urlopen(argv[2], timeout=10) as answer:
            sys.stdout.write(answer.read().decode())
        return 0
    bootstrap, topic, expected, timeout_s = argv[1], argv[2], int(argv[3]), float(argv[4])
    json.dump(read_topic(bootstrap, topic, expected, timeout_s), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
