/*
 * What an InfluxDB answer means for the batch that was sent (DESIGN §5,
 * the response table).  Pure: status and body in, action out.
 */
#ifndef RELAYD_RESPONSE_H
#define RELAYD_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

enum response_action {
	RESPONSE_DONE,		/* delivered */
	RESPONSE_CREATE_DB,	/* "database not found": create, resend */
	RESPONSE_DROP,		/* a partial write: the rest was stored */
	RESPONSE_ISOLATE,	/* refused whole: bisect to the bad points */
	RESPONSE_SPLIT,		/* 413: split the batch in halves */
	RESPONSE_CONFIG,	/* configuration problem: retry slowly */
	RESPONSE_RETRY,		/* transient: back off and retry */
};

/* Classifies an answer; `status` 0 means no HTTP answer at all. */
enum response_action response_classify(long status, const char *body,
		    size_t len);
/*
 * The points a partial write dropped: the "dropped=N" InfluxDB puts at
 * the end of the message plus one per line it could not parse; false if
 * the body does not say (then the whole batch was refused).
 */
bool		 response_dropped(const char *body, size_t len, size_t *n);
/*
 * What "field type conflict: input field "f" on measurement "m" is type
 * float, already exists as type integer" says, names in line protocol's
 * escaped form so that they hash as a point's do (proto_field_id).
 */
struct response_conflict {
	uint64_t	 hash;		/* proto_field_id.hash of (m, f) */
	enum proto_type	 input;		/* the type that was refused */
	enum proto_type	 existing;	/* the type the field has */
};

/* Reads the first such conflict from an answer; false if none. */
bool		 response_type_conflict(const char *body, size_t len,
		    struct response_conflict *);
/*
 * Did an admin statement (/query) succeed?  InfluxDB 1.x answers 200
 * even when the statement failed (e.g. not an admin) and puts "error" in
 * the result.
 */
bool		 response_query_ok(long status, const char *body, size_t len);
/* "done", "retry"...: for logs and counters. */
const char	*response_action_name(enum response_action);

#endif
