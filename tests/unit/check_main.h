/*
 * The unit tests' shared main.  Each module has its own Check binary, so
 * `make check` reports each module on its own line and runs them in
 * parallel: tests/unit/check_<module>.c defines a static <module>_suite()
 * and ends with CHECK_MAIN(<module>_suite).
 */
#ifndef RELAYD_CHECK_MAIN_H
#define RELAYD_CHECK_MAIN_H

#include <check.h>

/*
 * Runs the suite `suite()` builds (CK_RUN_CASE, CK_VERBOSITY, CK_FORK
 * and the other environment variables of Check apply); returns the exit
 * status for automake's test driver.
 */
int	check_main(Suite *(*suite)(void));

#define CHECK_MAIN(suite)						\
int									\
main(void)								\
{									\
	return check_main(suite);					\
}

#endif
