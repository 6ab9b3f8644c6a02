/* Fuzzes the environment layer's parsing of `-e` specs (env_prepare, env_is_valid_key in
 * src/sandbox/env.c). The input is split at '\n' into items; items before the first empty
 * line are the caller's environment (what `-e KEY` passes through), the rest are -e specs.
 * Checked: the result has each key once, every key valid, PATH set, nothing past ENV_MAX. */
#undef NDEBUG /* the checks below are the point */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/env.h"

#define FUZZ_CALLER_MAX 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_plan(const struct env_plan *plan)
{
	assert(plan->count <= ENV_MAX && plan->envp[plan->count] == NULL);
	for (size_t i = 0; i < plan->count; i++) {
		const char *eq = strchr(plan->envp[i], '=');

		assert(eq && env_is_valid_key(plan->envp[i], (size_t)(eq - plan->envp[i])));
		for (size_t j = 0; j < i; j++) {
			size_t len = (size_t)(eq - plan->envp[i]);
			assert(!(strncmp(plan->envp[j], plan->envp[i], len) == 0 &&
				 plan->envp[j][len] == '='));
		}
	}
	assert(strlen(plan->path) < sizeof(plan->path));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sandbox_spec spec;
	static struct env_plan plan;
	char *caller[FUZZ_CALLER_MAX + 1] = {0};
	size_t caller_count = 0;
	int in_caller = 1;
	char *text = malloc(size + 1);
	struct sk_err err = {0};

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	memset(&spec, 0, sizeof(spec));
	for (char *item = text, *next; item; item = next) {
		next = strchr(item, '\n');
		if (next)
			*next++ = '\0';
		if (in_caller && item[0] == '\0') {
			in_caller = 0;
		} else if (in_caller && caller_count < FUZZ_CALLER_MAX) {
			caller[caller_count++] = item;
		} else if (!in_caller && spec.env_add_count < SANDBOX_MAX_ENV) {
			spec.env_add[spec.env_add_count++] = item;
		}
	}
	(void)env_is_valid_key(text, strlen(text));
	if (env_prepare(&plan, &spec, caller, &err) == 0) {
		check_plan(&plan);
		env_plan_free(&plan);
	} else {
		assert(plan.count == 0 && err.op[0] != '\0');
	}
	free(text);
	return 0;
}
