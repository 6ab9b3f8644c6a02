/* Unit tests for src/net/credinject.c: which credential a host has, where a placeholder is
 * found, and the request head with the value put in the named header only — in the format's
 * shape, every such header, nothing else touched; another shape refused; values that could
 * split a header refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net/credinject.h"
#include "net/proxy.h"

#define PH "stockade-placeholder-0123456789abcdef0123456789abcdef01234567"
#define VALUE "sk-real-value"

static struct proxy_config config;

static int setup(void **state)
{
	struct proxy_credential *c = &config.credentials[0];

	(void)state;
	memset(&config, 0, sizeof(config));
	strcpy(c->name, "TOKEN");
	strcpy(c->header, "Authorization");
	strcpy(c->prefix, "Bearer ");
	strcpy(c->placeholder, PH);
	strcpy(c->hosts[0].name, "api.test");
	c->hosts[0].port = 443;
	c->host_count = 1;
	config.credential_count = 1;
	return 0;
}

/* The head as parsed for api.test:443, then injected into out. */
static enum credinject_status inject(const char *head, char *out, size_t size, size_t *len)
{
	struct nethost host;
	struct httpreq req;
	struct sk_err err = {0};

	assert_int_equal(hostmatch_parse_host("api.test", 8, &host, &err), 0);
	assert_int_equal(httpreq_parse_https(head, strlen(head), &host, 443, &req),
			 HTTPREQ_COMPLETE);
	return credinject_apply(&config.credentials[0], VALUE, strlen(VALUE), head, strlen(head),
				&req, out, size, len);
}

static void test_for_host(void **state)
{
	(void)state;
	assert_ptr_equal(
	    credinject_for_host(config.credentials, config.credential_count, "api.test", 443),
	    &config.credentials[0]);
	assert_null(
	    credinject_for_host(config.credentials, config.credential_count, "api.test", 8443));
	assert_null(
	    credinject_for_host(config.credentials, config.credential_count, "other.test", 443));
	assert_null(
	    credinject_for_host(config.credentials, config.credential_count, "api.test.evil", 443));
}

static void test_find_placeholder(void **state)
{
	const char upper[] =
	    "GET /?k=STOCKADE-PLACEHOLDER-0123456789ABCDEF0123456789ABCDEF01234567";

	(void)state;
	assert_non_null(credinject_find_placeholder(config.credentials, config.credential_count,
						    "x " PH " y", strlen(PH) + 4));
	assert_non_null(credinject_find_placeholder(config.credentials, config.credential_count,
						    upper, strlen(upper)));
	/* one byte short of it: not found, and no read past len */
	assert_null(credinject_find_placeholder(config.credentials, config.credential_count, PH,
						strlen(PH) - 1));
	assert_null(
	    credinject_find_placeholder(config.credentials, config.credential_count, "", 0));
}

static void test_injects_only_the_named_header(void **state)
{
	const char head[] = "GET /p?q=" PH " HTTP/1.1\r\nHost: api.test\r\n"
			    "Authorization: Bearer " PH "\r\nX-Other: " PH "\r\n\r\n";
	const char want[] = "GET /p?q=" PH " HTTP/1.1\r\nHost: api.test\r\n"
			    "Authorization: Bearer " VALUE "\r\nX-Other: " PH "\r\n\r\n";
	char out[1024];
	size_t len = 0;

	(void)state;
	assert_int_equal(inject(head, out, sizeof(out), &len), CREDINJECT_DONE);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(out, want, len);
}

static void test_every_header_of_the_name(void **state)
{
	const char head[] = "GET / HTTP/1.1\r\nHost: api.test\r\nauthorization: Bearer " PH
			    "\r\nAuthorization: Bearer " PH "\r\n\r\n";
	char out[1024];
	size_t len = 0;

	(void)state;
	assert_int_equal(inject(head, out, sizeof(out), &len), CREDINJECT_DONE);
	assert_null(
	    credinject_find_placeholder(config.credentials, config.credential_count, out, len));
}

static void test_other_shapes_and_none(void **state)
{
	static const char *const bad[] = {
	    "GET / HTTP/1.1\r\nHost: api.test\r\nAuthorization: Basic " PH "\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: api.test\r\nAuthorization: Bearer " PH "x\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: api.test\r\nAuthorization: " PH "\r\n\r\n",
	};
	const char none[] = "GET / HTTP/1.1\r\nHost: api.test\r\nAuthorization: Bearer x\r\n\r\n";
	char out[1024];
	size_t len = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(inject(bad[i], out, sizeof(out), &len), CREDINJECT_BAD_SHAPE);
	assert_int_equal(inject(none, out, sizeof(out), &len), CREDINJECT_NONE);
	assert_int_equal(len, strlen(none));
	assert_memory_equal(out, none, len);
	/* too small an output: refused, never cut */
	assert_int_equal(inject(none, out, 10, &len), CREDINJECT_TOO_LARGE);
}

static void test_value_validity(void **state)
{
	(void)state;
	assert_true(credinject_value_is_valid("sk-abc_123.=/+", 14));
	assert_true(credinject_value_is_valid("a b\tc", 5));
	assert_false(credinject_value_is_valid("a\r\nX-Evil: 1", 12));
	assert_false(credinject_value_is_valid("a\nb", 3));
	assert_false(credinject_value_is_valid("a\0b", 3));
	assert_false(credinject_value_is_valid(" a", 2));
	assert_false(credinject_value_is_valid("a\x7f", 2));
	assert_false(credinject_value_is_valid("", 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_for_host, setup),
	    cmocka_unit_test_setup(test_find_placeholder, setup),
	    cmocka_unit_test_setup(test_injects_only_the_named_header, setup),
	    cmocka_unit_test_setup(test_every_header_of_the_name, setup),
	    cmocka_unit_test_setup(test_other_shapes_and_none, setup),
	    cmocka_unit_test_setup(test_value_validity, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
