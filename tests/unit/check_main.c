/* Runs every unit-test suite; exit status for automake's test driver. */
#include "config.h"

#include <stdlib.h>

#include "suites.h"

int
main(void)
{
	SRunner	*sr = srunner_create(backoff_suite());
	int	 failed;

	srunner_add_suite(sr, batch_suite());
	srunner_add_suite(sr, conf_suite());
	srunner_add_suite(sr, frame_suite());
	srunner_add_suite(sr, hmap_suite());
	srunner_add_suite(sr, kv_suite());
	srunner_add_suite(sr, log_suite());
	srunner_add_suite(sr, loop_suite());
	srunner_add_suite(sr, conf_target_suite());
	srunner_add_suite(sr, delivery_suite());
	srunner_add_suite(sr, proto_suite());
	srunner_add_suite(sr, response_suite());
	srunner_add_suite(sr, route_suite());
	srunner_add_suite(sr, stamp_suite());
	srunner_add_suite(sr, stats_suite());
	srunner_add_suite(sr, typemap_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
