/*
 * Queues of batches.  The last batch is "open" (still filling) until it
 * reaches batch_size points or batch_bytes, or its flush timer seals it;
 * every other batch is closed and ready to send in order.
 *
 * Each open batch knows the types of its fields.  A point that would give
 * a field a second type closes the open batch and starts the next one,
 * which keeps order.  So that one sender alternating types cannot shrink
 * everyone's batches, such cuts are rationed (QUEUE_CUTS_PER_S); past the
 * ration the point goes to a second open batch, the spill, which is sent
 * right after the open one: those points may be written after points of
 * their series that came later, which only matters for two points of one
 * series with one timestamp.  A point that fits neither is refused.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "mem.h"
#include "point.h"
#include "queue.h"
#include "stamp.h"
#include "typemap.h"

#define QUEUE_NS_PER_S	1000000000LL
/*
 * Field types are per shard in InfluxDB: one field may be an integer in
 * last week's shard and a float in this week's.  A batch is typed per
 * field whatever the shard: InfluxDB picks the winner between two types
 * of one new field in one request unpredictably (seen with 1.6), so a
 * batch must not hold both even where a cut proves needless.  What the
 * server says a field is holds for its shard only, so learned types are
 * kept per field and hour: shard groups last a whole number of hours (1 h
 * at least, aligned to hours), so two points in one hour share a shard.
 */
static uint64_t
queue_key(uint64_t hash, int64_t t)
{
	return hash ^ ((uint64_t)stamp_hour(t) * 0x9e3779b97f4a7c15ULL);
}

/* A batch still filling, with the types of its fields. */
struct queue_lane {
	struct batch		*batch;		/* NULL: none open */
	struct typemap		*types;
	struct typemap		*shapes;	/* point shapes it took */
	uint64_t		 shape;		/* of the last point, 0: none */
};

struct queue {
	char			*database;
	char			*rp;
	size_t			 batch_size;
	size_t			 batch_bytes;
	struct batch_list	 batches;
	struct queue_lane	 open;		/* at or near the tail */
	struct queue_lane	 spill;		/* open only while open is */
	size_t			 points;
	size_t			 bytes;
	struct typemap		*known_types;	/* the server's, or NULL */
	int64_t			 cut_window;	/* the second cuts count in */
	unsigned		 cuts;
};

struct queue *
queue_new(const char *database, const char *rp, size_t batch_size,
    size_t batch_bytes)
{
	struct queue	*q = xcalloc(1, sizeof(*q));

	q->database = xstrdup(database);
	q->rp = xstrdup(rp);
	q->batch_size = batch_size;
	q->batch_bytes = batch_bytes;
	q->open.types = typemap_new(QUEUE_BATCH_TYPES);
	q->spill.types = typemap_new(QUEUE_BATCH_TYPES);
	q->open.shapes = typemap_new(QUEUE_BATCH_SHAPES);
	q->spill.shapes = typemap_new(QUEUE_BATCH_SHAPES);
	TAILQ_INIT(&q->batches);
	return q;
}

bool
queue_set_limits(struct queue *q, size_t batch_size, size_t batch_bytes)
{
	q->batch_size = batch_size;
	q->batch_bytes = batch_bytes;
	if (q->open.batch == NULL || (q->open.batch->points < batch_size &&
	    q->open.batch->bytes < batch_bytes))
		return false;
	queue_seal(q);
	return true;
}

void
queue_free(struct queue *q)
{
	struct batch	*b;

	if (q == NULL)
		return;
	while ((b = TAILQ_FIRST(&q->batches)) != NULL) {
		TAILQ_REMOVE(&q->batches, b, entry);
		batch_free(b);
	}
	typemap_free(q->open.types);
	typemap_free(q->spill.types);
	typemap_free(q->open.shapes);
	typemap_free(q->spill.shapes);
	typemap_free(q->known_types);
	free(q->database);
	free(q->rp);
	free(q);
}

const char *
queue_database(const struct queue *q)
{
	return q->database;
}

const char *
queue_retention_policy(const struct queue *q)
{
	return q->rp;
}

/* What `types` says of `p`'s fields. */
enum queue_match {
	QUEUE_UNKNOWN,		/* knows none of them */
	QUEUE_SAME,		/* knows some, with the point's types */
	QUEUE_DIFFERS,		/* knows one with another type */
};

/* The point's fields with their hashes; NULL if unknown. */
static const struct proto_point *
queue_fields(const struct point *p)
{
	if (p->fields != NULL)
		proto_hash_ids(p->fields);
	return p->fields;
}

static enum queue_match
queue_match(const struct typemap *types, const struct point *p,
    int64_t now, bool per_hour)
{
	const struct proto_point *f = queue_fields(p);
	enum queue_match	 m = QUEUE_UNKNOWN;
	enum proto_type		 t;
	uint64_t		 key;
	unsigned		 i;

	for (i = 0; f != NULL && i < f->nids; i++) {
		key = f->ids[i].hash;
		if (per_hour)
			key = queue_key(key, p->time);
		t = typemap_get(types, key, now);
		if (t != PROTO_T_EMPTY && t != f->ids[i].type)
			return QUEUE_DIFFERS;
		if (t != PROTO_T_EMPTY)
			m = QUEUE_SAME;
	}
	return m;
}

/* True while this second's budget of type cuts lasts. */
static bool
queue_may_cut(const struct queue *q, int64_t now)
{
	return now - q->cut_window >= QUEUE_NS_PER_S ||
	    q->cuts < QUEUE_CUTS_PER_S;
}

/* The point's shape (proto.h), 0 if unknown. */
static uint64_t
queue_shape(const struct point *p)
{
	return p->fields != NULL ? p->fields->shape : 0;
}

/*
 * Most points have the shape (fields and types) of one the batch already
 * took, often of the one just before: one lookup instead of one a field.
 */
static bool
queue_lane_knows_shape(const struct queue_lane *l, const struct point *p)
{
	uint64_t	 shape = queue_shape(p);

	return shape != 0 && (shape == l->shape ||
	    typemap_get(l->shapes, shape, 0) != PROTO_T_EMPTY);
}

/* Would `p` give a field of the lane's batch a second type? */
static bool
queue_lane_differs(const struct queue_lane *l, const struct point *p)
{
	if (l->batch == NULL || queue_lane_knows_shape(l, p))
		return false;
	return queue_match(l->types, p, 0, false) == QUEUE_DIFFERS;
}

enum queue_fit
queue_check(struct queue *q, const struct point *p, int64_t now)
{
	enum queue_match	 known = QUEUE_UNKNOWN;

	if (q->known_types != NULL &&
	    (known = queue_match(q->known_types, p, now, true)) ==
	    QUEUE_DIFFERS)
		return QUEUE_CONFLICT;
	if (!queue_lane_differs(&q->open, p))
		return QUEUE_FITS;
	/*
	 * A point with the type the server has always cuts: the open batch
	 * holds points the server will refuse (from before it told), and
	 * they must not cost the right ones.
	 */
	if (known == QUEUE_SAME || queue_may_cut(q, now))
		return QUEUE_CUTS;
	if (!queue_lane_differs(&q->spill, p))
		return QUEUE_SPILLS;
	return QUEUE_CONFLICT;
}

static void
queue_count_cut(struct queue *q, int64_t now)
{
	if (now - q->cut_window >= QUEUE_NS_PER_S) {
		q->cut_window = now;
		q->cuts = 0;
	}
	q->cuts++;
}

/* The lane's batch is closed: a next one starts knowing nothing. */
static void
queue_lane_reset(struct queue_lane *l)
{
	l->batch = NULL;
	l->shape = 0;
	typemap_clear(l->types);
	typemap_clear(l->shapes);
}

/* Closes a lane's batch (the spill's alone, or both with the open's). */
static void
queue_close(struct queue *q, struct queue_lane *l)
{
	if (l == &q->open)
		queue_seal(q);
	else
		queue_lane_reset(l);
}

/*
 * Records the point's types in the lane and in its batch (for
 * batch_must_follow()); false if the lane is full.
 */
static bool
queue_note_types(struct queue_lane *l, const struct point *p)
{
	const struct proto_point *f = queue_fields(p);
	unsigned		 i;

	if (f == NULL || f->nids == PROTO_MAX_FIELD_IDS)
		l->batch->untyped = true;	/* some go unchecked */
	for (i = 0; f != NULL && i < f->nids; i++)
		batch_note_type(l->batch, f->ids[i].hash, f->ids[i].type);
	for (i = 0; f != NULL && i < f->nids; i++)
		if (!typemap_put(l->types, f->ids[i].hash, f->ids[i].type,
		    INT64_MAX))
			return false;
	return true;
}

/* The lane took `p`: remember its types and shape. */
static void
queue_lane_note(struct queue *q, struct queue_lane *l, const struct point *p)
{
	uint64_t	 shape = queue_shape(p);

	if (queue_lane_knows_shape(l, p)) {
		l->shape = shape;
		return;
	}
	if (!queue_note_types(l, p)) {
		/* too many fields to follow: the next batch starts afresh */
		queue_close(q, l);
		return;
	}
	l->shape = shape;
	/* when the set is full, this shape is checked field by field */
	if (shape != 0)
		(void)typemap_put(l->shapes, shape, PROTO_T_STRING,
		    INT64_MAX);
}

bool
queue_append(struct queue *q, const struct point *p, enum queue_fit fit,
    int64_t now)
{
	struct queue_lane	*l = (fit == QUEUE_SPILLS) ? &q->spill : &q->open;
	size_t			 size = p->blen + p->tlen;
	bool			 started = false;

	if (fit == QUEUE_CUTS && q->open.batch != NULL) {
		queue_count_cut(q, now);
		queue_seal(q);
	}
	/* a point that would overfill the batch starts the next one */
	if (l->batch != NULL && l->batch->points > 0 &&
	    l->batch->bytes + size > q->batch_bytes)
		queue_close(q, l);
	if (l->batch == NULL) {
		l->batch = batch_new();
		TAILQ_INSERT_TAIL(&q->batches, l->batch, entry);
		started = (l == &q->open);
	}
	batch_append(l->batch, p);
	q->points++;
	q->bytes += size;
	queue_lane_note(q, l, p);
	if (l->batch != NULL && (l->batch->points >= q->batch_size ||
	    l->batch->bytes >= q->batch_bytes))
		queue_close(q, l);
	return started;
}

void
queue_learn_type(struct queue *q, uint64_t hash, int64_t t,
    enum proto_type type, int64_t expires)
{
	hash = queue_key(hash, t);
	if (q->known_types == NULL)
		q->known_types = typemap_new(QUEUE_KNOWN_TYPES);
	/* full: start over rather than keep stale entries for good */
	if (!typemap_put(q->known_types, hash, type, expires)) {
		typemap_clear(q->known_types);
		(void)typemap_put(q->known_types, hash, type, expires);
	}
}

void
queue_seal(struct queue *q)
{
	queue_lane_reset(&q->open);
	queue_lane_reset(&q->spill);
}

bool
queue_ready(const struct queue *q)
{
	struct batch	*b = TAILQ_FIRST(&q->batches);

	return b != NULL && b != q->open.batch && b != q->spill.batch;
}

struct batch *
queue_next(struct queue *q)
{
	return queue_ready(q) ? TAILQ_FIRST(&q->batches) : NULL;
}

struct batch *
queue_take(struct queue *q)
{
	struct batch	*b;

	if (!queue_ready(q))
		return NULL;
	b = TAILQ_FIRST(&q->batches);
	TAILQ_REMOVE(&q->batches, b, entry);
	q->points -= b->points;
	q->bytes -= b->bytes;
	return b;
}

void
queue_putback(struct queue *q, struct batch *b)
{
	TAILQ_INSERT_HEAD(&q->batches, b, entry);
	q->points += b->points;
	q->bytes += b->bytes;
}

size_t
queue_drop_oldest(struct queue *q, uint32_t *ref)
{
	struct batch	*b = TAILQ_FIRST(&q->batches);
	size_t		 bytes;

	if (b == NULL)
		return 0;
	*ref = batch_first_ref(b);
	bytes = batch_drop_first(b, ORIGIN_DROPPED_OVERFLOW);
	q->points--;
	q->bytes -= bytes;
	if (b->points == 0) {
		TAILQ_REMOVE(&q->batches, b, entry);
		if (b == q->open.batch || b == q->spill.batch)
			queue_seal(q);
		batch_free(b);
	}
	return bytes;
}

size_t
queue_settle(struct queue *q, enum origin_fate fate)
{
	struct batch	*b;
	size_t		 n = 0;

	TAILQ_FOREACH(b, &q->batches, entry)
		n += batch_settle(b, fate, b->points);
	return n;
}

size_t
queue_points(const struct queue *q)
{
	return q->points;
}

size_t
queue_bytes(const struct queue *q)
{
	return q->bytes;
}
