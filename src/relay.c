/* Wiring of one configuration and the shutdown drain. */
#include "config.h"

#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "conf.h"
#include "control.h"
#include "ingest.h"
#include "listener.h"
#include "log.h"
#include "mem.h"
#include "relay.h"
#include "sender.h"
#include "stamp.h"
#include "stats.h"
#include "target.h"

#define RELAY_DRAIN_POLL_MS	20

struct relay {
	struct conf		*conf;
	struct event_base	*base;
	struct sender		*sender;
	struct target		**targets;	/* parallel to conf->targets */
	struct ingest		**ingests;	/* parallel to conf->listeners */
	struct listener		**listeners;
	struct control		*control;	/* NULL without control_socket */
	struct event		*ev_stats;
	struct event		*ev_drain;
	int64_t			 drain_deadline;
	bool			 draining;
};

static void
relay_stats_cb(evutil_socket_t fd, short what, void *arg)
{
	relay_log_stats(arg);
}

struct relay *
relay_new(struct event_base *base, struct conf *conf)
{
	struct relay	*r = xcalloc(1, sizeof(*r));
	struct target	**ts;
	size_t		 i, j;

	r->conf = conf;
	r->base = base;
	r->sender = sender_new(base);
	r->targets = xcalloc(conf->ntargets, sizeof(*r->targets));
	for (i = 0; i < conf->ntargets; i++)
		r->targets[i] = target_new(base, r->sender, conf->targets[i]);
	r->ingests = xcalloc(conf->nlisteners, sizeof(*r->ingests));
	r->listeners = xcalloc(conf->nlisteners, sizeof(*r->listeners));
	for (i = 0; i < conf->nlisteners; i++) {
		struct conf_listener	*cl = conf->listeners[i];

		/* conf_load() checked that every name exists */
		ts = xcalloc(cl->ntargets, sizeof(*ts));
		for (j = 0; j < cl->ntargets; j++)
			ts[j] = relay_target(r, cl->targets[j]);
		r->ingests[i] = ingest_new(cl, ts, cl->ntargets);
		free(ts);
		r->listeners[i] = listener_new(base, cl, r->ingests[i]);
	}
	if (conf->control_socket[0] != '\0')
		r->control = control_new(base, r, conf->control_socket);
	if ((r->ev_stats = event_new(base, -1, EV_PERSIST, relay_stats_cb,
	    r)) == NULL)
		fatalx("relay: event_new failed");
	return r;
}

void
relay_free(struct relay *r)
{
	size_t	 i;

	if (r == NULL)
		return;
	for (i = 0; i < r->conf->nlisteners; i++) {
		listener_free(r->listeners[i]);
		ingest_free(r->ingests[i]);
	}
	/* before the sender: no answer may reach a freed control client */
	control_free(r->control);
	/* requests reference target batches: abort them first */
	sender_free(r->sender);
	for (i = 0; i < r->conf->ntargets; i++)
		target_free(r->targets[i]);
	if (r->ev_stats != NULL)
		event_free(r->ev_stats);
	if (r->ev_drain != NULL)
		event_free(r->ev_drain);
	free(r->listeners);
	free(r->ingests);
	free(r->targets);
	conf_free(r->conf);
	free(r);
}

int
relay_start(struct relay *r, char *err, size_t errlen)
{
	struct timeval	 tv;
	size_t		 i;

	for (i = 0; i < r->conf->nlisteners; i++)
		if (listener_open(r->listeners[i], err, errlen) == -1)
			return -1;
	if (r->control != NULL && control_open(r->control, err, errlen) == -1)
		return -1;
	if (r->conf->stats_interval_ms > 0) {
		tv.tv_sec = (time_t)(r->conf->stats_interval_ms / 1000);
		tv.tv_usec = (suseconds_t)(r->conf->stats_interval_ms % 1000) *
		    1000;
		event_add(r->ev_stats, &tv);
	}
	return 0;
}

size_t
relay_points(const struct relay *r)
{
	size_t	 i, n = 0;

	for (i = 0; i < r->conf->ntargets; i++)
		n += target_points(r->targets[i]);
	return n;
}

static void
relay_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay	*r = arg;
	size_t		 left = relay_points(r);

	if (left == 0)
		log_info("relay: everything delivered, exiting");
	else if (stamp_now() >= r->drain_deadline)
		log_warnx("relay: shutdown_timeout reached with %zu points "
		    "undelivered; they are lost (no spool configured)", left);
	else
		return;
	relay_log_stats(r);
	event_base_loopbreak(r->base);
}

void
relay_shutdown(struct relay *r)
{
	struct timeval	 tv = { 0, RELAY_DRAIN_POLL_MS * 1000 };
	size_t		 i;

	if (r->draining) {
		log_warnx("relay: second signal, exiting now with %zu points "
		    "undelivered", relay_points(r));
		event_base_loopbreak(r->base);
		return;
	}
	r->draining = true;
	log_info("relay: shutting down, flushing %zu points (up to %.1fs)",
	    relay_points(r), (double)r->conf->shutdown_timeout_ms / 1000);
	for (i = 0; i < r->conf->nlisteners; i++)
		listener_close(r->listeners[i]);
	for (i = 0; i < r->conf->ntargets; i++)
		target_drain(r->targets[i]);
	event_del(r->ev_stats);
	r->drain_deadline = stamp_now() +
	    (int64_t)r->conf->shutdown_timeout_ms * 1000000;
	if ((r->ev_drain = event_new(r->base, -1, EV_PERSIST, relay_drain_cb,
	    r)) == NULL)
		fatalx("relay: event_new failed");
	event_add(r->ev_drain, &tv);
	relay_drain_cb(-1, 0, r);
}

struct target *
relay_target(struct relay *r, const char *name)
{
	size_t	 i;

	for (i = 0; i < r->conf->ntargets; i++)
		if (strcmp(r->conf->targets[i]->name, name) == 0)
			return r->targets[i];
	return NULL;
}

void
relay_flush(struct relay *r)
{
	size_t	 i;

	for (i = 0; i < r->conf->ntargets; i++)
		target_flush(r->targets[i]);
}

bool
relay_flushed(const struct relay *r, size_t *left)
{
	size_t	 i;
	bool	 done = true;

	*left = relay_points(r);
	for (i = 0; i < r->conf->ntargets; i++)
		done = done && target_flushed(r->targets[i]);
	return done;
}

void
relay_json_stats(const struct relay *r, struct evbuffer *out)
{
	size_t	 i;

	evbuffer_add_printf(out, "\"listeners\":[");
	for (i = 0; i < r->conf->nlisteners; i++) {
		if (i > 0)
			evbuffer_add(out, ",", 1);
		stats_json_listener(out, r->listeners[i]);
	}
	evbuffer_add_printf(out, "],\"targets\":[");
	for (i = 0; i < r->conf->ntargets; i++) {
		if (i > 0)
			evbuffer_add(out, ",", 1);
		stats_json_target(out, r->targets[i]);
	}
	evbuffer_add(out, "]", 1);
}

void
relay_log_stats(const struct relay *r)
{
	size_t	 i;

	for (i = 0; i < r->conf->nlisteners; i++)
		listener_log_stats(r->listeners[i]);
	for (i = 0; i < r->conf->ntargets; i++)
		target_log_stats(r->targets[i]);
}
