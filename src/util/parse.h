/* Parsers for the values the CLI takes from outside: sizes, durations, counts, CPU shares.
 * Small, bounded, strict (no sign, no space, no overflow), and fuzzed. */
#ifndef STOCKADE_PARSE_H
#define STOCKADE_PARSE_H

#include <stdint.h>

/* "4096", "64k", "64K", "64KiB", "512m", "1G", "2T" (binary units, B optional). 0 is allowed. */
int parse_size(const char *text, uint64_t *bytes);
/* "30" (seconds), "1.5", "500ms", "90s", "2m", "1h"; at most 3 decimals. */
int parse_duration_ms(const char *text, uint64_t *ms);
/* A decimal integer in [min, max]. */
int parse_uint(const char *text, uint64_t min, uint64_t max, uint64_t *value);
/* "2", "0.5", "1.25" -> thousandths of a CPU (at most 3 decimals), > 0. */
int parse_cpus_milli(const char *text, uint64_t *milli);

#endif
