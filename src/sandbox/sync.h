/* The message protocol between the parent and PID 1 of the sandbox, over a SOCK_SEQPACKET
 * socketpair. Fixed-size messages, so the child never allocates to send one. */
#ifndef STOCKADE_SYNC_H
#define STOCKADE_SYNC_H

#include <stdint.h>

#include "util/err.h"

enum sync_kind {
	SYNC_GO = 1,	  /* parent -> child: maps written, cgroup attached: proceed */
	SYNC_ERROR,	  /* child -> parent: setup failed (err), the command will not run */
	SYNC_DEGRADED,	  /* child -> parent: an allowed-degraded layer failed (err) */
	SYNC_EXEC_FAILED, /* child -> parent: execve failed (err.errnum, exit_code 126/127) */
	SYNC_EXIT,	  /* child -> parent: the command ended: wait status, max RSS */
	SYNC_PROXY,	  /* child -> parent: the proxy's two listening sockets (SCM_RIGHTS) */
	SYNC_TTY,	  /* child -> parent: the master of the sandbox's pty (SCM_RIGHTS) */
	/* A long-lived sandbox (service.h). Between `stockade exec` and the supervisor on the
	 * control socket, and between the supervisor and PID 1, the same messages: */
	SYNC_READY,	   /* PID 1 -> parent: the first command runs (or there is none) */
	SYNC_EXEC_REQ,	   /* an exec: fds 0-2 attached, its body (service.h) in the next
			    * datagram; exec_id numbers it (the supervisor's own numbers) */
	SYNC_EXEC_STARTED, /* exec_id runs as pid (in the sandbox's PID namespace) */
	SYNC_EXEC_DONE,	   /* exec_id ended with wait_status; or could not start: err set,
			    * err.exit_code 126/127 (exec) or 125 */
	SYNC_SIGNAL,	   /* send signal `value` to exec_id's process group */
	SYNC_STOP,	   /* stop the sandbox: SIGTERM to every process, SIGKILL after `value`
			    * seconds (the supervisor's timer) */
	SYNC_INFO,	   /* ask the supervisor; it answers with pid = PID 1's host pid, value =
			    * processes, max_rss_kb = memory in KiB (0: unknown) */
};

struct sync_msg {
	uint32_t kind;
	int32_t wait_status;
	int64_t max_rss_kb;
	uint32_t exec_id;
	int32_t pid;
	int64_t value;
	struct sk_err err;
};

/* Both async-signal-safe. recv returns 1 on a message, 0 on EOF, -1 on error. */
int sync_send(int fd, const struct sync_msg *msg);
int sync_recv(int fd, struct sync_msg *msg);
/* The same, with up to `count` file descriptors attached (SCM_RIGHTS). Received fds are
 * close-on-exec; *received says how many came (the rest of fds is set to -1). */
int sync_send_fds(int fd, const struct sync_msg *msg, const int *fds, int count);
int sync_recv_fds(int fd, struct sync_msg *msg, int *fds, int count, int *received);

#endif
