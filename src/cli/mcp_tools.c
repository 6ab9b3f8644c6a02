/* stockade mcp's tools: each one's arguments (one table gives both its inputSchema and the
 * checks), its outputSchema, and the stockade commands it runs (cli/mcp_box.c for those that
 * act on sandboxes). What a model passes is only ever a value in a fixed place of argv: a
 * sandbox's name, a path or a command after `--`, an `-e KEY=VALUE`; never a flag. The policy
 * comes from the operator's --policy and --profile, and a profile the model names must be one
 * the operator allowed. */
#define _GNU_SOURCE
#include "cli/mcp_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "sandbox/env.h"
#include "util/clock.h"
#include "util/macros.h"
#include "util/textenc.h"

#define POLICY_SHOW_MAX (256 * 1024)
#define QUICK_TIMEOUT_MS 60000 /* a command that is not the model's: ps, rm, policy show */

/* ---- arguments ---- */

static const char NAME_PATTERN[] = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$";

/* A string: in argv it may hold no NUL (it would end there, silently). */
static bool has_nul(const json_t *value)
{
	return strlen(json_string_value(value)) != json_string_length(value);
}

static const char *type_check(const struct mcp_session *s, const struct mcp_field *f,
			      const json_t *v, char *why, size_t size)
{
	const char *key;
	json_t *item;
	size_t i;

	switch (f->type) {
	case MCP_NAME:
		if (!json_is_string(v) || box_check_name(json_string_value(v)) < 0 || has_nul(v))
			return "a name of 1-64 letters, digits, '_', '.' or '-', starting with a "
			       "letter or digit";
		return NULL;
	case MCP_PATH:
		if (!json_is_string(v) || json_string_value(v)[0] != '/' || has_nul(v) ||
		    json_string_length(v) >= PATH_MAX)
			return "an absolute path inside the sandbox";
		return NULL;
	case MCP_STRING:
		return json_is_string(v) && !has_nul(v) ? NULL : "a string without NUL";
	case MCP_TEXT:
		return json_is_string(v) ? NULL : "a string";
	case MCP_BOOL:
		return json_is_boolean(v) ? NULL : "true or false";
	case MCP_SECONDS:
		if (!json_is_number(v) || json_number_value(v) <= 0)
			return "a number of seconds above 0";
		if (json_number_value(v) * 1000.0 > (double)s->opts->max_timeout_ms) {
			snprintf(why, size, "at most %.3g seconds: the operator's limit",
				 (double)s->opts->max_timeout_ms / 1000.0);
			return why;
		}
		return NULL;
	case MCP_ARGV:
		if (!json_is_array(v) || json_array_size(v) == 0 ||
		    json_array_size(v) > MCP_ARGV_MAX)
			return "an array of 1 to 1024 strings (the program, then its arguments)";
		json_array_foreach(v, i, item)
		{
			if (!json_is_string(item) || has_nul(item))
				return "an array of strings without NUL";
		}
		if (json_string_length(json_array_get(v, 0)) == 0)
			return "an array whose first string names a program";
		return NULL;
	case MCP_ENV:
		if (!json_is_object(v) || json_object_size(v) > MCP_ENV_MAX)
			return "an object of at most 64 NAME: value strings";
		json_object_foreach((json_t *)v, key, item)
		{
			if (!env_is_valid_key(key, strlen(key)) || !json_is_string(item) ||
			    has_nul(item))
				return "an object of NAME: value strings (NAME: letters, digits "
				       "and '_', not starting with a digit)";
		}
		return NULL;
	case MCP_PROFILE:
		if (!json_is_string(v))
			return "a profile's name";
		for (size_t k = 0; k < s->opts->allowed_count; k++)
			if (strcmp(json_string_value(v), s->opts->allowed[k]) == 0)
				return NULL;
		return "one of the profiles the operator allows (describe_policy lists them)";
	case MCP_ENCODING:
		if (json_is_string(v) && (strcmp(json_string_value(v), "utf-8") == 0 ||
					  strcmp(json_string_value(v), "base64") == 0))
			return NULL;
		return "\"utf-8\" or \"base64\"";
	}
	return "a value of another kind";
}

static void field_names(const struct mcp_tool *tool, char *buf, size_t size)
{
	buf[0] = '\0';
	for (const struct mcp_field *f = tool->fields; f->name; f++) {
		sk_strlcat(buf, f == tool->fields ? "" : ", ", size);
		sk_strlcat(buf, f->name, size);
	}
	if (!buf[0])
		sk_strlcpy(buf, "none", size);
}

bool mcp_tool_check_args(struct mcp_session *s, struct mcp_call *c)
{
	const struct mcp_tool *tool = c->tool;
	char why[128], names[256];
	const char *key, *problem;
	json_t *value;

	json_object_foreach(c->args, key, value)
	{
		const struct mcp_field *f = tool->fields;
		while (f->name && strcmp(f->name, key) != 0)
			f++;
		if (!f->name) {
			field_names(tool, names, sizeof(names));
			mcp_deny(s, c,
				 "%s takes no argument '%.64s' (it takes: %s); the policy is "
				 "the operator's and no argument changes it",
				 tool->name, key, names);
			return false;
		}
		if ((problem = type_check(s, f, value, why, sizeof(why)))) {
			mcp_deny(s, c, "argument '%s' must be %s", f->name, problem);
			return false;
		}
	}
	for (const struct mcp_field *f = tool->fields; f->name; f++)
		if (f->is_required && !json_object_get(c->args, f->name)) {
			mcp_deny(s, c, "argument '%s' is required", f->name);
			return false;
		}
	return true;
}

static json_t *field_schema(const struct mcp_session *s, const struct mcp_field *f)
{
	json_t *p = json_object(), *list;

	switch (f->type) {
	case MCP_NAME:
		json_object_set_new(p, "type", json_string("string"));
		json_object_set_new(p, "pattern", json_string(NAME_PATTERN));
		break;
	case MCP_PATH:
		json_object_set_new(p, "type", json_string("string"));
		json_object_set_new(p, "pattern", json_string("^/"));
		break;
	case MCP_STRING:
	case MCP_TEXT:
		json_object_set_new(p, "type", json_string("string"));
		break;
	case MCP_BOOL:
		json_object_set_new(p, "type", json_string("boolean"));
		break;
	case MCP_SECONDS:
		json_object_set_new(p, "type", json_string("number"));
		json_object_set_new(p, "exclusiveMinimum", json_integer(0));
		json_object_set_new(p, "maximum",
				    json_real((double)s->opts->max_timeout_ms / 1000.0));
		break;
	case MCP_ARGV:
		json_object_set_new(p, "type", json_string("array"));
		json_object_set_new(p, "items", json_pack("{s:s}", "type", "string"));
		json_object_set_new(p, "minItems", json_integer(1));
		json_object_set_new(p, "maxItems", json_integer(MCP_ARGV_MAX));
		break;
	case MCP_ENV:
		json_object_set_new(p, "type", json_string("object"));
		json_object_set_new(p, "additionalProperties",
				    json_pack("{s:s}", "type", "string"));
		json_object_set_new(p, "maxProperties", json_integer(MCP_ENV_MAX));
		break;
	case MCP_PROFILE:
		list = json_array();
		for (size_t k = 0; k < s->opts->allowed_count; k++)
			json_array_append_new(list, json_string(s->opts->allowed[k]));
		json_object_set_new(p, "type", json_string("string"));
		json_object_set_new(p, "enum", list);
		break;
	case MCP_ENCODING:
		json_object_set_new(p, "type", json_string("string"));
		json_object_set_new(p, "enum", json_pack("[s,s]", "utf-8", "base64"));
		json_object_set_new(p, "default", json_string("utf-8"));
		break;
	}
	json_object_set_new(p, "description", json_string(f->description));
	return p;
}

static json_t *input_schema(const struct mcp_session *s, const struct mcp_tool *tool)
{
	json_t *props = json_object(), *required = json_array();

	for (const struct mcp_field *f = tool->fields; f->name; f++) {
		if (f->type == MCP_PROFILE && s->opts->allowed_count == 0)
			continue; /* nothing to choose from */
		json_object_set_new(props, f->name, field_schema(s, f));
		if (f->is_required)
			json_array_append_new(required, json_string(f->name));
	}
	return json_pack("{s:s, s:o, s:o, s:b}", "type", "object", "properties", props, "required",
			 required, "additionalProperties", 0);
}

/* ---- results ---- */

/* The answer to a call: its structured output, and the same as JSON text (for clients that
 * read only text, and for protocol 2025-03-26, which has no structured output). */
void mcp_succeed(struct mcp_session *s, struct mcp_call *c, json_t *structured)
{
	char *text = json_dumps(structured, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_t *content = json_pack("[{s:s, s:s}]", "type", "text", "text", text ? text : "{}");

	free(text);
	c->result = json_pack("{s:o, s:b}", "content", content, "isError", 0);
	if (mcp_is_legacy_protocol(s))
		json_decref(structured);
	else
		json_object_set_new(c->result, "structuredContent", structured);
}

static void refuse_v(struct mcp_session *s, struct mcp_call *c, const char *fmt, va_list ap)
{
	char text[1024];

	vsnprintf(text, sizeof(text), fmt, ap);
	mcp_text_repair(text, sizeof(text)); /* a cut or a byte of a path: still a JSON string */
	c->result = json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text", text,
			      "isError", 1);
	sk_strlcpy(s->denial_tool, c->tool->name, sizeof(s->denial_tool));
	sk_strlcpy(s->denial, text, sizeof(s->denial));
	mcp_text_repair(s->denial, sizeof(s->denial));
	s->denial_at = (long long)time(NULL);
}

void mcp_text_repair(char *text, size_t size)
{
	size_t len = strlen(text);
	char *fixed = textenc_utf8_repair(text, textenc_utf8_cut(text, len), &len, NULL);

	if (!fixed) {
		text[0] = '\0';
		return;
	}
	sk_strlcpy(text, fixed, size);
	free(fixed);
	len = strlen(text); /* a U+FFFD the copy cut short goes too */
	text[textenc_utf8_cut(text, len)] = '\0';
}

void mcp_deny(struct mcp_session *s, struct mcp_call *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	refuse_v(s, c, fmt, ap);
	va_end(ap);
}

void mcp_fail_from_child(struct mcp_session *s, struct mcp_call *c, const char *what)
{
	char line[600];
	const char *text = c->child.err.buf ? c->child.err.buf : "";
	size_t len = c->child.err.len;

	if (mcp_child_refusal(&c->child, line, sizeof(line))) {
		mcp_deny(s, c, "%s: %s", what, line);
		return;
	}
	/* Not stockade's line (find's, rm's): the last line the command printed. */
	while (len > 0 && text[len - 1] == '\n')
		len--;
	const char *start = memrchr(text, '\n', len);
	start = start ? start + 1 : text;
	char *repaired = textenc_utf8_repair(start, (size_t)(text + len - start), NULL, NULL);
	mcp_deny(s, c, "%s: %.500s (exit %d)", what, repaired && *repaired ? repaired : "failed",
		 mcp_child_exit_code(&c->child));
	free(repaired);
}

/* A capture as text for the model: valid UTF-8, and when cut, cut between characters and
 * marked at its end with what was left out. */
json_t *mcp_output_text(const struct mcp_capture *cap, bool *is_truncated)
{
	bool is_cut = cap->total > cap->len;
	size_t len = is_cut ? textenc_utf8_cut(cap->buf, cap->len) : cap->len, fixed;
	char *text = textenc_utf8_repair(cap->buf ? cap->buf : "", len, &fixed, NULL);
	json_t *out;

	if (!text)
		return json_string("");
	if (is_cut) {
		char marker[160];
		int n = snprintf(marker, sizeof(marker),
				 "\n[stockade: output truncated: %llu bytes in all, the first %zu "
				 "kept]",
				 (unsigned long long)cap->total, len);
		char *joined = realloc(text, fixed + (size_t)n + 1);
		if (joined) {
			text = joined;
			memcpy(text + fixed, marker, (size_t)n + 1);
			fixed += (size_t)n;
		}
		*is_truncated = true;
	}
	out = json_stringn(text, fixed);
	free(text);
	return out ? out : json_string("");
}

/* ---- argv ---- */

void mcp_argv_init(struct mcp_argv *a)
{
	memset(a, 0, sizeof(*a));
}

void mcp_argv_add(struct mcp_argv *a, const char *arg)
{
	if (a->count < ARRAY_SIZE(a->argv) - 1)
		a->argv[a->count++] = (char *)arg;
}

/* An argument of our own making, freed with the rest. */
void mcp_argv_addf(struct mcp_argv *a, const char *fmt, ...)
{
	va_list ap;
	char *text = NULL;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	if (!text || a->owned_count >= ARRAY_SIZE(a->owned)) {
		free(text);
		a->is_broken = true;
		return;
	}
	a->owned[a->owned_count++] = text;
	mcp_argv_add(a, text);
}

void mcp_argv_free(struct mcp_argv *a)
{
	for (size_t i = 0; i < a->owned_count; i++)
		free(a->owned[i]);
	a->owned_count = 0;
}

/* The operator's policy, the only one there is: --policy, and the profile (the model's choice
 * among the allowed, checked, or the operator's default). */
void mcp_argv_policy(struct mcp_argv *a, const struct mcp_session *s, const char *profile)
{
	if (s->opts->policy) {
		mcp_argv_add(a, "--policy");
		mcp_argv_add(a, s->opts->policy);
	}
	if (profile && *profile) {
		mcp_argv_add(a, "--profile");
		mcp_argv_add(a, profile);
	}
}

bool mcp_spawn(struct mcp_session *s, struct mcp_call *c, struct mcp_argv *a, size_t out_cap,
	       uint64_t timeout_ms)
{
	struct sk_err err = {0};
	int rc = -1;

	if (!a->is_broken && a->count < ARRAY_SIZE(a->argv) - 1) {
		a->argv[a->count] = NULL;
		rc = mcp_child_start(&c->child, s->self, a->argv, c->stdin_fd,
				     a->is_tied ? s->tie[0] : -1, out_cap, s->opts->output_cap,
				     timeout_ms, &err);
	} else {
		(void)sk_fail(&err, "mcp", E2BIG, NULL, "too many arguments");
	}
	mcp_argv_free(a);
	if (rc < 0)
		mcp_deny(s, c, "could not start stockade: %s: %s", err.op, strerror(err.errnum));
	return rc == 0;
}

/* ---- sandbox_list, describe_policy ---- */

static const char *state_name(enum mcp_box_state state)
{
	return state == MCP_BOX_CREATING ? "creating" : "destroying";
}

static void list_start(struct mcp_session *s, struct mcp_call *c)
{
	struct mcp_argv a;

	mcp_argv_init(&a);
	mcp_argv_add(&a, "stockade");
	mcp_argv_add(&a, "ps");
	mcp_argv_add(&a, "--json");
	(void)mcp_spawn(s, c, &a, 4u << 20, QUICK_TIMEOUT_MS);
}

static void list_done(struct mcp_session *s, struct mcp_call *c)
{
	json_t *ps = json_loads(c->child.out.buf ? c->child.out.buf : "", 0, NULL);
	json_t *list = json_array(), *entry;
	size_t i;

	if (!json_is_array(ps)) {
		json_decref(ps);
		json_decref(list);
		mcp_fail_from_child(s, c, "stockade ps");
		return;
	}
	for (size_t k = 0; k < MCP_SANDBOXES_LIMIT; k++) {
		const struct mcp_sandbox *b = &s->sandboxes[k];
		json_t *seen = NULL;
		if (b->state == MCP_BOX_FREE)
			continue;
		json_array_foreach(ps, i, entry)
		{
			const char *name = json_string_value(json_object_get(entry, "name"));
			if (name && strcmp(name, b->name) == 0)
				seen = entry;
		}
		const char *status = json_string_value(json_object_get(seen, "status"));
		if (b->state != MCP_BOX_READY)
			status = state_name(b->state);
		json_array_append_new(list,
				      json_pack("{s:s, s:s, s:s?, s:I, s:O?, s:O?}", "name",
						b->name, "status", status ? status : "gone",
						"profile", b->profile[0] ? b->profile : NULL,
						"created", (json_int_t)b->created, "processes",
						json_object_get(seen, "processes"), "memory_kb",
						json_object_get(seen, "memory_kb")));
	}
	json_decref(ps);
	mcp_succeed(s, c, json_pack("{s:o, s:b}", "sandboxes", list, "truncated", 0));
}

const char *mcp_policy_profile(const struct mcp_options *o, size_t index, bool *exists)
{
	*exists = true;
	if (!o->profile) { /* index 0 is "none"; allowed[] holds no default */
		if (index == 0)
			return NULL;
		index--;
	}
	if (index < o->allowed_count)
		return o->allowed[index];
	*exists = false;
	return NULL;
}

static void policy_start_step(struct mcp_session *s, struct mcp_call *c)
{
	struct mcp_argv a;
	bool exists;
	const char *profile = mcp_policy_profile(s->opts, (size_t)c->step, &exists);

	mcp_argv_init(&a);
	mcp_argv_add(&a, "stockade");
	mcp_argv_add(&a, "policy");
	mcp_argv_add(&a, "show");
	mcp_argv_policy(&a, s, profile);
	(void)mcp_spawn(s, c, &a, POLICY_SHOW_MAX, QUICK_TIMEOUT_MS);
}

static void policy_start(struct mcp_session *s, struct mcp_call *c)
{
	c->gathered = json_array();
	policy_start_step(s, c);
}

static json_t *session_limits(const struct mcp_session *s)
{
	unsigned used = 0;

	for (size_t k = 0; k < MCP_SANDBOXES_LIMIT; k++)
		used += s->sandboxes[k].state != MCP_BOX_FREE;
	return json_pack("{s:f, s:I, s:i, s:i}", "max_timeout_s",
			 (double)s->opts->max_timeout_ms / 1000.0, "output_cap_bytes",
			 (json_int_t)s->opts->output_cap, "max_sandboxes", s->opts->max_sandboxes,
			 "sandboxes_in_use", used);
}

static void policy_done(struct mcp_session *s, struct mcp_call *c)
{
	bool exists, is_truncated = c->child.out.total > c->child.out.len;
	const char *profile = mcp_policy_profile(s->opts, (size_t)c->step, &exists);
	json_t *spec = json_loads(c->child.out.buf ? c->child.out.buf : "", 0, NULL);

	if (!spec && !is_truncated) {
		mcp_fail_from_child(s, c, "stockade policy show");
		return;
	}
	json_array_append_new(c->gathered,
			      json_pack("{s:s?, s:b, s:o?, s:b}", "name", profile, "is_default",
					c->step == 0, "spec", spec, "truncated", is_truncated));
	mcp_child_release(&c->child);
	c->step++;
	(void)mcp_policy_profile(s->opts, (size_t)c->step, &exists);
	if (exists) {
		policy_start_step(s, c);
		return;
	}
	json_t *denial = s->denial[0]
			     ? json_pack("{s:s, s:s, s:I}", "tool", s->denial_tool, "reason",
					 s->denial, "at", (json_int_t)s->denial_at)
			     : json_null();
	mcp_succeed(s, c,
		    json_pack("{s:s?, s:O, s:o, s:o, s:b}", "default_profile", s->opts->profile,
			      "profiles", c->gathered, "session", session_limits(s), "last_denial",
			      denial, "truncated", 0));
}

/* ---- the table ---- */

static const struct mcp_field no_fields[] = {{0}};

static const struct mcp_field create_fields[] = {
    {"name", MCP_NAME, false,
     "Its name (default: one is made up). Letters, digits, '_', '.', '-'."},
    {"profile", MCP_PROFILE, false,
     "One of the operator's profiles (default: the operator's default). Network, limits, "
     "volumes and secrets are the operator's: describe_policy shows each profile's."},
    {0}};

static const struct mcp_field sandbox_only[] = {
    {"sandbox", MCP_NAME, true, "A sandbox made by sandbox_create over this connection."}, {0}};

#define EXEC_FIELDS                                                                                \
	{"command", MCP_ARGV, false,                                                               \
	 "The program and its arguments, run as they are (no shell). Exactly one of command "      \
	 "and shell."},                                                                            \
	    {"shell", MCP_STRING, false,                                                           \
	     "A script for `sh -c`. Exactly one of command and shell."},                           \
	    {"cwd", MCP_PATH, false, "The working directory inside the sandbox."},                 \
	    {"env", MCP_ENV, false, "Variables to add: {\"NAME\": \"value\"}."},                   \
	    {"timeout", MCP_SECONDS, false,                                                        \
	     "Seconds until SIGTERM (SIGKILL 2 s later); default and maximum: the operator's."},   \
	{                                                                                          \
		"stdin", MCP_TEXT, false, "Text given to the command as its standard input."       \
	}

static const struct mcp_field exec_fields[] = {
    {"sandbox", MCP_NAME, true, "A sandbox made by sandbox_create over this connection."},
    EXEC_FIELDS,
    {0}};

static const struct mcp_field run_fields[] = {
    EXEC_FIELDS,
    {"profile", MCP_PROFILE, false, "One of the operator's profiles (default: the operator's)."},
    {0}};

static const struct mcp_field read_fields[] = {
    {"sandbox", MCP_NAME, true, "A sandbox made by sandbox_create over this connection."},
    {"path", MCP_PATH, true, "An absolute path of a file inside the sandbox."},
    {"encoding", MCP_ENCODING, false,
     "utf-8 (bytes that are not UTF-8 become U+FFFD) or base64 (any bytes)."},
    {0}};

static const struct mcp_field write_fields[] = {
    {"sandbox", MCP_NAME, true, "A sandbox made by sandbox_create over this connection."},
    {"path", MCP_PATH, true,
     "An absolute path inside the sandbox: the file is made or replaced (its directory must "
     "exist; a directory there is refused)."},
    {"content", MCP_TEXT, true, "The file's content, in the encoding given."},
    {"encoding", MCP_ENCODING, false, "utf-8 (the text as it is) or base64 (any bytes)."},
    {0}};

static const struct mcp_field list_files_fields[] = {
    {"sandbox", MCP_NAME, true, "A sandbox made by sandbox_create over this connection."},
    {"path", MCP_PATH, true, "An absolute path of a directory inside the sandbox."},
    {0}};

static const struct mcp_field delete_fields[] = {
    {"sandbox", MCP_NAME, true, "A sandbox made by sandbox_create over this connection."},
    {"path", MCP_PATH, true, "An absolute path inside the sandbox."},
    {"recursive", MCP_BOOL, false,
     "Remove a directory and everything in it (default: false: "
     "a file, a link or an empty directory)."},
    {0}};

/* Outputs: every field is always there (a null where a type says so). */
static const struct mcp_out create_out[] = {
    {"name", "string", NULL}, {"profile", "string|null", NULL}, {0}};
static const struct mcp_out sandbox_out[] = {{"name", "string", NULL},
					     {"status", "string", NULL},
					     {"profile", "string|null", NULL},
					     {"created", "integer", NULL},
					     {"processes", "integer|null", NULL},
					     {"memory_kb", "integer|null", NULL},
					     {0}};
static const struct mcp_out list_out[] = {
    {"sandboxes", "array", sandbox_out}, {"truncated", "boolean", NULL}, {0}};
static const struct mcp_out destroy_out[] = {
    {"sandbox", "string", NULL}, {"destroyed", "boolean", NULL}, {0}};
static const struct mcp_out exec_out[] = {{"exit_code", "integer", NULL},
					  {"stdout", "string", NULL},
					  {"stderr", "string", NULL},
					  {"truncated", "boolean", NULL},
					  {"duration_ms", "integer", NULL},
					  {"timed_out", "boolean", NULL},
					  {0}};
static const struct mcp_out read_out[] = {
    {"path", "string", NULL},  {"content", "string", NULL},    {"encoding", "string", NULL},
    {"size", "integer", NULL}, {"truncated", "boolean", NULL}, {0}};
static const struct mcp_out write_out[] = {
    {"path", "string", NULL}, {"size", "integer", NULL}, {0}};
static const struct mcp_out entry_out[] = {
    {"name", "string", NULL}, {"type", "string", NULL}, {"size", "integer", NULL}, {0}};
static const struct mcp_out list_files_out[] = {
    {"path", "string", NULL}, {"entries", "array", entry_out}, {"truncated", "boolean", NULL}, {0}};
static const struct mcp_out delete_out[] = {
    {"path", "string", NULL}, {"deleted", "boolean", NULL}, {0}};
static const struct mcp_out profile_out[] = {{"name", "string|null", NULL},
					     {"is_default", "boolean", NULL},
					     {"spec", "object|null", NULL},
					     {"truncated", "boolean", NULL},
					     {0}};
static const struct mcp_out policy_out[] = {{"default_profile", "string|null", NULL},
					    {"profiles", "array", profile_out},
					    {"session", "object", NULL},
					    {"last_denial", "object|null", NULL},
					    {"truncated", "boolean", NULL},
					    {0}};

static const struct mcp_tool tools[] = {
    {"sandbox_create", "Create a sandbox",
     "Creates a sandbox that lives until sandbox_destroy or the end of this connection: a "
     "Linux sandbox (own namespaces, no capabilities, seccomp, Landlock, the operator's "
     "network rules and limits) in which exec, read_file, write_file, list_files and "
     "delete_file work. Returns its name.",
     false, false, false, create_fields, create_out, mcp_box_create_start, mcp_box_create_done},
    {"sandbox_list", "List sandboxes",
     "Lists the sandboxes made over this connection, with their status.", true, false, true,
     no_fields, list_out, list_start, list_done},
    {"sandbox_destroy", "Destroy a sandbox",
     "Stops a sandbox made over this connection (every process in it) and removes it.", false, true,
     true, sandbox_only, destroy_out, mcp_box_destroy_start, mcp_box_destroy_done},
    {"exec", "Run a command in a sandbox",
     "Runs a command in a sandbox made by sandbox_create, as its unprivileged user with all "
     "its layers. A non-zero exit is a result, not an error. Output is capped (truncated, "
     "with a marker at the cut).",
     false, true, false, exec_fields, exec_out, mcp_box_exec_start, mcp_box_exec_done},
    {"run", "Run a command in a new sandbox",
     "Runs one command in a sandbox of its own, removed when the command ends (nothing is "
     "kept). Same output as exec.",
     false, false, false, run_fields, exec_out, mcp_box_exec_start, mcp_box_exec_done},
    {"read_file", "Read a file in a sandbox",
     "Reads a file inside a sandbox; at most the operator's output cap (truncated says so).", true,
     false, true, read_fields, read_out, mcp_box_read_start, mcp_box_read_done},
    {"write_file", "Write a file in a sandbox", "Makes or replaces a file inside a sandbox.", false,
     true, true, write_fields, write_out, mcp_box_write_start, mcp_box_write_done},
    {"list_files", "List a directory in a sandbox",
     "Lists a directory inside a sandbox (`find` run in the sandbox as its user): each "
     "entry's name, type and size.",
     true, false, true, list_files_fields, list_files_out, mcp_box_list_start, mcp_box_list_done},
    {"delete_file", "Delete a file in a sandbox",
     "Deletes a file, link or directory inside a sandbox (`rm` run in the sandbox as its "
     "user).",
     false, true, true, delete_fields, delete_out, mcp_box_delete_start, mcp_box_delete_done},
    {"describe_policy", "Describe the policy",
     "What the operator allows: each profile the model may choose (network rules, limits, "
     "volumes, secrets' sources, never their values), this connection's limits, and why the "
     "last refused call was refused. Read it to plan instead of probing.",
     true, false, true, no_fields, policy_out, policy_start, policy_done},
};

/* {"type": "object", "properties": ..., "required": [every one]} from a table. */
static json_t *output_schema(const struct mcp_out *fields)
{
	json_t *props = json_object(), *required = json_array();

	for (const struct mcp_out *f = fields; f->name; f++) {
		json_t *type, *one;
		const char *bar = strchr(f->type, '|');
		if (bar) /* "string|null" */
			type = json_pack("[s#, s]", f->type, (int)(bar - f->type), bar + 1);
		else
			type = json_string(f->type);
		one = json_pack("{s:o}", "type", type);
		if (f->items)
			json_object_set_new(one, "items", output_schema(f->items));
		json_object_set_new(props, f->name, one);
		json_array_append_new(required, json_string(f->name));
	}
	return json_pack("{s:s, s:o, s:o}", "type", "object", "properties", props, "required",
			 required);
}

const struct mcp_tool *mcp_tool_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(tools); i++)
		if (strcmp(tools[i].name, name) == 0)
			return &tools[i];
	return NULL;
}

json_t *mcp_tools_list(const struct mcp_session *s)
{
	json_t *list = json_array();

	for (size_t i = 0; i < ARRAY_SIZE(tools); i++) {
		const struct mcp_tool *t = &tools[i];
		json_t *tool = json_pack(
		    "{s:s, s:s, s:o, s:{s:s, s:b, s:b, s:b, s:b}}", "name", t->name, "description",
		    t->description, "inputSchema", input_schema(s, t), "annotations", "title",
		    t->title, "readOnlyHint", t->is_read_only, "destructiveHint", t->is_destructive,
		    "idempotentHint", t->is_idempotent, "openWorldHint",
		    t->start == mcp_box_exec_start && s->has_network);
		if (!mcp_is_legacy_protocol(s)) {
			json_object_set_new(tool, "title", json_string(t->title));
			json_object_set_new(tool, "outputSchema", output_schema(t->output));
		}
		json_array_append_new(list, tool);
	}
	return list;
}

void mcp_tool_start(struct mcp_session *s, struct mcp_call *c)
{
	c->stdin_fd = -1;
	c->started_ms = clock_now_ms();
	if (mcp_tool_check_args(s, c))
		c->tool->start(s, c);
}

void mcp_tool_child_done(struct mcp_session *s, struct mcp_call *c)
{
	c->tool->done(s, c);
	if (c->result || c->is_cancelled) {
		/* Done (answered, or not to be): nothing of it stays open. */
		if (!mcp_child_is_running(&c->child))
			mcp_child_release(&c->child);
	}
}

void mcp_tool_progress_text(const struct mcp_call *c, double now, char *buf, size_t size)
{
	uint64_t bytes = c->child.out.total + c->child.err.total;

	snprintf(buf, size, "%s: running %.0f s, %llu bytes of output so far", c->tool->name,
		 (now - c->started_ms) / 1000.0, (unsigned long long)bytes);
}

bool mcp_make_name(char *buf, size_t size)
{
	unsigned char random[4];

	if (getrandom(random, sizeof(random), 0) != sizeof(random))
		return false;
	snprintf(buf, size, "mcp-%02x%02x%02x%02x", random[0], random[1], random[2], random[3]);
	return true;
}
