/* try-syscall: attempts escape techniques and forbidden kernel operations one at a time and
 * prints what the kernel answered, so that a seccomp or namespace denial (EPERM, ENOSYS,
 * SIGSYS) can be told apart from the ordinary error the same call gets on an unconfined host.
 *
 * Usage: try-syscall PROBE [PROBE...] | try-syscall --list
 * Output, one line per probe:  PROBE result=ok|errno=NAME|signal=N detail=TEXT
 * (exactly one of result=ok, errno=NAME or signal=N; TEXT never contains spaces).
 * Exit status: 0 when every probe ran, whatever it saw; 1 when the harness itself failed
 * (pipe, fork, wait); 2 for usage errors and unknown probe names (then nothing runs).
 *
 * Arguments are chosen to be harmless when run as root outside any sandbox: paths that do
 * not exist, invalid lengths or flags that the kernel rejects before acting, fds that are
 * closed at once. Where the kernel checks such an argument before the privilege check, the
 * native answer (ENOENT, EINVAL, EBADF...) differs from seccomp's EPERM even for an
 * unprivileged caller. Each probe notes the native answers observed on Linux 6.18 x86_64
 * (root / unprivileged uid 65534). Nothing is written anywhere: no core dumps either.
 *
 * Built with -static: integration tests feed it to a sandbox through stdin. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/quota.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Syscall numbers newer than some libc headers (x86_64 table). */
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif
#ifndef SYS_fspick
#define SYS_fspick 433
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_statmount
#define SYS_statmount 457
#endif
#ifndef SYS_listmount
#define SYS_listmount 458
#endif

/* Constants of the new mount API, spelled here because <linux/mount.h> and glibc 2.36's
 * <sys/mount.h> cannot be included together. */
#define PROBE_OPEN_TREE_CLOEXEC O_CLOEXEC
#define PROBE_MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#define PROBE_MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#define PROBE_FSOPEN_CLOEXEC 0x00000001
#define PROBE_FSPICK_CLOEXEC 0x00000001
#define PROBE_FSMOUNT_CLOEXEC 0x00000001
#define PROBE_FSCONFIG_SET_FLAG 0
#define PROBE_MOUNT_ATTR_NOSUID 0x00000002
#define PROBE_BPF_PROG_LOAD 5
#define PROBE_ADDR_NO_RANDOMIZE 0x0040000
#define PROBE_SYSLOG_ACTION_READ_ALL 3
#define PROBE_KEXEC_SEGMENT_MAX 16
#define PROBE_X32_SYSCALL_BIT 0x40000000
#define PROBE_I386_GETPID 20
#define PROBE_TIOCLINUX_PASTESEL 3

/* A path that must not exist: calls that take a path fail with ENOENT natively. */
#define ABSENT_PATH "/nonexistent-stockade-probe"

/* struct clone_args as of CLONE_ARGS_SIZE_VER2 (88 bytes). */
struct probe_clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
	uint64_t set_tid, set_tid_size, cgroup;
};

/* struct mount_attr, MOUNT_ATTR_SIZE_VER0 (32 bytes). */
struct probe_mount_attr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};

enum outcome_kind { OUTCOME_OK, OUTCOME_ERRNO, OUTCOME_SIGNAL };

struct probe_result {
	enum outcome_kind kind;
	int value; /* errno or signal number; unused for OUTCOME_OK */
	char detail[512];
};

/* Where a probe runs. A child isolates probes that change the process (namespaces, ids,
 * tracing, personality) from the probes after them, and survives SIGSYS for the parent. */
enum probe_isolation {
	RUN_IN_PROCESS,
	RUN_IN_CHILD,
	RUN_IN_CHILD_MAY_DIE, /* seccomp may kill it: no core dump */
};

struct probe {
	const char *name;
	void (*run)(struct probe_result *result);
	enum probe_isolation isolation;
};

/* getppid() of the first process: a probe running in a child must still target the
 * process that launched try-syscall (PID 1 of a sandbox, usually). */
static pid_t launcher_pid;

/* ---- Recording results ---- */

static void result_vset(struct probe_result *result, enum outcome_kind kind, int value,
			const char *fmt, va_list ap)
{
	result->kind = kind;
	result->value = value;
	vsnprintf(result->detail, sizeof(result->detail), fmt, ap);
}

__attribute__((format(printf, 2, 3))) static void result_ok(struct probe_result *result,
							    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	result_vset(result, OUTCOME_OK, 0, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 3, 4))) static void result_errno(struct probe_result *result,
							       int error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	result_vset(result, OUTCOME_ERRNO, error, fmt, ap);
	va_end(ap);
}

/* ret is a syscall's return value, errno still the syscall's. */
__attribute__((format(printf, 3, 4))) static void result_from_ret(struct probe_result *result,
								  long ret, const char *fmt, ...)
{
	int error = errno;
	va_list ap;

	va_start(ap, fmt);
	if (ret == -1)
		result_vset(result, OUTCOME_ERRNO, error, fmt, ap);
	else
		result_vset(result, OUTCOME_OK, 0, fmt, ap);
	va_end(ap);
}

/* For calls that return a new fd: close it (nothing is kept), then record. */
static void result_from_fd(struct probe_result *result, long fd, const char *what)
{
	int error = errno;

	if (fd >= 0)
		close((int)fd);
	errno = error;
	result_from_ret(result, fd, "%s", what);
}

/* ---- Terminal ---- */

/* The descriptor to inject into: stdin, unless stdin is a terminal. Run by hand from a
 * shell, a real TIOCSTI would type into the caller's terminal and TIOCLINUX subcode 3 would
 * paste the console selection into it; a pipe gets the same seccomp verdict (the filter
 * looks at the request, not the fd) and answers ENOTTY natively. */
static int tty_probe_fd(int pipe_fds[2], const char **fd_name)
{
	pipe_fds[0] = pipe_fds[1] = -1;
	*fd_name = "0";
	if (!isatty(0))
		return 0;
	if (pipe2(pipe_fds, O_CLOEXEC) == -1)
		return -1;
	*fd_name = "pipe(stdin-is-a-tty)";
	return pipe_fds[0];
}

static void tty_ioctl(struct probe_result *result, unsigned long request, void *arg,
		      const char *what)
{
	int pipe_fds[2];
	const char *fd_name;
	int fd = tty_probe_fd(pipe_fds, &fd_name);

	if (fd == -1) {
		result_errno(result, errno, "harness:pipe2");
		return;
	}
	long ret = syscall(SYS_ioctl, fd, request, arg);
	int error = errno;

	if (pipe_fds[0] != -1) {
		close(pipe_fds[0]);
		close(pipe_fds[1]);
	}
	errno = error;
	result_from_ret(result, ret, "%s,fd=%s", what, fd_name);
}

/* native: ENOTTY (stdin not a tty) / ENOTTY */
static void probe_tiocsti(struct probe_result *result)
{
	tty_ioctl(result, TIOCSTI, "x", "ioctl(TIOCSTI)");
}

/* The kernel truncates the request to 32 bits; a filter comparing all 64 would let this
 * through. native: ENOTTY / ENOTTY */
static void probe_tiocsti_hi(struct probe_result *result)
{
	tty_ioctl(result, TIOCSTI | (1UL << 32), "x", "ioctl(TIOCSTI|1<<32)");
}

/* native: ENOTTY / ENOTTY */
static void probe_tioclinux(struct probe_result *result)
{
	char subcode = PROBE_TIOCLINUX_PASTESEL;

	tty_ioctl(result, TIOCLINUX, &subcode, "ioctl(TIOCLINUX,3)");
}

/* ---- Namespaces ---- */

/* native: ok / ok */
static void probe_unshare_user(struct probe_result *result)
{
	result_from_ret(result, syscall(SYS_unshare, CLONE_NEWUSER), "unshare(CLONE_NEWUSER)");
}

/* native: ok / EPERM */
static void probe_unshare_ns(struct probe_result *result)
{
	result_from_ret(result, syscall(SYS_unshare, CLONE_NEWNS), "unshare(CLONE_NEWNS)");
}

/* Reaps a child created by a raw clone; reports the clone's own outcome. */
static void result_from_clone(struct probe_result *result, long pid, const char *what)
{
	int error = errno;
	int status;

	if (pid == 0)
		_exit(0); /* the new child: nothing to do */
	if (pid > 0) {
		while (waitpid((pid_t)pid, &status, __WALL) == -1 && errno == EINTR)
			;
	}
	errno = error;
	result_from_ret(result, pid > 0 ? 0 : -1, "%s", what);
}

/* native: ok / ok */
static void probe_clone_newuser(struct probe_result *result)
{
	long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, 0UL);

	result_from_clone(result, pid, "clone(CLONE_NEWUSER|SIGCHLD)");
}

/* The sandbox answers ENOSYS so that libc falls back to clone(2), whose flags a filter can
 * see (clone3 passes them in memory). native: ok / ok */
static void probe_clone3(struct probe_result *result)
{
	struct probe_clone_args args;

	memset(&args, 0, sizeof(args));
	args.flags = CLONE_NEWUSER;
	args.exit_signal = SIGCHLD;
	long pid = syscall(SYS_clone3, &args, sizeof(args));

	result_from_clone(result, pid, "clone3(CLONE_NEWUSER,size=88)");
}

/* native: EBADF / EBADF */
static void probe_setns(struct probe_result *result)
{
	result_from_ret(result, syscall(SYS_setns, -1, 0), "setns(-1,0)");
}

/* ---- Mounts ---- */

/* The path is looked up before the privilege check. native: ENOENT / ENOENT */
static void probe_mount(struct probe_result *result)
{
	result_from_ret(result, syscall(SYS_mount, "none", ABSENT_PATH, "tmpfs", 0UL, NULL),
			"mount(tmpfs," ABSENT_PATH ")");
}

/* native: ENOENT / ENOENT */
static void probe_umount(struct probe_result *result)
{
	result_from_ret(result, syscall(SYS_umount2, ABSENT_PATH, MNT_DETACH),
			"umount2(" ABSENT_PATH ",MNT_DETACH)");
}

/* pivot_root(".", ".") would really pivot a root caller's namespace; an absent path
 * cannot. The privilege check comes first here. native: ENOENT / EPERM */
static void probe_pivot_root(struct probe_result *result)
{
	result_from_ret(result, syscall(SYS_pivot_root, ABSENT_PATH, ABSENT_PATH),
			"pivot_root(" ABSENT_PATH "," ABSENT_PATH ")");
}

/* native: ENOENT / ENOENT */
static void probe_chroot(struct probe_result *result)
{
	result_from_ret(result, syscall(SYS_chroot, ABSENT_PATH), "chroot(" ABSENT_PATH ")");
}

/* Not OPEN_TREE_CLONE (that one checks privilege first). native: EBADF / EBADF */
static void probe_open_tree(struct probe_result *result)
{
	long fd = syscall(SYS_open_tree, -1, "", AT_EMPTY_PATH | PROBE_OPEN_TREE_CLOEXEC);

	result_from_fd(result, fd, "open_tree(-1,\"\",AT_EMPTY_PATH)");
}

/* native: EBADF / EPERM (privilege checked first) */
static void probe_move_mount(struct probe_result *result)
{
	result_from_ret(result,
			syscall(SYS_move_mount, -1, "", -1, "",
				PROBE_MOVE_MOUNT_F_EMPTY_PATH | PROBE_MOVE_MOUNT_T_EMPTY_PATH),
			"move_mount(-1,\"\",-1,\"\",F_EMPTY|T_EMPTY)");
}

/* A filesystem context that is never configured nor mounted. native: ok / EPERM */
static void probe_fsopen(struct probe_result *result)
{
	result_from_fd(result, syscall(SYS_fsopen, "tmpfs", PROBE_FSOPEN_CLOEXEC), "fsopen(tmpfs)");
}

/* native: EINVAL / EINVAL (fd < 0 is rejected before anything) */
static void probe_fsconfig(struct probe_result *result)
{
	result_from_ret(result, syscall(SYS_fsconfig, -1, PROBE_FSCONFIG_SET_FLAG, "ro", NULL, 0),
			"fsconfig(-1,SET_FLAG,ro)");
}

/* native: EBADF / EPERM */
static void probe_fsmount(struct probe_result *result)
{
	result_from_fd(result, syscall(SYS_fsmount, -1, PROBE_FSMOUNT_CLOEXEC, 0), "fsmount(-1)");
}

/* A context for reconfiguring "/", closed without a reconfigure. native: ok / EPERM */
static void probe_fspick(struct probe_result *result)
{
	result_from_fd(result, syscall(SYS_fspick, AT_FDCWD, "/", PROBE_FSPICK_CLOEXEC),
		       "fspick(AT_FDCWD,/)");
}

/* An all-zero attr returns 0 before the lookup ("nothing to change"), so one flag is set;
 * fd -1 with an empty path resolves to nothing. native: EBADF / EPERM */
static void probe_mount_setattr(struct probe_result *result)
{
	struct probe_mount_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.attr_set = PROBE_MOUNT_ATTR_NOSUID;
	result_from_ret(result,
			syscall(SYS_mount_setattr, -1, "", AT_EMPTY_PATH, &attr, sizeof(attr)),
			"mount_setattr(-1,\"\",AT_EMPTY_PATH,set=NOSUID)");
}

/* nr_mnt_ids 1 so that the NULL request is read. native: EFAULT / EFAULT */
static void probe_listmount(struct probe_result *result)
{
	result_from_ret(result, syscall(SYS_listmount, NULL, NULL, 1UL, 0U),
			"listmount(NULL,NULL,1,0)");
}

/* native: EFAULT / EFAULT */
static void probe_statmount(struct probe_result *result)
{
	result_from_ret(result, syscall(SYS_statmount, NULL, NULL, 0UL, 0U),
			"statmount(NULL,NULL,0,0)");
}

/* ---- Kernel attack surface ---- */

/* io_uring operations are invisible to seccomp: setup itself must be denied.
 * native: ok / ok (kernel.io_uring_disabled=0) */
static void probe_io_uring_setup(struct probe_result *result)
{
	struct io_uring_params params;

	memset(&params, 0, sizeof(params));
	result_from_fd(result, syscall(SYS_io_uring_setup, 1, &params), "io_uring_setup(1)");
}

/* native: ok / EPERM (vm.unprivileged_userfaultfd=0) */
static void probe_userfaultfd(struct probe_result *result)
{
	result_from_fd(result, syscall(SYS_userfaultfd, O_CLOEXEC), "userfaultfd(O_CLOEXEC)");
}

/* native: ok / ok */
static void probe_keyctl(struct probe_result *result)
{
	long ret = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);

	result_from_ret(result, ret, "keyctl(GET_KEYRING_ID,SESSION,0),ret=%ld", ret);
}

/* Adds to the process keyring, which dies with the (child) process. native: ok / ok */
static void probe_add_key(struct probe_result *result)
{
	result_from_ret(
	    result,
	    syscall(SYS_add_key, "user", "stockade-probe", "x", 1UL, KEY_SPEC_PROCESS_KEYRING),
	    "add_key(user,stockade-probe,PROCESS_KEYRING)");
}

/* No callout: nothing is upcalled. native: ENOKEY / ENOKEY */
static void probe_request_key(struct probe_result *result)
{
	result_from_ret(result, syscall(SYS_request_key, "user", "stockade-probe-absent", NULL, 0),
			"request_key(user,stockade-probe-absent,NULL,0)");
}

/* native: E2BIG / EPERM (kernel.unprivileged_bpf_disabled=2) */
static void probe_bpf(struct probe_result *result)
{
	result_from_fd(result, syscall(SYS_bpf, PROBE_BPF_PROG_LOAD, NULL, 0),
		       "bpf(BPF_PROG_LOAD,NULL,0)");
}

/* Counts kernel time too, so paranoid >= 2 refuses the unprivileged.
 * native: ok / EACCES (kernel.perf_event_paranoid=2) */
static void probe_perf_event_open(struct probe_result *result)
{
	struct perf_event_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.type = PERF_TYPE_SOFTWARE;
	attr.config = PERF_COUNT_SW_CPU_CLOCK;
	attr.size = sizeof(attr);
	result_from_fd(result, syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0UL),
		       "perf_event_open(SW_CPU_CLOCK,pid=0,cpu=-1)");
}

/* Zero segments would unload a loaded kexec image; too many segments is rejected before
 * anything is done. native: ENOSYS / ENOSYS (this kernel has no CONFIG_KEXEC; with it:
 * EINVAL / EPERM) */
static void probe_kexec_load(struct probe_result *result)
{
	result_from_ret(
	    result,
	    syscall(SYS_kexec_load, 0UL, (unsigned long)PROBE_KEXEC_SEGMENT_MAX + 1, NULL, 0UL),
	    "kexec_load(0,17,NULL,0)");
}

/* native: ENOSYS / ENOSYS (no CONFIG_MODULES; with it: ENOEXEC / EPERM) */
static void probe_init_module(struct probe_result *result)
{
	result_from_ret(result, syscall(SYS_init_module, NULL, 0UL, ""),
			"init_module(NULL,0,\"\")");
}

/* native: ENOSYS / ENOSYS (no CONFIG_MODULES; with it: EBADF / EPERM) */
static void probe_finit_module(struct probe_result *result)
{
	result_from_ret(result, syscall(SYS_finit_module, -1, "", 0), "finit_module(-1,\"\",0)");
}

/* native: ENOSYS / ENOSYS (no CONFIG_MODULES; with it: ENOENT / EPERM) */
static void probe_delete_module(struct probe_result *result)
{
	result_from_ret(result, syscall(SYS_delete_module, "stockade_none", 0),
			"delete_module(stockade_none,0)");
}

/* "Shocker": a handle opens any inode of the mount, bypassing the path (and the root).
 * handle_bytes 0 is invalid, and is checked before the privilege since Linux 6.10
 * relaxed it. native: EINVAL / EINVAL */
static void probe_open_by_handle_at(struct probe_result *result)
{
	_Alignas(struct file_handle) unsigned char buffer[sizeof(struct file_handle) + 16];
	struct file_handle *handle = (struct file_handle *)buffer;

	memset(buffer, 0, sizeof(buffer));
	result_from_fd(result, syscall(SYS_open_by_handle_at, AT_FDCWD, handle, O_RDONLY),
		       "open_by_handle_at(AT_FDCWD,handle_bytes=0)");
}

/* native: ok / ok */
static void probe_name_to_handle_at(struct probe_result *result)
{
	_Alignas(struct file_handle) unsigned char buffer[sizeof(struct file_handle) + 128];
	struct file_handle *handle = (struct file_handle *)buffer;
	int mount_id;

	memset(buffer, 0, sizeof(buffer));
	handle->handle_bytes = 128;
	result_from_ret(result, syscall(SYS_name_to_handle_at, AT_FDCWD, "/", handle, &mount_id, 0),
			"name_to_handle_at(AT_FDCWD,/)");
}

/* Restores the previous persona if the change went through. native: ok / ok */
static void probe_personality(struct probe_result *result)
{
	long previous = syscall(SYS_personality, PROBE_ADDR_NO_RANDOMIZE);
	int error = errno;

	if (previous != -1)
		syscall(SYS_personality, (unsigned long)previous);
	errno = error;
	result_from_ret(result, previous, "personality(ADDR_NO_RANDOMIZE)");
}

/* A query changes nothing and libc does it: it must stay allowed. native: ok / ok */
static void probe_personality_query(struct probe_result *result)
{
	long persona = syscall(SYS_personality, 0xffffffffUL);

	result_from_ret(result, persona, "personality(0xffffffff),persona=%#lx", persona);
}

/* ---- The runtime's own processes ---- */

/* Runs in a child: try-syscall becomes its tracer. native: ok / ok */
static void probe_ptrace_traceme(struct probe_result *result)
{
	result_from_ret(result, ptrace(PTRACE_TRACEME, 0, NULL, NULL), "ptrace(TRACEME)");
}

/* PTRACE_SEIZE goes through the same kernel path and permission check as PTRACE_ATTACH
 * (ptrace_attach(), PTRACE_MODE_ATTACH_REALCREDS) but never stops the target; the probe
 * child exits right after, which detaches. Harmless against a real init or shell. */
static void ptrace_seize(struct probe_result *result, pid_t pid, const char *what)
{
	result_from_ret(result, ptrace(PTRACE_SEIZE, pid, NULL, NULL), "%s,pid=%d,via=SEIZE", what,
			(int)pid);
}

/* native: ok / ok if the launcher has the same uid, else EPERM */
static void probe_ptrace_attach(struct probe_result *result)
{
	ptrace_seize(result, launcher_pid, "ptrace(ATTACH,getppid())");
}

/* native: ok / EPERM (PID 1 belongs to root) */
static void probe_ptrace_attach_pid1(struct probe_result *result)
{
	ptrace_seize(result, 1, "ptrace(ATTACH,1)");
}

/* Address 0 is never mapped: even a permitted write changes nothing. native: EFAULT / EPERM */
static void probe_process_vm_writev(struct probe_result *result)
{
	char byte = 'x';
	struct iovec local = {.iov_base = &byte, .iov_len = 1};
	struct iovec remote = {.iov_base = NULL, .iov_len = 1};

	result_from_ret(result, syscall(SYS_process_vm_writev, 1, &local, 1UL, &remote, 1UL, 0UL),
			"process_vm_writev(1,remote=0,len=1)");
}

/* Duplicates PID 1's fd 0 and closes the copy at once. native: ok / EPERM (at pidfd_getfd) */
static void probe_pidfd_getfd(struct probe_result *result)
{
	long pidfd = syscall(SYS_pidfd_open, 1, 0U);

	if (pidfd == -1) {
		result_errno(result, errno, "step=pidfd_open,pid=1");
		return;
	}
	long fd = syscall(SYS_pidfd_getfd, pidfd, 0, 0U);
	int error = errno;

	if (fd >= 0)
		close((int)fd);
	close((int)pidfd);
	errno = error;
	result_from_ret(result, fd, "step=pidfd_getfd,pid=1,targetfd=0");
}

/* The fds are only opened, never read or written. */
static void open_and_close(struct probe_result *result, const char *path, int flags,
			   const char *mode)
{
	result_from_fd(result, open(path, flags | O_CLOEXEC | O_NOCTTY), mode);
}

/* native: ok / EACCES */
static void probe_proc1_mem_write(struct probe_result *result)
{
	open_and_close(result, "/proc/1/mem", O_RDWR, "open(/proc/1/mem,O_RDWR)");
}

/* CVE-2019-5736. O_WRONLY without O_TRUNC changes nothing even where it opens.
 * native: ETXTBSY / EACCES */
static void probe_proc1_exe_write(struct probe_result *result)
{
	open_and_close(result, "/proc/1/exe", O_WRONLY, "open(/proc/1/exe,O_WRONLY)");
}

/* native: ok / EACCES */
static void probe_proc1_environ(struct probe_result *result)
{
	open_and_close(result, "/proc/1/environ", O_RDONLY, "open(/proc/1/environ,O_RDONLY)");
}

/* ---- Sockets ---- */

static void try_socket(struct probe_result *result, int domain, int type, int protocol,
		       const char *what)
{
	result_from_fd(result, socket(domain, type | SOCK_CLOEXEC, protocol), what);
}

/* native: ok / EPERM (CAP_NET_RAW) */
static void probe_socket_packet(struct probe_result *result)
{
	try_socket(result, AF_PACKET, SOCK_RAW, 0, "socket(AF_PACKET,SOCK_RAW,0)");
}

/* native: ok / ok */
static void probe_socket_netlink_audit(struct probe_result *result)
{
	try_socket(result, AF_NETLINK, SOCK_RAW, 9 /* NETLINK_AUDIT */,
		   "socket(AF_NETLINK,SOCK_RAW,NETLINK_AUDIT)");
}

/* native: ok / ok (EAFNOSUPPORT where vsock is not built or loadable) */
static void probe_socket_vsock(struct probe_result *result)
{
	try_socket(result, AF_VSOCK, SOCK_STREAM, 0, "socket(AF_VSOCK,SOCK_STREAM,0)");
}

/* native: EAFNOSUPPORT / EAFNOSUPPORT (this kernel has no CONFIG_CRYPTO_USER_API; with it:
 * ok / ok) */
static void probe_socket_alg(struct probe_result *result)
{
	try_socket(result, AF_ALG, SOCK_SEQPACKET, 0, "socket(AF_ALG,SOCK_SEQPACKET,0)");
}

/* Must stay allowed. native: ok / ok */
static void probe_socket_inet(struct probe_result *result)
{
	try_socket(result, AF_INET, SOCK_STREAM, 0, "socket(AF_INET,SOCK_STREAM,0)");
}

/* Must stay allowed. native: ok / ok */
static void probe_socket_unix(struct probe_result *result)
{
	int fds[2];
	long ret = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds);
	int error = errno;

	if (ret == 0) {
		close(fds[0]);
		close(fds[1]);
	}
	errno = error;
	result_from_ret(result, ret, "socketpair(AF_UNIX,SOCK_STREAM,0)");
}

/* Must stay allowed. native: ok / ok */
static void probe_socket_netlink_route(struct probe_result *result)
{
	try_socket(result, AF_NETLINK, SOCK_RAW, 0 /* NETLINK_ROUTE */,
		   "socket(AF_NETLINK,SOCK_RAW,NETLINK_ROUTE)");
}

/* ---- Other syscall ABIs (run in a child: a filter may kill with SIGSYS) ---- */

/* native: ENOSYS / ENOSYS (no CONFIG_X86_X32_ABI; with it: ok) */
static void probe_x32_getpid(struct probe_result *result)
{
	long ret = syscall(PROBE_X32_SYSCALL_BIT | SYS_getpid);

	result_from_ret(result, ret, "syscall(x32|getpid),ret=%ld", ret);
}

/* The i386 table through int $0x80 from a 64-bit process. native: ok / ok (with
 * CONFIG_IA32_EMULATION; without it, or with ia32_emulation=0: SIGSEGV) */
static void probe_int80_getpid(struct probe_result *result)
{
	long ret;

	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "0"((long)PROBE_I386_GETPID)
			 : "r8", "r9", "r10", "r11", "memory", "cc");
	if (ret < 0 && ret > -4096)
		result_errno(result, (int)-ret, "int80(getpid)");
	else
		result_ok(result, "int80(getpid),ret=%ld,pid=%d", ret, (int)getpid());
}

/* ---- Identity and privilege ---- */

/* sethostname("evil", 4) would rename a root caller's host; the length is checked right
 * after the privilege. native: EINVAL / EPERM */
static void probe_sethostname(struct probe_result *result)
{
	result_from_ret(result, syscall(SYS_sethostname, "evil", -1), "sethostname(evil,-1)");
}

/* native: ok / EPERM */
static void probe_setuid0(struct probe_result *result)
{
	result_from_ret(result, syscall(SYS_setuid, 0), "setuid(0)");
}

/* native: ok / EPERM */
static void probe_setgid0(struct probe_result *result)
{
	result_from_ret(result, syscall(SYS_setgid, 0), "setgid(0)");
}

/* native: ok / EPERM */
static void probe_setgroups(struct probe_result *result)
{
	result_from_ret(result, syscall(SYS_setgroups, 0, NULL), "setgroups(0,NULL)");
}

/* Appends ",Key:value" for a "Key:\tvalue" line of /proc/self/status (tabs become '/'). */
static void append_status_field(char *detail, size_t size, const char *status, const char *key)
{
	size_t key_len = strlen(key);
	const char *line = status;
	size_t used = strlen(detail);

	while (line && *line) {
		if (strncmp(line, key, key_len) == 0 && line[key_len] == ':') {
			const char *value = line + key_len + 1;

			while (*value == '\t' || *value == ' ')
				value++;
			snprintf(detail + used, size - used, "%s%s:", used ? "," : "", key);
			used = strlen(detail);
			for (; *value && *value != '\n' && used + 1 < size; value++)
				detail[used++] = (*value == '\t' || *value == ' ') ? '/' : *value;
			detail[used] = '\0';
			return;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	snprintf(detail + used, size - used, "%s%s:absent", used ? "," : "", key);
}

/* Reports, does not judge: the test checks that all five sets are empty. result=ok. */
static void probe_caps(struct probe_result *result)
{
	static const char *const keys[] = {"CapInh",	 "CapPrm",  "CapEff", "CapBnd", "CapAmb",
					   "NoNewPrivs", "Seccomp", "Uid",    "Gid"};
	char status[8192];
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	ssize_t size;

	if (fd == -1) {
		result_errno(result, errno, "open(/proc/self/status)");
		return;
	}
	size = read(fd, status, sizeof(status) - 1);
	if (size == -1) {
		result_errno(result, errno, "read(/proc/self/status)");
		close(fd);
		return;
	}
	close(fd);
	status[size] = '\0';
	result_ok(result, "%s", "");
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		append_status_field(result->detail, sizeof(result->detail), status, keys[i]);
}

/* ---- Host-wide state ---- */

/* SYSLOG_ACTION_READ_ALL does not consume the log. native: ok / EPERM (dmesg_restrict=1) */
static void probe_syslog(struct probe_result *result)
{
	char buffer[4096];
	long ret = syscall(SYS_syslog, PROBE_SYSLOG_ACTION_READ_ALL, buffer, sizeof(buffer));

	result_from_ret(result, ret, "syslog(READ_ALL),bytes=%ld", ret);
}

/* Bad magic numbers, checked right after the privilege. native: EINVAL / EPERM */
static void probe_reboot(struct probe_result *result)
{
	result_from_ret(result, syscall(SYS_reboot, 0, 0, 0U, NULL), "reboot(0,0,0,NULL)");
}

/* native: ENOENT / EPERM */
static void probe_swapon(struct probe_result *result)
{
	result_from_ret(result, syscall(SYS_swapon, ABSENT_PATH, 0), "swapon(" ABSENT_PATH ")");
}

/* acct(NULL) would switch off a root caller's process accounting. native: ENOENT / EPERM
 * (ENOSYS without CONFIG_BSD_PROCESS_ACCT) */
static void probe_acct(struct probe_result *result)
{
	result_from_ret(result, syscall(SYS_acct, ABSENT_PATH), "acct(" ABSENT_PATH ")");
}

/* Setting the clock to "now" would still step a root caller's clock; an invalid tv_nsec is
 * rejected before the privilege check. native: EINVAL / EINVAL */
static void probe_clock_settime(struct probe_result *result)
{
	struct timespec invalid = {.tv_sec = 0, .tv_nsec = 1000000000L};

	result_from_ret(result, syscall(SYS_clock_settime, CLOCK_REALTIME, &invalid),
			"clock_settime(REALTIME,tv_nsec=1e9)");
}

/* Level 4 does not exist: rejected before the privilege check. native: ENOSYS / ENOSYS
 * (this kernel has no CONFIG_X86_IOPL_IOPERM; with it: EINVAL / EINVAL) */
static void probe_iopl(struct probe_result *result)
{
	result_from_ret(result, syscall(SYS_iopl, 4), "iopl(4)");
}

/* Port range past 0xffff: rejected before the privilege check. native: ENOSYS / ENOSYS
 * (no CONFIG_X86_IOPL_IOPERM; with it: EINVAL / EINVAL) */
static void probe_ioperm(struct probe_result *result)
{
	result_from_ret(result, syscall(SYS_ioperm, 0x10000UL, 1UL, 1), "ioperm(0x10000,1,1)");
}

/* Function 0 reads the (empty) LDT. native: ok / ok */
static void probe_modify_ldt(struct probe_result *result)
{
	char buffer[16];
	long ret = syscall(SYS_modify_ldt, 0, buffer, sizeof(buffer));

	result_from_ret(result, ret, "modify_ldt(0),ret=%ld", ret);
}

/* Compares our fd 0 with itself. native: ok / ok */
static void probe_kcmp(struct probe_result *result)
{
	pid_t self = getpid();

	result_from_ret(result, syscall(SYS_kcmp, self, self, 0 /* KCMP_FILE */, 0UL, 0UL),
			"kcmp(self,self,KCMP_FILE,0,0)");
}

/* Removed from the kernel long ago. native: ENOSYS / ENOSYS */
static void probe_lookup_dcookie(struct probe_result *result)
{
#ifdef SYS_lookup_dcookie
	result_from_ret(result, syscall(SYS_lookup_dcookie, 0ULL, NULL, 0UL),
			"lookup_dcookie(0,NULL,0)");
#else
	result_errno(result, ENOSYS, "lookup_dcookie-not-in-headers");
#endif
}

/* "/" is not a block device. native: ENOTBLK / ENOTBLK */
static void probe_quotactl(struct probe_result *result)
{
	uint32_t format;

	result_from_ret(result, syscall(SYS_quotactl, QCMD(Q_GETFMT, USRQUOTA), "/", 0, &format),
			"quotactl(Q_GETFMT,/)");
}

/* vhangup() hangs up the caller's controlling terminal: only after setsid() dropped it.
 * Runs in a child. native: ok / EPERM */
static void probe_vhangup(struct probe_result *result)
{
	if (setsid() == -1) {
		result_errno(result, errno, "setsid-failed,vhangup-skipped");
		return;
	}
	result_from_ret(result, syscall(SYS_vhangup), "vhangup()-after-setsid");
}

/* ---- Inherited state ---- */

/* CVE-2024-21626: every fd but 0-2 (and the directory being read) is a leak. result=ok. */
static void probe_fd_leak(struct probe_result *result)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *entry;
	size_t used;

	if (!dir) {
		result_errno(result, errno, "opendir(/proc/self/fd)");
		return;
	}
	result_ok(result, "fds:");
	used = strlen(result->detail);
	while ((entry = readdir(dir)) != NULL) {
		char *end;
		long fd = strtol(entry->d_name, &end, 10);

		if (*end != '\0' || entry->d_name[0] == '.' || fd <= 2 || fd == dirfd(dir))
			continue;
		snprintf(result->detail + used, sizeof(result->detail) - used, "%s%ld",
			 result->detail[used - 1] == ':' ? "" : ",", fd);
		used = strlen(result->detail);
	}
	closedir(dir);
	if (result->detail[used - 1] == ':')
		snprintf(result->detail + used, sizeof(result->detail) - used, "none");
}

/* The raw syscall shows "(unreachable)/..." for a cwd outside the root, where libc's
 * getcwd() would fail with ENOENT. result=ok. */
static void probe_cwd(struct probe_result *result)
{
	char path[400];

	if (syscall(SYS_getcwd, path, sizeof(path)) == -1) {
		result_errno(result, errno, "getcwd");
		return;
	}
	result_ok(result, "%s", path);
}

static const struct probe probes[] = {
    {"tiocsti", probe_tiocsti, RUN_IN_PROCESS},
    {"tiocsti_hi", probe_tiocsti_hi, RUN_IN_PROCESS},
    {"tioclinux", probe_tioclinux, RUN_IN_PROCESS},
    {"unshare_user", probe_unshare_user, RUN_IN_CHILD},
    {"unshare_ns", probe_unshare_ns, RUN_IN_CHILD},
    {"clone_newuser", probe_clone_newuser, RUN_IN_PROCESS},
    {"clone3", probe_clone3, RUN_IN_PROCESS},
    {"setns", probe_setns, RUN_IN_PROCESS},
    {"mount", probe_mount, RUN_IN_PROCESS},
    {"umount", probe_umount, RUN_IN_PROCESS},
    {"pivot_root", probe_pivot_root, RUN_IN_PROCESS},
    {"chroot", probe_chroot, RUN_IN_PROCESS},
    {"open_tree", probe_open_tree, RUN_IN_PROCESS},
    {"move_mount", probe_move_mount, RUN_IN_PROCESS},
    {"fsopen", probe_fsopen, RUN_IN_PROCESS},
    {"fsconfig", probe_fsconfig, RUN_IN_PROCESS},
    {"fsmount", probe_fsmount, RUN_IN_PROCESS},
    {"fspick", probe_fspick, RUN_IN_PROCESS},
    {"mount_setattr", probe_mount_setattr, RUN_IN_PROCESS},
    {"listmount", probe_listmount, RUN_IN_PROCESS},
    {"statmount", probe_statmount, RUN_IN_PROCESS},
    {"io_uring_setup", probe_io_uring_setup, RUN_IN_PROCESS},
    {"userfaultfd", probe_userfaultfd, RUN_IN_PROCESS},
    {"keyctl", probe_keyctl, RUN_IN_PROCESS},
    {"add_key", probe_add_key, RUN_IN_CHILD},
    {"request_key", probe_request_key, RUN_IN_PROCESS},
    {"bpf", probe_bpf, RUN_IN_PROCESS},
    {"perf_event_open", probe_perf_event_open, RUN_IN_PROCESS},
    {"kexec_load", probe_kexec_load, RUN_IN_PROCESS},
    {"init_module", probe_init_module, RUN_IN_PROCESS},
    {"finit_module", probe_finit_module, RUN_IN_PROCESS},
    {"delete_module", probe_delete_module, RUN_IN_PROCESS},
    {"open_by_handle_at", probe_open_by_handle_at, RUN_IN_PROCESS},
    {"name_to_handle_at", probe_name_to_handle_at, RUN_IN_PROCESS},
    {"personality", probe_personality, RUN_IN_CHILD},
    {"personality_query", probe_personality_query, RUN_IN_PROCESS},
    {"ptrace_traceme", probe_ptrace_traceme, RUN_IN_CHILD},
    {"ptrace_attach", probe_ptrace_attach, RUN_IN_CHILD},
    {"ptrace_attach_pid1", probe_ptrace_attach_pid1, RUN_IN_CHILD},
    {"process_vm_writev", probe_process_vm_writev, RUN_IN_PROCESS},
    {"pidfd_getfd", probe_pidfd_getfd, RUN_IN_PROCESS},
    {"proc1_mem_write", probe_proc1_mem_write, RUN_IN_PROCESS},
    {"proc1_exe_write", probe_proc1_exe_write, RUN_IN_PROCESS},
    {"proc1_environ", probe_proc1_environ, RUN_IN_PROCESS},
    {"socket_packet", probe_socket_packet, RUN_IN_PROCESS},
    {"socket_netlink_audit", probe_socket_netlink_audit, RUN_IN_PROCESS},
    {"socket_vsock", probe_socket_vsock, RUN_IN_PROCESS},
    {"socket_alg", probe_socket_alg, RUN_IN_PROCESS},
    {"socket_inet", probe_socket_inet, RUN_IN_PROCESS},
    {"socket_unix", probe_socket_unix, RUN_IN_PROCESS},
    {"socket_netlink_route", probe_socket_netlink_route, RUN_IN_PROCESS},
    {"x32_getpid", probe_x32_getpid, RUN_IN_CHILD_MAY_DIE},
    {"int80_getpid", probe_int80_getpid, RUN_IN_CHILD_MAY_DIE},
    {"sethostname", probe_sethostname, RUN_IN_PROCESS},
    {"setuid0", probe_setuid0, RUN_IN_CHILD},
    {"setgid0", probe_setgid0, RUN_IN_CHILD},
    {"setgroups", probe_setgroups, RUN_IN_CHILD},
    {"caps", probe_caps, RUN_IN_PROCESS},
    {"syslog", probe_syslog, RUN_IN_PROCESS},
    {"reboot", probe_reboot, RUN_IN_PROCESS},
    {"swapon", probe_swapon, RUN_IN_PROCESS},
    {"acct", probe_acct, RUN_IN_PROCESS},
    {"clock_settime", probe_clock_settime, RUN_IN_PROCESS},
    {"iopl", probe_iopl, RUN_IN_CHILD},
    {"ioperm", probe_ioperm, RUN_IN_CHILD},
    {"modify_ldt", probe_modify_ldt, RUN_IN_PROCESS},
    {"kcmp", probe_kcmp, RUN_IN_PROCESS},
    {"lookup_dcookie", probe_lookup_dcookie, RUN_IN_PROCESS},
    {"quotactl", probe_quotactl, RUN_IN_PROCESS},
    {"vhangup", probe_vhangup, RUN_IN_CHILD},
    {"fd_leak", probe_fd_leak, RUN_IN_PROCESS},
    {"cwd", probe_cwd, RUN_IN_PROCESS},
};

#define PROBE_COUNT (sizeof(probes) / sizeof(probes[0]))

/* ---- Harness ---- */

static const struct probe *probe_find(const char *name)
{
	for (size_t i = 0; i < PROBE_COUNT; i++) {
		if (strcmp(probes[i].name, name) == 0)
			return &probes[i];
	}
	return NULL;
}

/* A child that SIGSYS may kill must not leave a core dump anywhere (cwd or a core_pattern
 * helper): not dumpable, no core size. */
static void forbid_core_dump(void)
{
	struct rlimit no_core = {0, 0};

	(void)setrlimit(RLIMIT_CORE, &no_core);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

static ssize_t read_full(int fd, void *buffer, size_t size)
{
	size_t done = 0;

	while (done < size) {
		ssize_t got = read(fd, (char *)buffer + done, size - done);

		if (got == -1 && errno == EINTR)
			continue;
		if (got <= 0)
			return got == 0 ? (ssize_t)done : -1;
		done += (size_t)got;
	}
	return (ssize_t)done;
}

static void child_run(const struct probe *probe, int result_fd)
{
	struct probe_result result;

	if (probe->isolation == RUN_IN_CHILD_MAY_DIE)
		forbid_core_dump();
	memset(&result, 0, sizeof(result));
	probe->run(&result);
	/* One write below PIPE_BUF: atomic. */
	if (write(result_fd, &result, sizeof(result)) != (ssize_t)sizeof(result))
		_exit(3);
	_exit(0);
}

/* Returns the child's wait status, or -1 with errno. */
static int wait_child(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR)
			return -1;
	}
	return status;
}

/* Runs the probe in a forked child and reports what it saw or what killed it.
 * Returns 0, or -1 when the harness itself failed (the result then says how). */
static int run_in_child(const struct probe *probe, struct probe_result *result)
{
	int fds[2];
	pid_t pid;
	ssize_t got;
	int status;

	if (pipe2(fds, O_CLOEXEC) == -1) {
		result_errno(result, errno, "harness:pipe2");
		return -1;
	}
	fflush(stdout);
	pid = fork();
	if (pid == -1) {
		result_errno(result, errno, "harness:fork");
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		child_run(probe, fds[1]);
	}
	close(fds[1]);
	got = read_full(fds[0], result, sizeof(*result));
	close(fds[0]);
	status = wait_child(pid);
	if (status == -1) {
		result_errno(result, errno, "harness:waitpid");
		return -1;
	}
	if (WIFSIGNALED(status)) {
		const char *abbrev = sigabbrev_np(WTERMSIG(status));

		result->kind = OUTCOME_SIGNAL;
		result->value = WTERMSIG(status);
		snprintf(result->detail, sizeof(result->detail), "child-killed-by-SIG%s",
			 abbrev ? abbrev : "?");
		return 0;
	}
	if (got != (ssize_t)sizeof(*result)) {
		result_errno(result, EIO, "harness:no-result-from-child,status=%#x", status);
		return -1;
	}
	result->detail[sizeof(result->detail) - 1] = '\0';
	return 0;
}

static int run_probe(const struct probe *probe, struct probe_result *result)
{
	memset(result, 0, sizeof(*result));
	if (probe->isolation == RUN_IN_PROCESS) {
		probe->run(result);
		return 0;
	}
	return run_in_child(probe, result);
}

/* The detail is one token: spaces and control characters become '_'. */
static void print_result(const char *name, struct probe_result *result)
{
	for (char *c = result->detail; *c; c++) {
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			*c = '_';
	}
	const char *detail = result->detail[0] ? result->detail : "-";

	switch (result->kind) {
	case OUTCOME_OK:
		printf("%s result=ok detail=%s\n", name, detail);
		break;
	case OUTCOME_ERRNO: {
		const char *errno_name = strerrorname_np(result->value);

		if (errno_name)
			printf("%s errno=%s detail=%s\n", name, errno_name, detail);
		else
			printf("%s errno=E%d detail=%s\n", name, result->value, detail);
		break;
	}
	case OUTCOME_SIGNAL:
		printf("%s signal=%d detail=%s\n", name, result->value, detail);
		break;
	}
	fflush(stdout);
}

static void usage(void)
{
	fprintf(stderr, "usage: try-syscall PROBE [PROBE...]\n"
			"       try-syscall --list\n");
}

int main(int argc, char **argv)
{
	int harness_failures = 0;

	if (argc < 2) {
		usage();
		return 2;
	}
	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < PROBE_COUNT; i++)
			printf("%s\n", probes[i].name);
		return 0;
	}
	/* Every name is checked before anything runs. */
	for (int i = 1; i < argc; i++) {
		if (!probe_find(argv[i])) {
			fprintf(stderr, "try-syscall: unknown probe '%s' (see --list)\n", argv[i]);
			return 2;
		}
	}
	launcher_pid = getppid();
	for (int i = 1; i < argc; i++) {
		struct probe_result result;

		if (run_probe(probe_find(argv[i]), &result) == -1)
			harness_failures++;
		print_result(argv[i], &result);
	}
	return harness_failures ? 1 : 0;
}
