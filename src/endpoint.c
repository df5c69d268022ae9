/*
 * Request URLs.  Credentials never go into a URL (proxies and logs keep
 * URLs): they travel in the Authorization header, set by the sender.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "endpoint.h"
#include "mem.h"

/* `s` percent-encoded for a URL query component (RFC 3986 unreserved). */
static char *
endpoint_encode(const char *s)
{
	static const char	 hex[] = "0123456789ABCDEF";
	char			*out = xmalloc(strlen(s) * 3 + 1), *p = out;

	for (; *s != '\0'; s++) {
		unsigned char	 c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-_.~", c) != NULL)
			*p++ = (char)c;
		else {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	*p = '\0';
	return out;
}

char *
endpoint_base(const char *url, char **unix_path)
{
	char	*base;
	size_t	 len;

	*unix_path = NULL;
	/*
	 * libcurl reaches a UNIX socket through CURLOPT_UNIX_SOCKET_PATH
	 * while the URL still names an HTTP host; InfluxDB ignores the Host.
	 */
	if (strncmp(url, "unix://", 7) == 0) {
		*unix_path = xstrdup(url + 7);
		return xstrdup("http://localhost");
	}
	base = xstrdup(url);
	len = strlen(base);
	while (len > 0 && base[len - 1] == '/')
		base[--len] = '\0';
	return base;
}

char *
endpoint_write_url(const char *base, bool v2, const char *org,
    const char *db, const char *rp)
{
	char	*edb = endpoint_encode(db), *erp = endpoint_encode(rp);
	char	*eorg = endpoint_encode(org), *url;

	if (v2)
		/* v2 names a 1.x database/rp pair as bucket "db/rp" */
		url = xasprintf("%s/api/v2/write?%s%s%sbucket=%s%s%s"
		    "&precision=ns", base, org[0] ? "org=" : "", eorg,
		    org[0] ? "&" : "", edb, rp[0] ? "%2F" : "", erp);
	else
		url = xasprintf("%s/write?db=%s%s%s&precision=ns", base, edb,
		    rp[0] ? "&rp=" : "", erp);
	free(edb);
	free(erp);
	free(eorg);
	return url;
}

char *
endpoint_query_url(const char *base)
{
	return xasprintf("%s/query", base);
}

char *
endpoint_query_body(const char *verb, const char *db)
{
	char	*quoted = xmalloc(strlen(db) * 2 + 1), *p = quoted;
	char	*stmt, *enc, *body;

	/* InfluxQL double-quoted identifier: escape '\' and '"' */
	for (; *db != '\0'; db++) {
		if (*db == '"' || *db == '\\')
			*p++ = '\\';
		*p++ = *db;
	}
	*p = '\0';
	stmt = xasprintf("%s \"%s\"", verb, quoted);
	enc = endpoint_encode(stmt);
	body = xasprintf("q=%s", enc);
	free(quoted);
	free(stmt);
	free(enc);
	return body;
}

bool
endpoint_has_userinfo(const char *url)
{
	const char	*host = strstr(url, "://"), *end;

	if (host == NULL)
		return false;
	host += 3;
	end = host + strcspn(host, "/?#");
	return memchr(host, '@', (size_t)(end - host)) != NULL;
}
