#!/usr/bin/env python3
"""Soak: the relay under steady load while InfluxDB restarts and the
configuration reloads, with the books checked exactly at the end.

8 stream clients send 20,000 lines/s in all (each reconnects every few
seconds), influxd is stopped and started again a few times, and the relay
reloads its configuration (SIGHUP, a changed flush_interval) every 10 s.
The target keeps a disk spool and only 4 MiB of memory, so an outage
spills points to disk and they are read back.
At the end every point sent must be accepted, written exactly once and
stored: lines sent = accepted = written = rows in influxd, both the
listener's and the target's balance hold with nothing buffered or
dropped, and the relay's RSS after the last drain is no more than a
little above its RSS after the first one (flat: nothing grows with the
number of points).  Counts are asserted exactly; rates never are (a
loaded machine may send less than 20,000 lines/s, it just sends fewer).

    ./soak.py              2 minutes (what `make check` runs)
    ./soak.py --long       10 minutes
    SOAK_SECONDS=N ./soak.py
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
import harness                                              # noqa: E402
from harness import (InfluxD, Relay, check, check_books,   # noqa: E402
                     check_equal, count_points, influxd_down, influxd_up,
                     ini_text, relay_config, unique_db, wait_until)

CLIENTS = 8
RATE = 20000            # lines/s, all clients together
TICK = 0.1              # s between a client's chunks
RECONNECT = 5.0         # s a client keeps its connection
RELOAD_EVERY = 10.0     # s
DOWN_FOR = 3.0          # s influxd stays down each time
SETTLE = 180            # s allowed for the final drain on a loaded machine
T0 = 1700000000 * 10**9
RSS_SLACK_KB = 16 * 1024


def soak_seconds():
    if "--long" in sys.argv:
        sys.argv.remove("--long")
        return 600
    return int(os.environ.get("SOAK_SECONDS", "120"))


DURATION = soak_seconds()


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Client(threading.Thread):
    """One sender: RATE / CLIENTS lines/s of its own series, each point
    with its own timestamp, so every line is one row in influxd."""

    def __init__(self, relay, n, stop):
        super().__init__(daemon=True)
        self.relay, self.n, self.stop = relay, n, stop
        self.sent = 0
        self.error = None

    def chunk(self, count):
        start = self.sent
        return "".join("soak,c=%d v=%di %d\n" % (self.n, i, T0 + i)
                       for i in range(start, start + count)).encode()

    def run(self):
        per_tick = max(1, int(RATE / CLIENTS * TICK))
        try:
            while not self.stop.is_set():
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.relay.socket_path)
                opened = time.monotonic()
                next_t = opened
                while (not self.stop.is_set() and
                       time.monotonic() - opened < RECONNECT):
                    s.sendall(self.chunk(per_tick))
                    self.sent += per_tick
                    next_t += TICK
                    delay = next_t - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                s.close()
        except OSError as e:
            self.error = e


def reload(relay, flush):
    """SIGHUP with a changed flush_interval; waits for the relay to log
    that it took the new file."""
    relay.sections["target:local"]["flush_interval"] = flush
    with open(relay.config_path, "w") as f:
        f.write(ini_text(relay.sections))
    before = relay.log().count("reconfigured")
    relay.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: relay.log().count("reconfigured") > before, 30,
               "the reload to be applied")


def drained(relay, timeout=SETTLE):
    """Waits until the relay holds no point; returns its books."""
    return wait_until(lambda: (lambda b: b if b[0]["buffered_points"] == 0
                               else None)(check_books(relay, timeout=30)),
                      timeout, "the relay to deliver everything")


def test_soak(influx):
    """20,000 lines/s from 8 clients with influxd restarts and reloads:
    sent = accepted = written = rows, exact books, flat RSS."""
    own = InfluxD()
    try:
        db = unique_db("soak")
        # a disk spool, and memory small enough that an outage of a few
        # seconds spills to it and loads back
        cfg = relay_config(own, db, relayd={
            "log_level": "info", "control_socket": "@DIR@/control.sock",
            "spool_dir": "@DIR@/spool"},
            target={
            "retry_initial": "200ms", "retry_max": "2s",
            "buffer_size": "4M"})
        with Relay(cfg) as relay:
            stop = threading.Event()
            clients = [Client(relay, n, stop) for n in range(CLIENTS)]
            for c in clients:
                c.start()
            start = time.monotonic()
            outages = max(2, DURATION // 40)
            down_at = [DURATION * (i + 1) / (outages + 1)
                       for i in range(outages)]
            next_reload, reloads, restarts, flip = RELOAD_EVERY, 0, 0, 0
            rss_start = None
            while time.monotonic() - start < DURATION:
                now = time.monotonic() - start
                if down_at and now >= down_at[0]:
                    down_at.pop(0)
                    influxd_down(own)
                    time.sleep(DOWN_FOR)
                    influxd_up(own)
                    restarts += 1
                elif now >= next_reload:
                    flip ^= 1
                    reload(relay, "300ms" if flip else "200ms")
                    reloads += 1
                    next_reload += RELOAD_EVERY
                elif rss_start is None and restarts >= 1:
                    # after the first outage is made good: warm, drained
                    # memory is the reference; later outages must not
                    # leave anything behind
                    time.sleep(3)
                    rss_start = rss_kb(relay.proc.pid)
                time.sleep(0.2)
                check(relay.running(), "the relay died")
            stop.set()
            for c in clients:
                c.join(30)
                check(c.error is None, "client %d: %s" % (c.n, c.error))
            sent = sum(c.sent for c in clients)
            lst, tst = drained(relay)
            rss_end = rss_kb(relay.proc.pid)
            took = time.monotonic() - start
            st = tst["local"]
            check_equal(sent, lst["lines"], "lines the listener read")
            check_equal(sent, lst["accepted"], "lines accepted")
            check_equal(sent, st["accepted"], "points the target accepted")
            check_equal(sent, st["written"], "points written")
            check_equal(0, st["dropped"] + lst["dropped"] + lst["rejected"],
                        "points dropped or rejected")
            wait_until(lambda: count_points(own, db, "soak") == sent, SETTLE,
                       "%d rows in influxd" % sent)
            # the same books as JSON, from the control socket
            out = subprocess.run([harness.relayctl_path(), "-s",
                                  relay.sections["relayd"]["control_socket"],
                                  "stats"], capture_output=True, timeout=30)
            check_equal(0, out.returncode, "influx-relayctl stats")
            answer = json.loads(out.stdout)
            harness.check_balance(answer["targets"][0], "JSON target")
            jl = harness.check_listener_balance(answer["listeners"][0],
                                                "JSON listener")
            # the listener hands points kept on disk only to the target
            check_equal(sent, jl["written"] + jl["spooled"],
                        "JSON listener written and spooled")
            print("  %d lines in %.0fs (%.0f lines/s), %d influxd restarts, "
                  "%d reloads, %d requests, %d retries, %d points kept on "
                  "disk only for a while; relay RSS %d KiB after the first "
                  "outage, %d KiB at the end"
                  % (sent, took, sent / took, restarts, reloads,
                     st["requests"], st["retries"], jl["spooled"],
                     rss_start or 0, rss_end))
            check(rss_start is not None, "no RSS reference taken")
            check(rss_end <= rss_start * 1.25 + RSS_SLACK_KB,
                  "RSS grew from %d to %d KiB" % (rss_start, rss_end))
            check_equal(0, relay.terminate(), "exit code")
    finally:
        own.stop()


if __name__ == "__main__":
    harness.main([test_soak])
