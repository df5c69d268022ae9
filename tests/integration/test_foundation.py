#!/usr/bin/env python3
"""Foundation integration tests: influx-relayd against a real influxd.

Covers DESIGN sections 2-5 basics: exact delivery of line protocol, receipt
timestamps, database creation, `-t` config checking, flush on SIGTERM, and
surviving garbage input.  Run by hand: ./test_foundation.py [NAME...]
"""

import os
import random
import re
import threading
import time

import harness
from harness import (Relay, check, check_equal, point, relay_config,
                     settle_points, to_line, unique_db)

BOOL_SPELLINGS = [("t", "f"), ("T", "F"), ("true", "false"),
                  ("True", "False"), ("TRUE", "FALSE")]
TAG_VALUES = {
    "host": ["web 1", "db,2", "cache=3", "plain", "back\\slash"],
    "region": ["eu west", "us,east", "ap", "µ ✓"],
    "rack id": ["r 1", "r,2", "r=3"],
}
STRINGS = ["", "hello world", 'say "hi"', "back\\slash", "C:\\dir\\",
           "tab\tand, comma=", "ünïcödé ✓", 'mixed \\"quote\\" "x"']
SCHEMAS = {
    "cpu": {"usage": float, "cores": int, "ok": bool},
    "disk io": {"reads": int, "latency": float, "path": str},
    "net,eth": {"rx bytes": int, "err=rate": float},
    "app_events": {"msg": str, "level": str, "code": int, "flag": bool},
}


# ------------------------------------------------------------------ a


def random_value(rng, kind):
    """A random field value of the given Python type, edge cases included."""
    if kind is int:
        return rng.choice([0, -1, 9223372036854775807, -9223372036854775808,
                           rng.randint(-10**12, 10**12)])
    if kind is float:
        return rng.choice([0.0, -0.5, 42.0, 1e300, 2.5e-300,
                           rng.uniform(-1e6, 1e6)])
    if kind is bool:
        return rng.random() < 0.5
    return rng.choice(STRINGS)


def random_point(rng, measurement, time_ns):
    """A point with a random subset of tags and a non-empty subset of the
    measurement's fields (field types stay fixed per measurement, as
    InfluxDB requires)."""
    tags = {k: rng.choice(v) for k, v in TAG_VALUES.items()
            if rng.random() < 0.6}
    schema = SCHEMAS[measurement]
    keys = [k for k in schema if rng.random() < 0.7] or [next(iter(schema))]
    fields = {k: random_value(rng, schema[k]) for k in keys}
    return point(measurement, tags, fields, time_ns)


def mixed_points(n, seed=1):
    """n points over several measurements with unique timestamps: the last
    hour, plus epoch 0, a negative time and one in 2100."""
    rng = random.Random(seed)
    base = time.time_ns() - 3600 * 10**9
    times = [base + i * 1000 + rng.randint(0, 999) for i in range(n)]
    times[1], times[2], times[3] = 0, -10**9, 4102444800000000000
    return [random_point(rng, rng.choice(list(SCHEMAS)), t) for t in times]


def send_concurrently(relay, lines, clients):
    """Send lines over `clients` parallel stream connections."""
    chunks = [lines[i::clients] for i in range(clients)]
    errors = []

    def run(chunk):
        try:
            relay.send(chunk)
        except Exception as e:      # reported by the main thread
            errors.append(e)
    threads = [threading.Thread(target=run, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    check(not errors, "sending to the relay failed: %s" % errors)


def check_control(influx, db, lines, points):
    """Write the lines straight to InfluxDB first: if that does not give
    back exactly `points`, the expectation (harness) is wrong, not the
    relay, and the test says so."""
    influx.create_database(db)
    influx.write(db, lines)
    try:
        harness.assert_same_points(points, influx.all_points(db),
                                   "control (direct write, no relay)")
    except harness.TestFailure as e:
        raise harness.TestFailure("HARNESS BUG, not a relay bug: %s" % e)
    finally:
        influx.drop_database(db)


def test_a_exact_delivery(influx):
    """10,000 mixed lines arrive with exact measurement/tags/fields/time."""
    db = unique_db("exact")
    influx.create_database(db)
    points = mixed_points(10000)
    rng = random.Random(2)
    lines = [to_line(p["measurement"], p["tags"], p["fields"], p["time"],
                     bool_words=rng.choice(BOOL_SPELLINGS)) for p in points]
    check_control(influx, db + "_direct", lines, points)
    with Relay(relay_config(influx, db)) as relay:
        send_concurrently(relay, lines, clients=4)
        got = settle_points(influx, db, len(points), timeout=30)
        harness.assert_same_points(points, got, "points of 10,000 lines")
        check(relay.running(), "relay died:\n" + harness.tail(relay.log()))


# ------------------------------------------------------------------ b


def test_b_receipt_time(influx):
    """Lines without a timestamp get the receipt time, never repeated."""
    db = unique_db("stamp")
    cfg = relay_config(influx, db, target={"flush_interval": "1s"})
    lines = ["seq,src=b n=%di" % i for i in range(100)]
    lines += ["dup,t=a v=1i", "dup,t=a v=1i"]
    with Relay(cfg) as relay:
        before = time.time_ns()
        relay.send(lines)
        after = time.time_ns()
        got = settle_points(influx, db, len(lines))
    check_equal(len(lines), len(got), "points stored for %d lines without "
                "timestamp (identical lines must not overwrite)" % len(lines))
    check_receipt_window(got, before, after)
    check_monotonic(got)
    dup_times = {p["time"] for p in got if p["measurement"] == "dup"}
    check_equal(2, len(dup_times), "distinct times of two identical lines")


def check_receipt_window(points, before, after):
    """Every stamp lies between before-send and after-send.

    10 ms below tolerates a coarse clock; 500 ms above lets the relay read
    the socket late, yet stays far below the 1 s flush_interval, so stamps
    taken by InfluxDB at write time (not receipt) would fail.
    """
    lo, hi = before - 10**7, after + 5 * 10**8
    bad = [p for p in points if not lo <= p["time"] <= hi]
    check(not bad, "%d of %d points stamped outside [before send, after send"
          " + 0.5s] = [%d, %d]; e.g. %s" % (len(bad), len(points), before,
                                            after + 5 * 10**8, bad[:3]))


def check_monotonic(points):
    """Lines of one connection get strictly increasing stamps in order."""
    seq = sorted((p for p in points if p["measurement"] == "seq"),
                 key=lambda p: p["fields"]["n"])
    times = [p["time"] for p in seq]
    bad = [(seq[i]["fields"]["n"], times[i], times[i + 1])
           for i in range(len(times) - 1) if times[i + 1] <= times[i]]
    check(not bad, "stamps not strictly increasing in send order "
          "(n, time, next time): %s" % bad[:5])


# ------------------------------------------------------------------ c


def test_c_create_database(influx):
    """A missing database is created on 'database not found'."""
    db = unique_db("created")
    check(db not in influx.databases(), "database %s exists already" % db)
    expected = [point("m", {"t": "x y"}, {"v": i}, 1700000000 * 10**9 + i)
                for i in range(3)]
    cfg = relay_config(influx, db, target={"create_database": "true"})
    with Relay(cfg) as relay:
        relay.send([to_line(p["measurement"], p["tags"], p["fields"],
                            p["time"]) for p in expected])
        got = settle_points(influx, db, len(expected))
    check(db in influx.databases(), "database %s not created" % db)
    harness.assert_same_points(expected, got, "points in the new database")


# ------------------------------------------------------------------ d

CHECKED_CONFIG = """\
[relayd]
log_level = info
control_socket =
[listener:main]
path = {dir}/relay.sock
{extra}target = local
[target:local]
url = http://127.0.0.1:9
database = checked
"""


def run_check(extra):
    """Write CHECKED_CONFIG (with `extra` as line 6) and run `-t` on it."""
    relay = Relay({})       # only for its temp dir and cleanup
    path = os.path.join(relay.dir, "checked.ini")
    with open(path, "w") as f:
        f.write(CHECKED_CONFIG.format(dir=relay.dir, extra=extra))
    rc, out = Relay.check_config(path)
    created = os.path.exists(os.path.join(relay.dir, "relay.sock"))
    return path, rc, out, created


def test_d_config_check(influx):
    """-t reports FILE:LINE for an unknown key and exits 1; valid exits 0."""
    path, rc, out, created = run_check("bogus_key = 1\n")
    check_equal(1, rc, "exit code of -t with an unknown key (output: %r)"
                % out)
    hits = [l for l in out.splitlines() if l.startswith(path + ":6:")]
    check(hits, "no line starting with %r in -t output: %r"
          % (path + ":6:", out))
    check("bogus_key" in hits[0], "error line does not name the key: %r"
          % hits[0])
    path, rc, out, created = run_check("")
    check_equal(0, rc, "exit code of -t with a valid config (output: %r)"
                % out)
    check(not created, "-t created the listener socket")


def test_d_config_check_catches(influx):
    """-t refuses what would fail at run time: a URL with a query, a
    space or a broken IPv6 literal, unix:///, hex-float durations, a
    relative socket path, text after a section header."""
    relay = Relay({})
    cases = [("url = http://h:8086/?db=x\n", "must not have a query"),
             ("url = http://x y\n", "not a valid URL"),
             ("url = http://[::1\n", "not a valid URL"),
             ("url = unix:///\n", "unix:///absolute/path"),
             ("flush_interval = 0x10s\n", "invalid value '0x10s'"),
             ("timeout = 0x1p-3s\n", "invalid value '0x1p-3s'")]
    for extra, want in cases:
        text = CHECKED_CONFIG.replace("url = http://127.0.0.1:9\n", "") + extra
        path = os.path.join(relay.dir, "c.ini")
        with open(path, "w") as f:
            f.write(text.format(dir=relay.dir, extra=""))
        rc, out = Relay.check_config(path)
        check_equal(1, rc, "-t exit code for %r (output %r)" % (extra, out))
        check(want in out, "-t output for %r: %r" % (extra, out))
    for text, want in (
            (CHECKED_CONFIG.replace("{dir}/relay.sock", "relay.sock"),
             "is not absolute"),
            (CHECKED_CONFIG + "[target:x]]\n", "text after")):
        path = os.path.join(relay.dir, "c.ini")
        with open(path, "w") as f:
            f.write(text.format(dir=relay.dir, extra=""))
        rc, out = Relay.check_config(path)
        check_equal(1, rc, "-t exit code (output %r)" % out)
        check(want in out, "-t output: %r" % out)


# ------------------------------------------------------------------ e


def test_e_sigterm_flush(influx):
    """SIGTERM flushes buffered points, exits 0 and removes the socket."""
    db = unique_db("term")
    influx.create_database(db)
    expected = [point("held", {"n": str(i % 7)}, {"v": float(i)},
                      1700000000 * 10**9 + i) for i in range(500)]
    cfg = relay_config(influx, db, target={"flush_interval": "60s",
                                           "batch_size": "100000"})
    with Relay(cfg) as relay:
        relay.send([to_line(p["measurement"], p["tags"], p["fields"],
                            p["time"]) for p in expected])
        time.sleep(0.5)
        check_equal(0, len(influx.all_points(db)), "points in InfluxDB before"
                    " SIGTERM (flush_interval=60s: nothing may flush yet)")
        rc = relay.terminate()
        sock_left = os.path.exists(relay.socket_path)
    check_equal(0, rc, "exit code after SIGTERM")
    harness.assert_same_points(expected, influx.all_points(db),
                               "points flushed on SIGTERM")
    check(not sock_left, "socket file %s still exists after exit"
          % relay.socket_path)


# ------------------------------------------------------------------ f

def garbage_line(rng, size):
    """Random bytes that can never parse: no '=' means no field.  No '\\n',
    '\\r', '\\\\' or '"' either, so line boundaries stay unambiguous."""
    banned = set(b'=\n\r\\"')
    raw = bytes(b for b in rng.randbytes(size * 2) if b not in banned)
    return b"\x00" + raw[:size]


def garbage_stream(rng, valid):
    """Valid lines interleaved with NUL-laden garbage, invalid lines and a
    line longer than the default 64K max_line."""
    out = []
    for i, line in enumerate(valid):
        out.append(line)
        out.append(garbage_line(rng, rng.randint(0, 300)))
        out.append(harness.INVALID_LINES[i % len(harness.INVALID_LINES)])
        if i == len(valid) // 2:
            out.append(garbage_line(rng, 100 * 1024))
    return b"\n".join(out) + b"\n"


def test_f_survives_garbage(influx):
    """Garbage between valid lines is rejected; valid lines still arrive."""
    db = unique_db("garbage")
    influx.create_database(db)
    rng = random.Random(3)
    expected = [point("ok", {"k": "v"}, {"i": i}, 1700000000 * 10**9 + i)
                for i in range(201)]
    valid = [to_line(p["measurement"], p["tags"], p["fields"],
                     p["time"]).encode() for p in expected]
    with Relay(relay_config(influx, db)) as relay:
        relay.send(garbage_stream(rng, valid[:200]))
        relay.send(garbage_line(rng, 5000))      # no final newline
        relay.send([valid[200]])                 # listener still serves
        got = settle_points(influx, db, len(expected))
        check(relay.running(), "relay died on garbage (exit %s)"
              % relay.proc.returncode)
    harness.assert_same_points(expected, got, "valid lines among garbage")
    check_nothing_forwarded_invalid(relay.log())


def check_nothing_forwarded_invalid(log):
    """Fail if InfluxDB had to reject lines the relay passed on.

    InfluxDB 1.x writes the valid points of a batch and answers 400
    "partial write: unable to parse ..." for the rest, so stored data alone
    cannot show that the relay let an invalid line through (poisoning the
    batch); the server's message in the relay's log can.
    """
    found = re.findall(r"unable to parse '(.*?)': ([a-z ]+)", log)
    reasons = sorted({"%r: %s" % (line[:60], why) for line, why in found})
    check(not found and "HTTP 400" not in log,
          "relay forwarded lines InfluxDB rejected (DESIGN 4: reject at "
          "ingest), e.g. %s" % (reasons[:10] or "(see HTTP 400 in log)"))


# ------------------------------------------------------------------ g


def test_g_framing(influx):
    """Comments, blank lines, CRLF and a last line without newline."""
    db = unique_db("framing")
    influx.create_database(db)
    expected = [point("f", {"t": t}, {"v": i}, 1700000000 * 10**9 + i)
                for i, t in enumerate("abc")]
    data = (b"# a comment v=1i\n\n  \n"
            b"f,t=a v=0i 1700000000000000000\r\n"
            b"f,t=b v=1i 1700000000000000001\n"
            b"f,t=c v=2i 1700000000000000002")
    with Relay(relay_config(influx, db)) as relay:
        relay.send(data)
        got = settle_points(influx, db, len(expected))
    harness.assert_same_points(expected, got, "points of framed input")


if __name__ == "__main__":
    harness.main([test_a_exact_delivery, test_b_receipt_time,
                  test_c_create_database, test_d_config_check,
                  test_d_config_check_catches,
                  test_e_sigterm_flush, test_f_survives_garbage,
                  test_g_framing])
