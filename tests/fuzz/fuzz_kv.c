/*
 * libFuzzer target for the key=value translator and the routing-tag cut.
 *
 * Besides "no crash, no sanitizer report", it checks the property the
 * relay relies on: whatever kv_translate() accepts is line protocol that
 * proto_parse() accepts, with the same number of tags and fields, so a
 * kv message can never poison a batch.  The routing-tag cut is checked
 * for memory safety (ingest re-parses its result).
 *
 * The first input byte picks the spec (precision, routing keys); the
 * rest is the message.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "proto.h"
#include "route.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const struct kv_spec fuzz_specs[] = {
	{ "measurement", "time", "db", "rp", "host,env,k1", 1 },
	{ "m", "ts", "", "", "", 1000000000 },
	{ "measurement", "time", "db", "", "t,a b", 1000 },
};

static void
fuzz_check_line(const char *body, size_t len, unsigned ntags,
    unsigned nfields)
{
	struct proto_point	 pt;
	enum proto_status	 st = proto_parse(body, len, &pt);

	if (st != PROTO_OK || pt.has_time || pt.ntags != ntags ||
	    pt.nfields != nfields) {
		fprintf(stderr, "translated body not accepted as it should be "
		    "(%s, tags %u/%u, fields %u/%u): %.*s\n",
		    proto_strerror(st), pt.ntags, ntags, pt.nfields, nfields,
		    (int)len, body);
		abort();
	}
}

static void
fuzz_kv(const struct kv_spec *spec, const char *msg, size_t len)
{
	struct kv	*kv;
	struct kv_point	 pt;
	size_t		 size = 2 * len + 64;
	char		*out = malloc(size), err[64];

	if ((kv = kv_new(spec, err, sizeof(err))) == NULL)
		abort();
	if (kv_translate(kv, msg, len, out, size, &pt) == KV_OK)
		fuzz_check_line(out, pt.body_len, pt.ntags, pt.nfields);
	else if (kv_translate(kv, msg, len, out, size, &pt) == KV_ERR_TOO_LONG)
		abort();	/* kv.h promises 2 * len + 64 is enough */
	kv_free(kv);
	free(out);
}

static void
fuzz_route(const char *line, size_t len)
{
	struct proto_point	 pt, cut;
	struct route_span	 a, b;
	bool			 has_a, has_b;
	char			*out, val[ROUTE_MAX_NAME + 1];
	size_t			 n;

	if (proto_parse(line, len, &pt) != PROTO_OK)
		return;
	has_a = route_find_tag(pt.body, pt.body_len, "db", &a);
	has_b = route_find_tag(pt.body, pt.body_len, "rp", &b);
	if (has_a)
		(void)route_tag_value(&a, val, sizeof(val));
	out = malloc(pt.body_len + 1);
	n = route_cut(pt.body, pt.body_len, has_a ? &a : NULL,
	    has_b ? &b : NULL, out);
	/* ingest re-parses and rejects a cut the parser reads otherwise */
	if (n > pt.body_len || (proto_parse(out, n, &cut) == PROTO_OK &&
	    cut.has_time)) {
		fprintf(stderr, "bad cut: %.*s\n", (int)n, out);
		abort();
	}
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct kv_spec	*spec;
	int64_t			 ns;

	if (size < 1)
		return 0;
	spec = &fuzz_specs[data[0] % 3];
	fuzz_kv(spec, (const char *)data + 1, size - 1);
	fuzz_route((const char *)data + 1, size - 1);
	(void)kv_parse_rfc3339((const char *)data + 1, size - 1, &ns);
	return 0;
}
