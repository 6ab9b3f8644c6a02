/* PID 1 inside the sandbox: starts the command, reaps zombies, forwards signals, and reports
 * the command's exit status to the parent. */
#ifndef STOCKADE_INIT_H
#define STOCKADE_INIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct init_config {
	char *const *argv;
	char *const *envp;
	const char *path; /* PATH used to find argv[0] */
	/* Shared with the parent (MAP_SHARED, made before clone3): set once the command's
	 * execve succeeded. A flag instead of a message: the parent needs it only at the end
	 * (EXIT, or PID 1 killed by a timeout or from outside), and a message would wake it
	 * once more per launch for nothing. */
	int *started;
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
};

/* The child of PID 1's vfork: fds, directory, session, then execve. A failure's errno goes to
 * exec_fd (closed by a successful execve) and the child exits 126, or 127 for ENOENT. */
void init_exec_child(const struct init_exec *x, int exec_fd) __attribute__((noreturn));

/* vfork + init_exec_child (closing close_in_child there, if >= 0). Returns 0 once the command
 * runs (*pid), the errno of a failed start (the child exits: reap it), or -1 (no child). */
int init_spawn(const struct init_exec *x, int close_in_child, pid_t *pid);
/* A start that failed with errnum: SYNC_EXEC_FAILED for the first command (exec_id 0), else
 * SYNC_EXEC_DONE for exec_id, err.exit_code 126 or 127. */
void init_report_exec_failed(int sync_fd, int errnum, const char *name, uint32_t exec_id);
/* Kills every other process of the namespace, reaps them, sends SYNC_EXIT with status, and
 * exits. */
void init_finish(int sync_fd, int status) __attribute__((noreturn));

/* PID 1, before anything else: every signal's disposition back to the default, so the
 * command execs with none ignored (an ignored signal stays ignored across execve) and the
 * vfork child has nothing to reset. PID 1 itself blocks the signals it waits for. */
void init_default_signals(void);

/* Child, after every layer is applied. Never returns. */
void init_run(const struct init_config *config, int sync_fd) __attribute__((noreturn));

/* The signals the parent forwards to PID 1 and PID 1 forwards to the command. */
extern const int init_forwarded_signals[];
extern const int init_forwarded_count;

#endif
