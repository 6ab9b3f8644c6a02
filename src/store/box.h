/* Long-lived sandboxes on disk: $STOCKADE_HOME/sandboxes/NAME/, 0700, one per `run -d`. It
 * holds `lock` (an exclusive flock held by the sandbox's supervisor for as long as it lives:
 * the lock, not a pid, says whether the sandbox is alive, so pid reuse and reboots cannot
 * fool it), `state.json` (what ps and inspect show; replaced atomically), `control.sock`
 * (the supervisor's, 0600) and the main command's output, `log` and `log.1`. */
#ifndef STOCKADE_BOX_H
#define STOCKADE_BOX_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "spec/spec.h"
#include "util/err.h"

#define BOX_NAME_MAX SANDBOX_VOLUME_NAME_MAX
#define BOX_CONTROL "control.sock"
#define BOX_LOG "log"
#define BOX_LOG_OLD "log.1"
#define BOX_STATE "state.json"

struct box_root {
	char path[PATH_MAX]; /* $STOCKADE_HOME/sandboxes */
	int fd;
};

struct box {
	char name[BOX_NAME_MAX + 1];
	int dir_fd;  /* sandboxes/NAME */
	int lock_fd; /* sandboxes/NAME/lock, box_create's (the supervisor's LOCK_EX), else -1 */
};

/* Opens (creating 0700) $STOCKADE_HOME/sandboxes. */
int box_root_open(struct box_root *root, struct sk_err *err);
void box_root_close(struct box_root *root);

/* 0 when name is a valid sandbox name (as a volume's: [A-Za-z0-9][A-Za-z0-9_.-]{0,63}). */
int box_check_name(const char *name);
/* Makes sandboxes/NAME and takes its lock (name NULL or "": a new readable name is made up).
 * A name in use is refused: alive ("is running") or not ("stockade rm NAME" first). */
int box_create(struct box_root *root, const char *name, struct box *box, struct sk_err *err);
/* Opens an existing sandbox's directory (lock_fd -1: box_is_alive opens the lock itself). */
int box_open(struct box_root *root, const char *name, struct box *box, struct sk_err *err);
void box_close(struct box *box);
/* Whether its supervisor still holds the lock. */
bool box_is_alive(const struct box *box);
/* A path naming a file of the box for calls that take no directory fd (bind, connect: a unix
 * socket's path is limited to 107 bytes, $STOCKADE_HOME is not): /proc/self/fd/N/NAME. */
void box_path(const struct box *box, const char *file, char *buf, size_t size);
/* state.json: written to a temporary name and renamed over, so a reader sees the old or the
 * new document, never half of one. */
int box_state_write(const struct box *box, const char *json_text, struct sk_err *err);
/* Its text (malloc'd, NUL-terminated), or NULL with err. */
char *box_state_read(const struct box *box, struct sk_err *err);
/* Removes sandboxes/NAME and what it holds; refused while the sandbox is alive. */
int box_remove(struct box_root *root, struct box *box, struct sk_err *err);
/* The names under sandboxes/, sorted; *names malloc'd (free with free()). */
int box_list(struct box_root *root, char (**names)[BOX_NAME_MAX + 1], size_t *count,
	     struct sk_err *err);

#endif
