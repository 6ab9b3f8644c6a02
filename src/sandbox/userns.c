/* The user-namespace layer: uid/gid maps written by the parent, identity taken by the child.
 * The workload is never host uid 0: as root we map onto SANDBOX_DEFAULT_HOST_UID, otherwise
 * onto the caller's own uid, and only that one uid is mapped. */
#define _GNU_SOURCE
#include "sandbox/userns.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/securebits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/macros.h"
#include "util/syscalls.h"

/* The per-user counts of inotify and fanotify objects are shared by every process of a host
 * uid: every sandbox started by root runs as uid 10001, and an unprivileged caller's sandboxes
 * share the caller's own. One sandbox holding them all (128 inotify instances by default)
 * made inotify_init fail in every other sandbox and for the caller. The kernel counts them in
 * every user namespace up the chain, each with its own limit (/proc/sys/user/max_* of that
 * namespace): the sandbox's namespace gets an eighth of the caller's limit, so several
 * sandboxes at once cannot starve each other or the caller. Nested user namespaces: none
 * (the seccomp filter denies them too; this holds when seccomp is degraded). */
static const struct {
	const char *file;
	unsigned divisor; /* 0: the value is 0 */
} limit_table[USERNS_LIMIT_COUNT] = {
    {"max_inotify_instances", 8}, {"max_inotify_watches", 8}, {"max_fanotify_groups", 8},
    {"max_fanotify_marks", 8},	  {"max_user_namespaces", 0},
};

static void plan_limits(struct userns_plan *plan)
{
	for (size_t i = 0; i < USERNS_LIMIT_COUNT; i++) {
		char path[64], text[32];
		unsigned long long caller = 0, value = 0;
		int fd;
		ssize_t n;

		plan->limits[i].file = limit_table[i].file;
		snprintf(path, sizeof(path), "/proc/sys/user/%s", limit_table[i].file);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		n = fd >= 0 ? read(fd, text, sizeof(text) - 1) : -1;
		if (fd >= 0)
			close(fd);
		if (n <= 0) {
			plan->limits[i].file = NULL; /* this kernel lacks it: nothing to cap */
			continue;
		}
		text[n] = '\0';
		caller = strtoull(text, NULL, 10);
		if (limit_table[i].divisor)
			value =
			    caller / limit_table[i].divisor ? caller / limit_table[i].divisor : 1;
		snprintf(plan->limits[i].value, sizeof(plan->limits[i].value), "%llu\n", value);
	}
}

int userns_limits_apply(const struct userns_plan *plan, struct sk_err *err)
{
	for (size_t i = 0; i < USERNS_LIMIT_COUNT; i++) {
		char path[64] = "/proc/sys/user/";
		const char *value = plan->limits[i].value;
		size_t length = 0;
		int fd;

		if (!plan->limits[i].file)
			continue;
		/* /proc/sys/user shows the namespace of the reader: ours, though this /proc is
		 * still the host's mount. No allocation, no stdio: we are after clone. */
		sk_strlcat(path, plan->limits[i].file, sizeof(path));
		while (value[length])
			length++;
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return sk_fail_safe(err, "userns", errno, "open", path, NULL);
		if (write(fd, value, length) != (ssize_t)length) {
			int saved = errno;
			close(fd);
			return sk_fail_safe(err, "userns", saved, "write", path, NULL);
		}
		close(fd);
	}
	return 0;
}

int userns_prepare(struct userns_plan *plan, const struct sandbox_spec *spec, struct sk_err *err)
{
	struct identity id;

	memset(plan, 0, sizeof(*plan));
	plan->uid = spec->uid;
	plan->gid = spec->gid;
	if (identity_find(&id, err) < 0)
		return -1;
	plan->host_uid = id.uid;
	plan->host_gid = id.gid;
	plan->is_root_caller = id.is_privileged_root;
	plan_limits(plan);
	if (geteuid() == 0 && setgroups(0, NULL) < 0 && id.is_privileged_root)
		/* Supplementary groups survive clone; as root they include gid 0. The child
		 * cannot drop them after setgroups is denied, so the parent drops its own. (A
		 * namespace root whose setgroups is denied keeps the groups it was given, which
		 * are unprivileged ones of the parent namespace.) */
		return sk_fail(err, "userns", errno, NULL, "setgroups(0) in the parent");
	/* Host uid 0 is refused above; uid 0 of a user namespace is allowed only when it is an
	 * unprivileged uid outside (identity_find). */
	if (id.is_privileged_root && (plan->host_uid == 0 || plan->host_gid == 0))
		return sk_fail(err, "userns", 0, "run stockade as root or as a normal user",
			       "refusing to map the sandbox user onto host uid/gid 0");
	snprintf(plan->detail, sizeof(plan->detail), "uid %u->%u, gid %u->%u (%s), setgroups deny",
		 (unsigned)plan->uid, (unsigned)plan->host_uid, (unsigned)plan->gid,
		 (unsigned)plan->host_gid, id.mapping);
	return 0;
}

static int write_proc_file(pid_t pid, const char *name, const char *text, struct sk_err *err)
{
	char path[64];
	int fd;
	size_t len = strlen(text);

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return sk_fail(err, "userns", errno, NULL, "open(%s)", path);
	if (write(fd, text, len) != (ssize_t)len) {
		int saved = errno;
		close(fd);
		return sk_fail(err, "userns", saved,
			       "the kernel refused the identity map; a security module or sysctl "
			       "may restrict user namespaces",
			       "write(%s, \"%.40s\")", path, text);
	}
	close(fd);
	return 0;
}

int userns_from_parent(const struct userns_plan *plan, pid_t pid, struct sk_err *err)
{
	char map[64];

	/* setgroups must be denied before an unprivileged gid_map write (kernel rule), and we
	 * want it denied as root too: the workload must never gain groups. */
	if (write_proc_file(pid, "setgroups", "deny", err) < 0)
		return -1;
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)plan->uid, (unsigned)plan->host_uid);
	if (write_proc_file(pid, "uid_map", map, err) < 0)
		return -1;
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)plan->gid, (unsigned)plan->host_gid);
	return write_proc_file(pid, "gid_map", map, err);
}

int userns_idmap_fd(uid_t from_uid, gid_t from_gid, uid_t to_uid, gid_t to_gid, struct sk_err *err)
{
	int ready[2], hold[2], ns = -1, status;
	char map[64], path[64], byte = 0;
	pid_t pid;

	if (pipe2(ready, O_CLOEXEC) < 0)
		return sk_fail(err, "userns", errno, NULL, "pipe for the idmap namespace");
	if (pipe2(hold, O_CLOEXEC) < 0) {
		close(ready[0]);
		close(ready[1]);
		return sk_fail(err, "userns", errno, NULL, "pipe for the idmap namespace");
	}
	/* A child only holds the namespace open while we write its maps and open it; it does
	 * nothing else and is gone before this returns. */
	pid = fork();
	if (pid == 0) {
		close(ready[0]);
		close(hold[1]);
		byte = unshare(CLONE_NEWUSER) == 0 ? 1 : 0;
		if (write(ready[1], &byte, 1) == 1)
			(void)!read(hold[0], &byte, 1); /* until the parent closes its end */
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	if (pid > 0 && read(ready[0], &byte, 1) == 1 && byte == 1) {
		snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)from_uid, (unsigned)to_uid);
		if (write_proc_file(pid, "uid_map", map, err) == 0) {
			snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)from_gid,
				 (unsigned)to_gid);
			if (write_proc_file(pid, "gid_map", map, err) == 0) {
				snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
				ns = open(path, O_RDONLY | O_CLOEXEC);
				if (ns < 0)
					sk_fail(err, "userns", errno, NULL, "open(%s)", path);
			}
		}
	} else {
		sk_fail(err, "userns", pid < 0 ? errno : EPERM, NULL,
			"a user namespace for the workspace's idmapped mount");
	}
	close(hold[1]);
	close(ready[0]);
	if (pid > 0)
		(void)RETRY_EINTR(waitpid(pid, &status, 0));
	return ns;
}

int userns_apply(const struct userns_plan *plan, struct sk_err *err)
{
	/* Lock the securebits while we still hold CAP_SETPCAP:
	 * - NOROOT: no uid inside is ever treated as root at execve (no caps granted on exec);
	 * - NO_SETUID_FIXUP: setresuid below must not change the capability sets, we still need
	 *   CAP_SYS_ADMIN for the mounts and drop every capability explicitly afterwards;
	 * - NO_CAP_AMBIENT_RAISE: ambient capabilities can never be raised again;
	 * each with its _LOCKED bit so the workload cannot undo it. */
	unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
			     SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
			     SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;

	if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) < 0)
		return sk_fail_safe(err, "caps", errno, "prctl(PR_SET_SECUREBITS)", NULL, NULL);
	/* Become the sandbox user at once: as root the child's kernel uid is still host 0, and
	 * host-root-owned files would pass the owner permission check while it stays so. */
	/* Raw syscalls (util/syscalls.h): no thread synchronisation in a child out of clone3. */
	if (sys_setresgid(plan->gid) < 0)
		return sk_fail_safe(err, "userns", errno, "setresgid", NULL, NULL);
	if (sys_setresuid(plan->uid) < 0)
		return sk_fail_safe(err, "userns", errno, "setresuid", NULL, NULL);
	return 0;
}
