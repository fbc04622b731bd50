"""Helpers shared by the consumer-group tests (groups_*_test.py).

`Member` runs group_member.py (one librdkafka consumer) as a child process and
follows its JSON events: current assignment, every delivered (partition, offset),
successful commits, errors. `group_broker_settings()` gives the broker settings
that make group tests fast, keeping only those this tidelogd knows (its --help),
so that a broker without them still starts and the tests stay correct, only slower.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import confluent_kafka
import confluent_kafka.admin

import harness

MEMBER_SCRIPT = harness.HERE / "group_member.py"


def group_broker_settings(**extra):
    """Broker settings for group tests: no initial rebalance delay (Kafka's default
    is 3 s), and a small __consumer_offsets. Unknown keys are dropped (see above)."""
    wanted = dict(group_initial_rebalance_delay_ms=0, offsets_topic_num_partitions=4)
    wanted.update(extra)
    return known_settings(wanted)


_help_text = None


def known_settings(settings):
    global _help_text
    if _help_text is None:
        binary = os.environ.get("TIDELOGD")
        try:
            _help_text = subprocess.run([binary, "--help"], capture_output=True, text=True,
                                        timeout=30).stdout if binary else ""
        except (OSError, subprocess.SubprocessError):
            _help_text = ""
    return {k: v for k, v in settings.items()
            if "--" + k.replace("_", "-") in _help_text}


def create_topic(bootstrap, topic, partitions):
    """CreateTopics through librdkafka's admin client; waits for the result."""
    admin = confluent_kafka.admin.AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([confluent_kafka.admin.NewTopic(topic, partitions, 1)],
                                  operation_timeout=30)
    futures[topic].result(timeout=60)
    harness.deadline_poll(
        lambda: len(admin.list_topics(topic=topic, timeout=10).topics[topic].partitions)
        == partitions, 30, f"{topic} with {partitions} partitions in metadata")


def produce_spread(bootstrap, topic, partitions, per_partition, tag="v"):
    """per_partition records on each partition (values '{tag}-{p}-{i}'); returns
    {partition: (first offset, end offset)}."""
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "linger.ms": 5,
                                         "acks": "all", "batch.num.messages": 1000})
    reports = {}
    failures = []

    def report(err, msg):
        if err is not None:
            failures.append(err)
            return
        lo, hi = reports.get(msg.partition(), (msg.offset(), msg.offset()))
        reports[msg.partition()] = (min(lo, msg.offset()), max(hi, msg.offset()))
    for i in range(per_partition):
        for p in range(partitions):
            while True:
                try:
                    producer.produce(topic, value=f"{tag}-{p}-{i}", partition=p,
                                     on_delivery=report)
                    break
                except BufferError:
                    producer.poll(0.1)
        producer.poll(0)
    assert producer.flush(60) == 0, "records still queued after 60 s"
    assert not failures, f"delivery errors: {failures[:3]}"
    return {p: (lo, hi + 1) for p, (lo, hi) in reports.items()}


class Member:
    """A group_member.py child and what it reported."""

    def __init__(self, broker, topic, group, name, **settings):
        self.name = name
        self.lock = threading.Lock()
        self.assigned = set()
        self.events = []          # (kind, payload) in arrival order
        self.records = []         # (partition, offset) in delivery order
        self.committed = {}       # partition -> next offset, last successful commit
        self.errors = []
        self.ready = False
        self.paused = False
        self.closed = False
        config = dict(bootstrap=broker.bootstrap, topic=topic, group=group,
                      client_id=f"tidelog-group-{name}", **settings)
        self.process = subprocess.Popen(
            [harness.PYTHON, str(MEMBER_SCRIPT),
             json.dumps(config)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd=str(harness.HERE))
        self.stderr_tail = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                kind = event["ev"]
                self.events.append((kind, event))
                if kind == "assign":
                    self.assigned |= set(event["p"])
                elif kind in ("revoke", "lost"):
                    self.assigned -= set(event["p"])
                elif kind == "recs":
                    self.records.extend(tuple(r) for r in event["r"])
                elif kind == "commit":
                    self.committed.update({int(p): o for p, o in event["o"].items()})
                elif kind == "error":
                    self.errors.append(event)
                elif kind == "ready":
                    self.ready = True
                elif kind == "paused":
                    self.paused = True
                elif kind == "closed":
                    self.closed = True

    def _read_stderr(self):
        for line in self.process.stderr:
            self.stderr_tail = (self.stderr_tail + [line])[-20:]

    def snapshot(self):
        with self.lock:
            return dict(assigned=set(self.assigned), records=list(self.records),
                        committed=dict(self.committed), events=list(self.events),
                        errors=list(self.errors))

    def kinds(self, kind):
        with self.lock:
            return [e for k, e in self.events if k == kind]

    def send(self, command):
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def kill(self):
        """SIGKILL: no LeaveGroup, no last commit."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, timeout_s=30):
        """Closes the consumer (LeaveGroup unless static) and waits for exit 0."""
        if self.process.poll() is None:
            try:
                self.send("stop")
            except (BrokenPipeError, OSError):
                pass
        try:
            status = self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"member {self.name} did not close within {timeout_s} s")
        assert status == 0, f"member {self.name} exited {status}: {''.join(self.stderr_tail)}"

    def alive(self):
        return self.process.poll() is None

    def __repr__(self):
        return f"Member({self.name}, assigned={sorted(self.assigned)})"


def stop_all(members):
    for m in members:
        if m.alive():
            try:
                m.stop()
            except AssertionError:
                pass


def wait_stable(members, partitions, timeout_s=60, balanced=False):
    """Waits until the members' current assignments are disjoint, each non-empty,
    and together cover range(partitions): one generation, everyone assigned.
    balanced: also sizes within 1 of each other (an incremental rebalance can pass
    through a disjoint, complete but unbalanced assignment between its rounds)."""
    def stable():
        for m in members:
            assert m.alive(), f"member {m.name} exited: {''.join(m.stderr_tail)}"
        sets = [m.snapshot()["assigned"] for m in members]
        union = set().union(*sets)
        sizes = [len(s) for s in sets]
        return (all(sets) and union == set(range(partitions))
                and sum(sizes) == partitions
                and (not balanced or max(sizes) - min(sizes) <= 1))
    harness.deadline_poll(stable, timeout_s,
                          f"a stable assignment of {partitions} partitions over {members}")
    return [m.snapshot()["assigned"] for m in members]


def committed_offsets(bootstrap, group, topic, partitions, timeout_s=30):
    """{partition: committed offset or -1} through librdkafka's OffsetFetch."""
    consumer = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                                         "enable.auto.commit": False})
    try:
        answer = consumer.committed([confluent_kafka.TopicPartition(topic, p)
                                     for p in range(partitions)], timeout=timeout_s)
        return {tp.partition: tp.offset if tp.offset >= 0 else -1 for tp in answer}
    finally:
        consumer.close()
