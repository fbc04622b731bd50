#!/usr/bin/python3
"""Proves that batches compressed with every codec by one client are stored as sent
and decoded by every other client.

Producers: librdkafka (confluent-kafka; raw snappy blocks), kafka-python (xerial
snappy framing, lz4 frames, zstd via python3-zstandard) and kafkajs (gzip built in,
snappy through the pure-JS kafkajs-snappy plugin; lz4 and zstd need native npm
modules, so those cases are skipped). Each (producer, codec) writes 40 records to its
own topic, then each other client reads them back from offset 0 and the case compares
contents and order with the delivery reports. kafkajs reads through its own Fetch
path (harness.kafkajs "fetch"), and cannot decode lz4 or zstd without those modules.
"""
import sys

import clients
import harness

COUNT = 40
PRODUCERS = ["librdkafka", "kafka-python", "kafkajs"]
CONSUMERS = ["librdkafka", "kafka-python", "kafkajs", "kcat"]
KAFKAJS_CODECS = {"none", "gzip", "snappy"}
KAFKAJS_SKIP = ("kafkajs has no built-in {codec} codec; its plugins (kafkajs-lz4, "
                "@kafkajs/zstd) build native modules with node-gyp")

produced = {}


def produce(broker, producer, codec):
    if producer == "kafkajs" and codec not in KAFKAJS_CODECS:
        raise harness.SkipCase(KAFKAJS_SKIP.format(codec=codec))
    topic = harness.unique_topic(f"codec-{producer}-{codec}")
    records = clients.sample_records(COUNT, f"{producer}-{codec}", partitions=1)
    if producer == "librdkafka":
        reports = clients.rdk_produce(broker.bootstrap, topic, records, codec=codec)
    elif producer == "kafka-python":
        reports = clients.kp_produce(broker.bootstrap, topic, records, codec=codec)
    else:
        answer = harness.kafkajs({
            "op": "produce", "brokers": [broker.bootstrap], "topic": topic, "codec": codec,
            "messages": [{"key": k, "value": v, "headers": dict(h), "partition": 0}
                         for k, v, h, _ in records]})
        assert len(answer) == 1 and answer[0]["errorCode"] == 0, answer
        reports = [(0, answer[0]["baseOffset"] + i) for i in range(len(records))]
    assert [o for _, o in reports] == list(range(COUNT)), f"offsets {reports[:5]}..."
    produced[(producer, codec)] = (topic, clients.expected_records(records, reports))


def consume(broker, producer, codec, consumer):
    if producer == "kafkajs" and codec not in KAFKAJS_CODECS:
        raise harness.SkipCase(KAFKAJS_SKIP.format(codec=codec))
    if consumer == "kafkajs" and codec not in KAFKAJS_CODECS:
        raise harness.SkipCase(KAFKAJS_SKIP.format(codec=codec) + " (to decompress)")
    if (producer, codec) not in produced:
        raise AssertionError(f"{producer} did not produce {codec}")
    topic, expected = produced[(producer, codec)]
    if consumer == "librdkafka":
        got = clients.rdk_consume(broker.bootstrap, topic, COUNT, partitions=[0])
    elif consumer == "kafka-python":
        got = clients.kp_consume(broker.bootstrap, topic, COUNT)
    elif consumer == "kcat":
        got = clients.kcat_consume(broker.bootstrap, topic, COUNT)
    else:
        got = clients.kafkajs_records(harness.kafkajs(
            {"op": "fetch", "brokers": [broker.bootstrap], "topic": topic, "expected": COUNT}))
    assert got == expected, (f"got {len(got)} records, want {len(expected)}; first difference: "
                             f"{next(((g, w) for g, w in zip(got, expected) if g != w), None)}")


def main():
    cases = []
    for producer in PRODUCERS:
        for codec in clients.CODECS:
            cases.append((f"{producer} produces {codec}",
                          lambda b, p=producer, c=codec: produce(b, p, c)))
            for consumer in CONSUMERS:
                if consumer == producer:
                    continue
                cases.append((f"{consumer} reads {producer}'s {codec} batches",
                              lambda b, p=producer, c=codec, r=consumer: consume(b, p, c, r)))
    harness.run_cases(cases)


if __name__ == "__main__":
    sys.exit(main())
