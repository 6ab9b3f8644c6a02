/* The seccomp layer: a deny-list on a default-allow filter (Docker's default denials and more),
 * compiled with libseccomp in the parent and exported as a BPF program into memory, then loaded
 * in the child with the raw seccomp(2) call, the last step before exec. */
#define _GNU_SOURCE

#include "sandbox/seccomp_policy.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/macros.h"

/* The argument positions below (clone's flags in arg0), the syscall numbers of the table and the
 * handling of the x32 and i386 ABIs are those of x86_64. Porting means reviewing all of them. */
#if !defined(__x86_64__)
#error "the seccomp policy is written for x86_64: review clone's argument order and the table"
#endif

#define NR_ABSENT (-1) /* not a syscall on x86_64 (vm86 is i386-only) */

/* The kernel takes these arguments as 32-bit `int`/`unsigned int` and ignores the high half of
 * the register, so they are compared through this mask: a plain 64-bit compare lets a caller set
 * a high bit and slip past the rule (bubblewrap CVE-2017-5226, with TIOCSTI). */
#define LOW_32_BITS 0xffffffffULL

struct denied_syscall {
	const char *name;
	int x86_64_nr; /* the number on x86_64, to add it by number when libseccomp is too old */
};

/* clang-format off */
#define DENY(name) {#name, SYS_##name}
/* clang-format on */

/* Every syscall here is answered EPERM. */
static const struct denied_syscall denied_syscalls[] = {
    /* Docker's default profile denies these: each is privileged, obsolete, or kernel attack
     * surface (accounting, keyrings, BPF, clocks, modules, NUMA placement of other processes,
     * I/O ports, kexec, mounts and namespaces, handle-based opens ("shocker"), perf, tracing,
     * quotas, reboot, swap, userfaultfd, vm86/LDT, the kernel log, terminal hangup, names). */
    DENY(acct),
    DENY(add_key),
    DENY(bpf),
    DENY(clock_adjtime),
    DENY(clock_settime),
    DENY(settimeofday),
    DENY(create_module),
    DENY(delete_module),
    DENY(finit_module),
    DENY(init_module),
    DENY(get_kernel_syms),
    DENY(query_module),
    DENY(get_mempolicy),
    DENY(set_mempolicy),
    DENY(mbind),
    DENY(move_pages),
    DENY(migrate_pages),
    DENY(ioperm),
    DENY(iopl),
    DENY(kcmp),
    DENY(kexec_file_load),
    DENY(kexec_load),
    DENY(keyctl),
    DENY(request_key),
    DENY(lookup_dcookie),
    DENY(mount),
    DENY(umount2),
    DENY(pivot_root),
    DENY(chroot),
    DENY(name_to_handle_at),
    DENY(open_by_handle_at),
    DENY(nfsservctl),
    DENY(perf_event_open),
    DENY(process_vm_readv),
    DENY(process_vm_writev),
    DENY(ptrace),
    DENY(quotactl),
    DENY(quotactl_fd),
    DENY(reboot),
    DENY(setns),
    DENY(unshare),
    DENY(swapon),
    DENY(swapoff),
    DENY(sysfs),
    DENY(_sysctl),
    DENY(uselib),
    DENY(userfaultfd),
    DENY(ustat),
    {"vm86", NR_ABSENT},
    {"vm86old", NR_ABSENT},
    DENY(modify_ldt),
    DENY(syslog),
    DENY(vhangup),
    DENY(sethostname),
    DENY(setdomainname),
    DENY(fanotify_init),
    DENY(pidfd_getfd),
    DENY(process_madvise),
    /* The new mount API reaches the same filesystem code as mount(2) (fsconfig was the way in
     * for CVE-2022-0185) and must not be a side door around the mount denial. The numbers of
     * the newest are written out: Debian 12's headers and libseccomp 2.5.4 predate them. */
    DENY(open_tree),
    DENY(move_mount),
    DENY(fsopen),
    DENY(fsconfig),
    DENY(fsmount),
    DENY(fspick),
    DENY(mount_setattr),
    {"statmount", 457},
    {"listmount", 458},
    {"open_tree_attr", 467}, /* Linux 6.15: open_tree() with mount attributes */
    /* io_uring runs its operations from kernel workers that seccomp never sees, so it would
     * bypass every rule here; it has also been a steady source of kernel exploits. */
    DENY(io_uring_setup),
    DENY(io_uring_enter),
    DENY(io_uring_register),
    /* Ours: the NUMA sibling of mbind/set_mempolicy (Docker predates it). */
    DENY(set_mempolicy_home_node),
};

/* Namespace flags refused in clone's flags. A new user namespace gives the workload namespaced
 * CAP_SYS_ADMIN over code written for real root (CVE-2022-0185, CVE-2022-0492); the others
 * need that capability anyway, and refusing them keeps the kernel code behind them out of
 * reach. CLONE_NEWTIME (0x80) lies inside CSIGNAL, which legacy clone reads as the exit signal,
 * so refusing it there only refuses exit signals with bit 0x80, all above the last signal (64). */
static const unsigned long clone_namespace_flags[] = {
    CLONE_NEWUSER, CLONE_NEWNS,	 CLONE_NEWPID,	  CLONE_NEWNET,
    CLONE_NEWIPC,  CLONE_NEWUTS, CLONE_NEWCGROUP, CLONE_NEWTIME,
};

/* Terminal ioctls (compared on the low 32 bits of the request, see LOW_32_BITS). TIOCSTI and
 * TIOCLINUX push input into a terminal the workload shares with its caller (CVE-2017-5226,
 * CVE-2019-10063, CVE-2023-28100); TIOCSETD changes the line discipline, which loads and runs
 * rarely used kernel code (n_hdlc, CVE-2017-2636). */
static const unsigned long denied_ioctls[] = {TIOCSTI, TIOCLINUX, TIOCSETD};

struct filter_build {
	scmp_filter_ctx ctx;
	unsigned rule_count;
};

static int add_rule(struct filter_build *build, uint32_t action, int nr, const char *name,
		    unsigned arg_count, const struct scmp_arg_cmp *args, struct sk_err *err)
{
	/* _exact: fail rather than let libseccomp rewrite the rule. */
	int rc = seccomp_rule_add_exact_array(build->ctx, action, nr, arg_count, args);

	if (rc < 0)
		return sk_fail(
		    err, "seccomp", -rc,
		    "libseccomp refused a rule of the built-in policy; is libseccomp >= 2.5?",
		    "seccomp_rule_add(%s, %u conditions)", name, arg_count);
	build->rule_count++;
	return 0;
}

/* The number to filter for `entry`, or NR_ABSENT when it is no syscall on x86_64. */
static int resolve_syscall(const struct denied_syscall *entry, int *nr, struct sk_err *err)
{
	int resolved = seccomp_syscall_resolve_name(entry->name);

	/* libseccomp answers a negative pseudo-number for a syscall that exists only on other
	 * architectures, and __NR_SCMP_ERROR for a name it does not know (one newer than it). */
	if (resolved >= 0 && entry->x86_64_nr >= 0 && resolved != entry->x86_64_nr)
		return sk_fail(
		    err, "seccomp", 0,
		    "the syscall table in src/sandbox/seccomp.c disagrees with libseccomp",
		    "resolving %s: libseccomp says %d, the table says %d", entry->name, resolved,
		    entry->x86_64_nr);
	*nr = resolved >= 0 ? resolved : entry->x86_64_nr;
	return 0;
}

static int deny_syscalls(struct filter_build *build, struct sk_err *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(denied_syscalls); i++) {
		const struct denied_syscall *entry = &denied_syscalls[i];
		int nr = NR_ABSENT;

		if (resolve_syscall(entry, &nr, err) < 0)
			return -1;
		/* vm86 and vm86old are i386 only, and i386 is killed as a bad architecture. */
		if (nr == NR_ABSENT)
			continue;
		if (add_rule(build, SCMP_ACT_ERRNO(EPERM), nr, entry->name, 0, NULL, err) < 0)
			return -1;
	}
	return 0;
}

/* clone3 passes its flags in a struct in memory, which seccomp cannot read: answer ENOSYS so
 * that glibc falls back to clone, whose flags register the rules below can see. */
static int deny_namespaces_in_clone(struct filter_build *build, struct sk_err *err)
{
	if (add_rule(build, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), "clone3", 0, NULL, err) < 0)
		return -1;
	/* One rule per flag: libseccomp has no "masked not-equal", so "any of these bits set" is
	 * the union of "this bit set". The kernel reads only the low 32 bits of clone's flags, and
	 * the masks lie in those. */
	for (size_t i = 0; i < ARRAY_SIZE(clone_namespace_flags); i++) {
		struct scmp_arg_cmp flag_set = SCMP_A0_64(
		    SCMP_CMP_MASKED_EQ, clone_namespace_flags[i], clone_namespace_flags[i]);

		if (add_rule(build, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), "clone", 1, &flag_set,
			     err) < 0)
			return -1;
	}
	return 0;
}

/* personality(2): only the query 0xffffffff is allowed. Docker also lets a program set PER_LINUX
 * (0), PER_LINUX32 and UNAME26; we do not: non-native ABIs are killed here anyway, and "not one
 * of five values" is no single libseccomp comparison (one per argument and rule) - its 60
 * bit-pattern rules tripled the BPF program, and the kernel spends about a microsecond per
 * instruction loading it at every launch. Every refused value either changes nothing or sets a
 * flag such as ADDR_NO_RANDOMIZE (turns off ASLR) or READ_IMPLIES_EXEC. The kernel reads an
 * unsigned int, so only the low 32 bits are compared. */
static int restrict_personality(struct filter_build *build, struct sk_err *err)
{
	struct scmp_arg_cmp not_query = SCMP_A0_32(SCMP_CMP_NE, 0xffffffffUL);

	return add_rule(build, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(personality), "personality", 1,
			&not_query, err);
}

static bool is_allowed_family(unsigned long family)
{
	return family == AF_UNIX || family == AF_INET || family == AF_INET6 || family == AF_NETLINK;
}

/* Socket families other than unix, IPv4, IPv6 and route netlink bring kernel code an ordinary
 * workload never needs and that has a long exploit history (AF_PACKET CVE-2016-8655 and
 * CVE-2020-14386, AF_VSOCK CVE-2021-26708, netfilter netlink CVE-2022-32250, AF_ALG, TIPC,
 * RDS, ...). socketpair takes the family in arg0 too. */
static int restrict_socket_families(struct filter_build *build, int nr, const char *name,
				    struct sk_err *err)
{
	const uint32_t no_family = SCMP_ACT_ERRNO(EAFNOSUPPORT);

	/* Families below AF_NETLINK one by one, on the low 32 bits (the kernel takes an int). */
	for (unsigned long family = 0; family < AF_NETLINK; family++) {
		struct scmp_arg_cmp is_family = SCMP_A0_64(SCMP_CMP_MASKED_EQ, LOW_32_BITS, family);

		if (!is_allowed_family(family) &&
		    add_rule(build, no_family, nr, name, 1, &is_family, err) < 0)
			return -1;
	}
	/* Everything above AF_NETLINK, compared on all 64 bits: a value with any high bit set is
	 * refused whatever its low half, so a raw syscall cannot dress a refused family up with
	 * high bits (the masked rules above would catch the small ones anyway). */
	struct scmp_arg_cmp above_netlink = SCMP_A0_64(SCMP_CMP_GT, AF_NETLINK, 0);

	if (add_rule(build, no_family, nr, name, 1, &above_netlink, err) < 0)
		return -1;
	/* Netlink only for NETLINK_ROUTE (addresses, routes, links: what `ip` and getaddrinfo's
	 * interface queries use); the other protocols (netfilter, xfrm, audit, ...) are refused the
	 * way the kernel refuses a protocol it does not have. */
	struct scmp_arg_cmp not_route[] = {
	    SCMP_A0_64(SCMP_CMP_EQ, AF_NETLINK, 0),
	    SCMP_A2_64(SCMP_CMP_NE, NETLINK_ROUTE, 0),
	};

	return add_rule(build, SCMP_ACT_ERRNO(EPROTONOSUPPORT), nr, name, 2, not_route, err);
}

static int restrict_ioctls(struct filter_build *build, struct sk_err *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(denied_ioctls); i++) {
		struct scmp_arg_cmp request =
		    SCMP_A1_64(SCMP_CMP_MASKED_EQ, LOW_32_BITS, denied_ioctls[i]);

		if (add_rule(build, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), "ioctl", 1, &request,
			     err) < 0)
			return -1;
	}
	return 0;
}

static int set_attribute(scmp_filter_ctx ctx, enum scmp_filter_attr attr, uint32_t value,
			 const char *attr_name, struct sk_err *err)
{
	int rc = seccomp_attr_set(ctx, attr, value);

	if (rc < 0)
		return sk_fail(
		    err, "seccomp", -rc,
		    "stockade needs libseccomp >= 2.5 on a kernel with KILL_PROCESS (4.14)",
		    "seccomp_attr_set(%s)", attr_name);
	return 0;
}

static int configure_filter(scmp_filter_ctx ctx, struct sk_err *err)
{
	/* Any architecture but x86_64 (i386 through int 0x80, x32 syscall numbers with bit
	 * 0x40000000) has its own syscall table that the rules above do not describe: kill the
	 * whole process. libseccomp compiles the x32 check as "nr >= 0x40000000 and nr != -1". */
	if (set_attribute(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS, "ACT_BADARCH", err) <
	    0)
		return -1;
	/* The caller sets no_new_privs itself, before dropping capabilities; we never call
	 * seccomp_load, but say so to libseccomp all the same. */
	return set_attribute(ctx, SCMP_FLTATR_CTL_NNP, 0, "CTL_NNP", err);
}

static int add_policy(struct filter_build *build, struct sk_err *err)
{
	if (deny_syscalls(build, err) < 0 || deny_namespaces_in_clone(build, err) < 0 ||
	    restrict_personality(build, err) < 0 ||
	    restrict_socket_families(build, SCMP_SYS(socket), "socket", err) < 0 ||
	    restrict_socket_families(build, SCMP_SYS(socketpair), "socketpair", err) < 0 ||
	    restrict_ioctls(build, err) < 0)
		return -1;
	return 0;
}

static int read_program(int fd, struct seccomp_plan *plan, struct sk_err *err)
{
	struct stat st;
	size_t size, done = 0;

	if (fstat(fd, &st) < 0)
		return sk_fail(err, "seccomp", errno, NULL, "fstat(exported BPF program)");
	size = (size_t)st.st_size;
	if (size == 0 || size % sizeof(struct sock_filter) != 0 ||
	    size / sizeof(struct sock_filter) > BPF_MAXINSNS)
		return sk_fail(err, "seccomp", EINVAL,
			       "the kernel accepts at most 4096 instructions; shrink the policy",
			       "exported BPF program has %zu bytes", size);
	char *program = malloc(size);
	if (!program)
		return sk_fail(err, "seccomp", errno, NULL, "malloc(%zu) for the BPF program",
			       size);
	plan->filter = (const struct sock_filter *)program;
	plan->is_allocated = true;
	while (done < size) {
		ssize_t n = pread(fd, program + done, size - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return sk_fail(err, "seccomp", n < 0 ? errno : EIO, NULL,
				       "reading back the exported BPF program");
		done += (size_t)n;
	}
	plan->filter_len = (unsigned short)(size / sizeof(struct sock_filter));
	return 0;
}

/* libseccomp 2.5.4 exports only into a file descriptor: go through a memfd. */
static int export_program(scmp_filter_ctx ctx, struct seccomp_plan *plan, struct sk_err *err)
{
	int fd = memfd_create("stockade-seccomp-bpf", MFD_CLOEXEC);
	int rc;

	if (fd < 0)
		return sk_fail(err, "seccomp", errno,
			       "exporting the filter needs memfd_create (3.17)",
			       "memfd_create(stockade-seccomp-bpf)");
	rc = seccomp_export_bpf(ctx, fd);
	if (rc < 0)
		rc = sk_fail(err, "seccomp", -rc, "libseccomp could not generate the BPF program",
			     "seccomp_export_bpf");
	else
		rc = read_program(fd, plan, err);
	close(fd);
	return rc;
}

int seccomp_compile(struct seccomp_plan *plan, struct sk_err *err)
{
	const struct scmp_version *version = seccomp_version();
	struct filter_build build = {0};
	int rc = -1;

	*plan = (struct seccomp_plan){0};
	if (seccomp_arch_native() != SCMP_ARCH_X86_64)
		return sk_fail(err, "seccomp", 0, "the seccomp policy is written for x86_64",
			       "libseccomp reports a native architecture other than x86_64");
	build.ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!build.ctx)
		return sk_fail(err, "seccomp", ENOMEM, "libseccomp could not start a filter",
			       "seccomp_init(SCMP_ACT_ALLOW)");
	if (configure_filter(build.ctx, err) < 0 || add_policy(&build, err) < 0 ||
	    export_program(build.ctx, plan, err) < 0)
		goto out;
	plan->rule_count = build.rule_count;
	snprintf(plan->detail, sizeof(plan->detail), "libseccomp %u.%u.%u, x86_64, %u rules",
		 version->major, version->minor, version->micro, plan->rule_count);
	rc = 0;
out:
	seccomp_release(build.ctx);
	if (rc < 0)
		seccomp_plan_free(plan);
	return rc;
}
