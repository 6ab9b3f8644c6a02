/* Unit tests for src/net/hostmatch.c: canonical names, strict IP literals (and the odd
 * spellings libc would accept), the --allow-net/--deny-net grammar and the matcher. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "net/hostmatch.h"

static int canon(const char *in, char *out)
{
	struct sk_err err = {0};
	return hostmatch_canonicalize(in, strlen(in), out, HOSTMATCH_NAME_MAX + 1, &err);
}

static void test_canonicalize_accepts(void **state)
{
	static const char *const cases[][2] = {
	    {"example.com", "example.com"},
	    {"EXAMPLE.COM", "example.com"},
	    {"Example.Com.", "example.com"},
	    {"a", "a"},
	    {"localhost", "localhost"},
	    {"xn--bcher-kva.example", "xn--bcher-kva.example"},
	    {"a-b.c-d.e", "a-b.c-d.e"},
	    {"my_bucket.s3.amazonaws.com", "my_bucket.s3.amazonaws.com"},
	    {"0x7f.example.com", "0x7f.example.com"},
	    {"1.2.3.example", "1.2.3.example"},
	    {"123abc", "123abc"},
	    {"0xg1", "0xg1"},
	    {"9gag.com", "9gag.com"},
	};
	char out[HOSTMATCH_NAME_MAX + 1];
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(canon(cases[i][0], out), 0);
		assert_string_equal(out, cases[i][1]);
	}
}

static void test_canonicalize_refuses(void **state)
{
	static const char *const bad[] = {"",
					  ".",
					  "..",
					  "example.com..",
					  ".example.com",
					  "a..b",
					  "exa mple.com",
					  "example.com ",
					  " example.com",
					  "exa\tmple.com",
					  "exa\rmple.com",
					  "exa\nmple.com",
					  "exam\x7fple.com",
					  ("ex\x01"
					   "ample.com"),
					  "bücher.de",
					  "\xc3\xa9xample.com",
					  "\xd0\xb0pple.com",
					  "-a.com",
					  "a-.com",
					  "a.-b.com",
					  "a.b-.com",
					  "example.com/",
					  "ex*ample.com",
					  "*.example.com",
					  "user@example.com",
					  "example.com:80",
					  "[::1]",
					  "exa%41mple.com",
					  "a\\b.com",
					  "127.1",
					  "127.0.1",
					  "0x7f.1",
					  "0x7f000001",
					  "017700000001",
					  "2130706433",
					  "127.0.0.1",
					  "1.2.3.4",
					  "0",
					  "0x",
					  "1.0xff",
					  "example.123",
					  "example.0x1f",
					  "256.256.256.256",
					  "localhost.0",
					  "example.com.."};
	char out[HOSTMATCH_NAME_MAX + 1];
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = canon(bad[i], out);
		if (rc != -1)
			fail_msg("accepted \"%s\"", bad[i]);
	}
}

static void test_canonicalize_nul_and_bounds(void **state)
{
	char out[HOSTMATCH_NAME_MAX + 1], in[300];
	struct sk_err err = {0};
	(void)state;
	assert_int_equal(
	    hostmatch_canonicalize("evil.com\0.example.com", 21, out, sizeof(out), &err), -1);
	assert_string_equal(err.layer, "netpolicy");
	assert_non_null(strstr(err.op, "evil.com?.example.com"));
	assert_int_equal(hostmatch_canonicalize("a\0", 2, out, sizeof(out), &err), -1);
	/* A 63-character label is fine, 64 is not. */
	memset(in, 'a', 64);
	assert_int_equal(hostmatch_canonicalize(in, 63, out, sizeof(out), &err), 0);
	assert_int_equal(hostmatch_canonicalize(in, 64, out, sizeof(out), &err), -1);
	/* 253 characters (4 x 63 + dots, trimmed) is fine, 254 not; a trailing dot is free. */
	for (int i = 0; i < 300; i++)
		in[i] = (i % 64 == 63) ? '.' : 'a';
	assert_int_equal(hostmatch_canonicalize(in, 253, out, sizeof(out), &err), 0);
	assert_int_equal(strlen(out), 253);
	in[253] = '.';
	assert_int_equal(hostmatch_canonicalize(in, 254, out, sizeof(out), &err), 0);
	in[253] = 'a';
	assert_int_equal(hostmatch_canonicalize(in, 254, out, sizeof(out), &err), -1);
	assert_int_equal(hostmatch_canonicalize(in, 300, out, sizeof(out), &err), -1);
	/* Too small an output is an error, never a truncation. */
	assert_int_equal(hostmatch_canonicalize("example.com", 11, out, 11, &err), -1);
	assert_int_equal(hostmatch_canonicalize("example.com", 11, out, 12, &err), 0);
	/* Error text is bounded and printable whatever the input. */
	memset(in, '\x1b', sizeof(in));
	assert_int_equal(hostmatch_canonicalize(in, sizeof(in), out, sizeof(out), &err), -1);
	assert_null(strchr(err.op, '\x1b'));
}

static int addr(const char *text, struct netaddr *out)
{
	return netaddr_parse(text, strlen(text), out);
}

static void test_netaddr_strict(void **state)
{
	static const char *const good[][2] = {
	    {"127.0.0.1", "127.0.0.1"},
	    {"0.0.0.0", "0.0.0.0"},
	    {"255.255.255.255", "255.255.255.255"},
	    {"::1", "::1"},
	    {"::", "::"},
	    {"2001:DB8::1", "2001:db8::1"},
	    {"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},
	    {"::ffff:127.0.0.1", "127.0.0.1"},
	    {"::FFFF:7f00:1", "127.0.0.1"},
	    {"0:0:0:0:0:ffff:a9fe:a9fe", "169.254.169.254"},
	    {"::127.0.0.1", "::127.0.0.1"},
	    {"64:ff9b::10.0.0.1", "64:ff9b::a00:1"},
	};
	static const char *const bad[] = {"",
					  "1",
					  "127.1",
					  "127.0.1",
					  "0x7f.0.0.1",
					  "0177.0.0.1",
					  "127.0.0.01",
					  "01.2.3.4",
					  "2130706433",
					  "017700000001",
					  "0x7f000001",
					  "127.0.0.1.",
					  ".127.0.0.1",
					  "127..0.1",
					  "256.0.0.1",
					  "1.2.3.4.5",
					  "1.2.3",
					  "-1.2.3.4",
					  "+1.2.3.4",
					  "1.2.3.4 ",
					  " 1.2.3.4",
					  "1.2.3.4/32",
					  "1.2.3.1000",
					  "1.2.3.0000",
					  "fe80::1%eth0",
					  "fe80::1%25eth0",
					  "[::1]",
					  "::1 ",
					  "1:2:3:4:5:6:7:8:9",
					  ":::",
					  "::ffff:127.0.0.01",
					  "::ffff:0x7f.0.0.1",
					  "12345::1",
					  "g::1",
					  "::1/128",
					  "1.2.3.4\n"};
	struct netaddr a;
	char text[NETADDR_TEXT_MAX];
	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (addr(good[i][0], &a) != 0)
			fail_msg("refused \"%s\"", good[i][0]);
		netaddr_format(&a, text, sizeof(text));
		assert_string_equal(text, good[i][1]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (addr(bad[i], &a) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
	assert_int_equal(netaddr_parse("1.2.3.4\0", 8, &a), -1);
	assert_int_equal(netaddr_parse("::1\0", 4, &a), -1);
	/* Longer than any IPv6 text. */
	assert_int_equal(addr("0000:0000:0000:0000:0000:0000:0000:0000:0000", &a), -1);
}

static void test_netaddr_sockaddr(void **state)
{
	struct sockaddr_in in4 = {.sin_family = AF_INET, .sin_port = htons(443)};
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(80)};
	struct netaddr a, b;
	uint16_t port = 0;
	(void)state;
	inet_pton(AF_INET, "10.1.2.3", &in4.sin_addr);
	assert_int_equal(netaddr_from_sockaddr((struct sockaddr *)&in4, sizeof(in4), &a, &port), 0);
	assert_int_equal(port, 443);
	inet_pton(AF_INET6, "::ffff:10.1.2.3", &in6.sin6_addr);
	assert_int_equal(netaddr_from_sockaddr((struct sockaddr *)&in6, sizeof(in6), &b, &port), 0);
	assert_int_equal(port, 80);
	assert_true(netaddr_equal(&a, &b));
	assert_int_equal(b.family, AF_INET);
	assert_int_equal(netaddr_from_sockaddr((struct sockaddr *)&in6, sizeof(in6) - 1, &b, NULL),
			 -1);
	assert_int_equal(netaddr_from_sockaddr((struct sockaddr *)&in4, sizeof(in4) - 1, &b, NULL),
			 -1);
	in4.sin_family = AF_UNIX;
	assert_int_equal(netaddr_from_sockaddr((struct sockaddr *)&in4, sizeof(in4), &b, NULL), -1);
	assert_int_equal(netaddr_from_sockaddr(NULL, 0, &b, NULL), -1);
}

static void test_parse_host(void **state)
{
	struct nethost h;
	struct sk_err err = {0};
	static const char *const bad[] = {"[127.0.0.1]",  "[fe80::1%eth0]",
					  "fe80::1%eth0", "[::1",
					  "::1]",	  "[]",
					  "[[::1]]",	  "127.1",
					  "0x7f.1",	  "example.com:443",
					  "exa%mple.com", "",
					  "[::1]:80",	  "1.2.3.4:80"};
	(void)state;
	assert_int_equal(hostmatch_parse_host("[::1]", 5, &h, &err), 0);
	assert_true(h.is_ip);
	assert_string_equal(h.text, "::1");
	assert_int_equal(hostmatch_parse_host("::1", 3, &h, &err), 0);
	assert_true(h.is_ip);
	assert_int_equal(hostmatch_parse_host("[::ffff:169.254.169.254]", 24, &h, &err), 0);
	assert_int_equal(h.ip.family, AF_INET);
	assert_string_equal(h.text, "169.254.169.254");
	assert_int_equal(hostmatch_parse_host("10.0.0.1", 8, &h, &err), 0);
	assert_true(h.is_ip);
	assert_int_equal(hostmatch_parse_host("WWW.Example.COM.", 16, &h, &err), 0);
	assert_false(h.is_ip);
	assert_string_equal(h.text, "www.example.com");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (hostmatch_parse_host(bad[i], strlen(bad[i]), &h, &err) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
}

static int rule(const char *text, bool is_deny, struct netrule *r)
{
	struct sk_err err = {0};
	return netrule_parse(text, strlen(text), is_deny, r, &err);
}

static int rule_err(const char *text, bool is_deny, struct sk_err *err)
{
	struct netrule r;

	memset(err, 0, sizeof(*err));
	return netrule_parse(text, strlen(text), is_deny, &r, err);
}

static void test_rule_grammar(void **state)
{
	static const struct {
		const char *in;
		enum netrule_kind kind;
		const char *text;
		uint16_t port;
	} good[] = {
	    {"example.com", NETRULE_NAME, "example.com", 0},
	    {"Example.COM.:8443", NETRULE_NAME, "example.com:8443", 8443},
	    {"*.example.com", NETRULE_WILDCARD, "*.example.com", 0},
	    {"*.EXAMPLE.com:443", NETRULE_WILDCARD, "*.example.com:443", 443},
	    {"*.foo.co.uk", NETRULE_WILDCARD, "*.foo.co.uk", 0},
	    {"*.user.github.io", NETRULE_WILDCARD, "*.user.github.io", 0},
	    {"10.0.0.5", NETRULE_IP, "10.0.0.5", 0},
	    {"10.0.0.5:5432", NETRULE_IP, "10.0.0.5:5432", 5432},
	    {"[::1]", NETRULE_IP, "[::1]", 0},
	    {"[2001:DB8::1]:65535", NETRULE_IP, "[2001:db8::1]:65535", 65535},
	    {"2001:db8::1", NETRULE_IP, "[2001:db8::1]", 0},
	    {"[::ffff:10.0.0.1]:1", NETRULE_IP, "10.0.0.1:1", 1},
	    {"10.0.0.0/8", NETRULE_CIDR, "10.0.0.0/8", 0},
	    {"192.168.1.0/24:22", NETRULE_CIDR, "192.168.1.0/24:22", 22},
	    {"[2001:db8::/32]:443", NETRULE_CIDR, "[2001:db8::/32]:443", 443},
	    {"fd00::/8", NETRULE_CIDR, "[fd00::/8]", 0},
	    {"1.2.3.4/32", NETRULE_CIDR, "1.2.3.4/32", 0},
	    {":443", NETRULE_PORT, ":443", 443},
	    {":8443", NETRULE_PORT, ":8443", 8443},
	    {"host.stockade.internal:11434", NETRULE_NAME, "host.stockade.internal:11434", 11434},
	    {"HOST.Stockade.INTERNAL.:5432", NETRULE_NAME, "host.stockade.internal:5432", 5432},
	};
	static const char *const bad[] = {"",
					  "*",
					  "*:443",
					  "*.com",
					  "*.COM.",
					  "*.io",
					  "*.co.uk",
					  "*.com.au",
					  "*.github.io",
					  "*.herokuapp.com",
					  "*.s3.amazonaws.com",
					  "**.example.com",
					  "*.*.example.com",
					  "a.*.example.com",
					  "*example.com",
					  "*.",
					  "*..com",
					  "example.*",
					  "example.com:",
					  "example.com:0",
					  "example.com:65536",
					  "example.com:080",
					  "example.com:+80",
					  "example.com:-1",
					  "example.com:443:443",
					  "example.com: 443",
					  " example.com",
					  "example.com ",
					  "exa\tmple.com",
					  "[::1]:",
					  "[::1",
					  "[::1]x",
					  "[::1]443",
					  "[127.0.0.1]",
					  "[example.com]",
					  "[*.example.com]",
					  "[10.0.0.0/8]",
					  "::1:443x",
					  "fe80::1%eth0",
					  "[fe80::1%25eth0]:443",
					  "127.1",
					  "0x7f.1",
					  "2130706433",
					  "0.0.0.0/0",
					  "::/0",
					  "0.0.0.0/7",
					  "128.0.0.0/1",
					  "::/1",
					  "10.0.0.1/8",
					  "10.0.0.0/33",
					  "10.0.0.0/08",
					  "10.0.0.0/",
					  "/8",
					  "10.0.0.0/8/8",
					  "[::1/129]",
					  "::ffff:0:0/96",
					  "2001:db8::/32:443",
					  "*.example.com/8",
					  "http://example.com",
					  "example.com/path",
					  "user@example.com",
					  "ex\xc3\xa4mple.com",
					  "exa_mple.com:99999",
					  ":",
					  ":0",
					  ":080",
					  ":65536",
					  "[]:443",
					  "host.stockade.internal",
					  "Host.Stockade.Internal.",
					  "*.stockade.internal",
					  "*.stockade.internal:11434",
					  "*.internal:11434"};
	struct netrule r;
	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (rule(good[i].in, false, &r) != 0)
			fail_msg("refused \"%s\"", good[i].in);
		assert_int_equal(r.kind, good[i].kind);
		assert_string_equal(r.text, good[i].text);
		assert_int_equal(r.port, good[i].port);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (rule(bad[i], false, &r) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
	assert_int_equal(netrule_parse("example.com\0:443", 16, false, &r, &(struct sk_err){0}),
			 -1);
}

static void test_rule_messages(void **state)
{
	struct netrule r;
	struct sk_err err = {0};
	(void)state;
	assert_int_equal(netrule_parse("*", 1, false, &r, &err), -1);
	assert_non_null(strstr(err.op, "--allow-net *"));
	assert_non_null(strstr(err.op, "bare '*'"));
	assert_int_equal(netrule_parse("*.com", 5, false, &r, &err), -1);
	assert_non_null(strstr(err.op, "public suffix"));
	assert_int_equal(netrule_parse("10.0.0.1/8", 10, false, &r, &err), -1);
	assert_non_null(strstr(err.op, "10.0.0.0/8"));
	assert_int_equal(netrule_parse("x:0", 3, true, &r, &err), -1);
	assert_non_null(strstr(err.op, "--deny-net"));
	assert_non_null(strstr(err.op, "1 to 65535"));
	/* The host's services: which port to name, and that no wildcard reaches them. */
	assert_int_equal(rule_err("host.stockade.internal", false, &err), -1);
	assert_non_null(strstr(err.op, "--allow-net host.stockade.internal: "));
	assert_non_null(strstr(err.op, "one port at a time"));
	assert_non_null(strstr(err.op, "host.stockade.internal:11434"));
	assert_int_equal(rule_err("*.stockade.internal:11434", false, &err), -1);
	assert_non_null(strstr(err.op, "no wildcard reaches the host's services"));
	assert_int_equal(rule_err("*", false, &err), -1);
	assert_non_null(strstr(err.op, "--network public"));
}

static void test_deny_rules_may_be_broad(void **state)
{
	struct netrule r;
	(void)state;
	assert_int_equal(rule("*.com", true, &r), 0);
	assert_int_equal(rule("*.github.io", true, &r), 0);
	assert_int_equal(rule("0.0.0.0/0", true, &r), 0);
	assert_int_equal(rule("::/0", true, &r), 0);
	assert_int_equal(rule("*", true, &r), -1);
	assert_int_equal(rule("10.0.0.1/8", true, &r), -1);
	/* Denying the host's services takes no port (every port), and may be a wildcard. */
	assert_int_equal(rule("host.stockade.internal", true, &r), 0);
	assert_int_equal(rule("*.stockade.internal", true, &r), 0);
	assert_int_equal(rule("*.internal", true, &r), 0);
	assert_int_equal(rule(":25", true, &r), 0);
	assert_int_equal(r.kind, NETRULE_PORT);
}

static struct nethost name_host(const char *name)
{
	struct nethost h;
	struct sk_err err = {0};
	assert_int_equal(hostmatch_parse_host(name, strlen(name), &h, &err), 0);
	return h;
}

static void test_rule_matching(void **state)
{
	struct netrule r;
	struct nethost h;
	(void)state;
	assert_int_equal(rule("*.example.com", false, &r), 0);
	h = name_host("a.example.com");
	assert_true(netrule_matches_host(&r, &h, 443));
	assert_true(netrule_matches_host(&r, &h, 80));
	assert_false(netrule_matches_host(&r, &h, 8080));
	h = name_host("a.b.example.com");
	assert_true(netrule_matches_host(&r, &h, 443));
	h = name_host("example.com");
	assert_false(netrule_matches_host(&r, &h, 443));
	h = name_host("badexample.com");
	assert_false(netrule_matches_host(&r, &h, 443));
	h = name_host("a.badexample.com");
	assert_false(netrule_matches_host(&r, &h, 443));
	h = name_host("example.com.evil.net");
	assert_false(netrule_matches_host(&r, &h, 443));
	h = name_host("a.example.co");
	assert_false(netrule_matches_host(&r, &h, 443));

	assert_int_equal(rule("example.com:8443", false, &r), 0);
	h = name_host("EXAMPLE.com.");
	assert_true(netrule_matches_host(&r, &h, 8443));
	assert_false(netrule_matches_host(&r, &h, 443));
	h = name_host("www.example.com");
	assert_false(netrule_matches_host(&r, &h, 8443));

	/* Never a suffix match on an address. */
	assert_int_equal(rule("*.example.com", false, &r), 0);
	h = name_host("10.0.0.1");
	assert_false(netrule_matches_host(&r, &h, 443));
	assert_int_equal(rule("10.0.0.0/8", false, &r), 0);
	assert_true(netrule_matches_host(&r, &h, 443));
	assert_false(netrule_matches_host(&r, &h, 22));
	h = name_host("[::ffff:10.9.9.9]");
	assert_true(netrule_matches_host(&r, &h, 80));
	h = name_host("11.0.0.1");
	assert_false(netrule_matches_host(&r, &h, 443));
	h = name_host("10.example.com");
	assert_false(netrule_matches_host(&r, &h, 443));

	/* A deny rule without a port denies every port. */
	assert_int_equal(rule("example.com", true, &r), 0);
	assert_true(netrule_port_matches(&r, 1));
	assert_true(netrule_port_matches(&r, 65535));
	assert_int_equal(rule("example.com", false, &r), 0);
	assert_false(netrule_port_matches(&r, 1));
	assert_false(netrule_port_matches(&r, 0));
}

static void test_cidr_contains_boundaries(void **state)
{
	struct netrule r;
	struct netaddr a;
	(void)state;
	assert_int_equal(rule("100.64.0.0/10", false, &r), 0);
	assert_int_equal(addr("100.64.0.0", &a), 0);
	assert_true(cidr_contains(&r.net, &a));
	assert_int_equal(addr("100.127.255.255", &a), 0);
	assert_true(cidr_contains(&r.net, &a));
	assert_int_equal(addr("100.128.0.0", &a), 0);
	assert_false(cidr_contains(&r.net, &a));
	assert_int_equal(addr("100.63.255.255", &a), 0);
	assert_false(cidr_contains(&r.net, &a));
	assert_int_equal(addr("::ffff:100.64.0.1", &a), 0);
	assert_true(cidr_contains(&r.net, &a));
	assert_int_equal(addr("::100.64.0.1", &a), 0); /* IPv4-compatible is another address */
	assert_false(cidr_contains(&r.net, &a));
	assert_int_equal(rule("[fe80::/10]", false, &r), 0);
	assert_int_equal(addr("febf:ffff::1", &a), 0);
	assert_true(cidr_contains(&r.net, &a));
	assert_int_equal(addr("fec0::1", &a), 0);
	assert_false(cidr_contains(&r.net, &a));
}

static void test_policy_deny_wins(void **state)
{
	struct netpolicy *p = test_malloc(sizeof(*p));
	struct sk_err err = {0};
	const struct netrule *m;
	struct netaddr a;
	(void)state;
	netpolicy_init(p);
	assert_int_equal(netpolicy_add(p, "*.example.com", 13, false, &err), 0);
	assert_int_equal(netpolicy_add(p, "evil.example.com", 16, true, &err), 0);
	assert_int_equal(netpolicy_add(p, "api.other.org:8443", 18, false, &err), 0);
	assert_int_equal(netpolicy_add(p, "10.0.0.0/8", 10, false, &err), 0);
	assert_int_equal(netpolicy_add(p, "10.6.6.6", 8, true, &err), 0);
	assert_int_equal(netpolicy_add(p, "*", 1, false, &err), -1);
	assert_int_equal(p->rule_count, 5);

	assert_int_equal(netpolicy_check_name(p, "www.example.com", 443, &m), NETVERDICT_ALLOW);
	assert_string_equal(m->text, "*.example.com");
	assert_int_equal(netpolicy_check_name(p, "evil.example.com", 443, &m),
			 NETVERDICT_DENY_RULE);
	assert_string_equal(m->text, "evil.example.com");
	assert_int_equal(netpolicy_check_name(p, "evil.example.com", 9999, &m),
			 NETVERDICT_DENY_RULE);
	assert_int_equal(netpolicy_check_name(p, "www.example.com", 22, &m),
			 NETVERDICT_DENY_NO_RULE);
	assert_null(m);
	assert_int_equal(netpolicy_check_name(p, "example.com", 443, NULL),
			 NETVERDICT_DENY_NO_RULE);
	assert_int_equal(netpolicy_check_name(p, "api.other.org", 8443, NULL), NETVERDICT_ALLOW);
	assert_int_equal(netpolicy_check_name(p, "api.other.org", 443, NULL),
			 NETVERDICT_DENY_NO_RULE);
	/* Not canonical: refused, never matched by a looser comparison. */
	assert_int_equal(netpolicy_check_name(p, "WWW.example.com", 443, NULL),
			 NETVERDICT_DENY_NO_RULE);
	assert_int_equal(netpolicy_check_name(p, "www.example.com.", 443, NULL),
			 NETVERDICT_DENY_NO_RULE);
	assert_int_equal(netpolicy_check_name(p, "10.1.1.1", 443, NULL), NETVERDICT_DENY_NO_RULE);
	assert_int_equal(netpolicy_check_name(p, "", 443, NULL), NETVERDICT_DENY_NO_RULE);

	assert_int_equal(addr("10.1.1.1", &a), 0);
	assert_int_equal(netpolicy_check_ip(p, &a, 443, &m), NETVERDICT_ALLOW);
	assert_string_equal(m->text, "10.0.0.0/8");
	assert_int_equal(addr("::ffff:10.6.6.6", &a), 0);
	assert_int_equal(netpolicy_check_ip(p, &a, 443, &m), NETVERDICT_DENY_RULE);
	assert_int_equal(addr("11.1.1.1", &a), 0);
	assert_int_equal(netpolicy_check_ip(p, &a, 443, NULL), NETVERDICT_DENY_NO_RULE);

	struct nethost h = name_host("[::ffff:10.1.2.3]");
	assert_int_equal(netpolicy_check_host(p, &h, 80, NULL), NETVERDICT_ALLOW);
	h = name_host("Foo.Example.Com");
	assert_int_equal(netpolicy_check_host(p, &h, 80, NULL), NETVERDICT_ALLOW);
	assert_string_equal(netverdict_name(NETVERDICT_DENY_RULE), "deny-rule");
	test_free(p);
}

/* "/raw": the explicit opt-in for a protocol the proxy cannot check, on one name and one
 * port; meaningless (and refused) on an address, a deny rule, or without a port. */
static void test_raw_rules(void **state)
{
	static const struct {
		const char *in;
		enum netrule_kind kind;
		const char *text;
		uint16_t port;
	} good[] = {
	    {"db.example.com:5432/raw", NETRULE_NAME, "db.example.com:5432/raw", 5432},
	    {"DB.Example.COM.:22/raw", NETRULE_NAME, "db.example.com:22/raw", 22},
	    {"*.db.example.com:6379/raw", NETRULE_WILDCARD, "*.db.example.com:6379/raw", 6379},
	};
	static const struct {
		const char *in;
		const char *words;
	} bad[] = {
	    {"db.example.com/raw", "explicit port"},
	    {"*.example.com/raw", "explicit port"},
	    {"10.0.0.5:5432/raw", "host names"},
	    {"10.0.0.0/8:22/raw", "host names"},
	    {"10.0.0.0/8/raw", "host names"},
	    {"[2001:db8::1]:22/raw", "host names"},
	    {"2001:db8::1/raw", "host names"},
	    {"[fd00::/8]:22/raw", "host names"},
	    {"db.example.com:5432/RAW", "only one is /raw"},
	    {"db.example.com:5432/tls", "only one is /raw"},
	    {"db.example.com:5432/raw/raw", "only one is /raw"},
	    {"db.example.com:5432/", "only one is /raw"},
	    {"db.example.com:/raw", "1 to 65535"},
	    {"/raw", "empty host"},
	    {":22/raw", "host names"},
	};
	struct netrule r;
	struct sk_err err;
	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (rule(good[i].in, false, &r) != 0)
			fail_msg("refused \"%s\"", good[i].in);
		assert_true(r.is_raw);
		assert_int_equal(r.kind, good[i].kind);
		assert_string_equal(r.text, good[i].text);
		assert_int_equal(r.port, good[i].port);
	}
	assert_int_equal(rule("db.example.com:5432", false, &r), 0);
	assert_false(r.is_raw);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		if (netrule_parse(bad[i].in, strlen(bad[i].in), false, &r, &err) != -1)
			fail_msg("accepted \"%s\"", bad[i].in);
		if (!strstr(err.op, bad[i].words))
			fail_msg("\"%s\": \"%s\" does not say \"%s\"", bad[i].in, err.op,
				 bad[i].words);
	}
	memset(&err, 0, sizeof(err));
	assert_int_equal(netrule_parse("db.example.com:22/raw", 21, true, &r, &err), -1);
	assert_non_null(strstr(err.op, "--deny-net db.example.com:22/raw"));
	assert_non_null(strstr(err.op, "--allow-net rules only"));
}

/* Of several allow rules for one host and port, a /raw one decides (whatever the order):
 * the caller named that port's protocol as one that cannot be checked. Deny still wins. */
static void test_policy_raw_rule_decides(void **state)
{
	struct netpolicy *p = test_malloc(sizeof(*p));
	struct sk_err err = {0};
	const struct netrule *m;
	(void)state;
	netpolicy_init(p);
	assert_int_equal(netpolicy_add(p, "*.example.com:22", 16, false, &err), 0);
	assert_int_equal(netpolicy_add(p, "git.example.com:22/raw", 22, false, &err), 0);
	assert_int_equal(netpolicy_add(p, "git.example.com", 15, false, &err), 0);
	assert_int_equal(netpolicy_add(p, "bad.example.com", 15, true, &err), 0);
	assert_int_equal(netpolicy_check_name(p, "git.example.com", 22, &m), NETVERDICT_ALLOW);
	assert_true(m->is_raw);
	assert_string_equal(m->text, "git.example.com:22/raw");
	assert_int_equal(netpolicy_check_name(p, "git.example.com", 443, &m), NETVERDICT_ALLOW);
	assert_false(m->is_raw);
	assert_int_equal(netpolicy_check_name(p, "www.example.com", 22, &m), NETVERDICT_ALLOW);
	assert_false(m->is_raw);
	assert_int_equal(netpolicy_check_name(p, "bad.example.com", 22, &m), NETVERDICT_DENY_RULE);
	test_free(p);
}

/* ":PORT": every host, name or address, on that port (what --network public is made of,
 * ":80" and ":443"); deny ":PORT" closes a port everywhere. A rule naming the host decides
 * over a port rule, and is the one the audit log shows. */
static void test_port_rules(void **state)
{
	struct netpolicy *p = test_malloc(sizeof(*p));
	struct sk_err err = {0};
	const struct netrule *m;
	struct netrule r;
	struct nethost h;
	(void)state;
	assert_int_equal(rule(":443", false, &r), 0);
	h = name_host("pypi.org");
	assert_true(netrule_matches_host(&r, &h, 443));
	assert_false(netrule_matches_host(&r, &h, 80));
	h = name_host("1.1.1.1");
	assert_true(netrule_matches_host(&r, &h, 443));
	h = name_host("[2606:4700::1111]");
	assert_true(netrule_matches_host(&r, &h, 443));
	/* A port rule lifts no forbidden address: only IP and CIDR rules match addresses there. */
	assert_false(netrule_matches_addr(&r, &h.ip, 443));

	netpolicy_init(p);
	assert_int_equal(netpolicy_add(p, ":443", 4, false, &err), 0);
	assert_int_equal(netpolicy_add(p, "files.example.org", 17, false, &err), 0);
	assert_int_equal(netpolicy_add(p, ":8443", 5, false, &err), 0);
	assert_int_equal(netpolicy_add(p, "evil.example.org", 16, true, &err), 0);
	assert_int_equal(netpolicy_add(p, ":80", 3, true, &err), 0);
	assert_int_equal(netpolicy_check_name(p, "pypi.org", 443, &m), NETVERDICT_ALLOW);
	assert_string_equal(m->text, ":443");
	assert_int_equal(netpolicy_check_name(p, "pypi.org", 8443, &m), NETVERDICT_ALLOW);
	assert_int_equal(netpolicy_check_name(p, "pypi.org", 22, &m), NETVERDICT_DENY_NO_RULE);
	assert_int_equal(netpolicy_check_name(p, "files.example.org", 443, &m), NETVERDICT_ALLOW);
	assert_string_equal(m->text, "files.example.org");
	assert_int_equal(netpolicy_check_name(p, "evil.example.org", 443, &m),
			 NETVERDICT_DENY_RULE);
	/* deny ":80" wins over every allow on port 80, a named host's too */
	assert_int_equal(netpolicy_check_name(p, "files.example.org", 80, &m),
			 NETVERDICT_DENY_RULE);
	assert_string_equal(m->text, ":80");
	h = name_host("8.8.8.8");
	assert_int_equal(netpolicy_check_host(p, &h, 443, &m), NETVERDICT_ALLOW);
	assert_int_equal(netpolicy_check_host(p, &h, 80, &m), NETVERDICT_DENY_RULE);
	test_free(p);
}

/* host.stockade.internal: only an exact allow rule with its port matches it; not a port rule
 * (the public network), not a wildcard (even one the parser would refuse), not another port.
 * Deny rules match it as any name. */
static void test_host_service_rules(void **state)
{
	struct netpolicy *p = test_malloc(sizeof(*p));
	struct sk_err err = {0};
	const struct netrule *m;
	struct netrule r;
	struct nethost h = name_host("Host.Stockade.Internal.");
	(void)state;
	assert_true(hostmatch_is_host_service(h.text));
	assert_false(hostmatch_is_host_service("host.stockade.internal.example.com"));
	assert_false(hostmatch_is_host_service("a.host.stockade.internal"));
	assert_int_equal(rule(":443", false, &r), 0);
	assert_false(netrule_matches_host(&r, &h, 443));
	/* A wildcard over it, made by hand past the parser's refusal: still no match. */
	memset(&r, 0, sizeof(r));
	r.kind = NETRULE_WILDCARD;
	sk_strlcpy(r.host, "stockade.internal", sizeof(r.host));
	assert_false(netrule_matches_host(&r, &h, 443));
	r.is_deny = true;
	assert_true(netrule_matches_host(&r, &h, 443));

	netpolicy_init(p);
	assert_int_equal(netpolicy_add(p, ":443", 4, false, &err), 0);
	assert_int_equal(netpolicy_add(p, ":11434", 6, false, &err), 0);
	assert_int_equal(netpolicy_add(p, "*.stockade.test", 15, false, &err), 0);
	assert_int_equal(netpolicy_check_name(p, "host.stockade.internal", 443, &m),
			 NETVERDICT_DENY_NO_RULE);
	assert_int_equal(netpolicy_check_name(p, "host.stockade.internal", 11434, &m),
			 NETVERDICT_DENY_NO_RULE);
	assert_int_equal(netpolicy_add(p, "host.stockade.internal:11434", 28, false, &err), 0);
	assert_int_equal(netpolicy_check_name(p, "host.stockade.internal", 11434, &m),
			 NETVERDICT_ALLOW);
	assert_string_equal(m->text, "host.stockade.internal:11434");
	assert_int_equal(netpolicy_check_name(p, "host.stockade.internal", 11435, &m),
			 NETVERDICT_DENY_NO_RULE);
	assert_int_equal(netpolicy_check_name(p, "host.stockade.internal", 80, &m),
			 NETVERDICT_DENY_NO_RULE);
	/* deny wins, a wildcard deny too */
	assert_int_equal(netpolicy_add(p, "*.stockade.internal", 19, true, &err), 0);
	assert_int_equal(netpolicy_check_name(p, "host.stockade.internal", 11434, &m),
			 NETVERDICT_DENY_RULE);
	test_free(p);
}

static void test_policy_full(void **state)
{
	struct netpolicy *p = test_malloc(sizeof(*p));
	struct sk_err err = {0};
	(void)state;
	netpolicy_init(p);
	for (int i = 0; i < NETPOLICY_MAX_RULES; i++)
		assert_int_equal(netpolicy_add(p, "example.com", 11, false, &err), 0);
	assert_int_equal(netpolicy_add(p, "example.com", 11, false, &err), -1);
	assert_int_equal(p->rule_count, NETPOLICY_MAX_RULES);
	test_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_canonicalize_accepts),
	    cmocka_unit_test(test_canonicalize_refuses),
	    cmocka_unit_test(test_canonicalize_nul_and_bounds),
	    cmocka_unit_test(test_netaddr_strict),
	    cmocka_unit_test(test_netaddr_sockaddr),
	    cmocka_unit_test(test_parse_host),
	    cmocka_unit_test(test_rule_grammar),
	    cmocka_unit_test(test_rule_messages),
	    cmocka_unit_test(test_deny_rules_may_be_broad),
	    cmocka_unit_test(test_rule_matching),
	    cmocka_unit_test(test_cidr_contains_boundaries),
	    cmocka_unit_test(test_policy_deny_wins),
	    cmocka_unit_test(test_raw_rules),
	    cmocka_unit_test(test_policy_raw_rule_decides),
	    cmocka_unit_test(test_port_rules),
	    cmocka_unit_test(test_host_service_rules),
	    cmocka_unit_test(test_policy_full),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
