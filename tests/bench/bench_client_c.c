/*
 * The C library's write rate: one thread builds POINTS points (3 tags,
 * 4 fields, a timestamp: the shape of bench_client_python.py) with
 * libinfluxrelay and sends them to the relay at SOCKET.  Prints the
 * points/s and the CPU time per point of this process.
 *
 * Usage: bench_client_c SOCKET POINTS
 */
#define _DEFAULT_SOURCE

#include <sys/resource.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "influx-relay.h"

static double
seconds(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
cpu_seconds(void)
{
	struct rusage	 ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

int
main(int argc, char *argv[])
{
	static char		 hosts[1000][16];
	struct influx_relay	*r;
	double			 t0, c0, took, cpu;
	long			 n, i, failed = 0;
	int			 rc;

	if (argc != 3) {
		fprintf(stderr, "usage: bench_client_c SOCKET POINTS\n");
		return 2;
	}
	n = atol(argv[2]);
	for (i = 0; i < 1000; i++)
		snprintf(hosts[i], sizeof(hosts[i]), "server%03ld", i);
	if ((r = influx_relay_open(argv[1], 5000, &rc)) == NULL || rc != 0) {
		fprintf(stderr, "open: %s\n", influx_relay_strerror(rc));
		return 1;
	}
	t0 = seconds();
	c0 = cpu_seconds();
	for (i = 0; i < n; i++) {
		influx_relay_begin(r, "bench", "cpu");
		influx_relay_tag(r, "host", hosts[i % 1000]);
		influx_relay_tag(r, "region", "eu-west");
		influx_relay_tag(r, "cpu", "cpu1");
		influx_relay_float(r, "usage_user", 7.5);
		influx_relay_float(r, "usage_system", 3.25);
		influx_relay_float(r, "usage_idle", 11.125);
		influx_relay_integer(r, "procs", 1);
		influx_relay_time(r, 1700000000000000000 + i);
		failed += influx_relay_end(r) != 0;
	}
	rc = influx_relay_close(r);
	took = seconds() - t0;
	cpu = cpu_seconds() - c0;
	printf("%ld points, %.0f points/s from one thread, %.0f ns CPU per "
	    "point, %ld refused, close: %s\n", n, n / took, cpu * 1e9 / n,
	    failed, influx_relay_strerror(rc));
	return failed || rc;
}
