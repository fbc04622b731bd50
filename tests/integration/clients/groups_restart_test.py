#!/usr/bin/python3
"""Proves that committed offsets survive broker restarts: for 100 groups, every
offset and its metadata read back after SIGTERM + restart equals what was
committed, and after SIGKILL + restart every commit the broker had acknowledged
is there too (acknowledged means durable, as for produced records).

How: a 4-partition topic; groups 0-49 commit through librdkafka (a consumer that
never joins: a simple consumer's OffsetCommit, generation -1), groups 50-99 through
raw OffsetCommit v2 with a metadata string per partition; offsets differ per
group and partition. One further group commits as a real member (subscribed,
generation > 0) so that group metadata is replayed as well. Before and after each
restart all 100 groups are read with raw OffsetFetch v5, for the topic's
partitions and with a null topic list (every committed partition), (retrying
COORDINATOR_LOAD_IN_PROGRESS while the broker replays __consumer_offsets), and
10 of them also with librdkafka's committed(). Then every group commits new
offsets, the broker is SIGKILLed right after the last acknowledgement, and
restarted: all 100 must show the new offsets. Waits are deadlines.
"""
import confluent_kafka

import group_protocol as gp
import groups
import harness

GROUPS = 100
PARTITIONS = 4
state = {}


def offset_for(group_index, partition, round_number):
    return 1 + (group_index * 7 + partition * 3 + round_number * 11) % 97


def group_name(i):
    return f"{state['prefix']}-{i:03d}"


def setup(broker):
    state["prefix"] = harness.unique_topic("rgroup")
    state["topic"] = harness.unique_topic("restart-offsets")
    groups.create_topic(broker.bootstrap, state["topic"], PARTITIONS)
    groups.produce_spread(broker.bootstrap, state["topic"], PARTITIONS, 100)


def commit_round(broker, round_number):
    topic = state["topic"]
    expected = {}
    with gp.Connection(broker.port) as conn:
        for i in range(GROUPS):
            offsets = {p: offset_for(i, p, round_number) for p in range(PARTITIONS)}
            if i < GROUPS // 2:
                consumer = confluent_kafka.Consumer({
                    "bootstrap.servers": broker.bootstrap, "group.id": group_name(i),
                    "enable.auto.commit": False})
                try:
                    consumer.commit(offsets=[confluent_kafka.TopicPartition(topic, p, o)
                                             for p, o in offsets.items()], asynchronous=False)
                finally:
                    consumer.close()
                expected[group_name(i)] = {(topic, p): (o, "") for p, o in offsets.items()}
            else:
                metadata = {p: f"r{round_number}-g{i}-p{p}" for p in range(PARTITIONS)}
                answer = gp.retry_coordinator(lambda: _commit_v2(conn, group_name(i), topic,
                                                                 offsets, metadata))
                assert set(answer["errors"].values()) == {gp.NONE}, answer
                expected[group_name(i)] = {(topic, p): (o, metadata[p])
                                           for p, o in offsets.items()}
    state["expected"] = expected


def _commit_v2(conn, group, topic, offsets, metadata):
    answer = conn.offset_commit_v2(group, {topic: {p: (o, metadata[p])
                                                   for p, o in offsets.items()}})
    errors = set(answer["errors"].values())
    answer["error"] = next(iter(errors)) if len(errors) == 1 else gp.NONE
    return answer


def member_commit(broker):
    """A real member (generation > 0) commits; its group is replayed too."""
    topic = state["topic"]
    group = group_name(GROUPS)
    member = groups.Member(broker, topic, group, "member", session_timeout_ms=6000,
                           commit_every=50)
    try:
        harness.deadline_poll(lambda: len(member.snapshot()["records"]) >= PARTITIONS * 100,
                              60, "the member to read the topic")
        harness.deadline_poll(lambda: member.snapshot()["committed"] ==
                              {p: 100 for p in range(PARTITIONS)}, 60, "its commits")
    finally:
        member.stop()
    state["member_group"] = group


def read_all(broker, every_topic=False):
    """{group: {(topic, partition): (offset, metadata)}} by raw OffsetFetch v5, for
    the topic's partitions, or with every_topic for a null topic list (all of the
    group's committed partitions)."""
    out = {}
    topics = None if every_topic else {state["topic"]: list(range(PARTITIONS))}
    with gp.Connection(broker.port) as conn:
        for group in state["expected"]:
            answer = gp.retry_coordinator(lambda: conn.offset_fetch(group, topics))
            assert answer["error"] == gp.NONE, (group, answer)
            out[group] = {tp: (o, m or "") for tp, (o, m, e) in answer["offsets"].items()
                          if o >= 0}
            assert all(e == gp.NONE for _, _, e in answer["offsets"].values()), answer
    return out


def check_restored(broker):
    got = read_all(broker)
    wrong = {g: (got.get(g), want) for g, want in state["expected"].items() if got.get(g) != want}
    assert not wrong, f"{len(wrong)} groups differ, e.g. {list(wrong.items())[:2]}"
    every = read_all(broker, every_topic=True)
    assert every == got, "OffsetFetch with a null topic list differs from the explicit one"
    topic = state["topic"]
    for i in range(0, GROUPS // 2, 5):
        committed = groups.committed_offsets(broker.bootstrap, group_name(i), topic, PARTITIONS)
        want = {p: o for (_, p), (o, _) in state["expected"][group_name(i)].items()}
        assert committed == want, (group_name(i), committed, want)
    if "member_group" in state:
        committed = groups.committed_offsets(broker.bootstrap, state["member_group"], topic,
                                             PARTITIONS)
        assert committed == {p: 100 for p in range(PARTITIONS)}, committed


def commit_100_groups(broker):
    commit_round(broker, 1)
    check_restored(broker)


def sigterm_restart(broker):
    broker.restart()
    check_restored(broker)


def sigkill_after_acknowledged_commits(broker):
    commit_round(broker, 2)
    broker.restart(hard=True)
    check_restored(broker)


if __name__ == "__main__":
    harness.run_cases([
        ("create a topic", setup),
        ("100 groups commit (librdkafka simple consumers, raw v2 with metadata)",
         commit_100_groups),
        ("a subscribed member commits with its generation", member_commit),
        ("SIGTERM + restart: every group's offsets and metadata restored exactly",
         sigterm_restart),
        ("new commits, SIGKILL + restart: every acknowledged commit restored",
         sigkill_after_acknowledged_commits),
    ], broker_settings=groups.group_broker_settings())
