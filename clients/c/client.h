/*
 * The client's private state, shared by its two halves: point.c builds
 * points into the buffer, conn.c owns the buffer and the connection and
 * sends complete lines.  Not installed.
 *
 * The buffer holds, in order: bytes the socket took already (kept until
 * the line they belong to is whole on the relay's side), complete lines
 * waiting, and the point being built:
 *
 *	0 ........ sent ........ done ........ used ........ cap
 *	  taken       waiting       open point      free
 *
 * Each complete line's end is in `ends`, so that after a broken
 * connection the first line the relay may have got only part of is sent
 * again whole, after the routing directive in force where it starts.
 */
#ifndef CLIENT_H
#define CLIENT_H

#include <sys/types.h>
#include <sys/un.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "influx-relay.h"

#define CLIENT_NAME_MAX	255		/* longest database or policy */
/* "#relay db=X rp=Y\n", each byte of X and Y possibly escaped */
#define CLIENT_DIRECTIVE_MAX	(sizeof("#relay db= rp=\n") + \
				    4 * CLIENT_NAME_MAX)

/* The high bit of an `ends` entry marks a routing directive. */
#define CLIENT_END_DIRECTIVE	0x80000000u

enum client_stage {
	CLIENT_IDLE,		/* no open point */
	CLIENT_TAGS,		/* begun: tags or a first field */
	CLIENT_FIELDS,		/* has a field: fields, time or end */
	CLIENT_TIMED,		/* has its time: end */
};

struct influx_relay {
	char		 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int		 fd;		/* -1: not connected */
	bool		 fresh;		/* connected; nothing sent on it yet */
	unsigned	 forks;		/* conn.c's fork count when opened */
	int		 timeout_ms;
	int64_t		 retry_at;	/* no automatic flush before (ms) */

	char		*buf;
	size_t		 cap, used, done, sent;
	size_t		 max_point;
	uint32_t	*ends;
	size_t		 nends, ends_cap;
	/* the directive in force at buf[0], sent first on a new connection */
	char		 resume[CLIENT_DIRECTIVE_MAX];
	size_t		 resume_len;
	/* the route in force after the last line in buf */
	char		 db[CLIENT_NAME_MAX + 1];
	char		 rp[CLIENT_NAME_MAX + 1];

	/* the open point */
	enum client_stage stage;
	int		 error;		/* what spoiled it, 0 if nothing */
	size_t		 point;		/* where it starts in buf */
	size_t		 tags;		/* where its tags start */
};

/*
 * Shared by the two files, not exported: the ir_ prefix keeps them out
 * of an application's way when the static library is linked in.
 */
/* conn.c: room for `n` more bytes of the open point, 0 or an error. */
int	 ir_conn_reserve(struct influx_relay *, size_t n);
/* conn.c: room in `ends` for `n` more lines, 0 or ENOMEM. */
int	 ir_conn_room_for_lines(struct influx_relay *, size_t n);
/* conn.c: records a complete line ending at `used` (room made before). */
void	 ir_conn_line_done(struct influx_relay *, bool directive);
/* conn.c: after fork(), the child drops the parent's state. */
void	 ir_conn_check_owner(struct influx_relay *);
/* conn.c: sends waiting lines when the buffer is past half full. */
void	 ir_conn_flush_if_full(struct influx_relay *);

#endif
