#!/usr/bin/env python3
"""What isolating senders costs (README "Performance").

1. Type-aware batching: relay throughput into the null sink (the shape of
   bench_relay.py), and, when RELAYD_BASE names a build without it (e.g.
   the commit before it), the same run with that binary, in alternating
   pairs, so the ratio holds on a noisy machine.
2. A sender alternating one field's types (`m f=Ni`, `m f=N.5`, 10,000
   lines/s) next to four ordinary senders, into a real influxd: the
   ordinary senders' points/s with and without it, requests made, and
   what became of the alternating sender's points.

Run: python3 tests/bench/bench_isolation.py [LINES] [PAIRS]
     RELAYD_BASE=/path/to/old/src/influx-relayd python3 ...
"""

import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402
import bench_relay  # noqa: E402


def null_sink_rate(relayd, lines, clients=4):
    """(lines/s, CPU ns per line) of one relay -> null sink run."""
    wall, cpu, _, _, got = bench_relay.null_sink_run(lines, clients,
                                                    relayd=relayd)
    if got != lines:
        sys.exit("ERROR: the sink received %d of %d lines" % (got, lines))
    return lines / wall, cpu / lines * 1e9


def bench_batching_cost(lines, pairs):
    """Medians of alternating runs, this build against RELAYD_BASE."""
    this = harness.relayd_path()
    base = os.environ.get("RELAYD_BASE")
    runs = {"this": [], "base": []}
    for _ in range(pairs):
        runs["this"].append(null_sink_rate(this, lines))
        if base:
            runs["base"].append(null_sink_rate(base, lines))
    med = {k: (statistics.median(r[0] for r in v),
               statistics.median(r[1] for r in v))
           for k, v in runs.items() if v}
    print("type-aware batching, null sink, %d lines x 4 clients, median of "
          "%d: this build %.0f lines/s, %.0f ns CPU/line"
          % (lines, pairs, med["this"][0], med["this"][1]))
    if "base" in med:
        print("  baseline %s: %.0f lines/s, %.0f ns CPU/line; throughput "
              "ratio this/base %.3f, CPU ratio %.3f"
              % (base, med["base"][0], med["base"][1],
                 med["this"][0] / med["base"][0],
                 med["this"][1] / med["base"][1]))


def alternate(path, rate, stop, sent):
    """Write `m f=Ni` / `m f=N.5` at `rate` lines/s until `stop` is set."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(path)
        i, start = 0, time.monotonic()
        while not stop.is_set():
            burst = []
            for _ in range(100):
                burst.append("m f=%d%s %d\n" % (i, "i" if i % 2 else ".5",
                                                1700000000000000000 + i))
                i += 1
            s.sendall("".join(burst).encode())
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        sent.append(i)


def one_run(influx, db, lines, with_alternator):
    """Four loadgen senders (and maybe the alternating one) into influxd;
    returns (ordinary points/s, the relay's target counters)."""
    with tempfile.TemporaryDirectory() as tmp:
        sock, conf = bench_relay.write_config(
            tmp, influx.url, db, "120s", "flush_interval = 100ms\n")
        log = open(os.path.join(tmp, "relay.log"), "w")
        relay = subprocess.Popen([harness.relayd_path(), "-c", conf],
                                 stderr=log)
        harness.wait_until(lambda: os.path.exists(sock), 10, "socket")
        stop, sent = threading.Event(), []
        alt = threading.Thread(target=alternate,
                               args=(sock, 10000, stop, sent))
        if with_alternator:
            alt.start()
            time.sleep(0.5)         # the field's type is settled by now
        start = time.monotonic()
        subprocess.run([bench_relay.LOADGEN, sock, str(lines), "4"],
                       check=True, stdout=subprocess.DEVNULL)
        stop.set()
        if with_alternator:
            alt.join()
        relay.send_signal(signal.SIGUSR1)
        time.sleep(0.3)
        relay.send_signal(signal.SIGTERM)
        relay.wait(timeout=120)
        wall = time.monotonic() - start
        log.close()
        text = open(os.path.join(tmp, "relay.log")).read()
    st = [l for l in text.splitlines() if "stats: target t:" in l][-1]
    counters = dict(w.split("=", 1) for w in st.split(": ", 2)[2].split()
                    if "=" in w and w.split("=", 1)[1].isdigit())
    counters["alternating_sent"] = str(sent[0] if sent else 0)
    return lines / wall, counters


def bench_alternating_sender(lines):
    with harness.InfluxD() as influx:
        for name in ("quiet", "noisy"):
            influx.create_database(name)
        quiet, qc = one_run(influx, "quiet", lines, False)
        noisy, nc = one_run(influx, "noisy", lines, True)
        stored = (bench_relay.count(influx, "quiet"),
                  bench_relay.count(influx, "noisy"))
    print("alternating sender, influxd, %d lines x 4 clients: without it "
          "%.0f points/s (%s requests), with it %.0f points/s (%s "
          "requests; ratio %.2f)"
          % (lines, quiet, qc["requests"], noisy, nc["requests"],
             noisy / quiet))
    print("  the alternating sender wrote %s lines: %s refused at the "
          "socket, %s dropped by influxd, %s batches cut, %s spilled; "
          "ordinary points stored %d / %d"
          % (nc["alternating_sent"], nc["rejected_conflict"],
             nc["dropped_server"], nc["type_cuts"], nc["type_spills"],
             stored[0], stored[1]))
    if stored != (lines, lines):
        sys.exit("ERROR: ordinary points missing in influxd")


def main():
    lines = int(sys.argv[1]) if len(sys.argv) > 1 else 2000000
    pairs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    bench_batching_cost(lines, pairs)
    bench_alternating_sender(min(lines, 500000))


if __name__ == "__main__":
    main()
