/* Long-lived sandboxes, without a daemon: `run -d` forks a supervisor (a detached stockade
 * that owns the sandbox: its PID 1, cgroup, proxy, volumes' locks, and a control socket), and
 * `stockade exec|ps|stop|rm|logs|inspect` talk to it (sandbox/control.h) or read its directory
 * (store/box.h). An exec is started by the sandbox's PID 1 (sandbox/service.h): it carries
 * exactly the layers of the first command. */
#define _GNU_SOURCE
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
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

#include "sandbox/launch.h"
#include "sandbox/report.h"
#include "sandbox/service.h"
#include "sandbox/sync.h"
#include "cli/box_client.h"
#include "store/box.h"
#include "util/fds.h"
#include "util/macros.h"
#include "util/parse.h"

#define STOP_GRACE_DEFAULT 10

/* ---- state.json ---- */

static void write_state(const struct box *box, const struct sandbox_spec *spec, bool is_tied,
			const char *status, long long created, const struct sandbox_result *r)
{
	json_t *state = json_object(), *spec_json = cli_spec_json(spec);
	struct sk_err err = {0};
	char *text;

	json_object_set_new(state, "name", json_string(box->name));
	json_object_set_new(state, "status", json_string(status));
	json_object_set_new(state, "supervisor_pid", json_integer(getpid()));
	json_object_set_new(state, "created", json_integer(created));
	/* Made by a caller that it dies with (run -d --tie-fd: stockade serve), which may clean
	 * it up once it has ended. */
	json_object_set_new(state, "tied", json_boolean(is_tied));
	/* The spec as policy show prints it: where secrets come from, never a value. */
	json_object_set_new(state, "spec", spec_json ? spec_json : json_null());
	if (r) {
		json_t *exit = json_object();
		json_object_set_new(exit, "started", json_boolean(r->started));
		json_object_set_new(exit, "code",
				    r->exited ? json_integer(r->exit_code) : json_null());
		json_object_set_new(exit, "signal",
				    r->term_signal ? json_integer(r->term_signal) : json_null());
		json_object_set_new(exit, "ended", json_integer((json_int_t)time(NULL)));
		json_object_set_new(exit, "egress",
				    json_pack("{s:I, s:I}", "allowed",
					      (json_int_t)r->egress_allowed, "denied",
					      (json_int_t)r->egress_denied));
		json_object_set_new(state, "exit", exit);
	}
	text = json_dumps(state, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(state);
	if (text)
		(void)box_state_write(box, text, &err);
	free(text);
}

/* ---- run -d ---- */

static int control_listen(const struct box *box, struct sk_err *err)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	mode_t old;
	int rc;

	if (fd < 0)
		return sk_fail(err, "sandbox", errno, NULL, "socket (control)");
	box_path(box, BOX_CONTROL, addr.sun_path, sizeof(addr.sun_path));
	/* 0600 from birth: no moment where another user could connect (the 0700 directory
	 * would stop them anyway, SO_PEERCRED too). */
	old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old);
	if (rc < 0 || listen(fd, 16) < 0) {
		rc = errno;
		close(fd);
		return sk_fail(err, "sandbox", rc, NULL, "bind the control socket of %s",
			       box->name);
	}
	return fd;
}

/* The supervisor: a session of its own, stdio on /dev/null, the sandbox until it ends. */
static void __attribute__((noreturn))
supervise_box(const struct sandbox_spec *spec, struct box *box, struct sandbox_host *host,
	      int report_fd, long long created)
{
	struct sandbox_result result;
	struct run_report report;
	struct sk_err err = {0};
	int null = open("/dev/null", O_RDWR | O_CLOEXEC), rc;

	(void)setsid();
	for (int i = 0; i < 3; i++)
		if (null < 0 || dup2(null, i) < 0)
			_exit(125);
	close(null);
	bool is_tied = host->service->tie_fd >= 0;
	write_state(box, spec, is_tied, "running", created, NULL);
	memset(&report, 0, sizeof(report));
	rc = cli_run_with_volumes(spec, host, &result, &report, &err);
	if (host->service->ready_fd >= 0) {
		/* Ended before it ran: the caller of run -d says why. */
		if (rc == 0)
			(void)sk_fail(&err, "launch", 0, NULL, "the sandbox ended as it started");
		(void)fds_write_all(host->service->ready_fd, &err, sizeof(err));
		_exit(125);
	}
	if (report_fd >= 0) {
		struct sk_err report_err = {0};
		(void)report_write(report_fd, spec->report_path, spec, &report, &result,
				   &report_err);
	}
	write_state(box, spec, is_tied, "exited", created, &result);
	_exit(0);
}

int cli_box_start(const struct sandbox_spec *spec, const struct cli_sources *sources,
		  struct sandbox_host *host, int report_fd, struct sk_err *err)
{
	const char *name = sources->name;
	struct box_root root;
	struct box box;
	struct sandbox_service service = {.owner_uid = getuid(),
					  .idle_timeout_ms = sources->idle_timeout_ms,
					  .max_lifetime_ms = sources->max_lifetime_ms,
					  .tie_fd = sources->has_tie_fd ? sources->tie_fd : -1};
	struct sk_err told;
	int ready[2] = {-1, -1};
	long long created = (long long)time(NULL);
	ssize_t n;
	pid_t pid;

	/* Its stderr is /dev/null and it may end on a stop: a sandbox of its own is applied
	 * from the command line once stopped. */
	if (spec->workspace.should_apply_on_success)
		return sk_fail(
		    err, "cli", 0,
		    "stop it, then `stockade workspace apply NAME` (the sandbox's name)",
		    "--apply-on-success is for runs that end with their command, not -d");
	if (box_root_open(&root, err) < 0)
		return -1;
	if (box_create(&root, name, &box, err) < 0) {
		box_root_close(&root);
		return -1;
	}
	service.dir_fd = box.dir_fd;
	service.control_fd = control_listen(&box, err);
	if (service.control_fd < 0 || pipe2(ready, O_CLOEXEC) < 0) {
		if (service.control_fd >= 0)
			(void)sk_fail(err, "sandbox", errno, NULL, "pipe2");
		goto refused;
	}
	service.ready_fd = ready[1];
	host->service = &service;
	pid = fork();
	if (pid < 0) {
		(void)sk_fail(err, "sandbox", errno, NULL, "fork the supervisor");
		goto refused;
	}
	if (pid == 0) {
		close(ready[0]);
		/* The tie is the supervisor's alone: nothing it starts inherits it. */
		if (service.tie_fd >= 0)
			(void)fcntl(service.tie_fd, F_SETFD, FD_CLOEXEC);
		/* A workspace without a name of its own takes the sandbox's: `stockade workspace
		 * diff NAME` once the sandbox NAME has stopped. (A copy of the spec: the caller's
		 * is const, and the copy lives as long as the supervisor.) */
		static struct sandbox_spec named;
		named = *spec;
		if (named.workspace.is_set && !named.workspace.name)
			named.workspace.name = box.name;
		supervise_box(&named, &box, host, report_fd, created);
	}
	close(ready[1]);
	ready[1] = -1;
	close(service.control_fd);
	service.control_fd = -1;
	/* The supervisor holds the lock (the same open file) from here on. */
	memset(&told, 0, sizeof(told));
	n = fds_read_all(ready[0], &told, sizeof(told));
	close(ready[0]);
	if (n == (ssize_t)sizeof(told) && told.exit_code == 0 && told.layer[0] == '\0') {
		printf("%s\n", box.name);
		box_close(&box);
		box_root_close(&root);
		return fflush(stdout) == 0 ? 0 : sk_fail(err, "cli", errno, NULL, "write stdout");
	}
	*err = told;
	if (n != (ssize_t)sizeof(told))
		(void)sk_fail(err, "sandbox", 0, "run `stockade doctor`",
			      "the supervisor of %s ended before the sandbox ran", box.name);
	(void)waitpid(pid, NULL, 0);
	ready[0] = -1;
refused:
	/* Nothing of a sandbox that never ran stays behind. */
	if (ready[0] >= 0)
		close(ready[0]);
	if (ready[1] >= 0)
		close(ready[1]);
	if (service.control_fd >= 0)
		close(service.control_fd);
	if (box.lock_fd >= 0)
		(void)flock(box.lock_fd, LOCK_UN);
	{
		struct sk_err ignored = {0};
		(void)box_remove(&root, &box, &ignored);
	}
	box_close(&box);
	box_root_close(&root);
	host->service = NULL;
	return -1;
}

/* ---- the client side ---- */

/* The sandbox NAME, alive, and a connection to its supervisor. Connected first: a supervisor
 * that answers is alive (only it holds the listening socket, which goes with it), so the lock
 * is read only to say why a connection failed. */
int cli_box_connect(const char *name, struct box_root *root, struct box *box, struct sk_err *err)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd, saved;

	if (box_root_open(root, err) < 0)
		return -1;
	if (box_open(root, name, box, err) < 0) {
		box_root_close(root);
		return -1;
	}
	box_path(box, BOX_CONTROL, addr.sun_path, sizeof(addr.sun_path));
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
		return fd;
	saved = errno;
	if (fd >= 0)
		close(fd);
	bool is_alive = box_is_alive(box);
	box_close(box);
	box_root_close(root);
	if (!is_alive)
		return sk_fail(err, "cli", 0, "stockade ps shows its state; rm removes it",
			       "sandbox %s is not running", name);
	return sk_fail(err, "sandbox", saved, NULL, "connect to sandbox %s", name);
}

void cli_box_disconnect(int fd, struct box_root *root, struct box *box)
{
	close(fd);
	box_close(box);
	box_root_close(root);
}

int cli_box_send_built(int ctl, const struct service_body *body, const char *built, size_t len,
		       const int fds[3], int answer_fd, struct sk_err *err)
{
	struct sync_msg req = {.kind = SYNC_EXEC_REQ,
			       .value = body->is_done_only ? SYNC_EXEC_DONE_ONLY : 0};

	if (sync_send_fds(ctl, &req, fds, 3) < 0 || sync_send_data(ctl, built, len, answer_fd) < 0)
		return sk_fail(err, "sandbox", errno, NULL, "send the request to the sandbox");
	return 0;
}

int cli_box_send_request(int ctl, const struct service_body *body, const int fds[3],
			 struct sk_err *err)
{
	/* On the heap: the daemon's connection threads call this too. */
	char *buf = malloc(SERVICE_BODY_MAX);
	long len = buf ? service_body_build(buf, SERVICE_BODY_MAX, body) : -1;
	int rc;

	if (!buf)
		return sk_fail(err, "cli", ENOMEM, NULL, "exec request");
	if (len < 0)
		rc = sk_fail(err, "cli", E2BIG, NULL,
			     "the command and its environment are too long");
	else
		rc = cli_box_send_built(ctl, body, buf, (size_t)len, fds, -1, err);
	free(buf);
	return rc;
}

/* ---- stop, rm ---- */

int cli_box_stop(const char *name, int64_t grace, struct sk_err *err)
{
	struct box_root root;
	struct box box;
	struct sync_msg msg = {.kind = SYNC_STOP, .value = grace};
	int ctl = cli_box_connect(name, &root, &box, err);

	if (ctl < 0)
		return -1;
	if (sync_send(ctl, &msg) < 0) {
		cli_box_disconnect(ctl, &root, &box);
		return sk_fail(err, "sandbox", errno, NULL, "ask %s to stop", name);
	}
	/* The supervisor closes every client as it leaves; then its lock is free. */
	while (sync_recv(ctl, &msg) > 0)
		;
	for (int i = 0; i < 100 && box_is_alive(&box); i++) {
		struct timespec pause = {.tv_nsec = 20 * 1000 * 1000};
		nanosleep(&pause, NULL);
	}
	bool is_alive = box_is_alive(&box);
	cli_box_disconnect(ctl, &root, &box);
	return is_alive ? sk_fail(err, "sandbox", 0, NULL, "sandbox %s did not stop", name) : 0;
}

static int box_stop(int argc, char **argv, struct sk_err *err)
{
	uint64_t grace = STOP_GRACE_DEFAULT;
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt(argc, argv, "+t:")) != -1)
		if (opt != 't' || parse_uint(optarg, 0, 3600, &grace) < 0)
			return sk_fail(err, "cli", 0, "usage: stockade stop [-t SECONDS] NAME",
				       "invalid option");
	if (optind + 1 != argc)
		return sk_fail(err, "cli", 0, "usage: stockade stop [-t SECONDS] NAME", "one name");
	return cli_box_stop(argv[optind], (int64_t)grace, err);
}

int cli_box_remove(const char *name, bool force, struct sk_err *err)
{
	struct box_root root;
	struct box box;
	int rc;

	if (box_root_open(&root, err) < 0)
		return -1;
	if (box_open(&root, name, &box, err) < 0) {
		box_root_close(&root);
		return -1;
	}
	if (force && box_is_alive(&box) && cli_box_stop(name, 0, err) < 0) {
		box_close(&box);
		box_root_close(&root);
		return -1;
	}
	rc = box_remove(&root, &box, err);
	box_close(&box);
	box_root_close(&root);
	return rc;
}

static int box_rm(int argc, char **argv, struct sk_err *err)
{
	bool force = argc == 3 && strcmp(argv[1], "-f") == 0;

	if (argc != 2 && !force)
		return sk_fail(err, "cli", 0, "usage: stockade rm [-f] NAME", "one name");
	return cli_box_remove(argv[argc - 1], force, err);
}

int cli_box(int argc, char **argv, struct sk_err *err)
{
	if (strcmp(argv[0], "exec") == 0)
		return cli_box_exec(argc, argv, err);
	if (strcmp(argv[0], "ps") == 0)
		return cli_box_ps(argc, argv, err);
	if (strcmp(argv[0], "inspect") == 0)
		return cli_box_inspect(argc, argv, err);
	if (strcmp(argv[0], "logs") == 0)
		return cli_box_logs(argc, argv, err);
	if (strcmp(argv[0], "stop") == 0)
		return box_stop(argc, argv, err);
	if (strcmp(argv[0], "rm") == 0)
		return box_rm(argc, argv, err);
	if (strcmp(argv[0], "cp") == 0)
		return cli_box_cp(argc, argv, err);
	return sk_fail(err, "cli", 0, NULL, "unknown command %.64s", argv[0]);
}
