/*
 * The counters of listeners and targets, shown three ways: the `stats`
 * line in the log (SIGUSR1, stats_interval), the control socket's JSON
 * and the internal_database points.  Each object has one field table
 * (name, kind, offset) and all three renderers iterate it, so a counter
 * is added in one place and every output shows it under one name.  The
 * modules keep their counters; this file only reads them.
 */
#ifndef RELAYD_STATS_H
#define RELAYD_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "listener.h"
#include "target.h"

struct evbuffer;

/* What a field holds, which fixes its C type and how it is shown. */
enum stats_kind {
	STATS_COUNTER,	/* uint64_t that only grows */
	STATS_GAUGE,	/* int64_t: what is held now */
	STATS_FLAG,	/* bool */
	STATS_TIME,	/* int64_t unix seconds, 0 = never; the JSON adds
			   NAME_rfc3339, a UTC time string or null */
	STATS_STRING,	/* char[size], cut at its size; not in the points */
	STATS_MAP,	/* struct listener_reason[]: counters by key */
};

struct stats_field {
	const char	*name;
	enum stats_kind	 kind;
	size_t		 offset;	/* in the object's view, below */
	size_t		 size;
};

struct stats_table {
	const char			*object; /* "listener", "target" */
	const struct stats_field	*fields;
	size_t				 nfields;
};

/*
 * The views: an object's counters copied at one moment, with its gauges
 * and the sums derived from them, as its table reads them.
 */
struct stats_listener {
	struct listener_stats	 s;
	int64_t			 clients;
	uint64_t		 dropped;
	int64_t			 unaccounted;
};

struct stats_target {
	struct target_stats	 s;
	int64_t			 queues;
	int64_t			 buffered_points;
	int64_t			 buffered_bytes;
	int64_t			 in_flight;
	int64_t			 failing_queues;
	bool			 backing_off;
	uint64_t		 dropped;
	int64_t			 unaccounted;
	/* the disk spool (all 0 without one) */
	bool			 spooling;
	int64_t			 spool_bytes;
	int64_t			 spool_points;
	int64_t			 spool_unloaded;
	int64_t			 spool_segments;
	int64_t			 spool_oldest_age;	/* seconds */
	uint64_t		 spool_recovered;
	uint64_t		 spool_checksum_failures;
	uint64_t		 spool_torn_tails;
	uint64_t		 spool_write_errors;
	uint64_t		 spool_sync_errors;
};

extern const struct stats_table	 stats_listener_table;
extern const struct stats_table	 stats_target_table;

/* Fills the view of a listener or a target. */
void	 stats_listener_view(const struct listener *, struct stats_listener *);
void	 stats_target_view(const struct target *, struct stats_target *);

/*
 * The three renderings of one object's fields (`view` matches `table`):
 * JSON members, each after a comma (a map is an object); log words, each
 * after a space, NAME=N, a map as NAME[KEY]=N, strings quoted, escaped
 * and last; line-protocol fields, comma-separated, numbers as integers,
 * flags as booleans, a map as fields NAME[KEY], strings left out.
 */
void	 stats_render_json(struct evbuffer *, const struct stats_table *,
	    const void *view);
void	 stats_render_log(struct evbuffer *, const struct stats_table *,
	    const void *view);
void	 stats_render_line(struct evbuffer *, const struct stats_table *,
	    const void *view);

/*
 * Appends `s`, any bytes, as a valid JSON string: quoted, control
 * characters escaped, bytes outside well-formed UTF-8 as U+FFFD.
 */
void	 stats_json_string(struct evbuffer *, const char *s);
/* The same for a string cut at a fixed size: a split last character goes. */
void	 stats_json_cut_string(struct evbuffer *, const char *s);
/*
 * Appends `t` (unix seconds) as a JSON string in RFC 3339, UTC
 * ("2023-11-14T22:13:20Z"), or null for 0 (never).
 */
void	 stats_json_time(struct evbuffer *, int64_t t);
/*
 * Appends the members that date a stats answer, each after a comma:
 * time, started (both unix seconds, with their _rfc3339 forms) and
 * uptime (seconds).
 */
void	 stats_json_clock(struct evbuffer *, int64_t now, int64_t started);
/* Appends one listener's counters as a JSON object. */
void	 stats_json_listener(struct evbuffer *, const struct listener *);
/* Appends one target's counters, gauges and queues as a JSON object. */
void	 stats_json_target(struct evbuffer *, const struct target *);

/*
 * Appends one line of line protocol (measurement influx_relayd, no
 * timestamp, no newline) with a listener's or a target's fields, for
 * internal_database.
 */
void	 stats_line_listener(struct evbuffer *, const struct listener *);
void	 stats_line_target(struct evbuffer *, const struct target *);

/* Logs one `stats: listener NAME: ...` or `stats: target NAME: ...` line. */
void	 stats_log_listener(const struct listener *);
void	 stats_log_target(const struct target *);

#endif
