/* spec_narrow_check (see spec_narrow.h): one rule per field of the spec document, in a table
 * whose order is the document's, so that the first field that widens is the one reported. The
 * network's rules are judged with hostmatch's matcher over the rules the proxy would get
 * (egress_rules_add), never a second matcher. */
#include "sandbox/spec_narrow.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/hostmatch.h"
#include "sandbox/egress.h"
#include "util/macros.h"

struct narrow_out {
	char *path, *why;
	size_t path_size, why_size;
};

/* path as given, or "PATH[INDEX]" for index >= 0; why formatted. Returns -1. */
__attribute__((format(printf, 4, 5))) static int widens(struct narrow_out *out, const char *path,
							long index, const char *fmt, ...)
{
	va_list ap;

	if (index >= 0)
		snprintf(out->path, out->path_size, "%s[%ld]", path, index);
	else
		snprintf(out->path, out->path_size, "%s", path);
	va_start(ap, fmt);
	vsnprintf(out->why, out->why_size, fmt, ap);
	va_end(ap);
	return -1;
}

/* A request's text quoted in a message, bounded and without control characters: `why` is one
 * line, and it goes back to a client and into logs. */
static const char *shown(const char *text, char *buf, size_t size)
{
	size_t i = 0;

	for (; text && text[i] && i + 1 < size; i++)
		buf[i] = (text[i] >= 0x20 && text[i] < 0x7f) ? text[i] : '?';
	buf[i] = '\0';
	return buf;
}

static bool same_text(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* ---- identity, files ---- */

/* -e KEY (no '=') copies the value of KEY from the caller's environment, and a daemon's
 * caller is the daemon: a request naming AWS_SECRET_ACCESS_KEY would read the daemon's own.
 * KEY=VALUE brings nothing of the host. */
static int narrow_env(const struct sandbox_spec *base, const struct sandbox_spec *req,
		      struct narrow_out *out)
{
	char buf[72];

	for (size_t i = 0; i < req->env_add_count; i++) {
		const char *item = req->env_add[i];
		bool is_granted = strchr(item, '=') != NULL;
		for (size_t j = 0; j < base->env_add_count && !is_granted; j++)
			is_granted = strcmp(base->env_add[j], item) == 0;
		if (!is_granted)
			return widens(out, "env", (long)i,
				      "'%s' would take the daemon's own value of that variable; "
				      "give KEY=VALUE",
				      shown(item, buf, sizeof(buf)));
	}
	return 0;
}

static int narrow_uid(const struct sandbox_spec *base, const struct sandbox_spec *req,
		      struct narrow_out *out)
{
	if (req->uid == base->uid && req->gid == base->gid)
		return 0;
	return widens(out, "uid", -1, "the operator's uid is %u: leave it out",
		      (unsigned)base->uid);
}

/* Host paths: the request names none of its own. */
static int equal_path(const char *path, const char *base, const char *req, struct narrow_out *out)
{
	char buf[72];

	if (same_text(base, req))
		return 0;
	if (!base)
		return widens(out, path, -1, "the operator sets none: leave it out");
	return widens(out, path, -1, "must be the operator's '%s': leave it out",
		      shown(base, buf, sizeof(buf)));
}

static int narrow_rootfs(const struct sandbox_spec *base, const struct sandbox_spec *req,
			 struct narrow_out *out)
{
	return equal_path("rootfs", base->rootfs, req->rootfs, out);
}

static int narrow_report(const struct sandbox_spec *base, const struct sandbox_spec *req,
			 struct narrow_out *out)
{
	return equal_path("report", base->report_path, req->report_path, out);
}

/* A workspace is a host directory: the operator's, or (stockade serve --workspace-root) one
 * beneath a root the operator listed, which the daemon checks and then grants in base. */
static int narrow_workspace(const struct sandbox_spec *base, const struct sandbox_spec *req,
			    struct narrow_out *out)
{
	char b[sizeof(base->workspace.dir) + sizeof(base->workspace.guest) + 1];
	char r[sizeof(b)];

	snprintf(b, sizeof(b), "%s:%s", base->workspace.dir, base->workspace.guest);
	snprintf(r, sizeof(r), "%s:%s", req->workspace.dir, req->workspace.guest);
	return equal_path("workspace", base->workspace.is_set ? b : NULL,
			  req->workspace.is_set ? r : NULL, out);
}

/* Without a network the proxy never runs and there is no decision to record. */
static int narrow_audit(const struct sandbox_spec *base, const struct sandbox_spec *req,
			struct narrow_out *out)
{
	if (!spec_has_network(req) && !req->audit_path)
		return 0;
	return equal_path("audit", base->audit_path, req->audit_path, out);
}

/* ---- volumes, secrets ---- */

static const struct sandbox_volume *volume_at(const struct sandbox_spec *spec, const char *guest)
{
	for (size_t i = 0; i < spec->volume_count; i++)
		if (strcmp(spec->volumes[i].guest, guest) == 0)
			return &spec->volumes[i];
	return NULL;
}

static int narrow_volumes(const struct sandbox_spec *base, const struct sandbox_spec *req,
			  struct narrow_out *out)
{
	for (size_t i = 0; i < req->volume_count; i++) {
		const struct sandbox_volume *r = &req->volumes[i];
		const struct sandbox_volume *b = volume_at(base, r->guest);
		if (!b)
			return widens(out, "volumes", (long)i,
				      "the operator mounts no volume at %s", r->guest);
		if (b->is_anonymous != r->is_anonymous ||
		    (!b->is_anonymous && strcmp(b->name, r->name) != 0))
			return widens(out, "volumes", (long)i,
				      "the operator's volume at %s is %s%s%s", r->guest,
				      b->is_anonymous ? "an anonymous one" : "'",
				      b->is_anonymous ? "" : b->name, b->is_anonymous ? "" : "'");
		if (b->is_readonly && !r->is_readonly)
			return widens(out, "volumes", (long)i,
				      "the operator's volume at %s is read-only: add :ro",
				      r->guest);
	}
	return 0;
}

static int narrow_keep_volumes(const struct sandbox_spec *base, const struct sandbox_spec *req,
			       struct narrow_out *out)
{
	if (!req->should_keep_volumes || base->should_keep_volumes)
		return 0;
	return widens(out, "keep_volumes", -1,
		      "the operator's anonymous volumes end with the run: leave it out");
}

static bool same_bytes(const char *a, size_t a_len, const char *b, size_t b_len)
{
	return (!a && !b) || (a && b && a_len == b_len && memcmp(a, b, a_len) == 0);
}

static bool same_secret(const struct sandbox_secret *a, const struct sandbox_secret *b)
{
	return strcmp(a->name, b->name) == 0 && a->source == b->source &&
	       same_bytes(a->from, a->from_len, b->from, b->from_len) &&
	       same_bytes(a->env, a->env_len, b->env, b->env_len);
}

/* A secret's source is a file or a variable of the daemon's: a request naming another would
 * have the daemon read it into the sandbox. The message names the secret, never its source. */
static int narrow_secrets(const struct sandbox_spec *base, const struct sandbox_spec *req,
			  struct narrow_out *out)
{
	for (size_t i = 0; i < req->secret_count; i++) {
		bool is_granted = false;
		for (size_t j = 0; j < base->secret_count && !is_granted; j++)
			is_granted = same_secret(&req->secrets[i], &base->secrets[j]);
		if (!is_granted)
			return widens(
			    out, "secrets", (long)i,
			    "secret '%s' is not one the operator gives (same name, "
			    "source and env): leave it out or name it as the operator does",
			    req->secrets[i].name);
	}
	return 0;
}

static bool same_credential(const struct sandbox_credential *a, const struct sandbox_credential *b)
{
	if (strcmp(a->name, b->name) != 0 || a->source != b->source ||
	    !same_bytes(a->from, a->from_len, b->from, b->from_len) ||
	    !same_bytes(a->header, a->header_len, b->header, b->header_len) ||
	    !same_bytes(a->format, a->format_len, b->format, b->format_len) ||
	    a->host_count != b->host_count)
		return false;
	for (size_t i = 0; i < a->host_count; i++)
		if (!same_bytes(a->hosts[i].text, a->hosts[i].len, b->hosts[i].text,
				b->hosts[i].len))
			return false;
	return true;
}

/* A credential is read from the daemon's file or variable and sent to its hosts: a request
 * naming another source, host, header or shape would have the daemon send a value where the
 * operator did not. Treated like a secret: only exactly as the operator gives it. */
static int narrow_credentials(const struct sandbox_spec *base, const struct sandbox_spec *req,
			      struct narrow_out *out)
{
	for (size_t i = 0; i < req->credential_count; i++) {
		bool is_granted = false;
		for (size_t j = 0; j < base->credential_count && !is_granted; j++)
			is_granted = same_credential(&req->credentials[i], &base->credentials[j]);
		if (!is_granted)
			return widens(out, "credentials", (long)i,
				      "credential '%s' is not one the operator gives (same name, "
				      "source, hosts, header and format): leave it out or name it "
				      "as the operator does",
				      req->credentials[i].name);
	}
	return 0;
}

/* ---- network ---- */

/* Whether base's rules (as the proxy gets them: `granted`) allow what the exact name rule
 * `rule` would on each of its ports; a /raw rule only through a /raw one. */
static bool name_is_granted(const struct netpolicy *granted, const struct netrule *rule, char *why,
			    size_t why_size)
{
	static const uint16_t default_ports[] = {80, 443}; /* an allow rule without a port */
	const uint16_t *ports = rule->port ? &rule->port : default_ports;
	size_t port_count = rule->port ? 1 : ARRAY_SIZE(default_ports);

	for (size_t i = 0; i < port_count; i++) {
		const struct netrule *matched;
		enum netverdict verdict =
		    netpolicy_check_name(granted, rule->host, ports[i], &matched);
		if (verdict == NETVERDICT_DENY_RULE) {
			snprintf(why, why_size, "the operator's rule '%.100s' denies %.100s:%u",
				 matched->text, rule->host, ports[i]);
			return false;
		}
		if (verdict != NETVERDICT_ALLOW) {
			snprintf(why, why_size, "the operator's rules do not allow %.100s:%u",
				 rule->host, ports[i]);
			return false;
		}
		if (rule->is_raw && !matched->is_raw) {
			snprintf(why, why_size,
				 "the operator's rule '%.100s' allows %.100s:%u checked, not /raw: "
				 "drop /raw",
				 matched->text, rule->host, ports[i]);
			return false;
		}
	}
	return true;
}

static bool rule_is_granted(const struct netpolicy *granted, const char *text, char *why,
			    size_t why_size)
{
	struct netrule rule;
	struct sk_err err = {0};

	if (netrule_parse(text, strlen(text), false, &rule, &err) < 0) {
		snprintf(why, why_size, "%.300s", err.op);
		return false;
	}
	for (size_t i = 0; i < granted->rule_count; i++)
		if (!granted->rules[i].is_deny && strcmp(granted->rules[i].text, rule.text) == 0)
			return true;
	if (rule.kind == NETRULE_NAME)
		return name_is_granted(granted, &rule, why, why_size);
	snprintf(why, why_size,
		 "not one of the operator's rules (a wildcard, address, network or port is granted "
		 "only as the operator writes it)");
	return false;
}

static int narrow_allow(const struct sandbox_spec *base, const struct sandbox_spec *req,
			struct narrow_out *out)
{
	struct netpolicy *granted;
	struct sk_err err = {0};
	char reason[320], buf[72];
	int rc = 0;

	if (!spec_has_network(req))
		return 0;
	/* The policy is large (130 rules): not on a daemon thread's stack. */
	granted = calloc(1, sizeof(*granted));
	if (!granted)
		return widens(out, "network.allow", -1, "out of memory checking the rules");
	netpolicy_init(granted);
	/* Without a network the operator grants no rule, whatever its lists hold. */
	if (spec_has_network(base) && egress_rules_add(granted, base, &err) < 0) {
		rc = widens(out, "network.allow", -1, "the operator's rules: %s", err.op);
		goto out;
	}
	for (size_t i = 0; i < req->allow_net_count; i++) {
		const char *text = req->allow_net[i];
		if (!spec_has_network(base)) {
			rc = widens(out, "network.allow", (long)i,
				    "'%s': the operator gives no network",
				    shown(text, buf, sizeof(buf)));
			goto out;
		}
		if (!rule_is_granted(granted, text, reason, sizeof(reason))) {
			rc = widens(out, "network.allow", (long)i, "'%s': %s",
				    shown(text, buf, sizeof(buf)), reason);
			goto out;
		}
	}
out:
	free(granted);
	return rc;
}

/* A deny rule's canonical spelling (netrule_parse's); false when it does not parse. */
static bool deny_text(const char *text, char *canonical, size_t size)
{
	struct netrule rule;
	struct sk_err err = {0};

	if (netrule_parse(text, strlen(text), true, &rule, &err) < 0)
		return false;
	snprintf(canonical, size, "%s", rule.text);
	return true;
}

static int narrow_deny(const struct sandbox_spec *base, const struct sandbox_spec *req,
		       struct narrow_out *out)
{
	char want[sizeof(((struct netrule *)0)->text)], have[sizeof(want)], buf[72];

	if (!spec_has_network(req))
		return 0;
	for (size_t i = 0; i < base->deny_net_count; i++) {
		bool is_kept = false;
		if (!deny_text(base->deny_net[i], want, sizeof(want)))
			return widens(out, "network.deny", -1,
				      "the operator's deny rule '%s' does not parse",
				      shown(base->deny_net[i], buf, sizeof(buf)));
		for (size_t j = 0; j < req->deny_net_count && !is_kept; j++)
			is_kept = deny_text(req->deny_net[j], have, sizeof(have)) &&
				  strcmp(want, have) == 0;
		if (!is_kept)
			return widens(out, "network.deny", -1,
				      "the operator's deny rule '%s' is missing: a request may add "
				      "deny rules, never drop one",
				      shown(want, buf, sizeof(buf)));
	}
	return 0;
}

/* Which resolver and which hosts file the proxy uses are the host's choices: another one
 * would steer the names the rules are about. Without a network there is no proxy. */
static int narrow_dns_server(const struct sandbox_spec *base, const struct sandbox_spec *req,
			     struct narrow_out *out)
{
	if (!spec_has_network(req) && !req->dns_server)
		return 0;
	return equal_path("network.dns_server", base->dns_server, req->dns_server, out);
}

static int narrow_hosts_file(const struct sandbox_spec *base, const struct sandbox_spec *req,
			     struct narrow_out *out)
{
	if (!spec_has_network(req) && !req->hosts_file)
		return 0;
	return equal_path("network.hosts_file", base->hosts_file, req->hosts_file, out);
}

/* The trust for the credentials' hosts: another file would let a request's own CA vouch for
 * the host the daemon sends a credential to. */
static int narrow_ca_file(const struct sandbox_spec *base, const struct sandbox_spec *req,
			  struct narrow_out *out)
{
	if (req->credential_count == 0 && !req->ca_file)
		return 0;
	return equal_path("network.ca_file", base->ca_file, req->ca_file, out);
}

static int narrow_mode(const struct sandbox_spec *base, const struct sandbox_spec *req,
		       struct narrow_out *out)
{
	static const char *const names[] = {SANDBOX_NETWORK_MODE_NAMES};

	/* The enum's order is the order of what it opens: none < allowlist < public. */
	if (req->network_mode <= base->network_mode)
		return 0;
	return widens(out, "network.mode", -1, "'%s' is more than the operator's '%s'",
		      req->network_mode < ARRAY_SIZE(names) ? names[req->network_mode] : "?",
		      base->network_mode < ARRAY_SIZE(names) ? names[base->network_mode] : "?");
}

/* ---- limits ---- */

/* 0 is "no limit", the widest of all. */
static bool limit_widens(uint64_t base, uint64_t req)
{
	return base != 0 && (req == 0 || req > base);
}

static int limit(const char *path, uint64_t base, uint64_t req, const char *unit,
		 struct narrow_out *out)
{
	if (!limit_widens(base, req))
		return 0;
	if (req == 0)
		return widens(out, path, -1, "no limit, where the operator's is %" PRIu64 "%s",
			      base, unit);
	return widens(out, path, -1, "%" PRIu64 "%s is more than the operator's %" PRIu64 "%s", req,
		      unit, base, unit);
}

static int narrow_memory(const struct sandbox_spec *base, const struct sandbox_spec *req,
			 struct narrow_out *out)
{
	return limit("limits.memory", base->memory_bytes, req->memory_bytes, " bytes", out);
}

static int narrow_pids(const struct sandbox_spec *base, const struct sandbox_spec *req,
		       struct narrow_out *out)
{
	return limit("limits.pids", base->pids_limit, req->pids_limit, " processes", out);
}

static int narrow_cpus(const struct sandbox_spec *base, const struct sandbox_spec *req,
		       struct narrow_out *out)
{
	return limit("limits.cpus", base->cpus_milli, req->cpus_milli, " thousandths of a CPU",
		     out);
}

static int narrow_timeout(const struct sandbox_spec *base, const struct sandbox_spec *req,
			  struct narrow_out *out)
{
	return limit("limits.timeout", base->timeout_ms, req->timeout_ms, " ms", out);
}

static int narrow_output(const struct sandbox_spec *base, const struct sandbox_spec *req,
			 struct narrow_out *out)
{
	return limit("limits.output", base->output_limit_bytes, req->output_limit_bytes, " bytes",
		     out);
}

/* Never 0 in a checked spec; 0 would be a tmpfs without a size limit, so it counts as none. */
static int narrow_tmpfs(const struct sandbox_spec *base, const struct sandbox_spec *req,
			struct narrow_out *out)
{
	return limit("limits.tmpfs", base->tmpfs_bytes, req->tmpfs_bytes, " bytes", out);
}

/* ---- layers ---- */

static int narrow_degraded(const struct sandbox_spec *base, const struct sandbox_spec *req,
			   struct narrow_out *out)
{
	static const struct {
		unsigned bit;
		const char *name;
	} layers[] = {
	    {LAYER_LANDLOCK, "landlock"}, {LAYER_SECCOMP, "seccomp"}, {LAYER_CGROUP, "cgroup"}};
	unsigned extra = req->allow_degraded & ~base->allow_degraded;

	if (!extra)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(layers); i++)
		if (extra & layers[i].bit)
			return widens(out, "allow_degraded", -1,
				      "the operator requires %s: leave it out", layers[i].name);
	return widens(out, "allow_degraded", -1, "unknown layers 0x%x", extra);
}

static int narrow_require(const struct sandbox_spec *base, const struct sandbox_spec *req,
			  struct narrow_out *out)
{
	if (req->require_landlock_abi >= base->require_landlock_abi)
		return 0;
	return widens(out, "require.landlock_abi", -1,
		      "the operator requires Landlock ABI %u or later: ask for that or more",
		      base->require_landlock_abi);
}

/* ---- the table ---- */

typedef int (*narrow_fn)(const struct sandbox_spec *base, const struct sandbox_spec *req,
			 struct narrow_out *out);

/* Every field of the document, in its order (docs/spec.md; network.mode after the rules, as it
 * is applied, so that a rule the operator does not grant is named before the mode it turned
 * on). NULL: free, the request's to choose: nothing of the host, nothing the operator limits.
 * A field added to struct sandbox_spec gets a row here, a line in spec_narrow.h and in
 * docs/spec.md's "Narrowing", and tests; then the size below is updated. */
static const struct {
	const char *path;
	narrow_fn check;
} rules[] = {
    {"command", NULL},	 /* what runs inside */
    {"env", narrow_env}, /* KEY=VALUE free; a bare KEY reads the daemon's environment */
    {"workdir", NULL},	 /* a path inside */
    {"uid", narrow_uid}, /* and gid */
    {"hostname", NULL},	 /* the sandbox's own UTS namespace */
    {"rootfs", narrow_rootfs},
    {"volumes", narrow_volumes},
    {"keep_volumes", narrow_keep_volumes},
    {"workspace", narrow_workspace},
    {"workspace_name", NULL},	/* which of the caller's workspaces */
    {"workspace_copy", NULL},	/* a copy instead of an overlay: less, not more */
    {"apply_on_success", NULL}, /* into the workspace's own directory, already granted */
    {"secrets", narrow_secrets},
    {"credentials", narrow_credentials},
    {"network.allow", narrow_allow},
    {"network.deny", narrow_deny},
    {"network.dns_server", narrow_dns_server},
    {"network.hosts_file", narrow_hosts_file},
    {"network.ca_file", narrow_ca_file},
    {"network.mode", narrow_mode},
    {"limits.memory", narrow_memory},
    {"limits.pids", narrow_pids},
    {"limits.cpus", narrow_cpus},
    {"limits.timeout", narrow_timeout},
    {"limits.output", narrow_output},
    {"limits.tmpfs", narrow_tmpfs},
    {"allow_degraded", narrow_degraded},
    {"tty", NULL}, /* the sandbox's own pty, or not */
    {"report", narrow_report},
    {"audit", narrow_audit},
    {"quiet", NULL}, /* fewer lines on the daemon's stderr */
    {"require.landlock_abi", narrow_require},
};

/* A cheap tripwire for a field added to struct sandbox_spec without a rule above: its size on
 * LP64 (x86_64, aarch64) as of the fields the table covers. When it fires, do what the table's
 * comment says, then put the new size here. (A bool landing in padding would not change it;
 * test_spec_narrow.c's check that every document field has a row catches a field the document
 * has.) */
#if defined(__LP64__)
_Static_assert(sizeof(struct sandbox_spec) == 17344,
	       "struct sandbox_spec changed: give the new field a rule in spec_narrow.c's table "
	       "(and docs/spec.md, Narrowing), then update this size");
#endif

bool spec_narrow_has_rule(const char *path)
{
	for (size_t i = 0; i < ARRAY_SIZE(rules); i++)
		if (strcmp(rules[i].path, path) == 0)
			return true;
	return false;
}

int spec_narrow_check(const struct sandbox_spec *base, const struct sandbox_spec *req, char *path,
		      size_t path_size, char *why, size_t why_size)
{
	char no_path[1], no_why[1];
	struct narrow_out out = {
	    .path = path && path_size ? path : no_path,
	    .path_size = path && path_size ? path_size : sizeof(no_path),
	    .why = why && why_size ? why : no_why,
	    .why_size = why && why_size ? why_size : sizeof(no_why),
	};

	out.path[0] = out.why[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(rules); i++)
		if (rules[i].check && rules[i].check(base, req, &out) < 0)
			return -1;
	return 0;
}
