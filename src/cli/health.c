/* `stockade health [--socket PATH] [--timeout DURATION] [--livez]`: asks a running `stockade
 * serve` for /healthz (--livez: /livez, whether it answers at all) over its unix socket (one
 * HTTP/1.0 GET, no client library), for a container's HEALTHCHECK or a probe in an image that has
 * no curl. Exit 0 when the daemon answers 200; 1 otherwise (nothing listening, no answer in time,
 * 503, a refused peer), with the failing layers of the answer in one line on stderr; 125 for a bad
 * argument, as everywhere. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/parse.h"
#include "util/paths.h"

#define HEALTH_DEFAULT_TIMEOUT_MS 10000
#define HEALTH_ANSWER_MAX (64 * 1024) /* /healthz's body is a few hundred bytes per layer */

struct answer {
	char text[HEALTH_ANSWER_MAX + 1];
	size_t used;
	int status;	  /* the HTTP status, 0 before it is read */
	const char *path; /* "/healthz" or "/livez" */
	const char *body;
};

static int usage_error(struct sk_err *err, const char *why)
{
	return sk_fail(err, "cli", 0,
		       "usage: stockade health [--socket PATH] [--timeout DURATION] [--livez]",
		       "health: %s", why);
}

static int parse_args(int argc, char **argv, char *socket_path, size_t size, uint64_t *timeout_ms,
		      const char **path, struct sk_err *err)
{
	static const struct option options[] = {{"socket", required_argument, NULL, 's'},
						{"timeout", required_argument, NULL, 't'},
						{"livez", no_argument, NULL, 'l'},
						{NULL, 0, NULL, 0}};
	int opt;

	socket_path[0] = '\0';
	*timeout_ms = HEALTH_DEFAULT_TIMEOUT_MS;
	*path = "/healthz";
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+", options, NULL)) != -1) {
		if (opt == 's') {
			if (optarg[0] != '/' ||
			    strlen(optarg) >= sizeof(((struct sockaddr_un *)0)->sun_path))
				return usage_error(err, "--socket takes an absolute path, at most "
							"107 bytes");
			sk_strlcpy(socket_path, optarg, size);
		} else if (opt == 'l') {
			/* A liveness probe: the daemon answers. Isolation that stops working takes
			 * the pod out of service (/healthz, readiness), it does not restart it. */
			*path = "/livez";
		} else if (opt == 't') {
			if (parse_duration_ms(optarg, timeout_ms) < 0 || *timeout_ms == 0)
				return usage_error(err, "--timeout takes a duration such as 10s");
		} else {
			return usage_error(err, "unknown option or missing value");
		}
	}
	if (optind < argc)
		return usage_error(err, "unexpected argument");
	if (!socket_path[0] && paths_serve_socket(socket_path, size, err) < 0)
		return -1;
	return 0;
}

/* Every failure below is the daemon's health, not a usage error: exit 1, as a HEALTHCHECK and
 * a Kubernetes exec probe read it. */
static int unhealthy(struct sk_err *err, int errnum, const char *hint, const char *what,
		     const char *socket_path)
{
	err->exit_code = 1;
	return sk_fail(err, "health", errnum, hint, "unhealthy: %s %.200s", what, socket_path);
}

static void set_timeouts(int fd, double deadline)
{
	double left = deadline - clock_now_ms();
	struct timeval tv = {.tv_sec = 0, .tv_usec = 1000};

	if (left > 1) {
		tv.tv_sec = (time_t)(left / 1000);
		tv.tv_usec = (suseconds_t)((left - (double)tv.tv_sec * 1000) * 1000);
	}
	/* connect(2) on a unix socket whose backlog is full waits for SO_SNDTIMEO. */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* Sends the request and reads the whole answer (HTTP/1.0: the daemon closes after it). */
static int ask(const char *socket_path, double deadline, struct answer *a, struct sk_err *err)
{
	char request[64];
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return unhealthy(err, errno, NULL, "socket() for", socket_path);
	int request_len = snprintf(request, sizeof(request),
				   "GET %s HTTP/1.0\r\nHost: stockade\r\n\r\n", a->path);
	sk_strlcpy(addr.sun_path, socket_path, sizeof(addr.sun_path));
	set_timeouts(fd, deadline);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int saved = errno;
		close(fd);
		return unhealthy(err, saved, "is `stockade serve` running on this socket?",
				 "cannot connect to", socket_path);
	}
	if (write(fd, request, (size_t)request_len) != (ssize_t)request_len) {
		int saved = errno;
		close(fd);
		return unhealthy(err, saved, NULL, "cannot send the request to", socket_path);
	}
	a->used = 0;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		double left = deadline - clock_now_ms();
		if (left <= 0 || poll(&p, 1, (int)left + 1) == 0) {
			close(fd);
			return unhealthy(err, ETIMEDOUT,
					 "the daemon probes within 2 s; raise --timeout "
					 "on a loaded machine",
					 "no answer in time from", socket_path);
		}
		ssize_t n = read(fd, a->text + a->used, HEALTH_ANSWER_MAX - a->used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		a->used += (size_t)n;
		if (a->used == HEALTH_ANSWER_MAX) {
			close(fd);
			return unhealthy(err, EMSGSIZE, NULL, "an answer over 64 KiB from",
					 socket_path);
		}
	}
	close(fd);
	a->text[a->used] = '\0';
	return 0;
}

/* "HTTP/1.x NNN ..." then the head, an empty line, the body. */
static int parse_answer(struct answer *a, const char *socket_path, struct sk_err *err)
{
	char *end = strstr(a->text, "\r\n\r\n");

	if (strncmp(a->text, "HTTP/1.", 7) != 0 || a->used < 12 || a->text[8] != ' ' || !end)
		return unhealthy(err, EPROTO, NULL, "not an HTTP answer from", socket_path);
	a->status = atoi(a->text + 9);
	a->body = end + 4;
	return 0;
}

/* The names of the layers in the body's list ("userns, landlock"), or with detail each
 * ("userns: clone3(CLONE_NEWUSER): EPERM: DIAGNOSIS; landlock: ..."), into buf. */
static void list_layers(json_t *list, bool with_detail, char *buf, size_t size)
{
	json_t *layer;
	size_t i;

	buf[0] = '\0';
	json_array_foreach(list, i, layer)
	{
		const char *name = json_string_value(json_object_get(layer, "layer"));
		const char *op = json_string_value(json_object_get(layer, "op"));
		const char *errname = json_string_value(json_object_get(layer, "errno"));
		const char *diagnosis = json_string_value(json_object_get(layer, "diagnosis"));
		size_t used = strlen(buf);

		snprintf(buf + used, size - used, "%s%s", i ? (with_detail ? "; " : ", ") : "",
			 name ? name : "?");
		if (!with_detail)
			continue;
		used = strlen(buf);
		snprintf(buf + used, size - used, "%s%s%s%s%s%s", op && op[0] ? ": " : "",
			 op && op[0] ? op : "", errname ? ": " : "", errname ? errname : "",
			 diagnosis ? ": " : "", diagnosis ? diagnosis : "");
	}
}

static int judge(const struct answer *a, const char *socket_path, struct sk_err *err)
{
	json_t *body = json_loads(a->body, 0, NULL);
	char layers[512], detail[768], what[64];
	int rc = 0;

	if (a->status == 200 && strcmp(a->path, "/livez") == 0) {
		printf("live: the daemon answers\n");
	} else if (a->status == 200) {
		list_layers(json_object_get(body, "degraded"), false, layers, sizeof(layers));
		printf("healthy: every required layer works%s%s%s\n",
		       layers[0] ? " (degraded: " : "", layers, layers[0] ? ")" : "");
	} else if (json_array_size(json_object_get(body, "failing")) > 0) {
		json_t *failing = json_object_get(body, "failing");
		list_layers(failing, false, layers, sizeof(layers));
		list_layers(failing, true, detail, sizeof(detail));
		err->exit_code = 1;
		rc = sk_fail(err, "health", 0, detail,
			     "unhealthy: HTTP %d from %.200s, failing: %.150s", a->status,
			     socket_path, layers);
	} else {
		const char *message =
		    json_string_value(json_object_get(json_object_get(body, "error"), "message"));
		snprintf(what, sizeof(what), "HTTP %d from", a->status);
		rc = unhealthy(err, 0, message, what, socket_path);
	}
	json_decref(body);
	return rc;
}

int cli_health(int argc, char **argv, struct sk_err *err)
{
	char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct answer *a;
	uint64_t timeout_ms;
	int rc;

	const char *path;

	if (parse_args(argc, argv, socket_path, sizeof(socket_path), &timeout_ms, &path, err) < 0)
		return -1;
	a = malloc(sizeof(*a));
	if (!a)
		return sk_fail(err, "health", ENOMEM, NULL, "malloc");
	a->path = path;
	rc = ask(socket_path, clock_now_ms() + (double)timeout_ms, a, err);
	if (rc == 0)
		rc = parse_answer(a, socket_path, err);
	if (rc == 0)
		rc = judge(a, socket_path, err);
	free(a);
	return rc;
}
