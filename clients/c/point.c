/*
 * Building a point into the client's buffer as InfluxDB line protocol,
 * escaped so that InfluxDB 1.x (and the relay, which checks lines the
 * same way) reads back exactly the names and values given, with a
 * routing directive ("#relay db=NAME rp=NAME") before the first point
 * of each database and retention policy.
 *
 * A name that line protocol cannot carry is refused rather than sent
 * changed: an empty one, a newline or invalid UTF-8 in it, and a
 * backslash before a character the writer escapes (or at its end),
 * which InfluxDB's scanners pair differently from its unescaping.  No
 * allocation here: everything goes into the buffer conn.c sized.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "utf8.h"

/*
 * Byte classes: what each part escapes with a backslash (InfluxDB's
 * escape codes), what a backslash in it may not precede, and the bytes
 * no name may hold.
 */
#define POINT_MEASUREMENT	0x01	/* ',' ' ': a measurement's */
#define POINT_KEY		0x02	/* ',' '=' ' ': tags', field keys' */
#define POINT_FIELD_UNSAFE	0x04	/* those and '"', unescaped in keys */
#define POINT_NEWLINE		0x08

static const unsigned char point_class[256] = {
	[','] = POINT_MEASUREMENT | POINT_KEY | POINT_FIELD_UNSAFE,
	[' '] = POINT_MEASUREMENT | POINT_KEY | POINT_FIELD_UNSAFE,
	['='] = POINT_KEY | POINT_FIELD_UNSAFE,
	['"'] = POINT_FIELD_UNSAFE,
	['\n'] = POINT_NEWLINE,
	['\r'] = POINT_NEWLINE,
};

#define POINT_CLASS(c)	point_class[(unsigned char)(c)]

/* Notes what spoiled the open point; later calls return the same. */
static int
point_spoil(struct influx_relay *r, int error)
{
	if (r->error == 0)
		r->error = error;
	return r->error;
}

/*
 * Can line protocol carry this name so that it reads back the same?
 * `unsafe`: the class a backslash may not precede.
 */
static bool
point_name_ok(const char *s, size_t len, unsigned unsafe)
{
	unsigned char	 high = 0;
	size_t		 i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++) {
		high |= (unsigned char)s[i];
		if (POINT_CLASS(s[i]) & POINT_NEWLINE)
			return false;
		if (s[i] == '\\' &&
		    (i + 1 == len || (POINT_CLASS(s[i + 1]) & unsafe)))
			return false;
	}
	return (high & 0x80) == 0 || utf8_valid(s, len);
}

/* Appends `len` bytes of the open point. */
static int
point_put(struct influx_relay *r, const char *s, size_t len)
{
	int	 rc;

	if ((rc = ir_conn_reserve(r, len)) != 0)
		return rc;
	memcpy(r->buf + r->used, s, len);
	r->used += len;
	return INFLUX_RELAY_OK;
}

/* Appends a checked name, escaping the bytes of class `escaped`. */
static int
point_put_name(struct influx_relay *r, const char *s, size_t len,
    unsigned escaped)
{
	char	*out;
	size_t	 i, n = len;
	int	 rc;

	for (i = 0; i < len; i++)
		n += (POINT_CLASS(s[i]) & escaped) != 0;
	if ((rc = ir_conn_reserve(r, n)) != 0)
		return rc;
	out = r->buf + r->used;
	for (i = 0; i < len; i++) {
		if (POINT_CLASS(s[i]) & escaped)
			*out++ = '\\';
		*out++ = s[i];
	}
	r->used = (size_t)(out - r->buf);
	return INFLUX_RELAY_OK;
}

/*
 * Appends a directive's value: a backslash before blanks and itself, and
 * before '"', which the relay's framing would take for an open quote.
 */
static void
point_put_route(char **out, const char *key, const char *name)
{
	*out += sprintf(*out, " %s=", key);
	for (; *name != '\0'; name++) {
		if (*name == ' ' || *name == '\t' || *name == '\\' ||
		    *name == '"')
			*(*out)++ = '\\';
		*(*out)++ = *name;
	}
}

/* A database or retention policy name the relay accepts, or "". */
static bool
point_route_ok(const char *name)
{
	size_t		 len = strlen(name), i;

	if (len > CLIENT_NAME_MAX || !utf8_valid(name, len))
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return false;
	return true;
}

/* Routes the next points to `db`, `rp`, unless they go there already. */
static int
point_route(struct influx_relay *r, const char *db, const char *rp)
{
	char	 line[CLIENT_DIRECTIVE_MAX], *out = line;
	int	 rc;

	if (!point_route_ok(db) || !point_route_ok(rp))
		return INFLUX_RELAY_ENAME;
	if (strcmp(db, r->db) == 0 && strcmp(rp, r->rp) == 0)
		return INFLUX_RELAY_OK;
	out += sprintf(out, "#relay");
	point_put_route(&out, "db", db);
	point_put_route(&out, "rp", rp);
	*out++ = '\n';
	if ((rc = point_put(r, line, (size_t)(out - line))) != 0)
		return rc;
	ir_conn_line_done(r, true);
	strcpy(r->db, db);
	strcpy(r->rp, rp);
	return INFLUX_RELAY_OK;
}

int
influx_relay_begin_rp(struct influx_relay *r, const char *db,
    const char *rp, const char *measurement)
{
	size_t	 len;
	int	 rc;

	if (r == NULL || measurement == NULL)
		return INFLUX_RELAY_EINVAL;
	ir_conn_check_owner(r);
	if (r->stage != CLIENT_IDLE)
		return point_spoil(r, INFLUX_RELAY_EINVAL);
	/* a directive and the point: then ending them cannot fail */
	if ((rc = ir_conn_room_for_lines(r, 2)) == 0)
		rc = point_route(r, db == NULL ? "" : db,
		    rp == NULL ? "" : rp);
	r->stage = CLIENT_TAGS;
	r->point = r->tags = r->used;
	if (rc != 0)
		return point_spoil(r, rc);
	len = strlen(measurement);
	/* '#' makes a comment, and InfluxDB trims a leading tab */
	if (!point_name_ok(measurement, len, POINT_MEASUREMENT) ||
	    measurement[0] == '#' || measurement[0] == '\t')
		return point_spoil(r, INFLUX_RELAY_ENAME);
	if ((rc = point_put_name(r, measurement, len,
	    POINT_MEASUREMENT)) != 0)
		return point_spoil(r, rc);
	r->tags = r->used;
	return INFLUX_RELAY_OK;
}

int
influx_relay_begin(struct influx_relay *r, const char *db,
    const char *measurement)
{
	return influx_relay_begin_rp(r, db, NULL, measurement);
}

/* The end of the key or value of a tag at `p` (an '=', ',' or `end`). */
static const char *
point_tag_part_end(const char *p, const char *end, char sep)
{
	for (; p < end; p++)
		if (*p == sep && p[-1] != '\\')
			break;
	return p;
}

/*
 * Is the escaped `esc` the name `raw`?  The writer puts a backslash
 * only before a special, and a checked name has none there.
 */
static bool
point_key_is(const char *esc, size_t elen, const char *raw, size_t rlen)
{
	size_t	 i = 0, j = 0;

	for (; i < elen && j < rlen; i++, j++) {
		if (esc[i] == '\\' && i + 1 < elen &&
		    (POINT_CLASS(esc[i + 1]) & POINT_KEY))
			i++;
		if (esc[i] != raw[j])
			return false;
	}
	return i == elen && j == rlen;
}

/* Does the open point have tag `key` already? */
static bool
point_has_tag(const struct influx_relay *r, const char *key, size_t len)
{
	const char	*p = r->buf + r->tags, *end = r->buf + r->used;
	const char	*k;

	while (p < end) {
		k = ++p;			/* past the ',' */
		p = point_tag_part_end(k, end, '=');
		if (point_key_is(k, (size_t)(p - k), key, len))
			return true;
		p = point_tag_part_end(p, end, ',');
	}
	return false;
}

/* The checks every call on an open point makes first. */
static int
point_open(struct influx_relay *r, enum client_stage from,
    enum client_stage to)
{
	if (r == NULL)
		return INFLUX_RELAY_EINVAL;
	ir_conn_check_owner(r);		/* a child drops an inherited point */
	if (r->stage == CLIENT_IDLE)
		return INFLUX_RELAY_EINVAL;
	if (r->error != 0)
		return r->error;
	if (r->stage < from || r->stage > to)
		return point_spoil(r, INFLUX_RELAY_EINVAL);
	return INFLUX_RELAY_OK;
}

int
influx_relay_tag(struct influx_relay *r, const char *key, const char *value)
{
	size_t	 klen, vlen;
	int	 rc;

	if ((rc = point_open(r, CLIENT_TAGS, CLIENT_TAGS)) != 0)
		return rc;
	if (key == NULL || value == NULL)
		return point_spoil(r, INFLUX_RELAY_EINVAL);
	klen = strlen(key);
	vlen = strlen(value);
	if (!point_name_ok(key, klen, POINT_KEY) ||
	    !point_name_ok(value, vlen, POINT_KEY) ||
	    strcmp(key, "time") == 0)
		return point_spoil(r, INFLUX_RELAY_ENAME);
	if (point_has_tag(r, key, klen))
		return point_spoil(r, INFLUX_RELAY_EDUPTAG);
	if ((rc = point_put(r, ",", 1)) != 0 ||
	    (rc = point_put_name(r, key, klen, POINT_KEY)) != 0 ||
	    (rc = point_put(r, "=", 1)) != 0 ||
	    (rc = point_put_name(r, value, vlen, POINT_KEY)) != 0)
		return point_spoil(r, rc);
	return INFLUX_RELAY_OK;
}

/* Starts a field: its separator and key, after the checks. */
static int
point_field_key(struct influx_relay *r, const char *key)
{
	size_t	 len;
	int	 rc;

	if ((rc = point_open(r, CLIENT_TAGS, CLIENT_FIELDS)) != 0)
		return rc;
	if (key == NULL)
		return point_spoil(r, INFLUX_RELAY_EINVAL);
	len = strlen(key);
	/* InfluxDB drops a field called time, and trims a leading tab */
	if (!point_name_ok(key, len, POINT_FIELD_UNSAFE) ||
	    strcmp(key, "time") == 0 || key[0] == '\t')
		return point_spoil(r, INFLUX_RELAY_ENAME);
	if ((rc = point_put(r, r->stage == CLIENT_TAGS ? " " : ",", 1)) != 0 ||
	    (rc = point_put_name(r, key, len, POINT_KEY)) != 0 ||
	    (rc = point_put(r, "=", 1)) != 0)
		return point_spoil(r, rc);
	r->stage = CLIENT_FIELDS;
	return INFLUX_RELAY_OK;
}

/* A field whose value is `text` as written. */
static int
point_field(struct influx_relay *r, const char *key, const char *text,
    size_t len)
{
	int	 rc;

	if ((rc = point_field_key(r, key)) != 0)
		return rc;
	if ((rc = point_put(r, text, len)) != 0)
		return point_spoil(r, rc);
	return INFLUX_RELAY_OK;
}

/* Writes the digits of `v` to end just before `end`; returns the first. */
static char *
point_digits(char *end, uint64_t v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return end;
}

/* m / 10^k in decimal (k = 0: an integer), into `out`; the length. */
static size_t
point_format_decimal(char *out, int64_t m, int k)
{
	char		 digits[24], *end = digits + sizeof(digits), *d;
	char		*o = out;
	int		 n;

	d = point_digits(end, m < 0 ? 0 - (uint64_t)m : (uint64_t)m);
	n = (int)(end - d);
	if (m < 0)
		*o++ = '-';
	if (n <= k) {
		*o++ = '0';
		*o++ = '.';
		for (; n < k; k--)
			*o++ = '0';
	} else {
		memcpy(o, d, (size_t)(n - k));
		o += n - k;
		d += n - k;
		if (k > 0)
			*o++ = '.';
	}
	memcpy(o, d, (size_t)k);
	return (size_t)(o + k - out);
}

/*
 * A finite `v` in the fewest decimals that read back as `v` when it is
 * m / 10^k with m below 2^53 (most measured values are): that division
 * is correctly rounded, as strtod() is, so when it gives `v` back, so
 * does the text.  Otherwise "%.17g", which always does, at several
 * times the cost.
 */
static size_t
point_format_float(char *out, size_t size, double v)
{
	static const double	 p10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5,
	    1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
	    1e17 };
	double			 m;
	int64_t			 im;
	int			 k;

	if (v == 0)
		return (size_t)snprintf(out, size, signbit(v) ? "-0" : "0");
	for (k = 0; k < (int)(sizeof(p10) / sizeof(p10[0])); k++) {
		m = v * p10[k];
		if (fabs(m) >= 9007199254740992.0)	/* 2^53 */
			break;
		im = (int64_t)m;
		if ((double)im == m && (double)im / p10[k] == v)
			return point_format_decimal(out, im, k);
	}
	return (size_t)snprintf(out, size, "%.17g", v);
}

int
influx_relay_float(struct influx_relay *r, const char *key, double value)
{
	char	 text[32];

	if (r != NULL && r->stage != CLIENT_IDLE && !isfinite(value))
		return point_spoil(r, INFLUX_RELAY_EVALUE);
	return point_field(r, key, text,
	    point_format_float(text, sizeof(text), value));
}

int
influx_relay_integer(struct influx_relay *r, const char *key, int64_t value)
{
	char	 text[32];
	size_t	 n = point_format_decimal(text, value, 0);

	text[n++] = 'i';
	return point_field(r, key, text, n);
}

int
influx_relay_boolean(struct influx_relay *r, const char *key, bool value)
{
	return value ? point_field(r, key, "true", 4) :
	    point_field(r, key, "false", 5);
}

int
influx_relay_string(struct influx_relay *r, const char *key,
    const char *value)
{
	char	*out;
	size_t	 len, i, n;
	int	 rc;

	if ((rc = point_field_key(r, key)) != 0)
		return rc;
	if (value == NULL)
		return point_spoil(r, INFLUX_RELAY_EINVAL);
	len = strlen(value);
	for (i = 0, n = len + 2; i < len; i++)
		n += value[i] == '"' || value[i] == '\\';
	if ((rc = ir_conn_reserve(r, n)) != 0)
		return point_spoil(r, rc);
	out = r->buf + r->used;
	*out++ = '"';
	for (i = 0; i < len; i++) {
		if (value[i] == '"' || value[i] == '\\')
			*out++ = '\\';
		*out++ = value[i];
	}
	*out++ = '"';
	r->used = (size_t)(out - r->buf);
	return INFLUX_RELAY_OK;
}

int
influx_relay_time(struct influx_relay *r, int64_t ns)
{
	char	 text[32];
	int	 rc;

	if ((rc = point_open(r, CLIENT_FIELDS, CLIENT_FIELDS)) != 0)
		return rc;
	/* models.MinNanoTime and MaxNanoTime */
	if (ns < INT64_MIN + 2 || ns > INT64_MAX - 1)
		return point_spoil(r, INFLUX_RELAY_ETIME);
	text[0] = ' ';
	if ((rc = point_put(r, text,
	    1 + point_format_decimal(text + 1, ns, 0))) != 0)
		return point_spoil(r, rc);
	r->stage = CLIENT_TIMED;
	return INFLUX_RELAY_OK;
}

void
influx_relay_cancel(struct influx_relay *r)
{
	if (r == NULL || r->stage == CLIENT_IDLE)
		return;
	r->used = r->point;
	r->stage = CLIENT_IDLE;
	r->error = 0;
}

int
influx_relay_end(struct influx_relay *r)
{
	int	 rc;

	if (r == NULL)
		return INFLUX_RELAY_EINVAL;
	ir_conn_check_owner(r);
	if (r->stage == CLIENT_IDLE)
		return INFLUX_RELAY_EINVAL;
	if (r->error == 0 && r->stage == CLIENT_TAGS)
		point_spoil(r, INFLUX_RELAY_ENOFIELD);
	if (r->error == 0 && (rc = point_put(r, "\n", 1)) != 0)
		point_spoil(r, rc);
	if (r->error == 0)
		ir_conn_line_done(r, false);
	if ((rc = r->error) != 0) {
		influx_relay_cancel(r);
		return rc;
	}
	r->stage = CLIENT_IDLE;
	ir_conn_flush_if_full(r);
	return INFLUX_RELAY_OK;
}
