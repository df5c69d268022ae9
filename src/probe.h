/*
 * What `influx-relayd -t` can tell about this host beyond the file
 * itself, without touching anything: whether each socket can be bound
 * where the configuration puts it and whether spool_dir can be used.
 * The answers hold for the user running the check, now; systemd's
 * RuntimeDirectory= or StateDirectory= may still create a directory
 * before the service starts, so they are warnings, not errors.
 */
#ifndef RELAYD_PROBE_H
#define RELAYD_PROBE_H

#include <stdbool.h>
#include <stddef.h>

struct conf;
struct conf_errors;

/*
 * Would the daemon meet a problem creating (the last component of) and
 * writing into directory `dir`?  True with the reason in `why`.
 */
bool	 probe_dir(const char *dir, char *why, size_t size);
/*
 * Would binding a socket at `path` fail for what looking can tell: a
 * file in the way, a directory missing (and not creatable) or not
 * writable?  True with the reason in `why`.  A live socket cannot be
 * told from a stale one without connecting to it, so it is not looked at.
 */
bool	 probe_socket(const char *path, char *why, size_t size);
/*
 * Appends a warning "FILE:LINE: warning: [SECTION] ..." to `warnings`
 * for each problem the probes find in `conf`'s sockets and spool_dir;
 * returns how many.
 */
size_t	 probe_conf(const struct conf *, struct conf_errors *warnings);

#endif
