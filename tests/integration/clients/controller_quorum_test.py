#!/usr/bin/python3
"""Issue 9: three tidelogd processes on loopback form one controller quorum
(--node-id 1..3 --controller-voters 1@..,2@..,3@..; the Raft metadata log).

They elect a leader (every node's /v1/controller agrees); each registers
itself, so Metadata on every node lists all three brokers with the Raft
leader as controller; a topic created through a follower (confluent-kafka's
AdminClient bootstrapped on it) appears in Metadata on every node;
SIGKILL of the leader elects a new one (the time is printed; asserted only
against twice the largest election timeout, 2 x 2 x 10 ticks x 50 ms, plus
the polling slack); a topic created after the failover reaches both
survivors; the killed node restarts and catches up; a clean restart of
another keeps every committed topic.
"""
import json
import socket
import sys
import time
import traceback
import urllib.request

import confluent_kafka
import confluent_kafka.admin

import clients
import harness

NODES = (1, 2, 3)
MAX_ELECTION_TIMEOUT_S = 2 * 10 * 0.050  # [election_ticks, 2 x election_ticks) x tick
state = {}


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def controller(broker):
    """/v1/controller, or None while the node is down or starting."""
    if broker.process is None or broker.process.poll() is not None:
        return None
    try:
        url = f"http://127.0.0.1:{broker.admin_port}/v1/controller"
        with urllib.request.urlopen(url, timeout=2) as answer:
            return json.loads(answer.read())
    except OSError:
        return None


def agreed_leader(brokers):
    """The leader every given node reports, in one term; None otherwise."""
    views = [controller(b) for b in brokers]
    if any(v is None for v in views):
        return None
    leaders = {(v["leader"], v["term"]) for v in views}
    if len(leaders) != 1:
        return None
    leader, term = leaders.pop()
    if leader not in [b.settings["node_id"] for b in brokers]:
        return None
    return leader, term


def metadata(broker, timeout_s=5):
    admin = confluent_kafka.admin.AdminClient({"bootstrap.servers": broker.bootstrap})
    return admin.list_topics(timeout=timeout_s)


def start_quorum():
    ports = {n: free_port() for n in NODES}
    voters = ",".join(f"{n}@127.0.0.1:{ports[n]}" for n in NODES)
    brokers = {n: harness.Broker(name=f"quorum{n}", node_id=n, controller_voters=voters)
               for n in NODES}
    state["brokers"] = brokers
    for b in brokers.values():
        b.start()


def elects_a_leader():
    brokers = list(state["brokers"].values())
    started = time.monotonic()
    leader, term = harness.deadline_poll(lambda: agreed_leader(brokers), 20, "a leader")
    harness_print(f"leader {leader} in term {term} after {time.monotonic() - started:.2f} s")
    view = controller(brokers[0])
    assert sorted(view["voters"]) == list(NODES), view
    state["leader"] = leader


def every_broker_registered():
    for b in state["brokers"].values():
        def listed():
            md = metadata(b)
            return sorted(md.brokers) == list(NODES) and md.controller_id == state["leader"]
        harness.deadline_poll(listed, 20, f"3 brokers and controller in node "
                                          f"{b.settings['node_id']}'s Metadata")
    md = metadata(state["brokers"][1])
    for n in NODES:
        assert md.brokers[n].port == state["brokers"][n].port, md.brokers[n]


def topic_on_every_node(topic, partitions, brokers):
    """Polls each node until its Metadata has `topic` with `partitions`
    partitions, each led by a node of the quorum. (A node that is catching
    up adopts images shard by shard: two connections may briefly disagree.)"""
    for b in brokers:
        def present():
            md = metadata(b)
            t = md.topics.get(topic)
            return (t is not None and t.error is None and len(t.partitions) == partitions and
                    all(p.leader in NODES for p in t.partitions.values()))
        harness.deadline_poll(present, 20, f"{topic} on node {b.settings['node_id']}")


def create_topic(through, topic, partitions):
    admin = confluent_kafka.admin.AdminClient({"bootstrap.servers": through.bootstrap})
    futures = admin.create_topics(
        [confluent_kafka.admin.NewTopic(topic, num_partitions=partitions, replication_factor=1)],
        request_timeout=15)
    futures[topic].result(timeout=20)


def create_through_follower():
    follower = next(b for n, b in state["brokers"].items() if n != state["leader"])
    topic = harness.unique_topic("quorum-a")
    create_topic(follower, topic, 3)
    state["topics"] = [(topic, 3)]
    topic_on_every_node(topic, 3, state["brokers"].values())


def auto_create_through_follower():
    """Metadata with auto-creation, answered by a follower: its controller
    forwards the CreateTopic record to the leader. Records then go to each
    partition's placed leader, on whichever node that is."""
    follower = next(b for n, b in state["brokers"].items() if n != state["leader"])
    topic = harness.unique_topic("quorum-auto")
    records = clients.sample_records(30, "auto")
    reports = clients.rdk_produce(follower.bootstrap, topic, records)
    assert len(reports) == 30
    partitions = len(metadata(follower).topics[topic].partitions)
    state["topics"].append((topic, partitions))
    topic_on_every_node(topic, partitions, state["brokers"].values())


def leader_killed_new_leader():
    brokers = state["brokers"]
    old = state["leader"]
    brokers[old].kill()
    killed_at = time.monotonic()
    survivors = [b for n, b in brokers.items() if n != old]
    leader, term = harness.deadline_poll(lambda: agreed_leader(survivors), 20,
                                         "a new leader among the survivors")
    elapsed = time.monotonic() - killed_at
    harness_print(f"new leader {leader} (term {term}) {elapsed:.3f} s after SIGKILL of {old}")
    assert leader != old
    # Polling every 50 ms and each poll's HTTP round trips add slack.
    assert elapsed < 2 * MAX_ELECTION_TIMEOUT_S + 1.0, elapsed
    state["leader"] = leader
    state["killed"] = old
    topic = harness.unique_topic("quorum-b")
    create_topic(brokers[leader], topic, 2)
    state["topics"].append((topic, 2))
    for t, p in state["topics"]:
        topic_on_every_node(t, p, survivors)


def killed_node_catches_up():
    killed = state["brokers"][state["killed"]]
    killed.start()
    for t, p in state["topics"]:
        topic_on_every_node(t, p, [killed])
    harness.deadline_poll(lambda: agreed_leader(list(state["brokers"].values())), 20,
                          "all three agree on the leader")


def clean_restart_keeps_topics():
    b = next(b for n, b in state["brokers"].items() if n != state["leader"])
    b.restart()
    for t, p in state["topics"]:
        topic_on_every_node(t, p, [b])
    md = metadata(b)
    assert "__consumer_offsets" in md.topics


def stop_all():
    for b in state["brokers"].values():
        b.stop()


def harness_print(text):
    print(f"# {text}", flush=True)


def main():
    tap = harness.Tap()
    try:
        try:
            start_quorum()
        except Exception:
            tap.comment(traceback.format_exc())
            tap.case("three nodes start", lambda: (_ for _ in ()).throw(AssertionError("start")))
            return tap.finish()
        cases = [
            ("three voters elect one leader", elects_a_leader),
            ("every node registers; Metadata lists 3 brokers, controller = leader",
             every_broker_registered),
            ("CreateTopics through a follower: the topic on every node",
             create_through_follower),
            ("auto-creation through a follower (forwarded), produce to placed leaders",
             auto_create_through_follower),
            ("SIGKILL of the leader: a new leader, and topics still created",
             leader_killed_new_leader),
            ("the killed node restarts and catches up", killed_node_catches_up),
            ("a clean restart keeps every committed topic", clean_restart_keeps_topics),
            ("every node stops cleanly on SIGTERM (exit 0)", stop_all),
        ]
        for name, function in cases:
            tap.case(name, function)
    finally:
        for b in state.get("brokers", {}).values():
            b.close()
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
