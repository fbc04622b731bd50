#!/usr/bin/python3
"""Proves that kafka-python and kafkajs consumer groups consume and commit against
tidelogd, that their commits are read back by the other clients, and that a
kafkajs member and a librdkafka member in one group are refused with
INCONSISTENT_GROUP_PROTOCOL (kafkajs's only assignor is RoundRobinAssigner,
librdkafka's are range/roundrobin) instead of hanging.

How: a 4-partition topic with 200 records a partition. kafka-python (JoinGroup
v2, OffsetCommit v2, OffsetFetch v1) subscribes, reads every record once, commits,
and the commit is read by librdkafka's committed() and by a second kafka-python
member of the group, which then reads only records produced afterwards. kafkajs
(JoinGroup v5, OffsetCommit v5, OffsetFetch v4) does the same through
consumer.run with eachMessage. The mixed cases run each order: a librdkafka member
is in the group and kafkajs joins (kafkajs must crash with
INCONSISTENT_GROUP_PROTOCOL while the librdkafka member keeps its partitions),
and a kafkajs member is in the group and librdkafka joins (its poll() must
report error 23). Every wait is a deadline.
"""
import json
import os
import select
import subprocess
import time

import confluent_kafka
import kafka
from kafka.structs import TopicPartition as KpTopicPartition

import harness
import groups

PARTITIONS = 4
PER_PARTITION = 200
state = {}


def setup_topic(broker):
    state["topic"] = harness.unique_topic("gclients")
    groups.create_topic(broker.bootstrap, state["topic"], PARTITIONS)
    groups.produce_spread(broker.bootstrap, state["topic"], PARTITIONS, PER_PARTITION)


def kp_group_consumer(broker, group):
    return kafka.KafkaConsumer(
        state["topic"], bootstrap_servers=broker.bootstrap, group_id=group,
        enable_auto_commit=False, auto_offset_reset="earliest", session_timeout_ms=10000,
        heartbeat_interval_ms=500, client_id="tidelog-itest-kafka-python-group")


def kp_poll_until(consumer, expected, timeout_s=60):
    records = []
    deadline = time.monotonic() + timeout_s
    while len(records) < expected and time.monotonic() < deadline:
        for messages in consumer.poll(timeout_ms=500).values():
            records.extend((m.partition, m.offset) for m in messages)
    return records


def kafka_python_group(broker):
    topic = state["topic"]
    group = harness.unique_topic("kp-group")
    consumer = kp_group_consumer(broker, group)
    try:
        records = kp_poll_until(consumer, PARTITIONS * PER_PARTITION)
        assert sorted(records) == [(p, o) for p in range(PARTITIONS)
                                   for o in range(PER_PARTITION)], f"{len(records)} records"
        assert consumer.assignment() == {KpTopicPartition(topic, p) for p in range(PARTITIONS)}
        consumer.commit()
        for p in range(PARTITIONS):
            assert consumer.committed(KpTopicPartition(topic, p)) == PER_PARTITION, p
    finally:
        consumer.close()
    assert groups.committed_offsets(broker.bootstrap, group, topic, PARTITIONS) == \
        {p: PER_PARTITION for p in range(PARTITIONS)}
    # A second member of the group resumes there: it reads only what comes next.
    end = groups.produce_spread(broker.bootstrap, topic, PARTITIONS, 5, tag="kp-late")
    consumer = kp_group_consumer(broker, group)
    try:
        records = kp_poll_until(consumer, PARTITIONS * 5)
        assert sorted(records) == sorted((p, o) for p, (lo, hi) in end.items()
                                         for o in range(lo, hi)), records
    finally:
        consumer.close()
    state["total"] = end[0][1]


def kafkajs_group(broker):
    topic = state["topic"]
    total = state.get("total", PER_PARTITION)
    group = harness.unique_topic("kafkajs-group")
    answer = harness.kafkajs({"op": "groupConsume", "brokers": [broker.bootstrap],
                              "topic": topic, "groupId": group,
                              "expected": PARTITIONS * total, "timeoutMs": 60000}, timeout_s=120)
    got = sorted((r["partition"], r["offset"]) for r in answer["records"])
    assert got == [(p, o) for p in range(PARTITIONS) for o in range(total)], \
        f"{len(got)} records, expected {PARTITIONS * total}"
    assert groups.committed_offsets(broker.bootstrap, group, topic, PARTITIONS) == \
        {p: total for p in range(PARTITIONS)}
    # kafka-python reads kafkajs's commits too (OffsetFetch v1).
    consumer = kafka.KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=group,
                                   enable_auto_commit=False)
    try:
        for p in range(PARTITIONS):
            assert consumer.committed(KpTopicPartition(topic, p)) == total, p
    finally:
        consumer.close()


def kafkajs_joins_librdkafka_group(broker):
    topic = state["topic"]
    group = harness.unique_topic("mixed-a")
    member = groups.Member(broker, topic, group, "rdk", session_timeout_ms=10000)
    try:
        groups.wait_stable([member], PARTITIONS)
        answer = harness.kafkajs({"op": "groupJoinError", "brokers": [broker.bootstrap],
                                  "topic": topic, "groupId": group, "timeoutMs": 30000},
                                 timeout_s=90)
        assert answer.get("error") == "INCONSISTENT_GROUP_PROTOCOL", answer
        assert not member.kinds("revoke"), "the librdkafka member was revoked"
        assert member.snapshot()["assigned"] == set(range(PARTITIONS))
    finally:
        member.stop()


def librdkafka_joins_kafkajs_group(broker):
    topic = state["topic"]
    group = harness.unique_topic("mixed-b")
    deps = harness.node_deps_dir()
    env = dict(os.environ, NODE_PATH=str(deps / "node_modules"),
               KAFKAJS_NO_PARTITIONER_WARNING="1")
    request = {"op": "groupConsume", "brokers": [broker.bootstrap], "topic": topic,
               "groupId": group, "hold": True}
    holder = subprocess.Popen(["node", str(harness.HERE / "kafkajs_client.js"),
                               json.dumps(request)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    consumer = None
    try:
        ready, _, _ = select.select([holder.stdout], [], [], 60)
        assert ready, "kafkajs did not join within 60 s"
        line = holder.stdout.readline()  # {"joined": ...}, or EOF if it failed
        assert line.startswith('{"joined"'), \
            f"kafkajs did not join: {line!r} {holder.stderr.read() if not line else ''}"
        consumer = confluent_kafka.Consumer({
            "bootstrap.servers": broker.bootstrap, "group.id": group,
            "enable.auto.commit": False, "session.timeout.ms": 10000,
            "auto.offset.reset": "earliest"})
        consumer.subscribe([topic])
        deadline = time.monotonic() + 30
        error = None
        while error is None and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is not None and \
                    msg.error().code() != confluent_kafka.KafkaError._PARTITION_EOF:
                error = msg.error()
            elif msg is not None and msg.error() is None:
                raise AssertionError("librdkafka joined a kafkajs group and got records")
        assert error is not None, "no error within 30 s: librdkafka's join hangs"
        assert error.code() == confluent_kafka.KafkaError.INCONSISTENT_GROUP_PROTOCOL, error
    finally:
        if consumer is not None:
            consumer.close()
        holder.stdin.close()
        try:
            status = holder.wait(timeout=30)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait()
            raise
    assert status == 0, f"the kafkajs member failed: {holder.stderr.read()[-2000:]}"


if __name__ == "__main__":
    harness.run_cases([
        ("create a 4-partition topic with 800 records", setup_topic),
        ("kafka-python group: consumes, commits, a second member resumes", kafka_python_group),
        ("kafkajs group (eachMessage): consumes and commits; others read the commits",
         kafkajs_group),
        ("kafkajs joins a librdkafka group: INCONSISTENT_GROUP_PROTOCOL, member unaffected",
         kafkajs_joins_librdkafka_group),
        ("librdkafka joins a kafkajs group: INCONSISTENT_GROUP_PROTOCOL from poll()",
         librdkafka_joins_kafkajs_group),
    ], broker_settings=groups.group_broker_settings())
