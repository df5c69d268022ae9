/*
 * libFuzzer target for the disk spool's reader.  The first input byte
 * picks one of two modes:
 *
 * even: the rest of the input is a segment file, the first of a target;
 *   spool_open() checks it and a cursor reads it.  The records read back
 *   must be well-formed and hold the points spool_open() counted; a
 *   record appended afterwards must come back whole, whatever the file
 *   held before (a torn tail was cut off, damage is skipped).
 *
 * odd: the rest describes records, which the spool writes; then one
 *   byte of the file is flipped, or the file is cut short, at an offset
 *   the input picks.  Every record the damage did not touch must come
 *   back, in order, and no other.  The records hold no byte 0xC5, the
 *   first of a record's magic: after a damaged header the reader scans
 *   for the next good one, and would take a whole record written
 *   inside a point's string for one (segment.c says why that is kept).
 *
 * Besides these, no crash, leak, hang or sanitizer report.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "segment.h"
#include "spool.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_RECORDS	512

/* A record the structured mode wrote, and where it ended up. */
struct fuzz_rec {
	char		 db[8];
	char		 rp[4];
	const char	*points;
	size_t		 len;
	uint64_t	 start;
	uint64_t	 end;
};

static char	 fuzz_dir[64];
static char	 fuzz_seg[128];

static void	 fuzz_clean(void);

static void
fuzz_exit(void)
{
	char	 path[80];

	fuzz_clean();
	snprintf(path, sizeof(path), "%s/fuzz", fuzz_dir);
	rmdir(path);
	rmdir(fuzz_dir);
}

static void
fuzz_init(void)
{
	if (fuzz_dir[0] != '\0')
		return;
	log_set_level(LOG_LEVEL_ERROR);
	strcpy(fuzz_dir, "/tmp/fuzz_spool.XXXXXX");
	if (mkdtemp(fuzz_dir) == NULL)
		abort();
	snprintf(fuzz_seg, sizeof(fuzz_seg), "%s/fuzz", fuzz_dir);
	if (mkdir(fuzz_seg, 0700) == -1)
		abort();
	snprintf(fuzz_seg, sizeof(fuzz_seg), "%s/fuzz/0000000000000001.seg",
	    fuzz_dir);
	atexit(fuzz_exit);
}

/* Empties the target's directory for the next input. */
static void
fuzz_clean(void)
{
	char		 path[192];
	struct dirent	*de;
	DIR		*d;

	snprintf(path, sizeof(path), "%s/fuzz", fuzz_dir);
	if ((d = opendir(path)) == NULL)
		abort();
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/fuzz/%s", fuzz_dir,
		    de->d_name);
		if (unlink(path) == -1)
			abort();
	}
	closedir(d);
}

static struct spool *
fuzz_open(uint64_t segment_bytes)
{
	struct spool_limits	 lim = { segment_bytes, 0 };
	struct spool		*sp;
	char			 err[256];

	if ((sp = spool_open(fuzz_dir, "fuzz", &lim, err, sizeof(err))) ==
	    NULL) {
		fprintf(stderr, "spool_open: %s\n", err);
		abort();
	}
	return sp;
}

static void
fuzz_check_record(const struct spool_record *r)
{
	if (strlen(r->database) > SEGMENT_NAME_MAX ||
	    strlen(r->rp) > SEGMENT_NAME_MAX || r->len == 0 ||
	    r->npoints == 0 || r->npoints > r->len ||
	    r->points[r->len - 1] != '\n' || r->ref.segment == 0 ||
	    r->ref.offset < SEGMENT_HEADER_SIZE)
		abort();
}

/* Reads everything, releasing as it goes; the points read. */
static uint64_t
fuzz_drain(struct spool *sp, struct spool_cursor *c)
{
	struct spool_record	 r;
	uint64_t		 sum = 0;
	int			 rc;

	while ((rc = spool_read(c, &r)) == 1) {
		fuzz_check_record(&r);
		sum += r.npoints;
		if (spool_release(sp, r.ref.segment, r.npoints) == -1)
			abort();
	}
	if (rc != 0)
		abort();
	return sum;
}

static void
fuzz_raw(const uint8_t *data, size_t size)
{
	static const char	 pts[] = "m,t=a v=1 1700000000000000000\n";
	struct spool		*sp;
	struct spool_cursor	*c;
	struct spool_stats	 st;
	struct spool_record	 r;
	struct spool_ref	 ref;
	int			 fd;

	if ((fd = open(fuzz_seg, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	sp = fuzz_open(2048);
	spool_stats(sp, &st);
	c = spool_cursor_new(sp);
	if (fuzz_drain(sp, c) != st.points)
		abort();
	/* an append after whatever was there comes back whole */
	if (spool_append(sp, "db", "rp", pts, sizeof(pts) - 1, 1, &ref) ||
	    spool_write(sp) == -1 || spool_read(c, &r) != 1 ||
	    strcmp(r.database, "db") != 0 || strcmp(r.rp, "rp") != 0 ||
	    r.len != sizeof(pts) - 1 || memcmp(r.points, pts, r.len) != 0 ||
	    r.ref.segment != ref.segment || r.ref.offset != ref.offset ||
	    spool_read(c, &r) != 0)
		abort();
	spool_cursor_free(c);
	spool_close(sp);
}

/* Input bytes without the first byte of a record's magic. */
static void
fuzz_copy(char *out, const uint8_t *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		out[i] = p[i] == 0xc5 ? 'x' : (char)p[i];
}

/* A name without NUL from input bytes. */
static void
fuzz_name(char *out, size_t cap, const uint8_t *p, size_t n)
{
	size_t	 i;

	if (n > cap - 1)
		n = cap - 1;
	fuzz_copy(out, p, n);
	for (i = 0; i < n; i++)
		if (out[i] == '\0')
			out[i] = 'x';
	out[n] = '\0';
}

/*
 * Writes the records the input describes (each: a length byte, then
 * names and points from the bytes after it); how many.
 */
static size_t
fuzz_build(const uint8_t *p, size_t size, struct fuzz_rec *recs, char *buf)
{
	struct spool		*sp = fuzz_open(0);
	struct spool_ref	 ref;
	size_t			 n = 0, len, off = 0;

	while (off < size && n < FUZZ_RECORDS) {
		len = p[off++];
		if (len > size - off)
			len = size - off;
		fuzz_name(recs[n].db, sizeof(recs[n].db), p + off, len / 8);
		fuzz_name(recs[n].rp, sizeof(recs[n].rp), p + off, len / 16);
		fuzz_copy(buf, p + off, len);
		buf[len] = '\n';
		recs[n].points = buf;
		recs[n].len = len + 1;
		if (spool_append(sp, recs[n].db, recs[n].rp, buf, len + 1, 1,
		    &ref) == -1)
			abort();
		recs[n].start = ref.offset;
		recs[n].end = ref.offset + segment_record_size(
		    strlen(recs[n].db), strlen(recs[n].rp), len + 1);
		buf += len + 1;
		off += len;
		n++;
	}
	if (spool_write(sp) == -1)
		abort();
	spool_close(sp);
	return n;
}

/* Damages the file at `at` (modulo its size): flips a byte or cuts it. */
static uint64_t
fuzz_damage(uint32_t at, bool cut)
{
	struct stat	 sb;
	unsigned char	 b;
	int		 fd;

	if ((fd = open(fuzz_seg, O_RDWR)) == -1 || fstat(fd, &sb) == -1)
		abort();
	at %= (uint32_t)sb.st_size;
	if (cut) {
		if (ftruncate(fd, at) == -1)
			abort();
	} else {
		if (pread(fd, &b, 1, at) != 1)
			abort();
		b ^= 0x5a;
		if (pwrite(fd, &b, 1, at) != 1)
			abort();
	}
	close(fd);
	return at;
}

static void
fuzz_structured(const uint8_t *data, size_t size)
{
	struct fuzz_rec		*recs;
	struct spool		*sp;
	struct spool_cursor	*c;
	struct spool_record	 r;
	char			*buf;
	size_t			 n, i;
	uint64_t		 at;
	uint32_t		 pos;
	bool			 cut;

	if (size < 5)
		return;
	cut = data[0] & 2;
	memcpy(&pos, data + 1, 4);
	recs = calloc(FUZZ_RECORDS, sizeof(*recs));
	buf = malloc(2 * size + 1);
	if ((n = fuzz_build(data + 5, size - 5, recs, buf)) == 0)
		goto out;
	at = fuzz_damage(pos, cut);
	sp = fuzz_open(0);
	c = spool_cursor_new(sp);
	for (i = 0; i < n; i++) {
		/* the damaged record, and all after a cut, are lost */
		if (cut ? recs[i].end > at :
		    at >= recs[i].start && at < recs[i].end)
			continue;
		if (spool_read(c, &r) != 1 ||
		    strcmp(r.database, recs[i].db) != 0 ||
		    strcmp(r.rp, recs[i].rp) != 0 || r.len != recs[i].len ||
		    memcmp(r.points, recs[i].points, r.len) != 0 ||
		    r.ref.offset != recs[i].start) {
			fprintf(stderr, "record %zu of %zu lost (damage at "
			    "%llu)\n", i, n, (unsigned long long)at);
			abort();
		}
	}
	if (spool_read(c, &r) != 0)
		abort();
	spool_cursor_free(c);
	spool_close(sp);
out:
	free(recs);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_init();
	if (size > 0 && (data[0] & 1))
		fuzz_structured(data, size);
	else
		fuzz_raw(data + (size > 0), size - (size > 0));
	fuzz_clean();
	return 0;
}
