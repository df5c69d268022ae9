/*
 * The probes of `influx-relayd -t`: what they find in a scratch
 * directory (a missing socket directory, one whose parent is missing, a
 * file in the way, a spool_dir under a file), that they find nothing
 * wrong with a usable layout, and that they never create anything.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "check_main.h"
#include "conf.h"
#include "mem.h"
#include "probe.h"
#include "scratch.h"

/* Files the cases find in the scratch directory. */
static void
layout(const char *dir)
{
	char	 path[256];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/file", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fclose(f);
	snprintf(path, sizeof(path), "%s/run", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
}

static const struct {
	const char	*path;		/* under the scratch directory */
	bool		 problem;
	const char	*want;		/* in the reason */
} sockets[] = {
	{ "/run/relay.sock", false, NULL },
	{ "/relay.sock", false, NULL },
	/* the socket's own directory is created at start */
	{ "/missing/relay.sock", false, NULL },
	{ "/missing/deeper/relay.sock", true, "only the last component" },
	{ "/file", true, "exists and is not a socket" },
	{ "/file/relay.sock", true, "is not a directory" },
	{ "/file/sub/relay.sock", true, "Not a directory" },
};

START_TEST(test_socket)
{
	const char	*dir = scratch_new("check_probe");
	char		 path[256], why[1024] = "";
	struct stat	 before, after;

	layout(dir);
	ck_assert_int_eq(stat(dir, &before), 0);
	snprintf(path, sizeof(path), "%s%s", dir, sockets[_i].path);
	ck_assert_msg(probe_socket(path, why, sizeof(why)) ==
	    sockets[_i].problem, "%s: %s", sockets[_i].path, why);
	if (sockets[_i].want != NULL)
		ck_assert_msg(strstr(why, sockets[_i].want) != NULL, "%s",
		    why);
	/* nothing made: the directory's link count and times unchanged */
	ck_assert_int_eq(stat(dir, &after), 0);
	ck_assert_uint_eq(before.st_nlink, after.st_nlink);
	ck_assert_int_eq(before.st_mtime, after.st_mtime);
	snprintf(path, sizeof(path), "%s/missing", dir);
	ck_assert_int_eq(access(path, F_OK), -1);
	scratch_remove();
}
END_TEST

/* A stale socket file is no problem: the daemon replaces it. */
START_TEST(test_stale_socket)
{
	const char		*dir = scratch_new("check_probe");
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	char			 why[1024] = "";
	int			 fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/s.sock", dir);
	ck_assert_int_ge(fd = socket(AF_UNIX, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	ck_assert_msg(!probe_socket(sun.sun_path, why, sizeof(why)), "%s",
	    why);
	scratch_remove();
}
END_TEST

/* A directory the process cannot write into (not as root: root can). */
START_TEST(test_unwritable)
{
	const char	*dir;
	char		 path[256], why[1024] = "";

	if (geteuid() == 0)
		return;
	dir = scratch_new("check_probe");
	snprintf(path, sizeof(path), "%s/ro", dir);
	ck_assert_int_eq(mkdir(path, 0555), 0);
	ck_assert(probe_dir(path, why, sizeof(why)));
	ck_assert_msg(strstr(why, "cannot write in") != NULL, "%s", why);
	snprintf(path, sizeof(path), "%s/ro/x", dir);
	ck_assert(probe_dir(path, why, sizeof(why)));
	ck_assert_msg(strstr(why, "cannot be created") != NULL, "%s", why);
	snprintf(path, sizeof(path), "%s/ro", dir);
	chmod(path, 0755);
	scratch_remove();
}
END_TEST

/*
 * A whole configuration: one warning per problem, with the file, the
 * line of the section and its name; a spool_dir only if a target spools.
 */
START_TEST(test_conf)
{
	const char		*dir = scratch_new("check_probe");
	struct conf_errors	 errs = { 0 }, w = { 0 };
	struct conf		*conf;
	char			*text, want[512];

	layout(dir);
	text = xasprintf("[relayd]\nspool_dir = %s/file/spool\n"
	    "control_socket = %s/run/control.sock\n"
	    "[listener:ok]\npath = %s/new/ok.sock\ntarget = t\n"
	    "[listener:bad]\npath = %s/a/b/bad.sock\ntarget = t\n"
	    "[target:t]\ndatabase = d\n", dir, dir, dir, dir);
	conf = conf_load_string(text, "t.ini", &errs);
	ck_assert_msg(conf != NULL, "%s", errs.count ? errs.msgs[0] : "");
	ck_assert_uint_eq(probe_conf(conf, &w), 2);
	snprintf(want, sizeof(want), "t.ini:7: warning: [listener:bad] the "
	    "daemon would not start: directory %s/a/b does not exist, nor "
	    "does %s/a", dir, dir);
	ck_assert_msg(strncmp(w.msgs[0], want, strlen(want)) == 0, "%s",
	    w.msgs[0]);
	ck_assert_msg(strncmp(w.msgs[1], "t.ini: warning: [relayd] spool_dir: "
	    "directory ", 35) == 0, "%s", w.msgs[1]);
	ck_assert_msg(strstr(w.msgs[1], "memory only") != NULL, "%s",
	    w.msgs[1]);
	conf_errors_clear(&w);
	conf_free(conf);
	free(text);
	/* spool = false everywhere: spool_dir is not used, nor looked at */
	text = xasprintf("[relayd]\nspool_dir = %s/file/spool\n"
	    "[listener:ok]\npath = %s/ok.sock\n[target:t]\ndatabase = d\n"
	    "spool = false\n", dir, dir);
	conf = conf_load_string(text, "t.ini", &errs);
	ck_assert_ptr_nonnull(conf);
	ck_assert_uint_eq(probe_conf(conf, &w), 0);
	conf_free(conf);
	free(text);
	scratch_remove();
}
END_TEST

static Suite *
probe_suite(void)
{
	Suite	*s = suite_create("probe");
	TCase	*tc = tcase_create("probe");

	tcase_add_loop_test(tc, test_socket, 0,
	    sizeof(sockets) / sizeof(sockets[0]));
	tcase_add_test(tc, test_stale_socket);
	tcase_add_test(tc, test_unwritable);
	tcase_add_test(tc, test_conf);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(probe_suite)
