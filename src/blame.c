/*
 * Blame walks a refused batch point by point (rare: only after a refusal)
 * and parses each line again to compare its fields with the conflict the
 * server named.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "batch.h"
#include "blame.h"
#include "log.h"
#include "origin.h"
#include "proto.h"
#include "response.h"
#include "stamp.h"

struct blame_walk {
	struct batch			*batch;
	struct blame			*blame;
	const struct response_conflict	*conflict;	/* NULL: every point */
	size_t				 limit;
};

/* Does the line give the conflict's field the refused type? */
static bool
blame_matches(const struct response_conflict *c, const char *line,
    size_t len, int64_t *t)
{
	struct proto_point	 pt;
	unsigned		 i;

	if (proto_parse(line, len, &pt) != PROTO_OK)
		return false;
	proto_hash_ids(&pt);
	*t = pt.time;		/* a queued point always has one, in ns */
	for (i = 0; i < pt.nids; i++)
		if (pt.ids[i].hash == c->hash && pt.ids[i].type == c->input)
			return true;
	return false;
}

/* Keeps a few times of blamed points, no two in the same hour. */
static void
blame_note_time(struct blame *bl, int64_t t)
{
	size_t	 i;

	for (i = 0; i < bl->ntimes; i++)
		if (stamp_hour(bl->times[i]) == stamp_hour(t))
			return;
	if (bl->ntimes < BLAME_TIMES)
		bl->times[bl->ntimes++] = t;
}

static bool
blame_point_cb(const char *line, size_t len, uint32_t origin, size_t i,
    void *arg)
{
	struct blame_walk	*w = arg;
	struct blame		*bl = w->blame;
	int64_t			 t;

	if (w->conflict != NULL) {
		if (!blame_matches(w->conflict, line, len, &t))
			return true;
		blame_note_time(bl, t);
	}
	if (bl->points++ == 0) {
		bl->origin = origin;
		origin_describe(origin, bl->who, sizeof(bl->who));
		/* the first blamed line, escaped for the log */
		log_escape(bl->excerpt, sizeof(bl->excerpt), line, len);
	}
	batch_settle_at(w->batch, i, ORIGIN_DROPPED_SERVER);
	return bl->points < w->limit;
}

static void
blame_walk(struct batch *b, const struct response_conflict *c, size_t limit,
    struct blame *bl)
{
	struct blame_walk	 w = { b, bl, c, limit };

	memset(bl, 0, sizeof(*bl));
	if (limit > 0)
		batch_foreach(b, blame_point_cb, &w);
}

void
blame_all(struct batch *b, struct blame *bl)
{
	blame_walk(b, NULL, b->points, bl);
}

void
blame_conflict(struct batch *b, const struct response_conflict *c,
    size_t limit, struct blame *bl)
{
	blame_walk(b, c, limit, bl);
}

void
blame_describe(const struct blame *bl, char *buf, size_t len)
{
	if (bl->points == 0) {
		snprintf(buf, len, "senders unknown");
		return;
	}
	snprintf(buf, len, "%s: \"%s\"", bl->who, bl->excerpt);
}
