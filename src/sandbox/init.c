/* PID 1 of the sandbox's PID namespace. It forks the command (in a new session, whose
 * controlling terminal is the sandbox's own pty or none, never the caller's), then waits in
 * sigwaitinfo: SIGCHLD reaps every zombie, the forwarded signals go to the command's process
 * group. When the command ends, its status goes to the parent and PID 1 exits, which makes the
 * kernel kill whatever else is left in the namespace. Everything here is async-signal-safe. */
#define _GNU_SOURCE
#include "sandbox/init.h"
#include "sandbox/net.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/sync.h"
#include "util/macros.h"

const int init_forwarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
const int init_forwarded_count = ARRAY_SIZE(init_forwarded_signals);

/* execve along PATH, like execvpe but without allocating; returns the errno to report. */
static int exec_command(const struct init_exec *x)
{
	const char *name = x->argv[0];
	const char *dir = x->path;
	char full[4096];
	int saw_eacces = 0;

	if (strchr(name, '/')) {
		execve(name, x->argv, x->envp);
		return errno;
	}
	while (*dir) {
		const char *end = strchr(dir, ':');
		size_t len = end ? (size_t)(end - dir) : strlen(dir);
		if (len > 0 && len + 1 + strlen(name) < sizeof(full)) {
			memcpy(full, dir, len);
			full[len] = '/';
			sk_strlcpy(full + len + 1, name, sizeof(full) - len - 1);
			execve(full, x->argv, x->envp);
			if (errno == EACCES)
				saw_eacces = 1;
			else if (errno != ENOENT && errno != ENOTDIR)
				return errno;
		}
		dir += len + (end ? 1 : 0);
	}
	return saw_eacces ? EACCES : ENOENT;
}

/* What PID 1 waits for in sigwaitinfo: its children, and the signals it forwards. */
static void init_wait_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	for (int i = 0; i < init_forwarded_count; i++)
		sigaddset(set, init_forwarded_signals[i]);
}

void init_default_signals(void)
{
	struct sigaction dfl;
	sigset_t set;

	/* Blocked from the first instruction on (the mask comes from the parent, which blocked
	 * them before clone3): a namespace's init does not get a signal whose action is the
	 * default, not even from the parent's namespace, unless it is blocked; then it is
	 * queued. Unblocked during the set-up, a SIGTERM the parent forwarded was dropped, and
	 * the command then ran as if it had never been sent. Queued, it reaches the command
	 * right after its exec (init_run). */
	init_wait_set(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < _NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);
}

void init_exec_error(struct sk_err *err, int errnum, const char *name)
{
	sk_fail_safe(err, "exec", errnum, name, NULL, NULL);
	err->exit_code = errnum == ENOENT ? 127 : 126;
}

/* The vfork child's failure before the command runs: recorded for PID 1 (and the parent:
 * sync.h), or in *failed, PID 1's own memory (a vfork child shares it until it execs or exits,
 * and PID 1 reads it only then); then the exit status a shell would give. */
static void __attribute__((noreturn))
workload_fail(struct sync_exec *exec, volatile int *failed, int errnum)
{
	if (exec)
		sync_exec_fail(exec, errnum);
	else
		*failed = errnum ? errnum : EIO;
	_exit(errnum == ENOENT ? 127 : 126);
}

void init_exec_child(const struct init_exec *x, struct sync_exec *exec, volatile int *failed)
{
	sigset_t none;

	/* Before anything else: the parent may have cancelled the launch to kill the sandbox
	 * (sync.h); then this process must not become the command. */
	if (exec && !sync_exec_claim(exec))
		_exit(125);
	/* Dispositions are the defaults already (init_default_signals); only the mask. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* An exec into a live sandbox: its own fds 0-2 (the exec caller's, passed in), and its
	 * own directory. dup2 clears close-on-exec on the copies. */
	for (int i = 0; i < 3; i++)
		if (x->stdio[i] >= 0 && x->stdio[i] != i && dup2(x->stdio[i], i) < 0)
			workload_fail(exec, failed, errno);
	if (x->workdir && chdir(x->workdir) < 0)
		workload_fail(exec, failed, errno);
	/* Its own session. Without a pty it has no controlling terminal, so TIOCSTI has none to
	 * push into (CVE-2017-5226); seccomp denies TIOCSTI besides. With the sandbox's own pty
	 * (always fd 1, tty.h), that pty becomes its controlling terminal: job control, ^C and
	 * /dev/tty work as on any terminal, all of it inside the sandbox.
	 * An exec without a pty takes a process group of its own in PID 1's session instead:
	 * signals still reach its whole group, and without a terminal a session gives it
	 * nothing (PID 1's has no controlling terminal, and only a session leader could acquire
	 * one), while each new session is a new scheduler autogroup
	 * (kernel.sched_autogroup_enabled), which costs an exec time on a busy CPU. */
	if ((x->is_group_only ? setpgid(0, 0) : setsid()) < 0 ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 ||
	    (x->has_tty && ioctl(1, TIOCSCTTY, 0) < 0))
		workload_fail(exec, failed, errno);
	/* Every fd but 0-2 closes at execve, whatever the caller of stockade leaked to us (runc
	 * CVE-2024-21626). */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		workload_fail(exec, failed, errno);
	workload_fail(exec, failed, exec_command(x));
}

static void send_exit(int sync_fd, int status)
{
	struct sync_msg msg;
	struct rusage usage;

	memset(&msg, 0, sizeof(msg));
	msg.kind = SYNC_EXIT;
	msg.wait_status = status;
	if (getrusage(RUSAGE_CHILDREN, &usage) == 0)
		msg.max_rss_kb = usage.ru_maxrss;
	sync_send(sync_fd, &msg);
}

/* The command ended: end everything else it left in the namespace and reap it, so that when
 * the parent reads the status, PID 1 is the sandbox's last process and is already exiting. */
void init_finish(int sync_fd, int status)
{
	pid_t pid;

	kill(-1, SIGKILL); /* every process of the namespace but PID 1 */
	while ((pid = waitpid(-1, NULL, 0)) > 0 || (pid < 0 && errno == EINTR))
		;
	send_exit(sync_fd, status);
	_exit(0);
}

/* vfork returned: the child exec'd or exited, so the shared state is final (sync.h). A
 * failure is sent with its reason; a success needs no message, the parent reads the state. */
static void report_exec(int sync_fd, struct sync_exec *exec, const char *name)
{
	struct sync_msg msg;
	int errnum;

	if (sync_exec_outcome(exec, &errnum) != SYNC_EXEC_FAILURE)
		return;
	memset(&msg, 0, sizeof(msg));
	msg.kind = SYNC_EXEC_FAILED;
	init_exec_error(&msg.err, errnum, name);
	sync_send(sync_fd, &msg);
}

pid_t init_start_command(const struct init_config *config, int sync_fd)
{
	struct init_exec x = {.argv = config->argv,
			      .envp = config->envp,
			      .path = config->path,
			      .stdio = {-1, -1, -1},
			      .has_tty = config->has_tty};
	pid_t command;

	/* vfork: the command needs none of our memory, only to exec; copying PID 1's page
	 * tables for it was a tenth of a short run. The child below touches only its own stack
	 * and async-signal-safe calls until execve or _exit, and vfork shares no signal
	 * handlers, so resetting them there leaves ours alone. */
	command = vfork(); /* NOLINT(clang-analyzer-security.insecureAPI.vfork): see above */
	if (command < 0)
		_exit(125);
	if (command == 0) {
		/* NOLINTNEXTLINE(clang-analyzer-unix.Vfork): async-signal-safe, see above */
		close(sync_fd);
		init_exec_child(&x, config->exec, NULL);
	}
	report_exec(sync_fd, config->exec, config->argv[0]);
	return command;
}

int init_spawn(const struct init_exec *x, int close_in_child, pid_t *pid)
{
	/* The child's failure, written by the child itself: vfork suspends us until it has
	 * exec'd or exited, and until then it shares our memory. Still 0 once it has exec'd.
	 * (An exec pipe said the same with a pipe2, a read and three closes more per exec.) */
	volatile int child_errno = 0;
	pid_t child;

	/* vfork, as for the first command; an exec has no parent racing to kill it before it
	 * starts, so what vfork's return finds is final. */
	child = vfork(); /* NOLINT(clang-analyzer-security.insecureAPI.vfork): see above */
	if (child < 0)
		return -1;
	if (child == 0) {
		/* Async-signal-safe calls only, until execve or _exit (see above). */
		if (close_in_child >= 0)
			close(close_in_child); /* NOLINT(clang-analyzer-unix.Vfork) */
		/* NOLINTNEXTLINE(clang-analyzer-unix.Vfork) */
		init_exec_child(x, NULL, &child_errno);
	}
	*pid = child;
	return child_errno;
}

void init_run(const struct init_config *config, int sync_fd)
{
	sigset_t set;
	siginfo_t info;
	int status;
	pid_t command, pid;

	/* Blocked since init_default_signals: queued even for a namespace's init, so
	 * sigwaitinfo sees them. */
	init_wait_set(&set);
	command = init_start_command(config, sync_fd);
	net_helper_reap(config->net_helper_pidfd);
	for (;;) {
		if (sigwaitinfo(&set, &info) < 0)
			continue;
		if (info.si_signo != SIGCHLD) {
			if (kill(-command, info.si_signo) < 0)
				kill(command, info.si_signo);
			continue;
		}
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid == command)
				init_finish(sync_fd, status);
		}
	}
}
