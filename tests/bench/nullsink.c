/*
 * nullsink: an HTTP server that answers 204 to every request and counts
 * the lines it received, for measuring the relay without InfluxDB's cost.
 *
 *   nullsink PORTFILE
 * listens on 127.0.0.1:0, writes the port to PORTFILE, and on SIGTERM
 * (or SIGINT) prints "requests=N lines=N bytes=N".  A GET answers the
 * same line, so a benchmark can wait until everything arrived.  A body
 * whose last line has no '\n' (syslog-ng puts its delimiter only between
 * lines) counts that line too.
 */
#include "config.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

/* Lines per database, in an open-addressing table that doubles. */
struct sink_db {
	char			*name;
	unsigned long long	 lines;
};

struct sink {
	unsigned long long	 requests, lines, bytes, connections;
	struct sink_db		*dbs;
	size_t			 ndbs, size;
};

static void *
sink_calloc(size_t n, size_t size)
{
	void	*p;

	if ((p = calloc(n, size)) == NULL)
		abort();
	return p;
}

static uint32_t
sink_hash(const char *p, size_t len)
{
	uint32_t	 h = 2166136261u;

	while (len-- > 0)
		h = (h ^ (unsigned char)*p++) * 16777619u;
	return h;
}

/* The slot of name (len bytes) in dbs[size], empty if it is not there. */
static struct sink_db *
sink_db_slot(struct sink_db *dbs, size_t size, const char *name, size_t len)
{
	size_t	 i = sink_hash(name, len) & (size - 1);

	while (dbs[i].name != NULL && (strncmp(dbs[i].name, name, len) != 0 ||
	    dbs[i].name[len] != '\0'))
		i = (i + 1) & (size - 1);
	return &dbs[i];
}

static void
sink_db_grow(struct sink *s)
{
	struct sink_db	*old = s->dbs;
	size_t		 i, size = s->size;

	s->size = size ? size * 2 : 1024;
	s->dbs = sink_calloc(s->size, sizeof(*s->dbs));
	for (i = 0; i < size; i++)
		if (old[i].name != NULL)
			*sink_db_slot(s->dbs, s->size, old[i].name,
			    strlen(old[i].name)) = old[i];
	free(old);
}

/* Counts lines for the db= parameter of uri, if it has one. */
static void
sink_db_add(struct sink *s, const char *uri, unsigned long long lines)
{
	struct sink_db	*db;
	const char	*p;
	size_t		 len;

	if ((p = strchr(uri, '?')) == NULL)
		return;
	while (strncmp(p + 1, "db=", 3) != 0)
		if ((p = strchr(p + 1, '&')) == NULL)
			return;
	p += 4;
	len = strcspn(p, "&");
	if (2 * (s->ndbs + 1) > s->size)
		sink_db_grow(s);
	db = sink_db_slot(s->dbs, s->size, p, len);
	if (db->name == NULL) {
		db->name = strndup(p, len);
		if (db->name == NULL)
			abort();
		s->ndbs++;
	}
	db->lines += lines;
}

static void
sink_free(struct sink *s)
{
	size_t	 i;

	for (i = 0; i < s->size; i++)
		free(s->dbs[i].name);
	free(s->dbs);
}

/* "requests=N lines=N bytes=N dbs=N dbmin=N dbmax=N" into out. */
static void
sink_report(struct sink *s, struct evbuffer *out)
{
	unsigned long long	 min = 0, max = 0;
	size_t			 i;

	for (i = 0; i < s->size; i++) {
		if (s->dbs[i].name == NULL)
			continue;
		if (max == 0 || s->dbs[i].lines < min)
			min = s->dbs[i].lines;
		if (s->dbs[i].lines > max)
			max = s->dbs[i].lines;
	}
	evbuffer_add_printf(out, "requests=%llu lines=%llu bytes=%llu dbs=%zu "
	    "dbmin=%llu dbmax=%llu\n", s->requests, s->lines, s->bytes,
	    s->ndbs, min, max);
}

static void
sink_request_cb(struct evhttp_request *req, void *arg)
{
	struct sink		*s = arg;
	struct evbuffer		*in = evhttp_request_get_input_buffer(req);
	struct evbuffer		*out;
	struct evbuffer_ptr	 p;
	size_t			 len = evbuffer_get_length(in);
	unsigned long long	 lines = s->lines;
	unsigned char		 last;

	if (evhttp_request_get_command(req) == EVHTTP_REQ_GET) {
		if ((out = evbuffer_new()) == NULL)
			abort();
		sink_report(s, out);
		evhttp_send_reply(req, 200, "OK", out);
		evbuffer_free(out);
		return;
	}
	s->requests++;
	s->bytes += len;
	p = evbuffer_search(in, "\n", 1, NULL);
	while (p.pos >= 0) {
		s->lines++;
		if (evbuffer_ptr_set(in, &p, 1, EVBUFFER_PTR_ADD) == -1)
			break;
		p = evbuffer_search(in, "\n", 1, &p);
	}
	if (len > 0 && evbuffer_ptr_set(in, &p, len - 1, EVBUFFER_PTR_SET) == 0 &&
	    evbuffer_copyout_from(in, &p, &last, 1) == 1 && last != '\n')
		s->lines++;
	sink_db_add(s, evhttp_request_get_uri(req), s->lines - lines);
	evhttp_send_reply(req, 204, "No Content", NULL);
}

static void
sink_conn_cb(struct evhttp_connection *c, void *arg)
{
	(void)c;
	(void)arg;
}

static void
sink_stop_cb(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(arg);
}

int
main(int argc, char *argv[])
{
	struct event_base		*base = event_base_new();
	struct evhttp			*http = evhttp_new(base);
	struct evhttp_bound_socket	*bs;
	struct evconnlistener		*lev;
	struct sockaddr_in		 sin = { .sin_family = AF_INET };
	struct sockaddr_storage		 ss;
	socklen_t			 len = sizeof(ss);
	struct sink			 s = { 0 };
	struct event			*ev_term, *ev_int;
	struct evbuffer			*out;
	FILE				*f;

	if (argc != 2)
		return 2;
	evhttp_set_gencb(http, sink_request_cb, &s);
	evhttp_set_max_body_size(http, 1 << 30);
	/*
	 * evhttp_bind_socket() listens with a backlog of 128: thousands of
	 * senders connecting at once (syslog-ng, one connection per
	 * database) would overflow it and wait out connect timeouts.
	 */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lev = evconnlistener_new_bind(base, NULL, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 65535,
	    (struct sockaddr *)&sin, sizeof(sin))) == NULL ||
	    (bs = evhttp_bind_listener(http, lev)) == NULL)
		return 1;
	getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss,
	    &len);
	if ((f = fopen(argv[1], "w")) == NULL)
		return 1;
	fprintf(f, "%d\n", ntohs(((struct sockaddr_in *)&ss)->sin_port));
	fclose(f);
	ev_term = evsignal_new(base, SIGTERM, sink_stop_cb, base);
	ev_int = evsignal_new(base, SIGINT, sink_stop_cb, base);
	evsignal_add(ev_term, NULL);
	evsignal_add(ev_int, NULL);
	(void)sink_conn_cb;
	event_base_dispatch(base);
	if ((out = evbuffer_new()) == NULL)
		abort();
	sink_report(&s, out);
	fwrite(evbuffer_pullup(out, -1), 1, evbuffer_get_length(out), stdout);
	evbuffer_free(out);
	/* the sanitizer build fails a test whose sink leaks */
	sink_free(&s);
	return 0;
}
