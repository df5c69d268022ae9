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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

struct sink {
	unsigned long long	 requests, lines, bytes, connections;
};

static void
sink_request_cb(struct evhttp_request *req, void *arg)
{
	struct sink		*s = arg;
	struct evbuffer		*in = evhttp_request_get_input_buffer(req);
	struct evbuffer		*out;
	struct evbuffer_ptr	 p;
	size_t			 len = evbuffer_get_length(in);
	unsigned char		 last;

	if (evhttp_request_get_command(req) == EVHTTP_REQ_GET) {
		if ((out = evbuffer_new()) == NULL)
			abort();
		evbuffer_add_printf(out, "requests=%llu lines=%llu bytes=%llu\n",
		    s->requests, s->lines, s->bytes);
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
	struct sockaddr_storage		 ss;
	socklen_t			 len = sizeof(ss);
	struct sink			 s = { 0 };
	struct event			*ev_term, *ev_int;
	FILE				*f;

	if (argc != 2)
		return 2;
	evhttp_set_gencb(http, sink_request_cb, &s);
	evhttp_set_max_body_size(http, 1 << 30);
	if ((bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0)) == NULL)
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
	printf("requests=%llu lines=%llu bytes=%llu\n", s.requests, s.lines,
	    s.bytes);
	return 0;
}
