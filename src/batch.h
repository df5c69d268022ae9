/*
 * A batch: whole points of normalised line protocol for one queue, each
 * ending in '\n', held in an evbuffer so appending never moves old data.
 * It becomes one contiguous request body once, when it is first sent.
 * A point may hold '\n' inside a string field, so the batch records each
 * point's size instead of searching for newlines.
 */
#ifndef RELAYD_BATCH_H
#define RELAYD_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "origin.h"

struct evbuffer;
struct point;

/* Slots of a batch's field-type summary (batch_note_type()). */
#define BATCH_TYPE_SLOTS	256

struct batch {
	TAILQ_ENTRY(batch)	 entry;		/* owned by its queue */
	struct evbuffer		*buf;
	size_t			 points;
	size_t			 bytes;
	char			*gz;		/* gzip body, kept for retries */
	size_t			 gzlen;
	uint32_t		*sizes;		/* of each point, from first */
	uint32_t		*origins;	/* of each point (origin.h) */
	uint32_t		*refs;		/* of each (store.h), or NULL */
	size_t			 first;		/* oldest point still here */
	size_t			 cap;		/* of sizes and origins */
	bool			 isolating;	/* a half of a refused batch */
	/*
	 * The types its fields have, a bit per type in the slot of each
	 * field's hash, and whether a point's types went unrecorded.
	 */
	uint8_t			 types[BATCH_TYPE_SLOTS];
	bool			 untyped;
};

TAILQ_HEAD(batch_list, batch);

struct batch	*batch_new(void);
void		 batch_free(struct batch *);
/* Appends one point (body + tail, the tail ends in '\n'). */
void		 batch_append(struct batch *, const struct point *);
/* The body as one contiguous block (valid until the batch changes). */
const char	*batch_body(struct batch *);
/*
 * The body gzip-compressed, computed on the first call and kept until the
 * batch changes, so a retried batch is compressed only once.
 */
const char	*batch_gzip(struct batch *, size_t *len);
/*
 * Moves the second half of the points (by bytes) into a new batch, for a
 * 413 answer; NULL if the batch holds a single point.
 */
struct batch	*batch_split(struct batch *);
/*
 * Calls `cb` for each point, oldest first, with its bytes (body and
 * tail, without the final '\n'), origin and index; stops when `cb` says
 * false.  Makes the body contiguous.
 */
typedef bool	(*batch_point_cb)(const char *line, size_t len,
		    uint32_t origin, size_t i, void *arg);
void		 batch_foreach(struct batch *, batch_point_cb, void *);
/*
 * Removes the oldest point, settling it with `fate` (origin.h); returns
 * its size in bytes (0 if empty).
 */
size_t		 batch_drop_first(struct batch *, enum origin_fate);
/*
 * Settles up to `n` of the points not settled yet, oldest first, with
 * `fate`: each point a target accepted is settled exactly once, when it
 * leaves memory (or when the server's answer names it); returns how many.
 */
size_t		 batch_settle(struct batch *, enum origin_fate, size_t n);
/*
 * Calls `cb` for each run of consecutive points kept in one place of the
 * store (ref, store.h), with the run's length; points kept nowhere (ref
 * 0) are skipped.
 */
typedef void	(*batch_ref_cb)(uint32_t ref, size_t n, void *arg);
void		 batch_refs(const struct batch *, batch_ref_cb, void *);
/* The store ref of the oldest point (0: none). */
uint32_t	 batch_first_ref(const struct batch *);
/* Settles point `i` (batch_foreach's index), unless it already is. */
void		 batch_settle_at(struct batch *, size_t i, enum origin_fate);
/* Notes that the batch gives field `hash` (proto_field_id) `type`. */
void		 batch_note_type(struct batch *, uint64_t hash, unsigned type);
/*
 * True if `b` must reach the server after the `n` batches `others`
 * (requests in flight) rather than beside them: when a point of `b` may
 * be a point of theirs written again (same series and timestamp: the
 * later write wins), or a field of `b` may have another type than in
 * theirs (the first stored sets it).  Any other batches are stored the
 * same in either order.  A false "may" (a hash collision) only costs a
 * parallel send.
 */
bool		 batch_must_follow(struct batch *b, struct batch *const *others,
		    size_t n);

#endif
