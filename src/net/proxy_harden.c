/* The egress proxy's own confinement: Landlock (no file system, TCP connect only to the
 * policy's ports) and a seccomp allow-list. See proxy_harden.h for why. */
#define _GNU_SOURCE
#include "net/proxy_harden.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/syscalls.h"
#include "util/macros.h"

#if !defined(__x86_64__)
#error "the proxy's seccomp allow-list is written for x86_64: review the syscall list"
#endif

int proxy_landlock(int abi, const uint16_t *ports, size_t port_count, struct sk_err *err)
{
	struct sys_landlock_ruleset_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	/* Every right handled and no rule granting any: the proxy opens no path again. */
	attr.handled_access_fs = sys_landlock_fs_rights(abi);
	if (abi >= 4)
		attr.handled_access_net =
		    LANDLOCK_ACCESS_NET_BIND_TCP | LANDLOCK_ACCESS_NET_CONNECT_TCP;
	if (abi >= 6)
		attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL;
	fd = sys_landlock_create_ruleset(&attr, abi);
	if (fd < 0)
		return sk_fail(err, "proxy", errno, NULL, "landlock_create_ruleset (proxy)");
	for (size_t i = 0; abi >= 4 && i < port_count; i++) {
		if (sys_landlock_add_port_rule(fd, LANDLOCK_ACCESS_NET_CONNECT_TCP, ports[i]) < 0) {
			int saved = errno;
			close(fd);
			return sk_fail(err, "proxy", saved, NULL,
				       "landlock_add_rule (proxy, port %u)", (unsigned)ports[i]);
		}
	}
	if (sys_landlock_restrict_self(fd) < 0) {
		int saved = errno;
		close(fd);
		return sk_fail(err, "proxy", saved, NULL, "landlock_restrict_self (proxy)");
	}
	close(fd);
	return 0;
}

/* clang-format off */
#define LOAD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
/* The low 32 bits of argument n (x86_64 is little-endian; the kernel reads these arguments as
 * int, so the high half is ignored by it and must be by us). */
#define LOAD_ARG(n) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[n]))
#define ALLOW(name) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_##name, 0, 1), \
		    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)
#define KILL BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS)
/* name is allowed when no bit of `bits` is set in argument n. Every path after the match
 * returns, so the accumulator (the argument now) is never compared with a number again. */
#define ALLOW_WITHOUT_BITS(name, n, bits) \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_##name, 0, 4), \
	LOAD_ARG(n), \
	BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, (bits), 1, 0), \
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW), \
	KILL
/* clang-format on */

static const struct sock_filter proxy_filter[] = {
    /* Only the native ABI: an i386 or x32 number means another table. */
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
    KILL,
    LOAD_NR,
    BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000 /* __X32_SYSCALL_BIT */, 0, 1),
    KILL,
    /* The event loop and the relay. */
    ALLOW(epoll_wait),
    ALLOW(epoll_pwait),
    ALLOW(epoll_ctl),
    ALLOW(accept4),
    ALLOW(connect),
    ALLOW(recvfrom),
    ALLOW(sendto),
    ALLOW(read),
    ALLOW(write),
    ALLOW(splice),
    ALLOW(pipe2),
    ALLOW(fcntl),
    ALLOW(close),
    ALLOW(shutdown),
    ALLOW(getsockopt),
    ALLOW(setsockopt),
    ALLOW(getsockname),
    ALLOW(getpeername),
    /* Time (the vDSO's fallbacks), memory, randomness, the end. */
    ALLOW(clock_gettime),
    ALLOW(gettimeofday),
    ALLOW(brk),
    ALLOW(munmap),
    ALLOW(mremap),
    ALLOW(madvise),
    ALLOW(getrandom),
    /* OpenSSL's random generator compares the pid to notice a fork (credentials' TLS, in
     * stockade-tls). */
    ALLOW(getpid),
    ALLOW(rt_sigreturn),
    ALLOW(rt_sigprocmask),
    ALLOW(restart_syscall),
    ALLOW(sigaltstack), /* the sanitizer runtime's exit path (CI's ASan build) */
    ALLOW(exit),
    ALLOW(exit_group),
    /* FUTEX_WAKE alone (with or without FUTEX_PRIVATE_FLAG and FUTEX_CLOCK_REALTIME): glibc's
     * pthread_once wakes any waiter after a first initialisation, and OpenSSL does some of
     * its own lazily, at a first handshake, after this filter is on. A process of one thread
     * never waits, so no other futex operation is allowed. */
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_futex, 0, 5),
    LOAD_ARG(1),
    BPF_STMT(BPF_ALU | BPF_AND | BPF_K, FUTEX_CMD_MASK),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, FUTEX_WAKE, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    KILL,
    /* No executable memory: a parser bug gets no place to put code. */
    ALLOW_WITHOUT_BITS(mmap, 2, PROT_EXEC),
    ALLOW_WITHOUT_BITS(mprotect, 2, PROT_EXEC),
    /* Internet sockets only (the relay, c-ares, the own-address check): no unix, netlink,
     * packet or other families. */
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 0, 5),
    LOAD_ARG(0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_INET, 2, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_INET6, 1, 0),
    KILL,
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    KILL,
};

int proxy_seccomp(struct sk_err *err)
{
	/* SPEC_ALLOW: the proxy runs no untrusted code of its own, and the speculative store
	 * bypass mitigation that seccomp otherwise switches on costs a relay much throughput. */
	if (sys_seccomp_set_filter(SECCOMP_FILTER_FLAG_SPEC_ALLOW, proxy_filter,
				   (unsigned short)(ARRAY_SIZE(proxy_filter))) < 0)
		return sk_fail(err, "proxy", errno, NULL, "seccomp (proxy)");
	return 0;
}
