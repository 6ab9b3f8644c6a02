/* Unit tests for src/net/socks5.c: the greeting and request of RFC 1928 whole, split at every
 * byte and pipelined; refused commands, address types and names with their reply codes; and
 * the reply builder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "net/socks5.h"

static struct socks5 s;
static uint8_t reply[SOCKS5_REPLY_MAX];
static size_t reply_len, consumed;

static enum socks5_event feed(const char *buf, size_t len)
{
	return socks5_feed(&s, buf, len, &consumed, reply, &reply_len);
}

/* Feeds a greeting offering NO AUTH, so the machine waits for a request. */
static void greeted(void)
{
	socks5_init(&s);
	assert_int_equal(feed("\x05\x01\x00", 3), SOCKS5_REPLY);
}

static void test_greeting(void **state)
{
	(void)state;
	socks5_init(&s);
	assert_int_equal(feed("\x05\x01\x00", 3), SOCKS5_REPLY);
	assert_int_equal(consumed, 3);
	assert_int_equal(reply_len, 2);
	assert_memory_equal(reply, "\x05\x00", 2);
	assert_int_equal(s.state, SOCKS5_STATE_REQUEST);

	socks5_init(&s);
	assert_int_equal(feed("\x05\x03\x02\x01\x00", 5), SOCKS5_REPLY);
	assert_int_equal(consumed, 5);

	/* No acceptable method: 05 FF, then close. */
	socks5_init(&s);
	assert_int_equal(feed("\x05\x02\x02\x01", 4), SOCKS5_FAIL);
	assert_int_equal(reply_len, 2);
	assert_memory_equal(reply, "\x05\xff", 2);
	assert_int_equal(s.state, SOCKS5_STATE_FAILED);
	socks5_init(&s);
	assert_int_equal(feed("\x05\x00", 2), SOCKS5_FAIL);
	assert_memory_equal(reply, "\x05\xff", 2);

	/* Not SOCKS5 (SOCKS4, HTTP, TLS): refused at the first byte, nothing written. */
	static const char *const others[] = {"\x04\x01\x00\x50", "G", "\x16\x03\x01", "\x00"};
	for (size_t i = 0; i < 4; i++) {
		socks5_init(&s);
		assert_int_equal(feed(others[i], 1), SOCKS5_FAIL);
		assert_int_equal(reply_len, 0);
		assert_non_null(s.reason);
	}
}

static void test_greeting_partial(void **state)
{
	const char greeting[] = "\x05\x05\x01\x02\x03\x04\x00";
	(void)state;
	for (size_t n = 0; n < sizeof(greeting) - 1; n++) {
		socks5_init(&s);
		assert_int_equal(feed(greeting, n), SOCKS5_NEED_MORE);
		assert_int_equal(consumed, 0);
		assert_int_equal(reply_len, 0);
	}
	socks5_init(&s);
	assert_int_equal(feed(greeting, sizeof(greeting) - 1), SOCKS5_REPLY);
	/* 255 methods, NO AUTH last. */
	char big[257];
	big[0] = 5;
	big[1] = (char)255;
	memset(big + 2, 1, 255);
	big[256] = 0;
	socks5_init(&s);
	assert_int_equal(feed(big, 256), SOCKS5_NEED_MORE);
	assert_int_equal(feed(big, 257), SOCKS5_REPLY);
	assert_int_equal(consumed, 257);
}

static void test_request_domain(void **state)
{
	const char req[] = "\x05\x01\x00\x03\x0b"
			   "Example.COM\x01\xbb";
	size_t len = sizeof(req) - 1;
	char *exact = malloc(len);
	(void)state;
	memcpy(exact, req, len);
	for (size_t n = 0; n < len; n++) {
		greeted();
		if (feed(exact, n) != SOCKS5_NEED_MORE)
			fail_msg("prefix %zu", n);
	}
	greeted();
	assert_int_equal(feed(exact, len), SOCKS5_REQUEST);
	assert_int_equal(consumed, len);
	assert_int_equal(s.state, SOCKS5_STATE_READY);
	assert_int_equal(s.atyp, 3);
	assert_false(s.host.is_ip);
	assert_string_equal(s.host.text, "example.com");
	assert_int_equal(s.port, 443);
	assert_int_equal(reply_len, 0);
	free(exact);
	/* An address written as a DOMAINNAME is an address. */
	greeted();
	assert_int_equal(feed("\x05\x01\x00\x03\x09"
			      "127.0.0.1\x00\x50",
			      16),
			 SOCKS5_REQUEST);
	assert_true(s.host.is_ip);
	assert_string_equal(s.host.text, "127.0.0.1");
	greeted();
	assert_int_equal(feed("\x05\x01\x00\x03\x03::1\x00\x50", 10), SOCKS5_REQUEST);
	assert_true(s.host.is_ip);
	assert_string_equal(s.host.text, "::1");
}

static void test_request_addresses(void **state)
{
	(void)state;
	greeted();
	assert_int_equal(feed("\x05\x01\x00\x01\x0a\x00\x00\x01\x1f\x90", 10), SOCKS5_REQUEST);
	assert_true(s.host.is_ip);
	assert_string_equal(s.host.text, "10.0.0.1");
	assert_int_equal(s.port, 8080);
	greeted();
	assert_int_equal(feed("\x05\x01\x00\x04"
			      "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
			      "\x00\x50",
			      22),
			 SOCKS5_REQUEST);
	assert_int_equal(s.host.ip.family, AF_INET6);
	assert_string_equal(s.host.text, "2001:db8::1");
	/* IPv4-mapped IPv6 is the IPv4 address. */
	greeted();
	assert_int_equal(feed("\x05\x01\x00\x04"
			      "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xa9\xfe\xa9\xfe"
			      "\x00\x50",
			      22),
			 SOCKS5_REQUEST);
	assert_int_equal(s.host.ip.family, AF_INET);
	assert_string_equal(s.host.text, "169.254.169.254");
	/* Early data after the request is not consumed. */
	greeted();
	assert_int_equal(feed("\x05\x01\x00\x01\x01\x02\x03\x04\x00\x50GET /", 15), SOCKS5_REQUEST);
	assert_int_equal(consumed, 10);
	/* Greeting and request in one read. */
	socks5_init(&s);
	const char both[] = "\x05\x01\x00\x05\x01\x00\x01\x01\x02\x03\x04\x01\xbb";
	assert_int_equal(feed(both, sizeof(both) - 1), SOCKS5_REPLY);
	assert_int_equal(consumed, 3);
	assert_int_equal(feed(both + 3, sizeof(both) - 4), SOCKS5_REQUEST);
	assert_int_equal(s.port, 443);
	/* Nothing more once finished. */
	assert_int_equal(feed("\x05", 1), SOCKS5_FAIL);
}

static void expect_refused(const char *req, size_t len, uint8_t code)
{
	greeted();
	if (feed(req, len) != SOCKS5_FAIL)
		fail_msg("not refused (code %u wanted)", code);
	assert_int_equal(reply_len, 10);
	assert_int_equal(reply[0], 5);
	if (reply[1] != code)
		fail_msg("reply code %u, want %u (%s)", reply[1], code, s.reason);
	assert_int_equal(s.state, SOCKS5_STATE_FAILED);
	assert_non_null(s.reason);
}

static void test_request_refused(void **state)
{
	(void)state;
	/* BIND, UDP ASSOCIATE and unknown commands: 07 as soon as the command byte is seen. */
	expect_refused("\x05\x02\x00\x01\x01\x02\x03\x04\x00\x50", 10, 0x07);
	expect_refused("\x05\x03\x00\x01\x00\x00\x00\x00\x00\x00", 10, 0x07);
	expect_refused("\x05\x03", 2, 0x07);
	expect_refused("\x05\x00\x00\x01", 4, 0x07);
	expect_refused("\x05\xff\x00\x01", 4, 0x07);
	/* Unknown address types: 08. */
	expect_refused("\x05\x01\x00\x02\x00\x00", 6, 0x08);
	expect_refused("\x05\x01\x00\x00", 4, 0x08);
	expect_refused("\x05\x01\x00\x05", 4, 0x08);
	expect_refused("\x05\x01\x00\xff", 4, 0x08);
	/* Malformed: 01. */
	expect_refused("\x04\x01\x00\x01", 4, 0x01);
	expect_refused("\x05\x01\x01\x01", 3, 0x01);
	expect_refused("\x05\x01\x00\x03\x00\x00\x50", 7, 0x01);
	/* Names refused by the canonicalizer or port 0: not allowed (02). */
	static const char *const names[] = {"evil.com\0.example.com",
					    "exa mple.com",
					    "example.com/",
					    "user@example.com",
					    "127.1",
					    "0x7f.1",
					    "2130706433",
					    "017700000001",
					    "fe80::1%eth0",
					    "[127.0.0.1]",
					    "a..b",
					    "-a.com",
					    "\xc3\xa9.com",
					    ".",
					    "..",
					    "example.com:443",
					    "\r\n",
					    "*.example.com"};
	static const size_t lens[] = {21, 12, 12, 16, 5, 6, 10, 12, 12,
				      11, 4,  6,  6,  1, 2, 15, 2,  13};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char req[300] = "\x05\x01\x00\x03";
		req[4] = (char)lens[i];
		memcpy(req + 5, names[i], lens[i]);
		req[5 + lens[i]] = 1;
		req[6 + lens[i]] = (char)0xbb;
		expect_refused(req, 7 + lens[i], 0x02);
	}
	char longname[300] = "\x05\x01\x00\x03\xff";
	memset(longname + 5, 'a', 255);
	for (int i = 5 + 60; i < 5 + 255; i += 61)
		longname[i] = '.';
	longname[260] = 0, longname[261] = 80;
	expect_refused(longname, 262, 0x02);
	expect_refused("\x05\x01\x00\x01\x01\x02\x03\x04\x00\x00", 10, 0x02);
	expect_refused("\x05\x01\x00\x03\x01x\x00\x00", 8, 0x02);
}

static void test_build_reply(void **state)
{
	struct sockaddr_in in4 = {.sin_family = AF_INET, .sin_port = htons(12345)};
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(443)};
	uint8_t out[SOCKS5_REPLY_MAX];
	(void)state;
	inet_pton(AF_INET, "10.0.0.1", &in4.sin_addr);
	assert_int_equal(
	    socks5_build_reply(SOCKS5_SUCCEEDED, (struct sockaddr *)&in4, sizeof(in4), out), 10);
	assert_memory_equal(out, "\x05\x00\x00\x01\x0a\x00\x00\x01\x30\x39", 10);
	inet_pton(AF_INET6, "2001:db8::2", &in6.sin6_addr);
	assert_int_equal(
	    socks5_build_reply(SOCKS5_SUCCEEDED, (struct sockaddr *)&in6, sizeof(in6), out), 22);
	assert_memory_equal(out, "\x05\x00\x00\x04\x20\x01\x0d\xb8", 8);
	assert_memory_equal(out + 20, "\x01\xbb", 2);
	inet_pton(AF_INET6, "::ffff:1.2.3.4", &in6.sin6_addr);
	assert_int_equal(
	    socks5_build_reply(SOCKS5_SUCCEEDED, (struct sockaddr *)&in6, sizeof(in6), out), 10);
	assert_memory_equal(out + 3, "\x01\x01\x02\x03\x04\x01\xbb", 7);
	assert_int_equal(socks5_build_reply(SOCKS5_NOT_ALLOWED, NULL, 0, out), 10);
	assert_memory_equal(out, "\x05\x02\x00\x01\x00\x00\x00\x00\x00\x00", 10);
	assert_int_equal(
	    socks5_build_reply(SOCKS5_HOST_UNREACHABLE, (struct sockaddr *)&in4, 3, out), 10);
	assert_memory_equal(out, "\x05\x04\x00\x01\x00\x00\x00\x00\x00\x00", 10);
	static const enum socks5_reply_code codes[] = {
	    SOCKS5_GENERAL_FAILURE, SOCKS5_CONNECTION_REFUSED, SOCKS5_COMMAND_NOT_SUPPORTED,
	    SOCKS5_ATYP_NOT_SUPPORTED};
	static const uint8_t values[] = {1, 5, 7, 8};
	for (size_t i = 0; i < 4; i++) {
		socks5_build_reply(codes[i], NULL, 0, out);
		assert_int_equal(out[1], values[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_greeting),	    cmocka_unit_test(test_greeting_partial),
	    cmocka_unit_test(test_request_domain),  cmocka_unit_test(test_request_addresses),
	    cmocka_unit_test(test_request_refused), cmocka_unit_test(test_build_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
