#!/usr/bin/env python3
"""The Python client (clients/python, `influx_relay`) against the built
relay and a real influxd: influx-client's quickstart with only the import
changed, types and escaping stored exactly, ValueError before anything is
sent, per-write databases with the sample listener settings (an
application tag called db survives), threads, a forked child, a relay
restart, and a relay that is not there.  Run by hand:
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
           ("m\n", {"v": 1}, {})]
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
        st = harness.listener_stats(relay)
        check_equal(0, st["lines"], "lines the relay received")


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
                  test_value_errors, test_per_write_databases,
                  test_threads_fork_restart])
