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
 * Finished easy handles kept for the next requests: curl_easy_init() and
 * its first setup cost more than the request itself when many databases
 * each send small batches, and curl_easy_reset() keeps the handle's
 * caches (libcurl's curl_easy_reset(3)).
 */
#define SENDER_SPARE_HANDLES	8

struct sender {
	struct event_base	*base;
	CURLM			*multi;
	struct event		*ev_timeout;
	int			 running;
	TAILQ_HEAD(, sender_request) requests;
	CURL			*spare[SENDER_SPARE_HANDLES];
	size_t			 nspare;
};

struct sender_request {
	TAILQ_ENTRY(sender_request) entry;
	struct sender		*sender;
	CURL			*easy;
	struct curl_slist	*headers;
	sender_done_cb		 cb;
	void			*arg;
	char			 body[SENDER_BODY_MAX];
	size_t			 body_len;
	bool			 body_truncated;
	uint64_t		 retry_after_ms;
	char			 error[CURL_ERROR_SIZE];
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

/* An easy handle for a new request: a spare one, reset, or a new one. */
static CURL *
sender_easy_get(struct sender *s)
{
	CURL	*e;

	if (s->nspare > 0)
		return s->spare[--s->nspare];
	if ((e = curl_easy_init()) == NULL)
		fatalx("sender: curl_easy_init failed");
	return e;
}

static void
sender_easy_put(struct sender *s, CURL *e)
{
	if (s->nspare == SENDER_SPARE_HANDLES) {
		curl_easy_cleanup(e);
		return;
	}
	/* no option (URL, credentials, body) outlives its request */
	curl_easy_reset(e);
	s->spare[s->nspare++] = e;
}

static void
sender_request_free(struct sender_request *r)
{
	curl_multi_remove_handle(r->sender->multi, r->easy);
	sender_easy_put(r->sender, r->easy);
	curl_slist_free_all(r->headers);
	TAILQ_REMOVE(&r->sender->requests, r, entry);
	free(r);
}

void
sender_free(struct sender *s)
{
	struct sender_request	*r;

	if (s == NULL)
		return;
	while ((r = TAILQ_FIRST(&s->requests)) != NULL)
		sender_request_free(r);
	while (s->nspare > 0)
		curl_easy_cleanup(s->spare[--s->nspare]);
	curl_multi_cleanup(s->multi);
	event_free(s->ev_timeout);
	free(s);
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
	sender_request_free(r);
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

static void
sender_setup_body(struct sender_request *r, const struct sender_body *b)
{
	char	 ctype[128];

	snprintf(ctype, sizeof(ctype), "Content-Type: %s", b->content_type);
	r->headers = curl_slist_append(r->headers, ctype);
	if (b->gzip)
		r->headers = curl_slist_append(r->headers,
		    "Content-Encoding: gzip");
	/* without this libcurl waits up to 1 s for "100 Continue" */
	r->headers = curl_slist_append(r->headers, "Expect:");
	curl_easy_setopt(r->easy, CURLOPT_UPLOAD_BUFFERSIZE,
	    (long)SENDER_UPLOAD_BUFFER);
	curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, b->data);
	curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)b->len);
}

void
sender_post(struct sender *s, const struct sender_opts *o, const char *url,
    const struct sender_body *body, sender_done_cb cb, void *arg)
{
	struct sender_request	*r = xcalloc(1, sizeof(*r));
	CURL			*e;

	e = r->easy = sender_easy_get(s);
	r->sender = s;
	r->cb = cb;
	r->arg = arg;
	sender_setup_body(r, body);
	sender_setup_auth(r, o);
	sender_setup_tls(e, o);
	if (sender_set(o->unix_path))
		curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, o->unix_path);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->timeout_ms);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->error);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sender_body_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, sender_header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	TAILQ_INSERT_TAIL(&s->requests, r, entry);
	if (curl_multi_add_handle(s->multi, e) != CURLM_OK)
		fatalx("sender: curl_multi_add_handle failed");
}
