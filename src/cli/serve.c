/* `stockade serve` (the stockade-serve executable, see serve_main.c): HTTP/1.1 with JSON over a
 * unix socket, served by libmicrohttpd on a socket we create and check. This slice serves the
 * daemon's own health: /livez (it answers), /healthz (every required layer probes ok right now:
 * doctor's data, at most a few seconds old; 503 with the failing layers otherwise), /readyz,
 * and /metrics (Prometheus text). Everything else is 404.
 *
 * The socket: 0660 from birth (umask, never a later chmod), in a directory of the daemon's own
 * that nobody else can write, and every connection's peer checked with SO_PEERCRED against the
 * allowed uids and gids (default: the daemon's own uid) before a byte of its request is acted
 * on: a world-writable runner socket shared across uids is exactly what this must not be.
 * The probes run in `stockade doctor --json`, a process of its own (posix_spawn: this process
 * has threads, and a probe's clone must not start from one). */
#define _GNU_SOURCE
#include "cli/serve.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/box.h"
#include "util/clock.h"
#include "util/fds.h"
#include "util/macros.h"
#include "util/parse.h"
#include "util/paths.h"

#define SERVE_MAX_IDS 32
#define HEALTH_CACHE_MS 2000.0 /* /healthz's probes are at most this old */
#define DOCTOR_TIMEOUT_MS 30000
#define DOCTOR_OUTPUT_MAX (256 * 1024)

extern char **environ;

struct serve {
	char socket_path[PATH_MAX];
	char stockade[PATH_MAX]; /* the stockade binary beside us: its doctor probes */
	uid_t uids[SERVE_MAX_IDS];
	size_t uid_count;
	gid_t gids[SERVE_MAX_IDS];
	size_t gid_count;
	int listen_fd;
	/* The last probes, shared by the connection threads. */
	pthread_mutex_t lock;
	json_t *doctor; /* doctor --json's document, or NULL */
	double doctor_at;
	/* Counters for /metrics. */
	unsigned long requests[6]; /* by status class: 2xx, 3xx, 4xx, 5xx; [0] other */
	unsigned long refused_peers;
};

/* ---- options ---- */

static int usage_error(struct sk_err *err, const char *why)
{
	return sk_fail(err, "cli", 0,
		       "usage: stockade serve [--socket PATH] [--allow-uid UID]... "
		       "[--allow-gid GID]...",
		       "%s", why);
}

static int parse_args(struct serve *s, int argc, char **argv, struct sk_err *err)
{
	static const struct option options[] = {{"socket", required_argument, NULL, 's'},
						{"allow-uid", required_argument, NULL, 'u'},
						{"allow-gid", required_argument, NULL, 'g'},
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
				return usage_error(err, "--socket takes an absolute path, at most "
							"107 bytes");
			sk_strlcpy(s->socket_path, optarg, sizeof(s->socket_path));
			break;
		case 'u':
		case 'g':
			if (parse_uint(optarg, 0, UINT32_MAX - 1, &id) < 0)
				return usage_error(err,
						   "--allow-uid and --allow-gid take a number");
			if ((opt == 'u' ? s->uid_count : s->gid_count) >= SERVE_MAX_IDS)
				return usage_error(err, "at most 32 of each");
			if (opt == 'u')
				s->uids[s->uid_count++] = (uid_t)id;
			else
				s->gids[s->gid_count++] = (gid_t)id;
			break;
		case 'h':
			return usage_error(err, "help");
		default:
			return usage_error(err, "unknown option or missing value");
		}
	}
	if (optind < argc)
		return usage_error(err, "unexpected argument");
	if (!s->socket_path[0] &&
	    paths_serve_socket(s->socket_path, sizeof(s->socket_path), err) < 0)
		return -1;
	if (s->uid_count == 0 && s->gid_count == 0)
		s->uids[s->uid_count++] = geteuid(); /* the daemon's own uid, nobody else */
	return 0;
}

/* ---- the socket ---- */

/* The socket's directory: made 0755 when missing; then it must be a directory (no link) of
 * ours that nobody else can write, so nobody else can replace the socket. */
static int socket_dir(const char *path, struct sk_err *err)
{
	char copy[PATH_MAX];
	struct stat st;
	const char *dir;

	sk_strlcpy(copy, path, sizeof(copy));
	dir = dirname(copy);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return sk_fail(err, "serve", errno, NULL, "mkdir %.200s", dir);
	if (lstat(dir, &st) < 0)
		return sk_fail(err, "serve", errno, NULL, "stat %.200s", dir);
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
		return sk_fail(err, "serve", EPERM,
			       "the socket's directory must be the daemon's own, writable by it "
			       "alone",
			       "refusing socket directory %.200s", dir);
	return 0;
}

static int socket_listen(struct serve *s, struct sk_err *err)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd, rc;
	mode_t old;

	if (socket_dir(s->socket_path, err) < 0)
		return -1;
	sk_strlcpy(addr.sun_path, s->socket_path, sizeof(addr.sun_path));
	/* A socket left by a daemon that died is replaced; a live one is not. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
		close(fd);
		return sk_fail(err, "serve", EADDRINUSE, "stop it first, or give another --socket",
			       "a stockade serve already listens on %.200s", s->socket_path);
	}
	if (fd >= 0)
		close(fd);
	struct stat st;
	if (lstat(s->socket_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return sk_fail(err, "serve", EEXIST, "remove it, or give another --socket",
				       "%.200s exists and is not a socket", s->socket_path);
		(void)unlink(s->socket_path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return sk_fail(err, "serve", errno, NULL, "socket");
	/* 0660 from the moment it exists: the umask, not a chmod after bind. */
	old = umask(0117);
	rc = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old);
	if (rc < 0 || listen(fd, 128) < 0) {
		rc = errno;
		close(fd);
		return sk_fail(err, "serve", rc, NULL, "bind %.200s", s->socket_path);
	}
	s->listen_fd = fd;
	return 0;
}

/* Whether the connection's peer is one we serve: its uid, or its gid or one of its groups. */
static bool peer_allowed(struct serve *s, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	gid_t groups[256];
	socklen_t groups_len = sizeof(groups);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	/* root can read this daemon's memory anyway: refusing it would protect nothing. */
	if (cred.uid == 0)
		return true;
	for (size_t i = 0; i < s->uid_count; i++)
		if (cred.uid == s->uids[i])
			return true;
	if (s->gid_count == 0)
		return false;
	size_t count = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &groups_len) == 0
			   ? groups_len / sizeof(gid_t)
			   : 0;
	for (size_t i = 0; i < s->gid_count; i++) {
		if (cred.gid == s->gids[i])
			return true;
		for (size_t j = 0; j < count; j++)
			if (groups[j] == s->gids[i])
				return true;
	}
	return false;
}

/* ---- doctor's probes ---- */

/* `stockade doctor --json` in a process of its own; its document, or NULL. */
static json_t *run_doctor(const struct serve *s)
{
	static char *const argv_template[] = {"stockade", "doctor", "--json", NULL};
	posix_spawn_file_actions_t actions;
	char *buf = malloc(DOCTOR_OUTPUT_MAX + 1);
	int out[2];
	pid_t pid;
	size_t used = 0;
	double deadline = clock_now_ms() + DOCTOR_TIMEOUT_MS;
	json_t *doc = NULL;

	if (!buf || pipe2(out, O_CLOEXEC) < 0) {
		free(buf);
		return NULL;
	}
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_adddup2(&actions, out[1], 1);
	posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawn(&pid, s->stockade, &actions, NULL, argv_template, environ) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&actions);
	close(out[1]);
	while (pid > 0 && used < DOCTOR_OUTPUT_MAX) {
		struct pollfd p = {.fd = out[0], .events = POLLIN};
		int left = (int)(deadline - clock_now_ms());
		if (left <= 0 || poll(&p, 1, left) <= 0)
			break;
		ssize_t n = read(out[0], buf + used, DOCTOR_OUTPUT_MAX - used);
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	close(out[0]);
	if (pid > 0) {
		kill(pid, SIGKILL); /* done or over time: it has nothing more to say */
		(void)waitpid(pid, NULL, 0);
	}
	buf[used] = '\0';
	doc = json_loads(buf, 0, NULL);
	free(buf);
	return doc;
}

/* The probes, at most HEALTH_CACHE_MS old: a new reference, or NULL. */
static json_t *probes(struct serve *s)
{
	json_t *doc;

	pthread_mutex_lock(&s->lock);
	if (!s->doctor || clock_now_ms() - s->doctor_at > HEALTH_CACHE_MS) {
		json_decref(s->doctor);
		s->doctor = run_doctor(s);
		s->doctor_at = clock_now_ms();
	}
	doc = json_incref(s->doctor);
	pthread_mutex_unlock(&s->lock);
	return doc;
}

/* ---- responses ---- */

static enum MHD_Result respond(struct serve *s, struct MHD_Connection *conn, unsigned status,
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
	pthread_mutex_lock(&s->lock);
	s->requests[status >= 200 && status < 600 ? status / 100 : 0]++;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static enum MHD_Result respond_json(struct serve *s, struct MHD_Connection *conn, unsigned status,
				    json_t *body)
{
	char *text = body ? json_dumps(body, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	char *line = NULL;

	json_decref(body);
	if (text && asprintf(&line, "%s\n", text) < 0)
		line = NULL;
	free(text);
	return respond(s, conn, status, "application/json", line);
}

static enum MHD_Result respond_error(struct serve *s, struct MHD_Connection *conn, unsigned status,
				     const char *code, const char *message)
{
	return respond_json(s, conn, status,
			    json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message));
}

/* /healthz: 200 when every required layer probes ok; 503 with each failing one (doctor's
 * operation, errno, diagnosis and remedy). A layer that is not required and fails is listed
 * under "degraded" and keeps 200. */
static enum MHD_Result healthz(struct serve *s, struct MHD_Connection *conn)
{
	json_t *doc = probes(s), *layers, *layer, *failing = json_array(), *degraded = json_array(),
	       *up = json_object();
	size_t i;

	layers = json_object_get(doc, "layers");
	json_array_foreach(layers, i, layer)
	{
		const char *name = json_string_value(json_object_get(layer, "name"));
		bool is_ok = json_equal(json_object_get(layer, "status"), json_string("ok"));
		bool is_required = json_is_true(json_object_get(layer, "required"));
		json_object_set_new(up, name ? name : "?", json_boolean(is_ok));
		if (is_ok)
			continue;
		json_t *one = json_pack(
		    "{s:O?, s:O?, s:O?, s:O?, s:O?, s:O?}", "layer", json_object_get(layer, "name"),
		    "op", json_object_get(layer, "op"), "errno",
		    json_object_get(layer, "errno_name"), "diagnosis",
		    json_object_get(layer, "diagnosis"), "remedy", json_object_get(layer, "remedy"),
		    "status", json_object_get(layer, "status"));
		json_array_append_new(is_required ? failing : degraded, one);
	}
	bool is_healthy = doc && json_array_size(layers) > 0 && json_array_size(failing) == 0;
	if (!doc)
		json_array_append_new(failing,
				      json_pack("{s:s, s:s}", "layer", "doctor", "diagnosis",
						"stockade doctor could not be run"));
	json_t *body = json_pack("{s:s, s:o, s:o, s:o}", "status", is_healthy ? "ok" : "failing",
				 "layers", up, "failing", failing, "degraded", degraded);
	json_decref(doc);
	return respond_json(s, conn, is_healthy ? 200 : 503, body);
}

/* The sandboxes of this daemon's STOCKADE_HOME, by state. */
static void count_sandboxes(unsigned long *running, unsigned long *exited, unsigned long *dead)
{
	char(*names)[BOX_NAME_MAX + 1] = NULL;
	struct box_root root;
	struct sk_err err = {0};
	size_t count = 0;

	*running = *exited = *dead = 0;
	if (box_root_open(&root, &err) < 0)
		return;
	if (box_list(&root, &names, &count, &err) == 0)
		for (size_t i = 0; i < count; i++) {
			struct box box;
			if (box_open(&root, names[i], &box, &err) < 0)
				continue;
			if (box_is_alive(&box)) {
				(*running)++;
			} else {
				char *text = box_state_read(&box, &err);
				bool has_exited = text && strstr(text, "\"status\": \"exited\"");
				(*(has_exited ? exited : dead))++;
				free(text);
			}
			box_close(&box);
		}
	free(names);
	box_root_close(&root);
}

static enum MHD_Result metrics(struct serve *s, struct MHD_Connection *conn)
{
	json_t *doc = probes(s), *layer;
	unsigned long running, exited, dead, requests[6], refused;
	char *text = NULL;
	size_t len = 0, i;
	FILE *out = open_memstream(&text, &len);

	if (!out) {
		json_decref(doc);
		return MHD_NO;
	}
	count_sandboxes(&running, &exited, &dead);
	pthread_mutex_lock(&s->lock);
	memcpy(requests, s->requests, sizeof(requests));
	refused = s->refused_peers;
	pthread_mutex_unlock(&s->lock);
	fprintf(out,
		"# HELP stockade_build_info The version of this stockade.\n"
		"# TYPE stockade_build_info gauge\n"
		"stockade_build_info{version=\"%s\"} 1\n",
		STOCKADE_VERSION);
	fprintf(out, "# HELP stockade_layer_up Whether the layer probes ok now (1) or not (0).\n"
		     "# TYPE stockade_layer_up gauge\n");
	json_array_foreach(json_object_get(doc, "layers"), i, layer)
	{
		const char *name = json_string_value(json_object_get(layer, "name"));
		const char *status = json_string_value(json_object_get(layer, "status"));
		if (name)
			fprintf(out, "stockade_layer_up{layer=\"%s\"} %d\n", name,
				status && strcmp(status, "ok") == 0);
	}
	fprintf(out,
		"# HELP stockade_sandboxes Long-lived sandboxes of this daemon's home, by state.\n"
		"# TYPE stockade_sandboxes gauge\n"
		"stockade_sandboxes{state=\"running\"} %lu\n"
		"stockade_sandboxes{state=\"exited\"} %lu\n"
		"stockade_sandboxes{state=\"dead\"} %lu\n",
		running, exited, dead);
	fprintf(out, "# HELP stockade_http_requests_total Requests answered, by status class.\n"
		     "# TYPE stockade_http_requests_total counter\n");
	static const char *const classes[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
	for (int c = 0; c < 6; c++)
		fprintf(out, "stockade_http_requests_total{code=\"%s\"} %lu\n", classes[c],
			requests[c]);
	fprintf(out,
		"# HELP stockade_refused_peers_total Connections refused by SO_PEERCRED.\n"
		"# TYPE stockade_refused_peers_total counter\n"
		"stockade_refused_peers_total %lu\n",
		refused);
	fclose(out);
	json_decref(doc);
	return respond(s, conn, 200, "text/plain; version=0.0.4; charset=utf-8", text);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct serve *s = cls;
	const union MHD_ConnectionInfo *info;

	(void)version;
	(void)upload_data;
	/* Before anything of the request is acted on: who is asking. */
	info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!info || !peer_allowed(s, info->connect_fd)) {
		pthread_mutex_lock(&s->lock);
		s->refused_peers++;
		pthread_mutex_unlock(&s->lock);
		return respond_error(s, conn, MHD_HTTP_FORBIDDEN, "forbidden",
				     "this uid is not allowed on this socket (serve --allow-uid)");
	}
	if (*upload_data_size) { /* a body none of these routes takes: drop it */
		*upload_data_size = 0;
		*con_cls = s;
		return MHD_YES;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return respond_error(s, conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
				     "this route takes GET");
	if (strcmp(url, "/livez") == 0)
		return respond_json(s, conn, 200, json_pack("{s:s}", "status", "ok"));
	if (strcmp(url, "/readyz") == 0)
		return respond_json(s, conn, 200, json_pack("{s:s}", "status", "ready"));
	if (strcmp(url, "/healthz") == 0)
		return healthz(s, conn);
	if (strcmp(url, "/metrics") == 0)
		return metrics(s, conn);
	return respond_error(s, conn, MHD_HTTP_NOT_FOUND, "not_found", "no such route");
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

int serve_main(int argc, char **argv, struct sk_err *err)
{
	struct serve s;
	struct MHD_Daemon *daemon;
	sigset_t stop;
	int sig;

	memset(&s, 0, sizeof(s));
	s.listen_fd = -1;
	pthread_mutex_init(&s.lock, NULL);
	if (parse_args(&s, argc, argv, err) < 0 || find_stockade(&s, err) < 0)
		return -1;
	/* The signals that stop us, blocked before the threads exist: only sigwait sees them. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	if (socket_listen(&s, err) < 0)
		return -1;
	daemon = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL, &handle,
	    &s, MHD_OPTION_LISTEN_SOCKET, s.listen_fd, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)256, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)(64 * 1024), MHD_OPTION_END);
	if (!daemon) {
		(void)unlink(s.socket_path);
		return sk_fail(err, "serve", errno, NULL, "start the HTTP server (libmicrohttpd)");
	}
	fprintf(stderr, "stockade: serving on %s\n", s.socket_path);
	while (sigwait(&stop, &sig) != 0)
		;
	/* Stop taking requests, then the socket's name goes with us. */
	MHD_stop_daemon(daemon);
	(void)unlink(s.socket_path);
	close(s.listen_fd);
	json_decref(s.doctor);
	fprintf(stderr, "stockade: serve stopped (signal %d)\n", sig);
	return 0;
}
