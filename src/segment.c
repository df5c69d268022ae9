/*
 * Segment files of the disk spool.
 *
 * A segment is named after its sequence number in 16 hex digits
 * ("0000000000000001.seg"), so names sort in append order.  Integers are
 * little-endian.  The file header, 32 bytes:
 *
 *	 0  8  magic "IRSPOOL\0"
 *	 8  4  version, 1
 *	12  4  flags, 0
 *	16  8  sequence number (as in the file name)
 *	24  4  reserved, 0
 *	28  4  CRC-32C of bytes 0-27
 *
 * Records follow back to back, each a 32-byte header and a body:
 *
 *	 0  4  magic C5 52 45 00 ("\xc5RE\0": rare in text, as 0xC5 then
 *	       'R' is not UTF-8 and NUL is uncommon)
 *	 4  4  body length
 *	 8  4  points in the record, 1 or more
 *	12  1  kind, 1 (points)
 *	13  1  flags, 0
 *	14  1  database length
 *	15  1  retention policy length
 *	16  8  when it was appended, ns since the epoch
 *	24  4  CRC-32C of the body
 *	28  4  CRC-32C of bytes 0-27 of this header
 *	32     body: database, retention policy, then the points, each
 *	       normalised line protocol with its timestamp and a final '\n'
 *
 * Reading.  A record counts when its header checks (magic, CRC, sane
 * fields) and so does its body (CRC, names without NUL, points ending
 * in '\n' with at least as many newlines as points).  The header's own
 * CRC makes its length trustworthy, so:
 *  - a good header with a bad body is skipped by its length: one bad
 *    record, and the next is read as usual;
 *  - after a bad header the reader scans forward byte by byte for the
 *    next good header of a record that fits in the file; the bytes in
 *    between count as one bad record;
 *  - an incomplete record at the end (fewer bytes than a header, a good
 *    header whose body runs past the end, or damage with no good record
 *    after it) is a torn tail: a crash mid-write.  spool.c cuts it off.
 * A damaged file header costs only the count: records are still found
 * from offset 32 on.  A file of a later version is left alone.
 *
 * So one damaged byte costs at most one record, wherever it is.  The scan
 * takes the first good header it meets, though: a string field may hold
 * any bytes, and one holding a whole record, byte for byte, would be
 * read as one if damage hit the header of the record around it.  Only
 * damage takes the scan into a body, so no client can cause that alone.
 * A CRC keyed with a secret in the file header would rule it out, but
 * would lose a whole segment to a damaged file header: not worth it.
 *
 * Writing.  Records are written with pwrite() at the end of the last
 * whole record; a failed write is cut back to that end, so a file holds
 * whole records only.  Should the cut fail too, spool.c appends no more
 * to that file and remembers where its whole records end.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "mem.h"
#include "segment.h"

#define SEGMENT_MAGIC		"IRSPOOL"	/* and its NUL: 8 bytes */
#define SEGMENT_VERSION		1
#define SEGMENT_KIND_POINTS	1
#define SEGMENT_READAHEAD	(64U << 10)

static const unsigned char segment_rmagic[4] = { 0xc5, 'R', 'E', 0x00 };

/* A record header, decoded. */
struct segment_rhdr {
	uint32_t	 len;
	uint32_t	 npoints;
	uint8_t		 kind;
	uint8_t		 flags;
	uint8_t		 dblen;
	uint8_t		 rplen;
	int64_t		 time;
	uint32_t	 crc;
};

static void
segment_put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static void
segment_put64(unsigned char *p, uint64_t v)
{
	segment_put32(p, (uint32_t)v);
	segment_put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t
segment_get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
segment_get64(const unsigned char *p)
{
	return segment_get32(p) | (uint64_t)segment_get32(p + 4) << 32;
}

void
segment_name(char *name, uint64_t seq)
{
	snprintf(name, SEGMENT_FILE_LEN + 1, "%016" PRIx64 ".seg", seq);
}

bool
segment_name_parse(const char *name, uint64_t *seq)
{
	uint64_t	 v = 0;
	int		 i;

	if (strlen(name) != SEGMENT_FILE_LEN || strcmp(name + 16, ".seg"))
		return false;
	for (i = 0; i < 16; i++) {
		if (name[i] >= '0' && name[i] <= '9')
			v = v << 4 | (uint64_t)(name[i] - '0');
		else if (name[i] >= 'a' && name[i] <= 'f')
			v = v << 4 | (uint64_t)(name[i] - 'a' + 10);
		else
			return false;
	}
	*seq = v;
	return true;
}

size_t
segment_record_size(size_t dblen, size_t rplen, size_t len)
{
	return SEGMENT_RECORD_HEADER + dblen + rplen + len;
}

/* True if `len` bytes at `p` hold at least `n` newlines. */
static bool
segment_has_lines(const char *p, size_t len, uint32_t n)
{
	const char	*end = p + len, *nl;
	uint32_t	 seen = 0;

	while (seen < n && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		seen++;
		p = nl + 1;
	}
	return seen == n;
}

bool
segment_record_valid(const struct segment_record *rec)
{
	if (rec->dblen > SEGMENT_NAME_MAX || rec->rplen > SEGMENT_NAME_MAX ||
	    memchr(rec->database, '\0', rec->dblen) != NULL ||
	    memchr(rec->rp, '\0', rec->rplen) != NULL)
		return false;
	if (rec->npoints == 0 || rec->len == 0 ||
	    rec->len > SEGMENT_RECORD_MAX - rec->dblen - rec->rplen ||
	    rec->points[rec->len - 1] != '\n')
		return false;
	return segment_has_lines(rec->points, rec->len, rec->npoints);
}

void
segment_record_encode(char *out, const struct segment_record *rec)
{
	unsigned char	*h = (unsigned char *)out;
	char		*body = out + SEGMENT_RECORD_HEADER;
	size_t		 blen = rec->dblen + rec->rplen + rec->len;

	memcpy(body, rec->database, rec->dblen);
	memcpy(body + rec->dblen, rec->rp, rec->rplen);
	memcpy(body + rec->dblen + rec->rplen, rec->points, rec->len);
	memcpy(h, segment_rmagic, sizeof(segment_rmagic));
	segment_put32(h + 4, (uint32_t)blen);
	segment_put32(h + 8, rec->npoints);
	h[12] = SEGMENT_KIND_POINTS;
	h[13] = 0;
	h[14] = (unsigned char)rec->dblen;
	h[15] = (unsigned char)rec->rplen;
	segment_put64(h + 16, (uint64_t)rec->time);
	segment_put32(h + 24, crc32c(0, body, blen));
	segment_put32(h + 28, crc32c(0, h, 28));
}

/*
 * Decodes the record header at `p`: false unless its magic and CRC
 * check and its fields could describe a record segment_record_valid()
 * would accept.
 */
static bool
segment_rhdr_decode(const unsigned char *p, struct segment_rhdr *h)
{
	if (memcmp(p, segment_rmagic, sizeof(segment_rmagic)) != 0 ||
	    segment_get32(p + 28) != crc32c(0, p, 28))
		return false;
	h->len = segment_get32(p + 4);
	h->npoints = segment_get32(p + 8);
	h->kind = p[12];
	h->flags = p[13];
	h->dblen = p[14];
	h->rplen = p[15];
	h->time = (int64_t)segment_get64(p + 16);
	h->crc = segment_get32(p + 24);
	return h->kind == SEGMENT_KIND_POINTS && h->flags == 0 &&
	    h->len <= SEGMENT_RECORD_MAX && h->npoints > 0 &&
	    (uint64_t)h->dblen + h->rplen + h->npoints <= h->len;
}

void
segment_header_encode(char *out, uint64_t seq)
{
	unsigned char	*h = (unsigned char *)out;

	memset(h, 0, SEGMENT_HEADER_SIZE);
	memcpy(h, SEGMENT_MAGIC, sizeof(SEGMENT_MAGIC));
	segment_put32(h + 8, SEGMENT_VERSION);
	segment_put64(h + 16, seq);
	segment_put32(h + 28, crc32c(0, h, 28));
}

enum segment_header
segment_header_check(const char *buf, size_t len, uint64_t seq)
{
	const unsigned char	*h = (const unsigned char *)buf;

	if (len < SEGMENT_HEADER_SIZE ||
	    memcmp(h, SEGMENT_MAGIC, sizeof(SEGMENT_MAGIC)) != 0 ||
	    segment_get32(h + 28) != crc32c(0, h, 28))
		return SEGMENT_HEADER_BAD;
	if (segment_get32(h + 8) != SEGMENT_VERSION)
		return SEGMENT_HEADER_NEWER;
	if (segment_get32(h + 12) != 0 || segment_get64(h + 16) != seq ||
	    segment_get32(h + 24) != 0)
		return SEGMENT_HEADER_BAD;
	return SEGMENT_HEADER_OK;
}

int
segment_open(int dirfd, uint64_t seq, int flags)
{
	char	 name[SEGMENT_FILE_LEN + 1];

	segment_name(name, seq);
	return openat(dirfd, name, flags | O_CLOEXEC, 0600);
}

int
segment_unlink(int dirfd, uint64_t seq)
{
	char	 name[SEGMENT_FILE_LEN + 1];

	segment_name(name, seq);
	if (unlinkat(dirfd, name, 0) == -1 && errno != ENOENT)
		return -1;
	return 0;
}

int
segment_create(int dirfd, uint64_t seq)
{
	char	 hdr[SEGMENT_HEADER_SIZE];
	bool	 whole;
	int	 fd, saved;

	if ((fd = segment_open(dirfd, seq, O_RDWR | O_CREAT | O_EXCL)) == -1)
		return -1;
	segment_header_encode(hdr, seq);
	if (segment_write(fd, 0, hdr, sizeof(hdr), &whole) == -1) {
		saved = errno;
		close(fd);
		(void)segment_unlink(dirfd, seq);
		errno = saved;
		return -1;
	}
	return fd;
}

int
segment_write(int fd, uint64_t off, const char *buf, size_t len,
    bool *whole)
{
	size_t	 done = 0;
	ssize_t	 n;
	int	 saved;

	*whole = true;
	while (done < len) {
		n = pwrite(fd, buf + done, len - done, (off_t)(off + done));
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		saved = n == 0 ? ENOSPC : errno;
		/* a partial record must not stay in front of later ones */
		if (done > 0 && ftruncate(fd, (off_t)off) == -1)
			*whole = false;
		errno = saved;
		return -1;
	}
	return 0;
}

void
segment_reader_reset(struct segment_reader *r, int fd, uint64_t end)
{
	r->fd = fd;
	r->end = end;
	r->win_off = 0;
	r->win_len = 0;
}

void
segment_reader_clear(struct segment_reader *r)
{
	free(r->win);
	r->win = NULL;
	r->cap = 0;
	r->win_len = 0;
}

/*
 * Makes the window hold [off, off + need), which lies before r->end,
 * reading ahead while the file has more; the window's bytes, or NULL
 * (errno) if the read failed or the file is shorter than it was.
 */
static const unsigned char *
segment_window(struct segment_reader *r, uint64_t off, size_t need)
{
	size_t	 want = need, got = 0;
	ssize_t	 n;

	if (off >= r->win_off && off - r->win_off + need <= r->win_len)
		return (unsigned char *)r->win + (off - r->win_off);
	if (want < SEGMENT_READAHEAD)
		want = SEGMENT_READAHEAD;
	if (want > r->end - off)
		want = (size_t)(r->end - off);
	if (want > r->cap) {
		free(r->win);
		r->win = xmalloc(want);
		r->cap = want;
	}
	r->win_len = 0;
	while (got < want) {
		n = pread(r->fd, r->win + got, want - got, (off_t)(off + got));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return NULL;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got < need) {
		errno = EIO;	/* cut short behind our back */
		return NULL;
	}
	r->win_off = off;
	r->win_len = got;
	return (unsigned char *)r->win;
}

/*
 * The first offset from `from` on that holds a good record header of a
 * record ending by r->end: 1 with it in `*found`, 0 if none, -1 on a
 * read error.
 */
static int
segment_resync(struct segment_reader *r, uint64_t from, uint64_t *found)
{
	struct segment_rhdr	 h;
	const unsigned char	*w, *p, *last;
	uint64_t		 off = from, at;
	size_t			 n;

	while (off < r->end && r->end - off >= SEGMENT_RECORD_HEADER) {
		n = r->end - off < SEGMENT_READAHEAD ? (size_t)(r->end - off) :
		    SEGMENT_READAHEAD;
		if ((w = segment_window(r, off, n)) == NULL)
			return -1;
		last = w + n - SEGMENT_RECORD_HEADER;	/* last full header */
		for (p = w; p <= last; p++) {
			if ((p = memchr(p, segment_rmagic[0],
			    (size_t)(last - p) + 1)) == NULL)
				break;
			at = off + (uint64_t)(p - w);
			if (segment_rhdr_decode(p, &h) &&
			    h.len <= r->end - at - SEGMENT_RECORD_HEADER) {
				*found = at;
				return 1;
			}
		}
		off += n - SEGMENT_RECORD_HEADER + 1;
	}
	return 0;
}

/* Fills `rec` from the body of a record; false if the body is bad. */
static bool
segment_body(const struct segment_rhdr *h, const unsigned char *body,
    struct segment_record *rec)
{
	if (crc32c(0, body, h->len) != h->crc)
		return false;
	rec->time = h->time;
	rec->npoints = h->npoints;
	rec->database = (const char *)body;
	rec->dblen = h->dblen;
	rec->rp = rec->database + h->dblen;
	rec->rplen = h->rplen;
	rec->points = rec->rp + h->rplen;
	rec->len = h->len - h->dblen - h->rplen;
	return segment_record_valid(rec);
}

enum segment_step
segment_next(struct segment_reader *r, uint64_t pos,
    struct segment_record *rec, uint64_t *next)
{
	struct segment_rhdr	 h;
	const unsigned char	*p;
	uint64_t		 found;
	int			 rc;

	*next = r->end;
	if (pos >= r->end)
		return SEGMENT_END;
	if (r->end - pos < SEGMENT_RECORD_HEADER)
		return SEGMENT_TORN;
	if ((p = segment_window(r, pos, SEGMENT_RECORD_HEADER)) == NULL)
		return SEGMENT_EIO;
	if (!segment_rhdr_decode(p, &h)) {
		if ((rc = segment_resync(r, pos + 1, &found)) == -1)
			return SEGMENT_EIO;
		if (rc == 0)
			return SEGMENT_TORN;
		*next = found;
		return SEGMENT_BAD;
	}
	if (h.len > r->end - pos - SEGMENT_RECORD_HEADER)
		return SEGMENT_TORN;
	*next = pos + SEGMENT_RECORD_HEADER + h.len;
	p = segment_window(r, pos, SEGMENT_RECORD_HEADER + (size_t)h.len);
	if (p == NULL)
		return SEGMENT_EIO;
	if (!segment_body(&h, p + SEGMENT_RECORD_HEADER, rec))
		return SEGMENT_BAD;
	return SEGMENT_RECORD;
}
