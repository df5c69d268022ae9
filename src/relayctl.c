/*
 * influx-relayctl: talks to a running influx-relayd.
 *
 *   influx-relayctl [-j] [-i SECONDS] [-s CONTROL_SOCKET] COMMAND [ARG...]
 *	sends one command line to the control socket and prints the JSON
 *	line it answers; `stats` on a terminal is a readable report
 *	instead (report.c), with rates from two answers SECONDS apart;
 *   influx-relayctl send [-jv] [-s DATA_SOCKET]
 *	copies standard input to a stream data socket, asking the relay
 *	for a summary of what it accepted and rejected ("#relay
 *	reply=summary"), and fails if it rejected anything.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "report.h"

#define CONTROL_SOCKET	"/run/influx-relayd/control.sock"
#define DATA_SOCKET	"/run/influx-relayd/influx-relayd.sock"
#define REPLY_MAX	(64 * 1024)	/* a summary is about 2 KiB */
#define INTERVAL_MAX	3600.0

/* What the command line asked for. */
struct ctl_opts {
	const char	*sock;		/* -s, or NULL: the default */
	bool		 json;		/* -j */
	bool		 verbose;	/* -v */
	double		 interval;	/* -i */
};

static void
usage(FILE *out)
{
	fprintf(out, "usage: influx-relayctl [-j] [-i SECONDS] "
	    "[-s CONTROL_SOCKET] COMMAND [ARG...]\n"
	    "       influx-relayctl send [-jv] [-s DATA_SOCKET] < lines\n"
	    "       influx-relayctl -h | -V\n"
	    "commands: ping, stats, flush, reload, create-database TARGET DB,\n"
	    "          drop-database TARGET DB\n"
	    "  -s PATH        the control socket (default %s);\n"
	    "                 for send, the data socket (default %s)\n"
	    "  -j             stats: print the JSON answer even on a terminal\n"
	    "                 (as whenever stdout is not one);\n"
	    "                 send: print the relay's summary as JSON\n"
	    "  -i SECONDS     stats on a terminal: rates over this interval\n"
	    "                 (default 1; 0: averages since the daemon "
	    "started)\n"
	    "  -v             send: report the counts even if every line was "
	    "accepted\n"
	    "  -h, --help     this help\n"
	    "  -V, --version  print the version\n", CONTROL_SOCKET,
	    DATA_SOCKET);
}

static void __attribute__((noreturn))
usage_error(void)
{
	usage(stderr);
	exit(2);
}

static int
connect_unix(const char *path)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	int			 fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "influx-relayctl: %s: path too long\n", path);
		exit(1);
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "influx-relayctl: %s: %s%s\n", path,
		    strerror(errno), errno == EPROTOTYPE ? " (a datagram "
		    "listener: send needs a stream one, as only a stream can "
		    "be answered)" : "");
		exit(1);
	}
	return fd;
}

/* Writes everything; a relay that went away is an error, not SIGPIPE. */
static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = send(fd, p, len, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Reads the answer line, whatever its size (stats grows with the
 * queues); NULL on a read error or if the relay closed before the '\n'.
 */
static char *
read_answer(int fd, size_t *lenp)
{
	char	*buf = NULL, *p;
	size_t	 len = 0, size = 0;
	ssize_t	 n = 0;

	for (;;) {
		if (size - len < 4096) {
			size = size ? size * 2 : 65536;
			if ((p = realloc(buf, size)) == NULL) {
				n = -1;	/* errno is ENOMEM */
				break;
			}
			buf = p;
		}
		if ((n = read(fd, buf + len, size - len - 1)) == -1 &&
		    errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(buf + len - (size_t)n, '\n', (size_t)n) != NULL) {
			buf[len] = '\0';
			*lenp = len;
			return buf;
		}
	}
	if (n == -1)
		fprintf(stderr, "influx-relayctl: %s\n", strerror(errno));
	else
		fprintf(stderr, "influx-relayctl: incomplete answer (%zu "
		    "bytes)\n", len);
	free(buf);
	return NULL;
}

/* Sends `line` and returns the answer; NULL (said why) on failure. */
static char *
ask(int fd, const char *line, size_t *lenp)
{
	if (write_all(fd, line, strlen(line)) == -1) {
		fprintf(stderr, "influx-relayctl: %s\n", strerror(errno));
		return NULL;
	}
	return read_answer(fd, lenp);
}

static int
flush_stdout(void)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "influx-relayctl: stdout: %s\n",
		    strerror(errno));
		return 1;
	}
	return 0;
}

/* Every answer starts with its verdict. */
static bool
answer_ok(const char *answer)
{
	return strncmp(answer, "{\"ok\":true", 10) == 0;
}

static int
cmd_control(const char *path, int argc, char *argv[])
{
	char	 line[4096] = "", *answer;
	size_t	 len = 0;
	int	 i, ok, fd = connect_unix(path);

	for (i = 0; i < argc; i++) {
		len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s",
		    i ? " " : "", argv[i]);
		if (len + 2 > sizeof(line)) {
			fprintf(stderr, "influx-relayctl: command too long\n");
			return 1;
		}
	}
	strcat(line, "\n");
	answer = ask(fd, line, &len);
	close(fd);
	if (answer == NULL)
		return 1;
	fwrite(answer, 1, len, stdout);
	ok = answer_ok(answer);
	free(answer);
	return flush_stdout() || !ok;
}

static double
monotonic(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
sleep_seconds(double s)
{
	struct timespec	 ts;

	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* One stats answer, parsed; NULL (said why) if it is not a good one. */
static struct json *
ask_stats(int fd, double *when)
{
	struct json	*j;
	char		*answer;
	size_t		 len;

	if ((answer = ask(fd, "stats\n", &len)) == NULL)
		return NULL;
	*when = monotonic();
	if (!answer_ok(answer) || (j = json_parse(answer, len)) == NULL) {
		fprintf(stderr, "influx-relayctl: stats: %s", answer);
		free(answer);
		return NULL;
	}
	free(answer);
	return j;
}

/*
 * stats for a person: two answers `interval` seconds apart on one
 * connection, so rates are what happens now; with 0, one answer and
 * averages since the daemon started.
 */
static int
cmd_stats_report(const char *path, double interval)
{
	struct json	*first, *second = NULL;
	double		 t1, t2 = 0;
	int		 fd = connect_unix(path);

	if ((first = ask_stats(fd, &t1)) == NULL)
		return 1;
	if (interval > 0) {
		sleep_seconds(interval);
		if ((second = ask_stats(fd, &t2)) == NULL) {
			json_free(first);
			return 1;
		}
	}
	close(fd);
	if (second != NULL)
		report_stats(stdout, second, first, t2 - t1);
	else
		report_stats(stdout, first, NULL, 0);
	json_free(first);
	json_free(second);
	return flush_stdout();
}

/* Copies stdin to `fd`; -1 (errno set) if the relay stopped taking it. */
static int
copy_stdin(int fd)
{
	char	 buf[65536];
	ssize_t	 n;

	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			fprintf(stderr, "influx-relayctl: send: stdin: %s\n",
			    strerror(errno));
			exit(1);
		}
		if (write_all(fd, buf, (size_t)n) == -1)
			return -1;
	}
	return 0;
}

/* What the relay wrote back until it closed, at most REPLY_MAX bytes. */
static size_t
read_reply(int fd, char *buf, size_t size)
{
	size_t	 len = 0;
	ssize_t	 n;

	while (len < size - 1) {
		if ((n = read(fd, buf + len, size - 1 - len)) == -1 &&
		    errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return len;
}

/*
 * Is `s` a whole summary: every count, and the lines add up?  Anything
 * less (`{}`) says nothing about the lines, so it cannot mean success.
 */
static bool
send_summary_valid(const struct json *s)
{
	static const char	*const keys[] = {
		"lines", "accepted", "skipped", "rejected",
	};
	const struct json	*v;
	size_t			 i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if ((v = json_get(s, keys[i])) == NULL ||
		    v->type != JSON_NUMBER || v->text[0] == '-')
			return false;
	return json_get_uint(s, "lines") == json_get_uint(s, "accepted") +
	    json_get_uint(s, "skipped") + json_get_uint(s, "rejected");
}

/*
 * Says what the relay's summary says (also when every line was accepted
 * if `always`); 0 if it accepted every line.
 */
static int
send_report(const char *reply, size_t len, const struct ctl_opts *o,
    bool always)
{
	const char	*nl = memchr(reply, '\n', len);
	struct json	*s;
	int		 rc;

	if (nl == NULL || (s = json_parse(reply, (size_t)(nl - reply))) ==
	    NULL) {
		fprintf(stderr, "influx-relayctl: send: the relay closed the "
		    "connection without a summary\n");
		return 1;
	}
	if (!send_summary_valid(s)) {
		fprintf(stderr, "influx-relayctl: send: the relay's answer "
		    "is not a summary (its counts are missing or do not add "
		    "up)\n");
		json_free(s);
		return 1;
	}
	rc = json_get_uint(s, "rejected") > 0;
	if (o->json)
		fwrite(reply, 1, (size_t)(nl - reply) + 1, stdout);
	else if (rc || always)
		report_send(stderr, s);
	json_free(s);
	return flush_stdout() || rc;
}

/*
 * Copies stdin to the data socket, then half-closes: the relay reads to
 * the end, answers the summary it was asked for, and closes.
 */
static int
cmd_send(const struct ctl_opts *o)
{
	static const char	 ask_summary[] = "#relay reply=summary\n";
	char			*reply = malloc(REPLY_MAX);
	int			 fd, rc, err = 0;
	size_t			 len;

	if (reply == NULL) {
		fprintf(stderr, "influx-relayctl: %s\n", strerror(errno));
		return 1;
	}
	fd = connect_unix(o->sock != NULL ? o->sock : DATA_SOCKET);
	if (write_all(fd, ask_summary, sizeof(ask_summary) - 1) == -1 ||
	    copy_stdin(fd) == -1)
		err = errno;
	shutdown(fd, SHUT_WR);
	/* a relay that stopped reading (idle_timeout, shutdown) answers too */
	len = read_reply(fd, reply, REPLY_MAX);
	close(fd);
	/* cut short, the user needs to know how much the relay took */
	rc = send_report(reply, len, o, o->verbose || err != 0);
	if (err != 0)
		fprintf(stderr, "influx-relayctl: send: the relay stopped "
		    "reading: %s\n", strerror(err));
	free(reply);
	return rc || err != 0;
}

static const struct option	 ctl_longopts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static double
parse_interval(const char *s)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0) ||
	    v > INTERVAL_MAX) {
		fprintf(stderr, "influx-relayctl: -i %s: not a number of "
		    "seconds from 0 to %.0f\n", s, INTERVAL_MAX);
		exit(2);
	}
	return v;
}

/*
 * Options in `argv` (argv[0] is the program or the command); returns
 * the index of the first argument after them.  `allowed` limits them.
 */
static int
parse_opts(int argc, char *argv[], const char *allowed, struct ctl_opts *o)
{
	int	 ch;

	optind = 0;	/* glibc: start afresh, argv may be another array */
	while ((ch = getopt_long(argc, argv, allowed, ctl_longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 's':
			o->sock = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'i':
			o->interval = parse_interval(optarg);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("influx-relayctl %s\n", PACKAGE_VERSION);
			exit(0);
		default:
			usage_error();
		}
	}
	return optind;
}

int
main(int argc, char *argv[])
{
	struct ctl_opts	 o = { .interval = 1 };
	int		 n;

	if (argc > 1 && strcmp(argv[1], "send") == 0) {
		if (parse_opts(argc - 1, argv + 1, "+s:jvhV", &o) != argc - 1)
			usage_error();
		return cmd_send(&o);
	}
	n = parse_opts(argc, argv, "+s:ji:hV", &o);
	argc -= n;
	argv += n;
	if (argc == 0)
		usage_error();
	if (strcmp(argv[0], "stats") == 0) {
		/* `stats -j` too: its own options after it */
		if (parse_opts(argc, argv, "+ji:", &o) != argc)
			usage_error();
		if (!o.json && isatty(STDOUT_FILENO))
			return cmd_stats_report(o.sock != NULL ? o.sock :
			    CONTROL_SOCKET, o.interval);
		argc = 1;
	}
	return cmd_control(o.sock != NULL ? o.sock : CONTROL_SOCKET, argc,
	    argv);
}
