/* `stockade doctor [--json]`: every layer probed for real, with the environment around it
 * (kernel, Landlock ABI, seccomp architecture, root or not, container or not). Exit 0 only if
 * every required layer works, 1 otherwise. The JSON schema is stable (schema 1). */
#define _GNU_SOURCE /* strerrorname_np */
#include "cli/cli.h"
#include "spec/identity.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "sandbox/container.h"
#include "sandbox/landlock.h"
#include "sandbox/probe.h"
#include "store/reserve.h"
#include "util/clock.h"
#include "util/macros.h"

struct environment {
	char kernel[128];
	bool is_root;
	char identity[112];		 /* where the sandbox user lands (identity_find) */
	struct container_info container; /* engine NONE when none is detected */
	int landlock_abi;		 /* 0 when unavailable */
};

static void describe_environment(struct environment *env)
{
	struct utsname uts;
	struct sk_err no_landlock = {0};
	int abi = landlock_probe_abi(&no_landlock);

	memset(env, 0, sizeof(*env));
	if (uname(&uts) == 0)
		snprintf(env->kernel, sizeof(env->kernel), "%.20s %.100s", uts.sysname,
			 uts.release);
	env->is_root = geteuid() == 0;
	struct identity id;
	struct sk_err refused = {0};
	if (identity_find(&id, &refused) == 0)
		snprintf(env->identity, sizeof(env->identity), "sandbox user onto %s", id.mapping);
	else
		snprintf(env->identity, sizeof(env->identity),
			 "no uid to map the sandbox user onto");
	env->landlock_abi = abi > 0 ? abi : 0;
	container_detect(&env->container);
}

/* Every namespace probe clones with CLONE_NEWUSER: when the user namespace itself does not
 * work, their failures are that one cause again, and they are marked as depending on it
 * instead of repeating (and misnaming) it. */
static bool needs_failed_userns(const struct probe_result *results, int i)
{
	return ((i > PROBE_USERNS && i <= PROBE_CGROUPNS) || i == PROBE_OVERLAY) &&
	       results[i].status != PROBE_OK && results[PROBE_USERNS].status != PROBE_OK;
}

static bool all_required_ok(const struct probe_result *results)
{
	for (int i = 0; i < PROBE_COUNT; i++)
		if (results[i].is_required && results[i].status != PROBE_OK)
			return false;
	return true;
}

/* The disk reserve (store/reserve.h): present, how much it holds, free space beside it. */
static json_t *reserve_json(void)
{
	struct reserve_state st;
	struct sk_err err = {0};

	if (reserve_status(&st, &err) < 0)
		return json_pack("{s:b, s:s}", "known", 0, "error", err.op);
	return json_pack("{s:b, s:s, s:b, s:I, s:I}", "known", 1, "path", st.path, "present",
			 st.exists, "bytes", (json_int_t)st.allocated_bytes, "free_bytes",
			 (json_int_t)st.free_bytes);
}

static void print_reserve(void)
{
	struct reserve_state st;
	struct sk_err err = {0};

	if (reserve_status(&st, &err) < 0)
		printf("disk reserve: unknown (%s)\n", err.op);
	else if (st.exists)
		printf("disk reserve: %llu MiB at %s (%llu MiB free beside it)\n",
		       (unsigned long long)(st.allocated_bytes >> 20), st.path,
		       (unsigned long long)(st.free_bytes >> 20));
	else
		printf("disk reserve: missing at %s (%llu MiB free): `stockade reserve status`\n",
		       st.path, (unsigned long long)(st.free_bytes >> 20));
}

static void print_table(const struct probe_result *results, const struct environment *env,
			const struct cli_swept *swept, double total_ms)
{
	printf("stockade %s doctor — %s, %s (%s), %s\n", STOCKADE_VERSION, env->kernel,
	       env->is_root ? "running as root" : "running unprivileged", env->identity,
	       env->container.evidence[0] ? env->container.evidence : "no container detected");
	printf("%-10s %-12s %-9s %s\n", "LAYER", "STATUS", "REQUIRED", "DETAIL");
	for (int i = 0; i < PROBE_COUNT; i++) {
		const struct probe_result *r = &results[i];
		printf("%-10s %-12s %-9s ", r->name, probe_status_name(r->status),
		       r->is_required		   ? "yes"
		       : r->layer == PROBE_OVERLAY ? "workspace"
						   : "limits");
		if (r->status == PROBE_OK) {
			printf("%s\n", r->detail);
			continue;
		}
		if (needs_failed_userns(results, i)) {
			printf("needs the user namespace (userns above)\n");
			continue;
		}
		printf("%s: %s\n%23s cause: %s\n%23s fix: %s\n", r->op,
		       r->errnum ? strerror(r->errnum) : "failed", "", r->diagnosis, "", r->remedy);
	}
	printf("seccomp architecture: x86_64 (other ABIs killed); Landlock ABI: %d\n",
	       env->landlock_abi);
	print_reserve();
	if (swept->cgroups || swept->volumes)
		printf("removed what killed runs left: %u cgroup(s), %u anonymous volume(s)\n",
		       swept->cgroups, swept->volumes);
	printf("%s (%.1f ms)\n",
	       all_required_ok(results)
		   ? "every required layer works"
		   : "a required layer does not work: `stockade run` will refuse",
	       total_ms);
}

static json_t *layer_json(const struct probe_result *r)
{
	return json_pack("{s:s, s:b, s:s, s:s, s:i, s:s?, s:s, s:s, s:s, s:f}", "name", r->name,
			 "required", r->is_required, "status", probe_status_name(r->status), "op",
			 r->op, "errno", r->errnum, "errno_name",
			 r->errnum ? strerrorname_np(r->errnum) : NULL, "diagnosis", r->diagnosis,
			 "remedy", r->remedy, "detail", r->detail, "duration_ms", r->duration_ms);
}

static int print_json(const struct probe_result *results, const struct environment *env,
		      const struct cli_swept *swept, double total_ms, struct sk_err *err)
{
	json_t *layers = json_array();
	json_t *root;

	for (int i = 0; i < PROBE_COUNT; i++) {
		json_t *layer = layer_json(&results[i]);
		if (layer && needs_failed_userns(results, i))
			json_object_set_new(layer, "depends_on", json_string("userns"));
		json_array_append_new(layers, layer);
	}
	const struct container_info *c = &env->container;
	root = json_pack(
	    "{s:i, s:s, s:s, s:b, s:s, s:{s:b, s:s, s:s, s:b, s:o}, s:o, s:s, s:o, "
	    "s:b, s:f}",
	    "schema", 1, "version", STOCKADE_VERSION, "kernel", env->kernel, "root", env->is_root,
	    "identity", env->identity, "container", "detected", c->engine != CONTAINER_NONE,
	    "evidence", c->evidence, "engine", container_engine_name(c->engine), "pid1_seccomp",
	    c->is_pid1_filtered, "apparmor_restrict_unprivileged_userns",
	    c->apparmor_userns_restricted < 0 ? json_null()
					      : json_boolean(c->apparmor_userns_restricted == 1),
	    "landlock_abi", env->landlock_abi ? json_integer(env->landlock_abi) : json_null(),
	    "seccomp_arch", "x86_64", "layers", layers, "ok", all_required_ok(results),
	    "duration_ms", total_ms);
	if (root) {
		json_object_set_new(root, "reserve", reserve_json());
		json_object_set_new(root, "swept",
				    json_pack("{s:i, s:i}", "cgroups", (int)swept->cgroups,
					      "volumes", (int)swept->volumes));
	}
	return cli_print_json(root, JSON_PRESERVE_ORDER, "doctor", err);
}

int cli_doctor(int argc, char **argv, struct sk_err *err)
{
	struct probe_result results[PROBE_COUNT];
	struct environment env;
	bool is_json = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			is_json = true;
		else
			return sk_fail(err, "cli", 0, "usage: stockade doctor [--json]",
				       "unknown argument '%.64s'", argv[i]);
	}
	struct cli_swept swept;
	cli_sweep_leftovers(&swept);
	double start = clock_now_ms();
	probe_all(results);
	double total_ms = clock_now_ms() - start;
	describe_environment(&env);
	if (is_json) {
		if (print_json(results, &env, &swept, total_ms, err) < 0)
			return -1;
	} else {
		print_table(results, &env, &swept, total_ms);
	}
	return all_required_ok(results) ? 0 : 1;
}
