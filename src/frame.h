/*
 * Framing: splits the bytes a client sends (or one datagram) into
 * records and hands each to its owner through a small callback table.
 * No sockets in here: the input is the evbuffer the bytes were read
 * into, so it is unit-tested and fuzzed directly.
 *
 * Rules (README "Line protocol exactness"): a record ends at '\n'; line
 * protocol frames as InfluxDB does (not inside a quoted field value or
 * after a backslash) if the record so framed parses as a whole and fits
 * in max_line, else its first line is a record alone.  A record longer
 * than max_line (a CR before its '\n' not counted) is refused and the
 * input resumes after the next '\n'.  A partial record at EOF is a
 * record; one cut by shutdown or an idle timeout is refused.  How the
 * input is split into reads and chains never changes the records.
 */
#ifndef RELAYD_FRAME_H
#define RELAYD_FRAME_H

#include <stdbool.h>
#include <stddef.h>

struct evbuffer;
struct frame;

enum frame_format {
	FRAME_LINE,	/* line protocol: quotes and backslashes count */
	FRAME_KV,	/* one message per line: only '\n' ends one */
};

/* What a parse() callback made of a line (see struct frame_ops). */
enum frame_parse {
	FRAME_PARSE_FAILED,	/* not valid: frame it, then record() */
	FRAME_PARSE_OK,		/* valid; the framer checks where it ends */
	FRAME_PARSE_PLAIN,	/* valid, no '"' or '\\': ends at its '\n' */
};

/* reject()'s reason for a record over max_line: "line too long". */
extern const char	 frame_too_long[];

/* reject() gets at least this many bytes of a record's head. */
#define FRAME_HEAD	64

/*
 * The owner's side.  Pointers into the input are valid only during the
 * call.  Every input byte is accounted for exactly once: by record() or
 * commit() (and the '\n' after it, if any), or by skip().
 */
struct frame_ops {
	/* A record of at most max_line bytes (+ CR), without its '\n'. */
	void	(*record)(void *arg, const char *rec, size_t len);
	/*
	 * A refused record: frame_too_long, or frame_cut_rest()'s reason.
	 * `head` holds its first min(len, FRAME_HEAD) bytes at least (a
	 * complete record: all); `len` counts what is known of it.  Its
	 * bytes then go to skip().
	 */
	void	(*reject)(void *arg, const char *reason, const char *head,
		    size_t len);
	/*
	 * Optional, FRAME_LINE only: parse() checks the line up to the
	 * next '\n' before the framer settles where the record ends, so a
	 * valid line is parsed once; commit() then takes that line as the
	 * record (record() is not called for it).
	 */
	enum frame_parse (*parse)(void *arg, const char *line, size_t len);
	void	(*commit)(void *arg, const char *line, size_t len);
	/* Optional: `len` bytes dropped (a refused record, its '\n'). */
	void	(*skip)(void *arg, size_t len);
};

/* A framer calling `ops` (which must outlive it) with `arg`. */
struct frame	*frame_new(size_t max_line, enum frame_format,
		    const struct frame_ops *ops, void *arg);
void		 frame_free(struct frame *);
/* A reload: the new limit and format apply from the next call. */
void		 frame_configure(struct frame *, size_t max_line,
		    enum frame_format);
/*
 * Frames the complete records at the head of `in` and drains them; at
 * `eof` the rest is a record too.  A partial record stays in `in`.
 */
void		 frame_input(struct frame *, struct evbuffer *in, bool eof);
/*
 * Frames one datagram (`buf` is not copied) as a whole stream; nothing
 * carries over to the next.
 */
void		 frame_datagram(struct frame *, const char *buf, size_t len);
/*
 * The stream is being cut (shutdown, idle timeout): only what is buffered
 * or already queued in the socket will come, so an open record (a quote,
 * a backslash) is settled at once.
 */
void		 frame_close(struct frame *);
/*
 * After the last frame_input() of a stream that was cut: refuses a
 * partial record left in `in` for `reason` (a static string naming the
 * cut) and drains it.
 */
void		 frame_cut_rest(struct frame *, struct evbuffer *in,
		    const char *reason);

#endif
