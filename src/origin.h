/*
 * Origins: who sent a point, and the books of the listener it came
 * through.  Each stream client, and each datagram sender a listener
 * tells apart, gets an id that travels with its points (batch.h), so
 * that a point the server refuses is attributed to the listener and
 * process at fault, and so that every point a target accepted is settled
 * against its listener's ledger exactly once: written or dropped by
 * reason.  An id stays valid while its creator holds it or any of its
 * points is in memory, so it is never reused while it could be
 * misattributed.
 */
#ifndef RELAYD_ORIGIN_H
#define RELAYD_ORIGIN_H

#include <stddef.h>
#include <stdint.h>

#define ORIGIN_UNKNOWN	0

/* How an accepted point left memory. */
enum origin_fate {
	ORIGIN_WRITTEN,
	ORIGIN_DROPPED_OVERFLOW,	/* drop_oldest evicted it */
	ORIGIN_DROPPED_SERVER,		/* the server refused it */
	ORIGIN_DROPPED_TOO_LARGE,	/* 413 for it alone */
	ORIGIN_DROPPED_REMOVED,		/* its target was freed holding it */
	ORIGIN_SPOOLED,			/* kept on disk only: the target's */
	ORIGIN_FATES
};

/*
 * A listener's share of the balance, counted per copy: a point that n
 * targets accepted counts n times.  At any moment
 *	queued = buffered + sum of fates.
 */
struct origin_ledger {
	uint64_t	 queued;	/* copies targets accepted */
	uint64_t	 buffered;	/* of them, still in memory */
	uint64_t	 fates[ORIGIN_FATES];
};

/*
 * A new origin on listener `name`, with the peer's pid and uid (-1 when
 * the kernel gave none), settled into `ledger` (may be NULL) until
 * origin_forget_ledger().  The caller holds it until origin_put().
 */
uint32_t	 origin_new(const char *name, long pid, long uid,
		    struct origin_ledger *ledger);
/* The creator lets go (client gone); the id lives on with its points. */
void		 origin_put(uint32_t id);
/* A target accepted one of the origin's points. */
void		 origin_hold(uint32_t id);
/* `n` of the origin's points left memory with `fate`. */
void		 origin_settle(uint32_t id, enum origin_fate fate, uint64_t n);
/* The ledger is going away (its listener is freed). */
void		 origin_forget_ledger(const struct origin_ledger *);
/* "listener main (pid 42, uid 1000)", or what is known of it. */
void		 origin_describe(uint32_t id, char *buf, size_t len);
/* Origins alive now (held, or with points in memory). */
size_t		 origin_count(void);

#endif
