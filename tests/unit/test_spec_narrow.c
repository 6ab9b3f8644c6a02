/* Unit tests for src/sandbox/spec_narrow.c ("requests can only narrow", docs/spec.md) and for
 * cli_policy_apply_doc in src/cli/policy.c (a request's document applied over the operator's
 * spec as one more layer). Every case builds both specs the way `stockade serve` does: the
 * operator's document onto the built-in defaults, then the request's layer(s) over it, through
 * the same code the CLI uses; each merged spec must pass spec_check_values, so that no case
 * tests a spec the daemon would have refused anyway. Field by field: a request that narrows,
 * one that is equal, one that widens (refused with the exact path). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "sandbox/spec_check.h"
#include "sandbox/spec_narrow.h"
#include "spec/doc.h"
#include "util/macros.h"

/* ---- building specs from documents ---- */

#define MAX_LAYERS 2

/* The operator's spec and a request's, with the documents their strings point into. */
static struct sandbox_spec base, req;
static struct cli_sources base_sources, req_sources[MAX_LAYERS];

/* A document from a fragment written with single quotes: "'uid': 2000" is
 * {"stockade": 1, "uid": 2000}; "" is {"stockade": 1}. */
static const char *doc_text(const char *fragment)
{
	static char text[2048];
	int len = snprintf(text, sizeof(text), "{\"stockade\": 1%s%s}", fragment[0] ? ", " : "",
			   fragment);

	assert_true(len > 0 && (size_t)len < sizeof(text));
	for (char *c = text; *c; c++)
		if (*c == '\'')
			*c = '"';
	return text;
}

/* spec with one document applied; the layer must apply and the result must be valid. */
static void apply_layer(struct sandbox_spec *spec, const char *name, const char *fragment,
			struct cli_sources *sources)
{
	const char *text = doc_text(fragment);
	struct sk_err err = {0};

	memset(sources, 0, sizeof(*sources));
	if (cli_policy_apply_doc(spec, name, text, strlen(text), sources, &err) < 0)
		fail_msg("%s: %s (%s) applying %s", name, err.op, err.hint, text);
	if (spec_check_values(spec, &err) < 0)
		fail_msg("%s: the merged spec is invalid: %s (%s)", name, err.op, err.hint);
}

static void sources_release(void)
{
	cli_sources_free(&base_sources);
	for (size_t i = 0; i < MAX_LAYERS; i++)
		cli_sources_free(&req_sources[i]);
}

/* The operator's spec from its policy document; the request starts as a copy of it. */
static void operator_spec(const char *fragment)
{
	sources_release();
	cli_run_defaults(&base);
	apply_layer(&base, "policy", fragment, &base_sources);
	req = base;
}

static void request_layer(size_t layer, const char *fragment)
{
	apply_layer(&req, "request", fragment, &req_sources[layer]);
}

/* The narrowing verdict: NULL when accepted, else the path (why in *why). */
static const char *verdict(const char **why)
{
	static char path[128], reason[512];

	if (why)
		*why = reason;
	if (spec_narrow_check(&base, &req, path, sizeof(path), reason, sizeof(reason)) == 0) {
		assert_string_equal(path, "");
		assert_string_equal(reason, "");
		return NULL;
	}
	assert_true(path[0] != '\0' && reason[0] != '\0');
	assert_null(strchr(reason, '\n'));
	return path;
}

/* ---- the cases, field by field ---- */

struct narrow_case {
	const char *name;
	const char *base;		 /* the operator's document */
	const char *request[MAX_LAYERS]; /* applied in turn over it (a second layer: "null then
					  * a subset", which one document cannot say) */
	const char *path;		 /* NULL: accepted; else refused here */
	const char *why_has;		 /* a part of the reason (may be NULL) */
	const char *why_lacks;		 /* what the reason must not show (may be NULL) */
};

#define LIMITS                                                                                     \
	"'limits': {'memory': '512m', 'pids': 100, 'cpus': 2, 'timeout': '10m', 'output': '1m', "  \
	"'tmpfs': '128m'}"
#define ALLOW_TWO "'network': {'allow': ['api.example.com', 'pypi.org']}"
#define NET_DENY "'network': {'allow': ['*.example.com'], 'deny': ['secret.example.com']}"
#define VOLUMES "'volumes': ['proj:/work', 'cache:/cache:ro', '/scratch']"
#define SECRETS "'secrets': ['api=env:API_TOKEN,env=API_TOKEN', 'db=@/etc/stockade/db.pass']"
#define SPEC_MD_OPERATOR                                                                           \
	"'profile': 'strict', 'volumes': ['proj:/work'], 'network': {'allow': ['*.example.com', "  \
	"'pypi.org'], 'deny': ['upload.example.com']}"
#define SPEC_MD_REQUEST                                                                            \
	"'command': ['python3', '/work/eval.py'], 'volumes': null, 'network': {'allow': "          \
	"['api.example.com:443']}, 'limits': {'memory': '256m'}"
#define NO_NETWORK "'mode': 'none', 'allow': null, 'deny': null"

static const struct narrow_case cases[] = {
    /* limits: req <= base, 0 (null) is none */
    {"memory narrows", LIMITS, {"'limits': {'memory': '256m'}"}, NULL, NULL, NULL},
    {"memory equal", LIMITS, {"'limits': {'memory': '512m'}"}, NULL, NULL, NULL},
    {"memory widens", LIMITS, {"'limits': {'memory': '1g'}"}, "limits.memory", "1073741824", NULL},
    {"memory none widens",
     LIMITS,
     {"'limits': {'memory': null}"},
     "limits.memory",
     "no limit",
     NULL},
    {"memory under no limit", "", {"'limits': {'memory': '64g'}"}, NULL, NULL, NULL},
    {"pids narrows", LIMITS, {"'limits': {'pids': 50}"}, NULL, NULL, NULL},
    {"pids equal", LIMITS, {"'limits': {'pids': 100}"}, NULL, NULL, NULL},
    {"pids widens", LIMITS, {"'limits': {'pids': 101}"}, "limits.pids", NULL, NULL},
    {"pids none widens", LIMITS, {"'limits': {'pids': null}"}, "limits.pids", NULL, NULL},
    {"cpus narrows", LIMITS, {"'limits': {'cpus': 0.5}"}, NULL, NULL, NULL},
    {"cpus equal", LIMITS, {"'limits': {'cpus': '2'}"}, NULL, NULL, NULL},
    {"cpus widens", LIMITS, {"'limits': {'cpus': 2.001}"}, "limits.cpus", NULL, NULL},
    {"cpus none widens", LIMITS, {"'limits': {'cpus': null}"}, "limits.cpus", NULL, NULL},
    {"timeout narrows", LIMITS, {"'limits': {'timeout': '90s'}"}, NULL, NULL, NULL},
    {"timeout equal", LIMITS, {"'limits': {'timeout': 600}"}, NULL, NULL, NULL},
    {"timeout widens", LIMITS, {"'limits': {'timeout': '1h'}"}, "limits.timeout", NULL, NULL},
    {"timeout none widens", LIMITS, {"'limits': {'timeout': null}"}, "limits.timeout", NULL, NULL},
    {"output narrows", LIMITS, {"'limits': {'output': '64k'}"}, NULL, NULL, NULL},
    {"output equal", LIMITS, {"'limits': {'output': 1048576}"}, NULL, NULL, NULL},
    {"output widens", LIMITS, {"'limits': {'output': '2m'}"}, "limits.output", NULL, NULL},
    {"output none widens", LIMITS, {"'limits': {'output': null}"}, "limits.output", NULL, NULL},
    {"tmpfs narrows", LIMITS, {"'limits': {'tmpfs': '64m'}"}, NULL, NULL, NULL},
    {"tmpfs equal", LIMITS, {"'limits': {'tmpfs': '128m'}"}, NULL, NULL, NULL},
    {"tmpfs widens", LIMITS, {"'limits': {'tmpfs': '129m'}"}, "limits.tmpfs", NULL, NULL},
    {"tmpfs default widens", LIMITS, {"'limits': {'tmpfs': null}"}, "limits.tmpfs", NULL, NULL},
    {"profile strict narrows no limits", "", {"'profile': 'strict'"}, NULL, NULL, NULL},
    {"profile strict widens lower limits",
     "'limits': {'memory': '256m'}",
     {"'profile': 'strict'"},
     "limits.memory",
     NULL,
     NULL},

    /* docs/spec.md's example */
    {"documented request narrows", SPEC_MD_OPERATOR, {SPEC_MD_REQUEST}, NULL, NULL, NULL},
    {"documented request widens",
     SPEC_MD_OPERATOR,
     {"'network': {'allow': ['api.example.org']}"},
     "network.allow[2]",
     "do not allow api.example.org:80",
     NULL},

    /* network.mode: none < allowlist < public */
    {"mode narrows to none",
     ALLOW_TWO,
     {"'network': {'mode': 'none', 'allow': null}"},
     NULL,
     NULL,
     NULL},
    {"mode equal", ALLOW_TWO, {"'network': {'mode': 'allowlist'}"}, NULL, NULL, NULL},
    {"mode widens to public",
     ALLOW_TWO,
     {"'network': {'mode': 'public'}"},
     "network.mode",
     "'public'",
     NULL},
    {"mode widens from none", "", {"'network': {'mode': 'allowlist'}"}, "network.mode", NULL, NULL},
    {"mode public narrows to allowlist",
     "'network': {'mode': 'public'}",
     {"'network': {'mode': 'allowlist'}"},
     NULL,
     NULL,
     NULL},

    /* network.allow: a subset, or what base's rules allow through hostmatch */
    {"allow narrows to a subset",
     ALLOW_TWO,
     {"'network': {'allow': null}", "'network': {'allow': ['pypi.org']}"},
     NULL,
     NULL,
     NULL},
    {"allow equal", ALLOW_TWO, {""}, NULL, NULL, NULL},
    {"allow restated", ALLOW_TWO, {"'network': {'allow': ['api.example.com']}"}, NULL, NULL, NULL},
    {"allow widens",
     ALLOW_TWO,
     {"'network': {'allow': ['evil.example.net']}"},
     "network.allow[2]",
     "'evil.example.net'",
     NULL},
    {"allow widens after a subset",
     ALLOW_TWO,
     {"'network': {'allow': null}", "'network': {'allow': ['pypi.org', 'evil.example.net']}"},
     "network.allow[1]",
     NULL,
     NULL},
    {"allow from no network",
     "",
     {"'network': {'allow': ['api.example.com']}"},
     "network.allow[0]",
     "no network",
     NULL},
    {"wildcard admits a name",
     "'network': {'allow': ['*.example.com']}",
     {"'network': {'allow': ['api.example.com']}"},
     NULL,
     NULL,
     NULL},
    {"wildcard admits a name on 443",
     "'network': {'allow': ['*.example.com']}",
     {"'network': {'allow': ['api.example.com:443', 'api.example.com:80']}"},
     NULL,
     NULL,
     NULL},
    {"wildcard refuses its apex",
     "'network': {'allow': ['*.example.com']}",
     {"'network': {'allow': ['example.com']}"},
     "network.allow[1]",
     "do not allow example.com:80",
     NULL},
    {"wildcard refuses a lookalike",
     "'network': {'allow': ['*.example.com']}",
     {"'network': {'allow': ['badexample.com']}"},
     "network.allow[1]",
     NULL,
     NULL},
    {"wildcard refuses another port",
     "'network': {'allow': ['*.example.com']}",
     {"'network': {'allow': ['api.example.com:8443']}"},
     "network.allow[1]",
     NULL,
     NULL},
    {"wildcard refuses a narrower wildcard",
     "'network': {'allow': ['*.example.com']}",
     {"'network': {'allow': ['*.api.example.com']}"},
     "network.allow[1]",
     "as the operator writes",
     NULL},
    {"port 443 refuses no port",
     "'network': {'allow': ['api.example.com:443']}",
     {"'network': {'allow': ['api.example.com']}"},
     "network.allow[1]",
     "do not allow api.example.com:80",
     NULL},
    {"port 443 refuses 8443",
     "'network': {'allow': ['api.example.com:443']}",
     {"'network': {'allow': ['api.example.com:8443']}"},
     "network.allow[1]",
     NULL,
     NULL},
    {"port 443 admits its canonical spelling",
     "'network': {'allow': ['api.example.com:443']}",
     {"'network': {'allow': ['API.Example.COM.:443']}"},
     NULL,
     NULL,
     NULL},
    {"no port admits 80 and 443",
     "'network': {'allow': ['api.example.com']}",
     {"'network': {'allow': ['api.example.com:443', 'api.example.com:80']}"},
     NULL,
     NULL,
     NULL},
    {"no port refuses 22",
     "'network': {'allow': ['api.example.com']}",
     {"'network': {'allow': ['api.example.com:22']}"},
     "network.allow[1]",
     NULL,
     NULL},
    {"raw admits raw and checked",
     "'network': {'allow': ['db.example.com:5432/raw']}",
     {"'network': {'allow': ['db.example.com:5432', 'db.example.com:5432/raw']}"},
     NULL,
     NULL,
     NULL},
    {"raw wildcard admits a raw name",
     "'network': {'allow': ['*.example.com:5432/raw']}",
     {"'network': {'allow': ['db.example.com:5432/raw']}"},
     NULL,
     NULL,
     NULL},
    {"checked refuses raw",
     "'network': {'allow': ['db.example.com:5432']}",
     {"'network': {'allow': ['db.example.com:5432/raw']}"},
     "network.allow[1]",
     "drop /raw",
     NULL},
    {"a network admits only itself",
     "'network': {'allow': ['10.0.0.0/8']}",
     {"'network': {'allow': ['10.1.2.3']}"},
     "network.allow[1]",
     NULL,
     NULL},
    {"a deny rule of base refuses",
     NET_DENY,
     {"'network': {'allow': ['secret.example.com']}"},
     "network.allow[1]",
     "'secret.example.com' denies",
     NULL},
    {"public admits a name",
     "'network': {'mode': 'public'}",
     {"'network': {'mode': 'allowlist', 'allow': ['files.example.net']}"},
     NULL,
     NULL,
     NULL},
    {"public refuses another port",
     "'network': {'mode': 'public'}",
     {"'network': {'allow': ['files.example.net:8443']}"},
     "network.allow[0]",
     NULL,
     NULL},
    {"public port rule admits a name on it",
     "'network': {'mode': 'public', 'allow': [':8443']}",
     {"'network': {'allow': ['files.example.net:8443']}"},
     NULL,
     NULL,
     NULL},
    {"public refuses a port rule",
     "'network': {'mode': 'public'}",
     {"'network': {'allow': [':8443']}"},
     "network.allow[0]",
     NULL,
     NULL},
    {"host service admits itself",
     "'network': {'allow': ['host.stockade.internal:11434']}",
     {"'network': {'allow': ['host.stockade.internal:11434']}"},
     NULL,
     NULL,
     NULL},
    {"public never reaches the host",
     "'network': {'mode': 'public'}",
     {"'network': {'allow': ['host.stockade.internal:443']}"},
     "network.allow[0]",
     NULL,
     NULL},
    {"host service refuses another port",
     "'network': {'allow': ['host.stockade.internal:11434']}",
     {"'network': {'allow': ['host.stockade.internal:5432']}"},
     "network.allow[1]",
     NULL,
     NULL},

    /* network.deny: every rule of base's kept */
    {"deny narrows (one more)",
     NET_DENY,
     {"'network': {'deny': ['other.example.com']}"},
     NULL,
     NULL,
     NULL},
    {"deny equal", NET_DENY, {""}, NULL, NULL, NULL},
    {"deny restated canonically",
     "'network': {'allow': ['*.example.com'], 'deny': ['Secret.Example.COM']}",
     {"'network': {'deny': null}", "'network': {'deny': ['secret.example.com']}"},
     NULL,
     NULL,
     NULL},
    {"deny dropped widens",
     NET_DENY,
     {"'network': {'deny': null}"},
     "network.deny",
     "'secret.example.com' is missing",
     NULL},
    {"deny dropped with the network", NET_DENY, {"'network': {" NO_NETWORK "}"}, NULL, NULL, NULL},

    /* network.dns_server, network.hosts_file: equal to base's */
    {"dns equal",
     "'network': {'allow': ['pypi.org'], 'dns_server': '192.0.2.53'}",
     {"'network': {'dns_server': '192.0.2.53'}"},
     NULL,
     NULL,
     NULL},
    {"dns gone with the network",
     "'network': {'allow': ['pypi.org'], 'dns_server': '192.0.2.53'}",
     {"'network': {" NO_NETWORK ", 'dns_server': null}"},
     NULL,
     NULL,
     NULL},
    {"dns other widens",
     "'network': {'allow': ['pypi.org'], 'dns_server': '192.0.2.53'}",
     {"'network': {'dns_server': '192.0.2.54'}"},
     "network.dns_server",
     "'192.0.2.53'",
     NULL},
    {"dns dropped widens",
     "'network': {'allow': ['pypi.org'], 'dns_server': '192.0.2.53'}",
     {"'network': {'dns_server': null}"},
     "network.dns_server",
     NULL,
     NULL},
    {"dns added widens",
     "'network': {'allow': ['pypi.org']}",
     {"'network': {'dns_server': '192.0.2.53'}"},
     "network.dns_server",
     "sets none",
     NULL},
    {"hosts file equal",
     "'network': {'allow': ['pypi.org'], 'hosts_file': '/etc/stockade/hosts'}",
     {"'network': {'hosts_file': '/etc/stockade/hosts'}"},
     NULL,
     NULL,
     NULL},
    {"hosts file gone with the network",
     "'network': {'allow': ['pypi.org'], 'hosts_file': '/etc/stockade/hosts'}",
     {"'network': {" NO_NETWORK ", 'hosts_file': null}"},
     NULL,
     NULL,
     NULL},
    {"hosts file other widens",
     "'network': {'allow': ['pypi.org'], 'hosts_file': '/etc/stockade/hosts'}",
     {"'network': {'hosts_file': '/tmp/hosts'}"},
     "network.hosts_file",
     NULL,
     NULL},
    {"hosts file added widens",
     "'network': {'allow': ['pypi.org']}",
     {"'network': {'hosts_file': '/tmp/hosts'}"},
     "network.hosts_file",
     NULL,
     NULL},

    /* uid, rootfs: equal to base's (no narrower value exists) */
    {"uid equal", "", {"'uid': 10001"}, NULL, NULL, NULL},
    {"uid other widens", "", {"'uid': 2000"}, "uid", "10001", NULL},
    {"uid default widens", "'uid': 2000", {"'uid': null"}, "uid", NULL, NULL},
    {"rootfs equal", "'rootfs': '/srv/rootfs'", {"'rootfs': '/srv/rootfs'"}, NULL, NULL, NULL},
    {"rootfs added widens", "", {"'rootfs': '/srv/rootfs'"}, "rootfs", "sets none", NULL},
    {"rootfs dropped widens", "'rootfs': '/srv/rootfs'", {"'rootfs': null"}, "rootfs", NULL, NULL},

    /* report, audit: host files, equal to base's */
    {"report equal",
     "'report': '/var/log/r.json'",
     {"'report': '/var/log/r.json'"},
     NULL,
     NULL,
     NULL},
    {"report added widens", "", {"'report': '/tmp/r.json'"}, "report", NULL, NULL},
    {"report other widens",
     "'report': '/var/log/r.json'",
     {"'report': '/tmp/r.json'"},
     "report",
     NULL,
     NULL},
    {"report dropped widens",
     "'report': '/var/log/r.json'",
     {"'report': null"},
     "report",
     NULL,
     NULL},
    {"audit equal",
     "'network': {'allow': ['pypi.org']}, 'audit': '/var/log/a.log'",
     {"'audit': '/var/log/a.log'"},
     NULL,
     NULL,
     NULL},
    {"audit gone with the network",
     "'network': {'allow': ['pypi.org']}, 'audit': '/var/log/a.log'",
     {"'network': {" NO_NETWORK "}, 'audit': null"},
     NULL,
     NULL,
     NULL},
    {"audit other widens",
     "'network': {'allow': ['pypi.org']}, 'audit': '/var/log/a.log'",
     {"'audit': '/tmp/a.log'"},
     "audit",
     NULL,
     NULL},
    {"audit dropped widens",
     "'network': {'allow': ['pypi.org']}, 'audit': '/var/log/a.log'",
     {"'audit': null"},
     "audit",
     NULL,
     NULL},

    /* volumes: each one of base's; rw -> ro only */
    {"volumes narrow to none", VOLUMES, {"'volumes': null"}, NULL, NULL, NULL},
    {"volumes narrow to a subset",
     VOLUMES,
     {"'volumes': null", "'volumes': ['/scratch']"},
     NULL,
     NULL,
     NULL},
    {"volume narrows to read-only",
     VOLUMES,
     {"'volumes': null", "'volumes': ['proj:/work:ro', 'cache:/cache:ro']"},
     NULL,
     NULL,
     NULL},
    {"volumes equal", VOLUMES, {""}, NULL, NULL, NULL},
    {"volume added widens",
     VOLUMES,
     {"'volumes': ['data:/data']"},
     "volumes[3]",
     "no volume at /data",
     NULL},
    {"volume read-write widens",
     VOLUMES,
     {"'volumes': null", "'volumes': ['cache:/cache']"},
     "volumes[0]",
     "read-only",
     NULL},
    {"volume other name widens",
     VOLUMES,
     {"'volumes': null", "'volumes': ['other:/work']"},
     "volumes[0]",
     "'proj'",
     NULL},
    {"volume anonymous for named widens",
     VOLUMES,
     {"'volumes': null", "'volumes': ['/work']"},
     "volumes[0]",
     NULL,
     NULL},
    {"volume named for anonymous widens",
     VOLUMES,
     {"'volumes': null", "'volumes': ['scratch:/scratch']"},
     "volumes[0]",
     "an anonymous one",
     NULL},
    {"keep_volumes narrows", "'keep_volumes': true", {"'keep_volumes': false"}, NULL, NULL, NULL},
    {"keep_volumes equal", "'keep_volumes': true", {"'keep_volumes': true"}, NULL, NULL, NULL},
    {"keep_volumes widens", "", {"'keep_volumes': true"}, "keep_volumes", NULL, NULL},

    /* secrets: each equal to one of base's */
    {"secrets narrow to none", SECRETS, {"'secrets': null"}, NULL, NULL, NULL},
    {"secrets narrow to a subset",
     SECRETS,
     {"'secrets': null", "'secrets': ['db=@/etc/stockade/db.pass']"},
     NULL,
     NULL,
     NULL},
    {"secrets equal", SECRETS, {""}, NULL, NULL, NULL},
    {"secret restated",
     SECRETS,
     {"'secrets': ['api=env:API_TOKEN,env=API_TOKEN']"},
     NULL,
     NULL,
     NULL},
    {"secret added widens",
     SECRETS,
     {"'secrets': ['key=@/etc/shadow']"},
     "secrets[2]",
     "'key'",
     "/etc/shadow"},
    {"secret other source widens",
     SECRETS,
     {"'secrets': ['api=env:HOME']"},
     "secrets[0]",
     "'api'",
     "HOME"},
    {"secret other env widens",
     SECRETS,
     {"'secrets': ['db=@/etc/stockade/db.pass,env=DB']"},
     "secrets[1]",
     NULL,
     "db.pass"},
    {"secret env dropped is not equal",
     SECRETS,
     {"'secrets': ['api=env:API_TOKEN']"},
     "secrets[0]",
     NULL,
     "API_TOKEN"},

    /* allow_degraded: a subset of base's */
    {"degraded narrows",
     "'allow_degraded': ['cgroup', 'seccomp']",
     {"'allow_degraded': null", "'allow_degraded': ['cgroup']"},
     NULL,
     NULL,
     NULL},
    {"degraded equal",
     "'allow_degraded': ['cgroup', 'seccomp']",
     {"'allow_degraded': ['seccomp']"},
     NULL,
     NULL,
     NULL},
    {"degraded widens",
     "'allow_degraded': ['cgroup', 'seccomp']",
     {"'allow_degraded': ['landlock']"},
     "allow_degraded",
     "landlock",
     NULL},

    /* require.landlock_abi: req >= base */
    {"landlock abi narrows",
     "'require': {'landlock_abi': 3}",
     {"'require': {'landlock_abi': 5}"},
     NULL,
     NULL,
     NULL},
    {"landlock abi equal",
     "'require': {'landlock_abi': 3}",
     {"'require': {'landlock_abi': 3}"},
     NULL,
     NULL,
     NULL},
    {"landlock abi widens",
     "'require': {'landlock_abi': 3}",
     {"'require': {'landlock_abi': 2}"},
     "require.landlock_abi",
     "3",
     NULL},
    {"landlock abi dropped widens",
     "'require': {'landlock_abi': 3}",
     {"'require': {'landlock_abi': null}"},
     "require.landlock_abi",
     NULL,
     NULL},

    /* free: what runs and where inside; env KEY=VALUE */
    {"command free", "'command': ['true']", {"'command': ['sh', '-c', 'id']"}, NULL, NULL, NULL},
    {"workdir free", "", {"'workdir': '/tmp'"}, NULL, NULL, NULL},
    {"hostname free", "", {"'hostname': 'box-7'"}, NULL, NULL, NULL},
    {"tty free", "'tty': 'never'", {"'tty': 'always'"}, NULL, NULL, NULL},
    {"quiet free", "'network': {'allow': ['pypi.org']}", {"'quiet': true"}, NULL, NULL, NULL},
    {"env value free", "", {"'env': ['A=1', 'PATH_EXTRA=/x']"}, NULL, NULL, NULL},
    {"env passthrough narrows", "'env': ['PIP_INDEX_URL']", {"'env': null"}, NULL, NULL, NULL},
    {"env passthrough equal",
     "'env': ['PIP_INDEX_URL']",
     {"'env': ['PIP_INDEX_URL']"},
     NULL,
     NULL,
     NULL},
    {"env passthrough widens",
     "'env': ['A=1']",
     {"'env': ['AWS_SECRET_ACCESS_KEY']"},
     "env[1]",
     "daemon's own value",
     NULL},
};

static void test_case(void **state)
{
	const struct narrow_case *c = *state;
	const char *why = NULL, *path;

	operator_spec(c->base);
	for (size_t i = 0; i < MAX_LAYERS && c->request[i]; i++)
		request_layer(i, c->request[i]);
	path = verdict(&why);
	if (!c->path && path)
		fail_msg("refused at %s (%s), expected accepted", path, why);
	if (c->path && !path)
		fail_msg("accepted, expected refused at %s", c->path);
	if (!c->path)
		return;
	print_message("%s: %s\n", path, why);
	assert_string_equal(path, c->path);
	if (c->why_has && !strstr(why, c->why_has))
		fail_msg("reason '%s' lacks '%s'", why, c->why_has);
	if (c->why_lacks && strstr(why, c->why_lacks))
		fail_msg("reason '%s' shows '%s'", why, c->why_lacks);
}

/* ---- the check as a function ---- */

/* Every field of the document has a rule (free ones included): a field added to the document
 * without one fails here. */
static void test_every_document_field_has_a_rule(void **state)
{
	char path[64];
	(void)state;

	for (size_t i = 0; i < spec_field_count; i++) {
		const struct spec_field *f = &spec_fields[i];
		snprintf(path, sizeof(path), "%s%s%s", f->section ? f->section : "",
			 f->section ? "." : "", f->key);
		if (!spec_narrow_has_rule(path))
			fail_msg("no narrowing rule for %s: add one to spec_narrow.c", path);
	}
	assert_true(spec_narrow_has_rule("command"));
	assert_false(spec_narrow_has_rule("limits.swap"));
}

/* What the documents cannot write: gid apart from uid, a 0 tmpfs, the first of several. */
static void test_fields_set_directly(void **state)
{
	char path[64], why[256];
	(void)state;

	operator_spec("'limits': {'memory': '1g'}, 'allow_degraded': ['cgroup']");
	req = base;
	req.gid = 0;
	assert_int_equal(spec_narrow_check(&base, &req, path, sizeof(path), why, sizeof(why)), -1);
	assert_string_equal(path, "uid");
	req = base;
	req.tmpfs_bytes = 0; /* a tmpfs without a size limit */
	assert_int_equal(spec_narrow_check(&base, &req, path, sizeof(path), why, sizeof(why)), -1);
	assert_string_equal(path, "limits.tmpfs");
	/* Several widen: the first in the document's order is the one named. */
	req = base;
	req.require_landlock_abi = 0;
	req.allow_degraded |= LAYER_SECCOMP;
	req.memory_bytes = 2ull << 30;
	req.uid = 2000;
	assert_int_equal(spec_narrow_check(&base, &req, path, sizeof(path), why, sizeof(why)), -1);
	assert_string_equal(path, "uid");
	req.uid = base.uid;
	assert_int_equal(spec_narrow_check(&base, &req, path, sizeof(path), why, sizeof(why)), -1);
	assert_string_equal(path, "limits.memory");
	/* Buffers too small are cut, still terminated; none at all is fine. */
	assert_int_equal(spec_narrow_check(&base, &req, path, 4, why, 5), -1);
	assert_string_equal(path, "lim");
	assert_int_equal(strlen(why), 4);
	assert_int_equal(spec_narrow_check(&base, &req, NULL, 0, NULL, 0), -1);
	assert_int_equal(spec_narrow_check(&base, &base, NULL, 0, NULL, 0), 0);
}

/* ---- cli_policy_apply_doc: the request as one more layer ---- */

static void test_apply_doc_is_one_more_layer(void **state)
{
	const char *path;
	(void)state;

	operator_spec("'command': ['make'], 'env': ['A=1'], 'network': {'allow': ['pypi.org']}, "
		      "'limits': {'memory': '1g', 'timeout': '10m'}, 'volumes': ['proj:/work']");
	assert_string_equal(base.argv[0], "make");
	request_layer(0, "'env': ['B=2'], 'network': {'allow': ['pypi.org:443']}, "
			 "'limits': {'memory': '512m', 'timeout': null}, 'volumes': null");
	/* lists append, null empties, scalars replace, null resets */
	assert_int_equal(req.env_add_count, 2);
	assert_string_equal(req.env_add[0], "A=1");
	assert_string_equal(req.env_add[1], "B=2");
	assert_int_equal(req.allow_net_count, 2);
	assert_string_equal(req.allow_net[1], "pypi.org:443");
	assert_int_equal(req.volume_count, 0);
	assert_int_equal(req.memory_bytes, 512ull << 20);
	assert_int_equal(req.timeout_ms, 0);
	/* no "command" in the request: the operator's stays */
	assert_non_null(req.argv);
	assert_string_equal(req.argv[0], "make");
	/* the merge's verdict: the timeout removed widens, the rest narrows */
	path = verdict(NULL);
	assert_non_null(path);
	assert_string_equal(path, "limits.timeout");

	operator_spec("'command': ['make']");
	request_layer(0, "'command': ['python3', '-c', 'print(1)']");
	assert_string_equal(req.argv[0], "python3");
	assert_string_equal(req.argv[2], "print(1)");
	assert_string_equal(base.argv[0], "make");
	assert_null(verdict(NULL));
}

/* A document that cannot be applied: the first problem with its place, the spec as it was,
 * nothing kept. */
static void test_apply_doc_refusals(void **state)
{
	static const struct {
		const char *fragment, *op_has;
	} bad[] = {
	    {"'limits': {'memory': '1q'}", "request:1:38: limits.memory: invalid --memory '1q'"},
	    {"'limits': {'swap': '1g'}", "limits.swap: unknown key"},
	    {"'network': {'allow': ['*']}", "network.allow[0]"},
	    {"'profile': 'no-such-profile-here'", "profile"},
	    {"'uid': 'root'", "uid"},
	    /* the first in the text, though the type is found before the value */
	    {"'limits': {'memory': '1q'}, 'uid': 'root'", "limits.memory"},
	};
	struct sandbox_spec saved;
	struct cli_sources sources;
	struct sk_err err;
	(void)state;

	operator_spec("'limits': {'memory': '1g'}, 'network': {'allow': ['pypi.org']}");
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		const char *text = doc_text(bad[i].fragment);
		memset(&sources, 0, sizeof(sources));
		memset(&err, 0, sizeof(err));
		saved = base;
		assert_int_equal(
		    cli_policy_apply_doc(&base, "request", text, strlen(text), &sources, &err), -1);
		if (!strstr(err.op, bad[i].op_has))
			fail_msg("'%s' for %s, expected '%s'", err.op, text, bad[i].op_has);
		if (i == ARRAY_SIZE(bad) - 1 && !strstr(err.hint, "and 1 more"))
			fail_msg("hint '%s' does not count the other problem", err.hint);
		assert_memory_equal(&saved, &base, sizeof(base));
		assert_null(sources.policy);
		assert_null(sources.profile);
	}
	/* not JSON, not the version, too large */
	static const char *const texts[] = {"{\"stockade\": 1,", "{\"stockade\": 2}", "[]"};
	for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
		memset(&sources, 0, sizeof(sources));
		assert_int_equal(cli_policy_apply_doc(&base, "request", texts[i], strlen(texts[i]),
						      &sources, &err),
				 -1);
		assert_null(sources.policy);
	}
	assert_int_equal(
	    cli_policy_apply_doc(&base, "request", "{}", SPEC_TEXT_MAX + 1, &sources, &err), -1);
	assert_non_null(strstr(err.op, "too large"));
	/* sources already holding a document are not overwritten */
	assert_int_equal(
	    cli_policy_apply_doc(&req, "request", "{\"stockade\": 1}", 15, &base_sources, &err),
	    -1);
	assert_non_null(base_sources.policy);
}

/* cli_policy_apply_request: what `stockade serve` applies. A list the request gives replaces
 * the operator's (a subset can be kept), a list it leaves out stays, null empties; no profile;
 * the first problem's JSON path comes back apart from the message. */
static void test_apply_request_lists_replace(void **state)
{
	struct cli_sources sources;
	struct sk_err err;
	char path[128];
	const char *text;
	(void)state;

	operator_spec("'env': ['A=1'], 'network': {'allow': ['pypi.org', 'github.com'], "
		      "'deny': ['gist.github.com']}");
	text = doc_text("'network': {'allow': ['github.com']}");
	memset(&sources, 0, sizeof(sources));
	assert_int_equal(
	    cli_policy_apply_request(&req, text, strlen(text), &sources, path, sizeof(path), &err),
	    0);
	assert_int_equal(req.allow_net_count, 1);
	assert_string_equal(req.allow_net[0], "github.com");
	assert_int_equal(req.deny_net_count, 1); /* left out: the operator's stays */
	assert_int_equal(req.env_add_count, 1);
	assert_null(verdict(NULL));
	cli_sources_free(&sources);

	/* Replacing the deny list with an empty one drops the operator's rule: widens. */
	req = base;
	text = doc_text("'network': {'deny': []}");
	memset(&sources, 0, sizeof(sources));
	assert_int_equal(
	    cli_policy_apply_request(&req, text, strlen(text), &sources, path, sizeof(path), &err),
	    0);
	assert_int_equal(req.deny_net_count, 0);
	assert_non_null(verdict(NULL));
	cli_sources_free(&sources);

	static const struct {
		const char *fragment, *path;
	} bad[] = {
	    {"'profile': 'default'", "profile"},
	    {"'limits': {'memory': '1q'}", "limits.memory"},
	    {"'network': {'allow': ['ok.example', '*']}", "network.allow[1]"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct sandbox_spec saved = base;
		req = base;
		text = doc_text(bad[i].fragment);
		memset(&sources, 0, sizeof(sources));
		assert_int_equal(cli_policy_apply_request(&req, text, strlen(text), &sources, path,
							  sizeof(path), &err),
				 -1);
		assert_string_equal(path, bad[i].path);
		assert_memory_equal(&saved, &req, sizeof(req));
		assert_null(sources.policy);
	}
}

static int teardown_all(void **state)
{
	(void)state;
	sources_release();
	return 0;
}

int main(void)
{
	static const struct CMUnitTest fixed[] = {
	    cmocka_unit_test(test_every_document_field_has_a_rule),
	    cmocka_unit_test(test_fields_set_directly),
	    cmocka_unit_test(test_apply_doc_is_one_more_layer),
	    cmocka_unit_test(test_apply_doc_refusals),
	    cmocka_unit_test(test_apply_request_lists_replace),
	};
	struct CMUnitTest tests[ARRAY_SIZE(fixed) + ARRAY_SIZE(cases)];
	size_t count = 0;

	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
		tests[count++] = fixed[i];
	/* One test per case, named by it, so that a failure says which. */
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		tests[count++] = (struct CMUnitTest){.name = cases[i].name,
						     .test_func = test_case,
						     .initial_state = (void *)&cases[i]};
	return _cmocka_run_group_tests("spec_narrow", tests, count, NULL, teardown_all);
}
