/*
 * libFuzzer target for the framing of stream input (frame.c).
 *
 * Besides "no crash, no sanitizer report", it checks what the listener
 * relies on:
 * - every input byte is accounted for exactly once, in order: a record
 *   (and the '\n' after it), or a skip; a refusal names the bytes that
 *   are then skipped;
 * - a record is at most max_line bytes (a CR before its '\n' aside), and
 *   one that spans several physical lines parses as a whole;
 * - how the input arrives does not matter: split into two reads at any
 *   point, into many small reads, or into reads of several chains, it
 *   gives the same records and refusals as in one read;
 * - framing with the one-pass parse (ops->parse) gives what framing
 *   alone gives.
 *
 * The first input byte picks max_line, the format and the parse; the
 * second where to split; the rest is the stream.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "frame.h"
#include "proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char	 fuzz_cut[] = "cut";

/* What framing made of a stream, as comparable text. */
struct fuzz_run {
	const char	*in;		/* the stream */
	size_t		 len;
	size_t		 pos;		/* bytes accounted for so far */
	size_t		 max_line;
	enum frame_format format;
	char		*out;		/* records and refusals */
	size_t		 out_len, out_size;
};

static void
fuzz_fail(const struct fuzz_run *r, const char *what)
{
	fprintf(stderr, "frame: %s (at byte %zu of %zu, max_line %zu, %s)\n",
	    what, r->pos, r->len, r->max_line,
	    r->format == FRAME_KV ? "kv" : "line");
	abort();
}

static void
fuzz_put(struct fuzz_run *r, const void *p, size_t len)
{
	if (r->out_len + len > r->out_size) {
		r->out_size = 2 * (r->out_len + len) + 256;
		if ((r->out = realloc(r->out, r->out_size)) == NULL)
			abort();
	}
	memcpy(r->out + r->out_len, p, len);
	r->out_len += len;
}

/* Appends "kind len:bytes" to the transcript. */
static void
fuzz_note(struct fuzz_run *r, char kind, const char *p, size_t len)
{
	char	 hdr[32];
	int	 n = snprintf(hdr, sizeof(hdr), "%c%zu:", kind, len);

	fuzz_put(r, hdr, (size_t)n);
	fuzz_put(r, p, len);
}

static void
fuzz_record(struct fuzz_run *r, const char *rec, size_t len)
{
	struct proto_point	 pt;

	if (len > r->len - r->pos || memcmp(rec, r->in + r->pos, len) != 0)
		fuzz_fail(r, "a record that is not the next input");
	if (len - (len > 0 && rec[len - 1] == '\r') > r->max_line)
		fuzz_fail(r, "a record over max_line");
	if (memchr(rec, '\n', len) != NULL && (r->format == FRAME_KV ||
	    proto_parse(rec, len, &pt) != PROTO_OK))
		fuzz_fail(r, "a record of several lines that does not parse");
	r->pos += len;
	/* only the last record of a stream that ended lacks its '\n' */
	if (r->pos < r->len && r->in[r->pos++] != '\n')
		fuzz_fail(r, "a record not followed by its newline");
	fuzz_note(r, 'R', rec, len);
}

static void
fuzz_record_cb(void *arg, const char *rec, size_t len)
{
	fuzz_record(arg, rec, len);
}

static void
fuzz_reject_cb(void *arg, const char *reason, const char *head,
    size_t len)
{
	struct fuzz_run	*r = arg;
	size_t		 n = len < FRAME_HEAD ? len : FRAME_HEAD;

	if (reason != frame_too_long && reason != fuzz_cut)
		fuzz_fail(r, "an unknown reason");
	if (len <= r->max_line && reason == frame_too_long)
		fuzz_fail(r, "a line within max_line refused as too long");
	/* what is known of a line that grew too long depends on the reads */
	if (n > r->len - r->pos || memcmp(head, r->in + r->pos, n) != 0)
		fuzz_fail(r, "a refusal that is not of the next input");
	fuzz_note(r, reason == fuzz_cut ? 'C' : 'L', head, n);
}

static enum frame_parse
fuzz_parse_cb(void *arg, const char *line, size_t len)
{
	struct proto_point	 pt;

	if (proto_parse(line, len, &pt) != PROTO_OK)
		return FRAME_PARSE_FAILED;
	return pt.plain ? FRAME_PARSE_PLAIN : FRAME_PARSE_OK;
}

static void
fuzz_commit_cb(void *arg, const char *line, size_t len)
{
	fuzz_record(arg, line, len);
}

static void
fuzz_skip_cb(void *arg, size_t len)
{
	struct fuzz_run	*r = arg;

	if (len == 0 || len > r->len - r->pos)
		fuzz_fail(r, "a skip past the input");
	r->pos += len;
}

static const struct frame_ops	 fuzz_ops = {
	.record = fuzz_record_cb,
	.reject = fuzz_reject_cb,
	.skip = fuzz_skip_cb,
};

static const struct frame_ops	 fuzz_ops_parse = {
	.record = fuzz_record_cb,
	.reject = fuzz_reject_cb,
	.parse = fuzz_parse_cb,
	.commit = fuzz_commit_cb,
	.skip = fuzz_skip_cb,
};

/*
 * Frames `r->in` in reads of `step` bytes (the last at `eof`), each read
 * added as `chains` chains (references, so they stay apart); `cut`:
 * shutdown, then frame_cut_rest().
 */
static void
fuzz_frame(struct fuzz_run *r, const struct frame_ops *ops, size_t step,
    size_t chains, bool eof, bool cut)
{
	struct evbuffer	*in = evbuffer_new();
	struct frame	*f = frame_new(r->max_line, r->format, ops, r);
	size_t		 at, n, i, part;

	if (in == NULL)
		abort();
	r->pos = r->out_len = 0;
	if (cut)
		frame_close(f);
	for (at = 0; at < r->len; at += n) {
		n = r->len - at < step ? r->len - at : step;
		for (i = 0; i < n; i += part) {
			part = n - i < n / chains + 1 ? n - i : n / chains + 1;
			evbuffer_add_reference(in, r->in + at + i, part, NULL,
			    NULL);
		}
		frame_input(f, in, eof && at + n == r->len);
	}
	if (r->len == 0 && eof)
		frame_input(f, in, true);
	if (cut)
		frame_cut_rest(f, in, fuzz_cut);
	if (r->pos + evbuffer_get_length(in) != r->len)
		fuzz_fail(r, "bytes lost or counted twice");
	if ((eof || cut) && evbuffer_get_length(in) != 0)
		fuzz_fail(r, "bytes left after the end");
	frame_free(f);
	evbuffer_free(in);
}

/* The transcript of a run, kept for comparing. */
static char *
fuzz_take(struct fuzz_run *r, size_t *len)
{
	char	*copy = malloc(r->out_len + 1);

	if (copy == NULL)
		abort();
	if (r->out_len > 0)
		memcpy(copy, r->out, r->out_len);
	*len = r->out_len;
	return copy;
}

static void
fuzz_same(struct fuzz_run *r, const char *want, size_t want_len,
    const char *how)
{
	if (r->out_len != want_len ||
	    (want_len > 0 && memcmp(r->out, want, want_len) != 0))
		fuzz_fail(r, how);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_run		 r;
	const struct frame_ops	*ops;
	char			*whole;
	size_t			 whole_len, split;

	if (size < 2)
		return 0;
	memset(&r, 0, sizeof(r));
	r.max_line = 64 + (data[0] & 0x3f) * 3;
	r.format = (data[0] & 0x40) ? FRAME_KV : FRAME_LINE;
	ops = (data[0] & 0x80) ? &fuzz_ops_parse : &fuzz_ops;
	r.in = (const char *)data + 2;
	r.len = size - 2;
	split = r.len > 0 ? data[1] * r.len / 255 : 0;

	fuzz_frame(&r, ops, r.len + 1, 1, true, false);
	whole = fuzz_take(&r, &whole_len);
	fuzz_frame(&r, ops, r.len + 1, 3, true, false);
	fuzz_same(&r, whole, whole_len, "chains of one read frame apart");
	fuzz_frame(&r, ops == &fuzz_ops ? &fuzz_ops_parse : &fuzz_ops,
	    r.len + 1, 1, true, false);
	fuzz_same(&r, whole, whole_len, "the one-pass parse frames apart");
	if (split > 0 && split < r.len) {
		fuzz_frame(&r, ops, split, 1, true, false);
		fuzz_same(&r, whole, whole_len, "two reads frame apart");
	}
	fuzz_frame(&r, ops, 1 + data[1] % 16, 2, true, false);
	fuzz_same(&r, whole, whole_len, "small reads frame apart");
	/* no end yet, and shutdown: only the accounting is checked */
	fuzz_frame(&r, ops, 1 + data[1] % 64, 1, false, false);
	fuzz_frame(&r, ops, 1 + data[1] % 64, 1, false, true);
	free(whole);
	free(r.out);
	return 0;
}
