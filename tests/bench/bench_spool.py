#!/usr/bin/env python3
"""What the disk spool costs (README "Performance"):

1. Throughput: 4 clients into the null sink, the relay without a spool
   and with one (spool_sync = 1s), alternating, same run: lines/s and CPU
   per line of each, and their ratio (the goal: the spool keeps at least
   75% of the in-memory throughput).
2. Memory during an outage: InfluxDB down (a closed port), buffer_size =
   64M, 1,000,000 points (130 MB of line protocol) sent: every point is
   accepted, what memory cannot hold waits on disk, and peak RSS stays
   within buffer_size + 32 MiB.

Run: python3 tests/bench/bench_spool.py [LINES]   (BENCH_ROUNDS=N, default 3)
"""

import os
import signal
import subprocess
import sys
import tempfile
import time

import bench_relay
from bench_relay import LOADGEN, median, null_sink_run, vm_hwm, write_config

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..",
                                "integration"))
import harness  # noqa: E402


def bench_throughput(lines, rounds):
    runs = {"memory": [], "spool": []}
    for _ in range(rounds):
        for kind in ("memory", "spool"):
            wall, cpu, rss, _, got = null_sink_run(lines, 4,
                                                   spool=(kind == "spool"))
            if got != lines:
                sys.exit("ERROR: the sink got %d of %d lines" % (got, lines))
            print("%-6s %d lines in %.2fs = %.0f lines/s; CPU %.0f ns/line; "
                  "peak RSS %d KiB" % (kind, lines, wall, lines / wall,
                                       cpu / lines * 1e9, rss))
            runs[kind].append((lines / wall, cpu / lines * 1e9))
    m = {k: (median(r[0] for r in v), median(r[1] for r in v))
         for k, v in runs.items()}
    print("throughput medians: memory %.0f lines/s at %.0f ns/line, spool "
          "%.0f lines/s at %.0f ns/line: the spool keeps %.0f%%"
          % (m["memory"][0], m["memory"][1], m["spool"][0], m["spool"][1],
             100 * m["spool"][0] / m["memory"][0]))
    return m


def bench_outage(lines=1000000, buffer_mib=64):
    with tempfile.TemporaryDirectory() as tmp:
        sock, conf = write_config(tmp, "http://127.0.0.1:9", "m", "100ms",
                                  "buffer_size = %dM\nretry_initial = 60s\n"
                                  "retry_max = 60s\n" % buffer_mib, True)
        log = os.path.join(tmp, "spool.log")
        with open(log, "w") as logf:
            relay = subprocess.Popen([harness.relayd_path(), "-c", conf],
                                     stderr=logf)
        harness.wait_until(lambda: os.path.exists(sock), 10, "relay socket")
        subprocess.run([LOADGEN, sock, str(lines), "4"], check=True,
                       stdout=subprocess.DEVNULL)
        def stats():
            """The newest stats line once every point was read."""
            relay.send_signal(signal.SIGUSR1)
            time.sleep(0.2)
            text = open(log).read()
            if "spool_unloaded=" not in text:
                return None
            got = int(text.rsplit(" accepted=", 1)[1].split()[0])
            return text if got >= lines else None
        text = harness.wait_until(stats, 30, "every point read")
        st = {k: int(text.rsplit(" %s=" % k, 1)[1].split()[0])
              for k in ("accepted", "dropped", "buffered_bytes",
                        "spool_bytes", "spool_unloaded")}
        peak = vm_hwm(relay.pid)
        relay.send_signal(signal.SIGTERM)
        relay.wait(60)
    print("outage: %d points sent, %d accepted, %d dropped; %d bytes in "
          "memory, %d MiB spooled, %d points on disk only; peak RSS %d MiB "
          "(buffer_size %d MiB + 32 = %d)"
          % (lines, st["accepted"], st["dropped"], st["buffered_bytes"],
             st["spool_bytes"] >> 20, st["spool_unloaded"], peak >> 10,
             buffer_mib, buffer_mib + 32))
    if st["accepted"] != lines or st["dropped"] != 0:
        sys.exit("ERROR: points lost during the outage")
    return peak


def main():
    lines = int(sys.argv[1]) if len(sys.argv) > 1 else 2000000
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    bench_throughput(lines, rounds)
    bench_outage()


if __name__ == "__main__":
    main()
