/*
 * Retry delays: exponential backoff with full jitter, so many relays
 * that lost the same server do not come back in lock-step.
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

#endif
