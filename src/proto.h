/*
 * InfluxDB line protocol: frames lines in a stream and checks each line
 * the way InfluxDB 1.x (1.6, the tested server) does, without copying or
 * allocating.  No libevent or libcurl in here: it is unit-tested and
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

/* models.MaxKeyLength: series key plus 4 plus field key. */
#define PROTO_MAX_KEY	65535

enum proto_status {
	PROTO_OK,		/* a point */
	PROTO_SKIP,		/* blank line or # comment */
	PROTO_ERR_MEASUREMENT,
	PROTO_ERR_TAG_KEY,
	PROTO_ERR_TAG_VALUE,
	PROTO_ERR_TAG_FORMAT,
	PROTO_ERR_DUPLICATE_TAG,
	PROTO_ERR_FIELDS,
	PROTO_ERR_FIELD_KEY,
	PROTO_ERR_FIELD_VALUE,
	PROTO_ERR_FIELD_FORMAT,
	PROTO_ERR_STRING,
	PROTO_ERR_NUMBER,
	PROTO_ERR_BOOLEAN,
	PROTO_ERR_INTEGER_RANGE,
	PROTO_ERR_UNSIGNED,
	PROTO_ERR_TIMESTAMP,
	PROTO_ERR_TIME_RANGE,
	PROTO_ERR_KEY_LENGTH,
	PROTO_ERR_TIME_KEY,
	PROTO_ERR_TYPE_CONFLICT,
	PROTO_ERR_UTF8,
	PROTO_ERR_AMBIGUOUS,
	PROTO_NSTATUS
};

/* Field types as InfluxDB's field iterator guesses them. */
enum proto_type {
	PROTO_T_EMPTY,
	PROTO_T_FLOAT,
	PROTO_T_INTEGER,
	PROTO_T_UNSIGNED,
	PROTO_T_BOOLEAN,
	PROTO_T_STRING
};

/*
 * A field as the batching needs it: its key as written (in the parsed
 * line), the type InfluxDB gives it, and which (measurement, field key)
 * it is, as a hash of the two names as written, which proto_hash_ids()
 * computes when it is needed.  Two spellings of one name (escapes) hash
 * apart; the delivery's bisection catches the conflicts that slip
 * through that way.
 */
struct proto_field_id {
	uint64_t	 hash;
	const char	*key;
	uint32_t	 key_len;
	enum proto_type	 type;
};

/* Fields of a point whose ids are recorded; later ones go unchecked. */
#define PROTO_MAX_FIELD_IDS	32

/* A parsed line; pointers refer into the caller's buffer. */
struct proto_point {
	/*
	 * What to forward: the line from its first byte (leading blanks
	 * included, as they steer InfluxDB's framing) through the last
	 * field.  The caller appends " TIMESTAMP\n".
	 */
	const char	*body;
	size_t		 body_len;
	bool		 has_time;
	int64_t		 time;		/* as written, in the input precision */
	/*
	 * The timestamp as written, if that is how proto_format_tail()
	 * writes `time` (no leading zeros, no "-0"); else NULL.
	 */
	const char	*time_text;
	size_t		 time_len;
	unsigned	 ntags;
	unsigned	 nfields;
	/*
	 * No '"', '\\' or '\n' anywhere in the line: wherever it sits in
	 * a stream, the first '\n' after it ends it (proto_line_end()).
	 */
	bool		 plain;
	const char	*name;		/* the measurement as written */
	size_t		 name_len;
	unsigned	 nids;		/* min(fields but "time", the max) */
	bool		 hashed;	/* ids[].hash computed */
	/*
	 * A cheap signature of the measurement and the ids: points of one
	 * shape have the same fields with the same types.  Not collision
	 * free: a false match only skips a check the bisection backs up.
	 */
	uint64_t	 shape;
	/* last, so that proto_parse() clears only the fields above */
	struct proto_field_id ids[PROTO_MAX_FIELD_IDS];
};

/*
 * Parses one framed line (without the newline that ended it; a trailing
 * CR is dropped, so CRLF input works).  Accepts exactly what InfluxDB 1.6
 * writes, and rejects a line whose forwarded form InfluxDB would frame
 * or read differently.
 */
enum proto_status proto_parse(const char *line, size_t len,
		    struct proto_point *pt);
/*
 * The '\n' that ends the first line of `buf`, NULL if `buf` holds no
 * complete line yet.  As in InfluxDB, a newline inside a double-quoted
 * field value, or right after a backslash, does not end a line.
 */
const char	*proto_line_end(const char *buf, size_t len);
/* A short reason, e.g. "missing fields", also used as a counter name. */
const char	*proto_strerror(enum proto_status);
/* Longest tail proto_format_tail() writes: " -9223372036854775808\n". */
#define PROTO_TAIL_MAX	22
/* Writes " t\n" (a point's timestamp and newline); returns its length. */
size_t		 proto_format_tail(char *buf, int64_t t);
/* Computes ids[].hash of a parsed point, once. */
void		 proto_hash_ids(struct proto_point *);
/*
 * The hash of `name` (a measurement, then a field key) continuing `h`;
 * start a measurement with PROTO_HASH_SEED.  proto_field_id.hash is
 * proto_hash(proto_hash(PROTO_HASH_SEED, measurement), field key).
 */
#define PROTO_HASH_SEED	0x6a09e667f3bcc909ULL
uint64_t	 proto_hash(uint64_t h, const char *name, size_t len);
/* "float", "integer"...: InfluxDB's names, as its errors print them. */
const char	*proto_type_name(enum proto_type);
/* The type named by one of those names; PROTO_T_EMPTY if none. */
enum proto_type	 proto_type_parse(const char *name, size_t len);
/* Converts `t` from a precision multiplier to ns; false if out of range. */
bool		 proto_time_to_ns(int64_t t, int64_t mult, int64_t *ns);

#endif
