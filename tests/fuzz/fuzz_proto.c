/*
 * libFuzzer target for the line-protocol checker: frames the input with
 * proto_line_end() as the listener does, parses every line, and checks
 * the promise the relay relies on: an accepted line, forwarded as its
 * body plus " TIMESTAMP\n", is again one accepted line with the same
 * tags and fields.  Build and run: tests/fuzz/run.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_forwarded(const struct proto_point *pt)
{
	static const char	 tail[] = " 1700000000000000000\n";
	struct proto_point	 again;
	size_t			 len = pt->body_len + sizeof(tail) - 1;
	char			*fwd = malloc(len);
	const char		*nl;

	if (fwd == NULL)
		abort();
	memcpy(fwd, pt->body, pt->body_len);
	memcpy(fwd + pt->body_len, tail, sizeof(tail) - 1);
	/* InfluxDB must see exactly one line in what the relay sends */
	nl = proto_line_end(fwd, len);
	if (nl != fwd + len - 1)
		abort();
	if (proto_parse(fwd, len - 1, &again) != PROTO_OK ||
	    !again.has_time || again.body_len != pt->body_len ||
	    again.ntags != pt->ntags || again.nfields != pt->nfields)
		abort();
	free(fwd);
}

static void
fuzz_line(const char *line, size_t len)
{
	struct proto_point	 pt;
	enum proto_status	 st = proto_parse(line, len, &pt);

	if (proto_strerror(st) == NULL)
		abort();
	if (st != PROTO_OK)
		return;
	if (pt.body != line || pt.body_len > len)
		abort();
	/* the listener frames a plain line at its first '\n' (or the end) */
	if (pt.plain && (memchr(line, '"', len) != NULL ||
	    memchr(line, '\\', len) != NULL ||
	    memchr(line, '\n', len - (line[len - 1] == '\n')) != NULL))
		abort();
	/* a timestamp forwarded as written must be what the relay writes */
	if (pt.time_text != NULL) {
		char	 tail[PROTO_TAIL_MAX];

		if (!pt.has_time ||
		    proto_format_tail(tail, pt.time) != pt.time_len + 2 ||
		    memcmp(tail + 1, pt.time_text, pt.time_len) != 0)
			abort();
	}
	fuzz_forwarded(&pt);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*p = (const char *)data, *end = p + size, *nl;

	/* the whole input as one line, as a datagram or EOF would give it */
	fuzz_line(p, size);
	while ((nl = proto_line_end(p, (size_t)(end - p))) != NULL) {
		if (nl < p || nl >= end || *nl != '\n')
			abort();
		fuzz_line(p, (size_t)(nl - p));
		p = nl + 1;
	}
	fuzz_line(p, (size_t)(end - p));
	return 0;
}
