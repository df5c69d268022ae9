/*
 * Delivery: the state machine that sends a target's batches.
 *
 * A target runs up to max_connections requests in parallel while
 * healthy, from one queue or several.  A queue sends its next batch
 * while earlier ones are in flight only if no point of it shares a series
 * and timestamp with theirs, and no field has another type in it
 * (batch_must_follow()): such batches are stored the same in any order,
 * while two writes of one point, or two types of one field, must arrive
 * in the order they were queued.  So a queue's order is kept wherever it
 * changes what is stored.  A
 * batch whose request failed goes back to the head of its queue.  A transient failure (no answer, 429, 5xx) is the server's, not
 * the queue's: the whole target backs off, then probes with one request at
 * a time until one succeeds, so a dead server sees one request per backoff
 * step however many queues wait.  A configuration problem (401, 403, a
 * missing database or retention policy) belongs to its queue, which alone
 * retries at retry_max while the others flow.
 *
 * A queue's state says what it waits for (queue_set_state() logs every
 * change at debug level):
 *	idle	 for a closed batch and a free connection
 *	sending	 for the answers to its requests
 *	creating for the CREATE DATABASE of its database
 *	failing	 for its retry_max wait after a configuration problem
 * The target-wide backoff is not a queue's state: it holds every idle
 * queue until the wait ends.
 *
 * Missing databases are created once per database for the whole target
 * (all retention policies of a database share one CREATE), and again only
 * after a later write to that database succeeded (it was dropped since).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/event.h>

#include "backoff.h"
#include "batch.h"
#include "blame.h"
#include "conf.h"
#include "delivery.h"
#include "endpoint.h"
#include "hmap.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "queue.h"
#include "response.h"
#include "sender.h"
#include "stamp.h"
#include "target.h"

/* Configuration problems are warned about once per this many seconds. */
#define DELIVERY_CONFIG_WARN_S	60
/* A field type a server reported is trusted this long (shards change). */
#define DELIVERY_KNOWN_TYPE_NS	(10 * 60 * 1000000000LL)
/* Writes of one queue in flight at once, at most (and max_connections). */
#define DELIVERY_QUEUE_WRITES_MAX	16
/* Retry-After is honoured up to max(retry_max, this). */
#define DELIVERY_RETRY_AFTER_MAX_MS	(5 * 60 * 1000)

enum queue_state {
	QUEUE_IDLE,
	QUEUE_SENDING,
	QUEUE_CREATING,
	QUEUE_FAILING,
};

static const char *const queue_state_names[] = {
	[QUEUE_IDLE] = "idle",
	[QUEUE_SENDING] = "sending",
	[QUEUE_CREATING] = "creating",
	[QUEUE_FAILING] = "failing",
};

/* A database as the target knows it: shared by its queues. */
struct delivery_db {
	TAILQ_ENTRY(delivery_db) entry;
	char			*name;
	char			*create_body;	/* CREATE in flight, or NULL */
	bool			 may_create;	/* no CREATE since a success */
	int64_t			 create_after;	/* refused: not again before */
	size_t			 nqueues;	/* queues of this database */
};

/*
 * One admin statement in flight (control socket); owns the body curl
 * sends.  Listed, so a shutdown that aborts it still frees it.
 */
struct delivery_admin {
	TAILQ_ENTRY(delivery_admin) entry;
	struct delivery		*delivery;
	sender_done_cb		 cb;
	void			*arg;
	char			*body;
};

/* A write in flight: its batch, taken from its queue. */
struct delivery_write {
	TAILQ_ENTRY(delivery_write) entry;
	struct delivery_queue	*queue;
	struct batch		*batch;
};

struct delivery_queue {
	TAILQ_ENTRY(delivery_queue) entry;
	TAILQ_ENTRY(delivery_queue) wake_entry;	/* may send: look at it */
	bool			 waking;	/* in the wake list */
	struct delivery		*delivery;
	struct delivery_db	*db;
	struct queue		*queue;
	char			*write_url;
	enum queue_state	 state;
	struct event		*ev_flush;
	struct event		*ev_retry;	/* configuration problem */
	TAILQ_HEAD(, delivery_write) writes;	/* in flight, oldest first */
	size_t			 nwrites;
	/*
	 * The next batch was found to have to follow the writes in flight: it
	 * waits for one to end, without hashing it again for every point
	 * appended meanwhile.
	 */
	const struct batch	*behind;
	unsigned		 attempts;	/* slow retries since success */
	bool			 flush_due;	/* the open batch is due */
	struct log_ratelimit	 rl_config;
};

struct delivery {
	const struct conf_target *conf;
	struct event_base	*base;
	struct sender		*sender;
	struct sender_opts	 opts;
	char			*base_url;	/* url without trailing '/' */
	char			*unix_path;
	char			*query_url;
	const struct delivery_ops *ops;
	void			*ops_arg;
	struct target_stats	*stats;		/* the target's */
	TAILQ_HEAD(, delivery_queue) queues;
	/*
	 * Queues something happened to that may let them send (a batch
	 * closed, an answer came, a retry wait ended), oldest first: the
	 * pump looks at these only, not at every queue.
	 */
	TAILQ_HEAD(, delivery_queue) wake;
	TAILQ_HEAD(, delivery_db) dbs;
	struct hmap		*db_index;	/* by name */
	TAILQ_HEAD(, delivery_admin) admins;
	size_t			 inflight;	/* writes and CREATEs */
	size_t			 inflight_bytes;
	size_t			 inflight_points;
	size_t			 failing;	/* queues in QUEUE_FAILING */
	struct event		*ev_retry;	/* target-wide backoff */
	/*
	 * The flush delays (delivery_arm_flush()) as libevent common
	 * timeouts, or as plain ones past libevent's limit of them.
	 */
	const struct timeval	*flush_tv[BACKOFF_FLUSH_STEPS];
	struct timeval		 flush_plain[BACKOFF_FLUSH_STEPS];
	unsigned		 nflush;
	unsigned		 attempts;	/* transient failures in a row */
	struct log_ratelimit	 rl_retry;
	struct log_ratelimit	 rl;
};

static void delivery_pump(struct delivery *);
static void delivery_arm_flush(struct delivery_queue *);

/* A queue's database for a log line: a client chose it (log_escape()). */
static const char *
delivery_qname(const struct delivery_queue *dq)
{
	return log_esc(queue_database(dq->queue));
}

/* The one setter of a queue's state. */
static void
queue_set_state(struct delivery_queue *dq, enum queue_state state)
{
	struct delivery	*d = dq->delivery;

	if (dq->state == state)
		return;
	d->failing -= (dq->state == QUEUE_FAILING);
	d->failing += (state == QUEUE_FAILING);
	if (log_enabled(LOG_LEVEL_DEBUG))
		log_debug("delivery: target %s db=%s rp=%s: %s -> %s",
		    d->conf->name, delivery_qname(dq),
		    log_esc(queue_retention_policy(dq->queue)),
		    queue_state_names[dq->state], queue_state_names[state]);
	dq->state = state;
}

/* The queue waits for nothing but its answers, if any. */
static void
queue_resume(struct delivery_queue *dq)
{
	queue_set_state(dq, dq->nwrites > 0 ? QUEUE_SENDING : QUEUE_IDLE);
}

/* The queue may be able to send now: the next pump looks at it. */
static void
delivery_wake(struct delivery_queue *dq)
{
	if (dq->waking)
		return;
	dq->waking = true;
	TAILQ_INSERT_TAIL(&dq->delivery->wake, dq, wake_entry);
}

/* Something changed for every queue (rare: flush, reload, a CREATE). */
static void
delivery_wake_all(struct delivery *d)
{
	struct delivery_queue	*dq;

	TAILQ_FOREACH(dq, &d->queues, entry)
		delivery_wake(dq);
}

static void
delivery_unwake(struct delivery_queue *dq)
{
	if (!dq->waking)
		return;
	dq->waking = false;
	TAILQ_REMOVE(&dq->delivery->wake, dq, wake_entry);
}

static void
delivery_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct delivery_queue	*dq = arg;

	/*
	 * A batch of this queue still waits to be sent (or is in flight):
	 * the open one keeps filling and leaves right after it, rather than
	 * as one more small batch.  Many databases with a few points each
	 * then cost far fewer requests.  The timer runs again in case
	 * nothing else closes the batch.
	 */
	if (dq->nwrites > 0 || queue_ready(dq->queue)) {
		dq->flush_due = true;
		delivery_arm_flush(dq);
		return;
	}
	/*
	 * The batch is due: it is closed when the pump sends it, so that
	 * points arriving while it waits for a connection (10,000 queues
	 * due in one second, two connections) leave with it instead of
	 * starting one more batch.
	 */
	dq->flush_due = true;
	delivery_wake(dq);
	delivery_pump(dq->delivery);
}

/* A due batch of a queue about to send is closed now (flush_cb). */
static void
delivery_seal_due(struct delivery_queue *dq)
{
	if (!dq->flush_due || dq->nwrites > 0 || queue_ready(dq->queue))
		return;
	dq->flush_due = false;
	queue_seal(dq->queue);
}

/* Its request is over: a batch whose flush came meanwhile goes now. */
static void
delivery_flush_late(struct delivery_queue *dq)
{
	if (!dq->flush_due || queue_ready(dq->queue))
		return;
	dq->flush_due = false;
	evtimer_del(dq->ev_flush);
	queue_seal(dq->queue);
}

static void
delivery_queue_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct delivery_queue	*dq = arg;

	queue_resume(dq);
	delivery_wake(dq);
	delivery_pump(dq->delivery);
}

static void
delivery_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	delivery_pump(arg);
}

static bool
delivery_db_is(const void *item, const void *key)
{
	return strcmp(((const struct delivery_db *)item)->name, key) == 0;
}

static struct delivery_db *
delivery_db_get(struct delivery *d, const char *name)
{
	uint64_t		 hash = hmap_hash_str(0, name);
	struct delivery_db	*db;

	if ((db = hmap_find(d->db_index, hash, delivery_db_is, name)) != NULL)
		return db;
	db = xcalloc(1, sizeof(*db));
	db->name = xstrdup(name);
	db->may_create = true;
	TAILQ_INSERT_TAIL(&d->dbs, db, entry);
	hmap_insert(d->db_index, hash, db);
	return db;
}

static void
delivery_db_free(struct delivery *d, struct delivery_db *db)
{
	TAILQ_REMOVE(&d->dbs, db, entry);
	hmap_remove(d->db_index, hmap_hash_str(0, db->name), db);
	free(db->name);
	free(db->create_body);
	free(db);
}

/*
 * Every queue has a flush timer, armed when its batch gets its first
 * point: with 10,000 databases 10,000 timers, and libevent keeps timers
 * in a min-heap, O(log n) to add and to fire (13 % of the relay's CPU in
 * one profile).  Timers of one common duration can live in a queue
 * instead, O(1), once the base knows the duration
 * (event_base_init_common_timeout(), event2/event.h: "if you have a large
 * number of timeouts that all have the same duration [...] you can
 * improve Libevent's performance by telling Libevent about it").  So the
 * jitter is drawn from BACKOFF_FLUSH_STEPS even steps (backoff.c), one
 * common timeout each.  libevent never frees them and allows 256 per
 * base: a reload asks again (the same durations are found again), and
 * past the limit the plain duration goes to the heap as before.
 */
static void
delivery_setup_flush(struct delivery *d)
{
	const struct conf_target	*c = d->conf;
	unsigned			 k;

	d->nflush = backoff_flush_steps(c->flush_jitter_ms);
	for (k = 0; k < d->nflush; k++) {
		d->flush_plain[k] = stamp_timeval(backoff_flush_delay(
		    c->flush_interval_ms, c->flush_jitter_ms, k));
		d->flush_tv[k] = event_base_init_common_timeout(d->base,
		    &d->flush_plain[k]);
		if (d->flush_tv[k] == NULL)
			d->flush_tv[k] = &d->flush_plain[k];
	}
}

static void
delivery_setup(struct delivery *d)
{
	const struct conf_target	*c = d->conf;
	struct sender_opts		*o = &d->opts;

	free(d->base_url);
	free(d->unix_path);
	free(d->query_url);
	d->base_url = endpoint_base(c->url, &d->unix_path);
	d->query_url = endpoint_query_url(d->base_url);
	o->unix_path = d->unix_path;
	o->username = c->username;
	o->password = c->password;
	o->token = c->token;
	o->tls_ca = c->tls_ca;
	o->tls_cert = c->tls_cert;
	o->tls_key = c->tls_key;
	o->tls_verify = c->tls_verify;
	o->timeout_ms = (long)c->timeout_ms;
	sender_opts_changed(d->sender, o);
	delivery_setup_flush(d);
}

struct delivery *
delivery_new(struct event_base *base, struct sender *sender,
    const struct conf_target *conf, struct target_stats *stats,
    const struct delivery_ops *ops, void *arg)
{
	struct delivery		*d = xcalloc(1, sizeof(*d));
	struct log_ratelimit	 rl = LOG_RATELIMIT_INIT(10, 3);
	struct log_ratelimit	 rlr = LOG_RATELIMIT_INIT(10, 1);

	d->conf = conf;
	d->base = base;
	d->sender = sender;
	d->stats = stats;
	d->ops = ops;
	d->ops_arg = arg;
	d->rl = rl;
	d->rl_retry = rlr;
	delivery_setup(d);
	TAILQ_INIT(&d->queues);
	TAILQ_INIT(&d->wake);
	TAILQ_INIT(&d->dbs);
	TAILQ_INIT(&d->admins);
	d->db_index = hmap_new();
	if ((d->ev_retry = evtimer_new(base, delivery_retry_cb, d)) == NULL)
		fatalx("target %s: evtimer_new failed", conf->name);
	loop_set_priority(d->ev_retry, LOOP_PRI_DELIVERY);	/* loop.c */
	return d;
}

static void
delivery_admin_free(struct delivery_admin *a)
{
	TAILQ_REMOVE(&a->delivery->admins, a, entry);
	free(a->body);
	free(a);
}

void
delivery_free(struct delivery *d)
{
	struct delivery_queue	*dq;
	struct delivery_db	*db;

	if (d == NULL)
		return;
	struct delivery_write	*w;

	while ((dq = TAILQ_FIRST(&d->queues)) != NULL) {
		while ((w = TAILQ_FIRST(&dq->writes)) != NULL) {
			TAILQ_REMOVE(&dq->writes, w, entry);
			d->ops->release(d->ops_arg, w->batch, 0,
			    ORIGIN_DROPPED_REMOVED);
			free(w);
		}
		dq->nwrites = 0;
		delivery_queue_free(dq);
	}
	while ((db = TAILQ_FIRST(&d->dbs)) != NULL)
		delivery_db_free(d, db);
	/* the sender, freed first, aborted them without their callbacks */
	while (!TAILQ_EMPTY(&d->admins))
		delivery_admin_free(TAILQ_FIRST(&d->admins));
	hmap_free(d->db_index);
	event_free(d->ev_retry);
	free(d->base_url);
	free(d->unix_path);
	free(d->query_url);
	free(d);
}

struct delivery_queue *
delivery_queue_new(struct delivery *d, struct queue *q)
{
	struct delivery_queue	*dq = xcalloc(1, sizeof(*dq));
	struct log_ratelimit	 rlc = LOG_RATELIMIT_INIT(
				    DELIVERY_CONFIG_WARN_S, 1);

	dq->delivery = d;
	dq->queue = q;
	TAILQ_INIT(&dq->writes);
	dq->db = delivery_db_get(d, queue_database(q));
	dq->db->nqueues++;
	dq->write_url = endpoint_write_url(d->base_url,
	    d->conf->api == API_V2, d->conf->org, queue_database(q),
	    queue_retention_policy(q));
	dq->rl_config = rlc;
	dq->ev_flush = evtimer_new(d->base, delivery_flush_cb, dq);
	dq->ev_retry = evtimer_new(d->base, delivery_queue_retry_cb, dq);
	if (dq->ev_flush == NULL || dq->ev_retry == NULL)
		fatalx("target %s: evtimer_new failed", d->conf->name);
	loop_set_priority(dq->ev_flush, LOOP_PRI_DELIVERY);	/* loop.c */
	loop_set_priority(dq->ev_retry, LOOP_PRI_DELIVERY);
	TAILQ_INSERT_TAIL(&d->queues, dq, entry);
	return dq;
}

void
delivery_queue_free(struct delivery_queue *dq)
{
	struct delivery	*d;

	if (dq == NULL)
		return;
	d = dq->delivery;
	queue_set_state(dq, QUEUE_IDLE);	/* keeps d->failing true */
	delivery_unwake(dq);
	TAILQ_REMOVE(&d->queues, dq, entry);
	dq->db->nqueues--;
	event_free(dq->ev_flush);
	event_free(dq->ev_retry);
	free(dq->write_url);
	free(dq);
}

bool
delivery_queue_idle(const struct delivery_queue *dq)
{
	/* a CREATE in flight holds a queue of its database as callback arg */
	return dq->state == QUEUE_IDLE && dq->nwrites == 0 &&
	    dq->db->create_body == NULL &&
	    !evtimer_pending(dq->ev_flush, NULL);
}

const char *
delivery_queue_state(const struct delivery_queue *dq)
{
	return queue_state_names[dq->state];
}

size_t
delivery_queue_in_flight(const struct delivery_queue *dq)
{
	const struct delivery_write	*w;
	size_t				 n = 0;

	TAILQ_FOREACH(w, &dq->writes, entry)
		n += w->batch->points;
	return n;
}

bool
delivery_queue_failing(const struct delivery_queue *dq)
{
	return dq->state == QUEUE_FAILING;
}

/* Forgets databases no queue uses any more (and no CREATE runs for). */
void
delivery_sweep(struct delivery *d)
{
	struct delivery_db	*db, *next;

	for (db = TAILQ_FIRST(&d->dbs); db != NULL; db = next) {
		next = TAILQ_NEXT(db, entry);
		if (db->nqueues > 0 || db->create_body != NULL)
			continue;
		delivery_db_free(d, db);
	}
}

/* Re-arms an open batch's flush timer when flush_interval got shorter. */
static void
delivery_queue_reconfigure(struct delivery_queue *dq,
    const struct conf_target *old, bool moved)
{
	struct delivery			*d = dq->delivery;
	const struct conf_target	*c = d->conf;
	struct queue			*q = dq->queue;

	free(dq->write_url);
	dq->write_url = endpoint_write_url(d->base_url, c->api == API_V2,
	    c->org, queue_database(q), queue_retention_policy(q));
	if (moved)
		dq->db->may_create = true;	/* a new server: may lack it */
	if (queue_set_limits(q, c->batch_size, c->batch_bytes))
		evtimer_del(dq->ev_flush);
	else if (evtimer_pending(dq->ev_flush, NULL) &&
	    c->flush_interval_ms < old->flush_interval_ms)
		delivery_arm_flush(dq);
}

void
delivery_reconfigure(struct delivery *d, const struct conf_target *conf)
{
	const struct conf_target	*old = d->conf;
	struct delivery_queue		*dq;
	bool				 moved;

	moved = strcmp(old->url, conf->url) != 0;
	d->conf = conf;
	delivery_setup(d);
	TAILQ_FOREACH(dq, &d->queues, entry)
		delivery_queue_reconfigure(dq, old, moved);
	delivery_wake_all(d);
	delivery_pump(d);
}

/* flush_interval and a random step of flush_jitter from now. */
static void
delivery_arm_flush(struct delivery_queue *dq)
{
	struct delivery	*d = dq->delivery;
	unsigned	 k = d->nflush > 1 ? (unsigned)random() % d->nflush : 0;

	evtimer_add(dq->ev_flush, d->flush_tv[k]);
}

void
delivery_opened(struct delivery_queue *dq)
{
	/* a due batch, if any, was closed: this one has its own time */
	dq->flush_due = false;
	delivery_arm_flush(dq);
}

void
delivery_ready(struct delivery_queue *dq)
{
	if (dq->waking || dq->nwrites >= dq->delivery->conf->max_connections ||
	    !queue_ready(dq->queue))
		return;
	delivery_wake(dq);
	delivery_pump(dq->delivery);
}

static void delivery_write_done_cb(const struct sender_result *, void *);
static void delivery_create_done_cb(const struct sender_result *, void *);

static void
delivery_send(struct delivery_queue *dq)
{
	struct delivery		*d = dq->delivery;
	struct batch		*b = queue_take(dq->queue);
	struct delivery_write	*w = xcalloc(1, sizeof(*w));
	struct sender_body	 body = {
		.content_type = "text/plain; charset=utf-8",
		.gzip = d->conf->gzip,
	};

	if (body.gzip)
		body.data = batch_gzip(b, &body.len);
	else {
		body.data = batch_body(b);
		body.len = b->bytes;
	}
	w->queue = dq;
	w->batch = b;
	TAILQ_INSERT_TAIL(&dq->writes, w, entry);
	dq->nwrites++;
	queue_set_state(dq, QUEUE_SENDING);
	d->inflight_bytes += b->bytes;
	d->inflight_points += b->points;
	d->inflight++;
	d->stats->requests++;
	d->stats->isolation_requests += b->isolating;
	if (log_enabled(LOG_LEVEL_DEBUG))
		log_debug("delivery: target %s db=%s: sending %zu points, "
		    "%zu bytes%s", d->conf->name, delivery_qname(dq),
		    b->points, body.len, body.gzip ? " gzip" : "");
	sender_post(d->sender, &d->opts, dq->write_url, &body,
	    delivery_write_done_cb, w);
}

/* True if the queue's next batch may go while its writes run. */
static bool
delivery_may_overtake(struct delivery_queue *dq)
{
	struct batch		*next = queue_next(dq->queue);
	struct batch		*running[DELIVERY_QUEUE_WRITES_MAX];
	struct delivery_write	*w;
	size_t			 n = 0;

	if (dq->nwrites >= dq->delivery->conf->max_connections ||
	    dq->nwrites >= DELIVERY_QUEUE_WRITES_MAX)
		return false;
	if (next == dq->behind)
		return false;
	TAILQ_FOREACH(w, &dq->writes, entry)
		running[n++] = w->batch;
	if (!batch_must_follow(next, running, n))
		return true;
	dq->behind = next;
	return false;
}

static bool
delivery_can_send(struct delivery_queue *dq)
{
	if (dq->state != QUEUE_IDLE && dq->state != QUEUE_SENDING)
		return false;
	if (dq->db->create_body != NULL || !queue_ready(dq->queue))
		return false;
	return dq->nwrites == 0 || delivery_may_overtake(dq);
}

/*
 * Starts as many sends as the connection limit allows, from the queues
 * woken first (round-robin: a queue that sent is woken again by its
 * answer, behind the others); nothing while the target backs off, one
 * probe at a time after that.  A queue that cannot send leaves the wake
 * list: what blocks it (its request, its retry wait, a CREATE) wakes it
 * when it ends.
 */
static void
delivery_pump(struct delivery *d)
{
	struct delivery_queue	*dq;
	size_t			 limit;

	if (evtimer_pending(d->ev_retry, NULL))
		return;
	limit = d->attempts > 0 ? 1 : d->conf->max_connections;
	while (d->inflight < limit && (dq = TAILQ_FIRST(&d->wake)) != NULL) {
		delivery_unwake(dq);
		delivery_seal_due(dq);
		if (!delivery_can_send(dq))
			continue;
		delivery_send(dq);
		/* its next batch may go too, after the other queues' turn */
		if (queue_ready(dq->queue))
			delivery_wake(dq);
	}
}

/* The row of `status` among the per-status counts. */
static uint64_t *
delivery_status_counter(struct target_stats *s, long status)
{
	switch (status) {
	case 200:
		return &s->http_200;
	case 204:
		return &s->http_204;
	case 400:
		return &s->http_400;
	case 404:
		return &s->http_404;
	case 413:
		return &s->http_413;
	case 429:
		return &s->http_429;
	case 500:
		return &s->http_500;
	case 503:
		return &s->http_503;
	default:
		return &s->http_other;
	}
}

static void
delivery_count_status(struct delivery *d, const struct sender_result *res)
{
	struct target_stats	*s = d->stats;

	if (res->status == 0) {
		s->http_errors++;
		return;
	}
	if (res->status < 300)
		s->http_2xx++;
	else if (res->status < 500)
		s->http_4xx++;
	else
		s->http_5xx++;
	(*delivery_status_counter(s, res->status))++;
}

static void
delivery_note_error(struct delivery *d, const struct sender_result *res)
{
	struct target_stats	*s = d->stats;
	size_t			 len = res->body_len;

	s->last_error_time = time(NULL);
	s->last_error_cleared = 0;
	while (len > 0 && (res->body[len - 1] == '\n' ||
	    res->body[len - 1] == '\r'))
		len--;
	if (res->status == 0)
		snprintf(s->last_error, sizeof(s->last_error), "%s",
		    res->error);
	else
		snprintf(s->last_error, sizeof(s->last_error),
		    "HTTP %ld %.*s", res->status, (int)len, res->body);
}

/* Adds what the operator should know to the last error. */
static void
delivery_note_hint(struct delivery *d, const char *hint)
{
	char	*e = d->stats->last_error;
	size_t	 len = strlen(e);

	snprintf(e + len, sizeof(d->stats->last_error) - len, "%s", hint);
}

/*
 * The server's Retry-After as a floor for the next wait, capped at
 * max(retry_max, 5 min): a server asking for hours must not stall us.
 */
static uint64_t
delivery_retry_after(const struct conf_target *c,
    const struct sender_result *res)
{
	uint64_t	 cap = c->retry_max_ms;

	if (cap < DELIVERY_RETRY_AFTER_MAX_MS)
		cap = DELIVERY_RETRY_AFTER_MAX_MS;
	return res->retry_after_ms < cap ? res->retry_after_ms : cap;
}

/* A configuration problem: this queue alone retries at retry_max. */
static void
delivery_retry_slowly(struct delivery_queue *dq,
    const struct sender_result *res)
{
	struct delivery			*d = dq->delivery;
	const struct conf_target	*c = d->conf;
	uint64_t			 ms;

	dq->attempts++;
	d->stats->retries++;
	ms = delivery_retry_after(c, res);
	if (ms < c->retry_max_ms)
		ms = c->retry_max_ms;
	log_warnx_rl(&dq->rl_config, "delivery: target %s db=%s: "
	    "configuration problem: %s; data kept, retry in %.1fs", c->name,
	    delivery_qname(dq), log_esc(d->stats->last_error),
	    (double)ms / 1000);
	queue_set_state(dq, QUEUE_FAILING);
	loop_timer_add(dq->ev_retry, ms);
}

/*
 * A transient failure: the whole target waits, with exponential backoff
 * and full jitter (backoff.c says why), after the server's Retry-After.
 */
static void
delivery_backoff(struct delivery_queue *dq, const struct sender_result *res)
{
	struct delivery			*d = dq->delivery;
	const struct conf_target	*c = d->conf;
	uint64_t			 ms;
	uint64_t			 floor = delivery_retry_after(c, res);

	d->attempts++;
	d->stats->retries++;
	ms = backoff_delay(d->attempts - 1, c->retry_initial_ms,
	    c->retry_max_ms, floor, (uint64_t)random());
	log_warnx_rl(&d->rl_retry, "delivery: target %s db=%s: %s, retry in "
	    "%.3fs", c->name, delivery_qname(dq),
	    log_esc(d->stats->last_error), (double)ms / 1000);
	/* a later failure of a parallel request restarts the wait */
	loop_timer_add(d->ev_retry, ms);
}

/* The server answered about the data itself: healthy again. */
static void
delivery_recovered(struct delivery_queue *dq)
{
	struct delivery	*d = dq->delivery;

	if (d->attempts > 0)
		log_info("delivery: target %s: delivering again after %u "
		    "failures", d->conf->name, d->attempts);
	else if (dq->attempts > 0)
		log_info("delivery: target %s db=%s: delivering again",
		    d->conf->name, delivery_qname(dq));
	d->attempts = 0;
	dq->attempts = 0;
}

/* Some of the batch's points were stored. */
static void
delivery_stored(struct delivery_queue *dq)
{
	struct delivery	*d = dq->delivery;

	d->stats->batches_written++;
	d->stats->last_success = time(NULL);
	/* the last error is history now, though its text stays */
	if (d->stats->last_error_time != 0 && d->stats->last_error_cleared == 0)
		d->stats->last_error_cleared = d->stats->last_success;
	/* the database exists now: a later 404 means it was dropped */
	dq->db->may_create = true;
	delivery_recovered(dq);
}

/*
 * The server refused points for good: log who sent them (once per
 * batch, rate-limited) so the application at fault is found.
 */
static void
delivery_log_refused(struct delivery_queue *dq, size_t dropped, size_t of,
    const struct blame *bl)
{
	struct delivery	*d = dq->delivery;
	char		 who[BLAME_EXCERPT + 160];

	blame_describe(bl, who, sizeof(who));
	log_warnx_rl(&d->rl, "delivery: target %s db=%s: server refused %zu "
	    "of %zu points, dropped: %s; first from %s", d->conf->name,
	    delivery_qname(dq), dropped, of, log_esc(d->stats->last_error),
	    who);
}

/*
 * A field type conflict names the type the field has: remember it, so
 * later points giving it another type are refused at the socket rather
 * than sent (and refused) again; blame the points it names.
 */
static void
delivery_learn_conflict(struct delivery_queue *dq, struct batch *b,
    const struct sender_result *res, size_t dropped, struct blame *bl)
{
	struct response_conflict	 c;
	int64_t				 expires;
	size_t				 i;

	memset(bl, 0, sizeof(*bl));
	if (!response_type_conflict(res->body, res->body_len, &c))
		return;
	blame_conflict(b, &c, dropped, bl);
	/* the type holds in the shards of the points it refused */
	expires = stamp_now() + DELIVERY_KNOWN_TYPE_NS;
	for (i = 0; i < bl->ntimes; i++)
		queue_learn_type(dq->queue, c.hash, bl->times[i], c.existing,
		    expires);
}

/*
 * A partial write: the server stored all but the points it says it
 * dropped, which count as refused; never resent.
 */
static void
delivery_rejected(struct delivery_queue *dq, struct batch *b,
    const struct sender_result *res)
{
	struct delivery	*d = dq->delivery;
	struct blame	 bl;
	size_t		 dropped;

	/* a cut-off message may not name every unparsable line */
	if (!response_dropped(res->body, res->body_len, &dropped) ||
	    dropped > b->points || res->body_truncated)
		dropped = b->points;
	if (dropped < b->points)
		delivery_stored(dq);
	else
		delivery_recovered(dq);
	delivery_learn_conflict(dq, b, res, dropped, &bl);
	delivery_log_refused(dq, dropped, b->points, &bl);
	/*
	 * Points the answer does not name (a count only, e.g. beyond the
	 * retention policy) are charged in order: every listener's total
	 * stays exact, though the server alone knows whose they were.
	 */
	batch_settle(b, ORIGIN_DROPPED_SERVER, dropped - bl.points);
	d->ops->release(d->ops_arg, b, dropped, ORIGIN_WRITTEN);
}

/*
 * Halves `b` and puts both halves back at the head of the queue, to be
 * sent again at once; false if `b` is a single point.
 */
static bool
delivery_halve(struct delivery_queue *dq, struct batch *b, const char *why)
{
	struct batch	*second = batch_split(b);

	if (second == NULL)
		return false;
	log_debug("delivery: target %s db=%s: %s, split into %zu + %zu "
	    "points", dq->delivery->conf->name, delivery_qname(dq), why,
	    b->points, second->points);
	second->isolating = b->isolating;
	queue_putback(dq->queue, second);
	queue_putback(dq->queue, b);
	return true;
}

/*
 * The server refused a whole request for the sake of some of its points
 * and stored nothing.  Bisect: both halves go back to the head of the
 * queue and are sent at once, again and again, until the offending
 * points stand alone and are dropped alone.  A batch with k bad points
 * among n costs at most about 2 k log2(n) extra requests; a half that
 * was stored is never sent again.
 */
static void
delivery_isolate(struct delivery_queue *dq, struct batch *b)
{
	struct delivery	*d = dq->delivery;
	struct blame	 bl;

	delivery_recovered(dq);
	b->isolating = true;
	if (delivery_halve(dq, b, "refused whole, isolating"))
		return;
	blame_all(b, &bl);
	delivery_log_refused(dq, b->points, b->points, &bl);
	d->ops->release(d->ops_arg, b, 0, ORIGIN_DROPPED_SERVER);
}

/* 413: halves until they fit; a single point too large is dropped. */
static void
delivery_split(struct delivery_queue *dq, struct batch *b)
{
	struct delivery	*d = dq->delivery;

	delivery_recovered(dq);
	if (delivery_halve(dq, b, "413"))
		return;
	log_warnx_rl(&d->rl, "delivery: target %s db=%s: a single point of "
	    "%zu bytes is too large for the server, dropped", d->conf->name,
	    delivery_qname(dq), b->bytes);
	d->ops->release(d->ops_arg, b, 0, ORIGIN_DROPPED_TOO_LARGE);
}

static void
delivery_create_database(struct delivery_queue *dq)
{
	struct delivery		*d = dq->delivery;
	struct delivery_db	*db = dq->db;
	struct sender_body	 body = {
		.content_type = "application/x-www-form-urlencoded",
	};

	db->create_body = endpoint_query_body("CREATE DATABASE", db->name);
	body.data = db->create_body;
	body.len = strlen(db->create_body);
	d->inflight++;
	d->stats->requests++;
	log_info("delivery: target %s: creating database \"%s\"",
	    d->conf->name, log_esc(db->name));
	sender_post(d->sender, &d->opts, d->query_url, &body,
	    delivery_create_done_cb, dq);
}

/* A write answered "database not found". */
static void
delivery_missing_db(struct delivery_queue *dq,
    const struct sender_result *res)
{
	struct delivery		*d = dq->delivery;
	struct delivery_db	*db = dq->db;

	if (db->create_body != NULL) {
		/* another queue's CREATE runs: wait for it */
		queue_set_state(dq, QUEUE_CREATING);
		return;
	}
	if (!db->may_create && db->create_after != 0 &&
	    stamp_now() / 1000000 >= db->create_after) {
		db->may_create = true;	/* a refused CREATE may be retried */
		db->create_after = 0;
	}
	if (d->conf->create_database && d->conf->api == API_V1 &&
	    db->may_create) {
		queue_set_state(dq, QUEUE_CREATING);
		delivery_create_database(dq);
		return;
	}
	if (!d->conf->create_database)
		delivery_note_hint(d, " (create_database = false)");
	else if (d->conf->api == API_V2)
		delivery_note_hint(d, " (api = v2: create the bucket)");
	delivery_retry_slowly(dq, res);
}

/* The CREATE of `db` ended: the queues that waited for it may go. */
static void
delivery_created(struct delivery *d, struct delivery_db *db)
{
	struct delivery_queue	*dq;

	free(db->create_body);
	db->create_body = NULL;
	TAILQ_FOREACH(dq, &d->queues, entry) {
		if (dq->db == db && dq->state == QUEUE_CREATING)
			queue_resume(dq);
		delivery_wake(dq);
	}
}

static void
delivery_create_done_cb(const struct sender_result *res, void *arg)
{
	struct delivery_queue	*dq = arg;
	struct delivery		*d = dq->delivery;
	struct delivery_db	*db = dq->db;

	d->inflight--;
	d->ops->settled(d->ops_arg);	/* deferred: runs after what follows */
	delivery_count_status(d, res);
	delivery_created(d, db);
	if (response_query_ok(res->status, res->body, res->body_len)) {
		d->stats->databases_created++;
		db->may_create = false;
		delivery_pump(d);
		return;
	}
	d->stats->create_failures++;
	delivery_note_error(d, res);
	delivery_note_hint(d, " (CREATE DATABASE failed)");
	/* once per database and retry_max, however many queues wait on it */
	db->may_create = false;
	db->create_after = stamp_now() / 1000000 +
	    (int64_t)d->conf->retry_max_ms;
	/*
	 * Refused (an answer): keep the data, try the CREATE again at
	 * retry_max.  No answer at all: an ordinary backoff.
	 */
	if (res->status != 0 && res->status < 500)
		delivery_retry_slowly(dq, res);
	else
		delivery_backoff(dq, res);
	delivery_pump(d);
}

/* Acts on the answer to a write of `b`, which delivery holds. */
static void
delivery_answered(struct delivery_queue *dq, struct batch *b,
    const struct sender_result *res)
{
	struct delivery		*d = dq->delivery;
	enum response_action	 action;

	action = response_classify(res->status, res->body, res->body_len);
	if (action != RESPONSE_DONE)
		delivery_note_error(d, res);
	switch (action) {
	case RESPONSE_DONE:
		delivery_stored(dq);
		d->ops->release(d->ops_arg, b, 0, ORIGIN_WRITTEN);
		break;
	case RESPONSE_DROP:
		delivery_rejected(dq, b, res);
		break;
	case RESPONSE_ISOLATE:
		delivery_isolate(dq, b);
		break;
	case RESPONSE_SPLIT:
		delivery_split(dq, b);
		break;
	case RESPONSE_CREATE_DB:
		queue_putback(dq->queue, b);
		delivery_missing_db(dq, res);
		break;
	case RESPONSE_CONFIG:
		queue_putback(dq->queue, b);
		delivery_retry_slowly(dq, res);
		break;
	case RESPONSE_RETRY:
		queue_putback(dq->queue, b);
		delivery_backoff(dq, res);
		break;
	}
}

static void
delivery_write_done_cb(const struct sender_result *res, void *arg)
{
	struct delivery_write	*w = arg;
	struct delivery_queue	*dq = w->queue;
	struct delivery		*d = dq->delivery;
	struct batch		*b = w->batch;

	TAILQ_REMOVE(&dq->writes, w, entry);
	dq->nwrites--;
	dq->behind = NULL;
	free(w);
	if (dq->state == QUEUE_SENDING)
		queue_resume(dq);
	d->inflight_bytes -= b->bytes;
	d->inflight_points -= b->points;
	d->inflight--;
	delivery_count_status(d, res);
	delivery_answered(dq, b, res);
	delivery_flush_late(dq);
	delivery_wake(dq);
	delivery_pump(d);
	d->ops->settled(d->ops_arg);
}

void
delivery_flush(struct delivery *d)
{
	struct delivery_queue	*dq;

	TAILQ_FOREACH(dq, &d->queues, entry) {
		queue_seal(dq->queue);
		evtimer_del(dq->ev_flush);
		dq->flush_due = false;
	}
	delivery_wake_all(d);
	delivery_pump(d);
}

void
delivery_drain(struct delivery *d)
{
	struct delivery_queue	*dq;

	evtimer_del(d->ev_retry);
	TAILQ_FOREACH(dq, &d->queues, entry) {
		evtimer_del(dq->ev_retry);
		if (dq->state == QUEUE_FAILING)
			queue_resume(dq);
	}
	delivery_flush(d);
}

bool
delivery_flushed(const struct delivery *d)
{
	const struct delivery_queue	*dq;

	if (evtimer_pending(d->ev_retry, NULL))
		return true;	/* the server failed: backing off */
	TAILQ_FOREACH(dq, &d->queues, entry) {
		if (dq->state == QUEUE_FAILING)
			continue;	/* failed: waiting for its retry */
		if (queue_points(dq->queue) > 0 || dq->nwrites > 0 ||
		    dq->db->create_body != NULL)
			return false;
	}
	return true;
}

void
delivery_gauges(const struct delivery *d, struct delivery_gauges *g)
{
	const struct delivery_admin	*a;

	g->writes = d->inflight;
	g->requests = d->inflight;
	TAILQ_FOREACH(a, &d->admins, entry)
		g->requests++;
	g->points = d->inflight_points;
	g->bytes = d->inflight_bytes;
	g->failing = d->failing;
	g->backing_off = evtimer_pending(d->ev_retry, NULL);
}

static void
delivery_query_done_cb(const struct sender_result *res, void *arg)
{
	struct delivery_admin	*a = arg;
	struct delivery		*d = a->delivery;

	a->cb(res, a->arg);
	delivery_admin_free(a);
	d->ops->settled(d->ops_arg);
}

void
delivery_query(struct delivery *d, const char *verb, const char *db,
    sender_done_cb cb, void *arg)
{
	struct delivery_admin	*a = xcalloc(1, sizeof(*a));
	struct sender_body	 body = {
		.content_type = "application/x-www-form-urlencoded",
	};

	a->delivery = d;
	TAILQ_INSERT_TAIL(&d->admins, a, entry);
	a->cb = cb;
	a->arg = arg;
	a->body = endpoint_query_body(verb, db);
	body.data = a->body;
	body.len = strlen(a->body);
	log_info("delivery: target %s: %s \"%s\"", d->conf->name, verb,
	    log_esc(db));
	sender_post(d->sender, &d->opts, d->query_url, &body,
	    delivery_query_done_cb, a);
}
