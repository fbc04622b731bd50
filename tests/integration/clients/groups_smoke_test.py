#!/usr/bin/python3
"""Smoke test of consumer groups with librdkafka (confluent-kafka): the coordinator is
found, members join and share partitions, offsets are committed and survive a broker
restart (replayed from __consumer_offsets), and the admin APIs see the groups.

Setup: a 4-partition topic holds 200 records (50 per partition). One consumer in group
A reads all of them and commits; two consumers in group B split the partitions
between them (range, then cooperative-sticky); the broker is restarted with SIGTERM
and group A's committed offsets must come back exactly. The broker runs with a
4-partition __consumer_offsets and a 100 ms initial rebalance delay so that the
first rebalance does not wait Kafka's 3 s.
"""
import sys
import time

import confluent_kafka
import confluent_kafka.admin

import clients
import harness

TOPIC = harness.unique_topic("groups")
PARTITIONS = 4
PER_PARTITION = 50
TOTAL = PARTITIONS * PER_PARTITION


def consumer(broker, group, **extra):
    settings = dict(group_id=group, auto_offset_reset="earliest", enable_auto_commit=False,
                    session_timeout_ms=6000, heartbeat_interval_ms=500)
    settings.update(extra)
    return confluent_kafka.Consumer(clients.rdk_conf(broker.bootstrap, **settings))


def setup(broker):
    admin = confluent_kafka.admin.AdminClient(clients.rdk_conf(broker.bootstrap))
    admin.create_topics([confluent_kafka.admin.NewTopic(TOPIC, PARTITIONS, 1)])[TOPIC].result(30)
    records = [(f"k{i}", f"v{i}", None, i % PARTITIONS) for i in range(TOTAL)]
    clients.rdk_produce(broker.bootstrap, TOPIC, records)


def poll_until(consumers, want, timeout_s=30):
    counts = [0] * len(consumers)
    deadline = time.monotonic() + timeout_s
    while sum(counts) < want and time.monotonic() < deadline:
        for i, c in enumerate(consumers):
            msg = c.poll(0.1)
            if msg is not None and msg.error() is None:
                counts[i] += 1
    return counts


def one_member_consumes_and_commits(broker):
    c = consumer(broker, "A")
    try:
        c.subscribe([TOPIC])
        counts = poll_until([c], TOTAL)
        assert counts == [TOTAL], f"read {counts}, want {TOTAL}"
        c.commit(asynchronous=False)
        got = c.committed([confluent_kafka.TopicPartition(TOPIC, p) for p in range(PARTITIONS)],
                          timeout=10)
        assert [tp.offset for tp in got] == [PER_PARTITION] * PARTITIONS, got
    finally:
        c.close()


def two_members_share_partitions(broker, strategy):
    group = f"B-{strategy}"
    members = [consumer(broker, group, partition_assignment_strategy=strategy,
                        client_id=f"m{i}") for i in range(2)]
    try:
        for m in members:
            m.subscribe([TOPIC])
        deadline = time.monotonic() + 30
        counts = [0, 0]
        while time.monotonic() < deadline:
            more = poll_until(members, 1, timeout_s=0.2)
            counts = [a + b for a, b in zip(counts, more)]
            assigned = [sorted(tp.partition for tp in m.assignment()) for m in members]
            if all(assigned) and sum(map(len, assigned)) == PARTITIONS and sum(counts) >= TOTAL:
                break
        assigned = [sorted(tp.partition for tp in m.assignment()) for m in members]
        assert all(assigned), f"assignments {assigned}"
        assert sorted(p for a in assigned for p in a) == list(range(PARTITIONS)), assigned
        print(f"# {strategy}: assignments {assigned}, records {counts}", flush=True)
    finally:
        for m in members:
            m.close()


def admin_lists_and_describes(broker):
    admin = confluent_kafka.admin.AdminClient(clients.rdk_conf(broker.bootstrap))
    listed = {g.id: g for g in admin.list_groups(timeout=10)}
    assert "A" in listed, sorted(listed)
    assert listed["A"].state == "Empty", listed["A"].state
    assert listed["A"].protocol_type == "consumer", listed["A"].protocol_type


def offsets_survive_restart(broker):
    broker.stop()
    broker.start()
    c = consumer(broker, "A")
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                got = c.committed([confluent_kafka.TopicPartition(TOPIC, p)
                                   for p in range(PARTITIONS)], timeout=10)
                break
            except confluent_kafka.KafkaException:
                # COORDINATOR_LOAD_IN_PROGRESS is retriable; librdkafka may surface it.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert [tp.offset for tp in got] == [PER_PARTITION] * PARTITIONS, got
    finally:
        c.close()


def main():
    harness.run_cases([
        ("a 4-partition topic holds 200 records", setup),
        ("one member of group A reads all 200 and commits offset 50 per partition",
         one_member_consumes_and_commits),
        ("two members split the partitions (range)",
         lambda b: two_members_share_partitions(b, "range")),
        ("two members split the partitions (cooperative-sticky)",
         lambda b: two_members_share_partitions(b, "cooperative-sticky")),
        ("ListGroups shows group A Empty with protocol type consumer",
         admin_lists_and_describes),
        ("group A's offsets are replayed after a restart", offsets_survive_restart),
    ], {"offsets_topic_num_partitions": 4, "group_initial_rebalance_delay_ms": 100})


if __name__ == "__main__":
    sys.exit(main())
