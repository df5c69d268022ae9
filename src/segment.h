/*
 * One segment file of the disk spool: its format (described in
 * segment.c), a reader that checks every record and finds its way past
 * damage, and writes that leave a file made of whole records.  spool.c
 * keeps the segments of one target and their accounting.  Pure file
 * I/O: no libevent, no libcurl.
 */
#ifndef RELAYD_SEGMENT_H
#define RELAYD_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEGMENT_HEADER_SIZE	32	/* the file header; records follow */
#define SEGMENT_RECORD_HEADER	32	/* before a record's body */
#define SEGMENT_NAME_MAX	255	/* bytes of a database or policy name */
#define SEGMENT_RECORD_MAX	(64U << 20)	/* body bytes of one record */
#define SEGMENT_FILE_LEN	20	/* "0000000000000001.seg" */

/*
 * A record: what segment_record_encode() writes, and what the reader
 * found (its pointers then point into the reader's window, valid until
 * its next call).  Names are not NUL-terminated.
 */
struct segment_record {
	int64_t		 time;		/* ns since the epoch, when appended */
	uint32_t	 npoints;
	const char	*database;
	size_t		 dblen;
	const char	*rp;
	size_t		 rplen;
	const char	*points;	/* each point ends in '\n' */
	size_t		 len;
};

/* What the file header says. */
enum segment_header {
	SEGMENT_HEADER_OK,
	SEGMENT_HEADER_BAD,	/* short, damaged, or another sequence */
	SEGMENT_HEADER_NEWER,	/* intact, of a version this code lacks */
};

/* What segment_next() found at a position. */
enum segment_step {
	SEGMENT_RECORD,		/* a good record */
	SEGMENT_BAD,		/* bad bytes (one record's worth), skipped */
	SEGMENT_TORN,		/* an incomplete record or damage to the end */
	SEGMENT_END,		/* nothing left */
	SEGMENT_EIO,		/* a read failed (errno) */
};

/* Reads records from a segment file through a read-ahead window. */
struct segment_reader {
	int		 fd;
	uint64_t	 end;		/* bytes that may be read */
	char		*win;
	size_t		 cap;
	uint64_t	 win_off;	/* file offset of win[0] */
	size_t		 win_len;
};

/* The file name of segment `seq`, into `name` (SEGMENT_FILE_LEN + 1). */
void		 segment_name(char *name, uint64_t seq);
/* The sequence number of a segment file name; false if not one. */
bool		 segment_name_parse(const char *name, uint64_t *seq);

/* Bytes of a record with these body parts, header included. */
size_t		 segment_record_size(size_t dblen, size_t rplen, size_t len);
/*
 * True if `rec` may be written: names of at most SEGMENT_NAME_MAX bytes
 * without NUL, at least one point, points ending in '\n' with at least
 * `npoints` newlines, a body of at most SEGMENT_RECORD_MAX bytes.
 */
bool		 segment_record_valid(const struct segment_record *);
/* Encodes a valid `rec` at `out` (segment_record_size() bytes). */
void		 segment_record_encode(char *out,
		    const struct segment_record *rec);
/* Encodes the file header of segment `seq` (SEGMENT_HEADER_SIZE bytes). */
void		 segment_header_encode(char *out, uint64_t seq);
/* Checks the `len` first bytes of the file of segment `seq`. */
enum segment_header segment_header_check(const char *buf, size_t len,
		    uint64_t seq);

/*
 * Creates the file of segment `seq` in `dirfd` (mode 0600) with its
 * header written; its fd, or -1 (errno) with no file left behind.
 */
int		 segment_create(int dirfd, uint64_t seq);
/* Opens the file of segment `seq` with `flags` (O_CLOEXEC added). */
int		 segment_open(int dirfd, uint64_t seq, int flags);
/* Removes the file of segment `seq`; 0 if it was not there either. */
int		 segment_unlink(int dirfd, uint64_t seq);
/*
 * Writes `len` bytes at `off` (the end of the last whole record), going
 * on after short writes.  On failure returns -1 with errno and cuts the
 * file back to `off`; `*whole` says whether that worked, so that the
 * file still ends with a whole record.
 */
int		 segment_write(int fd, uint64_t off, const char *buf,
		    size_t len, bool *whole);

/* A reader of `fd` up to `end`, keeping the window `r` may have. */
void		 segment_reader_reset(struct segment_reader *r, int fd,
		    uint64_t end);
/* Frees the window (not the fd). */
void		 segment_reader_clear(struct segment_reader *);
/*
 * Looks at `pos` (a record's start, or SEGMENT_HEADER_SIZE): fills `rec`
 * for a good record, and says where the next one may start in `*next`.
 * Each step moves forward, so a loop over it ends.
 */
enum segment_step segment_next(struct segment_reader *, uint64_t pos,
		    struct segment_record *rec, uint64_t *next);

#endif
