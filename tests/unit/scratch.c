/* Scratch directories for file-writing tests. */
#include "config.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <check.h>

#include "scratch.h"

static char	 scratch_dir[64];
static struct rlimit scratch_old;
static void	(*scratch_was)(int);
static int	 scratch_set;

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

void
scratch_limit_files(unsigned long limit)
{
	struct rlimit	 lim;

	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &scratch_old), 0);
	lim = scratch_old;
	lim.rlim_cur = (rlim_t)limit;
	scratch_was = signal(SIGXFSZ, SIG_IGN);
	scratch_set = setrlimit(RLIMIT_FSIZE, &lim);
}

void
scratch_unlimit_files(void)
{
	int	 saved = errno;

	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &scratch_old), 0);
	signal(SIGXFSZ, scratch_was);
	ck_assert_int_eq(scratch_set, 0);
	errno = saved;
}
