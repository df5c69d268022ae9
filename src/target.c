/*
 * Targets and their delivery state machine.
 *
 * Each queue has at most one request in flight, so a queue's order is
 * kept; a target runs up to max_connections requests in parallel while
 * healthy.  A transient failure (no answer, 429, 5xx) is the server's, not
 * the queue's: the whole target backs off, then probes with one request at
 * a time until one succeeds, so a dead server sees one request per backoff
 * step however many queues wait.  A configuration problem (401, 403, a
 * missing database or retention policy) belongs to its queue, which alone
 * retries at retry_max while the others flow.  A batch stays counted in
 * the target's bytes until it is delivered, rejected by the server or
 * dropped by the overflow policy.
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
#include "endpoint.h"
#include "hmap.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "origin.h"
#include "point.h"
#include "queue.h"
#include "response.h"
#include "sender.h"
#include "stamp.h"
#include "target.h"

/* Configuration problems are warned about once per this many seconds. */
#define TARGET_CONFIG_WARN_S	60
/* Empty queues unused for a whole sweep interval are freed. */
#define TARGET_SWEEP_MS		(5 * 60 * 1000)
/*
 * What buffer_size caps besides the points' bytes: each point's size and
 * origin records and its share of evbuffer slack, so that the cap bounds
 * memory rather than line protocol alone.
 */
#define TARGET_POINT_COST	16
/* drop_oldest looks for the largest queue again after this many drops. */
#define TARGET_EVICT_RESCAN	256
/* A backlog this large gives its memory back once it has drained. */
#define TARGET_RELEASE_BYTES	(16 * 1024 * 1024)
/* A field type a server reported is trusted this long (shards change). */
#define TARGET_KNOWN_TYPE_NS	(10 * 60 * 1000000000LL)
/* Retry-After is honoured up to max(retry_max, this). */
#define TARGET_RETRY_AFTER_MAX_MS	(5 * 60 * 1000)

/* A database as the target knows it: shared by its queues. */
struct target_db {
	TAILQ_ENTRY(target_db)	 entry;
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
struct target_admin {
	TAILQ_ENTRY(target_admin) entry;
	struct target		*target;
	sender_done_cb		 cb;
	void			*arg;
	char			*body;
};

/* A listener stopped reading until the target has room (block). */
struct target_waiter {
	TAILQ_ENTRY(target_waiter) entry;
	target_room_cb		 cb;
	void			*arg;
};

struct target_queue {
	TAILQ_ENTRY(target_queue) entry;
	TAILQ_ENTRY(target_queue) wake_entry;	/* may send: look at it */
	bool			 waking;	/* in the wake list */
	struct target		*target;
	struct target_db	*db;
	struct queue		*queue;
	char			*write_url;
	struct event		*ev_flush;
	struct event		*ev_retry;	/* configuration problem */
	struct batch		*inflight;
	unsigned		 attempts;	/* slow retries since success */
	bool			 used;		/* appended to since last sweep */
	bool			 flush_due;	/* open batch waits for the queue */
	struct log_ratelimit	 rl_config;
};

struct target {
	const struct conf_target *conf;
	struct event_base	*base;
	struct sender		*sender;
	struct sender_opts	 opts;
	char			*base_url;	/* url without trailing '/' */
	char			*unix_path;
	char			*query_url;
	TAILQ_HEAD(, target_queue) queues;
	/*
	 * Queues something happened to that may let them send (a batch
	 * closed, an answer came, a retry wait ended), oldest first: the
	 * pump looks at these only, not at every queue.
	 */
	TAILQ_HEAD(, target_queue) wake;
	TAILQ_HEAD(, target_db)	 dbs;
	struct hmap		*queue_index;	/* by (database, rp) */
	struct hmap		*db_index;	/* by name */
	size_t			 nqueues;
	struct target_queue	*last;		/* routing cache */
	size_t			 inflight;	/* writes and CREATEs */
	struct event		*ev_retry;	/* target-wide backoff */
	unsigned		 attempts;	/* transient failures in a row */
	struct log_ratelimit	 rl_retry;
	size_t			 bytes;
	size_t			 inflight_bytes;	/* of those */
	size_t			 inflight_points;
	size_t			 peak_bytes;	/* since memory was released */
	struct target_queue	*evict;		/* drop_oldest's largest queue */
	size_t			 evict_until;	/* while it holds more than this */
	unsigned		 evictions;	/* since evict was chosen */
	size_t			 points;
	struct event		*ev_room;
	struct event		*ev_settled;	/* deferred settled_cb */
	target_settled_cb	 settled_cb;
	void			*settled_arg;
	struct event		*ev_sweep;	/* frees idle empty queues */
	TAILQ_HEAD(, target_waiter) waiters;	/* for room (block) */
	TAILQ_HEAD(, target_admin) admins;	/* admin statements */
	struct target_stats	 stats;
	struct log_ratelimit	 rl;
};

static void target_pump(struct target *);

/* A queue's database for a log line: a client chose it (log_escape()). */
static const char *
target_qname(const struct target_queue *tq)
{
	return log_esc(queue_database(tq->queue));
}

/* The queue may be able to send now: the next pump looks at it. */
static void
target_wake(struct target_queue *tq)
{
	if (tq->waking)
		return;
	tq->waking = true;
	TAILQ_INSERT_TAIL(&tq->target->wake, tq, wake_entry);
}

/* Something changed for every queue (rare: flush, reload, a CREATE). */
static void
target_wake_all(struct target *t)
{
	struct target_queue	*tq;

	TAILQ_FOREACH(tq, &t->queues, entry)
		target_wake(tq);
}

static void
target_unwake(struct target_queue *tq)
{
	if (!tq->waking)
		return;
	tq->waking = false;
	TAILQ_REMOVE(&tq->target->wake, tq, wake_entry);
}

static void target_admin_free(struct target_admin *);
static void target_arm_flush(struct target_queue *);

static void
target_timer_add(struct event *ev, uint64_t ms)
{
	struct timeval	 tv = stamp_timeval(ms);

	evtimer_add(ev, &tv);
}

static void
target_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct target_queue	*tq = arg;

	/*
	 * A batch of this queue still waits to be sent (or is in flight):
	 * the open one keeps filling and leaves right after it, rather than
	 * as one more small batch.  Many databases with a few points each
	 * then cost far fewer requests.  The timer runs again in case
	 * nothing else closes the batch.
	 */
	if (tq->inflight != NULL || queue_ready(tq->queue)) {
		tq->flush_due = true;
		target_arm_flush(tq);
		return;
	}
	tq->flush_due = false;
	queue_seal(tq->queue);
	target_wake(tq);
	target_pump(tq->target);
}

/* Its request is over: a batch whose flush came meanwhile goes now. */
static void
target_flush_late(struct target_queue *tq)
{
	if (!tq->flush_due || queue_ready(tq->queue))
		return;
	tq->flush_due = false;
	evtimer_del(tq->ev_flush);
	queue_seal(tq->queue);
}

static void
target_queue_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct target_queue	*tq = arg;

	target_wake(tq);
	target_pump(tq->target);
}

static void
target_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	target_pump(arg);
}

static void
target_settled_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct target	*t = arg;

	if (t->settled_cb != NULL)
		t->settled_cb(t, t->settled_arg);
}

/*
 * Points left memory or a request ended: whoever waits for the target to
 * empty or go quiet looks again, once per loop turn however many changed.
 */
static void
target_settled(struct target *t)
{
	if (t->settled_cb != NULL)
		event_active(t->ev_settled, 0, 0);
}

static void
target_room_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct target		*t = arg;
	struct target_waiter	*w;

	/* each waiter is called once; it may wait again from its callback */
	TAILQ_HEAD(, target_waiter) ready = TAILQ_HEAD_INITIALIZER(ready);
	TAILQ_CONCAT(&ready, &t->waiters, entry);
	while ((w = TAILQ_FIRST(&ready)) != NULL) {
		TAILQ_REMOVE(&ready, w, entry);
		w->cb(t, w->arg);
		free(w);
	}
}

/* A (database, retention policy) sought in the queue index. */
struct target_queue_key {
	const char	*db;
	const char	*rp;
};

static uint64_t
target_queue_hash(const char *db, const char *rp)
{
	return hmap_hash_str(hmap_hash_str(0, db), rp);
}

static bool
target_queue_is(const void *item, const void *key)
{
	const struct target_queue	*tq = item;
	const struct target_queue_key	*k = key;

	return strcmp(queue_database(tq->queue), k->db) == 0 &&
	    strcmp(queue_retention_policy(tq->queue), k->rp) == 0;
}

static bool
target_db_is(const void *item, const void *key)
{
	return strcmp(((const struct target_db *)item)->name, key) == 0;
}

static struct target_db *
target_db_get(struct target *t, const char *name)
{
	uint64_t		 hash = hmap_hash_str(0, name);
	struct target_db	*db;

	if ((db = hmap_find(t->db_index, hash, target_db_is, name)) != NULL)
		return db;
	db = xcalloc(1, sizeof(*db));
	db->name = xstrdup(name);
	db->may_create = true;
	TAILQ_INSERT_TAIL(&t->dbs, db, entry);
	hmap_insert(t->db_index, hash, db);
	return db;
}

static void
target_db_free(struct target *t, struct target_db *db)
{
	TAILQ_REMOVE(&t->dbs, db, entry);
	hmap_remove(t->db_index, hmap_hash_str(0, db->name), db);
	free(db->name);
	free(db->create_body);
	free(db);
}

static struct target_queue *
target_queue_new(struct target *t, const char *db, const char *rp)
{
	struct target_queue	*tq = xcalloc(1, sizeof(*tq));
	struct log_ratelimit	 rlc = LOG_RATELIMIT_INIT(TARGET_CONFIG_WARN_S,
				    1);

	tq->target = t;
	tq->db = target_db_get(t, db);
	tq->db->nqueues++;
	tq->queue = queue_new(db, rp, t->conf->batch_size,
	    t->conf->batch_bytes);
	tq->write_url = endpoint_write_url(t->base_url,
	    t->conf->api == API_V2, t->conf->org, db, rp);
	tq->rl_config = rlc;
	tq->ev_flush = evtimer_new(t->base, target_flush_cb, tq);
	tq->ev_retry = evtimer_new(t->base, target_queue_retry_cb, tq);
	if (tq->ev_flush == NULL || tq->ev_retry == NULL)
		fatalx("target %s: evtimer_new failed", t->conf->name);
	loop_set_priority(tq->ev_flush, LOOP_PRI_DELIVERY);	/* loop.c */
	loop_set_priority(tq->ev_retry, LOOP_PRI_DELIVERY);
	TAILQ_INSERT_TAIL(&t->queues, tq, entry);
	hmap_insert(t->queue_index, target_queue_hash(db, rp), tq);
	t->nqueues++;
	log_debug("target %s: new queue db=%s rp=%s", t->conf->name,
	    log_esc(db), log_esc(rp));
	return tq;
}

static void
target_queue_free(struct target_queue *tq)
{
	batch_free(tq->inflight);
	queue_free(tq->queue);
	event_free(tq->ev_flush);
	event_free(tq->ev_retry);
	free(tq->write_url);
	free(tq);
}

static void
target_setup_opts(struct target *t)
{
	const struct conf_target	*c = t->conf;
	struct sender_opts		*o = &t->opts;

	o->unix_path = t->unix_path;
	o->username = c->username;
	o->password = c->password;
	o->token = c->token;
	o->tls_ca = c->tls_ca;
	o->tls_cert = c->tls_cert;
	o->tls_key = c->tls_key;
	o->tls_verify = c->tls_verify;
	o->timeout_ms = (long)c->timeout_ms;
}

static bool
target_queue_idle(const struct target_queue *tq)
{
	/* a CREATE in flight holds a queue of its database as callback arg */
	return !tq->used && queue_points(tq->queue) == 0 &&
	    tq->inflight == NULL && tq->db->create_body == NULL &&
	    !evtimer_pending(tq->ev_flush, NULL) &&
	    !evtimer_pending(tq->ev_retry, NULL);
}

/* Forgets databases no queue uses any more (and no CREATE runs for). */
static void
target_sweep_dbs(struct target *t)
{
	struct target_db	*db, *next;

	for (db = TAILQ_FIRST(&t->dbs); db != NULL; db = next) {
		next = TAILQ_NEXT(db, entry);
		if (db->nqueues > 0 || db->create_body != NULL)
			continue;
		target_db_free(t, db);
	}
}

void
target_sweep(struct target *t)
{
	struct target_queue	*tq, *next;

	for (tq = TAILQ_FIRST(&t->queues); tq != NULL; tq = next) {
		next = TAILQ_NEXT(tq, entry);
		if (!target_queue_idle(tq)) {
			tq->used = false;
			continue;
		}
		log_debug("target %s: freeing idle queue db=%s rp=%s",
		    t->conf->name, target_qname(tq),
		    log_esc(queue_retention_policy(tq->queue)));
		if (t->last == tq)
			t->last = NULL;
		if (t->evict == tq)
			t->evict = NULL;
		target_unwake(tq);
		TAILQ_REMOVE(&t->queues, tq, entry);
		hmap_remove(t->queue_index, target_queue_hash(
		    queue_database(tq->queue), queue_retention_policy(tq->queue)),
		    tq);
		t->nqueues--;
		tq->db->nqueues--;
		target_queue_free(tq);
	}
	target_sweep_dbs(t);
}

static void
target_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	target_sweep(arg);
}

struct target *
target_new(struct event_base *base, struct sender *sender,
    const struct conf_target *conf)
{
	struct target		*t = xcalloc(1, sizeof(*t));
	struct log_ratelimit	 rl = LOG_RATELIMIT_INIT(10, 3);
	struct log_ratelimit	 rlr = LOG_RATELIMIT_INIT(10, 1);

	t->conf = conf;
	t->rl_retry = rlr;
	t->base = base;
	t->sender = sender;
	t->rl = rl;
	t->base_url = endpoint_base(conf->url, &t->unix_path);
	t->query_url = endpoint_query_url(t->base_url);
	target_setup_opts(t);
	TAILQ_INIT(&t->queues);
	TAILQ_INIT(&t->wake);
	TAILQ_INIT(&t->waiters);
	TAILQ_INIT(&t->admins);
	TAILQ_INIT(&t->dbs);
	t->queue_index = hmap_new();
	t->db_index = hmap_new();
	t->ev_retry = evtimer_new(base, target_retry_cb, t);
	t->ev_sweep = event_new(base, -1, EV_PERSIST, target_sweep_cb, t);
	t->ev_settled = event_new(base, -1, 0, target_settled_event_cb, t);
	if ((t->ev_room = event_new(base, -1, 0, target_room_event_cb, t)) ==
	    NULL || t->ev_retry == NULL || t->ev_sweep == NULL ||
	    t->ev_settled == NULL)
		fatalx("target %s: event_new failed", conf->name);
	loop_set_priority(t->ev_retry, LOOP_PRI_DELIVERY);	/* loop.c */
	target_timer_add(t->ev_sweep, TARGET_SWEEP_MS);
	/* conf refuses URLs with user:password@, so this logs no secret */
	log_info("target %s: %s, api %s%s%s", conf->name, conf->url,
	    conf->api == API_V2 ? "v2" : "v1", conf->gzip ? ", gzip" : "",
	    conf->token[0] ? ", token auth" :
	    conf->username[0] ? ", basic auth" : "");
	return t;
}

/* Re-arms an open batch's flush timer when flush_interval got shorter. */
static void
target_queue_reconfigure(struct target_queue *tq,
    const struct conf_target *old, bool moved)
{
	struct target			*t = tq->target;
	const struct conf_target	*c = t->conf;
	struct queue			*q = tq->queue;

	free(tq->write_url);
	tq->write_url = endpoint_write_url(t->base_url, c->api == API_V2,
	    c->org, queue_database(q), queue_retention_policy(q));
	if (moved)
		tq->db->may_create = true;	/* a new server: may lack it */
	if (queue_set_limits(q, c->batch_size, c->batch_bytes))
		evtimer_del(tq->ev_flush);
	else if (evtimer_pending(tq->ev_flush, NULL) &&
	    c->flush_interval_ms < old->flush_interval_ms)
		target_arm_flush(tq);
}

void
target_reconfigure(struct target *t, const struct conf_target *conf)
{
	const struct conf_target	*old = t->conf;
	struct target_queue		*tq;
	bool				 moved;

	moved = strcmp(old->url, conf->url) != 0;
	t->conf = conf;
	free(t->base_url);
	free(t->unix_path);
	free(t->query_url);
	t->base_url = endpoint_base(conf->url, &t->unix_path);
	t->query_url = endpoint_query_url(t->base_url);
	target_setup_opts(t);
	TAILQ_FOREACH(tq, &t->queues, entry)
		target_queue_reconfigure(tq, old, moved);
	/* paused listeners check again: buffer_size or overflow may differ */
	if (!TAILQ_EMPTY(&t->waiters))
		event_active(t->ev_room, 0, 0);
	log_info("target %s: reconfigured: %s, api %s%s", conf->name,
	    conf->url, conf->api == API_V2 ? "v2" : "v1",
	    conf->gzip ? ", gzip" : "");
	target_wake_all(t);
	target_pump(t);
}

void
target_free(struct target *t)
{
	struct target_queue	*tq;
	struct target_db	*db;
	struct target_waiter	*w;

	if (t == NULL)
		return;
	while ((tq = TAILQ_FIRST(&t->queues)) != NULL) {
		TAILQ_REMOVE(&t->queues, tq, entry);
		/* the points still held leave the listeners' books here */
		t->stats.points_dropped_removed += queue_settle(tq->queue,
		    ORIGIN_DROPPED_REMOVED);
		if (tq->inflight != NULL)
			t->stats.points_dropped_removed += batch_settle(
			    tq->inflight, ORIGIN_DROPPED_REMOVED,
			    tq->inflight->points);
		target_queue_free(tq);
	}
	while ((db = TAILQ_FIRST(&t->dbs)) != NULL)
		target_db_free(t, db);
	hmap_free(t->queue_index);
	hmap_free(t->db_index);
	event_free(t->ev_room);
	event_free(t->ev_settled);
	event_free(t->ev_sweep);
	/* the sender, freed first, aborted them without their callbacks */
	while (!TAILQ_EMPTY(&t->admins))
		target_admin_free(TAILQ_FIRST(&t->admins));
	while ((w = TAILQ_FIRST(&t->waiters)) != NULL) {
		TAILQ_REMOVE(&t->waiters, w, entry);
		free(w);
	}
	event_free(t->ev_retry);
	free(t->base_url);
	free(t->unix_path);
	free(t->query_url);
	free(t);
}

const char *
target_name(const struct target *t)
{
	return t->conf->name;
}

const struct conf_target *
target_conf(const struct target *t)
{
	return t->conf;
}

/* The queue of (db, rp): the last one used, else from the index. */
static struct target_queue *
target_find_queue(struct target *t, const char *db, const char *rp)
{
	struct target_queue_key	 k = { db, rp };
	struct target_queue	*tq = t->last;

	if (tq != NULL && target_queue_is(tq, &k))
		return tq;
	tq = hmap_find(t->queue_index, target_queue_hash(db, rp),
	    target_queue_is, &k);
	if (tq != NULL)
		t->last = tq;
	return tq;
}

/* What buffer_size caps: the points' bytes and what holding them costs. */
static size_t
target_held(const struct target *t)
{
	return t->bytes + t->points * TARGET_POINT_COST;
}

/* Bytes left memory: wake a listener waiting for room. */
static void
target_freed(struct target *t)
{
	target_settled(t);
	if (!TAILQ_EMPTY(&t->waiters) &&
	    target_held(t) < t->conf->buffer_size - t->conf->buffer_size / 4)
		event_active(t->ev_room, 0, 0);
}

/*
 * The queue holding the most unsent bytes, found by one scan and kept
 * while it still holds more than the runner-up did, so that a target
 * dropping under a long outage does not scan every queue for each point.
 */
static struct target_queue *
target_evict_from(struct target *t)
{
	struct target_queue	*tq;
	size_t			 b, second = 0;

	if (t->evict != NULL && t->evictions < TARGET_EVICT_RESCAN &&
	    queue_bytes(t->evict->queue) > t->evict_until)
		return t->evict;
	t->evict = NULL;
	TAILQ_FOREACH(tq, &t->queues, entry) {
		b = queue_bytes(tq->queue);
		if (t->evict == NULL || b > queue_bytes(t->evict->queue)) {
			if (t->evict != NULL)
				second = queue_bytes(t->evict->queue);
			t->evict = tq;
		} else if (b > second)
			second = b;
	}
	t->evict_until = second;
	t->evictions = 0;
	return t->evict;
}

/* drop_oldest: frees room from the queue holding the most bytes. */
static bool
target_make_room(struct target *t, size_t need)
{
	struct target_queue	*largest;
	size_t			 freed, cap = t->conf->buffer_size;

	/* in-flight points cannot be dropped: evict nothing in vain */
	if (t->inflight_bytes + t->inflight_points * TARGET_POINT_COST +
	    need > cap)
		return false;
	while (target_held(t) + need > cap) {
		if ((largest = target_evict_from(t)) == NULL ||
		    (freed = queue_drop_oldest(largest->queue)) == 0)
			return false;	/* all the rest is in flight */
		t->evictions++;
		t->bytes -= freed;
		t->points--;
		t->stats.points_dropped_overflow++;
	}
	return true;
}

static void
target_arm_flush(struct target_queue *tq)
{
	const struct conf_target	*c = tq->target->conf;
	uint64_t			 ms = c->flush_interval_ms;

	if (c->flush_jitter_ms > 0)
		ms += (uint64_t)random() % (c->flush_jitter_ms + 1);
	target_timer_add(tq->ev_flush, ms);
}

enum target_reject
target_append(struct target *t, const char *db, const char *rp,
    const struct point *p)
{
	struct target_queue	*tq;
	size_t			 size = p->blen + p->tlen;
	size_t			 cost = size + TARGET_POINT_COST;	/* cap */
	enum queue_fit		 fit = QUEUE_FITS;

	tq = target_find_queue(t, db, rp);
	if (tq == NULL && t->nqueues >= t->conf->max_queues) {
		t->stats.points_rejected_queues++;
		return TARGET_REJECT_QUEUES;
	}
	if (tq != NULL &&
	    (fit = queue_check(tq->queue, p, p->received)) == QUEUE_CONFLICT) {
		t->stats.points_rejected_conflict++;
		return TARGET_REJECT_CONFLICT;
	}
	/*
	 * A point larger than the whole buffer could only evict everything
	 * and still not fit.  drop_newest and block (a datagram, or past
	 * the slack) refuse when full.  Checked before a new queue exists,
	 * so a refused point leaves no empty queue behind.
	 */
	if (cost > t->conf->buffer_size ||
	    (target_held(t) + cost > t->conf->buffer_size &&
	    (t->conf->overflow != OVERFLOW_DROP_OLDEST ||
	    !target_make_room(t, cost)))) {
		/* never accepted: not a drop of the balance (target.h) */
		t->stats.points_rejected_overflow++;
		return TARGET_REJECT_OVERFLOW;
	}
	if (tq == NULL)
		tq = t->last = target_queue_new(t, db, rp);
	tq->used = true;
	t->stats.type_cuts += (fit == QUEUE_CUTS);
	t->stats.type_spills += (fit == QUEUE_SPILLS);
	if (queue_append(tq->queue, p, fit, p->received))
		target_arm_flush(tq);
	t->bytes += size;
	if (t->bytes > t->peak_bytes)
		t->peak_bytes = t->bytes;
	t->points++;
	t->stats.points_accepted++;
	origin_hold(p->origin);
	if (tq->inflight == NULL && queue_ready(tq->queue)) {
		target_wake(tq);
		target_pump(t);
	}
	return TARGET_ACCEPTED;
}

static void target_write_done_cb(const struct sender_result *, void *);
static void target_create_done_cb(const struct sender_result *, void *);

static void
target_send(struct target_queue *tq)
{
	struct target		*t = tq->target;
	struct batch		*b = queue_take(tq->queue);
	struct sender_body	 body = {
		.content_type = "text/plain; charset=utf-8",
		.gzip = t->conf->gzip,
	};

	if (body.gzip)
		body.data = batch_gzip(b, &body.len);
	else {
		body.data = batch_body(b);
		body.len = b->bytes;
	}
	tq->inflight = b;
	t->inflight_bytes += b->bytes;
	t->inflight_points += b->points;
	t->inflight++;
	t->stats.requests++;
	t->stats.isolation_requests += b->isolating;
	if (log_enabled(LOG_LEVEL_DEBUG))
		log_debug("target %s: db=%s: sending %zu points, %zu bytes%s",
		    t->conf->name, target_qname(tq), b->points,
		    body.len, body.gzip ? " gzip" : "");
	sender_post(t->sender, &t->opts, tq->write_url, &body,
	    target_write_done_cb, tq);
}

static bool
target_queue_can_send(struct target_queue *tq)
{
	return tq->inflight == NULL && tq->db->create_body == NULL &&
	    !evtimer_pending(tq->ev_retry, NULL) && queue_ready(tq->queue);
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
target_pump(struct target *t)
{
	struct target_queue	*tq;
	size_t			 limit;

	if (evtimer_pending(t->ev_retry, NULL))
		return;
	limit = t->attempts > 0 ? 1 : t->conf->max_connections;
	while (t->inflight < limit && (tq = TAILQ_FIRST(&t->wake)) != NULL) {
		target_unwake(tq);
		if (target_queue_can_send(tq))
			target_send(tq);
	}
}

/* The counter of one status: a row each in the stats. */
static uint64_t *
target_status_counter(struct target_stats *s, long status)
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
target_count_status(struct target *t, const struct sender_result *res)
{
	if (res->status == 0) {
		t->stats.http_errors++;
		return;
	}
	if (res->status < 300)
		t->stats.http_2xx++;
	else if (res->status < 500)
		t->stats.http_4xx++;
	else
		t->stats.http_5xx++;
	(*target_status_counter(&t->stats, res->status))++;
}

static void
target_note_error(struct target *t, const struct sender_result *res)
{
	size_t	 len = res->body_len;

	t->stats.last_error_time = time(NULL);
	while (len > 0 && (res->body[len - 1] == '\n' ||
	    res->body[len - 1] == '\r'))
		len--;
	if (res->status == 0)
		snprintf(t->stats.last_error, sizeof(t->stats.last_error),
		    "%s", res->error);
	else
		snprintf(t->stats.last_error, sizeof(t->stats.last_error),
		    "HTTP %ld %.*s", res->status, (int)len, res->body);
}

/* Adds what the operator should know to the last error. */
static void
target_note_hint(struct target *t, const char *hint)
{
	size_t	 len = strlen(t->stats.last_error);

	snprintf(t->stats.last_error + len, sizeof(t->stats.last_error) - len,
	    "%s", hint);
}

/*
 * The server's Retry-After as a floor for the next wait, capped at
 * max(retry_max, 5 min): a server asking for hours must not stall us.
 */
static uint64_t
target_retry_after(const struct conf_target *c,
    const struct sender_result *res)
{
	uint64_t	 cap = c->retry_max_ms;

	if (cap < TARGET_RETRY_AFTER_MAX_MS)
		cap = TARGET_RETRY_AFTER_MAX_MS;
	return res->retry_after_ms < cap ? res->retry_after_ms : cap;
}

/* A configuration problem: this queue alone retries at retry_max. */
static void
target_retry_slowly(struct target_queue *tq, const struct sender_result *res)
{
	struct target			*t = tq->target;
	const struct conf_target	*c = t->conf;
	uint64_t			 ms;

	tq->attempts++;
	t->stats.retries++;
	ms = target_retry_after(c, res);
	if (ms < c->retry_max_ms)
		ms = c->retry_max_ms;
	log_warnx_rl(&tq->rl_config, "sender: target %s db=%s: configuration "
	    "problem: %s; data kept, retry in %.1fs", c->name,
	    target_qname(tq), log_esc(t->stats.last_error),
	    (double)ms / 1000);
	target_timer_add(tq->ev_retry, ms);
}

/*
 * A transient failure: the whole target waits, with exponential backoff
 * and full jitter, never less than the server's Retry-After.
 */
static void
target_backoff(struct target_queue *tq, const struct sender_result *res)
{
	struct target			*t = tq->target;
	const struct conf_target	*c = t->conf;
	uint64_t			 ms;
	uint64_t			 floor = target_retry_after(c, res);

	t->attempts++;
	t->stats.retries++;
	ms = backoff_delay(t->attempts - 1, c->retry_initial_ms,
	    c->retry_max_ms, floor, (uint64_t)random());
	log_warnx_rl(&t->rl_retry, "sender: target %s db=%s: %s, retry in "
	    "%.3fs", c->name, target_qname(tq),
	    log_esc(t->stats.last_error),
	    (double)ms / 1000);
	/* a later failure of a parallel request restarts the wait */
	target_timer_add(t->ev_retry, ms);
}

/* The server answered about the data itself: healthy again. */
static void
target_recovered(struct target_queue *tq)
{
	struct target	*t = tq->target;

	if (t->attempts > 0)
		log_info("sender: target %s: delivering again after %u "
		    "failures", t->conf->name, t->attempts);
	else if (tq->attempts > 0)
		log_info("sender: target %s db=%s: delivering again",
		    t->conf->name, target_qname(tq));
	t->attempts = 0;
	tq->attempts = 0;
}

static void
target_delivered(struct target_queue *tq, size_t points)
{
	struct target	*t = tq->target;

	t->stats.points_written += points;
	t->stats.batches_written++;
	t->stats.last_success = time(NULL);
	/* the database exists now: a later 404 means it was dropped */
	tq->db->may_create = true;
	target_recovered(tq);
}

/*
 * Forgets a batch that leaves memory for good; its points not settled
 * yet (blame settles the ones a server named) go with `fate`.
 */
static void
target_release(struct target *t, struct batch *b, enum origin_fate fate)
{
	batch_settle(b, fate, b->points);
	t->bytes -= b->bytes;
	t->points -= b->points;
	batch_free(b);
	/* a backlog drained: return its memory rather than keep it for good */
	if (t->bytes == 0 && t->peak_bytes >= TARGET_RELEASE_BYTES) {
		t->peak_bytes = 0;
		mem_release();
	}
	target_freed(t);
}

/*
 * The server refused points for good: count them, and log who sent them
 * (once per batch, rate-limited) so the application at fault is found.
 */
static void
target_count_refused(struct target_queue *tq, size_t dropped, size_t of,
    const struct blame *bl)
{
	struct target	*t = tq->target;
	char		 who[BLAME_EXCERPT + 160];

	t->stats.points_dropped_server += dropped;
	blame_describe(bl, who, sizeof(who));
	log_warnx_rl(&t->rl, "sender: target %s db=%s: server refused %zu of "
	    "%zu points, dropped: %s; first from %s", t->conf->name,
	    target_qname(tq), dropped, of, log_esc(t->stats.last_error),
	    who);
}

/*
 * A field type conflict names the type the field has: remember it, so
 * later points giving it another type are refused at the socket rather
 * than sent (and refused) again; blame the points it names.
 */
static void
target_learn_conflict(struct target_queue *tq, struct batch *b,
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
	expires = stamp_now() + TARGET_KNOWN_TYPE_NS;
	for (i = 0; i < bl->ntimes; i++)
		queue_learn_type(tq->queue, c.hash, bl->times[i], c.existing,
		    expires);
}

/*
 * A partial write: the server stored all but the points it says it
 * dropped, which count as refused; never resent.
 */
static void
target_rejected(struct target_queue *tq, struct batch *b,
    const struct sender_result *res)
{
	struct target	*t = tq->target;
	struct blame	 bl;
	size_t		 dropped;

	/* a cut-off message may not name every unparsable line */
	if (!response_dropped(res->body, res->body_len, &dropped) ||
	    dropped > b->points || res->body_truncated)
		dropped = b->points;
	if (dropped < b->points)
		target_delivered(tq, b->points - dropped);
	else
		target_recovered(tq);
	target_learn_conflict(tq, b, res, dropped, &bl);
	target_count_refused(tq, dropped, b->points, &bl);
	/*
	 * Points the answer does not name (a count only, e.g. beyond the
	 * retention policy) are charged in order: every listener's total
	 * stays exact, though the server alone knows whose they were.
	 */
	batch_settle(b, ORIGIN_DROPPED_SERVER, dropped - bl.points);
	target_release(t, b, ORIGIN_WRITTEN);
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
target_isolate(struct target_queue *tq, struct batch *b)
{
	struct target	*t = tq->target;
	struct batch	*second = batch_split(b);
	struct blame	 bl;

	target_recovered(tq);
	if (second == NULL) {
		blame_all(b, &bl);
		target_count_refused(tq, b->points, b->points, &bl);
		target_release(t, b, ORIGIN_DROPPED_SERVER);
		return;
	}
	log_debug("sender: target %s db=%s: refused whole, isolating: %zu + "
	    "%zu points", t->conf->name, target_qname(tq), b->points,
	    second->points);
	b->isolating = second->isolating = true;
	queue_putback(tq->queue, second);
	queue_putback(tq->queue, b);
}

static void
target_split(struct target_queue *tq, struct batch *b)
{
	struct target	*t = tq->target;
	struct batch	*second = batch_split(b);

	target_recovered(tq);
	if (second == NULL) {
		log_warnx_rl(&t->rl, "sender: target %s db=%s: a single point "
		    "of %zu bytes is too large for the server, dropped",
		    t->conf->name, target_qname(tq), b->bytes);
		t->stats.points_dropped_too_large += b->points;
		target_release(t, b, ORIGIN_DROPPED_TOO_LARGE);
		return;
	}
	log_debug("sender: target %s db=%s: 413, split into %zu + %zu "
	    "points", t->conf->name, target_qname(tq), b->points,
	    second->points);
	queue_putback(tq->queue, second);
	queue_putback(tq->queue, b);
}

static void
target_create_database(struct target_queue *tq)
{
	struct target		*t = tq->target;
	struct target_db	*db = tq->db;
	struct sender_body	 body = {
		.content_type = "application/x-www-form-urlencoded",
	};

	db->create_body = endpoint_query_body("CREATE DATABASE", db->name);
	body.data = db->create_body;
	body.len = strlen(db->create_body);
	t->inflight++;
	t->stats.requests++;
	log_info("sender: target %s: creating database \"%s\"", t->conf->name,
	    log_esc(db->name));
	sender_post(t->sender, &t->opts, t->query_url, &body,
	    target_create_done_cb, tq);
}

/* A write answered "database not found". */
static void
target_missing_db(struct target_queue *tq, const struct sender_result *res)
{
	struct target	*t = tq->target;
	struct target_db *db = tq->db;

	if (db->create_body != NULL)
		return;		/* another queue's CREATE runs: wait for it */
	if (!db->may_create && db->create_after != 0 &&
	    stamp_now() / 1000000 >= db->create_after) {
		db->may_create = true;	/* a refused CREATE may be retried */
		db->create_after = 0;
	}
	if (t->conf->create_database && t->conf->api == API_V1 &&
	    db->may_create) {
		target_create_database(tq);
		return;
	}
	if (!t->conf->create_database)
		target_note_hint(t, " (create_database = false)");
	else if (t->conf->api == API_V2)
		target_note_hint(t, " (api = v2: create the bucket)");
	target_retry_slowly(tq, res);
}

static void
target_create_done_cb(const struct sender_result *res, void *arg)
{
	struct target_queue	*tq = arg;
	struct target		*t = tq->target;
	struct target_db	*db = tq->db;

	free(db->create_body);
	db->create_body = NULL;
	t->inflight--;
	target_settled(t);	/* deferred: runs after what follows */
	target_count_status(t, res);
	/* the queues of this database waited for it */
	target_wake_all(t);
	if (response_query_ok(res->status, res->body, res->body_len)) {
		t->stats.databases_created++;
		db->may_create = false;
		target_pump(t);
		return;
	}
	t->stats.create_failures++;
	target_note_error(t, res);
	target_note_hint(t, " (CREATE DATABASE failed)");
	/* once per database and retry_max, however many queues wait on it */
	db->may_create = false;
	db->create_after = stamp_now() / 1000000 +
	    (int64_t)t->conf->retry_max_ms;
	/*
	 * Refused (an answer): keep the data, try the CREATE again at
	 * retry_max.  No answer at all: an ordinary backoff.
	 */
	if (res->status != 0 && res->status < 500)
		target_retry_slowly(tq, res);
	else
		target_backoff(tq, res);
	target_pump(t);
}

static void
target_write_done_cb(const struct sender_result *res, void *arg)
{
	struct target_queue	*tq = arg;
	struct target		*t = tq->target;
	struct batch		*b = tq->inflight;
	enum response_action	 action;

	tq->inflight = NULL;
	t->inflight_bytes -= b->bytes;
	t->inflight_points -= b->points;
	t->inflight--;
	target_count_status(t, res);
	action = response_classify(res->status, res->body, res->body_len);
	if (action != RESPONSE_DONE)
		target_note_error(t, res);
	switch (action) {
	case RESPONSE_DONE:
		target_delivered(tq, b->points);
		target_release(t, b, ORIGIN_WRITTEN);
		break;
	case RESPONSE_DROP:
		target_rejected(tq, b, res);
		break;
	case RESPONSE_ISOLATE:
		target_isolate(tq, b);
		break;
	case RESPONSE_SPLIT:
		target_split(tq, b);
		break;
	case RESPONSE_CREATE_DB:
		queue_putback(tq->queue, b);
		target_missing_db(tq, res);
		break;
	case RESPONSE_CONFIG:
		queue_putback(tq->queue, b);
		target_retry_slowly(tq, res);
		break;
	case RESPONSE_RETRY:
		queue_putback(tq->queue, b);
		target_backoff(tq, res);
		break;
	}
	target_flush_late(tq);
	target_wake(tq);
	target_pump(t);
	target_settled(t);
}

void
target_flush(struct target *t)
{
	struct target_queue	*tq;

	TAILQ_FOREACH(tq, &t->queues, entry) {
		queue_seal(tq->queue);
		evtimer_del(tq->ev_flush);
		tq->flush_due = false;
	}
	target_wake_all(t);
	target_pump(t);
}

void
target_gauges(const struct target *t, struct target_gauges *g)
{
	struct target_queue	*tq;

	g->queues = t->nqueues;
	g->points = t->points;
	g->bytes = t->bytes;
	g->in_flight = t->inflight;
	g->backing_off = evtimer_pending(t->ev_retry, NULL);
	g->failing = 0;
	TAILQ_FOREACH(tq, &t->queues, entry)
		g->failing += evtimer_pending(tq->ev_retry, NULL) != 0;
}

void
target_foreach_queue(const struct target *t, target_queue_cb cb, void *arg)
{
	struct target_queue		*tq;
	struct target_queue_info	 info;

	TAILQ_FOREACH(tq, &t->queues, entry) {
		info.database = queue_database(tq->queue);
		info.retention_policy = queue_retention_policy(tq->queue);
		info.points = queue_points(tq->queue);
		info.bytes = queue_bytes(tq->queue);
		info.in_flight = tq->inflight ? tq->inflight->points : 0;
		info.waiting = evtimer_pending(tq->ev_retry, NULL);
		cb(&info, arg);
	}
}

static void
target_admin_free(struct target_admin *a)
{
	TAILQ_REMOVE(&a->target->admins, a, entry);
	free(a->body);
	free(a);
}

size_t
target_requests(const struct target *t)
{
	const struct target_admin	*a;
	size_t				 n = t->inflight;

	TAILQ_FOREACH(a, &t->admins, entry)
		n++;
	return n;
}

static void
target_query_done_cb(const struct sender_result *res, void *arg)
{
	struct target_admin	*a = arg;
	struct target		*t = a->target;

	a->cb(res, a->arg);
	target_admin_free(a);
	target_settled(t);
}

void
target_query(struct target *t, const char *verb, const char *db,
    sender_done_cb cb, void *arg)
{
	struct target_admin	*a = xcalloc(1, sizeof(*a));
	struct sender_body	 body = {
		.content_type = "application/x-www-form-urlencoded",
	};

	a->target = t;
	TAILQ_INSERT_TAIL(&t->admins, a, entry);
	a->cb = cb;
	a->arg = arg;
	a->body = endpoint_query_body(verb, db);
	body.data = a->body;
	body.len = strlen(a->body);
	log_info("sender: target %s: %s \"%s\"", t->conf->name, verb,
	    log_esc(db));
	sender_post(t->sender, &t->opts, t->query_url, &body,
	    target_query_done_cb, a);
}

bool
target_flushed(const struct target *t)
{
	struct target_queue	*tq;

	if (evtimer_pending(t->ev_retry, NULL))
		return true;	/* the server failed: backing off */
	TAILQ_FOREACH(tq, &t->queues, entry) {
		if (evtimer_pending(tq->ev_retry, NULL))
			continue;	/* failed: waiting for its retry */
		if (queue_points(tq->queue) > 0 || tq->inflight != NULL ||
		    tq->db->create_body != NULL)
			return false;
	}
	return true;
}

void
target_drain(struct target *t)
{
	struct target_queue	*tq;

	evtimer_del(t->ev_retry);
	TAILQ_FOREACH(tq, &t->queues, entry)
		evtimer_del(tq->ev_retry);
	target_flush(t);
}

void
target_on_settled(struct target *t, target_settled_cb cb, void *arg)
{
	t->settled_cb = cb;
	t->settled_arg = arg;
}

void
target_wait_room(struct target *t, target_room_cb cb, void *arg)
{
	struct target_waiter	*w;

	TAILQ_FOREACH(w, &t->waiters, entry)
		if (w->cb == cb && w->arg == arg)
			return;
	w = xcalloc(1, sizeof(*w));
	w->cb = cb;
	w->arg = arg;
	TAILQ_INSERT_TAIL(&t->waiters, w, entry);
	target_freed(t);
}

void
target_cancel_wait(struct target *t, target_room_cb cb, void *arg)
{
	struct target_waiter	*w;

	TAILQ_FOREACH(w, &t->waiters, entry) {
		if (w->cb == cb && w->arg == arg) {
			TAILQ_REMOVE(&t->waiters, w, entry);
			free(w);
			return;
		}
	}
}

size_t
target_room(const struct target *t)
{
	size_t	 held = target_held(t);

	return held < t->conf->buffer_size ? t->conf->buffer_size - held : 0;
}

size_t
target_points(const struct target *t)
{
	return t->points;
}

const struct target_stats *
target_stats(const struct target *t)
{
	return &t->stats;
}

uint64_t
target_dropped(const struct target *t)
{
	const struct target_stats	*s = &t->stats;

	return s->points_dropped_overflow + s->points_dropped_server +
	    s->points_dropped_too_large + s->points_dropped_removed;
}

int64_t
target_unaccounted(const struct target *t)
{
	const struct target_stats	*s = &t->stats;

	return (int64_t)(s->points_accepted - s->points_written -
	    (uint64_t)t->points - target_dropped(t));
}
