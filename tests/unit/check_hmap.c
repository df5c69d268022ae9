/* The hash map: finds, colliding hashes, removal without tombstones. */
#include "config.h"

#include <stdint.h>

#include "check_main.h"
#include "hmap.h"

#define N	5000

static int	 items[N];

static bool
is(const void *item, const void *key)
{
	return item == key;
}

/* Few distinct hashes: long probe runs that removals must keep whole. */
static uint64_t
hash_of(int i)
{
	return (uint64_t)(i % 37) * 0x9e3779b97f4a7c15ULL;
}

START_TEST(test_insert_find_remove)
{
	struct hmap	*m = hmap_new();
	int		 i;

	for (i = 0; i < N; i++)
		hmap_insert(m, hash_of(i), &items[i]);
	ck_assert_uint_eq(hmap_count(m), N);
	for (i = 0; i < N; i++)
		ck_assert_ptr_eq(hmap_find(m, hash_of(i), is, &items[i]),
		    &items[i]);
	/* remove every other one: the rest must still be found */
	for (i = 0; i < N; i += 2)
		hmap_remove(m, hash_of(i), &items[i]);
	ck_assert_uint_eq(hmap_count(m), N / 2);
	for (i = 0; i < N; i++)
		ck_assert_ptr_eq(hmap_find(m, hash_of(i), is, &items[i]),
		    i % 2 ? &items[i] : NULL);
	for (i = 1; i < N; i += 2)
		hmap_remove(m, hash_of(i), &items[i]);
	ck_assert_uint_eq(hmap_count(m), 0);
	ck_assert_ptr_null(hmap_find(m, hash_of(1), is, &items[1]));
	hmap_insert(m, 7, &items[0]);
	ck_assert_ptr_eq(hmap_find(m, 7, is, &items[0]), &items[0]);
	hmap_free(m);
}
END_TEST

START_TEST(test_string_hash)
{
	ck_assert_uint_ne(hmap_hash_str(0, "db"), hmap_hash_str(0, "dc"));
	ck_assert_uint_ne(hmap_hash_str(hmap_hash_str(0, "a"), "bc"),
	    hmap_hash_str(hmap_hash_str(0, "ab"), "c"));
	ck_assert_uint_eq(hmap_hash_str(3, "x"), hmap_hash_str(3, "x"));
}
END_TEST

static Suite *
hmap_suite(void)
{
	Suite	*s = suite_create("hmap");
	TCase	*tc = tcase_create("map");

	tcase_add_test(tc, test_insert_find_remove);
	tcase_add_test(tc, test_string_hash);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(hmap_suite)
