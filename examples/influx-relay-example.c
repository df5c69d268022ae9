/*
 * Sends points through influx-relayd with libinfluxrelay: one point per
 * interval, for each of the host's load averages, until COUNT rounds
 * are sent.  Build it against an installed library with
 *
 *	cc -o example influx-relay-example.c $(pkg-config --cflags --libs influx-relay)
 *
 * Usage: influx-relay-example [-s socket] [-d database] [-n count]
 *	      [-i interval_ms] [-t timeout_ms]
 */
#define _DEFAULT_SOURCE	/* getloadavg(), and POSIX under -std=c11 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "influx-relay.h"

static int64_t
now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One point: load,host=NAME,period=1m value=0.42,round=7i TIME */
static int
send_load(struct influx_relay *relay, const char *db, const char *host,
    const char *period, double load, long round)
{
	influx_relay_begin(relay, db, "load");
	influx_relay_tag(relay, "host", host);
	influx_relay_tag(relay, "period", period);
	influx_relay_float(relay, "value", load);
	influx_relay_integer(relay, "round", round);
	influx_relay_time(relay, now_ns());
	/* the first error of the point, if any: checking here is enough */
	return influx_relay_end(relay);
}

static void
usage(void)
{
	fprintf(stderr, "usage: influx-relay-example [-s socket] "
	    "[-d database] [-n count] [-i interval_ms] [-t timeout_ms]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	static const char *const periods[] = { "1m", "5m", "15m" };
	struct influx_relay	*relay;
	const char		*socket = NULL, *db = "example";
	char			 host[256];
	double			 loads[3];
	long			 count = 1, interval = 1000, round;
	int			 timeout = 1000, ch, rc, i, failed = 0;

	while ((ch = getopt(argc, argv, "d:i:n:s:t:")) != -1) {
		switch (ch) {
		case 'd': db = optarg; break;
		case 'i': interval = atol(optarg); break;
		case 'n': count = atol(optarg); break;
		case 's': socket = optarg; break;
		case 't': timeout = atoi(optarg); break;
		default: usage();
		}
	}
	if (gethostname(host, sizeof(host)) == -1)
		strcpy(host, "unknown");
	relay = influx_relay_open(socket, timeout, &rc);
	if (relay == NULL) {
		fprintf(stderr, "influx_relay_open: %s\n",
		    influx_relay_strerror(rc));
		return 1;
	}
	if (rc != 0)	/* not fatal: points wait in the buffer */
		fprintf(stderr, "relay: %s: %s (will retry)\n",
		    influx_relay_strerror(rc), strerror(errno));
	for (round = 1; round <= count; round++) {
		if (getloadavg(loads, 3) != 3)
			loads[0] = loads[1] = loads[2] = 0;
		for (i = 0; i < 3; i++)
			if ((rc = send_load(relay, db, host, periods[i],
			    loads[i], round)) != 0) {
				fprintf(stderr, "round %ld: point dropped: %s\n",
				    round, influx_relay_strerror(rc));
				failed++;
			}
		if ((rc = influx_relay_flush(relay)) != 0)
			fprintf(stderr, "round %ld: flush: %s (kept)\n", round,
			    influx_relay_strerror(rc));
		if (round < count)
			usleep((useconds_t)interval * 1000);
	}
	if ((rc = influx_relay_close(relay)) != 0) {
		fprintf(stderr, "close: %s: points lost\n",
		    influx_relay_strerror(rc));
		return 1;
	}
	return failed ? 1 : 0;
}
