/* Unit tests for src/net/tunnelpeek.c: what a tunnel to a named host may carry. Tables of first
 * messages — TLS and HTTP naming the tunnel's host or another, empty lines first, any method
 * token, lower case, SSLv2, other protocols, silence, every prefix, pipelining — each with
 * the verdict, and for refusals the words of the reason and the HTTP answer (if any). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net/tunnelpeek.h"

#define HOST "front.test"
#define PORT 80

static struct tunnelpeek peek;

static enum tunnelpeek_verdict classify(const char *buf, size_t len, bool is_final)
{
	struct nethost host;
	struct sk_err err = {0};
	/* An exact-size copy: a read past the bytes given is an ASan report. */
	char *copy = malloc(len ? len : 1);
	enum tunnelpeek_verdict verdict;

	assert_non_null(copy);
	memcpy(copy, buf, len);
	assert_int_equal(hostmatch_parse_host(HOST, strlen(HOST), &host, &err), 0);
	verdict = tunnelpeek_classify(copy, len, &host, PORT, is_final, &peek);
	free(copy);
	return verdict;
}

static size_t put16(uint8_t *b, size_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
	return 2;
}

/* A TLS 1.2-shaped ClientHello in one record, with a server_name extension unless name is
 * NULL. */
static size_t client_hello(uint8_t *out, const char *name)
{
	uint8_t body[512];
	size_t n = 0, len = name ? strlen(name) : 0;

	body[n++] = 3, body[n++] = 3;
	memset(body + n, 0xab, 32), n += 32;
	body[n++] = 0;
	n += put16(body + n, 2);
	body[n++] = 0x13, body[n++] = 0x01;
	body[n++] = 1, body[n++] = 0;
	if (name) {
		n += put16(body + n, len + 9);
		n += put16(body + n, 0);
		n += put16(body + n, len + 5);
		n += put16(body + n, len + 3);
		body[n++] = 0;
		n += put16(body + n, len);
		memcpy(body + n, name, len), n += len;
	}
	out[0] = 0x16, out[1] = 3, out[2] = 1;
	put16(out + 3, n + 4);
	out[5] = 1, out[6] = 0, out[7] = (uint8_t)(n >> 8), out[8] = (uint8_t)n;
	memcpy(out + 9, body, n);
	return n + 9;
}

struct text_case {
	const char *name;
	const char *bytes;
	bool is_final;
	enum tunnelpeek_verdict verdict;
	const char *reason_words; /* REFUSE: in the reason */
	int http_status;	  /* REFUSE: the HTTP answer, 0 none */
};

#define GOOD_HEAD "GET / HTTP/1.1\r\nHost: front.test\r\n\r\n"
#define OTHER_HEAD "GET / HTTP/1.1\r\nHost: hidden.test\r\n\r\n"

static const struct text_case text_cases[] = {
    /* Silence: waited for, then refused. */
    {"silent", "", false, TUNNELPEEK_NEED_MORE, NULL, 0},
    {"silent at the deadline", "", true, TUNNELPEEK_REFUSE, "sent nothing", 0},
    /* HTTP naming the tunnel's host. */
    {"http", GOOD_HEAD, false, TUNNELPEEK_HTTP, NULL, 0},
    {"http, Host with the port", "GET / HTTP/1.1\r\nHost: front.test:80\r\n\r\n", false,
     TUNNELPEEK_HTTP, NULL, 0},
    {"http/1.0", "GET / HTTP/1.0\r\nHost: Front.Test.\r\n\r\n", false, TUNNELPEEK_HTTP, NULL, 0},
    {"leading CRLFs", "\r\n\r\n" GOOD_HEAD, false, TUNNELPEEK_HTTP, NULL, 0},
    {"lower-case method", "get / HTTP/1.1\r\nHost: front.test\r\n\r\n", false, TUNNELPEEK_HTTP,
     NULL, 0},
    {"odd method token", "X-B!#$%&'*+.^_`|~9 / HTTP/1.1\r\nHost: front.test\r\n\r\n", false,
     TUNNELPEEK_HTTP, NULL, 0},
    {"unknown method", "PROPFIND /d HTTP/1.1\r\nHost: front.test\r\n\r\n", false, TUNNELPEEK_HTTP,
     NULL, 0},
    {"pipelined other host after a good one", GOOD_HEAD OTHER_HEAD, false, TUNNELPEEK_HTTP, NULL,
     0},
    {"final data with a whole head", GOOD_HEAD, true, TUNNELPEEK_HTTP, NULL, 0},
    /* HTTP naming another host, in every spelling that used to be relayed raw. */
    {"other host", OTHER_HEAD, false, TUNNELPEEK_REFUSE, "Host header does not match", 400},
    {"other host after CRLFs", "\r\n\r\n\r\n" OTHER_HEAD, false, TUNNELPEEK_REFUSE,
     "Host header does not match", 400},
    {"other host, lower-case method", "get / HTTP/1.1\r\nHost: hidden.test\r\n\r\n", false,
     TUNNELPEEK_REFUSE, "Host header does not match", 400},
    {"other host, odd method", "BREW /pot HTTP/1.1\r\nHost: hidden.test\r\n\r\n", false,
     TUNNELPEEK_REFUSE, "Host header does not match", 400},
    {"other host, another port", "GET / HTTP/1.1\r\nHost: front.test:8080\r\n\r\n", false,
     TUNNELPEEK_REFUSE, "Host header does not match", 400},
    {"no Host", "GET / HTTP/1.1\r\n\r\n", false, TUNNELPEEK_REFUSE, "needs a Host", 400},
    {"two Hosts", "GET / HTTP/1.1\r\nHost: front.test\r\nHost: hidden.test\r\n\r\n", false,
     TUNNELPEEK_REFUSE, "more than one Host", 400},
    {"absolute-form", "GET http://hidden.test/ HTTP/1.1\r\nHost: front.test\r\n\r\n", false,
     TUNNELPEEK_REFUSE, "origin-form", 400},
    {"connect", "CONNECT hidden.test:80 HTTP/1.1\r\nHost: front.test\r\n\r\n", false,
     TUNNELPEEK_REFUSE, "CONNECT inside a tunnel", 400},
    {"lower-case connect", "connect hidden.test:80 HTTP/1.1\r\nHost: front.test\r\n\r\n", false,
     TUNNELPEEK_REFUSE, "CONNECT inside a tunnel", 400},
    {"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", false, TUNNELPEEK_REFUSE,
     "HTTP/1.0 and HTTP/1.1", 505},
    {"bare LF in the head", "GET / HTTP/1.1\r\nHost: front.test\n\r\n", false, TUNNELPEEK_REFUSE,
     "bare LF", 400},
    /* Incomplete HTTP: waited for, then refused with 408. */
    {"CRLF only", "\r\n", false, TUNNELPEEK_NEED_MORE, NULL, 0},
    {"CRLF only at the deadline", "\r\n\r\n", true, TUNNELPEEK_REFUSE, "incomplete HTTP", 408},
    {"half a CRLF", "\r", false, TUNNELPEEK_NEED_MORE, NULL, 0},
    {"method prefix", "GE", false, TUNNELPEEK_NEED_MORE, NULL, 0},
    {"method prefix at the deadline", "GE", true, TUNNELPEEK_REFUSE, "incomplete HTTP", 408},
    {"request line only", "GET / HTTP/1.1\r\n", false, TUNNELPEEK_NEED_MORE, NULL, 0},
    {"headers cut at the deadline", "GET / HTTP/1.1\r\nHost: front.test\r\n", true,
     TUNNELPEEK_REFUSE, "incomplete HTTP", 408},
    {"version cut", "get / HTTP/1.", false, TUNNELPEEK_NEED_MORE, NULL, 0},
    /* Neither TLS nor an HTTP/1.x request line: refused at once, no HTTP answer. */
    {"ssh banner", "SSH-2.0-OpenSSH_9.2\r\n", false, TUNNELPEEK_REFUSE, "neither", 0},
    {"bare LF first", "\nGET / HTTP/1.1\r\nHost: front.test\r\n\r\n", false, TUNNELPEEK_REFUSE,
     "neither", 0},
    {"CR then junk", "\rGET / HTTP/1.1\r\n", false, TUNNELPEEK_REFUSE, "neither", 0},
    {"space first", " GET / HTTP/1.1\r\nHost: front.test\r\n\r\n", false, TUNNELPEEK_REFUSE,
     "neither", 0},
    {"two spaces", "GET  / HTTP/1.1\r\nHost: front.test\r\n\r\n", false, TUNNELPEEK_REFUSE,
     "neither", 0},
    {"no target", "GET HTTP/1.1\r\n", false, TUNNELPEEK_REFUSE, "neither", 0},
    {"lower-case version", "GET / http/1.1\r\nHost: front.test\r\n\r\n", false, TUNNELPEEK_REFUSE,
     "neither", 0},
    {"version without minor", "GET / HTTP/1\r\n", false, TUNNELPEEK_REFUSE, "neither", 0},
    {"bare LF after the version", "GET / HTTP/1.1\nHost: front.test\r\n\r\n", false,
     TUNNELPEEK_REFUSE, "neither", 0},
    {"tab separator", "GET\t/ HTTP/1.1\r\n", false, TUNNELPEEK_REFUSE, "neither", 0},
    {"NUL", "\0\0\0\0", false, TUNNELPEEK_REFUSE, "neither", 0},
    {"postgres startup", "\0\0\0\x08\x04\xd2\x16\x2f", false, TUNNELPEEK_REFUSE, "neither", 0},
    {"redis inline", "*1\r\n$4\r\nPING\r\n", false, TUNNELPEEK_REFUSE, "neither", 0},
    {"SSLv2 ClientHello", "\x80\x2e\x01\x00\x02\x00\x15\x00\x00\x00\x10", false, TUNNELPEEK_REFUSE,
     "SSLv2", 0},
    {"CRLF then a TLS record", "\r\n\x16\x03\x01\x00\x05", false, TUNNELPEEK_REFUSE, "neither", 0},
};

static size_t case_len(const struct text_case *tc)
{
	/* The binary cases carry NULs: their length is their initializer's. */
	if (strcmp(tc->name, "NUL") == 0)
		return 4;
	if (strcmp(tc->name, "postgres startup") == 0)
		return 8;
	return strlen(tc->bytes);
}

static void check_case(const struct text_case *tc, enum tunnelpeek_verdict got)
{
	if (got != tc->verdict)
		fail_msg("%s: verdict %d, want %d (reason %s)", tc->name, got, tc->verdict,
			 peek.reason ? peek.reason : "-");
	if (got != TUNNELPEEK_REFUSE)
		return;
	if (!peek.reason || !strstr(peek.reason, tc->reason_words))
		fail_msg("%s: reason \"%s\", want \"%s\"", tc->name,
			 peek.reason ? peek.reason : "-", tc->reason_words);
	if (peek.http_status != tc->http_status)
		fail_msg("%s: HTTP answer %d, want %d", tc->name, peek.http_status,
			 tc->http_status);
}

static void test_text_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(text_cases) / sizeof(text_cases[0]); i++) {
		const struct text_case *tc = &text_cases[i];
		check_case(tc, classify(tc->bytes, case_len(tc), tc->is_final));
	}
}

/* What is let through is exactly one request's head: the proxy forwards it alone, so a
 * second request pipelined behind it (another Host) is never sent. */
static void test_http_result(void **state)
{
	static const char pipelined[] =
	    "\r\nget /a HTTP/1.1\r\nHost: front.test\r\n\r\n" OTHER_HEAD;
	(void)state;
	assert_int_equal(classify(pipelined, strlen(pipelined), false), TUNNELPEEK_HTTP);
	assert_int_equal(peek.skip, 2);
	assert_int_equal(peek.req.head_len, strlen("get /a HTTP/1.1\r\nHost: front.test\r\n\r\n"));
	assert_int_equal(peek.req.kind, HTTPREQ_ORIGIN);
	assert_int_equal(peek.req.method.len, 3);
	assert_memory_equal(pipelined + peek.skip + peek.req.method.offset, "get", 3);
}

static void test_tls(void **state)
{
	uint8_t hello[600];
	size_t n;
	(void)state;
	n = client_hello(hello, "front.test");
	assert_int_equal(classify((char *)hello, n, false), TUNNELPEEK_TLS);
	n = client_hello(hello, "FRONT.test.");
	assert_int_equal(classify((char *)hello, n, false), TUNNELPEEK_TLS);
	/* Bytes after the hello are the tunnel's (ChangeCipherSpec, early data). */
	memcpy(hello + n, "\x14\x03\x03\x00\x01\x01", 6);
	assert_int_equal(classify((char *)hello, n + 6, false), TUNNELPEEK_TLS);
	n = client_hello(hello, "hidden.test");
	assert_int_equal(classify((char *)hello, n, false), TUNNELPEEK_REFUSE);
	assert_non_null(strstr(peek.reason, "another host"));
	assert_int_equal(peek.http_status, 0);
	n = client_hello(hello, NULL);
	assert_int_equal(classify((char *)hello, n, false), TUNNELPEEK_REFUSE);
	assert_non_null(strstr(peek.reason, "without SNI"));
	n = client_hello(hello, "front.test");
	hello[1] = 2; /* a record version no TLS has: malformed, never "another protocol" */
	assert_int_equal(classify((char *)hello, n, false), TUNNELPEEK_REFUSE);
	assert_non_null(strstr(peek.reason, "malformed"));
}

/* Every prefix of a message that would be let through waits; at the deadline each is
 * refused. The whole message is let through, whether or not it is final. */
static void test_every_prefix(void **state)
{
	uint8_t hello[600];
	size_t hello_len = client_hello(hello, "front.test");
	static const char head[] = "\r\n\r\nPOST /x HTTP/1.1\r\nHost: front.test\r\n"
				   "Content-Length: 3\r\n\r\n";
	const struct {
		const char *bytes;
		size_t len;
		enum tunnelpeek_verdict whole;
	} messages[] = {
	    {(const char *)hello, hello_len, TUNNELPEEK_TLS},
	    {head, strlen(head), TUNNELPEEK_HTTP},
	};
	(void)state;
	for (size_t m = 0; m < 2; m++) {
		for (size_t k = 0; k < messages[m].len; k++) {
			if (classify(messages[m].bytes, k, false) != TUNNELPEEK_NEED_MORE)
				fail_msg("message %zu, prefix %zu: %s", m, k, peek.reason);
			if (classify(messages[m].bytes, k, true) != TUNNELPEEK_REFUSE)
				fail_msg("message %zu, prefix %zu passed at the deadline", m, k);
		}
		assert_int_equal(classify(messages[m].bytes, messages[m].len, false),
				 messages[m].whole);
		assert_int_equal(classify(messages[m].bytes, messages[m].len, true),
				 messages[m].whole);
	}
}

/* is_final never leaves the verdict open, whatever the bytes. */
static void test_final_always_decides(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(text_cases) / sizeof(text_cases[0]); i++) {
		const struct text_case *tc = &text_cases[i];
		if (classify(tc->bytes, case_len(tc), true) == TUNNELPEEK_NEED_MORE)
			fail_msg("%s: no verdict at the deadline", tc->name);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_text_table),
	    cmocka_unit_test(test_http_result),
	    cmocka_unit_test(test_tls),
	    cmocka_unit_test(test_every_prefix),
	    cmocka_unit_test(test_final_always_decides),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
