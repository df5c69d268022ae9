/* The loop's scheduling: delivery events do not wait for every client. */
#include "config.h"

#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "check_main.h"
#include "loop.h"

#define RIG_CLIENTS	32
#define RIG_READ_US	200	/* the CPU one client's read costs */

struct rig {
	struct event_base	*base;
	int			 served;	/* client callbacks so far */
	int			 served_first;	/* ... when delivery ran */
};

static void
rig_spin(long us)
{
	struct timespec	 a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	do
		clock_gettime(CLOCK_MONOTONIC, &b);
	while ((b.tv_sec - a.tv_sec) * 1000000L +
	    (b.tv_nsec - a.tv_nsec) / 1000 < us);
}

/* A client that always has more to read (its byte is never taken). */
static void
rig_client_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rig	*r = arg;

	r->served++;
	rig_spin(RIG_READ_US);
}

static void
rig_delivery_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rig	*r = arg;

	r->served_first = r->served;
	event_base_loopbreak(r->base);
}

/*
 * RIG_CLIENTS readable clients and a delivery timer due in 2 ms: how many
 * client callbacks ran before the timer's.
 */
static int
rig_run(struct event_base *base)
{
	struct rig	 r = { base, 0, -1 };
	struct event	*ev[RIG_CLIENTS], *timer;
	struct timeval	 tv = { 0, 2000 };
	int		 sv[RIG_CLIENTS][2], i;

	for (i = 0; i < RIG_CLIENTS; i++) {
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]), 0);
		ck_assert_int_eq(write(sv[i][1], "x", 1), 1);
		ev[i] = event_new(base, sv[i][0], EV_READ | EV_PERSIST,
		    rig_client_cb, &r);
		loop_set_priority(ev[i], LOOP_PRI_INPUT);
		event_add(ev[i], NULL);
	}
	timer = evtimer_new(base, rig_delivery_cb, &r);
	loop_set_priority(timer, LOOP_PRI_DELIVERY);
	evtimer_add(timer, &tv);
	event_base_dispatch(base);
	for (i = 0; i < RIG_CLIENTS; i++) {
		event_free(ev[i]);
		close(sv[i][0]);
		close(sv[i][1]);
	}
	event_free(timer);
	event_base_free(base);
	return r.served_first;
}

START_TEST(test_delivery_waits_for_a_slice)
{
	/* 1 ms slices of 200 us reads: a handful, not every client */
	ck_assert_int_lt(rig_run(loop_base_new()), RIG_CLIENTS);
}
END_TEST

START_TEST(test_plain_base_serves_every_client_first)
{
	/* what the relay did before loop.c: the test above can fail */
	ck_assert_int_ge(rig_run(event_base_new()), RIG_CLIENTS);
}
END_TEST

START_TEST(test_priorities)
{
	struct event_base	*base = loop_base_new();
	struct event_base	*plain = event_base_new();
	struct event		*a = evtimer_new(base, rig_delivery_cb, NULL);
	struct event		*b = evtimer_new(plain, rig_delivery_cb, NULL);

	ck_assert_int_eq(event_base_get_npriorities(base), LOOP_NPRIORITIES);
	/* an event nobody placed sits between delivery and input */
	ck_assert_int_eq(event_get_priority(a), LOOP_PRI_DEFAULT);
	loop_set_priority(a, LOOP_PRI_INPUT);
	ck_assert_int_eq(event_get_priority(a), LOOP_PRI_INPUT);
	/* a base without our priorities keeps its one */
	loop_set_priority(b, LOOP_PRI_INPUT);
	ck_assert_int_eq(event_get_priority(b), 0);
	event_free(a);
	event_free(b);
	event_base_free(base);
	event_base_free(plain);
}
END_TEST

static Suite *
loop_suite(void)
{
	Suite	*s = suite_create("loop");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, test_delivery_waits_for_a_slice);
	tcase_add_test(tc, test_plain_base_serves_every_client_first);
	tcase_add_test(tc, test_priorities);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(loop_suite)
