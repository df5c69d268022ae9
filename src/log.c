/*
 * Logging.  Under systemd (JOURNAL_STREAM set) the journal adds its own
 * timestamps, so lines carry only the level; on a terminal they also get
 * an ISO 8601 UTC time so a log file read later still makes sense.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "log.h"

static enum log_level	 log_level = LOG_LEVEL_INFO;

static const char *const log_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

/* The escape of byte `c` into `out` (at most 4 bytes); its length. */
static size_t
log_escape_byte(unsigned char c, char *out)
{
	static const char	 hex[] = "0123456789abcdef";

	if (c == '\\' || c == '"') {
		out[0] = '\\';
		out[1] = (char)c;
		return 2;
	}
	if (c >= 0x20 && c < 0x7f) {
		out[0] = (char)c;
		return 1;
	}
	out[0] = '\\';
	out[1] = 'x';
	out[2] = hex[c >> 4];
	out[3] = hex[c & 0xf];
	return 4;
}

const char *
log_escape(char *buf, size_t size, const char *s, size_t len)
{
	char	 e[4];
	size_t	 i, n = 0, k, keep = 0;

	if (size == 0)
		return buf;
	for (i = 0; i < len; i++) {
		k = log_escape_byte((unsigned char)s[i], e);
		if (n + k + 1 > size) {
			/* cut at the last whole escape that leaves room for ... */
			if (size >= 4) {
				memcpy(buf + keep, "...", 3);
				n = keep + 3;
			}
			break;
		}
		memcpy(buf + n, e, k);
		n += k;
		if (n + 3 + 1 <= size)
			keep = n;
	}
	buf[n] = '\0';
	return buf;
}

const char *
log_esc(const char *s)
{
	static char	 slots[LOG_ESC_SLOTS][LOG_ESC_MAX];
	static unsigned	 next;
	char		*buf = slots[next++ % LOG_ESC_SLOTS];

	return log_escape(buf, LOG_ESC_MAX, s, strlen(s));
}

void
log_set_level(enum log_level level)
{
	log_level = level;
}

int
log_level_parse(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++)
		if (strcasecmp(name, log_names[i]) == 0)
			return (int)i;
	return -1;
}

bool
log_enabled(enum log_level level)
{
	return level <= log_level;
}

static void
log_vwrite(enum log_level level, const char *errstr, const char *fmt,
    va_list ap)
{
	char		 msg[2048], when[64] = "";
	struct timeval	 tv;
	struct tm	 tm;

	if (!log_enabled(level))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (getenv("JOURNAL_STREAM") == NULL) {
		gettimeofday(&tv, NULL);
		gmtime_r(&tv.tv_sec, &tm);
		snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000));
	}
	if (errstr != NULL)
		fprintf(stderr, "%s%s: %s: %s\n", when, log_names[level], msg,
		    errstr);
	else
		fprintf(stderr, "%s%s: %s\n", when, log_names[level], msg);
}

#define LOG_BODY(level, errstr) do {			\
	va_list	 ap;					\
	va_start(ap, fmt);				\
	log_vwrite((level), (errstr), fmt, ap);		\
	va_end(ap);					\
} while (0)

void
log_errorx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR, NULL);
}

void
log_warn(const char *fmt, ...)
{
	const char	*errstr = strerror(errno);

	LOG_BODY(LOG_LEVEL_WARN, errstr);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARN, NULL);
}

void
log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_INFO, NULL);
}

void
log_debug(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_DEBUG, NULL);
}

void
fatal(const char *fmt, ...)
{
	const char	*errstr = strerror(errno);

	LOG_BODY(LOG_LEVEL_ERROR, errstr);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR, NULL);
	exit(1);
}

void
log_warnx_rl(struct log_ratelimit *rl, const char *fmt, ...)
{
	time_t	 now = time(NULL);

	if (now - rl->window >= (time_t)rl->interval) {
		if (rl->suppressed > 0)
			log_warnx("%u similar messages suppressed",
			    rl->suppressed);
		rl->window = now;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	if (rl->printed >= rl->burst) {
		rl->suppressed++;
		return;
	}
	rl->printed++;
	LOG_BODY(LOG_LEVEL_WARN, NULL);
}
