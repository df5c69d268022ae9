/* From a received line to queued points on every target of a listener. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "conf.h"
#include "ingest.h"
#include "mem.h"
#include "proto.h"
#include "stamp.h"
#include "target.h"

struct ingest {
	const struct conf_listener	*conf;
	struct target			**targets;
	size_t				 ntargets;
	int64_t				 precision_mult;
};

/* One clock for the whole relay: stamps are unique across listeners. */
static struct stamp	 ingest_stamp;

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
	return in;
}

void
ingest_free(struct ingest *in)
{
	if (in == NULL)
		return;
	free(in->targets);
	free(in);
}

/* The database for a target: the listener's default, else the target's. */
static const char *
ingest_database(const struct ingest *in, const struct target *t)
{
	if (in->conf->database[0] != '\0')
		return in->conf->database;
	return target_conf(t)->database;
}

static const char *
ingest_retention_policy(const struct ingest *in, const struct target *t)
{
	if (in->conf->retention_policy[0] != '\0')
		return in->conf->retention_policy;
	return target_conf(t)->retention_policy;
}

enum ingest_result
ingest_line(struct ingest *in, const char *line, size_t len, int64_t now,
    const char **reason)
{
	struct proto_point	 pt;
	enum proto_status	 st;
	char			 tail[32];
	int64_t			 ns;
	size_t			 i, tlen, accepted = 0;

	st = proto_parse(line, len, &pt);
	if (st == PROTO_SKIP)
		return INGEST_SKIPPED;
	if (st != PROTO_OK) {
		*reason = proto_strerror(st);
		return INGEST_REJECTED;
	}
	if (!pt.has_time)
		ns = stamp_next(&ingest_stamp, now);
	else if (!proto_time_to_ns(pt.time, in->precision_mult, &ns)) {
		*reason = proto_strerror(PROTO_ERR_TIME_RANGE);
		return INGEST_REJECTED;
	}
	tlen = (size_t)snprintf(tail, sizeof(tail), " %" PRId64 "\n", ns);
	for (i = 0; i < in->ntargets; i++) {
		struct target	*t = in->targets[i];

		if (target_append(t, ingest_database(in, t),
		    ingest_retention_policy(in, t), pt.body, pt.body_len,
		    tail, tlen) == TARGET_ACCEPTED)
			accepted++;
	}
	if (accepted == 0) {
		*reason = "no target could queue it";
		return INGEST_DROPPED;
	}
	return INGEST_ACCEPTED;
}
