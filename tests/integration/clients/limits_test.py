#!/usr/bin/python3
"""Proves the broker's refusals as real clients see them: a batch above
message_max_bytes gets MESSAGE_TOO_LARGE, and a topic that does not exist is
created on first use when auto_create_topics_enable is on and reported as
UNKNOWN_TOPIC_OR_PARTITION (or the client's equivalent) when it is off.

Two brokers: one with message_max_bytes=20000 and auto-create on, one with
auto-create off. Each client sends an uncompressed 40 kB record (below every
client's own 1 MB limit, so only the broker can refuse it), then a small record,
which must still be accepted. For unknown topics each client asks for a fresh
name and must see it appear (on) or get the unknown-topic error (off); on the
second broker the topic must still be absent from the topic list afterwards.
"""
import sys
import traceback

import confluent_kafka
import confluent_kafka.admin
import kafka
import kafka.errors

import clients
import harness

MAX_BYTES = 20_000
BIG = "b" * 40_000


# ---- message too large -----------------------------------------------------

def rdk_too_large(broker):
    topic = harness.unique_topic("big-rdk")
    try:
        clients.rdk_produce(broker.bootstrap, topic, [("k", BIG, [], None)], timeout_s=15)
    except AssertionError as error:
        assert "MSG_SIZE_TOO_LARGE" in str(error), f"wrong error: {error}"
    else:
        raise AssertionError(f"a {len(BIG)} byte record was accepted with message_max_bytes "
                             f"{MAX_BYTES}")
    reports = clients.rdk_produce(broker.bootstrap, topic, [("k", "small", [], None)])
    assert reports == [(0, 0)], f"small record after the refused one: {reports}"


def kp_too_large(broker):
    topic = harness.unique_topic("big-kp")
    try:
        clients.kp_produce(broker.bootstrap, topic, [("k", BIG, [], None)], timeout_s=15)
    except kafka.errors.MessageSizeTooLargeError:
        pass
    else:
        raise AssertionError("kafka-python: the big record was accepted")
    reports = clients.kp_produce(broker.bootstrap, topic, [("k", "small", [], None)])
    assert reports == [(0, 0)], reports


def kafkajs_too_large(broker):
    topic = harness.unique_topic("big-kafkajs")
    try:
        harness.kafkajs({"op": "produce", "brokers": [broker.bootstrap], "topic": topic,
                         "retries": 1, "messages": [{"key": "k", "value": BIG}]})
    except AssertionError as error:
        assert "MESSAGE_TOO_LARGE" in str(error) or "too large" in str(error).lower(), \
            f"wrong error: {error}"
    else:
        raise AssertionError("kafkajs: the big record was accepted")
    answer = harness.kafkajs({"op": "produce", "brokers": [broker.bootstrap], "topic": topic,
                              "messages": [{"key": "k", "value": "small"}]})
    assert answer[0]["errorCode"] == 0 and answer[0]["baseOffset"] == 0, answer


def kcat_too_large(broker):
    topic = harness.unique_topic("big-kcat")
    try:
        clients.kcat(["-P", "-b", broker.bootstrap, "-t", topic, "-X", "acks=all"],
                     stdin=BIG + "\n")
    except AssertionError as error:
        assert "too large" in str(error).lower(), f"wrong error: {error}"
    else:
        raise AssertionError("kcat exited 0 after the broker refused its record")


# ---- unknown topics ------------------------------------------------------------

def rdk_topics(broker):
    admin = confluent_kafka.admin.AdminClient(clients.rdk_conf(broker.bootstrap))
    return set(admin.list_topics(timeout=10).topics)


def rdk_auto_create(broker):
    topic = harness.unique_topic("auto-rdk")
    reports = clients.rdk_produce(broker.bootstrap, topic, [("k", "v", [], None)])
    assert reports == [(0, 0)], reports
    assert topic in rdk_topics(broker), "topic not listed after auto-create"


def kp_auto_create(broker):
    topic = harness.unique_topic("auto-kp")
    assert clients.kp_produce(broker.bootstrap, topic, [("k", "v", [], None)]) == [(0, 0)]
    consumer = clients.kp_consumer(broker.bootstrap)
    try:
        assert topic in consumer.topics(), "topic not listed after auto-create"
    finally:
        consumer.close()


def kafkajs_auto_create(broker):
    topic = harness.unique_topic("auto-kafkajs")
    answer = harness.kafkajs({"op": "produce", "brokers": [broker.bootstrap], "topic": topic,
                              "messages": [{"key": "k", "value": "v"}]})
    assert answer[0]["errorCode"] == 0, answer
    offsets = harness.kafkajs({"op": "offsets", "brokers": [broker.bootstrap], "topic": topic})
    assert topic in offsets["topics"], offsets


def rdk_no_auto_create(broker):
    topic = harness.unique_topic("noauto-rdk")
    admin = confluent_kafka.admin.AdminClient(clients.rdk_conf(broker.bootstrap))
    # The metadata request of a producer asks for auto-creation.
    producer = confluent_kafka.Producer(clients.rdk_conf(broker.bootstrap))
    metadata = producer.list_topics(topic=topic, timeout=10)
    error = metadata.topics[topic].error
    assert error is not None and error.code() == confluent_kafka.KafkaError.UNKNOWN_TOPIC_OR_PART, \
        f"metadata error for {topic}: {error}"
    assert topic not in set(admin.list_topics(timeout=10).topics), "topic was created"


def kp_no_auto_create(broker):
    topic = harness.unique_topic("noauto-kp")
    producer = kafka.KafkaProducer(bootstrap_servers=broker.bootstrap, max_block_ms=3000)
    try:
        producer.send(topic, b"v").get(timeout=10)
    except kafka.errors.KafkaTimeoutError:
        pass  # kafka-python's equivalent: metadata never lists the topic
    else:
        raise AssertionError("kafka-python produced to a topic that should not exist")
    finally:
        producer.close(5)
    consumer = clients.kp_consumer(broker.bootstrap)
    try:
        assert topic not in consumer.topics(), "topic was created"
        assert consumer.partitions_for_topic(topic) is None
    finally:
        consumer.close()


def kafkajs_no_auto_create(broker):
    topic = harness.unique_topic("noauto-kafkajs")
    try:
        harness.kafkajs({"op": "produce", "brokers": [broker.bootstrap], "topic": topic,
                         "retries": 1, "messages": [{"key": "k", "value": "v"}]})
    except AssertionError as error:
        assert "UNKNOWN_TOPIC_OR_PARTITION" in str(error) or \
            "This server does not host this topic-partition" in str(error), f"wrong error: {error}"
    else:
        raise AssertionError("kafkajs produced to a topic that should not exist")


def kcat_no_auto_create(broker):
    topic = harness.unique_topic("noauto-kcat")
    out = clients.kcat(["-L", "-b", broker.bootstrap, "-t", topic])
    assert "Unknown topic" in out or "UNKNOWN_TOPIC" in out.upper(), out


def main():
    tap = harness.Tap()
    groups = [
        ("message_max_bytes 20000", {"message_max_bytes": MAX_BYTES}, [
            ("librdkafka: a 40 kB record above message_max_bytes gets MSG_SIZE_TOO_LARGE",
             rdk_too_large),
            ("kafka-python: a 40 kB record gets MessageSizeTooLargeError", kp_too_large),
            ("kafkajs: a 40 kB record gets MESSAGE_TOO_LARGE", kafkajs_too_large),
            ("kcat: a 40 kB record is refused as too large", kcat_too_large),
            ("librdkafka: auto-create on, producing creates the topic", rdk_auto_create),
            ("kafka-python: auto-create on, producing creates the topic", kp_auto_create),
            ("kafkajs: auto-create on, producing creates the topic", kafkajs_auto_create),
        ]),
        ("auto-create off", {"auto_create_topics_enable": False}, [
            ("librdkafka: auto-create off, metadata says UNKNOWN_TOPIC_OR_PART",
             rdk_no_auto_create),
            ("kafka-python: auto-create off, send times out waiting for metadata",
             kp_no_auto_create),
            ("kafkajs: auto-create off, send fails with UNKNOWN_TOPIC_OR_PARTITION",
             kafkajs_no_auto_create),
            ("kcat: auto-create off, -L reports the topic unknown", kcat_no_auto_create),
        ]),
    ]
    for label, settings, cases in groups:
        broker = harness.Broker(**settings)
        try:
            try:
                broker.start()
            except Exception:
                tap.comment(traceback.format_exc())
                for name, _ in cases:
                    tap.case(name, harness._raise, "broker did not start")
                continue
            for name, function in cases:
                tap.case(name, function, broker)
            tap.case(f"broker ({label}) stops cleanly on SIGTERM (exit 0)", broker.stop)
        finally:
            broker.close()
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
