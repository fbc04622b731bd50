#!/usr/bin/python3
"""Proves the broker's limits and topic settings as real clients see them: a batch
above message_max_bytes gets MESSAGE_TOO_LARGE; fetch limits smaller than a batch
still return that batch (KIP-74); a topic that does not exist is created on first
use when auto_create_topics_enable is on and reported as UNKNOWN_TOPIC_OR_PARTITION
(or the client's equivalent) when it is off; LogAppendTime stamps the broker's clock.

Three brokers. One with message_max_bytes=20000: each client sends an uncompressed
40 kB record (below every client's own 1 MB limit, so only the broker can refuse
it), then a small record, which must still be accepted; consumers limited to 1000
bytes per fetch read 15 kB batches; producing to a fresh name creates the topic.
One with auto-create off: each client asks for a fresh name and must get the
unknown-topic error, and the topic must stay absent. One with LogAppendTime:
records sent with a 2020 CreateTime (plain and gzip) must come back, in the
Produce response and to both consumers (CRC checks on), with the broker's time.
One with connections_max_idle_ms=1000: idle connections close, parked fetches do
not count as idle, and both producers reconnect after their connections closed.
"""
import sys
import time
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


# ---- fetch sizes smaller than a batch (KIP-74) ------------------------------------

def small_fetch_sizes(broker):
    """Batches of ~15 kB, consumers allowing 1000 bytes per partition and per fetch:
    the broker must still return the first whole batch so that consumers progress."""
    topic = harness.unique_topic("small-fetch")
    records = [(f"k{i}", f"{i}-" + "s" * 1500, [], 0) for i in range(40)]
    reports = clients.rdk_produce(broker.bootstrap, topic, records, linger_ms=100,
                                  batch_num_messages=10)
    want = clients.expected_records(records, reports)
    got = clients.rdk_consume(broker.bootstrap, topic, len(records), partitions=[0],
                              fetch_max_bytes=1000, max_partition_fetch_bytes=1000,
                              message_max_bytes=1000)
    assert got == want, f"librdkafka read {len(got)} of {len(want)}"
    got = clients.kp_consume(broker.bootstrap, topic, len(records), fetch_max_bytes=1000,
                             max_partition_fetch_bytes=1000)
    assert got == want, f"kafka-python read {len(got)} of {len(want)}"


# ---- unknown topics ------------------------------------------------------------

def rdk_topics(broker):
    admin = confluent_kafka.admin.AdminClient(clients.rdk_conf(broker.bootstrap))
    return set(admin.list_topics(timeout=10).topics)


def rdk_auto_create(broker):
    topic = harness.unique_topic("auto-rdk")
    reports = clients.rdk_produce(broker.bootstrap, topic, [("k", "v", [], None)])
    assert reports == [(0, 0)], reports
    assert topic in rdk_topics(broker), "topic not listed after auto-create"


def rdk_consumer_does_not_create(broker):
    """Metadata v4+ with allow_auto_topic_creation=false (librdkafka's consumer)
    must not create the topic even though the broker allows auto-creation."""
    topic = harness.unique_topic("consumer-nocreate")
    consumer = clients.rdk_consumer(broker.bootstrap)
    try:
        metadata = consumer.list_topics(topic=topic, timeout=10)
    finally:
        consumer.close()
    error = metadata.topics[topic].error
    assert error is not None and error.code() == confluent_kafka.KafkaError.UNKNOWN_TOPIC_OR_PART, \
        f"metadata error for {topic}: {error}"
    assert topic not in rdk_topics(broker), "a consumer's metadata request created the topic"


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


# ---- LogAppendTime ---------------------------------------------------------------

OLD_CREATE_TIME_MS = 1_600_000_000_000
CLOCK_SLACK_MS = 5000
append_time = {}


def append_time_produce(broker, codec):
    """Records with an old CreateTime; the broker must stamp its own clock on them."""
    topic = harness.unique_topic(f"append-{codec}")
    before = int(time.time() * 1000)
    producer = confluent_kafka.Producer(clients.rdk_conf(
        broker.bootstrap, acks="all", linger_ms=50, compression_codec=codec))
    stamps = []
    for i in range(20):
        producer.produce(topic, value=f"{codec}-{i}", partition=0, timestamp=OLD_CREATE_TIME_MS,
                         on_delivery=lambda err, msg: stamps.append((err, msg.timestamp())))
    assert producer.flush(30) == 0
    after = int(time.time() * 1000)
    append_time[codec] = (topic, before, after)
    assert all(err is None for err, _ in stamps), stamps[:3]
    bad = [ts for _, ts in stamps
           if ts[0] != confluent_kafka.TIMESTAMP_LOG_APPEND_TIME
           or not before - CLOCK_SLACK_MS <= ts[1] <= after + CLOCK_SLACK_MS]
    assert not bad, (f"delivery reports carry {bad[:3]}, want (LOG_APPEND_TIME, "
                     f"{before}..{after}) from the Produce response's log_append_time")


def append_time_read(broker, codec):
    """librdkafka (check.crcs) and kafka-python (check_crcs) read the broker's time,
    with a CRC that matches the rewritten batch."""
    if codec not in append_time:
        raise AssertionError("nothing was produced")
    topic, before, after = append_time[codec]
    low, high = before - CLOCK_SLACK_MS, after + CLOCK_SLACK_MS
    consumer = clients.rdk_consumer(broker.bootstrap, check_crcs=True)
    try:
        consumer.assign([confluent_kafka.TopicPartition(topic, 0, 0)])
        seen = []
        deadline = time.monotonic() + 15
        while len(seen) < 20 and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            if msg.error() is not None:
                raise confluent_kafka.KafkaException(msg.error())
            seen.append(msg.timestamp())
    finally:
        consumer.close()
    assert len(seen) == 20, f"librdkafka read {len(seen)} of 20"
    bad = [ts for ts in seen
           if ts[0] != confluent_kafka.TIMESTAMP_LOG_APPEND_TIME or not low <= ts[1] <= high]
    assert not bad, f"librdkafka timestamps {bad[:3]}, want (LOG_APPEND_TIME, {before}..{after})"
    kp = clients.kp_consumer(broker.bootstrap, check_crcs=True)
    try:
        from kafka.structs import TopicPartition
        tp = TopicPartition(topic, 0)
        kp.assign([tp])
        kp.seek_to_beginning(tp)
        got = []
        deadline = time.monotonic() + 15
        while len(got) < 20 and time.monotonic() < deadline:
            for messages in kp.poll(timeout_ms=200).values():
                got += [(m.timestamp_type, m.timestamp) for m in messages]
        assert len(got) == 20, f"kafka-python read {len(got)} of 20"
        bad = [ts for ts in got if ts[0] != 1 or not low <= ts[1] <= high]
        assert not bad, f"kafka-python (type, timestamp) {bad[:3]}, want (1, {before}..{after})"
        found = kp.offsets_for_times({tp: low})[tp]
        assert found is not None and found.offset == 0, f"offsets_for_times(append time): {found}"
    finally:
        kp.close()


# ---- connections_max_idle_ms ------------------------------------------------------

IDLE_MS = 1000


def idle_raw_connection_closed(broker):
    import raw_protocol_test as raw
    with raw.connect(broker) as s:
        s.sendall(raw.request(raw.API_VERSIONS, 0, 1))
        assert raw.read_response(s)[0] == 1
        with harness.elapsed() as seconds:
            raw.assert_closed(s, f"idle connection (connections_max_idle_ms {IDLE_MS})")
        assert seconds() >= IDLE_MS / 1000 * 0.9, f"closed after {seconds():.2f} s, before the idle limit"


def parked_fetch_outlives_idle_limit(broker):
    """A fetch parked for 3 s is a request in flight: the connection is not idle."""
    import raw_protocol_test as raw
    topic = harness.unique_topic("idle-fetch")
    clients.rdk_produce(broker.bootstrap, topic, [("k", "v", [], 0)])
    with raw.connect(broker) as s:
        s.sendall(raw.request(1, 4, 2, raw.fetch_v4_body(topic, [0], 1, 3 * IDLE_MS)))
        with harness.elapsed() as seconds:
            correlation_id, _ = raw.read_response(s)
        assert correlation_id == 2
        assert seconds() >= 2.5, f"the 3 s fetch was answered after {seconds():.2f} s"


def clients_survive_idle_close(broker):
    """librdkafka and kafka-python producers whose connections were closed for idleness
    reconnect and produce again."""
    import raw_protocol_test as raw
    topic = harness.unique_topic("idle-clients")
    rdk = confluent_kafka.Producer(clients.rdk_conf(broker.bootstrap, acks="all"))
    kp = kafka.KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    try:
        delivered = []
        for round_number in range(2):
            rdk.produce(topic, value=f"rdk-{round_number}", partition=0,
                        on_delivery=lambda err, msg: delivered.append(err))
            assert rdk.flush(30) == 0 and delivered[-1] is None, delivered
            kp.send(topic, f"kp-{round_number}".encode(), partition=0).get(timeout=30)
            if round_number == 0:
                # A raw connection opened now is closed once the idle limit has passed
                # for the producers' connections too.
                with raw.connect(broker) as s:
                    s.sendall(raw.request(raw.API_VERSIONS, 0, 1))
                    raw.read_response(s)
                    raw.assert_closed(s, "idle probe connection")
        assert len(delivered) == 2
    finally:
        kp.close(5)
    got = clients.rdk_consume(broker.bootstrap, topic, 4, partitions=[0])
    assert sorted(r[3] for r in got) == ["kp-0", "kp-1", "rdk-0", "rdk-1"], got


def main():
    tap = harness.Tap()
    groups = [
        ("message_max_bytes 20000", {"message_max_bytes": MAX_BYTES}, [
            ("librdkafka: a 40 kB record above message_max_bytes gets MSG_SIZE_TOO_LARGE",
             rdk_too_large),
            ("kafka-python: a 40 kB record gets MessageSizeTooLargeError", kp_too_large),
            ("kafkajs: a 40 kB record gets MESSAGE_TOO_LARGE", kafkajs_too_large),
            ("kcat: a 40 kB record is refused as too large", kcat_too_large),
            ("consumers with 1000-byte fetch limits still read 15 kB batches (KIP-74)",
             small_fetch_sizes),
            ("librdkafka: auto-create on, producing creates the topic", rdk_auto_create),
            ("kafka-python: auto-create on, producing creates the topic", kp_auto_create),
            ("librdkafka consumer: Metadata with allow_auto_topic_creation=false creates nothing",
             rdk_consumer_does_not_create),
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
        ("LogAppendTime", {"log_message_timestamp_type": "LogAppendTime"}, [
            case for codec in ["none", "gzip"] for case in [
                (f"LogAppendTime, {codec}: the Produce response carries the broker's time",
                 lambda b, c=codec: append_time_produce(b, c)),
                (f"LogAppendTime, {codec}: consumers see it, CRCs valid, offsets_for_times",
                 lambda b, c=codec: append_time_read(b, c)),
            ]
        ]),
        (f"connections_max_idle_ms {IDLE_MS}", {"connections_max_idle_ms": IDLE_MS}, [
            ("an idle connection is closed after connections_max_idle_ms",
             idle_raw_connection_closed),
            ("a fetch parked longer than the idle limit is answered, not cut",
             parked_fetch_outlives_idle_limit),
            ("librdkafka and kafka-python produce again after their idle connections closed",
             clients_survive_idle_close),
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
