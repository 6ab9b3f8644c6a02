/* PID 1 inside the sandbox: starts the command, reaps zombies, forwards signals, and reports
 * the command's exit status to the parent. */
#ifndef STOCKADE_INIT_H
#define STOCKADE_INIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"

struct sync_exec;

struct init_config {
	char *const *argv;
	char *const *envp;
	const char *path; /* PATH used to find argv[0] */
	/* Shared with the parent (MAP_SHARED, made before clone3): whether the command was
	 * exec'd, decided by the vfork child and the kernel, not by PID 1 after the fact
	 * (sync.h). Shared memory, not a message: the parent needs it only when it kills the
	 * sandbox and at the end, and a message would wake it once more per launch for nothing. */
	struct sync_exec *exec;
	int net_helper_pidfd; /* reaped once the command runs (net_helper_reap), or -1 */
	bool has_tty;	      /* fd 1 is the sandbox's pty: the command's controlling tty */
	bool is_service;      /* a long-lived sandbox: service_run() instead (argv may be NULL) */
};

/* One command started by PID 1: the first, or one exec'd into a live sandbox. */
struct init_exec {
	char *const *argv;
	char *const *envp;
	const char *path;    /* PATH used to find argv[0] */
	const char *workdir; /* NULL: PID 1's */
	int stdio[3];	     /* its fds 0-2; -1: PID 1's own */
	bool has_tty;	     /* fd 1 is a pty of the sandbox: the controlling terminal */
	bool is_group_only;  /* a process group of its own in PID 1's session, not a session */
};

/* The child of PID 1's vfork: (the first command: claims the launch, sync.h) fds, directory,
 * session, then execve. A failure's errno goes to exec (the first command) or else to *failed
 * (in the vfork parent's memory), and the child exits 126, or 127 for ENOENT. */
void init_exec_child(const struct init_exec *x, struct sync_exec *exec, volatile int *failed)
    __attribute__((noreturn));
/* The first command: vfork + init_exec_child with config->exec; a failure reported to the
 * parent (SYNC_EXEC_FAILED). Returns its pid (reap it). */
pid_t init_start_command(const struct init_config *config, int sync_fd);

/* An exec into a live sandbox: vfork + init_exec_child (closing close_in_child there, if
 * >= 0). Returns 0 once the command runs (*pid), the errno of a failed start (the child exits:
 * reap it), or -1 (no child). */
int init_spawn(const struct init_exec *x, int close_in_child, pid_t *pid);
/* Kills every other process of the namespace, reaps them, sends SYNC_EXIT with status, and
 * exits. */
void init_finish(int sync_fd, int status) __attribute__((noreturn));

/* PID 1, before anything else: every signal's disposition back to the default, so the
 * command execs with none ignored (an ignored signal stays ignored across execve) and the
 * vfork child has nothing to reset; the signals PID 1 waits for blocked (queued until
 * init_run forwards them), all others unblocked. */
void init_default_signals(void);

/* The error of a command that could not be exec'd (errnum): exit 127 for ENOENT, else 126.
 * Async-signal-safe (PID 1 sends it; the parent fills it when PID 1 was killed first). */
void init_exec_error(struct sk_err *err, int errnum, const char *name);

/* Child, after every layer is applied. Never returns. */
void init_run(const struct init_config *config, int sync_fd) __attribute__((noreturn));

/* The signals the parent forwards to PID 1 and PID 1 forwards to the command. */
extern const int init_forwarded_signals[];
extern const int init_forwarded_count;

#endif
