/*
 * Listeners: the UNIX sockets applications write lines to, stream or
 * datagram.  Each owns its clients' bufferevents, checks their peer
 * credentials, frames their input into lines and hands the lines to its
 * ingest; a stream client that asks ("#relay reply=summary") gets a
 * summary of what its lines became when its connection ends.
 */
#ifndef RELAYD_LISTENER_H
#define RELAYD_LISTENER_H

#include <stddef.h>
#include <stdint.h>

#include "origin.h"

struct conf_listener;
struct event_base;
struct ingest;
struct listener;

/* Lines rejected for one reason, a static string. */
struct listener_reason {
	const char	*reason;
	uint64_t	 count;
};

/*
 * Two balances, both exact at any moment.  At the door, every line read
 * is skipped (blank, comment), accepted (queued by at least one target)
 * or rejected for one reason:
 *	lines = skipped + accepted + rejected.
 * Behind it, per copy (a point n targets queued counts n times; with one
 * target, queued = accepted):
 *	queued = written + buffered + dropped_overflow + dropped_server +
 *	    dropped_too_large + dropped_removed
 * (ledger; origin.h).  A copy one target refused while another queued
 * it is counted in that target's rejected_* only.  Every field is shown
 * through its row in stats.c's table (check_stats fails on a field
 * without one).
 */
struct listener_stats {
	uint64_t	 connections;
	uint64_t	 connections_refused;	/* max_clients reached */
	uint64_t	 denied;		/* not in allow_uids/gids */
	uint64_t	 datagrams;
	uint64_t	 lines;			/* every line received */
	uint64_t	 skipped;		/* blank or comment */
	uint64_t	 accepted;
	uint64_t	 rejected;		/* sum of the reasons below */
	struct origin_ledger ledger;		/* copies the targets queued */
	uint64_t	 pauses;		/* overflow = block */
	struct listener_reason	 reasons[48];	/* until a NULL reason */
};

/* A listener for `conf` feeding `ingest` (both must outlive it). */
struct listener	*listener_new(struct event_base *,
		    const struct conf_listener *conf, struct ingest *);
/*
 * Binds the socket: replaces a stale file, refuses one another process
 * listens on, applies `mode`.  -1 with a message in `err` on failure.
 */
int		 listener_open(struct listener *, char *err, size_t errlen);
/*
 * Stops accepting, reads what connected clients already sent, closes
 * them and removes the socket file.
 */
void		 listener_close(struct listener *);
/*
 * A reload kept this listener (same path and type): it adopts `conf` and
 * `ingest` (both must outlive it) and keeps its socket, clients and
 * counters.  Lines read from now on go through the new ingest; mode,
 * idle_timeout and (datagram) allow_uids/gids apply at once, the
 * connection checks to new connections.
 */
void		 listener_reconfigure(struct listener *,
		    const struct conf_listener *conf, struct ingest *);
void		 listener_free(struct listener *);
/*
 * Frees a listener that never served (a reload that failed): connections
 * queued on its socket meanwhile are refused, not read into a
 * configuration that was rejected.
 */
void		 listener_abandon(struct listener *);
const char	*listener_name(const struct listener *);
/* Stream clients connected now. */
size_t		 listener_clients(const struct listener *);
const struct listener_stats *listener_stats(const struct listener *);
/* Copies dropped after a target accepted them, all reasons together. */
uint64_t	 listener_dropped(const struct listener *);
/* queued - (written + buffered + dropped): 0 unless the books are off. */
int64_t		 listener_unaccounted(const struct listener *);

#endif
