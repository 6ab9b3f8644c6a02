/* Unit tests for src/util/parse.c: accepted and refused spellings of sizes, durations,
 * counts and CPU shares, overflow included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/parse.h"

static void test_size(void **state)
{
	uint64_t v;
	(void)state;
	assert_int_equal(parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(parse_size("64k", &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(parse_size("64KiB", &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(parse_size("512m", &v), 0);
	assert_int_equal(v, 512ull << 20);
	assert_int_equal(parse_size("1G", &v), 0);
	assert_int_equal(v, 1ull << 30);
	assert_int_equal(parse_size("2T", &v), 0);
	assert_int_equal(v, 2ull << 40);
	assert_int_equal(parse_size("0", &v), 0);
	assert_int_equal(v, 0);
	const char *bad[] = {
	    "",	   "-1", " 1",	 "1 ", "1x", "1.5g", "k", "99999999999999999999", "17179869184G",
	    "1gg", "+1", "0x10", NULL};
	for (int i = 0; bad[i]; i++)
		assert_int_equal(parse_size(bad[i], &v), -1);
	assert_int_equal(parse_size(NULL, &v), -1);
}

static void test_duration(void **state)
{
	uint64_t v;
	(void)state;
	assert_int_equal(parse_duration_ms("30", &v), 0);
	assert_int_equal(v, 30000);
	assert_int_equal(parse_duration_ms("1.5", &v), 0);
	assert_int_equal(v, 1500);
	assert_int_equal(parse_duration_ms("500ms", &v), 0);
	assert_int_equal(v, 500);
	assert_int_equal(parse_duration_ms("90s", &v), 0);
	assert_int_equal(v, 90000);
	assert_int_equal(parse_duration_ms("2m", &v), 0);
	assert_int_equal(v, 120000);
	assert_int_equal(parse_duration_ms("1h", &v), 0);
	assert_int_equal(v, 3600000);
	assert_int_equal(parse_duration_ms("0.001", &v), 0);
	assert_int_equal(v, 1);
	const char *bad[] = {"",
			     "ms",
			     "1.2345",
			     "-1",
			     "1d",
			     "1.5ms",
			     "abc",
			     "1 s",
			     "99999999999999999999",
			     "18446744073709551615h",
			     NULL};
	for (int i = 0; bad[i]; i++)
		assert_int_equal(parse_duration_ms(bad[i], &v), -1);
}

static void test_uint_and_cpus(void **state)
{
	uint64_t v;
	(void)state;
	assert_int_equal(parse_uint("10", 1, 100, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(parse_uint("0", 1, 100, &v), -1);
	assert_int_equal(parse_uint("101", 1, 100, &v), -1);
	assert_int_equal(parse_uint("1.0", 1, 100, &v), -1);
	assert_int_equal(parse_uint("", 1, 100, &v), -1);
	assert_int_equal(parse_cpus_milli("0.5", &v), 0);
	assert_int_equal(v, 500);
	assert_int_equal(parse_cpus_milli("2", &v), 0);
	assert_int_equal(v, 2000);
	assert_int_equal(parse_cpus_milli("1.25", &v), 0);
	assert_int_equal(v, 1250);
	assert_int_equal(parse_cpus_milli("0", &v), -1);
	assert_int_equal(parse_cpus_milli("0.0001", &v), -1);
	assert_int_equal(parse_cpus_milli("-1", &v), -1);
	assert_int_equal(parse_cpus_milli("2000", &v), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_size),
	    cmocka_unit_test(test_duration),
	    cmocka_unit_test(test_uint_and_cpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
