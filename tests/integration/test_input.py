#!/usr/bin/env python3
"""Input integration tests: influx-relayd against a real influxd.

Covers DESIGN section 4 beyond plain line protocol: key=value messages,
datagram listeners, routing tags, allowed_databases, precision, peer
credentials (allow_uids / allow_gids), and garbage mixed with valid
messages.  Run by hand: ./test_input.py [NAME...]
"""

import os
import random
import re
import signal
import socket
import time

import harness
from harness import (Relay, check, check_equal, point, relay_config,
                     settle_points, unique_db)

T0 = 1700000000 * 10**9


# ------------------------------------------------------------------ helpers


def listener(path, **keys):
    """A [listener:*] section dict for the standard target."""
    d = {"path": "@DIR@/" + path, "target": "local"}
    d.update({k: str(v) for k, v in keys.items()})
    return d


SO_SNDBUFFORCE = getattr(socket, "SO_SNDBUFFORCE", 32)


def send_datagrams(path, datagrams, sndbuf=None):
    """Send each bytes/str item as one datagram to `path`; `sndbuf` forces
    a larger send buffer (root only) for datagrams beyond the default."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        if sndbuf:
            s.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, sndbuf)
        for d in datagrams:
            s.sendto(d if isinstance(d, bytes) else d.encode(), path)


def wait_listeners(relay):
    """Relay.wait_ready() checks the first listener only: wait until the
    log says every listener is set up (bound, mode applied, listening)."""
    for name, keys in relay.sections.items():
        if name.startswith("listener:"):
            harness.wait_until(lambda: re.search(
                r"listener %s: (listening|receiving datagrams) on "
                % re.escape(name[9:]), relay.log()), 10, "listener " + name)


def stats_line(relay, name):
    """The relay's stats line for listener `name`, after a SIGUSR1."""
    mark = "stats: listener %s:" % name
    before = relay.log().count(mark)
    relay.proc.send_signal(signal.SIGUSR1)
    harness.wait_until(lambda: relay.log().count(mark) > before, 10,
                       "stats line of listener %s" % name)
    return [l for l in relay.log().splitlines() if mark in l][-1]


def stat(line, key):
    """A counter of a stats line, e.g.
    stat(l, "rejected_by_reason[no fields]")."""
    m = re.search(r"(?:^| )%s=(\d+)" % re.escape(key), line)
    return int(m.group(1)) if m else 0


def check_nothing_forwarded_invalid(log):
    """InfluxDB answers 400 for a batch with a line it cannot take: the
    relay must never forward one (DESIGN 4: reject at ingest)."""
    check("HTTP 400" not in log and "unable to parse" not in log and
          "partial write" not in log,
          "relay forwarded something InfluxDB rejected:\n%s"
          % harness.tail("\n".join(l for l in log.splitlines()
                                   if "400" in l or "partial" in l)))


def run_as(uid, gid, fn):
    """Run fn() in a forked child with the given uid/gid; its exit code."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            fn()
            code = 0
        except BaseException:
            code = 2
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


# ------------------------------------------------------------------ a


def test_a_kv_messages(influx):
    """kv messages become points with the right tags, typed fields,
    database (db key, listener default) and time (RFC 3339, integer in
    the listener's precision)."""
    db, routed = unique_db("kv"), unique_db("kv_routed")
    cfg = relay_config(influx, db, listener={"format": "kv",
                                             "tag_keys": "service,env"})
    cfg["listener:ms"] = listener("ms.sock", format="kv", precision="ms",
                                  measurement_key="name", time_key="ts",
                                  tag_keys="host", database=db)
    msgs = [
        "measurement=deploy db=%s service=api env=prod duration=3.2 ok=true"
        " time=2023-11-14T22:13:20.25Z" % routed,
        'service="web 1" measurement="disk io" n=7i msg="say \\"hi\\"" '
        'plain=hello f=12 b=false time=1700000000000000001',
        "measurement=deploy service=db duration=1 ok=false "
        "time=2023-11-14T23:13:20+01:00",
        # rejected: no fields, no measurement, bad pair, unsigned
        "measurement=deploy service=x", "duration=1 ok=true",
        "measurement=deploy duration", "measurement=deploy n=5u",
    ]
    expected = [
        point("disk io", {"service": "web 1"},
              {"n": 7, "msg": 'say "hi"', "plain": "hello", "f": 12.0,
               "b": False}, T0 + 1),
        point("deploy", {"service": "db"}, {"duration": 1.0, "ok": False},
              T0),
        point("cpu", {"host": "h1"}, {"v": 0.5}, T0 + 123 * 10**6),
    ]
    expected_routed = [point("deploy", {"service": "api", "env": "prod"},
                             {"duration": 3.2, "ok": True},
                             T0 + 250 * 10**6)]
    with Relay(cfg) as relay:
        wait_listeners(relay)
        relay.send(msgs)
        path = relay.sections["listener:ms"]["path"]
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(path)
            s.sendall(b"name=cpu host=h1 v=0.5 ts=1700000000123\n")
        got = settle_points(influx, db, len(expected))
        got_routed = settle_points(influx, routed, len(expected_routed))
        line = stats_line(relay, "main")
        log = relay.log()
    harness.assert_same_points(expected, got, "kv points in the default db")
    harness.assert_same_points(expected_routed, got_routed,
                               "kv points routed by the db key")
    check_equal({"duration": "float", "ok": "boolean"},
                influx.field_types(routed, "deploy"), "field types")
    for reason in ("no fields", "missing measurement", "bad pair",
                   "unsigned integers not supported"):
        check_equal(1, stat(line, "rejected_by_reason[%s]" % reason),
                    "rejected_by_reason[%s] in %r" % (reason, line))
        check("(%s)" % reason in log, "reject '%s' not logged" % reason)
    check_nothing_forwarded_invalid(log)


# ------------------------------------------------------------------ b


def test_b_datagrams(influx):
    """Datagram listeners (line and kv) deliver every message of every
    datagram, replace a stale socket file and honour `mode`."""
    db = unique_db("dgram")
    cfg = relay_config(influx, db)
    cfg["listener:dg"] = listener("dg.sock", type="datagram", mode="0620")
    cfg["listener:dgkv"] = listener("dgkv.sock", type="datagram",
                                    format="kv")
    relay = Relay(cfg)
    dg = relay.sections["listener:dg"]["path"]
    dgkv = relay.sections["listener:dgkv"]["path"]
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    stale.bind(dg)
    stale.close()               # leaves a stale socket file behind
    expected, datagrams = [], []
    for d in range(20):
        lines = []
        for i in range(5):
            n = d * 5 + i
            expected.append(point("dg", {"d": str(d)}, {"n": n}, T0 + n))
            lines.append("dg,d=%d n=%di %d" % (d, n, T0 + n))
        # CRLF, a comment, no newline after the last line
        datagrams.append("\r\n".join(lines[:2]) + "\r\n# c\n" +
                         "\n".join(lines[2:]))
    kv = ["measurement=dgkv n=%di time=%d\nmeasurement=dgkv n=%di time=%d"
          % (i, T0 + i, i + 100, T0 + i + 100) for i in range(10)]
    expected += [point("dgkv", {}, {"n": n}, T0 + n)
                 for i in range(10) for n in (i, i + 100)]
    with relay:
        wait_listeners(relay)
        check_equal(0o620, os.stat(dg).st_mode & 0o7777, "mode of " + dg)
        send_datagrams(dg, datagrams)
        send_datagrams(dgkv, kv)
        got = settle_points(influx, db, len(expected))
        line = stats_line(relay, "dg")
        rc, out = second_relay_on(dg)
    check(rc == 1 and "%s is in use by another process" % dg in out,
          "a second relay on the live datagram socket %s: exit %s, log:\n%s"
          % (dg, rc, harness.tail(out)))
    harness.assert_same_points(expected, got, "points sent as datagrams")
    check_equal(20, stat(line, "datagrams"), "datagrams in " + line)
    check("replaced stale socket %s" % dg in relay.log(),
          "no 'replaced stale socket' in the log")
    check(not os.path.exists(dg), "datagram socket left after exit")


def second_relay_on(path):
    """Start another relay whose only listener is `path` (a datagram
    socket); return its exit code and log (it must refuse to start)."""
    cfg = relay_config(None, "x")
    cfg["listener:main"] = {"path": path, "type": "datagram"}
    other = Relay(cfg).start()
    try:
        rc = other.proc.wait(10)
    except Exception:
        rc = None
    return rc, other.log()


# ------------------------------------------------------------------ c


def test_c_database_tag_routing(influx):
    """database_tag routes line-protocol points and is cut out of them;
    without it the listener's database applies; several targets each get
    the point."""
    db, db1, db2, other = (unique_db("route"), unique_db("route_one"),
                           unique_db("route_two"), unique_db("route_fan"))
    now = time.time_ns()        # a 7d retention policy drops T0
    cfg = relay_config(influx, db, listener={"database_tag": "db",
                                             "retention_policy_tag": "rp",
                                             "target": "local, other"})
    cfg["target:other"] = dict(cfg["target:local"], database=other)
    lines = ["r,db=%s,host=a v=1i %d" % (db1, T0 + 1),
             "r,host=b,db=%s v=2i %d" % (db2, T0 + 2),
             "r,host=c,zone=z\\ 1 v=3i %d" % (T0 + 3),
             "r,rp=week,host=d,db=%s v=4i %d" % (db2, now)]
    influx.create_database(db2)
    influx.query('CREATE RETENTION POLICY "week" ON "%s" DURATION 7d '
                 'REPLICATION 1' % db2)
    with Relay(cfg) as relay:
        relay.send(lines)
        got = {d: settle_points(influx, d, 1) for d in (db1, db2, db)}
        got_other = settle_points(influx, other, 1)
        in_rp = lambda: influx.query('SELECT * FROM "%s"."week"."r"' % db2)[
            "results"][0].get("series", [])
        week = harness.wait_until(in_rp, 10, "a point in %s.week" % db2)
    harness.assert_same_points([point("r", {"host": "a"}, {"v": 1}, T0 + 1)],
                               got[db1], "points routed to " + db1)
    harness.assert_same_points([point("r", {"host": "b"}, {"v": 2}, T0 + 2)],
                               got[db2], "points routed to " + db2)
    check_equal([[now, "d", 4]], week[0]["values"],
                "point routed to retention policy week (time, host, v; "
                "no db or rp tag)")
    check_equal(["time", "host", "v"], week[0]["columns"],
                "columns of the point in %s.week" % db2)
    untagged = point("r", {"host": "c", "zone": "z 1"}, {"v": 3}, T0 + 3)
    harness.assert_same_points([untagged], got[db], "untagged points")
    harness.assert_same_points([untagged], got_other,
                               "untagged points on the second target")


# ------------------------------------------------------------------ d


def test_d_allowed_databases(influx):
    """A database outside allowed_databases is rejected at ingest and never
    created; allowed ones are delivered."""
    prefix = unique_db("allow")
    ok, bad = prefix + "_ok_1", prefix + "_bad"
    cfg = relay_config(influx, prefix + "_ok_default",
                       listener={"database_tag": "db",
                                 "allowed_databases": prefix + "_ok_*"})
    cfg["listener:kv"] = listener("kv.sock", format="kv",
                                  allowed_databases=prefix + "_ok_*")
    with Relay(cfg) as relay:
        wait_listeners(relay)
        relay.send(["a,db=%s v=1i %d" % (ok, T0),
                    "a,db=%s v=2i %d" % (bad, T0)])
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(relay.sections["listener:kv"]["path"])
            s.sendall(("measurement=a db=%s v=3i time=%d\n"
                       "measurement=a db=%s v=4i time=%d\n"
                       % (bad, T0 + 1, ok, T0 + 1)).encode())
        got = settle_points(influx, ok, 2)
        main, kv = stats_line(relay, "main"), stats_line(relay, "kv")
    harness.assert_same_points([point("a", {}, {"v": 1}, T0),
                                point("a", {}, {"v": 4}, T0 + 1)], got,
                               "points in the allowed database")
    check(bad not in influx.databases(), "database %s was created" % bad)
    for line in (main, kv):
        key = "rejected_by_reason[database not allowed]"
        check_equal(1, stat(line, key), "%s in %r" % (key, line))


# ------------------------------------------------------------------ e


def test_e_precision(influx):
    """precision = s: times are converted to ns; out of range rejected."""
    db = unique_db("precision")
    cfg = relay_config(influx, db, listener={"precision": "s"})
    with Relay(cfg) as relay:
        relay.send(["p v=1i 1700000000", "p v=2i -1",
                    "p v=3i 10000000000", "p v=4i 9223372037"])
        got = settle_points(influx, db, 2)
        line = stats_line(relay, "main")
    harness.assert_same_points([point("p", {}, {"v": 1}, T0),
                                point("p", {}, {"v": 2}, -10**9)], got,
                               "points with second timestamps")
    key = "rejected_by_reason[timestamp out of range]"
    check_equal(2, stat(line, key), key + " in " + line)


# ------------------------------------------------------------------ f


def test_f_peer_credentials(influx):
    """allow_uids refuses other users' connections and datagrams (counted
    and logged); allow_gids accepts a member of a group given by name."""
    if os.geteuid() != 0:
        raise harness.TestSkip("needs root to run clients as uid 65534")
    db = unique_db("creds")
    cfg = relay_config(influx, db, listener={"allow_uids": "0",
                                             "mode": "0666"})
    cfg["listener:dg"] = listener("dg.sock", type="datagram",
                                  allow_uids="root", mode="0666")
    cfg["listener:grp"] = listener("grp.sock", allow_gids="nogroup",
                                   mode="0666")
    relay = Relay(cfg)
    os.chmod(relay.dir, 0o755)  # let uid 65534 reach the sockets
    paths = {n: relay.sections["listener:" + n]["path"]
             for n in ("main", "dg", "grp")}

    def send_stream(path, line):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(path)
            try:
                s.sendall(line.encode() + b"\n")
                s.shutdown(socket.SHUT_WR)
                s.recv(1)       # wait for the relay to close it
            except OSError:
                pass            # refused: reset is fine too

    def nobody(fn):
        check_equal(0, run_as(65534, 65534, fn), "exit code of uid 65534")

    with relay:
        wait_listeners(relay)
        nobody(lambda: send_stream(paths["main"], "c,who=nobody v=1i %d" % T0))
        nobody(lambda: send_datagrams(paths["dg"],
                                      ["c,who=nobody_dg v=1i %d" % T0]))
        nobody(lambda: send_stream(paths["grp"], "c,who=nogroup v=1i %d" % T0))
        send_stream(paths["main"], "c,who=root v=1i %d" % T0)
        send_datagrams(paths["dg"], ["c,who=root_dg v=1i %d" % T0])
        send_stream(paths["grp"], "c,who=root_grp v=1i %d" % T0)
        got = settle_points(influx, db, 3)
        stats = {n: stats_line(relay, n) for n in paths}
    harness.assert_same_points(
        [point("c", {"who": w}, {"v": 1}, T0)
         for w in ("root", "root_dg", "nogroup")], got, "allowed points")
    for n in paths:
        check_equal(1, stat(stats[n], "denied"), "denied in " + stats[n])
    check(re.search(r"uid 65534 gid 65534 refused", relay.log()),
          "refused connection not logged")


# ------------------------------------------------------------------ g


def random_bytes(rng, size):
    """Random bytes without a newline (so line boundaries stay known)."""
    return bytes(b for b in rng.randbytes(size) if b != 0x0a)


JUNK_KEYS = [b"k1", b"t\\", b"a b", b"x,y", b"q=", b"\xff", b"time",
             "\u00fc".encode(), b"\xc3\x28", b"k\x00", b"#"]
JUNK_VALUES = [b"1", b"1i", b"-2.5e3", b"true", b"5u", b'"s \\" x"', b"a\\",
               b'"\\\\"', b"\x00", b"\xc3\x28", b"\t", b"x=y", b"\\,",
               b"99999999999999999999i", b"#", b"\xe2\x9c\x93", b'"\x7f"',
               b"1e999", b"2023-13-01T00:00:00Z"]


def junk_kv(rng, i):
    """Almost-kv: a measurement of its own, then random pairs and bytes.
    Whatever the relay accepts of these must be accepted by InfluxDB too."""
    pairs = [b"%s%d=%s" % (rng.choice(JUNK_KEYS), j, rng.choice(JUNK_VALUES))
             for j in range(rng.randint(1, 6))]
    if rng.random() < 0.2:
        pairs.append(b"time=" + rng.choice(JUNK_VALUES))
    raw = b"measurement=junk%d " % i + b" ".join(pairs)
    if rng.random() < 0.3:
        pos = rng.randint(0, len(raw))
        raw = raw[:pos] + random_bytes(rng, 8) + raw[pos:]
    return raw


def test_g_garbage(influx):
    """Random bytes, NULs and invalid UTF-8 mixed with valid kv and line
    messages, over streams and datagrams: every valid message arrives,
    nothing invalid reaches InfluxDB, the daemon keeps running."""
    db = unique_db("junk")
    influx.create_database(db)
    cfg = relay_config(influx, db)
    cfg["listener:kv"] = listener("kv.sock", format="kv", tag_keys="k1")
    cfg["listener:dg"] = listener("dg.sock", type="datagram", format="kv")
    rng = random.Random(7)
    expected, line_data, kv_data, dgrams = [], [], [], []
    for i in range(300):
        expected += [point("ok_line", {"t": "x"}, {"i": i}, T0 + i),
                     point("ok_kv", {}, {"i": i}, T0 + i),
                     point("ok_dg", {}, {"i": i}, T0 + i)]
        line_data += [b"ok_line,t=x i=%di %d" % (i, T0 + i),
                      b"\x00" + random_bytes(rng, rng.randint(0, 200)),
                      harness.INVALID_LINES[i % len(harness.INVALID_LINES)]]
        kv_data += [b"measurement=ok_kv i=%di time=%d" % (i, T0 + i),
                    random_bytes(rng, rng.randint(0, 200)),
                    junk_kv(rng, i)]
        dgrams.append(b"\n".join([junk_kv(rng, 1000 + i),
                                  b"measurement=ok_dg i=%di time=%d"
                                  % (i, T0 + i),
                                  random_bytes(rng, 100)]))
    with Relay(cfg) as relay:
        dg = relay.sections["listener:dg"]["path"]
        wait_listeners(relay)
        relay.send(b"\n".join(line_data) + b"\n")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(relay.sections["listener:kv"]["path"])
            s.sendall(b"\n".join(kv_data) + b"\n")
        send_datagrams(dg, dgrams)
        send_datagrams(dg, [random_bytes(rng, 200 * 1024)])  # > max_line
        if os.geteuid() == 0:       # > the relay's 256K datagram buffer
            send_datagrams(dg, [b"measurement=ok_dg i=-1i\n" +
                                random_bytes(rng, 300 * 1024)], 1 << 20)
        ok = lambda: [p for p in influx.all_points(db)
                      if p["measurement"].startswith("ok_")]
        harness.wait_until(lambda: len(ok()) >= len(expected), 20,
                           "%d valid points" % len(expected), interval=0.3)
        check(relay.running(), "relay died on garbage")
        relay.send([b"ok_line,t=after i=0i %d" % T0])
        expected.append(point("ok_line", {"t": "after"}, {"i": 0}, T0))
        harness.wait_until(lambda: len(ok()) >= len(expected), 10,
                           "the line sent after garbage")
        time.sleep(0.5)
        got = ok()
        junk = len(influx.all_points(db)) - len(got)
        line = stats_line(relay, "kv")
        dg_line = stats_line(relay, "dg")
        log = relay.log()
    harness.assert_same_points(expected, got, "valid messages among garbage")
    check_nothing_forwarded_invalid(log)
    check(stat(line, "rejected") > 300, "kv rejects counted: " + line)
    check_equal(1 if os.geteuid() == 0 else 0,
                stat(dg_line, "rejected_by_reason[datagram too large]"),
                "rejected_by_reason[datagram too large] in " + dg_line)
    print("  (%d junk kv messages were valid and stored)" % junk)


# ------------------------------------------------------------------ h


def raw_log(relay):
    """The relay's log as bytes: what a terminal would be sent."""
    with open(relay.log_path, "rb") as f:
        return f.read()


def test_h_hostile_names(influx):
    """A routed database or retention policy name with control bytes (ESC,
    CR) is refused at the socket with a reason (InfluxDB could never
    create it: held, it would be retried forever), and none of its bytes
    reaches the log raw; a database name the relay does log (a '"' in
    it) and a server's answer with ESC and CR are escaped too."""
    db = unique_db("hostile")
    quoted = db + '_q"x'
    cfg = relay_config(influx, db, listener={"database_tag": "db",
                                             "retention_policy_tag": "rp"},
                       target={"retry_initial": "100ms",
                               "retry_max": "300ms"})
    with Relay(cfg) as relay:
        relay.send([b"a,db=ev\x1b[31mil\rX v=1i %d" % T0,
                    ("a,db=%s,rp=r\x1bp v=2i %d" % (db, T0)).encode(),
                    ("a,db=%s v=3i %d" % (quoted, T0)).encode(),
                    ("a v=4i %d" % T0).encode()])
        got = settle_points(influx, db, 1)
        settle_points(influx, quoted, 1)
        line = stats_line(relay, "main")
        log = raw_log(relay)
    harness.assert_same_points([point("a", {}, {"v": 4}, T0)], got,
                               "the good point")
    check_equal(2, stat(line, "rejected_by_reason[control bytes in database "
                        "or retention policy name]"), "refused names: " + line)
    check(not any(b"\x1b" in n.encode() or "\r" in n
                  for n in influx.databases()),
          "a database with control bytes was created")
    check(b"\x1b" not in log and b"\r" not in log,
          "raw ESC or CR in the log:\n%r" % log[-2000:])
    check(b"\\x1b[31mil\\x0dX" in log,
          "the rejected line's excerpt, escaped, is not in the log")
    check(('creating database "%s_q\\"x"' % db).encode() in log,
          "the quote in a database name is not escaped in the log")

    # a server's answer: ESC and CR in last_error and the warnings
    body = b'{"error":"\x1b]0;owned\x07\x1b[2Jfake\r\ninfo: forged"}'
    with harness.AnswerServer(401, body) as server:
        cfg = relay_config(None, "d", target={
            "url": server.url, "retry_initial": "100ms",
            "retry_max": "200ms"})
        with Relay(cfg) as relay:
            relay.send(["a v=1i %d" % T0])
            harness.wait_until(lambda: b"configuration problem" in
                               raw_log(relay), 10, "the warning")
            stats_line(relay, "main")
            harness.relay_stats(relay)
            log = raw_log(relay)
    for bad in (b"\x1b", b"\x07", b"\r", b"\ninfo: forged"):
        check(bad not in log, "%r from the server reached the log raw:\n%r"
              % (bad, log[-1500:]))
    check(b"\\x1b]0;owned\\x07" in log, "the server's answer, escaped, "
          "is not in the log")


def test_i_directives(influx):
    """"#relay db=... rp=..." lines route the sender's next lines without
    any routing tag or config change: an application tag called db stays
    a tag; a routing tag still wins; a datagram's directive holds for
    that datagram; allowed_databases applies; a bad one is rejected."""
    base = unique_db("dir")
    db1, db2, db3, dbt = (base + "_one", base + "_two", base + "_dg",
                          base + "_tag")
    now = time.time_ns()        # a 7d retention policy drops T0
    cfg = relay_config(influx, base + "_default", listener={
        "allowed_databases": base + "*"})
    cfg["listener:dg"] = listener("dg.sock", type="datagram")
    cfg["listener:tagged"] = listener("tagged.sock", database_tag="db",
                                      allowed_databases=base + "*")
    influx.create_database(db2)
    influx.query('CREATE RETENTION POLICY "week" ON "%s" DURATION 7d '
                 'REPLICATION 1' % db2)
    with Relay(cfg) as relay:
        wait_listeners(relay)
        relay.send(["#relay db=%s" % db1,
                    "d,db=app v=1i %d" % (T0 + 1),
                    "#relay db=%s rp=week" % db2,
                    "d v=2i %d" % now,
                    "#relay db=%s rp=" % db1,
                    "d v=3i %d" % (T0 + 3),
                    "#relay db=elsewhere",
                    "d v=4i %d" % (T0 + 4),
                    "#relay database=x",
                    "#relay db=",
                    "d v=5i %d" % (T0 + 5)])
        send_datagrams(relay.sections["listener:dg"]["path"],
                       ["#relay db=%s\nd v=6i %d" % (db3, T0 + 6),
                        "d v=7i %d" % (T0 + 7)])
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(relay.sections["listener:tagged"]["path"])
            s.sendall(("#relay db=%s\nd,db=%s v=8i %d\nd v=9i %d\n"
                       % (db1, dbt, T0 + 8, T0 + 9)).encode())
        got1 = settle_points(influx, db1, 3)
        got3 = settle_points(influx, db3, 1)
        gott = settle_points(influx, dbt, 1)
        default = settle_points(influx, base + "_default", 2)
        in_rp = lambda: influx.query('SELECT * FROM "%s"."week"."d"' % db2)[
            "results"][0].get("series", [])
        week = harness.wait_until(in_rp, 10, "a point in %s.week" % db2)
        main = stats_line(relay, "main")
    harness.assert_same_points(
        [point("d", {"db": "app"}, {"v": 1}, T0 + 1),
         point("d", {}, {"v": 3}, T0 + 3), point("d", {}, {"v": 9}, T0 + 9)],
        got1, "points a directive sent to " + db1)
    check_equal([[now, 2]], week[0]["values"], "the point sent to week")
    harness.assert_same_points([point("d", {}, {"v": 6}, T0 + 6)], got3,
                               "the datagram's point after its directive")
    harness.assert_same_points([point("d", {}, {"v": 8}, T0 + 8)], gott,
                               "a routing tag wins over a directive")
    harness.assert_same_points(
        [point("d", {}, {"v": 5}, T0 + 5), point("d", {}, {"v": 7}, T0 + 7)],
        default, "points after 'db=' and in a datagram without one")
    check_equal(1, stat(main, "rejected_by_reason[bad relay directive]"),
                "bad directives in %r" % main)
    check_equal(1, stat(main, "rejected_by_reason[database not allowed]"),
                "a directive to a database not allowed")
    check("elsewhere" not in influx.databases(), "elsewhere was created")


if __name__ == "__main__":
    harness.main([test_i_directives, test_a_kv_messages, test_b_datagrams,
                  test_c_database_tag_routing, test_d_allowed_databases,
                  test_e_precision, test_f_peer_credentials, test_g_garbage,
                  test_h_hostile_names])
