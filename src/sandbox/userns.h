/* The user-namespace layer: who the workload is. The parent writes the uid/gid maps (the
 * sandbox uid maps to the caller's uid, or to an unprivileged host uid when run as root, never
 * to host uid 0; setgroups denied); the child takes that identity before anything else. */
#ifndef STOCKADE_USERNS_H
#define STOCKADE_USERNS_H

#include <stdbool.h>
#include <sys/types.h>

#include "spec/identity.h"
#include "spec/spec.h"
#include "util/err.h"

#define USERNS_LIMIT_COUNT 5

struct userns_plan {
	uid_t uid, host_uid; /* inside -> outside */
	gid_t gid, host_gid;
	bool is_root_caller; /* stockade itself runs as host root */
	char detail[160];
	/* Per-sandbox caps on kernel objects counted per user (userns_limits_apply): the
	 * values as text, ready for write(2) in the child. */
	struct {
		const char *file; /* under /proc/sys/user/ */
		char value[24];
	} limits[USERNS_LIMIT_COUNT];
};

/* Parent, before clone. As root it also drops the supplementary groups of stockade itself,
 * because a child cannot drop them once setgroups is denied in its namespace. */
int userns_prepare(struct userns_plan *plan, const struct sandbox_spec *spec, struct sk_err *err);
/* Parent, after clone: /proc/PID/setgroups = deny, then uid_map and gid_map. */
int userns_from_parent(const struct userns_plan *plan, pid_t pid, struct sk_err *err);
/* Parent: a user namespace that maps from_uid/from_gid (and nothing else) onto to_uid/to_gid,
 * for an idmapped mount (mount_setattr MOUNT_ATTR_IDMAP): a file owned by from_uid on disk
 * shows as to_uid through the mount. Returns its fd (close it once the mount is made). */
int userns_idmap_fd(uid_t from_uid, gid_t from_gid, uid_t to_uid, gid_t to_gid,
		    struct sk_err *err);
/* Child, first step after the maps exist: lock the securebits, then setresgid/setresuid. */
int userns_apply(const struct userns_plan *plan, struct sk_err *err);
/* Child, right after userns_apply (it needs CAP_SYS_RESOURCE in the new namespace): caps the
 * sandbox's share of the per-user kernel objects (inotify, fanotify) and forbids nested user
 * namespaces, in the sandbox's own /proc/sys/user. */
int userns_limits_apply(const struct userns_plan *plan, struct sk_err *err);

#endif
