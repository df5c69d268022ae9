#!/usr/bin/env python3
"""Many databases (README "Performance").

1. Cost per line: lines spread over 1, 100, 1,000 and 10,000 databases
   (a db tag routed with database_tag) go through the relay into the null
   sink; the relay's CPU time per line at each count, and its ratio to
   one database, show whether finding a point's queue stays O(1) and
   what each database's own requests cost.  The target keeps its default
   settings (flush_interval = 1s; flush_jitter = 0s as in every bench, one
   relay having no fleet to spread); FLUSH_INTERVAL=100ms in the
   environment measures with a shorter flush_interval instead.
2. Memory bound: with the sink stopped, 1.5M lines over 1 and 1,000
   databases overflow a 64M buffer_size (drop_oldest); the relay's peak
   RSS against buffer_size.
With RELAYD_BASE, the same runs with that binary, alternating with this
build's, for a before/after in one run.

Run: python3 tests/bench/bench_databases.py [LINES]
     FLUSH_INTERVAL=100ms python3 tests/bench/bench_databases.py [LINES]
BENCH_MEMORY=0 leaves out the memory bound (part 2); BENCH_ROUNDS=N runs
each count N times (alternating with RELAYD_BASE) and gives the median.
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

COUNTS = (1, 100, 1000, 10000)
# the same settings for every count: the default, unless told otherwise
FLUSH = ("flush_interval = %s\n" % os.environ["FLUSH_INTERVAL"]
         if os.environ.get("FLUSH_INTERVAL") else "")


def run(relayd, lines, databases):
    """(CPU ns per line, peak RSS KiB, requests) of one run into the null
    sink, lines tagged for `databases` databases."""
    with tempfile.TemporaryDirectory() as tmp, \
            bench_relay.NullSink(tmp) as sink:
        sock, conf = bench_relay.write_config(
            tmp, sink.url, "bench", "120s",
            FLUSH + "max_queues = 20000\nbuffer_size = 2G\n")
        with open(conf, "a") as f:
            f.write("[listener:tagged]\npath = %s/tagged.sock\n"
                    "target = t\ndatabase_tag = db\n" % tmp)
        with open(os.path.join(tmp, "relay.log"), "w") as log:
            relay = subprocess.Popen([relayd, "-c", conf], stderr=log)
        tagged = os.path.join(tmp, "tagged.sock")
        harness.wait_until(lambda: os.path.exists(tagged), 10, "socket")
        subprocess.run([bench_relay.LOADGEN, tagged, str(lines), "4",
                        str(databases)], check=True,
                       stdout=subprocess.DEVNULL)
        relay.send_signal(signal.SIGTERM)
        _, status, usage = os.wait4(relay.pid, 0)
        requests = bench_relay.stat(open(os.path.join(tmp,
                                                      "relay.log")).read(),
                                    "requests")
    if sink.got != lines or os.waitstatus_to_exitcode(status) != 0:
        sys.exit("ERROR: %d databases: the sink got %d of %d lines"
                 % (databases, sink.got, lines))
    return ((usage.ru_utime + usage.ru_stime) / lines * 1e9, usage.ru_maxrss,
            requests)


def memory_bound(relayd, databases, lines=1500000):
    """Peak RSS (KiB) of a relay holding a 64M buffer_size full."""
    with tempfile.TemporaryDirectory() as tmp, \
            bench_relay.NullSink(tmp) as sink:
        sock, conf = bench_relay.write_config(
            tmp, sink.url, "bench", "5s", "timeout = 1s\nretry_max = 1s\n"
            "buffer_size = 64M\nmax_queues = 20000\n")
        with open(conf, "a") as f:
            f.write("[listener:tagged]\npath = %s/tagged.sock\n"
                    "target = t\ndatabase_tag = db\n" % tmp)
        relay = subprocess.Popen([relayd, "-c", conf],
                                 stderr=subprocess.DEVNULL)
        tagged = os.path.join(tmp, "tagged.sock")
        harness.wait_until(lambda: os.path.exists(tagged), 10, "socket")
        sink.proc.send_signal(signal.SIGSTOP)
        subprocess.run([bench_relay.LOADGEN, tagged, str(lines), "4",
                        str(databases)], check=True,
                       stdout=subprocess.DEVNULL)
        time.sleep(1)		# what the clients wrote is read
        hwm = bench_relay.vm_hwm(relay.pid)
        relay.kill()
        relay.wait()
        sink.proc.send_signal(signal.SIGCONT)
    return hwm


def main():
    lines = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
    rounds = int(os.environ.get("BENCH_ROUNDS", "1"))
    builds = [("this build", harness.relayd_path())]
    if os.environ.get("RELAYD_BASE"):
        builds.append(("baseline", os.environ["RELAYD_BASE"]))
    # builds alternate within each count and round: a shared machine's
    # load then weighs on both alike
    got = {}
    for n in COUNTS:
        for _ in range(rounds):
            for name, relayd in builds:
                got.setdefault((name, n), []).append(run(relayd, lines, n))
    for name, relayd in builds:
        first = None
        for n in COUNTS:
            runs = sorted(got[(name, n)])
            ns, rss, requests = runs[len(runs) // 2]
            first = first or ns
            print("%s: %5d databases: %4.0f ns CPU per line (%.2fx one "
                  "database), %d requests (%.0f points each), peak RSS "
                  "%d KiB%s" % (name, n, ns, ns / first, requests,
                                lines / requests, rss,
                                " (median of %d; %.0f-%.0f ns)"
                                % (rounds, runs[0][0], runs[-1][0])
                                if rounds > 1 else ""))
        for n in (1, 1000) if os.environ.get("BENCH_MEMORY") != "0" else ():
            hwm = memory_bound(relayd, n)
            print("%s: %5d databases, buffer_size 64M full: peak RSS %d "
                  "KiB = %.2f x buffer_size (goal: 1.25 x + 16 MiB = "
                  "%d KiB)" % (name, n, hwm, hwm / 65536.0,
                               int(1.25 * 65536 + 16384)))


if __name__ == "__main__":
    main()
