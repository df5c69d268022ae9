/* JSON renderings of listener and target counters. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "listener.h"
#include "stats.h"
#include "target.h"

/*
 * Length of the well-formed UTF-8 character at `s` (RFC 3629: no
 * overlongs, no surrogates, nothing past U+10FFFF), 0 if there is none.
 * `s` ends at a NUL, which no continuation byte matches.
 */
static size_t
stats_utf8_len(const unsigned char *s)
{
	size_t	 n, i;
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	for (i = 1; i < n; i++, lo = 0x80, hi = 0xbf)
		if (s[i] < lo || s[i] > hi)
			return 0;
	return n;
}

/*
 * True when `s` is a character that a cut at a fixed size split: the
 * start of a valid sequence that the terminating NUL interrupts.
 */
static bool
stats_utf8_cut(const unsigned char *s)
{
	size_t	 i;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return false;
	for (i = 1; s[i] != '\0'; i++)
		if ((s[i] & 0xc0) != 0x80)
			return false;
	return i < (s[0] >= 0xf0 ? 4u : s[0] >= 0xe0 ? 3u : 2u);
}

/*
 * Every byte a client or a server chose may reach here: quotes,
 * backslashes and control characters (C0, DEL, C1) are escaped, and each
 * byte that is not part of well-formed UTF-8 becomes U+FFFD, so the
 * answer is always valid JSON and safe on a terminal.  With `cut`, the
 * string was cut at a fixed size: a character the cut split is left out.
 */
static void
stats_json_text(struct evbuffer *out, const char *str, bool cut)
{
	const unsigned char	*s = (const unsigned char *)str;
	size_t			 n;

	evbuffer_add(out, "\"", 1);
	for (; *s != '\0'; s += n) {
		if ((n = stats_utf8_len(s)) == 0) {
			if (cut && stats_utf8_cut(s))
				break;
			evbuffer_add(out, "\\ufffd", 6);
			n = 1;
		} else if (*s == '"' || *s == '\\')
			evbuffer_add_printf(out, "\\%c", *s);
		else if (*s < 0x20 || *s == 0x7f)
			evbuffer_add_printf(out, "\\u%04x", *s);
		else if (n == 2 && s[0] == 0xc2 && s[1] < 0xa0)
			evbuffer_add_printf(out, "\\u%04x", s[1]);
		else
			evbuffer_add(out, s, n);
	}
	evbuffer_add(out, "\"", 1);
}

void
stats_json_string(struct evbuffer *out, const char *s)
{
	stats_json_text(out, s, false);
}

void
stats_json_cut_string(struct evbuffer *out, const char *s)
{
	stats_json_text(out, s, true);
}

static void
stats_json_u64(struct evbuffer *out, const char *key, unsigned long long v)
{
	evbuffer_add_printf(out, ",\"%s\":%llu", key, v);
}

void
stats_json_listener(struct evbuffer *out, const struct listener *l)
{
	const struct listener_stats	*s = listener_stats(l);
	size_t				 i;

	evbuffer_add(out, "{\"name\":", 8);
	stats_json_string(out, listener_name(l));
	stats_json_u64(out, "clients", listener_clients(l));
	stats_json_u64(out, "connections", s->connections);
	stats_json_u64(out, "connections_refused", s->connections_refused);
	stats_json_u64(out, "denied", s->denied);
	stats_json_u64(out, "datagrams", s->datagrams);
	stats_json_u64(out, "pauses", s->pauses);
	stats_json_u64(out, "lines", s->lines);
	stats_json_u64(out, "skipped", s->skipped);
	stats_json_u64(out, "accepted", s->accepted);
	stats_json_u64(out, "rejected", s->rejected);
	/* per copy: queued = written + buffered_points + dropped */
	stats_json_u64(out, "queued", s->ledger.queued);
	stats_json_u64(out, "written", s->ledger.fates[ORIGIN_WRITTEN]);
	stats_json_u64(out, "buffered_points", s->ledger.buffered);
	stats_json_u64(out, "dropped", listener_dropped(l));
	stats_json_u64(out, "dropped_overflow",
	    s->ledger.fates[ORIGIN_DROPPED_OVERFLOW]);
	stats_json_u64(out, "dropped_server",
	    s->ledger.fates[ORIGIN_DROPPED_SERVER]);
	stats_json_u64(out, "dropped_too_large",
	    s->ledger.fates[ORIGIN_DROPPED_TOO_LARGE]);
	stats_json_u64(out, "dropped_removed",
	    s->ledger.fates[ORIGIN_DROPPED_REMOVED]);
	evbuffer_add_printf(out, ",\"unaccounted\":%lld",
	    (long long)listener_unaccounted(l));
	evbuffer_add_printf(out, ",\"rejected_by_reason\":{");
	for (i = 0; i < sizeof(s->reasons) / sizeof(s->reasons[0]) &&
	    s->reasons[i].reason != NULL; i++) {
		if (i > 0)
			evbuffer_add(out, ",", 1);
		stats_json_string(out, s->reasons[i].reason);
		evbuffer_add_printf(out, ":%llu",
		    (unsigned long long)s->reasons[i].count);
	}
	evbuffer_add(out, "}}", 2);
}

/* The queues of a target: appends one JSON object per queue. */
struct stats_queues {
	struct evbuffer	*out;
	size_t		 n;
};

static void
stats_json_queue_cb(const struct target_queue_info *q, void *arg)
{
	struct stats_queues	*sq = arg;

	evbuffer_add_printf(sq->out, "%s{\"database\":", sq->n++ ? "," : "");
	stats_json_string(sq->out, q->database);
	evbuffer_add_printf(sq->out, ",\"retention_policy\":");
	stats_json_string(sq->out, q->retention_policy);
	stats_json_u64(sq->out, "queued_points", q->points);
	stats_json_u64(sq->out, "queued_bytes", q->bytes);
	stats_json_u64(sq->out, "in_flight_points", q->in_flight);
	evbuffer_add_printf(sq->out, ",\"waiting\":%s,\"state\":\"%s\"}",
	    q->waiting ? "true" : "false", q->state);
}

void
stats_json_target(struct evbuffer *out, const struct target *t)
{
	const struct target_stats	*s = target_stats(t);
	struct target_gauges		 g;

	target_gauges(t, &g);
	evbuffer_add(out, "{\"name\":", 8);
	stats_json_string(out, target_name(t));
	stats_json_u64(out, "queues", g.queues);
	stats_json_u64(out, "buffered_points", g.points);
	stats_json_u64(out, "buffered_bytes", g.bytes);
	stats_json_u64(out, "in_flight", g.in_flight);
	stats_json_u64(out, "failing_queues", g.failing);
	evbuffer_add_printf(out, ",\"backing_off\":%s",
	    g.backing_off ? "true" : "false");
	stats_json_u64(out, "accepted", s->points_accepted);
	stats_json_u64(out, "written", s->points_written);
	stats_json_u64(out, "batches_written", s->batches_written);
	stats_json_u64(out, "dropped", target_dropped(t));
	stats_json_u64(out, "dropped_overflow", s->points_dropped_overflow);
	stats_json_u64(out, "dropped_server", s->points_dropped_server);
	stats_json_u64(out, "dropped_too_large", s->points_dropped_too_large);
	stats_json_u64(out, "dropped_removed", s->points_dropped_removed);
	/* accepted = written + buffered_points + dropped; 0 is the norm */
	evbuffer_add_printf(out, ",\"unaccounted\":%lld",
	    (long long)target_unaccounted(t));
	stats_json_u64(out, "rejected_overflow", s->points_rejected_overflow);
	stats_json_u64(out, "rejected_queues", s->points_rejected_queues);
	stats_json_u64(out, "rejected_conflict", s->points_rejected_conflict);
	stats_json_u64(out, "type_cuts", s->type_cuts);
	stats_json_u64(out, "type_spills", s->type_spills);
	stats_json_u64(out, "isolation_requests", s->isolation_requests);
	stats_json_u64(out, "requests", s->requests);
	stats_json_u64(out, "retries", s->retries);
	stats_json_u64(out, "http_2xx", s->http_2xx);
	stats_json_u64(out, "http_4xx", s->http_4xx);
	stats_json_u64(out, "http_5xx", s->http_5xx);
	stats_json_u64(out, "http_errors", s->http_errors);
	stats_json_u64(out, "databases_created", s->databases_created);
	evbuffer_add_printf(out, ",\"last_success\":%lld,\"last_error\":",
	    (long long)s->last_success);
	/* last_error holds a cut copy of the server's answer */
	stats_json_cut_string(out, s->last_error);
	evbuffer_add_printf(out, ",\"last_error_time\":%lld",
	    (long long)s->last_error_time);
	evbuffer_add_printf(out, ",\"queue_list\":[");
	target_foreach_queue(t, stats_json_queue_cb,
	    &(struct stats_queues){ out, 0 });
	evbuffer_add(out, "]}", 2);
}

/* Appends ",key=Ni" to a line being built in `buf`. */
static void
stats_field(char *buf, size_t size, size_t *n, const char *key,
    unsigned long long v)
{
	if (*n < size)
		*n += (size_t)snprintf(buf + *n, size - *n, "%s%s=%llui",
		    buf[*n - 1] == ' ' ? "" : ",", key, v);
}

size_t
stats_line_listener(char *buf, size_t size, const struct listener *l)
{
	const struct listener_stats	*s = listener_stats(l);
	size_t				 n;

	/* listener names are [A-Za-z0-9_.-]: nothing to escape */
	n = (size_t)snprintf(buf, size, "influx_relayd,listener=%s ",
	    listener_name(l));
	stats_field(buf, size, &n, "clients", listener_clients(l));
	stats_field(buf, size, &n, "connections", s->connections);
	stats_field(buf, size, &n, "lines", s->lines);
	stats_field(buf, size, &n, "accepted", s->accepted);
	stats_field(buf, size, &n, "rejected", s->rejected);
	stats_field(buf, size, &n, "queued", s->ledger.queued);
	stats_field(buf, size, &n, "written", s->ledger.fates[ORIGIN_WRITTEN]);
	stats_field(buf, size, &n, "buffered_points", s->ledger.buffered);
	stats_field(buf, size, &n, "dropped", listener_dropped(l));
	stats_field(buf, size, &n, "dropped_server",
	    s->ledger.fates[ORIGIN_DROPPED_SERVER]);
	stats_field(buf, size, &n, "denied", s->denied);
	stats_field(buf, size, &n, "pauses", s->pauses);
	return n < size ? n : 0;
}

size_t
stats_line_target(char *buf, size_t size, const struct target *t)
{
	const struct target_stats	*s = target_stats(t);
	struct target_gauges		 g;
	size_t				 n;

	target_gauges(t, &g);
	n = (size_t)snprintf(buf, size, "influx_relayd,target=%s ",
	    target_name(t));
	stats_field(buf, size, &n, "buffered_points", g.points);
	stats_field(buf, size, &n, "buffered_bytes", g.bytes);
	stats_field(buf, size, &n, "in_flight", g.in_flight);
	stats_field(buf, size, &n, "accepted", s->points_accepted);
	stats_field(buf, size, &n, "written", s->points_written);
	stats_field(buf, size, &n, "dropped_overflow",
	    s->points_dropped_overflow);
	stats_field(buf, size, &n, "dropped_server", s->points_dropped_server);
	stats_field(buf, size, &n, "dropped_too_large",
	    s->points_dropped_too_large);
	stats_field(buf, size, &n, "dropped_removed",
	    s->points_dropped_removed);
	stats_field(buf, size, &n, "rejected_overflow",
	    s->points_rejected_overflow);
	stats_field(buf, size, &n, "rejected_queues",
	    s->points_rejected_queues);
	stats_field(buf, size, &n, "rejected_conflict",
	    s->points_rejected_conflict);
	stats_field(buf, size, &n, "isolation_requests",
	    s->isolation_requests);
	stats_field(buf, size, &n, "requests", s->requests);
	stats_field(buf, size, &n, "retries", s->retries);
	stats_field(buf, size, &n, "http_errors", s->http_errors);
	return n < size ? n : 0;
}
