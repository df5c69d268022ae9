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

A point whose measurement and tag set, and whose field keys with the
types of their values, were seen before is formatted from caches (about
twice as fast); any other point is checked and formatted field by field,
with the same result.
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
    # InfluxDB's scanners and its unescaping read a backslash before an
    # escaped byte differently; in a field key it unescapes '\\"' too
    for c in specials + ('"' if what == "field" else ""):
        if "\\" + c in value:
            _bad(what, value, "has a backslash before %r, which line "
                 "protocol cannot carry" % c)
    if value[0] == "\t" and what in ("measurement", "field"):
        _bad(what, value, "starts with a tab, which InfluxDB trims")
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


def _str_value(v):
    return '"%s"' % v.replace("\\", "\\\\").replace('"', '\\"')


def _fmt_str(key, v):
    return _str_value(v)


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


# The fast path.  Points repeat their measurement and tag set, and their
# field keys and the types of their values, so a point is formatted by two
# cache hits and one %-format:
#   _HEADS:  (measurement, tag keys..., tag values...) -> "cpu,host=a"
#            (the key's length tells the keys from the values)
#   _SHAPES: field keys -> a formatter for points with those keys and the
#            value types first seen with them (see _formatter_maker)
# A formatter checks each value's exact type and range and returns None
# for anything it was not made for (another type, a subclass, NaN, an
# integer beyond 64 bits): such a point, and every cache miss, takes
# _checked_line(), which checks everything, raises the ValueError naming
# the problem and fills the caches.  Caches are emptied when full, so
# names that never repeat cost memory only up to the bound.
_HEADS = {}
_SHAPES = {}
_MAKERS = {}              # value types -> function making formatters
_SHAPES_MAX = 10000
_MAKERS_MAX = 1000

# per exact value type: its check and its %-format argument in the
# generated source (of a local {v}), and its conversion in the template
_KINDS = {float: ("type({v}) is float and -INF < {v} < INF", "{v}", "%r"),
          int: ("type({v}) is int and MIN <= {v} <= MAX", "{v}", "%di"),
          bool: ("type({v}) is bool", "BOOL[{v}]", "%s"),
          str: ("type({v}) is str", "STR({v})", "%s")}


def _formatter_maker(types):
    """The function making formatters for fields whose values have exact
    `types`, in order: generated as source once per tuple of types (as
    collections.namedtuple and dataclasses do), since unpacking the values
    into locals, checking each inline and formatting them with one %
    takes half the time of a loop over the fields.  The source holds only
    names it makes (v0, v1...), never a field key or value: those reach
    the formatter as its templates T and TN and its arguments."""
    try:
        return _MAKERS[types]
    except KeyError:
        pass
    names = ["v%d" % i for i in range(len(types))]
    checks = " and ".join(_KINDS[t][0].format(v=v)
                          for t, v in zip(types, names))
    args = ", ".join(_KINDS[t][1].format(v=v) for t, v in zip(types, names))
    src = ("def make(T, TN):\n"
           "    def fmt(head, fields, t):\n"
           "        %s, = fields.values()\n"
           "        if %s:\n"
           "            if type(t) is int:\n"
           "                return T %% (head, %s, t)\n"
           "            if t is None:\n"
           "                return TN %% (head, %s)\n"
           "            return T %% (head, %s, TIME_NS(t))\n"
           "        return None\n"
           "    return fmt\n" % (", ".join(names), checks, args, args, args))
    env = {"INF": math.inf, "MIN": _INT_MIN, "MAX": _INT_MAX,
           "BOOL": ("false", "true"), "STR": _str_value,
           "TIME_NS": _time_ns}
    exec(compile(src, "<influx_relay formatter>", "exec"), env)
    if len(_MAKERS) >= _MAKERS_MAX:
        _MAKERS.clear()
    _MAKERS[types] = env["make"]
    return env["make"]


def _learn_shape(fields, keys):
    """Makes the formatter for `fields`, a valid point's, if it has none
    (a point of another type keeps the first: no flapping)."""
    if keys in _SHAPES:
        return
    types = tuple(map(type, fields.values()))
    if not all(t in _KINDS for t in types):
        return              # subclasses: the checked path converts them
    template = "%s" + "".join(
        (" " if i == 0 else ",") +
        _name("field", k, ",= ").replace("%", "%%") + "=" + _KINDS[t][2]
        for i, (k, t) in enumerate(zip(keys, types)))
    fmt = _formatter_maker(types)(template + " %d\n", template + "\n")
    if len(_SHAPES) >= _SHAPES_MAX:
        _SHAPES.clear()
    _SHAPES[keys] = fmt


def _head(measurement, tags):
    """The escaped measurement and tag set ("cpu,host=a"), cached."""
    key = ((measurement, *tags, *tags.values()) if tags else
           (measurement,))
    try:
        return _HEADS[key]
    except KeyError:
        pass
    except TypeError:       # an unhashable tag value: refused below
        key = None
    out = [_name("measurement", measurement, ", ")]
    if measurement.startswith("#"):
        _bad("measurement", measurement, "starts with '#' (a comment)")
    if tags:
        for k, v in tags.items():
            if k == "time":
                _bad("tag", k, "'time' cannot be a tag")
            out.append("," + _name("tag", k, ",= ") + "=" +
                       _name("tag value", v, ",= "))
    head = "".join(out)
    if key is not None:
        if len(_HEADS) >= _ESCAPED_MAX:
            _HEADS.clear()
        _HEADS[key] = head
    return head


def _checked_line(measurement, fields, tags, time):
    """line() the slow way: every name and value checked, in order, and
    the point's formatter learnt for the next one of its shape."""
    head = _head(measurement, tags)
    if not fields:
        _bad("fields", fields, "a point needs at least one field")
    out = []
    for k, v in fields.items():
        if k == "time":
            _bad("field", k, "'time' cannot be a field")
        out.append(_name("field", k, ",= ") + "=" + _field_value(k, v))
    if time is not None:
        end = " %d\n" % (time if type(time) is int else _time_ns(time))
    else:
        end = "\n"
    _learn_shape(fields, tuple(fields))
    return head + " " + ",".join(out) + end


def line(measurement, fields, tags=None, time=None):
    """One point as a line of line protocol (with its newline)."""
    try:
        fmt = _SHAPES[tuple(fields)]
        head = _HEADS[(measurement, *tags, *tags.values()) if tags else
                      (measurement,)]
    except (KeyError, TypeError):       # a miss, or nothing to hash
        return _checked_line(measurement, fields, tags, time)
    return (fmt(head, fields, time) or
            _checked_line(measurement, fields, tags, time))


def _directive(database, rp):
    """The routing line; partial=reject has the relay refuse, rather than
    store truncated, a line cut off by this process dying mid-send.  A
    quote is escaped: the relay's framing would take it for an open one."""
    def esc(s):
        return (s.replace("\\", "\\\\").replace(" ", "\\ ")
                .replace("\t", "\\\t").replace('"', '\\"'))
    return "#relay db=%s rp=%s partial=reject\n" % (esc(database),
                                                     esc(rp or ""))


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
        payload = "".join([line(p["measurement"], p["fields"],
                                p.get("tags"), p.get("time"))
                           for p in points])
        if payload:
            self._conn.send(self._route(database, retention_policy),
                            payload)

    @staticmethod
    def _route(database, rp):
        for what, name in (("database", database),
                           ("retention policy", rp)):
            if name is None or (what != "database" and name == ""):
                continue
            _name(what, name, "")
            # the relay refuses such a directive, and the points after it
            # would go where the one before sent them
            if any(c < " " or c == "\x7f" for c in name):
                _bad(what, name, "holds a control character")
        return (database, rp or "")
