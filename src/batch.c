/* Batches of lines, stored in evbuffers. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "batch.h"
#include "gzip.h"
#include "log.h"
#include "mem.h"
#include "point.h"
#include "proto.h"

/* An origin slot whose point was settled already (ids never get here). */
#define BATCH_SETTLED	UINT32_MAX

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
	free(b->sizes);
	free(b->origins);
	free(b->refs);
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

/* Grows the per-point arrays, or reuses room dropped points left. */
static void
batch_grow(struct batch *b)
{
	if (b->first > 0 && b->first >= b->cap / 2) {
		memmove(b->sizes, b->sizes + b->first,
		    b->points * sizeof(*b->sizes));
		memmove(b->origins, b->origins + b->first,
		    b->points * sizeof(*b->origins));
		if (b->refs != NULL)
			memmove(b->refs, b->refs + b->first,
			    b->points * sizeof(*b->refs));
		b->first = 0;
		return;
	}
	b->cap = b->cap ? b->cap * 2 : 64;
	b->sizes = xreallocarray(b->sizes, b->cap, sizeof(*b->sizes));
	b->origins = xreallocarray(b->origins, b->cap, sizeof(*b->origins));
	if (b->refs != NULL)
		b->refs = xreallocarray(b->refs, b->cap, sizeof(*b->refs));
}

/*
 * Notes the size, origin and store ref of a point appended at the end.
 * The refs exist only once a point has one: memory-only targets pay
 * nothing for them.
 */
static void
batch_record(struct batch *b, size_t size, uint32_t origin, uint32_t ref)
{
	size_t	 i = b->first + b->points;

	if (i == b->cap) {
		batch_grow(b);
		i = b->first + b->points;
	}
	if (ref != 0 && b->refs == NULL)
		b->refs = xcalloc(b->cap, sizeof(*b->refs));
	/* conf caps max_line far below 4 GiB */
	b->sizes[i] = (uint32_t)size;
	b->origins[i] = origin;
	if (b->refs != NULL)
		b->refs[i] = ref;
}

/* Lines up to this size are joined on the stack, then added at once. */
#define BATCH_JOIN_MAX	512

void
batch_append(struct batch *b, const struct point *p)
{
	char	 line[BATCH_JOIN_MAX];
	size_t	 size = p->blen + p->tlen;

	batch_forget_gzip(b);
	/* a copy of 100 bytes or so costs less than an evbuffer_add() */
	if (size <= sizeof(line)) {
		memcpy(line, p->body, p->blen);
		memcpy(line + p->blen, p->tail, p->tlen);
		if (evbuffer_add(b->buf, line, size) == -1)
			fatal("evbuffer_add");
	} else if (evbuffer_add(b->buf, p->body, p->blen) == -1 ||
	    evbuffer_add(b->buf, p->tail, p->tlen) == -1)
		fatal("evbuffer_add");
	batch_record(b, size, p->origin, p->ref);
	b->points++;
	b->bytes += size;
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

struct batch *
batch_split(struct batch *b)
{
	struct batch	*second;
	size_t		 i, end = b->first + b->points, cut = 0, keep;

	if (b->points < 2)
		return NULL;
	batch_forget_gzip(b);
	/* keep the points up to the one that reaches the middle... */
	for (i = b->first; i < end - 1; i++) {
		cut += b->sizes[i];
		if (cut >= b->bytes / 2)
			break;
	}
	/* (without a break, cut holds all but the last point) */
	if (i == end - 1)
		i--;
	keep = i - b->first + 1;
	second = batch_new();
	/* moving whole chains between evbuffers copies only the cut chain */
	evbuffer_add_buffer(second->buf, b->buf);
	evbuffer_remove_buffer(second->buf, b->buf, cut);
	for (i = b->first + keep; i < end; i++) {
		batch_record(second, b->sizes[i], b->origins[i],
		    b->refs != NULL ? b->refs[i] : 0);
		second->points++;
	}
	second->isolating = b->isolating;
	memcpy(second->types, b->types, sizeof(second->types));
	second->untyped = b->untyped;
	second->bytes = b->bytes - cut;
	b->points = keep;
	b->bytes = cut;
	return second;
}

void
batch_foreach(struct batch *b, batch_point_cb cb, void *arg)
{
	const char	*p = batch_body(b);
	size_t		 i, end = b->first + b->points;

	for (i = b->first; i < end; p += b->sizes[i], i++)
		if (!cb(p, b->sizes[i] - 1, b->origins[i], i - b->first, arg))
			return;
}

size_t
batch_settle(struct batch *b, enum origin_fate fate, size_t n)
{
	size_t		 i, end = b->first + b->points, done = 0, run = 0;
	uint32_t	 id = ORIGIN_UNKNOWN;

	/* consecutive points mostly share a sender: settle them as a run */
	for (i = b->first; i < end && done < n; i++) {
		if (b->origins[i] == BATCH_SETTLED)
			continue;
		if (run > 0 && b->origins[i] != id) {
			origin_settle(id, fate, run);
			run = 0;
		}
		id = b->origins[i];
		b->origins[i] = BATCH_SETTLED;
		run++;
		done++;
	}
	if (run > 0)
		origin_settle(id, fate, run);
	return done;
}

void
batch_settle_at(struct batch *b, size_t i, enum origin_fate fate)
{
	uint32_t	*o = &b->origins[b->first + i];

	if (i >= b->points || *o == BATCH_SETTLED)
		return;
	origin_settle(*o, fate, 1);
	*o = BATCH_SETTLED;
}

void
batch_refs(const struct batch *b, batch_ref_cb cb, void *arg)
{
	size_t		 i, end = b->first + b->points, run = 0;
	uint32_t	 ref = 0;

	if (b->refs == NULL)
		return;
	for (i = b->first; i < end; i++) {
		if (run > 0 && b->refs[i] != ref) {
			if (ref != 0)
				cb(ref, run, arg);
			run = 0;
		}
		ref = b->refs[i];
		run++;
	}
	if (run > 0 && ref != 0)
		cb(ref, run, arg);
}

uint32_t
batch_first_ref(const struct batch *b)
{
	return b->refs != NULL && b->points > 0 ? b->refs[b->first] : 0;
}

size_t
batch_drop_first(struct batch *b, enum origin_fate fate)
{
	size_t	 size;

	if (b->points == 0)
		return 0;
	batch_settle_at(b, 0, fate);
	batch_forget_gzip(b);
	size = b->sizes[b->first++];
	evbuffer_drain(b->buf, size);
	b->points--;
	b->bytes -= size;
	return size;
}

/*
 * What InfluxDB stores a point under: its series (measurement and tags as
 * written, up to the first unescaped blank after any leading ones) and
 * its timestamp (the tail: after the last blank).  Never 0.
 */
static uint32_t
batch_point_key(const char *line, size_t len)
{
	const char	*blank;
	size_t		 start = 0, end, ts = len;
	uint64_t	 h;

	while (start < len && (line[start] == ' ' || line[start] == '\t'))
		start++;
	/* memchr() finds the blanks in a plain line a word at a time */
	blank = memchr(line + start, ' ', len - start);
	end = blank != NULL ? (size_t)(blank - line) : len;
	if (memchr(line + start, '\\', end - start) != NULL) {
		for (end = start; end < len && line[end] != ' '; end++)
			if (line[end] == '\\')
				end++;
		if (end > len)
			end = len;
	}
	if ((blank = memrchr(line + end, ' ', len - end)) != NULL)
		ts = (size_t)(blank - line) + 1;
	h = proto_hash(PROTO_HASH_SEED, line + start, end - start);
	h = proto_hash(h, line + ts, len - ts);
	return (uint32_t)(h ^ (h >> 32)) | 1;
}

/* An open-addressing set of point keys (0 is the empty slot). */
struct batch_keyset {
	uint32_t	*slot;
	size_t		 mask;
	bool		 found;		/* a probe met a key of the set */
};

static bool
batch_keyset_add(struct batch_keyset *ks, uint32_t key, bool insert)
{
	size_t	 i = (key * 0x9e3779b1u) & ks->mask;

	for (; ks->slot[i] != 0; i = (i + 1) & ks->mask)
		if (ks->slot[i] == key)
			return true;
	if (insert)
		ks->slot[i] = key;
	return false;
}

static bool
batch_key_insert_cb(const char *line, size_t len, uint32_t origin,
    size_t i, void *arg)
{
	batch_keyset_add(arg, batch_point_key(line, len), true);
	return true;
}

static bool
batch_key_absent_cb(const char *line, size_t len, uint32_t origin,
    size_t i, void *arg)
{
	struct batch_keyset	*ks = arg;

	if (!batch_keyset_add(ks, batch_point_key(line, len), false))
		return true;
	ks->found = true;
	return false;
}

void
batch_note_type(struct batch *b, uint64_t hash, unsigned type)
{
	b->types[hash % BATCH_TYPE_SLOTS] |= (uint8_t)(1u << type);
}

/*
 * A field may have one type in `b` and another in one of `others`: a
 * slot where both have types, but not the same ones.  Two fields of one
 * batch that share a slot make it hold two types; batches of one shape
 * hold the same two, so they still go side by side.  (Were the two
 * fields to swap types between the batches, this would miss it: two
 * collisions at once, and then only which type a new field gets is
 * left to the race, as with any two writers.)
 */
static bool
batch_types_differ(const struct batch *b, struct batch *const *others,
    size_t n)
{
	size_t	 i, s;

	if (b->untyped)
		return true;
	for (i = 0; i < n; i++)
		if (others[i]->untyped)
			return true;
	for (s = 0; s < BATCH_TYPE_SLOTS; s++) {
		if (b->types[s] == 0)
			continue;
		for (i = 0; i < n; i++)
			if (others[i]->types[s] != 0 &&
			    others[i]->types[s] != b->types[s])
				return true;
	}
	return false;
}

bool
batch_must_follow(struct batch *b, struct batch *const *others, size_t n)
{
	struct batch_keyset	 ks;
	size_t			 i, total = 0, size = 16;

	for (i = 0; i < n; i++)
		total += others[i]->points;
	if (total == 0 || b->points == 0)
		return false;
	if (batch_types_differ(b, others, n))
		return true;
	while (size < 2 * total)
		size *= 2;
	ks.slot = xcalloc(size, sizeof(*ks.slot));
	ks.mask = size - 1;
	ks.found = false;
	for (i = 0; i < n; i++)
		batch_foreach(others[i], batch_key_insert_cb, &ks);
	batch_foreach(b, batch_key_absent_cb, &ks);
	free(ks.slot);
	return ks.found;
}
