/* The parent's side of a running sandbox, after clone3: one poll loop over PID 1's messages
 * (sync.h), the forwarded signals (a signalfd), PID 1's pidfd, the --timeout timer, the output
 * pipes (--output-limit) and the relay of the sandbox's pty (tty.h); then the outcome. */
#ifndef STOCKADE_SUPERVISE_H
#define STOCKADE_SUPERVISE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sandbox/cgroup.h"
#include "sandbox/control.h"
#include "sandbox/egress.h"
#include "sandbox/report.h"
#include "sandbox/sync.h"
#include "sandbox/tty.h"
#include "spec/spec.h"
#include "util/err.h"

struct supervisor {
	/* Set by the launch before supervise_loop(): */
	pid_t pid;     /* PID 1 of the sandbox */
	int pidfd;     /* its pidfd (-1 until the clone) */
	int sync_fd;   /* our end of the socketpair, -1 once PID 1 closed its end */
	int signal_fd; /* supervise_signalfd()'s */
	int out_fd[2]; /* read ends of the stdout/stderr pipes, -1 when none or once closed */
	int timer_fd;  /* --timeout, -1 when none or once fired */
	uint64_t output_limit; /* --output-limit, 0: none */
	const struct tty_plan *tty_plan;
	struct egress_plan *egress;	  /* started on SYNC_PROXY */
	const struct cgroup_plan *cgroup; /* its OOM kills are collected at the end */
	struct sandbox_result *result;
	struct run_report *report;
	struct sk_err *err;	 /* a setup failure PID 1 reported (SYNC_ERROR, SYNC_EXEC_FAILED) */
	struct sync_exec *exec;	 /* whether the command was exec'd (sync.h), shared with PID 1 */
	struct control *control; /* a long-lived sandbox's control socket and log; else NULL */
	/* Its own state: */
	struct tty_relay tty;
	uint64_t output_total;
	bool is_child_done, has_failed_setup, has_exit;
};

/* Sets every fd to -1 and the relay to none. */
void supervise_init(struct supervisor *sv);
/* Blocks SIGCHLD, the forwarded signals (and SIGWINCH with a pty) and returns a signalfd that
 * reads them; *old is the mask to restore. -1 with err. */
int supervise_signalfd(bool wants_winch, sigset_t *old, struct sk_err *err);
/* The --timeout timer (none for 0) into sv->timer_fd. -1 with err. */
int supervise_timer(struct supervisor *sv, uint64_t timeout_ms, struct sk_err *err);
/* Until PID 1 reported the command's exit (and nothing is left to relay or remove) or died. */
void supervise_loop(struct supervisor *sv);
/* Kills the sandbox: SIGKILL to PID 1, which takes its namespace down with it. First the
 * command's launch is settled (sync.h): cancelled if not begun, waited for if under way. */
void supervise_kill(struct supervisor *sv);
/* After the loop: waits for PID 1 when it must (a cgroup to remove, output to drain), takes
 * the cgroup's OOM kills and a signal that killed PID 1 before it could report into result. */
void supervise_finish(struct supervisor *sv);
/* Closes what the supervisor holds (not the signalfd: the launch restores the mask with it). */
void supervise_close(struct supervisor *sv);

#endif
