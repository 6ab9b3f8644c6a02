/* The capability layer. Raw capset/capget (no libcap): all five sets end empty, and the
 * result is read back, because privilege state must be verified, not inferred
 * (bubblewrap CVE-2020-5291; crun CVE-2022-27650 for inheritable/ambient surviving exec). */
#include "sandbox/caps.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "util/syscalls.h"

int caps_prepare(struct caps_plan *plan, struct sk_err *err)
{
	char buf[16] = {0};
	int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	plan->last_cap = 63; /* dropping unknown numbers fails with EINVAL, which we accept */
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return sk_fail(err, "caps", errno, NULL, "read /proc/sys/kernel/cap_last_cap");
	plan->last_cap = atoi(buf);
	if (plan->last_cap < CAP_SETPCAP || plan->last_cap > 63)
		return sk_fail(err, "caps", ERANGE, NULL, "cap_last_cap=%d", plan->last_cap);
	return 0;
}

int caps_apply(const struct caps_plan *plan, struct sk_err *err)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];

	for (int cap = 0; cap <= plan->last_cap; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return sk_fail_safe(err, "caps", errno, "prctl(PR_CAPBSET_DROP)", NULL,
					    NULL);
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return sk_fail_safe(err, "caps", errno, "prctl(PR_CAP_AMBIENT_CLEAR_ALL)", NULL,
				    NULL);
	memset(data, 0, sizeof(data));
	if (sys_capset(&hdr, data) < 0)
		return sk_fail_safe(err, "caps", errno, "capset(all empty)", NULL, NULL);
	/* Verify: every set empty, bounding set empty. */
	if (sys_capget(&hdr, data) < 0)
		return sk_fail_safe(err, "caps", errno, "capget", NULL, NULL);
	for (int i = 0; i < 2; i++)
		if (data[i].effective || data[i].permitted || data[i].inheritable)
			return sk_fail_safe(err, "caps", EPERM, "verify", "capabilities remain",
					    NULL);
	for (int cap = 0; cap <= plan->last_cap; cap++)
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1)
			return sk_fail_safe(err, "caps", EPERM, "verify", "bounding set not empty",
					    NULL);
	return 0;
}

int caps_set_no_new_privs(struct sk_err *err)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return sk_fail_safe(err, "caps", errno, "prctl(PR_SET_NO_NEW_PRIVS)", NULL, NULL);
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return sk_fail_safe(err, "caps", EPERM, "verify no_new_privs", NULL, NULL);
	return 0;
}
