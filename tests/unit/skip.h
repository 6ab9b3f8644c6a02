/* skip_because(): a cmocka skip with its reason. tests/run.py prints the reason with the SKIP
 * line and checks the skip against tests/expected-skips.txt; a bare skip() shows as "no reason
 * given". Include after <cmocka.h>. */
#ifndef STOCKADE_TESTS_UNIT_SKIP_H
#define STOCKADE_TESTS_UNIT_SKIP_H

/* The prefix is what tests/integration/harness.py (parse_cmocka) looks for. */
#define skip_because(...)                                                                          \
	do {                                                                                       \
		print_message("skip reason: " __VA_ARGS__);                                        \
		print_message("\n");                                                               \
		skip();                                                                            \
	} while (0)

#endif
