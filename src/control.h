/*
 * The control socket (DESIGN §6): one command per line, one JSON line
 * back.  ping, stats, flush, create-database, drop-database, reload.
 */
#ifndef RELAYD_CONTROL_H
#define RELAYD_CONTROL_H

#include <stddef.h>

struct control;
struct event_base;
struct relay;

/* A control socket at `path` for `relay` (which must outlive it). */
struct control	*control_new(struct event_base *, struct relay *,
		    const char *path);
/* Binds the socket (mode 0600); -1 with a message in `err`. */
int		 control_open(struct control *, char *err, size_t errlen);
/*
 * A reload changed control_socket: binds `path` (nothing, if empty), then
 * closes the old socket.  Connected clients stay.  -1 with a message in
 * `err`, and the old socket still open, on failure.
 */
int		 control_rebind(struct control *, const char *path, char *err,
		    size_t errlen);
/* Closes every connection and removes the socket file. */
void		 control_free(struct control *);

#endif
