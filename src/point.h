/*
 * A point on its way from a listener to the targets' queues: the
 * normalised line (body, then a tail holding " TIMESTAMP\n"), the types
 * of its fields, so that a batch never gives one field two types, and
 * who sent it, so that a point the server refuses is traced to them.
 * Everything it points to belongs to the caller and lives only for the
 * call that receives it.
 */
#ifndef RELAYD_POINT_H
#define RELAYD_POINT_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct point {
	const char			*body;
	size_t				 blen;
	const char			*tail;
	size_t				 tlen;
	struct proto_point		*fields;	/* NULL: unknown */
	uint32_t			 origin;	/* origin.h; 0: unknown */
	uint32_t			 ref;		/* store.h; 0: memory only */
	int64_t				 time;		/* ns, the tail's */
	int64_t				 received;	/* ns, stamp_now() */
};

#endif
