/* stockade: subcommand dispatch, and the one place where an error is printed and an exit
 * status chosen. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <unistd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "store/reserve.h"
#include "util/err.h"

extern char **environ;

/* `stockade serve` is stockade-serve, beside this binary (cli/serve.h says why): exec'd with
 * the same arguments. Returns only on failure. */
static int serve_exec(char **argv, struct sk_err *err)
{
	char self[PATH_MAX], path[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n < 0)
		return sk_fail(err, "serve", errno, NULL, "readlink /proc/self/exe");
	self[n] = '\0';
	snprintf(path, sizeof(path), "%s/stockade-serve", dirname(self));
	argv[0] = path;
	execve(path, argv, environ);
	return sk_fail(err, "serve", errno, "it is installed beside stockade (meson install)",
		       "exec %.200s", path);
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: stockade run [OPTIONS] [--] COMMAND [ARG...]\n"
		"       stockade run -d [--name NAME] [OPTIONS] [-- COMMAND...]   long-lived\n"
		"       stockade exec [-i] [-e K=V] [-w DIR] [--timeout D] NAME -- COMMAND...\n"
		"       stockade ps [--json] | inspect NAME | logs [-f] NAME\n"
		"       stockade stop [-t SECONDS] NAME | rm [-f] NAME\n"
		"       stockade doctor [--json]\n"
		"       stockade serve [--socket PATH] [--allow-uid U]... [--allow-gid G]...\n"
		"       stockade health [--socket PATH] [--timeout DURATION] [--livez]\n"
		"       stockade mcp [--policy FILE] [--profile P] [--allow-profile P]...   "
		"MCP on stdio\n"
		"       stockade policy check|show|profiles|import-srt ...   spec files "
		"(docs/spec.md)\n"
		"       stockade volume create|ls|inspect|rm|prune|import|export ...\n"
		"       stockade workspace ls|diff|apply|discard ...   a workspace's changes "
		"(docs/workspaces.md)\n"
		"       stockade reserve status|release\n"
		"       stockade version\n"
		"       stockade help\n"
		"Run `stockade run --help` for the options of run.\n");
}

/* A caller may start us with fd 0, 1 or 2 closed; the first socket or pipe we make would then
 * take its number and be mistaken for a standard stream, in the sandbox too. */
static int ensure_standard_fds(void)
{
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		int null = open("/dev/null", O_RDWR); /* lowest free number: this fd */
		if (null != fd)
			return -1;
	}
	return 0;
}

/* The disk reserve, on every start of a command that may write (cheap when it is whole). */
static void keep_reserve(void)
{
	char why[256];

	reserve_ensure(why, sizeof(why));
	if (why[0])
		fprintf(stderr, "stockade: reserve: %s\n", why);
}

int main(int argc, char **argv)
{
	struct sk_err err;
	int rc;

	memset(&err, 0, sizeof(err));
	if (ensure_standard_fds() < 0)
		return 125;
	/* Output relayed to a closed pipe must not kill us before we report; the command gets
	 * default signal handling back (init.c). */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		usage(stderr);
		return 125;
	}
	if (strcmp(argv[1], "run") == 0) {
		keep_reserve();
		rc = cli_run(argc - 1, argv + 1, environ, &err);
	} else if (strcmp(argv[1], "exec") == 0 || strcmp(argv[1], "ps") == 0 ||
		   strcmp(argv[1], "inspect") == 0 || strcmp(argv[1], "logs") == 0 ||
		   strcmp(argv[1], "stop") == 0 || strcmp(argv[1], "rm") == 0 ||
		   strcmp(argv[1], "cp") == 0) {
		rc = cli_box(argc - 1, argv + 1, &err);
	} else if (strcmp(argv[1], "mcp") == 0) {
		rc = cli_mcp(argc - 1, argv + 1, &err);
	} else if (strcmp(argv[1], "serve") == 0) {
		rc = serve_exec(argv, &err);
	} else if (strcmp(argv[1], "health") == 0) {
		rc = cli_health(argc - 1, argv + 1, &err);
	} else if (strcmp(argv[1], "doctor") == 0) {
		keep_reserve();
		rc = cli_doctor(argc - 1, argv + 1, &err);
	} else if (strcmp(argv[1], "policy") == 0) {
		rc = cli_policy(argc - 1, argv + 1, &err);
	} else if (strcmp(argv[1], "volume") == 0) {
		keep_reserve();
		rc = cli_volume(argc - 1, argv + 1, &err);
	} else if (strcmp(argv[1], "workspace") == 0) {
		keep_reserve();
		rc = cli_workspace(argc - 1, argv + 1, &err);
	} else if (strcmp(argv[1], "reserve") == 0) {
		/* Not before these: release must work on a full disk, status must not change it. */
		rc = cli_reserve(argc - 1, argv + 1, &err);
	} else if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("stockade %s\n", STOCKADE_VERSION);
		return 0;
	} else if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
		   strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	} else {
		fprintf(stderr, "stockade: unknown command '%.64s' (try `stockade help`)\n",
			argv[1]);
		return 125;
	}
	if (rc >= 0)
		return rc;
	if (strcmp(err.layer, "exec") == 0 && err.errnum == ENOENT)
		fprintf(stderr, "stockade: %s: command not found in the sandbox\n", err.op);
	else
		sk_err_print(&err);
	if (err.errnum == ENOSPC && reserve_would_help())
		fprintf(stderr,
			"stockade: the disk is full: `stockade reserve release` frees the "
			"%llu MiB stockade keeps in reserve for this, to give you room to clean "
			"up\n",
			(unsigned long long)(RESERVE_BYTES >> 20));
	return err.exit_code ? err.exit_code : 125;
}
