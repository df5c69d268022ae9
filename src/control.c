/*
 * Control socket.  Commands that wait (flush, the database calls) stop
 * reading the connection until they answer, so answers come back in
 * order.  A client that hangs up meanwhile is freed when its command
 * completes, never from under a pending callback.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "control.h"
#include "fdlimit.h"
#include "log.h"
#include "mem.h"
#include "response.h"
#include "sender.h"
#include "sock.h"
#include "stats.h"
#include "target.h"

#define CONTROL_LINE_MAX	1024
#define CONTROL_OUT_MAX		(1024 * 1024)	/* unread answers, a client */
#define CONTROL_OUT_TOTAL	(4 * 1024 * 1024) /* ... all clients */
#define CONTROL_CLIENTS_MAX	64
#define CONTROL_BUSY_ANSWER	"{\"ok\":false,\"error\":\"too many " \
	"control clients\"}\n"

struct control_client {
	TAILQ_ENTRY(control_client) entry;
	struct control		*control;
	struct bufferevent	*bev;
	bool			 flushing;	/* answers once flushed */
	bool			 busy;		/* a command is pending */
	bool			 gone;		/* hung up while busy */
	bool			 closing;	/* close once answered */
};

struct control {
	struct event_base	*base;
	const struct control_ops *ops;
	void			*arg;		/* for the ops */
	char			*path;
	struct evconnlistener	*evl;
	struct event		*ev_resume;	/* accept again after EMFILE */
	TAILQ_HEAD(, control_client) clients;
	size_t			 nclients;
	struct log_ratelimit	 rl_full;
};

static void control_read_cb(struct bufferevent *, void *);

static void
control_client_free(struct control_client *cc)
{
	TAILQ_REMOVE(&cc->control->clients, cc, entry);
	cc->control->nclients--;
	bufferevent_free(cc->bev);
	free(cc);
}

/* Sends one answer line; a pending command is over. */
static void
control_answer(struct control_client *cc, struct evbuffer *json)
{
	cc->busy = false;
	if (cc->gone) {
		control_client_free(cc);
		return;
	}
	evbuffer_add(json, "\n", 1);
	bufferevent_write_buffer(cc->bev, json);
	bufferevent_enable(cc->bev, EV_READ);
	/* commands that arrived meanwhile: later, not recursively */
	if (evbuffer_get_length(bufferevent_get_input(cc->bev)) > 0)
		bufferevent_trigger(cc->bev, EV_READ,
		    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

static void
control_answer_error(struct control_client *cc, const char *error)
{
	struct evbuffer	*out = evbuffer_new();

	evbuffer_add_printf(out, "{\"ok\":false,\"error\":");
	stats_json_string(out, error);
	evbuffer_add(out, "}", 1);
	control_answer(cc, out);
	evbuffer_free(out);
}

static void
control_answer_ok(struct control_client *cc, const char *extra)
{
	struct evbuffer	*out = evbuffer_new();

	evbuffer_add_printf(out, "{\"ok\":true%s}", extra);
	control_answer(cc, out);
	evbuffer_free(out);
}

static void
control_cmd_stats(struct control_client *cc)
{
	struct evbuffer	*out = evbuffer_new();

	evbuffer_add_printf(out, "{\"ok\":true,\"version\":\"%s\",",
	    PACKAGE_VERSION);
	cc->control->ops->stats(cc->control->arg, out);
	evbuffer_add(out, "}", 1);
	control_answer(cc, out);
	evbuffer_free(out);
}

/* A flush answers once every queue is empty or backing off. */
static void
control_flush_check(struct control_client *cc)
{
	size_t	 left;
	char	 extra[64];

	if (!cc->control->ops->flushed(cc->control->arg, &left))
		return;		/* control_settled() looks again */
	cc->flushing = false;
	snprintf(extra, sizeof(extra), ",\"buffered_points\":%zu", left);
	control_answer_ok(cc, extra);
}

/* Answers once every queue is empty or backing off after a failure. */
static void
control_cmd_flush(struct control_client *cc)
{
	cc->control->ops->flush(cc->control->arg);
	cc->flushing = true;
	control_flush_check(cc);
}

void
control_settled(struct control *c)
{
	struct control_client	*cc, *next;

	/* an answer may free a client that hung up meanwhile */
	for (cc = TAILQ_FIRST(&c->clients); cc != NULL; cc = next) {
		next = TAILQ_NEXT(cc, entry);
		if (cc->flushing)
			control_flush_check(cc);
	}
}

static void
control_query_done_cb(const struct sender_result *res, void *arg)
{
	struct control_client	*cc = arg;
	char			 err[512];

	if (response_query_ok(res->status, res->body, res->body_len)) {
		control_answer_ok(cc, "");
		return;
	}
	if (res->status == 0)
		snprintf(err, sizeof(err), "%s", res->error);
	else
		snprintf(err, sizeof(err), "HTTP %ld: %.*s", res->status,
		    (int)strcspn(res->body, "\r\n"), res->body);
	control_answer_error(cc, err);
}

/* "TARGET DATABASE": the database is the rest of the line, spaces too. */
static void
control_cmd_database(struct control_client *cc, const char *verb,
    char *args)
{
	char		*db = args + strcspn(args, " ");
	struct target	*t;

	if (*db != '\0')
		*db++ = '\0';
	if (*args == '\0' || *db == '\0') {
		control_answer_error(cc, "usage: create-database|"
		    "drop-database TARGET DATABASE");
		return;
	}
	if ((t = cc->control->ops->target(cc->control->arg, args)) == NULL) {
		control_answer_error(cc, "no such target");
		return;
	}
	target_query(t, verb, db, control_query_done_cb, cc);
}

/*
 * Re-reads the configuration file as SIGHUP does.  The answer comes after
 * the swap, from this (possibly rebound) control object.
 */
static void
control_cmd_reload(struct control_client *cc)
{
	char	 err[512];

	if (cc->control->ops->reload(cc->control->arg, err, sizeof(err)) ==
	    -1)
		control_answer_error(cc, err);
	else
		control_answer_ok(cc, "");
}

static void
control_dispatch(struct control_client *cc, char *line)
{
	char	*args = line + strcspn(line, " ");

	if (*args != '\0')
		*args++ = '\0';
	cc->busy = true;
	if (strcmp(line, "ping") == 0)
		control_answer_ok(cc, ",\"version\":\"" PACKAGE_VERSION "\"");
	else if (strcmp(line, "stats") == 0)
		control_cmd_stats(cc);
	else if (strcmp(line, "flush") == 0)
		control_cmd_flush(cc);
	else if (strcmp(line, "create-database") == 0)
		control_cmd_database(cc, "CREATE DATABASE", args);
	else if (strcmp(line, "drop-database") == 0)
		control_cmd_database(cc, "DROP DATABASE", args);
	else if (strcmp(line, "reload") == 0)
		control_cmd_reload(cc);
	else
		control_answer_error(cc, "unknown command (ping, stats, "
		    "flush, create-database, drop-database, reload)");
}

/* Bytes of answers written and not yet read, over every client. */
static size_t
control_out_total(const struct control *c)
{
	const struct control_client	*cc;
	size_t				 n = 0;

	TAILQ_FOREACH(cc, &c->clients, entry)
		n += evbuffer_get_length(bufferevent_get_output(cc->bev));
	return n;
}

/*
 * A client that does not read its answers waits before its next command:
 * past its own cap, or, once it has anything unread, past the cap of all
 * clients.  A client with nothing unread is never held up by others, so
 * unread answers stay below the total plus one answer per client.
 */
static bool
control_must_wait(const struct control_client *cc)
{
	size_t	 out = evbuffer_get_length(bufferevent_get_output(cc->bev));

	return out > CONTROL_OUT_MAX || (out > 0 &&
	    control_out_total(cc->control) > CONTROL_OUT_TOTAL);
}

/* Answers `error` and closes the connection once the answer is read. */
static void
control_refuse(struct control_client *cc, const char *error)
{
	log_warnx("control: %s, closing", error);
	cc->closing = true;
	control_answer_error(cc, error);
	/* control_answer() reads on; this client gets nothing more */
	bufferevent_disable(cc->bev, EV_READ);
}

static void
control_line(struct control_client *cc, char *line, size_t len)
{
	if (len > CONTROL_LINE_MAX)
		control_refuse(cc, "command line too long");
	else if (strlen(line) != len) {
		/* a NUL would silently cut a database name */
		cc->busy = true;
		control_answer_error(cc, "NUL byte in command");
	} else if (len > 0) {
		/* no more reading until this command answers */
		bufferevent_disable(cc->bev, EV_READ);
		control_dispatch(cc, line);
	}
}

static void
control_read_cb(struct bufferevent *bev, void *arg)
{
	struct control_client	*cc = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	size_t			 len;
	char			*line;

	while (!cc->busy && !cc->closing) {
		if (control_must_wait(cc)) {
			bufferevent_disable(bev, EV_READ);
			return;
		}
		if ((line = evbuffer_readln(in, &len,
		    EVBUFFER_EOL_CRLF)) == NULL)
			break;
		control_line(cc, line, len);
		free(line);
	}
	if (!cc->busy && !cc->closing &&
	    evbuffer_get_length(in) > CONTROL_LINE_MAX)
		control_refuse(cc, "command line too long");
}

/* The output drained below the low watermark: read commands again. */
static void
control_write_cb(struct bufferevent *bev, void *arg)
{
	struct control_client	*cc = arg;

	if (cc->closing) {
		if (!cc->busy &&
		    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			control_client_free(cc);
		return;
	}
	if (!cc->busy && !(bufferevent_get_enabled(bev) & EV_READ)) {
		bufferevent_enable(bev, EV_READ);
		control_read_cb(bev, cc);
	}
}

static void
control_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct control_client	*cc = arg;

	if (cc->busy)
		cc->gone = true;
	else
		control_client_free(cc);
}

static void
control_accept_cb(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct control		*c = arg;
	struct control_client	*cc;

	if (c->nclients >= CONTROL_CLIENTS_MAX ||
	    fdlimit_in_reserve(fd, FDLIMIT_CONTROL)) {
		/* best effort: the socket is new, its buffer empty */
		(void)write(fd, CONTROL_BUSY_ANSWER,
		    sizeof(CONTROL_BUSY_ANSWER) - 1);
		close(fd);
		log_warnx_rl(&c->rl_full, "control: %d clients, refusing "
		    "one more", CONTROL_CLIENTS_MAX);
		return;
	}
	cc = xcalloc(1, sizeof(*cc));
	cc->control = c;
	c->nclients++;
	if ((cc->bev = bufferevent_socket_new(c->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL)
		fatalx("control: bufferevent_socket_new failed");
	bufferevent_setcb(cc->bev, control_read_cb, control_write_cb,
	    control_event_cb, cc);
	bufferevent_setwatermark(cc->bev, EV_WRITE, CONTROL_OUT_MAX / 4, 0);
	bufferevent_enable(cc->bev, EV_READ);
	TAILQ_INSERT_TAIL(&c->clients, cc, entry);
}

static void
control_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct control	*c = arg;

	if (c->evl != NULL)
		evconnlistener_enable(c->evl);
}

/* Out of descriptors: pause accepting for a second instead of spinning. */
static void
control_error_cb(struct evconnlistener *evl, void *arg)
{
	struct control	*c = arg;
	struct timeval	 tv = { 1, 0 };

	log_warn("control: accept");
	evconnlistener_disable(evl);
	evtimer_add(c->ev_resume, &tv);
}

struct control *
control_new(struct event_base *base, const struct control_ops *ops,
    void *arg, const char *path)
{
	struct control		*c = xcalloc(1, sizeof(*c));
	struct log_ratelimit	 rl = LOG_RATELIMIT_INIT(10, 1);

	c->rl_full = rl;
	c->base = base;
	c->ops = ops;
	c->arg = arg;
	c->path = xstrdup(path);
	TAILQ_INIT(&c->clients);
	if ((c->ev_resume = evtimer_new(base, control_resume_cb, c)) == NULL)
		fatalx("control: evtimer_new failed");
	return c;
}

static struct evconnlistener *
control_bind(struct control *c, const char *path, char *err, size_t errlen)
{
	struct evconnlistener	*evl;
	int			 fd;

	if ((fd = sock_bind_unix(path, SOCK_STREAM, 0600, err,
	    errlen)) == -1) {
		size_t	 n = strlen(err);

		snprintf(err + n, errlen - n, " (control_socket; empty turns "
		    "the control socket off)");
		return NULL;
	}
	evl = evconnlistener_new(c->base, control_accept_cb, c,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (evl == NULL)
		fatalx("control: evconnlistener_new failed");
	evconnlistener_set_error_cb(evl, control_error_cb);
	log_info("control: listening on %s", path);
	return evl;
}

int
control_open(struct control *c, char *err, size_t errlen)
{
	return (c->evl = control_bind(c, c->path, err, errlen)) == NULL ?
	    -1 : 0;
}

int
control_rebind(struct control *c, const char *path, char *err,
    size_t errlen)
{
	struct evconnlistener	*evl = NULL;

	if (strcmp(path, c->path) == 0 && c->evl != NULL)
		return 0;
	if (path[0] != '\0' &&
	    (evl = control_bind(c, path, err, errlen)) == NULL)
		return -1;
	if (c->evl != NULL) {
		evconnlistener_free(c->evl);
		unlink(c->path);
		log_info("control: closed %s", c->path);
	}
	c->evl = evl;
	free(c->path);
	c->path = xstrdup(path);
	return 0;
}

void
control_free(struct control *c)
{
	struct control_client	*cc;

	if (c == NULL)
		return;
	while ((cc = TAILQ_FIRST(&c->clients)) != NULL)
		control_client_free(cc);
	if (c->evl != NULL) {
		evconnlistener_free(c->evl);
		unlink(c->path);
	}
	if (c->ev_resume != NULL)
		event_free(c->ev_resume);
	free(c->path);
	free(c);
}
