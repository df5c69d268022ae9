/*
 * The relay: every listener, ingest and target of one configuration,
 * wired together, plus the daemon-level lifecycle (start, periodic stats,
 * drain on shutdown).
 */
#ifndef RELAYD_RELAY_H
#define RELAYD_RELAY_H

#include <stddef.h>

struct conf;
struct event_base;
struct relay;

/* A relay for `conf` (which it takes ownership of). */
struct relay	*relay_new(struct event_base *, struct conf *);
void		 relay_free(struct relay *);
/* Opens every listener; -1 with a message in `err` on failure. */
int		 relay_start(struct relay *, char *err, size_t errlen);
/*
 * Stops accepting, flushes everything for up to shutdown_timeout, then
 * breaks the event loop.  Safe to call twice (the second call hurries).
 */
void		 relay_shutdown(struct relay *);
/* Logs one stats line per listener and target. */
void		 relay_log_stats(const struct relay *);
/* Points still buffered in memory across all targets. */
size_t		 relay_points(const struct relay *);

#endif
