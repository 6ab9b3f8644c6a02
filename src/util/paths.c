/* The state directory. It is created 0700 and checked (a directory, ours, not writable by
 * others) before anything is written in it, so another user cannot plant files there. */
#include "util/paths.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int paths_home(char *buf, size_t size, struct sk_err *err)
{
	const char *env = getenv("STOCKADE_HOME");
	const char *xdg = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");
	int n;

	if (env && env[0] == '/')
		n = snprintf(buf, size, "%s", env);
	else if (geteuid() == 0)
		n = snprintf(buf, size, "/var/lib/stockade");
	else if (xdg && xdg[0] == '/')
		n = snprintf(buf, size, "%s/stockade", xdg);
	else if (home && home[0] == '/')
		n = snprintf(buf, size, "%s/.local/share/stockade", home);
	else
		return sk_fail(err, "state", 0, "set STOCKADE_HOME or HOME",
			       "no directory for stockade's state");
	if (n < 0 || (size_t)n >= size)
		return sk_fail(err, "state", ENAMETOOLONG, NULL, "state directory path");
	return 0;
}

/* mkdir -p with mode 0700 for what it creates. */
static int make_dirs(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int rc = mkdir(path, 0700);
		*p = '/';
		if (rc < 0 && errno != EEXIST)
			return -1;
	}
	return mkdir(path, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

int paths_ensure_home(char *buf, size_t size, struct sk_err *err)
{
	struct stat st;

	if (paths_home(buf, size, err) < 0)
		return -1;
	if (lstat(buf, &st) < 0) {
		if (errno != ENOENT || make_dirs(buf) < 0 || lstat(buf, &st) < 0)
			return sk_fail(err, "state", errno,
				       "set STOCKADE_HOME to a writable directory", "create %s",
				       buf);
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
		return sk_fail(err, "state", EPERM,
			       "it must be a directory owned by you and writable by nobody else",
			       "refusing state directory %s", buf);
	return 0;
}

int paths_serve_socket(char *buf, size_t size, struct sk_err *err)
{
	const char *runtime = getenv("XDG_RUNTIME_DIR");
	int n;

	if (geteuid() == 0)
		n = snprintf(buf, size, "/run/stockade/stockade.sock");
	else if (!runtime || runtime[0] != '/')
		return sk_fail(err, "cli", 0, "give --socket PATH",
			       "XDG_RUNTIME_DIR is not set: no default socket for this user");
	else
		n = snprintf(buf, size, "%s/stockade.sock", runtime);
	if (n < 0 || (size_t)n >= size)
		return sk_fail(err, "cli", ENAMETOOLONG, "give --socket PATH", "XDG_RUNTIME_DIR");
	return 0;
}
