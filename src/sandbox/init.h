/* PID 1 inside the sandbox: starts the command, reaps zombies, forwards signals, and reports
 * the command's exit status to the parent. */
#ifndef STOCKADE_INIT_H
#define STOCKADE_INIT_H

struct init_config {
	char *const *argv;
	char *const *envp;
	const char *path; /* PATH used to find argv[0] */
};

/* Child, after every layer is applied. Never returns. */
void init_run(const struct init_config *config, int sync_fd) __attribute__((noreturn));

/* The signals the parent forwards to PID 1 and PID 1 forwards to the command. */
extern const int init_forwarded_signals[];
extern const int init_forwarded_count;

#endif
