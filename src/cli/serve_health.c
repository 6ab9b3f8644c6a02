/* `stockade serve`'s own health and metrics: /healthz (every layer the operator's policy
 * requires probes ok right now: `stockade doctor --json`'s data, at most HEALTH_CACHE_MS old,
 * 503 with the failing layers otherwise) and /metrics (Prometheus text, no per-sandbox label).
 * The probes run in a process of their own: this one has threads, and a probe's clone must
 * not start from one. */
#define _GNU_SOURCE
#include "cli/serve_internal.h"

#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/box.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/macros.h"

#define HEALTH_CACHE_MS 2000.0 /* /healthz's probes are at most this old */
#define DOCTOR_TIMEOUT_MS 30000
#define DOCTOR_OUTPUT_MAX (256 * 1024)

/* ---- doctor's probes ---- */

/* `stockade doctor --json` in a process of its own; its document, or NULL. */
static json_t *run_doctor(const struct serve *s)
{
	static char *const argv_template[] = {"stockade", "doctor", "--json", NULL};
	posix_spawn_file_actions_t actions;
	char *buf = malloc(DOCTOR_OUTPUT_MAX + 1);
	int out[2];
	pid_t pid;
	size_t used = 0;
	double deadline = clock_now_ms() + DOCTOR_TIMEOUT_MS;
	json_t *doc = NULL;

	if (!buf || pipe2(out, O_CLOEXEC) < 0) {
		free(buf);
		return NULL;
	}
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_adddup2(&actions, out[1], 1);
	posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
	if (serve_spawn(s, argv_template, &actions, &pid) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&actions);
	close(out[1]);
	while (pid > 0 && used < DOCTOR_OUTPUT_MAX) {
		struct pollfd p = {.fd = out[0], .events = POLLIN};
		int left = (int)(deadline - clock_now_ms());
		if (left <= 0 || poll(&p, 1, left) <= 0)
			break;
		ssize_t n = read(out[0], buf + used, DOCTOR_OUTPUT_MAX - used);
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	close(out[0]);
	if (pid > 0) {
		kill(pid, SIGKILL); /* done or over time: it has nothing more to say */
		(void)waitpid(pid, NULL, 0);
	}
	buf[used] = '\0';
	doc = json_loads(buf, 0, NULL);
	free(buf);
	return doc;
}

/* The probes, at most HEALTH_CACHE_MS old: a new reference, or NULL. */
static json_t *probes(struct serve *s)
{
	json_t *doc;

	pthread_mutex_lock(&s->doctor_lock);
	if (!s->doctor || clock_now_ms() - s->doctor_at > HEALTH_CACHE_MS) {
		json_decref(s->doctor);
		s->doctor = run_doctor(s);
		s->doctor_at = clock_now_ms();
	}
	doc = json_incref(s->doctor);
	pthread_mutex_unlock(&s->doctor_lock);
	return doc;
}

/* Whether a layer doctor names may fail under the operator's policy (--allow-degraded). */
static bool is_allowed_degraded(const struct serve *s, const char *name)
{
	static const struct {
		const char *name;
		unsigned bit;
	} layers[] = {
	    {"landlock", LAYER_LANDLOCK}, {"seccomp", LAYER_SECCOMP}, {"cgroup", LAYER_CGROUP}};

	for (size_t i = 0; name && i < ARRAY_SIZE(layers); i++)
		if (strcmp(name, layers[i].name) == 0)
			return s->base.allow_degraded & layers[i].bit;
	return false;
}

/* The health document: every required layer that fails under "failing" (doctor's operation,
 * errno, diagnosis and remedy); one that is not required, or that the operator's policy lets
 * degrade, under "degraded". */
static json_t *health(struct serve *s, bool *is_healthy)
{
	json_t *doc = probes(s), *layers, *layer, *failing = json_array(), *degraded = json_array(),
	       *up = json_object();
	size_t i;

	layers = json_object_get(doc, "layers");
	json_array_foreach(layers, i, layer)
	{
		const char *name = json_string_value(json_object_get(layer, "name"));
		const char *status = json_string_value(json_object_get(layer, "status"));
		bool is_ok = status && strcmp(status, "ok") == 0;
		bool is_required = json_is_true(json_object_get(layer, "required")) &&
				   !is_allowed_degraded(s, name);
		json_object_set_new(up, name ? name : "?", json_boolean(is_ok));
		if (is_ok)
			continue;
		json_t *one = json_pack(
		    "{s:O?, s:O?, s:O?, s:O?, s:O?, s:O?}", "layer", json_object_get(layer, "name"),
		    "op", json_object_get(layer, "op"), "errno",
		    json_object_get(layer, "errno_name"), "diagnosis",
		    json_object_get(layer, "diagnosis"), "remedy", json_object_get(layer, "remedy"),
		    "status", json_object_get(layer, "status"));
		json_array_append_new(is_required ? failing : degraded, one);
	}
	*is_healthy = doc && json_array_size(layers) > 0 && json_array_size(failing) == 0;
	if (!doc)
		json_array_append_new(failing,
				      json_pack("{s:s, s:s}", "layer", "doctor", "diagnosis",
						"stockade doctor could not be run"));
	json_decref(doc);
	return json_pack("{s:s, s:o, s:o, s:o}", "status", *is_healthy ? "ok" : "failing", "layers",
			 up, "failing", failing, "degraded", degraded);
}

bool serve_is_healthy(struct serve *s, char *why, size_t size)
{
	bool is_healthy;
	json_t *body = health(s, &is_healthy), *one;
	size_t i;

	why[0] = '\0';
	json_array_foreach(json_object_get(body, "failing"), i, one)
	{
		const char *layer = json_string_value(json_object_get(one, "layer"));
		const char *diagnosis = json_string_value(json_object_get(one, "diagnosis"));
		if (i > 0)
			sk_strlcat(why, "; ", size);
		sk_strlcat(why, layer ? layer : "?", size);
		sk_strlcat(why, ": ", size);
		sk_strlcat(why, diagnosis ? diagnosis : "fails", size);
	}
	json_decref(body);
	return is_healthy;
}

/* /healthz: 200 when every required layer probes ok, 503 otherwise (GET /healthz). */
enum MHD_Result serve_healthz(struct serve *s, struct MHD_Connection *conn)
{
	bool is_healthy;
	json_t *body = health(s, &is_healthy);

	return serve_respond_json(s, conn, is_healthy ? 200 : 503, body);
}

/* The sandboxes of this daemon's STOCKADE_HOME, by state. */
static void count_sandboxes(unsigned long *running, unsigned long *exited, unsigned long *dead)
{
	char(*names)[BOX_NAME_MAX + 1] = NULL;
	struct box_root root;
	struct sk_err err = {0};
	size_t count = 0;

	*running = *exited = *dead = 0;
	if (box_root_open(&root, &err) < 0)
		return;
	if (box_list(&root, &names, &count, &err) == 0)
		for (size_t i = 0; i < count; i++) {
			struct box box;
			if (box_open(&root, names[i], &box, &err) < 0)
				continue;
			if (box_is_alive(&box)) {
				(*running)++;
			} else {
				char *text = box_state_read(&box, &err);
				bool has_exited = text && strstr(text, "\"status\": \"exited\"");
				(*(has_exited ? exited : dead))++;
				free(text);
			}
			box_close(&box);
		}
	free(names);
	box_root_close(&root);
}

enum MHD_Result serve_metrics(struct serve *s, struct MHD_Connection *conn)
{
	json_t *doc = probes(s), *layer;
	unsigned long running, exited, dead, requests[6], refused;
	char *text = NULL;
	size_t len = 0, i;
	FILE *out = open_memstream(&text, &len);

	if (!out) {
		json_decref(doc);
		return MHD_NO;
	}
	unsigned long created[3], exec_results[3], buckets[SERVE_HISTOGRAM_BUCKETS + 1];
	double exec_seconds;
	count_sandboxes(&running, &exited, &dead);
	pthread_mutex_lock(&s->lock);
	memcpy(requests, s->requests, sizeof(requests));
	refused = s->refused_peers;
	memcpy(created, s->created, sizeof(created));
	memcpy(exec_results, s->exec_results, sizeof(exec_results));
	memcpy(buckets, s->exec_buckets, sizeof(buckets));
	exec_seconds = s->exec_seconds;
	pthread_mutex_unlock(&s->lock);
	fprintf(out,
		"# HELP stockade_build_info The version of this stockade.\n"
		"# TYPE stockade_build_info gauge\n"
		"stockade_build_info{version=\"%s\"} 1\n",
		STOCKADE_VERSION);
	fprintf(out, "# HELP stockade_layer_up Whether the layer probes ok now (1) or not (0).\n"
		     "# TYPE stockade_layer_up gauge\n");
	json_array_foreach(json_object_get(doc, "layers"), i, layer)
	{
		const char *name = json_string_value(json_object_get(layer, "name"));
		const char *status = json_string_value(json_object_get(layer, "status"));
		if (name)
			fprintf(out, "stockade_layer_up{layer=\"%s\"} %d\n", name,
				status && strcmp(status, "ok") == 0);
	}
	fprintf(out,
		"# HELP stockade_sandboxes Long-lived sandboxes of this daemon's home, by state.\n"
		"# TYPE stockade_sandboxes gauge\n"
		"stockade_sandboxes{state=\"running\"} %lu\n"
		"stockade_sandboxes{state=\"exited\"} %lu\n"
		"stockade_sandboxes{state=\"dead\"} %lu\n",
		running, exited, dead);
	fprintf(out, "# HELP stockade_http_requests_total Requests answered, by status class.\n"
		     "# TYPE stockade_http_requests_total counter\n");
	static const char *const classes[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
	for (int c = 0; c < 6; c++)
		fprintf(out, "stockade_http_requests_total{code=\"%s\"} %lu\n", classes[c],
			requests[c]);
	fprintf(out,
		"# HELP stockade_refused_peers_total Connections refused by SO_PEERCRED.\n"
		"# TYPE stockade_refused_peers_total counter\n"
		"stockade_refused_peers_total %lu\n",
		refused);
	static const char *const created_names[] = {"ok", "refused", "failed"};
	fprintf(out, "# HELP stockade_sandboxes_created_total Sandbox creations, by result.\n"
		     "# TYPE stockade_sandboxes_created_total counter\n");
	for (int r = 0; r < 3; r++)
		fprintf(out, "stockade_sandboxes_created_total{result=\"%s\"} %lu\n",
			created_names[r], created[r]);
	static const char *const exec_names[] = {"exited", "timed_out", "error"};
	fprintf(out, "# HELP stockade_exec_total Execs ended, by result.\n"
		     "# TYPE stockade_exec_total counter\n");
	for (int r = 0; r < 3; r++)
		fprintf(out, "stockade_exec_total{result=\"%s\"} %lu\n", exec_names[r],
			exec_results[r]);
	fprintf(out, "# HELP stockade_exec_duration_seconds How long execs ran.\n"
		     "# TYPE stockade_exec_duration_seconds histogram\n");
	unsigned long cumulative = 0;
	for (int b = 0; b < SERVE_HISTOGRAM_BUCKETS; b++) {
		cumulative += buckets[b];
		fprintf(out, "stockade_exec_duration_seconds_bucket{le=\"%g\"} %lu\n",
			serve_exec_bucket_bounds[b], cumulative);
	}
	cumulative += buckets[SERVE_HISTOGRAM_BUCKETS];
	fprintf(out,
		"stockade_exec_duration_seconds_bucket{le=\"+Inf\"} %lu\n"
		"stockade_exec_duration_seconds_sum %.6f\n"
		"stockade_exec_duration_seconds_count %lu\n",
		cumulative, exec_seconds, cumulative);
	pthread_mutex_lock(&s->lock);
	unsigned long egress[2] = {s->egress[0], s->egress[1]};
	pthread_mutex_unlock(&s->lock);
	fprintf(out,
		"# HELP stockade_egress_decisions_total The egress proxy's decisions, counted when "
		"a sandbox of this daemon is removed.\n"
		"# TYPE stockade_egress_decisions_total counter\n"
		"stockade_egress_decisions_total{decision=\"allowed\"} %lu\n"
		"stockade_egress_decisions_total{decision=\"denied\"} %lu\n",
		egress[0], egress[1]);
	unsigned available, target;
	serve_pool_counts(s, &available, &target);
	fprintf(out,
		"# HELP stockade_pool_available Warm sandboxes ready now (serve --pool).\n"
		"# TYPE stockade_pool_available gauge\n"
		"stockade_pool_available %u\n"
		"# HELP stockade_pool_target Warm sandboxes the pool keeps.\n"
		"# TYPE stockade_pool_target gauge\n"
		"stockade_pool_target %u\n",
		available, target);
	fclose(out);
	json_decref(doc);
	return serve_respond(s, conn, 200, "text/plain; version=0.0.4; charset=utf-8", text);
}
