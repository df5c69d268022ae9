/*
 * A scratch directory for the tests that write files (the spool and the
 * store): made fresh for each test, removed with all it holds after.
 */
#ifndef RELAYD_SCRATCH_H
#define RELAYD_SCRATCH_H

/* Makes /tmp/NAME.XXXXXX; returns its path (static storage). */
const char	*scratch_new(const char *name);
/* Removes the directory scratch_new() made, and everything in it. */
void		 scratch_remove(void);
/*
 * Limits the size of files this process writes to `limit` bytes, with
 * SIGXFSZ ignored, so a write past it fails with EFBIG as a full disk
 * fails with ENOSPC.  No ck_assert() until scratch_unlimit_files():
 * Check writes files of its own.
 */
void		 scratch_limit_files(unsigned long limit);
/* Lifts scratch_limit_files(); keeps errno. */
void		 scratch_unlimit_files(void);

#endif
