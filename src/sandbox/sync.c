/* The parent <-> PID 1 messages (see sync.h): one fixed-size struct per SOCK_SEQPACKET
 * message, fds passed with SCM_RIGHTS; and the exec state they share in memory. Async-signal-
 * safe: PID 1 and its vfork child use these. */
#define _GNU_SOURCE
#include "sandbox/sync.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/macros.h"
#include "util/syscalls.h"

int sync_send(int fd, const struct sync_msg *msg)
{
	ssize_t n = RETRY_EINTR(send(fd, msg, sizeof(*msg), MSG_NOSIGNAL));

	return n == (ssize_t)sizeof(*msg) ? 0 : -1;
}

int sync_recv(int fd, struct sync_msg *msg)
{
	ssize_t n = RETRY_EINTR(recv(fd, msg, sizeof(*msg), 0));

	if (n == 0)
		return 0;
	return n == (ssize_t)sizeof(*msg) ? 1 : -1;
}

/* One message of len bytes with count (0-4) fds attached. Returns what sendmsg sent, or -1. */
static ssize_t send_with_fds(int fd, const void *buf, size_t len, const int *fds, int count)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	if (count < 0 || count > 4)
		return -1;
	if (count > 0) {
		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)count);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)count);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)count);
	}
	return RETRY_EINTR(sendmsg(fd, &mh, MSG_NOSIGNAL));
}

/* One message into buf (size bytes); of the fds that came with it, the first max go into fds
 * (*got of them, the rest -1) and any more are closed: not ours to keep. Returns what recvmsg
 * returned. */
static ssize_t recv_with_fds(int fd, void *buf, size_t size, int *fds, int max, int *got)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = buf, .iov_len = size};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = control.buf,
			    .msg_controllen = sizeof(control.buf)};
	ssize_t n;

	*got = 0;
	for (int i = 0; i < max; i++)
		fds[i] = -1;
	n = RETRY_EINTR(recvmsg(fd, &mh, MSG_CMSG_CLOEXEC));
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); n >= 0 && cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		int count = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (int i = 0; i < count; i++) {
			int one;
			memcpy(&one, CMSG_DATA(cm) + sizeof(int) * (size_t)i, sizeof(int));
			if (*got < max)
				fds[(*got)++] = one;
			else
				close(one);
		}
	}
	return n;
}

int sync_send_fds(int fd, const struct sync_msg *msg, const int *fds, int count)
{
	if (count < 1)
		return -1;
	return send_with_fds(fd, msg, sizeof(*msg), fds, count) == (ssize_t)sizeof(*msg) ? 0 : -1;
}

int sync_recv_fds(int fd, struct sync_msg *msg, int *fds, int count, int *received)
{
	ssize_t n = recv_with_fds(fd, msg, sizeof(*msg), fds, count, received);

	if (n == 0)
		return 0;
	return n == (ssize_t)sizeof(*msg) ? 1 : -1;
}

int sync_send_data(int fd, const void *buf, size_t len, int attach)
{
	return send_with_fds(fd, buf, len, &attach, attach >= 0 ? 1 : 0) == (ssize_t)len ? 0 : -1;
}

ssize_t sync_recv_data(int fd, void *buf, size_t size, int *attached)
{
	int got;

	return recv_with_fds(fd, buf, size, attached, 1, &got);
}

/* struct sync_exec's states. Each moves forward once: FREE to TAKEN (the vfork child) or to
 * CANCELLED (the parent), by compare-and-swap, then TAKEN to FAILED (the vfork child). */
enum {
	EXEC_FREE = 0,
	EXEC_TAKEN,
	EXEC_FAILED,
	EXEC_CANCELLED,
};

void sync_exec_init(struct sync_exec *ex)
{
	ex->state = EXEC_FREE;
	ex->errnum = 0;
	/* Set from the start, not at the claim: a reader that saw 1 before the claim and then
	 * EXEC_TAKEN must not take a word that was never armed for the kernel's zero. */
	ex->holds_memory = 1;
}

bool sync_exec_claim(struct sync_exec *ex)
{
	int expected = EXEC_FREE;

	/* Armed before the claim: once anyone sees EXEC_TAKEN, the kernel will zero the word
	 * when this process execs or exits. */
	sys_set_tid_address(&ex->holds_memory);
	return __atomic_compare_exchange_n(&ex->state, &expected, EXEC_TAKEN, false,
					   __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

void sync_exec_fail(struct sync_exec *ex, int errnum)
{
	__atomic_store_n(&ex->errnum, errnum, __ATOMIC_RELAXED);
	__atomic_store_n(&ex->state, EXEC_FAILED, __ATOMIC_RELEASE);
	/* Visible before the kernel's zero at our _exit: a reader that sees the word zeroed
	 * then sees the failure, never a success. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

enum sync_exec_outcome sync_exec_outcome(const struct sync_exec *ex, int *errnum)
{
	/* The word first: once it reads 0, the state read after it is final. */
	int holds = __atomic_load_n(&ex->holds_memory, __ATOMIC_ACQUIRE);
	int state = __atomic_load_n(&ex->state, __ATOMIC_ACQUIRE);

	*errnum = 0;
	if (state == EXEC_FAILED) {
		*errnum = __atomic_load_n(&ex->errnum, __ATOMIC_RELAXED);
		return SYNC_EXEC_FAILURE;
	}
	if (state == EXEC_TAKEN)
		return holds ? SYNC_EXEC_UNDER_WAY : SYNC_EXEC_STARTED;
	return SYNC_EXEC_NOT_STARTED;
}

enum sync_exec_outcome sync_exec_settle(struct sync_exec *ex, long wait_ms, int *errnum)
{
	double deadline = clock_now_ms() + (double)wait_ms;
	enum sync_exec_outcome outcome;
	int expected = EXEC_FREE;

	/* Not taken yet: it never will be, and nothing is under way. */
	(void)__atomic_compare_exchange_n(&ex->state, &expected, EXEC_CANCELLED, false,
					  __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	for (;;) {
		double left;

		outcome = sync_exec_outcome(ex, errnum);
		left = deadline - clock_now_ms();
		if (outcome != SYNC_EXEC_UNDER_WAY || left <= 0)
			return outcome;
		/* Woken by the kernel's zero (EAGAIN if it came first); the word is read again. */
		(void)sys_futex_wait_shared(&ex->holds_memory, 1, (long)left + 1);
	}
}
