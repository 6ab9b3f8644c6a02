/* Unit tests for src/store/volume.c: the -v grammar (accepted and refused specs), the checks
 * across specs, and volume names. The store itself is exercised by tests/integration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "store/volume.h"

struct good {
	const char *text, *name, *guest;
	bool is_anonymous, is_readonly;
};

static void test_accepted(void **state)
{
	static const struct good table[] = {
	    {"/data", "", "/data", true, false},
	    {"/data:ro", "", "/data", true, true},
	    {"/data:rw", "", "/data", true, false},
	    {"work:/work", "work", "/work", false, false},
	    {"work:/work:ro", "work", "/work", false, true},
	    {"A.b_c-9:/home/sandbox/x", "A.b_c-9", "/home/sandbox/x", false, false},
	    {"n:/tmp", "n", "/tmp", false, false},
	    {"n:/run/x", "n", "/run/x", false, false},
	    {"n:/usrlocal", "n", "/usrlocal", false, false}, /* not below /usr */
	};
	(void)state;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		struct sandbox_volume vol;
		struct sk_err err = {0};
		assert_int_equal(volume_parse_spec(table[i].text, &vol, &err), 0);
		assert_string_equal(vol.name, table[i].name);
		assert_string_equal(vol.guest, table[i].guest);
		assert_int_equal(vol.is_anonymous, table[i].is_anonymous);
		assert_int_equal(vol.is_readonly, table[i].is_readonly);
	}
}

struct bad {
	const char *text, *reason;
};

static void test_refused(void **state)
{
	static const struct bad table[] = {
	    {"/etc:/data", "host paths cannot be mounted"},
	    {"/home/u/p:/p:ro", "host paths cannot be mounted"},
	    {"./p:/p", "host paths cannot be mounted"},
	    {"~/p:/p", "host paths cannot be mounted"},
	    {"a/b:/p", "host paths cannot be mounted"},
	    {"data", "must be absolute"},
	    {"n:data", "must be absolute"},
	    {"", "must be absolute"},
	    {"n:/a/../b", "'..'"},
	    {"/..", "'..'"},
	    {"n:/a/.", "'.'"},
	    {"n:/a//b", "empty component"},
	    {"n:/a/", "trailing"},
	    {"n:/a\tb", "control character"},
	    {"n:/usr", "system tree"},
	    {"n:/usr/local", "system tree"},
	    {"/etc/x", "system tree"},
	    {"n:/proc", "system tree"},
	    {"n:/dev/shm", "system tree"},
	    {"n:/sys/x", "system tree"},
	    {"n:/lib", "system tree"},
	    {"n:/", "cannot cover"},
	    {"n:/home", "cannot cover"},
	    {"-n:/x", "bad volume name"},
	    {"n$:/x", "bad volume name"},
	    {":/x", "bad volume name"},
	    {"n:/x:rx", "unknown option"},
	    {"/x:", "unknown option"},
	    {"n:/x:ro:rw", "too many ':'"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		struct sandbox_volume vol;
		struct sk_err err = {0};
		assert_int_equal(volume_parse_spec(table[i].text, &vol, &err), -1);
		assert_string_equal(err.layer, "cli");
		if (!strstr(err.op, table[i].reason))
			fail_msg("%s: '%s' lacks '%s'", table[i].text, err.op, table[i].reason);
	}
}

static void test_host_path_hint_names_import(void **state)
{
	struct sandbox_volume vol;
	struct sk_err err = {0};
	(void)state;
	assert_int_equal(volume_parse_spec("/srv/data:/data", &vol, &err), -1);
	assert_non_null(strstr(err.hint, "stockade volume import NAME /srv/data"));
	assert_non_null(strstr(err.hint, "-v NAME:/data"));
}

static void test_across_specs(void **state)
{
	struct sandbox_spec spec;
	struct sk_err err = {0};
	char text[32];
	(void)state;
	memset(&spec, 0, sizeof(spec));
	assert_int_equal(volume_add_spec(&spec, "a:/x", &err), 0);
	assert_int_equal(volume_add_spec(&spec, "/y:ro", &err), 0);
	assert_int_equal(volume_add_spec(&spec, "b:/x", &err), -1);
	assert_non_null(strstr(err.op, "already used"));
	assert_int_equal(volume_add_spec(&spec, "b:/x/sub", &err), -1);
	assert_non_null(strstr(err.op, "inside another"));
	assert_int_equal(volume_add_spec(&spec, "/", &err), -1);
	assert_int_equal(volume_add_spec(&spec, "a:/xy", &err), 0); /* not below /x */
	assert_int_equal(spec.volume_count, 3);
	for (int i = 3; i < SANDBOX_MAX_VOLUMES; i++) {
		snprintf(text, sizeof(text), "/v%d", i);
		assert_int_equal(volume_add_spec(&spec, text, &err), 0);
	}
	assert_int_equal(volume_add_spec(&spec, "/one-more", &err), -1);
	assert_non_null(strstr(err.op, "too many volumes"));
}

/* volume_check_list: the checks of -v on volumes that did not come from a -v (spec_check for a
 * spec of any front end), each refusal naming the -v it would have been. */
static void test_check_list(void **state)
{
	static const struct {
		struct sandbox_volume vol;
		const char *reason;
	} bad[] = {
	    {{"n", "/etc/x", false, false}, "system tree"},
	    {{"n", "work", false, false}, "must be absolute"},
	    {{"n", "/a/../b", false, false}, "'..'"},
	    {{"-n", "/w", false, false}, "bad volume name"},
	    {{"named", "/w", true, false}, "bad volume name"}, /* anonymous: no name */
	    {{"a", "/x", false, false}, "already used"},
	    {{"b", "/x/y", false, true}, "inside another"},
	};
	struct sandbox_volume list[SANDBOX_MAX_VOLUMES + 1];
	struct sk_err err = {0};
	(void)state;
	memset(list, 0, sizeof(list));
	snprintf(list[0].name, sizeof(list[0].name), "a");
	snprintf(list[0].guest, sizeof(list[0].guest), "/x");
	snprintf(list[1].guest, sizeof(list[1].guest), "/y");
	list[1].is_anonymous = true;
	assert_int_equal(volume_check_list(list, 2, &err), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		list[2] = bad[i].vol;
		assert_int_equal(volume_check_list(list, 3, &err), -1);
		assert_string_equal(err.layer, "cli");
		if (!strstr(err.op, bad[i].reason))
			fail_msg("%s: '%s' lacks '%s'", bad[i].vol.guest, err.op, bad[i].reason);
	}
	assert_non_null(strstr(err.op, "'b:/x/y:ro'"));
	for (int i = 0; i <= SANDBOX_MAX_VOLUMES; i++) {
		memset(&list[i], 0, sizeof(list[i]));
		snprintf(list[i].guest, sizeof(list[i].guest), "/v%d", i);
		list[i].is_anonymous = true;
	}
	assert_int_equal(volume_check_list(list, SANDBOX_MAX_VOLUMES, &err), 0);
	assert_int_equal(volume_check_list(list, SANDBOX_MAX_VOLUMES + 1, &err), -1);
	assert_non_null(strstr(err.op, "too many volumes"));
}

static void test_names(void **state)
{
	char longest[SANDBOX_VOLUME_NAME_MAX + 2];
	(void)state;
	assert_int_equal(volume_check_name("a"), 0);
	assert_int_equal(volume_check_name("9x.y_z-w"), 0);
	assert_int_equal(volume_check_name(""), -1);
	assert_int_equal(volume_check_name("."), -1);
	assert_int_equal(volume_check_name(".."), -1);
	assert_int_equal(volume_check_name("a/b"), -1);
	assert_int_equal(volume_check_name("_a"), -1);
	assert_int_equal(volume_check_name("a b"), -1);
	memset(longest, 'a', sizeof(longest));
	longest[SANDBOX_VOLUME_NAME_MAX] = '\0';
	assert_int_equal(volume_check_name(longest), 0);
	longest[SANDBOX_VOLUME_NAME_MAX] = 'a';
	longest[SANDBOX_VOLUME_NAME_MAX + 1] = '\0';
	assert_int_equal(volume_check_name(longest), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accepted),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_host_path_hint_names_import),
	    cmocka_unit_test(test_across_specs),
	    cmocka_unit_test(test_check_list),
	    cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
