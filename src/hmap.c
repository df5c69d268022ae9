/*
 * Linear probing over (hash, item) slots, at most half full.  Removal
 * shifts the entries after the hole back (no tombstones), so probe runs
 * stay as short as if the removed item had never been there.
 */
#include "config.h"

#include <stdlib.h>

#include "hmap.h"
#include "mem.h"

#define HMAP_MIN_SLOTS	16

struct hmap_slot {
	uint64_t	 hash;
	void		*item;		/* NULL: empty */
};

struct hmap {
	struct hmap_slot	*slots;
	size_t			 nslots;	/* a power of two */
	size_t			 count;
};

struct hmap *
hmap_new(void)
{
	struct hmap	*m = xcalloc(1, sizeof(*m));

	m->nslots = HMAP_MIN_SLOTS;
	m->slots = xcalloc(m->nslots, sizeof(*m->slots));
	return m;
}

void
hmap_free(struct hmap *m)
{
	if (m == NULL)
		return;
	free(m->slots);
	free(m);
}

size_t
hmap_count(const struct hmap *m)
{
	return m->count;
}

void *
hmap_find(const struct hmap *m, uint64_t hash, hmap_eq_fn eq,
    const void *key)
{
	size_t			 mask = m->nslots - 1, i;
	const struct hmap_slot	*s;

	for (i = hash & mask;; i = (i + 1) & mask) {
		s = &m->slots[i];
		if (s->item == NULL)
			return NULL;
		if (s->hash == hash && eq(s->item, key))
			return s->item;
	}
}

static void
hmap_place(struct hmap *m, uint64_t hash, void *item)
{
	size_t	 mask = m->nslots - 1, i;

	for (i = hash & mask; m->slots[i].item != NULL; i = (i + 1) & mask)
		;
	m->slots[i].hash = hash;
	m->slots[i].item = item;
}

static void
hmap_resize(struct hmap *m, size_t nslots)
{
	struct hmap_slot	*old = m->slots;
	size_t			 i, n = m->nslots;

	m->nslots = nslots;
	m->slots = xcalloc(nslots, sizeof(*m->slots));
	for (i = 0; i < n; i++)
		if (old[i].item != NULL)
			hmap_place(m, old[i].hash, old[i].item);
	free(old);
}

void
hmap_insert(struct hmap *m, uint64_t hash, void *item)
{
	if (2 * (m->count + 1) > m->nslots)
		hmap_resize(m, 2 * m->nslots);
	hmap_place(m, hash, item);
	m->count++;
}

/* Is `i` cyclically in (hole, j]: may the entry at j, home `i`, stay? */
static bool
hmap_stays(size_t hole, size_t i, size_t j)
{
	if (hole <= j)
		return hole < i && i <= j;
	return hole < i || i <= j;
}

void
hmap_remove(struct hmap *m, uint64_t hash, const void *item)
{
	size_t	 mask = m->nslots - 1, i, j, home;

	for (i = hash & mask; m->slots[i].item != item; i = (i + 1) & mask)
		if (m->slots[i].item == NULL)
			return;		/* not there */
	m->slots[i].item = NULL;
	m->count--;
	/* close the hole: move back entries whose probe passed over it */
	for (j = (i + 1) & mask; m->slots[j].item != NULL; j = (j + 1) & mask) {
		home = m->slots[j].hash & mask;
		if (hmap_stays(i, home, j))
			continue;
		m->slots[i] = m->slots[j];
		m->slots[j].item = NULL;
		i = j;
	}
	/* a map that emptied gives its memory back */
	if (m->nslots > HMAP_MIN_SLOTS && 8 * m->count < m->nslots)
		hmap_resize(m, m->nslots / 2);
}

uint64_t
hmap_hash_str(uint64_t seed, const char *s)
{
	uint64_t	 h = seed ^ 0xcbf29ce484222325ULL;	/* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h ^ (h >> 29);
}
