/*
 * Retry delays: exponential backoff with full jitter, so many relays
 * that lost the same server do not come back in lock-step.  Flush
 * delays: flush_interval plus a random part of flush_jitter, drawn from
 * a few even steps so that the event loop sees a few common durations.
 */
#ifndef RELAYD_BACKOFF_H
#define RELAYD_BACKOFF_H

#include <stdint.h>

/*
 * The delay before retry number `attempt` (0 for the first retry): a
 * uniform pick from [0, min(max, initial * 2^attempt)] using the random
 * value `rnd`, added to `floor_ms` (a server's Retry-After); after a
 * floor the pick spans floor_ms / 2 at least.
 */
uint64_t backoff_delay(unsigned attempt, uint64_t initial_ms,
	    uint64_t max_ms, uint64_t floor_ms, uint64_t rnd);

/* Steps of flush_jitter at most (backoff_flush_steps()). */
#define BACKOFF_FLUSH_STEPS	16

/*
 * How many distinct flush delays `jitter_ms` allows: 1 without jitter,
 * else min(BACKOFF_FLUSH_STEPS, jitter_ms + 1).
 */
unsigned backoff_flush_steps(uint64_t jitter_ms);
/*
 * Flush delay number `step` (0 .. backoff_flush_steps() - 1): steps
 * spread evenly from `interval_ms` to `interval_ms + jitter_ms`, both
 * included.
 */
uint64_t backoff_flush_delay(uint64_t interval_ms, uint64_t jitter_ms,
	    unsigned step);

#endif
