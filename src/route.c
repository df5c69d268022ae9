/*
 * Routing tags and allowed databases.
 *
 * The body has passed proto_parse(), so its series part is
 * "measurement(,key=value)*" with backslash escapes, and the first
 * unescaped space ends it: a small scanner is enough here.  Escapes are
 * undone as InfluxDB 1.x does (only "\\," "\\=" "\\ "), so a routing tag
 * names the database InfluxDB would have stored as the tag's value.
 */
#include "config.h"

#include <fnmatch.h>
#include <string.h>

#include "route.h"

static bool
route_is(char c, const char *set)
{
	return memchr(set, c, strlen(set)) != NULL;
}

/*
 * Advances to the next stop byte not preceded by a backslash: InfluxDB
 * 1.x scans this way, so "a\\,b" is one value "a\\,b", not two.
 */
static size_t
route_skip(const char *s, size_t i, size_t len, const char *stops)
{
	while (i < len && (!route_is(s[i], stops) ||
	    (i > 0 && s[i - 1] == '\\')))
		i++;
	return i;
}

/* Compares an escaped tag key with a plain one. */
static bool
route_key_is(const char *k, size_t klen, const char *key)
{
	size_t	 i;

	for (i = 0; i < klen; i++, key++) {
		if (k[i] == '\\' && i + 1 < klen && route_is(k[i + 1], ",= "))
			i++;
		if (*key == '\0' || *key != k[i])
			return false;
	}
	return *key == '\0';
}

bool
route_find_tag(const char *body, size_t len, const char *key,
    struct route_span *sp)
{
	size_t	 i, k, v;

	i = route_skip(body, 0, len, ", ");
	while (i < len && body[i] == ',') {
		k = i + 1;
		v = route_skip(body, k, len, "=, ") + 1;
		if (v > len)
			return false;	/* not a body proto_parse() accepted */
		sp->off = i;
		i = route_skip(body, v, len, ", ");
		if (route_key_is(body + k, v - 1 - k, key)) {
			sp->len = i - sp->off;
			sp->val = body + v;
			sp->vlen = i - v;
			return true;
		}
	}
	return false;
}

size_t
route_cut(const char *body, size_t len, const struct route_span *a,
    const struct route_span *b, char *out)
{
	const struct route_span	*t;
	size_t			 n = 0, from = 0;

	if (a != NULL && b != NULL && b->off < a->off) {
		t = a;
		a = b;
		b = t;
	}
	if (a == NULL) {
		a = b;
		b = NULL;
	}
	for (t = a; t != NULL; t = (t == a) ? b : NULL) {
		memcpy(out + n, body + from, t->off - from);
		n += t->off - from;
		from = t->off + t->len;
	}
	memcpy(out + n, body + from, len - from);
	return n + len - from;
}

bool
route_tag_value(const struct route_span *sp, char *buf, size_t size)
{
	size_t	 i, n = 0;

	for (i = 0; i < sp->vlen; i++) {
		if (sp->val[i] == '\\' && i + 1 < sp->vlen &&
		    route_is(sp->val[i + 1], ",= "))
			i++;
		if (n + 1 >= size)
			return false;
		buf[n++] = sp->val[i];
	}
	buf[n] = '\0';
	return true;
}

bool
route_allowed(const char *list, const char *db)
{
	char		 pat[256];
	const char	*p = list, *end;
	size_t		 n;

	if (list[0] == '*' && list[1] == '\0')
		return true;
	while (*p != '\0') {
		p += strspn(p, ", \t");
		end = p + strcspn(p, ",");
		n = (size_t)(end - p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		/* conf rejects longer patterns; cut rather than overflow */
		if (n >= sizeof(pat))
			n = sizeof(pat) - 1;
		memcpy(pat, p, n);
		pat[n] = '\0';
		if (n > 0 && fnmatch(pat, db, 0) == 0)
			return true;
		p = end;
	}
	return false;
}

#define ROUTE_DIRECTIVE	"#relay"

/* Reads one "key=value" word at *p (escapes undone) into `val`. */
static bool
route_directive_word(const char **p, const char *end, char *key,
    size_t ksize, char *val, size_t vsize)
{
	size_t	 n = 0;

	while (*p < end && **p != '=' && **p != ' ' && **p != '\t') {
		if (n + 1 >= ksize)
			return false;
		key[n++] = *(*p)++;
	}
	key[n] = '\0';
	if (*p == end || **p != '=')
		return false;
	(*p)++;
	for (n = 0; *p < end && **p != ' ' && **p != '\t'; (*p)++) {
		if (**p == '\\' && *p + 1 < end)
			(*p)++;
		if (n + 1 >= vsize)
			return false;
		val[n++] = **p;
	}
	val[n] = '\0';
	return true;
}

enum route_line
route_directive(const char *line, size_t len, struct route_directive *d)
{
	const char	*p = line + sizeof(ROUTE_DIRECTIVE) - 1;
	const char	*end = line + len;
	char		 key[8], val[ROUTE_MAX_NAME + 1];

	if (len > 0 && line[len - 1] == '\r')
		end--;		/* CRLF input */
	if (len < sizeof(ROUTE_DIRECTIVE) - 1 ||
	    memcmp(line, ROUTE_DIRECTIVE, sizeof(ROUTE_DIRECTIVE) - 1) != 0 ||
	    (p < end && *p != ' ' && *p != '\t'))
		return ROUTE_LINE_DATA;
	memset(d, 0, sizeof(*d));
	for (;;) {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end)
			break;
		if (!route_directive_word(&p, end, key, sizeof(key), val,
		    sizeof(val)) || !route_name_ok(val))
			return ROUTE_LINE_BAD;
		if (strcmp(key, "db") == 0 && !d->has_db) {
			d->has_db = true;
			memcpy(d->db, val, sizeof(d->db));
		} else if (strcmp(key, "rp") == 0 && !d->has_rp) {
			d->has_rp = true;
			memcpy(d->rp, val, sizeof(d->rp));
		} else if (strcmp(key, "reply") == 0 && !d->reply &&
		    strcmp(val, "summary") == 0)
			d->reply = true;
		else if (strcmp(key, "partial") == 0 && !d->partial_reject &&
		    strcmp(val, "reject") == 0)
			d->partial_reject = true;
		else
			return ROUTE_LINE_BAD;
	}
	return d->has_db || d->has_rp || d->reply || d->partial_reject ?
	    ROUTE_LINE_DIRECTIVE : ROUTE_LINE_BAD;
}

bool
route_name_ok(const char *name)
{
	const unsigned char	*s = (const unsigned char *)name;

	for (; *s != '\0'; s++)
		if (*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}
