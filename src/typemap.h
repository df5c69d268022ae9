/*
 * A small hash map from a field's identity (proto_field_id.hash) to its
 * type, cleared in O(1): the types of a queue's open batch, and the types
 * a server said a field already has.  Pure: no libevent or libcurl.
 */
#ifndef RELAYD_TYPEMAP_H
#define RELAYD_TYPEMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct typemap;

/* A map of at most `max` fields; it allocates on first use. */
struct typemap	*typemap_new(size_t max);
void		 typemap_free(struct typemap *);
/* Forgets every entry (O(1); a large table is freed). */
void		 typemap_clear(struct typemap *);
size_t		 typemap_count(const struct typemap *);
/*
 * The type recorded for `hash`, PROTO_T_EMPTY if none or if it expired
 * before `now` (any clock, the same as typemap_put's).
 */
enum proto_type	 typemap_get(const struct typemap *, uint64_t hash,
		    int64_t now);
/* Records (or replaces) a type until `expires`; false when full. */
bool		 typemap_put(struct typemap *, uint64_t hash,
		    enum proto_type, int64_t expires);

#endif
