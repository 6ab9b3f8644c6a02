/* The stockade commands an MCP tool is made of: this executable (its path resolved once at
 * start) spawned with its subcommand's arguments, never through a shell, so a tool carries
 * exactly the layers `stockade run` and `stockade exec` apply. Its stdout and stderr come
 * back through pipes, kept up to a cap and counted beyond it; a deadline sends SIGTERM, which
 * `stockade exec` and `stockade run` forward into the sandbox, and SIGKILL a grace later
 * (the exec client's death makes its supervisor kill the exec; run's takes the sandbox). */
#define _GNU_SOURCE
#include "cli/mcp_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/fds.h"
#include "util/macros.h"

#define STOP_GRACE_MS 2000.0 /* from SIGTERM to SIGKILL */

extern char **environ;

static void capture_close(struct mcp_capture *cap)
{
	if (cap->fd >= 0)
		close(cap->fd);
	cap->fd = -1;
}

/* One read: kept while there is room, counted always. EOF or an error closes the pipe, and
 * so does a byte past the cap when the rest is not wanted (the writer then gets EPIPE). */
static void capture_read(struct mcp_capture *cap)
{
	char scratch[65536];
	char *to = cap->len < cap->cap ? cap->buf + cap->len : scratch;
	size_t room = cap->len < cap->cap ? cap->cap - cap->len : sizeof(scratch);
	ssize_t n = read(cap->fd, to, room);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		capture_close(cap);
		return;
	}
	if (to != scratch)
		cap->len += (size_t)n;
	cap->total += (uint64_t)n;
	if (to == scratch && cap->is_stopped_at_cap)
		capture_close(cap);
}

/* Our read end, non-blocking (a child's pipes stay open in a sandbox's background process); the
 * child's end is an ordinary blocking pipe. */
static int capture_pipe(struct mcp_capture *cap, size_t limit, int *child_end, struct sk_err *err)
{
	int p[2];

	cap->buf = malloc(limit + 1);
	if (!cap->buf)
		return sk_fail(err, "mcp", ENOMEM, NULL, "output buffer");
	cap->cap = limit;
	if (pipe2(p, O_CLOEXEC) < 0)
		return sk_fail(err, "mcp", errno, NULL, "pipe2");
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) {
		int saved = errno;
		close(p[0]);
		close(p[1]);
		return sk_fail(err, "mcp", saved, NULL, "fcntl");
	}
	cap->fd = p[0];
	*child_end = p[1];
	return 0;
}

/* The child starts with default signal handling and nothing blocked (we keep ours in a
 * signalfd), in a process group of its own (a ^C on the operator's terminal is ours to act
 * on, not every child's). */
static int spawn_attributes(posix_spawnattr_t *attr)
{
	sigset_t none, defaults;
	static const int ours[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGPIPE};

	sigemptyset(&none);
	sigemptyset(&defaults);
	for (size_t i = 0; i < ARRAY_SIZE(ours); i++)
		sigaddset(&defaults, ours[i]);
	if (posix_spawnattr_init(attr) != 0)
		return -1;
	if (posix_spawnattr_setsigmask(attr, &none) != 0 ||
	    posix_spawnattr_setsigdefault(attr, &defaults) != 0 ||
	    posix_spawnattr_setpgroup(attr, 0) != 0 ||
	    posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
					       POSIX_SPAWN_SETPGROUP) != 0) {
		posix_spawnattr_destroy(attr);
		return -1;
	}
	return 0;
}

void mcp_child_init(struct mcp_child *c)
{
	memset(c, 0, sizeof(*c));
	c->out.fd = c->err.fd = -1;
}

int mcp_child_start(struct mcp_child *c, const char *self, char *const argv[], int stdin_fd,
		    int pass_fd, size_t out_cap, size_t err_cap, uint64_t timeout_ms,
		    struct sk_err *err)
{
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attr;
	int out_w = -1, err_w = -1, rc;

	mcp_child_init(c);
	if (capture_pipe(&c->out, out_cap, &out_w, err) < 0 ||
	    capture_pipe(&c->err, err_cap, &err_w, err) < 0)
		goto fail;
	if (spawn_attributes(&attr) < 0) {
		(void)sk_fail(err, "mcp", ENOMEM, NULL, "posix_spawnattr");
		goto fail;
	}
	posix_spawn_file_actions_init(&actions);
	if (stdin_fd >= 0)
		posix_spawn_file_actions_adddup2(&actions, stdin_fd, 0);
	else
		posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&actions, out_w, 1);
	posix_spawn_file_actions_adddup2(&actions, err_w, 2);
	if (pass_fd >= 0) /* the tie (run -d --tie-fd 3): at 100 or above, so not clobbered */
		posix_spawn_file_actions_adddup2(&actions, pass_fd, 3);
	/* Every other fd of ours is O_CLOEXEC: the child gets these and nothing else. */
	rc = posix_spawn(&c->pid, self, &actions, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	posix_spawnattr_destroy(&attr);
	if (rc != 0) {
		c->pid = 0;
		(void)sk_fail(err, "mcp", rc, NULL, "spawn %.200s %.40s", self, argv[1]);
		goto fail;
	}
	close(out_w);
	close(err_w);
	c->started_ms = clock_now_ms();
	c->term_at_ms = timeout_ms ? c->started_ms + (double)timeout_ms : 0;
	return 0;
fail:
	if (out_w >= 0)
		close(out_w);
	if (err_w >= 0)
		close(err_w);
	mcp_child_release(c);
	return -1;
}

bool mcp_child_is_running(const struct mcp_child *c)
{
	return c->pid > 0 && !c->is_reaped;
}

/* Only a child not yet reaped is signalled: until then its pid cannot be another's. */
static void child_signal(struct mcp_child *c, int sig)
{
	if (mcp_child_is_running(c))
		(void)kill(c->pid, sig);
}

void mcp_child_stop(struct mcp_child *c)
{
	if (c->is_term_sent || !mcp_child_is_running(c))
		return;
	child_signal(c, SIGTERM);
	c->is_term_sent = true;
	c->kill_at_ms = clock_now_ms() + STOP_GRACE_MS;
}

void mcp_child_tick(struct mcp_child *c, double now)
{
	if (!mcp_child_is_running(c))
		return;
	if (!c->is_term_sent && c->term_at_ms > 0 && now >= c->term_at_ms)
		mcp_child_stop(c);
	else if (c->is_term_sent && !c->is_killed && now >= c->kill_at_ms) {
		child_signal(c, SIGKILL);
		c->is_killed = true;
	}
}

double mcp_child_deadline(const struct mcp_child *c)
{
	if (!mcp_child_is_running(c) || c->is_killed)
		return 0;
	return c->is_term_sent ? c->kill_at_ms : c->term_at_ms;
}

int mcp_child_poll_add(struct mcp_child *c, struct pollfd *fds, int n)
{
	fds[n++] = (struct pollfd){.fd = c->out.fd, .events = POLLIN};
	fds[n++] = (struct pollfd){.fd = c->err.fd, .events = POLLIN};
	return n;
}

void mcp_child_pump(struct mcp_child *c, const struct pollfd *fds, int count)
{
	for (int i = 0; i < count; i++) {
		if (!fds[i].revents || fds[i].fd < 0)
			continue;
		if (fds[i].fd == c->out.fd)
			capture_read(&c->out);
		else if (fds[i].fd == c->err.fd)
			capture_read(&c->err);
	}
}

/* After the exit: what is in the pipes now, then they close. A process left in the sandbox may
 * hold the pipe and keep writing: at most DRAIN_READS more reads, never a wait. */
#define DRAIN_READS 64

static void capture_drain(struct mcp_capture *cap)
{
	for (int i = 0; i < DRAIN_READS && cap->fd >= 0; i++) {
		uint64_t before = cap->total;
		capture_read(cap);
		if (cap->fd >= 0 && cap->total == before)
			break; /* EAGAIN: nothing more now */
	}
	capture_close(cap);
}

bool mcp_child_reaped(struct mcp_child *c, pid_t pid, int status)
{
	if (c->pid != pid || c->is_reaped)
		return false;
	c->is_reaped = true;
	c->status = status;
	capture_drain(&c->out);
	capture_drain(&c->err);
	if (c->out.buf)
		c->out.buf[c->out.len] = '\0';
	if (c->err.buf)
		c->err.buf[c->err.len] = '\0';
	return true;
}

void mcp_child_release(struct mcp_child *c)
{
	capture_close(&c->out);
	capture_close(&c->err);
	free(c->out.buf);
	free(c->err.buf);
	mcp_child_init(c);
}

int mcp_child_exit_code(const struct mcp_child *c)
{
	if (WIFEXITED(c->status))
		return WEXITSTATUS(c->status);
	if (WIFSIGNALED(c->status))
		return 128 + WTERMSIG(c->status);
	return 125;
}

int mcp_child_run(struct mcp_child *c, const char *self, char *const argv[], size_t out_cap,
		  uint64_t timeout_ms, struct sk_err *err)
{
	int status;
	pid_t pid;

	if (mcp_child_start(c, self, argv, -1, -1, out_cap, 4096, timeout_ms, err) < 0)
		return -1;
	while (mcp_child_is_running(c)) {
		struct pollfd fds[2];
		int n = mcp_child_poll_add(c, fds, 0);
		double deadline = mcp_child_deadline(c), now = clock_now_ms();
		int wait_ms = deadline > 0 ? (int)(deadline - now) + 1 : 200;
		if (poll(fds, (nfds_t)n, wait_ms > 200 ? 200 : wait_ms) > 0)
			mcp_child_pump(c, fds, n);
		mcp_child_tick(c, clock_now_ms());
		pid = waitpid(c->pid, &status, WNOHANG);
		if (pid == c->pid)
			(void)mcp_child_reaped(c, pid, status);
	}
	return WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0 ? 0 : -1;
}

bool mcp_child_refusal(const struct mcp_child *c, char *buf, size_t size)
{
	const char *text = c->err.buf ? c->err.buf : "";
	size_t len = c->err.len;
	const char *line;

	while (len > 0 && text[len - 1] == '\n')
		len--;
	line = memrchr(text, '\n', len);
	line = line ? line + 1 : text;
	if ((size_t)(text + len - line) < 10 || strncmp(line, "stockade: ", 10) != 0)
		return false;
	line += 10;
	size_t n = (size_t)(text + len - line);
	if (n >= size)
		n = size - 1;
	memcpy(buf, line, n);
	buf[n] = '\0';
	return true;
}

int mcp_memfd(const char *data, size_t len, struct sk_err *err)
{
	int fd = memfd_create("stockade-mcp", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return sk_fail(err, "mcp", errno, NULL, "memfd_create");
	/* Sealed: what the child reads (a sandbox, for an exec's stdin) cannot change it. */
	if (fds_write_all(fd, data, len) < 0 || lseek(fd, 0, SEEK_SET) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		int saved = errno;
		close(fd);
		return sk_fail(err, "mcp", saved, NULL, "memfd");
	}
	return fd;
}
