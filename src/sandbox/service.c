/* PID 1 of a long-lived sandbox (see service.h). One poll loop over a signalfd (SIGCHLD, and
 * SIGTERM: stop) and the socket to the supervisor. No allocation: the request and the
 * environment of an exec live in static buffers, one request at a time. */
#define _GNU_SOURCE
#include "sandbox/service.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/types.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/env.h"
#include "sandbox/net.h"
#include "sandbox/sync.h"
#include "sandbox/tty.h"
#include "store/treestream.h"
#include "util/macros.h"

/* getdents64(2)'s record; glibc declares none. */
struct linux_dirent64 {
	__u64 d_ino;
	__s64 d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* ---- the request body ---- */

static size_t put(char *buf, size_t size, size_t at, const char *text, bool *fits)
{
	size_t len = strlen(text) + 1;

	if (at + len > size) {
		*fits = false;
		return at;
	}
	memcpy(buf + at, text, len);
	return at + len;
}

long service_body_build(char *buf, size_t size, const struct service_body *body)
{
	char count[24];
	bool fits =
	    body->argc > 0 && body->argc <= SERVICE_MAX_ARGS && body->env_count <= SANDBOX_MAX_ENV;
	size_t at = 0;

	char kind[2] = {body->kind ? body->kind : (body->has_tty ? 't' : '-'), '\0'};

	at = put(buf, size, at, kind, &fits);
	at = put(buf, size, at, body->workdir ? body->workdir : "", &fits);
	at = put(buf, size, at, sk_utoa((unsigned)body->argc, count, sizeof(count)), &fits);
	for (size_t i = 0; i < body->argc && fits; i++)
		at = put(buf, size, at, body->argv[i], &fits);
	at = put(buf, size, at, sk_utoa((unsigned)body->env_count, count, sizeof(count)), &fits);
	for (size_t i = 0; i < body->env_count && fits; i++)
		at = put(buf, size, at, body->env[i], &fits);
	return fits ? (long)at : -1;
}

/* The next string of buf at *at; NULL when none is left whole. */
static char *take(char *buf, size_t len, size_t *at)
{
	char *start = buf + *at, *end;

	if (*at >= len)
		return NULL;
	end = memchr(start, '\0', len - *at);
	if (!end)
		return NULL;
	*at = (size_t)(end - buf) + 1;
	return start;
}

static int take_count(char *buf, size_t len, size_t *at, size_t max, size_t *out)
{
	const char *text = take(buf, len, at);
	size_t value = 0;

	/* Canonical decimal only (no sign, no leading zero): one text per number. */
	if (!text || !*text || strlen(text) > 6 || (text[0] == '0' && text[1]))
		return -1;
	for (const char *p = text; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		value = value * 10 + (size_t)(*p - '0');
	}
	if (value > max)
		return -1;
	*out = value;
	return 0;
}

int service_body_parse(char *buf, size_t len, struct service_body *body)
{
	size_t at = 0;
	const char *flags = take(buf, len, &at);

	memset(body, 0, sizeof(*body));
	if (!flags || strlen(flags) != 1 || !strchr("-tiof", flags[0]))
		return -1;
	body->kind = flags[0];
	body->has_tty = flags[0] == 't';
	body->workdir = take(buf, len, &at);
	if (!body->workdir)
		return -1;
	if (!*body->workdir)
		body->workdir = NULL;
	else if (body->workdir[0] != '/')
		return -1; /* inside the sandbox, absolute, as -w takes it */
	if (take_count(buf, len, &at, SERVICE_MAX_ARGS, &body->argc) < 0 || body->argc == 0)
		return -1;
	for (size_t i = 0; i < body->argc; i++)
		if (!(body->argv[i] = take(buf, len, &at)))
			return -1;
	body->argv[body->argc] = NULL;
	if (body->argv[0][0] == '\0')
		return -1;
	if (take_count(buf, len, &at, SANDBOX_MAX_ENV, &body->env_count) < 0)
		return -1;
	for (size_t i = 0; i < body->env_count; i++) {
		const char *item = take(buf, len, &at), *eq;
		if (!item || !(eq = strchr(item, '=')) ||
		    !env_is_valid_key(item, (size_t)(eq - item)))
			return -1;
		body->env[i] = item;
	}
	return at == len ? 0 : -1;
}

/* ---- PID 1 ---- */

static struct {
	uint32_t id;
	pid_t pid;
	int answer_fd;	  /* its caller's answer pipe (sync.h), or -1 */
	bool is_answered; /* through that pipe, not the supervisor (even once it is closed) */
} execs[SERVICE_MAX_EXECS];

static char body_buf[SERVICE_BODY_MAX];
static char *envp_buf[ENV_MAX + SANDBOX_MAX_ENV + 1];

static void reply(int sync_fd, enum sync_kind kind, uint32_t exec_id, pid_t pid, int status)
{
	struct sync_msg msg;

	memset(&msg, 0, sizeof(msg));
	msg.kind = kind;
	msg.exec_id = exec_id;
	msg.pid = pid;
	msg.wait_status = status;
	sync_send(sync_fd, &msg);
}

/* An exec's SYNC_EXEC_DONE: into its caller's answer pipe when it gave one (sync.h), so that
 * the caller has it without a hop through the supervisor, which expects none then; else to the
 * supervisor, which passes it on. The pipe is non-blocking (the supervisor made it so) and
 * written once, 1216 bytes: less than PIPE_BUF, so whole or not at all. */
static void answer(int sync_fd, int *answer_fd, bool is_answered, const struct sync_msg *msg)
{
	if (*answer_fd >= 0) {
		(void)!write(*answer_fd, msg, sizeof(*msg));
		close(*answer_fd);
		*answer_fd = -1;
	}
	if (!is_answered)
		sync_send(sync_fd, msg);
}

static void refuse(int sync_fd, uint32_t exec_id, int *answer_fd, int errnum, const char *what)
{
	struct sync_msg msg;

	memset(&msg, 0, sizeof(msg));
	msg.kind = SYNC_EXEC_DONE;
	msg.exec_id = exec_id;
	sk_fail_safe(&msg.err, "exec", errnum, what, NULL, NULL);
	msg.err.exit_code = 125;
	answer(sync_fd, answer_fd, *answer_fd >= 0, &msg);
}

/* The sandbox's environment with the request's additions (a KEY replaces the sandbox's). */
static char *const *exec_env(const struct init_config *config, const struct service_body *body)
{
	size_t count = 0;

	for (char *const *e = config->envp; *e && count < ENV_MAX; e++)
		envp_buf[count++] = *e;
	for (size_t i = 0; i < body->env_count; i++) {
		size_t key_len = (size_t)(strchr(body->env[i], '=') - body->env[i]) + 1;
		size_t j = 0;
		while (j < count && strncmp(envp_buf[j], body->env[i], key_len) != 0)
			j++;
		envp_buf[j] = (char *)body->env[i];
		if (j == count)
			count++;
	}
	envp_buf[count] = NULL;
	return envp_buf;
}

static int free_slot(void)
{
	for (int i = 0; i < SERVICE_MAX_EXECS; i++)
		if (execs[i].pid == 0)
			return i;
	return -1;
}

/* stockade cp, inside: our own code in a child of PID 1, so confined exactly like an exec
 * (the same uid, Landlock domain, seccomp filter; non-dumpable like PID 1, so the workload
 * cannot reach into it). Paths are resolved here, in the sandbox's own view: no host process
 * ever resolves one (docker cp, CVE-2018-15664). Copy in: the caller's tree stream from fd 0
 * is made at the path (a file stream of `cp -`: as the path, never inside it). Copy out: the path
 * opened (a file or a directory) goes to the caller over fd 0, a socket; the caller copies from it
 * without following any link. */
static void __attribute__((noreturn)) copier(const struct service_body *body)
{
	struct treestream_stats stats;
	struct sk_err err;
	struct stat st;
	int fd;

	memset(&err, 0, sizeof(err));
	/* cp -: the bytes are the file at the path; a directory there is refused rather than
	 * written into (which cp HOST NAME:/dir does), so the caller gets the path it named. */
	if (body->kind == SERVICE_COPY_FILE && stat(body->argv[0], &st) == 0 &&
	    S_ISDIR(st.st_mode)) {
		(void)sk_fail(&err, "cp", EISDIR, NULL, "%.200s", body->argv[0]);
		sk_err_print(&err);
		_exit(1);
	}
	if (body->kind == SERVICE_COPY_IN || body->kind == SERVICE_COPY_FILE) {
		if (treestream_read(0, body->argv[0], &stats, &err) == 0)
			_exit(0);
		sk_err_print(&err);
		_exit(1);
	}
	fd = open(body->argv[0], O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0 || !(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode))) {
		(void)sk_fail(&err, "cp", fd < 0 ? errno : 0,
			      fd < 0 ? NULL : "cp copies files and directories",
			      fd < 0 ? "%.200s" : "%.200s: not a file or directory", body->argv[0]);
		sk_err_print(&err);
		_exit(1);
	}
	struct sync_msg msg = {.kind = SYNC_EXEC_BEGUN};
	_exit(sync_send_fds(0, &msg, &fd, 1) == 0 ? 0 : 1);
}

static pid_t start_copier(const struct service_body *body, const int *fds, int sync_fd)
{
	pid_t pid = fork();
	sigset_t none;

	if (pid != 0)
		return pid;
	close(sync_fd);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int i = 0; i < 3; i++)
		if (dup2(fds[i], i) < 0)
			_exit(126);
	if (setsid() < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 ||
	    (body->workdir && chdir(body->workdir) < 0) || close_range(3, ~0U, 0) < 0)
		_exit(126);
	copier(body);
}

/* An exec request: fds 0-2, and fds[3], its caller's answer pipe, or -1 (taken: then -1). */
static void start_exec(const struct init_config *config, int sync_fd, const struct sync_msg *req,
		       int fds[4], int fd_count, bool is_stopping)
{
	struct service_body body;
	uint32_t exec_id = req->exec_id;
	struct init_exec x;
	ssize_t n;
	int slot, rc, master = -1, slave = -1;
	pid_t pid;

	/* The body is the supervisor's next datagram: it sends both at once. Read before any
	 * refusal, so that it is never taken for the next message. */
	n = RETRY_EINTR(recv(sync_fd, body_buf, sizeof(body_buf), 0));
	if (n <= 0 || fd_count < 3 || service_body_parse(body_buf, (size_t)n, &body) < 0)
		return refuse(sync_fd, exec_id, &fds[3], EINVAL, "malformed exec request");
	if (is_stopping)
		return refuse(sync_fd, exec_id, &fds[3], ESHUTDOWN, "the sandbox is stopping");
	slot = free_slot();
	if (slot < 0)
		return refuse(sync_fd, exec_id, &fds[3], EAGAIN,
			      "too many execs at once in this sandbox");
	x = (struct init_exec){.argv = body.argv,
			       .envp = exec_env(config, &body),
			       .path = config->path,
			       .workdir = body.workdir,
			       .stdio = {fds[0], fds[1], fds[2]},
			       .has_tty = body.has_tty,
			       .is_group_only = !body.has_tty};
	if (body.kind == SERVICE_COPY_IN || body.kind == SERVICE_COPY_OUT ||
	    body.kind == SERVICE_COPY_FILE) {
		pid = start_copier(&body, fds, sync_fd);
		if (pid < 0)
			return refuse(sync_fd, exec_id, &fds[3], errno, "fork");
		execs[slot].id = exec_id;
		execs[slot].pid = pid;
		execs[slot].is_answered = fds[3] >= 0;
		execs[slot].answer_fd = fds[3];
		fds[3] = -1;
		return reply(sync_fd, SYNC_EXEC_BEGUN, exec_id, pid, 0);
	}
	/* exec -t: a pty of the sandbox's own devpts is the command's stdio and controlling
	 * terminal; its master goes back to the exec's caller, who relays it. The caller's own
	 * terminal never enters the sandbox. (No answer pipe: the supervisor keeps none for -t,
	 * whose end must follow the master.) */
	if (body.has_tty) {
		struct sk_err err;
		if (tty_open_pty(NULL, &master, &slave, &err) < 0)
			return refuse(sync_fd, exec_id, &fds[3], err.errnum, "open a pty");
		x.stdio[0] = x.stdio[1] = x.stdio[2] = slave;
	}
	rc = init_spawn(&x, sync_fd, &pid);
	if (slave >= 0)
		close(slave);
	if (rc != 0 && master >= 0)
		close(master);
	if (rc < 0)
		return refuse(sync_fd, exec_id, &fds[3], errno, "fork");
	if (rc > 0) { /* it exits 126/127; reaped below like any stray child */
		struct sync_msg failed = {.kind = SYNC_EXEC_DONE, .exec_id = exec_id};
		init_exec_error(&failed.err, rc, body.argv[0]);
		return answer(sync_fd, &fds[3], fds[3] >= 0, &failed);
	}
	execs[slot].id = exec_id;
	execs[slot].pid = pid;
	execs[slot].is_answered = fds[3] >= 0;
	execs[slot].answer_fd = fds[3];
	fds[3] = -1;
	if (master < 0) {
		if (req->value != SYNC_EXEC_DONE_ONLY)
			reply(sync_fd, SYNC_EXEC_BEGUN, exec_id, pid, 0);
		return;
	}
	struct sync_msg msg = {.kind = SYNC_EXEC_BEGUN, .exec_id = exec_id, .pid = pid};
	(void)sync_send_fds(sync_fd, &msg, &master, 1);
	close(master); /* the caller holds the only master: nothing inside reads its input */
}

static void signal_exec(uint32_t exec_id, int sig)
{
	for (int i = 0; i < SERVICE_MAX_EXECS; i++)
		if (execs[i].pid > 0 && execs[i].id == exec_id && kill(-execs[i].pid, sig) < 0)
			kill(execs[i].pid, sig);
}

/* The reader of slot's answer pipe is gone: its caller went away, and as the supervisor does
 * for a caller whose connection ends, its exec goes with it. (The supervisor leaves these to
 * us: it sees the connection end, not whether the exec did.) */
static void caller_gone(int slot)
{
	close(execs[slot].answer_fd);
	execs[slot].answer_fd = -1;
	signal_exec(execs[slot].id, SIGKILL);
}

/* Every process but PID 1 asked to end; PID 1 ends once they have (or the supervisor's
 * SIGKILL comes first). */
static void begin_stop(bool *is_stopping)
{
	*is_stopping = true;
	kill(-1, SIGTERM);
}

static void reap(int sync_fd, pid_t first, bool is_stopping);

/* The processes of the sandbox and their resident memory, from its own /proc (PID 1's view
 * is exactly its namespace): value = count, max_rss_kb = the sum. getdents64 into a static
 * buffer: no allocation. */
static void count_processes(struct sync_msg *msg)
{
	static char dents[8192];
	long page_kb = sysconf(_SC_PAGESIZE) / 1024;
	int dir = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	long n;

	msg->value = 0;
	msg->max_rss_kb = 0;
	if (dir < 0)
		return;
	while ((n = syscall(SYS_getdents64, dir, dents, sizeof(dents))) > 0) {
		for (long at = 0; at < n;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(dents + at);
			char path[64], statm[128];
			at += d->d_reclen;
			if (d->d_name[0] < '1' || d->d_name[0] > '9')
				continue;
			msg->value++;
			sk_strlcpy(path, d->d_name, sizeof(path));
			sk_strlcat(path, "/statm", sizeof(path));
			int fd = openat(dir, path, O_RDONLY | O_CLOEXEC);
			ssize_t got = fd >= 0 ? read(fd, statm, sizeof(statm) - 1) : -1;
			if (fd >= 0)
				close(fd);
			if (got <= 0)
				continue;
			statm[got] = '\0';
			/* "size resident shared ...": the second number, in pages */
			const char *p = strchr(statm, ' ');
			long resident = 0;
			while (p && *++p >= '0' && *p <= '9')
				resident = resident * 10 + (*p - '0');
			msg->max_rss_kb += resident * page_kb;
		}
	}
	close(dir);
}

static void request(const struct init_config *config, int sync_fd, pid_t first, bool *is_stopping)
{
	struct sync_msg msg;
	int fds[4], fd_count;
	int rc = sync_recv_fds(sync_fd, &msg, fds, 4, &fd_count);

	if (rc <= 0) /* the supervisor is gone: so is the sandbox */
		init_finish(sync_fd, W_EXITCODE(0, SIGKILL));
	switch (msg.kind) {
	case SYNC_EXEC_REQ:
		start_exec(config, sync_fd, &msg, fds, fd_count, *is_stopping);
		break;
	case SYNC_SIGNAL:
		if (msg.value > 0 && msg.value < _NSIG)
			signal_exec(msg.exec_id, (int)msg.value);
		break;
	case SYNC_INFO:
		count_processes(&msg);
		sync_send(sync_fd, &msg);
		break;
	case SYNC_STOP:
		begin_stop(is_stopping);
		reap(sync_fd, first, true); /* nothing left to wait for: done now */
		break;
	}
	for (int i = 0; i < fd_count; i++)
		if (fds[i] >= 0)
			close(fds[i]); /* the exec has its copies */
}

/* SIGCHLD: reap; the first command's end ends the sandbox, an exec's goes to the supervisor. */
static void reap(int sync_fd, pid_t first, bool is_stopping)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == first)
			init_finish(sync_fd, status);
		for (int i = 0; i < SERVICE_MAX_EXECS; i++)
			if (execs[i].pid == pid) {
				struct sync_msg done = {.kind = SYNC_EXEC_DONE,
							.exec_id = execs[i].id,
							.pid = pid,
							.wait_status = status};
				answer(sync_fd, &execs[i].answer_fd, execs[i].is_answered, &done);
				execs[i].pid = 0;
			}
	}
	if (pid < 0 && errno == ECHILD && is_stopping)
		init_finish(sync_fd, W_EXITCODE(0, SIGTERM));
}

void service_run(const struct init_config *config, int sync_fd)
{
	struct signalfd_siginfo info;
	sigset_t set;
	bool is_stopping = false;
	pid_t first = -1;
	int sig_fd;

	/* Blocked, and read from a signalfd beside the socket. */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (int i = 0; i < init_forwarded_count; i++)
		sigaddset(&set, init_forwarded_signals[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sig_fd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sig_fd < 0)
		_exit(125);
	for (int i = 0; i < SERVICE_MAX_EXECS; i++)
		execs[i].answer_fd = -1;
	if (config->argv) {
		int errnum;
		first = init_start_command(config, sync_fd);
		/* A failed start is reported already; reaped below, it ends the sandbox. */
		if (sync_exec_outcome(config->exec, &errnum) == SYNC_EXEC_STARTED)
			reply(sync_fd, SYNC_READY, 0, first, 0);
	} else {
		reply(sync_fd, SYNC_READY, 0, 0, 0);
	}
	net_helper_reap(config->net_helper_pidfd);
	for (;;) {
		struct pollfd fds[2 + SERVICE_MAX_EXECS] = {{.fd = sig_fd, .events = POLLIN},
							    {.fd = sync_fd, .events = POLLIN}};
		/* The answer pipes: POLLERR once the reader is gone (events 0: nothing else). */
		for (int i = 0; i < SERVICE_MAX_EXECS; i++)
			fds[2 + i] =
			    (struct pollfd){.fd = execs[i].pid > 0 ? execs[i].answer_fd : -1};
		if (poll(fds, 2 + SERVICE_MAX_EXECS, -1) < 0)
			continue;
		for (int i = 0; i < SERVICE_MAX_EXECS; i++)
			if (fds[2 + i].revents)
				caller_gone(i);
		if (fds[1].revents)
			request(config, sync_fd, first, &is_stopping);
		if (fds[0].revents && read(sig_fd, &info, sizeof(info)) == sizeof(info)) {
			/* SIGTERM (the supervisor's forwarded, or `kill` of it): stop. */
			if (info.ssi_signo == SIGTERM && !is_stopping)
				begin_stop(&is_stopping);
			reap(sync_fd, first, is_stopping);
		}
	}
}
