#!/usr/bin/env python3
"""The C library's write rate: tests/bench/bench_client_c builds points
(3 tags, 4 fields, a timestamp) with libinfluxrelay in one thread and
sends them to the relay, which forwards them to the null sink; prints the
client's points/s and CPU per point, and the points the sink got.

Run after `make check` (which builds it):
python3 tests/bench/bench_client_c.py [POINTS]
"""

import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import bench_relay  # noqa: E402
import harness  # noqa: E402


def main():
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 2000000
    prog = harness.bench_tool_path("bench_client_c")
    with tempfile.TemporaryDirectory() as tmp:
        with bench_relay.NullSink(tmp) as sink:
            sock, conf = bench_relay.write_config(
                tmp, sink.url, "bench", "120s", bench_relay.FAST)
            relay = subprocess.Popen(
                [harness.relayd_path(), "-c", conf],
                stderr=open(os.path.join(tmp, "log"), "w"))
            harness.wait_until(lambda: os.path.exists(sock), 10, "socket")
            out = subprocess.run([prog, sock, str(total)], check=True,
                                 capture_output=True, text=True).stdout
            relay.terminate()
            relay.wait(120)
        print("%s; the sink got %d" % (out.strip(), sink.got))


if __name__ == "__main__":
    main()
