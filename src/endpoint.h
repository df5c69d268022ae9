/*
 * Where a target's requests go: the write URL of the v1 (/write) or v2
 * (/api/v2/write) API, the /query URL used for CREATE DATABASE, and the
 * unix:///path form that reaches InfluxDB's own UNIX socket listener.
 * Pure string work, so every form is unit-tested directly.
 */
#ifndef RELAYD_ENDPOINT_H
#define RELAYD_ENDPOINT_H

#include <stdbool.h>

/*
 * The base URL requests are built on, without a trailing '/'.  For
 * "unix:///run/influxdb.sock" that is "http://localhost" and `*unix_path`
 * gets a copy of the socket path; otherwise `*unix_path` is NULL.  The
 * caller frees both.
 */
char	*endpoint_base(const char *url, char **unix_path);
/* The write URL for `db` and `rp`: /write, or /api/v2/write if `v2`. */
char	*endpoint_write_url(const char *base, bool v2, const char *org,
	    const char *db, const char *rp);
/* The /query URL. */
char	*endpoint_query_url(const char *base);
/*
 * A form body "q=VERB \"db\"" (CREATE DATABASE, DROP DATABASE), the
 * database quoted as an InfluxQL identifier, all URL-encoded.
 */
char	*endpoint_query_body(const char *verb, const char *db);
/* True if the URL carries "user:password@" (we refuse that). */
bool	 endpoint_has_userinfo(const char *url);

#endif
