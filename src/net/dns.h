/* Name resolution for the egress proxy: the proxy resolves every name itself (the sandbox has
 * no resolver), from a hosts file first, then DNS through c-ares inside the proxy's event
 * loop. IP literals never come here: the policy handles them without resolution. */
#ifndef STOCKADE_DNS_H
#define STOCKADE_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "util/err.h"

#define DNS_MAX_ADDRS 16
/* c-ares may hold at most this many sockets at once (the proxy has one watch slot each); a
 * query that would need another fails ("unresolvable") instead of waiting unwatched. */
#define DNS_MAX_SOCKETS 64

struct dns;

/* The answer to one query: status 0 with count >= 1 addresses, or status -1 with a reason. */
struct dns_answer {
	int status;
	const char *reason; /* static text when status is -1 */
	struct sockaddr_storage addrs[DNS_MAX_ADDRS];
	int count;
};

typedef void (*dns_callback)(void *arg, const struct dns_answer *answer);

/* Registers c-ares' sockets with the caller's epoll instance through this callback; the
 * caller calls dns_process(dns, fd, events) when one is ready. */
typedef void (*dns_watch)(void *loop, int fd, int want_read, int want_write);

/* server: "IP" or "IP:PORT" (NULL: /etc/resolv.conf); hosts_file: NULL for /etc/hosts. */
int dns_init(struct dns **out, const char *server, const char *hosts_file, dns_watch watch,
	     void *loop, struct sk_err *err);
void dns_free(struct dns *dns);
/* The TCP ports of the configured name servers (c-ares falls back to TCP for a truncated
 * answer), one per server; at most max. For the proxy's Landlock rules. */
size_t dns_tcp_ports(struct dns *dns, uint16_t *ports, size_t max);

/* Resolves `name` (canonical: lower case, no trailing dot); cb runs exactly once, possibly
 * before dns_resolve returns (hosts file), never after dns_free. */
void dns_resolve(struct dns *dns, const char *name, dns_callback cb, void *arg);

/* The event loop's hooks: a ready c-ares socket (fd, EPOLLIN/EPOLLOUT bits), and the time
 * until c-ares next needs dns_process(dns, -1, 0) for its timeouts (-1: none pending). */
void dns_process(struct dns *dns, int fd, unsigned events);
/* Fails every pending query (their callbacks run now): for when the loop lost a socket. Not
 * from inside a dns_watch callback. */
void dns_cancel_all(struct dns *dns);
int dns_timeout_ms(struct dns *dns);

/* Parses hosts-file text into lookups (exposed for tests): returns the addresses of `name`
 * found in `text`, 0 if none. */
int dns_hosts_lookup(const char *text, const char *name, struct sockaddr_storage *addrs, int max);

#endif
