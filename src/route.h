/*
 * Routing helpers for ingest: finding and cutting the routing tag out of
 * a line-protocol body, and the allowed_databases glob list.  No
 * libevent or libcurl in here: it is unit-tested directly.
 */
#ifndef RELAYD_ROUTE_H
#define RELAYD_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#define ROUTE_MAX_NAME	255	/* longest database or policy name */

/* Where a tag ",key=value" lies in a body. */
struct route_span {
	size_t		 off;		/* of the ',' before the key */
	size_t		 len;		/* through the end of the value */
	const char	*val;		/* the value, still escaped */
	size_t		 vlen;
};

/*
 * Finds tag `key` (as stored, unescaped) in a body that proto_parse()
 * accepted; false if the point has no such tag.
 */
bool	 route_find_tag(const char *body, size_t len, const char *key,
	    struct route_span *);
/*
 * Copies `body` into `out` (at least `len` bytes) without the spans
 * (either may be NULL); returns the new length.
 */
size_t	 route_cut(const char *body, size_t len, const struct route_span *,
	    const struct route_span *, char *out);
/* The tag value unescaped into `buf`; false if longer than `size` - 1. */
bool	 route_tag_value(const struct route_span *, char *buf, size_t size);
/*
 * Could InfluxDB create and name this database or retention policy?  Not
 * with control bytes (C0, DEL): such a name is refused at the socket
 * rather than held and retried forever, and never reaches a log.
 */
bool	 route_name_ok(const char *name);
/*
 * A directive line, "#relay db=NAME rp=NAME reply=summary partial=reject"
 * (any of the keys, in any order; a backslash escapes the next byte, so
 * "db=my\ db" names "my db"; an empty db or rp goes back to the
 * listener's default).
 * reply=summary asks for a summary of the connection when it ends;
 * partial=reject, that an unterminated last line at the end of the
 * connection be refused as cut rather than taken (listener.c: a client
 * library that only ever writes whole lines, and may close mid-send,
 * says so).  To InfluxDB, and to a relay that does not know it, it
 * is a comment.
 */
struct route_directive {
	bool		 has_db, has_rp;
	bool		 reply;		/* reply=summary */
	bool		 partial_reject;	/* partial=reject */
	char		 db[ROUTE_MAX_NAME + 1];
	char		 rp[ROUTE_MAX_NAME + 1];
};

enum route_line {
	ROUTE_LINE_DATA,	/* not a directive */
	ROUTE_LINE_DIRECTIVE,
	ROUTE_LINE_BAD,		/* "#relay" and something it cannot take */
};

/* What the line (without its newline) is; a directive's keys in `d`. */
enum route_line	 route_directive(const char *line, size_t len,
		    struct route_directive *d);
/* Does `db` match one of the comma-separated globs in `list`? */
bool	 route_allowed(const char *list, const char *db);

#endif
