/* `stockade cp` (see cli/box_client.h): both directions through a copier inside the sandbox
 * (sandbox/service.c); the host side never resolves a path in the sandbox (CVE-2018-15664).
 * `-` for the host side is a file's bytes on stdout or from stdin, with no host path at all
 * (what `stockade mcp`'s read_file and write_file use). */
#define _GNU_SOURCE
#include "cli/box_client.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/service.h"
#include "sandbox/sync.h"
#include "store/box.h"
#include "store/safepath.h"
#include "store/treestream.h"
#include "util/fds.h"
#include "util/macros.h"

/* "NAME:/path" names a path in a sandbox; anything else is a host path. */
static bool split_remote(const char *arg, char *name, size_t size, const char **path)
{
	const char *colon = strchr(arg, ':');
	size_t len = colon ? (size_t)(colon - arg) : 0;

	if (!colon || len == 0 || len >= size || colon[1] != '/')
		return false;
	memcpy(name, arg, len);
	name[len] = '\0';
	if (box_check_name(name) < 0)
		return false;
	*path = colon + 1;
	return true;
}

/* The copier runs inside the sandbox, where the workload can stop it (SIGSTOP: the same uid
 * and PID namespace) or keep it waiting; then nothing it should send or read ever comes.
 * idle_timeout_ms > 0 bounds how long the caller waits for it to do anything (stockade serve:
 * a request's thread, which SIGTERM's drain joins, must end); 0 waits for ever (the CLI's:
 * ^C is its caller's way out). Every socket of a copy gets it, and the caller's ctl too. */
static void copy_timeout(int fd, unsigned idle_timeout_ms)
{
	struct timeval tv = {.tv_sec = idle_timeout_ms / 1000,
			     .tv_usec = (suseconds_t)(idle_timeout_ms % 1000) * 1000};

	if (idle_timeout_ms == 0)
		return;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static bool is_timeout(int errnum)
{
	return errnum == EAGAIN || errnum == EWOULDBLOCK;
}

static int copier_stalled(struct sk_err *err, unsigned idle_timeout_ms)
{
	return sk_fail(err, "cp", ETIMEDOUT, NULL,
		       "the sandbox's copier did nothing for %u s (stopped, or stuck)",
		       idle_timeout_ms / 1000);
}

/* The copier's stderr comes back through a pipe: its first line (it prints one, as main
 * does) becomes our error; *said is whether there was one. */
static void copier_error(int fd, struct sk_err *err, bool *said)
{
	char buf[1024];
	ssize_t n = fds_read_all(fd, buf, sizeof(buf) - 1);
	char *line = buf, *end;

	*said = false;
	if (n <= 0)
		return;
	buf[n] = '\0';
	if ((end = strchr(line, '\n')))
		*end = '\0';
	if (strncmp(line, "stockade: cp: ", 14) == 0)
		line += 14;
	(void)sk_fail(err, "cp", 0, NULL, "%s", line);
	*said = true;
}

/* Sends a copy request (kind 'i' or 'o' for path) with fds 0-2, then closes our copies. */
static int cp_request(int ctl, char kind, const char *path, int in_fd, int err_fd,
		      struct sk_err *err)
{
	struct service_body body = {.kind = kind, .argc = 1};
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int fds[3] = {in_fd, null, err_fd};
	int rc;

	body.argv[0] = (char *)path;
	rc = null < 0 ? sk_fail(err, "cp", errno, NULL, "open /dev/null")
		      : cli_box_send_request(ctl, &body, fds, err);
	if (null >= 0)
		close(null);
	close(in_fd);
	close(err_fd);
	return rc;
}

/* The copier's end: 0 when it exited 0. */
static int cp_done(int ctl, int err_read, unsigned idle_timeout_ms, struct sk_err *err)
{
	struct sync_msg msg;

	for (;;) {
		errno = 0; /* a short message is -1 too, with no errno of its own */
		int rc = sync_recv(ctl, &msg);
		if (rc < 0 && is_timeout(errno))
			return copier_stalled(err, idle_timeout_ms);
		if (rc <= 0)
			return sk_fail(err, "sandbox", 0, NULL,
				       "the sandbox ended during the copy");
		if (msg.kind == SYNC_EXEC_DONE)
			break;
	}
	if (msg.err.layer[0]) {
		*err = msg.err;
		return -1;
	}
	if (WIFEXITED(msg.wait_status) && WEXITSTATUS(msg.wait_status) == 0)
		return 0;
	bool said;
	copier_error(err_read, err, &said);
	return said ? -1 : sk_fail(err, "cp", 0, NULL, "the copy failed inside the sandbox");
}

/* What goes into the copier's stream: a host tree (kind 'i': made as `cp -r` would), or one
 * regular file (kind 'f': the copier refuses a directory at the path) from bytes in memory or
 * from an fd of known size. */
struct cp_source {
	const char *host; /* a host path, or NULL */
	const void *data; /* with fd < 0: len bytes */
	size_t len;
	int fd; /* >= 0: size bytes from it */
	uint64_t size;
	uint32_t mode;
};

static int cp_in(int ctl, const struct cp_source *src, const char *path, unsigned idle_timeout_ms,
		 struct sk_err *err)
{
	struct treestream_stats stats;
	int stream[2], errs[2], rc;
	char copy[PATH_MAX];

	/* The stream is a socket, not a pipe: a write to a copier that stopped reading can then
	 * time out (SO_SNDTIMEO). */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, stream) < 0)
		return sk_fail(err, "cp", errno, NULL, "socketpair");
	copy_timeout(stream[1], idle_timeout_ms);
	copy_timeout(ctl, idle_timeout_ms);
	if (pipe2(errs, O_CLOEXEC) < 0) {
		close(stream[0]);
		close(stream[1]);
		return sk_fail(err, "cp", errno, NULL, "pipe2");
	}
	if (cp_request(ctl, src->host ? SERVICE_COPY_IN : SERVICE_COPY_FILE, path, stream[0],
		       errs[1], err) < 0) {
		close(stream[1]);
		close(errs[0]);
		return -1;
	}
	/* Into the pipe; a copier that stopped reading shows as EPIPE here and says why on its
	 * stderr (its reason wins). */
	sk_strlcpy(copy, path, sizeof(copy));
	if (src->host)
		rc = treestream_write(src->host, stream[1], &stats, err);
	else if (src->fd >= 0)
		rc = treestream_write_file(src->fd, src->size, basename(copy), src->mode, stream[1],
					   err);
	else
		rc = treestream_write_bytes(basename(copy), src->mode, src->data, src->len,
					    stream[1], err);
	close(stream[1]);
	if (rc < 0 && is_timeout(err->errnum)) { /* the copier stopped reading */
		close(errs[0]);
		return copier_stalled(err, idle_timeout_ms);
	}
	struct sk_err done_err = {0};
	int done = cp_done(ctl, errs[0], idle_timeout_ms, &done_err);
	close(errs[0]);
	if (done < 0) {
		*err = done_err;
		return -1;
	}
	return rc;
}

int cli_box_copy_in_bytes(int ctl, const char *path, const void *data, size_t len, uint32_t mode,
			  unsigned idle_timeout_ms, struct sk_err *err)
{
	struct cp_source src = {.data = data, .len = len, .fd = -1, .mode = mode};

	return cp_in(ctl, &src, path, idle_timeout_ms, err);
}

/* stdin as a file of known size: itself when it is a regular file (a memfd, a redirect), else
 * read to its end into a memfd first (the stream names a file's size before its bytes). */
static int stdin_file(int *fd, uint64_t *size, struct sk_err *err)
{
	char buf[65536];
	struct stat st;
	off_t at;
	ssize_t n;

	*fd = -1;
	if (fstat(0, &st) < 0)
		return sk_fail(err, "cp", errno, NULL, "fstat stdin");
	if (S_ISREG(st.st_mode) && (at = lseek(0, 0, SEEK_CUR)) >= 0) {
		*size = st.st_size > at ? (uint64_t)(st.st_size - at) : 0;
		*fd = 0;
		return 0;
	}
	*fd = memfd_create("stockade-cp-stdin", MFD_CLOEXEC);
	if (*fd < 0)
		return sk_fail(err, "cp", errno, NULL, "memfd_create");
	*size = 0;
	while ((n = read(0, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || fds_write_all(*fd, buf, (size_t)n) < 0) {
			int saved = errno;
			close(*fd);
			*fd = -1;
			return sk_fail(err, "cp", saved, NULL, n < 0 ? "read stdin" : "memfd");
		}
		*size += (uint64_t)n;
	}
	if (lseek(*fd, 0, SEEK_SET) < 0) {
		close(*fd);
		*fd = -1;
		return sk_fail(err, "cp", errno, NULL, "lseek");
	}
	return 0;
}

/* cp - NAME:/path: stdin's bytes become the file path (0644), never a file inside a directory
 * of that name (the copier refuses one). */
static int cp_in_stdin(int ctl, const char *path, struct sk_err *err)
{
	struct cp_source src = {.mode = 0644};
	int rc;

	if (stdin_file(&src.fd, &src.size, err) < 0)
		return -1;
	rc = cp_in(ctl, &src, path, 0, err);
	if (src.fd > 0)
		close(src.fd);
	return rc;
}

static void note_skipped_link(void *arg, const char *path, const char *target, const char *why)
{
	(void)arg;
	fprintf(stderr, "stockade: skipped link %s -> %s (%s)\n", path, target, why);
}

/* cp NAME:/file -: the file's bytes on stdout (a directory is refused: there is no stream
 * format for a tree on stdout). A reader that stops reading ends the copy (EPIPE). */
static int cp_to_stdout(int src_fd, const struct stat *st, const char *src_path, struct sk_err *err)
{
	char buf[65536];
	ssize_t n;

	if (!S_ISREG(st->st_mode))
		return sk_fail(err, "cp", EISDIR, "`cp NAME:/path -` copies one file to stdout",
			       "%.200s", src_path);
	while ((n = read(src_fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return sk_fail(err, "cp", errno, NULL, "read %.200s", src_path);
		if (fds_write_all(1, buf, (size_t)n) < 0)
			return sk_fail(err, "cp", errno, NULL, "write stdout");
	}
	return 0;
}

/* Copies what the copier opened inside (src_fd) to host: into host/NAME when host is an
 * existing directory, else as host. A directory goes through the volume export's copy: no
 * link followed, none recreated that could lead out (safepath.h). */
static int cp_to_host(int src_fd, const char *src_path, const char *host, struct sk_err *err)
{
	char copy[PATH_MAX], dst[PATH_MAX];
	struct stat src_st, host_st;
	int dst_fd, rc;

	if (fstat(src_fd, &src_st) < 0)
		return sk_fail(err, "cp", errno, NULL, "fstat");
	if (strcmp(host, "-") == 0)
		return cp_to_stdout(src_fd, &src_st, src_path, err);
	sk_strlcpy(copy, src_path, sizeof(copy));
	if (stat(host, &host_st) == 0 && S_ISDIR(host_st.st_mode))
		snprintf(dst, sizeof(dst), "%.2000s/%.1000s", host, basename(copy));
	else
		sk_strlcpy(dst, host, sizeof(dst));
	if (S_ISREG(src_st.st_mode)) {
		/* O_NOFOLLOW: a link at the destination is not written through. */
		dst_fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
			      src_st.st_mode & 0777);
		if (dst_fd < 0)
			return sk_fail(err, "cp", errno, NULL, "create %.200s", dst);
		char buf[65536];
		ssize_t n;
		rc = 0;
		while ((n = read(src_fd, buf, sizeof(buf))) > 0)
			if (fds_write_all(dst_fd, buf, (size_t)n) < 0) {
				rc = sk_fail(err, "cp", errno, NULL, "write %.200s", dst);
				break;
			}
		if (n < 0 && rc == 0)
			rc = sk_fail(err, "cp", errno, NULL, "read %.200s", src_path);
		if (close(dst_fd) < 0 && rc == 0)
			rc = sk_fail(err, "cp", errno, NULL, "write %.200s", dst);
		return rc;
	}
	if (mkdir(dst, 0700) < 0 && errno != EEXIST)
		return sk_fail(err, "cp", errno, NULL, "mkdir %.200s", dst);
	dst_fd = open(dst, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dst_fd < 0)
		return sk_fail(err, "cp", errno, NULL, "open %.200s", dst);
	struct safepath_copy_opts opts = {.chown_uid = (uid_t)-1,
					  .chown_gid = (gid_t)-1,
					  .links = SAFEPATH_LINKS_SAFE,
					  .on_skipped_link = note_skipped_link};
	struct safepath_copy_stats stats;
	rc = safepath_copy_tree(src_fd, dst_fd, &opts, &stats, err);
	(void)fchmod(dst_fd, (src_st.st_mode & 0777) | 0700);
	close(dst_fd);
	return rc;
}

int cli_box_copy_out_open(int ctl, const char *path, int *src_fd, unsigned idle_timeout_ms,
			  struct sk_err *err)
{
	struct sync_msg msg;
	int pair[2], errs[2], got = 0, rc;

	*src_fd = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
		return sk_fail(err, "cp", errno, NULL, "socketpair");
	copy_timeout(pair[0], idle_timeout_ms);
	copy_timeout(ctl, idle_timeout_ms);
	if (pipe2(errs, O_CLOEXEC) < 0) {
		close(pair[0]);
		close(pair[1]);
		return sk_fail(err, "cp", errno, NULL, "pipe2");
	}
	if (cp_request(ctl, SERVICE_COPY_OUT, path, pair[1], errs[1], err) < 0) {
		close(pair[0]);
		close(errs[0]);
		return -1;
	}
	/* The opened source, or EOF when the copier could not open it (it says why). */
	errno = 0;
	rc = sync_recv_fds(pair[0], &msg, src_fd, 1, &got);
	if (rc < 0 && is_timeout(errno)) {
		close(pair[0]);
		close(errs[0]);
		return copier_stalled(err, idle_timeout_ms);
	}
	if (rc != 1 || got != 1)
		*src_fd = -1;
	close(pair[0]);
	rc = cp_done(ctl, errs[0], idle_timeout_ms, err);
	close(errs[0]);
	if (rc == 0 && *src_fd < 0)
		rc = sk_fail(err, "cp", EPROTO, NULL, "no file came out of the sandbox");
	if (rc < 0 && *src_fd >= 0) {
		close(*src_fd);
		*src_fd = -1;
	}
	return rc;
}

static int cp_out(int ctl, const char *path, const char *host, struct sk_err *err)
{
	int src_fd, rc = cli_box_copy_out_open(ctl, path, &src_fd, 0, err);

	if (rc == 0) {
		rc = cp_to_host(src_fd, path, host, err);
		close(src_fd);
	}
	return rc;
}

int cli_box_cp(int argc, char **argv, struct sk_err *err)
{
	static const char usage[] =
	    "usage: stockade cp NAME:/path HOSTPATH|- | HOSTPATH|- NAME:/path";
	char name[BOX_NAME_MAX + 1];
	const char *path;
	bool is_out;
	struct box_root root;
	struct box box;
	int ctl, rc;

	if (argc != 3)
		return sk_fail(err, "cli", 0, usage, "two paths");
	is_out = split_remote(argv[1], name, sizeof(name), &path);
	if (is_out == split_remote(argv[2], name, sizeof(name), &path))
		return sk_fail(err, "cli", 0, usage,
			       "one path in a sandbox (NAME:/absolute/path), one on the host");
	ctl = cli_box_connect(name, &root, &box, err);
	if (ctl < 0)
		return -1;
	struct cp_source src = {.host = argv[1], .fd = -1};
	if (is_out)
		rc = cp_out(ctl, path, argv[2], err);
	else if (strcmp(argv[1], "-") == 0)
		rc = cp_in_stdin(ctl, path, err);
	else
		rc = cp_in(ctl, &src, path, 0, err);
	cli_box_disconnect(ctl, &root, &box);
	return rc;
}
