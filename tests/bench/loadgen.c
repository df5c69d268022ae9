/*
 * loadgen: writes N line-protocol lines to a relay's stream socket over
 * C parallel connections, as fast as the relay reads them.
 *
 *   loadgen SOCKET LINES CLIENTS [DATABASES]
 * prints "lines=N seconds=S" (the time until every client wrote all).
 * With DATABASES, line i carries a tag db=dbN (N = i % DATABASES), for a
 * relay routing on database_tag = db.
 * Lines have the shape of the benchmark line, with distinct
 * hosts and increasing timestamps so InfluxDB stores every one.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static long	 databases;	/* 0: no db tag */

/* The optional routing tag of line i. */
static const char *
db_tag(long i, char *buf, size_t size)
{
	if (databases == 0)
		return "";
	snprintf(buf, size, ",db=db%ld", i % databases);
	return buf;
}

/* Writes v's decimal digits, `width` of them (zero-padded), at p. */
static char *
put_digits(char *p, unsigned long long v, int width)
{
	int	 i;

	for (i = width - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
	return p + width;
}

/*
 * Line i, as snprintf("cpu,host=server%03ld,...%s ... %lld\n") would
 * write it, without snprintf's parsing: the generator shares the bench
 * machine's cores with the relay and the sink, so the less it spends
 * on a line the more the figures say about the relay.
 */
static size_t
format_line(char *buf, long i, const char *tag)
{
	static const char	 head[] = "cpu,host=server";
	static const char	 mid[] = ",region=eu-west,cpu=cpu1";
	static const char	 fields[] = " usage_user=7.5,usage_system=3.25,"
	    "usage_idle=11.125,procs=1i ";
	unsigned long long	 t = 1700000000000000000ULL + (unsigned long long)i;
	size_t			 taglen = strlen(tag);
	char			*p = buf;

	memcpy(p, head, sizeof(head) - 1);
	p = put_digits(p + sizeof(head) - 1, (unsigned long long)(i % 1000), 3);
	memcpy(p, mid, sizeof(mid) - 1);
	p += sizeof(mid) - 1;
	memcpy(p, tag, taglen);
	p += taglen;
	memcpy(p, fields, sizeof(fields) - 1);
	p = put_digits(p + sizeof(fields) - 1, t, 19);
	*p++ = '\n';
	return (size_t)(p - buf);
}

static int
client(const char *path, long first, long count)
{
	char			 tag[32];
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	static char		 buf[1 << 16];
	size_t			 len = 0;
	long			 i;
	int			 fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		perror(path);
		return 1;
	}
	for (i = first; i < first + count; i++) {
		len += format_line(buf + len, i, db_tag(i, tag, sizeof(tag)));
		if (len > sizeof(buf) - 256) {
			if (write_all(fd, buf, len) == -1)
				return 1;
			len = 0;
		}
	}
	if (write_all(fd, buf, len) == -1)
		return 1;
	close(fd);
	return 0;
}

int
main(int argc, char *argv[])
{
	long	 lines, clients, c, per;
	double	 start;
	int	 status, failed = 0;

	if (argc != 4 && argc != 5)
		return 2;
	databases = argc == 5 ? atol(argv[4]) : 0;
	lines = atol(argv[2]);
	clients = atol(argv[3]);
	per = lines / clients;
	start = now();
	for (c = 0; c < clients; c++)
		if (fork() == 0)
			_exit(client(argv[1], c * per, per));
	while (wait(&status) > 0)
		failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	printf("lines=%ld seconds=%.3f\n", per * clients, now() - start);
	return failed;
}
