/* The mount layer: a new root built from a plan. The parent lists what the root will hold
 * (read-only binds of the system tree or of --rootfs, a curated /etc, synthesized files, tmpfs
 * mounts); the child carries the list out and pivots into it, the old root detached. */
#ifndef STOCKADE_MOUNT_H
#define STOCKADE_MOUNT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "spec/spec.h"
#include "util/err.h"

/* Where the child builds the new root: a tmpfs mounted over /sys of its own copy of the host's
 * mount tree. Any directory would do that holds no bind source: we never bind anything from
 * sysfs, and no --rootfs can live there. Sources keep their host paths (MOUNT_HOST is the
 * prefix under which the host tree is seen while building: it is still our root). */
#define MOUNT_NEWROOT "/sys"
#define MOUNT_HOST ""

enum mount_kind {
	MOUNT_DIR,	    /* mkdir dst */
	MOUNT_BIND_DIR,	    /* read-only, recursive bind of the directory src on dst */
	MOUNT_BIND_FILE,    /* read-only bind of the file src on dst */
	MOUNT_SYMLINK,	    /* symlink src (the link's text) at dst */
	MOUNT_FILE,	    /* a file at dst holding `content` */
	MOUNT_TMPFS,	    /* a writable tmpfs at dst, mount data in src */
	MOUNT_SECRETS,	    /* the secrets' tmpfs: filled, then made read-only, by secrets.c */
	MOUNT_OVERLAY_FILE, /* read-only bind of the new root's own file src (made by an earlier
			     * entry) over the file dst of a bound directory */
};

struct mount_entry {
	enum mount_kind kind;
	unsigned long flags; /* extra MS_* flags for MOUNT_TMPFS (noexec) */
	/* Allocated by the parent; the child reads its copy-on-write image of them. */
	char *src; /* a bind's source: a host path, or relative to plan->rootfs */
	char *dst; /* full path while building: MOUNT_NEWROOT "/..." */
	char *content;
	size_t content_len;
};

/* A managed volume, mounted by file descriptor after the plan's entries. The kernel only
 * clones a mount of the caller's own mount namespace (open_tree, bind), and the child's is a
 * copy of ours, so: as root the parent clones the verified directory into a detached mount
 * before clone (open_tree(OPEN_TREE_CLONE)) and the child attaches it (move_mount); as a user,
 * who may not clone in the host's namespace, the child opens the volume again beneath its store
 * root in its own namespace (openat2, no symlinks), checks it is the very inode the parent
 * verified (device and inode numbers), clones that and attaches it. */
struct mount_volume {
	int fd; /* detached mount (is_detached), else the parent's verified directory */
	bool is_detached;
	bool is_readonly;
	dev_t dev; /* of the verified directory */
	ino_t ino;
	char *dst;	 /* MOUNT_NEWROOT guest-path */
	char *host_root; /* unprivileged: the store directory and the name below it */
	char *name;
};

/* A workspace (store/workspace.h): an overlay at the guest path whose lower layer is the
 * project directory and whose upper and work directories are in the workspace volume. Both are
 * attached like volumes (the same two ways, by root and by a user); the lower one at the guest
 * path itself, read-only, where the overlay then covers it; the volume at MOUNT_WS_STAGE only
 * while the overlay is made (sandbox/mount_overlay.c). As root, the lower layer is an idmapped
 * mount: the directory's owner shows as the sandbox's host uid, the one the sandbox maps. */
#define MOUNT_WS_STAGE MOUNT_NEWROOT "/.stockade-ws"
struct mount_workspace {
	bool is_set;
	bool is_copy; /* --workspace-copy: upper is the copy, a volume at the guest path */
	struct mount_volume lower; /* the project directory; name: its absolute path (user) */
	struct mount_volume upper; /* the workspace volume */
};

/* The fds a child keeps until its mounts are made: the volumes' and the workspace's two. */
#define MOUNT_MAX_CHILD_FDS (SANDBOX_MAX_VOLUMES + 2)

struct mount_plan {
	struct mount_entry *entries;
	size_t count, capacity;
	char *rootfs; /* --rootfs, resolved; NULL for the host's system tree */
	struct mount_volume volumes[SANDBOX_MAX_VOLUMES];
	size_t volume_count;
	struct mount_workspace workspace;
	char root_data[64]; /* tmpfs data of the new root itself */
	char workdir[PATH_MAX];
	char detail[128];
};

/* Parent, before clone. Lists the new root for spec (host system tree or spec->rootfs), with
 * spec->volumes[i] mounted from volumes[i] (the directories the front end opened) and the
 * workspace (spec->workspace) from what the front end opened for it. */
int mount_prepare(struct mount_plan *plan, const struct sandbox_spec *spec,
		  const struct sandbox_open_volume *volumes,
		  const struct sandbox_open_workspace *workspace, struct sk_err *err);
void mount_plan_free(struct mount_plan *plan);

/* Parent, after mount_prepare: a file at dst (a path inside; its directory must be one of the
 * plan's own, such as /etc) holding content, which the plan takes (freed with it, also on
 * failure). */
int mount_add_file(struct mount_plan *plan, const char *dst, char *content, size_t len,
		   struct sk_err *err);
/* Parent, after mount_prepare: the plan's file src shown at dst too, a read-only bind over the
 * file a bound directory has there (nothing when the plan binds no such file: dst must be a
 * regular file of the host's, under one of the curated /etc directories). */
int mount_add_overlay(struct mount_plan *plan, const char *src, const char *dst,
		      struct sk_err *err);

/* Parent: the paths inside the sandbox where the plan lets it write, its tmpfs mounts ($HOME,
 * /tmp) and writable volumes, into paths (up to capacity); returns how many. They point into
 * the plan. The Landlock layer grants write there (and on devfs's DEVFS_SHM) and nowhere else. */
size_t mount_writable_paths(const struct mount_plan *plan, const char **paths, size_t capacity);

/* Child. Makes every mount private, mounts the new root's tmpfs at MOUNT_NEWROOT and carries
 * out the plan, taking sources from the host tree (still the root; a --rootfs's entries from
 * beneath it, through no symlink). Everything made in the new root is made relative to its fd,
 * never through a symlink: one on the way to a mount point, file or link stops the run. */
int mount_apply(const struct mount_plan *plan, struct sk_err *err);
/* The fds the child must keep open until mount_apply() has mounted the volumes (it closes
 * them then). Fills up to capacity, returns how many. */
int mount_child_fds(const struct mount_plan *plan, int *fds, size_t capacity);
/* Child, after /dev and /proc are in place: the new root becomes read-only, the process
 * pivots into it, the whole host tree is detached, and it changes to the work directory. */
int mount_finish(const struct mount_plan *plan, struct sk_err *err);

/* Child: an overlay of the directories lower, upper and work (fds) attached on target (an fd),
 * as the workspace's is made; the overlay probe makes one the same way. */
int mount_overlay(int lower, int upper, int work, int target, struct sk_err *err);

/* Shared with devfs.c and proc.c (child side, async-signal-safe). */
#define MOUNT_RESTRICT_RDONLY 0x1 /* the MOUNT_ATTR_* values of mount_setattr(2) */
#define MOUNT_RESTRICT_NOSUID 0x2
#define MOUNT_RESTRICT_NODEV 0x4
#define MOUNT_RESTRICT_NOEXEC 0x8
/* Adds the MOUNT_RESTRICT_* attributes to the mount at path (and below it if recursive),
 * keeping those it already has. */
int mount_restrict(const char *path, int is_recursive, unsigned attrs, struct sk_err *err);
/* mount_restrict with read-only, nosuid, nodev. */
int mount_make_readonly(const char *path, int is_recursive, struct sk_err *err);
int mount_bind(const char *src, const char *dst, int is_dir, int is_readonly, struct sk_err *err);

#endif
