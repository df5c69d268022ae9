#!/usr/bin/env python3
"""Self-check of the harness against the real influxd (no relay needed).

The relay tests trust harness.to_line() and InfluxD.points() to build and
read back expectations; if either disagreed with InfluxDB, relay tests
would fail (or pass) for the wrong reason.  So this writes directly to
influxd and checks the round trip, and that two instances are isolated.
"""

import harness
from harness import InfluxD, check, check_equal, point, to_line

EDGE_POINTS = [
    point("cpu load", {"host": "a b", "dc": "x,y", "k=1": "v=2"},
          {"f": 1.5, "i": -9223372036854775808, "s": 'say "hi" \\ ok',
           "b": True}, 1700000000000000001),
    point("cpu load", {"host": "a b"},
          {"f": 3.0, "i": 9223372036854775807, "s": "", "b": False},
          1700000000000000002),
    point("m,2", {"t": "µs ✓"}, {"field key": 1e300, "x,y": 2.5e-300}, 0),
    point("m,2", {"t": "neg"}, {"field key": -0.5, "x,y": 1.0},
          -1000000000),
    point("s", {}, {"path": "C:\\dir\\", "q": '"', "e": "=, "},
          4102444800000000000),
]


def test_round_trip(influx):
    """to_line() + direct write + points() reproduce points exactly."""
    influx.create_database("rt")
    influx.write("rt", [to_line(p["measurement"], p["tags"], p["fields"],
                                p["time"]) for p in EDGE_POINTS])
    harness.assert_same_points(EDGE_POINTS, influx.all_points("rt"))
    types = influx.field_types("rt", "cpu load")
    check_equal({"f": "float", "i": "integer", "s": "string",
                 "b": "boolean"}, types, "field types")


def test_boolean_spellings(influx):
    """All ten boolean spellings InfluxDB accepts are read back as bools."""
    influx.create_database("bools")
    words = ["t", "T", "true", "True", "TRUE", "f", "F", "false", "False",
             "FALSE"]
    influx.write("bools", ["b v=%s %d" % (w, i) for i, w in enumerate(words)])
    got = sorted(influx.points("bools", "b"), key=lambda p: p["time"])
    check_equal([w[0] in "tT" for w in words],
                [p["fields"]["v"] for p in got], "boolean values")


def test_rejects(influx):
    """The invalid lines used in relay tests are rejected by influxd."""
    influx.create_database("rej")
    for line in harness.INVALID_LINES + [b"\x00garbage without fields"]:
        status, text = influx.write("rej", line + b"\n", check=False)
        check(status == 400, "influxd accepted %r (HTTP %d %s)"
              % (line, status, text))


def test_two_instances(influx):
    """A second influxd gets other ports and sees none of the first's data."""
    influx.create_database("only_first")
    with InfluxD() as other:
        check(other.port != influx.port and other.rpc_port != influx.rpc_port,
              "ports collide: %d/%d vs %d/%d" % (influx.port, influx.rpc_port,
                                                 other.port, other.rpc_port))
        check("only_first" not in other.databases(),
              "second influxd sees the first's database: %s"
              % other.databases())
        other.create_database("d")
        other.write("d", "m v=1i 1\n")
        check_equal([point("m", {}, {"v": 1}, 1)], other.points("d", "m"),
                    "points in second instance")
    check("d" not in influx.databases(), "first instance sees 'd'")


def test_body_limit(influx):
    """InfluxD(max_body_size=N) makes influxd answer 413 above N bytes."""
    with InfluxD(max_body_size=1000) as small:
        small.create_database("d")
        status, _ = small.write("d", "m v=1i 1\n" * 200, check=False)
        check_equal(413, status, "status for a 1800-byte body")
        status, _ = small.write("d", "m v=1i 1\n", check=False)
        check_equal(204, status, "status for a small body")


if __name__ == "__main__":
    harness.main([test_round_trip, test_boolean_spellings, test_rejects,
                  test_two_instances, test_body_limit], needs_relay=False)
