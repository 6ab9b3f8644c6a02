/* Fuzzes the argv parser of `stockade run` (cli_run_parse in src/cli/run.c): the input is
 * split at NUL bytes into arguments after "run". Checked: a successful parse names a
 * non-empty command that is one of the arguments, and keeps the spec's invariants; a failed
 * one says why. */
#undef NDEBUG /* the checks below are the point */
#include <assert.h>
#include <fcntl.h>
#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

#define FUZZ_ARGS_MAX 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* `--policy /dev/stdin` (or /proc/self/fd/0) is a file the parser reads to its end: with stdin
 * a pipe nobody closes, an input naming it would hang the fuzzer. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	(void)argc;
	(void)argv;
	if (null >= 0 && null != STDIN_FILENO) {
		dup2(null, STDIN_FILENO);
		close(null);
	}
	return 0;
}

/* getopt keeps state across calls in glibc (the position inside a cluster of short options
 * such as "-hv", pointing into the previous argv). stockade parses one argv per process, so
 * production never sees it; a fuzzer calling the parser again must start getopt afresh:
 * optind = 0 makes glibc reinitialize, and a parse of an empty argv clears the position. */
static void getopt_reset(void)
{
	static char name[] = "fuzz";
	static char *empty_argv[] = {name, NULL};

	optind = 0;
	(void)getopt(1, empty_argv, "");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[FUZZ_ARGS_MAX + 2];
	int argc = 0;
	char *text = malloc(size + 1);
	struct sandbox_spec spec;
	struct sk_err err = {0};
	struct cli_sources sources = {0};
	int wants_help = 0;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	argv[argc++] = "run";
	for (size_t at = 0; at <= size && argc <= FUZZ_ARGS_MAX; at += strlen(text + at) + 1)
		argv[argc++] = text + at;
	argv[argc] = NULL;
	getopt_reset();
	if (cli_run_parse(argc, argv, &spec, &sources, &wants_help, &err) == 0) {
		if (!wants_help) {
			int found = 0;

			/* run -d needs no command (PID 1 then waits for execs) */
			assert((spec.argv && spec.argv[0] && spec.argv[0][0] != '\0') ||
			       (!spec.argv && sources.is_detached));
			for (int i = 1; i < argc; i++)
				found |= spec.argv == &argv[i];
			/* or the command of a --policy file */
			assert(found || spec.argv == cli_sources_command(&sources));
			assert(spec.uid >= 1 && spec.uid <= 65533 && spec.gid == spec.uid);
			assert(spec.workdir && spec.workdir[0] == '/');
			assert(spec.hostname && strlen(spec.hostname) <= 63);
			assert(spec.env_add_count <= SANDBOX_MAX_ENV);
			assert(spec.tmpfs_bytes >= (1u << 20));
			assert(spec.memory_bytes == 0 || spec.memory_bytes >= (1u << 20));
		}
	} else {
		assert(err.op[0] != '\0');
	}
	cli_sources_free(&sources);
	free(text);
	return 0;
}
