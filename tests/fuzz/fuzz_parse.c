/* Fuzzes the parsers of the CLI's values (src/util/parse.c): sizes, durations, counts and CPU
 * shares. The input is one NUL-terminated string; besides ASan/UBSan findings, the parsers'
 * contracts are checked: a number accepted by one parser means the same to the others. */
#undef NDEBUG /* the checks below are the point */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size heap copy: a read past the NUL is an ASan report. */
	char *text = malloc(size + 1);
	uint64_t bytes = 0, ms = 0, count = 0, milli = 0, in_range = 0;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	int size_ok = parse_size(text, &bytes) == 0;
	int duration_ok = parse_duration_ms(text, &ms) == 0;
	int count_ok = parse_uint(text, 0, UINT64_MAX, &count) == 0;
	int cpus_ok = parse_cpus_milli(text, &milli) == 0;

	if (count_ok) {
		/* A bare number is bytes to parse_size and seconds to parse_duration_ms. */
		assert(size_ok && bytes == count);
		assert(duration_ok ? ms == count * 1000 : count > UINT64_MAX / 1000);
		assert(parse_uint(text, count, count, &in_range) == 0 && in_range == count);
		if (count > 0)
			assert(parse_uint(text, 0, count - 1, &in_range) == -1);
	}
	if (cpus_ok)
		assert(milli > 0 && milli <= 1024 * 1000);
	(void)parse_size(NULL, &bytes);
	free(text);
	return 0;
}
