#!/usr/bin/env python3
"""A small fleet never stampedes (README "Running at scale").

40 relays with the shipped defaults (flush_interval, flush_jitter,
retry_initial, retry_max) write to one recording HTTP server on loopback,
fed a point each 100 ms, all relays in the same instant (hosts sampling
on one clock): 12 s steady, 5 s of 503, 15 s after.  The busiest 300 ms
window must hold fewer than 3 times the steady mean, both while steady
(the fleet starts in step) and after the outage, and every point must
arrive exactly once.  With flush_jitter = 0s the fleet flushes in step:
all 40 requests in one window, about 3.7 times the mean, so this test
fails.  tests/bench/bench_fleet.py is the full-size run (200 relays).
"""

import os
import sys

import harness
from harness import check, check_equal

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bench"))
import bench_fleet  # noqa: E402


def test_fleet_spread(_server):
    """40 relays, defaults as shipped: peak-to-mean under 3 in steady
    state and after an outage; every point exactly once."""
    res = bench_fleet.run_fleet(relays=40, steady=12, outage=5, after=15,
                                tick=0.1, window=0.3, mode="503",
                                log=lambda *a: None)
    series = res.pop("after_series")
    print("  %s" % " ".join("%s=%s" % kv for kv in res.items()))
    check(res["outage_requests"] > 0, "no request during the outage")
    check_equal(0, res["missing"], "points missing")
    check_equal(0, res["duplicated"], "points stored twice")
    check_equal(0, res["unexpected"], "points nobody sent")
    check(res["steady_ratio"] < 3, "steady: peak %d requests in a window, "
          "%.2f times the mean %.2f" % (res["steady_peak"],
                                        res["steady_ratio"],
                                        res["steady_mean"]))
    check(res["after_ratio"] < 3, "after the outage: peak %d, %.2f times "
          "the steady mean; per window: %s" % (res["after_peak"],
                                               res["after_ratio"], series))


class NoServer:
    """The fleet brings its own server: nothing for main() to start."""
    NAME = PACKAGE = "python3"

    @staticmethod
    def binary():
        return sys.executable

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    harness.main([test_fleet_spread], backend=NoServer)
