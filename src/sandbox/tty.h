/* The terminal layer: the caller's terminal stays the caller's. When stdin or stdout is a
 * terminal (--tty=auto) or always (--tty=always), the sandbox gets a pseudo-terminal of its own
 * from its own devpts: PID 1 opens it after the mounts, makes the slave fds 1-2 (and 0, unless
 * under auto the caller's stdin is not a terminal: piped input then reaches the command as it
 * is, not through a line discipline) and, in the command's new session, its controlling
 * terminal; it hands the master to the parent, which relays between it and the caller's
 * stdin/stdout. The workload can then change, stop and resize only its own terminal, and
 * everything it writes is counted against --output-limit. Without a pty, a terminal on stderr
 * alone is relayed through a pipe (launch.c), so under auto no terminal of the caller ever
 * reaches the sandbox. --tty=never keeps the inherited fds (seccomp's TIOCSTI/TIOCLINUX denial
 * and the command's own session without a controlling terminal still hold). */
#ifndef STOCKADE_TTY_H
#define STOCKADE_TTY_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/types.h>
#include <termios.h>

#include "spec/spec.h"
#include "util/err.h"

struct tty_plan {
	bool has_pty;		 /* the sandbox gets a pty of its own: fds 1-2 */
	bool is_stdin_pty;	 /* ... and fd 0, with the caller's stdin relayed into it */
	bool should_pipe_stderr; /* no pty, but stderr is a terminal: relayed through a pipe */
	int size_fd;		 /* the caller's terminal the window size comes from, or -1 */
	bool has_winsize;
	struct winsize winsize; /* the caller's, set on the pty before the command exists */
	char detail[96];
};

/* The parent's side of the pty while the sandbox runs. */
struct tty_relay {
	int master;	/* -1 until PID 1 sent it, and again once drained */
	int in_fd;	/* the caller's stdin while it is relayed, else -1 */
	bool is_raw;	/* the caller's stdin terminal is in raw mode; `saved` restores it */
	bool wants_eof; /* the caller's stdin ended: VEOF goes after the pending input */
	bool is_line_start;
	struct termios saved;
	char pending[4096]; /* the caller's input the pty has not taken yet */
	size_t pending_len, pending_off;
	int idx_master, idx_in; /* positions in the supervisor's poll array, or -1 */
};

/* Parent, before clone: decides (spec->tty_mode and which of fds 0-2 are terminals) and reads
 * the caller's window size. */
int tty_prepare(struct tty_plan *plan, const struct sandbox_spec *spec, struct sk_err *err);
/* Child (PID 1), after the mounts and before Landlock and seccomp: opens the pty from the
 * sandbox's devpts, sets the window size, makes the slave fds 1-2 and maybe 0 (closing the
 * caller's) and sends the master to the parent (SYNC_TTY). Async-signal-safe; nothing when
 * there is no pty. */
int tty_apply(const struct tty_plan *plan, int sync_fd, struct sk_err *err);

/* Child (PID 1): a new pty from the sandbox's devpts, unlocked, with size (if any) set; its
 * master (close-on-exec) and slave (not a controlling terminal yet). */
int tty_open_pty(const struct winsize *size, int *master, int *slave, struct sk_err *err);

void tty_relay_init(struct tty_relay *relay);
/* Parent, on SYNC_TTY: takes the master, copies the window size again (the caller may have
 * resized since tty_prepare) and puts the caller's stdin terminal in raw mode, so keystrokes
 * (^C included) reach the sandbox's line discipline instead of the caller's. */
int tty_from_parent(struct tty_relay *relay, const struct tty_plan *plan, int master,
		    struct sk_err *err);
/* Parent, on SIGWINCH: the caller's window size to the pty (never the other way). */
void tty_resize(const struct tty_relay *relay, const struct tty_plan *plan);
/* Adds the relay's fds to a poll array from index n; returns the new count. */
int tty_poll_add(struct tty_relay *relay, struct pollfd *fds, int n);
/* After poll: moves the caller's input to the pty. */
void tty_relay_input(struct tty_relay *relay, const struct pollfd *fds);
/* After poll: what the workload wrote, up to size bytes into buf; 0 when there is nothing (or
 * the pty closed: the master is then -1, drained). */
size_t tty_relay_output(struct tty_relay *relay, const struct pollfd *fds, char *buf, size_t size);
/* The caller's terminal settings back, and the master closed. Idempotent; on every exit path. */
void tty_relay_finish(struct tty_relay *relay);

#endif
