/*
 * Text reports.  One block per listener and per target, one labelled
 * line per subject; numbers are plain integers (no locale), rates are
 * per second with one decimal, sizes in powers of 1024, ages as 45s,
 * 3m05s, 2h03m, 4d02h.
 */
#include "config.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "report.h"

#define REPORT_QUEUES	10	/* queues listed per target */

/* What the rates of one object are computed against. */
struct report_ctx {
	FILE			*out;
	const struct json	*before;	/* the same object earlier */
	double			 seconds;	/* since, or the uptime */
	int64_t			 now;		/* of the answer */
};

/* A reason the daemon names, and how a person reads it. */
struct report_reason {
	const char	*key;
	const char	*label;
};

static const struct report_reason report_dropped[] = {
	{ "dropped_overflow", "overflow" },
	{ "dropped_server", "refused by the server" },
	{ "dropped_too_large", "too large" },
	{ "dropped_removed", "target removed" },
};

static const struct report_reason report_refused[] = {
	{ "rejected_overflow", "buffer full" },
	{ "rejected_queues", "too many queues" },
	{ "rejected_conflict", "field type conflict" },
};

/*
 * Prints text the daemon relayed: control characters (C0, DEL, C1)
 * become '?', so a server's answer cannot move the cursor or retitle
 * the terminal.
 */
static void
report_safe(FILE *out, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;

	for (; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			fputc('?', out);
		else if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			fputc('?', out);
			p++;
		} else
			fputc(*p, out);
	}
}

static const char *
report_bytes(char *buf, size_t size, uint64_t n)
{
	static const char	*const units[] = {
		"KiB", "MiB", "GiB", "TiB",
	};
	double			 v = (double)n;
	size_t			 i;

	if (n < 1024) {
		snprintf(buf, size, "%" PRIu64 " B", n);
		return buf;
	}
	for (i = 0, v /= 1024; v >= 1024 && i < 3; i++)
		v /= 1024;
	snprintf(buf, size, "%.1f %s", v, units[i]);
	return buf;
}

static const char *
report_age(char *buf, size_t size, int64_t s)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, size, "%" PRId64 "s", s);
	else if (s < 3600)
		snprintf(buf, size, "%" PRId64 "m%02" PRId64 "s", s / 60,
		    s % 60);
	else if (s < 86400)
		snprintf(buf, size, "%" PRId64 "h%02" PRId64 "m", s / 3600,
		    s % 3600 / 60);
	else
		snprintf(buf, size, "%" PRId64 "d%02" PRId64 "h", s / 86400,
		    s % 86400 / 3600);
	return buf;
}

/* The counter `key` of `obj` per second, as the context computes it. */
static double
report_rate(const struct report_ctx *c, const struct json *obj,
    const char *key)
{
	uint64_t	 now = json_get_uint(obj, key), then = 0;

	if (c->seconds <= 0)
		return 0;
	if (c->before != NULL)
		then = json_get_uint(c->before, key);
	return now < then ? 0 : (double)(now - then) / c->seconds;
}

/*
 * The first element of `j`, if it is an array or object as `type` says;
 * else none: an answer of another shape is not walked as one (an
 * array's elements have no keys).
 */
static const struct json *
report_first(const struct json *j, enum json_type type)
{
	return j != NULL && j->type == type ? j->child : NULL;
}

/* The element of array `arr` whose "name" is `name`, or NULL. */
static const struct json *
report_find(const struct json *arr, const char *name)
{
	const struct json	*e;

	for (e = report_first(arr, JSON_ARRAY); e != NULL; e = e->next)
		if (strcmp(json_get_str(e, "name"), name) == 0)
			return e;
	return NULL;
}

static void
report_label(const struct report_ctx *c, const char *label)
{
	fprintf(c->out, "  %-13s", label);
}

/* "N" or "N (reason n, ...)" for the non-zero reasons of a sum. */
static void
report_sum(const struct report_ctx *c, uint64_t total,
    const struct json *obj, const struct report_reason *reasons, size_t n)
{
	const char	*sep = " (";
	uint64_t	 v;
	size_t		 i;

	fprintf(c->out, "%" PRIu64, total);
	for (i = 0; i < n; i++) {
		if ((v = json_get_uint(obj, reasons[i].key)) == 0)
			continue;
		fprintf(c->out, "%s%s %" PRIu64, sep, reasons[i].label, v);
		sep = ", ";
	}
	if (strcmp(sep, ", ") == 0)
		fputc(')', c->out);
}

/* A listener's rejects by reason, as the daemon names them. */
static void
report_reasons(const struct report_ctx *c, const struct json *map)
{
	const struct json	*e = report_first(map, JSON_OBJECT);

	if (e == NULL)
		return;
	report_label(c, "rejected");
	for (; e != NULL; e = e->next) {
		report_safe(c->out, e->key);
		fprintf(c->out, " %" PRIu64 "%s", json_uint(e),
		    e->next != NULL ? ", " : "\n");
	}
}

static void
report_listener(struct report_ctx *c, const struct json *l)
{
	fprintf(c->out, "\nlistener ");
	report_safe(c->out, json_get_str(l, "name"));
	fprintf(c->out, ": %" PRId64 " client%s connected\n",
	    json_get_int(l, "clients"),
	    json_get_int(l, "clients") == 1 ? "" : "s");
	report_label(c, "lines");
	fprintf(c->out, "%" PRIu64 " (%.1f/s): %" PRIu64 " accepted (%.1f/s), "
	    "%" PRIu64 " rejected (%.1f/s), %" PRIu64 " skipped\n",
	    json_get_uint(l, "lines"), report_rate(c, l, "lines"),
	    json_get_uint(l, "accepted"), report_rate(c, l, "accepted"),
	    json_get_uint(l, "rejected"), report_rate(c, l, "rejected"),
	    json_get_uint(l, "skipped"));
	report_reasons(c, json_get(l, "rejected_by_reason"));
	report_label(c, "its points");
	fprintf(c->out, "%" PRIu64 " written, %" PRId64 " buffered, dropped ",
	    json_get_uint(l, "written"), json_get_int(l, "buffered_points"));
	report_sum(c, json_get_uint(l, "dropped"), l, report_dropped,
	    sizeof(report_dropped) / sizeof(report_dropped[0]));
	fputc('\n', c->out);
	report_label(c, "connections");
	fprintf(c->out, "%" PRIu64 ", %" PRIu64 " refused (open files), "
	    "%" PRIu64 " denied; %" PRIu64 " datagrams; %" PRIu64 " pauses\n",
	    json_get_uint(l, "connections"),
	    json_get_uint(l, "connections_refused"),
	    json_get_uint(l, "denied"), json_get_uint(l, "datagrams"),
	    json_get_uint(l, "pauses"));
}

/* "ok", "backing off", "2 of 5 queues failing"... */
static void
report_health(const struct report_ctx *c, const struct json *t)
{
	int64_t		 failing = json_get_int(t, "failing_queues");
	bool		 backoff = json_is_true(json_get(t, "backing_off"));

	if (!backoff && failing == 0)
		fprintf(c->out, "ok\n");
	else if (failing == 0)
		fprintf(c->out, "backing off after a failure\n");
	else
		fprintf(c->out, "%s%" PRId64 " of %" PRId64
		    " queue%s failing\n",
		    backoff ? "backing off, " : "", failing,
		    json_get_int(t, "queues"),
		    json_get_int(t, "queues") == 1 ? "" : "s");
}

/*
 * A time field (unix seconds) of `obj`; 0 for none.  The daemon writes
 * 0 for "never"; a time before 1970 (a number strtoll() saturated) is
 * none too, and keeps c->now - t (c->now > 0) from overflowing.
 */
static int64_t
report_when(const struct json *obj, const char *key)
{
	int64_t	 t = json_get_int(obj, key);

	return t > 0 ? t : 0;
}

/*
 * A time field (unix seconds) as "RFC 3339 (AGE ago`more`)", or
 * "never".
 */
static void
report_time(const struct report_ctx *c, const struct json *obj,
    const char *key, const char *more)
{
	int64_t	 t = report_when(obj, key);
	char	 rfc[64], age[32];

	if (t == 0) {
		fprintf(c->out, "never");
		return;
	}
	snprintf(rfc, sizeof(rfc), "%s_rfc3339", key);
	report_safe(c->out, json_get_str(obj, rfc));
	fprintf(c->out, " (%s ago%s)", report_age(age, sizeof(age),
	    c->now - t), more);
}

/* The last error stays after a success, marked cleared since then. */
static void
report_last_error(const struct report_ctx *c, const struct json *t)
{
	int64_t	 cleared = report_when(t, "last_error_cleared");
	char	 age[32], more[64] = ", not cleared";

	if (cleared != 0)
		snprintf(more, sizeof(more), ", cleared %s ago",
		    report_age(age, sizeof(age), c->now - cleared));
	report_label(c, "last error");
	report_time(c, t, "last_error_time", more);
	if (report_when(t, "last_error_time") != 0) {
		fprintf(c->out, ": ");
		report_safe(c->out, json_get_str(t, "last_error"));
	}
	fputc('\n', c->out);
}

static void
report_spool(const struct report_ctx *c, const struct json *t)
{
	char	 bytes[32], age[32];

	if (!json_is_true(json_get(t, "spooling")))
		return;
	report_label(c, "spool");
	fprintf(c->out, "%s, %" PRId64 " points in %" PRId64 " segment%s",
	    report_bytes(bytes, sizeof(bytes), json_get_uint(t, "spool_bytes")),
	    json_get_int(t, "spool_points"), json_get_int(t, "spool_segments"),
	    json_get_int(t, "spool_segments") == 1 ? "" : "s");
	if (json_get_int(t, "spool_points") > 0)
		fprintf(c->out, ", oldest %s", report_age(age, sizeof(age),
		    json_get_int(t, "spool_oldest_age")));
	fputc('\n', c->out);
}

static void
report_queues(const struct report_ctx *c, const struct json *t)
{
	const struct json	*q;
	char			 bytes[32];
	size_t			 n = 0;

	q = report_first(json_get(t, "queue_list"), JSON_ARRAY);
	for (; q != NULL; q = q->next, n++) {
		if (n == REPORT_QUEUES)
			continue;	/* counted below */
		report_label(c, n == 0 ? "queues" : "");
		report_safe(c->out, json_get_str(q, "database"));
		if (json_get_str(q, "retention_policy")[0] != '\0') {
			fputc('/', c->out);
			report_safe(c->out, json_get_str(q,
			    "retention_policy"));
		}
		fprintf(c->out, ": %" PRIu64 " points, %s, ",
		    json_get_uint(q, "queued_points"), report_bytes(bytes,
		    sizeof(bytes), json_get_uint(q, "queued_bytes")));
		report_safe(c->out, json_get_str(q, "state"));
		if (json_get_uint(q, "in_flight_points") > 0)
			fprintf(c->out, ", %" PRIu64 " in flight",
			    json_get_uint(q, "in_flight_points"));
		fputc('\n', c->out);
	}
	if (n > REPORT_QUEUES) {
		report_label(c, "");
		fprintf(c->out, "... and %zu more\n", n - REPORT_QUEUES);
	}
}

static void
report_target(struct report_ctx *c, const struct json *t)
{
	char	 bytes[32];

	fprintf(c->out, "\ntarget ");
	report_safe(c->out, json_get_str(t, "name"));
	fprintf(c->out, ": ");
	report_health(c, t);
	report_label(c, "points");
	fprintf(c->out, "%" PRIu64 " accepted (%.1f/s), %" PRIu64 " written "
	    "(%.1f/s) in %" PRIu64 " batches\n", json_get_uint(t, "accepted"),
	    report_rate(c, t, "accepted"), json_get_uint(t, "written"),
	    report_rate(c, t, "written"), json_get_uint(t, "batches_written"));
	report_label(c, "buffered");
	fprintf(c->out, "%" PRId64 " points, %s; %" PRId64 " request%s in "
	    "flight\n", json_get_int(t, "buffered_points"),
	    report_bytes(bytes, sizeof(bytes),
	    json_get_uint(t, "buffered_bytes")), json_get_int(t, "in_flight"),
	    json_get_int(t, "in_flight") == 1 ? "" : "s");
	report_spool(c, t);
	report_label(c, "dropped");
	report_sum(c, json_get_uint(t, "dropped"), t, report_dropped,
	    sizeof(report_dropped) / sizeof(report_dropped[0]));
	fprintf(c->out, ", %.1f/s\n", report_rate(c, t, "dropped"));
	report_label(c, "refused");
	report_sum(c, json_get_uint(t, "rejected_overflow") +
	    json_get_uint(t, "rejected_queues") +
	    json_get_uint(t, "rejected_conflict"), t, report_refused,
	    sizeof(report_refused) / sizeof(report_refused[0]));
	fputc('\n', c->out);
	report_label(c, "requests");
	fprintf(c->out, "%" PRIu64 " (%.1f/s), %" PRIu64 " retries; HTTP 2xx "
	    "%" PRIu64 ", 4xx %" PRIu64 ", 5xx %" PRIu64 ", no answer %" PRIu64
	    "\n", json_get_uint(t, "requests"), report_rate(c, t, "requests"),
	    json_get_uint(t, "retries"), json_get_uint(t, "http_2xx"),
	    json_get_uint(t, "http_4xx"), json_get_uint(t, "http_5xx"),
	    json_get_uint(t, "http_errors"));
	report_label(c, "last success");
	report_time(c, t, "last_success", "");
	fputc('\n', c->out);
	report_last_error(c, t);
	report_queues(c, t);
}

static void
report_header(const struct report_ctx *c, const struct json *now,
    bool sampled)
{
	char	 age[32];

	fprintf(c->out, "influx-relayd ");
	report_safe(c->out, json_get_str(now, "version"));
	fprintf(c->out, ", up %s (started ", report_age(age, sizeof(age),
	    json_get_int(now, "uptime")));
	report_safe(c->out, json_get_str(now, "started_rfc3339"));
	if (sampled)
		fprintf(c->out, "); rates over the last %.1f s\n", c->seconds);
	else
		fprintf(c->out, "); rates are averages since the start\n");
}

void
report_stats(FILE *out, const struct json *now, const struct json *before,
    double seconds)
{
	struct report_ctx	 c = { .out = out, .now = report_when(now,
				    "time") };
	const struct json	*e;
	int			 i;

	if (c.now == 0)
		c.now = (int64_t)time(NULL);
	if (before == NULL)
		seconds = (double)json_get_int(now, "uptime");
	c.seconds = seconds;
	report_header(&c, now, before != NULL);
	for (i = 0; i < 2; i++) {
		const char	*kind = i == 0 ? "listeners" : "targets";

		e = report_first(json_get(now, kind), JSON_ARRAY);
		for (; e != NULL; e = e->next) {
			c.before = before == NULL ? NULL :
			    report_find(json_get(before, kind),
			    json_get_str(e, "name"));
			if (i == 0)
				report_listener(&c, e);
			else
				report_target(&c, e);
		}
	}
}

void
report_send(FILE *out, const struct json *s)
{
	const struct json	*r;
	uint64_t		 lines = json_get_uint(s, "lines");
	uint64_t		 rejected = json_get_uint(s, "rejected");
	uint64_t		 shown = 0;

	fprintf(out, "influx-relayctl: %" PRIu64 " line%s: %" PRIu64
	    " accepted, %" PRIu64 " rejected, %" PRIu64 " skipped\n", lines,
	    lines == 1 ? "" : "s", json_get_uint(s, "accepted"), rejected,
	    json_get_uint(s, "skipped"));
	r = report_first(json_get(s, "rejects"), JSON_ARRAY);
	for (; r != NULL; r = r->next) {
		fprintf(out, "  line %" PRIu64 ": ", json_get_uint(r, "line"));
		report_safe(out, json_get_str(r, "reason"));
		fprintf(out, ": ");
		report_safe(out, json_get_str(r, "text"));
		fputc('\n', out);
		shown++;
	}
	if (rejected > shown)
		fprintf(out, "  ... and %" PRIu64 " more\n", rejected - shown);
}
