/*
 * Line protocol: accepted lines with their parts, rejected lines with
 * their reasons.  The exact InfluxDB 1.x grammar is pinned down further
 * by the differential corpus test against a real influxd.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "proto.h"

/*
 * Every verdict below was checked against a real influxd 1.6.  C string
 * escapes: "\\" is one backslash on the wire.
 */
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
	/* leading blanks are kept: they steer InfluxDB's line scanner */
	{ "  cpu value=1 -5", "  cpu value=1", 1, -5, 0, 1 },
	{ "\tcpu value=1", NULL, 0, 0, 0, 1 },
	{ "cpu value=1 10   ", "cpu value=1", 1, 10, 0, 1 },
	{ "cpu value=1  10", "cpu value=1", 1, 10, 0, 1 },
	{ "cpu value=1 \t10", "cpu value=1", 1, 10, 0, 1 },
	{ "cpu value=1 \t", "cpu value=1", 0, 0, 0, 1 },
	{ "cpu value=1\r", "cpu value=1", 0, 0, 0, 1 },
	{ "cpu  \tvalue=1", NULL, 0, 0, 0, 1 },
	{ "cpu value=1 -0", "cpu value=1", 1, 0, 0, 1 },
	{ "cpu value=1 0005", "cpu value=1", 1, 5, 0, 1 },
	{ "cpu value=1 -9223372036854775806", "cpu value=1", 1,
	    -9223372036854775806LL, 0, 1 },
	{ "cpu value=1 9223372036854775806", "cpu value=1", 1,
	    9223372036854775806LL, 0, 1 },
	{ "cpu value=1 0000000000000000000000042", "cpu value=1", 1, 42, 0,
	    1 },
	{ "cpu value=1 -00000000000000000000001", "cpu value=1", 1, -1, 0,
	    1 },
	{ "my\\ cpu,host\\,x=a\\ b f\\=k=\"a \\\"q\\\" , b\"", NULL, 0, 0, 1,
	    1 },
	{ "m s=\"with space, comma\",i=-9223372036854775808i", NULL, 0, 0, 0,
	    2 },
	{ "m i=9223372036854775807i,j=-0i,k=007i", NULL, 0, 0, 0, 3 },
	{ "m a=t,b=T,c=true,d=True,e=TRUE,f=f,g=F,h=false,i=False,j=FALSE",
	    NULL, 0, 0, 0, 10 },
	{ "m a=1.,b=.5,c=1e5,d=-1.5E-3,e=1e+5,f=-.5,g=00.5,h=1.e5", NULL, 0,
	    0, 0, 8 },
	{ "m a=1e308,b=1e-400,c=12345678901234567890123456789", NULL, 0, 0,
	    0, 3 },
	{ "m=x value=1", NULL, 0, 0, 0, 1 },
	{ "m\\=x,t\\=k=v\\=x v=1", NULL, 0, 0, 1, 1 },
	{ "m\\\\ x v=1", NULL, 0, 0, 0, 1 },	/* "\\ " is escaped too */
	{ "m,t=a\\\\ x v=1", NULL, 0, 0, 1, 1 },
	{ "m,t== v=1", NULL, 0, 0, 1, 1 },	/* a value may start with = */
	{ "m,t=\\  v=1", NULL, 0, 0, 1, 1 },
	{ "m,t=a\tb v=1", NULL, 0, 0, 1, 1 },	/* tab is no separator */
	{ "m\tx v=1", NULL, 0, 0, 0, 1 },
	{ "m a\\ b=1,a\\,b=2,a\\=b=3,\\ =4", NULL, 0, 0, 0, 4 },
	{ "m \"a\"=1,a\"=2", NULL, 0, 0, 0, 2 },
	{ "m a=\"x\"y,b=1", NULL, 0, 0, 0, 2 },	/* junk after a string */
	{ "m a=\"x\"\"y\"", NULL, 0, 0, 0, 1 },
	{ "m a=\"\"", NULL, 0, 0, 0, 1 },
	{ "m a=\"\\n\\q\\\\\"", NULL, 0, 0, 0, 1 },
	{ "m a=\"line1\nline2\"", NULL, 0, 0, 0, 1 },
	{ "m a=1,a=2", NULL, 0, 0, 0, 2 },	/* same type: last wins */
	{ "m a=1,time=1,time=\"x\"", NULL, 0, 0, 0, 3 },
	{ "time v=1", NULL, 0, 0, 0, 1 },
	{ "m,t=\xff v=1,s=\"\xff\"", NULL, 0, 0, 1, 2 },
	{ "m\xc3\xa9 \xc3\xa9=1", NULL, 0, 0, 0, 1 },
	{ "m a\\\\=1,b=2", NULL, 0, 0, 0, 1 },	/* key "a\\=1,b" */
	{ "m \t=1", NULL, 0, 0, 0, 1 },	/* an empty key InfluxDB takes */
};

static const struct {
	const char		*line;
	enum proto_status	 want;
} bad[] = {
	{ ",host=a value=1", PROTO_ERR_MEASUREMENT },
	{ "cpu", PROTO_ERR_FIELDS },
	{ "cpu ", PROTO_ERR_FIELD_FORMAT },
	{ "cpu,host=a", PROTO_ERR_FIELDS },
	{ "m\\ v=1", PROTO_ERR_FIELDS },
	{ "m\\\\ v=1", PROTO_ERR_FIELDS },
	{ "cpu,=a value=1", PROTO_ERR_TAG_KEY },
	{ "m,t=a, v=1", PROTO_ERR_TAG_KEY },
	{ "cpu,host= value=1", PROTO_ERR_TAG_VALUE },
	{ "cpu,host value=1", PROTO_ERR_TAG_VALUE },
	{ "m,t=a=b v=1", PROTO_ERR_TAG_FORMAT },
	{ "m,t=a\\\\ v=1", PROTO_ERR_TAG_FORMAT },
	{ "m,t=a,t=b v=1", PROTO_ERR_DUPLICATE_TAG },
	{ "m,a=1,b=2,a=3 v=1", PROTO_ERR_DUPLICATE_TAG },
	{ "m,a\\ b=1,a\\ b=2 v=1", PROTO_ERR_DUPLICATE_TAG },
	{ "m,time=a v=1", PROTO_ERR_TIME_KEY },
	{ "cpu =1", PROTO_ERR_FIELD_KEY },
	{ "m a=1,=2", PROTO_ERR_FIELD_KEY },
	{ "cpu value=", PROTO_ERR_FIELD_VALUE },
	{ "m a=,b=1", PROTO_ERR_FIELD_VALUE },
	{ "cpu value", PROTO_ERR_FIELD_FORMAT },
	{ "m v=1,", PROTO_ERR_FIELD_FORMAT },
	{ "m a=1,,b=2", PROTO_ERR_FIELD_FORMAT },
	{ "m a=1,\\=2", PROTO_ERR_FIELD_FORMAT },
	{ "m a\\\\=1", PROTO_ERR_FIELD_FORMAT },	/* walkFields */
	{ "cpu value=\"open", PROTO_ERR_STRING },
	{ "m a=\"x\\\",b=1", PROTO_ERR_STRING },
	{ "cpu value=NaN", PROTO_ERR_NUMBER },
	{ "cpu value=nan", PROTO_ERR_NUMBER },
	{ "cpu value=-Inf", PROTO_ERR_NUMBER },
	{ "cpu value=Inf", PROTO_ERR_BOOLEAN },
	{ "cpu value=+1", PROTO_ERR_BOOLEAN },
	{ "cpu value=1.2.3", PROTO_ERR_NUMBER },
	{ "cpu value=yes", PROTO_ERR_BOOLEAN },
	{ "m a=tRUE", PROTO_ERR_BOOLEAN },
	{ "m a=True1", PROTO_ERR_BOOLEAN },
	{ "cpu value=1e", PROTO_ERR_NUMBER },
	{ "m a=1e+", PROTO_ERR_NUMBER },
	{ "m a=.e5", PROTO_ERR_NUMBER },
	{ "m a=1e5.5", PROTO_ERR_NUMBER },
	{ "m a=1e5e5", PROTO_ERR_NUMBER },
	{ "cpu value=1e400", PROTO_ERR_NUMBER },
	{ "m a=-2e308", PROTO_ERR_NUMBER },
	{ "m a=-", PROTO_ERR_NUMBER },
	{ "m a=-.", PROTO_ERR_NUMBER },
	{ "m a=.", PROTO_ERR_NUMBER },
	{ "m a=--1", PROTO_ERR_NUMBER },
	{ "m a=1-2", PROTO_ERR_NUMBER },
	{ "m a=0x10", PROTO_ERR_NUMBER },
	{ "m a=1i5", PROTO_ERR_NUMBER },
	{ "m a=12ii", PROTO_ERR_NUMBER },
	{ "m a=-i", PROTO_ERR_NUMBER },
	{ "cpu value=9223372036854775808i", PROTO_ERR_INTEGER_RANGE },
	{ "m a=-9223372036854775809i", PROTO_ERR_INTEGER_RANGE },
	{ "cpu value=1.5i", PROTO_ERR_NUMBER },
	{ "cpu value=5u", PROTO_ERR_UNSIGNED },
	{ "m a=1\t", PROTO_ERR_NUMBER },
	{ "m a=1\\", PROTO_ERR_NUMBER },
	{ "cpu value=1 12x", PROTO_ERR_TIMESTAMP },
	{ "cpu value=1 1 2", PROTO_ERR_TIMESTAMP },
	{ "cpu value=1 -", PROTO_ERR_TIMESTAMP },
	{ "m a=1 +5", PROTO_ERR_TIMESTAMP },
	{ "m a=1 5\t", PROTO_ERR_TIMESTAMP },
	{ "m a=1 5 \t", PROTO_ERR_TIMESTAMP },
	{ "m a=1\t5", PROTO_ERR_NUMBER },
	{ "m a=\"x\" y", PROTO_ERR_TIMESTAMP },
	{ "cpu value=1 9223372036854775807", PROTO_ERR_TIME_RANGE },
	{ "cpu value=1 -9223372036854775807", PROTO_ERR_TIME_RANGE },
	{ "cpu value=1 99999999999999999999", PROTO_ERR_TIME_RANGE },
	{ "cpu value=1 9999999999999999999", PROTO_ERR_TIME_RANGE },
	{ "cpu value=1 -9223372036854775808", PROTO_ERR_TIME_RANGE },
	{ "cpu value=1 -9999999999999999999", PROTO_ERR_TIME_RANGE },
	{ "cpu value=1 18446744073709551617", PROTO_ERR_TIME_RANGE },
	{ "cpu value=1 09223372036854775807", PROTO_ERR_TIME_RANGE },
	{ "m time=1", PROTO_ERR_TIME_KEY },
	{ "m time=1,time=2", PROTO_ERR_TIME_KEY },
	{ "m a=1,a=\"x\"", PROTO_ERR_TYPE_CONFLICT },
	{ "m a=1i,a=2", PROTO_ERR_TYPE_CONFLICT },
	{ "m a=t,a=1", PROTO_ERR_TYPE_CONFLICT },
	{ "m time=1,a=1,a=\"x\"", PROTO_ERR_TYPE_CONFLICT },
	{ "m \\\"=1,\"=2i", PROTO_ERR_TYPE_CONFLICT },	/* unescaped keys */
	{ "m\xff v=1", PROTO_ERR_UTF8 },
	{ "m\xc3 v=1", PROTO_ERR_UTF8 },
	{ "m\xed\xa0\x80 v=1", PROTO_ERR_UTF8 },	/* a surrogate */
	{ "m\xc0\xaf v=1", PROTO_ERR_UTF8 },	/* overlong */
	{ "m \xff=1", PROTO_ERR_UTF8 },
	/* bytes after a backslash are stepped over unseen by the scan */
	{ "m\\\xff v=1", PROTO_ERR_UTF8 },
	{ "\xffm v=1", PROTO_ERR_UTF8 },
	{ "m a\\\xff=1", PROTO_ERR_UTF8 },
	{ "m,t=\xff a\\\xc3=1", PROTO_ERR_UTF8 },
	{ "m a=1,\xc3=2", PROTO_ERR_UTF8 },
	/* InfluxDB takes these alone, not followed by another line */
	{ "m a=\"x\"\\", PROTO_ERR_AMBIGUOUS },
	{ " t=i\"x y=1.", PROTO_ERR_AMBIGUOUS },
	{ "a\\\\ b=\"c d=1", PROTO_ERR_AMBIGUOUS },
	{ "m a=1 5\nm b=2 6", PROTO_ERR_TIMESTAMP },
};

/* proto_line_end: where InfluxDB's line scanner ends the first line. */
static const struct {
	const char	*buf;
	int		 end;		/* offset of the '\n', -1 = none yet */
} frames[] = {
	{ "cpu v=1\nnext", 7 },
	{ "cpu v=1", -1 },
	{ "\n", 0 },
	{ "m s=\"a\nb\" 1\nnext", 11 },
	{ "m s=\"a\\\"\nb\"\nx", 11 },
	{ "m s=\"open\n", -1 },
	{ "m,t=a\\\nb v=1\nx", 12 },	/* an escaped newline */
	{ "m v=1\\", -1 },		/* the escape needs one more byte */
	{ "m,t=\"a\nb\" v=1", 6 },	/* quotes mean nothing in tags */
	{ "m a=1,\"b\nc\"=2\n", 8 },	/* nor in field keys */
	{ "  m=x=\"y\nz\" v=1\n", 15 },	/* a leading space starts fields */
	{ "m=x=\"y\nz\" v=1\n", 6 },
	{ "# a=\"x\ny\"\nz", 9 },
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
START_TEST(test_line_end)
{
	const char	*buf = frames[_i].buf;
	const char	*nl = proto_line_end(buf, strlen(buf));

	ck_assert_msg((nl == NULL ? -1 : (int)(nl - buf)) == frames[_i].end,
	    "%s: got %d, want %d", buf, nl == NULL ? -1 : (int)(nl - buf),
	    frames[_i].end);
}
END_TEST

/* Measurement plus tags plus 4 plus field key: at most 65535 bytes. */
START_TEST(test_key_length)
{
	static char		 line[70000];
	struct proto_point	 pt;
	size_t			 n = 65535 - 4 - 1;

	memset(line, 'x', n);
	memcpy(line + n, " v=1", 4);
	ck_assert_int_eq(proto_parse(line, n + 4, &pt), PROTO_OK);
	memset(line, 'x', n + 1);
	memcpy(line + n + 1, " v=1", 4);
	ck_assert_int_eq(proto_parse(line, n + 5, &pt), PROTO_ERR_KEY_LENGTH);
	memset(line, 'x', 65536);
	memcpy(line + 65536, " v=1", 4);
	ck_assert_int_eq(proto_parse(line, 65540, &pt), PROTO_ERR_KEY_LENGTH);
}
END_TEST

/* More fields than the parser tracks on its stack: the slow path. */
START_TEST(test_many_fields)
{
	struct proto_point	 pt;
	char			 line[4096];
	size_t			 n = 0;
	int			 i;

	n += (size_t)snprintf(line + n, sizeof(line) - n, "m f0=1");
	for (i = 1; i < 100; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, ",f%d=%di",
		    i, i);
	ck_assert_int_eq(proto_parse(line, strlen(line), &pt), PROTO_OK);
	ck_assert_uint_eq(pt.nfields, 100);
	snprintf(line + n, sizeof(line) - n, ",f0=1i");
	ck_assert_int_eq(proto_parse(line, strlen(line), &pt),
	    PROTO_ERR_TYPE_CONFLICT);
	snprintf(line + n, sizeof(line) - n, ",f99=1");
	ck_assert_int_eq(proto_parse(line, strlen(line), &pt),
	    PROTO_ERR_TYPE_CONFLICT);
	snprintf(line + n, sizeof(line) - n, ",f99=2i,f0=3");
	ck_assert_int_eq(proto_parse(line, strlen(line), &pt), PROTO_OK);
}
END_TEST

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
	ck_assert_int_eq(proto_parse("\t#x", 3, &pt), PROTO_SKIP);
	ck_assert_int_eq(proto_parse("\0\0", 2, &pt), PROTO_SKIP);
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

START_TEST(test_format_tail)
{
	static const struct { int64_t t; const char *want; } cases[] = {
		{ 0, " 0\n" }, { 7, " 7\n" }, { -1, " -1\n" },
		{ 10, " 10\n" }, { 99, " 99\n" }, { 100, " 100\n" },
		{ -1005, " -1005\n" }, { 123456789, " 123456789\n" },
		{ 1700000000000001000LL, " 1700000000000001000\n" },
		{ INT64_MAX, " 9223372036854775807\n" },
		{ INT64_MIN, " -9223372036854775808\n" },
	};
	char	 buf[PROTO_TAIL_MAX];
	size_t	 i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = proto_format_tail(buf, cases[i].t);
		ck_assert_uint_eq(n, strlen(cases[i].want));
		ck_assert(memcmp(buf, cases[i].want, n) == 0);
	}
}
END_TEST

/* Timestamps written as the relay writes them are forwarded as written. */
static const struct {
	const char	*line;
	const char	*text;		/* NULL: reformatted */
} time_texts[] = {
	{ "m a=1 1700000000000001000", "1700000000000001000" },
	{ "m a=1  -42  ", "-42" },
	{ "m a=1 0", "0" },
	{ "m a=1 -9223372036854775806", "-9223372036854775806" },
	{ "m a=1 -0", NULL },
	{ "m a=1 007", NULL },
	{ "m a=1 -07", NULL },
	{ "m a=1", NULL },
};

START_TEST(test_time_text)
{
	struct proto_point	 pt;
	char			 tail[PROTO_TAIL_MAX];
	const char		*want = time_texts[_i].text;
	size_t			 n;

	ck_assert_int_eq(proto_parse(time_texts[_i].line,
	    strlen(time_texts[_i].line), &pt), PROTO_OK);
	if (want == NULL) {
		ck_assert_ptr_null(pt.time_text);
		return;
	}
	ck_assert_uint_eq(pt.time_len, strlen(want));
	ck_assert(memcmp(pt.time_text, want, pt.time_len) == 0);
	/* the promise ingest relies on */
	n = proto_format_tail(tail, pt.time);
	ck_assert_uint_eq(n, pt.time_len + 2);
	ck_assert(memcmp(tail + 1, want, pt.time_len) == 0);
}
END_TEST

/* A plain line ends at its first '\n' wherever it sits in a stream. */
static const struct {
	const char	*line;
	bool		 plain;
} plains[] = {
	{ "cpu,host=a v=1,w=2i 17", true },
	{ "  cpu v=t", true },
	{ "cpu s=\"x\"", false },
	{ "cpu\\ x v=1", false },
	{ "cpu,h=a\\,b v=1", false },
	{ "cpu v\\=x=1", false },
	{ "cpu v=1 \n2", false },
};

START_TEST(test_plain)
{
	struct proto_point	 pt;

	ck_assert_int_eq(proto_parse(plains[_i].line, strlen(plains[_i].line),
	    &pt), PROTO_OK);
	ck_assert_int_eq(pt.plain, plains[_i].plain);
}
END_TEST

/*
 * The scanners look at 64 bytes at a time: every verdict above must hold
 * wherever a line's separators fall against those blocks.  A longer
 * measurement name shifts them all; each line is parsed from a heap
 * copy of its exact size, so that a sanitizer sees any read past it.
 */
static void
check_shifted(const char *line, enum proto_status want,
    const struct proto_point *ref)
{
	struct proto_point	 pt;
	size_t			 len = strlen(line), k;
	char			*buf;

	if (!((line[0] >= 'a' && line[0] <= 'z') || (line[0] >= 'A' &&
	    line[0] <= 'Z')) || want == PROTO_ERR_KEY_LENGTH)
		return;
	for (k = 1; k <= 130; k++) {
		ck_assert((buf = malloc(len + k)) != NULL);
		memset(buf, 'x', k);
		memcpy(buf + k, line, len);
		ck_assert_msg(proto_parse(buf, len + k, &pt) == want,
		    "%s shifted by %zu: '%s'", line, k,
		    proto_strerror(proto_parse(buf, len + k, &pt)));
		if (want == PROTO_OK) {
			ck_assert_uint_eq(pt.body_len, ref->body_len + k);
			ck_assert_int_eq(pt.has_time, ref->has_time);
			ck_assert(!pt.has_time || pt.time == ref->time);
			ck_assert_uint_eq(pt.ntags, ref->ntags);
			ck_assert_uint_eq(pt.nfields, ref->nfields);
			ck_assert_int_eq(pt.plain, ref->plain);
		}
		free(buf);
	}
}

START_TEST(test_block_boundaries)
{
	struct proto_point	 ref;
	size_t			 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert(proto_parse(good[i].line, strlen(good[i].line),
		    &ref) == PROTO_OK);
		check_shifted(good[i].line, PROTO_OK, &ref);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_shifted(bad[i].line, bad[i].want, NULL);
}
END_TEST

static Suite *
proto_suite(void)
{
	Suite	*s = suite_create("proto");
	TCase	*tc = tcase_create("parse");

	tcase_add_loop_test(tc, test_good, 0, sizeof(good) / sizeof(good[0]));
	tcase_add_loop_test(tc, test_bad, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_loop_test(tc, test_line_end, 0,
	    sizeof(frames) / sizeof(frames[0]));
	tcase_add_test(tc, test_many_tags);
	tcase_add_test(tc, test_many_fields);
	tcase_add_test(tc, test_key_length);
	tcase_add_test(tc, test_skip);
	tcase_add_test(tc, test_format_tail);
	tcase_add_loop_test(tc, test_plain, 0, sizeof(plains) /
	    sizeof(plains[0]));
	tcase_add_loop_test(tc, test_time_text, 0,
	    sizeof(time_texts) / sizeof(time_texts[0]));
	tcase_add_test(tc, test_embedded_nul_is_not_a_terminator);
	tcase_add_test(tc, test_time_conversion);
	tcase_add_test(tc, test_block_boundaries);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(proto_suite)
