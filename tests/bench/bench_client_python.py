#!/usr/bin/env python3
"""The Python client's write rate: one thread calls write_points() with
batches of 5,000 points (3 tags, 4 fields, a timestamp; built before the
clock starts, as an application holds its data) into the relay, which
sends them to the null sink; points/s of the client.  Also write() one
point at a time.  Every point is distinct (its own timestamp); a run
fails unless the relay accepted every one, rejected none, and the sink
got them all.

BASELINE=DIR (a directory holding an older influx_relay package, e.g.
from `git archive OLD clients/python | tar -x -C /tmp/old`, then
DIR=/tmp/old/clients/python) runs that client too, alternating with this
one in each round, so the ratio holds on a noisy machine; BENCH_ROUNDS=N
sets the rounds (default 3) and the figures are their medians.

Run: python3 tests/bench/bench_client_python.py [POINTS]
"""

import importlib.util
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT = os.path.join(HERE, "..", "..", "clients", "python")
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import bench_relay  # noqa: E402
import harness  # noqa: E402


def load_client(name, directory):
    """The influx_relay package in `directory`, imported as `name`."""
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(directory, "influx_relay", "__init__.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def points(first, n):
    return [{"measurement": "cpu",
             "tags": {"host": "server%03d" % (i % 1000), "region": "eu-west",
                      "cpu": "cpu1"},
             "fields": {"usage_user": 7.5, "usage_system": 3.25,
                        "usage_idle": 11.125, "procs": 1},
             "time": 1700000000000000000 + i} for i in range(first, first + n)]


def listener_stats(log):
    """The counters of the last `stats: listener main:` line of a log."""
    text = [ln for ln in log.splitlines()
            if "stats: listener main:" in ln][-1]
    return dict(kv.split("=", 1) for kv in text.split() if "=" in kv)


def run(client, total, batched):
    """Points/s of one thread writing `total` points through a fresh
    relay; raises unless the relay and the sink have every one."""
    with tempfile.TemporaryDirectory() as tmp:
        with bench_relay.NullSink(tmp) as sink:
            sock, conf = bench_relay.write_config(
                tmp, sink.url, "bench", "120s", bench_relay.FAST)
            log = os.path.join(tmp, "log")
            with open(log, "w") as logf:
                relay = harness.subprocess.Popen(
                    [harness.relayd_path(), "-c", conf], stderr=logf)
            harness.wait_until(lambda: os.path.exists(sock), 10, "socket")
            client.InfluxDB._instances.clear()
            c = client.InfluxDB(sink.url, socket=sock)
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
            if relay.wait(120) != 0:
                raise RuntimeError("the relay exited with %d"
                                   % relay.returncode)
        st = listener_stats(open(log).read())
    if (int(st["accepted"]), int(st["rejected"]), sink.got) != \
            (total, 0, total):
        raise RuntimeError("%d points written, the relay accepted %s and "
                           "rejected %s, the sink got %d"
                           % (total, st["accepted"], st["rejected"],
                              sink.got))
    return total / took


def main():
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 500000
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    clients = [("this", load_client("influx_relay", CLIENT))]
    if os.environ.get("BASELINE"):
        clients.insert(0, ("baseline", load_client("influx_relay_baseline",
                                                   os.environ["BASELINE"])))
    rates = {}
    for _ in range(rounds):
        for batched in (True, False):
            for name, client in clients:
                rates.setdefault((name, batched), []).append(
                    run(client, total, batched))
    for batched in (True, False):
        for name, _ in clients:
            r = rates[name, batched]
            print("%-8s %-12s %d points x %d rounds: %.0f points/s from one "
                  "thread (median; %s); the relay accepted every point"
                  % (name, "write_points" if batched else "write", total,
                     rounds, statistics.median(r),
                     " ".join("%.0f" % x for x in r)))
        if len(clients) == 2:
            print("%-8s %-12s this / baseline = %.2f" % (
                "", "write_points" if batched else "write",
                statistics.median(rates["this", batched]) /
                statistics.median(rates["baseline", batched])))


if __name__ == "__main__":
    main()
