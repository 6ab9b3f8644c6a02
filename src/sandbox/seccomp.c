/* The seccomp layer at run time: the BPF program was compiled from the policy in
 * seccomp_policy.c when stockade was built (tools/gen_seccomp.c), so a launch pays neither
 * libseccomp's compilation nor its loading; the child loads it with the raw seccomp(2) call. */
#include "sandbox/seccomp.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/syscalls.h"

/* Generated at build time into seccomp_program.c. */
extern const struct sock_filter seccomp_program[];
extern const unsigned short seccomp_program_len;
extern const unsigned seccomp_program_rules;
extern const char seccomp_program_detail[];

void seccomp_prepare(struct seccomp_plan *plan)
{
	*plan = (struct seccomp_plan){0};
	plan->filter = seccomp_program;
	plan->filter_len = seccomp_program_len;
	plan->rule_count = seccomp_program_rules;
	sk_strlcpy(plan->detail, seccomp_program_detail, sizeof(plan->detail));
}

static const char *apply_hint(int errnum)
{
	switch (errnum) {
	case EACCES:
		return "no_new_privs must be set before the filter is loaded";
	case EINVAL:
		return "the kernel refused the BPF program; is CONFIG_SECCOMP_FILTER enabled?";
	case ENOSYS:
		return "the kernel was built without seccomp (CONFIG_SECCOMP)";
	case ENOMEM:
		return "the kernel limits the total size of a process's seccomp filters";
	default:
		return NULL;
	}
}

int seccomp_apply(const struct seccomp_plan *plan, struct sk_err *err)
{
	if (!plan->filter || plan->filter_len == 0)
		return sk_fail_safe(err, "seccomp", EINVAL, "seccomp(SECCOMP_SET_MODE_FILTER)",
				    NULL, "no BPF program: seccomp_prepare() did not run");
	/* Flags 0: no TSYNC (the child has one thread) and no SPEC_ALLOW, so the kernel keeps
	 * its speculative-store-bypass mitigation for the sandbox. */
	if (sys_seccomp_set_filter(0, plan->filter, plan->filter_len) != 0) {
		int saved = errno;

		return sk_fail_safe(err, "seccomp", saved, "seccomp(SECCOMP_SET_MODE_FILTER)", NULL,
				    apply_hint(saved));
	}
	return 0;
}
