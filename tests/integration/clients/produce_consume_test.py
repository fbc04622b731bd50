#!/usr/bin/python3
"""Proves that records with keys and headers produced by each real client come back
intact and in per-partition order to every other client.

One tidelogd with num_partitions=3; each producer (librdkafka via confluent-kafka,
kafka-python, kafkajs, kcat) writes to its own topic, created by the broker on the
producer's first Metadata request (auto-create). Every consumer (librdkafka,
kafka-python, kcat, kafkajs's fetch path) then reads all partitions from offset 0,
and each case compares the records per partition, in offset order, with what the
producer's delivery reports acknowledged.
"""
import sys

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


def main():
    cases = []
    for producer in PRODUCERS:
        cases.append((f"{producer} produces keyed records with headers to an auto-created "
                      f"{PARTITIONS}-partition topic", lambda b, p=producer: produce(b, p)))
        for consumer in CONSUMERS:
            cases.append((f"{consumer} reads {producer}'s records in per-partition order",
                          lambda b, p=producer, c=consumer: consume(b, p, c)))
    harness.run_cases(cases, {"num_partitions": PARTITIONS})


if __name__ == "__main__":
    sys.exit(main())
