/*
 * A test driver for libinfluxrelay: test_client_c.py sends it commands
 * on stdin, one per line, and reads one result code per command from
 * stdout.  Names and strings travel hex-encoded, so that any byte gets
 * through this plain text protocol unchanged ("-" is NULL, "=" empty).
 *
 *	open PATH_HEX TIMEOUT_MS
 *	point DB RP MEASUREMENT [t KEY VALUE]... [f KEY TYPE VALUE]...
 *	    [time NS]	(DB, RP "-" for none; TYPE: float integer
 *			boolean string; VALUE hex for strings)
 *	flush
 *	close
 */
#define _DEFAULT_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "influx-relay.h"

static char	 names[64][4096];
static int	 nnames;

/* A hex-encoded word, decoded into storage of this command. */
static const char *
unhex(const char *hex)
{
	char	*out = names[nnames++ % 64];
	size_t	 i, n = strlen(hex) / 2;
	unsigned int c;

	if (strcmp(hex, "-") == 0)
		return NULL;
	if (strcmp(hex, "=") == 0)
		n = 0;
	for (i = 0; i < n && i < sizeof(names[0]) - 1; i++) {
		sscanf(hex + 2 * i, "%2x", &c);
		out[i] = (char)c;
	}
	out[i] = '\0';
	return out;
}

static int
field(struct influx_relay *r, const char *key, const char *type,
    const char *value)
{
	if (strcmp(type, "float") == 0)
		return influx_relay_float(r, key, strtod(value, NULL));
	if (strcmp(type, "integer") == 0)
		return influx_relay_integer(r, key, strtoll(value, NULL, 10));
	if (strcmp(type, "boolean") == 0)
		return influx_relay_boolean(r, key, strcmp(value, "1") == 0);
	return influx_relay_string(r, key, unhex(value));
}

/* One "point ..." command; strtok() holds the rest of its line. */
static int
point(struct influx_relay *r)
{
	const char	*db = unhex(strtok(NULL, " \n"));
	const char	*rp = unhex(strtok(NULL, " \n"));
	const char	*w, *k, *t;

	influx_relay_begin_rp(r, db, rp, unhex(strtok(NULL, " \n")));
	while ((w = strtok(NULL, " \n")) != NULL) {
		if (strcmp(w, "t") == 0) {
			k = unhex(strtok(NULL, " \n"));
			influx_relay_tag(r, k, unhex(strtok(NULL, " \n")));
		} else if (strcmp(w, "f") == 0) {
			k = unhex(strtok(NULL, " \n"));
			t = strtok(NULL, " \n");
			field(r, k, t, strtok(NULL, " \n"));
		} else if (strcmp(w, "time") == 0)
			influx_relay_time(r, strtoll(strtok(NULL, " \n"),
			    NULL, 10));
	}
	return influx_relay_end(r);
}

int
main(void)
{
	static char		 line[1 << 20];
	struct influx_relay	*r = NULL;
	const char		*cmd, *path;
	int			 rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		cmd = strtok(line, " \n");
		if (cmd == NULL)
			continue;
		if (strcmp(cmd, "open") == 0) {
			path = unhex(strtok(NULL, " \n"));
			r = influx_relay_open(path,
			    atoi(strtok(NULL, " \n")), &rc);
		} else if (strcmp(cmd, "point") == 0)
			rc = point(r);
		else if (strcmp(cmd, "flush") == 0)
			rc = influx_relay_flush(r);
		else if (strcmp(cmd, "close") == 0) {
			rc = influx_relay_close(r);
			r = NULL;
		} else
			rc = -1;
		printf("%d %s\n", rc, influx_relay_strerror(rc));
	}
	return 0;
}
