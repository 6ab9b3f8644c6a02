/* `stockade serve`'s API under /v1: a thin front over the operations of the CLI, never a second
 * engine.
 *
 * - A sandbox is made by `stockade run -d` (posix_spawn of the stockade binary beside us) from
 *   one spec document: the operator's policy with the request's spec applied over it, checked
 *   first to only narrow it (sandbox/spec_narrow.h: 403 with the JSON path that widens).
 * - Listing, inspecting and removing are the CLI's own functions (cli/box_client.h).
 * - Execs go to the sandbox's PID 1 through its supervisor, as `stockade exec` does
 *   (serve_exec.c); files through the sandbox's copier, as `stockade cp` does: no path in a
 *   sandbox is ever resolved on the host side.
 *
 * Routes:
 *   GET    /v1/sandboxes                         list
 *   POST   /v1/sandboxes[?name=N&idle_timeout=D&max_lifetime=D]   body: a spec document
 *   GET    /v1/sandboxes/{name}                  inspect
 *   DELETE /v1/sandboxes/{name}                  stop and remove
 *   POST   /v1/sandboxes/{name}/exec[?wait=1]    NDJSON events, or one document
 *   GET    /v1/sandboxes/{name}/exec/{id}[?follow=1&from_seq=N]
 *   DELETE /v1/sandboxes/{name}/exec/{id}        kill it
 *   PUT    /v1/sandboxes/{name}/files?path=/abs[&mode=0644]      body: the bytes
 *   GET    /v1/sandboxes/{name}/files?path=/abs[&list=1]
 *   POST   /v1/run                               {spec?, cmd, ...}: create, exec, delete */
#define _GNU_SOURCE
#include "cli/serve_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/box_client.h"
#include "cli/serve_parse.h"
#include "sandbox/spec_check.h"
#include "sandbox/spec_narrow.h"
#include "store/box.h"
#include "util/clock.h"
#include "util/fds.h"
#include "util/macros.h"
#include "util/parse.h"
#include "util/syscalls.h"

#define CREATE_TIMEOUT_MS 60000
#define CREATE_OUTPUT_MAX 4096

enum MHD_Result serve_respond_failure(struct serve *s, struct MHD_Connection *conn,
				      const struct serve_failure *f)
{
	return serve_respond_path_error(s, conn, f->status, f->code, f->message,
					f->path[0] ? f->path : NULL);
}

const char *serve_query(struct MHD_Connection *conn, const char *key)
{
	return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, key);
}

bool serve_query_flag(struct MHD_Connection *conn, const char *key)
{
	const char *v = serve_query(conn, key);

	return v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
}

/* ---- making a sandbox ---- */

/* root/rest (rest "" or "/..."), opened beneath root through no symlink: an O_PATH fd. */
static int open_beneath(const char *root, const char *rest)
{
	int root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC), fd, saved;

	if (root_fd < 0)
		return -1;
	while (*rest == '/')
		rest++;
	fd = sys_openat2(root_fd, *rest ? rest : ".", O_PATH | O_DIRECTORY | O_CLOEXEC,
			 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
	saved = errno;
	close(root_fd);
	if (fd >= 0) { /* high, out of the way of the child's 3 and 4 (spawn_run_detached) */
		int high = fcntl(fd, F_DUPFD_CLOEXEC, 100);
		saved = errno;
		close(fd);
		fd = high;
	}
	errno = saved;
	return fd;
}

/* A workspace the request names (not the operator's own): a host directory, so only at or
 * beneath a --workspace-root. Granted in *granted (the operator's spec the request is then
 * held to), with the request's directory replaced by its resolved path, which the run opens
 * and checks again (store/workspace.h) as for any caller. */
static int grant_workspace(const struct serve *s, struct sandbox_spec *spec,
			   struct sandbox_spec *granted, int *ws_fd, struct serve_failure *f)
{
	char real[PATH_MAX];

	if (!spec->workspace.is_set ||
	    (s->base.workspace.is_set && strcmp(spec->workspace.dir, s->base.workspace.dir) == 0))
		return 0;
	sk_strlcpy(f->path, "workspace", sizeof(f->path));
	if (s->workspace_root_count == 0)
		return serve_fail(f, 403, "forbidden_by_policy",
				  "workspace: this daemon takes no workspace (it has no "
				  "--workspace-root)");
	if (spec->workspace.dir[0] != '/' || !realpath(spec->workspace.dir, real))
		return serve_fail(f, 400, "bad_spec",
				  "workspace: an existing absolute directory beneath a workspace "
				  "root, got '%.200s'",
				  spec->workspace.dir);
	for (size_t i = 0; i < s->workspace_root_count; i++) {
		const char *root = s->workspace_roots[i];
		size_t n = strlen(root);
		if (strncmp(real, root, n) == 0 && (real[n] == '/' || real[n] == '\0' || n == 1)) {
			/* Opened now, beneath the root and through no symlink: the run must
			 * find this very directory at the path (run --workspace-fd), so a
			 * component swapped for a link meanwhile cannot lead out of the root. */
			*ws_fd = open_beneath(root, real + n);
			if (*ws_fd < 0)
				return serve_fail(
				    f, 403, "forbidden_by_policy",
				    "workspace: '%.200s' cannot be opened beneath its "
				    "root without a symlink: %s",
				    real, strerror(errno));
			sk_strlcpy(spec->workspace.dir, real, sizeof(spec->workspace.dir));
			granted->workspace = spec->workspace;
			f->path[0] = '\0';
			return 0;
		}
	}
	return serve_fail(f, 403, "forbidden_by_policy",
			  "workspace: '%.200s' is beneath none of the daemon's workspace roots",
			  real);
}

/* The request's spec over the operator's, checked, and only narrower; its canonical document
 * (what `policy show` prints, which `run --policy` reads back) into *text. */
static int request_spec(struct serve *s, const char *body, size_t len, char **text, int *ws_fd,
			struct serve_failure *f)
{
	struct sandbox_spec spec = s->base, granted = s->base;
	struct cli_sources sources = {0};
	struct sk_err err = {0};
	char why[300], line[600];
	int rc = -1;

	*text = NULL;
	if (cli_policy_apply_request(&spec, body, len, &sources, f->path, sizeof(f->path), &err) <
	    0) {
		sk_format(&err, line, sizeof(line));
		return serve_fail(f, 400, "bad_spec", "%s", line);
	}
	if (grant_workspace(s, &spec, &granted, ws_fd, f) < 0)
		goto out;
	/* A long-lived sandbox may have no command (its PID 1 then waits for execs). */
	if ((spec.argv ? spec_check(&spec, &err) : spec_check_values(&spec, &err)) < 0) {
		sk_format(&err, line, sizeof(line));
		(void)serve_fail(f, 400, "bad_spec", "%s", line);
		goto out;
	}
	if (spec_narrow_check(&granted, &spec, f->path, sizeof(f->path), why, sizeof(why)) < 0) {
		(void)serve_fail(f, 403, "forbidden_by_policy", "%s: %s", f->path, why);
		goto out;
	}
	json_t *canonical = cli_spec_json(&spec);
	*text = canonical ? json_dumps(canonical, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(canonical);
	rc = *text ? 0 : serve_fail(f, 500, "internal", "out of memory");
out:
	cli_sources_free(&sources);
	if (rc < 0 && *ws_fd >= 0) {
		close(*ws_fd);
		*ws_fd = -1;
	}
	return rc;
}

/* Reads what fd says, up to size - 1 bytes, until EOF or the deadline. */
static size_t read_until(int fd, char *buf, size_t size, double deadline)
{
	size_t used = 0;

	while (used + 1 < size) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int left = (int)(deadline - clock_now_ms());
		if (left <= 0 || poll(&p, 1, left) <= 0)
			break;
		ssize_t n = read(fd, buf + used, size - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	buf[used] = '\0';
	return used;
}

/* `stockade run -d --policy /proc/self/fd/3 ...` with the document on fd 3: 0 and the name it
 * printed, or -1 with its error line. */
static int spawn_run_detached(struct serve *s, const char *doc, const char *name, const char *idle,
			      const char *lifetime, int ws_fd, char *out_name, size_t size,
			      struct serve_failure *f)
{
	char *argv[16];
	int argc = 0, out[2] = {-1, -1}, errs[2] = {-1, -1}, status = 0;
	int memfd = memfd_create("stockade-request", MFD_CLOEXEC);
	posix_spawn_file_actions_t actions;
	char said[CREATE_OUTPUT_MAX], error[CREATE_OUTPUT_MAX];
	double deadline = clock_now_ms() + CREATE_TIMEOUT_MS;
	pid_t pid = -1;

	if (!doc || memfd < 0 || fds_write_all(memfd, doc, strlen(doc)) < 0 ||
	    pipe2(out, O_CLOEXEC) < 0 || pipe2(errs, O_CLOEXEC) < 0) {
		(void)serve_fail(f, 500, "internal", "prepare the run: %s", strerror(errno));
		goto out;
	}
	argv[argc++] = "stockade";
	argv[argc++] = "run";
	argv[argc++] = "-d";
	argv[argc++] = "--policy";
	argv[argc++] = "/proc/self/fd/3";
	argv[argc++] = "--tie-fd"; /* the sandbox stops when this daemon is gone */
	argv[argc++] = "4";
	if (name) {
		argv[argc++] = "--name";
		argv[argc++] = (char *)name;
	}
	if (idle) {
		argv[argc++] = "--idle-timeout";
		argv[argc++] = (char *)idle;
	}
	if (lifetime) {
		argv[argc++] = "--max-lifetime";
		argv[argc++] = (char *)lifetime;
	}
	if (ws_fd >= 0) { /* the directory grant_workspace opened beneath its root */
		argv[argc++] = "--workspace-fd";
		argv[argc++] = "5";
	}
	argv[argc] = NULL;
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&actions, out[1], 1);
	posix_spawn_file_actions_adddup2(&actions, errs[1], 2);
	posix_spawn_file_actions_adddup2(&actions, memfd, 3); /* dup2 clears its O_CLOEXEC */
	/* In this order: the memfd may be fd 4 here, the tie is at 100 or above. */
	posix_spawn_file_actions_adddup2(&actions, s->tie[0], 4);
	if (ws_fd >= 0) /* at 100 or above, like the tie */
		posix_spawn_file_actions_adddup2(&actions, ws_fd, 5);
	int spawned = serve_spawn(s, argv, &actions, &pid);
	posix_spawn_file_actions_destroy(&actions);
	close(out[1]);
	close(errs[1]);
	out[1] = errs[1] = -1;
	if (spawned != 0) {
		pid = -1;
		(void)serve_fail(f, 500, "internal", "spawn %s: %s", s->stockade,
				 strerror(spawned));
		goto out;
	}
	/* run -d returns once the sandbox's PID 1 runs; its supervisor has /dev/null or the log
	 * for stdio, so EOF comes with its exit. */
	(void)read_until(out[0], said, sizeof(said), deadline);
	(void)read_until(errs[0], error, sizeof(error), deadline);
	if (clock_now_ms() >= deadline)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	pid = -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		said[strcspn(said, "\n")] = '\0';
		sk_strlcpy(out_name, said, size);
		if (box_check_name(out_name) == 0)
			goto done;
		(void)serve_fail(f, 500, "internal", "run -d printed no name");
		goto out;
	}
	error[strcspn(error, "\n")] = '\0';
	const char *line = strncmp(error, "stockade: ", 10) == 0 ? error + 10 : error;
	if (strstr(line, "already exists") || strstr(line, "in use"))
		(void)serve_fail(f, 409, "name_in_use", "%s", line);
	else
		(void)serve_fail(f, 500, "create_failed", "%s", line[0] ? line : "run -d failed");
	goto out;
done:
	close(memfd);
	close(out[0]);
	close(errs[0]);
	return 0;
out:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (errs[i] >= 0)
			close(errs[i]);
	}
	if (memfd >= 0)
		close(memfd);
	return -1;
}

/* ---- the daemon's own sandboxes ---- */

/* STOCKADE_HOME may hold sandboxes this daemon did not make for a client: one made with the CLI,
 * under a policy of its own (a secret, a volume, a network the operator's --policy does not
 * give), or a warm one of the pool not taken yet (nobody's: what a client did in it would
 * reach the next one). A request reaches neither: it is told "no such sandbox", as for a name
 * that is not there. The names are recorded under the lock that counted the create, and the
 * room for them (--max-sandboxes) was made at start (s->lock held). */
static ssize_t owned_index_locked(const struct serve *s, const char *name)
{
	for (size_t i = 0; i < s->owned_count; i++)
		if (strcmp(s->owned[i], name) == 0)
			return (ssize_t)i;
	return -1;
}

void serve_own_locked(struct serve *s, const char *name)
{
	if (s->owned_count < s->max_sandboxes && owned_index_locked(s, name) < 0)
		sk_strlcpy(s->owned[s->owned_count++], name, sizeof(s->owned[0]));
}

bool serve_owns(struct serve *s, const char *name)
{
	pthread_mutex_lock(&s->lock);
	bool is_owned = owned_index_locked(s, name) >= 0;
	pthread_mutex_unlock(&s->lock);
	return is_owned;
}

static void owned_drop(struct serve *s, const char *name)
{
	pthread_mutex_lock(&s->lock);
	ssize_t i = owned_index_locked(s, name);
	if (i >= 0) {
		s->owned_count--;
		memcpy(s->owned[i], s->owned[s->owned_count], sizeof(s->owned[0]));
	}
	pthread_mutex_unlock(&s->lock);
}

bool serve_box_exists(const char *name)
{
	struct box_root root;
	struct box box;
	struct sk_err err = {0};
	bool exists = false;

	if (box_root_open(&root, &err) < 0)
		return false;
	if (box_open(&root, name, &box, &err) == 0) {
		exists = true;
		box_close(&box);
	}
	box_root_close(&root);
	return exists;
}

static int make_box(struct serve *s, const char *doc, const char *name, const char *idle,
		    const char *lifetime, bool is_pooled, int ws_fd, char *out_name, size_t size,
		    struct serve_failure *f);

/* A new sandbox from a spec document (body, len; may be empty: the operator's policy as it
 * is). 0 with its name, or -1 with f. */
static int create_box(struct serve *s, const char *body, size_t len, const char *name,
		      const char *idle, const char *lifetime, char *out_name, size_t size,
		      struct serve_failure *f)
{
	char why[300], *doc = NULL;
	uint64_t idle_ms = 1, lifetime_ms = 1;
	int rc;

	if (!serve_is_healthy(s, why, sizeof(why)))
		return serve_fail(f, 503, "degraded", "isolation is not whole here: %s", why);
	if (name && box_check_name(name) < 0)
		return serve_fail(f, 400, "bad_request",
				  "name: letters, digits, '.', '_' and '-', at most %d, not first "
				  "'.' or '-'",
				  BOX_NAME_MAX);
	/* As run -d checks them (more than 0), so that its refusal is not a failed create. */
	if ((idle && parse_duration_ms(idle, &idle_ms) < 0) ||
	    (lifetime && parse_duration_ms(lifetime, &lifetime_ms) < 0) || idle_ms == 0 ||
	    lifetime_ms == 0)
		return serve_fail(
		    f, 400, "bad_request",
		    "idle_timeout, max_lifetime: durations of more than 0 (30s, 5m, 1h)");
	if (name && serve_box_exists(name))
		return serve_fail(f, 409, "name_in_use", "sandbox %s exists", name);
	static const char empty[] = "{\"stockade\": 1}";
	int ws_fd = -1;
	if (request_spec(s, len ? body : empty, len ? len : sizeof(empty) - 1, &doc, &ws_fd, f) < 0)
		return -1;
	/* The operator's spec as it is, no name, no timers: a warm one, when the pool has one. */
	if (ws_fd < 0 && !name && !idle && !lifetime && serve_pool_take(s, doc, out_name, size)) {
		free(doc);
		return 0;
	}
	rc = make_box(s, doc, name, idle, lifetime, false, ws_fd, out_name, size, f);
	free(doc);
	if (ws_fd >= 0)
		close(ws_fd);
	return rc;
}

int serve_make_box(struct serve *s, const char *doc, char *out_name, size_t size, char *message,
		   size_t message_size)
{
	struct serve_failure f = {0};
	int rc = make_box(s, doc, NULL, NULL, NULL, true, -1, out_name, size, &f);

	if (rc < 0)
		snprintf(message, message_size, "%u %s: %s", f.status, f.code, f.message);
	return rc;
}

/* `run -d` of a checked document, within --max-sandboxes; the sandbox made is the client's
 * (s->owned) or, is_pooled, the warm pool's. */
static int make_box(struct serve *s, const char *doc, const char *name, const char *idle,
		    const char *lifetime, bool is_pooled, int ws_fd, char *out_name, size_t size,
		    struct serve_failure *f)
{
	int rc;

	pthread_mutex_lock(&s->lock);
	/* Every sandbox this daemon keeps counts, running or ended: an ended one stays, with its
	 * state, until a DELETE, and counting running ones only let a client fill the home with
	 * ended ones (a command of "true", over and over). */
	bool is_full =
	    s->owned_count + serve_pool_count_locked(s) + s->creating >= s->max_sandboxes;
	if (!is_full)
		s->creating++;
	pthread_mutex_unlock(&s->lock);
	if (is_full)
		return serve_fail(
		    f, 429, "too_many_sandboxes",
		    "%u sandboxes are kept now, running or ended (serve --max-sandboxes): "
		    "DELETE the ones done with",
		    s->max_sandboxes);
	rc = spawn_run_detached(s, doc, name, idle, lifetime, ws_fd, out_name, size, f);
	pthread_mutex_lock(&s->lock);
	s->creating--;
	/* Recorded under the lock that counted it: a create in between sees it either way. */
	if (rc == 0 && is_pooled)
		serve_pool_add_locked(s, out_name);
	else if (rc == 0)
		serve_own_locked(s, out_name);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static void count_created(struct serve *s, unsigned status)
{
	pthread_mutex_lock(&s->lock);
	s->created[status < 300 ? 0 : status < 500 ? 1 : 2]++;
	pthread_mutex_unlock(&s->lock);
}

static json_t *view(const char *name, bool is_detailed)
{
	struct box_root root;
	struct sk_err err = {0};
	json_t *out;

	if (box_root_open(&root, &err) < 0)
		return NULL;
	out = cli_box_view(&root, name, is_detailed);
	box_root_close(&root);
	return out;
}

static enum MHD_Result sandboxes_create(struct serve *s, struct MHD_Connection *conn,
					const struct serve_request *req)
{
	struct serve_failure f = {0};
	char name[BOX_NAME_MAX + 1];

	if (create_box(s, req->body, req->len, serve_query(conn, "name"),
		       serve_query(conn, "idle_timeout"), serve_query(conn, "max_lifetime"), name,
		       sizeof(name), &f) < 0) {
		count_created(s, f.status);
		return serve_respond_failure(s, conn, &f);
	}
	count_created(s, 201);
	return serve_respond_json(s, conn, 201, view(name, true));
}

static enum MHD_Result sandboxes_list(struct serve *s, struct MHD_Connection *conn)
{
	char(*names)[BOX_NAME_MAX + 1] = NULL;
	struct box_root root;
	struct sk_err err = {0};
	size_t count = 0;
	json_t *list = json_array();

	if (box_root_open(&root, &err) < 0 || box_list(&root, &names, &count, &err) < 0) {
		json_decref(list);
		char line[600];
		sk_format(&err, line, sizeof(line));
		return serve_respond_error(s, conn, 500, "internal", line);
	}
	for (size_t i = 0; i < count; i++)
		if (serve_owns(s, names[i]))
			json_array_append_new(list, cli_box_view(&root, names[i], false));
	free(names);
	box_root_close(&root);
	return serve_respond_json(s, conn, 200, json_pack("{s:o}", "sandboxes", list));
}

static enum MHD_Result sandboxes_delete(struct serve *s, struct MHD_Connection *conn,
					const char *name)
{
	struct sk_err err = {0};

	if (!serve_box_exists(name)) {
		owned_drop(s, name); /* removed by hand: not one this daemon keeps any more */
		return serve_respond_error(s, conn, 404, "not_found", "no such sandbox");
	}
	if (serve_remove_box(s, name, &err) < 0) {
		char line[600];
		sk_format(&err, line, sizeof(line));
		return serve_respond_error(s, conn, 500, "internal", line);
	}
	serve_exec_forget(s, name);
	return serve_respond_json(s, conn, 200,
				  json_pack("{s:s, s:s}", "name", name, "status", "removed"));
}

int serve_remove_box(struct serve *s, const char *name, struct sk_err *err)
{
	struct box_root root;
	struct sk_err ignored = {0};

	/* Stopped first (one that has ended already says so: ignored), so that its supervisor
	 * has written how it ended, the proxy's counts with it, before the directory goes. */
	(void)cli_box_stop(name, 0, &ignored);
	if (box_root_open(&root, &ignored) == 0) {
		json_t *view = cli_box_view(&root, name, true);
		json_t *egress = json_object_get(json_object_get(view, "exit"), "egress");
		pthread_mutex_lock(&s->lock);
		s->egress[0] +=
		    (unsigned long)json_integer_value(json_object_get(egress, "allowed"));
		s->egress[1] +=
		    (unsigned long)json_integer_value(json_object_get(egress, "denied"));
		pthread_mutex_unlock(&s->lock);
		json_decref(view);
		box_root_close(&root);
	}
	serve_exec_forget(s, name);
	if (cli_box_remove(name, false, err) < 0 && serve_box_exists(name))
		return -1;
	owned_drop(s, name);
	return 0;
}

/* ---- one-shot runs ---- */

struct removal {
	struct serve *s;
	char name[BOX_NAME_MAX + 1];
};

static void *remove_now(void *arg)
{
	struct removal *r = arg;
	struct sk_err err = {0};

	(void)serve_remove_box(r->s, r->name, &err);
	pthread_mutex_lock(&r->s->lock);
	r->s->removing--;
	pthread_mutex_unlock(&r->s->lock);
	free(r);
	return NULL;
}

/* The sandbox stopped and removed after the answer has gone (a one-shot run's caller does
 * not wait for it); SIGTERM's drain waits for these (serve.c). */
static void remove_later(struct serve *s, const char *name)
{
	struct removal *r = calloc(1, sizeof(*r));
	pthread_attr_t attr;
	pthread_t thread;

	if (r) {
		r->s = s;
		sk_strlcpy(r->name, name, sizeof(r->name));
		pthread_mutex_lock(&s->lock);
		s->removing++;
		pthread_mutex_unlock(&s->lock);
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		bool is_started = pthread_create(&thread, &attr, remove_now, r) == 0;
		pthread_attr_destroy(&attr);
		if (is_started)
			return;
		remove_now(r); /* no thread: here and now */
		return;
	}
	struct sk_err err = {0};
	(void)serve_remove_box(s, name, &err);
}

/* POST /v1/run: {"spec": {...}, "cmd": [...], ...exec fields}: a sandbox made, the command
 * run to its end in it, the sandbox removed; the exec's result document. */
static enum MHD_Result run_once(struct serve *s, struct MHD_Connection *conn, json_t *body)
{
	struct serve_failure f = {0};
	char name[BOX_NAME_MAX + 1], *spec_text = NULL, message[400];
	json_t *spec = json_object_get(body, "spec"), *exec = json_deep_copy(body), *out;
	unsigned status = 500;
	const char *code = "internal";

	if (spec && !json_is_object(spec)) {
		json_decref(exec);
		return serve_respond_path_error(s, conn, 400, "bad_request",
						"spec: a spec document (an object)", "spec");
	}
	json_object_del(exec, "spec");
	spec_text = spec ? json_dumps(spec, JSON_COMPACT) : NULL;
	int rc = create_box(s, spec_text ? spec_text : "", spec_text ? strlen(spec_text) : 0, NULL,
			    NULL, NULL, name, sizeof(name), &f);
	free(spec_text);
	count_created(s, rc < 0 ? f.status : 201);
	if (rc < 0) {
		json_decref(exec);
		if (f.path[0]) { /* the path is the spec's: under "spec" here */
			char inner[sizeof(f.path)];
			sk_strlcpy(inner, f.path, sizeof(inner));
			snprintf(f.path, sizeof(f.path), "spec.%.120s", inner);
		}
		return serve_respond_failure(s, conn, &f);
	}
	out = serve_exec_wait(s, name, exec, &status, &code, message, sizeof(message));
	json_decref(exec);
	remove_later(s, name);
	if (!out)
		return serve_respond_error(s, conn, status, code, message);
	return serve_respond_json(s, conn, 200, out);
}

/* ---- routing ---- */

static enum MHD_Result method_not_allowed(struct serve *s, struct MHD_Connection *conn,
					  const char *allowed)
{
	char message[100];

	snprintf(message, sizeof(message), "this route takes %s", allowed);
	return serve_respond_error(s, conn, 405, "method_not_allowed", message);
}

/* A POST's body as a JSON object; NULL with the request answered (*answered): another method
 * is 405, no body, no JSON or not an object 400. */
static json_t *post_body(struct serve *s, struct MHD_Connection *conn, const char *method,
			 const struct serve_request *req, enum MHD_Result *answered)
{
	struct serve_failure f = {0};
	json_error_t error;
	json_t *value = NULL;

	if (strcmp(method, "POST") != 0) {
		*answered = method_not_allowed(s, conn, "POST");
		return NULL;
	}
	if (!req->len)
		(void)serve_fail(&f, 400, "bad_request", "a JSON body is needed");
	else if (!(value = json_loadb(req->body, req->len, JSON_REJECT_DUPLICATES, &error)))
		(void)serve_fail(&f, 400, "bad_request", "JSON: %s at line %d, column %d",
				 error.text, error.line, error.column);
	else if (!json_is_object(value))
		(void)serve_fail(&f, 400, "bad_request", "the body is not a JSON object");
	if (value && json_is_object(value))
		return value;
	json_decref(value);
	*answered = serve_respond_failure(s, conn, &f);
	return NULL;
}
static enum MHD_Result exec_route(struct serve *s, struct MHD_Connection *conn,
				  const struct serve_route *r, const char *method)
{
	if (strcmp(method, "DELETE") == 0)
		return serve_exec_cancel(s, conn, r->name, r->id);
	if (strcmp(method, "GET") != 0)
		return method_not_allowed(s, conn, "GET, DELETE");
	uint64_t from = 0;
	const char *from_text = serve_query(conn, "from_seq");
	if (from_text && parse_uint(from_text, 0, UINT32_MAX, &from) < 0)
		return serve_respond_error(s, conn, 400, "bad_request",
					   "from_seq: a sequence number");
	return serve_exec_follow(s, conn, r->name, r->id, serve_query_flag(conn, "follow"), from);
}

enum MHD_Result serve_api(struct serve *s, struct MHD_Connection *conn, const char *url,
			  const char *method, struct serve_request *req)
{
	struct serve_route r;
	enum MHD_Result rc;
	json_t *body;

	serve_route_parse(url, &r);
	if (r.name[0] && !serve_owns(s, r.name)) /* not this daemon's: see owned_index_locked */
		return serve_respond_error(s, conn, 404, "not_found", "no such sandbox");
	switch (r.kind) {
	case ROUTE_NONE:
		break;
	case ROUTE_NO_BOX:
		return serve_respond_error(s, conn, 404, "not_found", "no such sandbox");
	case ROUTE_RUN:
		if (!(body = post_body(s, conn, method, req, &rc)))
			return rc;
		rc = run_once(s, conn, body);
		json_decref(body);
		return rc;
	case ROUTE_BOXES:
		if (strcmp(method, "GET") == 0)
			return sandboxes_list(s, conn);
		if (strcmp(method, "POST") == 0)
			return sandboxes_create(s, conn, req);
		return method_not_allowed(s, conn, "GET, POST");
	case ROUTE_BOX:
		if (strcmp(method, "GET") == 0) {
			if (!serve_box_exists(r.name))
				return serve_respond_error(s, conn, 404, "not_found",
							   "no such sandbox");
			return serve_respond_json(s, conn, 200, view(r.name, true));
		}
		if (strcmp(method, "DELETE") == 0)
			return sandboxes_delete(s, conn, r.name);
		return method_not_allowed(s, conn, "GET, DELETE");
	case ROUTE_EXECS:
		if (!(body = post_body(s, conn, method, req, &rc)))
			return rc;
		rc = serve_exec_start(s, conn, r.name, body, serve_query_flag(conn, "wait"));
		json_decref(body);
		return rc;
	case ROUTE_EXEC:
		return exec_route(s, conn, &r, method);
	case ROUTE_FILES:
		if (strcmp(method, "PUT") == 0)
			return serve_files_put(s, conn, r.name, req);
		if (strcmp(method, "GET") == 0)
			return serve_files_get(s, conn, r.name);
		return method_not_allowed(s, conn, "GET, PUT");
	}
	return serve_respond_error(s, conn, 404, "not_found", "no such route");
}
