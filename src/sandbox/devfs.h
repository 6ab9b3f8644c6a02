/* The /dev layer: a minimal device tree on a read-only tmpfs. */
#ifndef STOCKADE_DEVFS_H
#define STOCKADE_DEVFS_H

#include "util/err.h"

/* The one writable place devfs makes (a tmpfs): Landlock grants write there. */
#define DEVFS_SHM "/dev/shm"

/* Child, between mount_apply and mount_finish: builds MOUNT_NEWROOT/dev with null, zero,
 * full, random, urandom and tty bound from the host's nodes, a private devpts instance,
 * /dev/ptmx, a tmpfs /dev/shm, and the fd/stdin/stdout/stderr links. */
int devfs_apply(struct sk_err *err);

#endif
