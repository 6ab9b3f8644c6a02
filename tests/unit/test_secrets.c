/* Unit tests for src/sandbox/secrets.c (the --secret grammar, the checks of a spec's secrets,
 * the parent's checks of the memfds, the environment slots) and src/cli/secrets.c (a value read
 * into a sealed memfd; a variable's value wiped from the environment block and unset). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli/cli.h"
#include "sandbox/secrets.h"

static void parses(const char *text, const char *name, enum sandbox_secret_source source,
		   const char *from, const char *env)
{
	struct sandbox_secret s;
	struct sk_err err = {0};
	char back[600];

	assert_int_equal(secret_parse(text, &s, &err), 0);
	assert_string_equal(s.name, name);
	assert_int_equal(s.source, source);
	assert_int_equal(s.from_len, strlen(from));
	assert_memory_equal(s.from, from, s.from_len);
	if (env) {
		assert_non_null(s.env);
		assert_int_equal(s.env_len, strlen(env));
		assert_memory_equal(s.env, env, s.env_len);
	} else {
		assert_null(s.env);
	}
	secret_format(&s, back, sizeof(back));
	assert_string_equal(back, text); /* what policy show prints reads back the same */
}

static void test_grammar(void **state)
{
	(void)state;
	parses("api=@/run/keys/api", "api", SECRET_FROM_FILE, "/run/keys/api", NULL);
	parses("api=@key.txt,env=API_KEY", "api", SECRET_FROM_FILE, "key.txt", "API_KEY");
	parses("gh=env:GH_TOKEN", "gh", SECRET_FROM_ENV, "GH_TOKEN", NULL);
	parses("gh.v2-x_y=env:T,env=GITHUB_TOKEN", "gh.v2-x_y", SECRET_FROM_ENV, "T",
	       "GITHUB_TOKEN");
	/* a path may hold commas and "=": only a last ",env=KEY" is the option */
	parses("k=@/a,b=c/x,env=K", "k", SECRET_FROM_FILE, "/a,b=c/x", "K");
}

static void test_refusals_never_quote_the_text(void **state)
{
	static const struct {
		const char *text, *needle;
	} bad[] = {
	    {"api=hunter2-value", "its source must be @FILE or env:VAR"},
	    {"hunter2-value", "no valid NAME="},
	    {"=@f", "no valid NAME="},
	    {".x=@f", "no valid NAME="},
	    {"a/b=@f", "no valid NAME="},
	    {"a=@", "empty or too long file"},
	    {"a=env:", "empty or too long variable"},
	    {"a=env:1X", "invalid env: variable name"},
	    {"a=env:X,env=1Y", "invalid env= variable name"},
	    {"a=@f,env=", "invalid env= variable name"},
	    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=@f",
	     "no valid NAME="},
	};
	struct sandbox_secret s;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sk_err err = {0};
		assert_int_equal(secret_parse(bad[i].text, &s, &err), -1);
		assert_non_null(strstr(err.op, bad[i].needle));
		assert_null(strstr(err.op, "hunter2"));
		assert_null(strstr(err.hint, "hunter2"));
	}
}

static void add(struct sandbox_spec *spec, const char *text)
{
	struct sandbox_secret s;
	struct sk_err err = {0};

	assert_int_equal(secret_parse(text, &s, &err), 0);
	assert_int_equal(secret_add(spec, &s, &err), 0);
}

static void test_checks(void **state)
{
	struct sandbox_spec spec = {0};
	struct sk_err err = {0};

	(void)state;
	add(&spec, "a=@f,env=A");
	add(&spec, "b=env:SRC");
	assert_int_equal(secrets_check(&spec, &err), 0);
	/* the same name again replaces (a later layer wins) */
	add(&spec, "a=@g");
	assert_int_equal(spec.secret_count, 2);
	assert_null(spec.secrets[0].env);
	add(&spec, "c=@h,env=K");
	add(&spec, "d=@i,env=K");
	assert_int_equal(secrets_check(&spec, &err), -1);
	assert_non_null(strstr(err.op, "set the same variable"));
	spec.secret_count = 2;
	spec.env_add[0] = "SRC"; /* -e SRC would copy b's source in the clear */
	spec.env_add_count = 1;
	assert_int_equal(secrets_check(&spec, &err), -1);
	assert_non_null(strstr(err.op, "passes the source of --secret b"));
	spec.env_add[0] = "SRC=literal"; /* a value of -e's own is no copy */
	assert_int_equal(secrets_check(&spec, &err), 0);
	add(&spec, "e=@j,env=SRC");
	assert_int_equal(secrets_check(&spec, &err), -1);
	assert_non_null(strstr(err.op, "sets SRC, and so does -e"));
	spec.secret_count = SANDBOX_MAX_SECRETS;
	for (size_t i = 0; i < SANDBOX_MAX_SECRETS; i++)
		snprintf(spec.secrets[i].name, sizeof(spec.secrets[i].name), "s%zu", i);
	struct sandbox_secret more;
	assert_int_equal(secret_parse("more=@x", &more, &err), 0);
	assert_int_equal(secret_add(&spec, &more, &err), -1);
}

static int sealed_memfd(const char *value, size_t len, bool seal)
{
	struct sk_err err = {0};
	int fd = secrets_memfd_create("t", &err);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, value, len), (ssize_t)len);
	if (seal)
		assert_int_equal(secrets_memfd_seal(fd, "t", &err), 0);
	return fd;
}

static void test_prepare_takes_only_sealed_memfds(void **state)
{
	struct sandbox_spec spec = {0};
	struct secrets_plan plan;
	struct env_plan env = {0};
	struct sk_err err = {0};
	int fds[1], p[2];

	(void)state;
	add(&spec, "a=@f,env=API");
	fds[0] = sealed_memfd("value", 5, false); /* unsealed: could change after the check */
	assert_int_equal(secrets_prepare(&plan, &spec, fds, &err), -1);
	assert_non_null(strstr(err.op, "not a sealed memfd"));
	close(fds[0]);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	fds[0] = p[0];
	assert_int_equal(secrets_prepare(&plan, &spec, fds, &err), -1);
	close(p[0]);
	close(p[1]);
	fds[0] = sealed_memfd("value", 5, true);
	assert_int_equal(secrets_prepare(&plan, &spec, fds, &err), 0);
	assert_int_equal(plan.count, 1);
	assert_int_equal(plan.items[0].size, 5);
	/* the slot: "API=" and zeros, the value is never the parent's */
	assert_int_equal(env_set(&env, "PATH", "/bin", &err), 0);
	assert_int_equal(secrets_env_add(&plan, &env, &err), 0);
	assert_int_equal(env.count, 2);
	assert_string_equal(env.envp[1], "API=");
	assert_ptr_equal(plan.items[0].env_entry, env.envp[1]);
	env_plan_free(&env);
	/* a name stockade sets is refused */
	assert_int_equal(env_set(&env, "API", "x", &err), 0);
	assert_int_equal(secrets_env_add(&plan, &env, &err), -1);
	assert_non_null(strstr(err.op, "stockade sets API itself"));
	env_plan_free(&env);
	close(fds[0]);
	/* too large */
	char *big = calloc(1, SANDBOX_SECRET_MAX_BYTES + 1);
	assert_non_null(big);
	fds[0] = sealed_memfd(big, SANDBOX_SECRET_MAX_BYTES + 1, true);
	free(big);
	assert_int_equal(secrets_prepare(&plan, &spec, fds, &err), -1);
	assert_non_null(strstr(err.op, "too large"));
	close(fds[0]);
}

extern char **environ;

static void test_open_wipes_the_variable(void **state)
{
	struct sandbox_spec spec = {0};
	struct sk_err err = {0};
	int fds[CLI_VALUE_FDS];
	char *entry = NULL, got[64] = "";

	(void)state;
	assert_int_equal(setenv("STK_UNIT_SECRET", "the-value-42", 1), 0);
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "STK_UNIT_SECRET=", 16) == 0)
			entry = *e;
	assert_non_null(entry);
	add(&spec, "v=env:STK_UNIT_SECRET");
	assert_int_equal(cli_secrets_open(&spec, fds, &err), 0);
	/* wiped where it was, and unset */
	assert_memory_equal(entry + 16, "\0\0\0\0\0\0\0\0\0\0\0\0", 12);
	assert_null(getenv("STK_UNIT_SECRET"));
	/* the value is in the memfd, which can no longer change */
	assert_int_equal(pread(fds[0], got, sizeof(got) - 1, 0), 12);
	assert_string_equal(got, "the-value-42");
	assert_int_equal(fcntl(fds[0], F_GET_SEALS) & SECRETS_SEALS, SECRETS_SEALS);
	assert_int_equal(write(fds[0], "x", 1), -1);
	cli_secrets_close(fds, spec.secret_count);
	/* unset now: refused, and a refusal leaves no fd */
	assert_int_equal(cli_secrets_open(&spec, fds, &err), -1);
	assert_non_null(strstr(err.op, "is not set"));
	assert_int_equal(fds[0], -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_grammar),
	    cmocka_unit_test(test_refusals_never_quote_the_text),
	    cmocka_unit_test(test_checks),
	    cmocka_unit_test(test_prepare_takes_only_sealed_memfds),
	    cmocka_unit_test(test_open_wipes_the_variable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
