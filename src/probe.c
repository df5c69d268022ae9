/*
 * Probes for `influx-relayd -t`: stat(2) and access(2) only, so a check
 * never creates, removes or connects to anything.  access() answers for
 * the real uid, which is who runs the check.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "mem.h"
#include "probe.h"

/* The directory part of `path` into `dir` ("/" for "/x"). */
static void
probe_dirname(const char *path, char *dir, size_t size)
{
	const char	*slash = strrchr(path, '/');
	size_t		 len = slash == NULL ? 0 : (size_t)(slash - path);

	if (slash == NULL)
		snprintf(dir, size, ".");
	else if (len == 0)
		snprintf(dir, size, "/");
	else
		snprintf(dir, size, "%.*s", (int)len, path);
}

/* A missing `dir`: can its last component be created? */
static bool
probe_missing_dir(const char *dir, char *why, size_t size)
{
	char		 parent[4096];
	struct stat	 st;

	probe_dirname(dir, parent, sizeof(parent));
	if (stat(parent, &st) == -1) {
		snprintf(why, size, "directory %s does not exist, nor does %s "
		    "(only the last component is created): %s", dir, parent,
		    strerror(errno));
		return true;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, size, "directory %s cannot be created: %s is not "
		    "a directory", dir, parent);
		return true;
	}
	if (access(parent, W_OK | X_OK) == -1) {
		snprintf(why, size, "directory %s does not exist and cannot be "
		    "created: %s: %s", dir, parent, strerror(errno));
		return true;
	}
	return false;
}

bool
probe_dir(const char *dir, char *why, size_t size)
{
	struct stat	 st;

	if (stat(dir, &st) == -1) {
		if (errno == ENOENT)
			return probe_missing_dir(dir, why, size);
		snprintf(why, size, "%s: %s", dir, strerror(errno));
		return true;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, size, "%s is not a directory", dir);
		return true;
	}
	if (access(dir, W_OK | X_OK) == -1) {
		snprintf(why, size, "cannot write in %s: %s", dir,
		    strerror(errno));
		return true;
	}
	return false;
}

bool
probe_socket(const char *path, char *why, size_t size)
{
	char		 dir[4096];
	struct stat	 st;

	if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		snprintf(why, size, "%s exists and is not a socket (it is "
		    "never replaced)", path);
		return true;
	}
	probe_dirname(path, dir, sizeof(dir));
	return probe_dir(dir, why, size);
}

static void probe_warn(const struct conf *, struct conf_errors *, int,
    const char *, ...) __attribute__((format(printf, 4, 5)));

static void
probe_warn(const struct conf *conf, struct conf_errors *w, int lineno,
    const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[1024];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	w->msgs = xreallocarray(w->msgs, w->count + 1, sizeof(*w->msgs));
	if (lineno > 0)
		w->msgs[w->count++] = xasprintf("%s:%d: warning: %s",
		    conf->file, lineno, msg);
	else
		w->msgs[w->count++] = xasprintf("%s: warning: %s", conf->file,
		    msg);
}

/* Does a target keep a disk spool (spool = true under a spool_dir)? */
static bool
probe_spools(const struct conf *conf)
{
	size_t	 i;

	if (conf->spool_dir[0] == '\0')
		return false;
	for (i = 0; i < conf->ntargets; i++)
		if (conf->targets[i]->spool)
			return true;
	return false;
}

size_t
probe_conf(const struct conf *conf, struct conf_errors *w)
{
	const struct conf_listener	*l;
	char				 why[8192];
	size_t				 i, before = w->count;

	for (i = 0; i < conf->nlisteners; i++) {
		l = conf->listeners[i];
		if (probe_socket(l->path, why, sizeof(why)))
			probe_warn(conf, w, l->lineno, "[listener:%s] the "
			    "daemon would not start: %s", l->name, why);
	}
	if (conf->control_socket[0] != '\0' &&
	    probe_socket(conf->control_socket, why, sizeof(why)))
		probe_warn(conf, w, 0, "[relayd] control_socket: the daemon "
		    "would not start: %s", why);
	if (probe_spools(conf) && probe_dir(conf->spool_dir, why, sizeof(why)))
		probe_warn(conf, w, 0, "[relayd] spool_dir: %s; the targets "
		    "would keep their points in memory only until it can be "
		    "used", why);
	return w->count - before;
}
