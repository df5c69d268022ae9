/*
 * Line-protocol throughput on one core: frames a buffer of identical
 * lines with proto_line_end() and checks each with proto_parse(), then
 * also normalises it the way ingest does (time to ns, body plus
 * " TIMESTAMP\n" into an output buffer).  Prints MB/s of input and
 * lines/s, best of several rounds, and fails if anything was allocated
 * inside the timed loops.  Build and run: tests/bench/run.sh.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto.h"

#define BENCH_LINE "cpu,host=server001,region=eu-west,cpu=cpu1 " \
	"usage_user=7.5,usage_system=3.25,usage_idle=11.125,procs=1i " \
	"1700000000000001000"

static size_t	 bench_mallocs;

void	*__real_malloc(size_t);
void	*__wrap_malloc(size_t);

void *
__wrap_malloc(size_t n)
{
	bench_mallocs++;
	return __real_malloc(n);
}

static double
bench_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Frames and checks every line; returns the number of points. */
static size_t
bench_validate(const char *buf, size_t len)
{
	struct proto_point	 pt;
	const char		*p = buf, *end = buf + len, *nl;
	size_t			 n = 0;

	while ((nl = proto_line_end(p, (size_t)(end - p))) != NULL) {
		if (proto_parse(p, (size_t)(nl - p), &pt) != PROTO_OK)
			abort();
		n++;
		p = nl + 1;
	}
	return n;
}

/* As above, plus what ingest does with an accepted point. */
static size_t
bench_normalise(const char *buf, size_t len, char *out, size_t outlen)
{
	struct proto_point	 pt;
	const char		*p = buf, *end = buf + len, *nl;
	size_t			 n = 0, o = 0, tlen;
	int64_t			 ns;

	while ((nl = proto_line_end(p, (size_t)(end - p))) != NULL) {
		if (proto_parse(p, (size_t)(nl - p), &pt) != PROTO_OK ||
		    !proto_time_to_ns(pt.time, 1, &ns))
			abort();
		if (o + pt.body_len + 32 > outlen)
			o = 0;
		memcpy(out + o, pt.body, pt.body_len);
		o += pt.body_len;
		tlen = proto_format_tail(out + o, ns);
		o += tlen;
		n++;
		p = nl + 1;
	}
	return n;
}

int
main(int argc, char *argv[])
{
	static const char	 line[] = BENCH_LINE "\n";
	size_t			 nlines = 100000, len, i, n = 0, mallocs;
	int			 rounds = argc > 1 ? atoi(argv[1]) : 7, r;
	double			 t, best_v = 1e9, best_n = 1e9;
	char			*buf, *out;

	len = (sizeof(line) - 1) * nlines;
	if ((buf = malloc(len)) == NULL || (out = malloc(1 << 20)) == NULL)
		return 1;
	for (i = 0; i < nlines; i++)
		memcpy(buf + i * (sizeof(line) - 1), line, sizeof(line) - 1);
	mallocs = bench_mallocs;
	for (r = 0; r < rounds; r++) {
		t = bench_now();
		n += bench_validate(buf, len);
		if ((t = bench_now() - t) < best_v)
			best_v = t;
		t = bench_now();
		n += bench_normalise(buf, len, out, 1 << 20);
		if ((t = bench_now() - t) < best_n)
			best_n = t;
	}
	if (n != 2 * nlines * (size_t)rounds)
		return 1;
	printf("line: %zu bytes with newline, %zu lines per round, "
	    "best of %d\n", sizeof(line) - 1, nlines, rounds);
	printf("frame+validate:           %7.1f MB/s  %5.2f M lines/s\n",
	    len / best_v / 1e6, nlines / best_v / 1e6);
	printf("frame+validate+normalise: %7.1f MB/s  %5.2f M lines/s\n",
	    len / best_n / 1e6, nlines / best_n / 1e6);
	printf("heap allocations in the timed loops: %zu\n",
	    bench_mallocs - mallocs);
	free(buf);
	free(out);
	return bench_mallocs != mallocs;
}
