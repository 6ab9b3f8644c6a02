/* Forbidden destination addresses (docs/THREATS.md, "Network egress": DNS rebinding, metadata
 * endpoints, IPv4 hidden inside IPv6, everything not globally reachable, which is what
 * `--network public` leaves out). The proxy calls addrpolicy_check on the exact address it
 * connects to, after resolution. */
#include "net/addrpolicy.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "util/macros.h"

#define LAYER "netpolicy"
#define NO_EMBEDDED (-1)

struct forbidden_range {
	sa_family_t family;
	uint8_t prefix[16];
	unsigned prefix_len;
	int embedded_at;    /* byte offset of an embedded IPv4 address to check instead, or -1 */
	const char *reason; /* NULL: globally reachable, an exception inside a range below */
};

/* Every range IANA's special-purpose registries (RFC 6890 and its updates) do not mark
 * globally reachable, the cloud metadata endpoints (some of them public addresses), and
 * all IPv6 outside 2000::/3 (the only global unicast space): with `--network public` this
 * table is all that stands between the workload and the host's networks, so an address
 * that is not plainly public is refused. First match wins, so the specific entries (and
 * the global exceptions, reason NULL) come before the ranges that contain them. */
static const struct forbidden_range forbidden_ranges[] = {
    {AF_INET, {255, 255, 255, 255}, 32, NO_EMBEDDED, "broadcast"},
    {AF_INET, {0}, 8, NO_EMBEDDED, "unspecified (0.0.0.0/8)"},
    {AF_INET, {10}, 8, NO_EMBEDDED, "private (RFC 1918)"},
    {AF_INET, {100, 100, 100, 200}, 32, NO_EMBEDDED, "cloud metadata (Alibaba Cloud)"},
    {AF_INET, {100, 64}, 10, NO_EMBEDDED, "shared address space (CGNAT 100.64.0.0/10)"},
    {AF_INET, {127}, 8, NO_EMBEDDED, "loopback"},
    {AF_INET, {168, 63, 129, 16}, 32, NO_EMBEDDED, "cloud platform endpoint (Azure WireServer)"},
    {AF_INET, {169, 254, 169, 254}, 32, NO_EMBEDDED, "cloud metadata (link-local)"},
    {AF_INET, {169, 254, 170, 2}, 32, NO_EMBEDDED, "cloud metadata (AWS ECS, link-local)"},
    {AF_INET, {169, 254, 170, 23}, 32, NO_EMBEDDED, "cloud metadata (AWS EKS, link-local)"},
    {AF_INET, {169, 254}, 16, NO_EMBEDDED, "link-local"},
    {AF_INET, {172, 16}, 12, NO_EMBEDDED, "private (RFC 1918)"},
    {AF_INET, {192, 0, 0, 192}, 32, NO_EMBEDDED, "cloud metadata (Oracle Cloud)"},
    {AF_INET, {192, 0, 0}, 24, NO_EMBEDDED, "IETF protocol assignments (192.0.0.0/24)"},
    {AF_INET, {192, 0, 2}, 24, NO_EMBEDDED, "documentation"},
    {AF_INET, {192, 88, 99}, 24, NO_EMBEDDED, "6to4 relay anycast"},
    {AF_INET, {192, 168}, 16, NO_EMBEDDED, "private (RFC 1918)"},
    {AF_INET, {198, 18}, 15, NO_EMBEDDED, "benchmarking (198.18.0.0/15)"},
    {AF_INET, {198, 51, 100}, 24, NO_EMBEDDED, "documentation"},
    {AF_INET, {203, 0, 113}, 24, NO_EMBEDDED, "documentation"},
    {AF_INET, {224}, 4, NO_EMBEDDED, "multicast"},
    {AF_INET, {240}, 4, NO_EMBEDDED, "reserved (240.0.0.0/4)"},
    {AF_INET6, {0}, 128, NO_EMBEDDED, "unspecified (::)"},
    {AF_INET6, {[15] = 1}, 128, NO_EMBEDDED, "loopback"},
    /* Never seen in practice: netaddr_from_sockaddr turns mapped addresses into IPv4. */
    {AF_INET6, {[10] = 0xff, 0xff}, 96, 12, "IPv4-mapped"},
    {AF_INET6, {0}, 96, NO_EMBEDDED, "IPv4-compatible (deprecated)"},
    {AF_INET6, {[8] = 0xff, 0xff}, 96, NO_EMBEDDED, "IPv4-translated (::ffff:0:0:0/96)"},
    {AF_INET6, {0, 0x64, 0xff, 0x9b}, 96, 12, "NAT64"},
    {AF_INET6, {0, 0x64, 0xff, 0x9b, 0, 1}, 48, NO_EMBEDDED, "local-use NAT64"},
    {AF_INET6, {1, 0}, 64, NO_EMBEDDED, "discard-only (100::/64)"},
    {AF_INET6, {0x20, 0x01, 0, 0}, 32, NO_EMBEDDED, "Teredo (2001::/32)"},
    /* Inside 2001::/23, the assignments the registry marks globally reachable: */
    {AF_INET6, {0x20, 0x01, 0, 1, [15] = 1}, 128, NO_EMBEDDED, NULL},  /* PCP anycast */
    {AF_INET6, {0x20, 0x01, 0, 1, [15] = 2}, 128, NO_EMBEDDED, NULL},  /* TURN anycast */
    {AF_INET6, {0x20, 0x01, 0, 1, [15] = 3}, 128, NO_EMBEDDED, NULL},  /* DNS-SD SRP */
    {AF_INET6, {0x20, 0x01, 0, 3}, 32, NO_EMBEDDED, NULL},	       /* AMT */
    {AF_INET6, {0x20, 0x01, 0, 4, 0x01, 0x12}, 48, NO_EMBEDDED, NULL}, /* AS112-v6 */
    {AF_INET6, {0x20, 0x01, 0, 0x20}, 28, NO_EMBEDDED, NULL},	       /* ORCHIDv2 */
    {AF_INET6, {0x20, 0x01, 0, 0x30}, 28, NO_EMBEDDED, NULL},	       /* drone DETs */
    {AF_INET6, {0x20, 0x01, 0, 2, 0, 0}, 48, NO_EMBEDDED, "benchmarking (2001:2::/48)"},
    {AF_INET6, {0x20, 0x01, 0, 0x10}, 28, NO_EMBEDDED, "ORCHID (deprecated)"},
    {AF_INET6, {0x20, 0x01}, 23, NO_EMBEDDED, "IETF protocol assignments (2001::/23)"},
    {AF_INET6, {0x20, 0x01, 0x0d, 0xb8}, 32, NO_EMBEDDED, "documentation"},
    {AF_INET6, {0x20, 0x02}, 16, 2, "6to4"},
    {AF_INET6, {0x3f, 0xff}, 20, NO_EMBEDDED, "documentation"},
    {AF_INET6, {0x5f, 0x00}, 16, NO_EMBEDDED, "SRv6 SIDs (5f00::/16)"},
    {AF_INET6, {0xfd, 0, 0x0e, 0xc2, [14] = 0x02, 0x54}, 128, NO_EMBEDDED, "cloud metadata (AWS)"},
    {AF_INET6, {0xfd, 0, 0x0e, 0xc2, [15] = 0x23}, 128, NO_EMBEDDED, "cloud metadata (AWS EKS)"},
    {AF_INET6, {0xfc}, 7, NO_EMBEDDED, "unique-local (fc00::/7)"},
    {AF_INET6, {0xfe, 0x80, [12] = 0xa9, 0xfe, 0xa9, 0xfe}, 128, NO_EMBEDDED, "cloud metadata"},
    {AF_INET6, {0xfe, 0x80}, 10, NO_EMBEDDED, "link-local"},
    {AF_INET6, {0xfe, 0xc0}, 10, NO_EMBEDDED, "site-local (deprecated)"},
    {AF_INET6, {0xff}, 8, NO_EMBEDDED, "multicast"},
    /* The rest of the space outside 2000::/3 is unassigned (RFC 4291 section 2.4). */
    {AF_INET6, {0x00}, 3, NO_EMBEDDED, "reserved IPv6 (outside 2000::/3)"},
    {AF_INET6, {0x40}, 2, NO_EMBEDDED, "reserved IPv6 (outside 2000::/3)"},
    {AF_INET6, {0x80}, 1, NO_EMBEDDED, "reserved IPv6 (outside 2000::/3)"},
};

int addrpolicy_add_host_address(struct netpolicy *policy, const struct sockaddr *sa, socklen_t len,
				struct sk_err *err)
{
	struct netaddr addr;

	if (netaddr_from_sockaddr(sa, len, &addr, NULL) < 0)
		return sk_fail(err, LAYER, 0, NULL, "host address: not an IPv4 or IPv6 address");
	for (size_t i = 0; i < policy->host_addr_count; i++)
		if (netaddr_equal(&policy->host_addrs[i], &addr))
			return 0;
	if (policy->host_addr_count >= NETPOLICY_MAX_HOST_ADDRS)
		return sk_fail(err, LAYER, 0, NULL, "more than %d host addresses",
			       NETPOLICY_MAX_HOST_ADDRS);
	policy->host_addrs[policy->host_addr_count++] = addr;
	return 0;
}

static const struct forbidden_range *find_range(const struct netaddr *addr)
{
	for (size_t i = 0; i < ARRAY_SIZE(forbidden_ranges); i++) {
		const struct forbidden_range *range = &forbidden_ranges[i];
		struct cidr net = {.prefix_len = range->prefix_len};
		net.addr.family = range->family;
		memcpy(net.addr.bytes, range->prefix, sizeof(net.addr.bytes));
		if (cidr_contains(&net, addr))
			return range;
	}
	return NULL;
}

/* The IPv4 address a NAT64 or 6to4 address leads to; false when there is none. */
static bool embedded_ipv4(const struct netaddr *addr, struct netaddr *out)
{
	const struct forbidden_range *range = find_range(addr);

	if (!range || range->embedded_at == NO_EMBEDDED)
		return false;
	memset(out, 0, sizeof(*out));
	out->family = AF_INET;
	memcpy(out->bytes, addr->bytes + range->embedded_at, 4);
	return true;
}

/* Why the address (alone, rules aside) must not be reached, or NULL. */
static const char *forbidden_reason(const struct netpolicy *policy, const struct netaddr *addr)
{
	const struct forbidden_range *range = find_range(addr);
	struct netaddr inner;

	for (size_t i = 0; i < policy->host_addr_count; i++)
		if (netaddr_equal(&policy->host_addrs[i], addr))
			return "the sandbox host's own address";
	if (!range || !range->reason)
		return NULL;
	if (range->embedded_at == NO_EMBEDDED)
		return range->reason;
	embedded_ipv4(addr, &inner);
	if (forbidden_reason(policy, &inner)) /* inner is IPv4: no further nesting */
		return range->embedded_at == 2 ? "6to4 address of a forbidden IPv4 address"
					       : "NAT64 address of a forbidden IPv4 address";
	return NULL;
}

/* The first IP/CIDR rule of the given polarity matching the address or its embedded IPv4. */
static const struct netrule *find_rule(const struct netpolicy *policy, bool is_deny,
				       const struct netaddr *addr, uint16_t port)
{
	struct netaddr inner;
	bool has_inner = embedded_ipv4(addr, &inner);

	for (size_t i = 0; i < policy->rule_count; i++) {
		const struct netrule *rule = &policy->rules[i];
		if (rule->is_deny != is_deny)
			continue;
		if (netrule_matches_addr(rule, addr, port) ||
		    (has_inner && netrule_matches_addr(rule, &inner, port)))
			return rule;
	}
	return NULL;
}

enum addrverdict addrpolicy_check_addr(const struct netpolicy *policy, const struct netaddr *addr,
				       uint16_t port, const char **reason,
				       const struct netrule **matched)
{
	const struct netrule *rule;
	const char *why;
	static const uint8_t mapped[12] = {[10] = 0xff, 0xff};
	struct netaddr canonical = *addr;

	if (canonical.family == AF_INET6 && memcmp(canonical.bytes, mapped, 12) == 0) {
		memmove(canonical.bytes, canonical.bytes + 12, 4); /* ::ffff:a.b.c.d is IPv4 */
		memset(canonical.bytes + 4, 0, 12);
		canonical.family = AF_INET;
	}
	if (matched)
		*matched = NULL;
	rule = find_rule(policy, true, &canonical, port);
	if (rule) {
		*reason = "denied by rule";
		if (matched)
			*matched = rule;
		return ADDRPOLICY_FORBIDDEN;
	}
	why = forbidden_reason(policy, &canonical);
	if (!why) {
		*reason = "public address";
		return ADDRPOLICY_ALLOWED;
	}
	rule = find_rule(policy, false, &canonical, port);
	if (!rule) {
		*reason = why;
		return ADDRPOLICY_FORBIDDEN;
	}
	*reason = "allowed by rule";
	if (matched)
		*matched = rule;
	return ADDRPOLICY_ALLOWED;
}

enum addrverdict addrpolicy_check_host_service(const struct netpolicy *policy, uint16_t port,
					       struct netaddr *addr, const char **reason)
{
	const char *text = HOSTMATCH_HOST_SERVICE_ADDR;

	/* Not the forbidden-range check: that 127.0.0.1 is loopback is the point. Never
	 * another loopback address, never a resolver's answer: the rule named this port. */
	(void)netaddr_parse(text, strlen(text), addr);
	if (find_rule(policy, true, addr, port)) {
		*reason = "denied by rule";
		return ADDRPOLICY_FORBIDDEN;
	}
	*reason = "the host's " HOSTMATCH_HOST_SERVICE_ADDR " (" HOSTMATCH_HOST_SERVICE ")";
	return ADDRPOLICY_ALLOWED;
}

enum addrverdict addrpolicy_check(const struct netpolicy *policy, const struct sockaddr *addr,
				  socklen_t len, const char **reason)
{
	struct netaddr parsed;
	uint16_t port = 0;

	if (netaddr_from_sockaddr(addr, len, &parsed, &port) < 0) {
		*reason = "not an IPv4 or IPv6 address";
		return ADDRPOLICY_FORBIDDEN;
	}
	return addrpolicy_check_addr(policy, &parsed, port, reason, NULL);
}
