/* Secrets (see secrets.h): the --secret grammar, the checks, and the copy into the sandbox.
 * The value lives in a sealed memfd from the front end to PID 1: the parent never reads it,
 * PID 1 copies it into the sandbox's tmpfs with sendfile and, for a variable, into the
 * workload's environment, then closes the fds before anything of the workload exists. */
#define _GNU_SOURCE
#include "sandbox/secrets.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/mount.h"
#include "util/fds.h"
#include "util/macros.h"
#include "util/syscalls.h"

#define SECRET_HINT "NAME=@FILE or NAME=env:VAR, then ,env=KEY to set KEY inside"

/* ---- the grammar ---- */

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.';
}

/* A file name in /run/secrets: letters, digits, _ - . and not starting with '.' (no "..",
 * no hidden file). */
static bool is_valid_name(const char *name, size_t len)
{
	if (len == 0 || len > SANDBOX_SECRET_NAME_MAX || name[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_name_char(name[i]))
			return false;
	return true;
}

int secret_parse_source(const char *src, const char *flag, const char *name, const char *hint,
			enum sandbox_secret_source *source, const char **from, struct sk_err *err)
{
	char why[320];

	if (src[0] == '@') {
		*source = SECRET_FROM_FILE;
		*from = src + 1;
		return 0;
	}
	if (strncmp(src, "env:", 4) == 0) {
		*source = SECRET_FROM_ENV;
		*from = src + 4;
		return 0;
	}
	/* Whatever follows may be the value itself: never echoed. */
	snprintf(why, sizeof(why),
		 "a value is never written in a flag or a spec file, where ps, shell history and "
		 "reviews see it; %s",
		 hint);
	return sk_fail(err, "cli", 0, why, "%s %s: its source must be @FILE or env:VAR", flag,
		       name);
}

int secret_parse(const char *text, struct sandbox_secret *out, struct sk_err *err)
{
	const char *eq = strchr(text, '='), *src, *opt;
	size_t name_len = eq ? (size_t)(eq - text) : 0;

	memset(out, 0, sizeof(*out));
	if (!eq || !is_valid_name(text, name_len))
		return sk_fail(err, "cli", 0,
			       "a name is 1 to 64 letters, digits, '_', '-', '.', not starting "
			       "with '.'; " SECRET_HINT,
			       "invalid --secret: no valid NAME= before its source");
	memcpy(out->name, text, name_len);
	src = eq + 1;
	/* ",env=KEY" ends the text when it is there; a path may hold commas before it. */
	opt = strstr(src, ",env=");
	while (opt && strstr(opt + 1, ",env="))
		opt = strstr(opt + 1, ",env=");
	if (opt) {
		out->env = opt + 5;
		out->env_len = strlen(out->env);
		if (!env_is_valid_key(out->env, out->env_len) || out->env_len >= ENV_KEY_MAX)
			return sk_fail(err, "cli", 0, "names are letters, digits and _",
				       "--secret %s: invalid env= variable name", out->name);
	}
	if (secret_parse_source(src, "--secret", out->name, SECRET_HINT, &out->source, &out->from,
				err) < 0)
		return -1;
	out->from_len = (size_t)((opt ? opt : src + strlen(src)) - out->from);
	if (out->from_len == 0 || out->from_len >= PATH_MAX)
		return sk_fail(err, "cli", 0, SECRET_HINT, "--secret %s: empty or too long %s",
			       out->name, out->source == SECRET_FROM_FILE ? "file" : "variable");
	if (out->source == SECRET_FROM_ENV &&
	    (!env_is_valid_key(out->from, out->from_len) || out->from_len >= ENV_KEY_MAX))
		return sk_fail(err, "cli", 0, "names are letters, digits and _",
			       "--secret %s: invalid env: variable name", out->name);
	return 0;
}

int secret_add(struct sandbox_spec *spec, const struct sandbox_secret *secret, struct sk_err *err)
{
	for (size_t i = 0; i < spec->secret_count; i++)
		if (strcmp(spec->secrets[i].name, secret->name) == 0) {
			spec->secrets[i] = *secret;
			return 0;
		}
	if (spec->secret_count >= SANDBOX_MAX_SECRETS)
		return sk_fail(err, "cli", 0, "at most 32 secrets", "--secret %s: too many secrets",
			       secret->name);
	spec->secrets[spec->secret_count++] = *secret;
	return 0;
}

static bool same_key(const char *a, size_t a_len, const char *b, size_t b_len)
{
	return a_len == b_len && memcmp(a, b, a_len) == 0;
}

/* The key of a -e item: up to its '=' or the whole. */
static size_t env_item_key_len(const char *item)
{
	const char *eq = strchr(item, '=');

	return eq ? (size_t)(eq - item) : strlen(item);
}

int secrets_check(const struct sandbox_spec *spec, struct sk_err *err)
{
	struct sandbox_secret parsed;

	if (spec->secret_count > SANDBOX_MAX_SECRETS)
		return sk_fail(err, "cli", 0, "at most 32 secrets", "too many secrets");
	for (size_t i = 0; i < spec->secret_count; i++) {
		const struct sandbox_secret *s = &spec->secrets[i];
		char text[SANDBOX_SECRET_NAME_MAX + 2 * PATH_MAX];

		/* A spec filled another way than by secret_parse is held to the same grammar. */
		secret_format(s, text, sizeof(text));
		if (secret_parse(text, &parsed, err) < 0)
			return -1;
		for (size_t j = 0; j < i; j++) {
			const struct sandbox_secret *t = &spec->secrets[j];
			if (strcmp(s->name, t->name) == 0)
				return sk_fail(err, "cli", 0, "each name once",
					       "--secret %s given twice", s->name);
			if (s->env && t->env && same_key(s->env, s->env_len, t->env, t->env_len))
				return sk_fail(err, "cli", 0, "each variable once",
					       "--secret %s and %s set the same variable", t->name,
					       s->name);
		}
		for (size_t j = 0; j < spec->env_add_count; j++) {
			const char *item = spec->env_add[j];
			size_t len = env_item_key_len(item);
			/* -e KEY=V and the secret would both set KEY: which one wins is a guess. */
			if (s->env && same_key(s->env, s->env_len, item, len))
				return sk_fail(err, "cli", 0, "drop the -e",
					       "--secret %s sets %.*s, and so does -e", s->name,
					       (int)len, item);
			/* -e VAR would copy the secret's source into the sandbox in the clear. */
			if (s->source == SECRET_FROM_ENV && !strchr(item, '=') &&
			    same_key(s->from, s->from_len, item, len))
				return sk_fail(err, "cli", 0,
					       "add ,env=KEY to the --secret to have it inside",
					       "-e %.*s passes the source of --secret %s", (int)len,
					       item, s->name);
		}
	}
	return 0;
}

void secret_format(const struct sandbox_secret *secret, char *buf, size_t size)
{
	snprintf(buf, size, "%s=%s%.*s%s%.*s", secret->name,
		 secret->source == SECRET_FROM_FILE ? "@" : "env:", (int)secret->from_len,
		 secret->from, secret->env ? ",env=" : "", secret->env ? (int)secret->env_len : 0,
		 secret->env ? secret->env : "");
}

/* ---- memfds ---- */

int secrets_memfd_create(const char *name, struct sk_err *err)
{
	/* Not executable (MFD_NOEXEC_SEAL, Linux 6.3) where the kernel knows the flag. */
	int fd = memfd_create("stockade-secret", MFD_CLOEXEC | MFD_ALLOW_SEALING | 0x0008U);

	if (fd < 0 && errno == EINVAL)
		fd = memfd_create("stockade-secret", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return sk_fail(err, "secrets", errno, NULL, "memfd_create (secret %s)", name);
	return fd;
}

int secrets_memfd_seal(int fd, const char *name, struct sk_err *err)
{
	if (fcntl(fd, F_ADD_SEALS, SECRETS_SEALS) < 0)
		return sk_fail(err, "secrets", errno, NULL, "seal the memfd of secret %s", name);
	return 0;
}

/* ---- parent ---- */

int secrets_prepare(struct secrets_plan *plan, const struct sandbox_spec *spec, const int *fds,
		    struct sk_err *err)
{
	memset(plan, 0, sizeof(*plan));
	for (size_t i = 0; i < SECRETS_MAX_FILES; i++)
		plan->items[i].fd = -1;
	if (spec->secret_count == 0)
		return 0;
	if (!fds)
		return sk_fail(err, "secrets", EBADF, NULL, "the secrets' values were not opened");
	size_t with_env = 0;
	for (size_t i = 0; i < spec->secret_count; i++) {
		struct secret_item *item = &plan->items[i];
		struct stat st;
		int seals = fcntl(fds[i], F_GET_SEALS);

		/* Only a sealed memfd: a file or pipe could change, or be read by someone else,
		 * between this check and PID 1's copy. */
		if (seals < 0 || (seals & SECRETS_SEALS) != SECRETS_SEALS ||
		    fstat(fds[i], &st) < 0 || !S_ISREG(st.st_mode))
			return sk_fail(err, "secrets", seals < 0 ? errno : EINVAL, NULL,
				       "secret %s: not a sealed memfd", spec->secrets[i].name);
		if ((uint64_t)st.st_size > SANDBOX_SECRET_MAX_BYTES)
			return sk_fail(err, "secrets", EFBIG, "a secret is at most 1 MiB",
				       "secret %s is too large", spec->secrets[i].name);
		item->name = spec->secrets[i].name;
		item->fd = fds[i];
		item->size = (size_t)st.st_size;
		item->env_key = spec->secrets[i].env;
		item->env_key_len = item->env_key ? spec->secrets[i].env_len : 0;
		with_env += spec->secrets[i].env ? 1 : 0;
		plan->count++;
	}
	snprintf(plan->detail, sizeof(plan->detail), "%zu in " SANDBOX_SECRETS_DIR ", %zu as %s",
		 plan->count, with_env, with_env == 1 ? "a variable" : "variables");
	return 0;
}

int secrets_env_add(struct secrets_plan *plan, struct env_plan *env, struct sk_err *err)
{
	for (size_t i = 0; i < plan->count; i++) {
		struct secret_item *item = &plan->items[i];
		size_t key_len = item->env_key_len;
		char *entry;

		if (!item->env_key)
			continue;
		for (size_t j = 0; j < env->count; j++)
			if (strncmp(env->envp[j], item->env_key, key_len) == 0 &&
			    env->envp[j][key_len] == '=')
				return sk_fail(err, "secrets", 0, "choose another name for env=",
					       "secret %s: stockade sets %.*s itself", item->name,
					       (int)key_len, item->env_key);
		if (env->count >= ENV_MAX)
			return sk_fail(err, "env", E2BIG, NULL,
				       "more than %d environment variables", ENV_MAX);
		/* "KEY=" and room for the value, zeroed: the parent never holds the value. */
		entry = calloc(1, key_len + 1 + item->size + 1);
		if (!entry)
			return sk_fail(err, "secrets", ENOMEM, NULL, "environment");
		memcpy(entry, item->env_key, key_len);
		entry[key_len] = '=';
		env->envp[env->count++] = entry;
		env->envp[env->count] = NULL;
		item->env_entry = entry;
	}
	return 0;
}

void secrets_plan_free(struct secrets_plan *plan)
{
	/* The env entries belong to the env plan; the fds to the front end, but our own. */
	for (size_t i = 0; i < plan->count; i++)
		if (plan->items[i].is_owned && plan->items[i].fd >= 0)
			close(plan->items[i].fd);
	memset(plan, 0, sizeof(*plan));
}

int secrets_add_text(struct secrets_plan *plan, const char *name, const char *text,
		     struct sk_err *err)
{
	struct secret_item *item;
	size_t len = strlen(text);
	int fd;

	for (size_t i = 0; i < plan->count; i++)
		if (strcmp(plan->items[i].name, name) == 0)
			return sk_fail(err, "secrets", 0, "give the credential another NAME",
				       "%s/%s is a secret's", SANDBOX_SECRETS_DIR, name);
	if (plan->count >= SECRETS_MAX_FILES)
		return sk_fail(err, "secrets", ENOSPC, NULL, "too many files in %s",
			       SANDBOX_SECRETS_DIR);
	fd = secrets_memfd_create(name, err);
	if (fd < 0)
		return -1;
	if (fds_write_all(fd, text, len) < 0 || secrets_memfd_seal(fd, name, err) < 0) {
		if (!err->layer[0])
			sk_fail(err, "secrets", errno, NULL, "write %s", name);
		close(fd);
		return -1;
	}
	item = &plan->items[plan->count++];
	memset(item, 0, sizeof(*item));
	item->name = name;
	item->fd = fd;
	item->is_owned = true;
	item->size = len;
	return 0;
}

int secrets_child_fds(const struct secrets_plan *plan, int *fds, size_t capacity)
{
	size_t n = 0;

	for (size_t i = 0; i < plan->count && n < capacity; i++)
		fds[n++] = plan->items[i].fd;
	return (int)n;
}

/* ---- child: async-signal-safe ---- */

static int write_file(int dir, const struct secret_item *item, struct sk_err *err)
{
	off_t offset = 0;
	int fd;

	/* O_EXCL | O_NOFOLLOW on a tmpfs only we have seen: nothing can be there, and if
	 * something were, it is neither followed nor reused. */
	fd = openat(dir, item->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
	if (fd < 0)
		return sk_fail_safe(err, "secrets", errno, "create " SANDBOX_SECRETS_DIR "/",
				    item->name, NULL);
	while ((size_t)offset < item->size) {
		ssize_t n = sendfile(fd, item->fd, &offset, item->size - (size_t)offset);
		if (n <= 0) {
			int saved = n < 0 ? errno : EIO;
			close(fd);
			return sk_fail_safe(err, "secrets", saved, "write secret", item->name,
					    NULL);
		}
	}
	/* 0400 whatever the umask; the owner is PID 1's uid, the sandbox user. */
	if (fchmod(fd, 0400) < 0) {
		int saved = errno;
		close(fd);
		return sk_fail_safe(err, "secrets", saved, "chmod secret", item->name, NULL);
	}
	close(fd);
	return 0;
}

/* The value into the env entry the parent left empty after "KEY=". */
static int fill_env(const struct secret_item *item, struct sk_err *err)
{
	char *value = item->env_entry + item->env_key_len + 1;
	size_t done = 0;

	while (done < item->size) {
		ssize_t n = pread(item->fd, value + done, item->size - done, (off_t)done);
		if (n <= 0)
			return sk_fail_safe(err, "secrets", n < 0 ? errno : EIO, "read secret",
					    item->name, NULL);
		done += (size_t)n;
	}
	/* A variable ends at its first NUL: the workload would get a cut value silently. */
	if (memchr(value, '\0', item->size))
		return sk_fail_safe(err, "secrets", 0,
				    "a variable cannot carry a NUL byte, and it is in secret",
				    item->name, "drop env= and read it from " SANDBOX_SECRETS_DIR);
	return 0;
}

int secrets_apply(const struct secrets_plan *plan, struct sk_err *err)
{
	int root, dir, rc = 0;

	if (plan->count == 0)
		return 0;
	root = open(MOUNT_NEWROOT, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return sk_fail_safe(err, "secrets", errno, "open the new root", NULL, NULL);
	/* The tmpfs the mount plan put there (MOUNT_SECRETS), through no symlink. */
	dir = sys_openat2(root, &SANDBOX_SECRETS_DIR[1],
			  /* relative to the new root */ O_PATH | O_DIRECTORY | O_CLOEXEC,
			  RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
	close(root);
	if (dir < 0)
		return sk_fail_safe(err, "secrets", errno, "open", SANDBOX_SECRETS_DIR, NULL);
	for (size_t i = 0; i < plan->count && rc == 0; i++) {
		rc = write_file(dir, &plan->items[i], err);
		if (rc == 0 && plan->items[i].env_entry)
			rc = fill_env(&plan->items[i], err);
	}
	/* Read-only from here: the workload can neither change a secret nor leave files of its
	 * own where its readers trust what they find. */
	if (rc == 0 && sys_mount_setattr(dir, "", AT_EMPTY_PATH,
					 MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
					     MOUNT_ATTR_NOEXEC) < 0)
		rc = sk_fail_safe(err, "secrets", errno, "mount_setattr(read-only)",
				  SANDBOX_SECRETS_DIR, NULL);
	close(dir);
	/* The values are in the sandbox now; nothing later needs the memfds. */
	for (size_t i = 0; i < plan->count; i++)
		close(plan->items[i].fd);
	return rc;
}
