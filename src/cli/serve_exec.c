/* The API's execs: POST /v1/sandboxes/{name}/exec, reattach, cancel, and POST /v1/run's wait.
 *
 * An exec is the same request `stockade exec` sends (cli_box_send_request): the sandbox's PID 1
 * starts it as its own child, so it carries exactly the layers of the first command; this
 * daemon never enters the sandbox and never runs a request's command itself. Its stdout and
 * stderr come back through two pipes, read by a pump thread of the exec's own, which keeps
 * them (up to the exec's output cap: past it they are drained and dropped, the command goes
 * on, and the exec is marked truncated) and a log of events with a sequence number each.
 * Responses read that log: a client that drops off does not stop the exec, and a new request
 * (`GET .../exec/{id}?follow=1&from_seq=N`) picks it up where it left off. */
#define _GNU_SOURCE
#include "cli/serve_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/box_client.h"
#include "cli/serve_parse.h"
#include "sandbox/service.h"
#include "sandbox/sync.h"
#include "store/box.h"
#include "util/textenc.h"
#include "util/clock.h"
#include "util/fds.h"
#include "util/macros.h"

#define EXEC_KEEP_MAX 64		/* finished execs kept for a late reader */
#define EXEC_KEEP_MS (10 * 60 * 1000.0) /* ... for at most this long */
#define EXEC_KEEPALIVE_MS 5000
#define EXEC_READ_CHUNK 65536
#define EXEC_EVENTS_MAX (1u << 20) /* past it, output is dropped (truncated) */

/* The histogram's upper bounds, seconds (stockade_exec_duration_seconds). */
const double serve_exec_bucket_bounds[SERVE_HISTOGRAM_BUCKETS] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30};

enum event_type { EV_START, EV_STDOUT, EV_STDERR, EV_EXIT };

struct exec_event {
	unsigned char type;
	size_t off, len; /* output: the bytes in data[type - EV_STDOUT] */
};

struct serve_exec {
	struct serve_exec *next;
	struct serve *s;
	char id[SERVE_EXEC_ID_LEN + 1];
	char box[BOX_NAME_MAX + 1];
	/* Under s->lock. */
	unsigned refs; /* the list, the pump, each reader */
	pthread_cond_t changed;
	struct exec_event *events;
	size_t count, cap;
	char *data[2];
	size_t data_len[2], data_cap[2];
	uint64_t output_cap;
	bool is_truncated, is_timed_out, is_done;
	pid_t pid;
	int exit_code, signal;
	char error[400];
	double started_ms, ended_ms;
	/* The pump's own. */
	int ctl, out[2], in;
	struct box_root root;
	struct box handle;
	unsigned char *input;
	size_t input_len, input_off;
	double deadline_ms;
};

/* ---- the log (s->lock held) ---- */

static bool event_add(struct serve_exec *x, unsigned char type, size_t off, size_t len)
{
	if (x->count == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 64;
		struct exec_event *more = realloc(x->events, cap * sizeof(*more));
		if (!more)
			return false;
		x->events = more;
		x->cap = cap;
	}
	x->events[x->count++] = (struct exec_event){.type = type, .off = off, .len = len};
	pthread_cond_broadcast(&x->changed);
	return true;
}

/* Output of stream (0 stdout, 1 stderr) kept, up to the exec's cap; past it, dropped. */
static void output_add(struct serve_exec *x, int stream, const char *buf, size_t n)
{
	uint64_t total = x->data_len[0] + x->data_len[1];

	if (total + n > x->output_cap || x->count >= EXEC_EVENTS_MAX) {
		/* Past the cap, or a writer of very many small pieces has filled the log. */
		n = x->count >= EXEC_EVENTS_MAX ? 0 : (size_t)(x->output_cap - total);
		x->is_truncated = true;
	}
	if (n == 0)
		return;
	if (x->data_len[stream] + n > x->data_cap[stream]) {
		size_t cap = MAX(x->data_cap[stream] * 2, x->data_len[stream] + n);
		char *more = realloc(x->data[stream], cap);
		if (!more) {
			x->is_truncated = true;
			return;
		}
		x->data[stream] = more;
		x->data_cap[stream] = cap;
	}
	memcpy(x->data[stream] + x->data_len[stream], buf, n);
	if (event_add(x, (unsigned char)(EV_STDOUT + stream), x->data_len[stream], n))
		x->data_len[stream] += n;
	else
		x->is_truncated = true;
}

static void exec_unref_locked(struct serve_exec *x)
{
	if (--x->refs > 0)
		return;
	pthread_cond_destroy(&x->changed);
	free(x->events);
	free(x->data[0]);
	free(x->data[1]);
	free(x->input);
	free(x);
}

static void exec_unref(struct serve_exec *x)
{
	struct serve *s = x->s;

	pthread_mutex_lock(&s->lock);
	exec_unref_locked(x);
	pthread_mutex_unlock(&s->lock);
}

/* Drops finished execs past the keep limits (s->lock held). */
static void exec_sweep_locked(struct serve *s)
{
	struct serve_exec **at = &s->execs;
	size_t finished = 0;
	double now = clock_now_ms();

	while (*at) {
		struct serve_exec *x = *at;
		if (x->is_done &&
		    (++finished > EXEC_KEEP_MAX || now - x->ended_ms > EXEC_KEEP_MS)) {
			*at = x->next;
			exec_unref_locked(x);
			continue;
		}
		at = &x->next;
	}
}

static struct serve_exec *exec_find_locked(struct serve *s, const char *name, const char *id)
{
	for (struct serve_exec *x = s->execs; x; x = x->next)
		if (strcmp(x->id, id) == 0 && strcmp(x->box, name) == 0)
			return x;
	return NULL;
}

/* ---- rendering ---- */

static json_t *output_json(const char *data, size_t len)
{
	char *text = textenc_base64_encode((const unsigned char *)(data ? data : ""), len);
	json_t *out;

	if (!text)
		return NULL;
	out = json_string(text);
	free(text);
	return out;
}

static void exit_fields(const struct serve_exec *x, json_t *out)
{
	json_object_set_new(out, "exit_code",
			    x->is_done ? json_integer(x->exit_code) : json_null());
	json_object_set_new(out, "signal", x->signal ? json_integer(x->signal) : json_null());
	json_object_set_new(out, "timed_out", json_boolean(x->is_timed_out));
	json_object_set_new(out, "truncated", json_boolean(x->is_truncated));
	json_object_set_new(out, "duration_ms",
			    json_integer((json_int_t)((x->is_done ? x->ended_ms : clock_now_ms()) -
						      x->started_ms)));
	json_object_set_new(out, "error", x->error[0] ? json_string(x->error) : json_null());
}

/* Event seq as one NDJSON line (s->lock held); malloc'd, NULL on ENOMEM. */
static char *event_line(const struct serve_exec *x, size_t seq)
{
	const struct exec_event *e = &x->events[seq];
	static const char *const names[] = {"start", "stdout", "stderr", "exit"};
	json_t *out = json_pack("{s:s, s:I}", "type", names[e->type], "seq", (json_int_t)seq);
	char *text, *line = NULL;

	if (!out)
		return NULL;
	if (e->type == EV_START) {
		json_object_set_new(out, "id", json_string(x->id));
		json_object_set_new(out, "pid", json_integer(x->pid));
	} else if (e->type == EV_EXIT) {
		exit_fields(x, out);
	} else {
		json_object_set_new(out, "data",
				    output_json(x->data[e->type - EV_STDOUT] + e->off, e->len));
	}
	text = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(out);
	if (text && asprintf(&line, "%s\n", text) < 0)
		line = NULL;
	free(text);
	return line;
}

/* The exec as one document (?wait=1, GET without follow, /v1/run): s->lock held. Output as
 * text when both streams are UTF-8, else both in base64 ("encoding"). */
static json_t *result_json(const struct serve_exec *x)
{
	size_t replaced[2] = {0, 0}, len[2] = {0, 0};
	char *text[2];
	json_t *out = json_pack("{s:s, s:s, s:s}", "id", x->id, "sandbox", x->box, "status",
				x->is_done ? "exited" : "running");

	/* Valid UTF-8 is what nothing had to be repaired in. */
	for (int i = 0; i < 2; i++)
		text[i] = textenc_utf8_repair(x->data[i] ? x->data[i] : "", x->data_len[i], &len[i],
					      &replaced[i]);
	bool is_text = text[0] && text[1] && replaced[0] == 0 && replaced[1] == 0;
	exit_fields(x, out);
	for (int i = 0; i < 2; i++) {
		const char *key = i ? "stderr" : "stdout";
		if (is_text)
			json_object_set_new(out, key, json_stringn(text[i], len[i]));
		else
			json_object_set_new(out, key, output_json(x->data[i], x->data_len[i]));
		free(text[i]);
	}
	json_object_set_new(out, "encoding", json_string(is_text ? "utf-8" : "base64"));
	json_object_set_new(out, "events", json_integer((json_int_t)x->count));
	return out;
}

/* ---- a sandbox's exec slots ---- */

/* A sandbox's PID 1 runs at most SERVICE_MAX_EXECS execs at once (its supervisor closes a
 * client past them); more API execs for one sandbox wait here for a slot instead of failing. */
struct serve_slots {
	struct serve_slots *next;
	char box[BOX_NAME_MAX + 1];
	unsigned used;
};

static bool slot_take(struct serve *s, const char *name)
{
	struct serve_slots *slot;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		/* Looked up again after every wait: while this thread waited, every exec that
		 * held the slot may have ended, and slot_give_locked frees a slot nobody uses. */
		for (slot = s->slots; slot && strcmp(slot->box, name) != 0; slot = slot->next)
			;
		if (!slot && (slot = calloc(1, sizeof(*slot)))) {
			sk_strlcpy(slot->box, name, sizeof(slot->box));
			slot->next = s->slots;
			s->slots = slot;
		}
		if (!slot || slot->used < SERVICE_MAX_EXECS || s->is_stopping)
			break;
		pthread_cond_wait(&s->slot_free, &s->lock);
	}
	bool is_taken = slot && slot->used < SERVICE_MAX_EXECS;
	if (is_taken)
		slot->used++;
	pthread_mutex_unlock(&s->lock);
	return is_taken;
}

/* s->lock held. */
static void slot_give_locked(struct serve *s, const char *name)
{
	for (struct serve_slots **at = &s->slots; *at; at = &(*at)->next) {
		struct serve_slots *slot = *at;
		if (strcmp(slot->box, name) != 0)
			continue;
		if (--slot->used == 0) {
			*at = slot->next;
			free(slot);
		}
		pthread_cond_broadcast(&s->slot_free);
		return;
	}
}

/* ---- the pump ---- */

static void send_signal(struct serve_exec *x, int sig)
{
	struct sync_msg msg = {.kind = SYNC_SIGNAL, .value = sig};

	(void)sync_send(x->ctl, &msg);
}

static void pump_read(struct serve_exec *x, int stream)
{
	char buf[EXEC_READ_CHUNK];
	ssize_t n = read(x->out[stream], buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close(x->out[stream]);
		x->out[stream] = -1;
		return;
	}
	pthread_mutex_lock(&x->s->lock);
	output_add(x, stream, buf, (size_t)n);
	pthread_mutex_unlock(&x->s->lock);
}

static void pump_write(struct serve_exec *x)
{
	ssize_t n = write(x->in, x->input + x->input_off, x->input_len - x->input_off);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n > 0)
		x->input_off += (size_t)n;
	if (n <= 0 || x->input_off == x->input_len) { /* all given, or the exec closed it */
		close(x->in);
		x->in = -1;
	}
}

/* What is left in the pipes when the command has ended: taken without waiting (a background
 * process of its may hold them open for ever). */
static void pump_drain(struct serve_exec *x)
{
	for (int i = 0; i < 2; i++)
		while (x->out[i] >= 0) {
			struct pollfd one = {.fd = x->out[i], .events = POLLIN};
			if (poll(&one, 1, 0) <= 0)
				break;
			pump_read(x, i);
		}
}

/* The end of the exec from PID 1's answer (done NULL: the sandbox went away first). */
static void pump_finish(struct serve_exec *x, const struct sync_msg *done)
{
	struct serve *s = x->s;
	double seconds;

	pthread_mutex_lock(&s->lock);
	x->ended_ms = clock_now_ms();
	if (!done) {
		x->exit_code = 125;
		snprintf(x->error, sizeof(x->error), "the sandbox ended during the exec");
	} else if (done->err.layer[0]) {
		/* Refused, or the command could not be exec'd (126, 127: its exit_code). */
		x->exit_code = done->err.exit_code ? done->err.exit_code : 125;
		sk_format(&done->err, x->error, sizeof(x->error));
	} else if (WIFSIGNALED(done->wait_status)) {
		x->signal = WTERMSIG(done->wait_status);
		x->exit_code = 128 + x->signal;
	} else {
		x->exit_code = WIFEXITED(done->wait_status) ? WEXITSTATUS(done->wait_status) : 125;
	}
	if (x->is_timed_out)
		x->exit_code = 124; /* as `stockade exec --timeout` and `run --timeout` */
	x->is_done = true;
	(void)event_add(x, EV_EXIT, 0, 0);
	seconds = (x->ended_ms - x->started_ms) / 1000.0;
	s->exec_results[x->error[0] ? 2 : x->is_timed_out ? 1 : 0]++;
	s->exec_seconds += seconds;
	size_t b = 0;
	while (b < SERVE_HISTOGRAM_BUCKETS && seconds > serve_exec_bucket_bounds[b])
		b++;
	s->exec_buckets[b]++;
	s->running_execs--;
	pthread_cond_broadcast(&x->changed);
	pthread_mutex_unlock(&s->lock);
}

static void *pump(void *arg)
{
	struct serve_exec *x = arg;
	struct sync_msg msg;
	bool has_done = false;

	for (;;) {
		/* Output is read once PID 1 has said the exec began, so that "start" comes first
		 * in the log (what the command writes before waits in the pipes). */
		bool is_begun = x->pid != 0;
		struct pollfd fds[4] = {{.fd = x->ctl, .events = POLLIN},
					{.fd = is_begun ? x->out[0] : -1, .events = POLLIN},
					{.fd = is_begun ? x->out[1] : -1, .events = POLLIN},
					{.fd = x->in, .events = POLLOUT}};
		int wait_ms = -1;
		if (x->deadline_ms > 0)
			wait_ms = (int)MAX(0.0, x->deadline_ms - clock_now_ms()) + 1;
		if (poll(fds, 4, wait_ms) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++)
			if (fds[1 + i].revents)
				pump_read(x, i);
		if (fds[3].revents)
			pump_write(x);
		if (x->deadline_ms > 0 && clock_now_ms() >= x->deadline_ms) {
			pthread_mutex_lock(&x->s->lock);
			x->is_timed_out = true;
			pthread_mutex_unlock(&x->s->lock);
			send_signal(x, SIGKILL);
			x->deadline_ms = 0;
		}
		if (!fds[0].revents)
			continue;
		int fd = -1, got = 0;
		if (sync_recv_fds(x->ctl, &msg, &fd, 1, &got) <= 0)
			break; /* the supervisor went away: the sandbox is gone */
		if (got == 1)
			close(fd);
		if (msg.kind == SYNC_EXEC_BEGUN) {
			pthread_mutex_lock(&x->s->lock);
			x->pid = msg.pid;
			(void)event_add(x, EV_START, 0, 0);
			pthread_mutex_unlock(&x->s->lock);
		} else if (msg.kind == SYNC_EXEC_DONE) {
			has_done = true;
			break;
		}
	}
	pump_drain(x);
	pump_finish(x, has_done ? &msg : NULL);
	for (int i = 0; i < 2; i++)
		if (x->out[i] >= 0)
			close(x->out[i]);
	if (x->in >= 0)
		close(x->in);
	x->in = x->out[0] = x->out[1] = -1;
	cli_box_disconnect(x->ctl, &x->root, &x->handle);
	/* The slot is free once the supervisor's client is gone, not before (it counts
	 * connections). The pump's last use of struct serve is this unlock (serve.c waits for pumps
	 * == 0). */
	struct serve *s = x->s;
	pthread_mutex_lock(&s->lock);
	slot_give_locked(s, x->box);
	exec_unref_locked(x);
	s->pumps--;
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* ---- starting one ---- */

/* The sandbox, alive, and a connection to its supervisor. */
static int exec_connect(struct serve_exec *x, struct serve_failure *f)
{
	struct sk_err err = {0};
	struct box_root root;
	struct box box;

	if (box_root_open(&root, &err) < 0)
		return serve_fail(f, 500, "internal", "%s", err.op);
	if (box_open(&root, x->box, &box, &err) < 0) {
		box_root_close(&root);
		return serve_fail(f, 404, "not_found", "no sandbox %.64s", x->box);
	}
	bool is_alive = box_is_alive(&box);
	box_close(&box);
	box_root_close(&root);
	if (!is_alive)
		return serve_fail(f, 409, "not_running", "sandbox %.64s is not running", x->box);
	x->ctl = cli_box_connect(x->box, &x->root, &x->handle, &err);
	if (x->ctl < 0) {
		char line[300];
		sk_format(&err, line, sizeof(line));
		return serve_fail(f, 409, "not_running", "%s", line);
	}
	return 0;
}

/* Pipes for the exec's fds 0-2: give[] goes to the sandbox, the rest stays in x. */
static int exec_pipes(struct serve_exec *x, int give[3], struct serve_failure *f)
{
	int p[2];

	if (x->input) {
		if (pipe2(p, O_CLOEXEC) < 0)
			return serve_fail(f, 500, "internal", "pipe2: %s", strerror(errno));
		give[0] = p[0];
		x->in = p[1];
		(void)fcntl(x->in, F_SETFL, O_NONBLOCK);
	} else {
		give[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (give[0] < 0)
			return serve_fail(f, 500, "internal", "open /dev/null: %s",
					  strerror(errno));
	}
	for (int i = 0; i < 2; i++) {
		if (pipe2(p, O_CLOEXEC) < 0)
			return serve_fail(f, 500, "internal", "pipe2: %s", strerror(errno));
		x->out[i] = p[0];
		give[1 + i] = p[1];
	}
	return 0;
}

static struct serve_exec *exec_new(struct serve *s, const char *name)
{
	struct serve_exec *x = calloc(1, sizeof(*x));
	unsigned char raw[SERVE_EXEC_ID_LEN / 2];

	if (!x)
		return NULL;
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		free(x);
		return NULL;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(x->id + 2 * i, 3, "%02x", raw[i]);
	x->s = s;
	x->refs = 1;
	x->ctl = x->in = x->out[0] = x->out[1] = -1;
	sk_strlcpy(x->box, name, sizeof(x->box));
	pthread_cond_init(&x->changed, NULL);
	return x;
}

/* Starts an exec in sandbox name; the exec (one reference for the caller), or NULL with f. */
static struct serve_exec *exec_begin(struct serve *s, const char *name, const json_t *req,
				     uint64_t default_output, uint64_t max_output,
				     struct serve_failure *f)
{
	struct serve_exec_request parsed;
	int give[3] = {-1, -1, -1};
	struct serve_exec *x = NULL;
	pthread_t thread;
	pthread_attr_t attr;
	bool is_counted = false, has_slot = false;
	char message[300];

	if (serve_exec_parse(req, default_output, max_output, &parsed, message, sizeof(message)) <
	    0) {
		serve_exec_request_free(&parsed);
		(void)serve_fail(f, 400, "bad_request", "%s", message);
		return NULL;
	}
	x = exec_new(s, name);
	if (!x) {
		(void)serve_fail(f, 500, "internal", "out of memory");
		goto fail;
	}
	x->output_cap = parsed.output_cap;
	x->input = parsed.input; /* the exec's now */
	x->input_len = parsed.input_len;
	parsed.input = NULL;
	pthread_mutex_lock(&s->lock);
	if (s->running_execs >= s->max_execs) {
		pthread_mutex_unlock(&s->lock);
		(void)serve_fail(f, 429, "too_many_execs", "%u execs run now (serve --max-execs)",
				 s->max_execs);
		goto fail;
	}
	s->running_execs++;
	is_counted = true;
	pthread_mutex_unlock(&s->lock);
	if (!slot_take(s, name)) {
		(void)serve_fail(f, 503, "stopping", "the daemon is stopping");
		goto fail;
	}
	has_slot = true;
	if (exec_connect(x, f) < 0 || exec_pipes(x, give, f) < 0)
		goto fail;
	struct sk_err err = {0};
	x->started_ms = clock_now_ms();
	if (cli_box_send_request(x->ctl, &parsed.body, give, &err) < 0) {
		char line[300];
		sk_format(&err, line, sizeof(line));
		(void)serve_fail(f, 409, "not_running", "%s", line);
		goto fail;
	}
	for (int i = 0; i < 3; i++) { /* the sandbox has its copies; ours would hold the pipes */
		close(give[i]);
		give[i] = -1;
	}
	if (parsed.timeout_s > 0)
		x->deadline_ms = x->started_ms + parsed.timeout_s * 1000.0;
	pthread_mutex_lock(&s->lock);
	exec_sweep_locked(s);
	x->next = s->execs;
	s->execs = x;
	x->refs = 3; /* the list, the pump, the caller */
	s->pumps++;
	pthread_mutex_unlock(&s->lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&thread, &attr, pump, x) != 0) {
		/* No pump: the exec is killed and ends here, as one whose sandbox went away. */
		send_signal(x, SIGKILL);
		pthread_mutex_lock(&s->lock);
		x->refs--;
		s->pumps--;
		pthread_mutex_unlock(&s->lock);
		pump_finish(x, NULL);
		for (int i = 0; i < 2; i++) /* the pump's pipes, which no pump will close */
			if (x->out[i] >= 0)
				close(x->out[i]);
		if (x->in >= 0)
			close(x->in);
		x->in = x->out[0] = x->out[1] = -1;
		cli_box_disconnect(x->ctl, &x->root, &x->handle);
		x->ctl = -1;
		pthread_mutex_lock(&s->lock);
		slot_give_locked(s, x->box);
		pthread_mutex_unlock(&s->lock);
	}
	pthread_attr_destroy(&attr);
	serve_exec_request_free(&parsed);
	return x;
fail:
	for (int i = 0; i < 3; i++)
		if (give[i] >= 0)
			close(give[i]);
	if (x) {
		for (int i = 0; i < 2; i++)
			if (x->out[i] >= 0)
				close(x->out[i]);
		if (x->in >= 0)
			close(x->in);
		if (x->ctl >= 0)
			cli_box_disconnect(x->ctl, &x->root, &x->handle);
		exec_unref(x);
	}
	if (is_counted) {
		pthread_mutex_lock(&s->lock);
		s->running_execs--;
		s->exec_results[2]++;
		if (has_slot)
			slot_give_locked(s, name);
		pthread_mutex_unlock(&s->lock);
	}
	serve_exec_request_free(&parsed);
	return NULL;
}

/* ---- responses ---- */

struct exec_reader {
	struct serve_exec *x;
	size_t next;
	char *line;
	size_t len, off;
	bool is_finished;
};

/* libmicrohttpd asks for the next bytes of a streamed exec (a thread of this connection's own:
 * blocking here blocks nobody else). */
static ssize_t reader_next(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct exec_reader *r = cls;
	struct serve *s = r->x->s;

	(void)pos;
	if (r->off == r->len) {
		free(r->line);
		r->line = NULL;
		r->len = r->off = 0;
		if (r->is_finished)
			return MHD_CONTENT_READER_END_OF_STREAM;
		pthread_mutex_lock(&s->lock);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += EXEC_KEEPALIVE_MS / 1000;
		while (r->next >= r->x->count && !s->is_closing && !r->x->is_done)
			if (pthread_cond_timedwait(&r->x->changed, &s->lock, &until) == ETIMEDOUT)
				break;
		/* An ended exec has all its events: a reader at or past its last (from_seq past
		 * the end) would otherwise get keepalives for ever, holding the exec. */
		if (r->next >= r->x->count && r->x->is_done) {
			pthread_mutex_unlock(&s->lock);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		bool is_closing = s->is_closing && r->next >= r->x->count;
		if (r->next < r->x->count) {
			r->is_finished = r->x->events[r->next].type == EV_EXIT;
			r->line = event_line(r->x, r->next++);
		} else if (!is_closing) {
			r->line = strdup("{\"type\":\"keepalive\"}\n");
		}
		pthread_mutex_unlock(&s->lock);
		if (!r->line) /* out of memory, or the daemon stops: the client reattaches */
			return MHD_CONTENT_READER_END_WITH_ERROR;
		r->len = strlen(r->line);
	}
	size_t n = MIN(max, r->len - r->off);
	memcpy(buf, r->line + r->off, n);
	r->off += n;
	return (ssize_t)n;
}

static void reader_free(void *cls)
{
	struct exec_reader *r = cls;

	free(r->line);
	exec_unref(r->x); /* a client gone: the exec goes on */
	free(r);
}

/* Streams x's events from seq from, as NDJSON; takes the caller's reference to x. */
static enum MHD_Result stream(struct serve *s, struct MHD_Connection *conn, struct serve_exec *x,
			      size_t from, unsigned status)
{
	struct exec_reader *r = calloc(1, sizeof(*r));
	struct MHD_Response *response;
	enum MHD_Result rc;

	if (!r) {
		exec_unref(x);
		return MHD_NO;
	}
	r->x = x;
	r->next = from;
	response =
	    MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, reader_next, r, reader_free);
	if (!response) {
		reader_free(r);
		return MHD_NO;
	}
	MHD_add_response_header(response, "Content-Type", "application/x-ndjson");
	MHD_add_response_header(response, "Cache-Control", "no-store");
	MHD_add_response_header(response, "X-Stockade-Exec", x->id);
	rc = MHD_queue_response(conn, status, response);
	MHD_destroy_response(response);
	serve_count_response(s, status);
	return rc;
}

/* Waits for x's end, or the daemon's (s->lock held). */
static void wait_done_locked(struct serve_exec *x)
{
	while (!x->is_done && !x->s->is_closing)
		pthread_cond_wait(&x->changed, &x->s->lock);
}

enum MHD_Result serve_exec_start(struct serve *s, struct MHD_Connection *conn, const char *name,
				 const json_t *body, bool wait)
{
	struct serve_failure f = {0};
	struct serve_exec *x = exec_begin(s, name, body, s->output_default, s->output_max, &f);
	json_t *out;

	if (!x)
		return serve_respond_error(s, conn, f.status, f.code, f.message);
	if (!wait)
		return stream(s, conn, x, 0, 200);
	pthread_mutex_lock(&s->lock);
	wait_done_locked(x);
	out = result_json(x);
	exec_unref_locked(x);
	pthread_mutex_unlock(&s->lock);
	return serve_respond_json(s, conn, 200, out);
}

json_t *serve_exec_wait(struct serve *s, const char *name, const json_t *body, unsigned *status,
			const char **error_code, char *message, size_t size)
{
	struct serve_failure f = {0};
	struct serve_exec *x = exec_begin(s, name, body, s->output_default, s->output_max, &f);
	json_t *out;

	if (!x) {
		*status = f.status;
		*error_code = f.code;
		sk_strlcpy(message, f.message, size);
		return NULL;
	}
	pthread_mutex_lock(&s->lock);
	wait_done_locked(x);
	out = result_json(x);
	exec_unref_locked(x);
	pthread_mutex_unlock(&s->lock);
	return out;
}

enum MHD_Result serve_exec_follow(struct serve *s, struct MHD_Connection *conn, const char *name,
				  const char *id, bool follow, uint64_t from_seq)
{
	struct serve_exec *x;
	json_t *out = NULL;

	pthread_mutex_lock(&s->lock);
	x = exec_find_locked(s, name, id);
	if (x) {
		x->refs++;
		if (!follow) {
			out = result_json(x);
			exec_unref_locked(x);
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (!x)
		return serve_respond_error(s, conn, 404, "not_found",
					   "no such exec (finished ones are kept 10 minutes)");
	if (!follow)
		return serve_respond_json(s, conn, 200, out);
	return stream(s, conn, x, (size_t)from_seq, 200);
}

enum MHD_Result serve_exec_cancel(struct serve *s, struct MHD_Connection *conn, const char *name,
				  const char *id)
{
	struct serve_exec *x;
	bool is_done = false;

	pthread_mutex_lock(&s->lock);
	x = exec_find_locked(s, name, id);
	if (x && !(is_done = x->is_done))
		send_signal(x, SIGKILL); /* the pump holds ctl open until DONE */
	pthread_mutex_unlock(&s->lock);
	if (!x)
		return serve_respond_error(s, conn, 404, "not_found", "no such exec");
	if (is_done)
		return serve_respond_error(s, conn, 409, "finished", "the exec has ended");
	return serve_respond_json(s, conn, 202,
				  json_pack("{s:s, s:s}", "id", id, "status", "killing"));
}

void serve_exec_forget(struct serve *s, const char *name)
{
	pthread_mutex_lock(&s->lock);
	for (struct serve_exec **at = &s->execs; *at;) {
		struct serve_exec *x = *at;
		if (x->is_done && strcmp(x->box, name) == 0) {
			*at = x->next;
			exec_unref_locked(x);
			continue;
		}
		at = &x->next;
	}
	pthread_mutex_unlock(&s->lock);
}

void serve_stopping(struct serve *s)
{
	pthread_mutex_lock(&s->lock);
	s->is_stopping = true;
	pthread_cond_broadcast(&s->slot_free); /* an exec waiting for a slot is new work */
	pthread_mutex_unlock(&s->lock);
}

void serve_closing(struct serve *s)
{
	pthread_mutex_lock(&s->lock);
	s->is_closing = true;
	for (struct serve_exec *x = s->execs; x; x = x->next)
		pthread_cond_broadcast(&x->changed);
	pthread_mutex_unlock(&s->lock);
}

void serve_exec_free_all(struct serve *s)
{
	pthread_mutex_lock(&s->lock);
	while (s->execs) {
		struct serve_exec *x = s->execs;
		s->execs = x->next;
		exec_unref_locked(x);
	}
	pthread_mutex_unlock(&s->lock);
}
