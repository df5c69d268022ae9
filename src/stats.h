/*
 * Counters as JSON, for the control socket's `stats` answer.  Only
 * formatting lives here; each module keeps its own counters.
 */
#ifndef RELAYD_STATS_H
#define RELAYD_STATS_H

struct evbuffer;
struct listener;
struct target;

/* Appends `s` as a JSON string (quoted, escaped). */
void	 stats_json_string(struct evbuffer *, const char *s);
/* Appends one listener's counters as a JSON object. */
void	 stats_json_listener(struct evbuffer *, const struct listener *);
/* Appends one target's counters and gauges as a JSON object. */
void	 stats_json_target(struct evbuffer *, const struct target *);

#endif
