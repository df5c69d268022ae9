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

struct batch;
struct queue;

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

/*
 * Appends one point (body + tail, the tail ending in '\n').  Returns true
 * when this point started a new open batch (arm the flush timer).
 */
bool		 queue_append(struct queue *, const char *body, size_t blen,
		    const char *tail, size_t tlen);
/* Closes the open batch so it can be sent (flush_interval expired). */
void		 queue_seal(struct queue *);
/* True if a closed batch is waiting to be sent. */
bool		 queue_ready(const struct queue *);
/* Removes and returns the oldest closed batch, or NULL. */
struct batch	*queue_take(struct queue *);
/* Returns an unsent batch to the head, ahead of everything newer. */
void		 queue_putback(struct queue *, struct batch *);
/* Drops the oldest point still queued; returns its bytes (0 if none). */
size_t		 queue_drop_oldest(struct queue *);
/* Points and bytes waiting in the queue (not counting taken batches). */
size_t		 queue_points(const struct queue *);
size_t		 queue_bytes(const struct queue *);

#endif
