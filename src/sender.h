/*
 * HTTP requests through one libcurl multi handle driven by libevent.  The
 * multi handle is the connection pool: connections to a URL are kept
 * alive between requests and reused by the next request to that host.
 */
#ifndef RELAYD_SENDER_H
#define RELAYD_SENDER_H

#include <stdbool.h>
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
	bool		 body_truncated; /* the answer was longer */
	uint64_t	 retry_after_ms; /* from Retry-After, 0 if none */
	double		 seconds;	/* total request time */
};

/*
 * How to reach one server: plain data owned by the caller, which keeps it
 * valid while its requests run.  NULL or "" means "not set".
 */
struct sender_opts {
	const char	*unix_path;	/* connect to this UNIX socket */
	const char	*username;	/* Authorization: Basic */
	const char	*password;
	const char	*token;		/* Authorization: Token */
	const char	*tls_ca;
	const char	*tls_cert;
	const char	*tls_key;
	bool		 tls_verify;
	long		 timeout_ms;
	/*
	 * Set by sender_opts_changed() whenever a field changed: requests
	 * of one serial share easy handles set up once.  0: set up anew.
	 */
	uint64_t	 serial;
};

/* A request body; `data` is not copied and must outlive the request. */
struct sender_body {
	const char	*data;
	size_t		 len;
	const char	*content_type;
	bool		 gzip;		/* data is gzip: Content-Encoding */
};

typedef void (*sender_done_cb)(const struct sender_result *, void *);

struct sender	*sender_new(struct event_base *);
/* `o` was filled or changed: gives it a serial never used before. */
void		 sender_opts_changed(struct sender *, struct sender_opts *o);
/* Aborts every request in flight without calling their callbacks. */
void		 sender_free(struct sender *);
/*
 * POSTs `body` to `url`.  `cb` always runs, from the event loop, unless
 * the sender is freed first.
 */
void		 sender_post(struct sender *, const struct sender_opts *,
		    const char *url, const struct sender_body *,
		    sender_done_cb cb, void *arg);

#endif
