#!/usr/bin/env python3
"""Operating the daemon (DESIGN 3, 4, 6): SIGHUP reload (buffered points
survive, a broken file is rejected whole, listeners and targets come and
go, connected clients stay), systemd socket activation (LISTEN_FDS) and
sd_notify (READY, WATCHDOG, RELOADING, STATUS, STOPPING).
Run by hand: ./test_ops.py [NAME...]
"""

import json
import os
import signal
import socket
import subprocess
import time

import harness
from harness import (Relay, assert_same_points, check, check_equal,
                     ini_text, point, relay_config, relay_stats,
                     settle_points, unique_db, wait_until)

T0 = 1700000000000000000


def lines(n, start=0, m="m"):
    """n distinct timestamped points of measurement m."""
    return ["%s,t=x v=%di %d" % (m, i, T0 + i) for i in range(start, start + n)]


def points(n, start=0, m="m"):
    """What lines(n, start, m) looks like in InfluxDB."""
    return [point(m, {"t": "x"}, {"v": i}, T0 + i)
            for i in range(start, start + n)]


def send_to(path, rows):
    """Send lines over one stream connection to the socket at path."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(path)
        s.sendall(("\n".join(rows) + "\n").encode())


def rewrite(relay, sections):
    """Replace the relay's config file (with @DIR@ expanded)."""
    relay.sections = relay._expand(sections)
    relay.sections.setdefault("relayd", {}).setdefault("control_socket", "")
    with open(relay.config_path, "w") as f:
        f.write(ini_text(relay.sections))


def reload(relay):
    """SIGHUP, and wait until the relay logged the outcome; returns True
    when the new configuration was swapped in."""
    log = relay.log()
    done, failed = log.count("configuration reloaded"), \
        log.count("the running configuration stays")
    relay.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: relay.log().count("configuration reloaded") > done
               or relay.log().count("the running configuration stays")
               > failed, 10, "the reload to finish")
    return relay.log().count("configuration reloaded") > done


def test_reload_keeps_buffered_points(influx):
    """Points buffered under flush_interval = 1h survive a HUP that
    shortens flush_interval and batch_size; they all arrive, once, and
    the target's counters carry on."""
    db = unique_db("hupbuf")
    cfg = relay_config(influx, db, target={"flush_interval": "1h",
                                           "batch_size": "5000"})
    with Relay(cfg) as relay:
        relay.send(lines(300))
        wait_until(lambda: relay_stats(relay)["buffered_points"] == 300, 10,
                   "300 points buffered")
        check_equal([], influx.all_points(db) if db in influx.databases()
                    else [], "points before the reload")
        cfg["target:local"].update(flush_interval="200ms", batch_size="50")
        rewrite(relay, cfg)
        check(reload(relay), "the reload was refused")
        relay.send(lines(100, 300))
        got = settle_points(influx, db, 400)
        st = relay_stats(relay)
    assert_same_points(points(400), got)
    check_equal(400, st["accepted"], "accepted counter across the reload")
    check_equal(400, st["written"], "written counter across the reload")
    # the 100 points sent after the reload were cut at the new batch_size
    check(st["batches_written"] >= 3, "new batch_size not applied: %s" % st)


def test_reload_rejects_broken_file(influx):
    """A file with errors is rejected whole: every problem is logged as
    FILE:LINE, and the old configuration (socket, target, database) keeps
    working unchanged."""
    db = unique_db("hupbad")
    cfg = relay_config(influx, db)
    with Relay(cfg) as relay:
        path = relay.socket_path
        broken = relay_config(influx, unique_db("never"),
                              listener={"path": "@DIR@/other.sock"},
                              target={"batch_size": "many"})
        broken["target:local"]["frobnicate"] = "yes"
        rewrite(relay, broken)
        check(not reload(relay), "a broken file was accepted")
        log = relay.log()
        text = open(relay.config_path).read().split("\n")
        for key in ("batch_size", "frobnicate"):
            lineno = [i + 1 for i, l in enumerate(text)
                      if l.startswith(key)][0]
            check("%s:%d: " % (relay.config_path, lineno) in log,
                  "no FILE:LINE error for %s (line %d)" % (key, lineno))
        check(os.path.exists(path), "the old socket is gone")
        check(not os.path.exists(relay.dir + "/other.sock"),
              "a listener of the broken file was opened")
        send_to(path, lines(5))
        got = settle_points(influx, db, 5)
    assert_same_points(points(5), got)


def test_reload_bind_failure(influx):
    """A valid file whose new listener cannot bind is refused whole: the
    new target is not created and the old settings keep applying."""
    db, other = unique_db("hupbind"), unique_db("hupbind2")
    cfg = relay_config(influx, db)
    with Relay(cfg) as relay:
        new = relay_config(influx, other)
        new["listener:x"] = {"path": "/nonexistent/dir/x.sock",
                             "target": "local"}
        rewrite(relay, new)
        check(not reload(relay), "a reload that cannot bind was accepted")
        check("reload aborted" in relay.log() and "/nonexistent/dir/x.sock"
              in relay.log(), "the bind failure is not logged")
        relay.send(lines(4))
        got = settle_points(influx, db, 4)
    assert_same_points(points(4), got)
    check(other not in influx.databases(), "the refused database was used")


def test_reload_adds_and_removes(influx):
    """A reload opens a new listener for a new target, closes a removed
    listener after reading what its client sent, and drains a removed
    target's buffered points before dropping it."""
    db_main, db_old, db_new = (unique_db("hupmain"), unique_db("hupold"),
                               unique_db("hupnew"))
    cfg = relay_config(influx, db_main)
    cfg["listener:old"] = {"path": "@DIR@/old.sock", "target": "gone"}
    cfg["target:gone"] = {"url": influx.url, "database": db_old,
                          "flush_interval": "1h"}
    with Relay(cfg) as relay:
        old_sock = relay.dir + "/old.sock"
        # wait_ready() saw the first listener; the second opens just after
        wait_until(lambda: " started" in relay.log(), 10, "the start")
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.connect(old_sock)
        client.sendall(("\n".join(lines(20, m="o")) + "\n").encode())
        wait_until(lambda: relay_stats(relay, "gone")["buffered_points"]
                   == 20, 10, "20 points buffered for target gone")
        client.sendall(("\n".join(lines(5, 20, m="o")) + "\n").encode())
        new = relay_config(influx, db_main)
        new["listener:second"] = {"path": "@DIR@/second.sock",
                                  "target": "other"}
        new["target:other"] = {"url": influx.url, "database": db_new,
                               "flush_interval": "200ms"}
        rewrite(relay, new)
        check(reload(relay), "the reload was refused")
        check(not os.path.exists(old_sock), "removed listener's socket "
              "still there")
        got_old = settle_points(influx, db_old, 25)
        check_equal(b"", client.recv(10), "removed listener's client "
                    "not closed")
        client.close()
        send_to(relay.dir + "/second.sock", lines(7, m="n"))
        relay.send(lines(3))
        got_new = settle_points(influx, db_new, 7)
        got_main = settle_points(influx, db_main, 3)
        wait_until(lambda: "removed target gone: everything delivered"
                   in relay.log(), 5, "target gone freed")
    assert_same_points(points(25, m="o"), got_old, "drained points")
    assert_same_points(points(7, m="n"), got_new, "new listener's points")
    assert_same_points(points(3), got_main, "kept listener's points")


def test_clients_survive_reload(influx):
    """A client connected across a reload keeps its connection; lines it
    sends after the reload follow the new settings (another database)."""
    db_a, db_b = unique_db("hupa"), unique_db("hupb")
    cfg = relay_config(influx, db_a, listener={"database": db_a})
    with Relay(cfg) as relay:
        s = relay.connect()
        s.sendall(("\n".join(lines(4)) + "\n").encode())
        got_a = settle_points(influx, db_a, 4)
        cfg["listener:main"]["database"] = db_b
        rewrite(relay, cfg)
        check(reload(relay), "the reload was refused")
        s.sendall(("\n".join(lines(6, 4)) + "\n").encode())
        s.shutdown(socket.SHUT_WR)
        got_b = settle_points(influx, db_b, 6)
        s.close()
        check("1 clients kept" in relay.log(), "client not kept:\n%s"
              % harness.tail(relay.log()))
    assert_same_points(points(4), got_a, "before the reload")
    assert_same_points(points(6, 4), got_b, "after the reload")


def ctl(path, *args):
    """influx-relayctl against the control socket at path: (exit code,
    parsed JSON answer)."""
    out = subprocess.run([harness.relayctl_path(), "-s", path] + list(args),
                         capture_output=True, timeout=30)
    try:
        return out.returncode, json.loads(out.stdout)
    except ValueError:
        raise harness.TestFailure("relayctl %s: not one JSON line: %r %r"
                                  % (args, out.stdout, out.stderr))


def test_reload_relayd_section(influx):
    """`influx-relayctl reload` applies [relayd]: the control socket moves
    (the asking connection still gets its answer), log_level and
    stats_interval change at once."""
    db = unique_db("hupctl")
    cfg = relay_config(influx, db, relayd={
        "control_socket": "@DIR@/c1.sock", "log_level": "info",
        "stats_interval": "0"})
    with Relay(cfg) as relay:
        c1, c2 = relay.dir + "/c1.sock", relay.dir + "/c2.sock"
        cfg["relayd"].update(control_socket="@DIR@/c2.sock",
                             log_level="debug", stats_interval="200ms")
        rewrite(relay, cfg)
        check_equal((0, {"ok": True}), ctl(c1, "reload"), "reload answer")
        check(not os.path.exists(c1), "old control socket still there")
        check_equal(0, ctl(c2, "ping")[0], "ping on the new control socket")
        relay.send(lines(2))
        settle_points(influx, db, 2)
        wait_until(lambda: relay.log().count("stats: target local:") >= 2,
                   5, "periodic stats lines")
        check(" debug: " in relay.log(), "log_level = debug not applied")


def test_reload_removes_target_with_admin_query(influx):
    """A reload that removes a target while a create-database to it waits
    on a server that never answers: the target lives until the query
    times out, the asking client gets its error answer, the relay runs
    on (it once freed the statement and crashed in its completion)."""
    db = unique_db("hupadmin")
    cfg = relay_config(influx, db, relayd={
        "control_socket": "@DIR@/control.sock"})
    with harness.HoleServer() as hole:
        cfg["target:hole"] = {"url": hole.url, "database": "x",
                              "timeout": "2s"}
        with Relay(cfg, env=harness.POISON_FREED) as relay:
            path = relay.sections["relayd"]["control_socket"]
            query = subprocess.Popen(
                [harness.relayctl_path(), "-s", path, "create-database",
                 "hole", "newdb"], stdout=subprocess.PIPE)
            wait_until(lambda: b"CREATE" in hole.received, 10,
                       "the CREATE to reach the hung server")
            del cfg["target:hole"]
            rewrite(relay, cfg)
            check(reload(relay), "the reload was refused")
            time.sleep(0.3)
            check("removed target hole:" not in relay.log(),
                  "target freed with its admin query in flight")
            out, _ = query.communicate(timeout=20)
            check_equal(False, json.loads(out).get("ok"),
                        "answer to the timed-out create-database")
            wait_until(lambda: "removed target hole: everything delivered"
                       in relay.log(), 5, "target hole freed")
            check(relay.running(), "the relay died")
            relay.send(lines(2))
            settle_points(influx, db, 2)


class ActivatedRelay(Relay):
    """A Relay started as systemd starts a socket-activated service: the
    sockets at fd 3, 4, ... and LISTEN_FDS / LISTEN_PID naming them.  A
    shell sets LISTEN_PID to its own pid and execs the relay, which keeps
    that pid, as systemd does after its fork."""

    def __init__(self, sections, socks, env=None):
        Relay.__init__(self, sections)
        self.socks = socks
        self.env = env or {}

    def start(self):
        fds = [s.fileno() for s in self.socks]
        targets = list(range(3, 3 + len(fds)))

        def move_fds():
            # dup everything high first, so fd 3.. can be reused in order
            high = [os.dup(fd) for fd in fds]
            for src, dst in zip(high, targets):
                os.dup2(src, dst)
        env = dict(os.environ, **self.env)
        if self.socks:
            env["LISTEN_FDS"] = str(len(fds))
        argv = ["sh", "-c", 'LISTEN_PID=$$; export LISTEN_PID; '
                'exec "$0" "$@"', harness.relayd_path(), "-c",
                self.config_path]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True, env=env,
                preexec_fn=move_fds if self.socks else None,
                pass_fds=targets)
        return self


def need_systemd():
    """Skip unless the relay was built with libsystemd (-V says)."""
    out = subprocess.run([harness.relayd_path(), "-V"], capture_output=True,
                         timeout=10).stdout
    if b"systemd: yes" not in out:
        raise harness.TestSkip("built without libsystemd: %r" % out)


def bound_socket(path, kind=socket.SOCK_STREAM):
    """A socket bound at path (listening, for a stream), as systemd's
    socket unit holds it."""
    s = socket.socket(socket.AF_UNIX, kind)
    s.bind(path)
    if kind == socket.SOCK_STREAM:
        s.listen(16)
    return s


def test_socket_activation(influx):
    """With LISTEN_FDS each listener takes the inherited socket matching
    its path and type (stream and datagram, in any fd order): no rebind
    (same inode), data flows, the files stay after exit; an inherited
    socket no listener wants is warned about; a listener removed and
    added back by reloads takes its socket again."""
    need_systemd()
    db = unique_db("sdsock")
    cfg = relay_config(influx, db)
    cfg["listener:dg"] = {"path": "@DIR@/dgram.sock", "type": "datagram",
                          "target": "local"}
    relay = ActivatedRelay(cfg, [])
    path, dgram = relay.socket_path, relay.dir + "/dgram.sock"
    socks = [bound_socket(relay.dir + "/spare.sock", socket.SOCK_DGRAM),
             bound_socket(path), bound_socket(dgram, socket.SOCK_DGRAM)]
    relay.socks = socks
    inodes = [os.stat(p).st_ino for p in (path, dgram)]
    try:
        with relay:
            wait_until(lambda: " started" in relay.log(), 10, "the start")
            log = relay.log()
            check_equal(2, log.count("using the socket systemd passed"),
                        "inherited sockets used")
            check("fd 3) matches no listener" in log,
                  "unused inherited socket not warned about")
            relay.send(lines(5))
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as d:
                d.sendto(lines(1, 5)[0].encode(), dgram)
            got = settle_points(influx, db, 6)
            check(reload(relay), "reload with an inherited socket refused")
            # removed, its socket goes back to the pool; added again, taken
            dg = cfg.pop("listener:dg")
            rewrite(relay, cfg)
            check(reload(relay), "reload removing listener dg refused")
            cfg["listener:dg"] = dg
            rewrite(relay, cfg)
            check(reload(relay), "reload adding listener dg back refused")
            check_equal(3, relay.log().count("using the socket systemd "
                                             "passed"), "inherited sockets "
                        "taken, listener dg twice")
            relay.send(lines(3, 6))
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as d:
                d.sendto(lines(1, 9)[0].encode(), dgram)
            got = settle_points(influx, db, 10)
            code = relay.terminate()
            check_equal(0, code, "exit code")
            check(os.path.exists(path) and os.path.exists(dgram),
                  "inherited socket file removed at exit")
            check_equal(inodes, [os.stat(p).st_ino for p in (path, dgram)],
                        "socket inodes (not rebound)")
    finally:
        for s in socks:
            s.close()
    assert_same_points(points(10), got)


def notify_socket(relay):
    """A datagram socket standing in for systemd's NOTIFY_SOCKET."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(relay.dir + "/notify.sock")
    s.settimeout(0.2)
    return s


def read_notes(s, seconds):
    """Every message sent to the notify socket within `seconds`."""
    out, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            out.append(s.recv(4096).decode())
        except socket.timeout:
            pass
    return out


def test_sd_notify_watchdog(influx):
    """With NOTIFY_SOCKET and WATCHDOG_USEC the relay sends READY=1, then
    WATCHDOG=1 about every half interval, STATUS= with the counters,
    RELOADING=1 then READY=1 around a HUP, and STOPPING=1 on SIGTERM."""
    need_systemd()
    db = unique_db("sdnotify")
    cfg = relay_config(influx, db, relayd={"stats_interval": "300ms"})
    relay = ActivatedRelay(cfg, [])
    note = notify_socket(relay)
    relay.env = {"NOTIFY_SOCKET": relay.dir + "/notify.sock",
                 "WATCHDOG_USEC": "400000"}
    try:
        with relay:
            wait_until(lambda: "watchdog pings" in relay.log(), 10,
                       "the watchdog to start")
            relay.send(lines(3))
            settle_points(influx, db, 3)
            first = read_notes(note, 1.2)
            relay.proc.send_signal(signal.SIGHUP)
            second = read_notes(note, 0.6)
            relay.terminate()
            third = read_notes(note, 0.3)
    finally:
        note.close()
    check("READY=1" in first, "no READY=1: %r" % first[:5])
    ready = first.index("READY=1")
    pings = [n for n in first[ready:] if n == "WATCHDOG=1"]
    # 1.2 s at 0.2 s per ping: 6, allow for scheduling slack
    check(len(pings) >= 4, "%d WATCHDOG=1 pings in 1.2s: %r"
          % (len(pings), first))
    check(any(n.startswith("STATUS=") and "3 written" in n for n in first),
          "no STATUS= with 3 written: %r" % first)
    reloading = [i for i, n in enumerate(second)
                 if n.startswith("RELOADING=1")]
    check(reloading and "READY=1" in second[reloading[0]:],
          "no RELOADING=1 then READY=1 around HUP: %r" % second)
    check("MONOTONIC_USEC=" in second[reloading[0]],
          "RELOADING=1 without MONOTONIC_USEC: %r" % second[reloading[0]])
    check("STOPPING=1" in second + third, "no STOPPING=1: %r" % third)


if __name__ == "__main__":
    harness.main([test_reload_keeps_buffered_points,
                  test_reload_rejects_broken_file,
                  test_reload_bind_failure,
                  test_reload_adds_and_removes,
                  test_clients_survive_reload,
                  test_reload_relayd_section,
                  test_reload_removes_target_with_admin_query,
                  test_socket_activation,
                  test_sd_notify_watchdog])
