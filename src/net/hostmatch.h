/* Egress policy on names: host-name canonicalization, host fields (a name or an IP literal,
 * netaddr.h), and the --allow-net / --deny-net rule grammar with its matcher. Pure functions: no
 * allocation, no global state, no resolver; every parser takes (buf, len) so that it can be fuzzed.
 */
#ifndef STOCKADE_HOSTMATCH_H
#define STOCKADE_HOSTMATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net/netaddr.h"
#include "util/err.h"

#define HOSTMATCH_NAME_MAX 253 /* DNS limit on a name's text form, no trailing dot */
#define HOSTMATCH_LABEL_MAX 63

/* The reserved name of the host's own services: the proxy (in the host's network namespace)
 * connects it to the host's 127.0.0.1, never resolves it, and only for a port that an exact
 * allow rule names ("host.stockade.internal:11434"); wildcard and port-only rules never
 * match it. */
#define HOSTMATCH_HOST_SERVICE "host.stockade.internal"
#define HOSTMATCH_HOST_SERVICE_ADDR "127.0.0.1"

/* A target host as the proxy receives it: a canonical name or an address. */
struct nethost {
	bool is_ip;
	struct netaddr ip;		   /* when is_ip */
	char text[HOSTMATCH_NAME_MAX + 1]; /* canonical name, or the address's canonical text */
};

/* Canonical name: ASCII lower case, one trailing dot removed. Refused: empty names and labels,
 * labels > 63, names > 253, bytes outside [A-Za-z0-9._-] (so NUL, controls, spaces, non-ASCII),
 * a hyphen at either end of a label, and names libc would read as an IPv4 address (the last
 * label all digits or 0x-hex: "127.1", "0x7f.1", "2130706433"). out_size >= 254 always fits. */
int hostmatch_canonicalize(const char *in, size_t len, char *out, size_t out_size,
			   struct sk_err *err);

/* Whether a canonical name is HOSTMATCH_HOST_SERVICE. */
bool hostmatch_is_host_service(const char *canonical);

/* A host field: "[v6]" or bare v6 (no zone id), a strict IPv4 literal, or a name (then
 * canonicalized). Anything that looks numeric but is not a strict literal is refused. */
int hostmatch_parse_host(const char *in, size_t len, struct nethost *out, struct sk_err *err);

enum netrule_kind {
	NETRULE_NAME,	  /* exact canonical name */
	NETRULE_WILDCARD, /* "*.suffix": names with at least one more label in front */
	NETRULE_IP,	  /* one address (cidr with a full prefix) */
	NETRULE_CIDR,	  /* a network */
	NETRULE_PORT,	  /* ":PORT": every host on that port (allowed: --network public only) */
};

struct netrule {
	enum netrule_kind kind;
	bool is_deny;
	bool is_raw;			    /* "/raw": a tunnel to this name carries anything */
	uint16_t port;			    /* 0: no port given (see netrule_port_matches) */
	char host[HOSTMATCH_NAME_MAX + 1];  /* name, or the suffix without "*." */
	struct cidr net;		    /* NETRULE_IP, NETRULE_CIDR */
	char text[HOSTMATCH_NAME_MAX + 48]; /* canonical spelling, for the audit log */
};

/* "HOST[:PORT]": name, *.suffix, IPv4, [IPv6] or bare IPv6 (then no port), IPv4/N,
 * [IPv6/N] or bare IPv6/N; or ":PORT" alone, every host on that port (as an allow rule it
 * adds a port to --network public, and spec_check refuses it in any other mode; the checks
 * on addresses still apply). PORT 1-65535, decimal without leading zeros. Refused: bare "*",
 * wildcards anywhere but a leading "*.", allow-wildcards over fewer than 2 labels, over a
 * known public suffix or over HOSTMATCH_HOST_SERVICE, an allow rule for
 * HOSTMATCH_HOST_SERVICE without a port, allow-CIDRs shorter than /8, CIDRs with host bits
 * set.
 * "NAME:PORT/raw" (allow rules, names and wildcards, an explicit port): a tunnel to that name
 * and port is relayed without the check that it carries only TLS or HTTP naming the host —
 * the opt-in for protocols that cannot show a name (SSH, databases, server-speaks-first). */
int netrule_parse(const char *text, size_t len, bool is_deny, struct netrule *rule,
		  struct sk_err *err);
/* A rule without a port: an allow rule permits 80 and 443, a deny rule denies every port. */
bool netrule_port_matches(const struct netrule *rule, uint16_t port);
/* Name rules match names only, IP/CIDR rules addresses only: never suffix-match an address.
 * A port rule matches every host on its port, except that no allow rule but an exact name
 * rule matches HOSTMATCH_HOST_SERVICE. */
bool netrule_matches_host(const struct netrule *rule, const struct nethost *host, uint16_t port);
bool netrule_matches_addr(const struct netrule *rule, const struct netaddr *addr, uint16_t port);

/* 64 allow and 64 deny rules from the spec, --network public's ":80" and ":443", and the
 * credentials' hosts (8 of 8 each). */
#define NETPOLICY_MAX_RULES 194
#define NETPOLICY_MAX_HOST_ADDRS 64

struct netpolicy {
	struct netrule rules[NETPOLICY_MAX_RULES];
	size_t rule_count;
	struct netaddr host_addrs[NETPOLICY_MAX_HOST_ADDRS]; /* the sandbox host's own */
	size_t host_addr_count;
};

enum netverdict {
	NETVERDICT_ALLOW,	 /* an allow rule matched and no deny rule did */
	NETVERDICT_DENY_RULE,	 /* a deny rule matched (deny wins) */
	NETVERDICT_DENY_NO_RULE, /* no allow rule matched */
};

void netpolicy_init(struct netpolicy *policy);
/* Parses one rule and appends it; -1 when it is malformed or the policy is full. */
int netpolicy_add(struct netpolicy *policy, const char *text, size_t len, bool is_deny,
		  struct sk_err *err);
/* The verdict for a canonical name (hostmatch_canonicalize's output) and port. A string that
 * is not a canonical name (an address, say) gets NETVERDICT_DENY_NO_RULE. *matched (may be
 * NULL) is the deciding rule, or NULL; of several matching allow rules, a /raw one (the
 * caller's explicit opt-in for that host and port), else the first that names the host,
 * else the first port rule. */
enum netverdict netpolicy_check_name(const struct netpolicy *policy, const char *canonical_host,
				     uint16_t port, const struct netrule **matched);
/* The verdict for an IP literal target: only IP, CIDR and port rules apply. */
enum netverdict netpolicy_check_ip(const struct netpolicy *policy, const struct netaddr *addr,
				   uint16_t port, const struct netrule **matched);
/* Dispatches on host->is_ip. */
enum netverdict netpolicy_check_host(const struct netpolicy *policy, const struct nethost *host,
				     uint16_t port, const struct netrule **matched);
const char *netverdict_name(enum netverdict verdict);

#endif
