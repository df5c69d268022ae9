#!/usr/bin/env python3
"""The control socket and influx-relayctl (DESIGN section 6): ping, stats,
flush, create-database, drop-database, reload, errors, ordering.
Run by hand: ./test_control.py [NAME...]
"""

import json
import os
import pty
import re
import signal
import stat
import subprocess
import time

import harness
from harness import (Relay, check, check_equal, relay_config, unique_db,
                     wait_until)


def ctl(relay, *args):
    """Run influx-relayctl against the relay's control socket; returns
    (exit code, parsed JSON answer)."""
    out = subprocess.run([harness.relayctl_path(), "-s",
                          relay.sections["relayd"]["control_socket"]] +
                         list(args), capture_output=True, timeout=30)
    try:
        answer = json.loads(out.stdout)
    except ValueError:
        raise harness.TestFailure("relayctl %s: not one JSON line: %r %r"
                                  % (args, out.stdout, out.stderr))
    return out.returncode, answer


def log_words(relay):
    """{"listener NAME" or "target NAME": {key: value}} of the stats
    lines one SIGUSR1 logs, reasons (NAME[KEY]=N) included."""
    before = relay.log().count("stats: target ")
    relay.proc.send_signal(signal.SIGUSR1)
    wait_until(lambda: relay.log().count("stats: target ") > before, 10,
               "stats lines")
    out = {}
    for line in relay.log().splitlines():
        m = re.search(r"stats: ((?:listener|target) \S+): (.*)", line)
        if m:
            text = m.group(2).split(" last_error=", 1)[0]
            out[m.group(1)] = {k: int(v) if v.lstrip("-").isdigit() else v
                               for k, v in re.findall(
                                   r"(\w+(?:\[[^]]*\])?)=(\S+)", text)}
    return out


def control_config(influx, db, **target):
    """A relay config with a control socket in the relay's temp dir."""
    return relay_config(influx, db, target=target,
                        relayd={"control_socket": "@DIR@/control.sock"})


def test_ping_and_mode(influx):
    """ping answers with the version; the socket is mode 0600."""
    with Relay(control_config(influx, unique_db("ping"))) as relay:
        code, answer = ctl(relay, "ping")
        check_equal(0, code, "relayctl exit code")
        check_equal(True, answer.get("ok"), "ping answer %r" % answer)
        check("version" in answer, "ping answer without version")
        mode = os.stat(relay.sections["relayd"]["control_socket"]).st_mode
        check_equal("0o600", oct(stat.S_IMODE(mode)), "control socket mode")


def test_stats_count(influx):
    """stats reflects lines received, rejected by reason, and written."""
    db = unique_db("stats")
    with Relay(control_config(influx, db)) as relay:
        relay.send(["s v=1i", "s v=2i", "s v=3i", "broken", "s"])
        wait_until(lambda: ctl(relay, "stats")[1]["targets"][0]["written"]
                   == 3, 10, "3 points written")
        answer = ctl(relay, "stats")[1]
        relay_log = log_words(relay)
    lis, tgt = answer["listeners"][0], answer["targets"][0]
    check_equal("main", lis["name"], "listener name")
    check_equal(5, lis["lines"], "lines received")
    check_equal(3, lis["accepted"], "lines accepted")
    check_equal(2, lis["rejected"], "lines rejected")
    check_equal(2, sum(lis["rejected_by_reason"].values()),
                "sum of reject reasons")
    check_equal(3, tgt["accepted"], "target points accepted")
    check_equal(0, tgt["buffered_points"], "points still buffered")
    check(tgt["last_success"] > 0, "last_success not set")
    # a new database: 404, CREATE DATABASE (200), the write again (204)
    check(tgt["http_404"] >= 1 and tgt["http_204"] >= 1, "%r" % tgt)
    check_equal(tgt["databases_created"], tgt["http_200"], "CREATE answers")
    by_status = [v for k, v in tgt.items()
                 if re.match(r"http_(\d+|other|errors)$", k)]
    check_equal(tgt["requests"], sum(by_status),
                "requests = answers by status + no answer")
    check_same_names(relay_log, lis, tgt)
    check_readme_lists(answer, lis, tgt)
    # the answer is dated: now, the start and the uptime
    check(abs(answer["time"] - time.time()) < 5, "time %r" % answer["time"])
    check_equal(answer["time"] - answer["started"], answer["uptime"],
                "uptime")
    time_companions(answer)
    check_equal(rfc3339(tgt["last_success"]), tgt["last_success_rfc3339"],
                "last_success_rfc3339")


def check_readme_lists(answer, *objects):
    """The README, the user's reference, names every key of the stats
    answer as `key`: the answer's own, its objects' and their queues'."""
    readme = open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                               "..", "..", "README.md")).read()
    keys = {k for k in answer if k not in ("listeners", "targets")}
    for js in objects:
        keys.update(js)
        for q in js.get("queue_list", []):
            keys.update(q)
    check_equal([], sorted(k for k in keys if "`%s`" % k not in readme),
                "stats keys the README does not list")


# What the JSON of an object has besides the fields of its stats table.
JSON_ONLY = {"name", "queue_list"}


def rfc3339(t):
    """Unix seconds as the relay writes them in RFC 3339; None for 0."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)) if t else None


def time_companions(js):
    """The JSON-only NAME_rfc3339 members of an object, each checked
    against its unix-seconds NAME: the same time, or null for never."""
    out = set()
    for k in (k for k in js if k.endswith("_rfc3339")):
        base = k[:-len("_rfc3339")]
        check(isinstance(js.get(base), int), "%s without its %s" % (k, base))
        check_equal(rfc3339(js[base]), js[k], "%s for %s=%r"
                    % (k, base, js[base]))
        out.add(k)
    return out


def counter_keys(js):
    """The keys of an object's table fields that are numbers or flags
    (the log's and the points' NAME=VALUE), maps and strings left out."""
    extra = JSON_ONLY | time_companions(js)
    return {k for k, v in js.items()
            if k not in extra and not isinstance(v, (dict, str))}


def check_same_names(logged, lis, tgt):
    """The SIGUSR1 log lines name the same fields as the JSON (one stats
    table renders both): the log lines' keys, up to the free-text
    last_error, are the JSON keys but maps, shown as NAME[KEY]=N, and
    the RFC 3339 forms of times the JSON adds."""
    for what, js in (("listener main", lis), ("target local", tgt)):
        words = logged[what]
        keys = counter_keys(js)
        check_equal(sorted(keys), sorted(k for k in words if "[" not in k),
                    "log keys of %s vs JSON" % what)
        for m in (k for k, v in js.items() if isinstance(v, dict)):
            for key, n in js[m].items():
                check_equal(n, words.get("%s[%s]" % (m, key)),
                            "%s[%s] in the log of %s" % (m, key, what))


def test_flush_delivers_now(influx):
    """flush sends what waits for flush_interval and answers once the
    queue is empty."""
    db = unique_db("flush")
    with Relay(control_config(influx, db, flush_interval="1h")) as relay:
        relay.send(["f v=%di" % i for i in range(10)])
        wait_until(lambda: ctl(relay, "stats")[1]["targets"][0]
                   ["buffered_points"] == 10, 10, "10 points buffered")
        check_equal([], influx.all_points(db) if db in influx.databases()
                    else [], "points before flush")
        queues = ctl(relay, "stats")[1]["targets"][0]["queue_list"]
        check_equal([(db, "", 10, 0)],
                    [(q["database"], q["retention_policy"],
                      q["queued_points"], q["in_flight_points"])
                     for q in queues], "per-queue stats before flush")
        code, answer = ctl(relay, "flush")
        check_equal((0, True), (code, answer.get("ok")), "flush answer")
        check_equal(10, len(influx.all_points(db)), "points after flush")


def test_flush_answers_when_target_fails(influx):
    """flush does not hang on a dead server: it answers once the queue is
    backing off, with the points it still holds."""
    cfg = relay_config(None, unique_db("dead"), target={
        "flush_interval": "1h", "retry_initial": "10s", "retry_max": "10s"},
        relayd={"control_socket": "@DIR@/control.sock",
                "shutdown_timeout": "100ms"})
    with Relay(cfg) as relay:
        relay.send(["d v=1i"])
        wait_until(lambda: ctl(relay, "stats")[1]["targets"][0]
                   ["buffered_points"] == 1, 10, "1 point buffered")
        code, answer = ctl(relay, "flush")
    check_equal(1, answer.get("buffered_points"), "points held after flush")


def test_create_and_drop_database(influx):
    """create-database / drop-database TARGET DB reach InfluxDB."""
    db = unique_db("admin") + ' "odd" name'
    with Relay(control_config(influx, unique_db("x"))) as relay:
        code, answer = ctl(relay, "create-database", "local", db)
        check_equal((0, True), (code, answer.get("ok")),
                    "create-database answer %r" % answer)
        check(db in influx.databases(), "database not created")
        code, answer = ctl(relay, "drop-database", "local", db)
        check_equal((0, True), (code, answer.get("ok")), "drop answer")
        check(db not in influx.databases(), "database not dropped")
        code, answer = ctl(relay, "create-database", "nope", "x")
        check_equal((1, False), (code, answer.get("ok")),
                    "unknown target answer %r" % answer)


def test_errors_and_pipelining(influx):
    """Unknown commands answer errors, reload answers ok, or an error
    naming FILE:LINE for a broken file; several commands in one write are
    answered in order, one line each."""
    with Relay(control_config(influx, unique_db("err"))) as relay:
        code, answer = ctl(relay, "frobnicate")
        check_equal((1, False), (code, answer.get("ok")), "unknown command")
        code, answer = ctl(relay, "reload")
        check_equal((0, True), (code, answer.get("ok")), "reload answer")
        with open(relay.config_path, "a") as f:
            f.write("bogus_key = 1\n")
        code, answer = ctl(relay, "reload")
        check_equal((1, False), (code, answer.get("ok")),
                    "reload of a broken file")
        check("%s:" % relay.config_path in answer.get("error", ""),
              "reload error without FILE:LINE: %r" % answer)
        s = harness.socket.socket(harness.socket.AF_UNIX)
        s.settimeout(10)
        s.connect(relay.sections["relayd"]["control_socket"])
        s.sendall(b"ping\nstats\nbogus\nping\n")
        data = b""
        while data.count(b"\n") < 4:
            chunk = s.recv(65536)
            check(chunk, "control socket closed early: %r" % data)
            data += chunk
        s.close()
        answers = [json.loads(l) for l in data.splitlines()]
        check_equal([True, True, False, True],
                    [a["ok"] for a in answers], "pipelined answers")
        check("listeners" in answers[1], "second answer is not stats")


def control_socket(relay):
    """A connected, blocking socket on the relay's control socket."""
    s = harness.socket.socket(harness.socket.AF_UNIX)
    s.settimeout(10)
    s.connect(relay.sections["relayd"]["control_socket"])
    return s


def read_lines(s, n):
    """n answer lines from s (fewer if the relay closes it first)."""
    data = b""
    while data.count(b"\n") < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return [json.loads(l) for l in data.splitlines()]


def rss_kib(pid):
    """Resident set size of a process, KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise harness.TestFailure("no VmRSS for %d" % pid)


def test_nul_and_long_lines(influx):
    """A NUL in a command is refused (it once cut the database name); a
    command line over 1,024 bytes gets an error answer, then the
    connection closes."""
    db = unique_db("nul")
    with Relay(control_config(influx, unique_db("x"))) as relay:
        s = control_socket(relay)
        s.sendall(b"create-database local " + db.encode() + b"\0after\n"
                  b"ping\n")
        answers = read_lines(s, 2)
        check_equal([False, True], [a["ok"] for a in answers],
                    "answers to a NUL command and a ping: %r" % answers)
        check("NUL" in answers[0]["error"], "error: %r" % answers[0])
        check(db not in influx.databases(), "database created from a "
              "command cut at its NUL")
        s.close()
        for line in (b"x" * 1500, b"ping " + b"y" * 1100 + b"\n"):
            s = control_socket(relay)
            s.sendall(line)
            answers = read_lines(s, 2)
            check_equal([False], [a["ok"] for a in answers],
                        "answers to a %d-byte line" % len(line))
            check("too long" in answers[0]["error"], "%r" % answers)
            check_equal(b"", s.recv(10), "connection left open")
            s.close()
        check_equal(0, ctl(relay, "ping")[0], "ping after long lines")


def test_clients_and_unread_answers_bounded(influx):
    """Many control clients pipelining stats without reading the answers:
    the clients beyond 64 are refused with an answer, the unread answers
    stay bounded in memory, and once they go the socket serves again."""
    with Relay(control_config(influx, unique_db("many"))) as relay:
        before = rss_kib(relay.proc.pid)
        socks, refused = [], 0
        for _ in range(120):
            s = control_socket(relay)
            s.setblocking(False)
            try:
                s.send(b"stats\n" * 1000)
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                pass        # full, or a refused client already closed
            socks.append(s)
        last, still = 0, 0
        for _ in range(100):       # until the relay stops growing
            harness.time.sleep(0.2)
            now = rss_kib(relay.proc.pid)
            still = still + 1 if now == last else 0
            last = now
            if still >= 5:
                break
        grown = rss_kib(relay.proc.pid) - before
        for s in socks:
            s.setblocking(True)
            s.settimeout(1)
            try:
                first = s.recv(200)
            except OSError:
                first = b""
            if first.startswith(b'{"ok":false,"error":"too many'):
                refused += 1
            s.close()
        check(grown < 40 * 1024, "RSS grew by %d KiB" % grown)
        check_equal(120 - 64, refused, "clients refused")
        wait_until(lambda: ctl(relay, "ping")[0] == 0, 10,
                   "ping after the clients left")


def test_stats_always_json(influx):
    """stats is valid JSON whatever the bytes: a server error body with
    invalid UTF-8, control bytes and a multi-byte character cut by
    last_error's size, a database name with invalid UTF-8; last_error
    carries its time; influx-relayctl reads an answer of any size (1,200
    queues) and says so in its exit code."""
    body = b"\xff\x1b[2J bad " + "\u00e9".encode() * 200
    with harness.AnswerServer(500, body) as server:
        cfg = relay_config(None, "d", target={
            "url": server.url, "max_queues": "2000",
            "retry_initial": "10s", "retry_max": "10s"},
            listener={"database_tag": "db"},
            relayd={"control_socket": "@DIR@/control.sock",
                    "shutdown_timeout": "100ms"})
        with Relay(cfg) as relay:
            s = relay.connect()
            s.sendall(b"m,db=bad\xff\xc3 v=1i\n" + b"".join(
                b"m,db=queue_number_%04d v=1i\n" % i for i in range(1200)))
            s.close()
            wait_until(lambda: ctl(relay, "stats")[1]["targets"][0]
                       ["last_error"] != "", 10, "the server's error")
            started = harness.time.time()
            wait_until(lambda: len(ctl(relay, "stats")[1]["targets"][0]
                                   ["queue_list"]) == 1201, 10,
                       "1,201 queues")
            out = subprocess.run([harness.relayctl_path(), "-s",
                                  relay.sections["relayd"]
                                  ["control_socket"], "stats"],
                                 capture_output=True, timeout=30)
    check_equal(0, out.returncode, "relayctl stats exit code")
    check(len(out.stdout) > 65536, "answer of %d bytes" % len(out.stdout))
    answer = json.loads(out.stdout)     # strict: UTF-8 and JSON
    tgt = answer["targets"][0]
    check(tgt["last_error"].startswith("HTTP 500 \ufffd\u001b[2J bad \u00e9"),
          "last_error %r" % tgt["last_error"])
    check(tgt["last_error"].endswith("\u00e9"), "last_error cut: %r"
          % tgt["last_error"][-10:])
    check(abs(tgt["last_error_time"] - started) < 60,
          "last_error_time %r" % tgt.get("last_error_time"))
    names = [q["database"] for q in tgt["queue_list"]]
    check("bad\ufffd\ufffd" in names or "bad" not in " ".join(names),
          "database with invalid UTF-8: %r" % names[:3])


def test_relayctl_incomplete_answer(influx):
    """influx-relayctl fails (exit 1) when the answer is cut short."""
    path = harness.tempfile.mkdtemp(prefix="relayctl-") + "/c.sock"
    srv = harness.socket.socket(harness.socket.AF_UNIX)
    srv.bind(path)
    srv.listen(1)

    def serve():
        conn = srv.accept()[0]
        conn.recv(100)
        conn.sendall(b'{"ok":true,"version":"x", "targets":[' + b"1," *
                     50000)
        conn.close()
    t = harness.threading.Thread(target=serve)
    t.start()
    out = subprocess.run([harness.relayctl_path(), "-s", path, "stats"],
                         capture_output=True, timeout=30)
    t.join()
    srv.close()
    check_equal(1, out.returncode, "exit code for a cut answer (%r)"
                % out.stderr)


def test_internal_database(influx):
    """internal_database: every stats_interval the counters are written
    as points of measurement influx_relayd, one per listener and target,
    with a field for every field of the stats answer but last_error."""
    db = unique_db("data")
    selfdb = unique_db("self")
    cfg = relay_config(influx, db, relayd={"internal_database": selfdb,
                                           "stats_interval": "300ms",
                                           "control_socket":
                                           "@DIR@/control.sock"})
    with Relay(cfg) as relay:
        relay.send(["d v=%di" % i for i in range(7)] + ["bad"])

        def latest():
            try:
                res = influx.query('SELECT last(accepted), last(rejected) '
                                   'FROM influx_relayd WHERE '
                                   'listener = \'main\'', db=selfdb)
            except harness.InfluxError:
                return None
            series = res["results"][0].get("series")
            return series and series[0]["values"][0][1:] == [7, 1]
        wait_until(latest, 15, "self-metrics with 7 accepted, 1 rejected")
        res = influx.query('SELECT last(written) FROM influx_relayd '
                           'WHERE target = \'local\'', db=selfdb)
        check("series" in res["results"][0], "no target self-metrics")
        answer = ctl(relay, "stats")[1]
    want = {}
    for js in answer["listeners"] + answer["targets"]:
        keys = counter_keys(js)
        for k, v in js.items():
            if isinstance(v, dict):
                want.update(("%s[%s]" % (k, e), "integer") for e in v)
            elif k in keys:
                want[k] = "boolean" if isinstance(v, bool) else "integer"
    check("rejected_by_reason[missing fields]" in want, "%r" % want)
    check_equal(want, influx.field_types(selfdb, "influx_relayd"),
                "fields of the self-metrics")


def run_tty(args, timeout=30):
    """Run a program with its stdout on a terminal (a pty); returns (exit
    code, stdout with CRLF as LF, stderr)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=slave,
                            stderr=subprocess.PIPE)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:         # EIO: the program closed its terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    code = proc.wait(timeout)
    err = proc.stderr.read()
    proc.stderr.close()
    return (code, out.decode("utf-8", "replace").replace("\r\n", "\n"),
            err.decode("utf-8", "replace"))


def test_stats_report_on_terminal(influx):
    """On a terminal, stats is a report for people: per listener and
    target the counts, rates from two answers a second apart (lines a
    sender writes meanwhile show), rejects by reason, the last error
    with its time and whether it cleared (a new database's 404 did);
    -j, or a stdout that is not a terminal, keeps the JSON for scripts;
    -i 0 gives averages since the start."""
    db = unique_db("report")
    with Relay(control_config(influx, db)) as relay:
        sock = relay.sections["relayd"]["control_socket"]
        relay.send(["r v=1i", "r v=2i", "r v=3i", "broken"])
        wait_until(lambda: ctl(relay, "stats")[1]["targets"][0]["written"]
                   == 3, 10, "3 points written")
        stop = []

        def trickle():
            with relay.connect() as s:
                while not stop:
                    s.sendall(b"t v=1i\n")
                    time.sleep(0.01)
        sender = harness.threading.Thread(target=trickle)
        sender.start()
        try:
            time.sleep(0.3)
            code, out, err = run_tty([harness.relayctl_path(), "-s", sock,
                                      "stats"])
        finally:
            stop.append(True)
            sender.join()
        check_equal((0, ""), (code, err), "relayctl stats on a terminal")
        check(out.startswith("influx-relayd %s, up " % ctl(relay, "ping")
                             [1]["version"]) and
              "rates over the last 1.0 s" in out.splitlines()[0],
              "header: %r" % out[:200])
        check("listener main: 1 client connected" in out, out)
        m = re.search(r"lines +(\d+) \(([\d.]+)/s\): (\d+) accepted", out)
        check(m and 10 < float(m.group(2)) < 1000,
              "a rate of lines from the trickle: %r" % out)
        check("\n  rejected     missing fields 1\n" in out,
              "rejects by reason: %r" % out)
        check("target local: ok" in out, out)
        check(re.search(r"\n  last error   \d{4}-\d\d-\d\dT[\d:]+Z "
                        r"\(\d+s ago, cleared \d+s ago\): HTTP 404 "
                        r".*database not found", out),
              "the 404 of the new database, cleared: %r" % out)
        check(re.search(r"\n  queues       %s: \d+ points" % db, out),
              "the queue: %r" % out)
        for args in (["stats", "-j"], ["-j", "stats"]):
            code, out, err = run_tty([harness.relayctl_path(), "-s", sock]
                                     + args)
            check_equal(True, json.loads(out)["ok"], "%s on a terminal"
                        % args)
        code, answer = ctl(relay, "stats")     # a pipe: JSON
        check_equal((0, True), (code, answer["ok"]), "stats in a pipe")
        code, out, err = run_tty([harness.relayctl_path(), "-s", sock, "-i",
                                  "0", "stats"])
        check("rates are averages since the start" in out, out[:300])


def test_last_error_clears(influx):
    """last_error keeps its text and time once delivery succeeds again,
    and last_error_cleared says when it did: 0 (null in RFC 3339)
    while the target still fails."""
    db = unique_db("clears")
    with Relay(control_config(influx, db, create_database="false",
                              retry_initial="100ms",
                              retry_max="300ms")) as relay:
        relay.send(["c v=1i"])
        tgt = wait_until(lambda: (lambda t: t["last_error_time"] and t)(
            ctl(relay, "stats")[1]["targets"][0]), 10, "the 404")
        check_equal((0, None), (tgt["last_error_cleared"],
                                tgt["last_error_cleared_rfc3339"]),
                    "cleared while failing")
        check("database not found" in tgt["last_error"], tgt["last_error"])
        influx.create_database(db)
        tgt = wait_until(lambda: (lambda t: t["written"] == 1 and t)(
            ctl(relay, "stats")[1]["targets"][0]), 10, "the point written")
    check(tgt["last_error_cleared"] >= tgt["last_error_time"] > 0,
          "cleared %r, error %r" % (tgt["last_error_cleared"],
                                    tgt["last_error_time"]))
    check_equal(rfc3339(tgt["last_error_cleared"]),
                tgt["last_error_cleared_rfc3339"], "its RFC 3339 form")
    check("database not found" in tgt["last_error"], "text kept: %r"
          % tgt["last_error"])


if __name__ == "__main__":
    harness.main([test_ping_and_mode, test_stats_count,
                  test_flush_delivers_now, test_flush_answers_when_target_fails,
                  test_create_and_drop_database, test_errors_and_pipelining,
                  test_nul_and_long_lines,
                  test_clients_and_unread_answers_bounded,
                  test_stats_always_json, test_relayctl_incomplete_answer,
                  test_internal_database, test_stats_report_on_terminal,
                  test_last_error_clears])
