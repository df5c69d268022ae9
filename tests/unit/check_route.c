/*
 * Routing: cutting database/retention-policy tags out of line-protocol
 * bodies, and allowed_databases globs.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "route.h"

static const struct {
	const char	*body;
	const char	*dbkey;
	const char	*rpkey;
	const char	*want;		/* body after the cut */
	const char	*db;		/* NULL: no such tag */
	const char	*rp;
} cuts[] = {
	{ "m,db=ops,host=a v=1", "db", "", "m,host=a v=1", "ops", NULL },
	{ "m,host=a,db=ops v=1", "db", "", "m,host=a v=1", "ops", NULL },
	{ "m,db=ops v=1", "db", "", "m v=1", "ops", NULL },
	{ "m,host=a v=1", "db", "", "m,host=a v=1", NULL, NULL },
	{ "m,rp=r,host=a,db=d v=1", "db", "rp", "m,host=a v=1", "d", "r" },
	{ "m,db=d,rp=r v=1", "db", "rp", "m v=1", "d", "r" },
	/* escaped keys and values; a measurement with an escaped comma */
	{ "m\\,db=x,my\\ db=a\\ b\\,c,k=v f=\"db=q\"", "my db", "",
	    "m\\,db=x,k=v f=\"db=q\"", "a b,c", NULL },
	{ "m,dbx=1,xdb=2 db=3", "db", "", "m,dbx=1,xdb=2 db=3", NULL, NULL },
	{ "m,d\\=b=1 v=1", "d=b", "", "m v=1", "1", NULL },
	/* literal backslashes: only \, \= and \  are escapes */
	{ "m,db=a\\\\\\,b,k=v v=1", "db", "", "m,k=v v=1", "a\\\\,b", NULL },
	{ "m,db=a\\b v=1", "db", "", "m v=1", "a\\b", NULL },
};

static const char *
span_value(const struct route_span *sp, char *buf, size_t size)
{
	ck_assert(route_tag_value(sp, buf, size));
	return buf;
}

START_TEST(test_cut)
{
	struct route_span	 a, b;
	const char		*body = cuts[_i].body;
	size_t			 len = strlen(body), n;
	bool			 has_a, has_b = false;
	char			 out[256], val[64];

	has_a = route_find_tag(body, len, cuts[_i].dbkey, &a);
	if (cuts[_i].rpkey[0] != '\0')
		has_b = route_find_tag(body, len, cuts[_i].rpkey, &b);
	ck_assert_int_eq(has_a, cuts[_i].db != NULL);
	ck_assert_int_eq(has_b, cuts[_i].rp != NULL);
	if (has_a)
		ck_assert_str_eq(span_value(&a, val, sizeof(val)),
		    cuts[_i].db);
	if (has_b)
		ck_assert_str_eq(span_value(&b, val, sizeof(val)),
		    cuts[_i].rp);
	n = route_cut(body, len, has_a ? &a : NULL, has_b ? &b : NULL, out);
	ck_assert_msg(n == strlen(cuts[_i].want) &&
	    memcmp(out, cuts[_i].want, n) == 0, "got '%.*s', want '%s'",
	    (int)n, out, cuts[_i].want);
}
END_TEST

START_TEST(test_value_too_long)
{
	struct route_span	 sp;
	const char		*body = "m,db=abcdef v=1";
	char			 buf[4];

	ck_assert(route_find_tag(body, strlen(body), "db", &sp));
	ck_assert(!route_tag_value(&sp, buf, sizeof(buf)));
}
END_TEST

START_TEST(test_allowed)
{
	ck_assert(route_allowed("*", "anything"));
	ck_assert(route_allowed("app_*, ops", "app_web"));
	ck_assert(route_allowed("app_*, ops", "ops"));
	ck_assert(route_allowed("app_*,ops ", "ops"));
	ck_assert(!route_allowed("app_*, ops", "opsx"));
	ck_assert(!route_allowed("app_*, ops", "app"));
	ck_assert(route_allowed("metrics_[0-9]", "metrics_7"));
	ck_assert(!route_allowed("metrics_[0-9]", "metrics_x"));
	ck_assert(!route_allowed("", "x"));
	ck_assert(!route_allowed(" , ", "x"));
}
END_TEST

/* Names InfluxDB could never create are refused at the socket. */
START_TEST(test_name_ok)
{
	ck_assert(route_name_ok("app_web"));
	ck_assert(route_name_ok("caf\xc3\xa9 \"q\""));
	ck_assert(!route_name_ok("ev\x1b[31mil"));
	ck_assert(!route_name_ok("cr\rlf"));
	ck_assert(!route_name_ok("del\x7f"));
	ck_assert(!route_name_ok("\t"));
}
END_TEST

/* "#relay" directive lines: what each is, and what it sets. */
static const struct {
	const char		*line;
	enum route_line		 what;
	const char		*db, *rp;	/* NULL: not set */
	bool			 reply;
	bool			 partial_reject;
} directives[] = {
	{ "#relay partial=reject", ROUTE_LINE_DIRECTIVE, NULL, NULL, false,
	    true },
	{ "#relay partial=reject db=a\\\"b rp=", ROUTE_LINE_DIRECTIVE,
	    "a\"b", "", false, true },
	{ "#relay partial=keep", ROUTE_LINE_BAD, NULL, NULL, false, false },
	{ "#relay partial=reject partial=reject", ROUTE_LINE_BAD, NULL, NULL,
	    false, false },
	{ "#relay db=app", ROUTE_LINE_DIRECTIVE, "app", NULL, false, false },
	{ "#relay reply=summary", ROUTE_LINE_DIRECTIVE, NULL, NULL, true, false },
	{ "#relay db=app reply=summary\r", ROUTE_LINE_DIRECTIVE, "app", NULL,
	    true, false },
	{ "#relay reply=", ROUTE_LINE_BAD, NULL, NULL, false, false },
	{ "#relay reply=each", ROUTE_LINE_BAD, NULL, NULL, false, false },
	{ "#relay reply=summary reply=summary", ROUTE_LINE_BAD, NULL, NULL,
	    false, false },
	{ "#relay rp=week db=app", ROUTE_LINE_DIRECTIVE, "app", "week", false, false },
	{ "#relay\tdb=app  rp=\r", ROUTE_LINE_DIRECTIVE, "app", "", false, false },
	{ "#relay db=", ROUTE_LINE_DIRECTIVE, "", NULL, false, false },
	{ "#relay db=my\\ db", ROUTE_LINE_DIRECTIVE, "my db", NULL, false, false },
	{ "#relay db=a\\=b,c", ROUTE_LINE_DIRECTIVE, "a=b,c", NULL, false, false },
	{ "# relay db=app", ROUTE_LINE_DATA, NULL, NULL, false, false },
	{ "#relayed db=app", ROUTE_LINE_DATA, NULL, NULL, false, false },
	{ "cpu v=1", ROUTE_LINE_DATA, NULL, NULL, false, false },
	{ "#rel", ROUTE_LINE_DATA, NULL, NULL, false, false },
	{ "#relay", ROUTE_LINE_BAD, NULL, NULL, false, false },
	{ "#relay db", ROUTE_LINE_BAD, NULL, NULL, false, false },
	{ "#relay host=a", ROUTE_LINE_BAD, NULL, NULL, false, false },
	{ "#relay db=a db=b", ROUTE_LINE_BAD, NULL, NULL, false, false },
	{ "#relay db=a\x01", ROUTE_LINE_BAD, NULL, NULL, false, false },
};

START_TEST(test_directive)
{
	struct route_directive	 d;
	const char		*line = directives[_i].line;

	ck_assert_int_eq(route_directive(line, strlen(line), &d),
	    directives[_i].what);
	if (directives[_i].what != ROUTE_LINE_DIRECTIVE)
		return;
	ck_assert_int_eq(d.has_db, directives[_i].db != NULL);
	ck_assert_int_eq(d.has_rp, directives[_i].rp != NULL);
	ck_assert_int_eq(d.reply, directives[_i].reply);
	ck_assert_int_eq(d.partial_reject, directives[_i].partial_reject);
	if (d.has_db)
		ck_assert_str_eq(d.db, directives[_i].db);
	if (d.has_rp)
		ck_assert_str_eq(d.rp, directives[_i].rp);
}
END_TEST

/* A name longer than ROUTE_MAX_NAME is refused, not cut. */
START_TEST(test_directive_long)
{
	struct route_directive	 d;
	char			 line[ROUTE_MAX_NAME + 32];

	snprintf(line, sizeof(line), "#relay db=%0*d", ROUTE_MAX_NAME, 7);
	ck_assert_int_eq(route_directive(line, strlen(line), &d),
	    ROUTE_LINE_DIRECTIVE);
	snprintf(line, sizeof(line), "#relay db=%0*d", ROUTE_MAX_NAME + 1, 7);
	ck_assert_int_eq(route_directive(line, strlen(line), &d),
	    ROUTE_LINE_BAD);
}
END_TEST

static Suite *
route_suite(void)
{
	Suite	*s = suite_create("route");
	TCase	*tc = tcase_create("route");

	tcase_add_loop_test(tc, test_cut, 0, sizeof(cuts) / sizeof(cuts[0]));
	tcase_add_test(tc, test_value_too_long);
	tcase_add_test(tc, test_allowed);
	tcase_add_test(tc, test_name_ok);
	tcase_add_loop_test(tc, test_directive, 0,
	    sizeof(directives) / sizeof(directives[0]));
	tcase_add_test(tc, test_directive_long);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(route_suite)
