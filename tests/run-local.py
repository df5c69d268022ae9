#!/usr/bin/env python3
"""Run the built influx-relayd against a local InfluxDB, for trying it out.

Uses the InfluxDB on 127.0.0.1:8086 when one answers /ping; otherwise
starts a private influxd on a free loopback port (the test harness's
InfluxD).  Writes a config into a temp dir, prints how to send a line and
how to read it back, and runs the relay in the foreground until Ctrl-C.
On the way out (Ctrl-C, SIGTERM, the terminal closing, or the relay
exiting) it stops the relay and the private influxd and removes the temp
dir.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "integration"))
import harness  # noqa: E402

FLUSH_INTERVAL = "1s"


class Stop(Exception):
    """SIGTERM or SIGHUP reached this script."""


def running_influxdb(url="http://127.0.0.1:8086"):
    """The URL of an InfluxDB that already answers, or None."""
    try:
        with urllib.request.urlopen(url + "/ping", timeout=1) as r:
            return url if r.status == 204 else None
    except OSError:
        return None


def write_config(tmp, url):
    """The relay's config in `tmp`; returns (config, data socket, control)."""
    sock = os.path.join(tmp, "relay.sock")
    control = os.path.join(tmp, "control.sock")
    conf = os.path.join(tmp, "influx-relayd.ini")
    with open(conf, "w") as f:
        f.write("[relayd]\nstats_interval = 30s\ncontrol_socket = %s\n"
                "spool_dir = %s\n"
                "[listener:main]\npath = %s\nmode = 0666\n"
                "[target:local]\nurl = %s\ndatabase = relayd_demo\n"
                "flush_interval = %s\nflush_jitter = 0s\n"
                % (control, os.path.join(tmp, "spool"), sock, url,
                   FLUSH_INTERVAL))
    return conf, sock, control


def print_usage(url, conf, sock, control):
    ctl = harness.relayctl_path()
    print("""
influx-relayd is relaying to %(url)s (database relayd_demo).
Send a line from another shell:

  echo 'cpu,host=demo usage=42.5' | %(ctl)s send -s %(sock)s

The relay sends a batch %(flush)s after its first point (flush_interval):
wait that long before reading back, or have it deliver at once (this
answers when the point is in InfluxDB):

  %(ctl)s -s %(control)s flush

then read it back:

  curl -sG '%(url)s/query' --data-urlencode db=relayd_demo \\
      --data-urlencode 'q=SELECT * FROM cpu'

and see the counters:

  %(ctl)s -s %(control)s stats

Ctrl-C stops the relay (it flushes first) and removes %(tmp)s.
Config: %(conf)s
""" % {"url": url, "ctl": ctl, "sock": sock, "conf": conf,
       "control": control, "flush": FLUSH_INTERVAL,
       "tmp": os.path.dirname(conf)})
    sys.stdout.flush()


def run_relay(conf):
    """Runs the relay until it exits; a signal here stops it cleanly."""
    # its own session: the terminal's Ctrl-C reaches only this script,
    # which passes on exactly one signal (a second one would skip the
    # relay's flush)
    relay = subprocess.Popen([harness.relayd_path(), "-c", conf],
                             start_new_session=True)
    try:
        while True:
            try:
                return relay.wait()
            except (KeyboardInterrupt, Stop):
                print("\nstopping the relay (it flushes first; Ctrl-C "
                      "again to stop at once)")
                sys.stdout.flush()
                relay.send_signal(signal.SIGTERM)
    finally:
        if relay.poll() is None:
            relay.kill()
            relay.wait()


def main():
    def stop(signum, frame):
        raise Stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    # Ctrl-C even when started with SIGINT ignored (as `cmd &` does)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    influxd = None
    tmp = None
    try:
        url = running_influxdb()
        if url is None:
            print("no InfluxDB on 127.0.0.1:8086: starting a private influxd")
            influxd = harness.InfluxD()
            url = influxd.url
        tmp = tempfile.mkdtemp(prefix="influx-relayd-")
        conf, sock, control = write_config(tmp, url)
        print_usage(url, conf, sock, control)
        return run_relay(conf)
    except (KeyboardInterrupt, Stop):
        return 130
    finally:
        if influxd is not None:
            influxd.stop()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
