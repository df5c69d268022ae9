#!/usr/bin/env python3
"""The Python client's write rate: one thread calls write_points() with
batches of 5,000 points (3 tags, 4 fields, a timestamp; built before the
clock starts, as an application holds its data) into the relay, which
sends them to the null sink; points/s of the client, and the points the
sink got.  Also write() one point at a time.

Run: python3 tests/bench/bench_client_python.py [POINTS]
"""

import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "clients", "python"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import bench_relay  # noqa: E402
import harness  # noqa: E402
import influx_relay  # noqa: E402


def points(first, n):
    return [{"measurement": "cpu",
             "tags": {"host": "server%03d" % (i % 1000), "region": "eu-west",
                      "cpu": "cpu1"},
             "fields": {"usage_user": 7.5, "usage_system": 3.25,
                        "usage_idle": 11.125, "procs": 1},
             "time": 1700000000000000000 + i} for i in range(first, first + n)]


def run(total, batched):
    with tempfile.TemporaryDirectory() as tmp:
        with bench_relay.NullSink(tmp) as sink:
            sock, conf = bench_relay.write_config(
                tmp, sink.url, "bench", "120s", bench_relay.FAST)
            relay = harness.subprocess.Popen(
                [harness.relayd_path(), "-c", conf],
                stderr=open(os.path.join(tmp, "log"), "w"))
            harness.wait_until(lambda: os.path.exists(sock), 10, "socket")
            influx_relay.InfluxDB._instances.clear()
            c = influx_relay.InfluxDB(sink.url, socket=sock)
            batches = [points(first, min(5000, total - first))
                       for first in range(0, total, 5000)]
            start = time.monotonic()
            for batch in batches:
                if batched:
                    c.write_points("bench", batch)
                else:
                    for p in batch:
                        c.write("bench", p["measurement"], p["fields"],
                                tags=p["tags"], time=p["time"])
            took = time.monotonic() - start
            relay.terminate()
            relay.wait(60)
        return total / took, sink.got


def main():
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 500000
    for batched in (True, False):
        rate, got = run(total, batched)
        print("%s: %d points, %.0f points/s from one thread; the sink got %d"
              % ("write_points" if batched else "write", total, rate, got))


if __name__ == "__main__":
    main()
