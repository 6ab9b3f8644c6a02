/* The cgroup layer: --memory, --pids-limit and --cpus enforced by a cgroup made for the
 * sandbox. v2 where a delegated subtree with the controllers is writable; v1 controllers
 * (memory, pids, cpu) on hybrid hosts when running as root; otherwise an error unless the
 * caller passed --allow-degraded cgroup. All of it runs in the parent. */
#ifndef STOCKADE_CGROUP_H
#define STOCKADE_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "spec/spec.h"
#include "util/err.h"

#define CGROUP_MAX_DIRS 3

struct cgroup_plan {
	int version;	  /* 0: no cgroup made, 1 or 2 */
	bool is_degraded; /* limits asked for but not enforced (caller allowed) */
	char dirs[CGROUP_MAX_DIRS][PATH_MAX]; /* the cgroup directories made for this sandbox */
	int dir_count;
	char detail[256]; /* for the report: what was made, or why degraded */
};

/* Parent, before clone. With no limit in spec it makes nothing (version 0). Otherwise it makes
 * one cgroup per needed hierarchy, named after `name` (unique per run), beneath the cgroup
 * stockade itself is in, and writes the limits. When no hierarchy can be used, it fails
 * (layer "cgroup", saying why and what to do) unless spec->allow_degraded has LAYER_CGROUP,
 * in which case it sets is_degraded and returns 0. On failure nothing is left behind. */
int cgroup_prepare(struct cgroup_plan *plan, const struct sandbox_spec *spec, const char *name,
		   struct sk_err *err);

/* Parent, after clone and before the child proceeds: moves pid into every cgroup of the plan. */
int cgroup_attach(const struct cgroup_plan *plan, pid_t pid, struct sk_err *err);

/* Parent, after the sandbox ended: whether the memory controller killed a process of it. */
bool cgroup_oom_killed(const struct cgroup_plan *plan);

/* Parent: kills whatever is still in the cgroups and removes them. Safe to call twice. */
void cgroup_destroy(struct cgroup_plan *plan);

/* Removes the cgroups that runs and probes killed with SIGKILL left beside stockade's own
 * (their maker is gone, or its PID now belongs to a younger process), killing anything still in
 * them. Returns how many were removed. Cheap when there are none: one directory read per
 * hierarchy. */
unsigned cgroup_sweep_stale(void);

#endif
