"""Shared harness for the client integration tests: real tidelogd processes, TAP output.

A `Broker` runs tidelogd on free loopback ports in a fresh temporary data
directory, waits for its "tidelogd ready" line by polling with a deadline,
stops it with SIGTERM (asserting exit status 0) or SIGKILL, and can start it
again on the same data directory. `Tap` turns test functions into TAP cases
(`ok N - name`, `not ok N - name`, `# SKIP reason`), which meson's TAP
protocol records as one JUnit case each.

Environment: TIDELOGD is the broker binary (set by meson); TIDELOG_NODE_DEPS
is where kafkajs is installed for the kafkajs tests.

`Prometheus` runs a real Prometheus server (Debian's /usr/bin/prometheus, from
`./tidelog deps`) on a free loopback port with its storage in a temporary
directory, scraping given targets, and answers instant queries through its
HTTP API.
"""
import contextlib
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

PYTHON = "/usr/bin/python3"
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0


class SkipCase(Exception):
    """Raised by a test function to report `# SKIP reason`."""


def deadline_poll(condition, timeout_s, what, interval_s=0.05):
    """Calls condition() until it returns a truthy value; fails after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(interval_s)


def reserved_port():
    """(port, socket): a free loopback port, kept bound (not listening) with
    SO_REUSEPORT while the broker uses it. tidelogd binds with SO_REUSEPORT too, so
    without the hold another test's probe could pick the same port and the two
    brokers would share the kernel's connection spreading. A bound socket that
    does not listen never receives connections."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    # SO_REUSEADDR too: the admin listener (civetweb) binds with SO_REUSEADDR
    # only, which Linux allows beside a bound, non-listening socket that has it.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1], s


class Broker:
    """One tidelogd process; `settings` are config keys (message_max_bytes=...)."""

    def __init__(self, name="broker", config_yaml=None, command_prefix=None, **settings):
        """`config_yaml`: text of a config file passed with --config (for
        sections that have no flags, such as feeds); `command_prefix`: argv
        put before tidelogd's (e.g. `ip netns exec NS`)."""
        self.name = name
        self.config_yaml = config_yaml
        self.command_prefix = list(command_prefix or [])
        self.settings = dict(settings)
        self.temp_dir = pathlib.Path(tempfile.mkdtemp(prefix=f"tidelog-{name}-"))
        self.data_dir = self.temp_dir / "data"
        self.port = None
        self.admin_port = None
        self._port_holds = []
        self.process = None
        self.log_path = None
        self._starts = 0

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    def start(self):
        """Starts tidelogd and returns once it logged 'tidelogd ready'.

        The port is chosen once and kept across restarts; a port that another
        process grabbed between our probe and tidelogd's bind is retried on a
        first start only.
        """
        binary = os.environ.get("TIDELOGD")
        assert binary, "TIDELOGD must name the tidelogd binary"
        attempts = 3 if self.port is None else 1
        for attempt in range(attempts):
            if self.port is None or attempt > 0:
                self._release_ports()
                self.port, hold = reserved_port()
                self._port_holds.append(hold)
                self.admin_port, hold = reserved_port()
                self._port_holds.append(hold)
            if self._start_once(binary):
                return self
        raise AssertionError(f"tidelogd did not start; log:\n{self.log_text()}")

    def _start_once(self, binary):
        self._starts += 1
        self.log_path = self.temp_dir / f"tidelogd-{self._starts}.log"
        args = self.command_prefix + [binary, "--data-dir", str(self.data_dir),
                "--kafka-addr", self.bootstrap, "--admin-addr", f"127.0.0.1:{self.admin_port}",
                "--smp", "2", "--min-free-bytes", "0", "--cpu-pinning", "floating",
                "--cache-bytes-per-shard", str(16 << 20)]
        if self.config_yaml is not None:
            config_path = self.temp_dir / "tidelog.yaml"
            config_path.write_text(self.config_yaml)
            args += ["--config", str(config_path)]
        for key, value in self.settings.items():
            if isinstance(value, bool):
                value = "true" if value else "false"
            args += ["--" + key.replace("_", "-"), str(value)]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if "tidelogd ready" in self.log_text():
                return True
            if self.process.poll() is not None:
                return False
            time.sleep(0.02)
        self.process.kill()
        self.process.wait()
        raise AssertionError(f"tidelogd not ready within {READY_TIMEOUT_S} s:\n{self.log_text()}")

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except (OSError, AttributeError):
            return ""

    def stop(self):
        """SIGTERM; asserts a clean exit (status 0). A broker that already exited
        (crashed) fails here, with its log."""
        if self.process is None:
            return
        if self.process.poll() is not None:
            status, self.process = self.process.returncode, None
            raise AssertionError(f"tidelogd had already exited with {status} before SIGTERM:\n"
                                 f"{self.log_text()}")
        self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"tidelogd ignored SIGTERM for {STOP_TIMEOUT_S} s")
        assert status == 0, f"tidelogd exited with {status} on SIGTERM:\n{self.log_text()}"

    def kill(self):
        """SIGKILL: a crash, as far as the data directory can tell."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def restart(self, hard=False):
        self.kill() if hard else self.stop()
        return self.start()

    def _release_ports(self):
        for hold in self._port_holds:
            hold.close()
        self._port_holds = []

    def close(self):
        """Stops the broker if still running and removes the temporary directory."""
        try:
            if self.process is not None and self.process.poll() is None:
                self.stop()
        finally:
            self.kill()
            self._release_ports()
            shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


class Tap:
    """Prints a TAP stream; one `case` per test. Output is flushed per line."""

    def __init__(self):
        self.number = 0
        self.failures = 0
        self._lock = threading.Lock()
        print("TAP version 13", flush=True)

    def comment(self, text):
        for line in str(text).splitlines():
            print(f"# {line}", flush=True)

    def case(self, name, function, *args, **kwargs):
        """Runs function(*args); an exception is a failure, SkipCase a skip."""
        started = time.monotonic()
        try:
            function(*args, **kwargs)
        except SkipCase as skip:
            self._emit("ok", name, f" # SKIP {skip}")
            return
        except Exception:  # any failure, assertion or client error, fails the case
            self.failures += 1
            self._emit("not ok", name)
            self.comment(traceback.format_exc())
            return
        self._emit("ok", name)
        self.comment(f"{name}: {time.monotonic() - started:.2f} s")

    def skip(self, name, reason):
        self._emit("ok", name, f" # SKIP {reason}")

    def _emit(self, status, name, directive=""):
        name = name.replace("#", "no.")  # '#' would start a TAP directive
        with self._lock:
            self.number += 1
            print(f"{status} {self.number} - {name}{directive}", flush=True)

    def finish(self):
        print(f"1..{self.number}", flush=True)
        return 1 if self.failures else 0


def run_cases(cases, broker_settings=None):
    """Runs [(name, function(broker))...] against one broker; exits with TAP status.

    A broker that cannot start fails every case instead of hiding them.
    """
    tap = Tap()
    broker = Broker(**(broker_settings or {}))
    try:
        try:
            broker.start()
        except Exception:
            tap.comment(traceback.format_exc())
            for name, _ in cases:
                tap.case(name, _raise, "broker did not start")
            sys.exit(tap.finish())
        for name, function in cases:
            tap.case(name, function, broker)
        tap.case("broker stops cleanly on SIGTERM (exit 0)", broker.stop)
    finally:
        broker.close()
    sys.exit(tap.finish())


def _raise(message):
    raise AssertionError(message)


def unique_topic(prefix):
    return f"{prefix}-{os.getpid()}-{time.monotonic_ns() % 1_000_000}"


@contextlib.contextmanager
def elapsed():
    """with elapsed() as t: ...; t() is seconds since entry."""
    start = time.monotonic()
    yield lambda: time.monotonic() - start


# ---- Prometheus -------------------------------------------------------------

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
PROMETHEUS_READY_TIMEOUT_S = 30.0


def free_port():
    """A loopback port that was free a moment ago, for servers that bind without
    SO_REUSEPORT or SO_REUSEADDR (reserved_port's hold would make their bind
    fail); the caller retries when another process took it meanwhile."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout_s=10):
    """(status, body as text) of a GET; HTTP error statuses are returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as answer:
            return answer.status, answer.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


class Prometheus:
    """A real Prometheus server scraping `targets` (HOST:PORT of /metrics) as job
    `job` every `scrape_interval`, with its TSDB in a fresh temporary directory that
    close() removes. start() returns once /-/ready answers 200."""

    def __init__(self, targets, scrape_interval="1s", job="tidelog"):
        self.targets = list(targets)
        self.scrape_interval = scrape_interval
        self.job = job
        self.temp_dir = pathlib.Path(tempfile.mkdtemp(prefix="tidelog-prometheus-"))
        self.config_path = self.temp_dir / "prometheus.yml"
        self.port = None
        self.process = None
        self.log_path = self.temp_dir / "prometheus.log"

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def config_text(self):
        targets = "".join(f"          - {t}\n" for t in self.targets)
        return (f"global:\n  scrape_interval: {self.scrape_interval}\n"
                f"  evaluation_interval: {self.scrape_interval}\n"
                f"scrape_configs:\n  - job_name: {self.job}\n"
                f"    static_configs:\n      - targets:\n{targets}")

    def start(self):
        if not os.access(PROMETHEUS, os.X_OK):
            raise AssertionError(f"{PROMETHEUS} is not installed (./tidelog deps installs prometheus)")
        self.config_path.write_text(self.config_text())
        for _ in range(3):  # a port taken between our probe and Prometheus' bind: retry
            self.port = free_port()
            if self._start_once():
                return self
        raise AssertionError(f"prometheus did not start; log:\n{self.log_text()}")

    def _start_once(self):
        args = [PROMETHEUS, f"--config.file={self.config_path}",
                f"--storage.tsdb.path={self.temp_dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + PROMETHEUS_READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if http_get(f"{self.url}/-/ready", timeout_s=2)[0] == 200:
                    return True
            except OSError:
                pass  # not listening yet
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"prometheus not ready within {PROMETHEUS_READY_TIMEOUT_S} s:\n"
                             f"{self.log_text()}")

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def api(self, path, **params):
        """GET /api/v1/PATH; returns `data` of a successful answer. A failed one
        (a PromQL parse error, say) raises AssertionError with Prometheus' message."""
        query = urllib.parse.urlencode(params, doseq=True)
        status, body = http_get(f"{self.url}/api/v1/{path}?{query}")
        try:
            answer = json.loads(body)
        except ValueError:
            raise AssertionError(f"/api/v1/{path}: HTTP {status}, not JSON: {body[:500]}")
        if answer.get("status") != "success":
            raise AssertionError(f"/api/v1/{path} {params}: {answer.get('errorType')}: "
                                 f"{answer.get('error')}")
        return answer["data"]

    def query(self, expr):
        """Instant query: [(labels dict, float value)]; a scalar is one unlabelled row."""
        data = self.api("query", query=expr)
        if data["resultType"] == "scalar":
            return [({}, float(data["result"][1]))]
        if data["resultType"] == "vector":
            return [(r["metric"], float(r["value"][1])) for r in data["result"]]
        raise AssertionError(f"{expr}: unexpected result type {data['resultType']}")

    def value(self, expr):
        """The value of a query that yields one sample, or None when it yields none."""
        rows = self.query(expr)
        assert len(rows) <= 1, f"{expr}: {len(rows)} series, expected at most one: {rows[:5]}"
        return rows[0][1] if rows else None

    def stop(self):
        """SIGTERM, then SIGKILL after STOP_TIMEOUT_S."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def close(self):
        """Stops the server and removes its temporary directory."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


# ---- kafkajs, run through node ---------------------------------------------

KAFKAJS_VERSION = "2.2.4"
KAFKAJS_SNAPPY_VERSION = "1.1.0"
HERE = pathlib.Path(__file__).resolve().parent


def node_deps_dir():
    """Installs kafkajs (and the pure-JS snappy codec) once per build directory."""
    deps = pathlib.Path(os.environ["TIDELOG_NODE_DEPS"])
    marker = deps / "node_modules" / "kafkajs" / "package.json"
    wanted = f'"version": "{KAFKAJS_VERSION}"'
    if marker.exists() and wanted in marker.read_text() and \
            (deps / "node_modules" / "kafkajs-snappy").exists():
        return deps
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise SkipCase("node or npm is not installed (./tidelog deps installs nodejs and npm)")
    deps.mkdir(parents=True, exist_ok=True)
    # npm writes to a temporary prefix then renames, so parallel tests never see half a tree.
    staging = pathlib.Path(tempfile.mkdtemp(prefix="node-deps-", dir=deps.parent))
    try:
        result = subprocess.run(
            ["npm", "install", "--prefix", str(staging), "--no-audit", "--no-fund",
             "--no-package-lock", f"kafkajs@{KAFKAJS_VERSION}",
             f"kafkajs-snappy@{KAFKAJS_SNAPPY_VERSION}"],
            capture_output=True, text=True, timeout=240)
        if result.returncode != 0:
            raise AssertionError(f"npm install failed:\n{result.stdout}\n{result.stderr}")
        target = deps / "node_modules"
        if not (marker.exists() and wanted in marker.read_text()):
            shutil.rmtree(target, ignore_errors=True)
            try:
                os.rename(staging / "node_modules", target)
            except OSError:
                pass  # another test installed it meanwhile
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return deps


def kafkajs(request, timeout_s=60):
    """Runs one kafkajs_client.js operation; returns its JSON answer."""
    deps = node_deps_dir()
    env = dict(os.environ, NODE_PATH=str(deps / "node_modules"),
               KAFKAJS_NO_PARTITIONER_WARNING="1")
    result = subprocess.run(["node", str(HERE / "kafkajs_client.js"), json.dumps(request)],
                            capture_output=True, text=True, timeout=timeout_s, env=env)
    if result.returncode != 0:
        raise AssertionError(f"kafkajs {request.get('op')} failed ({result.returncode}):\n"
                             f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])
