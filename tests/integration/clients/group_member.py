#!/usr/bin/python3
"""One librdkafka (confluent-kafka) group member, run as a child process by the
group tests so that it can be killed with SIGKILL.

Usage: group_member.py '{"bootstrap": ..., "topic": ..., "group": ..., ...}'
Settings: strategy (partition.assignment.strategy, default range), instance_id
(group.instance.id), session_timeout_ms, commit_every (commit after this many
records, and whenever a poll comes back empty), pause_after (stop consuming after
this many records until "go" arrives on stdin), plus "stop" on stdin: close the
consumer (LeaveGroup, unless static) and exit 0.

Prints one JSON object per line on stdout, flushed:
  {"ev": "ready"}                         the consumer subscribed
  {"ev": "assign", "p": [partitions]}     on_assign (incremental with cooperative)
  {"ev": "revoke", "p": [partitions]}     on_revoke, after committing what was consumed
  {"ev": "lost", "p": [partitions]}
  {"ev": "recs", "r": [[partition, offset], ...]}   records, in delivery order
  {"ev": "commit", "o": {partition: next offset}}   a synchronous commit that succeeded
  {"ev": "error", "what": ..., "code": N, "text": ...}
  {"ev": "paused", "n": records so far}
  {"ev": "closed"}
A record is printed before its offset is committed: what a killed member printed
is what it delivered; what it committed is at most that.
"""
import json
import sys
import threading

import confluent_kafka
from confluent_kafka import TopicPartition

settings = json.loads(sys.argv[1])
out_lock = threading.Lock()


def emit(**event):
    with out_lock:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()


commands = []
command_ready = threading.Condition()


def read_commands():
    for line in sys.stdin:
        with command_ready:
            commands.append(line.strip())
            command_ready.notify_all()
    with command_ready:
        commands.append("stop")  # the parent went away
        command_ready.notify_all()


def take_command(wait_s):
    with command_ready:
        if not commands:
            command_ready.wait(wait_s)
        return commands.pop(0) if commands else None


topic = settings["topic"]
conf = {
    "bootstrap.servers": settings["bootstrap"],
    "group.id": settings["group"],
    "client.id": settings.get("client_id", "tidelog-group-member"),
    "enable.auto.commit": False,
    "enable.auto.offset.store": False,
    "auto.offset.reset": "earliest",
    "session.timeout.ms": settings.get("session_timeout_ms", 6000),
    "heartbeat.interval.ms": settings.get("heartbeat_interval_ms", 500),
    "partition.assignment.strategy": settings.get("strategy", "range"),
    "topic.metadata.refresh.interval.ms": 1000,
    "socket.timeout.ms": 30000,
}
if settings.get("instance_id"):
    conf["group.instance.id"] = settings["instance_id"]
consumer = confluent_kafka.Consumer(conf)
positions = {}  # partition -> next offset to commit (one past the last delivered)
committed = {}
uncommitted = 0


def commit(partitions):
    global uncommitted
    offsets = [TopicPartition(topic, p, positions[p]) for p in partitions
               if p in positions and committed.get(p) != positions[p]]
    if not offsets:
        return
    try:
        consumer.commit(offsets=offsets, asynchronous=False)
    except confluent_kafka.KafkaException as error:
        err = error.args[0]
        emit(ev="error", what="commit", code=err.code(), text=err.str())
        return
    for tp in offsets:
        committed[tp.partition] = tp.offset
    uncommitted = 0
    emit(ev="commit", o={str(tp.partition): tp.offset for tp in offsets})


def on_assign(_, partitions):
    emit(ev="assign", p=sorted(tp.partition for tp in partitions))


def on_revoke(_, partitions):
    revoked = sorted(tp.partition for tp in partitions)
    commit(revoked)
    for p in revoked:
        positions.pop(p, None)
        committed.pop(p, None)
    emit(ev="revoke", p=revoked)


def on_lost(_, partitions):
    lost = sorted(tp.partition for tp in partitions)
    for p in lost:
        positions.pop(p, None)
        committed.pop(p, None)
    emit(ev="lost", p=lost)


threading.Thread(target=read_commands, daemon=True).start()
consumer.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
emit(ev="ready")
commit_every = settings.get("commit_every", 1000)
pause_after = settings.get("pause_after")
delivered = 0
paused_once = False
while True:
    command = take_command(0)
    if command == "stop":
        break
    if pause_after is not None and not paused_once and delivered >= pause_after:
        paused_once = True
        emit(ev="paused", n=delivered)
        while (command := take_command(1.0)) not in ("go", "stop"):
            pass
        if command == "stop":
            break
    messages = consumer.consume(num_messages=500, timeout=0.2)
    batch = []
    for m in messages:
        if m.error() is not None:
            if m.error().code() != confluent_kafka.KafkaError._PARTITION_EOF:
                emit(ev="error", what="consume", code=m.error().code(), text=m.error().str())
            continue
        batch.append([m.partition(), m.offset()])
        positions[m.partition()] = m.offset() + 1
    if batch:
        delivered += len(batch)
        uncommitted += len(batch)
        emit(ev="recs", r=batch)
    if uncommitted >= commit_every or (not batch and uncommitted > 0):
        commit(sorted(positions))
consumer.close()
emit(ev="closed")
