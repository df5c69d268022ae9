/*
 * libinfluxrelay: write InfluxDB points to influx-relayd's UNIX socket.
 *
 * A client holds one stream connection to the relay and a buffer of
 * points in InfluxDB line protocol.  Build a point with
 * influx_relay_begin(), any tags, at least one field, optionally a time,
 * and influx_relay_end(); influx_relay_flush() hands the buffered points
 * to the relay, which batches them, creates a missing database and
 * retries while InfluxDB is away.  Nothing here waits for InfluxDB.
 *
 * Every call returns 0 or an error code (enum influx_relay_error);
 * influx_relay_strerror() names it.  A point-building call that fails
 * spoils the point: later calls for it do nothing and return the same
 * code, and influx_relay_end() returns it and drops the point, so a
 * caller may check only influx_relay_end().
 *
 * A client is not thread-safe: use one per thread, or a lock.  After
 * fork(), a child that uses its parent's client starts afresh: it drops
 * the points its parent had buffered (the parent still sends them) and
 * opens its own connection.  See influx-relay(3).
 */
#ifndef INFLUX_RELAY_H
#define INFLUX_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define INFLUX_RELAY_VERSION		"0.1.0"
/* Where influx-relayd's sample configuration puts its stream socket. */
#define INFLUX_RELAY_DEFAULT_SOCKET	"/run/influx-relayd/influx-relayd.sock"
/* Bytes of points a client buffers, and the longest point it builds. */
#define INFLUX_RELAY_BUFFER_SIZE	(256 * 1024)
#define INFLUX_RELAY_MAX_POINT		(64 * 1024)	/* the relay's max_line */

enum influx_relay_error {
	INFLUX_RELAY_OK = 0,
	INFLUX_RELAY_EINVAL,	/* NULL argument, or a call out of order */
	INFLUX_RELAY_ENAME,	/* a name InfluxDB cannot store as given */
	INFLUX_RELAY_EVALUE,	/* a field value InfluxDB cannot store */
	INFLUX_RELAY_ETIME,	/* a time outside InfluxDB's range */
	INFLUX_RELAY_EDUPTAG,	/* the point has this tag already */
	INFLUX_RELAY_ENOFIELD,	/* a point without a field */
	INFLUX_RELAY_ETOOBIG,	/* a point longer than the client's limit */
	INFLUX_RELAY_ENOMEM,
	INFLUX_RELAY_ECONNECT,	/* the relay is not reachable (errno) */
	INFLUX_RELAY_ETIMEOUT,	/* the relay did not take data in time */
	INFLUX_RELAY_EFULL,	/* buffer full while the relay is away */
	INFLUX_RELAY_EIO,	/* writing to the relay failed (errno) */
};

struct influx_relay;

/*
 * A client for the relay's stream socket at `socket_path` (NULL: the
 * environment's INFLUX_RELAYD_SOCKET, else INFLUX_RELAY_DEFAULT_SOCKET);
 * no call waits for the relay longer than `timeout_ms` (0: never waits).
 * It connects at once: on failure, it returns the client and sets
 * *error to INFLUX_RELAY_ECONNECT (points are buffered and a flush
 * connects again).  NULL only if out of memory or the path is too long.
 */
struct influx_relay	*influx_relay_open(const char *socket_path,
			    int timeout_ms, int *error);
/* Flushes (within the timeout), closes and frees; NULL is ignored. */
int		 influx_relay_close(struct influx_relay *);
/* Closes and frees without flushing: buffered points are lost. */
void		 influx_relay_free(struct influx_relay *);

/*
 * Starts a point of `measurement` for database `db` (NULL: the relay
 * listener's default database) and its default retention policy, or
 * retention policy `rp` with influx_relay_begin_rp().
 */
int		 influx_relay_begin(struct influx_relay *, const char *db,
		    const char *measurement);
int		 influx_relay_begin_rp(struct influx_relay *, const char *db,
		    const char *rp, const char *measurement);
/* Adds a tag; all tags come before the first field. */
int		 influx_relay_tag(struct influx_relay *, const char *key,
		    const char *value);
/* Adds a field of InfluxDB's type float, integer, boolean or string. */
int		 influx_relay_float(struct influx_relay *, const char *key,
		    double value);
int		 influx_relay_integer(struct influx_relay *, const char *key,
		    int64_t value);
int		 influx_relay_boolean(struct influx_relay *, const char *key,
		    bool value);
int		 influx_relay_string(struct influx_relay *, const char *key,
		    const char *value);
/*
 * Sets the point's time in nanoseconds since the epoch (the listener's
 * precision must be ns, its default); without it the relay stamps the
 * time it received the point.
 */
int		 influx_relay_time(struct influx_relay *, int64_t ns);
/*
 * Ends the point: it joins the buffer (which is sent once full, or by
 * influx_relay_flush()), or is dropped with the error that spoiled it.
 */
int		 influx_relay_end(struct influx_relay *);
/* Drops the point being built, if any. */
void		 influx_relay_cancel(struct influx_relay *);

/*
 * Sends every ended point to the relay, connecting (again) if needed,
 * within the timeout.  On INFLUX_RELAY_ETIMEOUT or ECONNECT the points
 * stay buffered for the next flush.
 */
int		 influx_relay_flush(struct influx_relay *);
/* Bytes of ended points not yet handed to the relay. */
size_t		 influx_relay_pending(const struct influx_relay *);
/* Sets the longest point the client builds (at most the buffer size). */
int		 influx_relay_set_max_point(struct influx_relay *, size_t);

/* A short description of an error code, e.g. "relay not reachable". */
const char	*influx_relay_strerror(int error);

#ifdef __cplusplus
}
#endif

#endif
