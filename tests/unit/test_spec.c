/* Unit tests for the sandbox spec as a document: src/spec/jsonpos.c (positions), src/spec/doc.c
 * (every class of error with its FILE:LINE:COL: PATH), src/spec/profile.c (built-ins, the
 * operator's files and what makes one unsafe), and the layers of a run in src/cli/policy.c
 * (defaults < profile < policy file < flags, lists appended and cleared, null resets). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "spec/doc.h"
#include "spec/jsonpos.h"
#include "spec/profile.h"

/* ---- helpers ---- */

static char scratch[256];

static int scratch_setup(void **state)
{
	(void)state;
	snprintf(scratch, sizeof(scratch), "/tmp/stockade-test-spec-XXXXXX");
	if (!mkdtemp(scratch))
		return -1;
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

static int scratch_teardown(void **state)
{
	(void)state;
	return nftw(scratch, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* The lines `stockade policy check` prints for a document (its real code path). */
static char *check_lines(const char *text, int *status)
{
	static char out[16384];
	char path[400], result[400];
	char *argv[] = {"policy", "check", path, NULL};
	struct sk_err err = {0};
	int saved, fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/p.json", scratch);
	snprintf(result, sizeof(result), "%s/out", scratch);
	write_file(path, text, 0600);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	fd = open(result, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, STDOUT_FILENO);
	close(fd);
	*status = cli_policy(3, argv, &err);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	fd = open(result, O_RDONLY | O_CLOEXEC);
	n = read(fd, out, sizeof(out) - 1);
	close(fd);
	out[n > 0 ? n : 0] = '\0';
	return out;
}

/* The spec of `stockade run ARGS...` (getopt reset between parses). */
static int parse_run(struct sandbox_spec *spec, struct cli_sources *sources, struct sk_err *err,
		     ...)
{
	char *argv[64];
	int argc = 0, wants_help;
	va_list ap;

	argv[argc++] = "run";
	va_start(ap, err);
	for (char *arg; (arg = va_arg(ap, char *)) != NULL && argc < 63;)
		argv[argc++] = arg;
	va_end(ap);
	argv[argc] = NULL;
	optind = 0;
	memset(err, 0, sizeof(*err));
	return cli_run_parse(argc, argv, spec, sources, &wants_help, err);
}

static const char *policy_file(const char *text)
{
	static char path[400];

	snprintf(path, sizeof(path), "%s/policy.json", scratch);
	write_file(path, text, 0600);
	return path;
}

/* ---- jsonpos ---- */

static void test_positions_of_values_and_keys(void **state)
{
	static const char text[] = "{\n"
				   "  \"a\": 1,\n"
				   "  \"net\": {\"allow\": [\"x\", \"y\",\n"
				   "    \"z\"], \"m\\u006fde\": \"none\"},\n"
				   "  \"é\": [[], {}, true]\n"
				   "}\n";
	struct jsonpos_seg allow2[] = {{.key = "net"}, {.key = "allow"}, {.index = 2}};
	struct jsonpos_seg mode[] = {{.key = "net"}, {.key = "mode"}};
	struct jsonpos_seg accent[] = {{.key = "é"}, {.index = 2}};
	struct jsonpos_seg missing[] = {{.key = "net"}, {.key = "deny"}};
	struct jsonpos pos;
	(void)state;

	assert_int_equal(jsonpos_find(text, strlen(text), NULL, 0, false, &pos), 0);
	assert_int_equal(pos.line, 1);
	assert_int_equal(pos.col, 1);
	assert_int_equal(jsonpos_find(text, strlen(text), allow2, 3, false, &pos), 0);
	assert_int_equal(pos.line, 4);
	assert_int_equal(pos.col, 5);
	/* an escaped key is matched by what it means; a key's own position on request */
	assert_int_equal(jsonpos_find(text, strlen(text), mode, 2, false, &pos), 0);
	assert_int_equal(pos.line, 4);
	assert_int_equal(pos.col, 24);
	assert_int_equal(jsonpos_find(text, strlen(text), mode, 2, true, &pos), 0);
	assert_int_equal(pos.col, 11);
	/* columns count characters: "é" is one */
	assert_int_equal(jsonpos_find(text, strlen(text), accent, 2, false, &pos), 0);
	assert_int_equal(pos.line, 5);
	assert_int_equal(pos.col, 17);
	assert_int_equal(jsonpos_find(text, strlen(text), missing, 2, false, &pos), -1);
}

static void test_positions_in_broken_text(void **state)
{
	static const char *const texts[] = {
	    "",	       "{",    "{\"a\"",
	    "{\"a\":", "[1,",  "\"abc",
	    "{]}",     "}}}}", "{\"a\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}"};
	struct jsonpos_seg a[] = {{.key = "a"}, {.index = 0}};
	struct jsonpos pos;
	char path[64];
	(void)state;

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		(void)jsonpos_find(texts[i], strlen(texts[i]), a, 2, false, &pos);
		(void)jsonpos_key_ending_at(texts[i], strlen(texts[i]), 3, path, sizeof(path),
					    &pos);
	}
	/* deeper than tracked: skipped whole, and what follows is still found */
	char deep[200] = "{\"d\":";
	for (int i = 0; i < 2 * JSONPOS_MAX_DEPTH; i++)
		sk_strlcat(deep, "[", sizeof(deep));
	sk_strlcat(deep, "\"]\"", sizeof(deep));
	for (int i = 0; i < 2 * JSONPOS_MAX_DEPTH; i++)
		sk_strlcat(deep, "]", sizeof(deep));
	sk_strlcat(deep, ",\"a\":[7]}", sizeof(deep));
	assert_int_equal(jsonpos_find(deep, strlen(deep), a, 2, false, &pos), 0);
	assert_int_equal(pos.col, (int)(strchr(deep, '7') - deep) + 1);
}

static void test_key_ending_at(void **state)
{
	static const char text[] = "{\"n\": {\"mode\": 1,\n \"mode\": 2}}";
	char path[64];
	struct jsonpos pos;
	size_t end = (size_t)(strstr(text, "\n \"mode\"") - text) + 8;
	(void)state;

	assert_int_equal(jsonpos_key_ending_at(text, strlen(text), end, path, sizeof(path), &pos),
			 0);
	assert_string_equal(path, "n.mode");
	assert_int_equal(pos.line, 2);
	assert_int_equal(pos.col, 2);
	assert_int_equal(jsonpos_key_ending_at(text, strlen(text), 4, path, sizeof(path), &pos), 0);
	assert_string_equal(path, "n");
	assert_int_equal(jsonpos_key_ending_at(text, strlen(text), 5, path, sizeof(path), &pos),
			 -1);
}

/* ---- every class of error, with its place ---- */

struct bad_doc {
	const char *text;
	const char *line; /* the one line `policy check` prints, after "DIR/p.json:" */
};

static void test_each_error_class_with_its_place(void **state)
{
	static const struct bad_doc table[] = {
	    /* syntax: jansson's words and place */
	    {"{\"stockade\": 1,\n \"uid\": 5,}", "2:11: string or '}' expected near '}'"},
	    {"", "1:1: '[' or '{' expected near end of file"},
	    {"{\"stockade\": 1} x", "1:17: end of file expected near 'x'"},
	    {"{\"stockade\": 1, \"hostname\": \"\xff\"}", "1:29: unable to decode byte 0xff"},
	    {"{\"stockade\": 1, \"env\": [\"A=\\u0000\"]}", "1:34: \\u0000 is not allowed"},
	    /* a duplicate key: its path and the second key's place */
	    {"{\"stockade\": 1,\n \"limits\": {\"pids\": 5,\n   \"pids\": 6}}",
	     "3:4: limits.pids: duplicate key"},
	    /* not an object; the version */
	    {"[]", "1:1: expected an object, got an array"},
	    {"{}", "1:1: stockade: missing"},
	    {"{\"stockade\": 2}", "1:14: stockade: version 2 is not supported"},
	    {"{\"stockade\": \"1\"}", "1:14: stockade: expected 1, got a string"},
	    /* unknown and reserved keys: at the key */
	    {"{\"stockade\": 1, \"hostnme\": \"x\"}", "1:17: hostnme: unknown key (known here:"},
	    {"{\"stockade\": 1, \"network\": {\"alow\": []}}",
	     "1:29: network.alow: unknown key (known here: allow, deny,"},
	    {"{\"stockade\": 1, \"secrets\": {}}", "1:28: secrets: expected a list of strings"},
	    {"{\"stockade\": 1, \"secrets\": [\"k=sk-live\"]}",
	     "1:29: secrets[0]: --secret k: its source must be @FILE or env:VAR"},
	    /* network.host was reserved: the host's services are allow rules
	     * ("host.stockade.internal:PORT"), so it is an unknown key like any other */
	    {"{\"stockade\": 1, \"network\": {\"host\": 1}}",
	     "1:29: network.host: unknown key (known here: allow, deny,"},
	    /* wrong types: at the value */
	    {"{\"stockade\": 1, \"uid\": \"5\"}", "1:24: uid: expected an integer, got a string"},
	    {"{\"stockade\": 1, \"quiet\": 1}",
	     "1:26: quiet: expected true or false, got an integer"},
	    {"{\"stockade\": 1, \"limits\": {\"memory\": true}}",
	     "1:38: limits.memory: expected a size"},
	    {"{\"stockade\": 1, \"limits\": {\"cpus\": [1]}}",
	     "1:36: limits.cpus: expected a string"},
	    {"{\"stockade\": 1, \"network\": {\"allow\": \"a.test\"}}",
	     "1:38: network.allow: expected a list of strings, got a string"},
	    {"{\"stockade\": 1, \"env\": [\"A=1\", 2]}",
	     "1:32: env[1]: expected a string, got an integer"},
	    {"{\"stockade\": 1, \"limits\": 5}",
	     "1:27: limits: expected an object, got an integer"},
	    {"{\"stockade\": 1, \"command\": []}", "1:28: command: expected a non-empty list"},
	    {"{\"stockade\": 1, \"command\": [\"\"]}", "1:29: command[0]: empty command name"},
	    {"{\"stockade\": 1, \"profile\": 3}",
	     "1:28: profile: expected a string, got an integer"},
	    /* out of range or malformed values: the flag's own parser and words */
	    {"{\"stockade\": 1, \"uid\": 0}",
	     "1:24: uid: invalid --uid 0 (a number from 1 to 65533)"},
	    {"{\"stockade\": 1, \"uid\": -3}", "1:24: uid: invalid --uid '-3'"},
	    {"{\"stockade\": 1, \"limits\": {\"memory\": \"12q\"}}",
	     "1:38: limits.memory: invalid --memory '12q' (a size of at least 1m, e.g. 512m)"},
	    {"{\"stockade\": 1, \"limits\": {\"memory\": 1024}}",
	     "1:38: limits.memory: invalid --memory 1024"},
	    {"{\"stockade\": 1, \"limits\": {\"cpus\": 0.0001}}",
	     "1:36: limits.cpus: invalid --cpus '0.0001'"},
	    {"{\"stockade\": 1, \"limits\": {\"timeout\": 0}}",
	     "1:39: limits.timeout: invalid --timeout '0'"},
	    {"{\"stockade\": 1, \"limits\": {\"pids\": 99999999}}",
	     "1:36: limits.pids: invalid --pids-limit"},
	    {"{\"stockade\": 1, \"hostname\": \"a b\"}",
	     "1:29: hostname: invalid --hostname 'a b'"},
	    {"{\"stockade\": 1, \"workdir\": \"tmp\"}", "1:28: workdir: invalid --workdir 'tmp'"},
	    {"{\"stockade\": 1, \"network\": {\"mode\": \"open\"}}",
	     "1:37: network.mode: invalid --network 'open' (one of none, allowlist, public)"},
	    {"{\"stockade\": 1, \"tty\": \"sometimes\"}", "1:24: tty: invalid --tty 'sometimes'"},
	    {"{\"stockade\": 1, \"allow_degraded\": [\"mount\"]}",
	     "1:36: allow_degraded[0]: invalid --allow-degraded 'mount'"},
	    {"{\"stockade\": 1, \"volumes\": [\"/a\", \"/etc/x\"]}",
	     "1:35: volumes[1]: invalid -v '/etc/x': a volume cannot go over the system tree"},
	    {"{\"stockade\": 1, \"volumes\": [\"/a\", \"/a/b\"]}",
	     "1:35: volumes[1]: invalid -v '/a/b': one volume cannot be inside another"},
	    {"{\"stockade\": 1, \"profile\": \"../etc\"}", "1:28: profile: invalid profile name"},
	    {"{\"stockade\": 1, \"profile\": \"no-such-profile\"}",
	     "1:28: profile: no profile 'no-such-profile'"},
	    /* require: a section of its own, its names known, its values the flag's */
	    {"{\"stockade\": 1, \"require\": 7}",
	     "1:28: require: expected an object, got an integer"},
	    {"{\"stockade\": 1, \"require\": {\"seccomp\": true}}",
	     "1:29: require.seccomp: unknown key (known here: landlock_abi)"},
	    {"{\"stockade\": 1, \"require\": {\"landlock_abi\": \"7\"}}",
	     "1:45: require.landlock_abi: expected an integer, got a string"},
	    {"{\"stockade\": 1, \"require\": {\"landlock_abi\": 0}}",
	     "1:45: require.landlock_abi: invalid --require 'landlock_abi=0'"},
	    {"{\"stockade\": 1,\n \"require\": {\"landlock_abi\": 256}}",
	     "2:30: require.landlock_abi: invalid --require 'landlock_abi=256'"},
	    {"{\"stockade\": 1, \"allow_degraded\": [\"landlock\"],\n"
	     " \"require\": {\"landlock_abi\": 3}}",
	     "2:30: require.landlock_abi: --require landlock_abi=3 and --allow-degraded landlock "
	     "contradict"},
	};
	char home[400];
	(void)state;

	snprintf(home, sizeof(home), "%s/home", scratch);
	setenv("STOCKADE_HOME", home, 1);
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		char expected[600];
		int status;
		const char *out = check_lines(table[i].text, &status);
		snprintf(expected, sizeof(expected), "%s/p.json:%s", scratch, table[i].line);
		if (status != 1 || strncmp(out, expected, strlen(expected)) != 0 ||
		    strchr(out, '\n') != out + strlen(out) - 1)
			fail_msg(
			    "document %zu: %s\nexpected one line starting: %s\ngot (exit %d): %s",
			    i, table[i].text, expected, status, out);
	}
}

static void test_every_problem_listed_in_order(void **state)
{
	static const char text[] = "{\n"
				   "  \"stockade\": 1,\n"
				   "  \"limits\": {\"tmpfs\": \"1x\", \"pids\": \"9\"},\n"
				   "  \"hostname\": \"-bad\",\n"
				   "  \"bogus\": 1\n"
				   "}\n";
	int status;
	const char *out;
	const char *first, *second, *third, *fourth;
	(void)state;

	out = check_lines(text, &status);
	assert_int_equal(status, 1);
	first = strstr(out, ":3:23: limits.tmpfs: invalid --tmpfs-size '1x'");
	second = strstr(out, ":3:37: limits.pids: expected an integer");
	third = strstr(out, ":4:15: hostname: invalid --hostname '-bad'");
	fourth = strstr(out, ":5:3: bogus: unknown key");
	if (!first || !second || !third || !fourth ||
	    !(first < second && second < third && third < fourth))
		fail_msg("four problems, in the order of the text:\n%s", out);
	out = check_lines("{\"stockade\": 1, \"limits\": {\"tmpfs\": \"64m\"}}", &status);
	assert_int_equal(status, 0);
	assert_non_null(strstr(out, "p.json: ok"));
}

static void test_issues_are_capped(void **state)
{
	char text[8192] = "{\"stockade\": 1, \"env\": [";
	int status;
	const char *out;
	(void)state;

	for (int i = 0; i < SPEC_ISSUES_MAX + 20; i++)
		sk_strlcat(text, i ? ", 1" : "1", sizeof(text));
	sk_strlcat(text, "]}", sizeof(text));
	out = check_lines(text, &status);
	assert_int_equal(status, 1);
	assert_non_null(strstr(out, "and 20 more"));
}

/* ---- the fields and their flags ---- */

static void test_every_field_is_a_flag_and_resets(void **state)
{
	(void)state;
	for (size_t i = 0; i < spec_field_count; i++) {
		const struct spec_field *f = &spec_fields[i];
		struct sandbox_spec spec;
		struct sk_err err = {0};
		char text[200];
		int status;

		/* a flag of `stockade run` that exists: a bad value gets that flag's refusal */
		cli_run_defaults(&spec);
		if (cli_run_apply_option(f->flag, "\x01", &spec, &err) < 0)
			assert_null(strstr(err.op, "no option"));
		/* null is accepted everywhere, and means the built-in default */
		if (f->section)
			snprintf(text, sizeof(text), "{\"stockade\": 1, \"%s\": {\"%s\": null}}",
				 f->section, f->key);
		else
			snprintf(text, sizeof(text), "{\"stockade\": 1, \"%s\": null}", f->key);
		const char *out = check_lines(text, &status);
		if (status != 0)
			fail_msg("%s: %s", text, out);
	}
}

static void test_null_resets_and_false_clears(void **state)
{
	struct sandbox_spec spec;
	struct cli_sources sources = {0};
	struct sk_err err;
	const char *path;
	(void)state;

	path = policy_file("{\"stockade\": 1, \"workdir\": null, \"limits\": {\"memory\": null, "
			   "\"tmpfs\": null}, \"env\": null, \"quiet\": false, \"tty\": null}");
	assert_int_equal(parse_run(&spec, &sources, &err, "--workdir", "/tmp", "--policy", path,
				   "--", "true", (char *)NULL),
			 0);
	/* the flag came after the file (flags win) */
	assert_string_equal(spec.workdir, "/tmp");
	cli_sources_free(&sources);
	/* a profile's values put back by the file's nulls */
	char home[400], dir[450], profile[500];
	snprintf(home, sizeof(home), "%s/home-null", scratch);
	snprintf(dir, sizeof(dir), "%s/profiles", home);
	snprintf(profile, sizeof(profile), "%s/full.json", dir);
	assert_int_equal(mkdir(home, 0700), 0);
	assert_int_equal(mkdir(dir, 0700), 0);
	write_file(profile,
		   "{\"stockade\": 1, \"workdir\": \"/tmp\", \"limits\": {\"memory\": \"64m\", "
		   "\"tmpfs\": \"8m\"}, \"env\": [\"A=1\"], \"quiet\": true, \"tty\": \"never\"}",
		   0600);
	setenv("STOCKADE_HOME", home, 1);
	path =
	    policy_file("{\"stockade\": 1, \"profile\": \"full\", \"workdir\": null, \"limits\": "
			"{\"memory\": null, \"tmpfs\": null}, \"env\": null, \"quiet\": false, "
			"\"tty\": null}");
	assert_int_equal(
	    parse_run(&spec, &sources, &err, "--policy", path, "--", "true", (char *)NULL), 0);
	assert_string_equal(spec.workdir, SANDBOX_HOME);
	assert_int_equal(spec.memory_bytes, 0);
	assert_int_equal(spec.tmpfs_bytes, 1ull << 30);
	assert_int_equal(spec.env_add_count, 0);
	assert_false(spec.is_quiet);
	assert_int_equal(spec.tty_mode, SANDBOX_TTY_AUTO);
	cli_sources_free(&sources);
	/* without the nulls, the profile's values */
	path = policy_file("{\"stockade\": 1, \"profile\": \"full\"}");
	assert_int_equal(
	    parse_run(&spec, &sources, &err, "--policy", path, "--", "true", (char *)NULL), 0);
	assert_string_equal(spec.workdir, "/tmp");
	assert_int_equal(spec.memory_bytes, 64ull << 20);
	assert_int_equal(spec.tmpfs_bytes, 8ull << 20);
	assert_int_equal(spec.env_add_count, 1);
	assert_true(spec.is_quiet);
	assert_int_equal(spec.tty_mode, SANDBOX_TTY_NEVER);
	cli_sources_free(&sources);
}

/* ---- the layers ---- */

static void test_merge_order(void **state)
{
	struct sandbox_spec spec;
	struct cli_sources sources = {0};
	struct sk_err err;
	char home[400], dir[450], profile[500];
	const char *path;
	(void)state;

	snprintf(home, sizeof(home), "%s/home-merge", scratch);
	snprintf(dir, sizeof(dir), "%s/profiles", home);
	snprintf(profile, sizeof(profile), "%s/layer.json", dir);
	assert_int_equal(mkdir(home, 0700), 0);
	assert_int_equal(mkdir(dir, 0700), 0);
	/* each layer sets what the one below set, and one thing of its own */
	write_file(
	    profile,
	    "{\"stockade\": 1, \"hostname\": \"profile\", \"workdir\": \"/p\", \"uid\": 2000, "
	    "\"env\": [\"P=1\"], \"limits\": {\"pids\": 11, \"tmpfs\": \"16m\"}}",
	    0600);
	setenv("STOCKADE_HOME", home, 1);
	path = policy_file("{\"stockade\": 1, \"profile\": \"layer\", \"hostname\": \"file\", "
			   "\"workdir\": \"/f\", \"env\": [\"F=1\"], \"limits\": {\"pids\": 22}, "
			   "\"command\": [\"from-file\", \"x\"]}");

	/* defaults < profile < file */
	assert_int_equal(parse_run(&spec, &sources, &err, "--policy", path, (char *)NULL), 0);
	assert_string_equal(spec.hostname, "file");
	assert_string_equal(spec.workdir, "/f");
	assert_int_equal(spec.uid, 2000);
	assert_int_equal(spec.pids_limit, 22);
	assert_int_equal(spec.tmpfs_bytes, 16ull << 20);
	assert_int_equal(spec.memory_bytes, 0);
	assert_int_equal(spec.env_add_count, 2);
	assert_string_equal(spec.env_add[0], "P=1");
	assert_string_equal(spec.env_add[1], "F=1");
	assert_string_equal(spec.argv[0], "from-file");
	cli_sources_free(&sources);

	/* < flags, wherever --policy stands among them; the command line's command wins */
	assert_int_equal(parse_run(&spec, &sources, &err, "--hostname", "flag", "-e", "G=1",
				   "--policy", path, "--pids-limit", "33", "--", "from-flags",
				   (char *)NULL),
			 0);
	assert_string_equal(spec.hostname, "flag");
	assert_string_equal(spec.workdir, "/f");
	assert_int_equal(spec.pids_limit, 33);
	assert_int_equal(spec.env_add_count, 3);
	assert_string_equal(spec.env_add[2], "G=1");
	assert_string_equal(spec.argv[0], "from-flags");
	assert_null(spec.argv[1]);
	cli_sources_free(&sources);

	/* --profile replaces the file's "profile" */
	assert_int_equal(
	    parse_run(&spec, &sources, &err, "--profile", "strict", "--policy", path, (char *)NULL),
	    0);
	assert_int_equal(spec.uid, SANDBOX_DEFAULT_UID);
	assert_int_equal(spec.memory_bytes, 512ull << 20);
	assert_int_equal(spec.pids_limit, 22);
	assert_int_equal(spec.env_add_count, 1);
	cli_sources_free(&sources);

	/* no command anywhere */
	path = policy_file("{\"stockade\": 1}");
	assert_int_equal(parse_run(&spec, &sources, &err, "--policy", path, (char *)NULL), -1);
	assert_non_null(strstr(err.op, "no command given"));
	cli_sources_free(&sources);
	/* twice */
	assert_int_equal(parse_run(&spec, &sources, &err, "--policy", path, "--policy", path, "--",
				   "x", (char *)NULL),
			 -1);
	assert_non_null(strstr(err.op, "--policy given twice"));
	cli_sources_free(&sources);
}

static void test_lists_append_and_clear(void **state)
{
	struct sandbox_spec spec;
	struct cli_sources sources = {0};
	struct sk_err err;
	const char *path;
	(void)state;

	path = policy_file("{\"stockade\": 1, \"env\": [\"A=1\", \"B=2\"], \"volumes\": [\"/v1\"], "
			   "\"network\": {\"allow\": [\"a.test\"], \"deny\": [\"b.a.test\"]}, "
			   "\"allow_degraded\": [\"cgroup\"]}");
	assert_int_equal(parse_run(&spec, &sources, &err, "--policy", path, "-e", "C=3", "-v",
				   "/v2", "--allow-net", "c.test", "--deny-net", "d.c.test",
				   "--allow-degraded", "seccomp", "--", "true", (char *)NULL),
			 0);
	assert_int_equal(spec.env_add_count, 3);
	assert_int_equal(spec.volume_count, 2);
	assert_int_equal(spec.allow_net_count, 2);
	assert_string_equal(spec.allow_net[0], "a.test");
	assert_string_equal(spec.allow_net[1], "c.test");
	assert_int_equal(spec.deny_net_count, 2);
	assert_int_equal(spec.allow_degraded, LAYER_CGROUP | LAYER_SECCOMP);
	assert_int_equal(spec.network_mode, SANDBOX_NETWORK_ALLOWLIST);
	cli_sources_free(&sources);

	/* --clear empties what came before it, from every layer; what follows stays */
	assert_int_equal(parse_run(&spec, &sources, &err, "--policy", path, "-e", "C=3", "--clear",
				   "env", "-e", "D=4", "--clear", "volume", "--clear", "allow-net",
				   "--clear", "deny-net", "--clear", "allow-degraded", "--", "true",
				   (char *)NULL),
			 0);
	assert_int_equal(spec.env_add_count, 1);
	assert_string_equal(spec.env_add[0], "D=4");
	assert_int_equal(spec.volume_count, 0);
	assert_int_equal(spec.allow_net_count, 0);
	assert_int_equal(spec.deny_net_count, 0);
	assert_int_equal(spec.allow_degraded, 0);
	cli_sources_free(&sources);
	assert_int_equal(
	    parse_run(&spec, &sources, &err, "--clear", "envs", "--", "true", (char *)NULL), -1);
	assert_non_null(strstr(err.op, "invalid --clear 'envs'"));

	/* a volume appended by a flag over the file's own guest path: the flags' words */
	assert_int_equal(parse_run(&spec, &sources, &err, "--policy", path, "-v", "x:/v1", "--",
				   "true", (char *)NULL),
			 -1);
	assert_non_null(strstr(err.op, "invalid -v 'x:/v1'"));
	cli_sources_free(&sources);
}

static void test_network_mode_and_rules(void **state)
{
	struct sandbox_spec spec;
	struct cli_sources sources = {0};
	struct sk_err err;
	const char *path;
	(void)state;

	/* a rule implies the allowlist, as --allow-net does; the document's own mode wins */
	path = policy_file("{\"stockade\": 1, \"network\": {\"allow\": [\"a.test\"]}}");
	assert_int_equal(
	    parse_run(&spec, &sources, &err, "--policy", path, "--", "x", (char *)NULL), 0);
	assert_int_equal(spec.network_mode, SANDBOX_NETWORK_ALLOWLIST);
	cli_sources_free(&sources);
	/* the document's own mode wins, and rules under "none" are refused (spec_check: network
	 * options without a network), as the same flags are */
	path = policy_file(
	    "{\"stockade\": 1, \"network\": {\"mode\": \"none\", \"allow\": [\"a.test\"]}}");
	assert_int_equal(
	    parse_run(&spec, &sources, &err, "--policy", path, "--", "x", (char *)NULL), -1);
	assert_non_null(strstr(err.op, "network options given without network"));
	cli_sources_free(&sources);
	/* a flag after the file turns it off (and its rules are then refused the same way) */
	path = policy_file("{\"stockade\": 1, \"network\": {\"allow\": [\"a.test\"]}}");
	assert_int_equal(parse_run(&spec, &sources, &err, "--policy", path, "--network", "none",
				   "--", "x", (char *)NULL),
			 -1);
	assert_non_null(strstr(err.op, "network options given without network"));
	assert_int_equal(parse_run(&spec, &sources, &err, "--policy", path, "--network", "none",
				   "--clear", "allow-net", "--", "x", (char *)NULL),
			 0);
	assert_int_equal(spec.network_mode, SANDBOX_NETWORK_NONE);
	cli_sources_free(&sources);
}

/* --network public: only ever asked for by name (a rule implies the allowlist, never more,
 * and never lowers public either); ":PORT" rules only with it; the layers' order holds
 * (defaults < profile < file < flags); the predicate a later rule will ask. */
static void test_network_public(void **state)
{
	struct sandbox_spec spec;
	struct cli_sources sources = {0};
	struct sk_err err;
	char home[400], dir[450], profile[500];
	const char *path;
	(void)state;

	assert_int_equal(parse_run(&spec, &sources, &err, "--network", "public", "--allow-net",
				   "a.test", "--allow-net", ":8443", "--", "x", (char *)NULL),
			 0);
	assert_int_equal(spec.network_mode, SANDBOX_NETWORK_PUBLIC);
	assert_true(spec_network_is_public(&spec));
	assert_true(spec_has_network(&spec));
	assert_int_equal(parse_run(&spec, &sources, &err, "--allow-net", "a.test", "--network",
				   "public", "--", "x", (char *)NULL),
			 0);
	assert_true(spec_network_is_public(&spec));
	assert_int_equal(
	    parse_run(&spec, &sources, &err, "--allow-net", "a.test", "--", "x", (char *)NULL), 0);
	assert_int_equal(spec.network_mode, SANDBOX_NETWORK_ALLOWLIST);
	assert_false(spec_network_is_public(&spec));
	assert_int_equal(parse_run(&spec, &sources, &err, "--", "x", (char *)NULL), 0);
	assert_false(spec_network_is_public(&spec));
	assert_false(spec_has_network(&spec));
	/* a port alone, anywhere but the public network: refused, saying so */
	assert_int_equal(
	    parse_run(&spec, &sources, &err, "--allow-net", ":8443", "--", "x", (char *)NULL), -1);
	assert_non_null(strstr(err.op, "invalid --allow-net ':8443'"));
	assert_non_null(strstr(err.hint, "--network public"));
	assert_int_equal(parse_run(&spec, &sources, &err, "--network", "public", "--allow-net",
				   ":8443", "--network", "allowlist", "--", "x", (char *)NULL),
			 -1);
	assert_non_null(strstr(err.op, "':8443'"));
	assert_int_equal(
	    parse_run(&spec, &sources, &err, "--network", "open", "--", "x", (char *)NULL), -1);
	assert_non_null(strstr(err.op, "invalid --network 'open'"));
	assert_non_null(strstr(err.hint, "public"));

	/* the layers: a profile's public mode, replaced by the file's, then by a flag */
	snprintf(home, sizeof(home), "%s/home-public", scratch);
	snprintf(dir, sizeof(dir), "%s/profiles", home);
	snprintf(profile, sizeof(profile), "%s/installs.json", dir);
	assert_int_equal(mkdir(home, 0700), 0);
	assert_int_equal(mkdir(dir, 0700), 0);
	write_file(profile,
		   "{\"stockade\": 1, \"network\": {\"mode\": \"public\", \"allow\": [\":8443\"]}}",
		   0600);
	setenv("STOCKADE_HOME", home, 1);
	assert_int_equal(
	    parse_run(&spec, &sources, &err, "--profile", "installs", "--", "x", (char *)NULL), 0);
	assert_true(spec_network_is_public(&spec));
	assert_int_equal(spec.allow_net_count, 1);
	cli_sources_free(&sources);
	/* the file's own rule keeps its mode; its "mode" replaces the profile's */
	path = policy_file("{\"stockade\": 1, \"profile\": \"installs\", \"network\": {\"allow\": "
			   "[\"a.test\"]}}");
	assert_int_equal(
	    parse_run(&spec, &sources, &err, "--policy", path, "--", "x", (char *)NULL), 0);
	assert_true(spec_network_is_public(&spec));
	cli_sources_free(&sources);
	path = policy_file("{\"stockade\": 1, \"profile\": \"installs\", \"network\": {\"mode\": "
			   "\"allowlist\"}}");
	assert_int_equal(
	    parse_run(&spec, &sources, &err, "--policy", path, "--", "x", (char *)NULL), -1);
	assert_non_null(strstr(err.op, "':8443'")); /* the profile's port, now without public */
	cli_sources_free(&sources);
	assert_int_equal(parse_run(&spec, &sources, &err, "--policy", path, "--clear", "allow-net",
				   "--", "x", (char *)NULL),
			 0);
	assert_int_equal(spec.network_mode, SANDBOX_NETWORK_ALLOWLIST);
	cli_sources_free(&sources);
	/* flags win over the file */
	path = policy_file("{\"stockade\": 1, \"network\": {\"mode\": \"allowlist\"}}");
	assert_int_equal(parse_run(&spec, &sources, &err, "--policy", path, "--network", "public",
				   "--", "x", (char *)NULL),
			 0);
	assert_true(spec_network_is_public(&spec));
	cli_sources_free(&sources);
	/* null puts the mode back to the default */
	path = policy_file("{\"stockade\": 1, \"profile\": \"installs\", \"network\": {\"mode\": "
			   "null, \"allow\": null}}");
	assert_int_equal(
	    parse_run(&spec, &sources, &err, "--policy", path, "--", "x", (char *)NULL), 0);
	assert_int_equal(spec.network_mode, SANDBOX_NETWORK_NONE);
	cli_sources_free(&sources);
	unsetenv("STOCKADE_HOME");
}

/* The sandbox's /etc/hosts maps its hostname to its own loopback: the host's services' name
 * is refused as one, from a flag or a file (with its place). */
static void test_reserved_hostname(void **state)
{
	struct sandbox_spec spec;
	struct cli_sources sources = {0};
	struct sk_err err;
	const char *path;
	(void)state;

	assert_int_equal(parse_run(&spec, &sources, &err, "--hostname", "Host.Stockade.Internal",
				   "--", "x", (char *)NULL),
			 -1);
	assert_non_null(strstr(err.op, "invalid --hostname 'Host.Stockade.Internal'"));
	assert_non_null(strstr(err.hint, "reserves"));
	path = policy_file("{\"stockade\": 1, \"hostname\": \"host.stockade.internal\"}");
	assert_int_equal(
	    parse_run(&spec, &sources, &err, "--policy", path, "--", "x", (char *)NULL), -1);
	assert_non_null(strstr(err.op, "policy.json:1:29: hostname: invalid --hostname"));
	cli_sources_free(&sources);
	assert_int_equal(parse_run(&spec, &sources, &err, "--hostname", "host.stockade", "--", "x",
				   (char *)NULL),
			 0);
}

static void test_reading_files(void **state)
{
	struct sandbox_spec spec;
	struct cli_sources sources = {0};
	struct sk_err err;
	char path[400];
	(void)state;

	assert_int_equal(
	    parse_run(&spec, &sources, &err, "--policy", scratch, "--", "x", (char *)NULL), -1);
	assert_non_null(strstr(err.op, "not a file"));
	snprintf(path, sizeof(path), "%s/none.json", scratch);
	assert_int_equal(
	    parse_run(&spec, &sources, &err, "--policy", path, "--", "x", (char *)NULL), -1);
	assert_int_equal(err.errnum, ENOENT);
	assert_int_equal(parse_run(&spec, &sources, &err, "--policy", "-", "--", "x", (char *)NULL),
			 -1);
	assert_non_null(strstr(err.op, "stdin is the command's"));
	/* bigger than a spec may be */
	snprintf(path, sizeof(path), "%s/big.json", scratch);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, SPEC_TEXT_MAX + 1), 0);
	close(fd);
	assert_int_equal(
	    parse_run(&spec, &sources, &err, "--policy", path, "--", "x", (char *)NULL), -1);
	assert_non_null(strstr(err.op, "too large"));
	/* the first problem is the one reported, with a pointer to the rest */
	const char *bad = policy_file("{\"stockade\": 1,\n \"uid\": 0, \"tty\": 1, \"x\": 2}");
	assert_int_equal(parse_run(&spec, &sources, &err, "--policy", bad, "--", "x", (char *)NULL),
			 -1);
	assert_string_equal(err.layer, "policy");
	assert_non_null(strstr(err.op, "policy.json:2:9: uid: invalid --uid 0"));
	assert_non_null(strstr(err.hint, "and 2 more: stockade policy check"));
	cli_sources_free(&sources);
}

/* require: the file's value, replaced by the flag, reset by null; the flag's own grammar. */
static void test_require_layers(void **state)
{
	struct sandbox_spec spec;
	struct cli_sources sources = {0};
	struct sk_err err;
	const char *path;
	(void)state;

	path = policy_file("{\"stockade\": 1, \"require\": {\"landlock_abi\": 6}}");
	assert_int_equal(
	    parse_run(&spec, &sources, &err, "--policy", path, "--", "x", (char *)NULL), 0);
	assert_int_equal(spec.require_landlock_abi, 6);
	cli_sources_free(&sources);
	/* flags win, wherever --policy stands */
	assert_int_equal(parse_run(&spec, &sources, &err, "--require", "landlock_abi=2", "--policy",
				   path, "--", "x", (char *)NULL),
			 0);
	assert_int_equal(spec.require_landlock_abi, 2);
	cli_sources_free(&sources);
	/* null puts back the default, none, whatever a profile below said */
	path = policy_file("{\"stockade\": 1, \"profile\": \"strict\", \"require\": "
			   "{\"landlock_abi\": null}}");
	assert_int_equal(
	    parse_run(&spec, &sources, &err, "--policy", path, "--", "x", (char *)NULL), 0);
	assert_int_equal(spec.require_landlock_abi, 0);
	cli_sources_free(&sources);
	/* the flag's grammar: one NAME=VALUE, the name known, the value in range */
	static const char *const bad[] = {"landlock_abi",   "landlock_abi=",	"landlock_abi=x",
					  "landlock_abi=0", "landlock_abi=256", "landlock=3",
					  "seccomp=1",	    "landlock_abi=-1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
		    parse_run(&spec, &sources, &err, "--require", bad[i], "--", "x", (char *)NULL),
		    -1);
		if (!strstr(err.op, "invalid --require"))
			fail_msg("--require %s: %s", bad[i], err.op);
	}
	assert_int_equal(parse_run(&spec, &sources, &err, "--require", "landlock_abi=255", "--",
				   "x", (char *)NULL),
			 0);
	/* a floor under Landlock and leave to go without it: refused, whichever came last */
	assert_int_equal(parse_run(&spec, &sources, &err, "--allow-degraded", "landlock",
				   "--require", "landlock_abi=1", "--", "x", (char *)NULL),
			 -1);
	assert_non_null(strstr(err.op, "contradict"));
	assert_int_equal(parse_run(&spec, &sources, &err, "--require", "landlock_abi=1",
				   "--allow-degraded", "landlock", "--", "x", (char *)NULL),
			 -1);
	assert_non_null(strstr(err.op, "contradict"));
}

/* ---- profiles ---- */

static void test_builtin_profiles_are_valid_specs(void **state)
{
	(void)state;
	for (size_t i = 0; i < profile_builtin_count; i++) {
		struct sandbox_spec spec;
		struct cli_sources sources = {0};
		struct sk_err err;
		assert_int_equal(parse_run(&spec, &sources, &err, "--profile",
					   (char *)profile_builtins[i].name, "--", "x",
					   (char *)NULL),
				 0);
		cli_sources_free(&sources);
	}
	/* default is today's behaviour: the built-in defaults */
	struct sandbox_spec plain, with_default;
	struct cli_sources sources = {0};
	struct sk_err err;
	assert_int_equal(parse_run(&plain, &sources, &err, "--", "x", (char *)NULL), 0);
	assert_int_equal(parse_run(&with_default, &sources, &err, "--profile", "default", "--", "x",
				   (char *)NULL),
			 0);
	cli_sources_free(&sources);
	plain.argv = with_default.argv = NULL;
	assert_memory_equal(&plain, &with_default, sizeof(plain));
}

static void make_dirs(struct profile_dirs *dirs, const char *tag)
{
	memset(dirs, 0, sizeof(*dirs));
	snprintf(dirs->user, sizeof(dirs->user), "%.200s/%.20s-user", scratch, tag);
	snprintf(dirs->system, sizeof(dirs->system), "%.200s/%.20s-system", scratch, tag);
	assert_int_equal(mkdir(dirs->user, 0755), 0);
	assert_int_equal(mkdir(dirs->system, 0755), 0);
}

static void put_profile(const char *dir, const char *name, const char *text, mode_t mode)
{
	char path[700];
	snprintf(path, sizeof(path), "%s/%s.json", dir, name);
	write_file(path, text, mode);
}

static void test_profile_lookup_order(void **state)
{
	struct profile_dirs dirs;
	struct profile_text found;
	struct sk_err err = {0};
	(void)state;

	make_dirs(&dirs, "order");
	put_profile(dirs.user, "both", "{\"stockade\": 1, \"hostname\": \"user\"}", 0644);
	put_profile(dirs.system, "both", "{\"stockade\": 1, \"hostname\": \"system\"}", 0644);
	put_profile(dirs.system, "sys", "{\"stockade\": 1}", 0644);
	put_profile(dirs.user, "strict", "{\"stockade\": 1, \"limits\": {}}", 0644);

	assert_int_equal(profile_load("both", &dirs, &found, &err), 0);
	assert_non_null(strstr(found.text, "user"));
	assert_non_null(strstr(found.origin, "order-user/both.json"));
	profile_text_free(&found);
	assert_int_equal(profile_load("sys", &dirs, &found, &err), 0);
	assert_non_null(strstr(found.origin, "order-system/sys.json"));
	profile_text_free(&found);
	/* a built-in name is never a file's */
	assert_int_equal(profile_load("strict", &dirs, &found, &err), 0);
	assert_true(found.is_builtin);
	assert_string_equal(found.origin, "built-in");
	profile_text_free(&found);
	assert_int_equal(profile_load("none-such", &dirs, &found, &err), -1);
	assert_non_null(strstr(err.op, "no profile 'none-such'"));
	for (const char *const *bad =
		 (const char *const[]){"", "../x", "a/b", "-x", ".x", "a.b", NULL};
	     *bad; bad++) {
		assert_int_equal(profile_load(*bad, &dirs, &found, &err), -1);
		assert_non_null(strstr(err.op, "invalid profile name"));
	}
}

static void test_unsafe_profiles_refused(void **state)
{
	struct profile_dirs dirs;
	struct profile_text found;
	struct sk_err err = {0};
	char path[700], target[700];
	(void)state;

	make_dirs(&dirs, "unsafe");
	put_profile(dirs.user, "gw", "{\"stockade\": 1}", 0664);
	put_profile(dirs.user, "ow", "{\"stockade\": 1}", 0646);
	put_profile(dirs.user, "real", "{\"stockade\": 1}", 0600);
	snprintf(path, sizeof(path), "%s/link.json", dirs.user);
	snprintf(target, sizeof(target), "%s/real.json", dirs.user);
	assert_int_equal(symlink(target, path), 0);
	snprintf(path, sizeof(path), "%s/fifo.json", dirs.user);
	assert_int_equal(mkfifo(path, 0600), 0);
	snprintf(path, sizeof(path), "%s/dir.json", dirs.user);
	assert_int_equal(mkdir(path, 0700), 0);
	/* a refused file is not skipped for the system's */
	put_profile(dirs.system, "gw", "{\"stockade\": 1}", 0644);

	static const struct {
		const char *name, *why;
	} table[] = {
	    {"gw", "writable by group or others"},
	    {"ow", "writable by group or others"},
	    {"link", "a symlink"},
	    {"fifo", "not a regular file"},
	    {"dir", "not a regular file"},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		assert_int_equal(profile_load(table[i].name, &dirs, &found, &err), -1);
		if (!strstr(err.op, table[i].why) || !strstr(err.op, "refused"))
			fail_msg("%s: %s", table[i].name, err.op);
	}
	assert_int_equal(profile_load("real", &dirs, &found, &err), 0);
	profile_text_free(&found);
	/* a directory others can write to: nothing in it is read */
	assert_int_equal(chmod(dirs.user, 0777), 0);
	assert_int_equal(profile_load("real", &dirs, &found, &err), -1);
	assert_non_null(strstr(err.op, "profiles directory"));
	assert_non_null(strstr(err.op, "writable by group or others"));
	assert_int_equal(chmod(dirs.user, 0755), 0);
	/* a symlinked directory */
	snprintf(path, sizeof(path), "%s/unsafe-link", scratch);
	assert_int_equal(symlink(dirs.user, path), 0);
	sk_strlcpy(dirs.user, path, sizeof(dirs.user));
	assert_int_equal(profile_load("real", &dirs, &found, &err), -1);
	assert_non_null(strstr(err.op, "not a directory"));
}

static int listed;
static char listing[4096];

static void collect(void *ctx, const char *name, const char *origin, const char *summary,
		    const char *status)
{
	(void)ctx;
	(void)summary;
	listed++;
	snprintf(listing + strlen(listing), sizeof(listing) - strlen(listing), "%s|%s|%s\n", name,
		 origin, status ? status : "ok");
}

static void test_profiles_listed_with_their_origin(void **state)
{
	struct profile_dirs dirs;
	(void)state;

	make_dirs(&dirs, "list");
	put_profile(dirs.user, "mine", "{\"stockade\": 1}", 0600);
	put_profile(dirs.user, "bad", "{\"stockade\": 1, \"x\": 1}", 0600);
	put_profile(dirs.user, "gw", "{\"stockade\": 1}", 0660);
	put_profile(dirs.user, "build", "{\"stockade\": 1}", 0600);
	put_profile(dirs.system, "mine", "{\"stockade\": 1}", 0644);
	put_profile(dirs.system, "site", "{\"stockade\": 1}", 0644);
	put_profile(dirs.system, "not a name", "{\"stockade\": 1}", 0644);
	listed = 0;
	listing[0] = '\0';
	profile_list(&dirs, collect, NULL);
	assert_int_equal(listed, 3 + 4 + 2);
	assert_non_null(strstr(listing, "default|built-in|ok\n"));
	assert_non_null(strstr(listing, "strict|built-in|ok\n"));
	assert_non_null(strstr(listing, "build|built-in|ok\n"));
	assert_non_null(strstr(listing, "list-user/mine.json|ok\n"));
	assert_non_null(
	    strstr(listing, "list-user/bad.json|invalid: bad.json:1:17: x: unknown key"));
	assert_non_null(strstr(listing, "list-user/gw.json|refused: writable by group or others"));
	assert_non_null(strstr(listing, "list-user/build.json|ignored: a built-in"));
	assert_non_null(strstr(listing, "list-system/mine.json|shadowed by"));
	assert_non_null(strstr(listing, "list-system/site.json|ok\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_positions_of_values_and_keys),
	    cmocka_unit_test(test_positions_in_broken_text),
	    cmocka_unit_test(test_key_ending_at),
	    cmocka_unit_test(test_each_error_class_with_its_place),
	    cmocka_unit_test(test_every_problem_listed_in_order),
	    cmocka_unit_test(test_issues_are_capped),
	    cmocka_unit_test(test_every_field_is_a_flag_and_resets),
	    cmocka_unit_test(test_null_resets_and_false_clears),
	    cmocka_unit_test(test_merge_order),
	    cmocka_unit_test(test_lists_append_and_clear),
	    cmocka_unit_test(test_network_mode_and_rules),
	    cmocka_unit_test(test_network_public),
	    cmocka_unit_test(test_reserved_hostname),
	    cmocka_unit_test(test_require_layers),
	    cmocka_unit_test(test_reading_files),
	    cmocka_unit_test(test_builtin_profiles_are_valid_specs),
	    cmocka_unit_test(test_profile_lookup_order),
	    cmocka_unit_test(test_unsafe_profiles_refused),
	    cmocka_unit_test(test_profiles_listed_with_their_origin),
	};
	return cmocka_run_group_tests(tests, scratch_setup, scratch_teardown);
}
