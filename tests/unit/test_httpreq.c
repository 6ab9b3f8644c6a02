/* Unit tests for src/net/httpreq.c: CONNECT and absolute-form heads, every prefix of a valid
 * head (need more, never a verdict too early), smuggling signals, limits, hostile bytes, and
 * the head rebuilt for the upstream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net/httpreq.h"

static struct httpreq req;

static enum httpreq_status parse(const char *text)
{
	return httpreq_parse(text, strlen(text), &req);
}

static void expect_bad(const char *text, int status_code)
{
	if (parse(text) != HTTPREQ_BAD)
		fail_msg("not refused: \"%s\"", text);
	if (req.status_code != status_code)
		fail_msg("\"%s\": status %d, want %d (%s)", text, req.status_code, status_code,
			 req.reason);
	assert_non_null(req.reason);
}

static void test_connect(void **state)
{
	const char *text = "CONNECT Example.COM:443 HTTP/1.1\r\nHost: example.com:443\r\n"
			   "User-Agent: curl/8\r\n\r\n\x16\x03\x01";
	(void)state;
	assert_int_equal(parse(text), HTTPREQ_COMPLETE);
	assert_int_equal(req.kind, HTTPREQ_CONNECT);
	assert_false(req.host.is_ip);
	assert_string_equal(req.host.text, "example.com");
	assert_int_equal(req.port, 443);
	assert_int_equal(req.head_len, strlen(text) - 3);
	assert_int_equal(req.header_count, 2);
	assert_int_equal(req.version_minor, 1);

	assert_int_equal(parse("CONNECT [::1]:8443 HTTP/1.0\r\n\r\n"), HTTPREQ_COMPLETE);
	assert_true(req.host.is_ip);
	assert_string_equal(req.host.text, "::1");
	assert_int_equal(req.port, 8443);
	assert_int_equal(parse("CONNECT [::ffff:1.2.3.4]:443 HTTP/1.1\r\n\r\n"), HTTPREQ_COMPLETE);
	assert_string_equal(req.host.text, "1.2.3.4");
	/* Host without a port is fine for CONNECT; with one, it must agree. */
	assert_int_equal(parse("CONNECT a.example:443 HTTP/1.1\r\nHost: A.example.\r\n\r\n"),
			 HTTPREQ_COMPLETE);
	assert_int_equal(parse("CONNECT 1.2.3.4:443 HTTP/1.1\r\nContent-Length: 0\r\n\r\n"),
			 HTTPREQ_COMPLETE);
}

static void test_forward(void **state)
{
	(void)state;
	const char *text = "GET http://Example.COM/a/b?c=d HTTP/1.1\r\nHost: example.com\r\n"
			   "Accept: */*\r\n\r\n";
	assert_int_equal(parse(text), HTTPREQ_COMPLETE);
	assert_int_equal(req.kind, HTTPREQ_FORWARD);
	assert_string_equal(req.host.text, "example.com");
	assert_int_equal(req.port, 80);
	assert_int_equal(req.path.len, 8);
	assert_memory_equal(text + req.path.offset, "/a/b?c=d", 8);
	assert_memory_equal(text + req.method.offset, "GET", req.method.len);
	assert_int_equal(parse("HEAD HTTP://example.com:8080 HTTP/1.0\r\n\r\n"), HTTPREQ_COMPLETE);
	assert_int_equal(req.port, 8080);
	assert_int_equal(req.path.len, 0);
	assert_int_equal(
	    parse("POST http://[2001:db8::1]:81/x HTTP/1.1\r\nHost: [2001:DB8::1]:81\r\n"
		  "Content-Length:  12 \r\n\r\nhello world!"),
	    HTTPREQ_COMPLETE);
	assert_true(req.has_content_length);
	assert_int_equal(req.content_length, 12);
	assert_true(req.host.is_ip);
	assert_int_equal(parse("PUT http://e.example/ HTTP/1.1\r\nHost: e.example:80\r\n"
			       "Transfer-Encoding: Chunked\r\n\r\n"),
			 HTTPREQ_COMPLETE);
	assert_true(req.is_chunked);
	assert_int_equal(parse("DELETE http://e.example/ HTTP/1.1\r\nHost:e.example\r\n"
			       "X-Empty:\r\nX-Tab:\tv\t\r\nX-Latin1: caf\xe9\r\n\r\n"),
			 HTTPREQ_COMPLETE);
	assert_int_equal(req.headers[1].value.len, 0);
	assert_int_equal(req.headers[2].value.len, 1);
	for (const char *const *m = (const char *const[]){"OPTIONS", "PATCH", NULL}; *m; m++) {
		char text[128];
		snprintf(text, sizeof(text),
			 "%s http://e.example/ HTTP/1.1\r\nHost: e.example\r\n\r\n", *m);
		assert_int_equal(parse(text), HTTPREQ_COMPLETE);
	}
}

static void test_every_prefix_needs_more(void **state)
{
	static const char *const heads[] = {
	    "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
	    "GET http://example.com/x HTTP/1.1\r\nHost: example.com\r\nA: b\r\n\r\n",
	};
	(void)state;
	for (size_t h = 0; h < 2; h++) {
		size_t len = strlen(heads[h]);
		char *copy = malloc(len); /* exact size: ASan sees any read past len */
		memcpy(copy, heads[h], len);
		for (size_t n = 0; n < len; n++)
			if (httpreq_parse(copy, n, &req) != HTTPREQ_NEED_MORE)
				fail_msg("prefix %zu of head %zu: %s", n, h, req.reason);
		assert_int_equal(httpreq_parse(copy, len, &req), HTTPREQ_COMPLETE);
		assert_int_equal(req.head_len, len);
		free(copy);
	}
}

static void test_request_line_refused(void **state)
{
	static const struct {
		const char *text;
		int status;
	} cases[] = {
	    {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	    {"GET * HTTP/1.1\r\n\r\n", 400},
	    {"GET https://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n", 400},
	    {"GET ftp://example.com/ HTTP/1.1\r\n\r\n", 400},
	    {"GET http:/example.com/ HTTP/1.1\r\n\r\n", 400},
	    {"GET http:// HTTP/1.1\r\n\r\n", 400},
	    {"GET http:///x HTTP/1.1\r\n\r\n", 400},
	    {"GET http://user:pw@example.com/ HTTP/1.1\r\n\r\n", 400},
	    {"GET http://example.com@evil.com/ HTTP/1.1\r\n\r\n", 400},
	    {"GET http://example.com/#frag HTTP/1.1\r\n\r\n", 400},
	    {"GET http://example.com:/ HTTP/1.1\r\n\r\n", 400},
	    {"GET http://example.com:0/ HTTP/1.1\r\n\r\n", 400},
	    {"GET http://example.com:65536/ HTTP/1.1\r\n\r\n", 400},
	    {"GET http://example.com:080/ HTTP/1.1\r\n\r\n", 400},
	    {"GET http://127.1/ HTTP/1.1\r\n\r\n", 400},
	    {"GET http://0x7f.1/ HTTP/1.1\r\n\r\n", 400},
	    {"GET http://2130706433/ HTTP/1.1\r\n\r\n", 400},
	    {"GET http://[fe80::1%25eth0]/ HTTP/1.1\r\n\r\n", 400},
	    {"GET http://::1/ HTTP/1.1\r\n\r\n", 400},
	    {"GET http://exa%6dple.com/ HTTP/1.1\r\n\r\n", 400},
	    {"GET http://exa_mple..com/ HTTP/1.1\r\n\r\n", 400},
	    {"GET http://example.com/\xff HTTP/1.1\r\n\r\n", 400},
	    {"GET http://example.com/ HTTP/1.1 \r\n\r\n", 400},
	    {"GET  http://example.com/ HTTP/1.1\r\n\r\n", 400},
	    {"GET http://example.com/  HTTP/1.1\r\n\r\n", 400},
	    {"GET http://example.com/\tHTTP/1.1\r\n\r\n", 400},
	    {"GET http://example.com/ http/1.1\r\n\r\n", 400},
	    {"GET http://example.com/ HTTP/1.1x\r\n\r\n", 400},
	    {"GET http://example.com/ HTTP/1.2\r\n\r\n", 505},
	    {"GET http://example.com/ HTTP/2.0\r\n\r\n", 505},
	    {"GET http://example.com/ HTTP/0.9\r\n\r\n", 505},
	    {"GET http://example.com/\r\n\r\n", 400},
	    {"get http://example.com/ HTTP/1.1\r\n\r\n", 501},
	    {"Get http://example.com/ HTTP/1.1\r\n\r\n", 501},
	    {"TRACE http://example.com/ HTTP/1.1\r\n\r\n", 501},
	    {"PROPFIND http://example.com/ HTTP/1.1\r\n\r\n", 501},
	    {"GETS http://example.com/ HTTP/1.1\r\n\r\n", 501},
	    {"\r\nGET http://example.com/ HTTP/1.1\r\n\r\n", 501},
	    {" GET http://example.com/ HTTP/1.1\r\n\r\n", 501},
	    {"CONNECT example.com HTTP/1.1\r\n\r\n", 400},
	    {"CONNECT example.com: HTTP/1.1\r\n\r\n", 400},
	    {"CONNECT example.com:0 HTTP/1.1\r\n\r\n", 400},
	    {"CONNECT example.com:443/ HTTP/1.1\r\n\r\n", 400},
	    {"CONNECT example.com:443:443 HTTP/1.1\r\n\r\n", 400},
	    {"CONNECT user@example.com:443 HTTP/1.1\r\n\r\n", 400},
	    {"CONNECT http://example.com:443 HTTP/1.1\r\n\r\n", 400},
	    {"CONNECT ::1:443 HTTP/1.1\r\n\r\n", 400},
	    {"CONNECT [::1:443 HTTP/1.1\r\n\r\n", 400},
	    {"CONNECT [::1]443 HTTP/1.1\r\n\r\n", 400},
	    {"CONNECT [127.0.0.1]:443 HTTP/1.1\r\n\r\n", 400},
	    {"CONNECT [fe80::1%eth0]:443 HTTP/1.1\r\n\r\n", 400},
	    {"CONNECT 017700000001:443 HTTP/1.1\r\n\r\n", 400},
	    {"CONNECT :443 HTTP/1.1\r\n\r\n", 400},
	    {"CONNECT example.com:+443 HTTP/1.1\r\n\r\n", 400},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_bad(cases[i].text, cases[i].status);
}

static void test_headers_refused(void **state)
{
	static const char *const cases[] = {
	    /* framing: anything two parsers could read differently */
	    "POST http://e.x/ HTTP/1.1\r\nHost: e.x\r\nContent-Length: 5\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n",
	    "POST http://e.x/ HTTP/1.1\r\nHost: e.x\r\nTransfer-Encoding: chunked\r\n"
	    "Content-Length: 5\r\n\r\n",
	    "POST http://e.x/ HTTP/1.1\r\nHost: e.x\r\nContent-Length: 5\r\nContent-Length: "
	    "5\r\n\r\n",
	    "POST http://e.x/ HTTP/1.1\r\nHost: e.x\r\nContent-Length: 5, 5\r\n\r\n",
	    "POST http://e.x/ HTTP/1.1\r\nHost: e.x\r\nContent-Length: +5\r\n\r\n",
	    "POST http://e.x/ HTTP/1.1\r\nHost: e.x\r\nContent-Length: -1\r\n\r\n",
	    "POST http://e.x/ HTTP/1.1\r\nHost: e.x\r\nContent-Length: 0x10\r\n\r\n",
	    "POST http://e.x/ HTTP/1.1\r\nHost: e.x\r\nContent-Length: 1 0\r\n\r\n",
	    "POST http://e.x/ HTTP/1.1\r\nHost: e.x\r\nContent-Length:\r\n\r\n",
	    "POST http://e.x/ HTTP/1.1\r\nHost: e.x\r\nContent-Length: "
	    "99999999999999999999\r\n\r\n",
	    "POST http://e.x/ HTTP/1.1\r\nHost: e.x\r\nContent-Length : 5\r\n\r\n",
	    "POST http://e.x/ HTTP/1.1\r\nHost: e.x\r\nTransfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n",
	    "POST http://e.x/ HTTP/1.1\r\nHost: e.x\r\nTransfer-Encoding : chunked\r\n\r\n",
	    "POST http://e.x/ HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
	    "POST http://e.x/ HTTP/1.1\r\nHost: e.x\r\nConnection: Content-Length\r\n\r\n",
	    "POST http://e.x/ HTTP/1.1\r\nHost: e.x\r\nConnection: close, "
	    "transfer-encoding\r\n\r\n",
	    "POST http://e.x/ HTTP/1.1\r\nHost: e.x\r\nConnection: host\r\n\r\n",
	    "POST http://e.x/ HTTP/1.1\r\nHost: e.x\r\nConnection: close,,x\r\n\r\n",
	    "POST http://e.x/ HTTP/1.1\r\nHost: e.x\r\nConnection: a b\r\n\r\n",
	    "CONNECT e.x:443 HTTP/1.1\r\nContent-Length: 5\r\n\r\n",
	    "CONNECT e.x:443 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
	    /* Host */
	    "GET http://e.x/ HTTP/1.1\r\n\r\n",
	    "GET http://e.x/ HTTP/1.1\r\nHost: e.x\r\nHost: e.x\r\n\r\n",
	    "GET http://e.x/ HTTP/1.1\r\nHost: e.x\r\nhost: evil.x\r\n\r\n",
	    "GET http://e.x/ HTTP/1.1\r\nHost: evil.x\r\n\r\n",
	    "GET http://e.x/ HTTP/1.1\r\nHost: e.x:8080\r\n\r\n",
	    "GET http://e.x:8080/ HTTP/1.1\r\nHost: e.x\r\n\r\n",
	    "GET http://e.x/ HTTP/1.1\r\nHost:\r\n\r\n",
	    "GET http://e.x/ HTTP/1.1\r\nHost: e.x.evil\r\n\r\n",
	    "GET http://e.x/ HTTP/1.1\r\nHost: e.x, evil.x\r\n\r\n",
	    "GET http://e.x/ HTTP/1.1\r\nHost: user@e.x\r\n\r\n",
	    "GET http://1.2.3.4/ HTTP/1.1\r\nHost: 1.2.3.4.example\r\n\r\n",
	    "GET http://1.2.3.4/ HTTP/1.1\r\nHost: 16909060\r\n\r\n",
	    "GET http://e.x/ HTTP/1.1\r\nHost: e\xe9.x\r\n\r\n",
	    "CONNECT e.x:443 HTTP/1.1\r\nHost: evil.x:443\r\n\r\n",
	    "CONNECT e.x:443 HTTP/1.1\r\nHost: e.x:444\r\n\r\n",
	    "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::2]:443\r\n\r\n",
	    /* syntax */
	    "GET http://e.x/ HTTP/1.1\r\nHost: e.x\r\n folded\r\n\r\n",
	    "GET http://e.x/ HTTP/1.1\r\nHost: e.x\r\n\tfolded\r\n\r\n",
	    "GET http://e.x/ HTTP/1.1\r\n Host: e.x\r\n\r\n",
	    "GET http://e.x/ HTTP/1.1\r\nHost: e.x\r\nNo-Colon\r\n\r\n",
	    "GET http://e.x/ HTTP/1.1\r\nHost: e.x\r\n: empty-name\r\n\r\n",
	    "GET http://e.x/ HTTP/1.1\r\nHost: e.x\r\nBad Name: v\r\n\r\n",
	    "GET http://e.x/ HTTP/1.1\r\nHost: e.x\r\nBad(Name): v\r\n\r\n",
	    "GET http://e.x/ HTTP/1.1\r\nHost: e.x\r\nN\xe9: v\r\n\r\n",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (parse(cases[i]) != HTTPREQ_BAD)
			fail_msg("not refused: case %zu \"%s\"", i, cases[i]);
	expect_bad("POST http://e.x/ HTTP/1.1\r\nHost: e.x\r\nTransfer-Encoding: gzip, chunked\r\n"
		   "\r\n",
		   501);
	expect_bad("POST http://e.x/ HTTP/1.1\r\nHost: e.x\r\nTransfer-Encoding: xchunked\r\n\r\n",
		   501);
}

static void test_hostile_bytes(void **state)
{
	static const char *const cases[] = {
	    "GET http://e.x/ HTTP/1.1\nHost: e.x\n\n",
	    "GET http://e.x/ HTTP/1.1\r\nHost: e.x\n\r\n",
	    "GET http://e.x/ HTTP/1.1\r\nHost: e.x\r\n\n",
	    "GET http://e.x/ HTTP/1.1\r\nHost: e.x\rX: y\r\n\r\n",
	    "GET http://e.x/ HTTP/1.1\r\nHost: e.x\r\nX: a\rb\r\n\r\n",
	    "GET http://e.x/ HTTP/1.1\r\nHost: e.x\r\nX: \x1b[31m\r\n\r\n",
	    "GET http://e.x/ HTTP/1.1\r\nHost: e.x\r\nX: \x7f\r\n\r\n",
	    "GET http://e.x/ HTTP/1.1\r\nHost: e.x\r\nX: \x0b\r\n\r\n",
	    "GET http://e.x/\x01 HTTP/1.1\r\nHost: e.x\r\n\r\n",
	};
	static const char nul_name[] = "GET http://e.x/ HTTP/1.1\r\nHost: e.x\r\nX\0Y: 1\r\n\r\n";
	static const char nul_value[] = "GET http://e.x/ HTTP/1.1\r\nHost: e.x\0evil\r\n\r\n";
	static const char nul_target[] = "GET http://e.x\0.evil/ HTTP/1.1\r\n\r\n";
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (parse(cases[i]) != HTTPREQ_BAD)
			fail_msg("not refused: case %zu", i);
	assert_int_equal(httpreq_parse(nul_name, sizeof(nul_name) - 1, &req), HTTPREQ_BAD);
	assert_int_equal(httpreq_parse(nul_value, sizeof(nul_value) - 1, &req), HTTPREQ_BAD);
	assert_int_equal(httpreq_parse(nul_target, sizeof(nul_target) - 1, &req), HTTPREQ_BAD);
}

static void test_early_refusal(void **state)
{
	(void)state;
	/* A TLS ClientHello, SSH banner or binary sent to the HTTP port: no waiting for 16 KiB. */
	assert_int_equal(httpreq_parse("\x16\x03\x01\x02", 4, &req), HTTPREQ_BAD);
	assert_int_equal(httpreq_parse("SSH-2.0-", 8, &req), HTTPREQ_BAD);
	assert_int_equal(httpreq_parse("\x05\x01\x00", 3, &req), HTTPREQ_BAD);
	assert_int_equal(httpreq_parse("get ", 4, &req), HTTPREQ_BAD);
	assert_int_equal(httpreq_parse("ABCDEFGHI", 9, &req), HTTPREQ_BAD);
	assert_int_equal(httpreq_parse("GET http://x/\n", 14, &req), HTTPREQ_BAD);
	assert_int_equal(httpreq_parse("GET http://x/\x00", 14, &req), HTTPREQ_BAD);
	assert_int_equal(httpreq_parse("CONNEC", 6, &req), HTTPREQ_NEED_MORE);
	assert_int_equal(httpreq_parse("", 0, &req), HTTPREQ_NEED_MORE);
	assert_int_equal(httpreq_parse("GET http://x/ HTTP/1.1\r", 23, &req), HTTPREQ_NEED_MORE);
}

static void test_limits(void **state)
{
	static char buf[3 * HTTPREQ_HEAD_MAX];
	size_t n;
	(void)state;
	/* Request line: 8192 characters pass, 8193 do not (414), complete or not. */
	n = (size_t)sprintf(buf, "GET http://e.x/");
	memset(buf + n, 'a', HTTPREQ_LINE_MAX);
	n = HTTPREQ_LINE_MAX - strlen(" HTTP/1.1");
	n += (size_t)sprintf(buf + n, " HTTP/1.1\r\nHost: e.x\r\n\r\n");
	assert_int_equal(httpreq_parse(buf, n, &req), HTTPREQ_COMPLETE);
	memset(buf, 0, 3 * HTTPREQ_HEAD_MAX);
	n = (size_t)sprintf(buf, "GET http://e.x/");
	memset(buf + n, 'a', 2 * HTTPREQ_LINE_MAX);
	assert_int_equal(httpreq_parse(buf, HTTPREQ_LINE_MAX + 1, &req), HTTPREQ_BAD);
	assert_int_equal(req.status_code, 414);
	assert_int_equal(httpreq_parse(buf, HTTPREQ_LINE_MAX, &req), HTTPREQ_NEED_MORE);
	/* One header line too long: 431. */
	n = (size_t)sprintf(buf, "GET http://e.x/ HTTP/1.1\r\nX: ");
	memset(buf + n, 'v', HTTPREQ_LINE_MAX);
	assert_int_equal(httpreq_parse(buf, n + HTTPREQ_LINE_MAX, &req), HTTPREQ_BAD);
	assert_int_equal(req.status_code, 431);
	/* 100 header fields pass, 101 do not. */
	n = (size_t)sprintf(buf, "GET http://e.x/ HTTP/1.1\r\nHost: e.x\r\n");
	for (int i = 1; i < HTTPREQ_HEADERS_MAX; i++)
		n += (size_t)sprintf(buf + n, "X-%d: v\r\n", i);
	assert_int_equal(httpreq_parse(strcat(buf, "\r\n"), n + 2, &req), HTTPREQ_COMPLETE);
	assert_int_equal(req.header_count, HTTPREQ_HEADERS_MAX);
	n += (size_t)sprintf(buf + n, "X-last: v\r\n\r\n");
	assert_int_equal(httpreq_parse(buf, n, &req), HTTPREQ_BAD);
	assert_int_equal(req.status_code, 431);
	/* A head over 16 KiB, each line short: 431 once 16 KiB are buffered, not NEED_MORE. */
	n = (size_t)sprintf(buf, "GET http://e.x/ HTTP/1.1\r\nHost: e.x\r\n");
	for (int i = 0; i < 90; i++) {
		n += (size_t)sprintf(buf + n, "X-%02d: ", i);
		memset(buf + n, 'v', 200);
		n += 200;
		n += (size_t)sprintf(buf + n, "\r\n");
	}
	assert_true(n > HTTPREQ_HEAD_MAX);
	assert_int_equal(httpreq_parse(buf, HTTPREQ_HEAD_MAX - 1, &req), HTTPREQ_NEED_MORE);
	assert_int_equal(httpreq_parse(buf, HTTPREQ_HEAD_MAX, &req), HTTPREQ_BAD);
	assert_int_equal(req.status_code, 431);
	assert_int_equal(httpreq_parse(buf, n, &req), HTTPREQ_BAD);
}

static const char *upstream(const char *text)
{
	static char out[HTTPREQ_HEAD_MAX + 512];
	size_t n = 0;

	assert_int_equal(parse(text), HTTPREQ_COMPLETE);
	assert_int_equal(httpreq_build_upstream(text, &req, out, sizeof(out) - 1, &n), 0);
	out[n] = '\0';
	return out;
}

static void test_build_upstream(void **state)
{
	char small[32];
	size_t n;
	(void)state;
	assert_string_equal(
	    upstream("GET http://example.com/a?b=1 HTTP/1.1\r\nHost: example.com\r\n"
		     "Proxy-Connection: keep-alive\r\nProxy-Authorization: Basic c2VjcmV0\r\n"
		     "Connection: keep-alive, X-Secret\r\nx-secret: 1\r\nKeep-Alive: 5\r\n"
		     "TE: trailers\r\nUpgrade: websocket\r\nUser-Agent:  t  \r\n"
		     "Proxy-Authenticate: x\r\n\r\nBODY"),
	    "GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n"
	    "Connection: close\r\n\r\n");
	assert_string_equal(upstream("GET http://Example.com:8080 HTTP/1.0\r\nAccept: */*\r\n\r\n"),
			    "GET / HTTP/1.0\r\nAccept: */*\r\nHost: example.com:8080\r\n"
			    "Connection: close\r\n\r\n");
	assert_string_equal(upstream("HEAD http://example.com?q HTTP/1.0\r\n\r\n"),
			    "HEAD /?q HTTP/1.0\r\nHost: example.com\r\nConnection: close\r\n\r\n");
	assert_string_equal(upstream("GET http://[2001:db8::1]/ HTTP/1.0\r\n\r\n"),
			    "GET / HTTP/1.0\r\nHost: [2001:db8::1]\r\nConnection: close\r\n\r\n");
	assert_string_equal(
	    upstream("POST http://e.x/up HTTP/1.1\r\nHost: e.x\r\nTransfer-Encoding: chunked\r\n"
		     "Connection: close\r\n\r\n"),
	    "POST /up HTTP/1.1\r\nHost: e.x\r\nTransfer-Encoding: chunked\r\n"
	    "Connection: close\r\n\r\n");
	/* CONNECT has no upstream head; a small buffer is an error, not a truncation. */
	assert_int_equal(parse("CONNECT e.x:443 HTTP/1.1\r\n\r\n"), HTTPREQ_COMPLETE);
	assert_int_equal(httpreq_build_upstream("CONNECT e.x:443 HTTP/1.1\r\n\r\n", &req, small,
						sizeof(small), &n),
			 -1);
	const char *text = "GET http://example.com/a HTTP/1.1\r\nHost: example.com\r\n\r\n";
	assert_int_equal(parse(text), HTTPREQ_COMPLETE);
	assert_int_equal(httpreq_build_upstream(text, &req, small, sizeof(small), &n), -1);
}

static void test_worst_case_upstream_fits(void **state)
{
	char *buf = malloc(HTTPREQ_HEAD_MAX), *out = malloc(HTTPREQ_HEAD_MAX + 512);
	size_t n, out_len;
	(void)state;
	/* Growth only: a 253-character host added as Host, "/" before "?", ": " in each of the
	 * 100 fields, Connection: close. The head itself is as long as allowed. */
	n = (size_t)sprintf(buf, "GET http://");
	for (int i = 0; i < 4; i++)
		n += (size_t)sprintf(
		    buf + n, "%s%.*s", i ? "." : "", i < 3 ? 63 : 61,
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	n += (size_t)sprintf(buf + n, ":65535?");
	memset(buf + n, 'q', HTTPREQ_LINE_MAX - n - 9);
	n = HTTPREQ_LINE_MAX - 9;
	n += (size_t)sprintf(buf + n, " HTTP/1.0\r\n");
	for (int i = 0; i < HTTPREQ_HEADERS_MAX - 1; i++)
		n += (size_t)sprintf(buf + n, "X:v\r\n");
	n += (size_t)sprintf(buf + n, "Y:");
	memset(buf + n, 'w', HTTPREQ_HEAD_MAX - n - 4);
	n = HTTPREQ_HEAD_MAX - 4;
	memcpy(buf + n, "\r\n\r\n", 4);
	n += 4;
	assert_int_equal(httpreq_parse(buf, n, &req), HTTPREQ_COMPLETE);
	assert_int_equal(req.head_len, HTTPREQ_HEAD_MAX);
	assert_int_equal(strlen(req.host.text), 253);
	assert_int_equal(httpreq_build_upstream(buf, &req, out, HTTPREQ_HEAD_MAX + 512, &out_len),
			 0);
	assert_true(out_len > req.head_len);
	free(buf);
	free(out);
}

/* A plain request inside a tunnel to host:port (origin-form; Host required and bound). */
static enum httpreq_status tunneled(const char *text, const char *host, uint16_t port)
{
	struct nethost h;
	struct sk_err err = {0};

	assert_int_equal(hostmatch_parse_host(host, strlen(host), &h, &err), 0);
	return httpreq_parse_tunneled(text, strlen(text), &h, port, &req);
}

static void expect_tunneled_bad(const char *text, const char *host, uint16_t port, int status)
{
	if (tunneled(text, host, port) != HTTPREQ_BAD)
		fail_msg("not refused inside a tunnel to %s:%u: \"%s\"", host, port, text);
	assert_int_equal(req.status_code, status);
	assert_non_null(req.reason);
}

static void test_tunneled(void **state)
{
	char out[512];
	size_t n;
	(void)state;
	assert_int_equal(tunneled("GET /a?b HTTP/1.1\r\nHost: Front.Test:8080\r\n\r\nX", "front.test",
				  8080),
			 HTTPREQ_COMPLETE);
	assert_int_equal(req.kind, HTTPREQ_ORIGIN);
	assert_int_equal(req.head_len, strlen("GET /a?b HTTP/1.1\r\nHost: Front.Test:8080\r\n\r\n"));
	assert_int_equal(httpreq_build_upstream(
			     "GET /a?b HTTP/1.1\r\nHost: Front.Test:8080\r\n\r\nX", &req, out,
			     sizeof(out), &n),
			 0);
	out[n] = '\0';
	assert_string_equal(out, "GET /a?b HTTP/1.1\r\nHost: Front.Test:8080\r\nConnection: close\r\n\r\n");
	/* Host without a port means 80; HTTP/1.0 too must name the host; OPTIONS * is fine. */
	assert_int_equal(tunneled("GET / HTTP/1.0\r\nHost: front.test\r\n\r\n", "front.test", 80),
			 HTTPREQ_COMPLETE);
	assert_int_equal(tunneled("OPTIONS * HTTP/1.1\r\nHost: front.test\r\n\r\n", "front.test", 80),
			 HTTPREQ_COMPLETE);
	assert_int_equal(tunneled("GET / HTTP/1.1\r\nHost: [2001:db8::1]:81\r\n\r\n", "2001:db8::1",
				  81),
			 HTTPREQ_COMPLETE);
	/* Another virtual host, port, or none at all; other request forms. */
	expect_tunneled_bad("GET / HTTP/1.1\r\nHost: hidden.test\r\n\r\n", "front.test", 80, 400);
	expect_tunneled_bad("GET / HTTP/1.1\r\nHost: front.test\r\n\r\n", "front.test", 8080, 400);
	expect_tunneled_bad("GET / HTTP/1.1\r\nHost: front.test:81\r\n\r\n", "front.test", 80, 400);
	expect_tunneled_bad("GET / HTTP/1.1\r\nHost: front.test.\r\nHost: x\r\n\r\n", "front.test",
			    80, 400);
	expect_tunneled_bad("GET / HTTP/1.0\r\n\r\n", "front.test", 80, 400);
	expect_tunneled_bad("GET / HTTP/1.1\r\n\r\n", "front.test", 80, 400);
	expect_tunneled_bad("GET http://front.test/ HTTP/1.1\r\nHost: front.test\r\n\r\n",
			    "front.test", 80, 400);
	expect_tunneled_bad("CONNECT front.test:80 HTTP/1.1\r\nHost: front.test\r\n\r\n",
			    "front.test", 80, 400);
	expect_tunneled_bad("GET * HTTP/1.1\r\nHost: front.test\r\n\r\n", "front.test", 80, 400);
	expect_tunneled_bad("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "front.test", 80, 505);
	/* Inside a tunnel any method token is the server's business (its Host is checked), but
	 * never CONNECT in any case, nor what is not a token. */
	assert_int_equal(tunneled("get / HTTP/1.1\r\nHost: front.test\r\n\r\n", "front.test", 80),
			 HTTPREQ_COMPLETE);
	assert_int_equal(req.method.len, 3);
	assert_int_equal(
	    tunneled("M-SEARCH!~ /x HTTP/1.1\r\nHost: front.test\r\n\r\n", "front.test", 80),
	    HTTPREQ_COMPLETE);
	expect_tunneled_bad("get / HTTP/1.1\r\nHost: hidden.test\r\n\r\n", "front.test", 80, 400);
	expect_tunneled_bad("connect front.test:80 HTTP/1.1\r\nHost: front.test\r\n\r\n",
			    "front.test", 80, 400);
	expect_tunneled_bad("CoNnEcT front.test:80 HTTP/1.1\r\nHost: front.test\r\n\r\n",
			    "front.test", 80, 400);
	expect_tunneled_bad("G(T / HTTP/1.1\r\nHost: front.test\r\n\r\n", "front.test", 80, 400);
	expect_tunneled_bad(" GET / HTTP/1.1\r\nHost: front.test\r\n\r\n", "front.test", 80, 400);
	expect_tunneled_bad("G\xc3\xa9T / HTTP/1.1\r\n", "front.test", 80, 400);
	/* The proxy's own port still knows only its methods. */
	static const char lower[] = "get http://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n";
	assert_int_equal(httpreq_parse(lower, strlen(lower), &req), HTTPREQ_BAD);
	assert_int_equal(req.status_code, 501);
	/* Every prefix needs more. */
	const char *text = "POST /x HTTP/1.1\r\nHost: front.test\r\nContent-Length: 3\r\n\r\n";
	for (size_t len = 0; len < strlen(text); len++) {
		struct nethost h;
		struct sk_err err = {0};
		assert_int_equal(hostmatch_parse_host("front.test", 10, &h, &err), 0);
		assert_int_equal(httpreq_parse_tunneled(text, len, &h, 80, &req), HTTPREQ_NEED_MORE);
	}
}

static enum httpreq_status rewrite(const char *text, char *out, size_t out_size, size_t *out_len)
{
	return httpreq_rewrite_response(text, strlen(text), out, out_size, out_len, &req);
}

static void test_response_rewritten(void **state)
{
	char out[512];
	size_t n = 0;
	const char *text = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive, X-Hop\r\n"
			   "Keep-Alive: timeout=5\r\nX-Hop: a  \r\nProxy-Authenticate: Basic\r\n"
			   "X-End:  kept as sent \r\n\r\nhello";
	const char *want = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-End:  kept as sent \r\n"
			   "Connection: close\r\n\r\n";
	(void)state;
	assert_int_equal(rewrite(text, out, sizeof(out), &n), HTTPREQ_COMPLETE);
	assert_int_equal(req.status_code, 200);
	assert_int_equal(req.head_len, strlen(text) - 5);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, n);
	/* A reason phrase is optional; HTTP/1.0 too. */
	assert_int_equal(rewrite("HTTP/1.0 204\r\n\r\n", out, sizeof(out), &n), HTTPREQ_COMPLETE);
	assert_int_equal(req.status_code, 204);
	assert_int_equal(n, strlen("HTTP/1.0 204\r\nConnection: close\r\n\r\n"));
	/* Interim: unchanged (no Connection: close), the final one follows in the same buffer. */
	text = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n";
	assert_int_equal(rewrite(text, out, sizeof(out), &n), HTTPREQ_COMPLETE);
	assert_int_equal(req.status_code, 100);
	assert_int_equal(req.head_len, 25);
	assert_memory_equal(out, "HTTP/1.1 100 Continue\r\n\r\n", n);
	/* Every prefix of a head needs more; none is a verdict. */
	text = "HTTP/1.1 200 OK\r\nA: b\r\n\r\n";
	for (size_t len = 0; len < strlen(text); len++)
		assert_int_equal(httpreq_rewrite_response(text, len, out, sizeof(out), &n, &req), HTTPREQ_NEED_MORE);
	/* Too small an output buffer is a refusal, not an overflow. */
	assert_int_equal(rewrite(text, out, 20, &n), HTTPREQ_BAD);
}

static void test_response_refused(void **state)
{
	static const char *const bad_heads[] = {
	    "HTTP/2 200 OK\r\n\r\n",	     "HTTP/1.1 20 OK\r\n\r\n",
	    "HTTP/1.1 2000\r\n\r\n",	     "HTTP/1.1 099 x\r\n\r\n",
	    "ICY 200 OK\r\n\r\n",		     "HTTP/1.1 200 OK\nA: b\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n", "HTTP/1.1 200 OK\r\n folded\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nNo colon\r\n\r\n", "HTTP/1.1 200 OK\r\nA: \x01\r\n\r\n",
	};
	char out[512];
	size_t n;
	(void)state;
	for (size_t i = 0; i < sizeof(bad_heads) / sizeof(bad_heads[0]); i++) {
		if (rewrite(bad_heads[i], out, sizeof(out), &n) != HTTPREQ_BAD)
			fail_msg("not refused: \"%s\"", bad_heads[i]);
		assert_int_equal(req.status_code, 502);
		assert_non_null(req.reason);
	}
	/* No end within HTTPREQ_HEAD_MAX: refused, never "need more" forever. */
	char *big = malloc(HTTPREQ_HEAD_MAX + 1);
	size_t len = (size_t)sprintf(big, "HTTP/1.1 200 OK\r\n");
	while (len + 8 < HTTPREQ_HEAD_MAX)
		len += (size_t)sprintf(big + len, "A: b\r\n");
	while (len < HTTPREQ_HEAD_MAX)
		big[len++] = 'x';
	assert_int_equal(httpreq_rewrite_response(big, len, out, sizeof(out), &n, &req),
			 HTTPREQ_BAD);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_connect),
	    cmocka_unit_test(test_forward),
	    cmocka_unit_test(test_every_prefix_needs_more),
	    cmocka_unit_test(test_request_line_refused),
	    cmocka_unit_test(test_headers_refused),
	    cmocka_unit_test(test_hostile_bytes),
	    cmocka_unit_test(test_early_refusal),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_build_upstream),
	    cmocka_unit_test(test_worst_case_upstream_fits),
	    cmocka_unit_test(test_tunneled),
	    cmocka_unit_test(test_response_rewritten),
	    cmocka_unit_test(test_response_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
