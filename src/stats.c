/* JSON renderings of listener and target counters. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "listener.h"
#include "stats.h"
#include "target.h"

void
stats_json_string(struct evbuffer *out, const char *s)
{
	evbuffer_add(out, "\"", 1);
	for (; *s != '\0'; s++) {
		unsigned char	 c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			evbuffer_add_printf(out, "\\%c", c);
		else if (c < 0x20)
			evbuffer_add_printf(out, "\\u%04x", c);
		else
			evbuffer_add(out, s, 1);
	}
	evbuffer_add(out, "\"", 1);
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
	stats_json_u64(out, "accepted", s->accepted);
	stats_json_u64(out, "dropped", s->dropped);
	stats_json_u64(out, "dropped_server", s->dropped_server);
	stats_json_u64(out, "rejected", s->rejected);
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
	evbuffer_add_printf(sq->out, ",\"waiting\":%s}",
	    q->waiting ? "true" : "false");
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
	stats_json_u64(out, "dropped_overflow", s->points_dropped_overflow);
	stats_json_u64(out, "dropped_server", s->points_dropped_server);
	stats_json_u64(out, "dropped_too_large", s->points_dropped_too_large);
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
	stats_json_string(out, s->last_error);
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
	stats_field(buf, size, &n, "dropped", s->dropped);
	stats_field(buf, size, &n, "dropped_server", s->dropped_server);
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
	stats_field(buf, size, &n, "rejected_conflict",
	    s->points_rejected_conflict);
	stats_field(buf, size, &n, "isolation_requests",
	    s->isolation_requests);
	stats_field(buf, size, &n, "requests", s->requests);
	stats_field(buf, size, &n, "retries", s->retries);
	stats_field(buf, size, &n, "http_errors", s->http_errors);
	return n < size ? n : 0;
}
