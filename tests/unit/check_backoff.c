/*
 * Backoff schedule: full jitter, growth, cap, Retry-After floor; flush
 * delays in even steps of the jitter.
 */
#include "config.h"

#include <stdlib.h>

#include "backoff.h"
#include "check_main.h"

/* The first retry is jittered too: anywhere from 0 to retry_initial. */
START_TEST(test_first_retry_jittered)
{
	uint64_t	 rnd;

	ck_assert_uint_eq(backoff_delay(0, 500, 60000, 0, 0), 0);
	ck_assert_uint_eq(backoff_delay(0, 500, 60000, 0, 500), 500);
	ck_assert_uint_eq(backoff_delay(0, 500, 60000, 0, 501), 0);
	for (rnd = 0; rnd < 100000; rnd += 7)
		ck_assert_uint_le(backoff_delay(0, 500, 60000, 0, rnd), 500);
}
END_TEST

START_TEST(test_growth_within_bounds)
{
	unsigned	 attempt;
	uint64_t	 rnd, cap;

	for (attempt = 1; attempt < 20; attempt++) {
		cap = 500ULL << attempt;
		if (cap > 60000)
			cap = 60000;
		for (rnd = 0; rnd < 100000; rnd += 997)
			ck_assert_uint_le(backoff_delay(attempt, 500, 60000, 0,
			    rnd), cap);
		/* the whole range, from no wait to the step's cap */
		ck_assert_uint_eq(backoff_delay(attempt, 500, 60000, 0, 0), 0);
		ck_assert_uint_eq(backoff_delay(attempt, 500, 60000, 0, cap),
		    cap);
	}
}
END_TEST

START_TEST(test_huge_attempt_does_not_overflow)
{
	ck_assert_uint_le(backoff_delay(1000, 500, 60000, 0, ~0ULL), 60000);
	ck_assert_uint_le(backoff_delay(1000, 500, ~0ULL / 2, 0, ~0ULL),
	    ~0ULL / 2);
}
END_TEST

/*
 * Retry-After is a floor the jitter is added to; the jitter spans the
 * step's cap or half the Retry-After, whichever is longer.
 */
START_TEST(test_retry_after_is_a_floor)
{
	uint64_t	 rnd, d;

	ck_assert_uint_eq(backoff_delay(0, 500, 60000, 2000, 0), 2000);
	ck_assert_uint_eq(backoff_delay(0, 500, 60000, 2000, 1000), 3000);
	ck_assert_uint_eq(backoff_delay(0, 500, 60000, 2000, 1001), 2000);
	ck_assert_uint_eq(backoff_delay(3, 500, 60000, 100, 4000), 4100);
	for (rnd = 0; rnd < 100000; rnd += 13) {
		d = backoff_delay(2, 500, 60000, 10000, rnd);
		ck_assert_uint_ge(d, 10000);
		ck_assert_uint_le(d, 15000);
		d = backoff_delay(6, 500, 60000, 10000, rnd);
		ck_assert_uint_le(d, 10000 + 32000);
	}
}
END_TEST

/*
 * 10,000 relays that failed in the same instant come back spread over
 * the first step (500 ms); told to wait 10 s by a Retry-After, over 5 s
 * after it: no tenth of the span gets more than 1.2 times its share.
 */
START_TEST(test_fleet_spreads)
{
	static const uint64_t	 floors[] = { 0, 10000 };
	static const uint64_t	 spans[] = { 500, 5000 };
	unsigned		 bucket[10], i, f;
	uint64_t		 d;

	srandom(7);
	for (f = 0; f < 2; f++) {
		for (i = 0; i < 10; i++)
			bucket[i] = 0;
		for (i = 0; i < 10000; i++) {
			d = backoff_delay(0, 500, 60000, floors[f],
			    (uint64_t)random()) - floors[f];
			ck_assert_uint_le(d, spans[f]);
			bucket[d >= spans[f] ? 9 : d * 10 / spans[f]]++;
		}
		for (i = 0; i < 10; i++)
			ck_assert_msg(bucket[i] <= 1200, "bucket %u of 10: %u "
			    "of 10000", i, bucket[i]);
	}
}
END_TEST

/*
 * Flush delays: flush_interval plus one of a few even steps of the
 * jitter, from none to all of it, in order; no jitter, one delay.
 */
static const struct {
	uint64_t	 interval, jitter;
	unsigned	 steps;
	uint64_t	 first, second, last;
} flush_cases[] = {
	{ 1000, 0, 1, 1000, 1000, 1000 },
	{ 1000, 1000, 16, 1000, 1066, 2000 },
	{ 50, 3, 4, 50, 51, 53 },
	{ 100, 15, 16, 100, 101, 115 },
	{ 0, 150, 16, 0, 10, 150 },
	{ 1, UINT64_MAX / 2, 16, 1, 1 + UINT64_MAX / 2 / 15,
	    1 + UINT64_MAX / 2 },
};

START_TEST(test_flush_steps)
{
	uint64_t	 iv = flush_cases[_i].interval;
	uint64_t	 j = flush_cases[_i].jitter;
	unsigned	 n = backoff_flush_steps(j), k;

	ck_assert_uint_eq(n, flush_cases[_i].steps);
	ck_assert_uint_eq(backoff_flush_delay(iv, j, 0), flush_cases[_i].first);
	ck_assert_uint_eq(backoff_flush_delay(iv, j, 1),
	    flush_cases[_i].second);
	ck_assert_uint_eq(backoff_flush_delay(iv, j, n - 1),
	    flush_cases[_i].last);
	/* out of range: the last step, never beyond the jitter */
	ck_assert_uint_eq(backoff_flush_delay(iv, j, n + 5),
	    flush_cases[_i].last);
	for (k = 1; k < n; k++) {
		ck_assert_uint_gt(backoff_flush_delay(iv, j, k),
		    backoff_flush_delay(iv, j, k - 1));
		ck_assert_uint_le(backoff_flush_delay(iv, j, k), iv + j);
	}
}
END_TEST

static Suite *
backoff_suite(void)
{
	Suite	*s = suite_create("backoff");
	TCase	*tc = tcase_create("delay");

	tcase_add_test(tc, test_first_retry_jittered);
	tcase_add_test(tc, test_growth_within_bounds);
	tcase_add_test(tc, test_huge_attempt_does_not_overflow);
	tcase_add_test(tc, test_retry_after_is_a_floor);
	tcase_add_test(tc, test_fleet_spreads);
	suite_add_tcase(s, tc);
	tc = tcase_create("flush");
	tcase_add_loop_test(tc, test_flush_steps, 0,
	    sizeof(flush_cases) / sizeof(flush_cases[0]));
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(backoff_suite)
