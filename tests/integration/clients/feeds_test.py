#!/usr/bin/python3
"""Proves feed ingest (issue 8) end to end: real tidelogd processes built with
DPDK read UDP feeds from DPDK virtual devices into topics that real Kafka
clients (confluent-kafka, kcat) read back.

- MoldUDP64 replay through net_pcap: perf/feedgen writes a pcap of ITCH-like
  messages in two sessions with injected gaps and duplicates and a manifest
  of what it sent; every sent message lands exactly once, in sequence order,
  in its session's partition, with the value, `seq`, `session` and `rx_ns`
  headers and timestamp expected; the gap, duplicate, heartbeat and
  end-of-session counters on /metrics equal what was injected; kcat reads the
  same records.
- A/B arbitration: two pcaps of one feed, each missing different packets (and
  a few lost on both), produce the complete sequence once, in order; the gap
  counter counts only what both lines lost.
- Key partitioning: the stock-locate bytes of each ITCH message are the key,
  hashed with murmur2 as librdkafka's `murmur2_random` partitioner does: a
  confluent-kafka producer with that partitioner puts each key in the same
  partition as the feed did.
- net_af_packet on a veth pair inside a network namespace this test creates:
  UDP multicast sent by feedgen with an ordinary kernel socket from the
  namespace is ingested (raw decoder, destination filter) and consumed; a
  datagram for another port is filtered out and counted. With two RX queues
  (af_packet's fanout hash standing in for RSS) on two shards, 16 flows spread
  over both queues, each flow on one queue and in order.
- Bad feed configs stop start-up with exit status 2 and a message naming the key.
- config/grafana/tidelog-feeds.json is a well-formed dashboard in the
  overview's conventions (dashboards.py) that charts every feed metric. Under
  live A/B load -- feedgen sending MoldUDP64 line A and line B, with gaps on
  each line, gaps on both, duplicates and heartbeats, at a paced rate out of
  two veths of a network namespace into two net_af_packet ports -- a real
  Prometheus scrapes the broker and every panel query and query variable
  returns a finite sample; once the sender is done, Prometheus' totals account
  for every message sent (written + dropped + lost on both lines - filled
  late) and the feed's topic counted what the feed wrote. A paced sender
  rather than a pcap replay: net_pcap reads a file as fast as it is polled,
  so a pcap is over in milliseconds, and an infinite_rx replay repeats
  sequences the sequencer already delivered, so records written (and so
  records per batch and the A/B share) would stay at 0.

Every wait polls with a deadline. FEEDGEN names perf/feedgen's binary.
"""
import contextlib
import ctypes
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

import dashboards
import harness
from feed_consume import read_topic

from confluent_kafka import Producer

FEEDGEN = os.environ.get("FEEDGEN")
HERE = pathlib.Path(__file__).resolve().parent
CONSUME_TIMEOUT_S = 60
# A/B: how long a line may lag before a hole is declared a gap. Generous, so
# that a descheduled shard on a loaded CI machine does not turn late copies
# into gaps; the pcaps are read in lockstep, so no hole waits that long.
HOLD_US = 1_000_000

DASHBOARD = HERE.parents[2] / "config" / "grafana" / "tidelog-feeds.json"
# Template variables as Grafana expands them for "All" and a 1 s scrape.
DASHBOARD_VALUES = {"instance": ".*", "feed": ".*", **dashboards.BUILTIN_VALUES}
# Every query filters every metric on the broker, and feed metrics on the feed.
DASHBOARD_MATCHERS = [(r"tidelog_\w+", 'instance=~"$instance"'),
                      (r"tidelog_feed_\w+", 'feed=~"$feed"')]
# What the dashboard charts: every feed family (docs/architecture.md) and the shards' load.
FEED_METRICS = [f"tidelog_feed_{name}_total" for name in (
    "packets", "bytes", "filtered_packets", "malformed_packets", "dropped_records",
    "short_key_records", "records_written", "batches_written", "append_errors", "gap_messages",
    "gaps", "gap_filled_messages", "duplicate_messages", "out_of_order_packets",
    "stale_messages", "heartbeats", "end_of_session", "hold_timeouts", "hold_overflows",
    "arbitration_wins", "port_missed_packets", "port_no_mbuf")] + [
    "tidelog_reactor_busy_ratio", "tidelog_topic_produced_records_total"]
DASHBOARD_TITLES = [
    "Drops/s: log behind, port missed, no mbuf", "Packets/s in by feed, line and queue",
    "Bits/s in by feed, line and queue", "Records written/s by feed",
    "Batches written/s by feed", "Records per batch by feed",
    "Gaps: messages/s and gaps/s by feed", "Duplicate messages/s by feed",
    "Out-of-order packets/s by feed", "Gap-filled messages/s by feed",
    "Stale messages/s by feed", "Heartbeats/s by feed", "End of session by feed",
    "Arbitration wins/s by line", "Arbitration share by line",
    "Hold timeouts and overflows/s by feed",
    "Filtered, malformed and short-key/s by feed, line and queue", "Shard busy ratio"]
# The live load: packets per second per line, and how many (so, how long it runs:
# long enough for Prometheus to start and every query to be answered under load).
LIVE_RATE = 1000
LIVE_PACKETS = 30_000
# What a scrape can lag behind: a few scrape intervals plus Prometheus' own start.
SCRAPE_WAIT_S = 20.0


def feedgen(*args):
    run = subprocess.run([FEEDGEN, *map(str, args)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"feedgen {args}: {run.returncode}\n{run.stdout}{run.stderr}"
    return run.stdout


def feed_yaml(name, ports, topic, decoder="moldudp64", partitions=1, partitioning="{by: queue}",
              extra=""):
    port_list = ", ".join(json.dumps(p) for p in ports)
    return (f"dpdk:\n  memory_mb: 256\n  mbufs_per_queue: 4095\n  idle_sleep_us: 100\n"
            f"feeds:\n  - name: {name}\n    ports: [{port_list}]\n    decoder: {decoder}\n"
            f"    topic: {topic}\n    partitions: {partitions}\n"
            f"    partitioning: {partitioning}\n{extra}")


def metrics_text(broker):
    status, body = harness.http_get(f"http://127.0.0.1:{broker.admin_port}/metrics")
    assert status == 200, status
    return body


def metric_sum(text, name, **labels):
    """Sum of the series of `name` whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{name}(?:{{(.*)}})? ([-+0-9.eE]+)$", line)
        if not match:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if all(have.get(k) == str(v) for k, v in labels.items()):
            total += float(match.group(2))
    return total


def int_header(record, name):
    return int.from_bytes(bytes.fromhex(record["headers"][name]), "big", signed=True)


def expected_messages(manifest):
    """{session: [(sequence, value hex)]} of what the feed must deliver, in order."""
    out = {}
    for session in manifest["sessions"]:
        values = session["values"]
        assert values["all"], "run feedgen with --manifest-values"
        sequences = [s for lo, hi in session["delivered"]["ranges"] for s in range(lo, hi + 1)]
        out[session["name"]] = [(s, values["hex"][s - values["first_sequence"]])
                                for s in sequences]
    return out


def check_sessions(records, manifest, started_ns):
    """Each session's records: exactly the delivered messages, in order, one partition."""
    want = expected_messages(manifest)
    assert len(records) == sum(len(v) for v in want.values()), \
        f"{len(records)} records, want {sum(len(v) for v in want.values())}"
    by_session, partitions = {}, {}
    now_ns = time.time_ns()
    for r in sorted(records, key=lambda r: (r["partition"], r["offset"])):
        session = bytes.fromhex(r["headers"]["session"]).decode()
        by_session.setdefault(session, []).append((int_header(r, "seq"), r["value"]))
        partitions.setdefault(session, set()).add(r["partition"])
        rx_ns = int_header(r, "rx_ns")
        assert started_ns <= rx_ns <= now_ns, f"rx_ns {rx_ns} outside [{started_ns}, {now_ns}]"
        assert r["timestamp_ms"] == rx_ns // 1_000_000, (r["timestamp_ms"], rx_ns)
    assert sorted(by_session) == sorted(want), (sorted(by_session), sorted(want))
    for session, messages in want.items():
        got = by_session[session]
        if got != messages:
            first = next(i for i, (g, w) in enumerate(zip(got + [None] * len(messages),
                                                           messages)) if g != w)
            raise AssertionError(f"{session}: first difference at #{first}: "
                                 f"got {got[first] if first < len(got) else None}, "
                                 f"want {messages[first]}")
        assert len(partitions[session]) == 1, f"{session} in partitions {partitions[session]}"


def mold_replay(work):
    pcap, manifest_path = work / "itch.pcap", work / "itch.json"
    feedgen("--feed", "moldudp64", "--sessions", 2, "--count", 4000, "--messages-per-packet",
            "1-4", "--gaps", 7, "--duplicates", 9, "--heartbeat-every", 300, "--end-of-session",
            "--pcap", pcap, "--manifest", manifest_path, "--manifest-values", "--seed", 11)
    manifest = json.loads(manifest_path.read_text())
    topic = harness.unique_topic("itch")
    started_ns = time.time_ns()
    config = feed_yaml("itch", [f"net_pcap0,rx_pcap={pcap}"], topic, partitions=2,
                       partitioning="{by: session}")
    with harness.Broker("feed-mold", config_yaml=config) as broker:
        expected = sum(s["delivered"]["messages"] for s in manifest["sessions"])
        records = read_topic(broker.bootstrap, topic, expected, CONSUME_TIMEOUT_S)
        check_sessions(records, manifest, started_ns)

        gaps = [g for s in manifest["sessions"] for g in s["gaps"]["A"]]
        duplicates = [d for s in manifest["sessions"] for d in s["duplicates"]]
        assert gaps and duplicates, "the fixture must inject both"
        want = {
            "tidelog_feed_gap_messages_total": sum(g["messages"] for g in gaps),
            "tidelog_feed_gaps_total": len(gaps),
            "tidelog_feed_duplicate_messages_total": sum(d["messages"] for d in duplicates),
            "tidelog_feed_heartbeats_total": sum(s["heartbeats"] for s in manifest["sessions"]),
            "tidelog_feed_end_of_session_total": len(manifest["sessions"]),
            "tidelog_feed_records_written_total": expected,
            "tidelog_feed_packets_total": manifest["lines"][0]["frames"],
        }

        def counters_match():
            text = metrics_text(broker)
            got = {name: metric_sum(text, name, feed="itch") for name in want}
            return got if got == want else None

        try:
            harness.deadline_poll(counters_match, 10, "feed counters to match the manifest")
        except AssertionError:
            text = metrics_text(broker)
            raise AssertionError({n: (metric_sum(text, n, feed="itch"), v)
                                  for n, v in want.items()})
        assert metric_sum(metrics_text(broker), "tidelog_feed_dropped_records_total") == 0

        # kcat (librdkafka's CLI) reads the same records and headers. The
        # binary seq/rx_ns header values may hold any byte, newlines too:
        # frame each record with a marker that cannot occur in ITCH text.
        out = subprocess.run(["kcat", "-C", "-b", broker.bootstrap, "-t", topic, "-e", "-q",
                              "-f", "<%p:%o>%h</record>"], capture_output=True, timeout=60)
        assert out.returncode == 0, out.stderr
        rows = re.findall(rb"<(\d+):(\d+)>(.*?)</record>", out.stdout, re.S)
        assert len(rows) == expected, f"kcat read {len(rows)} of {expected}"
        offsets = {(int(p), int(o)) for p, o, _ in rows}
        assert offsets == {(r["partition"], r["offset"]) for r in records}
        sessions = {re.search(rb"session=(SESSION\d+)", h).group(1) for _, _, h in rows}
        assert sessions == {s["name"].encode() for s in manifest["sessions"]}, sessions


def ab_arbitration(work):
    a, b, manifest_path = work / "a.pcap", work / "b.pcap", work / "ab.json"
    feedgen("--feed", "moldudp64", "--sessions", 2, "--count", 3000, "--lines", 2,
            "--messages-per-packet", "1-3", "--gaps-a", 9, "--gaps-b", 9, "--common-gaps", 2,
            "--pcap", a, "--pcap-b", b, "--manifest", manifest_path, "--manifest-values",
            "--seed", 5)
    manifest = json.loads(manifest_path.read_text())
    for session in manifest["sessions"]:
        lost_a = {g["first_sequence"] for g in session["gaps"]["A"]}
        lost_b = {g["first_sequence"] for g in session["gaps"]["B"]}
        assert lost_a and lost_b and not lost_a & lost_b, "each line must miss different packets"
    topic = harness.unique_topic("itch-ab")
    started_ns = time.time_ns()
    config = feed_yaml("itch_ab", [f"net_pcap0,rx_pcap={a}", f"net_pcap1,rx_pcap={b}"], topic,
                       partitions=1, extra=f"    arbitration: {{hold_us: {HOLD_US}}}\n")
    with harness.Broker("feed-ab", config_yaml=config) as broker:
        expected = sum(s["delivered"]["messages"] for s in manifest["sessions"])
        records = read_topic(broker.bootstrap, topic, expected, CONSUME_TIMEOUT_S)
        check_sessions(records, manifest, started_ns)
        common = sum(g["messages"] for s in manifest["sessions"] for g in s["common_gaps"])
        assert common > 0

        def gap_counted():
            text = metrics_text(broker)
            return metric_sum(text, "tidelog_feed_gap_messages_total", feed="itch_ab") == common

        harness.deadline_poll(gap_counted, 10, f"gap_messages == {common} (lost on both lines)")
        text = metrics_text(broker)
        for line in ("a", "b"):
            wins = metric_sum(text, "tidelog_feed_arbitration_wins_total", feed="itch_ab",
                              line=line)
            assert wins > 0, f"line {line} never delivered first: {wins}"


def key_partitioning(work):
    pcap, manifest_path = work / "keys.pcap", work / "keys.json"
    feedgen("--feed", "moldudp64", "--sessions", 1, "--count", 1500, "--instruments", 40,
            "--pcap", pcap, "--manifest", manifest_path, "--seed", 3)
    manifest = json.loads(manifest_path.read_text())
    topic = harness.unique_topic("itch-keys")
    config = feed_yaml("itch_keys", [f"net_pcap0,rx_pcap={pcap}"], topic, partitions=4,
                       partitioning="{by: key, key_offset: 1, key_length: 2}")
    with harness.Broker("feed-keys", config_yaml=config) as broker:
        expected = manifest["sessions"][0]["delivered"]["messages"]
        records = read_topic(broker.bootstrap, topic, expected, CONSUME_TIMEOUT_S)
        feed_partition = {}
        for r in records:
            assert r["key"] == r["value"][2:6], f"key {r['key']} is not bytes 1-2 of the value"
            assert feed_partition.setdefault(r["key"], r["partition"]) == r["partition"], \
                f"key {r['key']} in two partitions"
        assert len(set(feed_partition.values())) > 1, "40 keys should spread over 4 partitions"
        want_by_key = manifest["sessions"][0]["delivered_by_key"]
        got_by_key = {}
        for r in records:
            got_by_key[r["key"]] = got_by_key.get(r["key"], 0) + 1
        assert got_by_key == want_by_key

        producer = Producer({"bootstrap.servers": broker.bootstrap,
                             "partitioner": "murmur2_random", "linger.ms": 5})
        placed = {}

        def delivered(error, message):
            assert error is None, error
            placed[message.key().hex()] = message.partition()

        for key in feed_partition:
            producer.produce(topic, key=bytes.fromhex(key), value=b"from kafka",
                             on_delivery=delivered)
        assert producer.flush(30) == 0
        assert placed == feed_partition, {k: (placed.get(k), v) for k, v in feed_partition.items()
                                          if placed.get(k) != v}


def ip(*args, check=True):
    run = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check:
        assert run.returncode == 0, f"ip {' '.join(args)}: {run.stderr}"
    return run


@contextlib.contextmanager
def veth_namespace(lines=1):
    """A network namespace with a veth pair per line: veth1 (198.18.0.2, route to
    239.0.0.0/8) is where line A's multicast leaves, veth0 is DPDK's; with two
    lines, veth3 (198.18.1.2, route to 239.2.0.0/16) is line B's and veth2
    DPDK's. Yields the argv prefix that runs a command inside; deletes the
    namespace (and the pairs)."""
    if os.geteuid() != 0:
        raise harness.SkipCase("needs root to create a network namespace")
    ns = f"tlfeed{os.getpid()}"
    ip("netns", "add", ns)
    try:
        interfaces = ["lo"]
        for line in range(lines):
            dpdk, kernel = f"veth{2 * line}", f"veth{2 * line + 1}"
            ip("-n", ns, "link", "add", dpdk, "type", "veth", "peer", "name", kernel)
            for interface in (dpdk, kernel):
                subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw",
                                f"net.ipv6.conf.{interface}.disable_ipv6=1"], check=True)
            interfaces += [dpdk, kernel]
        for interface in interfaces:
            ip("-n", ns, "link", "set", interface, "up")
        ip("-n", ns, "addr", "add", "198.18.0.2/24", "dev", "veth1")
        ip("-n", ns, "route", "add", "239.0.0.0/8", "dev", "veth1")
        if lines == 2:
            ip("-n", ns, "addr", "add", "198.18.1.2/24", "dev", "veth3")
            ip("-n", ns, "route", "add", "239.2.0.0/16", "dev", "veth3")
        yield ["ip", "netns", "exec", ns]
    finally:
        ip("netns", "del", ns, check=False)


@contextlib.contextmanager
def entered(inside):
    """Moves this thread (and so the processes it starts and the sockets it opens)
    into the namespace `inside` runs commands in, and back: a broker, a Prometheus
    and this test all talk over the namespace's loopback."""
    libc = ctypes.CDLL(None, use_errno=True)
    clone_newnet = 0x40000000

    def join(fd):
        if libc.setns(fd, clone_newnet) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"setns: {os.strerror(error)}")
    with open("/proc/thread-self/ns/net") as home, open(f"/run/netns/{inside[-1]}") as target:
        join(target.fileno())
        try:
            yield
        finally:
            join(home.fileno())


def send_multicast(inside, port, count, *options):
    sent = subprocess.run(inside + [FEEDGEN, "--feed", "raw", "--count", str(count),
                                    "--rate", "20000", "--send", f"239.1.1.1:{port}",
                                    "--interface-address", "198.18.0.2",
                                    *map(str, options)],
                          capture_output=True, text=True, timeout=120)
    assert sent.returncode == 0, sent.stderr


def consume_inside(inside, broker, topic, count):
    consume = subprocess.run(inside + [harness.PYTHON, str(HERE / "feed_consume.py"),
                                       broker.bootstrap, topic, str(count),
                                       str(CONSUME_TIMEOUT_S)],
                             capture_output=True, text=True, timeout=180)
    assert consume.returncode == 0, consume.stderr[-3000:]
    return json.loads(consume.stdout)


def metrics_inside(inside, broker):
    run = subprocess.run(inside + [harness.PYTHON, str(HERE / "feed_consume.py"), "--metrics",
                                   f"http://127.0.0.1:{broker.admin_port}/metrics"],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    return run.stdout


def af_packet_multicast(work):
    with veth_namespace() as inside:
        topic = harness.unique_topic("telemetry")
        config = feed_yaml("telemetry", ["net_af_packet0,iface=veth0"], topic, decoder="raw",
                           extra="    filter: {address: 239.1.1.1, port: 30001}\n")
        count = 5000
        with harness.Broker("feed-afp", config_yaml=config, command_prefix=inside) as broker:
            send_multicast(inside, 30001, count, "--payload-bytes", 64)
            # Another destination port on the same group: not this feed's traffic.
            send_multicast(inside, 30009, 10)
            records = sorted(consume_inside(inside, broker, topic, count),
                             key=lambda r: r["offset"])
            sequences = [int(r["value"][:16], 16) for r in records]
            assert sequences == list(range(1, count + 1)), \
                f"{len(sequences)} records; first wrong at " \
                f"{next((i for i, s in enumerate(sequences) if s != i + 1), None)}"
            assert [int_header(r, "seq") for r in records] == list(range(1, count + 1))
            assert all(len(bytes.fromhex(r["value"])) == 64 for r in records)
            harness.deadline_poll(
                lambda: metric_sum(metrics_inside(inside, broker),
                                   "tidelog_feed_filtered_packets_total", feed="telemetry") >= 10,
                10, "10 datagrams for port 30009 filtered out")


def af_packet_two_queues(work):
    """Two RX queues (af_packet's PACKET_FANOUT hash stands for RSS) polled by
    two shards: flows spread over both, each flow stays on one queue, in order."""
    with veth_namespace() as inside:
        topic = harness.unique_topic("fanout")
        config = feed_yaml("fanout", ["net_af_packet0,iface=veth0,qpairs=2"], topic,
                           decoder="raw", partitions=2,
                           extra="    queues: 2\n    filter: {port: 30001}\n")
        flows, count = 16, 8000
        with harness.Broker("feed-fanout", config_yaml=config, command_prefix=inside) as broker:
            manifest_path = work / "fanout.json"
            send_multicast(inside, 30001, count, "--sessions", flows, "--manifest",
                           manifest_path, "--manifest-values")
            manifest = json.loads(manifest_path.read_text())
            flow_of = {}
            for session in manifest["sessions"]:
                first = session["values"]["first_sequence"]
                for i, value in enumerate(session["values"]["hex"]):
                    flow_of[value] = (session["name"], first + i)
            assert len(flow_of) == count
            records = consume_inside(inside, broker, topic, count)
            by_flow = {}
            for r in sorted(records, key=lambda r: (r["partition"], r["offset"])):
                flow, sequence = flow_of[r["value"]]
                by_flow.setdefault(flow, []).append((r["partition"], sequence))
            assert len(by_flow) == flows
            for flow, got in by_flow.items():
                assert len({p for p, _ in got}) == 1, f"{flow} spread over partitions"
                assert [s for _, s in got] == sorted(s for _, s in got), f"{flow} out of order"
            partitions = {got[0][0] for got in by_flow.values()}
            assert partitions == {0, 1}, f"all flows on queue {partitions}"
            text = metrics_inside(inside, broker)
            for queue in (0, 1):
                assert metric_sum(text, "tidelog_feed_packets_total", feed="fanout",
                                  queue=queue) > 0, f"queue {queue} received nothing"


def feeds_dashboard_is_valid():
    dashboard = dashboards.load(DASHBOARD)
    panel_count, query_count = dashboards.check_valid(dashboard, ["instance", "feed"],
                                                      DASHBOARD_MATCHERS)
    TAP.comment(f"{panel_count} panels, {query_count} queries")
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["feed"]["query"]["query"].startswith(
        "label_values(tidelog_feed_packets_total"), variables["feed"]["query"]
    targets = dashboards.targets(dashboard)
    titles = {title for title, _, _ in targets}
    missing = [t for t in DASHBOARD_TITLES if t not in titles]
    assert not missing, f"no panels {missing}"
    exprs = " ".join(expr for _, _, expr in targets)
    uncharted = [m for m in FEED_METRICS if not re.search(rf"\b{m}\b", exprs)]
    assert not uncharted, f"metrics on no panel: {uncharted}"


class Live:
    """The broker, Prometheus and sender of the dashboard cases."""
    broker = prometheus = sender = manifest_path = topic = None
    feed = "itch_live"


def poll_query(expr, predicate, what, timeout_s=SCRAPE_WAIT_S):
    """Polls an instant query until predicate(rows) holds; returns the rows."""
    last = [None]

    def check():
        last[0] = Live.prometheus.query(expr)
        return predicate(last[0])
    try:
        harness.deadline_poll(check, timeout_s, what, interval_s=0.25)
    except AssertionError as error:
        raise AssertionError(f"{error}; {expr} last gave {last[0]}")
    return last[0]


def start_live_ab(stack, work):
    """Namespace, broker with an A/B feed on two af_packet ports, Prometheus
    scraping it, and feedgen sending both lines at LIVE_RATE packets/s."""
    inside = stack.enter_context(veth_namespace(lines=2))
    stack.enter_context(entered(inside))
    topic = harness.unique_topic("itch-live")
    config = feed_yaml(Live.feed, ["net_af_packet0,iface=veth0", "net_af_packet1,iface=veth2"],
                       topic, partitions=2, partitioning="{by: session}",
                       extra=f"    arbitration: {{hold_us: {HOLD_US}}}\n")
    Live.topic = topic
    Live.broker = stack.enter_context(harness.Broker("feed-dash", config_yaml=config))
    Live.prometheus = stack.enter_context(
        harness.Prometheus([f"127.0.0.1:{Live.broker.admin_port}"], scrape_interval="1s"))
    poll_query(f'up{{instance="127.0.0.1:{Live.broker.admin_port}"}}',
               lambda rows: rows and rows[0][1] == 1, "Prometheus scraping the broker")
    Live.manifest_path = work / "live.json"
    # Line A to 239.1.1.1 (out of veth1), line B to 239.2.2.2 (out of veth3): no
    # --interface-address, so the routes choose each line's veth.
    Live.sender = subprocess.Popen(
        [FEEDGEN, "--feed", "moldudp64", "--sessions", "2", "--lines", "2",
         "--messages-per-packet", "1-3", "--count", str(LIVE_PACKETS), "--rate", str(LIVE_RATE),
         "--gaps-a", "40", "--gaps-b", "40", "--common-gaps", "6", "--duplicates", "30",
         "--heartbeat-every", "500", "--end-of-session", "--send", "239.1.1.1:30001",
         "--destination-b", "239.2.2.2:30002", "--manifest", str(Live.manifest_path),
         "--seed", "13"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stack.callback(stop_sender)


def stop_sender():
    if Live.sender.poll() is None:
        Live.sender.terminate()
    Live.sender.communicate(timeout=30)


def live_load_visible():
    """Records written and both lines winning, as Prometheus' rates see them."""
    feed = Live.feed
    poll_query(f'sum(rate(tidelog_feed_records_written_total{{feed="{feed}"}}[5s])) > 0',
               bool, "records written per second")
    poll_query(f'sum by (line) (rate(tidelog_feed_arbitration_wins_total{{feed="{feed}"}}[5s]))'
               " > 0", lambda rows: {r[0].get("line") for r in rows} == {"a", "b"},
               "arbitration wins on both lines")


def live_totals_account_for_every_message():
    """After the sender: written + dropped + lost on both lines - filled late is
    every message sent; gaps are at least what both lines lost; one end of session
    per session; the topic counted what the feed wrote."""
    out, err = Live.sender.communicate(timeout=LIVE_PACKETS / LIVE_RATE + 90)
    assert Live.sender.returncode == 0, f"feedgen: {Live.sender.returncode}\n{out}{err}"
    TAP.comment(out.strip())
    manifest = json.loads(Live.manifest_path.read_text())
    sessions = manifest["sessions"]
    sent = sum(s["messages"] for s in sessions)
    lost_on_both = sum(g["messages"] for s in sessions for g in s["common_gaps"])
    assert lost_on_both > 0 and all(s["duplicates"] for s in sessions)
    feed = f'feed="{Live.feed}"'

    def total(name):
        return f"sum(tidelog_feed_{name}_total{{{feed}}})"
    accounted = (f"{total('records_written')} + {total('dropped_records')} + "
                 f"{total('gap_messages')} - {total('gap_filled_messages')}")
    poll_query(f"{accounted} == {sent}", bool, f"{sent} messages accounted for")
    poll_query(f"{total('end_of_session')} == {len(sessions)}", bool,
               f"{len(sessions)} ends of session")
    poll_query(f"{total('gap_messages')} >= {lost_on_both}", bool,
               f"gaps >= the {lost_on_both} messages lost on both lines")
    poll_query(f"{total('duplicate_messages')} > 0", bool, "duplicates counted")
    topic = Live.topic
    poll_query(f'sum(tidelog_topic_produced_records_total{{topic="{topic}"}}) == '
               f"{total('records_written')}", bool, "topic records == feed records written")
    for name in ("records_written", "gap_messages", "dropped_records", "hold_timeouts",
                 "duplicate_messages"):
        TAP.comment(f"{name}: {Live.prometheus.value(total(name))}")


def sender_was_running(running):
    assert running, "feedgen finished before the queries were answered: raise LIVE_PACKETS"


def feeds_dashboard_under_load(tap, work):
    """One TAP case per panel query and per query variable, under live A/B load."""
    with contextlib.ExitStack() as stack:
        tap.case("A/B MoldUDP64 multicast from a netns into two af_packet ports, "
                 "scraped by Prometheus", start_live_ab, stack, work)
        if Live.sender is None:
            return  # skipped or failed above
        tap.case("Prometheus sees records written and both lines winning", live_load_visible)
        dashboard = dashboards.load(DASHBOARD)
        targets = dashboards.targets(dashboard)
        exprs = [dashboards.substitute(expr, DASHBOARD_VALUES) for _, _, expr in targets]
        outcome = dashboards.answer_all(Live.prometheus, exprs, SCRAPE_WAIT_S)
        load_on = Live.sender.poll() is None
        for i, (title, ref, _) in enumerate(targets):
            tap.case(f"feeds dashboard: {title} [{ref}] returns data", dashboards.check_outcome,
                     tap, exprs[i], outcome[i])
        for variable in dashboard["templating"]["list"]:
            if variable["type"] == "query":
                tap.case(f"feeds dashboard: variable ${variable['name']} lists values",
                         dashboards.check_variable, tap, Live.prometheus, variable,
                         DASHBOARD_VALUES)
        tap.case("the sender was still sending when every query had answered",
                 sender_was_running, load_on)
        tap.case("after the sender: Prometheus' totals account for every message sent",
                 live_totals_account_for_every_message)
        tap.case("broker stops cleanly on SIGTERM (exit 0)", Live.broker.stop)


def config_errors(work):
    binary = os.environ["TIDELOGD"]
    pcap = work / "present.pcap"
    feedgen("--feed", "raw", "--count", 10, "--pcap", pcap)
    good = feed_yaml("f", [f"net_pcap0,rx_pcap={pcap}"], "t")
    cases = {
        "feeds[0].decoder": good.replace("decoder: moldudp64", "decoder: fix"),
        "feeds[0].arbitration": good + "    arbitration: {hold_us: 100}\n",
        "feeds[0].topic": good.replace("    topic: t\n", ""),
        "feeds[0].partitioning.key_offset": good.replace("{by: queue}", "{by: key}"),
        "feeds[0].ports[0]": good.replace(str(pcap), str(work / "missing.pcap")),
        "dpdk.burst_size": good.replace("  idle_sleep_us: 100\n",
                                        "  idle_sleep_us: 100\n  burst_size: 1000\n"),
    }
    for key, text in cases.items():
        path = work / "bad.yaml"
        path.write_text(text)
        data = work / f"data-{key}"
        run = subprocess.run([binary, "--config", str(path), "--data-dir", str(data),
                              "--kafka-addr", f"127.0.0.1:{harness.free_port()}",
                              "--admin-addr", f"127.0.0.1:{harness.free_port()}",
                              "--smp", "1", "--min-free-bytes", "0"],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 2, f"{key}: exit {run.returncode}\n{run.stderr}"
        assert run.stderr.startswith(key + ":") or f"{key}:" in run.stderr, \
            f"{key} not named: {run.stderr}"


TAP = None


def main():
    global TAP
    tap = TAP = harness.Tap()
    if not FEEDGEN:
        tap.skip("feeds", "FEEDGEN not set (built without DPDK)")
        sys.exit(tap.finish())
    with tempfile.TemporaryDirectory(prefix="tidelog-feeds-") as temp:
        work = pathlib.Path(temp)
        tap.case("MoldUDP64 pcap with gaps and duplicates lands once each, in order, "
                 "with headers and counters", mold_replay, work)
        tap.case("A/B arbitration: two lines missing different packets give the whole sequence",
                 ab_arbitration, work)
        tap.case("key partitioning agrees with librdkafka's murmur2_random", key_partitioning,
                 work)
        tap.case("af_packet on a veth in a netns ingests kernel UDP multicast",
                 af_packet_multicast, work)
        tap.case("two RX queues on two shards: flows spread, each stays on one queue in order",
                 af_packet_two_queues, work)
        tap.case("bad feed config stops start-up naming the key", config_errors, work)
        tap.case("tidelog-feeds.json is a valid dashboard charting every feed metric",
                 feeds_dashboard_is_valid)
        feeds_dashboard_under_load(tap, work)
    sys.exit(tap.finish())


if __name__ == "__main__":
    main()
