/*
 * Line protocol scanner, modelled on what InfluxDB 1.x accepts:
 *
 *   measurement[,tag=value...] field=value[,field=value...] [timestamp]
 *
 * Measurements end at an unescaped space or comma; keys and tag values
 * escape ',', '=' and ' ' with a backslash; string field values are
 * double-quoted with \" and \\ escapes.  A backslash always protects the
 * byte after it from being taken as a separator.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

struct proto_scan {
	const char	*p;
	const char	*end;
};

static const char *const proto_reasons[PROTO_NSTATUS] = {
	[PROTO_OK] = "ok",
	[PROTO_SKIP] = "skip",
	[PROTO_ERR_MEASUREMENT] = "missing measurement",
	[PROTO_ERR_TAG_KEY] = "missing tag key",
	[PROTO_ERR_TAG_VALUE] = "missing tag value",
	[PROTO_ERR_DUPLICATE_TAG] = "duplicate tags",
	[PROTO_ERR_FIELDS] = "missing fields",
	[PROTO_ERR_FIELD_KEY] = "missing field key",
	[PROTO_ERR_FIELD_VALUE] = "missing field value",
	[PROTO_ERR_STRING] = "unterminated string",
	[PROTO_ERR_NUMBER] = "invalid field value",
	[PROTO_ERR_INTEGER_RANGE] = "integer out of range",
	[PROTO_ERR_UNSIGNED] = "unsigned integers not supported",
	[PROTO_ERR_TIMESTAMP] = "bad timestamp",
	[PROTO_ERR_TIME_RANGE] = "timestamp out of range",
};

const char *
proto_strerror(enum proto_status st)
{
	if ((unsigned)st >= PROTO_NSTATUS)
		return "unknown";
	return proto_reasons[st];
}

/* Advances past an escaped name until one of the `stops` bytes. */
static size_t
proto_scan_name(struct proto_scan *s, const char *stops)
{
	const char	*start = s->p;

	while (s->p < s->end && strchr(stops, *s->p) == NULL) {
		if (*s->p == '\\' && s->p + 1 < s->end)
			s->p++;
		s->p++;
	}
	return (size_t)(s->p - start);
}

/* A tag key as written (escaped), for the duplicate check. */
struct proto_key {
	const char	*p;
	size_t		 len;
};

#define PROTO_MAX_KEYS	64	/* tracked on the stack; more: rescan */

/*
 * InfluxDB refuses a tag key that appears twice.  Keys are compared as
 * written, escapes included, as InfluxDB compares them.
 */
static bool
proto_is_duplicate(const struct proto_key *keys, unsigned n,
    const struct proto_key *k)
{
	unsigned	 i;

	for (i = 0; i < n && i < PROTO_MAX_KEYS; i++)
		if (keys[i].len == k->len &&
		    memcmp(keys[i].p, k->p, k->len) == 0)
			return true;
	return false;
}

/* Past PROTO_MAX_KEYS tags: compares `k` with every earlier tag key. */
static bool
proto_is_duplicate_slow(const char *tags, const struct proto_key *k)
{
	struct proto_scan	 s = { tags, k->p - 1 };
	const char		*start;

	while (s.p < s.end) {
		s.p++;				/* the ',' */
		start = s.p;
		proto_scan_name(&s, "=, ");
		if ((size_t)(s.p - start) == k->len &&
		    memcmp(start, k->p, k->len) == 0)
			return true;
		s.p++;				/* the '=' */
		proto_scan_name(&s, "=, ");
	}
	return false;
}

/* The measurement and the tag set, up to the space before the fields. */
static enum proto_status
proto_scan_series(struct proto_scan *s, struct proto_point *pt)
{
	struct proto_key	 keys[PROTO_MAX_KEYS], k;
	const char		*tags;

	if (proto_scan_name(s, ", ") == 0)
		return PROTO_ERR_MEASUREMENT;
	tags = s->p;
	while (s->p < s->end && *s->p == ',') {
		s->p++;
		k.p = s->p;
		if ((k.len = proto_scan_name(s, "=, ")) == 0)
			return PROTO_ERR_TAG_KEY;
		if (s->p == s->end || *s->p != '=')
			return PROTO_ERR_TAG_VALUE;
		s->p++;
		if (proto_scan_name(s, "=, ") == 0)
			return PROTO_ERR_TAG_VALUE;
		if (s->p < s->end && *s->p == '=')
			return PROTO_ERR_TAG_VALUE;
		if (proto_is_duplicate(keys, pt->ntags, &k) ||
		    (pt->ntags >= PROTO_MAX_KEYS &&
		    proto_is_duplicate_slow(tags, &k)))
			return PROTO_ERR_DUPLICATE_TAG;
		if (pt->ntags < PROTO_MAX_KEYS)
			keys[pt->ntags] = k;
		pt->ntags++;
	}
	if (s->p == s->end)
		return PROTO_ERR_FIELDS;
	return PROTO_OK;
}

static enum proto_status
proto_scan_string(struct proto_scan *s)
{
	for (s->p++; s->p < s->end; s->p++) {
		if (*s->p == '\\' && s->p + 1 < s->end)
			s->p++;
		else if (*s->p == '"') {
			s->p++;
			return PROTO_OK;
		}
	}
	return PROTO_ERR_STRING;
}

static bool
proto_is_bool(const char *v, size_t len)
{
	static const char *const spellings[] = {
		"t", "T", "true", "True", "TRUE",
		"f", "F", "false", "False", "FALSE",
	};
	size_t	 i;

	for (i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++)
		if (strlen(spellings[i]) == len &&
		    memcmp(spellings[i], v, len) == 0)
			return true;
	return false;
}

/* Checks an integer "-?[0-9]+" followed by 'i' against int64. */
static enum proto_status
proto_check_integer(const char *v, size_t len)
{
	char		 buf[24];
	char		*end;
	size_t		 i = (v[0] == '-');

	if (i == len)
		return PROTO_ERR_NUMBER;
	for (; i < len; i++)
		if (v[i] < '0' || v[i] > '9')
			return PROTO_ERR_NUMBER;
	if (len >= sizeof(buf))
		return PROTO_ERR_INTEGER_RANGE;
	memcpy(buf, v, len);
	buf[len] = '\0';
	errno = 0;
	(void)strtoll(buf, &end, 10);
	return errno == ERANGE ? PROTO_ERR_INTEGER_RANGE : PROTO_OK;
}

/* Checks a float: -?digits[.digits][e[+-]digits], finite. */
static enum proto_status
proto_check_float(const char *v, size_t len)
{
	char		 buf[512];
	const char	*p = v, *end = v + len;
	size_t		 digits = 0;
	char		*stop;
	double		 d;

	if (p < end && *p == '-')
		p++;
	for (; p < end && *p >= '0' && *p <= '9'; p++)
		digits++;
	if (p < end && *p == '.')
		for (p++; p < end && *p >= '0' && *p <= '9'; p++)
			digits++;
	if (digits == 0)
		return PROTO_ERR_NUMBER;
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end)
			return PROTO_ERR_NUMBER;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p != end || len >= sizeof(buf))
		return PROTO_ERR_NUMBER;
	memcpy(buf, v, len);
	buf[len] = '\0';
	errno = 0;
	d = strtod(buf, &stop);
	if (errno == ERANGE && (d > 1 || d < -1))
		return PROTO_ERR_NUMBER;
	return PROTO_OK;
}

static enum proto_status
proto_check_value(const char *v, size_t len)
{
	char	 last = v[len - 1];

	if (proto_is_bool(v, len))
		return PROTO_OK;
	if (last == 'i')
		return proto_check_integer(v, len - 1);
	if (last == 'u') {
		if (proto_check_integer(v, len - 1) == PROTO_OK && v[0] != '-')
			return PROTO_ERR_UNSIGNED;
		return PROTO_ERR_NUMBER;
	}
	return proto_check_float(v, len);
}

/* One field "key=value"; the scanner is left on the separator after it. */
static enum proto_status
proto_scan_field(struct proto_scan *s)
{
	const char		*value;
	enum proto_status	 st;

	if (proto_scan_name(s, "=, ") == 0)
		return PROTO_ERR_FIELD_KEY;
	if (s->p == s->end || *s->p != '=')
		return PROTO_ERR_FIELD_VALUE;
	value = ++s->p;
	if (s->p < s->end && *s->p == '"')
		return proto_scan_string(s);
	while (s->p < s->end && *s->p != ',' && *s->p != ' ')
		s->p++;
	if (s->p == value)
		return PROTO_ERR_FIELD_VALUE;
	st = proto_check_value(value, (size_t)(s->p - value));
	return st;
}

static enum proto_status
proto_scan_fields(struct proto_scan *s, struct proto_point *pt)
{
	enum proto_status	 st;

	for (;;) {
		if ((st = proto_scan_field(s)) != PROTO_OK)
			return st;
		pt->nfields++;
		if (s->p == s->end || *s->p == ' ')
			return PROTO_OK;
		if (*s->p != ',')
			return PROTO_ERR_NUMBER;
		s->p++;
	}
}

static enum proto_status
proto_scan_time(struct proto_scan *s, struct proto_point *pt)
{
	char		 buf[24];
	const char	*start;
	size_t		 len;
	char		*end;
	long long	 t;

	while (s->p < s->end && *s->p == ' ')
		s->p++;
	if (s->p == s->end)
		return PROTO_OK;
	start = s->p;
	if (*s->p == '-')
		s->p++;
	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	len = (size_t)(s->p - start);
	while (s->p < s->end && *s->p == ' ')
		s->p++;
	if (s->p != s->end || len == 0 || len >= sizeof(buf) ||
	    (len == 1 && *start == '-'))
		return PROTO_ERR_TIMESTAMP;
	memcpy(buf, start, len);
	buf[len] = '\0';
	errno = 0;
	t = strtoll(buf, &end, 10);
	if (errno == ERANGE || t < PROTO_MIN_TIME || t > PROTO_MAX_TIME)
		return PROTO_ERR_TIME_RANGE;
	pt->has_time = true;
	pt->time = t;
	return PROTO_OK;
}

enum proto_status
proto_parse(const char *line, size_t len, struct proto_point *pt)
{
	struct proto_scan	 s = { line, line + len };
	enum proto_status	 st;

	memset(pt, 0, sizeof(*pt));
	if (len > 0 && line[len - 1] == '\r')
		s.end--;
	while (s.p < s.end && *s.p == ' ')
		s.p++;
	if (s.p == s.end || *s.p == '#')
		return PROTO_SKIP;
	pt->body = s.p;
	if ((st = proto_scan_series(&s, pt)) != PROTO_OK)
		return st;
	while (s.p < s.end && *s.p == ' ')
		s.p++;
	if (s.p == s.end)
		return PROTO_ERR_FIELDS;
	if ((st = proto_scan_fields(&s, pt)) != PROTO_OK)
		return st;
	pt->body_len = (size_t)(s.p - pt->body);
	return proto_scan_time(&s, pt);
}

bool
proto_time_to_ns(int64_t t, int64_t mult, int64_t *ns)
{
	if (__builtin_mul_overflow(t, mult, ns))
		return false;
	return *ns >= PROTO_MIN_TIME && *ns <= PROTO_MAX_TIME;
}
