/* Subcommands: argv in, exit status out. Each prints nothing itself except its own output;
 * errors go back to main() in struct sk_err. */
#ifndef STOCKADE_CLI_H
#define STOCKADE_CLI_H

#include "spec/spec.h"
#include "util/err.h"

/* Fills spec from the arguments after "run" and checks every value (spec_check). Returns 0, or
 * -1 with err (exit 125). A request for help sets *wants_help. */
int cli_run_parse(int argc, char **argv, struct sandbox_spec *spec, int *wants_help,
		  struct sk_err *err);
/* `stockade run`: returns the exit status for main(), or -1 with err filled. */
int cli_run(int argc, char **argv, char *const *caller_env, struct sk_err *err);
void cli_run_usage(void);
/* `stockade doctor [--json]`: 0 when every required layer works, 1 when not, -1 with err. */
int cli_doctor(int argc, char **argv, struct sk_err *err);
/* `stockade volume ...` and `stockade reserve status|release`: 0, or -1 with err. */
int cli_volume(int argc, char **argv, struct sk_err *err);
int cli_reserve(int argc, char **argv, struct sk_err *err);

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
