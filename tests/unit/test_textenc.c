/* Unit tests for src/util/textenc.c: UTF-8 repair against Unicode's table of well-formed
 * sequences (each class of ill-formed input), the cut that keeps characters whole, and base64
 * both ways (RFC 4648's vectors, non-canonical text refused). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/macros.h"
#include "util/textenc.h"

#define FFFD "\xEF\xBF\xBD"

static const struct {
	const char *in;
	size_t len;
	const char *out;
	size_t replaced;
} repairs[] = {
    {"plain ascii", 11, "plain ascii", 0},
    {"nul\0inside", 10, "nul\0inside", 0},
    {"\xC3\xA9t\xC3\xA9", 5, "\xC3\xA9t\xC3\xA9", 0},			    /* été */
    {"\xE2\x82\xAC\xF0\x9F\x98\x80", 7, "\xE2\x82\xAC\xF0\x9F\x98\x80", 0}, /* € 😀 */
    {"\xF4\x8F\xBF\xBF", 4, "\xF4\x8F\xBF\xBF", 0},			    /* U+10FFFF */
    {"a\xFF"
     "b",
     3, "a" FFFD "b", 1},			     /* never a lead */
    {"\xC0\xAF", 2, FFFD FFFD, 2},		     /* overlong '/' */
    {"\xE0\x80\xAF", 3, FFFD FFFD FFFD, 3},	     /* overlong, 3 */
    {"\xED\xA0\x80", 3, FFFD FFFD FFFD, 3},	     /* surrogate */
    {"\xF4\x90\x80\x80", 4, FFFD FFFD FFFD FFFD, 4}, /* > U+10FFFF */
    {"\x80x", 2, FFFD "x", 1},			     /* stray tail */
    {"ab\xE2\x82", 4, "ab" FFFD FFFD, 2},	     /* cut short */
    {"\xC3(", 2, FFFD "(", 1},			     /* bad tail */
};

static void test_utf8_repair(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(repairs); i++) {
		size_t len, replaced;
		char *out = textenc_utf8_repair(repairs[i].in, repairs[i].len, &len, &replaced);
		assert_non_null(out);
		if (len != strlen(repairs[i].out) + (i == 1 ? 7 : 0) ||
		    memcmp(out, repairs[i].out, len) != 0 || replaced != repairs[i].replaced)
			fail_msg("repair #%zu: %zu bytes, %zu replaced", i, len, replaced);
		assert_int_equal(out[len], '\0');
		free(out);
	}
}

static void test_utf8_cut(void **state)
{
	(void)state;
	const char *euro = "ab\xE2\x82\xAC";
	assert_int_equal(textenc_utf8_cut(euro, 5), 5); /* whole */
	assert_int_equal(textenc_utf8_cut(euro, 4), 2); /* inside the euro sign: before it */
	assert_int_equal(textenc_utf8_cut(euro, 3), 2);
	assert_int_equal(textenc_utf8_cut(euro, 2), 2);
	assert_int_equal(textenc_utf8_cut("\xF0\x9F\x98\x80", 3), 0);
	assert_int_equal(textenc_utf8_cut("\xF0\x9F\x98\x80", 4), 4);
	assert_int_equal(textenc_utf8_cut("a\x80\x80\x80\x80", 5), 5); /* not ours to fix */
	/* a whole character, then a stray continuation byte (found by fuzz_mcp_args) */
	assert_int_equal(textenc_utf8_cut("\xF0\x9F\x99\x98\x80", 5), 5);
	assert_int_equal(textenc_utf8_cut("", 0), 0);
}

static const struct {
	const char *bytes, *text;
} vectors[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

static void test_base64(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		size_t len;
		char *text = textenc_base64_encode((const unsigned char *)vectors[i].bytes,
						   strlen(vectors[i].bytes));
		assert_string_equal(text, vectors[i].text);
		unsigned char *back = textenc_base64_decode(text, strlen(text), &len);
		assert_non_null(back);
		assert_int_equal(len, strlen(vectors[i].bytes));
		assert_memory_equal(back, vectors[i].bytes, len);
		free(text);
		free(back);
	}
	unsigned char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	char *text = textenc_base64_encode(all, sizeof(all));
	size_t len;
	unsigned char *back = textenc_base64_decode(text, strlen(text), &len);
	assert_int_equal(len, sizeof(all));
	assert_memory_equal(back, all, len);
	free(text);
	free(back);
}

static void test_base64_refused(void **state)
{
	static const char *const bad[] = {"Zg=",  "Zg",	   "Z===", "Zh==", "Zm9=", "Zg==Zg==",
					  "Zm 9", "Zm9\n", "Zm-v", "=Zm9", "Zm=v"};
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		size_t len;
		errno = 0;
		if (textenc_base64_decode(bad[i], strlen(bad[i]), &len) != NULL || errno != EINVAL)
			fail_msg("\"%s\" was accepted as base64", bad[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_utf8_repair),
	    cmocka_unit_test(test_utf8_cut),
	    cmocka_unit_test(test_base64),
	    cmocka_unit_test(test_base64_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
