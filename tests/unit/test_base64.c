/* Unit tests for src/util/base64.c: RFC 4648's test vectors both ways, non-canonical input
 * refused, and UTF-8 validation at its edges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util/base64.h"
#include "util/macros.h"

static const struct {
	const char *plain, *encoded;
} vectors[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

static void test_rfc4648_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		char out[32];
		unsigned char back[32];
		size_t n = strlen(vectors[i].plain);
		assert_int_equal(base64_encoded_len(n), strlen(vectors[i].encoded));
		base64_encode(vectors[i].plain, n, out);
		assert_string_equal(out, vectors[i].encoded);
		long got = base64_decode(out, strlen(out), back);
		assert_int_equal(got, (long)n);
		assert_memory_equal(back, vectors[i].plain, n);
	}
}

static void test_every_byte(void **state)
{
	unsigned char all[256], back[256];
	char text[400];

	(void)state;
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	base64_encode(all, sizeof(all), text);
	assert_int_equal(base64_decode(text, strlen(text), back), 256);
	assert_memory_equal(all, back, 256);
}

static void test_refused(void **state)
{
	static const char *const bad[] = {"Zg=",    "Zg",   "Z===",	"Zh==", "Zm9=", "Zm 9v",
					  "Zm9v\n", "====", "Zg==Zg==", "Zm-v", "Zm_v"};
	unsigned char out[16];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(base64_decode(bad[i], strlen(bad[i]), out), -1);
}

static void test_utf8(void **state)
{
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
	    {"plain ascii", true},
	    {"caf\xc3\xa9", true},
	    {"\xe2\x82\xac", true},	 /* U+20AC */
	    {"\xf0\x9f\x98\x80", true},	 /* U+1F600 */
	    {"\xc3", false},		 /* cut short */
	    {"\xe2\x82", false},	 /* cut short */
	    {"\xc0\xaf", false},	 /* overlong '/' */
	    {"\xed\xa0\x80", false},	 /* a surrogate */
	    {"\xf4\x90\x80\x80", false}, /* past U+10FFFF */
	    {"\xff", false},
	    {"\x80", false},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		assert_int_equal(
		    utf8_is_valid((const unsigned char *)cases[i].s, strlen(cases[i].s)),
		    cases[i].ok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc4648_vectors),
	    cmocka_unit_test(test_every_byte),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_utf8),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
