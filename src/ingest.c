/*
 * From a received message to queued points on every target of a
 * listener: parse (line protocol) or translate (key=value), take the
 * routing tags out, stamp, check the database against allowed_databases,
 * then append to each target.  One scratch buffer per ingest holds a
 * translated or cut body, so no message allocates.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "ingest.h"
#include "kv.h"
#include "log.h"
#include "mem.h"
#include "point.h"
#include "proto.h"
#include "route.h"
#include "stamp.h"
#include "target.h"

/* A message made ready for the targets. */
struct ingest_point {
	const char	*body;
	size_t		 len;
	bool		 has_time;
	int64_t		 time;		/* ns */
	const char	*db;		/* from the point, or NULL */
	const char	*rp;
	struct proto_point	*parsed;	/* for its fields' types */
};

struct ingest {
	const struct conf_listener	*conf;
	struct target			**targets;
	size_t				 ntargets;
	int64_t				 precision_mult;
	struct kv			*kv;		/* format = kv */
	char				*buf;		/* body scratch */
	size_t				 bufsize;
	char				 db[ROUTE_MAX_NAME + 1];
	char				 rp[ROUTE_MAX_NAME + 1];
	struct proto_point		 parsed;	/* the line's fields */
	struct ingest_point		 cur;		/* ingest_parse()'s */
	const char			*route_db;	/* a directive's, or NULL */
	const char			*route_rp;
};

static const char	 ingest_not_allowed[] = "database not allowed";
static const char	 ingest_long_name[] = "routing tag too long";
static const char	 ingest_ambiguous[] = "ambiguous routing tag";
static const char	 ingest_control_name[] =
    "control bytes in database or retention policy name";
static const char	 ingest_buffer_full[] = "buffer full";
static const char	 ingest_too_many_queues[] = "too many queues";

/* One clock for the whole relay: stamps are unique across listeners. */
static struct stamp	 ingest_stamp;

static struct kv *
ingest_kv_new(const struct conf_listener *conf, int64_t mult)
{
	struct kv_spec	 spec = {
		.measurement_key = conf->measurement_key,
		.time_key = conf->time_key,
		.database_key = conf->database_tag,
		.retention_policy_key = conf->retention_policy_tag,
		.tag_keys = conf->tag_keys,
		.precision_mult = mult,
	};
	struct kv	*kv;
	char		 err[128];

	if ((kv = kv_new(&spec, err, sizeof(err))) == NULL)
		fatalx("listener %s: %s", conf->name, err);
	return kv;
}

struct ingest *
ingest_new(const struct conf_listener *conf, struct target **targets,
    size_t ntargets)
{
	static const int64_t	 mult[] = {
		[PRECISION_NS] = 1, [PRECISION_US] = 1000,
		[PRECISION_MS] = 1000000, [PRECISION_S] = 1000000000,
	};
	struct ingest		*in = xcalloc(1, sizeof(*in));

	in->conf = conf;
	in->targets = xreallocarray(NULL, ntargets, sizeof(*targets));
	for (size_t i = 0; i < ntargets; i++)
		in->targets[i] = targets[i];
	in->ntargets = ntargets;
	in->precision_mult = mult[conf->precision];
	if (conf->format == FORMAT_KV)
		in->kv = ingest_kv_new(conf, in->precision_mult);
	/* kv output is at most 2 * len + 64 (kv.h); a cut line is shorter */
	in->bufsize = 2 * (size_t)conf->max_line + 64;
	in->buf = xmalloc(in->bufsize);
	return in;
}

void
ingest_free(struct ingest *in)
{
	if (in == NULL)
		return;
	kv_free(in->kv);
	free(in->buf);
	free(in->targets);
	free(in);
}

/* The database for a target: the point's, the listener's, the target's. */
static const char *
ingest_database(const struct ingest *in, const struct ingest_point *p,
    const struct target *t)
{
	if (p->db != NULL)
		return p->db;
	if (in->route_db != NULL)
		return in->route_db;
	if (in->conf->database[0] != '\0')
		return in->conf->database;
	return target_conf(t)->database;
}

static const char *
ingest_retention_policy(const struct ingest *in,
    const struct ingest_point *p, const struct target *t)
{
	if (p->rp != NULL)
		return p->rp;
	if (in->route_rp != NULL)
		return in->route_rp;
	if (in->conf->retention_policy[0] != '\0')
		return in->conf->retention_policy;
	return target_conf(t)->retention_policy;
}

static enum ingest_result
ingest_parse_kv(struct ingest *in, const char *line, size_t len,
    struct ingest_point *p, const char **reason)
{
	struct kv_point	 kp;
	enum kv_status	 st;

	st = kv_translate(in->kv, line, len, in->buf, in->bufsize, &kp);
	if (st == KV_SKIP)
		return INGEST_SKIPPED;
	if (st != KV_OK) {
		*reason = kv_strerror(st);
		return INGEST_REJECTED;
	}
	if ((kp.database != NULL && strlen(kp.database) > ROUTE_MAX_NAME) ||
	    (kp.retention_policy != NULL &&
	    strlen(kp.retention_policy) > ROUTE_MAX_NAME)) {
		*reason = ingest_long_name;
		return INGEST_REJECTED;
	}
	p->body = in->buf;
	p->len = kp.body_len;
	/* the field types, for batching; unsigned fields go unchecked */
	if (proto_parse(p->body, p->len, &in->parsed) == PROTO_OK)
		p->parsed = &in->parsed;
	p->has_time = kp.has_time;
	p->time = kp.time;
	p->db = kp.database;
	p->rp = kp.retention_policy;
	return INGEST_ACCEPTED;
}

/* Takes the routing tags out of a parsed line (into the scratch). */
static enum ingest_result
ingest_route_line(struct ingest *in, struct ingest_point *p, unsigned ntags,
    const char **reason)
{
	struct proto_point	 cut;
	struct route_span	 dbs, rps;
	bool			 has_db = false, has_rp = false;

	if (in->conf->database_tag[0] != '\0')
		has_db = route_find_tag(p->body, p->len,
		    in->conf->database_tag, &dbs);
	if (in->conf->retention_policy_tag[0] != '\0')
		has_rp = route_find_tag(p->body, p->len,
		    in->conf->retention_policy_tag, &rps);
	if (!has_db && !has_rp)
		return INGEST_ACCEPTED;
	if ((has_db && !route_tag_value(&dbs, in->db, sizeof(in->db))) ||
	    (has_rp && !route_tag_value(&rps, in->rp, sizeof(in->rp)))) {
		*reason = ingest_long_name;
		return INGEST_REJECTED;
	}
	p->db = has_db ? in->db : NULL;
	p->rp = has_rp ? in->rp : NULL;
	p->len = route_cut(p->body, p->len, has_db ? &dbs : NULL,
	    has_rp ? &rps : NULL, in->buf);
	p->body = in->buf;
	/*
	 * route.c splits tags as InfluxDB does; should the parser ever
	 * split a line differently, the cut could leave a broken line.
	 * Lines with routing tags pay a second parse so that never ships.
	 */
	if (proto_parse(p->body, p->len, &cut) != PROTO_OK ||
	    cut.has_time || cut.ntags + has_db + has_rp != ntags) {
		*reason = ingest_ambiguous;
		return INGEST_REJECTED;
	}
	return INGEST_ACCEPTED;
}

static enum ingest_result
ingest_parse_line(struct ingest *in, const char *line, size_t len,
    struct ingest_point *p, const char **reason)
{
	struct proto_point	*pt = &in->parsed;
	enum proto_status	 st;

	st = proto_parse(line, len, pt);
	if (st == PROTO_SKIP)
		return INGEST_SKIPPED;
	if (st != PROTO_OK) {
		*reason = proto_strerror(st);
		return INGEST_REJECTED;
	}
	if (pt->has_time && !proto_time_to_ns(pt->time, in->precision_mult,
	    &p->time)) {
		*reason = proto_strerror(PROTO_ERR_TIME_RANGE);
		return INGEST_REJECTED;
	}
	p->has_time = pt->has_time;
	p->body = pt->body;
	p->len = pt->body_len;
	p->parsed = pt;
	return ingest_route_line(in, p, pt->ntags, reason);
}

/*
 * Writes the point's " TIMESTAMP\n"; returns its length.  A timestamp in
 * ns as the relay would write it is copied: formatting it costs more.
 */
static size_t
ingest_tail(const struct ingest *in, const struct ingest_point *p,
    char *tail)
{
	const struct proto_point	*pt = p->parsed;

	if (pt == NULL || pt->time_text == NULL || in->precision_mult != 1 ||
	    !p->has_time || in->kv != NULL)
		return proto_format_tail(tail, p->time);
	tail[0] = ' ';
	memcpy(tail + 1, pt->time_text, pt->time_len);
	tail[pt->time_len + 1] = '\n';
	return pt->time_len + 2;
}

/* Every target's database must be allowed, or the message is refused. */
static bool
ingest_allowed(const struct ingest *in, const struct ingest_point *p)
{
	size_t	 i;

	for (i = 0; i < in->ntargets; i++)
		if (!route_allowed(in->conf->allowed_databases,
		    ingest_database(in, p, in->targets[i])))
			return false;
	return true;
}

/*
 * No target took the point: why, for the listener's reasons.  A type
 * conflict names the sender's mistake, so it wins over a full buffer.
 */
static const char *
ingest_refused(bool conflict, enum target_reject tr)
{
	if (conflict)
		return proto_strerror(PROTO_ERR_TYPE_CONFLICT);
	if (tr == TARGET_REJECT_QUEUES)
		return ingest_too_many_queues;
	return ingest_buffer_full;
}

enum ingest_result
ingest_parse(struct ingest *in, const char *line, size_t len,
    const char **reason)
{
	struct ingest_point	*p = &in->cur;

	memset(p, 0, sizeof(*p));
	if (in->kv != NULL)
		return ingest_parse_kv(in, line, len, p, reason);
	return ingest_parse_line(in, line, len, p, reason);
}

bool
ingest_plain(const struct ingest *in)
{
	return in->kv == NULL && in->cur.parsed != NULL &&
	    in->cur.parsed->plain;
}

enum ingest_result
ingest_commit(struct ingest *in, int64_t now, uint32_t origin,
    const char **reason)
{
	struct ingest_point	*p = &in->cur;
	struct point		 pt = { .origin = origin, .received = now };
	enum target_reject	 tr = TARGET_ACCEPTED;
	char			 tail[PROTO_TAIL_MAX];
	size_t			 i, accepted = 0;
	bool			 conflict = false;

	if ((p->db != NULL && !route_name_ok(p->db)) ||
	    (p->rp != NULL && !route_name_ok(p->rp))) {
		*reason = ingest_control_name;
		return INGEST_REJECTED;
	}
	if (!ingest_allowed(in, p)) {
		*reason = ingest_not_allowed;
		return INGEST_REJECTED;
	}
	if (!p->has_time)
		p->time = stamp_next(&ingest_stamp, now);
	pt.body = p->body;
	pt.blen = p->len;
	pt.tail = tail;
	pt.tlen = ingest_tail(in, p, tail);
	pt.time = p->time;
	pt.fields = p->parsed;
	for (i = 0; i < in->ntargets; i++) {
		struct target	*t = in->targets[i];

		tr = target_append(t, ingest_database(in, p, t),
		    ingest_retention_policy(in, p, t), &pt);
		accepted += (tr == TARGET_ACCEPTED);
		conflict |= (tr == TARGET_REJECT_CONFLICT);
	}
	if (accepted == 0) {
		*reason = ingest_refused(conflict, tr);
		return INGEST_REJECTED;
	}
	return INGEST_ACCEPTED;
}

enum ingest_result
ingest_line(struct ingest *in, const char *line, size_t len, int64_t now,
    uint32_t origin, const char **reason)
{
	enum ingest_result	 r;

	if ((r = ingest_parse(in, line, len, reason)) != INGEST_ACCEPTED)
		return r;
	return ingest_commit(in, now, origin, reason);
}

void
ingest_route(struct ingest *in, const char *db, const char *rp)
{
	in->route_db = db != NULL && db[0] != '\0' ? db : NULL;
	in->route_rp = rp != NULL && rp[0] != '\0' ? rp : NULL;
}

void
ingest_end(struct ingest *in)
{
	size_t	 i;

	for (i = 0; i < in->ntargets; i++)
		target_commit(in->targets[i]);
}

struct target *const *
ingest_targets(const struct ingest *in, size_t *n)
{
	*n = in->ntargets;
	return in->targets;
}

bool
ingest_takes(const struct ingest *in, size_t need)
{
	size_t	 i;

	for (i = 0; i < in->ntargets; i++)
		if (!target_takes(in->targets[i], need))
			return false;
	return true;
}

struct target *
ingest_blocked(const struct ingest *in, size_t need)
{
	size_t	 i;

	for (i = 0; i < in->ntargets; i++)
		if (target_blocks(in->targets[i], need))
			return in->targets[i];
	return NULL;
}
