#!/usr/bin/python3
"""Proves that malformed, hostile or unusual frames on one connection never hurt the
broker or other clients, and that requests are answered in order.

Raw sockets, no Kafka library, against one tidelogd with
socket_request_max_bytes=65536. Each malformed case opens a fresh connection, sends
one bad frame (negative size, size above the limit, truncated header, unknown API
key, unsupported Metadata version, garbage Produce body, seeded random bytes, or half
a request and a hang-up) and requires the broker to close that connection, then
checks that a new connection still gets ApiVersions answered. ApiVersions with an
unsupported version must instead be answered (v0 body, error 35, the API list) on a
connection that stays open. Meanwhile a librdkafka producer writes with acks=all and
a kafka-python consumer reads, from start to end; the last cases require that both
kept working and that every acknowledged record is readable. Pipelining: 50
ApiVersions/Metadata requests written back to back get 50 responses with matching
correlation ids, in order; Produce with acks=0 gets no response at all.
"""
import os
import random
import socket
import struct
import sys
import threading
import time

import confluent_kafka

import clients
import harness
from produce_protocol import crc32c, fetch_v4_body, record_batch

MAX_REQUEST_BYTES = 65536
CLOSE_TIMEOUT_S = 10
TOPIC = harness.unique_topic("raw")

# ---- encoding ------------------------------------------------------------------

API_PRODUCE, API_METADATA, API_VERSIONS = 0, 3, 18


def string(s):
    if s is None:
        return struct.pack(">h", -1)
    data = s.encode()
    return struct.pack(">h", len(data)) + data


def request(api_key, version, correlation_id, body=b"", client_id="raw-test"):
    """Header v1 (all non-flexible requests used here)."""
    payload = struct.pack(">hhi", api_key, version, correlation_id) + string(client_id) + body
    return struct.pack(">i", len(payload)) + payload


def produce_body(acks, values, partition=0, batch=None):
    if batch is None:
        batch = record_batch(values, int(time.time() * 1000))
    return (string(None) + struct.pack(">hi", acks, 10000) + struct.pack(">i", 1) + string(TOPIC)
            + struct.pack(">ii", 1, partition) + struct.pack(">i", len(batch)) + batch)


def zstd_batch(values):
    """A valid magic-2 batch whose records are zstd-compressed (attributes codec 4)."""
    import zstandard
    plain = record_batch(values, int(time.time() * 1000))
    records = plain[61:]  # everything after the 61-byte batch header
    compressed = zstandard.ZstdCompressor().compress(records)
    count = len(values)
    now = int(time.time() * 1000)
    after_crc = struct.pack(">hiqqqhii", 4, count - 1, now, now, -1, -1, -1, count) + compressed
    after_length = struct.pack(">ibI", -1, 2, crc32c(after_crc)) + after_crc
    return struct.pack(">qi", 0, len(after_length)) + after_length


METADATA_ALL_V1 = struct.pack(">i", -1)

# ---- socket helpers --------------------------------------------------------------


def connect(broker):
    s = socket.create_connection(("127.0.0.1", broker.port), timeout=CLOSE_TIMEOUT_S)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise ConnectionError(f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def read_response(s):
    """Returns (correlation_id, body) of one response (header v0)."""
    size = struct.unpack(">i", recv_exact(s, 4))[0]
    data = recv_exact(s, size)
    return struct.unpack(">i", data[:4])[0], data[4:]


def assert_closed(s, what):
    """The broker must close: reads reach EOF (or a reset) before the deadline.
    Bytes it sends first are tolerated only if they are whole frames."""
    s.settimeout(CLOSE_TIMEOUT_S)
    received = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            received += chunk
    except ConnectionResetError:
        pass
    except socket.timeout:
        raise AssertionError(f"{what}: connection still open after {CLOSE_TIMEOUT_S} s")
    finally:
        s.close()
    return received


def parse_api_versions_v0(body):
    error, count = struct.unpack(">hi", body[:6])
    apis = {}
    for i in range(count):
        key, low, high = struct.unpack(">hhh", body[6 + 6 * i:12 + 6 * i])
        apis[key] = (low, high)
    return error, apis


def healthy(broker):
    """A new connection gets ApiVersions v0 answered with error 0 and Produce listed."""
    with connect(broker) as s:
        s.sendall(request(API_VERSIONS, 0, 4242))
        correlation_id, body = read_response(s)
    error, apis = parse_api_versions_v0(body)
    assert correlation_id == 4242 and error == 0 and API_PRODUCE in apis, (correlation_id, error)


# ---- concurrent well-behaved clients ----------------------------------------------

class Background:
    """A librdkafka producer (acks=all) and a kafka-python consumer running throughout."""

    def __init__(self, broker):
        self.broker = broker
        self.acked = {}
        self.errors = []
        self.consumed = 0
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._produce, daemon=True),
                        threading.Thread(target=self._consume, daemon=True)]

    def start(self):
        clients.rdk_produce(self.broker.bootstrap, TOPIC, [("k", "first", [], 0)])
        for t in self.threads:
            t.start()
        self.wait_for_progress()

    def wait_for_progress(self):
        """Both clients must make progress from now on: 50 more acks, 1 more record read."""
        acked, consumed = len(self.acked), self.consumed
        harness.deadline_poll(
            lambda: self.errors or (len(self.acked) >= acked + 50 and self.consumed > consumed),
            30, "the background producer and consumer to make progress")
        assert not self.errors, self.errors[:3]

    def _produce(self):
        try:
            producer = confluent_kafka.Producer(clients.rdk_conf(
                self.broker.bootstrap, acks="all", linger_ms=5))

            def report(err, msg):
                if err is None:
                    self.acked[msg.offset()] = msg.value()
                else:
                    self.errors.append(str(err))
            i = 0
            while not self.stopping.is_set():
                producer.produce(TOPIC, value=f"bg-{i}".encode(), partition=0, on_delivery=report)
                i += 1
                producer.poll(0.005)
            producer.flush(30)
        except Exception as error:  # reported by the final case
            self.errors.append(repr(error))

    def _consume(self):
        from kafka.structs import TopicPartition
        try:
            consumer = clients.kp_consumer(self.broker.bootstrap)
            consumer.assign([TopicPartition(TOPIC, 0)])
            consumer.seek_to_beginning()
            while not self.stopping.is_set():
                for messages in consumer.poll(timeout_ms=200).values():
                    self.consumed += len(messages)
            consumer.close()
        except Exception as error:
            self.errors.append(repr(error))

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(60)


# ---- cases -------------------------------------------------------------------------

def bad_frame(frame, what, shutdown_write=False):
    def case(broker):
        s = connect(broker)
        s.sendall(frame)
        if shutdown_write:
            s.shutdown(socket.SHUT_WR)
        assert_closed(s, what)
        healthy(broker)
    return case


def random_bytes(broker):
    rng = random.Random(20261124)
    for round_number in range(30):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
        if round_number % 2:  # half of them framed, so the garbage reaches the parsers
            data = struct.pack(">i", len(data)) + data
        s = connect(broker)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        assert_closed(s, f"random round {round_number}")
    healthy(broker)


def disconnect_mid_request(broker):
    frame = request(API_PRODUCE, 7, 1, produce_body(-1, [b"x" * 1000]))
    for cut in [2, 4, 10, len(frame) // 2, len(frame) - 1]:
        s = connect(broker)
        s.sendall(frame[:cut])
        s.close()
    healthy(broker)


def api_versions_unsupported(broker):
    with connect(broker) as s:
        s.sendall(request(API_VERSIONS, 99, 7))
        correlation_id, body = read_response(s)
        error, apis = parse_api_versions_v0(body)
        assert correlation_id == 7, correlation_id
        assert error == 35, f"error {error}, want 35 (UNSUPPORTED_VERSION)"
        assert apis.get(API_VERSIONS, (None, None))[0] == 0 and API_PRODUCE in apis, apis
        # The connection stays usable.
        s.sendall(request(API_VERSIONS, 0, 8))
        correlation_id, body = read_response(s)
        assert correlation_id == 8 and parse_api_versions_v0(body)[0] == 0


def pipelining(broker):
    frames = b"".join(request(API_VERSIONS, 0, 1000 + i) if i % 2 == 0
                      else request(API_METADATA, 1, 1000 + i, METADATA_ALL_V1)
                      for i in range(50))
    with connect(broker) as s:
        s.sendall(frames)
        ids = [read_response(s)[0] for _ in range(50)]
    assert ids == list(range(1000, 1050)), f"correlation ids out of order: {ids}"


def acks_zero(broker):
    consumer = clients.rdk_consumer(broker.bootstrap)
    tp = confluent_kafka.TopicPartition(TOPIC, 1)
    try:
        _, before = consumer.get_watermark_offsets(tp, timeout=10, cached=False)
        with connect(broker) as s:
            s.sendall(request(API_PRODUCE, 7, 500, produce_body(0, [b"a0-1", b"a0-2"], 1))
                      + request(API_VERSIONS, 0, 501))
            correlation_id, _ = read_response(s)
            assert correlation_id == 501, \
                f"first response has correlation id {correlation_id}: acks=0 Produce was answered"
        harness.deadline_poll(
            lambda: consumer.get_watermark_offsets(tp, timeout=10, cached=False)[1] == before + 2,
            10, "the acks=0 records to be appended")
    finally:
        consumer.close()


def produce_error(broker, version, body):
    """Sends one Produce (acks=1) and returns the partition's error code; the same
    connection must then still answer ApiVersions."""
    with connect(broker) as s:
        s.sendall(request(API_PRODUCE, version, 88, body))
        correlation_id, response = read_response(s)
        assert correlation_id == 88, correlation_id
        name_length = struct.unpack(">h", response[4:6])[0]
        offset = 6 + name_length + 4
        _, error = struct.unpack(">ih", response[offset:offset + 6])
        s.sendall(request(API_VERSIONS, 0, 89))
        assert read_response(s)[0] == 89, "connection unusable after the refused Produce"
    return error


def bad_crc(broker):
    batch = bytearray(record_batch([b"crc"], int(time.time() * 1000)))
    batch[-1] ^= 0xFF  # last byte of the last record: covered by the CRC
    error = produce_error(broker, 7, produce_body(1, None, 1, bytes(batch)))
    assert error == 2, f"error {error}, want 2 (CORRUPT_MESSAGE)"


def two_batches(broker):
    now = int(time.time() * 1000)
    batches = record_batch([b"one"], now) + record_batch([b"two"], now)
    error = produce_error(broker, 7, produce_body(1, None, 1, batches))
    assert error in (2, 87), f"error {error}, want 87 (INVALID_RECORD) or 2 (CORRUPT_MESSAGE)"


def zstd_below_v7(broker):
    error = produce_error(broker, 3, produce_body(1, None, 1, zstd_batch([b"z1", b"z2"])))
    assert error == 76, f"Produce v3 with zstd: error {error}, want 76 (UNSUPPORTED_COMPRESSION_TYPE)"
    error = produce_error(broker, 7, produce_body(1, None, 1, zstd_batch([b"z1", b"z2"])))
    assert error == 0, f"Produce v7 with zstd: error {error}, want 0"


def partition_out_of_range(broker):
    error = produce_error(broker, 7, produce_body(1, [b"nowhere"], 7))
    assert error == 3, f"error {error}, want 3 (UNKNOWN_TOPIC_OR_PARTITION)"


def metadata_topic_lists(broker):
    """v0 empty list: all topics; v1 null: all topics; v1 empty list: none."""
    def topic_count(version, body):
        with connect(broker) as s:
            s.sendall(request(API_METADATA, version, 31, body))
            correlation_id, response = read_response(s)
        assert correlation_id == 31
        offset = 0
        (brokers,) = struct.unpack_from(">i", response, offset)
        offset += 4
        for _ in range(brokers):
            offset += 4
            (host_length,) = struct.unpack_from(">h", response, offset)
            offset += 2 + host_length + 4
            if version >= 1:
                (rack_length,) = struct.unpack_from(">h", response, offset)
                offset += 2 + max(rack_length, 0)
        if version >= 1:
            offset += 4  # controller_id
        return struct.unpack_from(">i", response, offset)[0]
    empty, null = struct.pack(">i", 0), struct.pack(">i", -1)
    assert topic_count(0, empty) >= 1, "Metadata v0 with an empty list must list every topic"
    assert topic_count(1, null) >= 1, "Metadata v1 with a null list must list every topic"
    assert topic_count(1, empty) == 0, "Metadata v1 with an empty list must list no topic"


def metadata_v1_topics(broker, names):
    """Metadata v1 (auto-create allowed) for names; returns {name: error_code}."""
    body = struct.pack(">i", len(names)) + b"".join(string(n) for n in names)
    with connect(broker) as s:
        s.sendall(request(API_METADATA, 1, 41, body))
        correlation_id, response = read_response(s)
    assert correlation_id == 41
    offset = 0

    def take(fmt):
        nonlocal offset
        values = struct.unpack_from(fmt, response, offset)
        offset += struct.calcsize(fmt)
        return values

    def take_string():
        nonlocal offset
        (length,) = take(">h")
        text = response[offset:offset + max(length, 0)].decode(errors="replace")
        offset += max(length, 0)
        return text
    for _ in range(take(">i")[0]):  # brokers: node_id, host, port, rack
        take(">i"), take_string(), take(">i"), take_string()
    take(">i")  # controller_id
    errors = {}
    for _ in range(take(">i")[0]):
        (error,) = take(">h")
        name = take_string()
        take(">b")  # is_internal
        for _ in range(take(">i")[0]):
            take(">hii")
            take(">" + "i" * take(">i")[0])
            take(">" + "i" * take(">i")[0])
        errors[name] = error
    return errors


def invalid_topic_names(broker):
    """Auto-create must refuse names Kafka refuses (INVALID_TOPIC_EXCEPTION, 17), and
    never create anything outside the data directory."""
    bad = ["../escape-" + str(os.getpid()), "a/b", ".", "..", "x" * 250, "sp ace", "star*"]
    outside_before = set(broker.temp_dir.iterdir())
    errors = metadata_v1_topics(broker, bad)
    wrong = {n[:40]: errors.get(n) for n in bad if errors.get(n) != 17}
    assert not wrong, f"errors for invalid names (want 17 for each): {wrong}"
    created = set(broker.temp_dir.iterdir()) - outside_before
    assert not created, f"created outside the data directory: {created}"
    escaped = broker.temp_dir.parent / f"escape-{os.getpid()}"
    assert not escaped.exists(), f"{escaped} was created"
    healthy(broker)


def memory_limited_pipelines(_):
    """connection_memory_bytes=65536: 30 pipelined 20 kB Produce requests and 20
    pipelined Fetch requests of ~600 kB responses are all answered, in order, and a
    single 200 kB record (larger than the limit) is still accepted."""
    broker = harness.Broker(name="memory", connection_memory_bytes=65536)
    try:
        broker.start()
        topic = harness.unique_topic("memory")
        reports = clients.rdk_produce(broker.bootstrap, topic, [("k", "m" * 200_000, [], 0)],
                                      timeout_s=20)
        assert reports == [(0, 0)], reports
        body = (string(None) + struct.pack(">hi", 1, 10000) + struct.pack(">i", 1) + string(topic)
                + struct.pack(">ii", 1, 0))
        batch = record_batch([b"p" * 20000], int(time.time() * 1000))
        body += struct.pack(">i", len(batch)) + batch
        with connect(broker) as s:
            s.settimeout(30)
            s.sendall(b"".join(request(API_PRODUCE, 7, 100 + i, body) for i in range(30)))
            ids = [read_response(s)[0] for _ in range(30)]
            assert ids == list(range(100, 130)), f"produce responses {ids}"
            s.sendall(b"".join(request(API_FETCH, 4, 200 + i, fetch_v4_body(topic, [0], 0, 100))
                               for i in range(20)))
            responses = [read_response(s) for _ in range(20)]
            assert [c for c, _ in responses] == list(range(200, 220))
            assert all(len(b) > 500_000 for _, b in responses), [len(b) for _, b in responses]
        broker.stop()
    finally:
        broker.close()


def acks_one_raw(broker):
    """A hand-built batch (our own encoder) is accepted: proves the encoder above."""
    with connect(broker) as s:
        s.sendall(request(API_PRODUCE, 3, 77, produce_body(1, [b"raw-1"], 1)))
        correlation_id, body = read_response(s)
    assert correlation_id == 77
    # topics[1] name, partitions[1]: index int32, error int16
    name_length = struct.unpack(">h", body[4:6])[0]
    offset = 6 + name_length + 4
    partition, error = struct.unpack(">ih", body[offset:offset + 6])
    assert (partition, error) == (1, 0), (partition, error)


API_FETCH = 1


def shutdown_after_long_polls(_):
    """Consumers that long-polled partitions owned by another shard, then SIGTERM.

    With 2 shards, 4 partitions and 8 connections (the kernel spreads connections
    over the shards), some fetch is parked on a partition of the other shard. Each
    fetch times out empty (300 ms); SIGTERM must still exit 0. Three rounds, each on
    a fresh broker.
    """
    partitions = list(range(4))
    for round_number in range(3):
        broker = harness.Broker(name=f"longpoll{round_number}", num_partitions=len(partitions))
        try:
            broker.start()
            topic = harness.unique_topic("parked")
            clients.rdk_produce(broker.bootstrap, topic, [("k", "v", [], p) for p in partitions])
            sockets = [connect(broker) for _ in range(8)]
            for i, s in enumerate(sockets):
                s.sendall(request(API_FETCH, 4, i, fetch_v4_body(topic, partitions, 1, 300)))
            for i, s in enumerate(sockets):
                assert read_response(s)[0] == i
                s.close()
            broker.stop()
        finally:
            broker.close()


def raw_long_poll_wake(broker):
    """8 connections (spread over both shards) park a Fetch v4 with a 10 s max wait at
    the end of partition 1; one produced record must answer all of them within 5 s."""
    consumer = clients.rdk_consumer(broker.bootstrap)
    try:
        _, high = consumer.get_watermark_offsets(confluent_kafka.TopicPartition(TOPIC, 1),
                                                 timeout=10, cached=False)
    finally:
        consumer.close()
    sockets = [connect(broker) for _ in range(8)]
    try:
        for i, s in enumerate(sockets):
            s.sendall(request(API_FETCH, 4, 900 + i, fetch_v4_body(TOPIC, [1], high, 10_000)))
        # The fetches must be parked, not answered: nothing arrives for a moment.
        for s in sockets:
            s.settimeout(0.3)
            try:
                data = s.recv(1)
                raise AssertionError(f"a fetch at the end was answered at once: {data!r}")
            except socket.timeout:
                pass
            s.settimeout(CLOSE_TIMEOUT_S)
        sent = time.monotonic()
        clients.rdk_produce(broker.bootstrap, TOPIC, [("k", "wake", [], 1)])
        latencies = []
        for i, s in enumerate(sockets):
            correlation_id, body = read_response(s)
            latencies.append(time.monotonic() - sent)
            assert correlation_id == 900 + i
            assert b"wake" in body, "the woken fetch did not carry the new record"
        print(f"# parked fetches answered after {max(latencies):.3f} s at most", flush=True)
        assert max(latencies) < 5, f"parked fetches answered after {latencies} s (max wait 10 s)"
    finally:
        for s in sockets:
            s.close()


def main():
    tap = harness.Tap()
    broker = harness.Broker(socket_request_max_bytes=MAX_REQUEST_BYTES, num_partitions=2)
    background = None
    try:
        broker.start()
        background = Background(broker)
        background.start()
        garbage_produce = request(API_PRODUCE, 7, 3, bytes(random.Random(7).randrange(256)
                                                            for _ in range(200)))
        header = struct.pack(">hhi", API_METADATA, 1, 9)
        cases = [
            ("raw Produce v3 acks=1 with a hand-built batch is appended", acks_one_raw),
            ("Produce with a bad CRC gets CORRUPT_MESSAGE; connection stays usable", bad_crc),
            ("Produce v7 with two batches for one partition is refused", two_batches),
            ("zstd batch: Produce v3 gets UNSUPPORTED_COMPRESSION_TYPE, v7 is accepted",
             zstd_below_v7),
            ("Produce to partition 7 of a 2-partition topic gets UNKNOWN_TOPIC_OR_PARTITION",
             partition_out_of_range),
            ("Metadata topic lists: v0 empty = all, v1 null = all, v1 empty = none",
             metadata_topic_lists),
            ("auto-create refuses invalid topic names (../x, a/b, ., .., 250 chars) with 17",
             invalid_topic_names),
            ("negative frame size closes the connection",
             bad_frame(struct.pack(">i", -5) + b"\x00" * 16, "negative size")),
            ("frame size above socket_request_max_bytes closes the connection",
             bad_frame(struct.pack(">i", MAX_REQUEST_BYTES + 1) + b"\x00" * 64, "oversized")),
            ("truncated request header closes the connection",
             bad_frame(struct.pack(">i", 3) + header[:3], "truncated header")),
            ("header with a client_id longer than the frame closes the connection",
             bad_frame(struct.pack(">i", 10) + header + struct.pack(">h", 100), "client_id")),
            ("unknown API key closes the connection",
             bad_frame(request(9999, 0, 1), "unknown key")),
            ("unsupported Metadata version (v99) closes the connection",
             bad_frame(request(API_METADATA, 99, 1, METADATA_ALL_V1), "metadata v99")),
            ("garbage Produce v7 body closes the connection",
             bad_frame(garbage_produce, "garbage produce")),
            ("30 seeded random byte strings: each connection closed, broker healthy",
             random_bytes),
            ("clients hanging up mid-request leave the broker healthy", disconnect_mid_request),
            ("ApiVersions v99 gets a v0 body with error 35 and the API list; connection stays",
             api_versions_unsupported),
            ("50 pipelined ApiVersions/Metadata requests answered in order", pipelining),
            ("Produce acks=0 gets no response; the next request's response comes next",
             acks_zero),
            ("8 raw Fetch v4 long polls (10 s) are all woken by one produced record",
             raw_long_poll_wake),
            ("connection_memory_bytes 65536: pipelined 20 kB produces and 600 kB fetches "
             "all answered in order; a 200 kB record accepted", memory_limited_pipelines),
            ("SIGTERM after long-polled fetches on other shards' partitions exits 0 (3 brokers)",
             shutdown_after_long_polls),
        ]
        for name, function in cases:
            tap.case(name, function, broker)

        def background_ok(_):
            background.wait_for_progress()
            background.stop()
            assert not background.errors, f"background client errors: {background.errors[:3]}"
            assert len(background.acked) > 0 and background.consumed > 0, \
                (len(background.acked), background.consumed)
            got = clients.rdk_consume(broker.bootstrap, TOPIC, None, partitions=[0])
            stored = {r[1]: r[3] for r in got}
            missing = [o for o, v in background.acked.items() if stored.get(o) != v.decode()]
            assert not missing, f"{len(missing)} acknowledged records missing, e.g. {missing[:5]}"
            print(f"# background: {len(background.acked)} acked, {background.consumed} consumed",
                  flush=True)
        tap.case("concurrent producer/consumer kept working; every acked record is readable",
                 background_ok, broker)
        tap.case("broker stops cleanly on SIGTERM (exit 0)", broker.stop)
    except Exception:
        import traceback
        tap.case("broker and background clients start", harness._raise, traceback.format_exc())
    finally:
        if background is not None:
            background.stopping.set()
        broker.close()
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
