/*
 * UNIX socket files: bind one at a path the way a daemon should, for the
 * data listeners and the control socket alike.
 */
#ifndef RELAYD_SOCK_H
#define RELAYD_SOCK_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Binds a UNIX socket of `type` (SOCK_STREAM, listening, or SOCK_DGRAM)
 * at `path` with `mode`, close-on-exec and non-blocking.  A missing
 * directory for it is created (mode 0755) if its parent exists.  A stale
 * socket file is replaced; a live one, or a file that is not a socket,
 * is an error.  Returns the fd, or -1 with the reason in `err`.
 */
int	 sock_bind_unix(const char *path, int type, mode_t mode, char *err,
	    size_t errlen);

#endif
