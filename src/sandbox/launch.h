/* The engine's entry point: run one sandboxed command to completion. */
#ifndef STOCKADE_LAUNCH_H
#define STOCKADE_LAUNCH_H

#include "sandbox/report.h"
#include "spec/spec.h"
#include "util/err.h"

/* Checks spec (spec_check), prepares every layer, clones the sandbox, waits for the command
 * and fills result and report. spec is read-only; what the front end opened for this run is
 * in host. Returns 0 when the command was started (whatever its status), -1 when it was not:
 * err then says why and err->exit_code is 125, 126 or 127. */
int sandbox_run(const struct sandbox_spec *spec, const struct sandbox_host *host,
		struct sandbox_result *result, struct run_report *report, struct sk_err *err);

#endif
