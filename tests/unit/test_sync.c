/* Unit tests for src/sandbox/sync.c's exec state (struct sync_exec): the claim and the cancel
 * exclude each other, the kernel's zero of the vfork child's word comes at the exec (while the
 * command still runs), a failure is never read as a start, and a kill waits for an exec under
 * way. Each case is real: this process plays the parent, a forked child plays PID 1, and
 * PID 1's vfork child claims and execs, as in init.c. And the data datagram with at most one
 * fd (an exec's body and its answer pipe). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sync.h"
#include "util/clock.h"

static char *const sleep_argv[] = {"sleep", "5", NULL};
static char *const no_env[] = {NULL};

static struct sync_exec *shared_exec(void)
{
	struct sync_exec *ex =
	    mmap(NULL, sizeof(*ex), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	assert_true(ex != MAP_FAILED);
	sync_exec_init(ex);
	return ex;
}

/* The vfork child's part, as in init.c's workload_main: claim (a byte on fd says it won),
 * wait delay_ms (an exec still under way), then execve path (sleep 5) or record its failure. */
static void __attribute__((noreturn))
launcher(struct sync_exec *ex, const char *path, int delay_ms, int fd)
{
	struct timespec delay = {.tv_sec = 0, .tv_nsec = delay_ms * 1000000L};

	if (!sync_exec_claim(ex))
		_exit(125);
	(void)!write(fd, "c", 1);
	if (delay_ms)
		nanosleep(&delay, NULL);
	execve(path, sleep_argv, no_env);
	sync_exec_fail(ex, errno);
	_exit(127);
}

/* "PID 1": vforks the launcher, writes the launcher's pid to fd once vfork returned, then
 * waits for it. Returns PID 1's pid. */
static pid_t start_pid1(struct sync_exec *ex, const char *path, int delay_ms, int fd)
{
	pid_t pid1 = fork();

	assert_true(pid1 >= 0);
	if (pid1 == 0) {
		/* vfork as in init.c: the kernel's zero comes while the memory is shared. */
		pid_t child = vfork(); /* NOLINT(clang-analyzer-security.insecureAPI.vfork) */
		if (child == 0)
			launcher(ex, path, delay_ms, fd); /* NOLINT(clang-analyzer-unix.Vfork) */
		(void)!write(fd, &child, sizeof(child));
		waitpid(child, NULL, 0);
		_exit(0);
	}
	return pid1;
}

/* The launcher's claim byte (if it won), then the pid PID 1 wrote. */
static pid_t read_pid(int fd, bool is_claimed)
{
	pid_t pid = -1;
	char byte;

	if (is_claimed)
		assert_int_equal(read(fd, &byte, 1), 1);
	assert_int_equal(read(fd, &pid, sizeof(pid)), sizeof(pid));
	return pid;
}

static void test_cancel_before_claim_means_no_exec(void **state)
{
	struct sync_exec *ex = shared_exec();
	int errnum, fds[2];
	pid_t pid1;
	(void)state;

	assert_int_equal(sync_exec_outcome(ex, &errnum), SYNC_EXEC_NOT_STARTED);
	assert_int_equal(sync_exec_settle(ex, 1000, &errnum), SYNC_EXEC_NOT_STARTED);
	assert_int_equal(pipe(fds), 0);
	pid1 = start_pid1(ex, "/bin/sleep", 0, fds[1]);
	(void)read_pid(fds[0], false);
	assert_int_equal(waitpid(pid1, NULL, 0), pid1);
	/* The launcher lost the claim: it exited without exec, and nothing says it started. */
	assert_int_equal(sync_exec_outcome(ex, &errnum), SYNC_EXEC_NOT_STARTED);
	close(fds[0]);
	close(fds[1]);
	munmap(ex, sizeof(*ex));
}

static void test_started_at_exec_not_at_exit(void **state)
{
	struct sync_exec *ex = shared_exec();
	int errnum, fds[2];
	pid_t pid1, command;
	char comm[32] = {0}, path[64];
	FILE *f;
	(void)state;

	assert_int_equal(pipe(fds), 0);
	pid1 = start_pid1(ex, "/bin/sleep", 0, fds[1]);
	command = read_pid(fds[0], true);
	/* vfork returned in "PID 1": the exec is done, and the outcome says so while the
	 * command (sleep 5) still runs, so the word was zeroed by the exec, not by an exit. */
	assert_int_equal(sync_exec_outcome(ex, &errnum), SYNC_EXEC_STARTED);
	/* The kernel zeroes the word when the old memory is released, a moment before it names
	 * the task after the new program: under load the name may lag, never the other way. */
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)command);
	for (int tries = 0; tries < 1000 && strcmp(comm, "sleep\n") != 0; tries++) {
		f = fopen(path, "r");
		assert_non_null(f);
		assert_non_null(fgets(comm, sizeof(comm), f));
		fclose(f);
		if (strcmp(comm, "sleep\n") != 0)
			usleep(1000);
	}
	assert_string_equal(comm, "sleep\n");
	/* The parent's cancel comes too late: a started command stays started. */
	assert_int_equal(sync_exec_settle(ex, 1000, &errnum), SYNC_EXEC_STARTED);
	kill(command, SIGKILL);
	assert_int_equal(waitpid(pid1, NULL, 0), pid1);
	assert_int_equal(sync_exec_outcome(ex, &errnum), SYNC_EXEC_STARTED);
	close(fds[0]);
	close(fds[1]);
	munmap(ex, sizeof(*ex));
}

static void test_failed_exec_is_a_failure_with_its_errno(void **state)
{
	struct sync_exec *ex = shared_exec();
	int errnum, fds[2];
	pid_t pid1;
	(void)state;

	assert_int_equal(pipe(fds), 0);
	pid1 = start_pid1(ex, "/no/such/command", 0, fds[1]);
	(void)read_pid(fds[0], true);
	assert_int_equal(waitpid(pid1, NULL, 0), pid1);
	assert_int_equal(sync_exec_outcome(ex, &errnum), SYNC_EXEC_FAILURE);
	assert_int_equal(errnum, ENOENT);
	assert_int_equal(sync_exec_settle(ex, 1000, &errnum), SYNC_EXEC_FAILURE);
	close(fds[0]);
	close(fds[1]);
	munmap(ex, sizeof(*ex));
}

/* An exec under way (the launcher claimed, then takes 300 ms before its execve): a kill waits
 * for it, woken by the kernel's zero of the word, and then knows the command started; a wait
 * shorter than that says it is still under way. */
static void test_settle_waits_for_an_exec_under_way(void **state)
{
	struct sync_exec *ex = shared_exec();
	int errnum, fds[2];
	pid_t pid1, command;
	double t0, took;
	char byte;
	(void)state;

	assert_int_equal(pipe(fds), 0);
	pid1 = start_pid1(ex, "/bin/sleep", 300, fds[1]);
	/* The claim first (else the settle below would cancel the launch). */
	assert_int_equal(read(fds[0], &byte, 1), 1);
	assert_int_equal(sync_exec_settle(ex, 50, &errnum), SYNC_EXEC_UNDER_WAY);
	t0 = clock_now_ms();
	assert_int_equal(sync_exec_settle(ex, 5000, &errnum), SYNC_EXEC_STARTED);
	took = clock_now_ms() - t0;
	/* Woken at the exec, well before the 5 s wait ran out. */
	assert_true(took > 100 && took < 2000);
	command = read_pid(fds[0], false);
	kill(command, SIGKILL);
	assert_int_equal(waitpid(pid1, NULL, 0), pid1);
	close(fds[0]);
	close(fds[1]);
	munmap(ex, sizeof(*ex));
}

/* A body with the answer pipe attached: the bytes whole, the fd a working copy of it,
 * close-on-exec; none attached: -1; two attached: the first kept, the other closed. */
static void test_data_datagram_carries_at_most_one_fd(void **state)
{
	int sv[2], pipe_fds[2], extra[2], got;
	char buf[64];
	ssize_t n;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(pipe2(pipe_fds, O_CLOEXEC), 0);
	assert_int_equal(sync_send_data(sv[0], "body\0", 5, pipe_fds[1]), 0);
	n = sync_recv_data(sv[1], buf, sizeof(buf), &got);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "body\0", 5);
	assert_true(got >= 0 && got != pipe_fds[1]);
	assert_true(fcntl(got, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(write(got, "x", 1), 1);
	assert_int_equal(read(pipe_fds[0], buf, 1), 1);
	assert_int_equal(buf[0], 'x');
	close(got);

	assert_int_equal(sync_send_data(sv[0], "plain", 5, -1), 0);
	assert_int_equal(sync_recv_data(sv[1], buf, sizeof(buf), &got), 5);
	assert_int_equal(got, -1);

	/* Two fds on one datagram (sendmsg by hand): one kept, the second closed, so the pipe's
	 * last writer is the one we kept: closing it gives the reader EOF. */
	assert_int_equal(pipe2(extra, O_CLOEXEC | O_NONBLOCK), 0);
	{
		union {
			char buf[CMSG_SPACE(sizeof(int) * 2)];
			struct cmsghdr align;
		} control = {0};
		int two[2] = {pipe_fds[1], extra[1]};
		struct iovec iov = {.iov_base = "two", .iov_len = 3};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = control.buf,
				    .msg_controllen = sizeof(control.buf)};
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(two));
		memcpy(CMSG_DATA(cm), two, sizeof(two));
		assert_int_equal(sendmsg(sv[0], &mh, 0), 3);
	}
	close(extra[1]);
	assert_int_equal(sync_recv_data(sv[1], buf, sizeof(buf), &got), 3);
	assert_true(got >= 0);
	assert_int_equal(read(extra[0], buf, 1), 0); /* its only writer, the second fd, is closed */
	close(got);
	close(pipe_fds[1]);
	assert_int_equal(read(pipe_fds[0], buf, 1), 0);

	close(extra[0]);
	close(pipe_fds[0]);
	close(sv[0]);
	assert_int_equal(sync_recv_data(sv[1], buf, sizeof(buf), &got), 0); /* EOF */
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cancel_before_claim_means_no_exec),
	    cmocka_unit_test(test_started_at_exec_not_at_exit),
	    cmocka_unit_test(test_failed_exec_is_a_failure_with_its_errno),
	    cmocka_unit_test(test_settle_waits_for_an_exec_under_way),
	    cmocka_unit_test(test_data_datagram_carries_at_most_one_fd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
