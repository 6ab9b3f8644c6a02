/* Fuzzes the spec parser: a policy file read, parsed (jansson, duplicate keys refused), checked
 * and applied through the flags' own parsers (cli_policy_load in src/cli/policy.c, on the
 * input as a memfd), and src/spec/jsonpos.c on the raw bytes, which it must survive whatever
 * they are. Checked: a refusal names a place and a reason; an accepted spec keeps the
 * invariants the flags guarantee; a position found is a real one. */
#define _GNU_SOURCE
#undef NDEBUG /* the checks below are the point */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli/cli.h"
#include "spec/jsonpos.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_positions(const char *text, size_t len)
{
	static const struct jsonpos_seg paths[][3] = {
	    {{.key = "network"}, {.key = "allow"}, {.index = 1}},
	    {{.key = "limits"}, {.key = "memory"}},
	    {{.key = "env"}, {.index = 0}},
	};
	static const size_t depths[] = {3, 2, 2};
	struct jsonpos pos;
	char path[128];
	int lines = 1;

	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	for (size_t i = 0; i < 3; i++)
		for (int want_key = 0; want_key < 2; want_key++)
			if (jsonpos_find(text, len, paths[i], depths[i], want_key, &pos) == 0)
				assert(pos.line >= 1 && pos.line <= lines && pos.col >= 1);
	for (size_t end = 0; end <= len && end < 64; end += 7)
		if (jsonpos_key_ending_at(text, len, end, path, sizeof(path), &pos) == 0)
			assert(pos.line >= 1 && pos.line <= lines && pos.col >= 1 &&
			       strlen(path) < sizeof(path));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sandbox_spec spec;
	struct cli_sources sources = {0};
	struct sk_err err = {0};
	char path[64];
	int fd = memfd_create("fuzz-spec", MFD_CLOEXEC);

	check_positions((const char *)data, size);
	if (fd < 0)
		return 0;
	if (size > 0 && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	cli_run_defaults(&spec);
	if (cli_policy_load(&spec, path, NULL, &sources, &err) == 0) {
		assert(spec.uid >= 1 && spec.uid <= 65533 && spec.gid == spec.uid);
		assert(spec.workdir && spec.workdir[0] == '/');
		assert(spec.hostname && strlen(spec.hostname) <= 63);
		assert(spec.env_add_count <= SANDBOX_MAX_ENV);
		assert(spec.allow_net_count <= SANDBOX_MAX_NET_RULES);
		assert(spec.volume_count <= SANDBOX_MAX_VOLUMES);
		assert(spec.tmpfs_bytes >= (1u << 20));
		assert(spec.memory_bytes == 0 || spec.memory_bytes >= (1u << 20));
		char *const *argv = cli_sources_command(&sources);
		assert(!argv || (argv[0] && argv[0][0] != '\0'));
	} else {
		/* one line: where (the file, or the profile it names) and what */
		assert(err.op[0] != '\0' && err.exit_code == 125);
		assert(strcmp(err.layer, "policy") == 0 || strcmp(err.layer, "cli") == 0);
		assert(strstr(err.op, path) != NULL || strstr(err.op, "profile") != NULL);
	}
	cli_sources_free(&sources);
	close(fd);
	return 0;
}
