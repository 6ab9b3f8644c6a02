/* The egress proxy: one process per `stockade run --network allowlist`, serving the two
 * listening sockets that the sandbox's PID 1 made in the sandbox's network namespace
 * (127.0.0.1:3128 HTTP CONNECT and plain HTTP, 127.0.0.1:1080 SOCKS5). It runs outside the
 * sandbox, resolves names itself, checks every address it will connect to, connects to
 * exactly that address, relays with splice, and logs every decision. One epoll loop, no
 * thread per connection. If it dies, the listening sockets die with it: the sandbox loses
 * egress, it never gains any. */
#ifndef STOCKADE_PROXY_H
#define STOCKADE_PROXY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "net/credinject.h"
#include "net/hostmatch.h"
#include "util/err.h"

/* Where the proxy listens inside the sandbox (and what HTTP_PROXY and ALL_PROXY say). */
#define PROXY_ADDRESS "127.0.0.1"
#define PROXY_HTTP_PORT 3128
#define PROXY_SOCKS_PORT 1080

struct tlsca;

struct proxy_config {
	struct netpolicy policy;
	const char *dns_server; /* "IP[:PORT]", NULL: /etc/resolv.conf */
	const char *hosts_file; /* NULL: /etc/hosts */
	int audit_fd;		/* -1: none */
	bool is_quiet;		/* no stderr line per denial */
	unsigned connect_timeout_ms, idle_timeout_ms, peek_timeout_ms;
	/* The proxy's own confinement (proxy_harden.h), when the run's layers work: */
	int landlock_abi; /* 0: the run's Landlock layer is off (allowed degraded) */
	/* Credentials: TLS to their hosts is terminated with certificates of the run's CA. */
	struct proxy_credential credentials[PROXY_MAX_CREDENTIALS];
	size_t credential_count;
	int ca_fd;	     /* the CA's key and certificate (PEM), made by `stockade-tls ca` */
	int helper_fd;	     /* O_PATH of stockade-tls (net/proxy_wire.h), which the proxy is */
	struct tlsca *ca;    /* net/tlsca.h: read from ca_fd, in stockade-tls only */
	const char *ca_file; /* trust for the upstreams; NULL: the host's store */
};

struct proxy_handle {
	pid_t pid;
	int control_fd; /* parent's end: closing it stops the proxy */
	int stats_fd;	/* the proxy writes "allowed N denied N\n" there when it stops */
};

struct proxy_stats {
	uint64_t allowed, denied;
	int term_signal; /* the proxy was killed by this signal (0: it exited) */
	int exit_code;	 /* its exit status otherwise (0: it stopped when told to) */
};

/* Parent: forks the proxy process with the two listening sockets (closed in the parent
 * afterwards). Returns when the proxy is ready to serve, or -1 with err (it could not start:
 * the run must not go on). */
int proxy_spawn(const struct proxy_config *config, int http_fd, int socks_fd,
		struct proxy_handle *handle, struct sk_err *err);
/* The proxy process itself (proxy_spawn's child, or stockade-tls proxy): serves until
 * control_fd closes; writes "" or a struct sk_err to ready_fd first. Returns its exit status. */
int proxy_process(const struct proxy_config *config, int http_fd, int socks_fd, int control_fd,
		  int ready_fd, int stats_fd);
/* Parent: stops the proxy and collects its counts. */
void proxy_stop(struct proxy_handle *handle, struct proxy_stats *stats);

/* Child of the sandbox (PID 1, in the sandbox's network namespace, lo up): makes the two
 * listening sockets. Async-signal-safe. */
int proxy_listen(int fds[2], struct sk_err *err);

#endif
