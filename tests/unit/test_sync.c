/* Unit tests for src/sandbox/sync.c's exec state (struct sync_exec): the claim and the cancel
 * exclude each other, the kernel's zero of the vfork child's word comes at the exec (while the
 * command still runs), a failure is never read as a start, and a kill waits for an exec under
 * way. Each case is real: this process plays the parent, a forked child plays PID 1, and
 * PID 1's vfork child claims and execs, as in init.c. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cancel_before_claim_means_no_exec),
	    cmocka_unit_test(test_started_at_exec_not_at_exit),
	    cmocka_unit_test(test_failed_exec_is_a_failure_with_its_errno),
	    cmocka_unit_test(test_settle_waits_for_an_exec_under_way),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
