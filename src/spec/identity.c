/* Where the sandbox user lands on the host (see identity.h). The workload is never host uid 0:
 * as root it lands on SANDBOX_DEFAULT_HOST_UID, otherwise on the caller's own uid. */
#include "spec/identity.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "spec/spec.h"
#include "util/macros.h"

/* Where `id` of our user namespace lands in the parent namespace, from /proc/self/MAP
 * ("inside outside count" lines); -1 when it is not mapped or the file cannot be read. */
static long long parent_id(const char *map, unsigned long id)
{
	char path[32];
	unsigned long inside, outside, count;
	long long found = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/%s", map);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (found < 0 && fscanf(f, "%lu %lu %lu", &inside, &outside, &count) == 3)
		if (id >= inside && id - inside < count) {
			unsigned long up = outside + (id - inside);
			found = (long long)up;
		}
	fclose(f);
	return found;
}

int identity_find(struct identity *id, struct sk_err *err)
{
	long long uid_up, gid_up;

	memset(id, 0, sizeof(*id));
	if (geteuid() != 0) {
		id->uid = geteuid();
		id->gid = getegid();
		sk_strlcpy(id->mapping, "the caller's own uid", sizeof(id->mapping));
		return 0;
	}
	/* Root: the sandbox user lands on the unprivileged SANDBOX_DEFAULT_HOST_UID when this
	 * namespace has it (the initial namespace's identity map has every uid). */
	uid_up = parent_id("uid_map", SANDBOX_DEFAULT_HOST_UID);
	gid_up = parent_id("gid_map", SANDBOX_DEFAULT_HOST_UID);
	if (uid_up > 0 && gid_up > 0) {
		id->uid = id->gid = SANDBOX_DEFAULT_HOST_UID;
		id->is_privileged_root = true;
		sk_strlcpy(id->mapping, "root: uid " STRINGIFY(SANDBOX_DEFAULT_HOST_UID),
			   sizeof(id->mapping));
		return 0;
	}
	/* Root of a user namespace that lacks it (rootless Podman/Docker, a pod with
	 * hostUsers: false, `unshare --map-root-user`): that root is an unprivileged uid of the
	 * parent namespace, so the sandbox user lands on it, as on an unprivileged caller. Only
	 * when our uid 0 is uid 0 of the parent too is there no safe uid to use. */
	uid_up = parent_id("uid_map", 0);
	gid_up = parent_id("gid_map", 0);
	if (uid_up > 0 && gid_up > 0) {
		snprintf(id->mapping, sizeof(id->mapping),
			 "root of a user namespace: its uid 0 (uid %lld outside)", uid_up);
		return 0;
	}
	return sk_fail(
	    err, "userns", 0,
	    "map uid " STRINGIFY(SANDBOX_DEFAULT_HOST_UID) " into this user namespace, or run "
							   "stockade here as a non-root user",
	    "uid 0 here is uid 0 outside too, and uid " STRINGIFY(
		SANDBOX_DEFAULT_HOST_UID) " (where root puts the sandbox user) is not "
					  "mapped");
}
