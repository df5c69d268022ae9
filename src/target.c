/*
 * Targets: one InfluxDB URL each, with its queues, one per (database,
 * retention policy), and the byte accounting against buffer_size.
 *
 * A point enters a target through target_admit(), where the overflow
 * policy lives, and leaves its memory through target_leave() with the
 * reason (delivered, refused by the server, too large, evicted by
 * drop_oldest, or dropped with a removed target), which keeps the books:
 * a point stays counted in the target's bytes until then.  Sending is
 * delivery.c's job; it hands every batch that leaves back here.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/event.h>

#include "batch.h"
#include "conf.h"
#include "delivery.h"
#include "hmap.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "origin.h"
#include "point.h"
#include "queue.h"
#include "spool.h"
#include "stamp.h"
#include "store.h"
#include "target.h"

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
/* Points loaded from the spool per loop turn, at most. */
#define TARGET_LOAD_POINTS	4096
/* A spool that could not be opened is tried again this often. */
#define TARGET_REOPEN_MS	(60 * 1000)

/* A listener stopped reading until the target has room (block). */
struct target_waiter {
	TAILQ_ENTRY(target_waiter) entry;
	target_room_cb		 cb;
	void			*arg;
};

struct target_queue {
	TAILQ_ENTRY(target_queue) entry;
	struct target		*target;
	struct queue		*queue;
	struct delivery_queue	*delivery;
	bool			 used;		/* appended to since last sweep */
	size_t			 dblen;
	/*
	 * The key, "db\0rp\0", in this allocation: finding a point's queue
	 * among 10,000 then reads the index and this, not the queue and
	 * its two strings too (cache misses on every line).
	 */
	char			 key[];
};

struct target {
	const struct conf_target *conf;
	struct event_base	*base;
	struct delivery		*delivery;
	TAILQ_HEAD(, target_queue) queues;
	struct hmap		*queue_index;	/* by (database, rp) */
	size_t			 nqueues;
	struct target_queue	*last;		/* routing cache */
	size_t			 bytes;
	size_t			 points;
	size_t			 peak_bytes;	/* since memory was released */
	struct target_queue	*evict;		/* drop_oldest's largest queue */
	size_t			 evict_until;	/* while it holds more than this */
	unsigned		 evictions;	/* since evict was chosen */
	struct event		*ev_room;
	struct event		*ev_settled;	/* deferred settled_cb */
	target_settled_cb	 settled_cb;
	void			*settled_arg;
	struct event		*ev_sweep;	/* frees idle empty queues */
	TAILQ_HEAD(, target_waiter) waiters;	/* for room (block) */
	struct target_stats	 stats;
	/* the disk spool beneath the queues (store.h), or NULL */
	struct store		*store;
	char			*spool_dir;	/* where to open it */
	size_t			 on_disk;	/* points in memory it keeps too */
	struct event		*ev_load;	/* memory may take more of it */
	struct event		*ev_sync;	/* spool_sync is due */
	struct event		*ev_reopen;	/* it failed to open */
};

static void target_load_cb(evutil_socket_t, short, void *);
static void target_sync_cb(evutil_socket_t, short, void *);
static void target_reopen_cb(evutil_socket_t, short, void *);

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

	return strcmp(tq->key, k->db) == 0 &&
	    strcmp(tq->key + tq->dblen + 1, k->rp) == 0;
}


static struct target_queue *
target_queue_new(struct target *t, const char *db, const char *rp)
{
	size_t			 dblen = strlen(db), rplen = strlen(rp);
	struct target_queue	*tq;

	tq = xcalloc(1, sizeof(*tq) + dblen + rplen + 2);
	memcpy(tq->key, db, dblen + 1);
	memcpy(tq->key + dblen + 1, rp, rplen + 1);
	tq->dblen = dblen;
	tq->target = t;
	tq->queue = queue_new(db, rp, t->conf->batch_size,
	    t->conf->batch_bytes);
	tq->delivery = delivery_queue_new(t->delivery, tq->queue);
	TAILQ_INSERT_TAIL(&t->queues, tq, entry);
	hmap_insert(t->queue_index, target_queue_hash(db, rp), tq);
	t->nqueues++;
	log_debug("target %s: new queue db=%s rp=%s", t->conf->name,
	    log_esc(db), log_esc(rp));
	return tq;
}

/* Frees a queue whose points all left (settled) or were never there. */
static void
target_queue_free(struct target *t, struct target_queue *tq)
{
	if (t->last == tq)
		t->last = NULL;
	if (t->evict == tq)
		t->evict = NULL;
	TAILQ_REMOVE(&t->queues, tq, entry);
	hmap_remove(t->queue_index, target_queue_hash(
	    queue_database(tq->queue), queue_retention_policy(tq->queue)), tq);
	t->nqueues--;
	delivery_queue_free(tq->delivery);
	queue_free(tq->queue);
	free(tq);
}

void
target_sweep(struct target *t)
{
	struct target_queue	*tq, *next;

	for (tq = TAILQ_FIRST(&t->queues); tq != NULL; tq = next) {
		next = TAILQ_NEXT(tq, entry);
		if (tq->used || queue_points(tq->queue) > 0 ||
		    !delivery_queue_idle(tq->delivery)) {
			tq->used = false;
			continue;
		}
		log_debug("target %s: freeing idle queue db=%s rp=%s",
		    t->conf->name, log_esc(queue_database(tq->queue)),
		    log_esc(queue_retention_policy(tq->queue)));
		target_queue_free(t, tq);
	}
	delivery_sweep(t->delivery);
}

static void
target_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	target_sweep(arg);
}

/* Where each fate of a point is counted. */
static uint64_t *
target_fate_counter(struct target *t, enum origin_fate fate)
{
	struct target_stats	*s = &t->stats;

	switch (fate) {
	case ORIGIN_WRITTEN:
		return &s->points_written;
	case ORIGIN_DROPPED_OVERFLOW:
		return &s->points_dropped_overflow;
	case ORIGIN_DROPPED_SERVER:
		return &s->points_dropped_server;
	case ORIGIN_DROPPED_TOO_LARGE:
		return &s->points_dropped_too_large;
	case ORIGIN_DROPPED_REMOVED:
	default:
		return &s->points_dropped_removed;
	}
}

/* What buffer_size caps: the points' bytes and what holding them costs. */
static size_t
target_held(const struct target *t)
{
	return t->bytes + t->points * TARGET_POINT_COST;
}

/*
 * Room for `need` more bytes as overflow = block sees it: in the spool
 * while it works (memory overflow spills there), else in memory.
 */
static bool
target_has_room_for(const struct target *t, size_t need)
{
	if (t->store != NULL && !store_down(t->store))
		return !store_full(t->store, need);
	return target_room(t) >= need;
}

/*
 * The same, with a need counted as a quarter of the limit at most, so
 * that a waiter woken (room for a quarter) is never blocked again at
 * once, and a tiny limit cannot stall a listener for good.
 */
static bool
target_has_room(const struct target *t, size_t need)
{
	const struct conf_target	*c = t->conf;
	size_t				 limit = c->buffer_size;

	if (t->store != NULL && !store_down(t->store))
		limit = c->spool_size;
	return target_has_room_for(t, need < limit / 4 ? need : limit / 4);
}

/*
 * Bytes left memory: wake a listener waiting for room, and load what
 * the spool holds beyond memory.
 */
static void
target_freed(struct target *t)
{
	target_settled(t);
	if (t->store != NULL && store_behind(t->store) &&
	    target_held(t) < t->conf->buffer_size - t->conf->buffer_size / 4)
		event_active(t->ev_load, 0, 0);
	if (!TAILQ_EMPTY(&t->waiters) && target_has_room(t, SIZE_MAX))
		event_active(t->ev_room, 0, 0);
}

/*
 * The one way out: `points` accepted points holding `bytes` left memory
 * with `fate` (their origins settled by the caller), and are counted
 * under it.
 */
static void
target_leave(struct target *t, enum origin_fate fate, size_t points,
    size_t bytes)
{
	*target_fate_counter(t, fate) += points;
	t->points -= points;
	t->bytes -= bytes;
	/* a backlog drained: return its memory rather than keep it for good */
	if (t->bytes == 0 && t->peak_bytes >= TARGET_RELEASE_BYTES) {
		t->peak_bytes = 0;
		mem_release();
	}
	target_freed(t);
}

struct target_forget {
	struct target	*target;
	bool		 keep;		/* on disk: for the next start */
};

static void
target_forget_cb(uint32_t ref, size_t n, void *arg)
{
	struct target_forget	*f = arg;

	f->target->on_disk -= n;
	if (!f->keep && f->target->store != NULL)
		store_forget(f->target->store, ref, n);
}

/*
 * The points of `b` leave memory: the store forgets them, unless their
 * target goes away holding them (a removed target's spool is kept).
 */
static void
target_unkeep(struct target *t, const struct batch *b, enum origin_fate fate)
{
	struct target_forget	 f = { t, fate == ORIGIN_DROPPED_REMOVED };

	batch_refs(b, target_forget_cb, &f);
}

/*
 * A batch delivery took leaves memory: `refused` of its points were
 * refused by the server (settled already), the rest settle with `fate`.
 */
static void
target_release_cb(void *arg, struct batch *b, size_t refused,
    enum origin_fate fate)
{
	struct target	*t = arg;

	target_unkeep(t, b, fate);
	batch_settle(b, fate, b->points);
	if (refused > 0)
		target_leave(t, ORIGIN_DROPPED_SERVER, refused, 0);
	target_leave(t, fate, b->points - refused, b->bytes);
	batch_free(b);
}

static void
target_delivery_settled_cb(void *arg)
{
	target_settled(arg);
}

static const struct delivery_ops target_delivery_ops = {
	.release = target_release_cb,
	.settled = target_delivery_settled_cb,
};

struct target *
target_new(struct event_base *base, struct sender *sender,
    const struct conf_target *conf)
{
	struct target		*t = xcalloc(1, sizeof(*t));

	t->conf = conf;
	t->base = base;
	t->delivery = delivery_new(base, sender, conf, &t->stats,
	    &target_delivery_ops, t);
	TAILQ_INIT(&t->queues);
	TAILQ_INIT(&t->waiters);
	t->queue_index = hmap_new();
	t->ev_sweep = event_new(base, -1, EV_PERSIST, target_sweep_cb, t);
	t->ev_settled = event_new(base, -1, 0, target_settled_event_cb, t);
	t->ev_load = event_new(base, -1, 0, target_load_cb, t);
	t->ev_sync = evtimer_new(base, target_sync_cb, t);
	t->ev_reopen = evtimer_new(base, target_reopen_cb, t);
	if ((t->ev_room = event_new(base, -1, 0, target_room_event_cb, t)) ==
	    NULL || t->ev_sweep == NULL || t->ev_settled == NULL ||
	    t->ev_load == NULL || t->ev_sync == NULL || t->ev_reopen == NULL)
		fatalx("target %s: event_new failed", conf->name);
	/* loading from the spool is delivery's work: before new input */
	loop_set_priority(t->ev_load, LOOP_PRI_DELIVERY);
	loop_timer_add(t->ev_sweep, TARGET_SWEEP_MS);
	/* conf refuses URLs with user:password@, so this logs no secret */
	log_info("target %s: %s, api %s%s%s", conf->name, conf->url,
	    conf->api == API_V2 ? "v2" : "v1", conf->gzip ? ", gzip" : "",
	    conf->token[0] ? ", token auth" :
	    conf->username[0] ? ", basic auth" : "");
	return t;
}

/* Opens the spool; false (logged loudly) if it cannot be used now. */
static bool
target_store_open(struct target *t)
{
	struct store_stats	 st;
	char			 err[256];

	t->store = store_open(t->spool_dir, t->conf->name, t->conf->spool_size,
	    t->conf->spool_sync_ms, err, sizeof(err));
	if (t->store == NULL) {
		log_warnx("target %s: SPOOL UNUSABLE: %s; keeping points in "
		    "memory only, trying again in %d s", t->conf->name, err,
		    TARGET_REOPEN_MS / 1000);
		t->stats.spool_open_failures++;
		loop_timer_add(t->ev_reopen, TARGET_REOPEN_MS);
		return false;
	}
	/* what an earlier run accepted is owed: count it in the books */
	store_stats(t->store, &st);
	t->stats.points_accepted += st.recovered;
	event_active(t->ev_load, 0, 0);
	return true;
}

static void
target_reopen_cb(evutil_socket_t fd, short what, void *arg)
{
	struct target	*t = arg;

	if (t->store == NULL && target_store_open(t))
		log_info("target %s: spool in use again", t->conf->name);
}

void
target_use_spool(struct target *t, const char *spool_dir)
{
	if (!t->conf->spool || spool_dir == NULL || spool_dir[0] == '\0' ||
	    t->store != NULL)
		return;
	free(t->spool_dir);
	t->spool_dir = xstrdup(spool_dir);
	if (target_store_open(t))
		log_info("target %s: spool in %s", t->conf->name, spool_dir);
}

void
target_reconfigure(struct target *t, const struct conf_target *conf)
{
	const struct conf_target	*old = t->conf;

	t->conf = conf;
	if (conf->spool != old->spool)
		log_warnx("target %s: spool = %s takes effect at the next "
		    "start", conf->name, conf->spool ? "true" : "false");
	if (t->store != NULL)
		store_set_limits(t->store, conf->spool_size,
		    conf->spool_sync_ms);
	/* paused listeners check again: buffer_size or overflow may differ */
	if (!TAILQ_EMPTY(&t->waiters))
		event_active(t->ev_room, 0, 0);
	log_info("target %s: reconfigured: %s, api %s%s", conf->name,
	    conf->url, conf->api == API_V2 ? "v2" : "v1",
	    conf->gzip ? ", gzip" : "");
	delivery_reconfigure(t->delivery, conf);
}

void
target_free(struct target *t)
{
	struct target_queue	*tq;
	struct target_waiter	*w;
	size_t			 points, bytes;

	if (t == NULL)
		return;
	/* in-flight batches come back through target_release_cb */
	delivery_free(t->delivery);
	store_close(t->store);
	t->store = NULL;
	while ((tq = TAILQ_FIRST(&t->queues)) != NULL) {
		/* the points still held leave the listeners' books here */
		bytes = queue_bytes(tq->queue);
		points = queue_settle(tq->queue, ORIGIN_DROPPED_REMOVED);
		target_leave(t, ORIGIN_DROPPED_REMOVED, points, bytes);
		tq->delivery = NULL;	/* freed with delivery */
		target_queue_free(t, tq);
	}
	hmap_free(t->queue_index);
	event_free(t->ev_room);
	event_free(t->ev_settled);
	event_free(t->ev_sweep);
	event_free(t->ev_load);
	event_free(t->ev_sync);
	event_free(t->ev_reopen);
	free(t->spool_dir);
	while ((w = TAILQ_FIRST(&t->waiters)) != NULL) {
		TAILQ_REMOVE(&t->waiters, w, entry);
		free(w);
	}
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
	struct delivery_gauges	 g;
	size_t			 freed, cap = t->conf->buffer_size;
	uint32_t		 ref = 0;

	/* in-flight points cannot be dropped: evict nothing in vain */
	delivery_gauges(t->delivery, &g);
	if (g.bytes + g.points * TARGET_POINT_COST + need > cap)
		return false;
	while (target_held(t) + need > cap) {
		if ((largest = target_evict_from(t)) == NULL ||
		    (freed = queue_drop_oldest(largest->queue, &ref)) == 0)
			return false;	/* all the rest is in flight */
		t->evictions++;
		if (ref != 0) {
			t->on_disk--;
			store_forget(t->store, ref, 1);
		}
		target_leave(t, ORIGIN_DROPPED_OVERFLOW, 1, freed);
	}
	return true;
}

/*
 * The overflow policy for a point costing `cost` against buffer_size:
 * whether it may come in, after drop_oldest made room for it.  A point
 * larger than the whole buffer could only evict everything and still not
 * fit.  drop_newest refuses when full, and so does block for what still
 * arrives (a datagram, or past the slack; target_blocks() stops the
 * stream clients before that).
 */
static bool
target_admit(struct target *t, size_t cost)
{
	const struct conf_target	*c = t->conf;

	if (cost > c->buffer_size)
		return false;
	if (target_held(t) + cost <= c->buffer_size)
		return true;
	return c->overflow == OVERFLOW_DROP_OLDEST &&
	    target_make_room(t, cost);
}

bool
target_blocks(const struct target *t, size_t need)
{
	const struct conf_target	*c = t->conf;

	return c->overflow == OVERFLOW_BLOCK && !target_has_room(t, need);
}

bool
target_takes(const struct target *t, size_t need)
{
	return t->conf->overflow != OVERFLOW_BLOCK ||
	    target_has_room_for(t, need);
}

/*
 * A point into memory: its queue (made if need be; `force` passes
 * max_queues, for points accepted earlier), its batch, its bytes.
 */
static void
target_enqueue(struct target *t, struct target_queue *tq, const char *db,
    const char *rp, const struct point *p, enum queue_fit fit)
{
	size_t	 size = p->blen + p->tlen;

	if (tq == NULL)
		tq = t->last = target_queue_new(t, db, rp);
	tq->used = true;
	t->stats.type_cuts += (fit == QUEUE_CUTS);
	t->stats.type_spills += (fit == QUEUE_SPILLS);
	if (queue_append(tq->queue, p, fit, p->received))
		delivery_opened(tq->delivery);
	t->bytes += size;
	if (t->bytes > t->peak_bytes)
		t->peak_bytes = t->bytes;
	t->points++;
	t->on_disk += (p->ref != 0);
	/* most points close no batch: leave delivery's state untouched */
	if (queue_ready(tq->queue))
		delivery_ready(tq->delivery);
}

/* A point accepted earlier, from the spool or back from a failed write. */
static void
target_enqueue_again(struct target *t, const char *db, const char *rp,
    const struct point *p)
{
	struct target_queue	*tq = target_find_queue(t, db, rp);
	enum queue_fit		 fit = QUEUE_FITS;

	/* the server refuses it if it must: never lose it here */
	if (tq != NULL && (fit = queue_check(tq->queue, p, p->received)) ==
	    QUEUE_CONFLICT)
		fit = QUEUE_CUTS;
	target_enqueue(t, tq, db, rp, p, fit);
}

/* What the store does with a point memory cannot take now. */
enum target_spill {
	TARGET_SPILL_MEMORY,	/* nothing: memory's own policy decides */
	TARGET_SPILL_DISK,	/* kept on disk only */
	TARGET_SPILL_REJECT,	/* spool_size reached: refused */
};

/*
 * With a spool, a point goes to disk only while memory is full, and
 * while older points wait there (so a queue's order holds); at
 * spool_size the overflow policy applies to the spool.  A failing disk
 * leaves the point to memory.
 */
static enum target_spill
target_spill(struct target *t, const char *db, const char *rp,
    const struct point *p)
{
	size_t		 cost = p->blen + p->tlen + TARGET_POINT_COST;
	uint64_t	 lost;
	bool		 room = target_held(t) + cost <= t->conf->buffer_size;

	/*
	 * spool_size reached: the oldest segment goes if all its points
	 * wait in memory (a queue stuck on one database must not hold the
	 * spool), else the overflow policy applies, at the spool.
	 */
	while (store_full(t->store, p->blen + p->tlen + 64)) {
		if (!store_drop_oldest(t->store,
		    t->conf->overflow == OVERFLOW_DROP_OLDEST, &lost))
			return TARGET_SPILL_REJECT;
		t->stats.points_dropped_overflow += lost;
	}
	if (!store_behind(t->store) && room)
		return TARGET_SPILL_MEMORY;
	if (!store_keep_only(t->store, db, rp, p))
		return TARGET_SPILL_MEMORY;	/* the disk failed */
	if (room)
		event_active(t->ev_load, 0, 0);
	return TARGET_SPILL_DISK;
}

/* Counts an accepted point, and holds its sender's books. */
static enum target_reject
target_accepted(struct target *t, const struct point *p, bool disk_only)
{
	t->stats.points_accepted++;
	origin_hold(p->origin);
	/* its origin is not kept on disk: the target counts it from here */
	if (disk_only)
		origin_settle(p->origin, ORIGIN_SPOOLED, 1);
	return TARGET_ACCEPTED;
}

enum target_reject
target_append(struct target *t, const char *db, const char *rp,
    const struct point *p)
{
	struct target_queue	*tq;
	struct point		 kept;
	enum queue_fit		 fit = QUEUE_FITS;
	enum target_spill	 spill = TARGET_SPILL_MEMORY;

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
	if (t->store != NULL && (spill = target_spill(t, db, rp, p)) ==
	    TARGET_SPILL_DISK)
		return target_accepted(t, p, true);
	/* before a new queue exists: a refused point leaves none behind */
	if (spill == TARGET_SPILL_REJECT ||
	    !target_admit(t, p->blen + p->tlen + TARGET_POINT_COST)) {
		/* never accepted: not a drop of the balance (target.h) */
		t->stats.points_rejected_overflow++;
		return TARGET_REJECT_OVERFLOW;
	}
	kept = *p;
	if (t->store != NULL)
		kept.ref = store_keep(t->store, db, rp, p);
	target_enqueue(t, tq, db, rp, &kept, fit);
	return target_accepted(t, p, false);
}

/*
 * A stored line (body and tail, ending in '\n') as a point again, its
 * fields parsed for the type-aware batching.
 */
static void
target_point_from_line(struct point *p, struct proto_point *pt,
    const char *line, size_t len, uint32_t ref)
{
	memset(p, 0, sizeof(*p));
	p->body = line;
	p->blen = len;
	p->tail = line + len;
	p->ref = ref;
	p->received = stamp_now();
	if (proto_parse(line, len - 1, pt) != PROTO_OK || !pt->has_time ||
	    pt->body != line)
		return;		/* enqueued as it is: the server decides */
	p->blen = pt->body_len;
	p->tail = line + pt->body_len;
	p->tlen = len - pt->body_len;
	p->time = pt->time;
	p->fields = pt;
}

/* Queues every point of a record the store read back. */
static void
target_load_record(struct target *t, const struct store_record *rec)
{
	struct proto_point	 pt;
	struct point		 p;
	const char		*line = rec->points, *end;
	const char		*stop = rec->points + rec->len;
	uint32_t		 i;

	for (i = 0; i < rec->npoints && line < stop; i++, line = end) {
		/* a point may hold '\n' in a string: its own parse ends it */
		end = proto_line_end(line, (size_t)(stop - line));
		end = end != NULL ? end + 1 : stop;
		target_point_from_line(&p, &pt, line, (size_t)(end - line),
		    rec->ref);
		target_enqueue_again(t, rec->database, rec->rp, &p);
	}
}

/*
 * Memory has room: load what the spool holds beyond it, a bounded
 * amount per loop turn, oldest first.
 */
static void
target_load_cb(evutil_socket_t fd, short what, void *arg)
{
	struct target		*t = arg;
	struct store_record	 rec;
	size_t			 n = 0, high;

	if (t->store == NULL)
		return;
	high = t->conf->buffer_size - t->conf->buffer_size / 4;
	while (n < TARGET_LOAD_POINTS && target_held(t) < high &&
	    store_load(t->store, &rec) == 1) {
		target_load_record(t, &rec);
		n += rec.npoints;
	}
	if (n >= TARGET_LOAD_POINTS && target_held(t) < high)
		event_active(t->ev_load, 0, 0);
}

/* A point whose disk write failed: memory takes it, or drops it. */
static void
target_take_back_cb(void *arg, const char *db, const char *rp,
    const char *line, size_t len)
{
	struct target		*t = arg;
	struct proto_point	 pt;
	struct point		 p;

	target_point_from_line(&p, &pt, line, len, 0);
	if (!target_admit(t, len + TARGET_POINT_COST)) {
		/* accepted already: a drop of the balance */
		t->stats.points_dropped_overflow++;
		return;
	}
	target_enqueue_again(t, db, rp, &p);
}

/* Syncs the spool when spool_sync says, and again when it says. */
static void
target_sync(struct target *t)
{
	uint64_t	 wait;

	if ((wait = store_sync(t->store)) != UINT64_MAX &&
	    !evtimer_pending(t->ev_sync, NULL))
		loop_timer_add(t->ev_sync, wait);
}

static void
target_sync_cb(evutil_socket_t fd, short what, void *arg)
{
	struct target	*t = arg;

	if (t->store != NULL)
		target_sync(t);
}

void
target_commit(struct target *t)
{
	if (t->store == NULL)
		return;
	store_commit(t->store, target_take_back_cb, t);
	target_sync(t);
}

void
target_flush(struct target *t)
{
	delivery_flush(t->delivery);
}

void
target_gauges(const struct target *t, struct target_gauges *g)
{
	struct delivery_gauges	 dg;

	delivery_gauges(t->delivery, &dg);
	g->queues = t->nqueues;
	g->points = target_points(t);
	g->bytes = t->bytes;
	g->in_flight = dg.writes;
	g->backing_off = dg.backing_off;
	g->failing = dg.failing;
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
		info.in_flight = delivery_queue_in_flight(tq->delivery);
		info.waiting = delivery_queue_failing(tq->delivery);
		info.state = delivery_queue_state(tq->delivery);
		cb(&info, arg);
	}
}

size_t
target_requests(const struct target *t)
{
	struct delivery_gauges	 g;

	delivery_gauges(t->delivery, &g);
	return g.requests;
}

void
target_query(struct target *t, const char *verb, const char *db,
    sender_done_cb cb, void *arg)
{
	delivery_query(t->delivery, verb, db, cb, arg);
}

bool
target_flushed(const struct target *t)
{
	return delivery_flushed(t->delivery);
}

void
target_drain(struct target *t)
{
	delivery_drain(t->delivery);
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

/* Points on disk only (the spool holds more than memory). */
static size_t
target_unloaded(const struct target *t)
{
	return t->store != NULL ? (size_t)store_unloaded(t->store) : 0;
}

size_t
target_points(const struct target *t)
{
	return t->points + target_unloaded(t);
}

size_t
target_volatile(const struct target *t)
{
	/* a failed write's points keep refs, but are not on disk */
	return t->points - t->on_disk +
	    (t->store != NULL ? (size_t)store_orphaned(t->store) : 0);
}

bool
target_store_stats(const struct target *t, struct store_stats *st)
{
	if (t->store == NULL)
		return false;
	store_stats(t->store, st);
	return true;
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
	    (uint64_t)target_points(t) - target_dropped(t));
}
