/* Unit tests for src/net/audit.c: the stderr lines of denials are few, short and never carry a
 * raw control byte, whatever names and reasons they are given; the audit log still gets every
 * record; the count of the lines not shown comes once at the end. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "net/audit.h"

static void test_shown_table(void **state)
{
	static const struct {
		const char *in;
		size_t max;
		const char *want;
	} cases[] = {
	    {"api.example.com", 100, "api.example.com"},
	    {"", 100, ""},
	    {"\x1b[2J\x1b]0;owned\x07", 100, "\\x1b[2J\\x1b]0;owned\\x07"},
	    {"line\nstockade: forged", 100, "line\\x0astockade: forged"},
	    {"back\\slash", 100, "back\\x5cslash"},
	    {"caf\xc3\xa9 \x9b"
	     "31m",
	     100, "caf\\xc3\\xa9 \\x9b31m"},
	    {"\x7f", 100, "\\x7f"},
	    {"abcdef", 6, "abcdef"},
	    {"abcdefg", 6, "abc..."},
	    {"ab\x1b"
	     "cdefgh",
	     8, "ab..."},	      /* an escape is never cut in half */
	    {"ab\x1b", 6, "ab\\x1b"}, /* fits exactly */
	    {"abcd", 2, "ab"},	      /* no room for "...": cut only */
	};
	char out[AUDIT_FIELD_SHOWN + 1];
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		audit_shown(cases[i].in, cases[i].max, out, sizeof(out));
		if (strcmp(out, cases[i].want) != 0)
			fail_msg("case %zu: \"%s\", want \"%s\"", i, out, cases[i].want);
	}
	audit_shown(NULL, 100, out, sizeof(out));
	assert_string_equal(out, "");
}

static void test_shown_bounds(void **state)
{
	char in[2000], out[AUDIT_FIELD_SHOWN + 1], small[8];
	(void)state;
	memset(in, 'a', sizeof(in) - 1);
	in[sizeof(in) - 1] = '\0';
	audit_shown(in, AUDIT_FIELD_SHOWN, out, sizeof(out));
	assert_int_equal(strlen(out), AUDIT_FIELD_SHOWN);
	assert_string_equal(out + AUDIT_FIELD_SHOWN - 3, "...");
	for (size_t i = 0; i < sizeof(in) - 1; i++)
		in[i] = (char)(1 + i % 255);
	audit_shown(in, AUDIT_FIELD_SHOWN, out, sizeof(out));
	assert_true(strlen(out) <= AUDIT_FIELD_SHOWN);
	for (const char *p = out; *p; p++)
		assert_true(*p >= 0x20 && *p < 0x7f);
	/* An output smaller than max lowers max: never written past. */
	memset(small, 'Z', sizeof(small));
	audit_shown("abcdefghijk", 100, small, sizeof(small));
	assert_string_equal(small, "abcd...");
}

/* Reads everything written to a pipe's read end so far. */
static size_t drain(int fd, char *buf, size_t size)
{
	size_t n = 0;
	ssize_t got;

	while (n < size - 1 && (got = read(fd, buf + n, size - 1 - n)) > 0)
		n += (size_t)got;
	buf[n] = '\0';
	return n;
}

static size_t count(const char *text, const char *what)
{
	size_t n = 0;

	for (const char *p = strstr(text, what); p; p = strstr(p + 1, what))
		n++;
	return n;
}

static void test_denial_lines_bounded(void **state)
{
	int err_pipe[2], log_pipe[2];
	char long_name[400], *text = malloc(1 << 20);
	struct audit audit = {0};
	(void)state;
	assert_non_null(text);
	assert_int_equal(pipe2(err_pipe, O_NONBLOCK), 0);
	assert_int_equal(pipe2(log_pipe, O_NONBLOCK), 0);
	fcntl(log_pipe[0], F_SETPIPE_SZ, 1 << 20);
	audit.fd = log_pipe[1];
	audit.stderr_fd = err_pipe[1];
	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	for (int i = 0; i < 300; i++) {
		struct audit_event e = {
		    .is_allowed = i % 3 == 2,
		    .proto = "http-connect",
		    .host = i % 2 ? long_name : "\x1b[31mred\x1b[0m\r\nstockade: forged.test",
		    .port = 443,
		    .addr = "",
		    .reason = i % 2 ? "no allow rule matches"
				    : "\x1b]0;title\x07 and a very long "
				      "reason that goes on and on and on "
				      "and on and on and on and on and on",
		};
		audit_write(&audit, &e);
	}
	assert_int_equal(audit.denied, 200);
	assert_int_equal(audit.allowed, 100);
	assert_int_equal(audit.not_shown, 200 - AUDIT_STDERR_LINES);
	audit_finish(&audit);
	size_t n = drain(err_pipe[0], text, 1 << 20);
	assert_int_equal(count(text, "stockade: egress denied: "), AUDIT_STDERR_LINES);
	assert_non_null(strstr(text, "stockade: egress: 190 more denials not shown, all are in the "
				     "--audit file\n"));
	assert_int_equal(count(text, "\n"), AUDIT_STDERR_LINES + 1);
	for (size_t i = 0; i < n; i++)
		if (text[i] != '\n' && (text[i] < 0x20 || text[i] == 0x7f))
			fail_msg("raw control byte 0x%02x on stderr at %zu", text[i], i);
	assert_non_null(strstr(text, "nnn... port 443"));
	assert_non_null(strstr(text, "\\x1b[31mred\\x1b[0m\\x0d\\x0astockade: forged.test port"));
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		assert_true(strlen(line) <= 40 + 3 * AUDIT_FIELD_SHOWN);
	/* The log has every record, the names as given (jansson escapes them). */
	(void)drain(log_pipe[0], text, 1 << 20);
	assert_int_equal(count(text, "\"decision\":\"deny\""), 200);
	assert_int_equal(count(text, "\"decision\":\"allow\""), 100);
	assert_int_equal(count(text, long_name), 150); /* every odd one */
	close(err_pipe[0]), close(err_pipe[1]), close(log_pipe[0]), close(log_pipe[1]);
	free(text);
}

static void test_few_denials_no_summary_and_quiet(void **state)
{
	int err_pipe[2];
	char text[8192];
	struct audit audit = {0};
	struct audit_event e = {
	    .proto = "socks5", .host = "a.test", .port = 80, .reason = "no allow rule matches"};
	(void)state;
	assert_int_equal(pipe2(err_pipe, O_NONBLOCK), 0);
	audit.fd = -1;
	audit.stderr_fd = err_pipe[1];
	for (int i = 0; i < AUDIT_STDERR_LINES; i++)
		audit_write(&audit, &e);
	audit_finish(&audit);
	drain(err_pipe[0], text, sizeof(text));
	assert_int_equal(count(text, "stockade: egress denied: a.test port 80 (no allow rule "
				     "matches)\n"),
			 AUDIT_STDERR_LINES);
	assert_null(strstr(text, "not shown"));
	/* One more, without a log file: the count says where to look. */
	audit_write(&audit, &e);
	audit_finish(&audit);
	drain(err_pipe[0], text, sizeof(text));
	assert_string_equal(text, "stockade: egress: 1 more denials not shown, see --audit FILE\n");
	/* --quiet: nothing at all. */
	struct audit quiet = {.fd = -1, .stderr_fd = err_pipe[1], .is_quiet = true};
	for (int i = 0; i < 50; i++)
		audit_write(&quiet, &e);
	audit_finish(&quiet);
	assert_int_equal(drain(err_pipe[0], text, sizeof(text)), 0);
	assert_int_equal(quiet.denied, 50);
	close(err_pipe[0]), close(err_pipe[1]);
}

/* An allowed record says what it was let carry. */
static void test_carries_recorded(void **state)
{
	int log_pipe[2];
	char text[4096];
	struct audit audit = {0};
	struct audit_event e = {.is_allowed = true,
				.proto = "http-connect",
				.host = "db.test",
				.port = 5432,
				.rule = "db.test:5432/raw",
				.carries = "raw"};
	(void)state;
	assert_int_equal(pipe2(log_pipe, O_NONBLOCK), 0);
	audit.fd = log_pipe[1];
	audit.stderr_fd = -1;
	audit_write(&audit, &e);
	drain(log_pipe[0], text, sizeof(text));
	json_error_t error;
	json_t *obj = json_loads(text, 0, &error);
	assert_non_null(obj);
	assert_string_equal(json_string_value(json_object_get(obj, "carries")), "raw");
	assert_string_equal(json_string_value(json_object_get(obj, "rule")), "db.test:5432/raw");
	json_decref(obj);
	close(log_pipe[0]), close(log_pipe[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shown_table),
	    cmocka_unit_test(test_shown_bounds),
	    cmocka_unit_test(test_denial_lines_bounded),
	    cmocka_unit_test(test_few_denials_no_summary_and_quiet),
	    cmocka_unit_test(test_carries_recorded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
