/* The supervisor's side of a long-lived sandbox: its control socket (exec, signal, stop, info
 * from `stockade exec|stop|ps`), the routing of PID 1's answers to the client that asked, the
 * stop timer, and the first command's output into a size-capped log (log, then log.1). Each
 * client is checked with SO_PEERCRED (the sandbox's owner or root only) and holds at most one
 * exec; when a client goes away, its exec is killed. */
#ifndef STOCKADE_CONTROL_H
#define STOCKADE_CONTROL_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sandbox/cgroup.h"
#include "sandbox/service.h"
#include "sandbox/sync.h"
#include "spec/spec.h"

/* Each exec holds a client for as long as it runs, and PID 1 runs SERVICE_MAX_EXECS at once:
 * past those, room for a stop, an inspect and a copy. With exactly as many places as execs,
 * a sandbox running its most execs (`stockade serve` fills them) turned every stop away, and
 * could not be removed while they ran. */
#define CONTROL_MAX_CLIENTS (SERVICE_MAX_EXECS + 8)
#define CONTROL_LOG_HALF (1u << 20) /* log rotates to log.1 past this: 2 MiB kept at most */
#define CONTROL_STOP_GRACE 10	    /* seconds, for a stop of the lifetime timers */

struct control_client {
	int fd;
	uint32_t exec_id;     /* its exec, 0 for none */
	bool is_done;	      /* its exec ended (SYNC_EXEC_DONE passed on) */
	bool has_answer_pipe; /* PID 1 answers it through its pipe (sync.h): no SYNC_EXEC_DONE
			       * comes here, and PID 1 ends the exec when the pipe's reader
			       * goes; here it counts as running until the client hangs up */
	uint32_t info_id;     /* its SYNC_INFO waiting for PID 1's answer, 0 for none */
};

struct control {
	struct sandbox_service *service; /* its ready_fd is closed (and -1) once sent */
	struct control_client clients[CONTROL_MAX_CLIENTS];
	uint32_t next_id;
	int log_fd; /* log, O_APPEND */
	uint64_t log_size;
	int stop_timer_fd; /* armed by a stop: SIGKILL when it fires */
	int idle_timer_fd; /* --idle-timeout: armed while nothing uses the sandbox */
	int life_timer_fd; /* --max-lifetime */
	bool is_idle_armed, is_stopping;
	bool is_ready; /* PID 1 said SYNC_READY */
	pid_t pid1;    /* PID 1's host pid (info) */
	const struct cgroup_plan *cgroup;
};

/* Before the loop: opens the log; -1 with err. */
int control_init(struct control *c, struct sandbox_service *service,
		 const struct cgroup_plan *cgroup, struct sk_err *err);
/* Adds the listening socket, the timers and the clients to fds from n; returns the new count
 * (always 5 + CONTROL_MAX_CLIENTS more). */
int control_poll_add(struct control *c, struct pollfd *fds, int n);
/* Acts on what poll found in fds[first..]: accepts, reads requests and passes them to PID 1
 * over sync_fd; a fired stop timer kills PID 1 through pidfd. */
void control_handle(struct control *c, const struct pollfd *fds, int first, int sync_fd, int pidfd);
/* A message from PID 1 for a client (SYNC_READY, SYNC_EXEC_BEGUN with an exec -t's pty
 * master in fds, SYNC_EXEC_DONE, SYNC_INFO): passed on, the fds with it and then closed.
 * Returns false (fds untouched) for a message that is not the control's. */
bool control_from_pid1(struct control *c, const struct sync_msg *msg, int *fds, int fd_count);
/* The first command's output, into the log. */
void control_log(struct control *c, const char *buf, size_t n);
/* --idle-timeout: the countdown runs while no exec runs, and starts over when the last one
 * ends (ps and inspect do not count as use). */
void control_update_idle(struct control *c);
/* Closes the clients (they see the sandbox end), the log and the timers. */
void control_close(struct control *c);

#endif
