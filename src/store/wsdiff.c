/* A workspace's change list (wsdiff.h): open the workspace, walk its upper layer beside the
 * host directory, pair renames, print the list. The upper layer is the sandbox's work, read as
 * hostile: one directory fd per level opened O_NOFOLLOW, entries stat'ed with
 * AT_SYMLINK_NOFOLLOW, files opened O_NOFOLLOW|O_NONBLOCK (a fifo never blocks us); paths
 * built here are only ever resolved by openat2 with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS. */
#define _GNU_SOURCE
#include "store/wsdiff.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "store/safepath.h"
#include "util/macros.h"
#include "util/syscalls.h"

/* As deep as safepath goes. */
#define WSDIFF_MAX_DEPTH 128
/* Pairs of same-sized files compared when looking for renames: a sandbox that makes thousands
 * of equal-sized files cannot make the diff quadratic. */
#define WSDIFF_RENAME_TRIES 1000

#define OVERLAY_XATTR_PREFIX "user.overlay."

struct scan {
	struct wsdiff_list *list;
	char path[PATH_MAX]; /* of the directory being walked, relative to the top ("" at it) */
	struct sk_err *err;
};

static int scan_fail(struct scan *s, int errnum, const char *what, const char *name)
{
	char shown[256];

	wsdiff_quote(s->path[0] ? "/" : "", name, shown, sizeof(shown));
	return sk_fail(s->err, "workspace", errnum, NULL, "%s %.300s%s", what, s->path, shown);
}

int wsdiff_open_beneath(int dir_fd, const char *path, int flags)
{
	return sys_openat2(dir_fd, path[0] ? path : ".", flags | O_NOFOLLOW | O_CLOEXEC,
			   RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
			       RESOLVE_NO_XDEV);
}

/* ---- the list ---- */

static struct wsdiff_change *add(struct scan *s, enum wsdiff_kind kind, const char *name)
{
	struct wsdiff_list *list = s->list;
	size_t len = strlen(s->path);

	if (len + 1 + strlen(name) >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	if (list->count == list->cap) {
		size_t cap = list->cap ? 2 * list->cap : 64;
		struct wsdiff_change *grown = realloc(list->items, cap * sizeof(*grown));
		if (!grown)
			return NULL;
		list->items = grown;
		list->cap = cap;
	}
	struct wsdiff_change *c = &list->items[list->count];
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	if (asprintf(&c->path, "%s%s%s", s->path, len ? "/" : "", name) < 0)
		return NULL;
	list->count++;
	return c;
}

void wsdiff_free(struct wsdiff_list *list)
{
	for (size_t i = 0; i < list->count; i++) {
		free(list->items[i].path);
		free(list->items[i].from);
		free(list->items[i].target);
	}
	free(list->items);
	memset(list, 0, sizeof(*list));
}

/* ---- reading a directory ---- */

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t count)
{
	if (!names)
		return;
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

/* The entries of dir_fd, sorted; NULL with errno on failure (*count 0 for an empty dir). */
static char **read_names(int dir_fd, size_t *count)
{
	int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	char **names = NULL;
	size_t cap = 0;
	struct dirent *de;

	*count = 0;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (*count == cap) {
			char **grown = realloc(names, (cap = cap ? 2 * cap : 16) * sizeof(*names));
			if (!grown)
				goto fail;
			names = grown;
		}
		if (!(names[*count] = strdup(de->d_name)))
			goto fail;
		(*count)++;
	}
	closedir(d);
	if (*count > 1)
		qsort(names, *count, sizeof(*names), compare_names);
	return names ? names : calloc(1, sizeof(*names));
fail:
	closedir(d);
	free_names(names, *count);
	*count = 0;
	errno = ENOMEM;
	return NULL;
}

static bool has_name(char **names, size_t count, const char *name)
{
	return bsearch(&name, names, count, sizeof(*names), compare_names) != NULL;
}

/* ---- overlay marks ---- */

static bool is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

/* The value of an overlay xattr of fd is "y" (opaque), or it exists at all (others). */
static bool has_xattr(int fd, const char *suffix, bool wants_yes)
{
	char name[64], value[8];
	ssize_t n;

	snprintf(name, sizeof(name), OVERLAY_XATTR_PREFIX "%s", suffix);
	n = fgetxattr(fd, name, value, sizeof(value));
	if (n < 0)
		return errno == ERANGE && !wants_yes;
	return !wants_yes || (n == 1 && value[0] == 'y');
}

/* ---- comparing ---- */

static int read_full(int fd, char *buf, size_t want)
{
	size_t got = 0;

	while (got < want) {
		ssize_t n = read(fd, buf + got, want - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

/* Same bytes? Both fds at offset 0, sizes already equal. -1 on a read error. */
static int same_content(int a, int b, uint64_t size)
{
	static char buf_a[65536], buf_b[65536];

	while (size > 0) {
		size_t want = size < sizeof(buf_a) ? (size_t)size : sizeof(buf_a);
		if (read_full(a, buf_a, want) < 0 || read_full(b, buf_b, want) < 0)
			return -1;
		if (memcmp(buf_a, buf_b, want) != 0)
			return 0;
		size -= want;
	}
	return 1;
}

static int open_file(int dir_fd, const char *name)
{
	return openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
}

/* ---- refusals: what apply will not write into DIR ---- */

static const char *link_refusal(const char *path, const char *target)
{
	const char *why = safepath_link_escapes(path, target);

	if (!why)
		return NULL;
	if (target[0] == '/')
		return "a symlink whose target is absolute";
	if (strstr(why, "after a name"))
		return "a symlink with '..' after a name in its target (a link could make it "
		       "climb)";
	return "a symlink whose target climbs out of the directory";
}

static const char *special_refusal(mode_t mode)
{
	if (S_ISFIFO(mode))
		return "a fifo";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode) || S_ISBLK(mode))
		return "a device node";
	if (mode & (S_ISUID | S_ISGID))
		return "a setuid or setgid bit";
	return NULL;
}

/* ---- the walk ---- */

static int scan_dir(struct scan *s, int upper_fd, int host_fd, bool is_opaque, int depth);

/* Every host entry at and below host_fd/name, as deleted. */
static int add_deleted(struct scan *s, int host_fd, const char *name, const struct stat *st,
		       int depth)
{
	struct wsdiff_change *c = add(s, WSDIFF_DELETED, name);
	size_t len = strlen(s->path), count;
	char **names;
	int sub, rc = 0;

	if (!c)
		return scan_fail(s, errno, "list", name);
	c->old_mode = st->st_mode;
	c->old_size = (uint64_t)st->st_size;
	if (!S_ISDIR(st->st_mode))
		return 0;
	if (depth >= WSDIFF_MAX_DEPTH)
		return scan_fail(s, ELOOP, "deeper than 128 levels:", name);
	sub = wsdiff_open_beneath(host_fd, name, O_RDONLY | O_DIRECTORY);
	if (sub < 0)
		return scan_fail(s, errno, "open host directory", name);
	names = read_names(sub, &count);
	if (!names) {
		close(sub);
		return scan_fail(s, errno, "read host directory", name);
	}
	snprintf(s->path + len, sizeof(s->path) - len, "%s%s", len ? "/" : "", name);
	for (size_t i = 0; rc == 0 && i < count; i++) {
		struct stat child;
		if (fstatat(sub, names[i], &child, AT_SYMLINK_NOFOLLOW) == 0)
			rc = add_deleted(s, sub, names[i], &child, depth + 1);
	}
	s->path[len] = '\0';
	free_names(names, count);
	close(sub);
	return rc;
}

/* A directory of the upper layer: its own change, then what is in it. */
static int scan_subdir(struct scan *s, int upper_fd, int host_fd, const char *name,
		       const struct stat *ust, const struct stat *hst, bool is_opaque, int depth)
{
	bool is_host_dir = hst && S_ISDIR(hst->st_mode);
	size_t len = strlen(s->path);
	struct wsdiff_change *c = NULL;
	int sub, host_sub = -1, rc = 0;

	bool is_change = !is_host_dir || (hst->st_mode & 07777) != (ust->st_mode & 07777);

	if (is_change) {
		c = add(s, !hst ? WSDIFF_ADDED : !is_host_dir ? WSDIFF_TYPE : WSDIFF_MODE, name);
		if (!c)
			return scan_fail(s, errno, "list", name);
		c->old_mode = hst ? hst->st_mode : 0;
		c->new_mode = ust->st_mode;
		c->refusal = special_refusal(ust->st_mode);
	}
	if (depth >= WSDIFF_MAX_DEPTH)
		return scan_fail(s, ELOOP, "deeper than 128 levels:", name);
	sub = openat(upper_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0 && errno == EACCES && c) {
		c->refusal = "a directory we may not read (its mode denies it)";
		return 0;
	}
	if (sub < 0)
		return scan_fail(s, errno, "open", name);
	/* A redirect names another lower directory: its content would come from there. Never
	 * followed; what is below is not listed either. */
	if (has_xattr(sub, "redirect", false)) {
		if (!c)
			c = add(s, WSDIFF_MODE, name);
		if (!c) {
			close(sub);
			return scan_fail(s, errno, "list", name);
		}
		c->old_mode = hst ? hst->st_mode : 0, c->new_mode = ust->st_mode;
		c->refusal = "an overlay redirect (a moved directory): not supported";
		close(sub);
		return 0;
	}
	if (is_host_dir) {
		host_sub = wsdiff_open_beneath(host_fd, name, O_RDONLY | O_DIRECTORY);
		if (host_sub < 0) {
			close(sub);
			return scan_fail(s, errno, "open host directory", name);
		}
	}
	snprintf(s->path + len, sizeof(s->path) - len, "%s%s", len ? "/" : "", name);
	/* Below an opaque directory (or one the host did not have) the lower layer is hidden. */
	rc = scan_dir(s, sub, host_sub, is_opaque || has_xattr(sub, "opaque", true), depth + 1);
	s->path[len] = '\0';
	if (host_sub >= 0)
		close(host_sub);
	close(sub);
	return rc;
}

/* A regular file in both: content, then mode. */
static int compare_files(struct scan *s, int upper_fd, int host_fd, const char *name,
			 const struct stat *ust, const struct stat *hst, bool *is_modified)
{
	int a = open_file(upper_fd, name), b = -1, same = 0;

	*is_modified = true;
	if (a < 0)
		return errno == EACCES ? 0 : scan_fail(s, errno, "open", name);
	if (ust->st_size == hst->st_size) {
		b = wsdiff_open_beneath(host_fd, name, O_RDONLY | O_NONBLOCK | O_NOCTTY);
		/* A host file we cannot read is shown as modified: apply would write it. */
		same = b >= 0 ? same_content(a, b, (uint64_t)ust->st_size) : 0;
	}
	close(a);
	if (b >= 0)
		close(b);
	if (same < 0)
		return scan_fail(s, EIO, "read", name);
	*is_modified = same == 0;
	return 0;
}

static bool same_link(int upper_fd, int host_fd, const char *name, char *target, size_t size)
{
	char host_target[PATH_MAX];
	ssize_t n = readlinkat(upper_fd, name, target, size - 1), m;

	if (n < 0)
		n = 0;
	target[n] = '\0';
	m = host_fd >= 0 ? readlinkat(host_fd, name, host_target, sizeof(host_target) - 1) : -1;
	return m == n && memcmp(target, host_target, (size_t)n) == 0;
}

/* A file, link or special entry of the upper layer (not a whiteout, not a directory). */
static int scan_leaf(struct scan *s, int upper_fd, int host_fd, const char *name,
		     const struct stat *ust, const struct stat *hst, int depth)
{
	char target[PATH_MAX];
	enum wsdiff_kind kind = WSDIFF_ADDED;
	bool is_modified = true;
	struct wsdiff_change *c;
	int fd;

	if (hst && (hst->st_mode & S_IFMT) != (ust->st_mode & S_IFMT)) {
		kind = WSDIFF_TYPE;
	} else if (hst && S_ISREG(ust->st_mode)) {
		if (compare_files(s, upper_fd, host_fd, name, ust, hst, &is_modified) < 0)
			return -1;
		kind = is_modified ? WSDIFF_MODIFIED : WSDIFF_MODE;
		if (!is_modified && (hst->st_mode & 07777) == (ust->st_mode & 07777))
			return 0; /* copied up by a chmod back, a touch, an open for writing */
	} else if (hst && S_ISLNK(ust->st_mode)) {
		if (same_link(upper_fd, host_fd, name, target, sizeof(target)))
			return 0;
		kind = WSDIFF_MODIFIED;
	} else if (hst) {
		/* A special file the host has too, copied up: a change only of its mode. */
		if ((hst->st_mode & 07777) == (ust->st_mode & 07777))
			return 0;
		kind = WSDIFF_MODE;
	}
	c = add(s, kind, name);
	if (!c)
		return scan_fail(s, errno, "list", name);
	c->old_mode = hst ? hst->st_mode : 0;
	c->new_mode = ust->st_mode;
	c->old_size = hst ? (uint64_t)hst->st_size : 0;
	c->new_size = (uint64_t)ust->st_size;
	c->refusal = special_refusal(ust->st_mode);
	if (S_ISLNK(ust->st_mode)) {
		(void)same_link(upper_fd, -1, name, target, sizeof(target));
		if (!(c->target = strdup(target)))
			return scan_fail(s, ENOMEM, "list", name);
		c->refusal = link_refusal(c->path, target);
	} else if (S_ISREG(ust->st_mode)) {
		fd = open_file(upper_fd, name);
		if (fd < 0 && errno == EACCES)
			c->refusal = "a file we may not read (its mode denies it)";
		else if (fd < 0)
			return scan_fail(s, errno, "open", name);
		/* Metacopy: the data would still be in a lower file the xattr names. */
		if (fd >= 0 && has_xattr(fd, "metacopy", false))
			c->refusal = "an overlay metacopy file: not supported";
		if (fd >= 0)
			close(fd);
	}
	/* A directory the host had at that name goes, with all it held. */
	if (kind == WSDIFF_TYPE && S_ISDIR(hst->st_mode)) {
		size_t at = s->list->count;
		int rc = add_deleted(s, host_fd, name, hst, depth);
		if (rc < 0)
			return -1;
		/* The directory itself is the type change just listed, not a deletion. */
		free(s->list->items[at].path);
		memmove(&s->list->items[at], &s->list->items[at + 1],
			(s->list->count - at - 1) * sizeof(s->list->items[0]));
		s->list->count--;
	}
	return 0;
}

static int scan_entry(struct scan *s, int upper_fd, int host_fd, const char *name, bool is_opaque,
		      int depth)
{
	struct stat ust, hst_buf, *hst = NULL;

	if (fstatat(upper_fd, name, &ust, AT_SYMLINK_NOFOLLOW) < 0)
		return scan_fail(s, errno, "stat", name);
	if (host_fd >= 0 && fstatat(host_fd, name, &hst_buf, AT_SYMLINK_NOFOLLOW) == 0)
		hst = &hst_buf;
	else if (host_fd >= 0 && errno != ENOENT)
		return scan_fail(s, errno, "stat host entry", name);
	if (is_whiteout(&ust))
		return hst ? add_deleted(s, host_fd, name, hst, depth) : 0;
	if (S_ISDIR(ust.st_mode)) {
		/* A host non-directory replaced by a directory: nothing of it shows below. */
		return scan_subdir(s, upper_fd, hst && S_ISDIR(hst->st_mode) ? host_fd : -1, name,
				   &ust, hst, is_opaque || (hst && !S_ISDIR(hst->st_mode)), depth);
	}
	return scan_leaf(s, upper_fd, host_fd, name, &ust, hst, depth);
}

static int scan_dir(struct scan *s, int upper_fd, int host_fd, bool is_opaque, int depth)
{
	size_t count, host_count = 0;
	char **names = read_names(upper_fd, &count), **host_names = NULL;
	int rc = 0;

	if (!names)
		return scan_fail(s, errno, "read directory", ".");
	for (size_t i = 0; rc == 0 && i < count; i++)
		rc = scan_entry(s, upper_fd, host_fd, names[i], is_opaque, depth);
	/* Opaque: the host's entries the upper layer does not have are gone. */
	if (rc == 0 && is_opaque && host_fd >= 0) {
		host_names = read_names(host_fd, &host_count);
		if (!host_names)
			rc = scan_fail(s, errno, "read host directory", ".");
		for (size_t i = 0; rc == 0 && i < host_count; i++) {
			struct stat hst;
			if (!has_name(names, count, host_names[i]) &&
			    fstatat(host_fd, host_names[i], &hst, AT_SYMLINK_NOFOLLOW) == 0)
				rc = add_deleted(s, host_fd, host_names[i], &hst, depth);
		}
		free_names(host_names, host_count);
	}
	free_names(names, count);
	return rc;
}

/* ---- renames ---- */

/* Same bytes at host_fd/from and upper_fd/to (both regular files of that size)? */
static bool is_same_file(int upper_fd, int host_fd, const char *from, const char *to, uint64_t size)
{
	int a = wsdiff_open_beneath(host_fd, from, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	int b = a >= 0 ? wsdiff_open_beneath(upper_fd, to, O_RDONLY | O_NONBLOCK | O_NOCTTY) : -1;
	struct stat sa, sb;
	bool same = b >= 0 && fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && S_ISREG(sa.st_mode) &&
		    S_ISREG(sb.st_mode) && (uint64_t)sa.st_size == size &&
		    (uint64_t)sb.st_size == size && same_content(a, b, size) == 1;

	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	return same;
}

/* A deleted regular file and an added one with the same content become one rename. */
static void pair_renames(struct wsdiff_list *list, int upper_fd, int host_fd)
{
	unsigned tries = 0;

	for (size_t d = 0; d < list->count; d++) {
		struct wsdiff_change *del = &list->items[d];
		if (del->kind != WSDIFF_DELETED || !S_ISREG(del->old_mode) || del->old_size == 0)
			continue;
		for (size_t a = 0; a < list->count && tries < WSDIFF_RENAME_TRIES; a++) {
			struct wsdiff_change *added = &list->items[a];
			if (added->kind != WSDIFF_ADDED || !S_ISREG(added->new_mode) ||
			    added->refusal || added->new_size != del->old_size)
				continue;
			tries++;
			if (!is_same_file(upper_fd, host_fd, del->path, added->path, del->old_size))
				continue;
			added->kind = WSDIFF_RENAMED;
			added->from = del->path;
			added->old_mode = del->old_mode;
			added->old_size = del->old_size;
			del->path = NULL; /* marks it for removal below */
			break;
		}
	}
	size_t kept = 0;
	for (size_t i = 0; i < list->count; i++)
		if (list->items[i].path)
			list->items[kept++] = list->items[i];
	list->count = kept;
}

static int compare_changes(const void *a, const void *b)
{
	return strcmp(((const struct wsdiff_change *)a)->path,
		      ((const struct wsdiff_change *)b)->path);
}

int wsdiff_scan(int upper_fd, int host_fd, bool is_copy, struct wsdiff_list *list,
		struct sk_err *err)
{
	struct scan *s = calloc(1, sizeof(*s));
	int rc;

	memset(list, 0, sizeof(*list));
	if (!s)
		return sk_fail(err, "workspace", ENOMEM, NULL, "list changes");
	s->list = list;
	s->err = err;
	rc = scan_dir(s, upper_fd, host_fd, is_copy, 0);
	free(s);
	if (rc < 0) {
		wsdiff_free(list);
		return -1;
	}
	pair_renames(list, upper_fd, host_fd);
	if (list->count > 1)
		qsort(list->items, list->count, sizeof(*list->items), compare_changes);
	return 0;
}

void wsdiff_summarize(const struct wsdiff_list *list, struct wsdiff_summary *summary)
{
	memset(summary, 0, sizeof(*summary));
	for (size_t i = 0; i < list->count; i++) {
		summary->by_kind[list->items[i].kind]++;
		summary->refused += list->items[i].refusal != NULL;
	}
}

/* ---- names and printing ---- */

const char *wsdiff_kind_name(enum wsdiff_kind kind)
{
	static const char *const names[] = {"added",   "modified", "deleted",
					    "renamed", "mode",	   "type"};
	return names[kind];
}

const char *wsdiff_kind_letter(enum wsdiff_kind kind)
{
	static const char *const letters[] = {"A", "M", "D", "R", "m", "T"};
	return letters[kind];
}

const char *wsdiff_type_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case 0:
		return "none";
	case S_IFREG:
		return "file";
	case S_IFDIR:
		return "dir";
	case S_IFLNK:
		return "symlink";
	case S_IFIFO:
		return "fifo";
	case S_IFSOCK:
		return "socket";
	case S_IFCHR:
		return "char-device";
	default:
		return "block-device";
	}
}

void wsdiff_quote(const char *prefix, const char *path, char *out, size_t size)
{
	static const char escapes[] = "\aa\bb\tt\nn\vv\ff\rr\"\"\\\\";
	bool needs_quotes = false;
	size_t n = 0;

	for (const char *p = path; *p; p++) {
		unsigned char c = (unsigned char)*p;
		needs_quotes |= c < 0x20 || c >= 0x7f || c == '"' || c == '\\';
	}
	if (!needs_quotes) {
		snprintf(out, size, "%s%s", prefix, path);
		return;
	}
	out[n++] = '"';
	for (const char *p = prefix; *p && n + 2 < size; p++)
		out[n++] = *p;
	for (const char *p = path; *p; p++) {
		unsigned char c = (unsigned char)*p;
		const char *esc = c ? strchr(escapes, (char)c) : NULL;
		if (n + 6 >= size)
			break;
		if (esc && (esc - escapes) % 2 == 0) {
			out[n++] = '\\';
			out[n++] = esc[1];
		} else if (c < 0x20 || c >= 0x7f) {
			n += (size_t)snprintf(out + n, size - n, "\\%03o", c);
		} else {
			out[n++] = (char)c;
		}
	}
	out[n++] = '"';
	out[n] = '\0';
}

static void print_change(FILE *out, const struct wsdiff_change *c)
{
	char path[PATH_MAX + 64], from[PATH_MAX + 64];
	bool is_dir = S_ISDIR(c->kind == WSDIFF_DELETED ? c->old_mode : c->new_mode);

	wsdiff_quote("", c->path, path, sizeof(path));
	if (c->kind == WSDIFF_RENAMED) {
		wsdiff_quote("", c->from, from, sizeof(from));
		fprintf(out, "R %s -> %s", from, path);
	} else {
		fprintf(out, "%s %s%s", wsdiff_kind_letter(c->kind), path, is_dir ? "/" : "");
	}
	if (c->kind == WSDIFF_MODE ||
	    (c->kind == WSDIFF_MODIFIED && (c->old_mode & 07777) != (c->new_mode & 07777) &&
	     !S_ISLNK(c->new_mode))) {
		fprintf(out, " %04o -> %04o", (unsigned)(c->old_mode & 07777),
			(unsigned)(c->new_mode & 07777));
	} else if (c->kind == WSDIFF_TYPE) {
		fprintf(out, " (%s -> %s)", wsdiff_type_name(c->old_mode),
			wsdiff_type_name(c->new_mode));
	}
	if (c->target) {
		wsdiff_quote("", c->target, from, sizeof(from));
		fprintf(out, " -> %s", from);
	}
	if (c->refusal)
		fprintf(out, "  [refused: %s]", c->refusal);
	if (c->conflict)
		fprintf(out, "  [conflict: %s]", c->conflict);
	fputc('\n', out);
}

void wsdiff_print_stat(FILE *out, const struct wsdiff_list *list)
{
	struct wsdiff_summary sum;

	for (size_t i = 0; i < list->count; i++)
		print_change(out, &list->items[i]);
	wsdiff_summarize(list, &sum);
	if (list->count == 0) {
		fprintf(out, "no changes\n");
		return;
	}
	fprintf(out, "%zu change%s:", list->count, list->count == 1 ? "" : "s");
	for (int k = 0; k < 6; k++)
		fprintf(out, "%s %zu %s", k ? "," : "", sum.by_kind[k],
			wsdiff_kind_name((enum wsdiff_kind)k));
	fprintf(out, "; %zu refused by apply\n", sum.refused);
}

/* ---- opening a workspace ---- */

static int open_fail(struct wsdiff_workspace *ws)
{
	wsdiff_close(ws, false);
	return -1;
}

int wsdiff_open(const char *name, bool is_exclusive, struct wsdiff_workspace *ws,
		struct sk_err *err)
{
	char volume[SANDBOX_VOLUME_NAME_MAX + 1], canonical[PATH_MAX];
	struct sk_err ignored;
	enum volume_kind kind;
	struct stat st;
	int rc;

	memset(ws, 0, sizeof(*ws));
	ws->volume.lock_fd = ws->volume.dir_fd = ws->upper_fd = ws->host_fd = -1;
	ws->store.root_fd[0] = ws->store.root_fd[1] = ws->store.meta_fd = -1;
	if (workspace_check_name(name) < 0)
		return sk_fail(
		    err, "workspace", EINVAL,
		    "a name is 1-61 of A-Z a-z 0-9 _ . -, starting with a letter or digit",
		    "bad workspace name '%.64s'", name);
	sk_strlcpy(ws->name, name, sizeof(ws->name));
	snprintf(volume, sizeof(volume), WORKSPACE_VOLUME_PREFIX "%s", name);
	if (volume_store_open(&ws->store, err) < 0)
		return -1;
	memset(&ignored, 0, sizeof(ignored));
	if (volume_find(&ws->store, volume, &kind, &ignored) < 0 || kind != VOLUME_NAMED) {
		sk_fail(err, "workspace", ENOENT, "see `stockade workspace ls`",
			"no workspace named %s", name);
		return open_fail(ws);
	}
	rc = is_exclusive
		 ? volume_acquire_exclusive(&ws->store, VOLUME_NAMED, volume, &ws->volume, err)
		 : volume_acquire(&ws->store, VOLUME_NAMED, volume, false, &ws->volume, err);
	if (rc < 0) {
		if (err->errnum == EBUSY)
			sk_fail(err, "workspace", EBUSY, "stop the sandbox using it first",
				"workspace %s is in use", name);
		return open_fail(ws);
	}
	if (workspace_meta_read(ws->volume.dir_fd, &ws->meta, err) < 0)
		return open_fail(ws);
	ws->upper_fd = openat(ws->volume.dir_fd, WORKSPACE_UPPER,
			      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (ws->upper_fd < 0) {
		sk_fail(err, "workspace", errno, NULL, "workspace %s: open its upper layer", name);
		return open_fail(ws);
	}
	/* The directory must still pass a workspace's checks and be the one recorded: a path
	 * now naming another directory is not where these changes belong. */
	ws->host_fd = workspace_open_dir(ws->meta.dir, ws->store.home, canonical, sizeof(canonical),
					 &st, err);
	if (ws->host_fd < 0)
		return open_fail(ws);
	if (st.st_dev != ws->meta.dev || st.st_ino != ws->meta.ino) {
		sk_fail(err, "workspace", 0, "discard the workspace, or put the directory back",
			"workspace %s: %.200s is no longer the directory it was made from", name,
			ws->meta.dir);
		return open_fail(ws);
	}
	return 0;
}

void wsdiff_close(struct wsdiff_workspace *ws, bool should_remove)
{
	if (ws->upper_fd >= 0)
		close(ws->upper_fd);
	if (ws->host_fd >= 0)
		close(ws->host_fd);
	ws->upper_fd = ws->host_fd = -1;
	if (ws->volume.lock_fd >= 0)
		volume_release(&ws->store, &ws->volume, should_remove);
	volume_store_close(&ws->store);
}
