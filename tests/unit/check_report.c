/*
 * influx-relayctl's reports: a stats answer read as text (rates from two
 * answers, or averages over the uptime; rejects and drops by reason; the
 * spool; the last error with its time, age and whether it cleared; the
 * queues), control bytes from a server kept off the terminal, an answer
 * of the wrong shape or with impossible times reported without a crash,
 * and a send's summary.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_main.h"
#include "json.h"
#include "report.h"

/* A stats answer at `time`, with the counters that vary as arguments. */
static struct json *
answer(long time, unsigned long lines, unsigned long written,
    long cleared)
{
	char		*text;
	struct json	*j;
	int		 n;

	n = asprintf(&text, "{\"ok\":true,\"version\":\"1.2.3\","
	    "\"listeners\":[{\"name\":\"main\",\"clients\":1,\"lines\":%lu,"
	    "\"accepted\":%lu,\"rejected\":2,\"skipped\":0,"
	    "\"rejected_by_reason\":{\"missing fields\":1,\"bad \\u001b\":1},"
	    "\"written\":%lu,\"buffered_points\":5,\"dropped\":3,"
	    "\"dropped_overflow\":3,\"connections\":4}],"
	    "\"targets\":[{\"name\":\"local\",\"queues\":2,"
	    "\"failing_queues\":1,\"backing_off\":false,\"accepted\":%lu,"
	    "\"written\":%lu,\"batches_written\":7,\"buffered_points\":5,"
	    "\"buffered_bytes\":2048,\"in_flight\":1,\"dropped\":3,"
	    "\"dropped_overflow\":1,\"dropped_server\":2,"
	    "\"rejected_overflow\":0,\"rejected_queues\":4,"
	    "\"requests\":20,\"retries\":3,\"http_2xx\":15,\"http_5xx\":5,"
	    "\"spooling\":true,\"spool_bytes\":3145728,\"spool_points\":9,"
	    "\"spool_segments\":1,\"spool_oldest_age\":185,"
	    "\"last_success\":%ld,\"last_success_rfc3339\":\"S\","
	    "\"last_error_time\":%ld,\"last_error_rfc3339\":\"x\","
	    "\"last_error_time_rfc3339\":\"E\",\"last_error_cleared\":%ld,"
	    "\"last_error\":\"HTTP 503 \\u001b]0;x\\u0007 \\u009b\","
	    "\"queue_list\":[{\"database\":\"db\",\"retention_policy\":\"\","
	    "\"queued_points\":5,\"queued_bytes\":2048,\"in_flight_points\":2,"
	    "\"state\":\"sending\"},{\"database\":\"ops\","
	    "\"retention_policy\":\"week\",\"queued_points\":0,"
	    "\"queued_bytes\":0,\"in_flight_points\":0,"
	    "\"state\":\"failing\"}]}],"
	    "\"time\":%ld,\"started\":%ld,\"started_rfc3339\":\"T0\","
	    "\"uptime\":%ld}", lines, lines - 2, written, lines - 2, written,
	    time - 2, time - 125, cleared, time, time - 7400, 7400L);
	ck_assert_int_gt(n, 0);
	j = json_parse(text, strlen(text));
	ck_assert_msg(j != NULL, "%s", text);
	free(text);
	return j;
}

/* The report of `now` (and `before`, `seconds` earlier) as a string. */
static char *
report(const struct json *now, const struct json *before, double seconds)
{
	char	*buf = NULL;
	size_t	 size = 0;
	FILE	*f = open_memstream(&buf, &size);

	ck_assert_ptr_nonnull(f);
	report_stats(f, now, before, seconds);
	fclose(f);
	return buf;
}

static void
assert_line(const char *text, const char *line)
{
	char	 want[512];

	snprintf(want, sizeof(want), "\n%s\n", line);
	ck_assert_msg(strstr(text, want) != NULL, "no line '%s' in:\n%s",
	    line, text);
}

START_TEST(test_two_samples)
{
	static const char	 head[] = "influx-relayd 1.2.3, up 2h03m "
	    "(started T0); rates over the last 2.0 s\n";
	struct json		*before = answer(1700000000, 1002, 800, 0);
	struct json		*now = answer(1700000002, 1402, 1200, 0);
	char			*r = report(now, before, 2.0);

	ck_assert_msg(strncmp(r, head, sizeof(head) - 1) == 0, "%s", r);
	assert_line(r, "listener main: 1 client connected");
	assert_line(r, "  lines        1402 (200.0/s): 1400 accepted "
	    "(200.0/s), 2 rejected (0.0/s), 0 skipped");
	/* a reason's control byte is replaced */
	assert_line(r, "  rejected     missing fields 1, bad ? 1");
	assert_line(r, "  its points   1200 written, 5 buffered, dropped 3 "
	    "(overflow 3)");
	assert_line(r, "target local: 1 of 2 queues failing");
	assert_line(r, "  points       1400 accepted (200.0/s), 1200 written "
	    "(200.0/s) in 7 batches");
	assert_line(r, "  buffered     5 points, 2.0 KiB; 1 request in flight");
	assert_line(r, "  spool        3.0 MiB, 9 points in 1 segment, "
	    "oldest 3m05s");
	assert_line(r, "  dropped      3 (overflow 1, refused by the server "
	    "2), 0.0/s");
	assert_line(r, "  refused      4 (too many queues 4)");
	assert_line(r, "  requests     20 (0.0/s), 3 retries; HTTP 2xx 15, "
	    "4xx 0, 5xx 5, no answer 0");
	assert_line(r, "  last success S (2s ago)");
	/* ESC, BEL and the C1 CSI of a server's answer never reach a tty */
	assert_line(r, "  last error   E (2m05s ago, not cleared): HTTP 503 "
	    "?]0;x? ?");
	assert_line(r, "  queues       db: 5 points, 2.0 KiB, sending, 2 in "
	    "flight");
	assert_line(r, "               ops/week: 0 points, 0 B, failing");
	free(r);
	json_free(before);
	json_free(now);
}
END_TEST

/* One answer: averages over the uptime; a cleared error says when. */
START_TEST(test_averages_and_cleared)
{
	struct json	*now = answer(1700000000, 7402, 3700, 1700000000 - 60);
	char		*r = report(now, NULL, 0);

	ck_assert_msg(strstr(r, "); rates are averages since the start\n") !=
	    NULL, "%s", r);
	assert_line(r, "  lines        7402 (1.0/s): 7400 accepted (1.0/s), "
	    "2 rejected (0.0/s), 0 skipped");
	assert_line(r, "  points       7400 accepted (1.0/s), 3700 written "
	    "(0.5/s) in 7 batches");
	ck_assert_msg(strstr(r, "  last error   E (2m05s ago, cleared 1m00s "
	    "ago): HTTP 503") != NULL, "%s", r);
	free(r);
	json_free(now);
}
END_TEST

/* A target that never failed, nor wrote, and has no spool. */
START_TEST(test_quiet_target)
{
	static const char	 text[] = "{\"ok\":true,\"listeners\":[],"
	    "\"targets\":[{\"name\":\"t\",\"queue_list\":[]}],"
	    "\"time\":100,\"uptime\":10}";
	struct json		*j = json_parse(text, sizeof(text) - 1);
	char			*r = report(j, NULL, 0);

	assert_line(r, "target t: ok");
	assert_line(r, "  dropped      0, 0.0/s");
	assert_line(r, "  last success never");
	assert_line(r, "  last error   never");
	ck_assert_ptr_null(strstr(r, "spool"));
	ck_assert_ptr_null(strstr(r, "queues"));
	free(r);
	json_free(j);
}
END_TEST

/*
 * Lists and maps of the wrong kind are not walked (a map's member has a
 * name, an array's element none: that was a NULL dereference).
 */
START_TEST(test_wrong_shapes)
{
	static const char	 text[] = "{\"ok\":true,\"listeners\":[{"
	    "\"name\":\"main\",\"rejected\":2,"
	    "\"rejected_by_reason\":[1,{\"x\":1}]}],"
	    "\"targets\":[{\"name\":\"t\",\"queue_list\":{\"q\":{}}}],"
	    "\"time\":100,\"uptime\":10}";
	static const char	 sum[] = "{\"lines\":1,\"rejected\":1,"
	    "\"rejects\":{\"a\":{\"line\":1}}}";
	struct json		*j = json_parse(text, sizeof(text) - 1);
	struct json		*js = json_parse(sum, sizeof(sum) - 1);
	char			*r = report(j, j, 1), *buf = NULL;
	size_t			 size = 0;
	FILE			*f = open_memstream(&buf, &size);

	assert_line(r, "listener main: 0 clients connected");
	assert_line(r, "target t: ok");
	ck_assert_msg(strstr(r, "  rejected ") == NULL, "%s", r);
	ck_assert_msg(strstr(r, "  queues ") == NULL, "%s", r);
	report_send(f, js);
	fclose(f);
	ck_assert_str_eq(buf, "influx-relayctl: 1 line: 0 accepted, "
	    "1 rejected, 0 skipped\n  ... and 1 more\n");
	free(buf);
	free(r);
	json_free(js);
	json_free(j);
}
END_TEST

/*
 * Times before 1970 (strtoll() saturates a huge negative number) are no
 * time: never an age computed with an overflow.  An answer without a
 * time of its own is read as of now.
 */
START_TEST(test_impossible_times)
{
	static const char	 fmt[] = "{\"ok\":true,\"listeners\":[],"
	    "\"targets\":[{\"name\":\"a\",\"last_success\":%lld,"
	    "\"last_success_rfc3339\":\"S\","
	    "\"last_error_time\":-99999999999999999999,"
	    "\"last_error_time_rfc3339\":\"E\",\"last_error\":\"HTTP 500\"},"
	    "{\"name\":\"b\",\"last_error_time\":%lld,"
	    "\"last_error_time_rfc3339\":\"E\",\"last_error\":\"HTTP 500\","
	    "\"last_error_cleared\":-99999999999999999999}],"
	    "\"time\":-99999999999999999999,\"uptime\":10}";
	long long		 then = (long long)time(NULL) - 10 * 86400;
	char			 text[sizeof(fmt) + 64], *r;
	struct json		*j;

	snprintf(text, sizeof(text), fmt, then, then);
	ck_assert_ptr_nonnull(j = json_parse(text, strlen(text)));
	r = report(j, NULL, 0);
	assert_line(r, "  last success S (10d00h ago)");
	assert_line(r, "  last error   never");
	assert_line(r, "  last error   E (10d00h ago, not cleared): HTTP 500");
	free(r);
	json_free(j);
}
END_TEST

START_TEST(test_send_summary)
{
	static const char	 text[] = "{\"ok\":false,\"lines\":1005,"
	    "\"accepted\":1000,\"skipped\":1,\"rejected\":4,\"rejects\":["
	    "{\"line\":2,\"reason\":\"missing field value\","
	    "\"text\":\"cpu,db=mydb value=\"},"
	    "{\"line\":9,\"reason\":\"missing fields\",\"text\":\"x\\u001b[2J\"},"
	    "{\"line\":10,\"reason\":\"missing fields\",\"text\":\"y\"}]}";
	struct json		*j = json_parse(text, sizeof(text) - 1);
	char			*buf = NULL;
	size_t			 size = 0;
	FILE			*f = open_memstream(&buf, &size);

	report_send(f, j);
	fclose(f);
	ck_assert_str_eq(buf, "influx-relayctl: 1005 lines: 1000 accepted, "
	    "4 rejected, 1 skipped\n"
	    "  line 2: missing field value: cpu,db=mydb value=\n"
	    "  line 9: missing fields: x?[2J\n"
	    "  line 10: missing fields: y\n"
	    "  ... and 1 more\n");
	free(buf);
	json_free(j);
}
END_TEST

static Suite *
report_suite(void)
{
	Suite	*s = suite_create("report");
	TCase	*tc = tcase_create("report");

	tcase_add_test(tc, test_two_samples);
	tcase_add_test(tc, test_averages_and_cleared);
	tcase_add_test(tc, test_quiet_target);
	tcase_add_test(tc, test_wrong_shapes);
	tcase_add_test(tc, test_impossible_times);
	tcase_add_test(tc, test_send_summary);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(report_suite)
