/*
 * The fault-injecting HTTP server.  libevent's evhttp does the HTTP; we
 * pick the answer.  Two evhttp details matter:
 *  - a request we hold (delayed answer) whose client went away is detached
 *    from its connection by evhttp, and evhttp_send_reply() on it then
 *    only frees it (http.c, evhttp_connection_incoming_fail/evhttp_send);
 *  - to drop a connection without an answer we shut the socket down and
 *    then reply, so evhttp's write fails and it frees the connection.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "faultd.h"
#include "mem.h"

#define FAULTD_MAX_CONNS	4096

struct faultd {
	struct event_base	*base;
	struct evhttp		*http;
	char			*url;
	char			*unix_path;
	double			 start;
	const struct faultd_step *script;
	size_t			 nscript;
	size_t			 next;
	struct faultd_step	 dflt;
	size_t			 max_body;
	const char		*refuse_mark;	/* refuse requests holding it */
	bool			 require_db;
	bool			 refuse_create;
	unsigned		 query_delay_ms;	/* answer /query late */
	const char		*prefix;	/* the API's path prefix */
	char			**dbs;		/* created databases */
	size_t			 ndbs;
	size_t			 creates;
	struct faultd_req	*reqs;
	size_t			 nreqs;
	struct evbuffer		*written;
	size_t			 points;
	/* connections: (pointer, peer port) pairs seen so far */
	const void		*conn_ptr[FAULTD_MAX_CONNS];
	unsigned		 conn_port[FAULTD_MAX_CONNS];
	unsigned		 nconns;
	unsigned		 concurrent;
	unsigned		 max_concurrent;
	TAILQ_HEAD(, faultd_pending) pending;
};

/* An answer waiting for its delay. */
struct faultd_pending {
	TAILQ_ENTRY(faultd_pending) entry;
	struct faultd		*fd;
	struct evhttp_request	*req;
	struct faultd_step	 step;
	size_t			 idx;
	struct event		*ev;
};

static double
faultd_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *
faultd_header(struct evhttp_request *req, const char *name)
{
	const char	*v = evhttp_find_header(
			    evhttp_request_get_input_headers(req), name);

	return v ? xstrdup(v) : NULL;
}

/* Inflates a gzip body; NULL if it is not valid gzip. */
static char *
faultd_gunzip(const char *in, size_t len, size_t *outlen)
{
	z_stream	 zs = { 0 };
	size_t		 cap = len * 4 + 1024;
	char		*out = xmalloc(cap);
	int		 rc;

	if (inflateInit2(&zs, 15 + 16) != Z_OK)
		abort();
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)len;
	for (;;) {
		zs.next_out = (Bytef *)out + zs.total_out;
		zs.avail_out = (uInt)(cap - zs.total_out);
		rc = inflate(&zs, Z_NO_FLUSH);
		if (rc == Z_STREAM_END)
			break;
		if (rc != Z_OK && rc != Z_BUF_ERROR) {
			inflateEnd(&zs);
			free(out);
			return NULL;
		}
		cap *= 2;
		out = xreallocarray(out, cap, 1);
	}
	*outlen = zs.total_out;
	inflateEnd(&zs);
	return out;
}

static size_t
faultd_count_lines(const char *p, size_t len)
{
	size_t	 i, n = 0;

	for (i = 0; i < len; i++)
		n += p[i] == '\n';
	return n;
}

static unsigned
faultd_conn_id(struct faultd *fd, struct evhttp_request *req)
{
	struct evhttp_connection	*conn = evhttp_request_get_connection(req);
	char				*addr = NULL;
	ev_uint16_t			 port = 0;
	unsigned			 i;

	evhttp_connection_get_peer(conn, &addr, &port);
	for (i = 0; i < fd->nconns; i++)
		if (fd->conn_ptr[i] == conn && fd->conn_port[i] == port)
			return i + 1;
	if (fd->nconns == FAULTD_MAX_CONNS)
		abort();
	fd->conn_ptr[fd->nconns] = conn;
	fd->conn_port[fd->nconns] = port;
	return ++fd->nconns;
}

/* The URI without the API's prefix; NULL if it is not under it. */
static const char *
faultd_path(const struct faultd *fd, const char *uri)
{
	size_t	 n;

	if (fd->prefix == NULL)
		return uri;
	n = strlen(fd->prefix);
	if (strncmp(uri, fd->prefix, n) != 0 || uri[n] != '/')
		return NULL;
	return uri + n;
}

static struct faultd_req *
faultd_record(struct faultd *fd, struct evhttp_request *req)
{
	struct evbuffer		*in = evhttp_request_get_input_buffer(req);
	struct faultd_req	*r;
	size_t			 len = evbuffer_get_length(in), dlen;
	char			*dec;
	const char		*path;

	fd->reqs = xreallocarray(fd->reqs, fd->nreqs + 1, sizeof(*fd->reqs));
	r = &fd->reqs[fd->nreqs++];
	memset(r, 0, sizeof(*r));
	r->t = faultd_now() - fd->start;
	r->uri = xstrdup(evhttp_request_get_uri(req));
	path = faultd_path(fd, r->uri);
	r->write = path != NULL && (strncmp(path, "/write?", 7) == 0 ||
	    strncmp(path, "/api/v2/write?", 14) == 0);
	r->expect = faultd_header(req, "Expect");
	r->auth = faultd_header(req, "Authorization");
	r->encoding = faultd_header(req, "Content-Encoding");
	r->body = xmalloc(len + 1);
	evbuffer_copyout(in, r->body, len);
	r->body[len] = '\0';
	r->len = len;
	r->points = faultd_count_lines(r->body, len);
	if (r->encoding != NULL && strcmp(r->encoding, "gzip") == 0 &&
	    (dec = faultd_gunzip(r->body, len, &dlen)) != NULL) {
		r->points = faultd_count_lines(dec, dlen);
		free(dec);
	}
	r->conn = faultd_conn_id(fd, req);
	return r;
}

static bool
faultd_has_db(const struct faultd *fd, const char *db)
{
	size_t	 i;

	for (i = 0; i < fd->ndbs; i++)
		if (strcmp(fd->dbs[i], db) == 0)
			return true;
	return false;
}

/* The db= (v1) or bucket= (v2, up to '/') of a write URI. */
static char *
faultd_uri_db(const char *uri)
{
	struct evkeyvalq	 q;
	const char		*v, *qs = strchr(uri, '?');
	char			*db;

	TAILQ_INIT(&q);
	if (qs == NULL || evhttp_parse_query_str(qs + 1, &q) == -1)
		return xstrdup("");
	if ((v = evhttp_find_header(&q, "db")) == NULL &&
	    (v = evhttp_find_header(&q, "bucket")) == NULL)
		v = "";
	db = xstrndup(v, strcspn(v, "/"));
	evhttp_clear_headers(&q);
	return db;
}

/* The answer a healthy InfluxDB would give to write request `r`. */
static void
faultd_healthy(struct faultd *fd, const struct faultd_req *r,
    struct faultd_step *st, char *msg, size_t msgsize)
{
	char	*db = faultd_uri_db(r->uri);

	memset(st, 0, sizeof(*st));
	st->status = 204;
	if (fd->max_body > 0 && r->len > fd->max_body) {
		st->status = 413;
		st->body = "{\"error\":\"Request Entity Too Large\"}";
	} else if (fd->refuse_mark != NULL && r->encoding == NULL &&
	    memmem(r->body, r->len, fd->refuse_mark,
	    strlen(fd->refuse_mark)) != NULL) {
		st->status = 400;
		st->body = "{\"error\":\"bad point\"}";
	} else if (fd->require_db && !faultd_has_db(fd, db)) {
		snprintf(msg, msgsize, "{\"error\":\"database not found: "
		    "\\\"%s\\\"\"}", db);
		st->status = 404;
		st->body = msg;
	}
	free(db);
}

static void
faultd_query(struct faultd *fd, struct faultd_req *r, struct faultd_step *st)
{
	struct evkeyvalq	 q;
	const char		*stmt;
	char			*form = xasprintf("/?%s", r->body), *db;

	memset(st, 0, sizeof(*st));
	st->status = 200;
	st->body = "{\"results\":[{\"statement_id\":0}]}";
	st->delay_ms = fd->query_delay_ms;
	TAILQ_INIT(&q);
	evhttp_parse_query(form, &q);
	stmt = evhttp_find_header(&q, "q");
	if (stmt != NULL && strncmp(stmt, "CREATE DATABASE \"", 17) == 0) {
		fd->creates++;
		if (fd->refuse_create)
			st->body = "{\"results\":[{\"statement_id\":0,\"error\":"
			    "\"error authorizing query: requires admin\"}]}";
		else {
			db = xstrndup(stmt + 17, strcspn(stmt + 17, "\""));
			fd->dbs = xreallocarray(fd->dbs, fd->ndbs + 1,
			    sizeof(*fd->dbs));
			fd->dbs[fd->ndbs++] = db;
		}
	}
	evhttp_clear_headers(&q);
	free(form);
}

static void
faultd_answer(struct faultd *fd, struct evhttp_request *req,
    const struct faultd_step *st, size_t idx)
{
	struct faultd_req	*r = &fd->reqs[idx];
	struct evbuffer		*out = evbuffer_new();
	struct bufferevent	*bev;

	fd->concurrent--;
	r->status = st->status;
	if (st->status == 0) {
		bev = evhttp_connection_get_bufferevent(
		    evhttp_request_get_connection(req));
		if (bev != NULL)
			shutdown(bufferevent_getfd(bev), SHUT_RDWR);
		evhttp_send_reply(req, 500, "Dropped", NULL);
		evbuffer_free(out);
		return;
	}
	if (st->body != NULL)
		evbuffer_add(out, st->body, strlen(st->body));
	if (st->retry_after != NULL)
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Retry-After", st->retry_after);
	if (r->write && st->status >= 200 && st->status < 300) {
		char	*dec = NULL;
		size_t	 dlen = r->len;

		if (r->encoding != NULL)
			dec = faultd_gunzip(r->body, r->len, &dlen);
		evbuffer_add(fd->written, dec ? dec : r->body, dlen);
		fd->points += r->points;
		free(dec);
	}
	evhttp_send_reply(req, st->status, "Scripted", out);
	evbuffer_free(out);
}

static void
faultd_delay_cb(evutil_socket_t s, short what, void *arg)
{
	struct faultd_pending	*p = arg;

	TAILQ_REMOVE(&p->fd->pending, p, entry);
	faultd_answer(p->fd, p->req, &p->step, p->idx);
	event_free(p->ev);
	free(p);
}

static void
faultd_request_cb(struct evhttp_request *req, void *arg)
{
	struct faultd		*fd = arg;
	struct faultd_req	*r = faultd_record(fd, req);
	struct faultd_pending	*p;
	struct faultd_step	 st;
	char			 msg[256];
	struct timeval		 tv;

	if (++fd->concurrent > fd->max_concurrent)
		fd->max_concurrent = fd->concurrent;
	if (faultd_path(fd, r->uri) == NULL) {
		memset(&st, 0, sizeof(st));
		st.status = 404;
		st.body = "404 page not found\n";
	} else if (!r->write)
		faultd_query(fd, r, &st);
	else if (fd->next < fd->nscript)
		st = fd->script[fd->next++];
	else if (fd->dflt.status != 204 || fd->dflt.delay_ms > 0)
		st = fd->dflt;
	else
		faultd_healthy(fd, r, &st, msg, sizeof(msg));
	if (st.delay_ms == 0) {
		faultd_answer(fd, req, &st, fd->nreqs - 1);
		return;
	}
	p = xcalloc(1, sizeof(*p));
	p->fd = fd;
	p->req = req;
	p->step = st;
	p->idx = fd->nreqs - 1;
	p->ev = evtimer_new(fd->base, faultd_delay_cb, p);
	TAILQ_INSERT_TAIL(&fd->pending, p, entry);
	tv.tv_sec = st.delay_ms / 1000;
	tv.tv_usec = (st.delay_ms % 1000) * 1000;
	evtimer_add(p->ev, &tv);
}

static void
faultd_bind_unix(struct faultd *fd, const char *path)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	struct evconnlistener	*l;

	unlink(path);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	l = evconnlistener_new_bind(fd->base, NULL, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1,
	    (struct sockaddr *)&sun, sizeof(sun));
	if (l == NULL || evhttp_bind_listener(fd->http, l) == NULL)
		abort();
	fd->unix_path = xstrdup(path);
	fd->url = xasprintf("unix://%s", path);
}

static void
faultd_bind_tcp(struct faultd *fd)
{
	struct evhttp_bound_socket	*bs;
	struct sockaddr_in		 sin;
	socklen_t			 len = sizeof(sin);

	if ((bs = evhttp_bind_socket_with_handle(fd->http, "127.0.0.1", 0)) ==
	    NULL)
		abort();
	if (getsockname(evhttp_bound_socket_get_fd(bs),
	    (struct sockaddr *)&sin, &len) == -1)
		abort();
	fd->url = xasprintf("http://127.0.0.1:%u", ntohs(sin.sin_port));
}

struct faultd *
faultd_new(struct event_base *base, const char *unix_path)
{
	struct faultd	*fd = xcalloc(1, sizeof(*fd));

	/* a dropped connection makes evhttp write to a shut socket */
	signal(SIGPIPE, SIG_IGN);
	fd->base = base;
	fd->start = faultd_now();
	fd->dflt.status = 204;
	TAILQ_INIT(&fd->pending);
	if ((fd->http = evhttp_new(base)) == NULL ||
	    (fd->written = evbuffer_new()) == NULL)
		abort();
	evhttp_set_allowed_methods(fd->http, EVHTTP_REQ_POST | EVHTTP_REQ_GET);
	if (unix_path != NULL)
		faultd_bind_unix(fd, unix_path);
	else
		faultd_bind_tcp(fd);
	evhttp_set_gencb(fd->http, faultd_request_cb, fd);
	return fd;
}

void
faultd_prefix(struct faultd *fd, const char *prefix)
{
	fd->prefix = prefix;
}

void
faultd_free(struct faultd *fd)
{
	size_t			 i;

	struct faultd_pending	*p;

	if (fd == NULL)
		return;
	/* answer what still waits, so evhttp frees those requests */
	while ((p = TAILQ_FIRST(&fd->pending)) != NULL)
		faultd_delay_cb(-1, 0, p);
	evhttp_free(fd->http);
	for (i = 0; i < fd->nreqs; i++) {
		free(fd->reqs[i].uri);
		free(fd->reqs[i].expect);
		free(fd->reqs[i].auth);
		free(fd->reqs[i].encoding);
		free(fd->reqs[i].body);
	}
	for (i = 0; i < fd->ndbs; i++)
		free(fd->dbs[i]);
	if (fd->unix_path != NULL)
		unlink(fd->unix_path);
	free(fd->unix_path);
	free(fd->dbs);
	free(fd->reqs);
	free(fd->url);
	evbuffer_free(fd->written);
	free(fd);
}

const char *
faultd_url(const struct faultd *fd)
{
	return fd->url;
}

void
faultd_script(struct faultd *fd, const struct faultd_step *steps, size_t n)
{
	fd->script = steps;
	fd->nscript = n;
	fd->next = 0;
}

void
faultd_default(struct faultd *fd, const struct faultd_step *st)
{
	fd->dflt = *st;
}

void
faultd_max_body(struct faultd *fd, size_t bytes)
{
	fd->max_body = bytes;
}

void
faultd_refuse_marked(struct faultd *fd, const char *mark)
{
	fd->refuse_mark = mark;
}

void
faultd_query_delay(struct faultd *fd, unsigned ms)
{
	fd->query_delay_ms = ms;
}

void
faultd_require_db(struct faultd *fd, bool require, bool refuse)
{
	fd->require_db = require;
	fd->refuse_create = refuse;
}

size_t
faultd_nreqs(const struct faultd *fd)
{
	return fd->nreqs;
}

const struct faultd_req *
faultd_req(const struct faultd *fd, size_t i)
{
	return i < fd->nreqs ? &fd->reqs[i] : NULL;
}

size_t
faultd_points(const struct faultd *fd)
{
	return fd->points;
}

const char *
faultd_written(const struct faultd *fd, size_t *len)
{
	*len = evbuffer_get_length(fd->written);
	return (const char *)evbuffer_pullup(fd->written, -1);
}

unsigned
faultd_connections(const struct faultd *fd)
{
	return fd->nconns;
}

unsigned
faultd_max_concurrent(const struct faultd *fd)
{
	return fd->max_concurrent;
}

size_t
faultd_creates(const struct faultd *fd)
{
	return fd->creates;
}
