/* Unit tests of the seccomp layer (src/sandbox/seccomp.c). Each probe runs in a forked child,
 * with the filter installed or without it, calls a syscall with harmless bad arguments and sends
 * the errno it saw to the parent through a pipe; the parent compares the two. */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/seccomp.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "skip.h"

#include "sandbox/seccomp.h"
#include "sandbox/seccomp_policy.h"

#define X32_SYSCALL_BIT 0x40000000L
#define NR_STATMOUNT 457
#define NR_LISTMOUNT 458
#define NR_OPEN_TREE_ATTR 467
#define HIGH_BIT (1UL << 32)
#define BAD_SOCKET_TYPE 15 /* above SOCK_MAX: the kernel answers EINVAL once the family passes */

/* Values a child reports instead of an errno when it could not set the filter up. */
#define REPORT_NNP_FAILED (-1000L)
#define REPORT_APPLY_FAILED (-2000L)

static struct seccomp_plan plan;

typedef long (*probe_fn)(long arg);

struct outcome {
	bool has_report; /* false when the child died before reporting (SIGSYS, say) */
	long value;	 /* the errno the probe saw, 0 on success */
	int status;	 /* wait status of the child */
};

static long errno_of(long rc)
{
	return rc == -1 ? errno : 0;
}

static void child_report(int fd, long value)
{
	ssize_t n;

	do
		n = write(fd, &value, sizeof(value));
	while (n < 0 && errno == EINTR);
	_exit(n == (ssize_t)sizeof(value) ? 0 : 1);
}

static void child_run(int fd, bool is_filtered, probe_fn probe, long arg)
{
	static const int fault_signals[] = {SIGSEGV, SIGILL, SIGFPE, SIGBUS, SIGSYS};
	struct rlimit no_core = {0, 0};
	struct sk_err err = {0};

	/* cmocka catches these in the parent to fail a test; here they must kill the child. */
	for (size_t i = 0; i < sizeof(fault_signals) / sizeof(fault_signals[0]); i++)
		signal(fault_signals[i], SIG_DFL);
	/* Killed children must not leave core files; no terminal for vhangup or TIOCSTI. */
	setrlimit(RLIMIT_CORE, &no_core);
	setsid();
	if (is_filtered) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
			child_report(fd, REPORT_NNP_FAILED - errno);
		if (seccomp_apply(&plan, &err) != 0)
			child_report(fd, REPORT_APPLY_FAILED - err.errnum);
	}
	child_report(fd, probe(arg));
}

static struct outcome run_probe(bool is_filtered, probe_fn probe, long arg)
{
	struct outcome out = {0};
	int fds[2];
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		child_run(fds[1], is_filtered, probe, arg);
	}
	close(fds[1]);
	do
		n = read(fds[0], &out.value, sizeof(out.value));
	while (n < 0 && errno == EINTR);
	out.has_report = n == (ssize_t)sizeof(out.value);
	close(fds[0]);
	assert_int_equal(waitpid(pid, &out.status, 0), pid);
	if (out.has_report && out.value <= REPORT_APPLY_FAILED)
		fail_msg("child could not load the filter: errno %ld",
			 REPORT_APPLY_FAILED - out.value);
	if (out.has_report && out.value <= REPORT_NNP_FAILED)
		fail_msg("child could not set no_new_privs: errno %ld",
			 REPORT_NNP_FAILED - out.value);
	return out;
}

/* The probe's errno under the filter; fails the test if the child did not report. */
static long filtered_errno(probe_fn probe, long arg)
{
	struct outcome out = run_probe(true, probe, arg);

	if (!out.has_report)
		fail_msg("filtered probe (arg %#lx) died: wait status %#x", (unsigned long)arg,
			 out.status);
	return out.value;
}

static long native_errno(probe_fn probe, long arg)
{
	struct outcome out = run_probe(false, probe, arg);

	if (!out.has_report)
		fail_msg("native probe (arg %#lx) died: wait status %#x", (unsigned long)arg,
			 out.status);
	return out.value;
}

/* The filter answers `expected`, and without the filter the kernel answers something else: the
 * test would go red without the layer. */
static void assert_denied_by_filter(probe_fn probe, long arg, long expected)
{
	long native = native_errno(probe, arg);
	long filtered = filtered_errno(probe, arg);

	if (filtered != expected || native == expected)
		fail_msg("arg %#lx: filtered errno %ld (want %ld), native errno %ld (want other)",
			 (unsigned long)arg, filtered, expected, native);
}

static bool is_io_uring_disabled(void)
{
	char value = '0';
	int fd = open("/proc/sys/kernel/io_uring_disabled", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, &value, 1) != 1)
			value = '0';
		close(fd);
	}
	return value != '0';
}

/* ---- Probes: each returns the errno it saw, 0 on success. ---- */

static long probe_mount(long unused)
{
	(void)unused;
	return errno_of(syscall(SYS_mount, NULL, NULL, NULL, 0, NULL));
}

static long probe_unshare_nothing(long unused)
{
	(void)unused;
	return errno_of(syscall(SYS_unshare, 0));
}

/* ioctl with `request` on a pipe: no tty, so the kernel itself says ENOTTY. */
static long probe_ioctl_on_pipe(long request)
{
	int fds[2];
	char c = 'x';
	long result;

	if (pipe2(fds, O_CLOEXEC) != 0)
		return 1000 + errno;
	result = errno_of(syscall(SYS_ioctl, fds[0], (unsigned long)request, &c));
	close(fds[0]);
	close(fds[1]);
	return result;
}

static long probe_clone3_null(long unused)
{
	(void)unused;
	return errno_of(syscall(SYS_clone3, NULL, 0));
}

/* CLONE_THREAD without CLONE_SIGHAND is refused by the kernel with EINVAL before any namespace is
 * made, so the probe never creates a process either way. */
static long probe_clone_thread_with(long flags)
{
	return errno_of(syscall(SYS_clone, (unsigned long)flags | CLONE_THREAD, 0, 0, 0, 0));
}

static long probe_io_uring_setup(long unused)
{
	(void)unused;
	return errno_of(syscall(SYS_io_uring_setup, 0, NULL));
}

static long probe_syscall_bad_args(long nr)
{
	return errno_of(syscall(nr, -1L, -1L, -1L, -1L, -1L, -1L));
}

static long probe_syscall_null_args(long nr)
{
	return errno_of(syscall(nr, 0L, 0L, 0L, 0L, 0L, 0L));
}

static long probe_socket_bad_type(long family)
{
	return errno_of(syscall(SYS_socket, family, BAD_SOCKET_TYPE, 0));
}

static long probe_socketpair_bad_type(long family)
{
	int fds[2];

	return errno_of(syscall(SYS_socketpair, family, BAD_SOCKET_TYPE, 0, fds));
}

static long probe_netlink(long protocol)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, (int)protocol);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static long probe_personality(long persona)
{
	long old = syscall(SYS_personality, (unsigned long)persona);

	if (old == -1)
		return errno;
	/* Put it back, so that the child's next steps run normally. */
	syscall(SYS_personality, (unsigned long)old);
	return 0;
}

static long probe_x32_getpid(long unused)
{
	(void)unused;
	return errno_of(syscall(X32_SYSCALL_BIT | SYS_getpid));
}

/* getpid through the i386 entry point (int 0x80, syscall 20 in the i386 table). */
static long probe_int80_getpid(long unused)
{
	long ret;

	(void)unused;
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory", "r8", "r9", "r10", "r11");
	return ret < 0 ? -ret : 0;
}

/* ---- Tests ---- */

static int group_setup(void **state)
{
	(void)state;
	seccomp_prepare(&plan);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	seccomp_plan_free(&plan);
	return 0;
}

static void test_prepare_fills_plan(void **state)
{
	char expected[64];

	(void)state;
	assert_non_null(plan.filter);
	assert_true(plan.filter_len > 10);
	assert_true(plan.filter_len <= BPF_MAXINSNS);
	assert_true(plan.rule_count > 100);
	/* The program starts by loading the architecture: the check every ABI goes through. */
	assert_int_equal(plan.filter[0].code, BPF_LD | BPF_W | BPF_ABS);
	assert_int_equal(plan.filter[0].k, offsetof(struct seccomp_data, arch));
	snprintf(expected, sizeof(expected), ", x86_64, %u rules", plan.rule_count);
	assert_non_null(strstr(plan.detail, expected));
	assert_true(strncmp(plan.detail, "libseccomp 2.", 13) == 0);
}

/* The program built into stockade is exactly what the policy compiles to now: the build-time
 * generation neither lost nor altered a rule. */
static void test_builtin_program_matches_policy(void **state)
{
	struct seccomp_plan fresh;
	struct sk_err err = {0};

	(void)state;
	assert_int_equal(seccomp_compile(&fresh, &err), 0);
	assert_true(fresh.is_allocated);
	assert_false(plan.is_allocated);
	assert_int_equal(fresh.filter_len, plan.filter_len);
	assert_int_equal(fresh.rule_count, plan.rule_count);
	assert_memory_equal(fresh.filter, plan.filter, plan.filter_len * sizeof(*plan.filter));
	seccomp_plan_free(&fresh);
	assert_null(fresh.filter);
}

static void test_plan_free_is_idempotent(void **state)
{
	struct seccomp_plan other;

	(void)state;
	seccomp_prepare(&other);
	seccomp_plan_free(&other);
	assert_null(other.filter);
	assert_int_equal(other.filter_len, 0);
	seccomp_plan_free(&other);
}

static void test_apply_without_program_fails(void **state)
{
	struct seccomp_plan empty = {0};
	struct sk_err err = {0};

	(void)state;
	assert_int_equal(seccomp_apply(&empty, &err), -1);
	assert_string_equal(err.layer, "seccomp");
	assert_int_equal(err.errnum, EINVAL);
	assert_true(err.hint[0] != '\0');
}

static long probe_apply_without_nnp(long unused)
{
	struct sk_err err = {0};

	(void)unused;
	if (seccomp_apply(&plan, &err) == 0)
		return 0;
	return err.hint[0] ? err.errnum : 999;
}

static void test_apply_without_nnp_fails_unprivileged(void **state)
{
	(void)state;
	if (geteuid() == 0)
		skip_because("as root: CAP_SYS_ADMIN may load a filter without no_new_privs");
	assert_int_equal(native_errno(probe_apply_without_nnp, 0), EACCES);
}

static void test_mount_denied(void **state)
{
	(void)state;
	assert_denied_by_filter(probe_mount, 0, EPERM);
}

static void test_unshare_denied(void **state)
{
	(void)state;
	assert_int_equal(native_errno(probe_unshare_nothing, 0), 0);
	assert_int_equal(filtered_errno(probe_unshare_nothing, 0), EPERM);
}

/* Every syscall of the deny list, with arguments that are harmless were the filter missing. */
static void test_deny_list_returns_eperm(void **state)
{
	/* clang-format off */
	static const long denied[] = {
		SYS_acct, SYS_add_key, SYS_bpf, SYS_clock_adjtime, SYS_clock_settime,
		SYS_settimeofday, SYS_create_module, SYS_delete_module, SYS_finit_module,
		SYS_init_module, SYS_get_kernel_syms, SYS_query_module, SYS_get_mempolicy,
		SYS_set_mempolicy, SYS_mbind, SYS_move_pages, SYS_migrate_pages, SYS_ioperm,
		SYS_iopl, SYS_kcmp, SYS_kexec_file_load, SYS_kexec_load, SYS_keyctl,
		SYS_request_key, SYS_lookup_dcookie, SYS_mount, SYS_umount2, SYS_pivot_root,
		SYS_chroot, SYS_name_to_handle_at, SYS_open_by_handle_at, SYS_nfsservctl,
		SYS_perf_event_open, SYS_process_vm_readv, SYS_process_vm_writev, SYS_ptrace,
		SYS_quotactl, SYS_quotactl_fd, SYS_reboot, SYS_setns, SYS_unshare, SYS_swapon,
		SYS_swapoff, SYS_sysfs, SYS__sysctl, SYS_uselib, SYS_userfaultfd, SYS_ustat,
		SYS_modify_ldt, SYS_syslog, SYS_vhangup, SYS_sethostname, SYS_setdomainname,
		SYS_fanotify_init, SYS_pidfd_getfd, SYS_process_madvise, SYS_open_tree,
		SYS_move_mount, SYS_fsopen, SYS_fsconfig, SYS_fsmount, SYS_fspick,
		SYS_mount_setattr, NR_STATMOUNT, NR_LISTMOUNT, NR_OPEN_TREE_ATTR,
		SYS_io_uring_setup, SYS_io_uring_enter, SYS_io_uring_register,
		SYS_set_mempolicy_home_node,
	};
	/* clang-format on */

	(void)state;
	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
		long seen = filtered_errno(probe_syscall_bad_args, denied[i]);

		if (seen != EPERM)
			fail_msg("syscall %ld: errno %ld under the filter, want EPERM", denied[i],
				 seen);
	}
}

/* statmount, listmount and open_tree_attr are added by number (libseccomp 2.5.4 does not know
 * them): check the numbers are real syscalls on this kernel and the rules catch them. */
static void test_new_mount_syscalls_by_number(void **state)
{
	static const long numbers[] = {NR_STATMOUNT, NR_LISTMOUNT, NR_OPEN_TREE_ATTR};

	(void)state;
	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
		long native = native_errno(probe_syscall_null_args, numbers[i]);

		if (native == ENOSYS)
			print_message("syscall %ld unknown to this kernel: number not confirmed\n",
				      numbers[i]);
		assert_int_not_equal(native, EPERM);
		assert_int_equal(filtered_errno(probe_syscall_null_args, numbers[i]), EPERM);
	}
}

/* The kernel ignores the high 32 bits of the ioctl request: the rule must too (CVE-2017-5226). */
static void test_terminal_injection_ioctls_denied(void **state)
{
	static const unsigned long requests[] = {
	    TIOCSTI,
	    TIOCSTI | HIGH_BIT,
	    TIOCSTI | 0xffffffff00000000UL,
	    TIOCLINUX,
	    TIOCLINUX | HIGH_BIT,
	    TIOCSETD,
	    TIOCSETD | HIGH_BIT,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++)
		assert_denied_by_filter(probe_ioctl_on_pipe, (long)requests[i], EPERM);
}

static void test_other_ioctls_allowed(void **state)
{
	(void)state;
	/* A neighbour of TIOCSTI is still the kernel's business, and FIONREAD still works. */
	assert_int_equal(filtered_errno(probe_ioctl_on_pipe, TIOCGWINSZ | HIGH_BIT), ENOTTY);
	assert_int_equal(filtered_errno(probe_ioctl_on_pipe, FIONREAD), 0);
}

static void test_clone3_is_enosys(void **state)
{
	(void)state;
	assert_denied_by_filter(probe_clone3_null, 0, ENOSYS);
}

static void test_clone_namespace_flags_denied(void **state)
{
	static const unsigned long flags[] = {
	    CLONE_NEWUSER, CLONE_NEWNS,	 CLONE_NEWPID,	  CLONE_NEWNET,
	    CLONE_NEWIPC,  CLONE_NEWUTS, CLONE_NEWCGROUP, CLONE_NEWTIME,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		assert_denied_by_filter(probe_clone_thread_with, (long)flags[i], EPERM);
		assert_denied_by_filter(probe_clone_thread_with, (long)(flags[i] | CLONE_VM),
					EPERM);
	}
	/* Without a namespace flag, clone is the kernel's business. */
	assert_int_equal(filtered_errno(probe_clone_thread_with, 0), EINVAL);
}

static void test_io_uring_denied(void **state)
{
	(void)state;
	assert_int_equal(filtered_errno(probe_io_uring_setup, 0), EPERM);
	if (is_io_uring_disabled())
		skip_because("kernel.io_uring_disabled: the kernel itself answers EPERM, no native "
			     "difference to show");
	assert_denied_by_filter(probe_io_uring_setup, 0, EPERM);
}

static void test_socket_families(void **state)
{
	(void)state;
	/* Native EINVAL (bad type), filtered EAFNOSUPPORT: refused on the family first. */
	assert_denied_by_filter(probe_socket_bad_type, AF_PACKET, EAFNOSUPPORT);
	assert_denied_by_filter(probe_socketpair_bad_type, AF_PACKET, EAFNOSUPPORT);
	for (long family = 0; family < 64; family++) {
		bool is_allowed = family == AF_UNIX || family == AF_INET || family == AF_INET6 ||
				  family == AF_NETLINK;
		long want = is_allowed ? EINVAL : EAFNOSUPPORT;

		if (filtered_errno(probe_socket_bad_type, family) != want)
			fail_msg("socket family %ld: want errno %ld", family, want);
		if (filtered_errno(probe_socketpair_bad_type, family) != want)
			fail_msg("socketpair family %ld: want errno %ld", family, want);
	}
	/* High bits of the family (the kernel reads an int) reach no family at all. */
	assert_denied_by_filter(probe_socket_bad_type, (long)(AF_APPLETALK | HIGH_BIT),
				EAFNOSUPPORT);
	assert_denied_by_filter(probe_socket_bad_type, (long)(AF_INET | HIGH_BIT), EAFNOSUPPORT);
	assert_int_equal(filtered_errno(probe_socket_bad_type, -1), EAFNOSUPPORT);
}

static void test_netlink_route_only(void **state)
{
	(void)state;
	assert_int_equal(filtered_errno(probe_netlink, NETLINK_ROUTE), 0);
	assert_int_equal(filtered_errno(probe_netlink, NETLINK_AUDIT), EPROTONOSUPPORT);
	assert_int_equal(filtered_errno(probe_netlink, NETLINK_NETFILTER), EPROTONOSUPPORT);
	assert_int_equal(filtered_errno(probe_netlink, NETLINK_KOBJECT_UEVENT), EPROTONOSUPPORT);
}

static void test_personality(void **state)
{
	(void)state;
	assert_denied_by_filter(probe_personality, 0x0040000 /* ADDR_NO_RANDOMIZE */, EPERM);
	/* Only the query is allowed. */
	assert_int_equal(filtered_errno(probe_personality, (long)0xffffffffUL), 0);
	for (unsigned bit = 0; bit < 32; bit++) {
		unsigned long one = 1UL << bit;

		if (filtered_errno(probe_personality, (long)one) != EPERM)
			fail_msg("personality(%#lx): want EPERM", one);
		if (filtered_errno(probe_personality, (long)(0xffffffffUL & ~one)) != EPERM)
			fail_msg("personality(%#lx): want EPERM", 0xffffffffUL & ~one);
	}
	/* The kernel reads an unsigned int: high bits do not hide a flag. (A query with junk high
	 * bits is refused too: libseccomp's 32-bit compare also wants the high word clear.) */
	assert_int_equal(filtered_errno(probe_personality, (long)(HIGH_BIT | 0x0040000)), EPERM);
	assert_int_equal(filtered_errno(probe_personality, (long)(HIGH_BIT | 0x80400000)), EPERM);
	assert_int_equal(filtered_errno(probe_personality, (long)(HIGH_BIT | 0xffffffffUL)), EPERM);
}

static bool is_killed_by_sigsys(struct outcome out)
{
	return !out.has_report && WIFSIGNALED(out.status) && WTERMSIG(out.status) == SIGSYS;
}

static void test_x32_abi_killed(void **state)
{
	struct outcome native, filtered;

	(void)state;
	native = run_probe(false, probe_x32_getpid, 0);
	assert_true(native.has_report); /* ENOSYS, or the pid where x32 is built in */
	filtered = run_probe(true, probe_x32_getpid, 0);
	assert_true(is_killed_by_sigsys(filtered));
}

static void test_i386_abi_killed(void **state)
{
	struct outcome native, filtered;

	(void)state;
	native = run_probe(false, probe_int80_getpid, 0);
	if (!native.has_report)
		skip_because("no ia32 emulation (int 0x80 is SIGSEGV): the kernel has no i386 "
			     "table to reach");
	assert_int_equal(native.value, 0);
	filtered = run_probe(true, probe_int80_getpid, 0);
	assert_true(is_killed_by_sigsys(filtered));
}

/* ---- What ordinary programs need still works under the filter. ---- */

static long probe_fork(long unused)
{
	int status;
	pid_t pid;

	(void)unused;
	pid = fork();
	if (pid < 0)
		return errno;
	if (pid == 0)
		_exit(42);
	if (waitpid(pid, &status, 0) != pid)
		return errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 42 ? 0 : 1000;
}

static long probe_pipe(long unused)
{
	int fds[2];
	char c = 'x';

	(void)unused;
	if (pipe2(fds, O_CLOEXEC) != 0)
		return errno;
	if (write(fds[1], &c, 1) != 1 || read(fds[0], &c, 1) != 1)
		return 1000;
	close(fds[0]);
	close(fds[1]);
	return 0;
}

static long probe_socketpair_unix(long unused)
{
	int fds[2];

	(void)unused;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
		return errno;
	close(fds[0]);
	close(fds[1]);
	return 0;
}

static long probe_socket(long family)
{
	int fd = socket((int)family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static long probe_mmap(long unused)
{
	size_t size = 1 << 20;
	char *p;

	(void)unused;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return errno;
	p[0] = p[size - 1] = 1;
	if (mprotect(p, size, PROT_READ) != 0)
		return errno;
	return errno_of(munmap(p, size));
}

static long probe_memfd(long unused)
{
	int fd = memfd_create("stockade-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	(void)unused;
	if (fd < 0)
		return errno;
	if (ftruncate(fd, 4096) != 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_GROW) != 0)
		return errno;
	close(fd);
	return 0;
}

static void *thread_main(void *arg)
{
	return arg;
}

static long probe_thread(long unused)
{
	pthread_t thread;
	void *result = NULL;
	int rc;

	(void)unused;
	rc = pthread_create(&thread, NULL, thread_main, (void *)0x5eed);
	if (rc != 0)
		return rc;
	rc = pthread_join(thread, &result);
	return rc != 0 ? rc : (result == (void *)0x5eed ? 0 : 1000);
}

static long probe_shm(long unused)
{
	char name[64];
	int fd;

	(void)unused;
	snprintf(name, sizeof(name), "/stockade-test-%d", (int)getpid());
	fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno;
	close(fd);
	return errno_of(shm_unlink(name));
}

static volatile sig_atomic_t signal_seen;

static void on_signal(int sig)
{
	signal_seen = sig;
}

static long probe_signals(long unused)
{
	struct sigaction sa = {0};

	(void)unused;
	sa.sa_handler = on_signal;
	if (sigaction(SIGUSR1, &sa, NULL) != 0 || kill(getpid(), SIGUSR1) != 0)
		return errno;
	return signal_seen == SIGUSR1 ? 0 : 1000;
}

static long probe_prctl_and_seccomp(long unused)
{
	uint32_t action = SECCOMP_RET_ERRNO;

	(void)unused;
	if (prctl(PR_SET_NAME, "probe", 0, 0, 0) != 0)
		return errno;
	/* seccomp(2) itself stays allowed: the workload may add its own filters. */
	return errno_of(syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action));
}

static long probe_landlock_abi(long unused)
{
	(void)unused;
	/* LANDLOCK_CREATE_RULESET_VERSION: the ABI number or an errno. */
	return errno_of(syscall(SYS_landlock_create_ruleset, NULL, 0, 1U << 0) < 0 ? -1 : 0);
}

static long probe_shell(long unused)
{
	char *const argv[] = {"/bin/sh", "-c", "echo hi | cat >/dev/null && exit 7", NULL};
	int status;
	pid_t pid;

	(void)unused;
	pid = fork();
	if (pid < 0)
		return errno;
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 7 ? 0 : 1000 + status;
}

static void test_ordinary_programs_work(void **state)
{
	static const struct {
		const char *name;
		probe_fn probe;
		long arg;
		bool must_succeed; /* else: same result as without the filter */
	} probes[] = {
	    {"fork", probe_fork, 0, true},
	    {"pipe", probe_pipe, 0, true},
	    {"socketpair(AF_UNIX)", probe_socketpair_unix, 0, true},
	    {"socket(AF_UNIX)", probe_socket, AF_UNIX, true},
	    {"socket(AF_INET)", probe_socket, AF_INET, true},
	    {"socket(AF_INET6)", probe_socket, AF_INET6, false},
	    {"mmap", probe_mmap, 0, true},
	    {"memfd_create", probe_memfd, 0, true},
	    {"pthread_create", probe_thread, 0, true},
	    {"shm_open", probe_shm, 0, false},
	    {"signals", probe_signals, 0, true},
	    {"prctl and seccomp", probe_prctl_and_seccomp, 0, true},
	    {"landlock", probe_landlock_abi, 0, false},
	    {"/bin/sh", probe_shell, 0, true},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		long filtered = filtered_errno(probes[i].probe, probes[i].arg);
		long want =
		    probes[i].must_succeed ? 0 : native_errno(probes[i].probe, probes[i].arg);

		if (filtered != want)
			fail_msg("%s: result %ld under the filter, want %ld", probes[i].name,
				 filtered, want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_prepare_fills_plan),
	    cmocka_unit_test(test_builtin_program_matches_policy),
	    cmocka_unit_test(test_plan_free_is_idempotent),
	    cmocka_unit_test(test_apply_without_program_fails),
	    cmocka_unit_test(test_apply_without_nnp_fails_unprivileged),
	    cmocka_unit_test(test_mount_denied),
	    cmocka_unit_test(test_unshare_denied),
	    cmocka_unit_test(test_deny_list_returns_eperm),
	    cmocka_unit_test(test_new_mount_syscalls_by_number),
	    cmocka_unit_test(test_terminal_injection_ioctls_denied),
	    cmocka_unit_test(test_other_ioctls_allowed),
	    cmocka_unit_test(test_clone3_is_enosys),
	    cmocka_unit_test(test_clone_namespace_flags_denied),
	    cmocka_unit_test(test_io_uring_denied),
	    cmocka_unit_test(test_socket_families),
	    cmocka_unit_test(test_netlink_route_only),
	    cmocka_unit_test(test_personality),
	    cmocka_unit_test(test_x32_abi_killed),
	    cmocka_unit_test(test_i386_abi_killed),
	    cmocka_unit_test(test_ordinary_programs_work),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
