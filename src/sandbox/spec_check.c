/* spec_check (see spec_check.h): the command, identity, names and paths, limits, network
 * options and volumes of a spec. The grammars themselves live with the code that uses the
 * values (env.c, net/hostmatch.c, store/volume.c); this file asks each of them once. */
#include "sandbox/spec_check.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "net/hostmatch.h"
#include "sandbox/env.h"
#include "sandbox/credentials.h"
#include "sandbox/secrets.h"
#include "store/volume.h"
#include "store/workspace.h"
#include "util/macros.h"

static int bad_text(struct sk_err *err, const char *flag, const char *value, const char *what)
{
	return sk_fail(err, "cli", 0, what, "invalid %s '%.64s'", flag, value);
}

static int bad_number(struct sk_err *err, const char *flag, unsigned long long value,
		      const char *what)
{
	return sk_fail(err, "cli", 0, what, "invalid %s %llu", flag, value);
}

static int check_command(const struct sandbox_spec *spec, struct sk_err *err)
{
	if (!spec->argv || !spec->argv[0])
		return sk_fail(err, "cli", 0, "usage: stockade run [OPTIONS] -- COMMAND [ARG...]",
			       "no command given");
	if (spec->argv[0][0] == '\0')
		return sk_fail(err, "cli", 0, NULL, "empty command name");
	return 0;
}

static int check_hostname(const char *name, struct sk_err *err)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0 || len > SANDBOX_HOSTNAME_MAX)
		return bad_text(err, "--hostname", name ? name : "", "1 to 63 characters");
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (c == '-' && i > 0 && i + 1 < len) || (c == '.' && i > 0 && i + 1 < len)))
			return bad_text(err, "--hostname", name,
					"letters, digits, inner '-' and '.'");
	}
	/* The sandbox's /etc/hosts maps its hostname to its own loopback: this name must
	 * only ever mean the host's services, through the proxy. */
	if (strcasecmp(name, HOSTMATCH_HOST_SERVICE) == 0)
		return bad_text(err, "--hostname", name, "a name stockade reserves for the host");
	return 0;
}

static int check_workdir(const char *dir, struct sk_err *err)
{
	size_t len = dir ? strlen(dir) : 0;

	if (len == 0 || dir[0] != '/')
		return bad_text(err, "--workdir", dir ? dir : "",
				"an absolute path inside the sandbox");
	if (strstr(dir, "/../") || (len >= 3 && strcmp(dir + len - 3, "/..") == 0))
		return bad_text(err, "--workdir", dir, "no '..' components");
	if (len > SANDBOX_WORKDIR_MAX)
		return bad_text(err, "--workdir", dir, "too long");
	return 0;
}

static int check_identity_and_limits(const struct sandbox_spec *spec, struct sk_err *err)
{
	if (spec->uid < 1 || spec->uid > SANDBOX_MAX_UID || spec->gid != spec->uid)
		return bad_number(err, "--uid", spec->uid, "a number from 1 to 65533");
	if (spec->memory_bytes && spec->memory_bytes < SANDBOX_MIN_MEMORY)
		return bad_number(err, "--memory", spec->memory_bytes,
				  "a size of at least 1m, e.g. 512m");
	if (spec->pids_limit > SANDBOX_MAX_PIDS)
		return bad_number(err, "--pids-limit", spec->pids_limit,
				  "a number from 1 to 4194304");
	if (spec->cpus_milli && (spec->cpus_milli < SANDBOX_MIN_CPUS_MILLI ||
				 spec->cpus_milli > SANDBOX_MAX_CPUS_MILLI))
		return bad_number(err, "--cpus (thousandths)", spec->cpus_milli,
				  "a number of CPUs from 0.01 to 1024, e.g. 0.5");
	if (spec->tmpfs_bytes < SANDBOX_MIN_TMPFS)
		return bad_number(err, "--tmpfs-size", spec->tmpfs_bytes, "a size of at least 1m");
	if (spec->allow_degraded & ~(unsigned)(LAYER_LANDLOCK | LAYER_SECCOMP | LAYER_CGROUP))
		return bad_number(err, "--allow-degraded", spec->allow_degraded,
				  "one of landlock, seccomp, cgroup");
	if (spec->tty_mode > SANDBOX_TTY_NEVER)
		return bad_number(err, "--tty", spec->tty_mode, "one of auto, always, never");
	return 0;
}

/* --require landlock_abi sets a floor under Landlock; --allow-degraded landlock would let the
 * run go on without Landlock at all, under the floor. Both at once is refused, not resolved
 * in favour of one: which the author meant is not ours to guess. */
static int check_require(const struct sandbox_spec *spec, struct sk_err *err)
{
	if (spec->require_landlock_abi > SANDBOX_MAX_REQUIRE_LANDLOCK_ABI)
		return bad_number(err, "--require landlock_abi", spec->require_landlock_abi,
				  "a Landlock ABI version from 1 to 255");
	if (spec->require_landlock_abi && (spec->allow_degraded & LAYER_LANDLOCK))
		return sk_fail(err, "cli", 0,
			       "a required layer cannot be degraded: drop one; --clear "
			       "allow-degraded empties the list",
			       "--require landlock_abi=%u and --allow-degraded landlock contradict",
			       spec->require_landlock_abi);
	return 0;
}

static int check_env(const struct sandbox_spec *spec, struct sk_err *err)
{
	if (spec->env_add_count > SANDBOX_MAX_ENV)
		return bad_number(err, "-e (count)", spec->env_add_count, "at most 256 -e");
	for (size_t i = 0; i < spec->env_add_count; i++)
		if (env_check_item(spec->env_add[i], err) < 0)
			return -1;
	return 0;
}

static int check_rules(const char *const *texts, size_t count, bool is_deny, struct sk_err *err)
{
	const char *flag = is_deny ? "--deny-net" : "--allow-net";
	struct netrule rule;

	if (count > SANDBOX_MAX_NET_RULES)
		return bad_number(err, flag, count, "at most 64 rules of each kind");
	for (size_t i = 0; i < count; i++)
		if (netrule_parse(texts[i], strlen(texts[i]), is_deny, &rule, err) < 0) {
			sk_strlcpy(err->layer, "cli", sizeof(err->layer));
			return -1;
		}
	return 0;
}

/* --dns-server IP[:PORT]: an IPv4 literal with an optional port, a bare IPv6 literal, or
 * [IPv6] with an optional port; the port 1-65535. */
static int check_dns_server(const char *text, struct sk_err *err)
{
	const char *host = text, *port = NULL, *colon = strchr(text, ':');
	size_t host_len = strlen(text);
	struct netaddr addr;
	uint16_t number;
	int rc;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || (close[1] != '\0' && close[1] != ':'))
			return bad_text(err, "--dns-server", text, "IP or IP:PORT ([IPv6]:PORT)");
		host = text + 1;
		host_len = (size_t)(close - host);
		port = close[1] == ':' ? close + 2 : NULL;
	} else if (colon && colon == strrchr(text, ':')) {
		host_len = (size_t)(colon - text); /* one ':': a.b.c.d:PORT */
		port = colon + 1;
	}
	rc = netaddr_parse(host, host_len, &addr);
	if (rc < 0 || (port && netaddr_parse_port(port, strlen(port), &number) < 0) ||
	    (text[0] == '[' && !memchr(host, ':', host_len)))
		return bad_text(err, "--dns-server", text, "IP or IP:PORT ([IPv6]:PORT)");
	return 0;
}

/* ":PORT" allow rules add a port to the public network; in any other mode they would be a
 * way to it that nobody asked for by name. (The rules were checked before this.) */
static int check_port_rules(const struct sandbox_spec *spec, struct sk_err *err)
{
	struct netrule rule;

	if (spec_network_is_public(spec))
		return 0;
	for (size_t i = 0; i < spec->allow_net_count; i++) {
		const char *text = spec->allow_net[i];
		if (netrule_parse(text, strlen(text), false, &rule, err) == 0 &&
		    rule.kind == NETRULE_PORT)
			return bad_text(err, "--allow-net", text,
					"a port alone opens it on every public address: only with "
					"--network public; else name the hosts");
	}
	return 0;
}

static int check_network(const struct sandbox_spec *spec, struct sk_err *err)
{
	if (spec->network_mode > SANDBOX_NETWORK_PUBLIC)
		return bad_number(err, "--network", spec->network_mode,
				  "one of none, allowlist, public");
	if (!spec_has_network(spec) &&
	    (spec->allow_net_count || spec->deny_net_count || spec->dns_server ||
	     spec->hosts_file || spec->audit_path || spec->credential_count || spec->ca_file))
		return sk_fail(err, "cli", 0, "add --network allowlist or an --allow-net rule",
			       "network options given without network");
	if (check_rules(spec->allow_net, spec->allow_net_count, false, err) < 0 ||
	    check_rules(spec->deny_net, spec->deny_net_count, true, err) < 0 ||
	    check_port_rules(spec, err) < 0)
		return -1;
	if (spec->dns_server && check_dns_server(spec->dns_server, err) < 0)
		return -1;
	if (spec->hosts_file && spec->hosts_file[0] == '\0')
		return bad_text(err, "--hosts-file", "", "a file name");
	return 0;
}

int spec_check_option(const struct sandbox_spec *spec, const char *flag, struct sk_err *err)
{
	static const char *const limits[] = {"uid",	"memory",	"pids-limit", "cpus",
					     "timeout", "output-limit", "tmpfs-size"};

	for (size_t i = 0; i < ARRAY_SIZE(limits); i++)
		if (strcmp(flag, limits[i]) == 0)
			return check_identity_and_limits(spec, err);
	if (strcmp(flag, "hostname") == 0)
		return check_hostname(spec->hostname, err);
	if (strcmp(flag, "workdir") == 0)
		return check_workdir(spec->workdir, err);
	if (strcmp(flag, "env") == 0)
		return check_env(spec, err);
	if (strcmp(flag, "secret") == 0)
		return secrets_check(spec, err);
	if (strcmp(flag, "credential") == 0)
		return credentials_check(spec, err);
	if (strcmp(flag, "allow-net") == 0 || strcmp(flag, "deny-net") == 0)
		return check_rules(
		    strcmp(flag, "allow-net") == 0 ? spec->allow_net : spec->deny_net,
		    strcmp(flag, "allow-net") == 0 ? spec->allow_net_count : spec->deny_net_count,
		    strcmp(flag, "deny-net") == 0, err);
	if (strcmp(flag, "dns-server") == 0 && spec->dns_server)
		return check_dns_server(spec->dns_server, err);
	if (strcmp(flag, "volume") == 0)
		return volume_check_list(spec->volumes, spec->volume_count, err);
	if (strcmp(flag, "workspace") == 0)
		return workspace_check_spec(spec, err);
	if (strcmp(flag, "require") == 0 || strcmp(flag, "allow-degraded") == 0)
		return check_require(spec, err);
	return 0;
}

int spec_check(const struct sandbox_spec *spec, struct sk_err *err)
{
	return check_command(spec, err) < 0 ? -1 : spec_check_values(spec, err);
}

/* Secrets never meet an open network (SECURITY.md): with the public network, any host on
 * the internet is one request away, so a workload (or a prompt injected into an agent) could
 * send a secret anywhere. The fix is to split the run, and the refusal shows how. */
static int check_secrets_network(const struct sandbox_spec *spec, struct sk_err *err)
{
	if (spec->secret_count == 0 || !spec_network_is_public(spec))
		return 0;
	return sk_fail(err, "cli", 0,
		       "split it in two: the install without secrets, e.g. `stockade run "
		       "--network public -v deps:/deps -- pip install --target /deps -r req.txt`, "
		       "then the work with its secrets and an allowlist, e.g. `stockade run -v "
		       "deps:/deps:ro --secret api=@key.txt --allow-net api.example.com -- "
		       "python3 agent.py`",
		       "a run that holds secrets (%s%s) cannot have the public network",
		       spec->secrets[0].name, spec->secret_count > 1 ? ", ..." : "");
}

int spec_check_values(const struct sandbox_spec *spec, struct sk_err *err)
{
	if (check_hostname(spec->hostname, err) < 0 || check_workdir(spec->workdir, err) < 0 ||
	    check_identity_and_limits(spec, err) < 0 || check_env(spec, err) < 0 ||
	    secrets_check(spec, err) < 0 || check_network(spec, err) < 0 ||
	    check_secrets_network(spec, err) < 0 || credentials_check(spec, err) < 0)
		return -1;
	if (check_require(spec, err) < 0)
		return -1;
	if (spec->rootfs && spec->rootfs[0] == '\0')
		return bad_text(err, "--rootfs", "", "a directory holding a root file system");
	if (volume_check_list(spec->volumes, spec->volume_count, err) < 0)
		return -1;
	return workspace_check_spec(spec, err);
}
