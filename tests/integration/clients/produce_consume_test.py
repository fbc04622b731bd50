#!/usr/bin/python3
"""Proves that records with keys and headers produced by each real client come back
intact and in per-partition order to every other client.

One tidelogd with num_partitions=3; each producer (librdkafka via confluent-kafka,
kafka-python, kafkajs, kcat) writes to its own topic, created by the broker on the
producer's first Metadata request (auto-create). Every consumer (librdkafka,
kafka-python, kcat, kafkajs's fetch path) then reads all partitions from offset 0,
and each case compares the records per partition, in offset order, with what the
producer's delivery reports acknowledged. Two more cases: one librdkafka flush over
4 topics x 3 partitions (requests that span both shards) read back by one consumer,
a 900 kB record through three clients, and records with null keys, null values
and odd headers.
"""
import sys
import time

import confluent_kafka

import clients
import harness

PARTITIONS = 3
COUNT = 60
PRODUCERS = ["librdkafka", "kafka-python", "kafkajs", "kcat"]
CONSUMERS = ["librdkafka", "kafka-python", "kcat", "kafkajs"]

produced = {}  # producer -> (topic, expected records)


def produce(broker, producer):
    topic = harness.unique_topic(f"pc-{producer}")
    records = clients.sample_records(COUNT, producer, partitions=PARTITIONS)
    if producer == "librdkafka":
        reports = clients.rdk_produce(broker.bootstrap, topic, records)
    elif producer == "kafka-python":
        reports = clients.kp_produce(broker.bootstrap, topic, records)
    elif producer == "kafkajs":
        # One send per partition keeps the check on the offsets simple.
        reports = [None] * len(records)
        for p in range(PARTITIONS):
            indexes = [i for i, r in enumerate(records) if r[3] == p]
            answer = harness.kafkajs({
                "op": "produce", "brokers": [broker.bootstrap], "topic": topic, "acks": -1,
                "messages": [{"key": records[i][0], "value": records[i][1],
                              "headers": dict(records[i][2]), "partition": p} for i in indexes]})
            assert len(answer) == 1 and answer[0]["errorCode"] == 0, answer
            for n, i in enumerate(indexes):
                reports[i] = (p, answer[0]["baseOffset"] + n)
    else:  # kcat: -K key delimiter, -H headers, -p partition, one kcat per partition
        reports = [None] * len(records)
        for p in range(PARTITIONS):
            indexes = [i for i, r in enumerate(records) if r[3] == p]
            # kcat -H sets the same headers on every record, so all records of this
            # kcat run carry the headers of their first record.
            headers = records[indexes[0]][2]
            args = ["-P", "-b", broker.bootstrap, "-t", topic, "-p", str(p), "-K", ":",
                    "-X", "acks=all"]
            for k, v in headers:
                args += ["-H", f"{k}={v}"]
            clients.kcat(args, stdin="".join(f"{records[i][0]}:{records[i][1]}\n" for i in indexes))
            for n, i in enumerate(indexes):
                records[i] = records[i][:2] + (headers, p)
                reports[i] = (p, n)
    for p, _ in reports:
        assert 0 <= p < PARTITIONS
    produced[producer] = (topic, clients.expected_records(records, reports))
    counts = clients.by_partition(produced[producer][1])
    assert sorted(counts) == list(range(PARTITIONS)), f"partitions used: {sorted(counts)}"
    for p, rs in counts.items():
        assert [r[1] for r in rs] == list(range(len(rs))), f"offsets of partition {p} not 0..n-1"


def consume(broker, producer, consumer):
    if producer not in produced:
        raise AssertionError(f"{producer} did not produce")
    topic, expected = produced[producer]
    if consumer == "librdkafka":
        got = clients.rdk_consume(broker.bootstrap, topic, len(expected))
    elif consumer == "kafka-python":
        got = clients.kp_consume(broker.bootstrap, topic, len(expected))
    elif consumer == "kcat":
        got = clients.kcat_consume(broker.bootstrap, topic, len(expected))
    else:
        got = clients.kafkajs_records(harness.kafkajs(
            {"op": "fetch", "brokers": [broker.bootstrap], "topic": topic,
             "expected": len(expected)}))
    # Per-partition order is what Kafka promises: compare partition by partition,
    # in the order the consumer returned them.
    got_by_partition = {}
    for r in got:
        got_by_partition.setdefault(r[0], []).append(r)
    want_by_partition = clients.by_partition(expected)
    for p in range(PARTITIONS):
        assert got_by_partition.get(p, []) == want_by_partition.get(p, []), (
            f"partition {p}: got {len(got_by_partition.get(p, []))} records, "
            f"want {len(want_by_partition.get(p, []))}; first difference: "
            f"{next(((g, w) for g, w in zip(got_by_partition.get(p, []), want_by_partition.get(p, [])) if g != w), None)}")


def many_topics(broker):
    """One librdkafka flush over 4 topics x 3 partitions (so Produce requests span
    partitions of both shards), read back by one consumer assigned all 12."""
    topics = [harness.unique_topic(f"multi{i}") for i in range(4)]
    for topic in topics:  # create them first, so that the records share requests
        clients.rdk_produce(broker.bootstrap, topic, [("k", "first", [], 0)])
    producer_records = {}
    producer = confluent_kafka.Producer(clients.rdk_conf(broker.bootstrap, acks="all",
                                                         linger_ms=100))
    reports = []
    for i in range(600):
        topic = topics[i % 4]
        producer.produce(topic, key=f"k{i}", value=f"multi-{i}", partition=(i // 4) % PARTITIONS,
                         on_delivery=lambda err, msg: reports.append(
                             (err, msg.topic(), msg.partition(), msg.offset(), msg.value())))
    assert producer.flush(30) == 0
    assert all(r[0] is None for r in reports), [r for r in reports if r[0] is not None][:3]
    for _, topic, partition, offset, value in reports:
        producer_records[(topic, partition, offset)] = value.decode()
    consumer = clients.rdk_consumer(broker.bootstrap, enable_partition_eof=True)
    try:
        consumer.assign([confluent_kafka.TopicPartition(t, p, confluent_kafka.OFFSET_BEGINNING)
                         for t in topics for p in range(PARTITIONS)])
        got, at_end = {}, set()
        deadline = time.monotonic() + 30
        while len(at_end) < len(topics) * PARTITIONS and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            if msg.error() is not None:
                if msg.error().code() == confluent_kafka.KafkaError._PARTITION_EOF:
                    at_end.add((msg.topic(), msg.partition()))
                    continue
                raise confluent_kafka.KafkaException(msg.error())
            got[(msg.topic(), msg.partition(), msg.offset())] = msg.value().decode()
    finally:
        consumer.close()
    missing = {k: v for k, v in producer_records.items() if got.get(k) != v}
    assert not missing, f"{len(missing)} of {len(producer_records)} records not read back, e.g. " \
                        f"{sorted(missing.items())[:3]}"


def large_record(broker):
    """A 900 kB record (under the default message_max_bytes) round-trips through
    librdkafka, kafka-python and kcat."""
    topic = harness.unique_topic("large")
    value = "".join(chr(ord("a") + i % 26) for i in range(900_000))
    reports = clients.rdk_produce(broker.bootstrap, topic, [("big", value, [("h", "x")], 0)])
    assert reports == [(0, 0)], reports
    want = [clients.record(0, 0, "big", value, [("h", "x")])]
    assert clients.rdk_consume(broker.bootstrap, topic, 1, partitions=[0]) == want
    assert [r for r in clients.kp_consume(broker.bootstrap, topic, 1)] == want
    assert clients.kcat_consume(broker.bootstrap, topic, 1) == want


def edge_records(broker):
    """Null keys, null values (tombstones), empty values, null and empty header values
    and 20 headers: librdkafka writes them, librdkafka and kafka-python read them the same."""
    topic = harness.unique_topic("edge")
    producer = confluent_kafka.Producer(clients.rdk_conf(broker.bootstrap, acks="all"))
    sent = [
        (None, b"null key", None),
        (b"tombstone", None, None),
        (b"empty value", b"", None),
        (None, None, None),
        (b"headers", b"v", [("null", None), ("empty", b""), ("dup", b"1"), ("dup", b"2")]),
        (b"many headers", b"v", [(f"h{i}", bytes([i]) * i) for i in range(20)]),
    ]
    errors = []
    for key, value, headers in sent:
        producer.produce(topic, key=key, value=value, headers=headers, partition=0,
                         on_delivery=lambda err, msg: errors.append(err))
    assert producer.flush(30) == 0 and errors == [None] * len(sent), errors
    want = [(key, value, headers or []) for key, value, headers in sent]
    consumer = clients.rdk_consumer(broker.bootstrap)
    try:
        consumer.assign([confluent_kafka.TopicPartition(topic, 0, 0)])
        got = []
        deadline = time.monotonic() + 15
        while len(got) < len(sent) and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is not None and msg.error() is None:
                got.append((msg.key(), msg.value(), msg.headers() or []))
    finally:
        consumer.close()
    assert got == want, f"librdkafka read {got}, want {want}"
    kp = clients.kp_consumer(broker.bootstrap)
    try:
        from kafka.structs import TopicPartition
        tp = TopicPartition(topic, 0)
        kp.assign([tp])
        kp.seek_to_beginning(tp)
        got = []
        deadline = time.monotonic() + 15
        while len(got) < len(sent) and time.monotonic() < deadline:
            for messages in kp.poll(timeout_ms=200).values():
                got += [(m.key, m.value, list(m.headers)) for m in messages]
    finally:
        kp.close()
    assert got == want, f"kafka-python read {got}, want {want}"


def main():
    cases = []
    for producer in PRODUCERS:
        cases.append((f"{producer} produces keyed records with headers to an auto-created "
                      f"{PARTITIONS}-partition topic", lambda b, p=producer: produce(b, p)))
        for consumer in CONSUMERS:
            cases.append((f"{consumer} reads {producer}'s records in per-partition order",
                          lambda b, p=producer, c=consumer: consume(b, p, c)))
    cases.append(("librdkafka: 600 records over 4 topics x 3 partitions in shared requests, "
                  "read back by one consumer", many_topics))
    cases.append(("a 900 kB record round-trips through librdkafka, kafka-python and kcat",
                  large_record))
    cases.append(("null keys and values, empty values, null/empty/duplicate headers "
                  "round-trip through librdkafka and kafka-python", edge_records))
    harness.run_cases(cases, {"num_partitions": PARTITIONS})


if __name__ == "__main__":
    sys.exit(main())
