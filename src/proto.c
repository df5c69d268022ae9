/*
 * Line protocol, checked the way InfluxDB 1.6 checks it (models/points.go
 * and the write path behind it), so that a line the relay accepts is
 * stored exactly as InfluxDB stores it and a line InfluxDB refuses never
 * reaches a batch:
 *
 *   measurement[,tag=value...] field=value[,field=value...] [timestamp]
 *
 * InfluxDB's grammar has quirks, reproduced here on purpose:
 * - in the measurement and tags, any byte after a backslash is escaped
 *   (so "a\\ b" is one name), while in fields a backslash pairs with the
 *   byte after it;
 * - leading blanks (space, tab, NUL) are skipped, and so are blanks
 *   before the fields and the timestamp; elsewhere a tab is an ordinary
 *   byte;
 * - a field value is a number, one of ten boolean spellings, or a quoted
 *   string, which may be followed by junk up to the next separator;
 * - the write path then splits the fields again, differently (the field
 *   iterator), and refuses a "time" tag, a point whose only field is
 *   "time", invalid UTF-8 in measurement or field names, and one field
 *   key given two types.
 * The forwarded line is the body plus " TIMESTAMP\n"; a body InfluxDB
 * would frame differently in a batch is refused as ambiguous.
 */
#include "config.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "utf8.h"

struct proto_scan {
	const char	*p;
	const char	*end;
	unsigned	 seen;		/* PROTO_SEEN_* met on the way */
	/* for proto_next_special(), set by proto_scan_start() */
	const char	*start;		/* the first byte it may read */
	const char	*block;		/* the 64 bytes `mask` describes */
	uint64_t	 mask;		/* bit i: block[i] is special */
};

/*
 * Bytes the scanners must look at; runs of other bytes are skipped (see
 * proto_next_special()).  Seeing a backslash, quote or newline also
 * tells the slower checks they have work to do.
 */
#define PROTO_SPECIAL		0x01	/* ends a run */
#define PROTO_SEEN_ODD		0x02	/* '\\', '"' or '\n': check framing */
#define PROTO_SEEN_FIELD_ODD	0x04	/* '\\' or '"' in the fields */
#define PROTO_SEEN_HIGH		0x08	/* a byte >= 0x80: check UTF-8 */

#define PROTO_ODD	(PROTO_SPECIAL | PROTO_SEEN_ODD)
#define PROTO_HIGH	(PROTO_SPECIAL | PROTO_SEEN_HIGH)
#define PROTO_HIGH_16	PROTO_HIGH, PROTO_HIGH, PROTO_HIGH, PROTO_HIGH, \
	PROTO_HIGH, PROTO_HIGH, PROTO_HIGH, PROTO_HIGH, PROTO_HIGH, \
	PROTO_HIGH, PROTO_HIGH, PROTO_HIGH, PROTO_HIGH, PROTO_HIGH, \
	PROTO_HIGH, PROTO_HIGH
static const unsigned char proto_special[256] = {
	['\\'] = PROTO_ODD | PROTO_SEEN_FIELD_ODD,
	['"'] = PROTO_ODD | PROTO_SEEN_FIELD_ODD,
	['\n'] = PROTO_ODD,
	[','] = PROTO_SPECIAL, [' '] = PROTO_SPECIAL, ['='] = PROTO_SPECIAL,
	[0x80] = PROTO_HIGH_16, PROTO_HIGH_16, PROTO_HIGH_16, PROTO_HIGH_16,
	PROTO_HIGH_16, PROTO_HIGH_16, PROTO_HIGH_16, PROTO_HIGH_16,
};

/*
 * Names need a UTF-8 check only if a byte >= 0x80 was seen, or an escape
 * (which the scanners step over unseen) or a quote (after which the field
 * iterator may split keys from other bytes) was.
 */
#define PROTO_SEEN_UTF8	(PROTO_SEEN_HIGH | PROTO_SEEN_ODD)

#ifdef __SSE2__
/* Bit i set if p[i] (of 16) is special: six compares and the top bit. */
static inline uint64_t
proto_classify_16(const char *p)
{
	__m128i	 v = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i	 m;

	m = _mm_or_si128(
	    _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(',')),
	    _mm_cmpeq_epi8(v, _mm_set1_epi8(' '))),
	    _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('=')),
	    _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
	m = _mm_or_si128(m, _mm_or_si128(
	    _mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
	    _mm_cmpeq_epi8(v, _mm_set1_epi8('\n'))));
	/* a byte >= 0x80 has its top bit set already */
	return (uint64_t)(unsigned)_mm_movemask_epi8(_mm_or_si128(m, v));
}
#endif

/* Bit i set if p[i] (of 64, all readable) is special. */
static uint64_t
proto_classify_64(const char *p)
{
	uint64_t	 mask = 0;
	unsigned	 i;

#ifdef __SSE2__
	for (i = 0; i < 64; i += 16)
		mask |= proto_classify_16(p + i) << i;
#else
	for (i = 0; i < 64; i++)
		mask |= (uint64_t)(proto_special[(unsigned char)p[i]] != 0) <<
		    i;
#endif
	return mask;
}

/*
 * Classifies the 64 bytes from `p` (or the last 64 of the scan, when
 * fewer are left), so that a scanner jumps from one special byte to the
 * next instead of looking up every byte: most runs between separators
 * are names and numbers of a few bytes, and a line of 100 bytes or so
 * costs two classifications.  A short scan is copied out first, since
 * nothing past `end` may be read.
 */
static void
proto_classify(struct proto_scan *s, const char *p)
{
	char	 buf[64];
	size_t	 left = (size_t)(s->end - p);

	if (left >= 64 || s->end - s->start >= 64) {
		s->block = left >= 64 ? p : s->end - 64;
		s->mask = proto_classify_64(s->block);
		return;
	}
	/* NUL is not special: the padding never matches */
	memset(buf, 0, sizeof(buf));
	memcpy(buf, p, left);
	s->block = p;
	s->mask = proto_classify_64(buf);
}

/* Readies `s` to scan [p, end); the scanners never read before `p`. */
static void
proto_scan_start(struct proto_scan *s, const char *p, const char *end)
{
	s->p = s->start = p;
	s->end = end;
	s->seen = 0;
	proto_classify(s, p);
}

/* The first special byte at or after `p`, or the end of the scan. */
static inline const char *
proto_next_special(struct proto_scan *s, const char *p)
{
	uint64_t	 m;

	while (p < s->end) {
		/* scans only move forward, within the block or past it */
		if (p - s->block >= 64)
			proto_classify(s, p);
		m = s->mask >> (p - s->block);
		if (m != 0)
			return p + __builtin_ctzll(m);
		p = s->block + 64;
	}
	return s->end;
}

/* A tag key as written (escaped), for the duplicate check. */
struct proto_key {
	const char	*p;
	size_t		 len;
};

/* One field as the field iterator splits them. */
struct proto_field {
	const char	*key;
	size_t		 key_len;
	const char	*value;
	size_t		 value_len;
	enum proto_type	 type;
};

#define PROTO_MAX_KEYS		64	/* tags tracked on the stack */
#define PROTO_MAX_FIELDS	32	/* fields tracked on the stack */
#define PROTO_MAX_SIGNIFICANT	40	/* float digits given to strtod */

static const char *const proto_reasons[PROTO_NSTATUS] = {
	[PROTO_OK] = "ok",
	[PROTO_SKIP] = "skip",
	[PROTO_ERR_MEASUREMENT] = "missing measurement",
	[PROTO_ERR_TAG_KEY] = "missing tag key",
	[PROTO_ERR_TAG_VALUE] = "missing tag value",
	[PROTO_ERR_TAG_FORMAT] = "invalid tag format",
	[PROTO_ERR_DUPLICATE_TAG] = "duplicate tags",
	[PROTO_ERR_FIELDS] = "missing fields",
	[PROTO_ERR_FIELD_KEY] = "missing field key",
	[PROTO_ERR_FIELD_VALUE] = "missing field value",
	[PROTO_ERR_FIELD_FORMAT] = "invalid field format",
	[PROTO_ERR_STRING] = "unbalanced quotes",
	[PROTO_ERR_NUMBER] = "invalid number",
	[PROTO_ERR_BOOLEAN] = "invalid boolean",
	[PROTO_ERR_INTEGER_RANGE] = "integer out of range",
	[PROTO_ERR_UNSIGNED] = "unsigned integers not supported",
	[PROTO_ERR_TIMESTAMP] = "bad timestamp",
	[PROTO_ERR_TIME_RANGE] = "timestamp out of range",
	[PROTO_ERR_KEY_LENGTH] = "max key length exceeded",
	[PROTO_ERR_TIME_KEY] = "time as a tag or the only field",
	[PROTO_ERR_TYPE_CONFLICT] = "field type conflict",
	[PROTO_ERR_UTF8] = "invalid UTF-8 in a name",
	[PROTO_ERR_AMBIGUOUS] = "ambiguous line end",
};

const char *
proto_strerror(enum proto_status st)
{
	if ((unsigned)st >= PROTO_NSTATUS)
		return "unknown";
	return proto_reasons[st];
}

static bool
proto_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* InfluxDB's skipWhitespace: NUL counts as a blank. */
static void
proto_skip_blanks(struct proto_scan *s)
{
	while (s->p < s->end &&
	    (*s->p == ' ' || *s->p == '\t' || *s->p == '\0'))
		s->p++;
}

/* Notes the bytes that call for the framing and field checks. */
static void
proto_note(struct proto_scan *s, char c, bool fields)
{
	s->seen |= proto_special[(unsigned char)c] & (PROTO_SEEN_ODD |
	    PROTO_SEEN_HIGH | (fields ? PROTO_SEEN_FIELD_ODD : 0));
}

/*
 * The rest of a measurement or tag value, whose first byte is taken:
 * any byte after a backslash is escaped.  Leaves `s` on the ',' or ' '
 * after it, PROTO_ERR_FIELDS at the end, PROTO_ERR_TAG_FORMAT at a bare
 * '=' if `is_tag`.
 */
static enum proto_status
proto_scan_name(struct proto_scan *s, bool is_tag)
{
	const char	*p;

	for (p = proto_next_special(s, s->p + 1); p < s->end;
	    p = proto_next_special(s, p + 1)) {
		if (p[-1] == '\\')
			continue;
		if (*p == ',' || *p == ' ') {
			s->p = p;
			return PROTO_OK;
		}
		if (*p == '=' && is_tag) {
			s->p = p;
			return PROTO_ERR_TAG_FORMAT;
		}
		proto_note(s, *p, false);
	}
	s->p = p;
	return PROTO_ERR_FIELDS;
}

/* The measurement; leaves `s` on the ',' or ' ' after it. */
static enum proto_status
proto_scan_measurement(struct proto_scan *s)
{
	if (s->p == s->end || *s->p == ',')
		return PROTO_ERR_MEASUREMENT;
	proto_note(s, *s->p, false);
	return proto_scan_name(s, false);
}

/* A tag key up to its '='; leaves `s` on the value. */
static enum proto_status
proto_scan_tag_key(struct proto_scan *s, struct proto_key *k)
{
	if (s->p == s->end || *s->p == ' ' || *s->p == ',' || *s->p == '=')
		return PROTO_ERR_TAG_KEY;
	k->p = s->p;
	proto_note(s, *s->p, false);
	for (s->p = proto_next_special(s, s->p + 1); s->p < s->end;
	    s->p = proto_next_special(s, s->p + 1)) {
		if (s->p[-1] == '\\')
			continue;
		if (*s->p == ' ' || *s->p == ',')
			return PROTO_ERR_TAG_VALUE;
		if (*s->p == '=') {
			k->len = (size_t)(s->p++ - k->p);
			return PROTO_OK;
		}
		proto_note(s, *s->p, false);
	}
	return PROTO_ERR_TAG_VALUE;
}

/* A tag value; leaves `s` on the ',' or ' ' after it. */
static enum proto_status
proto_scan_tag_value(struct proto_scan *s)
{
	if (s->p == s->end || *s->p == ',' || *s->p == ' ')
		return PROTO_ERR_TAG_VALUE;
	proto_note(s, *s->p, false);
	return proto_scan_name(s, true);
}

/* Keys are compared as written, escapes included, as InfluxDB does. */
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
	struct proto_scan	 s;
	struct proto_key	 other;

	proto_scan_start(&s, tags, k->p - 1);
	while (s.p < s.end) {
		s.p++;				/* the ',' */
		(void)proto_scan_tag_key(&s, &other);
		if (other.len == k->len && memcmp(other.p, k->p, k->len) == 0)
			return true;
		(void)proto_scan_tag_value(&s);
	}
	return false;
}

/* The tag set, from the ',' after the measurement to the space after. */
static enum proto_status
proto_scan_tags(struct proto_scan *s, struct proto_point *pt)
{
	struct proto_key	 keys[PROTO_MAX_KEYS], k;
	const char		*tags = s->p;
	enum proto_status	 st;

	while (*s->p == ',') {
		s->p++;
		if ((st = proto_scan_tag_key(s, &k)) != PROTO_OK ||
		    (st = proto_scan_tag_value(s)) != PROTO_OK)
			return st;
		if (proto_is_duplicate(keys, pt->ntags, &k) ||
		    (pt->ntags >= PROTO_MAX_KEYS &&
		    proto_is_duplicate_slow(tags, &k)))
			return PROTO_ERR_DUPLICATE_TAG;
		/* the write path drops such points (partial write) */
		if (k.len == 4 && memcmp(k.p, "time", 4) == 0)
			return PROTO_ERR_TIME_KEY;
		if (pt->ntags < PROTO_MAX_KEYS)
			keys[pt->ntags] = k;
		pt->ntags++;
	}
	return PROTO_OK;
}

/* strconv.ParseInt range check of "-?[0-9]+" in [p, end). */
static enum proto_status
proto_check_int64(const char *p, const char *end)
{
	bool		 neg = (*p == '-');
	uint64_t	 v = 0, d;
	uint64_t	 limit = neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX;
	uint64_t	 cut = limit / 10, last = limit % 10;

	for (p += neg; p < end; p++) {
		d = (uint64_t)(*p - '0');
		if (v > cut || (v == cut && d > last))
			return PROTO_ERR_INTEGER_RANGE;
		v = v * 10 + d;
	}
	return PROTO_OK;
}

/* Significant digits and decimal exponent of a float's mantissa. */
struct proto_mantissa {
	char		 digits[PROTO_MAX_SIGNIFICANT];
	size_t		 n;
	long		 exp;		/* value = 0.digits * 10^exp */
	bool		 any;		/* any digit at all */
};

static void
proto_mantissa_digit(struct proto_mantissa *m, char c, bool fraction)
{
	m->any = true;
	if (m->n == 0 && c == '0') {
		if (fraction)
			m->exp--;
		return;
	}
	if (m->n < sizeof(m->digits))
		m->digits[m->n++] = c;
	if (!fraction)
		m->exp++;
}

/*
 * strconv.ParseFloat on -?(digits[.digits]|.digits)[(e|E)[+-]digits]:
 * overflow is an error, underflow (to zero or a denormal) is not.
 */
static enum proto_status
proto_check_float(const char *p, const char *end)
{
	struct proto_mantissa	 m = { .n = 0 };
	char			 buf[PROTO_MAX_SIGNIFICANT + 32];
	long			 e = 0;
	bool			 eneg = false, edigits = false;

	if (p < end && *p == '-')
		p++;
	for (; p < end && proto_is_digit(*p); p++)
		proto_mantissa_digit(&m, *p, false);
	if (p < end && *p == '.')
		for (p++; p < end && proto_is_digit(*p); p++)
			proto_mantissa_digit(&m, *p, true);
	if (!m.any)
		return PROTO_ERR_NUMBER;
	if (p < end && (*p == 'e' || *p == 'E')) {
		if (++p < end && (*p == '+' || *p == '-'))
			eneg = (*p++ == '-');
		for (; p < end && proto_is_digit(*p); p++, edigits = true)
			if (e < 100000)
				e = e * 10 + (*p - '0');
		if (!edigits)
			return PROTO_ERR_NUMBER;
	}
	if (p != end)
		return PROTO_ERR_NUMBER;
	e = m.exp + (eneg ? -e : e);
	if (m.n == 0 || e < 300)
		return PROTO_OK;
	if (e > 310)
		return PROTO_ERR_NUMBER;
	snprintf(buf, sizeof(buf), "0.%.*se%ld", (int)m.n, m.digits, e);
	return isinf(strtod(buf, NULL)) ? PROTO_ERR_NUMBER : PROTO_OK;
}

/*
 * The common numbers, settled without the general scan: a plain decimal
 * ("-?d+(.d*)?" or "-?.d+") shorter than 25 bytes, or an integer of up to
 * 18 digits, then a separator or the end.  `p` is past the sign.  True
 * (with `s` on the separator) if the value is one of them, and so valid.
 */
static bool
proto_scan_decimal(struct proto_scan *s, const char *start, const char *p)
{
	const char	*first = p;
	size_t		 digits;

	while (p < s->end && proto_is_digit(*p))
		p++;
	digits = (size_t)(p - first);
	if (p < s->end && *p == '.') {
		for (p++; p < s->end && proto_is_digit(*p); p++)
			digits++;
	} else if (p < s->end && *p == 'i' && digits <= 18)
		p++;
	if ((p < s->end && *p != ',' && *p != ' ') || digits == 0 ||
	    p - start >= 25)
		return false;
	s->p = p;
	return true;
}

/*
 * A numeric field value (InfluxDB's scanNumber); leaves `s` on the ','
 * or ' ' after it.  Only long integers and long or scientific floats are
 * converted: the scan alone settles the others.
 */
static enum proto_status
proto_scan_number(struct proto_scan *s)
{
	const char	*start = s->p, *p = s->p;
	bool		 isint = false, isuint = false, dot = false, sci = false;
	size_t		 digits;

	if (*p == '-' && ++p == s->end)
		return PROTO_ERR_NUMBER;
	if (proto_scan_decimal(s, start, p))
		return PROTO_OK;
	for (; p < s->end; p++) {
		if (proto_is_digit(*p))
			continue;
		if (*p == ',' || *p == ' ')
			break;
		if ((*p == 'i' || *p == 'u') && p > start && !isint && !isuint) {
			isint = (*p == 'i');
			isuint = !isint;
		} else if (*p == '.') {
			if (dot)
				return PROTO_ERR_NUMBER;
			dot = true;
		} else if (p > start && (*p == 'e' || *p == 'E'))
			sci = true;
		else if ((*p == '+' || *p == '-') &&
		    (p[-1] == 'e' || p[-1] == 'E'))
			continue;
		else if (!proto_is_digit(*p))
			return PROTO_ERR_NUMBER;
	}
	s->p = p;
	digits = (size_t)(p - start) - isint - dot - (*start == '-');
	if (((isint || isuint) && (dot || sci)) || digits == 0)
		return PROTO_ERR_NUMBER;
	if (isuint)
		return p[-1] == 'u' ? PROTO_ERR_UNSIGNED : PROTO_ERR_NUMBER;
	if (isint) {
		if (p[-1] != 'i')
			return PROTO_ERR_NUMBER;
		return p - start > 19 ? proto_check_int64(start, p - 1) :
		    PROTO_OK;
	}
	if (sci || p - start >= 25)
		return proto_check_float(start, p);
	return PROTO_OK;
}

/* The ten spellings InfluxDB's scanBoolean (and ParseBool) take. */
static bool
proto_is_bool(const char *v, size_t len)
{
	switch (len) {
	case 1:
		return *v == 't' || *v == 'T' || *v == 'f' || *v == 'F';
	case 4:
		return memcmp(v, "true", 4) == 0 ||
		    memcmp(v, "True", 4) == 0 || memcmp(v, "TRUE", 4) == 0;
	case 5:
		return memcmp(v, "false", 5) == 0 ||
		    memcmp(v, "False", 5) == 0 || memcmp(v, "FALSE", 5) == 0;
	default:
		return false;
	}
}

/* A boolean field value; leaves `s` on the ',' or ' ' after it. */
static enum proto_status
proto_scan_boolean(struct proto_scan *s)
{
	const char	*start = s->p;

	while (s->p < s->end && *s->p != ',' && *s->p != ' ')
		s->p++;
	return proto_is_bool(start, (size_t)(s->p - start)) ? PROTO_OK :
	    PROTO_ERR_BOOLEAN;
}

/*
 * At an unquoted '=' of the fields: checks the key before it and, for
 * numbers and booleans, the value after it.  Strings are left to the
 * caller's quote tracking.
 */
static enum proto_status
proto_scan_equals(struct proto_scan *s)
{
	const char	*p = s->p;
	char		 next;

	if ((p[-1] == ' ' || p[-1] == ',') && p[-2] != '\\')
		return PROTO_ERR_FIELD_KEY;
	if (p + 1 == s->end || p[1] == ',' || p[1] == ' ')
		return PROTO_ERR_FIELD_VALUE;
	next = p[1];
	if (next == '"') {
		s->p++;
		return PROTO_OK;
	}
	s->p++;
	if (proto_is_digit(next) || next == '.' || next == '-' ||
	    next == 'N' || next == 'n')
		return proto_scan_number(s);
	return proto_scan_boolean(s);
}

/*
 * Where the scan found each field's '=' and the end of its value.  Without
 * quotes and escapes in the fields, that is exactly how the field
 * iterator splits them, so they need not be split a second time.
 */
struct proto_split {
	const char	*eq[PROTO_MAX_FIELDS];
	const char	*end[PROTO_MAX_FIELDS];
	unsigned	 n;		/* may exceed PROTO_MAX_FIELDS */
};

/*
 * The fields, as InfluxDB's scanFields sees them: up to the first space
 * outside a string.  Quotes open a string only where a value is due.
 */
static enum proto_status
proto_scan_fields(struct proto_scan *s, struct proto_split *sp)
{
	size_t			 equals = 0, commas = 0;
	bool			 quoted = false, dangling = false;
	enum proto_status	 st;

	while ((s->p = proto_next_special(s, s->p)) < s->end) {
		proto_note(s, *s->p, true);
		if (*s->p == '\\') {
			dangling = (s->p + 1 == s->end);
			s->p += dangling ? 1 : 2;
		} else if (*s->p == '"' && equals > commas) {
			quoted = !quoted;
			s->p++;
		} else if (*s->p == '=' && !quoted) {
			equals++;
			if (sp->n < PROTO_MAX_FIELDS)
				sp->eq[sp->n] = s->p;
			if ((st = proto_scan_equals(s)) != PROTO_OK)
				return st;
			/* (for a string, the opening quote: never used) */
			if (sp->n < PROTO_MAX_FIELDS)
				sp->end[sp->n] = s->p;
			sp->n++;
		} else if (*s->p == ' ' && !quoted)
			break;
		else
			commas += (*s->p++ == ',' && !quoted);
	}
	if (quoted)
		return PROTO_ERR_STRING;
	if (equals == 0 || commas != equals - 1)
		return PROTO_ERR_FIELD_FORMAT;
	/* the appended " TIMESTAMP" would be escaped into the value */
	return dangling ? PROTO_ERR_AMBIGUOUS : PROTO_OK;
}

/* What the field iterator makes of a value's first and last bytes. */
static enum proto_type
proto_field_type(const char *v, size_t len)
{
	if (len == 0)
		return PROTO_T_EMPTY;
	if (*v == '"')
		return PROTO_T_STRING;
	switch (*v) {
	case '-': case '.': case 'n': case 'N': case 'i': case 'I': case 'u':
		break;
	default:
		if (!proto_is_digit(*v))
			return PROTO_T_BOOLEAN;
	}
	if (v[len - 1] == 'i')
		return PROTO_T_INTEGER;
	return v[len - 1] == 'u' ? PROTO_T_UNSIGNED : PROTO_T_FLOAT;
}

/*
 * The next field as InfluxDB's field iterator and walkFields split them:
 * the key ends at the first '=' not right after a backslash, the value at
 * the first ',' outside quotes.  1 for a field, 0 at the end, -1 where
 * walkFields fails ("invalid value: field-key").
 */
static int
proto_next_field(struct proto_scan *it, struct proto_field *f)
{
	const char	*q = it->p, *v;
	bool		 quoted = false;

	if (it->p >= it->end)
		return 0;
	while ((q = memchr(q, '=', (size_t)(it->end - q))) != NULL &&
	    q > it->p && q[-1] == '\\')
		q++;
	if (q == NULL || q + 1 >= it->end)
		return -1;
	if (!(it->seen & PROTO_SEEN_FIELD_ODD)) {
		/* no quotes or escapes: the value ends at the next ',' */
		if ((v = memchr(q + 1, ',', (size_t)(it->end - q - 1))) == NULL)
			v = it->end;
	} else for (v = q + 1; v < it->end; v++) {
		if (*v == '\\' && v + 1 < it->end &&
		    (v[1] == '"' || v[1] == '\\'))
			v++;
		else if (*v == '"')
			quoted = !quoted;
		else if (*v == ',' && !quoted)
			break;
	}
	f->key = it->p;
	f->key_len = (size_t)(q - it->p);
	f->value = q + 1;
	f->value_len = (size_t)(v - f->value);
	f->type = proto_field_type(f->value, f->value_len);
	it->p = v < it->end ? v + 1 : v;
	return 1;
}

/*
 * The next field: from the scan's split `sp` if it may be used (see
 * struct proto_split; `*i` counts the fields taken), else from
 * proto_next_field().
 */
static int
proto_next_split(struct proto_scan *it, const struct proto_split *sp,
    unsigned *i, struct proto_field *f)
{
	if (sp == NULL)
		return proto_next_field(it, f);
	if (*i == sp->n)
		return 0;
	f->key = *i == 0 ? it->p : sp->end[*i - 1] + 1;
	f->key_len = (size_t)(sp->eq[*i] - f->key);
	f->value = sp->eq[*i] + 1;
	f->value_len = (size_t)(sp->end[*i] - f->value);
	f->type = proto_field_type(f->value, f->value_len);
	(*i)++;
	return 1;
}

/* The iterator's typed read of a value, which the write path needs. */
static enum proto_status
proto_check_value(const struct proto_field *f)
{
	const char	*v = f->value, *end = v + f->value_len;
	const char	*p;

	switch (f->type) {
	case PROTO_T_STRING:
		return PROTO_OK;
	case PROTO_T_BOOLEAN:
		return proto_is_bool(v, f->value_len) ? PROTO_OK :
		    PROTO_ERR_BOOLEAN;
	case PROTO_T_FLOAT:
		return proto_check_float(v, end);
	case PROTO_T_INTEGER:
		end--;
		for (p = v + (*v == '-'); p < end; p++)
			if (!proto_is_digit(*p))
				return PROTO_ERR_NUMBER;
		if (end == v + (*v == '-'))
			return PROTO_ERR_NUMBER;
		return proto_check_int64(v, end);
	case PROTO_T_UNSIGNED:
		return PROTO_ERR_UNSIGNED;
	default:
		return PROTO_ERR_FIELD_VALUE;
	}
}

static bool
proto_is_key_escape(char c)
{
	return c == ',' || c == '"' || c == ' ' || c == '=';
}

/* Field keys are compared unescaped (\, \" \space \= lose the '\'). */
static bool
proto_key_equal(const char *a, size_t alen, const char *b, size_t blen,
    bool escaped)
{
	const char	*ae = a + alen, *be = b + blen;

	if (alen == blen && memcmp(a, b, alen) == 0)
		return true;
	if (!escaped)
		return false;
	while (a < ae && b < be) {
		if (*a == '\\' && a + 1 < ae && proto_is_key_escape(a[1]))
			a++;
		if (*b == '\\' && b + 1 < be && proto_is_key_escape(b[1]))
			b++;
		if (*a++ != *b++)
			return false;
	}
	return a == ae && b == be;
}

static bool
proto_is_time_key(const struct proto_field *f)
{
	return f->key_len == 4 && memcmp(f->key, "time", 4) == 0;
}

/* Without escapes in the fields, keys of two lengths cannot be equal. */
static inline bool
proto_conflicts(const struct proto_field *a, const struct proto_field *b,
    unsigned fields_seen)
{
	bool	 escaped = fields_seen & PROTO_SEEN_FIELD_ODD;

	return a->type != b->type && (escaped || a->key_len == b->key_len) &&
	    !proto_is_time_key(a) &&
	    proto_key_equal(a->key, a->key_len, b->key, b->key_len, escaped);
}

/*
 * InfluxDB refuses a whole request in which one point gives a field two
 * types.  Past PROTO_MAX_FIELDS fields, earlier ones are split again.
 */
static bool
proto_has_conflict(const char *fields, unsigned fields_seen,
    const struct proto_field *seen, unsigned n, const struct proto_field *f)
{
	struct proto_scan	 it = { .p = fields, .end = f->key,
	    .seen = fields_seen };
	struct proto_field	 other;
	unsigned		 i;

	if (n <= PROTO_MAX_FIELDS) {
		for (i = 0; i < n; i++)
			if (proto_conflicts(&seen[i], f, fields_seen))
				return true;
		return false;
	}
	while (proto_next_field(&it, &other) == 1)
		if (proto_conflicts(&other, f, fields_seen))
			return true;
	return false;
}

/* One field of the iterator's split, checked as the write path does. */
static enum proto_status
proto_check_field(const char *fields, unsigned fields_seen,
    struct proto_field *seen, unsigned n, const struct proto_field *f)
{
	enum proto_status	 st;

	/* without quotes or escapes both splits agree: values are checked */
	if ((fields_seen & PROTO_SEEN_FIELD_ODD) &&
	    (st = proto_check_value(f)) != PROTO_OK)
		return st;
	/* InfluxDB answers 500 and never accepts the write: refuse it */
	if ((fields_seen & PROTO_SEEN_UTF8) &&
	    !utf8_valid(f->key, f->key_len))
		return PROTO_ERR_UTF8;
	if (proto_has_conflict(fields, fields_seen, seen, n, f))
		return PROTO_ERR_TYPE_CONFLICT;
	if (n < PROTO_MAX_FIELDS)
		seen[n] = *f;
	return PROTO_OK;
}

/* The fields split again, as walkFields and the write path see them. */
/* The last 1 to 7 bytes of a name as one word (with its length, unique). */
static inline uint64_t
proto_hash_tail(const char *p, size_t len)
{
	uint32_t	 a, b;

	if (len >= 4) {
		/* two overlapping loads cover 4 to 7 bytes */
		memcpy(&a, p, sizeof(a));
		memcpy(&b, p + len - 4, sizeof(b));
		return (uint64_t)a | (uint64_t)b << 32;
	}
	if (len == 0)
		return 0;
	return (uint64_t)(unsigned char)p[0] |
	    (uint64_t)(unsigned char)p[len / 2] << 8 |
	    (uint64_t)(unsigned char)p[len - 1] << 16;
}

/*
 * Eight bytes a multiply: every field of every point is hashed.  Not a
 * defence against chosen collisions: one costs at worst a needless batch
 * cut or a missed type check, which the bisection of refusals covers.
 */
static inline uint64_t
proto_hash_inline(uint64_t h, const char *name, size_t len)
{
	const uint64_t	 k = 0x9e3779b97f4a7c15ULL;
	uint64_t	 w;
	size_t		 n = len;

	for (; n >= 8; name += 8, n -= 8) {
		memcpy(&w, name, sizeof(w));
		h = (h ^ w) * k;
		h ^= h >> 29;
	}
	h = (h ^ proto_hash_tail(name, n) ^ (uint64_t)len << 56) * k;
	return h ^ (h >> 32);
}

/*
 * A cheap signature of a name for the point's shape: every byte counts,
 * with a rotate and an xor per eight of them.
 */
static inline uint64_t
proto_sig(const char *p, size_t len)
{
	uint64_t	 s = len, w;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, sizeof(w));
		s = ((s << 7) | (s >> 57)) ^ w;
	}
	return ((s << 7) | (s >> 57)) ^ proto_hash_tail(p, len);
}

/* Notes a field's identity for type-aware batching. */
static void
proto_note_id(struct proto_point *pt, const struct proto_field *f)
{
	struct proto_field_id	*id;

	if (pt->nids >= PROTO_MAX_FIELD_IDS)
		return;
	id = &pt->ids[pt->nids++];
	id->key = f->key;
	id->key_len = (uint32_t)f->key_len;
	id->type = f->type;
	pt->shape = ((pt->shape << 11) | (pt->shape >> 53)) ^
	    proto_sig(f->key, f->key_len) ^ (uint64_t)f->type << 59;
}

void
proto_hash_ids(struct proto_point *pt)
{
	uint64_t	 mhash;
	unsigned	 i;

	if (pt->hashed)
		return;
	mhash = proto_hash_inline(PROTO_HASH_SEED, pt->name, pt->name_len);
	for (i = 0; i < pt->nids; i++)
		pt->ids[i].hash = proto_hash_inline(mhash, pt->ids[i].key,
		    pt->ids[i].key_len);
	pt->hashed = true;
}

static enum proto_status
proto_check_fields(const char *fields, const char *end, unsigned fields_seen,
    const struct proto_split *sp, size_t key_len, struct proto_point *pt)
{
	struct proto_scan	 it = { .p = fields, .end = end,
	    .seen = fields_seen };
	struct proto_field	 seen[PROTO_MAX_FIELDS], f;
	enum proto_status	 st;
	unsigned		 n = 0, i = 0;
	int			 rc;

	if ((fields_seen & PROTO_SEEN_FIELD_ODD) || sp->n > PROTO_MAX_FIELDS)
		sp = NULL;
	while ((rc = proto_next_split(&it, sp, &i, &f)) == 1) {
		if (key_len + 4 + f.key_len > PROTO_MAX_KEY)
			return PROTO_ERR_KEY_LENGTH;
		pt->nfields++;
		/* the write path drops fields named "time" */
		if (proto_is_time_key(&f))
			continue;
		if ((st = proto_check_field(fields, fields_seen, seen, n, &f)) !=
		    PROTO_OK)
			return st;
		proto_note_id(pt, &f);
		n++;
	}
	if (rc < 0)
		return PROTO_ERR_FIELD_FORMAT;
	return n == 0 ? PROTO_ERR_TIME_KEY : PROTO_OK;
}

/*
 * strconv.ParseInt plus InfluxDB's time range, of the "-?[0-9]+" in
 * [p, end) whose digits `v` already holds (mod 2^64).  Up to 19 digits
 * cannot wrap a uint64_t, so today's 19-digit nanoseconds need no second
 * pass; only longer ones (leading zeros) are checked digit by digit.
 */
static enum proto_status
proto_parse_time(const char *p, const char *end, uint64_t v, int64_t *t)
{
	bool		 neg = (*p == '-');
	uint64_t	 limit = neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX;

	if (end - p == neg)
		return PROTO_ERR_TIMESTAMP;
	if (end - p - neg > 19 && proto_check_int64(p, end) != PROTO_OK)
		return PROTO_ERR_TIME_RANGE;
	if (v > limit)
		return PROTO_ERR_TIME_RANGE;
	*t = neg ? (int64_t)(0 - v) : (int64_t)v;
	if (*t < PROTO_MIN_TIME || *t > PROTO_MAX_TIME)
		return PROTO_ERR_TIME_RANGE;
	return PROTO_OK;
}

/*
 * If p[0..7] are all digits, *v = *v * 10^8 + their value (mod 2^64, as
 * the digit loop computes it) and true.  A timestamp has 19 digits: eight
 * at a time takes a few operations where one at a time takes a multiply
 * and a branch each.  The reduction pairs digits, then pairs of pairs
 * (the well-known SWAR method), on a little-endian load.
 */
static inline bool
proto_eight_digits(const char *p, uint64_t *v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const uint64_t	 hi = 0xf0f0f0f0f0f0f0f0ULL;
	const uint64_t	 zeros = 0x3030303030303030ULL;
	uint64_t	 w;

	memcpy(&w, p, sizeof(w));
	/* every byte 0x30..0x39: top nibble 3, and still 3 after adding 6 */
	if ((w & hi) != zeros ||
	    ((w + 0x0606060606060606ULL) & hi) != zeros)
		return false;
	w -= zeros;
	w = (w * 10 + (w >> 8)) & 0x00ff00ff00ff00ffULL;
	w = (w * 100 + (w >> 16)) & 0x0000ffff0000ffffULL;
	w = (w * 10000 + (w >> 32)) & 0xffffffffULL;
	*v = *v * 100000000 + w;
	return true;
#else
	(void)p;
	(void)v;
	return false;
#endif
}

/* The optional timestamp; after it, nothing but spaces. */
static enum proto_status
proto_scan_time(struct proto_scan *s, struct proto_point *pt)
{
	const char		*start;
	enum proto_status	 st;
	uint64_t		 v = 0;

	proto_skip_blanks(s);
	start = s->p;
	if (s->p < s->end && *s->p == '-')
		s->p++;
	while (s->end - s->p >= 8 && proto_eight_digits(s->p, &v))
		s->p += 8;
	for (; s->p < s->end && proto_is_digit(*s->p); s->p++)
		v = v * 10 + (uint64_t)(*s->p - '0');
	if (s->p < s->end && *s->p != ' ' && *s->p != '\n')
		return PROTO_ERR_TIMESTAMP;
	/* no timestamp: InfluxDB checks nothing after the fields */
	if (s->p == start) {
		/* but a '\n' there makes the line far from plain */
		if (s->p < s->end)
			proto_note(s, *s->p, false);
		return PROTO_OK;
	}
	if ((st = proto_parse_time(start, s->p, v, &pt->time)) != PROTO_OK)
		return st;
	if (start[*start == '-'] != '0' || s->p - start == 1) {
		pt->time_text = start;
		pt->time_len = (size_t)(s->p - start);
	}
	for (; s->p < s->end; s->p++)
		if (*s->p != ' ')
			return PROTO_ERR_TIMESTAMP;
	pt->has_time = true;
	return PROTO_OK;
}

/* InfluxDB's scanLine state: quotes count only where a value is due. */
struct proto_framer {
	size_t		 equals;
	size_t		 commas;
	bool		 fields;
	bool		 quoted;
	bool		 escaped;	/* an escape took the byte past the end */
};

/* Runs scanLine over buf; the offset of the '\n' ending a line, or len. */
static size_t
proto_frame(struct proto_framer *fr, const char *buf, size_t len)
{
	size_t	 i = 0;

	while (i < len) {
		if (buf[i] == '\\') {
			i += 2;
			continue;
		}
		if (buf[i] == ' ')
			fr->fields = true;
		if (fr->fields && !fr->quoted && buf[i] == '=')
			fr->equals++;
		else if (fr->fields && !fr->quoted && buf[i] == ',')
			fr->commas++;
		else if (fr->fields && buf[i] == '"' && fr->equals > fr->commas)
			fr->quoted = !fr->quoted;
		else if (buf[i] == '\n' && !fr->quoted)
			return i;
		i++;
	}
	fr->escaped = (i > len);
	return len;
}

const char *
proto_line_end(const char *buf, size_t len)
{
	struct proto_framer	 fr = { 0, 0, false, false, false };
	const char		*nl;
	size_t			 n;

	if ((nl = memchr(buf, '\n', len)) == NULL)
		return NULL;
	n = (size_t)(nl - buf);
	if (memchr(buf, '"', n) == NULL && memchr(buf, '\\', n) == NULL)
		return nl;
	n = proto_frame(&fr, buf, len);
	return n < len ? buf + n : NULL;
}

/*
 * InfluxDB frames the batch the relay sends with scanLine, so the body
 * followed by " TIMESTAMP\n" must be exactly one line to it.
 */
static enum proto_status
proto_check_framing(const char *body, size_t len)
{
	struct proto_framer	 fr = { 0, 0, false, false, false };

	if (proto_frame(&fr, body, len) < len || fr.quoted || fr.escaped)
		return PROTO_ERR_AMBIGUOUS;
	return PROTO_OK;
}

enum proto_status
proto_parse(const char *line, size_t len, struct proto_point *pt)
{
	struct proto_scan	 s;
	struct proto_split	 split;
	const char		*key, *key_end, *fields;
	size_t			 name_len;
	enum proto_status	 st;

	/* the ids are written as they are found: clearing them costs */
	memset(pt, 0, offsetof(struct proto_point, ids));
	/* InfluxDB drops a block's final '\n'; the relay also drops CR */
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	proto_scan_start(&s, line, line + len);
	proto_skip_blanks(&s);
	if (s.p == s.end || *s.p == '#')
		return PROTO_SKIP;
	key = s.p;
	if ((st = proto_scan_measurement(&s)) != PROTO_OK)
		return st;
	name_len = (size_t)(s.p - key);
	pt->name = key;
	pt->name_len = name_len;
	pt->shape = proto_sig(key, name_len);
	if ((st = proto_scan_tags(&s, pt)) != PROTO_OK)
		return st;
	if (s.p - key > PROTO_MAX_KEY)
		return PROTO_ERR_KEY_LENGTH;
	key_end = s.p;
	proto_skip_blanks(&s);
	fields = s.p;
	split.n = 0;
	if ((st = proto_scan_fields(&s, &split)) != PROTO_OK ||
	    (st = proto_check_fields(fields, s.p, s.seen, &split,
	    (size_t)(key_end - key), pt)) != PROTO_OK)
		return st;
	pt->body = line;
	pt->body_len = (size_t)(s.p - line);
	/* one multiply spreads the shape's bits for hashing */
	pt->shape *= 0xff51afd7ed558ccdULL;
	if ((st = proto_scan_time(&s, pt)) != PROTO_OK)
		return st;
	/* InfluxDB may answer 500 for these, which a batch never survives */
	if ((s.seen & PROTO_SEEN_UTF8) && !utf8_valid(key, name_len))
		return PROTO_ERR_UTF8;
	if (!(s.seen & PROTO_SEEN_ODD)) {
		pt->plain = true;
		return PROTO_OK;
	}
	return proto_check_framing(pt->body, pt->body_len);
}

uint64_t
proto_hash(uint64_t h, const char *name, size_t len)
{
	return proto_hash_inline(h, name, len);
}

static const char *const proto_type_names[] = {
	[PROTO_T_EMPTY] = "empty",
	[PROTO_T_FLOAT] = "float",
	[PROTO_T_INTEGER] = "integer",
	[PROTO_T_UNSIGNED] = "unsigned",
	[PROTO_T_BOOLEAN] = "boolean",
	[PROTO_T_STRING] = "string",
};

const char *
proto_type_name(enum proto_type t)
{
	return proto_type_names[t];
}

enum proto_type
proto_type_parse(const char *name, size_t len)
{
	size_t	 i;

	for (i = PROTO_T_FLOAT; i <= PROTO_T_STRING; i++)
		if (strlen(proto_type_names[i]) == len &&
		    memcmp(proto_type_names[i], name, len) == 0)
			return (enum proto_type)i;
	return PROTO_T_EMPTY;
}

bool
proto_time_to_ns(int64_t t, int64_t mult, int64_t *ns)
{
	if (__builtin_mul_overflow(t, mult, ns))
		return false;
	return *ns >= PROTO_MIN_TIME && *ns <= PROTO_MAX_TIME;
}

/* "00" to "99", for formatting two digits a division. */
static const char proto_digit_pairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233"
    "34353637383940414243444546474849505152535455565758596061626364656667"
    "6869707172737475767778798081828384858687888990919293949596979899";

size_t
proto_format_tail(char *buf, int64_t t)
{
	char		 digits[20], *d = digits + sizeof(digits);
	uint64_t	 u = t < 0 ? -(uint64_t)t : (uint64_t)t;
	size_t		 n, len = 0;

	/* snprintf's locale and format parsing cost a quarter of ingest */
	for (; u >= 100; u /= 100) {
		d -= 2;
		memcpy(d, proto_digit_pairs + u % 100 * 2, 2);
	}
	if (u >= 10) {
		d -= 2;
		memcpy(d, proto_digit_pairs + u * 2, 2);
	} else
		*--d = (char)('0' + u);
	buf[len++] = ' ';
	if (t < 0)
		buf[len++] = '-';
	n = (size_t)(digits + sizeof(digits) - d);
	memcpy(buf + len, d, n);
	len += n;
	buf[len++] = '\n';
	return len;
}
