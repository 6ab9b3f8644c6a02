/* `stockade run`: parse the flags into a sandbox_spec, run it, write the report, and turn the
 * outcome into the exit status of docs/DESIGN.md (command's own, 128+N, 124, 125, 126, 127). */
#define _GNU_SOURCE
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/gate.h"
#include "sandbox/launch.h"
#include "sandbox/credentials.h"
#include "sandbox/secrets.h"
#include "sandbox/spec_check.h"
#include "store/volume.h"
#include "store/workspace.h"
#include "util/macros.h"
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
	OPT_TMPFS_SIZE,
	OPT_KEEP_VOLUMES,
	OPT_DNS_SERVER,
	OPT_HOSTS_FILE,
	OPT_AUDIT,
	OPT_QUIET,
	OPT_TTY,
	OPT_POLICY,
	OPT_PROFILE,
	OPT_CLEAR,
	OPT_SECRET,
	OPT_CREDENTIAL,
	OPT_CA_FILE,
	OPT_NAME,
	OPT_IDLE_TIMEOUT,
	OPT_MAX_LIFETIME,
	OPT_REQUIRE,
	OPT_TIE_FD,
	OPT_WORKSPACE,
	OPT_WORKSPACE_NAME,
	OPT_WORKSPACE_COPY,
	OPT_APPLY_ON_SUCCESS,
	OPT_WORKSPACE_FD,
};

#define RUN_SHORT_OPTIONS "+v:e:w:hd"

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
    {"workspace", required_argument, NULL, OPT_WORKSPACE},
    {"workspace-name", required_argument, NULL, OPT_WORKSPACE_NAME},
    {"workspace-copy", no_argument, NULL, OPT_WORKSPACE_COPY},
    {"apply-on-success", no_argument, NULL, OPT_APPLY_ON_SUCCESS},
    {"workspace-fd", required_argument, NULL, OPT_WORKSPACE_FD},
    {"dns-server", required_argument, NULL, OPT_DNS_SERVER},
    {"hosts-file", required_argument, NULL, OPT_HOSTS_FILE},
    {"audit", required_argument, NULL, OPT_AUDIT},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"tty", required_argument, NULL, OPT_TTY},
    {"policy", required_argument, NULL, OPT_POLICY},
    {"profile", required_argument, NULL, OPT_PROFILE},
    {"clear", required_argument, NULL, OPT_CLEAR},
    {"secret", required_argument, NULL, OPT_SECRET},
    {"credential", required_argument, NULL, OPT_CREDENTIAL},
    {"ca-file", required_argument, NULL, OPT_CA_FILE},
    {"detach", no_argument, NULL, 'd'},
    {"name", required_argument, NULL, OPT_NAME},
    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
    {"max-lifetime", required_argument, NULL, OPT_MAX_LIFETIME},
    {"tie-fd", required_argument, NULL, OPT_TIE_FD},
    {"require", required_argument, NULL, OPT_REQUIRE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

void cli_run_usage(void)
{
	printf(
	    "usage: stockade run [OPTIONS] [--] COMMAND [ARG...]\n"
	    "       stockade run -d [--name NAME] [OPTIONS] [[--] COMMAND [ARG...]]\n"
	    "  -d, --detach               a long-lived sandbox: prints its name once it runs;\n"
	    "                             then stockade exec|ps|logs|stop|rm NAME (it ends when\n"
	    "                             COMMAND does; with none, when stopped)\n"
	    "      --name NAME            its name (default: made up), [A-Za-z0-9][A-Za-z0-9_.-]*\n"
	    "      --idle-timeout D       -d: stopped after D with no exec and no client\n"
	    "      --max-lifetime D       -d: stopped D after it started\n"
	    "      --tie-fd N             -d: stopped when fd N (a pipe's read end) reads EOF:\n"
	    "                             its maker is gone (stockade serve passes one)\n"
	    "      --policy FILE          a spec file (docs/spec.md); defaults < profile < policy\n"
	    "                             file < flags; its command when none is given\n"
	    "      --profile NAME         default, strict, build, or your own (stockade policy\n"
	    "                             profiles); replaces the policy file's \"profile\"\n"
	    "      --clear LIST           empty a list the profile, file or earlier flags filled:\n"
	    "                             env, volume, allow-net, deny-net, allow-degraded,\n"
	    "                             secret, credential\n"
	    "  -v, --volume SPEC          managed volume: /guest (anonymous) or NAME:/guest, then\n"
	    "                             :ro or :rw; host data: `stockade volume import`\n"
	    "      --keep-volumes         keep anonymous volumes after the run\n"
	    "      --workspace DIR[:/GUEST]  the project DIR seen copy-on-write at GUEST (default\n"
	    "                             /work, the working directory): DIR is never written;\n"
	    "                             `stockade workspace diff|apply NAME` afterwards\n"
	    "      --workspace-name NAME  the workspace's name (default: made up from DIR's)\n"
	    "      --workspace-copy       copy DIR into the workspace instead (no overlay)\n"
	    "      --apply-on-success     apply the workspace's changes to DIR when COMMAND\n"
	    "                             exits 0, and print them (`workspace diff --stat`)\n"
	    "  -e, --env KEY=VALUE        add to the scrubbed environment (-e KEY passes yours)\n"
	    "      --secret NAME=@FILE|env:VAR[,env=KEY]\n"
	    "                             a value the sandbox reads in /run/secrets/NAME (and in\n"
	    "                             $KEY with env=), never in stockade's argv, environment,\n"
	    "                             report or messages; at most an allowlisted network\n"
	    "      --credential NAME=@FILE|env:VAR,host=HOST[:PORT][,host=...][,header=H]\n"
	    "                   [,format=F][,file]   a value the sandbox never holds: $NAME (and\n"
	    "                             /run/secrets/NAME with ,file) is a random\n"
	    "                             placeholder; the proxy terminates TLS to HOST (port "
	    "443)\n"
	    "                             and puts the value where header H (Authorization) is\n"
	    "                             F with {} the placeholder (Bearer {}); an allowlist "
	    "only\n"
	    "      --ca-file FILE         the CAs the proxy trusts for credentials' hosts\n"
	    "                             (default: the host's store)\n"
	    "  -w, --workdir DIR          working directory inside (default %s)\n"
	    "      --network MODE         none: loopback only (the default); allowlist: egress\n"
	    "                             through stockade's proxy, only where rules allow;\n"
	    "                             public: also any public address on ports 80 and 443\n"
	    "                             (--allow-net :PORT adds one), through the proxy, never\n"
	    "                             private or metadata addresses: for dependency installs\n"
	    "                             (pip, npm, apt), not for runs that hold secrets\n"
	    "      --allow-net HOST[:PORT] exact host, *.suffix, IP or CIDR (no port: 443, 80);\n"
	    "                             NAME:PORT/raw: tunnels there unchecked (SSH, databases)\n"
	    "      --allow-net host.stockade.internal:PORT   a service on the host's 127.0.0.1\n"
	    "                             (a local model server, a dev database): inside, use\n"
	    "                             http://host.stockade.internal:PORT through the proxy\n"
	    "      --deny-net HOST[:PORT] wins over --allow-net (:PORT: every host on it)\n"
	    "      --dns-server IP[:PORT] --hosts-file FILE   how the proxy resolves names\n"
	    "      --audit FILE           one JSON line per egress decision; --quiet: no\n"
	    "                             stderr lines for denied connections (else 10, a count)\n"
	    "      --memory SIZE          memory limit (cgroup), e.g. 512m\n"
	    "      --pids-limit N         process limit (cgroup)\n"
	    "      --cpus N               CPU quota (cgroup), e.g. 0.5\n"
	    "      --timeout DURATION     kill the sandbox after it, exit 124 (e.g. 30, 500ms, "
	    "2m)\n"
	    "      --output-limit SIZE    kill the sandbox when stdout+stderr exceed it, exit 153\n"
	    "      --tty MODE             auto: the sandbox's own pty when stdin or stdout is a\n"
	    "                             terminal (the default); always; never: the caller's\n"
	    "                             fds 0-2 as they are\n"
	    "      --tmpfs-size SIZE      size of /tmp and of $HOME each (default 1g)\n"
	    "      --rootfs DIR           read-only root from DIR instead of the host's system\n"
	    "      --hostname NAME        (default %s)\n"
	    "      --uid N                sandbox uid and gid inside (default %d)\n"
	    "      --allow-degraded LAYER run without landlock|seccomp|cgroup, recorded\n"
	    "      --report FILE          write a JSON run report\n"
	    "      --require landlock_abi=N  refuse to start unless the kernel offers Landlock\n"
	    "                             ABI N or later (docs/spec.md, \"require\")\n"
	    "exit: the command's status; 128+N if killed by signal N; 124 timeout; 125 stockade\n"
	    "failed before the command started; 126 not executable; 127 not found\n",
	    SANDBOX_HOME, SANDBOX_DEFAULT_HOSTNAME, SANDBOX_DEFAULT_UID);
}

static int bad_value(struct sk_err *err, const char *flag, const char *value, const char *what)
{
	return sk_fail(err, "cli", 0, what, "invalid %s '%.64s'", flag, value);
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

static int parse_tty(const char *mode, enum sandbox_tty_mode *out, struct sk_err *err)
{
	static const char *const names[] = {SANDBOX_TTY_MODE_NAMES};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcmp(mode, names[i]) == 0) {
			*out = (enum sandbox_tty_mode)i;
			return 0;
		}
	return bad_value(err, "--tty", mode, "one of auto, always, never");
}

static int parse_network(const char *mode, enum sandbox_network_mode *out, struct sk_err *err)
{
	static const char *const names[] = {SANDBOX_NETWORK_MODE_NAMES};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcmp(mode, names[i]) == 0) {
			*out = (enum sandbox_network_mode)i;
			return 0;
		}
	return bad_value(err, "--network", mode, "one of none, allowlist, public");
}

/* --require NAME=VALUE, one requirement per flag. Only the Landlock ABI: every other layer is
 * mandatory already (docs/spec.md, "require", says why). */
static int parse_require(const char *arg, struct sandbox_spec *spec, struct sk_err *err)
{
	static const char prefix[] = "landlock_abi=";
	uint64_t value;

	if (strncmp(arg, prefix, sizeof(prefix) - 1) != 0)
		return bad_value(err, "--require", arg,
				 "NAME=VALUE; the one name is landlock_abi, e.g. landlock_abi=6");
	if (parse_uint(arg + sizeof(prefix) - 1, 1, SANDBOX_MAX_REQUIRE_LANDLOCK_ABI, &value) < 0)
		return bad_value(err, "--require", arg,
				 "landlock_abi=N, N a Landlock ABI version from 1 to 255");
	spec->require_landlock_abi = (unsigned)value;
	return 0;
}

/* --workspace DIR[:/GUEST]: split at the last ':' that a '/' follows (a DIR holding ":/" needs
 * the GUEST part given). The guest path is checked like a volume's (spec_check). */
static int parse_workspace(const char *arg, struct sandbox_workspace *ws, struct sk_err *err)
{
	const char *colon = strrchr(arg, ':');
	size_t dir_len = strlen(arg);

	if (colon && colon[1] == '/') {
		dir_len = (size_t)(colon - arg);
		if (strlen(colon + 1) >= sizeof(ws->guest))
			return bad_value(err, "--workspace", arg, "the guest path is too long");
		strcpy(ws->guest, colon + 1);
	} else {
		strcpy(ws->guest, SANDBOX_WORKSPACE_GUEST);
	}
	if (dir_len == 0 || dir_len >= sizeof(ws->dir))
		return bad_value(err, "--workspace", arg, "DIR[:/GUEST], e.g. . or ~/proj:/src");
	memcpy(ws->dir, arg, dir_len);
	ws->dir[dir_len] = '\0';
	ws->is_set = true;
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
		spec->has_workdir = true;
		return 0;
	case OPT_WORKSPACE:
		return parse_workspace(arg, &spec->workspace, err);
	case OPT_WORKSPACE_NAME:
		spec->workspace.name = arg;
		return 0;
	case OPT_WORKSPACE_COPY:
		spec->workspace.is_copy = true;
		return 0;
	case OPT_APPLY_ON_SUCCESS:
		spec->workspace.should_apply_on_success = true;
		return 0;
	case OPT_SECRET: {
		struct sandbox_secret secret;
		return secret_parse(arg, &secret, err) < 0 ? -1 : secret_add(spec, &secret, err);
	}
	case OPT_CREDENTIAL: {
		struct sandbox_credential credential;
		return credential_parse(arg, &credential, err) < 0
			   ? -1
			   : credential_add(spec, &credential, err);
	}
	case OPT_CA_FILE:
		spec->ca_file = arg;
		return 0;
	case OPT_NETWORK:
		return parse_network(arg, &spec->network_mode, err);
	case OPT_ALLOW_NET:
		if (spec->allow_net_count >= SANDBOX_MAX_NET_RULES)
			return bad_value(err, "--allow-net", arg, "too many rules");
		spec->allow_net[spec->allow_net_count++] = arg;
		/* A rule implies the allowlist, never more: the public network is only ever
		 * asked for by name. */
		if (spec->network_mode == SANDBOX_NETWORK_NONE)
			spec->network_mode = SANDBOX_NETWORK_ALLOWLIST;
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
	case OPT_TTY:
		return parse_tty(arg, &spec->tty_mode, err);
	/* A limit given is a limit: 0 (none, in the spec) is refused here; the ranges are
	 * spec_check()'s. */
	case OPT_MEMORY:
		if (parse_size(arg, &spec->memory_bytes) < 0 || spec->memory_bytes == 0)
			return bad_value(err, "--memory", arg, "a size of at least 1m, e.g. 512m");
		return 0;
	case OPT_PIDS:
		return parse_uint(arg, 1, UINT64_MAX, &spec->pids_limit) < 0
			   ? bad_value(err, "--pids-limit", arg, "a number from 1")
			   : 0;
	case OPT_CPUS:
		if (parse_cpus_milli(arg, &spec->cpus_milli) < 0)
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
		if (parse_size(arg, &spec->tmpfs_bytes) < 0 || spec->tmpfs_bytes == 0)
			return bad_value(err, "--tmpfs-size", arg, "a size of at least 1m");
		return 0;
	case OPT_ROOTFS:
		spec->rootfs = arg;
		return 0;
	case OPT_HOSTNAME:
		spec->hostname = arg;
		return 0;
	case OPT_UID:
		if (parse_uint(arg, 0, UINT32_MAX, &value) < 0)
			return bad_value(err, "--uid", arg, "a number from 1 to 65533");
		spec->uid = (uid_t)value;
		spec->gid = (gid_t)value;
		return 0;
	case OPT_DEGRADED:
		return parse_degraded(arg, &spec->allow_degraded, err);
	case OPT_REPORT:
		spec->report_path = arg;
		return 0;
	case OPT_CLEAR:
		return cli_policy_clear(spec, arg, err);
	case OPT_REQUIRE:
		return parse_require(arg, spec, err);
	case OPT_POLICY:
	case OPT_PROFILE:
	case 'd':
	case OPT_NAME:
	case OPT_IDLE_TIMEOUT:
	case OPT_MAX_LIFETIME:
	case OPT_TIE_FD:
	case OPT_WORKSPACE_FD:
		return 0; /* front-end options (cli_run_parse), not the spec's */
	}
	return sk_fail(err, "cli", 0, "see `stockade run --help`", "unknown option");
}

int cli_run_apply_option(const char *name, const char *arg, struct sandbox_spec *spec,
			 struct sk_err *err)
{
	for (const struct option *o = run_options; o->name; o++) {
		if (strcmp(o->name, name) != 0 || o->val == 'h' || o->val == OPT_POLICY ||
		    o->val == OPT_PROFILE || o->val == OPT_CLEAR || o->val == 'd' ||
		    o->val == OPT_NAME || o->val == OPT_IDLE_TIMEOUT ||
		    o->val == OPT_MAX_LIFETIME || o->val == OPT_TIE_FD ||
		    o->val == OPT_WORKSPACE_FD)
			continue;
		if (o->has_arg == required_argument && !arg)
			return sk_fail(err, "cli", 0, NULL, "--%s needs a value", name);
		return parse_option(o->val, arg, spec, err);
	}
	return sk_fail(err, "cli", 0, NULL, "no option --%.64s", name);
}

void cli_run_defaults(struct sandbox_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->uid = SANDBOX_DEFAULT_UID;
	spec->gid = SANDBOX_DEFAULT_UID;
	spec->hostname = SANDBOX_DEFAULT_HOSTNAME;
	spec->workdir = SANDBOX_HOME;
	spec->tmpfs_bytes = SANDBOX_DEFAULT_TMPFS;
}

/* --policy and --profile, wherever they are: the profile and the file are layers below every
 * flag (docs/spec.md, "Merge order"), so they are applied before the first flag is. */
static int find_sources(int argc, char **argv, const char **policy, const char **profile,
			int *wants_help, struct sk_err *err)
{
	int opt;

	*policy = *profile = NULL;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, RUN_SHORT_OPTIONS, run_options, NULL)) != -1) {
		const char **slot = opt == OPT_POLICY ? policy : profile;
		if (opt == 'h')
			*wants_help = 1;
		if (opt != OPT_POLICY && opt != OPT_PROFILE)
			continue;
		if (*slot)
			return sk_fail(err, "cli", 0, "give it once", "--%s given twice",
				       opt == OPT_POLICY ? "policy" : "profile");
		*slot = optarg;
	}
	return 0;
}

/* --tie-fd N: an open pipe's read end, which the supervisor watches (sandbox/control.h). */
static int parse_tie_fd(const char *arg, struct cli_sources *sources, struct sk_err *err)
{
	uint64_t fd;
	struct stat st;
	int flags;

	if (parse_uint(arg, 3, INT32_MAX, &fd) < 0 || fstat((int)fd, &st) < 0 ||
	    !S_ISFIFO(st.st_mode) || (flags = fcntl((int)fd, F_GETFL)) < 0 ||
	    (flags & O_ACCMODE) != O_RDONLY)
		return bad_value(err, "--tie-fd", arg, "an open pipe's read end, fd 3 or above");
	sources->tie_fd = (int)fd;
	sources->has_tie_fd = true;
	return 0;
}

/* --workspace-fd N: an open directory the workspace's directory must be (stockade serve opens
 * it beneath a --workspace-root, so that a path changed since cannot lead elsewhere). */
static int parse_workspace_fd(const char *arg, struct cli_sources *sources, struct sk_err *err)
{
	uint64_t fd;
	struct stat st;

	if (parse_uint(arg, 3, INT32_MAX, &fd) < 0 || fstat((int)fd, &st) < 0 ||
	    !S_ISDIR(st.st_mode))
		return bad_value(err, "--workspace-fd", arg, "an open directory, fd 3 or above");
	sources->workspace_fd = (int)fd;
	sources->has_workspace_fd = true;
	return 0;
}

int cli_run_parse(int argc, char **argv, struct sandbox_spec *spec, struct cli_sources *sources,
		  int *wants_help, struct sk_err *err)
{
	const char *policy, *profile;
	int opt;

	cli_run_defaults(spec);
	*wants_help = 0;
	if (find_sources(argc, argv, &policy, &profile, wants_help, err) < 0)
		return -1;
	if (*wants_help)
		return 0;
	if (cli_policy_load(spec, policy, profile, sources, err) < 0)
		return -1;
	optind = 1;
	/* "+": options end at the first non-option, so the command's own flags are its own. */
	while ((opt = getopt_long(argc, argv, RUN_SHORT_OPTIONS, run_options, NULL)) != -1) {
		if (opt == '?' || opt == ':')
			return sk_fail(err, "cli", 0, "see `stockade run --help`",
				       "unknown option or missing value: %.64s", argv[optind - 1]);
		if (opt == 'd')
			sources->is_detached = true;
		else if (opt == OPT_NAME)
			sources->name = optarg;
		else if ((opt == OPT_TIE_FD && parse_tie_fd(optarg, sources, err) < 0) ||
			 (opt == OPT_WORKSPACE_FD && parse_workspace_fd(optarg, sources, err) < 0))
			return -1;
		else if ((opt == OPT_IDLE_TIMEOUT || opt == OPT_MAX_LIFETIME) &&
			 (parse_duration_ms(optarg, opt == OPT_IDLE_TIMEOUT
							? &sources->idle_timeout_ms
							: &sources->max_lifetime_ms) < 0 ||
			  !(opt == OPT_IDLE_TIMEOUT ? sources->idle_timeout_ms
						    : sources->max_lifetime_ms)))
			return bad_value(
			    err, opt == OPT_IDLE_TIMEOUT ? "--idle-timeout" : "--max-lifetime",
			    optarg, "a duration, e.g. 30m, 2h");
		if (parse_option(opt, optarg, spec, err) < 0)
			return -1;
	}
	/* A command on the command line replaces the file's. */
	spec->argv = optind < argc ? &argv[optind] : cli_sources_command(sources);
	if ((sources->name || sources->idle_timeout_ms || sources->max_lifetime_ms ||
	     sources->has_tie_fd) &&
	    !sources->is_detached)
		return sk_fail(err, "cli", 0, "these are for a long-lived sandbox: add -d",
			       "%s without -d",
			       sources->name		  ? "--name"
			       : sources->idle_timeout_ms ? "--idle-timeout"
			       : sources->has_tie_fd	  ? "--tie-fd"
							  : "--max-lifetime");
	if (sources->has_workspace_fd && !spec->workspace.is_set)
		return sk_fail(err, "cli", 0, "add --workspace DIR",
			       "--workspace-fd needs --workspace");
	/* policy show needs no command, nor does a long-lived sandbox (PID 1 then waits). */
	if (!spec->argv && (sources->is_command_optional || sources->is_detached))
		return spec_check_values(spec, err);
	/* Every value, in the one place every front end passes: exit 125 before any probe. */
	return spec_check(spec, err);
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

/* Phase 2 of -v and --workspace: every spec was parsed and checked before this; now the volumes
 * are taken from the store (created on first use) and opened, the workspace's directory checked
 * and its volume taken, the sandbox runs, and anonymous volumes go after. */
int cli_run_with_volumes(const struct sandbox_spec *spec, struct sandbox_host *host,
			 struct sandbox_result *result, struct run_report *report,
			 struct sk_err *err)
{
	struct volume_store store;
	struct volume_handle handles[SANDBOX_MAX_VOLUMES];
	struct sandbox_open_volume opened[SANDBOX_MAX_VOLUMES];
	struct workspace_run ws;
	int rc;

	memset(result, 0, sizeof(*result));
	if (spec->volume_count == 0 && !spec->workspace.is_set)
		return sandbox_run(spec, host, result, report, err);
	if (volume_store_open(&store, err) < 0)
		return -1;
	if (volume_run_acquire(&store, spec, handles, opened, err) < 0) {
		volume_store_close(&store);
		return -1;
	}
	if (spec->workspace.is_set &&
	    workspace_run_acquire(&store, spec, host->workspace_fd, &ws, err) < 0) {
		volume_run_release(&store, spec, handles, false);
		volume_store_close(&store);
		return -1;
	}
	host->volumes = opened;
	host->workspace = spec->workspace.is_set ? &ws.open : NULL;
	rc = sandbox_run(spec, host, result, report, err);
	host->volumes = NULL;
	host->workspace = NULL;
	for (size_t i = 0; i < spec->volume_count && spec->should_keep_volumes; i++)
		if (spec->volumes[i].is_anonymous && result->started)
			fprintf(stderr, "stockade: kept anonymous volume %s (%s)\n", opened[i].name,
				spec->volumes[i].guest);
	if (spec->workspace.is_set)
		workspace_run_release(&store, &ws, result->started);
	volume_run_release(&store, spec, handles, result->started);
	volume_store_close(&store);
	if (spec->workspace.is_set && rc == 0 && result->started)
		rc = cli_workspace_after_run(spec, &ws, result, err);
	return rc;
}

/* A file the caller named for stockade's output (--report, --audit). */
struct run_output {
	const char *flag, *path;
	int fd; /* -1: none */
	bool was_created;
	dev_t dev;
	ino_t ino;
};

static int output_fail(const struct run_output *out, int errnum, struct sk_err *err)
{
	return sk_fail(err, "cli", errnum,
		       "it takes a regular file, created if missing, in an existing directory: "
		       "not a symlink, fifo, device or directory",
		       "%s %.200s%s", out->flag, out->path, errnum ? "" : ": not a regular file");
}

/* Opened before anything runs, so an output that cannot be written refuses the run instead of
 * being found out after the command ran. Never through a symlink (O_NOFOLLOW); O_NONBLOCK so a
 * fifo does not block us (one without a reader is ENXIO), cleared once fstat says it is a
 * regular file. Created 0600 when missing (O_EXCL: we know it is ours to remove). Not
 * truncated here: the report is truncated when written, the audit log is appended to. */
static int output_open(struct run_output *out, bool is_append, struct sk_err *err)
{
	int flags =
	    O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (is_append ? O_APPEND : 0);
	struct stat st;
	int status;

	for (int attempt = 0; attempt < 4; attempt++) {
		out->fd = open(out->path, flags);
		if (out->fd >= 0 || errno != ENOENT)
			break;
		out->fd = open(out->path, flags | O_CREAT | O_EXCL, 0600);
		out->was_created = out->fd >= 0;
		if (out->fd >= 0 || errno != EEXIST)
			break;
	}
	if (out->fd < 0)
		return output_fail(out, errno == ENXIO ? 0 : errno, err);
	if (fstat(out->fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (status = fcntl(out->fd, F_GETFL)) < 0 ||
	    fcntl(out->fd, F_SETFL, status & ~O_NONBLOCK) < 0) {
		/* Not ours to remove: O_EXCL made a regular file, so this one was there. */
		close(out->fd);
		out->fd = -1;
		return output_fail(out, 0, err);
	}
	out->dev = st.st_dev;
	out->ino = st.st_ino;
	return 0;
}

/* Closes it; a file this run created is removed again, if its name still holds it. */
static void output_discard(struct run_output *out)
{
	struct stat st;

	if (out->fd < 0)
		return;
	if (out->was_created && lstat(out->path, &st) == 0 && st.st_dev == out->dev &&
	    st.st_ino == out->ino)
		(void)unlink(out->path);
	close(out->fd);
	out->fd = -1;
}

/* Both outputs, or neither: a refusal leaves nothing it created behind. The audit file only
 * with a network (spec_check refused --audit without one). */
static int outputs_open(const struct sandbox_spec *spec, struct run_output *report,
			struct run_output *audit, struct sk_err *err)
{
	*report = (struct run_output){.flag = "--report", .path = spec->report_path, .fd = -1};
	*audit = (struct run_output){.flag = "--audit", .path = spec->audit_path, .fd = -1};
	if (report->path && output_open(report, false, err) < 0)
		return -1;
	if (audit->path && spec_has_network(spec) && output_open(audit, true, err) < 0) {
		output_discard(report);
		return -1;
	}
	if (report->fd >= 0 && audit->fd >= 0 && report->dev == audit->dev &&
	    report->ino == audit->ino) {
		output_discard(audit);
		output_discard(report);
		return sk_fail(err, "cli", 0, "give each its own file",
			       "--report and --audit name the same file");
	}
	return 0;
}

static int run_command(int argc, char **argv, char *const *caller_env, struct cli_sources *sources,
		       struct sk_err *err)
{
	struct sandbox_spec spec;
	struct sandbox_host host;
	struct sandbox_result result;
	struct run_report report;
	struct run_output report_out, audit_out;
	int secret_fds[CLI_VALUE_FDS];
	int wants_help, rc;

	if (cli_run_parse(argc, argv, &spec, sources, &wants_help, err) < 0)
		return -1;
	if (wants_help) {
		cli_run_usage();
		return 0;
	}
	/* What the spec requires of the host, before the outputs or a volume exist: a refused
	 * run leaves nothing behind (sandbox_run asks again, for every front end). */
	if (gate_require(&spec, err) < 0)
		return -1;
	/* First, before anything forks: the values leave our environment block here. */
	if (cli_secrets_open(&spec, secret_fds, err) < 0)
		return -1;

	if (outputs_open(&spec, &report_out, &audit_out, err) < 0) {
		cli_secrets_close(secret_fds, CLI_VALUE_FDS);
		return -1;
	}
	memset(&report, 0, sizeof(report));
	host = (struct sandbox_host){.caller_env = caller_env,
				     .audit_fd = audit_out.fd,
				     .secret_fds = secret_fds,
				     .credential_fds = secret_fds + SANDBOX_MAX_SECRETS,
				     .workspace_fd =
					 sources->has_workspace_fd ? sources->workspace_fd : -1};
	if (sources->is_detached) {
		/* The supervisor has its own copies of everything; a refusal removed what the
		 * run created, as below. */
		rc = cli_box_start(&spec, sources, &host, report_out.fd, err);
		cli_secrets_close(secret_fds, CLI_VALUE_FDS);
		if (rc < 0) {
			output_discard(&audit_out);
			output_discard(&report_out);
		}
		if (audit_out.fd >= 0)
			close(audit_out.fd);
		if (report_out.fd >= 0)
			close(report_out.fd);
		return rc;
	}
	rc = cli_run_with_volumes(&spec, &host, &result, &report, err);
	cli_secrets_close(secret_fds, CLI_VALUE_FDS);
	/* After the command, off its start-up path: anonymous volumes of runs that were killed
	 * with SIGKILL (their cgroups went while this sandbox started, in launch.c). */
	(void)cli_sweep_volumes();
	/* The report of a refused run stays (it says why nothing started); an audit log this run
	 * created holds nothing then. */
	if (!result.started)
		output_discard(&audit_out);
	if (audit_out.fd >= 0)
		close(audit_out.fd);
	if (report_out.fd >= 0) {
		struct sk_err report_err;
		int wrote;

		memset(&report_err, 0, sizeof(report_err));
		wrote = report_write(report_out.fd, spec.report_path, &spec, &report, &result,
				     &report_err);
		if (close(report_out.fd) < 0 && wrote == 0)
			wrote = sk_fail(&report_err, "report", errno, NULL, "close(%s)",
					spec.report_path);
		if (wrote < 0)
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

int cli_run(int argc, char **argv, char *const *caller_env, struct sk_err *err)
{
	struct cli_sources sources = {0};
	int rc;

	/* The spec's strings may point into the policy file and the profile: kept to the end. */
	rc = run_command(argc, argv, caller_env, &sources, err);
	cli_sources_free(&sources);
	return rc;
}
