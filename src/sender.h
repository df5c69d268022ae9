/*
 * HTTP requests through one libcurl multi handle driven by libevent.  The
 * multi handle is the connection pool: connections to a URL are kept
 * alive between requests and reused by the next request to that host.
 */
#ifndef RELAYD_SENDER_H
#define RELAYD_SENDER_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct sender;

/* What came back; valid only during the completion callback. */
struct sender_result {
	long		 status;	/* HTTP status, 0 if none */
	const char	*error;		/* transport error, or NULL */
	const char	*body;		/* start of the answer (capped) */
	size_t		 body_len;
	uint64_t	 retry_after_ms; /* from Retry-After, 0 if none */
	double		 seconds;	/* total request time */
};

typedef void (*sender_done_cb)(const struct sender_result *, void *);

struct sender	*sender_new(struct event_base *);
/* Aborts every request in flight without calling their callbacks. */
void		 sender_free(struct sender *);
/*
 * POSTs `len` bytes of `body` to `url`.  The body is not copied: it must
 * stay valid until `cb` runs.  `cb` always runs, from the event loop.
 */
void		 sender_post(struct sender *, const char *url,
		    const char *content_type, const char *body, size_t len,
		    long timeout_ms, sender_done_cb cb, void *arg);
/* Requests in flight. */
size_t		 sender_active(const struct sender *);

#endif
