/* Unit tests for src/net/addrpolicy.c: the CIDR parser, every forbidden range at and around
 * its edges, IPv4 hidden in IPv6, the host's own addresses, and allow/deny rules over them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "net/addrpolicy.h"
#include "util/macros.h"

static int cidr(const char *text, struct cidr *out)
{
	struct sk_err err = {0};
	return cidr_parse(text, strlen(text), out, &err);
}

static void test_cidr_parse(void **state)
{
	static const struct {
		const char *in;
		const char *addr;
		unsigned prefix_len;
	} good[] = {
	    {"10.0.0.0/8", "10.0.0.0", 8},
	    {"0.0.0.0/0", "0.0.0.0", 0},
	    {"1.2.3.4/32", "1.2.3.4", 32},
	    {"100.64.0.0/10", "100.64.0.0", 10},
	    {"::/0", "::", 0},
	    {"2001:DB8::/32", "2001:db8::", 32},
	    {"::1/128", "::1", 128},
	    {"fe80::/10", "fe80::", 10},
	    {"::ffff:10.0.0.0/104", "10.0.0.0", 8},
	    {"::ffff:0:0/96", "0.0.0.0", 0},
	};
	static const char *const bad[] = {"",
					  "/",
					  "10.0.0.0",
					  "10.0.0.0/",
					  "/8",
					  "10.0.0.0/33",
					  "::/129",
					  "10.0.0.0/08",
					  "10.0.0.0/-1",
					  "10.0.0.0/+8",
					  "10.0.0.0/8 ",
					  " 10.0.0.0/8",
					  "10.0.0.0/8/8",
					  "10.0.0.1/8",
					  "10.0.0.0/0x8",
					  "10/8",
					  "10.0/8",
					  "012.0.0.0/8",
					  "0x0a.0.0.0/8",
					  "10.0.0.0/1000",
					  "10.0.0.0/4294967304",
					  "fe80::1/10",
					  "fe80::%eth0/10",
					  "[::1]/128",
					  "::ffff:10.0.0.0/95",
					  "::ffff:10.0.0.1/104",
					  "example.com/8",
					  "*/0",
					  "10.0.0.0\\8",
					  "255.255.255.255/31",
					  "1.2.3.4/32\n"};
	struct cidr c;
	char text[NETADDR_TEXT_MAX];
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		if (cidr(good[i].in, &c) != 0)
			fail_msg("refused \"%s\"", good[i].in);
		netaddr_format(&c.addr, text, sizeof(text));
		assert_string_equal(text, good[i].addr);
		assert_int_equal(c.prefix_len, good[i].prefix_len);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (cidr(bad[i], &c) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
	assert_int_equal(cidr_parse("10.0.0.0/8\0", 11, &c, &(struct sk_err){0}), -1);
	assert_int_equal(cidr_parse("10.0.0.0\0/8", 11, &c, &(struct sk_err){0}), -1);
}

static void test_cidr_hint(void **state)
{
	struct cidr c;
	struct sk_err err = {0};
	(void)state;
	assert_int_equal(cidr_parse("192.168.1.77/24", 15, &c, &err), -1);
	assert_non_null(strstr(err.op, "host bits"));
	assert_non_null(strstr(err.op, "192.168.1.0/24"));
	assert_int_equal(cidr_parse("2001:db8::1/64", 14, &c, &err), -1);
	assert_non_null(strstr(err.op, "2001:db8::/64"));
}

/* A textual address (IPv4 or IPv6) and port as a real sockaddr; returns its length. */
static socklen_t to_sockaddr(const char *text, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(text, ':')) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
		return sizeof(*in6);
	}
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	in4->sin_family = AF_INET;
	in4->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, text, &in4->sin_addr), 1);
	return sizeof(*in4);
}

/* The verdict for a textual address and port, via a real sockaddr. */
static enum addrverdict check(const struct netpolicy *p, const char *text, uint16_t port,
			      const char **reason)
{
	struct sockaddr_storage ss;
	socklen_t len = to_sockaddr(text, port, &ss);

	return addrpolicy_check(p, (struct sockaddr *)&ss, len, reason);
}

struct verdict_case {
	const char *addr;
	uint16_t port;
	enum addrverdict verdict;
	const char *reason; /* NULL: any */
};

static void expect_verdicts(const struct netpolicy *p, const struct verdict_case *cases,
			    size_t count)
{
	static const char *const names[] = {"allowed", "forbidden"};

	for (size_t i = 0; i < count; i++) {
		const char *reason = NULL;
		enum addrverdict verdict = check(p, cases[i].addr, cases[i].port, &reason);
		if (verdict != cases[i].verdict ||
		    (cases[i].reason && (!reason || strcmp(reason, cases[i].reason) != 0)))
			fail_msg("%s port %u: %s (%s), expected %s (%s)", cases[i].addr,
				 (unsigned)cases[i].port, names[verdict], reason ? reason : "-",
				 names[cases[i].verdict],
				 cases[i].reason ? cases[i].reason : "any");
	}
}

static struct netpolicy *policy_new(void)
{
	struct netpolicy *p = test_malloc(sizeof(*p));
	netpolicy_init(p);
	return p;
}

static void test_forbidden_ranges(void **state)
{
	static const char *const forbidden[] = {"0.0.0.0",
						"0.255.255.255",
						"10.0.0.0",
						"10.255.255.255",
						"100.64.0.0",
						"100.127.255.255",
						"127.0.0.1",
						"127.255.255.254",
						"169.254.169.254",
						"169.254.0.1",
						"172.16.0.0",
						"172.31.255.255",
						"192.0.0.170",
						"192.0.2.1",
						"192.88.99.1",
						"192.168.0.1",
						"192.168.255.255",
						"198.18.0.1",
						"198.19.255.255",
						"198.51.100.7",
						"203.0.113.9",
						"224.0.0.1",
						"239.255.255.250",
						"240.0.0.1",
						"255.255.255.255",
						"::",
						"::1",
						"::127.0.0.1",
						"::8.8.8.8",
						"::ffff:127.0.0.1",
						"::ffff:169.254.169.254",
						"::ffff:10.1.2.3",
						"::ffff:0:8.8.8.8",
						"64:ff9b::127.0.0.1",
						"64:ff9b::a9fe:a9fe",
						"64:ff9b::10.0.0.1",
						"64:ff9b:1::8.8.8.8",
						"100::1",
						"2001::1",
						"2001:0:4136:e378::1",
						"2001:2::1",
						"2001:10::1",
						"2001:db8::1",
						"2002:7f00:1::1",
						"2002:a9fe:a9fe::",
						"2002:c0a8:101::1",
						"3fff::1",
						"5f00::1",
						"fc00::1",
						"fd12:3456::1",
						"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
						"fe80::1",
						"febf::1",
						"fec0::1",
						"ff02::1",
						"ff0e::1"};
	static const char *const allowed[] = {
	    "1.1.1.1",	       "8.8.8.8",	  "9.255.255.255",	  "11.0.0.0",
	    "100.63.255.255",  "100.128.0.0",	  "126.255.255.255",	  "128.0.0.0",
	    "169.253.255.255", "169.255.0.0",	  "172.15.255.255",	  "172.32.0.0",
	    "192.0.1.1",       "192.167.255.255", "192.169.0.0",	  "198.17.255.255",
	    "198.20.0.0",      "223.255.255.255", "::ffff:8.8.8.8",	  "64:ff9b::8.8.8.8",
	    "2002:808:808::1", "2606:4700::1111", "2001:4860:4860::8888", "2001:1::1",
	    "2001:20::1",      "2000::1",	  "168.63.129.15",	  "168.63.129.17"};
	struct netpolicy *p = policy_new();
	const char *reason;
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(forbidden); i++) {
		if (check(p, forbidden[i], 443, &reason) != ADDRPOLICY_FORBIDDEN)
			fail_msg("allowed %s", forbidden[i]);
		assert_non_null(reason);
	}
	for (size_t i = 0; i < ARRAY_SIZE(allowed); i++) {
		if (check(p, allowed[i], 443, &reason) != ADDRPOLICY_ALLOWED)
			fail_msg("forbade %s (%s)", allowed[i], reason);
		assert_string_equal(reason, "public address");
	}
	assert_int_equal(check(p, "feff:ffff::1", 443, &reason), ADDRPOLICY_FORBIDDEN);
	test_free(p);
}

#define FORBIDDEN(addr, port, reason)                                                              \
	{                                                                                          \
		addr, port, ADDRPOLICY_FORBIDDEN, reason                                           \
	}
#define ALLOWED(addr, port, reason)                                                                \
	{                                                                                          \
		addr, port, ADDRPOLICY_ALLOWED, reason                                             \
	}

static void test_reasons(void **state)
{
	static const struct verdict_case cases[] = {
	    FORBIDDEN("127.0.0.1", 80, "loopback"),
	    FORBIDDEN("::1", 80, "loopback"),
	    FORBIDDEN("169.254.169.254", 80, "cloud metadata (link-local)"),
	    FORBIDDEN("::ffff:169.254.169.254", 80, "cloud metadata (link-local)"),
	    FORBIDDEN("10.0.0.1", 80, "private (RFC 1918)"),
	    FORBIDDEN("100.100.100.200", 80, "cloud metadata (Alibaba Cloud)"),
	    FORBIDDEN("100.100.100.201", 80, "shared address space (CGNAT 100.64.0.0/10)"),
	    FORBIDDEN("255.255.255.255", 80, "broadcast"),
	    FORBIDDEN("fd00::1", 80, "unique-local (fc00::/7)"),
	    FORBIDDEN("fe80::1", 80, "link-local"),
	    FORBIDDEN("::5.6.7.8", 80, "IPv4-compatible (deprecated)"),
	    FORBIDDEN("64:ff9b::7f00:1", 80, "NAT64 address of a forbidden IPv4 address"),
	    FORBIDDEN("2002:7f00:1::", 80, "6to4 address of a forbidden IPv4 address"),
	    FORBIDDEN("2001::1", 80, "Teredo (2001::/32)"),
	    FORBIDDEN("ff02::1", 80, "multicast"),
	};
	struct netpolicy *p = policy_new();
	(void)state;
	expect_verdicts(p, cases, ARRAY_SIZE(cases));
	test_free(p);
}

/* Every entry of the table at both of its edges, with its reason, and what lies just outside
 * the ranges with no neighbour in the table: what --network public leaves out, range by
 * range. The IANA special-purpose registries (IPv4 and IPv6) are the list; entries the
 * registry marks globally reachable inside a refused block (2001::/23) stay reachable. */
static void test_every_range_at_its_edges(void **state)
{
#define PUBLIC(addr) ALLOWED(addr, 443, "public address")
#define REFUSED(addr, reason) FORBIDDEN(addr, 443, reason)
	static const char *const rfc1918 = "private (RFC 1918)", *const doc = "documentation",
				 *const ietf6 = "IETF protocol assignments (2001::/23)",
				 *const reserved6 = "reserved IPv6 (outside 2000::/3)",
				 *const nat64 = "NAT64 address of a forbidden IPv4 address",
				 *const six_to_four = "6to4 address of a forbidden IPv4 address";
	static const char *const cgnat = "shared address space (CGNAT 100.64.0.0/10)";
	const struct verdict_case cases[] = {
	    REFUSED("255.255.255.255", "broadcast"),
	    REFUSED("0.0.0.0", "unspecified (0.0.0.0/8)"),
	    REFUSED("0.255.255.255", "unspecified (0.0.0.0/8)"),
	    PUBLIC("1.0.0.0"),
	    REFUSED("10.0.0.0", rfc1918),
	    REFUSED("10.255.255.255", rfc1918),
	    REFUSED("100.100.100.200", "cloud metadata (Alibaba Cloud)"),
	    REFUSED("100.64.0.0", cgnat),
	    REFUSED("100.127.255.255", cgnat),
	    REFUSED("127.0.0.0", "loopback"),
	    REFUSED("127.255.255.255", "loopback"),
	    REFUSED("168.63.129.16", "cloud platform endpoint (Azure WireServer)"),
	    REFUSED("169.254.169.254", "cloud metadata (link-local)"),
	    REFUSED("169.254.170.2", "cloud metadata (AWS ECS, link-local)"),
	    REFUSED("169.254.170.23", "cloud metadata (AWS EKS, link-local)"),
	    REFUSED("169.254.0.0", "link-local"),
	    REFUSED("169.254.170.3", "link-local"),
	    REFUSED("169.254.255.255", "link-local"),
	    REFUSED("172.16.0.0", rfc1918),
	    REFUSED("172.31.255.255", rfc1918),
	    REFUSED("192.0.0.192", "cloud metadata (Oracle Cloud)"),
	    REFUSED("192.0.0.0", "IETF protocol assignments (192.0.0.0/24)"),
	    REFUSED("192.0.0.255", "IETF protocol assignments (192.0.0.0/24)"),
	    REFUSED("192.0.2.0", doc),
	    REFUSED("192.0.2.255", doc),
	    REFUSED("192.88.99.0", "6to4 relay anycast"),
	    REFUSED("192.88.99.255", "6to4 relay anycast"),
	    PUBLIC("192.88.98.255"),
	    PUBLIC("192.88.100.0"),
	    REFUSED("192.168.0.0", rfc1918),
	    REFUSED("192.168.255.255", rfc1918),
	    REFUSED("198.18.0.0", "benchmarking (198.18.0.0/15)"),
	    REFUSED("198.19.255.255", "benchmarking (198.18.0.0/15)"),
	    REFUSED("198.51.100.0", doc),
	    REFUSED("198.51.100.255", doc),
	    PUBLIC("198.51.99.255"),
	    PUBLIC("198.51.101.0"),
	    REFUSED("203.0.113.0", doc),
	    REFUSED("203.0.113.255", doc),
	    PUBLIC("203.0.112.255"),
	    PUBLIC("203.0.114.0"),
	    REFUSED("224.0.0.0", "multicast"),
	    REFUSED("239.255.255.255", "multicast"),
	    REFUSED("240.0.0.0", "reserved (240.0.0.0/4)"),
	    REFUSED("255.255.255.254", "reserved (240.0.0.0/4)"),
	    /* The registry's globally reachable blocks: reachable. */
	    PUBLIC("192.31.196.1"),
	    PUBLIC("192.52.193.1"),
	    PUBLIC("192.175.48.1"),
	    REFUSED("::", "unspecified (::)"),
	    REFUSED("::1", "loopback"),
	    REFUSED("::2", "IPv4-compatible (deprecated)"),
	    REFUSED("::255.255.255.255", "IPv4-compatible (deprecated)"),
	    REFUSED("::ffff:0:0.0.0.0", "IPv4-translated (::ffff:0:0:0/96)"),
	    REFUSED("::ffff:0:255.255.255.255", "IPv4-translated (::ffff:0:0:0/96)"),
	    REFUSED("64:ff9b::0.0.0.0", nat64),
	    REFUSED("64:ff9b::255.255.255.255", nat64),
	    REFUSED("64:ff9b::168.63.129.16", nat64),
	    PUBLIC("64:ff9b::1.1.1.1"),
	    REFUSED("64:ff9b:1::", "local-use NAT64"),
	    REFUSED("64:ff9b:1:ffff:ffff:ffff:ffff:ffff", "local-use NAT64"),
	    REFUSED("64:ff9b:2::", reserved6),
	    REFUSED("100::", "discard-only (100::/64)"),
	    REFUSED("100::ffff:ffff:ffff:ffff", "discard-only (100::/64)"),
	    REFUSED("100:0:0:1::", reserved6),
	    REFUSED("2001::", "Teredo (2001::/32)"),
	    REFUSED("2001:0:ffff:ffff:ffff:ffff:ffff:ffff", "Teredo (2001::/32)"),
	    REFUSED("2001:1::", ietf6),
	    PUBLIC("2001:1::1"),
	    PUBLIC("2001:1::2"),
	    PUBLIC("2001:1::3"),
	    REFUSED("2001:1::4", ietf6),
	    REFUSED("2001:2::", "benchmarking (2001:2::/48)"),
	    REFUSED("2001:2:0:ffff:ffff:ffff:ffff:ffff", "benchmarking (2001:2::/48)"),
	    REFUSED("2001:2:1::", ietf6),
	    PUBLIC("2001:3::"),
	    PUBLIC("2001:3:ffff:ffff:ffff:ffff:ffff:ffff"),
	    REFUSED("2001:4:111:ffff:ffff:ffff:ffff:ffff", ietf6),
	    PUBLIC("2001:4:112::"),
	    PUBLIC("2001:4:112:ffff:ffff:ffff:ffff:ffff"),
	    REFUSED("2001:4:113::", ietf6),
	    REFUSED("2001:10::", "ORCHID (deprecated)"),
	    REFUSED("2001:1f:ffff:ffff:ffff:ffff:ffff:ffff", "ORCHID (deprecated)"),
	    PUBLIC("2001:20::"),
	    PUBLIC("2001:2f:ffff:ffff:ffff:ffff:ffff:ffff"),
	    PUBLIC("2001:30::"),
	    PUBLIC("2001:3f:ffff:ffff:ffff:ffff:ffff:ffff"),
	    REFUSED("2001:40::", ietf6),
	    REFUSED("2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", ietf6),
	    PUBLIC("2001:200::"),
	    REFUSED("2001:db8::", doc),
	    REFUSED("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", doc),
	    REFUSED("2002::", six_to_four),
	    REFUSED("2002:ffff:ffff::", six_to_four),
	    REFUSED("2002:a83f:8110::", six_to_four),
	    PUBLIC("2002:101:101::"),
	    REFUSED("3fff::", doc),
	    REFUSED("3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", doc),
	    PUBLIC("3fff:1000::"),
	    REFUSED("5f00::", "SRv6 SIDs (5f00::/16)"),
	    REFUSED("5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "SRv6 SIDs (5f00::/16)"),
	    REFUSED("fd00:ec2::254", "cloud metadata (AWS)"),
	    REFUSED("fd00:ec2::23", "cloud metadata (AWS EKS)"),
	    REFUSED("fc00::", "unique-local (fc00::/7)"),
	    REFUSED("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "unique-local (fc00::/7)"),
	    REFUSED("fe80::a9fe:a9fe", "cloud metadata"),
	    REFUSED("fe80::", "link-local"),
	    REFUSED("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "link-local"),
	    REFUSED("fec0::", "site-local (deprecated)"),
	    REFUSED("feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "site-local (deprecated)"),
	    REFUSED("ff00::", "multicast"),
	    REFUSED("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "multicast"),
	    /* Outside 2000::/3, the only global unicast space: */
	    REFUSED("1::", reserved6),
	    REFUSED("1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", reserved6),
	    PUBLIC("2000::"),
	    PUBLIC("3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
	    REFUSED("4000::", reserved6),
	    REFUSED("5eff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", reserved6),
	    REFUSED("5f01::", reserved6),
	    REFUSED("7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", reserved6),
	    REFUSED("8000::", reserved6),
	    REFUSED("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", reserved6),
	    REFUSED("fe00::", reserved6),
	    REFUSED("fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", reserved6),
	};
#undef PUBLIC
#undef REFUSED
	struct netpolicy *p = policy_new();
	(void)state;
	expect_verdicts(p, cases, ARRAY_SIZE(cases));
	test_free(p);
}

static void add_host(struct netpolicy *p, const char *text)
{
	struct sk_err err = {0};
	struct sockaddr_storage ss;
	socklen_t len = to_sockaddr(text, 0, &ss);

	assert_int_equal(addrpolicy_add_host_address(p, (struct sockaddr *)&ss, len, &err), 0);
}

static void test_host_addresses(void **state)
{
	static const struct verdict_case cases[] = {
	    FORBIDDEN("203.0.114.7", 443, "the sandbox host's own address"),
	    FORBIDDEN("::ffff:203.0.114.7", 443, NULL),
	    FORBIDDEN("203.0.114.8", 443, NULL),
	    FORBIDDEN("2a01:4f8::7", 443, NULL),
	    FORBIDDEN("2002:cb00:7207::1", 443, NULL),
	    FORBIDDEN("64:ff9b::cb00:7207", 443, NULL),
	    ALLOWED("203.0.114.9", 443, NULL),
	    ALLOWED("2a01:4f8::8", 443, NULL),
	};
	struct netpolicy *p = policy_new();
	struct sk_err err = {0};
	struct sockaddr_in in4 = {.sin_family = AF_INET};
	(void)state;
	add_host(p, "203.0.114.7");
	add_host(p, "203.0.114.7");
	add_host(p, "::ffff:203.0.114.8");
	add_host(p, "2a01:4f8::7");
	assert_int_equal(p->host_addr_count, 3);
	expect_verdicts(p, cases, ARRAY_SIZE(cases));
	/* Not an IP socket address; the list is bounded. */
	in4.sin_family = AF_UNIX;
	assert_int_equal(addrpolicy_add_host_address(p, (struct sockaddr *)&in4, sizeof(in4), &err),
			 -1);
	in4.sin_family = AF_INET;
	for (uint32_t i = 0; p->host_addr_count < NETPOLICY_MAX_HOST_ADDRS; i++) {
		in4.sin_addr.s_addr = htonl(0x0b000000 + i);
		assert_int_equal(
		    addrpolicy_add_host_address(p, (struct sockaddr *)&in4, sizeof(in4), &err), 0);
	}
	in4.sin_addr.s_addr = htonl(0x0c000000);
	assert_int_equal(addrpolicy_add_host_address(p, (struct sockaddr *)&in4, sizeof(in4), &err),
			 -1);
	test_free(p);
}

static void add(struct netpolicy *p, const char *text, bool is_deny)
{
	struct sk_err err = {0};
	assert_int_equal(netpolicy_add(p, text, strlen(text), is_deny, &err), 0);
}

static void test_allow_rules_lift_ranges(void **state)
{
	static const struct verdict_case cases[] = {
	    ALLOWED("127.0.0.1", 8080, "allowed by rule"),
	    ALLOWED("::ffff:127.0.0.1", 8080, NULL),
	    FORBIDDEN("127.0.0.1", 8081, "loopback"),
	    FORBIDDEN("127.0.0.2", 8080, NULL),
	    ALLOWED("10.20.1.1", 443, NULL),
	    ALLOWED("10.20.1.1", 80, NULL),
	    FORBIDDEN("10.20.1.1", 22, NULL),
	    FORBIDDEN("10.21.1.1", 443, NULL),
	    ALLOWED("64:ff9b::a14:101", 443, NULL),
	    ALLOWED("fd00::5", 443, NULL),
	    FORBIDDEN("fd00::5", 80, NULL),
	    FORBIDDEN("fe80::5", 443, NULL),
	    FORBIDDEN("169.254.169.254", 80, NULL),
	};
	struct netpolicy *p = policy_new();
	const struct netrule *m;
	struct netaddr a;
	const char *reason;
	(void)state;
	add(p, "127.0.0.1:8080", false);
	add(p, "10.20.0.0/16", false);
	add(p, "[fd00::/8]:443", false);
	add(p, "internal.example.com", false); /* a name rule lifts nothing */
	expect_verdicts(p, cases, ARRAY_SIZE(cases));
	assert_int_equal(netaddr_parse("10.20.3.4", 9, &a), 0);
	assert_int_equal(addrpolicy_check_addr(p, &a, 443, &reason, &m), ADDRPOLICY_ALLOWED);
	assert_string_equal(m->text, "10.20.0.0/16");
	/* A netaddr given with the mapped form still gets the IPv4 treatment. */
	a.family = AF_INET6;
	memset(a.bytes, 0, 16);
	a.bytes[10] = a.bytes[11] = 0xff;
	a.bytes[12] = 127, a.bytes[15] = 1;
	assert_int_equal(addrpolicy_check_addr(p, &a, 8080, &reason, &m), ADDRPOLICY_ALLOWED);
	assert_int_equal(addrpolicy_check_addr(p, &a, 80, &reason, NULL), ADDRPOLICY_FORBIDDEN);
	test_free(p);
}

static void test_deny_rules(void **state)
{
	static const struct verdict_case cases[] = {
	    FORBIDDEN("10.6.1.1", 443, "denied by rule"),
	    ALLOWED("10.7.1.1", 443, NULL),
	    FORBIDDEN("8.8.8.8", 1, NULL),
	    FORBIDDEN("::ffff:8.8.8.8", 443, NULL),
	    FORBIDDEN("64:ff9b::808:808", 443, "denied by rule"),
	    FORBIDDEN("2002:808:808::1", 443, NULL),
	    FORBIDDEN("2606:4700::1111", 443, NULL),
	    ALLOWED("2606:4701::1111", 443, NULL),
	    ALLOWED("8.8.4.4", 443, NULL),
	};
	struct netpolicy *p = policy_new();
	(void)state;
	add(p, "10.0.0.0/8", false);
	add(p, "10.6.0.0/16", true);
	add(p, "8.8.8.0/24", true);
	add(p, "[2606:4700::/32]", true);
	expect_verdicts(p, cases, ARRAY_SIZE(cases));
	test_free(p);
}

/* host.stockade.internal: always the host's 127.0.0.1 (never another loopback address), the
 * range check aside; only a deny rule over that address and port refuses it. */
static void test_host_service(void **state)
{
	struct netpolicy *p = policy_new();
	struct netaddr a;
	const char *reason = NULL;
	char text[NETADDR_TEXT_MAX];
	(void)state;
	assert_int_equal(addrpolicy_check_host_service(p, 11434, &a, &reason), ADDRPOLICY_ALLOWED);
	netaddr_format(&a, text, sizeof(text));
	assert_string_equal(text, "127.0.0.1");
	assert_string_equal(reason, "the host's 127.0.0.1 (host.stockade.internal)");
	/* The same address by the ordinary check: loopback, refused. */
	assert_int_equal(addrpolicy_check_addr(p, &a, 11434, &reason, NULL), ADDRPOLICY_FORBIDDEN);
	assert_string_equal(reason, "loopback");
	add(p, "127.0.0.0/8:22", true);
	add(p, "127.0.0.1:5432", true);
	assert_int_equal(addrpolicy_check_host_service(p, 22, &a, &reason), ADDRPOLICY_FORBIDDEN);
	assert_string_equal(reason, "denied by rule");
	assert_int_equal(addrpolicy_check_host_service(p, 5432, &a, &reason), ADDRPOLICY_FORBIDDEN);
	assert_int_equal(addrpolicy_check_host_service(p, 11434, &a, &reason), ADDRPOLICY_ALLOWED);
	add(p, "127.0.0.2", true); /* another loopback address is not the one connected to */
	assert_int_equal(addrpolicy_check_host_service(p, 11434, &a, &reason), ADDRPOLICY_ALLOWED);
	add(p, "127.0.0.1", true); /* no port: every port */
	assert_int_equal(addrpolicy_check_host_service(p, 11434, &a, &reason),
			 ADDRPOLICY_FORBIDDEN);
	test_free(p);
}

static void test_bad_sockaddr(void **state)
{
	struct netpolicy *p = policy_new();
	struct sockaddr_in in4 = {.sin_family = AF_INET};
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
	const char *reason;
	(void)state;
	in4.sin_addr.s_addr = htonl(0x08080808);
	assert_int_equal(addrpolicy_check(p, (struct sockaddr *)&in4, sizeof(in4), &reason),
			 ADDRPOLICY_ALLOWED);
	assert_int_equal(addrpolicy_check(p, (struct sockaddr *)&in4, 4, &reason),
			 ADDRPOLICY_FORBIDDEN);
	assert_int_equal(addrpolicy_check(p, (struct sockaddr *)&in6, sizeof(in4), &reason),
			 ADDRPOLICY_FORBIDDEN);
	assert_int_equal(addrpolicy_check(p, NULL, 0, &reason), ADDRPOLICY_FORBIDDEN);
	assert_string_equal(reason, "not an IPv4 or IPv6 address");
	in4.sin_family = AF_UNIX;
	assert_int_equal(addrpolicy_check(p, (struct sockaddr *)&in4, sizeof(in4), &reason),
			 ADDRPOLICY_FORBIDDEN);
	test_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cidr_parse),
	    cmocka_unit_test(test_cidr_hint),
	    cmocka_unit_test(test_forbidden_ranges),
	    cmocka_unit_test(test_reasons),
	    cmocka_unit_test(test_every_range_at_its_edges),
	    cmocka_unit_test(test_host_service),
	    cmocka_unit_test(test_host_addresses),
	    cmocka_unit_test(test_allow_rules_lift_ranges),
	    cmocka_unit_test(test_deny_rules),
	    cmocka_unit_test(test_bad_sockaddr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
