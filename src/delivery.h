/*
 * Delivery: how one target's queues reach its server.  Closes batches
 * when their flush interval expires, sends them through the sender (at
 * most one request per queue, up to max_connections per target), reads
 * each answer through the response table and acts on it: done, refused
 * points dropped (isolated first when the server refused a whole
 * request), 413 split, missing database created, configuration problems
 * retried slowly, transient failures backed off.  Admin statements
 * (CREATE/DROP DATABASE from the control socket) go the same way.
 *
 * A batch delivery takes from a queue is its until the answer; it goes
 * back to the head of the queue, or leaves memory through the target's
 * release callback, which is the one place points leave a target.
 */
#ifndef RELAYD_DELIVERY_H
#define RELAYD_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>

#include "origin.h"
#include "sender.h"

struct batch;
struct conf_target;
struct delivery;
struct delivery_queue;
struct event_base;
struct queue;
struct target_stats;

/* What delivery tells its target. */
struct delivery_ops {
	/*
	 * `b`, taken from a queue, leaves memory for good: `refused` of
	 * its points were refused by the server (settled already), the
	 * others settle with `fate`.  The callee frees `b`.
	 */
	void	(*release)(void *arg, struct batch *b, size_t refused,
		    enum origin_fate fate);
	/* A request ended: whoever waits for the target looks again. */
	void	(*settled)(void *arg);
};

/*
 * Delivery for the target `conf` names, which must outlive it; `stats`
 * (the target's) gets the request, answer and error counters.
 */
struct delivery	*delivery_new(struct event_base *, struct sender *,
		    const struct conf_target *conf, struct target_stats *,
		    const struct delivery_ops *, void *arg);
/* A reload: `conf` applies to requests started from now on. */
void		 delivery_reconfigure(struct delivery *,
		    const struct conf_target *conf);
/*
 * Releases every batch still in flight as ORIGIN_DROPPED_REMOVED and
 * frees the rest; the sender must be freed first (it aborts requests
 * without their callbacks) or nothing may be in flight.
 */
void		 delivery_free(struct delivery *);

/*
 * Delivery of `q` (database and retention policy), which the caller
 * owns and keeps until delivery_queue_free().
 */
struct delivery_queue *delivery_queue_new(struct delivery *, struct queue *q);
/* Before the queue goes; the caller checked delivery_queue_idle(). */
void		 delivery_queue_free(struct delivery_queue *);
/* Nothing in flight, pending or waited for: the queue may be freed. */
bool		 delivery_queue_idle(const struct delivery_queue *);
/* The queue's state for stats: idle, sending, creating, failing. */
const char	*delivery_queue_state(const struct delivery_queue *);
/* Points of the queue's request in flight. */
size_t		 delivery_queue_in_flight(const struct delivery_queue *);
/* True while the queue waits out a configuration problem. */
bool		 delivery_queue_failing(const struct delivery_queue *);

/* The queue started a new open batch: it is sent by flush_interval. */
void		 delivery_opened(struct delivery_queue *);
/* The queue may have a closed batch: send it when a connection is free. */
void		 delivery_ready(struct delivery_queue *);
/* Closes every open batch and sends what the connection limit allows. */
void		 delivery_flush(struct delivery *);
/* Shutdown: as delivery_flush(), and every retry wait ends at once. */
void		 delivery_drain(struct delivery *);
/* True when every queue is empty or waiting to retry after a failure. */
bool		 delivery_flushed(const struct delivery *);
/* Forgets databases no queue uses any more. */
void		 delivery_sweep(struct delivery *);

/* What is in flight. */
struct delivery_gauges {
	size_t		 requests;	/* writes, CREATEs and admin */
	size_t		 writes;	/* writes and CREATEs */
	size_t		 points;	/* in the writes */
	size_t		 bytes;
	size_t		 failing;	/* queues waiting on a config problem */
	bool		 backing_off;	/* the server failed: target waits */
};

void		 delivery_gauges(const struct delivery *,
		    struct delivery_gauges *);
/*
 * Sends `verb "db"` (CREATE DATABASE, DROP DATABASE) to the /query
 * endpoint, quoting `db`; `cb` gets the answer.
 */
void		 delivery_query(struct delivery *, const char *verb,
		    const char *db, sender_done_cb cb, void *arg);

#endif
