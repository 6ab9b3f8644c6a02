/* The seccomp policy: which syscalls, arguments and architectures the sandbox is denied,
 * written with libseccomp. Compiled into BPF when stockade is built (tools/gen_seccomp.c) and
 * by the unit tests; never at launch time. */
#ifndef STOCKADE_SECCOMP_POLICY_H
#define STOCKADE_SECCOMP_POLICY_H

#include "sandbox/seccomp.h"

/* Builds the policy with libseccomp and exports its BPF program into plan (allocated, free
 * with seccomp_plan_free). */
int seccomp_compile(struct seccomp_plan *plan, struct sk_err *err);

#endif
