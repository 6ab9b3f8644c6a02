/* `stockade run`: parse the flags into a sandbox_spec, run it, write the report, and turn the
 * outcome into the exit status of DESIGN.md (command's own, 128+N, 124, 125, 126, 127). */
#define _GNU_SOURCE
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "sandbox/launch.h"
#include "store/volume.h"
#include "util/parse.h"

#define EXIT_OUTPUT_LIMIT (128 + 25) /* as if killed by SIGXFSZ, the file-size-limit signal */

enum {
	OPT_NETWORK = 256,
	OPT_ALLOW_NET,
	OPT_DENY_NET,
	OPT_MEMORY,
	OPT_PIDS,
	OPT_CPUS,
	OPT_TIMEOUT,
	OPT_OUTPUT_LIMIT,
	OPT_ROOTFS,
	OPT_HOSTNAME,
	OPT_UID,
	OPT_DEGRADED,
	OPT_REPORT,
	OPT_TMPFS_SIZE, OPT_KEEP_VOLUMES, OPT_DNS_SERVER, OPT_HOSTS_FILE, OPT_AUDIT, OPT_QUIET,
};

static const struct option run_options[] = {
    {"volume", required_argument, NULL, 'v'},
    {"env", required_argument, NULL, 'e'},
    {"workdir", required_argument, NULL, 'w'},
    {"network", required_argument, NULL, OPT_NETWORK},
    {"allow-net", required_argument, NULL, OPT_ALLOW_NET},
    {"deny-net", required_argument, NULL, OPT_DENY_NET},
    {"memory", required_argument, NULL, OPT_MEMORY},
    {"pids-limit", required_argument, NULL, OPT_PIDS},
    {"cpus", required_argument, NULL, OPT_CPUS},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"output-limit", required_argument, NULL, OPT_OUTPUT_LIMIT},
    {"rootfs", required_argument, NULL, OPT_ROOTFS},
    {"hostname", required_argument, NULL, OPT_HOSTNAME},
    {"uid", required_argument, NULL, OPT_UID},
    {"allow-degraded", required_argument, NULL, OPT_DEGRADED},
    {"report", required_argument, NULL, OPT_REPORT},
    {"tmpfs-size", required_argument, NULL, OPT_TMPFS_SIZE},
    {"keep-volumes", no_argument, NULL, OPT_KEEP_VOLUMES},
    {"dns-server", required_argument, NULL, OPT_DNS_SERVER},
    {"hosts-file", required_argument, NULL, OPT_HOSTS_FILE},
    {"audit", required_argument, NULL, OPT_AUDIT},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

void cli_run_usage(void)
{
	printf(
	    "usage: stockade run [OPTIONS] [--] COMMAND [ARG...]\n"
	    "  -v, --volume SPEC          managed volume: /guest (anonymous) or NAME:/guest, then\n"
	    "                             :ro or :rw; host data: `stockade volume import`\n"
	    "      --keep-volumes         keep anonymous volumes after the run\n"
	    "  -e, --env KEY=VALUE        add to the scrubbed environment (-e KEY passes yours)\n"
	    "  -w, --workdir DIR          working directory inside (default %s)\n"
	    "      --network MODE         none: loopback only (the default); allowlist: egress\n"
	    "                             through stockade's proxy, only where rules allow\n"
	    "      --allow-net HOST[:PORT] exact host, *.suffix, IP or CIDR (no port: 443, 80);\n"
	    "                             NAME:PORT/raw: tunnels there unchecked (SSH, databases)\n"
	    "      --deny-net HOST[:PORT] wins over --allow-net\n"
	    "      --dns-server IP[:PORT] --hosts-file FILE   how the proxy resolves names\n"
	    "      --audit FILE           one JSON line per egress decision; --quiet: no\n"
	    "                             stderr lines for denied connections (else 10, a count)\n"
	    "      --memory SIZE          memory limit (cgroup), e.g. 512m\n"
	    "      --pids-limit N         process limit (cgroup)\n"
	    "      --cpus N               CPU quota (cgroup), e.g. 0.5\n"
	    "      --timeout DURATION     kill the sandbox after it, exit 124 (e.g. 30, 500ms, "
	    "2m)\n"
	    "      --output-limit SIZE    kill the sandbox when stdout+stderr exceed it, exit 153\n"
	    "      --tmpfs-size SIZE      size of /tmp and of $HOME each (default 1g)\n"
	    "      --rootfs DIR           read-only root from DIR instead of the host's system\n"
	    "      --hostname NAME        (default %s)\n"
	    "      --uid N                sandbox uid and gid inside (default %d)\n"
	    "      --allow-degraded LAYER run without landlock|seccomp|cgroup, recorded\n"
	    "      --report FILE          write a JSON run report\n"
	    "exit: the command's status; 128+N if killed by signal N; 124 timeout; 125 stockade\n"
	    "failed before the command started; 126 not executable; 127 not found\n",
	    SANDBOX_HOME, SANDBOX_DEFAULT_HOSTNAME, SANDBOX_DEFAULT_UID);
}

static int bad_value(struct sk_err *err, const char *flag, const char *value, const char *what)
{
	return sk_fail(err, "cli", 0, what, "invalid %s '%.64s'", flag, value);
}

static int parse_hostname(const char *name, struct sk_err *err)
{
	size_t len = strlen(name);

	if (len == 0 || len > 63)
		return bad_value(err, "--hostname", name, "1 to 63 characters");
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (c == '-' && i > 0 && i + 1 < len) || (c == '.' && i > 0 && i + 1 < len)))
			return bad_value(err, "--hostname", name,
					 "letters, digits, inner '-' and '.'");
	}
	return 0;
}

static int parse_workdir(const char *dir, struct sk_err *err)
{
	if (dir[0] != '/')
		return bad_value(err, "--workdir", dir, "an absolute path inside the sandbox");
	if (strstr(dir, "/../") || (strlen(dir) >= 3 && strcmp(dir + strlen(dir) - 3, "/..") == 0))
		return bad_value(err, "--workdir", dir, "no '..' components");
	if (strlen(dir) >= 4096)
		return bad_value(err, "--workdir", dir, "too long");
	return 0;
}

static int parse_degraded(const char *layer, unsigned *bits, struct sk_err *err)
{
	if (strcmp(layer, "landlock") == 0)
		*bits |= LAYER_LANDLOCK;
	else if (strcmp(layer, "seccomp") == 0)
		*bits |= LAYER_SECCOMP;
	else if (strcmp(layer, "cgroup") == 0)
		*bits |= LAYER_CGROUP;
	else
		return bad_value(err, "--allow-degraded", layer,
				 "one of landlock, seccomp, cgroup");
	return 0;
}

static int parse_option(int opt, const char *arg, struct sandbox_spec *spec, struct sk_err *err)
{
	uint64_t value;

	switch (opt) {
	case 'v':
		/* Phase 1 only: parsed and checked; nothing is created before every flag is. */
		return volume_add_spec(spec, arg, err);
	case OPT_KEEP_VOLUMES:
		spec->should_keep_volumes = true;
		return 0;
	case 'e':
		if (spec->env_add_count >= SANDBOX_MAX_ENV)
			return bad_value(err, "--env", arg, "too many -e");
		spec->env_add[spec->env_add_count++] = arg;
		return 0;
	case 'w':
		spec->workdir = arg;
		return parse_workdir(arg, err);
	case OPT_NETWORK:
		if (strcmp(arg, "none") == 0 || strcmp(arg, "allowlist") == 0) {
			spec->has_network = strcmp(arg, "allowlist") == 0;
			return 0;
		}
		return bad_value(err, "--network", arg, "none or allowlist");
	case OPT_ALLOW_NET:
		if (spec->allow_net_count >= SANDBOX_MAX_NET_RULES)
			return bad_value(err, "--allow-net", arg, "too many rules");
		spec->allow_net[spec->allow_net_count++] = arg;
		spec->has_network = true;
		return 0;
	case OPT_DENY_NET:
		if (spec->deny_net_count >= SANDBOX_MAX_NET_RULES)
			return bad_value(err, "--deny-net", arg, "too many rules");
		spec->deny_net[spec->deny_net_count++] = arg;
		return 0;
	case OPT_DNS_SERVER:
		spec->dns_server = arg;
		return 0;
	case OPT_HOSTS_FILE:
		spec->hosts_file = arg;
		return 0;
	case OPT_AUDIT:
		spec->audit_path = arg;
		return 0;
	case OPT_QUIET:
		spec->is_quiet = true;
		return 0;
	case OPT_MEMORY:
		if (parse_size(arg, &spec->memory_bytes) < 0 || spec->memory_bytes < (1u << 20))
			return bad_value(err, "--memory", arg, "a size of at least 1m, e.g. 512m");
		return 0;
	case OPT_PIDS:
		return parse_uint(arg, 1, 4194304, &spec->pids_limit) < 0
			   ? bad_value(err, "--pids-limit", arg, "a number from 1")
			   : 0;
	case OPT_CPUS:
		if (parse_cpus_milli(arg, &spec->cpus_milli) < 0 || spec->cpus_milli < 10)
			return bad_value(err, "--cpus", arg,
					 "a number of CPUs from 0.01, e.g. 0.5");
		return 0;
	case OPT_TIMEOUT:
		if (parse_duration_ms(arg, &spec->timeout_ms) < 0 || spec->timeout_ms == 0)
			return bad_value(err, "--timeout", arg,
					 "a duration, e.g. 30, 1.5, 500ms, 2m");
		return 0;
	case OPT_OUTPUT_LIMIT:
		if (parse_size(arg, &spec->output_limit_bytes) < 0 || spec->output_limit_bytes == 0)
			return bad_value(err, "--output-limit", arg, "a size, e.g. 10m");
		return 0;
	case OPT_TMPFS_SIZE:
		if (parse_size(arg, &spec->tmpfs_bytes) < 0 || spec->tmpfs_bytes < (1u << 20))
			return bad_value(err, "--tmpfs-size", arg, "a size of at least 1m");
		return 0;
	case OPT_ROOTFS:
		spec->rootfs = arg;
		return 0;
	case OPT_HOSTNAME:
		spec->hostname = arg;
		return parse_hostname(arg, err);
	case OPT_UID:
		/* 0 would make the workload root of its namespace; 65534 is the overflow id. */
		if (parse_uint(arg, 1, 65533, &value) < 0)
			return bad_value(err, "--uid", arg, "a number from 1 to 65533");
		spec->uid = (uid_t)value;
		spec->gid = (gid_t)value;
		return 0;
	case OPT_DEGRADED:
		return parse_degraded(arg, &spec->allow_degraded, err);
	case OPT_REPORT:
		spec->report_path = arg;
		return 0;
	}
	return sk_fail(err, "cli", 0, "see `stockade run --help`", "unknown option");
}

int cli_run_parse(int argc, char **argv, struct sandbox_spec *spec, int *wants_help,
		  struct sk_err *err)
{
	int opt;

	memset(spec, 0, sizeof(*spec));
	spec->uid = SANDBOX_DEFAULT_UID;
	spec->gid = SANDBOX_DEFAULT_UID;
	spec->hostname = SANDBOX_DEFAULT_HOSTNAME;
	spec->workdir = SANDBOX_HOME;
	spec->tmpfs_bytes = 1ull << 30;
	*wants_help = 0;
	opterr = 0;
	optind = 1;
	/* "+": options end at the first non-option, so the command's own flags are its own. */
	while ((opt = getopt_long(argc, argv, "+v:e:w:h", run_options, NULL)) != -1) {
		if (opt == 'h') {
			*wants_help = 1;
			return 0;
		}
		if (opt == '?' || opt == ':')
			return sk_fail(err, "cli", 0, "see `stockade run --help`",
				       "unknown option or missing value: %.64s", argv[optind - 1]);
		if (parse_option(opt, optarg, spec, err) < 0)
			return -1;
	}
	if (optind >= argc)
		return sk_fail(err, "cli", 0, "usage: stockade run [OPTIONS] -- COMMAND [ARG...]",
			       "no command given");
	if (argv[optind][0] == '\0')
		return sk_fail(err, "cli", 0, NULL, "empty command name");
	spec->argv = &argv[optind];
	return 0;
}

static int exit_status(const struct sandbox_result *result)
{
	if (result->timed_out)
		return 124;
	if (result->output_limit_hit)
		return EXIT_OUTPUT_LIMIT;
	if (result->exited)
		return result->exit_code;
	if (result->term_signal)
		return 128 + result->term_signal;
	return 125;
}

/* Phase 2 of -v: every spec was parsed and checked before this; now the volumes are taken from
 * the store (created on first use) and opened, the sandbox runs, and anonymous ones go after. */
static int run_with_volumes(struct sandbox_spec *spec, char *const *caller_env,
			    struct sandbox_result *result, struct run_report *report,
			    struct sk_err *err)
{
	struct volume_store store;
	struct volume_handle handles[SANDBOX_MAX_VOLUMES];
	int rc;

	memset(result, 0, sizeof(*result));
	if (spec->volume_count == 0)
		return sandbox_run(spec, caller_env, result, report, err);
	if (volume_store_open(&store, err) < 0)
		return -1;
	if (volume_run_acquire(&store, spec, handles, err) < 0) {
		volume_store_close(&store);
		return -1;
	}
	rc = sandbox_run(spec, caller_env, result, report, err);
	for (size_t i = 0; i < spec->volume_count && spec->should_keep_volumes; i++)
		if (spec->volumes[i].is_anonymous && result->started)
			fprintf(stderr, "stockade: kept anonymous volume %s (%s)\n",
				spec->volumes[i].name, spec->volumes[i].guest);
	volume_run_release(&store, spec, handles, result->started);
	volume_store_close(&store);
	return rc;
}

int cli_run(int argc, char **argv, char *const *caller_env, struct sk_err *err)
{
	struct sandbox_spec spec;
	struct sandbox_result result;
	struct run_report report;
	int wants_help, rc;

	if (cli_run_parse(argc, argv, &spec, &wants_help, err) < 0)
		return -1;
	if (wants_help) {
		cli_run_usage();
		return 0;
	}
	memset(&report, 0, sizeof(report));
	rc = run_with_volumes(&spec, caller_env, &result, &report, err);
	if (spec.report_path) {
		struct sk_err report_err;
		memset(&report_err, 0, sizeof(report_err));
		if (report_write(spec.report_path, &spec, &report, &result, &report_err) < 0)
			sk_err_print(&report_err);
	}
	if (rc < 0)
		return -1;
	if (result.timed_out)
		fprintf(stderr, "stockade: timeout: the sandbox was killed after %llu ms\n",
			(unsigned long long)spec.timeout_ms);
	if (result.output_limit_hit)
		fprintf(stderr,
			"stockade: output limit: the sandbox was killed after %llu bytes "
			"of output\n",
			(unsigned long long)spec.output_limit_bytes);
	if (result.oom_killed)
		fprintf(stderr, "stockade: memory limit: the kernel killed a process in the "
				"sandbox (out of memory)\n");
	return exit_status(&result);
}
