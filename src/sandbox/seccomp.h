/* The seccomp layer: a deny-list filter (Docker's default deny set and more), compiled with
 * libseccomp in the parent and loaded with the raw seccomp(2) call in the child. */
#ifndef STOCKADE_SECCOMP_H
#define STOCKADE_SECCOMP_H

#include <linux/filter.h>
#include <stdbool.h>

#include "util/err.h"

struct seccomp_plan {
	struct sock_filter *filter; /* BPF program exported by libseccomp (malloc'd) */
	unsigned short filter_len;  /* instructions */
	unsigned rule_count;	    /* rules added to the libseccomp context */
	char detail[128];	    /* for the report: "libseccomp 2.5.4, x86_64, N rules" */
};

/* Parent, before clone: builds and exports the filter. May allocate. */
int seccomp_prepare(struct seccomp_plan *plan, struct sk_err *err);

/* Child, last step before exec: loads the filter. Requires no_new_privs already set.
 * Async-signal-safe: only the seccomp(2) syscall on memory prepared by the parent. */
int seccomp_apply(const struct seccomp_plan *plan, struct sk_err *err);

void seccomp_plan_free(struct seccomp_plan *plan);

#endif
