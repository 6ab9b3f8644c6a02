/* Shared by the clients of a long-lived sandbox (cli/box.c, cli/boxcp.c). */
#ifndef STOCKADE_BOX_CLIENT_H
#define STOCKADE_BOX_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/box.h"
#include "util/err.h"

/* The sandbox NAME, alive, and a connection to its supervisor's control socket; -1 with err
 * ("no sandbox NAME", "is not running"). */
int cli_box_connect(const char *name, struct box_root *root, struct box *box, struct sk_err *err);
void cli_box_disconnect(int fd, struct box_root *root, struct box *box);
/* Sends one request to the supervisor of ctl: an exec, or cp's copier (body->kind), with fds
 * 0-2 for it (ours stay ours). 0, or -1 with err. No static state: the daemon's threads call
 * it too. */
struct service_body;
int cli_box_send_request(int ctl, const struct service_body *body, const int fds[3],
			 struct sk_err *err);
/* Sandbox NAME as `ps --json` lists it, or (is_detailed) as `inspect` shows it; a new
 * reference (status "dead" when it cannot be read). */
struct json_t;
struct json_t *cli_box_view(struct box_root *root, const char *name, bool is_detailed);
/* Asks the supervisor to stop the sandbox (grace seconds for its processes) and waits. */
int cli_box_stop(const char *name, int64_t grace, struct sk_err *err);
/* stockade rm [-f]: removes a sandbox that is not running (force: stops it first). */
int cli_box_remove(const char *name, bool force, struct sk_err *err);
/* Copies through the sandbox's copier (sandbox/service.c), so that no path in it is resolved
 * here: _out_open gives the file or directory at path as opened inside (*src_fd), _in_bytes
 * makes path a regular file holding data. idle_timeout_ms > 0: a copier that does nothing for
 * that long (the workload can stop it) fails the copy; 0 waits for it. 0, or -1 with err. */
int cli_box_copy_out_open(int ctl, const char *path, int *src_fd, unsigned idle_timeout_ms,
			  struct sk_err *err);
int cli_box_copy_in_bytes(int ctl, const char *path, const void *data, size_t len, uint32_t mode,
			  unsigned idle_timeout_ms, struct sk_err *err);
/* stockade ps [--json], inspect NAME, logs [-f] NAME (cli/boxview.c) */
int cli_box_ps(int argc, char **argv, struct sk_err *err);
/* stockade exec (cli/box_exec.c). */
int cli_box_exec(int argc, char **argv, struct sk_err *err);
/* The request: its header with fds 0-2, then the body built (len bytes) with answer_fd (>= 0)
 * attached, the write end of a pipe PID 1 writes the exec's SYNC_EXEC_DONE into (sync.h). 0, or
 * -1 with err. */
int cli_box_send_built(int ctl, const struct service_body *body, const char *built, size_t len,
		       const int fds[3], int answer_fd, struct sk_err *err);
int cli_box_inspect(int argc, char **argv, struct sk_err *err);
int cli_box_logs(int argc, char **argv, struct sk_err *err);
/* stockade cp NAME:/path HOSTPATH | HOSTPATH NAME:/path */
int cli_box_cp(int argc, char **argv, struct sk_err *err);

#endif
