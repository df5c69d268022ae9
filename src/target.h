/*
 * A target: one InfluxDB URL with its queues, one per (database,
 * retention policy), and the byte accounting against buffer_size: the
 * overflow policy decides which points come in, and every point leaves
 * through one exit that counts its fate.  delivery.c sends the queues.
 */
#ifndef RELAYD_TARGET_H
#define RELAYD_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sender.h"

struct conf_target;
struct event_base;
struct point;
struct sender;
struct target;

enum target_reject {
	TARGET_ACCEPTED,
	TARGET_REJECT_OVERFLOW,	/* full: drop_newest, block, too large */
	TARGET_REJECT_QUEUES,	/* max_queues reached */
	TARGET_REJECT_CONFLICT,	/* a field type the server refuses */
};

/*
 * The balance: every point a target accepted is written, still buffered
 * (queued, in flight or waiting for a retry) or dropped for one of the
 * dropped_* reasons, so at any moment
 *	accepted = written + buffered_points + dropped_overflow +
 *	    dropped_server + dropped_too_large + dropped_removed.
 * Points refused at the door (rejected_*) were never accepted and stay
 * out of it.  Every field is shown through its row in stats.c's table
 * (check_stats fails on a field without one).
 */
struct target_stats {
	uint64_t	 points_accepted;
	uint64_t	 points_written;
	uint64_t	 batches_written;
	uint64_t	 points_dropped_overflow;	/* drop_oldest evicted */
	uint64_t	 points_dropped_server;	/* 400/422/bad-data 500 */
	uint64_t	 points_dropped_too_large;
	uint64_t	 points_dropped_removed;	/* target freed holding them */
	uint64_t	 points_rejected_overflow;	/* full: never accepted */
	uint64_t	 points_rejected_queues;
	uint64_t	 points_rejected_conflict;	/* queue_check() */
	uint64_t	 type_cuts;	/* batches closed for a field type */
	uint64_t	 type_spills;	/* points moved to the spill batch */
	uint64_t	 isolation_requests;	/* resent halves */
	uint64_t	 requests;
	uint64_t	 retries;
	uint64_t	 http_2xx;	/* answers by class (3xx in 4xx) */
	uint64_t	 http_4xx;
	uint64_t	 http_5xx;
	uint64_t	 http_200;	/* and by status: those the */
	uint64_t	 http_204;	/* response table names */
	uint64_t	 http_400;
	uint64_t	 http_404;
	uint64_t	 http_413;
	uint64_t	 http_429;
	uint64_t	 http_500;
	uint64_t	 http_503;
	uint64_t	 http_other;	/* any other status */
	uint64_t	 http_errors;		/* no HTTP answer */
	uint64_t	 databases_created;
	uint64_t	 create_failures;	/* CREATE refused or failed */
	uint64_t	 spool_open_failures;	/* spool unusable: memory only */
	int64_t		 last_success;		/* unix seconds, 0 = never */
	int64_t		 last_error_time;	/* unix seconds, 0 = never */
	int64_t		 last_error_cleared;	/* first success after it */
	char		 last_error[160];
};

/* A target for `conf`, which must outlive it. */
struct target	*target_new(struct event_base *, struct sender *,
		    const struct conf_target *conf);
/*
 * A reload: the target adopts `conf` (same name; it must outlive the
 * target) and keeps its queues, points, requests in flight and counters.
 * Every setting applies to requests started from now on; open batches
 * take the new batch limits at once, and a shorter flush_interval.
 */
void		 target_reconfigure(struct target *,
		    const struct conf_target *conf);
/* Frees the target and every point it still holds. */
void		 target_free(struct target *);
const char	*target_name(const struct target *);
const struct conf_target *target_conf(const struct target *);

/*
 * Queues one point for `database` and `rp`.  On a reject nothing was
 * queued.
 */
enum target_reject target_append(struct target *, const char *database,
		    const char *rp, const struct point *);
/*
 * Keeps the target's points in its spool under `spool_dir` (if its
 * `spool` is true and `spool_dir` is set; the caller holds the lock),
 * and replays what an earlier run left there first.  A spool that cannot
 * be opened is logged and tried again later; memory works meanwhile.
 */
void		 target_use_spool(struct target *, const char *spool_dir);
/*
 * The end of a read turn: the points accepted since reach the kernel
 * (the spool's write), so a crash of the process loses none of them.
 */
void		 target_commit(struct target *);
/* Points held in memory only: lost if the process ends now. */
size_t		 target_volatile(const struct target *);
struct store_stats;
/* The spool's figures; false if the target has none (in use). */
bool		 target_store_stats(const struct target *,
		    struct store_stats *);
/* Closes every open batch and sends what the connection limit allows. */
void		 target_flush(struct target *);
/* What a target holds right now. */
struct target_gauges {
	size_t		 queues;
	size_t		 points;	/* queued, in flight or to retry */
	size_t		 bytes;
	size_t		 in_flight;	/* requests */
	size_t		 failing;	/* queues waiting on a config problem */
	bool		 backing_off;	/* the server failed: target waits */
};

void		 target_gauges(const struct target *, struct target_gauges *);

/* One queue as the stats show it. */
struct target_queue_info {
	const char	*database;
	const char	*retention_policy;
	size_t		 points;	/* queued, not in flight */
	size_t		 bytes;
	size_t		 in_flight;	/* points in the request in flight */
	bool		 waiting;	/* retrying after a config problem */
	const char	*state;		/* idle, sending, creating, failing */
};

typedef void	(*target_queue_cb)(const struct target_queue_info *, void *);
/* Calls `cb` for every queue of the target, oldest first. */
void		 target_foreach_queue(const struct target *, target_queue_cb,
		    void *);
/*
 * Sends `verb "db"` (CREATE DATABASE, DROP DATABASE) to the target's
 * /query endpoint, quoting `db`; `cb` gets the answer.
 */
void		 target_query(struct target *, const char *verb,
		    const char *db, sender_done_cb cb, void *arg);
/*
 * Frees the queues that stayed empty and unused since the previous sweep
 * (a timer runs it every 5 minutes), so max_queues bounds the queues in
 * use, not every (database, retention policy) ever seen.
 */
void		 target_sweep(struct target *);
/* True when every queue is empty or waiting to retry after a failure. */
bool		 target_flushed(const struct target *);
/*
 * Requests in flight: writes, CREATEs and admin statements.  A target
 * may be freed only at 0 (or after sender_free()): each request's
 * completion uses the target.
 */
size_t		 target_requests(const struct target *);
/*
 * Shutdown: as target_flush(), and a queue waiting out a retry delay
 * gets one attempt at once instead.
 */
void		 target_drain(struct target *);
typedef void	(*target_settled_cb)(struct target *, void *);
/*
 * Calls `cb` from the event loop after points left the target or one of
 * its requests ended (once per loop turn however many did), so that a
 * caller waiting for it to empty, go quiet or flush checks then instead
 * of polling.  One callback per target; NULL removes it.
 */
void		 target_on_settled(struct target *, target_settled_cb cb,
		    void *arg);
typedef void	(*target_room_cb)(struct target *, void *);
/*
 * Calls `cb` once, from the event loop, when the target has room again
 * (below 3/4 of buffer_size): for a listener that stopped reading
 * (overflow = block).  Any number of waiters; the same (cb, arg)
 * waits once.
 */
void		 target_wait_room(struct target *, target_room_cb cb,
		    void *arg);
/* Forgets a target_wait_room() of (cb, arg), if any. */
void		 target_cancel_wait(struct target *, target_room_cb cb,
		    void *arg);
/*
 * overflow = block: true when a stream client about to hand over `need`
 * bytes should stop reading until target_wait_room() calls back.
 */
bool		 target_blocks(const struct target *, size_t need);
/*
 * Whether `need` more bytes would be taken now without a wait: true but
 * for overflow = block, where it asks for the whole room (no quarter
 * cap as in target_blocks()).
 */
bool		 target_takes(const struct target *, size_t need);
/* Bytes that still fit under buffer_size. */
size_t		 target_room(const struct target *);
/* Points held: queued, in flight or waiting for a retry. */
size_t		 target_points(const struct target *);
const struct target_stats *target_stats(const struct target *);
/* Points dropped, all reasons together. */
uint64_t	 target_dropped(const struct target *);
/*
 * accepted - (written + buffered + dropped): 0 unless a point left the
 * books without being counted, or was counted twice.
 */
int64_t		 target_unaccounted(const struct target *);

#endif
