/* Managed volumes: the -v grammar (parsed and validated for every -v before anything exists),
 * and the store under $STOCKADE_HOME/volumes: create, acquire for a run, list, remove, prune.
 * Host-side work inside a volume goes through safepath.c, never through a path string. */
#define _GNU_SOURCE
#include "store/volume.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/quota.h"
#include "spec/identity.h"
#include "store/safepath.h"
#include "util/paths.h"
#include "util/macros.h"

static const char *const kind_dirs[2] = {"named", "anonymous"};

/* ---- phase 1: the grammar ---- */

/* Guest paths a volume may not cover: the system tree (spec.h), /etc, the kernel's file
 * systems, stockade's own, and /home (it would hide $HOME's tmpfs). A volume below them is
 * refused too. */
static const char *const system_dirs[] = {SANDBOX_SYSTEM_DIRS};
static const char *const forbidden_trees[] = {"/etc", "/proc", "/dev", "/sys", "/run/stockade"};
static const char *const forbidden_exact[] = {"/", "/home", "/run"};

/* ws-NAME holds workspace NAME's record and layers (store/workspace.h): mounted whole, a
 * sandbox could rewrite the record apply trusts (its start, its directory) or forge overlay
 * marks. Only the overlay's view of it reaches a sandbox. */
static bool is_workspace_volume(const char *name)
{
	return strncmp(name, "ws-", 3) == 0;
}

static int refuse(struct sk_err *err, const char *text, const char *reason, const char *hint)
{
	return sk_fail(err, "cli", 0, hint, "invalid -v '%.120s': %s", text, reason);
}

int volume_check_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > SANDBOX_VOLUME_NAME_MAX)
		return -1;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		bool is_alnum =
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!is_alnum && (i == 0 || (c != '-' && c != '_' && c != '.')))
			return -1;
	}
	return 0;
}

static bool is_under(const char *path, const char *tree)
{
	size_t len = strlen(tree);

	return strncmp(path, tree, len) == 0 && (path[len] == '\0' || path[len] == '/');
}

/* Absolute, normalized (no empty, "." or ".." component, no trailing '/'), printable, and
 * outside the system tree. */
const char *volume_guest_problem(const char *guest)
{
	const char *p;

	if (guest[0] != '/')
		return "the guest path must be absolute";
	if (strlen(guest) > SANDBOX_GUEST_PATH_MAX)
		return "the guest path is too long";
	for (p = guest; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == ',')
			return "the guest path has a control character or ','";
	for (p = guest; *p; p++) {
		if (*p != '/')
			continue;
		if (p[1] == '/' || (p[1] == '\0' && p != guest))
			return "the guest path has an empty component or a trailing '/'";
		if (p[1] == '.' && (p[2] == '/' || p[2] == '\0'))
			return "the guest path has a '.' component";
		if (p[1] == '.' && p[2] == '.' && (p[3] == '/' || p[3] == '\0'))
			return "the guest path has a '..' component";
	}
	for (size_t i = 0; i < ARRAY_SIZE(forbidden_exact); i++)
		if (strcmp(guest, forbidden_exact[i]) == 0)
			return "a volume cannot cover that directory";
	for (size_t i = 0; i < ARRAY_SIZE(system_dirs); i++)
		if (is_under(guest + 1, system_dirs[i]))
			return "a volume cannot go over the system tree (/usr, /etc, /proc, /dev, "
			       "...)";
	for (size_t i = 0; i < ARRAY_SIZE(forbidden_trees); i++)
		if (is_under(guest, forbidden_trees[i]))
			return "a volume cannot go over the system tree (/usr, /etc, /proc, /dev, "
			       "...)";
	return NULL;
}

static bool looks_like_host_path(const char *source)
{
	return source[0] == '/' || source[0] == '.' || source[0] == '~' || strchr(source, '/');
}

static int parse_option(const char *text, const char *option, struct sandbox_volume *vol,
			struct sk_err *err)
{
	if (strcmp(option, "ro") == 0)
		vol->is_readonly = true;
	else if (strcmp(option, "rw") != 0)
		return refuse(err, text, "unknown option (ro or rw)", NULL);
	return 0;
}

static int parse_source(const char *text, const char *source, const char *guest,
			struct sandbox_volume *vol, struct sk_err *err)
{
	char hint[256];

	if (looks_like_host_path(source)) {
		snprintf(hint, sizeof(hint),
			 "copy it into a volume: stockade volume import NAME %.80s, then -v "
			 "NAME:%.80s",
			 source, guest);
		return refuse(err, text, "host paths cannot be mounted", hint);
	}
	if (volume_check_name(source) < 0)
		return refuse(err, text, "bad volume name",
			      "a name is 1-64 of A-Z a-z 0-9 _ . -, starting with a letter or "
			      "digit");
	sk_strlcpy(vol->name, source, sizeof(vol->name));
	return 0;
}

int volume_parse_spec(const char *text, struct sandbox_volume *vol, struct sk_err *err)
{
	char copy[512], *parts[4];
	const char *guest, *problem;
	size_t count = 0;

	memset(vol, 0, sizeof(*vol));
	if (strlen(text) >= sizeof(copy))
		return refuse(err, text, "too long", NULL);
	sk_strlcpy(copy, text, sizeof(copy));
	for (char *p = copy, *next; p && count < 4; p = next) {
		next = strchr(p, ':');
		if (next)
			*next++ = '\0';
		parts[count++] = p;
	}
	if (count == 4)
		return refuse(err, text, "too many ':'",
			      "-v /guest or -v NAME:/guest, then :ro or :rw");
	/* "/guest" and "/guest:ro" are anonymous; "NAME:/guest[:ro]" and "/host:/guest" are not. */
	bool is_anonymous = count == 1 || (count == 2 && parts[0][0] == '/' && parts[1][0] != '/');
	guest = is_anonymous ? parts[0] : parts[1];
	if (!is_anonymous && parse_source(text, parts[0], guest, vol, err) < 0)
		return -1;
	if (is_anonymous && count == 2 && parse_option(text, parts[1], vol, err) < 0)
		return -1;
	if (!is_anonymous && count == 3 && parse_option(text, parts[2], vol, err) < 0)
		return -1;
	problem = volume_guest_problem(guest);
	if (problem)
		return refuse(err, text, problem,
			      "-v /guest or -v NAME:/guest, e.g. -v work:/work");
	if (!is_anonymous && is_workspace_volume(vol->name))
		return refuse(err, text, "a workspace's volume (its record and layers)",
			      "give the workspace with --workspace DIR --workspace-name NAME");
	vol->is_anonymous = is_anonymous;
	sk_strlcpy(vol->guest, guest, sizeof(vol->guest));
	return 0;
}

/* vol beside the `count` volumes before it: no more than SANDBOX_MAX_VOLUMES, no guest path
 * twice, none inside another. */
static int check_beside(const struct sandbox_volume *before, size_t count,
			const struct sandbox_volume *vol, const char *text, struct sk_err *err)
{
	if (count >= SANDBOX_MAX_VOLUMES)
		return refuse(err, text, "too many volumes",
			      "at most 16 -v per run (each writable one is a Landlock rule)");
	for (size_t i = 0; i < count; i++) {
		const char *other = before[i].guest;
		if (strcmp(other, vol->guest) == 0)
			return refuse(err, text, "the guest path is already used by another -v",
				      NULL);
		if (is_under(other, vol->guest) || is_under(vol->guest, other))
			return refuse(err, text, "one volume cannot be inside another",
				      "use separate guest paths");
	}
	return 0;
}

int volume_add_spec(struct sandbox_spec *spec, const char *text, struct sk_err *err)
{
	struct sandbox_volume vol;

	if (volume_parse_spec(text, &vol, err) < 0 ||
	    check_beside(spec->volumes, spec->volume_count, &vol, text, err) < 0)
		return -1;
	spec->volumes[spec->volume_count++] = vol;
	return 0;
}

int volume_check_list(const struct sandbox_volume *volumes, size_t count, struct sk_err *err)
{
	if (count > SANDBOX_MAX_VOLUMES)
		return refuse(err, "", "too many volumes", NULL);
	for (size_t i = 0; i < count; i++) {
		const struct sandbox_volume *vol = &volumes[i];
		char text[SANDBOX_VOLUME_NAME_MAX + SANDBOX_GUEST_PATH_MAX + 8];
		const char *problem = volume_guest_problem(vol->guest);

		/* The -v it would have been given as, for the message. */
		snprintf(text, sizeof(text), "%s%s%s%s", vol->is_anonymous ? "" : vol->name,
			 vol->is_anonymous ? "" : ":", vol->guest, vol->is_readonly ? ":ro" : "");
		if (problem)
			return refuse(err, text, problem, NULL);
		if (vol->is_anonymous ? vol->name[0] != '\0' : volume_check_name(vol->name) < 0)
			return refuse(err, text, "bad volume name", NULL);
		if (!vol->is_anonymous && is_workspace_volume(vol->name))
			return refuse(err, text, "a workspace's volume (its record and layers)",
				      NULL);
		if (check_beside(volumes, i, vol, text, err) < 0)
			return -1;
	}
	return 0;
}

/* ---- the store ---- */

static int store_fail(struct sk_err *err, int errnum, const char *what, const char *name)
{
	return sk_fail(err, "volume", errnum, NULL, "%s %.80s", what, name);
}

int volume_store_open(struct volume_store *store, struct sk_err *err)
{
	int home_fd, volumes_fd = -1, rc = -1;

	memset(store, 0, sizeof(*store));
	store->root_fd[0] = store->root_fd[1] = store->meta_fd = -1;
	/* Volumes belong to the uid the sandbox user lands on (userns.c decides it). */
	struct identity id;
	if (identity_find(&id, err) < 0)
		return -1;
	store->owner_uid = id.uid;
	store->owner_gid = id.gid;
	if (paths_ensure_home(store->home, sizeof(store->home), err) < 0)
		return -1;
	home_fd = open(store->home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (home_fd < 0)
		return store_fail(err, errno, "open", store->home);
	volumes_fd = safepath_private_dir(home_fd, "volumes", "volume", err);
	if (volumes_fd < 0)
		goto out;
	for (int k = 0; k < 2; k++) {
		store->root_fd[k] = safepath_private_dir(volumes_fd, kind_dirs[k], "volume", err);
		if (store->root_fd[k] < 0)
			goto out;
		snprintf(store->root_path[k], sizeof(store->root_path[k]), "%.3900s/volumes/%s",
			 store->home, kind_dirs[k]);
	}
	store->meta_fd = safepath_private_dir(volumes_fd, "meta", "volume", err);
	rc = store->meta_fd < 0 ? -1 : 0;
out:
	if (volumes_fd >= 0)
		close(volumes_fd);
	close(home_fd);
	if (rc < 0)
		volume_store_close(store);
	return rc;
}

void volume_store_close(struct volume_store *store)
{
	for (int k = 0; k < 2; k++)
		if (store->root_fd[k] >= 0)
			close(store->root_fd[k]);
	if (store->meta_fd >= 0)
		close(store->meta_fd);
	store->root_fd[0] = store->root_fd[1] = store->meta_fd = -1;
}

static void meta_file(char *buf, size_t size, enum volume_kind kind, const char *name)
{
	snprintf(buf, size, "%s.%s", kind_dirs[kind], name);
}

/* Opens and locks the volume's meta file. A file unlinked by rm while we waited for the lock is
 * not the volume's any more: the inode is checked against the name after locking. */
static int meta_lock(struct volume_store *store, enum volume_kind kind, const char *name, int op,
		     bool may_create, struct stat *st, struct sk_err *err)
{
	char file[96];
	struct stat now;

	meta_file(file, sizeof(file), kind, name);
	for (int attempt = 0; attempt < 16; attempt++) {
		int fd = openat(store->meta_fd, file,
				O_RDWR | O_NOFOLLOW | O_CLOEXEC | (may_create ? O_CREAT : 0), 0600);
		if (fd < 0)
			return errno == ENOENT
				   ? sk_fail(err, "volume", ENOENT, "see `stockade volume ls`",
					     "no volume named %s", name)
				   : store_fail(err, errno, "open metadata of", name);
		if (RETRY_EINTR(flock(fd, op)) < 0) {
			int saved = errno;
			close(fd);
			if (saved == EWOULDBLOCK)
				return sk_fail(err, "volume", EBUSY,
					       "wait for the sandbox using it to end",
					       "volume %s is in use", name);
			return store_fail(err, saved, "lock", name);
		}
		if (fstat(fd, st) == 0 &&
		    fstatat(store->meta_fd, file, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
		    now.st_ino == st->st_ino && now.st_dev == st->st_dev)
			return fd;
		close(fd);
	}
	return store_fail(err, EAGAIN, "lock", name);
}

/* The meta file: "created T\nlimit N\n", and "ephemeral 1\n" for an anonymous volume that its
 * run is to remove — if that run is killed, a later run or doctor finds it by this line
 * (volume_sweep_ephemeral), while anonymous volumes kept on purpose (--keep-volumes) stay. */
static void meta_write(int fd, uint64_t limit_bytes, bool is_ephemeral)
{
	char text[112];
	int n = snprintf(text, sizeof(text), "created %lld\nlimit %llu\n%s", (long long)time(NULL),
			 (unsigned long long)limit_bytes, is_ephemeral ? "ephemeral 1\n" : "");

	if (ftruncate(fd, 0) == 0)
		(void)!pwrite(fd, text, (size_t)n, 0);
}

static void meta_read(int fd, struct volume_info *info)
{
	char text[128];
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
	unsigned long long limit = 0;

	if (n <= 0)
		return;
	text[n] = '\0';
	if (sscanf(text, "created %lld\nlimit %llu", &info->created, &limit) == 2)
		info->limit_bytes = limit;
}

/* Creates the volume directory (0700, owned by the sandbox's host uid) if missing. The store
 * directory is ours and nobody else's: the new name cannot be raced. */
static int make_volume_dir(struct volume_store *store, enum volume_kind kind, const char *name,
			   bool *is_new, struct sk_err *err)
{
	int root = store->root_fd[kind];

	*is_new = false;
	if (mkdirat(root, name, 0700) < 0)
		return errno == EEXIST ? 0 : store_fail(err, errno, "create volume", name);
	*is_new = true;
	if (fchownat(root, name, store->owner_uid, store->owner_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fchmodat(root, name, 0700, AT_SYMLINK_NOFOLLOW) < 0) {
		int saved = errno;
		unlinkat(root, name, AT_REMOVEDIR);
		return store_fail(err, saved, "set owner of volume", name);
	}
	return 0;
}

static bool meta_is_ephemeral(int fd)
{
	char text[128];
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);

	if (n <= 0)
		return false;
	text[n] = '\0';
	return strstr(text, "\nephemeral 1\n") != NULL;
}

static int acquire(struct volume_store *store, enum volume_kind kind, const char *name,
		   bool may_create, bool is_ephemeral, int lock_op, struct volume_handle *handle,
		   struct sk_err *err)
{
	struct stat st;

	memset(handle, 0, sizeof(*handle));
	handle->lock_fd = handle->dir_fd = -1;
	handle->kind = kind;
	sk_strlcpy(handle->name, name, sizeof(handle->name));
	if (volume_check_name(name) < 0)
		return sk_fail(err, "volume", EINVAL, NULL, "bad volume name '%.64s'", name);
	handle->lock_fd = meta_lock(store, kind, name, lock_op, may_create, &st, err);
	if (handle->lock_fd < 0)
		return -1;
	/* Written before the directory is made, so no volume of a killed run lacks the mark. */
	if (st.st_size == 0)
		meta_write(handle->lock_fd, 0, is_ephemeral);
	if ((may_create && make_volume_dir(store, kind, name, &handle->is_new, err) < 0) ||
	    (handle->dir_fd = safepath_open_dir(store->root_fd[kind], name, store->owner_uid,
						O_RDONLY, err)) < 0) {
		volume_release(store, handle, handle->is_new);
		return -1;
	}
	(void)futimens(handle->lock_fd, NULL); /* last used */
	return 0;
}

int volume_acquire(struct volume_store *store, enum volume_kind kind, const char *name,
		   bool may_create, struct volume_handle *handle, struct sk_err *err)
{
	return acquire(store, kind, name, may_create, false, LOCK_SH, handle, err);
}

int volume_acquire_exclusive(struct volume_store *store, enum volume_kind kind, const char *name,
			     struct volume_handle *handle, struct sk_err *err)
{
	return acquire(store, kind, name, false, false, LOCK_EX | LOCK_NB, handle, err);
}

/* With the exclusive lock held: the directory (safely), then the meta file. */
static int remove_locked(struct volume_store *store, enum volume_kind kind, const char *name,
			 struct sk_err *err)
{
	char file[96];

	if (safepath_remove_tree(store->root_fd[kind], name, err) < 0)
		return -1;
	meta_file(file, sizeof(file), kind, name);
	if (unlinkat(store->meta_fd, file, 0) < 0 && errno != ENOENT)
		return store_fail(err, errno, "remove metadata of", name);
	return 0;
}

void volume_release(struct volume_store *store, struct volume_handle *handle, bool should_remove)
{
	struct sk_err ignored;

	if (handle->dir_fd >= 0)
		close(handle->dir_fd);
	handle->dir_fd = -1;
	if (handle->lock_fd < 0)
		return;
	/* Another holder (a second -v of the same name, a concurrent run) keeps it. */
	if (should_remove && flock(handle->lock_fd, LOCK_EX | LOCK_NB) == 0)
		(void)remove_locked(store, handle->kind, handle->name, &ignored);
	close(handle->lock_fd);
	handle->lock_fd = -1;
}

int volume_find(struct volume_store *store, const char *name, enum volume_kind *kind,
		struct sk_err *err)
{
	char file[96];
	struct stat st;

	if (volume_check_name(name) < 0)
		return sk_fail(err, "volume", EINVAL, NULL, "bad volume name '%.64s'", name);
	for (int k = 0; k < 2; k++) {
		meta_file(file, sizeof(file), (enum volume_kind)k, name);
		if (fstatat(store->root_fd[k], name, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
		    fstatat(store->meta_fd, file, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			*kind = (enum volume_kind)k;
			return 0;
		}
	}
	return sk_fail(err, "volume", ENOENT, "see `stockade volume ls`", "no volume named %s",
		       name);
}

int volume_create(struct volume_store *store, const char *name, uint64_t limit_bytes,
		  struct sk_err *err)
{
	struct volume_handle handle;
	enum volume_kind kind;
	struct sk_err none;
	int rc = 0;

	if (volume_check_name(name) < 0)
		return sk_fail(
		    err, "cli", 0,
		    "a name is 1-64 of A-Z a-z 0-9 _ . -, starting with a letter or digit",
		    "bad volume name '%.64s'", name);
	memset(&none, 0, sizeof(none));
	if (volume_find(store, name, &kind, &none) == 0)
		return sk_fail(err, "volume", EEXIST, NULL, "volume %s", name);
	if (volume_acquire(store, VOLUME_NAMED, name, true, &handle, err) < 0)
		return -1;
	if (limit_bytes) {
		rc = quota_limit_dir(handle.dir_fd, limit_bytes, err);
		if (rc == 0)
			meta_write(handle.lock_fd, limit_bytes, false);
	}
	volume_release(store, &handle, rc < 0);
	return rc;
}

int volume_remove(struct volume_store *store, const char *name, struct sk_err *err)
{
	enum volume_kind kind;
	struct stat st;
	int fd, rc;

	if (volume_find(store, name, &kind, err) < 0)
		return -1;
	fd = meta_lock(store, kind, name, LOCK_EX | LOCK_NB, true, &st, err);
	if (fd < 0)
		return -1;
	rc = remove_locked(store, kind, name, err);
	close(fd);
	return rc;
}

/* Removes the anonymous volumes no run holds (all, or only those marked ephemeral). */
static int remove_unused_anonymous(struct volume_store *store, bool only_ephemeral,
				   unsigned *removed, struct sk_err *err)
{
	int dir = openat(store->root_fd[VOLUME_ANONYMOUS], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dir >= 0 ? fdopendir(dir) : NULL;
	struct dirent *de;
	struct stat st;
	int rc = 0;

	*removed = 0;
	if (!d)
		return store_fail(err, errno, "read", "volumes/anonymous");
	while (rc == 0 && (de = readdir(d)) != NULL) {
		struct sk_err busy;
		if (volume_check_name(de->d_name) < 0)
			continue;
		int fd = meta_lock(store, VOLUME_ANONYMOUS, de->d_name, LOCK_EX | LOCK_NB, true,
				   &st, &busy);
		if (fd < 0)
			continue; /* in use */
		if (only_ephemeral && !meta_is_ephemeral(fd)) {
			close(fd);
			continue;
		}
		rc = remove_locked(store, VOLUME_ANONYMOUS, de->d_name, err);
		close(fd);
		if (rc == 0)
			(*removed)++;
	}
	closedir(d);
	return rc;
}

int volume_prune(struct volume_store *store, unsigned *removed, struct sk_err *err)
{
	return remove_unused_anonymous(store, false, removed, err);
}

int volume_sweep_ephemeral(struct volume_store *store, unsigned *removed, struct sk_err *err)
{
	return remove_unused_anonymous(store, true, removed, err);
}

static bool probe_in_use(struct volume_store *store, enum volume_kind kind, const char *name)
{
	char file[96];
	int fd;
	bool is_busy;

	meta_file(file, sizeof(file), kind, name);
	fd = openat(store->meta_fd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	is_busy = flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd);
	return is_busy;
}

static void fill_info(struct volume_store *store, enum volume_kind kind, const char *name,
		      struct volume_info *info)
{
	char file[96];
	struct sk_err ignored;
	struct stat st;
	int fd;

	memset(info, 0, sizeof(*info));
	info->kind = kind;
	sk_strlcpy(info->name, name, sizeof(info->name));
	snprintf(info->path, sizeof(info->path), "%.3900s/%s", store->root_path[kind], name);
	meta_file(file, sizeof(file), kind, name);
	fd = openat(store->meta_fd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		meta_read(fd, info);
		if (fstat(fd, &st) == 0)
			info->last_used = (long long)st.st_mtime;
		close(fd);
	}
	info->is_in_use = probe_in_use(store, kind, name);
	fd = safepath_open_dir(store->root_fd[kind], name, store->owner_uid, O_RDONLY, &ignored);
	if (fd >= 0) {
		info->size_bytes = safepath_disk_usage(fd);
		close(fd);
	}
}

int volume_inspect(struct volume_store *store, const char *name, struct volume_info *info,
		   struct sk_err *err)
{
	enum volume_kind kind;

	if (volume_find(store, name, &kind, err) < 0)
		return -1;
	fill_info(store, kind, name, info);
	return 0;
}

static int list_kind(struct volume_store *store, enum volume_kind kind, struct volume_info **infos,
		     size_t *count, struct sk_err *err)
{
	int dir = openat(store->root_fd[kind], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dir >= 0 ? fdopendir(dir) : NULL;
	struct dirent *de;

	if (!d)
		return store_fail(err, errno, "read", kind_dirs[kind]);
	while ((de = readdir(d)) != NULL) {
		if (volume_check_name(de->d_name) < 0)
			continue;
		struct volume_info *grown = realloc(*infos, (*count + 1) * sizeof(**infos));
		if (!grown) {
			closedir(d);
			return store_fail(err, ENOMEM, "list", "volumes");
		}
		*infos = grown;
		fill_info(store, kind, de->d_name, &(*infos)[(*count)++]);
	}
	closedir(d);
	return 0;
}

static int compare_info(const void *a, const void *b)
{
	const struct volume_info *x = a, *y = b;

	if (x->kind != y->kind)
		return (int)x->kind - (int)y->kind;
	return strcmp(x->name, y->name);
}

int volume_list(struct volume_store *store, struct volume_info **infos, size_t *count,
		struct sk_err *err)
{
	*infos = NULL;
	*count = 0;
	if (list_kind(store, VOLUME_NAMED, infos, count, err) < 0 ||
	    list_kind(store, VOLUME_ANONYMOUS, infos, count, err) < 0) {
		free(*infos);
		*infos = NULL;
		return -1;
	}
	if (*count > 1)
		qsort(*infos, *count, sizeof(**infos), compare_info);
	return 0;
}

/* ---- phase 2 for run ---- */

static int anonymous_name(char *buf, size_t size, struct sk_err *err)
{
	unsigned char bytes[8];

	if (getrandom(bytes, sizeof(bytes), 0) != (ssize_t)sizeof(bytes))
		return sk_fail(err, "volume", errno, NULL, "getrandom");
	snprintf(buf, size, "anon-%02x%02x%02x%02x%02x%02x%02x%02x", bytes[0], bytes[1], bytes[2],
		 bytes[3], bytes[4], bytes[5], bytes[6], bytes[7]);
	return 0;
}

/* The first `count` volumes of spec: in reverse, so that a second -v of a volume this run
 * created lets go of it first. */
static void release_first(struct volume_store *store, const struct sandbox_spec *spec, size_t count,
			  struct volume_handle *handles, bool has_started)
{
	for (size_t i = count; i-- > 0;) {
		bool should_remove =
		    (spec->volumes[i].is_anonymous && !spec->should_keep_volumes) ||
		    (!has_started && handles[i].is_new);
		volume_release(store, &handles[i], should_remove);
	}
}

int volume_run_acquire(struct volume_store *store, const struct sandbox_spec *spec,
		       struct volume_handle *handles, struct sandbox_open_volume *opened,
		       struct sk_err *err)
{
	for (size_t i = 0; i < spec->volume_count; i++) {
		const struct sandbox_volume *vol = &spec->volumes[i];
		enum volume_kind kind = vol->is_anonymous ? VOLUME_ANONYMOUS : VOLUME_NAMED;
		bool is_ephemeral = vol->is_anonymous && !spec->should_keep_volumes;
		struct sandbox_open_volume *open = &opened[i];

		sk_strlcpy(open->name, vol->name, sizeof(open->name));
		if ((vol->is_anonymous &&
		     anonymous_name(open->name, sizeof(open->name), err) < 0) ||
		    acquire(store, kind, open->name, true, is_ephemeral, LOCK_SH, &handles[i],
			    err) < 0) {
			release_first(store, spec, i, handles, false);
			return -1;
		}
		open->dir_fd = handles[i].dir_fd;
		open->host_root = store->root_path[kind];
	}
	return 0;
}

void volume_run_release(struct volume_store *store, const struct sandbox_spec *spec,
			struct volume_handle *handles, bool has_started)
{
	release_first(store, spec, spec->volume_count, handles, has_started);
}
