/*
 * A queue: the unsent points of one (target, database, retention policy),
 * as a list of batches, oldest first.  Points enter through queue_append()
 * only, so a disk spool can sit beneath this one path, and they leave only
 * by queue_take() (then the sender owns the batch until it is delivered
 * or handed back with queue_putback()) or by the overflow policy.
 */
#ifndef RELAYD_QUEUE_H
#define RELAYD_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "origin.h"
#include "proto.h"

struct batch;
struct point;
struct queue;

/* Type cuts allowed per queue and second; then points use the spill. */
#define QUEUE_CUTS_PER_S	64
/* Field types learned from a server, per queue. */
#define QUEUE_KNOWN_TYPES	1024
/*
 * Distinct fields one batch tracks (a batch that has more is closed) and
 * point shapes it remembers: at most ~100 KiB a batch still filling.
 */
#define QUEUE_BATCH_TYPES	2048
#define QUEUE_BATCH_SHAPES	1024

/* A queue that cuts batches at `batch_size` points or `batch_bytes`. */
struct queue	*queue_new(const char *database, const char *rp,
		    size_t batch_size, size_t batch_bytes);
/*
 * New batch limits (a reload): later points use them, and an open batch
 * already at a new limit is closed.  True if it closed one.
 */
bool		 queue_set_limits(struct queue *, size_t batch_size,
		    size_t batch_bytes);
/* Frees the queue and every batch still in it (not the taken ones). */
void		 queue_free(struct queue *);
const char	*queue_database(const struct queue *);
const char	*queue_retention_policy(const struct queue *);

/* What queue_check() says of a point. */
enum queue_fit {
	QUEUE_FITS,		/* joins the open batch */
	QUEUE_CUTS,		/* a field's type differs: starts the next */
	QUEUE_SPILLS,		/* differs, no cut left: joins the spill */
	QUEUE_CONFLICT,		/* refuse it (see below) */
};

/*
 * Where `p` would go (`now` in ns).  A point whose field has another
 * type than the same field earlier in the open batch closes that batch
 * and starts the next, so InfluxDB refuses it alone instead of the whole
 * request.  Past QUEUE_CUTS_PER_S cuts in a second it joins the spill
 * batch instead (sent right after the open one), so a sender alternating
 * types cannot shrink everyone's batches.  It conflicts outright with a
 * type the server said the field already has (queue_learn_type()), or
 * when it fits neither the open batch nor the spill.
 */
enum queue_fit	 queue_check(struct queue *, const struct point *p,
		    int64_t now);
/*
 * Appends one point where queue_check() said (not QUEUE_CONFLICT).
 * Returns true when this point started a new open batch (arm the flush
 * timer).
 */
bool		 queue_append(struct queue *, const struct point *p,
		    enum queue_fit, int64_t now);
/*
 * The server said the field `hash` (proto_field_id) has type `type` in
 * the shard of time `t`: points near `t` giving it another type conflict
 * until `expires` (ns).
 */
void		 queue_learn_type(struct queue *, uint64_t hash, int64_t t,
		    enum proto_type type, int64_t expires);
/* Closes the open batch so it can be sent (flush_interval expired). */
void		 queue_seal(struct queue *);
/* True if a closed batch is waiting to be sent. */
bool		 queue_ready(const struct queue *);
/* The oldest closed batch, left in the queue, or NULL. */
struct batch	*queue_next(struct queue *);
/* Removes and returns the oldest closed batch, or NULL. */
struct batch	*queue_take(struct queue *);
/* Returns an unsent batch to the head, ahead of everything newer. */
void		 queue_putback(struct queue *, struct batch *);
/*
 * Drops the oldest point still queued (settled as dropped_overflow);
 * returns its bytes (0 if none) and its store ref in `ref`.
 */
size_t		 queue_drop_oldest(struct queue *, uint32_t *ref);
/*
 * Settles every point still queued with `fate`, before queue_free();
 * returns how many.
 */
size_t		 queue_settle(struct queue *, enum origin_fate);
/* Points and bytes waiting in the queue (not counting taken batches). */
size_t		 queue_points(const struct queue *);
size_t		 queue_bytes(const struct queue *);

#endif
