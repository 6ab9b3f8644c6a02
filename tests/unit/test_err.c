/* Unit tests for src/util/err.c: bounded copies, number formatting, one-line printing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"

static void test_strl(void **state)
{
	char buf[8];
	(void)state;
	assert_int_equal(sk_strlcpy(buf, "abcdefghij", sizeof(buf)), 7);
	assert_string_equal(buf, "abcdefg");
	sk_strlcpy(buf, "ab", sizeof(buf));
	assert_int_equal(sk_strlcat(buf, "cdefghij", sizeof(buf)), 7);
	assert_string_equal(buf, "abcdefg");
	assert_string_equal(sk_utoa(0, buf, sizeof(buf)), "0");
	assert_string_equal(sk_utoa(1234567, buf, sizeof(buf)), "1234567");
	assert_string_equal(sk_utoa(123456789, buf, 4), "123");
}

static void test_fail_and_print(void **state)
{
	struct sk_err err;
	char line[2048] = {0};
	int fds[2], saved;
	(void)state;
	memset(&err, 0, sizeof(err));
	assert_int_equal(sk_fail(&err, "mount", ENOENT, "do this", "bind %s\nX", "/usr"), -1);
	assert_int_equal(err.exit_code, 125);
	assert_int_equal(pipe(fds), 0);
	saved = dup(2);
	dup2(fds[1], 2);
	sk_err_print(&err);
	fflush(stderr);
	dup2(saved, 2);
	close(fds[1]);
	assert_true(read(fds[0], line, sizeof(line) - 1) > 0);
	assert_string_equal(line,
			    "stockade: mount: bind /usr X: No such file or directory (do this)\n");
	memset(&err, 0, sizeof(err));
	sk_fail_safe(&err, "seccomp", EPERM, "seccomp(SET_MODE_FILTER)", "/x", NULL);
	assert_string_equal(err.op, "seccomp(SET_MODE_FILTER) /x");
	assert_string_equal(err.hint, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_strl),
	    cmocka_unit_test(test_fail_and_print),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
