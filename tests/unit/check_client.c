/*
 * libinfluxrelay (clients/c) against the relay's own parser: random
 * points built by the library, read from a UNIX socket, framed and
 * parsed by proto.c and route.c as the relay reads them, decode to the
 * same database, retention policy, measurement, tags, fields and time,
 * with names that need every kind of escaping.  Also: its errors, the
 * write timeout, the bounded buffer while the relay is away, a relay
 * restart (a cut line is sent again whole), fork(), and no allocation
 * per point (the allocator is wrapped at link time to count calls).
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "influx-relay.h"
#include "proto.h"
#include "route.h"
#include "scratch.h"

/* --- counting allocations (ld --wrap) --- */

void	*__real_malloc(size_t);
void	*__real_calloc(size_t, size_t);
void	*__real_realloc(void *, size_t);
void	*__wrap_malloc(size_t);
void	*__wrap_calloc(size_t, size_t);
void	*__wrap_realloc(void *, size_t);

static unsigned long	 allocations;
static bool		 fail_realloc;	/* the next realloc() fails */

void *
__wrap_malloc(size_t n)
{
	allocations++;
	return __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t size)
{
	allocations++;
	return __real_calloc(n, size);
}

void *
__wrap_realloc(void *p, size_t n)
{
	allocations++;
	if (fail_realloc) {
		fail_realloc = false;
		return NULL;
	}
	return __real_realloc(p, n);
}

/* What the client sends first on every connection. */
#define PREAMBLE	"#relay partial=reject\n"

/* --- a relay stand-in: a listening socket and what it read --- */

struct fake {
	char	 path[108];
	int	 lfd;		/* listening */
	int	 cfd;		/* the accepted client, -1 if none */
	char	*sink;		/* everything read, over all connections */
	size_t	 len, cap;
};

static void
fake_listen(struct fake *f)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };

	if (f->path[0] == '\0')
		snprintf(f->path, sizeof(f->path), "%s/relay.sock",
		    scratch_new("check_client"));
	strcpy(sun.sun_path, f->path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(f->lfd, 0);
	ck_assert_int_eq(bind(f->lfd, (struct sockaddr *)&sun,
	    sizeof(sun)), 0);
	ck_assert_int_eq(listen(f->lfd, 8), 0);
	f->cfd = -1;
}

/* The relay goes away: its socket is closed and removed. */
static void
fake_stop(struct fake *f)
{
	if (f->cfd >= 0)
		close(f->cfd);
	close(f->lfd);
	unlink(f->path);
	f->cfd = f->lfd = -1;
}

static void
fake_free(struct fake *f)
{
	if (f->lfd >= 0)
		fake_stop(f);
	free(f->sink);
	scratch_remove();
}

/* Accepts a waiting client, if there is one. */
static bool
fake_accept(struct fake *f)
{
	if (f->cfd < 0)
		f->cfd = accept4(f->lfd, NULL, NULL, SOCK_NONBLOCK);
	return f->cfd >= 0;
}

/* Reads what the client sent so far; true at its EOF. */
static bool
fake_drain(struct fake *f)
{
	ssize_t	 n;

	if (!fake_accept(f))
		return false;
	for (;;) {
		if (f->cap - f->len < 65536) {
			f->cap = f->cap * 2 + 65536;
			f->sink = realloc(f->sink, f->cap);
			ck_assert_ptr_nonnull(f->sink);
		}
		n = read(f->cfd, f->sink + f->len, f->cap - f->len);
		if (n > 0) {
			f->len += (size_t)n;
			continue;
		}
		if (n == 0) {
			close(f->cfd);
			f->cfd = -1;
			return true;
		}
		if (errno != EAGAIN)
			ck_abort_msg("read: %s", strerror(errno));
		return false;
	}
}

/*
 * Flushes and reads until the client has nothing left to send.  No
 * ck_assert() but on failure: Check allocates to note each one.
 */
static void
pump(struct influx_relay *r, struct fake *f)
{
	int	 i, rc;

	for (i = 0; i < 100000; i++) {
		rc = influx_relay_flush(r);
		(void)fake_drain(f);
		if (rc == 0 && influx_relay_pending(r) == 0)
			return;
		if (rc != INFLUX_RELAY_ETIMEOUT)
			ck_abort_msg("flush: %s", influx_relay_strerror(rc));
	}
	ck_abort_msg("the client never emptied its buffer");
}

/* Closes the client (which flushes) and reads to its EOF. */
static void
finish(struct influx_relay *r, struct fake *f)
{
	int	 i;

	pump(r, f);
	ck_assert_int_eq(influx_relay_close(r), 0);
	for (i = 0; i < 1000 && !fake_drain(f); i++)
		(void)poll(NULL, 0, 2);
}

static struct influx_relay *
open_client(struct fake *f, int timeout_ms)
{
	struct influx_relay	*r;
	int			 rc;

	r = influx_relay_open(f->path, timeout_ms, &rc);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(rc, 0);
	return r;
}

/* --- random points and what the relay must read --- */

#define GEN_MAX_TAGS	3
#define GEN_MAX_FIELDS	3

struct gen_field {
	char		 key[64];
	enum proto_type	 type;
	double		 f;
	int64_t		 i;
	bool		 b;
	char		 s[64];
};

struct gen_point {
	const char	*db, *rp;
	char		 measurement[64];
	unsigned	 ntags, nfields;
	char		 tagk[GEN_MAX_TAGS][64], tagv[GEN_MAX_TAGS][64];
	struct gen_field fields[GEN_MAX_FIELDS];
	bool		 has_time;
	int64_t		 time;
};

static uint64_t	 rng_state;

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static unsigned
rng_below(unsigned n)
{
	return (unsigned)(rng() % n);
}

/* Pieces of names: each byte line protocol escapes, and UTF-8. */
static const char *const pieces[] = {
	"a", "b", "cpu", "0", "9", ",", "=", " ", "\"", "\\", "\t", "#",
	"\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac", "\xf0\x9f\x98\x80", "\x01",
	"-", ".", "'", "{", "\\\\", "x\\y", "time",
};
#define NPIECES	(sizeof(pieces) / sizeof(pieces[0]))

static void
gen_name(char *out, size_t size)
{
	unsigned	 n = 1 + rng_below(4);

	out[0] = '\0';
	while (n-- > 0 && strlen(out) + 8 < size)
		strcat(out, pieces[rng_below(NPIECES)]);
	if (rng_below(60) == 0)
		strcat(out, rng_below(2) ? "\n" : "\r");	/* refused */
	if (rng_below(80) == 0)
		out[0] = '\0';					/* refused */
}

static const char *const dbs[] = {
	NULL, "db1", "my db", "back\\slash", "\xe6\x97\xa5" "db", "", "a\tb",
	"q\"uote=d",
};
static const char *const rps[] = { NULL, "autogen", "r p" };

static void
gen_value(struct gen_field *fl)
{
	unsigned		 j;
	static const double	 floats[] = { 0.0, -0.0, 1.0, 0.1, 1e300,
	    5e-324, DBL_MAX, -DBL_MIN, 123456789.125, -2.5e-10 };
	uint64_t		 bits;

	switch (rng_below(4)) {
	case 0:
		fl->type = PROTO_T_FLOAT;
		if (rng_below(3) == 0) {	/* decimals, as measured */
			fl->f = (double)((int64_t)(rng() % 2000000001) -
			    1000000000) / pow(10, rng_below(12));
			/* or an ulp or two off one, which has no short form */
			for (j = rng_below(3); j > 0; j--)
				fl->f = nextafter(fl->f, rng_below(2) ?
				    INFINITY : -INFINITY);
			break;
		}
		if (rng_below(2)) {
			fl->f = floats[rng_below(sizeof(floats) /
			    sizeof(floats[0]))];
			break;
		}
		bits = rng();
		memcpy(&fl->f, &bits, sizeof(fl->f));
		if (!isfinite(fl->f) && rng_below(8) != 0)
			fl->f = (double)(int64_t)bits / 7.0;
		break;
	case 1:
		fl->type = PROTO_T_INTEGER;
		fl->i = rng_below(4) == 0 ? (rng_below(2) ? INT64_MIN :
		    INT64_MAX) : (int64_t)rng();
		break;
	case 2:
		fl->type = PROTO_T_BOOLEAN;
		fl->b = rng_below(2);
		break;
	default:
		fl->type = PROTO_T_STRING;
		fl->s[0] = '\0';
		if (rng_below(8) != 0)
			gen_name(fl->s, sizeof(fl->s));
		if (rng_below(8) == 0)
			strcat(fl->s, "\n\\");	/* a newline, a last '\' */
		break;
	}
}

static void
gen_point(struct gen_point *p)
{
	unsigned	 i, j;

	p->db = dbs[rng_below(sizeof(dbs) / sizeof(dbs[0]))];
	p->rp = rps[rng_below(sizeof(rps) / sizeof(rps[0]))];
	gen_name(p->measurement, sizeof(p->measurement));
	p->ntags = rng_below(GEN_MAX_TAGS + 1);
	for (i = 0; i < p->ntags; i++) {
		gen_name(p->tagk[i], sizeof(p->tagk[i]));
		gen_name(p->tagv[i], sizeof(p->tagv[i]));
	}
	p->nfields = 1 + rng_below(GEN_MAX_FIELDS);
	for (i = 0; i < p->nfields; i++) {
		do {	/* distinct field keys */
			gen_name(p->fields[i].key, sizeof(p->fields[i].key));
			for (j = 0; j < i; j++)
				if (strcmp(p->fields[j].key,
				    p->fields[i].key) == 0)
					break;
		} while (j < i);
		gen_value(&p->fields[i]);
	}
	p->has_time = rng_below(2);
	p->time = (int64_t)rng();
	if (rng_below(10) == 0)
		p->time = rng_below(2) ? INT64_MIN + 2 : INT64_MAX - 1;
	if (rng_below(50) == 0)
		p->time = rng_below(2) ? INT64_MIN : INT64_MAX;	/* refused */
}

/* Builds `p` with the library; returns what influx_relay_end() says. */
static int
build(struct influx_relay *r, const struct gen_point *p)
{
	const struct gen_field	*fl;
	unsigned		 i;

	influx_relay_begin_rp(r, p->db, p->rp, p->measurement);
	for (i = 0; i < p->ntags; i++)
		influx_relay_tag(r, p->tagk[i], p->tagv[i]);
	for (i = 0; i < p->nfields; i++) {
		fl = &p->fields[i];
		switch (fl->type) {
		case PROTO_T_FLOAT:
			influx_relay_float(r, fl->key, fl->f);
			break;
		case PROTO_T_INTEGER:
			influx_relay_integer(r, fl->key, fl->i);
			break;
		case PROTO_T_BOOLEAN:
			influx_relay_boolean(r, fl->key, fl->b);
			break;
		default:
			influx_relay_string(r, fl->key, fl->s);
			break;
		}
	}
	if (p->has_time)
		influx_relay_time(r, p->time);
	return influx_relay_end(r);
}

/*
 * The library's rules, stated again: can line protocol carry the name
 * so that InfluxDB reads back the same bytes?
 */
static bool
name_ok(const char *s, const char *escaped)
{
	if (*s == '\0' || strpbrk(s, "\r\n") != NULL)
		return false;
	for (; *s != '\0'; s++)
		if (*s == '\\' && (s[1] == '\0' || strchr(escaped, s[1])))
			return false;
	return true;
}

static bool
route_ok(const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if ((unsigned char)*s < 0x20)
			return false;
	return true;
}

/* What influx_relay_end() must say of `p`. */
static int
expected(const struct gen_point *p)
{
	unsigned	 i, j;

	if (!route_ok(p->db) || !route_ok(p->rp) ||
	    !name_ok(p->measurement, ", ") || p->measurement[0] == '#' ||
	    p->measurement[0] == '\t')
		return INFLUX_RELAY_ENAME;
	for (i = 0; i < p->ntags; i++) {
		if (!name_ok(p->tagk[i], ",= ") ||
		    !name_ok(p->tagv[i], ",= ") ||
		    strcmp(p->tagk[i], "time") == 0)
			return INFLUX_RELAY_ENAME;
		for (j = 0; j < i; j++)
			if (strcmp(p->tagk[i], p->tagk[j]) == 0)
				return INFLUX_RELAY_EDUPTAG;
	}
	for (i = 0; i < p->nfields; i++) {
		if (!name_ok(p->fields[i].key, ",= \"") ||
		    strcmp(p->fields[i].key, "time") == 0 ||
		    p->fields[i].key[0] == '\t')
			return INFLUX_RELAY_ENAME;
		if (p->fields[i].type == PROTO_T_FLOAT &&
		    !isfinite(p->fields[i].f))
			return INFLUX_RELAY_EVALUE;
	}
	if (p->has_time && (p->time < INT64_MIN + 2 || p->time == INT64_MAX))
		return INFLUX_RELAY_ETIME;
	return INFLUX_RELAY_OK;
}

/* --- reading lines back as InfluxDB does --- */

/* The first of `stops` in [p, end) not right after a backslash. */
static const char *
dec_scan(const char *start, const char *end, const char *stops)
{
	const char	*p;

	for (p = start; p < end; p++)
		if (strchr(stops, *p) != NULL && (p == start || p[-1] != '\\'))
			break;
	return p;
}

/* [p, end) with the backslash before each of `escaped` taken out. */
static void
dec_unescape(const char *p, const char *end, const char *escaped,
    char *out)
{
	for (; p < end; p++) {
		if (*p == '\\' && p + 1 < end && strchr(escaped, p[1]) != NULL)
			p++;
		*out++ = *p;
	}
	*out = '\0';
}

/* Compares one field "key=value" at *pp with `fl`; moves past it. */
static void
dec_field(const char **pp, const char *end, const struct gen_field *fl,
    enum proto_type parsed)
{
	const char	*p = *pp, *k = p, *v;
	char		 text[256], *q = text;
	double		 f;

	p = dec_scan(k, end, "=");
	dec_unescape(k, p, ",= ", text);
	ck_assert_str_eq(text, fl->key);
	ck_assert_msg(parsed == fl->type, "field %s: the relay reads type %d,"
	    " not %d", fl->key, parsed, fl->type);
	v = ++p;
	if (*v == '"') {
		for (p = v + 1; *p != '"'; p++) {
			if (*p == '\\' && (p[1] == '\\' || p[1] == '"'))
				p++;
			*q++ = *p;
		}
		*q = '\0';
		ck_assert_str_eq(text, fl->s);
		*pp = p + 1;
		return;
	}
	p = dec_scan(v, end, ", ");
	snprintf(text, sizeof(text), "%.*s", (int)(p - v), v);
	*pp = p;
	switch (fl->type) {
	case PROTO_T_FLOAT:
		f = strtod(text, NULL);
		ck_assert_msg(memcmp(&f, &fl->f, sizeof(f)) == 0,
		    "float %s is not %.17g", text, fl->f);
		break;
	case PROTO_T_INTEGER:
		ck_assert_int_eq(strtoll(text, NULL, 10), fl->i);
		ck_assert_int_eq(text[strlen(text) - 1], 'i');
		break;
	default:
		ck_assert_str_eq(text, fl->b ? "true" : "false");
		break;
	}
}

/* Checks that the relay reads `line` as the point `p`. */
static void
dec_point(const char *line, size_t len, const struct gen_point *p)
{
	struct proto_point	 pt;
	const char		*end = line + len, *s = line, *e;
	char			 text[256];
	unsigned		 i;

	ck_assert_msg(proto_parse(line, len, &pt) == PROTO_OK,
	    "relay refuses %.*s: %s", (int)len, line,
	    proto_strerror(proto_parse(line, len, &pt)));
	ck_assert_uint_eq(pt.ntags, p->ntags);
	ck_assert_uint_eq(pt.nfields, p->nfields);
	ck_assert(pt.has_time == p->has_time);
	if (p->has_time)
		ck_assert_int_eq(pt.time, p->time);
	e = dec_scan(s, end, ", ");
	dec_unescape(s, e, ", ", text);
	ck_assert_str_eq(text, p->measurement);
	for (i = 0; i < p->ntags; i++) {
		ck_assert_int_eq(*e, ',');
		s = e + 1;
		e = dec_scan(s, end, "=");
		dec_unescape(s, e, ",= ", text);
		ck_assert_str_eq(text, p->tagk[i]);
		s = e + 1;
		e = dec_scan(s, end, ", ");
		dec_unescape(s, e, ",= ", text);
		ck_assert_str_eq(text, p->tagv[i]);
	}
	ck_assert_int_eq(*e, ' ');
	s = e + 1;
	for (i = 0; i < p->nfields; i++) {
		if (i > 0)
			ck_assert_int_eq(*s++, ',');
		dec_field(&s, end, &p->fields[i], pt.ids[i].type);
	}
	ck_assert(s == end || *s == ' ');
}

/*
 * Frames what the fake relay read into lines as the relay does, follows
 * the directives, and checks each point against `want` in order.
 */
static void
dec_stream(const struct fake *f, const struct gen_point *want, size_t n)
{
	struct route_directive	 d;
	const char		*p = f->sink, *end = f->sink + f->len, *nl;
	char			 db[ROUTE_MAX_NAME + 1] = "";
	char			 rp[ROUTE_MAX_NAME + 1] = "";
	size_t			 k = 0;

	while (p < end) {
		nl = proto_line_end(p, (size_t)(end - p));
		ck_assert_msg(nl != NULL, "a cut last line");
		if (route_directive(p, (size_t)(nl - p), &d) ==
		    ROUTE_LINE_DIRECTIVE) {
			if (d.has_db)
				strcpy(db, d.db);
			if (d.has_rp)
				strcpy(rp, d.rp);
		} else {
			ck_assert_uint_lt(k, n);
			ck_assert_str_eq(db, want[k].db ? want[k].db : "");
			ck_assert_str_eq(rp, want[k].rp ? want[k].rp : "");
			dec_point(p, (size_t)(nl - p), &want[k]);
			k++;
		}
		p = nl + 1;
	}
	ck_assert_uint_eq(k, n);
}

#define ROUND_POINTS	400

/* Does a measurement, tag or field key of the points hold `piece`? */
static bool
piece_used(const struct gen_point *want, size_t n, const char *piece)
{
	size_t		 k;
	unsigned	 i;

	for (k = 0; k < n; k++) {
		if (strstr(want[k].measurement, piece) != NULL)
			return true;
		for (i = 0; i < want[k].ntags; i++)
			if (strstr(want[k].tagk[i], piece) ||
			    strstr(want[k].tagv[i], piece))
				return true;
		for (i = 0; i < want[k].nfields; i++)
			if (strstr(want[k].fields[i].key, piece))
				return true;
	}
	return false;
}

/* Random points, through the library, read back by the relay's parser. */
START_TEST(test_property)
{
	static struct gen_point	 want[ROUND_POINTS];
	struct gen_point	 p;
	struct fake		 f = { .lfd = -1 };
	struct influx_relay	*r;
	size_t			 n = 0, k;
	int			 rc;

	rng_state = 0x9e3779b97f4a7c15ULL * (uint64_t)(_i + 1);
	fake_listen(&f);
	r = open_client(&f, 0);
	for (k = 0; k < ROUND_POINTS; k++) {
		gen_point(&p);
		rc = build(r, &p);
		ck_assert_msg(rc == expected(&p), "seed %d point %zu: %s, "
		    "expected %s", _i, k, influx_relay_strerror(rc),
		    influx_relay_strerror(expected(&p)));
		if (rc == 0)
			want[n++] = p;
		if (k % 50 == 0)
			pump(r, &f);
	}
	finish(r, &f);
	/* enough valid points, with every piece, or escaping went untested */
	ck_assert_uint_gt(n, ROUND_POINTS / 4);
	for (k = 0; k < NPIECES; k++)
		ck_assert_msg(piece_used(want, n, pieces[k]),
		    "no valid point has \"%s\"", pieces[k]);
	dec_stream(&f, want, n);
	fake_free(&f);
}
END_TEST

/* Every escaped byte, in every part, in one known point. */
START_TEST(test_escaping)
{
	struct fake		 f = { .lfd = -1 };
	struct influx_relay	*r;
	const char		*want = "#relay partial=reject\n"
	    "#relay db=my\\ db rp=\n"
	    "c\\,p\\ u=\",t\\ a\\=g\\,=v\\=a\\,l\\ \"\\x,k=\xc3\xa9 "
	    "f\\ i\\=e\\,ld=\"q\\\"uo\\\\te\",n=-3i,b=true,x=0.5 -7\n";

	fake_listen(&f);
	r = open_client(&f, 1000);
	ck_assert_int_eq(influx_relay_begin(r, "my db", "c,p u=\""), 0);
	ck_assert_int_eq(influx_relay_tag(r, "t a=g,", "v=a,l \"\\x"), 0);
	ck_assert_int_eq(influx_relay_tag(r, "k", "\xc3\xa9"), 0);
	ck_assert_int_eq(influx_relay_string(r, "f i=e,ld", "q\"uo\\te"), 0);
	ck_assert_int_eq(influx_relay_integer(r, "n", -3), 0);
	ck_assert_int_eq(influx_relay_boolean(r, "b", true), 0);
	ck_assert_int_eq(influx_relay_float(r, "x", 0.5), 0);
	ck_assert_int_eq(influx_relay_time(r, -7), 0);
	ck_assert_int_eq(influx_relay_end(r), 0);
	finish(r, &f);
	ck_assert_uint_eq(f.len, strlen(want));
	ck_assert(memcmp(f.sink, want, f.len) == 0);
	fake_free(&f);
}
END_TEST

/* Misuse and refused input: the code, and nothing sent. */
START_TEST(test_errors)
{
	struct fake		 f = { .lfd = -1 };
	struct influx_relay	*r;
	char			 big[INFLUX_RELAY_MAX_POINT];
	int			 e;

	fake_listen(&f);
	r = open_client(&f, 1000);
	ck_assert_int_eq(influx_relay_end(r), INFLUX_RELAY_EINVAL);
	ck_assert_int_eq(influx_relay_tag(r, "k", "v"), INFLUX_RELAY_EINVAL);
	/* a tag after a field spoils the point; end() says so */
	influx_relay_begin(r, NULL, "m");
	influx_relay_float(r, "v", 1);
	ck_assert_int_eq(influx_relay_tag(r, "k", "v"), INFLUX_RELAY_EINVAL);
	ck_assert_int_eq(influx_relay_float(r, "w", 1), INFLUX_RELAY_EINVAL);
	ck_assert_int_eq(influx_relay_end(r), INFLUX_RELAY_EINVAL);
	influx_relay_begin(r, NULL, "m");
	ck_assert_int_eq(influx_relay_begin(r, NULL, "m"),
	    INFLUX_RELAY_EINVAL);
	ck_assert_int_eq(influx_relay_end(r), INFLUX_RELAY_EINVAL);
	influx_relay_begin(r, NULL, "m");
	ck_assert_int_eq(influx_relay_end(r), INFLUX_RELAY_ENOFIELD);
	influx_relay_begin(r, NULL, "m");
	ck_assert_int_eq(influx_relay_float(r, "v", NAN), INFLUX_RELAY_EVALUE);
	ck_assert_int_eq(influx_relay_end(r), INFLUX_RELAY_EVALUE);
	influx_relay_begin(r, NULL, "m");
	influx_relay_tag(r, "a b", "1");
	ck_assert_int_eq(influx_relay_tag(r, "a b", "2"), INFLUX_RELAY_EDUPTAG);
	ck_assert_int_eq(influx_relay_end(r), INFLUX_RELAY_EDUPTAG);
	influx_relay_begin(r, NULL, "m");
	influx_relay_float(r, "v", 1);
	ck_assert_int_eq(influx_relay_time(r, INT64_MAX), INFLUX_RELAY_ETIME);
	ck_assert_int_eq(influx_relay_end(r), INFLUX_RELAY_ETIME);
	ck_assert_int_eq(influx_relay_begin(r, NULL, "#m"), INFLUX_RELAY_ENAME);
	ck_assert_int_eq(influx_relay_end(r), INFLUX_RELAY_ENAME);
	ck_assert_int_eq(influx_relay_begin(r, "a\nb", "m"),
	    INFLUX_RELAY_ENAME);
	influx_relay_cancel(r);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	influx_relay_begin(r, NULL, "m");
	ck_assert_int_eq(influx_relay_string(r, "s", big),
	    INFLUX_RELAY_ETOOBIG);
	ck_assert_int_eq(influx_relay_end(r), INFLUX_RELAY_ETOOBIG);
	/* nothing of those reached the relay; a good point still does */
	ck_assert_uint_eq(influx_relay_pending(r), 0);
	influx_relay_begin(r, NULL, "m");
	influx_relay_integer(r, "ok", 1);
	ck_assert_int_eq(influx_relay_end(r), 0);
	finish(r, &f);
	ck_assert_uint_eq(f.len, strlen(PREAMBLE "m ok=1i\n"));
	ck_assert(memcmp(f.sink, PREAMBLE "m ok=1i\n", f.len) == 0);
	/* every code has its own words */
	for (e = INFLUX_RELAY_OK; e <= INFLUX_RELAY_EIO; e++) {
		ck_assert_str_ne(influx_relay_strerror(e), "unknown error");
		if (e > 0)
			ck_assert_str_ne(influx_relay_strerror(e),
			    influx_relay_strerror(e - 1));
	}
	ck_assert_str_eq(influx_relay_strerror(99), "unknown error");
	fake_free(&f);
}
END_TEST

static double
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * Adds points "m v=Ii[,s=\"xxx...\"]" for i from `from`, with a string of
 * `pad` bytes; returns how many the client took.
 */
static int
add_padded(struct influx_relay *r, int from, int n, size_t pad)
{
	static char	 text[8192];
	int		 i;

	memset(text, 'x', sizeof(text) - 1);
	text[pad < sizeof(text) ? pad : sizeof(text) - 1] = '\0';
	for (i = from; i < from + n; i++) {
		influx_relay_begin(r, "db", "m");
		influx_relay_integer(r, "v", i);
		if (pad > 0)
			influx_relay_string(r, "s", text);
		if (influx_relay_end(r) != 0)
			break;
	}
	return i - from;
}

static int
add_points(struct influx_relay *r, int from, int n)
{
	return add_padded(r, from, n, 0);
}

/* Counts the points "m v=Ii" in the sink and checks they are 0..n-1. */
static void
check_sequence(const struct fake *f, int n)
{
	const char	*p = f->sink, *end = f->sink + f->len, *nl;
	int		 next = 0;

	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		ck_assert_ptr_nonnull(nl);
		if (*p == '#')
			continue;
		ck_assert_int_eq(atoi(p + 4), next);
		next++;
	}
	ck_assert_int_eq(next, n);
}

/*
 * Out of memory for the table of line ends, with a directive to write:
 * the point is refused whole (nothing of it in the buffer), and the
 * points after it arrive under the right routes.
 */
START_TEST(test_out_of_memory)
{
	struct fake		 f = { .lfd = -1 };
	struct influx_relay	*r;
	char			 db[256];
	int			 i;

	memset(db, ' ', 255);
	db[255] = '\0';
	fake_listen(&f);
	r = open_client(&f, 1000);
	/* lines until the table (1,024 at first) must grow */
	for (i = 0; i < 1022; i++) {
		influx_relay_begin(r, "a", "m");
		influx_relay_integer(r, "v", i);
		ck_assert_int_eq(influx_relay_end(r), 0);
	}
	fail_realloc = true;
	ck_assert_int_eq(influx_relay_begin(r, db, "m"), INFLUX_RELAY_ENOMEM);
	ck_assert_int_eq(influx_relay_end(r), INFLUX_RELAY_ENOMEM);
	ck_assert_int_eq(influx_relay_begin(r, db, "m"), 0);
	influx_relay_integer(r, "v", 1022);
	ck_assert_int_eq(influx_relay_end(r), 0);
	influx_relay_begin(r, "b", "m");
	influx_relay_integer(r, "v", 1023);
	ck_assert_int_eq(influx_relay_end(r), 0);
	finish(r, &f);
	check_sequence(&f, 1024);
	ck_assert_ptr_nonnull(strstr(f.sink, "#relay db=\\ \\ "));
	fake_free(&f);
}
END_TEST

/* A point of nearly the limit fits, however much of it needs escaping. */
START_TEST(test_long_point)
{
	static char		 text[INFLUX_RELAY_MAX_POINT];
	struct fake		 f = { .lfd = -1 };
	struct influx_relay	*r;

	fake_listen(&f);
	r = open_client(&f, 1000);
	memset(text, 'x', 60000);
	influx_relay_begin(r, NULL, "m");
	influx_relay_string(r, "s", text);
	ck_assert_int_eq(influx_relay_end(r), 0);
	memset(text, '"', 40000);	/* 80,000 bytes escaped: too long */
	text[40000] = '\0';
	influx_relay_begin(r, NULL, "m");
	influx_relay_string(r, "s", text);
	ck_assert_int_eq(influx_relay_end(r), INFLUX_RELAY_ETOOBIG);
	finish(r, &f);
	ck_assert_uint_eq(f.len, strlen(PREAMBLE) + strlen("m s=\"\"\n") +
	    60000);
	fake_free(&f);
}
END_TEST

/* A relay that stops reading: a flush waits no longer than the timeout. */
START_TEST(test_timeout)
{
	struct fake		 f = { .lfd = -1 };
	struct influx_relay	*r;
	double			 t0, waited;
	int			 n = 0, rc = 0;

	fake_listen(&f);
	r = open_client(&f, 200);
	/* fill the socket until the relay, not reading, stops taking */
	while (rc == 0) {
		n += add_points(r, n, 1000);
		t0 = now_ms();
		rc = influx_relay_flush(r);
	}
	waited = now_ms() - t0;
	ck_assert_int_eq(rc, INFLUX_RELAY_ETIMEOUT);
	ck_assert_msg(waited >= 150 && waited < 1000, "waited %.0f ms",
	    waited);
	ck_assert_uint_gt(influx_relay_pending(r), 0);
	/* the relay reads again: every point arrives once, in order */
	finish(r, &f);
	check_sequence(&f, n);
	fake_free(&f);
}
END_TEST

/*
 * The relay goes away: points wait in the bounded buffer, the client
 * says when it is full without blocking, and once a relay listens again
 * the waiting points arrive, each once.
 */
START_TEST(test_relay_away)
{
	struct fake		 f = { .lfd = -1 };
	struct influx_relay	*r;
	double			 t0;
	int			 n, rc;

	fake_listen(&f);
	r = open_client(&f, 200);
	n = add_points(r, 0, 10);
	pump(r, &f);
	fake_stop(&f);
	n += add_points(r, n, 10);
	ck_assert_int_eq(influx_relay_flush(r), INFLUX_RELAY_ECONNECT);
	t0 = now_ms();
	n += add_points(r, n, 1000000);
	ck_assert_msg(now_ms() - t0 < 1000, "filling the buffer blocked");
	ck_assert_int_lt(n, 1000000);
	influx_relay_begin(r, "db", "m");
	influx_relay_integer(r, "v", n);
	rc = influx_relay_end(r);
	ck_assert_msg(rc == INFLUX_RELAY_EFULL || rc == INFLUX_RELAY_ECONNECT,
	    "%s", influx_relay_strerror(rc));
	fake_listen(&f);
	finish(r, &f);
	check_sequence(&f, n);
	fake_free(&f);
}
END_TEST

/*
 * The relay restarts while a line is half sent: the new connection gets
 * the routing directive again and the cut line whole.
 */
START_TEST(test_restart)
{
	struct fake		 f = { .lfd = -1 };
	struct influx_relay	*r;
	const char		*cut;
	int			 n = 0, i, rc;

	fake_listen(&f);
	r = open_client(&f, 0);
	for (i = 0; i < 1000 && f.cfd < 0; i++)
		(void)fake_accept(&f);
	/*
	 * Fill the socket with long lines until the relay has part of one
	 * (the socket took a line's start); rarely the cut falls between
	 * two lines, then again.
	 */
	for (i = 0; i < 20; i++) {
		rc = 0;
		while (rc == 0) {
			n += add_padded(r, n, 10, 5000);
			rc = influx_relay_flush(r);
		}
		ck_assert_int_eq(rc, INFLUX_RELAY_ETIMEOUT);
		(void)fake_drain(&f);
		if (f.sink[f.len - 1] != '\n')
			break;
	}
	ck_assert_int_ne(f.sink[f.len - 1], '\n');
	/* the relay stops, dropping the cut line; a new one starts */
	fake_stop(&f);
	cut = memrchr(f.sink, '\n', f.len);
	f.len = (size_t)(cut - f.sink) + 1;
	fake_listen(&f);
	finish(r, &f);
	check_sequence(&f, n);
	/* the second connection began with the directive for "db" */
	ck_assert_ptr_nonnull(strstr(f.sink + 1, "#relay db=db rp=\n"));
	fake_free(&f);
}
END_TEST

/* A forked child drops its copy of the parent's points. */
START_TEST(test_fork)
{
	struct fake		 f = { .lfd = -1 };
	struct influx_relay	*r;
	pid_t			 pid;
	int			 status, i;

	fake_listen(&f);
	r = open_client(&f, 1000);
	(void)fake_accept(&f);
	ck_assert_int_eq(add_points(r, 0, 3), 3);
	if ((pid = fork()) == 0) {
		influx_relay_begin(r, NULL, "child");
		influx_relay_integer(r, "v", 1);
		_exit(influx_relay_end(r) != 0 || influx_relay_close(r) != 0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(status, 0);
	/* the parent's connection: the parent's points only */
	finish(r, &f);
	check_sequence(&f, 3);
	/* the child's own connection: its point only */
	f.len = 0;
	for (i = 0; i < 1000 && !fake_drain(&f); i++)
		(void)poll(NULL, 0, 2);
	ck_assert_uint_eq(f.len, strlen(PREAMBLE "child v=1i\n"));
	ck_assert(memcmp(f.sink, PREAMBLE "child v=1i\n", f.len) == 0);
	fake_free(&f);
}
END_TEST

/* In the steady state, building and sending points allocates nothing. */
START_TEST(test_no_allocation)
{
	static const char *const dbs3[] = { "a", "b c", NULL };
	struct fake		 f = { .lfd = -1 };
	struct influx_relay	*r;
	unsigned long		 before;
	int			 i, round, failed = 0;

	fake_listen(&f);
	r = open_client(&f, 1000);
	f.cap = 64 << 20;		/* the sink grows no more */
	f.sink = malloc(f.cap);
	for (round = 0; round < 2; round++) {
		before = allocations;
		for (i = 0; i < 100000; i++) {
			influx_relay_begin(r, dbs3[i % 3], "cpu");
			influx_relay_tag(r, "host", "a b");
			influx_relay_float(r, "load", i / 3.0);
			influx_relay_integer(r, "n", i);
			influx_relay_string(r, "s", "x\"y");
			influx_relay_time(r, i);
			failed += influx_relay_end(r) != 0;
			if (i % 1000 == 999)
				pump(r, &f);
		}
	}
	/* the second round allocated nothing at all */
	ck_assert_uint_eq(allocations, before);
	ck_assert_int_eq(failed, 0);
	finish(r, &f);
	fake_free(&f);
}
END_TEST

static Suite *
client_suite(void)
{
	Suite	*s = suite_create("client");
	TCase	*tc = tcase_create("client");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_property, 0, 25);
	tcase_add_test(tc, test_escaping);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_out_of_memory);
	tcase_add_test(tc, test_long_point);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_relay_away);
	tcase_add_test(tc, test_restart);
	tcase_add_test(tc, test_fork);
	tcase_add_test(tc, test_no_allocation);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(client_suite)
