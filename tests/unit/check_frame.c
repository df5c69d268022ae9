/*
 * Framing: streams with the records, refusals and leftovers they give.
 * Every case runs as one read, in reads of one byte, split into two
 * reads at every point, as one read of many small chains, with and
 * without the one-pass parse; all must give the same.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "check_main.h"
#include "frame.h"
#include "proto.h"

#define L	FRAME_LINE
#define K	FRAME_KV
#define S(s)	s, sizeof(s) - 1	/* a string that may hold NULs */

enum end {
	MORE,		/* the stream goes on: what is left stays buffered */
	END,		/* EOF */
	CUT,		/* shutdown: frame_close(), then frame_cut_rest() */
};

static const char	 cut[] = "cut";

/*
 * `want`: each record in [], each refusal as <long> or <cut>; `left`:
 * bytes still buffered after the last read (MORE).
 */
static const struct {
	const char		*name;
	size_t			 max_line;
	enum frame_format	 format;
	const char		*in;
	size_t			 in_len;
	enum end		 end;
	const char		*want;
	size_t			 want_len;
	size_t			 left;
} cases[] = {
	{ "lines", 64, L, S("a v=1\nb v=2\n"), MORE, S("[a v=1][b v=2]"), 0 },
	{ "partial line waits", 64, L, S("a v=1\nb v="), MORE,
	    S("[a v=1]"), 4 },
	{ "partial line at EOF", 64, L, S("a v=1\nb v=2"), END,
	    S("[a v=1][b v=2]"), 0 },
	{ "partial line cut", 64, L, S("a v=1\nb v=2"), CUT,
	    S("[a v=1]<cut>"), 0 },
	{ "nothing left to cut", 64, L, S("a v=1\n"), CUT, S("[a v=1]"), 0 },
	{ "empty stream", 64, L, S(""), END, S(""), 0 },
	{ "empty lines", 64, L, S("\n\na v=1\n\n"), END,
	    S("[][][a v=1][]"), 0 },
	{ "CRLF: the CR stays for ingest", 64, L, S("a v=1\r\n\r\nb v=2\r\n"),
	    END, S("[a v=1\r][\r][b v=2\r]"), 0 },
	{ "a lone CR ends nothing", 64, L, S("a\rb v=1\n"), END,
	    S("[a\rb v=1]"), 0 },
	{ "NUL and high bytes", 64, L, S("\0\xff\n\0\na v=1\n"), END,
	    S("[\0\xff][\0][a v=1]"), 0 },
	{ "comment", 64, L, S("# c \"open\n"), END, S("[# c \"open]"), 0 },

	/* max_line (8 here), and the CR of a CRLF that does not count */
	{ "exactly max_line", 8, L, S("aaaaaaaa\n"), END, S("[aaaaaaaa]"), 0 },
	{ "max_line and CRLF", 8, L, S("aaaaaaaa\r\n"), END,
	    S("[aaaaaaaa\r]"), 0 },
	{ "max_line + 1", 8, L, S("aaaaaaaaa\nok v=1\n"), END,
	    S("<long>[ok v=1]"), 0 },
	{ "max_line + 1 and CRLF", 8, L, S("aaaaaaaaa\r\nok v=1\n"), END,
	    S("<long>[ok v=1]"), 0 },
	{ "max_line + 1 may still end in CR", 8, L, S("aaaaaaaaa"), MORE,
	    S(""), 9 },
	{ "refused before its end comes", 8, L, S("aaaaaaaaaa"), MORE,
	    S("<long>"), 0 },
	{ "over-long line skipped up to its newline, quotes or not", 8, L,
	    S("aaaaaa a=\"x\nok v=1\nok v=2"), MORE, S("<long>[ok v=1]"), 6 },
	{ "over-long last line at EOF", 8, L, S("ok v=1\naaaaaaaaaaaa"), END,
	    S("[ok v=1]<long>"), 0 },
	{ "over-long line at shutdown: refused once", 8, L,
	    S("aaaaaaaaaaaa"), CUT, S("<long>"), 0 },

	/* line protocol: quotes and backslashes */
	{ "newline in a string", 64, L, S("m s=\"a\nb\" 1\nok v=1\n"), END,
	    S("[m s=\"a\nb\" 1][ok v=1]"), 0 },
	{ "escaped quote in a string", 64, L,
	    S("m s=\"a\\\"\nb\"\nok v=1\n"), END,
	    S("[m s=\"a\\\"\nb\"][ok v=1]"), 0 },
	{ "backslash before the newline", 64, L, S("m\\\n v=1\nok v=1\n"), END,
	    S("[m\\\n v=1][ok v=1]"), 0 },
	{ "quotes count only where a value is due", 64, L,
	    S("m,t=\"a v=1\nok v=1\n"), END, S("[m,t=\"a v=1][ok v=1]"), 0 },
	{ "a record that does not parse: its first line alone", 64, L,
	    S("m s=\"a\nb\" junk junk\nok v=1\n"), END,
	    S("[m s=\"a][b\" junk junk][ok v=1]"), 0 },
	{ "a bad backslash takes no good line", 64, L,
	    S("garbage \\\nok v=1i\n"), END, S("[garbage \\][ok v=1i]"), 0 },
	{ "an open record waits", 64, L, S("m s=\"x\nok v=1\n"), MORE, S(""),
	    14 },
	{ "an open record settled at EOF", 64, L, S("m s=\"x\nok v=1\n"), END,
	    S("[m s=\"x][ok v=1]"), 0 },
	{ "an open record settled at shutdown", 64, L,
	    S("m s=\"x\nok v=1\nok v="), CUT, S("[m s=\"x][ok v=1]<cut>"), 0 },
	{ "an open record that cannot fit any more", 16, L,
	    S("m s=\"x\naaaaaaaaaa\nok v=1\n"), MORE,
	    S("[m s=\"x][aaaaaaaaaa][ok v=1]"), 0 },
	{ "a record over max_line: its first line alone", 16, L,
	    S("m s=\"aaa\nbbbbbbbbbb\" 1\nok v=1\n"), END,
	    S("[m s=\"aaa][bbbbbbbbbb\" 1][ok v=1]"), 0 },
	{ "a record of max_line + CR over two lines", 16, L,
	    S("m s=\"ab\ncdefg\" 1\r\nok v=1\n"), END,
	    S("[m s=\"ab\ncdefg\" 1\r][ok v=1]"), 0 },
	{ "one byte more: its first line alone", 16, L,
	    S("m s=\"abc\ncdefg\" 1\r\nok v=1\n"), END,
	    S("[m s=\"abc][cdefg\" 1\r][ok v=1]"), 0 },

	/* key=value: one message per line, whatever the quotes */
	{ "kv ignores quotes", 64, K, S("measurement=m s=\"a\nb\"\n"), END,
	    S("[measurement=m s=\"a][b\"]"), 0 },
	{ "kv ignores backslashes", 64, K, S("m=a \\\nv=1\n"), MORE,
	    S("[m=a \\][v=1]"), 0 },
	{ "kv over max_line", 8, K, S("k=aaaaaaa\"\nv=1\n"), END,
	    S("<long>[v=1]"), 0 },
};

/* How a case's stream is fed. */
enum how {
	ONE_READ,	/* one read, one chain */
	BYTES,		/* reads of one byte */
	CHAINS,		/* one read of 1-byte chains that stay apart */
	NHOW
};

static const char *const how_names[] = { "one read", "bytes", "chains" };

struct run {
	const char	*in;
	size_t		 in_len;
	size_t		 max_line;
	size_t		 pos;		/* input accounted for */
	char		 out[4096];
	size_t		 out_len;
	unsigned	 commits;	/* of records, by the one-pass parse */
};

static void
run_put(struct run *r, const char *p, size_t len)
{
	ck_assert_uint_le(r->out_len + len, sizeof(r->out));
	memcpy(r->out + r->out_len, p, len);
	r->out_len += len;
}

static void
run_record(struct run *r, const char *rec, size_t len)
{
	/* the next bytes of the stream, then its '\n' unless it ended */
	ck_assert_uint_le(r->pos + len, r->in_len);
	ck_assert(memcmp(rec, r->in + r->pos, len) == 0);
	r->pos += len;
	if (r->pos < r->in_len)
		ck_assert_int_eq(r->in[r->pos++], '\n');
	run_put(r, "[", 1);
	run_put(r, rec, len);
	run_put(r, "]", 1);
}

static void
record_cb(void *arg, const char *rec, size_t len)
{
	run_record(arg, rec, len);
}

static void
reject_cb(void *arg, const char *reason, const char *head, size_t len)
{
	struct run	*r = arg;
	size_t		 n = len < FRAME_HEAD ? len : FRAME_HEAD;

	ck_assert(reason == frame_too_long || reason == cut);
	ck_assert_uint_le(r->pos + n, r->in_len);
	ck_assert(memcmp(head, r->in + r->pos, n) == 0);
	if (reason == frame_too_long) {
		ck_assert_uint_gt(len, r->max_line);
		run_put(r, "<long>", 6);
	} else
		run_put(r, "<cut>", 5);
}

static enum frame_parse
parse_cb(void *arg, const char *line, size_t len)
{
	struct proto_point	 pt;

	if (proto_parse(line, len, &pt) != PROTO_OK)
		return FRAME_PARSE_FAILED;
	return pt.plain ? FRAME_PARSE_PLAIN : FRAME_PARSE_OK;
}

static void
commit_cb(void *arg, const char *line, size_t len)
{
	struct run	*r = arg;

	r->commits++;
	run_record(r, line, len);
}

static void
skip_cb(void *arg, size_t len)
{
	struct run	*r = arg;

	ck_assert_uint_gt(len, 0);
	ck_assert_uint_le(r->pos + len, r->in_len);
	r->pos += len;
}

static const struct frame_ops	 ops = {
	.record = record_cb,
	.reject = reject_cb,
	.skip = skip_cb,
};

static const struct frame_ops	 ops_parse = {
	.record = record_cb,
	.reject = reject_cb,
	.parse = parse_cb,
	.commit = commit_cb,
	.skip = skip_cb,
};

/* Adds `len` bytes at `p` to `in` as chains of `chain` bytes. */
static void
add_chains(struct evbuffer *in, const char *p, size_t len, size_t chain)
{
	size_t	 n;

	for (; len > 0; p += n, len -= n) {
		n = len < chain ? len : chain;
		ck_assert_int_eq(evbuffer_add_reference(in, p, n, NULL, NULL),
		    0);
	}
}

/*
 * Runs case `i`: the first `split` bytes as one read, the rest as
 * another (split 0: as `how` says); returns what is left buffered.
 */
static size_t
run_case(int i, struct run *r, const struct frame_ops *o, enum how how,
    size_t split)
{
	struct evbuffer	*in = evbuffer_new();
	struct frame	*f = frame_new(cases[i].max_line, cases[i].format, o,
			    r);
	const char	*p = cases[i].in;
	size_t		 len = cases[i].in_len, at, step, left;
	enum end	 end = cases[i].end;

	ck_assert_ptr_nonnull(in);
	memset(r, 0, sizeof(*r));
	r->in = p;
	r->in_len = len;
	r->max_line = cases[i].max_line;
	if (end == CUT)
		frame_close(f);
	for (at = 0; at < len; at += step) {
		if (split > 0)
			step = at == 0 ? split : len - at;
		else
			step = how == BYTES ? 1 : len - at;
		add_chains(in, p + at, step, how == CHAINS ? 1 : step);
		frame_input(f, in, end == END && at + step == len);
	}
	if (len == 0 && end == END)
		frame_input(f, in, true);
	if (end == CUT)
		frame_cut_rest(f, in, cut);
	left = evbuffer_get_length(in);
	/* every byte accounted for once: framed, or still buffered */
	ck_assert_uint_eq(r->pos + left, len);
	frame_free(f);
	evbuffer_free(in);
	return left;
}

static void
check_run(int i, const struct run *r, size_t left, const char *how,
    size_t split, bool parse)
{
	ck_assert_msg(r->out_len == cases[i].want_len &&
	    memcmp(r->out, cases[i].want, r->out_len) == 0,
	    "%s (%s, split %zu%s): got '%.*s', want '%s'", cases[i].name,
	    how, split, parse ? ", parse" : "", (int)r->out_len, r->out,
	    cases[i].want);
	ck_assert_msg(left == cases[i].left, "%s (%s, split %zu%s): %zu "
	    "bytes left, want %zu", cases[i].name, how, split,
	    parse ? ", parse" : "", left, cases[i].left);
}

START_TEST(test_case)
{
	struct run	 r;
	size_t		 left, split;
	int		 how, parse;

	for (parse = 0; parse < 2; parse++) {
		for (how = 0; how < NHOW; how++) {
			left = run_case(_i, &r, parse ? &ops_parse : &ops,
			    (enum how)how, 0);
			check_run(_i, &r, left, how_names[how], 0, parse);
		}
		for (split = 1; split < cases[_i].in_len; split++) {
			left = run_case(_i, &r, parse ? &ops_parse : &ops,
			    ONE_READ, split);
			check_run(_i, &r, left, "two reads", split, parse);
		}
	}
}
END_TEST

static void
check_out(const struct run *r, const char *want)
{
	ck_assert_msg(r->out_len == strlen(want) &&
	    memcmp(r->out, want, r->out_len) == 0, "got '%.*s', want '%s'",
	    (int)r->out_len, r->out, want);
}

/* A stream framed in one read by a new framer (max_line 8, line). */
static void
run_stream(struct run *r, struct frame *f, const char *s, bool eof)
{
	struct evbuffer	*in = evbuffer_new();

	ck_assert_ptr_nonnull(in);
	r->in = s;
	r->in_len = strlen(s);
	r->pos = 0;
	ck_assert_int_eq(evbuffer_add(in, s, strlen(s)), 0);
	frame_input(f, in, eof);
	ck_assert_uint_eq(r->pos + evbuffer_get_length(in), strlen(s));
	evbuffer_free(in);
}

/* A valid line is parsed once: commit(), not record(), takes it. */
START_TEST(test_one_pass_parse)
{
	struct run	 r = { .max_line = 64 };
	struct frame	*f = frame_new(64, FRAME_LINE, &ops_parse, &r);

	run_stream(&r, f, "a v=1\nbad\nm s=\"x\" 1\nok v=2", true);
	check_out(&r, "[a v=1][bad][m s=\"x\" 1][ok v=2]");
	/* the last line has no '\n': framed at EOF, not in one pass */
	ck_assert_uint_eq(r.commits, 2);
	frame_free(f);
}
END_TEST

/* Each datagram is a whole stream; a skip never reaches the next one. */
START_TEST(test_datagrams)
{
	static const char *const d[] = { "a v=1\nb v=2", "aaaaaaaaaaaa",
	    "m s=\"x\nc v=3\n" };
	struct run	 r = { .max_line = 8 };
	struct frame	*f = frame_new(8, FRAME_LINE, &ops, &r);
	size_t		 i;

	for (i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		r.in = d[i];
		r.in_len = strlen(d[i]);
		r.pos = 0;
		frame_datagram(f, d[i], strlen(d[i]));
		ck_assert_uint_eq(r.pos, strlen(d[i]));
	}
	check_out(&r, "[a v=1][b v=2]<long>[m s=\"x][c v=3]");
	frame_free(f);
}
END_TEST

/* A reload's max_line and format apply from the next read on. */
START_TEST(test_configure)
{
	struct run	 r = { .max_line = 8 };
	struct frame	*f = frame_new(8, FRAME_LINE, &ops, &r);

	run_stream(&r, f, "k=\"aaaaaaaa\nb\"\n", false);
	check_out(&r, "<long>[b\"]");
	frame_configure(f, 16, FRAME_KV);
	r.max_line = 16;
	r.out_len = 0;
	run_stream(&r, f, "k=\"aaaaaaaa\nb\"\n", false);
	check_out(&r, "[k=\"aaaaaaaa][b\"]");
	frame_free(f);
}
END_TEST

/*
 * A line that grows too long over many reads is refused once, with
 * FRAME_HEAD bytes of its head for the log, and skipped to its end.
 */
START_TEST(test_reject_head)
{
	char		 s[301];
	struct run	 r = { .max_line = 64 };
	struct evbuffer	*in = evbuffer_new();
	struct frame	*f = frame_new(64, FRAME_LINE, &ops, &r);
	size_t		 at;

	memset(s, 'x', sizeof(s));
	s[sizeof(s) - 1] = '\n';
	r.in = s;
	r.in_len = sizeof(s);
	for (at = 0; at < sizeof(s); at += 10) {
		add_chains(in, s + at, sizeof(s) - at < 10 ? sizeof(s) - at :
		    10, 10);
		frame_input(f, in, false);
		if (at < 60)
			check_out(&r, "");
		else
			check_out(&r, "<long>");
	}
	ck_assert_uint_eq(r.pos, sizeof(s));
	ck_assert_uint_eq(evbuffer_get_length(in), 0);
	frame_free(f);
	evbuffer_free(in);
}
END_TEST

static Suite *
frame_suite(void)
{
	Suite	*s = suite_create("frame");
	TCase	*tc = tcase_create("frame");

	tcase_add_loop_test(tc, test_case, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_one_pass_parse);
	tcase_add_test(tc, test_datagrams);
	tcase_add_test(tc, test_configure);
	tcase_add_test(tc, test_reject_head);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(frame_suite)
