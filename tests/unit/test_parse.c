/* Unit tests for src/util/parse.c: accepted and refused spellings of sizes, durations,
 * counts and CPU shares, overflow included. One table each way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/macros.h"
#include "util/parse.h"

enum parser { SIZE, DURATION, UINT_1_100, CPUS };

static const char *const parser_names[] = {"parse_size", "parse_duration_ms", "parse_uint(1, 100)",
					   "parse_cpus_milli"};

static int parse(enum parser parser, const char *text, uint64_t *value)
{
	switch (parser) {
	case SIZE:
		return parse_size(text, value);
	case DURATION:
		return parse_duration_ms(text, value);
	case UINT_1_100:
		return parse_uint(text, 1, 100, value);
	case CPUS:
		return parse_cpus_milli(text, value);
	}
	return -2;
}

static const struct {
	enum parser parser;
	const char *text;
	uint64_t value;
} accepted[] = {
    {SIZE, "4096", 4096},
    {SIZE, "64k", 65536},
    {SIZE, "64KiB", 65536},
    {SIZE, "512m", 512ull << 20},
    {SIZE, "1G", 1ull << 30},
    {SIZE, "2T", 2ull << 40},
    {SIZE, "0", 0},
    {DURATION, "30", 30000},
    {DURATION, "1.5", 1500},
    {DURATION, "500ms", 500},
    {DURATION, "90s", 90000},
    {DURATION, "2m", 120000},
    {DURATION, "1h", 3600000},
    {DURATION, "0.001", 1},
    {UINT_1_100, "10", 10},
    {CPUS, "0.5", 500},
    {CPUS, "2", 2000},
    {CPUS, "1.25", 1250},
};

static const struct {
	enum parser parser;
	const char *text;
} refused[] = {
    {SIZE, ""},
    {SIZE, "-1"},
    {SIZE, " 1"},
    {SIZE, "1 "},
    {SIZE, "1x"},
    {SIZE, "1.5g"},
    {SIZE, "k"},
    {SIZE, "99999999999999999999"},
    {SIZE, "17179869184G"},
    {SIZE, "1gg"},
    {SIZE, "+1"},
    {SIZE, "0x10"},
    {SIZE, NULL},
    {DURATION, ""},
    {DURATION, "ms"},
    {DURATION, "1.2345"},
    {DURATION, "-1"},
    {DURATION, "1d"},
    {DURATION, "1.5ms"},
    {DURATION, "abc"},
    {DURATION, "1 s"},
    {DURATION, "99999999999999999999"},
    {DURATION, "18446744073709551615h"},
    {UINT_1_100, "0"},
    {UINT_1_100, "101"},
    {UINT_1_100, "1.0"},
    {UINT_1_100, ""},
    {CPUS, "0"},
    {CPUS, "0.0001"},
    {CPUS, "-1"},
    {CPUS, "2000"},
};

static void test_accepted(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(accepted); i++) {
		uint64_t value = ~0ull;
		if (parse(accepted[i].parser, accepted[i].text, &value) != 0 ||
		    value != accepted[i].value)
			fail_msg("%s(\"%s\"): %llu, expected %llu",
				 parser_names[accepted[i].parser], accepted[i].text,
				 (unsigned long long)value, (unsigned long long)accepted[i].value);
	}
}

static void test_refused(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		uint64_t value;
		if (parse(refused[i].parser, refused[i].text, &value) != -1)
			fail_msg("%s(\"%s\") was accepted", parser_names[refused[i].parser],
				 refused[i].text ? refused[i].text : "(null)");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accepted),
	    cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
