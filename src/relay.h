/*
 * The relay: every listener, ingest and target of one configuration,
 * wired together, plus the daemon-level lifecycle (start, periodic stats,
 * drain on shutdown).
 */
#ifndef RELAYD_RELAY_H
#define RELAYD_RELAY_H

#include <stdbool.h>
#include <stddef.h>

struct conf;
struct evbuffer;
struct target;
struct event_base;
struct relay;

/* A relay for `conf` (which it takes ownership of). */
struct relay	*relay_new(struct event_base *, struct conf *);
void		 relay_free(struct relay *);
/* -d: debug logging whatever log_level says, across reloads too. */
void		 relay_set_debug(struct relay *, bool);
/* Opens every listener; -1 with a message in `err` on failure. */
int		 relay_start(struct relay *, char *err, size_t errlen);
/*
 * Stops accepting, flushes everything for up to shutdown_timeout, then
 * breaks the event loop.  Safe to call twice (the second call hurries).
 */
void		 relay_shutdown(struct relay *);
/*
 * Re-reads the configuration file and swaps it in (see relay.c); on any
 * problem logs it, keeps the running configuration and returns -1 with
 * a one-line summary in `err`.
 */
int		 relay_reload(struct relay *, char *err, size_t errlen);
/* Logs one stats line per listener and target. */
void		 relay_log_stats(const struct relay *);
/* The target called `name`, or NULL. */
struct target	*relay_target(struct relay *, const char *name);
/* Closes every open batch and sends what the limits allow. */
void		 relay_flush(struct relay *);
/* True once every queue is empty or backing off; `left` = points held. */
bool		 relay_flushed(const struct relay *, size_t *left);
/*
 * Appends "listeners":[...],"targets":[...] and the clock (time, started,
 * uptime) as JSON members.
 */
void		 relay_json_stats(const struct relay *, struct evbuffer *);
/* Points still held (in memory or spooled) across all targets. */
size_t		 relay_points(const struct relay *);
/* Of them, points held in memory only: a stop now loses them. */
size_t		 relay_volatile(const struct relay *);

#endif
