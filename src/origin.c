/*
 * The table of origins.  An origin is referenced by its creator (a
 * client, a datagram sender) and by each of its points a target holds;
 * its slot is reused only when nothing references it, so an id never
 * names two senders while either could still be counted.  The table
 * grows to the largest number of origins alive at once: clients plus the
 * senders of buffered points.  Ids start at 1; 0 means unknown.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "mem.h"
#include "origin.h"

#define ORIGIN_NAME	64

struct origin {
	uint64_t		 refs;	/* creator + points in memory */
	long			 pid;
	long			 uid;
	struct origin_ledger	*ledger;
	char			 name[ORIGIN_NAME];
};

static struct origin	*origins;	/* slot i has id i + 1 */
static uint32_t		*origin_free;	/* free slots, a stack */
static size_t		 origin_nfree;
static size_t		 origin_cap;
static size_t		 origin_alive;

static struct origin *
origin_find(uint32_t id)
{
	if (id == ORIGIN_UNKNOWN || id > origin_cap ||
	    origins[id - 1].refs == 0)
		return NULL;
	return &origins[id - 1];
}

/* Doubles the table; the new slots go on the free stack. */
static void
origin_grow(void)
{
	size_t	 i, cap = origin_cap ? origin_cap * 2 : 64;

	if (cap > UINT32_MAX - 1)
		fatalx("origin: table full");
	origins = xreallocarray(origins, cap, sizeof(*origins));
	origin_free = xreallocarray(origin_free, cap, sizeof(*origin_free));
	memset(origins + origin_cap, 0, (cap - origin_cap) *
	    sizeof(*origins));
	/* lowest slots on top, so ids stay small */
	for (i = cap; i > origin_cap; i--)
		origin_free[origin_nfree++] = (uint32_t)(i - 1);
	origin_cap = cap;
}

uint32_t
origin_new(const char *name, long pid, long uid, struct origin_ledger *ledger)
{
	struct origin	*o;
	uint32_t	 slot;

	if (origin_nfree == 0)
		origin_grow();
	slot = origin_free[--origin_nfree];
	o = &origins[slot];
	o->refs = 1;
	o->pid = pid;
	o->uid = uid;
	o->ledger = ledger;
	snprintf(o->name, sizeof(o->name), "%s", name);
	origin_alive++;
	return slot + 1;
}

static void
origin_unref(struct origin *o, uint64_t n)
{
	if (o->refs < n)
		fatalx("origin: %s released more than it held", o->name);
	if ((o->refs -= n) > 0)
		return;
	o->ledger = NULL;
	origin_free[origin_nfree++] = (uint32_t)(o - origins);
	origin_alive--;
}

void
origin_put(uint32_t id)
{
	struct origin	*o = origin_find(id);

	if (o != NULL)
		origin_unref(o, 1);
}

void
origin_hold(uint32_t id)
{
	struct origin	*o = origin_find(id);

	if (o == NULL)
		return;
	o->refs++;
	if (o->ledger != NULL) {
		o->ledger->queued++;
		o->ledger->buffered++;
	}
}

void
origin_settle(uint32_t id, enum origin_fate fate, uint64_t n)
{
	struct origin	*o = origin_find(id);

	if (o == NULL || n == 0)
		return;
	if (o->ledger != NULL) {
		o->ledger->buffered -= n;
		o->ledger->fates[fate] += n;
	}
	origin_unref(o, n);
}

void
origin_forget_ledger(const struct origin_ledger *ledger)
{
	size_t	 i;

	for (i = 0; i < origin_cap; i++)
		if (origins[i].ledger == ledger)
			origins[i].ledger = NULL;
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

size_t
origin_count(void)
{
	return origin_alive;
}
