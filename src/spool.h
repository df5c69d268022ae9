/*
 * The disk spool of one target: an append-only log of records (a
 * database, a retention policy and some points) in segment files under
 * spool_dir/TARGET/, read back in append order after a restart or when
 * memory cannot hold them, and deleted a segment at a time once every
 * point in it was delivered or dropped.  Appends are buffered in memory
 * and reach the kernel with spool_write() and the disk with spool_sync(),
 * when the caller says.  Damage (a torn tail, a bad checksum) is counted
 * and skipped, never fatal.  Pure file I/O: no libevent, no libcurl.
 * The format is in segment.c.
 */
#ifndef RELAYD_SPOOL_H
#define RELAYD_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct spool;
struct spool_cursor;
struct spool_lock;

/* A new segment once the current one would pass this. */
#define SPOOL_SEGMENT_BYTES	(8U << 20)

/* spool_sync policies for spool_sync_wait(), besides a duration in ms. */
#define SPOOL_SYNC_ALWAYS	0
#define SPOOL_SYNC_NEVER	UINT64_MAX

/* Plain configuration data; zero fields take the defaults. */
struct spool_limits {
	uint64_t	 segment_bytes;	/* SPOOL_SEGMENT_BYTES */
	uint64_t	 max_bytes;	/* spool_size (spool_full), 0: none */
};

/* Where a record lives, for spool_release() and spool_cursor_seek(). */
struct spool_ref {
	uint64_t	 segment;	/* the segment's sequence number */
	uint64_t	 offset;	/* of the record in its file */
};

/*
 * A record read back.  The pointers are the cursor's, valid until its
 * next read.
 */
struct spool_record {
	struct spool_ref	 ref;
	int64_t			 time;		/* appended, ns since epoch */
	const char		*database;	/* NUL-terminated */
	const char		*rp;		/* NUL-terminated, "" if none */
	const char		*points;	/* each ends in '\n' */
	size_t			 len;
	uint32_t		 npoints;
};

struct spool_stats {
	uint64_t	 bytes;		/* in its files, or waiting to be */
	uint64_t	 points;	/* appended and not released */
	uint64_t	 segments;
	int64_t		 oldest;	/* ns: oldest segment's first record */
	uint64_t	 checksum_failures;	/* bad records, headers */
	uint64_t	 torn_tails;	/* incomplete records cut off */
	uint64_t	 write_errors;	/* failed writes and syncs */
	uint64_t	 unwritten_points;	/* taken back by those */
	uint64_t	 dropped_points;	/* by drop_oldest_segment */
};

/*
 * Takes the lock file `dir`/.lock (creating `dir`, mode 0700, if it is
 * missing) for the life of the process or until spool_unlock(); NULL
 * with a cause in `err` (and errno EWOULDBLOCK) if another process
 * holds it (naming its pid), or another errno if it cannot be made.
 */
struct spool_lock	*spool_lock(const char *dir, char *err, size_t errlen);
/* Lets go of the lock; accepts NULL. */
void			 spool_unlock(struct spool_lock *);

/*
 * The directory name of target `name` under spool_dir: bytes outside
 * [A-Za-z0-9._-] and a leading '.' become %XX, so no name can reach
 * outside spool_dir or the lock file.  NULL if `name` is empty or too
 * long; the caller frees the result.
 */
char			*spool_dirname(const char *name);
/*
 * The target whose directory is `dirname`, or NULL if spool_dirname()
 * gives no such name (to report spools of removed targets).
 */
char			*spool_dirname_target(const char *dirname);

/*
 * Opens the spool of target `name` in `dir` (spool_dir, locked with
 * spool_lock()), creating its directory (mode 0700) or checking every
 * record there: torn tails are cut off, bad records skipped, both
 * counted and logged once per file.  NULL with a cause in `err`.
 */
struct spool		*spool_open(const char *dir, const char *name,
			    const struct spool_limits *, char *err,
			    size_t errlen);
/*
 * Writes what waits (spool_write()), removes the current segment if no
 * point in it is live, and frees the spool; accepts NULL.  Its cursors
 * must be freed first.  It does not sync.
 */
void			 spool_close(struct spool *);

/*
 * Appends a record of `npoints` points (`len` bytes, each point ending
 * in '\n') for `db` and `rp` ("" for none) to the write buffer, and says
 * in `ref` where it will live; its points count as live until released.
 * -1 with EINVAL if the record is malformed or too large.
 */
int			 spool_append(struct spool *, const char *db,
			    const char *rp, const char *points, size_t len,
			    uint32_t npoints, struct spool_ref *ref);
/*
 * Writes every record appended since the last call, in order, with as
 * few write(2) calls as segments; a record is in the kernel once this
 * returns 0.  On failure (ENOSPC, EIO, EFBIG...) -1 with errno: every
 * record appended since the last successful call is taken back (its
 * points are no longer live, the files end at the records before it),
 * so the caller keeps those points in memory only.
 */
int			 spool_write(struct spool *);
/*
 * fdatasync()s every segment written since the last sync, and the
 * directory when a segment was created; `now_ms` is on a monotonic
 * clock.  -1 with errno if one failed: its records may be lost to a
 * power cut, and a segment that failed takes no more appends.
 */
int			 spool_sync(struct spool *, uint64_t now_ms);
/*
 * How many ms until written data should be synced under `interval_ms`
 * (SPOOL_SYNC_ALWAYS, SPOOL_SYNC_NEVER or spool_sync's duration): 0 for
 * now, UINT64_MAX if nothing waits or never.
 */
uint64_t		 spool_sync_wait(const struct spool *,
			    uint64_t interval_ms, uint64_t now_ms);

/*
 * `npoints` points of segment `segment` were delivered or dropped.  A
 * segment left with no live point is removed unless it is the one being
 * appended to.  -1 (and nothing changes) if the segment is unknown or
 * has fewer live points.
 */
int			 spool_release(struct spool *, uint64_t segment,
			    uint64_t npoints);
/*
 * Removes the oldest segment with every point in it (the overflow
 * policy at spool_size), even the one being appended to; returns how
 * many live points it held (0 if the spool holds none), and the
 * segment in `*segment` so the caller forgets its refs to it.
 */
uint64_t		 spool_drop_oldest_segment(struct spool *,
			    uint64_t *segment);
/*
 * The segment the next append goes to if its record takes at most
 * `size` bytes (header and names included): a new one if the current
 * one has no room for that much.
 */
uint64_t		 spool_next_segment(struct spool *, size_t size);
/*
 * The oldest segment holding live points, if it is not the one being
 * appended to (spool_drop_oldest_segment() would drop that one too).
 */
bool			 spool_oldest_segment(const struct spool *,
			    uint64_t *segment);
/* Calls `cb` for each segment holding live points, oldest first. */
typedef void	(*spool_segment_cb)(uint64_t seq, uint64_t live, void *arg);
void			 spool_foreach_segment(const struct spool *,
			    spool_segment_cb cb, void *arg);
/* A new spool_size (a reload). */
void			 spool_set_max_bytes(struct spool *, uint64_t max_bytes);
/* True if `len` more bytes would take the spool past max_bytes. */
bool			 spool_full(const struct spool *, size_t len);
/* The spool's figures (`oldest` is 0 if it holds no record). */
void			 spool_stats(const struct spool *,
			    struct spool_stats *);

/*
 * A cursor on the oldest record; it must be freed before its spool.
 * A cursor sees records once spool_write() wrote them.
 */
struct spool_cursor	*spool_cursor_new(struct spool *);
void			 spool_cursor_free(struct spool_cursor *);
/* Moves the cursor to the record at `ref`. */
void			 spool_cursor_seek(struct spool_cursor *,
			    const struct spool_ref *ref);
/*
 * The next good record in append order, skipping released or dropped
 * segments and damage (counted): 1 with it in `out`, 0 if there is none
 * yet, -1 (errno) if a read failed.
 */
int			 spool_read(struct spool_cursor *,
			    struct spool_record *out);

#endif
