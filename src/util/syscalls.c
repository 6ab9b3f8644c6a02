/* Raw system calls (see syscalls.h): each a bare syscall(2), async-signal-safe. */
#define _GNU_SOURCE
#include "util/syscalls.h"

#include <errno.h>
#include <linux/futex.h>
#include <linux/quota.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/macros.h"

/* The unified syscall table gives these the same number on every architecture. */
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif
#ifndef SYS_quotactl_fd
#define SYS_quotactl_fd 443
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#define SYS_move_mount 429
#endif
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif
#ifndef LANDLOCK_RULE_NET_PORT
#define LANDLOCK_RULE_NET_PORT 2
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

int sys_openat2(int dir_fd, const char *path, int flags, uint64_t resolve)
{
	struct open_how how = {.flags = (uint64_t)flags, .resolve = resolve};

	return (int)RETRY_EINTR(syscall(SYS_openat2, dir_fd, path, &how, sizeof(how)));
}

int sys_fchmodat2(int dir_fd, const char *path, mode_t mode, int flags)
{
	return (int)syscall(SYS_fchmodat2, dir_fd, path, mode, flags);
}

int sys_open_tree(int dir_fd, const char *path, unsigned flags)
{
	return (int)syscall(SYS_open_tree, dir_fd, path, flags);
}

int sys_move_mount_fd(int from_fd, int to_fd)
{
	return (int)syscall(SYS_move_mount, from_fd, "", to_fd, "",
			    MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
}

int sys_mount_setattr(int dir_fd, const char *path, unsigned flags, uint64_t attr_set)
{
	struct mount_attr attr = {.attr_set = attr_set};

	return (int)syscall(SYS_mount_setattr, dir_fd, path, flags, &attr, sizeof(attr));
}

int sys_pivot_root(const char *new_root, const char *put_old)
{
	return (int)syscall(SYS_pivot_root, new_root, put_old);
}

long sys_quotactl_fd_project(int fd, unsigned cmd, unsigned id, void *addr)
{
	return syscall(SYS_quotactl_fd, fd, QCMD(cmd, PRJQUOTA), id, addr);
}

pid_t sys_clone3(uint64_t flags, int *pidfd, int exit_signal)
{
	struct clone_args args;

	memset(&args, 0, sizeof(args));
	args.flags = flags;
	args.pidfd = (uint64_t)(uintptr_t)pidfd;
	args.exit_signal = (uint64_t)exit_signal;
	return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

int sys_pidfd_send_signal(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

int sys_waitid_pidfd(int pidfd, siginfo_t *info, int options)
{
	return RETRY_EINTR(waitid((idtype_t)P_PIDFD, (id_t)pidfd, info, options));
}

void sys_set_tid_address(int *word)
{
	(void)syscall(SYS_set_tid_address, word);
}

int sys_futex_wait_shared(int *word, int expected, long timeout_ms)
{
	struct timespec timeout = {.tv_sec = timeout_ms / 1000,
				   .tv_nsec = (timeout_ms % 1000) * 1000000L};

	return (int)syscall(SYS_futex, word, FUTEX_WAIT, expected, &timeout, NULL, 0);
}

int sys_setresuid(uid_t uid)
{
	return (int)syscall(SYS_setresuid, uid, uid, uid);
}

int sys_setresgid(gid_t gid)
{
	return (int)syscall(SYS_setresgid, gid, gid, gid);
}

int sys_capset(struct __user_cap_header_struct *header, const struct __user_cap_data_struct *data)
{
	return (int)syscall(SYS_capset, header, data);
}

int sys_capget(struct __user_cap_header_struct *header, struct __user_cap_data_struct *data)
{
	return (int)syscall(SYS_capget, header, data);
}

int sys_seccomp_set_filter(unsigned flags, const struct sock_filter *filter, unsigned short len)
{
	/* The kernel only reads the program; sock_fprog just lacks the const. */
	struct sock_fprog prog = {.len = len, .filter = (struct sock_filter *)filter};

	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

int sys_landlock_abi(void)
{
	return (int)syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
}

uint64_t sys_landlock_fs_rights(int abi)
{
	uint64_t rights = (1ULL << 13) - 1; /* ABI 1: EXECUTE .. MAKE_SYM */

	if (abi >= 2)
		rights |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		rights |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		rights |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return rights;
}

/* The kernel accepts a larger zero-tailed struct, but passing exactly what the ABI defines keeps
 * the call meaningful on every kernel and documents which fields are in use. */
static size_t ruleset_attr_size(int abi)
{
	if (abi >= 6)
		return sizeof(struct sys_landlock_ruleset_attr);
	if (abi >= 4)
		return offsetof(struct sys_landlock_ruleset_attr, scoped);
	return offsetof(struct sys_landlock_ruleset_attr, handled_access_net);
}

int sys_landlock_create_ruleset(const struct sys_landlock_ruleset_attr *attr, int abi)
{
	return (int)syscall(SYS_landlock_create_ruleset, attr, ruleset_attr_size(abi), 0U);
}

int sys_landlock_add_path_rule(int ruleset_fd, uint64_t allowed_access, int parent_fd)
{
	struct landlock_path_beneath_attr attr = {
	    .allowed_access = allowed_access,
	    .parent_fd = parent_fd,
	};

	return (int)syscall(SYS_landlock_add_rule, ruleset_fd, LANDLOCK_RULE_PATH_BENEATH, &attr,
			    0U);
}

int sys_landlock_add_port_rule(int ruleset_fd, uint64_t allowed_access, uint64_t port)
{
	/* struct landlock_net_port_attr (ABI 4), which the installed header may lack. */
	struct {
		uint64_t allowed_access;
		uint64_t port;
	} attr = {allowed_access, port};

	return (int)syscall(SYS_landlock_add_rule, ruleset_fd, LANDLOCK_RULE_NET_PORT, &attr, 0U);
}

int sys_landlock_restrict_self(int ruleset_fd)
{
	return (int)syscall(SYS_landlock_restrict_self, ruleset_fd, 0U);
}
