/*
 * key=value translation: messages with the line protocol they become,
 * rejected messages with their reasons, RFC 3339 times.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "kv.h"
#include "proto.h"

#define S_NS	0	/* the DESIGN example's spec, precision ns */
#define S_SEC	1	/* precision s, other key names, no routing */

static const struct kv_spec specs[] = {
	[S_NS] = { "measurement", "time", "db", "rp", "service,env, host",
	    1 },
	[S_SEC] = { "m", "ts", "", "", "", 1000000000 },
};

static const struct {
	int		 spec;
	const char	*msg;
	const char	*body;
	int		 has_time;
	long long	 time;
	const char	*db;
	const char	*rp;
} good[] = {
	/* the DESIGN example */
	{ S_NS, "measurement=deploy db=ops service=api env=prod duration=3.2 "
	    "ok=true", "deploy,service=api,env=prod duration=3.2,ok=true", 0,
	    0, "ops", NULL },
	/* key order does not matter; typing */
	{ S_NS, "n=12i u=-5i f=1 g=-1.5E-3 h=.5 b=false s=hello "
	    "measurement=m", "m n=12i,u=-5i,f=1,g=-1.5E-3,h=.5,b=false,"
	    "s=\"hello\"", 0, 0, NULL, NULL },
	/* anything else is a string: other bool spellings, +1, NaN, 1.2.3 */
	{ S_NS, "measurement=m a=True b=t c=+1 d=NaN e=1.2.3 f=12x g=-5u "
	    "h=0x10 i=1e j=12ii", "m a=\"True\",b=\"t\",c=\"+1\",d=\"NaN\","
	    "e=\"1.2.3\",f=\"12x\",g=\"-5u\",h=\"0x10\",i=\"1e\","
	    "j=\"12ii\"", 0, 0, NULL, NULL },
	/* quoted values are strings; escapes; empty value */
	{ S_NS, "measurement=m a=\"12\" b=\"say \\\"hi\\\"\" c=\"C:\\\\dir\" "
	    "d=\"a\\nb\" e= f=\"\"", "m a=\"12\",b=\"say \\\"hi\\\"\","
	    "c=\"C:\\\\dir\",d=\"a\\\\nb\",e=\"\",f=\"\"", 0, 0, NULL, NULL },
	/* line-protocol escaping of names and tag values */
	{ S_NS, "measurement=\"disk io,x=y\" host=\"web 1,a=b\" "
	    "f,x=1 ok=\"t=1\"", "disk\\ io\\,x=y,host=web\\ 1\\,a\\=b "
	    "f\\,x=1,ok=\"t=1\"", 0, 0, NULL, NULL },
	/* unicode, literal backslashes that stay unambiguous */
	{ S_NS, "measurement=µ host=a\\b v=ünï", "µ,host=a\\b v=\"ünï\"", 0,
	    0, NULL, NULL },
	/* empty tag values are left out; tabs and CR */
	{ S_NS, "measurement=m\thost= env=\"\"  v=1\r", "m v=1", 0, 0, NULL,
	    NULL },
	/* time: integer in the precision, RFC 3339 */
	{ S_NS, "measurement=m v=1 time=1700000000000000001",
	    "m v=1", 1, 1700000000000000001LL, NULL, NULL },
	{ S_NS, "measurement=m v=1 time=-5", "m v=1", 1, -5, NULL, NULL },
	{ S_NS, "measurement=m v=1 time=2023-11-14T22:13:20Z", "m v=1", 1,
	    1700000000000000000LL, NULL, NULL },
	{ S_NS, "measurement=m v=1 time=\"2023-11-14 23:13:20.5+01:00\"",
	    "m v=1", 1, 1700000000500000000LL, NULL, NULL },
	{ S_SEC, "ts=1700000000 m=cpu v=1", "cpu v=1", 1,
	    1700000000000000000LL, NULL, NULL },
	/* routing keys, quoted; without routing keys db is a field */
	{ S_NS, "measurement=m rp=\"one week\" db=\"my db\" v=1", "m v=1", 0,
	    0, "my db", "one week" },
	{ S_NS, "measurement=m db= v=1", "m v=1", 0, 0, NULL, NULL },
	{ S_SEC, "m=x db=ops rp=r v=1", "x db=\"ops\",rp=\"r\",v=1", 0, 0,
	    NULL, NULL },
};

static const struct {
	int		 spec;
	const char	*msg;
	enum kv_status	 want;
} bad[] = {
	{ S_NS, "v=1", KV_ERR_MEASUREMENT },
	{ S_NS, "measurement= v=1", KV_ERR_MEASUREMENT },
	{ S_NS, "measurement=\"\" v=1", KV_ERR_MEASUREMENT },
	{ S_NS, "measurement=#m v=1", KV_ERR_MEASUREMENT },
	{ S_NS, "measurement=\"\tm\" v=1", KV_ERR_MEASUREMENT },
	{ S_NS, "measurement=m", KV_ERR_FIELDS },
	{ S_NS, "measurement=m host=a db=x time=1", KV_ERR_FIELDS },
	{ S_NS, "measurement=m v", KV_ERR_PAIR },
	{ S_NS, "measurement=m =1", KV_ERR_PAIR },
	{ S_NS, "measurement=m v=\"open", KV_ERR_PAIR },
	{ S_NS, "measurement=m v=\"a\"b", KV_ERR_PAIR },
	{ S_NS, "measurement=m v=a\"b", KV_ERR_PAIR },
	{ S_NS, "measurement=m \"k\"=1", KV_ERR_PAIR },
	{ S_NS, "measurement=m v=1 v=2", KV_ERR_DUPLICATE },
	{ S_NS, "measurement=m measurement=n v=1", KV_ERR_DUPLICATE },
	{ S_NS, "measurement=m v=\"a\001b\"", KV_ERR_VALUE },
	{ S_NS, "measurement=m v=\xff", KV_ERR_VALUE },
	{ S_NS, "measurement=m v=\xc0\xaf", KV_ERR_VALUE },	/* overlong */
	{ S_NS, "measurement=m v=\xed\xa0\x80", KV_ERR_VALUE },	/* surrogate */
	{ S_NS, "measurement=m v=\xe2\x82", KV_ERR_VALUE },	/* cut */
	{ S_NS, "measurement=m k\x7f=1", KV_ERR_KEY },
	{ S_NS, "measurement=m v=9223372036854775808i",
	    KV_ERR_INTEGER_RANGE },
	{ S_NS, "measurement=m v=-9223372036854775809i",
	    KV_ERR_INTEGER_RANGE },
	{ S_NS, "measurement=m v=5u", KV_ERR_UNSIGNED },
	{ S_NS, "measurement=m v=1e400", KV_ERR_NUMBER_RANGE },
	{ S_NS, "measurement=m host=a\\ v=1", KV_ERR_BACKSLASH },
	{ S_NS, "measurement=m host=\"a\\\\ b\" v=1", KV_ERR_BACKSLASH },
	{ S_NS, "measurement=m\\ v=1", KV_ERR_BACKSLASH },
	{ S_NS, "measurement=m a\\=1", KV_ERR_BACKSLASH },
	{ S_NS, "measurement=m v=1 time=", KV_ERR_TIME },
	{ S_NS, "measurement=m v=1 time=yesterday", KV_ERR_TIME },
	{ S_NS, "measurement=m v=1 time=2023-02-29T00:00:00Z", KV_ERR_TIME },
	{ S_NS, "measurement=m v=1 time=2023-01-01T24:00:00Z", KV_ERR_TIME },
	{ S_NS, "measurement=m v=1 time=2023-01-01T00:00:00", KV_ERR_TIME },
	{ S_NS, "measurement=m v=1 time=2023-01-01T00:00:00.Z", KV_ERR_TIME },
	{ S_NS, "measurement=m v=1 time=2023-01-01T00:00:00.1234567891Z",
	    KV_ERR_TIME },
	{ S_NS, "measurement=m v=1 time=9223372036854775807",
	    KV_ERR_TIME_RANGE },
	{ S_NS, "measurement=m v=1 time=99999999999999999999",
	    KV_ERR_TIME_RANGE },
	{ S_NS, "measurement=m v=1 time=2300-01-01T00:00:00Z",
	    KV_ERR_TIME_RANGE },
	{ S_NS, "measurement=m v=1 time=1000-01-01T00:00:00Z",
	    KV_ERR_TIME_RANGE },
	{ S_SEC, "m=x v=1 ts=10000000000", KV_ERR_TIME_RANGE },
	{ S_SEC, "m=x time=1", KV_ERR_RESERVED },
};

static struct kv *
new_kv(int spec)
{
	char		 err[64];
	struct kv	*kv = kv_new(&specs[spec], err, sizeof(err));

	ck_assert_msg(kv != NULL, "%s", err);
	return kv;
}

static void
check_route(const char *what, const char *got, const char *want)
{
	if (want == NULL)
		ck_assert_msg(got == NULL, "%s: got '%s', want none", what,
		    got);
	else
		ck_assert_msg(got != NULL && strcmp(got, want) == 0,
		    "%s: got '%s', want '%s'", what, got ? got : "(none)",
		    want);
}

START_TEST(test_good)
{
	struct kv	*kv = new_kv(good[_i].spec);
	struct kv_point	 pt;
	const char	*msg = good[_i].msg;
	char		 out[1024];
	enum kv_status	 st;

	st = kv_translate(kv, msg, strlen(msg), out, sizeof(out), &pt);
	if (good[_i].body == NULL) {
		ck_assert_int_ne(st, KV_OK);
		kv_free(kv);
		return;
	}
	ck_assert_msg(st == KV_OK, "%s: %s", msg, kv_strerror(st));
	ck_assert_msg(pt.body_len == strlen(good[_i].body) &&
	    memcmp(out, good[_i].body, pt.body_len) == 0,
	    "%s:\n got '%.*s'\nwant '%s'", msg, (int)pt.body_len, out,
	    good[_i].body);
	ck_assert_int_eq(pt.has_time, good[_i].has_time);
	if (pt.has_time)
		ck_assert_int_eq(pt.time, good[_i].time);
	check_route("database", pt.database, good[_i].db);
	check_route("retention policy", pt.retention_policy, good[_i].rp);
	kv_free(kv);
}
END_TEST

START_TEST(test_bad)
{
	struct kv	*kv = new_kv(bad[_i].spec);
	struct kv_point	 pt;
	const char	*msg = bad[_i].msg;
	char		 out[1024];
	enum kv_status	 got;

	got = kv_translate(kv, msg, strlen(msg), out, sizeof(out), &pt);
	ck_assert_msg(got == bad[_i].want, "%s: got '%s', want '%s'", msg,
	    kv_strerror(got), kv_strerror(bad[_i].want));
	kv_free(kv);
}
END_TEST

START_TEST(test_embedded_nul)
{
	struct kv	*kv = new_kv(S_NS);
	struct kv_point	 pt;
	static const char msg[] = "measurement=m v=1\0x";
	char		 out[64];

	ck_assert_int_eq(kv_translate(kv, msg, sizeof(msg) - 1, out,
	    sizeof(out), &pt), KV_ERR_VALUE);
	kv_free(kv);
}
END_TEST

START_TEST(test_skip)
{
	struct kv	*kv = new_kv(S_NS);
	struct kv_point	 pt;
	char		 out[64];

	ck_assert_int_eq(kv_translate(kv, "", 0, out, sizeof(out), &pt),
	    KV_SKIP);
	ck_assert_int_eq(kv_translate(kv, " \t\r", 3, out, sizeof(out), &pt),
	    KV_SKIP);
	ck_assert_int_eq(kv_translate(kv, "# a=b", 5, out, sizeof(out), &pt),
	    KV_SKIP);
	kv_free(kv);
}
END_TEST

/* Worst-case growth stays within the documented 2 * len + 64. */
START_TEST(test_output_bound)
{
	struct kv	*kv = new_kv(S_NS);
	struct kv_point	 pt;
	char		 msg[4096], *out;
	size_t		 n = 0, size;
	int		 i;

	/* distinct keys (a duplicate would stop early), each value "\\" */
	n = (size_t)snprintf(msg, sizeof(msg), "measurement=,,,,");
	for (i = 0; n + 16 < sizeof(msg) && i < 26 * 26; i++)
		n += (size_t)snprintf(msg + n, sizeof(msg) - n, " %c%c=\\",
		    'A' + i % 26, 'a' + i / 26);
	size = 2 * n + 64;
	out = malloc(size);
	ck_assert_int_eq(kv_translate(kv, msg, n, out, size, &pt), KV_OK);
	ck_assert_uint_le(pt.body_len, size);
	ck_assert_int_eq(kv_translate(kv, msg, n, out, pt.body_len - 1, &pt),
	    KV_ERR_TOO_LONG);
	free(out);
	kv_free(kv);
}
END_TEST

START_TEST(test_too_many_pairs)
{
	struct kv	*kv = new_kv(S_NS);
	struct kv_point	 pt;
	size_t		 size = (KV_MAX_PAIRS + 2) * 12, n = 0;
	char		*msg = malloc(size), *out = malloc(2 * size + 64);
	int		 i;

	n += (size_t)snprintf(msg, size, "measurement=m");
	for (i = 0; i < KV_MAX_PAIRS; i++)
		n += (size_t)snprintf(msg + n, size - n, " k%d=1", i);
	ck_assert_int_eq(kv_translate(kv, msg, n, out, 2 * size + 64, &pt),
	    KV_ERR_TOO_MANY);
	free(msg);
	free(out);
	kv_free(kv);
}
END_TEST

START_TEST(test_rfc3339)
{
	int64_t	 ns;

	ck_assert(kv_parse_rfc3339("1970-01-01T00:00:00Z", 20, &ns));
	ck_assert_int_eq(ns, 0);
	ck_assert(kv_parse_rfc3339("1969-12-31T23:59:59.999999999Z", 30,
	    &ns));
	ck_assert_int_eq(ns, -1);
	ck_assert(kv_parse_rfc3339("2000-02-29t12:00:00-05:30", 25, &ns));
	ck_assert_int_eq(ns, 951845400000000000LL);
	ck_assert(kv_parse_rfc3339("2262-04-11T23:47:16.854775806Z", 30,
	    &ns));
	ck_assert_int_eq(ns, 9223372036854775806LL);
	ck_assert(!kv_parse_rfc3339("1900-02-29T00:00:00Z", 20, &ns));
	ck_assert(!kv_parse_rfc3339("2000-13-01T00:00:00Z", 20, &ns));
	ck_assert(!kv_parse_rfc3339("2000-01-01T00:00:60Z", 20, &ns));
	ck_assert(!kv_parse_rfc3339("2000-01-01T00:00:00+24:00", 25, &ns));
	ck_assert(!kv_parse_rfc3339("2000-01-01T00:00:00Z ", 21, &ns));
}
END_TEST

static Suite *
kv_suite(void)
{
	Suite	*s = suite_create("kv");
	TCase	*tc = tcase_create("translate");

	tcase_add_loop_test(tc, test_good, 0, sizeof(good) / sizeof(good[0]));
	tcase_add_loop_test(tc, test_bad, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_skip);
	tcase_add_test(tc, test_embedded_nul);
	tcase_add_test(tc, test_output_bound);
	tcase_add_test(tc, test_too_many_pairs);
	tcase_add_test(tc, test_rfc3339);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(kv_suite)
