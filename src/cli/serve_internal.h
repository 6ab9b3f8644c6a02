/* Shared by the parts of `stockade serve`: serve.c (the socket, health, metrics, the daemon),
 * serve_api.c (/v1: sandboxes, files, one-shot runs) and serve_exec.c (execs and their
 * streamed output). */
#ifndef STOCKADE_SERVE_INTERNAL_H
#define STOCKADE_SERVE_INTERNAL_H

#include <jansson.h>
#include <limits.h>
#include <microhttpd.h>
#include <pthread.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "spec/spec.h"
#include "store/box.h"
#include "util/err.h"
#include "cli/cli.h"

#define SERVE_MAX_IDS 32
#define SERVE_HISTOGRAM_BUCKETS 12

struct serve_exec;
struct serve_slots;
struct serve_pool;

#define SERVE_MAX_WORKSPACE_ROOTS 8

struct serve {
	char socket_path[PATH_MAX];
	char stockade[PATH_MAX]; /* the stockade binary beside us: doctor, run -d */
	uid_t uids[SERVE_MAX_IDS];
	size_t uid_count;
	gid_t gids[SERVE_MAX_IDS];
	size_t gid_count;
	int listen_fd;
	int home_lock_fd; /* $STOCKADE_HOME/serve.lock, flock'd: one daemon per home */
	/* --listen 127.0.0.1:PORT --token-file F: TCP on loopback, every request with
	 * "Authorization: Bearer TOKEN" (no peer credentials over TCP). */
	const char *listen_addr, *token_path;
	int tcp_fd;
	char token[256];
	size_t token_len;
	/* The operator's policy (serve --policy/--profile over the built-in defaults): every
	 * request's spec is applied over it and may only narrow it (sandbox/spec_narrow.h). */
	const char *policy_path, *profile;
	/* --workspace-root DIR: a request's workspace only at or beneath one of these (resolved
	 * when the daemon starts); none: a request may not name a workspace. */
	char workspace_roots[SERVE_MAX_WORKSPACE_ROOTS][PATH_MAX];
	size_t workspace_root_count;
	struct sandbox_spec base;
	struct cli_sources base_sources;
	/* Limits. */
	unsigned max_sandboxes, max_execs;
	size_t max_body;
	uint64_t output_default, output_max; /* an exec's max_output_bytes: default, largest */
	/* The last probes, under a lock of their own: a refresh runs doctor (tens of ms, up to
	 * its timeout), which must not hold up the execs and counters under lock. */
	pthread_mutex_t doctor_lock;
	json_t *doctor; /* doctor --json's document, or NULL */
	double doctor_at;
	/* Under lock: counters, the execs, the slots, the pool. */
	pthread_mutex_t lock;
	unsigned long requests[6]; /* by status class: 2xx, 3xx, 4xx, 5xx; [0] other */
	unsigned long refused_peers;
	unsigned long created[3];      /* sandboxes created: ok, refused (4xx), failed (5xx) */
	unsigned long exec_results[3]; /* execs ended: exited, timed out, error */
	unsigned long exec_buckets[SERVE_HISTOGRAM_BUCKETS + 1];
	unsigned long egress[2]; /* the proxy's decisions (allowed, denied) in removed sandboxes */
	double exec_seconds;
	/* The sandboxes this daemon made for its clients (a warm one once taken), from the
	 * create's answer to their removal: the only ones a request may reach (serve_api.c).
	 * Room for --max-sandboxes names, made at start: a create never fails to record one. */
	char (*owned)[BOX_NAME_MAX + 1];
	size_t owned_count;
	unsigned creating;	  /* sandboxes being made now */
	unsigned removing;	  /* one-shot runs' sandboxes being removed after their answer */
	struct serve_exec *execs; /* every exec still kept, newest first */
	unsigned running_execs;
	unsigned pumps; /* pump threads still running (they use this struct to their last step) */
	struct serve_slots *slots; /* execs running per sandbox (serve_exec.c) */
	pthread_cond_t slot_free;
	bool is_stopping; /* SIGTERM: no new work */
	bool is_closing;  /* the drain is over: streams and waits end */
	/* A pipe whose read end every sandbox's supervisor watches (run -d --tie-fd): the write
	 * end is ours alone (O_CLOEXEC, never passed), so when this daemon ends, by SIGTERM's
	 * drain or by SIGKILL, every sandbox it made stops. */
	int tie[2];
	unsigned drain_seconds;		  /* SIGTERM: how long running execs may go on */
	unsigned copy_timeout_ms;	  /* a file request gives up on a copier this long silent */
	unsigned pool_target, pool_floor; /* --pool N, --pool-floor M */
	struct serve_pool *pool;	  /* serve_pool.c; NULL without --pool */
};

/* A request being read: its body, up to the route's limit. */
struct serve_request {
	char *body;
	size_t len, cap;
	bool is_too_large; /* past serve --max-body: the rest is dropped, then 413 */
	size_t dropped;
	bool is_refused; /* answered before its body was read */
};

/* Why a request is refused: its status, error code, message and (for a spec's field) the
 * JSON path. serve_fail fills it and returns -1. */
struct serve_failure {
	unsigned status;
	const char *code;
	char message[600];
	char path[128];
};
int serve_fail(struct serve_failure *f, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Responses (each counts in /metrics). text is taken over. */
enum MHD_Result serve_respond(struct serve *s, struct MHD_Connection *conn, unsigned status,
			      const char *type, char *text);
enum MHD_Result serve_respond_json(struct serve *s, struct MHD_Connection *conn, unsigned status,
				   json_t *body);
enum MHD_Result serve_respond_error(struct serve *s, struct MHD_Connection *conn, unsigned status,
				    const char *code, const char *message);
/* An error with the JSON path of the field it is about. */
enum MHD_Result serve_respond_path_error(struct serve *s, struct MHD_Connection *conn,
					 unsigned status, const char *code, const char *message,
					 const char *path);
void serve_count_response(struct serve *s, unsigned status);

/* GET /healthz and GET /metrics (serve_health.c). */
enum MHD_Result serve_healthz(struct serve *s, struct MHD_Connection *conn);
enum MHD_Result serve_metrics(struct serve *s, struct MHD_Connection *conn);
/* Whether every required layer probes ok (doctor's data, at most a few seconds old); when
 * not, why (one line). */
bool serve_is_healthy(struct serve *s, char *why, size_t size);

/* The ways in (serve_socket.c): the unix socket, TCP with its token (read from --token-file
 * first), and who may ask. 0, or -1 with err. */
int serve_socket_listen(struct serve *s, struct sk_err *err);
int serve_tcp_listen(struct serve *s, struct sk_err *err);
enum serve_peer { PEER_ALLOWED, PEER_REFUSED, PEER_NO_TOKEN };
enum serve_peer serve_peer_check(struct serve *s, struct MHD_Connection *conn);
/* A bad option of serve: -1 with err naming it and the usage. */
int serve_usage_error(struct sk_err *err, const char *why);
/* posix_spawn of the stockade binary beside us (argv[0] aside), with no signal blocked and
 * SIGPIPE at its default in the child. 0, or an errno value. */
int serve_spawn(const struct serve *s, char *const argv[],
		const posix_spawn_file_actions_t *actions, pid_t *pid);
/* SIGTERM's drain: serve_stopping refuses new work; serve_closing ends every stream and every
 * request waiting on an exec (the drain waits for running_execs, removing and pumps to reach
 * 0 in between: serve.c). */
void serve_stopping(struct serve *s);
void serve_closing(struct serve *s);
/* The histogram's upper bounds, seconds (serve_exec.c). */
extern const double serve_exec_bucket_bounds[SERVE_HISTOGRAM_BUCKETS];

/* /v1/... (serve_api.c). */
enum MHD_Result serve_api(struct serve *s, struct MHD_Connection *conn, const char *url,
			  const char *method, struct serve_request *req);

/* Whether name is one of the sandboxes this daemon made for its clients (s->owned);
 * serve_own_locked records one (s->lock held). */
bool serve_owns(struct serve *s, const char *name);
void serve_own_locked(struct serve *s, const char *name);
/* Stops sandbox name, counts its proxy's decisions, removes it; 0, or -1 with err. */
int serve_remove_box(struct serve *s, const char *name, struct sk_err *err);
/* `run -d` of a checked spec document (the pool's refill): 0 with its name, or -1 with one
 * line in message (serve_api.c). */
/* serve_api.c: a failure as its error answer; a query argument, and one that is 1 or true. */
enum MHD_Result serve_respond_failure(struct serve *s, struct MHD_Connection *conn,
				      const struct serve_failure *f);
const char *serve_query(struct MHD_Connection *conn, const char *key);
bool serve_query_flag(struct MHD_Connection *conn, const char *key);
/* serve_files.c: PUT and GET /v1/sandboxes/{name}/files (req holds a PUT's body). */
enum MHD_Result serve_files_put(struct serve *s, struct MHD_Connection *conn, const char *name,
				const struct serve_request *req);
/* Whether the sandbox NAME exists in this home (any state). */
bool serve_box_exists(const char *name);
enum MHD_Result serve_files_get(struct serve *s, struct MHD_Connection *conn, const char *name);

int serve_make_box(struct serve *s, const char *doc, char *out_name, size_t size, char *message,
		   size_t message_size);

/* The warm pool (serve_pool.c). _take: a ready sandbox when doc is the operator's spec as it
 * is (the client's from then on: serve_own_locked); _add_locked: one just made, ready;
 * _count_locked: how many are ready. */
int serve_pool_start(struct serve *s, unsigned target, struct sk_err *err);
bool serve_pool_take(struct serve *s, const char *doc, char *name, size_t size);
void serve_pool_add_locked(struct serve *s, const char *name);
unsigned serve_pool_count_locked(const struct serve *s);
void serve_pool_counts(struct serve *s, unsigned *available, unsigned *target);
void serve_pool_stop(struct serve *s); /* no more making: the refill thread joined */
void serve_pool_free(struct serve *s); /* once no request runs (after MHD_stop_daemon) */

/* Execs (serve_exec.c). */
enum MHD_Result serve_exec_start(struct serve *s, struct MHD_Connection *conn, const char *name,
				 const json_t *body, bool wait);
enum MHD_Result serve_exec_follow(struct serve *s, struct MHD_Connection *conn, const char *name,
				  const char *id, bool follow, uint64_t from_seq);
enum MHD_Result serve_exec_cancel(struct serve *s, struct MHD_Connection *conn, const char *name,
				  const char *id);
/* Runs an exec to its end and returns its result document (POST /v1/run); NULL with *status
 * and *error_code and message set when it could not start. */
json_t *serve_exec_wait(struct serve *s, const char *name, const json_t *body, unsigned *status,
			const char **error_code, char *message, size_t size);
/* The execs of a sandbox that is going away: finished, and forgotten. */
void serve_exec_forget(struct serve *s, const char *name);
/* Frees every kept exec (the daemon's end); none may be running. */
void serve_exec_free_all(struct serve *s);

#endif
