/*
 * A small JSON reader (RFC 8259) for influx-relayctl, which turns the
 * daemon's answers into text for people.  A parsed document is a tree of
 * plain nodes the caller walks; strings are decoded to UTF-8 (a lone
 * surrogate or \u0000 becomes U+FFFD) and numbers keep their text.  Pure.
 */
#ifndef RELAYD_JSON_H
#define RELAYD_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum json_type {
	JSON_NULL,
	JSON_FALSE,
	JSON_TRUE,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

struct json {
	enum json_type	 type;
	char		*key;	/* its name in an object, or NULL */
	char		*text;	/* a string, or a number's text */
	struct json	*child;	/* first of an array or object */
	struct json	*next;	/* next in its array or object */
};

/*
 * Parses `len` bytes holding one JSON value (white space around it is
 * fine); NULL if they are not valid JSON or nest deeper than 64.
 */
struct json	*json_parse(const char *text, size_t len);
/* Frees a document from json_parse(); NULL is fine. */
void		 json_free(struct json *);
/* The member `key` of object `j`, or NULL (also if `j` is NULL). */
const struct json *json_get(const struct json *j, const char *key);
/* A number as an integer or a double; 0 if `j` is not a number. */
int64_t		 json_int(const struct json *j);
uint64_t	 json_uint(const struct json *j);
double		 json_double(const struct json *j);
/* A string's value; "" if `j` is not a string. */
const char	*json_str(const struct json *j);
/* True for the literal true only. */
bool		 json_is_true(const struct json *j);
/* The member `key` of `j`, as those read it. */
int64_t		 json_get_int(const struct json *j, const char *key);
uint64_t	 json_get_uint(const struct json *j, const char *key);
const char	*json_get_str(const struct json *j, const char *key);

#endif
