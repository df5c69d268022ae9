/* zlib deflate with a gzip wrapper, in one pass over a contiguous body. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <zlib.h>

#include "gzip.h"
#include "log.h"
#include "mem.h"

char *
gzip_compress(const char *in, size_t len, size_t *outlen)
{
	z_stream	 zs = { 0 };
	char		*out;
	uLong		 cap;

	/* windowBits 15 + 16 asks zlib for a gzip header and trailer */
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		fatalx("gzip: deflateInit2 failed");
	/* deflateBound() is enough for a single Z_FINISH call */
	cap = deflateBound(&zs, (uLong)len);
	out = xmalloc(cap);
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)len;
	zs.next_out = (Bytef *)out;
	zs.avail_out = (uInt)cap;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
		fatalx("gzip: deflate did not finish");
	*outlen = zs.total_out;
	deflateEnd(&zs);
	return out;
}
