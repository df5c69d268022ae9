/*
 * UTF-8 checks.  The second byte's range carries the rules: after E0 it
 * must be A0-BF (no overlong 3-byte form), after ED 80-9F (no
 * surrogate), after F0 90-BF (no overlong 4-byte form), after F4 80-8F
 * (nothing past U+10FFFF); every other continuation byte is 80-BF.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "utf8.h"

size_t
utf8_len(const unsigned char *p, size_t n)
{
	size_t		 len, i;
	unsigned char	 lo = 0x80, hi = 0xbf;

	if (n == 0)
		return 0;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;
		else if (p[0] == 0xed)
			hi = 0x9f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		if (p[0] == 0xf0)
			lo = 0x90;
		else if (p[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++, lo = 0x80, hi = 0xbf)
		if (p[i] < lo || p[i] > hi)
			return 0;
	return len;
}

bool
utf8_valid(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s, *end = p + len;
	uint64_t		 w;
	size_t			 n;

	/* names are mostly ASCII: eight bytes at a time */
	for (; end - p >= 8; p += 8) {
		memcpy(&w, p, sizeof(w));
		if (w & 0x8080808080808080ULL)
			break;
	}
	for (; p < end; p += n)
		if ((n = utf8_len(p, (size_t)(end - p))) == 0)
			return false;
	return true;
}
