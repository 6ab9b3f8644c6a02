/* Unit tests for src/sandbox/env.c: the scrubbed base, -e additions, refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "sandbox/env.h"

static const char *find(const struct env_plan *plan, const char *key)
{
	size_t len = strlen(key);
	for (size_t i = 0; i < plan->count; i++)
		if (strncmp(plan->envp[i], key, len) == 0 && plan->envp[i][len] == '=')
			return plan->envp[i] + len + 1;
	return NULL;
}

static void test_scrubbed(void **state)
{
	char *caller[] = {"SECRET_TOKEN=abc", "LANG=de_DE.UTF-8", "TERM=xterm", "HOME=/root",
			  "PATH=/evil",	      "FOO=bar",	  NULL};
	struct sandbox_spec spec = {0};
	struct env_plan plan;
	struct sk_err err = {0};
	(void)state;
	spec.env_add[0] = "A=1";
	spec.env_add[1] = "FOO";     /* passes the caller's value */
	spec.env_add[2] = "MISSING"; /* not set by the caller: nothing */
	spec.env_add[3] = "A=2";     /* later wins */
	spec.env_add_count = 4;
	assert_int_equal(env_prepare(&plan, &spec, caller, &err), 0);
	assert_null(find(&plan, "SECRET_TOKEN"));
	assert_null(find(&plan, "MISSING"));
	assert_string_equal(find(&plan, "HOME"), SANDBOX_HOME);
	assert_string_equal(find(&plan, "PATH"), SANDBOX_PATH);
	assert_string_equal(find(&plan, "USER"), SANDBOX_USER);
	assert_string_equal(find(&plan, "LANG"), "de_DE.UTF-8");
	assert_string_equal(find(&plan, "TERM"), "xterm");
	assert_string_equal(find(&plan, "FOO"), "bar");
	assert_string_equal(find(&plan, "A"), "2");
	assert_string_equal(plan.path, SANDBOX_PATH);
	assert_null(plan.envp[plan.count]);
	env_plan_free(&plan);
}

static void test_refused(void **state)
{
	char *caller[] = {NULL};
	const char *bad[] = {"=x", "1A=x", "A-B=x", "", "A B=1", NULL};
	struct sandbox_spec spec = {0};
	struct env_plan plan;
	struct sk_err err = {0};
	(void)state;
	for (int i = 0; bad[i]; i++) {
		spec.env_add[0] = bad[i];
		spec.env_add_count = 1;
		assert_int_equal(env_prepare(&plan, &spec, caller, &err), -1);
		assert_string_equal(err.layer, "cli");
	}
	spec.env_add[0] = "PATH=/opt/bin";
	assert_int_equal(env_prepare(&plan, &spec, caller, &err), 0);
	assert_string_equal(plan.path, "/opt/bin");
	assert_string_equal(find(&plan, "LANG"), "C.UTF-8");
	assert_null(find(&plan, "TERM"));
	env_plan_free(&plan);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scrubbed),
	    cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
