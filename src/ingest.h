/*
 * Ingest: turns one received line into a normalised point and hands it
 * to every target of its listener.  Normalised means: leading spaces and
 * CR gone, a timestamp always present and in nanoseconds, so batches can
 * always be written with precision=ns and retries never move a point.
 */
#ifndef RELAYD_INGEST_H
#define RELAYD_INGEST_H

#include <stddef.h>
#include <stdint.h>

struct conf_listener;
struct ingest;
struct target;

enum ingest_result {
	INGEST_ACCEPTED,	/* queued for at least one target */
	INGEST_SKIPPED,		/* blank or comment */
	INGEST_REJECTED,	/* invalid, or no target could take it */
};

/* An ingest for `conf`, sending to `targets` (both must outlive it). */
struct ingest	*ingest_new(const struct conf_listener *conf,
		    struct target **targets, size_t ntargets);
void		 ingest_free(struct ingest *);
/*
 * Processes one line (without its '\n'), received at `now` ns from
 * `origin` (origin.h).  On a reject `*reason` is a static string naming
 * why.
 */
enum ingest_result ingest_line(struct ingest *, const char *line,
		    size_t len, int64_t now, uint32_t origin,
		    const char **reason);
/*
 * ingest_line() in two steps, so that the listener can frame and parse a
 * line in one pass: ingest_parse() checks the line (INGEST_ACCEPTED: it
 * is ready for ingest_commit(), nothing is queued yet), ingest_commit()
 * queues it.  The line must stay in place in between.
 */
enum ingest_result ingest_parse(struct ingest *, const char *line,
		    size_t len, const char **reason);
enum ingest_result ingest_commit(struct ingest *, int64_t now,
		    uint32_t origin, const char **reason);
/*
 * After an accepted ingest_parse() of line protocol: the line holds no
 * '"', '\\' or '\n', so it ends at the first '\n' after it.
 */
bool		 ingest_plain(const struct ingest *);

/* The targets this ingest feeds; `*n` gets their count. */
/*
 * The database and retention policy a "#relay" directive chose for the
 * lines that follow from one sender (route.h), used where a line has no
 * routing tag of its own; NULL or "" for the listener's defaults.  The
 * strings must stay valid while lines of that sender are ingested.
 */
void		 ingest_route(struct ingest *, const char *db, const char *rp);
/*
 * The end of a read turn: every target's spool gets what the turn
 * accepted (target_commit()).
 */
void		 ingest_end(struct ingest *);
struct target *const *ingest_targets(const struct ingest *, size_t *n);

/*
 * overflow = block: a target of this ingest that blocks and has less than
 * `need` bytes of room, or NULL.  The listener stops reading until then.
 */
struct target	*ingest_blocked(const struct ingest *, size_t need);
/* Every target of this ingest takes `need` more bytes now (target_takes). */
bool		 ingest_takes(const struct ingest *, size_t need);

#endif
