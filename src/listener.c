/*
 * UNIX stream listeners.
 *
 * Framing: lines end at '\n', except inside a quoted field value or after
 * a backslash, as InfluxDB frames them (proto_line_end).  Most lines lie
 * inside the first chain of the input evbuffer and are parsed in place;
 * only a line that straddles two chains is pulled up (copied) to make it
 * contiguous.  A line longer than max_line is rejected whole: its bytes
 * are dropped as they arrive and the stream resumes after the next bare
 * '\n'.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "conf.h"
#include "ingest.h"
#include "listener.h"
#include "log.h"
#include "mem.h"
#include "proto.h"
#include "stamp.h"

struct listener_client {
	TAILQ_ENTRY(listener_client) entry;
	struct listener		*listener;
	struct bufferevent	*bev;
	bool			 discarding;	/* inside an over-long line */
};

struct listener {
	const struct conf_listener *conf;
	struct event_base	*base;
	struct ingest		*ingest;
	struct evconnlistener	*evl;
	struct event		*ev_resume;	/* accept again after EMFILE */
	bool			 bound;		/* we own the socket file */
	TAILQ_HEAD(, listener_client) clients;
	size_t			 nclients;
	struct listener_stats	 stats;
	struct log_ratelimit	 rl;
};

static const char	 listener_too_long[] = "line too long";

struct listener *
listener_new(struct event_base *base, const struct conf_listener *conf,
    struct ingest *ingest)
{
	struct listener		*l = xcalloc(1, sizeof(*l));
	struct log_ratelimit	 rl = LOG_RATELIMIT_INIT(10, 5);

	l->conf = conf;
	l->base = base;
	l->ingest = ingest;
	l->rl = rl;
	TAILQ_INIT(&l->clients);
	return l;
}

static void
listener_count_reject(struct listener *l, const char *reason)
{
	struct listener_stats	*s = &l->stats;
	size_t			 i, n = sizeof(s->reasons) / sizeof(s->reasons[0]);

	s->rejected++;
	/* reasons are static strings, so the pointer identifies them */
	for (i = 0; i < n; i++) {
		if (s->reasons[i].reason == NULL)
			s->reasons[i].reason = reason;
		if (s->reasons[i].reason == reason) {
			s->reasons[i].count++;
			return;
		}
	}
}

/* Logs a rejected line with a printable excerpt. */
static void
listener_log_reject(struct listener *l, const char *reason, const char *line,
    size_t len)
{
	char	 excerpt[64];
	size_t	 i, n = len < sizeof(excerpt) - 4 ? len : sizeof(excerpt) - 4;

	for (i = 0; i < n; i++)
		excerpt[i] = (line[i] >= 0x20 && line[i] < 0x7f) ? line[i] :
		    '?';
	strcpy(excerpt + n, len > n ? "..." : "");
	log_warnx_rl(&l->rl, "listener %s: rejected line (%s): %s",
	    l->conf->name, reason, excerpt);
}

static void
listener_line(struct listener_client *c, const char *line, size_t len,
    int64_t now)
{
	struct listener	*l = c->listener;
	const char	*reason = NULL;

	if (c->discarding) {
		c->discarding = false;	/* the tail of an over-long line */
		return;
	}
	l->stats.lines++;
	if (len > l->conf->max_line) {
		listener_count_reject(l, listener_too_long);
		listener_log_reject(l, listener_too_long, line, len);
		return;
	}
	switch (ingest_line(l->ingest, line, len, now, &reason)) {
	case INGEST_ACCEPTED:
		l->stats.accepted++;
		break;
	case INGEST_SKIPPED:
		break;
	case INGEST_REJECTED:
		listener_count_reject(l, reason);
		listener_log_reject(l, reason, line, len);
		break;
	case INGEST_DROPPED:
		l->stats.dropped++;
		listener_log_reject(l, reason, line, len);
		break;
	}
}

/*
 * The end of the line at `p`.  While discarding the rest of an over-long
 * line, only a bare '\n' resynchronises: the quote state of a line cut
 * short means nothing.
 */
static const char *
listener_line_end(const struct listener_client *c, const char *p,
    const char *end)
{
	if (c->discarding)
		return memchr(p, '\n', (size_t)(end - p));
	return proto_line_end(p, (size_t)(end - p));
}

/* Takes the complete lines at the head of the first chain; -1 if none. */
static ssize_t
listener_scan_chain(struct listener_client *c, struct evbuffer *in,
    int64_t now)
{
	struct evbuffer_iovec	 v;
	const char		*p, *end, *nl;

	if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
		return -1;
	p = v.iov_base;
	end = p + v.iov_len;
	while ((nl = listener_line_end(c, p, end)) != NULL) {
		listener_line(c, p, (size_t)(nl - p), now);
		p = nl + 1;
	}
	if (p == v.iov_base)
		return -1;
	return p - (const char *)v.iov_base;
}

/*
 * The line at the head of `in` goes on past its first chain: pulls it up
 * to the next bare '\n' (the line may end there), never past max_line + 1
 * bytes.  False if there is nothing to pull up.
 */
static bool
listener_pullup(struct listener_client *c, struct evbuffer *in,
    size_t chain)
{
	struct evbuffer_ptr	 from, eol;
	size_t			 want, eol_len;

	if (evbuffer_ptr_set(in, &from, chain, EVBUFFER_PTR_SET) == -1)
		return false;
	eol = evbuffer_search_eol(in, &from, &eol_len, EVBUFFER_EOL_LF);
	if (eol.pos < 0)
		return false;
	want = (size_t)eol.pos + 1;
	if (want > c->listener->conf->max_line + 1)
		want = c->listener->conf->max_line + 1;
	if (want <= chain)
		return false;
	return evbuffer_pullup(in, (ssize_t)want) != NULL;
}

/* A line grew past max_line: reject it and drop it up to a bare '\n'. */
static void
listener_too_long_line(struct listener_client *c, struct evbuffer *in)
{
	struct listener	*l = c->listener;
	size_t		 len = evbuffer_get_length(in);

	l->stats.lines++;
	listener_count_reject(l, listener_too_long);
	listener_log_reject(l, listener_too_long,
	    (const char *)evbuffer_pullup(in, len < 64 ? -1 : 64), len);
	c->discarding = true;
}

/* Frames every complete line in `in`; at EOF the rest is a line too. */
static void
listener_frame(struct listener_client *c, struct evbuffer *in, int64_t now,
    bool eof)
{
	size_t		 len, chain, max = c->listener->conf->max_line;
	ssize_t		 used;

	while ((len = evbuffer_get_length(in)) > 0) {
		if ((used = listener_scan_chain(c, in, now)) > 0) {
			evbuffer_drain(in, (size_t)used);
			continue;
		}
		chain = evbuffer_get_contiguous_space(in);
		if (c->discarding)
			evbuffer_drain(in, chain);	/* no '\n' in it */
		else if (chain > max)
			listener_too_long_line(c, in);
		else if (chain < len && listener_pullup(c, in, chain))
			continue;
		else if (eof) {
			listener_line(c, (const char *)evbuffer_pullup(in, -1),
			    len, now);
			evbuffer_drain(in, len);
		} else if (len > max)
			listener_too_long_line(c, in);
		else
			return;
	}
}

static void
listener_client_free(struct listener_client *c)
{
	struct listener	*l = c->listener;

	TAILQ_REMOVE(&l->clients, c, entry);
	l->nclients--;
	/*
	 * Safe from the bufferevent's own callback: libevent reference
	 * counts bufferevents and finishes the free after the callback.
	 */
	bufferevent_free(c->bev);
	free(c);
}

static void
listener_read_cb(struct bufferevent *bev, void *arg)
{
	struct listener_client	*c = arg;

	listener_frame(c, bufferevent_get_input(bev), stamp_now(), false);
}

static void
listener_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct listener_client	*c = arg;
	struct listener		*l = c->listener;

	if (what & BEV_EVENT_EOF)
		listener_frame(c, bufferevent_get_input(bev), stamp_now(),
		    true);
	else if (what & BEV_EVENT_TIMEOUT)
		log_debug("listener %s: closing idle client", l->conf->name);
	else if (what & BEV_EVENT_ERROR)
		log_debug("listener %s: client error: %s", l->conf->name,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	listener_client_free(c);
}

static void
listener_accept_cb(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct listener		*l = arg;
	struct listener_client	*c;
	struct timeval		 tv;

	if (l->nclients >= l->conf->max_clients) {
		l->stats.connections_refused++;
		log_warnx_rl(&l->rl, "listener %s: max_clients (%llu) "
		    "reached, connection refused", l->conf->name,
		    (unsigned long long)l->conf->max_clients);
		evutil_closesocket(fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->listener = l;
	if ((c->bev = bufferevent_socket_new(l->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL)
		fatalx("listener %s: bufferevent_socket_new failed",
		    l->conf->name);
	bufferevent_setcb(c->bev, listener_read_cb, NULL, listener_event_cb, c);
	if (l->conf->idle_timeout_ms > 0) {
		tv.tv_sec = (time_t)(l->conf->idle_timeout_ms / 1000);
		tv.tv_usec = (suseconds_t)(l->conf->idle_timeout_ms % 1000) *
		    1000;
		bufferevent_set_timeouts(c->bev, &tv, NULL);
	}
	bufferevent_enable(c->bev, EV_READ);
	TAILQ_INSERT_TAIL(&l->clients, c, entry);
	l->nclients++;
	l->stats.connections++;
}

static void
listener_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener	*l = arg;

	evconnlistener_enable(l->evl);
}

/* Out of descriptors: pause accepting for a second instead of spinning. */
static void
listener_error_cb(struct evconnlistener *evl, void *arg)
{
	struct listener	*l = arg;
	struct timeval	 tv = { 1, 0 };

	log_warn("listener %s: accept", l->conf->name);
	evconnlistener_disable(evl);
	evtimer_add(l->ev_resume, &tv);
}

/* Is something listening on `path`?  Decides stale vs. live sockets. */
static bool
listener_in_use(const struct sockaddr_un *sun)
{
	int	 fd, rc;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return false;
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	return rc == 0;
}

/* Removes a stale socket file; -1 if the path is live or not a socket. */
static int
listener_clear_path(const struct sockaddr_un *sun, char *err, size_t errlen)
{
	struct stat	 st;

	if (lstat(sun->sun_path, &st) == -1)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket",
		    sun->sun_path);
		return -1;
	}
	if (listener_in_use(sun)) {
		snprintf(err, errlen, "%s is in use by another process",
		    sun->sun_path);
		return -1;
	}
	if (unlink(sun->sun_path) == -1) {
		snprintf(err, errlen, "cannot remove stale %s: %s",
		    sun->sun_path, strerror(errno));
		return -1;
	}
	log_info("listener: replaced stale socket %s", sun->sun_path);
	return 0;
}

static int
listener_bind(const struct sockaddr_un *sun, mode_t mode, char *err,
    size_t errlen)
{
	mode_t	 old;
	int	 fd, rc;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* no window in which the socket is more open than `mode` */
	old = umask(0177);
	rc = bind(fd, (const struct sockaddr *)sun, sizeof(*sun));
	umask(old);
	if (rc == -1 || chmod(sun->sun_path, mode) == -1 ||
	    listen(fd, 128) == -1) {
		snprintf(err, errlen, "%s: %s", sun->sun_path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
listener_open(struct listener *l, char *err, size_t errlen)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	int			 fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", l->conf->path);
	if (listener_clear_path(&sun, err, errlen) == -1)
		return -1;
	if ((fd = listener_bind(&sun, (mode_t)l->conf->mode, err,
	    errlen)) == -1)
		return -1;
	l->bound = true;
	l->evl = evconnlistener_new(l->base, listener_accept_cb, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	l->ev_resume = evtimer_new(l->base, listener_resume_cb, l);
	if (l->evl == NULL || l->ev_resume == NULL)
		fatalx("listener %s: cannot set up events", l->conf->name);
	evconnlistener_set_error_cb(l->evl, listener_error_cb);
	log_info("listener %s: listening on %s", l->conf->name, l->conf->path);
	return 0;
}

/* Reads whatever the client has already written, without blocking. */
static void
listener_client_drain(struct listener_client *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	evutil_socket_t	 fd = bufferevent_getfd(c->bev);

	while (evbuffer_read(in, fd, 65536) > 0)
		listener_frame(c, in, stamp_now(), false);
	listener_frame(c, in, stamp_now(), true);
}

void
listener_close(struct listener *l)
{
	struct listener_client	*c;

	if (l->evl != NULL) {
		evconnlistener_free(l->evl);
		l->evl = NULL;
	}
	while ((c = TAILQ_FIRST(&l->clients)) != NULL) {
		listener_client_drain(c);
		listener_client_free(c);
	}
	if (l->bound && unlink(l->conf->path) == -1 && errno != ENOENT)
		log_warn("listener %s: unlink %s", l->conf->name,
		    l->conf->path);
	l->bound = false;
}

void
listener_free(struct listener *l)
{
	if (l == NULL)
		return;
	listener_close(l);
	if (l->ev_resume != NULL)
		event_free(l->ev_resume);
	free(l);
}

const struct listener_stats *
listener_stats(const struct listener *l)
{
	return &l->stats;
}

void
listener_log_stats(const struct listener *l)
{
	const struct listener_stats	*s = &l->stats;
	char				 reasons[512] = "";
	size_t				 i, n = 0;

	for (i = 0; i < sizeof(s->reasons) / sizeof(s->reasons[0]) &&
	    s->reasons[i].reason != NULL && n < sizeof(reasons); i++)
		n += (size_t)snprintf(reasons + n, sizeof(reasons) - n,
		    " rejected[%s]=%llu", s->reasons[i].reason,
		    (unsigned long long)s->reasons[i].count);
	log_info("stats: listener %s: clients=%zu connections=%llu "
	    "refused=%llu lines=%llu accepted=%llu dropped=%llu "
	    "rejected=%llu%s", l->conf->name, l->nclients,
	    (unsigned long long)s->connections,
	    (unsigned long long)s->connections_refused,
	    (unsigned long long)s->lines, (unsigned long long)s->accepted,
	    (unsigned long long)s->dropped, (unsigned long long)s->rejected,
	    reasons);
}
