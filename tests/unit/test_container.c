/* Tests of src/sandbox/container.c: which engine the evidence names first (the environment
 * decides here: this machine's own marker files are what they are), and the fix each engine
 * gets for each kind of failure, the AppArmor one included (no AppArmor here to make it
 * happen for real; the other kinds are made for real in tests/integration/test_container.py). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sandbox/container.h"

static void test_kubernetes_before_podman_before_docker(void **state)
{
	struct container_info info;

	(void)state;
	setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
	setenv("container", "podman", 1);
	container_detect(&info);
	assert_int_equal(info.engine, CONTAINER_KUBERNETES);
	assert_string_equal(container_engine_name(info.engine), "kubernetes");
	assert_non_null(strstr(info.evidence, "KUBERNETES_SERVICE_HOST"));
	unsetenv("KUBERNETES_SERVICE_HOST");
	container_detect(&info);
	/* Unless this machine is a pod (a service-account mount, kubepods in its cgroup). */
	if (info.engine != CONTAINER_KUBERNETES) {
		assert_int_equal(info.engine, CONTAINER_PODMAN);
		assert_non_null(strstr(info.evidence, "podman"));
	}
	unsetenv("container");
}

struct fix_case {
	enum container_engine engine;
	enum container_fix fix;
	const char *words[3];
};

static void test_each_engine_gets_its_own_words(void **state)
{
	static const struct fix_case cases[] = {
	    {CONTAINER_DOCKER,
	     FIX_SECCOMP,
	     {"docker run --security-opt seccomp=stockade.json", "deploy/seccomp/stockade.json"}},
	    {CONTAINER_PODMAN, FIX_SECCOMP, {"podman run --security-opt seccomp=stockade.json"}},
	    {CONTAINER_KUBERNETES,
	     FIX_SECCOMP,
	     {"localhostProfile: stockade.json", "/var/lib/kubelet/seccomp/", "hostUsers: false"}},
	    {CONTAINER_OTHER, FIX_SECCOMP, {"docker or podman run", "type: Localhost"}},
	    {CONTAINER_DOCKER, FIX_MOUNT, {"apparmor=unconfined", "seccomp=stockade.json"}},
	    {CONTAINER_KUBERNETES, FIX_MOUNT, {"appArmorProfile", "hostUsers: false"}},
	    {CONTAINER_DOCKER, FIX_PROC, {"systempaths=unconfined"}},
	    {CONTAINER_PODMAN, FIX_PROC, {"unmask=ALL"}},
	    {CONTAINER_KUBERNETES, FIX_PROC, {"procMount: Unmasked", "hostUsers: false"}},
	    {CONTAINER_OTHER, FIX_PROC, {"systempaths=unconfined", "unmask=ALL", "procMount"}},
	    {CONTAINER_DOCKER,
	     FIX_APPARMOR_USERNS,
	     {"kernel.apparmor_restrict_unprivileged_userns=0", "on the host", "'userns,'"}},
	    {CONTAINER_KUBERNETES, FIX_APPARMOR_USERNS, {"appArmorProfile"}},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct container_info info = {.engine = cases[i].engine};
		char buf[512] = "";
		assert_true(container_remedy(&info, cases[i].fix, buf, sizeof(buf)));
		for (int w = 0; w < 3 && cases[i].words[w]; w++)
			if (!strstr(buf, cases[i].words[w]))
				fail_msg("case %zu: '%s' not in '%s'", i, cases[i].words[w], buf);
		assert_true(strlen(buf) < sizeof(buf) - 1); /* never cut */
	}
}

static void test_nothing_to_say_outside_a_container(void **state)
{
	struct container_info none = {.engine = CONTAINER_NONE};
	struct container_info docker = {.engine = CONTAINER_DOCKER};
	char buf[64] = "kept";

	(void)state;
	assert_false(container_remedy(&none, FIX_SECCOMP, buf, sizeof(buf)));
	assert_false(container_remedy(&docker, FIX_NONE, buf, sizeof(buf)));
	assert_string_equal(buf, "kept");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kubernetes_before_podman_before_docker),
	    cmocka_unit_test(test_each_engine_gets_its_own_words),
	    cmocka_unit_test(test_nothing_to_say_outside_a_container),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
