/*
 * The control socket (DESIGN §6): one command per line, one JSON line
 * back.  ping, stats, flush, create-database, drop-database, reload.
 */
#ifndef RELAYD_CONTROL_H
#define RELAYD_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

struct control;
struct event_base;
struct evbuffer;
struct target;

/*
 * What the commands act on (the relay), as callbacks taking `arg`, so
 * that the control socket need not know the relay: no include cycle.
 */
struct control_ops {
	/* stats: the JSON object, appended to `out` */
	void		 (*stats)(const void *arg, struct evbuffer *out);
	/* flush: start sending everything; flushed: is it all sent? */
	void		 (*flush)(void *arg);
	bool		 (*flushed)(const void *arg, size_t *left);
	/* the target named `name`, or NULL */
	struct target	*(*target)(void *arg, const char *name);
	/* reload the configuration; -1 with a message in `err` */
	int		 (*reload)(void *arg, char *err, size_t errlen);
};

/*
 * A control socket at `path` whose commands call `ops` with `arg` (both
 * must outlive it).
 */
struct control	*control_new(struct event_base *,
		    const struct control_ops *ops, void *arg,
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
/*
 * Something was delivered or a request ended (target_on_settled()): a
 * pending flush may answer now.
 */
void		 control_settled(struct control *);
/* Closes every connection and removes the socket file. */
void		 control_free(struct control *);

#endif
