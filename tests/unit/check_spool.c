/*
 * The disk spool: records come back as written, across reopens and
 * segments; a torn tail at any byte and a flipped byte anywhere in a
 * record cost that record only; segments go once released; a failed
 * write takes back its turn and leaves whole records; a second relay is
 * refused the lock.  Each test works in its own temporary directory.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "segment.h"
#include "spool.h"
#include "check_main.h"
#include "scratch.h"

struct rec {
	const char	*db;
	const char	*rp;
	const char	*points;
	uint32_t	 n;
};

/* Five records; R[2] (with a newline inside a string) is the middle. */
#define MID_DB		"ops"
#define MID_RP		"week"
#define MID_POINTS	"deploy,svc=api msg=\"one\ntwo\" 1700000000000000002\n"
#define LAST_DB		"telemetry"
#define LAST_RP		""
#define LAST_POINTS	"disk free=4 1700000000000000004\n"
#define SIZE_OF(db, rp, pts) \
	(SEGMENT_RECORD_HEADER + sizeof(db) + sizeof(rp) + sizeof(pts) - 3)
#define MID_SIZE	SIZE_OF(MID_DB, MID_RP, MID_POINTS)
#define LAST_SIZE	SIZE_OF(LAST_DB, LAST_RP, LAST_POINTS)

static const struct rec R[] = {
	{ "telemetry", "", "cpu,host=a usage=1 1700000000000000000\n", 1 },
	{ "telemetry", "autogen", "cpu,host=b usage=2 1700000000000000001\n"
	    "mem,host=b used=3i 1700000000000000001\n", 2 },
	{ MID_DB, MID_RP, MID_POINTS, 1 },
	{ "db with space", "rp", "x v=5 1700000000000000003\n", 1 },
	{ LAST_DB, LAST_RP, LAST_POINTS, 1 },
};
#define NR	(sizeof(R) / sizeof(R[0]))

static const char	*tdir;

static void
setup(void)
{
	tdir = scratch_new("check_spool");
}

static void
teardown(void)
{
	scratch_remove();
}

static struct spool *
open_spool(uint64_t segment_bytes)
{
	struct spool_limits	 lim = { segment_bytes, 0 };
	struct spool		*sp;
	char			 err[256] = "";

	sp = spool_open(tdir, "t", &lim, err, sizeof(err));
	ck_assert_msg(sp != NULL, "spool_open: %s", err);
	return sp;
}

static char *
seg_path(uint64_t seq)
{
	static char	 path[128];
	char		 name[SEGMENT_FILE_LEN + 1];

	segment_name(name, seq);
	snprintf(path, sizeof(path), "%s/t/%s", tdir, name);
	return path;
}

static off_t
file_size(const char *path)
{
	struct stat	 sb;

	if (stat(path, &sb) == -1)
		return -1;
	return sb.st_size;
}

static void
add(struct spool *sp, const struct rec *r, struct spool_ref *ref)
{
	struct spool_ref	 dummy;

	ck_assert_int_eq(spool_append(sp, r->db, r->rp, r->points,
	    strlen(r->points), r->n, ref != NULL ? ref : &dummy), 0);
}

/* Appends R[0..n) and writes them; their refs into `refs` if given. */
static void
add_all(struct spool *sp, size_t n, struct spool_ref *refs)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		add(sp, &R[i], refs != NULL ? &refs[i] : NULL);
	ck_assert_int_eq(spool_write(sp), 0);
}

static void
same(const struct spool_record *got, const struct rec *r)
{
	ck_assert_str_eq(got->database, r->db);
	ck_assert_str_eq(got->rp, r->rp);
	ck_assert_uint_eq(got->len, strlen(r->points));
	ck_assert(memcmp(got->points, r->points, got->len) == 0);
	ck_assert_uint_eq(got->npoints, r->n);
	ck_assert_int_gt(got->time, 0);
}

/* Reads the whole spool: the records of `want` (indexes into R), in order. */
static void
expect(struct spool *sp, const int *want, size_t n)
{
	struct spool_cursor	*c = spool_cursor_new(sp);
	struct spool_record	 got;
	size_t			 i;

	for (i = 0; i < n; i++) {
		ck_assert_msg(spool_read(c, &got) == 1, "no record %zu", i);
		same(&got, &R[want[i]]);
	}
	ck_assert_int_eq(spool_read(c, &got), 0);
	spool_cursor_free(c);
}

static uint64_t
points_of(const int *want, size_t n)
{
	uint64_t	 sum = 0;
	size_t		 i;

	for (i = 0; i < n; i++)
		sum += R[want[i]].n;
	return sum;
}

static struct spool_stats
stats(struct spool *sp)
{
	struct spool_stats	 st;

	spool_stats(sp, &st);
	return st;
}

static void
flip(const char *path, off_t off)
{
	unsigned char	 b;
	int		 fd = open(path, O_RDWR);

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(pread(fd, &b, 1, off), 1);
	b ^= 0x10;
	ck_assert_int_eq(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

/* A bitwise CRC-32C, to check the sliced one against. */
static uint32_t
crc_slow(const unsigned char *p, size_t len)
{
	uint32_t	 c = 0xffffffffU;
	int		 k;

	while (len-- > 0) {
		c ^= *p++;
		for (k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78U : c >> 1;
	}
	return ~c;
}

START_TEST(test_crc32c)
{
	unsigned char	 buf[300];
	size_t		 i, off, len;

	ck_assert_uint_eq(crc32c(0, "123456789", 9), 0xe3069283U);
	ck_assert_uint_eq(crc32c(0, "", 0), 0);
	ck_assert_uint_eq(crc32c(crc32c(0, "1234", 4), "56789", 5),
	    0xe3069283U);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 131 + 7);
	/* every alignment and tail length of the 8-byte loop */
	for (off = 0; off < 9; off++)
		for (len = 0; len + off <= sizeof(buf); len += 13)
			ck_assert_uint_eq(crc32c(0, buf + off, len),
			    crc_slow(buf + off, len));
}
END_TEST

START_TEST(test_write_read_reopen)
{
	static const int	 all[] = { 0, 1, 2, 3, 4 };
	struct spool		*sp = open_spool(0);
	struct spool_stats	 st;

	add_all(sp, NR, NULL);
	expect(sp, all, NR);
	st = stats(sp);
	ck_assert_uint_eq(st.points, points_of(all, NR));
	ck_assert_uint_eq(st.segments, 1);
	ck_assert_uint_eq(st.bytes, (uint64_t)file_size(seg_path(1)));
	ck_assert_int_gt(st.oldest, 0);
	spool_close(sp);

	sp = open_spool(0);
	expect(sp, all, NR);
	st = stats(sp);
	ck_assert_uint_eq(st.points, points_of(all, NR));
	ck_assert_uint_eq(st.bytes, (uint64_t)file_size(seg_path(1)));
	ck_assert_uint_eq(st.checksum_failures + st.torn_tails, 0);
	/* appends go on in the same file */
	add_all(sp, 1, NULL);
	ck_assert_uint_eq(stats(sp).segments, 1);
	spool_close(sp);
	sp = open_spool(0);
	expect(sp, (const int[]){ 0, 1, 2, 3, 4, 0 }, 6);
	spool_close(sp);
}
END_TEST

START_TEST(test_unwritten_is_invisible)
{
	struct spool		*sp = open_spool(0);
	struct spool_cursor	*c = spool_cursor_new(sp);
	struct spool_record	 got;

	add(sp, &R[0], NULL);
	ck_assert_int_eq(spool_read(c, &got), 0);
	ck_assert_int_eq(spool_write(sp), 0);
	ck_assert_int_eq(spool_read(c, &got), 1);
	same(&got, &R[0]);
	ck_assert_int_eq(spool_read(c, &got), 0);
	add(sp, &R[1], NULL);
	ck_assert_int_eq(spool_write(sp), 0);
	ck_assert_int_eq(spool_read(c, &got), 1);
	same(&got, &R[1]);
	spool_cursor_free(c);
	spool_close(sp);
}
END_TEST

/* The last record cut after _i of its bytes, as a crash mid-write would. */
START_TEST(test_torn_tail)
{
	static const int	 before[] = { 0, 1, 2, 3 };
	struct spool		*sp = open_spool(0);
	struct spool_stats	 st;
	off_t			 whole;

	add_all(sp, NR, NULL);
	spool_close(sp);
	whole = file_size(seg_path(1));
	ck_assert_int_eq(truncate(seg_path(1), whole - LAST_SIZE + _i), 0);

	sp = open_spool(0);
	st = stats(sp);
	ck_assert_uint_eq(st.torn_tails, 1);
	ck_assert_uint_eq(st.checksum_failures, 0);
	ck_assert_uint_eq(st.points, points_of(before, 4));
	ck_assert_int_eq(file_size(seg_path(1)), whole - LAST_SIZE);
	expect(sp, before, 4);
	/* appends continue on whole records */
	add(sp, &R[4], NULL);
	spool_close(sp);
	sp = open_spool(0);
	expect(sp, (const int[]){ 0, 1, 2, 3, 4 }, NR);
	ck_assert_uint_eq(stats(sp).torn_tails, 0);
	spool_close(sp);
}
END_TEST

/* Byte _i of the middle record damaged: that record alone is lost. */
START_TEST(test_flipped_byte)
{
	static const int	 rest[] = { 0, 1, 3, 4 };
	struct spool_ref	 refs[NR];
	struct spool		*sp = open_spool(0);
	struct spool_stats	 st;

	add_all(sp, NR, refs);
	spool_close(sp);
	ck_assert_uint_eq(refs[3].offset - refs[2].offset, MID_SIZE);
	flip(seg_path(1), (off_t)refs[2].offset + _i);

	sp = open_spool(0);
	st = stats(sp);
	ck_assert_uint_eq(st.checksum_failures, 1);
	ck_assert_uint_eq(st.torn_tails, 0);
	ck_assert_uint_eq(st.points, points_of(rest, 4));
	expect(sp, rest, 4);
	spool_close(sp);
}
END_TEST

START_TEST(test_damaged_file_header)
{
	static const int	 all[] = { 0, 1, 2, 3, 4 };
	struct spool		*sp = open_spool(0);

	add_all(sp, NR, NULL);
	spool_close(sp);
	flip(seg_path(1), 3);
	sp = open_spool(0);
	ck_assert_uint_eq(stats(sp).checksum_failures, 1);
	expect(sp, all, NR);
	/* no appends to a file whose header is bad */
	add_all(sp, 1, NULL);
	ck_assert_int_gt(file_size(seg_path(2)), 0);
	spool_close(sp);
}
END_TEST

START_TEST(test_garbage_tail)
{
	static const int	 all[] = { 0, 1, 2, 3, 4 };
	static const char	 zeros[200];
	struct spool		*sp = open_spool(0);
	off_t			 whole;
	int			 fd;

	add_all(sp, NR, NULL);
	spool_close(sp);
	/* a power cut can leave zeroed blocks past the last write */
	whole = file_size(seg_path(1));
	fd = open(seg_path(1), O_WRONLY | O_APPEND);
	ck_assert_int_eq(write(fd, zeros, sizeof(zeros)), sizeof(zeros));
	close(fd);
	sp = open_spool(0);
	ck_assert_uint_eq(stats(sp).torn_tails, 1);
	ck_assert_int_eq(file_size(seg_path(1)), whole);
	expect(sp, all, NR);
	spool_close(sp);
}
END_TEST

START_TEST(test_newer_version_left_alone)
{
	char		 hdr[SEGMENT_HEADER_SIZE];
	struct spool	*sp = open_spool(0);
	uint32_t	 crc;
	int		 fd;

	spool_close(sp);
	segment_header_encode(hdr, 1);
	hdr[8] = 2;
	crc = crc32c(0, hdr, 28);
	memcpy(hdr + 28, &crc, 4);	/* the tests run little-endian */
	fd = open(seg_path(1), O_WRONLY | O_CREAT, 0600);
	ck_assert_int_eq(write(fd, hdr, sizeof(hdr)), sizeof(hdr));
	close(fd);
	sp = open_spool(0);
	ck_assert_uint_eq(stats(sp).segments, 0);
	add_all(sp, 1, NULL);
	expect(sp, (const int[]){ 0 }, 1);
	ck_assert_int_gt(file_size(seg_path(2)), 0);
	spool_close(sp);
	ck_assert_int_eq(file_size(seg_path(1)), SEGMENT_HEADER_SIZE);
}
END_TEST

/* Every record in a segment of its own (a segment holds at least one). */
START_TEST(test_rotation)
{
	static const int	 all[] = { 0, 1, 2, 3, 4 };
	struct spool_ref	 refs[NR];
	struct spool		*sp = open_spool(100);
	size_t			 i;

	add_all(sp, NR, refs);
	for (i = 0; i < NR; i++) {
		ck_assert_uint_eq(refs[i].segment, i + 1);
		ck_assert_uint_eq(refs[i].offset, SEGMENT_HEADER_SIZE);
		ck_assert_int_gt(file_size(seg_path(i + 1)), 0);
	}
	ck_assert_uint_eq(stats(sp).segments, NR);
	expect(sp, all, NR);
	spool_close(sp);
	sp = open_spool(100);
	expect(sp, all, NR);
	add_all(sp, 1, refs);
	ck_assert_uint_eq(refs[0].segment, NR + 1);
	spool_close(sp);
}
END_TEST

/* A cursor at the end of the newest segment follows it into the next. */
START_TEST(test_cursor_follows_rotation)
{
	struct spool		*sp = open_spool(250);
	struct spool_cursor	*c = spool_cursor_new(sp);
	struct spool_record	 got;
	size_t			 i;

	for (i = 0; i < NR; i++) {
		add_all(sp, 1, NULL);
		ck_assert_int_eq(spool_read(c, &got), 1);
		same(&got, &R[0]);
		ck_assert_int_eq(spool_read(c, &got), 0);
	}
	ck_assert_uint_gt(stats(sp).segments, 1);
	spool_cursor_free(c);
	spool_close(sp);
}
END_TEST

START_TEST(test_release_deletes)
{
	struct spool		*sp = open_spool(100);
	struct spool_cursor	*c;
	struct spool_record	 got;
	struct spool_stats	 st;
	size_t			 i;

	add_all(sp, NR, NULL);
	c = spool_cursor_new(sp);
	for (i = 0; i < NR; i++) {
		ck_assert_int_eq(spool_read(c, &got), 1);
		same(&got, &R[i]);
		ck_assert_int_eq(spool_release(sp, got.ref.segment,
		    got.npoints), 0);
		/* the newest stays, the others go at once */
		ck_assert_int_eq(file_size(seg_path(i + 1)),
		    i + 1 < NR ? -1 : (off_t)(SEGMENT_HEADER_SIZE + LAST_SIZE));
	}
	ck_assert_int_eq(spool_read(c, &got), 0);
	spool_cursor_free(c);
	st = stats(sp);
	ck_assert_uint_eq(st.points, 0);
	ck_assert_uint_eq(st.segments, 1);
	/* unknown segments and more than is live are refused */
	ck_assert_int_eq(spool_release(sp, 1, 1), -1);
	ck_assert_int_eq(spool_release(sp, NR, 1), -1);
	spool_close(sp);
	ck_assert_int_eq(file_size(seg_path(NR)), -1);
	/* after a restart, the newest (if full) goes too */
	sp = open_spool(100);
	add_all(sp, 2, NULL);
	spool_close(sp);
	sp = open_spool(100);
	ck_assert_int_eq(spool_release(sp, 2, R[1].n), 0);
	ck_assert_int_eq(file_size(seg_path(2)), -1);
	ck_assert_uint_eq(stats(sp).segments, 1);
	spool_close(sp);
}
END_TEST

/* A segment released in part stays; points released early count too. */
START_TEST(test_release_partial)
{
	struct spool		*sp = open_spool(0);
	struct spool_ref	 refs[NR];

	add_all(sp, 2, refs);
	ck_assert_int_eq(spool_release(sp, refs[1].segment, 1), 0);
	ck_assert_uint_eq(stats(sp).points, 2);
	spool_close(sp);
	sp = open_spool(0);
	/* the books are not on disk: every record comes back */
	ck_assert_uint_eq(stats(sp).points, 3);
	spool_close(sp);
}
END_TEST

START_TEST(test_drop_oldest)
{
	struct spool		*sp = open_spool(100);
	struct spool_cursor	*c = spool_cursor_new(sp);
	struct spool_record	 got;
	uint64_t		 seg;

	add_all(sp, NR, NULL);
	ck_assert_int_eq(spool_read(c, &got), 1);
	same(&got, &R[0]);
	ck_assert_int_eq(spool_read(c, &got), 1);
	same(&got, &R[1]);
	/* the cursor stands in segment 2, which goes */
	ck_assert_uint_eq(spool_drop_oldest_segment(sp, &seg), R[0].n);
	ck_assert_uint_eq(seg, 1);
	ck_assert_uint_eq(spool_drop_oldest_segment(sp, &seg), R[1].n);
	ck_assert_uint_eq(seg, 2);
	ck_assert_int_eq(file_size(seg_path(2)), -1);
	ck_assert_int_eq(spool_read(c, &got), 1);
	same(&got, &R[2]);
	spool_cursor_free(c);
	ck_assert_uint_eq(stats(sp).dropped_points, R[0].n + R[1].n);
	ck_assert_uint_eq(stats(sp).points, 3);
	expect(sp, (const int[]){ 2, 3, 4 }, 3);
	/* the newest one too, even with unwritten records */
	add(sp, &R[0], NULL);
	ck_assert_uint_eq(spool_drop_oldest_segment(sp, &seg), R[2].n);
	ck_assert_uint_eq(spool_drop_oldest_segment(sp, &seg), R[3].n);
	ck_assert_uint_eq(spool_drop_oldest_segment(sp, &seg), R[4].n);
	ck_assert_uint_eq(spool_drop_oldest_segment(sp, &seg), R[0].n);
	ck_assert_uint_eq(seg, 6);
	ck_assert_uint_eq(spool_drop_oldest_segment(sp, &seg), 0);
	ck_assert_int_eq(spool_write(sp), 0);
	ck_assert_uint_eq(stats(sp).points, 0);
	ck_assert_uint_eq(stats(sp).bytes, 0);
	add_all(sp, 1, NULL);
	expect(sp, (const int[]){ 0 }, 1);
	spool_close(sp);
}
END_TEST

START_TEST(test_full)
{
	struct spool_limits	 lim = { 100, 300 };
	struct spool		*sp;
	char			 err[256];
	uint64_t		 seg;

	sp = spool_open(tdir, "t", &lim, err, sizeof(err));
	ck_assert_ptr_nonnull(sp);
	ck_assert(!spool_full(sp, 200));
	add_all(sp, NR, NULL);
	ck_assert(spool_full(sp, 0));
	while (spool_full(sp, 0))
		ck_assert_uint_gt(spool_drop_oldest_segment(sp, &seg), 0);
	ck_assert_uint_le(stats(sp).bytes, 300);
	spool_close(sp);
}
END_TEST

START_TEST(test_seek)
{
	struct spool_ref	 refs[NR];
	struct spool		*sp = open_spool(150);
	struct spool_cursor	*c = spool_cursor_new(sp);
	struct spool_record	 got;
	size_t			 i, j;

	add_all(sp, NR, refs);
	for (i = 0; i < NR; i++) {
		spool_cursor_seek(c, &refs[i]);
		for (j = i; j < NR; j++) {
			ck_assert_int_eq(spool_read(c, &got), 1);
			same(&got, &R[j]);
			ck_assert_uint_eq(got.ref.segment, refs[j].segment);
			ck_assert_uint_eq(got.ref.offset, refs[j].offset);
		}
		ck_assert_int_eq(spool_read(c, &got), 0);
	}
	spool_cursor_free(c);
	spool_close(sp);
}
END_TEST

/* Writes with the file size limit at `limit`; restores it. */
static int
write_limited(struct spool *sp, rlim_t limit)
{
	int	 rc;

	scratch_limit_files(limit);
	rc = spool_write(sp);
	scratch_unlimit_files();
	return rc;
}

/* A full disk mid-record: the turn is taken back, the file stays whole. */
START_TEST(test_write_error)
{
	struct spool		*sp = open_spool(0);
	struct spool_stats	 st;
	off_t			 size;

	add_all(sp, 1, NULL);
	size = file_size(seg_path(1));
	add(sp, &R[1], NULL);
	add(sp, &R[2], NULL);
	ck_assert_int_eq(write_limited(sp, (rlim_t)size + 10), -1);
	ck_assert_int_eq(errno, EFBIG);
	ck_assert_int_eq(file_size(seg_path(1)), size);
	st = stats(sp);
	ck_assert_uint_eq(st.write_errors, 1);
	ck_assert_uint_eq(st.unwritten_points, R[1].n + R[2].n);
	ck_assert_uint_eq(st.points, R[0].n);
	ck_assert_uint_eq(st.bytes, (uint64_t)size);
	expect(sp, (const int[]){ 0 }, 1);
	/* the disk has room again */
	add_all(sp, 1, NULL);
	expect(sp, (const int[]){ 0, 0 }, 2);
	spool_close(sp);
	sp = open_spool(0);
	expect(sp, (const int[]){ 0, 0 }, 2);
	ck_assert_uint_eq(stats(sp).torn_tails + stats(sp).checksum_failures,
	    0);
	spool_close(sp);
}
END_TEST

/* A turn over two segments fails in the second: the first is cut back. */
START_TEST(test_write_error_across_segments)
{
	static char		 big[2000];
	struct spool		*sp = open_spool(300);
	struct spool_ref	 ref;
	struct spool_stats	 st;
	off_t			 size;

	memset(big, 'x', sizeof(big));
	memcpy(big, "m v=\"", 5);
	memcpy(big + sizeof(big) - 23, "\" 1700000000000000000\n", 23);
	add_all(sp, 1, NULL);
	size = file_size(seg_path(1));
	add(sp, &R[1], NULL);
	ck_assert_int_eq(spool_append(sp, "db", "", big, sizeof(big) - 1, 1,
	    &ref), 0);
	ck_assert_uint_eq(ref.segment, 2);
	ck_assert_int_eq(write_limited(sp, 400), -1);
	ck_assert_int_eq(file_size(seg_path(1)), size);
	ck_assert_int_eq(file_size(seg_path(2)), SEGMENT_HEADER_SIZE);
	st = stats(sp);
	ck_assert_uint_eq(st.points, R[0].n);
	ck_assert_uint_eq(st.unwritten_points, R[1].n + 1);
	expect(sp, (const int[]){ 0 }, 1);
	add_all(sp, 1, &ref);
	ck_assert_uint_eq(ref.segment, 2);
	expect(sp, (const int[]){ 0, 0 }, 2);
	spool_close(sp);
}
END_TEST

START_TEST(test_append_refused)
{
	struct spool		*sp = open_spool(0);
	struct spool_ref	 ref;
	char			 name[300];

	memset(name, 'd', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	ck_assert_int_eq(spool_append(sp, "db", "", "a v=1", 5, 1, &ref), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(spool_append(sp, "db", "", "a v=1\n", 6, 0, &ref),
	    -1);
	ck_assert_int_eq(spool_append(sp, "db", "", "a v=1\n", 6, 2, &ref),
	    -1);
	ck_assert_int_eq(spool_append(sp, "db", "", "", 0, 1, &ref), -1);
	ck_assert_int_eq(spool_append(sp, name, "", "a v=1\n", 6, 1, &ref),
	    -1);
	ck_assert_uint_eq(stats(sp).points, 0);
	spool_close(sp);
}
END_TEST

START_TEST(test_sync_wait)
{
	struct spool	*sp = open_spool(0);

	ck_assert_uint_eq(spool_sync_wait(sp, 1000, 5000), UINT64_MAX);
	ck_assert_int_eq(spool_sync(sp, 5000), 0);
	add_all(sp, 1, NULL);
	ck_assert_uint_eq(spool_sync_wait(sp, 1000, 5400), 600);
	ck_assert_uint_eq(spool_sync_wait(sp, 1000, 6000), 0);
	ck_assert_uint_eq(spool_sync_wait(sp, SPOOL_SYNC_ALWAYS, 5400), 0);
	ck_assert_uint_eq(spool_sync_wait(sp, SPOOL_SYNC_NEVER, 9000),
	    UINT64_MAX);
	ck_assert_int_eq(spool_sync(sp, 6000), 0);
	ck_assert_uint_eq(spool_sync_wait(sp, 1000, 9000), UINT64_MAX);
	spool_close(sp);
}
END_TEST

START_TEST(test_lock)
{
	struct spool_lock	*a, *b;
	char			 err[256] = "", want[64];

	a = spool_lock(tdir, err, sizeof(err));
	ck_assert_msg(a != NULL, "%s", err);
	b = spool_lock(tdir, err, sizeof(err));
	ck_assert_ptr_null(b);
	snprintf(want, sizeof(want), "(pid %ld)", (long)getpid());
	ck_assert_msg(strstr(err, want) != NULL && strstr(err, "in use"),
	    "%s", err);
	spool_unlock(a);
	b = spool_lock(tdir, err, sizeof(err));
	ck_assert_ptr_nonnull(b);
	spool_unlock(b);
	spool_unlock(NULL);
}
END_TEST

static const struct {
	const char	*name;
	const char	*dir;
} dirnames[] = {
	{ "local", "local" },
	{ "a.b_c-D9", "a.b_c-D9" },
	{ "a b", "a%20b" },
	{ "x/y", "x%2Fy" },
	{ "..", "%2E." },
	{ ".hidden", "%2Ehidden" },
	{ "../../etc", "%2E.%2F..%2Fetc" },
	{ "100%", "100%25" },
	{ "caf\xc3\xa9", "caf%C3%A9" },
	{ "", NULL },
};

START_TEST(test_dirname)
{
	char	*d = spool_dirname(dirnames[_i].name), *back;

	if (dirnames[_i].dir == NULL) {
		ck_assert_ptr_null(d);
		return;
	}
	ck_assert_str_eq(d, dirnames[_i].dir);
	back = spool_dirname_target(d);
	ck_assert_str_eq(back, dirnames[_i].name);
	free(back);
	free(d);
}
END_TEST

START_TEST(test_dirname_limits)
{
	static const char *const	 foreign[] = { "", ".x", "a b",
	    "%2f", "%41", "%", "%4", "%00", "x%2", "%2Ex%2e" };
	char				 name[300], *d;
	size_t				 i;

	memset(name, '/', 85);
	name[85] = '\0';
	d = spool_dirname(name);
	ck_assert_uint_eq(strlen(d), 255);
	free(d);
	name[85] = '/';
	name[86] = '\0';
	ck_assert_ptr_null(spool_dirname(name));
	memset(name, 'a', 256);
	name[256] = '\0';
	ck_assert_ptr_null(spool_dirname(name));
	for (i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++)
		ck_assert_msg(spool_dirname_target(foreign[i]) == NULL, "%s",
		    foreign[i]);
}
END_TEST

START_TEST(test_open_escapes_name)
{
	struct spool_limits	 lim = { 0, 0 };
	struct spool		*sp;
	char			 err[256], path[128];
	struct stat		 sb;

	sp = spool_open(tdir, "../x", &lim, err, sizeof(err));
	ck_assert_ptr_nonnull(sp);
	spool_close(sp);
	snprintf(path, sizeof(path), "%s/%%2E.%%2Fx", tdir);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert(S_ISDIR(sb.st_mode));
	ck_assert_uint_eq(sb.st_mode & 0777, 0700);
	ck_assert_ptr_null(spool_open(tdir, "", &lim, err, sizeof(err)));
}
END_TEST

/* Damage is logged once per file, with its name and offset. */
START_TEST(test_logged_once)
{
	struct spool_ref	 refs[NR];
	struct spool		*sp = open_spool(0);
	char			 log[4096], *line, *save;
	FILE			*f = tmpfile();
	int			 saved = dup(2), lines = 0;
	size_t			 n;

	add_all(sp, NR, refs);
	spool_close(sp);
	flip(seg_path(1), (off_t)refs[1].offset + 40);
	flip(seg_path(1), (off_t)refs[3].offset + 40);
	fflush(stderr);
	dup2(fileno(f), 2);
	sp = open_spool(0);
	expect(sp, (const int[]){ 0, 2, 4 }, 3);
	spool_close(sp);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	n = fread(log, 1, sizeof(log) - 1, f);
	log[n] = '\0';
	fclose(f);
	for (line = strtok_r(log, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		lines++;
		ck_assert_msg(strstr(line, "0000000000000001.seg") != NULL &&
		    strstr(line, "2 bad records") != NULL, "%s", line);
	}
	ck_assert_int_eq(lines, 1);
}
END_TEST

static Suite *
spool_suite(void)
{
	Suite	*s = suite_create("spool");
	TCase	*tc = tcase_create("spool");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_crc32c);
	tcase_add_test(tc, test_write_read_reopen);
	tcase_add_test(tc, test_unwritten_is_invisible);
	tcase_add_loop_test(tc, test_torn_tail, 1, LAST_SIZE);
	tcase_add_loop_test(tc, test_flipped_byte, 0, MID_SIZE);
	tcase_add_test(tc, test_damaged_file_header);
	tcase_add_test(tc, test_garbage_tail);
	tcase_add_test(tc, test_newer_version_left_alone);
	tcase_add_test(tc, test_rotation);
	tcase_add_test(tc, test_cursor_follows_rotation);
	tcase_add_test(tc, test_release_deletes);
	tcase_add_test(tc, test_release_partial);
	tcase_add_test(tc, test_drop_oldest);
	tcase_add_test(tc, test_full);
	tcase_add_test(tc, test_seek);
	tcase_add_test(tc, test_write_error);
	tcase_add_test(tc, test_write_error_across_segments);
	tcase_add_test(tc, test_append_refused);
	tcase_add_test(tc, test_sync_wait);
	tcase_add_test(tc, test_lock);
	tcase_add_loop_test(tc, test_dirname, 0,
	    sizeof(dirnames) / sizeof(dirnames[0]));
	tcase_add_test(tc, test_dirname_limits);
	tcase_add_test(tc, test_open_escapes_name);
	tcase_add_test(tc, test_logged_once);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(spool_suite)
