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
 *
 * Flush delays are jittered too (flush_jitter), but from a few even steps
 * rather than any millisecond: every queue's flush timer then has one of
 * a few durations, which libevent keeps in O(1) queues instead of its
 * heap (delivery.c).  16 steps of a 1 s jitter still spread a fleet's
 * flushes over the whole second, 62.5 ms apart.
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

unsigned
backoff_flush_steps(uint64_t jitter_ms)
{
	if (jitter_ms >= BACKOFF_FLUSH_STEPS - 1)
		return BACKOFF_FLUSH_STEPS;
	return (unsigned)jitter_ms + 1;
}

uint64_t
backoff_flush_delay(uint64_t interval_ms, uint64_t jitter_ms, unsigned step)
{
	unsigned	 steps = backoff_flush_steps(jitter_ms);

	if (steps == 1)
		return interval_ms;
	if (step >= steps)
		step = steps - 1;
	/* jitter * step / (steps - 1), without overflow for any duration */
	return interval_ms + jitter_ms / (steps - 1) * step +
	    jitter_ms % (steps - 1) * step / (steps - 1);
}
