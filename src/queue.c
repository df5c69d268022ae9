/*
 * Queues of batches.  The last batch is "open" (still filling) until it
 * reaches batch_size points or batch_bytes, or its flush timer seals it;
 * every other batch is closed and ready to send in order.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "mem.h"
#include "queue.h"

struct queue {
	char			*database;
	char			*rp;
	size_t			 batch_size;
	size_t			 batch_bytes;
	struct batch_list	 batches;
	struct batch		*open;		/* the tail, or NULL */
	size_t			 points;
	size_t			 bytes;
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
	TAILQ_INIT(&q->batches);
	return q;
}

bool
queue_set_limits(struct queue *q, size_t batch_size, size_t batch_bytes)
{
	q->batch_size = batch_size;
	q->batch_bytes = batch_bytes;
	if (q->open == NULL || (q->open->points < batch_size &&
	    q->open->bytes < batch_bytes))
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

bool
queue_append(struct queue *q, const char *body, size_t blen,
    const char *tail, size_t tlen)
{
	bool	 started = false;

	/* a point that would overfill the open batch starts the next one */
	if (q->open != NULL && q->open->points > 0 &&
	    q->open->bytes + blen + tlen > q->batch_bytes)
		queue_seal(q);
	if (q->open == NULL) {
		q->open = batch_new();
		TAILQ_INSERT_TAIL(&q->batches, q->open, entry);
		started = true;
	}
	batch_append(q->open, body, blen, tail, tlen);
	q->points++;
	q->bytes += blen + tlen;
	if (q->open->points >= q->batch_size ||
	    q->open->bytes >= q->batch_bytes)
		queue_seal(q);
	return started;
}

void
queue_seal(struct queue *q)
{
	q->open = NULL;
}

bool
queue_ready(const struct queue *q)
{
	struct batch	*b = TAILQ_FIRST(&q->batches);

	return b != NULL && b != q->open;
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
queue_drop_oldest(struct queue *q)
{
	struct batch	*b = TAILQ_FIRST(&q->batches);
	size_t		 bytes;

	if (b == NULL)
		return 0;
	bytes = batch_drop_first(b);
	q->points--;
	q->bytes -= bytes;
	if (b->points == 0) {
		TAILQ_REMOVE(&q->batches, b, entry);
		if (b == q->open)
			q->open = NULL;
		batch_free(b);
	}
	return bytes;
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
