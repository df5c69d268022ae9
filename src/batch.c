/* Batches of lines, stored in evbuffers. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "batch.h"
#include "gzip.h"
#include "log.h"
#include "mem.h"

struct batch *
batch_new(void)
{
	struct batch	*b = xcalloc(1, sizeof(*b));

	if ((b->buf = evbuffer_new()) == NULL)
		fatal("evbuffer_new");
	return b;
}

void
batch_free(struct batch *b)
{
	if (b == NULL)
		return;
	evbuffer_free(b->buf);
	free(b->gz);
	free(b);
}

/* The body changed: a kept compressed copy is stale. */
static void
batch_forget_gzip(struct batch *b)
{
	free(b->gz);
	b->gz = NULL;
	b->gzlen = 0;
}

void
batch_append(struct batch *b, const char *body, size_t blen,
    const char *tail, size_t tlen)
{
	batch_forget_gzip(b);
	if (evbuffer_add(b->buf, body, blen) == -1 ||
	    evbuffer_add(b->buf, tail, tlen) == -1)
		fatal("evbuffer_add");
	b->points++;
	b->bytes += blen + tlen;
}

const char *
batch_body(struct batch *b)
{
	return (const char *)evbuffer_pullup(b->buf, -1);
}

const char *
batch_gzip(struct batch *b, size_t *len)
{
	if (b->gz == NULL)
		b->gz = gzip_compress(batch_body(b), b->bytes, &b->gzlen);
	*len = b->gzlen;
	return b->gz;
}

/* The end of the line that holds byte `pos`, past its '\n'. */
static size_t
batch_line_end(struct batch *b, size_t pos)
{
	struct evbuffer_ptr	 p;

	if (evbuffer_ptr_set(b->buf, &p, pos, EVBUFFER_PTR_SET) == -1)
		return b->bytes;
	p = evbuffer_search(b->buf, "\n", 1, &p);
	return p.pos < 0 ? b->bytes : (size_t)p.pos + 1;
}

/* Counts the '\n' in the first `len` bytes of a contiguous body. */
static size_t
batch_count_lines(const char *p, size_t len)
{
	const char	*end = p + len;
	size_t		 n = 0;

	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p++;
	}
	return n;
}

struct batch *
batch_split(struct batch *b)
{
	struct batch	*second;
	const char	*body, *nl;
	size_t		 half = b->bytes / 2, cut, first_points;

	if (b->points < 2)
		return NULL;
	batch_forget_gzip(b);
	/* cut after the line that ends at or after the middle... */
	body = batch_body(b);
	nl = memchr(body + half, '\n', b->bytes - half);
	cut = (size_t)(nl - body) + 1;
	/* ...unless that is the last line: then before the middle */
	if (cut >= b->bytes) {
		nl = memrchr(body, '\n', b->bytes - 1);
		cut = (size_t)(nl - body) + 1;
	}
	first_points = batch_count_lines(body, cut);
	second = batch_new();
	/* moving whole chains between evbuffers copies only the cut chain */
	evbuffer_add_buffer(second->buf, b->buf);
	evbuffer_remove_buffer(second->buf, b->buf, cut);
	second->points = b->points - first_points;
	second->bytes = b->bytes - cut;
	b->points = first_points;
	b->bytes = cut;
	return second;
}

size_t
batch_drop_first(struct batch *b)
{
	size_t	 end;

	if (b->points == 0)
		return 0;
	batch_forget_gzip(b);
	end = batch_line_end(b, 0);
	evbuffer_drain(b->buf, end);
	b->points--;
	b->bytes -= end;
	return end;
}
