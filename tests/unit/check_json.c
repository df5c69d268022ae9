/*
 * The JSON reader of influx-relayctl: valid documents parse and invalid
 * ones do not (RFC 8259's grammar), strings decode (escapes, surrogate
 * pairs, U+FFFD for what cannot be), numbers read back exactly, members
 * are found by name, what the daemon's stats renderer writes parses,
 * and a large document parses in memory in proportion to its size.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/wait.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "check_main.h"
#include "json.h"
#include "stats.h"

static const struct {
	const char	*text;
	bool		 valid;
} docs[] = {
	{ "{\"a\":1,\"b\":[true,false,null,-0.5e+3],\"c\":{}}", true },
	{ " [ ] ", true },
	{ "\"s\"", true },
	{ "0", true },
	{ "-12.5E-3", true },
	{ "{\"a\":1,}", false },
	{ "[1,]", false },
	{ "{\"a\":01}", false },
	{ "{\"a\":1", false },
	{ "{\"a\":\"x\ny\"}", false },
	{ "{\"a\":tru}", false },
	{ "{\"a\":1}x", false },
	{ "{a:1}", false },
	{ "\"\\x41\"", false },
	{ "\"\\u12\"", false },
	{ "-", false },
	{ "1.", false },
	{ "1e", false },
	{ "", false },
	{ "[1 2]", false },
	{ "{\"a\" 1}", false },
};

START_TEST(test_grammar)
{
	struct json	*j = json_parse(docs[_i].text, strlen(docs[_i].text));

	ck_assert_msg((j != NULL) == docs[_i].valid, "%s", docs[_i].text);
	json_free(j);
}
END_TEST

static const struct {
	const char	*text;
	const char	*want;
} strings[] = {
	{ "\"plain\"", "plain" },
	{ "\"q\\\"b\\\\s\\/\"", "q\"b\\s/" },
	{ "\"\\b\\f\\n\\r\\t\"", "\b\f\n\r\t" },
	{ "\"\\u00e9\\u20ac\"", "\xc3\xa9\xe2\x82\xac" },
	{ "\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80" },
	{ "\"\\ud83dx\"", "\xef\xbf\xbdx" },		/* lone high */
	{ "\"\\ude00\"", "\xef\xbf\xbd" },		/* lone low */
	{ "\"\\ud83d\\u0041\"", "\xef\xbf\xbd" "A" },
	{ "\"a\\u0000b\"", "a\xef\xbf\xbd" "b" },	/* no NUL inside */
	{ "\"\\u001b[2J\"", "\x1b[2J" },		/* decoded: the */
	{ "\"\xc3\xa9\"", "\xc3\xa9" },			/* printer escapes */
};

START_TEST(test_strings)
{
	struct json	*j = json_parse(strings[_i].text,
			    strlen(strings[_i].text));

	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(j->type, JSON_STRING);
	ck_assert_str_eq(json_str(j), strings[_i].want);
	json_free(j);
}
END_TEST

/* Members by name, numbers exact to 64 bits, and type mismatches. */
START_TEST(test_access)
{
	static const char	 text[] = "{\"big\":18446744073709551615,"
	    "\"neg\":-9223372036854775808,\"f\":2.5,\"s\":\"x\",\"t\":true,"
	    "\"n\":null,\"a\":[1,{\"k\":\"v\"}]}";
	struct json		*j = json_parse(text, sizeof(text) - 1);
	const struct json	*a;

	ck_assert_ptr_nonnull(j);
	ck_assert_uint_eq(json_get_uint(j, "big"), UINT64_MAX);
	ck_assert_int_eq(json_get_int(j, "neg"), INT64_MIN);
	ck_assert_uint_eq(json_get_uint(j, "neg"), 0);
	ck_assert(json_double(json_get(j, "f")) == 2.5);
	ck_assert_str_eq(json_get_str(j, "s"), "x");
	ck_assert_str_eq(json_get_str(j, "f"), "");
	ck_assert_int_eq(json_get_int(j, "s"), 0);
	ck_assert(json_is_true(json_get(j, "t")));
	ck_assert(!json_is_true(json_get(j, "n")));
	ck_assert_ptr_null(json_get(j, "missing"));
	ck_assert_ptr_null(json_get(json_get(j, "s"), "x"));
	ck_assert_ptr_null(json_get(NULL, "x"));
	a = json_get(j, "a");
	ck_assert_int_eq(a->type, JSON_ARRAY);
	ck_assert_int_eq(json_int(a->child), 1);
	ck_assert_str_eq(json_get_str(a->child->next, "k"), "v");
	ck_assert_ptr_null(a->child->next->next);
	json_free(j);
}
END_TEST

/* Nesting is bounded: a hostile answer cannot exhaust the stack. */
START_TEST(test_depth)
{
	char		 text[300];
	struct json	*j;

	memset(text, '[', 100);
	memset(text + 100, ']', 100);
	ck_assert_ptr_null(json_parse(text, 200));
	memset(text, '[', 60);
	memset(text + 60, ']', 60);
	ck_assert_ptr_nonnull(j = json_parse(text, 120));
	json_free(j);
}
END_TEST

/* What the daemon writes is what relayctl reads: every escape. */
START_TEST(test_daemon_strings)
{
	static const char	*const in[] = {
		"HTTP 500 \"x\"\x1b\r\n", "bad\xff", "\xc3\xa9t\xc3\xa9",
		"c1\xc2\x9b", "\xf0\x9f\x98\x80",
	};
	static const char	*const want[] = {
		"HTTP 500 \"x\"\x1b\r\n", "bad\xef\xbf\xbd", "\xc3\xa9t\xc3\xa9",
		"c1\xc2\x9b", "\xf0\x9f\x98\x80",
	};
	struct evbuffer		*out = evbuffer_new();
	struct json		*j;
	size_t			 i, len;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		stats_json_string(out, in[i]);
		len = evbuffer_get_length(out);
		j = json_parse((const char *)evbuffer_pullup(out, -1), len);
		ck_assert_ptr_nonnull(j);
		ck_assert_str_eq(json_str(j), want[i]);
		json_free(j);
		evbuffer_drain(out, len);
	}
	evbuffer_free(out);
}
END_TEST

/* The process's address space now, in bytes. */
static size_t
json_test_vm(void)
{
	FILE		*f = fopen("/proc/self/statm", "r");
	unsigned long	 pages = 0;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%lu", &pages), 1);
	fclose(f);
	return pages * (size_t)sysconf(_SC_PAGESIZE);
}

/* Parses `text` under an address space limit: 0 if all went well. */
static int
json_test_parse_capped(const char *text, size_t len, size_t cap)
{
	struct rlimit	 lim;
	struct json	*j;

	lim.rlim_cur = lim.rlim_max = json_test_vm() + cap;
	if (setrlimit(RLIMIT_AS, &lim) == -1)
		return 2;
	if ((j = json_parse(text, len)) == NULL)
		return 3;
	return strcmp(json_get_str(j, "k39999"), "v39999") == 0 ? 0 : 4;
}

/*
 * A 700 KB document of 80,000 strings (a large stats answer) parses
 * within 64 MB more address space: each string takes its own length,
 * not the rest of the document (that took gigabytes).  In a child, so
 * the limit and an out-of-memory abort stay there.
 */
START_TEST(test_memory)
{
	size_t	 n = 40000, i, len = 0;
	char	*text = malloc(n * 20 + 2);
	pid_t	 pid;
	int	 status;

	ck_assert_ptr_nonnull(text);
	text[len++] = '{';
	for (i = 0; i < n; i++)
		len += (size_t)sprintf(text + len, "%s\"k%05zu\":\"v%05zu\"",
		    i > 0 ? "," : "", i, i);
	text[len++] = '}';
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0)
		_exit(json_test_parse_capped(text, len, 64 << 20));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "parsing %zu bytes under a limit: status %#x", len, status);
	free(text);
}
END_TEST

static Suite *
json_suite(void)
{
	Suite	*s = suite_create("json");
	TCase	*tc = tcase_create("json");

	tcase_add_loop_test(tc, test_grammar, 0, sizeof(docs) / sizeof(docs[0]));
	tcase_add_loop_test(tc, test_strings, 0,
	    sizeof(strings) / sizeof(strings[0]));
	tcase_add_test(tc, test_access);
	tcase_add_test(tc, test_depth);
	tcase_add_test(tc, test_daemon_strings);
	tcase_add_test(tc, test_memory);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(json_suite)
