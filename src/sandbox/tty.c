/* The terminal layer (see tty.h): a pty of the sandbox's own, opened by PID 1 from the sandbox's
 * devpts, and the parent's relay between its master and the caller's stdin/stdout. The caller's
 * terminal is touched only here, and only by the parent: raw mode while relaying (restored on
 * every exit path by tty_relay_finish) and its window size read, never written. */
#define _GNU_SOURCE
#include "sandbox/tty.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sandbox/sync.h"
#include "util/macros.h"
#include "util/syscalls.h"

/* The sandbox's own devpts (devfs.c), not the host's /dev/ptmx. */
#define SANDBOX_PTMX "/dev/pts/ptmx"

static const char *const mode_names[] = {SANDBOX_TTY_MODE_NAMES};

static int first_terminal(void)
{
	for (int fd = 0; fd <= 2; fd++)
		if (isatty(fd))
			return fd;
	return -1;
}

int tty_prepare(struct tty_plan *plan, const struct sandbox_spec *spec, struct sk_err *err)
{
	bool is_in_tty = isatty(0), is_out_tty = isatty(1);

	memset(plan, 0, sizeof(*plan));
	plan->size_fd = -1;
	if (spec->tty_mode > SANDBOX_TTY_NEVER)
		return sk_fail(err, "tty", EINVAL, NULL, "unknown tty mode %d",
			       (int)spec->tty_mode);
	plan->has_pty = spec->tty_mode == SANDBOX_TTY_ALWAYS ||
			(spec->tty_mode == SANDBOX_TTY_AUTO && (is_in_tty || is_out_tty));
	/* A stdin that is not a terminal (piped data) is no terminal of the caller's to protect,
	 * and a line discipline would change it (echo, ^C, ^D, 4 KiB lines): under auto it is
	 * passed as it is. --tty=always relays it, ending with VEOF. */
	plan->is_stdin_pty = plan->has_pty && (spec->tty_mode == SANDBOX_TTY_ALWAYS || is_in_tty);
	/* Under auto, a terminal on stderr alone would reach the workload as it is: relay it. */
	plan->should_pipe_stderr =
	    spec->tty_mode == SANDBOX_TTY_AUTO && !plan->has_pty && isatty(2);
	if (plan->has_pty) {
		plan->size_fd = first_terminal();
		if (plan->size_fd >= 0 && ioctl(plan->size_fd, TIOCGWINSZ, &plan->winsize) == 0)
			plan->has_winsize = true;
	}
	snprintf(plan->detail, sizeof(plan->detail), "%s: %s", mode_names[spec->tty_mode],
		 plan->is_stdin_pty	    ? "a pty of the sandbox's own as fds 0-2"
		 : plan->has_pty	    ? "a pty of the sandbox's own as fds 1-2"
		 : plan->should_pipe_stderr ? "no pty; the terminal on stderr relayed by a pipe"
		 : spec->tty_mode == SANDBOX_TTY_NEVER ? "the caller's fds 0-2 as they are"
						       : "no terminal on fds 0-2");
	return 0;
}

/* ---- child (PID 1): async-signal-safe ---- */

static int tty_fail(struct sk_err *err, int fd, const char *op)
{
	int saved = errno;

	if (fd >= 0)
		close(fd);
	return sk_fail_safe(err, "tty", saved, op, NULL, NULL);
}

int tty_open_pty(const struct winsize *size, int *master, int *slave, struct sk_err *err)
{
	int unlock = 0;

	*master = open(SANDBOX_PTMX, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*master < 0)
		return sk_fail_safe(err, "tty", errno, "open", SANDBOX_PTMX, NULL);
	if (ioctl(*master, TIOCSPTLCK, &unlock) < 0)
		return tty_fail(err, *master, "ioctl(TIOCSPTLCK)");
	/* Before any process is in the pty's session: nobody gets a SIGWINCH for it. */
	if (size && ioctl(*master, TIOCSWINSZ, size) < 0)
		return tty_fail(err, *master, "ioctl(TIOCSWINSZ)");
	/* The slave by the master's own reference, not by a path in /dev/pts. O_NOCTTY: PID 1
	 * never takes it as its controlling terminal; the command does, in its session. */
	*slave = ioctl(*master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
	if (*slave < 0)
		return tty_fail(err, *master, "ioctl(TIOCGPTPEER)");
	return 0;
}

int tty_apply(const struct tty_plan *plan, int sync_fd, struct sk_err *err)
{
	struct sync_msg msg;
	int master, slave, rc;

	if (!plan->has_pty)
		return 0;
	if (tty_open_pty(plan->has_winsize ? &plan->winsize : NULL, &master, &slave, err) < 0)
		return -1;
	/* The caller's fds go: from here on no terminal of the caller's is left in the sandbox,
	 * and the command inherits the slave as its stdio. */
	for (int fd = plan->is_stdin_pty ? 0 : 1; fd <= 2; fd++)
		if (slave != fd && dup2(slave, fd) < 0) {
			close(slave);
			return tty_fail(err, master, "dup2(pty onto fds 0-2)");
		}
	if (slave > 2)
		close(slave);
	memset(&msg, 0, sizeof(msg));
	msg.kind = SYNC_TTY;
	rc = sync_send_fds(sync_fd, &msg, &master, 1);
	close(master); /* the parent holds the only master: the sandbox cannot read its input */
	if (rc < 0)
		return sk_fail_safe(err, "tty", errno, "hand the pty master over", NULL, NULL);
	return 0;
}

/* ---- parent ---- */

void tty_relay_init(struct tty_relay *relay)
{
	/* Field by field: `pending` (4 KiB) is read only up to pending_len, and not writing it
	 * saves an exec's client the page faults. */
	relay->is_raw = relay->wants_eof = false;
	relay->pending_len = relay->pending_off = 0;
	relay->master = -1;
	relay->in_fd = -1;
	relay->is_line_start = true;
	relay->idx_master = relay->idx_in = -1;
}

void tty_resize(const struct tty_relay *relay, const struct tty_plan *plan)
{
	struct winsize size;

	/* Only ever read from the caller's terminal and written to the sandbox's: the kernel then
	 * signals the sandbox's foreground process group, never a process of the host. */
	if (relay->master < 0 || plan->size_fd < 0)
		return;
	if (ioctl(plan->size_fd, TIOCGWINSZ, &size) == 0)
		(void)ioctl(relay->master, TIOCSWINSZ, &size);
}

static int set_raw(struct tty_relay *relay, struct sk_err *err)
{
	struct termios raw;

	if (tcgetattr(0, &relay->saved) < 0)
		return sk_fail(err, "tty", errno, NULL, "tcgetattr(stdin)");
	raw = relay->saved;
	/* Input bytes as typed (^C, ^Z, ^S included: the sandbox's line discipline acts on them,
	 * so stockade gets no SIGINT from the keyboard and nothing is delivered twice; one sent
	 * with kill is still forwarded), no echo (the pty echoes), output as the pty made it (it
	 * already turned \n into \r\n). Set on SYNC_TTY, before any output is relayed. */
	cfmakeraw(&raw);
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(0, TCSANOW, &raw) < 0)
		return sk_fail(err, "tty", errno, NULL, "tcsetattr(stdin, raw)");
	relay->is_raw = true;
	return 0;
}

int tty_from_parent(struct tty_relay *relay, const struct tty_plan *plan, int master,
		    struct sk_err *err)
{
	int flags;

	if (!plan->has_pty || master < 0 || relay->master >= 0) {
		if (master >= 0)
			close(master);
		return sk_fail(err, "tty", EPROTO, NULL, "unexpected pty from the sandbox");
	}
	relay->master = master;
	/* Our own file description (not the caller's): non-blocking, so a workload that does
	 * not read its input never blocks the supervisor. The caller's fds keep their flags. */
	flags = fcntl(master, F_GETFL);
	if (flags < 0 || fcntl(master, F_SETFL, flags | O_NONBLOCK) < 0)
		return sk_fail(err, "tty", errno, NULL, "fcntl(pty master, O_NONBLOCK)");
	tty_resize(relay, plan);
	if (!plan->is_stdin_pty)
		return 0;
	relay->in_fd = 0;
	if (isatty(0))
		return set_raw(relay, err);
	return 0;
}

int tty_poll_add(struct tty_relay *relay, struct pollfd *fds, int n)
{
	bool has_pending = relay->pending_off < relay->pending_len || relay->wants_eof;

	relay->idx_master = relay->idx_in = -1;
	if (relay->master < 0)
		return n;
	relay->idx_master = n;
	fds[n++] = (struct pollfd){.fd = relay->master,
				   .events = (short)(POLLIN | (has_pending ? POLLOUT : 0))};
	/* One buffer of the caller's input at a time: backpressure when the workload does not
	 * read, instead of an unbounded queue in the supervisor. */
	if (relay->in_fd >= 0 && !has_pending) {
		relay->idx_in = n;
		fds[n++] = (struct pollfd){.fd = relay->in_fd, .events = POLLIN};
	}
	return n;
}

/* The caller's stdin ended. A pty has no half-close: the end goes as the VEOF character,
 * twice after a partial line (the first only ends that line), as a typed ^D would. */
static void write_eof(struct tty_relay *relay)
{
	struct termios settings;
	char eof[2];
	size_t count = relay->is_line_start ? 1 : 2;

	relay->wants_eof = false;
	if (tcgetattr(relay->master, &settings) < 0 || settings.c_cc[VEOF] == _POSIX_VDISABLE)
		return;
	eof[0] = eof[1] = (char)settings.c_cc[VEOF];
	(void)!write(relay->master, eof, count);
}

static void flush_input(struct tty_relay *relay)
{
	while (relay->pending_off < relay->pending_len) {
		ssize_t n = write(relay->master, relay->pending + relay->pending_off,
				  relay->pending_len - relay->pending_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return; /* the pty's input is full: POLLOUT tells when it takes more */
		if (n <= 0) {
			relay->pending_off = relay->pending_len = 0; /* the pty is going away */
			return;
		}
		relay->pending_off += (size_t)n;
	}
	relay->pending_off = relay->pending_len = 0;
	if (relay->wants_eof)
		write_eof(relay);
}

void tty_relay_input(struct tty_relay *relay, const struct pollfd *fds)
{
	if (relay->idx_master >= 0 && (fds[relay->idx_master].revents & POLLOUT))
		flush_input(relay);
	if (relay->idx_in < 0 || fds[relay->idx_in].revents == 0)
		return;
	ssize_t n = read(relay->in_fd, relay->pending, sizeof(relay->pending));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) { /* EOF, or a terminal that hung up (EIO): no more input either way */
		relay->in_fd = -1;
		relay->wants_eof = true;
	} else {
		relay->pending_len = (size_t)n;
		relay->is_line_start =
		    relay->pending[n - 1] == '\n' || relay->pending[n - 1] == '\r';
	}
	flush_input(relay);
}

size_t tty_relay_output(struct tty_relay *relay, const struct pollfd *fds, char *buf, size_t size)
{
	ssize_t n;

	if (relay->idx_master < 0 || relay->master < 0 ||
	    !(fds[relay->idx_master].revents & (POLLIN | POLLHUP | POLLERR)))
		return 0;
	n = read(relay->master, buf, size);
	if (n > 0)
		return (size_t)n;
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	/* EIO once every slave fd is closed (PID 1 exits last) and the buffer is read: drained. */
	close(relay->master);
	relay->master = -1;
	relay->in_fd = -1;
	return 0;
}

void tty_relay_finish(struct tty_relay *relay)
{
	if (relay->is_raw) {
		/* TCSANOW: what was written is already processed with the raw settings, and
		 * waiting for the output to drain could hang on a terminal nobody reads. */
		(void)RETRY_EINTR(tcsetattr(0, TCSANOW, &relay->saved));
		relay->is_raw = false;
	}
	if (relay->master >= 0)
		close(relay->master);
	relay->master = -1;
	relay->in_fd = -1;
}
