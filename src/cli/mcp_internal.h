/* `stockade mcp`'s parts, internal to cli/mcp*.c: mcp.c speaks the protocol and keeps the
 * session, mcp_tools.c defines and runs the tools, mcp_child.c runs the stockade commands a
 * tool is made of (this executable's own subcommands: no second engine). */
#ifndef STOCKADE_MCP_INTERNAL_H
#define STOCKADE_MCP_INTERNAL_H

#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "store/box.h"
#include "util/err.h"

#define MCP_MAX_PROFILES 16	/* --profile and --allow-profile together */
#define MCP_SANDBOXES_LIMIT 64	/* the most --max-sandboxes may say */
#define MCP_MAX_CALLS 32	/* tools/call requests running at once */
#define MCP_LINE_MAX (8u << 20) /* one JSON-RPC message */
#define MCP_PROFILE_MAX 64	/* a profile's name */

/* What the operator fixed with stockade mcp's flags; the model chooses nothing else. */
struct mcp_options {
	const char *policy;  /* --policy FILE, or NULL */
	const char *profile; /* --profile: the default, or NULL (the file's own, or none) */
	/* The profiles the model may name: --profile's and every --allow-profile. */
	const char *allowed[MCP_MAX_PROFILES];
	size_t allowed_count;
	uint64_t max_timeout_ms; /* an exec's or a run's longest, and its default */
	uint64_t output_cap;	 /* bytes kept of each output stream, and of a file read */
	unsigned max_sandboxes;	 /* alive at once over one connection */
	const char *idle_timeout, *max_lifetime; /* given to run -d as they are, or NULL */
};

/* One output stream of a child, kept up to cap bytes; the rest is read and counted. */
struct mcp_capture {
	int fd; /* our end of the pipe, -1 once closed */
	char *buf;
	size_t len, cap;
	uint64_t total;
	bool is_stopped_at_cap; /* in: close the pipe at the first byte past cap */
};

/* A stockade subcommand of ours: its pid, stdout and stderr captured, its deadlines. */
struct mcp_child {
	pid_t pid;	/* 0: never started */
	bool is_reaped; /* status is valid */
	int status;
	struct mcp_capture out, err;
	double started_ms;
	double term_at_ms; /* SIGTERM then (0: no limit) */
	double kill_at_ms; /* SIGKILL then, once SIGTERM went (0: not yet) */
	bool is_term_sent, is_killed;
};

/* A JSON-RPC batch (protocol 2025-03-26 only): its responses go out together. */
struct mcp_batch {
	json_t *responses;
	unsigned pending; /* calls of it not yet answered */
	bool is_read;	  /* every element has been dispatched */
};

struct mcp_tool;

/* One tools/call in progress. */
struct mcp_call {
	bool is_used;
	json_t *id;		 /* the request's id */
	struct mcp_batch *batch; /* or NULL */
	json_t *progress_token;	 /* or NULL */
	const struct mcp_tool *tool;
	json_t *args;
	struct mcp_child child;
	int stdin_fd;	/* a sealed memfd given to the child as stdin, or -1 */
	int step;	/* the tools made of several commands: which one runs */
	uint64_t bytes; /* write_file: the file's size */
	bool is_cancelled, is_timed_out;
	json_t *result; /* set when it is done (NULL once cancelled: no answer is sent) */
	double started_ms, next_progress_ms;
	unsigned progress;
	char sandbox[BOX_NAME_MAX + 1]; /* the session's sandbox it works on, or "" */
	json_t *gathered;		/* describe_policy's profiles so far */
};

enum mcp_box_state { MCP_BOX_FREE, MCP_BOX_CREATING, MCP_BOX_READY, MCP_BOX_DESTROYING };

/* A sandbox this connection created: the only ones its tools may touch. */
struct mcp_sandbox {
	enum mcp_box_state state;
	char name[BOX_NAME_MAX + 1];
	char profile[MCP_PROFILE_MAX + 1]; /* "" for none */
	long long created;
};

struct mcp_session {
	const struct mcp_options *opts;
	char self[PATH_MAX]; /* this executable, resolved once at start */
	char protocol[16];   /* the negotiated revision; "" before initialize */
	bool is_closing;
	bool has_network; /* a profile the model may get has one: exec and run reach out */
	struct mcp_sandbox sandboxes[MCP_SANDBOXES_LIMIT];
	/* Every sandbox of the session gets the read end (run -d --tie-fd): when this process
	 * ends, however (SIGKILL too), the write end closes and each stops by itself. */
	int tie[2];
	struct mcp_call calls[MCP_MAX_CALLS];
	/* Why the model was last refused (describe_policy tells it). */
	char denial_tool[32];
	char denial[512];
	long long denial_at;
};

/* ---- mcp_child.c ---- */

/* A child not started: nothing to release. */
void mcp_child_init(struct mcp_child *c);
/* Starts `stockade ARGV...` (argv[0] is only its name) with stdin_fd (-1: /dev/null) as stdin
 * (pass_fd, unless -1, as its fd 3) and stdout and stderr captured up to out_cap and err_cap
 * bytes; SIGTERM after timeout_ms (0:
 * none), SIGKILL a grace later. Returns 0, or -1 with err. */
int mcp_child_start(struct mcp_child *c, const char *self, char *const argv[], int stdin_fd,
		    int pass_fd, size_t out_cap, size_t err_cap, uint64_t timeout_ms,
		    struct sk_err *err);
/* SIGTERM now (the exec client forwards it into the sandbox), SIGKILL after the grace. */
void mcp_child_stop(struct mcp_child *c);
/* Sends what the deadlines call for by now. */
void mcp_child_tick(struct mcp_child *c, double now);
/* The next deadline of c in ms on clock_now_ms's clock, or 0 for none. */
double mcp_child_deadline(const struct mcp_child *c);
/* Adds c's open pipes to fds (from index n); the new count. */
int mcp_child_poll_add(struct mcp_child *c, struct pollfd *fds, int n);
/* Reads what fds[] (as filled by poll_add) says is readable. */
void mcp_child_pump(struct mcp_child *c, const struct pollfd *fds, int count);
/* Records pid's exit if it is c's; then what the pipes still hold is read and they are closed
 * (a process in the sandbox may keep its end open: nothing is waited for). True if c's. */
bool mcp_child_reaped(struct mcp_child *c, pid_t pid, int status);
bool mcp_child_is_running(const struct mcp_child *c);
/* Frees the buffers, closes the pipes; c is as mcp_child_init left it. */
void mcp_child_release(struct mcp_child *c);
/* The exit code as a shell shows it (128+N for signal N). */
int mcp_child_exit_code(const struct mcp_child *c);
/* Starts and waits (for the checks at start, before the session): 0 when it exited 0. */
int mcp_child_run(struct mcp_child *c, const char *self, char *const argv[], size_t out_cap,
		  uint64_t timeout_ms, struct sk_err *err);
/* stockade's own one-line refusal ("stockade: ...") at the end of its stderr, "stockade: "
 * left out, into buf; false when the last line is not one. */
bool mcp_child_refusal(const struct mcp_child *c, char *buf, size_t size);
/* A sealed memfd holding data (a child's stdin: it cannot change it for another). -1, err. */
int mcp_memfd(const char *data, size_t len, struct sk_err *err);

/* ---- mcp_tools.c: the tools, their arguments and results ---- */

#define MCP_ARGV_MAX 1024 /* a command's arguments (stockade exec's own limit) */
#define MCP_ENV_MAX 64	  /* variables an exec adds */

/* The kinds of argument a tool takes: each one's check and its JSON Schema. */
enum mcp_field_type {
	MCP_NAME,     /* a sandbox's name (store/box.h's rule) */
	MCP_PATH,     /* absolute, inside the sandbox */
	MCP_STRING,   /* text without NUL (it goes into argv) */
	MCP_TEXT,     /* any text (it goes through a memfd) */
	MCP_BOOL,     /* true or false */
	MCP_SECONDS,  /* > 0, at most the operator's --max-timeout */
	MCP_ARGV,     /* 1-1024 strings without NUL */
	MCP_ENV,      /* {NAME: value}, NAME as env.h's rule */
	MCP_PROFILE,  /* one of the operator's allowed profiles */
	MCP_ENCODING, /* "utf-8" or "base64" */
};

struct mcp_field {
	const char *name;
	enum mcp_field_type type;
	bool is_required;
	const char *description;
};

/* A field of a tool's output: its JSON Schema type ("string", "integer|null", ...) and, for
 * an array, its items' fields. */
struct mcp_out {
	const char *name, *type;
	const struct mcp_out *items;
};

struct mcp_tool {
	const char *name, *title, *description;
	bool is_read_only, is_destructive, is_idempotent; /* its annotations */
	const struct mcp_field *fields;			  /* up to one with no name */
	const struct mcp_out *output;			  /* up to one with no name */
	/* start: arguments checked; starts a command or answers. done: a command ended. */
	void (*start)(struct mcp_session *s, struct mcp_call *c);
	void (*done)(struct mcp_session *s, struct mcp_call *c);
};

/* The argv of a stockade command: the model's values in fixed places, our own text freed
 * after the spawn. */
struct mcp_argv {
	char *argv[MCP_ARGV_MAX + 2 * MCP_ENV_MAX + 32];
	char *owned[MCP_ENV_MAX + 8];
	size_t count, owned_count;
	bool is_broken; /* an allocation failed: not spawned */
	bool is_tied;	/* run -d --tie-fd 3: the session's tie goes as fd 3 */
};

/* The tools/list result's tools array, for the negotiated protocol. */
json_t *mcp_tools_list(const struct mcp_session *s);
const struct mcp_tool *mcp_tool_find(const char *name);
/* Every argument of c (its tool and args set) known, of its kind, the required ones there;
 * else false with the call answered (an error result the model can act on). */
bool mcp_tool_check_args(struct mcp_session *s, struct mcp_call *c);
/* Starts call (its tool, args set): validates, starts its first command or answers at once
 * (call->result set). */
void mcp_tool_start(struct mcp_session *s, struct mcp_call *call);
/* The call's child has been reaped: the next command, or call->result. */
void mcp_tool_child_done(struct mcp_session *s, struct mcp_call *call);
/* The profiles a model may get, in describe_policy's order: the default (the operator's
 * --profile, or NULL: none, the policy file's own) then every other allowed one; *exists is
 * false past the last. */
const char *mcp_policy_profile(const struct mcp_options *o, size_t index, bool *exists);
/* text (NUL-terminated, in a buffer of size) made valid UTF-8 in place, cut if it must be. */
void mcp_text_repair(char *text, size_t size);
/* A short progress line for a long call ("exec: running 12 s, 3100 bytes of output"). */
void mcp_tool_progress_text(const struct mcp_call *call, double now, char *buf, size_t size);

/* Answers: the structured output (taken) as structuredContent and as text; or an error
 * result with the reason, kept for describe_policy's last_denial. */
void mcp_succeed(struct mcp_session *s, struct mcp_call *c, json_t *structured);
void mcp_deny(struct mcp_session *s, struct mcp_call *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An error result from the child's stderr: stockade's refusal line, else its last line. */
void mcp_fail_from_child(struct mcp_session *s, struct mcp_call *c, const char *what);
/* A capture as a JSON string: valid UTF-8, cut between characters, a marker where it was cut
 * (*is_truncated then set). */
json_t *mcp_output_text(const struct mcp_capture *cap, bool *is_truncated);

void mcp_argv_init(struct mcp_argv *a);
void mcp_argv_add(struct mcp_argv *a, const char *arg);
void mcp_argv_addf(struct mcp_argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* --policy FILE and --profile P: the operator's policy, P checked against the allowed. */
void mcp_argv_policy(struct mcp_argv *a, const struct mcp_session *s, const char *profile);
void mcp_argv_free(struct mcp_argv *a);
/* Starts the call's child with a (freed here); false with the call answered. */
bool mcp_spawn(struct mcp_session *s, struct mcp_call *c, struct mcp_argv *a, size_t out_cap,
	       uint64_t timeout_ms);
/* "mcp-" and 8 random hex digits. */
bool mcp_make_name(char *buf, size_t size);

/* ---- mcp_box.c: the tools that act on sandboxes ---- */

void mcp_box_create_start(struct mcp_session *s, struct mcp_call *c);
void mcp_box_create_done(struct mcp_session *s, struct mcp_call *c);
void mcp_box_destroy_start(struct mcp_session *s, struct mcp_call *c);
void mcp_box_destroy_done(struct mcp_session *s, struct mcp_call *c);
/* exec and run */
void mcp_box_exec_start(struct mcp_session *s, struct mcp_call *c);
void mcp_box_exec_done(struct mcp_session *s, struct mcp_call *c);
void mcp_box_read_start(struct mcp_session *s, struct mcp_call *c);
void mcp_box_read_done(struct mcp_session *s, struct mcp_call *c);
void mcp_box_write_start(struct mcp_session *s, struct mcp_call *c);
void mcp_box_write_done(struct mcp_session *s, struct mcp_call *c);
void mcp_box_list_start(struct mcp_session *s, struct mcp_call *c);
void mcp_box_list_done(struct mcp_session *s, struct mcp_call *c);
void mcp_box_delete_start(struct mcp_session *s, struct mcp_call *c);
void mcp_box_delete_done(struct mcp_session *s, struct mcp_call *c);

/* ---- mcp.c ---- */

/* The revision that lacks structured tool output (answers carry text content only). */
bool mcp_is_legacy_protocol(const struct mcp_session *s);

#endif
