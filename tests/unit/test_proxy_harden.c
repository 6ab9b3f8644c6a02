/* Unit tests of the egress proxy's own confinement (src/net/proxy_harden.c). Each case runs in
 * a forked child that confines itself as the proxy does, then tries one thing: what must work
 * works, and what must not is refused by Landlock (EACCES) or kills the child (SIGSYS). */
#define _GNU_SOURCE

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "skip.h"

#include "net/proxy_harden.h"
#include "sandbox/landlock.h"

#define HIGH_BIT (1UL << 32)

/* Result codes a child exits with; anything else is its errno + 100 (so 0 stays "success"). */
#define CHILD_OK 0
#define CHILD_SETUP_FAILED 99

enum confinement { LANDLOCK_ONLY, SECCOMP_ONLY };

static int landlock_abi;
static int allowed_listener = -1, other_listener = -1;
static uint16_t allowed_port, other_port;

static int listener(uint16_t *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static int setup(void **state)
{
	struct sk_err err = {0};

	(void)state;
	landlock_abi = landlock_probe_abi(&err);
	allowed_listener = listener(&allowed_port);
	other_listener = listener(&other_port);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	close(allowed_listener);
	close(other_listener);
	return 0;
}

static int connect_to(uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return errno;
	int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? errno : 0;
	close(fd);
	return rc;
}

typedef int (*attempt_fn)(void);

/* Runs attempt in a child confined as asked; returns the child's wait status. */
static int confined(enum confinement how, attempt_fn attempt)
{
	struct sk_err err = {0};
	int status = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(CHILD_SETUP_FAILED);
		if (how == LANDLOCK_ONLY &&
		    proxy_landlock(landlock_abi, &allowed_port, 1, &err) < 0)
			_exit(CHILD_SETUP_FAILED);
		if (how == SECCOMP_ONLY && proxy_seccomp(&err) < 0)
			_exit(CHILD_SETUP_FAILED);
		int rc = attempt();
		_exit(rc == 0 ? CHILD_OK : 100 + (rc > 100 ? 100 : rc));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void expect_exit(int status, int code)
{
	if (!WIFEXITED(status))
		fail_msg("child did not exit: status 0x%x (signal %d)", status,
			 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	assert_int_equal(WEXITSTATUS(status), code);
}

static void expect_killed(int status)
{
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS)
		fail_msg("child not killed by SIGSYS: status 0x%x (exit %d)", status,
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static int open_a_file(void)
{
	int fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static int make_a_dir(void)
{
	return mkdir("/tmp/stockade-proxy-harden-test", 0700) < 0 ? errno : 0;
}

static int connect_allowed(void)
{
	return connect_to(allowed_port);
}

static int connect_other(void)
{
	return connect_to(other_port);
}

static int bind_tcp(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? errno : 0;
	close(fd);
	return rc;
}

static void test_landlock_no_files(void **state)
{
	(void)state;
	if (landlock_abi < 1)
		skip_because("no Landlock in this kernel");
	/* Unconfined, the same attempt works: the refusal is the confinement's. */
	assert_int_equal(open_a_file(), 0);
	expect_exit(confined(LANDLOCK_ONLY, open_a_file), 100 + EACCES);
	expect_exit(confined(LANDLOCK_ONLY, make_a_dir), 100 + EACCES);
}

static void test_landlock_connect_only_to_allowed_ports(void **state)
{
	(void)state;
	if (landlock_abi < 4)
		skip_because("TCP rules need Landlock ABI 4, this kernel has %d", landlock_abi);
	assert_int_equal(connect_to(other_port), 0);
	expect_exit(confined(LANDLOCK_ONLY, connect_allowed), CHILD_OK);
	expect_exit(confined(LANDLOCK_ONLY, connect_other), 100 + EACCES);
	expect_exit(confined(LANDLOCK_ONLY, bind_tcp), 100 + EACCES);
}

/* What the proxy does all day must work under its filter. */
static int proxy_work(void)
{
	int pipefd[2], sv;
	char buf[64];
	void *mem;

	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0 || write(pipefd[1], "x", 1) != 1 ||
	    read(pipefd[0], buf, sizeof(buf)) != 1)
		return errno ? errno : EIO;
	close(pipefd[0]);
	close(pipefd[1]);
	if ((sv = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return errno;
	close(sv);
	mem = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return errno;
	/* What pthread_once does after a first initialisation (OpenSSL's, in stockade-tls). */
	static int once_word;
	if (syscall(SYS_futex, &once_word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0) < 0 ||
	    syscall(SYS_futex, &once_word, FUTEX_WAKE, 1, NULL, NULL, 0) < 0)
		return errno;
	munmap(mem, 1 << 20);
	return connect_to(allowed_port);
}

static int exec_a_shell(void)
{
	char *argv[] = {"/bin/sh", "-c", "true", NULL};
	execve(argv[0], argv, NULL);
	return errno;
}

static int unix_socket(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	return fd < 0 ? errno : 0;
}

/* The kernel reads the family as an int: a set high half must not get AF_UNIX past the check. */
static int unix_socket_high_bit(void)
{
	long fd = syscall(SYS_socket, HIGH_BIT | AF_UNIX, SOCK_STREAM, 0);
	return fd < 0 ? errno : 0;
}

static int executable_memory(void)
{
	void *mem = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return mem == MAP_FAILED ? errno : 0;
}

static int make_memory_executable(void)
{
	void *mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return errno;
	return mprotect(mem, 4096, PROT_READ | PROT_EXEC) < 0 ? errno : 0;
}

static int fork_a_child(void)
{
	pid_t pid = (pid_t)syscall(SYS_fork);
	return pid < 0 ? errno : 0;
}

static int ptrace_something(void)
{
	return syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0) < 0 ? errno : 0;
}

static int i386_syscall(void)
{
	/* int 0x80: the i386 table, where 20 is getpid. */
	long rc = 20;
	__asm__ volatile("int $0x80" : "+a"(rc) : : "memory");
	return 0;
}

/* A wait (here on a word that holds 1, so it would return EAGAIN at once) is not a wake. */
static int futex_wait(void)
{
	static int word = 1;
	return syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0) < 0 ? errno : 0;
}

static int futex_requeue(void)
{
	static int a, b;
	return syscall(SYS_futex, &a, FUTEX_CMP_REQUEUE_PRIVATE, 1, 1, &b, 0) < 0 ? errno : 0;
}

static void test_seccomp_allows_the_work(void **state)
{
	(void)state;
	expect_exit(confined(SECCOMP_ONLY, proxy_work), CHILD_OK);
}

static void test_seccomp_kills_the_rest(void **state)
{
	static const attempt_fn forbidden[] = {
	    open_a_file,	  exec_a_shell,	     unix_socket,
	    unix_socket_high_bit, executable_memory, make_memory_executable,
	    fork_a_child,	  ptrace_something,  i386_syscall,
	    futex_wait,		  futex_requeue};
	(void)state;
	for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++)
		expect_killed(confined(SECCOMP_ONLY, forbidden[i]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_landlock_no_files),
	    cmocka_unit_test(test_landlock_connect_only_to_allowed_ports),
	    cmocka_unit_test(test_seccomp_allows_the_work),
	    cmocka_unit_test(test_seccomp_kills_the_rest),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
