/*
 * Well-formed UTF-8 as RFC 3629 and Go's utf8.Valid define it (InfluxDB
 * checks names with the latter): no overlong forms, no UTF-16
 * surrogates, nothing past U+10FFFF.  Pure.
 */
#ifndef RELAYD_UTF8_H
#define RELAYD_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Length of the well-formed character at `p` among the `n` bytes there,
 * 0 if there is none (a bad or cut sequence).
 */
size_t	 utf8_len(const unsigned char *p, size_t n);
/* True if all `len` bytes at `s` are well-formed UTF-8. */
bool	 utf8_valid(const char *s, size_t len);

#endif
