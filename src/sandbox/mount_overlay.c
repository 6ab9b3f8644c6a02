/* The workspace's overlay (mount.h, struct mount_workspace; store/workspace.h): the project
 * directory as the read-only lower layer at the guest path, the workspace volume's upper/ and
 * work/ above it. Nothing the sandbox does can reach the project directory for writing: the
 * overlay writes only to its upper layer, and the lower mount it covers is read-only. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/mount_internal.h"
#include "sandbox/userns.h"
#include "spec/identity.h"
#include "store/workspace.h"
#include "util/syscalls.h"

#define LOWER_ATTR (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)

/* ---- parent ---- */

/* As root: a detached, read-only clone of the project directory (its own mount only: the
 * overlay never crosses into a mount below it). When the directory's owner is not the uid the
 * sandbox maps, the clone is idmapped so that the owner shows as that uid: otherwise the
 * sandbox would see its files as nobody's, and overlay could not copy one up (it keeps the
 * owner, and an unmapped one cannot be written). Other owners inside stay unmapped. */
static int plan_lower_as_root(struct mount_volume *v, int dir_fd, const struct stat *st,
			      struct sk_err *err)
{
	struct mount_attr attr = {.attr_set = LOWER_ATTR};
	struct identity id;
	int ns = -1, rc;

	if (identity_find(&id, err) < 0)
		return -1;
	v->fd = sys_open_tree(dir_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (v->fd < 0)
		return sk_fail(err, "mount", errno, NULL, "open_tree(workspace %s)",
			       mount_inside(v->dst));
	v->is_detached = true;
	if (st->st_uid != id.uid || st->st_gid != id.gid) {
		ns = userns_idmap_fd(st->st_uid, st->st_gid, id.uid, id.gid, err);
		if (ns < 0)
			return -1;
		attr.attr_set |= MOUNT_ATTR_IDMAP;
		attr.userns_fd = (uint64_t)ns;
	}
	rc = mount_setattr(v->fd, "", AT_EMPTY_PATH, &attr, sizeof(attr));
	if (ns >= 0)
		close(ns);
	if (rc < 0)
		return sk_fail(err, "mount", errno,
			       ns >= 0 ? "idmapped mounts need Linux 5.12 and a file system that "
					 "supports them (ext4, xfs, btrfs, tmpfs from 6.3)"
				       : NULL,
			       "mount_setattr(workspace %s%s)", mount_inside(v->dst),
			       ns >= 0 ? ", idmapped" : "");
	return 0;
}

int mount_plan_workspace(struct mount_plan *plan, const struct sandbox_spec *spec,
			 const struct sandbox_open_workspace *ws, struct sk_err *err)
{
	struct mount_workspace *w = &plan->workspace;
	struct mount_volume *lower = &w->lower;
	struct stat st;

	if (!ws || ws->lower_fd < 0 || fstat(ws->lower_fd, &st) < 0 || !S_ISDIR(st.st_mode))
		return sk_fail(err, "mount", EBADF, NULL, "the workspace for %s was not opened",
			       spec->workspace.guest);
	w->is_set = true;
	/* --workspace-copy: upper/ holds a copy of the project and is mounted as a volume. */
	w->is_copy = spec->workspace.is_copy;
	if (w->is_copy)
		return mount_plan_volume(&w->upper, &ws->volume, spec->workspace.guest, false, err);
	if (mount_plan_volume(&w->upper, &ws->volume, &MOUNT_WS_STAGE[sizeof(MOUNT_NEWROOT) - 1],
			      false, err) < 0)
		return -1;
	lower->fd = -1;
	lower->is_readonly = true;
	lower->dev = st.st_dev;
	lower->ino = st.st_ino;
	if (asprintf(&lower->dst, MOUNT_NEWROOT "%s", spec->workspace.guest) < 0) {
		lower->dst = NULL;
		return sk_fail(err, "mount", ENOMEM, NULL, "planning the workspace");
	}
	if (geteuid() == 0)
		return plan_lower_as_root(lower, ws->lower_fd, &st, err);
	lower->fd = ws->lower_fd;
	lower->name = strdup(ws->lower_path);
	if (!lower->name)
		return sk_fail(err, "mount", ENOMEM, NULL, "planning the workspace");
	return 0;
}

void mount_workspace_free(struct mount_workspace *w)
{
	if (!w->is_set)
		return;
	mount_volume_free(&w->lower);
	mount_volume_free(&w->upper);
	w->is_set = false;
}

/* ---- child (async-signal-safe, no allocation) ---- */

/* "/proc/self/fd/N" into buf: how overlay is given a layer we opened (it resolves the magic
 * link to exactly that mount and directory, wherever a path would lead now). */
static const char *fd_path(char *buf, size_t size, int fd)
{
	static const char prefix[] = "/proc/self/fd/";
	char digits[12];
	size_t n = 0;

	do {
		digits[n++] = (char)('0' + fd % 10);
		fd /= 10;
	} while (fd > 0 && n < sizeof(digits));
	if (sizeof(prefix) + n > size)
		return "";
	memcpy(buf, prefix, sizeof(prefix) - 1);
	for (size_t i = 0; i < n; i++)
		buf[sizeof(prefix) - 1 + i] = digits[n - 1 - i];
	buf[sizeof(prefix) - 1 + n] = '\0';
	return buf;
}

/* As a user: the project directory opened again in our own namespace (only a mount of it can
 * be cloned), by the path the kernel gave the front end, through no symlink; it must be the
 * inode the parent checked. Then a read-only clone of it. */
static int clone_lower_here(const struct mount_volume *v, struct sk_err *err)
{
	struct stat st;
	int dir, tree;

	dir = sys_openat2(AT_FDCWD, v->name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
			  RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
	if (dir < 0)
		return sk_fail_safe(err, "mount", errno, "open workspace", v->name, NULL);
	if (fstat(dir, &st) < 0 || st.st_dev != v->dev || st.st_ino != v->ino) {
		close(dir);
		return sk_fail_safe(err, "mount", EXDEV,
				    "workspace changed since it was checked:", v->name,
				    "run again; is something replacing the directory?");
	}
	tree = sys_open_tree(dir, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	close(dir);
	if (tree < 0)
		return sk_fail_safe(err, "mount", errno, "open_tree(workspace)", v->name, NULL);
	if (sys_mount_setattr(tree, "", AT_EMPTY_PATH, LOWER_ATTR) < 0) {
		close(tree);
		return sk_fail_safe(err, "mount", errno, "mount_setattr(workspace)", v->name, NULL);
	}
	return tree;
}

static int attach_lower(int root_fd, const struct mount_volume *v, struct sk_err *err)
{
	int tree, target, rc;

	if (v->is_detached)
		return mount_apply_volume(root_fd, v, err);
	target = mount_open_mountpoint(root_fd, v->dst, 1, true, err);
	if (target < 0)
		return -1;
	tree = clone_lower_here(v, err);
	rc = tree < 0 ? -1 : sys_move_mount_fd(tree, target);
	if (tree >= 0 && rc < 0)
		sk_fail_safe(err, "mount", errno, "move_mount(workspace) on", mount_inside(v->dst),
			     NULL);
	if (tree >= 0)
		close(tree);
	close(target);
	close(v->fd); /* kept open through child_fds() only until now */
	return rc < 0 ? -1 : 0;
}

/* The kernel's own words on why overlay refused (the fs context's message log), if any. */
static void overlay_log(int fs_fd, char *buf, size_t size)
{
	ssize_t n = fs_fd >= 0 ? read(fs_fd, buf, size - 1) : -1;

	buf[n > 0 ? n : 0] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
}

/* fsopen/fsconfig/fsmount: layers given as fd paths, `userxattr` because the mount is made
 * in the sandbox's user namespace (its marks are then user.overlay.*; trusted.* would need
 * the host's CAP_SYS_ADMIN), nosuid and nodev on the mount itself. */
int mount_overlay(int lower, int upper, int work, int target, struct sk_err *err)
{
	char lower_path[32], upper_path[32], work_path[32], log[160];
	const char *what = "fsopen(overlay)";
	int fs, mnt = -1, rc = -1;

	fs = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fs >= 0) {
		what = "fsconfig(overlay)";
		if (fsconfig(fs, FSCONFIG_SET_STRING, "source", "stockade-workspace", 0) == 0 &&
		    fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir",
			     fd_path(lower_path, sizeof(lower_path), lower), 0) == 0 &&
		    fsconfig(fs, FSCONFIG_SET_STRING, "upperdir",
			     fd_path(upper_path, sizeof(upper_path), upper), 0) == 0 &&
		    fsconfig(fs, FSCONFIG_SET_STRING, "workdir",
			     fd_path(work_path, sizeof(work_path), work), 0) == 0 &&
		    fsconfig(fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) == 0 &&
		    (what = "create the overlay",
		     fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0) &&
		    (what = "fsmount(overlay)",
		     (mnt = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)) >=
			 0) &&
		    (what = "move_mount(overlay)", sys_move_mount_fd(mnt, target) == 0))
			rc = 0;
	}
	if (rc < 0) {
		int saved = errno;
		overlay_log(fs, log, sizeof(log));
		sk_fail_safe(err, "mount", saved, what, log[0] ? log : NULL,
			     saved == ENODEV ? "this kernel has no overlay file system: `stockade "
					       "doctor` says more; --workspace-copy needs none"
					     : "`stockade doctor` checks overlay; --workspace-copy "
					       "works without it");
	}
	if (mnt >= 0)
		close(mnt);
	if (fs >= 0)
		close(fs);
	return rc;
}

static int open_layer(int stage, const char *name, struct sk_err *err)
{
	int fd = sys_openat2(stage, name, O_PATH | O_DIRECTORY | O_CLOEXEC,
			     RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
				 RESOLVE_NO_XDEV);

	if (fd < 0)
		sk_fail_safe(err, "mount", errno, "open the workspace's", name, NULL);
	return fd;
}

int mount_apply_workspace(int root_fd, const struct mount_workspace *w, struct sk_err *err)
{
	int lower = -1, stage = -1, upper = -1, work = -1, rc = -1;

	if (w->is_copy)
		return mount_apply_volume(root_fd, &w->upper, err);
	if (attach_lower(root_fd, &w->lower, err) < 0 ||
	    mount_apply_volume(root_fd, &w->upper, err) < 0)
		return -1;
	/* The attached lower layer's root, and the layers beneath the staged volume. */
	lower = mount_open_mountpoint(root_fd, w->lower.dst, 1, false, err);
	if (lower >= 0)
		stage = mount_open_mountpoint(root_fd, w->upper.dst, 1, false, err);
	if (stage >= 0 && (upper = open_layer(stage, WORKSPACE_UPPER, err)) >= 0 &&
	    (work = open_layer(stage, WORKSPACE_WORK, err)) >= 0)
		rc = mount_overlay(lower, upper, work, lower, err);
	if (work >= 0)
		close(work);
	if (upper >= 0)
		close(upper);
	if (stage >= 0)
		close(stage);
	if (lower >= 0)
		close(lower);
	/* The overlay holds its own private clones of its layers: the staged volume goes, and
	 * its mount point with it, before the new root becomes read-only. */
	if (rc == 0 && umount2(MOUNT_WS_STAGE, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
		rc = sk_fail_safe(err, "mount", errno, "detach", MOUNT_WS_STAGE, NULL);
	if (rc == 0 && unlinkat(root_fd, &MOUNT_WS_STAGE[sizeof(MOUNT_NEWROOT)], AT_REMOVEDIR) < 0)
		rc = sk_fail_safe(err, "mount", errno, "rmdir", MOUNT_WS_STAGE, NULL);
	return rc;
}
