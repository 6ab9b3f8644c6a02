/* The JSON run report (jansson). Stable keys: version, command, exit, duration_ms,
 * kernel, max_rss_kb, egress{allowed, denied}, tty{mode, pty},
 * layers{name: {applied, degraded, detail}}, degraded[]. */
#include "sandbox/report.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

void report_layer(struct run_report *report, const char *name, bool is_applied, bool is_degraded,
		  const char *detail)
{
	struct report_layer *layer = NULL;

	for (int i = 0; i < report->layer_count; i++)
		if (strcmp(report->layers[i].name, name) == 0)
			layer = &report->layers[i];
	if (!layer) {
		if (report->layer_count >= REPORT_MAX_LAYERS)
			return;
		layer = &report->layers[report->layer_count++];
	}
	sk_strlcpy(layer->name, name, sizeof(layer->name));
	layer->is_applied = is_applied;
	layer->is_degraded = is_degraded;
	sk_strlcpy(layer->detail, detail ? detail : "", sizeof(layer->detail));
}

static const char *const tty_modes[] = {SANDBOX_TTY_MODE_NAMES};

static json_t *exit_json(const struct sandbox_result *result)
{
	return json_pack("{s:b, s:b, s:o, s:o, s:b, s:b, s:b}", "started", result->started,
			 "exited", result->exited, "code",
			 result->exited ? json_integer(result->exit_code) : json_null(), "signal",
			 result->term_signal ? json_integer(result->term_signal) : json_null(),
			 "timed_out", result->timed_out, "output_limit_exceeded",
			 result->output_limit_hit, "oom_killed", result->oom_killed);
}

static json_t *report_json(const struct sandbox_spec *spec, const struct run_report *report,
			   const struct sandbox_result *result)
{
	json_t *root = json_object(), *command = json_array(), *layers = json_object();
	json_t *degraded = json_array();

	for (char *const *arg = spec->argv; *arg; arg++)
		json_array_append_new(command, json_string(*arg));
	for (int i = 0; i < report->layer_count; i++) {
		const struct report_layer *l = &report->layers[i];
		json_object_set_new(layers, l->name,
				    json_pack("{s:b, s:b, s:s}", "applied", l->is_applied,
					      "degraded", l->is_degraded, "detail", l->detail));
		if (l->is_degraded)
			json_array_append_new(degraded, json_string(l->name));
	}
	struct utsname uts;

	json_object_set_new(root, "version", json_string(STOCKADE_VERSION));
	if (uname(&uts) == 0)
		json_object_set_new(root, "kernel", json_string(uts.release));
	json_object_set_new(root, "command", command);
	json_object_set_new(root, "exit", exit_json(result));
	json_object_set_new(root, "duration_ms", json_integer((json_int_t)result->duration_ms));
	json_object_set_new(root, "max_rss_kb", json_integer(result->max_rss_kb));
	json_object_set_new(root, "egress",
			    json_pack("{s:I, s:I}", "allowed", (json_int_t)result->egress_allowed,
				      "denied", (json_int_t)result->egress_denied));
	json_object_set_new(
	    root, "tty",
	    json_pack("{s:s, s:b}", "mode", tty_modes[spec->tty_mode], "pty", result->has_pty));
	json_object_set_new(root, "layers", layers);
	json_object_set_new(root, "degraded", degraded);
	return root;
}

int report_write(int fd, const char *path, const struct sandbox_spec *spec,
		 const struct run_report *report, const struct sandbox_result *result,
		 struct sk_err *err)
{
	json_t *root = report_json(spec, report, result);
	char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	int rc = 0;
	size_t len;

	json_decref(root);
	if (!text)
		return sk_fail(err, "report", ENOMEM, NULL, "encoding the report");
	len = strlen(text);
	/* Truncated now, not when opened: a run refused before it started keeps an older report
	 * intact until this one replaces it. */
	if (ftruncate(fd, 0) < 0)
		rc = sk_fail(err, "report", errno, NULL, "truncate %s", path);
	else if (pwrite(fd, text, len, 0) != (ssize_t)len || pwrite(fd, "\n", 1, (off_t)len) != 1)
		rc = sk_fail(err, "report", errno, NULL, "write(%s)", path);
	free(text);
	return rc;
}
