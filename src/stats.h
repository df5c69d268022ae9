/*
 * Counters as JSON, for the control socket's `stats` answer.  Only
 * formatting lives here; each module keeps its own counters.
 */
#ifndef RELAYD_STATS_H
#define RELAYD_STATS_H

#include <stddef.h>

struct evbuffer;
struct listener;
struct target;

/*
 * Appends `s`, any bytes, as a valid JSON string: quoted, control
 * characters escaped, bytes outside well-formed UTF-8 as U+FFFD.
 */
void	 stats_json_string(struct evbuffer *, const char *s);
/* The same for a string cut at a fixed size: a split last character goes. */
void	 stats_json_cut_string(struct evbuffer *, const char *s);
/* Appends one listener's counters as a JSON object. */
void	 stats_json_listener(struct evbuffer *, const struct listener *);
/* Appends one target's counters and gauges as a JSON object. */
void	 stats_json_target(struct evbuffer *, const struct target *);

/*
 * One line of line protocol (measurement influx_relayd, no timestamp, no
 * newline) with a listener's or a target's counters, for
 * internal_database; returns its length, 0 if `size` is too small.
 */
size_t	 stats_line_listener(char *buf, size_t size, const struct listener *);
size_t	 stats_line_target(char *buf, size_t size, const struct target *);

#endif
