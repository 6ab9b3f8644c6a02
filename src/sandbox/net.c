/* The network layer. A new network namespace starts with lo down and no other interface;
 * we bring lo up and add nothing: no route leads out. Egress, when it exists, will be the
 * policy proxy's sockets, created in this namespace and served from outside. */
#define _GNU_SOURCE
#include "sandbox/net.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/fds.h"
#include "util/macros.h"
#include "util/syscalls.h"

int net_apply(struct sk_err *err)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return sk_fail_safe(err, "net", errno, "socket(AF_INET)", NULL, NULL);
	memset(&ifr, 0, sizeof(ifr));
	sk_strlcpy(ifr.ifr_name, "lo", sizeof(ifr.ifr_name));
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		int saved = errno;
		close(fd);
		return sk_fail_safe(err, "net", saved, "SIOCGIFFLAGS", "lo", NULL);
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) {
		int saved = errno;
		close(fd);
		return sk_fail_safe(err, "net", saved, "SIOCSIFFLAGS(up)", "lo", NULL);
	}
	close(fd);
	return 0;
}

/* What the helper tells PID 1. */
struct net_result {
	int errnum;
	char op[32];
	char subject[8];
};

static void __attribute__((noreturn)) helper_main(int result_fd, int stay_fd)
{
	struct net_result r;
	struct sk_err err;
	int keep[2] = {result_fd, stay_fd};
	char byte;

	memset(&r, 0, sizeof(r));
	memset(&err, 0, sizeof(err));
	/* PID 1 enters our namespace by our pidfd, which the kernel allows only with ptrace read
	 * access to us: dumpable (PID 1 is not, and the flag came with the fork). Nothing else
	 * runs in the sandbox yet, and we exit before PID 1 starts the command. */
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0) {
		r.errnum = errno;
		sk_strlcpy(r.op, "prctl(PR_SET_DUMPABLE)", sizeof(r.op));
	} else if (fds_close_except(keep, 2) < 0) {
		/* PID 1's other fds (its socket to the parent, the volumes) are none of ours. */
		r.errnum = errno;
		sk_strlcpy(r.op, "close_range", sizeof(r.op));
	} else if (unshare(CLONE_NEWNET) < 0) {
		r.errnum = errno;
		sk_strlcpy(r.op, "unshare(CLONE_NEWNET)", sizeof(r.op));
	} else if (net_apply(&err) < 0) {
		r.errnum = err.errnum;
		sk_strlcpy(r.op, err.op, sizeof(r.op));
		sk_strlcpy(r.subject, "lo", sizeof(r.subject));
	}
	(void)!write(result_fd, &r, sizeof(r));
	/* Hold the namespace until PID 1 is in it (EOF when it closes its end, or dies). */
	(void)RETRY_EINTR(read(stay_fd, &byte, 1));
	_exit(0);
}

int net_helper_start(struct net_helper *h, struct sk_err *err)
{
	int result[2], stay[2];
	pid_t pid;

	h->pidfd = h->result_fd = h->stay_fd = -1;
	if (pipe2(result, O_CLOEXEC) < 0)
		return sk_fail_safe(err, "net", errno, "pipe2", NULL, NULL);
	if (pipe2(stay, O_CLOEXEC) < 0) {
		int saved = errno;
		close(result[0]);
		close(result[1]);
		return sk_fail_safe(err, "net", saved, "pipe2", NULL, NULL);
	}
	/* A plain fork (the namespace is unshared by the helper, not here: in clone3 PID 1
	 * itself would wait for it). No exit signal: PID 1's init loop never sees it. */
	pid = sys_clone3(CLONE_PIDFD, &h->pidfd, 0);
	if (pid == 0) {
		close(result[0]);
		close(stay[1]);
		helper_main(result[1], stay[0]);
	}
	int saved = errno;
	close(result[1]);
	close(stay[0]);
	if (pid < 0) {
		close(result[0]);
		close(stay[1]);
		return sk_fail_safe(err, "net", saved, "clone3 (network namespace helper)", NULL,
				    NULL);
	}
	h->result_fd = result[0];
	h->stay_fd = stay[1];
	return 0;
}

int net_helper_join(struct net_helper *h, struct sk_err *err)
{
	struct net_result r;
	ssize_t n;
	int rc = 0;

	n = RETRY_EINTR(read(h->result_fd, &r, sizeof(r)));
	if (n != (ssize_t)sizeof(r)) {
		rc = sk_fail_safe(err, "net", n < 0 ? errno : EPIPE, "network namespace helper",
				  NULL, NULL);
	} else if (r.errnum) {
		r.op[sizeof(r.op) - 1] = r.subject[sizeof(r.subject) - 1] = '\0';
		rc =
		    sk_fail_safe(err, "net", r.errnum, r.op, r.subject[0] ? r.subject : NULL, NULL);
	} else if (setns(h->pidfd, CLONE_NEWNET) < 0) {
		rc = sk_fail_safe(err, "net", errno, "setns(CLONE_NEWNET)", NULL, NULL);
	}
	close(h->result_fd);
	close(h->stay_fd); /* the helper exits; reaped by net_helper_reap, not waited for here */
	h->result_fd = h->stay_fd = -1;
	return rc;
}

void net_helper_reap(int pidfd)
{
	siginfo_t info;

	if (pidfd < 0)
		return;
	(void)sys_waitid_pidfd(pidfd, &info, WEXITED | __WALL);
	close(pidfd);
}
