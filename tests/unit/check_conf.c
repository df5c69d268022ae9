/* Configuration: defaults, units, every kind of error with its line. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "conf.h"

#define MINIMAL \
	"[listener:main]\n" \
	"path = /tmp/relay.sock\n" \
	"[target:local]\n" \
	"url = http://127.0.0.1:8086\n"
#define MINIMAL_LISTENER \
	"[listener:main]\n" \
	"path = /tmp/relay.sock\n"
#define MINIMAL_TARGET \
	"[target:local]\n"

/* Loads `text`, expecting exactly one error that contains `want`. */
static void
expect_error(const char *text, const char *want)
{
	struct conf_errors	 errs = { 0 };
	struct conf		*conf = conf_load_string(text, "t.ini", &errs);

	ck_assert_ptr_null(conf);
	ck_assert_msg(errs.count >= 1, "no error for: %s", text);
	ck_assert_msg(strstr(errs.msgs[0], want) != NULL,
	    "got '%s', want '%s'", errs.msgs[0], want);
	conf_errors_clear(&errs);
}

START_TEST(test_defaults)
{
	struct conf_errors	 errs = { 0 };
	struct conf		*conf = conf_load_string(MINIMAL, "t.ini",
				    &errs);
	struct conf_target	*t;
	struct conf_listener	*l;

	ck_assert_ptr_nonnull(conf);
	ck_assert_uint_eq(errs.count, 0);
	ck_assert_uint_eq(conf->shutdown_timeout_ms, 10000);
	ck_assert_uint_eq(conf->stats_interval_ms, 60000);
	l = conf->listeners[0];
	ck_assert_uint_eq(l->mode, 0660);
	ck_assert_uint_eq(l->max_line, 65536);
	ck_assert_uint_eq(l->idle_timeout_ms, 300000);
	ck_assert_uint_eq(l->ntargets, 1);	/* the only target */
	ck_assert_str_eq(l->targets[0], "local");
	t = conf_find_target(conf, "local");
	ck_assert_str_eq(t->database, "telemetry");
	ck_assert_uint_eq(t->batch_size, 5000);
	ck_assert_uint_eq(t->batch_bytes, 4 << 20);
	ck_assert_uint_eq(t->buffer_size, 64 << 20);
	ck_assert_uint_eq(t->flush_interval_ms, 1000);
	/* relays on many hosts must not flush in step (README) */
	ck_assert_uint_eq(t->flush_jitter_ms, 1000);
	ck_assert_uint_eq(t->retry_initial_ms, 500);
	ck_assert_uint_eq(t->retry_max_ms, 60000);
	ck_assert(t->create_database);
	conf_free(conf);
}
END_TEST

START_TEST(test_units)
{
	uint64_t	 v;

	ck_assert_int_eq(conf_parse_duration_ms("250ms", &v), 0);
	ck_assert_uint_eq(v, 250);
	ck_assert_int_eq(conf_parse_duration_ms("1.5s", &v), 0);
	ck_assert_uint_eq(v, 1500);
	ck_assert_int_eq(conf_parse_duration_ms("2m", &v), 0);
	ck_assert_uint_eq(v, 120000);
	ck_assert_int_eq(conf_parse_duration_ms("1h", &v), 0);
	ck_assert_uint_eq(v, 3600000);
	ck_assert_int_eq(conf_parse_duration_ms("0", &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(conf_parse_duration_ms("5", &v), -1);
	ck_assert_int_eq(conf_parse_duration_ms("-1s", &v), -1);
	ck_assert_int_eq(conf_parse_duration_ms("1d", &v), -1);
	/* strictly decimal: strtod would take hex floats and exponents */
	ck_assert_int_eq(conf_parse_duration_ms("0x10s", &v), -1);
	ck_assert_int_eq(conf_parse_duration_ms("0x1p-3s", &v), -1);
	ck_assert_int_eq(conf_parse_duration_ms("1e3ms", &v), -1);
	ck_assert_int_eq(conf_parse_duration_ms("1.s", &v), -1);
	ck_assert_int_eq(conf_parse_duration_ms(".5s", &v), -1);
	ck_assert_int_eq(conf_parse_duration_ms("0x0", &v), -1);
	ck_assert_int_eq(conf_parse_duration_ms("0.25s", &v), 0);
	ck_assert_uint_eq(v, 250);
	ck_assert_int_eq(conf_parse_size("0x10", &v), -1);
	ck_assert_int_eq(conf_parse_size("1e3", &v), -1);
	ck_assert_int_eq(conf_parse_size("+1K", &v), -1);
	ck_assert_int_eq(conf_parse_size("64K", &v), 0);
	ck_assert_uint_eq(v, 65536);
	ck_assert_int_eq(conf_parse_size("4M", &v), 0);
	ck_assert_uint_eq(v, 4 << 20);
	ck_assert_int_eq(conf_parse_size("1G", &v), 0);
	ck_assert_uint_eq(v, 1 << 30);
	ck_assert_int_eq(conf_parse_size("512", &v), 0);
	ck_assert_uint_eq(v, 512);
	ck_assert_int_eq(conf_parse_size("4MB", &v), -1);
	ck_assert_int_eq(conf_parse_size("K", &v), -1);
}
END_TEST

static const struct {
	const char	*text;
	const char	*want;
} errors[] = {
	{ MINIMAL "bogus = 1\n", "t.ini:5: unknown key 'bogus' in "
	    "[target:local]" },
	{ "[relayd]\nlog_level = loud\n" MINIMAL, "t.ini:2: invalid value "
	    "'loud' for 'log_level'" },
	{ MINIMAL "flush_interval = 5\n", "t.ini:5: invalid value '5' for "
	    "'flush_interval' (a duration" },
	{ MINIMAL "batch_size = 0\n", "t.ini:5: invalid value '0' for "
	    "'batch_size' (allowed: 1 to" },
	{ MINIMAL "batch_bytes = lots\n", "(a size" },
	{ MINIMAL "overflow = explode\n", "(one of: drop_oldest|drop_newest"
	    "|block)" },
	{ MINIMAL "database = a\ndatabase = b\n", "t.ini:6: duplicate "
	    "key 'database'" },
	{ MINIMAL "[target:local]\n", "t.ini:5: duplicate section" },
	{ MINIMAL "[output:x]\n", "t.ini:5: unknown section [output:x]" },
	{ "x = 1\n" MINIMAL, "t.ini:1: key 'x' outside any section" },
	{ MINIMAL "spool = maybe\n", "t.ini:5: invalid value 'maybe' for "
	    "'spool' (true or false)" },
	{ MINIMAL "spool_sync = sometimes\n", "[target:local] "
	    "spool_sync must be always, never or a duration" },
	{ "[listener:main]\npath = /tmp/s\ntype = pipe\n"
	    "[target:local]\n", "t.ini:3: invalid value 'pipe' for 'type' "
	    "(one of: stream|datagram)" },
	{ MINIMAL_LISTENER "target = local, local\n" MINIMAL_TARGET,
	    "t.ini:3: [listener:main] names target 'local' twice" },
	{ MINIMAL "timeout = 100000000h\n", "t.ini:5: invalid value "
	    "'100000000h' for 'timeout'" },
	{ MINIMAL "spool_size = 1K\n", "t.ini:5: invalid value '1K' for "
	    "'spool_size' (allowed: 1048576 to" },
	{ MINIMAL_LISTENER "tag_keys = a\n" MINIMAL_TARGET,
	    "t.ini:1: [listener:main] 'tag_keys' only applies to format = kv" },
	{ MINIMAL_LISTENER "format = kv\nmeasurement_key =\n" MINIMAL_TARGET,
	    "[listener:main] measurement_key is empty" },
	{ MINIMAL_LISTENER "format = kv\ntime_key = db\n" MINIMAL_TARGET,
	    "[listener:main] key 'db' has two roles" },
	{ MINIMAL_LISTENER "allowed_databases = ,\n" MINIMAL_TARGET,
	    "allowed_databases is empty" },
	{ MINIMAL_LISTENER "allow_uids = 0, no-such-user-xyz\n"
	    MINIMAL_TARGET, "unknown user 'no-such-user-xyz' in allow_uids" },
	{ MINIMAL_LISTENER "allow_gids = no-such-group-xyz\n" MINIMAL_TARGET,
	    "unknown group 'no-such-group-xyz' in allow_gids" },
	{ "[listener:main]\npath = /tmp/s\ntarget = nope\n[target:local]\n",
	    "t.ini:3: [listener:main] names target 'nope', which is not "
	    "defined" },
	{ "[listener:main]\n[target:local]\n", "t.ini:1: [listener:main] "
	    "needs 'path'" },
	{ "[target:local]\n", "no [listener:NAME] section" },
	{ MINIMAL "retry_initial = 2m\n", "retry_initial is larger than "
	    "retry_max" },
	{ MINIMAL "database =\n", "has no database" },
	{ "[listener:main]\npath = /tmp/s\n[target:a]\n[target:b]\n",
	    "needs 'target' (there is not exactly one" },
	{ MINIMAL "password = xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxx\n", "t.ini:5: line longer than" },
	{ MINIMAL "this line has no equals sign\n", "t.ini:5: syntax error" },
	{ "[listener:main]\npath = /tmp/s\n[target:local]\nurl = ftp://x\n",
	    "t.ini:3: [target:local] url 'ftp://x' must start with http://" },
	{ MINIMAL_LISTENER MINIMAL_TARGET "url = http://h:8086/?db=x\n", "t.ini:3: [target:local] "
	    "url 'http://h:8086/?db=x': must not have a query" },
	{ MINIMAL_LISTENER MINIMAL_TARGET "url = http://h:8086/#x\n", "must not have a fragment" },
	{ MINIMAL_LISTENER MINIMAL_TARGET "url = http://x y\n", "url 'http://x y': not a valid URL" },
	{ MINIMAL_LISTENER MINIMAL_TARGET "url = http://[::1\n", "url 'http://[::1': not a valid URL" },
	{ MINIMAL_LISTENER MINIMAL_TARGET "url = http://\n", "url 'http://': not a valid URL" },
	{ MINIMAL_LISTENER MINIMAL_TARGET "url = unix:///\n", "url 'unix:///': a UNIX socket url is "
	    "unix:///absolute/path" },
	{ MINIMAL_LISTENER MINIMAL_TARGET "url = unix:///run/\n", "unix:///absolute/path" },
	{ MINIMAL_LISTENER MINIMAL_TARGET "url = unix:///run/x.sock?db=x\n", "without '?'" },
	{ MINIMAL "flush_interval = 0x10s\n", "t.ini:5: invalid value "
	    "'0x10s' for 'flush_interval'" },
	{ MINIMAL "retry_max = 0x1p-3s\n", "invalid value '0x1p-3s'" },
	{ "[listener:main]\npath = relay.sock\ntarget = local\n"
	    "[target:local]\ndatabase = d\n", "t.ini:1: [listener:main] path "
	    "'relay.sock' is not absolute" },
	{ "[listener:main]\npath =\ntarget = local\n[target:local]\n"
	    "database = d\n", "[listener:main] needs 'path'" },
	{ "[relayd]\ncontrol_socket = c.sock\n" MINIMAL, "control_socket "
	    "'c.sock' is not an absolute path" },
	{ MINIMAL "[target:x]]\n", "t.ini:5: text after the section "
	    "header's ']'" },
	{ MINIMAL "[target:x] junk\n", "t.ini:5: text after" },
};

/* Valid forms the checks above must not refuse. */
static const char *const valid_urls[] = {
	"http://127.0.0.1:8086", "http://127.0.0.1:8086/", "https://h",
	"http://[::1]:8086", "http://h/prefix", "unix:///run/influxdb.sock",
};

START_TEST(test_valid_url)
{
	struct conf_errors	 errs = { 0 };
	struct conf		*conf;
	char			 text[512];

	snprintf(text, sizeof(text), MINIMAL_LISTENER MINIMAL_TARGET
	    "url = %s\n", valid_urls[_i]);
	conf = conf_load_string(text, "t.ini", &errs);
	ck_assert_msg(conf != NULL, "%s: %s", valid_urls[_i],
	    errs.count ? errs.msgs[0] : "");
	conf_free(conf);
}
END_TEST

/*
 * Checking is linear in the file's size: 20,000 sections must check in
 * about the time of 10,000 twice (with slack for a loaded machine); it
 * was quadratic (a linear search per section and per listener).
 */
static double
check_seconds(size_t n)
{
	struct conf_errors	 errs = { 0 };
	struct conf		*conf;
	struct timespec		 a, b;
	size_t			 i, len = 0, cap = n * 160;
	char			*text = malloc(cap);

	for (i = 0; i < n / 2; i++)
		len += (size_t)snprintf(text + len, cap - len,
		    "[target:t%zu]\ndatabase = d\n[listener:l%zu]\n"
		    "path = /tmp/l%zu.sock\ntarget = t%zu\n", i, i, i, i);
	clock_gettime(CLOCK_MONOTONIC, &a);
	conf = conf_load_string(text, "t.ini", &errs);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ck_assert_msg(conf != NULL, "%s", errs.count ? errs.msgs[0] : "");
	conf_free(conf);
	free(text);
	return (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
}

START_TEST(test_linear_check)
{
	double	 small, big;

	check_seconds(2000);	/* warm up */
	small = check_seconds(10000);
	big = check_seconds(20000);
	ck_assert_msg(big < 3.5 * small + 0.05, "10,000 sections: %.3fs, "
	    "20,000: %.3fs", small, big);
}
END_TEST

START_TEST(test_error)
{
	expect_error(errors[_i].text, errors[_i].want);
}
END_TEST

START_TEST(test_every_error_reported)
{
	struct conf_errors	 errs = { 0 };
	const char		*text = MINIMAL "a = 1\nb = 2\nc = 3\n";

	ck_assert_ptr_null(conf_load_string(text, "t.ini", &errs));
	ck_assert_uint_eq(errs.count, 3);
	ck_assert_str_eq(errs.msgs[2], "t.ini:7: unknown key 'c' in "
	    "[target:local]");
	conf_errors_clear(&errs);
}
END_TEST

START_TEST(test_inline_comments_and_values)
{
	struct conf_errors	 errs = { 0 };
	struct conf		*conf;
	const char		*text =
	    "[relayd]\n"
	    "log_level = debug        ; chatty\n"
	    "shutdown_timeout = 2.5s\n"
	    "[listener:a]\n"
	    "path = /tmp/a.sock\n"
	    "target = x, y\n"
	    "precision = s\n"
	    "mode = 0600\n"
	    "[target:x]\n"
	    "[target:y]\n"
	    "url = https://influx.example:8086/\n"
	    "database = metrics\n"
	    "max_connections = 4\n"
	    "overflow = drop_newest\n";

	conf = conf_load_string(text, "t.ini", &errs);
	ck_assert_msg(conf != NULL, "%s", errs.count ? errs.msgs[0] : "");
	ck_assert_int_eq(conf->log_level, 3);
	ck_assert_uint_eq(conf->shutdown_timeout_ms, 2500);
	ck_assert_uint_eq(conf->listeners[0]->ntargets, 2);
	ck_assert_str_eq(conf->listeners[0]->targets[1], "y");
	ck_assert_int_eq(conf->listeners[0]->precision, PRECISION_S);
	ck_assert_uint_eq(conf->listeners[0]->mode, 0600);
	ck_assert_str_eq(conf->targets[1]->database, "metrics");
	ck_assert_uint_eq(conf->targets[1]->max_connections, 4);
	ck_assert_int_eq(conf->targets[1]->overflow, OVERFLOW_DROP_NEWEST);
	conf_free(conf);
}
END_TEST

/* kv routes by db / rp unless told otherwise; ids parse as numbers or
 * names. */
START_TEST(test_listener_inputs)
{
	struct conf_errors	 errs = { 0 };
	struct conf		*conf;
	struct conf_listener	*a, *b, *c;
	const char		*text =
	    "[listener:a]\n"
	    "path = /tmp/a.sock\n"
	    "type = datagram\n"
	    "format = kv\n"
	    "tag_keys = host, env\n"
	    "allow_uids = 0, root, 65534\n"
	    "allow_gids = root, 7\n"
	    "[listener:b]\n"
	    "path = /tmp/b.sock\n"
	    "format = kv\n"
	    "database_tag =\n"
	    "retention_policy_tag = policy\n"
	    "allowed_databases = app_*, ops\n"
	    "[listener:c]\n"
	    "path = /tmp/c.sock\n"
	    "database_tag = db\n"
	    "[target:x]\n";

	conf = conf_load_string(text, "t.ini", &errs);
	ck_assert_msg(conf != NULL, "%s", errs.count ? errs.msgs[0] : "");
	a = conf->listeners[0];
	b = conf->listeners[1];
	c = conf->listeners[2];
	ck_assert_int_eq(a->type, LISTENER_DATAGRAM);
	ck_assert_int_eq(a->format, FORMAT_KV);
	ck_assert_str_eq(a->database_tag, "db");
	ck_assert_str_eq(a->retention_policy_tag, "rp");
	ck_assert_str_eq(a->measurement_key, "measurement");
	ck_assert_uint_eq(a->nuids, 3);
	ck_assert_uint_eq(a->uids[0], 0);
	ck_assert_uint_eq(a->uids[1], 0);
	ck_assert_uint_eq(a->uids[2], 65534);
	ck_assert_uint_eq(a->ngids, 2);
	ck_assert_uint_eq(a->gids[0], 0);
	ck_assert_uint_eq(a->gids[1], 7);
	ck_assert_str_eq(b->database_tag, "");
	ck_assert_str_eq(b->retention_policy_tag, "policy");
	ck_assert_str_eq(b->allowed_databases, "app_*, ops");
	ck_assert_int_eq(c->type, LISTENER_STREAM);
	ck_assert_str_eq(c->database_tag, "db");
	ck_assert_str_eq(c->retention_policy_tag, "");
	ck_assert_uint_eq(c->nuids, 0);
	conf_free(conf);
}
END_TEST

/* A byte order mark must not hide the first section. */
START_TEST(test_bom)
{
	struct conf_errors	 errs = { 0 };
	struct conf		*conf = conf_load_string("\xef\xbb\xbf" MINIMAL,
				    "t.ini", &errs);

	ck_assert_msg(conf != NULL, "%s", errs.count ? errs.msgs[0] : "");
	ck_assert_str_eq(conf->listeners[0]->name, "main");
	conf_free(conf);
}
END_TEST

/* A NUL inside a line is reported, never silently cuts the value. */
START_TEST(test_nul_byte)
{
	struct conf_errors	 errs = { 0 };
	char			 path[] = "/tmp/check_conf_XXXXXX";
	static const char	 text[] = MINIMAL "database = ab\0cd\n";
	int			 fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, sizeof(text) - 1),
	    (ssize_t)sizeof(text) - 1);
	close(fd);
	ck_assert_ptr_null(conf_load(path, &errs));
	unlink(path);
	ck_assert_uint_ge(errs.count, 1);
	ck_assert_msg(strstr(errs.msgs[0], ":5: NUL byte in line") != NULL,
	    "%s", errs.msgs[0]);
	conf_errors_clear(&errs);
}
END_TEST

/*
 * A problem of the file as a whole has no line ("t.ini: ...", never
 * "t.ini:0:"); a [relayd] key's problem names the line that set it.
 */
static const struct {
	const char	*text;
	const char	*want;		/* the first error, exactly */
} file_errors[] = {
	{ "", "t.ini: no [listener:NAME] section" },
	{ "; only a comment\n\n", "t.ini: no [listener:NAME] section" },
	{ MINIMAL_LISTENER, "t.ini: no [target:NAME] section" },
	{ "[relayd]\nlog_level = info\ncontrol_socket = c.sock\n" MINIMAL,
	    "t.ini:3: [relayd] control_socket 'c.sock' is not an absolute "
	    "path" },
	{ "[relayd]\ninternal_database = self\nstats_interval = 0\n"
	    MINIMAL, "t.ini:2: [relayd] internal_database is written every "
	    "stats_interval, which is 0" },
};

START_TEST(test_file_level_error)
{
	struct conf_errors	 errs = { 0 };

	ck_assert_ptr_null(conf_load_string(file_errors[_i].text, "t.ini",
	    &errs));
	ck_assert_uint_ge(errs.count, 1);
	ck_assert_str_eq(errs.msgs[0], file_errors[_i].want);
	conf_errors_clear(&errs);
}
END_TEST

START_TEST(test_missing_file)
{
	struct conf_errors	 errs = { 0 };

	ck_assert_ptr_null(conf_load("/nonexistent/relayd.ini", &errs));
	ck_assert_uint_eq(errs.count, 1);
	ck_assert_str_eq(errs.msgs[0], "/nonexistent/relayd.ini: cannot open: "
	    "No such file or directory");
	conf_errors_clear(&errs);
}
END_TEST

static Suite *
conf_suite(void)
{
	Suite	*s = suite_create("conf");
	TCase	*tc = tcase_create("conf");

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_units);
	tcase_add_loop_test(tc, test_error, 0,
	    sizeof(errors) / sizeof(errors[0]));
	tcase_add_loop_test(tc, test_valid_url, 0,
	    sizeof(valid_urls) / sizeof(valid_urls[0]));
	tcase_add_test(tc, test_linear_check);
	tcase_add_test(tc, test_every_error_reported);
	tcase_add_test(tc, test_inline_comments_and_values);
	tcase_add_test(tc, test_missing_file);
	tcase_add_loop_test(tc, test_file_level_error, 0,
	    sizeof(file_errors) / sizeof(file_errors[0]));
	tcase_add_test(tc, test_bom);
	tcase_add_test(tc, test_nul_byte);
	tcase_add_test(tc, test_listener_inputs);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(conf_suite)
