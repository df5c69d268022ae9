/*
 * influx-relayctl: talks to a running influx-relayd.
 *
 *   influx-relayctl [-s CONTROL_SOCKET] COMMAND [ARG...]
 *	sends one command line to the control socket, prints the JSON
 *	line it answers;
 *   influx-relayctl send [-s DATA_SOCKET]
 *	copies standard input to a stream data socket.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CONTROL_SOCKET	"/run/influx-relayd/control.sock"
#define DATA_SOCKET	"/run/influx-relayd/influx-relayd.sock"

static void
usage(void)
{
	fprintf(stderr, "usage: influx-relayctl [-s CONTROL_SOCKET] COMMAND "
	    "[ARG...]\n"
	    "       influx-relayctl send [-s DATA_SOCKET] < lines\n"
	    "commands: ping, stats, flush, reload, create-database TARGET DB,"
	    " drop-database TARGET DB\n");
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
		fprintf(stderr, "influx-relayctl: %s: %s\n", path,
		    strerror(errno));
		exit(1);
	}
	return fd;
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

/* Copies stdin to the data socket, then half-closes so the relay sees EOF. */
static int
cmd_send(const char *path)
{
	char	 buf[65536];
	ssize_t	 n;
	int	 fd = connect_unix(path);

	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 || write_all(fd, buf, (size_t)n) == -1) {
			fprintf(stderr, "influx-relayctl: send: %s\n",
			    strerror(errno));
			return 1;
		}
	}
	shutdown(fd, SHUT_WR);
	/* wait for the relay to close: it has read everything by then */
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
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
	if (write_all(fd, line, strlen(line)) == -1) {
		fprintf(stderr, "influx-relayctl: %s\n", strerror(errno));
		return 1;
	}
	answer = read_answer(fd, &len);
	close(fd);
	if (answer == NULL)
		return 1;
	fwrite(answer, 1, len, stdout);
	/* every answer starts with its verdict */
	ok = strncmp(answer, "{\"ok\":true", 10) == 0;
	free(answer);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "influx-relayctl: stdout: %s\n",
		    strerror(errno));
		return 1;
	}
	return ok ? 0 : 1;
}

int
main(int argc, char *argv[])
{
	const char	*sock = NULL;
	int		 ch, sending;

	sending = argc > 1 && strcmp(argv[1], "send") == 0;
	if (sending) {
		argv++;
		argc--;
	}
	while ((ch = getopt(argc, argv, "+s:h")) != -1) {
		switch (ch) {
		case 's':
			sock = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (sending) {
		if (argc != 0)
			usage();
		return cmd_send(sock ? sock : DATA_SOCKET);
	}
	if (argc == 0)
		usage();
	return cmd_control(sock ? sock : CONTROL_SOCKET, argc, argv);
}
