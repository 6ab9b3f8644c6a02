/* The mount layer: the parent plans the new root, the child builds it. The child mounts the
 * new root's tmpfs over its copy of /sys, fills it from host paths (so a source anywhere on
 * the host, even under /tmp, stays reachable), then pivots into it and detaches the whole
 * host tree in one step. */
#define _GNU_SOURCE
#include "sandbox/mount.h"
#include "sandbox/mount_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/syscalls.h"
#include "util/fds.h"
#include "util/macros.h"

/* ---- child side: async-signal-safe from here on ---- */

const char *mount_inside(const char *dst)
{
	return strncmp(dst, MOUNT_NEWROOT, sizeof(MOUNT_NEWROOT) - 1) == 0
		   ? dst + sizeof(MOUNT_NEWROOT) - 1
		   : dst;
}

int mount_make_readonly(const char *path, int is_recursive, struct sk_err *err)
{
	return mount_restrict(path, is_recursive,
			      MOUNT_RESTRICT_RDONLY | MOUNT_RESTRICT_NOSUID | MOUNT_RESTRICT_NODEV,
			      err);
}

/* "/proc/self/fd/N": a path for the calls that take no fd (mount(2), statfs). The kernel
 * follows the magic link to the very inode the fd holds, not to whatever a name says by then. */
static const char *fd_path(int fd, char *buf, size_t size)
{
	char number[16];

	sk_strlcpy(buf, "/proc/self/fd/", size);
	sk_strlcat(buf, sk_utoa((unsigned)fd, number, sizeof(number)), size);
	return buf;
}

/* Adds attrs to the mount fd refers to (mount_fd >= 0), else to the one at path. mount_setattr
 * only adds attributes, so flags the kernel locked on a mount that came from the host (nosuid,
 * noexec, ...) are kept, and AT_RECURSIVE reaches submounts. Linux >= 5.12 has it; before,
 * a remount could not promise the same for a recursive bind, so there is no fallback: the run
 * stops (exit 125), as it does when a filter forbids the call. */
static int restrict_mount(int mount_fd, const char *path, const char *shown, int is_recursive,
			  unsigned attrs, struct sk_err *err)
{
	if (sys_mount_setattr(mount_fd >= 0 ? mount_fd : AT_FDCWD, mount_fd >= 0 ? "" : path,
			      (is_recursive ? AT_RECURSIVE : 0) |
				  (mount_fd >= 0 ? AT_EMPTY_PATH : AT_SYMLINK_NOFOLLOW),
			      attrs) < 0)
		return sk_fail_safe(err, "mount", errno, "mount_setattr(restrict)", shown, NULL);
	return 0;
}

int mount_restrict(const char *path, int is_recursive, unsigned attrs, struct sk_err *err)
{
	return restrict_mount(-1, path, mount_inside(path), is_recursive, attrs, err);
}

static int make_mountpoint(const char *dst, int is_dir, struct sk_err *err)
{
	int fd;

	if (is_dir) {
		if (mkdir(dst, 0755) < 0 && errno != EEXIST)
			return sk_fail_safe(err, "mount", errno, "mkdir", mount_inside(dst), NULL);
		return 0;
	}
	fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0444);
	if (fd < 0)
		return sk_fail_safe(err, "mount", errno, "create mount point", mount_inside(dst),
				    NULL);
	close(fd);
	return 0;
}

int mount_bind(const char *src, const char *dst, int is_dir, int is_readonly, struct sk_err *err)
{
	if (make_mountpoint(dst, is_dir, err) < 0)
		return -1;
	if (mount(src, dst, NULL, MS_BIND | (is_dir ? MS_REC : 0), NULL) < 0)
		return sk_fail_safe(err, "mount", errno, "bind mount", mount_inside(dst),
				    "the source must be readable by the sandbox's host uid");
	return is_readonly ? mount_make_readonly(dst, is_dir, err) : 0;
}

/* ---- the new root, by directory fds ----
 * While the new root is built the host's tree is still our root, so a path like /sys/work/x
 * would follow a symlink the plan made at /sys/work (a --rootfs's own `work -> /home/me`) into
 * the host and make x there. So nothing is made or mounted in the new root by a path: every
 * parent is opened from the new root's fd one component at a time with openat2 RESOLVE_BENEATH |
 * NO_SYMLINKS | NO_MAGICLINKS, names are made with *at() calls in it, and mounts go on the fd
 * of the opened mount point. A symlink (or a way out) on the path stops the run. */

#define NEWROOT_RESOLVE (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

struct newroot {
	int root_fd;   /* the new root's tmpfs */
	int rootfs_fd; /* --rootfs, opened again in our namespace; -1 without one */
};

static const char *refusal_words(int errnum)
{
	switch (errnum) {
	case ELOOP:
		return " is a symlink";
	case EXDEV:
		return " leads out of the new root";
	case ENOTDIR:
		return " is not a directory";
	}
	return " cannot be opened";
}

/* The refusal, naming the part of dst that was refused (dst up to end) and dst itself. */
static int refuse_path(int errnum, const char *dst, const char *end, struct sk_err *err)
{
	static const char hint[] = "stockade makes mount points, files and links in the new root "
				   "only through real directories inside it: a --rootfs with a "
				   "symlink there is refused";
	char op[sizeof(err->op)], part[PATH_MAX];
	const char *in = mount_inside(dst);
	size_t len = (size_t)(end - in) + 1;

	sk_strlcpy(part, in, len < sizeof(part) ? len : sizeof(part));
	sk_strlcpy(op, "new root: ", sizeof(op));
	sk_strlcat(op, part, sizeof(op));
	sk_strlcat(op, refusal_words(errnum), sizeof(op));
	if (*end) {
		sk_strlcat(op, ", on the way to ", sizeof(op));
		sk_strlcat(op, in, sizeof(op));
	}
	return sk_fail_safe(err, "mount", errnum, op, NULL,
			    errnum == ELOOP || errnum == EXDEV ? hint : NULL);
}

static void close_parent(int fd, int root_fd)
{
	if (fd != root_fd)
		close(fd);
}

/* Opens the directory holding dst's last component beneath the new root, one component at a
 * time and through no symlink, making missing directories when make_parents (a volume's mount
 * point, like mkdir -p). *name is set to dst's last component. Returns an O_PATH fd, or root_fd
 * itself for a name at the top (most of them; close it with close_parent). */
static int open_parent(int root_fd, const char *dst, bool make_parents, const char **name,
		       struct sk_err *err)
{
	char component[NAME_MAX + 1];
	const char *p = mount_inside(dst), *end;
	int dir = root_fd, next, saved;

	*name = p; /* set on every path: the analyzer cannot see that refuse_path returns -1 */
	while (*p == '/')
		p++;
	for (end = strchrnul(p, '/'); *end; p = end + 1, end = strchrnul(p, '/')) {
		if ((size_t)(end - p) > NAME_MAX || end == p) {
			close_parent(dir, root_fd);
			return refuse_path(end == p ? EINVAL : ENAMETOOLONG, dst, end, err);
		}
		memcpy(component, p, (size_t)(end - p));
		component[end - p] = '\0';
		next =
		    sys_openat2(dir, component, O_PATH | O_DIRECTORY | O_CLOEXEC, NEWROOT_RESOLVE);
		if (next < 0 && errno == ENOENT && make_parents) {
			if (mkdirat(dir, component, 0755) < 0 && errno != EEXIST) {
				saved = errno;
				close_parent(dir, root_fd);
				return sk_fail_safe(err, "mount", saved, "mkdir", mount_inside(dst),
						    NULL);
			}
			next = sys_openat2(dir, component, O_PATH | O_DIRECTORY | O_CLOEXEC,
					   NEWROOT_RESOLVE);
		}
		saved = errno;
		close_parent(dir, root_fd);
		if (next < 0)
			return refuse_path(saved, dst, end, err);
		dir = next;
	}
	if (!*p) {
		close_parent(dir, root_fd);
		return refuse_path(EINVAL, dst, end, err);
	}
	*name = p;
	return dir;
}

/* Makes (when missing) and opens the mount point dst beneath the new root: a directory, or an
 * empty file for a file bind. A symlink at dst or on the way is refused, never followed. */
int mount_open_mountpoint(int root_fd, const char *dst, int is_dir, bool make_parents,
			  struct sk_err *err)
{
	const char *name;
	int parent = open_parent(root_fd, dst, make_parents, &name, err), fd, rc, saved;

	if (parent < 0)
		return -1;
	rc = is_dir ? mkdirat(parent, name, 0755) : mknodat(parent, name, S_IFREG | 0444, 0);
	if (rc < 0 && errno != EEXIST) {
		saved = errno;
		close_parent(parent, root_fd);
		return sk_fail_safe(err, "mount", saved, is_dir ? "mkdir" : "create mount point",
				    mount_inside(dst), NULL);
	}
	fd = sys_openat2(parent, name, O_PATH | O_CLOEXEC | (is_dir ? O_DIRECTORY : 0),
			 NEWROOT_RESOLVE);
	saved = errno;
	close_parent(parent, root_fd);
	if (fd < 0)
		return refuse_path(saved, dst, dst + strlen(dst), err);
	return fd;
}

/* A read-only bind: the source cloned into a detached mount (from beneath the --rootfs and
 * through no symlink when it comes from one), attached on the mount point's fd, then made
 * read-only through its own fd, recursively for a directory. */
static int bind_entry(const struct newroot *nr, const struct mount_entry *e, int is_dir,
		      struct sk_err *err)
{
	unsigned tree_flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (is_dir ? AT_RECURSIVE : 0);
	int target, source = -1, tree = -1, rc = -1;

	target = mount_open_mountpoint(nr->root_fd, e->dst, is_dir, false, err);
	if (target < 0)
		return -1;
	if (nr->rootfs_fd >= 0) {
		source = sys_openat2(nr->rootfs_fd, e->src, O_PATH | O_CLOEXEC, NEWROOT_RESOLVE);
		if (source < 0) {
			sk_fail_safe(err, "mount", errno, "open --rootfs entry", e->src,
				     "did the root file system change while the sandbox started?");
			goto out;
		}
		tree = sys_open_tree(source, "", tree_flags | AT_EMPTY_PATH);
	} else {
		tree = sys_open_tree(AT_FDCWD, e->src, tree_flags);
	}
	if (tree < 0) {
		sk_fail_safe(err, "mount", errno, "bind mount", mount_inside(e->dst),
			     "the source must be readable by the sandbox's host uid");
		goto out;
	}
	if (sys_move_mount_fd(tree, target) < 0) {
		sk_fail_safe(err, "mount", errno, "move_mount(bind) on", mount_inside(e->dst),
			     NULL);
		goto out;
	}
	rc = restrict_mount(tree, NULL, mount_inside(e->dst), is_dir,
			    MOUNT_RESTRICT_RDONLY | MOUNT_RESTRICT_NOSUID | MOUNT_RESTRICT_NODEV,
			    err);
out:
	if (tree >= 0)
		close(tree);
	if (source >= 0)
		close(source);
	close(target);
	return rc;
}

/* The new root's own file (written by an earlier entry, before the workload exists) bound
 * read-only over a file of a bound host directory: both ends opened beneath the new root. */
static int overlay_entry(int root_fd, const struct mount_entry *e, struct sk_err *err)
{
	int target, source, tree = -1, rc = -1;

	source = sys_openat2(root_fd, e->src + 1, O_PATH | O_CLOEXEC, NEWROOT_RESOLVE);
	if (source < 0)
		return sk_fail_safe(err, "mount", errno, "open", e->src, NULL);
	target = mount_open_mountpoint(root_fd, e->dst, 0, false, err);
	if (target < 0) {
		close(source);
		return -1;
	}
	tree = sys_open_tree(source, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (tree < 0 || sys_move_mount_fd(tree, target) < 0)
		sk_fail_safe(err, "mount", errno, "bind over", mount_inside(e->dst), NULL);
	else
		rc = restrict_mount(
		    tree, NULL, mount_inside(e->dst), 0,
		    MOUNT_RESTRICT_RDONLY | MOUNT_RESTRICT_NOSUID | MOUNT_RESTRICT_NODEV, err);
	if (tree >= 0)
		close(tree);
	close(source);
	close(target);
	return rc;
}

static int tmpfs_entry(int root_fd, const struct mount_entry *e, struct sk_err *err)
{
	char target_path[32];
	int target = mount_open_mountpoint(root_fd, e->dst, 1, false, err), rc;

	if (target < 0)
		return -1;
	rc = mount("tmpfs", fd_path(target, target_path, sizeof(target_path)), "tmpfs",
		   MS_NOSUID | MS_NODEV | e->flags, e->src);
	if (rc < 0)
		sk_fail_safe(err, "mount", errno, "mount tmpfs on", mount_inside(e->dst), NULL);
	close(target);
	return rc < 0 ? -1 : 0;
}

/* A symlink or a file made in its parent, opened beneath the new root: symlinkat and
 * O_CREAT|O_EXCL never follow an existing name either. */
static int make_entry(int root_fd, const struct mount_entry *e, struct sk_err *err)
{
	const char *name;
	int parent = open_parent(root_fd, e->dst, false, &name, err), fd, rc;

	if (parent < 0)
		return -1;
	if (e->kind == MOUNT_SYMLINK) {
		rc = symlinkat(e->src, parent, name);
		if (rc < 0)
			sk_fail_safe(err, "mount", errno, "symlink", mount_inside(e->dst), NULL);
		close_parent(parent, root_fd);
		return rc < 0 ? -1 : 0;
	}
	fd = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	close_parent(parent, root_fd);
	if (fd < 0)
		return sk_fail_safe(err, "mount", errno, "create", mount_inside(e->dst), NULL);
	rc = fds_write_all(fd, e->content, e->content_len);
	if (rc < 0)
		sk_fail_safe(err, "mount", errno, "write", mount_inside(e->dst), NULL);
	close(fd);
	return rc;
}

static int apply_entry(const struct newroot *nr, const struct mount_entry *e, struct sk_err *err)
{
	int fd;

	switch (e->kind) {
	case MOUNT_DIR:
		fd = mount_open_mountpoint(nr->root_fd, e->dst, 1, false, err);
		if (fd < 0)
			return -1;
		close(fd);
		return 0;
	case MOUNT_BIND_DIR:
		return bind_entry(nr, e, 1, err);
	case MOUNT_BIND_FILE:
		return bind_entry(nr, e, 0, err);
	case MOUNT_SYMLINK:
	case MOUNT_FILE:
		return make_entry(nr->root_fd, e, err);
	case MOUNT_TMPFS:
	case MOUNT_SECRETS:
		return tmpfs_entry(nr->root_fd, e, err);
	case MOUNT_OVERLAY_FILE:
		return overlay_entry(nr->root_fd, e, err);
	}
	return sk_fail_safe(err, "mount", EINVAL, "unknown plan entry", NULL, NULL);
}

/* As a user: the volume opened again in our own namespace, beneath its store root and through
 * no symlink, must be the inode the parent verified; its clone is then ours to attach. */
static int clone_volume_here(const struct mount_volume *v, struct sk_err *err)
{
	struct stat st;
	int root, dir, tree;

	root = open(v->host_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return sk_fail_safe(err, "mount", errno, "open volume store", v->host_root, NULL);
	dir = sys_openat2(root, v->name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
			  RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
			      RESOLVE_NO_XDEV);
	close(root);
	if (dir < 0)
		return sk_fail_safe(err, "mount", errno, "open volume", v->name, NULL);
	if (fstat(dir, &st) < 0 || st.st_dev != v->dev || st.st_ino != v->ino) {
		close(dir);
		return sk_fail_safe(err, "mount", EXDEV,
				    "volume changed since it was verified:", v->name,
				    "run again; is something replacing volume directories?");
	}
	tree = sys_open_tree(dir, "",
			     OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
	close(dir);
	if (tree < 0)
		return sk_fail_safe(err, "mount", errno, "open_tree(volume)", v->name, NULL);
	if (sys_mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE,
			      mount_volume_attr(v->is_readonly)) < 0) {
		close(tree);
		return sk_fail_safe(err, "mount", errno, "mount_setattr(volume)", v->name, NULL);
	}
	return tree;
}

/* A volume on its mount point, made like mkdir -p beneath the new root (in the rootfs's own
 * directories, or in a tmpfs of ours below it). */
int mount_apply_volume(int root_fd, const struct mount_volume *v, struct sk_err *err)
{
	int tree = v->is_detached ? v->fd : -1, target, rc = -1;

	target = mount_open_mountpoint(root_fd, v->dst, 1, true, err);
	if (target < 0)
		return -1;
	if (!v->is_detached && (tree = clone_volume_here(v, err)) < 0) {
		close(target);
		return -1;
	}
	rc = sys_move_mount_fd(tree, target);
	if (rc < 0)
		sk_fail_safe(err, "mount", errno, "move_mount(volume) on", mount_inside(v->dst),
			     NULL);
	close(target);
	if (tree != v->fd)
		close(tree);
	close(v->fd); /* kept open through child_fds() only until now */
	return rc < 0 ? -1 : 0;
}

static int build_newroot(const struct mount_plan *plan, const struct newroot *nr,
			 struct sk_err *err)
{
	for (size_t i = 0; i < plan->count; i++)
		if (apply_entry(nr, &plan->entries[i], err) < 0)
			return -1;
	for (size_t i = 0; i < plan->volume_count; i++)
		if (mount_apply_volume(nr->root_fd, &plan->volumes[i], err) < 0)
			return -1;
	return plan->workspace.is_set ? mount_apply_workspace(nr->root_fd, &plan->workspace, err)
				      : 0;
}

int mount_apply(const struct mount_plan *plan, struct sk_err *err)
{
	struct newroot nr = {-1, -1};
	int rc;

	/* Nothing we mount may propagate back to the host's mount namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return sk_fail_safe(err, "mount", errno, "make / private (MS_REC|MS_PRIVATE)", NULL,
				    NULL);
	if (mount("tmpfs", MOUNT_NEWROOT, "tmpfs", MS_NOSUID | MS_NODEV, plan->root_data) < 0)
		return sk_fail_safe(
		    err, "mount", errno, "mount root tmpfs on", MOUNT_NEWROOT,
		    "the host needs a /sys directory to build the sandbox's root on");
	nr.root_fd = open(MOUNT_NEWROOT, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (nr.root_fd < 0)
		return sk_fail_safe(err, "mount", errno, "open the new root", MOUNT_NEWROOT, NULL);
	/* The --rootfs by the path the caller gave (resolved by the parent), in our own namespace:
	 * only mounts of it can be cloned. Its entries are opened beneath it. */
	if (plan->rootfs) {
		nr.rootfs_fd = open(plan->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (nr.rootfs_fd < 0) {
			close(nr.root_fd);
			return sk_fail_safe(err, "mount", errno, "open --rootfs", plan->rootfs,
					    "the sandbox's host uid must be able to read it");
		}
	}
	rc = build_newroot(plan, &nr, err);
	if (nr.rootfs_fd >= 0)
		close(nr.rootfs_fd);
	close(nr.root_fd);
	return rc;
}

int mount_child_fds(const struct mount_plan *plan, int *fds, size_t capacity)
{
	size_t n = 0;

	for (size_t i = 0; i < plan->volume_count && n < capacity; i++)
		if (plan->volumes[i].fd >= 0)
			fds[n++] = plan->volumes[i].fd;
	if (plan->workspace.is_set && plan->workspace.lower.fd >= 0 && n < capacity)
		fds[n++] = plan->workspace.lower.fd;
	if (plan->workspace.is_set && plan->workspace.upper.fd >= 0 && n < capacity)
		fds[n++] = plan->workspace.upper.fd;
	return (int)n;
}

int mount_finish(const struct mount_plan *plan, struct sk_err *err)
{
	if (mount_make_readonly(MOUNT_NEWROOT, 0, err) < 0)
		return -1;
	/* pivot_root(".", ".") stacks the old root on top of the new one; detaching "." then
	 * removes it with every host mount below it, leaving no path back to the host tree. */
	if (chdir(MOUNT_NEWROOT) < 0 || sys_pivot_root(".", ".") < 0)
		return sk_fail_safe(err, "mount", errno, "pivot_root", MOUNT_NEWROOT,
				    "is stockade running in a chroot?");
	if (umount2(".", MNT_DETACH) < 0)
		return sk_fail_safe(err, "mount", errno, "detach the host's root", NULL, NULL);
	if (chdir("/") < 0)
		return sk_fail_safe(err, "mount", errno, "chdir", "/", NULL);
	if (chdir(plan->workdir) < 0)
		return sk_fail_safe(err, "workdir", errno, "chdir", plan->workdir,
				    "--workdir must name a directory inside the sandbox");
	return 0;
}
