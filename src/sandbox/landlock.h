/* The Landlock layer: read/exec on the read-only tree, write only on the tmpfs mounts and
 * writable volumes, scoped abstract unix sockets and signals where the ABI has them. The
 * rule list is built in the parent; the child opens the paths (inside the new root, after
 * pivot_root) and restricts itself. */
#ifndef STOCKADE_LANDLOCK_H
#define STOCKADE_LANDLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define LANDLOCK_MAX_RULES 32
#define LANDLOCK_PATH_MAX 256

struct landlock_rule {
	char path[LANDLOCK_PATH_MAX]; /* path inside the sandbox's root */
	uint64_t access;	      /* LANDLOCK_ACCESS_FS_* bits, already masked to the ABI */
};

struct landlock_plan {
	int abi;	     /* best ABI the kernel offers (>= 1) */
	uint64_t handled_fs; /* every filesystem right the ABI knows */
	uint64_t scoped;     /* LANDLOCK_SCOPE_* bits (ABI >= 6), else 0 */
	struct landlock_rule rules[LANDLOCK_MAX_RULES];
	size_t rule_count;
	char detail[128]; /* for the report: "ABI 7, 6 rules, scoped: abstract-unix,signal" */
};

/* Parent, before clone: probes the ABI (landlock_create_ruleset with
 * LANDLOCK_CREATE_RULESET_VERSION), and builds the rule list: read/exec beneath "/", write
 * beneath each of writable_paths (tmpfs mounts, writable volumes), and what /dev needs. Fails
 * (layer "landlock", with a hint naming the kernel config / lsm= boot parameter) when Landlock
 * is unavailable. */
int landlock_prepare(struct landlock_plan *plan, const char *const *writable_paths,
		     size_t writable_count, struct sk_err *err);

/* Child, after pivot_root and no_new_privs, before seccomp: creates the ruleset, opens each rule
 * path O_PATH|O_CLOEXEC, adds the rules (plus a rule for each of fds 0-2 that is a regular file
 * or character device, so /dev/stdout keeps working), and calls landlock_restrict_self.
 * Async-signal-safe: raw syscalls only. */
int landlock_apply(const struct landlock_plan *plan, struct sk_err *err);

/* The best ABI the kernel offers (>= 1), or -1 with err (layer "landlock", with a hint).
 * Also what doctor reports. */
int landlock_probe_abi(struct sk_err *err);

#endif
