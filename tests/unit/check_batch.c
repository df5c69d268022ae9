/* Batches and queues: cutting, ordering, splitting, dropping. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "check_main.h"
#include "point.h"
#include "proto.h"
#include "queue.h"

/* Batch bodies are not NUL-terminated: compare bytes. */
static bool
body_is(struct batch *b, const char *want)
{
	return b->bytes == strlen(want) &&
	    memcmp(batch_body(b), want, b->bytes) == 0;
}

/* What queue_check() says of a point (ids and shape as ingest gives). */
static enum queue_fit
fit_of(struct queue *q, const char *body, const char *tail)
{
	struct proto_point	 pt;
	struct point		 p = { .body = body, .blen = strlen(body),
				    .tail = tail, .tlen = strlen(tail),
				    .time = strtoll(tail, NULL, 10) };

	ck_assert_int_eq(proto_parse(body, strlen(body), &pt), PROTO_OK);
	p.fields = &pt;
	return queue_check(q, &p, 0);
}

/* Appends a point to `q` with its field ids, as ingest does. */
static bool
append(struct queue *q, const char *body, const char *tail)
{
	struct proto_point	 pt;
	struct point		 p = { .body = body, .blen = strlen(body),
				    .tail = tail, .tlen = strlen(tail),
				    .time = strtoll(tail, NULL, 10) };
	enum queue_fit		 fit;

	if (proto_parse(body, strlen(body), &pt) == PROTO_OK) {
		p.fields = &pt;
	}
	fit = queue_check(q, &p, 0);
	ck_assert_int_ne(fit, QUEUE_CONFLICT);
	return queue_append(q, &p, fit, 0);
}

static void
add_point(struct queue *q, int i)
{
	char	 body[32], tail[32];

	snprintf(body, sizeof(body), "m v=%d", i);
	snprintf(tail, sizeof(tail), " %d\n", i);
	append(q, body, tail);
}

START_TEST(test_batches_cut_at_batch_size)
{
	struct queue	*q = queue_new("db", "", 3, 1 << 20);
	struct batch	*b;
	int		 i;

	for (i = 0; i < 7; i++)
		add_point(q, i);
	ck_assert_uint_eq(queue_points(q), 7);
	b = queue_take(q);
	ck_assert_uint_eq(b->points, 3);
	ck_assert(body_is(b, "m v=0 0\nm v=1 1\nm v=2 2\n"));
	batch_free(b);
	b = queue_take(q);
	ck_assert_uint_eq(b->points, 3);
	batch_free(b);
	/* the last point is in the open batch until it is sealed */
	ck_assert_ptr_null(queue_take(q));
	queue_seal(q);
	b = queue_take(q);
	ck_assert_uint_eq(b->points, 1);
	ck_assert_uint_eq(queue_points(q), 0);
	ck_assert_uint_eq(queue_bytes(q), 0);
	batch_free(b);
	queue_free(q);
}
END_TEST

START_TEST(test_batches_cut_at_batch_bytes)
{
	struct queue	*q = queue_new("db", "", 1000, 20);
	struct batch	*b;

	add_point(q, 1);	/* 10 bytes */
	add_point(q, 2);	/* 20: full, sealed */
	add_point(q, 3);
	b = queue_take(q);
	ck_assert_uint_eq(b->points, 2);
	ck_assert_uint_le(b->bytes, 20);
	batch_free(b);
	queue_free(q);
}
END_TEST

START_TEST(test_putback_keeps_order)
{
	struct queue	*q = queue_new("db", "", 2, 1 << 20);
	struct batch	*b;

	add_point(q, 1);
	add_point(q, 2);
	add_point(q, 3);
	add_point(q, 4);
	b = queue_take(q);
	queue_putback(q, b);
	ck_assert_uint_eq(queue_points(q), 4);
	b = queue_take(q);
	ck_assert(body_is(b, "m v=1 1\nm v=2 2\n"));
	batch_free(b);
	queue_free(q);
}
END_TEST

START_TEST(test_split_halves)
{
	struct queue	*q = queue_new("db", "", 5, 1 << 20);
	struct batch	*b, *second;
	int		 i;

	for (i = 0; i < 5; i++)
		add_point(q, i);
	b = queue_take(q);
	second = batch_split(b);
	ck_assert_ptr_nonnull(second);
	ck_assert_uint_eq(b->points + second->points, 5);
	ck_assert_uint_ge(b->points, 2);
	ck_assert_uint_ge(second->points, 2);
	ck_assert_uint_eq(b->bytes + second->bytes, 5 * 8);
	ck_assert(body_is(b, "m v=0 0\nm v=1 1\nm v=2 2\n"));
	ck_assert(body_is(second, "m v=3 3\nm v=4 4\n"));
	/* down to single points, then no more splitting */
	batch_free(second);
	second = batch_split(b);
	ck_assert_uint_eq(b->points, 2);
	ck_assert_uint_eq(second->points, 1);
	batch_free(second);
	second = batch_split(b);
	batch_free(second);
	ck_assert_ptr_null(batch_split(b));
	batch_free(b);
	queue_free(q);
}
END_TEST

START_TEST(test_drop_oldest)
{
	uint32_t	 ref;
	struct queue	*q = queue_new("db", "", 2, 1 << 20);
	struct batch	*b;

	add_point(q, 1);
	add_point(q, 2);
	add_point(q, 3);
	ck_assert_uint_eq(queue_drop_oldest(q, &ref), 8);
	ck_assert_uint_eq(queue_drop_oldest(q, &ref), 8);
	ck_assert_uint_eq(queue_points(q), 1);
	queue_seal(q);
	b = queue_take(q);
	ck_assert(body_is(b, "m v=3 3\n"));
	batch_free(b);
	ck_assert_uint_eq(queue_drop_oldest(q, &ref), 0);
	queue_free(q);
}
END_TEST

/* Points with '\n' inside string fields: sizes, not newlines, count. */
START_TEST(test_embedded_newlines)
{
	struct queue	*q = queue_new("db", "", 10, 1 << 20);
	struct batch	*b, *second;
	static const char *const pts[] = {
		"m s=\"line1\nline2\"", "m v=2i", "m s=\"a\nb\nc\"", "m v=4i",
	};
	size_t		 i;

	for (i = 0; i < 4; i++)
		append(q, pts[i], " 1\n");
	queue_seal(q);
	b = queue_take(q);
	ck_assert_uint_eq(b->points, 4);
	second = batch_split(b);
	ck_assert_uint_eq(b->points + second->points, 4);
	ck_assert(body_is(b, "m s=\"line1\nline2\" 1\nm v=2i 1\n"));
	ck_assert(body_is(second, "m s=\"a\nb\nc\" 1\nm v=4i 1\n"));
	ck_assert_uint_eq(batch_drop_first(b, ORIGIN_DROPPED_OVERFLOW), strlen(pts[0]) + 3);
	ck_assert(body_is(b, "m v=2i 1\n"));
	ck_assert_uint_eq(b->points, 1);
	ck_assert_uint_eq(batch_drop_first(second, ORIGIN_DROPPED_OVERFLOW), strlen(pts[2]) + 3);
	ck_assert(body_is(second, "m v=4i 1\n"));
	ck_assert_uint_eq(batch_drop_first(second, ORIGIN_DROPPED_OVERFLOW), 9);
	ck_assert_uint_eq(second->points, 0);
	ck_assert_uint_eq(second->bytes, 0);
	ck_assert_uint_eq(batch_drop_first(second, ORIGIN_DROPPED_OVERFLOW), 0);
	batch_free(b);
	batch_free(second);
	queue_free(q);
}
END_TEST

/* A reload's new limits: later points use them, a full open batch seals. */
START_TEST(test_set_limits)
{
	struct queue	*q = queue_new("db", "", 100, 1 << 20);
	struct batch	*b;
	int		 i;

	for (i = 0; i < 5; i++)
		add_point(q, i);
	ck_assert(!queue_ready(q));
	/* more room: the open batch stays open */
	ck_assert(!queue_set_limits(q, 200, 1 << 20));
	ck_assert(!queue_ready(q));
	/* the open batch is past the new batch_size: closed, whole */
	ck_assert(queue_set_limits(q, 2, 1 << 20));
	ck_assert(queue_ready(q));
	for (i = 5; i < 9; i++)
		add_point(q, i);
	b = queue_take(q);
	ck_assert_uint_eq(b->points, 5);
	batch_free(b);
	b = queue_take(q);
	ck_assert_uint_eq(b->points, 2);
	ck_assert(body_is(b, "m v=5 5\nm v=6 6\n"));
	batch_free(b);
	/* batch_bytes lowered to what the open batch holds (8 bytes) */
	add_point(q, 9);
	ck_assert(queue_set_limits(q, 100, 8));
	ck_assert(!queue_set_limits(q, 100, 8));
	b = queue_take(q);
	ck_assert_uint_eq(b->points, 2);
	batch_free(b);
	b = queue_take(q);
	ck_assert(body_is(b, "m v=9 9\n"));
	batch_free(b);
	ck_assert(!queue_set_limits(q, 1, 1));	/* nothing open */
	queue_free(q);
}
END_TEST

/* Many appends and drops: the size records stay in step with the bytes. */
START_TEST(test_sizes_reuse_room)
{
	struct batch	*b = batch_new();
	size_t		 i, total = 0;

	for (i = 0; i < 1000; i++) {
		batch_append(b, &(struct point){ .body = "m v=1i", .blen = 6,
		    .tail = "\n", .tlen = 1 });
		total += 7;
		if (i % 3 == 0)
			total -= batch_drop_first(b, ORIGIN_DROPPED_OVERFLOW);
	}
	ck_assert_uint_eq(b->bytes, total);
	ck_assert_uint_eq(b->points, total / 7);
	while (batch_drop_first(b, ORIGIN_DROPPED_OVERFLOW) == 7)
		;
	ck_assert_uint_eq(b->points, 0);
	batch_free(b);
}
END_TEST

/*
 * Interleaved shapes: a known shape takes the fast path, a field given
 * another type still cuts, and after the cut the new batch knows only
 * the new types.
 */
/* A batch of one point, line `body` and tail `tail`. */
static struct batch *
one_point(const char *body, const char *tail)
{
	struct batch	*b = batch_new();

	batch_append(b, &(struct point){ .body = body, .blen = strlen(body),
	    .tail = tail, .tlen = strlen(tail) });
	return b;
}

/* Which pairs of points are one point written twice (series and time). */
static const struct {
	const char	*a, *ta, *b, *tb;
	bool		 overlap;
} overlaps[] = {
	{ "m,h=a v=1i", " 5\n", "m,h=a v=2i", " 5\n", true },
	{ "m,h=a v=1i", " 5\n", "m,h=a v=1i", " 6\n", false },
	{ "m,h=a v=1i", " 5\n", "m,h=b v=1i", " 5\n", false },
	{ "m,h=a v=1i", " 5\n", "n,h=a v=1i", " 5\n", false },
	{ "  m,h=a v=1i", " 5\n", "m,h=a w=1i", " 5\n", true },
	{ "m\\ x,h=a v=1i", " 5\n", "m\\ x,h=a v=\"a b\"", " 5\n", true },
	{ "m\\ x,h=a v=1i", " 5\n", "m\\ y,h=a v=1i", " 5\n", false },
	{ "m s=\"x 5\"", " 7\n", "m s=\"y\"", " 5\n", false },
	{ "m s=\"x 5\"", " 7\n", "m t=1", " 7\n", true },
};

START_TEST(test_overlaps)
{
	struct batch	*a = one_point(overlaps[_i].a, overlaps[_i].ta);
	struct batch	*b = one_point(overlaps[_i].b, overlaps[_i].tb);
	struct batch	*c = one_point("other v=1", " 1\n");
	struct batch	*both[2] = { c, a };

	ck_assert_int_eq(batch_must_follow(b, &a, 1), overlaps[_i].overlap);
	ck_assert_int_eq(batch_must_follow(b, both, 2), overlaps[_i].overlap);
	ck_assert(!batch_must_follow(b, &c, 1));
	ck_assert(!batch_must_follow(b, NULL, 0));
	batch_free(a);
	batch_free(b);
	batch_free(c);
}
END_TEST

/* A field typed one way in flight holds back a batch typing it another. */
START_TEST(test_must_follow_types)
{
	struct batch	*a = one_point("m v=1", " 1\n");
	struct batch	*b = one_point("m v=2i", " 2\n");

	ck_assert(!batch_must_follow(b, &a, 1));
	batch_note_type(a, 42, PROTO_T_FLOAT);
	batch_note_type(b, 42, PROTO_T_FLOAT);
	batch_note_type(b, 43, PROTO_T_STRING);
	ck_assert(!batch_must_follow(b, &a, 1));
	batch_note_type(b, 42, PROTO_T_INTEGER);
	ck_assert(batch_must_follow(b, &a, 1));
	ck_assert(batch_must_follow(a, &b, 1));
	batch_free(b);
	b = one_point("m v=2i", " 2\n");
	b->untyped = true;
	ck_assert(batch_must_follow(b, &a, 1));
	ck_assert(batch_must_follow(a, &b, 1));
	batch_free(a);
	batch_free(b);
}
END_TEST

START_TEST(test_type_cuts_with_shapes)
{
	struct queue	*q = queue_new("db", "", 100, 1 << 20);
	struct batch	*b;

	append(q, "m f=1i,g=1i", " 1\n");
	append(q, "n h=true", " 2\n");
	append(q, "m f=2i,g=2i", " 3\n");
	ck_assert_int_eq(fit_of(q, "n h=false", " 4\n"), QUEUE_FITS);
	ck_assert_int_eq(fit_of(q, "m f=1.5", " 5\n"), QUEUE_CUTS);
	ck_assert_int_eq(fit_of(q, "m g=1.5,f=1i", " 5\n"), QUEUE_CUTS);
	ck_assert_int_eq(fit_of(q, "m g=1i,f=1i", " 5\n"), QUEUE_FITS);
	append(q, "m f=1.5", " 5\n");		/* cuts */
	ck_assert(queue_ready(q));
	ck_assert_int_eq(fit_of(q, "m f=2.5", " 6\n"), QUEUE_FITS);
	ck_assert_int_eq(fit_of(q, "m f=1i,g=1i", " 6\n"), QUEUE_CUTS);
	ck_assert_int_eq(fit_of(q, "n h=1i", " 6\n"), QUEUE_FITS);
	b = queue_take(q);
	ck_assert_uint_eq(b->points, 3);
	batch_free(b);
	queue_free(q);
}
END_TEST

/* A type the server named conflicts in the same hour only. */
START_TEST(test_known_types_per_hour)
{
	struct queue	*q = queue_new("db", "", 100, 1 << 20);
	struct proto_point pt;
	const int64_t	 hour = 3600 * 1000000000LL;

	ck_assert_int_eq(proto_parse("m f=1i", 6, &pt), PROTO_OK);
	proto_hash_ids(&pt);
	queue_learn_type(q, pt.ids[0].hash, 10 * hour + 5, PROTO_T_INTEGER,
	    INT64_MAX);
	ck_assert_int_eq(fit_of(q, "m f=1.5", " 36000000000001\n"),
	    QUEUE_CONFLICT);
	ck_assert_int_eq(fit_of(q, "m f=2i", " 36000000000001\n"),
	    QUEUE_FITS);
	ck_assert_int_eq(fit_of(q, "m f=1.5", " 39600000000001\n"),
	    QUEUE_FITS);
	ck_assert_int_eq(fit_of(q, "m g=1.5", " 36000000000001\n"),
	    QUEUE_FITS);
	queue_free(q);
}
END_TEST

static Suite *
batch_suite(void)
{
	Suite	*s = suite_create("batch");
	TCase	*tc = tcase_create("queue");

	tcase_add_test(tc, test_batches_cut_at_batch_size);
	tcase_add_test(tc, test_batches_cut_at_batch_bytes);
	tcase_add_test(tc, test_putback_keeps_order);
	tcase_add_test(tc, test_split_halves);
	tcase_add_test(tc, test_drop_oldest);
	tcase_add_test(tc, test_embedded_newlines);
	tcase_add_test(tc, test_sizes_reuse_room);
	tcase_add_test(tc, test_set_limits);
	tcase_add_test(tc, test_must_follow_types);
	tcase_add_test(tc, test_type_cuts_with_shapes);
	tcase_add_loop_test(tc, test_overlaps, 0,
	    sizeof(overlaps) / sizeof(overlaps[0]));
	tcase_add_test(tc, test_known_types_per_hour);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(batch_suite)
