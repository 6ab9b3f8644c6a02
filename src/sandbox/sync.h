/* The message protocol between the parent and PID 1 of the sandbox, over a SOCK_SEQPACKET
 * socketpair. Fixed-size messages, so the child never allocates to send one. And the one fact
 * they share in memory instead: whether the command was exec'd (struct sync_exec). */
#ifndef STOCKADE_SYNC_H
#define STOCKADE_SYNC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

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
			    * datagram, with the caller's answer pipe attached or not (below);
			    * exec_id numbers it (the supervisor's own numbers) */
	SYNC_EXEC_BEGUN,   /* exec_id runs as pid (in the sandbox's PID namespace) */
	SYNC_EXEC_DONE,	   /* exec_id ended with wait_status; or could not start: err set,
			    * err.exit_code 126/127 (exec) or 125 */
	SYNC_SIGNAL,	   /* send signal `value` to exec_id's process group */
	SYNC_STOP,	   /* stop the sandbox: SIGTERM to every process, SIGKILL after `value`
			    * seconds (the supervisor's timer) */
	SYNC_INFO,	   /* ask the supervisor; it answers with pid = PID 1's host pid, value =
			    * processes, max_rss_kb = memory in KiB (0: unknown) */
};

/* SYNC_EXEC_REQ's value: the caller waits for the end only, so PID 1 sends no SYNC_EXEC_BEGUN
 * unless it carries an exec -t's pty master. One message less through the supervisor, which
 * woke it and the caller while the command ran. A supervisor that does not know it sends
 * SYNC_EXEC_BEGUN all the same, which such a caller ignores. */
#define SYNC_EXEC_DONE_ONLY 1

/* The answer pipe: a caller of a plain command (kind '-') that asks for SYNC_EXEC_DONE_ONLY may
 * attach the write end of a pipe to the body datagram. The supervisor checks it is one (an
 * anonymous pipe's write end: anything else, a named FIFO included, refuses the exec), makes
 * it non-blocking and passes it to PID 1 as the request's fourth fd (for any other request:
 * closed unused); PID 1 writes the exec's SYNC_EXEC_DONE there and not to the supervisor, so the
 * caller, who polls the read end, has it one hop (the supervisor's wake-up, read and send)
 * sooner. The pipe's reader gone (POLLERR) is the caller gone: PID 1 ends the exec, as the
 * supervisor does for a connection that ends. A caller reads its connection too: errors of the
 * supervisor's own come there, and an older supervisor drops the pipe (EOF) and answers as
 * before. PID 1 gains a pipe's write end, no socket to a host process (docs/ARCHITECTURE.md). */

struct sync_msg {
	uint32_t kind;
	int32_t wait_status;
	int64_t max_rss_kb;
	uint32_t exec_id;
	int32_t pid;
	int64_t value;
	struct sk_err err;
};

/* Whether the command was exec'd, with an exact answer whenever and however the sandbox ends.
 * One page shared by the parent, PID 1 and, through vfork, the process that becomes the
 * command (MAP_SHARED, mapped before clone3; the command's execve drops it).
 *
 * A flag set by PID 1 once vfork returns is not enough: between the command's execve and PID 1
 * getting the CPU, the command runs (and may flood its output or outlive a 1 ms --timeout),
 * and a SIGKILL to PID 1 then leaves the flag unset for a command that did start. So the
 * answer is never left to a process that must still be scheduled:
 * - the launch is a compare-and-swap: the vfork child takes it before doing anything
 *   (sync_exec_claim), or the parent cancels it before killing (sync_exec_settle); whichever
 *   comes second loses, so a cancelled launch never execs;
 * - the vfork child records its own failure before it exits (sync_exec_fail);
 * - success is written by the kernel: the vfork child's clear_child_tid (set_tid_address) is
 *   the word `holds_memory`, which the kernel zeroes, and whose futex it wakes, when the child
 *   releases PID 1's memory, in the same step that ends PID 1's vfork: at exit, or in execve
 *   after its point of no return (the command's first instruction comes after that). At exit
 *   only while PID 1 still shares that memory: a child killed mid-exec because PID 1 died
 *   first (killed from outside) leaves the word set, and the run counts as not started;
 * - the parent never kills while an exec is under way (taken, memory still held): it waits
 *   for the kernel's word first, so what its SIGKILL interrupts is already decided. */
struct sync_exec {
	int state;	  /* sync.c's EXEC_* */
	int errnum;	  /* why the exec (or a step before it) failed */
	int holds_memory; /* 1 until the claiming vfork child exec'd or exited (then 0) */
};

enum sync_exec_outcome {
	SYNC_EXEC_NOT_STARTED, /* not tried yet, or cancelled by the parent: never will be */
	SYNC_EXEC_UNDER_WAY,   /* the vfork child took it and is still before its execve's end */
	SYNC_EXEC_FAILURE,     /* it failed before the command ran: errnum */
	SYNC_EXEC_STARTED,     /* execve passed its point of no return: the command ran */
};

/* The parent, on the fresh page, before clone3. */
void sync_exec_init(struct sync_exec *ex);
/* The vfork child, first: takes the launch. False when the parent cancelled it (then _exit
 * without exec). Async-signal-safe, as are the other calls. */
bool sync_exec_claim(struct sync_exec *ex);
/* The vfork child, before _exit: the launch failed with errnum. */
void sync_exec_fail(struct sync_exec *ex, int errnum);
/* Where it stands; *errnum is set for SYNC_EXEC_FAILURE. */
enum sync_exec_outcome sync_exec_outcome(const struct sync_exec *ex, int *errnum);
/* The parent, before it kills the sandbox: cancels a launch nobody took, waits (at most
 * wait_ms) for one under way to end. Returns the outcome, SYNC_EXEC_UNDER_WAY only after the
 * wait ran out (a sandbox stopped or frozen from outside). */
enum sync_exec_outcome sync_exec_settle(struct sync_exec *ex, long wait_ms, int *errnum);

/* Both async-signal-safe. recv returns 1 on a message, 0 on EOF, -1 on error. */
int sync_send(int fd, const struct sync_msg *msg);
int sync_recv(int fd, struct sync_msg *msg);
/* The same, with up to `count` file descriptors attached (SCM_RIGHTS). Received fds are
 * close-on-exec; *received says how many came (the rest of fds is set to -1). */
int sync_send_fds(int fd, const struct sync_msg *msg, const int *fds, int count);
int sync_recv_fds(int fd, struct sync_msg *msg, int *fds, int count, int *received);
/* One datagram of len bytes (an exec's body) with at most one fd attached (attach < 0: none).
 * recv returns the length (0 on EOF), or -1; *attached is the fd that came, close-on-exec, or
 * -1 (any more are closed). */
int sync_send_data(int fd, const void *buf, size_t len, int attach);
ssize_t sync_recv_data(int fd, void *buf, size_t size, int *attached);

#endif
