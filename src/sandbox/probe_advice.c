/* The probes' words (see probe_advice.h). */
#include "sandbox/probe_advice.h"

#include <errno.h>

#include "spec/spec.h"
#include "util/macros.h"

const struct ns_info ns_user = {"user", "CONFIG_USER_NS", "user.max_user_namespaces"};
const struct ns_info ns_mount = {"mount", "CONFIG_NAMESPACES", "user.max_mnt_namespaces"};
const struct ns_info ns_pid = {"PID", "CONFIG_PID_NS", "user.max_pid_namespaces"};
const struct ns_info ns_net = {"network", "CONFIG_NET_NS", "user.max_net_namespaces"};
const struct ns_info ns_ipc = {"IPC", "CONFIG_IPC_NS", "user.max_ipc_namespaces"};
const struct ns_info ns_uts = {"UTS", "CONFIG_UTS_NS", "user.max_uts_namespaces"};
const struct ns_info ns_cgroup = {"cgroup", "CONFIG_CGROUPS", "user.max_cgroup_namespaces"};

/* clang-format off */
const char remedy_report[] =
	"this is unexpected: report it with the output of `stockade doctor --json` and dmesg";
const char remedy_seccomp_ns[] = "give the container stockade's seccomp profile, "
	"deploy/seccomp/stockade.json (docker --security-opt seccomp=stockade.json, Kubernetes "
	"seccompProfile type Localhost), or drop systemd's RestrictNamespaces=";
const char remedy_mount[] = "give the container stockade's seccomp profile, "
	"deploy/seccomp/stockade.json, and run it unconfined by AppArmor (docker --security-opt "
	"seccomp=stockade.json --security-opt apparmor=unconfined)";
const char remedy_userns[] = "Kubernetes: hostUsers: false and seccompProfile type Localhost "
	"with deploy/seccomp/stockade.json; docker: --security-opt seccomp=stockade.json; "
	"systemd: remove RestrictNamespaces=, PrivateUsers=";
const char remedy_landlock[] = "boot a kernel with CONFIG_SECURITY_LANDLOCK=y and "
	"'landlock' in lsm=, or run with --allow-degraded landlock";
const char remedy_seccomp[] = "allow seccomp(2) in the container's seccomp profile "
	"(deploy/seccomp/stockade.json does: docker --security-opt seccomp=stockade.json, "
	"Kubernetes seccompProfile type Localhost), or run with --allow-degraded seccomp";

const struct advice userns_refused[] = {
	[USERNS_SYSCTL] = {EPERM, PROBE_UNAVAILABLE, "kernel.unprivileged_userns_clone=0 forbids "
		"user namespaces to unprivileged users", "sysctl -w "
		"kernel.unprivileged_userns_clone=1 (persist it in /etc/sysctl.d/), or run "
		"stockade as root", FIX_NONE},
	[USERNS_APPARMOR] = {EPERM, PROBE_UNAVAILABLE, "AppArmor's unprivileged user namespace "
		"restriction (Ubuntu: kernel.apparmor_restrict_unprivileged_userns=1) denies it",
		"sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile "
		"for stockade with the 'userns,' rule", FIX_APPARMOR_USERNS},
	[USERNS_SECCOMP] = {EPERM, PROBE_UNAVAILABLE, "blocked by the seccomp profile of the "
		"container or service that runs stockade (this process is under a seccomp filter)",
		remedy_userns, FIX_SECCOMP},
	[USERNS_ANY] = {EPERM, PROBE_UNAVAILABLE, "blocked by a seccomp profile, by AppArmor's "
		"unprivileged user namespace restriction (kernel.apparmor_restrict_unprivileged_"
		"userns=1), by kernel.unprivileged_userns_clone=0 or by an LSM policy",
		remedy_userns, FIX_SECCOMP},
};

/* Creating a namespace other than the user one (ENOSPC and EINVAL are worded per namespace;
 * EACCES is read as EPERM). */
const struct advice ns_advice[] = {
	{EPERM, PROBE_UNAVAILABLE, "refused although the process holds every capability in its "
		"user namespace: a seccomp profile or an LSM policy around stockade forbids it",
		remedy_seccomp_ns, FIX_SECCOMP},
	{ENOSYS, PROBE_UNAVAILABLE, "the call answered ENOSYS: a seccomp profile refuses it "
		"(Docker's default and systemd's RestrictNamespaces= do so for clone3), or the "
		"kernel is older than Linux 5.3", remedy_seccomp_ns, FIX_SECCOMP},
	{EUSERS, PROBE_UNAVAILABLE, "user namespaces are already nested 32 deep here",
		"run stockade from a less deeply nested sandbox", FIX_NONE},
	{0, PROBE_BROKEN, "creating the namespace failed unexpectedly (out of memory, "
		"RLIMIT_NPROC?)", remedy_report, FIX_NONE},
};

/* The mount layer's own functions (EACCES is read as EPERM). */
const struct advice mount_advice[] = {
	{EPERM, PROBE_UNAVAILABLE, "refused although the process holds every capability in its "
		"user and mount namespaces: a seccomp profile forbids the mount calls, or an LSM "
		"(AppArmor's docker-default, SELinux) denies them", remedy_mount, FIX_MOUNT},
	{ENOSYS, PROBE_UNAVAILABLE, "the call answered ENOSYS: a seccomp profile refuses it, or "
		"the kernel is too old (mount_setattr needs Linux 5.12)", remedy_mount, FIX_MOUNT},
	{EINVAL, PROBE_UNAVAILABLE, "stockade's root cannot be pivoted from: it runs in a chroot "
		"or on the initramfs rootfs", "run stockade from a real root filesystem", FIX_NONE},
	{ENOENT, PROBE_UNAVAILABLE, "a directory the mount layer needs is missing (/sys to build "
		"the new root on, /usr)",
		"provide /sys and /usr on the host or in the container", FIX_NONE},
	{0, PROBE_BROKEN, "a mount in a new mount namespace failed unexpectedly",
		remedy_report, FIX_NONE},
};

/* The workspace's overlay (mount_overlay), made in a user namespace as a run makes it. */
const struct advice overlay_advice[] = {
	{ENODEV, PROBE_UNAVAILABLE, "the kernel has no overlay file system",
		"load it (modprobe overlay; CONFIG_OVERLAY_FS), or give workspaces as copies: "
		"--workspace-copy", FIX_NONE},
	{EPERM, PROBE_UNAVAILABLE, "overlay was refused in a user namespace: the kernel is older "
		"than 5.11, or a seccomp profile or an LSM refuses fsopen/fsconfig",
		remedy_mount, FIX_MOUNT},
	{ENOSYS, PROBE_UNAVAILABLE, "fsopen answered ENOSYS: a seccomp profile refuses it, or "
		"the kernel is older than 5.2", remedy_mount, FIX_MOUNT},
	{EINVAL, PROBE_UNAVAILABLE, "the kernel's overlay refuses the options a workspace needs "
		"(userxattr: Linux 5.11)", "use --workspace-copy, or a newer kernel", FIX_NONE},
	{0, PROBE_BROKEN, "an overlay in a new user and mount namespace failed unexpectedly",
		remedy_report, FIX_NONE},
};

/* mount(2) itself worked (/ was made private): EPERM is the kernel's mount_too_revealing(). */
const struct advice procfs_advice[] = {
	{EPERM, PROBE_UNAVAILABLE, "/proc is masked: a container runtime overmounted parts of "
		"it, so the kernel refuses a new procfs in a user namespace", "run the container "
		"with an unmasked /proc (docker --security-opt systempaths=unconfined, Kubernetes "
		"procMount: Unmasked), or give stockade a fully visible /proc", FIX_PROC},
	{0, PROBE_BROKEN, "mounting a fresh procfs in a new PID namespace failed",
		remedy_report, FIX_NONE},
};

const struct advice net_advice[] = {
	{EPERM, PROBE_UNAVAILABLE, "refused although the process holds CAP_NET_ADMIN in its "
		"network namespace: a seccomp profile or an LSM policy forbids it", "allow "
		"socket(AF_INET) and the SIOCGIFFLAGS/SIOCSIFFLAGS ioctls in the seccomp profile "
		"of the container or service that runs stockade", FIX_SECCOMP},
	{EAFNOSUPPORT, PROBE_UNAVAILABLE, "the kernel has no IPv4 (CONFIG_INET)",
		"use a kernel with IPv4", FIX_NONE},
	{0, PROBE_BROKEN, "bringing up lo in a new network namespace failed",
		remedy_report, FIX_NONE},
};

/* After the "already under a filter" case, which explain_seccomp words itself. */
const struct advice seccomp_advice[] = {
	{ENOSYS, PROBE_UNAVAILABLE, "the kernel was built without seccomp (CONFIG_SECCOMP)",
		remedy_seccomp, FIX_NONE},
	{EINVAL, PROBE_UNAVAILABLE, "the kernel refused the BPF program: CONFIG_SECCOMP_FILTER "
		"is off, or the built-in program is invalid", remedy_seccomp, FIX_NONE},
	{ENOMEM, PROBE_UNAVAILABLE, "the seccomp filters already stacked on this process leave "
		"no room: the kernel caps their total length", remedy_seccomp, FIX_NONE},
	{0, PROBE_BROKEN, "loading the seccomp filter failed unexpectedly",
		remedy_report, FIX_NONE},
};

/* EOPNOTSUPP (built in but not in lsm=) is read as ENOSYS. */
const struct advice landlock_advice[] = {
	{ENOSYS, PROBE_UNAVAILABLE, "Landlock is not enabled: it needs "
		"CONFIG_SECURITY_LANDLOCK=y and 'landlock' in the lsm= boot parameter",
		remedy_landlock, FIX_NONE},
	{EPERM, PROBE_UNAVAILABLE, "a seccomp profile of the container or service that runs "
		"stockade forbids the Landlock syscalls", "allow landlock_create_ruleset, "
		"landlock_add_rule and landlock_restrict_self in that profile, or run with "
		"--allow-degraded landlock", FIX_SECCOMP},
	{E2BIG, PROBE_UNAVAILABLE, "stockade already runs under 16 nested Landlock domains",
		remedy_landlock, FIX_NONE},
	{0, PROBE_BROKEN, "restricting with Landlock failed unexpectedly", remedy_report, FIX_NONE},
};
/* One-off cases, each matching any errno. */
const struct advice rootless_advice[] = {{0, PROBE_UNAVAILABLE, "stockade runs as "
	"root of a user namespace whose uid 0 is uid 0 outside too, and that lacks uid "
	STRINGIFY(SANDBOX_DEFAULT_HOST_UID) ", onto which root maps the sandbox user", "map uid "
	STRINGIFY(SANDBOX_DEFAULT_HOST_UID) " into that namespace (a larger subuid range), or run "
	"stockade there as a non-root user", FIX_NONE}};
const struct advice sigsys_advice[] = {{0, PROBE_UNAVAILABLE, "a seccomp filter around "
	"stockade kills the process on a system call this layer needs", remedy_seccomp_ns,
	FIX_SECCOMP}};
const struct advice timeout_advice[] = {{0, PROBE_BROKEN, "timed out: the probe did "
	"not finish within 2 s (a hung kernel operation, or an overloaded machine)", "run "
	"`stockade doctor` again; if it persists, look for hung tasks in dmesg", FIX_NONE}};
const struct advice hostname_advice[] = {{0, PROBE_UNAVAILABLE, "refused in the "
	"process's own UTS namespace: a seccomp profile forbids sethostname", "allow sethostname "
	"in that seccomp profile", FIX_SECCOMP}};
const struct advice nested_seccomp_advice[] = {{0, PROBE_UNAVAILABLE, "the container's "
	"seccomp profile forbids seccomp(2): stockade already runs under a filter that refuses to "
	"stack another", remedy_seccomp, FIX_SECCOMP}};
const struct advice attach_advice[] = {{0, PROBE_UNAVAILABLE, "the cgroup was made but "
	"no process can be moved into it (no write access to cgroup.procs of a common ancestor)",
	"delegate a cgroup subtree to stockade (systemd: Delegate=yes), or pass "
	"--allow-degraded cgroup", FIX_NONE}};
/* clang-format on */
