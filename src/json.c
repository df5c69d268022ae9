/*
 * The JSON reader: a recursive descent over the input, building nodes
 * as it goes and freeing them all on the first error, so a caller gets
 * a whole document or nothing.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "mem.h"

#define JSON_MAX_DEPTH	64

struct json_in {
	const char	*p;
	const char	*end;
};

static struct json	*json_value(struct json_in *, int depth);

static void
json_ws(struct json_in *in)
{
	while (in->p < in->end && (*in->p == ' ' || *in->p == '\t' ||
	    *in->p == '\n' || *in->p == '\r'))
		in->p++;
}

static bool
json_literal(struct json_in *in, const char *word)
{
	size_t	 len = strlen(word);

	if ((size_t)(in->end - in->p) < len || memcmp(in->p, word, len) != 0)
		return false;
	in->p += len;
	return true;
}

static struct json *
json_node(enum json_type type)
{
	struct json	*j = xcalloc(1, sizeof(*j));

	j->type = type;
	return j;
}

/* Digits at the input; false if there is none. */
static bool
json_digits(struct json_in *in)
{
	const char	*start = in->p;

	while (in->p < in->end && isdigit((unsigned char)*in->p))
		in->p++;
	return in->p > start;
}

static struct json *
json_number(struct json_in *in)
{
	const char	*start = in->p;
	struct json	*j;

	if (in->p < in->end && *in->p == '-')
		in->p++;
	if (in->p < in->end && *in->p == '0')
		in->p++;
	else if (!json_digits(in))
		return NULL;
	if (in->p < in->end && *in->p == '.' && (in->p++, !json_digits(in)))
		return NULL;
	if (in->p < in->end && (*in->p == 'e' || *in->p == 'E')) {
		in->p++;
		if (in->p < in->end && (*in->p == '+' || *in->p == '-'))
			in->p++;
		if (!json_digits(in))
			return NULL;
	}
	j = json_node(JSON_NUMBER);
	j->text = xstrndup(start, (size_t)(in->p - start));
	return j;
}

/* Four hex digits of a \u escape; -1 if they are not. */
static long
json_hex4(struct json_in *in)
{
	char	 buf[5], *end;
	long	 v;
	int	 i;

	if (in->end - in->p < 4)
		return -1;
	for (i = 0; i < 4; i++)
		if (!isxdigit((unsigned char)(buf[i] = in->p[i])))
			return -1;
	buf[4] = '\0';
	v = strtol(buf, &end, 16);
	in->p += 4;
	return v;
}

/* Appends code point `c` as UTF-8 at `o`; returns the end. */
static char *
json_utf8(char *o, unsigned long c)
{
	if (c == 0 || (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		c = 0xfffd;
	if (c < 0x80)
		*o++ = (char)c;
	else if (c < 0x800) {
		*o++ = (char)(0xc0 | c >> 6);
		*o++ = (char)(0x80 | (c & 0x3f));
	} else if (c < 0x10000) {
		*o++ = (char)(0xe0 | c >> 12);
		*o++ = (char)(0x80 | ((c >> 6) & 0x3f));
		*o++ = (char)(0x80 | (c & 0x3f));
	} else {
		*o++ = (char)(0xf0 | c >> 18);
		*o++ = (char)(0x80 | ((c >> 12) & 0x3f));
		*o++ = (char)(0x80 | ((c >> 6) & 0x3f));
		*o++ = (char)(0x80 | (c & 0x3f));
	}
	return o;
}

/* A \uXXXX escape, with its low surrogate if it is a high one. */
static bool
json_unicode(struct json_in *in, char **o)
{
	long	 c, lo;

	if ((c = json_hex4(in)) == -1)
		return false;
	if (c >= 0xd800 && c <= 0xdbff && in->end - in->p >= 6 &&
	    in->p[0] == '\\' && in->p[1] == 'u') {
		in->p += 2;
		if ((lo = json_hex4(in)) == -1)
			return false;
		if (lo >= 0xdc00 && lo <= 0xdfff)
			c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
		else {
			/* the high one was alone */
			*o = json_utf8(*o, 0xfffd);
			c = lo;
		}
	}
	*o = json_utf8(*o, (unsigned long)c);
	return true;
}

/* One escape after its backslash. */
static bool
json_escape(struct json_in *in, char **o)
{
	static const char	 from[] = "\"\\/bfnrt";
	static const char	 to[] = "\"\\/\b\f\n\r\t";
	const char		*e;

	if (in->p == in->end)
		return false;
	if (*in->p == 'u') {
		in->p++;
		return json_unicode(in, o);
	}
	if ((e = strchr(from, *in->p)) == NULL || *in->p == '\0')
		return false;
	*(*o)++ = to[e - from];
	in->p++;
	return true;
}

/*
 * Bytes from the input to the closing quote (an escaped one skipped);
 * false if there is none.
 */
static bool
json_string_span(const struct json_in *in, size_t *len)
{
	const char	*q = in->p;

	while (q < in->end && *q != '"') {
		if (*q == '\\' && ++q == in->end)
			return false;
		q++;
	}
	if (q == in->end)
		return false;
	*len = (size_t)(q - in->p);
	return true;
}

/* A string at the opening quote, decoded; NULL if it is not valid. */
static char *
json_string_text(struct json_in *in)
{
	char	*s, *o;
	size_t	 span;

	in->p++;
	if (!json_string_span(in, &span))
		return NULL;
	/*
	 * Room for this string only, not the rest of the document: a stats
	 * answer holds thousands.  Decoding never grows (\uXXXX, 6 bytes,
	 * gives at most 4) and stops at that quote at the latest.
	 */
	o = s = xmalloc(span + 1);
	while (in->p < in->end && *in->p != '"') {
		if ((unsigned char)*in->p < 0x20)
			break;
		if (*in->p == '\\') {
			in->p++;
			if (!json_escape(in, &o))
				break;
		} else
			*o++ = *in->p++;
	}
	if (in->p == in->end || *in->p != '"') {
		free(s);
		return NULL;
	}
	in->p++;
	*o = '\0';
	return s;
}

/* The elements of an array or members of an object, up to `close`. */
static struct json *
json_container(struct json_in *in, enum json_type type, int depth)
{
	struct json	*j = json_node(type), **tail = &j->child, *e;
	char		*key = NULL;
	char		 close = type == JSON_OBJECT ? '}' : ']';

	in->p++;
	json_ws(in);
	if (in->p < in->end && *in->p == close) {
		in->p++;
		return j;
	}
	for (;;) {
		json_ws(in);
		if (type == JSON_OBJECT) {
			if (in->p == in->end || *in->p != '"' ||
			    (key = json_string_text(in)) == NULL)
				break;
			json_ws(in);
			if (in->p == in->end || *in->p++ != ':')
				break;
		}
		if ((e = json_value(in, depth + 1)) == NULL)
			break;
		e->key = key;
		key = NULL;
		*tail = e;
		tail = &e->next;
		json_ws(in);
		if (in->p < in->end && *in->p == ',') {
			in->p++;
			continue;
		}
		if (in->p < in->end && *in->p == close) {
			in->p++;
			return j;
		}
		break;
	}
	free(key);
	json_free(j);
	return NULL;
}

static struct json *
json_value(struct json_in *in, int depth)
{
	struct json	*j;
	char		*s;

	json_ws(in);
	if (in->p == in->end || depth > JSON_MAX_DEPTH)
		return NULL;
	switch (*in->p) {
	case '{':
		return json_container(in, JSON_OBJECT, depth);
	case '[':
		return json_container(in, JSON_ARRAY, depth);
	case '"':
		if ((s = json_string_text(in)) == NULL)
			return NULL;
		j = json_node(JSON_STRING);
		j->text = s;
		return j;
	case 't':
		return json_literal(in, "true") ? json_node(JSON_TRUE) : NULL;
	case 'f':
		return json_literal(in, "false") ? json_node(JSON_FALSE) : NULL;
	case 'n':
		return json_literal(in, "null") ? json_node(JSON_NULL) : NULL;
	default:
		return json_number(in);
	}
}

struct json *
json_parse(const char *text, size_t len)
{
	struct json_in	 in = { text, text + len };
	struct json	*j;

	if ((j = json_value(&in, 0)) == NULL)
		return NULL;
	json_ws(&in);
	if (in.p != in.end) {
		json_free(j);
		return NULL;
	}
	return j;
}

void
json_free(struct json *j)
{
	struct json	*next;

	for (; j != NULL; j = next) {
		next = j->next;
		json_free(j->child);
		free(j->key);
		free(j->text);
		free(j);
	}
}

const struct json *
json_get(const struct json *j, const char *key)
{
	const struct json	*m;

	if (j == NULL || j->type != JSON_OBJECT)
		return NULL;
	for (m = j->child; m != NULL; m = m->next)
		if (strcmp(m->key, key) == 0)
			return m;
	return NULL;
}

int64_t
json_int(const struct json *j)
{
	return j != NULL && j->type == JSON_NUMBER ?
	    (int64_t)strtoll(j->text, NULL, 10) : 0;
}

uint64_t
json_uint(const struct json *j)
{
	return j != NULL && j->type == JSON_NUMBER && j->text[0] != '-' ?
	    (uint64_t)strtoull(j->text, NULL, 10) : 0;
}

double
json_double(const struct json *j)
{
	return j != NULL && j->type == JSON_NUMBER ? strtod(j->text, NULL) :
	    0;
}

const char *
json_str(const struct json *j)
{
	return j != NULL && j->type == JSON_STRING ? j->text : "";
}

bool
json_is_true(const struct json *j)
{
	return j != NULL && j->type == JSON_TRUE;
}

int64_t
json_get_int(const struct json *j, const char *key)
{
	return json_int(json_get(j, key));
}

uint64_t
json_get_uint(const struct json *j, const char *key)
{
	return json_uint(json_get(j, key));
}

const char *
json_get_str(const struct json *j, const char *key)
{
	return json_str(json_get(j, key));
}
