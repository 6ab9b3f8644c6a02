/* The wire between stockade and stockade-tls (proxy_wire.h): finding the helper, writing and
 * reading the configuration, exec'ing the helper, reading its first answer. */
#define _GNU_SOURCE
#include "net/proxy_wire.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proxy_wire_stamp.h" /* generated: PROXY_WIRE_STAMP, a hash of the wire's headers */
#include "util/fds.h"
#include "util/macros.h"

_Static_assert(sizeof(PROXY_WIRE_STAMP) <= sizeof(((struct proxy_wire *)0)->stamp),
	       "the stamp fits the wire");
/* Read through a volatile pointer, so that the stamp is one string in each binary and never
 * folded into instructions: test_credentials changes it there to make "another build". */
static const char *const volatile wire_stamp = PROXY_WIRE_STAMP;

/* Whoever may replace or rewrite stockade-tls runs code as every caller of this stockade,
 * root too, with the credentials' values and the run's CA. stockade may run from a directory
 * others may write (a sticky one, as /tmp is): they cannot replace stockade there, but can put
 * a stockade-tls beside it. So it must be root's, the caller's, or the owner's of stockade
 * (whom running stockade trusts already), and writable by no one else: no write bit for
 * others, and one for its group only if that group may write stockade too. */
static int check_helper_owner(const struct stat *helper, const char *path, struct sk_err *err)
{
	struct stat self;

	if (stat("/proc/self/exe", &self) < 0)
		return sk_fail(err, "credentials", errno, NULL, "stat /proc/self/exe");
	if (helper->st_uid != 0 && helper->st_uid != geteuid() && helper->st_uid != self.st_uid)
		return sk_fail(err, "credentials", EPERM,
			       "it must be root's, the caller's or stockade's owner's",
			       "%s: another user's (uid %u)", path, (unsigned)helper->st_uid);
	if ((helper->st_mode & S_IWOTH) ||
	    ((helper->st_mode & S_IWGRP) &&
	     (!(self.st_mode & S_IWGRP) || self.st_gid != helper->st_gid)))
		return sk_fail(err, "credentials", EPERM, "chmod go-w it",
			       "%s: writable by others (mode %04o)", path,
			       (unsigned)(helper->st_mode & 07777));
	return 0;
}

int proxy_wire_helper_open(struct sk_err *err)
{
	char self[PATH_MAX], path[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	struct stat st;
	bool is_stat;
	int fd;

	if (n < 0)
		return sk_fail(err, "credentials", errno, NULL, "readlink /proc/self/exe");
	self[n] = '\0';
	snprintf(path, sizeof(path), "%s/" PROXY_WIRE_HELPER, dirname(self));
	/* O_PATH: executed later with execveat, so the file checked now is the one that runs
	 * (a rename over the path afterwards changes nothing). O_NOFOLLOW: the owner checked is
	 * the file's, never a link's target; another user's link in a sticky directory to a
	 * root's program (/bin/sh) would pass that check and run what that user chose. */
	fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return sk_fail(err, "credentials", errno,
			       "credentials need " PROXY_WIRE_HELPER
			       " installed beside stockade (meson install)",
			       "%s", path);
	is_stat = fstat(fd, &st) == 0;
	if (is_stat && S_ISLNK(st.st_mode)) {
		close(fd);
		return sk_fail(err, "credentials", ELOOP,
			       "install the file itself beside stockade, not a link to it",
			       "%s: a symbolic link", path);
	}
	if (!is_stat || !S_ISREG(st.st_mode) || !(st.st_mode & S_IXUSR)) {
		close(fd);
		return sk_fail(err, "credentials", EACCES, "install it from the same build", "%s",
			       path);
	}
	if (check_helper_owner(&st, path, err) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void copy_string(char *dst, size_t size, const char *src, unsigned char *has)
{
	*has = src != NULL;
	if (src)
		snprintf(dst, size, "%s", src);
}

int proxy_wire_create(struct proxy_wire *wire, const struct proxy_config *config, bool with_values,
		      struct sk_err *err)
{
	int fd;

	memcpy(wire->stamp, wire_stamp, sizeof(PROXY_WIRE_STAMP));
	wire->config = *config;
	for (size_t i = 0; !with_values && i < config->credential_count; i++)
		wire->config.credentials[i].value_fd = -1;
	wire->config.dns_server = wire->config.hosts_file = wire->config.ca_file = NULL;
	wire->config.ca = NULL;
	copy_string(wire->dns_server, sizeof(wire->dns_server), config->dns_server,
		    &wire->has_dns_server);
	copy_string(wire->hosts_file, sizeof(wire->hosts_file), config->hosts_file,
		    &wire->has_hosts_file);
	copy_string(wire->ca_file, sizeof(wire->ca_file), config->ca_file, &wire->has_ca_file);
	if ((config->dns_server && strlen(config->dns_server) >= sizeof(wire->dns_server)) ||
	    (config->hosts_file && strlen(config->hosts_file) >= sizeof(wire->hosts_file)) ||
	    (config->ca_file && strlen(config->ca_file) >= sizeof(wire->ca_file)))
		return sk_fail(err, "proxy", ENAMETOOLONG, NULL, "a path of the proxy's");
	fd = memfd_create("stockade-proxy-wire", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return sk_fail(err, "proxy", errno, NULL,
			       "memfd_create (the proxy's configuration)");
	/* Sealed: the helper reads exactly what was written here. */
	if (fds_write_all(fd, wire, sizeof(*wire)) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		sk_fail(err, "proxy", errno, NULL, "writing the proxy's configuration");
		close(fd);
		return -1;
	}
	return fd;
}

void proxy_wire_exec(int helper_fd, const char *mode, int wire_fd, int *keep, int count,
		     struct sk_err *err)
{
	extern char **environ;
	char fd_text[16];
	char *argv[] = {PROXY_WIRE_HELPER, (char *)mode, fd_text, NULL};

	snprintf(fd_text, sizeof(fd_text), "%d", wire_fd);
	if (fds_close_except(keep, count) < 0) {
		sk_fail(err, "proxy", errno, NULL, "closing the descriptors of " PROXY_WIRE_HELPER);
		return;
	}
	/* Everything kept is inherited, on purpose: each is named in the wire. helper_fd stays
	 * close-on-exec (execveat works through it, a static binary needs it no further). */
	for (int i = 0; i < count; i++)
		if (keep[i] >= 0 && keep[i] != helper_fd && fcntl(keep[i], F_SETFD, 0) < 0) {
			sk_fail(err, "proxy", errno, NULL, "fcntl(F_SETFD)");
			return;
		}
	/* The environment is stockade's own (the caller's, not the sandbox's): SSL_CERT_FILE
	 * there says where the host's trust store is, as for any OpenSSL program. */
	execveat(helper_fd, "", argv, environ, AT_EMPTY_PATH);
	sk_fail(err, "credentials", errno, NULL, "exec " PROXY_WIRE_HELPER);
}

int proxy_wire_read(int fd, struct proxy_wire *wire, struct sk_err *err)
{
	char extra;
	ssize_t n = pread(fd, wire, sizeof(*wire), 0);

	if (n != (ssize_t)sizeof(*wire) || pread(fd, &extra, 1, sizeof(*wire)) != 0 ||
	    memcmp(wire->stamp, wire_stamp, sizeof(PROXY_WIRE_STAMP)) != 0)
		return sk_fail(err, "credentials", 0, "install stockade and it from one build",
			       PROXY_WIRE_HELPER " is not from the build of this stockade");
	close(fd);
	wire->config.dns_server = wire->has_dns_server ? wire->dns_server : NULL;
	wire->config.hosts_file = wire->has_hosts_file ? wire->hosts_file : NULL;
	wire->config.ca_file = wire->has_ca_file ? wire->ca_file : NULL;
	wire->config.ca = NULL;
	return 0;
}

int proxy_wire_answer(int ready_fd, pid_t *pid, const char *what, struct sk_err *err)
{
	char answer[sizeof(struct sk_err)];
	int status = 0;
	ssize_t n;

	do
		n = read(ready_fd, answer, sizeof(answer));
	while (n < 0 && errno == EINTR);
	if (n == 1)
		return 0;
	if (n == (ssize_t)sizeof(struct sk_err)) {
		memcpy(err, answer, sizeof(*err));
		return -1;
	}
	/* Nothing said: it died first. Its status says whether it was a helper of another
	 * build, which refuses the wire before it can answer on it. */
	while (waitpid(*pid, &status, 0) < 0 && errno == EINTR)
		;
	*pid = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == PROXY_WIRE_EXIT_MISMATCH)
		return sk_fail(err, "credentials", 0, "install stockade and it from one build",
			       PROXY_WIRE_HELPER " is not from the build of this stockade");
	if (WIFSIGNALED(status))
		return sk_fail(err, "proxy", 0, NULL, "%s died while starting (%s)", what,
			       strsignal(WTERMSIG(status)));
	return sk_fail(err, "proxy", 0, NULL, "%s died while starting (exit status %d)", what,
		       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* The certificate in pem: what stockade-tls wrote, one PEM certificate and nothing else. */
static bool is_one_certificate(const char *pem, size_t len)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----\n";
	static const char end[] = "-----END CERTIFICATE-----\n";

	return len > sizeof(begin) + sizeof(end) && memcmp(pem, begin, sizeof(begin) - 1) == 0 &&
	       memcmp(pem + len - (sizeof(end) - 1), end, sizeof(end) - 1) == 0 &&
	       memmem(pem + 1, len - 1, "-----BEGIN", 10) == NULL;
}

static int read_certificate(int fd, char **pem, size_t *pem_len, struct sk_err *err)
{
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size > 65536)
		return sk_fail(err, "credentials", EPROTO, NULL,
			       PROXY_WIRE_HELPER " ca wrote no certificate");
	*pem = malloc((size_t)st.st_size + 1);
	if (!*pem)
		return sk_fail(err, "credentials", ENOMEM, NULL, "the run's CA");
	n = pread(fd, *pem, (size_t)st.st_size, 0);
	if (n != st.st_size || !is_one_certificate(*pem, (size_t)n)) {
		free(*pem);
		*pem = NULL;
		return sk_fail(err, "credentials", EPROTO, NULL,
			       PROXY_WIRE_HELPER " ca wrote no certificate");
	}
	(*pem)[n] = '\0';
	*pem_len = (size_t)n;
	return 0;
}

int proxy_wire_ca(int helper_fd, const struct proxy_config *config, int *key_fd, char **pem,
		  size_t *pem_len, struct sk_err *err)
{
	struct proxy_wire *wire = calloc(1, sizeof(*wire));
	int ready[2] = {-1, -1}, key = -1, cert = -1, wire_fd = -1, rc = -1, status = 0;
	pid_t pid = -1;

	*key_fd = -1;
	if (!wire)
		return sk_fail(err, "credentials", ENOMEM, NULL, "the run's CA");
	key = memfd_create("stockade-ca-key", MFD_CLOEXEC);
	cert = memfd_create("stockade-ca-cert", MFD_CLOEXEC);
	if (key < 0 || cert < 0 || pipe2(ready, O_CLOEXEC) < 0) {
		sk_fail(err, "credentials", errno, NULL, "memfd_create or pipe2 (the run's CA)");
		goto out;
	}
	wire->http_fd = wire->socks_fd = wire->control_fd = wire->stats_fd = -1;
	wire->ready_fd = ready[1];
	wire->ca_key_fd = key;
	wire->ca_cert_fd = cert;
	/* The CA needs the hosts only: no credential's value goes to this process. */
	wire_fd = proxy_wire_create(wire, config, false, err);
	if (wire_fd < 0)
		goto out;
	pid = fork();
	if (pid < 0) {
		sk_fail(err, "credentials", errno, NULL, "fork " PROXY_WIRE_HELPER);
		goto out;
	}
	if (pid == 0) {
		int keep[] = {ready[1], key, cert, wire_fd, helper_fd};
		struct sk_err child_err = {0};
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		proxy_wire_exec(helper_fd, "ca", wire_fd, keep, (int)ARRAY_SIZE(keep), &child_err);
		(void)!write(ready[1], &child_err, sizeof(child_err));
		_exit(1);
	}
	close(ready[1]);
	ready[1] = -1;
	if (proxy_wire_answer(ready[0], &pid, PROXY_WIRE_HELPER " ca", err) < 0)
		goto out;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		sk_fail(err, "credentials", 0, NULL,
			PROXY_WIRE_HELPER " ca failed after it answered");
		goto out;
	}
	if (read_certificate(cert, pem, pem_len, err) < 0)
		goto out;
	*key_fd = key;
	key = -1;
	rc = 0;
out:
	if (pid > 0) { /* it answered with an error: it exits next */
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	for (int i = 0; i < 2; i++)
		if (ready[i] >= 0)
			close(ready[i]);
	if (key >= 0)
		close(key);
	if (cert >= 0)
		close(cert);
	if (wire_fd >= 0)
		close(wire_fd);
	free(wire);
	return rc;
}
