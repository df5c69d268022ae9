/*
 * A connection's tally and the summary it answers a client with: the
 * counts add up, only the first rejects are described, their text is
 * cut at TALLY_TEXT bytes (never inside a character) and escaped, and
 * the line is valid JSON of bounded size whatever the input.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "check_main.h"
#include "tally.h"

static char *
render(const struct tally *t)
{
	struct evbuffer	*out = evbuffer_new();
	size_t		 len;
	char		*s;

	tally_json(t, out);
	len = evbuffer_get_length(out);
	s = calloc(1, len + 1);
	evbuffer_remove(out, s, len);
	evbuffer_free(out);
	return s;
}

START_TEST(test_all_accepted)
{
	struct tally	 t = { 0 };
	char		*s;

	tally_skip(&t);
	tally_accept(&t);
	tally_accept(&t);
	s = render(&t);
	ck_assert_str_eq(s, "{\"ok\":true,\"lines\":3,\"accepted\":2,"
	    "\"skipped\":1,\"rejected\":0,\"rejects\":[]}\n");
	free(s);
}
END_TEST

static const char	 no_fields[] = "missing fields";
static const char	 bad_value[] = "invalid field value";

/* Rejects after the first three are counted, not described. */
START_TEST(test_first_rejects)
{
	struct tally	 t = { 0 };
	char		*s;
	int		 i;

	tally_accept(&t);
	tally_reject(&t, no_fields, "cpu", 3);
	tally_reject(&t, bad_value, "cpu,db=mydb value=", 18);
	tally_accept(&t);
	for (i = 0; i < 1000; i++)
		tally_reject(&t, no_fields, "q\"\\\x1b", 4);
	s = render(&t);
	ck_assert_str_eq(s, "{\"ok\":false,\"lines\":1004,\"accepted\":2,"
	    "\"skipped\":0,\"rejected\":1002,\"rejects\":["
	    "{\"line\":2,\"reason\":\"missing fields\",\"text\":\"cpu\"},"
	    "{\"line\":3,\"reason\":\"invalid field value\","
	    "\"text\":\"cpu,db=mydb value=\"},"
	    "{\"line\":5,\"reason\":\"missing fields\","
	    "\"text\":\"q\\\"\\\\\\u001b\"}]}\n");
	free(s);
}
END_TEST

/*
 * A long line keeps its first TALLY_TEXT bytes, less a character the
 * cut split; a short line's bad byte is shown as U+FFFD, not dropped.
 */
START_TEST(test_text_cut)
{
	struct tally	 t = { 0 };
	char		 line[300], want[200], *s, *p;

	memset(line, 'a', sizeof(line));
	memcpy(line + TALLY_TEXT - 1, "\xc3\xa9", 2);	/* split by the cut */
	tally_reject(&t, no_fields, line, sizeof(line));
	tally_reject(&t, no_fields, "ab\xc3", 3);
	s = render(&t);
	memset(want, 'a', TALLY_TEXT - 1);
	want[TALLY_TEXT - 1] = '\0';
	p = strstr(s, "\"text\":\"");
	ck_assert_ptr_nonnull(p);
	ck_assert(strncmp(p + 8, want, TALLY_TEXT - 1) == 0);
	ck_assert_int_eq(p[8 + TALLY_TEXT - 1], '"');
	ck_assert_ptr_nonnull(strstr(s, "\"text\":\"ab\\ufffd\""));
	/* the worst case stays small: 3 texts of escapes */
	ck_assert_uint_lt(strlen(s), 2048);
	free(s);
}
END_TEST

static Suite *
tally_suite(void)
{
	Suite	*s = suite_create("tally");
	TCase	*tc = tcase_create("tally");

	tcase_add_test(tc, test_all_accepted);
	tcase_add_test(tc, test_first_rejects);
	tcase_add_test(tc, test_text_cut);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(tally_suite)
