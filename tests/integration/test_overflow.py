#!/usr/bin/env python3
"""Overflow policies against a real influxd that is down (DESIGN 5):
drop_oldest keeps the newest points, drop_newest the oldest, block
back-pressures stream clients without losing a point and drops datagrams
beyond the limit, counted; a target fast enough for the load never
overflows, however many clients write.  Run by hand: ./test_overflow.py
[NAME...]
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import harness
from harness import (InfluxD, Relay, check, check_balance, check_books,
                     check_equal, count_points,
                     influxd_down, influxd_up, relay_config, relay_stats,
                     unique_db, wait_until)


def lines(n, start=0):
    """n distinct points of measurement m, in order."""
    return ["m,t=x v=%di %d" % (i, 1700000000000000000 + i)
            for i in range(start, start + n)]


def stored_values(influx, db):
    """The v values stored in db, sorted."""
    return sorted(p["fields"]["v"] for p in influx.all_points(db))


def stats_when(relay, predicate, what, timeout=10, listener="main"):
    """The target's stats once predicate(stats) holds; they balance, and
    so do the listener's books against them."""
    def ready():
        st = relay_stats(relay)
        return st if predicate(st) else None
    st = check_balance(wait_until(ready, timeout, what))
    check_books(relay, listener=listener)
    return st


def seen(n):
    """A predicate: n points either accepted or refused for lack of room
    (refused points were never accepted: they are not in the balance)."""
    return lambda st: st["accepted"] + st["rejected_overflow"] == n


def overflow_config(influx, db, policy, size="64K", listener=None):
    return relay_config(influx, db, listener=listener, target={
        "overflow": policy, "buffer_size": size, "retry_initial": "100ms",
        "retry_max": "300ms", "batch_size": "500"})


def test_drop_oldest(influx):
    """drop_oldest: when full, the oldest unsent points go; the newest are
    delivered once the server is back, and every drop is counted."""
    own = InfluxD()
    try:
        db = unique_db("oldest")
        with Relay(overflow_config(own, db, "drop_oldest")) as relay:
            influxd_down(own)
            relay.send(lines(10000))
            st = stats_when(relay, lambda st: st["accepted"] == 10000,
                            "10,000 points accepted")
            dropped = st["dropped_overflow"]
            check(dropped > 0, "nothing dropped with a 64K buffer: %s" % st)
            influxd_up(own)
            end = stats_when(relay, lambda st: st["buffered_points"] == 0,
                             "an empty relay", timeout=20)
            check_equal(0, end["rejected_overflow"], "refused at the door")
        got = stored_values(own, db)
        check_equal(10000 - dropped, len(got), "points stored")
        check_equal(end["written"], len(got), "written = points stored")
        check_equal(9999, got[-1], "newest point stored")
        check(0 not in got, "the oldest point survived drop_oldest")
    finally:
        own.stop()


def test_drop_newest(influx):
    """drop_newest: when full, new points are refused and counted; what
    was queued first is delivered."""
    own = InfluxD()
    try:
        db = unique_db("newest")
        with Relay(overflow_config(own, db, "drop_newest")) as relay:
            influxd_down(own)
            relay.send(lines(10000))
            st = stats_when(relay, seen(10000), "10,000 points seen")
            check(st["rejected_overflow"] > 0, "nothing refused: %s" % st)
            check_equal(0, st["dropped_overflow"], "accepted points dropped")
            influxd_up(own)
            end = stats_when(relay, lambda st: st["buffered_points"] == 0,
                             "an empty relay", timeout=20)
        got = stored_values(own, db)
        check_equal(list(range(st["accepted"])), got,
                    "stored points are the first ones, in full")
        check_equal(end["written"], len(got), "written = points stored")
    finally:
        own.stop()


def test_block_stream(influx):
    """block: a stream client is back-pressured while InfluxDB is down (its
    writes stall, memory stays under buffer_size), and once InfluxDB is
    back every point arrives, none dropped."""
    own = InfluxD()
    try:
        db = unique_db("block")
        total = 40000
        with Relay(overflow_config(own, db, "block", size="256K")) as relay:
            influxd_down(own)
            done = threading.Event()
            errors = []

            def writer():
                try:
                    relay.send(lines(total))
                except Exception as e:      # reported below
                    errors.append(e)
                done.set()
            threading.Thread(target=writer, daemon=True).start()
            time.sleep(2)
            st = relay_stats(relay)
            check(not done.is_set(), "the client finished writing %d lines "
                  "into a 256K buffer with InfluxDB down: not blocked (%s)"
                  % (total, st))
            check(st["buffered_bytes"] <= 256 * 1024,
                  "buffered %d bytes > buffer_size" % st["buffered_bytes"])
            check_equal(0, st["dropped_overflow"], "points dropped")
            check_balance(st)
            influxd_up(own)
            check(done.wait(30), "the client never finished after InfluxDB "
                  "came back")
            check(not errors, "client error: %s" % errors)
            wait_until(lambda: count_points(own, db) == total, 30,
                       "%d points in InfluxDB" % total)
            st = stats_when(relay, lambda st: st["buffered_points"] == 0,
                            "an empty relay")
            check_equal(0, st["dropped"] + st["rejected_overflow"],
                        "points dropped or refused")
            check_equal(total, st["written"], "written")
            check("pauses=" in relay.log(), "no listener stats line")
    finally:
        own.stop()


def test_block_datagrams_dropped(influx):
    """block on a datagram listener: datagrams beyond the limit cannot be
    back-pressured; they are dropped and counted, the rest delivered."""
    own = InfluxD()
    try:
        db = unique_db("blockdg")
        cfg = overflow_config(own, db, "block")
        cfg["listener:dg"] = {"path": "@DIR@/dg.sock", "type": "datagram",
                              "target": "local"}
        with Relay(cfg) as relay:
            influxd_down(own)
            path = relay.sections["listener:dg"]["path"]
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                for line in lines(5000):
                    s.sendto(line.encode() + b"\n", path)
            st = stats_when(relay, seen(5000), "5,000 datagrams seen",
                            listener="dg")
            check(st["rejected_overflow"] > 0, "nothing refused: %s" % st)
            check_equal(0, st["dropped_overflow"], "accepted points dropped")
            influxd_up(own)
            end = stats_when(relay, lambda st: st["buffered_points"] == 0,
                             "an empty relay", timeout=20, listener="dg")
            check(relay.running(), "relay died")
        check_equal(st["accepted"], count_points(own, db), "points stored")
        check_equal(end["written"], st["accepted"], "written = accepted")
    finally:
        own.stop()


def start_nullsink(tmp):
    """tests/bench/nullsink (answers 204 at well over 1M lines/s); returns
    (process, url)."""
    path = harness.bench_tool_path("nullsink")
    if not os.access(path, os.X_OK):
        raise harness.TestSkip("%s not built (make check builds it)" % path)
    portfile = os.path.join(tmp, "sink.port")
    # its own session, as Relay runs the relay: with the kernel's autogroup
    # scheduling the sink would otherwise share one CPU share with every
    # client while the relay had one of its own
    sink = subprocess.Popen([path, portfile], stdout=subprocess.PIPE,
                            text=True, start_new_session=True)
    port = wait_until(lambda: os.path.exists(portfile) and
                      open(portfile).read().strip(), 10, "the sink's port")
    return sink, "http://127.0.0.1:%s" % port


def stop_nullsink(sink):
    """Stops the sink; the number of lines it received."""
    sink.send_signal(signal.SIGTERM)
    out = sink.communicate(timeout=10)[0]
    return int(out.split("lines=")[1].split()[0])


def test_fast_target_keeps_up(influx):
    """Reading never starves sending (issue 9): 64 clients writing 512,000
    lines (63 MB) as fast as they can into a sink that absorbs more than
    the relay reads lose nothing with a 32M buffer.  Before delivery events
    ran first, each loop turn read every client for one 64K send, and
    drop_newest refused about 25% of the points.  The margin is wide: the
    sink must stall ~200 ms for the relay to read 32M ahead of it."""
    total, clients = 512000, 64
    loadgen = harness.bench_tool_path("loadgen")
    tmp = tempfile.mkdtemp(prefix="nullsink-")
    sink, url = start_nullsink(tmp)
    try:
        cfg = relay_config(None, "fair", relayd={"log_level": "info"},
                           target={"url": url, "buffer_size": "32M",
                                   "overflow": "drop_newest"})
        with Relay(cfg) as relay:
            subprocess.run([loadgen, relay.socket_path, str(total),
                            str(clients)], check=True, timeout=60,
                           stdout=subprocess.DEVNULL)
            st = stats_when(relay, seen(total), "every point accepted or "
                            "dropped", timeout=20)
            check_equal(0, st["dropped_overflow"], "points dropped by "
                        "overflow into a target that keeps up")
            stats_when(relay, lambda st: st["buffered_points"] == 0,
                       "an empty relay", timeout=20)
    finally:
        got = stop_nullsink(sink)
        shutil.rmtree(tmp, ignore_errors=True)
    check_equal(total, got, "lines the sink received")


if __name__ == "__main__":
    harness.main([test_drop_oldest, test_drop_newest, test_block_stream,
                  test_fast_target_keeps_up,
                  test_block_datagrams_dropped])
