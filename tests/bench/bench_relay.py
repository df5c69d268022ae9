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

Run: make bench  (or: python3 tests/bench/bench_relay.py [LINES])
     python3 tests/bench/bench_relay.py --many [LINES]   (shape 4 only)
BASELINE=/path/to/older/influx-relayd adds that binary's figures for
shape 4, in the same run, alternating with the one under test.
"""

import http.client
import os
import signal
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
LINE = ("cpu,host=server%03d,region=eu-west,cpu=cpu1 usage_user=7.5,"
        "usage_system=3.25,usage_idle=11.125,procs=1i %d\n")


FAST = "buffer_size = 2G\nflush_interval = 100ms\n"


def write_config(tmp, url, db, shutdown, target_extra):
    """A one-listener, one-target config in tmp; returns (socket, file)."""
    sock = os.path.join(tmp, "bench.sock")
    conf = os.path.join(tmp, "bench.ini")
    with open(conf, "w") as f:
        f.write("[relayd]\nlog_level = info\nstats_interval = 0\n"
                "control_socket =\nshutdown_timeout = %s\n"
                "[listener:main]\npath = %s\n"
                "[target:t]\nurl = %s\ndatabase = %s\n"
                "%s" % (shutdown, sock, url, db, target_extra))
    return sock, conf


def stat(text, name):
    """The last value of counter `name` in the relay's stats lines."""
    return int(text.rsplit(" %s=" % name, 1)[1].split()[0])


def relay_run(url, db, lines, clients, tmp, target_extra=FAST,
              relayd=None):
    """Run the relay, feed it with loadgen, SIGTERM it once loadgen is done
    (it then flushes everything and exits).  Returns (wall seconds until
    the relay exited, its CPU seconds, its peak RSS in KiB) from wait4(),
    and its log (the stats it logs at exit)."""
    sock, conf = write_config(tmp, url, db, "120s", target_extra)
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


def null_sink_run(lines, clients, target_extra=FAST, relayd=None):
    """Relay -> a fresh null sink; relay_run's figures and what the sink
    counted."""
    with tempfile.TemporaryDirectory() as tmp:
        portfile = os.path.join(tmp, "port")
        sink = subprocess.Popen([NULLSINK, portfile], stdout=subprocess.PIPE,
                                text=True)
        harness.wait_until(lambda: os.path.exists(portfile) and
                           open(portfile).read().strip(), 10, "sink port")
        url = "http://127.0.0.1:%s" % open(portfile).read().strip()
        try:
            run = relay_run(url, "bench", lines, clients, tmp, target_extra,
                            relayd)
        finally:
            sink.send_signal(15)
            out = sink.communicate(timeout=30)[0]
    return run + (int(out.split("lines=")[1].split()[0]),)


def bench_null_sink(lines, clients):
    """Relay -> null sink; checks the sink got every line."""
    wall, cpu, rss, _, got = null_sink_run(lines, clients)
    print("null sink: %d lines over %d clients in %.2fs = %.0f lines/s; "
          "relay CPU %.2fs = %.2f us/line; peak RSS %d KiB; sink got %d"
          % (lines, clients, wall, lines / wall, cpu, cpu / lines * 1e6,
             rss, got))
    if got != lines:
        print("ERROR: the sink received %d of %d lines" % (got, lines))
        sys.exit(1)


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
    return res["results"][0]["series"][0]["values"][0][1]


def bench_influxd(lines, clients):
    """Relay -> influxd against a direct writer, same influxd, same run."""
    with harness.InfluxD() as influx, tempfile.TemporaryDirectory() as tmp:
        influx.create_database("direct")
        influx.create_database("relayed")
        direct = direct_write(influx, "direct", lines)
        relayed, cpu, rss, _ = relay_run(influx.url, "relayed", lines,
                                         clients, tmp)
        stored = (count(influx, "direct"), count(influx, "relayed"))
    print("influxd: direct batched writer %.0f points/s, relay %.0f "
          "points/s (ratio %.2f); relay CPU %.2f us/point; stored %d / %d"
          % (lines / direct, lines / relayed, direct / relayed,
             cpu / lines * 1e6, stored[0], stored[1]))
    if stored != (lines, lines):
        print("ERROR: points missing in influxd")
        sys.exit(1)


def bench_memory(lines, clients):
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
    print("memory: %d points held, %.1f MiB buffered; peak RSS %.1f MiB "
          "(%.1f MiB at start) = %.2f bytes of RSS per buffered byte"
          % (lines, held / 2**20, peak / 1024, base / 1024,
             (peak - base) * 1024 / held))


def bench_many_clients(lines, clients=256):
    """Many clients, default target settings, into the null sink: the
    relay must send while it reads, so the 64M default buffer never
    overflows.  With $BASELINE, that binary runs too, alternating."""
    binaries = [("relay", None)]
    if os.environ.get("BASELINE"):
        binaries.insert(0, ("baseline", os.environ["BASELINE"]))
    failed = False
    for name, relayd in binaries:
        wall, cpu, rss, log, got = null_sink_run(lines, clients, "", relayd)
        sent = lines // clients * clients
        dropped = stat(log, "dropped_overflow")
        print("many clients (%s): %d lines over %d clients, default "
              "settings: %d points dropped (%.1f%%), %.2fs = %.0f lines/s "
              "end to end; relay CPU %.2f us/line; peak RSS %.1f MiB; sink "
              "got %d" % (name, sent, clients, dropped, 100.0 * dropped / sent,
                          wall, sent / wall, cpu / sent * 1e6, rss / 1024,
                          got))
        if relayd is None and (dropped != 0 or got != sent):
            failed = True
    if failed:
        print("ERROR: the relay dropped points it could have sent")
        sys.exit(1)


def vm_hwm(pid):
    """Peak resident set size of a process, KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main():
    args = sys.argv[1:]
    many = "--many" in args
    args = [a for a in args if a != "--many"]
    lines = int(args[0]) if args else 2000000
    if many:
        bench_many_clients(lines)
        return
    bench_null_sink(lines, clients=4)
    bench_influxd(min(lines, 500000), clients=4)
    bench_memory(min(lines, 1000000), clients=4)
    bench_many_clients(lines)


if __name__ == "__main__":
    main()
