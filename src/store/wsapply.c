/* Applies a workspace into its host directory (wsapply.h). The order: the list, the conflicts
 * and refusals (all of them, before anything is written), then the changes in path order (a
 * directory before what goes in it), then the modes of directories deepest first (a directory
 * made read-only last, after what went in it). The host tree is the caller's and may change
 * while we work: it is reached only through wsdiff_open_beneath, so a link planted anywhere on
 * the way fails the open instead of leading out of it. */
#define _GNU_SOURCE
#include "store/wsapply.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/safepath.h"
#include "util/fds.h"
#include "util/syscalls.h"

struct apply {
	struct wsdiff_workspace *ws;
	bool is_root;
	unsigned tmp_counter;
	struct sk_err *err;
};

static int apply_fail(struct apply *ap, int errnum, const char *what, const char *path)
{
	char quoted[PATH_MAX + 8];

	wsdiff_quote("", path, quoted, sizeof(quoted));
	return sk_fail(ap->err, "workspace", errnum, NULL, "apply: %s %.300s", what, quoted);
}

/* The parent directory of path (relative to DIR) opened beneath DIR; *base is the last
 * component. -1 with errno. */
static int open_parent(int top_fd, const char *path, int flags, const char **base)
{
	const char *slash = strrchr(path, '/');
	char parent[PATH_MAX];

	*base = slash ? slash + 1 : path;
	snprintf(parent, sizeof(parent), "%.*s", slash ? (int)(slash - path) : 0, path);
	return wsdiff_open_beneath(top_fd, parent, flags | O_DIRECTORY);
}

/* ---- conflicts ---- */

/* Could the host's ctime be a change at or after the start? A file system coarser than the
 * store's rounds its stamps down (ext4 with 128-byte inodes to the second, FAT to two): a
 * change made just after the start then carries a stamp before it. A stamp stands for any
 * moment within its apparent unit, the largest power of ten dividing its nanoseconds (two
 * seconds for none); a fine stamp's unit is a nanosecond or so, which is the plain rule. */
static bool is_after_start(const struct stat *st, const struct workspace_meta *meta)
{
	long long unit = 2000000000LL, nsec = st->st_ctim.tv_nsec;
	long long stamp = (long long)st->st_ctim.tv_sec * 1000000000LL + nsec;
	long long start = meta->started_sec * 1000000000LL + meta->started_nsec;

	if (nsec != 0)
		for (unit = 1; nsec % (unit * 10) == 0;)
			unit *= 10;
	return stamp + unit > start;
}

/* Why the host's entry at path says it changed since the start, or NULL. */
static const char *host_conflict(struct wsdiff_workspace *ws, const char *path, bool expects_it)
{
	const char *base;
	struct stat st;
	int parent = open_parent(ws->host_fd, path, O_PATH, &base), rc;

	if (parent < 0)
		return errno == ENOENT
			   ? (expects_it ? "gone from the host since the sandbox started" : NULL)
			   : "a symlink or another file system on its way on the host";
	rc = fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW);
	close(parent);
	if (rc < 0)
		return errno == ENOENT && !expects_it
			   ? NULL
			   : "gone from the host since the sandbox started";
	if (is_after_start(&st, &ws->meta))
		return "changed on the host since the sandbox started";
	return NULL;
}

static void check_conflict(struct wsdiff_workspace *ws, struct wsdiff_change *c)
{
	c->conflict =
	    host_conflict(ws, c->path, c->kind != WSDIFF_ADDED && c->kind != WSDIFF_RENAMED);
	if (!c->conflict && c->from)
		c->conflict = host_conflict(ws, c->from, true);
}

/* The index of the change at the first len bytes of path (a directory holding it), or -1.
 * The list is sorted by path. */
static long find_ancestor(const struct wsdiff_list *list, const char *path, size_t len)
{
	char key[PATH_MAX];
	long lo = 0, hi = (long)list->count - 1;

	snprintf(key, sizeof(key), "%.*s", (int)len, path);
	while (lo <= hi) {
		long mid = lo + (hi - lo) / 2;
		int cmp = strcmp(key, list->items[mid].path);
		if (cmp == 0)
			return mid;
		if (cmp < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	return -1;
}

/* Does c remove a directory the host has (a deletion, or a directory made a file or link)? */
static bool removes_host_dir(const struct wsdiff_change *c)
{
	return S_ISDIR(c->old_mode) && !S_ISDIR(c->new_mode);
}

/* Marks what is not applied: refused and conflicting changes; the removal of a directory
 * that holds a conflict (removing it would take the host's change with it); and everything
 * below a directory that is not made, removed or replaced. Ancestors are looked up by path,
 * not by position: "sub.txt" sorts between "sub" and "sub/x". Counts them. */
static void mark_skipped(struct wsdiff_list *list, bool *is_skipped,
			 struct workspace_apply_stats *stats)
{
	for (size_t i = 0; i < list->count; i++) {
		const char *path = list->items[i].path;
		if (!list->items[i].conflict)
			continue;
		for (const char *slash = strchr(path, '/'); slash; slash = strchr(slash + 1, '/')) {
			long at = find_ancestor(list, path, (size_t)(slash - path));
			struct wsdiff_change *dir = at >= 0 ? &list->items[at] : NULL;
			if (dir && removes_host_dir(dir) && !dir->refusal && !dir->conflict)
				dir->conflict = "holds a host entry that changed since the sandbox "
						"started";
		}
	}
	for (size_t i = 0; i < list->count; i++) {
		struct wsdiff_change *c = &list->items[i];
		if (c->refusal || c->conflict) {
			is_skipped[i] = true;
			stats->refused += c->refusal != NULL;
			stats->conflicts += c->refusal == NULL;
			continue;
		}
		/* Ancestors come first in the list: their marks are final here. */
		for (const char *slash = strchr(c->path, '/'); slash && !is_skipped[i];
		     slash = strchr(slash + 1, '/')) {
			long at = find_ancestor(list, c->path, (size_t)(slash - c->path));
			const struct wsdiff_change *dir = at >= 0 ? &list->items[at] : NULL;
			if (dir && is_skipped[at] &&
			    (S_ISDIR(dir->new_mode) || S_ISDIR(dir->old_mode))) {
				is_skipped[i] = true;
				stats->refused++;
			}
		}
	}
}

/* ---- writing ---- */

/* Removes parent/name, whatever it is, never following a link. */
static int remove_entry(struct apply *ap, int parent, const char *name, const char *path)
{
	struct stat st;

	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : apply_fail(ap, errno, "stat", path);
	if (S_ISDIR(st.st_mode))
		return safepath_remove_tree(parent, name, ap->err);
	if (unlinkat(parent, name, 0) < 0 && errno != ENOENT)
		return apply_fail(ap, errno, "unlink", path);
	return 0;
}

/* As root, a new entry belongs to whoever owned the one it replaces, else to the owner of its
 * directory; as a user, it is the caller's already. */
static void owner_for(int parent, const char *name, uid_t *uid, gid_t *gid)
{
	struct stat st;

	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0 && fstat(parent, &st) < 0)
		st.st_uid = 0, st.st_gid = 0;
	*uid = st.st_uid;
	*gid = st.st_gid;
}

/* Bytes [from, to) of in into out at the same offsets. */
static int copy_range(int in, int out, off_t from, off_t to)
{
	char buf[65536];
	loff_t in_pos = from, out_pos = from;

	while (in_pos < to) {
		ssize_t n = copy_file_range(in, &in_pos, out, &out_pos, (size_t)(to - in_pos), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			return 0; /* cannot happen: the sandbox is stopped */
		if (n > 0)
			continue;
		/* No copy_file_range between these file systems: read and write. */
		n = pread(in, buf,
			  (size_t)(to - in_pos) < sizeof(buf) ? (size_t)(to - in_pos) : sizeof(buf),
			  in_pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -1 : 0;
		if (lseek(out, out_pos, SEEK_SET) < 0 || fds_write_all(out, buf, (size_t)n) < 0)
			return -1;
		in_pos += n;
		out_pos += n;
	}
	return 0;
}

/* The data of in into out, its holes left holes: `truncate -s 1T` costs the sandbox no disk,
 * and writing it out as zeros would fill the host's. out gets its size last. */
static int copy_bytes(int in, int out, uint64_t size)
{
	off_t pos = 0, end = (off_t)size;

	while (pos < end) {
		off_t data = lseek(in, pos, SEEK_DATA), hole;
		if (data < 0 && errno == ENXIO)
			break; /* only a hole from here to the end */
		if (data < 0) {
			data = pos; /* a file system that cannot tell: all of it is data */
			hole = end;
		} else {
			hole = lseek(in, data, SEEK_HOLE);
			if (hole < 0 || hole > end)
				hole = end;
		}
		if (data >= end)
			break;
		if (copy_range(in, out, data, hole) < 0)
			return -1;
		pos = hole;
	}
	return ftruncate(out, end);
}

/* A temporary name in parent for a new entry: made by make(), O_EXCL, never an existing
 * one. */
static void tmp_name(struct apply *ap, char *buf, size_t size)
{
	snprintf(buf, size, ".stockade-ws-%d-%u", (int)getpid(), ap->tmp_counter++);
}

/* The upper layer's file at c->path into parent/tmp: data, mode (permission bits only: set-id
 * bits were refused), times, owner as root; fsync'ed before it is renamed into place. */
static int write_file(struct apply *ap, int parent, const char *name, const char *tmp,
		      const struct wsdiff_change *c)
{
	struct stat st;
	uid_t uid;
	gid_t gid;
	int in = wsdiff_open_beneath(ap->ws->upper_fd, c->path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	int out = -1, rc = -1;

	if (in < 0 || fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = apply_fail(ap, in < 0 ? errno : EINVAL, "read from the workspace", c->path);
		goto out;
	}
	out = openat(parent, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		rc = apply_fail(ap, errno, "create a temporary file for", c->path);
		goto out;
	}
	struct timespec times[2] = {st.st_atim, st.st_mtim};
	owner_for(parent, name, &uid, &gid);
	if (copy_bytes(in, out, (uint64_t)st.st_size) < 0 ||
	    (ap->is_root && fchown(out, uid, gid) < 0) || fchmod(out, st.st_mode & 0777) < 0 ||
	    futimens(out, times) < 0 || fsync(out) < 0)
		rc = apply_fail(ap, errno, "write", c->path);
	else
		rc = 0;
out:
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) < 0 && rc == 0)
		rc = apply_fail(ap, errno, "write", c->path);
	return rc;
}

static int write_link(struct apply *ap, int parent, const char *name, const char *tmp,
		      const struct wsdiff_change *c)
{
	uid_t uid;
	gid_t gid;

	/* The text was checked by the lexical rule (it cannot lead out of DIR) and is never
	 * resolved here. */
	if (symlinkat(c->target, parent, tmp) < 0)
		return apply_fail(ap, errno, "create link", c->path);
	owner_for(parent, name, &uid, &gid);
	if (ap->is_root && fchownat(parent, tmp, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return apply_fail(ap, errno, "chown link", c->path);
	return 0;
}

/* A file or a link at parent/name: made under a temporary name, then renamed over whatever
 * is there (a directory there is removed first: a type change). */
static int write_leaf(struct apply *ap, int parent, const char *name, const struct wsdiff_change *c)
{
	char tmp[64];
	struct stat st;
	int rc;

	for (int attempt = 0;; attempt++) {
		tmp_name(ap, tmp, sizeof(tmp));
		rc = S_ISLNK(c->new_mode) ? write_link(ap, parent, name, tmp, c)
					  : write_file(ap, parent, name, tmp, c);
		if (rc == 0 || ap->err->errnum != EEXIST || attempt >= 16)
			break;
	}
	if (rc < 0) {
		(void)unlinkat(parent, tmp, 0);
		return -1;
	}
	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
	    safepath_remove_tree(parent, name, ap->err) < 0) {
		(void)unlinkat(parent, tmp, 0);
		return -1;
	}
	if (renameat(parent, tmp, parent, name) < 0) {
		rc = apply_fail(ap, errno, "rename into place", c->path);
		(void)unlinkat(parent, tmp, 0);
		return rc;
	}
	return 0;
}

static int make_dir(struct apply *ap, int parent, const char *name, const struct wsdiff_change *c)
{
	struct stat st;
	uid_t uid;
	gid_t gid;

	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode) &&
	    remove_entry(ap, parent, name, c->path) < 0)
		return -1;
	owner_for(parent, name, &uid, &gid);
	/* 0700 until its mode is set, after what goes in it (set_dir_modes). */
	if (mkdirat(parent, name, 0700) < 0 && errno != EEXIST)
		return apply_fail(ap, errno, "mkdir", c->path);
	if (ap->is_root && fchownat(parent, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return apply_fail(ap, errno, "chown", c->path);
	return 0;
}

/* chmod of parent/name on the inode itself, never through a link (a link has no mode). */
static int set_mode(struct apply *ap, int parent, const char *name, mode_t mode, const char *path)
{
	char proc[64];
	struct stat st;
	int fd = openat(parent, name, O_PATH | O_NOFOLLOW | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return apply_fail(ap, errno, "open", path);
	if (fstat(fd, &st) == 0 && !S_ISLNK(st.st_mode) &&
	    sys_fchmodat2(fd, "", mode, AT_EMPTY_PATH) < 0) {
		/* Before Linux 6.6: the same inode through our own fd's /proc link. */
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		if (chmod(proc, mode) < 0)
			rc = apply_fail(ap, errno, "chmod", path);
	}
	close(fd);
	return rc;
}

static int apply_one(struct apply *ap, const struct wsdiff_change *c)
{
	const char *name;
	int parent = open_parent(ap->ws->host_fd, c->path, O_RDONLY, &name), rc = 0;

	/* Below a directory deleted just before: gone with it. */
	if (parent < 0 && errno == ENOENT && c->kind == WSDIFF_DELETED)
		return 0;
	if (parent < 0)
		return apply_fail(ap, errno, "open the directory of", c->path);
	if (c->kind == WSDIFF_DELETED)
		rc = remove_entry(ap, parent, name, c->path);
	else if (c->kind == WSDIFF_MODE && !S_ISDIR(c->new_mode))
		rc = set_mode(ap, parent, name, c->new_mode & 0777, c->path);
	else if (S_ISDIR(c->new_mode))
		rc = c->kind == WSDIFF_MODE ? 0 : make_dir(ap, parent, name, c);
	else
		rc = write_leaf(ap, parent, name, c);
	close(parent);
	if (rc == 0 && c->kind == WSDIFF_RENAMED) {
		parent = open_parent(ap->ws->host_fd, c->from, O_RDONLY, &name);
		if (parent < 0)
			return apply_fail(ap, errno, "open the directory of", c->from);
		rc = remove_entry(ap, parent, name, c->from);
		close(parent);
	}
	return rc;
}

/* Directory modes last, deepest first. */
static int set_dir_modes(struct apply *ap, const struct wsdiff_list *list, const bool *is_skipped)
{
	for (size_t i = list->count; i-- > 0;) {
		const struct wsdiff_change *c = &list->items[i];
		const char *name;
		if (is_skipped[i] || c->kind == WSDIFF_DELETED || !S_ISDIR(c->new_mode))
			continue;
		int parent = open_parent(ap->ws->host_fd, c->path, O_RDONLY, &name);
		if (parent < 0)
			return apply_fail(ap, errno, "open the directory of", c->path);
		int rc = set_mode(ap, parent, name, c->new_mode & 01777, c->path);
		close(parent);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int apply_all(struct apply *ap, const struct wsdiff_list *list, const bool *is_skipped,
		     struct workspace_apply_stats *stats)
{
	for (size_t i = 0; i < list->count; i++) {
		if (is_skipped[i])
			continue;
		if (apply_one(ap, &list->items[i]) < 0) {
			size_t len = strlen(ap->err->op);
			snprintf(ap->err->op + len, sizeof(ap->err->op) - len,
				 " (stopped after %zu of %zu changes; the workspace is kept)",
				 stats->applied, list->count);
			return -1;
		}
		stats->applied++;
	}
	return set_dir_modes(ap, list, is_skipped);
}

static int refuse_all(struct workspace_apply_stats *stats, struct sk_err *err)
{
	return sk_fail(err, "workspace", 0,
		       "see `stockade workspace diff`; --skip-refused applies the rest",
		       "apply: %zu change(s) refused and %zu conflict(s): nothing applied",
		       stats->refused, stats->conflicts);
}

int workspace_apply(const char *name, const struct workspace_apply_opts *opts,
		    struct workspace_apply_stats *out, struct sk_err *err)
{
	struct wsdiff_workspace ws;
	struct wsdiff_list list;
	struct apply ap = {.ws = &ws, .is_root = geteuid() == 0, .err = err};
	bool *is_skipped = NULL, should_remove = false;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (wsdiff_open(name, true, &ws, err) < 0)
		return -1;
	if (wsdiff_scan(ws.upper_fd, ws.host_fd, ws.meta.is_copy, &list, err) < 0)
		goto close;
	out->changes = list.count;
	for (size_t i = 0; i < list.count; i++)
		check_conflict(&ws, &list.items[i]);
	is_skipped = calloc(list.count + 1, sizeof(bool));
	if (!is_skipped) {
		sk_fail(err, "workspace", ENOMEM, NULL, "apply");
		goto free;
	}
	mark_skipped(&list, is_skipped, out);
	for (size_t i = 0; opts->on_refused && i < list.count; i++)
		if (list.items[i].refusal || list.items[i].conflict)
			opts->on_refused(opts->arg, &list.items[i]);
	if ((out->refused || out->conflicts) && !opts->should_skip_refused) {
		refuse_all(out, err);
		goto free;
	}
	if (opts->on_changes)
		opts->on_changes(opts->arg, &list);
	if (opts->is_dry_run) {
		rc = 0;
		goto free;
	}
	rc = apply_all(&ap, &list, is_skipped, out);
	should_remove = rc == 0 && !out->refused && !out->conflicts && !opts->should_keep;
	out->was_removed = should_remove;
free:
	free(is_skipped);
	wsdiff_free(&list);
close:
	wsdiff_close(&ws, should_remove);
	return rc;
}

void workspace_print_stat(FILE *out, const struct wsdiff_list *list)
{
	wsdiff_print_stat(out, list);
}
