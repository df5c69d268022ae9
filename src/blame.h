/*
 * Blame: which senders' points a server refused.  Given a refused batch
 * and what the answer says, it finds the offending points, settles them
 * as dropped by the server against their origins (origin.h) and keeps
 * the first one's line for the log, so an operator can find the
 * application at fault.
 */
#ifndef RELAYD_BLAME_H
#define RELAYD_BLAME_H

#include <stddef.h>
#include <stdint.h>

struct batch;
struct response_conflict;

#define BLAME_EXCERPT	96
#define BLAME_TIMES	8

struct blame {
	size_t		 points;	/* attributed */
	int64_t		 times[BLAME_TIMES];	/* of some, an hour apart */
	size_t		 ntimes;
	uint32_t	 origin;	/* of the first of them */
	char		 who[128];	/* origin_describe(), taken before
					   settling could free the origin */
	char		 excerpt[BLAME_EXCERPT];	/* its line, printable */
};

/* Every point of `b` was refused (a batch bisected down to them). */
void	 blame_all(struct batch *b, struct blame *);
/*
 * A partial write named a field type conflict: blames the points of `b`
 * giving that field the refused type, at most `limit` (the dropped=).
 */
void	 blame_conflict(struct batch *b, const struct response_conflict *,
	    size_t limit, struct blame *);
/* "listener main (pid 42, uid 1000): "m f=1.5 1700..."" for a log line. */
void	 blame_describe(const struct blame *, char *buf, size_t len);

#endif
