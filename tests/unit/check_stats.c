/*
 * The stats tables: every field of struct listener_stats and struct
 * target_stats has a row, and every row shows in all three renderings
 * (JSON, log line, line protocol) under its one name; the answer is valid
 * JSON whatever bytes clients and servers sent; each HTTP status a real
 * target meets (faultd answers) moves its own counter.
 */
#include "config.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "check_main.h"
#include "conf.h"
#include "faultd.h"
#include "loop.h"
#include "mem.h"
#include "point.h"
#include "sender.h"
#include "stamp.h"
#include "stats.h"
#include "target.h"

static const struct {
	const char	*in;
	bool		 cut;
	const char	*want;
} json_cases[] = {
	{ "plain", false, "\"plain\"" },
	{ "q\"b\\", false, "\"q\\\"b\\\\\"" },
	{ "esc\x1b[31m\r\n", false, "\"esc\\u001b[31m\\u000d\\u000a\"" },
	{ "del\x7f", false, "\"del\\u007f\"" },
	{ "c1\xc2\x9b", false, "\"c1\\u009b\"" },
	{ "\xc3\xa9t\xc3\xa9", false, "\"\xc3\xa9t\xc3\xa9\"" },
	{ "\xf0\x9f\x98\x80", false, "\"\xf0\x9f\x98\x80\"" },
	{ "bad\xff", false, "\"bad\\ufffd\"" },
	{ "lone\x80x", false, "\"lone\\ufffdx\"" },
	{ "overlong\xc0\xaf", false, "\"overlong\\ufffd\\ufffd\"" },
	{ "surrogate\xed\xa0\x80", false, "\"surrogate\\ufffd\\ufffd\\ufffd\"" },
	{ "big\xf4\x90\x80\x80", false, "\"big\\ufffd\\ufffd\\ufffd\\ufffd\"" },
	/* a cut inside a character: invalid data, unless marked as cut */
	{ "cut\xe2\x82", false, "\"cut\\ufffd\\ufffd\"" },
	{ "cut\xe2\x82", true, "\"cut\"" },
	{ "cut\xf0\x9f\x98", true, "\"cut\"" },
	{ "cut\xc3", true, "\"cut\"" },
	/* only the last character can be a cut one */
	{ "mid\xe2\x82x", true, "\"mid\\ufffd\\ufffdx\"" },
	{ "end\xff", true, "\"end\\ufffd\"" },
};

START_TEST(test_json_string)
{
	struct evbuffer	*out = evbuffer_new();
	size_t		 len;
	char		*got;

	if (json_cases[_i].cut)
		stats_json_cut_string(out, json_cases[_i].in);
	else
		stats_json_string(out, json_cases[_i].in);
	len = evbuffer_get_length(out);
	got = calloc(1, len + 1);
	evbuffer_remove(out, got, len);
	ck_assert_str_eq(got, json_cases[_i].want);
	free(got);
	evbuffer_free(out);
}
END_TEST

/* The tables and the views they read, with each module's own struct. */
static const struct {
	const struct stats_table	*tb;
	size_t				 view_size;
	size_t				 s_offset;	/* the module's struct */
	size_t				 s_size;
} tables[] = {
	{ &stats_listener_table, sizeof(struct stats_listener),
	    offsetof(struct stats_listener, s), sizeof(struct listener_stats) },
	{ &stats_target_table, sizeof(struct stats_target),
	    offsetof(struct stats_target, s), sizeof(struct target_stats) },
};

/* A buffer's bytes as a string the caller frees. */
static char *
drain(struct evbuffer *out)
{
	size_t	 len = evbuffer_get_length(out);
	char	*s = calloc(1, len + 1);

	ck_assert_ptr_nonnull(s);
	evbuffer_remove(out, s, len);
	return s;
}

/*
 * A minimal JSON (RFC 8259) checker: the end of the value at `p`, NULL
 * if there is none.
 */
static const char	*json_value(const char *p, int depth);

static const char *
json_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static const char *
json_str(const char *p)
{
	int	 i;

	if (*p++ != '"')
		return NULL;
	for (; *p != '"'; p++) {
		if ((unsigned char)*p < 0x20)	/* the NUL too */
			return NULL;
		if (*p != '\\')
			continue;
		if (*++p == 'u') {
			for (i = 0; i < 4; i++)
				if (!isxdigit((unsigned char)*++p))
					return NULL;
		} else if (*p == '\0' || strchr("\"\\/bfnrt", *p) == NULL)
			return NULL;
	}
	return p + 1;
}

static const char *
json_number(const char *p)
{
	const char	*q;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (isdigit((unsigned char)*p))
			p++;
	else
		return NULL;
	if (*p == '.') {
		for (q = ++p; isdigit((unsigned char)*p); p++)
			;
		if (p == q)
			return NULL;
	}
	if (*p == 'e' || *p == 'E') {
		if (*++p == '+' || *p == '-')
			p++;
		for (q = p; isdigit((unsigned char)*p); p++)
			;
		if (p == q)
			return NULL;
	}
	return p;
}

/* An object or an array: members (with keys) up to `close`. */
static const char *
json_members(const char *p, char close, bool keys, int depth)
{
	p = json_ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (keys) {
			if ((p = json_str(p)) == NULL)
				return NULL;
			if (*(p = json_ws(p)) != ':')
				return NULL;
			p = json_ws(p + 1);
		}
		if ((p = json_value(p, depth + 1)) == NULL)
			return NULL;
		p = json_ws(p);
		if (*p == close)
			return p + 1;
		if (*p != ',')
			return NULL;
		p = json_ws(p + 1);
	}
}

static const char *
json_value(const char *p, int depth)
{
	if (depth > 32)
		return NULL;
	switch (*p) {
	case '{':
		return json_members(p, '}', true, depth);
	case '[':
		return json_members(p, ']', false, depth);
	case '"':
		return json_str(p);
	case 't':
		return strncmp(p, "true", 4) == 0 ? p + 4 : NULL;
	case 'f':
		return strncmp(p, "false", 5) == 0 ? p + 5 : NULL;
	case 'n':
		return strncmp(p, "null", 4) == 0 ? p + 4 : NULL;
	default:
		return json_number(p);
	}
}

static bool
json_valid(const char *s)
{
	const char	*end = json_value(json_ws(s), 0);

	return end != NULL && *json_ws(end) == '\0';
}

static const struct {
	const char	*text;
	bool		 valid;
} json_checks[] = {
	{ "{\"a\":1,\"b\":[true,false,null,-0.5e+3],\"c\":{}}", true },
	{ "{\"s\":\"\\u00e9\\\"\"}", true },
	{ "{\"a\":1,}", false },
	{ "{\"a\":01}", false },
	{ "{\"a\":1", false },
	{ "{\"a\":\"x\ny\"}", false },
	{ "{\"a\":tru}", false },
	{ "{\"a\":1}x", false },
};

/* The checker itself fails on what it must. */
START_TEST(test_json_checker)
{
	ck_assert_msg(json_valid(json_checks[_i].text) ==
	    json_checks[_i].valid, "%s", json_checks[_i].text);
}
END_TEST

/*
 * Rows are well formed: one name each, spelled for all three outputs,
 * inside the view, of the size their kind reads.
 */
START_TEST(test_table_rows)
{
	const struct stats_table	*tb = tables[_i].tb;
	const struct stats_field	*f, *g;
	const char			*c;

	ck_assert_uint_gt(tb->nfields, 0);
	for (f = tb->fields; f < tb->fields + tb->nfields; f++) {
		for (c = f->name; *c != '\0'; c++)
			ck_assert_msg(islower((unsigned char)*c) ||
			    isdigit((unsigned char)*c) || *c == '_',
			    "%s: row name %s", tb->object, f->name);
		ck_assert_str_ne(f->name, "name");	/* JSON: the object's */
		ck_assert_str_ne(f->name, "queue_list");
		for (g = tb->fields; g < f; g++)
			ck_assert_str_ne(f->name, g->name);
		ck_assert_uint_le(f->offset + f->size, tables[_i].view_size);
		switch (f->kind) {
		case STATS_COUNTER:
		case STATS_GAUGE:
		case STATS_TIME:
			ck_assert_uint_eq(f->size, sizeof(uint64_t));
			break;
		case STATS_FLAG:
			ck_assert_uint_eq(f->size, sizeof(bool));
			break;
		case STATS_STRING:
			ck_assert_uint_gt(f->size, 1);
			break;
		case STATS_MAP:
			ck_assert_uint_eq(f->size % sizeof(struct listener_reason),
			    0);
			break;
		}
	}
}
END_TEST

/*
 * Each byte of the module's struct is read by exactly one row: a field
 * added to struct listener_stats or struct target_stats without a row
 * (so shown nowhere) fails here.
 */
START_TEST(test_table_covers_struct)
{
	const struct stats_table	*tb = tables[_i].tb;
	const struct stats_field	*f;
	size_t				 lo = tables[_i].s_offset;
	size_t				 hi = lo + tables[_i].s_size, i;
	unsigned char			*seen = calloc(1, hi);

	ck_assert_ptr_nonnull(seen);
	for (f = tb->fields; f < tb->fields + tb->nfields; f++)
		for (i = f->offset; i < f->offset + f->size; i++)
			if (i >= lo && i < hi)
				ck_assert_msg(seen[i]++ == 0, "%s: %s overlaps",
				    tb->object, f->name);
	for (i = lo; i < hi; i++)
		ck_assert_msg(seen[i] == 1, "%s: byte %zu of its stats struct "
		    "has no row", tb->object, i - lo);
	free(seen);
}
END_TEST

/* Map entries for the test view: keys that need escaping in the points. */
static const struct listener_reason test_entries[] = {
	{ "no fields", 5 },
	{ "a,b=c", 6 },
};

/*
 * Gives every row of a view its own value (negative gauges too) and
 * returns how each renders it as a number ("" for strings and maps).
 */
static void
fill_view(const struct stats_table *tb, void *view, char (*num)[32])
{
	const struct stats_field	*f;
	size_t				 i;
	uint64_t			 u;
	int64_t				 v;
	bool				 b = true;

	for (i = 0, f = tb->fields; i < tb->nfields; i++, f++) {
		num[i][0] = '\0';
		switch (f->kind) {
		case STATS_COUNTER:
			u = 10000000000ULL + i;
			memcpy((char *)view + f->offset, &u, sizeof(u));
			snprintf(num[i], sizeof(num[i]), "%" PRIu64, u);
			break;
		case STATS_GAUGE:
		case STATS_TIME:
			v = (int64_t)(i + 1) * (i % 2 ? -7 : 7);
			memcpy((char *)view + f->offset, &v, sizeof(v));
			snprintf(num[i], sizeof(num[i]), "%" PRId64, v);
			break;
		case STATS_FLAG:
			memcpy((char *)view + f->offset, &b, sizeof(b));
			snprintf(num[i], sizeof(num[i]), "true");
			break;
		case STATS_STRING:
			snprintf((char *)view + f->offset, f->size,
			    "HTTP 500 \"x\"\x1b");
			break;
		case STATS_MAP:
			ck_assert_uint_ge(f->size, sizeof(test_entries));
			memcpy((char *)view + f->offset, test_entries,
			    sizeof(test_entries));
			break;
		}
	}
}

/* True when `tok` occurs in `s` between one of `before` and `after`. */
static bool
has_token(const char *s, const char *tok, const char *before,
    const char *after)
{
	const char	*p;
	size_t		 len = strlen(tok);

	for (p = s; (p = strstr(p, tok)) != NULL; p++)
		if ((p == s ? strchr(before, '^') != NULL :
		    strchr(before, p[-1]) != NULL) &&
		    strchr(after, p[len]) != NULL)	/* '\0' matches */
			return true;
	return false;
}

/* Asserts that `tok` occurs in rendering `what` of `s`. */
static void
assert_token(const char *what, const char *s, const char *before,
    const char *tok, const char *after)
{
	ck_assert_msg(has_token(s, tok, before, after), "%s: no %s in %s",
	    what, tok, s);
}

/*
 * Every row shows in the JSON (valid), the log words and the
 * line-protocol fields with its value; a string only in the first two.
 */
START_TEST(test_render_every_field)
{
	const struct stats_table	*tb = tables[_i].tb;
	const struct stats_field	*f;
	char				 (*num)[32], tok[256];
	char				*json, *words, *line, *obj;
	void				*view = calloc(1, tables[_i].view_size);
	struct evbuffer			*out = evbuffer_new();
	size_t				 i;

	num = calloc(tb->nfields, sizeof(*num));
	fill_view(tb, view, num);
	stats_render_json(out, tb, view);
	json = drain(out);
	stats_render_log(out, tb, view);
	words = drain(out);
	stats_render_line(out, tb, view);
	line = drain(out);
	ck_assert(asprintf(&obj, "{\"name\":\"x\"%s}", json) > 0);
	ck_assert_msg(json_valid(obj), "invalid JSON %s", obj);
	ck_assert_msg(words[0] == ' ', "log words start with a space");
	ck_assert_msg(line[0] != ',', "a point's first field has no comma");
	for (i = 0, f = tb->fields; i < tb->nfields; i++, f++) {
		switch (f->kind) {
		case STATS_STRING:
			snprintf(tok, sizeof(tok), "\"%s\":\"HTTP 500 \\\"x\\\""
			    "\\u001b\"", f->name);
			assert_token("JSON", json, ",", tok, ",");
			snprintf(tok, sizeof(tok),
			    "%s=\"HTTP 500 \\\"x\\\"\\x1b\"", f->name);
			/* free text: last */
			assert_token("log", words, " ", tok, "");
			snprintf(tok, sizeof(tok), "%s=", f->name);
			ck_assert_ptr_null(strstr(line, tok));
			break;
		case STATS_MAP:
			snprintf(tok, sizeof(tok), "\"%s\":{\"no fields\":5,"
			    "\"a,b=c\":6}", f->name);
			assert_token("JSON", json, ",", tok, ",");
			snprintf(tok, sizeof(tok), "%s[no fields]=5", f->name);
			assert_token("log", words, " ", tok, " ");
			snprintf(tok, sizeof(tok), "%s[a,b=c]=6", f->name);
			assert_token("log", words, " ", tok, " ");
			snprintf(tok, sizeof(tok), "%s[no\\ fields]=5i",
			    f->name);
			assert_token("line", line, "^,", tok, ",");
			snprintf(tok, sizeof(tok), "%s[a\\,b\\=c]=6i", f->name);
			assert_token("line", line, "^,", tok, ",");
			break;
		default:
			snprintf(tok, sizeof(tok), "\"%s\":%s", f->name, num[i]);
			assert_token("JSON", json, ",", tok, ",");
			/* a time also as RFC 3339 in the JSON, and only there */
			snprintf(tok, sizeof(tok), "\"%s_rfc3339\":\"", f->name);
			ck_assert_msg((strstr(json, tok) != NULL) ==
			    (f->kind == STATS_TIME), "JSON: %s", tok);
			snprintf(tok, sizeof(tok), "%s_rfc3339", f->name);
			ck_assert_ptr_null(strstr(words, tok));
			ck_assert_ptr_null(strstr(line, tok));
			snprintf(tok, sizeof(tok), "%s=%s", f->name, num[i]);
			assert_token("log", words, " ", tok, " ");
			snprintf(tok, sizeof(tok), "%s=%s%s", f->name, num[i],
			    f->kind == STATS_FLAG ? "" : "i");
			assert_token("line", line, "^,", tok, ",");
		}
	}
	free(obj);
	free(json);
	free(words);
	free(line);
	free(num);
	free(view);
	evbuffer_free(out);
}
END_TEST

/* One target on a faultd, as check_delivery.c's rig, scaled down. */
struct status_rig {
	struct event_base	*base;
	struct faultd		*fd;
	struct sender		*sender;
	struct conf		*conf;
	struct target		*t;
};

static void
status_rig_start(struct status_rig *r)
{
	struct conf_errors	 errs = { 0 };
	char			*text;

	r->base = loop_base_new();
	r->fd = faultd_new(r->base, NULL);
	r->sender = sender_new(r->base);
	text = xasprintf("[listener:l]\npath = /tmp/x.sock\ntarget = a\n"
	    "[target:a]\nurl = %s\ndatabase = db\nflush_interval = 50ms\n"
	    "timeout = 2s\nretry_initial = 20ms\nretry_max = 300ms\n",
	    faultd_url(r->fd));
	r->conf = conf_load_string(text, "t.ini", &errs);
	free(text);
	ck_assert_msg(r->conf != NULL, "%s", errs.count ? errs.msgs[0] : "");
	r->t = target_new(r->base, r->sender, r->conf->targets[0]);
}

static void
status_rig_stop(struct status_rig *r)
{
	sender_free(r->sender);
	target_free(r->t);
	faultd_free(r->fd);
	conf_free(r->conf);
	event_base_free(r->base);
}

/* Queues `n` points "m v=Ii" and flushes them as one batch. */
static void
status_rig_send(struct status_rig *r, int n)
{
	char		 body[32], tail[32];
	struct point	 p = { .body = body, .tail = tail };
	int		 i;

	for (i = 0; i < n; i++) {
		p.blen = (size_t)snprintf(body, sizeof(body), "m v=%di", i);
		p.tlen = (size_t)snprintf(tail, sizeof(tail), " %d\n",
		    1000 + i);
		p.time = p.received = stamp_now();
		ck_assert_int_eq(target_append(r->t, "db", "", &p),
		    TARGET_ACCEPTED);
	}
	target_flush(r->t);
}

static void
status_rig_tick_cb(evutil_socket_t s, short what, void *arg)
{
	struct status_rig	*r = arg;

	if (target_points(r->t) == 0 && target_requests(r->t) == 0)
		event_base_loopbreak(r->base);
}

/* Runs the loop until the target holds nothing and waits on nothing. */
static void
status_rig_settle(struct status_rig *r)
{
	struct timeval	 tick = { 0, 5000 }, limit = { 5, 0 };
	struct event	*ev;

	ev = event_new(r->base, -1, EV_PERSIST, status_rig_tick_cb, r);
	event_add(ev, &tick);
	event_base_loopexit(r->base, &limit);
	event_base_dispatch(r->base);
	event_free(ev);
	ck_assert_uint_eq(target_points(r->t), 0);
	ck_assert_uint_eq(target_requests(r->t), 0);
}

/* A row's value in a view, by name. */
static uint64_t
view_counter(const struct stats_target *v, const char *name)
{
	const struct stats_table	*tb = &stats_target_table;
	const struct stats_field	*f;
	uint64_t			 n;

	for (f = tb->fields; f < tb->fields + tb->nfields; f++)
		if (strcmp(f->name, name) == 0) {
			ck_assert_int_eq(f->kind, STATS_COUNTER);
			memcpy(&n, (const char *)v + f->offset, sizeof(n));
			return n;
		}
	ck_abort_msg("no row %s", name);
	return 0;
}

/* The counters of one HTTP status, or of none, that add up to `requests`. */
static const char *const status_rows[] = {
	"http_200", "http_204", "http_400", "http_404", "http_413",
	"http_429", "http_500", "http_503", "http_other", "http_errors",
};
static const char *const class_rows[] = {
	"http_2xx", "http_4xx", "http_5xx", "http_errors",
};

/*
 * One scripted answer, then faultd's 204s (and a 200 for the CREATE
 * DATABASE a 404 sets off): the answer's own row counts it once, and in
 * all three renderings.
 */
static const struct {
	struct faultd_step	 step;
	const char		*row;
	const char		*class;
} statuses[] = {
	{ { 200, NULL, NULL, 0 }, "http_200", "http_2xx" },
	{ { 204, NULL, NULL, 0 }, "http_204", "http_2xx" },
	{ { 400, "{\"error\":\"field type conflict\"}", NULL, 0 }, "http_400",
	    "http_4xx" },
	{ { 404, "{\"error\":\"database not found: \\\"db\\\"\"}", NULL, 0 },
	    "http_404", "http_4xx" },
	{ { 413, NULL, NULL, 0 }, "http_413", "http_4xx" },
	{ { 429, NULL, NULL, 0 }, "http_429", "http_4xx" },
	{ { 500, "{\"error\":\"timeout\"}", NULL, 0 }, "http_500",
	    "http_5xx" },
	{ { 503, NULL, NULL, 0 }, "http_503", "http_5xx" },
	{ { 502, NULL, NULL, 0 }, "http_other", "http_5xx" },
	{ { 401, "{\"error\":\"authorization failed\"}", NULL, 0 },
	    "http_other", "http_4xx" },
	{ { 0, NULL, NULL, 0 }, "http_errors", "http_errors" },
};

START_TEST(test_status_rows)
{
	struct status_rig	 r;
	struct stats_target	 v;
	struct evbuffer		*out = evbuffer_new();
	uint64_t		 sum = 0, classes = 0;
	char			 tok[64], *json, *line, *words;
	size_t			 i;

	status_rig_start(&r);
	faultd_script(r.fd, &statuses[_i].step, 1);
	status_rig_send(&r, 10);
	status_rig_settle(&r);
	stats_target_view(r.t, &v);
	ck_assert_uint_eq(v.s.points_written, 10);
	ck_assert_uint_eq(view_counter(&v, statuses[_i].row), 1);
	ck_assert_uint_ge(view_counter(&v, statuses[_i].class), 1);
	for (i = 0; i < sizeof(status_rows) / sizeof(status_rows[0]); i++)
		sum += view_counter(&v, status_rows[i]);
	for (i = 0; i < sizeof(class_rows) / sizeof(class_rows[0]); i++)
		classes += view_counter(&v, class_rows[i]);
	ck_assert_uint_eq(sum, faultd_nreqs(r.fd));
	ck_assert_uint_eq(classes, faultd_nreqs(r.fd));
	ck_assert_uint_eq(v.s.requests, faultd_nreqs(r.fd));

	stats_json_target(out, r.t);
	json = drain(out);
	ck_assert_msg(json_valid(json), "invalid JSON %s", json);
	snprintf(tok, sizeof(tok), "\"%s\":1", statuses[_i].row);
	assert_token("JSON", json, ",", tok, ",");
	stats_line_target(out, r.t);
	line = drain(out);
	ck_assert(strncmp(line, "influx_relayd,target=a ", 23) == 0);
	snprintf(tok, sizeof(tok), "%s=1i", statuses[_i].row);
	assert_token("line", line, ",", tok, ",");
	stats_render_log(out, &stats_target_table, &v);
	words = drain(out);
	snprintf(tok, sizeof(tok), "%s=1", statuses[_i].row);
	assert_token("log", words, " ", tok, " ");
	free(json);
	free(line);
	free(words);
	evbuffer_free(out);
	status_rig_stop(&r);
}
END_TEST


static const struct {
	int64_t		 t;
	const char	*want;
} time_cases[] = {
	{ 0, "null" },				/* never */
	{ 1, "\"1970-01-01T00:00:01Z\"" },
	{ 951782400, "\"2000-02-29T00:00:00Z\"" },
	{ 1700000000, "\"2023-11-14T22:13:20Z\"" },
	{ 4102444799, "\"2099-12-31T23:59:59Z\"" },
};

START_TEST(test_json_time)
{
	struct evbuffer	*out = evbuffer_new();
	char		*got;

	stats_json_time(out, time_cases[_i].t);
	got = drain(out);
	ck_assert_str_eq(got, time_cases[_i].want);
	free(got);
	evbuffer_free(out);
}
END_TEST

/* The answer's clock: now, the start, both forms, and the uptime. */
START_TEST(test_json_clock)
{
	struct evbuffer	*out = evbuffer_new();
	char		*got;

	stats_json_clock(out, 1700000000, 1699996400);
	got = drain(out);
	ck_assert_str_eq(got, ",\"time\":1700000000,\"time_rfc3339\":"
	    "\"2023-11-14T22:13:20Z\",\"started\":1699996400,"
	    "\"started_rfc3339\":\"2023-11-14T21:13:20Z\",\"uptime\":3600");
	free(got);
	evbuffer_free(out);
}
END_TEST

/*
 * Undoes log_escape() on the log word NAME="..." in `words`: what a
 * logfmt reader would make of it.  Stops at the closing quote, so a
 * nested quote left raw would end the value early.
 */
static char *
log_value(const char *words, const char *name)
{
	char		 tok[64], *out, *o;
	const char	*p;
	unsigned	 byte;

	snprintf(tok, sizeof(tok), " %s=\"", name);
	ck_assert_ptr_nonnull(p = strstr(words, tok));
	o = out = calloc(1, strlen(p) + 1);
	for (p += strlen(tok); *p != '"'; p++) {
		ck_assert_int_ne(*p, '\0');
		if (*p != '\\')
			*o++ = *p;
		else if (p[1] == 'x') {
			ck_assert_int_eq(sscanf(p + 2, "%2x", &byte), 1);
			*o++ = (char)byte;
			p += 3;
		} else
			*o++ = *++p;
	}
	ck_assert_str_eq(p, "\"");	/* strings come last */
	return out;
}

/*
 * A server's answer with quotes nested in quotes, as InfluxDB writes
 * them, reads back whole from the stats log line.
 */
START_TEST(test_log_nested_quotes)
{
	static const char	 err[] = "HTTP 400 {\"error\":\"partial write: "
	    "field type conflict: input field \\\"v\\\" on measurement "
	    "\\\"m\\\" is type integer\"}\x1b";
	struct stats_target	 v;
	struct evbuffer		*out = evbuffer_new();
	char			*words, *got;

	memset(&v, 0, sizeof(v));
	snprintf(v.s.last_error, sizeof(v.s.last_error), "%s", err);
	stats_render_log(out, &stats_target_table, &v);
	words = drain(out);
	ck_assert_ptr_null(strchr(words, '\x1b'));
	got = log_value(words, "last_error");
	ck_assert_str_eq(got, err);
	free(got);
	free(words);
	evbuffer_free(out);
}
END_TEST

/* Runs the loop for `ms`. */
static void
status_rig_run(struct status_rig *r, unsigned ms)
{
	struct timeval	 limit = { 0, (suseconds_t)ms * 1000 };

	event_base_loopexit(r->base, &limit);
	event_base_dispatch(r->base);
}

/*
 * last_error keeps its text and time, and last_error_cleared says when
 * a delivery first succeeded after it: 0 while the target still fails.
 */
START_TEST(test_last_error_cleared)
{
	static const struct faultd_step	 fail = { 503, NULL, NULL, 0 };
	static const struct faultd_step	 ok = { 204, NULL, NULL, 0 };
	struct status_rig		 r;
	struct stats_target		 v;
	int64_t				 before = time(NULL);

	status_rig_start(&r);
	stats_target_view(r.t, &v);
	ck_assert_int_eq(v.s.last_error_time, 0);
	ck_assert_int_eq(v.s.last_error_cleared, 0);
	faultd_default(r.fd, &fail);
	status_rig_send(&r, 3);
	status_rig_run(&r, 200);
	stats_target_view(r.t, &v);
	ck_assert_int_ge(v.s.last_error_time, before);
	ck_assert_int_eq(v.s.last_error_cleared, 0);
	ck_assert_str_eq(v.s.last_error, "HTTP 503 ");
	faultd_default(r.fd, &ok);
	status_rig_settle(&r);
	stats_target_view(r.t, &v);
	ck_assert_uint_eq(v.s.points_written, 3);
	ck_assert_int_ge(v.s.last_error_cleared, v.s.last_error_time);
	ck_assert_int_le(v.s.last_error_cleared, time(NULL));
	ck_assert_str_eq(v.s.last_error, "HTTP 503 ");	/* kept */
	status_rig_stop(&r);
}
END_TEST

static Suite *
stats_suite(void)
{
	Suite	*s = suite_create("stats");
	TCase	*tc = tcase_create("json");

	tcase_add_loop_test(tc, test_json_string, 0,
	    sizeof(json_cases) / sizeof(json_cases[0]));
	tcase_add_loop_test(tc, test_json_checker, 0,
	    sizeof(json_checks) / sizeof(json_checks[0]));
	tcase_add_loop_test(tc, test_json_time, 0,
	    sizeof(time_cases) / sizeof(time_cases[0]));
	tcase_add_test(tc, test_json_clock);
	suite_add_tcase(s, tc);
	tc = tcase_create("table");
	tcase_add_loop_test(tc, test_table_rows, 0,
	    sizeof(tables) / sizeof(tables[0]));
	tcase_add_loop_test(tc, test_table_covers_struct, 0,
	    sizeof(tables) / sizeof(tables[0]));
	tcase_add_loop_test(tc, test_render_every_field, 0,
	    sizeof(tables) / sizeof(tables[0]));
	tcase_add_test(tc, test_log_nested_quotes);
	suite_add_tcase(s, tc);
	tc = tcase_create("status");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_status_rows, 0,
	    sizeof(statuses) / sizeof(statuses[0]));
	tcase_add_test(tc, test_last_error_cleared);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(stats_suite)
