/* The environment layer: built in the parent from a fixed base, never copied wholesale from
 * the caller (tokens, SSH_AUTH_SOCK, cloud credentials live there). */
#define _GNU_SOURCE
#include "sandbox/env.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int env_is_valid_key(const char *key, size_t len)
{
	if (len == 0 || (key[0] >= '0' && key[0] <= '9'))
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = key[i];
		if (!(c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9')))
			return 0;
	}
	return 1;
}

static const char *lookup(char *const *env, const char *key)
{
	size_t len = strlen(key);

	for (; env && *env; env++)
		if (strncmp(*env, key, len) == 0 && (*env)[len] == '=')
			return *env + len + 1;
	return NULL;
}

int env_set(struct env_plan *plan, const char *key, const char *value, struct sk_err *err)
{
	size_t key_len = strlen(key);
	char *entry;

	if (!env_is_valid_key(key, key_len))
		return sk_fail(err, "env", EINVAL, "names are letters, digits and _",
			       "invalid environment variable name '%.64s'", key);
	if (asprintf(&entry, "%s=%s", key, value) < 0)
		return sk_fail(err, "env", ENOMEM, NULL, "environment");
	for (size_t i = 0; i < plan->count; i++) {
		if (strncmp(plan->envp[i], key, key_len) == 0 && plan->envp[i][key_len] == '=') {
			free(plan->envp[i]);
			plan->envp[i] = entry;
			return 0;
		}
	}
	if (plan->count >= ENV_MAX) {
		free(entry);
		return sk_fail(err, "env", E2BIG, NULL, "more than %d environment variables",
			       ENV_MAX);
	}
	plan->envp[plan->count++] = entry;
	plan->envp[plan->count] = NULL;
	return 0;
}

int env_check_item(const char *item, struct sk_err *err)
{
	const char *eq = strchr(item, '=');
	size_t len = eq ? (size_t)(eq - item) : strlen(item);

	if (len == 0 || len >= ENV_KEY_MAX || !env_is_valid_key(item, len))
		return sk_fail(err, "cli", EINVAL, "use -e KEY=VALUE", "invalid -e '%.64s'", item);
	return 0;
}

/* "-e KEY=VALUE" sets; "-e KEY" passes the caller's value through, as docker does. */
static int env_add_spec(struct env_plan *plan, const char *item, char *const *caller_env,
			struct sk_err *err)
{
	const char *eq = strchr(item, '=');
	char key[ENV_KEY_MAX];
	size_t len = eq ? (size_t)(eq - item) : strlen(item);

	if (env_check_item(item, err) < 0)
		return -1;
	memcpy(key, item, len);
	key[len] = '\0';
	if (eq)
		return env_set(plan, key, eq + 1, err);
	const char *value = lookup(caller_env, key);
	return value ? env_set(plan, key, value, err) : 0;
}

int env_prepare(struct env_plan *plan, const struct sandbox_spec *spec, char *const *caller_env,
		struct sk_err *err)
{
	const char *lang = lookup(caller_env, "LANG");
	const char *term = lookup(caller_env, "TERM");
	const char *path;

	memset(plan, 0, sizeof(*plan));
	if (env_set(plan, "PATH", SANDBOX_PATH, err) < 0 ||
	    env_set(plan, "HOME", SANDBOX_HOME, err) < 0 ||
	    env_set(plan, "USER", SANDBOX_USER, err) < 0 ||
	    env_set(plan, "LOGNAME", SANDBOX_USER, err) < 0 ||
	    env_set(plan, "LANG", lang ? lang : "C.UTF-8", err) < 0 ||
	    (term && env_set(plan, "TERM", term, err) < 0))
		goto fail;
	for (size_t i = 0; i < spec->env_add_count; i++)
		if (env_add_spec(plan, spec->env_add[i], caller_env, err) < 0)
			goto fail;
	path = lookup(plan->envp, "PATH");
	if (sk_strlcpy(plan->path, path, sizeof(plan->path)) >= sizeof(plan->path) - 1) {
		sk_fail(err, "env", ENAMETOOLONG, NULL, "PATH is too long");
		goto fail;
	}
	return 0;
fail:
	env_plan_free(plan);
	return -1;
}

void env_plan_free(struct env_plan *plan)
{
	for (size_t i = 0; i < plan->count; i++)
		free(plan->envp[i]);
	plan->count = 0;
	plan->envp[0] = NULL;
}
