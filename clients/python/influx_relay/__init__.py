"""influx_relay: the influx-client API, writing through influx-relayd.

Moving over from influx-client is a one-line change::

    from influx_relay import InfluxDB     # was: from influx import InfluxDB

    client = InfluxDB('http://127.0.0.1:8086')
    client.create_database('mydb')
    client.write('mydb', 'cpu', {'value': 0.5}, tags={'host': 'a'})

Writes go to the relay's UNIX socket (the ``socket=`` argument, else
``$INFLUX_RELAYD_SOCKET``, else ``/run/influx-relayd/influx-relayd.sock``)
and never wait for InfluxDB: the relay batches them, creates a missing
database and retries.  ``create_database`` and ``drop_database`` are sent
to the URL's ``/query`` as influx-client did.  Standard library only.
"""

import datetime
import math
import os
import socket as _socket
import threading
import urllib.parse
import urllib.request

__all__ = ["InfluxDB", "DEFAULT_SOCKET"]
__version__ = "0.1.0"

DEFAULT_SOCKET = "/run/influx-relayd/influx-relayd.sock"
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_INT_MIN, _INT_MAX = -(1 << 63), (1 << 63) - 1


def _bad(what, value, why):
    raise ValueError("%s %r: %s" % (what, value, why))


_ESCAPED = {}            # (specials, name) -> escaped; names repeat
_ESCAPED_MAX = 100000


def _name(what, value, specials):
    """A measurement, tag or field name (or tag value) escaped as line
    protocol requires; ValueError for what InfluxDB would refuse."""
    try:
        return _ESCAPED[specials, value]
    except (KeyError, TypeError):
        pass
    if not isinstance(value, str):
        _bad(what, value, "must be a str")
    if value == "":
        _bad(what, value, "is empty")
    if "\n" in value or "\r" in value:
        _bad(what, value, "holds a newline")
    if value.endswith("\\"):
        _bad(what, value, "ends with a backslash")
    escaped = value
    for c in specials:
        escaped = escaped.replace(c, "\\" + c)
    if len(_ESCAPED) >= _ESCAPED_MAX:
        _ESCAPED.clear()
    _ESCAPED[specials, value] = escaped
    return escaped


def _fmt_bool(key, v):
    return "true" if v else "false"


def _fmt_int(key, v):
    if not _INT_MIN <= v <= _INT_MAX:
        _bad("field", key, "integer out of range")
    return "%di" % v


def _fmt_float(key, v):
    if v != v or v in (math.inf, -math.inf):
        _bad("field", key, "NaN and infinity cannot be stored")
    return repr(v)


def _fmt_str(key, v):
    return '"%s"' % v.replace("\\", "\\\\").replace('"', '\\"')


# by exact type: a bool is an int to isinstance(), never here
_FORMATS = {bool: _fmt_bool, int: _fmt_int, float: _fmt_float,
            str: _fmt_str}


def _field_value(key, v):
    fmt = _FORMATS.get(type(v))
    if fmt is not None:
        return fmt(key, v)
    for t in (bool, int, float, str):   # subclasses of them
        if isinstance(v, t):
            return _FORMATS[t](key, t(v))
    _bad("field", key, "has a value of type %s (bool, int, float or str)"
         % type(v).__name__)


def _time_ns(time):
    if time is None:
        return None
    if isinstance(time, bool):
        _bad("time", time, "must be a datetime or nanoseconds")
    if isinstance(time, int):
        return time
    if isinstance(time, datetime.datetime):
        if time.tzinfo is None:
            time = time.replace(tzinfo=datetime.timezone.utc)
        delta = time - _EPOCH
        return ((delta.days * 86400 + delta.seconds) * 1000000 +
                delta.microseconds) * 1000
    _bad("time", time, "must be a datetime or nanoseconds")


_TAG_SETS = {}           # tags.items() -> ",k=v,...": tag sets repeat


def _tag_set(tags):
    key = tuple(tags.items())
    try:
        return _TAG_SETS[key]
    except KeyError:
        pass
    except TypeError:       # an unhashable tag value: refused below
        key = None
    out = []
    for k, v in tags.items():
        if k == "time":
            _bad("tag", k, "'time' cannot be a tag")
        out.append("," + _name("tag", k, ",= ") + "=" +
                   _name("tag value", v, ",= "))
    text = "".join(out)
    if key is not None:
        if len(_TAG_SETS) >= _ESCAPED_MAX:
            _TAG_SETS.clear()
        _TAG_SETS[key] = text
    return text


def line(measurement, fields, tags=None, time=None):
    """One point as a line of line protocol (with its newline)."""
    parts = [_name("measurement", measurement, ", ")]
    if measurement.startswith("#"):
        _bad("measurement", measurement, "starts with '#' (a comment)")
    if tags:
        parts.append(_tag_set(tags))
    if not fields:
        _bad("fields", fields, "a point needs at least one field")
    out = []
    for k, v in fields.items():
        if k == "time":
            _bad("field", k, "'time' cannot be a field")
        out.append(_name("field", k, ",= ") + "=" + _field_value(k, v))
    parts.append(" " + ",".join(out))
    if time is not None:
        parts.append(" %d\n" % (time if type(time) is int else
                                 _time_ns(time)))
    else:
        parts.append("\n")
    return "".join(parts)


def _directive(database, rp):
    esc = lambda s: s.replace("\\", "\\\\").replace(" ", "\\ ")
    return "#relay db=%s rp=%s\n" % (esc(database), esc(rp or ""))


class _Connection:
    """One stream connection to the relay, shared by threads (a lock
    orders their writes) and made again in a forked child or after the
    relay restarted."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.sock = None
        self.pid = None
        self.route = None       # the directive the relay has from us

    def _connect(self):
        s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            s.connect(self.path)
        except OSError as e:
            s.close()
            raise ConnectionError("influx-relayd is not reachable at %s: %s"
                                  % (self.path, e)) from e
        self.sock, self.pid, self.route = s, os.getpid(), None

    def _close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None

    def send(self, route, payload):
        """Sends lines for `route`; one reconnect if the relay went."""
        with self.lock:
            for attempt in (1, 2):
                if self.sock is None or self.pid != os.getpid():
                    self.sock = None    # a child never uses its parent's
                    self._connect()
                data = payload
                if self.route != route:
                    data = _directive(*route) + payload
                try:
                    self.sock.sendall(data.encode())
                    self.route = route
                    return
                except OSError as e:
                    self._close()
                    if attempt == 2:
                        raise ConnectionError("writing to influx-relayd at "
                                              "%s: %s" % (self.path, e))


class InfluxDB:
    """One instance per URL (as influx-client): InfluxDB(url) is
    InfluxDB(url)."""

    _instances = {}
    _lock = threading.Lock()

    def __new__(cls, url, socket=None):
        with cls._lock:
            inst = cls._instances.get(url)
            if inst is None:
                inst = super().__new__(cls)
                inst._setup(url, socket)
                cls._instances[url] = inst
            return inst

    def _setup(self, url, socket):
        self.url = url.rstrip("/")
        path = (socket or os.environ.get("INFLUX_RELAYD_SOCKET") or
                DEFAULT_SOCKET)
        self._conn = _Connection(path)

    # -- the admin calls, straight to InfluxDB as influx-client made them

    def _query(self, q):
        body = urllib.parse.urlencode({"q": q}).encode()
        req = urllib.request.Request(self.url + "/query", data=body)
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read()

    @staticmethod
    def _quote(name):
        return '"%s"' % name.replace("\\", "\\\\").replace('"', '\\"')

    def create_database(self, database):
        """CREATE DATABASE (nothing happens if it exists)."""
        _name("database", database, "")
        self._query("CREATE DATABASE " + self._quote(database))

    def drop_database(self, database):
        """DROP DATABASE; InfluxDB 1.x answers a missing database with
        success, so dropping one is never an error."""
        _name("database", database, "")
        self._query("DROP DATABASE " + self._quote(database))

    # -- writes, through the relay

    def write(self, database, measurement, fields, tags={}, time=None,
              retention_policy=None):
        """Queues one point with the relay; `time` a datetime (naive is
        UTC) or integer nanoseconds, else the relay's receipt time."""
        payload = line(measurement, fields, tags, time)
        self._conn.send(self._route(database, retention_policy), payload)

    def write_points(self, database, points, retention_policy=None):
        """Queues many points in one send: each a dict with measurement,
        fields, and optionally tags and time.  Nothing is sent if one is
        invalid."""
        payload = "".join(line(p["measurement"], p["fields"],
                               p.get("tags"), p.get("time"))
                          for p in points)
        if payload:
            self._conn.send(self._route(database, retention_policy),
                            payload)

    @staticmethod
    def _route(database, rp):
        _name("database", database, "")
        if rp:
            _name("retention policy", rp, "")
        return (database, rp or "")
