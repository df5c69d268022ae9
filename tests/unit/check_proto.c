/*
 * Line protocol: accepted lines with their parts, rejected lines with
 * their reasons.  The exact InfluxDB 1.x grammar is pinned down further
 * by the differential corpus test against a real influxd.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "proto.h"
#include "suites.h"

static const struct {
	const char	*line;
	const char	*body;		/* expected body, NULL = whole line */
	int		 has_time;
	long long	 time;
	unsigned	 ntags;
	unsigned	 nfields;
} good[] = {
	{ "cpu value=1", NULL, 0, 0, 0, 1 },
	{ "cpu,host=a,region=eu value=1,b=2i 1700000000000000000",
	    "cpu,host=a,region=eu value=1,b=2i", 1, 1700000000000000000, 2, 2 },
	{ "  cpu value=1 -5", "cpu value=1", 1, -5, 0, 1 },
	{ "cpu value=1 10   ", "cpu value=1", 1, 10, 0, 1 },
	{ "cpu value=1\r", "cpu value=1", 0, 0, 0, 1 },
	{ "my\\ cpu,host\\,x=a\\ b f\\=k=\"a \\\"q\\\" , b\"", NULL, 0, 0, 1,
	    1 },
	{ "m s=\"with space, comma\",i=-9223372036854775808i", NULL, 0, 0, 0,
	    2 },
	{ "m a=t,b=T,c=true,d=True,e=TRUE,f=f,g=F,h=false,i=False,j=FALSE",
	    NULL, 0, 0, 0, 10 },
	{ "m a=1.,b=.5,c=1e5,d=-1.5E-3,e=1e+5", NULL, 0, 0, 0, 5 },
	{ "m=x value=1", NULL, 0, 0, 0, 1 },
};

static const struct {
	const char		*line;
	enum proto_status	 want;
} bad[] = {
	{ ",host=a value=1", PROTO_ERR_MEASUREMENT },
	{ "cpu", PROTO_ERR_FIELDS },
	{ "cpu ", PROTO_ERR_FIELDS },
	{ "cpu,host=a", PROTO_ERR_FIELDS },
	{ "cpu,=a value=1", PROTO_ERR_TAG_KEY },
	{ "cpu,host= value=1", PROTO_ERR_TAG_VALUE },
	{ "cpu,host value=1", PROTO_ERR_TAG_VALUE },
	{ "m,t=a,t=b v=1", PROTO_ERR_DUPLICATE_TAG },
	{ "m,a=1,b=2,a=3 v=1", PROTO_ERR_DUPLICATE_TAG },
	{ "m,a\\ b=1,a\\ b=2 v=1", PROTO_ERR_DUPLICATE_TAG },
	{ "cpu =1", PROTO_ERR_FIELD_KEY },
	{ "cpu value=", PROTO_ERR_FIELD_VALUE },
	{ "cpu value", PROTO_ERR_FIELD_VALUE },
	{ "cpu value=\"open", PROTO_ERR_STRING },
	{ "cpu value=NaN", PROTO_ERR_NUMBER },
	{ "cpu value=Inf", PROTO_ERR_NUMBER },
	{ "cpu value=+1", PROTO_ERR_NUMBER },
	{ "cpu value=1.2.3", PROTO_ERR_NUMBER },
	{ "cpu value=yes", PROTO_ERR_NUMBER },
	{ "cpu value=1e", PROTO_ERR_NUMBER },
	{ "cpu value=1e400", PROTO_ERR_NUMBER },
	{ "cpu value=9223372036854775808i", PROTO_ERR_INTEGER_RANGE },
	{ "cpu value=1.5i", PROTO_ERR_NUMBER },
	{ "cpu value=5u", PROTO_ERR_UNSIGNED },
	{ "cpu value=1 12x", PROTO_ERR_TIMESTAMP },
	{ "cpu value=1 1 2", PROTO_ERR_TIMESTAMP },
	{ "cpu value=1 -", PROTO_ERR_TIMESTAMP },
	{ "cpu value=1 9223372036854775807", PROTO_ERR_TIME_RANGE },
	{ "cpu value=1 99999999999999999999", PROTO_ERR_TIME_RANGE },
};

START_TEST(test_good)
{
	struct proto_point	 pt;
	const char		*line = good[_i].line;
	const char		*body = good[_i].body ? good[_i].body : line;

	ck_assert_msg(proto_parse(line, strlen(line), &pt) == PROTO_OK,
	    "rejected: %s", line);
	ck_assert_uint_eq(pt.body_len, strlen(body));
	ck_assert(memcmp(pt.body, body, pt.body_len) == 0);
	ck_assert_int_eq(pt.has_time, good[_i].has_time);
	if (pt.has_time)
		ck_assert_int_eq(pt.time, good[_i].time);
	ck_assert_uint_eq(pt.ntags, good[_i].ntags);
	ck_assert_uint_eq(pt.nfields, good[_i].nfields);
}
END_TEST

START_TEST(test_bad)
{
	struct proto_point	 pt;
	const char		*line = bad[_i].line;
	enum proto_status	 got = proto_parse(line, strlen(line), &pt);

	ck_assert_msg(got == bad[_i].want, "%s: got '%s', want '%s'", line,
	    proto_strerror(got), proto_strerror(bad[_i].want));
}
END_TEST

/* More tags than the parser tracks on its stack: the slow path. */
START_TEST(test_many_tags)
{
	struct proto_point	 pt;
	char			 line[4096];
	size_t			 n = 0;
	int			 i;

	n += (size_t)snprintf(line + n, sizeof(line) - n, "m");
	for (i = 0; i < 100; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, ",k%d=v", i);
	snprintf(line + n, sizeof(line) - n, " f=1");
	ck_assert_int_eq(proto_parse(line, strlen(line), &pt), PROTO_OK);
	ck_assert_uint_eq(pt.ntags, 100);
	/* a duplicate of the first key, past the tracked ones */
	snprintf(line + n, sizeof(line) - n, ",k0=w f=1");
	ck_assert_int_eq(proto_parse(line, strlen(line), &pt),
	    PROTO_ERR_DUPLICATE_TAG);
	/* a duplicate among the untracked ones */
	snprintf(line + n, sizeof(line) - n, ",k99=w f=1");
	ck_assert_int_eq(proto_parse(line, strlen(line), &pt),
	    PROTO_ERR_DUPLICATE_TAG);
}
END_TEST

START_TEST(test_skip)
{
	struct proto_point	 pt;

	ck_assert_int_eq(proto_parse("", 0, &pt), PROTO_SKIP);
	ck_assert_int_eq(proto_parse("   ", 3, &pt), PROTO_SKIP);
	ck_assert_int_eq(proto_parse("\r", 1, &pt), PROTO_SKIP);
	ck_assert_int_eq(proto_parse("# cpu value=1", 13, &pt), PROTO_SKIP);
	ck_assert_int_eq(proto_parse("  # x", 5, &pt), PROTO_SKIP);
}
END_TEST

START_TEST(test_embedded_nul_is_not_a_terminator)
{
	struct proto_point	 pt;
	static const char	 line[] = "cpu value=1\0garbage";

	ck_assert_int_ne(proto_parse(line, sizeof(line) - 1, &pt), PROTO_OK);
}
END_TEST

START_TEST(test_time_conversion)
{
	int64_t	 ns;

	ck_assert(proto_time_to_ns(1700000000, 1000000000, &ns));
	ck_assert_int_eq(ns, 1700000000000000000LL);
	ck_assert(!proto_time_to_ns(10000000000LL, 1000000000, &ns));
	ck_assert(proto_time_to_ns(-5, 1000, &ns));
	ck_assert_int_eq(ns, -5000);
}
END_TEST

Suite *
proto_suite(void)
{
	Suite	*s = suite_create("proto");
	TCase	*tc = tcase_create("parse");

	tcase_add_loop_test(tc, test_good, 0, sizeof(good) / sizeof(good[0]));
	tcase_add_loop_test(tc, test_bad, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_many_tags);
	tcase_add_test(tc, test_skip);
	tcase_add_test(tc, test_embedded_nul_is_not_a_terminator);
	tcase_add_test(tc, test_time_conversion);
	suite_add_tcase(s, tc);
	return s;
}
