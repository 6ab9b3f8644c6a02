/* The egress proxy's epoll loop and each connection's life (how the process starts, confines
 * itself and stops: proxy_process.c): request -> policy on the name -> resolve -> policy on every
 * address -> connect to exactly a checked address -> answer -> (a tunnel to a name: read its first
 * message) -> splice both ways -> audit. The protocols themselves are in proxy_proto.c. */
#define _GNU_SOURCE
#include "net/proxy.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "net/addrpolicy.h"
#include "net/credinject.h"
#include "net/proxy_internal.h"
#include "util/clock.h"
#include "util/macros.h"

#define MAX_EVENTS 128
#define MAX_CONNS 4096

uint64_t proxy_now_ms(void)
{
	return (uint64_t)clock_now_ms();
}

/* ---- the loop's registrations ---- */

/* Returns 0, or -1 when epoll refused (ENOMEM, or ENOSPC past fs.epoll.max_user_watches):
 * the caller must then give up the fd, or it would never be served. */
static int watch_set(struct proxy *p, struct watch *w, unsigned events, unsigned *current)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};
	int rc;

	if (*current == events)
		return 0;
	if (*current == 0 && events)
		rc = epoll_ctl(p->epoll_fd, EPOLL_CTL_ADD, w->fd, &ev);
	else if (events == 0)
		rc = epoll_ctl(p->epoll_fd, EPOLL_CTL_DEL, w->fd, NULL);
	else
		rc = epoll_ctl(p->epoll_fd, EPOLL_CTL_MOD, w->fd, &ev);
	if (rc < 0)
		return -1;
	*current = events;
	return 0;
}

/* The resolver's sockets: one watch each, made and dropped as c-ares asks. */
struct dns_watch_slot {
	struct watch watch;
	unsigned events;
};
static struct dns_watch_slot dns_slots[DNS_MAX_SOCKETS];

void proxy_on_dns_watch(void *loop, int fd, int want_read, int want_write)
{
	struct proxy *p = loop;
	struct dns_watch_slot *slot = NULL;

	/* The fd's own slot if it has one, else the first free one (for a new socket). */
	for (size_t i = 0; i < sizeof(dns_slots) / sizeof(dns_slots[0]); i++) {
		bool is_its_own = dns_slots[i].events && dns_slots[i].watch.fd == fd;
		bool is_free = !slot && !dns_slots[i].events && (want_read || want_write);
		if (is_its_own || is_free)
			slot = &dns_slots[i];
	}
	/* dns.c lets c-ares open at most DNS_MAX_SOCKETS, so a slot is always there; a socket
	 * epoll will not watch would leave its query hanging: the loop fails them all. */
	if (!slot) {
		p->has_dns_failed = true;
		return;
	}
	slot->watch.kind = WATCH_DNS;
	slot->watch.fd = fd;
	if (watch_set(p, &slot->watch, (want_read ? EPOLLIN : 0) | (want_write ? EPOLLOUT : 0),
		      &slot->events) < 0)
		p->has_dns_failed = true;
}

/* ---- connections ---- */

void conn_update_events(struct conn *c)
{
	struct proxy *p = c->proxy;
	unsigned client = 0, upstream = 0;

	switch (c->state) {
	case CONN_HEAD:
	case CONN_PEEK:
		client = EPOLLIN;
		break;
	case CONN_CONNECTING:
		upstream = EPOLLOUT;
		break;
	case CONN_RELAY:
		client = (relay_wants_read(&c->up) ? EPOLLIN : 0) |
			 (relay_wants_write(&c->down) ? EPOLLOUT : 0);
		upstream = (relay_wants_read(&c->down) ? EPOLLIN : 0) |
			   (relay_wants_write(&c->up) ? EPOLLOUT : 0);
		break;
	case CONN_TLS:
		tlsconn_events(c, &client, &upstream);
		break;
	default:
		break;
	}
	if ((c->client >= 0 && watch_set(p, &c->client_watch, client, &c->client_events) < 0) ||
	    (c->upstream >= 0 &&
	     watch_set(p, &c->upstream_watch, upstream, &c->upstream_events) < 0)) {
		c->reason = "the proxy cannot watch more sockets (epoll_ctl)";
		conn_close(c); /* never left unwatched: it would hang, neither served nor ended */
	}
}

static void conn_free(struct proxy *p, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		p->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	p->conn_count--;
	tlsconn_free(c);
	free(c->head);
	free(c->upstream_head);
	free(c->resp);
	free(c->resp_out);
	free(c);
}

/* One audit record for the connection as it stands. */
static void conn_audit(struct conn *c, bool is_allowed, const char *reason)
{
	struct audit_event e = {
	    .is_allowed = is_allowed,
	    .proto = c->proto,
	    .host = c->host.text,
	    .port = c->port,
	    .addr = c->addr_text,
	    .rule = c->rule_text ? c->rule_text : "",
	    .reason = reason,
	    .carries = is_allowed && c->carries ? c->carries : "",
	    .bytes_up = c->has_relay ? c->up.bytes : 0,
	    .bytes_down = c->has_relay ? c->down.bytes : 0,
	    .duration_ms = proxy_now_ms() - c->start_ms,
	    .credential = c->placeholder_seen ? c->placeholder_seen->name : NULL,
	};

	tlsconn_audit(c, &e);
	audit_write(&c->proxy->audit, &e);
}

void conn_close(struct conn *c)
{
	if (c->is_closed)
		return;
	c->is_closed = true;
	if (tlsconn_was_sent(c))
		conn_audit(c, true, c->allow_reason ? c->allow_reason : "");
	if (c->has_relay) {
		conn_audit(c, true, c->allow_reason ? c->allow_reason : "");
		relay_close(&c->up);
		relay_close(&c->down);
	}
	/* Closing an fd removes it from epoll. */
	if (c->client >= 0)
		close(c->client);
	if (c->upstream >= 0)
		close(c->upstream);
	c->client = c->upstream = -1;
}

/* Frees the connections closed during this iteration that nothing holds any more. */
static void reap_closed(struct proxy *p)
{
	struct conn *next;

	for (struct conn *c = p->conns; c; c = next) {
		next = c->next;
		if (c->is_closed && !c->is_resolving)
			conn_free(p, c);
	}
}

/* Ends a refused connection: its audit record, the protocol's answer (403: the policy said
 * no; 502: allowed, but unresolvable or unreachable), the close. */
static void conn_refuse(struct conn *c, int status, const char *reason)
{
	c->reason = reason;
	conn_audit(c, false, reason);
	proto_deny(c, status);
	conn_close(c);
}

void conn_deny(struct conn *c, const char *reason)
{
	conn_refuse(c, 403, reason);
}

int conn_refuse_placeholder(struct conn *c, const char *buf, size_t len)
{
	const struct proxy_credential *found = credinject_find_placeholder(
	    c->proxy->config->credentials, c->proxy->config->credential_count, buf, len);

	if (!found)
		return 0;
	/* The placeholder is useless anywhere but where the proxy puts the value in, so a
	 * request carrying it elsewhere is the workload sending a credential where it does not
	 * go: refused, and recorded with the credential's name. */
	c->placeholder_seen = found;
	conn_deny(c, "the request carries a credential's placeholder, which goes only to that "
		     "credential's hosts over TLS");
	return 1;
}

int conn_send(struct conn *c, const void *data, size_t len)
{
	ssize_t n = send(c->client, data, len, MSG_NOSIGNAL);

	return n == (ssize_t)len ? 0 : -1;
}

int conn_read_head(struct conn *c)
{
	ssize_t n;

	if (c->head_len >= PROXY_HEAD_MAX)
		return -1;
	n = recv(c->client, c->head + c->head_len, PROXY_HEAD_MAX - c->head_len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return -1;
	c->head_len += (size_t)n;
	return 1;
}

static socklen_t sockaddr_len(const struct sockaddr_storage *sa)
{
	return sa->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

/* Tries the next allowed address; denies when none is left. */
static void conn_connect_next(struct conn *c)
{
	const struct proxy_config *cfg = c->proxy->config;

	if (c->upstream >= 0) {
		close(c->upstream);
		c->upstream = -1;
		c->upstream_events = 0;
	}
	while (c->addr_next < c->addr_count) {
		struct sockaddr_storage *sa = &c->addrs[c->addr_next++];
		socklen_t len = sockaddr_len(sa);
		struct netaddr na;
		uint16_t ignored;

		if (netaddr_from_sockaddr((struct sockaddr *)sa, len, &na, &ignored) == 0)
			netaddr_format(&na, c->addr_text, sizeof(c->addr_text));
		c->upstream = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (c->upstream < 0)
			continue;
		if (connect(c->upstream, (struct sockaddr *)sa, len) == 0 || errno == EINPROGRESS) {
			c->upstream_watch = (struct watch){WATCH_UPSTREAM, c->upstream, c};
			c->state = CONN_CONNECTING;
			c->deadline_ms = proxy_now_ms() + cfg->connect_timeout_ms;
			conn_update_events(c);
			return;
		}
		close(c->upstream);
		c->upstream = -1;
	}
	/* Allowed, but unreachable: not a policy denial; answered as such. */
	conn_refuse(c, 502, "unreachable");
}

/* Keeps only the addresses the policy allows, then connects; the first refusal's reason is
 * what the client and the audit log are told when none is left. */
static void conn_check_addresses(struct conn *c, const struct sockaddr_storage *addrs, int count)
{
	const char *first_reason = NULL;

	c->addr_count = c->addr_next = 0;
	for (int i = 0; i < count; i++) {
		socklen_t len = sockaddr_len(&addrs[i]);
		struct sockaddr_storage sa = addrs[i];
		const char *reason = NULL;
		struct netaddr na;
		uint16_t ignored;

		((struct sockaddr_in *)&sa)->sin_port = htons(c->port); /* same offset in v6 */
		if (addrpolicy_check(&c->proxy->config->policy, (struct sockaddr *)&sa, len,
				     &reason) == ADDRPOLICY_ALLOWED) {
			c->addrs[c->addr_count++] = sa;
			continue;
		}
		if (!first_reason &&
		    netaddr_from_sockaddr((struct sockaddr *)&sa, len, &na, &ignored) == 0) {
			netaddr_format(&na, c->addr_text, sizeof(c->addr_text));
			first_reason = reason;
		}
	}
	if (c->addr_count == 0) {
		conn_deny(c, first_reason ? first_reason : "no address");
		return;
	}
	conn_connect_next(c);
}

static void on_resolved(void *arg, const struct dns_answer *answer)
{
	struct conn *c = arg;

	c->is_resolving = false;
	if (c->is_closed)
		return;
	if (answer->status < 0) {
		conn_refuse(c, 502, answer->reason);
		return;
	}
	conn_check_addresses(c, answer->addrs, answer->count);
}

/* host.stockade.internal, which an exact rule with its port allowed: no resolver is asked
 * (whatever a hosts file or DNS says of the name), the one address is the host's
 * 127.0.0.1 (addrpolicy_check_host_service), and the audit record says so. */
static void conn_connect_host_service(struct conn *c)
{
	struct sockaddr_in *in = (struct sockaddr_in *)&c->addrs[0];
	const char *reason = NULL;
	struct netaddr addr;
	enum addrverdict verdict =
	    addrpolicy_check_host_service(&c->proxy->config->policy, c->port, &addr, &reason);

	netaddr_format(&addr, c->addr_text, sizeof(c->addr_text));
	if (verdict != ADDRPOLICY_ALLOWED) {
		conn_deny(c, reason);
		return;
	}
	memset(&c->addrs[0], 0, sizeof(c->addrs[0]));
	in->sin_family = AF_INET;
	in->sin_port = htons(c->port);
	memcpy(&in->sin_addr, addr.bytes, 4);
	c->addr_count = 1;
	c->addr_next = 0;
	c->allow_reason = reason;
	conn_connect_next(c);
}

void conn_request(struct conn *c)
{
	const struct netrule *rule = NULL;
	enum netverdict verdict =
	    netpolicy_check_host(&c->proxy->config->policy, &c->host, c->port, &rule);

	c->rule_text = rule ? rule->text : "";
	c->is_raw = rule && rule->is_raw;
	/* A name is what a wildcard rule lets the workload choose: no placeholder in it. */
	if (conn_refuse_placeholder(c, c->host.text, strlen(c->host.text)))
		return;
	c->credential = c->host.is_ip ? NULL
				      : credinject_for_host(c->proxy->config->credentials,
							    c->proxy->config->credential_count,
							    c->host.text, c->port);
	if (verdict != NETVERDICT_ALLOW) {
		conn_deny(c, verdict == NETVERDICT_DENY_RULE ? "denied by rule"
							     : "no allow rule matches");
		return;
	}
	if (c->host.is_ip) {
		struct sockaddr_storage sa;
		memset(&sa, 0, sizeof(sa));
		if (c->host.ip.family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&sa;
			in->sin_family = AF_INET;
			memcpy(&in->sin_addr, c->host.ip.bytes, 4);
		} else {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sa;
			in6->sin6_family = AF_INET6;
			memcpy(&in6->sin6_addr, c->host.ip.bytes, 16);
		}
		conn_check_addresses(c, &sa, 1);
		return;
	}
	if (hostmatch_is_host_service(c->host.text)) {
		conn_connect_host_service(c);
		return;
	}
	c->state = CONN_RESOLVING;
	c->is_resolving = true;
	conn_update_events(c); /* nothing to read while resolving */
	dns_resolve(c->proxy->dns, c->host.text, on_resolved, c); /* may answer at once */
}

void conn_start_relay(struct conn *c)
{
	if (relay_open(&c->up, c->client, c->upstream) < 0 ||
	    relay_open(&c->down, c->upstream, c->client) < 0) {
		conn_close(c);
		return;
	}
	c->has_relay = true;
	if (c->is_forward && relay_push(&c->up, c->upstream_head, c->upstream_head_len) < 0) {
		conn_close(c);
		return;
	}
	if (c->is_forward) {
		/* The response head is read and rewritten before its body is spliced. */
		c->resp = malloc(PROXY_HEAD_MAX);
		c->resp_out = malloc(PROXY_HEAD_MAX + 64);
		c->is_resp_head = true;
		if (!c->resp || !c->resp_out) {
			conn_close(c);
			return;
		}
		/* One request per upstream connection, checked: exactly its body goes after the
		 * head, nothing the client pipelines behind it (another Host, unchecked). */
		uint64_t early = c->head_len < c->body_len ? c->head_len : c->body_len;
		c->head_len = (size_t)early;
		relay_read_at_most(&c->up, c->body_len - early);
	}
	if (c->head_len && relay_push(&c->up, c->head, c->head_len) < 0) {
		conn_close(c);
		return;
	}
	c->state = CONN_RELAY;
	c->deadline_ms = proxy_now_ms() + c->proxy->config->idle_timeout_ms;
	if (relay_pump(&c->up) < 0 || (!c->is_resp_head && relay_pump(&c->down) < 0)) {
		conn_close(c);
		return;
	}
	conn_update_events(c);
}

static void conn_on_connected(struct conn *c)
{
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	if (getsockopt(c->upstream, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr != 0) {
		conn_connect_next(c);
		return;
	}
	if (proto_connected(c) == 0 && !c->is_closed && c->state != CONN_RELAY)
		conn_update_events(c);
}

static void conn_on_relay(struct conn *c)
{
	if (c->is_resp_head && (relay_flush(&c->down) < 0 || proto_response(c) < 0)) {
		conn_close(c);
		return;
	}
	if (relay_pump(&c->up) < 0 || (!c->is_resp_head && relay_pump(&c->down) < 0) ||
	    (c->up.is_done && c->down.is_done)) {
		conn_close(c);
		return;
	}
	if (c->head && relay_pending_done(&c->up)) {
		free(c->head); /* sent on: a long-lived tunnel keeps no request buffer */
		free(c->upstream_head);
		c->head = c->upstream_head = NULL;
		c->head_len = c->upstream_head_len = 0;
	}
	if (c->resp && !c->is_resp_head && relay_pending_done(&c->down)) {
		free(c->resp);
		free(c->resp_out);
		c->resp = c->resp_out = NULL;
	}
	c->deadline_ms = proxy_now_ms() + c->proxy->config->idle_timeout_ms;
	conn_update_events(c);
}

static void conn_on_event(struct conn *c, enum watch_kind kind, unsigned events)
{
	if (c->is_closed)
		return; /* an event fetched in the same batch as the close */
	switch (c->state) {
	case CONN_HEAD:
		if (kind == WATCH_CLIENT && proto_head(c) == 0 && !c->is_closed &&
		    c->state == CONN_HEAD)
			conn_update_events(c);
		break;
	case CONN_CONNECTING:
		if (kind == WATCH_UPSTREAM && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			conn_on_connected(c);
		break;
	case CONN_PEEK:
		if (kind == WATCH_CLIENT)
			proto_peek(c, false);
		break;
	case CONN_RELAY:
		conn_on_relay(c);
		break;
	case CONN_TLS:
		tlsconn_on_event(c);
		break;
	default:
		break;
	}
}

/* The sandbox's side of a connection is loopback in the sandbox's own network namespace, a
 * link shared with no one: congestion control has nothing to share out there. The
 * namespace starts with the host's default, and BBR (a common default, this VM's among them)
 * paces every send with a timer: on the proxy's download direction that cost the proxy 10-20%
 * more CPU per GiB, and the transfer up to a tenth of its throughput (bench/README.md, "what
 * each change moved"). Reno paces nothing, is built into every kernel, any user may choose it.
 * The upstream socket keeps the host's choice: it crosses real networks. */
static void sandbox_side_unpaced(int fd)
{
	static const char reno[] = "reno";

	/* Only throughput rides on it: a refusal leaves the host's default, slower, never wrong. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, reno, sizeof(reno) - 1);
}

static void accept_all(struct proxy *p, int fd, bool is_socks)
{
	for (;;) {
		int client = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (client < 0)
			return;
		sandbox_side_unpaced(client);
		struct conn *c = p->conn_count < MAX_CONNS ? calloc(1, sizeof(*c)) : NULL;
		if (c && !(c->head = malloc(PROXY_HEAD_MAX))) {
			free(c);
			c = NULL;
		}
		if (!c) {
			close(client);
			continue;
		}
		c->proxy = p;
		c->client = client;
		c->upstream = -1;
		c->is_socks = is_socks;
		c->proto = is_socks ? "socks5" : "http";
		socks5_init(&c->socks);
		c->client_watch = (struct watch){WATCH_CLIENT, client, c};
		c->start_ms = proxy_now_ms();
		c->deadline_ms = c->start_ms + p->config->connect_timeout_ms;
		c->next = p->conns;
		if (p->conns)
			p->conns->prev = c;
		p->conns = c;
		p->conn_count++;
		conn_update_events(c);
	}
}

/* Every connection ends, with its audit record (the proxy is stopping). */
static void close_all(struct proxy *p)
{
	/* The analyzer cannot see that a list head has no prev (conn_free then moves
	 * p->conns), and takes the head for freed memory; conn_close frees nothing. */
	for (struct conn *c = p->conns; c; c = c->next)
		conn_close(c); // NOLINT(clang-analyzer-unix.Malloc)
	reap_closed(p);
}

/* Deadlines: the request and the connect get connect_timeout_ms, a relay idle_timeout_ms of
 * silence, the peek at a tunnel's first message peek_timeout_ms (then it is refused). */
static void sweep_deadlines(struct proxy *p)
{
	uint64_t now = proxy_now_ms();
	struct conn *next;

	for (struct conn *c = p->conns; c; c = next) {
		next = c->next;
		if (c->is_closed || c->state == CONN_RESOLVING || now < c->deadline_ms)
			continue;
		if (c->state == CONN_PEEK)
			proto_peek(c, true);
		else if (c->state == CONN_CONNECTING)
			conn_connect_next(c);
		else
			conn_close(c);
	}
}

int proxy_loop(struct proxy *p, int http_fd, int socks_fd, int control_fd)
{
	struct watch listen_http = {WATCH_LISTEN_HTTP, http_fd, NULL};
	struct watch listen_socks = {WATCH_LISTEN_SOCKS, socks_fd, NULL};
	struct watch control = {WATCH_CONTROL, control_fd, NULL};
	unsigned e1 = 0, e2 = 0, e3 = 0;
	struct epoll_event events[MAX_EVENTS];

	if (watch_set(p, &listen_http, EPOLLIN, &e1) < 0 ||
	    watch_set(p, &listen_socks, EPOLLIN, &e2) < 0 ||
	    watch_set(p, &control, EPOLLIN, &e3) < 0)
		return -1;
	for (;;) {
		int dns_ms = dns_timeout_ms(p->dns);
		int timeout = dns_ms >= 0 && dns_ms < 250 ? dns_ms : 250;
		int n = epoll_wait(p->epoll_fd, events, MAX_EVENTS, timeout);

		if (n < 0 && errno != EINTR)
			return -1;
		for (int i = 0; i < n; i++) {
			struct watch *w = events[i].data.ptr;
			switch (w->kind) {
			case WATCH_LISTEN_HTTP:
			case WATCH_LISTEN_SOCKS:
				accept_all(p, w->fd, w->kind == WATCH_LISTEN_SOCKS);
				break;
			case WATCH_CONTROL:
				close_all(p); /* the parent closed its end: the sandbox is gone */
				return 0;
			case WATCH_DNS:
				dns_process(p->dns, w->fd, events[i].events);
				break;
			default:
				conn_on_event(w->conn, w->kind, events[i].events);
				break;
			}
		}
		dns_process(p->dns, -1, 0);
		if (p->has_dns_failed) { /* outside c-ares' callbacks, where cancelling is safe */
			p->has_dns_failed = false;
			dns_cancel_all(p->dns);
		}
		sweep_deadlines(p);
		reap_closed(p);
	}
}
