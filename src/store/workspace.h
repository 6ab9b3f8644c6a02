/* Workspaces: a host project seen copy-on-write inside a sandbox (`run --workspace DIR`).
 *
 * The sandbox sees an overlay at its guest path: the lower layer is DIR itself, opened by the
 * caller and mounted read-only; the upper and work directories live in a managed volume named
 * WORKSPACE_VOLUME_PREFIX NAME, so nothing the sandbox does writes to DIR. The volume's
 * directory holds (the sandbox sees only what is inside upper/, through the overlay):
 *
 *   ws.json   the workspace's record (struct workspace_meta), written by the host side only
 *   upper/    the overlay's upper layer: what the sandbox changed. Overlay marks, always in the
 *             user.* namespace because every sandbox mounts it in its own user namespace
 *             (the `userxattr` option): a deleted entry is a character device 0:0 (a
 *             whiteout); a directory the sandbox removed and made again carries
 *             user.overlay.opaque = "y" (the lower directory's entries are hidden)
 *   work/     the overlay's work directory (empty between runs)
 *
 * Everything in upper/ was written by the sandbox: it is read like a hostile tree (directory
 * fds, no symlink followed). */
#ifndef STOCKADE_WORKSPACE_H
#define STOCKADE_WORKSPACE_H

#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "spec/spec.h"
#include "util/err.h"

#define WORKSPACE_VOLUME_PREFIX "ws-"
#define WORKSPACE_META "ws.json"
#define WORKSPACE_UPPER "upper"
#define WORKSPACE_WORK "work"
/* A workspace name is a volume name without the prefix. */
#define WORKSPACE_NAME_MAX (SANDBOX_VOLUME_NAME_MAX - 3)
#define WORKSPACE_OPAQUE_XATTR "user.overlay.opaque"

struct workspace_meta {
	char dir[PATH_MAX]; /* the host directory, absolute, as the caller named it */
	dev_t dev;	    /* the directory's device and inode when the workspace was made: */
	ino_t ino;	    /* every later use checks it is still that directory */
	char guest[SANDBOX_GUEST_PATH_MAX + 1];
	/* When the workspace was made, before any sandbox saw the lower layer: the ctime the
	 * kernel stamped on upper/ as it was made. A host entry whose ctime is at or after it
	 * may have changed since: apply calls that a conflict. A kernel stamp, not a clock
	 * reading: ctimes are ordered across files (coarse ticks; with multigrain timestamps,
	 * Linux 6.13, a fine stamp raises the floor every later coarse one starts from), while a
	 * clock read now may lag a fine stamp given a moment ago (a false conflict) or, read
	 * finely, lead a coarse one given a moment later (a missed one). */
	long long started_sec;
	long started_nsec;
	bool is_copy; /* --workspace-copy: upper/ is a full copy of DIR, not an overlay layer */
};

/* 0 when name is a valid workspace name (a volume name short enough for the prefix). */
int workspace_check_name(const char *name);

/* The spec's workspace fields, checked for any front end: the guest path as a volume's, beside
 * no volume (neither the same path nor one inside the other), a valid name, and the workspace
 * options only with a workspace. Refusals are one line, layer "cli". */
int workspace_check_spec(const struct sandbox_spec *spec, struct sk_err *err);

/* The checks DIR passes before it becomes a lower layer (or an import source): path absolute
 * after the caller's own resolution, a real directory (the last component no symlink), owned
 * by the caller or by root, not "/", not a system tree (/usr, /etc, /proc, /sys, /dev, /boot,
 * /var and below them), not the caller's whole home directory ($HOME or the passwd entry's),
 * not inside stockade's home (store_home). On success returns an O_RDONLY|O_DIRECTORY fd of
 * it and fills st and canonical (the path with symlinks of its parents resolved, for the
 * record). Refusals are one line, layer "workspace". */
int workspace_open_dir(const char *path, const char *store_home, char *canonical,
		       size_t canonical_size, struct stat *st, struct sk_err *err);

/* ws.json in the volume directory vol_fd: written with O_EXCL beside and renamed into place;
 * read back refusing anything but a regular file of ours that parses. */
int workspace_meta_write(int vol_fd, const struct workspace_meta *meta, struct sk_err *err);
int workspace_meta_read(int vol_fd, struct workspace_meta *meta, struct sk_err *err);

/* ---- for `run --workspace` ---- */

struct volume_store;
struct workspace_run {
	char name[WORKSPACE_NAME_MAX + 1];
	char lower_path[PATH_MAX];
	struct workspace_meta meta;
	struct volume_handle *handle; /* the volume ws-NAME, held (shared) for the run */
	int lock_fd;		      /* flock(LOCK_EX) on it: one sandbox per workspace */
	int copy_fd;		      /* --workspace-copy: upper/, mounted as a volume */
	char copy_root[PATH_MAX];     /* and the volume's directory, upper/'s parent */
	struct sandbox_open_workspace open;
};

/* Opens spec's workspace for a run: the project directory checked (workspace_open_dir), the
 * workspace named spec->workspace.name or else after the directory's last component, created
 * with its record on first use (started = now) or else checked to be this directory's, and
 * locked so that no other sandbox uses it at the same time. run->open is what the engine
 * mounts. With spec->workspace.is_copy, a new workspace's upper/ gets a copy of the directory
 * (safepath_copy_tree: nothing below it followed) and run->open.volume is upper/ itself.
 * expected_fd (3 or above; less: none) is a directory the one opened must be (same device and
 * inode).  On failure
 * nothing this call created is left. */
int workspace_run_acquire(struct volume_store *store, const struct sandbox_spec *spec,
			  int expected_fd, struct workspace_run *run, struct sk_err *err);
/* After the run; a workspace created for a run that never started is removed. */
void workspace_run_release(struct volume_store *store, struct workspace_run *run, bool has_started);

#endif
