/*
 * Descriptor limits.  The default max_clients (1024) equals the usual
 * soft RLIMIT_NOFILE, so without care 1,024 idle clients leave the
 * control socket unable to accept and libcurl unable to connect.
 *
 * A new descriptor is the lowest free one (POSIX), so the number an
 * accept() returns tells how full the table is without counting it:
 * a client accepted at or above limit - reserve is closed at once.
 */
#include "config.h"

#include <sys/resource.h>

#include "conf.h"
#include "fdlimit.h"
#include "log.h"

/* Kept free for delivery, and for the control socket too. */
#define FDLIMIT_DELIVERY	64
#define FDLIMIT_CONTROL		(FDLIMIT_DELIVERY + 16)
/* libevent, the listeners themselves, logs, inherited sockets */
#define FDLIMIT_BASE		32
/* no table of a million descriptors for an "unlimited" hard limit */
#define FDLIMIT_CAP		(1 << 20)

static rlim_t	 fdlimit_soft = 1024;

void
fdlimit_raise(void)
{
	struct rlimit	 rl;
	rlim_t		 want;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("fdlimit: getrlimit");
		return;
	}
	want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > FDLIMIT_CAP ?
	    FDLIMIT_CAP : rl.rlim_max;
	if (want > rl.rlim_cur) {
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("fdlimit: setrlimit to %llu",
			    (unsigned long long)want);
		else
			log_info("fdlimit: open files limit raised to %llu",
			    (unsigned long long)want);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		fdlimit_soft = rl.rlim_cur;
}

void
fdlimit_check(const struct conf *conf)
{
	unsigned long long	 need = FDLIMIT_BASE + FDLIMIT_CONTROL;
	size_t			 i;

	for (i = 0; i < conf->nlisteners; i++)
		if (conf->listeners[i]->type == LISTENER_STREAM)
			need += conf->listeners[i]->max_clients;
	if (need > fdlimit_soft)
		log_warnx("fdlimit: the listeners' max_clients and %d "
		    "descriptors in reserve need %llu open files, the limit "
		    "is %llu: clients beyond it are refused (raise "
		    "LimitNOFILE or lower max_clients)",
		    FDLIMIT_BASE + FDLIMIT_CONTROL, need,
		    (unsigned long long)fdlimit_soft);
}

bool
fdlimit_in_reserve(int fd, enum fdlimit_user who)
{
	rlim_t	 reserve = who == FDLIMIT_CLIENT ? FDLIMIT_CONTROL :
	    FDLIMIT_DELIVERY;

	return fdlimit_soft <= reserve || (rlim_t)fd >= fdlimit_soft - reserve;
}
