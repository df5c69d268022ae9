#!/usr/bin/env python3
"""End-to-end benchmark of influx-relayd (DESIGN section 7).

1. Relay throughput into a null HTTP sink (tests/bench/nullsink): lines/s
   from the first write until the relay has delivered everything, the
   relay's CPU time per point, and its peak RSS.
2. Into a real influxd: the relay against a direct batched HTTP writer
   (keep-alive, 5000 lines per POST), in the same run, so the ratio holds
   on a noisy machine.
3. Memory: peak RSS per byte of points held while the target is down.
4. Many clients: 256 clients into the null sink with the default target
   settings (buffer_size 64M, drop_oldest, flush_interval 1s): points
   dropped, lines/s end to end, peak RSS.  Reading must not starve
   sending, so nothing may be dropped.

Side by side: when syslog-ng (Debian's syslog-ng-core and
syslog-ng-mod-http) is installed, the same four shapes also run through
it, configured by tests/bench/syslog-ng.conf, alternating with the relay
in each round; a table at the end gives the medians of both and their
ratio.  syslog-ng's time runs until the sink (or influxd) has every line;
the relay's until it exited after delivering everything.

Run: python3 tests/bench/bench_relay.py [LINES]  (`make bench` runs these
     shapes and those of bench_databases.py and bench_drain.py, in one
     table: tests/bench/bench_all.py)
     python3 tests/bench/bench_relay.py --many [LINES]   (shape 4 only)
     python3 tests/bench/bench_relay.py --influxd [LINES]   (shape 2 only)
     python3 tests/bench/bench_relay.py --null [LINES]   (shape 1 only)
BENCH_ROUNDS=N sets the rounds (default 3); BENCH_SYSLOG_NG=0 leaves
syslog-ng out.  BASELINE=/path/to/older/influx-relayd adds that binary's
figures for shapes 1, 2 and 4, in the same run, alternating with the one
under test.
"""

import http.client
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402

BUILD = os.environ.get("abs_top_builddir",
                       os.path.normpath(os.path.join(HERE, "..", "..")))
LOADGEN = os.path.join(BUILD, "tests", "bench", "loadgen")
NULLSINK = os.path.join(BUILD, "tests", "bench", "nullsink")
SYSLOG_NG_CONF = os.path.join(HERE, "syslog-ng.conf")
LINE = ("cpu,host=server%03d,region=eu-west,cpu=cpu1 usage_user=7.5,"
        "usage_system=3.25,usage_idle=11.125,procs=1i %d\n")
# every line loadgen writes has this length (3-digit host, 19-digit time)
LINE_BYTES = len(LINE % (0, 1700000000000000000))


FAST = "buffer_size = 2G\nflush_interval = 100ms\n"


def write_config(tmp, url, db, shutdown, target_extra, spool=False):
    """A one-listener, one-target config in tmp, with a disk spool in
    tmp/spool if `spool`; returns (socket, file)."""
    sock = os.path.join(tmp, "bench.sock")
    conf = os.path.join(tmp, "bench.ini")
    with open(conf, "w") as f:
        f.write("[relayd]\nlog_level = info\nstats_interval = 0\n"
                "control_socket =\nshutdown_timeout = %s\n"
                "spool_dir = %s\n"
                "[listener:main]\npath = %s\n"
                "[target:t]\nurl = %s\ndatabase = %s\n"
                # one relay: no fleet to spread, the flush as measured
                "flush_jitter = 0s\n"
                "%s" % (shutdown, os.path.join(tmp, "spool") if spool
                        else "", sock, url, db, target_extra))
    return sock, conf


def stat(text, name):
    """The last value of counter `name` in the relay's stats lines."""
    return int(text.rsplit(" %s=" % name, 1)[1].split()[0])


def relay_run(url, db, lines, clients, tmp, target_extra=FAST,
              relayd=None, spool=False):
    """Run the relay, feed it with loadgen, SIGTERM it once loadgen is done
    (it then flushes everything and exits).  Returns (wall seconds until
    the relay exited, its CPU seconds, its peak RSS in KiB) from wait4(),
    and its log (the stats it logs at exit)."""
    sock, conf = write_config(tmp, url, db, "120s", target_extra, spool)
    log = os.path.join(tmp, "relay.log")
    if os.path.exists(sock):
        os.unlink(sock)
    with open(log, "w") as logf:
        relay = subprocess.Popen([relayd or harness.relayd_path(), "-c",
                                  conf], stderr=logf)
    harness.wait_until(lambda: os.path.exists(sock), 10, "relay socket")
    start = time.monotonic()
    subprocess.run([LOADGEN, sock, str(lines), str(clients)], check=True,
                   stdout=subprocess.DEVNULL)
    relay.send_signal(signal.SIGTERM)
    _, status, usage = os.wait4(relay.pid, 0)
    wall = time.monotonic() - start
    relay.returncode = os.waitstatus_to_exitcode(status)
    if relay.returncode != 0:
        raise RuntimeError("relay exited with %d" % relay.returncode)
    return (wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss,
            open(log).read())


class NullSink:
    """tests/bench/nullsink on a free port, in `tmp`."""

    def __init__(self, tmp):
        self.portfile = os.path.join(tmp, "port")
        self.out = None

    def __enter__(self):
        self.proc = subprocess.Popen([NULLSINK, self.portfile],
                                     stdout=subprocess.PIPE, text=True)
        harness.wait_until(lambda: os.path.exists(self.portfile) and
                           open(self.portfile).read().strip(), 10,
                           "sink port")
        self.port = int(open(self.portfile).read())
        self.url = "http://127.0.0.1:%d" % self.port
        return self

    def lines(self):
        """Lines received so far."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port)
        conn.request("GET", "/count")
        text = conn.getresponse().read().decode()
        conn.close()
        return int(text.split("lines=")[1].split()[0])

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGTERM)
        self.out = self.proc.communicate(timeout=30)[0]
        self.got = int(self.out.split("lines=")[1].split()[0])


def null_sink_run(lines, clients, target_extra=FAST, relayd=None,
                  spool=False):
    """Relay -> a fresh null sink; relay_run's figures and what the sink
    counted."""
    with tempfile.TemporaryDirectory() as tmp:
        with NullSink(tmp) as sink:
            run = relay_run(sink.url, "bench", lines, clients, tmp,
                            target_extra, relayd, spool)
    return run + (sink.got,)


def syslog_ng_path():
    """The syslog-ng binary, if it is installed with its http() module and
    not turned off with BENCH_SYSLOG_NG=0; else None."""
    if os.environ.get("BENCH_SYSLOG_NG", "1") == "0":
        return None
    path = shutil.which("syslog-ng") or shutil.which(
        "syslog-ng", path="/usr/sbin:/sbin")
    if path is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        sng = SyslogNG(tmp, "http://127.0.0.1:9/write?db=x", 1, path)
        ok = subprocess.run([path, "-s", "-f", sng.conf],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL).returncode == 0
    return path if ok else None


class SyslogNG:
    """syslog-ng in the foreground with tests/bench/syslog-ng.conf (or
    `text`, a configuration with the same @PLACEHOLDERS@) and its own
    persist, control and pid files, all in `tmp`."""

    def __init__(self, tmp, url, workers, path=None, flow_control=True,
                 text=None):
        self.path = path or syslog_ng_path()
        self.tmp = tmp
        self.sock = os.path.join(tmp, "sng.sock")
        self.conf = os.path.join(tmp, "syslog-ng.conf")
        if text is None:
            with open(SYSLOG_NG_CONF) as f:
                text = f.read()
        with open(self.conf, "w") as f:
            f.write(text.replace("@SOCKET@", self.sock)
                    .replace("@URL@", url)
                    .replace("@WORKERS@", str(workers))
                    .replace("@LOGFLAGS@", "flags(flow-control);"
                             if flow_control else ""))

    def __enter__(self):
        self.logf = open(os.path.join(self.tmp, "syslog-ng.log"), "w")
        self.proc = subprocess.Popen(
            [self.path, "-F", "-f", self.conf,
             "-R", os.path.join(self.tmp, "persist"),
             "-c", os.path.join(self.tmp, "ctl"),
             "-p", os.path.join(self.tmp, "pid"), "--no-caps", "-e"],
            stdout=self.logf, stderr=self.logf)
        harness.wait_until(lambda: os.path.exists(self.sock) or
                           self.proc.poll() is not None, 20,
                           "the syslog-ng socket")
        if self.proc.poll() is not None:
            self.logf.close()
            raise RuntimeError("syslog-ng exited: " + self.log_tail())
        return self

    def log_tail(self):
        """The last line syslog-ng logged."""
        with open(os.path.join(self.tmp, "syslog-ng.log")) as f:
            lines = f.read().strip().splitlines()
        return lines[-1] if lines else "(nothing logged)"

    def threads(self):
        """Its number of threads."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            return int(f.read().split("Threads:")[1].split()[0])

    def queued(self):
        """Lines its destinations hold (syslog-ng-ctl stats, queued)."""
        ctl = os.path.join(os.path.dirname(self.path), "syslog-ng-ctl")
        out = subprocess.run([ctl, "stats", "-c",
                              os.path.join(self.tmp, "ctl")],
                             capture_output=True, text=True,
                             check=True).stdout
        return sum(int(row.rsplit(";", 1)[1]) for row in out.splitlines()
                   if row.startswith("dst.") and ";queued;" in row)

    def cpu(self):
        """CPU seconds used so far (user + system)."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf(
            "SC_CLK_TCK")

    def hwm(self):
        """Peak RSS so far, KiB."""
        return vm_hwm(self.proc.pid)

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.logf.close()


def syslog_ng_sink_run(lines, clients):
    """syslog-ng -> a fresh null sink: seconds from the first write until
    the sink has every line (or 120 s more have passed), CPU seconds, peak
    RSS KiB, lines the sink got."""
    sent = lines // clients * clients
    with tempfile.TemporaryDirectory() as tmp:
        with NullSink(tmp) as sink:
            with SyslogNG(tmp, sink.url + "/write?db=bench", 1) as sng:
                start = time.monotonic()
                subprocess.run([LOADGEN, sng.sock, str(lines),
                                str(clients)], check=True,
                               stdout=subprocess.DEVNULL)
                try:
                    harness.wait_until(lambda: sink.lines() >= sent, 120,
                                       "syslog-ng's lines", interval=0.02)
                except harness.TestFailure:
                    pass
                wall = time.monotonic() - start
                cpu, rss = sng.cpu(), sng.hwm()
    return wall, cpu, rss, sink.got


def median(values):
    return statistics.median(values)


def bench_null_sink(lines, clients, rounds, sng):
    """Relay (and syslog-ng) -> null sink; checks the sink got every
    line.  Returns {"relay": (lines/s, ns/line, MiB), "syslog-ng": ...}."""
    runs = {"relay": [], "syslog-ng": [], "baseline": []}
    binaries = [("relay", None)]
    if os.environ.get("BASELINE"):
        binaries.insert(0, ("baseline", os.environ["BASELINE"]))
    for _ in range(rounds):
        for name, relayd in binaries:
            wall, cpu, rss, _, got = null_sink_run(lines, clients,
                                                   relayd=relayd)
            print("null sink (%s): %d lines over %d clients in %.2fs = %.0f "
                  "lines/s; relay CPU %.2fs = %.2f us/line; peak RSS %d KiB; "
                  "sink got %d" % (name, lines, clients, wall, lines / wall,
                                   cpu, cpu / lines * 1e6, rss, got))
            if got != lines:
                print("ERROR: the sink received %d of %d lines"
                      % (got, lines))
                sys.exit(1)
            runs[name].append((lines / wall, cpu / lines * 1e9, rss / 1024))
        if sng:
            wall, cpu, rss, got = syslog_ng_sink_run(lines, clients)
            print("null sink (syslog-ng): %d lines over %d clients in %.2fs "
                  "= %.0f lines/s; CPU %.2fs = %.2f us/line; peak RSS %d "
                  "KiB; sink got %d" % (lines, clients, wall, got / wall,
                                        cpu, cpu / lines * 1e6, rss, got))
            runs["syslog-ng"].append((got / wall, cpu / lines * 1e9,
                                      rss / 1024))
    return {k: tuple(median(r[i] for r in v) for i in range(3))
            for k, v in runs.items() if v}


def direct_write(influx, db, lines, batch=5000):
    """The baseline: POST batches straight to influxd on one keep-alive
    connection.  Returns seconds."""
    conn = http.client.HTTPConnection("127.0.0.1", influx.port)
    start = time.monotonic()
    for first in range(0, lines, batch):
        body = "".join(LINE % (i % 1000, 1700000000000000000 + i)
                       for i in range(first, min(lines, first + batch)))
        conn.request("POST", "/write?db=%s&precision=ns" % db, body)
        r = conn.getresponse()
        r.read()
        if r.status != 204:
            raise RuntimeError("direct write: HTTP %d" % r.status)
    return time.monotonic() - start


def count(influx, db):
    """Points stored in db."""
    res = influx.query("SELECT count(procs) FROM cpu", db=db)
    series = res["results"][0].get("series")
    return series[0]["values"][0][1] if series else 0


def syslog_ng_influxd_run(influx, db, lines, clients, tmp):
    """syslog-ng -> influxd: seconds until every point is stored (or 120 s
    more have passed), CPU seconds."""
    with SyslogNG(tmp, "%s/write?db=%s" % (influx.url, db), 2) as sng:
        start = time.monotonic()
        subprocess.run([LOADGEN, sng.sock, str(lines), str(clients)],
                       check=True, stdout=subprocess.DEVNULL)
        try:
            harness.wait_until(lambda: count(influx, db) >= lines, 120,
                               "points from syslog-ng", interval=0.1)
        except harness.TestFailure:
            pass
        return time.monotonic() - start, sng.cpu()


def bench_influxd(lines, clients, rounds, sng):
    """Relay (and syslog-ng) -> influxd against a direct writer, same
    influxd, same run.  Returns medians of points/s per writer."""
    runs = {"direct": [], "relay": [], "syslog-ng": [], "baseline": []}
    baseline = os.environ.get("BASELINE")
    with harness.InfluxD() as influx:
        for r in range(rounds):
            dbs = {k: "%s%d" % (k.replace("-", ""), r) for k in runs}
            for db in dbs.values():
                influx.create_database(db)
            direct = direct_write(influx, dbs["direct"], lines)
            if baseline:
                with tempfile.TemporaryDirectory() as tmp:
                    wall, _, _, _ = relay_run(influx.url, dbs["baseline"],
                                              lines, clients, tmp,
                                              relayd=baseline)
                print("influxd (baseline %s): %.0f points/s, stored %d"
                      % (baseline, lines / wall,
                         count(influx, dbs["baseline"])))
                runs["baseline"].append(lines / wall)
            with tempfile.TemporaryDirectory() as tmp:
                relayed, cpu, rss, _ = relay_run(influx.url, dbs["relay"],
                                                 lines, clients, tmp)
            stored = (count(influx, dbs["direct"]),
                      count(influx, dbs["relay"]))
            print("influxd: direct batched writer %.0f points/s, relay %.0f "
                  "points/s (ratio %.2f); relay CPU %.2f us/point; stored "
                  "%d / %d" % (lines / direct, lines / relayed,
                               direct / relayed, cpu / lines * 1e6,
                               stored[0], stored[1]))
            if stored != (lines, lines):
                print("ERROR: points missing in influxd")
                sys.exit(1)
            runs["direct"].append(lines / direct)
            runs["relay"].append(lines / relayed)
            if sng:
                with tempfile.TemporaryDirectory() as tmp:
                    wall, cpu = syslog_ng_influxd_run(
                        influx, dbs["syslog-ng"], lines, clients, tmp)
                got = count(influx, dbs["syslog-ng"])
                print("influxd (syslog-ng): %.0f points/s; CPU %.2f "
                      "us/point; stored %d" % (got / wall,
                                               cpu / lines * 1e6, got))
                runs["syslog-ng"].append(got / wall)
    return {k: median(v) for k, v in runs.items() if v}


def relay_memory_run(lines, clients):
    """Peak RSS per buffered byte: the relay holds every point (its target
    is a closed port), then its VmHWM is compared with buffered_bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        sock, conf = write_config(tmp, "http://127.0.0.1:9", "m", "100ms",
                                  "buffer_size = 2G\nretry_initial = 60s\n"
                                  "retry_max = 60s\n")
        log = os.path.join(tmp, "mem.log")
        with open(log, "w") as logf:
            relay = subprocess.Popen([harness.relayd_path(), "-c", conf],
                                     stderr=logf)
        harness.wait_until(lambda: os.path.exists(sock), 10, "relay socket")
        base = vm_hwm(relay.pid)
        subprocess.run([LOADGEN, sock, str(lines), str(clients)], check=True,
                       stdout=subprocess.DEVNULL)
        relay.send_signal(signal.SIGUSR1)
        harness.wait_until(lambda: "buffered_bytes=" in open(log).read(), 10,
                           "a stats line")
        text = open(log).read()
        held = int(text.split("buffered_bytes=")[1].split()[0])
        peak = vm_hwm(relay.pid)
        relay.send_signal(signal.SIGTERM)
        relay.wait(30)
    return held, peak, base


def syslog_ng_memory_run(lines, clients):
    """The same for syslog-ng: its destination is a closed port and flow
    control is off (else it would stop reading at its window), so it
    holds every line; bytes held are the bytes written to it.  Waits
    until its peak RSS stops growing."""
    with tempfile.TemporaryDirectory() as tmp:
        with SyslogNG(tmp, "http://127.0.0.1:9/write?db=m", 1,
                      flow_control=False) as sng:
            base = sng.hwm()
            subprocess.run([LOADGEN, sng.sock, str(lines), str(clients)],
                           check=True, stdout=subprocess.DEVNULL)
            last = -1
            while sng.hwm() != last:
                last = sng.hwm()
                time.sleep(1)
            peak = sng.hwm()
    return lines // clients * clients * LINE_BYTES, peak, base


def bench_memory(lines, clients, rounds, sng):
    """Peak RSS per byte held while the target is down; medians."""
    runs = {"relay": [], "syslog-ng": []}
    for _ in range(rounds):
        held, peak, base = relay_memory_run(lines, clients)
        print("memory: %d points held, %.1f MiB buffered; peak RSS %.1f MiB "
              "(%.1f MiB at start) = %.2f bytes of RSS per buffered byte"
              % (lines, held / 2**20, peak / 1024, base / 1024,
                 (peak - base) * 1024 / held))
        runs["relay"].append((peak - base) * 1024 / held)
        if sng:
            held, peak, base = syslog_ng_memory_run(lines, clients)
            print("memory (syslog-ng): %d lines held, %.1f MiB written to "
                  "it; peak RSS %.1f MiB (%.1f MiB at start) = %.2f bytes "
                  "of RSS per byte held" % (lines, held / 2**20,
                                            peak / 1024, base / 1024,
                                            (peak - base) * 1024 / held))
            runs["syslog-ng"].append((peak - base) * 1024 / held)
    return {k: median(v) for k, v in runs.items() if v}


def bench_many_clients(lines, clients=256, rounds=1, sng=None):
    """Many clients, default target settings, into the null sink: the
    relay must send while it reads, so the 64M default buffer never
    overflows.  With $BASELINE, that binary runs too, alternating.
    Returns medians of (lines/s, points dropped, peak RSS MiB)."""
    binaries = [("relay", None)]
    if os.environ.get("BASELINE"):
        binaries.insert(0, ("baseline", os.environ["BASELINE"]))
    sent = lines // clients * clients
    runs = {"relay": [], "syslog-ng": []}
    failed = False
    for _ in range(rounds):
        for name, relayd in binaries:
            wall, cpu, rss, log, got = null_sink_run(lines, clients, "",
                                                     relayd)
            dropped = stat(log, "dropped_overflow")
            print("many clients (%s): %d lines over %d clients, default "
                  "settings: %d points dropped (%.1f%%), %.2fs = %.0f "
                  "lines/s end to end; relay CPU %.2f us/line; peak RSS "
                  "%.1f MiB; sink got %d"
                  % (name, sent, clients, dropped, 100.0 * dropped / sent,
                     wall, sent / wall, cpu / sent * 1e6, rss / 1024, got))
            if relayd is None:
                failed |= dropped != 0 or got != sent
                runs["relay"].append((got / wall, dropped, rss / 1024))
        if sng:
            wall, cpu, rss, got = syslog_ng_sink_run(lines, clients)
            print("many clients (syslog-ng): %d lines over %d clients: %d "
                  "lost, %.2fs = %.0f lines/s end to end; CPU %.2f "
                  "us/line; peak RSS %.1f MiB; sink got %d"
                  % (sent, clients, sent - got, wall, got / wall,
                     cpu / sent * 1e6, rss / 1024, got))
            runs["syslog-ng"].append((got / wall, sent - got, rss / 1024))
    if failed:
        print("ERROR: the relay dropped points it could have sent")
        sys.exit(1)
    return {k: tuple(median(r[i] for r in v) for i in range(3))
            for k, v in runs.items() if v}


def vm_hwm(pid):
    """Peak resident set size of a process, KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class NA:
    """A cell that was not measured, and why."""

    def __init__(self, why):
        self.why = why


class Table:
    """The side-by-side table: medians of the relay and syslog-ng, and how
    many times better the relay is; a cell syslog-ng could not fill says
    n/a and its reason comes as a note under the table."""

    def __init__(self, rounds, sng):
        self.sng = sng
        self.notes = []
        print()
        print("medians of %d round(s); ratio = how many times better the "
              "relay is" % rounds)
        print("%-46s %14s %14s %8s" % ("", "influx-relayd",
                                      "syslog-ng" if sng else "", "ratio"
                                      if sng else ""))

    def cell(self, value, fmt):
        if value is None:
            return ""
        if isinstance(value, NA):
            if value.why not in self.notes:
                self.notes.append(value.why)
            return "n/a [%d]" % (self.notes.index(value.why) + 1)
        return fmt % value

    def row(self, what, relay, sng, fmt, higher_is_better=True):
        """One line; higher_is_better None: no ratio."""
        if not self.sng:
            print("%-46s %14s" % (what, self.cell(relay, fmt)))
            return
        ratio = ""
        if higher_is_better is not None and not isinstance(
                relay, NA) and not isinstance(sng, NA) and relay and sng:
            ratio = "%7.2fx" % (relay / sng if higher_is_better
                                else sng / relay)
        print("%-46s %14s %14s %8s" % (what, self.cell(relay, fmt),
                                       self.cell(sng, fmt), ratio))

    def close(self):
        for i, why in enumerate(self.notes):
            print("[%d] %s" % (i + 1, why))


def table_rows(table, null4, influx, memory, many):
    """The rows of shapes 1-4; a shape that did not run is None."""
    # (shape, its medians, each figure's label, format, higher is better)
    for what, res, figures in (
            ("null sink, 4 clients", null4,
             (("lines/s", "%.0f", True), ("CPU ns/line", "%.0f", False),
              ("peak RSS MiB", "%.1f", False))),
            ("null sink, 256 clients", many,
             (("lines/s", "%.0f", True), ("points lost", "%d", None),
              ("peak RSS MiB", "%.1f", False)))):
        if not res:
            continue
        s = res.get("syslog-ng", (None,) * 3)
        for i, (label, fmt, higher) in enumerate(figures):
            table.row("%s: %s" % (what, label), res["relay"][i], s[i], fmt,
                      higher)
    if influx:
        table.row("influxd: points/s (direct writer %.0f)" % influx["direct"],
                  influx["relay"], influx.get("syslog-ng"), "%.0f")
    if memory:
        table.row("target down: bytes of RSS per byte held",
                  memory["relay"], memory.get("syslog-ng"), "%.2f", False)


def print_table(rounds, null4, influx, memory, many):
    """The medians of every shape, relay and syslog-ng side by side."""
    table = Table(rounds, "syslog-ng" in null4)
    table_rows(table, null4, influx, memory, many)
    table.close()


def main():
    args = sys.argv[1:]
    many = "--many" in args
    influxd_only = "--influxd" in args
    null_only = "--null" in args
    args = [a for a in args if a not in ("--many", "--influxd", "--null")]
    lines = int(args[0]) if args else 2000000
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    if null_only:
        res = bench_null_sink(lines, 4, rounds, None)
        print("null sink medians: " + "; ".join(
            "%s %.0f lines/s at %.0f ns/line" % (k, v[0], v[1])
            for k, v in sorted(res.items())))
        return
    if many:
        bench_many_clients(lines, rounds=rounds)
        return
    if influxd_only:
        res = bench_influxd(min(lines, 500000), 4, rounds, None)
        print("influxd medians: " + ", ".join(
            "%s %.0f points/s" % kv for kv in sorted(res.items())) +
            "; relay / direct %.2f" % (res["relay"] / res["direct"]))
        return
    sng = syslog_ng_path()
    if sng is None:
        print("syslog-ng (syslog-ng-core + syslog-ng-mod-http) is not "
              "installed: the relay alone")
    null4 = bench_null_sink(lines, 4, rounds, sng)
    influx = bench_influxd(min(lines, 500000), 4, rounds, sng)
    memory = bench_memory(min(lines, 1000000), 4, rounds, sng)
    many_clients = bench_many_clients(lines, 256, rounds, sng)
    print_table(rounds, null4, influx, memory, many_clients)


if __name__ == "__main__":
    main()
