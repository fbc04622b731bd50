#!/usr/bin/python3
"""Captures the Kafka frames real clients send (and receive) on loopback, for
the fixtures in tests/unit/kafka_client_frames_test.cc and
tests/unit/kafka_client_frames.inc. Not run by the tests: run it by hand when
the fixtures need refreshing, and paste its output (the first mode prints
label and hex; the others print rows of the .inc tables).

    /usr/bin/python3 tests/unit/kafka_capture_frames.py first-requests
    /usr/bin/python3 tests/unit/kafka_capture_frames.py sessions
    /usr/bin/python3 tests/unit/kafka_capture_frames.py kafka-python-encodings
    /usr/bin/python3 tests/unit/kafka_capture_frames.py fuzz-seeds DIR

Needs Debian's kcat, python3-confluent-kafka and python3-kafka (all three on
librdkafka 2.0.2 / kafka-python 2.0.2), under /usr/bin/python3.

first-requests: a silent TCP server on 127.0.0.1 records the first frames of
each client and never answers (no broker needed for those): librdkafka sends
ApiVersions v3, kafka-python ApiVersions v0 and, pipelined behind it,
Metadata v0.

sessions: librdkafka's built-in mock cluster (test.mock.num.brokers) serves as
the broker, behind a recording proxy. The proxy rewrites the mock's port in
Metadata and FindCoordinator responses to its own (same width, so sizes do not
change), which sends every later connection through it too. The clients then
produce (also idempotently), consume and commit in consumer groups; both
directions are printed, each response with the API key and version of its
request. In the last steps ("widened") the proxy also rewrites the mock's
ApiVersions v0 answer to advertise Kafka 3.8 ranges for APIs the mock lacks or
caps (OffsetFetch up to v7, ListGroups, the admin APIs), so that librdkafka
sends those requests, flexible versions included; the mock cannot answer
them, so only those requests are fixtures, not the replies.

kafka-python-encodings: no network. kafka-python defines every request and
response version it knows (all non-flexible) by hand, independently of
Kafka's JSON specs. For each one that we have a schema for, this fills its
schema with distinct values (numbers from a counter, strings "s<n>", arrays of
two elements) and prints the encoded body: an independent encoder to hold our
decoder and encoder to, byte for byte.

fuzz-seeds DIR: no network. Writes every captured request frame of
kafka_client_frames.inc, without its size prefix, as one file in DIR: a seed
corpus for tests/fuzz/kafka_request_fuzz.cc.
"""

import socket
import subprocess
import sys
import threading
import time


def frames_from(buffer: bytearray):
    while len(buffer) >= 4:
        size = int.from_bytes(buffer[:4], "big")
        if len(buffer) < 4 + size:
            return
        frame = bytes(buffer[: 4 + size])
        del buffer[: 4 + size]
        yield frame


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.lines = []

    def add(self, label, frame):
        with self.lock:
            self.lines.append(f"{label} {frame.hex()}")


def silent_server(port, recorder, label, seconds):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(8)
    server.settimeout(0.2)
    end = time.time() + seconds

    def serve(conn):
        buffer = bytearray()
        conn.settimeout(0.2)
        while time.time() < end:
            try:
                data = conn.recv(65536)
            except socket.timeout:
                continue
            if not data:
                break
            buffer += data
            for frame in frames_from(buffer):
                recorder.add(label, frame)
        conn.close()

    while time.time() < end:
        try:
            conn, _ = server.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
    server.close()


def first_requests():
    recorder = Recorder()
    clients = [
        ("kcat", ["kcat", "-b", "127.0.0.1:{port}", "-L", "-m", "2"]),
        ("confluent-kafka", ["/usr/bin/python3", "-c",
                             "import confluent_kafka as k\n"
                             "p = k.Producer({'bootstrap.servers': '127.0.0.1:{port}'})\n"
                             "try: p.list_topics(timeout=2)\n"
                             "except Exception: pass\n"]),
        ("kafka-python", ["/usr/bin/python3", "-c",
                          "import kafka\n"
                          "try: kafka.KafkaConsumer(bootstrap_servers='127.0.0.1:{port}', "
                          "api_version_auto_timeout_ms=2000)\n"
                          "except Exception: pass\n"]),
    ]
    for i, (label, command) in enumerate(clients):
        port = 19180 + i
        server = threading.Thread(target=silent_server, args=(port, recorder, label, 4))
        server.start()
        time.sleep(0.3)
        command = [c.replace("{port}", str(port)) for c in command]
        subprocess.run(command, timeout=10, capture_output=True)
        server.join()
    print("\n".join(recorder.lines))


class Proxy:
    """Forwards 127.0.0.1:listen_port to the mock and records both directions."""

    def __init__(self, listen_port, mock_port, recorder):
        self.listen_port = listen_port
        self.mock_port = mock_port
        self.recorder = recorder
        self.label = "?"
        self.widen = {}  # api key -> (min, max) to advertise instead of the mock's
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", listen_port))
        self.server.listen(16)
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            conn, _ = self.server.accept()
            upstream = socket.create_connection(("127.0.0.1", self.mock_port))
            pending = {}  # correlation id -> (api key, version)
            threading.Thread(target=self.pump, args=(conn, upstream, pending, True),
                             daemon=True).start()
            threading.Thread(target=self.pump, args=(upstream, conn, pending, False),
                             daemon=True).start()

    def pump(self, source, sink, pending, requests):
        buffer = bytearray()
        old_port = self.mock_port.to_bytes(4, "big")
        new_port = self.listen_port.to_bytes(4, "big")
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                try:
                    sink.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            buffer += data
            for frame in frames_from(buffer):
                if requests:
                    key = int.from_bytes(frame[4:6], "big")
                    version = int.from_bytes(frame[6:8], "big")
                    correlation = int.from_bytes(frame[8:12], "big")
                    pending[correlation] = (key, version)
                    self.recorder.add(f"{self.label} request {key} v{version}", frame)
                else:
                    correlation = int.from_bytes(frame[4:8], "big")
                    key, version = pending.pop(correlation, (-1, -1))
                    if key in (3, 10):
                        frame = frame.replace(old_port, new_port)
                    if key == 18 and version == 0 and self.widen:
                        frame = widen_api_versions(frame, self.widen)
                    self.recorder.add(f"{self.label} response {key} v{version}", frame)
                sink.sendall(frame)


def widen_api_versions(frame, ranges):
    """An ApiVersions v0 response frame with `ranges` advertised."""
    correlation, error = frame[4:8], frame[8:10]
    count = int.from_bytes(frame[10:14], "big")
    apis = {}
    for i in range(count):
        entry = frame[14 + 6 * i: 20 + 6 * i]
        apis[int.from_bytes(entry[0:2], "big")] = (int.from_bytes(entry[2:4], "big"),
                                                   int.from_bytes(entry[4:6], "big"))
    apis.update(ranges)
    body = correlation + error + len(apis).to_bytes(4, "big")
    for key in sorted(apis):
        lo, hi = apis[key]
        body += key.to_bytes(2, "big") + lo.to_bytes(2, "big") + hi.to_bytes(2, "big")
    return len(body).to_bytes(4, "big") + body


def cpp_row(label, direction, key, version, data):
    chunks = [data[i:i + 88] for i in range(0, len(data), 88)] or [""]
    lines = "\n".join(f'     "{c}"' for c in chunks)
    return f'    {{"{label}", {direction}, {key}, {version},\n{lines}}},'


def sessions():
    import confluent_kafka

    # The mock cluster lives as long as this producer.
    holder = confluent_kafka.Producer({"test.mock.num.brokers": 1,
                                       "bootstrap.servers": "ignored:1"})
    metadata = holder.list_topics(timeout=5)
    mock_port = next(iter(metadata.brokers.values())).port
    recorder = Recorder()
    proxy = Proxy(19190, mock_port, recorder)
    bootstrap = "127.0.0.1:19190"
    steps = [
        ("kcat-produce", "kcat -b {b} -P -t tidelog-fixture -p 0 -K: -z none",
         b"key-1:value-1\nkey-2:value-2\n"),
        ("kcat-consume", "kcat -b {b} -C -t tidelog-fixture -p 0 -o beginning -e -c 2", None),
        ("kcat-group", "kcat -b {b} -G tidelog-group tidelog-fixture -o beginning -c 2 "
                       "-X enable.auto.commit=true -X auto.commit.interval.ms=100", None),
        ("kcat-idempotent", "kcat -b {b} -P -t tidelog-fixture -p 1 -X enable.idempotence=true",
         b"idempotent\n"),
        ("kafka-python-produce", [
            "/usr/bin/python3", "-c",
            "import kafka\n"
            "p = kafka.KafkaProducer(bootstrap_servers='{b}', acks=1)\n"
            "p.send('tidelog-fixture', key=b'kp-key', value=b'kp-value', partition=0).get(10)\n"
            "p.close()\n"], None),
        ("kafka-python-group", [
            "/usr/bin/python3", "-c",
            "import kafka\n"
            "c = kafka.KafkaConsumer('tidelog-fixture', bootstrap_servers='{b}', "
            "group_id='tidelog-kp-group', auto_offset_reset='earliest', "
            "consumer_timeout_ms=4000)\n"
            "n = 0\n"
            "for m in c:\n"
            "    n += 1\n"
            "    if n == 3: break\n"
            "c.commit()\n"
            "c.close()\n"], None),
        ("widened-group", "kcat -b {b} -G tidelog-widened tidelog-fixture -c 1 "
                          "-X auto.offset.reset=earliest", None),
        ("widened-admin", [
            "/usr/bin/python3", "-c",
            "import confluent_kafka.admin as a\n"
            "c = a.AdminClient({'bootstrap.servers': '{b}'})\n"
            "def wait(futures):\n"
            "    for f in futures.values():\n"
            "        try: f.result(timeout=3)\n"
            "        except Exception: pass\n"
            "wait(c.create_topics([a.NewTopic('tidelog-new', 3, 1, config={'retention.ms': '60000'})],"
            " request_timeout=2))\n"
            "wait(c.create_partitions([a.NewPartitions('tidelog-fixture', 6)], request_timeout=2))\n"
            "wait(c.describe_configs([a.ConfigResource('topic', 'tidelog-fixture')], request_timeout=2))\n"
            "wait(c.alter_configs([a.ConfigResource('topic', 'tidelog-fixture',"
            " set_config={'cleanup.policy': 'compact'})], request_timeout=2))\n"
            "wait(c.delete_topics(['tidelog-new'], request_timeout=2))\n"
            "try: c.list_groups(timeout=3)\n"
            "except Exception: pass\n"], None),
        ("widened-kafka-python-admin", [
            "/usr/bin/python3", "-c",
            "import kafka.admin as a\n"
            "def attempt(f):\n"
            "    try:\n"
            "        c = a.KafkaAdminClient(bootstrap_servers='{b}', request_timeout_ms=2000)\n"
            "        f(c)\n"
            "    except Exception: pass\n"
            "attempt(lambda c: c.create_topics([a.NewTopic('tidelog-new', 3, 1,"
            " topic_configs={'retention.ms': '60000'})], timeout_ms=1000))\n"
            "attempt(lambda c: c.delete_topics(['tidelog-new'], timeout_ms=1000))\n"
            "attempt(lambda c: c.create_partitions({'tidelog-fixture': a.NewPartitions(6)},"
            " timeout_ms=1000))\n"
            "attempt(lambda c: c.describe_configs([a.ConfigResource(a.ConfigResourceType.TOPIC,"
            " 'tidelog-fixture')]))\n"
            "attempt(lambda c: c.alter_configs([a.ConfigResource(a.ConfigResourceType.TOPIC,"
            " 'tidelog-fixture', configs={'cleanup.policy': 'compact'})]))\n"
            "attempt(lambda c: c.describe_consumer_groups(['tidelog-group']))\n"
            "attempt(lambda c: c.delete_consumer_groups(['tidelog-group']))\n"], None),
    ]
    widened = {9: (0, 7), 15: (0, 5), 16: (0, 5), 19: (0, 7), 20: (0, 6), 21: (0, 2),
               32: (0, 4), 33: (0, 2), 37: (0, 3), 42: (0, 2)}
    for label, command, stdin in steps:
        proxy.label = label
        proxy.widen = widened if label.startswith("widened") else {}
        if isinstance(command, str):
            command = command.format(b=bootstrap).split()
        else:
            command = [c.replace("{b}", bootstrap) for c in command]
        try:
            subprocess.run(command, input=stdin, timeout=30, capture_output=True)
        except subprocess.TimeoutExpired:
            print(f"# {label}: timed out", file=sys.stderr)
        time.sleep(0.5)
    del holder
    seen = set()
    for line in recorder.lines:
        label, direction, key, version, frame = line.split()
        key, version = int(key), int(version[1:])
        if direction == "response" and (key == 18 and version == 3 or label.startswith("widened")):
            # The mock answers ApiVersions v3, which it lacks, with a body that
            # is neither v0 nor v3; and it cannot answer the widened APIs.
            continue
        client = "kafka-python" if label.startswith("kafka-python") else "librdkafka"
        if (client, direction, key, version) in seen:
            continue
        seen.add((client, direction, key, version))
        print(cpp_row(label, direction, key, version, frame))


def kafka_python_encodings():
    import importlib
    import pkgutil

    import kafka.protocol
    from kafka.protocol import types
    from kafka.protocol.api import Request, Response

    ours = {0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 21, 22, 23, 32, 33,
            37, 42, 44, 47, 60}
    counter = [0]

    def value(t):
        counter[0] += 1
        n = counter[0]
        if isinstance(t, types.Schema):
            return tuple(value(f) for f in t.fields)
        if isinstance(t, types.Array):
            return [value(t.array_of) for _ in range(2)]
        if isinstance(t, types.String):
            return f"s{n}"
        if t is types.Bytes or isinstance(t, types.Bytes):
            return bytes((n + i) % 256 for i in range(n % 7 + 1))
        if t is types.Boolean or isinstance(t, types.Boolean):
            return True
        for kind, limit in ((types.Int8, 100), (types.Int16, 30000), (types.Int32, 2 ** 30),
                            (types.Int64, 2 ** 40)):
            if t is kind or isinstance(t, kind):
                return (n * 7919) % limit + 1
        raise TypeError(t)

    classes = []
    for module in pkgutil.iter_modules(kafka.protocol.__path__):
        mod = importlib.import_module(f"kafka.protocol.{module.name}")
        for name in sorted(dir(mod)):
            cls = getattr(mod, name)
            if (isinstance(cls, type) and issubclass(cls, (Request, Response))
                    and cls not in (Request, Response) and hasattr(cls, "API_KEY")
                    and "_v" in name and cls.API_KEY in ours):
                classes.append((cls.API_KEY, cls.API_VERSION,
                                "request" if issubclass(cls, Request) else "response", cls))
    # Where kafka-python 2.0.2 disagrees with Kafka's own specs (its bugs):
    # ProduceResponse v8 puts record_errors and error_message in the topic, not
    # the partition; OffsetRequest (ListOffsets) v4-v5 make current_leader_epoch
    # an int64; GroupCoordinatorResponse (FindCoordinator) v1 lacks
    # throttle_time_ms; DescribeGroupsResponse v3 lacks authorized_operations.
    wrong = {"ProduceResponse_v8", "OffsetRequest_v4", "OffsetRequest_v5",
             "GroupCoordinatorResponse_v1", "DescribeGroupsResponse_v3"}
    for key, version, kind, cls in sorted(set(classes), key=lambda c: c[:3]):
        if cls.__name__ in wrong:
            continue
        counter[0] = 0
        try:
            message = cls(*value(cls.SCHEMA))  # encode() holds it weakly
            body = message.encode()
        except (TypeError, AttributeError) as e:
            # Fetch v7-v11 in kafka-python 2.0.2 name the String class where
            # an instance belongs; kafka-python itself never sends them.
            print(f"# {cls.__name__}: kafka-python cannot encode it ({e})", file=sys.stderr)
            continue
        print(cpp_row(cls.__name__, kind, key, version, body.hex()))


def fuzz_seeds(directory):
    import pathlib
    import re

    table = (pathlib.Path(__file__).parent / "kafka_client_frames.inc").read_text()
    sessions_table = table[table.index("session_frames[]"):table.index("kafka_python_encodings[]")]
    out = pathlib.Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    row = re.compile(r'\{"([^"]+)", (request|response), (\d+), (\d+),((?:\s*"[0-9a-f]*")+)\}')
    for match in row.finditer(sessions_table):
        label, direction, key, version, chunks = match.groups()
        if direction != "request":
            continue
        frame = bytes.fromhex("".join(re.findall(r'"([0-9a-f]*)"', chunks)))
        (out / f"{label}-{key}-v{version}.bin").write_bytes(frame[4:])


if __name__ == "__main__":
    if sys.argv[1] == "fuzz-seeds":
        fuzz_seeds(sys.argv[2])
    else:
        {"first-requests": first_requests, "sessions": sessions,
         "kafka-python-encodings": kafka_python_encodings}[sys.argv[1]]()
