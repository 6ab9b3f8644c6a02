/* Fuzzes the parser of the per-boot probe cache ($STOCKADE_HOME/probe-cache), which stockade
 * reads back from a directory the caller owns (gate_cache_parse in src/sandbox/gate.c). The
 * input follows a fixed key (so the fuzzer need not guess it) and is also tried bare.
 * Checked: a cache that is accepted fills every layer with a known status and fields that are
 * NUL-terminated and free of the record delimiters. */
#undef NDEBUG /* the checks below are the point */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/gate.h"

#define FUZZ_KEY                                                                                   \
	"stockade-probe-cache 1\nboot 0f8e2d4c-1b7a-4e39-9d52-6c0a3b1e7f44\nversion 0.1.0\n"       \
	"exe 1234:567890:1700000000\nuid 0\n"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_field(const char *field, size_t size)
{
	size_t len = strnlen(field, size);

	assert(len < size && !memchr(field, '\t', len) && !memchr(field, '\n', len));
}

static void parse_one(const char *bytes, size_t size)
{
	struct probe_result results[PROBE_COUNT];
	char *text = malloc(size + 1); /* the parser writes the NUL at text[size] */

	if (!text)
		return;
	memcpy(text, bytes, size);
	probe_describe(results);
	if (gate_cache_parse(text, size, FUZZ_KEY, results) == 0) {
		for (int i = 0; i < PROBE_COUNT; i++) {
			assert(results[i].status <= PROBE_BROKEN);
			check_field(results[i].op, sizeof(results[i].op));
			check_field(results[i].diagnosis, sizeof(results[i].diagnosis));
			check_field(results[i].remedy, sizeof(results[i].remedy));
		}
	}
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t key_len = sizeof(FUZZ_KEY) - 1;
	char *keyed = malloc(key_len + size);

	if (!keyed)
		return 0;
	memcpy(keyed, FUZZ_KEY, key_len);
	memcpy(keyed + key_len, data, size);
	parse_one(keyed, key_len + size);
	parse_one((const char *)data, size);
	free(keyed);
	return 0;
}
