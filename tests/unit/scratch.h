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

#endif
