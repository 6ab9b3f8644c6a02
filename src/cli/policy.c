/* Spec files on the command line: `run --policy FILE --profile NAME` (the layers below the
 * flags) and `stockade policy check|show|profiles`. Each field of a file is applied through
 * cli_run_apply_option, the parser of the `stockade run` flag it matches (docs/spec.md). */
#define _GNU_SOURCE
#include "cli/cli.h"
#include "sandbox/credentials.h"
#include "sandbox/secrets.h"
#include "sandbox/spec_check.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/srt.h"
#include "spec/doc.h"
#include "spec/profile.h"

/* ---- applying a document onto a spec ---- */

int cli_policy_clear(struct sandbox_spec *spec, const char *list, struct sk_err *err)
{
	if (strcmp(list, "env") == 0)
		spec->env_add_count = 0;
	else if (strcmp(list, "volume") == 0)
		spec->volume_count = 0; /* parsed only: nothing was created yet */
	else if (strcmp(list, "allow-net") == 0)
		spec->allow_net_count = 0;
	else if (strcmp(list, "deny-net") == 0)
		spec->deny_net_count = 0;
	else if (strcmp(list, "allow-degraded") == 0)
		spec->allow_degraded = 0;
	else if (strcmp(list, "secret") == 0)
		spec->secret_count = 0;
	else if (strcmp(list, "credential") == 0)
		spec->credential_count = 0;
	else
		return sk_fail(err, "cli", 0,
			       "one of env, volume, allow-net, deny-net, allow-degraded, secret, "
			       "credential",
			       "invalid --clear '%.64s'", list);
	return 0;
}

/* A field set to null (or false): the built-in default, as if no layer had set it. */
static int reset_field(struct sandbox_spec *spec, const char *flag, struct sk_err *err)
{
	struct sandbox_spec d;
	struct sk_err not_a_list = {0};

	if (cli_policy_clear(spec, flag, &not_a_list) == 0)
		return 0;
	cli_run_defaults(&d);
	if (strcmp(flag, "workdir") == 0)
		spec->workdir = d.workdir, spec->has_workdir = false;
	else if (strcmp(flag, "workspace") == 0)
		spec->workspace.is_set = false;
	else if (strcmp(flag, "workspace-name") == 0)
		spec->workspace.name = NULL;
	else if (strcmp(flag, "workspace-copy") == 0)
		spec->workspace.is_copy = false;
	else if (strcmp(flag, "apply-on-success") == 0)
		spec->workspace.should_apply_on_success = false;
	else if (strcmp(flag, "uid") == 0)
		spec->uid = d.uid, spec->gid = d.gid;
	else if (strcmp(flag, "hostname") == 0)
		spec->hostname = d.hostname;
	else if (strcmp(flag, "rootfs") == 0)
		spec->rootfs = d.rootfs;
	else if (strcmp(flag, "keep-volumes") == 0)
		spec->should_keep_volumes = d.should_keep_volumes;
	else if (strcmp(flag, "network") == 0)
		spec->network_mode = d.network_mode;
	else if (strcmp(flag, "dns-server") == 0)
		spec->dns_server = d.dns_server;
	else if (strcmp(flag, "hosts-file") == 0)
		spec->hosts_file = d.hosts_file;
	else if (strcmp(flag, "ca-file") == 0)
		spec->ca_file = d.ca_file;
	else if (strcmp(flag, "memory") == 0)
		spec->memory_bytes = d.memory_bytes;
	else if (strcmp(flag, "pids-limit") == 0)
		spec->pids_limit = d.pids_limit;
	else if (strcmp(flag, "cpus") == 0)
		spec->cpus_milli = d.cpus_milli;
	else if (strcmp(flag, "timeout") == 0)
		spec->timeout_ms = d.timeout_ms;
	else if (strcmp(flag, "output-limit") == 0)
		spec->output_limit_bytes = d.output_limit_bytes;
	else if (strcmp(flag, "tmpfs-size") == 0)
		spec->tmpfs_bytes = d.tmpfs_bytes;
	else if (strcmp(flag, "tty") == 0)
		spec->tty_mode = d.tty_mode;
	else if (strcmp(flag, "report") == 0)
		spec->report_path = d.report_path;
	else if (strcmp(flag, "audit") == 0)
		spec->audit_path = d.audit_path;
	else if (strcmp(flag, "quiet") == 0)
		spec->is_quiet = d.is_quiet;
	else if (strcmp(flag, "require") == 0) /* its one field so far: require.landlock_abi */
		spec->require_landlock_abi = d.require_landlock_abi;
	else
		return sk_fail(err, "cli", 0, NULL, "--%.64s has no default to go back to", flag);
	return 0;
}

static int apply_to_spec(void *ctx, const char *flag, enum spec_apply_kind kind, const char *text,
			 struct sk_err *err)
{
	struct sandbox_spec *spec = ctx;

	if (kind == SPEC_RESET)
		return reset_field(spec, flag, err);
	/* The value's own check at once, so that its error carries the file's line:column. */
	if (cli_run_apply_option(flag, text, spec, err) < 0 ||
	    spec_check_option(spec, flag, err) < 0)
		return -1;
	return 0;
}

/* ---- the layers of a run ---- */

static struct spec_doc *doc_new(struct spec_issues *issues)
{
	struct spec_doc *doc = calloc(1, sizeof(*doc));
	struct sk_err err = {0};

	if (!doc) {
		(void)sk_fail(&err, "policy", ENOMEM, NULL, "reading a spec");
		spec_issues_add(issues, &err);
	}
	return doc;
}

/* The policy file read and checked for shape; NULL when it cannot be applied. */
static struct spec_doc *policy_read(const char *path, bool may_read_stdin,
				    struct spec_issues *issues)
{
	struct spec_doc *doc;
	struct sk_err err = {0};
	char *text;
	size_t len;

	if (strcmp(path, "-") == 0 && !may_read_stdin) {
		(void)sk_fail(&err, "cli", 0, "give a file, or <(...)",
			      "--policy -: stdin is the command's");
		spec_issues_add(issues, &err);
		return NULL;
	}
	if (spec_read_path(path, &text, &len, &err) < 0) {
		spec_issues_add(issues, &err);
		return NULL;
	}
	doc = doc_new(issues);
	if (!doc) {
		free(text);
		return NULL;
	}
	if (spec_doc_load(doc, path, text, len, false, issues) < 0) {
		spec_doc_free(doc);
		free(doc);
		return NULL;
	}
	return doc;
}

/* The profile found, read, checked and applied. A name from the file that names nothing is
 * an issue at the file's "profile". */
static struct spec_doc *profile_apply(struct sandbox_spec *spec, const char *name,
				      const struct spec_doc *from_file, struct spec_issues *issues)
{
	struct profile_dirs dirs;
	struct profile_text found;
	struct sk_err err = {0};
	struct spec_doc *doc;
	char shown[700];

	profile_dirs_default(&dirs);
	if (profile_load(name, &dirs, &found, &err) < 0) {
		struct jsonpos_seg path = {.key = "profile"};
		if (from_file)
			spec_doc_issue(from_file, issues, &path, 1, false, &err);
		else
			spec_issues_add(issues, &err);
		return NULL;
	}
	doc = doc_new(issues);
	if (!doc) {
		profile_text_free(&found);
		return NULL;
	}
	if (found.is_builtin)
		snprintf(shown, sizeof(shown), "profile %s", name);
	else
		sk_strlcpy(shown, found.origin, sizeof(shown));
	if (spec_doc_load(doc, shown, found.text, found.len, true, issues) == 0)
		(void)spec_doc_apply(doc, apply_to_spec, spec, issues);
	return doc;
}

/* The profile (the flag's, else the document's "profile") and then the document already in
 * sources->policy (or none), every problem into issues (unsorted: the caller sorts them with
 * the document's own). */
static void doc_layers_apply(struct sandbox_spec *spec, const char *profile,
			     struct cli_sources *sources, struct spec_issues *issues)
{
	const struct spec_doc *named_by = NULL; /* the file whose "profile" is applied */

	if (!profile && sources->policy && sources->policy->profile) {
		profile = sources->policy->profile;
		named_by = sources->policy;
	}
	if (profile)
		sources->profile = profile_apply(spec, profile, named_by, issues);
	if (sources->policy)
		(void)spec_doc_apply(sources->policy, apply_to_spec, spec, issues);
}

/* Every layer below the flags, every problem into issues, in the order of the text. */
static void layers_apply(struct sandbox_spec *spec, const char *policy_path, const char *profile,
			 struct cli_sources *sources, struct spec_issues *issues)
{
	size_t before = issues->count;

	if (policy_path) {
		sources->policy = policy_read(policy_path, sources->may_read_stdin, issues);
		if (!sources->policy)
			return;
	}
	doc_layers_apply(spec, profile, sources, issues);
	spec_issues_sort(issues, before);
}

/* 0 when there was no issue; else -1 with the first in err and, with says_more, how many more
 * in its hint (and the command that lists them, for a file). Frees the issues. */
static int issues_to_err(struct spec_issues *issues, bool says_more, const char *policy_path,
			 struct sk_err *err)
{
	size_t more;

	if (issues->count == 0 && issues->dropped == 0) {
		spec_issues_free(issues);
		return 0;
	}
	if (issues->count == 0) {
		spec_issues_free(issues);
		return sk_fail(err, "policy", ENOMEM, NULL, "reading the spec");
	}
	*err = issues->list[0].err;
	more = issues->count - 1 + issues->dropped;
	if (more > 0 && says_more) {
		char hint[sizeof(err->hint)];
		snprintf(hint, sizeof(hint), "%.500s%sand %zu more%s%.120s", err->hint,
			 err->hint[0] ? "; " : "", more,
			 policy_path ? ": stockade policy check " : "",
			 policy_path ? policy_path : "");
		sk_strlcpy(err->hint, hint, sizeof(err->hint));
	}
	spec_issues_free(issues);
	return -1;
}

int cli_policy_load(struct sandbox_spec *spec, const char *policy_path, const char *profile,
		    struct cli_sources *sources, struct sk_err *err)
{
	struct spec_issues issues = {0};

	if (!policy_path && !profile)
		return 0;
	layers_apply(spec, policy_path, profile, sources, &issues);
	return issues_to_err(&issues, policy_path != NULL, policy_path, err);
}

/* A request's own rules (cli_policy_apply_request): no profile (the operator's policy is the
 * base), and a list it gives replaces the one below instead of adding to it, as in a JSON
 * merge patch (RFC 7396), so that a request can keep a subset ("fewer hosts"). */
static bool request_rules(struct sandbox_spec *spec, const struct spec_doc *doc,
			  struct spec_issues *issues)
{
	if (doc->profile) {
		struct jsonpos_seg path = {.key = "profile"};
		struct sk_err what = {0};
		(void)sk_fail(&what, "policy", 0, "the operator's policy is the base",
			      "a request cannot name a profile");
		spec_doc_issue(doc, issues, &path, 1, false, &what);
		return false;
	}
	for (size_t i = 0; i < spec_field_count; i++) {
		const struct spec_field *f = &spec_fields[i];
		const json_t *value = doc->root;
		struct sk_err err = {0};
		if (f->type != SPEC_LIST)
			continue;
		if (f->section)
			value = json_object_get(value, f->section);
		value = json_object_get(value, f->key);
		if (json_is_array(value) && reset_field(spec, f->flag, &err) < 0)
			spec_issues_add(issues, &err);
	}
	return true;
}

/* cli_policy_apply_doc and cli_policy_apply_request; path (may be NULL) gets the JSON path of
 * the first problem. */
static int apply_doc(struct sandbox_spec *spec, const char *name, const char *text, size_t len,
		     bool is_request, struct cli_sources *sources, char *path, size_t path_size,
		     struct sk_err *err)
{
	struct spec_issues issues = {0};
	struct sandbox_spec *work;
	char *copy;

	if (path)
		path[0] = '\0';
	if (sources->policy || sources->profile)
		return sk_fail(err, "policy", EINVAL, NULL, "%.64s: sources already in use", name);
	if (len > SPEC_TEXT_MAX)
		return sk_fail(err, "policy", 0, "a spec is at most 1 MiB",
			       "%.64s: %zu bytes is too large", name, len);
	/* The layers are applied to a copy, so that spec is left as it was on any problem. */
	work = malloc(sizeof(*work));
	copy = malloc(len + 1);
	sources->policy = doc_new(&issues);
	if (!work || !copy || !sources->policy) {
		free(work);
		free(copy);
		cli_sources_free(sources);
		spec_issues_free(&issues);
		return sk_fail(err, "policy", ENOMEM, NULL, "reading %.64s", name);
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	*work = *spec;
	if (spec_doc_load(sources->policy, name, copy, len, false, &issues) == 0) {
		if (!is_request || request_rules(work, sources->policy, &issues))
			doc_layers_apply(work, NULL, sources, &issues);
	}
	spec_issues_sort(&issues, 0);
	if (path && issues.count > 0)
		sk_strlcpy(path, issues.list[0].path, path_size);
	if (issues_to_err(&issues, true, NULL, err) < 0) {
		cli_sources_free(sources);
		free(work);
		return -1;
	}
	if (sources->policy->has_command || (sources->profile && sources->profile->has_command))
		work->argv = cli_sources_command(sources);
	*spec = *work;
	free(work);
	return 0;
}

int cli_policy_apply_doc(struct sandbox_spec *spec, const char *name, const char *text, size_t len,
			 struct cli_sources *sources, struct sk_err *err)
{
	return apply_doc(spec, name, text, len, false, sources, NULL, 0, err);
}

int cli_policy_apply_request(struct sandbox_spec *spec, const char *text, size_t len,
			     struct cli_sources *sources, char *path, size_t path_size,
			     struct sk_err *err)
{
	return apply_doc(spec, "request", text, len, true, sources, path, path_size, err);
}

char *const *cli_sources_command(const struct cli_sources *sources)
{
	if (sources->policy && sources->policy->has_command)
		return sources->policy->argv;
	if (sources->profile && sources->profile->has_command)
		return sources->profile->argv;
	return NULL;
}

void cli_sources_free(struct cli_sources *sources)
{
	struct spec_doc *docs[] = {sources->profile, sources->policy};

	for (size_t i = 0; i < 2; i++)
		if (docs[i]) {
			spec_doc_free(docs[i]);
			free(docs[i]);
		}
	sources->profile = sources->policy = NULL;
}

/* ---- show: the effective spec as canonical JSON ---- */

/* Sizes in the largest unit that divides them ("512m"), as --memory takes them. */
static json_t *size_json(uint64_t bytes)
{
	static const char units[] = "tgmk";
	char text[32];

	for (int i = 0; i < 4; i++) {
		unsigned shift = (unsigned)(40 - 10 * i);
		if (bytes != 0 && bytes % (1ull << shift) == 0) {
			snprintf(text, sizeof(text), "%" PRIu64 "%c", bytes >> shift, units[i]);
			return json_string(text);
		}
	}
	snprintf(text, sizeof(text), "%" PRIu64, bytes);
	return json_string(text);
}

static json_t *duration_json(uint64_t ms)
{
	static const struct {
		uint64_t ms;
		const char *unit;
	} units[] = {{3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"}};
	char text[40];

	for (size_t i = 0; i < 4; i++)
		if (ms % units[i].ms == 0) {
			snprintf(text, sizeof(text), "%" PRIu64 "%s", ms / units[i].ms,
				 units[i].unit);
			break;
		}
	return json_string(text);
}

static json_t *cpus_json(uint64_t milli)
{
	char text[40];
	size_t len;

	snprintf(text, sizeof(text), "%" PRIu64 ".%03" PRIu64, milli / 1000, milli % 1000);
	len = strlen(text);
	while (text[len - 1] == '0')
		text[--len] = '\0';
	if (text[len - 1] == '.')
		text[len - 1] = '\0';
	return json_string(text);
}

static json_t *string_or_null(const char *text)
{
	return text ? json_string(text) : json_null();
}

static json_t *strings_json(const char *const *list, size_t count)
{
	json_t *array = json_array();

	for (size_t i = 0; i < count; i++)
		json_array_append_new(array, json_string(list[i]));
	return array;
}

static json_t *volumes_json(const struct sandbox_spec *spec)
{
	json_t *array = json_array();
	char text[SANDBOX_VOLUME_NAME_MAX + SANDBOX_GUEST_PATH_MAX + 8];

	for (size_t i = 0; i < spec->volume_count; i++) {
		const struct sandbox_volume *v = &spec->volumes[i];
		snprintf(text, sizeof(text), "%s%s%s%s", v->is_anonymous ? "" : v->name,
			 v->is_anonymous ? "" : ":", v->guest, v->is_readonly ? ":ro" : "");
		json_array_append_new(array, json_string(text));
	}
	return array;
}

/* Where each secret comes from, as --secret takes it: the spec never holds a value. */
static json_t *secrets_json(const struct sandbox_spec *spec)
{
	json_t *array = json_array();
	char text[SANDBOX_SECRET_NAME_MAX + 2 * PATH_MAX];

	for (size_t i = 0; i < spec->secret_count; i++) {
		secret_format(&spec->secrets[i], text, sizeof(text));
		json_array_append_new(array, json_string(text));
	}
	return array;
}

/* Each credential as --credential takes it: its source and hosts, never a value. */
static json_t *credentials_json(const struct sandbox_spec *spec)
{
	json_t *array = json_array();
	char text[SANDBOX_SECRET_NAME_MAX + PATH_MAX + 4096];

	for (size_t i = 0; i < spec->credential_count; i++) {
		credential_format(&spec->credentials[i], text, sizeof(text));
		json_array_append_new(array, json_string(text));
	}
	return array;
}

static json_t *degraded_json(unsigned bits)
{
	static const struct {
		unsigned bit;
		const char *name;
	} layers[] = {
	    {LAYER_LANDLOCK, "landlock"}, {LAYER_SECCOMP, "seccomp"}, {LAYER_CGROUP, "cgroup"}};
	json_t *array = json_array();

	for (size_t i = 0; i < sizeof(layers) / sizeof(layers[0]); i++)
		if (bits & layers[i].bit)
			json_array_append_new(array, json_string(layers[i].name));
	return array;
}

static json_t *limit_json(uint64_t value, json_t *(*as_json)(uint64_t))
{
	return value ? as_json(value) : json_null();
}

static json_t *count_json(uint64_t value)
{
	return json_integer((json_int_t)value);
}

/* Every field, in a fixed order (docs/spec.md): what `policy check` and `run --policy` read
 * back into the same spec. */
json_t *cli_spec_json(const struct sandbox_spec *spec)
{
	static const char *const tty_modes[] = {SANDBOX_TTY_MODE_NAMES};
	static const char *const network_modes[] = {SANDBOX_NETWORK_MODE_NAMES};
	json_t *root = json_object(), *network = json_object(), *limits = json_object();
	json_t *require = json_object(), *command = json_null();

	if (spec->argv) {
		command = json_array();
		for (char *const *arg = spec->argv; *arg; arg++)
			json_array_append_new(command, json_string(*arg));
	}
	json_object_set_new(root, "stockade", json_integer(SPEC_VERSION));
	json_object_set_new(root, "command", command);
	json_object_set_new(root, "env", strings_json(spec->env_add, spec->env_add_count));
	/* The effective one: read back, a workdir is explicit, so a workspace's default is
	 * written as what it is. */
	json_object_set_new(root, "workdir",
			    json_string(spec->workspace.is_set && !spec->has_workdir
					    ? spec->workspace.guest
					    : spec->workdir));
	json_object_set_new(root, "uid", json_integer(spec->uid));
	json_object_set_new(root, "hostname", json_string(spec->hostname));
	json_object_set_new(root, "rootfs", string_or_null(spec->rootfs));
	json_object_set_new(root, "volumes", volumes_json(spec));
	json_object_set_new(root, "keep_volumes", json_boolean(spec->should_keep_volumes));
	json_object_set_new(root, "workspace",
			    spec->workspace.is_set
				? json_sprintf("%s:%s", spec->workspace.dir, spec->workspace.guest)
				: json_null());
	json_object_set_new(root, "workspace_name", string_or_null(spec->workspace.name));
	json_object_set_new(root, "workspace_copy", json_boolean(spec->workspace.is_copy));
	json_object_set_new(root, "apply_on_success",
			    json_boolean(spec->workspace.should_apply_on_success));
	json_object_set_new(root, "secrets", secrets_json(spec));
	json_object_set_new(root, "credentials", credentials_json(spec));
	json_object_set_new(network, "mode", json_string(network_modes[spec->network_mode]));
	json_object_set_new(network, "allow", strings_json(spec->allow_net, spec->allow_net_count));
	json_object_set_new(network, "deny", strings_json(spec->deny_net, spec->deny_net_count));
	json_object_set_new(network, "dns_server", string_or_null(spec->dns_server));
	json_object_set_new(network, "hosts_file", string_or_null(spec->hosts_file));
	json_object_set_new(network, "ca_file", string_or_null(spec->ca_file));
	json_object_set_new(root, "network", network);
	json_object_set_new(limits, "memory", limit_json(spec->memory_bytes, size_json));
	json_object_set_new(limits, "pids", limit_json(spec->pids_limit, count_json));
	json_object_set_new(limits, "cpus", limit_json(spec->cpus_milli, cpus_json));
	json_object_set_new(limits, "timeout", limit_json(spec->timeout_ms, duration_json));
	json_object_set_new(limits, "output", limit_json(spec->output_limit_bytes, size_json));
	json_object_set_new(limits, "tmpfs", size_json(spec->tmpfs_bytes));
	json_object_set_new(root, "limits", limits);
	json_object_set_new(root, "allow_degraded", degraded_json(spec->allow_degraded));
	json_object_set_new(root, "tty", json_string(tty_modes[spec->tty_mode]));
	json_object_set_new(root, "report", string_or_null(spec->report_path));
	json_object_set_new(root, "audit", string_or_null(spec->audit_path));
	json_object_set_new(root, "quiet", json_boolean(spec->is_quiet));
	json_object_set_new(require, "landlock_abi",
			    limit_json(spec->require_landlock_abi, count_json));
	json_object_set_new(root, "require", require);
	return root;
}

/* ---- stockade policy ---- */

static void policy_usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: stockade policy check FILE...\n"
	    "           check spec files (- reads stdin): exit 0, or 1 with every problem,\n"
	    "           one per line as FILE:LINE:COLUMN: PATH: what\n"
	    "       stockade policy show [--policy FILE] [--profile NAME] [RUN OPTIONS] "
	    "[-- COMMAND...]\n"
	    "           the effective spec as JSON, every field, as `stockade run` with the\n"
	    "           same arguments would run it\n"
	    "       stockade policy profiles\n"
	    "           the profiles there are, and where each comes from\n"
	    "       stockade policy import-srt FILE\n"
	    "           sandbox-runtime's settings (srt --settings FILE; - reads stdin) as a\n"
	    "           spec; what stockade does otherwise, one line each on stderr; exit 1,\n"
	    "           nothing written, where a restriction of srt's would be lost\n"
	    "The spec: docs/spec.md. Order: built-in defaults < profile < policy file < flags.\n");
}

/* The spec as `policy show` prints it. */
static int print_spec(const struct sandbox_spec *spec, struct sk_err *err)
{
	json_t *root = cli_spec_json(spec);
	char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	int rc = 0;

	json_decref(root);
	if (!text)
		rc = sk_fail(err, "policy", ENOMEM, NULL, "writing the spec");
	else if (printf("%s\n", text) < 0 || fflush(stdout) != 0)
		rc = sk_fail(err, "policy", errno, NULL, "write to stdout");
	free(text);
	return rc;
}

static int policy_show(int argc, char **argv, struct sk_err *err)
{
	struct sandbox_spec spec;
	struct cli_sources sources = {.is_command_optional = true, .may_read_stdin = true};
	int wants_help, rc = 0;

	if (cli_run_parse(argc, argv, &spec, &sources, &wants_help, err) < 0)
		rc = -1;
	else if (wants_help)
		policy_usage(stdout);
	else
		rc = print_spec(&spec, err);
	cli_sources_free(&sources);
	return rc;
}

/* One file: every problem on its own line; true when there was none. */
static bool check_one(const char *path)
{
	struct sandbox_spec spec;
	struct cli_sources sources = {.is_command_optional = true, .may_read_stdin = true};
	struct spec_issues issues = {0};
	bool is_ok;

	cli_run_defaults(&spec);
	layers_apply(&spec, path, NULL, &sources, &issues);
	/* The fields one by one passed: now the rules between them (a network option without a
	 * network, secrets with the public network, ...), as run applies them. */
	if (issues.count == 0 && issues.dropped == 0) {
		struct sk_err whole = {0};
		if (spec_check_values(&spec, &whole) < 0) {
			char line[sizeof(whole.op)];
			snprintf(line, sizeof(line), "%.100s: %.250s", path, whole.op);
			sk_strlcpy(whole.op, line, sizeof(whole.op));
			spec_issues_add(&issues, &whole);
		}
	}
	for (size_t i = 0; i < issues.count; i++) {
		const struct sk_err *e = &issues.list[i].err;
		printf("%s%s%s%s%s%s\n", e->op, e->errnum ? ": " : "",
		       e->errnum ? strerror(e->errnum) : "", e->hint[0] ? " (" : "", e->hint,
		       e->hint[0] ? ")" : "");
	}
	if (issues.dropped)
		printf("%s: and %zu more\n", path, issues.dropped);
	is_ok = issues.count == 0 && issues.dropped == 0;
	if (is_ok)
		printf("%s: ok\n", path);
	spec_issues_free(&issues);
	cli_sources_free(&sources);
	return is_ok;
}

static int policy_check(int argc, char **argv, struct sk_err *err)
{
	bool is_ok = true;

	if (argc < 2)
		return sk_fail(err, "cli", 0, "usage: stockade policy check FILE... (- for stdin)",
			       "no file given");
	for (int i = 1; i < argc; i++)
		is_ok &= check_one(argv[i]);
	if (fflush(stdout) != 0)
		return sk_fail(err, "policy", errno, NULL, "write to stdout");
	return is_ok ? 0 : 1;
}

/* ---- import-srt ---- */

static void print_srt_notes(const char *path, const struct srt_notes *notes)
{
	for (size_t i = 0; i < notes->count; i++) {
		const struct srt_note *n = &notes->list[i];
		char place[32] = "";
		if (n->pos.line > 0)
			snprintf(place, sizeof(place), ":%d:%d", n->pos.line, n->pos.col);
		fprintf(stderr, "stockade: import-srt: %.200s%s: %s%s%s: %s\n", path, place,
			n->path, n->path[0] ? ": " : "", n->is_error ? "error" : "warning",
			n->text);
	}
	if (notes->dropped)
		fprintf(stderr, "stockade: import-srt: %.200s: and %zu more\n", path,
			notes->dropped);
}

/* The translated document applied onto the built-in defaults through the flags' parsers, as
 * `policy show --policy` would, and printed as it prints: what is written is what `policy
 * check` and `run --policy` read back. Its rules were parsed once already (srt.c); a problem
 * here is stockade's own and is said as such. */
static int print_translated(json_t *translated, struct sk_err *err)
{
	struct sandbox_spec spec;
	struct spec_issues issues = {0};
	struct spec_doc doc;
	char *text = json_dumps(translated, JSON_PRESERVE_ORDER);
	int rc;

	if (!text)
		return sk_fail(err, "policy", ENOMEM, NULL, "writing the spec");
	cli_run_defaults(&spec);
	if (spec_doc_load(&doc, "import-srt", text, strlen(text), false, &issues) == 0)
		(void)spec_doc_apply(&doc, apply_to_spec, &spec, &issues);
	if (issues.count == 0 && issues.dropped == 0)
		rc = spec_check_values(&spec, err) < 0 ? -1 : print_spec(&spec, err);
	else
		rc = sk_fail(err, "policy", 0, "a bug in the translation: please report it", "%s",
			     issues.count ? issues.list[0].err.op : "the translated spec");
	spec_issues_free(&issues);
	spec_doc_free(&doc);
	return rc;
}

static int policy_import_srt(int argc, char **argv, struct sk_err *err)
{
	struct srt_notes *notes;
	json_t *translated;
	char *text;
	size_t len;
	int rc;

	if (argc != 2)
		return sk_fail(err, "cli", 0,
			       "usage: stockade policy import-srt FILE (- for stdin)",
			       argc < 2 ? "no file given" : "one file at a time");
	if (spec_read_path(argv[1], &text, &len, err) < 0) {
		err->exit_code = 1;
		return -1;
	}
	notes = calloc(1, sizeof(*notes));
	if (!notes) {
		free(text);
		return sk_fail(err, "policy", ENOMEM, NULL, "reading %.200s", argv[1]);
	}
	translated = srt_translate(text, len, notes);
	print_srt_notes(argv[1], notes);
	/* An error: nothing on stdout, so that `run --policy <(import-srt F)` refuses too. */
	rc = translated ? print_translated(translated, err) : 1;
	json_decref(translated);
	free(notes);
	free(text);
	return rc;
}

static void list_one(void *ctx, const char *name, const char *origin, const char *summary,
		     const char *status)
{
	const char *note = status ? status : summary;

	(void)ctx;
	printf("%-12s %s%s%s\n", name, origin, note ? ": " : "", note ? note : "");
}

static int policy_profiles(int argc, char **argv, struct sk_err *err)
{
	struct profile_dirs dirs;

	(void)argv;
	if (argc > 1)
		return sk_fail(err, "cli", 0, "usage: stockade policy profiles",
			       "unexpected argument");
	profile_dirs_default(&dirs);
	profile_list(&dirs, list_one, NULL);
	if (fflush(stdout) != 0)
		return sk_fail(err, "policy", errno, NULL, "write to stdout");
	return 0;
}

int cli_policy(int argc, char **argv, struct sk_err *err)
{
	const char *what = argc > 1 ? argv[1] : "";

	if (strcmp(what, "check") == 0)
		return policy_check(argc - 1, argv + 1, err);
	if (strcmp(what, "show") == 0)
		return policy_show(argc - 1, argv + 1, err);
	if (strcmp(what, "profiles") == 0)
		return policy_profiles(argc - 1, argv + 1, err);
	if (strcmp(what, "import-srt") == 0)
		return policy_import_srt(argc - 1, argv + 1, err);
	if (strcmp(what, "help") == 0 || strcmp(what, "--help") == 0 || strcmp(what, "-h") == 0) {
		policy_usage(stdout);
		return 0;
	}
	policy_usage(stderr);
	return sk_fail(err, "cli", 0, "check, show, profiles or import-srt",
		       argc > 1 ? "unknown policy command '%.64s'" : "no policy command%.0s", what);
}
