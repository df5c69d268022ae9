/*
 * CRC-32C (Castagnoli), the checksum of the disk spool's records.  It is
 * the checksum iSCSI, ext4 and Kafka put on their data.  Like any 32-bit
 * CRC it catches every burst of up to 32 bits; unlike zlib's CRC-32,
 * whose Hamming distance falls to 3 past about 11 KiB, it still catches
 * any 3 flipped bits in records of many MiB.  SSE 4.2 computes it in
 * hardware, should this table-driven version ever matter.  Pure.
 */
#ifndef RELAYD_CRC32C_H
#define RELAYD_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * The CRC-32C of `len` bytes at `buf`, continuing from `crc` (0 to
 * start): crc32c(crc32c(0, a, n), b, m) is the CRC of a then b.
 */
uint32_t	 crc32c(uint32_t crc, const void *buf, size_t len);

#endif
