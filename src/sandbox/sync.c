/* The parent <-> PID 1 messages (see sync.h): one fixed-size struct per SOCK_SEQPACKET
 * message, fds passed with SCM_RIGHTS. Async-signal-safe: PID 1 sends with these. */
#define _GNU_SOURCE
#include "sandbox/sync.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/macros.h"

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

int sync_send_fds(int fd, const struct sync_msg *msg, const int *fds, int count)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = (void *)msg, .iov_len = sizeof(*msg)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *cm;
	ssize_t n;

	if (count < 1 || count > 4)
		return -1;
	memset(&control, 0, sizeof(control));
	mh.msg_control = control.buf;
	mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)count);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)count);
	memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)count);
	n = RETRY_EINTR(sendmsg(fd, &mh, MSG_NOSIGNAL));
	return n == (ssize_t)sizeof(*msg) ? 0 : -1;
}

int sync_recv_fds(int fd, struct sync_msg *msg, int *fds, int count, int *received)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = msg, .iov_len = sizeof(*msg)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = control.buf,
			    .msg_controllen = sizeof(control.buf)};
	ssize_t n;

	*received = 0;
	for (int i = 0; i < count; i++)
		fds[i] = -1;
	n = RETRY_EINTR(recvmsg(fd, &mh, MSG_CMSG_CLOEXEC));
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); n > 0 && cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		int got = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (int i = 0; i < got; i++) {
			int one;
			memcpy(&one, CMSG_DATA(cm) + sizeof(int) * (size_t)i, sizeof(int));
			if (*received < count)
				fds[(*received)++] = one;
			else
				close(one); /* more than asked for: not ours to keep */
		}
	}
	if (n == 0)
		return 0;
	return n == (ssize_t)sizeof(*msg) ? 1 : -1;
}
