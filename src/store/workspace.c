/* Workspaces: the checks a project directory passes, and the workspace's record (ws.json). */
#define _GNU_SOURCE
#include "store/workspace.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "store/safepath.h"
#include "store/volume.h"
#include "util/macros.h"

int workspace_check_name(const char *name)
{
	return strlen(name) <= WORKSPACE_NAME_MAX ? volume_check_name(name) : -1;
}

static bool is_under(const char *path, const char *tree);

int workspace_check_spec(const struct sandbox_spec *spec, struct sk_err *err)
{
	const struct sandbox_workspace *ws = &spec->workspace;
	const char *problem;

	if (!ws->is_set) {
		const char *flag = ws->name			 ? "--workspace-name"
				   : ws->is_copy		 ? "--workspace-copy"
				   : ws->should_apply_on_success ? "--apply-on-success"
								 : NULL;
		if (flag)
			return sk_fail(err, "cli", 0, "add --workspace DIR", "%s needs --workspace",
				       flag);
		return 0;
	}
	if (ws->dir[0] == '\0')
		return sk_fail(err, "cli", 0, "--workspace DIR[:/GUEST]",
			       "--workspace names no directory");
	problem = volume_guest_problem(ws->guest);
	if (problem)
		return sk_fail(err, "cli", 0, NULL, "invalid --workspace guest path '%.200s': %s",
			       ws->guest, problem);
	if (ws->name && workspace_check_name(ws->name) < 0)
		return sk_fail(err, "cli", 0, "[A-Za-z0-9][A-Za-z0-9_.-]*, at most 61 characters",
			       "invalid --workspace-name '%.64s'", ws->name);
	for (size_t i = 0; i < spec->volume_count; i++)
		if (is_under(spec->volumes[i].guest, ws->guest) ||
		    is_under(ws->guest, spec->volumes[i].guest))
			return sk_fail(err, "cli", 0, "use separate guest paths",
				       "the workspace at %s and the volume at %s overlap",
				       ws->guest, spec->volumes[i].guest);
	return 0;
}

static bool is_under(const char *path, const char *tree)
{
	size_t len = strlen(tree);

	if (strcmp(tree, "/") == 0)
		return true;
	return strncmp(path, tree, len) == 0 && (path[len] == '\0' || path[len] == '/');
}

/* Trees a workspace may not be, nor lie in: the system's and the kernel's. */
static const char *const system_trees[] = {"/usr",   "/etc",   "/proc",	  "/sys",  "/dev",
					   "/boot",  "/var",   "/bin",	  "/sbin", "/lib",
					   "/lib32", "/lib64", "/libx32", "/run"};
/* Directories a workspace may not be (it may lie below them): too wide to be one project. */
static const char *const too_wide[] = {"/",    "/home",	 "/tmp", "/var/tmp", "/root",
				       "/mnt", "/media", "/srv", "/opt"};

static int refuse(struct sk_err *err, const char *path, const char *why, const char *hint)
{
	return sk_fail(err, "workspace", 0, hint, "workspace '%.200s': %s", path, why);
}

/* The home directory /etc/passwd gives uid, into buf ("" if none). Read by hand: the binary
 * is static, and glibc's getpwuid would load NSS modules at run time. */
static void passwd_home(uid_t uid, char *buf, size_t size)
{
	FILE *f = fopen("/etc/passwd", "re");
	char *line = NULL;
	size_t cap = 0;

	buf[0] = '\0';
	while (f && getline(&line, &cap, f) > 0) {
		char *fields[7], *p = line;
		size_t n = 0;

		line[strcspn(line, "\n")] = '\0';
		/* strsep keeps empty fields (a passwd line may have an empty gecos). */
		while (n < 7 && (fields[n] = strsep(&p, ":")))
			n++;
		if (n == 7 && strtoul(fields[2], NULL, 10) == uid && fields[5][0] == '/') {
			snprintf(buf, size, "%s", fields[5]);
			break;
		}
	}
	free(line);
	if (f)
		fclose(f);
}

/* Is path the caller's home directory ($HOME, or the passwd entry's), after resolution? */
static bool is_home(const char *path)
{
	char pw_home[PATH_MAX], real[PATH_MAX];
	const char *candidates[2] = {getenv("HOME"), pw_home};

	passwd_home(getuid(), pw_home, sizeof(pw_home));
	for (size_t i = 0; i < ARRAY_SIZE(candidates); i++)
		if (candidates[i] && candidates[i][0] == '/' && realpath(candidates[i], real) &&
		    strcmp(real, path) == 0)
			return true;
	return false;
}

int workspace_open_dir(const char *path, const char *store_home, char *canonical,
		       size_t canonical_size, struct stat *st, struct sk_err *err)
{
	char link[64], real[PATH_MAX], store_real[PATH_MAX];
	struct stat lst;
	ssize_t len;
	int fd;

	if (path[0] == '\0')
		return refuse(err, path, "the path is empty", NULL);
	/* The last component may not be a symlink: the caller names the directory itself. Its
	 * parents are the caller's own path to it and are resolved. */
	if (lstat(path, &lst) < 0)
		return sk_fail(err, "workspace", errno, NULL, "workspace '%.200s'", path);
	if (S_ISLNK(lst.st_mode))
		return refuse(err, path, "is a symbolic link",
			      "name the directory it points to, if that is the project");
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return sk_fail(err, "workspace", errno,
			       errno == ENOTDIR ? "a workspace is a directory" : NULL,
			       "workspace '%.200s'", path);
	/* From here on, the path is the one the kernel has for what we opened: a parent
	 * swapped after lstat cannot make us check one directory and use another. */
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	len = readlink(link, real, sizeof(real) - 1);
	if (len <= 0 || real[0] != '/') {
		close(fd);
		return sk_fail(err, "workspace", len < 0 ? errno : ENOENT, "is /proc mounted?",
			       "workspace '%.200s': cannot find its path", path);
	}
	real[len] = '\0';
	if (fstat(fd, st) < 0) {
		close(fd);
		return sk_fail(err, "workspace", errno, NULL, "fstat %.200s", real);
	}
	const char *why = NULL, *hint = NULL;
	for (size_t i = 0; !why && i < ARRAY_SIZE(too_wide); i++)
		if (strcmp(real, too_wide[i]) == 0)
			why = "is too wide to be one project",
			hint = "name the project's directory";
	/* /var/tmp is scratch space like /tmp, not the system's: a project may live there. */
	for (size_t i = 0; !why && i < ARRAY_SIZE(system_trees); i++)
		if (is_under(real, system_trees[i]) && !is_under(real, "/var/tmp"))
			why = "is in the system tree";
	if (!why && is_home(real))
		why = "is your whole home directory", hint = "name the project's directory";
	if (!why && st->st_uid != getuid() && st->st_uid != 0)
		why = "is owned by someone else (a workspace is the caller's or root's)";
	/* The store may be neither inside the project (the sandbox would read every volume
	 * through the lower layer) nor around it. */
	if (!why && store_home && realpath(store_home, store_real) &&
	    (is_under(real, store_real) || is_under(store_real, real)))
		why = "contains or is inside stockade's home",
		hint = "move STOCKADE_HOME elsewhere";
	if (why) {
		close(fd);
		return refuse(err, real, why, hint);
	}
	if (strlen(real) >= canonical_size) {
		close(fd);
		return refuse(err, real, "the path is too long", NULL);
	}
	memcpy(canonical, real, (size_t)len + 1);
	return fd;
}

int workspace_meta_write(int vol_fd, const struct workspace_meta *meta, struct sk_err *err)
{
	static const char tmp[] = WORKSPACE_META ".new";
	json_t *doc =
	    json_pack("{s:i, s:s, s:I, s:I, s:s, s:I, s:I, s:b}", "version", 1, "dir", meta->dir,
		      "dev", (json_int_t)meta->dev, "ino", (json_int_t)meta->ino, "guest",
		      meta->guest, "started_sec", (json_int_t)meta->started_sec, "started_nsec",
		      (json_int_t)meta->started_nsec, "copy", meta->is_copy);
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	int fd = -1, rc = -1;

	json_decref(doc);
	if (!text)
		return sk_fail(err, "workspace", ENOMEM, NULL, "writing %s", WORKSPACE_META);
	(void)unlinkat(vol_fd, tmp, 0);
	fd = openat(vol_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	size_t n = strlen(text);
	if (fd >= 0 && write(fd, text, n) == (ssize_t)n && fsync(fd) == 0 &&
	    renameat(vol_fd, tmp, vol_fd, WORKSPACE_META) == 0)
		rc = 0;
	else
		sk_fail(err, "workspace", errno ? errno : EIO, NULL, "writing %s", WORKSPACE_META);
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		(void)unlinkat(vol_fd, tmp, 0);
	free(text);
	return rc;
}

int workspace_meta_read(int vol_fd, struct workspace_meta *meta, struct sk_err *err)
{
	char buf[8192];
	struct stat st;
	json_error_t jerr;
	json_t *doc = NULL;
	const char *dir = NULL, *guest = NULL;
	json_int_t dev = 0, ino = 0, sec = 0, nsec = 0;
	int version = 0, is_copy = 0, fd, rc = -1;
	ssize_t len = -1;

	memset(meta, 0, sizeof(*meta));
	fd = openat(vol_fd, WORKSPACE_META, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return sk_fail(err, "workspace", errno,
			       errno == ENOENT ? "is this volume a workspace?" : NULL, "open %s",
			       WORKSPACE_META);
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid())
		len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len > 0) {
		buf[len] = '\0';
		doc = json_loads(buf, 0, &jerr);
	}
	if (doc &&
	    json_unpack(doc, "{s:i, s:s, s:I, s:I, s:s, s:I, s:I, s:b}", "version", &version, "dir",
			&dir, "dev", &dev, "ino", &ino, "guest", &guest, "started_sec", &sec,
			"started_nsec", &nsec, "copy", &is_copy) == 0 &&
	    version == 1 && dir[0] == '/' && strlen(dir) < sizeof(meta->dir) && guest[0] == '/' &&
	    strlen(guest) < sizeof(meta->guest)) {
		strcpy(meta->dir, dir);
		strcpy(meta->guest, guest);
		meta->dev = (dev_t)dev;
		meta->ino = (ino_t)ino;
		meta->started_sec = sec;
		meta->started_nsec = (long)nsec;
		meta->is_copy = is_copy;
		rc = 0;
	} else {
		sk_fail(err, "workspace", EINVAL, NULL, "%s is not a workspace record",
			WORKSPACE_META);
	}
	json_decref(doc);
	return rc;
}

/* ---- run --workspace ---- */

/* The default name: the directory's last component, with what a volume name may not hold
 * made '-' ("my project" -> "my-project"), shortened to fit. */
static void default_name(const char *path, char *name, size_t size)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t n = 0;

	for (; *base && n + 1 < size && n < WORKSPACE_NAME_MAX; base++) {
		char c = *base;
		bool is_alnum =
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		name[n] = is_alnum || (n > 0 && (c == '_' || c == '.' || c == '-')) ? c : '-';
		n++;
	}
	name[n] = '\0';
	if (n == 0 || name[0] == '-') { /* "/" cannot be a workspace; a name like ".x" can */
		char copy[WORKSPACE_NAME_MAX + 1];
		sk_strlcpy(copy, name, sizeof(copy));
		snprintf(name, size, "ws%.50s", copy);
	}
}

/* A new workspace's upper/ (the merged root takes its mode: the project's, without set-id
 * bits) and work/, owned by the sandbox's host uid like the volume. */
static int make_layers(struct volume_store *store, int vol_fd, mode_t mode, struct sk_err *err)
{
	static const char *const names[] = {WORKSPACE_UPPER, WORKSPACE_WORK};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		int fd;

		if (mkdirat(vol_fd, names[i], 0700) < 0 && errno != EEXIST)
			return sk_fail(err, "workspace", errno, NULL, "mkdir %s", names[i]);
		fd = openat(vol_fd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fchmod(fd, i == 0 ? (mode & 0777) | 0700 : 0700) < 0 ||
		    (geteuid() == 0 && fchown(fd, store->owner_uid, store->owner_gid) < 0)) {
			int e = errno;
			if (fd >= 0)
				close(fd);
			return sk_fail(err, "workspace", e, NULL, "prepare %s", names[i]);
		}
		close(fd);
	}
	return 0;
}

/* --workspace-copy, first use: the project into upper/, as `volume import` copies (links kept:
 * they resolve inside the sandbox; owned by the sandbox's host uid as root). */
static int copy_project(struct volume_store *store, struct workspace_run *run, struct sk_err *err)
{
	struct safepath_copy_opts opts = {
	    .chown_uid = geteuid() == 0 ? store->owner_uid : (uid_t)-1,
	    .chown_gid = geteuid() == 0 ? store->owner_gid : (gid_t)-1,
	    .links = SAFEPATH_LINKS_KEEP,
	};
	struct safepath_copy_stats stats;
	int upper = openat(run->handle->dir_fd, WORKSPACE_UPPER,
			   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int rc;

	if (upper < 0)
		return sk_fail(err, "workspace", errno, NULL, "open %s", WORKSPACE_UPPER);
	rc = safepath_copy_tree(run->open.lower_fd, upper, &opts, &stats, err);
	close(upper);
	return rc;
}

static int stamp_now(int vol_fd, struct stat *st, struct sk_err *err)
{
	int fd = openat(vol_fd, WORKSPACE_UPPER, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int rc = -1;

	if (fd >= 0 && fstat(fd, st) == 0 && fchmod(fd, st->st_mode & 07777) == 0 &&
	    fstat(fd, st) == 0)
		rc = 0;
	else
		sk_fail(err, "workspace", errno, NULL, "stamp %s", WORKSPACE_UPPER);
	if (fd >= 0)
		close(fd);
	return rc;
}

static int take_record(struct volume_store *store, const struct sandbox_spec *spec,
		       struct workspace_run *run, const struct stat *st, struct sk_err *err)
{
	int vol_fd = run->handle->dir_fd;
	struct stat ust;

	if (!run->handle->is_new) {
		if (workspace_meta_read(vol_fd, &run->meta, err) < 0)
			return -1;
		if (run->meta.dev != st->st_dev || run->meta.ino != st->st_ino)
			return sk_fail(
			    err, "workspace", 0,
			    "give this run another --workspace-name, or apply or discard "
			    "the other one's changes first",
			    "workspace '%s' belongs to %.200s, not to %.200s", run->name,
			    run->meta.dir, run->lower_path);
		if (run->meta.is_copy != spec->workspace.is_copy ||
		    strcmp(run->meta.guest, spec->workspace.guest) != 0)
			return sk_fail(err, "workspace", 0, "discard it, or run as it was made",
				       "workspace '%s' was made %s at %s", run->name,
				       run->meta.is_copy ? "as a copy" : "as an overlay",
				       run->meta.guest);
		return 0;
	}
	memset(&run->meta, 0, sizeof(run->meta));
	if (make_layers(store, vol_fd, st->st_mode, err) < 0)
		return -1;
	/* Before anything reads the project (a copy) or a sandbox sees it: a ctime the kernel
	 * gives upper/ now, not a clock (workspace.h says why). Looked at, then changed again:
	 * with multigrain timestamps a ctime that was looked at gets a fine stamp at its next
	 * change, later than every stamp before it, so an entry the caller made a moment ago is
	 * not taken for a change made since. */
	if (stamp_now(vol_fd, &ust, err) < 0)
		return -1;
	run->meta.started_sec = ust.st_ctim.tv_sec;
	run->meta.started_nsec = ust.st_ctim.tv_nsec;
	if (spec->workspace.is_copy && copy_project(store, run, err) < 0)
		return -1;
	sk_strlcpy(run->meta.dir, run->lower_path, sizeof(run->meta.dir));
	sk_strlcpy(run->meta.guest, spec->workspace.guest, sizeof(run->meta.guest));
	run->meta.dev = st->st_dev;
	run->meta.ino = st->st_ino;
	run->meta.is_copy = spec->workspace.is_copy;
	return workspace_meta_write(vol_fd, &run->meta, err);
}

/* A copy is mounted as a volume whose directory is upper/: the engine re-opens it as a user
 * beneath its parent, the workspace volume. */
static int open_copy(struct volume_store *store, struct workspace_run *run, const char *volume,
		     struct sk_err *err)
{
	run->copy_fd = safepath_open_dir(run->handle->dir_fd, WORKSPACE_UPPER, store->owner_uid,
					 O_RDONLY, err);
	if (run->copy_fd < 0) {
		workspace_run_release(store, run, false);
		return -1;
	}
	snprintf(run->copy_root, sizeof(run->copy_root), "%.3900s/%s",
		 store->root_path[VOLUME_NAMED], volume);
	sk_strlcpy(run->open.volume.name, WORKSPACE_UPPER, sizeof(run->open.volume.name));
	run->open.volume.dir_fd = run->copy_fd;
	run->open.volume.host_root = run->copy_root;
	return 0;
}

int workspace_run_acquire(struct volume_store *store, const struct sandbox_spec *spec,
			  int expected_fd, struct workspace_run *run, struct sk_err *err)
{
	char volume[SANDBOX_VOLUME_NAME_MAX + 1];
	struct stat st;
	int lower;

	memset(run, 0, sizeof(*run));
	run->lock_fd = run->copy_fd = run->open.lower_fd = run->open.volume.dir_fd = -1;
	lower = workspace_open_dir(spec->workspace.dir, store->home, run->lower_path,
				   sizeof(run->lower_path), &st, err);
	if (lower < 0)
		return -1;
	struct stat expected;
	if (expected_fd >= 3 && (fstat(expected_fd, &expected) < 0 ||
				 expected.st_dev != st.st_dev || expected.st_ino != st.st_ino)) {
		close(lower);
		return sk_fail(err, "workspace", 0,
			       "a directory on its path was replaced: make the request again",
			       "workspace '%.200s' is not the directory that was checked",
			       run->lower_path);
	}
	if (spec->workspace.name)
		sk_strlcpy(run->name, spec->workspace.name, sizeof(run->name));
	else
		default_name(run->lower_path, run->name, sizeof(run->name));
	snprintf(volume, sizeof(volume), WORKSPACE_VOLUME_PREFIX "%s", run->name);
	run->handle = calloc(1, sizeof(*run->handle));
	if (!run->handle) {
		close(lower);
		return sk_fail(err, "workspace", ENOMEM, NULL, "workspace %s", run->name);
	}
	if (volume_acquire(store, VOLUME_NAMED, volume, true, run->handle, err) < 0) {
		free(run->handle);
		run->handle = NULL;
		close(lower);
		return -1;
	}
	/* One sandbox at a time: two overlays over one upper layer are undefined. The lock is
	 * on the volume directory, apart from the volume's own lock (which apply and discard
	 * take exclusively, so they wait for no run and no run for them). */
	run->lock_fd = openat(run->handle->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (run->lock_fd < 0 || flock(run->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		sk_fail(err, "workspace", errno == EWOULDBLOCK ? 0 : errno,
			"wait for it to end, or give this run another --workspace-name",
			"workspace '%s' is in use by another sandbox", run->name);
		run->open.lower_fd = lower;
		workspace_run_release(store, run, false);
		return -1;
	}
	run->open.lower_fd = lower;
	if (take_record(store, spec, run, &st, err) < 0) {
		workspace_run_release(store, run, false);
		return -1;
	}
	run->open.lower_path = run->lower_path;
	if (spec->workspace.is_copy)
		return open_copy(store, run, volume, err);
	sk_strlcpy(run->open.volume.name, volume, sizeof(run->open.volume.name));
	run->open.volume.dir_fd = run->handle->dir_fd;
	run->open.volume.host_root = store->root_path[VOLUME_NAMED];
	return 0;
}

void workspace_run_release(struct volume_store *store, struct workspace_run *run, bool has_started)
{
	if (run->open.lower_fd >= 0)
		close(run->open.lower_fd);
	run->open.lower_fd = -1;
	if (run->lock_fd >= 0)
		close(run->lock_fd);
	run->lock_fd = -1;
	if (run->copy_fd >= 0)
		close(run->copy_fd);
	run->copy_fd = -1;
	if (run->handle) {
		volume_release(store, run->handle, run->handle->is_new && !has_started);
		free(run->handle);
		run->handle = NULL;
	}
}
