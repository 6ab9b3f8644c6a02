/* Unit tests for src/store/safepath.c on a scratch tree: opening a volume only one level down
 * and never through a link, copying without following or writing through links, and removing
 * without ever touching a link's target. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/safepath.h"

static char top[64];

static int setup(void **state)
{
	(void)state;
	snprintf(top, sizeof(top), "/tmp/test_safepath.XXXXXX");
	return mkdtemp(top) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	return system(cmd) == 0 ? 0 : -1;
}

static void put(const char *rel, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", top, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void dir(const char *rel)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", top, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

static void link_to(const char *target, const char *rel)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", top, rel);
	assert_int_equal(symlink(target, path), 0);
}

static int open_top(const char *rel)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", top, rel);
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static bool exists(const char *rel)
{
	char path[256];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", top, rel);
	return lstat(path, &st) == 0;
}

static void test_open_dir(void **state)
{
	char target[128];
	struct sk_err err = {0};
	int root, fd;
	(void)state;
	dir("root");
	dir("root/vol");
	dir("outside");
	snprintf(target, sizeof(target), "%s/outside", top);
	link_to(target, "root/link");
	put("root/file", "x");
	root = open_top("root");
	fd = safepath_open_dir(root, "vol", geteuid(), O_RDONLY, &err);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(safepath_open_dir(root, "link", geteuid(), O_RDONLY, &err), -1);
	assert_int_equal(safepath_open_dir(root, "file", geteuid(), O_RDONLY, &err), -1);
	assert_int_equal(safepath_open_dir(root, "..", geteuid(), O_RDONLY, &err), -1);
	assert_int_equal(safepath_open_dir(root, "vol/..", geteuid(), O_RDONLY, &err), -1);
	assert_int_equal(safepath_open_dir(root, "", geteuid(), O_RDONLY, &err), -1);
	/* Another owner is refused. */
	assert_int_equal(safepath_open_dir(root, "vol", geteuid() + 1, O_RDONLY, &err), -1);
	assert_non_null(strstr(err.op, "not a directory owned by"));
	close(root);
}

static void test_remove_never_follows(void **state)
{
	char target[128];
	struct sk_err err = {0};
	int root;
	(void)state;
	dir("outside");
	put("outside/precious", "keep");
	dir("store");
	dir("store/vol");
	dir("store/vol/a");
	dir("store/vol/a/b");
	put("store/vol/a/b/f", "x");
	snprintf(target, sizeof(target), "%s/outside", top);
	link_to(target, "store/vol/a/dirlink");
	snprintf(target, sizeof(target), "%s/outside/precious", top);
	link_to(target, "store/vol/filelink");
	root = open_top("store");
	assert_int_equal(safepath_remove_tree(root, "vol", &err), 0);
	assert_false(exists("store/vol"));
	assert_true(exists("outside/precious"));
	/* A volume that is itself a link: the link goes, the target stays. */
	snprintf(target, sizeof(target), "%s/outside", top);
	link_to(target, "store/vol2");
	assert_int_equal(safepath_remove_tree(root, "vol2", &err), 0);
	assert_false(exists("store/vol2"));
	assert_true(exists("outside/precious"));
	close(root);
}

static void test_remove_deep_tree(void **state)
{
	char rel[8192] = "deep";
	struct sk_err err = {0};
	int root, fd;
	(void)state;
	/* Deeper than the fd budget: flattened by renames, all removed. */
	root = open_top("");
	assert_int_equal(mkdirat(root, "deep", 0700), 0);
	fd = openat(root, "deep", O_RDONLY | O_DIRECTORY);
	for (int i = 0; i < 300; i++) {
		assert_int_equal(mkdirat(fd, "d", 0700), 0);
		int next = openat(fd, "d", O_RDONLY | O_DIRECTORY);
		close(fd);
		fd = next;
	}
	close(fd);
	assert_int_equal(safepath_remove_tree(root, "deep", &err), 0);
	assert_false(exists(rel));
	close(root);
}

static void test_copy(void **state)
{
	char target[128], buf[64];
	struct safepath_copy_stats stats;
	struct safepath_copy_opts keep = {(uid_t)-1, (gid_t)-1, SAFEPATH_LINKS_KEEP, NULL, NULL};
	struct sk_err err = {0};
	struct stat st;
	int src, dst;
	ssize_t n;
	(void)state;
	dir("outside");
	put("outside/precious", "keep");
	dir("src");
	dir("src/sub");
	put("src/sub/f", "hello");
	assert_int_equal(chmod(strcat(strcpy(buf, top), "/src/sub/f"), 04751), 0);
	snprintf(target, sizeof(target), "%s/outside", top);
	link_to(target, "src/out");
	assert_int_equal(mkfifo(strcat(strcpy(buf, top), "/src/fifo"), 0600), 0);
	dir("dst");
	/* A link planted in the destination at a file's name is replaced, not written through;
	 * one at a directory's name is refused. */
	dir("dst/sub");
	snprintf(target, sizeof(target), "%s/outside/precious", top);
	link_to(target, "dst/sub/f");
	src = open_top("src");
	dst = open_top("dst");
	assert_int_equal(safepath_copy_tree(src, dst, &keep, &stats, &err), 0);
	assert_int_equal(stats.files, 1);
	assert_int_equal(stats.symlinks, 1);
	assert_int_equal(stats.skipped, 1);
	assert_string_equal(stats.first_skipped, "fifo");
	assert_int_equal(fstatat(dst, "sub/f", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0751); /* set-id bits dropped */
	assert_int_equal(fstatat(dst, "out", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISLNK(st.st_mode));
	int fd = open(strcat(strcpy(buf, top), "/outside/precious"), O_RDONLY);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	assert_int_equal(n, 4);
	assert_memory_equal(buf, "keep", 4);
	close(src);
	close(dst);
	dst = open_top("dst2");
	assert_true(dst < 0);
	dir("dst2");
	snprintf(target, sizeof(target), "%s/outside", top);
	link_to(target, "dst2/sub");
	src = open_top("src");
	dst = open_top("dst2");
	assert_int_equal(safepath_copy_tree(src, dst, &keep, &stats, &err), -1);
	assert_false(exists("outside/f"));
	close(src);
	close(dst);
}

/* The export rule, on its own: absolute, climbing (by depth and '..' in order), '..' after a
 * name (a chain through another link could climb); relative links inside are kept. */
static void test_link_escapes(void **state)
{
	static const struct {
		const char *path, *target;
		bool escapes;
	} cases[] = {
	    {"x", "/etc/shadow", true},
	    {"d/x", "/", true},
	    {"x", "..", true},
	    {"x", "../x", true},
	    {"d/x", "../../x", true},
	    {"d/e/x", "../../../etc", true},
	    {"x", "a/../../x", true},
	    {"x", "./../x", true},
	    {"x", "b/../x", true},
	    {"d/x", "b/../../x", true},
	    {"x", "a/b/../../c", true},
	    {"d/x", "../a/../b", true},
	    {"x", "f", false},
	    {"x", "./f", false},
	    {"x", "sub/dir/", false},
	    {"d/x", "..", false},
	    {"d/x", "../f", false},
	    {"d/e/x", "../../f", false},
	    {"d/e/x", "../../d/e/f", false},
	    {"x", ".", false},
	    {"x", "a//b/./c", false},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = safepath_link_escapes(cases[i].path, cases[i].target);
		if ((why != NULL) != cases[i].escapes)
			fail_msg("%s -> %s: %s", cases[i].path, cases[i].target,
				 why ? why : "kept");
	}
}

static int skipped_count;
static void count_skipped(void *arg, const char *path, const char *target, const char *why)
{
	(void)arg;
	(void)path;
	(void)target;
	assert_non_null(why);
	skipped_count++;
}

/* The three --links modes on one tree; a link left out also removes what an earlier copy left
 * at its name. */
static void test_copy_links(void **state)
{
	struct safepath_copy_stats stats;
	struct safepath_copy_opts opts = {(uid_t)-1, (gid_t)-1, SAFEPATH_LINKS_KEEP, count_skipped,
					  NULL};
	struct sk_err err = {0};
	struct stat st;
	int src, dst;
	(void)state;
	dir("ls");
	dir("ls/d");
	put("ls/f", "x");
	link_to("/etc/shadow", "ls/abs");
	link_to("../f", "ls/d/in");
	link_to("..", "ls/d/top");
	link_to("../../x", "ls/d/up");
	link_to(".", "ls/dot");
	link_to("dot/../x", "ls/chain");
	dir("ld");
	src = open_top("ls");
	dst = open_top("ld");
	assert_int_equal(safepath_copy_tree(src, dst, &opts, &stats, &err), 0);
	assert_int_equal(stats.symlinks, 6);
	assert_int_equal(stats.links_skipped, 0);
	assert_int_equal(skipped_count, 0);
	opts.links = SAFEPATH_LINKS_SAFE;
	assert_int_equal(safepath_copy_tree(src, dst, &opts, &stats, &err), 0);
	assert_int_equal(stats.symlinks, 3);
	assert_int_equal(stats.links_skipped, 3);
	assert_int_equal(skipped_count, 3);
	assert_false(exists("ld/abs"));
	assert_false(exists("ld/d/up"));
	assert_false(exists("ld/chain"));
	assert_int_equal(fstatat(dst, "d/in", &st, 0), 0); /* followed: the file inside */
	assert_true(S_ISREG(st.st_mode));
	opts.links = SAFEPATH_LINKS_SKIP;
	assert_int_equal(safepath_copy_tree(src, dst, &opts, &stats, &err), 0);
	assert_int_equal(stats.symlinks, 0);
	assert_int_equal(stats.links_skipped, 6);
	assert_false(exists("ld/d/in"));
	assert_true(exists("ld/f"));
	close(src);
	close(dst);
}

static void test_disk_usage(void **state)
{
	int fd;
	(void)state;
	dir("du");
	put("du/a", "some bytes");
	fd = open_top("du");
	assert_true(safepath_disk_usage(fd) > 0);
	close(fd);
	assert_int_equal(safepath_check_component("a"), 0);
	assert_int_equal(safepath_check_component("a/b"), -1);
	assert_int_equal(safepath_check_component(".."), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open_dir, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove_never_follows, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove_deep_tree, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_copy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_link_escapes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_copy_links, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_disk_usage, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
