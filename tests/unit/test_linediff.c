/* Unit tests for src/util/linediff.c against diff -u semantics: for fixed and random pairs of
 * texts, the hunks (under ---/+++ headers) applied by GNU patch give the second text back, and
 * the number of changed lines equals that of GNU diff --minimal (both are shortest edit
 * scripts). Missing final newlines on either side, empty files, equal files. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/linediff.h"

static char top[64];

static int setup(void **state)
{
	(void)state;
	snprintf(top, sizeof(top), "/tmp/test_linediff.XXXXXX");
	return mkdtemp(top) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	return system(cmd) == 0 ? 0 : -1;
}

static void put(const char *name, const char *data, size_t len)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", top, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static char *slurp(const char *name, size_t *len)
{
	char path[128];
	FILE *f;
	char *data = malloc(1 << 20);

	snprintf(path, sizeof(path), "%s/%s", top, name);
	f = fopen(path, "r");
	assert_non_null(f);
	*len = fread(data, 1, 1 << 20, f);
	fclose(f);
	return data;
}

/* Changed lines (+ and -) that GNU diff --minimal counts. */
static size_t gnu_changes(void)
{
	char cmd[256], line[4096];
	size_t count = 0;
	FILE *p;

	/* The two header lines aside, every line starting with + or - is a change. */
	snprintf(cmd, sizeof(cmd), "diff --minimal -U0 %s/a %s/b | tail -n +3", top, top);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p))
		count += line[0] == '+' || line[0] == '-';
	pclose(p);
	return count;
}

/* Our diff of a -> b applied to a by patch gives b, with as few changed lines as GNU's. */
static void check_pair(const char *a, size_t a_len, const char *b, size_t b_len)
{
	struct linediff_counts counts;
	char cmd[256], path[128];
	size_t out_len;
	FILE *f;

	put("a", a, a_len);
	put("b", b, b_len);
	snprintf(path, sizeof(path), "%s/p.diff", top);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "--- a/x\n+++ b/x\n");
	assert_int_equal(linediff_unified(a, a_len, b, b_len, 3, f, &counts), 0);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "cd %s && cp a x && patch -s --no-backup-if-mismatch x p.diff",
		 top);
	if (a_len == b_len && memcmp(a, b, a_len) == 0) {
		assert_int_equal(counts.added + counts.removed, 0);
		return;
	}
	assert_int_equal(system(cmd), 0);
	char *got = slurp("x", &out_len);
	assert_int_equal(out_len, b_len);
	assert_memory_equal(got, b, b_len);
	free(got);
	assert_int_equal(counts.added + counts.removed, gnu_changes());
}

static void test_fixed_cases(void **state)
{
	static const char *const cases[][2] = {
	    {"", "one\n"},
	    {"one\n", ""},
	    {"one\ntwo\nthree\n", "one\ntwo\nthree\n"},
	    {"one\ntwo\nthree\n", "one\nTWO\nthree\n"},
	    {"a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\n", "a\nB\nc\nd\ne\nf\ng\nh\ni\nj\nk\nL\nm\n"},
	    {"no newline", "no newline\n"},
	    {"x\nno newline", "x\nother, no newline"},
	    {"a\nb\n", "c\nd\n"},
	    {"\n\n\n", "\n\n"},
	    {"same\nlast", "same\nlast\nmore"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_pair(cases[i][0], strlen(cases[i][0]), cases[i][1], strlen(cases[i][1]));
}

/* Lines from a small alphabet, so that texts share many lines and edits interleave. */
static size_t random_text(char *buf, size_t max_lines, unsigned *seed)
{
	static const char *const words[] = {"alpha", "beta", "gamma", "delta", "", "}", "{"};
	size_t lines = (size_t)rand_r(seed) % max_lines, len = 0;

	for (size_t i = 0; i < lines; i++)
		len += (size_t)sprintf(buf + len, "%s\n", words[rand_r(seed) % 7]);
	if (len && rand_r(seed) % 4 == 0)
		len--; /* no final newline */
	return len;
}

static void test_random_pairs(void **state)
{
	static char a[65536], b[65536];
	unsigned seed = 16;
	(void)state;

	for (int round = 0; round < 300; round++) {
		size_t a_len = random_text(a, 60, &seed);
		size_t b_len;
		if (round % 2) {
			/* b an edit of a: a few lines changed, dropped or added. */
			memcpy(b, a, a_len);
			b_len = a_len;
			for (int e = 0; e < 3 && b_len > 2; e++) {
				size_t at = (size_t)rand_r(&seed) % (b_len - 1);
				b[at] = b[at] == '\n' ? 'z' : '\n';
			}
		} else {
			b_len = random_text(b, 60, &seed);
		}
		check_pair(a, a_len, b, b_len);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_fixed_cases, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_random_pairs, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
