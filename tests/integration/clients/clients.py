"""Thin wrappers over the real clients, shared by the client integration tests.

librdkafka is driven through confluent-kafka and kcat, kafka-python directly,
kafkajs through harness.kafkajs. Consumers never join a group (Tidelog has no
group coordinator yet): they assign partitions and read from explicit offsets.
Every wrapper returns plain tuples so that records from different clients
compare equal: (partition, offset, key, value, headers as a sorted tuple).
"""
import subprocess
import time

import confluent_kafka
import confluent_kafka.admin
import kafka
import kafka.errors
from kafka.structs import TopicPartition as KpTopicPartition

KCAT = "kcat"
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


def record(partition, offset, key, value, headers):
    def text(b):
        return None if b is None else (b.decode() if isinstance(b, bytes) else b)
    return (partition, offset, text(key), text(value),
            tuple(sorted((k, text(v)) for k, v in (headers or []))))


def sample_records(count, tag, partitions=None):
    """[(key, value, headers, partition-or-None)] with distinct keys and headers."""
    return [(f"k{i % 7}", f"{tag}-value-{i}-" + "x" * (i % 50), [("h", f"{tag}-{i}"), ("n", str(i))],
             None if partitions is None else i % partitions) for i in range(count)]


# ---- librdkafka (confluent-kafka) -----------------------------------------

def rdk_conf(bootstrap, **extra):
    conf = {"bootstrap.servers": bootstrap, "client.id": "tidelog-itest-rdk",
            "socket.timeout.ms": 30000, "topic.metadata.refresh.interval.ms": 1000}
    conf.update({k.replace("_", "."): v for k, v in extra.items()})
    return conf


def rdk_produce(bootstrap, topic, records, codec="none", acks="all", timeout_s=30, **extra):
    """Produces [(key, value, headers, partition)] and returns the delivery reports
    [(partition, offset)] in send order; raises on any delivery error."""
    settings = dict(acks=acks, compression_codec=codec, linger_ms=5,
                    message_timeout_ms=int(timeout_s * 1000))
    settings.update(extra)
    conf = rdk_conf(bootstrap, **settings)
    producer = confluent_kafka.Producer(conf)
    reports = [None] * len(records)

    def on_delivery(index):
        def report(err, msg):
            reports[index] = err if err is not None else (msg.partition(), msg.offset())
        return report
    for i, (key, value, headers, partition) in enumerate(records):
        kwargs = {"key": key, "value": value, "headers": headers, "on_delivery": on_delivery(i)}
        if partition is not None:
            kwargs["partition"] = partition
        producer.produce(topic, **kwargs)
        producer.poll(0)
    remaining = producer.flush(timeout_s)
    assert remaining == 0, f"{remaining} records still queued after {timeout_s} s"
    errors = [r for r in reports if not isinstance(r, tuple)]
    assert not errors, f"delivery errors: {errors[:3]}"
    return reports


def rdk_consumer(bootstrap, **extra):
    # group.id is mandatory for confluent-kafka's Consumer; it is never used:
    # partitions are assigned, offsets never committed.
    settings = dict(group_id="tidelog-itest-unused", enable_auto_commit=False,
                    enable_auto_offset_store=False, auto_offset_reset="error")
    settings.update(extra)
    return confluent_kafka.Consumer(rdk_conf(bootstrap, **settings))


def rdk_partitions(bootstrap, topic, timeout_s=10):
    admin = confluent_kafka.admin.AdminClient(rdk_conf(bootstrap))
    metadata = admin.list_topics(topic=topic, timeout=timeout_s)
    entry = metadata.topics[topic]
    if entry.error is not None:
        raise confluent_kafka.KafkaException(entry.error)
    return sorted(entry.partitions)


def rdk_consume(bootstrap, topic, expected, timeout_s=20, partitions=None, **extra):
    """Reads every partition from the beginning until `expected` records, or with
    expected None until every partition reached its end."""
    partitions = partitions if partitions is not None else rdk_partitions(bootstrap, topic)
    if expected is None:
        extra["enable_partition_eof"] = True
    consumer = rdk_consumer(bootstrap, **extra)
    try:
        consumer.assign([confluent_kafka.TopicPartition(topic, p, confluent_kafka.OFFSET_BEGINNING)
                         for p in partitions])
        out = []
        at_end = set()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if expected is None and at_end == set(partitions):
                break
            if expected is not None and len(out) >= expected:
                break
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error() is not None:
                if msg.error().code() == confluent_kafka.KafkaError._PARTITION_EOF:
                    at_end.add(msg.partition())
                    continue
                raise confluent_kafka.KafkaException(msg.error())
            out.append(record(msg.partition(), msg.offset(), msg.key(), msg.value(),
                              msg.headers()))
        return out
    finally:
        consumer.close()


# ---- kafka-python -------------------------------------------------------------

def kp_produce(bootstrap, topic, records, codec="none", acks="all", timeout_s=30, **extra):
    settings = dict(bootstrap_servers=bootstrap, acks=acks,
                    compression_type=None if codec == "none" else codec,
                    linger_ms=5, request_timeout_ms=int(timeout_s * 1000),
                    client_id="tidelog-itest-kafka-python")
    settings.update(extra)
    producer = kafka.KafkaProducer(**settings)
    try:
        futures = []
        for key, value, headers, partition in records:
            futures.append(producer.send(
                topic, key=None if key is None else key.encode(),
                value=None if value is None else value.encode(),
                headers=[(k, v.encode()) for k, v in headers or []], partition=partition))
        producer.flush(timeout_s)
        return [(m.partition, m.offset) for m in (f.get(timeout=timeout_s) for f in futures)]
    finally:
        producer.close(5)


def kp_consumer(bootstrap, **extra):
    conf = dict(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                auto_offset_reset="earliest", client_id="tidelog-itest-kafka-python")
    conf.update(extra)
    return kafka.KafkaConsumer(**conf)


def kp_consume(bootstrap, topic, expected, timeout_s=20, **extra):
    """Like rdk_consume; expected None reads up to the end offsets seen at the start."""
    consumer = kp_consumer(bootstrap, **extra)
    try:
        partitions = deadline_partitions(consumer, topic)
        tps = [KpTopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps) if expected is None else None
        out = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if expected is not None and len(out) >= expected:
                break
            if expected is None and all(consumer.position(tp) >= end[tp] for tp in tps):
                break
            for tp, messages in consumer.poll(timeout_ms=500).items():
                for m in messages:
                    out.append(record(m.partition, m.offset, m.key, m.value, m.headers))
        return out
    finally:
        consumer.close()


def deadline_partitions(consumer, topic, timeout_s=10):
    deadline = time.monotonic() + timeout_s
    while True:
        partitions = consumer.partitions_for_topic(topic)
        if partitions:
            return sorted(partitions)
        if time.monotonic() > deadline:
            raise AssertionError(f"kafka-python sees no partitions for {topic}")
        time.sleep(0.1)


# ---- kcat ----------------------------------------------------------------------

def kcat(args, stdin=None, timeout_s=30):
    result = subprocess.run([KCAT] + args, input=stdin, capture_output=True, text=True,
                            timeout=timeout_s)
    if result.returncode != 0:
        raise AssertionError(f"kcat {' '.join(args)} exited {result.returncode}:\n"
                             f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return result.stdout


KCAT_FORMAT = "%p\t%o\t%k\t%s\t%h\n"


def kcat_consume(bootstrap, topic, expected):
    """kcat -C -e from the beginning; headers as 'k=v,k=v' (kcat's %h)."""
    out = kcat(["-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q",
                "-c", str(expected), "-f", KCAT_FORMAT])
    records = []
    for line in out.splitlines():
        partition, offset, key, value, headers = line.split("\t")
        pairs = [tuple(h.split("=", 1)) for h in headers.split(",") if h] if headers else []
        records.append(record(int(partition), int(offset), key or None, value, pairs))
    return records


# ---- kafkajs records -----------------------------------------------------------

def kafkajs_records(answer):
    return [record(r["partition"], r["offset"], r["key"], r["value"],
                   list(r["headers"].items())) for r in answer["records"]]


def by_partition(records):
    """{partition: [record...]} sorted by offset."""
    out = {}
    for r in sorted(records, key=lambda r: (r[0], r[1])):
        out.setdefault(r[0], []).append(r)
    return out


def expected_records(records, reports):
    """Builds the records a consumer should see from what was sent and the delivery reports."""
    return sorted(record(p, o, k, v, [(hk, hv) for hk, hv in h])
                  for (k, v, h, _), (p, o) in zip(records, reports))
