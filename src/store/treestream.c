/* The tree stream of `stockade cp` (see treestream.h). */
#define _GNU_SOURCE
#include "store/treestream.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fds.h"
#include "util/macros.h"
#include "util/syscalls.h"

#define MAGIC "SKCP1"
#define MAX_DEPTH 256
#define BENEATH (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

struct record {
	char type;
	uint32_t mode;
	uint32_t path_len;
	uint64_t size;
};

/* ---- writing (the caller's host tree) ---- */

/* A name the stream's top may have: one component, not "", "/", "." or "..". */
static bool is_plain_name(const char *name)
{
	return *name && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

static void put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static int put_record(int out, char type, uint32_t mode, const char *path, uint64_t size,
		      struct sk_err *err)
{
	unsigned char head[17];
	size_t len = strlen(path);

	head[0] = (unsigned char)type;
	put_u32(head + 1, mode);
	put_u32(head + 5, (uint32_t)len);
	put_u64(head + 9, size);
	if (fds_write_all(out, head, sizeof(head)) < 0 || fds_write_all(out, path, len) < 0)
		return sk_fail(err, "cp", errno, NULL, "write the copy stream");
	return 0;
}

/* A file's bytes: exactly size of them, whatever the file does meanwhile (zeros if it shrank,
 * the rest left out if it grew), so the stream stays well-formed. */
static int put_file(int out, int fd, const char *path, uint32_t mode, uint64_t size,
		    struct sk_err *err)
{
	char buf[65536];
	uint64_t done = 0;

	if (put_record(out, 'f', mode, path, size, err) < 0)
		return -1;
	while (done < size) {
		size_t want = size - done < sizeof(buf) ? (size_t)(size - done) : sizeof(buf);
		ssize_t n = read(fd, buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			memset(buf, 0, want);
			n = (ssize_t)want;
		}
		if (fds_write_all(out, buf, (size_t)n) < 0)
			return sk_fail(err, "cp", errno, NULL, "write the copy stream");
		done += (uint64_t)n;
	}
	return 0;
}

static int put_entry(int out, int dir_fd, const char *name, const char *path, int depth,
		     struct treestream_stats *stats, struct sk_err *err);

static int put_dir(int out, int fd, const char *path, int depth, struct treestream_stats *stats,
		   struct sk_err *err)
{
	DIR *dir;
	struct dirent *entry;
	int rc = 0;

	if (depth > MAX_DEPTH)
		return sk_fail(err, "cp", ELOOP, NULL, "%.200s: nested too deep", path);
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return sk_fail(err, "cp", errno, NULL, "read %.200s", path);
	}
	while (rc == 0 && (entry = readdir(dir))) {
		char child[PATH_MAX];
		if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
			continue;
		if (snprintf(child, sizeof(child), "%s%s%s", path, *path ? "/" : "",
			     entry->d_name) >= (int)sizeof(child))
			rc = sk_fail(err, "cp", ENAMETOOLONG, NULL, "%.200s", child);
		else
			rc =
			    put_entry(out, dirfd(dir), entry->d_name, child, depth + 1, stats, err);
	}
	closedir(dir);
	return rc;
}

static int put_entry(int out, int dir_fd, const char *name, const char *path, int depth,
		     struct treestream_stats *stats, struct sk_err *err)
{
	struct stat st;
	char target[PATH_MAX];
	int fd, rc;

	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return sk_fail(err, "cp", errno, NULL, "stat %.200s", *path ? path : name);
	if (S_ISLNK(st.st_mode)) {
		ssize_t n = readlinkat(dir_fd, name, target, sizeof(target) - 1);
		if (n < 0)
			return sk_fail(err, "cp", errno, NULL, "readlink %.200s", path);
		stats->symlinks++;
		return put_record(out, 'l', 0777, path, (uint64_t)n, err) < 0 ||
			       fds_write_all(out, target, (size_t)n) < 0
			   ? -1
			   : 0;
	}
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
		stats->skipped++; /* devices, fifos, sockets */
		return 0;
	}
	fd = openat(dir_fd, name,
		    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY |
			(S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
	if (fd < 0)
		return sk_fail(err, "cp", errno, NULL, "open %.200s", *path ? path : name);
	if (S_ISDIR(st.st_mode)) {
		stats->dirs++;
		if (put_record(out, 'd', st.st_mode & 0777, path, 0, err) < 0) {
			close(fd);
			return -1;
		}
		return put_dir(out, fd, path, depth, stats, err);
	}
	stats->files++;
	stats->bytes += (uint64_t)st.st_size;
	rc = put_file(out, fd, path, st.st_mode & 0777, (uint64_t)st.st_size, err);
	close(fd);
	return rc;
}

int treestream_write(const char *src, int out_fd, struct treestream_stats *stats,
		     struct sk_err *err)
{
	char copy[PATH_MAX], copy2[PATH_MAX];
	const char *name, *parent;
	int dir_fd, rc;

	memset(stats, 0, sizeof(*stats));
	if (sk_strlcpy(copy, src, sizeof(copy)) >= sizeof(copy) - 1 ||
	    sk_strlcpy(copy2, src, sizeof(copy2)) >= sizeof(copy2) - 1)
		return sk_fail(err, "cp", ENAMETOOLONG, NULL, "%.200s", src);
	name = basename(copy);
	parent = dirname(copy2);
	if (!is_plain_name(name))
		return sk_fail(err, "cp", 0, "name a file or a directory",
			       "cp: cannot copy '%.200s'", src);
	dir_fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0)
		return sk_fail(err, "cp", errno, NULL, "open %.200s", parent);
	if (fds_write_all(out_fd, MAGIC, sizeof(MAGIC)) < 0 ||
	    fds_write_all(out_fd, name, strlen(name) + 1) < 0)
		rc = sk_fail(err, "cp", errno, NULL, "write the copy stream");
	else
		rc = put_entry(out_fd, dir_fd, name, "", 0, stats, err);
	close(dir_fd);
	if (rc == 0 && put_record(out_fd, 'e', 0, "", 0, err) < 0)
		rc = -1;
	return rc;
}

/* The head of a one-file stream: the magic and the file's name (a plain one). */
static int put_single_head(int out_fd, const char *name, struct sk_err *err)
{
	if (!is_plain_name(name))
		return sk_fail(err, "cp", 0, "name a file", "cp: cannot copy to '%.200s'", name);
	if (fds_write_all(out_fd, MAGIC, sizeof(MAGIC)) < 0 ||
	    fds_write_all(out_fd, name, strlen(name) + 1) < 0)
		return sk_fail(err, "cp", errno, NULL, "write the copy stream");
	return 0;
}

int treestream_write_file(int fd, uint64_t size, const char *name, uint32_t mode, int out_fd,
			  struct sk_err *err)
{
	if (put_single_head(out_fd, name, err) < 0 ||
	    put_file(out_fd, fd, "", mode & 0777, size, err) < 0)
		return -1;
	return put_record(out_fd, 'e', 0, "", 0, err);
}

/* One file from memory (the API's PUT .../files), as treestream_write_file from an fd. */
int treestream_write_bytes(const char *name, uint32_t mode, const void *data, size_t len,
			   int out_fd, struct sk_err *err)
{
	if (put_single_head(out_fd, name, err) < 0 ||
	    put_record(out_fd, 'f', mode & 0777, "", len, err) < 0)
		return -1;
	if (fds_write_all(out_fd, data, len) < 0)
		return sk_fail(err, "cp", errno, NULL, "write the copy stream");
	return put_record(out_fd, 'e', 0, "", 0, err);
}

/* ---- reading (inside the sandbox) ---- */

static int read_exact(int fd, void *buf, size_t len)
{
	ssize_t n = fds_read_all(fd, buf, len);

	return n == (ssize_t)len ? 0 : -1;
}

static uint32_t get_u32(const unsigned char *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t get_u64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int get_record(int in, struct record *r, char *path, struct sk_err *err)
{
	unsigned char head[17];

	if (read_exact(in, head, sizeof(head)) < 0)
		return sk_fail(err, "cp", EPROTO, NULL, "the copy stream ended early");
	r->type = (char)head[0];
	r->mode = get_u32(head + 1) & 0777;
	r->path_len = get_u32(head + 5);
	r->size = get_u64(head + 9);
	if (r->path_len >= PATH_MAX || read_exact(in, path, r->path_len) < 0)
		return sk_fail(err, "cp", EPROTO, NULL, "a bad path in the copy stream");
	path[r->path_len] = '\0';
	return 0;
}

/* Relative, no empty, "." or ".." component, no NUL inside: a path that stays beneath. */
static bool is_plain_path(const char *path, size_t len)
{
	if (strlen(path) != len || path[0] == '/')
		return false;
	for (const char *p = path; *p;) {
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p = *end ? end + 1 : end;
	}
	return true;
}

/* The directory that holds path (relative to top_fd), through no symlink; *name its last part. */
static int parent_of(int top_fd, char *path, const char **name)
{
	char *slash = strrchr(path, '/');

	if (!slash) {
		*name = path;
		return fcntl(top_fd, F_DUPFD_CLOEXEC, 0);
	}
	*slash = '\0';
	*name = slash + 1;
	return sys_openat2(top_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, BENEATH);
}

static int get_file(int in, int dir, const char *name, const struct record *r, struct sk_err *err)
{
	char buf[65536];
	uint64_t left = r->size;
	int fd;

	/* Replaced, never written through: an existing name (a link the workload put there
	 * included) is unlinked first, and the new file made with O_EXCL. */
	(void)unlinkat(dir, name, 0);
	fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return sk_fail(err, "cp", errno, NULL, "create %.200s", name);
	while (left > 0) {
		size_t want = left < sizeof(buf) ? (size_t)left : sizeof(buf);
		if (read_exact(in, buf, want) < 0 || fds_write_all(fd, buf, want) < 0) {
			close(fd);
			return sk_fail(err, "cp", errno ? errno : EPROTO, NULL, "write %.200s",
				       name);
		}
		left -= want;
	}
	close(fd);
	return 0;
}

static int get_entry(int in, int top_fd, const struct record *r, char *path,
		     struct treestream_stats *stats, struct sk_err *err)
{
	char target[PATH_MAX];
	const char *name;
	int dir, rc = 0;

	if (!is_plain_path(path, r->path_len))
		return sk_fail(err, "cp", EPROTO, NULL, "a path that leaves the copy: %.200s",
			       path);
	dir = parent_of(top_fd, path, &name);
	if (dir < 0)
		return sk_fail(err, "cp", errno, NULL, "open the directory of %.200s", name);
	switch (r->type) {
	case 'd':
		if (mkdirat(dir, name, 0700) < 0 && errno != EEXIST)
			rc = sk_fail(err, "cp", errno, NULL, "mkdir %.200s", name);
		stats->dirs++;
		break;
	case 'f':
		rc = get_file(in, dir, name, r, err);
		stats->files++;
		stats->bytes += r->size;
		break;
	case 'l':
		if (r->size >= sizeof(target) || read_exact(in, target, (size_t)r->size) < 0) {
			rc = sk_fail(err, "cp", EPROTO, NULL, "a bad link in the copy stream");
			break;
		}
		target[r->size] = '\0';
		(void)unlinkat(dir, name, 0);
		if (symlinkat(target, dir, name) < 0)
			rc = sk_fail(err, "cp", errno, NULL, "symlink %.200s", name);
		stats->symlinks++;
		break;
	default:
		rc = sk_fail(err, "cp", EPROTO, NULL, "an unknown entry in the copy stream");
	}
	/* Modes last for directories would need a second pass; files and directories get theirs
	 * now (a directory the copy still writes into keeps its owner's write bit). */
	if (rc == 0 && r->type == 'f')
		(void)!fchmodat(dir, name, r->mode, 0);
	if (rc == 0 && r->type == 'd')
		(void)!fchmodat(dir, name, r->mode | 0700, 0);
	close(dir);
	return rc;
}

/* Where the top goes: inside dst when it is an existing directory, else dst itself. Opens the
 * directory that will hold it and names it. */
static int place_top(const char *dst, const char *top_name, char *name_out, size_t size,
		     struct sk_err *err)
{
	char copy[PATH_MAX], copy2[PATH_MAX];
	struct stat st;

	if (stat(dst, &st) == 0 && S_ISDIR(st.st_mode)) {
		sk_strlcpy(name_out, top_name, size);
		return open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	sk_strlcpy(copy, dst, sizeof(copy));
	sk_strlcpy(copy2, dst, sizeof(copy2));
	sk_strlcpy(name_out, basename(copy), size);
	int fd = open(dirname(copy2), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		(void)sk_fail(err, "cp", errno, NULL, "%.200s: no such directory", dst);
	return fd;
}

int treestream_read(int in_fd, const char *dst, struct treestream_stats *stats, struct sk_err *err)
{
	char magic[sizeof(MAGIC)], top_name[NAME_MAX + 1], name[NAME_MAX + 1], path[PATH_MAX];
	struct record r;
	int holder, top = -1, rc = 0;
	size_t i = 0;

	memset(stats, 0, sizeof(*stats));
	if (read_exact(in_fd, magic, sizeof(magic)) < 0 || memcmp(magic, MAGIC, sizeof(MAGIC)) != 0)
		return sk_fail(err, "cp", EPROTO, NULL, "not a copy stream");
	do {
		if (read_exact(in_fd, &top_name[i], 1) < 0)
			return sk_fail(err, "cp", EPROTO, NULL, "the copy stream ended early");
	} while (top_name[i] != '\0' && ++i < sizeof(top_name) - 1);
	top_name[i] = '\0';
	if (!is_plain_path(top_name, strlen(top_name)) || strchr(top_name, '/'))
		return sk_fail(err, "cp", EPROTO, NULL, "a bad name in the copy stream");
	holder = place_top(dst, top_name, name, sizeof(name), err);
	if (holder < 0)
		return -1;
	if (get_record(in_fd, &r, path, err) < 0 || r.path_len != 0) {
		close(holder);
		return sk_fail(err, "cp", EPROTO, NULL, "a bad copy stream");
	}
	/* The top: a file or link made in holder under name, or a directory the rest goes in. */
	if (r.type == 'd') {
		if (mkdirat(holder, name, 0700) < 0 && errno != EEXIST)
			rc = sk_fail(err, "cp", errno, NULL, "mkdir %.200s", dst);
		else if ((top = sys_openat2(holder, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC,
					    BENEATH)) < 0)
			rc = sk_fail(err, "cp", errno, NULL, "open %.200s", dst);
		else
			(void)fchmod(top, r.mode | 0700);
		stats->dirs++;
	} else {
		sk_strlcpy(path, name, sizeof(path));
		r.path_len = (uint32_t)strlen(path);
		rc = get_entry(in_fd, holder, &r, path, stats, err);
	}
	close(holder);
	/* A file or a link at the top: the end record follows it. Read, so that the writer's
	 * last bytes never meet a closed pipe (its EPIPE would fail a copy that was made). */
	if (rc == 0 && top < 0 && (get_record(in_fd, &r, path, err) < 0 || r.type != 'e'))
		rc = sk_fail(err, "cp", EPROTO, NULL, "a bad end of the copy stream");
	while (rc == 0 && top >= 0) {
		if (get_record(in_fd, &r, path, err) < 0) {
			rc = -1;
			break;
		}
		if (r.type == 'e')
			break;
		rc = get_entry(in_fd, top, &r, path, stats, err);
	}
	if (top >= 0)
		close(top);
	return rc;
}
