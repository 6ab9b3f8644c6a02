/* Real probes of each isolation layer: each one tries the real operation in a throwaway child
 * (create the namespace, write the maps, mount, pivot, load a filter and check it is
 * enforced, ...), never a version check. `stockade doctor` prints them; `stockade run` uses
 * them (cached per boot) to refuse with a diagnosis before it starts anything. */
#ifndef STOCKADE_PROBE_H
#define STOCKADE_PROBE_H

#include <stdbool.h>

#include "sandbox/container.h"

enum probe_layer {
	PROBE_USERNS,	/* user namespace + uid/gid map + setgroups deny */
	PROBE_MOUNTNS,	/* mount namespace: tmpfs, bind read-only (mount_setattr), pivot_root */
	PROBE_PIDNS,	/* PID namespace, and a fresh procfs mounted in it */
	PROBE_NETNS,	/* network namespace with lo brought up */
	PROBE_IPCNS,	/* IPC namespace */
	PROBE_UTSNS,	/* UTS namespace + sethostname */
	PROBE_CGROUPNS, /* cgroup namespace */
	PROBE_SECCOMP,	/* a filter loads and is enforced (a denied call fails with our errno) */
	PROBE_LANDLOCK, /* a ruleset restricts and a denied access is denied */
	PROBE_CGROUP,	/* a cgroup for the limits can be made, written and removed */
	PROBE_OVERLAY,	/* an overlay in a user namespace hides its lower layer's changes */
	PROBE_COUNT,
};

enum probe_status {
	PROBE_OK,	   /* works */
	PROBE_UNAVAILABLE, /* the kernel or the environment does not offer it */
	PROBE_BROKEN,	   /* offered, but the operation fails or is not enforced */
};

struct probe_result {
	enum probe_layer layer;
	const char *name; /* "userns", "mountns", ..., stable: used in JSON and the cache */
	bool is_required; /* needed by every run (cgroup: only with --memory/--pids/--cpus;
			   * overlay: only with --workspace) */
	enum probe_status status;
	char op[128];		/* the failing operation, e.g. "unshare(CLONE_NEWUSER)" */
	int errnum;		/* its errno, 0 if none */
	char diagnosis[256];	/* the likely cause */
	char remedy[512];	/* what to do: the sysctl, the profile, the kernel config, the flag;
				 * in a container, the engine's own setting (container.h) */
	enum container_fix fix; /* the kind of failure a container's defaults cause, or none */
	char detail[128];	/* when ok: e.g. "ABI 7", "x86_64; x32 and i386 killed" */
	double duration_ms;
};

/* Runs every probe; results[i].layer == i. Never fails as a whole: a probe that cannot even
 * start reports itself broken. */
void probe_all(struct probe_result results[PROBE_COUNT]);
/* Fills layer, name and is_required of every result without probing (status ok). */
void probe_describe(struct probe_result results[PROBE_COUNT]);
/* Runs one probe. */
void probe_one(enum probe_layer layer, struct probe_result *result);

const char *probe_status_name(enum probe_status status); /* "ok", "unavailable", "broken" */

#endif
