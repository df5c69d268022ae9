#!/usr/bin/env python3
"""VictoriaMetrics as a backend (README "VictoriaMetrics").

A private victoria-metrics (Debian's 1.79) on a free loopback port; the
relay writes to it with api = v1 and api = v2, with and without a path
prefix, through an outage, and a retried batch it had already stored.
Points are read back exactly through /api/v1/export: the metric name
MEASUREMENT_FIELD, the labels (tags, and the v1 database as `db`), the
value and the time in milliseconds.  Skipped where victoria-metrics is
not installed.  Run by hand: ./test_vm.py [NAME...]
"""

import http.server
import json
import os
import subprocess
import threading
import time
import urllib.request

import harness
from harness import (Relay, VictoriaMetrics, check, check_equal,
                     influxd_down, influxd_up, relay_config, relay_idle,
                     unique_db, vm_samples, wait_until)

DAY_NS = 86400 * 10**9


def now_ns():
    """A recent time (VictoriaMetrics drops points outside its retention,
    one month by default), on a whole second plus a sub-ms part that the
    ms precision must cut."""
    return (time.time_ns() // 10**9 - 60) * 10**9 + 123456


def name_of(prefix):
    """A metric-safe name no other test of this run uses."""
    return unique_db(prefix).replace("-", "_")


def check_samples(vm, match, expected, what):
    """The samples matching `match` are exactly `expected` (sorted)."""
    got = vm.settle_samples(match, len(expected))
    check_equal(sorted(expected), got, what)


def test_v1_exact(vm):
    """api = v1: every field a metric MEASUREMENT_FIELD, the tags and the
    database as labels (a routed point carries its own database), values
    (a boolean as 1/0, an integer as a number) and times cut to ms; the
    relay counts them written and sends no CREATE DATABASE."""
    db, other, m = name_of("vmdb"), name_of("vmother"), name_of("cpu")
    t = now_ns()
    lines = ["%s,host=a,region=eu usage=1.5,idle=3i,ok=true %d" % (m, t),
             "%s,host=b usage=-2.25 %d" % (m, t + 1999999),
             "%s,host=c,db=%s usage=7,ok=F %d" % (m, other, t + 5000000)]
    expected = (
        vm_samples(m, {"host": "a", "region": "eu"},
                   {"usage": 1.5, "idle": 3, "ok": 1}, t, db) +
        vm_samples(m, {"host": "b"}, {"usage": -2.25}, t + 1999999, db) +
        vm_samples(m, {"host": "c"}, {"usage": 7, "ok": 0}, t + 5000000,
                   other))
    queries = vm.requests("/influx/query")
    cfg = relay_config(vm, db, listener={"database_tag": "db"})
    with Relay(cfg) as relay:
        relay.send(lines)
        check_samples(vm, '{__name__=~"%s_.*"}' % m, expected,
                      "samples in VictoriaMetrics")
        st = relay_idle(relay)
    check_equal(3, st["written"], "points the relay counts written")
    check_equal(0, st["http_404"] + st["databases_created"],
                "404s and databases created")
    check_equal(queries, vm.requests("/influx/query"),
                "/query requests VictoriaMetrics saw")


def test_v2_no_db_label(vm):
    """api = v2: the points arrive, but VictoriaMetrics 1.79 ignores
    `bucket`: no `db` label, so two databases' series merge."""
    m = name_of("mem")
    t = now_ns()
    cfg = relay_config(vm, "bucket_a", target={"api": "v2", "org": "o"},
                       listener={"database_tag": "db"})
    with Relay(cfg) as relay:
        relay.send(["%s,host=a free=10i %d" % (m, t),
                    "%s,host=a,db=bucket_b free=20i %d" % (m, t + 10**6)])
        check_samples(vm, '{__name__="%s_free"}' % m,
                      vm_samples(m, {"host": "a"}, {"free": 10}, t) +
                      vm_samples(m, {"host": "a"}, {"free": 20}, t + 10**6),
                      "v2 samples (one series, no db label)")
        check_equal(2, relay_idle(relay)["written"], "points written")


def test_path_prefix(vm):
    """url with a path prefix: VictoriaMetrics serves the same API under
    /influx/ (as vminsert does under /insert/0/influx/); v1 and v2 both
    keep the prefix (a trailing '/' is fine)."""
    t = now_ns()
    for api in ("v1", "v2"):
        m, db = name_of("pfx" + api), name_of("pfxdb")
        before = vm.requests("/influx/write")
        cfg = relay_config(vm, db, target={"api": api,
                                           "url": vm.url + "/influx/"})
        with Relay(cfg) as relay:
            relay.send(["%s,host=a v=%d %d" % (m, i, t + i * 10**6)
                        for i in range(5)])
            check_samples(vm, '{__name__="%s_v"}' % m,
                          [s for i in range(5) for s in vm_samples(
                              m, {"host": "a"}, {"v": i}, t + i * 10**6,
                              db if api == "v1" else None)],
                          "samples written through /influx/ (%s)" % api)
            st = relay_idle(relay)
        check_equal(5, st["written"], "points written (%s)" % api)
        # its counters move a moment after the answer
        wait_until(lambda: vm.requests("/influx/write") > before, 5,
                   "VictoriaMetrics counting the writes")


def test_create_database(vm):
    """CREATE DATABASE against VictoriaMetrics: with create_database =
    true the relay never sends one (no 404 ever asks for it); the control
    socket's create-database and drop-database are answered 200 by
    VictoriaMetrics' /query stub, so they report success and nothing
    changes (the data stays)."""
    db, m = name_of("vmcreate"), name_of("crt")
    t = now_ns()
    for create in ("true", "false"):
        cfg = relay_config(vm, db, target={"create_database": create},
                           relayd={"control_socket": "@DIR@/control.sock"})
        queries = vm.requests("/influx/query")
        with Relay(cfg) as relay:
            relay.send(["%s,c=%s v=1 %d" % (m, create, t)])
            check_samples(vm, '{__name__="%s_v",c="%s"}' % (m, create),
                          vm_samples(m, {"c": create}, {"v": 1}, t, db),
                          "create_database = %s: samples" % create)
            check_equal(queries, vm.requests("/influx/query"),
                        "create_database = %s: /query requests" % create)
            out = subprocess.run([harness.relayctl_path(), "-s",
                                  relay.sections["relayd"]["control_socket"],
                                  "create-database", "local", "x"],
                                 capture_output=True, timeout=30)
            answer = json.loads(out.stdout)
            check_equal((0, True), (out.returncode, answer.get("ok")),
                        "create-database answer %r" % answer)
            wait_until(lambda: vm.requests("/influx/query") == queries + 1,
                       5, "VictoriaMetrics counting the /query request")
            # drop-database is answered ok the same way, and drops nothing
            out = subprocess.run([harness.relayctl_path(), "-s",
                                  relay.sections["relayd"]["control_socket"],
                                  "drop-database", "local", db],
                                 capture_output=True, timeout=30)
            check_equal(0, out.returncode, "drop-database exit code")
            wait_until(lambda: vm.requests("/influx/query") == queries + 2,
                       5, "VictoriaMetrics counting the drop")
            check_samples(vm, '{__name__="%s_v",c="%s"}' % (m, create),
                          vm_samples(m, {"c": create}, {"v": 1}, t, db),
                          "samples after drop-database")


def test_skipped_lines_count_as_written(vm):
    """VictoriaMetrics answers 204 to points it does not keep: one older
    than its retention (a month) is counted written by the relay and is
    not stored; a string field is stored as 0 (1.79), its number field
    as sent."""
    db, old, txt = name_of("vmskip"), name_of("old"), name_of("txt")
    t = now_ns()
    with Relay(relay_config(vm, db)) as relay:
        relay.send(["%s,host=a v=1 %d" % (old, t - 40 * DAY_NS),
                    '%s,host=a s="hello",n=1i %d' % (txt, t)])
        check_samples(vm, '{__name__=~"%s_.*"}' % txt,
                      vm_samples(txt, {"host": "a"}, {"s": 0, "n": 1}, t, db),
                      "the string point's samples")
        st = relay_idle(relay)
    check_equal(2, st["written"], "points the relay counts written")
    check_equal(0, st["dropped"], "points the relay counts dropped")
    check_equal([], vm.samples('{__name__="%s_v"}' % old),
                "samples of the point older than the retention")


def test_outage(vm):
    """VictoriaMetrics stopped while 2,000 points arrive, then started
    again on the same port and data: every point arrives exactly once."""
    own = VictoriaMetrics()
    try:
        db, m = name_of("vmdown"), name_of("down")
        t = now_ns()
        cfg = relay_config(own, db, target={"retry_initial": "100ms",
                                            "retry_max": "1s"})
        with Relay(cfg) as relay:
            relay.send(["%s,host=a v=%di %d" % (m, i, t + i * 10**6)
                        for i in range(1000)])
            check_equal(1000, len(own.settle_samples(
                '{__name__="%s_v"}' % m, 1000)), "samples before the outage")
            influxd_down(own)
            relay.send(["%s,host=a v=%di %d" % (m, i, t + i * 10**6)
                        for i in range(1000, 2000)])
            wait_until(lambda: harness.relay_stats(relay)["http_errors"]
                       >= 2, 10, "failed attempts while it is down")
            influxd_up(own)
            got = own.settle_samples('{__name__="%s_v"}' % m, 2000, 30)
            st = relay_idle(relay)
        check_equal([(m + "_v", (("db", db), ("host", "a")), float(i),
                      (t + i * 10**6) // 10**6) for i in range(2000)], got,
                    "every sample once")
        check_equal(2000, st["written"], "points written")
    finally:
        own.stop()


class LosingProxy:
    """Forwards requests to a server, but answers the first write 503
    after the server stored it: a retry of a stored batch."""

    def __init__(self, upstream):
        state = {"writes": 0}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                req = urllib.request.Request(upstream + self.path,
                                             data=body, method="POST")
                with urllib.request.urlopen(req, timeout=10) as r:
                    status = r.status
                state["writes"] += 1
                if state["writes"] == 1:
                    status = 503
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass
        self.state = state
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever,
                         daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_retry_of_stored_batch(vm):
    """A batch stored whose answer was lost is sent again: VictoriaMetrics
    keeps both copies (same series, same time: a duplicate sample) unless
    started with -dedup.minScrapeInterval=1ms, which keeps one."""
    dedup = VictoriaMetrics(["-dedup.minScrapeInterval=1ms"])
    try:
        for server, copies in ((vm, 2), (dedup, 1)):
            db, m = name_of("vmretry"), name_of("retry")
            t = now_ns()
            proxy = LosingProxy(server.url)
            try:
                cfg = relay_config(proxy, db, target={
                    "retry_initial": "100ms", "retry_max": "200ms"})
                with Relay(cfg) as relay:
                    relay.send(["%s,host=a v=%di %d" % (m, i, t + i * 10**6)
                                for i in range(10)])
                    st = wait_until(lambda: (lambda s: s if s["written"] ==
                                             10 else None)(
                        harness.relay_stats(relay)), 15, "10 points written")
            finally:
                proxy.close()
            check_equal(2, proxy.state["writes"], "writes through the proxy")
            check_equal(10, st["written"], "points the relay counts written")
            got = server.settle_samples('{__name__="%s_v"}' % m, 10 * copies)
            check_equal([(m + "_v", (("db", db), ("host", "a")), float(i),
                          (t + i * 10**6) // 10**6)
                         for i in range(10) for _ in range(copies)], got,
                        "samples after the retry (%d copies)" % copies)
    finally:
        dedup.stop()


if __name__ == "__main__":
    harness.main([test_v1_exact, test_v2_no_db_label, test_path_prefix,
                  test_create_database, test_skipped_lines_count_as_written,
                  test_outage, test_retry_of_stored_batch],
                 backend=VictoriaMetrics)
