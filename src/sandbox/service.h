/* PID 1 of a long-lived sandbox (`stockade run -d`): it starts the first command (if any), says
 * SYNC_READY, and then starts every `stockade exec` the supervisor passes on (SYNC_EXEC_REQ)
 * as its own child. An exec'd process is therefore a child of the confined PID 1: it has
 * exactly its layers (user, capabilities, no_new_privs, Landlock domain, seccomp filter,
 * namespaces, cgroup), and nothing of the host ever enters the sandbox with setns (runc
 * CVE-2016-9962, CVE-2019-5736). The sandbox ends when the first command ends, or on
 * SYNC_STOP once every process is gone. Everything here is async-signal-safe. */
#ifndef STOCKADE_SERVICE_H
#define STOCKADE_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

#include "sandbox/init.h"
#include "spec/spec.h"

#define SERVICE_BODY_MAX 65536 /* one datagram */
#define SERVICE_MAX_ARGS 1024
#define SERVICE_MAX_EXECS 64 /* at once, per sandbox */

/* What an exec request asks for. */
enum service_kind {
	SERVICE_EXEC = '-',	 /* a command, with the caller's fds 0-2 */
	SERVICE_TTY = 't',	 /* a command on a pty of the sandbox's own */
	SERVICE_COPY_IN = 'i',	 /* stockade cp HOST NAME:argv[0]: a tree stream on fd 0 */
	SERVICE_COPY_OUT = 'o',	 /* stockade cp NAME:argv[0] HOST: its fd sent over fd 0 */
	SERVICE_COPY_FILE = 'f', /* stockade cp - NAME:argv[0]: one file's stream on fd 0, made
				  * as argv[0] itself, never inside a directory there */
};

/* An exec's request body, after its SYNC_EXEC_REQ: NUL-terminated strings: the kind (one
 * character of enum service_kind), workdir ("": PID 1's), argc in decimal, the arguments,
 * envc in decimal, the KEY=VALUE additions to the sandbox's environment. */
struct service_body {
	char kind;
	bool has_tty;
	const char *workdir; /* NULL: PID 1's */
	char *argv[SERVICE_MAX_ARGS + 1];
	size_t argc;
	const char *env[SANDBOX_MAX_ENV];
	size_t env_count;
	bool is_done_only; /* not in the text: SYNC_EXEC_DONE_ONLY in the SYNC_EXEC_REQ */
};

/* Front end: body into buf; the length, or -1 when it does not fit (or argv is empty). */
long service_body_build(char *buf, size_t size, const struct service_body *body);
/* Parses buf (len bytes) in place into body: every string inside buf, counts in range, env
 * entries KEY=VALUE with a valid KEY, no byte left over. 0, or -1. Async-signal-safe. */
int service_body_parse(char *buf, size_t len, struct service_body *body);

/* PID 1 of a long-lived sandbox, instead of init_run(). Never returns. */
void service_run(const struct init_config *config, int sync_fd) __attribute__((noreturn));

#endif
