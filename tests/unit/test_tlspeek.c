/* Unit tests for src/net/tlspeek.c: ClientHellos built here field by field, whole, cut at
 * every byte, fragmented across records, and broken in every length they carry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net/tlspeek.h"

#define BUF_MAX (3 * TLSPEEK_HELLO_MAX)

static char sni[HOSTMATCH_NAME_MAX + 1];
static const char *reason;

static size_t put16(uint8_t *b, size_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
	return 2;
}

/* server_name extension with one entry of the given type. */
static size_t ext_sni(uint8_t *b, uint8_t type, const char *name, size_t len)
{
	size_t n = put16(b, 0);
	n += put16(b + n, len + 5);
	n += put16(b + n, len + 3);
	b[n++] = type;
	n += put16(b + n, len);
	memcpy(b + n, name, len);
	return n + len;
}

static size_t ext_other(uint8_t *b, unsigned type, size_t len)
{
	size_t n = put16(b, type);
	n += put16(b + n, len);
	memset(b + n, 0x5a, len);
	return n + len;
}

/* ClientHello body: TLS 1.2 legacy version, random, a 32-byte session id, two suites, null
 * compression, then the extensions block (unless exts is NULL). */
static size_t hello_body(uint8_t *b, const uint8_t *exts, size_t exts_len)
{
	size_t n = 0;
	b[n++] = 3, b[n++] = 3;
	memset(b + n, 0xab, 32), n += 32;
	b[n++] = 32;
	memset(b + n, 0xcd, 32), n += 32;
	n += put16(b + n, 4);
	b[n++] = 0x13, b[n++] = 0x01, b[n++] = 0x13, b[n++] = 0x02;
	b[n++] = 1, b[n++] = 0;
	if (exts) {
		n += put16(b + n, exts_len);
		memcpy(b + n, exts, exts_len), n += exts_len;
	}
	return n;
}

/* The handshake message split into records of at most `chunk` bytes. */
static size_t records(uint8_t *out, const uint8_t *body, size_t body_len, size_t chunk)
{
	uint8_t hs[4 + BUF_MAX];
	size_t hs_len = 4 + body_len, n = 0;

	hs[0] = 1;
	hs[1] = (uint8_t)(body_len >> 16), hs[2] = (uint8_t)(body_len >> 8);
	hs[3] = (uint8_t)body_len;
	memcpy(hs + 4, body, body_len);
	for (size_t off = 0; off < hs_len; off += chunk) {
		size_t part = hs_len - off < chunk ? hs_len - off : chunk;
		out[n++] = 0x16, out[n++] = 3, out[n++] = 1;
		n += put16(out + n, part);
		memcpy(out + n, hs + off, part), n += part;
	}
	return n;
}

static size_t hello_with_sni(uint8_t *out, const char *name, size_t chunk)
{
	uint8_t exts[1024], body[2048];
	size_t e = ext_other(exts, 10, 4);
	e += ext_sni(exts + e, 0, name, strlen(name));
	e += ext_other(exts + e, 43, 3);
	return records(out, body, hello_body(body, exts, e), chunk);
}

static enum tlspeek_status peek(const uint8_t *buf, size_t len)
{
	return tlspeek_sni((const char *)buf, len, sni, sizeof(sni), &reason);
}

static void test_sni(void **state)
{
	uint8_t buf[4096];
	size_t n;
	(void)state;
	n = hello_with_sni(buf, "Example.COM", 16384);
	assert_int_equal(peek(buf, n), TLSPEEK_SNI);
	assert_string_equal(sni, "example.com");
	n = hello_with_sni(buf, "api.example.com.", 16384);
	assert_int_equal(peek(buf, n), TLSPEEK_SNI);
	assert_string_equal(sni, "api.example.com");
	/* Bytes after the hello (ChangeCipherSpec, early data) are the tunnel's business. */
	memcpy(buf + n, "\x14\x03\x03\x00\x01\x01", 6);
	assert_int_equal(peek(buf, n + 6), TLSPEEK_SNI);
}

static void test_every_prefix_needs_more(void **state)
{
	uint8_t buf[4096];
	size_t chunks[] = {16384, 1, 7, 100};
	(void)state;
	for (size_t c = 0; c < 4; c++) {
		size_t n = hello_with_sni(buf, "example.com", chunks[c]);
		uint8_t *exact = malloc(n);
		memcpy(exact, buf, n);
		for (size_t k = 0; k < n; k++)
			if (peek(exact, k) != TLSPEEK_NEED_MORE)
				fail_msg("chunk %zu prefix %zu: %s", chunks[c], k, reason);
		assert_int_equal(peek(exact, n), TLSPEEK_SNI);
		assert_string_equal(sni, "example.com");
		free(exact);
	}
}

static void test_no_sni(void **state)
{
	uint8_t exts[256], body[512], buf[1024];
	size_t e, n;
	(void)state;
	e = ext_other(exts, 10, 4);
	n = records(buf, body, hello_body(body, exts, e), 16384);
	assert_int_equal(peek(buf, n), TLSPEEK_NO_SNI);
	assert_string_equal(sni, "");
	n = records(buf, body, hello_body(body, NULL, 0), 16384);
	assert_int_equal(peek(buf, n), TLSPEEK_NO_SNI);
	n = records(buf, body, hello_body(body, exts, 0), 16384);
	assert_int_equal(peek(buf, n), TLSPEEK_NO_SNI);
	/* A server_name list holding only an unknown name type. */
	e = ext_sni(exts, 7, "example.com", 11);
	n = records(buf, body, hello_body(body, exts, e), 16384);
	assert_int_equal(peek(buf, n), TLSPEEK_NO_SNI);
}

/* Refused: another protocol when it does not start as a handshake record, else bad TLS (a
 * lenient server could still take it, so the proxy must not treat it as another protocol). */
static void expect_not_tls(const uint8_t *buf, size_t len)
{
	enum tlspeek_status want = len > 0 && buf[0] == 0x16 ? TLSPEEK_BAD_TLS : TLSPEEK_NOT_TLS;

	strcpy(sni, "stale");
	if (peek(buf, len) != want)
		fail_msg("accepted (sni \"%s\")", sni);
	assert_non_null(reason);
	assert_string_equal(sni, "");
}

static void test_bad_names(void **state)
{
	static const char *const names[] = {"",
					    "1.2.3.4",
					    "127.1",
					    "::1",
					    "[::1]",
					    "a b.com",
					    "a..com",
					    ".",
					    "-a.com",
					    "a/b",
					    "\xc3\xa9xample.com",
					    "exa\x01mple.com",
					    "*.example.com",
					    "example.com:443"};
	uint8_t exts[1024], body[2048], buf[4096];
	size_t e, n;
	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		e = ext_sni(exts, 0, names[i], strlen(names[i]));
		n = records(buf, body, hello_body(body, exts, e), 16384);
		expect_not_tls(buf, n);
	}
	e = ext_sni(exts, 0, "evil.com\0.example.com", 21);
	expect_not_tls(buf, records(buf, body, hello_body(body, exts, e), 16384));
	char long_name[300];
	memset(long_name, 'a', sizeof(long_name));
	for (int i = 60; i < 300; i += 61)
		long_name[i] = '.';
	e = ext_sni(exts, 0, long_name, 254);
	expect_not_tls(buf, records(buf, body, hello_body(body, exts, e), 16384));
}

static void test_bad_structure(void **state)
{
	uint8_t exts[1024], body[2048], buf[4096];
	size_t e, b, n;
	(void)state;
	/* Two server_name extensions; two host names in one. */
	e = ext_sni(exts, 0, "a.example", 9);
	e += ext_sni(exts + e, 0, "b.example", 9);
	expect_not_tls(buf, records(buf, body, hello_body(body, exts, e), 16384));
	e = ext_sni(exts, 0, "a.example", 9);
	memcpy(exts + e,
	       "\x00\x00\x09"
	       "b.example",
	       12);
	exts[3] = (uint8_t)(exts[3] + 12), exts[5] = (uint8_t)(exts[5] + 12);
	expect_not_tls(buf, records(buf, body, hello_body(body, exts, e + 12), 16384));
	/* server_name lengths that disagree with each other. */
	e = ext_sni(exts, 0, "a.example", 9);
	exts[5]++; /* list longer than the extension */
	expect_not_tls(buf, records(buf, body, hello_body(body, exts, e), 16384));
	e = ext_sni(exts, 0, "a.example", 9);
	exts[8]++; /* name longer than the list */
	expect_not_tls(buf, records(buf, body, hello_body(body, exts, e), 16384));
	e = ext_sni(exts, 0, "a.example", 9);
	exts[5]--, exts[8]--; /* list shorter than the extension */
	expect_not_tls(buf, records(buf, body, hello_body(body, exts, e), 16384));
	memcpy(exts, "\x00\x00\x00\x00", 4); /* empty server_name (a server's form) */
	expect_not_tls(buf, records(buf, body, hello_body(body, exts, 4), 16384));
	memcpy(exts, "\x00\x00\x00\x02\x00\x00", 6); /* empty list */
	expect_not_tls(buf, records(buf, body, hello_body(body, exts, 6), 16384));
	/* Extensions block length off by one either way; a truncated extension header. */
	e = ext_sni(exts, 0, "a.example", 9);
	b = hello_body(body, exts, e);
	body[b - e - 1]++;
	expect_not_tls(buf, records(buf, body, b, 16384));
	body[b - e - 1] -= 2;
	expect_not_tls(buf, records(buf, body, b, 16384));
	b = hello_body(body, (const uint8_t *)"\x00\x0a\x00", 3);
	expect_not_tls(buf, records(buf, body, b, 16384));
	/* A one-byte extensions block. */
	b = hello_body(body, NULL, 0);
	body[b++] = 0;
	expect_not_tls(buf, records(buf, body, b, 16384));
	/* Fixed fields. */
	e = ext_sni(exts, 0, "a.example", 9);
	static const struct {
		size_t at;
		uint8_t value;
	} pokes[] = {
	    {0, 2},   {1, 0},	 {1, 4}, /* legacy_version 2.3, 3.0, 3.4 */
	    {34, 33}, {34, 255},	 /* session id longer than 32 */
	    {68, 3},			 /* odd cipher suites length */
	    {68, 0},			 /* cipher suites length 0 */
	    {73, 0},			 /* no compression methods */
	};
	for (size_t i = 0; i < sizeof(pokes) / sizeof(pokes[0]); i++) {
		b = hello_body(body, exts, e);
		body[pokes[i].at] = pokes[i].value;
		n = records(buf, body, b, 16384);
		strcpy(sni, "stale");
		if (peek(buf, n) != TLSPEEK_BAD_TLS)
			fail_msg("poke %zu accepted", i);
	}
}

static void test_record_layer(void **state)
{
	uint8_t buf[4096];
	size_t n;
	(void)state;
	/* Not a handshake: refused from the first byte. */
	static const char *const firsts[] = {"\x17", "\x15", "\x14", "G", "\x80", "\x05", "\x00"};
	for (size_t i = 0; i < sizeof(firsts) / sizeof(firsts[0]); i++)
		expect_not_tls((const uint8_t *)firsts[i], 1);
	expect_not_tls((const uint8_t *)"\x16\x03\x00", 3); /* SSL 3.0 */
	expect_not_tls((const uint8_t *)"\x16\x02\x00", 3);
	expect_not_tls((const uint8_t *)"\x16\x03\x04", 3);
	expect_not_tls((const uint8_t *)"\x16\x03\x01\x00\x00", 5); /* empty record */
	expect_not_tls((const uint8_t *)"\x16\x03\x01\x40\x01", 5); /* 2^14 + 1 */
	/* A ServerHello, or a hello that announces more than 16 KiB. */
	expect_not_tls((const uint8_t *)"\x16\x03\x01\x00\x04\x02\x00\x00\x10", 9);
	expect_not_tls((const uint8_t *)"\x16\x03\x01\x00\x04\x01\x00\x40\x01", 9);
	expect_not_tls((const uint8_t *)"\x16\x03\x01\x00\x04\x01\xff\xff\xff", 9);
	/* Something after the hello inside its last record. */
	n = hello_with_sni(buf, "example.com", 16384);
	buf[4]++;
	buf[n] = 0;
	expect_not_tls(buf, n + 1);
	/* A fragmented hello followed by a non-handshake record before it completes. */
	n = hello_with_sni(buf, "example.com", 50);
	buf[55] = 0x17;
	expect_not_tls(buf, n);
}

static void test_large_hello(void **state)
{
	uint8_t *exts = malloc(BUF_MAX), *body = malloc(BUF_MAX), *buf = malloc(BUF_MAX);
	size_t e, b, n;
	(void)state;
	/* Padding up to the limit, over two records, SNI last. */
	e = ext_other(exts, 21, TLSPEEK_HELLO_MAX - 1000);
	e += ext_sni(exts + e, 0, "big.example", 11);
	b = hello_body(body, exts, e);
	assert_true(b <= TLSPEEK_HELLO_MAX);
	n = records(buf, body, b, 16384);
	assert_int_equal(peek(buf, n), TLSPEEK_SNI);
	assert_string_equal(sni, "big.example");
	/* One byte over the limit, however it is split. */
	e = ext_other(exts, 21, TLSPEEK_HELLO_MAX - 1000);
	e += ext_sni(exts + e, 0, "big.example", 11);
	e += ext_other(exts + e, 22, TLSPEEK_HELLO_MAX - hello_body(body, exts, e) + 1 - 4);
	b = hello_body(body, exts, e);
	assert_int_equal(b, TLSPEEK_HELLO_MAX + 1);
	expect_not_tls(buf, records(buf, body, b, 16384));
	expect_not_tls(buf, records(buf, body, b, 1000));
	free(exts);
	free(body);
	free(buf);
}

/* Encrypted Client Hello (and the ESNI draft) hide the name the server routes on: whatever
 * the outer SNI says, before or after it, the hello is reported as ECH. */
static void test_encrypted_client_hello(void **state)
{
	uint8_t exts[512], body[1024], buf[2048];
	size_t e, n;
	(void)state;
	for (unsigned kind = 0; kind < 2; kind++) {
		unsigned type = kind ? 0xffce : 0xfe0d;
		e = ext_sni(exts, 0, "public.example", 14);
		e += ext_other(exts + e, type, 40);
		n = records(buf, body, hello_body(body, exts, e), 16384);
		strcpy(sni, "stale");
		assert_int_equal(peek(buf, n), TLSPEEK_ECH);
		assert_string_equal(sni, "");
		assert_non_null(reason);
		e = ext_other(exts, type, 40);
		e += ext_sni(exts + e, 0, "public.example", 14);
		n = records(buf, body, hello_body(body, exts, e), 16384);
		assert_int_equal(peek(buf, n), TLSPEEK_ECH);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sni),		  cmocka_unit_test(test_every_prefix_needs_more),
	    cmocka_unit_test(test_no_sni),	  cmocka_unit_test(test_bad_names),
	    cmocka_unit_test(test_bad_structure), cmocka_unit_test(test_record_layer),
	    cmocka_unit_test(test_large_hello), cmocka_unit_test(test_encrypted_client_hello),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
