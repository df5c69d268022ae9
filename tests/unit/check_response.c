/* The response table, row by row. */
#include "config.h"

#include <string.h>

#include "check_main.h"
#include "proto.h"
#include "response.h"

static const struct {
	long			 status;
	const char		*body;
	enum response_action	 want;
} rows[] = {
	{ 204, "", RESPONSE_DONE },
	{ 200, "", RESPONSE_DONE },
	{ 404, "{\"error\":\"database not found: \\\"x\\\"\"}",
	    RESPONSE_CREATE_DB },
	{ 404, "404 page not found", RESPONSE_CONFIG },
	{ 400, "{\"error\":\"unable to parse 'x': missing fields\"}",
	    RESPONSE_ISOLATE },
	{ 400, "{\"error\":\"partial write: field type conflict\"}",
	    RESPONSE_ISOLATE },
	{ 400, "{\"error\":\"field type conflict\"}", RESPONSE_ISOLATE },
	{ 400, "{\"error\":\"partial write: unable to parse 'x': missing "
	    "fields dropped=0\"}", RESPONSE_DROP },
	{ 422, "", RESPONSE_ISOLATE },
	{ 422, "{\"error\":\"partial write dropped=3\"}", RESPONSE_DROP },
	{ 413, "", RESPONSE_SPLIT },
	{ 500, "{\"error\":\"partial write: points beyond retention "
	    "policy dropped=1\"}", RESPONSE_DROP },
	{ 500, "{\"error\":\"field type conflict\"}", RESPONSE_ISOLATE },
	{ 500, "{\"error\":\"retention policy not found: x\"}",
	    RESPONSE_CONFIG },
	{ 500, "{\"error\":\"timeout\"}", RESPONSE_RETRY },
	{ 401, "", RESPONSE_CONFIG },
	{ 403, "", RESPONSE_CONFIG },
	{ 429, "", RESPONSE_RETRY },
	{ 503, "", RESPONSE_RETRY },
	{ 502, "", RESPONSE_RETRY },
	{ 0, NULL, RESPONSE_RETRY },
};

START_TEST(test_row)
{
	const char	*body = rows[_i].body;

	ck_assert_msg(response_classify(rows[_i].status, body,
	    body ? strlen(body) : 0) == rows[_i].want,
	    "status %ld body %s: got %s, want %s", rows[_i].status, body,
	    response_action_name(response_classify(rows[_i].status, body,
	    body ? strlen(body) : 0)), response_action_name(rows[_i].want));
}
END_TEST

static const struct {
	const char	*body;
	bool		 found;
	size_t		 n;
} drops[] = {
	{ "{\"error\":\"partial write: field type conflict: input field "
	    "\\\"v\\\" on measurement \\\"m\\\" is type float, already "
	    "exists as type integer dropped=1\"}", true, 1 },
	{ "{\"error\":\"partial write: points beyond retention policy "
	    "dropped=12\"}", true, 12 },
	{ "{\"error\":\"partial write: unable to parse 'm v= 3': missing "
	    "field value\\nunable to parse 'x': missing fields dropped=0\"}",
	    true, 2 },
	{ "{\"error\":\"unable to parse 'm': missing fields\"}", false, 0 },
	{ "{\"error\":\"partial write: dropped=x\"}", false, 0 },
};

START_TEST(test_dropped)
{
	size_t	 n = 999;
	bool	 found = response_dropped(drops[_i].body,
		    strlen(drops[_i].body), &n);

	ck_assert_int_eq(found, drops[_i].found);
	if (found)
		ck_assert_uint_eq(n, drops[_i].n);
}
END_TEST

/* The field a type conflict names, as a point with that field hashes. */
static const struct {
	const char	*body;
	bool		 found;
	const char	*point;		/* with the refused type */
	enum proto_type	 existing;
} conflicts[] = {
	{ "{\"error\":\"partial write: field type conflict: input field "
	    "\\\"f\\\" on measurement \\\"m\\\" is type float, already "
	    "exists as type integer dropped=1\"}", true, "m f=1.5",
	    PROTO_T_INTEGER },
	{ "{\"error\":\"partial write: field type conflict: input field "
	    "\\\"f y\\\" on measurement \\\"m x\\\" is type string, "
	    "already exists as type boolean dropped=2\"}", true,
	    "m\\ x,t=1 f\\ y=\"s\"", PROTO_T_BOOLEAN },
	{ "{\"error\":\"partial write: field type conflict: input field "
	    "\\\"f,g=h\\\" on measurement \\\"a,b\\\" is type integer, "
	    "already exists as type float dropped=1\"}", true,
	    "a\\,b f\\,g\\=h=1i", PROTO_T_FLOAT },
	{ "{\"error\":\"partial write: field type conflict: input field "
	    "\\\"f\\\" on measurement \\\"m\\\" is type float, already "
	    "exists as type nonsense dropped=1\"}", false, NULL, 0 },
	{ "{\"error\":\"field type conflict\"}", false, NULL, 0 },
	{ "{\"error\":\"partial write: field type conflict: input field "
	    "\\\"f", false, NULL, 0 },
};

START_TEST(test_conflict)
{
	struct response_conflict c;
	struct proto_point	 pt;
	const char		*body = conflicts[_i].body;
	bool			 found;

	found = response_type_conflict(body, strlen(body), &c);
	ck_assert_int_eq(found, conflicts[_i].found);
	if (!found)
		return;
	ck_assert_int_eq(proto_parse(conflicts[_i].point,
	    strlen(conflicts[_i].point), &pt), PROTO_OK);
	ck_assert_uint_eq(pt.nids, 1);
	proto_hash_ids(&pt);
	ck_assert_uint_eq(pt.ids[0].hash, c.hash);
	ck_assert_int_eq(pt.ids[0].type, c.input);
	ck_assert_int_eq(c.existing, conflicts[_i].existing);
}
END_TEST

static Suite *
response_suite(void)
{
	Suite	*s = suite_create("response");
	TCase	*tc = tcase_create("table");

	tcase_add_loop_test(tc, test_row, 0, sizeof(rows) / sizeof(rows[0]));
	tcase_add_loop_test(tc, test_dropped, 0,
	    sizeof(drops) / sizeof(drops[0]));
	tcase_add_loop_test(tc, test_conflict, 0,
	    sizeof(conflicts) / sizeof(conflicts[0]));
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(response_suite)
