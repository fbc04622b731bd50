"""A fault-injecting TCP proxy between Kafka clients and one broker, for the
idempotence tests: it makes clients retry Produce requests whose fate they cannot
know, which is what an idempotent producer must survive without duplicates.

`FaultProxy` listens on a loopback port and forwards every accepted connection to
the broker (127.0.0.1:upstream_port, set once the broker runs). It splits both
directions into Kafka frames (int32 size prefix) and rewrites nothing: every byte
it forwards is a byte it received. The broker must advertise the proxy's address
(advertised_kafka_addr), so that clients reconnect through it after Metadata.

Faults are decided per Produce request (API key 0), proxy-wide: after a seeded
random count of Produce requests (`every`, an inclusive range) the next one is hit
with one of these kinds (`weights`):

- swallow_response: the request is forwarded; its whole response frame is read
  from the broker and dropped, then both sides are closed. The broker appended,
  the client never learns it: its retry must be recognised as a duplicate.
- drop_mid_response: as above, but the first bytes of the response are forwarded
  before both sides are closed (a response cut mid-stream).
- drop_after_request: the whole request is forwarded and both sides are closed at
  once; whether the broker appended before it saw the close is a race.
- drop_mid_request: part of the request is forwarded, then both sides are closed;
  the broker never sees the request whole, so it must not append.

Closing the client side matters: a client waiting for a swallowed response would
otherwise sit out its request timeout (30 s or more) before retrying; a closed
connection makes it retry at once on a new one, which gives many realistic
retries per minute. Every other request in flight on that connection shares its
fate, as with a real network failure.

The random generator is seeded (`seed`); the seed, printed by the tests, replays
the same fault kinds and intervals (timing still varies: which batch a fault hits
depends on how the client batched). `faults` counts the faults that happened, by
kind; `enabled = False` turns the proxy into a plain forwarder.
"""
import random
import socket
import struct
import threading

API_PRODUCE = 0
FAULT_KINDS = ("swallow_response", "drop_mid_response", "drop_after_request",
               "drop_mid_request")
DEFAULT_WEIGHTS = {"swallow_response": 4, "drop_mid_response": 2,
                   "drop_after_request": 2, "drop_mid_request": 2}
RECV_BYTES = 1 << 20
# A frame larger than this is not Kafka from our clients; the connection is dropped.
FRAME_BYTES_MAX = 256 << 20


class FaultProxy:
    """One listening socket, two forwarding threads per connection."""

    def __init__(self, seed, every=(50, 150), weights=None, upstream_port=None):
        self.seed = seed
        self.every = every
        self.weights = dict(weights or DEFAULT_WEIGHTS)
        self.upstream_port = upstream_port
        self.enabled = True
        self.faults = {kind: 0 for kind in FAULT_KINDS}
        self.produce_requests = 0
        self.connections = 0
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._countdown = self._rng.randint(*self.every)
        self._links = set()
        self._closing = False
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def fault_count(self):
        with self._lock:
            return sum(self.faults.values())

    def summary(self):
        with self._lock:
            kinds = ", ".join(f"{k} {v}" for k, v in self.faults.items())
            return (f"{sum(self.faults.values())} faults ({kinds}) in {self.produce_requests} "
                    f"Produce requests over {self.connections} connections, seed {self.seed}")

    def drop_all(self):
        """Closes every open connection (both sides), as a broker crash would."""
        with self._lock:
            links = list(self._links)
        for link in links:
            link.close()

    def close(self):
        self._closing = True
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        self.drop_all()
        self._acceptor.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- internals -------------------------------------------------------------

    def _accept_loop(self):
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
            except OSError:
                client.close()  # broker down (being restarted): the client retries
                continue
            upstream.settimeout(None)
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link = _Link(self, client, upstream)
            with self._lock:
                self.connections += 1
                self._links.add(link)
            link.start()

    def _forget(self, link):
        with self._lock:
            self._links.discard(link)

    def _decide(self):
        """The fault for the next Produce request, or None; counts the request."""
        with self._lock:
            self.produce_requests += 1
            if not self.enabled:
                return None
            self._countdown -= 1
            if self._countdown > 0:
                return None
            self._countdown = self._rng.randint(*self.every)
            kinds = list(self.weights)
            kind = self._rng.choices(kinds, [self.weights[k] for k in kinds])[0]
            cut = self._rng.random()  # where a mid-frame drop cuts, as a fraction
            return kind, cut

    def _count(self, kind):
        with self._lock:
            self.faults[kind] += 1


class _Link:
    """One client connection and its broker connection."""

    def __init__(self, proxy, client, upstream):
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self.doomed = {}  # correlation id -> (kind, cut) for a response to hit
        self._lock = threading.Lock()
        self._closed = False

    def start(self):
        threading.Thread(target=self._pump, args=(self.client, self.upstream, True),
                         daemon=True).start()
        threading.Thread(target=self._pump, args=(self.upstream, self.client, False),
                         daemon=True).start()

    def close(self):
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for s in (self.client, self.upstream):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self.proxy._forget(self)

    def _pump(self, source, sink, requests):
        """Forwards whole frames from source to sink until either side closes."""
        buffer = bytearray()
        try:
            while True:
                chunk = source.recv(RECV_BYTES)
                if not chunk:
                    return
                buffer += chunk
                out = bytearray()
                while len(buffer) >= 4:
                    size = struct.unpack_from(">i", buffer)[0]
                    if size < 0 or size > FRAME_BYTES_MAX:
                        return
                    if len(buffer) < 4 + size:
                        break
                    frame = bytes(buffer[:4 + size])
                    del buffer[:4 + size]
                    action = (self._on_request(frame) if requests
                              else self._on_response(frame))
                    if action is None:
                        out += frame
                        continue
                    kind, cut = action
                    if kind != "swallow_response":
                        # Forwarded up to the cut: all of it, or part of it.
                        keep = len(frame) if kind == "drop_after_request" else \
                            max(1, min(len(frame) - 1, int(len(frame) * cut)))
                        out += frame[:keep]
                    if out:
                        sink.sendall(out)
                    self.proxy._count(kind)
                    return
                if out:
                    sink.sendall(out)
        except OSError:
            return
        finally:
            self.close()

    def _on_request(self, frame):
        """None to forward; (kind, cut) for a fault acting on this request now."""
        if len(frame) < 12 or struct.unpack_from(">h", frame, 4)[0] != API_PRODUCE:
            return None
        decision = self.proxy._decide()
        if decision is None:
            return None
        kind, cut = decision
        if kind in ("swallow_response", "drop_mid_response"):
            correlation_id = struct.unpack_from(">i", frame, 8)[0]
            with self._lock:
                self.doomed[correlation_id] = decision
            return None
        return decision

    def _on_response(self, frame):
        if len(frame) < 8 or not self.doomed:
            return None
        correlation_id = struct.unpack_from(">i", frame, 4)[0]
        with self._lock:
            return self.doomed.pop(correlation_id, None)
