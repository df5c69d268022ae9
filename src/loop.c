/*
 * The event base and its scheduling policy.
 *
 * Reading must not starve delivery (issue 9: 256 clients writing into a
 * sink that absorbs 1.9M lines/s made the default 64M buffer overflow,
 * 68% dropped).  Every ready client got a read callback (up to 64K) per
 * loop turn, and so did the one connection a queue sends on, where
 * libcurl writes at most one upload buffer (64K) per callback: with 256
 * readable clients a turn made 256 reads for one 64K send (strace), and
 * the backlog grew until overflow dropped it.
 *
 * So delivery events have a priority of their own above the clients:
 * while curl can write, a turn serves only curl, so a request's body
 * leaves in back-to-back turns and the next batch starts as soon as the
 * answer comes.  Clients are read in slices of LOOP_INPUT_US (each read
 * callback takes at most 64K), after which libevent polls again, so an
 * answer or a flush timer waits for a slice, never for every client.
 * A slice is bounded in time rather than in callbacks: each poll returns
 * every ready client (level-triggered epoll), so polling after every 8
 * callbacks spent 20% of the relay's CPU in epoll_wait with 256 clients;
 * 1 ms slices halve that.  Bytes a client wrote meanwhile wait in its
 * socket, not in our memory.
 */
#include "config.h"

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "loop.h"
#include "stamp.h"

/* Time spent reading clients between two looks at delivery events. */
#define LOOP_INPUT_US	1000

struct event_base *
loop_base_new(void)
{
	struct event_config	*cfg = event_config_new();
	struct event_base	*base;
	struct timeval		 slice = { 0, LOOP_INPUT_US };

	if (cfg == NULL)
		return NULL;
	/*
	 * On Linux libevent times events with CLOCK_MONOTONIC_COARSE unless
	 * told otherwise (evutil_time.c), so timers fire up to a few ms
	 * early: a retry would come before the server's Retry-After is over.
	 */
	event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	/* -1: no limit on the number of callbacks, only on their time */
	event_config_set_max_dispatch_interval(cfg, &slice, -1,
	    LOOP_PRI_INPUT);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	/* before any event exists: events take their priority when made */
	if (base != NULL && event_base_priority_init(base,
	    LOOP_NPRIORITIES) == -1) {
		event_base_free(base);
		return NULL;
	}
	return base;
}

void
loop_timer_add(struct event *ev, uint64_t ms)
{
	struct timeval	 tv = stamp_timeval(ms);

	evtimer_add(ev, &tv);
}

void
loop_set_priority(struct event *ev, enum loop_priority pri)
{
	if ((int)pri < event_base_get_npriorities(event_get_base(ev)))
		event_priority_set(ev, (int)pri);
}

void
loop_set_bev_priority(struct bufferevent *bev, enum loop_priority pri)
{
	if ((int)pri < event_base_get_npriorities(bufferevent_get_base(bev)))
		bufferevent_priority_set(bev, (int)pri);
}
