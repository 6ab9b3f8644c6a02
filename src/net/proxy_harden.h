/* The egress proxy confines itself once it holds all it needs (its listening sockets, the
 * resolver's configuration, the audit fd) and before it reads a byte from the sandbox. It
 * runs outside the sandbox and parses what a hostile workload sends (HTTP heads, SOCKS5,
 * TLS ClientHellos) and what any allowed server answers: a bug in one of those parsers must
 * not become the host's file system, a shell, or a connection to a port the policy never
 * allowed. Both layers are the same the sandbox gets, so a run whose Landlock or seccomp
 * layer works can always apply them. */
#ifndef STOCKADE_PROXY_HARDEN_H
#define STOCKADE_PROXY_HARDEN_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#include "net/hostmatch.h"

/* Two ports for each rule (80 and 443 for a rule without one), and the resolver's. */
#define PROXY_HARDEN_MAX_PORTS (2 * NETPOLICY_MAX_RULES + 16)

/* Landlock: every file-system right handled with no rule (no open, create, exec, ... of any
 * path), abstract unix sockets and signals scoped (ABI >= 6), and from ABI 4 TCP bind refused
 * and TCP connect allowed only to `ports` (the allow rules' ports and the resolver's). UDP is
 * outside Landlock's reach (the resolver's queries; the seccomp filter still bounds the
 * sockets). abi: the ABI the launch probed. Returns 0 or -1 with err (layer "proxy"). */
int proxy_landlock(int abi, const uint16_t *ports, size_t port_count, struct sk_err *err);

/* seccomp: an allow-list of the system calls the event loop, the relay, c-ares and the audit
 * log make (the x86_64 ABI only), everything else kills the proxy. mmap and mprotect may not
 * ask for PROT_EXEC, and socket() makes only AF_INET and AF_INET6 sockets. Requires
 * no_new_privs. Returns 0 or -1 with err. */
int proxy_seccomp(struct sk_err *err);

#endif
