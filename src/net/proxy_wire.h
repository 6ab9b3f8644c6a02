/* stockade-tls: the one executable that holds OpenSSL. Linked into `stockade`, libcrypto's
 * tables cost every start of every command about 0.8 ms (21,000 relocations of a static-pie
 * binary, 109 pages copied on write, before main); so `stockade` has no TLS at all, and a run
 * with credentials (sandbox/credentials.h) execs stockade-tls, found beside its own binary,
 * twice: `stockade-tls ca` makes the run's CA before clone, `stockade-tls proxy` is the egress
 * proxy. Both get this build's struct proxy_config, its strings and the numbers of their
 * descriptors in a memfd ("the wire"), stamped with a hash of the headers that define it: a
 * stockade-tls of another build is refused, never misread. This file is both sides' part. */
#ifndef STOCKADE_PROXY_WIRE_H
#define STOCKADE_PROXY_WIRE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "net/proxy.h"
#include "util/err.h"

#define PROXY_WIRE_HELPER "stockade-tls"
/* stockade-tls's exit status when the wire is not from its own build (or not a wire). */
#define PROXY_WIRE_EXIT_MISMATCH 3

struct proxy_wire {
	char stamp[24];
	struct proxy_config config; /* its pointers cleared; the strings are below */
	int http_fd, socks_fd, control_fd, stats_fd;
	int ready_fd;	/* "" when ready (ca: when written), or a struct sk_err */
	int ca_key_fd;	/* ca: writes the CA's key and certificate (PEM) there; proxy: reads them */
	int ca_cert_fd; /* ca: writes the certificate alone there */
	char dns_server[256], hosts_file[PATH_MAX], ca_file[PATH_MAX];
	unsigned char has_dns_server, has_hosts_file, has_ca_file;
};

/* Parent: an O_PATH descriptor (close-on-exec) of stockade-tls beside /proc/self/exe, or -1
 * with err (layer "credentials"). */
int proxy_wire_helper_open(struct sk_err *err);
/* Parent: a memfd (close-on-exec, sealed) holding wire, with config's strings copied in;
 * without with_values, the credentials' value_fd are -1 in it. */
int proxy_wire_create(struct proxy_wire *wire, const struct proxy_config *config, bool with_values,
		      struct sk_err *err);
/* Parent, before clone: runs `stockade-tls ca` (helper_fd) for config's credentials. *key_fd:
 * a memfd of the CA's key and certificate, for the proxy (never read by stockade); *pem: the
 * certificate alone (allocated, *pem_len bytes). 0, or -1 with err. */
int proxy_wire_ca(int helper_fd, const struct proxy_config *config, int *key_fd, char **pem,
		  size_t *pem_len, struct sk_err *err);
/* Child, after fork: makes keep[0..count) inheritable (every other fd from 3 up is closed) and
 * execs helper_fd as `stockade-tls MODE WIRE_FD`. Returns only on failure, with err. */
void proxy_wire_exec(int helper_fd, const char *mode, int wire_fd, int *keep, int count,
		     struct sk_err *err);
/* stockade-tls: reads the wire from fd and checks its stamp; the config's strings point into
 * *wire again. 0, or -1 with err. */
int proxy_wire_read(int fd, struct proxy_wire *wire, struct sk_err *err);
/* Parent: what the ready pipe of process *pid said: 0 for "", or -1 with err (its sk_err, or
 * why it said nothing, from its exit status: then it is reaped and *pid is 0). what names it
 * ("the egress proxy") in that message. */
int proxy_wire_answer(int ready_fd, pid_t *pid, const char *what, struct sk_err *err);

#endif
