/* The seccomp layer: a deny-list filter (Docker's default deny set and more), compiled with
 * libseccomp when stockade is built (seccomp_policy.h) and loaded with the raw seccomp(2)
 * call in the child. */
#ifndef STOCKADE_SECCOMP_H
#define STOCKADE_SECCOMP_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stdlib.h>

#include "util/err.h"

struct seccomp_plan {
	const struct sock_filter *filter; /* BPF program exported by libseccomp */
	bool is_allocated;		  /* filter is malloc'd (seccomp_compile) */
	unsigned short filter_len;	  /* instructions */
	unsigned rule_count;		  /* rules added to the libseccomp context */
	char detail[128];		  /* for the report: "libseccomp 2.5.4, x86_64, N rules" */
};

/* Parent, before clone: takes the program compiled at build time. It cannot fail: the build
 * (seccomp_compile in tools/gen_seccomp) refuses a program the kernel would not load, empty
 * or longer than BPF_MAXINSNS. */
void seccomp_prepare(struct seccomp_plan *plan);

/* Child, last step before exec: loads the filter. Requires no_new_privs already set.
 * Async-signal-safe: only the seccomp(2) syscall on memory prepared by the parent. */
int seccomp_apply(const struct seccomp_plan *plan, struct sk_err *err);

/* Inline so the build-time generator, which has no generated program to link, shares it. */
static inline void seccomp_plan_free(struct seccomp_plan *plan)
{
	if (plan->is_allocated)
		free((void *)plan->filter);
	plan->is_allocated = false;
	plan->filter = NULL;
	plan->filter_len = 0;
}

#endif
