/* Unit tests for src/store/reserve.c in a scratch STOCKADE_HOME: created, self-healing (re-made
 * when deleted, topped up when shrunk), status, release. The hysteresis on a full file system
 * is tested by tests/integration/test_volumes.py on a small tmpfs. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "skip.h"
#include "store/reserve.h"

static char home[64], path[128];

static int setup(void **state)
{
	(void)state;
	snprintf(home, sizeof(home), "/tmp/test_reserve.XXXXXX");
	if (!mkdtemp(home))
		return -1;
	snprintf(path, sizeof(path), "%s/" RESERVE_FILE, home);
	return setenv("STOCKADE_HOME", home, 1);
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return rmdir(home);
}

static uint64_t allocated(void)
{
	struct stat st;
	return lstat(path, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}

static void test_lifecycle(void **state)
{
	struct reserve_state rs;
	struct sk_err err = {0};
	struct statvfs vfs;
	char why[256];
	uint64_t freed;
	(void)state;
	assert_int_equal(statvfs(home, &vfs), 0);
	if ((uint64_t)vfs.f_bavail * vfs.f_frsize < 4 * RESERVE_BYTES)
		skip_because("less than 4 x the reserve free in %s", home);
	reserve_ensure(why, sizeof(why));
	assert_string_equal(why, "");
	assert_true(allocated() >= RESERVE_BYTES);
	assert_int_equal(truncate(path, 4096), 0);
	reserve_ensure(why, sizeof(why));
	assert_true(allocated() >= RESERVE_BYTES);
	assert_int_equal(reserve_status(&rs, &err), 0);
	assert_true(rs.exists);
	assert_string_equal(rs.path, path);
	assert_int_equal(reserve_release(&freed, &err), 0);
	assert_true(freed >= RESERVE_BYTES);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(reserve_status(&rs, &err), 0);
	assert_false(rs.exists);
	assert_int_equal(reserve_release(&freed, &err), 0);
	assert_int_equal(freed, 0);
	reserve_ensure(why, sizeof(why));
	assert_true(allocated() >= RESERVE_BYTES);
}

static void test_not_a_regular_file(void **state)
{
	char why[256];
	(void)state;
	assert_int_equal(symlink("/etc/passwd", path), 0);
	reserve_ensure(why, sizeof(why));
	assert_non_null(strstr(why, "not a regular file"));
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_a_regular_file, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
