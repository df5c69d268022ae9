/*
 * InfluxDB line protocol: splits one line into measurement, tags, fields
 * and timestamp and checks it the way InfluxDB 1.x does, without copying
 * or allocating.  No libevent or libcurl in here: it is unit-tested and
 * fuzzed directly.
 */
#ifndef RELAYD_PROTO_H
#define RELAYD_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* InfluxDB 1.x's representable range (models.MinNanoTime/MaxNanoTime). */
#define PROTO_MIN_TIME	(INT64_MIN + 2)
#define PROTO_MAX_TIME	(INT64_MAX - 1)

enum proto_status {
	PROTO_OK,		/* a point */
	PROTO_SKIP,		/* blank line or # comment */
	PROTO_ERR_MEASUREMENT,
	PROTO_ERR_TAG_KEY,
	PROTO_ERR_TAG_VALUE,
	PROTO_ERR_DUPLICATE_TAG,
	PROTO_ERR_FIELDS,
	PROTO_ERR_FIELD_KEY,
	PROTO_ERR_FIELD_VALUE,
	PROTO_ERR_STRING,
	PROTO_ERR_NUMBER,
	PROTO_ERR_INTEGER_RANGE,
	PROTO_ERR_UNSIGNED,
	PROTO_ERR_TIMESTAMP,
	PROTO_ERR_TIME_RANGE,
	PROTO_NSTATUS
};

/* A parsed line; pointers refer into the caller's buffer. */
struct proto_point {
	const char	*body;		/* measurement through the last field */
	size_t		 body_len;
	bool		 has_time;
	int64_t		 time;		/* as written, in the input precision */
	unsigned	 ntags;
	unsigned	 nfields;
};

/* Parses one line (without its newline; a trailing CR is ignored). */
enum proto_status proto_parse(const char *line, size_t len,
		    struct proto_point *pt);
/* A short reason, e.g. "missing fields", also used as a counter name. */
const char	*proto_strerror(enum proto_status);
/* Converts `t` from a precision multiplier to ns; false if out of range. */
bool		 proto_time_to_ns(int64_t t, int64_t mult, int64_t *ns);

#endif
