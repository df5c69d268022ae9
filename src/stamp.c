/* Monotonic, never-repeating receipt stamps on the wall clock. */
#include "config.h"

#include <time.h>

#include "stamp.h"

int64_t
stamp_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
stamp_next(struct stamp *s, int64_t now)
{
	/* a clock stepped backwards must not reuse stamps either */
	if (now <= s->last)
		now = s->last + 1;
	s->last = now;
	return now;
}

struct timeval
stamp_timeval(uint64_t ms)
{
	struct timeval	 tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	return tv;
}

int64_t
stamp_hour(int64_t t)
{
	const int64_t	 hour = 3600 * 1000000000LL;

	return t / hour - (t % hour < 0);
}
