/*
 * A target's store over its spool (spool.c).
 *
 * The spool is one log per target, in the order points were accepted.
 * Memory holds its head: while the store is not behind, each accepted
 * point goes to memory and to the log; once memory is full, new points go
 * to the log only and the store is behind, with a cursor on the first
 * record memory lacks.  The target loads records from the cursor as
 * memory frees, until the cursor reaches the end.  Points accepted while
 * behind stay behind the older ones, so the order of a queue is kept.
 * After a restart the whole log is behind.
 *
 * A write that fails (a full disk) takes back every record of its turn
 * (spool_write()).  The points of those records that memory holds keep
 * their refs, which are "orphans" for the spool's books: forgetting them
 * must not release other points of their segment.  The ones on disk only
 * go back to the target.  Then the store keeps nothing for a while and
 * tries again.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "log.h"
#include "mem.h"
#include "point.h"
#include "segment.h"
#include "spool.h"
#include "store.h"

/* After a failed write, the disk is tried again this much later. */
#define STORE_RETRY_MS		(10 * 1000)
/*
 * Consecutive points of one queue share a record up to this many bytes:
 * a record's header, names and checksum are paid once for them.
 */
#define STORE_RECORD_BYTES	(16 * 1024)

/* Points of one segment kept in memory too, since the last write. */
struct store_held {
	uint32_t	 ref;
	uint64_t	 points;
};

struct store {
	struct spool		*spool;
	struct spool_cursor	*cursor;
	char			*name;
	uint64_t		 sync_ms;
	bool			 behind;
	uint64_t		 recovered;
	/* kept since the last spool_write(): what a failure takes back */
	struct store_held	*held;
	size_t			 nheld, capheld;
	struct evbuffer		*only;		/* disk-only points, encoded */
	uint64_t		 nonly;
	struct store_held	*onlyheld;	/* disk-only, by segment */
	size_t			 nonlyheld, caponlyheld;
	/* refs in memory whose records a failed write took back */
	struct store_held	*orphans;
	size_t			 norphans, caporphans;
	uint64_t		 norphaned;	/* points, all refs */
	/* points memory lacks, per segment, oldest first */
	struct store_held	*unl;
	size_t			 nunl, capunl;
	uint64_t		 retry_at_ms;	/* disk failed: memory until */
	uint64_t		 write_errors;
	uint64_t		 sync_errors;
	struct log_ratelimit	 rl;
	/* the record being filled: points of one queue, in memory or not */
	char			*rec;
	size_t			 reclen, reccap;
	uint32_t		 recn;
	uint32_t		 recref;	/* the segment it goes to */
	bool			 reconly;	/* of points on disk only */
	bool			 seek;		/* the cursor goes to it */
	char			 recdb[SEGMENT_NAME_MAX + 1];
	char			 recrp[SEGMENT_NAME_MAX + 1];
};

static int	store_flush(struct store *);
static void	store_count(struct store_held **, size_t *, size_t *, uint32_t,
		    uint64_t);

static uint64_t
store_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* At open, every live point is one memory lacks. */
static void
store_unloaded_cb(uint64_t seq, uint64_t live, void *arg)
{
	struct store	*s = arg;

	if (seq > UINT32_MAX)
		fatalx("store: target %s: segment numbers ran out", s->name);
	store_count(&s->unl, &s->nunl, &s->capunl, (uint32_t)seq, live);
}

struct store *
store_open(const char *dir, const char *name, uint64_t max_bytes,
    uint64_t sync_ms, char *err, size_t errlen)
{
	struct spool_limits	 lim = { .max_bytes = max_bytes };

	/* eight segments at least, so drop_oldest frees an eighth at a time */
	lim.segment_bytes = max_bytes / 8;
	if (lim.segment_bytes > SPOOL_SEGMENT_BYTES)
		lim.segment_bytes = SPOOL_SEGMENT_BYTES;
	if (lim.segment_bytes < 4 * STORE_RECORD_BYTES)
		lim.segment_bytes = 4 * STORE_RECORD_BYTES;
	struct spool_stats	 st;
	struct store		*s;
	struct spool		*sp;
	struct log_ratelimit	 rl = LOG_RATELIMIT_INIT(10, 1);

	if ((sp = spool_open(dir, name, &lim, err, errlen)) == NULL)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->spool = sp;
	s->name = xstrdup(name);
	s->sync_ms = sync_ms;
	s->rl = rl;
	if ((s->only = evbuffer_new()) == NULL)
		fatal("evbuffer_new");
	s->cursor = spool_cursor_new(sp);
	spool_foreach_segment(sp, store_unloaded_cb, s);
	spool_stats(sp, &st);
	/* what an earlier run left is delivered first */
	s->recovered = st.points;
	s->behind = st.points > 0;
	if (st.points > 0)
		log_info("store: target %s: %llu points in %llu segments "
		    "recovered from the spool", name,
		    (unsigned long long)st.points,
		    (unsigned long long)st.segments);
	return s;
}

void
store_set_limits(struct store *s, uint64_t max_bytes, uint64_t sync_ms)
{
	spool_set_max_bytes(s->spool, max_bytes);
	s->sync_ms = sync_ms;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	if (store_flush(s) == -1 || spool_write(s->spool) == -1 ||
	    spool_sync(s->spool, store_now_ms()) == -1)
		log_warn("store: target %s: writing the spool at exit",
		    s->name);
	spool_cursor_free(s->cursor);
	spool_close(s->spool);
	evbuffer_free(s->only);
	free(s->held);
	free(s->onlyheld);
	free(s->orphans);
	free(s->unl);
	free(s->rec);
	free(s->name);
	free(s);
}

/* True while a failed write keeps the store in memory only. */
static bool
store_failing(struct store *s)
{
	if (s->retry_at_ms == 0)
		return false;
	if (store_now_ms() < s->retry_at_ms)
		return true;
	s->retry_at_ms = 0;
	log_info("store: target %s: trying the spool again", s->name);
	return false;
}

/*
 * Appends the record being filled to the spool.  On the first record of
 * points on disk only the cursor goes there: memory holds all before it.
 */
static int
store_flush(struct store *s)
{
	struct spool_ref	 ref;

	if (s->recn == 0)
		return 0;
	if (spool_append(s->spool, s->recdb, s->recrp, s->rec, s->reclen,
	    s->recn, &ref) == -1)
		return -1;	/* EINVAL: checked before, cannot happen */
	if (ref.segment != s->recref)
		fatalx("store: target %s: a record went to segment %llu, "
		    "not %u", s->name, (unsigned long long)ref.segment,
		    s->recref);
	if (s->seek) {
		spool_cursor_seek(s->cursor, &ref);
		s->seek = false;
	}
	s->recn = 0;
	s->reclen = 0;
	return 0;
}

/*
 * Adds `p` to the record being filled, starting a new one for another
 * queue, for the other kind (in memory or on disk only), or when full;
 * returns the segment it goes to, 0 if it cannot be kept.
 */
static uint32_t
store_add(struct store *s, const char *db, const char *rp,
    const struct point *p, bool only)
{
	size_t		 len = p->blen + p->tlen, dblen = strlen(db);
	size_t		 rplen = strlen(rp), room;
	uint64_t	 seg;

	if (dblen > SEGMENT_NAME_MAX || rplen > SEGMENT_NAME_MAX)
		return 0;
	if (s->recn > 0 && (only != s->reconly || strcmp(db, s->recdb) != 0 ||
	    strcmp(rp, s->recrp) != 0 || s->reclen + len > STORE_RECORD_BYTES))
		store_flush(s);
	if (s->recn == 0) {
		/* the record's segment is chosen now, for all its points */
		room = (len > STORE_RECORD_BYTES ? len : STORE_RECORD_BYTES) +
		    SEGMENT_RECORD_HEADER + dblen + rplen;
		if ((seg = spool_next_segment(s->spool, room)) > UINT32_MAX)
			fatalx("store: target %s: segment numbers ran out",
			    s->name);
		s->recref = (uint32_t)seg;
		s->reconly = only;
		memcpy(s->recdb, db, dblen + 1);
		memcpy(s->recrp, rp, rplen + 1);
	}
	if (s->reccap - s->reclen < len) {
		s->reccap = s->reclen + len > 2 * s->reccap ? s->reclen + len :
		    2 * s->reccap;
		s->rec = xreallocarray(s->rec, s->reccap, 1);
	}
	memcpy(s->rec + s->reclen, p->body, p->blen);
	memcpy(s->rec + s->reclen + p->blen, p->tail, p->tlen);
	s->reclen += len;
	s->recn++;
	return s->recref;
}

/* Counts one more point of `ref` in a list of (ref, points). */
static void
store_count(struct store_held **list, size_t *n, size_t *cap, uint32_t ref,
    uint64_t points)
{
	if (*n > 0 && (*list)[*n - 1].ref == ref) {
		(*list)[*n - 1].points += points;
		return;
	}
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		*list = xreallocarray(*list, *cap, sizeof(**list));
	}
	(*list)[*n].ref = ref;
	(*list)[(*n)++].points = points;
}

/*
 * Takes up to `points` of `ref` off a list of (ref, points); returns how
 * many it took.  An entry that reaches 0 goes, the order of the others
 * kept.
 */
static uint64_t
store_uncount(struct store_held *list, size_t *n, uint32_t ref,
    uint64_t points)
{
	uint64_t	 took = 0, take;
	size_t		 i = 0;

	while (i < *n && points > 0) {
		if (list[i].ref != ref) {
			i++;
			continue;
		}
		take = points < list[i].points ? points : list[i].points;
		list[i].points -= take;
		points -= take;
		took += take;
		if (list[i].points == 0) {
			memmove(&list[i], &list[i + 1],
			    (*n - i - 1) * sizeof(*list));
			(*n)--;
		} else
			i++;
	}
	return took;
}

uint32_t
store_keep(struct store *s, const char *db, const char *rp,
    const struct point *p)
{
	uint32_t	 ref;

	if (store_failing(s) || (ref = store_add(s, db, rp, p, false)) == 0)
		return 0;
	store_count(&s->held, &s->nheld, &s->capheld, ref, 1);
	return ref;
}

/* Notes a disk-only point, to hand it back if its write fails. */
static void
store_note_only(struct store *s, const char *db, const char *rp,
    const struct point *p)
{
	uint32_t	 len[3] = { (uint32_t)strlen(db), (uint32_t)strlen(rp),
			    (uint32_t)(p->blen + p->tlen) };

	if (evbuffer_add(s->only, len, sizeof(len)) == -1 ||
	    evbuffer_add(s->only, db, len[0]) == -1 ||
	    evbuffer_add(s->only, rp, len[1]) == -1 ||
	    evbuffer_add(s->only, p->body, p->blen) == -1 ||
	    evbuffer_add(s->only, p->tail, p->tlen) == -1)
		fatal("evbuffer_add");
	s->nonly++;
}

bool
store_keep_only(struct store *s, const char *db, const char *rp,
    const struct point *p)
{
	bool		 was_behind = s->behind;
	uint32_t	 ref;

	if (store_failing(s) || spool_full(s->spool, p->blen + p->tlen + 64))
		return false;
	/* memory holds everything before this point: the cursor goes to it */
	if (!was_behind)
		store_flush(s);
	if ((ref = store_add(s, db, rp, p, true)) == 0)
		return false;
	if (!was_behind) {
		s->behind = true;
		s->seek = true;
	}
	store_count(&s->unl, &s->nunl, &s->capunl, ref, 1);
	store_count(&s->onlyheld, &s->nonlyheld, &s->caponlyheld, ref, 1);
	store_note_only(s, db, rp, p);
	return true;
}

/* Hands back the disk-only points of a failed write. */
static void
store_give_back(struct store *s, store_back_cb cb, void *arg)
{
	uint32_t	 len[3];
	char		*db, *rp, *line;

	while (evbuffer_remove(s->only, len, sizeof(len)) == sizeof(len)) {
		db = xmalloc(len[0] + 1);
		rp = xmalloc(len[1] + 1);
		line = xmalloc(len[2]);
		evbuffer_remove(s->only, db, len[0]);
		evbuffer_remove(s->only, rp, len[1]);
		evbuffer_remove(s->only, line, len[2]);
		db[len[0]] = rp[len[1]] = '\0';
		cb(arg, db, rp, line, len[2]);
		free(db);
		free(rp);
		free(line);
	}
}

/* A write failed: its records are gone from the spool's books. */
static void
store_write_failed(struct store *s, store_back_cb cb, void *arg)
{
	size_t	 i;

	s->write_errors++;
	s->retry_at_ms = store_now_ms() + STORE_RETRY_MS;
	log_warnx_rl(&s->rl, "store: target %s: writing the spool failed "
	    "(%s); keeping points in memory only for %d s", s->name,
	    strerror(errno), STORE_RETRY_MS / 1000);
	for (i = 0; i < s->nheld; i++) {
		store_count(&s->orphans, &s->norphans, &s->caporphans,
		    s->held[i].ref, s->held[i].points);
		s->norphaned += s->held[i].points;
	}
	for (i = 0; i < s->nonlyheld; i++)
		(void)store_uncount(s->unl, &s->nunl, s->onlyheld[i].ref,
		    s->onlyheld[i].points);
	if (s->nunl == 0)
		s->behind = false;
	store_give_back(s, cb, arg);
}

void
store_commit(struct store *s, store_back_cb cb, void *arg)
{
	if (s->nheld == 0 && s->nonly == 0)
		return;
	if (store_flush(s) == -1 || spool_write(s->spool) == -1)
		store_write_failed(s, cb, arg);
	s->nheld = 0;
	s->nonlyheld = 0;
	s->nonly = 0;
	evbuffer_drain(s->only, evbuffer_get_length(s->only));
}

void
store_forget(struct store *s, uint32_t ref, size_t n)
{
	uint64_t	 took;

	if (ref == 0)
		return;
	if (s->norphans > 0) {
		took = store_uncount(s->orphans, &s->norphans, ref, n);
		s->norphaned -= took;
		n -= took;
	}
	/* a segment store_drop_oldest() removed is unknown: fine */
	if (n > 0)
		(void)spool_release(s->spool, ref, n);
}

uint64_t
store_orphaned(const struct store *s)
{
	return s->norphaned;
}

bool
store_down(const struct store *s)
{
	return s->retry_at_ms != 0 && store_now_ms() < s->retry_at_ms;
}

bool
store_behind(const struct store *s)
{
	return s->behind;
}

int
store_load(struct store *s, struct store_record *rec)
{
	struct spool_record	 r;
	int			 got;

	/* the cursor goes to the first disk-only record when it is flushed */
	if (!s->behind || s->seek)
		return 0;
	if ((got = spool_read(s->cursor, &r)) <= 0) {
		if (got == -1)
			log_warnx_rl(&s->rl, "store: target %s: reading the "
			    "spool: %s", s->name, strerror(errno));
		/* all read, and none waits to be written: caught up */
		if (got == 0 && s->nonly == 0) {
			s->behind = false;
			s->nunl = 0;
		}
		return 0;
	}
	rec->database = r.database;
	rec->rp = r.rp;
	rec->points = r.points;
	rec->len = r.len;
	rec->npoints = r.npoints;
	rec->ref = (uint32_t)r.ref.segment;
	(void)store_uncount(s->unl, &s->nunl, rec->ref, r.npoints);
	return 1;
}

bool
store_full(const struct store *s, size_t len)
{
	return spool_full(s->spool, len);
}

/* Points of segment `ref` memory lacks. */
static uint64_t
store_unloaded_in(const struct store *s, uint32_t ref)
{
	size_t	 i;

	for (i = 0; i < s->nunl; i++)
		if (s->unl[i].ref == ref)
			return s->unl[i].points;
	return 0;
}

bool
store_drop_oldest(struct store *s, bool lose, uint64_t *lostp)
{
	uint64_t	 seg, live, lost, oldest;

	if (!spool_oldest_segment(s->spool, &oldest))
		return false;
	lost = store_unloaded_in(s, (uint32_t)oldest);
	if (lost > 0 && !lose)
		return false;
	/* the cursor skips a removed segment by itself */
	live = spool_drop_oldest_segment(s->spool, &seg);
	(void)store_uncount(s->unl, &s->nunl, (uint32_t)seg, lost);
	log_warnx_rl(&s->rl, "store: target %s: spool_size reached: removed "
	    "the oldest segment, %llu points on disk only lost, %llu more "
	    "delivered from memory", s->name, (unsigned long long)lost,
	    (unsigned long long)(live - lost));
	*lostp = lost;
	return true;
}

/* Kept per segment, so that a dropped one's share is known. */
uint64_t
store_unloaded(const struct store *s)
{
	uint64_t	 n = 0;
	size_t		 i;

	for (i = 0; i < s->nunl; i++)
		n += s->unl[i].points;
	return n;
}

uint64_t
store_sync(struct store *s)
{
	uint64_t	 now_ms = store_now_ms();
	uint64_t	 wait = spool_sync_wait(s->spool, s->sync_ms, now_ms);

	if (wait > 0)
		return wait;
	if (spool_sync(s->spool, now_ms) == -1) {
		s->sync_errors++;
		log_warnx_rl(&s->rl, "store: target %s: syncing the spool: "
		    "%s", s->name, strerror(errno));
	}
	return spool_sync_wait(s->spool, s->sync_ms, now_ms);
}

void
store_stats(const struct store *s, struct store_stats *st)
{
	struct spool_stats	 sp;

	spool_stats(s->spool, &sp);
	st->bytes = sp.bytes;
	st->points = sp.points;
	st->unloaded = store_unloaded(s);
	st->segments = sp.segments;
	st->oldest = sp.oldest;
	st->recovered = s->recovered;
	st->checksum_failures = sp.checksum_failures;
	st->torn_tails = sp.torn_tails;
	st->write_errors = s->write_errors;
	st->sync_errors = s->sync_errors;
}
