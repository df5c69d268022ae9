/*
 * key=value (logfmt) messages: translates one message into normalised
 * line protocol in a caller-provided buffer, without allocating.  No
 * libevent or libcurl in here: it is unit-tested and fuzzed directly.
 */
#ifndef RELAYD_KV_H
#define RELAYD_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KV_MAX_PAIRS	1024	/* pairs per message; more is rejected */

enum kv_status {
	KV_OK,
	KV_SKIP,		/* blank line or # comment */
	KV_ERR_PAIR,		/* not key=value, bad quoting */
	KV_ERR_KEY,		/* control byte or invalid UTF-8 */
	KV_ERR_VALUE,		/* control byte or invalid UTF-8 */
	KV_ERR_DUPLICATE,
	KV_ERR_RESERVED,	/* a field or tag named "time" */
	KV_ERR_BACKSLASH,	/* cannot be escaped for line protocol */
	KV_ERR_MEASUREMENT,
	KV_ERR_FIELDS,
	KV_ERR_INTEGER_RANGE,
	KV_ERR_NUMBER_RANGE,
	KV_ERR_UNSIGNED,
	KV_ERR_TIME,
	KV_ERR_TIME_RANGE,
	KV_ERR_TOO_MANY,
	KV_ERR_TOO_LONG,	/* output buffer too small */
	KV_NSTATUS
};

/* Which keys mean what; strings are borrowed and must outlive the kv. */
struct kv_spec {
	const char	*measurement_key;
	const char	*time_key;
	const char	*database_key;		/* "" = no routing key */
	const char	*retention_policy_key;	/* "" = no routing key */
	const char	*tag_keys;		/* comma separated */
	int64_t		 precision_mult;	/* integer time unit in ns */
};

/* The translated point; pointers refer into the caller's `out`. */
struct kv_point {
	size_t		 body_len;	/* out[0..body_len): no timestamp */
	bool		 has_time;
	int64_t		 time;		/* ns */
	const char	*database;	/* NUL-terminated, or NULL */
	const char	*retention_policy;
	unsigned	 ntags;
	unsigned	 nfields;
};

struct kv;

/* A translator for `spec`; NULL with a message in `err` on bad spec. */
struct kv	*kv_new(const struct kv_spec *, char *err, size_t errlen);
void		 kv_free(struct kv *);
/*
 * Translates one message (without its newline; a trailing CR is
 * ignored) into `out`.  An output of 2 * len + 64 bytes always suffices.
 */
enum kv_status	 kv_translate(struct kv *, const char *msg, size_t len,
		    char *out, size_t outsize, struct kv_point *);
/* A short reason, e.g. "missing measurement", also a counter name. */
const char	*kv_strerror(enum kv_status);
/*
 * Parses RFC 3339 ("2024-01-02T03:04:05.5+01:00") to ns since the epoch;
 * false if malformed.  Beyond int64 it saturates to INT64_MIN/MAX.
 */
bool		 kv_parse_rfc3339(const char *s, size_t len, int64_t *ns);

#endif
