/*
 * The store over a real spool in a temporary directory: points kept with
 * memory come back after a restart and go once forgotten; points kept on
 * disk only are the ones loaded back, in order, after the turn's commit;
 * records follow the queues; spool_size's reclaim and drop_oldest count
 * what memory lacks; a failed write hands the disk-only points back and
 * leaves the memory ones as orphans.
 */
#include "config.h"

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "scratch.h"
#include "point.h"
#include "spool.h"
#include "store.h"

static const char	*tdir;

static void
setup(void)
{
	tdir = scratch_new("check_store");
}

static void
teardown(void)
{
	scratch_remove();
}

static struct store *
open_store(uint64_t max_bytes)
{
	struct store	*s;
	char		 err[256] = "";

	s = store_open(tdir, "t", max_bytes, SPOOL_SYNC_NEVER, err,
	    sizeof(err));
	ck_assert_msg(s != NULL, "store_open: %s", err);
	return s;
}

/* Point number `i`: "m v=Ii T" with T = 1700000000000000000 + i. */
static struct point *
pt(int i)
{
	static struct point	 p;
	static char		 body[64], tail[32];

	snprintf(body, sizeof(body), "m v=%di", i);
	snprintf(tail, sizeof(tail), " %lld\n", 1700000000000000000LL + i);
	p.body = body;
	p.blen = strlen(body);
	p.tail = tail;
	p.tlen = strlen(tail);
	return &p;
}

static void
no_back_cb(void *arg, const char *db, const char *rp, const char *line,
    size_t len)
{
	ck_abort_msg("a point came back: %.*s", (int)len, line);
}

/* The v of the point "m v=Ii T" in the `len` bytes at `line`. */
static int
value_of(const char *line, size_t len)
{
	char	 buf[64];
	int	 v;

	ck_assert_uint_lt(len, sizeof(buf));
	memcpy(buf, line, len);
	buf[len] = '\0';
	ck_assert_int_eq(sscanf(buf, "m v=%di", &v), 1);
	return v;
}

/* Loads every record; the values of v in order, their count in `n`. */
static int *
load_all(struct store *s, size_t *n, const char *db)
{
	static int		 v[100000];
	struct store_record	 rec;
	const char		*p, *end, *nl;

	*n = 0;
	while (store_load(s, &rec) == 1) {
		ck_assert_str_eq(rec.database, db);
		ck_assert_uint_ne(rec.ref, 0);
		end = rec.points + rec.len;
		for (p = rec.points; p < end; p = nl + 1) {
			nl = memchr(p, '\n', (size_t)(end - p));
			ck_assert_ptr_nonnull(nl);
			v[(*n)++] = value_of(p, (size_t)(nl - p));
		}
	}
	return v;
}

/* Kept with memory, written: they come back after a restart, in order. */
START_TEST(test_replay)
{
	struct store		*s = open_store(0);
	struct store_stats	 st;
	uint32_t		 ref;
	size_t			 n, i;
	int			*v;

	for (i = 0; i < 10; i++) {
		ref = store_keep(s, "db", "rp", pt((int)i));
		ck_assert_uint_ne(ref, 0);
	}
	store_commit(s, no_back_cb, NULL);
	ck_assert(!store_behind(s));
	store_close(s);
	s = open_store(0);
	store_stats(s, &st);
	ck_assert_uint_eq(st.recovered, 10);
	ck_assert(store_behind(s));
	ck_assert_uint_eq(store_unloaded(s), 10);
	v = load_all(s, &n, "db");
	ck_assert_uint_eq(n, 10);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(v[i], (int)i);
	ck_assert(!store_behind(s));
	ck_assert_uint_eq(store_unloaded(s), 0);
	store_close(s);
}
END_TEST

/* Forgotten points (delivered) are gone from disk. */
START_TEST(test_forget)
{
	struct store		*s = open_store(0);
	struct store_stats	 st;
	uint32_t		 ref = 0;
	int			 i;

	for (i = 0; i < 10; i++)
		ref = store_keep(s, "db", "", pt(i));
	store_commit(s, no_back_cb, NULL);
	store_forget(s, ref, 10);
	store_stats(s, &st);
	ck_assert_uint_eq(st.points, 0);
	store_close(s);
	s = open_store(0);
	store_stats(s, &st);
	ck_assert_uint_eq(st.recovered, 0);
	store_close(s);
}
END_TEST

/*
 * Disk-only points are loaded back, and only they, once their turn is
 * committed; the points memory holds are never loaded twice.
 */
START_TEST(test_keep_only)
{
	struct store	*s = open_store(0);
	size_t		 n, i;
	int		*v;

	for (i = 0; i < 3; i++)
		ck_assert_uint_ne(store_keep(s, "db", "", pt((int)i)), 0);
	for (i = 3; i < 8; i++)
		ck_assert(store_keep_only(s, "db", "", pt((int)i)));
	ck_assert(store_behind(s));
	ck_assert_uint_eq(store_unloaded(s), 5);
	load_all(s, &n, "db");
	ck_assert_uint_eq(n, 0);		/* not committed yet */
	store_commit(s, no_back_cb, NULL);
	v = load_all(s, &n, "db");
	ck_assert_uint_eq(n, 5);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(v[i], (int)i + 3);
	ck_assert(!store_behind(s));
	store_close(s);
}
END_TEST

/* A record holds points of one queue: a switch starts another. */
START_TEST(test_records_per_queue)
{
	struct store		*s = open_store(0);
	struct store_record	 rec;
	const char		*want[] = { "a", "b", "a" };
	const uint32_t		 npoints[] = { 2, 1, 3 };
	size_t			 i;

	store_keep(s, "a", "", pt(0));
	store_keep(s, "a", "", pt(1));
	store_keep(s, "b", "", pt(2));
	for (i = 3; i < 6; i++)
		store_keep(s, "a", "", pt((int)i));
	store_commit(s, no_back_cb, NULL);
	store_close(s);
	s = open_store(0);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(store_load(s, &rec), 1);
		ck_assert_str_eq(rec.database, want[i]);
		ck_assert_uint_eq(rec.npoints, npoints[i]);
	}
	ck_assert_int_eq(store_load(s, &rec), 0);
	store_close(s);
}
END_TEST

/*
 * spool_size: a segment whose points all wait in memory is reclaimed
 * for free; drop_oldest counts exactly the oldest segment's disk-only
 * points, and loading goes on from the next segment.
 */
START_TEST(test_spool_size)
{
	/* 512 KiB: segments of 64 KiB, about 1,800 points each */
	struct store	*s = open_store(512 * 1024);
	uint64_t	 lost, before;
	size_t		 n;
	int		*v, i;

	for (i = 0; i < 4000; i++)
		store_keep(s, "db", "", pt(i));
	store_commit(s, no_back_cb, NULL);
	/* all in memory: it goes for free, even without drop_oldest */
	ck_assert(store_drop_oldest(s, false, &lost));
	ck_assert_uint_eq(lost, 0);
	for (i = 4000; i < 12000; i++)
		if (!store_keep_only(s, "db", "", pt(i)))
			break;
	store_commit(s, no_back_cb, NULL);
	while (store_drop_oldest(s, false, &lost))
		ck_assert_uint_eq(lost, 0);	/* memory-only segments go */
	/* the next holds disk-only points: only drop_oldest takes it */
	ck_assert(!store_drop_oldest(s, false, &lost));
	before = store_unloaded(s);
	ck_assert(store_drop_oldest(s, true, &lost));
	ck_assert_uint_gt(lost, 0);
	ck_assert_uint_eq(store_unloaded(s), before - lost);
	v = load_all(s, &n, "db");
	ck_assert_uint_eq(n, before - lost);
	/* what is left is the newest disk-only points, in order */
	ck_assert_int_eq(v[n - 1], i - 1);
	ck_assert_int_eq(v[0], i - (int)n);
	store_close(s);
}
END_TEST

struct back {
	int	 n;
	int	 v[16];
};

static void
back_cb(void *arg, const char *db, const char *rp, const char *line,
    size_t len)
{
	struct back	*b = arg;

	ck_assert_str_eq(db, "db");
	b->v[b->n++] = value_of(line, len);
}

/*
 * A failed write (the file size limit: EFBIG, as a full disk gives
 * ENOSPC): the disk-only points come back, the memory ones are orphans
 * that forgetting consumes, and the store keeps nothing for a while.
 */
START_TEST(test_write_fails)
{
	struct store	*s = open_store(0);
	struct back	 b = { 0 };
	uint32_t	 ref;
	int		 i;

	ref = store_keep(s, "db", "", pt(0));
	store_keep(s, "db", "", pt(1));
	for (i = 2; i < 5; i++)
		ck_assert(store_keep_only(s, "db", "", pt(i)));
	scratch_limit_files(40);	/* less than the file header and more */
	store_commit(s, back_cb, &b);
	scratch_unlimit_files();
	ck_assert_int_eq(b.n, 3);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(b.v[i], i + 2);
	ck_assert(store_down(s));
	ck_assert_uint_eq(store_orphaned(s), 2);
	ck_assert(!store_behind(s));
	ck_assert_uint_eq(store_keep(s, "db", "", pt(9)), 0);
	ck_assert(!store_keep_only(s, "db", "", pt(9)));
	store_forget(s, ref, 2);
	ck_assert_uint_eq(store_orphaned(s), 0);
	store_close(s);
}
END_TEST

static Suite *
store_suite(void)
{
	Suite	*s = suite_create("store");
	TCase	*tc = tcase_create("store");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_replay);
	tcase_add_test(tc, test_forget);
	tcase_add_test(tc, test_keep_only);
	tcase_add_test(tc, test_records_per_queue);
	tcase_add_test(tc, test_spool_size);
	tcase_add_test(tc, test_write_fails);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(store_suite)
