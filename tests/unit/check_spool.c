/*
 * The disk spool's checksum: CRC-32C's known answer, and the sliced
 * loop against a bitwise one at every alignment.
 */
#include "config.h"

#include <stdint.h>

#include "crc32c.h"
#include "suites.h"

/* A bitwise CRC-32C, to check the sliced one against. */
static uint32_t
crc_slow(const unsigned char *p, size_t len)
{
	uint32_t	 c = 0xffffffffU;
	int		 k;

	while (len-- > 0) {
		c ^= *p++;
		for (k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78U : c >> 1;
	}
	return ~c;
}

START_TEST(test_crc32c)
{
	unsigned char	 buf[300];
	size_t		 i, off, len;

	ck_assert_uint_eq(crc32c(0, "123456789", 9), 0xe3069283U);
	ck_assert_uint_eq(crc32c(0, "", 0), 0);
	ck_assert_uint_eq(crc32c(crc32c(0, "1234", 4), "56789", 5),
	    0xe3069283U);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 131 + 7);
	/* every alignment and tail length of the 8-byte loop */
	for (off = 0; off < 9; off++)
		for (len = 0; len + off <= sizeof(buf); len += 13)
			ck_assert_uint_eq(crc32c(0, buf + off, len),
			    crc_slow(buf + off, len));
}
END_TEST

Suite *
spool_suite(void)
{
	Suite	*s = suite_create("spool");
	TCase	*tc = tcase_create("spool");

	tcase_add_test(tc, test_crc32c);
	suite_add_tcase(s, tc);
	return s;
}
