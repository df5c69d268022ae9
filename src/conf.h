/*
 * The configuration: plain data parsed from the INI file of DESIGN §3.
 * conf_load() parses and validates the whole file and either returns a
 * complete configuration or collects every problem as "FILE:LINE: text",
 * so `influx-relayd -t` can print them all at once.
 */
#ifndef RELAYD_CONF_H
#define RELAYD_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum conf_listener_type { LISTENER_STREAM, LISTENER_DATAGRAM };
enum conf_format { FORMAT_LINE, FORMAT_KV };
enum conf_precision { PRECISION_NS, PRECISION_US, PRECISION_MS, PRECISION_S };
enum conf_api { API_V1, API_V2 };
enum conf_overflow { OVERFLOW_DROP_OLDEST, OVERFLOW_DROP_NEWEST,
	OVERFLOW_BLOCK };

struct conf_listener {
	char			*name;
	int			 lineno;	/* of the section header */
	char			*path;
	int			 type;		/* enum conf_listener_type */
	int			 format;	/* enum conf_format */
	uint64_t		 mode;
	char			*target;	/* comma separated names */
	int			 target_lineno;
	char			**targets;	/* split from target */
	size_t			 ntargets;
	char			*database;
	char			*retention_policy;
	char			*database_tag;
	char			*retention_policy_tag;
	int			 precision;	/* enum conf_precision */
	char			*tag_keys;
	char			*measurement_key;
	char			*time_key;
	uint64_t		 max_line;
	char			*allowed_databases;
	char			*allow_uids;
	char			*allow_gids;
	uid_t			*uids;		/* parsed allow_uids */
	size_t			 nuids;
	gid_t			*gids;		/* parsed allow_gids */
	size_t			 ngids;
	uint64_t		 idle_timeout_ms;
	uint64_t		 max_clients;
};

struct conf_target {
	char			*name;
	int			 lineno;
	char			*url;
	int			 api;		/* enum conf_api */
	char			*database;
	char			*retention_policy;
	char			*org;
	char			*username;
	char			*password;
	char			*password_file;
	char			*token;
	char			*token_file;
	bool			 create_database;
	uint64_t		 batch_size;
	uint64_t		 batch_bytes;
	uint64_t		 flush_interval_ms;
	uint64_t		 flush_jitter_ms;
	uint64_t		 buffer_size;
	int			 overflow;	/* enum conf_overflow */
	bool			 spool;
	uint64_t		 spool_size;
	char			*spool_sync;
	uint64_t		 spool_sync_ms;	/* SPOOL_SYNC_* or a duration */
	uint64_t		 max_connections;
	uint64_t		 max_queues;
	uint64_t		 retry_initial_ms;
	uint64_t		 retry_max_ms;
	uint64_t		 timeout_ms;
	bool			 gzip;
	char			*tls_ca;
	char			*tls_cert;
	char			*tls_key;
	bool			 tls_verify;
};

struct conf {
	char			*file;
	char			*spool_dir;
	char			*control_socket;
	int			 log_level;	/* enum log_level */
	uint64_t		 shutdown_timeout_ms;
	uint64_t		 stats_interval_ms;
	char			*internal_database;

	struct conf_listener	**listeners;
	size_t			 nlisteners;
	struct conf_target	**targets;
	size_t			 ntargets;
};

/* Problems found while loading, each "FILE:LINE: text". */
struct conf_errors {
	char			**msgs;
	size_t			 count;
};

/* Loads and validates `path`; NULL with `errs` filled on any problem. */
struct conf	*conf_load(const char *path, struct conf_errors *errs);
/* Same for INI text held in memory; `name` is used in error messages. */
struct conf	*conf_load_string(const char *text, const char *name,
		    struct conf_errors *errs);
/* Finds a target by name, or NULL. */
struct conf_target *conf_find_target(const struct conf *, const char *);
void		 conf_free(struct conf *);
/*
 * A deep copy of one target's settings, for a target that outlives its
 * configuration (removed by a reload, still draining).
 */
struct conf_target *conf_target_dup(const struct conf_target *);
void		 conf_target_free(struct conf_target *);
void		 conf_errors_clear(struct conf_errors *);

/*
 * The i-th key of the parser's table, for the check that the manual
 * documents every key: its section ("relayd", "listener" or "target"),
 * its name as written in the file (into `name`) and its default; false
 * past the last key.
 */
bool		 conf_key_info(size_t, const char **, char *, size_t,
		    const char **);

/* "1.5s" style parsers, shared with the tools: 0 on success. */
int		 conf_parse_duration_ms(const char *, uint64_t *);
int		 conf_parse_size(const char *, uint64_t *);

#endif
