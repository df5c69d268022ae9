/*
 * systemd integration.  One process is one service, so the state (the
 * watchdog event, the inherited fds) is module-wide, as log.c's level is.
 *
 * Inherited sockets are matched to listeners by path and type
 * (sd_is_socket_unix).  Those no listener takes at start stay open, so a
 * reload that adds their listener can still take them: systemd keeps its
 * own copy listening, so binding the path again would fail as "in use".
 */
#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "log.h"
#include "mem.h"
#include "service.h"

static struct event	*service_ev_watchdog;
static int		*service_fds;		/* -1 once taken */
static size_t		 service_nfds;

void
service_notify(const char *state)
{
#ifdef HAVE_SYSTEMD
	sd_notify(0, state);
#else
	(void)state;
#endif
}

void
service_reloading(void)
{
	struct timespec	 ts;
	char		 buf[64];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(buf, sizeof(buf), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000 +
	    (unsigned long long)ts.tv_nsec / 1000);
	service_notify(buf);
}

void
service_status(const char *fmt, ...)
{
	va_list	 ap;
	char	 buf[256];
	int	 n;

	n = snprintf(buf, sizeof(buf), "STATUS=");
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	service_notify(buf);
}

#ifdef HAVE_SYSTEMD
static void
service_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	service_notify("WATCHDOG=1");
}
#endif

void
service_watchdog_start(struct event_base *base)
{
#ifdef HAVE_SYSTEMD
	uint64_t	 usec;
	struct timeval	 tv;

	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return;
	/* half the interval, as sd_watchdog_enabled(3) recommends */
	usec /= 2;
	tv.tv_sec = (time_t)(usec / 1000000);
	tv.tv_usec = (suseconds_t)(usec % 1000000);
	if ((service_ev_watchdog = event_new(base, -1, EV_PERSIST,
	    service_watchdog_cb, NULL)) == NULL)
		fatalx("service: event_new failed");
	event_add(service_ev_watchdog, &tv);
	service_notify("WATCHDOG=1");
	log_info("service: watchdog pings every %.3fs", (double)usec / 1e6);
#else
	(void)base;
	/* systemd would kill a service that never pings: say why */
	if (getenv("NOTIFY_SOCKET") != NULL)
		log_warnx("service: built without libsystemd: no sd_notify "
		    "(READY, WATCHDOG, STATUS); use Type=simple");
#endif
}

void
service_watchdog_stop(void)
{
	if (service_ev_watchdog != NULL)
		event_free(service_ev_watchdog);
	service_ev_watchdog = NULL;
}

void
service_inherit_fds(void)
{
#ifdef HAVE_SYSTEMD
	int	 i, n;

	/* unsets LISTEN_*: a child must not think they are its own */
	if ((n = sd_listen_fds(1)) <= 0) {
		if (n < 0)
			log_warnx("service: LISTEN_FDS: %s", strerror(-n));
		return;
	}
	service_fds = xcalloc((size_t)n, sizeof(*service_fds));
	for (i = 0; i < n; i++)
		service_fds[i] = SD_LISTEN_FDS_START + i;
	service_nfds = (size_t)n;
	log_info("service: %d socket(s) passed by systemd", n);
#else
	if (getenv("LISTEN_FDS") != NULL)
		log_warnx("service: built without libsystemd: the sockets "
		    "systemd passed (LISTEN_FDS) are not used");
#endif
}

int
service_take_fd(const char *path, int type)
{
#ifdef HAVE_SYSTEMD
	size_t	 i;
	int	 fd, listening = type == SOCK_STREAM ? 1 : -1;

	for (i = 0; i < service_nfds; i++) {
		fd = service_fds[i];
		if (fd == -1 || sd_is_socket_unix(fd, type, listening, path,
		    0) <= 0)
			continue;
		service_fds[i] = -1;
		return fd;
	}
#else
	(void)path;
	(void)type;
#endif
	return -1;
}

void
service_give_fd(int fd)
{
	size_t	 i;

	for (i = 0; i < service_nfds; i++) {
		if (service_fds[i] == -1) {
			service_fds[i] = fd;
			return;
		}
	}
	close(fd);	/* not one of ours: cannot happen */
}

void
service_warn_unused_fds(void)
{
	size_t	 i;

	for (i = 0; i < service_nfds; i++)
		if (service_fds[i] != -1)
			log_warnx("service: inherited socket (fd %d) matches "
			    "no listener's path and type; it stays unused",
			    service_fds[i]);
}

void
service_close_fds(void)
{
	size_t	 i;

	for (i = 0; i < service_nfds; i++)
		if (service_fds[i] != -1)
			close(service_fds[i]);
	free(service_fds);
	service_fds = NULL;
	service_nfds = 0;
}
