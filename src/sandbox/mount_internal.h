/* What mount.c (the child side), mount_plan.c (the parent side) and mount_overlay.c (the
 * workspace's overlay) share: one layer, three files. */
#ifndef STOCKADE_MOUNT_INTERNAL_H
#define STOCKADE_MOUNT_INTERNAL_H

#include "sandbox/mount.h"

/* Parent: v planned from the directory the front end opened (ov), mounted at guest: as root a
 * detached clone with its attributes set, as a user the verified fd and where to re-open it. */
int mount_plan_volume(struct mount_volume *v, const struct sandbox_open_volume *ov,
		      const char *guest, bool is_readonly, struct sk_err *err);
void mount_volume_free(struct mount_volume *v);
/* The attributes every volume gets: nosuid, nodev, and read-only for :ro. */
uint64_t mount_volume_attr(bool is_readonly);
/* MOUNT_NEWROOT "/x" -> "/x", for messages. */
const char *mount_inside(const char *dst);
/* Child: dst's directory (or file) beneath the new root, through no symlink, made like mkdir
 * -p when make_parents. Returns an O_PATH fd. */
int mount_open_mountpoint(int root_fd, const char *dst, int is_dir, bool make_parents,
			  struct sk_err *err);
/* Child: v attached on its mount point (its fd closed). */
int mount_apply_volume(int root_fd, const struct mount_volume *v, struct sk_err *err);

/* mount_overlay.c */
int mount_plan_workspace(struct mount_plan *plan, const struct sandbox_spec *spec,
			 const struct sandbox_open_workspace *ws, struct sk_err *err);
void mount_workspace_free(struct mount_workspace *w);
int mount_apply_workspace(int root_fd, const struct mount_workspace *w, struct sk_err *err);

#endif
