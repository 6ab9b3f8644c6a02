/* Managed volumes: the -v grammar, and the store under $STOCKADE_HOME/volumes. A volume is a
 * directory exactly one level below volumes/named or volumes/anonymous, 0700, owned by the host
 * uid the sandbox maps to; its metadata and its lock live beside it in volumes/meta, out of the
 * sandbox's reach. A running sandbox holds a shared flock on the lock file; rm and prune take
 * it exclusively and without waiting, so a volume in use is never removed. */
#ifndef STOCKADE_VOLUME_H
#define STOCKADE_VOLUME_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "spec/spec.h"
#include "util/err.h"

enum volume_kind {
	VOLUME_NAMED = 0,
	VOLUME_ANONYMOUS = 1,
};

/* ---- phase 1: the -v grammar (nothing is created) ---- */

/* "/guest", "NAME:/guest", each with an optional ":ro" or ":rw". Fills vol. Host
 * paths, relative or non-normalized guest paths, '..', guest paths over the system tree and
 * bad names are refused with a one-line reason (layer "cli"). */
int volume_parse_spec(const char *text, struct sandbox_volume *vol, struct sk_err *err);
/* Parses text and appends it to spec, refusing duplicate or nested guest paths and more than
 * SANDBOX_MAX_VOLUMES volumes. */
int volume_add_spec(struct sandbox_spec *spec, const char *text, struct sk_err *err);
/* The same checks on volumes already parsed (spec_check(): a spec from any front end): each
 * volume's name and guest path, at most SANDBOX_MAX_VOLUMES, no guest path twice or nested. */
int volume_check_list(const struct sandbox_volume *volumes, size_t count, struct sk_err *err);
/* Why guest cannot be a volume's guest path (not absolute, not normalized, a control
 * character or ',', over the system tree...), or NULL when it can. */
const char *volume_guest_problem(const char *guest);
/* 0 when name is a valid volume name: [A-Za-z0-9][A-Za-z0-9_.-]{0,63}. */
int volume_check_name(const char *name);

/* ---- the store ---- */

struct volume_store {
	char home[PATH_MAX];
	char root_path[2][PATH_MAX]; /* volumes/named, volumes/anonymous */
	int root_fd[2];
	int meta_fd;	 /* volumes/meta: "<kind>.<name>" lock and metadata files */
	uid_t owner_uid; /* the host uid the sandbox user maps to */
	gid_t owner_gid;
};

struct volume_handle {
	enum volume_kind kind;
	char name[SANDBOX_VOLUME_NAME_MAX + 1];
	int lock_fd; /* flock(LOCK_SH) held while the volume is in use */
	int dir_fd;  /* the verified volume directory */
	bool is_new; /* created by this acquisition */
};

struct volume_info {
	enum volume_kind kind;
	char name[SANDBOX_VOLUME_NAME_MAX + 1];
	char path[PATH_MAX];
	uint64_t size_bytes;	      /* on disk */
	uint64_t limit_bytes;	      /* 0: none */
	long long created, last_used; /* seconds since the epoch, 0 if unknown */
	bool is_in_use;
};

/* Opens (creating 0700 as needed) the store of the current caller's $STOCKADE_HOME. */
int volume_store_open(struct volume_store *store, struct sk_err *err);
void volume_store_close(struct volume_store *store);

/* Takes a volume for use: shared lock, directory created if missing and may_create, opened and
 * verified (safepath_open_dir), last-used time updated. */
int volume_acquire(struct volume_store *store, enum volume_kind kind, const char *name,
		   bool may_create, struct volume_handle *handle, struct sk_err *err);
/* Takes an existing volume for a change no sandbox may see meanwhile (workspace apply): the
 * lock exclusively and without waiting, so EBUSY ("in use") while a sandbox holds it, and no
 * run can take it until it is released. */
int volume_acquire_exclusive(struct volume_store *store, enum volume_kind kind, const char *name,
			     struct volume_handle *handle, struct sk_err *err);
/* Drops it; with should_remove, removes it too unless another user holds it. */
void volume_release(struct volume_store *store, struct volume_handle *handle, bool should_remove);

int volume_create(struct volume_store *store, const char *name, uint64_t limit_bytes,
		  struct sk_err *err);
/* Removes a named (else anonymous) volume; refuses one in use. */
int volume_remove(struct volume_store *store, const char *name, struct sk_err *err);
/* Removes every anonymous volume not in use; *removed counts them. */
int volume_prune(struct volume_store *store, unsigned *removed, struct sk_err *err);
/* Removes the anonymous volumes of runs that were killed before they could (marked ephemeral in
 * their meta file, and no longer locked by a run); kept anonymous volumes stay. */
int volume_sweep_ephemeral(struct volume_store *store, unsigned *removed, struct sk_err *err);
/* All volumes (named first), allocated; free() the array. */
int volume_list(struct volume_store *store, struct volume_info **infos, size_t *count,
		struct sk_err *err);
int volume_inspect(struct volume_store *store, const char *name, struct volume_info *info,
		   struct sk_err *err);
/* Finds the kind of an existing volume (named first). */
int volume_find(struct volume_store *store, const char *name, enum volume_kind *kind,
		struct sk_err *err);

/* ---- phase 2 for `run` ---- */

/* Creates (named: on first use; anonymous: always) and opens every volume of spec: handles[i]
 * holds the lock, opened[i] is what the engine mounts (spec->volumes[i]'s name, made up for an
 * anonymous volume, directory fd and store directory). On failure nothing this call created
 * is left behind. */
int volume_run_acquire(struct volume_store *store, const struct sandbox_spec *spec,
		       struct volume_handle *handles, struct sandbox_open_volume *opened,
		       struct sk_err *err);
/* After the run: anonymous volumes are removed unless spec->should_keep_volumes; when the
 * command never started, volumes this run created are removed too. */
void volume_run_release(struct volume_store *store, const struct sandbox_spec *spec,
			struct volume_handle *handles, bool has_started);

#endif
