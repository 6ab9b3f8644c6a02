/* Size limits of named volumes (`stockade volume create --size`), enforced by the file system
 * with a project quota on the volume directory. */
#ifndef STOCKADE_QUOTA_H
#define STOCKADE_QUOTA_H

#include <stdint.h>

#include "util/err.h"

/* Gives the directory dir_fd its own project (id derived from its inode, inherited by all it
 * will hold) and a hard block limit of bytes for that project. Fails with a message saying what
 * to do when the file system has no project quota or the caller is not root. */
int quota_limit_dir(int dir_fd, uint64_t bytes, struct sk_err *err);

#endif
