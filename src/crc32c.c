/*
 * CRC-32C by slicing-by-8 (Intel's method): eight 256-entry tables let
 * the loop fold eight bytes per step instead of one.  The tables are
 * built on first use; the daemon has one thread.  Bytes are read one at
 * a time, so the result does not depend on the host's byte order.
 *
 * On x86-64 with SSE 4.2 the CPU's crc32 instruction does the same eight
 * bytes in about a cycle (GCC's and clang's __builtin_ia32_crc32di); the
 * spool checks every byte it writes, so that is most of its CPU cost.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"

/* The reflected Castagnoli polynomial. */
#define CRC32C_POLY	0x82f63b78U

static uint32_t	 crc32c_table[8][256];
static bool	 crc32c_ready;

static void
crc32c_init(void)
{
	uint32_t	 c;
	int		 i, k;

	for (i = 0; i < 256; i++) {
		c = (uint32_t)i;
		for (k = 0; k < 8; k++)
			c = (c >> 1) ^ (CRC32C_POLY & (0U - (c & 1)));
		crc32c_table[0][i] = c;
	}
	for (i = 0; i < 256; i++)
		for (k = 1; k < 8; k++)
			crc32c_table[k][i] = (crc32c_table[k - 1][i] >> 8) ^
			    crc32c_table[0][crc32c_table[k - 1][i] & 0xff];
	crc32c_ready = true;
}

static uint32_t
crc32c_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CRC32C_HW	1

__attribute__((target("sse4.2")))
static uint32_t
crc32c_hw(uint32_t crc, const unsigned char *p, size_t len)
{
	uint64_t	 c = ~crc, w;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, sizeof(w));	/* x86 is little-endian */
		c = __builtin_ia32_crc32di(c, w);
	}
	for (; len > 0; p++, len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p);
	return ~(uint32_t)c;
}
#endif

uint32_t
crc32c(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char	*p = buf;
	uint32_t		 lo, hi;
#ifdef CRC32C_HW
	static int		 hw = -1;

	if (hw == -1) {
		__builtin_cpu_init();
		hw = __builtin_cpu_supports("sse4.2") &&
		    getenv("RELAYD_CRC32C_SOFT") == NULL;
	}
	if (hw)
		return crc32c_hw(crc, p, len);
#endif
	if (!crc32c_ready)
		crc32c_init();
	crc = ~crc;
	for (; len >= 8; p += 8, len -= 8) {
		lo = crc ^ crc32c_le32(p);
		hi = crc32c_le32(p + 4);
		crc = crc32c_table[7][lo & 0xff] ^
		    crc32c_table[6][(lo >> 8) & 0xff] ^
		    crc32c_table[5][(lo >> 16) & 0xff] ^
		    crc32c_table[4][lo >> 24] ^
		    crc32c_table[3][hi & 0xff] ^
		    crc32c_table[2][(hi >> 8) & 0xff] ^
		    crc32c_table[1][(hi >> 16) & 0xff] ^
		    crc32c_table[0][hi >> 24];
	}
	for (; len > 0; p++, len--)
		crc = (crc >> 8) ^ crc32c_table[0][(crc ^ *p) & 0xff];
	return ~crc;
}
