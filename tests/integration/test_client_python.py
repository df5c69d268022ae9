#!/usr/bin/env python3
"""The Python client (clients/python, `influx_relay`) against the built
relay and a real influxd: influx-client's quickstart with only the import
changed, types and escaping stored exactly, ValueError before anything is
sent, per-write databases with the sample listener settings (an
application tag called db survives), threads, a forked child, a relay
restart, and a relay that is not there; the cached fast path of
write_points (each point of a known shape, and every value it must hand
to the checked path) stored exactly as the checked path writes it, and
its caches bounded.  Run by hand:
./test_client_python.py [NAME...]
"""

import datetime
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

import harness
from harness import (Relay, check, check_equal, point, relay_config,
                     settle_points, unique_db)

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT = os.path.normpath(os.path.join(HERE, "..", "..", "clients", "python"))
sys.path.insert(0, CLIENT)
import influx_relay  # noqa: E402

T0 = 1700000000000000000


def fresh(influx, relay):
    """A client of its own (the class keeps one instance per URL)."""
    influx_relay.InfluxDB._instances.clear()
    return influx_relay.InfluxDB(influx.url, socket=relay.socket_path)


def test_quickstart(influx):
    """influx-client's quickstart, only the import changed, in a process
    of its own that finds the relay through $INFLUX_RELAYD_SOCKET."""
    db = unique_db("quick")
    script = textwrap.dedent("""\
        import datetime
        from influx_relay import InfluxDB

        client = InfluxDB('%s')
        client.create_database('%s')
        client.write('%s', 'cpu', {'value': 0.5}, tags={'host': 'a'})
        client.write('%s', 'cpu', {'value': 0.75}, tags={'host': 'b'},
                     time=datetime.datetime(2023, 11, 14, 22, 13, 20))
        assert InfluxDB('%s') is client
        """ % ((influx.url, db, db, db, influx.url)))
    with Relay(relay_config(influx, "unused")) as relay:
        env = dict(os.environ, PYTHONPATH=CLIENT,
                   INFLUX_RELAYD_SOCKET=relay.socket_path)
        subprocess.run([sys.executable, "-c", script], env=env, check=True,
                       timeout=30)
        check(db in influx.databases(), "the database was created")
        got = settle_points(influx, db, 2)
    by_host = {p["tags"]["host"]: p for p in got}
    check_equal({"value": 0.5}, by_host["a"]["fields"], "host a's fields")
    check_equal(1700000000000000000, by_host["b"]["time"],
                "host b's time (a naive datetime is UTC)")


def test_types_and_escaping(influx):
    """Python's types become InfluxDB's, and every name that needs
    escaping is stored as written."""
    db = unique_db("types")
    fields = {"f": 1.5, "i": -7, "b": False, "s": 'say "hi"\\\nnew line',
              "big": 2 ** 63 - 1}
    tags = {"sp ace": "a,b=c", "db": "app"}
    with Relay(relay_config(influx, "unused")) as relay:
        c = fresh(influx, relay)
        c.write(db, "m e,as", fields, tags=tags, time=T0)
        got = settle_points(influx, db, 1)
    harness.assert_same_points([point("m e,as", tags, fields, T0)], got,
                               "the point stored")
    types = influx.field_types(db, "m e,as")
    check_equal({"f": "float", "i": "integer", "b": "boolean",
                 "s": "string", "big": "integer"}, types, "field types")


def test_value_errors(influx):
    """What InfluxDB would refuse raises ValueError naming it, and
    nothing is sent."""
    bad = [("m", {}, {}), ("m", {"v": float("nan")}, {}),
           ("m", {"v": float("inf")}, {}), ("m", {"time": 1}, {}),
           ("m", {"v": 1}, {"t": 1}), ("m", {"v": 1}, {"time": "x"}),
           ("m", {"v": [1]}, {}), ("", {"v": 1}, {}),
           ("m", {"v": 2 ** 63}, {}), ("m", {"v": 1}, {"t": ""}),
           ("m\n", {"v": 1}, {}), ("m\\,x", {"v": 1}, {}),
           ("m", {"a\\=b": 1}, {}), ("m", {'a\\"b': 1}, {}),
           ("m", {"v": 1}, {"t": "a\\ b"}), ("\tm", {"v": 1}, {}),
           ("m", {"\tv": 1}, {})]
    with Relay(relay_config(influx, "unused")) as relay:
        c = fresh(influx, relay)
        for measurement, fields, tags in bad:
            try:
                c.write(unique_db("never"), measurement, fields, tags=tags)
            except ValueError as e:
                check(str(e), "an empty message")
                continue
            raise harness.TestFailure("no ValueError for %r %r %r"
                                      % (measurement, fields, tags))
        for db, rp in (("a\tb", None), (unique_db("ok"), "r\x01")):
            try:
                c.write(db, "m", {"v": 1}, retention_policy=rp)
            except ValueError:
                continue
            raise harness.TestFailure("no ValueError for %r %r" % (db, rp))
        st = harness.listener_stats(relay)
        check_equal(0, st["lines"], "lines the relay received")


def test_database_with_quote(influx):
    """A database name with a quote and a space: its #relay line is
    escaped so that the relay's framing reads it whole, and the points
    that follow arrive at once, not when the connection closes."""
    db = unique_db("q") + '"x y'
    with Relay(relay_config(influx, "unused")) as relay:
        c = fresh(influx, relay)
        c.write(db, "m", {"v": 1}, time=T0)
        c.write(db, "m", {"v": 2}, time=T0 + 1)
        got = settle_points(influx, db, 2)      # while still connected
    harness.assert_same_points([point("m", {}, {"v": 1}, T0),
                                point("m", {}, {"v": 2}, T0 + 1)], got,
                               "points in %r" % db)


def test_per_write_databases(influx):
    """With the sample listener settings (no routing tag), each write
    goes to its own database and retention policy."""
    db1, db2 = unique_db("one"), unique_db("two")
    influx.create_database(db2)
    influx.query('CREATE RETENTION POLICY "week" ON "%s" DURATION 7d '
                 'REPLICATION 1' % db2)
    now = time.time_ns()        # a 7d retention policy drops T0
    with Relay(relay_config(influx, "unused")) as relay:
        c = fresh(influx, relay)
        c.write(db1, "m", {"v": 1}, tags={"db": "mine"}, time=T0)
        c.write(db2, "m", {"v": 2}, time=now, retention_policy="week")
        c.write(db1, "m", {"v": 3}, time=T0 + 1)
        got = settle_points(influx, db1, 2)
        week = harness.wait_until(lambda: influx.query(
            'SELECT * FROM "%s"."week"."m"' % db2)["results"][0].get(
                "series"), 10, "the point in week")
    harness.assert_same_points(
        [point("m", {"db": "mine"}, {"v": 1}, T0),
         point("m", {}, {"v": 3}, T0 + 1)], got, "points in " + db1)
    check_equal(1, len(week[0]["values"]), "points in %s.week" % db2)


def test_threads_fork_restart(influx):
    """4 threads, a forked child and a write after the relay restarted
    all arrive; a relay that is not there is a ConnectionError."""
    db = unique_db("conc")
    cfg = relay_config(influx, "unused")
    relay = Relay(cfg)
    with relay:
        c = fresh(influx, relay)
        c.write(db, "m", {"v": -1}, time=T0 - 1)   # connected before fork

        def writer(k):
            for i in range(500):
                c.write(db, "m", {"v": k * 1000 + i},
                        time=T0 + k * 1000 + i)
        threads = [threading.Thread(target=writer, args=(k,))
                   for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        pid = os.fork()
        if pid == 0:
            try:
                c.write(db, "m", {"v": 9999}, time=T0 + 9999)
                os._exit(0)
            except BaseException:
                os._exit(1)
        check_equal(0, os.waitpid(pid, 0)[1], "the child's exit")
        settle_points(influx, db, 2002)
        # the relay restarts on the same socket: the client reconnects
        relay.check_clean_exit(relay.terminate())
        relay.start()
        relay.wait_ready()
        c.write(db, "m", {"v": 10000}, time=T0 + 10000)
        got = settle_points(influx, db, 2003)
    check_equal(2003, len(got), "points stored")
    influx_relay.InfluxDB._instances.clear()
    gone = influx_relay.InfluxDB(influx.url, socket="/nonexistent/sock")
    try:
        gone.write(db, "m", {"v": 1})
    except ConnectionError as e:
        check("/nonexistent/sock" in str(e), "the path in %r" % str(e))
    else:
        raise harness.TestFailure("no ConnectionError")


class Int(int):
    pass


class Float(float):
    pass


class Str(str):
    pass


def test_fast_path_shapes(influx):
    """Points of a shape seen before take the cached formatter; values
    it was not made for (another type, a subclass, a datetime) take the
    checked path: all are stored exactly.  One name escaped three ways
    (measurement, tag key, field key) and a field key holding % too."""
    db = unique_db("shapes")
    quoted = 'q"u\\o,t e=\nx'
    odd = "a b,c=d%s%%"
    fields = {"f": 1.5, "i": 7, "b": True, "s": quoted}
    aware = datetime.datetime(2023, 11, 14, 22, 13, 20, 123456,
                              tzinfo=datetime.timezone(
                                  datetime.timedelta(hours=2)))
    batch = [
        {"measurement": "a", "tags": {"h": "x", "r": "1"},
         "fields": fields, "time": T0},
        {"measurement": "a", "tags": {"h": "x", "r": "1"},
         "fields": {"f": 1e-300, "i": -2 ** 63, "b": False, "s": ""},
         "time": T0 + 1},
        {"measurement": "a", "tags": {"r": "1", "h": "y"},
         "fields": {"f": Float(2.5), "i": Int(-3), "b": True,
                    "s": Str("sub")}, "time": Int(T0 + 2)},
        {"measurement": "a", "tags": {"h": "x", "r": "1"},
         "fields": {"f": -0.25, "i": 2 ** 63 - 1, "b": False, "s": "t"},
         "time": datetime.datetime(2023, 11, 14, 22, 13, 20, 5)},
        {"measurement": "a", "tags": {"h": "x", "r": "1"},
         "fields": {"f": 3.0, "i": 0, "b": True, "s": "u"}, "time": aware},
        # the keys of "a" with other types: stored as they are
        {"measurement": "b", "fields": {"f": 3, "i": 4.5, "b": "str",
                                        "s": False}, "time": T0},
        {"measurement": "b", "fields": {"f": 4, "i": 5.5, "b": "str",
                                        "s": True}, "time": T0 + 1},
        {"measurement": odd, "tags": {odd: odd}, "fields": {odd: 1.0},
         "time": T0},
        {"measurement": odd, "tags": {odd: odd}, "fields": {odd: 2.0},
         "time": T0 + 1},
    ]
    ns = [T0, T0 + 1, T0 + 2, T0 + 5000, T0 - 7200 * 10 ** 9 + 123456000,
          T0, T0 + 1, T0, T0 + 1]
    with Relay(relay_config(influx, "unused")) as relay:
        c = fresh(influx, relay)
        for _ in range(2):      # then every point's shape is known
            c.write_points(db, batch)
        for p in batch:         # the same bytes as the checked path's
            args = (p["measurement"], p["fields"], p.get("tags"), p["time"])
            check_equal(influx_relay._checked_line(*args),
                        influx_relay.line(*args), "the line of %r" % (p,))
        before = time.time_ns()
        c.write_points(db, [{"measurement": "now", "fields": fields},
                            {"measurement": "now",
                             "fields": dict(fields, i=8)}])
        c.write(db, "now", {"f": 2.5, "i": 9, "b": False, "s": "v"})
        got = settle_points(influx, db, len(batch) + 3)
        after = time.time_ns()      # the relay reads after write returns
    expected = [point(p["measurement"], p.get("tags", {}),
                      {k: type(v).__mro__[-2](v) if type(v) in (
                          Int, Float, Str) else v
                       for k, v in p["fields"].items()}, t)
                for p, t in zip(batch, ns)]
    now = [p for p in got if p["measurement"] == "now"]
    harness.assert_same_points(
        expected, [p for p in got if p["measurement"] != "now"],
        "the points stored")
    check_equal([fields, dict(fields, i=8),
                 {"f": 2.5, "i": 9, "b": False, "s": "v"}],
                sorted((p["fields"] for p in now), key=lambda f: f["i"]),
                "the fields of the points without a time")
    check(all(before <= p["time"] <= after for p in now),
          "the relay's receipt times: %r" % now)
    check_equal({"f": "float", "i": "integer", "b": "boolean",
                 "s": "string"}, influx.field_types(db, "a"),
                "field types of a")
    check_equal({"f": "integer", "i": "float", "b": "string",
                 "s": "boolean"}, influx.field_types(db, "b"),
                "field types of b")


def test_fast_path_value_errors(influx):
    """A value the cached formatter of its shape was not made for is
    refused as the checked path refuses it, and nothing of the call is
    sent."""
    db = unique_db("fastbad")
    good = {"measurement": "m", "tags": {"h": "a"},
            "fields": {"f": 1.5, "i": 1}, "time": T0}
    bad = [({"f": float("nan"), "i": 1}, T0), ({"f": float("inf"), "i": 1},
                                               T0),
           ({"f": -float("inf"), "i": 1}, T0), ({"f": 1.5, "i": 2 ** 63}, T0),
           ({"f": 1.5, "i": -2 ** 63 - 1}, T0), ({"f": 1.5, "i": [1]}, T0),
           ({"f": 1.5, "i": 1}, True), ({"f": 1.5, "i": 1}, 1.5),
           ({"f": 1.5, "i": 1}, "now")]
    with Relay(relay_config(influx, "unused")) as relay:
        c = fresh(influx, relay)
        c.write_points(db, [good])
        for fields, t in bad:
            p = {"measurement": "m", "tags": {"h": "a"}, "fields": fields,
                 "time": t}
            try:
                c.write_points(db, [dict(good, time=T0 + 1), p])
            except ValueError as e:
                check(str(e), "an empty message")
                continue
            raise harness.TestFailure("no ValueError for %r" % p)
        for tags in ({"h": 1}, {"h": ""}, {"time": "a"}, {"h": ["a"]}):
            try:
                c.write_points(db, [dict(good, time=T0 + 1),
                                    dict(good, tags=tags)])
            except ValueError:
                continue
            raise harness.TestFailure("no ValueError for tags %r" % tags)
        got = settle_points(influx, db, 1)
        check_equal(1, harness.listener_stats(relay)["accepted"],
                    "points the relay accepted")
    harness.assert_same_points([point("m", {"h": "a"}, good["fields"], T0)],
                               got, "the points stored")


def test_fast_path_caches_bounded(influx):
    """With every cache bounded to 3 entries, 4 threads writing points of
    60 tag sets, 7 field shapes and 5 tuples of value types (each call
    emptying caches the others use) store every point exactly, and the
    caches stay within their bound."""
    db = unique_db("caches")
    shapes = [{"f": 0.5}, {"i": 1}, {"f": 0.5, "i": 1}, {"s": "x", "b": True},
              {"i": 1, "f": 0.5}, {"g": 0.5}, {"f": 0.5, "g": 0.5, "b": True}]
    saved = (influx_relay._ESCAPED_MAX, influx_relay._SHAPES_MAX,
             influx_relay._MAKERS_MAX)

    def make(k, i):
        n = k * 1000 + i
        fields = {key: (v if isinstance(v, (bool, str)) else
                        type(v)(n) + v) for key, v in shapes[n % 7].items()}
        return {"measurement": "m%d" % (n % 2),
                "tags": {"h": "h%d" % (n % 60), "t": "a b,c"},
                "fields": fields, "time": T0 + n}
    points = [make(k, i) for k in range(4) for i in range(300)]
    try:
        influx_relay._ESCAPED_MAX = influx_relay._SHAPES_MAX = \
            influx_relay._MAKERS_MAX = 3
        with Relay(relay_config(influx, "unused")) as relay:
            c = fresh(influx, relay)

            def writer(k):
                mine = points[k * 300:(k + 1) * 300]
                for i in range(0, 300, 10):
                    c.write_points(db, mine[i:i + 5])
                    for p in mine[i + 5:i + 10]:
                        c.write(db, p["measurement"], p["fields"],
                                tags=p["tags"], time=p["time"])
            threads = [threading.Thread(target=writer, args=(k,))
                       for k in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            writer(0)           # alone: the bound holds exactly
            sizes = [len(influx_relay._ESCAPED), len(influx_relay._HEADS),
                     len(influx_relay._SHAPES), len(influx_relay._MAKERS)]
            got = settle_points(influx, db, len(points))
    finally:
        (influx_relay._ESCAPED_MAX, influx_relay._SHAPES_MAX,
         influx_relay._MAKERS_MAX) = saved
    harness.assert_same_points([point(p["measurement"], p["tags"],
                                      p["fields"], p["time"])
                                for p in points], got, "the points stored")
    check(all(n <= 3 for n in sizes), "cache sizes %r within 3" % sizes)


def test_pip_install(influx):
    """`pip install ./clients/python` into a fresh virtualenv (Debian's
    python3, offline: no build isolation) gives an importable package."""
    py = "/usr/bin/python3"
    probe = subprocess.run([py, "-c", "import venv, pip, wheel"],
                           capture_output=True)
    if probe.returncode != 0:
        raise harness.TestSkip("needs python3-venv, python3-pip and "
                               "python3-wheel")
    with tempfile.TemporaryDirectory() as tmp:
        env, src = os.path.join(tmp, "venv"), os.path.join(tmp, "python")
        # a copy: the build writes next to the sources, which stay clean
        shutil.copytree(CLIENT, src, ignore=shutil.ignore_patterns(
            "__pycache__", "build", "*.egg-info"))
        subprocess.run([py, "-m", "venv", "--system-site-packages", env],
                       check=True, timeout=120)
        subprocess.run([os.path.join(env, "bin", "pip"), "install", "-q",
                        "--no-build-isolation", "--no-index", src],
                       check=True, timeout=300, cwd=tmp)
        out = subprocess.run([os.path.join(env, "bin", "python"), "-c",
                              "import influx_relay; print(influx_relay."
                              "__file__)"], check=True, capture_output=True,
                             text=True, cwd=tmp, timeout=30).stdout
    check(out.startswith(env), "imported from the virtualenv: %r" % out)


if __name__ == "__main__":
    harness.main([test_pip_install, test_quickstart, test_types_and_escaping,
                  test_value_errors, test_database_with_quote,
                  test_per_write_databases,
                  test_threads_fork_restart, test_fast_path_shapes,
                  test_fast_path_value_errors,
                  test_fast_path_caches_bounded])
