/*
 * Open addressing with linear probing.  An entry counts only if it
 * carries the map's current generation, so clearing is one increment;
 * nothing is ever deleted, which keeps probing simple.  The table
 * doubles while it is at most half full and stays under 2 * max slots.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "typemap.h"

#define TYPEMAP_MIN_SLOTS	16
/* A cleared map bigger than this gives its memory back. */
#define TYPEMAP_KEEP_SLOTS	256

struct typemap_entry {
	uint64_t	 hash;
	int64_t		 expires;
	uint32_t	 gen;		/* live if equal to the map's */
	uint8_t		 type;
};

struct typemap {
	struct typemap_entry	*slots;
	size_t			 nslots;	/* a power of two, or 0 */
	size_t			 used;
	size_t			 max;
	uint32_t		 gen;
};

struct typemap *
typemap_new(size_t max)
{
	struct typemap	*m = xcalloc(1, sizeof(*m));

	m->max = max;
	m->gen = 1;
	return m;
}

void
typemap_free(struct typemap *m)
{
	if (m == NULL)
		return;
	free(m->slots);
	free(m);
}

void
typemap_clear(struct typemap *m)
{
	m->used = 0;
	if (m->nslots > TYPEMAP_KEEP_SLOTS) {
		/* one wide batch must not pin its table for good */
		free(m->slots);
		m->slots = NULL;
		m->nslots = 0;
	}
	if (++m->gen == 0) {
		/* after 2^32 clears, old generations could come back */
		if (m->slots != NULL)
			memset(m->slots, 0, m->nslots * sizeof(*m->slots));
		m->gen = 1;
	}
}

size_t
typemap_count(const struct typemap *m)
{
	return m->used;
}

/* The slot holding `hash`, or the empty slot where it belongs. */
static struct typemap_entry *
typemap_slot(const struct typemap *m, uint64_t hash)
{
	size_t			 i, mask = m->nslots - 1;
	struct typemap_entry	*e;

	for (i = (size_t)hash & mask;; i = (i + 1) & mask) {
		e = &m->slots[i];
		if (e->gen != m->gen || e->hash == hash)
			return e;
	}
}

enum proto_type
typemap_get(const struct typemap *m, uint64_t hash, int64_t now)
{
	const struct typemap_entry	*e;

	if (m->used == 0)
		return PROTO_T_EMPTY;
	e = typemap_slot(m, hash);
	if (e->gen != m->gen || e->expires < now)
		return PROTO_T_EMPTY;
	return (enum proto_type)e->type;
}

/* Doubles the table, keeping the live entries. */
static void
typemap_grow(struct typemap *m)
{
	struct typemap_entry	*old = m->slots, *e;
	size_t			 i, n = m->nslots;

	m->nslots = n ? 2 * n : TYPEMAP_MIN_SLOTS;
	m->slots = xcalloc(m->nslots, sizeof(*m->slots));
	for (i = 0; i < n; i++) {
		if (old[i].gen != m->gen)
			continue;
		e = typemap_slot(m, old[i].hash);
		*e = old[i];
	}
	free(old);
}

bool
typemap_put(struct typemap *m, uint64_t hash, enum proto_type type,
    int64_t expires)
{
	struct typemap_entry	*e = NULL;

	if (m->nslots > 0)
		e = typemap_slot(m, hash);
	if (e == NULL || e->gen != m->gen) {
		if (m->used >= m->max)
			return false;
		if (2 * (m->used + 1) > m->nslots) {
			typemap_grow(m);
			e = typemap_slot(m, hash);
		}
		m->used++;
	}
	e->hash = hash;
	e->gen = m->gen;
	e->type = (uint8_t)type;
	e->expires = expires;
	return true;
}
