#!/usr/bin/env python3
"""Isolation (README "Responses"): one sender's bad points never cost
another sender's points.  Against a real influxd: a field given two types
in one flush window by one client costs that client one point, attributed
to its listener, and nothing of another client's; a sender alternating
types is refused at the socket once influxd named the field's type.
Run by hand: ./test_isolation.py [NAME...]
"""

import os
import socket
import time

import harness
from harness import (Relay, check, check_equal, listener_stats,
                     relay_config, relay_stats, unique_db, wait_until)

T0 = 1700000000 * 10**9
CUTS_PER_S = 64     # QUEUE_CUTS_PER_S: batches closed for types per second


def two_listener_config(influx, db):
    """Listeners a and b, both into the same target and database."""
    cfg = relay_config(influx, db, target={"flush_interval": "1s"})
    del cfg["listener:main"]
    cfg["listener:a"] = {"path": "@DIR@/a.sock", "target": "local"}
    cfg["listener:b"] = {"path": "@DIR@/b.sock", "target": "local"}
    return cfg


def send_to(relay, name, lines):
    """Send lines on a new connection to listener `name`."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(os.path.join(relay.dir, name + ".sock"))
        s.sendall(("\n".join(lines) + "\n").encode())


def test_type_conflict_costs_one_point(influx):
    """1,000 good points from client A and `m f=1i`, `m f=1.5` from client
    B in one flush window: all 1,000 stored, B's integer stored, exactly
    one point dropped, counted and blamed on listener b."""
    db = unique_db("isolation")
    with Relay(two_listener_config(influx, db)) as relay:
        send_to(relay, "a", ["good,i=%d v=1 %d" % (i, T0 + i)
                             for i in range(1000)])
        send_to(relay, "b", ["m f=1i %d" % (T0 + 1),
                             "m f=1.5 %d" % (T0 + 2)])
        wait_until(lambda: relay_stats(relay)["dropped_server"] +
                   relay_stats(relay)["written"] >= 1002, 10,
                   "1,002 points settled")
        st = relay_stats(relay)
        check_equal(1001, st["written"], "points written")
        check_equal(1, st["dropped_server"], "points dropped by the server")
        check_equal(1, listener_stats(relay, "b")["dropped_server"],
                    "drops blamed on listener b")
        check_equal(0, listener_stats(relay, "a")["dropped_server"],
                    "drops blamed on listener a")
        # each listener's own books: exact per sender
        la = harness.check_listener_balance(listener_stats(relay, "a"), "a")
        lb = harness.check_listener_balance(listener_stats(relay, "b"), "b")
        check_equal((1000, 0), (la["written"], la["buffered_points"]),
                    "listener a written, buffered")
        check_equal((1, 1), (lb["written"], lb["dropped"]),
                    "listener b written, dropped")
        log = relay.log()
    check_equal(1000, harness.count_points(influx, db, "good"),
                "good points stored")
    got = influx.points(db, "m")
    check_equal([1], [p["fields"]["f"] for p in got], "m's stored f")
    check("listener b (pid" in log and '"m f=1.5 ' in log,
          "the drop is not attributed to listener b with its line:\n%s"
          % harness.tail(log, 15))


def test_alternating_sender(influx):
    """A client alternating one field's types (`m f=Ni`, `m f=N.5`) cuts
    at most a few batches a second, and once influxd named the field's
    type its floats are refused at the socket; another client's points
    all arrive and requests stay few.  (Until influxd names the type,
    the rationed cuts may cost the alternating client points of either
    type: the cost of its conflicts falls on its own points.)"""
    db = unique_db("alternate")
    with Relay(two_listener_config(influx, db)) as relay:
        send_to(relay, "b", ["m f=0i %d" % T0])
        wait_until(lambda: relay_stats(relay)["written"] >= 1, 10,
                   "the field's type settled")
        for round_ in range(5):
            send_to(relay, "b", ["m f=%d%s %d" % (i, "i" if i % 2 else ".5",
                                                  T0 + 1 + round_ * 2000 + i)
                                 for i in range(2000)])
            send_to(relay, "a", ["good,r=%d v=%d %d" % (round_, i, T0 + i)
                                 for i in range(2000)])
            time.sleep(0.3)
        wait_until(lambda: relay_stats(relay)["written"] >= 1 + 10000 +
                   5000, 15, "the valid points written")
        st = relay_stats(relay)
        lb = listener_stats(relay, "b")
        la = listener_stats(relay, "a")
    check_equal(0, la["rejected"], "listener a's rejects")
    check_equal(10000, harness.count_points(influx, db, "good"),
                "other client's points stored")
    stored = [p["fields"]["f"] for p in influx.points(db, "m")]
    check(len(stored) >= 3000 and all(isinstance(f, int) for f in stored),
          "the alternating client's integers: %d stored" % len(stored))
    check(st["rejected_conflict"] >= 3000,
          "floats not refused at the socket: %s" % st)
    check_equal(st["rejected_conflict"], lb["rejected"],
                "listener b's rejects")
    # cuts happen only until influxd named the type (well within 2 s)
    check(st["type_cuts"] <= 2 * CUTS_PER_S + 1, "cuts not rationed: %s" % st)
    check(st["requests"] <= st["type_cuts"] + 20, "too many requests: %s"
          % st)


if __name__ == "__main__":
    harness.main([test_type_conflict_costs_one_point,
                  test_alternating_sender])
