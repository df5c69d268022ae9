/* utf8.c: the shared UTF-8 check, at each rule's edge. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "utf8.h"

static const struct {
	const char	*s;
	size_t		 len;	/* of the first character, 0: bad */
} chars[] = {
	{ "a", 1 },
	{ "\x7f", 1 },
	{ "\xc2\x80", 2 },		/* U+0080 */
	{ "\xc1\xbf", 0 },		/* overlong U+007F */
	{ "\xdf\xbf", 2 },
	{ "\xe0\xa0\x80", 3 },		/* U+0800 */
	{ "\xe0\x9f\xbf", 0 },		/* overlong */
	{ "\xed\x9f\xbf", 3 },		/* U+D7FF */
	{ "\xed\xa0\x80", 0 },		/* a surrogate */
	{ "\xef\xbf\xbf", 3 },
	{ "\xf0\x90\x80\x80", 4 },	/* U+10000 */
	{ "\xf0\x8f\xbf\xbf", 0 },	/* overlong */
	{ "\xf4\x8f\xbf\xbf", 4 },	/* U+10FFFF */
	{ "\xf4\x90\x80\x80", 0 },	/* past U+10FFFF */
	{ "\xf5\x80\x80\x80", 0 },
	{ "\x80", 0 },			/* a lone continuation */
	{ "\xe2\x82", 0 },		/* cut */
	{ "\xc3(", 0 },
};

START_TEST(test_char)
{
	const unsigned char	*p = (const unsigned char *)chars[_i].s;
	size_t			 n = strlen(chars[_i].s);
	char			 buf[32];

	ck_assert_uint_eq(utf8_len(p, n), chars[_i].len);
	/* the same character in a longer ASCII text */
	snprintf(buf, sizeof(buf), "abcdefgh%sxyz", chars[_i].s);
	ck_assert_int_eq(utf8_valid(buf, strlen(buf)),
	    chars[_i].len == n);
	/* each case is one character or none: one byte less never is one */
	ck_assert_uint_eq(utf8_len(p, n - 1), 0);
}
END_TEST

START_TEST(test_empty)
{
	ck_assert(utf8_valid("", 0));
	ck_assert_uint_eq(utf8_len((const unsigned char *)"", 0), 0);
	ck_assert(utf8_valid("plain ascii, longer than eight", 30));
}
END_TEST

static Suite *
utf8_suite(void)
{
	Suite	*s = suite_create("utf8");
	TCase	*tc = tcase_create("utf8");

	tcase_add_loop_test(tc, test_char, 0, sizeof(chars) / sizeof(chars[0]));
	tcase_add_test(tc, test_empty);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(utf8_suite)
