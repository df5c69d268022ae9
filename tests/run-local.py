#!/usr/bin/env python3
"""Run the built influx-relayd against a local InfluxDB, for trying it out.

Uses the InfluxDB on 127.0.0.1:8086 when one answers /ping; otherwise
starts a private influxd on a free loopback port (the test harness's
InfluxD).  Writes a config into a temp dir, prints how to send a line and
how to read it back, and runs the relay in the foreground until Ctrl-C.
"""

import os
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "integration"))
import harness  # noqa: E402


def running_influxdb(url="http://127.0.0.1:8086"):
    """The URL of an InfluxDB that already answers, or None."""
    try:
        with urllib.request.urlopen(url + "/ping", timeout=1) as r:
            return url if r.status == 204 else None
    except OSError:
        return None


def main():
    influxd = None
    url = running_influxdb()
    if url is None:
        print("no InfluxDB on 127.0.0.1:8086: starting a private influxd")
        influxd = harness.InfluxD()
        url = influxd.url
    tmp = tempfile.mkdtemp(prefix="influx-relayd-")
    sock = os.path.join(tmp, "relay.sock")
    control = os.path.join(tmp, "control.sock")
    conf = os.path.join(tmp, "influx-relayd.ini")
    with open(conf, "w") as f:
        f.write("[relayd]\nstats_interval = 30s\ncontrol_socket = %s\n"
                "spool_dir = %s\n"
                "[listener:main]\npath = %s\nmode = 0666\n"
                "[target:local]\nurl = %s\ndatabase = relayd_demo\n"
                % (control, os.path.join(tmp, "spool"), sock, url))
    ctl = harness.relayctl_path()
    print("""
influx-relayd is relaying to %(url)s (database relayd_demo).
Send a line from another shell:

  echo 'cpu,host=demo usage=42.5' | %(ctl)s send -s %(sock)s

see the counters:

  %(ctl)s -s %(control)s stats

and read it back:

  curl -sG '%(url)s/query' --data-urlencode db=relayd_demo \\
      --data-urlencode 'q=SELECT * FROM cpu'

Ctrl-C stops the relay (it flushes first).  Config: %(conf)s
""" % {"url": url, "ctl": ctl, "sock": sock, "conf": conf,
       "control": control})
    sys.stdout.flush()
    relay = subprocess.Popen([harness.relayd_path(), "-c", conf])
    try:
        relay.wait()
    except KeyboardInterrupt:
        # the terminal sent SIGINT to the relay too: let it flush and exit
        relay.wait()
    finally:
        if influxd is not None:
            influxd.stop()
    return relay.returncode


if __name__ == "__main__":
    sys.exit(main())
