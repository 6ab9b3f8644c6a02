/* Egress policy on addresses: which resolved (or literal) addresses the proxy must never
 * connect to, unless an allow rule names the address or a network containing it (addresses
 * and networks themselves: netaddr.h). Pure functions over struct netpolicy; no resolver, no
 * sockets. */
#ifndef STOCKADE_ADDRPOLICY_H
#define STOCKADE_ADDRPOLICY_H

#include <stdint.h>
#include <sys/socket.h>

#include "net/hostmatch.h"
#include "util/err.h"

/* Records one of the sandbox host's own addresses (gathered by the caller with getifaddrs):
 * connecting to it is forbidden like loopback. Duplicates are ignored; -1 when the list is
 * full or sa is not AF_INET/AF_INET6. */
int addrpolicy_add_host_address(struct netpolicy *policy, const struct sockaddr *sa, socklen_t len,
				struct sk_err *err);

enum addrverdict {
	ADDRPOLICY_ALLOWED,
	ADDRPOLICY_FORBIDDEN,
};

/* The check the proxy makes on the exact address it is about to connect to (port included:
 * an allow rule lifts a forbidden range only for its own ports). Order: a deny IP/CIDR rule
 * matching the address (or the IPv4 address embedded in a NAT64 or 6to4 address) forbids;
 * then a forbidden range or a host address forbids unless an allow IP/CIDR rule contains
 * the address (or its embedded IPv4 address). *reason is a static string for the audit log:
 * "public address", "allowed by rule", "loopback", ... */
enum addrverdict addrpolicy_check(const struct netpolicy *policy, const struct sockaddr *addr,
				  socklen_t len, const char **reason);
/* The same on a parsed address; *matched (may be NULL) is the deciding rule or NULL. */
enum addrverdict addrpolicy_check_addr(const struct netpolicy *policy, const struct netaddr *addr,
				       uint16_t port, const char **reason,
				       const struct netrule **matched);
/* HOSTMATCH_HOST_SERVICE, which an exact allow rule with its port already let through: the
 * address is the host's HOSTMATCH_HOST_SERVICE_ADDR, refused only by a deny IP/CIDR rule
 * over it and that port (deny wins). *reason: "the host's 127.0.0.1 (host.stockade.internal)"
 * or "denied by rule". */
enum addrverdict addrpolicy_check_host_service(const struct netpolicy *policy, uint16_t port,
					       struct netaddr *addr, const char **reason);

#endif
