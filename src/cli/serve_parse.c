/* See serve_parse.h. */
#define _GNU_SOURCE
#include "cli/serve_parse.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/textenc.h"
#include "util/err.h"
#include "util/macros.h"

#define EXEC_TIMEOUT_MAX_S (7 * 24 * 3600.0)

static bool is_exec_id(const char *s)
{
	size_t n = strlen(s);

	return n == SERVE_EXEC_ID_LEN && strspn(s, "0123456789abcdef") == n;
}

void serve_route_parse(const char *url, struct serve_route *r)
{
	static const char prefix[] = "/v1/sandboxes";
	const char *rest;
	size_t len;

	memset(r, 0, sizeof(*r));
	r->kind = ROUTE_NONE;
	if (strcmp(url, "/v1/run") == 0) {
		r->kind = ROUTE_RUN;
		return;
	}
	if (strncmp(url, prefix, sizeof(prefix) - 1) != 0)
		return;
	rest = url + sizeof(prefix) - 1;
	if (!*rest || strcmp(rest, "/") == 0) {
		r->kind = ROUTE_BOXES;
		return;
	}
	if (rest[0] != '/')
		return;
	rest++;
	len = strcspn(rest, "/");
	r->kind = ROUTE_NO_BOX;
	if (len == 0 || len > BOX_NAME_MAX)
		return;
	memcpy(r->name, rest, len);
	r->name[len] = '\0';
	if (box_check_name(r->name) < 0) {
		r->name[0] = '\0';
		return;
	}
	rest += len;
	if (!*rest)
		r->kind = ROUTE_BOX;
	else if (strcmp(rest, "/exec") == 0)
		r->kind = ROUTE_EXECS;
	else if (strcmp(rest, "/files") == 0)
		r->kind = ROUTE_FILES;
	else if (strncmp(rest, "/exec/", 6) == 0 && is_exec_id(rest + 6)) {
		r->kind = ROUTE_EXEC;
		sk_strlcpy(r->id, rest + 6, sizeof(r->id));
	} else
		r->kind = ROUTE_NONE;
}

static int bad(char *message, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bad(char *message, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, size, fmt, ap);
	va_end(ap);
	return -1;
}

/* A JSON string that holds no NUL (C sees all of it). */
static bool is_plain_string(const json_t *v)
{
	return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v);
}

static int parse_env(const json_t *env, struct serve_exec_request *out, char *message, size_t size)
{
	const char *key;
	json_t *value;
	size_t need = 1;

	if (!json_is_object(env) || json_object_size(env) > SANDBOX_MAX_ENV)
		return bad(message, size, "env: an object of at most %d names and string values",
			   SANDBOX_MAX_ENV);
	json_object_foreach((json_t *)env, key, value)
	{
		/* The name's full rules are the sandbox's: PID 1 checks every KEY again. */
		if (!key[0] || strchr(key, '=') || !is_plain_string(value))
			return bad(message, size, "env.%.64s: a variable name and a string", key);
		need += strlen(key) + json_string_length(value) + 2;
	}
	out->env_text = malloc(need);
	if (!out->env_text)
		return bad(message, size, "out of memory");
	char *at = out->env_text;
	json_object_foreach((json_t *)env, key, value)
	{
		out->body.env[out->body.env_count++] = at;
		at += sprintf(at, "%s=%s", key, json_string_value(value)) + 1;
	}
	return 0;
}

int serve_exec_parse(const json_t *req, uint64_t default_output, uint64_t max_output,
		     struct serve_exec_request *out, char *message, size_t size)
{
	static const char *const known[] = {"cmd",     "env",	"cwd",
					    "timeout", "stdin", "max_output_bytes"};
	const char *key;
	json_t *value;
	size_t i;

	memset(out, 0, sizeof(*out));
	out->body.kind = SERVICE_EXEC;
	out->output_cap = MIN(default_output, max_output);
	if (!json_is_object(req))
		return bad(message, size, "the body is not a JSON object");
	json_object_foreach((json_t *)req, key, value)
	{
		bool is_known = false;
		for (i = 0; i < ARRAY_SIZE(known); i++)
			is_known = is_known || strcmp(key, known[i]) == 0;
		if (!is_known)
			return bad(message, size,
				   "%.64s: unknown field (cmd, env, cwd, timeout, stdin, "
				   "max_output_bytes)",
				   key);
	}
	const json_t *cmd = json_object_get(req, "cmd");
	if (!json_is_array(cmd) || json_array_size(cmd) == 0 ||
	    json_array_size(cmd) > SERVICE_MAX_ARGS)
		return bad(message, size, "cmd: an array of 1 to %d strings", SERVICE_MAX_ARGS);
	json_array_foreach(cmd, i, value)
	{
		if (!is_plain_string(value) || (i == 0 && !json_string_length(value)))
			return bad(message, size,
				   "cmd[%zu]: a string without NUL (cmd[0] not empty)", i);
		out->body.argv[out->body.argc++] = (char *)json_string_value(value);
	}
	const json_t *cwd = json_object_get(req, "cwd");
	if (cwd && !json_is_null(cwd)) {
		if (!is_plain_string(cwd) || json_string_value(cwd)[0] != '/' ||
		    json_string_length(cwd) > SANDBOX_WORKDIR_MAX)
			return bad(message, size, "cwd: an absolute path");
		out->body.workdir = json_string_value(cwd);
	}
	const json_t *env = json_object_get(req, "env");
	if (env && !json_is_null(env) && parse_env(env, out, message, size) < 0)
		return -1;
	const json_t *timeout = json_object_get(req, "timeout");
	if (timeout && !json_is_null(timeout)) {
		if (!json_is_number(timeout) || !(json_number_value(timeout) > 0) ||
		    json_number_value(timeout) > EXEC_TIMEOUT_MAX_S)
			return bad(message, size, "timeout: seconds, more than 0, at most a week");
		out->timeout_s = json_number_value(timeout);
	}
	const json_t *cap = json_object_get(req, "max_output_bytes");
	if (cap && !json_is_null(cap)) {
		if (!json_is_integer(cap) || json_integer_value(cap) < 0 ||
		    (uint64_t)json_integer_value(cap) > max_output)
			return bad(message, size, "max_output_bytes: an integer from 0 to %llu",
				   (unsigned long long)max_output);
		out->output_cap = (uint64_t)json_integer_value(cap);
	}
	const json_t *in = json_object_get(req, "stdin");
	if (in && !json_is_null(in)) {
		if (!json_is_string(in))
			return bad(message, size, "stdin: base64 text");
		out->input = textenc_base64_decode(json_string_value(in), json_string_length(in),
						   &out->input_len);
		if (!out->input)
			return bad(message, size, "stdin: %s",
				   errno == ENOMEM ? "out of memory" : "not base64");
		if (out->input_len == 0) { /* an empty stdin is one at its end at once: /dev/null */
			free(out->input);
			out->input = NULL;
		}
	}
	/* What PID 1 will parse: it must fit one datagram. */
	char *probe = malloc(SERVICE_BODY_MAX);
	long len = probe ? service_body_build(probe, SERVICE_BODY_MAX, &out->body) : -1;
	free(probe);
	if (len < 0)
		return bad(message, size, "cmd, cwd and env together: at most %d bytes",
			   SERVICE_BODY_MAX);
	return 0;
}

void serve_exec_request_free(struct serve_exec_request *out)
{
	free(out->env_text);
	free(out->input);
	out->env_text = NULL;
	out->input = NULL;
}
