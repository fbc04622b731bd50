#!/usr/bin/python3
"""Proves that the group coordinator answers wrong input with Kafka's error codes
and that the group stays usable afterwards.

Raw sockets (group_protocol.py), non-flexible versions, one tidelogd:
- JoinGroup v5: empty member id -> MEMBER_ID_REQUIRED (79) with an id; session
  timeout below the broker's minimum -> INVALID_SESSION_TIMEOUT (26); another
  protocol type or no common protocol -> INCONSISTENT_GROUP_PROTOCOL (23).
- Heartbeat / SyncGroup / OffsetCommit from an unknown member -> UNKNOWN_MEMBER_ID
  (25); with a stale or future generation -> ILLEGAL_GENERATION (22); Heartbeat to a
  group that does not exist -> UNKNOWN_MEMBER_ID (25).
- OffsetCommit to a topic that does not exist or a partition past the topic's
  count -> UNKNOWN_TOPIC_OR_PARTITION (3) for that partition only, the others
  commit; metadata over offset.metadata.max.bytes (4096) -> OFFSET_METADATA_TOO_LARGE
  (12) for that partition only.
- Oversized protocol metadata and assignment (2 MiB, above the 1 MiB record
  limit of __consumer_offsets): the group cannot be stored, so the leader's
  SyncGroup fails with UNKNOWN_SERVER_ERROR (-1) as in Kafka's GroupMetadataManager;
  the member rejoins with small metadata and the group completes.
- LeaveGroup v3 with a known and an unknown member: the known one leaves, the
  unknown one gets UNKNOWN_MEMBER_ID (25) in its member entry. When the last
  member leaves, the group is Empty when LeaveGroup is answered (as in Kafka)
  and DeleteGroups succeeds right away.
- DescribeGroups of an unknown group: error 0, state Dead; DeleteGroups of a group
  with members -> NON_EMPTY_GROUP (68), of an unknown group -> GROUP_ID_NOT_FOUND (69).
- After all that, a librdkafka consumer joins the same group, reads and commits,
  and raw OffsetFetch v1 and v5 read the commit.
Every wait is a deadline.
"""
import confluent_kafka

import group_protocol as gp
import groups
import harness

PARTITIONS = 3
state = {}
MIB = 1 << 20


def setup(broker):
    state["topic"] = harness.unique_topic("gproto")
    state["group"] = harness.unique_topic("gproto-group")
    groups.create_topic(broker.bootstrap, state["topic"], PARTITIONS)
    groups.produce_spread(broker.bootstrap, state["topic"], PARTITIONS, 10)


def joined(conn, group=None, **kwargs):
    """(member id, generation) of a member alone in `group`, after SyncGroup."""
    group = group or state["group"]
    kwargs.setdefault("topics", [state["topic"]])
    answer = gp.join_as_only_member(conn, group, **kwargs)
    assert answer["leader"] == answer["member_id"], answer
    assert [m["member_id"] for m in answer["members"]] == [answer["member_id"]], answer
    owned = gp.assignment({state["topic"]: list(range(PARTITIONS))})
    sync = gp.retry_coordinator(lambda: conn.sync_group(
        group, answer["generation"], answer["member_id"], [(answer["member_id"], owned)]))
    assert sync["error"] == gp.NONE, sync
    assert gp.decode_assignment(sync["assignment"]) == {state["topic"]: list(range(PARTITIONS))}
    return answer["member_id"], answer["generation"]


def member_id_required(broker):
    with gp.Connection(broker.port) as conn:
        first = gp.retry_coordinator(lambda: conn.join_group(state["group"],
                                                             topics=[state["topic"]]))
        assert first["error"] == gp.MEMBER_ID_REQUIRED, first
        assert first["member_id"], "MEMBER_ID_REQUIRED without a member id"
        member, generation = joined(conn, member_id=first["member_id"])
        assert member == first["member_id"] and generation >= 1
        assert conn.heartbeat(state["group"], generation, member)["error"] == gp.NONE
        state["member"], state["generation"] = member, generation


def bad_join(broker):
    with gp.Connection(broker.port) as conn:
        short = conn.join_group(harness.unique_topic("short"), session_timeout_ms=1,
                                topics=[state["topic"]])
        assert short["error"] == gp.INVALID_SESSION_TIMEOUT, short
        # The group has a "consumer" member with protocol "range".
        other_type = conn.join_group(state["group"], protocol_type="connect",
                                     member_id="", protocols=[("range", b"x")])
        assert other_type["error"] == gp.INCONSISTENT_GROUP_PROTOCOL, other_type
        no_common = conn.join_group(
            state["group"], protocols=[("RoundRobinAssigner",
                                        gp.subscription([state["topic"]]))])
        assert no_common["error"] == gp.INCONSISTENT_GROUP_PROTOCOL, no_common
        assert conn.heartbeat(state["group"], state["generation"], state["member"])["error"] \
            == gp.NONE, "the refused joins disturbed the group"


def unknown_member_and_stale_generation(broker):
    group, member, generation = state["group"], state["member"], state["generation"]
    topic = state["topic"]
    with gp.Connection(broker.port) as conn:
        assert conn.heartbeat(group, generation, "no-such-member")["error"] == gp.UNKNOWN_MEMBER_ID
        assert conn.heartbeat(group, generation - 1, member)["error"] == gp.ILLEGAL_GENERATION
        assert conn.heartbeat(group, generation + 1, member)["error"] == gp.ILLEGAL_GENERATION
        assert conn.heartbeat(harness.unique_topic("nogroup"), 1, "x")["error"] \
            == gp.UNKNOWN_MEMBER_ID
        assert conn.sync_group(group, generation, "no-such-member")["error"] \
            == gp.UNKNOWN_MEMBER_ID
        assert conn.sync_group(group, generation + 1, member)["error"] == gp.ILLEGAL_GENERATION
        unknown = conn.offset_commit(group, {topic: {0: (1, "")}}, generation, "no-such-member")
        assert unknown["errors"] == {(topic, 0): gp.UNKNOWN_MEMBER_ID}, unknown
        stale = conn.offset_commit(group, {topic: {0: (1, "")}}, generation - 1, member)
        assert stale["errors"] == {(topic, 0): gp.ILLEGAL_GENERATION}, stale
        fetched = conn.offset_fetch(group, {topic: [0]})
        assert fetched["offsets"][(topic, 0)][0] == -1, f"a refused commit was stored: {fetched}"
        assert conn.heartbeat(group, generation, member)["error"] == gp.NONE


def commit_to_unknown_partitions(broker):
    group, member, generation = state["group"], state["member"], state["generation"]
    topic, missing = state["topic"], harness.unique_topic("never-created")
    with gp.Connection(broker.port) as conn:
        answer = conn.offset_commit(group, {topic: {0: (4, "a"), PARTITIONS: (4, "b")},
                                            missing: {0: (4, "c")}}, generation, member)
        assert answer["errors"] == {(topic, 0): gp.NONE,
                                    (topic, PARTITIONS): gp.UNKNOWN_TOPIC_OR_PARTITION,
                                    (missing, 0): gp.UNKNOWN_TOPIC_OR_PARTITION}, answer
        too_long = conn.offset_commit(group, {topic: {1: (5, "m" * 4097), 2: (6, "ok")}},
                                      generation, member)
        assert too_long["errors"] == {(topic, 1): gp.OFFSET_METADATA_TOO_LARGE,
                                      (topic, 2): gp.NONE}, too_long
        fetched = conn.offset_fetch(group, {topic: [0, 1, 2]})
        offsets = {p: fetched["offsets"][(topic, p)][:2] for p in range(PARTITIONS)}
        assert offsets == {0: (4, "a"), 1: (-1, None), 2: (6, "ok")} or \
            offsets == {0: (4, "a"), 1: (-1, ""), 2: (6, "ok")}, fetched
        # Metadata of exactly the limit is fine.
        assert conn.offset_commit(group, {topic: {1: (5, "m" * 4096)}}, generation,
                                  member)["errors"] == {(topic, 1): gp.NONE}


def expired_offsets_and_empty_groups_are_removed(broker):
    """A simple consumer's commit with OffsetCommit v2 retention_time_ms expires:
    the retention pass (every 200 ms here) removes the offset, then the group
    that has neither members nor offsets left."""
    group, topic = harness.unique_topic("expiring"), state["topic"]
    keep = harness.unique_topic("kept")
    with gp.Connection(broker.port) as conn:
        short = gp.retry_coordinator(
            lambda: conn.offset_commit_v2(group, {topic: {0: (7, "x")}}, retention_ms=300))
        assert short["errors"] == {(topic, 0): gp.NONE}, short
        kept = gp.retry_coordinator(
            lambda: conn.offset_commit_v2(keep, {topic: {0: (9, "y")}}))
        assert kept["errors"] == {(topic, 0): gp.NONE}, kept
        assert conn.offset_fetch(group, {topic: [0]})["offsets"][(topic, 0)][0] == 7

        def gone():
            fetched = conn.offset_fetch(group, {topic: [0]})["offsets"][(topic, 0)][0]
            listed = {g["group_id"] for g in conn.list_groups()["groups"]}
            return fetched == -1 and group not in listed
        harness.deadline_poll(gone, 20, "the expired offset and its empty group to go")
        # A commit without a retention time stays (offsets_retention_minutes: 7 days).
        assert conn.offset_fetch(keep, {topic: [0]})["offsets"][(topic, 0)][0] == 9
        assert keep in {g["group_id"] for g in conn.list_groups()["groups"]}


def oversized_metadata(broker):
    group = harness.unique_topic("gproto-big")
    topic = state["topic"]
    with gp.Connection(broker.port) as conn:
        big = gp.subscription([topic], user_data=b"u" * (2 * MIB))
        answer = gp.join_as_only_member(conn, group, protocols=[("range", big)])
        assert answer["members"][0]["metadata"] == big, "the leader did not get the metadata back"
        member = answer["member_id"]
        sync = conn.sync_group(group, answer["generation"], member,
                               [(member, gp.assignment({topic: [0]}))])
        assert sync["error"] == gp.UNKNOWN_SERVER_ERROR, sync
        # Rejoin with small metadata: the group completes.
        again = gp.join_as_only_member(conn, group, member_id=member, topics=[topic])
        sync = conn.sync_group(group, again["generation"], again["member_id"],
                               [(again["member_id"], gp.assignment({topic: [0, 1, 2]}))])
        assert sync["error"] == gp.NONE, sync
        # An oversized assignment fails the same way; the group still recovers.
        huge = gp.assignment({topic: [0]}, user_data=b"a" * (2 * MIB))
        third = gp.join_as_only_member(conn, group, member_id=again["member_id"], topics=[topic])
        sync = conn.sync_group(group, third["generation"], third["member_id"],
                               [(third["member_id"], huge)])
        assert sync["error"] == gp.UNKNOWN_SERVER_ERROR, sync
        fourth = gp.join_as_only_member(conn, group, member_id=third["member_id"], topics=[topic])
        sync = conn.sync_group(group, fourth["generation"], fourth["member_id"],
                               [(fourth["member_id"], gp.assignment({topic: [0]}))])
        assert sync["error"] == gp.NONE, sync
        assert conn.heartbeat(group, fourth["generation"], fourth["member_id"])["error"] \
            == gp.NONE
        left = conn.leave_group(group, [(fourth["member_id"], None)])
        assert left["error"] == gp.NONE, left
        # As in Kafka, the last member's LeaveGroup empties the group before it is
        # answered: the group is Empty at once and can be deleted.
        state_now = conn.describe_groups([group])["groups"][0]["state"]
        assert state_now == "Empty", f"state {state_now} right after the last member left"
        deleted = conn.delete_groups([group])
        assert deleted["errors"] == {group: gp.NONE}, deleted


def leave_describe_delete(broker):
    group, member = state["group"], state["member"]
    with gp.Connection(broker.port) as conn:
        described = conn.describe_groups([group, harness.unique_topic("nogroup")])["groups"]
        assert described[0]["error"] == gp.NONE and described[0]["state"] == "Stable", described
        assert described[0]["protocol_type"] == "consumer" and \
            described[0]["protocol"] == "range", described[0]
        assert [m["member_id"] for m in described[0]["members"]] == [member]
        assert gp.decode_assignment(described[0]["members"][0]["assignment"]) == \
            {state["topic"]: list(range(PARTITIONS))}
        assert described[1]["error"] == gp.NONE and described[1]["state"] == "Dead", described[1]
        listed = conn.list_groups()
        assert listed["error"] == gp.NONE
        assert {"group_id": group, "protocol_type": "consumer"} in listed["groups"], listed
        missing = harness.unique_topic("nogroup")
        deleted = conn.delete_groups([group, missing])
        assert deleted["errors"] == {group: gp.NON_EMPTY_GROUP,
                                     missing: gp.GROUP_ID_NOT_FOUND}, deleted
        left = conn.leave_group(group, [(member, None), ("no-such-member", None)])
        assert left["error"] == gp.NONE, left
        assert {m["member_id"]: m["error"] for m in left["members"]} == \
            {member: gp.NONE, "no-such-member": gp.UNKNOWN_MEMBER_ID}, left
        # Kafka empties the group before answering the last member's LeaveGroup.
        state_now = conn.describe_groups([group])["groups"][0]["state"]
        assert state_now == "Empty", f"state {state_now} right after the last member left"


def group_still_usable(broker):
    group, topic = state["group"], state["topic"]
    consumer = confluent_kafka.Consumer({
        "bootstrap.servers": broker.bootstrap, "group.id": group, "enable.auto.commit": False,
        "auto.offset.reset": "earliest", "session.timeout.ms": 6000})
    try:
        consumer.subscribe([topic])
        got = []
        harness.deadline_poll(lambda: _poll_into(consumer, got) >= (10 - 4) + (10 - 5) + (10 - 6), 60,
                              "the consumer to read past the raw commits")
        # Offsets committed above with the raw member were used: partition 0
        # started at 4, partition 1 at 5, partition 2 at 6.
        starts = {}
        for p, o in got:
            starts[p] = min(starts.get(p, o), o)
        assert starts == {0: 4, 1: 5, 2: 6}, f"started at {starts}"
        consumer.commit(asynchronous=False)
        positions = {tp.partition: tp.offset for tp in consumer.position(
            [confluent_kafka.TopicPartition(topic, p) for p in range(PARTITIONS)])}
        assert positions == {p: 10 for p in range(PARTITIONS)}, positions
    finally:
        consumer.close()
    with gp.Connection(broker.port) as conn:
        for version in (1, 5):
            fetched = conn.offset_fetch(group, {topic: list(range(PARTITIONS))}, version=version)
            assert {p: fetched["offsets"][(topic, p)][0] for p in range(PARTITIONS)} == \
                {p: 10 for p in range(PARTITIONS)}, (version, fetched)


def _poll_into(consumer, out):
    msg = consumer.poll(0.2)
    if msg is not None and msg.error() is None:
        out.append((msg.partition(), msg.offset()))
    return len(out)


if __name__ == "__main__":
    harness.run_cases([
        ("create a topic", setup),
        ("JoinGroup v5: MEMBER_ID_REQUIRED, then joined and synced", member_id_required),
        ("JoinGroup: INVALID_SESSION_TIMEOUT, INCONSISTENT_GROUP_PROTOCOL", bad_join),
        ("unknown member: UNKNOWN_MEMBER_ID; stale generation: ILLEGAL_GENERATION",
         unknown_member_and_stale_generation),
        ("commit to unknown topic/partition and too-large metadata: per-partition errors",
         commit_to_unknown_partitions),
        ("oversized protocol metadata / assignment: SyncGroup error, group recovers",
         oversized_metadata),
        ("DescribeGroups, ListGroups, DeleteGroups errors, batched LeaveGroup",
         leave_describe_delete),
        ("the group is usable by librdkafka afterwards; OffsetFetch v1 and v5 agree",
         group_still_usable),
        ("expired offsets are removed, then their empty group",
         expired_offsets_and_empty_groups_are_removed),
    ], broker_settings=groups.group_broker_settings(offsets_retention_check_interval_ms=200))
