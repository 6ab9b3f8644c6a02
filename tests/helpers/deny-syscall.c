/* Test helper: runs a command under a seccomp filter that fails the named syscalls with an
 * errno, to build "broken environments" for the fail-closed tests (a container runtime whose
 * profile forbids what stockade needs).
 * usage: deny-syscall [-e ERRNO] SYSCALL[,SYSCALL...] -- COMMAND [ARG...] */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int errnum = EPERM, i = 1;
	scmp_filter_ctx ctx;
	char *names, *name, *save = NULL;

	if (argc > 3 && strcmp(argv[1], "-e") == 0) {
		errnum = atoi(argv[2]);
		i = 3;
	}
	if (argc < i + 3 || strcmp(argv[i + 1], "--") != 0) {
		fprintf(stderr,
			"usage: deny-syscall [-e ERRNO] SYSCALL[,...] -- COMMAND [ARG...]\n");
		return 2;
	}
	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return 2;
	names = strdup(argv[i]);
	for (name = strtok_r(names, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		int nr = seccomp_syscall_resolve_name(name);
		if (nr == __NR_SCMP_ERROR || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(errnum), nr, 0)) {
			fprintf(stderr, "deny-syscall: cannot deny '%s'\n", name);
			free(names);
			return 2;
		}
	}
	free(names);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_load(ctx) < 0) {
		perror("deny-syscall: seccomp_load");
		return 2;
	}
	execvp(argv[i + 2], argv + i + 2);
	perror("deny-syscall: execvp");
	return 127;
}
