/* The secrets layer: values handed to the sandbox as files in a tmpfs of their own at
 * SANDBOX_SECRETS_DIR (0400, the sandbox user's, read-only mount, noexec) and, when asked, as
 * environment variables. The value never passes through stockade's argv, environment, report,
 * audit log or messages: the front end puts it in a sealed memfd (secrets_memfd_*), the parent
 * only checks the fds and sizes, and PID 1 copies from the fds into the sandbox. */
#ifndef STOCKADE_SECRETS_H
#define STOCKADE_SECRETS_H

#include <stdbool.h>
#include <stddef.h>

#include "sandbox/env.h"
#include "spec/spec.h"
#include "util/err.h"

/* The seals a secret's memfd must carry: its content can no longer change. */
#define SECRETS_SEALS (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL)

/* Parses the text of one --secret (NAME=@FILE or NAME=env:VAR, then ,env=KEY) into *out,
 * pointing into text. Messages name the secret, never quote the text: a value typed there by
 * mistake must not end up on stderr. Returns 0, or -1 with err. */
int secret_parse(const char *text, struct sandbox_secret *out, struct sk_err *err);
/* A value's source as secrets and credentials write it: "@FILE" or "env:VAR" at src (*from
 * points past the prefix, into src). Anything else is refused without being echoed (it may be
 * the value itself), in flag's words for name, with hint. */
int secret_parse_source(const char *src, const char *flag, const char *name, const char *hint,
			enum sandbox_secret_source *source, const char **from, struct sk_err *err);
/* Adds a secret to spec; one of the same name is replaced (a later layer wins). */
int secret_add(struct sandbox_spec *spec, const struct sandbox_secret *secret, struct sk_err *err);
/* The spec's secrets as a whole: names, variables, and no clash with -e. */
int secrets_check(const struct sandbox_spec *spec, struct sk_err *err);
/* The flag text of a secret (what secret_parse reads back), into buf. */
void secret_format(const struct sandbox_secret *secret, char *buf, size_t size);

/* A new memfd for one secret's value (MFD_CLOEXEC | MFD_ALLOW_SEALING); -1 with err. */
int secrets_memfd_create(const char *name, struct sk_err *err);
/* Seals it (SECRETS_SEALS) once the value is in; -1 with err. */
int secrets_memfd_seal(int fd, const char *name, struct sk_err *err);

/* Secrets and the credentials' placeholder files. */
#define SECRETS_MAX_FILES (SANDBOX_MAX_SECRETS + SANDBOX_MAX_CREDENTIALS)

struct secret_item {
	const char *name;
	int fd;		     /* the sealed memfd (the front end's, unless is_owned) */
	bool is_owned;	     /* made by secrets_add_text: the plan closes it */
	size_t size;	     /* of the value */
	const char *env_key; /* the variable to set inside, env_key_len bytes; NULL for none */
	size_t env_key_len;
	char *env_entry; /* "KEY=" + size + 1 bytes in the env plan, filled by PID 1 */
};

struct secrets_plan {
	struct secret_item items[SECRETS_MAX_FILES];
	size_t count;
	char detail[128];
};

/* Parent, before clone: checks every fd (a memfd with SECRETS_SEALS, at most
 * SANDBOX_SECRET_MAX_BYTES). The tmpfs itself is an entry of the mount plan (MOUNT_SECRETS). */
int secrets_prepare(struct secrets_plan *plan, const struct sandbox_spec *spec, const int *fds,
		    struct sk_err *err);
/* Parent, after every other env_set: a slot in the workload's environment for each secret with
 * `env`, empty until PID 1 fills it. A name another layer set already (PATH, HTTP_PROXY, ...)
 * is refused. */
int secrets_env_add(struct secrets_plan *plan, struct env_plan *env, struct sk_err *err);
void secrets_plan_free(struct secrets_plan *plan);
/* Parent: one more file, name holding text (no variable): a sealed memfd of the plan's own.
 * For a credential's placeholder (credentials.h); a name a secret has is refused. */
int secrets_add_text(struct secrets_plan *plan, const char *name, const char *text,
		     struct sk_err *err);
/* The fds PID 1 keeps until secrets_apply(); fills up to capacity, returns how many. */
int secrets_child_fds(const struct secrets_plan *plan, int *fds, size_t capacity);
/* Child, after mount_apply() and before mount_finish(): writes each value into its file in
 * the secrets' tmpfs (mounted by the mount plan beneath MOUNT_NEWROOT), makes that mount
 * read-only, fills the environment slots, and closes the memfds. */
int secrets_apply(const struct secrets_plan *plan, struct sk_err *err);

#endif
