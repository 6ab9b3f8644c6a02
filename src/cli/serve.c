/* `stockade serve` (the stockade-serve executable, see serve_main.c): HTTP/1.1 with JSON over a
 * unix socket, served by libmicrohttpd on a socket we create and check. This file is the
 * daemon: options, request bodies, routing, /livez and /readyz, the operator's policy and the
 * lifecycle (drain, tie). Its socket and who may use it are serve_socket.c; /healthz and
 * /metrics serve_health.c; the API under /v1 is serve_api.c (sandboxes, files, one-shot
 * runs), serve_exec.c (execs) and serve_pool.c (the warm pool).
 *
 * The socket: 0660 from birth (umask, never a later chmod), in a directory of the daemon's own
 * that nobody else can write, and every connection's peer checked with SO_PEERCRED against the
 * allowed uids and gids (the daemon's own uid always) before a byte of its request is acted
 * on: a world-writable runner socket shared across uids is exactly what this must not be.
 * Everything that makes or probes a sandbox runs in a process of its own (posix_spawn of the
 * stockade binary beside us, or the sandbox's own supervisor): this process has threads, and a
 * sandbox's clone must not start from one. */
#define _GNU_SOURCE
#include "cli/serve.h"
#include "cli/box_client.h"
#include "cli/serve_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/spec_check.h"
#include "store/box.h"
#include "util/clock.h"
#include "util/fds.h"
#include "util/macros.h"
#include "util/parse.h"
#include "util/paths.h"

extern char **environ;

/* ---- options ---- */

int serve_usage_error(struct sk_err *err, const char *why)
{
	return sk_fail(
	    err, "cli", 0,
	    "usage: stockade serve [--socket PATH] [--allow-uid UID]... "
	    "[--allow-gid GID]... [--policy FILE] [--profile NAME] "
	    "[--max-sandboxes N] [--max-execs N] [--max-body SIZE] "
	    "[--drain-timeout SECONDS] [--copy-timeout SECONDS] [--pool N [--pool-floor M]] "
	    "[--listen 127.0.0.1:PORT --token-file FILE] [--workspace-root DIR]...",
	    "%s", why);
}

static int parse_args(struct serve *s, int argc, char **argv, struct sk_err *err)
{
	static const struct option options[] = {{"socket", required_argument, NULL, 's'},
						{"allow-uid", required_argument, NULL, 'u'},
						{"allow-gid", required_argument, NULL, 'g'},
						{"policy", required_argument, NULL, 'p'},
						{"profile", required_argument, NULL, 'P'},
						{"max-sandboxes", required_argument, NULL, 'S'},
						{"max-execs", required_argument, NULL, 'E'},
						{"max-body", required_argument, NULL, 'B'},
						{"drain-timeout", required_argument, NULL, 'D'},
						{"copy-timeout", required_argument, NULL, 'C'},
						{"pool", required_argument, NULL, 'O'},
						{"listen", required_argument, NULL, 'L'},
						{"token-file", required_argument, NULL, 'T'},
						{"pool-floor", required_argument, NULL, 'F'},
						{"workspace-root", required_argument, NULL, 'W'},
						{"help", no_argument, NULL, 'h'},
						{NULL, 0, NULL, 0}};
	uint64_t id;
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (optarg[0] != '/' ||
			    strlen(optarg) >= sizeof(((struct sockaddr_un *)0)->sun_path))
				return serve_usage_error(err,
							 "--socket takes an absolute path, at most "
							 "107 bytes");
			sk_strlcpy(s->socket_path, optarg, sizeof(s->socket_path));
			break;
		case 'u':
		case 'g':
			if (parse_uint(optarg, 0, UINT32_MAX - 1, &id) < 0)
				return serve_usage_error(
				    err, "--allow-uid and --allow-gid take a number");
			/* One uid slot stays for the daemon's own (below). */
			if ((opt == 'u' ? s->uid_count + 1 : s->gid_count) >= SERVE_MAX_IDS)
				return serve_usage_error(err, "at most 32 of each");
			if (opt == 'u')
				s->uids[s->uid_count++] = (uid_t)id;
			else
				s->gids[s->gid_count++] = (gid_t)id;
			break;
		case 'p':
			s->policy_path = optarg;
			break;
		case 'P':
			s->profile = optarg;
			break;
		case 'S':
		case 'E':
			if (parse_uint(optarg, 1, 100000, &id) < 0)
				return serve_usage_error(err,
							 "--max-sandboxes and --max-execs take a "
							 "number from 1 to 100000");
			*(opt == 'S' ? &s->max_sandboxes : &s->max_execs) = (unsigned)id;
			break;
		case 'L':
			s->listen_addr = optarg;
			break;
		case 'T':
			s->token_path = optarg;
			break;
		case 'O':
		case 'F':
			if (parse_uint(optarg, 0, 64, &id) < 0)
				return serve_usage_error(err,
							 "--pool and --pool-floor take 0 to 64");
			*(opt == 'O' ? &s->pool_target : &s->pool_floor) = (unsigned)id;
			break;
		case 'C':
			if (parse_uint(optarg, 1, 3600, &id) < 0)
				return serve_usage_error(err,
							 "--copy-timeout takes seconds, 1 to 3600");
			s->copy_timeout_ms = (unsigned)id * 1000;
			break;
		case 'D':
			if (parse_uint(optarg, 0, 3600, &id) < 0)
				return serve_usage_error(
				    err, "--drain-timeout takes seconds, 0 to 3600");
			s->drain_seconds = (unsigned)id;
			break;
		case 'B':
			if (parse_size(optarg, &id) < 0 || id < 1024 || id > (1ull << 30))
				return serve_usage_error(err,
							 "--max-body takes a size from 1k to 1g");
			s->max_body = (size_t)id;
			break;
		case 'W':
			if (s->workspace_root_count >= SERVE_MAX_WORKSPACE_ROOTS)
				return serve_usage_error(err, "at most 8 --workspace-root");
			/* Resolved once, now: a request's directory is compared with this. */
			if (!realpath(optarg, s->workspace_roots[s->workspace_root_count]))
				return sk_fail(err, "cli", errno, "it takes an existing directory",
					       "--workspace-root %.200s", optarg);
			s->workspace_root_count++;
			break;
		case 'h':
			return serve_usage_error(err, "help");
		default:
			return serve_usage_error(err, "unknown option or missing value");
		}
	}
	if (optind < argc)
		return serve_usage_error(err, "unexpected argument");
	if (!s->listen_addr != !s->token_path)
		return serve_usage_error(err, "--listen and --token-file go together");
	if (s->pool_floor > s->pool_target)
		return serve_usage_error(err, "--pool-floor is at most --pool");
	if (s->pool_target && !s->pool_floor)
		s->pool_floor = 1; /* /readyz: 503 while no warm sandbox is ready */
	if (!s->socket_path[0] &&
	    paths_serve_socket(s->socket_path, sizeof(s->socket_path), err) < 0)
		return -1;
	/* The daemon's own uid always (its health probe, its operator), and those named. */
	if (s->uid_count < SERVE_MAX_IDS)
		s->uids[s->uid_count++] = geteuid();
	return 0;
}

/* ---- responses ---- */

int serve_fail(struct serve_failure *f, unsigned status, const char *code, const char *fmt, ...)
{
	va_list ap;

	f->status = status;
	f->code = code;
	va_start(ap, fmt);
	vsnprintf(f->message, sizeof(f->message), fmt, ap);
	va_end(ap);
	return -1;
}

void serve_count_response(struct serve *s, unsigned status)
{
	pthread_mutex_lock(&s->lock);
	s->requests[status >= 100 && status < 600 ? status / 100 : 0]++;
	pthread_mutex_unlock(&s->lock);
}

enum MHD_Result serve_respond(struct serve *s, struct MHD_Connection *conn, unsigned status,
			      const char *type, char *text)
{
	struct MHD_Response *response;
	enum MHD_Result rc;

	if (!text)
		return MHD_NO;
	response = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!response) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(response, "Content-Type", type);
	MHD_add_response_header(response, "Cache-Control", "no-store");
	rc = MHD_queue_response(conn, status, response);
	MHD_destroy_response(response);
	serve_count_response(s, status);
	return rc;
}

enum MHD_Result serve_respond_json(struct serve *s, struct MHD_Connection *conn, unsigned status,
				   json_t *body)
{
	char *text = body ? json_dumps(body, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	char *line = NULL;

	json_decref(body);
	if (text && asprintf(&line, "%s\n", text) < 0)
		line = NULL;
	free(text);
	return serve_respond(s, conn, status, "application/json", line);
}

enum MHD_Result serve_respond_path_error(struct serve *s, struct MHD_Connection *conn,
					 unsigned status, const char *code, const char *message,
					 const char *path)
{
	json_t *error = json_pack("{s:s, s:s}", "code", code, "message", message);

	if (error && path)
		json_object_set_new(error, "path", json_string(path));
	return serve_respond_json(s, conn, status, json_pack("{s:o}", "error", error));
}

enum MHD_Result serve_respond_error(struct serve *s, struct MHD_Connection *conn, unsigned status,
				    const char *code, const char *message)
{
	return serve_respond_path_error(s, conn, status, code, message, NULL);
}

/* How much of a body past --max-body is read and dropped before the connection is closed. */
static size_t drop_limit(const struct serve *s)
{
	return MAX(s->max_body, (size_t)1 << 20);
}

/* Takes a chunk of the request's body. Past the limit the rest is read and dropped (a
 * response cannot be queued while a body comes in: libmicrohttpd's rule), up to as much again
 * or 1 MiB, then the connection is closed; a body that ends before that gets its 413. (A body
 * whose Content-Length says it is larger still is answered before it is read: handle().) */
static enum MHD_Result take_body(struct serve *s, struct serve_request *req, const char *data,
				 size_t *size)
{
	if (req->is_too_large) {
		req->dropped += *size;
		*size = 0;
		return req->dropped > drop_limit(s) ? MHD_NO : MHD_YES;
	}
	if (req->len + *size > s->max_body) {
		req->is_too_large = true;
		req->dropped = *size;
		*size = 0;
		return MHD_YES;
	}
	if (req->len + *size + 1 > req->cap) {
		size_t cap = MAX(req->cap * 2, req->len + *size + 1);
		char *more = realloc(req->body, cap);
		if (!more)
			return MHD_NO;
		req->body = more;
		req->cap = cap;
	}
	memcpy(req->body + req->len, data, *size);
	req->len += *size;
	req->body[req->len] = '\0';
	*size = 0;
	return MHD_YES;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct serve *s = cls;
	struct serve_request *req = *con_cls;

	(void)version;
	if (!req) {
		/* The first call, headers read: who is asking, before anything of the request
		 * is acted on. */
		enum serve_peer peer = serve_peer_check(s, conn);
		if (peer != PEER_ALLOWED) {
			pthread_mutex_lock(&s->lock);
			s->refused_peers++;
			pthread_mutex_unlock(&s->lock);
		}
		if (peer == PEER_NO_TOKEN)
			return serve_respond_error(
			    s, conn, MHD_HTTP_UNAUTHORIZED, "unauthorized",
			    "over TCP every request needs "
			    "Authorization: Bearer TOKEN (serve --token-file)");
		if (peer == PEER_REFUSED) {
			return serve_respond_error(
			    s, conn, MHD_HTTP_FORBIDDEN, "forbidden",
			    "this uid is not allowed on this socket (serve --allow-uid)");
		}
		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO;
		*con_cls = req;
		/* A body announced far past the limit is answered at once (and the connection
		 * closed unread); one a little past it is read and dropped first (take_body), so
		 * that the client, still sending, is not cut off before it reads the 413. */
		const char *length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
								 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (length && strtoull(length, NULL, 10) > s->max_body + drop_limit(s)) {
			req->is_refused = true;
			return serve_respond_error(s, conn, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
						   "the body is larger than serve --max-body");
		}
		return MHD_YES;
	}
	if (*upload_data_size)
		return take_body(s, req, upload_data, upload_data_size);
	if (req->is_refused)
		return MHD_YES; /* answered already */
	if (req->is_too_large)
		return serve_respond_error(s, conn, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
					   "the body is larger than serve --max-body");
	if (strncmp(url, "/v1/", 4) == 0) {
		if (s->is_stopping)
			return serve_respond_error(s, conn, MHD_HTTP_SERVICE_UNAVAILABLE,
						   "stopping", "the daemon is stopping");
		return serve_api(s, conn, url, method, req);
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return serve_respond_error(s, conn, MHD_HTTP_METHOD_NOT_ALLOWED,
					   "method_not_allowed", "this route takes GET");
	if (strcmp(url, "/livez") == 0)
		return serve_respond_json(s, conn, 200, json_pack("{s:s}", "status", "ok"));
	if (strcmp(url, "/readyz") == 0) {
		unsigned available, target;
		serve_pool_counts(s, &available, &target);
		if (s->is_stopping)
			return serve_respond_json(s, conn, 503,
						  json_pack("{s:s}", "status", "stopping"));
		if (available < s->pool_floor)
			return serve_respond_json(s, conn, 503,
						  json_pack("{s:s, s:i, s:i}", "status",
							    "pool below its floor", "pool",
							    available, "floor", s->pool_floor));
		return serve_respond_json(
		    s, conn, 200, json_pack("{s:s, s:i}", "status", "ready", "pool", available));
	}
	if (strcmp(url, "/healthz") == 0)
		return serve_healthz(s, conn);
	if (strcmp(url, "/metrics") == 0)
		return serve_metrics(s, conn);
	return serve_respond_error(s, conn, MHD_HTTP_NOT_FOUND, "not_found", "no such route");
}

static void request_done(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode why)
{
	struct serve_request *req = *con_cls;

	(void)cls;
	(void)conn;
	(void)why;
	if (req) {
		free(req->body);
		free(req);
	}
	*con_cls = NULL;
}

/* ---- the daemon ---- */

static int find_stockade(struct serve *s, struct sk_err *err)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n < 0)
		return sk_fail(err, "serve", errno, NULL, "readlink /proc/self/exe");
	self[n] = '\0';
	snprintf(s->stockade, sizeof(s->stockade), "%.4000s/stockade", dirname(self));
	if (access(s->stockade, X_OK) < 0)
		return sk_fail(err, "serve", errno,
			       "stockade-serve runs beside the stockade binary", "%.200s",
			       s->stockade);
	return 0;
}

/* The operator's policy: the built-in defaults, the profile, the policy file (as `run` builds
 * them), checked; every request narrows it. */
static int load_policy(struct serve *s, struct sk_err *err)
{
	cli_run_defaults(&s->base);
	s->base_sources.is_command_optional = true;
	if (cli_policy_load(&s->base, s->policy_path, s->profile, &s->base_sources, err) < 0 ||
	    spec_check_values(&s->base, err) < 0) {
		cli_sources_free(&s->base_sources);
		return -1;
	}
	s->base.argv = cli_sources_command(&s->base_sources);
	/* An exec keeps at most 8 MiB of output, or the operator's limits.output; 1 MiB unless
	 * it asks for more. */
	s->output_max = 8u << 20;
	if (s->base.output_limit_bytes && s->base.output_limit_bytes < s->output_max)
		s->output_max = s->base.output_limit_bytes;
	s->output_default = MIN(s->output_max, (uint64_t)1 << 20);
	return 0;
}

int serve_spawn(const struct serve *s, char *const argv[],
		const posix_spawn_file_actions_t *actions, pid_t *pid)
{
	posix_spawnattr_t attr;
	sigset_t none, defaults;
	int rc;

	/* The child starts with no signal blocked (ours block the stop signals for sigwait) and
	 * SIGPIPE back to its default (we ignore it): a sandbox must not inherit either. */
	sigemptyset(&none);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGPIPE);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(pid, s->stockade, actions, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	return rc;
}

/* One daemon per STOCKADE_HOME: an exclusive lock on $STOCKADE_HOME/serve.lock, held for the
 * daemon's life (close-on-exec: no sandbox's supervisor keeps it). A daemon takes every tied
 * sandbox of its home for one of its own or one a dead daemon left: a second one beside it
 * would remove the first's ended sandboxes when it starts and all of them on its SIGTERM. */
static int lock_home(struct serve *s, struct sk_err *err)
{
	char home[PATH_MAX], path[PATH_MAX + 16];

	if (paths_ensure_home(home, sizeof(home), err) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/serve.lock", home);
	s->home_lock_fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (s->home_lock_fd < 0)
		return sk_fail(err, "serve", errno, NULL, "open %.200s", path);
	if (flock(s->home_lock_fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	int saved = errno;
	close(s->home_lock_fd);
	s->home_lock_fd = -1;
	if (saved != EWOULDBLOCK)
		return sk_fail(err, "serve", saved, NULL, "lock %.200s", path);
	return sk_fail(err, "serve", 0,
		       "stop it first, or give this daemon a STOCKADE_HOME of its own",
		       "another stockade serve uses STOCKADE_HOME %.200s", home);
}

/* The sandboxes this home holds that a daemon made (state "tied") and that have ended: a
 * daemon killed with SIGKILL took them with it (their supervisors saw the tie close) but could
 * not remove them; the next one does. */
static void remove_stale(void)
{
	char(*names)[BOX_NAME_MAX + 1] = NULL;
	struct box_root root;
	struct sk_err err = {0};
	size_t count = 0;

	if (box_root_open(&root, &err) < 0)
		return;
	if (box_list(&root, &names, &count, &err) == 0)
		for (size_t i = 0; i < count; i++) {
			json_t *view = cli_box_view(&root, names[i], true);
			const char *status = json_string_value(json_object_get(view, "status"));
			if (json_is_true(json_object_get(view, "tied")) && status &&
			    strcmp(status, "running") != 0 &&
			    cli_box_remove(names[i], false, &err) == 0)
				fprintf(stderr,
					"stockade: removed %s, left by a daemon that died\n",
					names[i]);
			json_decref(view);
		}
	free(names);
	box_root_close(&root);
}

/* The sandboxes of this home that a daemon made (state "tied"), running or ended: with the home
 * lock (lock_home), this daemon's own, its pool's, and what a dead one left. */
static size_t tied_boxes(char (**names)[BOX_NAME_MAX + 1])
{
	char(*all)[BOX_NAME_MAX + 1] = NULL;
	struct box_root root;
	struct sk_err err = {0};
	size_t count = 0, n = 0;

	*names = NULL;
	if (box_root_open(&root, &err) < 0)
		return 0;
	if (box_list(&root, &all, &count, &err) == 0 && count > 0) {
		*names = calloc(count, sizeof(**names));
		for (size_t i = 0; *names && i < count; i++) {
			json_t *view = cli_box_view(&root, all[i], true);
			if (json_is_true(json_object_get(view, "tied")))
				memcpy((*names)[n++], all[i], sizeof(all[i]));
			json_decref(view);
		}
	}
	free(all);
	box_root_close(&root);
	return n;
}

/* SIGTERM: no new work; running execs get --drain-timeout; then every sandbox this daemon
 * made is stopped (the tie closes: each supervisor stops its sandbox, SIGTERM then SIGKILL)
 * and removed. */
/* Until *counter (one of struct serve's, under its lock) is 0, or the deadline. */
static void wait_for_zero(struct serve *s, const unsigned *counter, double deadline)
{
	for (;;) {
		pthread_mutex_lock(&s->lock);
		bool is_zero = *counter == 0;
		pthread_mutex_unlock(&s->lock);
		if (is_zero || clock_now_ms() >= deadline)
			return;
		struct timespec pause = {.tv_nsec = 50 * 1000 * 1000};
		nanosleep(&pause, NULL);
	}
}

static void drain(struct serve *s, struct MHD_Daemon *daemon, struct MHD_Daemon *tcp_daemon)
{
	char(*names)[BOX_NAME_MAX + 1];
	double deadline = clock_now_ms() + s->drain_seconds * 1000.0;

	serve_stopping(s);
	serve_pool_stop(s); /* its sandboxes are tied: removed below with the others */
	pthread_mutex_lock(&s->lock);
	size_t kept = s->owned_count;
	pthread_mutex_unlock(&s->lock);
	fprintf(stderr, "stockade: draining: %zu sandboxes, execs get %u s\n", kept,
		s->drain_seconds);
	wait_for_zero(s, &s->running_execs, deadline);
	serve_closing(s);
	/* This joins every request's thread: a create under way when SIGTERM came has made its
	 * sandbox (or failed) by now, so the listing below has it. Listed before this, such a
	 * sandbox was left behind. */
	MHD_stop_daemon(daemon);
	if (tcp_daemon)
		MHD_stop_daemon(tcp_daemon);
	wait_for_zero(s, &s->removing, clock_now_ms() + 10000.0); /* one-shot runs' removals */
	size_t count = tied_boxes(&names); /* while their supervisors answer at once */
	close(s->tie[1]);
	s->tie[1] = -1;
	for (size_t i = 0; i < count; i++) {
		struct sk_err err = {0};
		/* The supervisor stops on the tie alone; a stop asked here too is quicker. */
		if (serve_remove_box(s, names[i], &err) < 0) {
			char line[600];
			sk_format(&err, line, sizeof(line));
			fprintf(stderr, "stockade: %s: %s\n", names[i], line);
		}
	}
	free(names);
	/* The pumps of execs that outlived the drain see their sandbox go; each uses struct serve
	 * (on serve_main's stack) to its last step, so they end before it is gone. */
	wait_for_zero(s, &s->pumps, clock_now_ms() + 10000.0);
	serve_pool_free(s);
}

static struct MHD_Daemon *start_http(struct serve *s, int fd)
{
	return MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL, &handle,
	    s, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)512, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)(64 * 1024), MHD_OPTION_NOTIFY_COMPLETED, &request_done, s, MHD_OPTION_END);
}

int serve_main(int argc, char **argv, struct sk_err *err)
{
	struct serve s;
	struct MHD_Daemon *daemon, *tcp_daemon;
	sigset_t stop;
	int sig;

	memset(&s, 0, sizeof(s));
	s.listen_fd = -1;
	s.max_sandboxes = 64;
	s.max_execs = 256;
	s.max_body = 16u << 20;
	s.drain_seconds = 10;
	s.copy_timeout_ms = 10000;
	s.tie[0] = s.tie[1] = -1;
	s.tcp_fd = -1;
	s.home_lock_fd = -1;
	pthread_mutex_init(&s.lock, NULL);
	pthread_mutex_init(&s.doctor_lock, NULL);
	pthread_cond_init(&s.slot_free, NULL);
	/* What we inherited past stdio (a pipe of whoever started us, open without close-on-exec)
	 * is ours to ignore, not to hand on: every `run -d` we spawn would pass it to its sandbox's
	 * supervisor, which holds it as long as the sandbox lives. */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		return sk_fail(err, "serve", errno, NULL, "close_range (close-on-exec)");
	if (parse_args(&s, argc, argv, err) < 0 || find_stockade(&s, err) < 0)
		return -1;
	if (load_policy(&s, err) < 0)
		return -1;
	if (s.listen_addr && (serve_tcp_listen(&s, err) < 0)) {
		cli_sources_free(&s.base_sources);
		return -1;
	}
	if (lock_home(&s, err) < 0) {
		cli_sources_free(&s.base_sources);
		return -1;
	}
	/* At 100 and above: a create's spawn places its own fds at 3 and 4 (serve_api.c). */
	if (fds_pipe_high(s.tie, 100) < 0) {
		cli_sources_free(&s.base_sources);
		return sk_fail(err, "serve", errno, NULL, "pipe2 (the tie)");
	}
	remove_stale();
	if (serve_pool_start(&s, s.pool_target, err) < 0) {
		cli_sources_free(&s.base_sources);
		return -1;
	}
	/* The signals that stop us, blocked before the threads exist: only sigwait sees them. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	/* The names of the sandboxes made for clients: used by requests only, from here on. */
	s.owned = calloc(s.max_sandboxes, sizeof(*s.owned));
	if (!s.owned || serve_socket_listen(&s, err) < 0) {
		if (!s.owned)
			(void)sk_fail(err, "serve", ENOMEM, NULL, "room for --max-sandboxes names");
		free(s.owned);
		cli_sources_free(&s.base_sources);
		return -1;
	}
	daemon = start_http(&s, s.listen_fd);
	/* TCP has a daemon of its own on its own socket; the same handler tells them apart. */
	tcp_daemon = s.tcp_fd >= 0 ? start_http(&s, s.tcp_fd) : NULL;
	if (!daemon || (s.tcp_fd >= 0 && !tcp_daemon)) {
		int saved = errno;
		if (daemon)
			MHD_stop_daemon(daemon);
		(void)unlink(s.socket_path);
		free(s.owned);
		cli_sources_free(&s.base_sources);
		return sk_fail(err, "serve", saved, NULL, "start the HTTP server (libmicrohttpd)");
	}
	fprintf(stderr, "stockade: serving on %s%s%s\n", s.socket_path,
		s.listen_addr ? " and " : "", s.listen_addr ? s.listen_addr : "");
	while (sigwait(&stop, &sig) != 0)
		;
	drain(&s, daemon, tcp_daemon);
	(void)unlink(s.socket_path);
	close(s.listen_fd);
	json_decref(s.doctor);
	serve_exec_free_all(&s);
	free(s.owned);
	cli_sources_free(&s.base_sources);
	close(s.tie[0]);
	close(s.home_lock_fd); /* the home is free for the next daemon */
	fprintf(stderr, "stockade: serve stopped (signal %d)\n", sig);
	return 0;
}
