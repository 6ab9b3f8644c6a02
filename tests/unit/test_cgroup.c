/* Tests of src/sandbox/cgroup.c against the host's real cgroups. As root the limits are made and
 * enforced (a fork bomb meets pids.max, a memory hog is OOM-killed); as an unprivileged user on
 * a host without a delegated v2 subtree, prepare fails cleanly or degrades when allowed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "skip.h"

#include "sandbox/cgroup.h"

#define MIB (1024ull * 1024ull)

static void require_root(void)
{
	if (geteuid() != 0) {
		skip_because("needs root");
	}
}

static void require_unprivileged(void)
{
	if (geteuid() == 0) {
		skip_because("needs an unprivileged user");
	}
}

static struct sandbox_spec make_spec(uint64_t memory_bytes, uint64_t pids_limit,
				     uint64_t cpus_milli)
{
	struct sandbox_spec spec;

	memset(&spec, 0, sizeof(spec));
	spec.memory_bytes = memory_bytes;
	spec.pids_limit = pids_limit;
	spec.cpus_milli = cpus_milli;
	return spec;
}

static void unique_name(char *name, size_t size, const char *what)
{
	static int counter;

	snprintf(name, size, "stockade-test-%d-%d-%s", (int)getpid(), counter++, what);
}

/* Reads the first line of `file` in whichever cgroup directory of plan has it. */
static bool read_cgroup_file(const struct cgroup_plan *plan, const char *file, char *out,
			     size_t size)
{
	for (int i = 0; i < plan->dir_count; i++) {
		char path[PATH_MAX + 64];
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", plan->dirs[i], file);
		f = fopen(path, "re");
		if (!f)
			continue;
		bool ok = fgets(out, (int)size, f) != NULL;
		fclose(f);
		if (ok) {
			out[strcspn(out, "\n")] = '\0';
			return true;
		}
	}
	return false;
}

static bool dir_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Whether a cgroup called `name` exists beneath any of our cgroups in any cgroup mount: an
 * over-approximation of every place cgroup_prepare could have made it. */
static bool name_exists_anywhere(const char *name)
{
	FILE *mounts = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	bool found = false;

	assert_non_null(mounts);
	while (!found && fgets(line, sizeof(line), mounts)) {
		char point[1024];
		char cgroup_line[1024];
		FILE *own;

		if (!strstr(line, " - cgroup") ||
		    sscanf(line, "%*s %*s %*s %*s %1023s", point) != 1)
			continue;
		own = fopen("/proc/self/cgroup", "re");
		assert_non_null(own);
		while (!found && fgets(cgroup_line, sizeof(cgroup_line), own)) {
			char *first = strchr(cgroup_line, ':');
			char *path = first ? strchr(first + 1, ':') : NULL;
			char candidate[4096];

			if (!path)
				continue;
			path++;
			path[strcspn(path, "\n")] = '\0';
			snprintf(candidate, sizeof(candidate), "%s%s/%s", point, path, name);
			found = dir_exists(candidate);
		}
		fclose(own);
	}
	fclose(mounts);
	return found;
}

/* Forks a child that waits for the parent's go (after cgroup_attach), then runs body. */
static pid_t fork_waiting(int *go_fd, int (*body)(int report_fd), int *report_fd)
{
	int go[2];
	int report[2];
	pid_t pid;

	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	assert_int_equal(pipe2(report, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char byte;

		close(go[1]);
		close(report[0]);
		if (read(go[0], &byte, 1) != 1)
			_exit(100);
		_exit(body(report[1]));
	}
	close(go[0]);
	close(report[1]);
	*go_fd = go[1];
	*report_fd = report[0];
	return pid;
}

static void release(int go_fd)
{
	assert_int_equal(write(go_fd, "x", 1), 1);
	close(go_fd);
}

static void test_no_limits_makes_nothing(void **state)
{
	struct sandbox_spec spec = make_spec(0, 0, 0);
	struct cgroup_plan plan;
	struct sk_err err = {0};

	(void)state;
	assert_int_equal(cgroup_prepare(&plan, &spec, "stockade-test-none", &err), 0);
	assert_int_equal(plan.version, 0);
	assert_int_equal(plan.dir_count, 0);
	assert_false(plan.is_degraded);
	cgroup_destroy(&plan);
}

static void test_bad_name_is_refused(void **state)
{
	struct sandbox_spec spec = make_spec(64 * MIB, 0, 0);
	struct cgroup_plan plan;
	struct sk_err err = {0};

	(void)state;
	assert_int_equal(cgroup_prepare(&plan, &spec, "../escape", &err), -1);
	assert_string_equal(err.layer, "cgroup");
	assert_int_equal(err.errnum, EINVAL);
	assert_int_equal(plan.dir_count, 0);
}

static void test_root_limits_are_written(void **state)
{
	struct sandbox_spec spec = make_spec(64 * MIB, 32, 500);
	struct cgroup_plan plan;
	struct sk_err err = {0};
	char name[64];
	char value[128];

	(void)state;
	require_root();
	unique_name(name, sizeof(name), "limits");
	assert_int_equal(cgroup_prepare(&plan, &spec, name, &err), 0);
	print_message("%s\n", plan.detail);
	assert_false(plan.is_degraded);
	assert_true(plan.dir_count >= 1);
	for (int i = 0; i < plan.dir_count; i++)
		assert_true(dir_exists(plan.dirs[i]));
	assert_true(read_cgroup_file(&plan, "pids.max", value, sizeof(value)));
	assert_string_equal(value, "32");
	if (plan.version == 1) {
		assert_int_equal(plan.dir_count, 3); /* memory, pids, cpu on this hybrid host */
		assert_true(read_cgroup_file(&plan, "memory.limit_in_bytes", value, sizeof(value)));
		assert_string_equal(value, "67108864");
		if (read_cgroup_file(&plan, "memory.memsw.limit_in_bytes", value, sizeof(value)))
			assert_string_equal(value, "67108864");
		assert_true(read_cgroup_file(&plan, "cpu.cfs_period_us", value, sizeof(value)));
		assert_string_equal(value, "100000");
		assert_true(read_cgroup_file(&plan, "cpu.cfs_quota_us", value, sizeof(value)));
		assert_string_equal(value, "50000");
	} else {
		assert_int_equal(plan.version, 2);
		assert_true(read_cgroup_file(&plan, "memory.max", value, sizeof(value)));
		assert_string_equal(value, "67108864");
		assert_true(read_cgroup_file(&plan, "cpu.max", value, sizeof(value)));
		assert_string_equal(value, "50000 100000");
	}

	struct cgroup_plan copy = plan;
	cgroup_destroy(&plan);
	assert_int_equal(plan.dir_count, 0);
	for (int i = 0; i < copy.dir_count; i++)
		assert_false(dir_exists(copy.dirs[i]));
	cgroup_destroy(&plan); /* harmless the second time */
	assert_false(name_exists_anywhere(name));
}

static int body_sleep(int report_fd)
{
	(void)report_fd;
	pause();
	return 0;
}

static void test_root_attach_moves_child(void **state)
{
	struct sandbox_spec spec = make_spec(64 * MIB, 32, 500);
	struct cgroup_plan plan;
	struct sk_err err = {0};
	char name[64];
	char path[64];
	char line[1024];
	int go_fd, report_fd, status;
	int hits = 0;

	(void)state;
	require_root();
	unique_name(name, sizeof(name), "attach");
	assert_int_equal(cgroup_prepare(&plan, &spec, name, &err), 0);
	pid_t pid = fork_waiting(&go_fd, body_sleep, &report_fd);
	assert_int_equal(cgroup_attach(&plan, pid, &err), 0);
	release(go_fd);

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	FILE *f = fopen(path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		size_t length = strlen(line), name_length = strlen(name);
		if (length > name_length && strcmp(line + length - name_length, name) == 0 &&
		    line[length - name_length - 1] == '/')
			hits++;
	}
	fclose(f);
	/* v1: one line per controller hierarchy (memory, pids, cpu); v2: the 0:: line. */
	assert_int_equal(hits, plan.version == 1 ? 3 : 1);

	cgroup_destroy(&plan); /* kills the child, which is still in the cgroup */
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	close(report_fd);
	assert_false(name_exists_anywhere(name));
}

/* Tries 200 forks whose children sleep; reports successes and EAGAIN failures. */
static int body_fork_bomb(int report_fd)
{
	int counts[2] = {0, 0}; /* forked, EAGAIN */

	for (int i = 0; i < 200; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			sleep(30); /* cgroup_destroy is expected to kill these */
			_exit(0);
		}
		if (pid > 0)
			counts[0]++;
		else if (errno == EAGAIN)
			counts[1]++;
	}
	return write(report_fd, counts, sizeof(counts)) == sizeof(counts) ? 0 : 1;
}

static void test_root_pids_limit_stops_fork_bomb(void **state)
{
	struct sandbox_spec spec = make_spec(0, 16, 0);
	struct cgroup_plan plan;
	struct sk_err err = {0};
	char name[64], peak[32];
	int counts[2];
	int go_fd, report_fd, status;

	(void)state;
	require_root();
	/* The orphaned sleepers come back to us, so that they can be reaped. */
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
	unique_name(name, sizeof(name), "pids");
	assert_int_equal(cgroup_prepare(&plan, &spec, name, &err), 0);
	pid_t pid = fork_waiting(&go_fd, body_fork_bomb, &report_fd);
	assert_int_equal(cgroup_attach(&plan, pid, &err), 0);
	release(go_fd);

	assert_int_equal(read(report_fd, counts, sizeof(counts)), sizeof(counts));
	close(report_fd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	print_message("forked %d, EAGAIN %d\n", counts[0], counts[1]);
	assert_true(counts[0] <= 15); /* the bomb itself is the 16th */
	assert_true(counts[1] > 0);
	assert_int_equal(counts[0] + counts[1], 200);

	assert_false(cgroup_oom_killed(&plan));
	if (read_cgroup_file(&plan, "pids.peak", peak, sizeof(peak))) /* v2 only */
		assert_int_equal(strtoull(peak, NULL, 10), 16);
	cgroup_destroy(&plan); /* the sleepers are still in there */
	assert_false(name_exists_anywhere(name));
	while (waitpid(-1, &status, 0) > 0)
		; /* reap the killed sleepers */
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0), 0);
}

static int body_memory_hog(int report_fd)
{
	size_t size = 256 * MIB;
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)report_fd;
	if (p == MAP_FAILED)
		return 2;
	for (size_t i = 0; i < size; i += 4096)
		p[i] = 1; /* every page touched, so it is charged */
	return 3;	  /* survived: the limit did not hold */
}

static void test_root_memory_limit_kills_hog(void **state)
{
	struct sandbox_spec spec = make_spec(64 * MIB, 0, 0);
	struct cgroup_plan plan;
	struct sk_err err = {0};
	char name[64], peak[32];
	uint64_t peak_bytes = 0;
	int go_fd, report_fd, status;

	(void)state;
	require_root();
	unique_name(name, sizeof(name), "memory");
	assert_int_equal(cgroup_prepare(&plan, &spec, name, &err), 0);
	pid_t pid = fork_waiting(&go_fd, body_memory_hog, &report_fd);
	assert_int_equal(cgroup_attach(&plan, pid, &err), 0);
	release(go_fd);

	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(report_fd);
	if (WIFEXITED(status))
		print_message("hog exited with %d\n", WEXITSTATUS(status));
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);

	/* The peak as the kernel counted it: v2 memory.peak, v1 memory.max_usage_in_bytes. */
	if (read_cgroup_file(&plan, "memory.peak", peak, sizeof(peak)) ||
	    read_cgroup_file(&plan, "memory.max_usage_in_bytes", peak, sizeof(peak)))
		peak_bytes = strtoull(peak, NULL, 10);
	print_message("memory peak %llu\n", (unsigned long long)peak_bytes);
	assert_true(cgroup_oom_killed(&plan));
	assert_true(peak_bytes > 0 && peak_bytes <= 64 * MIB);
	cgroup_destroy(&plan);
	assert_false(name_exists_anywhere(name));
}

/* A limit the kernel refuses, written last (the CPU quota: above its 2^44 us bound), must undo
 * the memory and pids cgroups made before it. */
static void test_root_failure_leaves_nothing(void **state)
{
	struct sandbox_spec spec = make_spec(64 * MIB, 32, 1000000000000ull);
	struct cgroup_plan plan;
	struct sk_err err = {0};
	char name[64];

	(void)state;
	require_root();
	unique_name(name, sizeof(name), "undo");
	assert_int_equal(cgroup_prepare(&plan, &spec, name, &err), -1);
	sk_err_print(&err);
	assert_string_equal(err.layer, "cgroup");
	assert_int_equal(err.errnum, EINVAL);
	assert_int_equal(plan.dir_count, 0);
	assert_false(name_exists_anywhere(name));
}

static void test_unprivileged_fails_with_diagnosis(void **state)
{
	struct sandbox_spec spec = make_spec(64 * MIB, 32, 500);
	struct cgroup_plan plan;
	struct sk_err err = {0};
	char name[64];

	(void)state;
	require_unprivileged();
	unique_name(name, sizeof(name), "user");
	int rc = cgroup_prepare(&plan, &spec, name, &err);
	if (rc == 0 && plan.version == 2) {
		/* This host delegates a v2 subtree to us: not the situation under test. */
		cgroup_destroy(&plan);
		skip_because("a delegated cgroup v2 subtree is available");
	}
	assert_int_equal(rc, -1);
	sk_err_print(&err);
	assert_string_equal(err.layer, "cgroup");
	assert_non_null(strstr(err.op, "memory,pids,cpu"));
	assert_non_null(strstr(err.op, "cgroup v2"));
	assert_non_null(strstr(err.op, "root"));
	assert_non_null(strstr(err.hint, "--allow-degraded cgroup"));
	assert_non_null(strstr(err.hint, "Delegate=yes"));
	assert_int_equal(plan.dir_count, 0);
	assert_int_equal(plan.version, 0);
	assert_false(name_exists_anywhere(name));
}

static void test_unprivileged_degrades_when_allowed(void **state)
{
	struct sandbox_spec spec = make_spec(64 * MIB, 32, 0);
	struct cgroup_plan plan;
	struct sk_err err = {0};
	char name[64];

	(void)state;
	require_unprivileged();
	spec.allow_degraded = LAYER_CGROUP;
	unique_name(name, sizeof(name), "degraded");
	assert_int_equal(cgroup_prepare(&plan, &spec, name, &err), 0);
	if (plan.version == 2) {
		cgroup_destroy(&plan);
		skip_because("a delegated cgroup v2 subtree is available");
	}
	print_message("%s\n", plan.detail);
	assert_true(plan.is_degraded);
	assert_int_equal(plan.version, 0);
	assert_int_equal(plan.dir_count, 0);
	assert_non_null(strstr(plan.detail, "not enforced"));
	assert_non_null(strstr(plan.detail, "memory,pids"));
	assert_false(name_exists_anywhere(name));
	cgroup_destroy(&plan);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_limits_makes_nothing),
	    cmocka_unit_test(test_bad_name_is_refused),
	    cmocka_unit_test(test_root_limits_are_written),
	    cmocka_unit_test(test_root_attach_moves_child),
	    cmocka_unit_test(test_root_pids_limit_stops_fork_bomb),
	    cmocka_unit_test(test_root_memory_limit_kills_hog),
	    cmocka_unit_test(test_root_failure_leaves_nothing),
	    cmocka_unit_test(test_unprivileged_fails_with_diagnosis),
	    cmocka_unit_test(test_unprivileged_degrades_when_allowed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
