/* Backoff computation: pure, so the schedule is unit-tested exactly. */
#include "config.h"

#include "backoff.h"

uint64_t
backoff_delay(unsigned attempt, uint64_t initial_ms, uint64_t max_ms,
    uint64_t floor_ms, uint64_t rnd)
{
	uint64_t	 cap = initial_ms, delay;

	while (attempt-- > 0 && cap < max_ms)
		cap = cap > max_ms / 2 ? max_ms : cap * 2;
	if (cap > max_ms)
		cap = max_ms;
	if (cap <= initial_ms)
		delay = cap;
	else
		delay = initial_ms + rnd % (cap - initial_ms + 1);
	return delay < floor_ms ? floor_ms : delay;
}
