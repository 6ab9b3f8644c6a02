/* The /proc layer: a fresh procfs of the sandbox's PID namespace, sensitive entries masked. */
#ifndef STOCKADE_PROC_H
#define STOCKADE_PROC_H

#include "util/err.h"

/* Child (PID 1 of the new PID namespace), while the host's /proc is still reachable under
 * MOUNT_OLDROOT: the kernel only lets a user namespace mount procfs when a fully visible one
 * exists in its mount namespace. */
int proc_apply(struct sk_err *err);

#endif
