/* Shared by the escape programs: one result line per technique, in try-syscall's format
 *   NAME result=ok|errno=NAME|signal=N detail=TEXT
 * so that tests/escape/run.py (and harness.Context.parse_probes) read all of them alike. */
#ifndef STOCKADE_ESCAPE_PROBE_COMMON_H
#define STOCKADE_ESCAPE_PROBE_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Prints one result: error 0 means the attempt succeeded. The detail has no spaces. */
__attribute__((format(printf, 3, 4))) static void report(const char *name, int error,
							 const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	for (char *c = detail; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			*c = '_';
	if (!detail[0])
		strcpy(detail, "-");
	if (error == 0) {
		printf("%s result=ok detail=%s\n", name, detail);
	} else {
		const char *errno_name = strerrorname_np(error);

		if (errno_name)
			printf("%s errno=%s detail=%s\n", name, errno_name, detail);
		else
			printf("%s errno=E%d detail=%s\n", name, error, detail);
	}
	fflush(stdout);
}

/* Splits "NAME=ARG" in place; returns ARG ("" when there is none). */
static char *probe_arg(char *spec)
{
	char *eq = strchr(spec, '=');

	if (!eq)
		return spec + strlen(spec);
	*eq = '\0';
	return eq + 1;
}

/* One probe runner per program: KIND:LABEL=ARG arguments, dispatched on KIND. */
struct probe_kind {
	const char *kind;
	void (*run)(const char *name, const char *arg);
};

/* Runs every probe named on the command line; 2 for an unknown kind. */
static int probe_dispatch(const struct probe_kind *kinds, size_t count, int argc, char **argv,
			  const char *program)
{
	for (int i = 1; i < argc; i++) {
		char *name = argv[i], *arg = probe_arg(name);
		size_t kind_len = strcspn(name, ":");
		size_t k = 0;

		while (k < count && !(strlen(kinds[k].kind) == kind_len &&
				      strncmp(kinds[k].kind, name, kind_len) == 0))
			k++;
		if (k == count) {
			fprintf(stderr, "%s: unknown probe kind in '%s'\n", program, name);
			return 2;
		}
		kinds[k].run(name, arg);
	}
	return 0;
}

#endif
