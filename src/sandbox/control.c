/* The supervisor's control socket and log (see control.h). */
#define _GNU_SOURCE
#include "sandbox/control.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/service.h"
#include "util/fds.h"
#include "util/syscalls.h"

#define LOG_NAME "log"
#define LOG_OLD "log.1"

static int open_log(struct control *c)
{
	struct stat st;

	c->log_fd = openat(c->service->dir_fd, LOG_NAME,
			   O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	c->log_size = c->log_fd >= 0 && fstat(c->log_fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	return c->log_fd;
}

static int arm(int fd, uint64_t ms)
{
	struct itimerspec its = {
	    .it_value = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000}};

	return timerfd_settime(fd, 0, &its, NULL);
}

void control_update_idle(struct control *c)
{
	bool is_busy = false;

	if (c->idle_timer_fd < 0)
		return;
	/* Only an exec counts as use: ps and inspect look without keeping it alive. */
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (c->clients[i].fd >= 0 && c->clients[i].exec_id && !c->clients[i].is_done)
			is_busy = true;
	/* Used: the countdown stops; unused again: it starts over. */
	if (is_busy && c->is_idle_armed)
		(void)arm(c->idle_timer_fd, 0);
	else if (!is_busy && !c->is_idle_armed)
		(void)arm(c->idle_timer_fd, c->service->idle_timeout_ms);
	c->is_idle_armed = !is_busy;
}

int control_init(struct control *c, struct sandbox_service *service,
		 const struct cgroup_plan *cgroup, struct sk_err *err)
{
	memset(c, 0, sizeof(*c));
	c->service = service;
	c->cgroup = cgroup;
	c->stop_timer_fd = c->idle_timer_fd = c->life_timer_fd = -1;
	c->next_id = 1;
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		c->clients[i].fd = -1;
	if (open_log(c) < 0)
		return sk_fail(err, "sandbox", errno, NULL, "open the sandbox's log");
	if ((service->idle_timeout_ms &&
	     (c->idle_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC)) < 0) ||
	    (service->max_lifetime_ms &&
	     ((c->life_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC)) < 0 ||
	      arm(c->life_timer_fd, service->max_lifetime_ms) < 0))) {
		control_close(c);
		return sk_fail(err, "sandbox", errno, NULL, "timerfd (lifetime)");
	}
	control_update_idle(c);
	return 0;
}

void control_log(struct control *c, const char *buf, size_t n)
{
	/* Two halves: past one, the log becomes log.1 (replacing the older half). */
	if (c->log_fd >= 0 && c->log_size + n > CONTROL_LOG_HALF && c->log_size > 0) {
		close(c->log_fd);
		(void)renameat(c->service->dir_fd, LOG_NAME, c->service->dir_fd, LOG_OLD);
		(void)open_log(c);
	}
	if (c->log_fd >= 0 && fds_write_all(c->log_fd, buf, n) == 0)
		c->log_size += n;
}

int control_poll_add(struct control *c, struct pollfd *fds, int n)
{
	fds[n++] = (struct pollfd){.fd = c->service->control_fd, .events = POLLIN};
	fds[n++] = (struct pollfd){.fd = c->stop_timer_fd, .events = POLLIN};
	fds[n++] = (struct pollfd){.fd = c->idle_timer_fd, .events = POLLIN};
	fds[n++] = (struct pollfd){.fd = c->life_timer_fd, .events = POLLIN};
	fds[n++] = (struct pollfd){.fd = c->service->tie_fd, .events = POLLIN};
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		fds[n++] = (struct pollfd){.fd = c->clients[i].fd, .events = POLLIN};
	return n;
}

static void send_to(int fd, const struct sync_msg *msg)
{
	if (fd >= 0)
		(void)sync_send(fd, msg);
}

static void drop_client(struct control *c, struct control_client *cl, int sync_fd)
{
	/* Its caller is gone (or done): an exec still running goes with it (one answered
	 * through the caller's pipe: PID 1 sees its reader gone and ends it itself). */
	if (cl->exec_id && !cl->is_done && !cl->has_answer_pipe && sync_fd >= 0) {
		struct sync_msg kill_it = {
		    .kind = SYNC_SIGNAL, .exec_id = cl->exec_id, .value = SIGKILL};
		(void)sync_send(sync_fd, &kill_it);
	}
	close(cl->fd);
	*cl = (struct control_client){.fd = -1};
	(void)c;
}

static void accept_client(struct control *c)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct timeval wait = {.tv_sec = 2};
	int fd = accept4(c->service->control_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	/* The sandbox's owner and root, nobody else: the socket's 0600 in a 0700 directory
	 * says the same, this says it whatever the file system did. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    (cred.uid != c->service->owner_uid && cred.uid != 0)) {
		close(fd);
		return;
	}
	/* A request's body follows its header at once; a client that stalls between them
	 * costs us at most this. */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait));
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
			if (c->clients[i].fd < 0) {
				c->clients[i].fd = fd;
				return;
			}
		/* Full: a client whose exec is over (or that had none) and that has hung up
		 * is not yet seen by the loop (its hangup and this connect came in the same
		 * round); its slot is free. One with a running exec is left to the loop,
		 * which kills that exec. */
		for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
			struct control_client *cl = &c->clients[i];
			struct pollfd one = {.fd = cl->fd, .events = POLLIN | POLLRDHUP};
			if ((cl->is_done || cl->has_answer_pipe || !cl->exec_id) &&
			    poll(&one, 1, 0) == 1 && (one.revents & (POLLHUP | POLLRDHUP)))
				drop_client(c, cl, -1);
		}
	}
	close(fd); /* full */
}

static void stop(struct control *c, int sync_fd, int64_t grace_seconds, int pidfd)
{
	struct itimerspec its = {.it_value = {.tv_sec = grace_seconds > 0 ? grace_seconds : 0}};
	struct sync_msg msg = {.kind = SYNC_STOP};

	c->is_stopping = true;
	if (grace_seconds <= 0) {
		sys_pidfd_send_signal(pidfd, SIGKILL);
		return;
	}
	if (sync_fd >= 0)
		(void)sync_send(sync_fd, &msg);
	if (c->stop_timer_fd < 0)
		c->stop_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (c->stop_timer_fd < 0 || timerfd_settime(c->stop_timer_fd, 0, &its, NULL) < 0)
		sys_pidfd_send_signal(pidfd, SIGKILL); /* no timer: no grace */
}

/* The write end of an anonymous pipe, made non-blocking: PID 1 writes an exec's answer there
 * and must never wait on it, whatever the caller did to the pipe. False for anything else.
 * Why pipefs and not S_ISFIFO alone: a named FIFO is S_ISFIFO too, and would give PID 1 (the
 * workload's, if it took PID 1 over) an fd of a file on the host's file system: its
 * /proc/self/fd link names a host path, and a reopen through it (read end included) is
 * checked only against the FIFO's own mode. A pipe2() pipe lives on pipefs: no path. */
static bool is_answer_pipe(int fd)
{
	struct stat st;
	struct statfs fs;
	int flags = fcntl(fd, F_GETFL);

	return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && fstatfs(fd, &fs) == 0 &&
	       fs.f_type == PIPEFS_MAGIC && flags >= 0 && (flags & O_ACCMODE) == O_WRONLY &&
	       fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

static void exec_request(struct control *c, struct control_client *cl, struct sync_msg *msg,
			 const int *fds, int fd_count, int sync_fd)
{
	static char body[SERVICE_BODY_MAX];
	struct service_body parsed;
	struct sync_msg answer = {.kind = SYNC_EXEC_DONE};
	int pass[4], answer_fd;
	ssize_t n = sync_recv_data(cl->fd, body, sizeof(body), &answer_fd);

	/* Checked here too, so that PID 1 only ever sees well-formed requests. */
	if (cl->exec_id || fd_count != 3 || n <= 0 ||
	    service_body_parse(body, (size_t)n, &parsed) < 0 || sync_fd < 0 ||
	    (answer_fd >= 0 && !is_answer_pipe(answer_fd))) {
		(void)sk_fail(&answer.err, "exec", 0, NULL,
			      sync_fd < 0 ? "the sandbox has ended" : "malformed exec request");
		send_to(cl->fd, &answer);
		if (answer_fd >= 0)
			close(answer_fd);
		return;
	}
	/* Only for a plain command whose caller waits for the end alone: -t's end follows its
	 * pty's master, and a copier's or a BEGUN reader's follows BEGUN, all through us (an
	 * answer through the pipe could overtake them). Closed unused: the caller sees its end
	 * and reads our connection. */
	if (answer_fd >= 0 && (parsed.kind != SERVICE_EXEC || msg->value != SYNC_EXEC_DONE_ONLY)) {
		close(answer_fd);
		answer_fd = -1;
	}
	/* Parsing only pointed into body: PID 1 gets the bytes as they came, and the answer
	 * pipe as a fourth fd: the exec's end goes there, not through us, one hop less for the
	 * client to wait for. */
	cl->exec_id = c->next_id++;
	msg->exec_id = cl->exec_id;
	memcpy(pass, fds, sizeof(int) * 3);
	pass[3] = answer_fd;
	if (sync_send_fds(sync_fd, msg, pass, answer_fd >= 0 ? 4 : 3) < 0 ||
	    send(sync_fd, body, (size_t)n, MSG_NOSIGNAL) != n) {
		(void)sk_fail(&answer.err, "exec", errno, NULL, "pass the exec to PID 1");
		send_to(cl->fd, &answer);
	} else {
		cl->has_answer_pipe = answer_fd >= 0;
	}
	if (answer_fd >= 0)
		close(answer_fd); /* PID 1 has its copy */
}

static void client_request(struct control *c, struct control_client *cl, int sync_fd, int pidfd)
{
	struct sync_msg msg;
	int fds[3], fd_count;
	int rc = sync_recv_fds(cl->fd, &msg, fds, 3, &fd_count);

	if (rc <= 0) {
		drop_client(c, cl, sync_fd);
		return;
	}
	switch (msg.kind) {
	case SYNC_EXEC_REQ:
		exec_request(c, cl, &msg, fds, fd_count, sync_fd);
		break;
	case SYNC_SIGNAL:
		/* PID 1 reads in order: the exec it started before this is in its table. */
		if (cl->exec_id && !cl->is_done && sync_fd >= 0) {
			msg.exec_id = cl->exec_id;
			(void)sync_send(sync_fd, &msg);
		}
		break;
	case SYNC_STOP:
		stop(c, sync_fd, msg.value, pidfd);
		break;
	case SYNC_INFO:
		/* PID 1 counts its namespace's processes from its own /proc: ours may not look
		 * into a non-dumpable process of another user namespace. */
		cl->info_id = c->next_id++;
		msg.exec_id = cl->info_id;
		if (sync_fd < 0 || sync_send(sync_fd, &msg) < 0) {
			struct sync_msg answer = {.kind = SYNC_INFO, .pid = c->pid1};
			send_to(cl->fd, &answer);
		}
		break;
	}
	for (int i = 0; i < fd_count; i++)
		close(fds[i]); /* PID 1 has its copies */
}

void control_handle(struct control *c, const struct pollfd *fds, int first, int sync_fd, int pidfd)
{
	if (fds[first].revents & POLLIN)
		accept_client(c);
	if (fds[first + 1].revents) {
		uint64_t expirations;
		(void)!read(c->stop_timer_fd, &expirations, sizeof(expirations));
		sys_pidfd_send_signal(pidfd, SIGKILL); /* the grace is over */
	}
	/* Unused too long, or lived long enough: stopped as `stockade stop` would. */
	for (int t = 2; t <= 3; t++)
		if (fds[first + t].revents) {
			uint64_t expirations;
			(void)!read(fds[first + t].fd, &expirations, sizeof(expirations));
			if (!c->is_stopping)
				stop(c, sync_fd, CONTROL_STOP_GRACE, pidfd);
		}
	/* The tie (--tie-fd): EOF (or hangup) when every write end is closed, i.e. the sandbox's
	 * maker is gone, however it ended. Nothing is ever written to it; a byte that is read
	 * anyway is ignored. */
	if (c->service->tie_fd >= 0 && fds[first + 4].revents) {
		char byte;
		if (read(c->service->tie_fd, &byte, 1) <= 0) {
			close(c->service->tie_fd);
			c->service->tie_fd = -1;
			if (!c->is_stopping)
				stop(c, sync_fd, CONTROL_STOP_GRACE, pidfd);
		}
	}
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (c->clients[i].fd >= 0 && fds[first + 5 + i].revents)
			client_request(c, &c->clients[i], sync_fd, pidfd);
	control_update_idle(c);
}

static void close_fds(int *fds, int count)
{
	for (int i = 0; i < count; i++)
		close(fds[i]);
}

bool control_from_pid1(struct control *c, const struct sync_msg *msg, int *fds, int fd_count)
{
	switch (msg->kind) {
	case SYNC_READY: {
		struct sk_err ok = {0};
		close_fds(fds, fd_count);
		c->is_ready = true;
		if (c->service->ready_fd >= 0) {
			(void)fds_write_all(c->service->ready_fd, &ok, sizeof(ok));
			close(c->service->ready_fd);
			c->service->ready_fd = -1;
		}
		return true;
	}
	case SYNC_EXEC_BEGUN:
	case SYNC_EXEC_DONE:
		for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
			struct control_client *cl = &c->clients[i];
			if (cl->fd < 0 || cl->exec_id != msg->exec_id)
				continue;
			cl->is_done = msg->kind == SYNC_EXEC_DONE;
			if (fd_count > 0)
				(void)sync_send_fds(cl->fd, msg, fds, fd_count);
			else
				send_to(cl->fd, msg);
		}
		close_fds(fds, fd_count);
		control_update_idle(c);
		return true;
	case SYNC_INFO:
		close_fds(fds, fd_count);
		for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
			struct control_client *cl = &c->clients[i];
			if (cl->fd < 0 || cl->info_id != msg->exec_id)
				continue;
			struct sync_msg answer = *msg;
			answer.pid = c->pid1;
			cl->info_id = 0;
			send_to(cl->fd, &answer);
		}
		return true;
	}
	return false;
}

void control_close(struct control *c)
{
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (c->clients[i].fd >= 0) {
			close(c->clients[i].fd);
			c->clients[i].fd = -1;
		}
	if (c->log_fd >= 0)
		close(c->log_fd);
	int timers[] = {c->stop_timer_fd, c->idle_timer_fd, c->life_timer_fd};
	for (size_t i = 0; i < sizeof(timers) / sizeof(timers[0]); i++)
		if (timers[i] >= 0)
			close(timers[i]);
	c->log_fd = c->stop_timer_fd = c->idle_timer_fd = c->life_timer_fd = -1;
}
