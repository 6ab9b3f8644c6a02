/* The rlimit layer: per-process resource limits, lowered only. */
#ifndef STOCKADE_RLIMIT_H
#define STOCKADE_RLIMIT_H

#include <sys/resource.h>

#include "spec/spec.h"
#include "util/err.h"

#define RLIMIT_PLAN_MAX 8

struct rlimit_plan {
	struct {
		int resource;
		struct rlimit limit;
	} items[RLIMIT_PLAN_MAX];
	int count;
};

/* Parent: no core dumps (a dump could write the sandbox's memory to the host), a bounded
 * number of open files, never above what stockade itself was given. */
int rlimit_prepare(struct rlimit_plan *plan, const struct sandbox_spec *spec, struct sk_err *err);
/* Child: setrlimit each item. */
int rlimit_apply(const struct rlimit_plan *plan, struct sk_err *err);

#endif
