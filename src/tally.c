/*
 * A connection's tally and its summary.  The counters cost an increment
 * per line; only the first TALLY_FIRST rejects keep their text, so a
 * client sending garbage for hours costs nothing more.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "stats.h"
#include "tally.h"

void
tally_accept(struct tally *t)
{
	t->lines++;
	t->accepted++;
}

void
tally_skip(struct tally *t)
{
	t->lines++;
	t->skipped++;
}

void
tally_reject(struct tally *t, const char *reason, const char *head,
    size_t len)
{
	struct tally_reject	*r;

	t->lines++;
	t->rejected++;
	if (t->nfirst == TALLY_FIRST)
		return;
	r = &t->first[t->nfirst++];
	r->line = t->lines;
	r->reason = reason;
	if ((r->cut = len > TALLY_TEXT))
		len = TALLY_TEXT;
	memcpy(r->text, head, len);
	r->text[len] = '\0';
	/* a NUL in the line would end the text early: that is all */
}

void
tally_json(const struct tally *t, struct evbuffer *out)
{
	const struct tally_reject	*r;
	size_t				 i;

	evbuffer_add_printf(out, "{\"ok\":%s,\"lines\":%llu,\"accepted\":%llu,"
	    "\"skipped\":%llu,\"rejected\":%llu,\"rejects\":[",
	    t->rejected == 0 ? "true" : "false",
	    (unsigned long long)t->lines, (unsigned long long)t->accepted,
	    (unsigned long long)t->skipped, (unsigned long long)t->rejected);
	for (i = 0; i < t->nfirst; i++) {
		r = &t->first[i];
		evbuffer_add_printf(out, "%s{\"line\":%llu,\"reason\":",
		    i > 0 ? "," : "", (unsigned long long)r->line);
		stats_json_string(out, r->reason);
		evbuffer_add_printf(out, ",\"text\":");
		/* cut at TALLY_TEXT bytes: a split last character goes */
		if (r->cut)
			stats_json_cut_string(out, r->text);
		else
			stats_json_string(out, r->text);
		evbuffer_add(out, "}", 1);
	}
	evbuffer_add(out, "]}\n", 3);
}
