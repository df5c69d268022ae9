/*
 * The event base and its scheduling policy: which events run first when
 * several are ready at once.
 */
#ifndef RELAYD_LOOP_H
#define RELAYD_LOOP_H

#include <stdint.h>

struct bufferevent;
struct event;
struct event_base;

/*
 * libevent runs only the most urgent non-empty priority of a loop turn,
 * so a lower one waits until every higher one is idle.  LOOP_PRI_DEFAULT
 * is what libevent gives an event nobody placed (nqueues / 2).
 */
enum loop_priority {
	LOOP_PRI_DELIVERY,	/* curl sockets and timers, flush and retry */
	LOOP_PRI_DEFAULT,	/* signals, accept, control, housekeeping */
	LOOP_PRI_INPUT,		/* reading clients */
	LOOP_NPRIORITIES
};

/* The daemon's event base (precise timers, the priorities above). */
struct event_base	*loop_base_new(void);
/* Places `ev`; on a base without our priorities it stays where it is. */
void			 loop_set_priority(struct event *, enum loop_priority);
/* (Re)arms the timer `ev` to fire `ms` from now. */
void			 loop_timer_add(struct event *ev, uint64_t ms);
/* Places a bufferevent's read and write events (and its callbacks). */
void			 loop_set_bev_priority(struct bufferevent *,
			    enum loop_priority);

#endif
