/* `stockade mcp`: sandboxes as tools for AI agents, over the Model Context Protocol on stdio
 * (JSON-RPC 2.0, one message per line; docs/mcp.md). This file is the protocol and the
 * session: the operator's flags, the lifecycle (initialize, then tools/list and tools/call),
 * progress and cancellation, and the end: when stdin closes (or on SIGTERM) every sandbox this
 * connection made is destroyed. The tools are cli/mcp_tools.c and cli/mcp_box.c; each runs
 * this executable's own subcommands (cli/mcp_child.c), so a tool has exactly the layers of
 * `stockade run` and there is no second engine. One thread, one poll loop. */
#define _GNU_SOURCE
#include "cli/cli.h"
#include "cli/mcp_internal.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/fds.h"
#include "util/macros.h"
#include "util/parse.h"

#define DEFAULT_MAX_TIMEOUT_MS (10 * 60 * 1000)
#define DEFAULT_OUTPUT_CAP (128 * 1024)
#define DEFAULT_MAX_SANDBOXES 8
#define PROGRESS_EVERY_MS 1000.0
#define REMOVE_TIMEOUT_MS 30000

/* JSON-RPC's error codes. */
enum {
	RPC_PARSE_ERROR = -32700,
	RPC_INVALID_REQUEST = -32600,
	RPC_METHOD_NOT_FOUND = -32601,
	RPC_INVALID_PARAMS = -32602,
	RPC_INTERNAL_ERROR = -32603,
};

/* The revisions spoken, newest first: the newest is answered to a client that asks for one
 * we do not know. 2025-03-26 has no structured tool output and has batches. */
static const char *const protocols[] = {"2025-11-25", "2025-06-18", "2025-03-26"};
static const char LEGACY_PROTOCOL[] = "2025-03-26";

bool mcp_is_legacy_protocol(const struct mcp_session *s)
{
	return strcmp(s->protocol, LEGACY_PROTOCOL) == 0;
}

/* ---- the operator's flags ---- */

static const struct option options[] = {
    {"policy", required_argument, NULL, 'p'},
    {"profile", required_argument, NULL, 'P'},
    {"allow-profile", required_argument, NULL, 'a'},
    {"max-timeout", required_argument, NULL, 't'},
    {"output-cap", required_argument, NULL, 'o'},
    {"max-sandboxes", required_argument, NULL, 'n'},
    {"idle-timeout", required_argument, NULL, 'i'},
    {"max-lifetime", required_argument, NULL, 'l'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int usage(struct sk_err *err, const char *why)
{
	return sk_fail(err, "cli", 0,
		       "usage: stockade mcp [--policy FILE] [--profile P] [--allow-profile P]... "
		       "[--max-timeout D] [--output-cap SIZE] [--max-sandboxes N] "
		       "[--idle-timeout D] [--max-lifetime D] (docs/mcp.md)",
		       "%s", why);
}

static int allow_profile(struct mcp_options *o, const char *name, struct sk_err *err)
{
	if (!*name || strlen(name) > MCP_PROFILE_MAX)
		return usage(err, "a profile's name is 1-64 characters");
	for (size_t i = 0; i < o->allowed_count; i++)
		if (strcmp(o->allowed[i], name) == 0)
			return 0;
	if (o->allowed_count == MCP_MAX_PROFILES)
		return usage(err, "at most 16 profiles");
	o->allowed[o->allowed_count++] = name;
	return 0;
}

static int parse_options(int argc, char **argv, struct mcp_options *o, struct sk_err *err)
{
	uint64_t value, ms;
	const char *profile = NULL;
	int opt;

	memset(o, 0, sizeof(*o));
	o->max_timeout_ms = DEFAULT_MAX_TIMEOUT_MS;
	o->output_cap = DEFAULT_OUTPUT_CAP;
	o->max_sandboxes = DEFAULT_MAX_SANDBOXES;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		switch (opt) {
		case 'p':
			o->policy = optarg;
			break;
		case 'P':
			profile = optarg;
			break;
		case 'a':
			if (allow_profile(o, optarg, err) < 0)
				return -1;
			break;
		case 't':
			if (parse_duration_ms(optarg, &ms) < 0 || ms == 0)
				return usage(err, "invalid --max-timeout");
			o->max_timeout_ms = ms;
			break;
		case 'o':
			if (parse_size(optarg, &value) < 0 || value == 0 || value > (64u << 20))
				return usage(err, "--output-cap is a size from 1 byte to 64m");
			o->output_cap = value;
			break;
		case 'n':
			if (parse_uint(optarg, 1, MCP_SANDBOXES_LIMIT, &value) < 0)
				return usage(err, "--max-sandboxes is a count from 1 to 64");
			o->max_sandboxes = (unsigned)value;
			break;
		case 'i':
		case 'l':
			if (parse_duration_ms(optarg, &ms) < 0 || ms == 0)
				return usage(err, opt == 'i' ? "invalid --idle-timeout"
							     : "invalid --max-lifetime");
			*(opt == 'i' ? &o->idle_timeout : &o->max_lifetime) = optarg;
			break;
		case 'h':
			return usage(err, "help");
		default:
			return usage(err, "unknown option or missing value");
		}
	}
	if (optind != argc)
		return usage(err, "no arguments: the model's requests come on stdin");
	if (profile) {
		/* The default is allowed, and first. */
		o->profile = profile;
		if (allow_profile(o, profile, err) < 0)
			return -1;
		for (size_t i = o->allowed_count - 1; i > 0; i--)
			o->allowed[i] = o->allowed[i - 1];
		o->allowed[0] = profile;
	}
	return 0;
}

/* Before a message is read: each profile the model may get, with the policy file, goes
 * through `stockade policy show` (the file read and checked by the flags' parsers), so a
 * mistake of the operator's stops here (exit 125) and not at the model's first call; what it
 * shows says whether any has a network. */
static int check_policies(struct mcp_session *s, struct sk_err *err)
{
	bool exists;

	for (size_t i = 0;; i++) {
		const char *profile = mcp_policy_profile(s->opts, i, &exists);
		char *argv[8] = {"stockade", "policy", "show"}, line[600];
		int n = 3;
		struct mcp_child c;
		if (!exists)
			return 0;
		if (s->opts->policy) {
			argv[n++] = "--policy";
			argv[n++] = (char *)s->opts->policy;
		}
		if (profile) {
			argv[n++] = "--profile";
			argv[n++] = (char *)profile;
		}
		int rc = mcp_child_run(&c, s->self, argv, 1 << 20, 30000, err);
		if (rc < 0 && c.pid > 0) {
			if (!mcp_child_refusal(&c, line, sizeof(line)))
				snprintf(line, sizeof(line), "policy show exited %d",
					 mcp_child_exit_code(&c));
			(void)sk_fail(err, "mcp", 0, NULL, "%s%s%s%s", line,
				      profile ? " (with --profile " : "", profile ? profile : "",
				      profile ? ")" : "");
		}
		if (rc == 0) { /* exec and run are open-world tools when a network is there */
			json_t *spec = json_loads(c.out.buf, 0, NULL);
			const char *mode = json_string_value(
			    json_object_get(json_object_get(spec, "network"), "mode"));
			s->has_network |= !mode || strcmp(mode, "none") != 0;
			json_decref(spec);
		}
		mcp_child_release(&c);
		if (rc < 0)
			return -1;
	}
}

/* ---- messages out ---- */

static void begin_closing(struct mcp_session *s);

static void send_json(struct mcp_session *s, json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER);

	json_decref(msg);
	/* Compact JSON has no line break (strings' are escaped): one message, one line. */
	if (!text || fds_write_all(1, text, strlen(text)) < 0 || fds_write_all(1, "\n", 1) < 0)
		begin_closing(s); /* nobody reads us any more */
	free(text);
}

static void batch_flush(struct mcp_session *s, struct mcp_batch *b)
{
	if (!b->is_read || b->pending > 0)
		return;
	if (json_array_size(b->responses) > 0)
		send_json(s, b->responses);
	else
		json_decref(b->responses);
	free(b);
}

static void reply(struct mcp_session *s, struct mcp_batch *b, json_t *msg)
{
	if (b)
		json_array_append_new(b->responses, msg);
	else
		send_json(s, msg);
}

static void reply_result(struct mcp_session *s, struct mcp_batch *b, json_t *id, json_t *result)
{
	reply(s, b, json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result));
}

static void reply_error(struct mcp_session *s, struct mcp_batch *b, json_t *id, int code,
			const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void reply_error(struct mcp_session *s, struct mcp_batch *b, json_t *id, int code,
			const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	mcp_text_repair(text, sizeof(text)); /* a method's name cut mid-character */
	reply(s, b,
	      json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(),
			"error", "code", code, "message", text));
}

/* ---- calls ---- */

static void call_free(struct mcp_session *s, struct mcp_call *c)
{
	struct mcp_batch *b = c->batch;

	mcp_child_release(&c->child);
	if (c->stdin_fd >= 0)
		close(c->stdin_fd);
	json_decref(c->id);
	json_decref(c->progress_token);
	json_decref(c->args);
	json_decref(c->result);
	json_decref(c->gathered);
	memset(c, 0, sizeof(*c));
	if (b) {
		b->pending--;
		batch_flush(s, b);
	}
}

/* After a step of a call: its answer goes out (unless cancelled), and a call with nothing
 * more to do is freed. */
static void settle(struct mcp_session *s, struct mcp_call *c)
{
	if (c->result && !c->is_cancelled) {
		reply_result(s, c->batch, c->id, c->result);
		c->result = NULL;
		call_free(s, c);
	} else if (c->result || !mcp_child_is_running(&c->child)) {
		if (!c->is_cancelled) /* a tool that neither answered nor went on: never silence */
			reply_error(s, c->batch, c->id, RPC_INTERNAL_ERROR,
				    "%s ended without an answer", c->tool->name);
		call_free(s, c);
	}
}

/* Cancels a call: no answer will be sent; its command gets SIGTERM (forwarded into the
 * sandbox) and SIGKILL after the grace. A sandbox_create is let finish and then removed:
 * killing `run -d` half way could leave a supervisor nobody knows of. */
static void call_cancel(struct mcp_call *c)
{
	c->is_cancelled = true;
	if (strcmp(c->tool->name, "sandbox_create") != 0)
		mcp_child_stop(&c->child);
}

static struct mcp_call *call_by_id(struct mcp_session *s, const json_t *id)
{
	for (size_t i = 0; i < MCP_MAX_CALLS; i++)
		if (s->calls[i].is_used && json_equal(s->calls[i].id, (json_t *)id))
			return &s->calls[i];
	return NULL;
}

static void tools_call(struct mcp_session *s, struct mcp_batch *b, json_t *id, json_t *params)
{
	const char *name = json_string_value(json_object_get(params, "name"));
	json_t *args = json_object_get(params, "arguments");
	json_t *token = json_object_get(json_object_get(params, "_meta"), "progressToken");
	const struct mcp_tool *tool = name ? mcp_tool_find(name) : NULL;
	struct mcp_call *c = NULL;

	if (!tool) {
		reply_error(s, b, id, RPC_INVALID_PARAMS, "unknown tool: %.64s",
			    name ? name : "(params.name is not a string)");
		return;
	}
	if (args && !json_is_object(args)) {
		reply_error(s, b, id, RPC_INVALID_PARAMS, "params.arguments must be an object");
		return;
	}
	for (size_t i = 0; i < MCP_MAX_CALLS && !c; i++)
		if (!s->calls[i].is_used)
			c = &s->calls[i];
	if (!c) {
		reply_result(s, b, id,
			     json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text",
				       "too many tool calls at once (32): wait for one to finish",
				       "isError", 1));
		return;
	}
	memset(c, 0, sizeof(*c));
	mcp_child_init(&c->child);
	c->stdin_fd = -1;
	c->is_used = true;
	c->id = json_incref(id);
	c->batch = b;
	c->tool = tool;
	c->args = args ? json_incref(args) : json_object();
	if (json_is_string(token) || json_is_integer(token))
		c->progress_token = json_incref(token);
	if (b)
		b->pending++;
	mcp_tool_start(s, c);
	c->next_progress_ms = c->started_ms + PROGRESS_EVERY_MS;
	settle(s, c);
}

/* ---- messages in ---- */

static json_t *initialize_result(struct mcp_session *s, const char *asked)
{
	snprintf(s->protocol, sizeof(s->protocol), "%s", protocols[0]);
	for (size_t i = 0; i < ARRAY_SIZE(protocols); i++)
		if (strcmp(asked, protocols[i]) == 0)
			snprintf(s->protocol, sizeof(s->protocol), "%s", protocols[i]);
	return json_pack("{s:s, s:{s:{s:b}}, s:{s:s, s:s}, s:s}", "protocolVersion", s->protocol,
			 "capabilities", "tools", "listChanged", 0, "serverInfo", "name",
			 "stockade", "version", STOCKADE_VERSION, "instructions",
			 "Linux sandboxes for running commands: sandbox_create one, then exec, "
			 "read_file, write_file, list_files, delete_file in it; run for one-off "
			 "commands. The operator fixed the policy (network, limits, volumes): "
			 "describe_policy shows it. Sandboxes end with this connection.");
}

static void request(struct mcp_session *s, struct mcp_batch *b, const char *method, json_t *id,
		    json_t *params)
{
	const char *version = json_string_value(json_object_get(params, "protocolVersion"));

	if (strcmp(method, "ping") == 0) {
		reply_result(s, b, id, json_object());
	} else if (strcmp(method, "initialize") == 0) {
		if (s->protocol[0])
			reply_error(s, b, id, RPC_INVALID_REQUEST, "initialize was done already");
		else if (b)
			reply_error(s, b, id, RPC_INVALID_REQUEST,
				    "initialize must not be part of a batch");
		else if (!version)
			reply_error(s, b, id, RPC_INVALID_PARAMS,
				    "initialize needs params.protocolVersion (a string)");
		else
			reply_result(s, b, id, initialize_result(s, version));
	} else if (!s->protocol[0]) {
		reply_error(s, b, id, RPC_INVALID_REQUEST,
			    "not initialized: the first request must be initialize");
	} else if (strcmp(method, "tools/list") == 0) {
		if (json_object_get(params, "cursor"))
			reply_error(s, b, id, RPC_INVALID_PARAMS, "invalid cursor: one page only");
		else
			reply_result(s, b, id, json_pack("{s:o}", "tools", mcp_tools_list(s)));
	} else if (strcmp(method, "tools/call") == 0) {
		tools_call(s, b, id, params);
	} else {
		reply_error(s, b, id, RPC_METHOD_NOT_FOUND, "method not found: %.64s", method);
	}
}

static void notification(struct mcp_session *s, const char *method, json_t *params)
{
	json_t *id = json_object_get(params, "requestId");
	struct mcp_call *c;

	/* notifications/initialized and the rest need nothing from us; a malformed or late
	 * cancellation is ignored, as the spec says. */
	if (strcmp(method, "notifications/cancelled") == 0 && id && (c = call_by_id(s, id)))
		call_cancel(c);
}

/* One JSON-RPC message (or an element of a batch). */
static void message(struct mcp_session *s, json_t *msg, struct mcp_batch *b)
{
	json_t *id = json_object_get(msg, "id"), *params = json_object_get(msg, "params");
	json_t *method = json_object_get(msg, "method");
	bool is_id_ok = json_is_string(id) || json_is_integer(id);

	const char *version = json_string_value(json_object_get(msg, "jsonrpc"));

	if (!json_is_object(msg) || !version || strcmp(version, "2.0") != 0) {
		reply_error(s, b, is_id_ok ? id : NULL, RPC_INVALID_REQUEST,
			    "not a JSON-RPC 2.0 message (an object with \"jsonrpc\": \"2.0\")");
		return;
	}
	if (!method && id && (json_object_get(msg, "result") || json_object_get(msg, "error")))
		return; /* a response: we send no requests, so it answers nothing of ours */
	if (!json_is_string(method) || (id && !is_id_ok)) {
		reply_error(s, b, is_id_ok ? id : NULL, RPC_INVALID_REQUEST,
			    "a request needs a string method and an id that is a string or an "
			    "integer");
		return;
	}
	if (!id) {
		notification(s, json_string_value(method), params);
		return;
	}
	if (params && !json_is_object(params)) {
		reply_error(s, b, id, RPC_INVALID_PARAMS, "params must be an object");
		return;
	}
	request(s, b, json_string_value(method), id, params);
}

static void batch(struct mcp_session *s, json_t *list)
{
	struct mcp_batch *b;
	json_t *item;
	size_t i;

	if (!mcp_is_legacy_protocol(s)) {
		reply_error(s, NULL, NULL, RPC_INVALID_REQUEST,
			    "batches are not part of protocol revision %s",
			    s->protocol[0] ? s->protocol : "(none yet: initialize first)");
		return;
	}
	if (json_array_size(list) == 0) {
		reply_error(s, NULL, NULL, RPC_INVALID_REQUEST, "an empty batch");
		return;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		reply_error(s, NULL, NULL, RPC_INTERNAL_ERROR, "out of memory");
		return;
	}
	b->responses = json_array();
	json_array_foreach(list, i, item)
	{
		message(s, item, b);
	}
	b->is_read = true;
	batch_flush(s, b);
}

static void line(struct mcp_session *s, const char *text, size_t len)
{
	json_error_t jerr;
	json_t *msg;

	while (len > 0 && (text[len - 1] == '\r' || text[len - 1] == ' '))
		len--;
	if (len == 0)
		return;
	msg =
	    json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr);
	if (!msg)
		reply_error(s, NULL, NULL, RPC_PARSE_ERROR, "parse error: %s (column %d)",
			    jerr.text, jerr.column);
	else if (json_is_array(msg))
		batch(s, msg);
	else
		message(s, msg, NULL);
	json_decref(msg);
}

/* ---- stdin ---- */

struct input {
	char *buf;
	size_t len, size;
	bool is_skipping; /* the rest of a message too long to take */
	bool is_eof;
};

static void input_read(struct mcp_session *s, struct input *in)
{
	char *newline;
	ssize_t n;

	if (in->size - in->len < 65536 && in->size < MCP_LINE_MAX + 65536) {
		size_t size = in->size ? in->size * 2 : 131072;
		char *bigger = realloc(in->buf, size);
		if (bigger) {
			in->buf = bigger;
			in->size = size;
		}
	}
	if (in->size == in->len) { /* no memory to grow: as a message too long */
		reply_error(s, NULL, NULL, RPC_INTERNAL_ERROR, "out of memory for a message");
		in->is_skipping = true;
		in->len = 0;
	}
	n = read(0, in->buf + in->len, in->size - in->len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		in->is_eof = true;
		if (in->len > 0 && !in->is_skipping)
			line(s, in->buf, in->len); /* a last message without its newline */
		in->len = 0;
		return;
	}
	in->len += (size_t)n;
	while ((newline = memchr(in->buf, '\n', in->len))) {
		size_t used = (size_t)(newline - in->buf) + 1;
		if (!in->is_skipping)
			line(s, in->buf, used - 1);
		in->is_skipping = false;
		memmove(in->buf, in->buf + used, in->len - used);
		in->len -= used;
	}
	if (in->len >= MCP_LINE_MAX) {
		if (!in->is_skipping)
			reply_error(s, NULL, NULL, RPC_INVALID_REQUEST,
				    "a message longer than %u MiB", MCP_LINE_MAX >> 20);
		in->is_skipping = true;
		in->len = 0;
	}
}

/* ---- the loop ---- */

static void begin_closing(struct mcp_session *s)
{
	s->is_closing = true;
	for (size_t i = 0; i < MCP_MAX_CALLS; i++)
		if (s->calls[i].is_used)
			call_cancel(&s->calls[i]);
}

static void send_progress(struct mcp_session *s, struct mcp_call *c, double now)
{
	char text[160];

	if (!c->progress_token || c->is_cancelled || now < c->next_progress_ms ||
	    !mcp_child_is_running(&c->child))
		return;
	mcp_tool_progress_text(c, now, text, sizeof(text));
	c->next_progress_ms = now + PROGRESS_EVERY_MS;
	/* progress counts up by one a tick: it must grow; no total (the end is not known). */
	send_json(s, json_pack("{s:s, s:s, s:{s:O, s:i, s:s}}", "jsonrpc", "2.0", "method",
			       "notifications/progress", "params", "progressToken",
			       c->progress_token, "progress", ++c->progress, "message", text));
}

static void reap(struct mcp_session *s)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < MCP_MAX_CALLS; i++) {
			struct mcp_call *c = &s->calls[i];
			if (c->is_used && mcp_child_reaped(&c->child, pid, status)) {
				mcp_tool_child_done(s, c);
				settle(s, c);
				break;
			}
		}
	}
}

static void on_signal(struct mcp_session *s, int sig_fd)
{
	struct signalfd_siginfo info;

	while (read(sig_fd, &info, sizeof(info)) == sizeof(info)) {
		if (info.ssi_signo == SIGCHLD)
			reap(s);
		else
			begin_closing(s);
	}
}

static bool has_calls(const struct mcp_session *s)
{
	for (size_t i = 0; i < MCP_MAX_CALLS; i++)
		if (s->calls[i].is_used)
			return true;
	return false;
}

/* How long poll may wait: until the next deadline or progress tick, at most a second. */
static int poll_wait(const struct mcp_session *s, double now)
{
	double next = now + 1000.0;

	for (size_t i = 0; i < MCP_MAX_CALLS; i++) {
		const struct mcp_call *c = &s->calls[i];
		double deadline = c->is_used ? mcp_child_deadline(&c->child) : 0;
		if (deadline > 0 && deadline < next)
			next = deadline;
		if (c->is_used && c->progress_token && c->next_progress_ms < next)
			next = c->next_progress_ms;
	}
	return next <= now ? 0 : (int)(next - now) + 1;
}

static void serve(struct mcp_session *s, int sig_fd)
{
	struct pollfd fds[2 + 2 * MCP_MAX_CALLS];
	struct input in = {0};

	while (!s->is_closing || has_calls(s)) {
		int n = 0;
		fds[n++] = (struct pollfd){.fd = sig_fd, .events = POLLIN};
		fds[n++] = (struct pollfd){.fd = s->is_closing ? -1 : 0, .events = POLLIN};
		for (size_t i = 0; i < MCP_MAX_CALLS; i++)
			if (s->calls[i].is_used)
				n = mcp_child_poll_add(&s->calls[i].child, fds, n);
		if (poll(fds, (nfds_t)n, poll_wait(s, clock_now_ms())) < 0 && errno != EINTR)
			break;
		/* Pipes first, while the fds poll saw are still the ones it saw. */
		for (size_t i = 0; i < MCP_MAX_CALLS; i++)
			if (s->calls[i].is_used)
				mcp_child_pump(&s->calls[i].child, fds + 2, n - 2);
		if (fds[0].revents)
			on_signal(s, sig_fd);
		if (fds[1].revents && !s->is_closing) {
			input_read(s, &in);
			if (in.is_eof)
				begin_closing(s);
		}
		double now = clock_now_ms();
		for (size_t i = 0; i < MCP_MAX_CALLS; i++) {
			if (!s->calls[i].is_used)
				continue;
			mcp_child_tick(&s->calls[i].child, now);
			send_progress(s, &s->calls[i], now);
		}
	}
	free(in.buf);
}

/* The end of the connection: every sandbox it made goes (`rm -f`, all at once), each within
 * its deadline. */
static void destroy_all(struct mcp_session *s)
{
	struct mcp_child removals[MCP_SANDBOXES_LIMIT];
	bool is_any = true;

	for (size_t k = 0; k < MCP_SANDBOXES_LIMIT; k++) {
		struct sk_err err = {0};
		char *argv[] = {"stockade", "rm", "-f", s->sandboxes[k].name, NULL};
		mcp_child_init(&removals[k]);
		if (s->sandboxes[k].state != MCP_BOX_FREE)
			(void)mcp_child_start(&removals[k], s->self, argv, -1, -1, 4096, 4096,
					      REMOVE_TIMEOUT_MS, &err);
	}
	while (is_any) {
		struct pollfd fds[2 * MCP_SANDBOXES_LIMIT];
		int n = 0, status;
		pid_t pid;
		for (size_t k = 0; k < MCP_SANDBOXES_LIMIT; k++)
			if (mcp_child_is_running(&removals[k]))
				n = mcp_child_poll_add(&removals[k], fds, n);
		if (poll(fds, (nfds_t)n, 50) > 0)
			for (size_t k = 0; k < MCP_SANDBOXES_LIMIT; k++)
				mcp_child_pump(&removals[k], fds, n);
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			for (size_t k = 0; k < MCP_SANDBOXES_LIMIT; k++)
				(void)mcp_child_reaped(&removals[k], pid, status);
		is_any = false;
		for (size_t k = 0; k < MCP_SANDBOXES_LIMIT; k++) {
			mcp_child_tick(&removals[k], clock_now_ms());
			is_any |= mcp_child_is_running(&removals[k]);
		}
	}
	for (size_t k = 0; k < MCP_SANDBOXES_LIMIT; k++)
		mcp_child_release(&removals[k]);
}

static int signals_fd(struct sk_err *err)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
	    (fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		return sk_fail(err, "mcp", errno, NULL, "signalfd");
	return fd;
}

int cli_mcp(int argc, char **argv, struct sk_err *err)
{
	static struct mcp_session s; /* 64 sandboxes and 32 calls: not for the stack */
	struct mcp_options o;
	ssize_t len;
	int sig_fd;

	if (parse_options(argc, argv, &o, err) < 0)
		return -1;
	memset(&s, 0, sizeof(s));
	s.opts = &o;
	/* The executable every tool runs, resolved once: a later change of PATH, or of the
	 * working directory, cannot make a tool run another program. */
	len = readlink("/proc/self/exe", s.self, sizeof(s.self) - 1);
	if (len < 0)
		return sk_fail(err, "mcp", errno, NULL, "readlink /proc/self/exe");
	s.self[len] = '\0';
	if (check_policies(&s, err) < 0)
		return -1;
	if (fds_pipe_high(s.tie, 100) < 0)
		return sk_fail(err, "mcp", errno, NULL, "pipe2 (the tie)");
	sig_fd = signals_fd(err);
	if (sig_fd < 0) {
		close(s.tie[0]);
		close(s.tie[1]);
		return -1;
	}
	serve(&s, sig_fd);
	destroy_all(&s);
	close(sig_fd);
	close(s.tie[0]);
	close(s.tie[1]);
	return 0;
}
