#!/usr/bin/env python3
"""The disk spool against a real influxd: what a relay accepted survives a
SIGKILL, a SIGTERM during an outage, an outage longer than buffer_size
allows, a damaged spool and a full disk; two relays cannot share one
spool_dir.  Run by hand: ./test_spool.py [NAME...]
"""

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time

import harness
from harness import (Relay, TestSkip, check, check_balance, check_equal,
                     influxd_down, influxd_up, relay_config, relay_stats,
                     unique_db, wait_until)


def lines(n, start=0):
    """n distinct points of measurement m, in order."""
    return ["m,t=x v=%di %d" % (i, 1700000000000000000 + i)
            for i in range(start, start + n)]


@contextlib.contextmanager
def outage(influx, prefix):
    """A fresh database and spool_dir while influxd is down; influxd is up
    again and the spool_dir gone afterwards, whatever happened."""
    db = unique_db(prefix)
    influx.create_database(db)
    spool = tempfile.mkdtemp(prefix="spool-")
    try:
        influxd_down(influx)
        yield db, spool
    finally:
        if not influx.proc or influx.proc.poll() is not None:
            influxd_up(influx)
        shutil.rmtree(spool, ignore_errors=True)


def spool_config(influx, db, spool_dir, **target):
    keys = {"retry_initial": "100ms", "retry_max": "500ms",
            "batch_size": "1000"}
    keys.update(target)
    return relay_config(influx, db, target=keys,
                        relayd={"spool_dir": spool_dir,
                                "shutdown_timeout": "2s"})


def send_in_chunks(relay, points, chunk=5000):
    for i in range(0, len(points), chunk):
        relay.send(points[i:i + chunk])


def start(cfg):
    relay = Relay(cfg)
    relay.start()
    relay.wait_ready()
    return relay


def kill9(relay):
    """SIGKILL the relay (a crash) and forget it."""
    relay.proc.send_signal(signal.SIGKILL)
    relay.proc.wait(10)
    relay.proc = None
    relay.close()


def accepted(relay, n, timeout=30):
    """The target's stats once it accepted n points."""
    return wait_until(lambda: (lambda s: s if s["accepted"] >= n else None)(
        relay_stats(relay)), timeout, "%d points accepted" % n)


def stored(influx, db):
    """(count, sorted distinct v values) of measurement m in db."""
    values = sorted(p["fields"]["v"] for p in influx.all_points(db))
    return len(values), values


def check_all_stored(influx, db, n, timeout=60):
    """Exactly the n points 0..n-1, each once."""
    wait_until(lambda: harness.count_points(influx, db) >= n, timeout,
               "%d points in influxd" % n)
    count, values = stored(influx, db)
    check_equal(n, count, "points stored")
    check_equal(list(range(n)), values, "the values stored, each once")


def test_sigkill_loses_nothing(influx):
    """InfluxDB down, 30,000 points accepted, the relay SIGKILLed: after a
    restart of both, all 30,000 arrive, each exactly once."""
    with outage(influx, "kill") as (db, spool):
        cfg = spool_config(influx, db, spool)
        relay = start(cfg)
        send_in_chunks(relay, lines(30000))
        st = accepted(relay, 30000)
        check_equal(30000, st["accepted"], "points accepted")
        check(st["spooling"] in (1, True, "true"), "the target spools")
        kill9(relay)
        influxd_up(influx)
        with Relay(cfg) as relay:
            check_all_stored(influx, db, 30000)
            st = check_balance(relay_stats(relay))
            check_equal(30000, st["spool_recovered"], "points recovered")
            wait_until(lambda: relay_stats(relay)["spool_points"] == 0, 10,
                       "a spool holding nothing")


def test_sigterm_during_outage(influx):
    """SIGTERM with 50,000 points buffered and InfluxDB down: the relay
    exits within shutdown_timeout, and after a restart all 50,000
    arrive."""
    with outage(influx, "term") as (db, spool):
        cfg = spool_config(influx, db, spool)
        with Relay(cfg) as relay:
            send_in_chunks(relay, lines(50000))
            accepted(relay, 50000)
            start = time.monotonic()
            code = relay.terminate()
            took = time.monotonic() - start
            relay.check_clean_exit(code)
            check(took < 2.0 + 3.0, "exit took %.1f s (shutdown_timeout "
                  "2s)" % took)
            check("kept in the spool" in relay.log(),
                  "the exit says where the points are")
        influxd_up(influx)
        with Relay(cfg) as relay:
            check_all_stored(influx, db, 50000)


def test_outage_longer_than_memory(influx):
    """buffer_size far below what an outage brings: memory spills to disk
    instead of dropping, and everything arrives once InfluxDB is back (a
    relay without a spool drops most of it)."""
    with outage(influx, "spill") as (db, spool):
        cfg = spool_config(influx, db, spool, buffer_size="256K")
        with Relay(cfg) as relay:
            send_in_chunks(relay, lines(60000))
            st = accepted(relay, 60000)
            check_equal(0, st["dropped_overflow"], "points dropped")
            check(st["spool_unloaded"] > 0, "points on disk only: %d"
                  % st["spool_unloaded"])
            check_balance(st)
            influxd_up(influx)
            check_all_stored(influx, db, 60000)
            st = check_balance(harness.relay_idle(relay, timeout=30))
            check_equal(60000, st["written"], "points written")


def test_spool_size_drop_oldest(influx):
    """Past spool_size, drop_oldest removes the oldest segment: its points
    on disk only are counted as dropped, the books balance, and every
    point not dropped arrives."""
    with outage(influx, "full") as (db, spool):
        cfg = spool_config(influx, db, spool, buffer_size="256K",
                           spool_size="2M")
        with Relay(cfg) as relay:
            send_in_chunks(relay, lines(90000))
            st = check_balance(accepted(relay, 90000))
            check(st["dropped_overflow"] > 0, "points dropped at spool_size")
            check(st["spool_bytes"] <= 2 << 20, "spool_bytes %d within "
                  "spool_size" % st["spool_bytes"])
            kept = st["accepted"] - st["dropped_overflow"]
            influxd_up(influx)
            wait_until(lambda: harness.count_points(influx, db) >= kept, 60,
                       "%d points in influxd" % kept)
            st = check_balance(harness.relay_idle(relay, timeout=30))
            check_equal(kept, st["written"], "points written")
            check_equal(kept, harness.count_points(influx, db),
                        "points stored")


def test_spool_size_books_exact(influx):
    """Past spool_size in the very turn memory fills, drop_oldest counts
    only points that were on disk alone: the books stay exact."""
    for buf in ("2138K", "1M"):
        with outage(influx, "books") as (db, spool):
            cfg = spool_config(influx, db, spool, buffer_size=buf,
                               spool_size="1M")
            with Relay(cfg) as relay:
                send_in_chunks(relay, lines(60000), chunk=20000)
                st = check_balance(accepted(relay, 60000))
                kept = st["accepted"] - st["dropped_overflow"]
                influxd_up(influx)
                wait_until(lambda: harness.count_points(influx, db) >= kept,
                           60, "%d points in influxd" % kept)
                st = check_balance(harness.relay_idle(relay, timeout=30))
                check_equal(kept, harness.count_points(influx, db),
                            "points stored (buffer_size %s)" % buf)


def test_block_at_spool_size(influx):
    """overflow = block with a spool smaller than memory: the full spool
    holds the client back, and the relay stays responsive (stats, a
    prompt SIGTERM) instead of spinning."""
    with outage(influx, "block") as (db, spool):
        cfg = spool_config(influx, db, spool, overflow="block",
                           buffer_size="64M", spool_size="1M")
        cfg["relayd"]["shutdown_timeout"] = "1s"
        with Relay(cfg) as relay:
            sender = relay.connect()
            sender.settimeout(0.5)
            data = ("\n".join(lines(60000)) + "\n").encode()
            sent = 0
            try:
                while sent < len(data):
                    sent += sender.send(data[sent:sent + 65536])
            except OSError:
                pass
            check(sent < len(data), "the client was held back")
            st = check_balance(relay_stats(relay))
            check(st["spool_bytes"] <= 1 << 20, "spool_bytes %d within "
                  "spool_size" % st["spool_bytes"])
            start = time.monotonic()
            code = relay.terminate(timeout=10)
            relay.check_clean_exit(code)
            check(time.monotonic() - start < 5, "a prompt exit")
            sender.close()


def test_stuck_queue_does_not_hold_spool(influx):
    """One database that keeps failing (missing, create_database off)
    leaves a few points in every segment; the spool still takes the other
    points, which all arrive."""
    db = unique_db("stuck")
    influx.create_database(db)
    spool = tempfile.mkdtemp(prefix="spool-")
    try:
        cfg = spool_config(influx, db, spool, spool_size="1M",
                           overflow="drop_newest", create_database="false")
        cfg["listener:main"]["database_tag"] = "db"
        rows = ["m,t=x%s v=%di %d" % (",db=nosuchdb" if i % 500 == 0 else
                                      "", i, 1700000000000000000 + i)
                for i in range(60000)]
        bad = [r for r in rows if "nosuchdb" in r]
        good = [r for r in rows if "nosuchdb" not in r]
        with Relay(cfg) as relay:
            send_in_chunks(relay, rows, 2000)
            st = accepted(relay, len(good) + len(bad))
            check_equal(0, st["rejected_overflow"], "points refused")
            check(st["spool_bytes"] <= 1 << 20, "spool_bytes %d within "
                  "spool_size" % st["spool_bytes"])
            wait_until(lambda: harness.count_points(influx, db) >=
                       len(good), 60, "%d points in influxd" % len(good))
            st = check_balance(relay_stats(relay))
            check_equal(len(bad), st["buffered_points"],
                        "the failing database's points, still held")
    finally:
        shutil.rmtree(spool, ignore_errors=True)


def test_drain_reaches_spool(influx):
    """What the shutdown drain reads from the sockets is on disk at once:
    a SIGKILL during the drain loses none of it."""
    with outage(influx, "drain") as (db, spool):
        cfg = spool_config(influx, db, spool)
        cfg["relayd"]["shutdown_timeout"] = "20s"
        relay = start(cfg)
        relay.send(lines(1000))
        accepted(relay, 1000)
        relay.proc.send_signal(signal.SIGSTOP)
        relay.send(lines(5000, 1000))
        relay.proc.send_signal(signal.SIGTERM)
        relay.proc.send_signal(signal.SIGCONT)
        time.sleep(1.5)
        kill9(relay)
        influxd_up(influx)
        with Relay(cfg) as relay:
            check_all_stored(influx, db, 6000)


def segments(spool):
    """The segment files of target local, oldest first."""
    d = os.path.join(spool, "local")
    return [os.path.join(d, f) for f in sorted(os.listdir(d))
            if f.endswith(".seg")]


def records(path):
    """The records of a segment file, as (offset, size, values of v): the
    documented format (README "Spool format"): a 32-byte file header, then
    records of a 32-byte header (magic, body length, point count, ...,
    name lengths at bytes 14 and 15) and a body (names, then points)."""
    with open(path, "rb") as f:
        data = f.read()
    out, at = [], 32
    while at + 32 <= len(data):
        check(data[at:at + 4] == b"\xc5\x52\x45\x00", "a record at %d" % at)
        blen = int.from_bytes(data[at + 4:at + 8], "little")
        names = data[at + 14] + data[at + 15]
        body = data[at + 32 + names:at + 32 + blen]
        values = [int(l.split(b"v=")[1].split(b"i")[0])
                  for l in body.split(b"\n") if l]
        out.append((at, 32 + blen, values))
        at += 32 + blen
    return out


def test_damaged_spool(influx):
    """A flipped byte in one record and a torn last record: the relay
    starts, counts both, and delivers every point of every other record."""
    with outage(influx, "damage") as (db, spool):
        cfg = spool_config(influx, db, spool)
        relay = start(cfg)
        # small sends, so the spool holds several records
        for i in range(0, 3000, 100):
            relay.send(lines(100, i))
            accepted(relay, i + 100)
        kill9(relay)
        seg = segments(spool)[-1]
        recs = records(seg)
        check(len(recs) >= 3, "records in the spool: %d" % len(recs))
        bad, torn = recs[len(recs) // 2], recs[-1]
        with open(seg, "r+b") as f:
            at = bad[0] + bad[1] - 3	# a digit of its last point's time
            f.seek(at)
            byte = f.read(1)
            f.seek(at)
            f.write(b"7" if byte != b"7" else b"8")
        os.truncate(seg, torn[0] + torn[1] - 5)
        lost = set(bad[2]) | set(torn[2])
        want = [v for v in range(3000) if v not in lost]
        influxd_up(influx)
        with Relay(cfg) as relay:
            wait_until(lambda: harness.count_points(influx, db) >= len(want),
                       30, "%d points in influxd" % len(want))
            st = relay_stats(relay)
            check_equal(1, st["spool_checksum_failures"], "bad records")
            check_equal(1, st["spool_torn_tails"], "torn tails")
            time.sleep(0.5)
            count, values = stored(influx, db)
            check_equal(want, values, "every point of every intact record")


def test_full_disk_falls_back(influx):
    """spool_dir on a small tmpfs that fills up: no crash, the fallback is
    counted, and everything accepted is delivered once InfluxDB is
    back."""
    with outage(influx, "full") as (db, spool):
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k",
                            "tmpfs", spool], capture_output=True)
        if r.returncode != 0:
            raise TestSkip("cannot mount a tmpfs: %s"
                           % r.stderr.decode().strip())
        try:
            cfg = spool_config(influx, db, spool, buffer_size="64M")
            with Relay(cfg) as relay:
                send_in_chunks(relay, lines(40000))
                st = accepted(relay, 40000)
                check(st["spool_write_errors"] > 0, "failed writes counted")
                check("writing the spool failed" in relay.log(),
                      "the fallback is logged")
                influxd_up(influx)
                check_all_stored(influx, db, 40000)
                st = check_balance(harness.relay_idle(relay, timeout=30))
                check_equal(40000, st["written"], "points written")
        finally:
            subprocess.run(["umount", spool], capture_output=True)


def reload_with(relay, cfg):
    """Rewrite the relay's config, SIGHUP it, wait for the swap."""
    relay.sections = relay._expand(cfg)
    relay.sections["relayd"].setdefault("control_socket", "")
    with open(relay.config_path, "w") as f:
        f.write(harness.ini_text(relay.sections))
    done = relay.log().count("configuration reloaded")
    relay.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: relay.log().count("configuration reloaded") > done,
               10, "the reload")


def test_reload_keeps_spool(influx):
    """A reload keeps a kept target's spool; a removed target's spool
    stays on disk, reported, and a later start delivers it."""
    with outage(influx, "hup") as (db, spool):
        cfg = spool_config(influx, db, spool)
        relay = start(cfg)
        send_in_chunks(relay, lines(5000))
        accepted(relay, 5000)
        cfg["target:local"]["flush_interval"] = "300ms"
        reload_with(relay, cfg)
        check_equal(5000, relay_stats(relay)["spool_points"],
                    "points in the spool after a reload keeping the target")
        other = spool_config(influx, db, spool)
        other["target:other"] = dict(other.pop("target:local"),
                                     url="http://127.0.0.1:9")
        other["listener:main"]["target"] = "other"
        reload_with(relay, other)
        wait_until(lambda: "kept in its spool" in relay.log(), 10,
                   "the removed target's report")
        check(segments(spool), "the removed target's spool is on disk")
        relay.close()
        influxd_up(influx)
        with Relay(cfg) as relay:
            check_all_stored(influx, db, 5000)


def test_two_relays_one_spool_dir(influx):
    """A second relay on a spool_dir in use is refused, naming the
    first."""
    spool = tempfile.mkdtemp(prefix="spool-")
    try:
        cfg = spool_config(influx, unique_db("lock"), spool)
        with Relay(cfg) as first:
            second = Relay(cfg)
            try:
                second.proc = subprocess.Popen(
                    [harness.relayd_path(), "-c", second.config_path],
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                out, _ = second.proc.communicate(timeout=10)
                check(second.proc.returncode != 0, "the second relay runs")
                check(b"in use by another influx-relayd (pid %d)"
                      % first.proc.pid in out, "the refusal names the first: "
                      "%r" % out[-300:])
            finally:
                second.close()
            check(first.running(), "the first relay survived")
    finally:
        shutil.rmtree(spool, ignore_errors=True)


if __name__ == "__main__":
    harness.main([test_sigkill_loses_nothing, test_sigterm_during_outage,
                  test_outage_longer_than_memory,
                  test_spool_size_drop_oldest, test_spool_size_books_exact,
                  test_block_at_spool_size,
                  test_stuck_queue_does_not_hold_spool,
                  test_drain_reaches_spool, test_damaged_spool,
                  test_full_disk_falls_back, test_reload_keeps_spool,
                  test_two_relays_one_spool_dir])
