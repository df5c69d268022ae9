/* Backoff schedule: bounds, growth, cap, Retry-After floor. */
#include "config.h"

#include "backoff.h"
#include "check_main.h"

START_TEST(test_first_retry_is_initial)
{
	ck_assert_uint_eq(backoff_delay(0, 500, 60000, 0, 12345), 500);
}
END_TEST

START_TEST(test_growth_within_bounds)
{
	unsigned	 attempt;
	uint64_t	 rnd, d, cap;

	for (attempt = 1; attempt < 20; attempt++) {
		cap = 500ULL << attempt;
		if (cap > 60000)
			cap = 60000;
		for (rnd = 0; rnd < 100000; rnd += 997) {
			d = backoff_delay(attempt, 500, 60000, 0, rnd);
			ck_assert_uint_ge(d, 500);
			ck_assert_uint_le(d, cap);
		}
		/* the largest random pick reaches the cap exactly */
		ck_assert_uint_eq(backoff_delay(attempt, 500, 60000, 0,
		    cap - 500), cap);
	}
}
END_TEST

START_TEST(test_huge_attempt_does_not_overflow)
{
	ck_assert_uint_le(backoff_delay(1000, 500, 60000, 0, ~0ULL), 60000);
}
END_TEST

START_TEST(test_retry_after_is_a_floor)
{
	ck_assert_uint_eq(backoff_delay(0, 500, 60000, 2000, 0), 2000);
	ck_assert_uint_eq(backoff_delay(0, 500, 60000, 100, 0), 500);
}
END_TEST

static Suite *
backoff_suite(void)
{
	Suite	*s = suite_create("backoff");
	TCase	*tc = tcase_create("delay");

	tcase_add_test(tc, test_first_retry_is_initial);
	tcase_add_test(tc, test_growth_within_bounds);
	tcase_add_test(tc, test_huge_attempt_does_not_overflow);
	tcase_add_test(tc, test_retry_after_is_a_floor);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(backoff_suite)
