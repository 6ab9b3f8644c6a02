/* The Landlock layer: the parent probes the ABI and compiles the rule list (read/exec on the
 * tree, write on the writable mounts, /dev and /proc), the child turns it into a ruleset with raw
 * syscalls only and restricts itself, after pivot_root and no_new_privs, before seccomp. */
#define _GNU_SOURCE
#include "sandbox/landlock.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/syscalls.h"

#define ACCESS_FS_READ_TREE                                                                        \
	(LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_EXECUTE)
#define ACCESS_FS_DEV                                                                              \
	(LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |                            \
	 LANDLOCK_ACCESS_FS_IOCTL_DEV | LANDLOCK_ACCESS_FS_READ_DIR)
#define ACCESS_FS_PROC                                                                             \
	(LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_WRITE_FILE)

static const char *const landlock_missing_hint =
    "the kernel needs CONFIG_SECURITY_LANDLOCK=y and Landlock in the lsm= boot parameter "
    "(e.g. lsm=landlock,lockdown,yama,apparmor,bpf); or run with --allow-degraded landlock";

int landlock_probe_abi(struct sk_err *err)
{
	int abi = sys_landlock_abi();

	if (abi >= 1)
		return abi;
	if (abi < 0 && (errno == ENOSYS || errno == EOPNOTSUPP))
		return sk_fail(err, "landlock", errno, landlock_missing_hint,
			       "landlock_create_ruleset(VERSION)");
	return sk_fail(
	    err, "landlock", abi < 0 ? errno : EINVAL,
	    "a seccomp profile of the container or service that runs stockade may forbid "
	    "the Landlock syscalls; allow them, or run with --allow-degraded landlock",
	    "landlock_create_ruleset(VERSION) returned %d", abi);
}

static int landlock_add_planned_rule(struct landlock_plan *plan, const char *path, uint64_t access,
				     struct sk_err *err)
{
	struct landlock_rule *rule;

	if (!path || path[0] != '/')
		return sk_fail(err, "landlock", EINVAL, "paths inside the sandbox must be absolute",
			       "rule for %s", path ? path : "(null)");
	if (strlen(path) >= LANDLOCK_PATH_MAX)
		return sk_fail(err, "landlock", ENAMETOOLONG, "use a shorter mount point",
			       "rule for %.64s...: path longer than %d bytes", path,
			       LANDLOCK_PATH_MAX - 1);
	if (plan->rule_count >= LANDLOCK_MAX_RULES)
		return sk_fail(err, "landlock", E2BIG, "use fewer writable volumes",
			       "rule for %s: more than %d Landlock rules", path,
			       LANDLOCK_MAX_RULES);
	rule = &plan->rules[plan->rule_count++];
	sk_strlcpy(rule->path, path, sizeof(rule->path));
	/* A rule may not name a right the ruleset does not handle (EINVAL from add_rule). */
	rule->access = access & plan->handled_fs;
	return 0;
}

static void landlock_describe(struct landlock_plan *plan)
{
	const char *scoped = "none (ABI < 6)";

	if (plan->scoped == (LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL))
		scoped = "abstract-unix,signal";
	snprintf(plan->detail, sizeof(plan->detail), "ABI %d, %zu rules, scoped: %s", plan->abi,
		 plan->rule_count, scoped);
}

int landlock_prepare(struct landlock_plan *plan, const char *const *writable_paths,
		     size_t writable_count, struct sk_err *err)
{
	memset(plan, 0, sizeof(*plan));
	plan->abi = landlock_probe_abi(err);
	if (plan->abi < 0)
		return -1;
	/* Every right the ABI knows. Network rights are deliberately never handled for the
	 * sandbox: it has its own network namespace and the workload must reach loopback
	 * servers (the egress proxy handles them for itself: net/proxy_harden.c). */
	plan->handled_fs = sys_landlock_fs_rights(plan->abi);
	/* Scoping shuts the two IPC channels a mount namespace does not close: abstract unix
	 * sockets (they live in the network namespace, which the host may share in degraded
	 * modes) and signals to processes outside the sandbox's Landlock domain. */
	if (plan->abi >= 6)
		plan->scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL;

	/* "/" is also mounted read-only; the rule makes the intent hold even if a mount is not. */
	if (landlock_add_planned_rule(plan, "/", ACCESS_FS_READ_TREE, err) < 0)
		return -1;
	/* /dev/null, /dev/tty, /dev/pts/N: open for writing and ioctl (termios). Nothing can be
	 * created there: no MAKE_* right, and the /dev tmpfs is read-only anyway. */
	if (landlock_add_planned_rule(plan, "/dev", ACCESS_FS_DEV, err) < 0)
		return -1;
	/* Programs write /proc/self/oom_score_adj, /proc/self/comm, ...; procfs's own permission
	 * checks still apply on top of this. */
	if (landlock_add_planned_rule(plan, "/proc", ACCESS_FS_PROC, err) < 0)
		return -1;
	if (writable_count > 0 && !writable_paths)
		return sk_fail(err, "landlock", EINVAL, NULL, "%zu writable paths given as NULL",
			       writable_count);
	for (size_t i = 0; i < writable_count; i++)
		if (landlock_add_planned_rule(plan, writable_paths[i], plan->handled_fs, err) < 0)
			return -1;
	landlock_describe(plan);
	return 0;
}

/* ---- Child side: async-signal-safe from here on (syscalls and stack buffers only). ---- */

static int landlock_add_path_rule(int ruleset_fd, const struct landlock_rule *rule,
				  struct sk_err *err)
{
	int fd;

	if (rule->access == 0)
		return 0; /* nothing to grant at this ABI; add_rule would say ENOMSG */
	fd = open(rule->path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return sk_fail_safe(err, "landlock", errno, "open", rule->path,
				    "a Landlock rule path is missing inside the sandbox root");
	if (sys_landlock_add_path_rule(ruleset_fd, rule->access, fd) < 0) {
		int saved_errno = errno;

		close(fd);
		return sk_fail_safe(err, "landlock", saved_errno, "landlock_add_rule", rule->path,
				    NULL);
	}
	close(fd);
	return 0;
}

/* What a rule on an already open fd may grant: no more than the fd itself allows, so a host file
 * passed read-only as stdin does not become writable by reopening /proc/self/fd/0. TRUNCATE
 * follows write because `> /dev/stdout` opens with O_TRUNC; IOCTL_DEV because any open fd
 * already permits ioctl (isatty, termios). */
static uint64_t landlock_stdio_access(int fd, uint64_t handled_fs)
{
	uint64_t access = LANDLOCK_ACCESS_FS_IOCTL_DEV;
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0)
		return 0;
	if ((flags & O_ACCMODE) != O_WRONLY)
		access |= LANDLOCK_ACCESS_FS_READ_FILE;
	if ((flags & O_ACCMODE) != O_RDONLY)
		access |= LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE;
	return access & handled_fs;
}

/* Reopening /dev/stdout (-> /proc/self/fd/1) resolves to the file the fd refers to, which may be
 * a host file or (--tty=never) the caller's terminal that no path rule covers. A rule on the fd
 * itself (a non-directory: file rights only) keeps that working without granting anything
 * beside that one inode. Only fds already open are used: nothing new is opened for this. With
 * the sandbox's own pty (tty.c, applied before this), fds 0-2 name its slave in /dev/pts. */
static int landlock_add_stdio_rules(int ruleset_fd, uint64_t handled_fs, struct sk_err *err)
{
	for (int fd = 0; fd <= 2; fd++) {
		struct stat st;
		uint64_t access;
		char name[16] = "fd ";
		char digit[4];
		int saved_errno;

		if (fstat(fd, &st) < 0)
			continue; /* closed: nothing to keep working */
		if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))
			continue; /* pipes and sockets are not subject to path rights */
		access = landlock_stdio_access(fd, handled_fs);
		if (access == 0)
			continue;
		if (sys_landlock_add_path_rule(ruleset_fd, access, fd) == 0)
			continue;
		saved_errno = errno;
		/* EBADFD: a file on an internal mount (memfd...); Landlock never checks those. */
		if (saved_errno == EBADFD)
			continue;
		sk_strlcat(name, sk_utoa((unsigned long long)fd, digit, sizeof(digit)),
			   sizeof(name));
		return sk_fail_safe(err, "landlock", saved_errno, "landlock_add_rule", name, NULL);
	}
	return 0;
}

static int landlock_fill_ruleset(int ruleset_fd, const struct landlock_plan *plan,
				 struct sk_err *err)
{
	for (size_t i = 0; i < plan->rule_count && i < LANDLOCK_MAX_RULES; i++)
		if (landlock_add_path_rule(ruleset_fd, &plan->rules[i], err) < 0)
			return -1;
	return landlock_add_stdio_rules(ruleset_fd, plan->handled_fs, err);
}

int landlock_apply(const struct landlock_plan *plan, struct sk_err *err)
{
	struct sys_landlock_ruleset_attr attr = {
	    .handled_access_fs = plan->handled_fs,
	    .handled_access_net = 0,
	    .scoped = plan->scoped,
	};
	int ruleset_fd;

	if (plan->abi < 1)
		return sk_fail_safe(err, "landlock", EINVAL, "landlock_apply", NULL,
				    "landlock_prepare() did not run");
	ruleset_fd = sys_landlock_create_ruleset(&attr, plan->abi);
	if (ruleset_fd < 0) {
		int saved_errno = errno;
		bool is_missing = saved_errno == ENOSYS || saved_errno == EOPNOTSUPP;

		return sk_fail_safe(err, "landlock", saved_errno, "landlock_create_ruleset", NULL,
				    is_missing ? landlock_missing_hint : NULL);
	}
	if (landlock_fill_ruleset(ruleset_fd, plan, err) < 0) {
		close(ruleset_fd);
		return -1;
	}
	if (sys_landlock_restrict_self(ruleset_fd) < 0) {
		int saved_errno = errno;

		close(ruleset_fd);
		return sk_fail_safe(err, "landlock", saved_errno, "landlock_restrict_self", NULL,
				    saved_errno == EPERM   ? "no_new_privs must be set first"
				    : saved_errno == E2BIG ? "too many nested Landlock domains"
							   : NULL);
	}
	close(ruleset_fd);
	return 0;
}
