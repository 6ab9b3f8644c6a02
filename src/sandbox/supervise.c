/* The parent's side of a running sandbox (see supervise.h). Messages are read before the exit
 * they may explain; output past --output-limit is dropped and the sandbox killed; the caller's
 * signals go to PID 1 (SIGWINCH to the pty instead). */
#define _GNU_SOURCE
#include "sandbox/supervise.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/init.h"
#include "sandbox/sync.h"
#include "util/fds.h"
#include "util/syscalls.h"

void supervise_init(struct supervisor *sv)
{
	memset(sv, 0, sizeof(*sv));
	sv->pidfd = sv->sync_fd = sv->signal_fd = sv->timer_fd = -1;
	sv->out_fd[0] = sv->out_fd[1] = -1;
	tty_relay_init(&sv->tty);
}

/* After PID 1 reported the exit, every other process of the sandbox is dead (init.c: finish)
 * and PID 1 is exiting; only the kernel's teardown of the namespaces remains. The CLI need
 * not wait for it (a quarter of a short run's time) unless a cgroup must then be removed:
 * when stockade exits, PID 1 is reaped by the host's init like any orphan. */
static bool supervise_may_leave(const struct supervisor *sv)
{
	return sv->has_exit && sv->cgroup->version == 0 && sv->out_fd[0] < 0 && sv->out_fd[1] < 0 &&
	       sv->tty.master < 0;
}

/* How long a kill waits for an exec under way: an execve takes microseconds (milliseconds
 * from a cold disk); only a sandbox stopped or frozen from outside holds one longer, and the
 * kill must still come (its outcome is then what the kernel had decided when PID 1 died). */
#define SUPERVISE_EXEC_WAIT_MS 1000

void supervise_kill(struct supervisor *sv)
{
	int errnum;

	/* Settle "did the command start?" before the SIGKILL, never after: once PID 1 dies the
	 * kernel kills its vfork child too, and one caught inside its execve could have either
	 * outcome. Not yet taken, the launch is cancelled (the command will never run: 125);
	 * under way, it ends in microseconds (then it started: 124 or 153, or it failed). */
	(void)sync_exec_settle(sv->exec, SUPERVISE_EXEC_WAIT_MS, &errnum);
	sys_pidfd_send_signal(sv->pidfd, SIGKILL);
}

static void supervise_message(struct supervisor *sv)
{
	struct sync_msg msg;
	int fds[2], fd_count;
	int rc = sync_recv_fds(sv->sync_fd, &msg, fds, 2, &fd_count);

	if (rc <= 0) {
		close(sv->sync_fd);
		sv->sync_fd = -1;
		return;
	}
	/* A long-lived sandbox's answers for the clients of its control socket (an exec -t's
	 * pty master with them). */
	if (sv->control && control_from_pid1(sv->control, &msg, fds, fd_count))
		return;
	if (fd_count && msg.kind != SYNC_PROXY && msg.kind != SYNC_TTY)
		for (int i = 0; i < fd_count; i++)
			close(fds[i]);
	switch (msg.kind) {
	case SYNC_TTY:
		if (fd_count > 1)
			close(fds[1]);
		if (tty_from_parent(&sv->tty, sv->tty_plan, fds[0], sv->err) < 0) {
			sv->has_failed_setup = true;
			supervise_kill(sv);
		}
		break;
	case SYNC_PROXY:
		/* The command waits for this: if the proxy cannot start, it never runs. */
		if (egress_from_parent(sv->egress, fds, sv->sync_fd, sv->err) < 0) {
			sv->has_failed_setup = true;
			supervise_kill(sv);
		}
		break;
	case SYNC_ERROR:
	case SYNC_EXEC_FAILED:
		*sv->err = msg.err;
		if (sv->err->exit_code == 0)
			sv->err->exit_code = 125;
		sv->has_failed_setup = true;
		break;
	case SYNC_DEGRADED: {
		char detail[256];
		snprintf(detail, sizeof(detail), "%.180s: %.60s", msg.err.op,
			 msg.err.errnum ? strerror(msg.err.errnum) : "failed");
		report_layer(sv->report, msg.err.layer, false, true, detail);
		break;
	}
	case SYNC_EXIT:
		sv->has_exit = true;
		if (WIFEXITED(msg.wait_status)) {
			sv->result->exited = true;
			sv->result->exit_code = WEXITSTATUS(msg.wait_status);
		} else if (WIFSIGNALED(msg.wait_status)) {
			sv->result->term_signal = WTERMSIG(msg.wait_status);
		}
		sv->result->max_rss_kb = msg.max_rss_kb;
		break;
	}
}

static void supervise_signal(struct supervisor *sv)
{
	struct signalfd_siginfo info;

	if (read(sv->signal_fd, &info, sizeof(info)) != sizeof(info))
		return;
	if (info.ssi_signo == SIGCHLD)
		return; /* the pidfd tells us */
	/* The caller's terminal was resized: its size goes to the pty, the signal nowhere. */
	if (info.ssi_signo == SIGWINCH) {
		tty_resize(&sv->tty, sv->tty_plan);
		return;
	}
	sys_pidfd_send_signal(sv->pidfd, (int)info.ssi_signo);
}

/* Passes on what the command wrote, up to --output-limit (if any); past it the sandbox is
 * killed and the rest is dropped. */
static void supervise_emit(struct supervisor *sv, int to_fd, const char *buf, size_t n)
{
	uint64_t limit = sv->output_limit;
	size_t allowed_now = n;

	if (limit && sv->output_total + (uint64_t)n > limit) {
		allowed_now = (size_t)(limit - sv->output_total);
		if (!sv->result->output_limit_hit)
			supervise_kill(sv);
		sv->result->output_limit_hit = true;
	}
	sv->output_total += allowed_now;
	if (sv->control) /* a long-lived sandbox: the first command's output is its log */
		control_log(sv->control, buf, allowed_now);
	else
		(void)fds_write_all(to_fd, buf, allowed_now); /* the caller gone: nothing to do */
}

static void supervise_output(struct supervisor *sv, int which)
{
	char buf[65536];
	ssize_t n = read(sv->out_fd[which], buf, sizeof(buf));

	if (n < 0 && errno == EINTR)
		return;
	if (n <= 0) {
		close(sv->out_fd[which]);
		sv->out_fd[which] = -1;
		return;
	}
	supervise_emit(sv, which + 1, buf, (size_t)n);
}

/* The pty: the caller's input in, what the workload wrote out to the caller's stdout. */
static void supervise_tty(struct supervisor *sv, const struct pollfd *fds)
{
	char buf[65536];
	size_t n;

	tty_relay_input(&sv->tty, fds);
	n = tty_relay_output(&sv->tty, fds, buf, sizeof(buf));
	if (n > 0)
		supervise_emit(sv, 1, buf, n);
}

void supervise_loop(struct supervisor *sv)
{
	for (;;) {
		struct pollfd fds[8 + 5 + CONTROL_MAX_CLIENTS];
		int n = 0, idx_sync = -1, idx_sig, idx_pid, idx_timer = -1, idx_out[2] = {-1, -1};
		int idx_control = -1;

		bool is_drained =
		    sv->sync_fd < 0 && sv->out_fd[0] < 0 && sv->out_fd[1] < 0 && sv->tty.master < 0;

		if ((is_drained && sv->is_child_done) || supervise_may_leave(sv))
			return;
		idx_sig = n;
		fds[n++] = (struct pollfd){.fd = sv->signal_fd, .events = POLLIN};
		idx_pid = n;
		fds[n++] =
		    (struct pollfd){.fd = sv->is_child_done ? -1 : sv->pidfd, .events = POLLIN};
		if (sv->sync_fd >= 0) {
			idx_sync = n;
			fds[n++] = (struct pollfd){.fd = sv->sync_fd, .events = POLLIN};
		}
		if (sv->timer_fd >= 0) {
			idx_timer = n;
			fds[n++] = (struct pollfd){.fd = sv->timer_fd, .events = POLLIN};
		}
		for (int i = 0; i < 2; i++) {
			if (sv->out_fd[i] >= 0) {
				idx_out[i] = n;
				fds[n++] = (struct pollfd){.fd = sv->out_fd[i], .events = POLLIN};
			}
		}
		n = tty_poll_add(&sv->tty, fds, n);
		if (sv->control) {
			idx_control = n;
			n = control_poll_add(sv->control, fds, n);
		}
		if (poll(fds, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			supervise_kill(sv);
			return;
		}
		if (fds[idx_sig].revents)
			supervise_signal(sv);
		/* Messages before the exit: they carry the reason and the status. */
		if (idx_sync >= 0 && fds[idx_sync].revents)
			supervise_message(sv);
		for (int i = 0; i < 2; i++)
			if (idx_out[i] >= 0 && fds[idx_out[i]].revents)
				supervise_output(sv, i);
		supervise_tty(sv, fds);
		if (idx_control >= 0)
			control_handle(sv->control, fds, idx_control, sv->sync_fd, sv->pidfd);
		if (idx_timer >= 0 && fds[idx_timer].revents) {
			sv->result->timed_out = true;
			supervise_kill(sv);
			close(sv->timer_fd);
			sv->timer_fd = -1;
		}
		if (fds[idx_pid].revents)
			sv->is_child_done = true;
	}
}

int supervise_timer(struct supervisor *sv, uint64_t timeout_ms, struct sk_err *err)
{
	struct itimerspec its;
	int fd;

	if (timeout_ms == 0)
		return 0;
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (fd < 0)
		return sk_fail(err, "launch", errno, NULL, "timerfd_create");
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = (time_t)(timeout_ms / 1000);
	its.it_value.tv_nsec = (long)(timeout_ms % 1000) * 1000000;
	if (timerfd_settime(fd, 0, &its, NULL) < 0) {
		close(fd);
		return sk_fail(err, "launch", errno, NULL, "timerfd_settime");
	}
	sv->timer_fd = fd;
	return 0;
}

int supervise_signalfd(bool wants_winch, sigset_t *old, struct sk_err *err)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	/* The caller's terminal was resized: copied to the sandbox's pty, never forwarded. */
	if (wants_winch)
		sigaddset(&set, SIGWINCH);
	for (int i = 0; i < init_forwarded_count; i++)
		sigaddset(&set, init_forwarded_signals[i]);
	if (sigprocmask(SIG_BLOCK, &set, old) < 0)
		return sk_fail(err, "launch", errno, NULL, "sigprocmask");
	fd = signalfd(-1, &set, SFD_CLOEXEC);
	if (fd < 0) {
		sigprocmask(SIG_SETMASK, old, NULL);
		return sk_fail(err, "launch", errno, NULL, "signalfd");
	}
	return fd;
}

void supervise_finish(struct supervisor *sv)
{
	siginfo_t info;

	memset(&info, 0, sizeof(info));
	if (!sv->is_child_done && supervise_may_leave(sv))
		return;
	(void)sys_waitid_pidfd(sv->pidfd, &info, WEXITED);
	sv->result->oom_killed = cgroup_oom_killed(sv->cgroup);
	/* PID 1 killed before it could report (timeout, output limit, OOM, kill from outside). */
	if (!sv->result->exited && !sv->result->term_signal && sv->result->started &&
	    info.si_code == CLD_KILLED)
		sv->result->term_signal = info.si_status;
}

void supervise_close(struct supervisor *sv)
{
	for (int i = 0; i < 2; i++)
		if (sv->out_fd[i] >= 0)
			close(sv->out_fd[i]);
	if (sv->sync_fd >= 0)
		close(sv->sync_fd);
	if (sv->timer_fd >= 0)
		close(sv->timer_fd);
	if (sv->pidfd >= 0)
		close(sv->pidfd);
	sv->out_fd[0] = sv->out_fd[1] = sv->sync_fd = sv->timer_fd = sv->pidfd = -1;
}
