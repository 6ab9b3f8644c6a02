/* `stockade serve`'s file routes (serve_api.c routes them): PUT and GET
 * /v1/sandboxes/{name}/files?path=/abs, through the sandbox's copier as `stockade cp` does:
 * no path in a sandbox is ever resolved on the host side. */
#define _GNU_SOURCE
#include "cli/serve_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/box_client.h"
#include "store/box.h"
#include "util/fds.h"
#include "util/macros.h"
#include "util/parse.h"

#define LIST_MAX_ENTRIES 10000

/* ---- files ---- */

static int connect_box(const char *name, struct box_root *root, struct box *box,
		       struct serve_failure *f)
{
	struct sk_err err = {0};
	int ctl;

	if (!serve_box_exists(name))
		return serve_fail(f, 404, "not_found", "no such sandbox");
	ctl = cli_box_connect(name, root, box, &err);
	if (ctl < 0) {
		char line[600];
		sk_format(&err, line, sizeof(line));
		return serve_fail(f, 409, "not_running", "%s", line);
	}
	return ctl;
}

static int check_path(const char *path, struct serve_failure *f)
{
	if (!path || path[0] != '/' || strlen(path) >= PATH_MAX)
		return serve_fail(f, 400, "bad_request", "path: an absolute path in the sandbox");
	return 0;
}

static void copy_failure(const struct sk_err *err, struct serve_failure *f)
{
	char line[600];

	sk_format(err, line, sizeof(line));
	(void)serve_fail(f, 400, "copy_failed", "%s", line);
}

enum MHD_Result serve_files_put(struct serve *s, struct MHD_Connection *conn, const char *name,
				const struct serve_request *req)
{
	const char *path = serve_query(conn, "path"), *mode_text = serve_query(conn, "mode");
	struct serve_failure f = {0};
	struct box_root root;
	struct box box;
	struct sk_err err = {0};
	unsigned long mode = 0644;
	char *end;
	int ctl;

	if (check_path(path, &f) < 0)
		return serve_respond_failure(s, conn, &f);
	if (mode_text) {
		errno = 0;
		mode = strtoul(mode_text, &end, 8);
		if (errno || *end || !*mode_text || mode > 0777)
			return serve_respond_error(s, conn, 400, "bad_request",
						   "mode: octal permission bits (0644)");
	}
	ctl = connect_box(name, &root, &box, &f);
	if (ctl < 0)
		return serve_respond_failure(s, conn, &f);
	int rc = cli_box_copy_in_bytes(ctl, path, req->body ? req->body : "", req->len,
				       (uint32_t)mode, s->copy_timeout_ms, &err);
	cli_box_disconnect(ctl, &root, &box);
	if (rc < 0) {
		copy_failure(&err, &f);
		return serve_respond_failure(s, conn, &f);
	}
	return serve_respond_json(
	    s, conn, 201, json_pack("{s:s, s:I}", "path", path, "size", (json_int_t)req->len));
}

static const char *type_name(mode_t mode)
{
	if (S_ISREG(mode))
		return "file";
	if (S_ISDIR(mode))
		return "directory";
	if (S_ISLNK(mode))
		return "symlink";
	return "other";
}

/* The entries of a directory opened inside the sandbox: names read with getdents on that fd,
 * each stat'ed beside it without following a link. */
static json_t *list_dir(int fd)
{
	int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	DIR *dir = copy >= 0 ? fdopendir(copy) : NULL;
	json_t *entries = json_array();
	bool is_truncated = false;
	struct dirent *d;

	if (!dir) {
		if (copy >= 0)
			close(copy);
		json_decref(entries);
		return NULL;
	}
	while ((d = readdir(dir))) {
		struct stat st;
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		if (json_array_size(entries) >= LIST_MAX_ENTRIES) {
			is_truncated = true;
			break;
		}
		json_t *one = json_pack("{s:s}", "name", d->d_name);
		if (fstatat(dirfd(dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			char mode[8];
			snprintf(mode, sizeof(mode), "%04o", (unsigned)(st.st_mode & 07777));
			json_object_set_new(one, "type", json_string(type_name(st.st_mode)));
			json_object_set_new(one, "size", json_integer((json_int_t)st.st_size));
			json_object_set_new(one, "mode", json_string(mode));
			json_object_set_new(one, "mtime", json_integer((json_int_t)st.st_mtime));
		}
		json_array_append_new(entries, one);
	}
	closedir(dir);
	return json_pack("{s:o, s:b}", "entries", entries, "truncated", is_truncated);
}

enum MHD_Result serve_files_get(struct serve *s, struct MHD_Connection *conn, const char *name)
{
	const char *path = serve_query(conn, "path");
	struct serve_failure f = {0};
	struct box_root root;
	struct box box;
	struct sk_err err = {0};
	struct stat st;
	int ctl, fd = -1;

	if (check_path(path, &f) < 0)
		return serve_respond_failure(s, conn, &f);
	ctl = connect_box(name, &root, &box, &f);
	if (ctl < 0)
		return serve_respond_failure(s, conn, &f);
	int rc = cli_box_copy_out_open(ctl, path, &fd, s->copy_timeout_ms, &err);
	cli_box_disconnect(ctl, &root, &box);
	if (rc < 0) {
		copy_failure(&err, &f);
		return serve_respond_failure(s, conn, &f);
	}
	if (fstat(fd, &st) < 0) {
		close(fd);
		return serve_respond_error(s, conn, 500, "internal", "fstat");
	}
	if (S_ISDIR(st.st_mode)) {
		json_t *listing = serve_query_flag(conn, "list") ? list_dir(fd) : NULL;
		bool wanted = serve_query_flag(conn, "list");
		close(fd);
		if (!wanted)
			return serve_respond_error(s, conn, 400, "is_a_directory",
						   "a directory: list=1 lists it");
		if (!listing)
			return serve_respond_error(s, conn, 500, "internal", "read the directory");
		json_object_set_new(listing, "path", json_string(path));
		return serve_respond_json(s, conn, 200, listing);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return serve_respond_error(s, conn, 400, "not_a_file",
					   "neither a regular file nor a directory");
	}
	/* The file as opened inside: sent from that fd (libmicrohttpd closes it). */
	struct MHD_Response *response = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
	if (!response) {
		close(fd);
		return MHD_NO;
	}
	MHD_add_response_header(response, "Content-Type", "application/octet-stream");
	MHD_add_response_header(response, "Cache-Control", "no-store");
	enum MHD_Result queued = MHD_queue_response(conn, 200, response);
	MHD_destroy_response(response);
	serve_count_response(s, 200);
	return queued;
}
