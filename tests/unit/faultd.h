/*
 * faultd: an in-process, fault-injecting InfluxDB stand-in for tests.
 * An evhttp server on 127.0.0.1 (ephemeral port) or a UNIX socket, run by
 * the test's own event loop, so the real target and sender code talk to
 * it over real sockets.  Writes follow a script of answers (status, body,
 * Retry-After, delay, or a dropped connection), then behave like a healthy
 * InfluxDB 1.x: 404 "database not found" until CREATE DATABASE when asked
 * to, 413 above a body limit, else 204.  Every request is recorded with
 * its time, URI, headers, connection and body.
 */
#ifndef RELAYD_FAULTD_H
#define RELAYD_FAULTD_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct faultd;

/* One scripted answer to a write. */
struct faultd_step {
	int		 status;	/* 0: close the connection, no answer */
	const char	*body;		/* NULL: empty */
	const char	*retry_after;	/* Retry-After value, or NULL */
	unsigned	 delay_ms;	/* answer this late */
};

/* One request as the server saw it (owned by the faultd). */
struct faultd_req {
	double		 t;		/* seconds since faultd_new() */
	bool		 write;		/* /write or /api/v2/write */
	char		*uri;
	char		*expect;	/* header values, NULL if absent */
	char		*auth;
	char		*encoding;
	char		*body;		/* as received (maybe gzip) */
	size_t		 len;
	size_t		 points;	/* lines of the decoded body */
	unsigned	 conn;		/* 1.. in order of first appearance */
	int		 status;	/* answered, 0 for a dropped one */
};

/* A server on 127.0.0.1:0, or on the UNIX socket `unix_path` if set. */
struct faultd	*faultd_new(struct event_base *, const char *unix_path);
void		 faultd_free(struct faultd *);
/* "http://127.0.0.1:PORT" (or "unix:///path"); owned by the faultd. */
const char	*faultd_url(const struct faultd *);
/* Answers the next writes with `steps` (copied pointers), in order. */
void		 faultd_script(struct faultd *, const struct faultd_step *,
		    size_t n);
/* After the script, answer every write with `step` (status 0 = drop). */
void		 faultd_default(struct faultd *, const struct faultd_step *);
/* Answers 413 to write bodies larger than `bytes` (0 = no limit). */
void		 faultd_max_body(struct faultd *, size_t bytes);
/* Databases must be created first (404 before); `refuse` CREATEs. */
void		 faultd_require_db(struct faultd *, bool require, bool refuse);
/*
 * Serves the API under `prefix` only (static, e.g. "/influxdb"), as
 * behind a reverse proxy: any other path is answered 404 page not found.
 */
void		 faultd_prefix(struct faultd *, const char *prefix);
/* Answers every /query (CREATE DATABASE...) `ms` late. */
void		 faultd_query_delay(struct faultd *, unsigned ms);
/*
 * Refuses whole, with a bare 400 and nothing stored, every write whose
 * (uncompressed) body holds `mark` (static; NULL turns it off).
 */
void		 faultd_refuse_marked(struct faultd *, const char *mark);
size_t		 faultd_nreqs(const struct faultd *);
const struct faultd_req *faultd_req(const struct faultd *, size_t i);
/* Writes answered 2xx: their points, decoded bodies concatenated. */
size_t		 faultd_points(const struct faultd *);
const char	*faultd_written(const struct faultd *, size_t *len);
/* TCP connections seen; most requests answered at the same time. */
unsigned	 faultd_connections(const struct faultd *);
unsigned	 faultd_max_concurrent(const struct faultd *);
size_t		 faultd_creates(const struct faultd *);

#endif
