/* PID 1 inside the sandbox: starts the command, reaps zombies, forwards signals, and reports
 * the command's exit status to the parent. */
#ifndef STOCKADE_INIT_H
#define STOCKADE_INIT_H

#include <stdbool.h>

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
};

/* PID 1, before anything else: every signal's disposition back to the default, so the
 * command execs with none ignored (an ignored signal stays ignored across execve) and the
 * vfork child has nothing to reset; the signals PID 1 waits for blocked (queued until
 * init_run forwards them), all others unblocked. */
void init_default_signals(void);

/* Child, after every layer is applied. Never returns. */
void init_run(const struct init_config *config, int sync_fd) __attribute__((noreturn));

/* The signals the parent forwards to PID 1 and PID 1 forwards to the command. */
extern const int init_forwarded_signals[];
extern const int init_forwarded_count;

#endif
