/* `workspace diff --patch` (wsdiff.h): the change list as a git-style unified diff. Text is
 * diffed by util/linediff.c; a file over WSDIFF_TEXT_MAX or holding a NUL byte is binary and
 * gets only a "Binary files ... differ" line, outside any file's patch, so that git apply and
 * patch -p1 take the rest (they skip lines that are not part of a patch, as they skip the
 * "# " notes for what a patch cannot carry: directories, modes git does not know, and the
 * entries apply refuses). Both sides are read beneath their top with wsdiff_open_beneath. */
#define _GNU_SOURCE
#include "store/wsdiff.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/linediff.h"

#define PATCH_CONTEXT 3

struct side {
	char *data;
	size_t len;
	bool is_binary;
};

/* The link text of dir_fd/path, never following it: its parent opened beneath dir_fd. */
static int load_link(int dir_fd, const char *path, struct side *side)
{
	const char *slash = strrchr(path, '/');
	char parent[PATH_MAX];
	int fd;
	ssize_t n;

	snprintf(parent, sizeof(parent), "%.*s", slash ? (int)(slash - path) : 0, path);
	fd = wsdiff_open_beneath(dir_fd, parent, O_PATH | O_DIRECTORY);
	if (fd < 0)
		return -1;
	side->data = malloc(PATH_MAX);
	n = side->data ? readlinkat(fd, slash ? slash + 1 : path, side->data, PATH_MAX - 1) : -1;
	close(fd);
	if (n < 0)
		return -1;
	side->len = (size_t)n;
	return 0;
}

static int load_file(int dir_fd, const char *path, struct side *side)
{
	struct stat st;
	size_t got = 0;
	int fd = wsdiff_open_beneath(dir_fd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	if ((uint64_t)st.st_size > WSDIFF_TEXT_MAX) {
		close(fd);
		side->is_binary = true;
		return 0;
	}
	side->data = malloc((size_t)st.st_size + 1);
	while (side->data && got < (size_t)st.st_size) {
		ssize_t n = read(fd, side->data + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (!side->data)
		return -1;
	side->len = got;
	side->is_binary = memchr(side->data, '\0', got) != NULL;
	return 0;
}

static int load(int dir_fd, const char *path, mode_t mode, struct side *side)
{
	memset(side, 0, sizeof(*side));
	if (S_ISLNK(mode))
		return load_link(dir_fd, path, side);
	if (S_ISREG(mode))
		return load_file(dir_fd, path, side);
	return 0;
}

/* The mode as git writes it: 100644 or 100755 for a file, 120000 for a link. */
static unsigned git_mode(mode_t mode)
{
	if (S_ISLNK(mode))
		return 0120000;
	return (mode & 0100) ? 0100755 : 0100644;
}

static bool is_leaf(mode_t mode)
{
	return S_ISREG(mode) || S_ISLNK(mode);
}

static void header(FILE *out, const char *from, const char *to)
{
	char a[PATH_MAX + 8], b[PATH_MAX + 8];

	wsdiff_quote("a/", from, a, sizeof(a));
	wsdiff_quote("b/", to, b, sizeof(b));
	fprintf(out, "diff --git %s %s\n", a, b);
}

static int hunks(FILE *out, const char *from, const char *to, const struct side *old,
		 const struct side *new)
{
	char a[PATH_MAX + 8], b[PATH_MAX + 8];

	if (from)
		wsdiff_quote("a/", from, a, sizeof(a));
	if (to)
		wsdiff_quote("b/", to, b, sizeof(b));
	fprintf(out, "--- %s\n+++ %s\n", from ? a : "/dev/null", to ? b : "/dev/null");
	return linediff_unified(old->data ? old->data : "", old->len, new->data ? new->data : "",
				new->len, PATCH_CONTEXT, out, NULL);
}

static void binary(FILE *out, const char *from, const char *to)
{
	char a[PATH_MAX + 8], b[PATH_MAX + 8];

	wsdiff_quote("a/", from ? from : "", a, sizeof(a));
	wsdiff_quote("b/", to ? to : "", b, sizeof(b));
	fprintf(out, "Binary files %s and %s differ\n", from ? a : "/dev/null",
		to ? b : "/dev/null");
}

static int create(FILE *out, const char *path, mode_t mode, const struct side *new)
{
	static const struct side none;

	if (new->is_binary) {
		binary(out, NULL, path);
		return 0;
	}
	header(out, path, path);
	fprintf(out, "new file mode %06o\n", git_mode(mode));
	return new->len ? hunks(out, NULL, path, &none, new) : 0;
}

static int delete (FILE *out, const char *path, mode_t mode, const struct side *old)
{
	static const struct side none;

	if (old->is_binary) {
		binary(out, path, NULL);
		return 0;
	}
	header(out, path, path);
	fprintf(out, "deleted file mode %06o\n", git_mode(mode));
	return old->len ? hunks(out, path, NULL, old, &none) : 0;
}

static int modify(FILE *out, const struct wsdiff_change *c, const struct side *old,
		  const struct side *new)
{
	const char *from = c->from ? c->from : c->path;
	char quoted[PATH_MAX + 8];
	bool is_same = c->kind == WSDIFF_RENAMED || c->kind == WSDIFF_MODE ||
		       (old->len == new->len && !old->is_binary &&
			!new->is_binary &&memcmp(old->data ? old->data : "",
						 new->data ? new->data : "", old->len) == 0);
	bool is_mode = git_mode(c->old_mode) != git_mode(c->new_mode);

	if (!is_same && (old->is_binary || new->is_binary)) {
		binary(out, from, c->path);
		is_same = true; /* the header below then carries a rename or mode, if any */
		if (!c->from && !is_mode)
			return 0;
	}
	if (is_same && !c->from && !is_mode) {
		wsdiff_quote("", c->path, quoted, sizeof(quoted));
		fprintf(out, "# %s: mode %04o -> %04o (a patch carries only the x bit)\n", quoted,
			(unsigned)(c->old_mode & 07777), (unsigned)(c->new_mode & 07777));
		return 0;
	}
	header(out, from, c->path);
	if (is_mode)
		fprintf(out, "old mode %06o\nnew mode %06o\n", git_mode(c->old_mode),
			git_mode(c->new_mode));
	if (c->from) {
		fprintf(out, "similarity index 100%%\n");
		wsdiff_quote("", c->from, quoted, sizeof(quoted));
		fprintf(out, "rename from %s\n", quoted);
		wsdiff_quote("", c->path, quoted, sizeof(quoted));
		fprintf(out, "rename to %s\n", quoted);
	}
	return is_same ? 0 : hunks(out, from, c->path, old, new);
}

static void note(FILE *out, const struct wsdiff_change *c, const char *what)
{
	char quoted[PATH_MAX + 8];

	wsdiff_quote("", c->path, quoted, sizeof(quoted));
	fprintf(out, "# %s %s: %s\n", wsdiff_kind_letter(c->kind), quoted, what);
}

static int patch_one(FILE *out, const struct wsdiff_change *c, int upper_fd, int host_fd)
{
	mode_t old_mode = c->kind == WSDIFF_ADDED ? 0 : c->old_mode;
	mode_t new_mode = c->kind == WSDIFF_DELETED ? 0 : c->new_mode;
	struct side old = {0}, new = {0};
	int rc = 0;

	if (c->refusal) {
		note(out, c, c->refusal);
		return 0;
	}
	if (!is_leaf(old_mode) && !is_leaf(new_mode)) {
		note(out, c, "a directory (a patch carries only files and links)");
		return 0;
	}
	if (load(host_fd, c->from ? c->from : c->path, old_mode, &old) < 0 ||
	    load(upper_fd, c->path, new_mode, &new) < 0) {
		rc = -1;
	} else if (c->kind == WSDIFF_TYPE || !is_leaf(old_mode) || !is_leaf(new_mode)) {
		if (is_leaf(old_mode))
			rc = delete (out, c->path, old_mode, &old);
		if (rc == 0 && is_leaf(new_mode))
			rc = create(out, c->path, new_mode, &new);
	} else if (c->kind == WSDIFF_ADDED) {
		rc = create(out, c->path, new_mode, &new);
	} else if (c->kind == WSDIFF_DELETED) {
		rc = delete (out, c->path, old_mode, &old);
	} else {
		rc = modify(out, c, &old, &new);
	}
	free(old.data);
	free(new.data);
	return rc;
}

int wsdiff_print_patch(FILE *out, const struct wsdiff_list *list, int upper_fd, int host_fd,
		       struct sk_err *err)
{
	char quoted[PATH_MAX + 8];

	for (size_t i = 0; i < list->count; i++) {
		const struct wsdiff_change *c = &list->items[i];
		if (patch_one(out, c, upper_fd, host_fd) < 0) {
			wsdiff_quote("", c->path, quoted, sizeof(quoted));
			return sk_fail(err, "workspace", errno, NULL, "diff %.300s", quoted);
		}
	}
	return 0;
}
