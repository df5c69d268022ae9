/* Every Check suite of the unit tests, run by check_main.c. */
#ifndef RELAYD_SUITES_H
#define RELAYD_SUITES_H

#include <check.h>

Suite	*backoff_suite(void);
Suite	*batch_suite(void);
Suite	*conf_suite(void);
Suite	*frame_suite(void);
Suite	*hmap_suite(void);
Suite	*kv_suite(void);
Suite	*log_suite(void);
Suite	*loop_suite(void);
Suite	*conf_target_suite(void);
Suite	*delivery_suite(void);
Suite	*proto_suite(void);
Suite	*response_suite(void);
Suite	*route_suite(void);
Suite	*stamp_suite(void);
Suite	*stats_suite(void);
Suite	*typemap_suite(void);

#endif
