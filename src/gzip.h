/*
 * gzip request bodies (Content-Encoding: gzip).  A batch is compressed
 * once, when first sent, and the result kept for its retries.
 */
#ifndef RELAYD_GZIP_H
#define RELAYD_GZIP_H

#include <stddef.h>

/* `len` bytes of `in` as a gzip member; the caller frees it. */
char	*gzip_compress(const char *in, size_t len, size_t *outlen);

#endif
