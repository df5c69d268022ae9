#!/usr/bin/env python3
"""`make bench`: every figure of the performance issue, influx-relayd and
syslog-ng side by side in one table.

1. Throughput (tests/bench/bench_relay.py): 4 clients into the null sink;
   into influxd against a direct batched writer; RSS per byte held with
   the target down; 256 clients into the null sink with the default
   settings: points dropped, lines/s end to end, peak RSS.
2. Databases (tests/bench/bench_databases.py): lines spread over 1, 100,
   1,000 and 10,000 databases into the null sink: CPU ns per line, its
   ratio to one database, lines/s end to end, HTTP requests.
3. Queues (bench_databases.py): the sink stopped, 1,000 databases
   overflowing a 64M buffer_size: peak RSS.  syslog-ng's queues are
   capped (log-fifo-size) to hold as many bytes of lines in all.
4. Drain (tests/bench/bench_drain.py): the sink stopped while 1M lines
   arrive, then running again: RSS idle, holding them, and after they
   were delivered (back under twice the idle figure within a minute?).

Every syslog-ng figure comes from a run in which the sink got every line
(each in its own database); a cell syslog-ng cannot fill says n/a, and a
note under the table says why.

Run: make bench  (or: python3 tests/bench/bench_all.py [SHAPE...] [LINES])
SHAPE picks shapes, all by default: --throughput, --databases, --queues,
--drain (make bench BENCH_SHAPES="--queues --drain").  LINES (default 2M) is the line count of the throughput shapes;
the databases and drain shapes take at most 1M.  BENCH_ROUNDS=N sets the
rounds (default 3), BENCH_SYSLOG_NG=0 leaves syslog-ng out, and
BASELINE=/path/to/older/influx-relayd adds that binary's figures to the
throughput shapes (see bench_relay.py).
"""

import math
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402
import bench_databases  # noqa: E402
import bench_drain  # noqa: E402
import bench_relay  # noqa: E402
from bench_relay import NA  # noqa: E402

SHAPES = ("--throughput", "--databases", "--queues", "--drain")


def medians(runs):
    """The median of each figure over rounds of tuples."""
    return tuple(statistics.median(r[i] for r in runs)
                 for i in range(len(runs[0])))


def summary(runs, failed):
    """{"relay": medians, "syslog-ng": medians, its NA if one of its runs
    failed, or nothing if it did not run}."""
    out = {"relay": medians(runs["relay"])}
    if failed:
        out["syslog-ng"] = failed
    elif runs["syslog-ng"]:
        out["syslog-ng"] = medians(runs["syslog-ng"])
    return out


def sng_figure(res, f):
    """f(syslog-ng's medians) from a summary(), its NA, or None."""
    sng = res.get("syslog-ng")
    return sng if sng is None or isinstance(sng, NA) else f(sng)


def bench_throughput(lines, rounds, sng):
    """Shapes 1-4 of bench_relay.py, as its main() runs them."""
    return (bench_relay.bench_null_sink(lines, 4, rounds, sng),
            bench_relay.bench_influxd(min(lines, 500000), 4, rounds, sng),
            bench_relay.bench_memory(min(lines, 1000000), 4, rounds, sng),
            bench_relay.bench_many_clients(lines, 256, rounds, sng))


def bench_databases_shape(lines, rounds, sng):
    """{databases: summary() of (CPU ns/line, requests, lines/s)}.  A
    count at which syslog-ng failed once is not run again."""
    runs = {n: {"relay": [], "syslog-ng": []}
            for n in bench_databases.COUNTS}
    failed = {}
    for _ in range(rounds):
        for n in bench_databases.COUNTS:
            ns, _, requests, wall = bench_databases.run(
                harness.relayd_path(), lines, n)
            print("databases: %5d: relay %.0f ns CPU per line, %d requests, "
                  "%.0f lines/s" % (n, ns, requests, lines / wall))
            runs[n]["relay"].append((ns, requests, lines / wall))
            if not sng or n in failed:
                continue
            res = bench_databases.syslog_ng_run(lines, n)
            if isinstance(res, NA):
                print("databases: %5d: syslog-ng n/a: %s" % (n, res.why))
                failed[n] = res
                continue
            ns, rss, requests, wall = res
            print("databases: %5d: syslog-ng %.0f ns CPU per line, %d "
                  "requests, %.0f lines/s, peak RSS %d KiB"
                  % (n, ns, requests, lines / wall, rss))
            runs[n]["syslog-ng"].append((ns, requests, lines / wall))
    return {n: summary(r, failed.get(n)) for n, r in runs.items()}


def bench_queues(rounds, sng, databases=1000):
    """summary() of (peak RSS KiB, bytes of lines held): a 64M buffer
    full over `databases` queues."""
    runs = {"relay": [], "syslog-ng": []}
    failed = None
    for _ in range(rounds):
        hwm = bench_databases.memory_bound(harness.relayd_path(), databases)
        print("queues: %d databases, 64M buffer_size full: relay peak RSS "
              "%d KiB = %.2f x buffer_size" % (databases, hwm, hwm / 65536))
        runs["relay"].append((hwm, 64 << 20))
        if not sng or failed:
            continue
        res = bench_databases.syslog_ng_memory_bound(databases)
        if isinstance(res, NA):
            print("queues: syslog-ng n/a: " + res.why)
            failed = res
            continue
        hwm, queued = res
        held = queued * bench_relay.LINE_BYTES
        print("queues: %d databases: syslog-ng holds %d lines = %.1f MiB, "
              "peak RSS %d KiB = %.2f x that" % (databases, queued,
                                                 held / 2**20, hwm,
                                                 hwm * 1024 / held))
        runs["syslog-ng"].append((hwm, held))
    return summary(runs, failed)


def bench_drain_shape(lines, rounds, sng):
    """summary() of (RSS idle, holding the backlog, after it drained, KiB;
    seconds until under twice the idle figure, inf if not within 60)."""
    runs = {"relay": [], "syslog-ng": []}
    failed = None
    for _ in range(rounds):
        for name, drain in (("relay", bench_drain.relay_drain),
                            ("syslog-ng", bench_drain.syslog_ng_drain)):
            if name == "syslog-ng" and (not sng or failed):
                continue
            idle, peak, after, seconds, got = drain(lines)
            print("drain (%s): backlog of %d lines: RSS idle %d KiB, "
                  "holding them %d KiB, %.0f s after the sink came back %d "
                  "KiB (%.2fx idle); sink got %d" % (name, lines, idle, peak,
                                                     seconds, after,
                                                     after / idle, got))
            # at least once: a request that timed out may come twice
            if got < lines and name == "relay":
                sys.exit("ERROR: points missing at the sink")
            if got < lines:
                failed = NA("syslog-ng delivered %d of %d lines" % (got,
                                                                    lines))
                continue
            runs[name].append((idle, peak, after, seconds if after <
                               2 * idle else math.inf))
    return summary(runs, failed)


def databases_label(n, what):
    return "%s database%s: %s" % (format(n, ","), "s" if n > 1 else "",
                                  what)


def databases_rows(table, res):
    one = res[1]
    for n, r in res.items():
        table.row(databases_label(n, "CPU ns/line"),
                  r["relay"][0], sng_figure(r, lambda s: s[0]), "%.0f",
                  False)
    for n, r in res.items():
        if n == 1:
            continue
        sng = sng_figure(one, lambda s1: sng_figure(
            r, lambda s: s[0] / s1[0]))
        table.row(databases_label(n, "CPU/line over 1 database"),
                  r["relay"][0] / one["relay"][0], sng, "%.2fx", False)
    for n, r in res.items():
        table.row(databases_label(n, "lines/s"), r["relay"][2],
                  sng_figure(r, lambda s: s[2]), "%.0f")
    for n, r in res.items():
        table.row(databases_label(n, "HTTP requests"),
                  r["relay"][1], sng_figure(r, lambda s: s[1]), "%d", None)


def queues_rows(table, res):
    table.row("1,000 queues, 64M held, sink down: RSS MiB",
              res["relay"][0] / 1024, sng_figure(res, lambda s: s[0] / 1024),
              "%.1f", False)
    table.row("1,000 queues: peak RSS per byte of lines held",
              res["relay"][0] * 1024 / res["relay"][1],
              sng_figure(res, lambda s: s[0] * 1024 / s[1]), "%.2f", False)


def drain_rows(table, res, lines):
    """Drained: once the sink had every line and RSS was under twice the
    idle figure, or 60 s after the sink came back."""
    what = "backlog of %s lines: " % ("%gM" % (lines / 1e6) if lines >= 1e6
                                      else "%gk" % (lines / 1e3))
    for i, label in ((0, "RSS idle MiB"), (1, "RSS holding them MiB"),
                     (2, "RSS drained MiB")):
        table.row(what + label, res["relay"][i] / 1024,
                  sng_figure(res, lambda s: s[i] / 1024), "%.1f", False)
    table.row(what + "drained RSS / idle", res["relay"][2] / res["relay"][0],
              sng_figure(res, lambda s: s[2] / s[0]), "%.2fx", False)
    table.row(what + "s to RSS < 2x idle",
              finite(res["relay"][3], "the relay"),
              sng_figure(res, lambda s: finite(s[3], "syslog-ng")), "%.0f",
              False)


def finite(seconds, who):
    """seconds, or an NA if that is inf."""
    if seconds != math.inf:
        return seconds
    return NA("%s's RSS stayed over twice its idle figure for 60 s after "
              "the sink came back (median of the rounds)" % who)


def main():
    args = sys.argv[1:]
    shapes = [a for a in args if a in SHAPES] or SHAPES
    args = [a for a in args if a not in SHAPES]
    lines = int(args[0]) if args else 2000000
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    sng = bench_relay.syslog_ng_path()
    if sng is None:
        print("syslog-ng (syslog-ng-core + syslog-ng-mod-http) is not "
              "installed or BENCH_SYSLOG_NG=0: the relay alone")
    small = min(lines, 1000000)
    res = {}
    if "--throughput" in shapes:
        res["--throughput"] = bench_throughput(lines, rounds, sng)
    if "--databases" in shapes:
        res["--databases"] = bench_databases_shape(small, rounds, sng)
    if "--queues" in shapes:
        res["--queues"] = bench_queues(rounds, sng)
    if "--drain" in shapes:
        res["--drain"] = bench_drain_shape(small, rounds, sng)
    table = bench_relay.Table(rounds, sng is not None)
    if "--throughput" in res:
        bench_relay.table_rows(table, *res["--throughput"])
    if "--databases" in res:
        databases_rows(table, res["--databases"])
    if "--queues" in res:
        queues_rows(table, res["--queues"])
    if "--drain" in res:
        drain_rows(table, res["--drain"], small)
    table.close()


if __name__ == "__main__":
    main()
