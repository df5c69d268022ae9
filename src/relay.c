/*
 * Wiring of one configuration, its replacement on reload, and the
 * shutdown drain.
 *
 * A reload parses the whole file first, then builds the next wiring while
 * the current one keeps running: new targets, new ingests, and new
 * listeners already bound.  Only once nothing more can fail does it swap:
 * targets that keep their name adopt their new settings with their queues
 * intact, listeners that keep their path and type adopt theirs with their
 * clients, removed listeners close as at shutdown (reading what their
 * clients sent), removed targets drain for up to shutdown_timeout.  The
 * old configuration is freed last; nothing points into it by then.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "conf.h"
#include "control.h"
#include "ingest.h"
#include "listener.h"
#include "log.h"
#include "mem.h"
#include "point.h"
#include "proto.h"
#include "relay.h"
#include "sender.h"
#include "service.h"
#include "spool.h"
#include "stamp.h"
#include "stats.h"
#include "target.h"

/*
 * A target a reload removed: it drains like at shutdown, for up to
 * shutdown_timeout, with its own copy of its settings (the configuration
 * that named it is freed by the swap).
 */
struct relay_retired {
	TAILQ_ENTRY(relay_retired) entry;
	struct relay		*relay;
	struct target		*target;
	struct conf_target	*conf;
	struct event		*ev_deadline;	/* shutdown_timeout from now */
	bool			 expired;	/* the deadline passed */
};

struct relay {
	struct conf		*conf;
	struct event_base	*base;
	struct sender		*sender;
	struct target		**targets;	/* parallel to conf->targets */
	struct ingest		**ingests;	/* parallel to conf->listeners */
	struct listener		**listeners;
	struct control		*control;	/* NULL until a control_socket */
	struct event		*ev_stats;
	struct event		*ev_drain;		/* shutdown deadline */
	struct event		*ev_settle;	/* a target settled */
	TAILQ_HEAD(, relay_retired) retired;
	bool			 draining;
	bool			 debug;		/* -d: ignore log_level */
	bool			 started;
	int64_t			 started_at;	/* unix seconds, for stats */
	/* spool_dir, as at start (a reload cannot move it), and its lock */
	char			*spool_dir;
	struct spool_lock	*spool_lock;
	struct event		*ev_lock;	/* try to take it again */
};

/*
 * A configuration being swapped in by a reload, complete before the swap:
 * its targets (old ones kept by name, or new), and its listeners (old
 * ones kept by path and type, or new ones already bound).
 */
struct relay_next {
	struct conf		*conf;
	struct target		**targets;
	bool			*target_kept;
	struct ingest		**ingests;
	struct listener		**listeners;
	bool			*listener_kept;
	bool			*listener_deferred; /* path still held by us */
	struct control		*control;	/* a first control socket */
};

static void
relay_status(const struct relay *r)
{
	uint64_t	 written = 0;
	size_t		 i;

	for (i = 0; i < r->conf->ntargets; i++)
		written += target_stats(r->targets[i])->points_written;
	service_status("%zu points buffered, %llu written; %zu listener%s, "
	    "%zu target%s", relay_points(r), (unsigned long long)written,
	    r->conf->nlisteners, r->conf->nlisteners == 1 ? "" : "s",
	    r->conf->ntargets, r->conf->ntargets == 1 ? "" : "s");
}

/* Queues one self-metrics line for every target. */
static void
relay_write_self_line(struct relay *r, const char *body, size_t len,
    int64_t now)
{
	char		 tail[PROTO_TAIL_MAX];
	struct point	 p = { .body = body, .blen = len, .tail = tail,
			    .time = now, .received = now };
	size_t		 i;

	/* the relay's own fields keep their types: no ids needed */
	p.tlen = proto_format_tail(tail, now);
	for (i = 0; i < r->conf->ntargets; i++)
		target_append(r->targets[i], r->conf->internal_database, "",
		    &p);
}

/* Queues the line in `out` for every target, and empties `out`. */
static void
relay_write_self_buf(struct relay *r, struct evbuffer *out, int64_t now)
{
	size_t	 len = evbuffer_get_length(out);

	size_t	 i;

	relay_write_self_line(r, (const char *)evbuffer_pullup(out, -1), len,
	    now);
	evbuffer_drain(out, len);
	for (i = 0; i < r->conf->ntargets; i++)
		target_commit(r->targets[i]);
}

/* internal_database: the counters as points, to every target. */
static void
relay_write_self_metrics(struct relay *r)
{
	struct evbuffer	*out;
	size_t		 i;
	int64_t		 now = stamp_now();

	if (r->conf->internal_database[0] == '\0')
		return;
	if ((out = evbuffer_new()) == NULL)
		fatal("evbuffer_new");
	for (i = 0; i < r->conf->nlisteners; i++) {
		stats_line_listener(out, r->listeners[i]);
		relay_write_self_buf(r, out, now);
	}
	for (i = 0; i < r->conf->ntargets; i++) {
		stats_line_target(out, r->targets[i]);
		relay_write_self_buf(r, out, now);
	}
	evbuffer_free(out);
}

static void
relay_stats_cb(evutil_socket_t fd, short what, void *arg)
{
	relay_log_stats(arg);
	relay_status(arg);
	relay_write_self_metrics(arg);
}

static void
relay_arm_stats(struct relay *r)
{
	uint64_t	 ms = r->conf->stats_interval_ms;
	struct timeval	 tv;

	event_del(r->ev_stats);
	if (ms == 0 || r->draining)
		return;
	tv = stamp_timeval(ms);
	event_add(r->ev_stats, &tv);
}

/* The target called `name` among `targets` (parallel to conf's). */
static struct target *
relay_find_target(const struct conf *conf, struct target **targets,
    const char *name)
{
	size_t	 i;

	for (i = 0; i < conf->ntargets; i++)
		if (strcmp(conf->targets[i]->name, name) == 0)
			return targets[i];
	return NULL;
}

static struct ingest *
relay_ingest_new(const struct conf *conf, struct target **targets,
    const struct conf_listener *cl)
{
	struct target	**ts = xcalloc(cl->ntargets, sizeof(*ts));
	struct ingest	*in;
	size_t		 j;

	/* conf_load() checked that every name exists */
	for (j = 0; j < cl->ntargets; j++)
		ts[j] = relay_find_target(conf, targets, cl->targets[j]);
	in = ingest_new(cl, ts, cl->ntargets);
	free(ts);
	return in;
}

/* The control socket's commands, on the relay (control.h). */
static void
relay_ops_stats(const void *arg, struct evbuffer *out)
{
	relay_json_stats(arg, out);
}

static void
relay_ops_flush(void *arg)
{
	relay_flush(arg);
}

static bool
relay_ops_flushed(const void *arg, size_t *left)
{
	return relay_flushed(arg, left);
}

static struct target *
relay_ops_target(void *arg, const char *name)
{
	return relay_target(arg, name);
}

static int
relay_ops_reload(void *arg, char *err, size_t errlen)
{
	return relay_reload(arg, err, errlen);
}

static const struct control_ops relay_control_ops = {
	.stats = relay_ops_stats,
	.flush = relay_ops_flush,
	.flushed = relay_ops_flushed,
	.target = relay_ops_target,
	.reload = relay_ops_reload,
};

static void	relay_drain_check(struct relay *, bool deadline);
static void	relay_retired_check(struct relay *);

/* A target's points or requests went down: what waited on that. */
static void
relay_settle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay	*r = arg;

	if (!TAILQ_EMPTY(&r->retired))
		relay_retired_check(r);
	if (r->control != NULL)
		control_settled(r->control);
	if (r->draining)
		relay_drain_check(r, false);
}

/* Deferred to the relay's own event: a retired target may be freed. */
static void
relay_target_settled_cb(struct target *t, void *arg)
{
	struct relay	*r = arg;

	event_active(r->ev_settle, 0, 0);
}

struct relay *
relay_new(struct event_base *base, struct conf *conf)
{
	struct relay	*r = xcalloc(1, sizeof(*r));
	size_t		 i;

	r->conf = conf;
	r->base = base;
	r->sender = sender_new(base);
	r->spool_dir = xstrdup(conf->spool_dir);
	TAILQ_INIT(&r->retired);
	r->targets = xcalloc(conf->ntargets, sizeof(*r->targets));
	for (i = 0; i < conf->ntargets; i++) {
		r->targets[i] = target_new(base, r->sender, conf->targets[i]);
		target_on_settled(r->targets[i], relay_target_settled_cb, r);
	}
	r->ingests = xcalloc(conf->nlisteners, sizeof(*r->ingests));
	r->listeners = xcalloc(conf->nlisteners, sizeof(*r->listeners));
	for (i = 0; i < conf->nlisteners; i++) {
		r->ingests[i] = relay_ingest_new(conf, r->targets,
		    conf->listeners[i]);
		r->listeners[i] = listener_new(base, conf->listeners[i],
		    r->ingests[i]);
	}
	if (conf->control_socket[0] != '\0')
		r->control = control_new(base, &relay_control_ops, r,
		    conf->control_socket);
	if ((r->ev_settle = event_new(base, -1, 0, relay_settle_cb, r)) ==
	    NULL)
		fatalx("relay: event_new failed");
	if ((r->ev_stats = event_new(base, -1, EV_PERSIST, relay_stats_cb,
	    r)) == NULL)
		fatalx("relay: event_new failed");
	return r;
}

void
relay_set_debug(struct relay *r, bool debug)
{
	r->debug = debug;
	log_set_level(debug ? LOG_LEVEL_DEBUG :
	    (enum log_level)r->conf->log_level);
}

static void
relay_retired_free(struct relay *r, struct relay_retired *rt)
{
	TAILQ_REMOVE(&r->retired, rt, entry);
	event_free(rt->ev_deadline);
	target_free(rt->target);
	conf_target_free(rt->conf);
	free(rt);
}

void
relay_free(struct relay *r)
{
	struct relay_retired	*rt;
	size_t			 i;

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
	while ((rt = TAILQ_FIRST(&r->retired)) != NULL)
		relay_retired_free(r, rt);
	/* after the targets: their spools are closed */
	spool_unlock(r->spool_lock);
	free(r->spool_dir);
	if (r->ev_lock != NULL)
		event_free(r->ev_lock);
	if (r->ev_stats != NULL)
		event_free(r->ev_stats);
	if (r->ev_drain != NULL)
		event_free(r->ev_drain);
	event_free(r->ev_settle);
	free(r->listeners);
	free(r->ingests);
	free(r->targets);
	conf_free(r->conf);
	free(r);
}

/* Retries a spool_dir that could not be locked. */
#define RELAY_LOCK_RETRY_MS	(60 * 1000)

/* True if a target keeps a spool: spool = true under a spool_dir. */
static bool
relay_spools(const struct relay *r)
{
	size_t	 i;

	if (r->spool_dir[0] == '\0')
		return false;
	for (i = 0; i < r->conf->ntargets; i++)
		if (r->conf->targets[i]->spool)
			return true;
	return false;
}

/* Spools in spool_dir that no target takes up are kept, and said so. */
static void
relay_report_orphans(struct relay *r)
{
	struct dirent	*e;
	DIR		*d;
	char		*name;

	if ((d = opendir(r->spool_dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if ((name = spool_dirname_target(e->d_name)) == NULL)
			continue;
		if (conf_find_target(r->conf, name) == NULL)
			log_warnx("relay: %s/%s holds the spool of target %s, "
			    "which is not configured; kept as it is",
			    r->spool_dir, e->d_name, log_esc(name));
		free(name);
	}
	closedir(d);
}

/* A target of that name, removed by a reload, still drains its spool. */
static bool
relay_retiring(const struct relay *r, const char *name)
{
	const struct relay_retired	*rt;

	TAILQ_FOREACH(rt, &r->retired, entry)
		if (strcmp(rt->conf->name, name) == 0)
			return true;
	return false;
}

/* Gives a target its spool, once spool_dir is locked. */
static void
relay_use_spool(struct relay *r, struct target *t)
{
	if (r->spool_lock == NULL)
		return;
	if (relay_retiring(r, target_name(t))) {
		log_warnx("relay: target %s: its removed namesake still owns "
		    "its spool; memory only until the next start",
		    target_name(t));
		return;
	}
	target_use_spool(t, r->spool_dir);
}

static void relay_lock_cb(evutil_socket_t, short, void *);

/*
 * Takes spool_dir's lock and gives each target its spool.  Another relay
 * on the same spool_dir is an error; a spool_dir that cannot be used is
 * warned about, and tried again while the targets keep points in memory.
 */
static int
relay_lock_spool(struct relay *r, char *err, size_t errlen)
{
	struct timeval	 tv = stamp_timeval(RELAY_LOCK_RETRY_MS);
	char		 cause[256];
	size_t		 i;

	if (!relay_spools(r) || r->spool_lock != NULL)
		return 0;
	if ((r->spool_lock = spool_lock(r->spool_dir, cause,
	    sizeof(cause))) == NULL) {
		if (errno == EWOULDBLOCK && !r->started) {
			snprintf(err, errlen, "%s", cause);
			return -1;
		}
		log_warnx("relay: SPOOL UNUSABLE: %s; keeping points in memory "
		    "only, trying again in %d s", cause,
		    RELAY_LOCK_RETRY_MS / 1000);
		if (r->ev_lock == NULL && (r->ev_lock = evtimer_new(r->base,
		    relay_lock_cb, r)) == NULL)
			fatalx("relay: evtimer_new failed");
		evtimer_add(r->ev_lock, &tv);
		return 0;
	}
	relay_report_orphans(r);
	for (i = 0; i < r->conf->ntargets; i++)
		relay_use_spool(r, r->targets[i]);
	return 0;
}

static void
relay_lock_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay	*r = arg;
	char		 err[256];

	(void)relay_lock_spool(r, err, sizeof(err));
}

int
relay_start(struct relay *r, char *err, size_t errlen)
{
	size_t	 i;

	if (relay_lock_spool(r, err, errlen) == -1)
		return -1;
	r->started = true;
	r->started_at = time(NULL);

	for (i = 0; i < r->conf->nlisteners; i++)
		if (listener_open(r->listeners[i], err, errlen) == -1)
			return -1;
	if (r->control != NULL && control_open(r->control, err, errlen) == -1)
		return -1;
	service_warn_unused_fds();
	relay_arm_stats(r);
	relay_status(r);
	return 0;
}

size_t
relay_points(const struct relay *r)
{
	struct relay_retired	*rt;
	size_t			 i, n = 0;

	for (i = 0; i < r->conf->ntargets; i++)
		n += target_points(r->targets[i]);
	TAILQ_FOREACH(rt, &r->retired, entry)
		n += target_points(rt->target);
	return n;
}

size_t
relay_volatile(const struct relay *r)
{
	struct relay_retired	*rt;
	size_t			 i, n = 0;

	for (i = 0; i < r->conf->ntargets; i++)
		n += target_volatile(r->targets[i]);
	TAILQ_FOREACH(rt, &r->retired, entry)
		n += target_volatile(rt->target);
	return n;
}

/* Shutdown: exits once everything is delivered, or at the deadline. */
static void
relay_drain_check(struct relay *r, bool deadline)
{
	size_t	 left = relay_points(r), lost = relay_volatile(r);

	if (left == 0)
		log_info("relay: everything delivered, exiting");
	else if (deadline && lost == 0)
		log_info("relay: shutdown_timeout reached with %zu points "
		    "undelivered, all kept in the spool for the next start",
		    left);
	else if (deadline)
		log_warnx("relay: shutdown_timeout reached with %zu points "
		    "undelivered: %zu kept in the spool, %zu in memory only "
		    "are lost", left, left - lost, lost);
	else
		return;
	relay_log_stats(r);
	event_base_loopbreak(r->base);
}

static void
relay_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	relay_drain_check(arg, true);
}

void
relay_shutdown(struct relay *r)
{
	struct timeval		 tv = stamp_timeval(r->conf->shutdown_timeout_ms);
	struct relay_retired	*rt;
	size_t			 i;

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
	TAILQ_FOREACH(rt, &r->retired, entry)
		target_drain(rt->target);
	event_del(r->ev_stats);
	/* the targets say when they settle; this is only the deadline */
	if ((r->ev_drain = evtimer_new(r->base, relay_drain_cb, r)) == NULL)
		fatalx("relay: evtimer_new failed");
	event_add(r->ev_drain, &tv);
	relay_drain_check(r, false);
}

struct target *
relay_target(struct relay *r, const char *name)
{
	return relay_find_target(r->conf, r->targets, name);
}

void
relay_flush(struct relay *r)
{
	struct relay_retired	*rt;
	size_t			 i;

	for (i = 0; i < r->conf->ntargets; i++)
		target_flush(r->targets[i]);
	TAILQ_FOREACH(rt, &r->retired, entry)
		target_flush(rt->target);
}

bool
relay_flushed(const struct relay *r, size_t *left)
{
	struct relay_retired	*rt;
	size_t			 i;
	bool			 done = true;

	*left = relay_points(r);
	for (i = 0; i < r->conf->ntargets; i++)
		done = done && target_flushed(r->targets[i]);
	TAILQ_FOREACH(rt, &r->retired, entry)
		done = done && target_flushed(rt->target);
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
	stats_json_clock(out, time(NULL), r->started_at);
}

void
relay_log_stats(const struct relay *r)
{
	size_t	 i;

	for (i = 0; i < r->conf->nlisteners; i++)
		stats_log_listener(r->listeners[i]);
	for (i = 0; i < r->conf->ntargets; i++)
		stats_log_target(r->targets[i]);
}

/*
 * Frees removed targets once drained, or at their deadline, but never
 * while one of their requests (admin statements too) runs: its
 * completion callback uses the target.  curl's timeout bounds the wait.
 */
static void
relay_retired_check(struct relay *r)
{
	struct relay_retired	*rt, *next;
	struct target_gauges	 g;

	for (rt = TAILQ_FIRST(&r->retired); rt != NULL; rt = next) {
		next = TAILQ_NEXT(rt, entry);
		target_gauges(rt->target, &g);
		if (target_requests(rt->target) > 0)
			continue;	/* each completion uses the target */
		if (g.points == 0)
			log_info("relay: removed target %s: everything "
			    "delivered", rt->conf->name);
		else if (rt->expired && target_volatile(rt->target) == 0)
			log_warnx("relay: removed target %s: %zu points "
			    "undelivered after shutdown_timeout, kept in its "
			    "spool under %s", rt->conf->name, g.points,
			    r->spool_dir);
		else if (rt->expired)
			log_warnx("relay: removed target %s: %zu points "
			    "undelivered after shutdown_timeout, dropped (%zu "
			    "kept in its spool)", rt->conf->name, g.points,
			    g.points - target_volatile(rt->target));
		else
			continue;
		relay_retired_free(r, rt);
	}
}

/* The check runs from the relay's event: it may free `rt` and this timer. */
static void
relay_retired_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay_retired	*rt = arg;

	rt->expired = true;
	event_active(rt->relay->ev_settle, 0, 0);
}

static void
relay_retire(struct relay *r, struct target *t, uint64_t timeout_ms)
{
	struct relay_retired	*rt = xcalloc(1, sizeof(*rt));
	struct timeval		 tv = stamp_timeval(timeout_ms);

	rt->relay = r;
	rt->target = t;
	rt->conf = conf_target_dup(target_conf(t));
	target_reconfigure(t, rt->conf);
	target_drain(t);
	TAILQ_INSERT_TAIL(&r->retired, rt, entry);
	log_info("relay: target %s removed, draining %zu points", rt->conf->name,
	    target_points(t));
	if ((rt->ev_deadline = evtimer_new(r->base, relay_retired_deadline_cb,
	    rt)) == NULL)
		fatalx("relay: evtimer_new failed");
	event_add(rt->ev_deadline, &tv);
	/* it may hold nothing already: look at once, from the loop */
	event_active(r->ev_settle, 0, 0);
}

/* The current listener with the same path and type, or -1. */
static ssize_t
relay_same_listener(const struct relay *r, const struct conf_listener *cl)
{
	size_t	 i;

	for (i = 0; i < r->conf->nlisteners; i++)
		if (strcmp(r->conf->listeners[i]->path, cl->path) == 0 &&
		    r->conf->listeners[i]->type == cl->type)
			return (ssize_t)i;
	return -1;
}

static bool
relay_path_busy(const struct relay *r, const char *path)
{
	size_t	 i;

	for (i = 0; i < r->conf->nlisteners; i++)
		if (strcmp(r->conf->listeners[i]->path, path) == 0)
			return true;
	return false;
}

static void
relay_next_alloc(struct relay_next *n, struct conf *conf)
{
	n->conf = conf;
	n->targets = xcalloc(conf->ntargets, sizeof(*n->targets));
	n->target_kept = xcalloc(conf->ntargets, sizeof(*n->target_kept));
	n->ingests = xcalloc(conf->nlisteners, sizeof(*n->ingests));
	n->listeners = xcalloc(conf->nlisteners, sizeof(*n->listeners));
	n->listener_kept = xcalloc(conf->nlisteners,
	    sizeof(*n->listener_kept));
	n->listener_deferred = xcalloc(conf->nlisteners,
	    sizeof(*n->listener_deferred));
}

/* An aborted reload: frees what it built, closing what it bound. */
static void
relay_next_abort(struct relay_next *n)
{
	size_t	 i;

	for (i = 0; i < n->conf->nlisteners; i++) {
		if (n->listeners[i] != NULL && !n->listener_kept[i])
			listener_abandon(n->listeners[i]);
		ingest_free(n->ingests[i]);
	}
	for (i = 0; i < n->conf->ntargets; i++)
		if (!n->target_kept[i])
			target_free(n->targets[i]);
	control_free(n->control);
	conf_free(n->conf);
}

static void
relay_next_free(struct relay_next *n)
{
	free(n->targets);
	free(n->target_kept);
	free(n->ingests);
	free(n->listeners);
	free(n->listener_kept);
	free(n->listener_deferred);
}

/* Listeners of the next configuration; new ones are bound now. */
static int
relay_prepare_listeners(struct relay *r, struct relay_next *n, char *err,
    size_t errlen)
{
	struct conf_listener	*cl;
	ssize_t			 old;
	size_t			 i;

	for (i = 0; i < n->conf->nlisteners; i++) {
		cl = n->conf->listeners[i];
		n->ingests[i] = relay_ingest_new(n->conf, n->targets, cl);
		if ((old = relay_same_listener(r, cl)) >= 0) {
			n->listeners[i] = r->listeners[old];
			n->listener_kept[i] = true;
			continue;
		}
		n->listeners[i] = listener_new(r->base, cl, n->ingests[i]);
		/* a path changing type: bound once the old socket closed */
		if (relay_path_busy(r, cl->path))
			n->listener_deferred[i] = true;
		else if (listener_open(n->listeners[i], err, errlen) == -1)
			return -1;
	}
	return 0;
}

/* Everything that can fail, before anything running changes. */
static int
relay_prepare(struct relay *r, struct relay_next *n, char *err,
    size_t errlen)
{
	const char	*path = n->conf->control_socket;
	size_t		 i;

	for (i = 0; i < n->conf->ntargets; i++) {
		n->targets[i] = relay_target(r, n->conf->targets[i]->name);
		if (n->targets[i] != NULL) {
			n->target_kept[i] = true;
			continue;
		}
		n->targets[i] = target_new(r->base, r->sender,
		    n->conf->targets[i]);
		target_on_settled(n->targets[i], relay_target_settled_cb, r);
		relay_use_spool(r, n->targets[i]);
	}
	if (relay_prepare_listeners(r, n, err, errlen) == -1)
		return -1;
	if (r->control == NULL && path[0] != '\0') {
		n->control = control_new(r->base, &relay_control_ops, r, path);
		return control_open(n->control, err, errlen);
	}
	/* the last step that can fail: nothing to undo after it */
	if (r->control != NULL)
		return control_rebind(r->control, path, err, errlen);
	return 0;
}

static bool
relay_listener_kept(const struct relay_next *n, const struct listener *l)
{
	size_t	 i;

	for (i = 0; i < n->conf->nlisteners; i++)
		if (n->listeners[i] == l)
			return true;
	return false;
}

static void
relay_commit_targets(struct relay *r, struct relay_next *n)
{
	size_t	 i;

	for (i = 0; i < r->conf->ntargets; i++)
		if (conf_find_target(n->conf, r->conf->targets[i]->name) ==
		    NULL)
			relay_retire(r, r->targets[i],
			    n->conf->shutdown_timeout_ms);
	for (i = 0; i < n->conf->ntargets; i++)
		if (n->target_kept[i])
			target_reconfigure(n->targets[i],
			    n->conf->targets[i]);
}

static void
relay_commit_listeners(struct relay *r, struct relay_next *n)
{
	char	 err[256];
	size_t	 i;

	for (i = 0; i < n->conf->nlisteners; i++) {
		if (n->listener_kept[i])
			listener_reconfigure(n->listeners[i],
			    n->conf->listeners[i], n->ingests[i]);
		else if (n->listener_deferred[i] &&
		    listener_open(n->listeners[i], err, sizeof(err)) == -1)
			log_warnx("relay: listener %s stays closed: %s",
			    n->conf->listeners[i]->name, err);
	}
}

/*
 * The swap.  Removed listeners close first, while the targets they feed
 * still run; then targets take their new settings, so lines a kept
 * listener reads from now on meet the new limits.
 */
static void
relay_commit(struct relay *r, struct relay_next *n)
{
	size_t	 i;

	for (i = 0; i < r->conf->nlisteners; i++)
		if (!relay_listener_kept(n, r->listeners[i])) {
			log_info("relay: listener %s removed",
			    listener_name(r->listeners[i]));
			listener_free(r->listeners[i]);
		}
	if (strcmp(n->conf->spool_dir, r->spool_dir) != 0)
		log_warnx("relay: spool_dir stays %s until the next start",
		    r->spool_dir);
	relay_commit_targets(r, n);
	relay_commit_listeners(r, n);
	for (i = 0; i < r->conf->nlisteners; i++)
		ingest_free(r->ingests[i]);
	if (n->control != NULL)
		r->control = n->control;
	free(r->targets);
	free(r->ingests);
	free(r->listeners);
	r->targets = n->targets;
	r->ingests = n->ingests;
	r->listeners = n->listeners;
	n->targets = NULL;
	n->ingests = NULL;
	n->listeners = NULL;
	conf_free(r->conf);
	r->conf = n->conf;
	relay_set_debug(r, r->debug);
	relay_arm_stats(r);
}

/* Logs every problem; `err` gets a one-line summary. */
static void
relay_reload_errors(struct conf_errors *errs, char *err, size_t errlen)
{
	size_t	 i;

	for (i = 0; i < errs->count; i++)
		log_warnx("relay: reload: %s", errs->msgs[i]);
	snprintf(err, errlen, "configuration rejected (%zu error%s, first: "
	    "%s); the running configuration stays", errs->count,
	    errs->count == 1 ? "" : "s", errs->count ? errs->msgs[0] : "?");
	conf_errors_clear(errs);
}

int
relay_reload(struct relay *r, char *err, size_t errlen)
{
	struct conf_errors	 errs = { 0 };
	struct relay_next	 n = { 0 };
	struct conf		*conf;
	char			 why[256];
	int			 rc = -1;

	if (r->draining) {
		snprintf(err, errlen, "shutting down");
		return -1;
	}
	service_reloading();
	log_info("relay: reloading %s", r->conf->file);
	if ((conf = conf_load(r->conf->file, &errs)) == NULL)
		relay_reload_errors(&errs, err, errlen);
	else {
		relay_next_alloc(&n, conf);
		if (relay_prepare(r, &n, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "reload aborted, the running "
			    "configuration stays: %s", why);
			relay_next_abort(&n);
		} else {
			relay_commit(r, &n);
			rc = 0;
			log_info("relay: configuration reloaded: %zu "
			    "listener%s, %zu target%s", r->conf->nlisteners,
			    r->conf->nlisteners == 1 ? "" : "s",
			    r->conf->ntargets,
			    r->conf->ntargets == 1 ? "" : "s");
		}
		relay_next_free(&n);
	}
	if (rc == -1)
		log_warnx("relay: %s", err);
	service_notify("READY=1");
	relay_status(r);
	return rc;
}
