/* The stats answer is valid JSON whatever bytes clients and servers sent. */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "check_main.h"
#include "stats.h"

static const struct {
	const char	*in;
	bool		 cut;
	const char	*want;
} json_cases[] = {
	{ "plain", false, "\"plain\"" },
	{ "q\"b\\", false, "\"q\\\"b\\\\\"" },
	{ "esc\x1b[31m\r\n", false, "\"esc\\u001b[31m\\u000d\\u000a\"" },
	{ "del\x7f", false, "\"del\\u007f\"" },
	{ "c1\xc2\x9b", false, "\"c1\\u009b\"" },
	{ "\xc3\xa9t\xc3\xa9", false, "\"\xc3\xa9t\xc3\xa9\"" },
	{ "\xf0\x9f\x98\x80", false, "\"\xf0\x9f\x98\x80\"" },
	{ "bad\xff", false, "\"bad\\ufffd\"" },
	{ "lone\x80x", false, "\"lone\\ufffdx\"" },
	{ "overlong\xc0\xaf", false, "\"overlong\\ufffd\\ufffd\"" },
	{ "surrogate\xed\xa0\x80", false, "\"surrogate\\ufffd\\ufffd\\ufffd\"" },
	{ "big\xf4\x90\x80\x80", false, "\"big\\ufffd\\ufffd\\ufffd\\ufffd\"" },
	/* a cut inside a character: invalid data, unless marked as cut */
	{ "cut\xe2\x82", false, "\"cut\\ufffd\\ufffd\"" },
	{ "cut\xe2\x82", true, "\"cut\"" },
	{ "cut\xf0\x9f\x98", true, "\"cut\"" },
	{ "cut\xc3", true, "\"cut\"" },
	/* only the last character can be a cut one */
	{ "mid\xe2\x82x", true, "\"mid\\ufffd\\ufffdx\"" },
	{ "end\xff", true, "\"end\\ufffd\"" },
};

START_TEST(test_json_string)
{
	struct evbuffer	*out = evbuffer_new();
	size_t		 len;
	char		*got;

	if (json_cases[_i].cut)
		stats_json_cut_string(out, json_cases[_i].in);
	else
		stats_json_string(out, json_cases[_i].in);
	len = evbuffer_get_length(out);
	got = calloc(1, len + 1);
	evbuffer_remove(out, got, len);
	ck_assert_str_eq(got, json_cases[_i].want);
	free(got);
	evbuffer_free(out);
}
END_TEST

static Suite *
stats_suite(void)
{
	Suite	*s = suite_create("stats");
	TCase	*tc = tcase_create("json");

	tcase_add_loop_test(tc, test_json_string, 0,
	    sizeof(json_cases) / sizeof(json_cases[0]));
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(stats_suite)
