/* The capability layer: every set empty, the bounding set cleared, no_new_privs. */
#ifndef STOCKADE_CAPS_H
#define STOCKADE_CAPS_H

#include "util/err.h"

struct caps_plan {
	int last_cap; /* from /proc/sys/kernel/cap_last_cap */
};

/* Parent: reads the highest capability number this kernel knows. */
int caps_prepare(struct caps_plan *plan, struct sk_err *err);
/* Child, after mounts, hostname and rlimits (they need CAP_SYS_ADMIN / CAP_SYS_RESOURCE):
 * clears the bounding set (needs CAP_SETPCAP, so first), the ambient set, then effective,
 * permitted and inheritable with capset, and verifies the result with capget. */
int caps_apply(const struct caps_plan *plan, struct sk_err *err);
/* Child: PR_SET_NO_NEW_PRIVS, then read back. Required by Landlock and seccomp. */
int caps_set_no_new_privs(struct sk_err *err);

#endif
