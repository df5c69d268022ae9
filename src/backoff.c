/*
 * Backoff computation: pure, so the schedule is unit-tested exactly.
 *
 * Full jitter (the whole wait is random, from zero to the step's cap),
 * the first retry included: relays that failed in the same instant (a
 * server that died with their requests in flight, a proxy that answered
 * them all 503) would otherwise all come back in the same instant, and
 * again after every step.  A Retry-After is a floor the jitter is added
 * to, not a wait in its own right, for the same reason: a server that
 * tells every client "10 s" must not get them all back at 10 s.  The
 * jitter after it spans half of it at least: a fleet told to wait gets
 * about as spread as the wait is long, not just one short backoff step.
 */
#include "config.h"

#include "backoff.h"

uint64_t
backoff_delay(unsigned attempt, uint64_t initial_ms, uint64_t max_ms,
    uint64_t floor_ms, uint64_t rnd)
{
	uint64_t	 cap = initial_ms;

	while (attempt-- > 0 && cap < max_ms)
		cap = cap > max_ms / 2 ? max_ms : cap * 2;
	if (cap > max_ms)
		cap = max_ms;
	if (cap < floor_ms / 2)
		cap = floor_ms / 2;
	return floor_ms + rnd % (cap + 1);
}
