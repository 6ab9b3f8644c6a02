/* Who the sandbox user is on the host: the one host uid (and gid) the sandbox's uid maps onto.
 * The engine writes the uid map with it (sandbox/userns.c) and the volume store makes volumes
 * that uid's (store/volume.c), so both ask here. */
#ifndef STOCKADE_IDENTITY_H
#define STOCKADE_IDENTITY_H

#include <stdbool.h>
#include <sys/types.h>

#include "util/err.h"

/* Where the sandbox user lands outside: the caller's uid; as root, uid 10001; as root of a
 * user namespace without uid 10001 (a rootless container), that root itself, when it is an
 * unprivileged uid of the parent namespace. Fails when no such uid exists. */
struct identity {
	uid_t uid;
	gid_t gid;
	bool is_privileged_root; /* root with uid 10001 mapped: it lands there */
	char mapping[80];	 /* for the report and doctor */
};
int identity_find(struct identity *id, struct sk_err *err);

#endif
