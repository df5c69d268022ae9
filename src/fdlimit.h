/*
 * File descriptors: the soft RLIMIT_NOFILE raised to the hard limit at
 * start, and a reserve below that limit kept for delivery (libcurl's
 * connections) and the control socket, so idle data clients can never
 * take the last descriptors.
 */
#ifndef RELAYD_FDLIMIT_H
#define RELAYD_FDLIMIT_H

#include <stdbool.h>

struct conf;

/*
 * Who asks for a descriptor: data clients stop first, the control
 * socket next; delivery may use all that is left.
 */
enum fdlimit_user {
	FDLIMIT_CLIENT,
	FDLIMIT_CONTROL,
};

/* Raises the soft limit to the hard one; logs what it got. */
void	 fdlimit_raise(void);
/* Warns when the listeners' max_clients and the reserve cannot fit. */
void	 fdlimit_check(const struct conf *);
/* True when `fd`, just accepted, eats into the reserve of others. */
bool	 fdlimit_in_reserve(int fd, enum fdlimit_user);

#endif
