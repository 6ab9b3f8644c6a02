/* The run report: which layers were applied (with their versions), which were degraded, and
 * how the command ended. Written as JSON with --report FILE. */
#ifndef STOCKADE_REPORT_H
#define STOCKADE_REPORT_H

#include <stdbool.h>

#include "spec/spec.h"
#include "util/err.h"

#define REPORT_MAX_LAYERS 16

struct report_layer {
	char name[24];
	bool is_applied;
	bool is_degraded;
	char detail[256];
};

struct run_report {
	struct report_layer layers[REPORT_MAX_LAYERS];
	int layer_count;
};

/* Records (or updates, by name) one layer's outcome. */
void report_layer(struct run_report *report, const char *name, bool is_applied, bool is_degraded,
		  const char *detail);
/* Writes the JSON report into fd, the file --report named (path, for messages), which the CLI
 * opened before the run; the file is truncated first. */
int report_write(int fd, const char *path, const struct sandbox_spec *spec,
		 const struct run_report *report, const struct sandbox_result *result,
		 struct sk_err *err);

#endif
