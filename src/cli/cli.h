/* Subcommands: argv in, exit status out. Each prints nothing itself except its own output;
 * errors go back to main() in struct sk_err. */
#ifndef STOCKADE_CLI_H
#define STOCKADE_CLI_H

#include "spec/spec.h"
#include "util/err.h"

/* The spec files below the flags of one run (cli/policy.c): a profile and a policy file. Zeroed
 * by the caller; the spec's strings may point into them, so cli_sources_free comes after the
 * spec's last use. */
struct spec_doc;
struct cli_sources {
	struct spec_doc *profile, *policy;
	bool is_command_optional; /* in: a spec without a command is complete (policy show) */
	bool may_read_stdin; /* in: --policy - reads stdin (not for run: it is the command's) */
	bool is_detached;    /* out: run -d, a long-lived sandbox (cli/box.c) */
	const char *name;    /* out: --name, or NULL */
	uint64_t idle_timeout_ms, max_lifetime_ms; /* out: -d's --idle-timeout, --max-lifetime */
	int tie_fd;				   /* out: -d's --tie-fd (when has_tie_fd) */
	bool has_tie_fd;
	int workspace_fd; /* out: --workspace-fd (when has_workspace_fd) */
	bool has_workspace_fd;
};

/* Fills spec from the arguments after "run": built-in defaults < profile < policy file < flags
 * (docs/spec.md), then checks every value (spec_check). Returns 0, or -1 with err (exit 125).
 * A request for help sets *wants_help. */
int cli_run_parse(int argc, char **argv, struct sandbox_spec *spec, struct cli_sources *sources,
		  int *wants_help, struct sk_err *err);
/* The built-in defaults of a run (no flag, no file). */
void cli_run_defaults(struct sandbox_spec *spec);
/* One `stockade run` option by its long name ("memory", "allow-net") with its value as text
 * (NULL for a flag that takes none), checked and applied as on the command line: the one door
 * every spec value goes through. Returns 0, or -1 with err. */
int cli_run_apply_option(const char *name, const char *arg, struct sandbox_spec *spec,
			 struct sk_err *err);
/* The sandbox of spec with its volumes taken from the store (and anonymous ones removed after,
 * unless kept): sandbox_run() for every front end of the CLI. */
struct sandbox_result;
struct run_report;
int cli_run_with_volumes(const struct sandbox_spec *spec, struct sandbox_host *host,
			 struct sandbox_result *result, struct run_report *report,
			 struct sk_err *err);
/* The spec as canonical JSON (what `policy show` prints); a new reference, NULL on ENOMEM. */
struct json_t;
struct json_t *cli_spec_json(const struct sandbox_spec *spec);
/* Long-lived sandboxes (cli/box.c): `run -d` (spec checked; host holds what the run opened:
 * secrets, the audit file; report_fd the report, written when the sandbox ends, or -1), and
 * `stockade exec|ps|stop|rm|logs|inspect`. */
int cli_box_start(const struct sandbox_spec *spec, const struct cli_sources *sources,
		  struct sandbox_host *host, int report_fd, struct sk_err *err);
int cli_box(int argc, char **argv, struct sk_err *err);
/* `stockade mcp` (cli/mcp.c): MCP over stdio until stdin closes; 0, or -1 with err (the
 * operator's flags or policy refused before a message is read). */
int cli_mcp(int argc, char **argv, struct sk_err *err);
/* `stockade run`: returns the exit status for main(), or -1 with err filled. */
int cli_run(int argc, char **argv, char *const *caller_env, struct sk_err *err);
void cli_run_usage(void);

/* Spec files (cli/policy.c). cli_policy_load applies the profile (the flag's, else the file's
 * "profile") and then the policy file onto spec; NULL for either is none. Returns 0, or -1
 * with err naming the first problem as FILE:LINE:COL: PATH: what. */
int cli_policy_load(struct sandbox_spec *spec, const char *policy_path, const char *profile,
		    struct cli_sources *sources, struct sk_err *err);
/* A spec document given as text (a request to `stockade serve`, name "request" in messages)
 * applied onto spec as one more layer, as a policy file is: the profile it names, then its
 * fields (lists append, null resets or empties, scalars replace); its command, if it says
 * "command", replaces spec's. sources (zeroed by the caller) keeps the document, which spec's
 * strings then point into: cli_sources_free after the spec's last use. The result is not
 * checked as a whole: spec_check it, then spec_narrow_check it against the operator's.
 * Returns 0, or -1 with err naming the first problem as NAME:LINE:COL: PATH: what, spec
 * unchanged and sources freed. */
int cli_policy_apply_doc(struct sandbox_spec *spec, const char *name, const char *text, size_t len,
			 struct cli_sources *sources, struct sk_err *err);
/* The same for a request to `stockade serve` (named "request"), with its own rules: it may not
 * name a profile, and a list it gives replaces the one below (as in a JSON merge patch), so a
 * request can keep a subset of the operator's; null still empties. path (path_size bytes) gets
 * the JSON path of the first problem ("" when it has none). */
int cli_policy_apply_request(struct sandbox_spec *spec, const char *text, size_t len,
			     struct cli_sources *sources, char *path, size_t path_size,
			     struct sk_err *err);
/* The command the files give (the policy file's, else the profile's), or NULL. */
char *const *cli_sources_command(const struct cli_sources *sources);
void cli_sources_free(struct cli_sources *sources);
/* --clear LIST (and a list field set to null): env, volume, allow-net, deny-net,
 * allow-degraded emptied. Returns 0, or -1 with err. */
int cli_policy_clear(struct sandbox_spec *spec, const char *list, struct sk_err *err);
/* --secret and --credential (cli/secrets.c): each value from its file or variable into a sealed
 * memfd, fds[i] for spec->secrets[i] and fds[SANDBOX_MAX_SECRETS + i] for
 * spec->credentials[i] (CLI_VALUE_FDS slots, -1 for none); a variable is wiped from this
 * process's environment block and unset. Returns 0, or -1 with err (every fd closed). */
#define CLI_VALUE_FDS (SANDBOX_MAX_SECRETS + SANDBOX_MAX_CREDENTIALS)
int cli_secrets_open(const struct sandbox_spec *spec, int *fds, struct sk_err *err);
void cli_secrets_close(int *fds, size_t count);
/* `stockade policy check|show|profiles`: the exit status, or -1 with err. */
int cli_policy(int argc, char **argv, struct sk_err *err);
/* `stockade doctor [--json]`: 0 when every required layer works, 1 when not, -1 with err. */
int cli_doctor(int argc, char **argv, struct sk_err *err);
/* `stockade health`: a running daemon's /healthz; 0 when it is 200, else -1 with err (exit 1,
 * or 125 for a bad argument). */
int cli_health(int argc, char **argv, struct sk_err *err);
/* `stockade volume ...` and `stockade reserve status|release`: 0, or -1 with err. */
int cli_volume(int argc, char **argv, struct sk_err *err);
int cli_reserve(int argc, char **argv, struct sk_err *err);
/* `stockade workspace ls|diff|apply|discard`: 0, or -1 with err (125). */
int cli_workspace(int argc, char **argv, struct sk_err *err);
/* After a run with a workspace (ws: store/workspace.h, its locks dropped):
 * --apply-on-success applies as `workspace apply` does when the command exited 0, its summary
 * and refusals on stderr (stdout is the command's; a refusal is 125, the workspace kept);
 * otherwise a line says where the changes are. */
struct workspace_run;
int cli_workspace_after_run(const struct sandbox_spec *spec, const struct workspace_run *ws,
			    const struct sandbox_result *result, struct sk_err *err);

/* Prints value as indented JSON (jansson's JSON_* flags added) and takes its reference; -1 with
 * err (layer `layer`) when it cannot be encoded (value NULL: a json_pack that failed). */
struct json_t;
int cli_print_json(struct json_t *value, int flags, const char *layer, struct sk_err *err);

/* Leftovers of runs killed with SIGKILL: stale cgroups and anonymous volumes, removed. */
struct cli_swept {
	unsigned cgroups, volumes;
};
void cli_sweep_leftovers(struct cli_swept *swept);
/* Only the anonymous volumes (a run sweeps the cgroups while its sandbox starts). */
unsigned cli_sweep_volumes(void);

#endif
