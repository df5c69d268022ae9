/*
 * Receipt-time stamps that never repeat (DESIGN §4): InfluxDB overwrites
 * a point with the same series and time, so two untimed points of one
 * series must get distinct times even within one clock tick.
 */
#ifndef RELAYD_STAMP_H
#define RELAYD_STAMP_H

#include <stdint.h>
#include <sys/time.h>

struct stamp {
	int64_t	 last;
};

/* The wall clock in ns since the epoch. */
int64_t	 stamp_now(void);
/* A stamp for a point received at `now`: max(now, previous + 1). */
int64_t	 stamp_next(struct stamp *, int64_t now);

/*
 * The hour of `t` (ns since the epoch, rounded down): InfluxDB's shard
 * groups last whole hours, so points of one hour share a shard.
 */
int64_t		 stamp_hour(int64_t t);
/* `ms` milliseconds as a struct timeval, for libevent's timers. */
struct timeval	 stamp_timeval(uint64_t ms);

#endif
