/* The type map: entries, expiry, O(1) clearing, growth and its bound. */
#include "config.h"

#include <stdint.h>

#include "check_main.h"
#include "typemap.h"

START_TEST(test_put_get)
{
	struct typemap	*m = typemap_new(100);

	ck_assert_int_eq(typemap_get(m, 42, 0), PROTO_T_EMPTY);
	ck_assert(typemap_put(m, 42, PROTO_T_FLOAT, INT64_MAX));
	ck_assert(typemap_put(m, 0, PROTO_T_STRING, INT64_MAX));
	ck_assert_int_eq(typemap_get(m, 42, 0), PROTO_T_FLOAT);
	ck_assert_int_eq(typemap_get(m, 0, 0), PROTO_T_STRING);
	ck_assert(typemap_put(m, 42, PROTO_T_INTEGER, INT64_MAX));
	ck_assert_int_eq(typemap_get(m, 42, 0), PROTO_T_INTEGER);
	ck_assert_uint_eq(typemap_count(m), 2);
	typemap_free(m);
}
END_TEST

START_TEST(test_expiry)
{
	struct typemap	*m = typemap_new(100);

	ck_assert(typemap_put(m, 7, PROTO_T_BOOLEAN, 1000));
	ck_assert_int_eq(typemap_get(m, 7, 999), PROTO_T_BOOLEAN);
	ck_assert_int_eq(typemap_get(m, 7, 1000), PROTO_T_BOOLEAN);
	ck_assert_int_eq(typemap_get(m, 7, 1001), PROTO_T_EMPTY);
	typemap_free(m);
}
END_TEST

/* Colliding slots, growth past the first table, clearing, the bound. */
START_TEST(test_grow_clear_full)
{
	struct typemap	*m = typemap_new(1000);
	uint64_t	 i;

	/* multiples of 4096 share their low bits: all probe one slot */
	for (i = 0; i < 1000; i++)
		ck_assert(typemap_put(m, i * 4096, (enum proto_type)(1 + i % 5),
		    INT64_MAX));
	ck_assert(!typemap_put(m, 1u << 30, PROTO_T_FLOAT, INT64_MAX));
	ck_assert(typemap_put(m, 999 * 4096, PROTO_T_STRING, INT64_MAX));
	for (i = 0; i < 999; i++)
		ck_assert_int_eq(typemap_get(m, i * 4096, 0), 1 + i % 5);
	typemap_clear(m);
	ck_assert_uint_eq(typemap_count(m), 0);
	for (i = 0; i < 1000; i++)
		ck_assert_int_eq(typemap_get(m, i * 4096, 0), PROTO_T_EMPTY);
	ck_assert(typemap_put(m, 5, PROTO_T_FLOAT, INT64_MAX));
	ck_assert_int_eq(typemap_get(m, 5, 0), PROTO_T_FLOAT);
	typemap_free(m);
}
END_TEST

static Suite *
typemap_suite(void)
{
	Suite	*s = suite_create("typemap");
	TCase	*tc = tcase_create("map");

	tcase_add_test(tc, test_put_get);
	tcase_add_test(tc, test_expiry);
	tcase_add_test(tc, test_grow_clear_full);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(typemap_suite)
