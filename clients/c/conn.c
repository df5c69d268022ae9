/*
 * The client's connection to the relay and its buffer: opening, sending
 * complete lines within the caller's timeout, starting again after the
 * relay restarted (and after fork()), and making room for points.
 *
 * The socket is non-blocking and every wait is a poll() bounded by the
 * deadline of the call, so no call blocks longer than the timeout.
 * Lines the socket took are forgotten only once the line is whole on
 * the relay's side; a line cut by a broken connection is sent again
 * whole on the next one, after the routing directive in force where it
 * starts.  Each connection starts with "#relay partial=reject": when
 * the client closes (or dies) while the socket holds part of a line,
 * the relay refuses that part as cut instead of storing it truncated.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

/* After a failed flush, points are only buffered for this long. */
#define CONN_RETRY_MS	1000
/* Sending a line the socket cut: it is whole again after a restart. */
#define CONN_BROKEN	(-1)

/*
 * Bumped in each child fork() makes, so that a client can tell it was
 * inherited without a getpid() call per point.
 */
static unsigned		 conn_forks;
static pthread_once_t	 conn_forks_once = PTHREAD_ONCE_INIT;

static void
conn_forked(void)
{
	conn_forks++;
}

static void
conn_watch_forks(void)
{
	(void)pthread_atfork(NULL, NULL, conn_forked);
}

static int64_t
conn_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The deadline of a call that starts now; -1: none. */
static int64_t
conn_deadline(const struct influx_relay *r)
{
	return r->timeout_ms < 0 ? -1 : conn_now_ms() + r->timeout_ms;
}

/* Milliseconds left until `deadline` for poll(); -1: no limit. */
static int
conn_left(int64_t deadline)
{
	int64_t	 left;

	if (deadline < 0)
		return -1;
	left = deadline - conn_now_ms();
	return left > 0 ? (int)left : 0;
}

static void
conn_close(struct influx_relay *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	r->fresh = false;
}

/*
 * Connects to the relay.  A listener whose backlog is full answers
 * EAGAIN, and a UNIX socket gives no event for "try again": retry
 * briefly until the deadline.
 */
static int
conn_connect(struct influx_relay *r, int64_t deadline)
{
	struct sockaddr_un	 sun;
	int			 fd, left;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, r->path, sizeof(sun.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return INFLUX_RELAY_ECONNECT;
	while (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN || (left = conn_left(deadline)) == 0) {
			int	 saved = errno;

			close(fd);
			errno = saved;
			return errno == EAGAIN ? INFLUX_RELAY_ETIMEOUT :
			    INFLUX_RELAY_ECONNECT;
		}
		(void)poll(NULL, 0, left < 0 || left > 10 ? 10 : left);
	}
	r->fd = fd;
	r->fresh = true;
	return INFLUX_RELAY_OK;
}

/*
 * Writes `len` bytes until the deadline; *sent says how many went.
 * Returns 0, INFLUX_RELAY_ETIMEOUT, CONN_BROKEN (the relay went away)
 * or INFLUX_RELAY_EIO.
 */
static int
conn_write(struct influx_relay *r, const char *p, size_t len,
    int64_t deadline, size_t *sent)
{
	struct pollfd	 pfd = { .fd = r->fd, .events = POLLOUT };
	ssize_t		 n;

	*sent = 0;
	while (*sent < len) {
		n = send(r->fd, p + *sent, len - *sent, MSG_NOSIGNAL);
		if (n > 0) {
			*sent += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EPIPE || errno == ECONNRESET ||
		    errno == ENOTCONN)
			return CONN_BROKEN;
		if (errno != EAGAIN)
			return INFLUX_RELAY_EIO;
		if (poll(&pfd, 1, conn_left(deadline)) == 0)
			return INFLUX_RELAY_ETIMEOUT;
	}
	return INFLUX_RELAY_OK;
}

/*
 * Forgets the lines the relay has whole, keeping the directive the
 * rest starts under, and moves the rest to the front of the buffer.
 */
static void
conn_compact(struct influx_relay *r)
{
	size_t	 k, cut = 0, start = 0, end;

	for (k = 0; k < r->nends; k++) {
		end = r->ends[k] & ~CLIENT_END_DIRECTIVE;
		if (end > r->sent)
			break;
		/* point.c writes no directive longer than resume[] */
		if ((r->ends[k] & CLIENT_END_DIRECTIVE) &&
		    end - start <= sizeof(r->resume)) {
			memcpy(r->resume, r->buf + start, end - start);
			r->resume_len = end - start;
		}
		cut = start = end;
	}
	if (cut == 0)
		return;
	memmove(r->buf, r->buf + cut, r->used - cut);
	r->used -= cut;
	r->done -= cut;
	r->sent -= cut;
	if (r->stage != CLIENT_IDLE) {
		r->point -= cut;
		r->tags -= cut;
	}
	r->nends -= k;
	memmove(r->ends, r->ends + k, r->nends * sizeof(*r->ends));
	for (k = 0; k < r->nends; k++)
		r->ends[k] -= (uint32_t)cut;
}

/* After a broken connection: the cut line goes again, whole. */
static void
conn_rewind(struct influx_relay *r)
{
	conn_close(r);
	conn_compact(r);
	r->sent = 0;
}

#define CONN_PREAMBLE	"#relay partial=reject\n"

/*
 * On a new connection: "partial=reject", then the directive in force at
 * the buffer's start.
 */
static int
conn_resume(struct influx_relay *r, int64_t deadline)
{
	char	 text[sizeof(CONN_PREAMBLE) + sizeof(r->resume)];
	size_t	 len = sizeof(CONN_PREAMBLE) - 1, n;
	int	 rc;

	memcpy(text, CONN_PREAMBLE, len);
	memcpy(text + len, r->resume, r->resume_len);
	len += r->resume_len;
	rc = conn_write(r, text, len, deadline, &n);
	if (rc != INFLUX_RELAY_OK)
		/* a cut directive: start over */
		return n > 0 ? CONN_BROKEN : rc;
	r->fresh = false;
	return INFLUX_RELAY_OK;
}

/* One attempt on the current or a new connection. */
static int
conn_send_waiting(struct influx_relay *r, int64_t deadline)
{
	size_t	 n;
	int	 rc;

	if (r->fd < 0 && (rc = conn_connect(r, deadline)) != 0)
		return rc;
	if (r->fresh && (rc = conn_resume(r, deadline)) != 0)
		return rc;
	rc = conn_write(r, r->buf + r->sent, r->done - r->sent, deadline,
	    &n);
	r->sent += n;
	return rc;
}

static int
conn_flush(struct influx_relay *r)
{
	int64_t	 deadline = conn_deadline(r);
	int	 rc, tries = 0;

	do {
		rc = conn_send_waiting(r, deadline);
		if (rc == CONN_BROKEN || rc == INFLUX_RELAY_EIO)
			conn_rewind(r);
	} while (rc == CONN_BROKEN && ++tries < 2);
	if (rc == CONN_BROKEN)
		rc = INFLUX_RELAY_EIO;
	conn_compact(r);
	r->retry_at = rc == 0 ? 0 : conn_now_ms() + CONN_RETRY_MS;
	return rc;
}

void
ir_conn_check_owner(struct influx_relay *r)
{
	if (r->forks == conn_forks)
		return;
	/* the parent sends its points; the child's copy of them goes */
	conn_close(r);
	r->forks = conn_forks;
	r->used = r->done = r->sent = r->nends = r->resume_len = 0;
	r->db[0] = r->rp[0] = '\0';
	r->stage = CLIENT_IDLE;
	r->error = 0;
}

int
influx_relay_flush(struct influx_relay *r)
{
	if (r == NULL)
		return INFLUX_RELAY_EINVAL;
	ir_conn_check_owner(r);
	if (r->done == r->sent && r->fd >= 0)
		return INFLUX_RELAY_OK;
	return conn_flush(r);
}

void
ir_conn_flush_if_full(struct influx_relay *r)
{
	if (r->done - r->sent >= r->cap / 2 && conn_now_ms() >= r->retry_at)
		(void)conn_flush(r);
}

int
ir_conn_reserve(struct influx_relay *r, size_t n)
{
	int	 rc = INFLUX_RELAY_EFULL;

	size_t	 point = r->stage == CLIENT_IDLE ? r->used : r->point;

	if (r->used + n - point > r->max_point)
		return INFLUX_RELAY_ETOOBIG;
	if (r->used + n <= r->cap)
		return INFLUX_RELAY_OK;
	if (r->done > r->sent && conn_now_ms() >= r->retry_at)
		rc = conn_flush(r);
	else
		conn_compact(r);
	if (r->used + n <= r->cap)
		return INFLUX_RELAY_OK;
	return rc == INFLUX_RELAY_OK ? INFLUX_RELAY_EFULL : rc;
}

int
ir_conn_room_for_lines(struct influx_relay *r, size_t n)
{
	uint32_t	*ends;
	size_t		 cap = r->ends_cap;

	while (cap < r->nends + n)
		cap *= 2;
	if (cap == r->ends_cap)
		return INFLUX_RELAY_OK;
	if ((ends = realloc(r->ends, cap * sizeof(*ends))) == NULL)
		return INFLUX_RELAY_ENOMEM;
	r->ends = ends;
	r->ends_cap = cap;
	return INFLUX_RELAY_OK;
}

void
ir_conn_line_done(struct influx_relay *r, bool directive)
{
	r->ends[r->nends++] = (uint32_t)r->used |
	    (directive ? CLIENT_END_DIRECTIVE : 0);
	r->done = r->used;
}

struct influx_relay *
influx_relay_open(const char *path, int timeout_ms, int *error)
{
	struct influx_relay	*r;
	int			 rc;

	if (path == NULL && (path = getenv("INFLUX_RELAYD_SOCKET")) == NULL)
		path = INFLUX_RELAY_DEFAULT_SOCKET;
	if (strlen(path) >= sizeof(r->path)) {
		if (error != NULL)
			*error = INFLUX_RELAY_EINVAL;
		return NULL;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		if (error != NULL)
			*error = INFLUX_RELAY_ENOMEM;
		return NULL;
	}
	strcpy(r->path, path);
	r->fd = -1;
	r->timeout_ms = timeout_ms;
	r->cap = INFLUX_RELAY_BUFFER_SIZE;
	r->max_point = INFLUX_RELAY_MAX_POINT;
	r->ends_cap = 1024;
	r->buf = malloc(r->cap);
	r->ends = malloc(r->ends_cap * sizeof(*r->ends));
	if (r->buf == NULL || r->ends == NULL) {
		influx_relay_free(r);
		if (error != NULL)
			*error = INFLUX_RELAY_ENOMEM;
		return NULL;
	}
	(void)pthread_once(&conn_forks_once, conn_watch_forks);
	r->forks = conn_forks;
	rc = conn_connect(r, conn_deadline(r));
	if (error != NULL)
		*error = rc;
	return r;
}

int
influx_relay_set_max_point(struct influx_relay *r, size_t max)
{
	if (r == NULL || max == 0 || max > r->cap)
		return INFLUX_RELAY_EINVAL;
	r->max_point = max;
	return INFLUX_RELAY_OK;
}

size_t
influx_relay_pending(const struct influx_relay *r)
{
	return r == NULL ? 0 : r->done - r->sent;
}

int
influx_relay_close(struct influx_relay *r)
{
	int	 rc = INFLUX_RELAY_OK;

	if (r == NULL)
		return rc;
	ir_conn_check_owner(r);
	if (r->done > r->sent)
		rc = conn_flush(r);
	influx_relay_free(r);
	return rc;
}

void
influx_relay_free(struct influx_relay *r)
{
	if (r == NULL)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r->buf);
	free(r->ends);
	free(r);
}

static const char *const conn_errors[] = {
	[INFLUX_RELAY_OK] = "success",
	[INFLUX_RELAY_EINVAL] = "invalid argument or call out of order",
	[INFLUX_RELAY_ENAME] = "name InfluxDB cannot store as given",
	[INFLUX_RELAY_EVALUE] = "field value InfluxDB cannot store",
	[INFLUX_RELAY_ETIME] = "time outside InfluxDB's range",
	[INFLUX_RELAY_EDUPTAG] = "tag given twice",
	[INFLUX_RELAY_ENOFIELD] = "point without a field",
	[INFLUX_RELAY_ETOOBIG] = "point too long",
	[INFLUX_RELAY_ENOMEM] = "out of memory",
	[INFLUX_RELAY_ECONNECT] = "relay not reachable",
	[INFLUX_RELAY_ETIMEOUT] = "relay did not take the data in time",
	[INFLUX_RELAY_EFULL] = "buffer full while the relay is away",
	[INFLUX_RELAY_EIO] = "writing to the relay failed",
};

const char *
influx_relay_strerror(int error)
{
	if (error < 0 ||
	    (size_t)error >= sizeof(conn_errors) / sizeof(conn_errors[0]))
		return "unknown error";
	return conn_errors[error];
}
