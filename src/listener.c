/*
 * UNIX stream listeners.
 *
 * Framing (frame.c) splits what a client sends into lines; a valid line
 * is parsed once, in place, as it is framed (listener_parse_cb), and
 * every line, refused or not, is counted here.
 *
 * Datagrams: each is one read into a buffer owned by the listener, then
 * framed as a stream that ends there (a pseudo-client holds the framing
 * state), so a datagram carries any number of lines.
 *
 * Access: with allow_uids/allow_gids, stream peers are checked with
 * SO_PEERCRED (+ SO_PEERGROUPS for supplementary groups) on accept and
 * datagram senders with SCM_CREDENTIALS, which the kernel attaches to
 * every datagram once SO_PASSCRED is on.
 *
 * Feedback: a stream client that sent "#relay reply=summary" gets one
 * JSON line (tally.c) when its connection ends, written without ever
 * blocking; a datagram sender cannot be answered.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "conf.h"
#include "fdlimit.h"
#include "frame.h"
#include "ingest.h"
#include "listener.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "origin.h"
#include "route.h"
#include "service.h"
#include "sock.h"
#include "stamp.h"
#include "tally.h"
#include "target.h"

struct listener_client {
	TAILQ_ENTRY(listener_client) entry;
	struct listener		*listener;
	struct bufferevent	*bev;
	struct frame		*frame;
	int64_t			 now;		/* when the input was read */
	size_t			 held;		/* input left after framing */
	bool			 paused;	/* overflow = block: not reading */
	bool			 reply;		/* "#relay reply=summary" */
	bool			 partial_reject; /* "#relay partial=reject" */
	uint32_t		 origin;	/* who, for the server's refusals */
	struct tally		 tally;		/* what its lines became */
	/* what "#relay" directives chose for its next lines ("": none) */
	char			 route_db[ROUTE_MAX_NAME + 1];
	char			 route_rp[ROUTE_MAX_NAME + 1];
};

struct listener {
	const struct conf_listener *conf;
	struct event_base	*base;
	struct ingest		*ingest;
	struct evconnlistener	*evl;
	struct event		*ev_resume;	/* accept again after EMFILE */
	bool			 full;		/* at max_clients: not accepting */
	bool			 bound;		/* we own the socket file */
	bool			 abandoned;	/* never ran: accept nothing */
	bool			 inherited;	/* systemd owns it */
	TAILQ_HEAD(, listener_client) clients;
	size_t			 nclients;
	struct listener_stats	 stats;
	struct log_ratelimit	 rl;
	size_t			 read_need;	/* room one read may take */
	/* type = datagram */
	int			 dgram_fd;
	struct event		*ev_dgram;
	struct ucred		 dgram_peer;	/* of dgram.origin, if known */
	struct listener_client	 dgram;		/* framing state */
	char			*dgram_buf;
	size_t			 dgram_size;
};

#define LISTENER_READ_MAX	(64 * 1024)	/* per read callback */
/* What libevent 2.1's evbuffer_read() takes at most (buffer.c). */
#define LISTENER_LIBEVENT_READ	4096
/*
 * Bytes held per byte read, at most: a normalised line can be ~5 times
 * its input ("m f=1" gains a 20-digit timestamp).
 */
#define LISTENER_EXPANSION	5
#define LISTENER_DGRAM_MIN	(256 * 1024)	/* > Linux's default wmem */
#define LISTENER_DGRAM_BURST	64		/* datagrams per wakeup */
#define LISTENER_MAX_GROUPS	64

static const char	 listener_dgram_too_long[] = "datagram too large";
static const char	 listener_cut[] = "incomplete line at shutdown";
static const char	 listener_idle_cut[] = "incomplete line at idle timeout";
/* a client that said "#relay partial=reject" closed in mid-line */
static const char	 listener_eof_cut[] = "incomplete line at close";
static const char	 listener_error_cut[] = "incomplete line at client error";

/* Room one read callback may take: a held partial line plus one read. */
static size_t
listener_read_need(const struct conf_listener *conf)
{
	return LISTENER_EXPANSION *
	    ((size_t)conf->max_line + LISTENER_READ_MAX);
}

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
	l->read_need = listener_read_need(conf);
	l->dgram_fd = -1;
	l->dgram.listener = l;
	l->dgram.origin = origin_new(conf->name, -1, -1,
	    &l->stats.ledger);
	l->dgram_peer.pid = -1;
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

/* Logs a rejected line with an escaped excerpt (log_escape()). */
static void
listener_log_reject(struct listener *l, const char *reason, const char *line,
    size_t len)
{
	char	 excerpt[64];

	/* log_escape() stops where the excerpt is full, however long len */
	log_warnx_rl(&l->rl, "listener %s: rejected line (%s): %s",
	    l->conf->name, reason,
	    log_escape(excerpt, sizeof(excerpt), line, len));
}

/*
 * Counts what ingest made of a line of client `c`, for the listener and
 * the client's own tally, and logs a refused one.
 */
static void
listener_count(struct listener_client *c, enum ingest_result r,
    const char *reason, const char *line, size_t len)
{
	struct listener	*l = c->listener;

	switch (r) {
	case INGEST_ACCEPTED:
		l->stats.accepted++;
		tally_accept(&c->tally);
		break;
	case INGEST_SKIPPED:
		l->stats.skipped++;
		tally_skip(&c->tally);
		break;
	case INGEST_REJECTED:
		listener_count_reject(l, reason);
		listener_log_reject(l, reason, line, len);
		tally_reject(&c->tally, reason, line, len);
		break;
	}
}

static const char	 listener_bad_directive[] = "bad relay directive";

/*
 * A "#relay db=... rp=..." line sets where the sender's next lines go
 * (on a stream connection, until the next one; in a datagram, for the
 * rest of it); "reply=summary" asks for a summary at the end.  True if
 * the line was one, good or bad.
 */
static bool
listener_directive(struct listener_client *c, const char *line, size_t len)
{
	struct listener		*l = c->listener;
	struct route_directive	 d;

	switch (route_directive(line, len, &d)) {
	case ROUTE_LINE_DATA:
		return false;
	case ROUTE_LINE_BAD:
		listener_count(c, INGEST_REJECTED, listener_bad_directive,
		    line, len);
		return true;
	case ROUTE_LINE_DIRECTIVE:
		break;
	}
	if (d.has_db)
		memcpy(c->route_db, d.db, sizeof(c->route_db));
	if (d.has_rp)
		memcpy(c->route_rp, d.rp, sizeof(c->route_rp));
	if (d.partial_reject)
		c->partial_reject = true;
	if (!d.reply) {
		listener_count(c, INGEST_SKIPPED, NULL, line, len);
		return true;
	}
	/* not the sender's data: its summary leaves this line out */
	c->reply = true;	/* a datagram's sender gets none */
	l->stats.skipped++;
	return true;
}

/* A framed line: ingest takes it, or tells why not. */
static void
listener_record_cb(void *arg, const char *line, size_t len)
{
	struct listener_client	*c = arg;
	struct listener		*l = c->listener;
	const char		*reason = NULL;
	enum ingest_result	 r;

	l->stats.lines++;
	if (line[0] == '#' && listener_directive(c, line, len))
		return;
	ingest_route(l->ingest, c->route_db, c->route_rp);
	r = ingest_line(l->ingest, line, len, c->now, c->origin, &reason);
	listener_count(c, r, reason, line, len);
}

/* A line framing refused (too long, cut by shutdown). */
static void
listener_reject_cb(void *arg, const char *reason, const char *head,
    size_t len)
{
	struct listener_client	*c = arg;
	struct listener		*l = c->listener;

	l->stats.lines++;
	listener_count_reject(l, reason);
	listener_log_reject(l, reason, head, len);
	tally_reject(&c->tally, reason, head, len);
}

/* Parses a line while it is framed: a valid one is parsed only once. */
static enum frame_parse
listener_parse_cb(void *arg, const char *line, size_t len)
{
	struct listener_client	*c = arg;
	struct ingest		*in = c->listener->ingest;
	const char		*reason = NULL;

	if (ingest_parse(in, line, len, &reason) != INGEST_ACCEPTED)
		return FRAME_PARSE_FAILED;
	return ingest_plain(in) ? FRAME_PARSE_PLAIN : FRAME_PARSE_OK;
}

/* Queues the line listener_parse_cb() accepted. */
static void
listener_commit_cb(void *arg, const char *line, size_t len)
{
	struct listener_client	*c = arg;
	struct listener		*l = c->listener;
	const char		*reason = NULL;
	enum ingest_result	 r;

	l->stats.lines++;
	ingest_route(l->ingest, c->route_db, c->route_rp);
	r = ingest_commit(l->ingest, c->now, c->origin, &reason);
	listener_count(c, r, reason, line, len);
}

static const struct frame_ops	 listener_frame_ops = {
	.record = listener_record_cb,
	.reject = listener_reject_cb,
	.parse = listener_parse_cb,
	.commit = listener_commit_cb,
};

static enum frame_format
listener_frame_format(const struct conf_listener *conf)
{
	return conf->format == FORMAT_KV ? FRAME_KV : FRAME_LINE;
}

/* A framer for client `c`, by the listener's current config. */
static struct frame *
listener_frame_new(struct listener_client *c)
{
	const struct conf_listener	*conf = c->listener->conf;

	return frame_new(conf->max_line, listener_frame_format(conf),
	    &listener_frame_ops, c);
}

/* Frames what `c` sent, received now; at `eof` the rest is a line too. */
static void
listener_frame(struct listener_client *c, struct evbuffer *in, bool eof)
{
	c->now = stamp_now();
	frame_input(c->frame, in, eof);
}

/*
 * The client is cut off (`reason`) before its stream ended: an open
 * record is settled, a partial last line refused rather than forwarded
 * truncated.  At `eof` (it had ended it after all) that line counts.
 */
static void
listener_settle(struct listener_client *c, struct evbuffer *in, bool eof,
    const char *reason)
{
	frame_close(c->frame);
	listener_frame(c, in, eof);
	frame_cut_rest(c->frame, in, reason);
}

/*
 * The summary client `c` asked for, as its connection ends (after
 * ingest_end(): what it calls accepted is in the spools).  One
 * non-blocking send of a bounded line into a socket the relay never
 * wrote to before, so it fits and never waits; a client that is gone or
 * never reads just loses it.
 */
static void
listener_reply(struct listener_client *c)
{
	struct evbuffer	*out;

	if (!c->reply)
		return;
	if ((out = evbuffer_new()) == NULL)
		fatalx("listener %s: evbuffer_new failed",
		    c->listener->conf->name);
	tally_json(&c->tally, out);
	if (send(bufferevent_getfd(c->bev), evbuffer_pullup(out, -1),
	    evbuffer_get_length(out), MSG_DONTWAIT | MSG_NOSIGNAL) == -1)
		log_debug("listener %s: summary not sent: %s",
		    c->listener->conf->name, strerror(errno));
	evbuffer_free(out);
}

static void listener_check_room(struct listener *);

static void
listener_client_free(struct listener_client *c)
{
	struct listener	*l = c->listener;

	TAILQ_REMOVE(&l->clients, c, entry);
	l->nclients--;
	listener_check_room(l);
	/* its points still queued keep the origin alive */
	origin_put(c->origin);
	/*
	 * Safe from the bufferevent's own callback: libevent reference
	 * counts bufferevents and finishes the free after the callback.
	 */
	bufferevent_free(c->bev);
	frame_free(c->frame);
	free(c);
}

static void listener_room_cb(struct target *, void *);

/*
 * overflow = block: stops reading this client while a blocking target
 * lacks room for what one more read could bring.  Unread bytes wait in
 * the kernel, so the client's writes block: back-pressure, not loss.
 */
static bool
listener_pause(struct listener_client *c)
{
	struct listener	*l = c->listener;
	struct target	*t;

	if ((t = ingest_blocked(l->ingest, l->read_need)) == NULL)
		return false;
	if (!c->paused) {
		c->paused = true;
		l->stats.pauses++;
		bufferevent_disable(c->bev, EV_READ);
		log_debug("listener %s: target %s full, client paused",
		    l->conf->name, target_name(t));
	}
	target_wait_room(t, listener_room_cb, l);
	return true;
}

/*
 * Reads up to `max` bytes of c's socket into its input buffer without
 * blocking; returns what read(2) did.  A bufferevent freezes the end of
 * its input buffer between its own reads (bufferevent_sock.c), so it is
 * thawed for the read only.
 */
static ssize_t
listener_read_into(struct listener_client *c, struct evbuffer *in,
    size_t max)
{
	struct evbuffer_iovec	 v[2];
	struct iovec		 iov[2];
	ssize_t			 got;
	size_t			 left;
	int			 n, i;

	evbuffer_unfreeze(in, 0);
	n = evbuffer_reserve_space(in, max, v, 2);
	for (i = 0; i < n; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
	}
	do
		got = n > 0 ? readv(bufferevent_getfd(c->bev), iov, n) : 0;
	while (got == -1 && errno == EINTR);
	left = got > 0 ? (size_t)got : 0;
	for (i = 0; i < n && left > 0; i++) {
		if (v[i].iov_len > left)
			v[i].iov_len = left;
		left -= v[i].iov_len;
	}
	evbuffer_commit_space(in, v, i);
	evbuffer_freeze(in, 0);
	return got;
}

/*
 * libevent 2.1 reads at most 4 KiB per readiness (EVBUFFER_MAX_READ in
 * its buffer.c; 2.2 made it settable with evbuffer_set_max_read()),
 * whatever bufferevent_set_max_single_read() asks: a fast sender then
 * costs a readv(), an ioctl(FIONREAD) and a loop turn per 33 lines of
 * 123 bytes.  When its read came back full, more is likely queued: one
 * read of ours takes the rest of this callback's LISTENER_READ_MAX, if a
 * target with overflow = block has room for all of it (else the small
 * reads go on, and its back-pressure stays exact).  An end of stream or
 * an error is left to the bufferevent's next read.
 */
static void
listener_read_more(struct listener_client *c, struct evbuffer *in)
{
	size_t	 more = LISTENER_READ_MAX - LISTENER_LIBEVENT_READ;

	if (evbuffer_get_length(in) < c->held + LISTENER_LIBEVENT_READ ||
	    !ingest_takes(c->listener->ingest, LISTENER_EXPANSION *
	    (evbuffer_get_length(in) + more)))
		return;
	(void)listener_read_into(c, in, more);
}

static void
listener_read_cb(struct bufferevent *bev, void *arg)
{
	struct listener_client	*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);

	if (listener_pause(c))
		return;
	listener_read_more(c, in);
	listener_frame(c, in, false);
	c->held = evbuffer_get_length(in);
	/* what this turn accepted reaches the spools before anyone hears */
	ingest_end(c->listener->ingest);
}

/* A blocking target has room again: resume every paused client. */
static void
listener_room_cb(struct target *t, void *arg)
{
	struct listener		*l = arg;
	struct listener_client	*c, *next;

	for (c = TAILQ_FIRST(&l->clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (!c->paused)
			continue;
		c->paused = false;
		bufferevent_enable(c->bev, EV_READ);
		/* what it read before the pause; may pause it again */
		listener_read_cb(c->bev, c);
	}
}

/*
 * Did the client end its stream (shut down its writing side, or close)?
 * Asked of the socket's state, not by reading, so it holds even with
 * bytes still queued.
 */
static bool
listener_peer_ended(evutil_socket_t fd)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLRDHUP };

	return poll(&pfd, 1, 0) == 1 &&
	    (pfd.revents & (POLLRDHUP | POLLHUP)) != 0;
}

/*
 * The relay ends the connection (idle timeout, shutdown): frames every
 * byte the client's writes have queued in the socket, without blocking.
 * SHUT_RD first, so the queue is final: a write that succeeded is read,
 * and a later one fails (EPIPE), so the client keeps and resends it
 * instead of losing it in our close.  A client that keeps writing cannot
 * hold us up either.
 */
static void
listener_take_queued(struct listener_client *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	evutil_socket_t	 fd = bufferevent_getfd(c->bev);
	ssize_t		 n;
	int		 queued;

	frame_close(c->frame);
	if (shutdown(fd, SHUT_RD) == -1)
		log_debug("listener %s: shutdown: %s", c->listener->conf->name,
		    strerror(errno));
	if (ioctl(fd, FIONREAD, &queued) == -1)
		queued = 0;
	while (queued > 0 && (n = listener_read_into(c, in,
	    queued < LISTENER_READ_MAX ? (size_t)queued : LISTENER_READ_MAX)) >
	    0) {
		queued -= (int)n;
		listener_frame(c, in, false);
	}
}

static void
listener_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct listener_client	*c = arg;
	struct listener		*l = c->listener;

	if ((what & BEV_EVENT_EOF) && c->partial_reject)
		listener_settle(c, bufferevent_get_input(bev), false,
		    listener_eof_cut);
	else if (what & BEV_EVENT_EOF)
		listener_frame(c, bufferevent_get_input(bev), true);
	else if (what & BEV_EVENT_TIMEOUT) {
		log_debug("listener %s: closing idle client", l->conf->name);
		/*
		 * libevent reports only the timeout when bytes arrive in the
		 * same loop turn: they wait in the socket, and the client's
		 * send() succeeded.
		 */
		listener_take_queued(c);
		listener_settle(c, bufferevent_get_input(bev), false,
		    listener_idle_cut);
	} else if (what & BEV_EVENT_ERROR) {
		log_debug("listener %s: client error: %s", l->conf->name,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		listener_settle(c, bufferevent_get_input(bev), false,
		    listener_error_cut);
		c->reply = false;	/* the connection is broken */
	}
	ingest_end(l->ingest);
	listener_reply(c);
	listener_client_free(c);
}

static bool
listener_restricted(const struct listener *l)
{
	return l->conf->nuids > 0 || l->conf->ngids > 0;
}

/* Is the peer in allow_uids, or in one of allow_gids? */
static bool
listener_peer_allowed(const struct listener *l, uid_t uid,
    const gid_t *gids, size_t ngids)
{
	const struct conf_listener	*cl = l->conf;
	size_t				 i, j;

	for (i = 0; i < cl->nuids; i++)
		if (cl->uids[i] == uid)
			return true;
	for (i = 0; i < cl->ngids; i++)
		for (j = 0; j < ngids; j++)
			if (cl->gids[i] == gids[j])
				return true;
	return false;
}

static void
listener_deny(struct listener *l, const char *what, long pid, long uid,
    long gid)
{
	l->stats.denied++;
	log_warnx_rl(&l->rl, "listener %s: %s from pid %ld uid %ld gid %ld "
	    "refused (not in allow_uids/allow_gids)", l->conf->name, what, pid,
	    uid, gid);
}

/* Checks a stream peer: its uid, primary and supplementary groups. */
static bool
listener_check_stream_peer(struct listener *l, evutil_socket_t fd)
{
	struct ucred	 cred;
	gid_t		 gids[LISTENER_MAX_GROUPS + 1];
	socklen_t	 len = sizeof(cred);
	size_t		 ngids = 1;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("listener %s: SO_PEERCRED", l->conf->name);
		listener_deny(l, "connection", -1, -1, -1);
		return false;
	}
	gids[0] = cred.gid;
#ifdef SO_PEERGROUPS
	len = sizeof(gids) - sizeof(gids[0]);
	/* more groups than fit (ERANGE): the primary one still counts */
	if (l->conf->ngids > 0 &&
	    getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, gids + 1, &len) == 0)
		ngids += len / sizeof(gids[0]);
#endif
	if (listener_peer_allowed(l, cred.uid, gids, ngids))
		return true;
	listener_deny(l, "connection", (long)cred.pid, (long)cred.uid,
	    (long)cred.gid);
	return false;
}

/* idle_timeout as a read timeout; 0 turns it off. */
static void
listener_set_idle(struct listener_client *c)
{
	uint64_t	 ms = c->listener->conf->idle_timeout_ms;
	struct timeval	 tv = stamp_timeval(ms);

	bufferevent_set_timeouts(c->bev, ms > 0 ? &tv : NULL, NULL);
}

/* The client's origin, with its pid and uid where the kernel tells. */
static uint32_t
listener_stream_origin(struct listener *l, evutil_socket_t fd)
{
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return origin_new(l->conf->name, -1, -1,
		    &l->stats.ledger);
	return origin_new(l->conf->name, (long)cred.pid, (long)cred.uid,
	    &l->stats.ledger);
}

static void
listener_accept_cb(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct listener		*l = arg;
	struct listener_client	*c;

	if (listener_restricted(l) && !listener_check_stream_peer(l, fd)) {
		evutil_closesocket(fd);
		return;
	}
	if (fdlimit_in_reserve(fd, FDLIMIT_CLIENT)) {
		l->stats.connections_refused++;
		log_warnx_rl(&l->rl, "listener %s: open files limit nearly "
		    "reached (the rest is kept for delivery and control), "
		    "connection refused", l->conf->name);
		evutil_closesocket(fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->listener = l;
	c->origin = listener_stream_origin(l, fd);
	c->frame = listener_frame_new(c);
	if ((c->bev = bufferevent_socket_new(l->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL)
		fatalx("listener %s: bufferevent_socket_new failed",
		    l->conf->name);
	bufferevent_setcb(c->bev, listener_read_cb, NULL, listener_event_cb, c);
	bufferevent_set_max_single_read(c->bev, LISTENER_READ_MAX);
	/* below delivery, so reading never starves sending (loop.c) */
	loop_set_bev_priority(c->bev, LOOP_PRI_INPUT);
	listener_set_idle(c);
	bufferevent_enable(c->bev, EV_READ);
	TAILQ_INSERT_TAIL(&l->clients, c, entry);
	l->nclients++;
	l->stats.connections++;
	listener_check_room(l);
}

/*
 * At max_clients, stop accepting: new connections wait in the socket's
 * backlog, where the kernel keeps what they write, until a client
 * leaves.  (Accepting and closing them lost what they had written while
 * their send() had succeeded.)  An EMFILE pause is left to its timer.
 */
static void
listener_check_room(struct listener *l)
{
	if (l->evl == NULL || evtimer_pending(l->ev_resume, NULL))
		return;
	if (l->nclients >= l->conf->max_clients && !l->full) {
		l->full = true;
		evconnlistener_disable(l->evl);
		log_warnx_rl(&l->rl, "listener %s: max_clients (%llu) "
		    "reached, new connections wait", l->conf->name,
		    (unsigned long long)l->conf->max_clients);
	} else if (l->nclients < l->conf->max_clients && l->full) {
		l->full = false;
		evconnlistener_enable(l->evl);
	}
}

static void
listener_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener	*l = arg;

	if (l->evl == NULL)
		return;
	evconnlistener_enable(l->evl);
	l->full = false;
	listener_check_room(l);
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

static void listener_dgram_read_cb(evutil_socket_t, short, void *);

/* Sets up reading datagrams from the bound socket `fd`. */
static int
listener_open_dgram(struct listener *l, int fd, char *err, size_t errlen)
{
	int	 on = 1;

	if (listener_restricted(l) &&
	    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) == -1) {
		snprintf(err, errlen, "%s: SO_PASSCRED: %s", l->conf->path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	l->dgram_fd = fd;
	l->dgram_size = (size_t)l->conf->max_line + 2;
	if (l->dgram_size < LISTENER_DGRAM_MIN)
		l->dgram_size = LISTENER_DGRAM_MIN;
	l->dgram_buf = xmalloc(l->dgram_size);
	l->dgram.frame = listener_frame_new(&l->dgram);
	l->ev_dgram = event_new(l->base, fd, EV_READ | EV_PERSIST,
	    listener_dgram_read_cb, l);
	if (l->ev_dgram == NULL)
		fatalx("listener %s: cannot set up events", l->conf->name);
	loop_set_priority(l->ev_dgram, LOOP_PRI_INPUT);
	if (event_add(l->ev_dgram, NULL) == -1)
		fatalx("listener %s: cannot set up events", l->conf->name);
	log_info("listener %s: receiving datagrams on %s", l->conf->name,
	    l->conf->path);
	return 0;
}

/*
 * The socket systemd passed for our path (socket activation), or one we
 * bind.  An inherited socket belongs to the socket unit: its file is
 * neither replaced nor removed, and its mode is the unit's SocketMode.
 */
static int
listener_socket(struct listener *l, char *err, size_t errlen)
{
	int	 type = l->conf->type == LISTENER_DATAGRAM ? SOCK_DGRAM :
		    SOCK_STREAM;
	int	 fd;

	if ((fd = service_take_fd(l->conf->path, type)) != -1) {
		if (evutil_make_socket_nonblocking(fd) == -1 ||
		    evutil_make_socket_closeonexec(fd) == -1)
			fatalx("listener %s: cannot set up inherited fd %d",
			    l->conf->name, fd);
		l->inherited = true;
		log_info("listener %s: using the socket systemd passed "
		    "(fd %d)", l->conf->name, fd);
		return fd;
	}
	if ((fd = sock_bind_unix(l->conf->path, type, (mode_t)l->conf->mode,
	    err, errlen)) != -1)
		l->bound = true;
	return fd;
}

int
listener_open(struct listener *l, char *err, size_t errlen)
{
	bool			 dgram = l->conf->type == LISTENER_DATAGRAM;
	int			 fd;

	if ((fd = listener_socket(l, err, errlen)) == -1)
		return -1;
	if (dgram)
		return listener_open_dgram(l, fd, err, errlen);
	l->evl = evconnlistener_new(l->base, listener_accept_cb, l,
	    (l->inherited ? 0 : LEV_OPT_CLOSE_ON_FREE) | LEV_OPT_CLOSE_ON_EXEC,
	    -1, fd);
	l->ev_resume = evtimer_new(l->base, listener_resume_cb, l);
	if (l->evl == NULL || l->ev_resume == NULL)
		fatalx("listener %s: cannot set up events", l->conf->name);
	evconnlistener_set_error_cb(l->evl, listener_error_cb);
	log_info("listener %s: listening on %s", l->conf->name, l->conf->path);
	return 0;
}

/* A datagram's sender is known: a new origin when it changes. */
static void
listener_dgram_origin(struct listener *l, const struct ucred *cred)
{
	if (cred->pid == l->dgram_peer.pid && cred->uid == l->dgram_peer.uid)
		return;
	l->dgram_peer = *cred;
	origin_put(l->dgram.origin);
	l->dgram.origin = origin_new(l->conf->name, (long)cred->pid,
	    (long)cred->uid, &l->stats.ledger);
}

/* Checks the sender of a datagram from its SCM_CREDENTIALS message. */
static bool
listener_check_dgram_peer(struct listener *l, struct msghdr *msg)
{
	struct cmsghdr	*cm;
	struct ucred	 cred;

	for (cm = CMSG_FIRSTHDR(msg); cm != NULL; cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_CREDENTIALS)
			continue;
		memcpy(&cred, CMSG_DATA(cm), sizeof(cred));
		if (listener_peer_allowed(l, cred.uid, &cred.gid, 1)) {
			listener_dgram_origin(l, &cred);
			return true;
		}
		listener_deny(l, "datagram", (long)cred.pid, (long)cred.uid,
		    (long)cred.gid);
		return false;
	}
	listener_deny(l, "datagram without credentials", -1, -1, -1);
	return false;
}

/* Frames one datagram as a complete stream: every line, the last too. */
static void
listener_dgram_frame(struct listener *l, size_t len, int64_t now)
{
	l->stats.datagrams++;
	l->dgram.now = now;
	/* a directive holds for the rest of its datagram only */
	l->dgram.route_db[0] = l->dgram.route_rp[0] = '\0';
	frame_datagram(l->dgram.frame, l->dgram_buf, len);
}

/* Receives one datagram; false when there is none left to read. */
static bool
listener_dgram_recv(struct listener *l, int64_t now)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(struct ucred))];
	}		 ctl;
	struct iovec	 iov = { l->dgram_buf, l->dgram_size };
	struct msghdr	 msg = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = &ctl, .msg_controllen = sizeof(ctl) };
	ssize_t		 n;

	if ((n = recvmsg(l->dgram_fd, &msg, MSG_DONTWAIT)) == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			log_warn("listener %s: recvmsg", l->conf->name);
		return false;
	}
	if (listener_restricted(l) && !listener_check_dgram_peer(l, &msg))
		return true;
	if (msg.msg_flags & MSG_TRUNC) {
		l->stats.datagrams++;
		l->stats.lines++;
		listener_count_reject(l, listener_dgram_too_long);
		listener_log_reject(l, listener_dgram_too_long, l->dgram_buf,
		    (size_t)n);
		return true;
	}
	listener_dgram_frame(l, (size_t)n, now);
	return true;
}

static void
listener_dgram_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener	*l = arg;
	int64_t		 now = stamp_now();
	int		 i;

	/* a bounded burst, so one busy socket cannot starve the others */
	for (i = 0; i < LISTENER_DGRAM_BURST; i++)
		if (!listener_dgram_recv(l, now))
			break;
	ingest_end(l->ingest);
}

/*
 * An inherited socket goes back to the service's pool rather than being
 * closed: a later reload may add a listener for its path again, and
 * systemd's copy keeps the path busy for a new bind.
 */
static void
listener_release_fd(struct listener *l, int fd)
{
	if (l->inherited) {
		service_give_fd(fd);
		l->inherited = false;
	} else
		close(fd);
}

/* Stops reading datagrams after taking those already queued. */
static void
listener_close_dgram(struct listener *l)
{
	if (l->dgram_fd == -1)
		return;
	while (listener_dgram_recv(l, stamp_now()))
		;
	event_free(l->ev_dgram);
	l->ev_dgram = NULL;
	listener_release_fd(l, l->dgram_fd);
	l->dgram_fd = -1;
}

/*
 * Reads whatever the client has already written.  A trailing fragment is
 * a line only if the client had ended its stream, and did not say
 * "#relay partial=reject" (as at EOF); else it is rejected rather than
 * forwarded truncated.
 */
static void
listener_client_drain(struct listener_client *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	bool		 ended;

	/* before listener_take_queued(): SHUT_RD makes every socket ended */
	ended = listener_peer_ended(bufferevent_getfd(c->bev));
	/* the directive may be in what it reads */
	listener_take_queued(c);
	if (ended && c->partial_reject)
		listener_settle(c, in, false, listener_eof_cut);
	else
		listener_settle(c, in, ended, listener_cut);
}

/* Accepts the connections still queued: their clients have sent too. */
static void
listener_accept_pending(struct listener *l)
{
	evutil_socket_t	 fd, lfd = evconnlistener_get_fd(l->evl);

	while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC |
	    SOCK_NONBLOCK)) != -1)
		listener_accept_cb(l->evl, fd, NULL, 0, l);
}

void
listener_close(struct listener *l)
{
	struct listener_client	*c;
	evutil_socket_t		 fd;

	if (l->evl != NULL) {
		if (!l->abandoned)
			listener_accept_pending(l);
		fd = evconnlistener_get_fd(l->evl);
		evconnlistener_free(l->evl);
		l->evl = NULL;
		if (l->inherited)
			listener_release_fd(l, fd);
	}
	if (l->ev_resume != NULL)
		evtimer_del(l->ev_resume);	/* an EMFILE pause */
	listener_close_dgram(l);
	while ((c = TAILQ_FIRST(&l->clients)) != NULL) {
		listener_client_drain(c);
		if (c->reply) {
			ingest_end(l->ingest);
			listener_reply(c);
		}
		listener_client_free(c);
	}
	/* what the drain accepted reaches the spools now, not at exit */
	ingest_end(l->ingest);
	if (l->bound && unlink(l->conf->path) == -1 && errno != ENOENT)
		log_warn("listener %s: unlink %s", l->conf->name,
		    l->conf->path);
	l->bound = false;
}

/* Forgets the room waits on the ingest's targets: they may outlive us. */
static void
listener_unwait(struct listener *l)
{
	struct target *const	*ts;
	size_t			 i, n;

	ts = ingest_targets(l->ingest, &n);
	for (i = 0; i < n; i++)
		target_cancel_wait(ts[i], listener_room_cb, l);
}

/* A datagram buffer for the new max_line, and credentials if needed. */
static void
listener_reconfigure_dgram(struct listener *l)
{
	size_t	 size = (size_t)l->conf->max_line + 2;
	int	 on = 1;

	if (size < LISTENER_DGRAM_MIN)
		size = LISTENER_DGRAM_MIN;
	if (size != l->dgram_size) {
		free(l->dgram_buf);
		l->dgram_buf = xmalloc(size);
		l->dgram_size = size;
	}
	if (listener_restricted(l) && setsockopt(l->dgram_fd, SOL_SOCKET,
	    SO_PASSCRED, &on, sizeof(on)) == -1)
		log_warn("listener %s: SO_PASSCRED", l->conf->name);
}

void
listener_reconfigure(struct listener *l, const struct conf_listener *conf,
    struct ingest *ingest)
{
	struct listener_client	*c;

	listener_unwait(l);
	l->conf = conf;
	l->ingest = ingest;
	l->read_need = listener_read_need(conf);
	if (l->bound && chmod(conf->path, (mode_t)conf->mode) == -1)
		log_warn("listener %s: chmod %s", conf->name, conf->path);
	if (l->dgram_fd != -1)
		listener_reconfigure_dgram(l);
	if (l->dgram.frame != NULL)
		frame_configure(l->dgram.frame, conf->max_line,
		    listener_frame_format(conf));
	TAILQ_FOREACH(c, &l->clients, entry) {
		listener_set_idle(c);
		frame_configure(c->frame, conf->max_line,
		    listener_frame_format(conf));
	}
	/* paused clients check the new targets (and wait on them) */
	listener_room_cb(NULL, l);
	listener_check_room(l);		/* max_clients may have changed */
	log_info("listener %s: reconfigured, %zu clients kept", conf->name,
	    l->nclients);
}

void
listener_free(struct listener *l)
{
	if (l == NULL)
		return;
	listener_unwait(l);
	listener_close(l);
	origin_forget_ledger(&l->stats.ledger);
	origin_put(l->dgram.origin);
	if (l->ev_resume != NULL)
		event_free(l->ev_resume);
	frame_free(l->dgram.frame);
	free(l->dgram_buf);
	free(l);
}

void
listener_abandon(struct listener *l)
{
	l->abandoned = true;
	listener_free(l);
}

const char *
listener_name(const struct listener *l)
{
	return l->conf->name;
}

size_t
listener_clients(const struct listener *l)
{
	return l->nclients;
}

const struct listener_stats *
listener_stats(const struct listener *l)
{
	return &l->stats;
}

uint64_t
listener_dropped(const struct listener *l)
{
	const uint64_t	*f = l->stats.ledger.fates;

	return f[ORIGIN_DROPPED_OVERFLOW] + f[ORIGIN_DROPPED_SERVER] +
	    f[ORIGIN_DROPPED_TOO_LARGE] + f[ORIGIN_DROPPED_REMOVED];
}

int64_t
listener_unaccounted(const struct listener *l)
{
	const struct origin_ledger	*lg = &l->stats.ledger;

	return (int64_t)(lg->queued - lg->fates[ORIGIN_WRITTEN] -
	    lg->fates[ORIGIN_SPOOLED] - lg->buffered - listener_dropped(l));
}
