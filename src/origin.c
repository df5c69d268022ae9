/*
 * The ring of origins.  A slot holds its id, so a stale id (its slot
 * reused by a newer origin) is recognised and not misattributed.  Ids
 * start at 1; 0 means unknown.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "origin.h"

#define ORIGIN_NAME	64

struct origin {
	uint32_t	 id;
	long		 pid;
	long		 uid;
	uint64_t	*dropped;
	char		 name[ORIGIN_NAME];
};

static struct origin	 origins[ORIGIN_SLOTS];
static uint32_t		 origin_last;

static struct origin *
origin_find(uint32_t id)
{
	struct origin	*o = &origins[id % ORIGIN_SLOTS];

	return id != ORIGIN_UNKNOWN && o->id == id ? o : NULL;
}

uint32_t
origin_new(const char *name, long pid, long uid, uint64_t *dropped)
{
	struct origin	*o;

	if (++origin_last == ORIGIN_UNKNOWN)
		origin_last++;
	o = &origins[origin_last % ORIGIN_SLOTS];
	o->id = origin_last;
	o->pid = pid;
	o->uid = uid;
	o->dropped = dropped;
	snprintf(o->name, sizeof(o->name), "%s", name);
	return o->id;
}

void
origin_forget_counter(const uint64_t *dropped)
{
	size_t	 i;

	for (i = 0; i < ORIGIN_SLOTS; i++)
		if (origins[i].dropped == dropped)
			origins[i].dropped = NULL;
}

void
origin_describe(uint32_t id, char *buf, size_t len)
{
	const struct origin	*o = origin_find(id);

	if (o == NULL)
		snprintf(buf, len, "an unknown sender");
	else if (o->pid < 0)
		snprintf(buf, len, "listener %s", o->name);
	else
		snprintf(buf, len, "listener %s (pid %ld, uid %ld)", o->name,
		    o->pid, o->uid);
}

void
origin_count_dropped(uint32_t id, uint64_t n)
{
	struct origin	*o = origin_find(id);

	if (o != NULL && o->dropped != NULL)
		*o->dropped += n;
}
