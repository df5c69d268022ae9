/* Scratch directories for file-writing tests. */
#include "config.h"

#include <sys/stat.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

#include <check.h>

#include "scratch.h"

static char	 scratch_dir[64];

const char *
scratch_new(const char *name)
{
	snprintf(scratch_dir, sizeof(scratch_dir), "/tmp/%s.XXXXXX", name);
	ck_assert_ptr_nonnull(mkdtemp(scratch_dir));
	return scratch_dir;
}

static int
scratch_rm_cb(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	return remove(path);
}

void
scratch_remove(void)
{
	ck_assert_int_eq(nftw(scratch_dir, scratch_rm_cb, 16,
	    FTW_DEPTH | FTW_PHYS), 0);
}
