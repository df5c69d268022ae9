"""Integration-test harness for influx-relayd (Python 3 stdlib only).

It starts a real `influxd` (Debian's influxdb 1.6) on free loopback ports in
a private temp dir, starts the built relay in the foreground with a generated
INI file, and gives tests small helpers to write, read back and compare
points.  Each test file is an executable script following the automake
convention: exit 0 = pass, 1 = fail, 77 = skip, 99 = hard error (the harness
itself could not run, e.g. the daemon is not built).

Environment:
  RELAYD, RELAYCTL      paths of the built binaries (set by `make check`)
  NULLSINK, LOADGEN     the helpers of tests/bench (set by `make check`)
  abs_top_builddir      used to find src/influx-relayd when RELAYD is unset
  INFLUXD               influxd binary (default /usr/bin/influxd)
  VICTORIA_METRICS      victoria-metrics binary, for test_vm.py (default
                        /usr/bin/victoria-metrics)
  KEEP_TMP=1            keep temp dirs (logs, configs) for post-mortem
"""

import json
import os
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

HERE = os.path.dirname(os.path.abspath(__file__))
EXIT_PASS, EXIT_FAIL, EXIT_SKIP, EXIT_ERROR = 0, 1, 77, 99


class TestFailure(AssertionError):
    """A test's expectation was not met; the message says expected vs found."""


class TestSkip(Exception):
    """The test cannot run here (missing tool): skipped, not failed."""


# ---------------------------------------------------------------- paths


def _builddir_binary(name, env_var):
    """Find a built binary: $ENV, $abs_top_builddir/src, else ../../src."""
    if os.environ.get(env_var):
        return os.environ[env_var]
    top = os.environ.get("abs_top_builddir")
    if top:
        return os.path.join(top, "src", name)
    return os.path.normpath(os.path.join(HERE, "..", "..", "src", name))


def relayd_path():
    """Path of the influx-relayd binary under test."""
    return _builddir_binary("influx-relayd", "RELAYD")


def bench_tool_path(name):
    """Path of a helper built by `make check` under tests/bench (nullsink,
    loadgen): $NULLSINK / $LOADGEN, else next to this directory."""
    if os.environ.get(name.upper()):
        return os.environ[name.upper()]
    top = os.environ.get("abs_top_builddir")
    if top:
        return os.path.join(top, "tests", "bench", name)
    return os.path.normpath(os.path.join(HERE, "..", "bench", name))


def relayctl_path():
    """Path of the influx-relayctl binary under test."""
    return _builddir_binary("influx-relayctl", "RELAYCTL")


def influxd_path():
    """Path of the real influxd the tests write through to."""
    return os.environ.get("INFLUXD", "/usr/bin/influxd")


def victoria_metrics_path():
    """Path of the VictoriaMetrics single-node binary (Debian's
    victoria-metrics package)."""
    return os.environ.get("VICTORIA_METRICS", "/usr/bin/victoria-metrics")


# ---------------------------------------------------------------- utilities


def free_port():
    """Return a loopback TCP port that was free a moment ago.

    There is a small race between closing and the server binding it; InfluxD
    retries with new ports if its bind fails, so parallel tests stay safe.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, what, interval=0.05):
    """Poll predicate() until it returns a truthy value and return that value.

    On timeout raise TestFailure naming `what` and the last value seen, so a
    failing test says what it was waiting for instead of hanging.
    """
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise TestFailure("timed out after %.1fs waiting for %s "
                              "(last value: %s)" % (timeout, what,
                                                    _short(last)))
        time.sleep(interval)


def tail(text, lines=30):
    """Last lines of a log, indented, for failure messages."""
    rows = text.rstrip("\n").split("\n")[-lines:]
    return "\n".join("    | " + r for r in rows)


def _short(value, limit=300):
    """repr() cut to a readable length."""
    r = repr(value)
    return r if len(r) <= limit else r[:limit] + "...(%d chars)" % len(r)


def _read_text(path):
    """File contents as text, or '' if it does not exist (yet)."""
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def _kill_wait(proc, sig=signal.SIGTERM, timeout=10):
    """Signal a child and reap it; SIGKILL if it ignores the signal."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def _rmtree(path):
    """Remove a temp dir unless KEEP_TMP asks to keep it for debugging."""
    if os.environ.get("KEEP_TMP"):
        print("  (kept %s)" % path)
        return
    shutil.rmtree(path, ignore_errors=True)


# ------------------------------------------------------------ line protocol


def _escape(s, chars):
    """Backslash-escape each of chars in s (line protocol escaping)."""
    for c in chars:
        s = s.replace(c, "\\" + c)
    return s


def _field_value(v, bool_words=("true", "false")):
    """Render a Python value as a typed line-protocol field value."""
    if isinstance(v, bool):
        return bool_words[0] if v else bool_words[1]
    if isinstance(v, int):
        return "%di" % v
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return '"%s"' % v.replace("\\", "\\\\").replace('"', '\\"')
    raise TypeError("unsupported field value %r" % (v,))


def to_line(measurement, tags, fields, time_ns=None,
            bool_words=("true", "false")):
    """Render one point as InfluxDB line protocol (without newline).

    Tags are sorted as InfluxDB does; escaping follows InfluxDB 1.x.
    bool_words picks one of InfluxDB's spellings, e.g. ("T", "F").
    """
    out = _escape(measurement, ", ")
    for k in sorted(tags):
        out += ",%s=%s" % (_escape(k, ",= "), _escape(tags[k], ",= "))
    out += " " + ",".join("%s=%s" % (_escape(k, ",= "),
                                     _field_value(v, bool_words))
                          for k, v in fields.items())
    if time_ns is not None:
        out += " %d" % time_ns
    return out


# Lines InfluxDB 1.6 answers with HTTP 400 (test_harness.py checks this
# against the real influxd), so the relay must reject them at ingest.
INVALID_LINES = [
    b"m", b"m,t=a", b"m v=", b"m v=12ii", b"m,t= v=1", b"m,t v=1",
    b"m,=a v=1", b"m,t=a, v=1", b"m,t=a,t=b v=1", b"m =1", b"m v=1,",
    b"m v=1,=2", b"m v=9223372036854775808i", b"m v=1 12x", b"m v=1 1 2",
    b"m v=1i 1.5", b"m v=1 +1", b"m v=1 9223372036854775807",
    b"m v=1 -9223372036854775807", b"m v=abc", b"m v=t1", b"m v=truee",
    b"m v=+1", b"m v=-", b"m v=.", b"m v=1e", b"m v=1.2.3", b"m v=0x10",
    b"m v=NaN", b"m v=inf", b" v=1", b"m\tv=1", b"m\\ v=1",
    b"m v=1i\x00 5",
]


def point(measurement, tags, fields, time_ns):
    """The dict shape InfluxD.points() returns, for building expectations."""
    return {"measurement": measurement, "tags": dict(tags),
            "fields": dict(fields), "time": time_ns}


def point_key(p):
    """Hashable identity of a point, including each field's Python type.

    The type is part of the key because 1 == 1.0 == True in Python, while
    InfluxDB distinguishes integer, float and boolean fields.
    """
    return (p["measurement"], p["time"],
            frozenset(p["tags"].items()),
            frozenset((k, type(v).__name__, v)
                      for k, v in p["fields"].items()))


def assert_same_points(expected, got, what="points"):
    """Fail unless the two collections hold exactly the same points.

    Compares full sets (measurement, tags, typed fields, time), and reports
    a few missing and unexpected points so the difference is obvious.
    """
    exp = {point_key(p): p for p in expected}
    have = {point_key(p): p for p in got}
    if len(exp) != len(list(expected)):
        raise ValueError("expected set has duplicate points")
    missing = [exp[k] for k in exp if k not in have]
    extra = [have[k] for k in have if k not in exp]
    if not missing and not extra and len(have) == len(list(got)):
        return
    msg = ["%s differ: expected %d, found %d in InfluxDB (%d missing, "
           "%d unexpected)" % (what, len(exp), len(list(got)), len(missing),
                               len(extra))]
    for label, rows in (("missing", missing), ("unexpected", extra)):
        for p in sorted(rows, key=lambda p: p["time"])[:5]:
            msg.append("  %s: %s" % (label, _short(p, 400)))
    raise TestFailure("\n".join(msg))


def unique_db(prefix):
    """A database name no other test (or parallel run) uses."""
    return "%s_%d_%d" % (prefix, os.getpid(), time.monotonic_ns() % 10**9)


def settle(read, count, timeout, linger):
    """read() once it returns count items, or whatever it returns when the
    timeout expires: the caller's comparison then says exactly what is
    missing.  A re-read `linger` seconds after reaching count also catches
    extra items (duplicates) sent late."""
    deadline = time.monotonic() + timeout
    while len(read()) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(linger)
    return read()


def settle_points(influx, db, count, timeout=10):
    """Points of db once it holds count points (settle())."""
    return settle(lambda: influx.all_points(db), count, timeout, 0.3)


def check(condition, message):
    """Fail with message unless condition holds."""
    if not condition:
        raise TestFailure(message)


def check_equal(expected, found, what):
    """Fail with an 'expected X, found Y' message unless equal."""
    if expected != found:
        raise TestFailure("%s: expected %s, found %s"
                          % (what, _short(expected), _short(found)))


# ---------------------------------------------------------------- InfluxD


class InfluxError(Exception):
    """InfluxDB answered with an error (HTTP status or a result error)."""


class _LocalServer:
    """What a server the tests start on a free loopback port shares: its
    process (`proc`), log file and temp dir, stopped and removed as a
    context manager."""

    def stop(self):
        """SIGTERM it, wait for it, and remove its temp dir."""
        if self.proc is not None:
            _kill_wait(self.proc, signal.SIGTERM, timeout=10)
        if self._log_file:
            self._log_file.close()
            self._log_file = None
        if self.dir:
            _rmtree(self.dir)
            self.dir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    @property
    def url(self):
        """Base URL, e.g. http://127.0.0.1:40123 (no trailing slash)."""
        return "http://127.0.0.1:%d" % self.port

    def log(self):
        """The server's stdout+stderr so far."""
        return _read_text(self.log_path)


class InfluxD(_LocalServer):
    """A private influxd on free loopback ports, in its own temp dir.

    Each instance has its own HTTP and RPC ports (the RPC bind-address would
    otherwise default to 8088 and make parallel runs collide) and its own
    meta/data/wal dirs, removed by stop().
    """

    START_TIMEOUT = 20.0
    START_TRIES = 3
    NAME, PACKAGE = "influxd", "influxdb"

    @staticmethod
    def binary():
        return influxd_path()

    def __init__(self, max_body_size=None):
        """Start influxd; raises InfluxError with the log tail on failure."""
        self.max_body_size = max_body_size
        self.dir = tempfile.mkdtemp(prefix="influxd-")
        self.log_path = os.path.join(self.dir, "influxd.log")
        self.proc = None
        self._log_file = None
        try:
            self._start_with_retries()
        except BaseException:
            self.stop()
            raise

    # -- lifecycle

    def _start_with_retries(self):
        """Start, retrying on fresh ports if another process took ours."""
        for attempt in range(self.START_TRIES):
            self.port, self.rpc_port = free_port(), free_port()
            if self._start_once():
                return
            log = _read_text(self.log_path)
            if "address already in use" not in log or \
                    attempt == self.START_TRIES - 1:
                raise InfluxError("influxd did not answer /ping within "
                                  "%.0fs on %s\n%s" % (self.START_TIMEOUT,
                                                       self.url, tail(log)))

    def _start_once(self):
        """Launch influxd once; True when /ping answers 204."""
        conf = os.path.join(self.dir, "influxd.conf")
        with open(conf, "w") as f:
            f.write(self._config_text())
        if self._log_file:
            self._log_file.close()
        self._log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [influxd_path(), "-config", conf], stdin=subprocess.DEVNULL,
            stdout=self._log_file, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + self.START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if self._ping() == 204:
                return True
            time.sleep(0.05)
        _kill_wait(self.proc, signal.SIGKILL)
        return False

    def _config_text(self):
        """influxd 1.6 TOML config (keys as printed by `influxd config`)."""
        d = self.dir
        body = "" if self.max_body_size is None else \
            "  max-body-size = %d\n" % self.max_body_size
        # Debian's build knows `reporting-enabled`; upstream 1.x spells it
        # `reporting-disabled`.  influxd ignores keys it does not know.
        return ('reporting-disabled = true\n'
                'reporting-enabled = false\n'
                'bind-address = "127.0.0.1:%d"\n'
                '[meta]\n  dir = "%s/meta"\n'
                '[data]\n  dir = "%s/data"\n  wal-dir = "%s/wal"\n'
                '  query-log-enabled = false\n'
                '[http]\n  bind-address = "127.0.0.1:%d"\n'
                '  log-enabled = false\n  pprof-enabled = false\n%s'
                '[monitor]\n  store-enabled = false\n'
                '[continuous_queries]\n  enabled = false\n'
                '[logging]\n  suppress-logo = true\n'
                % (self.rpc_port, d, d, d, self.port, body))

    def _ping(self):
        """HTTP status of GET /ping, or None while nothing answers."""
        try:
            with urllib.request.urlopen(self.url + "/ping", timeout=1) as r:
                return r.status
        except (urllib.error.URLError, OSError):
            return None

    # -- HTTP API

    def _request(self, path, params, data=None):
        """POST/GET and return (status, body text), even for HTTP errors."""
        url = "%s%s?%s" % (self.url, path, urllib.parse.urlencode(params))
        req = urllib.request.Request(url, data=data,
                                     method="POST" if data is not None
                                     else "GET")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8", "replace")

    def query(self, q, db=None):
        """Run an InfluxQL statement; return the parsed JSON answer.

        POST works for every statement in 1.x (GET refuses CREATE/DROP in
        later versions).  Times come back as integer ns (epoch=ns).  Raises
        InfluxError on an HTTP error or a per-statement error.
        """
        params = {"q": q, "epoch": "ns"}
        if db is not None:
            params["db"] = db
        status, body = self._request("/query", params, data=b"")
        if status != 200:
            raise InfluxError("query %r: HTTP %d %s" % (q, status, body))
        answer = json.loads(body)
        for res in answer.get("results", []):
            if "error" in res:
                raise InfluxError("query %r: %s" % (q, res["error"]))
        return answer

    def create_database(self, db):
        """CREATE DATABASE (idempotent in InfluxDB)."""
        self.query('CREATE DATABASE "%s"' % db)

    def drop_database(self, db):
        """DROP DATABASE."""
        self.query('DROP DATABASE "%s"' % db)

    def databases(self):
        """Names of all databases."""
        res = self.query("SHOW DATABASES")["results"][0]
        return [row[0] for s in res.get("series", [])
                for row in s.get("values", [])]

    def write(self, db, body, precision="ns", check=True):
        """POST /write directly (bypassing the relay); return (status, text).

        body is str, bytes or a list of lines.  With check, any non-204
        answer raises InfluxError.
        """
        if isinstance(body, (list, tuple)):
            body = "\n".join(body) + "\n"
        if isinstance(body, str):
            body = body.encode("utf-8")
        status, text = self._request("/write",
                                     {"db": db, "precision": precision},
                                     data=body)
        if check and status != 204:
            raise InfluxError("write to %s: HTTP %d %s" % (db, status, text))
        return status, text

    def measurements(self, db):
        """Names of the measurements in db ([] if db does not exist)."""
        if db not in self.databases():
            return []
        res = self.query("SHOW MEASUREMENTS", db=db)["results"][0]
        return [row[0] for s in res.get("series", [])
                for row in s.get("values", [])]

    def field_types(self, db, measurement):
        """{field key: 'float'|'integer'|'string'|'boolean'}."""
        q = 'SHOW FIELD KEYS FROM "%s"' % _ident(measurement)
        res = self.query(q, db=db)["results"][0]
        return {row[0]: row[1] for s in res.get("series", [])
                for row in s.get("values", [])}

    def points(self, db, measurement):
        """All points of a measurement as dicts: measurement, time, tags,
        fields.  Returns [] if the database does not exist (yet).

        GROUP BY * moves tags out of the columns so tags and fields can be
        told apart; tags a series lacks come back as "" and are dropped
        (InfluxDB stores no empty tag values).  Float fields are converted
        with the field's declared type, because JSON prints 3.0 as 3.
        """
        if db not in self.databases():
            return []
        types = self.field_types(db, measurement)
        q = 'SELECT * FROM "%s" GROUP BY *' % _ident(measurement)
        res = self.query(q, db=db)["results"][0]
        out = []
        for series in res.get("series", []):
            tags = {k: v for k, v in series.get("tags", {}).items() if v}
            cols = series["columns"]
            for row in series["values"]:
                fields = {c: _typed(v, types.get(c))
                          for c, v in zip(cols[1:], row[1:]) if v is not None}
                out.append(point(measurement, tags, fields, row[0]))
        return out

    def all_points(self, db):
        """Points of every measurement in db."""
        return [p for m in self.measurements(db) for p in self.points(db, m)]


def _ident(name):
    """Escape a name for use inside a double-quoted InfluxQL identifier."""
    return name.replace("\\", "\\\\").replace('"', '\\"')


def _typed(value, influx_type):
    """Restore the Python type JSON lost (floats that look like ints)."""
    if influx_type == "float" and isinstance(value, int) \
            and not isinstance(value, bool):
        return float(value)
    return value


# ------------------------------------------------------- VictoriaMetrics


class VictoriaMetrics(_LocalServer):
    """A private VictoriaMetrics single node (Debian's victoria-metrics,
    1.79) on a free loopback port, with its own data directory.

    It takes line protocol at /write (v1: `db` becomes a label),
    /api/v2/write, and the same under /influx/.  It keeps numbers only,
    names a field MEASUREMENT_FIELD and keeps milliseconds.  samples()
    reads back exactly what it stored, through /api/v1/export.
    Like InfluxD it has url, proc, log() and stop(), so influxd_down() and
    influxd_up() stop and restart it on the same port and data.
    """

    START_TIMEOUT = 20.0
    START_TRIES = 3
    NAME, PACKAGE = "victoria-metrics", "victoria-metrics"

    @staticmethod
    def binary():
        return victoria_metrics_path()

    def __init__(self, args=()):
        """Start it (args: extra flags, e.g. -dedup.minScrapeInterval=1ms);
        raises InfluxError with the log tail on failure."""
        self.args = list(args)
        self.dir = tempfile.mkdtemp(prefix="vm-")
        self.log_path = os.path.join(self.dir, "vm.log")
        self.proc = None
        self._log_file = None
        try:
            for attempt in range(self.START_TRIES):
                self.port = free_port()
                if self._start_once():
                    return
                log = _read_text(self.log_path)
                if "address already in use" not in log or \
                        attempt == self.START_TRIES - 1:
                    raise InfluxError("victoria-metrics did not answer "
                                      "/health on %s\n%s"
                                      % (self.url, tail(log)))
        except BaseException:
            self.stop()
            raise

    def _start_once(self):
        """Launch it once; True when /health answers 200.  The search
        flags make a point readable as soon as it is flushed (no cache,
        no "too recent" offset); memory is capped for parallel tests."""
        if self._log_file:
            self._log_file.close()
        self._log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.binary(), "-storageDataPath", os.path.join(self.dir, "data"),
             "-httpListenAddr", "127.0.0.1:%d" % self.port,
             "-search.latencyOffset=0", "-search.disableCache",
             "-memory.allowedBytes=256MB", "-loggerLevel=WARN"] + self.args,
            stdin=subprocess.DEVNULL, stdout=self._log_file,
            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + self.START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if self._get("/health")[0] == 200:
                return True
            time.sleep(0.05)
        _kill_wait(self.proc, signal.SIGKILL)
        return False

    def _get(self, path, data=None):
        """(status, body text) of a GET, or a POST of form data; (None,
        '') while nothing answers."""
        body = None if data is None else \
            urllib.parse.urlencode(data, doseq=True).encode()
        try:
            with urllib.request.urlopen(self.url + path, data=body,
                                        timeout=30) as r:
                return r.status, r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8", "replace")
        except (urllib.error.URLError, OSError):
            return None, ""

    def export(self, match='{__name__!=""}'):
        """The stored series matching a selector, as /api/v1/export gives
        them: [{"metric": {...}, "values": [...], "timestamps": [...]}].
        Recent points are flushed to searchable storage first."""
        self._get("/internal/force_flush")
        status, text = self._get("/api/v1/export", {"match[]": match})
        if status != 200:
            raise InfluxError("export %s: HTTP %s %s" % (match, status, text))
        return [json.loads(l) for l in text.splitlines() if l.strip()]

    def samples(self, match='{__name__!=""}'):
        """Every stored sample as (name, labels, value, ms), sorted;
        labels a sorted tuple of (key, value) pairs, value a float."""
        out = []
        for s in self.export(match):
            m = dict(s["metric"])
            name = m.pop("__name__")
            labels = tuple(sorted(m.items()))
            out.extend((name, labels, float(v), t)
                       for v, t in zip(s["values"], s["timestamps"]))
        return sorted(out)

    def settle_samples(self, match, count, timeout=15):
        """samples(match) once there are count of them (settle())."""
        return settle(lambda: self.samples(match), count, timeout, 0.5)

    def requests(self, path):
        """VictoriaMetrics' own count of HTTP requests to `path` (its
        metric names every influx write path /influx/write)."""
        status, text = self._get("/metrics")
        total = 0
        for line in text.splitlines():
            if line.startswith("vm_http_requests_total{") and \
                    'path="%s"' % path in line:
                total += int(float(line.rsplit(" ", 1)[1]))
        return total


def vm_samples(measurement, tags, fields, time_ns, db=None):
    """The samples VictoriaMetrics stores for one point, as samples()
    lists them: one per field, named MEASUREMENT_FIELD, the tags (and the
    v1 database as label `db`) as labels, numbers only (a boolean is 1 or
    0), the time cut to milliseconds."""
    labels = dict(tags)
    if db is not None:
        labels["db"] = db
    return [("%s_%s" % (measurement, k), tuple(sorted(labels.items())),
             float(v), time_ns // 1000000) for k, v in fields.items()]


# ---------------------------------------------------------------- Relay


def relay_config(influx, database, target=None, listener=None,
                 relayd=None):
    """The standard one-listener, one-target relay config as a dict.

    Values containing @DIR@ are replaced by the relay's temp dir.  The extra
    dicts override or add keys of the [target:local], [listener:main] and
    [relayd] sections.  The target flushes every 200 ms exactly (no
    flush_jitter: tests time their flushes; test_fleet.py tests the
    default jitter).
    """
    cfg = {
        "relayd": {"log_level": "debug", "control_socket": ""},
        "listener:main": {"path": "@DIR@/relay.sock", "target": "local"},
        "target:local": {"url": influx.url if influx else "http://127.0.0.1:9",
                         "database": database, "flush_interval": "200ms",
                         "flush_jitter": "0s"},
    }
    cfg["relayd"].update(relayd or {})
    cfg["listener:main"].update(listener or {})
    cfg["target:local"].update(target or {})
    return cfg


def ini_text(sections):
    """Render {section: {key: value}} as INI text (order preserved)."""
    out = []
    for name, keys in sections.items():
        out.append("[%s]" % name)
        out.extend("%s = %s" % (k, v) for k, v in keys.items())
        out.append("")
    return "\n".join(out)


class Relay:
    """The built influx-relayd, run in the foreground from a temp dir.

    The config is written to <dir>/relayd.ini; stdout+stderr go to
    <dir>/relayd.log.  `control_socket =` is always set (empty unless the
    test sets it) so the relay never touches /run.
    """

    READY_TIMEOUT = 10.0
    STOP_TIMEOUT = 20.0
    live = []   # relays started by the current test, for failure logs

    def __init__(self, sections, args=(), env=None):
        """Write the config; start() or `with` runs the daemon (with env
        added to the environment)."""
        self.dir = tempfile.mkdtemp(prefix="relayd-")
        self.sections = self._expand(sections)
        self.sections.setdefault("relayd", {}).setdefault("control_socket",
                                                          "")
        # memory only unless the test asks for a spool (never /var/lib)
        self.sections["relayd"].setdefault("spool_dir", "")
        self.config_path = os.path.join(self.dir, "relayd.ini")
        self.log_path = os.path.join(self.dir, "relayd.log")
        self.args = list(args)
        self.env = env or {}
        self.proc = None
        self._final_log = None
        with open(self.config_path, "w") as f:
            f.write(ini_text(self.sections))
        Relay.live.append(self)

    def _expand(self, sections):
        """Copy sections, replacing @DIR@ with this relay's temp dir."""
        return {name: {k: str(v).replace("@DIR@", self.dir)
                       for k, v in keys.items()}
                for name, keys in sections.items()}

    @property
    def socket_path(self):
        """Path of the first listener's socket."""
        for name, keys in self.sections.items():
            if name.startswith("listener:"):
                return keys["path"]
        raise KeyError("config has no [listener:*] section")

    # -- lifecycle

    def start(self):
        """Launch the daemon (foreground, own session, log to file)."""
        binary = relayd_path()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [binary, "-c", self.config_path] + self.args,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, env=dict(os.environ, **self.env))
        return self

    def wait_ready(self, timeout=None):
        """Wait until the listener socket exists and accepts a connection,
        and the control socket, if one is set, listens: it is bound just
        after the listeners, and its file exists a moment before it
        listens, so its log line says when (a test connection would
        take one of its 64 client slots for a while)."""
        deadline = time.monotonic() + (timeout or self.READY_TIMEOUT)
        control = self.sections.get("relayd", {}).get("control_socket")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise TestFailure("influx-relayd exited with %d before its "
                                  "socket was ready\n%s"
                                  % (self.proc.returncode, tail(self.log())))
            if self._can_connect() and self._listeners_bound() and (
                    not control or self._control_listens(control)):
                return self
            time.sleep(0.02)
        raise TestFailure("influx-relayd socket %s not ready after %.0fs\n%s"
                          % (self.socket_path, timeout or self.READY_TIMEOUT,
                             tail(self.log())))

    def _listeners_bound(self):
        """Every listener's socket file exists (the first one accepting
        does not mean the others are bound yet)."""
        return all(os.path.exists(keys["path"])
                   for name, keys in self.sections.items()
                   if name.startswith("listener:") and "path" in keys)

    def _control_listens(self, path):
        """The control socket listens (its file alone may be early)."""
        if self.sections["relayd"].get("log_level") in ("warn", "error"):
            return os.path.exists(path)     # no info line to wait for
        return "control: listening on %s" % path in self.log()

    def _can_connect(self):
        """True if the stream socket accepts a connection."""
        if not os.path.exists(self.socket_path):
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(self.socket_path)
            return True
        except OSError:
            return False

    def running(self):
        """True while the daemon process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def terminate(self, timeout=None):
        """SIGTERM the daemon and return its exit code.

        Fails the test (after SIGKILL) if it has not exited in time, since a
        relay that hangs on shutdown is a bug systemd would have to kill.
        """
        timeout = timeout or self.STOP_TIMEOUT
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise TestFailure("influx-relayd did not exit within %.0fs of "
                              "SIGTERM\n%s" % (timeout, tail(self.log())))

    SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer",
                       "runtime error:", "UndefinedBehaviorSanitizer")

    def close(self):
        """Stop the daemon (SIGTERM: the clean path), keep its log, remove
        the dir.  Returns the exit code, or None if it never ran."""
        code = None
        if self.proc is not None:
            code = _kill_wait(self.proc, signal.SIGTERM, self.STOP_TIMEOUT)
        if self.dir:
            self._final_log = _read_text(self.log_path)
            _rmtree(self.dir)
            self.dir = None
        return code

    def check_clean_exit(self, code):
        """Fail on a non-zero exit or any sanitizer report in the log: a
        test passes only if the daemon also survived it cleanly."""
        log = self.log()
        for mark in self.SANITIZER_MARKS:
            if mark in log:
                raise TestFailure("sanitizer report in the relay log (%s)"
                                  "\n%s" % (mark, tail(log, 60)))
        if code not in (None, 0):
            raise TestFailure("influx-relayd exited with %d\n%s"
                              % (code, tail(log)))

    def __enter__(self):
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type, *exc):
        code = self.close()
        if exc_type is None:
            self.check_clean_exit(code)
        return False

    # -- I/O

    def log(self):
        """The daemon's stderr (and stdout) so far."""
        if self._final_log is not None:
            return self._final_log
        return _read_text(self.log_path)

    def connect(self):
        """A connected AF_UNIX stream socket to the listener."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(self.socket_path)
        return s

    def send(self, lines):
        """Send data over one stream connection and close it.

        lines: bytes/str sent as is, or a list of str/bytes lines joined
        with newlines (plus a final newline).
        """
        data = _as_bytes(lines)
        try:
            with self.connect() as s:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
        except OSError as e:
            raise TestFailure("sending %d bytes to %s failed: %s (relay %s)"
                              % (len(data), self.socket_path, e,
                                 "running" if self.running() else
                                 "exited with %s" % self.proc.returncode))

    @staticmethod
    def check_config(path):
        """Run `influx-relayd -t -c path`; return (exit code, output)."""
        r = subprocess.run([relayd_path(), "-t", "-c", path],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=20)
        out = r.stdout.decode("utf-8", "replace") + \
            r.stderr.decode("utf-8", "replace")
        return r.returncode, out


def _as_bytes(lines):
    """Normalise send() input to bytes."""
    if isinstance(lines, bytes):
        return lines
    if isinstance(lines, str):
        return lines.encode("utf-8")
    parts = [l if isinstance(l, bytes) else l.encode("utf-8") for l in lines]
    return b"\n".join(parts) + b"\n"


# ---------------------------------------------------------------- runner


def _selected(tests, argv):
    """Tests whose names contain one of the argv words (all if none)."""
    if not argv:
        return tests
    return [t for t in tests if any(a in t.__name__ for a in argv)]


def _run_one(test, influx):
    """Run one test; return 'PASS', 'FAIL' or 'SKIP', printing why."""
    Relay.live = []
    start = time.monotonic()
    result = "FAIL"     # also when interrupted, so relay logs are shown
    try:
        test(influx)
        result = "PASS"
    except TestSkip as e:
        result = "SKIP"
        print("  skipped: %s" % e)
    except TestFailure as e:
        result = "FAIL"
        print("  " + str(e).replace("\n", "\n  "))
    except Exception:
        result = "FAIL"
        print("  unexpected error:\n" + traceback.format_exc())
    finally:
        if result == "FAIL":
            for r in Relay.live:
                print("  relay log (%s, config %s):\n%s"
                      % (r.log_path, r.config_path,
                         tail(r.log(), 40) if r.log() else "    (empty)"))
        for r in Relay.live:
            r.close()
    print("%s: %s (%.1fs)" % (result, test.__name__, time.monotonic() - start))
    sys.stdout.flush()
    return result


def main(tests, needs_relay=True, backend=None):
    """Run test functions taking an InfluxD; exit with automake codes.

    Command-line words select tests by name substring.  One influxd serves
    every test of the file (tests use distinct databases) to keep the
    runtime low.  backend=VictoriaMetrics gives the tests a private
    VictoriaMetrics instead (skipped where it is not installed).
    """
    name = os.path.basename(sys.argv[0])
    backend = backend or InfluxD
    if not os.access(backend.binary(), os.X_OK):
        print("SKIP: %s: no %s at %s (install Debian's %s)"
              % (name, backend.NAME, backend.binary(), backend.PACKAGE))
        sys.exit(EXIT_SKIP)
    if needs_relay and not os.access(relayd_path(), os.X_OK):
        print("ERROR: %s: influx-relayd not built at %s (set RELAYD)"
              % (name, relayd_path()))
        sys.exit(EXIT_ERROR)
    tests = _selected(tests, sys.argv[1:])
    results = []
    # make `kill` (e.g. a make check timeout) unwind and clean up children
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(EXIT_FAIL))
    try:
        influx = backend()
    except InfluxError as e:
        print("ERROR: %s: %s" % (name, e))
        sys.exit(EXIT_ERROR)
    with influx:
        for t in tests:
            print("-- %s: %s" % (t.__name__,
                                 (t.__doc__ or "").strip().split("\n")[0]))
            results.append(_run_one(t, influx))
    counts = {r: results.count(r) for r in ("PASS", "FAIL", "SKIP")}
    print("%s: %d passed, %d failed, %d skipped"
          % (name, counts["PASS"], counts["FAIL"], counts["SKIP"]))
    if counts["FAIL"]:
        sys.exit(EXIT_FAIL)
    if not counts["PASS"]:
        sys.exit(EXIT_SKIP)
    sys.exit(EXIT_PASS)


# ------------------------------------------------------- delivery helpers


class ExtraInfluxD(InfluxD):
    """An InfluxD with extra keys in its [http] section (TLS, UNIX socket,
    auth), e.g. ExtraInfluxD({"https-enabled": "true"}).  String values are
    written quoted, booleans and numbers bare."""

    def __init__(self, http_extra, scheme="http", **kw):
        self.http_extra = http_extra
        self.scheme = scheme
        InfluxD.__init__(self, **kw)

    def _config_text(self):
        extra = "".join("  %s = %s\n" % (k, json.dumps(v) if
                                          isinstance(v, str) else
                                          str(v).lower())
                        for k, v in self.http_extra.items())
        return InfluxD._config_text(self).replace("[http]\n",
                                                  "[http]\n" + extra, 1)

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % (self.scheme, self.port)


def influxd_down(influx):
    """Stop influxd's process but keep its ports and data: it is down."""
    _kill_wait(influx.proc, signal.SIGTERM)


def influxd_up(influx):
    """Start a stopped influxd again on the same ports and data."""
    if not influx._start_once():
        raise InfluxError("influxd did not come back on %s\n%s"
                          % (influx.url, tail(influx.log())))


def _stats_line(relay, prefix, timeout):
    """The counters of the newest `stats: PREFIX: key=value ...` line the
    relay logs after a SIGUSR1, as a dict of ints (and strings)."""
    before = relay.log().count(prefix)
    relay.proc.send_signal(signal.SIGUSR1)
    wait_until(lambda: relay.log().count(prefix) > before, timeout,
               "a line '%s'" % prefix)
    return _parse_stats(relay.log().splitlines(), prefix)


def relay_stats(relay, target="local", timeout=5):
    """The relay's counters for a target, via SIGUSR1 and its log line
    `stats: target NAME: key=value ...`."""
    return _stats_line(relay, "stats: target %s:" % target, timeout)


def relay_idle(relay, target="local", timeout=10):
    """The target's counters once it holds nothing (in flight included):
    a point InfluxDB stored is counted only when its answer is read."""
    return wait_until(lambda: (lambda s: s if s["buffered_points"] == 0
                               else None)(relay_stats(relay, target)),
                      timeout, "target %s idle" % target)


def listener_stats(relay, listener="main", timeout=5):
    """The relay's counters for a listener, as relay_stats() does."""
    return _stats_line(relay, "stats: listener %s:" % listener, timeout)


TARGET_DROPS = ("dropped_overflow", "dropped_server", "dropped_too_large",
                "dropped_removed")


def _check_behind(st, came, what):
    """st[came] = written + buffered_points + every dropped_* reason, the
    reasons sum to `dropped`, and the relay's `unaccounted` says 0."""
    drops = sum(st[k] for k in TARGET_DROPS)
    # a listener's points a target kept on disk only are the target's
    drops_or_spooled = drops + st.get("spooled", 0)
    check(st[came] == st["written"] + st["buffered_points"] +
          drops_or_spooled,
          "%s does not balance: %s %s != written %s + buffered %s + "
          "dropped %s (%s)" % (what, came, st[came], st["written"],
                               st["buffered_points"], drops, st))
    check_equal(drops, st["dropped"], "%s: dropped = sum of reasons" % what)
    check_equal(0, st["unaccounted"], "%s: unaccounted" % what)


def check_balance(st, what="target"):
    """A target's stats (relay_stats or JSON) balance exactly: accepted =
    written + buffered_points + every dropped_* reason, and the relay's
    own `unaccounted` says 0.  Returns st."""
    _check_behind(st, "accepted", what)
    return st


def check_listener_balance(st, what="listener"):
    """A listener's stats balance exactly, at the door (lines = skipped +
    accepted + rejected) and behind it, per copy (queued = written +
    buffered_points + every dropped_* reason).  Returns st."""
    check(st["lines"] == st["skipped"] + st["accepted"] + st["rejected"],
          "%s door does not balance: lines %s != skipped %s + accepted %s "
          "+ rejected %s" % (what, st["lines"], st["skipped"],
                             st["accepted"], st["rejected"]))
    _check_behind(st, "queued", what)
    return st


def check_books(relay, targets=("local",), listener="main", timeout=5):
    """One SIGUSR1 dump: the listener and each target balance, and the
    listener's copies are exactly the targets' points (it must be their
    only listener).  Returns (listener stats, {target: stats})."""
    last = "stats: target %s:" % targets[-1]
    before = relay.log().count(last)
    relay.proc.send_signal(signal.SIGUSR1)
    wait_until(lambda: relay.log().count(last) > before, timeout,
               "a line '%s'" % last)
    dump = relay.log().splitlines()
    tst = {}
    for name in targets:
        tst[name] = check_balance(_parse_stats(dump, "stats: target %s:"
                                               % name), "target " + name)
    lst = check_listener_balance(_parse_stats(
        dump, "stats: listener %s:" % listener), "listener " + listener)
    keys = ("written", "buffered_points") + TARGET_DROPS
    spooled = lst.get("spooled", 0)
    for key in keys:
        if spooled == 0:
            check_equal(sum(t[key] for t in tst.values()), lst[key],
                        "listener %s vs its targets" % key)
        else:
            # points kept on disk only left the listener's books there
            check(sum(t[key] for t in tst.values()) >= lst[key],
                  "listener %s above its targets'" % key)
    if spooled:
        check_equal(spooled, sum(sum(t[k] for k in keys) for t in
                                 tst.values()) - sum(lst[k] for k in keys),
                    "the listener's spooled points, in its targets' books")
    # points recovered from a spool at start came from no listener
    check_equal(sum(t["accepted"] - t.get("spool_recovered", 0)
                    for t in tst.values()), lst["queued"],
                "listener queued copies vs targets' accepted")
    return lst, tst


def _parse_stats(lines, prefix):
    line = [l for l in lines if prefix in l][-1]
    out = {}
    for word in line.split(prefix + " ", 1)[1].split(" "):
        if word.startswith("last_error="):
            break       # the server's words, last: nothing to parse
        if "=" in word:
            k, v = word.split("=", 1)
            out[k] = int(v) if v.lstrip("-").isdigit() else v
    return out


def count_points(influx, db, measurement="m"):
    """SELECT COUNT(*) of a measurement (0 if none yet)."""
    try:
        res = influx.query('SELECT COUNT(*) FROM "%s"' % measurement,
                           db=db)["results"][0]
    except InfluxError:
        return 0
    for s in res.get("series", []):
        return max(v for v in s["values"][0][1:] if v is not None)
    return 0


# glibc fills freed memory with a pattern and keeps no per-thread cache of
# freed chunks: a use-after-free in a normal build then crashes at once
# instead of reading stale but plausible data.
POISON_FREED = {"MALLOC_PERTURB_": "165",
                "GLIBC_TUNABLES": "glibc.malloc.tcache_count=0"}


class HoleServer:
    """A TCP server on a free loopback port that accepts connections,
    reads what comes and never answers (a hung InfluxDB)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.received = b""
        self.conns = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        import select
        while not self._stop:
            ready, _, _ = select.select([self.sock] + self.conns, [], [], 0.1)
            for s in ready:
                if s is self.sock:
                    self.conns.append(self.sock.accept()[0])
                    continue
                data = s.recv(65536)
                if data:
                    self.received += data
                else:
                    self.conns.remove(s)
                    s.close()

    def close(self):
        self._stop = True
        self._thread.join()
        for s in self.conns:
            s.close()
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class AnswerServer:
    """An HTTP server on a free loopback port that answers every request
    with the same status and body (bytes, any)."""

    def __init__(self, status, body):
        import http.server

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever,
                                        daemon=True)
        self._thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
