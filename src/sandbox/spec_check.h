/* Every value of a sandbox spec, checked in one place before anything runs: the CLI calls it
 * at the end of `run`'s parse, sandbox_run() again first thing, and every other front end (a
 * JSON spec, a daemon's API) goes through the same function, so a bad value fails once, with
 * one message and exit 125, before any probe. Host state is not a value: whether --rootfs
 * exists or --report can be written is found out by the layer or the front end that uses it. */
#ifndef STOCKADE_SPEC_CHECK_H
#define STOCKADE_SPEC_CHECK_H

#include "spec/spec.h"
#include "util/err.h"

/* 0 when every field of spec is valid, else -1 with err (layer "cli", naming the flag). */
int spec_check(const struct sandbox_spec *spec, struct sk_err *err);
/* The check of one flag's value alone (its long name: "uid", "allow-net"), for a front end
 * that applies values one at a time and can say where each came from (a policy file's
 * line:column). The whole spec is still checked by spec_check. */
int spec_check_option(const struct sandbox_spec *spec, const char *flag, struct sk_err *err);
/* The same without the command: for a spec that is shown or checked, not run. */
int spec_check_values(const struct sandbox_spec *spec, struct sk_err *err);

#endif
