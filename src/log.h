/*
 * Leveled logging to stderr, one line per message, plus a rate limiter for
 * warnings that bad input or a failing server could otherwise repeat
 * thousands of times a second.
 */
#ifndef RELAYD_LOG_H
#define RELAYD_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* At most `burst` messages per `interval` seconds; the rest are counted. */
struct log_ratelimit {
	unsigned	 interval;
	unsigned	 burst;
	time_t		 window;
	unsigned	 printed;
	unsigned	 suppressed;
};

#define LOG_RATELIMIT_INIT(interval, burst) { (interval), (burst), 0, 0, 0 }

#define LOG_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Sets the most verbose level that is printed. */
void	 log_set_level(enum log_level);
/* Parses "debug", "info", "warn" or "error"; -1 if unknown. */
int	 log_level_parse(const char *);
/* True when messages of this level are printed (guard hot-path debug). */
bool	 log_enabled(enum log_level);

/* An error the daemon cannot go on after, logged before it exits. */
void	 log_errorx(const char *, ...) LOG_PRINTF(1, 2);
void	 log_warn(const char *, ...) LOG_PRINTF(1, 2);
void	 log_warnx(const char *, ...) LOG_PRINTF(1, 2);
void	 log_info(const char *, ...) LOG_PRINTF(1, 2);
void	 log_debug(const char *, ...) LOG_PRINTF(1, 2);
void	 fatal(const char *, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));
void	 fatalx(const char *, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));

/*
 * Bytes a client or a server chose, made safe for one log line: printable
 * ASCII is kept, a backslash and a double quote are escaped, every other
 * byte (control bytes such as ESC and CR, DEL, anything past ASCII)
 * becomes \xHH, so no one can forge or recolour a line.  The result is
 * cut with "..." to fit `size` (at least 4); returns `buf`.
 */
const char *log_escape(char *buf, size_t size, const char *s, size_t len);
/*
 * log_escape() of a string, into one of LOG_ESC_SLOTS static buffers used
 * in turn (at most LOG_ESC_MAX bytes): for log arguments, valid until as
 * many later calls.  The daemon has one thread.
 */
#define LOG_ESC_SLOTS	4
#define LOG_ESC_MAX	512
const char *log_esc(const char *s);

/* Logs a warning unless `rl` has used up its burst in this interval. */
void	 log_warnx_rl(struct log_ratelimit *rl, const char *, ...)
	    LOG_PRINTF(2, 3);

#endif
