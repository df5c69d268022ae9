#!/usr/bin/env python3
"""RSS after a backlog drains (README "Performance").

The null sink is stopped (SIGSTOP) while 1M points arrive, so the relay
holds them all; then it runs again and the relay delivers everything.
Prints the relay's RSS idle, at the peak, and once the backlog has
drained, so that memory the backlog took is seen to return.

syslog-ng runs the same shape in `make bench` (tests/bench/bench_all.py),
with flow control off so that it holds the backlog in memory (up to
log-fifo-size, 3.1M lines) instead of leaving it in the clients' sockets.

Run: python3 tests/bench/bench_drain.py [LINES]
"""

import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402
import bench_relay  # noqa: E402


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def backlog(pid, sink, sock, lines):
    """Holds `lines` lines in process `pid` (the sink stopped), lets the
    sink run again, and waits (a minute at most) until the sink has them
    all and pid's RSS is under twice its idle figure.  Returns the RSS
    idle, holding them and at the end (KiB), and the seconds since the
    sink came back."""
    time.sleep(0.5)
    idle = rss_kib(pid)
    sink.proc.send_signal(signal.SIGSTOP)
    subprocess.run([bench_relay.LOADGEN, sock, str(lines), "4"],
                   check=True, stdout=subprocess.DEVNULL)
    time.sleep(1)
    peak = rss_kib(pid)
    sink.proc.send_signal(signal.SIGCONT)
    start = time.monotonic()
    while time.monotonic() - start < 60:
        time.sleep(1)
        if rss_kib(pid) < 2 * idle and sink.lines() >= lines:
            break
    return idle, peak, rss_kib(pid), time.monotonic() - start


def relay_drain(lines):
    """backlog()'s figures for the relay, and the lines the sink got."""
    with tempfile.TemporaryDirectory() as tmp, \
            bench_relay.NullSink(tmp) as sink:
        sock, conf = bench_relay.write_config(
            tmp, sink.url, "bench", "120s",
            "timeout = 1s\nretry_max = 1s\nbuffer_size = 2G\n")
        with open(os.path.join(tmp, "relay.log"), "w") as log:
            relay = subprocess.Popen([harness.relayd_path(), "-c", conf],
                                     stderr=log)
        harness.wait_until(lambda: os.path.exists(sock), 10, "socket")
        figures = backlog(relay.pid, sink, sock, lines)
        relay.send_signal(signal.SIGTERM)
        relay.wait(timeout=60)
    return figures + (sink.got,)


def syslog_ng_drain(lines):
    """The same for syslog-ng (tests/bench/syslog-ng.conf without flow
    control)."""
    with tempfile.TemporaryDirectory() as tmp, \
            bench_relay.NullSink(tmp) as sink:
        with bench_relay.SyslogNG(tmp, sink.url + "/write?db=bench", 1,
                                  flow_control=False) as sng:
            figures = backlog(sng.proc.pid, sink, sng.sock, lines)
    return figures + (sink.got,)


def main():
    lines = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
    idle, peak, after, seconds, got = relay_drain(lines)
    print("backlog of %d points: relay RSS idle %d KiB, holding them %d "
          "KiB, %.0f s after the sink came back %d KiB (%.2fx idle); sink "
          "got %d" % (lines, idle, peak, seconds, after, after / idle, got))
    # a request that timed out while the sink was stopped may arrive
    # twice (at least once, as InfluxDB's idempotent writes allow)
    if got < lines:
        sys.exit("ERROR: points missing at the sink")


if __name__ == "__main__":
    main()
