/* Runs one unit-test suite: the shared main of every Check binary. */
#include "config.h"

#include <stdlib.h>

#include "check_main.h"

int
check_main(Suite *(*suite)(void))
{
	SRunner	*sr = srunner_create(suite());
	int	 failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
