/* The one home of raw system calls and kernel ABI structures: the calls glibc does not wrap
 * (or wraps in a way a child just out of clone3 must not use), and the constants and structs
 * that Debian 12's headers describe only in an older version than the running kernel has.
 * Every wrapper is the bare syscall(2), async-signal-safe and allocation-free (the sandbox's
 * PID 1 and the probe children use them), and returns what the kernel returned, with errno.
 * Nothing else in src/ calls syscall(2) or defines a syscall number. */
#ifndef STOCKADE_SYSCALLS_H
#define STOCKADE_SYSCALLS_H

#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mount.h> /* glibc >= 2.36 brings linux/mount.h: MOUNT_ATTR_*, OPEN_TREE_* */
#include <sys/types.h>

/* ---- numbers and flags newer than the build machine's headers ---- */

#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif
#ifndef FICLONE
#define FICLONE _IOW(0x94, 9, int)
#endif
/* Landlock: Debian 12's headers describe ABI 2 at most; the running kernel may be newer. */
#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13) /* ABI 2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP (1ULL << 0) /* ABI 4 */
#endif
#ifndef LANDLOCK_ACCESS_NET_CONNECT_TCP
#define LANDLOCK_ACCESS_NET_CONNECT_TCP (1ULL << 1) /* ABI 4 */
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0) /* ABI 6 */
#endif
#ifndef LANDLOCK_SCOPE_SIGNAL
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1) /* ABI 6 */
#endif

/* ---- files and mounts ---- */

/* openat2(2): path relative to dir_fd with flags and the RESOLVE_* bits of resolve, retried
 * on EINTR. Returns the fd, or -1 with errno. */
int sys_openat2(int dir_fd, const char *path, int flags, uint64_t resolve);
/* fchmodat2(2) (Linux 6.6): chmod that takes AT_EMPTY_PATH, so an O_PATH fd's own inode. */
int sys_fchmodat2(int dir_fd, const char *path, mode_t mode, int flags);
/* open_tree(2): with OPEN_TREE_CLONE, a detached copy of the mount at dir_fd/path. */
int sys_open_tree(int dir_fd, const char *path, unsigned flags);
/* move_mount(2) of the detached mount from_fd onto the mount point to_fd (both by fd). */
int sys_move_mount_fd(int from_fd, int to_fd);
/* mount_setattr(2): adds the MOUNT_ATTR_* bits of attr_set to the mount at dir_fd/path
 * (flags: AT_EMPTY_PATH, AT_RECURSIVE, AT_SYMLINK_NOFOLLOW), clearing none. */
int sys_mount_setattr(int dir_fd, const char *path, unsigned flags, uint64_t attr_set);
int sys_pivot_root(const char *new_root, const char *put_old);
/* quotactl_fd(2) on the file system holding fd, for project quota (PRJQUOTA). */
long sys_quotactl_fd_project(int fd, unsigned cmd, unsigned id, void *addr);

/* ---- processes ---- */

/* clone3(2) without a new stack (a fork with flags): flags are CLONE_*; with pidfd, the
 * child's pidfd (add CLONE_PIDFD to flags); exit_signal 0 for none. Returns in both, as fork. */
pid_t sys_clone3(uint64_t flags, int *pidfd, int exit_signal);
int sys_pidfd_send_signal(int pidfd, int sig);
/* waitid(P_PIDFD) retried on EINTR; options as waitid's (WEXITED, __WALL, ...). */
int sys_waitid_pidfd(int pidfd, siginfo_t *info, int options);
/* set_tid_address(2): the kernel writes 0 to *word and wakes its futex when this thread
 * releases its memory, at exit and at the commit of an execve (mm_release). */
void sys_set_tid_address(int *word);
/* FUTEX_WAIT, not private (the word may be in memory shared with other processes): sleeps
 * while *word == expected, at most timeout_ms. 0 when woken, -1 with errno (EAGAIN: the word
 * differed already; ETIMEDOUT; EINTR). */
int sys_futex_wait_shared(int *word, int expected, long timeout_ms);
/* setresuid/setresgid of this thread only: glibc's wrappers synchronise every thread through
 * signals, which has no place in a child just out of clone3. */
int sys_setresuid(uid_t uid);
int sys_setresgid(gid_t gid);
int sys_capset(struct __user_cap_header_struct *header, const struct __user_cap_data_struct *data);
int sys_capget(struct __user_cap_header_struct *header, struct __user_cap_data_struct *data);
/* seccomp(SECCOMP_SET_MODE_FILTER, flags, prog). */
int sys_seccomp_set_filter(unsigned flags, const struct sock_filter *filter, unsigned short len);

/* ---- Landlock ---- */

/* The ruleset attributes with every field up to ABI 6 (the installed struct may stop at
 * handled_access_fs); the size given to the kernel follows the ABI. */
struct sys_landlock_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net; /* ABI 4 */
	uint64_t scoped;	     /* ABI 6 */
};
/* The best ABI the kernel offers (>= 1), or -1 with errno. */
int sys_landlock_abi(void);
/* Every file-system right the ABI knows. */
uint64_t sys_landlock_fs_rights(int abi);
/* A ruleset with the fields of attr that ABI abi defines. */
int sys_landlock_create_ruleset(const struct sys_landlock_ruleset_attr *attr, int abi);
/* Rights beneath the directory (or on the file) parent_fd refers to. */
int sys_landlock_add_path_rule(int ruleset_fd, uint64_t allowed_access, int parent_fd);
/* Rights on a TCP port (ABI 4). */
int sys_landlock_add_port_rule(int ruleset_fd, uint64_t allowed_access, uint64_t port);
int sys_landlock_restrict_self(int ruleset_fd);

#endif
