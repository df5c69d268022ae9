/*
 * A target's store: the disk spool beneath its queues.  With a store,
 * every point a target accepts is kept on disk, and memory is a cache of
 * the spool's head: a point lives in memory and on disk, or on disk only
 * while memory is full (or after a restart) until the target loads it.
 * A point's ref (the spool segment it lives in, 0 for none) goes with it
 * in memory and comes back in store_forget() when it leaves for good.
 *
 * A target without a spool has no store; a store whose disk fails keeps
 * working in memory only (store_keep() answers 0) and tries the disk
 * again later.  Pure file I/O (spool.c): the target owns the timers.
 */
#ifndef RELAYD_STORE_H
#define RELAYD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct point;
struct store;

/* A record read back: some points of one (database, retention policy). */
struct store_record {
	const char	*database;
	const char	*rp;
	const char	*points;	/* each point ends in '\n' */
	size_t		 len;
	uint32_t	 npoints;
	uint32_t	 ref;
};

/* What a store shows in stats. */
struct store_stats {
	uint64_t	 bytes;		/* on disk */
	uint64_t	 points;	/* on disk, not yet delivered */
	uint64_t	 unloaded;	/* of them, not in memory */
	uint64_t	 segments;
	int64_t		 oldest;	/* ns, 0 if none */
	uint64_t	 recovered;	/* points found at start */
	uint64_t	 checksum_failures;
	uint64_t	 torn_tails;
	uint64_t	 write_errors;	/* the disk failed: memory only */
	uint64_t	 sync_errors;
};

/* Handed back a point kept on disk only whose write failed. */
typedef void	(*store_back_cb)(void *arg, const char *db, const char *rp,
		    const char *line, size_t len);

/*
 * The store of target `name` in `dir` (spool_dir, locked by the caller),
 * replaying what an earlier run left; `max_bytes` is spool_size and
 * `sync_ms` SPOOL_SYNC_ALWAYS, SPOOL_SYNC_NEVER or spool_sync's
 * duration.  NULL with a cause in `err`.
 */
struct store	*store_open(const char *dir, const char *name,
		    uint64_t max_bytes, uint64_t sync_ms, char *err,
		    size_t errlen);
/* New limits (a reload). */
void		 store_set_limits(struct store *, uint64_t max_bytes,
		    uint64_t sync_ms);
/* Writes and syncs what waits, and frees the store; accepts NULL. */
void		 store_close(struct store *);

/*
 * Keeps an accepted point that memory holds too; returns its ref, 0 if
 * the disk failed (the point is in memory only).
 */
uint32_t	 store_keep(struct store *, const char *db, const char *rp,
		    const struct point *);
/*
 * Keeps an accepted point on disk only (memory is full); false if the
 * spool is full or the disk failed: the overflow policy decides.
 */
bool		 store_keep_only(struct store *, const char *db,
		    const char *rp, const struct point *);
/*
 * The end of a read turn: what was kept reaches the kernel, so a crash
 * of the process loses none of it.  If the write fails, the points kept
 * on disk only come back through `cb` (memory must take them) and the
 * store works in memory only for a while.
 */
void		 store_commit(struct store *, store_back_cb cb, void *arg);
/* `n` points of `ref` left memory for good (delivered or dropped). */
void		 store_forget(struct store *, uint32_t ref, size_t n);
/* True while a failed write keeps the store in memory only. */
bool		 store_down(const struct store *);
/* True while the disk holds points memory does not. */
bool		 store_behind(const struct store *);
/*
 * The next record memory does not hold: 1 with it in `rec` (valid until
 * the next call), 0 if there is none yet.
 */
int		 store_load(struct store *, struct store_record *rec);
/* True if `len` more bytes do not fit under spool_size. */
bool		 store_full(const struct store *, size_t len);
/* Points in memory whose records a failed write took back. */
uint64_t	 store_orphaned(const struct store *);
/*
 * spool_size reached: removes the oldest segment.  Its points that
 * memory holds stay deliverable (no longer on disk); `lost` says how
 * many of it were on disk only.  Unless `lose` (drop_oldest), only a
 * segment with none on disk only goes.  False if none can go.
 */
bool		 store_drop_oldest(struct store *, bool lose, uint64_t *lost);
/* Points on disk only. */
uint64_t	 store_unloaded(const struct store *);
/*
 * Syncs when spool_sync says so; returns the ms until the next sync is
 * due (UINT64_MAX: none waits).
 */
uint64_t	 store_sync(struct store *);
void		 store_stats(const struct store *, struct store_stats *);

#endif
