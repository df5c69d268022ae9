/*
 * A hash map of borrowed items: the caller gives each item's hash and a
 * predicate that tells whether an item has the key sought, so one map
 * serves any key (a database name, a (database, retention policy)
 * pair).  Lookups, insertions and removals are O(1) on average.  Pure:
 * no libevent or libcurl.
 */
#ifndef RELAYD_HMAP_H
#define RELAYD_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hmap;

typedef bool	(*hmap_eq_fn)(const void *item, const void *key);

struct hmap	*hmap_new(void);
/* Frees the map, not the items. */
void		 hmap_free(struct hmap *);
size_t		 hmap_count(const struct hmap *);
/* The item with `hash` for which eq(item, key) holds, or NULL. */
void		*hmap_find(const struct hmap *, uint64_t hash, hmap_eq_fn eq,
		    const void *key);
/* Adds `item` (not already in the map) under `hash`. */
void		 hmap_insert(struct hmap *, uint64_t hash, void *item);
/* Removes `item`, which was inserted under `hash`. */
void		 hmap_remove(struct hmap *, uint64_t hash, const void *item);
/* A string's hash, for keys made of strings. */
uint64_t	 hmap_hash_str(uint64_t seed, const char *s);

#endif
