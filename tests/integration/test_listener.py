#!/usr/bin/env python3
"""Listener behaviour of influx-relayd: socket files and stream clients.

Stale socket files are replaced, a live one is refused, `mode` is applied,
an over-long line is rejected whole and the stream resynchronises after
it, silent clients are closed after idle_timeout and clients beyond
max_clients are refused.  Run by hand: ./test_listener.py [NAME...]
"""

import json
import os
import random
import signal
import socket
import stat
import subprocess
import threading
import time

import harness
from harness import (Relay, check, check_equal, relay_config, settle_points,
                     unique_db, wait_until)


def test_stale_socket_replaced(influx):
    """A socket file nobody listens on is replaced at start."""
    db = unique_db("stale")
    cfg = relay_config(influx, db)
    relay = Relay(cfg)
    path = relay.socket_path
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()       # the file stays, nothing listens
    check(os.path.exists(path), "test setup: stale socket file missing")
    with relay:
        relay.send(["stale v=1i"])
        got = settle_points(influx, db, 1)
    check_equal(1, len(got), "points through a replaced stale socket")


def test_live_socket_refused(influx):
    """A second relay on a path another relay listens on exits 1 and
    leaves the first one working."""
    db = unique_db("live")
    with Relay(relay_config(influx, db)) as first:
        second = Relay(relay_config(influx, db))
        with open(second.config_path, "w") as f:
            f.write(harness.ini_text(dict(
                second.sections,
                **{"listener:main": dict(second.sections["listener:main"],
                                         path=first.socket_path)})))
        second.start()
        code = second.proc.wait(10)
        check_equal(1, code, "exit code of a relay started on a live socket")
        check("in use by another process" in second.log(),
              "no clear error for a live socket:\n" + harness.tail(second.log()))
        second.close()
        first.send(["live v=1i"])
        got = settle_points(influx, db, 1)
        check_equal(1, len(got), "points through the first relay afterwards")


def test_not_a_socket_refused(influx):
    """A regular file at the socket path is never deleted."""
    relay = Relay(relay_config(influx, unique_db("file")))
    with open(relay.socket_path, "w") as f:
        f.write("precious")
    relay.start()
    check_equal(1, relay.proc.wait(10), "exit code with a file in the way")
    with open(relay.socket_path) as f:
        check_equal("precious", f.read(), "the file at the socket path")
    check("is not a socket" in relay.log(), "no clear error:\n" +
          harness.tail(relay.log()))
    relay.close()


def test_mode_applied(influx):
    """The socket file gets the configured mode."""
    for mode in (0o600, 0o666):
        cfg = relay_config(influx, unique_db("mode"),
                           listener={"mode": "%04o" % mode})
        with Relay(cfg) as relay:
            got = stat.S_IMODE(os.stat(relay.socket_path).st_mode)
            check_equal(oct(mode), oct(got), "socket file mode")


def test_max_line_resync(influx):
    """A line longer than max_line is rejected whole (even when it spans
    many reads) and the next line is delivered."""
    db = unique_db("maxline")
    cfg = relay_config(influx, db, listener={"max_line": "1K"})
    huge = "big,t=x s=\"%s\"" % ("y" * 300000)
    fits = "big,t=x s=\"%s\"" % ("z" * 900)
    with Relay(cfg) as relay:
        relay.send(["before v=1i", huge, "after v=2i", fits])
        got = settle_points(influx, db, 3)
        log = relay.log()
    names = sorted(p["measurement"] for p in got)
    check_equal(["after", "before", "big"], names,
                "measurements stored around an over-long line")
    check("line too long" in log, "over-long line not logged:\n" +
          harness.tail(log))


def test_max_line_crlf(influx):
    """A line of exactly max_line bytes fits, with LF or CRLF (the CR is
    dropped, so it does not count); one byte more is too long either way,
    in one write or cut across reads."""
    db = unique_db("maxcrlf")
    cfg = relay_config(influx, db, listener={"max_line": "100"})

    def line(m, size):
        head = '%s s="' % m
        return (head + "x" * (size - len(head) - 1) + '"').encode()
    with Relay(cfg) as relay:
        s = relay.connect()
        s.sendall(line("a", 100) + b"\r\n" + line("b", 100) + b"\n" +
                  line("c", 101) + b"\r\n" + line("d", 101) + b"\n")
        e = line("e", 100) + b"\r\n"
        s.sendall(e[:101])
        time.sleep(0.2)
        s.sendall(e[101:])
        s.close()
        got = settle_points(influx, db, 3)
        time.sleep(0.5)
        log = relay.log()
    check_equal(["a", "b", "e"], sorted(p["measurement"] for p in got),
                "measurements stored")
    check_equal(2, log.count("line too long"), "lines refused as too "
                "long:\n" + harness.tail(log))


def test_descriptor_reserve(influx):
    """Idle clients never take the last descriptors: with a hard limit of
    200 open files (soft 100) the relay raises its soft limit, warns that
    max_clients cannot fit, refuses clients before the reserve, and the
    control socket and delivery keep working."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (100, 200))
    db = unique_db("fds")
    cfg = relay_config(influx, db, relayd={
        "control_socket": "@DIR@/control.sock"})
    relay = Relay(cfg)
    with open(relay.log_path, "ab") as log:
        relay.proc = subprocess.Popen(
            [harness.relayd_path(), "-c", relay.config_path],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=limit)
    try:
        relay.wait_ready()
        with open("/proc/%d/limits" % relay.proc.pid) as f:
            soft = [l.split()[3] for l in f if l.startswith("Max open files")]
        check_equal(["200"], soft, "soft open files limit")
        check("max_clients" in relay.log() and "limit is 200"
              in relay.log(), "no warning about max_clients at start")
        clients = []
        for _ in range(250):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(relay.socket_path)
            clients.append(s)
        time.sleep(0.5)
        out = subprocess.run([harness.relayctl_path(), "-s",
                              relay.sections["relayd"]["control_socket"],
                              "ping"], capture_output=True, timeout=10)
        check_equal(0, out.returncode, "ping with 250 clients connected "
                    "(%r)" % out.stderr)
        clients[0].sendall(b"fds v=1i\n")
        settle_points(influx, db, 1)
        check("open files limit nearly reached" in relay.log(),
              "no warning about refused clients")
        for s in clients:
            s.close()
    finally:
        relay.close()


def test_idle_timeout(influx):
    """A client silent for idle_timeout is disconnected; what it sent
    before is delivered."""
    db = unique_db("idle")
    cfg = relay_config(influx, db, listener={"idle_timeout": "300ms"})
    with Relay(cfg) as relay:
        s = relay.connect()
        s.sendall(b"idle v=1i\n")
        s.settimeout(5)
        start = time.monotonic()
        data = s.recv(1)        # b"" once the relay closes
        waited = time.monotonic() - start
        s.close()
        got = settle_points(influx, db, 1)
    check_equal(b"", data, "read from an idle client's socket")
    check(0.2 < waited < 3, "idle client closed after %.2fs, want ~0.3s"
          % waited)
    check_equal(1, len(got), "points sent before going idle")


def test_idle_timeout_settles_input(influx):
    """A client closed for idle_timeout while its input is not framed yet
    (an open quote holds the lines after it, a last line lacks its
    newline) is settled as at shutdown: the open line and the cut line are
    rejected and counted, the complete lines after the quote delivered."""
    db = unique_db("idleopen")
    cfg = relay_config(influx, db, listener={"idle_timeout": "300ms"})
    t = 1700000000000000000
    with Relay(cfg) as relay:
        s = relay.connect()
        s.sendall(b'm f="abc\n' +
                  b"".join(b"m v=%di %d\n" % (i, t + i) for i in range(3)) +
                  b"m v=")
        s.settimeout(5)
        check_equal(b"", s.recv(1), "read from an idle client's socket")
        s.close()
        got = settle_points(influx, db, 3)
        st = harness.check_listener_balance(harness.listener_stats(relay))
        log = relay.log()
    check_equal([0, 1, 2], sorted(p["fields"]["v"] for p in got),
                "points after the open record\n" + harness.tail(log))
    check_equal(5, st["lines"], "lines counted\n" + harness.tail(log))
    check_equal(2, st["rejected"], "lines rejected\n" + harness.tail(log))
    check("incomplete line at idle timeout" in log,
          "cut line not reported:\n" + harness.tail(log))


def _read_summary(s):
    """The relay's reply=summary line on a connection that has ended (our
    write failed, or we shut it down), or None: read to EOF or a reset."""
    data = b""
    s.settimeout(10)
    while True:
        try:
            chunk = s.recv(4096)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return json.loads(data) if data else None


def _race_idle_timeout(path, lines, pause, seed, conns):
    """Sends `lines` one send() each, pausing about `pause` (the relay's
    idle_timeout) after each, so the timeout often fires as a line
    arrives.  A failed write means the relay ended the connection: the
    line goes again on a new one.  Appends (who ended it, lines whose
    send() succeeded, the summary or None) to `conns` per connection."""
    rng = random.Random(seed)
    pending = list(lines)
    while pending:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        head, sent, ended = b"#relay reply=summary\n", 0, "client"
        try:
            while pending:
                s.sendall(head + pending[0])
                head = b""
                pending.pop(0)
                sent += 1
                time.sleep(pause * rng.uniform(0.8, 1.2))
            s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            ended = "relay"
        conns.append((ended, sent, None if head else _read_summary(s)))
        s.close()


def _run_threads(targets, meanwhile=None):
    """Runs each (function, args) in a thread, and meanwhile() if given;
    fails if one raised or has not returned after a minute."""
    errors = []

    def run(fn, args):
        try:
            fn(*args)
        except BaseException as e:
            errors.append(e)
    threads = [threading.Thread(target=run, args=t) for t in targets]
    for th in threads:
        th.start()
    if meanwhile is not None:
        meanwhile()
    for th in threads:
        th.join(60)
    check(not any(th.is_alive() for th in threads), "clients still running")
    check(not errors, "clients failed: %r" % errors[:3])


def _check_summaries(conns, log):
    """Every connection that asked for a summary got one, counting as
    accepted exactly the complete lines its writes carried (and a line cut
    at the end, if any, as rejected).  conns: (lines, cut, summary)."""
    wrong = [c for c in conns if c[2] is None or
             (c[2]["lines"], c[2]["accepted"], c[2]["rejected"]) !=
             (c[0] + c[1], c[0], c[1])]
    check(not wrong, "%d of %d connections: (complete lines written, cut "
          "lines, summary) %s\n%s" % (len(wrong), len(conns), wrong[:3],
                                       harness.tail(log)))


def test_idle_timeout_takes_queued_lines(influx):
    """Clients writing at about the idle_timeout interval: a line whose
    send() succeeded is read, even when it was still in the socket as the
    timeout fired, and a write after the timeout fails (EPIPE), so the
    client knows to send it again.  Every connection's summary counts
    exactly the lines written to it, and every line arrives once."""
    db = unique_db("idlerace")
    cfg = relay_config(influx, db, listener={"idle_timeout": "50ms"})
    nclients, nlines, t = 20, 100, 1700000000000000000
    conns = []
    with Relay(cfg) as relay:
        _run_threads([(_race_idle_timeout, (
            relay.socket_path,
            [b"idlerace,c=%d v=%di %d\n" % (c, i, t + c * nlines + i)
             for i in range(nlines)], 0.05, c, conns))
            for c in range(nclients)])
        got = settle_points(influx, db, nclients * nlines)
        st = harness.check_listener_balance(harness.listener_stats(relay))
        log = relay.log()
    timed_out = sum(1 for c in conns if c[0] == "relay")
    check(timed_out >= 20, "only %d connections ended by idle_timeout: the "
          "test did not race it" % timed_out)
    # a connection whose first write failed never asked for a summary
    _check_summaries([(c[1], 0, c[2]) for c in conns
                      if c[1] > 0 or c[2] is not None], log)
    check_equal(nclients * nlines, st["accepted"], "lines accepted")
    check_equal(nclients * nlines, len(got), "points stored")


def test_max_clients(influx):
    """At max_clients a new connection waits, not refused: what it wrote
    meanwhile (its send() succeeded) is read once a client leaves.  The
    relay used to accept and close it, losing those points."""
    db = unique_db("maxcl")
    cfg = relay_config(influx, db, listener={"max_clients": "2"})
    with Relay(cfg) as relay:
        # wait_ready()'s probe connection counts until the relay has read
        # its EOF; an idle relay does that at once
        time.sleep(0.3)
        a, b = relay.connect(), relay.connect()
        a.sendall(b"mc,c=a v=1i\n")
        b.sendall(b"mc,c=b v=1i\n")
        settle_points(influx, db, 2)
        c = relay.connect()     # in the socket's backlog
        c.sendall(b"mc,c=c v=1i\n")
        time.sleep(1)
        st = harness.listener_stats(relay)
        check_equal((2, 2), (st["clients"], st["accepted"]),
                    "clients and points while c waits")
        a.close()
        got = settle_points(influx, db, 3)
        check_equal({"a", "b", "c"}, {p["tags"]["c"] for p in got},
                    "points of all three clients")
        b.close()
        c.close()
        check_equal(0, harness.listener_stats(relay)["connections_refused"],
                    "connections refused")
        check("max_clients (2) reached, new connections wait" in
              relay.log(), "not logged:\n" + harness.tail(relay.log()))


def test_shutdown_reads_what_was_sent(influx):
    """SIGTERM while the relay has not read yet (it is stopped): every
    complete line already written is delivered, including those of clients
    still connected; a line cut by the shutdown is rejected, not sent, and
    so is the last line of a client that ended its stream after
    "#relay partial=reject"; without it, that line is whole."""
    db = unique_db("drain")
    with Relay(relay_config(influx, db)) as relay:
        os.kill(relay.proc.pid, signal.SIGSTOP)
        try:
            lines = ["drain,c=%d v=%di" % (c, i) for c in range(3)
                     for i in range(1000)]
            for c in range(3):
                relay.send(lines[c * 1000:(c + 1) * 1000])
            open_client = relay.connect()
            open_client.sendall(b"drain,c=open v=1i\ndrain,c=open v=")
            # its stream ended (still connected): its last line is whole
            ended_client = relay.connect()
            ended_client.sendall(b"drain,c=ended v=1i")
            ended_client.shutdown(socket.SHUT_WR)
            # ... unless it said it only ever writes whole lines (this
            # one lost its timestamp)
            whole_client = relay.connect()
            whole_client.sendall(b"#relay partial=reject\n"
                                 b"drain,c=whole v=1i\ndrain,c=whole v=2i")
            whole_client.shutdown(socket.SHUT_WR)
            os.kill(relay.proc.pid, signal.SIGTERM)
        finally:
            os.kill(relay.proc.pid, signal.SIGCONT)
        # not terminate(): a second SIGTERM would cut the drain short, and
        # it only merges with the first while that one is still pending
        check_equal(0, relay.proc.wait(Relay.STOP_TIMEOUT), "exit code")
        for s in (open_client, ended_client, whole_client):
            s.close()
        log = relay.log()
    got = influx.all_points(db)
    check_equal(3003, len(got), "points delivered from data sent before "
                "SIGTERM\n" + harness.tail(log))
    for cut in ("shutdown", "close"):
        check_equal(1, log.count("rejected line (incomplete line at %s)"
                                 % cut), "lines cut at %s\n%s"
                    % (cut, harness.tail(log)))


def _write_until_refused(s, data, conns):
    """Writes `data` to `s` until done or a write fails, then appends
    (complete lines written, 1 if a line was cut, the summary) to
    `conns`."""
    done = 0
    try:
        while done < len(data):
            done += s.send(data[done:done + 65536])
        s.shutdown(socket.SHUT_WR)
    except (BrokenPipeError, ConnectionResetError):
        pass
    sent = data[:done]
    conns.append((sent.count(b"\n"), int(not sent.endswith(b"\n") and
                                          done > 0), _read_summary(s)))
    s.close()


def test_shutdown_takes_queued_lines(influx):
    """SIGTERM while clients are blocked writing (the relay is stopped,
    their sockets full): the drain reads everything each write put in the
    socket, and later writes fail (EPIPE) rather than vanish in the
    close.  Each summary counts exactly the complete lines written, the
    line cut by the shutdown as rejected, and those lines are stored."""
    db = unique_db("drainrace")
    nclients, nlines, t = 4, 20000, 1700000000000000000
    conns = []
    with Relay(relay_config(influx, db)) as relay:
        socks = [relay.connect() for _ in range(nclients)]
        for s in socks:
            s.settimeout(None)
            s.sendall(b"#relay reply=summary\n")

        def stop():
            time.sleep(0.5)     # the clients fill their sockets
            os.kill(relay.proc.pid, signal.SIGTERM)
            os.kill(relay.proc.pid, signal.SIGCONT)
        os.kill(relay.proc.pid, signal.SIGSTOP)
        try:
            _run_threads([(_write_until_refused, (s, b"".join(
                b"drainrace,c=%d v=%di %d\n" % (c, i, t + c * nlines + i)
                for i in range(nlines)), conns))
                for c, s in enumerate(socks)], stop)
        finally:
            os.kill(relay.proc.pid, signal.SIGCONT)
        check_equal(0, relay.proc.wait(Relay.STOP_TIMEOUT), "exit code")
        log = relay.log()
    _check_summaries(conns, log)
    check(all(c[0] < nlines for c in conns), "a client wrote everything: "
          "the shutdown did not race its writes")
    got = influx.all_points(db)
    check_equal(sum(c[0] for c in conns), len(got), "points stored")


def test_shutdown_settles_open_record(influx):
    """A line with an open quote holds the lines after it while the client
    is connected (the record could still complete); at SIGTERM no more
    input can come, so only that line is rejected and the rest arrive."""
    db = unique_db("openrec")
    with Relay(relay_config(influx, db)) as relay:
        s = relay.connect()
        s.sendall(b'm f="abc\n' +
                  b"".join(b"m v=%di %d\n" % (i, 1700000000000000000 + i)
                           for i in range(3)))
        time.sleep(0.5)
        os.kill(relay.proc.pid, signal.SIGTERM)
        check_equal(0, relay.proc.wait(Relay.STOP_TIMEOUT), "exit code")
        s.close()
        log = relay.log()
    got = influx.all_points(db)
    check_equal([0, 1, 2], sorted(p["fields"]["v"] for p in got),
                "points after the open record\n" + harness.tail(log))


def test_version_and_usage(influx):
    """-V prints the version, -h the usage, a bad flag exits 1."""
    binary = harness.relayd_path()
    out = subprocess.run([binary, "-V"], capture_output=True, timeout=10)
    check(out.returncode == 0 and out.stdout.startswith(b"influx-relayd "),
          "-V: %r" % (out,))
    out = subprocess.run([binary, "-h"], capture_output=True, timeout=10)
    check(out.returncode == 0 and b"-c FILE" in out.stdout, "-h: %r" % (out,))
    out = subprocess.run([binary, "-x"], capture_output=True, timeout=10)
    check_equal(1, out.returncode, "exit code for an unknown flag")


if __name__ == "__main__":
    harness.main([test_stale_socket_replaced, test_live_socket_refused,
                  test_not_a_socket_refused, test_mode_applied,
                  test_max_line_resync, test_max_line_crlf,
                  test_idle_timeout, test_idle_timeout_settles_input,
                  test_idle_timeout_takes_queued_lines,
                  test_max_clients,
                  test_descriptor_reserve,
                  test_shutdown_reads_what_was_sent,
                  test_shutdown_takes_queued_lines,
                  test_shutdown_settles_open_record, test_version_and_usage])
