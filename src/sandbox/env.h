/* The environment layer: the workload sees PATH, HOME, USER, LOGNAME, LANG, TERM and what -e
 * adds; nothing else of the caller's environment. */
#ifndef STOCKADE_ENV_H
#define STOCKADE_ENV_H

#include <stddef.h>

#include "spec/spec.h"
#include "util/err.h"

#define ENV_MAX (SANDBOX_MAX_ENV + 16)
#define ENV_KEY_MAX 256 /* with its NUL */

struct env_plan {
	char *envp[ENV_MAX + 1]; /* NULL-terminated, each "KEY=VALUE", allocated */
	size_t count;
	char path[1024]; /* PATH value, used by the child to find the command */
};

/* Parent. `caller_env` is stockade's own environment (for LANG, TERM and `-e KEY`). A later
 * entry with the same key replaces an earlier one. Rejects malformed -e entries. */
int env_prepare(struct env_plan *plan, const struct sandbox_spec *spec, char *const *caller_env,
		struct sk_err *err);
/* Adds or replaces KEY=VALUE (used by other layers, e.g. the proxy variables). */
int env_set(struct env_plan *plan, const char *key, const char *value, struct sk_err *err);
void env_plan_free(struct env_plan *plan);
/* Is `key` a valid environment variable name ([A-Za-z_][A-Za-z0-9_]*)? */
int env_is_valid_key(const char *key, size_t len);
/* 0 when item is a -e of the form KEY=VALUE or KEY, else -1 with err (layer "cli"). */
int env_check_item(const char *item, struct sk_err *err);

#endif
