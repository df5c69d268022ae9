#!/usr/bin/env python3
"""The command line of both programs: a start that fails says so in an
error line; the daemon creates its socket's missing directory; -t warns
about this host without touching it and counts what the file holds;
--help, --version, -h and -V; usage errors; influx-relayctl send's
report of what the relay accepted and rejected.
Run by hand: ./test_cli.py [NAME...]
"""

import json
import os
import socket
import stat
import subprocess
import tempfile
import threading
import time

import harness
from harness import (Relay, check, check_equal, relay_config,
                     settle_points, unique_db, wait_until)


def run(args, stdin=b"", timeout=30):
    """Run a program; (exit code, stdout, stderr) as text."""
    out = subprocess.run(args, input=stdin, capture_output=True,
                         timeout=timeout)
    return (out.returncode, out.stdout.decode("utf-8", "replace"),
            out.stderr.decode("utf-8", "replace"))


def check_config(relay):
    """influx-relayd -t on the relay's file: (exit code, stdout, stderr)."""
    return run([harness.relayd_path(), "-t", "-c", relay.config_path])


# ------------------------------------------------------------ start


def test_start_failure_is_an_error(influx):
    """A start that fails (the socket's directory cannot be made: its
    parent is missing) exits 1 at once with an error line that says the
    daemon could not start and why, while -t on the same file exits 0
    and warns about it."""
    relay = Relay(relay_config(influx, unique_db("fail"), listener={
        "path": "@DIR@/no/such/relay.sock"}))
    code, out, err = check_config(relay)
    check_equal(0, code, "-t exit code (%r %r)" % (out, err))
    check("warning: [listener:main] the daemon would not start: directory "
          "%s/no/such does not exist, nor does %s/no" % (relay.dir, relay.dir)
          in err, "-t warning: %r" % err)
    check("1 warning about this host" in out, "-t summary: %r" % out)
    started = time.monotonic()
    relay.start()
    code = relay.proc.wait(10)
    check_equal(1, code, "exit code of a start that fails")
    check(time.monotonic() - started < 5, "took %.1fs to fail"
          % (time.monotonic() - started))
    errors = [l for l in relay.log().splitlines() if " error: " in l or
              l.startswith("error: ")]
    want = ("influx-relayd could not start: %s/no/such/relay.sock: cannot "
            "create directory %s/no/such: No such file or directory"
            % (relay.dir, relay.dir))
    check(any(want in l for l in errors), "no error line %r in:\n%s"
          % (want, harness.tail(relay.log())))
    check("warn: " not in relay.log(), "a warning about the failure:\n"
          + harness.tail(relay.log()))
    relay.close()


def test_bad_file_at_start(influx):
    """A file with errors, without -t: each problem and the verdict as
    error lines (the journal keeps their level)."""
    relay = Relay(relay_config(influx, "x", target={"bogus": "1"}))
    with open(relay.config_path) as f:
        line = [l.split("=")[0].strip() for l in f].index("bogus") + 1
    relay.start()
    check_equal(1, relay.proc.wait(10), "exit code")
    lines = relay.log().splitlines()
    check(any(l.endswith("error: %s:%d: unknown key 'bogus' in "
                         "[target:local]" % (relay.config_path, line))
              for l in lines), "no error line for the key:\n%s"
          % harness.tail(relay.log()))
    check(any(l.endswith("error: influx-relayd could not start: 1 error in "
                         + relay.config_path) for l in lines),
          "no verdict:\n%s" % harness.tail(relay.log()))
    relay.close()


def test_creates_socket_directory(influx):
    """A missing socket directory whose parent exists is created, mode
    0755 whatever the umask (as systemd's RuntimeDirectory), for the
    listener and the control socket alike; the relay then works."""
    db = unique_db("mkdir")
    relay = Relay(relay_config(influx, db, listener={
        "path": "@DIR@/run/relay.sock"}, relayd={
            "control_socket": "@DIR@/ctl/control.sock"}))
    code, out, err = check_config(relay)
    check_equal((0, ""), (code, err), "-t on a creatable directory")
    check(not os.path.exists(os.path.join(relay.dir, "run")),
          "-t created the socket directory")
    old = os.umask(0o077)
    try:
        relay.start()
    finally:
        os.umask(old)
    try:
        relay.wait_ready()
        for d in ("run", "ctl"):
            mode = os.stat(os.path.join(relay.dir, d)).st_mode
            check_equal("0o755", oct(stat.S_IMODE(mode)), "mode of %s" % d)
        check("info: created directory %s/run" % relay.dir in relay.log(),
              "not logged:\n" + harness.tail(relay.log()))
        relay.send(["mk v=1i"])
        check_equal(1, len(settle_points(influx, db, 1)), "points")
    finally:
        code = relay.close()
    relay.check_clean_exit(code)


# ------------------------------------------------------------------ -t


def test_check_reports_host(influx):
    """-t warns (exit 0) about what would stop a start here: a file in
    the way of a socket, a control socket directory that cannot be
    made, a spool_dir under a file; it creates nothing; its summary
    counts listeners and targets in the singular and plural."""
    cfg = relay_config(influx, "x", relayd={
        "control_socket": "@DIR@/a/b/control.sock",
        "spool_dir": "@DIR@/file/spool"})
    cfg["listener:second"] = {"path": "@DIR@/file", "target": "local"}
    relay = Relay(cfg)
    with open(os.path.join(relay.dir, "file"), "w") as f:
        f.write("in the way")
    before = sorted(os.listdir(relay.dir))
    code, out, err = check_config(relay)
    check_equal(0, code, "-t exit code (%r)" % err)
    check_equal("%s: configuration OK (2 listeners, 1 target), 3 warnings "
                "about this host\n" % relay.config_path, out, "-t summary")
    warnings = err.splitlines()
    check_equal(3, len(warnings), "warnings: %r" % err)
    check(all(w.startswith(relay.config_path + ":") and ": warning: " in w
              for w in warnings), "warnings not FILE[:LINE]: %r" % warnings)
    check("[listener:second]" in warnings[0] and
          "is not a socket" in warnings[0], warnings[0])
    check("[relayd] control_socket" in warnings[1] and
          "%s/a/b does not exist" % relay.dir in warnings[1], warnings[1])
    check("[relayd] spool_dir" in warnings[2] and "memory only" in
          warnings[2], warnings[2])
    check_equal(before, sorted(os.listdir(relay.dir)), "files after -t")
    relay.close()


def test_check_plurals_and_file_errors(influx):
    """One listener and one target are singular; an empty file's errors
    name the file without a line 0."""
    relay = Relay(relay_config(influx, "x"))
    code, out, err = check_config(relay)
    check_equal((0, "%s: configuration OK (1 listener, 1 target)\n"
                 % relay.config_path, ""), (code, out, err), "-t")
    empty = os.path.join(relay.dir, "empty.ini")
    open(empty, "w").close()
    code, out, err = run([harness.relayd_path(), "-t", "-c", empty])
    check_equal((1, "", "%s: no [listener:NAME] section\n%s: no "
                 "[target:NAME] section\n" % (empty, empty)),
                (code, out, err), "-t on an empty file")
    relay.close()


# ------------------------------------------------------ conventions


def test_help_and_version(influx):
    """--help and -h print the usage to stdout and exit 0, --version and
    -V the version; a bad flag or a stray argument is a usage error on
    stderr, exit non-zero; for both programs."""
    relayd, ctl = harness.relayd_path(), harness.relayctl_path()
    for prog, words in ((relayd, "-c FILE"), (ctl, "send")):
        name = os.path.basename(prog)
        for flag in ("-h", "--help"):
            code, out, err = run([prog, flag])
            check_equal((0, ""), (code, err), "%s %s" % (name, flag))
            check(out.startswith("usage: %s" % name) and words in out,
                  "%s %s: %r" % (name, flag, out))
        for flag in ("-V", "--version"):
            code, out, err = run([prog, flag])
            check_equal((0, ""), (code, err), "%s %s" % (name, flag))
            check(out.startswith("%s " % name) and out.count("\n") == 1,
                  "%s %s: %r" % (name, flag, out))
        for bad in (["-x"], ["--bogus"]):
            code, out, err = run([prog] + bad)
            check(code != 0 and out == "" and "usage:" in err,
                  "%s %s: %r" % (name, bad, (code, out, err)))
    code, out, err = run([relayd, "stray"])
    check(code != 0 and "usage:" in err, "stray argument: %r" % err)
    code, out, err = run([ctl])
    check(code != 0 and out == "" and "usage:" in err, "no command: %r"
          % err)
    code, out, err = run([ctl, "send", "extra"])
    check(code != 0 and "usage:" in err, "send extra: %r" % err)
    code, out, err = run([ctl, "send", "--help"])
    check_equal(0, code, "send --help")
    check(out.startswith("usage: influx-relayctl"), "send --help: %r" % out)


# ------------------------------------------------------------- send


def relayctl_send(relay, data, *args, path=None):
    """influx-relayctl send of `data` (bytes) to the relay's listener."""
    return run([harness.relayctl_path(), "send", "-s",
                path or relay.socket_path] + list(args), stdin=data)


def test_send_reports_rejects(influx):
    """send exits 0 in silence when the relay accepted every line (they
    reach InfluxDB); a rejected line makes it exit 1 and say on stderr
    how many lines were accepted and rejected, with the first reasons
    and line numbers (the user's: its own directive is not counted);
    -v reports all the same, -j prints the relay's JSON summary."""
    db = unique_db("send")
    with Relay(relay_config(influx, db)) as relay:
        code, out, err = relayctl_send(relay, b"s v=1i\ns v=2i\n")
        check_equal((0, "", ""), (code, out, err), "all accepted")
        check_equal(2, len(settle_points(influx, db, 2)), "points")
        code, out, err = relayctl_send(relay, b"cpu,db=mydb value=\n")
        check_equal((1, ""), (code, out), "a rejected line (%r)" % err)
        check_equal("influx-relayctl: 1 line: 0 accepted, 1 rejected, 0 "
                    "skipped\n  line 1: missing field value: cpu,db=mydb "
                    "value=\n", err, "the report")
        check("rejected line (missing field value)" in relay.log(),
              "the daemon's log lost the reject")
        data = b"# a comment\ns v=3i\n" + b"bad\n" * 10 + b"s v=4i"
        code, out, err = relayctl_send(relay, data)
        check_equal(1, code, "exit code")
        check_equal(["influx-relayctl: 13 lines: 2 accepted, 10 rejected, "
                     "1 skipped", "  line 3: missing fields: bad",
                     "  line 4: missing fields: bad",
                     "  line 5: missing fields: bad", "  ... and 7 more"],
                    err.splitlines(), "the report of many rejects")
        code, out, err = relayctl_send(relay, b"s v=5i\n", "-v")
        check_equal((0, "", "influx-relayctl: 1 line: 1 accepted, 0 "
                     "rejected, 0 skipped\n"), (code, out, err), "-v")
        code, out, err = relayctl_send(relay, b"s v=6i\nx\n", "-j")
        check_equal((1, ""), (code, err), "-j")
        check_equal({"ok": False, "lines": 2, "accepted": 1, "skipped": 0,
                     "rejected": 1, "rejects": [
                         {"line": 2, "reason": "missing fields",
                          "text": "x"}]}, json.loads(out), "-j summary")
        check_equal(6, len(settle_points(influx, db, 6)), "points")


def test_summary_never_blocks(influx):
    """The summary is for clients that ask: one that asks and never
    reads, one that asks and is gone, one that does not ask (as the
    Python client) all leave the relay serving others; a client still
    connected at shutdown gets its summary after the drain; an idle
    timeout ends a slow send with the summary of what came, and send
    says the relay stopped reading."""
    db = unique_db("noblock")
    with Relay(relay_config(influx, db, listener={
            "idle_timeout": "700ms"})) as relay:
        quiet = []
        for ask in (True, True, False):
            s = relay.connect()
            s.sendall((b"#relay reply=summary\n" if ask else b"") +
                      b"q v=1i\n" * 1000)
            s.shutdown(socket.SHUT_WR)
            quiet.append(s)     # never read
        quiet.pop(1).close()    # gone before the answer
        code, out, err = relayctl_send(relay, b"q v=2i\n")
        check_equal((0, ""), (code, err), "a send beside them")
        check_equal(3001, len(settle_points(influx, db, 3001)), "points")
        # a slow sender cut by idle_timeout
        proc = subprocess.Popen([harness.relayctl_path(), "send", "-s",
                                 relay.socket_path], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        proc.stdin.write(b"q v=3i\n")
        proc.stdin.flush()
        time.sleep(1.5)
        try:
            proc.stdin.write(b"q v=4i\n" * 100000)
            proc.stdin.close()
        except BrokenPipeError:
            pass
        out, err = proc.communicate(timeout=10)
        check_equal(1, proc.returncode, "exit code after the idle cut")
        check("influx-relayctl: 1 line: 1 accepted, 0 rejected" in
              err.decode() and "the relay stopped reading" in err.decode(),
              "report: %r" % err)
        # connected at shutdown: the summary comes after the drain
        s = relay.connect()
        s.sendall(b"#relay reply=summary\nq v=5i\nhalf")
        time.sleep(0.2)
        relay.proc.send_signal(harness.signal.SIGTERM)
        answer = json.loads(s.makefile("rb").readline())
        s.close()
        # leave only once it exited: the with block would signal again
        check_equal(0, relay.proc.wait(15), "exit code after the drain")
        check_equal((1, 1, "incomplete line at shutdown"),
                    (answer["accepted"], answer["rejected"],
                     answer["rejects"][0]["reason"]), "summary at shutdown")
        for s in quiet:
            s.close()


def test_signals_while_exiting(influx):
    """SIGTERMs keep coming while the relay drains and tears down (an
    impatient supervisor): the second ends the drain, the rest find
    nothing to act on, and the relay exits 0.  Freed memory is poisoned,
    so a signal handled after the relay was freed crashes."""
    for _ in range(5):
        relay = Relay(relay_config(influx, unique_db("sigs")),
                      env=harness.POISON_FREED)
        with relay:
            relay.send(["m v=%di" % i for i in range(1000)])
            while relay.proc.poll() is None:
                try:
                    relay.proc.send_signal(harness.signal.SIGTERM)
                except ProcessLookupError:
                    break
                time.sleep(0.0005)
            check_equal(0, relay.proc.wait(15), "exit code")


def _answer_once(server, answer):
    """Plays a relay for one connection: reads to the sender's EOF, then
    writes `answer` and closes."""
    conn, _ = server.accept()
    with conn:
        while conn.recv(65536):
            pass
        conn.sendall(answer)


def test_send_needs_a_whole_summary(influx):
    """send exits 0 only on a summary with every count, adding up: an
    answer without them ({}, a partial one, counts that miss lines) is
    no proof the lines were taken, so it fails and says so."""
    good = (b'{"ok":true,"lines":2,"accepted":1,"skipped":1,'
            b'"rejected":0,"rejects":[]}\n')
    bad = [b'{}\n', b'{"ok":true}\n', b'[]\n', b'{"ok":true,"lines":2}\n',
           b'{"lines":2,"accepted":1,"skipped":0,"rejected":0}\n',
           b'{"lines":"2","accepted":2,"skipped":0,"rejected":0}\n',
           b'{"lines":-1,"accepted":-1,"skipped":0,"rejected":0}\n']
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "fake.sock")
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        server.listen(1)
        server.settimeout(20)
        with server:
            for answer in [good] + bad:
                t = threading.Thread(target=_answer_once,
                                     args=(server, answer))
                t.start()
                code, out, err = run([harness.relayctl_path(), "send",
                                      "-s", path], stdin=b"m v=1i\n")
                t.join(20)
                if answer is good:
                    check_equal((0, "", ""), (code, out, err),
                                "a whole summary")
                    continue
                check_equal((1, ""), (code, out), "answer %r" % answer)
                check("is not a summary" in err, "answer %r: %r"
                      % (answer, err))


def test_send_to_datagram_listener(influx):
    """A datagram listener cannot answer: send says so and fails."""
    cfg = relay_config(influx, "x")
    cfg["listener:dg"] = {"path": "@DIR@/dg.sock", "type": "datagram",
                          "target": "local"}
    with Relay(cfg) as relay:
        path = relay.sections["listener:dg"]["path"]
        wait_until(lambda: os.path.exists(path), 10, "the datagram socket")
        code, out, err = relayctl_send(relay, b"d v=1i\n", path=path)
    check_equal(1, code, "exit code")
    check("a datagram listener" in err, "message: %r" % err)


if __name__ == "__main__":
    harness.main([test_start_failure_is_an_error, test_bad_file_at_start,
                  test_creates_socket_directory, test_check_reports_host,
                  test_signals_while_exiting,
                  test_check_plurals_and_file_errors, test_help_and_version,
                  test_send_reports_rejects, test_summary_never_blocks,
                  test_send_needs_a_whole_summary,
                  test_send_to_datagram_listener])
