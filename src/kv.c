/*
 * key=value messages to line protocol.
 *
 * A message is pairs separated by spaces or tabs: key=value, where a key
 * is unquoted and a value is either unquoted (up to the next blank) or
 * double-quoted with \" and \\ as escapes (other backslashes literal).
 * Translation scans the pairs once into a table, classifies each key
 * (measurement, time, routing, tag or field), then writes
 * "measurement,tags fields" so the order of keys in the message does not
 * matter.  Only clean text goes out: control bytes and invalid UTF-8 are
 * rejected, as are names a backslash would make ambiguous, so what
 * InfluxDB stores is exactly what the message said.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "utf8.h"
#include "mem.h"
#include "proto.h"

enum kv_role { KV_FIELD, KV_TAG, KV_MEASUREMENT, KV_TIME, KV_DATABASE,
	KV_RP };

struct kv_pair {
	const char	*key;
	size_t		 klen;
	const char	*val;		/* raw: escapes not resolved */
	size_t		 vlen;
	bool		 quoted;
	enum kv_role	 role;
};

struct kv {
	struct kv_spec	 spec;
	char		*tag_list;	/* spec.tag_keys split at commas */
	const char	**tags;
	size_t		 ntags;
	size_t		 npairs;
	struct kv_pair	 pairs[KV_MAX_PAIRS];
};

/* Where translated bytes go; `full` once anything did not fit. */
struct kv_out {
	char		*p;
	char		*end;
	bool		 full;
};

static const char *const kv_reasons[KV_NSTATUS] = {
	[KV_OK] = "ok",
	[KV_SKIP] = "skip",
	[KV_ERR_PAIR] = "bad pair",
	[KV_ERR_KEY] = "bad key",
	[KV_ERR_VALUE] = "bad value",
	[KV_ERR_DUPLICATE] = "duplicate key",
	[KV_ERR_RESERVED] = "key 'time' is reserved",
	[KV_ERR_BACKSLASH] = "backslash before a separator",
	[KV_ERR_MEASUREMENT] = "missing measurement",
	[KV_ERR_FIELDS] = "no fields",
	[KV_ERR_INTEGER_RANGE] = "integer out of range",
	[KV_ERR_NUMBER_RANGE] = "number out of range",
	[KV_ERR_UNSIGNED] = "unsigned integers not supported",
	[KV_ERR_TIME] = "bad time",
	[KV_ERR_TIME_RANGE] = "time out of range",
	[KV_ERR_TOO_MANY] = "too many pairs",
	[KV_ERR_TOO_LONG] = "message too long",
};

const char *
kv_strerror(enum kv_status st)
{
	if ((unsigned)st >= KV_NSTATUS)
		return "unknown";
	return kv_reasons[st];
}

struct kv *
kv_new(const struct kv_spec *spec, char *err, size_t errlen)
{
	struct kv	*kv = xcalloc(1, sizeof(*kv));
	char		*tok, *save = NULL;

	kv->spec = *spec;
	if (spec->measurement_key[0] == '\0') {
		snprintf(err, errlen, "measurement_key is empty");
		kv_free(kv);
		return NULL;
	}
	kv->tag_list = xstrdup(spec->tag_keys);
	for (tok = strtok_r(kv->tag_list, ", \t", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &save)) {
		kv->tags = xreallocarray(kv->tags, kv->ntags + 1,
		    sizeof(*kv->tags));
		kv->tags[kv->ntags++] = tok;
	}
	return kv;
}

void
kv_free(struct kv *kv)
{
	if (kv == NULL)
		return;
	free(kv->tags);
	free(kv->tag_list);
	free(kv);
}

static bool
kv_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Valid UTF-8 without control bytes (a tab too, unless `tab`). */
static bool
kv_clean_text(const char *s, size_t len, bool tab)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, n;

	while (i < len) {
		if ((p[i] < 0x20 && !(tab && p[i] == '\t')) || p[i] == 0x7f)
			return false;
		if ((n = utf8_len(p + i, len - i)) == 0)
			return false;
		i += n;
	}
	return true;
}

/* A quoted value: `*p` is on the opening quote; ends past the closing. */
static enum kv_status
kv_scan_quoted(const char **p, const char *end, struct kv_pair *pair)
{
	const char	*s = *p + 1;

	pair->quoted = true;
	pair->val = s;
	for (; s < end; s++) {
		if (*s == '\\' && s + 1 < end && (s[1] == '"' || s[1] == '\\'))
			s++;
		else if (*s == '"')
			break;
	}
	if (s == end)
		return KV_ERR_PAIR;
	pair->vlen = (size_t)(s - pair->val);
	*p = s + 1;
	if (*p < end && !kv_is_blank(**p))
		return KV_ERR_PAIR;
	return KV_OK;
}

/* One key=value at `*p`, which is on a non-blank byte. */
static enum kv_status
kv_scan_pair(const char **p, const char *end, struct kv_pair *pair)
{
	const char	*s = *p;

	pair->key = s;
	while (s < end && *s != '=' && *s != '"' && !kv_is_blank(*s))
		s++;
	pair->klen = (size_t)(s - pair->key);
	if (pair->klen == 0 || s == end || *s != '=')
		return KV_ERR_PAIR;
	s++;
	if (s < end && *s == '"') {
		*p = s;
		return kv_scan_quoted(p, end, pair);
	}
	pair->quoted = false;
	pair->val = s;
	while (s < end && !kv_is_blank(*s)) {
		if (*s == '"')
			return KV_ERR_PAIR;
		s++;
	}
	pair->vlen = (size_t)(s - pair->val);
	*p = s;
	return KV_OK;
}

static bool
kv_key_is(const struct kv_pair *pair, const char *name)
{
	size_t	 len = strlen(name);

	return len > 0 && pair->klen == len &&
	    memcmp(pair->key, name, len) == 0;
}

static enum kv_role
kv_classify(const struct kv *kv, const struct kv_pair *pair)
{
	size_t	 i;

	if (kv_key_is(pair, kv->spec.measurement_key))
		return KV_MEASUREMENT;
	if (kv_key_is(pair, kv->spec.time_key))
		return KV_TIME;
	if (kv_key_is(pair, kv->spec.database_key))
		return KV_DATABASE;
	if (kv_key_is(pair, kv->spec.retention_policy_key))
		return KV_RP;
	for (i = 0; i < kv->ntags; i++)
		if (kv_key_is(pair, kv->tags[i]))
			return KV_TAG;
	return KV_FIELD;
}

/* Checks the text of one pair and that its key is new. */
static enum kv_status
kv_check_pair(const struct kv *kv, const struct kv_pair *pair)
{
	size_t	 i;

	if (!kv_clean_text(pair->key, pair->klen, false))
		return KV_ERR_KEY;
	if (!kv_clean_text(pair->val, pair->vlen, pair->quoted))
		return KV_ERR_VALUE;
	for (i = 0; i < kv->npairs; i++)
		if (kv->pairs[i].klen == pair->klen &&
		    memcmp(kv->pairs[i].key, pair->key, pair->klen) == 0)
			return KV_ERR_DUPLICATE;
	return KV_OK;
}

/* Splits the message into kv->pairs. */
static enum kv_status
kv_scan(struct kv *kv, const char *p, const char *end)
{
	struct kv_pair	*pair;
	enum kv_status	 st;

	kv->npairs = 0;
	for (;;) {
		while (p < end && kv_is_blank(*p))
			p++;
		if (p == end)
			return KV_OK;
		if (kv->npairs == KV_MAX_PAIRS)
			return KV_ERR_TOO_MANY;
		pair = &kv->pairs[kv->npairs];
		if ((st = kv_scan_pair(&p, end, pair)) != KV_OK ||
		    (st = kv_check_pair(kv, pair)) != KV_OK)
			return st;
		pair->role = kv_classify(kv, pair);
		if ((pair->role == KV_FIELD || pair->role == KV_TAG) &&
		    kv_key_is(pair, "time"))
			return KV_ERR_RESERVED;
		kv->npairs++;
	}
}

static void
kv_put(struct kv_out *o, const char *s, size_t len)
{
	if (o->full || (size_t)(o->end - o->p) < len) {
		o->full = true;
		return;
	}
	memcpy(o->p, s, len);
	o->p += len;
}

static void
kv_putc(struct kv_out *o, char c)
{
	kv_put(o, &c, 1);
}

/*
 * Calls `fn` for each byte of a value with the quoting undone.  Returns
 * false as soon as `fn` does.
 */
static bool
kv_each_byte(const struct kv_pair *pair, bool (*fn)(void *, char, char),
    void *arg)
{
	const char	*s = pair->val, *end = s + pair->vlen;
	char		 c, next;

	while (s < end) {
		c = *s++;
		if (pair->quoted && c == '\\' && s < end &&
		    (*s == '"' || *s == '\\'))
			c = *s++;
		next = '\0';
		if (s < end)
			next = (pair->quoted && *s == '\\' && s + 1 < end &&
			    (s[1] == '"' || s[1] == '\\')) ? s[1] : *s;
		if (!fn(arg, c, next))
			return false;
	}
	return true;
}

/* An identifier being written with line-protocol escapes. */
struct kv_ident {
	struct kv_out	*o;
	const char	*specials;	/* bytes to backslash-escape */
};

static bool
kv_ident_byte(void *arg, char c, char next)
{
	struct kv_ident	*id = arg;

	/*
	 * InfluxDB reads "\," as an escaped comma whatever precedes the
	 * backslash, so a literal backslash before a separator (or at the
	 * end, before the one we add) cannot be written unambiguously.
	 */
	if (c == '\\' && (next == '\0' || strchr(id->specials, next) != NULL))
		return false;
	if (strchr(id->specials, c) != NULL)
		kv_putc(id->o, '\\');
	kv_putc(id->o, c);
	return true;
}

static enum kv_status
kv_put_ident(struct kv_out *o, const struct kv_pair *pair, bool key,
    const char *specials)
{
	struct kv_ident		 id = { o, specials };
	struct kv_pair		 k = { .key = pair->key, .klen = pair->klen,
				    .val = pair->key, .vlen = pair->klen };

	if (!kv_each_byte(key ? &k : pair, kv_ident_byte, &id))
		return KV_ERR_BACKSLASH;
	return KV_OK;
}

static bool
kv_string_byte(void *arg, char c, char next)
{
	struct kv_out	*o = arg;

	if (c == '"' || c == '\\')
		kv_putc(o, '\\');
	kv_putc(o, c);
	return true;
}

static bool
kv_raw_byte(void *arg, char c, char next)
{
	kv_putc(arg, c);
	return true;
}

/* True if s[0..len) is "-?[0-9]+" (the sign only if `sign`). */
static bool
kv_is_integer(const char *s, size_t len, bool sign)
{
	size_t	 i = (sign && len > 0 && s[0] == '-');

	if (i == len)
		return false;
	for (; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Parses "-?[0-9]+" into an int64; false if it does not fit. */
static bool
kv_parse_int64(const char *s, size_t len, int64_t *v)
{
	char		 buf[24];
	long long	 n;

	if (len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	n = strtoll(buf, NULL, 10);
	if (errno == ERANGE)
		return false;
	*v = n;
	return true;
}

/* Is it -?digits[.digits][e[+-]digits] with at least one digit? */
static bool
kv_is_float(const char *s, size_t len)
{
	const char	*p = s, *end = s + len;
	size_t		 digits = 0;

	if (p < end && *p == '-')
		p++;
	for (; p < end && *p >= '0' && *p <= '9'; p++)
		digits++;
	if (p < end && *p == '.')
		for (p++; p < end && *p >= '0' && *p <= '9'; p++)
			digits++;
	if (digits == 0)
		return false;
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end || *p < '0' || *p > '9')
			return false;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	return p == end;
}

static bool
kv_float_finite(const char *s, size_t len)
{
	char	 buf[128];
	double	 d;

	if (len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	d = strtod(buf, NULL);
	/* underflow to 0 is fine, as for InfluxDB; overflow is not */
	return !(errno == ERANGE && (d > 1 || d < -1));
}

enum kv_type { KV_T_STRING, KV_T_BOOL, KV_T_INTEGER, KV_T_FLOAT };

/* The type of an unquoted field value, or an error. */
static enum kv_status
kv_field_type(const char *v, size_t len, enum kv_type *type)
{
	int64_t	 n;

	*type = KV_T_STRING;
	if (len == 0)
		return KV_OK;
	if ((len == 4 && memcmp(v, "true", 4) == 0) ||
	    (len == 5 && memcmp(v, "false", 5) == 0))
		*type = KV_T_BOOL;
	else if (v[len - 1] == 'i' && kv_is_integer(v, len - 1, true)) {
		if (!kv_parse_int64(v, len - 1, &n))
			return KV_ERR_INTEGER_RANGE;
		*type = KV_T_INTEGER;
	} else if (v[len - 1] == 'u' && kv_is_integer(v, len - 1, false))
		return KV_ERR_UNSIGNED;	/* InfluxDB 1.x has no unsigned */
	else if (kv_is_float(v, len)) {
		if (!kv_float_finite(v, len))
			return KV_ERR_NUMBER_RANGE;
		*type = KV_T_FLOAT;
	}
	return KV_OK;
}

static enum kv_status
kv_put_field(struct kv_out *o, const struct kv_pair *pair)
{
	enum kv_type	 type = KV_T_STRING;
	enum kv_status	 st;

	if ((st = kv_put_ident(o, pair, true, ", =")) != KV_OK)
		return st;
	kv_putc(o, '=');
	if (!pair->quoted &&
	    (st = kv_field_type(pair->val, pair->vlen, &type)) != KV_OK)
		return st;
	if (type != KV_T_STRING) {
		kv_put(o, pair->val, pair->vlen);
		return KV_OK;
	}
	kv_putc(o, '"');
	kv_each_byte(pair, kv_string_byte, o);
	kv_putc(o, '"');
	return KV_OK;
}

/* Writes "measurement,tags fields" (no timestamp). */
static enum kv_status
kv_put_body(const struct kv *kv, const struct kv_pair *m, struct kv_out *o,
    struct kv_point *pt)
{
	enum kv_status	 st;
	size_t		 i;

	/*
	 * A leading '#' would read as a comment; a leading tab (a space is
	 * escaped) would be trimmed by InfluxDB, the measurement lost.
	 */
	if (m->val[0] == '#' || m->val[0] == '\t')
		return KV_ERR_MEASUREMENT;
	if ((st = kv_put_ident(o, m, false, ", ")) != KV_OK)
		return st;
	for (i = 0; i < kv->npairs; i++) {
		const struct kv_pair	*p = &kv->pairs[i];

		if (p->role != KV_TAG || p->vlen == 0)
			continue;	/* InfluxDB has no empty tags */
		kv_putc(o, ',');
		if ((st = kv_put_ident(o, p, true, ", =")) != KV_OK)
			return st;
		kv_putc(o, '=');
		if ((st = kv_put_ident(o, p, false, ", =")) != KV_OK)
			return st;
		pt->ntags++;
	}
	for (i = 0; i < kv->npairs; i++) {
		if (kv->pairs[i].role != KV_FIELD)
			continue;
		kv_putc(o, pt->nfields == 0 ? ' ' : ',');
		if ((st = kv_put_field(o, &kv->pairs[i])) != KV_OK)
			return st;
		pt->nfields++;
	}
	return pt->nfields == 0 ? KV_ERR_FIELDS : KV_OK;
}

/* Copies a routing value, unquoted and NUL-terminated; NULL if empty. */
static const char *
kv_put_route(struct kv_out *o, const struct kv_pair *pair)
{
	const char	*start = o->p;

	if (pair == NULL || pair->vlen == 0)
		return NULL;
	kv_each_byte(pair, kv_raw_byte, o);
	kv_putc(o, '\0');
	return o->full ? NULL : start;
}

static enum kv_status
kv_parse_time(const struct kv *kv, const struct kv_pair *pair, int64_t *ns)
{
	int64_t	 t;

	if (kv_is_integer(pair->val, pair->vlen, true)) {
		if (!kv_parse_int64(pair->val, pair->vlen, &t) ||
		    !proto_time_to_ns(t, kv->spec.precision_mult, ns))
			return KV_ERR_TIME_RANGE;
		return KV_OK;
	}
	if (!kv_parse_rfc3339(pair->val, pair->vlen, ns))
		return KV_ERR_TIME;
	if (*ns < PROTO_MIN_TIME || *ns > PROTO_MAX_TIME)
		return KV_ERR_TIME_RANGE;
	return KV_OK;
}

static const struct kv_pair *
kv_find_role(const struct kv *kv, enum kv_role role)
{
	size_t	 i;

	for (i = 0; i < kv->npairs; i++)
		if (kv->pairs[i].role == role)
			return &kv->pairs[i];
	return NULL;
}

enum kv_status
kv_translate(struct kv *kv, const char *msg, size_t len, char *out,
    size_t outsize, struct kv_point *pt)
{
	struct kv_out		 o = { out, out + outsize, false };
	const struct kv_pair	*m, *t;
	const char		*p = msg, *end = msg + len;
	enum kv_status		 st;

	memset(pt, 0, sizeof(*pt));
	if (len > 0 && end[-1] == '\r')
		end--;
	while (p < end && kv_is_blank(*p))
		p++;
	if (p == end || *p == '#')
		return KV_SKIP;
	if ((st = kv_scan(kv, p, end)) != KV_OK)
		return st;
	if ((m = kv_find_role(kv, KV_MEASUREMENT)) == NULL || m->vlen == 0)
		return KV_ERR_MEASUREMENT;
	if ((t = kv_find_role(kv, KV_TIME)) != NULL) {
		if ((st = kv_parse_time(kv, t, &pt->time)) != KV_OK)
			return st;
		pt->has_time = true;
	}
	if ((st = kv_put_body(kv, m, &o, pt)) != KV_OK)
		return st;
	pt->body_len = (size_t)(o.p - out);
	pt->database = kv_put_route(&o, kv_find_role(kv, KV_DATABASE));
	pt->retention_policy = kv_put_route(&o, kv_find_role(kv, KV_RP));
	return o.full ? KV_ERR_TOO_LONG : KV_OK;
}

/* Reads `n` digits at `*p` into `*v`; false if any is not a digit. */
static bool
kv_digits(const char **p, const char *end, size_t n, int *v)
{
	const char	*s = *p;

	if ((size_t)(end - s) < n)
		return false;
	*v = 0;
	for (; n > 0; n--, s++) {
		if (*s < '0' || *s > '9')
			return false;
		*v = *v * 10 + (*s - '0');
	}
	*p = s;
	return true;
}

static bool
kv_expect(const char **p, const char *end, const char *one_of)
{
	if (*p == end || strchr(one_of, **p) == NULL || **p == '\0')
		return false;
	(*p)++;
	return true;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t
kv_days_from_civil(int64_t y, int m, int d)
{
	int64_t		 era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
kv_month_days(int y, int m)
{
	static const int	 days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
				    31, 30, 31 };

	if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return 29;
	return days[m - 1];
}

/* ".123" up to 9 digits as ns; `*p` stays put without a '.'. */
static bool
kv_fraction(const char **p, const char *end, int64_t *ns)
{
	int64_t	 scale = 100000000;
	size_t	 n = 0;

	*ns = 0;
	if (*p == end || **p != '.')
		return true;
	for ((*p)++; *p < end && **p >= '0' && **p <= '9'; (*p)++, n++) {
		if (n == 9)
			return false;
		*ns += (**p - '0') * scale;
		scale /= 10;
	}
	return n > 0;
}

/* "Z" or "+hh:mm" / "-hh:mm" as seconds east of UTC. */
static bool
kv_offset(const char **p, const char *end, int64_t *secs)
{
	int	 sign, h, m;

	if (*p < end && (**p == 'Z' || **p == 'z')) {
		(*p)++;
		*secs = 0;
		return true;
	}
	if (*p == end || (**p != '+' && **p != '-'))
		return false;
	sign = **p == '-' ? -1 : 1;
	(*p)++;
	if (!kv_digits(p, end, 2, &h) || !kv_expect(p, end, ":") ||
	    !kv_digits(p, end, 2, &m) || h > 23 || m > 59)
		return false;
	*secs = sign * (h * 3600 + m * 60);
	return true;
}

bool
kv_parse_rfc3339(const char *s, size_t len, int64_t *ns)
{
	const char	*p = s, *end = s + len;
	int		 y, mo, d, h, mi, sec;
	int64_t		 frac, off, secs;

	if (!kv_digits(&p, end, 4, &y) || !kv_expect(&p, end, "-") ||
	    !kv_digits(&p, end, 2, &mo) || !kv_expect(&p, end, "-") ||
	    !kv_digits(&p, end, 2, &d) || !kv_expect(&p, end, "Tt ") ||
	    !kv_digits(&p, end, 2, &h) || !kv_expect(&p, end, ":") ||
	    !kv_digits(&p, end, 2, &mi) || !kv_expect(&p, end, ":") ||
	    !kv_digits(&p, end, 2, &sec) || !kv_fraction(&p, end, &frac) ||
	    !kv_offset(&p, end, &off) || p != end)
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > kv_month_days(y, mo) ||
	    h > 23 || mi > 59 || sec > 59)
		return false;
	/* years 0000-9999 keep this far inside int64 before scaling */
	secs = kv_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 +
	    sec - off;
	/* beyond int64 ns: saturate, so callers see "out of range" */
	if (__builtin_mul_overflow(secs, (int64_t)1000000000, ns) ||
	    __builtin_add_overflow(*ns, frac, ns))
		*ns = secs < 0 ? INT64_MIN : INT64_MAX;
	return true;
}
