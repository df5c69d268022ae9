#!/usr/bin/env python3
"""Delivery engine against real influxd instances (DESIGN section 5).

InfluxDB down for 8 s while 50,000 points arrive, a 200 kB body limit
forcing 413 splits, fan-out to two influxd with one stopped, TLS with a
self-signed certificate, InfluxDB's own UNIX socket, gzip, basic auth with
secrets kept out of the logs, and a rejected batch sent once.  The v2 API
is tested against the fault server only (tests/unit/check_delivery.c):
influxd 1.6 has no /api/v2/write (it answers 404 page not found).
Run by hand: ./test_delivery.py [NAME...]
"""

import http.server
import os
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import harness
from harness import (ExtraInfluxD, InfluxD, Relay, check, check_equal,
                     count_points, influxd_down, influxd_up, relay_config,
                     relay_idle, relay_stats, unique_db, wait_until,
                     check_books)

T0 = 1700000000000000000


def lines(n, start=0, tag="a"):
    """n distinct points of measurement m (distinct times, so no overwrite)."""
    return ["m,t=%s v=%di %d" % (tag, i, T0 + i * 1000)
            for i in range(start, start + n)]


def send_timed(relay, data, chunk=5000):
    """Send lines over one connection in chunks; return the slowest
    sendall() in seconds (the relay must never make a client wait)."""
    worst = 0.0
    with relay.connect() as s:
        for i in range(0, len(data), chunk):
            buf = ("\n".join(data[i:i + chunk]) + "\n").encode()
            t = time.monotonic()
            s.sendall(buf)
            worst = max(worst, time.monotonic() - t)
        s.shutdown(socket.SHUT_WR)
    return worst


def test_down_8s_50k(influx):
    """InfluxDB down 8 s while 50,000 points arrive: all arrive exactly
    once, the client never blocks."""
    own = InfluxD()
    try:
        db = unique_db("down")
        cfg = relay_config(own, db, target={"retry_initial": "200ms",
                                            "retry_max": "2s"})
        with Relay(cfg) as relay:
            influxd_down(own)
            down_at = time.monotonic()
            worst = send_timed(relay, lines(50000))
            check(worst < 0.5, "a sendall() took %.2fs while InfluxDB was "
                  "down" % worst)
            time.sleep(max(0, 8 - (time.monotonic() - down_at)))
            st = relay_stats(relay)
            check(st["written"] == 0 and st["buffered_points"] == 50000,
                  "while down: %s" % st)
            # no storm: one request per backoff step (>= 200 ms apart)
            check(st["requests"] <= 1 + 8 / 0.2,
                  "%d requests in 8 s to a dead server" % st["requests"])
            print("  slowest sendall %.3fs; %d requests while down 8 s"
                  % (worst, st["requests"]))
            influxd_up(own)
            wait_until(lambda: count_points(own, db) == 50000, 20,
                       "50,000 points in InfluxDB")
            st = wait_until(lambda: (lambda s: s if s["buffered_points"] == 0
                                     else None)(relay_stats(relay)), 10,
                            "an empty relay")
            # sent exactly once: every 2xx point counted once, none lost
            check_equal(50000, st["written"], "points written (2xx)")
            check_equal(0, st["dropped_server"] + st["dropped_overflow"],
                        "points dropped")
            check(st["http_errors"] >= 1, "no failed attempt seen: %s" % st)
            lst, _ = check_books(relay)
            check_equal(50000, lst["written"], "listener: points written")
        time.sleep(0.5)
        check_equal(50000, count_points(own, db), "points after settling")
    finally:
        own.stop()


def test_shutdown_last_attempt(influx):
    """SIGTERM while a queue waits out a long retry delay: it gets one
    attempt at once instead of waiting, so the points are delivered."""
    own = InfluxD()
    try:
        db = unique_db("lastgo")
        cfg = relay_config(own, db, target={"retry_initial": "30s",
                                            "retry_max": "60s"})
        with Relay(cfg) as relay:
            influxd_down(own)
            relay.send(lines(100))
            wait_until(lambda: relay_stats(relay)["http_errors"] >= 1, 5,
                       "a failed attempt")
            influxd_up(own)
            t = time.monotonic()
            check_equal(0, relay.terminate(), "exit code")
            took = time.monotonic() - t
            check(took < 5, "shutdown took %.1fs" % took)
            check("everything delivered" in relay.log(),
                  "no 'everything delivered' in the log")
        check_equal(100, count_points(own, db), "points after shutdown")
    finally:
        own.stop()


def test_413_body_limit(influx):
    """20,000 points pass a 200 kB body limit: batches split on 413."""
    own = InfluxD(max_body_size=200000)
    try:
        db = unique_db("limit")
        cfg = relay_config(own, db, target={"batch_size": 20000,
                                            "batch_bytes": "4M"})
        with Relay(cfg) as relay:
            relay.send(lines(20000))
            wait_until(lambda: count_points(own, db) == 20000, 20,
                       "20,000 points through a 200 kB limit")
            st = relay_idle(relay)
            check(st["http_413"] >= 1, "no 413 seen: %s" % st)
            print("  %d requests, %d answered 413" % (st["requests"],
                                                       st["http_413"]))
            check_equal(20000, st["written"], "points written")
            check_equal(0, st["dropped_too_large"], "points too large")
            lst, _ = check_books(relay)
            check_equal(20000, lst["written"], "listener: points written")
    finally:
        own.stop()


def test_fanout_one_down(influx):
    """Fan-out: target b keeps flowing while a is down; a catches up."""
    other = InfluxD()
    try:
        db = unique_db("fan")
        cfg = relay_config(influx, db, listener={"target": "a,b"})
        cfg.pop("target:local")
        for name, srv in (("a", other), ("b", influx)):
            cfg["target:" + name] = {"url": srv.url, "database": db,
                                     "flush_interval": "100ms",
                                     "retry_initial": "100ms",
                                     "retry_max": "1s"}
        with Relay(cfg) as relay:
            influxd_down(other)
            for r in range(5):
                relay.send(lines(1000, start=r * 1000))
                wait_until(lambda: count_points(influx, db) ==
                           (r + 1) * 1000, 3, "round %d at target b" % r)
            check_equal(5000, relay_stats(relay, "a")["buffered_points"],
                        "points held for the stopped target a")
            influxd_up(other)
            wait_until(lambda: count_points(other, db) == 5000, 15,
                       "target a catching up")
            check_equal(5000, count_points(influx, db), "points at b")
            # per copy: 5,000 lines accepted, each queued on both targets
            lst, tst = wait_until(
                lambda: (lambda b: b if b[0]["buffered_points"] == 0
                         else None)(check_books(relay, ("a", "b"))), 10,
                "both targets empty")
            check_equal(5000, lst["accepted"], "lines accepted")
            check_equal(10000, lst["queued"], "copies queued")
            check_equal(10000, lst["written"], "copies written")
    finally:
        other.stop()


def make_cert(tmp):
    """A self-signed certificate for 127.0.0.1; returns (cert, key)."""
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                        "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.CalledProcessError) as e:
        raise harness.TestSkip("openssl cannot make a certificate: %s" % e)
    return cert, key


def test_tls_self_signed(influx):
    """https against influxd with a self-signed certificate: trusted through
    tls_ca; without it the relay refuses the server and keeps the data."""
    tmp = tempfile.mkdtemp(prefix="tls-")
    cert, key = make_cert(tmp)
    # the harness's own queries go through urllib: trust the cert there too
    ssl._create_default_https_context = \
        lambda: ssl.create_default_context(cafile=cert)
    own = ExtraInfluxD({"https-enabled": True, "https-certificate": cert,
                        "https-private-key": key}, scheme="https")
    try:
        db = unique_db("tls")
        cfg = relay_config(own, db, target={"tls_ca": cert})
        with Relay(cfg) as relay:
            relay.send(lines(100))
            wait_until(lambda: count_points(own, db) == 100, 10,
                       "100 points over https with tls_ca")
        # tls_verify = false accepts the server without any CA
        lax = relay_config(own, db + "_lax", target={"tls_verify": "false"})
        with Relay(lax) as relay:
            relay.send(lines(10))
            wait_until(lambda: count_points(own, db + "_lax") == 10, 10,
                       "10 points with tls_verify = false")
        bad = relay_config(own, db + "_x", target={"retry_max": "1s"},
                           relayd={"shutdown_timeout": "1s"})
        with Relay(bad) as relay:
            relay.send(lines(10))
            wait_until(lambda: "certificate" in relay.log(), 5,
                       "a certificate error in the log")
            check_equal(10, relay_stats(relay)["buffered_points"],
                        "points kept after a TLS failure")
    finally:
        own.stop()
        harness._rmtree(tmp)


class _MTLSHandler(http.server.BaseHTTPRequestHandler):
    """Answers every POST with 204 and counts the lines and client certs."""
    protocol_version = "HTTP/1.1"
    seen = {"lines": 0, "certs": set()}

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        cert = self.connection.getpeercert()
        if cert:
            self.seen["certs"].add(dict(x[0] for x in cert["subject"])
                                   .get("commonName"))
        self.seen["lines"] += body.count(b"\n")
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_tls_client_cert(influx):
    """tls_cert + tls_key: a server that requires a client certificate
    (influxd 1.6 cannot, so a small Python HTTPS server) accepts the
    relay's; without them the handshake fails and the data is kept."""
    tmp = tempfile.mkdtemp(prefix="mtls-")
    server_cert, server_key = make_cert(tmp)
    client_dir = os.path.join(tmp, "client")
    os.mkdir(client_dir)
    client_cert, client_key = make_cert(client_dir)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(server_cert, server_key)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(client_cert)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _MTLSHandler)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    url = "https://127.0.0.1:%d" % srv.server_address[1]
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        cfg = relay_config(None, "db", target={
            "url": url, "tls_ca": server_cert, "tls_cert": client_cert,
            "tls_key": client_key})
        with Relay(cfg) as relay:
            relay.send(lines(200))
            wait_until(lambda: _MTLSHandler.seen["lines"] == 200, 10,
                       "200 points through a client-certificate server")
        check_equal({"127.0.0.1"}, _MTLSHandler.seen["certs"],
                    "client certificates presented")
        cfg = relay_config(None, "db", target={
            "url": url, "tls_ca": server_cert, "retry_max": "1s"},
            relayd={"shutdown_timeout": "1s"})
        with Relay(cfg) as relay:
            relay.send(lines(10))
            wait_until(lambda: relay_stats(relay)["http_errors"] >= 1, 10,
                       "a failed handshake")
            check_equal(10, relay_stats(relay)["buffered_points"],
                        "points kept without a client certificate")
        check_equal(200, _MTLSHandler.seen["lines"], "lines at the server")
    finally:
        srv.shutdown()
        srv.server_close()
        harness._rmtree(tmp)


def test_unix_socket(influx):
    """url = unix:///path reaches InfluxDB's UNIX socket listener."""
    tmp = tempfile.mkdtemp(prefix="ixsock-")
    path = os.path.join(tmp, "influxdb.sock")
    own = ExtraInfluxD({"unix-socket-enabled": True, "bind-socket": path})
    try:
        db = unique_db("unix")
        cfg = relay_config(own, db, target={"url": "unix://" + path})
        with Relay(cfg) as relay:
            relay.send(lines(500))
            wait_until(lambda: count_points(own, db) == 500, 10,
                       "500 points over the UNIX socket")
    finally:
        own.stop()
        harness._rmtree(tmp)


def test_gzip(influx):
    """gzip = true: influxd 1.6 takes Content-Encoding: gzip bodies."""
    db = unique_db("gzip")
    with Relay(relay_config(influx, db, target={"gzip": "true"})) as relay:
        relay.send(lines(3000))
        wait_until(lambda: count_points(influx, db) == 3000, 10,
                   "3,000 gzip points")


def test_rejected_batch_sent_once(influx):
    """A batch InfluxDB rejects (field type conflict) is sent once,
    dropped and counted; the good points around it are delivered."""
    db = unique_db("reject")
    influx.create_database(db)
    influx.write(db, ["m v=1i %d" % T0])
    with Relay(relay_config(influx, db)) as relay:
        relay.send(["m v=1.5 %d" % (T0 + 1)])
        time.sleep(1.0)
        st = relay_stats(relay)
        check_equal(1, st["requests"], "requests for the rejected batch")
        check_equal(1, st["dropped_server"], "points dropped by the server")
        check_equal(0, st["buffered_points"], "points still held")
        relay.send(["m v=2i %d" % (T0 + 2)])
        wait_until(lambda: count_points(influx, db) == 2, 5,
                   "the next good point")
        check_equal(2, relay_idle(relay)["requests"], "requests in all")
        lst, _ = check_books(relay)
        check_equal(1, lst["dropped_server"], "listener: refused by server")
        check_equal(1, lst["written"], "listener: points written")


def test_secrets_not_in_logs(influx):
    """Basic auth from password_file against influxd with auth on; with
    a wrong password the data is kept; no secret ever reaches the log."""
    own = ExtraInfluxD({"auth-enabled": True})
    tmp = tempfile.mkdtemp(prefix="secret-")
    good, bad = "S3cret-Passw0rd-xyz", "Wr0ng-Passw0rd-abc"
    try:
        status, body = own._request("/query", {
            "q": "CREATE USER admin WITH PASSWORD '%s' WITH ALL PRIVILEGES"
                 % good}, data=b"")
        check_equal(200, status, "creating the admin user: %s" % body)
        db = unique_db("auth")
        logs = []
        for pw, n in ((good, 50), (bad, 5)):
            pwfile = os.path.join(tmp, "pw")
            with open(pwfile, "w") as f:
                f.write(pw + "\n")
            cfg = relay_config(own, db, target={
                "username": "admin", "password_file": pwfile,
                "retry_max": "500ms"}, relayd={"shutdown_timeout": "1s"})
            with Relay(cfg, args=["-d"]) as relay:
                relay.send(lines(n, start=len(logs) * 1000))
                if pw == good:
                    wait_until(lambda: relay_stats(relay)["written"] == n,
                               10, "points written with the password")
                else:
                    wait_until(lambda: relay_stats(relay)["http_4xx"] >= 2,
                               10, "401 answers retried")
                    check_equal(n, relay_stats(relay)["buffered_points"],
                                "points kept on 401")
                logs.append(relay.log())
        for log in logs:
            for secret in (good, bad):
                check(secret not in log, "a password is in the relay log")
        check("401" in logs[1], "the 401 is not logged")
        # a token from token_file (v1 accepts "Token user:password" only
        # from 1.8 on, so only check that it never shows in the log)
        tokfile = os.path.join(tmp, "tok")
        with open(tokfile, "w") as f:
            f.write("T0ken-Value-123\n")
        cfg = relay_config(own, db, target={"token_file": tokfile,
                                            "retry_max": "500ms"},
                           relayd={"shutdown_timeout": "1s"})
        with Relay(cfg, args=["-d"]) as relay:
            relay.send(lines(5, start=5000))
            wait_until(lambda: relay_stats(relay)["http_4xx"] >= 1, 10,
                       "the token request answered")
            check("T0ken-Value-123" not in relay.log(),
                  "the token is in the relay log")
    finally:
        own.stop()
        harness._rmtree(tmp)


if __name__ == "__main__":
    harness.main([test_down_8s_50k, test_shutdown_last_attempt,
                  test_413_body_limit, test_fanout_one_down,
                  test_tls_self_signed, test_tls_client_cert,
                  test_unix_socket,
                  test_gzip, test_rejected_batch_sent_once,
                  test_secrets_not_in_logs])
