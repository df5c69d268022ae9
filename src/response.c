/*
 * The response table.  InfluxDB 1.x answers 404 with
 * {"error":"database not found: \"db\""}, 400 for parse errors and
 * partial writes, and 500 for some of the same conditions when they are
 * detected late (the body tells), so both status and body matter.
 */
#include "config.h"

#include <stdbool.h>
#include <string.h>

#include "proto.h"
#include "response.h"

/* Longest name read from a conflict message. */
#define RESPONSE_NAME_MAX	256

static bool
response_body_has(const char *body, size_t len, const char *needle)
{
	return body != NULL && memmem(body, len, needle, strlen(needle)) !=
	    NULL;
}

static bool
response_is_bad_data(const char *body, size_t len)
{
	return response_body_has(body, len, "partial write") ||
	    response_body_has(body, len, "unable to parse") ||
	    response_body_has(body, len, "field type conflict");
}

/*
 * Bad data: a partial write names what it dropped and stored the rest;
 * anything else refused the whole request for the sake of some points
 * (a bare "field type conflict" when one batch gives a new field two
 * types), which the sender isolates by bisection.
 */
static enum response_action
response_refusal(const char *body, size_t len)
{
	size_t	 n;

	return response_dropped(body, len, &n) ? RESPONSE_DROP :
	    RESPONSE_ISOLATE;
}

enum response_action
response_classify(long status, const char *body, size_t len)
{
	if (status >= 200 && status < 300)
		return RESPONSE_DONE;
	switch (status) {
	case 0:
		return RESPONSE_RETRY;
	case 404:
		if (response_body_has(body, len, "database not found"))
			return RESPONSE_CREATE_DB;
		return RESPONSE_CONFIG;
	case 400:
	case 422:
		return response_refusal(body, len);
	case 413:
		return RESPONSE_SPLIT;
	case 401:
	case 403:
		return RESPONSE_CONFIG;
	case 429:
		return RESPONSE_RETRY;
	}
	if (status >= 500) {
		if (response_body_has(body, len, "retention policy not found"))
			return RESPONSE_CONFIG;
		if (status == 500 && response_is_bad_data(body, len))
			return response_refusal(body, len);
		return RESPONSE_RETRY;
	}
	/* other 4xx: the request is wrong, not the data; keep it */
	return RESPONSE_CONFIG;
}

/* Occurrences of `needle` in the body. */
static size_t
response_count(const char *body, size_t len, const char *needle)
{
	const char	*p = body, *end = body + len;
	size_t		 n = 0, nlen = strlen(needle);

	while (p < end && (p = memmem(p, (size_t)(end - p), needle, nlen)) !=
	    NULL) {
		n++;
		p += nlen;
	}
	return n;
}

bool
response_dropped(const char *body, size_t len, size_t *n)
{
	const char	*p = NULL, *q, *end = body + len;
	size_t		 v = 0;

	if (body == NULL)
		return false;
	/* the last "dropped=": a measurement name could contain one too */
	for (q = body; q < end; q += 8) {
		if ((q = memmem(q, (size_t)(end - q), "dropped=", 8)) == NULL)
			break;
		p = q + 8;
	}
	if (p == NULL || p >= end || *p < '0' || *p > '9')
		return false;
	for (; p < end && *p >= '0' && *p <= '9'; p++)
		v = v * 10 + (size_t)(*p - '0');
	/*
	 * InfluxDB 1.x stores the lines it could parse and reports the
	 * others as "partial write: unable to parse '...': why dropped=0",
	 * one "unable to parse" per line, not counted in dropped=
	 * (services/httpd/handler.go, serveWrite).
	 */
	*n = v + response_count(body, len, "unable to parse '");
	return true;
}

/*
 * A name as the JSON answer quotes it (\"name\", with \\ and \" inside),
 * from `p` up to `end_mark`, escaped again as line protocol writes it
 * (`escapes` get a backslash).  Returns the byte after the end mark.
 */
static const char *
response_read_name(const char *p, const char *end, const char *end_mark,
    const char *escapes, char *out, size_t *outlen)
{
	const char	*stop;
	size_t		 n = 0;

	stop = memmem(p, (size_t)(end - p), end_mark, strlen(end_mark));
	if (stop == NULL)
		return NULL;
	for (; p < stop; p++) {
		if (*p == '\\' && p + 1 < stop)
			p++;			/* JSON's escape */
		if (n + 2 > RESPONSE_NAME_MAX)
			return NULL;
		if (strchr(escapes, *p) != NULL)
			out[n++] = '\\';
		out[n++] = *p;
	}
	*outlen = n;
	return stop + strlen(end_mark);
}

/* A type name at `p`, up to a non-letter. */
static enum proto_type
response_read_type(const char *p, const char *end)
{
	const char	*q = p;

	while (q < end && *q >= 'a' && *q <= 'z')
		q++;
	return proto_type_parse(p, (size_t)(q - p));
}

bool
response_type_conflict(const char *body, size_t len,
    struct response_conflict *c)
{
	static const char	 intro[] = "input field \\\"";
	const char		*p, *end = body + len;
	char			 m[RESPONSE_NAME_MAX], f[RESPONSE_NAME_MAX];
	size_t			 mlen, flen;

	if (body == NULL ||
	    (p = memmem(body, len, intro, sizeof(intro) - 1)) == NULL)
		return false;
	p += sizeof(intro) - 1;
	if ((p = response_read_name(p, end, "\\\" on measurement \\\"", ",= ",
	    f, &flen)) == NULL ||
	    (p = response_read_name(p, end, "\\\" is type ", ", ", m,
	    &mlen)) == NULL)
		return false;
	c->input = response_read_type(p, end);
	if ((p = memmem(p, (size_t)(end - p), "already exists as type ",
	    23)) == NULL)
		return false;
	c->existing = response_read_type(p + 23, end);
	if (c->input == PROTO_T_EMPTY || c->existing == PROTO_T_EMPTY)
		return false;
	c->hash = proto_hash(proto_hash(PROTO_HASH_SEED, m, mlen), f, flen);
	return true;
}

bool
response_query_ok(long status, const char *body, size_t len)
{
	return status == 200 && !response_body_has(body, len, "\"error\"");
}

const char *
response_action_name(enum response_action a)
{
	static const char *const names[] = {
		[RESPONSE_DONE] = "done",
		[RESPONSE_CREATE_DB] = "create database",
		[RESPONSE_DROP] = "drop",
		[RESPONSE_ISOLATE] = "isolate",
		[RESPONSE_SPLIT] = "split",
		[RESPONSE_CONFIG] = "configuration problem",
		[RESPONSE_RETRY] = "retry",
	};

	return names[a];
}
