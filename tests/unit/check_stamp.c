/* Receipt stamps never repeat and never go back. */
#include "config.h"

#include "check_main.h"
#include "stamp.h"

START_TEST(test_same_tick_gets_distinct_stamps)
{
	struct stamp	 s = { 0 };

	ck_assert_int_eq(stamp_next(&s, 1000), 1000);
	ck_assert_int_eq(stamp_next(&s, 1000), 1001);
	ck_assert_int_eq(stamp_next(&s, 1000), 1002);
	ck_assert_int_eq(stamp_next(&s, 5000), 5000);
}
END_TEST

START_TEST(test_clock_step_back)
{
	struct stamp	 s = { 0 };

	ck_assert_int_eq(stamp_next(&s, 9000), 9000);
	ck_assert_int_eq(stamp_next(&s, 100), 9001);
}
END_TEST

START_TEST(test_now_is_plausible)
{
	/* after 2020-01-01 and before 2100-01-01 */
	ck_assert_int_gt(stamp_now(), 1577836800LL * 1000000000);
	ck_assert_int_lt(stamp_now(), 4102444800LL * 1000000000);
}
END_TEST

static Suite *
stamp_suite(void)
{
	Suite	*s = suite_create("stamp");
	TCase	*tc = tcase_create("stamp");

	tcase_add_test(tc, test_same_tick_gets_distinct_stamps);
	tcase_add_test(tc, test_clock_step_back);
	tcase_add_test(tc, test_now_is_plausible);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(stamp_suite)
