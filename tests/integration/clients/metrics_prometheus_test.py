#!/usr/bin/python3
"""The metrics of issue 7 as a real Prometheus sees them, and the shipped Prometheus
config and Grafana dashboard against a real broker.

Proves: config/prometheus/prometheus.yml passes `promtool check config`;
config/grafana/tidelog-overview.json is a well-formed dashboard; a scrape of
tidelogd's /metrics passes `promtool check metrics` and has every metric issue 7
names, with its labels; through Prometheus' HTTP API, the produced and fetched
byte and record counters grow by at least what the clients sent and read, the
request latency histogram has Produce and Fetch samples (+Inf bucket equal to the
count), a consumer group's lag and committed offsets equal what it left unread
per partition; and every query of every dashboard panel (template variables
substituted) parses and returns at least one finite sample while the broker is
under load, as does every template variable's label query.

How: one tidelogd (harness.Broker, admin port on a free loopback port) and one
real Prometheus (harness.Prometheus: /usr/bin/prometheus, storage in a temporary
directory, scraping the broker every second). confluent-kafka produces and
consumes; a consumer group reads part of a topic, commits and leaves. Errors are
provoked on purpose (a fetch past the end, a CreateTopics of an existing topic)
so that the error counters have series. A background producer and a consumer
group keep the broker busy while the dashboard's queries run. Every wait polls
with a deadline; a value Prometheus has not scraped yet is polled for, never
slept for.
"""
import math
import re
import subprocess
import sys
import threading
import time

import confluent_kafka
import confluent_kafka.admin

import clients
import dashboards
import groups
import harness

ROOT = harness.HERE.parents[2]
DASHBOARD = ROOT / "config" / "grafana" / "tidelog-overview.json"
PROMETHEUS_CONFIG = ROOT / "config" / "prometheus" / "prometheus.yml"

SCRAPE_INTERVAL = "1s"
# What a scrape can lag behind: a few scrape intervals plus Prometheus' own start.
SCRAPE_WAIT_S = 15.0
# Template variables as Grafana would expand them for "All" and a 1 s scrape.
TEMPLATE_VALUES = {"instance": ".*", "topic": ".*", "group": ".*", **dashboards.BUILTIN_VALUES}

# Issue 7's metric names: {name: (type, label keys every sample carries)}.
EXPECTED_METRICS = {
    "tidelog_build_info": ("gauge", {"version", "compiler"}),
    "tidelog_uptime_seconds": ("gauge", set()),
    "tidelog_ready": ("gauge", set()),
    "tidelog_kafka_requests_total": ("counter", {"api"}),
    "tidelog_kafka_request_errors_total": ("counter", {"api", "error"}),
    "tidelog_kafka_request_latency_seconds": ("histogram", {"api"}),
    "tidelog_kafka_connections": ("gauge", {"shard"}),
    "tidelog_kafka_connections_accepted_total": ("counter", {"shard"}),
    "tidelog_topic_produced_bytes_total": ("counter", {"topic"}),
    "tidelog_topic_produced_records_total": ("counter", {"topic"}),
    "tidelog_topic_fetched_bytes_total": ("counter", {"topic"}),
    "tidelog_topic_fetched_records_total": ("counter", {"topic"}),
    "tidelog_partition_log_start_offset": ("gauge", {"topic", "partition"}),
    "tidelog_partition_high_watermark": ("gauge", {"topic", "partition"}),
    "tidelog_partition_log_end_offset": ("gauge", {"topic", "partition"}),
    "tidelog_partition_size_bytes": ("gauge", {"topic", "partition"}),
    "tidelog_storage_flush_latency_seconds": ("histogram", {"shard"}),
    "tidelog_storage_fdatasyncs_total": ("counter", {"shard"}),
    "tidelog_storage_segments": ("gauge", {"shard"}),
    "tidelog_storage_segments_deleted_total": ("counter", {"shard"}),
    "tidelog_storage_retention_bytes_deleted_total": ("counter", {"shard"}),
    "tidelog_storage_producer_duplicates_total": ("counter", {"shard"}),
    "tidelog_reactor_busy_ratio": ("gauge", {"shard"}),
    "tidelog_reactor_stalls_total": ("counter", {"shard"}),
    "tidelog_reactor_cross_shard_queue_depth": ("gauge", {"shard"}),
    "tidelog_reactor_backpressure_events_total": ("counter", {"shard"}),
    "tidelog_memory_cache_bytes": ("gauge", {"shard"}),
    "tidelog_memory_connection_bytes": ("gauge", {"shard"}),
    "tidelog_disk_free_bytes": ("gauge", set()),
    "tidelog_disk_total_bytes": ("gauge", set()),
    "tidelog_disk_full": ("gauge", set()),
    "tidelog_consumer_group_lag": ("gauge", {"group", "topic", "partition"}),
    "tidelog_consumer_group_committed_offset": ("gauge", {"group", "topic", "partition"}),
}

PRODUCE_TOPIC = harness.unique_topic("metrics-produce")
PRODUCE_PARTITIONS = 3
PRODUCE_RECORDS = 600
LAG_TOPIC = harness.unique_topic("metrics-lag")
LAG_GROUP = harness.unique_topic("metrics-lag-group")
LAG_PARTITIONS = 2
LAG_PER_PARTITION = 150
LAG_CONSUMED = 200
LOAD_TOPIC = harness.unique_topic("metrics-load")
LOAD_GROUP = harness.unique_topic("metrics-load-group")


def escape(text):
    """A PromQL string literal's content."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


class State:
    """What the cases found out and pass on to later ones."""
    produced_payload_bytes = 0
    produced_bytes_before = 0.0
    fetched_bytes_before = 0.0
    lag_committed = {}  # partition -> committed offset
    scrape = ""
    tap = None
    prometheus = None
    scraping = False  # Prometheus scrapes the broker: queries can find its metrics


# ---- static checks: the shipped files ---------------------------------------

def prometheus_config_is_valid(_broker=None):
    result = subprocess.run([harness.PROMTOOL, "check", "config", str(PROMETHEUS_CONFIG)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"promtool check config:\n{result.stdout}\n{result.stderr}"
    text = PROMETHEUS_CONFIG.read_text()
    assert re.search(r"^\s*-\s*job_name:\s*tidelog\s*$", text, re.M), "no job_name: tidelog"
    intervals = re.findall(r"^\s*scrape_interval:\s*(\d+)s\s*$", text, re.M)
    assert intervals and all(1 <= int(s) <= 15 for s in intervals), \
        f"scrape_interval should be 1s-15s, found {intervals}"


def dashboard_is_valid(_broker=None):
    dashboard = dashboards.load(DASHBOARD)
    # Every series a panel draws is one broker's or an aggregate of the selected
    # ones: every metric in every query filters on the instance variable.
    panel_count, query_count = dashboards.check_valid(
        dashboard, ["instance"], [(r"tidelog_\w+", 'instance=~"$instance"')])
    State.tap.comment(f"{panel_count} panels, {query_count} queries")
    titles = {t for t, _, _ in dashboards.targets(dashboard)}
    for title in ["Produced bytes/s by topic", "Produced records/s by topic",
                  "Fetched bytes/s by topic", "Fetched records/s by topic",
                  "Request rate by API", "Error rate by API and error",
                  "Request latency p50 by API", "Request latency p99 by API",
                  "Request latency p99.9 by API", "Consumer lag by group and topic",
                  "Disk free and total", "Shard busy ratio", "Flush latency p99 by shard",
                  "fdatasyncs/s by shard", "Connections by shard", "Memory by shard",
                  "Partition offsets"]:
        assert title in titles, f"no panel {title!r}"


def substitute(expr):
    """The query as Grafana sends it with every template variable at "All"."""
    return dashboards.substitute(expr, TEMPLATE_VALUES)


# ---- broker-side load ---------------------------------------------------------

def produce_measured(broker):
    """Produces PRODUCE_RECORDS records of known size; remembers the payload bytes."""
    prom = State.prometheus
    groups.create_topic(broker.bootstrap, PRODUCE_TOPIC, PRODUCE_PARTITIONS)
    topic = escape(PRODUCE_TOPIC)
    State.produced_bytes_before = prom.value(
        f'sum(tidelog_topic_produced_bytes_total{{topic="{topic}"}})') or 0.0
    State.fetched_bytes_before = prom.value(
        f'sum(tidelog_topic_fetched_bytes_total{{topic="{topic}"}})') or 0.0
    records = [(f"key-{i}", f"value-{i}-" + "p" * (100 + i % 400), None, i % PRODUCE_PARTITIONS)
               for i in range(PRODUCE_RECORDS)]
    clients.rdk_produce(broker.bootstrap, PRODUCE_TOPIC, records)
    State.produced_payload_bytes = sum(len(k) + len(v) for k, v, _, _ in records)


def consume_measured(broker):
    """Reads every produced record back (assigned partitions, no group)."""
    consumer = clients.rdk_consumer(broker.bootstrap)
    try:
        consumer.assign([confluent_kafka.TopicPartition(PRODUCE_TOPIC, p, 0)
                         for p in range(PRODUCE_PARTITIONS)])
        read = 0
        deadline = time.monotonic() + 30
        while read < PRODUCE_RECORDS and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=500, timeout=0.2):
                assert msg.error() is None, msg.error()
                read += 1
        assert read == PRODUCE_RECORDS, f"read {read} of {PRODUCE_RECORDS}"
    finally:
        consumer.close()


def provoke_errors(broker):
    """A fetch past the end of a partition (OFFSET_OUT_OF_RANGE) and a CreateTopics of
    a topic that exists (TOPIC_ALREADY_EXISTS): the error counters get series."""
    admin = confluent_kafka.admin.AdminClient(clients.rdk_conf(broker.bootstrap))
    future = admin.create_topics([confluent_kafka.admin.NewTopic(PRODUCE_TOPIC, 1, 1)],
                                 operation_timeout=30)[PRODUCE_TOPIC]
    try:
        future.result(30)
        raise AssertionError("CreateTopics of an existing topic succeeded")
    except confluent_kafka.KafkaException as error:
        code = error.args[0].code()
        assert code == confluent_kafka.KafkaError.TOPIC_ALREADY_EXISTS, error
    consumer = clients.rdk_consumer(broker.bootstrap, auto_offset_reset="error")
    try:
        consumer.assign([confluent_kafka.TopicPartition(PRODUCE_TOPIC, 0, 10**9)])

        def out_of_range_reported():
            msg = consumer.poll(0.1)
            return msg is not None and msg.error() is not None and \
                msg.error().code() == confluent_kafka.KafkaError._AUTO_OFFSET_RESET
        harness.deadline_poll(out_of_range_reported, 20, "OFFSET_OUT_OF_RANGE reported to the consumer")
    finally:
        consumer.close()


def group_leaves_lag(broker):
    """A group member reads LAG_CONSUMED of the topic's records, commits and leaves."""
    groups.create_topic(broker.bootstrap, LAG_TOPIC, LAG_PARTITIONS)
    records = [(f"k{i}", f"v{i}", None, i % LAG_PARTITIONS)
               for i in range(LAG_PARTITIONS * LAG_PER_PARTITION)]
    clients.rdk_produce(broker.bootstrap, LAG_TOPIC, records)
    consumer = confluent_kafka.Consumer(clients.rdk_conf(
        broker.bootstrap, group_id=LAG_GROUP, auto_offset_reset="earliest",
        enable_auto_commit=False, session_timeout_ms=6000, heartbeat_interval_ms=500))
    try:
        consumer.subscribe([LAG_TOPIC])
        read = 0
        deadline = time.monotonic() + 30
        while read < LAG_CONSUMED and time.monotonic() < deadline:
            msg = consumer.poll(0.1)
            if msg is not None:
                assert msg.error() is None, msg.error()
                read += 1
        assert read == LAG_CONSUMED, f"read {read} of {LAG_CONSUMED}"
        consumer.commit(asynchronous=False)
        committed = consumer.committed(
            [confluent_kafka.TopicPartition(LAG_TOPIC, p) for p in range(LAG_PARTITIONS)], timeout=10)
        State.lag_committed = {tp.partition: tp.offset for tp in committed if tp.offset >= 0}
        assert sum(State.lag_committed.values()) == LAG_CONSUMED, State.lag_committed
    finally:
        consumer.close()


class BackgroundLoad:
    """A producer and a consumer group (auto commit) on LOAD_TOPIC until stop()."""

    def __init__(self, broker):
        self.broker = broker
        self.stopping = threading.Event()
        self.failures = []
        self.produced = 0
        self.consumed = 0
        self.threads = [threading.Thread(target=self._guard, args=(f,), daemon=True)
                        for f in (self._produce, self._consume)]

    def start(self):
        groups.create_topic(self.broker.bootstrap, LOAD_TOPIC, 2)
        for thread in self.threads:
            thread.start()
        return self

    def _guard(self, function):
        try:
            function()
        except Exception as error:  # reported by stop()
            self.failures.append(repr(error))

    def _produce(self):
        producer = confluent_kafka.Producer(clients.rdk_conf(self.broker.bootstrap, linger_ms=5))
        # About 2,500 records/s: load enough for every rate, little enough for 2 cores.
        while not self.stopping.wait(0.02):
            for i in range(50):
                producer.produce(LOAD_TOPIC, key=f"k{i}", value="x" * 200)
            self.produced += 50
            producer.poll(0)
        assert producer.flush(30) == 0, "background producer could not flush"

    def _consume(self):
        consumer = confluent_kafka.Consumer(clients.rdk_conf(
            self.broker.bootstrap, group_id=LOAD_GROUP, auto_offset_reset="earliest",
            enable_auto_commit=True, auto_commit_interval_ms=500, session_timeout_ms=6000,
            heartbeat_interval_ms=500))
        try:
            consumer.subscribe([LOAD_TOPIC])
            while not self.stopping.is_set():
                for msg in consumer.consume(num_messages=1000, timeout=0.1):
                    if msg.error() is None:
                        self.consumed += 1
        finally:
            consumer.close()

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            if thread.ident is not None:  # started
                thread.join(60)
        assert not self.failures, f"background load failed: {self.failures}"


# ---- the broker's scrape --------------------------------------------------------

def scrape(broker):
    status, body = harness.http_get(f"http://127.0.0.1:{broker.admin_port}/metrics")
    assert status == 200, f"/metrics answered {status}: {body[:500]}"
    return body


def scrape_passes_promtool(broker):
    State.scrape = scrape(broker)
    result = subprocess.run([harness.PROMTOOL, "check", "metrics"], input=State.scrape,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, \
        f"promtool check metrics ({result.returncode}):\n{result.stdout}{result.stderr}"


def parse_scrape(text):
    """({name: type}, [(sample name, labels dict)])."""
    types, samples = {}, []
    sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+\S+')
    label = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(None, 3)
            types[name] = kind.strip()
        elif line and not line.startswith("#"):
            match = sample.match(line)
            assert match, f"unparsable sample line: {line!r}"
            samples.append((match.group(1), dict(label.findall(match.group(3) or ""))))
    return types, samples


def issue_metric_problems(text):
    """What the scrape lacks of EXPECTED_METRICS: [] when it has everything."""
    types, samples = parse_scrape(text)
    problems = []
    for name, (kind, labels) in EXPECTED_METRICS.items():
        if types.get(name) != kind:
            problems.append(f"{name}: TYPE {types.get(name)}, expected {kind}")
        names = {name + s for s in ("_bucket", "_sum", "_count")} if kind == "histogram" else {name}
        found = [l for n, l in samples if n in names]
        if not found:
            problems.append(f"{name}: no samples")
            continue
        missing = {k for l in found for k in labels - set(l)}
        if missing:
            problems.append(f"{name}: samples without label(s) {sorted(missing)}")
    return problems


def scrape_has_issue_metrics(broker):
    """Polled: series such as a group's lag are published a moment after the commit."""
    problems = [None]

    def complete():
        problems[0] = issue_metric_problems(scrape(broker))
        return not problems[0]
    try:
        harness.deadline_poll(complete, SCRAPE_WAIT_S, "every metric of issue 7", interval_s=0.25)
    except AssertionError as error:
        raise AssertionError(f"{error}:\n" + "\n".join(problems[0]))


# ---- through Prometheus -------------------------------------------------------------

def poll_value(expr, predicate, what, timeout_s=SCRAPE_WAIT_S):
    """Polls an instant query until predicate(rows) holds; returns the rows."""
    if not State.scraping:
        raise AssertionError("Prometheus does not scrape the broker (see the `up` case)")
    last = [None]

    def check():
        last[0] = State.prometheus.query(expr)
        return predicate(last[0])
    try:
        harness.deadline_poll(check, timeout_s, what, interval_s=0.25)
    except AssertionError as error:
        raise AssertionError(f"{error}; {expr} last gave {last[0]}")
    return last[0]


def target_is_up(broker):
    State.scraping = True
    try:
        poll_value(f'up{{job="tidelog", instance="127.0.0.1:{broker.admin_port}"}}',
                   lambda rows: rows and rows[0][1] == 1, "Prometheus scraping the broker")
    except AssertionError:
        State.scraping = False
        targets = State.prometheus.api("targets")["activeTargets"]
        raise AssertionError(f"target not up: {[t.get('lastError') for t in targets]}")


def produced_bytes_counted(_broker):
    topic = escape(PRODUCE_TOPIC)
    want = State.produced_bytes_before + State.produced_payload_bytes
    rows = poll_value(f'sum(tidelog_topic_produced_bytes_total{{topic="{topic}"}})',
                      lambda rows: rows and rows[0][1] >= want,
                      f"produced bytes >= {State.produced_payload_bytes} payload bytes")
    State.tap.comment(f"produced bytes {rows[0][1]:.0f} for "
                        f"{State.produced_payload_bytes} payload bytes")
    poll_value(f'sum(tidelog_topic_produced_records_total{{topic="{topic}"}})',
               lambda rows: rows and rows[0][1] >= PRODUCE_RECORDS,
               f"produced records >= {PRODUCE_RECORDS}")


def fetched_bytes_counted(_broker):
    topic = escape(PRODUCE_TOPIC)
    want = State.fetched_bytes_before + State.produced_payload_bytes
    poll_value(f'sum(tidelog_topic_fetched_bytes_total{{topic="{topic}"}})',
               lambda rows: rows and rows[0][1] >= want,
               f"fetched bytes >= {State.produced_payload_bytes} payload bytes")
    poll_value(f'sum(tidelog_topic_fetched_records_total{{topic="{topic}"}})',
               lambda rows: rows and rows[0][1] >= PRODUCE_RECORDS,
               f"fetched records >= {PRODUCE_RECORDS}")


def latency_histogram_has_produce_and_fetch(_broker):
    def both(rows):
        apis = {r[0].get("api", "").lower(): r[1] for r in rows}
        return apis.get("produce", 0) > 0 and apis.get("fetch", 0) > 0
    rows = poll_value('sum by (api) (tidelog_kafka_request_latency_seconds_count'
                      '{api=~"(?i)produce|fetch"})', both, "latency samples for Produce and Fetch")
    State.tap.comment("latency samples: " + ", ".join(
        f"{r[0]['api']} {r[1]:.0f}" for r in rows))
    # The +Inf bucket is the count (one scrape holds both), and the buckets rise with le.
    mismatched = State.prometheus.query(
        'sum by (instance, api) (tidelog_kafka_request_latency_seconds_bucket{le="+Inf"}) != '
        'sum by (instance, api) (tidelog_kafka_request_latency_seconds_count)')
    assert not mismatched, f"+Inf bucket differs from _count: {mismatched}"
    p99 = State.prometheus.query('histogram_quantile(0.99, sum by (api, le) '
                                 '(tidelog_kafka_request_latency_seconds_bucket{api=~"(?i)produce"}))')
    assert p99 and all(math.isfinite(v) and v >= 0 for _, v in p99), f"produce p99: {p99}"


def consumer_lag_equals_unread(_broker):
    group, topic = escape(LAG_GROUP), escape(LAG_TOPIC)
    unread = LAG_PARTITIONS * LAG_PER_PARTITION - LAG_CONSUMED
    want = {str(p): LAG_PER_PARTITION - c for p, c in State.lag_committed.items()}

    def matches(rows):
        return {r[0].get("partition"): r[1] for r in rows} == want
    poll_value(f'tidelog_consumer_group_lag{{group="{group}", topic="{topic}"}}', matches,
               f"lag per partition {want}")
    total = State.prometheus.value(f'sum(tidelog_consumer_group_lag{{group="{group}"}})')
    assert total == unread, f"group lag {total}, {unread} records unread"
    committed = {str(p): c for p, c in State.lag_committed.items()}
    poll_value(f'tidelog_consumer_group_committed_offset{{group="{group}", topic="{topic}"}}',
               lambda rows: {r[0].get("partition"): r[1] for r in rows} == committed,
               f"committed offsets {committed}")


def request_errors_counted(_broker):
    rows = poll_value('tidelog_kafka_request_errors_total{api=~"(?i)fetch", '
                      'error=~"(?i)offset_out_of_range"}',
                      lambda rows: rows and sum(v for _, v in rows) >= 1,
                      "a Fetch OFFSET_OUT_OF_RANGE error counted")
    State.tap.comment("errors: " + ", ".join(
        f"{l.get('api')}/{l.get('error')} {v:.0f}"
        for l, v in State.prometheus.query("tidelog_kafka_request_errors_total")))
    assert rows


def load_visible(_broker):
    """The background load shows in rates and in the background group's commits."""
    poll_value(f'sum(rate(tidelog_topic_produced_records_total{{topic="{escape(LOAD_TOPIC)}"}}[5s])) > 0',
               lambda rows: bool(rows), "the background load's produce rate", timeout_s=30)
    poll_value(f'sum(tidelog_consumer_group_committed_offset{{group="{escape(LOAD_GROUP)}"}}) > 0',
               lambda rows: bool(rows), "the background group's commits", timeout_s=30)


def dashboard_queries_return_data(tap, broker):
    """One TAP case per panel query and per template variable, run under load."""
    dashboard = dashboards.load(DASHBOARD)
    targets = dashboards.targets(dashboard)
    load = BackgroundLoad(broker)
    tap.case("a background producer and consumer group start", load.start)
    try:
        tap.case("Prometheus sees the background load", load_visible, broker)
        exprs = [substitute(expr) for _, _, expr in targets]
        outcome = dashboards.answer_all(State.prometheus, exprs,
                                        SCRAPE_WAIT_S if State.scraping else 0)
        for i, (title, ref, _) in enumerate(targets):
            tap.case(f"dashboard: {title} [{ref}] returns data", dashboards.check_outcome,
                     tap, exprs[i], outcome[i])
        for variable in dashboard["templating"]["list"]:
            if variable["type"] == "query":
                tap.case(f"dashboard: variable ${variable['name']} lists values",
                         dashboards.check_variable, tap, State.prometheus, variable,
                         TEMPLATE_VALUES)
    finally:
        tap.case("the background load ran without errors", load.stop)
        tap.comment(f"background load: {load.produced} produced, {load.consumed} consumed")


def main():
    tap = State.tap = harness.Tap()
    tap.case("prometheus.yml passes promtool check config (job tidelog, 1-15 s)",
             prometheus_config_is_valid)
    tap.case("tidelog-overview.json is a valid dashboard", dashboard_is_valid)
    broker = harness.Broker("metrics", **groups.group_broker_settings())
    try:
        try:
            broker.start()
            State.prometheus = harness.Prometheus(
                [f"127.0.0.1:{broker.admin_port}"], scrape_interval=SCRAPE_INTERVAL).start()
        except Exception as error:
            tap.case("broker and Prometheus start", harness._raise, str(error))
            sys.exit(tap.finish())
        cases = [
            ("Prometheus scrapes the broker (up == 1)", target_is_up),
            ("confluent-kafka produces 600 records", produce_measured),
            ("confluent-kafka reads them back", consume_measured),
            ("a fetch out of range and a duplicate CreateTopics are refused", provoke_errors),
            ("a group reads 200 of 300 records, commits and leaves", group_leaves_lag),
            ("a scrape passes promtool check metrics", scrape_passes_promtool),
            ("the scrape has every metric of issue 7 with its labels", scrape_has_issue_metrics),
            ("produced bytes and records grow by at least what was produced",
             produced_bytes_counted),
            ("fetched bytes and records grow by at least what was read", fetched_bytes_counted),
            ("request latency histogram has Produce and Fetch samples",
             latency_histogram_has_produce_and_fetch),
            ("Fetch OFFSET_OUT_OF_RANGE is counted as a request error", request_errors_counted),
            ("consumer lag and committed offsets equal what the group left unread",
             consumer_lag_equals_unread),
        ]
        for name, function in cases:
            tap.case(name, function, broker)
        dashboard_queries_return_data(tap, broker)
        tap.case("broker stops cleanly on SIGTERM (exit 0)", broker.stop)
    finally:
        if State.prometheus is not None:
            State.prometheus.close()
        broker.close()
    sys.exit(tap.finish())


if __name__ == "__main__":
    main()
