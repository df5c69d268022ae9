/*
 * Framing of stream input (and of datagrams, as streams that end).
 *
 * Lines end at '\n', except inside a quoted field value or after a
 * backslash, as InfluxDB frames them (proto_line_end).  Most lines lie
 * inside the first chain of the input evbuffer and are framed in place;
 * only a line that straddles two chains is pulled up (copied) to make it
 * contiguous.  A line longer than max_line is refused whole: its bytes
 * are dropped as they arrive and the input resumes after the next bare
 * '\n'.
 *
 * The owner may parse a line while it is framed (ops->parse): the common
 * valid line is then parsed once, and its parse settles its framing.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <event2/buffer.h>

#include "frame.h"
#include "log.h"
#include "mem.h"
#include "proto.h"

struct frame {
	const struct frame_ops	*ops;
	void			*arg;
	size_t			 max_line;
	enum frame_format	 format;
	bool			 discarding;	/* inside an over-long line */
	bool			 closing;	/* shutdown: no more input */
	struct evbuffer		*dgram;		/* frame_datagram()'s */
};

const char	 frame_too_long[] = "line too long";

struct frame *
frame_new(size_t max_line, enum frame_format format,
    const struct frame_ops *ops, void *arg)
{
	struct frame	*f = xcalloc(1, sizeof(*f));

	f->ops = ops;
	f->arg = arg;
	f->max_line = max_line;
	f->format = format;
	return f;
}

void
frame_free(struct frame *f)
{
	if (f == NULL)
		return;
	if (f->dgram != NULL)
		evbuffer_free(f->dgram);
	free(f);
}

void
frame_configure(struct frame *f, size_t max_line, enum frame_format format)
{
	f->max_line = max_line;
	f->format = format;
}

void
frame_close(struct frame *f)
{
	f->closing = true;
}

static void
frame_skip(struct frame *f, size_t len)
{
	if (f->ops->skip != NULL && len > 0)
		f->ops->skip(f->arg, len);
}

/* Without its CR, is the line within max_line? */
static bool
frame_fits(const struct frame *f, const char *line, size_t len)
{
	/* the CR of a CRLF is dropped, so it does not count */
	return len - (len > 0 && line[len - 1] == '\r') <= f->max_line;
}

/* A framed line, followed by a '\n' (consumed with it) if `nl`. */
static void
frame_line(struct frame *f, const char *line, size_t len, bool nl)
{
	if (f->discarding) {
		f->discarding = false;	/* the tail of an over-long line */
		frame_skip(f, len + nl);
		return;
	}
	if (!frame_fits(f, line, len)) {
		f->ops->reject(f->arg, frame_too_long, line, len);
		frame_skip(f, len + nl);
		return;
	}
	f->ops->record(f->arg, line, len);
}

/*
 * The common case in one pass: a line up to the next '\n' that the
 * owner's parse() accepts has its framing settled by that parse (a plain
 * line ends at its first '\n'; another needs proto_line_end() to agree).
 * Returns the '\n' it took the line up to, or NULL, having done nothing,
 * for frame_line_end() and frame_line() to sort out.
 */
static const char *
frame_fast(struct frame *f, const char *p, const char *end)
{
	const struct frame_ops	*ops = f->ops;
	const char		*nl;
	size_t			 len;
	enum frame_parse	 r;

	if (f->discarding || f->format != FRAME_LINE || ops->parse == NULL ||
	    (nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
		return NULL;
	len = (size_t)(nl - p);
	if (!frame_fits(f, p, len) ||
	    (r = ops->parse(f->arg, p, len)) == FRAME_PARSE_FAILED ||
	    (r != FRAME_PARSE_PLAIN &&
	    proto_line_end(p, (size_t)(end - p)) != nl))
		return NULL;
	ops->commit(f->arg, p, len);
	return nl;
}

/*
 * The end of the next line at `p`, NULL if it is not complete yet (then
 * `*open` says whether a '\n' was seen: a record that may go on).  Line
 * protocol frames as InfluxDB does (a '\n' inside a quoted field value or
 * after a backslash does not end a line), but garbage must not swallow
 * the lines after it: a record that spans several physical lines stands
 * only if it parses as a whole and fits in max_line, else its first
 * physical line is taken alone (and rejected) and framing resumes after
 * it.  An open record waits for its end while more input can come (not
 * `last`) and it can still fit.  Decided on what is seen so far, the
 * result never depends on how the input was split into reads.  While
 * discarding an over-long line, and for kv (one message per line), only
 * a bare '\n' ends a line.
 */
static const char *
frame_line_end(const struct frame *f, const char *p, const char *end,
    bool last, bool *open)
{
	struct proto_point	 pt;
	const char		*nl, *first;
	size_t			 len = (size_t)(end - p);

	if (f->discarding || f->format == FRAME_KV)
		return memchr(p, '\n', len);
	if ((nl = proto_line_end(p, len)) != NULL) {
		first = memchr(p, '\n', (size_t)(nl - p));
		if (first == NULL || (frame_fits(f, p, (size_t)(nl - p)) &&
		    proto_parse(p, (size_t)(nl - p), &pt) == PROTO_OK))
			return nl;
		return first;
	}
	if ((first = memchr(p, '\n', len)) == NULL)
		return NULL;
	/*
	 * An open record (a quote, a backslash before '\n'): whether it
	 * parses can only be told at its end, unless that comes too late to
	 * fit in max_line (+ CR) or never (`last`).
	 */
	if (last || len > f->max_line + 1)
		return first;
	*open = true;
	return NULL;
}

/*
 * Takes the complete lines at the head of `buf`; how many bytes.  `last`:
 * no byte follows.  `*open`: it stopped at a record that may go on.
 */
static size_t
frame_scan(struct frame *f, const char *buf, size_t len, bool last,
    bool *open)
{
	const char	*p = buf, *end = buf + len, *nl;

	*open = false;
	for (;;) {
		if ((nl = frame_fast(f, p, end)) == NULL) {
			nl = frame_line_end(f, p, end, last, open);
			if (nl == NULL)
				break;
			frame_line(f, p, (size_t)(nl - p), true);
		}
		p = nl + 1;
	}
	return (size_t)(p - buf);
}

/*
 * The line at the head of `in` goes on past its first chain: pulls it up
 * to the next bare '\n' (the line may end there; an `open` record may go
 * on to the end of `in`), never past max_line + 2 bytes (a line of
 * max_line bytes and its CRLF, or enough to tell that a record is over
 * that).  False if there is nothing to pull up.
 */
static bool
frame_pullup(const struct frame *f, struct evbuffer *in, size_t chain,
    bool open)
{
	struct evbuffer_ptr	 from, eol;
	size_t			 want, eol_len;

	if (evbuffer_ptr_set(in, &from, chain, EVBUFFER_PTR_SET) == -1)
		return false;
	eol = evbuffer_search_eol(in, &from, &eol_len, EVBUFFER_EOL_LF);
	if (eol.pos >= 0)
		want = (size_t)eol.pos + 1;
	else if (open)
		want = evbuffer_get_length(in);
	else
		return false;
	if (want > f->max_line + 2)
		want = f->max_line + 2;
	if (want <= chain)
		return false;
	return evbuffer_pullup(in, (ssize_t)want) != NULL;
}

/* A line grew past max_line: refuse it and drop it up to a bare '\n'. */
static void
frame_too_long_head(struct frame *f, struct evbuffer *in)
{
	size_t		 len = evbuffer_get_length(in);
	const char	*head;

	head = (const char *)evbuffer_pullup(in, len < FRAME_HEAD ? -1 :
	    FRAME_HEAD);
	f->ops->reject(f->arg, frame_too_long, head, len);
	f->discarding = true;
}

void
frame_input(struct frame *f, struct evbuffer *in, bool eof)
{
	struct evbuffer_iovec	 v;
	size_t			 len, chain, max, used;
	bool			 last, open = false;

	/* without its '\n', a line may still end in the CR of a CRLF */
	max = f->max_line + 1;
	while ((len = evbuffer_get_length(in)) > 0) {
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		/* only what is contiguous is seen: "no more" means there */
		last = (eof || f->closing) && v.iov_len == len;
		if ((used = frame_scan(f, v.iov_base, v.iov_len, last,
		    &open)) > 0) {
			evbuffer_drain(in, used);
			continue;
		}
		chain = v.iov_len;
		if (f->discarding) {
			frame_skip(f, chain);	/* no '\n' in it */
			evbuffer_drain(in, chain);
		} else if (chain > max)
			frame_too_long_head(f, in);
		else if (chain < len && frame_pullup(f, in, chain, open))
			continue;
		else if (eof) {
			frame_line(f, (const char *)evbuffer_pullup(in, -1),
			    len, false);
			evbuffer_drain(in, len);
		} else if (len > max)
			frame_too_long_head(f, in);
		else
			return;
	}
}

void
frame_datagram(struct frame *f, const char *buf, size_t len)
{
	if (f->dgram == NULL && (f->dgram = evbuffer_new()) == NULL)
		fatalx("frame: cannot allocate a datagram buffer");
	f->discarding = false;
	evbuffer_add_reference(f->dgram, buf, len, NULL, NULL);
	frame_input(f, f->dgram, true);
	/* `buf` is the caller's to reuse: drop any reference to it */
	evbuffer_drain(f->dgram, evbuffer_get_length(f->dgram));
}

void
frame_cut_rest(struct frame *f, struct evbuffer *in, const char *reason)
{
	size_t	 len = evbuffer_get_length(in);

	if (len == 0)
		return;
	/* the tail of an over-long line was refused already */
	if (!f->discarding)
		f->ops->reject(f->arg, reason,
		    (const char *)evbuffer_pullup(in, -1), len);
	frame_skip(f, len);
	evbuffer_drain(in, len);
}
