/*
 * The disk spool of one target: its segments (segment.c), the write
 * buffer in front of them, the books on what is live, and cursors.
 *
 * Layout.  spool_dir/.lock holds the pid of the relay that spools there
 * (flock()ed, so a second relay is refused while the first lives).  Each
 * target has a directory, spool_dir/NAME/ (see spool_dirname()), of
 * segment files.  Appends go to the newest segment; past segment_bytes
 * the next record starts a new one.  Nothing else is on disk: opening
 * reads every segment back, so a crash cannot leave an index behind that
 * disagrees with the records.
 *
 * Books.  Each segment counts its live points: those appended (or found
 * at open) and not yet released.  A segment other than the one being
 * appended to is removed as soon as it has none, so the spool on disk is
 * what the relay still owes.  Records are not deleted one by one: after
 * a restart every record of a kept segment is read again, and the caller
 * may send points InfluxDB already has, which rewrites them unchanged
 * (their timestamps are in the text).
 *
 * Writes.  spool_append() copies a record into one buffer, noting which
 * segment each run of records goes to; spool_write() hands each run to
 * the kernel with one pwrite().  A failed write is cut back, and every
 * record of the turn is taken back, so "accepted" means "in the kernel"
 * or "kept in memory by the caller", never half of each.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/file.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hmap.h"
#include "log.h"
#include "mem.h"
#include "segment.h"
#include "spool.h"
#include "stamp.h"

/* A write buffer grown past this is freed once written. */
#define SPOOL_BUF_KEEP	(1U << 20)

struct spool_seg {
	TAILQ_ENTRY(spool_seg)	 entry;
	uint64_t		 seq;
	int			 fd;		/* appended to, or written */
	uint64_t		 size;		/* whole records end here */
	uint64_t		 pending;	/* bytes to spool_write() */
	uint64_t		 live;		/* points not released */
	int64_t			 first;		/* its first record's time */
	uint64_t		 verified;	/* damage before is counted */
	unsigned		 cursors;	/* reading it */
	bool			 created;	/* its file exists */
	bool			 unsynced;	/* written since a sync */
	bool			 warned;	/* its damage was logged */
	bool			 gone;		/* removed, kept for cursors */
};

TAILQ_HEAD(spool_segs, spool_seg);

/* Records for one segment appended since the last spool_write(). */
struct spool_run {
	struct spool_seg	*seg;		/* NULL once it was removed */
	size_t			 start;		/* in the write buffer */
	size_t			 len;
	uint64_t		 points;
	uint64_t		 size;		/* of the segment before */
};

struct spool {
	char			*name;		/* the target's, for logs */
	char			*path;		/* its directory */
	int			 dirfd;
	struct spool_limits	 limits;
	struct spool_segs	 segs;		/* oldest first */
	struct hmap		*byseq;
	struct spool_seg	*active;	/* appended to, or NULL */
	uint64_t		 next_seq;
	char			*buf;		/* the write buffer */
	size_t			 len;
	size_t			 cap;
	struct spool_run	*runs;
	size_t			 nruns;
	size_t			 runcap;
	unsigned		 nunsynced;	/* segments */
	bool			 dir_unsynced;	/* a segment was created */
	uint64_t		 synced_ms;
	unsigned		 cursors;
	struct log_ratelimit	 rl;
	struct spool_stats	 st;
};

struct spool_cursor {
	struct spool		*spool;
	struct spool_seg	*seg;		/* being read, or NULL */
	uint64_t		 want;		/* else: next segment from */
	uint64_t		 start;		/* and where to start in it */
	uint64_t		 pos;
	int			 fd;
	struct segment_reader	 rd;
	char			 db[SEGMENT_NAME_MAX + 1];
	char			 rp[SEGMENT_NAME_MAX + 1];
};

struct spool_lock {
	int			 fd;
};

/* What opening found in one segment file. */
struct spool_scan {
	uint64_t		 end;		/* of the last whole record */
	uint64_t		 live;
	int64_t			 first;
	uint64_t		 bad;
	uint64_t		 first_bad;
	bool			 header_bad;
	bool			 torn;		/* from `end` on */
	bool			 eio;
};

static void	 spool_seg_remove(struct spool *, struct spool_seg *);

static uint64_t
spool_hash(uint64_t seq)
{
	return seq * 0x9e3779b97f4a7c15ULL;
}

static bool
spool_seg_is(const void *item, const void *key)
{
	return ((const struct spool_seg *)item)->seq == *(const uint64_t *)key;
}

static struct spool_seg *
spool_seg_find(const struct spool *sp, uint64_t seq)
{
	return hmap_find(sp->byseq, spool_hash(seq), spool_seg_is, &seq);
}

/* A new newest segment of one header's bytes, its file not made yet. */
static struct spool_seg *
spool_seg_new(struct spool *sp, uint64_t seq)
{
	struct spool_seg	*seg = xcalloc(1, sizeof(*seg));

	seg->seq = seq;
	seg->fd = -1;
	seg->size = SEGMENT_HEADER_SIZE;
	seg->verified = SEGMENT_HEADER_SIZE;
	TAILQ_INSERT_TAIL(&sp->segs, seg, entry);
	hmap_insert(sp->byseq, spool_hash(seq), seg);
	sp->st.segments++;
	sp->st.bytes += seg->size;
	return seg;
}

static void
spool_seg_close(struct spool_seg *seg)
{
	if (seg->fd != -1)
		close(seg->fd);
	seg->fd = -1;
}

/* The segment takes no more records; it goes if nothing in it is live. */
static void
spool_seal(struct spool *sp)
{
	struct spool_seg	*seg = sp->active;

	sp->active = NULL;
	if (seg == NULL || seg->pending > 0)
		return;		/* spool_write() closes it */
	spool_seg_close(seg);
	if (seg->live == 0)
		spool_seg_remove(sp, seg);
}

static void
spool_seg_clean(struct spool *sp, struct spool_seg *seg)
{
	if (seg->unsynced)
		sp->nunsynced--;
	seg->unsynced = false;
}

/* Unlinks the segment's file and forgets it (and its pending records). */
static void
spool_seg_remove(struct spool *sp, struct spool_seg *seg)
{
	size_t	 i;

	for (i = 0; i < sp->nruns; i++)
		if (sp->runs[i].seg == seg)
			sp->runs[i].seg = NULL;
	sp->st.bytes -= seg->size + seg->pending;
	sp->st.points -= seg->live;
	sp->st.segments--;
	TAILQ_REMOVE(&sp->segs, seg, entry);
	hmap_remove(sp->byseq, spool_hash(seg->seq), seg);
	if (seg == sp->active)
		sp->active = NULL;
	spool_seg_clean(sp, seg);
	spool_seg_close(seg);
	if (seg->created && segment_unlink(sp->dirfd, seg->seq) == -1)
		log_warn("spool: target %s: removing segment %016" PRIx64
		    " in %s", sp->name, seg->seq, sp->path);
	if (seg->cursors > 0)
		seg->gone = true;
	else
		free(seg);
}

/* Bytes outside these are escaped in a directory name. */
static bool
spool_name_safe(unsigned char c, bool first)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-' ||
	    (c == '.' && !first);
}

char *
spool_dirname(const char *name)
{
	static const char	 hex[] = "0123456789ABCDEF";
	size_t			 n = strlen(name), i, o = 0;
	unsigned char		 c;
	char			*out;

	if (n == 0 || n > NAME_MAX)
		return NULL;
	out = xmalloc(3 * n + 1);
	for (i = 0; i < n; i++) {
		c = (unsigned char)name[i];
		if (spool_name_safe(c, i == 0))
			out[o++] = (char)c;
		else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 0xf];
		}
	}
	out[o] = '\0';
	if (o > NAME_MAX) {
		free(out);
		return NULL;
	}
	return out;
}

static int
spool_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *
spool_dirname_target(const char *dirname)
{
	size_t		 n = strlen(dirname), i, o = 0;
	char		*out = xmalloc(n + 1);
	int		 hi, lo;
	unsigned char	 c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)dirname[i];
		if (c == '%') {
			if (i + 2 >= n ||
			    (hi = spool_hexval(dirname[i + 1])) == -1 ||
			    (lo = spool_hexval(dirname[i + 2])) == -1)
				goto bad;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
			/* only what spool_dirname() would have escaped */
			if (c == '\0' || spool_name_safe(c, o == 0))
				goto bad;
		} else if (!spool_name_safe(c, o == 0))
			goto bad;
		out[o++] = (char)c;
	}
	if (o == 0)
		goto bad;
	out[o] = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

/* Names the holder of a lock someone else has, into `err`. */
static void
spool_lock_holder(int fd, const char *dir, char *err, size_t errlen)
{
	char	 buf[32], *end;
	ssize_t	 n = pread(fd, buf, sizeof(buf) - 1, 0);
	long	 pid = 0;

	if (n > 0) {
		buf[n] = '\0';
		pid = strtol(buf, &end, 10);
		if (end == buf || (*end != '\n' && *end != '\0'))
			pid = 0;
	}
	if (pid > 0)
		snprintf(err, errlen, "spool_dir %s is in use by another "
		    "influx-relayd (pid %ld)", dir, pid);
	else
		snprintf(err, errlen, "spool_dir %s is in use by another "
		    "influx-relayd", dir);
}

struct spool_lock *
spool_lock(const char *dir, char *err, size_t errlen)
{
	struct spool_lock	*lk;
	char			*path, buf[32];
	int			 fd, n, saved = errno;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "spool_dir %s: %s", dir, strerror(errno));
		return NULL;
	}
	path = xasprintf("%s/.lock", dir);
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1) {
		saved = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	}
	else if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		saved = errno;
		if (errno == EWOULDBLOCK)
			spool_lock_holder(fd, dir, err, errlen);
		else
			snprintf(err, errlen, "flock %s: %s", path,
			    strerror(errno));
		close(fd);
		fd = -1;
	} else
		saved = 0;
	free(path);
	if (fd == -1) {
		errno = saved;
		return NULL;
	}
	/* only for the message above: the flock() is the lock */
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)n, 0) != n)
		log_warn("spool: writing the pid into %s/.lock", dir);
	lk = xmalloc(sizeof(*lk));
	lk->fd = fd;
	return lk;
}

void
spool_unlock(struct spool_lock *lk)
{
	if (lk == NULL)
		return;
	close(lk->fd);
	free(lk);
}

/* Logs what opening found wrong in one file, in one line. */
static void
spool_log_damage(const struct spool *sp, uint64_t seq,
    const struct spool_scan *sc, uint64_t size)
{
	char	 name[SEGMENT_FILE_LEN + 1], msg[256] = "";
	size_t	 n = 0;

	segment_name(name, seq);
	if (sc->header_bad && size >= SEGMENT_HEADER_SIZE)
		n += (size_t)snprintf(msg, sizeof(msg), ", a damaged file "
		    "header");
	if (sc->bad > 0)
		n += (size_t)snprintf(msg + n, sizeof(msg) - n, ", %" PRIu64
		    " bad record%s skipped (the first at offset %" PRIu64 ")",
		    sc->bad, sc->bad == 1 ? "" : "s", sc->first_bad);
	if (sc->torn)
		snprintf(msg + n, sizeof(msg) - n, ", a torn tail of %" PRIu64
		    " bytes at offset %" PRIu64 " cut off", size - sc->end,
		    sc->end);
	log_warnx("spool: target %s: %s/%s: %s", sp->name, sp->path, name,
	    msg + 2);
}

/* Reads every record of an open segment file of `size` bytes. */
static void
spool_scan(struct segment_reader *rd, int fd, uint64_t size,
    struct spool_scan *sc)
{
	struct segment_record	 rec;
	enum segment_step	 step;
	uint64_t		 pos = SEGMENT_HEADER_SIZE, next;

	segment_reader_reset(rd, fd, size);
	for (;;) {
		step = segment_next(rd, pos, &rec, &next);
		if (step == SEGMENT_RECORD) {
			sc->live += rec.npoints;
			if (sc->first == 0)
				sc->first = rec.time;
		} else if (step == SEGMENT_BAD) {
			if (sc->bad++ == 0)
				sc->first_bad = pos;
		} else
			break;
		pos = next;
	}
	sc->end = pos;
	sc->torn = step == SEGMENT_TORN;
	sc->eio = step == SEGMENT_EIO;
}

/*
 * Checks the header of segment file `fd` and scans it into `sc`; -1 if
 * the file is to be left alone.
 */
static int
spool_load_file(struct spool *sp, struct segment_reader *rd, int fd,
    uint64_t seq, struct spool_scan *sc, uint64_t *size)
{
	char			 hdr[SEGMENT_HEADER_SIZE];
	char			 name[SEGMENT_FILE_LEN + 1];
	struct stat		 sb;
	ssize_t			 n;

	segment_name(name, seq);
	if (fstat(fd, &sb) == -1 ||
	    (n = pread(fd, hdr, sizeof(hdr), 0)) == -1) {
		log_warn("spool: target %s: %s/%s, left alone", sp->name,
		    sp->path, name);
		return -1;
	}
	*size = (uint64_t)sb.st_size;
	switch (segment_header_check(hdr, (size_t)n, seq)) {
	case SEGMENT_HEADER_NEWER:
		log_warnx("spool: target %s: %s/%s is of a later version, "
		    "left alone", sp->name, sp->path, name);
		return -1;
	case SEGMENT_HEADER_BAD:
		if (*size < SEGMENT_HEADER_SIZE) {
			sc->header_bad = true;
			sc->end = 0;
			sc->torn = true;
			return 0;
		}
		sc->header_bad = true;	/* records after it may be good */
		break;
	case SEGMENT_HEADER_OK:
		break;
	}
	spool_scan(rd, fd, *size, sc);
	if (sc->eio) {
		log_warn("spool: target %s: reading %s/%s, left alone",
		    sp->name, sp->path, name);
		return -1;
	}
	return 0;
}

/*
 * Loads segment `seq` found in the directory: checked, its torn tail cut
 * off, kept as the active segment if it is the newest and has room.
 */
static void
spool_load_segment(struct spool *sp, struct segment_reader *rd,
    uint64_t seq, bool newest)
{
	struct spool_scan	 sc = { 0 };
	struct spool_seg	*seg;
	uint64_t		 size;
	bool			 whole = true;
	int			 fd;

	if ((fd = segment_open(sp->dirfd, seq, O_RDWR)) == -1) {
		log_warn("spool: target %s: opening segment %016" PRIx64
		    " in %s, left alone", sp->name, seq, sp->path);
		return;
	}
	if (spool_load_file(sp, rd, fd, seq, &sc, &size) == -1) {
		close(fd);
		return;
	}
	if (sc.header_bad || sc.bad > 0 || sc.torn)
		spool_log_damage(sp, seq, &sc, size);
	if (sc.torn && ftruncate(fd, (off_t)sc.end) == -1) {
		log_warn("spool: target %s: cutting segment %016" PRIx64,
		    sp->name, seq);
		whole = false;
	}
	sp->st.checksum_failures += sc.bad + (sc.header_bad &&
	    size >= SEGMENT_HEADER_SIZE);
	sp->st.torn_tails += sc.torn;
	seg = spool_seg_new(sp, seq);
	seg->created = true;
	sp->st.bytes = sp->st.bytes - seg->size + sc.end;
	seg->size = seg->verified = sc.end;
	seg->live = sc.live;
	seg->first = sc.first;
	seg->warned = sc.header_bad || sc.bad > 0 || sc.torn;
	sp->st.points += sc.live;
	if (newest && whole && !sc.header_bad &&
	    sc.end < sp->limits.segment_bytes) {
		seg->fd = fd;
		sp->active = seg;
		return;
	}
	close(fd);
	if (seg->live == 0)
		spool_seg_remove(sp, seg);
}

static int
spool_seq_cmp(const void *a, const void *b)
{
	uint64_t	 x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The sequence numbers of the segment files in the directory, sorted. */
static int
spool_list(struct spool *sp, uint64_t **seqs, size_t *n, char *err,
    size_t errlen)
{
	struct dirent	*de;
	DIR		*d;
	uint64_t	 seq;
	size_t		 cap = 0;
	int		 fd;

	*seqs = NULL;
	*n = 0;
	if ((fd = dup(sp->dirfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		snprintf(err, errlen, "%s: %s", sp->path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (!segment_name_parse(de->d_name, &seq))
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			*seqs = xreallocarray(*seqs, cap, sizeof(**seqs));
		}
		(*seqs)[(*n)++] = seq;
	}
	closedir(d);
	if (*n > 0)
		qsort(*seqs, *n, sizeof(**seqs), spool_seq_cmp);
	return 0;
}

/* Loads the segments already in the directory. */
static int
spool_load(struct spool *sp, char *err, size_t errlen)
{
	struct segment_reader	 rd = { .fd = -1 };
	uint64_t		*seqs;
	size_t			 n, i;

	if (spool_list(sp, &seqs, &n, err, errlen) == -1)
		return -1;
	if (n > 0 && seqs[n - 1] == UINT64_MAX) {
		snprintf(err, errlen, "%s: segment numbers used up", sp->path);
		free(seqs);
		return -1;
	}
	for (i = 0; i < n; i++)
		spool_load_segment(sp, &rd, seqs[i], i == n - 1);
	sp->next_seq = n > 0 ? seqs[n - 1] + 1 : 1;
	segment_reader_clear(&rd);
	free(seqs);
	return 0;
}

/* Frees the spool's memory and descriptors, keeping every file. */
static void
spool_free(struct spool *sp)
{
	struct spool_seg	*seg;

	while ((seg = TAILQ_FIRST(&sp->segs)) != NULL) {
		TAILQ_REMOVE(&sp->segs, seg, entry);
		spool_seg_close(seg);
		free(seg);
	}
	hmap_free(sp->byseq);
	if (sp->dirfd != -1)
		close(sp->dirfd);
	free(sp->buf);
	free(sp->runs);
	free(sp->name);
	free(sp->path);
	free(sp);
}

/* Makes the target's directory `path` in `dir`, durably, unless it exists. */
static int
spool_mkdir(const char *dir, const char *path)
{
	int	 fd;

	if (mkdir(path, 0700) == -1)
		return errno == EEXIST ? 0 : -1;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(fd) == -1)
		log_warn("spool: syncing %s", dir);
	if (fd != -1)
		close(fd);
	return 0;
}

struct spool *
spool_open(const char *dir, const char *name,
    const struct spool_limits *limits, char *err, size_t errlen)
{
	struct spool	*sp;
	char		*dname;

	if ((dname = spool_dirname(name)) == NULL) {
		snprintf(err, errlen, "target name '%s' is empty or too long "
		    "for a spool directory", log_esc(name));
		return NULL;
	}
	sp = xcalloc(1, sizeof(*sp));
	sp->name = xstrdup(name);
	sp->path = xasprintf("%s/%s", dir, dname);
	free(dname);
	sp->limits = *limits;
	if (sp->limits.segment_bytes == 0)
		sp->limits.segment_bytes = SPOOL_SEGMENT_BYTES;
	sp->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(60, 5);
	TAILQ_INIT(&sp->segs);
	sp->byseq = hmap_new();
	if (spool_mkdir(dir, sp->path) == -1)
		snprintf(err, errlen, "%s: %s", sp->path, strerror(errno));
	else if ((sp->dirfd = open(sp->path, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		snprintf(err, errlen, "%s: %s", sp->path, strerror(errno));
	else if (spool_load(sp, err, errlen) == 0)
		return sp;
	spool_free(sp);
	return NULL;
}

void
spool_close(struct spool *sp)
{
	if (sp == NULL)
		return;
	if (sp->cursors > 0)
		fatalx("spool: target %s closed with %u cursors", sp->name,
		    sp->cursors);
	if (sp->nruns > 0)
		(void)spool_write(sp);
	if (sp->active != NULL && sp->active->live == 0)
		spool_seg_remove(sp, sp->active);
	spool_free(sp);
}

/* The segment to append `size` bytes to, rotating when it is full. */
static struct spool_seg *
spool_active(struct spool *sp, size_t size)
{
	struct spool_seg	*seg = sp->active;
	uint64_t		 used;

	if (seg != NULL) {
		used = seg->size + seg->pending;
		if (used == SEGMENT_HEADER_SIZE ||
		    used + size <= sp->limits.segment_bytes)
			return seg;
		spool_seal(sp);
	}
	sp->active = spool_seg_new(sp, sp->next_seq++);
	return sp->active;
}

/* The run of records for `seg` at the end of the write buffer. */
static struct spool_run *
spool_run(struct spool *sp, struct spool_seg *seg)
{
	struct spool_run	*run;

	if (sp->nruns > 0 && sp->runs[sp->nruns - 1].seg == seg)
		return &sp->runs[sp->nruns - 1];
	if (sp->nruns == sp->runcap) {
		sp->runcap = sp->runcap ? 2 * sp->runcap : 4;
		sp->runs = xreallocarray(sp->runs, sp->runcap,
		    sizeof(*sp->runs));
	}
	run = &sp->runs[sp->nruns++];
	memset(run, 0, sizeof(*run));
	run->seg = seg;
	run->start = sp->len;
	return run;
}

int
spool_append(struct spool *sp, const char *db, const char *rp,
    const char *points, size_t len, uint32_t npoints, struct spool_ref *ref)
{
	struct segment_record	 rec = { stamp_now(), npoints, db,
				    strlen(db), rp, strlen(rp), points, len };
	struct spool_seg	*seg;
	struct spool_run	*run;
	size_t			 size;

	if (!segment_record_valid(&rec)) {
		errno = EINVAL;
		return -1;
	}
	size = segment_record_size(rec.dblen, rec.rplen, len);
	seg = spool_active(sp, size);
	run = spool_run(sp, seg);
	if (sp->cap - sp->len < size) {
		sp->cap = sp->len + size > 2 * sp->cap ? sp->len + size :
		    2 * sp->cap;
		sp->buf = xreallocarray(sp->buf, sp->cap, 1);
	}
	segment_record_encode(sp->buf + sp->len, &rec);
	ref->segment = seg->seq;
	ref->offset = seg->size + seg->pending;
	sp->len += size;
	run->len += size;
	run->points += npoints;
	seg->pending += size;
	seg->live += npoints;
	if (seg->first == 0)
		seg->first = rec.time;
	sp->st.bytes += size;
	sp->st.points += npoints;
	return 0;
}

/* Writes one run; -1 (errno), `*whole` false if part of a record stays. */
static int
spool_write_run(struct spool *sp, struct spool_run *run, bool *whole)
{
	struct spool_seg	*seg = run->seg;

	*whole = true;
	run->size = seg->size;
	if (!seg->created) {
		if ((seg->fd = segment_create(sp->dirfd, seg->seq)) == -1)
			return -1;
		seg->created = true;
		sp->dir_unsynced = true;
	}
	if (segment_write(seg->fd, seg->size, sp->buf + run->start, run->len,
	    whole) == -1)
		return -1;
	seg->size += run->len;
	seg->pending -= run->len;
	if (!seg->unsynced)
		sp->nunsynced++;
	seg->unsynced = true;
	return 0;
}

/*
 * Takes back every run after spool_write() failed at run `failed`: the
 * runs before it are cut out of their files, the rest never got there.
 */
static void
spool_unwrite(struct spool *sp, size_t failed, bool whole)
{
	struct spool_run	*run;
	struct spool_seg	*seg;
	size_t			 i;
	bool			 cut;

	for (i = 0; i < sp->nruns; i++) {
		run = &sp->runs[i];
		if ((seg = run->seg) == NULL)
			continue;
		cut = true;
		if (i < failed) {
			cut = ftruncate(seg->fd, (off_t)run->size) == 0;
			seg->size = run->size;
		} else {
			cut = i > failed || whole;
			seg->pending -= run->len;
		}
		sp->st.bytes -= run->len;
		seg->live -= run->points;
		sp->st.points -= run->points;
		sp->st.unwritten_points += run->points;
		/* a file that may hold more than its books say takes no more */
		if (!cut && seg == sp->active)
			spool_seal(sp);
	}
}

/* After spool_write(): closes the segments no longer appended to. */
static void
spool_write_done(struct spool *sp)
{
	struct spool_seg	*seg;
	size_t			 i;

	for (i = 0; i < sp->nruns; i++) {
		if ((seg = sp->runs[i].seg) == NULL || seg == sp->active)
			continue;
		spool_seg_close(seg);
		if (seg->live == 0)
			spool_seg_remove(sp, seg);
	}
	sp->nruns = 0;
	sp->len = 0;
	if (sp->cap > SPOOL_BUF_KEEP) {
		free(sp->buf);
		sp->buf = NULL;
		sp->cap = 0;
	}
}

int
spool_write(struct spool *sp)
{
	char		 name[SEGMENT_FILE_LEN + 1] = "";
	uint64_t	 lost = sp->st.unwritten_points;
	size_t		 i;
	bool		 whole = true;
	int		 saved;

	for (i = 0; i < sp->nruns; i++) {
		if (sp->runs[i].seg == NULL)
			continue;
		if (spool_write_run(sp, &sp->runs[i], &whole) == -1)
			break;
	}
	if (i == sp->nruns) {
		spool_write_done(sp);
		return 0;
	}
	saved = errno;
	segment_name(name, sp->runs[i].seg->seq);
	spool_unwrite(sp, i, whole);
	spool_write_done(sp);
	sp->st.write_errors++;
	log_warnx_rl(&sp->rl, "spool: target %s: writing %s/%s: %s; %" PRIu64
	    " points stay in memory only", sp->name, sp->path, name,
	    strerror(saved), sp->st.unwritten_points - lost);
	errno = saved;
	return -1;
}

/* fdatasync()s one segment, through its fd or a new one. */
static int
spool_seg_sync(struct spool *sp, struct spool_seg *seg)
{
	int	 fd = seg->fd, rc, saved;

	if (fd == -1 && (fd = segment_open(sp->dirfd, seg->seq,
	    O_RDONLY)) == -1)
		return -1;
	rc = fdatasync(fd);
	saved = errno;
	if (fd != seg->fd)
		close(fd);
	spool_seg_clean(sp, seg);
	errno = saved;
	return rc;
}

int
spool_sync(struct spool *sp, uint64_t now_ms)
{
	struct spool_seg	*seg, *next;
	int			 rc = 0, saved = 0;

	for (seg = TAILQ_FIRST(&sp->segs); seg != NULL && sp->nunsynced > 0;
	    seg = next) {
		next = TAILQ_NEXT(seg, entry);
		if (!seg->unsynced || spool_seg_sync(sp, seg) == 0)
			continue;
		saved = errno;
		rc = -1;
		log_warn("spool: target %s: syncing segment %016" PRIx64
		    " in %s", sp->name, seg->seq, sp->path);
		/* its pages may be gone: append elsewhere */
		if (seg == sp->active)
			spool_seal(sp);
	}
	if (sp->dir_unsynced && fsync(sp->dirfd) == -1) {
		saved = errno;
		rc = -1;
		log_warn("spool: target %s: syncing %s", sp->name, sp->path);
	}
	sp->dir_unsynced = false;
	sp->synced_ms = now_ms;
	if (rc == -1) {
		sp->st.write_errors++;
		errno = saved;
	}
	return rc;
}

uint64_t
spool_sync_wait(const struct spool *sp, uint64_t interval_ms,
    uint64_t now_ms)
{
	uint64_t	 since;

	if (interval_ms == SPOOL_SYNC_NEVER ||
	    (sp->nunsynced == 0 && !sp->dir_unsynced))
		return UINT64_MAX;
	since = now_ms > sp->synced_ms ? now_ms - sp->synced_ms : 0;
	return since >= interval_ms ? 0 : interval_ms - since;
}

int
spool_release(struct spool *sp, uint64_t segment, uint64_t npoints)
{
	struct spool_seg	*seg = spool_seg_find(sp, segment);

	if (seg == NULL || seg->live < npoints) {
		log_warnx_rl(&sp->rl, "spool: target %s: %" PRIu64 " points "
		    "released from segment %016" PRIx64 ", which holds %"
		    PRIu64, sp->name, npoints, segment,
		    seg != NULL ? seg->live : 0);
		errno = EINVAL;
		return -1;
	}
	seg->live -= npoints;
	sp->st.points -= npoints;
	if (seg->live == 0 && seg != sp->active)
		spool_seg_remove(sp, seg);
	return 0;
}

uint64_t
spool_drop_oldest_segment(struct spool *sp, uint64_t *segment)
{
	struct spool_seg	*seg = TAILQ_FIRST(&sp->segs);
	uint64_t		 n;

	*segment = 0;
	if (seg == NULL || seg->live == 0)
		return 0;
	n = seg->live;
	*segment = seg->seq;
	sp->st.dropped_points += n;
	spool_seg_remove(sp, seg);
	return n;
}

uint64_t
spool_next_segment(struct spool *sp, size_t size)
{
	return spool_active(sp, size)->seq;
}

bool
spool_oldest_segment(const struct spool *sp, uint64_t *segment)
{
	const struct spool_seg	*seg = TAILQ_FIRST(&sp->segs);

	if (seg == NULL || seg->live == 0 || seg == sp->active)
		return false;
	*segment = seg->seq;
	return true;
}

void
spool_foreach_segment(const struct spool *sp, spool_segment_cb cb,
    void *arg)
{
	const struct spool_seg	*seg;

	TAILQ_FOREACH(seg, &sp->segs, entry)
		if (seg->live > 0)
			cb(seg->seq, seg->live, arg);
}

void
spool_set_max_bytes(struct spool *sp, uint64_t max_bytes)
{
	sp->limits.max_bytes = max_bytes;
}

bool
spool_full(const struct spool *sp, size_t len)
{
	return sp->limits.max_bytes > 0 &&
	    sp->st.bytes + len > sp->limits.max_bytes;
}

void
spool_stats(const struct spool *sp, struct spool_stats *st)
{
	const struct spool_seg	*seg;

	*st = sp->st;
	st->oldest = 0;
	TAILQ_FOREACH(seg, &sp->segs, entry)
		if ((st->oldest = seg->first) != 0)
			break;
}

struct spool_cursor *
spool_cursor_new(struct spool *sp)
{
	struct spool_cursor	*c = xcalloc(1, sizeof(*c));

	c->spool = sp;
	c->start = SEGMENT_HEADER_SIZE;
	c->fd = -1;
	sp->cursors++;
	return c;
}

/* Leaves the segment read, for the next one. */
static void
spool_cursor_detach(struct spool_cursor *c)
{
	struct spool_seg	*seg = c->seg;

	if (seg == NULL)
		return;
	c->seg = NULL;
	c->want = seg->seq + 1;
	c->start = SEGMENT_HEADER_SIZE;
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	if (--seg->cursors == 0 && seg->gone)
		free(seg);
}

/* Starts on the first segment from c->want: 1, or 0 if there is none. */
static int
spool_cursor_attach(struct spool_cursor *c)
{
	struct spool_seg	*seg;

	TAILQ_FOREACH(seg, &c->spool->segs, entry)
		if (seg->seq >= c->want)
			break;
	if (seg == NULL)
		return 0;
	c->pos = seg->seq == c->want ? c->start : SEGMENT_HEADER_SIZE;
	c->seg = seg;
	seg->cursors++;
	return 1;
}

/* Opens the file of the segment read, once it exists; -1 (errno). */
static int
spool_cursor_open(struct spool_cursor *c)
{
	if (c->fd != -1 || !c->seg->created)
		return 0;
	c->fd = segment_open(c->spool->dirfd, c->seg->seq, O_RDONLY);
	if (c->fd == -1)
		return -1;
	segment_reader_reset(&c->rd, c->fd, c->seg->size);
	return 0;
}

void
spool_cursor_free(struct spool_cursor *c)
{
	if (c == NULL)
		return;
	spool_cursor_detach(c);
	segment_reader_clear(&c->rd);
	c->spool->cursors--;
	free(c);
}

void
spool_cursor_seek(struct spool_cursor *c, const struct spool_ref *ref)
{
	spool_cursor_detach(c);
	c->want = ref->segment;
	c->start = ref->offset < SEGMENT_HEADER_SIZE ? SEGMENT_HEADER_SIZE :
	    ref->offset;
}

/* Counts and logs (once a file) damage a cursor met in [pos, next). */
static void
spool_cursor_damage(struct spool_cursor *c, uint64_t pos, uint64_t next)
{
	struct spool		*sp = c->spool;
	struct spool_seg	*seg = c->seg;

	if (pos < seg->verified)
		return;		/* counted already */
	seg->verified = next;
	sp->st.checksum_failures++;
	if (seg->warned)
		return;
	seg->warned = true;
	log_warnx("spool: target %s: %s/%016" PRIx64 ".seg: bad record at "
	    "offset %" PRIu64 " skipped", sp->name, sp->path, seg->seq, pos);
}

/* Hands the record the reader found to the caller. */
static void
spool_cursor_out(struct spool_cursor *c, const struct segment_record *rec,
    struct spool_record *out)
{
	memcpy(c->db, rec->database, rec->dblen);
	c->db[rec->dblen] = '\0';
	memcpy(c->rp, rec->rp, rec->rplen);
	c->rp[rec->rplen] = '\0';
	out->ref.segment = c->seg->seq;
	out->ref.offset = c->pos;
	out->time = rec->time;
	out->database = c->db;
	out->rp = c->rp;
	out->points = rec->points;
	out->len = rec->len;
	out->npoints = rec->npoints;
}

int
spool_read(struct spool_cursor *c, struct spool_record *out)
{
	struct segment_record	 rec;
	uint64_t		 next;
	int			 rc;

	for (;;) {
		if (c->seg == NULL && (rc = spool_cursor_attach(c)) <= 0)
			return rc;
		if (c->seg->gone) {
			spool_cursor_detach(c);
			continue;
		}
		if (spool_cursor_open(c) == -1)
			return -1;
		c->rd.end = c->seg->size;
		switch (segment_next(&c->rd, c->pos, &rec, &next)) {
		case SEGMENT_RECORD:
			spool_cursor_out(c, &rec, out);
			c->pos = next;
			return 1;
		case SEGMENT_BAD:
		case SEGMENT_TORN:
			spool_cursor_damage(c, c->pos, next);
			c->pos = next;
			break;
		case SEGMENT_END:
			if (c->seg == c->spool->active || c->seg->pending > 0)
				return 0;	/* more may come */
			spool_cursor_detach(c);
			break;
		case SEGMENT_EIO:
			return -1;
		}
	}
}
