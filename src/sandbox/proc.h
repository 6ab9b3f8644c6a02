/* The /proc layer: a fresh procfs of the sandbox's PID namespace, sensitive entries masked. */
#ifndef STOCKADE_PROC_H
#define STOCKADE_PROC_H

#include "util/err.h"

#define PROC_MAX_MASKS 24

struct proc_plan {
	const char *masked_files[PROC_MAX_MASKS]; /* paths under MOUNT_NEWROOT "/proc" */
	int masked_file_count;
	const char *masked_dirs[PROC_MAX_MASKS];
	int masked_dir_count;
};

/* Parent: chooses the entries to mask from the host's procfs (the new one is the same
 * kernel's): files readable by others, directories that exist. */
int proc_prepare(struct proc_plan *plan, struct sk_err *err);

/* Child (PID 1 of the new PID namespace), while the host's /proc is still mounted in its
 * mount namespace: the kernel only lets a user namespace mount procfs when a fully visible one
 * exists in its mount namespace. */
int proc_apply(const struct proc_plan *plan, struct sk_err *err);

#endif
