#!/usr/bin/python3
"""Proves the admin HTTP endpoint of a real tidelogd (issue #7 part A).

One tidelogd (2 shards) with its admin listener on a free loopback port:
/healthz answers 200 and /ready becomes 200 (polled with a deadline); /v1/status
parses as JSON with node_id, version, shards, partitions, uptime_seconds and
disk; a librdkafka producer's records move the topic's produced record counter
by exactly the records sent, the produced bytes equal the partition's size and
its offset gauges follow, and a consumer's fetches count at least every record; ApiVersions requests sent raw on one socket
move tidelog_kafka_requests_total{api="api_versions"} by exactly their number;
a DeleteTopics for a missing topic counts one unknown_topic_or_partition error;
a consumer group's commits show as its committed offset and lag per partition;
every metric name the dashboards use is present; and `promtool check metrics`
accepts the whole exposition (skipped only when promtool is not installed).
"""
import json
import re
import shutil
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request

import clients
import harness

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')

# Families that must appear (with any labels) once the broker served traffic.
EXPECTED_FAMILIES = [
    "tidelog_build_info", "tidelog_uptime_seconds", "tidelog_ready",
    "tidelog_kafka_requests_total", "tidelog_kafka_request_errors_total",
    "tidelog_kafka_request_latency_seconds_bucket", "tidelog_kafka_request_latency_seconds_sum",
    "tidelog_kafka_request_latency_seconds_count",
    "tidelog_kafka_connections", "tidelog_kafka_connections_accepted_total",
    "tidelog_topic_produced_bytes_total", "tidelog_topic_produced_records_total",
    "tidelog_topic_fetched_bytes_total", "tidelog_topic_fetched_records_total",
    "tidelog_partition_log_start_offset", "tidelog_partition_high_watermark",
    "tidelog_partition_log_end_offset", "tidelog_partition_size_bytes",
    "tidelog_storage_segments", "tidelog_storage_flush_latency_seconds_count",
    "tidelog_storage_fdatasyncs_total", "tidelog_storage_segments_deleted_total",
    "tidelog_storage_retention_bytes_deleted_total", "tidelog_storage_producer_duplicates_total",
    "tidelog_consumer_group_lag", "tidelog_consumer_group_committed_offset",
    "tidelog_reactor_busy_ratio", "tidelog_reactor_stalls_total",
    "tidelog_reactor_cross_shard_queue_depth", "tidelog_reactor_backpressure_events_total",
    "tidelog_memory_cache_bytes", "tidelog_memory_connection_bytes",
    "tidelog_disk_free_bytes", "tidelog_disk_total_bytes", "tidelog_disk_full",
]


def get(broker, path):
    """(status, content type, body) of GET path on the admin port."""
    url = f"http://127.0.0.1:{broker.admin_port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.headers.get("Content-Type"), answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type"), error.read().decode()


def scrape(broker):
    """{(name, labels text): value} of /metrics."""
    status, _, body = get(broker, "/metrics")
    assert status == 200, status
    samples = {}
    for line in body.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, f"unparsable line {line!r}"
        samples[(match.group(1), match.group(3) or "")] = float(match.group(4))
    return samples


def value(samples, name, labels=""):
    return samples.get((name, labels), 0.0)


def wait_for_value(broker, name, labels, want, what):
    return harness.deadline_poll(lambda: value(scrape(broker), name, labels) == want or None,
                                 10, what)


def health_and_ready(broker):
    status, _, body = get(broker, "/healthz")
    assert status == 200 and body == "ok\n", (status, body)
    harness.deadline_poll(lambda: get(broker, "/ready")[0] == 200, 20, "/ready to answer 200")
    assert value(scrape(broker), "tidelog_ready") == 1
    status, _, _ = get(broker, "/nothing-here")
    assert status == 404, status


def status_json(broker):
    status, content_type, body = get(broker, "/v1/status")
    assert status == 200 and content_type == "application/json", (status, content_type)
    doc = json.loads(body)
    assert doc["node_id"] == 0, doc
    assert isinstance(doc["version"], str) and doc["version"], doc
    assert doc["shards"] == 2, doc
    # __consumer_offsets alone has 50 partitions.
    harness.deadline_poll(lambda: json.loads(get(broker, "/v1/status")[2])["partitions"] >= 50,
                          10, "partitions counted in /v1/status")
    assert doc["uptime_seconds"] >= 0, doc
    disk = doc["disk"]
    assert disk["path"] and disk["total_bytes"] > 0 and disk["free_bytes"] >= 0, disk
    assert disk["full"] is False, disk


def produce_and_fetch_counters(broker):
    topic = harness.unique_topic("metrics")
    labels = f'topic="{topic}"'
    count = 25
    records = [(f"k{i}", f"value-{i}" * 3, [], 0) for i in range(count)]
    before = scrape(broker)
    assert value(before, "tidelog_topic_produced_records_total", labels) == 0
    reports = clients.rdk_produce(broker.bootstrap, topic, records)
    assert len(reports) == count, reports
    wait_for_value(broker, "tidelog_topic_produced_records_total", labels, count,
                   "produced records to count")
    after = scrape(broker)
    produced_bytes = value(after, "tidelog_topic_produced_bytes_total", labels)
    assert produced_bytes > 0
    # The log holds exactly the batches produced: its size, once published, matches.
    partition = f'topic="{topic}",partition="0"'
    wait_for_value(broker, "tidelog_partition_size_bytes", partition, produced_bytes,
                   "the partition's size to equal the produced bytes")
    wait_for_value(broker, "tidelog_partition_high_watermark", partition, count,
                   "the high watermark gauge")
    assert value(scrape(broker), "tidelog_partition_log_end_offset", partition) == count
    assert value(after, "tidelog_kafka_requests_total", 'api="produce"') >= \
        value(before, "tidelog_kafka_requests_total", 'api="produce"') + 1

    got = clients.rdk_consume(broker.bootstrap, topic, count)
    assert len(got) == count, got
    fetched = harness.deadline_poll(
        lambda: value(scrape(broker), "tidelog_topic_fetched_records_total", labels) >= count
        and scrape(broker), 10, "fetched records to count")
    # Every record was read at least once; a consumer may refetch, never less.
    assert value(fetched, "tidelog_topic_fetched_bytes_total", labels) >= produced_bytes
    assert value(fetched, "tidelog_kafka_requests_total", 'api="fetch"') >= 1


def group_lag(broker):
    topic = harness.unique_topic("lag")
    group = harness.unique_topic("lag-group")
    count = 10
    clients.rdk_produce(broker.bootstrap, topic, [(f"k{i}", "v", [], 0) for i in range(count)])
    consumer = clients.rdk_consumer(broker.bootstrap, group_id=group, enable_auto_commit=False,
                                    auto_offset_reset="earliest")
    try:
        consumer.subscribe([topic])
        got = 0
        deadline = time.monotonic() + 30
        while got < 4 and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                got += 1
                if got == 4:
                    consumer.commit(message=message, asynchronous=False)
        assert got == 4, got
    finally:
        consumer.close()
    labels = f'group="{group}",topic="{topic}",partition="0"'
    wait_for_value(broker, "tidelog_consumer_group_committed_offset", labels, 4,
                   "the group's committed offset")
    wait_for_value(broker, "tidelog_consumer_group_lag", labels, count - 4, "the group's lag")


def kafka_frame(api_key, version, correlation_id, body=b""):
    client = b"metrics-test"
    header = struct.pack(">hhih", api_key, version, correlation_id, len(client)) + client
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def read_frame(sock):
    size = struct.unpack(">i", recv_exactly(sock, 4))[0]
    return recv_exactly(sock, size)


def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, "connection closed"
        data += chunk
    return data


def exact_request_and_error_counts(broker):
    before = scrape(broker)
    sent = 7
    with socket.create_connection(("127.0.0.1", broker.port), timeout=10) as sock:
        for i in range(sent):
            sock.sendall(kafka_frame(18, 0, i))  # ApiVersions v0
            read_frame(sock)
        # DeleteTopics v0 of one missing topic: UNKNOWN_TOPIC_OR_PARTITION.
        name = harness.unique_topic("missing").encode()
        body = struct.pack(">ih", 1, len(name)) + name + struct.pack(">i", 5000)
        sock.sendall(kafka_frame(20, 0, 100, body))
        read_frame(sock)
    after = scrape(broker)
    api = 'api="api_versions"'
    assert value(after, "tidelog_kafka_requests_total", api) - \
        value(before, "tidelog_kafka_requests_total", api) == sent
    assert value(after, "tidelog_kafka_request_latency_seconds_count", api) - \
        value(before, "tidelog_kafka_request_latency_seconds_count", api) == sent
    error = 'api="delete_topics",error="unknown_topic_or_partition"'
    assert value(after, "tidelog_kafka_request_errors_total", error) - \
        value(before, "tidelog_kafka_request_errors_total", error) == 1
    assert value(after, "tidelog_kafka_connections_accepted_total", 'shard="0"') + \
        value(after, "tidelog_kafka_connections_accepted_total", 'shard="1"') >= 1


def every_family_present(broker):
    names = {name for name, _ in scrape(broker)}
    missing = [f for f in EXPECTED_FAMILIES if f not in names]
    assert not missing, f"missing from /metrics: {missing}"
    labels = [l for n, l in scrape(broker) if n == "tidelog_build_info"]
    assert labels and 'version="' in labels[0] and 'compiler="' in labels[0], labels


def promtool_accepts(broker):
    promtool = shutil.which("promtool")
    if promtool is None:
        raise harness.SkipCase("promtool not installed (Debian package prometheus)")
    _, _, body = get(broker, "/metrics")
    checked = subprocess.run([promtool, "check", "metrics"], input=body.encode(),
                             capture_output=True, timeout=60)
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()


def main():
    harness.run_cases([
        ("/healthz answers 200 and /ready becomes 200", health_and_ready),
        ("/v1/status is JSON with node, version, shards, partitions, uptime, disk", status_json),
        ("librdkafka's records move the topic's produced and fetched counters exactly",
         produce_and_fetch_counters),
        ("raw ApiVersions and a failing DeleteTopics move request and error counters exactly",
         exact_request_and_error_counts),
        ("a consumer group's commit shows as committed offset and lag", group_lag),
        ("every metric family of the dashboards is exported", every_family_present),
        ("promtool check metrics accepts /metrics", promtool_accepts),
    ])


if __name__ == "__main__":
    sys.exit(main())
