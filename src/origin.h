/*
 * Origins: who sent a point.  Each stream client, and each datagram
 * sender a listener tells apart, gets an id that travels with its points
 * (batch.h), so that a point the server refuses is attributed to the
 * listener and process at fault.  Ids index a ring of the most recent
 * ORIGIN_SLOTS origins; an id whose slot was reused describes itself as
 * unknown rather than as someone else.
 */
#ifndef RELAYD_ORIGIN_H
#define RELAYD_ORIGIN_H

#include <stddef.h>
#include <stdint.h>

#define ORIGIN_SLOTS	4096
#define ORIGIN_UNKNOWN	0

/*
 * A new origin on listener `name`, with the peer's pid and uid (-1 when
 * the kernel gave none).  Refused points are counted into `*dropped`
 * (a listener's counter) until origin_forget_counter().
 */
uint32_t	 origin_new(const char *name, long pid, long uid,
		    uint64_t *dropped);
/* The counter is going away (its listener is freed). */
void		 origin_forget_counter(const uint64_t *dropped);
/* "listener main (pid 42, uid 1000)", or what is known of it. */
void		 origin_describe(uint32_t id, char *buf, size_t len);
/* Counts `n` of the origin's points as refused by a server. */
void		 origin_count_dropped(uint32_t id, uint64_t n);

#endif
