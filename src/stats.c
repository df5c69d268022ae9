/*
 * The stats tables and their three renderers.  A table row names a field
 * of an object's view (stats.h) with the one spelling every output uses;
 * the renderers know kinds, never fields, so the log line, the JSON and
 * the internal_database points cannot drift apart.  Like OpenSMTPD's
 * stat_backend, one typed store is iterated by every consumer.
 */
#include "config.h"

#include <stdbool.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "listener.h"
#include "log.h"
#include "origin.h"
#include "stamp.h"
#include "stats.h"
#include "utf8.h"
#include "store.h"
#include "target.h"

#define STATS_ROW(view, name, kind, member) \
	{ name, kind, offsetof(view, member), sizeof(((view *)0)->member) }
#define L(name, kind, member)	STATS_ROW(struct stats_listener, name, \
				    STATS_ ## kind, member)
#define T(name, kind, member)	STATS_ROW(struct stats_target, name, \
				    STATS_ ## kind, member)

/*
 * Per copy: queued = written + buffered_points + dropped, and dropped is
 * the sum of the dropped_* rows (listener.h).
 */
static const struct stats_field stats_listener_fields[] = {
	L("clients",		GAUGE,		clients),
	L("connections",	COUNTER,	s.connections),
	L("connections_refused", COUNTER,	s.connections_refused),
	L("denied",		COUNTER,	s.denied),
	L("datagrams",		COUNTER,	s.datagrams),
	L("pauses",		COUNTER,	s.pauses),
	L("lines",		COUNTER,	s.lines),
	L("skipped",		COUNTER,	s.skipped),
	L("accepted",		COUNTER,	s.accepted),
	L("rejected",		COUNTER,	s.rejected),
	L("queued",		COUNTER,	s.ledger.queued),
	L("written",		COUNTER,	s.ledger.fates[ORIGIN_WRITTEN]),
	L("buffered_points",	GAUGE,		s.ledger.buffered),
	L("dropped",		COUNTER,	dropped),
	L("dropped_overflow",	COUNTER,
	    s.ledger.fates[ORIGIN_DROPPED_OVERFLOW]),
	L("dropped_server",	COUNTER,
	    s.ledger.fates[ORIGIN_DROPPED_SERVER]),
	L("dropped_too_large",	COUNTER,
	    s.ledger.fates[ORIGIN_DROPPED_TOO_LARGE]),
	L("dropped_removed",	COUNTER,
	    s.ledger.fates[ORIGIN_DROPPED_REMOVED]),
	L("spooled",		COUNTER,	s.ledger.fates[ORIGIN_SPOOLED]),
	L("unaccounted",	GAUGE,		unaccounted),
	L("rejected_by_reason",	MAP,		s.reasons),
};

/* accepted = written + buffered_points + dropped (target.h). */
static const struct stats_field stats_target_fields[] = {
	T("queues",		GAUGE,		queues),
	T("buffered_points",	GAUGE,		buffered_points),
	T("buffered_bytes",	GAUGE,		buffered_bytes),
	T("in_flight",		GAUGE,		in_flight),
	T("failing_queues",	GAUGE,		failing_queues),
	T("backing_off",	FLAG,		backing_off),
	T("accepted",		COUNTER,	s.points_accepted),
	T("written",		COUNTER,	s.points_written),
	T("batches_written",	COUNTER,	s.batches_written),
	T("dropped",		COUNTER,	dropped),
	T("dropped_overflow",	COUNTER,	s.points_dropped_overflow),
	T("dropped_server",	COUNTER,	s.points_dropped_server),
	T("dropped_too_large",	COUNTER,	s.points_dropped_too_large),
	T("dropped_removed",	COUNTER,	s.points_dropped_removed),
	T("unaccounted",	GAUGE,		unaccounted),
	T("rejected_overflow",	COUNTER,	s.points_rejected_overflow),
	T("rejected_queues",	COUNTER,	s.points_rejected_queues),
	T("rejected_conflict",	COUNTER,	s.points_rejected_conflict),
	T("type_cuts",		COUNTER,	s.type_cuts),
	T("type_spills",	COUNTER,	s.type_spills),
	T("isolation_requests",	COUNTER,	s.isolation_requests),
	T("requests",		COUNTER,	s.requests),
	T("retries",		COUNTER,	s.retries),
	T("http_2xx",		COUNTER,	s.http_2xx),
	T("http_4xx",		COUNTER,	s.http_4xx),
	T("http_5xx",		COUNTER,	s.http_5xx),
	T("http_200",		COUNTER,	s.http_200),
	T("http_204",		COUNTER,	s.http_204),
	T("http_400",		COUNTER,	s.http_400),
	T("http_404",		COUNTER,	s.http_404),
	T("http_413",		COUNTER,	s.http_413),
	T("http_429",		COUNTER,	s.http_429),
	T("http_500",		COUNTER,	s.http_500),
	T("http_503",		COUNTER,	s.http_503),
	T("http_other",		COUNTER,	s.http_other),
	T("http_errors",	COUNTER,	s.http_errors),
	T("databases_created",	COUNTER,	s.databases_created),
	T("create_failures",	COUNTER,	s.create_failures),
	T("spooling",		FLAG,		spooling),
	T("spool_bytes",	GAUGE,		spool_bytes),
	T("spool_points",	GAUGE,		spool_points),
	T("spool_unloaded",	GAUGE,		spool_unloaded),
	T("spool_segments",	GAUGE,		spool_segments),
	T("spool_oldest_age",	GAUGE,		spool_oldest_age),
	T("spool_recovered",	COUNTER,	spool_recovered),
	T("spool_checksum_failures", COUNTER,	spool_checksum_failures),
	T("spool_torn_tails",	COUNTER,	spool_torn_tails),
	T("spool_write_errors",	COUNTER,	spool_write_errors),
	T("spool_sync_errors",	COUNTER,	spool_sync_errors),
	T("spool_open_failures", COUNTER,	s.spool_open_failures),
	T("last_success",	TIME,		s.last_success),
	T("last_error_time",	TIME,		s.last_error_time),
	T("last_error_cleared",	TIME,		s.last_error_cleared),
	T("last_error",		STRING,		s.last_error),
};

#undef L
#undef T

const struct stats_table stats_listener_table = { "listener",
	stats_listener_fields,
	sizeof(stats_listener_fields) / sizeof(stats_listener_fields[0]) };
const struct stats_table stats_target_table = { "target",
	stats_target_fields,
	sizeof(stats_target_fields) / sizeof(stats_target_fields[0]) };

void
stats_listener_view(const struct listener *l, struct stats_listener *v)
{
	v->s = *listener_stats(l);
	v->clients = (int64_t)listener_clients(l);
	v->dropped = listener_dropped(l);
	v->unaccounted = listener_unaccounted(l);
}

/* The spool's figures, or zeros. */
static void
stats_spool_view(const struct target *t, struct stats_target *v)
{
	struct store_stats	 st;

	memset(&st, 0, sizeof(st));
	v->spooling = target_store_stats(t, &st);
	v->spool_bytes = (int64_t)st.bytes;
	v->spool_points = (int64_t)st.points;
	v->spool_unloaded = (int64_t)st.unloaded;
	v->spool_segments = (int64_t)st.segments;
	v->spool_oldest_age = st.oldest == 0 ? 0 :
	    (stamp_now() - st.oldest) / 1000000000;
	v->spool_recovered = st.recovered;
	v->spool_checksum_failures = st.checksum_failures;
	v->spool_torn_tails = st.torn_tails;
	v->spool_write_errors = st.write_errors;
	v->spool_sync_errors = st.sync_errors;
}

void
stats_target_view(const struct target *t, struct stats_target *v)
{
	struct target_gauges	 g;

	v->s = *target_stats(t);
	target_gauges(t, &g);
	v->queues = (int64_t)g.queues;
	v->buffered_points = (int64_t)g.points;
	v->buffered_bytes = (int64_t)g.bytes;
	v->in_flight = (int64_t)g.in_flight;
	v->failing_queues = (int64_t)g.failing;
	v->backing_off = g.backing_off;
	v->dropped = target_dropped(t);
	v->unaccounted = target_unaccounted(t);
	stats_spool_view(t, v);
}

/*
 * A field's value.  memcpy, not a cast: a gauge row may read a uint64_t
 * the module keeps (ledger.buffered) as the int64_t of its kind.
 */
static uint64_t
stats_u64(const void *view, const struct stats_field *f)
{
	uint64_t	 v;

	memcpy(&v, (const char *)view + f->offset, sizeof(v));
	return v;
}

static int64_t
stats_i64(const void *view, const struct stats_field *f)
{
	int64_t	 v;

	memcpy(&v, (const char *)view + f->offset, sizeof(v));
	return v;
}

static bool
stats_flag(const void *view, const struct stats_field *f)
{
	bool	 v;

	memcpy(&v, (const char *)view + f->offset, sizeof(v));
	return v;
}

/* A string field, cut at its size by whoever wrote it. */
static const char *
stats_str(const void *view, const struct stats_field *f)
{
	return (const char *)view + f->offset;
}

/* Entry `i` of a map field into `e`; false past its last one. */
static bool
stats_entry(const void *view, const struct stats_field *f, size_t i,
    struct listener_reason *e)
{
	if (i >= f->size / sizeof(*e))
		return false;
	memcpy(e, (const char *)view + f->offset + i * sizeof(*e),
	    sizeof(*e));
	return e->reason != NULL;
}

/* A number or a flag as JSON, the log and line protocol all spell it. */
static void
stats_number(struct evbuffer *out, const void *view,
    const struct stats_field *f)
{
	switch (f->kind) {
	case STATS_COUNTER:
		evbuffer_add_printf(out, "%llu",
		    (unsigned long long)stats_u64(view, f));
		break;
	case STATS_GAUGE:
	case STATS_TIME:
		evbuffer_add_printf(out, "%lld", (long long)stats_i64(view, f));
		break;
	case STATS_FLAG:
		evbuffer_add_printf(out, "%s",
		    stats_flag(view, f) ? "true" : "false");
		break;
	case STATS_STRING:
	case STATS_MAP:
		break;
	}
}

static void
stats_json_map(struct evbuffer *out, const void *view,
    const struct stats_field *f)
{
	struct listener_reason	 e;
	size_t			 i;

	evbuffer_add(out, "{", 1);
	for (i = 0; stats_entry(view, f, i, &e); i++) {
		if (i > 0)
			evbuffer_add(out, ",", 1);
		stats_json_string(out, e.reason);
		evbuffer_add_printf(out, ":%llu", (unsigned long long)e.count);
	}
	evbuffer_add(out, "}", 1);
}

void
stats_json_time(struct evbuffer *out, int64_t t)
{
	time_t		 tt = (time_t)t;
	struct tm	 tm;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL) {
		evbuffer_add(out, "null", 4);
		return;
	}
	evbuffer_add_printf(out, "\"%04d-%02d-%02dT%02d:%02d:%02dZ\"",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
}

void
stats_json_clock(struct evbuffer *out, int64_t now, int64_t started)
{
	evbuffer_add_printf(out, ",\"time\":%lld,\"time_rfc3339\":",
	    (long long)now);
	stats_json_time(out, now);
	evbuffer_add_printf(out, ",\"started\":%lld,\"started_rfc3339\":",
	    (long long)started);
	stats_json_time(out, started);
	evbuffer_add_printf(out, ",\"uptime\":%lld", (long long)(now - started));
}

/* Times are unix seconds for programs, and RFC 3339 for people. */
void
stats_render_json(struct evbuffer *out, const struct stats_table *tb,
    const void *view)
{
	const struct stats_field	*f;

	for (f = tb->fields; f < tb->fields + tb->nfields; f++) {
		evbuffer_add_printf(out, ",\"%s\":", f->name);
		if (f->kind == STATS_STRING)
			stats_json_cut_string(out, stats_str(view, f));
		else if (f->kind == STATS_MAP)
			stats_json_map(out, view, f);
		else
			stats_number(out, view, f);
		if (f->kind == STATS_TIME) {
			evbuffer_add_printf(out, ",\"%s_rfc3339\":", f->name);
			stats_json_time(out, stats_i64(view, f));
		}
	}
}

/* A map's keys are the relay's own static strings: nothing to escape. */
static void
stats_log_map(struct evbuffer *out, const void *view,
    const struct stats_field *f)
{
	struct listener_reason	 e;
	size_t			 i;

	for (i = 0; stats_entry(view, f, i, &e); i++)
		evbuffer_add_printf(out, " %s[%s]=%llu", f->name, e.reason,
		    (unsigned long long)e.count);
}

/* Strings come last: free text, where a reader of the line may stop. */
void
stats_render_log(struct evbuffer *out, const struct stats_table *tb,
    const void *view)
{
	const struct stats_field	*f;

	for (f = tb->fields; f < tb->fields + tb->nfields; f++) {
		if (f->kind == STATS_MAP)
			stats_log_map(out, view, f);
		else if (f->kind != STATS_STRING) {
			evbuffer_add_printf(out, " %s=", f->name);
			stats_number(out, view, f);
		}
	}
	for (f = tb->fields; f < tb->fields + tb->nfields; f++)
		if (f->kind == STATS_STRING)
			evbuffer_add_printf(out, " %s=\"%s\"", f->name,
			    log_esc(stats_str(view, f)));
}

/* Fields NAME[KEY]: a key's spaces, commas and '=' escaped. */
static void
stats_line_map(struct evbuffer *out, const void *view,
    const struct stats_field *f, bool *first)
{
	struct listener_reason	 e;
	const char		*p;
	size_t			 i;

	for (i = 0; stats_entry(view, f, i, &e); i++, *first = false) {
		evbuffer_add_printf(out, "%s%s[", *first ? "" : ",", f->name);
		for (p = e.reason; *p != '\0'; p++) {
			if (*p == ' ' || *p == ',' || *p == '=')
				evbuffer_add(out, "\\", 1);
			evbuffer_add(out, p, 1);
		}
		evbuffer_add_printf(out, "]=%llui",
		    (unsigned long long)e.count);
	}
}

/* A string (a server's answer) stays out of the points. */
void
stats_render_line(struct evbuffer *out, const struct stats_table *tb,
    const void *view)
{
	const struct stats_field	*f;
	bool				 first = true;

	for (f = tb->fields; f < tb->fields + tb->nfields; f++) {
		if (f->kind == STATS_MAP)
			stats_line_map(out, view, f, &first);
		if (f->kind == STATS_MAP || f->kind == STATS_STRING)
			continue;
		evbuffer_add_printf(out, "%s%s=", first ? "" : ",", f->name);
		stats_number(out, view, f);
		if (f->kind != STATS_FLAG)
			evbuffer_add(out, "i", 1);
		first = false;
	}
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
	size_t			 n, left = strlen(str);

	evbuffer_add(out, "\"", 1);
	for (; *s != '\0'; s += n, left -= n) {
		if ((n = utf8_len(s, left)) == 0) {
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

void
stats_json_listener(struct evbuffer *out, const struct listener *l)
{
	struct stats_listener	 v;

	stats_listener_view(l, &v);
	evbuffer_add(out, "{\"name\":", 8);
	stats_json_string(out, listener_name(l));
	stats_render_json(out, &stats_listener_table, &v);
	evbuffer_add(out, "}", 1);
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
	evbuffer_add_printf(sq->out, ",\"queued_points\":%zu"
	    ",\"queued_bytes\":%zu,\"in_flight_points\":%zu,\"waiting\":%s"
	    ",\"state\":\"%s\"}", q->points, q->bytes, q->in_flight,
	    q->waiting ? "true" : "false", q->state);
}

void
stats_json_target(struct evbuffer *out, const struct target *t)
{
	struct stats_target	 v;

	stats_target_view(t, &v);
	evbuffer_add(out, "{\"name\":", 8);
	stats_json_string(out, target_name(t));
	stats_render_json(out, &stats_target_table, &v);
	evbuffer_add_printf(out, ",\"queue_list\":[");
	target_foreach_queue(t, stats_json_queue_cb,
	    &(struct stats_queues){ out, 0 });
	evbuffer_add(out, "]}", 2);
}

/* Listener and target names are [A-Za-z0-9_.-]: nothing to escape. */
void
stats_line_listener(struct evbuffer *out, const struct listener *l)
{
	struct stats_listener	 v;

	stats_listener_view(l, &v);
	evbuffer_add_printf(out, "influx_relayd,listener=%s ",
	    listener_name(l));
	stats_render_line(out, &stats_listener_table, &v);
}

void
stats_line_target(struct evbuffer *out, const struct target *t)
{
	struct stats_target	 v;

	stats_target_view(t, &v);
	evbuffer_add_printf(out, "influx_relayd,target=%s ", target_name(t));
	stats_render_line(out, &stats_target_table, &v);
}

/* Logs "stats: OBJECT NAME:" and every field of `view` as name=value. */
static void
stats_log_line(const struct stats_table *tb, const void *view,
    const char *name)
{
	struct evbuffer	*out;

	if ((out = evbuffer_new()) == NULL)
		fatal("evbuffer_new");
	stats_render_log(out, tb, view);
	evbuffer_add(out, "", 1);
	log_info("stats: %s %s:%s", tb->object, name,
	    (const char *)evbuffer_pullup(out, -1));
	evbuffer_free(out);
}

void
stats_log_listener(const struct listener *l)
{
	struct stats_listener	 v;

	stats_listener_view(l, &v);
	stats_log_line(&stats_listener_table, &v, listener_name(l));
}

void
stats_log_target(const struct target *t)
{
	struct stats_target	 v;

	stats_target_view(t, &v);
	stats_log_line(&stats_target_table, &v, target_name(t));
}
