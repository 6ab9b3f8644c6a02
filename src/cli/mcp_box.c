/* stockade mcp's tools that act on sandboxes, each as the stockade commands a person would
 * type: sandbox_create is `run -d` with the operator's policy, sandbox_destroy `rm -f`, exec
 * `exec`, run `run`, read_file `cp NAME:/path -`, write_file `cp - NAME:/path` (no host path
 * either way), list_files and delete_file `find` and `rm` exec'd in the sandbox as its user.
 * A tool reaches only the sandboxes this connection made (struct mcp_sandbox): the operator's
 * other sandboxes, under the same STOCKADE_HOME, are out of the model's reach. */
#define _GNU_SOURCE
#include "cli/mcp_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/textenc.h"

#define CREATE_TIMEOUT_MS 120000 /* run -d: the probes of a first run, a slow machine */
#define FILE_TIMEOUT_MS 60000	 /* cp, ps, rm, find */
#define LIST_MAX_ENTRIES 1000

static const char *arg_string(const struct mcp_call *c, const char *key)
{
	return json_string_value(json_object_get(c->args, key));
}

static struct mcp_sandbox *find_box(struct mcp_session *s, const char *name)
{
	for (size_t k = 0; k < MCP_SANDBOXES_LIMIT; k++)
		if (s->sandboxes[k].state != MCP_BOX_FREE &&
		    strcmp(s->sandboxes[k].name, name) == 0)
			return &s->sandboxes[k];
	return NULL;
}

/* The call's "sandbox": one this connection made and that is ready; else the call is
 * answered with why not. */
static struct mcp_sandbox *session_box(struct mcp_session *s, struct mcp_call *c)
{
	const char *name = arg_string(c, "sandbox");
	struct mcp_sandbox *b = find_box(s, name);

	if (!b) {
		mcp_deny(s, c,
			 "no sandbox '%s' was made over this connection: sandbox_list lists yours, "
			 "sandbox_create makes one (no other sandbox is within reach)",
			 name);
		return NULL;
	}
	if (b->state != MCP_BOX_READY) {
		mcp_deny(s, c, "sandbox '%s' is being %s", name,
			 b->state == MCP_BOX_CREATING ? "created" : "destroyed");
		return NULL;
	}
	snprintf(c->sandbox, sizeof(c->sandbox), "%s", b->name);
	return b;
}

static void argv_stockade(struct mcp_argv *a, const char *subcommand)
{
	mcp_argv_init(a);
	mcp_argv_add(a, "stockade");
	mcp_argv_add(a, subcommand);
}

/* rm -f of the call's sandbox, as its next step. */
static void start_removal(struct mcp_session *s, struct mcp_call *c, struct mcp_sandbox *b)
{
	struct mcp_argv a;

	b->state = MCP_BOX_DESTROYING;
	mcp_child_release(&c->child);
	c->step++;
	argv_stockade(&a, "rm");
	mcp_argv_add(&a, "-f");
	mcp_argv_add(&a, b->name);
	if (!mcp_spawn(s, c, &a, 4096, FILE_TIMEOUT_MS))
		b->state = MCP_BOX_READY; /* still there; the end of the session tries again */
}

/* ---- sandbox_create, sandbox_destroy ---- */

void mcp_box_create_start(struct mcp_session *s, struct mcp_call *c)
{
	const char *name = arg_string(c, "name"), *profile = arg_string(c, "profile");
	struct mcp_sandbox *free_slot = NULL;
	unsigned used = 0;
	struct mcp_argv a;

	for (size_t k = 0; k < MCP_SANDBOXES_LIMIT; k++) {
		if (s->sandboxes[k].state != MCP_BOX_FREE)
			used++;
		else if (!free_slot)
			free_slot = &s->sandboxes[k];
	}
	if (used >= s->opts->max_sandboxes || !free_slot) {
		mcp_deny(s, c,
			 "the operator allows %u sandboxes at once over this connection: "
			 "sandbox_destroy one first",
			 s->opts->max_sandboxes);
		return;
	}
	if (name && find_box(s, name)) {
		mcp_deny(s, c, "sandbox '%s' exists already", name);
		return;
	}
	if (!name && !mcp_make_name(c->sandbox, sizeof(c->sandbox))) {
		mcp_deny(s, c, "could not make up a name: %s", strerror(errno));
		return;
	}
	if (name)
		snprintf(c->sandbox, sizeof(c->sandbox), "%s", name);
	if (!profile)
		profile = s->opts->profile;
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->state = MCP_BOX_CREATING;
	snprintf(free_slot->name, sizeof(free_slot->name), "%s", c->sandbox);
	snprintf(free_slot->profile, sizeof(free_slot->profile), "%s", profile ? profile : "");
	argv_stockade(&a, "run");
	mcp_argv_add(&a, "-d");
	mcp_argv_add(&a, "--tie-fd");
	mcp_argv_add(&a, "3");
	a.is_tied = true;
	mcp_argv_add(&a, "--name");
	mcp_argv_add(&a, free_slot->name);
	mcp_argv_policy(&a, s, profile);
	if (s->opts->idle_timeout) {
		mcp_argv_add(&a, "--idle-timeout");
		mcp_argv_add(&a, s->opts->idle_timeout);
	}
	if (s->opts->max_lifetime) {
		mcp_argv_add(&a, "--max-lifetime");
		mcp_argv_add(&a, s->opts->max_lifetime);
	}
	if (!mcp_spawn(s, c, &a, 4096, CREATE_TIMEOUT_MS))
		free_slot->state = MCP_BOX_FREE;
}

void mcp_box_create_done(struct mcp_session *s, struct mcp_call *c)
{
	struct mcp_sandbox *b = find_box(s, c->sandbox);
	int code = mcp_child_exit_code(&c->child);

	if (!b)
		return;
	if (c->step == 1) { /* the removal after a cancel or a timeout */
		b->state = code == 0 ? MCP_BOX_FREE : MCP_BOX_READY;
		if (!c->is_cancelled)
			mcp_deny(s, c, "sandbox_create took longer than %d s; it was %s",
				 CREATE_TIMEOUT_MS / 1000, code == 0 ? "removed" : "not removed");
		return;
	}
	if (code == 0) {
		b->state = MCP_BOX_READY;
		b->created = (long long)time(NULL);
		if (c->is_cancelled) /* nobody will learn its name: it goes */
			start_removal(s, c, b);
		else
			mcp_succeed(s, c,
				    json_pack("{s:s, s:s?}", "name", b->name, "profile",
					      b->profile[0] ? b->profile : NULL));
		return;
	}
	if (c->child.is_term_sent) { /* stopped half way: whatever it made goes */
		start_removal(s, c, b);
		return;
	}
	b->state = MCP_BOX_FREE;
	mcp_fail_from_child(s, c, "sandbox_create");
}

void mcp_box_destroy_start(struct mcp_session *s, struct mcp_call *c)
{
	struct mcp_sandbox *b = session_box(s, c);
	struct mcp_argv a;

	if (!b)
		return;
	b->state = MCP_BOX_DESTROYING;
	argv_stockade(&a, "rm");
	mcp_argv_add(&a, "-f");
	mcp_argv_add(&a, b->name);
	if (!mcp_spawn(s, c, &a, 4096, FILE_TIMEOUT_MS))
		b->state = MCP_BOX_READY;
}

void mcp_box_destroy_done(struct mcp_session *s, struct mcp_call *c)
{
	struct mcp_sandbox *b = find_box(s, c->sandbox);

	if (!b)
		return;
	if (mcp_child_exit_code(&c->child) != 0) {
		b->state = MCP_BOX_READY;
		mcp_fail_from_child(s, c, "sandbox_destroy");
		return;
	}
	b->state = MCP_BOX_FREE;
	mcp_succeed(s, c, json_pack("{s:s, s:b}", "sandbox", c->sandbox, "destroyed", 1));
}

/* ---- exec, run ---- */

/* -w and -e: what the model may set for a command; -e always KEY=VALUE (a bare -e KEY would
 * pass our own environment's value in). */
static void argv_command_options(struct mcp_argv *a, const struct mcp_call *c)
{
	json_t *env = json_object_get(c->args, "env"), *value;
	const char *key;

	if (arg_string(c, "cwd")) {
		mcp_argv_add(a, "-w");
		mcp_argv_add(a, arg_string(c, "cwd"));
	}
	json_object_foreach(env, key, value)
	{
		mcp_argv_add(a, "-e");
		mcp_argv_addf(a, "%s=%s", key, json_string_value(value));
	}
}

static void argv_command(struct mcp_argv *a, const struct mcp_call *c)
{
	json_t *command = json_object_get(c->args, "command"), *item;
	size_t i;

	mcp_argv_add(a, "--");
	if (!command) {
		mcp_argv_add(a, "sh");
		mcp_argv_add(a, "-c");
		mcp_argv_add(a, arg_string(c, "shell"));
		return;
	}
	json_array_foreach(command, i, item)
	{
		mcp_argv_add(a, json_string_value(item));
	}
}

void mcp_box_exec_start(struct mcp_session *s, struct mcp_call *c)
{
	bool is_run = strcmp(c->tool->name, "run") == 0;
	json_t *timeout = json_object_get(c->args, "timeout");
	const char *input = arg_string(c, "stdin");
	uint64_t timeout_ms = s->opts->max_timeout_ms;
	struct sk_err err = {0};
	struct mcp_argv a;

	if (!json_object_get(c->args, "command") == !json_object_get(c->args, "shell")) {
		mcp_deny(s, c, "give exactly one of command (an argv array) and shell (a string)");
		return;
	}
	if (!is_run && !session_box(s, c))
		return;
	if (timeout)
		timeout_ms = (uint64_t)(json_number_value(timeout) * 1000.0);
	if (input) {
		c->stdin_fd =
		    mcp_memfd(input, json_string_length(json_object_get(c->args, "stdin")), &err);
		if (c->stdin_fd < 0) {
			mcp_deny(s, c, "stdin: %s", strerror(err.errnum));
			return;
		}
	}
	argv_stockade(&a, is_run ? "run" : "exec");
	if (is_run) {
		const char *profile = arg_string(c, "profile");
		mcp_argv_policy(&a, s, profile ? profile : s->opts->profile);
	} else if (input) {
		mcp_argv_add(&a, "-i");
	}
	argv_command_options(&a, c);
	if (!is_run)
		mcp_argv_add(&a, c->sandbox);
	argv_command(&a, c);
	(void)mcp_spawn(s, c, &a, s->opts->output_cap, timeout_ms);
}

void mcp_box_exec_done(struct mcp_session *s, struct mcp_call *c)
{
	bool is_run = strcmp(c->tool->name, "run") == 0, is_truncated = false;
	int code = mcp_child_exit_code(&c->child);
	char line[600];

	/* 125 with stockade's line last: stockade refused (the sandbox is gone, a layer cannot
	 * be applied, too many execs): not the command's status. */
	if (code == 125 && !c->child.is_term_sent &&
	    mcp_child_refusal(&c->child, line, sizeof(line))) {
		mcp_deny(s, c, "%s: %s", c->tool->name, line);
		return;
	}
	json_t *out = mcp_output_text(&c->child.out, &is_truncated);
	json_t *err = mcp_output_text(&c->child.err, &is_truncated);
	mcp_succeed(s, c,
		    json_pack("{s:i, s:o, s:o, s:b, s:I, s:b}", "exit_code", code, "stdout", out,
			      "stderr", err, "truncated", is_truncated, "duration_ms",
			      (json_int_t)(clock_now_ms() - c->started_ms), "timed_out",
			      c->child.is_term_sent || (is_run && code == 124)));
}

/* ---- read_file, write_file ---- */

void mcp_box_read_start(struct mcp_session *s, struct mcp_call *c)
{
	struct mcp_argv a;

	if (!session_box(s, c))
		return;
	argv_stockade(&a, "cp");
	mcp_argv_addf(&a, "%s:%s", c->sandbox, arg_string(c, "path"));
	mcp_argv_add(&a, "-");
	if (mcp_spawn(s, c, &a, s->opts->output_cap, FILE_TIMEOUT_MS))
		c->child.out.is_stopped_at_cap = true; /* the rest is not read: cp gets EPIPE */
}

void mcp_box_read_done(struct mcp_session *s, struct mcp_call *c)
{
	const struct mcp_capture *out = &c->child.out;
	const char *encoding = arg_string(c, "encoding");
	bool is_cut = out->total > out->len, is_base64 = encoding && !strcmp(encoding, "base64");
	size_t len = out->len;
	json_t *content;
	char *text;

	if (mcp_child_exit_code(&c->child) != 0 && !is_cut) {
		mcp_fail_from_child(s, c, "read_file");
		return;
	}
	if (is_base64) {
		text = textenc_base64_encode((const unsigned char *)out->buf, len);
		content = text ? json_string(text) : NULL;
	} else {
		size_t fixed;
		len = is_cut ? textenc_utf8_cut(out->buf, len) : len;
		text = textenc_utf8_repair(out->buf, len, &fixed, NULL);
		content = text ? json_stringn(text, fixed) : NULL;
	}
	free(text);
	if (!content) {
		mcp_deny(s, c, "read_file: out of memory");
		return;
	}
	mcp_succeed(s, c,
		    json_pack("{s:s, s:o, s:s, s:I, s:b}", "path", arg_string(c, "path"), "content",
			      content, "encoding", is_base64 ? "base64" : "utf-8", "size",
			      (json_int_t)len, "truncated", is_cut));
}

void mcp_box_write_start(struct mcp_session *s, struct mcp_call *c)
{
	json_t *content = json_object_get(c->args, "content");
	const char *encoding = arg_string(c, "encoding");
	const char *data = json_string_value(content);
	size_t len = json_string_length(content);
	unsigned char *decoded = NULL;
	struct sk_err err = {0};
	struct mcp_argv a;

	if (!session_box(s, c))
		return;
	if (encoding && strcmp(encoding, "base64") == 0) {
		decoded = textenc_base64_decode(data, len, &len);
		if (!decoded) {
			mcp_deny(s, c,
				 "write_file: content is not base64 (RFC 4648, padded, no "
				 "line breaks)");
			return;
		}
		data = (const char *)decoded;
	}
	c->stdin_fd = mcp_memfd(data, len, &err);
	free(decoded);
	if (c->stdin_fd < 0) {
		mcp_deny(s, c, "write_file: %s", strerror(err.errnum));
		return;
	}
	c->bytes = len;
	argv_stockade(&a, "cp");
	mcp_argv_add(&a, "-");
	mcp_argv_addf(&a, "%s:%s", c->sandbox, arg_string(c, "path"));
	(void)mcp_spawn(s, c, &a, 4096, FILE_TIMEOUT_MS);
}

void mcp_box_write_done(struct mcp_session *s, struct mcp_call *c)
{
	if (mcp_child_exit_code(&c->child) != 0) {
		mcp_fail_from_child(s, c, "write_file");
		return;
	}
	mcp_succeed(
	    s, c,
	    json_pack("{s:s, s:I}", "path", arg_string(c, "path"), "size", (json_int_t)c->bytes));
}

/* ---- list_files, delete_file: commands in the sandbox, as its user ---- */

static void argv_exec_in(struct mcp_argv *a, const struct mcp_call *c)
{
	argv_stockade(a, "exec");
	mcp_argv_add(a, c->sandbox);
	mcp_argv_add(a, "--");
}

void mcp_box_list_start(struct mcp_session *s, struct mcp_call *c)
{
	struct mcp_argv a;

	if (!session_box(s, c))
		return;
	/* One record per entry, NUL-terminated (a name may hold any byte but NUL and '/'):
	 * depth, type letter, size, name; depth 0 is the path itself (-H: through a link). */
	argv_exec_in(&a, c);
	mcp_argv_add(&a, "find");
	mcp_argv_add(&a, "-H");
	mcp_argv_add(&a, arg_string(c, "path"));
	mcp_argv_add(&a, "-maxdepth");
	mcp_argv_add(&a, "1");
	mcp_argv_add(&a, "-printf");
	mcp_argv_add(&a, "%d\\t%y\\t%s\\t%f\\0");
	if (mcp_spawn(s, c, &a, s->opts->output_cap, FILE_TIMEOUT_MS))
		c->child.out.is_stopped_at_cap = true;
}

static const char *type_name(char letter)
{
	switch (letter) {
	case 'f':
		return "file";
	case 'd':
		return "directory";
	case 'l':
		return "symlink";
	case 'p':
		return "fifo";
	case 's':
		return "socket";
	case 'b':
	case 'c':
		return "device";
	}
	return "other";
}

static int by_name(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "name")),
		      json_string_value(json_object_get(*(json_t *const *)b, "name")));
}

/* The records find printed: the entries (sorted), and the path's own type in *top. */
static json_t *list_entries(const struct mcp_capture *out, char *top, bool *is_truncated)
{
	json_t *entries[LIST_MAX_ENTRIES], *list = json_array();
	size_t count = 0, at = 0;

	*top = '\0';
	while (at < out->len) {
		const char *rec = out->buf + at, *end = memchr(rec, '\0', out->len - at);
		char depth, type;
		unsigned long long size;
		int name_at = 0;
		if (!end)
			break; /* cut by the cap */
		at = (size_t)(end - out->buf) + 1;
		if (sscanf(rec, "%c\t%c\t%llu\t%n", &depth, &type, &size, &name_at) != 3 ||
		    !name_at)
			continue;
		if (depth == '0') {
			*top = type;
			continue;
		}
		if (count == LIST_MAX_ENTRIES) {
			*is_truncated = true;
			break;
		}
		char *name = textenc_utf8_repair(rec + name_at, strlen(rec + name_at), NULL, NULL);
		entries[count++] = json_pack("{s:s, s:s, s:I}", "name", name ? name : "?", "type",
					     type_name(type), "size", (json_int_t)size);
		free(name);
	}
	if (count > 1)
		qsort(entries, count, sizeof(json_t *), by_name);
	for (size_t i = 0; i < count; i++)
		json_array_append_new(list, entries[i]);
	return list;
}

void mcp_box_list_done(struct mcp_session *s, struct mcp_call *c)
{
	bool is_truncated = c->child.out.total > c->child.out.len;
	char top;
	json_t *list;

	if (mcp_child_exit_code(&c->child) != 0 && !is_truncated) {
		mcp_fail_from_child(s, c, "list_files");
		return;
	}
	list = list_entries(&c->child.out, &top, &is_truncated);
	if (top != 'd') {
		json_decref(list);
		mcp_deny(s, c, "list_files: %s is not a directory%s", arg_string(c, "path"),
			 top ? "" : " (or could not be read)");
		return;
	}
	mcp_succeed(s, c,
		    json_pack("{s:s, s:o, s:b}", "path", arg_string(c, "path"), "entries", list,
			      "truncated", is_truncated));
}

void mcp_box_delete_start(struct mcp_session *s, struct mcp_call *c)
{
	struct mcp_argv a;

	if (!session_box(s, c))
		return;
	argv_exec_in(&a, c);
	mcp_argv_add(&a, "rm");
	mcp_argv_add(&a, json_is_true(json_object_get(c->args, "recursive")) ? "-r" : "-d");
	mcp_argv_add(&a, "--");
	mcp_argv_add(&a, arg_string(c, "path"));
	(void)mcp_spawn(s, c, &a, 4096, FILE_TIMEOUT_MS);
}

void mcp_box_delete_done(struct mcp_session *s, struct mcp_call *c)
{
	if (mcp_child_exit_code(&c->child) != 0) {
		mcp_fail_from_child(s, c, "delete_file");
		return;
	}
	mcp_succeed(s, c, json_pack("{s:s, s:b}", "path", arg_string(c, "path"), "deleted", 1));
}
