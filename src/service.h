/*
 * The systemd side of the daemon: sd_notify states (READY, RELOADING,
 * STOPPING, STATUS), watchdog pings, and the sockets systemd passes with
 * socket activation.  Built without libsystemd (HAVE_SYSTEMD unset),
 * every call does nothing and no socket is inherited.
 */
#ifndef RELAYD_SERVICE_H
#define RELAYD_SERVICE_H

#include <stddef.h>

struct event_base;

/* Sends one state to the service manager ("READY=1", "STOPPING=1"). */
void	 service_notify(const char *state);
/* RELOADING=1, stamped with CLOCK_MONOTONIC as systemd 253+ wants. */
void	 service_reloading(void);
/* STATUS=<printf>: the one-line summary systemctl status shows. */
void	 service_status(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
/*
 * Pings WATCHDOG=1 at half of WATCHDOG_USEC from the event loop, if the
 * manager asked for it (sd_watchdog_enabled).  Stops with the base.
 */
void	 service_watchdog_start(struct event_base *);
void	 service_watchdog_stop(void);

/* Takes over the fds of LISTEN_FDS (once, at start) and logs them. */
void	 service_inherit_fds(void);
/*
 * The inherited socket of `type` bound to `path`, now owned by the
 * caller, or -1.  Stream sockets must be listening.
 */
int	 service_take_fd(const char *path, int type);
/* Returns a taken socket to the pool (its listener was removed). */
void	 service_give_fd(int fd);
/* Warns about inherited sockets no listener took (they stay open). */
void	 service_warn_unused_fds(void);
/* Closes the inherited sockets nobody took. */
void	 service_close_fds(void);

#endif
