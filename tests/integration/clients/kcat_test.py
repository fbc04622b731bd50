#!/usr/bin/python3
"""Proves that kcat 1.7 (librdkafka 2.0) works against tidelogd: -L lists the broker
and topics, -P -K produces keyed records, -C -e -f reads them back formatted, and
-X compression.codec=C writes batches that kcat and kafka-python both decode.

One broker with num_partitions=2; each case uses its own topic.
"""
import re
import sys

import clients
import harness

TOPIC = harness.unique_topic("kcat")
LINES = [f"key{i % 3}:value {i}" for i in range(30)]


def metadata(broker):
    clients.kcat(["-P", "-b", broker.bootstrap, "-t", TOPIC, "-K", ":", "-X", "acks=all"],
                 stdin="".join(line + "\n" for line in LINES))
    out = clients.kcat(["-L", "-b", broker.bootstrap])
    assert re.search(rf"broker 0 at 127\.0\.0\.1:{broker.port}", out), out
    match = re.search(rf'topic "{re.escape(TOPIC)}" with (\d+) partitions', out)
    assert match and match.group(1) == "2", out
    for p in range(2):
        assert re.search(rf"partition {p}, leader 0, replicas: 0, isrs: 0", out), out


def consume_format(broker):
    out = clients.kcat(["-C", "-b", broker.bootstrap, "-t", TOPIC, "-e", "-q",
                        "-f", "%t|%p|%o|%k|%s|%S\\n"])
    rows = [line.split("|") for line in out.splitlines()]
    assert len(rows) == len(LINES), out
    seen = {}
    for topic, partition, offset, key, value, size in rows:
        assert topic == TOPIC and int(size) == len(value)
        seen.setdefault(int(partition), []).append((int(offset), key, value))
    sent = {}
    for line in LINES:
        key, value = line.split(":", 1)
        sent.setdefault(key, []).append(value)
    # librdkafka's default partitioner hashes the key: one key, one partition, in order.
    got_by_key = {}
    for partition, rows_in_partition in seen.items():
        offsets = [o for o, _, _ in rows_in_partition]
        assert offsets == list(range(len(offsets))), f"partition {partition}: offsets {offsets}"
        for _, key, value in rows_in_partition:
            got_by_key.setdefault(key, set()).add(partition)
            assert value == sent[key][0], f"key {key}: got {value}, want {sent[key][0]}"
            sent[key].pop(0)
    assert all(len(parts) == 1 for parts in got_by_key.values()), got_by_key


def codec(broker, name):
    topic = harness.unique_topic(f"kcat-{name}")
    values = [f"{name} record {i} " + "z" * 200 for i in range(50)]
    clients.kcat(["-P", "-b", broker.bootstrap, "-t", topic, "-p", "0", "-K", ":",
                  "-X", f"compression.codec={name}", "-X", "acks=all", "-X", "linger.ms=50"],
                 stdin="".join(f"k{i}:{v}\n" for i, v in enumerate(values)))
    want = [clients.record(0, i, f"k{i}", v, []) for i, v in enumerate(values)]
    got = clients.kcat_consume(broker.bootstrap, topic, len(values))
    assert [r for r in got if r[0] == 0] == want, f"kcat read back {got[:2]}..."
    got = [r for r in clients.kp_consume(broker.bootstrap, topic, len(values)) if r[0] == 0]
    assert got == want, f"kafka-python read back {got[:2]}..."


def main():
    cases = [
        ("kcat -P -K produces keyed records; -L lists the broker, topic and 2 partitions",
         metadata),
        ("kcat -C -e -f reads every record, per-key order kept", consume_format),
    ]
    for name in clients.CODECS:
        cases.append((f"kcat -X compression.codec={name}: kcat and kafka-python read it back",
                      lambda b, n=name: codec(b, n)))
    harness.run_cases(cases, {"num_partitions": 2})


if __name__ == "__main__":
    sys.exit(main())
