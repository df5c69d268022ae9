#!/usr/bin/env python3
"""The C client library (clients/c, libinfluxrelay) against the built
relay and a real influxd: the example program's points, names that need
every kind of escaping stored exactly as given (InfluxDB's own reading of
what the library writes), per-point databases and retention policies, the
listener's default database, a relay restart between two flushes, and a
relay that is not there.  Run by hand: ./test_client_c.py [NAME...]
"""

import os
import socket
import subprocess
import time

import harness
from harness import (Relay, check, check_equal, point, relay_config,
                     settle_points, unique_db)

HERE = os.path.dirname(os.path.abspath(__file__))
T0 = 1700000000000000000


def built(env_var, *path):
    """A program `make check` built: $ENV_VAR, else in the build tree."""
    if os.environ.get(env_var):
        return os.environ[env_var]
    top = os.environ.get("abs_top_builddir",
                         os.path.join(HERE, "..", ".."))
    return os.path.normpath(os.path.join(top, *path))


def hexed(s):
    """A word of c_writer's protocol: "-" for None, "=" for ""."""
    return "-" if s is None else s.encode().hex() or "="


class Writer:
    """tests/integration/c_writer: the library driven line by line."""

    def __init__(self, path, timeout_ms=2000):
        self.proc = subprocess.Popen(
            [built("C_WRITER", "tests", "integration", "c_writer")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.opened = self.cmd("open %s %d" % (hexed(path), timeout_ms))

    def cmd(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        check(answer, "c_writer died on %r" % line)
        code, _, text = answer.strip().partition(" ")
        return int(code), text

    def point(self, db, measurement, tags, fields, time_ns=None, rp=None):
        words = ["point", hexed(db), hexed(rp), hexed(measurement)]
        for k, v in tags.items():
            words += ["t", hexed(k), hexed(v)]
        for k, v in fields.items():
            if isinstance(v, bool):
                words += ["f", hexed(k), "boolean", "1" if v else "0"]
            elif isinstance(v, int):
                words += ["f", hexed(k), "integer", str(v)]
            elif isinstance(v, float):
                words += ["f", hexed(k), "float", repr(v)]
            else:
                words += ["f", hexed(k), "string", hexed(v)]
        if time_ns is not None:
            words += ["time", str(time_ns)]
        return self.cmd(" ".join(words))

    def close(self):
        rc = self.cmd("close")
        self.proc.stdin.close()
        self.proc.wait(timeout=10)
        return rc


def test_example(influx):
    """examples/influx-relay-example: three rounds of the load averages,
    stored with their tags, types and times."""
    db = unique_db("example")
    before = time.time_ns()
    with Relay(relay_config(influx, "unused")) as relay:
        subprocess.run([built("C_EXAMPLE", "examples",
                              "influx-relay-example"),
                        "-s", relay.socket_path, "-d", db, "-n", "3",
                        "-i", "10"], check=True, timeout=30)
        got = settle_points(influx, db, 9)
    check_equal({"value": "float", "round": "integer"},
                influx.field_types(db, "load"), "field types")
    check_equal({(socket.gethostname(), period, r)
                 for period in ("1m", "5m", "15m") for r in (1, 2, 3)},
                {(p["tags"]["host"], p["tags"]["period"],
                  p["fields"]["round"]) for p in got}, "points stored")
    check(all(before <= p["time"] <= time.time_ns() for p in got),
          "times set by the example")


# Names with each byte line protocol escapes, backslashes before other
# bytes, quotes, UTF-8; strings with quotes, backslashes and a newline.
TRICKY = [
    ("cpu load,1", {"sp ace": "a,b=c d", "eq=ual": '\\"q\\"',
                    "com,ma": "C:\\Users\\x"},
     {"f i=e,ld": 'say "hi"\\\nnew line', "n": -2 ** 63, "b": True,
      "x": 0.1}, -1),
    ("back\\slash", {'q"k': '"', "b\\x": "=", "db": "mine"},
     {'q"f': 1.5e-300, "b\\x": 2 ** 63 - 1, "s": ""}, T0),
    ('qu"ote=eq', {"\u65e5\u672c": "\U0001F600"},
     {"v": -0.0, "s": "\\"}, 2 ** 62),
]


def test_escaping_in_influxdb(influx):
    """Points with every kind of escaping come back from InfluxDB with
    the names, types and values given."""
    db = unique_db("cesc")
    with Relay(relay_config(influx, "unused")) as relay:
        w = Writer(relay.socket_path)
        check_equal((0, "success"), w.opened, "open")
        for m, tags, fields, t in TRICKY:
            check_equal(0, w.point(db, m, tags, fields, t)[0],
                        "writing %r" % m)
        check_equal(0, w.close()[0], "close")
        got = settle_points(influx, db, len(TRICKY))
    harness.assert_same_points(
        [point(m, tags, fields, t) for m, tags, fields, t in TRICKY], got,
        "points stored")
    check_equal({"f i=e,ld": "string", "n": "integer", "b": "boolean",
                 "x": "float"}, influx.field_types(db, "cpu load,1"),
                "field types")


def test_routes(influx):
    """Per-point databases and retention policies; no database means the
    listener's default."""
    default, db1, db2 = (unique_db("cdef"), unique_db("cone"),
                         unique_db("ctwo"))
    influx.create_database(db2)
    influx.query('CREATE RETENTION POLICY "week" ON "%s" DURATION 7d '
                 'REPLICATION 1' % db2)
    now = time.time_ns()
    with Relay(relay_config(influx, default)) as relay:
        w = Writer(relay.socket_path)
        for i in range(3):
            check_equal(0, w.point(db1, "m", {}, {"v": i}, T0 + i)[0], "db1")
            check_equal(0, w.point(db2, "m", {}, {"v": i}, now + i,
                                   rp="week")[0], "db2.week")
            check_equal(0, w.point(None, "m", {}, {"v": i}, T0 + i)[0],
                        "default")
        check_equal(0, w.close()[0], "close")
        one = settle_points(influx, db1, 3)
        dflt = settle_points(influx, default, 3)
        week = harness.wait_until(lambda: influx.query(
            'SELECT * FROM "%s"."week"."m"' % db2)["results"][0].get(
                "series"), 10, "the points in week")
    want = [point("m", {}, {"v": i}, T0 + i) for i in range(3)]
    harness.assert_same_points(want, one, "points in " + db1)
    harness.assert_same_points(want, dflt, "points in the default database")
    check_equal(3, len(week[0]["values"]), "points in %s.week" % db2)


def test_restart(influx):
    """The relay restarts between two flushes: the next flush connects
    again, and every point arrives once."""
    db = unique_db("crestart")
    relay = Relay(relay_config(influx, "unused"))
    with relay:
        w = Writer(relay.socket_path)
        for i in range(100):
            w.point(db, "m", {}, {"v": i}, T0 + i)
        check_equal(0, w.cmd("flush")[0], "the first flush")
        settle_points(influx, db, 100)
        relay.check_clean_exit(relay.terminate())
        relay.start()
        relay.wait_ready()
        for i in range(100, 200):
            w.point(db, "m", {}, {"v": i}, T0 + i)
        check_equal(0, w.cmd("flush")[0], "the flush after the restart")
        check_equal(0, w.close()[0], "close")
        got = settle_points(influx, db, 200)
    check_equal(list(range(200)), sorted(p["fields"]["v"] for p in got),
                "points stored")


def test_close_mid_line(influx):
    """The client gives up while the socket holds part of a line (the
    relay is stopped, the flush and the close time out): the relay,
    told so by the client's "#relay partial=reject", refuses the cut
    line instead of storing it truncated, and every point it stores has
    its value whole."""
    db = unique_db("ccut")
    relay = Relay(relay_config(influx, "unused"))
    with relay:
        w = Writer(relay.socket_path, timeout_ms=300)
        relay.proc.send_signal(harness.signal.SIGSTOP)
        try:
            # sends of many socket buffers (skbs), so one is taken in
            # part: the kernel cuts a line where a buffer ends
            n, rc = 0, 0
            while rc == 0 and n < 200000:
                for _ in range(2500):
                    w.point(db, "cut", {"host": "server-number-%04d" % n},
                            {"value": 123456789}, T0 + n)
                    n += 1
                rc = w.cmd("flush")[0]
            check_equal(10, rc, "a flush into a stopped relay times out")
            w.close()
        finally:
            relay.proc.send_signal(harness.signal.SIGCONT)
        harness.wait_until(lambda: harness.listener_stats(relay)[
            "clients"] == 0, 10, "the client gone")
        st = harness.listener_stats(relay)
        got = settle_points(influx, db, st["accepted"])
    check(st["accepted"] > 0, "some points accepted")
    check_equal({123456789}, {p["fields"]["value"] for p in got},
                "stored values")
    check_equal(st["accepted"], len(got), "points stored")
    check(st["rejected"] <= 1, "rejected %d lines" % st["rejected"])
    if st["rejected"]:
        check("rejected_by_reason[incomplete line at close]=1" in
              relay.log(), "the cut line refused as such")


def test_no_relay(influx):
    """No relay: open and flush say so, the point waits in the buffer."""
    w = Writer("/nonexistent/influx-relayd.sock", timeout_ms=100)
    check_equal((9, "relay not reachable"), w.opened, "open")
    check_equal(0, w.point("db", "m", {}, {"v": 1})[0], "a buffered point")
    check_equal((9, "relay not reachable"), w.cmd("flush"), "flush")
    check_equal(9, w.close()[0], "close")


if __name__ == "__main__":
    harness.main([test_example, test_escaping_in_influxdb, test_routes,
                  test_restart, test_close_mid_line, test_no_relay])
