/* The caller's side of --secret and --credential: each value read from its file or variable
 * straight into a sealed memfd (sandbox/secrets.h), which is all the engine gets. A file's bytes
 * move by sendfile or splice, so they never sit in stockade's memory; a variable's value is in our
 * environment block from exec on, so it is copied once and wiped there at once, before this
 * process forks anything, and the variable is unset. */
#define _GNU_SOURCE
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/secrets.h"
#include "util/fds.h"

extern char **environ;

/* A regular file by sendfile, a pipe (`@<(pass show x)`) by splice: kernel to kernel. */
static int copy_file(const struct sandbox_secret *s, const char *flag, int memfd,
		     struct sk_err *err)
{
	char path[PATH_MAX];
	struct stat st;
	uint64_t total = 0;
	int fd, rc = 0;

	memcpy(path, s->from, s->from_len); /* secret_parse: from_len < PATH_MAX */
	path[s->from_len] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return sk_fail(err, "secrets", errno, NULL, "%s %s: open %.200s", flag, s->name,
			       path);
	if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode))) {
		close(fd);
		return sk_fail(err, "secrets", 0, "@FILE takes a regular file or a pipe",
			       "%s %s: %.200s is not a file", flag, s->name, path);
	}
	for (;;) {
		/* One byte more than allowed tells a file that is too large. */
		size_t want = SANDBOX_SECRET_MAX_BYTES + 1 - total;
		ssize_t n = S_ISREG(st.st_mode)
				? sendfile(memfd, fd, NULL, want)
				: splice(fd, NULL, memfd, NULL, want, SPLICE_F_MOVE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = sk_fail(err, "secrets", errno, NULL, "%s %s: read %.200s", flag,
				     s->name, path);
			break;
		}
		total += (uint64_t)n;
		if (total > SANDBOX_SECRET_MAX_BYTES) {
			rc = sk_fail(err, "secrets", EFBIG, "a secret is at most 1 MiB",
				     "%s %s: %.200s is too large", flag, s->name, path);
			break;
		}
		if (n == 0)
			break;
	}
	close(fd);
	if (rc == 0 && total == 0)
		rc = sk_fail(err, "secrets", 0, "an empty secret is most likely a mistake",
			     "%s %s: %.200s is empty", flag, s->name, path);
	return rc;
}

/* The variable's value into memfd, then wiped where it was and unset. */
static int copy_variable(const struct sandbox_secret *s, const char *flag, int memfd,
			 struct sk_err *err)
{
	char key[ENV_KEY_MAX];
	bool is_found = false;
	int rc = 0;

	memcpy(key, s->from, s->from_len); /* secret_parse: from_len < ENV_KEY_MAX */
	key[s->from_len] = '\0';
	for (char **entry = environ; entry && *entry; entry++) {
		if (strncmp(*entry, key, s->from_len) != 0 || (*entry)[s->from_len] != '=')
			continue;
		char *value = *entry + s->from_len + 1;
		size_t len = strlen(value);
		/* The first one is what getenv would give; every copy is wiped all the same. */
		if (!is_found && rc == 0 && memfd >= 0) {
			if (len == 0)
				rc = sk_fail(err, "secrets", 0,
					     "an empty secret is most likely a mistake",
					     "%s %s: $%s is empty", flag, s->name, key);
			else if (fds_write_all(memfd, value, len) < 0)
				rc = sk_fail(err, "secrets", errno, NULL, "%s %s: write the memfd",
					     flag, s->name);
		}
		is_found = true;
		/* /proc/PID/environ reads this very memory: wiped, it shows no value. */
		explicit_bzero(value, len);
	}
	if (!is_found)
		return sk_fail(err, "secrets", 0, "export it, or give @FILE",
			       "%s %s: $%s is not set", flag, s->name, key);
	/* Nothing after us (-e KEY, children) finds even the empty name. */
	unsetenv(key);
	return rc;
}

void cli_secrets_close(int *fds, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
}

/* One value (of `flag`, for messages) into a new sealed memfd: *fd, or -1 when an earlier one
 * failed (rc < 0), in which case a variable is still wiped. Returns rc, or -1. */
static int open_value(const struct sandbox_secret *s, const char *flag, int rc, int *fd,
		      struct sk_err *err)
{
	struct sk_err failed = {0};

	*fd = rc == 0 ? secrets_memfd_create(s->name, err) : -1;
	if (rc == 0 && *fd < 0)
		rc = -1;
	if (s->source == SECRET_FROM_ENV) {
		if (copy_variable(s, flag, *fd, rc == 0 ? err : &failed) < 0)
			rc = -1;
	} else if (rc == 0 && copy_file(s, flag, *fd, err) < 0) {
		rc = -1;
	}
	if (rc == 0 && secrets_memfd_seal(*fd, s->name, err) < 0)
		rc = -1;
	return rc;
}

int cli_secrets_open(const struct sandbox_spec *spec, int *fds, struct sk_err *err)
{
	int rc = 0;

	for (size_t i = 0; i < CLI_VALUE_FDS; i++)
		fds[i] = -1;
	/* Every variable is wiped even when an earlier secret failed: a refused run leaves no
	 * value behind in a process that may go on to print a message or dump core. */
	for (size_t i = 0; i < spec->secret_count; i++)
		rc = open_value(&spec->secrets[i], "--secret", rc, &fds[i], err);
	/* A credential's value is read the same way; only the proxy reads the memfd. */
	for (size_t i = 0; i < spec->credential_count; i++) {
		const struct sandbox_credential *c = &spec->credentials[i];
		struct sandbox_secret as_secret = {
		    .source = c->source, .from = c->from, .from_len = c->from_len};
		memcpy(as_secret.name, c->name, sizeof(as_secret.name));
		rc = open_value(&as_secret, "--credential", rc, &fds[SANDBOX_MAX_SECRETS + i], err);
	}
	if (rc < 0)
		cli_secrets_close(fds, CLI_VALUE_FDS);
	return rc;
}
