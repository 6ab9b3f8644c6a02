/* Host-side operations on volume trees without ever following a link a sandbox planted: every
 * entry is reached relative to a directory fd that was opened with O_NOFOLLOW, files are created
 * with O_EXCL|O_NOFOLLOW, and nothing is resolved through a path string that could change under
 * us. Directory fds are the only thing we trust; names inside them are the sandbox's. */
#define _GNU_SOURCE
#include "store/safepath.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fds.h"
#include "util/syscalls.h"

/* Deeper trees are refused by a copy (each level holds two fds) and flattened by a removal. */
#define SAFEPATH_MAX_DEPTH 128
/* A directory that still has entries after this many passes is changing under us. */
#define SAFEPATH_MAX_PASSES 64

struct copy_ctx {
	const struct safepath_copy_opts *opts;
	struct safepath_copy_stats *stats;
	char path[PATH_MAX]; /* of the entry being copied, relative to the source root */
	struct sk_err *err;
};

static int copy_dir_contents(int src_fd, int dst_fd, struct copy_ctx *ctx, int depth);

int safepath_check_component(const char *name)
{
	if (!name || !name[0] || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    strchr(name, '/') || strlen(name) > NAME_MAX)
		return -1;
	return 0;
}

int safepath_open_dir(int root_fd, const char *name, uid_t owner, int extra_flags,
		      struct sk_err *err)
{
	struct stat root_st, st;
	int fd;

	if (safepath_check_component(name) < 0)
		return sk_fail(err, "volume", EINVAL,
			       "a volume is a directory directly in its store",
			       "refusing volume path '%.64s'", name);
	if (fstat(root_fd, &root_st) < 0)
		return sk_fail(err, "volume", errno, NULL, "fstat(volume store)");
	fd = sys_openat2(root_fd, name, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | extra_flags,
			 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
			     RESOLVE_NO_XDEV);
	if (fd < 0)
		return sk_fail(err, "volume", errno,
			       errno == ELOOP || errno == ENOTDIR || errno == EXDEV
				   ? "a volume must be a plain directory in the store, not a link"
			       : errno == ENOSYS ? "openat2 needs Linux 5.6 or later"
						 : NULL,
			       "open volume %s", name);
	/* Verify what we opened, not what the name said: a directory, owned by the sandbox's host
	 * uid, on the store's own file system. */
	if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != owner ||
	    st.st_dev != root_st.st_dev) {
		close(fd);
		return sk_fail(err, "volume", EPERM,
			       "remove it with `stockade volume rm` and create it again",
			       "refusing volume %s: not a directory owned by uid %u on the store's "
			       "file system",
			       name, (unsigned)owner);
	}
	return fd;
}

/* A directory below dir_fd, never through a symlink. A directory the caller cannot read (a
 * sandbox may chmod 000 its own dirs) is given u+rwx on the inode already held, not by name. */
static int open_subdir(int dir_fd, const char *name, bool may_fix_mode)
{
	char proc[64];
	struct stat st;
	int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), path_fd;

	if (fd >= 0 || errno != EACCES || !may_fix_mode)
		return fd;
	path_fd = openat(dir_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (path_fd < 0)
		return -1;
	if (fstat(path_fd, &st) < 0 || st.st_uid != geteuid())
		goto fail;
	if (sys_fchmodat2(path_fd, "", (st.st_mode & 07777) | S_IRWXU, AT_EMPTY_PATH) < 0) {
		/* Before Linux 6.6: the same inode through our own fd's /proc link. */
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", path_fd);
		if (chmod(proc, (st.st_mode & 07777) | S_IRWXU) < 0)
			goto fail;
	}
	fd = openat(path_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(path_fd);
	return fd;
fail:
	close(path_fd);
	errno = EACCES;
	return -1;
}

/* A readdir stream with its own offset (openat "." rather than dup). */
static DIR *open_stream(int dir_fd)
{
	int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (fd >= 0 && !d)
		close(fd);
	return d;
}

static bool is_dot(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

/* ---- removal ---- */

static int empty_dir_at(int dir_fd, int top_fd, int depth, struct sk_err *err);

/* At the depth limit a directory is moved up to the top of the tree (renameat between fds we
 * hold: nothing is resolved) and emptied by a later pass there, so a tree of any depth goes
 * without holding more than SAFEPATH_MAX_DEPTH fds. */
static int move_to_top(int dir_fd, const char *name, int top_fd, struct sk_err *err)
{
	static unsigned counter;
	char tmp[64];

	for (int i = 0; i < 1000; i++) {
		snprintf(tmp, sizeof(tmp), ".stockade-rm-%d-%u", (int)getpid(), counter++);
		if (renameat2(dir_fd, name, top_fd, tmp, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno != EEXIST)
			return errno == ENOENT
				   ? 0
				   : sk_fail(err, "volume", errno, NULL, "rename %s", name);
	}
	return sk_fail(err, "volume", EEXIST, NULL, "rename %s", name);
}

static int remove_entry(int dir_fd, const char *name, int top_fd, int depth, struct sk_err *err)
{
	int sub, rc;

	for (int attempt = 0; attempt < 8; attempt++) {
		/* unlinkat never follows: a symlink is removed, not its target. */
		if (unlinkat(dir_fd, name, 0) == 0 || errno == ENOENT)
			return 0;
		if (errno != EISDIR && errno != EPERM)
			return sk_fail(err, "volume", errno, NULL, "unlink %s", name);
		if (depth >= SAFEPATH_MAX_DEPTH)
			return move_to_top(dir_fd, name, top_fd, err);
		sub = open_subdir(dir_fd, name, true);
		if (sub < 0 && (errno == ELOOP || errno == ENOTDIR || errno == ENOENT))
			continue; /* swapped for a link or a file meanwhile: unlink that */
		if (sub < 0)
			return sk_fail(err, "volume", errno, NULL, "open directory %s", name);
		rc = empty_dir_at(sub, top_fd, depth + 1, err);
		close(sub);
		if (rc < 0)
			return -1;
		if (unlinkat(dir_fd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
			return 0;
		if (errno != ENOTDIR && errno != ENOTEMPTY)
			return sk_fail(err, "volume", errno, NULL, "rmdir %s", name);
	}
	return sk_fail(err, "volume", EAGAIN, "is something else changing the volume?",
		       "remove %s: it keeps changing", name);
}

/* Unlinking needs write and search permission on the directory itself. */
static void make_dir_writable(int dir_fd)
{
	struct stat st;

	if (geteuid() != 0 && fstat(dir_fd, &st) == 0 && st.st_uid == geteuid() &&
	    (st.st_mode & S_IRWXU) != S_IRWXU)
		(void)fchmod(dir_fd, (st.st_mode & 07777) | S_IRWXU);
}

static int empty_dir_at(int dir_fd, int top_fd, int depth, struct sk_err *err)
{
	make_dir_writable(dir_fd);
	for (int pass = 0; pass < SAFEPATH_MAX_PASSES; pass++) {
		DIR *d = open_stream(dir_fd);
		struct dirent *de;
		bool saw_any = false;
		int rc = 0;

		if (!d)
			return sk_fail(err, "volume", errno, NULL, "read directory");
		while (rc == 0 && (de = readdir(d)) != NULL) {
			if (is_dot(de->d_name))
				continue;
			saw_any = true;
			rc = remove_entry(dir_fd, de->d_name, top_fd, depth, err);
		}
		closedir(d);
		if (rc < 0)
			return -1;
		if (!saw_any)
			return 0;
	}
	return sk_fail(err, "volume", ENOTEMPTY, "is something else writing to the volume?",
		       "a directory kept getting new entries while being removed");
}

int safepath_empty_dir(int dir_fd, struct sk_err *err)
{
	return empty_dir_at(dir_fd, dir_fd, 0, err);
}

int safepath_remove_tree(int parent_fd, const char *name, struct sk_err *err)
{
	int fd, rc;

	if (safepath_check_component(name) < 0)
		return sk_fail(err, "volume", EINVAL, NULL, "remove '%.64s'", name);
	fd = open_subdir(parent_fd, name, true);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno != ELOOP && errno != ENOTDIR)
			return sk_fail(err, "volume", errno, NULL, "open %s", name);
		if (unlinkat(parent_fd, name, 0) < 0 && errno != ENOENT)
			return sk_fail(err, "volume", errno, NULL, "unlink %s", name);
		return 0;
	}
	rc = safepath_empty_dir(fd, err);
	close(fd);
	if (rc < 0)
		return -1;
	if (unlinkat(parent_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return sk_fail(err, "volume", errno, NULL, "rmdir %s", name);
	return 0;
}

/* ---- copy ---- */

static int copy_fail(struct copy_ctx *ctx, int errnum, const char *what)
{
	return sk_fail(ctx->err, "volume", errnum, NULL, "%s %.300s", what, ctx->path);
}

/* Creates name in dst_fd for writing, never through an existing entry: O_EXCL|O_NOFOLLOW, and
 * an existing non-directory is unlinked first (unlinkat does not follow either). */
static int create_file(int dst_fd, const char *name)
{
	for (int attempt = 0; attempt < 4; attempt++) {
		int fd = openat(dst_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				0600);
		if (fd >= 0 || errno != EEXIST)
			return fd;
		if (unlinkat(dst_fd, name, 0) < 0 && errno != ENOENT)
			return -1;
	}
	errno = EEXIST;
	return -1;
}

static int copy_bytes_rw(int in, int out, off_t size, uint64_t *copied)
{
	char buf[65536];

	while (*copied < (uint64_t)size) {
		size_t want = sizeof(buf);
		if ((uint64_t)size - *copied < want)
			want = (size_t)((uint64_t)size - *copied);
		ssize_t n = read(in, buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -1 : 0;
		if (fds_write_all(out, buf, (size_t)n) < 0)
			return -1;
		*copied += (uint64_t)n;
	}
	return 0;
}

/* FICLONE shares the blocks (btrfs, XFS); else copy_file_range (in-kernel, may reflink or use
 * server-side copy); else read/write. At most `size` bytes: a file growing while we copy it
 * cannot make the copy endless. */
static int copy_data(int in, int out, off_t size, struct copy_ctx *ctx)
{
	uint64_t copied = 0;

	if (ioctl(out, FICLONE, in) == 0) {
		ctx->stats->reflinked++;
		ctx->stats->bytes += (uint64_t)size;
		return 0;
	}
	while (copied < (uint64_t)size) {
		ssize_t n =
		    copy_file_range(in, NULL, out, NULL, (size_t)((uint64_t)size - copied), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP ||
			      errno == ENOSYS || errno == EPERM))
			break;
		if (n < 0)
			return -1;
		if (n == 0)
			break; /* shrank meanwhile */
		copied += (uint64_t)n;
	}
	if (copied < (uint64_t)size && copy_bytes_rw(in, out, size, &copied) < 0)
		return -1;
	ctx->stats->bytes += copied;
	return 0;
}

/* Owner (import as root), then mode without set-id bits (a set-uid file exported by root would
 * be a root set-uid binary on the host), then times: chown clears set-id bits, chmod does not
 * touch times. */
static int finish_attrs(int fd, const struct stat *st, struct copy_ctx *ctx, mode_t keep)
{
	struct timespec times[2] = {st->st_atim, st->st_mtim};

	if (ctx->opts->chown_uid != (uid_t)-1 &&
	    fchown(fd, ctx->opts->chown_uid, ctx->opts->chown_gid) < 0)
		return copy_fail(ctx, errno, "chown");
	if (fchmod(fd, st->st_mode & keep) < 0)
		return copy_fail(ctx, errno, "chmod");
	if (futimens(fd, times) < 0)
		return copy_fail(ctx, errno, "set times of");
	return 0;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static int copy_file(int src_fd, int dst_fd, const char *name, const struct stat *st,
		     struct copy_ctx *ctx)
{
	struct stat now;
	int in, out, rc;

	/* O_NONBLOCK: if a fifo was swapped in since the fstatat, opening it does not hang. */
	in = openat(src_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (in < 0)
		return copy_fail(ctx, errno, "open");
	if (fstat(in, &now) < 0 || !S_ISREG(now.st_mode) || !same_file(st, &now)) {
		close(in);
		return copy_fail(ctx, EAGAIN, "changed while copying:");
	}
	out = create_file(dst_fd, name);
	if (out < 0) {
		close(in);
		return copy_fail(ctx, errno, "create");
	}
	rc = copy_data(in, out, now.st_size, ctx);
	if (rc < 0)
		rc = copy_fail(ctx, errno, "copy");
	if (rc == 0)
		rc = finish_attrs(out, &now, ctx, 0777);
	close(in);
	if (close(out) < 0 && rc == 0)
		rc = copy_fail(ctx, errno, "write");
	ctx->stats->files++;
	return rc;
}

const char *safepath_link_escapes(const char *link_path, const char *target)
{
	long level = 0;
	bool is_after_name = false, is_up_after_name = false;

	if (target[0] == '/')
		return "absolute target";
	/* The link's own directory is one level down per '/' in its path from the top. */
	for (const char *p = link_path; *p; p++)
		level += *p == '/';
	for (const char *p = target; *p;) {
		const char *end = strchrnul(p, '/');
		size_t len = (size_t)(end - p);

		if (len == 2 && p[0] == '.' && p[1] == '.') {
			is_up_after_name |= is_after_name;
			if (--level < 0)
				return "climbs out of the export";
		} else if (len > 0 && !(len == 1 && p[0] == '.')) {
			is_after_name = true;
			level++;
		}
		p = *end ? end + 1 : end;
	}
	return is_up_after_name ? "'..' after a name, which another link could turn into a climb"
				: NULL;
}

/* A link left out: counted, told, and an entry a previous copy left at its name goes too, so
 * the destination does not keep a link the source no longer vouches for (unlinkat never
 * follows; a directory there stays). */
static void skip_symlink(int dst_fd, const char *name, const char *target, const char *why,
			 struct copy_ctx *ctx)
{
	ctx->stats->links_skipped++;
	(void)unlinkat(dst_fd, name, 0);
	if (ctx->opts->on_skipped_link)
		ctx->opts->on_skipped_link(ctx->opts->arg, ctx->path, target, why);
}

static int copy_symlink(int src_fd, int dst_fd, const char *name, const struct stat *st,
			struct copy_ctx *ctx)
{
	char target[PATH_MAX];
	struct timespec times[2] = {st->st_atim, st->st_mtim};
	ssize_t n = readlinkat(src_fd, name, target, sizeof(target) - 1);
	const char *why = NULL;

	if (n < 0)
		return copy_fail(ctx, errno, "readlink");
	target[n] = '\0';
	/* Recreating a link is safe for us (nothing resolves it here), but the copy outlives us:
	 * the next program that opens it on the host would follow it. */
	if (ctx->opts->links == SAFEPATH_LINKS_SKIP)
		why = "--links=skip";
	else if (ctx->opts->links == SAFEPATH_LINKS_SAFE)
		why = safepath_link_escapes(ctx->path, target);
	if (why) {
		skip_symlink(dst_fd, name, target, why, ctx);
		return 0;
	}
	/* The link is recreated as text; it is never resolved, here or on the other side. */
	for (int attempt = 0; symlinkat(target, dst_fd, name) < 0; attempt++) {
		if (errno != EEXIST || attempt > 2 ||
		    (unlinkat(dst_fd, name, 0) < 0 && errno != ENOENT))
			return copy_fail(ctx, errno, "symlink");
	}
	if (ctx->opts->chown_uid != (uid_t)-1 &&
	    fchownat(dst_fd, name, ctx->opts->chown_uid, ctx->opts->chown_gid,
		     AT_SYMLINK_NOFOLLOW) < 0)
		return copy_fail(ctx, errno, "chown");
	if (utimensat(dst_fd, name, times, AT_SYMLINK_NOFOLLOW) < 0)
		return copy_fail(ctx, errno, "set times of");
	ctx->stats->symlinks++;
	return 0;
}

static int copy_subdir(int src_fd, int dst_fd, const char *name, const struct stat *st,
		       struct copy_ctx *ctx, int depth)
{
	struct stat now;
	int in, out, rc;

	if (depth >= SAFEPATH_MAX_DEPTH)
		return copy_fail(ctx, ELOOP, "deeper than 128 levels:");
	/* A directory the sandbox made unreadable (chmod 000) gets u+rwx: it is the caller's. */
	in = open_subdir(src_fd, name, true);
	if (in < 0)
		return copy_fail(ctx, errno, "open directory");
	if (fstat(in, &now) < 0 || !same_file(st, &now)) {
		close(in);
		return copy_fail(ctx, EAGAIN, "changed while copying:");
	}
	if (mkdirat(dst_fd, name, 0700) < 0 && errno != EEXIST) {
		close(in);
		return copy_fail(ctx, errno, "mkdir");
	}
	/* An existing symlink of that name fails here (ELOOP): we never write through it. */
	out = openat(dst_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (out < 0) {
		close(in);
		return copy_fail(ctx, errno, "open destination directory");
	}
	rc = copy_dir_contents(in, out, ctx, depth + 1);
	if (rc == 0)
		rc = finish_attrs(out, st, ctx, 01777); /* the mode as it was before any fix */
	close(in);
	close(out);
	ctx->stats->dirs++;
	return rc;
}

static void note_skipped(struct copy_ctx *ctx)
{
	if (ctx->stats->skipped++ == 0)
		sk_strlcpy(ctx->stats->first_skipped, ctx->path, sizeof(ctx->stats->first_skipped));
}

static int copy_entry(int src_fd, int dst_fd, const char *name, struct copy_ctx *ctx, int depth)
{
	size_t len = strlen(ctx->path);
	struct stat st;
	int rc = 0;

	snprintf(ctx->path + len, sizeof(ctx->path) - len, "%s%s", len ? "/" : "", name);
	if (fstatat(src_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		rc = errno == ENOENT ? 0 : copy_fail(ctx, errno, "stat");
	else if (S_ISDIR(st.st_mode))
		rc = copy_subdir(src_fd, dst_fd, name, &st, ctx, depth);
	else if (S_ISREG(st.st_mode))
		rc = copy_file(src_fd, dst_fd, name, &st, ctx);
	else if (S_ISLNK(st.st_mode))
		rc = copy_symlink(src_fd, dst_fd, name, &st, ctx);
	else
		note_skipped(ctx); /* devices, fifos, sockets: never recreated */
	ctx->path[len] = '\0';
	return rc;
}

static int copy_dir_contents(int src_fd, int dst_fd, struct copy_ctx *ctx, int depth)
{
	DIR *d = open_stream(src_fd);
	struct dirent *de;
	int rc = 0;

	if (!d)
		return copy_fail(ctx, errno, "read directory");
	while (rc == 0 && (de = readdir(d)) != NULL)
		if (!is_dot(de->d_name))
			rc = copy_entry(src_fd, dst_fd, de->d_name, ctx, depth);
	closedir(d);
	return rc;
}

int safepath_copy_tree(int src_fd, int dst_fd, const struct safepath_copy_opts *opts,
		       struct safepath_copy_stats *stats, struct sk_err *err)
{
	struct copy_ctx *ctx = calloc(1, sizeof(*ctx));
	int rc;

	if (!ctx)
		return sk_fail(err, "volume", ENOMEM, NULL, "copy");
	memset(stats, 0, sizeof(*stats));
	ctx->opts = opts;
	ctx->stats = stats;
	ctx->err = err;
	rc = copy_dir_contents(src_fd, dst_fd, ctx, 0);
	free(ctx);
	return rc;
}

/* ---- size ---- */

static uint64_t usage_at(int dir_fd, int depth)
{
	DIR *d;
	struct dirent *de;
	struct stat st;
	uint64_t total = 0;

	if (depth >= SAFEPATH_MAX_DEPTH || !(d = open_stream(dir_fd)))
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (is_dot(de->d_name) || fstatat(dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		total += (uint64_t)st.st_blocks * 512;
		if (S_ISDIR(st.st_mode)) {
			int sub = open_subdir(dir_fd, de->d_name, false);
			if (sub >= 0) {
				total += usage_at(sub, depth + 1);
				close(sub);
			}
		}
	}
	closedir(d);
	return total;
}

uint64_t safepath_disk_usage(int dir_fd)
{
	struct stat st;

	return (fstat(dir_fd, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0) + usage_at(dir_fd, 0);
}

int safepath_private_dir(int parent_fd, const char *name, const char *layer, struct sk_err *err)
{
	struct stat st;
	bool is_new = false;
	/* Opened first: it is there on every start but the first (mkdir, EEXIST, was a system call
	 * more on each). */
	int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT) {
		is_new = mkdirat(parent_fd, name, 0700) == 0;
		if (!is_new && errno != EEXIST)
			return sk_fail(err, layer, errno, NULL, "create %.80s", name);
		fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		return sk_fail(err, layer, errno, NULL, "open %.80s", name);
	if (is_new)
		(void)fchmod(fd, 0700); /* whatever the umask */
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 077)) {
		close(fd);
		return sk_fail(err, layer, EPERM,
			       "it must be a directory owned by you that nobody else can enter",
			       "refusing store directory %.80s", name);
	}
	return fd;
}
