/* Unit tests for src/sandbox/landlock.c: the plan built by landlock_prepare(), and what a child
 * restricted by landlock_apply() can and cannot do, next to a control child that is not
 * restricted (so every check goes red without the layer). Restriction happens in forked children
 * because it cannot be undone. The temporary tree lives under $TMPDIR (default /tmp). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "skip.h"

#include "sandbox/landlock.h"

#define FS_EXECUTE (1ULL << 0)
#define FS_WRITE_FILE (1ULL << 1)
#define FS_READ_FILE (1ULL << 2)
#define FS_READ_DIR (1ULL << 3)
#define FS_MAKE_REG (1ULL << 8)
#define FS_REFER (1ULL << 13)
#define FS_TRUNCATE (1ULL << 14)
#define FS_IOCTL_DEV (1ULL << 15)
#define SCOPE_ABSTRACT_UNIX (1ULL << 0)
#define SCOPE_SIGNAL (1ULL << 1)

struct tree {
	char base[PATH_MAX];
	char rw[PATH_MAX];
	char ro[PATH_MAX];
};

/* ---- helpers ---- */

static void path_join(char *dst, const char *dir, const char *name)
{
	int n = snprintf(dst, PATH_MAX, "%s/%s", dir, name);

	assert_true(n > 0 && n < PATH_MAX);
}

static void write_file(const char *path, const char *content)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	assert_int_equal(close(fd), 0);
}

static int tree_setup(void **state)
{
	const char *tmpdir = getenv("TMPDIR");
	struct tree *tree = calloc(1, sizeof(*tree));
	char path[PATH_MAX];

	assert_non_null(tree);
	snprintf(tree->base, sizeof(tree->base), "%s/stockade-landlock-XXXXXX",
		 tmpdir && tmpdir[0] ? tmpdir : "/tmp");
	assert_non_null(mkdtemp(tree->base));
	path_join(tree->rw, tree->base, "rw");
	path_join(tree->ro, tree->base, "ro");
	assert_int_equal(mkdir(tree->rw, 0755), 0);
	assert_int_equal(mkdir(tree->ro, 0755), 0);
	path_join(path, tree->ro, "existing");
	write_file(path, "hello");
	path_join(path, tree->rw, "to-link");
	write_file(path, "link me");
	path_join(path, tree->rw, "to-rename");
	write_file(path, "rename me");
	*state = tree;
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

static int tree_teardown(void **state)
{
	struct tree *tree = *state;

	nftw(tree->base, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(tree);
	return 0;
}

/* The child reports the first failed check on stderr and as its exit status. */
static int child_failed(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int child_failed(int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "child check %d failed: ", code);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	return code;
}

static void prepare_plan(struct landlock_plan *plan, const struct tree *tree)
{
	const char *writable[] = {tree->rw};
	struct sk_err err = {0};

	assert_int_equal(landlock_prepare(plan, writable, 1, &err), 0);
}

/* Sets no_new_privs (landlock_restrict_self's precondition), applies the plan, reports. */
static int child_restrict(const struct landlock_plan *plan)
{
	struct sk_err err = {0};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return child_failed(100, "prctl(NO_NEW_PRIVS): %s", strerror(errno));
	if (landlock_apply(plan, &err) < 0)
		return child_failed(101, "landlock_apply: %s: %s (%s)", err.op,
				    strerror(err.errnum), err.hint);
	return 0;
}

typedef int (*child_fn)(const void *arg, const struct landlock_plan *plan);

/* Runs fn in a forked child, restricted by plan when plan is not NULL; returns its exit code. */
static int run_child(child_fn fn, const void *arg, const struct landlock_plan *plan)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int code = plan ? child_restrict(plan) : 0;

		if (code == 0)
			code = fn(arg, plan);
		fflush(NULL);
		_exit(code);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* 0 when the result matches: success unrestricted, failure with one of the errnos restricted. */
static int expect(int code, int result, bool is_restricted, int errno_a, int errno_b,
		  const char *what)
{
	int saved_errno = errno;

	if (!is_restricted && result < 0)
		return child_failed(code, "%s: unrestricted but failed: %s", what,
				    strerror(saved_errno));
	if (is_restricted && result >= 0)
		return child_failed(code, "%s: restricted but succeeded", what);
	if (is_restricted && saved_errno != errno_a && saved_errno != errno_b)
		return child_failed(code, "%s: expected %s, got %s", what, strerror(errno_a),
				    strerror(saved_errno));
	return 0;
}

static int create_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* ---- landlock_prepare ---- */

static uint64_t expected_fs_rights(int abi)
{
	uint64_t rights = (1ULL << 13) - 1;

	if (abi >= 2)
		rights |= FS_REFER;
	if (abi >= 3)
		rights |= FS_TRUNCATE;
	if (abi >= 5)
		rights |= FS_IOCTL_DEV;
	return rights;
}

static const struct landlock_rule *find_rule(const struct landlock_plan *plan, const char *path)
{
	for (size_t i = 0; i < plan->rule_count; i++)
		if (strcmp(plan->rules[i].path, path) == 0)
			return &plan->rules[i];
	fail_msg("no rule for %s", path);
	return NULL;
}

static void test_prepare_builds_plan(void **state)
{
	const char *writable[] = {"/tmp", "/work/volume"};
	struct landlock_plan plan;
	struct sk_err err = {0};
	char detail[128];
	uint64_t handled;

	(void)state;
	assert_int_equal(landlock_prepare(&plan, writable, 2, &err), 0);
	assert_true(plan.abi >= 1);
	handled = expected_fs_rights(plan.abi);
	assert_true(plan.handled_fs == handled);
	assert_int_equal(plan.rule_count, 5);
	assert_true(find_rule(&plan, "/")->access ==
		    ((FS_READ_FILE | FS_READ_DIR | FS_EXECUTE) & handled));
	assert_true(find_rule(&plan, "/tmp")->access == handled);
	assert_true(find_rule(&plan, "/work/volume")->access == handled);
	assert_true(find_rule(&plan, "/dev")->access ==
		    ((FS_READ_FILE | FS_WRITE_FILE | FS_IOCTL_DEV | FS_READ_DIR) & handled));
	assert_true(find_rule(&plan, "/proc")->access ==
		    ((FS_READ_FILE | FS_READ_DIR | FS_WRITE_FILE) & handled));
	for (size_t i = 0; i < plan.rule_count; i++)
		assert_true((plan.rules[i].access & ~plan.handled_fs) == 0);
	if (plan.abi >= 6) {
		assert_true(plan.scoped == (SCOPE_ABSTRACT_UNIX | SCOPE_SIGNAL));
		snprintf(detail, sizeof(detail), "ABI %d, 5 rules, scoped: abstract-unix,signal",
			 plan.abi);
	} else {
		assert_true(plan.scoped == 0);
		snprintf(detail, sizeof(detail), "ABI %d, 5 rules, scoped: none (ABI < 6)",
			 plan.abi);
	}
	assert_string_equal(plan.detail, detail);
}

static void test_prepare_refuses_too_many_rules(void **state)
{
	const char *writable[LANDLOCK_MAX_RULES];
	struct landlock_plan plan;
	struct sk_err err = {0};

	(void)state;
	for (size_t i = 0; i < LANDLOCK_MAX_RULES; i++)
		writable[i] = "/tmp";
	assert_int_equal(landlock_prepare(&plan, writable, LANDLOCK_MAX_RULES, &err), -1);
	assert_string_equal(err.layer, "landlock");
	assert_int_equal(err.errnum, E2BIG);
	assert_int_equal(err.exit_code, 125);
	/* The fixed rules plus as many writable paths as fit are fine. */
	memset(&err, 0, sizeof(err));
	assert_int_equal(landlock_prepare(&plan, writable, LANDLOCK_MAX_RULES - 3, &err), 0);
	assert_int_equal(plan.rule_count, LANDLOCK_MAX_RULES);
}

static void test_prepare_refuses_bad_paths(void **state)
{
	char long_path[LANDLOCK_PATH_MAX + 8];
	const char *writable[1] = {long_path};
	struct landlock_plan plan;
	struct sk_err err = {0};

	(void)state;
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = '\0';
	assert_int_equal(landlock_prepare(&plan, writable, 1, &err), -1);
	assert_string_equal(err.layer, "landlock");
	assert_int_equal(err.errnum, ENAMETOOLONG);

	/* Exactly LANDLOCK_PATH_MAX - 1 bytes still fits. */
	long_path[LANDLOCK_PATH_MAX - 1] = '\0';
	assert_int_equal(landlock_prepare(&plan, writable, 1, &err), 0);

	writable[0] = "relative/path";
	assert_int_equal(landlock_prepare(&plan, writable, 1, &err), -1);
	assert_int_equal(err.errnum, EINVAL);
}

/* ---- landlock_apply: failures ---- */

static void test_apply_fails_on_missing_path(void **state)
{
	struct tree *tree = *state;
	char missing[PATH_MAX];
	const char *writable[] = {missing};
	struct landlock_plan plan;
	struct sk_err err = {0};
	int pipe_fds[2];
	pid_t pid;
	int status;

	path_join(missing, tree->base, "does-not-exist");
	assert_int_equal(landlock_prepare(&plan, writable, 1, &err), 0);
	/* The child sends its sk_err back, as the launcher's child does. */
	assert_int_equal(pipe2(pipe_fds, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sk_err child_err = {0};
		int code = 0;

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    landlock_apply(&plan, &child_err) == 0)
			code = 1;
		if (write(pipe_fds[1], &child_err, sizeof(child_err)) != sizeof(child_err))
			code = 2;
		_exit(code);
	}
	close(pipe_fds[1]);
	assert_int_equal(read(pipe_fds[0], &err, sizeof(err)), (ssize_t)sizeof(err));
	close(pipe_fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_string_equal(err.layer, "landlock");
	assert_int_equal(err.errnum, ENOENT);
	assert_non_null(strstr(err.op, "open"));
	assert_non_null(strstr(err.op, missing));
}

static void test_apply_refuses_unprepared_plan(void **state)
{
	struct landlock_plan plan;
	struct sk_err err = {0};

	(void)state;
	memset(&plan, 0, sizeof(plan));
	/* Fails before any syscall, so this may run in the test process itself. */
	assert_int_equal(landlock_apply(&plan, &err), -1);
	assert_string_equal(err.layer, "landlock");
	assert_int_equal(err.errnum, EINVAL);
}

/* ---- landlock_apply: the filesystem ---- */

static int child_filesystem_checks(const void *arg, const struct landlock_plan *plan)
{
	const struct tree *tree = arg;
	bool is_restricted = plan != NULL;
	char path[PATH_MAX], other[PATH_MAX], buf[16];
	int fd, rc;

	path_join(path, tree->rw, "new");
	if (create_file(path) < 0)
		return child_failed(1, "create in rw: %s", strerror(errno));

	path_join(path, tree->ro, "new");
	if ((rc = expect(2, create_file(path), is_restricted, EACCES, 0, "create in ro")))
		return rc;

	path_join(path, tree->ro, "existing");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, buf, sizeof(buf)) != 5 || memcmp(buf, "hello", 5) != 0)
		return child_failed(3, "read in ro: %s", strerror(errno));
	close(fd);

	if ((rc = expect(4, open(path, O_WRONLY | O_CLOEXEC), is_restricted, EACCES, 0,
			 "open ro/existing for writing")))
		return rc;

	snprintf(path, sizeof(path), "/var/tmp/stockade-landlock-%d", (int)getpid());
	rc = create_file(path);
	if (rc == 0)
		unlink(path);
	if ((rc = expect(5, rc, is_restricted, EACCES, 0, "create in /var/tmp")))
		return rc;

	/* Moving a file out of the writable tree needs REFER plus MAKE_REG at the destination. */
	path_join(path, tree->rw, "to-link");
	path_join(other, tree->ro, "linked");
	if ((rc = expect(6, link(path, other), is_restricted, EXDEV, EACCES, "link rw -> ro")))
		return rc;
	path_join(path, tree->rw, "to-rename");
	path_join(other, tree->ro, "renamed");
	if ((rc = expect(7, rename(path, other), is_restricted, EXDEV, EACCES, "rename rw -> ro")))
		return rc;

	/* What the plan grants beside the writable paths. */
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "x", 1) != 1)
		return child_failed(8, "write /dev/null: %s", strerror(errno));
	close(fd);
	fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return child_failed(9, "open /proc/self/oom_score_adj: %s", strerror(errno));
	close(fd);
	return 0;
}

static void test_apply_restricts_filesystem(void **state)
{
	struct tree *tree = *state;
	struct landlock_plan plan;

	prepare_plan(&plan, tree);
	assert_int_equal(run_child(child_filesystem_checks, tree, &plan), 0);
}

static void test_control_without_landlock(void **state)
{
	struct tree *tree = *state;

	assert_int_equal(run_child(child_filesystem_checks, tree, NULL), 0);
}

/* ---- landlock_apply: rules on fds 0-2 ---- */

struct stdio_case {
	const struct tree *tree;
	const struct landlock_plan *plan;
};

static int child_stdio_checks(const struct tree *tree)
{
	char path[PATH_MAX];
	int fd, rc;

	/* fd 1 (writable) and fd 0 (read-only) were set up before the restriction. */
	fd = open("/proc/self/fd/1", O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return child_failed(1, "reopen /proc/self/fd/1: %s", strerror(errno));
	if (write(fd, "ok", 2) != 2)
		return child_failed(2, "write to reopened fd 1: %s", strerror(errno));
	close(fd);
	fd = open("/proc/self/fd/0", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return child_failed(3, "reopen /proc/self/fd/0: %s", strerror(errno));
	close(fd);
	/* The rule on a read-only fd grants no more than the fd did. */
	if ((rc = expect(4, open("/proc/self/fd/0", O_WRONLY | O_CLOEXEC), true, EACCES, 0,
			 "reopen read-only fd 0 for writing")))
		return rc;
	/* And the rest of the read-only directory stays read-only. */
	path_join(path, tree->ro, "stdout-sibling");
	if ((rc = expect(5, create_file(path), true, EACCES, 0, "create beside fd 1")))
		return rc;
	return 0;
}

static int child_with_stdio(const void *arg, const struct landlock_plan *unused)
{
	const struct stdio_case *stdio_case = arg;
	const struct tree *tree = stdio_case->tree;
	char path[PATH_MAX];
	int out, in;

	(void)unused;

	/* Restrict only once fds 0 and 1 point at files in the read-only directory. */
	path_join(path, tree->ro, "stdout");
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	path_join(path, tree->ro, "existing");
	in = open(path, O_RDONLY | O_CLOEXEC);
	if (out < 0 || in < 0 || dup2(out, 1) < 0 || dup2(in, 0) < 0)
		return child_failed(10, "set up fds: %s", strerror(errno));
	close(out);
	close(in);
	if (child_restrict(stdio_case->plan) != 0)
		return 11;
	return child_stdio_checks(tree);
}

static void test_apply_keeps_stdio_reopenable(void **state)
{
	struct tree *tree = *state;
	struct landlock_plan plan;
	char path[PATH_MAX], buf[8] = {0};
	int fd;

	prepare_plan(&plan, tree);
	struct stdio_case stdio_case = {.tree = tree, .plan = &plan};
	/* No plan for run_child: the child restricts itself once its fds are in place. */
	assert_int_equal(run_child(child_with_stdio, &stdio_case, NULL), 0);
	path_join(path, tree->ro, "stdout");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf) - 1), 2);
	close(fd);
	assert_string_equal(buf, "ok");
}

/* ---- landlock_apply: scoping (ABI >= 6) ---- */

static int child_connect_abstract(const void *arg, const struct landlock_plan *plan)
{
	const struct sockaddr_un *addr = arg;
	socklen_t len =
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(addr->sun_path + 1));
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc;

	if (fd < 0)
		return child_failed(1, "socket: %s", strerror(errno));
	rc = expect(2, connect(fd, (const struct sockaddr *)addr, len), plan != NULL, EPERM, 0,
		    "connect to the parent's abstract socket");
	close(fd);
	return rc;
}

static bool skip_below_abi6(struct landlock_plan *plan)
{
	struct sk_err err = {0};

	assert_int_equal(landlock_prepare(plan, NULL, 0, &err), 0);
	return plan->abi < 6;
}

static void test_scope_abstract_unix_socket(void **state)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct landlock_plan plan;
	socklen_t len;
	int listener;

	(void)state;
	if (skip_below_abi6(&plan))
		skip_because("scoping needs Landlock ABI 6, this kernel has %d", plan.abi);
	/* The listener belongs to the parent, outside the child's Landlock domain. */
	snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1, "stockade-landlock-test-%d",
		 (int)getpid());
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(addr.sun_path + 1));
	listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(listener >= 0);
	assert_int_equal(bind(listener, (struct sockaddr *)&addr, len), 0);
	assert_int_equal(listen(listener, 4), 0);
	assert_int_equal(run_child(child_connect_abstract, &addr, NULL), 0);
	assert_int_equal(run_child(child_connect_abstract, &addr, &plan), 0);
	close(listener);
}

static int child_signal_parent(const void *arg, const struct landlock_plan *plan)
{
	(void)arg;
	/* Signal 0 still goes through the permission checks, Landlock's included. */
	return expect(1, kill(getppid(), 0), plan != NULL, EPERM, 0, "kill(parent, 0)");
}

static void test_scope_signal(void **state)
{
	struct landlock_plan plan;

	(void)state;
	if (skip_below_abi6(&plan))
		skip_because("scoping needs Landlock ABI 6, this kernel has %d", plan.abi);
	assert_int_equal(run_child(child_signal_parent, NULL, NULL), 0);
	assert_int_equal(run_child(child_signal_parent, NULL, &plan), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_prepare_builds_plan),
	    cmocka_unit_test(test_prepare_refuses_too_many_rules),
	    cmocka_unit_test(test_prepare_refuses_bad_paths),
	    cmocka_unit_test(test_apply_refuses_unprepared_plan),
	    cmocka_unit_test_setup_teardown(test_apply_fails_on_missing_path, tree_setup,
					    tree_teardown),
	    cmocka_unit_test_setup_teardown(test_apply_restricts_filesystem, tree_setup,
					    tree_teardown),
	    cmocka_unit_test_setup_teardown(test_control_without_landlock, tree_setup,
					    tree_teardown),
	    cmocka_unit_test_setup_teardown(test_apply_keeps_stdio_reopenable, tree_setup,
					    tree_teardown),
	    cmocka_unit_test(test_scope_abstract_unix_socket),
	    cmocka_unit_test(test_scope_signal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
