/*
 * Binding UNIX socket files safely, creating the socket's own directory
 * when it is missing (/run is emptied at every boot).
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "sock.h"

/* Does a process own the socket at `sun`?  Tells stale from live files. */
static bool
sock_in_use(const struct sockaddr_un *sun, int type)
{
	int	 fd, rc;

	if ((fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0)) == -1)
		return false;
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	/* a socket file of the other type answers EPROTOTYPE: not ours */
	return rc == 0 || errno == EPROTOTYPE;
}

/* Removes a stale socket file; -1 if the path is live or not a socket. */
static int
sock_clear_path(const struct sockaddr_un *sun, int type, char *err,
    size_t errlen)
{
	struct stat	 st;

	if (lstat(sun->sun_path, &st) == -1)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket",
		    sun->sun_path);
		return -1;
	}
	if (sock_in_use(sun, type)) {
		snprintf(err, errlen, "%s is in use by another process",
		    sun->sun_path);
		return -1;
	}
	if (unlink(sun->sun_path) == -1) {
		snprintf(err, errlen, "cannot remove stale %s: %s",
		    sun->sun_path, strerror(errno));
		return -1;
	}
	log_info("replaced stale socket %s", sun->sun_path);
	return 0;
}

/*
 * Creates the directory that holds `path` if it is missing, mode 0755
 * whatever the umask, as systemd's RuntimeDirectory= would.  Only that
 * last component: its parent must exist, so a typo in a path fails at
 * once instead of scattering directories.
 */
static int
sock_make_dir(const char *path, char *err, size_t errlen)
{
	char		 dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char	*slash = strrchr(path, '/');
	struct stat	 st;

	if (slash == NULL || slash == path)
		return 0;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (stat(dir, &st) == 0 || errno != ENOENT)
		return 0;	/* bind() tells what else is wrong */
	if (mkdir(dir, 0755) == -1) {
		if (errno == EEXIST)
			return 0;
		snprintf(err, errlen, "%s: cannot create directory %s: %s%s",
		    path, dir, strerror(errno), errno == ENOENT ? " (only the "
		    "socket's own directory is created, not its parents)" : "");
		return -1;
	}
	if (chmod(dir, 0755) == -1)
		log_warn("chmod %s", dir);
	log_info("created directory %s", dir);
	return 0;
}

int
sock_bind_unix(const char *path, int type, mode_t mode, char *err,
    size_t errlen)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	mode_t			 old;
	int			 fd, rc;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%s: path too long for a socket", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if (sock_make_dir(path, err, errlen) == -1 ||
	    sock_clear_path(&sun, type, err, errlen) == -1)
		return -1;
	if ((fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* no window in which the socket is more open than `mode` */
	old = umask(0177);
	rc = bind(fd, (const struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc == -1 || chmod(path, mode) == -1 ||
	    (type == SOCK_STREAM && listen(fd, 128) == -1)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (rc == 0)
			unlink(path);
		close(fd);
		return -1;
	}
	return fd;
}
