#!/usr/bin/python3
"""Topic administration through each client's own admin API: create (with
configs), list, describe and alter configs, add partitions, delete records and
delete topics, plus the errors clients must see (topic exists, bad name, bad
config, replication factor above the single node). Restart keeps topics and
their configs.

confluent-kafka 1.7's AdminClient and kafka-python's KafkaAdminClient speak
CreateTopics, DeleteTopics, CreatePartitions, DescribeConfigs and AlterConfigs;
kafkajs adds DeleteRecords and its own version choices (run through node).
"""
import confluent_kafka
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic
import kafka.admin
import kafka.errors

import clients
import harness


def rdk_admin(broker):
    return AdminClient({"bootstrap.servers": broker.bootstrap})


def wait(futures):
    return {key: future.result(timeout=30) for key, future in futures.items()}


def rdk_error_code(future):
    try:
        future.result(timeout=30)
    except confluent_kafka.KafkaException as e:
        return e.args[0].code()
    return None


def rdk_describe(admin, topic):
    resource = ConfigResource("topic", topic)
    return wait(admin.describe_configs([resource]))[resource]


def rdk_admin_round_trip(broker):
    admin = rdk_admin(broker)
    topic = harness.unique_topic("rdk-admin")
    wait(admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1,
                                       config={"retention.ms": "3600000",
                                               "cleanup.policy": "compact"})]))
    metadata = admin.list_topics(timeout=10)
    assert topic in metadata.topics and len(metadata.topics[topic].partitions) == 3
    configs = rdk_describe(admin, topic)
    assert configs["retention.ms"].value == "3600000"
    assert configs["cleanup.policy"].value == "compact"
    assert configs["segment.bytes"].is_default
    assert not configs["retention.ms"].is_default
    # AlterConfigs replaces the whole set: cleanup.policy returns to its default.
    resource = ConfigResource("topic", topic, set_config={"retention.ms": "7200000"})
    wait(admin.alter_configs([resource]))
    configs = rdk_describe(admin, topic)
    assert configs["retention.ms"].value == "7200000"
    assert configs["cleanup.policy"].value == "delete" and configs["cleanup.policy"].is_default
    wait(admin.create_partitions([NewPartitions(topic, 5)]))
    harness.deadline_poll(
        lambda: len(admin.list_topics(topic, timeout=10).topics[topic].partitions) == 5, 10,
        "5 partitions")
    wait(admin.delete_topics([topic]))
    harness.deadline_poll(lambda: topic not in admin.list_topics(timeout=10).topics, 10,
                          "the topic to go")


def rdk_admin_errors(broker):
    admin = rdk_admin(broker)
    topic = harness.unique_topic("rdk-errors")
    wait(admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)]))
    codes = {
        "exists": admin.create_topics([NewTopic(topic, 1, 1)])[topic],
        "bad name": admin.create_topics([NewTopic("bad name!", 1, 1)])["bad name!"],
        "bad config": admin.create_topics(
            [NewTopic(topic + "-c", 1, 1, config={"retention.ms": "soon"})])[topic + "-c"],
        "rf 3": admin.create_topics([NewTopic(topic + "-r", 1, 3)])[topic + "-r"],
        "fewer partitions": admin.create_partitions([NewPartitions(topic, 1)])[topic],
        "unknown topic": admin.delete_topics([topic + "-none"])[topic + "-none"],
    }
    got = {name: rdk_error_code(future) for name, future in codes.items()}
    K = confluent_kafka.KafkaError
    want = {
        "exists": K.TOPIC_ALREADY_EXISTS,
        "bad name": K.TOPIC_EXCEPTION,
        "bad config": K.INVALID_CONFIG,
        "rf 3": K.INVALID_REPLICATION_FACTOR,
        "fewer partitions": K.INVALID_PARTITIONS,
        "unknown topic": K.UNKNOWN_TOPIC_OR_PART,
    }
    assert got == want, f"got {got}, want {want}"


def kp_admin_round_trip(broker):
    admin = kafka.admin.KafkaAdminClient(bootstrap_servers=broker.bootstrap,
                                         request_timeout_ms=30000)
    try:
        topic = harness.unique_topic("kp-admin")
        admin.create_topics([kafka.admin.NewTopic(topic, 2, 1,
                                                  topic_configs={"retention.bytes": "1048576"})])
        assert topic in admin.list_topics()
        resource = kafka.admin.ConfigResource(kafka.admin.ConfigResourceType.TOPIC, topic)
        described = admin.describe_configs([resource])
        entries = {e[0]: e[1] for e in described[0].resources[0][4]}
        assert entries["retention.bytes"] == "1048576", entries["retention.bytes"]
        altered = kafka.admin.ConfigResource(kafka.admin.ConfigResourceType.TOPIC, topic,
                                             configs={"retention.bytes": "2097152"})
        admin.alter_configs([altered])
        described = admin.describe_configs([resource])
        entries = {e[0]: e[1] for e in described[0].resources[0][4]}
        assert entries["retention.bytes"] == "2097152", entries["retention.bytes"]
        admin.create_partitions({topic: kafka.admin.NewPartitions(4)})
        consumer = clients.kp_consumer(broker.bootstrap)
        try:
            harness.deadline_poll(lambda: len(consumer.partitions_for_topic(topic) or ()) == 4,
                                  10, "4 partitions")
        finally:
            consumer.close()
        try:
            admin.create_topics([kafka.admin.NewTopic(topic, 1, 1)])
            raise AssertionError("creating an existing topic succeeded")
        except kafka.errors.TopicAlreadyExistsError:
            pass
        admin.delete_topics([topic])
        harness.deadline_poll(lambda: topic not in admin.list_topics(), 10, "the topic to go")
    finally:
        admin.close()


def kafkajs_admin_round_trip(broker):
    topic = harness.unique_topic("kjs-admin")
    out = harness.kafkajs({"op": "admin", "brokers": [broker.bootstrap], "topic": topic,
                           "retries": 2})
    assert out["created"] is True and out["createdAgain"] is False, out
    assert out["listed"] is True, out
    configs = {c["name"]: c for c in out["configs"]}
    assert configs["retention.ms"]["value"] == "3600000" and not configs["retention.ms"]["isDefault"]
    altered = {c["name"]: c["value"] for c in out["altered"]}
    assert altered["retention.ms"] == "7200000", altered
    assert out["partitions"] == 3, out
    assert out["afterDelete"]["low"] == "3" and out["afterDelete"]["high"] == "5", out
    assert out["listedAfterDelete"] is False, out
    assert out["badName"] != "accepted", out


def restart_keeps_topics_and_configs(broker):
    admin = rdk_admin(broker)
    topic = harness.unique_topic("restart-admin")
    wait(admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1,
                                       config={"max.message.bytes": "2000000"})]))
    broker.restart()
    admin = rdk_admin(broker)
    metadata = admin.list_topics(timeout=10)
    assert len(metadata.topics[topic].partitions) == 4
    assert rdk_describe(admin, topic)["max.message.bytes"].value == "2000000"
    broker.restart(hard=True)
    admin = rdk_admin(broker)
    assert rdk_describe(admin, topic)["max.message.bytes"].value == "2000000"


def low_watermark(broker, topic):
    consumer = clients.rdk_consumer(broker.bootstrap)
    try:
        return consumer.get_watermark_offsets(confluent_kafka.TopicPartition(topic, 0),
                                              timeout=10, cached=False)
    finally:
        consumer.close()


def topic_retention_is_honoured(broker):
    """retention.bytes set at creation and retention.ms set later by AlterConfigs
    both make storage delete old segments (segment.bytes keeps segments small;
    the broker checks retention every 200 ms)."""
    admin = rdk_admin(broker)
    by_bytes = harness.unique_topic("retention-bytes")
    by_time = harness.unique_topic("retention-ms")
    wait(admin.create_topics([
        NewTopic(by_bytes, 1, 1, config={"segment.bytes": "65536", "retention.bytes": "131072"}),
        NewTopic(by_time, 1, 1, config={"segment.bytes": "65536"}),
    ]))
    records = [(None, "r" * 1000, [], 0) for _ in range(1000)]
    for topic in (by_bytes, by_time):
        clients.rdk_produce(broker.bootstrap, topic, records, batch_size=16384)
    harness.deadline_poll(lambda: low_watermark(broker, by_bytes)[0] > 0, 20,
                          "retention.bytes to delete the oldest segments")
    low, high = low_watermark(broker, by_bytes)
    assert high == 1000 and high - low < 400, (low, high)
    assert low_watermark(broker, by_time) == (0, 1000)  # retention.ms is 7 days
    wait(admin.alter_configs([ConfigResource("topic", by_time,
                                             set_config={"segment.bytes": "65536",
                                                         "retention.ms": "1"})]))
    harness.deadline_poll(lambda: low_watermark(broker, by_time)[0] > 0, 20,
                          "retention.ms to delete the old segments")


def advertised_address_is_what_metadata_returns(_broker):
    """advertised_kafka_addr (Kafka's advertised.listeners) names the broker in
    Metadata: clients bootstrap on the listen address, then dial the advertised one."""
    broker = harness.Broker("advertised")
    broker.port, hold = harness.reserved_port()
    broker.admin_port, admin_hold = harness.reserved_port()
    broker._port_holds += [hold, admin_hold]
    broker.settings["advertised_kafka_addr"] = f"localhost:{broker.port}"
    try:
        broker.start()
        listing = clients.kcat(["-b", broker.bootstrap, "-L"])
        assert f"broker 0 at localhost:{broker.port}" in listing, listing
        topic = harness.unique_topic("advertised")
        records = clients.sample_records(5, "adv")
        reports = clients.rdk_produce(broker.bootstrap, topic, records)
        got = clients.rdk_consume(broker.bootstrap, topic, len(records))
        assert sorted(got) == clients.expected_records(records, reports), got
        broker.stop()
    finally:
        broker.close()


if __name__ == "__main__":
    harness.run_cases([
        ("confluent-kafka admin: create, list, describe/alter configs, partitions, delete",
         rdk_admin_round_trip),
        ("confluent-kafka admin: Kafka's error codes", rdk_admin_errors),
        ("kafka-python admin: create, describe/alter configs, partitions, delete",
         kp_admin_round_trip),
        ("kafkajs admin: create, configs, partitions, delete records, delete",
         kafkajs_admin_round_trip),
        ("restart (SIGTERM and SIGKILL) keeps topics, partitions and configs",
         restart_keeps_topics_and_configs),
        ("advertised_kafka_addr is the address Metadata gives clients",
         advertised_address_is_what_metadata_returns),
        ("retention.bytes at creation and retention.ms by AlterConfigs delete old segments",
         topic_retention_is_honoured),
    ], broker_settings={"log_retention_check_interval_ms": 200})
