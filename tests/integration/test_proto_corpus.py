#!/usr/bin/env python3
"""Differential test of line-protocol validation against a real influxd.

Every case of proto_corpus.txt is written twice: directly to influxd (one
line per request) and through the relay (one connection per case).  Then:

- the relay rejected exactly the cases influxd answered with an error,
  and skipped exactly the blank lines and comments (per case, from the
  listener counters the relay logs on SIGUSR1);
- both databases hold the same points: measurement, tags, typed fields,
  and time for cases that carry one (untimed points get the server's or
  the relay's receipt time, so their time is not compared);
- influxd never had to refuse a batch the relay sent.

Cases that would give one field two types in one database are moved to a
fresh pair of databases ("slots"), each fed by its own relay listener,
since a type conflict depends on what a database already holds, not on
the line.  See proto_corpus.txt for the corpus format.
"""

import codecs
import os
import re
import signal
import socket
import time

import harness
from harness import Relay, check, relay_config, unique_db

CORPUS = os.path.join(harness.HERE, "proto_corpus.txt")


class Case:
    """One corpus entry: the bytes of a line (without newline) and flags."""

    def __init__(self, lineno, payload, flags):
        self.lineno = lineno
        self.payload = payload
        self.flags = flags
        self.verdict = None     # influxd: "ok", "skip" or "reject"
        self.answer = ""        # influxd's error text
        self.slot = None        # index of the database pair
        self.relay = None       # relay: "ok", "skip" or "reject"

    @property
    def deviation(self):
        """influxd takes the line but the relay must refuse it (DESIGN)."""
        return "relay-rejects" in self.flags

    def for_relay(self):
        """Bytes the relay gets: the line with LF, or CRLF if flagged."""
        return self.payload + (b"\r\n" if "crlf" in self.flags else b"\n")

    def __repr__(self):
        return "corpus line %d %r" % (self.lineno, self.payload[:120])


def load_corpus(path=CORPUS):
    """Cases from the corpus file ('#!' comments, '@flags<TAB>' lines)."""
    cases = []
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f.read().split(b"\n"), 1):
            if raw.startswith(b"#!") or lineno == 1 and not raw:
                continue
            flags = set()
            if raw.startswith(b"@"):
                head, _, raw = raw.partition(b"\t")
                flags = set(head[1:].decode().split(","))
            if "esc" in flags:
                raw = codecs.escape_decode(raw)[0]
            cases.append(Case(lineno, raw, flags))
    while cases and not cases[-1].payload and not cases[-1].flags:
        cases.pop()             # the file's final newline
    return cases


def is_skip(payload):
    """Blank or comment, as InfluxDB's ParsePoints decides."""
    body = payload.lstrip(b" \t\x00")
    return not body or body.startswith(b"#")


# ------------------------------------------------------------ influxd side


class Slots:
    """Pairs of databases (direct, relayed); a new pair when a case
    conflicts with the types already in one, or influxd broke one."""

    def __init__(self, influx):
        self.influx = influx
        self.base = unique_db("corpus")
        self.count = 0
        self.retired = set()
        self.fresh = {}         # slot -> no case written yet
        self.deviations = self.base + "_dev"
        influx.create_database(self.deviations)

    def direct(self, slot):
        return "%s_a%d" % (self.base, slot)

    def relayed(self, slot):
        return "%s_b%d" % (self.base, slot)

    def new(self):
        slot = self.count
        self.count += 1
        self.influx.create_database(self.direct(slot))
        self.influx.create_database(self.relayed(slot))
        self.fresh[slot] = True
        return slot

    def usable(self):
        """Slots a case may go to, oldest first."""
        return [s for s in range(self.count) if s not in self.retired]


def write_direct(influx, slots, case):
    """Write one case to influxd, choosing its slot; set its verdict."""
    if case.deviation:
        status, text = influx.write(slots.deviations, case.payload + b"\n",
                                    check=False)
        case.slot = None
        return classify(case, status, text)
    for slot in slots.usable() + [None]:
        if slot is None:
            slot = slots.new()
        status, text = influx.write(slots.direct(slot),
                                    case.payload + b"\n", check=False)
        if "field type conflict" in text and not slots.fresh[slot]:
            continue            # conflicts with an earlier case: move on
        case.slot = slot
        slots.fresh[slot] = False
        if status >= 500:
            slots.retired.add(slot)     # influxd may have half-written it
        return classify(case, status, text)


def classify(case, status, text):
    case.answer = text.strip()
    if status == 204:
        case.verdict = "skip" if is_skip(case.payload) else "ok"
    else:
        case.verdict = "reject"


# -------------------------------------------------------------- relay side


class StatsReader:
    """Listener counters from the stats the relay logs on SIGUSR1.  Each
    dump ends with the target's line, so a dump is complete once that
    line is read (the relay runs with stats_interval = 0)."""

    LISTENER = re.compile(r"stats: listener (\S+): .* accepted=(\d+) "
                          r".*\brejected=(\d+)")
    TARGET = "stats: target "

    def __init__(self, relay):
        self.relay = relay
        self.offset = 0
        self.sent = 0
        self.dumps = 0
        self.counters = {}

    def refresh(self, listener, timeout=10):
        """(accepted, rejected) of a listener, from a dump asked for now."""
        self.relay.proc.send_signal(signal.SIGUSR1)
        self.sent += 1
        deadline = time.monotonic() + timeout
        while self.dumps < self.sent:
            if time.monotonic() > deadline:
                raise harness.TestFailure("no stats after SIGUSR1")
            if not self._read_new():
                time.sleep(0.001)
        return self.counters[listener]

    def _read_new(self):
        with open(self.relay.log_path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        for line in data[:end].decode("utf-8", "replace").split("\n"):
            m = self.LISTENER.search(line)
            if m:
                self.counters[m.group(1)] = (int(m.group(2)),
                                             int(m.group(3)))
            elif self.TARGET in line:
                self.dumps += 1
        return end > 0


def send_and_wait(path, data):
    """Send one case on its own connection and wait until the relay has
    read it all and closed the connection, so cases stay in order."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(path)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        while s.recv(4096):
            pass


def relay_sections(influx, slots):
    """One listener per slot (plus one for the deviations)."""
    cfg = relay_config(influx, slots.relayed(0),
                       relayd={"stats_interval": "0"})
    del cfg["listener:main"]
    for slot in range(slots.count):
        cfg["listener:s%d" % slot] = {
            "path": "@DIR@/s%d.sock" % slot, "target": "local",
            "database": slots.relayed(slot)}
    cfg["listener:dev"] = {"path": "@DIR@/dev.sock", "target": "local",
                           "database": slots.deviations + "_relay"}
    return cfg


def send_through_relay(relay, cases):
    """Send every case and record what the relay made of it."""
    stats = StatsReader(relay)
    last = {}
    for case in cases:
        name = "dev" if case.slot is None else "s%d" % case.slot
        path = os.path.join(relay.dir, name + ".sock")
        before = last.get(name) or stats.refresh(name)
        send_and_wait(path, case.for_relay())
        after = last[name] = stats.refresh(name)
        if after[0] > before[0]:
            case.relay = "ok"
        elif after[1] > before[1]:
            case.relay = "reject"
        else:
            case.relay = "skip"


# -------------------------------------------------------------- comparing


def stored_points(influx, db, window):
    """Every point of db as a hashable key; times inside `window` (receipt
    times) are replaced by None."""
    types = {}
    res = influx.query("SHOW FIELD KEYS", db=db)["results"][0]
    for series in res.get("series", []):
        for key, kind in series["values"]:
            types.setdefault(series["name"], {})[key] = kind
    res = influx.query("SELECT * FROM /.*/ GROUP BY *", db=db)["results"][0]
    out = []
    for series in res.get("series", []):
        name = series["name"]
        tags = frozenset((k, v) for k, v in series.get("tags", {}).items()
                         if v)
        cols = series["columns"]
        for row in series["values"]:
            t = row[0]
            if window[0] <= t <= window[1]:
                t = None
            fields = frozenset(
                (c, harness._typed(v, types.get(name, {}).get(c)),
                 type(harness._typed(v, types.get(name, {}).get(c)))
                 .__name__)
                for c, v in zip(cols[1:], row[1:]) if v is not None)
            out.append((name, tags, fields, t))
    return sorted(out, key=repr)


def diff_points(want, got):
    """Readable multiset difference of two point lists, or ''."""
    rest = list(got)
    missing = []
    for p in want:
        if p in rest:
            rest.remove(p)
        else:
            missing.append(p)
    if not missing and not rest:
        return ""
    rows = ["  only in influxd (direct): %r" % (p,) for p in missing[:8]]
    rows += ["  only via the relay:       %r" % (p,) for p in rest[:8]]
    return "%d missing, %d unexpected\n%s" % (len(missing), len(rest),
                                              "\n".join(rows))


def test_corpus(influx):
    """Relay verdicts and stored points match influxd on every case."""
    cases = load_corpus()
    check(len(cases) >= 200, "corpus too small: %d cases" % len(cases))
    slots = Slots(influx)
    slots.new()
    t0 = time.time_ns()
    for case in cases:
        write_direct(influx, slots, case)
    with Relay(relay_sections(influx, slots)) as relay:
        send_through_relay(relay, cases)
        t1 = time.time_ns()
        wrong = ["%r: influxd %s (%s), relay %s"
                 % (c, c.verdict, c.answer[:100], c.relay)
                 for c in cases
                 if c.relay != ("reject" if c.deviation else c.verdict)]
        check(not wrong, "%d of %d cases judged differently:\n  %s"
              % (len(wrong), len(cases), "\n  ".join(wrong[:25])))
        for slot in range(slots.count):
            want = stored_points(influx, slots.direct(slot), (t0, t1))
            deadline = time.monotonic() + 15
            while True:
                got = stored_points(influx, slots.relayed(slot), (t0, t1))
                if len(got) >= len(want) or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            problem = diff_points(want, got)
            check(not problem, "slot %d: stored points differ: %s"
                  % (slot, problem))
    log = relay.log()
    check("HTTP 400" not in log and "HTTP 500" not in log,
          "influxd refused a batch from the relay:\n%s"
          % harness.tail(log, 20))


def send_in_pieces(path, data, sizes):
    """Send data on one connection in pieces of the given sizes (cycled),
    so lines straddle the relay's read buffers."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(path)
        i = 0
        while data:
            n = sizes[i % len(sizes)]
            s.sendall(data[:n])
            data = data[n:]
            i += 1
        s.shutdown(socket.SHUT_WR)
        while s.recv(4096):
            pass


def test_stream_framing(influx):
    """Newlines inside strings or after a backslash do not end a line, in
    a stream cut into pieces; a line longer than max_line with an open
    quote is refused and the stream resumes at the next bare newline.
    Unlike InfluxDB, a record that spans lines but does not parse as a
    whole (here a comment that opens a quote) does not swallow the lines
    after it: only its first line is dropped."""
    db = unique_db("framing")
    influx.create_database(db)
    t = 1700000000 * 10**9
    data = (b'm s="a\nb" %d\n' % (t + 1) +
            b'm,t=a\\\nb v=1 %d\r\n' % (t + 2) +
            b'm s="x\\"\ny",n=1i %d\n' % (t + 3) +
            b'o s="' + b"x" * 70000 + b'\n' +
            b'q v=1i %d\n' % (t + 4) +
            b'  # a comment x="with\nno end\n' +
            b'q v=2i %d' % (t + 5))
    want = [harness.point("m", {}, {"s": "a\nb"}, t + 1),
            harness.point("m", {"t": "a\\\nb"}, {"v": 1.0}, t + 2),
            harness.point("m", {}, {"s": 'x"\ny', "n": 1}, t + 3),
            harness.point("q", {}, {"v": 1}, t + 4),
            harness.point("q", {}, {"v": 2}, t + 5)]
    with Relay(relay_config(influx, db)) as relay:
        send_in_pieces(relay.socket_path, data, [3, 1000, 7, 65536])
        got = harness.settle_points(influx, db, len(want))
        log = relay.log()
    harness.assert_same_points(want, got, "points framed from a stream")
    check("rejected line (line too long)" in log,
          "the over-long line was not reported")


def test_garbage_does_not_swallow(influx):
    """A bad line that ends in a backslash or leaves a quote open does not
    take the valid lines after it: once the record it starts cannot parse
    as a whole, only its first line is dropped.  A record that could still
    complete (an open quote) holds the lines after it until a quote,
    max_line bytes or EOF settles it.  (A record that parses as a whole is
    a multi-line string, as InfluxDB reads it.)"""
    db = unique_db("swallow")
    influx.create_database(db)
    t = 1700000000 * 10**9
    bad = [b'x a=1 junk junk', b'garbage \\', b'\x00\xff bad',
           b'm s="a" junk', b'm,t=a v="x\\"']
    data = b"".join(b + b"\nok v=%di %d\n" % (i, t + i)
                    for i, b in enumerate(bad))
    want = [harness.point("ok", {}, {"v": i}, t + i)
            for i in range(len(bad))]
    with Relay(relay_config(influx, db)) as relay:
        s = relay.connect()
        s.sendall(data)
        # the last bad line's quote is still open: its record may yet
        # complete, so the line after it waits for more input or EOF
        got = harness.settle_points(influx, db, len(want) - 1)
        harness.assert_same_points(want[:-1], got, "valid lines after bad "
                                   "ones (connection still open)")
        s.close()
        got = harness.settle_points(influx, db, len(want))
        harness.assert_same_points(want, got, "valid lines after EOF")


def test_corpus_one_stream(influx):
    """The corpus sent as one stream on one connection into a fresh
    database stores exactly the points the same lines store when written
    to influxd one request per line, in the same order: conflicting types
    never share a batch and a refused batch costs only its bad points.
    Left out of both: lines the relay refuses on purpose, lines influxd
    answers with a 500 (it may half-write them), and lines that do not
    end their own record (an open quote or a final backslash takes the
    next lines into it in a stream, as in InfluxDB's framing)."""
    direct, relayed = unique_db("stream_a"), unique_db("stream_b")
    influx.create_database(direct)
    influx.create_database(relayed)
    cases = [c for c in load_corpus()
             if not c.deviation and ends_own_record(c.payload)]
    t0 = time.time_ns()
    sent = []
    for case in cases:
        status, _ = influx.write(direct, case.payload + b"\n", check=False)
        if status < 500:
            sent.append(case)
    with Relay(relay_config(influx, relayed)) as relay:
        relay.send(b"".join(c.for_relay() for c in sent))
        harness.wait_until(lambda: relay_settled(relay), 15,
                           "every point written or dropped")
        t1 = time.time_ns()
        st = harness.relay_stats(relay)
    want = stored_points(influx, direct, (t0, t1))
    got = stored_points(influx, relayed, (t0, t1))
    problem = diff_points(want, got)
    check(not problem, "stored points differ (%d cases, relay %s): %s"
          % (len(sent), st, problem))


def ends_own_record(payload):
    """True if InfluxDB's scanLine ends the record at the newline after
    `payload`, not earlier nor later (quotes count only where a field
    value is due; a backslash escapes the next byte)."""
    data = payload + b"\n"
    fields = quoted = False
    equals = commas = i = 0
    while i < len(data):
        c = data[i:i + 1]
        if c == b"\\":
            i += 2
            continue
        if c == b" ":
            fields = True
        if fields and not quoted and c == b"=":
            equals += 1
        elif fields and not quoted and c == b",":
            commas += 1
        elif fields and c == b'"' and equals > commas:
            quoted = not quoted
        elif c == b"\n" and not quoted:
            return i == len(data) - 1
        i += 1
    return False


def relay_settled(relay):
    """Nothing buffered or in flight, and every line read."""
    st = harness.relay_stats(relay)
    return (st["buffered_points"] == 0 and st["in_flight"] == 0 and
            st["accepted"] == st["written"] + st["dropped_server"])


if __name__ == "__main__":
    harness.main([test_corpus, test_corpus_one_stream, test_stream_framing,
                  test_garbage_does_not_swallow])
