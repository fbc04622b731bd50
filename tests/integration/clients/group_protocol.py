"""The consumer-group APIs on a raw socket, for the group tests' wrong-input cases
and for reading committed offsets without a client library in between.

Non-flexible versions only (request header v1, response header v0): FindCoordinator
v1, JoinGroup v5, SyncGroup v3, Heartbeat v3, LeaveGroup v3, OffsetCommit v2 and
v7, OffsetFetch v1 and v5, DescribeGroups v4, ListGroups v2, DeleteGroups v1. Layouts
follow Kafka 3.8's message specs (shared/kafka-protocol/messages). Each call
returns the decoded response as a dict; the caller checks error codes.
"""
import socket
import struct
import time

# Error codes (Kafka 3.8, CLIENTS.md section 5).
NONE = 0
UNKNOWN_SERVER_ERROR = -1
UNKNOWN_TOPIC_OR_PARTITION = 3
OFFSET_METADATA_TOO_LARGE = 12
COORDINATOR_LOAD_IN_PROGRESS = 14
COORDINATOR_NOT_AVAILABLE = 15
NOT_COORDINATOR = 16
ILLEGAL_GENERATION = 22
INCONSISTENT_GROUP_PROTOCOL = 23
UNKNOWN_MEMBER_ID = 25
INVALID_SESSION_TIMEOUT = 26
REBALANCE_IN_PROGRESS = 27
NON_EMPTY_GROUP = 68
GROUP_ID_NOT_FOUND = 69
MEMBER_ID_REQUIRED = 79
RETRIABLE_COORDINATOR_ERRORS = (COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE,
                                 NOT_COORDINATOR)

IO_TIMEOUT_S = 30.0


# ---- encoding ------------------------------------------------------------------

def i8(v):
    return struct.pack(">b", v)


def i16(v):
    return struct.pack(">h", v)


def i32(v):
    return struct.pack(">i", v)


def i64(v):
    return struct.pack(">q", v)


def string(s):
    if s is None:
        return i16(-1)
    data = s.encode() if isinstance(s, str) else s
    return i16(len(data)) + data


def blob(b):
    if b is None:
        return i32(-1)
    return i32(len(b)) + b


def array(items, encode):
    if items is None:
        return i32(-1)
    return i32(len(items)) + b"".join(encode(x) for x in items)


def subscription(topics, user_data=None, version=0):
    """ConsumerProtocolSubscription v0: version, [topic], user_data."""
    return i16(version) + array(topics, string) + blob(user_data)


def assignment(partitions_by_topic, user_data=None, version=0):
    """ConsumerProtocolAssignment v0: version, [topic, [partition]], user_data."""
    return (i16(version) + array(sorted(partitions_by_topic.items()),
                                 lambda tp: string(tp[0]) + array(tp[1], i32))
            + blob(user_data))


class Reader:
    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, n):
        assert self.at + n <= len(self.data), f"response too short at byte {self.at}"
        out = self.data[self.at:self.at + n]
        self.at += n
        return out

    def i8(self):
        return struct.unpack(">b", self.take(1))[0]

    def i16(self):
        return struct.unpack(">h", self.take(2))[0]

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def i64(self):
        return struct.unpack(">q", self.take(8))[0]

    def string(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode()

    def blob(self):
        n = self.i32()
        return None if n < 0 else self.take(n)

    def array(self, decode):
        n = self.i32()
        return None if n < 0 else [decode(self) for _ in range(n)]

    def done(self):
        assert self.at == len(self.data), f"{len(self.data) - self.at} bytes left in the response"


def decode_assignment(data):
    """{topic: [partitions]} from a ConsumerProtocolAssignment (empty bytes: {})."""
    if not data:
        return {}
    r = Reader(data)
    r.i16()
    topics = r.array(lambda r: (r.string(), r.array(lambda r: r.i32())))
    return {t: sorted(ps) for t, ps in topics or []}


# ---- connection ------------------------------------------------------------------

class Connection:
    """One blocking connection; one request in flight."""

    def __init__(self, port, client_id="group-raw-test"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT_S)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client_id = client_id
        self.correlation_id = 0

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _recv_exact(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("the broker closed the connection")
            out += chunk
        return out

    def call(self, api_key, version, body, flexible=False):
        """Request header v1 and response header v0; with `flexible`, request
        header v2 (no tagged fields sent) and response header v1."""
        self.correlation_id += 1
        payload = i16(api_key) + i16(version) + i32(self.correlation_id) + \
            string(self.client_id) + (b"\x00" if flexible else b"") + body
        self.sock.sendall(i32(len(payload)) + payload)
        size = struct.unpack(">i", self._recv_exact(4))[0]
        data = self._recv_exact(size)
        correlation_id = struct.unpack(">i", data[:4])[0]
        assert correlation_id == self.correlation_id, \
            f"correlation id {correlation_id}, expected {self.correlation_id}"
        if not flexible:
            return Reader(data[4:])
        assert data[4] == 0, "tagged fields in the response header"
        return Reader(data[5:])

    # FindCoordinator v1 (key 10)
    def find_coordinator(self, group):
        r = self.call(10, 1, string(group) + i8(0))
        out = dict(throttle=r.i32(), error=r.i16(), message=r.string(), node_id=r.i32(),
                   host=r.string(), port=r.i32())
        r.done()
        return out

    # JoinGroup v5 (key 11)
    def join_group(self, group, member_id="", protocols=None, session_timeout_ms=10000,
                   rebalance_timeout_ms=10000, instance_id=None, protocol_type="consumer",
                   topics=("t",)):
        if protocols is None:
            protocols = [("range", subscription(list(topics)))]
        body = (string(group) + i32(session_timeout_ms) + i32(rebalance_timeout_ms)
                + string(member_id) + string(instance_id) + string(protocol_type)
                + array(protocols, lambda p: string(p[0]) + blob(p[1])))
        r = self.call(11, 5, body)
        out = dict(throttle=r.i32(), error=r.i16(), generation=r.i32(), protocol=r.string(),
                   leader=r.string(), member_id=r.string(),
                   members=r.array(lambda r: dict(member_id=r.string(), instance_id=r.string(),
                                                  metadata=r.blob())))
        r.done()
        return out

    # SyncGroup v3 (key 14)
    def sync_group(self, group, generation, member_id, assignments=(), instance_id=None):
        body = (string(group) + i32(generation) + string(member_id) + string(instance_id)
                + array(list(assignments), lambda a: string(a[0]) + blob(a[1])))
        r = self.call(14, 3, body)
        out = dict(throttle=r.i32(), error=r.i16(), assignment=r.blob())
        r.done()
        return out

    # Heartbeat v3 (key 12)
    def heartbeat(self, group, generation, member_id, instance_id=None):
        r = self.call(12, 3, string(group) + i32(generation) + string(member_id)
                      + string(instance_id))
        out = dict(throttle=r.i32(), error=r.i16())
        r.done()
        return out

    # LeaveGroup v3 (key 13): batched members
    def leave_group(self, group, members):
        body = string(group) + array(members, lambda m: string(m[0]) + string(m[1]))
        r = self.call(13, 3, body)
        out = dict(throttle=r.i32(), error=r.i16(),
                   members=r.array(lambda r: dict(member_id=r.string(), instance_id=r.string(),
                                                  error=r.i16())))
        r.done()
        return out

    # OffsetCommit v7 (key 8): {topic: {partition: (offset, metadata)}}
    def offset_commit(self, group, offsets, generation=-1, member_id="", instance_id=None):
        def partition(item):
            p, (offset, metadata) = item
            return i32(p) + i64(offset) + i32(-1) + string(metadata)
        body = (string(group) + i32(generation) + string(member_id) + string(instance_id)
                + array(sorted(offsets.items()),
                        lambda t: string(t[0]) + array(sorted(t[1].items()), partition)))
        r = self.call(8, 7, body)
        throttle = r.i32()
        topics = r.array(lambda r: (r.string(), r.array(lambda r: (r.i32(), r.i16()))))
        r.done()
        return dict(throttle=throttle,
                    errors={(t, p): e for t, ps in topics for p, e in ps})

    # OffsetCommit v2 (key 8): a simple consumer's commit with retention_time -1
    def offset_commit_v2(self, group, offsets, generation=-1, member_id="", retention_ms=-1):
        def partition(item):
            p, (offset, metadata) = item
            return i32(p) + i64(offset) + string(metadata)
        body = (string(group) + i32(generation) + string(member_id) + i64(retention_ms)
                + array(sorted(offsets.items()),
                        lambda t: string(t[0]) + array(sorted(t[1].items()), partition)))
        r = self.call(8, 2, body)
        topics = r.array(lambda r: (r.string(), r.array(lambda r: (r.i32(), r.i16()))))
        r.done()
        return dict(errors={(t, p): e for t, ps in topics for p, e in ps})

    # OffsetFetch v5 (key 9); topics None: every committed partition.
    # Returns {error, offsets: {(topic, partition): (offset, metadata, error)}}
    def offset_fetch(self, group, topics=None, version=5):
        assert version in (1, 5)
        body = string(group) + array(None if topics is None else sorted(topics.items()),
                                     lambda t: string(t[0]) + array(t[1], i32))
        r = self.call(9, version, body)
        throttle = r.i32() if version >= 3 else 0

        def partition(r):
            index, offset = r.i32(), r.i64()
            if version >= 5:
                r.i32()  # committed_leader_epoch
            return index, (offset, r.string(), r.i16())
        topics_out = r.array(lambda r: (r.string(), r.array(partition)))
        error = r.i16() if version >= 2 else NONE
        r.done()
        return dict(throttle=throttle, error=error,
                    offsets={(t, p): v for t, ps in topics_out or [] for p, v in ps or []})

    # DescribeGroups v4 (key 15)
    def describe_groups(self, groups):
        r = self.call(15, 4, array(groups, string) + i8(0))
        throttle = r.i32()

        def group(r):
            g = dict(error=r.i16(), group_id=r.string(), state=r.string(),
                     protocol_type=r.string(), protocol=r.string())
            g["members"] = r.array(lambda r: dict(
                member_id=r.string(), instance_id=r.string(), client_id=r.string(),
                client_host=r.string(), metadata=r.blob(), assignment=r.blob()))
            g["authorized_operations"] = r.i32()
            return g
        groups_out = r.array(group)
        r.done()
        return dict(throttle=throttle, groups=groups_out)

    # ListGroups v2 (key 16)
    def list_groups(self):
        r = self.call(16, 2, b"")
        out = dict(throttle=r.i32(), error=r.i16(),
                   groups=r.array(lambda r: dict(group_id=r.string(), protocol_type=r.string())))
        r.done()
        return out

    # DeleteGroups v1 (key 42)
    def delete_groups(self, groups):
        r = self.call(42, 1, array(groups, string))
        throttle = r.i32()
        results = r.array(lambda r: (r.string(), r.i16()))
        r.done()
        return dict(throttle=throttle, errors=dict(results))


def retry_coordinator(call, timeout_s=30.0):
    """Repeats call() while its 'error' is a coordinator error (loading, moving), as
    clients do after FindCoordinator; returns the first other answer."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = call()
        if answer.get("error") not in RETRIABLE_COORDINATOR_ERRORS:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"coordinator error {answer['error']} for {timeout_s:.0f} s")
        time.sleep(0.05)


def join_as_only_member(conn, group, **kwargs):
    """JoinGroup v5 twice (MEMBER_ID_REQUIRED, then with the id); returns the answer
    of the second, which must be error 0. Retries coordinator errors."""
    first = retry_coordinator(lambda: conn.join_group(group, **kwargs))
    if first["error"] == MEMBER_ID_REQUIRED:
        kwargs = dict(kwargs, member_id=first["member_id"])
        first = retry_coordinator(lambda: conn.join_group(group, **kwargs))
    assert first["error"] == NONE, f"JoinGroup: error {first['error']}"
    return first
