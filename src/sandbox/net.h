/* The network layer: the sandbox's own network namespace holds only loopback. */
#ifndef STOCKADE_NET_H
#define STOCKADE_NET_H

#include "util/err.h"

/* Child, before capabilities are dropped (needs CAP_NET_ADMIN in the namespace): brings lo
 * up so programs can serve and connect on 127.0.0.1 inside. No other interface exists. */
int net_apply(struct sk_err *err);

/* Making a network namespace is the slowest single step of a launch (the kernel registers
 * its sysctl tables: ~0.3-0.5 ms), so PID 1 does not make it in clone3: a helper process
 * unshares it and brings lo up while PID 1 builds the mounts, then PID 1 joins it. */
struct net_helper {
	int pidfd;     /* the helper */
	int result_fd; /* read: its struct net_result once lo is up (or it failed) */
	int stay_fd;   /* write end: the helper lives (holding the namespace) until it closes */
};

/* PID 1, with CAP_SYS_ADMIN in the sandbox's user namespace: forks the helper. */
int net_helper_start(struct net_helper *h, struct sk_err *err);
/* PID 1: waits for the helper, enters its network namespace (setns by pidfd) and lets it
 * exit. The helper's failure is reported as its own (unshare, lo up). h->pidfd stays open
 * for net_helper_reap: waiting for the helper's exit here (~0.1-0.3 ms) would delay the
 * launch for nothing. */
int net_helper_join(struct net_helper *h, struct sk_err *err);
/* PID 1, once the command runs: reaps the helper (exited long since) and closes its pidfd.
 * A negative pidfd is ignored. */
void net_helper_reap(int pidfd);

#endif
