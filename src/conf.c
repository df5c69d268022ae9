/*
 * Configuration parsing and validation.
 *
 * Every key is described once in conf_keys[]: its section, type, default
 * and whether its behaviour is delivered yet.  Defaults are parsed through
 * the same code as user values, so the table is the one source of truth.
 *
 * Debian's libinih does not pass line numbers to the handler and splits
 * lines longer than 200 bytes, so we feed it through our own reader, which
 * counts lines, reports over-long ones instead of letting inih cut them,
 * and sees section headers (inih does not report a section without keys).
 *
 * Checking is linear in the file's size: sections, targets and listener
 * paths are found through small hash tables, never by scanning.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <curl/curl.h>

#include "conf.h"
#include "endpoint.h"
#include "hmap.h"
#include "log.h"
#include "mem.h"

enum conf_section { SEC_RELAYD, SEC_LISTENER, SEC_TARGET };
enum conf_kind { K_STRING, K_BOOL, K_DURATION, K_SIZE, K_UINT, K_MODE,
	K_ENUM, K_LOGLEVEL };

/*
 * `later` marks behaviour a later release delivers, so it is refused
 * rather than silently ignored: NULL (supported), "*" (any non-empty
 * value), "!" (any value but the default) or "a|b" (these values).
 */
struct conf_key {
	enum conf_section	 section;
	const char		*name;
	enum conf_kind		 kind;
	size_t			 offset;
	const char		*def;
	const char		*choices;	/* "a|b|c" for K_ENUM */
	const char		*later;
	uint64_t		 min;
	uint64_t		 max;
};

#define R(f, k)	SEC_RELAYD, #f, k, offsetof(struct conf, f)
#define L(f, k)	SEC_LISTENER, #f, k, offsetof(struct conf_listener, f)
#define T(f, k)	SEC_TARGET, #f, k, offsetof(struct conf_target, f)
#define NOMAX	UINT64_MAX

static const struct conf_key conf_keys[] = {
	{ R(spool_dir, K_STRING), "/var/lib/influx-relayd", NULL, NULL, 0, 0 },
	{ R(control_socket, K_STRING), "/run/influx-relayd/control.sock", NULL,
	    NULL, 0, 0 },
	{ R(log_level, K_LOGLEVEL), "info", NULL, NULL, 0, 0 },
	{ R(shutdown_timeout_ms, K_DURATION), "10s", NULL, NULL, 0, NOMAX },
	{ R(stats_interval_ms, K_DURATION), "60s", NULL, NULL, 0, NOMAX },
	{ R(internal_database, K_STRING), "", NULL, NULL, 0, 0 },

	{ L(path, K_STRING), "", NULL, NULL, 0, 0 },
	{ L(type, K_ENUM), "stream", "stream|datagram", NULL, 0, 0 },
	{ L(format, K_ENUM), "line", "line|kv", NULL, 0, 0 },
	{ L(mode, K_MODE), "0660", NULL, NULL, 0, 07777 },
	{ L(target, K_STRING), "", NULL, NULL, 0, 0 },
	{ L(database, K_STRING), "", NULL, NULL, 0, 0 },
	{ L(retention_policy, K_STRING), "", NULL, NULL, 0, 0 },
	{ L(database_tag, K_STRING), "", NULL, NULL, 0, 0 },
	{ L(retention_policy_tag, K_STRING), "", NULL, NULL, 0, 0 },
	{ L(precision, K_ENUM), "ns", "ns|us|ms|s", NULL, 0, 0 },
	{ L(tag_keys, K_STRING), "", NULL, NULL, 0, 0 },
	{ L(measurement_key, K_STRING), "measurement", NULL, NULL, 0, 0 },
	{ L(time_key, K_STRING), "time", NULL, NULL, 0, 0 },
	{ L(max_line, K_SIZE), "64K", NULL, NULL, 64, 64 << 20 },
	{ L(allowed_databases, K_STRING), "*", NULL, NULL, 0, 0 },
	{ L(allow_uids, K_STRING), "", NULL, NULL, 0, 0 },
	{ L(allow_gids, K_STRING), "", NULL, NULL, 0, 0 },
	{ L(idle_timeout_ms, K_DURATION), "5m", NULL, NULL, 0, NOMAX },
	{ L(max_clients, K_UINT), "1024", NULL, NULL, 1, 1 << 20 },

	{ T(url, K_STRING), "http://127.0.0.1:8086", NULL, NULL, 0, 0 },
	{ T(api, K_ENUM), "v1", "v1|v2", NULL, 0, 0 },
	{ T(database, K_STRING), "telemetry", NULL, NULL, 0, 0 },
	{ T(retention_policy, K_STRING), "", NULL, NULL, 0, 0 },
	{ T(org, K_STRING), "", NULL, NULL, 0, 0 },
	{ T(username, K_STRING), "", NULL, NULL, 0, 0 },
	{ T(password, K_STRING), "", NULL, NULL, 0, 0 },
	{ T(password_file, K_STRING), "", NULL, NULL, 0, 0 },
	{ T(token, K_STRING), "", NULL, NULL, 0, 0 },
	{ T(token_file, K_STRING), "", NULL, NULL, 0, 0 },
	{ T(create_database, K_BOOL), "true", NULL, NULL, 0, 0 },
	{ T(batch_size, K_UINT), "5000", NULL, NULL, 1, 10000000 },
	{ T(batch_bytes, K_SIZE), "4M", NULL, NULL, 1024, 1 << 30 },
	{ T(flush_interval_ms, K_DURATION), "1s", NULL, NULL, 1, NOMAX },
	{ T(flush_jitter_ms, K_DURATION), "1s", NULL, NULL, 0, NOMAX },
	{ T(buffer_size, K_SIZE), "64M", NULL, NULL, 1024, NOMAX },
	{ T(overflow, K_ENUM), "drop_oldest", "drop_oldest|drop_newest|block",
	    NULL, 0, 0 },
	{ T(spool, K_BOOL), "true", NULL, NULL, 0, 0 },
	{ T(spool_size, K_SIZE), "1G", NULL, NULL, 1 << 20, NOMAX },
	{ T(spool_sync, K_STRING), "1s", NULL, NULL, 0, 0 },
	{ T(max_connections, K_UINT), "2", NULL, NULL, 1, 256 },
	{ T(max_queues, K_UINT), "1000", NULL, NULL, 1, 1000000 },
	{ T(retry_initial_ms, K_DURATION), "500ms", NULL, NULL, 1, NOMAX },
	{ T(retry_max_ms, K_DURATION), "60s", NULL, NULL, 1, NOMAX },
	{ T(timeout_ms, K_DURATION), "10s", NULL, NULL, 1, NOMAX },
	{ T(gzip, K_BOOL), "false", NULL, NULL, 0, 0 },
	{ T(tls_ca, K_STRING), "", NULL, NULL, 0, 0 },
	{ T(tls_cert, K_STRING), "", NULL, NULL, 0, 0 },
	{ T(tls_key, K_STRING), "", NULL, NULL, 0, 0 },
	{ T(tls_verify, K_BOOL), "true", NULL, NULL, 0, 0 },
};

#undef R
#undef L
#undef T

#define NKEYS	(sizeof(conf_keys) / sizeof(conf_keys[0]))

/* A section seen in the file, with the keys already set in it. */
struct conf_seen {
	enum conf_section	 section;
	char			*header;	/* "target:local" */
	void			*obj;
	int			 lines[NKEYS];	/* where each key is set, or 0 */
};

struct conf_parser {
	struct conf		*conf;
	struct conf_errors	*errs;
	const char		*name;		/* file name for messages */
	int			 lineno;
	int			 max_line;	/* inih's line buffer */
	int			 first_error_line;
	struct conf_seen	**seen;
	size_t			 nseen;
	size_t			 seen_cap;
	struct hmap		*seen_names;	/* conf_seen by header */
	struct conf_seen	*cur;		/* the section being read */
	struct hmap		*targets;	/* conf_target by name */
	size_t			 listeners_cap;	/* of conf->listeners */
	size_t			 targets_cap;	/* of conf->targets */
	struct hmap		*paths;		/* conf_listener by path */
	/* input: a FILE or a string */
	FILE			*fp;
	const char		*text;
	char			*line;
	size_t			 cap;
};

static void conf_error(struct conf_parser *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
conf_error(struct conf_parser *cp, int lineno, const char *fmt, ...)
{
	struct conf_errors	*errs = cp->errs;
	va_list			 ap;
	char			*msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatal("vasprintf");
	va_end(ap);
	errs->msgs = xreallocarray(errs->msgs, errs->count + 1,
	    sizeof(*errs->msgs));
	/* line 0: the file as a whole (it cannot be opened, lacks a section) */
	if (lineno > 0)
		errs->msgs[errs->count++] = xasprintf("%s:%d: %s", cp->name,
		    lineno, msg);
	else
		errs->msgs[errs->count++] = xasprintf("%s: %s", cp->name, msg);
	free(msg);
}

/* The key's name as users write it: the struct field without "_ms". */
static void
conf_key_name(const struct conf_key *k, char *buf, size_t size)
{
	size_t	 len = strlen(k->name);

	if (k->kind == K_DURATION)
		len -= 3;
	snprintf(buf, size, "%.*s", (int)len, k->name);
}

int
conf_parse_duration_ms(const char *s, uint64_t *ms)
{
	static const struct { const char *unit; double ms; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
	};
	const char	*p = s;
	char		*end;
	double		 v;
	size_t		 i;

	/* digits, then maybe '.' and digits: strtod alone takes hex too */
	while (isdigit((unsigned char)*p))
		p++;
	if (p == s)
		return -1;
	if (*p == '.') {
		if (!isdigit((unsigned char)p[1]))
			return -1;
		for (p++; isdigit((unsigned char)*p); p++)
			;
	}
	errno = 0;
	v = strtod(s, &end);
	if (end != p || errno != 0)
		return -1;
	if (*end == '\0' && v == 0) {
		*ms = 0;
		return 0;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) != 0)
			continue;
		v *= units[i].ms;
		if (v >= 1e11)		/* ~3 years: keeps ns math in range */
			return -1;
		*ms = (uint64_t)(v + 0.5);
		return 0;
	}
	return -1;
}

int
conf_parse_size(const char *s, uint64_t *size)
{
	char			*end;
	unsigned long long	 v;
	int			 shift = 0;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case '\0':
		break;
	default:
		return -1;
	}
	if (shift != 0 && end[1] != '\0')
		return -1;
	if (v > (UINT64_MAX >> shift))
		return -1;
	*size = (uint64_t)v << shift;
	return 0;
}

static int
conf_parse_bool(const char *s, bool *b)
{
	if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0 ||
	    strcmp(s, "on") == 0 || strcmp(s, "1") == 0)
		*b = true;
	else if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0 ||
	    strcmp(s, "off") == 0 || strcmp(s, "0") == 0)
		*b = false;
	else
		return -1;
	return 0;
}

/* Index of `s` in the "a|b|c" list, or -1. */
static int
conf_choice(const char *list, const char *s)
{
	size_t	 len = strlen(s);
	int	 i = 0;

	while (list != NULL && *list != '\0') {
		const char	*bar = strchr(list, '|');
		size_t		 n = bar ? (size_t)(bar - list) : strlen(list);

		if (n == len && strncmp(list, s, n) == 0)
			return i;
		list = bar ? bar + 1 : NULL;
		i++;
	}
	return -1;
}

static bool
conf_is_later(const struct conf_key *k, const char *value)
{
	bool	 b;

	if (k->later == NULL)
		return false;
	if (strcmp(k->later, "*") == 0)
		return value[0] != '\0';
	if (strcmp(k->later, "!") == 0)
		return strcmp(value, k->def) != 0;
	if (k->kind == K_BOOL && conf_parse_bool(value, &b) == 0)
		value = b ? "true" : "false";
	return conf_choice(k->later, value) >= 0;
}

static int
conf_parse_number(const struct conf_key *k, const char *value, uint64_t *v)
{
	char		*end;

	switch (k->kind) {
	case K_DURATION:
		return conf_parse_duration_ms(value, v);
	case K_SIZE:
		return conf_parse_size(value, v);
	case K_MODE:
		errno = 0;
		*v = strtoull(value, &end, 8);
		return (*value == '\0' || *end != '\0' || errno) ? -1 : 0;
	default:
		if (!isdigit((unsigned char)*value))
			return -1;
		errno = 0;
		*v = strtoull(value, &end, 10);
		return (*end != '\0' || errno) ? -1 : 0;
	}
}

static const char *
conf_kind_hint(enum conf_kind kind)
{
	switch (kind) {
	case K_DURATION:
		return " (a duration such as 500ms, 10s, 5m or 1h)";
	case K_SIZE:
		return " (a size such as 512, 64K, 4M or 1G)";
	case K_MODE:
		return " (an octal mode such as 0660)";
	case K_BOOL:
		return " (true or false)";
	case K_LOGLEVEL:
		return " (debug, info, warn or error)";
	default:
		return "";
	}
}

/* Stores `value` for key `k` into `obj`; -1 with the reason in `why`. */
static int
conf_store(const struct conf_key *k, void *obj, const char *value,
    char *why, size_t whysize)
{
	char		*field = (char *)obj + k->offset;
	uint64_t	 v;
	int		 i;

	why[0] = '\0';
	switch (k->kind) {
	case K_STRING:
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return 0;
	case K_BOOL:
		return conf_parse_bool(value, (bool *)field);
	case K_ENUM:
		if ((i = conf_choice(k->choices, value)) < 0) {
			snprintf(why, whysize, " (one of: %s)", k->choices);
			return -1;
		}
		*(int *)field = i;
		return 0;
	case K_LOGLEVEL:
		if ((i = log_level_parse(value)) < 0)
			return -1;
		*(int *)field = i;
		return 0;
	default:
		if (conf_parse_number(k, value, &v) == -1)
			return -1;
		if (v < k->min || v > k->max) {
			snprintf(why, whysize, " (allowed: %llu to %llu)",
			    (unsigned long long)k->min,
			    (unsigned long long)k->max);
			return -1;
		}
		*(uint64_t *)field = v;
		return 0;
	}
}

static void
conf_set_defaults(enum conf_section section, void *obj)
{
	char	 why[64];
	size_t	 i;

	for (i = 0; i < NKEYS; i++) {
		if (conf_keys[i].section != section)
			continue;
		if (conf_store(&conf_keys[i], obj, conf_keys[i].def, why,
		    sizeof(why)) == -1)
			fatalx("conf: bad default for %s", conf_keys[i].name);
	}
}

static bool
conf_valid_name(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("_.-", *s) == NULL)
			return false;
	return true;
}

/* The indexes the checks use, so that checking stays linear. */
static bool
conf_seen_is(const void *item, const void *key)
{
	return strcmp(((const struct conf_seen *)item)->header, key) == 0;
}

static bool
conf_target_is(const void *item, const void *key)
{
	return strcmp(((const struct conf_target *)item)->name, key) == 0;
}

static bool
conf_path_is(const void *item, const void *key)
{
	return strcmp(((const struct conf_listener *)item)->path, key) == 0;
}

static void *
conf_index_get(const struct hmap *m, hmap_eq_fn eq, const char *key)
{
	return hmap_find(m, hmap_hash_str(0, key), eq, key);
}

/* Adds `item` under `key` (which it holds) unless the key is there. */
static void
conf_index_put(struct hmap *m, hmap_eq_fn eq, const char *key, void *item)
{
	if (conf_index_get(m, eq, key) == NULL)
		hmap_insert(m, hmap_hash_str(0, key), item);
}

static struct conf_seen *
conf_find_seen(struct conf_parser *cp, const char *header)
{
	if (cp->cur != NULL && strcmp(cp->cur->header, header) == 0)
		return cp->cur;
	return conf_index_get(cp->seen_names, conf_seen_is, header);
}

static void *
conf_new_listener(struct conf_parser *cp, const char *name)
{
	struct conf		*conf = cp->conf;
	struct conf_listener	*l = xcalloc(1, sizeof(*l));

	l->name = xstrdup(name);
	l->lineno = cp->lineno;
	conf_set_defaults(SEC_LISTENER, l);
	/* doubling: growing by one would copy the array every section */
	if (conf->nlisteners == cp->listeners_cap) {
		cp->listeners_cap = cp->listeners_cap ? 2 * cp->listeners_cap :
		    4;
		conf->listeners = xreallocarray(conf->listeners,
		    cp->listeners_cap, sizeof(*conf->listeners));
	}
	conf->listeners[conf->nlisteners++] = l;
	return l;
}

static void *
conf_new_target(struct conf_parser *cp, const char *name)
{
	struct conf		*conf = cp->conf;
	struct conf_target	*t = xcalloc(1, sizeof(*t));

	t->name = xstrdup(name);
	t->lineno = cp->lineno;
	conf_set_defaults(SEC_TARGET, t);
	if (conf->ntargets == cp->targets_cap) {
		cp->targets_cap = cp->targets_cap ? 2 * cp->targets_cap : 4;
		conf->targets = xreallocarray(conf->targets, cp->targets_cap,
		    sizeof(*conf->targets));
	}
	conf->targets[conf->ntargets++] = t;
	return t;
}

/* The NAME of "[kind:NAME]" if `header` is of that kind, else NULL. */
static const char *
conf_section_name(const char *header, const char *kind)
{
	size_t	 len = strlen(kind);

	if (strncmp(header, kind, len) != 0 || header[len] != ':' ||
	    !conf_valid_name(header + len + 1))
		return NULL;
	return header + len + 1;
}

/* Creates the object for a section header "[kind:name]". */
static void
conf_begin_section(struct conf_parser *cp, const char *header)
{
	struct conf_seen	*seen;
	enum conf_section	 section;
	const char		*name;
	void			*obj;

	if (conf_find_seen(cp, header) != NULL) {
		conf_error(cp, cp->lineno, "duplicate section [%s]", header);
		return;
	}
	if (strcmp(header, "relayd") == 0) {
		section = SEC_RELAYD;
		obj = cp->conf;
	} else if ((name = conf_section_name(header, "listener")) != NULL) {
		section = SEC_LISTENER;
		obj = conf_new_listener(cp, name);
	} else if ((name = conf_section_name(header, "target")) != NULL) {
		section = SEC_TARGET;
		obj = conf_new_target(cp, name);
	} else {
		conf_error(cp, cp->lineno, "unknown section [%s] (expected "
		    "[relayd], [listener:NAME] or [target:NAME]; NAME is "
		    "letters, digits, '_', '.', '-')", header);
		return;
	}
	if (cp->nseen == cp->seen_cap) {
		cp->seen_cap = cp->seen_cap ? 2 * cp->seen_cap : 16;
		cp->seen = xreallocarray(cp->seen, cp->seen_cap,
		    sizeof(*cp->seen));
	}
	seen = cp->seen[cp->nseen++] = xcalloc(1, sizeof(*seen));
	seen->section = section;
	seen->header = xstrdup(header);
	seen->obj = obj;
	conf_index_put(cp->seen_names, conf_seen_is, seen->header, seen);
	cp->cur = seen;
}


static const struct conf_key *
conf_find_key(enum conf_section section, const char *name, size_t *idx)
{
	char	 kname[64];
	size_t	 i;

	for (i = 0; i < NKEYS; i++) {
		if (conf_keys[i].section != section)
			continue;
		conf_key_name(&conf_keys[i], kname, sizeof(kname));
		if (strcmp(kname, name) == 0) {
			*idx = i;
			return &conf_keys[i];
		}
	}
	return NULL;
}

/* inih's callback for every name = value pair. */
static int
conf_handler_cb(void *arg, const char *section, const char *name,
    const char *value)
{
	struct conf_parser	*cp = arg;
	struct conf_seen	*seen;
	const struct conf_key	*k;
	char			 why[96];
	size_t			 idx;

	if (section[0] == '\0') {
		conf_error(cp, cp->lineno, "key '%s' outside any section",
		    name);
		return 1;
	}
	if ((seen = conf_find_seen(cp, section)) == NULL)
		return 1;	/* the bad header was reported already */
	if ((k = conf_find_key(seen->section, name, &idx)) == NULL) {
		conf_error(cp, cp->lineno, "unknown key '%s' in [%s]", name,
		    section);
		return 1;
	}
	if (seen->lines[idx] != 0) {
		conf_error(cp, cp->lineno, "duplicate key '%s' in [%s]", name,
		    section);
		return 1;
	}
	seen->lines[idx] = cp->lineno;
	if (conf_store(k, seen->obj, value, why, sizeof(why)) == -1) {
		if (why[0] == '\0')
			snprintf(why, sizeof(why), "%s",
			    conf_kind_hint(k->kind));
		conf_error(cp, cp->lineno, "invalid value '%s' for '%s'%s",
		    value, name, why);
	} else if (conf_is_later(k, value))
		conf_error(cp, cp->lineno, "'%s = %s' is not supported yet "
		    "by this version", name, value);
	if (seen->section == SEC_LISTENER && strcmp(name, "target") == 0)
		((struct conf_listener *)seen->obj)->target_lineno =
		    cp->lineno;
	return 1;
}

/* Reads one line of input; NULL at the end. `*len` excludes the newline. */
static char *
conf_read_line(struct conf_parser *cp, size_t *len)
{
	const char	*nl;
	ssize_t		 n;

	if (cp->fp != NULL) {
		if ((n = getline(&cp->line, &cp->cap, cp->fp)) == -1)
			return NULL;
		*len = (size_t)n;
	} else {
		if (*cp->text == '\0')
			return NULL;
		nl = strchr(cp->text, '\n');
		*len = nl ? (size_t)(nl - cp->text) + 1 : strlen(cp->text);
		if (*len + 1 > cp->cap) {
			cp->cap = *len + 1;
			cp->line = xreallocarray(cp->line, cp->cap, 1);
		}
		memcpy(cp->line, cp->text, *len);
		cp->line[*len] = '\0';
		cp->text += *len;
	}
	while (*len > 0 && (cp->line[*len - 1] == '\n' ||
	    cp->line[*len - 1] == '\r'))
		cp->line[--*len] = '\0';
	return cp->line;
}

/* Notes a "[header]" line; inih parses it too, for the keys that follow. */
static void
conf_scan_header(struct conf_parser *cp, const char *line)
{
	const char	*end, *rest;
	char		*header;

	while (isspace((unsigned char)*line))
		line++;
	if (*line != '[')
		return;
	if ((end = strchr(line, ']')) == NULL) {
		conf_error(cp, cp->lineno, "section header without ']'");
		return;
	}
	/* inih ignores what follows the ']': "[target:x]]" is a typo */
	for (rest = end + 1; isspace((unsigned char)*rest); rest++)
		;
	if (*rest != '\0' && *rest != ';' && *rest != '#') {
		conf_error(cp, cp->lineno, "text after the section header's "
		    "']'");
		return;
	}
	header = xstrndup(line + 1, (size_t)(end - line - 1));
	conf_begin_section(cp, header);
	free(header);
}

/* inih's reader: one line per call, so cp->lineno is the current line. */
static char *
conf_reader_cb(char *buf, int size, void *arg)
{
	struct conf_parser	*cp = arg;
	char			*line;
	size_t			 len;

	if ((line = conf_read_line(cp, &len)) == NULL)
		return NULL;
	cp->lineno++;
	if (cp->lineno == 1 && len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
		line += 3;	/* a UTF-8 byte order mark */
		len -= 3;
	}
	if (memchr(line, '\0', len) != NULL) {
		conf_error(cp, cp->lineno, "NUL byte in line");
		snprintf(buf, (size_t)size, "\n");
		return buf;
	}
	/* inih needs room for "\r\n\0" beyond the longest line */
	if (len + 3 > (size_t)size) {
		conf_error(cp, cp->lineno, "line longer than %d characters "
		    "(put long secrets in password_file or token_file)",
		    size - 3);
		snprintf(buf, (size_t)size, "\n");
		return buf;
	}
	conf_scan_header(cp, line);
	snprintf(buf, (size_t)size, "%s\n", line);
	return buf;
}

struct conf_target *
conf_find_target(const struct conf *conf, const char *name)
{
	size_t	 i;

	for (i = 0; i < conf->ntargets; i++)
		if (strcmp(conf->targets[i]->name, name) == 0)
			return conf->targets[i];
	return NULL;
}

static bool
conf_listener_has_target(const struct conf_listener *l, const char *name)
{
	size_t	 i;

	for (i = 0; i < l->ntargets; i++)
		if (strcmp(l->targets[i], name) == 0)
			return true;
	return false;
}

/* Splits "a, b" into l->targets; an empty list means the only target. */
static void
conf_check_listener_targets(struct conf_parser *cp, struct conf_listener *l)
{
	struct conf	*conf = cp->conf;
	char		*list, *tok, *save = NULL;
	int		 line = l->target_lineno ? l->target_lineno : l->lineno;

	if (l->target[0] == '\0') {
		if (conf->ntargets != 1) {
			conf_error(cp, line, "[listener:%s] needs 'target' "
			    "(there is not exactly one [target:NAME])",
			    l->name);
			return;
		}
		free(l->target);
		l->target = xstrdup(conf->targets[0]->name);
	}
	list = xstrdup(l->target);
	for (tok = strtok_r(list, ", \t", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &save)) {
		if (conf_index_get(cp->targets, conf_target_is, tok) == NULL)
			conf_error(cp, line, "[listener:%s] names target '%s', "
			    "which is not defined", l->name, tok);
		if (conf_listener_has_target(l, tok)) {
			conf_error(cp, line, "[listener:%s] names target '%s' "
			    "twice", l->name, tok);
			continue;
		}
		l->targets = xreallocarray(l->targets, l->ntargets + 1,
		    sizeof(*l->targets));
		l->targets[l->ntargets++] = xstrdup(tok);
	}
	free(list);
	if (l->ntargets == 0)
		conf_error(cp, line, "[listener:%s] has an empty target list",
		    l->name);
}

/* Was `name` written in this listener's section (not a default)? */
static bool
conf_listener_has(struct conf_parser *cp, const struct conf_listener *l,
    const char *name)
{
	const struct conf_seen	*seen;
	char			 header[256];
	size_t			 idx;

	if (conf_find_key(SEC_LISTENER, name, &idx) == NULL)
		return false;
	snprintf(header, sizeof(header), "listener:%s", l->name);
	seen = conf_find_seen(cp, header);
	return seen != NULL && seen->obj == l && seen->lines[idx] != 0;
}

static void
conf_set_string(char **field, const char *value)
{
	free(*field);
	*field = xstrdup(value);
}

/* kv defaults routing keys to db / rp; the kv keys need format = kv. */
static void
conf_check_listener_format(struct conf_parser *cp, struct conf_listener *l)
{
	static const char *const kv_only[] = { "tag_keys", "measurement_key",
		"time_key" };
	const char	*keys[4];
	size_t		 i, j;

	if (l->format != FORMAT_KV) {
		for (i = 0; i < sizeof(kv_only) / sizeof(kv_only[0]); i++)
			if (conf_listener_has(cp, l, kv_only[i]))
				conf_error(cp, l->lineno, "[listener:%s] '%s' "
				    "only applies to format = kv", l->name,
				    kv_only[i]);
		return;
	}
	if (!conf_listener_has(cp, l, "database_tag"))
		conf_set_string(&l->database_tag, "db");
	if (!conf_listener_has(cp, l, "retention_policy_tag"))
		conf_set_string(&l->retention_policy_tag, "rp");
	if (l->measurement_key[0] == '\0')
		conf_error(cp, l->lineno, "[listener:%s] measurement_key is "
		    "empty", l->name);
	keys[0] = l->measurement_key;
	keys[1] = l->time_key;
	keys[2] = l->database_tag;
	keys[3] = l->retention_policy_tag;
	for (i = 0; i < 4; i++)
		for (j = i + 1; j < 4; j++)
			if (keys[i][0] != '\0' && strcmp(keys[i], keys[j]) == 0)
				conf_error(cp, l->lineno, "[listener:%s] key "
				    "'%s' has two roles", l->name, keys[i]);
}

/* A user or group: a number, or a name looked up now. */
static int
conf_lookup_id(const char *s, bool group, unsigned long *id)
{
	struct passwd	*pw;
	struct group	*gr;
	char		*end;

	if (isdigit((unsigned char)*s)) {
		errno = 0;
		*id = strtoul(s, &end, 10);
		return (*end != '\0' || errno || *id >= UINT32_MAX) ? -1 : 0;
	}
	if (group && (gr = getgrnam(s)) != NULL) {
		*id = gr->gr_gid;
		return 0;
	}
	if (!group && (pw = getpwnam(s)) != NULL) {
		*id = pw->pw_uid;
		return 0;
	}
	return -1;
}

/* Parses allow_uids or allow_gids ("0, www-data") into l->uids/gids. */
static void
conf_parse_ids(struct conf_parser *cp, struct conf_listener *l, bool group)
{
	char		*list, *tok, *save = NULL;
	unsigned long	 id;

	list = xstrdup(group ? l->allow_gids : l->allow_uids);
	for (tok = strtok_r(list, ", \t", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &save)) {
		if (conf_lookup_id(tok, group, &id) == -1) {
			conf_error(cp, l->lineno, "[listener:%s] unknown %s "
			    "'%s' in %s", l->name, group ? "group" : "user",
			    tok, group ? "allow_gids" : "allow_uids");
			continue;
		}
		if (group) {
			l->gids = xreallocarray(l->gids, l->ngids + 1,
			    sizeof(*l->gids));
			l->gids[l->ngids++] = (gid_t)id;
		} else {
			l->uids = xreallocarray(l->uids, l->nuids + 1,
			    sizeof(*l->uids));
			l->uids[l->nuids++] = (uid_t)id;
		}
	}
	free(list);
}

static void
conf_check_listener_access(struct conf_parser *cp, struct conf_listener *l)
{
	const char	*p = l->allowed_databases;
	size_t		 n;

	if (p[strspn(p, ", \t")] == '\0')
		conf_error(cp, l->lineno, "[listener:%s] allowed_databases is "
		    "empty (use * to allow any database)", l->name);
	for (; *p != '\0'; p += n) {
		p += strspn(p, ", \t");
		if ((n = strcspn(p, ",")) > 255)
			conf_error(cp, l->lineno, "[listener:%s] pattern in "
			    "allowed_databases longer than 255 bytes",
			    l->name);
	}
	conf_parse_ids(cp, l, false);
	conf_parse_ids(cp, l, true);
}

static void
conf_check_listener(struct conf_parser *cp, struct conf_listener *l)
{
	struct conf_listener	*other;
	struct conf_target	*t;
	size_t			 i;

	if (l->path[0] == '\0')
		conf_error(cp, l->lineno, "[listener:%s] needs 'path'",
		    l->name);
	else if (strlen(l->path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		conf_error(cp, l->lineno, "[listener:%s] path is longer than "
		    "a UNIX socket allows (%zu bytes)", l->name,
		    sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	else if (l->path[0] != '/')
		conf_error(cp, l->lineno, "[listener:%s] path '%s' is not "
		    "absolute", l->name, l->path);
	if (l->path[0] != '\0' &&
	    (other = conf_index_get(cp->paths, conf_path_is, l->path)) !=
	    NULL)
		conf_error(cp, l->lineno, "[listener:%s] uses the same path "
		    "as [listener:%s]", l->name, other->name);
	else if (l->path[0] != '\0')
		conf_index_put(cp->paths, conf_path_is, l->path, l);
	conf_check_listener_targets(cp, l);
	conf_check_listener_format(cp, l);
	conf_check_listener_access(cp, l);
	for (i = 0; i < l->ntargets; i++) {
		t = conf_index_get(cp->targets, conf_target_is, l->targets[i]);
		if (t != NULL && l->database[0] == '\0' &&
		    t->database[0] == '\0')
			conf_error(cp, l->lineno, "[listener:%s] has no "
			    "database: set 'database' here or in "
			    "[target:%s]", l->name, t->name);
	}
}

/*
 * Reads a secret file into `*dst` (its first line, without the newline),
 * so the daemon never reads it again after dropping privileges.
 */
static void
conf_read_secret(struct conf_parser *cp, struct conf_target *t,
    const char *key, const char *path, char **dst)
{
	FILE	*fp;
	char	*line = NULL;
	size_t	 cap = 0;
	ssize_t	 n;

	if ((fp = fopen(path, "r")) == NULL) {
		conf_error(cp, t->lineno, "[target:%s] cannot read %s '%s': "
		    "%s", t->name, key, path, strerror(errno));
		return;
	}
	n = getline(&line, &cap, fp);
	fclose(fp);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (n <= 0) {
		conf_error(cp, t->lineno, "[target:%s] %s '%s' is empty",
		    t->name, key, path);
		free(line);
		return;
	}
	free(*dst);
	*dst = line;
}

static void
conf_check_readable(struct conf_parser *cp, struct conf_target *t,
    const char *key, const char *path)
{
	FILE	*fp;

	if (path[0] == '\0')
		return;
	if ((fp = fopen(path, "r")) == NULL)
		conf_error(cp, t->lineno, "[target:%s] cannot read %s '%s': "
		    "%s", t->name, key, path, strerror(errno));
	else
		fclose(fp);
}

/* Credentials: one source per secret, one scheme per target. */
static void
conf_check_auth(struct conf_parser *cp, struct conf_target *t)
{
	if (t->password[0] != '\0' && t->password_file[0] != '\0')
		conf_error(cp, t->lineno, "[target:%s] set password or "
		    "password_file, not both", t->name);
	else if (t->password_file[0] != '\0')
		conf_read_secret(cp, t, "password_file", t->password_file,
		    &t->password);
	if (t->token[0] != '\0' && t->token_file[0] != '\0')
		conf_error(cp, t->lineno, "[target:%s] set token or "
		    "token_file, not both", t->name);
	else if (t->token_file[0] != '\0')
		conf_read_secret(cp, t, "token_file", t->token_file, &t->token);
	if (t->username[0] == '\0' && (t->password[0] != '\0' ||
	    t->password_file[0] != '\0'))
		conf_error(cp, t->lineno, "[target:%s] a password needs a "
		    "username", t->name);
	if (t->username[0] != '\0' && (t->token[0] != '\0' ||
	    t->token_file[0] != '\0'))
		conf_error(cp, t->lineno, "[target:%s] set username/password "
		    "or a token, not both", t->name);
}

static void
conf_check_tls(struct conf_parser *cp, struct conf_target *t)
{
	bool	 any = t->tls_ca[0] || t->tls_cert[0] || t->tls_key[0] ||
		    !t->tls_verify;

	if (any && strncmp(t->url, "https://", 8) != 0)
		conf_error(cp, t->lineno, "[target:%s] tls_* options need an "
		    "https:// url", t->name);
	if ((t->tls_cert[0] != '\0') != (t->tls_key[0] != '\0'))
		conf_error(cp, t->lineno, "[target:%s] tls_cert and tls_key "
		    "go together", t->name);
	conf_check_readable(cp, t, "tls_ca", t->tls_ca);
	conf_check_readable(cp, t, "tls_cert", t->tls_cert);
	conf_check_readable(cp, t, "tls_key", t->tls_key);
}

/* unix:///absolute/path/to/influxdb.sock: a path, nothing else. */
static const char *
conf_check_unix_url(const char *url)
{
	const char	*path = url + strlen("unix://");

	if (path[0] != '/' || path[1] == '\0' ||
	    path[strlen(path) - 1] == '/')
		return "a UNIX socket url is unix:///absolute/path";
	if (strpbrk(path, "?# ") != NULL)
		return "a UNIX socket url is a path without '?', '#' or spaces";
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return "the socket path is longer than a UNIX socket allows";
	return NULL;
}

/* True unless curl_url_get(3) answers `none` (that part is absent). */
static bool
conf_url_has(CURLU *u, CURLUPart what, CURLUcode none)
{
	char		*part = NULL;
	CURLUcode	 rc = curl_url_get(u, what, &part, 0);

	curl_free(part);
	return rc != none;
}

/*
 * http(s):// parsed by libcurl's own URL parser (curl_url_set(3)), the
 * one that will send the requests: what it refuses here would fail
 * forever at run time.  It refuses spaces and a bad IPv6 literal; a query
 * or fragment would break the /write and /query URLs built on this one
 * (CURLUE_NO_QUERY / CURLUE_NO_FRAGMENT from curl_url_get(3) mean none).
 */
static const char *
conf_check_http_url(const char *url)
{
	CURLU		*u;
	const char	*why = NULL;
	char		*part = NULL;

	if ((u = curl_url()) == NULL)
		fatalx("conf: curl_url failed");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		why = "not a valid URL";
	else if (curl_url_get(u, CURLUPART_SCHEME, &part, 0) != CURLUE_OK ||
	    (strcmp(part, "http") != 0 && strcmp(part, "https") != 0))
		why = "must start with http://, https:// or unix://";
	else if (conf_url_has(u, CURLUPART_QUERY, CURLUE_NO_QUERY))
		why = "must not have a query ('?'): the relay builds it";
	else if (conf_url_has(u, CURLUPART_FRAGMENT, CURLUE_NO_FRAGMENT))
		why = "must not have a fragment ('#')";
	curl_free(part);
	curl_url_cleanup(u);
	return why;
}

static void
conf_check_url(struct conf_parser *cp, struct conf_target *t)
{
	const char	*url = t->url, *why;

	/* the URL is logged: it must not carry a password */
	if (endpoint_has_userinfo(url))
		conf_error(cp, t->lineno, "[target:%s] url must not contain "
		    "credentials: use username and password_file", t->name);
	else if (strncmp(url, "unix://", 7) == 0) {
		if ((why = conf_check_unix_url(url)) != NULL)
			conf_error(cp, t->lineno, "[target:%s] url '%s': %s",
			    t->name, url, why);
	} else if (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0)
		conf_error(cp, t->lineno, "[target:%s] url '%s' must start "
		    "with http://, https:// or unix://", t->name, url);
	else if ((why = conf_check_http_url(url)) != NULL)
		conf_error(cp, t->lineno, "[target:%s] url '%s': %s", t->name,
		    url, why);
}

static void
conf_check_target(struct conf_parser *cp, struct conf_target *t)
{
	conf_check_url(cp, t);
	conf_check_auth(cp, t);
	conf_check_tls(cp, t);
	if (t->retry_initial_ms > t->retry_max_ms)
		conf_error(cp, t->lineno, "[target:%s] retry_initial is "
		    "larger than retry_max", t->name);
	/* spool.h: SPOOL_SYNC_ALWAYS is 0 ms, SPOOL_SYNC_NEVER the most */
	if (strcmp(t->spool_sync, "always") == 0)
		t->spool_sync_ms = 0;
	else if (strcmp(t->spool_sync, "never") == 0)
		t->spool_sync_ms = UINT64_MAX;
	else if (conf_parse_duration_ms(t->spool_sync, &t->spool_sync_ms) ==
	    -1 || t->spool_sync_ms == UINT64_MAX)
		conf_error(cp, t->lineno, "[target:%s] spool_sync "
		    "must be always, never or a duration", t->name);
}

/*
 * The line where [relayd] set `name`; 0 (the file as a whole) when the
 * default applies.
 */
static int
conf_relayd_line(struct conf_parser *cp, const char *name)
{
	const struct conf_seen	*seen;
	size_t			 idx;

	if (conf_find_key(SEC_RELAYD, name, &idx) == NULL ||
	    (seen = conf_find_seen(cp, "relayd")) == NULL)
		return 0;
	return seen->lines[idx];
}

static void
conf_check(struct conf_parser *cp)
{
	struct conf	*conf = cp->conf;
	size_t		 i;

	if (conf->nlisteners == 0)
		conf_error(cp, 0, "no [listener:NAME] section");
	if (conf->internal_database[0] != '\0' && conf->stats_interval_ms == 0)
		conf_error(cp, conf_relayd_line(cp, "internal_database"),
		    "[relayd] internal_database is written every "
		    "stats_interval, which is 0");
	if (conf->ntargets == 0)
		conf_error(cp, 0, "no [target:NAME] section");
	if (conf->control_socket[0] != '\0' && conf->control_socket[0] != '/')
		conf_error(cp, conf_relayd_line(cp, "control_socket"),
		    "[relayd] control_socket '%s' is not an absolute path",
		    conf->control_socket);
	for (i = 0; i < conf->ntargets; i++) {
		conf_index_put(cp->targets, conf_target_is,
		    conf->targets[i]->name, conf->targets[i]);
		conf_check_target(cp, conf->targets[i]);
	}
	for (i = 0; i < conf->nlisteners; i++) {
		struct conf_listener	*l = conf->listeners[i];

		conf_check_listener(cp, l);
		if (strcmp(l->path, conf->control_socket) == 0)
			conf_error(cp, l->lineno, "[listener:%s] uses the "
			    "control_socket path", l->name);
	}
}

static struct conf *
conf_parse(struct conf_parser *cp)
{
	struct conf	*conf;
	size_t		 i;
	int		 rc;

	conf = cp->conf = xcalloc(1, sizeof(*conf));
	conf->file = xstrdup(cp->name);
	cp->seen_names = hmap_new();
	cp->targets = hmap_new();
	cp->paths = hmap_new();
	conf_set_defaults(SEC_RELAYD, conf);

	rc = ini_parse_stream(conf_reader_cb, cp, conf_handler_cb, cp);
	if (rc > 0)
		conf_error(cp, rc, "syntax error (expected [section] or "
		    "key = value)");
	else if (rc < 0)
		conf_error(cp, 0, "cannot parse (error %d)", rc);
	conf_check(cp);

	for (i = 0; i < cp->nseen; i++) {
		free(cp->seen[i]->header);
		free(cp->seen[i]);
	}
	free(cp->seen);
	hmap_free(cp->seen_names);
	hmap_free(cp->targets);
	hmap_free(cp->paths);
	free(cp->line);
	if (cp->errs->count > 0) {
		conf_free(conf);
		return NULL;
	}
	return conf;
}

struct conf *
conf_load(const char *path, struct conf_errors *errs)
{
	struct conf_parser	 cp = { .errs = errs, .name = path };
	struct conf		*conf;

	if ((cp.fp = fopen(path, "r")) == NULL) {
		conf_error(&cp, 0, "cannot open: %s", strerror(errno));
		return NULL;
	}
	conf = conf_parse(&cp);
	fclose(cp.fp);
	return conf;
}

struct conf *
conf_load_string(const char *text, const char *name,
    struct conf_errors *errs)
{
	struct conf_parser	 cp = { .errs = errs, .name = name,
				    .text = text };

	return conf_parse(&cp);
}

/* Frees every string field described in conf_keys[] for `section`. */
static void
conf_free_strings(enum conf_section section, void *obj)
{
	size_t	 i;

	for (i = 0; i < NKEYS; i++)
		if (conf_keys[i].section == section &&
		    conf_keys[i].kind == K_STRING)
			free(*(char **)((char *)obj + conf_keys[i].offset));
}

void
conf_free(struct conf *conf)
{
	size_t	 i, j;

	if (conf == NULL)
		return;
	for (i = 0; i < conf->nlisteners; i++) {
		struct conf_listener	*l = conf->listeners[i];

		for (j = 0; j < l->ntargets; j++)
			free(l->targets[j]);
		free(l->targets);
		free(l->uids);
		free(l->gids);
		free(l->name);
		conf_free_strings(SEC_LISTENER, l);
		free(l);
	}
	for (i = 0; i < conf->ntargets; i++)
		conf_target_free(conf->targets[i]);
	free(conf->listeners);
	free(conf->targets);
	free(conf->file);
	conf_free_strings(SEC_RELAYD, conf);
	free(conf);
}

struct conf_target *
conf_target_dup(const struct conf_target *t)
{
	struct conf_target	*d = xmalloc(sizeof(*d));
	char			**field;
	size_t			 i;

	memcpy(d, t, sizeof(*d));
	d->name = xstrdup(t->name);
	for (i = 0; i < NKEYS; i++) {
		if (conf_keys[i].section != SEC_TARGET ||
		    conf_keys[i].kind != K_STRING)
			continue;
		field = (char **)((char *)d + conf_keys[i].offset);
		*field = xstrdup(*field);
	}
	return d;
}

void
conf_target_free(struct conf_target *t)
{
	if (t == NULL)
		return;
	free(t->name);
	conf_free_strings(SEC_TARGET, t);
	free(t);
}

void
conf_errors_clear(struct conf_errors *errs)
{
	size_t	 i;

	for (i = 0; i < errs->count; i++)
		free(errs->msgs[i]);
	free(errs->msgs);
	errs->msgs = NULL;
	errs->count = 0;
}

bool
conf_key_info(size_t i, const char **section, char *name, size_t size,
    const char **def)
{
	static const char *const sections[] = {
		[SEC_RELAYD] = "relayd",
		[SEC_LISTENER] = "listener",
		[SEC_TARGET] = "target",
	};

	if (i >= NKEYS)
		return false;
	*section = sections[conf_keys[i].section];
	conf_key_name(&conf_keys[i], name, size);
	*def = conf_keys[i].def;
	return true;
}
