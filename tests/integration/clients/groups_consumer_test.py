#!/usr/bin/python3
"""Proves that librdkafka (confluent-kafka) consumer groups work against tidelogd:
partitions are shared, committed offsets survive a member's crash, and the
cooperative and static-membership protocols avoid needless revocations.

Each member is a child process (group_member.py) that prints its assignment
callbacks, every record it delivers (before committing it) and every commit that
succeeded, so that a member killed with SIGKILL leaves an exact account.

- share and crash: 3 range members over a 12-partition topic consume 60k records
  (5000 a partition) with no record delivered twice while membership is stable;
  each pauses after 12000; one is SIGKILLed (session.timeout.ms 6000); the others
  go on, take its partitions and finish: no record is missing, and every duplicate
  is on the killed member's partitions at or after the offset it had committed.
  Then a new member, after 1200 more records, reads exactly those 1200.
- cooperative-sticky: a second and third member join; the first is never revoked
  everything, only the partitions that move, and keeps the rest.
- static membership: 3 members with group.instance.id; one is SIGKILLed and
  restarted with the same id within its session timeout: it gets the same
  partitions back and the other two see no revocation or assignment.
Every wait polls with a deadline; timeouts are upper bounds only.
"""
import harness
import groups

PARTITIONS = 12
PER_PARTITION = 5000
state = {}


def setup_topic(broker):
    state["topic"] = harness.unique_topic("groups")
    groups.create_topic(broker.bootstrap, state["topic"], PARTITIONS)


def share_and_crash(broker):
    topic = state["topic"]
    group = harness.unique_topic("share")
    members = [groups.Member(broker, topic, group, f"m{i}", session_timeout_ms=6000,
                             commit_every=1000, pause_after=12000) for i in range(3)]
    state["share_group"] = group
    try:
        assignments = groups.wait_stable(members, PARTITIONS)
        # Joins before this point rebalanced; from here on membership is stable.
        stable_from = [len(m.snapshot()["events"]) for m in members]
        produce = groups.produce_spread(broker.bootstrap, topic, PARTITIONS, PER_PARTITION)
        assert all(produce[p] == (0, PER_PARTITION) for p in range(PARTITIONS)), produce
        harness.deadline_poll(lambda: all(m.paused for m in members), 120,
                              "every member to deliver 12000 records and pause")
        # Stable membership: nobody was revoked, and each record came once, from
        # the member that owns its partition.
        seen = {}
        for m, owned, since in zip(members, assignments, stable_from):
            snap = m.snapshot()
            callbacks = [(k, e) for k, e in snap["events"][since:]
                         if k in ("assign", "revoke", "lost")]
            assert not callbacks, f"{m.name} rebalanced while membership was stable: {callbacks}"
            assert snap["assigned"] == owned, (m.name, snap["assigned"], owned)
            for p, o in snap["records"]:
                assert p in owned, f"{m.name} delivered partition {p}, assigned {owned}"
                assert (p, o) not in seen, f"({p}, {o}) delivered twice before any crash"
                seen[(p, o)] = m.name
        victim, survivors = members[2], members[:2]
        victim_partitions = assignments[2]
        victim.kill()
        kill_committed = {p: victim.snapshot()["committed"].get(p, 0) for p in victim_partitions}
        for m in survivors:
            m.send("go")

        everything = {(p, o) for p in range(PARTITIONS) for o in range(PER_PARTITION)}

        def delivered():
            got = set()
            for m in members:
                got |= set(m.snapshot()["records"])
            return got
        harness.deadline_poll(lambda: delivered() >= everything, 120,
                              "the survivors to deliver every record after the crash")
        union = set().union(*(m.snapshot()["assigned"] for m in survivors))
        assert union == set(range(PARTITIONS)), f"survivors hold {sorted(union)}"
        # Duplicates: only records the victim delivered but had not committed.
        counts = {}
        for m in members:
            for r in m.snapshot()["records"]:
                counts[r] = counts.get(r, 0) + 1
        duplicates = sorted(r for r, n in counts.items() if n > 1)
        wrong = [(p, o) for p, o in duplicates
                 if p not in victim_partitions or o < kill_committed[p]]
        assert not wrong, f"duplicates before the kill point: {wrong[:10]}"
        assert all(n <= 2 for n in counts.values()), "a record delivered 3 times"
        # Everything gets committed (members commit when idle).
        harness.deadline_poll(
            lambda: groups.committed_offsets(broker.bootstrap, group, topic, PARTITIONS)
            == {p: PER_PARTITION for p in range(PARTITIONS)}, 60,
            "committed offsets to reach the end of every partition")
        for m in survivors:
            errors = [e for e in m.snapshot()["errors"] if e["what"] == "commit"]
            assert not errors, f"{m.name} commit errors: {errors[:3]}"
    finally:
        groups.stop_all(members)


def new_member_resumes(broker):
    topic, group = state["topic"], state.get("share_group")
    assert group, "the share-and-crash case did not run"
    groups.produce_spread(broker.bootstrap, topic, PARTITIONS, 100, tag="late")
    member = groups.Member(broker, topic, group, "late", session_timeout_ms=6000,
                           commit_every=100)
    try:
        expected = {(p, o) for p in range(PARTITIONS)
                    for o in range(PER_PARTITION, PER_PARTITION + 100)}
        harness.deadline_poll(lambda: set(member.snapshot()["records"]) >= expected, 60,
                              "the new member to read the 1200 new records")
        got = member.snapshot()["records"]
        older = [r for r in got if r[1] < PER_PARTITION]
        assert not older, f"re-read records below the committed offsets: {older[:5]}"
        assert sorted(got) == sorted(expected), "duplicates among the new records"
    finally:
        member.stop()


def cooperative_sticky(broker):
    topic = state["topic"]
    group = harness.unique_topic("coop")
    settings = dict(strategy="cooperative-sticky", session_timeout_ms=6000, commit_every=500)
    members = [groups.Member(broker, topic, group, "c0", **settings)]
    try:
        groups.wait_stable(members, PARTITIONS)
        members.append(groups.Member(broker, topic, group, "c1", **settings))
        groups.wait_stable(members, PARTITIONS, balanced=True)
        members.append(groups.Member(broker, topic, group, "c2", **settings))
        final = groups.wait_stable(members, PARTITIONS, balanced=True)
        first = members[0]
        # c0 had all 12; over two joins it gave up exactly 8 in incremental revokes,
        # never all it held, and was never assigned anything again (librdkafka
        # reports an empty incremental assignment in each rebalance).
        held = set()
        assigns = 0
        for kind, event in first.snapshot()["events"]:
            if kind == "assign" and event["p"]:
                assert not held & set(event["p"]), f"re-assigned partitions it held: {event}"
                held |= set(event["p"])
                assigns += 1
            elif kind == "revoke":
                assert set(event["p"]) < held, \
                    f"revoked {event['p']} while holding {sorted(held)}: not incremental"
                held -= set(event["p"])
            elif kind == "lost":
                raise AssertionError(f"c0 lost its partitions: {event}")
        assert assigns == 1, f"c0 was assigned partitions again: {first.kinds('assign')}"
        assert held == final[0]
        # c1 kept part of what it got before c2 joined.
        assert all(set(e["p"]) < set().union(*(a["p"] for a in members[1].kinds("assign")))
                   for e in members[1].kinds("revoke")), "c1 was revoked everything"
        # Each record exactly once: everyone commits what it delivered before a revoke.
        counts = {}
        for m in members:
            for r in m.snapshot()["records"]:
                counts[r] = counts.get(r, 0) + 1
        assert all(n == 1 for n in counts.values()), "a record delivered twice in a stable group"
    finally:
        groups.stop_all(members)


def static_membership(broker):
    topic = state["topic"]
    group = harness.unique_topic("static")
    settings = dict(session_timeout_ms=15000, commit_every=500)
    members = []
    try:
        # One at a time, so that s0 (the first) is the leader and s2 is not.
        for i in range(3):
            members.append(groups.Member(broker, topic, group, f"s{i}",
                                         instance_id=f"static-{i}", **settings))
            harness.deadline_poll(lambda: members[-1].snapshot()["assigned"], 60,
                                  f"s{i} to be assigned")
        before = groups.wait_stable(members, PARTITIONS)
        counts_before = [len(m.snapshot()["events"]) for m in members[:2]]
        members[2].kill()
        restarted = groups.Member(broker, topic, group, "s2-again", instance_id="static-2",
                                  **settings)
        members[2] = restarted
        harness.deadline_poll(lambda: restarted.snapshot()["assigned"], 12,
                              "the restarted static member to get its partitions back "
                              "within the session timeout")
        assert restarted.snapshot()["assigned"] == before[2], \
            f"got {restarted.snapshot()['assigned']}, held {before[2]} before"
        # Progress on every partition proves that all three hold their partitions;
        # a rebalance meanwhile would show up as callbacks on s0 or s1.
        end = groups.produce_spread(broker.bootstrap, topic, PARTITIONS, 10, tag="static")

        def caught_up():
            for m, owned in zip(members, before):
                last = {}
                for p, o in m.snapshot()["records"]:
                    last[p] = max(last.get(p, -1), o)
                if any(last.get(p, -1) < end[p][1] - 1 for p in owned):
                    return False
            return True
        harness.deadline_poll(caught_up, 60, "every static member to read the new records")
        for m, count in zip(members[:2], counts_before):
            callbacks = [(k, e) for k, e in m.snapshot()["events"][count:]
                         if k in ("assign", "revoke", "lost")]
            assert not callbacks, f"{m.name} rebalanced when s2 came back: {callbacks}"
    finally:
        groups.stop_all(members)


if __name__ == "__main__":
    harness.run_cases([
        ("create a 12-partition topic", setup_topic),
        ("3 members share 60k records once; SIGKILL one: survivors finish from its commits",
         share_and_crash),
        ("a new member resumes at the committed offsets", new_member_resumes),
        ("cooperative-sticky: joins revoke only the partitions that move", cooperative_sticky),
        ("static member restarted within the session timeout: same partitions, no rebalance",
         static_membership),
    ], broker_settings=groups.group_broker_settings())
