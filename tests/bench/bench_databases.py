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

syslog-ng 3.38 runs both shapes too in `make bench` (tests/bench/
bench_all.py): its http() url() takes no templates (they came in 4.5), so
it routes as the relay does with one http() destination per database,
each chosen by a filter on the db tag (syslog_ng_config()).

Run: python3 tests/bench/bench_databases.py [LINES]
     FLUSH_INTERVAL=100ms python3 tests/bench/bench_databases.py [LINES]
BENCH_MEMORY=0 leaves out the memory bound (part 2); BENCH_ROUNDS=N runs
each count N times (alternating with RELAYD_BASE) and gives the median.
"""

import os
import resource
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
    """(CPU ns per line, peak RSS KiB, requests, seconds from the first
    write until the relay exited) of one run into the null sink, lines
    tagged for `databases` databases."""
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
        start = time.monotonic()
        subprocess.run([bench_relay.LOADGEN, tagged, str(lines), "4",
                        str(databases)], check=True,
                       stdout=subprocess.DEVNULL)
        relay.send_signal(signal.SIGTERM)
        _, status, usage = os.wait4(relay.pid, 0)
        wall = time.monotonic() - start
        requests = bench_relay.stat(open(os.path.join(tmp,
                                                      "relay.log")).read(),
                                    "requests")
    if sink.got != lines or os.waitstatus_to_exitcode(status) != 0:
        sys.exit("ERROR: %d databases: the sink got %d of %d lines"
                 % (databases, sink.got, lines))
    if misrouted(sink.out, lines, databases):
        sys.exit("ERROR: relay: " + misrouted(sink.out, lines, databases))
    return ((usage.ru_utime + usage.ru_stime) / lines * 1e9, usage.ru_maxrss,
            requests, wall)


def misrouted(report, lines, databases):
    """Why the null sink's report shows `lines`, spread by loadgen over
    `databases` databases, not each in its own database; else None."""
    got = dict(kv.split("=") for kv in report.split())
    want = {"dbs": databases, "dbmin": lines // databases,
            "dbmax": -(-lines // databases)}
    if all(int(got[k]) == v for k, v in want.items()):
        return None
    return ("%d databases: the sink counted %s databases, %s to %s lines "
            "each (want %d to %d)" % (databases, got["dbs"], got["dbmin"],
                                      got["dbmax"], want["dbmin"],
                                      want["dbmax"]))


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


# syslog-ng 3.38, routing as the relay does.  The regexp-parser splits a
# line around its db tag (the body joins head and tail, so the tag is cut
# out as database_tag cuts it), and names the database (.rt.db) and the
# last `k` characters of its name (.rt.grp); one http() destination per
# database takes the lines its filter matches.  type(string) compares the
# whole value: db1 does not take db10's lines.  A message goes through a
# junction's channels in order until one with flags(final) matches, at
# about 65 ns a channel here: flat, 1,000 databases cost 59 us of CPU a
# line, grouped by the end of their name (100 groups of 10) 20 us.  The
# groups also keep the configuration within what 3.38 parses: 10,000
# channels in one junction, or 10,000 destination statements, fail with
# "Too many tokens found during parsing, consider increasing YYMAXDEPTH".
SYSLOG_NG_PARSER = '''
parser p_db {
	regexp-parser(prefix(".rt.") patterns(
	    "^(?<head>[^ ]*?),db=(?<db>[^, ]*?(?<grp>[^, ]{1,%d}))(?<tail>[, ].*)$"));
};
'''
SYSLOG_NG_GROUP = '''
		channel {
			filter { match("%s" value(".rt.grp") type(string)); };
			junction {%s
			};
			flags(final);
		};'''
SYSLOG_NG_CHANNEL = '''
				channel {
					filter { match("%(db)s" value(".rt.db") type(string)); };
					destination { http(url("@URL@/write?db=%(db)s")
					    method("POST") body("${.rt.head}${.rt.tail}")
					    delimiter("\\n") batch-lines(5000) batch-bytes(4MB)
					    batch-timeout(100) workers(1) persist-name("%(db)s")
					    log-fifo-size(%(fifo)d)); };
					flags(final);
				};'''
# What one destination holds open: its worker's epoll, its connection and
# libcurl's wake-up socket pair (counted in /proc/PID/fd under load).
SYSLOG_NG_FDS = 4


def syslog_ng_config(databases, fifo):
    """A syslog-ng configuration for SyslogNG(text=...): the options and
    source of tests/bench/syslog-ng.conf, then the routing to `databases`
    databases db0, db1... (as loadgen names them), each queue holding up
    to `fifo` lines."""
    with open(bench_relay.SYSLOG_NG_CONF) as f:
        text = f.read().split("destination d_influx")[0]
    k = max(1, len(str(databases - 1)) // 2)
    groups = {}
    for i in range(databases):
        groups.setdefault(("db%d" % i)[-k:], []).append("db%d" % i)
    junction = "".join(SYSLOG_NG_GROUP % (grp, "".join(
        SYSLOG_NG_CHANNEL % {"db": db, "fifo": fifo} for db in names))
        for grp, names in sorted(groups.items()))
    return (text + SYSLOG_NG_PARSER % k + "\nlog {\n\tsource(s_apps);\n"
            "\tparser(p_db);\n\tjunction {%s\n\t};\n\t@LOGFLAGS@\n};\n"
            % junction)


def fd_shortage(databases):
    """Why syslog-ng cannot hold `databases` destinations open within
    RLIMIT_NOFILE (raising the soft limit to the hard one), else None."""
    need = SYSLOG_NG_FDS * databases + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < min(need, hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard >= need:
        return None
    return ("syslog-ng needs %d fds a destination (its worker's epoll, its "
            "connection, libcurl's socket pair): %d destinations need %d, "
            "RLIMIT_NOFILE allows %d" % (SYSLOG_NG_FDS, databases, need,
                                         hard))


def syslog_ng_started(sng, databases):
    """Waits until every destination's worker thread runs."""
    harness.wait_until(lambda: sng.threads() > databases, 60 +
                       databases / 50, "syslog-ng's %d workers" % databases)


def syslog_ng_run(lines, databases, deadline=600):
    """syslog-ng's (CPU ns per line, peak RSS KiB, requests, seconds) from
    the first write until the null sink had every line, lines tagged for
    `databases` databases; an NA if it could not deliver them, each to its
    database, within `deadline` seconds."""
    why = fd_shortage(databases)
    if why:
        return bench_relay.NA(why)
    with tempfile.TemporaryDirectory() as tmp, \
            bench_relay.NullSink(tmp) as sink:
        try:
            with bench_relay.SyslogNG(tmp, sink.url, 1, text=syslog_ng_config(
                    databases, 3100000)) as sng:
                syslog_ng_started(sng, databases)
                cpu, start = sng.cpu(), time.monotonic()
                subprocess.run([bench_relay.LOADGEN, sng.sock, str(lines),
                                "4", str(databases)], check=True,
                               stdout=subprocess.DEVNULL)
                harness.wait_until(lambda: sink.lines() >= lines, deadline,
                                   "syslog-ng's lines", interval=0.02)
                wall = time.monotonic() - start
                cpu, rss = sng.cpu() - cpu, sng.hwm()
        except (RuntimeError, harness.TestFailure,
                subprocess.CalledProcessError) as e:
            return bench_relay.NA("syslog-ng, %d databases: %s"
                                  % (databases, str(e).split("\n")[0]))
    why = misrouted(sink.out, lines, databases)
    if sink.got != lines or why:
        return bench_relay.NA("syslog-ng: %s" % (why or "the sink got %d of "
                                                 "%d lines" % (sink.got,
                                                               lines)))
    requests = int(sink.out.split("requests=")[1].split()[0])
    return cpu / lines * 1e9, rss, requests, wall


def syslog_ng_memory_bound(databases, lines=1500000, held=64 << 20):
    """syslog-ng's peak RSS (KiB) and the lines its queues held, as
    memory_bound(): the sink stopped, `lines` lines over `databases`
    databases, flow control off (else syslog-ng would stop reading at its
    window) and each queue capped (log-fifo-size) so that all hold `held`
    bytes of lines, the relay's buffer_size; an NA if it could not run."""
    why = fd_shortage(databases)
    if why:
        return bench_relay.NA(why)
    fifo = held // bench_relay.LINE_BYTES // databases
    with tempfile.TemporaryDirectory() as tmp, \
            bench_relay.NullSink(tmp) as sink:
        with bench_relay.SyslogNG(tmp, sink.url, 1, flow_control=False,
                                  text=syslog_ng_config(databases,
                                                        fifo)) as sng:
            syslog_ng_started(sng, databases)
            sink.proc.send_signal(signal.SIGSTOP)
            subprocess.run([bench_relay.LOADGEN, sng.sock, str(lines), "4",
                            str(databases)], check=True,
                           stdout=subprocess.DEVNULL)
            last = -1
            while sng.hwm() != last:	# until it read every line
                last = sng.hwm()
                time.sleep(1)
            hwm, queued = sng.hwm(), sng.queued()
            sng.proc.kill()
            sng.proc.wait()
            sink.proc.send_signal(signal.SIGCONT)
    return hwm, queued


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
            ns, rss, requests, _ = runs[len(runs) // 2]
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
