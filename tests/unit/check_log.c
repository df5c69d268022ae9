/* log_escape(): what a client or server sends never reaches a log raw. */
#include "config.h"

#include <string.h>

#include <check.h>

#include "check_main.h"
#include "log.h"

static const struct {
	const char	*in;
	size_t		 len;
	size_t		 size;
	const char	*out;
} escapes[] = {
	{ "plain db_1", 10, 64, "plain db_1" },
	{ "ev\x1b[31mil\rX", 11, 64, "ev\\x1b[31mil\\x0dX" },
	{ "q\"b\\s", 5, 64, "q\\\"b\\\\s" },
	{ "nul\0after", 9, 64, "nul\\x00after" },
	{ "\xc3\xa9\x7f", 3, 64, "\\xc3\\xa9\\x7f" },
	/* cut: "..." always fits, and no escape is split */
	{ "abcdefghij", 10, 8, "abcd..." },
	{ "ab\x1b" "cdefgh", 9, 8, "ab..." },
	{ "abcdefg", 7, 8, "abcdefg" },
	{ "abc", 3, 2, "a" },
};

START_TEST(test_escape)
{
	char	 buf[64];

	ck_assert_str_eq(log_escape(buf, escapes[_i].size, escapes[_i].in,
	    escapes[_i].len), escapes[_i].out);
	ck_assert_uint_lt(strlen(buf), escapes[_i].size);
}
END_TEST

START_TEST(test_esc_slots)
{
	const char	*a = log_esc("a\n"), *b = log_esc("b\t");

	/* two arguments of one log call stay distinct */
	ck_assert_str_eq(a, "a\\x0a");
	ck_assert_str_eq(b, "b\\x09");
}
END_TEST

static Suite *
log_suite(void)
{
	Suite	*s = suite_create("log");
	TCase	*tc = tcase_create("log");

	tcase_add_loop_test(tc, test_escape, 0,
	    sizeof(escapes) / sizeof(escapes[0]));
	tcase_add_test(tc, test_esc_slots);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(log_suite)
