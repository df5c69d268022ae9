#!/usr/bin/env python3
"""Cost per line against the number of databases (README "Performance").

Lines spread over 1, 100, 1,000 and 10,000 databases (a db tag routed
with database_tag) go through the relay into the null sink; the relay's
CPU time per line at each count, and its ratio to one database, show
whether finding a point's queue stays O(1).  With RELAYD_BASE, the same
runs with that binary, for a before/after in one run.

Run: python3 tests/bench/bench_databases.py [LINES]
"""

import os
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402
import bench_relay  # noqa: E402

COUNTS = (1, 100, 1000, 10000)


def run(relayd, lines, databases):
    """(CPU ns per line, peak RSS KiB, requests) of one run into the null
    sink, lines tagged for `databases` databases."""
    with tempfile.TemporaryDirectory() as tmp, \
            bench_relay.NullSink(tmp) as sink:
        sock, conf = bench_relay.write_config(
            tmp, sink.url, "bench", "120s",
            "flush_interval = 100ms\nmax_queues = 20000\n"
            "buffer_size = 2G\n")
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


def main():
    lines = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
    builds = [("this build", harness.relayd_path())]
    if os.environ.get("RELAYD_BASE"):
        builds.append(("baseline", os.environ["RELAYD_BASE"]))
    for name, relayd in builds:
        first = None
        for n in COUNTS:
            ns, rss, requests = run(relayd, lines, n)
            first = first or ns
            print("%s: %5d databases: %4.0f ns CPU per line (%.2fx one "
                  "database), %d requests (%.0f points each), peak RSS "
                  "%d KiB" % (name, n, ns, ns / first, requests,
                              lines / requests, rss))


if __name__ == "__main__":
    main()
