/* The rlimit layer. Limits are computed in the parent from its own (a limit is only ever
 * lowered, never raised) and set in the child before capabilities are dropped. The real
 * ceilings on memory, processes and CPU are the cgroup's; these are per-process backstops. */
#include "sandbox/rlimit.h"

#include <errno.h>

static void plan_lower(struct rlimit_plan *plan, int resource, rlim_t wanted)
{
	struct rlimit cur;

	if (getrlimit(resource, &cur) < 0)
		return;
	if (cur.rlim_max == RLIM_INFINITY || wanted < cur.rlim_max)
		cur.rlim_max = wanted;
	if (cur.rlim_cur == RLIM_INFINITY || cur.rlim_cur > cur.rlim_max)
		cur.rlim_cur = cur.rlim_max;
	plan->items[plan->count].resource = resource;
	plan->items[plan->count].limit = cur;
	plan->count++;
}

int rlimit_prepare(struct rlimit_plan *plan, const struct sandbox_spec *spec, struct sk_err *err)
{
	(void)spec;
	(void)err;
	plan->count = 0;
	plan_lower(plan, RLIMIT_CORE, 0);
	plan_lower(plan, RLIMIT_NOFILE, 65536);
	/* Pending signals and locked memory: kernel-memory backstops. */
	plan_lower(plan, RLIMIT_SIGPENDING, 65536);
	plan_lower(plan, RLIMIT_MEMLOCK, 64u << 20);
	return 0;
}

int rlimit_apply(const struct rlimit_plan *plan, struct sk_err *err)
{
	for (int i = 0; i < plan->count; i++)
		if (setrlimit(plan->items[i].resource, &plan->items[i].limit) < 0)
			return sk_fail_safe(err, "rlimit", errno, "setrlimit", NULL, NULL);
	return 0;
}
