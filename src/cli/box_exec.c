/* `stockade exec` (cli/box.c has run -d, stop, rm and the connection): the request to the
 * sandbox's supervisor, the caller's streams relayed through pipes (or the sandbox's pty for
 * -t), signals forwarded, --timeout and --output-limit, and the end read from the answer pipe
 * PID 1 writes (sandbox/sync.h). */
#define _GNU_SOURCE
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/env.h"
#include "sandbox/service.h"
#include "sandbox/sync.h"
#include "sandbox/tty.h"
#include "cli/box_client.h"
#include "store/box.h"
#include "util/fds.h"
#include "util/macros.h"
#include "util/parse.h"

/* A relay of one of the exec's streams through a pipe: the sandbox never gets the caller's
 * terminal (TIOCSTI, escape sequences into its settings; README "terminal"), and output is
 * counted against --output-limit. */
struct relay {
	int from, to; /* -1 when none or done */
};

struct exec_opts {
	bool is_interactive, is_tty;
	double timeout_s;
	uint64_t output_limit;
	const char *workdir;
	const char *env[SANDBOX_MAX_ENV];
	size_t env_count;
};

/* What one exec's client holds while it waits. */
struct exec_client {
	int ctl, sig_fd, timer_fd;
	int answer; /* the answer pipe's read end, -1 when none (or done with) */
	struct relay relays[3];
	struct tty_plan tty_plan;
	struct tty_relay tty;
	uint64_t output_limit, output_total;
	bool is_timed_out, is_limit_hit;
};

static void kill_exec(struct exec_client *x)
{
	struct sync_msg msg = {.kind = SYNC_SIGNAL, .value = SIGKILL};

	(void)sync_send(x->ctl, &msg);
}

/* Output to the caller's fd, up to --output-limit; past it the exec is killed (exit 153, as
 * run's) and the rest dropped. */
static void emit(struct exec_client *x, int to, const char *buf, size_t n)
{
	if (x->output_limit && x->output_total + n > x->output_limit) {
		n = (size_t)(x->output_limit - x->output_total);
		if (!x->is_limit_hit)
			kill_exec(x);
		x->is_limit_hit = true;
	}
	x->output_total += n;
	(void)fds_write_all(to, buf, n);
}

/* The relays' and the pty's one buffer: `stockade exec` is one thread. Static, not on the
 * stack: its pages are touched only when something is relayed (a page fault each, here
 * several µs, was a visible part of an exec that relays nothing). */
static char relay_buf[65536];

static void relay_pump(struct exec_client *x, struct relay *r)
{
	char *buf = relay_buf;
	ssize_t n = read(r->from, buf, sizeof(relay_buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n > 0 && r->to <= 2 && r->from > 2) { /* output: counted */
		emit(x, r->to, buf, (size_t)n);
		return;
	}
	if (n <= 0 || fds_write_all(r->to, buf, (size_t)n) < 0) {
		close(r->from);
		if (r->to > 2)
			close(r->to);
		r->from = r->to = -1;
	}
}

static const struct option exec_options[] = {
    {"interactive", no_argument, NULL, 'i'},   {"tty", no_argument, NULL, 't'},
    {"env", required_argument, NULL, 'e'},     {"workdir", required_argument, NULL, 'w'},
    {"timeout", required_argument, NULL, 'T'}, {"output-limit", required_argument, NULL, 'O'},
    {"help", no_argument, NULL, 'h'},	       {NULL, 0, NULL, 0},
};

static int exec_usage(struct sk_err *err, const char *why)
{
	return sk_fail(err, "cli", 0,
		       "usage: stockade exec [-i] [-t] [-e KEY=VALUE] [-w DIR] [--timeout D] "
		       "[--output-limit SIZE] NAME -- COMMAND [ARG...]",
		       "%s", why);
}

static int parse_exec(int argc, char **argv, struct exec_opts *o, int *first, struct sk_err *err)
{
	int opt;
	uint64_t ms;

	/* Not env[]: only its first env_count entries are read. */
	o->is_interactive = o->is_tty = false;
	o->timeout_s = 0;
	o->output_limit = 0;
	o->workdir = NULL;
	o->env_count = 0;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+ite:w:h", exec_options, NULL)) != -1) {
		switch (opt) {
		case 'i':
			o->is_interactive = true;
			break;
		case 't':
			o->is_tty = true;
			break;
		case 'e':
			if (o->env_count >= SANDBOX_MAX_ENV)
				return exec_usage(err, "too many -e");
			if (env_check_item(optarg, err) < 0)
				return -1;
			o->env[o->env_count++] = optarg;
			break;
		case 'w':
			if (optarg[0] != '/')
				return exec_usage(err, "-w takes an absolute path inside");
			o->workdir = optarg;
			break;
		case 'T':
			if (parse_duration_ms(optarg, &ms) < 0 || ms == 0)
				return exec_usage(err, "invalid --timeout");
			o->timeout_s = (double)ms / 1000.0;
			break;
		case 'O':
			if (parse_size(optarg, &o->output_limit) < 0 || o->output_limit == 0)
				return exec_usage(err, "invalid --output-limit");
			break;
		case 'h':
			return exec_usage(err, "help");
		default:
			return exec_usage(err, "unknown option or missing value");
		}
	}
	if (optind >= argc)
		return exec_usage(err, "no sandbox named");
	*first = optind;
	return 0;
}

/* -e KEY passes the caller's value, as for run. */
static int resolve_env(struct exec_opts *o, char *storage[SANDBOX_MAX_ENV], struct sk_err *err)
{
	for (size_t i = 0; i < o->env_count; i++) {
		const char *value;
		storage[i] = NULL;
		if (strchr(o->env[i], '='))
			continue;
		value = getenv(o->env[i]);
		if (!value) { /* unset: not passed, as run does */
			o->env[i--] = o->env[--o->env_count];
			continue;
		}
		if (asprintf(&storage[i], "%s=%s", o->env[i], value) < 0)
			return sk_fail(err, "cli", ENOMEM, NULL, "environment");
		o->env[i] = storage[i];
	}
	return 0;
}

/* Fd i of the exec: the caller's own, /dev/null (stdin without -i; all three with -t, whose
 * pty PID 1 makes), or a pipe relayed by us when the caller's is a terminal or output is
 * limited. */
static int exec_stdio(int i, const struct exec_opts *o, int *give, struct relay *relay,
		      struct sk_err *err)
{
	int p[2];

	relay->from = relay->to = -1;
	if (o->is_tty || (i == 0 && !o->is_interactive)) {
		*give = open("/dev/null", O_RDONLY | O_CLOEXEC);
		return *give < 0 ? sk_fail(err, "cli", errno, NULL, "open /dev/null") : 0;
	}
	if (!isatty(i) && (i == 0 || !o->output_limit)) {
		*give = i;
		return 0;
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		return sk_fail(err, "cli", errno, NULL, "pipe2");
	if (i == 0) {
		*relay = (struct relay){.from = 0, .to = p[1]};
		*give = p[0];
	} else {
		*relay = (struct relay){.from = p[0], .to = i};
		*give = p[1];
	}
	return 0;
}

/* A field of an error that came from the sandbox: ended within its array, each control
 * character a '?'. Why: PID 1 writes it (through the answer pipe, or the supervisor passes it
 * on as is), and PID 1 may be the workload's: raw, its text could drive the caller's terminal
 * (escape sequences) or, without a NUL, be printed past its field. */
static void tame_field(char *s, size_t size)
{
	s[size - 1] = '\0';
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static int status_of(const struct exec_client *x, const struct sync_msg *done, struct sk_err *err)
{
	if (x->is_timed_out)
		return 124;
	if (x->is_limit_hit) {
		fprintf(stderr, "stockade: output limit: the exec was killed after %llu bytes\n",
			(unsigned long long)x->output_limit);
		return 128 + SIGXFSZ;
	}
	if (done->err.layer[0]) {
		*err = done->err;
		tame_field(err->layer, sizeof(err->layer));
		tame_field(err->op, sizeof(err->op));
		tame_field(err->hint, sizeof(err->hint));
		/* 0 would be a success, anything past 255 wraps to one */
		if (err->exit_code < 1 || err->exit_code > 255)
			err->exit_code = 125;
		return -1;
	}
	if (WIFEXITED(done->wait_status))
		return WEXITSTATUS(done->wait_status);
	if (WIFSIGNALED(done->wait_status))
		return 128 + WTERMSIG(done->wait_status);
	return 125;
}

static int exec_signals(bool wants_winch, struct sk_err *err)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	for (int i = 0; i < init_forwarded_count; i++)
		sigaddset(&set, init_forwarded_signals[i]);
	if (wants_winch)
		sigaddset(&set, SIGWINCH);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 || (fd = signalfd(-1, &set, SFD_CLOEXEC)) < 0)
		return sk_fail(err, "cli", errno, NULL, "signalfd");
	return fd;
}

/* After --timeout's SIGKILL, how long we wait for the exec's end before we stop waiting. */
#define EXEC_KILL_GRACE_S 5

static int exec_timer(double seconds, struct sk_err *err)
{
	struct itimerspec its = {
	    .it_value = {.tv_sec = (time_t)seconds,
			 .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9)}};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);

	if (fd < 0 || timerfd_settime(fd, 0, &its, NULL) < 0) {
		if (fd >= 0)
			close(fd);
		return sk_fail(err, "cli", errno, NULL, "timerfd");
	}
	return fd;
}

/* What the command wrote before it ended is in the pipes and the pty: passed on. */
static void exec_drain(struct exec_client *x)
{
	char *buf = relay_buf;

	for (int i = 1; i < 3; i++) {
		int flags = x->relays[i].from >= 0 ? fcntl(x->relays[i].from, F_GETFL) : -1;
		if (flags >= 0)
			(void)fcntl(x->relays[i].from, F_SETFL, flags | O_NONBLOCK);
		while (x->relays[i].from >= 0) {
			struct pollfd one = {.fd = x->relays[i].from, .events = POLLIN};
			if (poll(&one, 1, 0) <= 0)
				break;
			relay_pump(x, &x->relays[i]);
		}
	}
	while (x->tty.master >= 0) {
		struct pollfd one = {.fd = x->tty.master, .events = POLLIN};
		x->tty.idx_master = 0;
		x->tty.idx_in = -1;
		if (poll(&one, 1, 0) <= 0)
			break;
		size_t n = tty_relay_output(&x->tty, &one, buf, sizeof(relay_buf));
		if (n == 0)
			break;
		emit(x, 1, buf, n);
	}
}

static void exec_signal(struct exec_client *x)
{
	struct signalfd_siginfo info;
	struct sync_msg msg;

	if (read(x->sig_fd, &info, sizeof(info)) != sizeof(info))
		return;
	if (info.ssi_signo == SIGWINCH) {
		tty_resize(&x->tty, &x->tty_plan);
		return;
	}
	msg = (struct sync_msg){.kind = SYNC_SIGNAL, .value = info.ssi_signo};
	(void)sync_send(x->ctl, &msg);
}

/* The answer pipe: 1 when it holds the exec's end (*done). At its end without one (a
 * supervisor that does not pass the pipe on closes it at once; PID 1 gone), the answer is
 * left to the supervisor's connection, which says it all the same. */
static int exec_answer(struct exec_client *x, struct sync_msg *done)
{
	ssize_t n = read(x->answer, done, sizeof(*done));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	close(x->answer);
	x->answer = -1;
	return n == (ssize_t)sizeof(*done) && done->kind == SYNC_EXEC_DONE;
}

/* A message from the supervisor: 1 when the exec is done (*done), 0 to go on, -1. */
static int exec_message(struct exec_client *x, struct sync_msg *done, struct sk_err *err)
{
	int fd = -1, got;
	int rc = sync_recv_fds(x->ctl, done, &fd, 1, &got);

	if (rc <= 0)
		return sk_fail(err, "sandbox", 0, NULL, "the sandbox ended during the exec");
	if (done->kind == SYNC_EXEC_BEGUN && got == 1) {
		if (tty_from_parent(&x->tty, &x->tty_plan, fd, err) < 0)
			return -1;
		return 0;
	}
	if (got == 1)
		close(fd);
	return done->kind == SYNC_EXEC_DONE ? 1 : 0;
}

/* Until the exec is done: relays, the pty, signals in, the timeout. */
static int exec_wait(struct exec_client *x, struct sk_err *err)
{
	struct sync_msg done;
	char *buf = relay_buf;

	for (;;) {
		struct pollfd fds[9] = {{.fd = x->ctl, .events = POLLIN},
					{.fd = x->sig_fd, .events = POLLIN},
					{.fd = x->timer_fd, .events = POLLIN}};
		int n, rc;
		for (int i = 0; i < 3; i++)
			fds[3 + i] = (struct pollfd){.fd = x->relays[i].from, .events = POLLIN};
		fds[6] = (struct pollfd){.fd = x->answer, .events = POLLIN};
		n = tty_poll_add(&x->tty, fds, 7);
		if (poll(fds, (nfds_t)n, -1) < 0 && errno != EINTR)
			return sk_fail(err, "cli", errno, NULL, "poll");
		for (int i = 0; i < 3; i++)
			if (fds[3 + i].revents)
				relay_pump(x, &x->relays[i]);
		tty_relay_input(&x->tty, fds);
		size_t out = tty_relay_output(&x->tty, fds, buf, sizeof(relay_buf));
		if (out > 0)
			emit(x, 1, buf, out);
		if (fds[1].revents)
			exec_signal(x);
		if (fds[2].revents) {
			/* The grace after the timeout's SIGKILL is over too: --timeout is a bound
			 * even for a PID 1 that never answers (the workload's, if it took PID 1
			 * over). Our end closes the answer pipe and the connection: an honest
			 * but late PID 1 still ends the exec. */
			if (x->is_timed_out) {
				fprintf(stderr,
					"stockade: exec: no end from the sandbox %d s after the "
					"timeout's SIGKILL; not waiting longer\n",
					EXEC_KILL_GRACE_S);
				return 124;
			}
			x->is_timed_out = true;
			kill_exec(x);
			struct itimerspec grace = {.it_value = {.tv_sec = EXEC_KILL_GRACE_S}};
			if (timerfd_settime(x->timer_fd, 0, &grace, NULL) < 0) {
				close(x->timer_fd);
				x->timer_fd = -1;
			}
		}
		if (fds[6].revents)
			rc = exec_answer(x, &done);
		else if (fds[0].revents)
			rc = exec_message(x, &done, err);
		else
			continue;
		if (rc < 0)
			return -1;
		if (rc == 1) {
			exec_drain(x);
			return status_of(x, &done, err);
		}
	}
}

static void exec_client_close(struct exec_client *x)
{
	tty_relay_finish(&x->tty); /* the caller's terminal settings back, on every path */
	for (int i = 0; i < 3; i++) {
		if (x->relays[i].from > 2)
			close(x->relays[i].from);
		if (x->relays[i].to > 2)
			close(x->relays[i].to);
	}
	if (x->sig_fd >= 0)
		close(x->sig_fd);
	if (x->timer_fd >= 0)
		close(x->timer_fd);
	if (x->answer >= 0)
		close(x->answer);
}

/* exec -t: the pty is the sandbox's; our side relays it like run's (sandbox/tty.h). */
static void exec_tty_plan(const struct exec_opts *o, struct tty_plan *plan)
{
	memset(plan, 0, sizeof(*plan));
	plan->size_fd = -1;
	if (!o->is_tty)
		return;
	plan->has_pty = true;
	plan->is_stdin_pty = o->is_interactive;
	for (int fd = 0; fd < 3 && plan->size_fd < 0; fd++)
		if (isatty(fd))
			plan->size_fd = fd;
}

int cli_box_exec(int argc, char **argv, struct sk_err *err)
{
	/* Static, so zero without a memset (the body's argv alone is 8 KiB, the pty relay's
	 * buffer 4): their pages are touched only as far as they are used, which saves an exec a
	 * page fault each. */
	static struct exec_opts o;
	static struct service_body body;
	static char buf[SERVICE_BODY_MAX];
	static char *env_storage[SANDBOX_MAX_ENV];
	static struct exec_client x;
	int give[3] = {-1, -1, -1}, answer[2] = {-1, -1};
	struct box_root root;
	struct box box;
	size_t env_given;
	long len;
	int first, rc = -1;

	x.ctl = x.sig_fd = x.timer_fd = x.answer = -1;
	for (int i = 0; i < 3; i++)
		x.relays[i] = (struct relay){-1, -1};
	tty_relay_init(&x.tty);
	if (parse_exec(argc, argv, &o, &first, err) < 0)
		return -1;
	if (first + 1 >= argc || (strcmp(argv[first + 1], "--") == 0 && first + 2 >= argc))
		return exec_usage(err, "no command given");
	body.workdir = o.workdir;
	body.has_tty = o.is_tty;
	/* We wait for the end only (-t's master comes with a SYNC_EXEC_BEGUN all the same). */
	body.is_done_only = true;
	for (int i = first + 1 + (strcmp(argv[first + 1], "--") == 0); i < argc; i++)
		if (body.argc < SERVICE_MAX_ARGS)
			body.argv[body.argc++] = argv[i];
	env_given = o.env_count;
	if (resolve_env(&o, env_storage, err) < 0)
		goto out_env;
	memcpy(body.env, o.env, sizeof(o.env[0]) * o.env_count);
	body.env_count = o.env_count;
	len = service_body_build(buf, sizeof(buf), &body);
	if (len < 0) {
		rc = exec_usage(err, "the command and its environment are too long");
		goto out_env;
	}
	x.output_limit = o.output_limit;
	exec_tty_plan(&o, &x.tty_plan);
	x.ctl = cli_box_connect(argv[first], &root, &box, err);
	if (x.ctl < 0)
		goto out_env;
	for (int i = 0; i < 3; i++)
		if (exec_stdio(i, &o, &give[i], &x.relays[i], err) < 0)
			goto out;
	/* The answer pipe: PID 1 writes the exec's end there, and we have it without the
	 * supervisor's hop (sync.h). Not with -t, whose end comes after its pty's master. */
	if (!o.is_tty && pipe2(answer, O_CLOEXEC) < 0) {
		(void)sk_fail(err, "cli", errno, NULL, "pipe2");
		goto out;
	}
	x.answer = answer[0];
	/* Before the request goes: from the moment the command can run, a SIGTERM or ^C to us is
	 * the command's (queued until the loop forwards it), never our end with the command left
	 * running until the supervisor notices. */
	x.sig_fd = exec_signals(o.is_tty, err);
	if (x.sig_fd < 0 ||
	    cli_box_send_built(x.ctl, &body, buf, (size_t)len, give, answer[1], err) < 0)
		goto out;
	/* The sandbox has its copies: ours would keep its pipes open. */
	for (int i = 0; i < 3; i++) {
		if (give[i] > 2)
			close(give[i]);
		give[i] = -1;
	}
	if (answer[1] >= 0)
		close(answer[1]);
	answer[1] = -1;
	if (o.timeout_s > 0 && (x.timer_fd = exec_timer(o.timeout_s, err)) < 0)
		goto out;
	rc = exec_wait(&x, err);
out:
	for (int i = 0; i < 3; i++)
		if (give[i] > 2)
			close(give[i]);
	if (answer[1] >= 0)
		close(answer[1]);
	exec_client_close(&x);
	cli_box_disconnect(x.ctl, &root, &box);
out_env:
	for (size_t i = 0; i < env_given; i++)
		free(env_storage[i]);
	return rc;
}
