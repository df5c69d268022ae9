/*
 * What one stream connection's lines became, for the summary its client
 * may ask for ("#relay reply=summary"): how many were accepted, skipped
 * and rejected, and the first rejected ones with their reasons.  Pure:
 * the listener counts, the summary is rendered here.
 */
#ifndef RELAYD_TALLY_H
#define RELAYD_TALLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evbuffer;

#define TALLY_FIRST	3	/* rejected lines a summary describes */
#define TALLY_TEXT	64	/* bytes kept of each (<= FRAME_HEAD) */

struct tally_reject {
	uint64_t	 line;		/* 1 = the sender's first line */
	const char	*reason;	/* a static string */
	char		 text[TALLY_TEXT + 1];
	bool		 cut;		/* the line was longer */
};

/*
 * Every line the sender sent counts once, but the directive that asked
 * for the summary: lines = accepted + skipped + rejected.
 */
struct tally {
	uint64_t		 lines;
	uint64_t		 accepted;
	uint64_t		 skipped;
	uint64_t		 rejected;
	size_t			 nfirst;
	struct tally_reject	 first[TALLY_FIRST];
};

/* A line at least one target queued. */
void	 tally_accept(struct tally *);
/* A blank line, a comment or a directive. */
void	 tally_skip(struct tally *);
/* A rejected line: `reason` static, `head` its first `len` bytes or more. */
void	 tally_reject(struct tally *, const char *reason, const char *head,
	    size_t len);
/*
 * Appends the summary, one JSON line ending in '\n' (README "Feedback
 * to a sender"): {"ok":..,"lines":..,"accepted":..,"skipped":..,
 * "rejected":..,"rejects":[{"line":..,"reason":..,"text":..},..]}.  At
 * most about 2 KiB, whatever the input.
 */
void	 tally_json(const struct tally *, struct evbuffer *);

#endif
