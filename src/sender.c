/*
 * libcurl multi_socket wired to libevent, as curl's hiperfifo.c and
 * multi-event.c examples do: curl tells us which sockets to watch
 * (CURLMOPT_SOCKETFUNCTION) and when to time out (CURLMOPT_TIMERFUNCTION);
 * we call curl_multi_socket_action() when either fires and then drain
 * curl_multi_info_read() for finished transfers.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "log.h"
#include "loop.h"
#include "mem.h"
#include "sender.h"
#include "stamp.h"

#define SENDER_BODY_MAX	4096	/* enough for InfluxDB's error JSON */
/*
 * libcurl copies a POST body through its upload buffer and writes at most
 * one buffer per socket callback; its 64K default made a 600K batch take
 * ten loop turns (and ten epoll_waits over every ready client).
 */
#define SENDER_UPLOAD_BUFFER	(512 * 1024)
/*
 * Finished requests kept, each with its easy handle, for the next ones.
 * A handle keeps its options between transfers ("Options set with this
 * function call are valid for all forthcoming transfers performed using
 * this handle", curl_easy_setopt(3)), so a request on a handle set up for
 * the same server and body kind sets only its URL and body: no
 * curl_easy_reset(), no header list, no 20 options again.  With 10,000
 * databases each sending small batches that setup was a tenth of the
 * relay's instructions per request (callgrind).
 */
#define SENDER_SPARE_HANDLES	16

struct sender {
	struct event_base	*base;
	CURLM			*multi;
	struct event		*ev_timeout;
	int			 running;
	uint64_t		 serial;	/* the last opts serial given */
	/* in flight, and finished ones kept (most recent first) */
	TAILQ_HEAD(sender_request_list, sender_request) requests;
	struct sender_request_list spare;
	size_t			 nspare;
};

/*
 * A request and its easy handle: they live and are reused together, so
 * CURLOPT_PRIVATE, the callbacks' data and the header list are set once.
 */
struct sender_request {
	TAILQ_ENTRY(sender_request) entry;
	struct sender		*sender;
	CURL			*easy;
	struct curl_slist	*headers;	/* the handle's, owned */
	/* what the handle's options were set up for (serial 0: nothing) */
	uint64_t		 serial;
	char			 content_type[64];
	bool			 gzip;
	sender_done_cb		 cb;
	void			*arg;
	size_t			 body_len;
	bool			 body_truncated;
	uint64_t		 retry_after_ms;
	char			 error[CURL_ERROR_SIZE];
	char			 body[SENDER_BODY_MAX];
};

/* The watch on one socket curl asked for (curl_multi_assign'ed to it). */
struct sender_socket {
	struct event		*ev;
};

static void sender_check_done(struct sender *);

static void
sender_socket_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sender	*s = arg;
	int		 flags = 0;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(s->multi, fd, flags, &s->running);
	/*
	 * Unlike hiperfifo.c we do not delete the timer when nothing runs:
	 * a completion callback may just have added a request, and curl
	 * asked for that timer; curl deletes it itself (timeout -1).
	 */
	sender_check_done(s);
}

static void
sender_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sender	*s = arg;

	curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &s->running);
	sender_check_done(s);
}

/* CURLMOPT_SOCKETFUNCTION: start, change or stop watching a socket. */
static int
sender_watch_cb(CURL *easy, curl_socket_t fd, int what, void *arg,
    void *sockp)
{
	struct sender		*s = arg;
	struct sender_socket	*ss = sockp;
	short			 events = EV_PERSIST;

	if (what == CURL_POLL_REMOVE) {
		if (ss != NULL) {
			event_free(ss->ev);
			free(ss);
		}
		curl_multi_assign(s->multi, fd, NULL);
		return 0;
	}
	if (ss == NULL) {
		ss = xcalloc(1, sizeof(*ss));
		curl_multi_assign(s->multi, fd, ss);
	} else
		event_free(ss->ev);
	if (what & CURL_POLL_IN)
		events |= EV_READ;
	if (what & CURL_POLL_OUT)
		events |= EV_WRITE;
	if ((ss->ev = event_new(s->base, fd, events, sender_socket_cb, s)) ==
	    NULL)
		fatalx("sender: cannot watch socket %d", (int)fd);
	/* delivery before reading clients: see loop.c */
	loop_set_priority(ss->ev, LOOP_PRI_DELIVERY);
	if (event_add(ss->ev, NULL) == -1)
		fatalx("sender: cannot watch socket %d", (int)fd);
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: -1 deletes the timer, 0 means "call soon". */
static int
sender_timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
	struct sender	*s = arg;
	struct timeval	 tv;

	if (timeout_ms < 0) {
		evtimer_del(s->ev_timeout);
		return 0;
	}
	tv = stamp_timeval((uint64_t)timeout_ms);
	evtimer_add(s->ev_timeout, &tv);
	return 0;
}

struct sender *
sender_new(struct event_base *base)
{
	struct sender	*s = xcalloc(1, sizeof(*s));

	s->base = base;
	TAILQ_INIT(&s->requests);
	TAILQ_INIT(&s->spare);
	if ((s->multi = curl_multi_init()) == NULL)
		fatalx("sender: curl_multi_init failed");
	if ((s->ev_timeout = evtimer_new(base, sender_timeout_cb, s)) == NULL)
		fatalx("sender: evtimer_new failed");
	/* curl starts a request from this timer ("call soon") */
	loop_set_priority(s->ev_timeout, LOOP_PRI_DELIVERY);
	curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, sender_watch_cb);
	curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s);
	curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, sender_timer_cb);
	curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s);
	return s;
}

/* A request and its handle, to be set up for its first transfer. */
static struct sender_request *
sender_request_new(struct sender *s)
{
	struct sender_request	*r = xcalloc(1, sizeof(*r));

	r->sender = s;
	if ((r->easy = curl_easy_init()) == NULL)
		fatalx("sender: curl_easy_init failed");
	return r;
}

static void
sender_request_free(struct sender_request *r)
{
	curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	free(r);
}

/* A finished request: its handle is kept for the next, or freed. */
static void
sender_request_done(struct sender_request *r)
{
	struct sender	*s = r->sender;

	curl_multi_remove_handle(s->multi, r->easy);
	TAILQ_REMOVE(&s->requests, r, entry);
	if (s->nspare == SENDER_SPARE_HANDLES) {
		sender_request_free(r);
		return;
	}
	TAILQ_INSERT_HEAD(&s->spare, r, entry);
	s->nspare++;
}

void
sender_free(struct sender *s)
{
	struct sender_request	*r;

	if (s == NULL)
		return;
	while ((r = TAILQ_FIRST(&s->requests)) != NULL) {
		curl_multi_remove_handle(s->multi, r->easy);
		TAILQ_REMOVE(&s->requests, r, entry);
		sender_request_free(r);
	}
	while ((r = TAILQ_FIRST(&s->spare)) != NULL) {
		TAILQ_REMOVE(&s->spare, r, entry);
		sender_request_free(r);
	}
	curl_multi_cleanup(s->multi);
	event_free(s->ev_timeout);
	free(s);
}

void
sender_opts_changed(struct sender *s, struct sender_opts *o)
{
	o->serial = ++s->serial;
}

/* CURLOPT_WRITEFUNCTION: keep the start of the answer for the logs. */
static size_t
sender_body_cb(char *data, size_t size, size_t n, void *arg)
{
	struct sender_request	*r = arg;
	size_t			 len = size * n;
	size_t			 room = sizeof(r->body) - 1 - r->body_len;
	size_t			 take = len < room ? len : room;

	if (take < len)
		r->body_truncated = true;
	memcpy(r->body + r->body_len, data, take);
	r->body_len += take;
	r->body[r->body_len] = '\0';
	return len;
}

/* CURLOPT_HEADERFUNCTION: notes Retry-After (seconds or an HTTP date). */
static size_t
sender_header_cb(char *data, size_t size, size_t n, void *arg)
{
	struct sender_request	*r = arg;
	size_t			 len = size * n;
	char			 value[64];
	const char		*p = data + 12;
	char			*end;
	long			 secs;
	time_t			 when;

	if (len < 13 || strncasecmp(data, "Retry-After:", 12) != 0)
		return len;
	while (p < data + len && (*p == ' ' || *p == '\t'))
		p++;
	snprintf(value, sizeof(value), "%.*s", (int)(data + len - p), p);
	value[strcspn(value, "\r\n")] = '\0';
	secs = strtol(value, &end, 10);
	if (end != value && *end == '\0' && secs >= 0)
		/* saturate: the target caps it anyway */
		r->retry_after_ms = secs > 86400 * 365 ? UINT64_MAX / 2 :
		    (uint64_t)secs * 1000;
	else if ((when = curl_getdate(value, NULL)) != -1 &&
	    when > time(NULL))
		r->retry_after_ms = (uint64_t)(when - time(NULL)) * 1000;
	return len;
}

static void
sender_finish(struct sender *s, CURL *easy, CURLcode code)
{
	struct sender_request	*r;
	struct sender_result	 res = { 0 };

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
	curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME, &res.seconds);
	if (code == CURLE_OK)
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &res.status);
	else
		res.error = r->error[0] ? r->error : curl_easy_strerror(code);
	res.body = r->body;
	res.body_len = r->body_len;
	res.body_truncated = r->body_truncated;
	res.retry_after_ms = r->retry_after_ms;
	r->cb(&res, r->arg);
	sender_request_done(r);
}

/* Hands every finished transfer to its owner. */
static void
sender_check_done(struct sender *s)
{
	CURLMsg	*msg;
	int	 left;

	while ((msg = curl_multi_info_read(s->multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE)
			sender_finish(s, msg->easy_handle, msg->data.result);
}

static bool
sender_set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

/* Credentials go in headers only, never in the URL (DESIGN §5). */
static void
sender_setup_auth(struct sender_request *r, const struct sender_opts *o)
{
	char	*hdr;

	if (sender_set(o->token)) {
		hdr = xasprintf("Authorization: Token %s", o->token);
		r->headers = curl_slist_append(r->headers, hdr);
		/* curl_slist_append copied it: wipe ours */
		explicit_bzero(hdr, strlen(hdr));
		free(hdr);
	} else if (sender_set(o->username)) {
		/*
		 * With one method only (CURLAUTH_BASIC) libcurl puts the
		 * header in the first request instead of waiting for a 401
		 * challenge (everything-curl, "HTTP authentication").  The
		 * password never goes into the URL, so curl's own messages
		 * cannot show it.
		 */
		curl_easy_setopt(r->easy, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(r->easy, CURLOPT_USERNAME, o->username);
		curl_easy_setopt(r->easy, CURLOPT_PASSWORD,
		    o->password ? o->password : "");
	}
}

static void
sender_setup_tls(CURL *e, const struct sender_opts *o)
{
	if (sender_set(o->tls_ca))
		curl_easy_setopt(e, CURLOPT_CAINFO, o->tls_ca);
	if (sender_set(o->tls_cert))
		curl_easy_setopt(e, CURLOPT_SSLCERT, o->tls_cert);
	if (sender_set(o->tls_key))
		curl_easy_setopt(e, CURLOPT_SSLKEY, o->tls_key);
	if (!o->tls_verify) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
}

/*
 * The headers every request of this kind carries.  libcurl copies each
 * request header through its printf engine a byte at a time (7.88), one
 * of its largest costs per request, so the list holds no more than the
 * server needs: the User-Agent as a plain header (CURLOPT_USERAGENT
 * formats it twice), no Accept header (a header with nothing after the
 * colon removes the one libcurl would add, CURLOPT_HTTPHEADER(3)), and an
 * empty Expect, without which libcurl waits up to 1 s for "100 Continue".
 */
static void
sender_setup_headers(struct sender_request *r, const struct sender_body *b)
{
	char	 ctype[128];

	snprintf(ctype, sizeof(ctype), "Content-Type: %s", b->content_type);
	r->headers = curl_slist_append(r->headers, ctype);
	if (b->gzip)
		r->headers = curl_slist_append(r->headers,
		    "Content-Encoding: gzip");
	r->headers = curl_slist_append(r->headers,
	    "User-Agent: " PACKAGE_NAME "/" PACKAGE_VERSION);
	r->headers = curl_slist_append(r->headers, "Accept:");
	r->headers = curl_slist_append(r->headers, "Expect:");
}

/* True if the handle is set up for requests of `o` with bodies like `b`. */
static bool
sender_request_fits(const struct sender_request *r,
    const struct sender_opts *o, const struct sender_body *b)
{
	return o->serial != 0 && r->serial == o->serial &&
	    r->gzip == b->gzip && strcmp(r->content_type, b->content_type) == 0;
}

/* Sets every option but the URL and the body, from libcurl's defaults. */
static void
sender_setup(struct sender_request *r, const struct sender_opts *o,
    const struct sender_body *b)
{
	CURL	*e = r->easy;

	/* no option (credentials, TLS files) of another server stays */
	curl_easy_reset(e);
	curl_slist_free_all(r->headers);
	r->headers = NULL;
	r->serial = o->serial;
	r->gzip = b->gzip;
	if (strlen(b->content_type) < sizeof(r->content_type))
		strcpy(r->content_type, b->content_type);
	else
		r->serial = 0;	/* never reused as is */
	sender_setup_headers(r, b);
	sender_setup_auth(r, o);
	sender_setup_tls(e, o);
	if (sender_set(o->unix_path))
		curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, o->unix_path);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE,
	    (long)SENDER_UPLOAD_BUFFER);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->timeout_ms);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->error);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sender_body_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, sender_header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
}

/*
 * A request for `o` and `b`: a spare one set up for them, else the
 * least recently used spare (set up again), else a new one.
 */
static struct sender_request *
sender_request_get(struct sender *s, const struct sender_opts *o,
    const struct sender_body *b)
{
	struct sender_request	*r;

	TAILQ_FOREACH(r, &s->spare, entry)
		if (sender_request_fits(r, o, b))
			break;
	if (r == NULL)
		r = TAILQ_LAST(&s->spare, sender_request_list);
	if (r != NULL) {
		TAILQ_REMOVE(&s->spare, r, entry);
		s->nspare--;
	} else
		r = sender_request_new(s);
	if (!sender_request_fits(r, o, b))
		sender_setup(r, o, b);
	return r;
}

void
sender_post(struct sender *s, const struct sender_opts *o, const char *url,
    const struct sender_body *body, sender_done_cb cb, void *arg)
{
	struct sender_request	*r = sender_request_get(s, o, body);
	CURL			*e = r->easy;

	r->cb = cb;
	r->arg = arg;
	r->body_len = 0;
	r->body[0] = '\0';
	r->body_truncated = false;
	r->retry_after_ms = 0;
	r->error[0] = '\0';
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, body->data);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)body->len);
	TAILQ_INSERT_TAIL(&s->requests, r, entry);
	if (curl_multi_add_handle(s->multi, e) != CURLM_OK)
		fatalx("sender: curl_multi_add_handle failed");
}
