#!/usr/bin/env python3
"""A fleet of relays against one backend: does it stampede? (README
"Running at scale").

N relays (default 200, tiny buffers, one connection each) write to one
recording HTTP server on loopback.  One writer feeds every relay a point
each TICK (default 100 ms), all relays in the same instant, as hosts that
sample on a shared clock do: the worst case for lock-step.  The server
answers 204, and counts the requests that reach it per window (default
100 ms).  The run has three phases:

  steady   the fleet writes normally (STEADY seconds);
  outage   the server answers 503 to everything (--mode 503), 503 with
           Retry-After (--mode retry-after), or is closed so connections
           are refused (--mode refuse), for OUTAGE seconds;
  after    the server is back, AFTER seconds.

Then the writer stops, the relays drain and are stopped, and the server
must hold every point written, exactly once.

The figure is the peak-to-mean ratio: the most requests seen in one
window, divided by the mean requests per window during the steady phase
(the backend's normal load).  It is given for the steady phase and for
the after phase (the recovery).  A fleet in lock-step puts every relay's
request into the same window: a ratio near flush period / window.

Run (after make):
  nice python3 tests/bench/bench_fleet.py                 # 200 relays
  nice python3 tests/bench/bench_fleet.py --relays 30 --steady 10 \\
      --outage 5 --after 15 --window 250
  ... --target 'flush_jitter = 0s'    to set any [target] key (repeat it)
  ... --json                          the result as one JSON line
tests/integration/test_fleet.py runs a small fleet in make check.
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402


# ------------------------------------------------------------ the backend


class _Backend:
    """The recording server's state (in its own process)."""

    def __init__(self, port):
        self.port = port
        self.mode = "up"
        self.retry_after = 0
        self.times = []         # arrival of every request (monotonic)
        self.points = {}        # line -> times stored
        self.conns = set()
        self.server = None

    async def listen(self):
        self.server = await asyncio.start_server(
            self.handle, "127.0.0.1", self.port, reuse_address=True,
            backlog=1024)

    async def close(self):
        """Nothing listens, and every connection is cut: refused."""
        self.server.close()
        await self.server.wait_closed()
        for w in list(self.conns):
            w.transport.abort()

    async def handle(self, reader, writer):
        self.conns.add(writer)
        try:
            while await self.one_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.conns.discard(writer)
            writer.close()

    async def one_request(self, reader, writer):
        """Read one request, answer it; False at EOF."""
        if not await reader.readline():
            return False
        length = 0
        while True:
            h = await reader.readline()
            if h in (b"\r\n", b"\n", b""):
                break
            k, _, v = h.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        body = await reader.readexactly(length) if length else b""
        self.times.append(time.monotonic())
        if self.mode == "up":
            for line in body.split(b"\n"):
                if line:
                    self.points[line] = self.points.get(line, 0) + 1
            writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        else:
            extra = (b"Retry-After: %d\r\n" % self.retry_after
                     if self.retry_after else b"")
            writer.write(b"HTTP/1.1 503 Service Unavailable\r\n" + extra +
                         b"Content-Length: 0\r\n\r\n")
        await writer.drain()
        return True

    async def command(self, cmd):
        """Apply one command from the parent; return its answer."""
        if cmd[0] == "mode":
            was, self.mode, self.retry_after = self.mode, cmd[1], cmd[2]
            if was == "refuse":
                await self.listen()
            if self.mode == "refuse":
                await self.close()
            return None
        if cmd[0] == "points":
            # the time part is the relay's receipt stamp: the writer's
            # line (measurement, tags, field) identifies the point
            out = {}
            for line, n in self.points.items():
                key = line.rsplit(b" ", 1)[0].decode()
                out[key] = out.get(key, 0) + n
            return out
        if cmd[0] == "times":
            return self.times
        return None


def _serve(port, conn):
    """The server process: asyncio HTTP, commands over a pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    loop = asyncio.new_event_loop()
    b = _Backend(port)
    loop.run_until_complete(b.listen())

    def on_command():
        cmd = conn.recv()
        if cmd[0] == "stop":
            loop.stop()
            return
        fut = asyncio.ensure_future(b.command(cmd))
        fut.add_done_callback(lambda f: conn.send(f.result()))

    loop.add_reader(conn.fileno(), on_command)
    conn.send("ready")
    loop.run_forever()


class RecordingServer:
    """The shared backend, in a child process (so its clock is not held
    up by the writer): 204, 503, or refused connections on command."""

    def __init__(self):
        self.port = harness.free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.conn, child = multiprocessing.Pipe()
        self.proc = multiprocessing.Process(target=_serve,
                                            args=(self.port, child),
                                            daemon=True)
        self.proc.start()
        if not self.conn.poll(10) or self.conn.recv() != "ready":
            raise RuntimeError("recording server did not start")

    def _ask(self, *cmd):
        self.conn.send(cmd)
        return self.conn.recv()

    def set_mode(self, mode, retry_after=0):
        """up | 503 | refuse; retry_after > 0 adds Retry-After to 503s."""
        self._ask("mode", mode, retry_after)

    def points(self):
        """{point without its timestamp: times the server stored it}."""
        return self._ask("points")

    def times(self):
        """Arrival times (time.monotonic()) of every request so far."""
        return self._ask("times")

    def close(self):
        if self.proc.is_alive():
            self.conn.send(("stop",))
            self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()


# ------------------------------------------------------------ the fleet


def relay_sections(url, extra):
    """One small relay: one listener, one target, little memory."""
    target = {"url": url, "database": "fleet", "buffer_size": "256K",
              "max_connections": "1", "timeout": "5s"}
    target.update(extra)
    return {"relayd": {"log_level": "warn"},
            "listener:main": {"path": "@DIR@/relay.sock",
                              "target": "fleet"},
            "target:fleet": target}


class Writer:
    """One connection to each relay; a point to every relay per tick."""

    def __init__(self, relays):
        self.socks = [r.connect() for r in relays]
        self.sent = [0] * len(relays)

    def tick(self):
        for i, s in enumerate(self.socks):
            s.sendall(b"fleet,relay=r%d seq=%di\n" % (i, self.sent[i]))
            self.sent[i] += 1

    def expected(self):
        return {"fleet,relay=r%d seq=%di" % (i, n)
                for i, sent in enumerate(self.sent) for n in range(sent)}

    def close(self):
        for s in self.socks:
            s.close()


def feed(writer, seconds, tick):
    """Tick the writer on a fixed grid for `seconds`."""
    start = time.monotonic()
    n = 0
    while True:
        due = start + n * tick
        if due - start >= seconds:
            return
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        writer.tick()
        n += 1


def windows(times, start, end, width):
    """Requests per window of `width` seconds over [start, end)."""
    counts = [0] * max(1, int((end - start) / width))
    for t in times:
        i = int((t - start) / width)
        if start <= t and i < len(counts):
            counts[i] += 1
    return counts


def start_fleet(n, url, extra):
    """n relays, started together and ready."""
    relays = [harness.Relay(relay_sections(url, extra)) for _ in range(n)]
    for r in relays:
        r.start()
    for r in relays:
        r.wait_ready(30)
    return relays


def drain(server, writer, timeout):
    """Wait until the server holds every point the writer sent."""
    want = len(writer.expected())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(server.points().values()) >= want:
            break
        time.sleep(0.5)


def run_fleet(relays=200, steady=30.0, outage=20.0, after=40.0, tick=0.1,
              window=0.1, mode="503", retry_after=0, target=None,
              log=print):
    """Run the three phases; return a dict of figures (see the module's
    doc), with `missing` and `duplicated` points (both should be 0)."""
    server = RecordingServer()
    fleet, writer = [], None
    try:
        fleet = start_fleet(relays, server.url, target or {})
        writer = Writer(fleet)
        log("%d relays ready; steady %.0fs, outage (%s) %.0fs, after %.0fs"
            % (relays, steady, mode, outage, after))
        t0 = time.monotonic()
        feed(writer, steady, tick)
        t1 = time.monotonic()
        server.set_mode("up" if mode == "none" else
                        "refuse" if mode == "refuse" else "503",
                        retry_after)
        feed(writer, outage, tick)
        t2 = time.monotonic()
        server.set_mode("up")
        feed(writer, after, tick)
        t3 = time.monotonic()
        drain(server, writer, 120)
        return figures(server, writer, fleet, (t0, t1, t2, t3), window)
    finally:
        if writer:
            writer.close()
        for r in fleet:
            r.close()
        server.close()


def figures(server, writer, fleet, phases, window):
    """Peak-to-mean per phase, and the exactly-once check."""
    t0, t1, t2, t3 = phases
    times = server.times()
    steady = windows(times, t0, t1, window)
    after = windows(times, t2, t3, window)
    mean = sum(steady) / len(steady)
    got = server.points()
    want = writer.expected()
    return {
        "relays": len(fleet), "window_ms": round(window * 1000),
        "steady_mean": round(mean, 2), "steady_peak": max(steady),
        "steady_ratio": round(max(steady) / mean, 2),
        "outage_requests": sum(windows(times, t1, t2, window)),
        "after_peak": max(after),
        "after_ratio": round(max(after) / mean, 2),
        "after_mean": round(sum(after) / len(after), 2),
        "points": len(want),
        "missing": len(want - set(got)),
        "duplicated": sum(1 for k, n in got.items() if n > 1),
        "unexpected": len(set(got) - want),
        "after_series": after,
    }


def raise_fd_limit(need):
    """The writer holds one socket per relay, the server two per relay."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--relays", type=int, default=200)
    p.add_argument("--steady", type=float, default=30)
    p.add_argument("--outage", type=float, default=20)
    p.add_argument("--after", type=float, default=40)
    p.add_argument("--tick", type=float, default=100, help="ms")
    p.add_argument("--window", type=float, default=100, help="ms")
    p.add_argument("--mode", default="503",
                   choices=("503", "retry-after", "refuse", "none"))
    p.add_argument("--retry-after", type=int, default=10,
                   help="seconds, with --mode retry-after")
    p.add_argument("--target", action="append", default=[],
                   help="'key = value' for every relay's [target]")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    raise_fd_limit(4 * a.relays + 256)
    extra = dict((s.strip() for s in kv.split("=", 1)) for kv in a.target)
    res = run_fleet(a.relays, a.steady, a.outage, a.after, a.tick / 1000,
                    a.window / 1000, a.mode,
                    a.retry_after if a.mode == "retry-after" else 0, extra,
                    log=(lambda *x: None) if a.json else print)
    series = res.pop("after_series")
    if a.json:
        print(json.dumps(res))
    else:
        print(" ".join("%s=%s" % kv for kv in res.items()))
        print("requests per window after the outage: %s" % series[:150])
    if res["missing"] or res["duplicated"] or res["unexpected"]:
        sys.exit("ERROR: points missing, duplicated or unexpected")


if __name__ == "__main__":
    main()
