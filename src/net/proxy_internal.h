/* The proxy's internals shared by proxy.c (the process, the loop, the connection life
 * cycle) and proxy_proto.c (what HTTP CONNECT, plain HTTP and SOCKS5 ask and are answered). */
#ifndef STOCKADE_PROXY_INTERNAL_H
#define STOCKADE_PROXY_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net/audit.h"
#include "net/dns.h"
#include "net/hostmatch.h"
#include "net/proxy.h"
#include "net/relay.h"
#include "net/socks5.h"

#define PROXY_HEAD_MAX 16384

enum watch_kind {
	WATCH_LISTEN_HTTP,
	WATCH_LISTEN_SOCKS,
	WATCH_CONTROL,
	WATCH_DNS,
	WATCH_CLIENT,
	WATCH_UPSTREAM
};

struct conn;

/* What an epoll event points at. */
struct watch {
	enum watch_kind kind;
	int fd;
	struct conn *conn;
};

enum conn_state {
	CONN_HEAD,	 /* reading the request (HTTP head, SOCKS greeting and request) */
	CONN_RESOLVING,	 /* waiting for the resolver */
	CONN_CONNECTING, /* non-blocking connect to one checked address */
	CONN_PEEK,	 /* tunnel to a name answered; reading the client's first message
			  * (tunnelpeek) before anything flows either way */
	CONN_RELAY,	 /* splicing both ways */
	CONN_TLS,	 /* a tunnel to a credential's host, terminated (proxy_tls.c) */
};

struct tlsconn;
struct proxy_tls;

struct proxy;

struct conn {
	struct proxy *proxy;
	struct conn *prev, *next;
	enum conn_state state;
	/* A connection is never freed where it is closed: the callers up the stack, an event
	 * already fetched in this epoll batch, or the resolver may still hold it. It is freed
	 * at the end of the loop's iteration once closed and no longer resolving. */
	bool is_closed;
	bool is_resolving;
	bool is_socks;
	bool is_forward;     /* plain HTTP: the rewritten request goes upstream first */
	struct socks5 socks; /* the SOCKS5 exchange (is_socks) */
	int client, upstream;
	struct watch client_watch, upstream_watch;
	unsigned client_events, upstream_events;
	/* Allocated, not zeroed, so a connection costs the pages it touches: what the client
	 * sent before the relay began (PROXY_HEAD_MAX), and for plain HTTP the request as
	 * forwarded. Freed once the relay has sent them on. */
	char *head;
	size_t head_len;
	char *upstream_head;
	size_t upstream_head_len;
	uint64_t body_len; /* plain HTTP: bytes of request body to forward after the head */
	/* Plain HTTP: the response head is read (resp) and rewritten (resp_out) before the rest
	 * is spliced to the client; both freed once sent on. */
	bool is_resp_head;  /* still reading it */
	bool has_resp_sent; /* something of the response was queued for the client */
	char *resp, *resp_out;
	size_t resp_len, resp_off, resp_out_len;
	const char *proto;   /* "http-connect", "http", "socks5" */
	bool is_raw;	     /* the allow rule says /raw: a tunnel carries anything */
	const char *carries; /* what was let through (audit_event.carries), NULL: nothing */
	struct nethost host;
	uint16_t port;
	struct sockaddr_storage addrs[DNS_MAX_ADDRS];
	int addr_count, addr_next;
	char addr_text[NETADDR_TEXT_MAX];
	const char *rule_text;
	const char *reason;
	const char *allow_reason; /* an allowed connection's audit reason, NULL: none */
	/* A tunnel to a host of this credential is terminated (CONN_TLS, proxy_tls.c). */
	const struct proxy_credential *credential;
	struct tlsconn *tls;
	/* A request refused for carrying this credential's placeholder (the audit names it). */
	const struct proxy_credential *placeholder_seen;
	struct relay_dir up, down; /* client->upstream, upstream->client */
	bool has_relay;
	uint64_t start_ms, deadline_ms;
};

struct proxy {
	const struct proxy_config *config;
	int epoll_fd;
	struct dns *dns;
	struct audit audit;
	struct conn *conns;
	unsigned conn_count;
	bool has_dns_failed;   /* a resolver socket could not be watched: fail the queries */
	struct proxy_tls *tls; /* the credentials' TLS contexts and values; NULL without any */
};

uint64_t proxy_now_ms(void);

/* proxy.c: the life cycle, for proxy_proto.c. */
/* The request names host:port (parsed, canonical): check the name, resolve, connect. */
void conn_request(struct conn *c);
/* Ends the connection; writes the audit record of an allowed one. */
void conn_close(struct conn *c);
/* Refuses: the protocol's denial goes to the client (proto_deny), the audit log records it. */
void conn_deny(struct conn *c, const char *reason);
/* Starts the relay (after the protocol's answer and the peek). */
void conn_start_relay(struct conn *c);
/* Reads what the client sent into c->head; -1 when it closed or failed. */
int conn_read_head(struct conn *c);
/* Sets both sockets' epoll interest for the connection's state. */
void conn_update_events(struct conn *c);
/* Sends a short answer to the client; -1 on failure. */
int conn_send(struct conn *c, const void *data, size_t len);

/* Refuses a request that carries a credential's placeholder in buf[0, len) (the head it
 * sent): 1 when refused (answered, audited, closed), 0 when it carries none. */
int conn_refuse_placeholder(struct conn *c, const char *buf, size_t len);

/* proxy.c: the loop, until control_fd closes (0) or epoll fails (-1); c-ares' socket
 * callback (dns_init's watch). */
int proxy_loop(struct proxy *p, int http_fd, int socks_fd, int control_fd);
void proxy_on_dns_watch(void *loop, int fd, int want_read, int want_write);

/* proxy_tls.c: credentials. Before the proxy confines itself: reads the values (closing their
 * memfds), loads the upstreams' trust store, makes a certificate and context per host; -1
 * with err. *out stays NULL without credentials. */
int proxy_tls_init(struct proxy_tls **out, const struct proxy_config *config, struct sk_err *err);
void proxy_tls_free(struct proxy_tls *tls);
/* After the tunnel to c->credential's host was answered: TLS with the client as that host,
 * then its request, the value put in, TLS to the host, the response back (CONN_TLS). */
int tlsconn_start(struct conn *c);
/* An event on either socket during CONN_TLS. */
void tlsconn_on_event(struct conn *c);
/* The epoll interest of both sockets during CONN_TLS. */
void tlsconn_events(const struct conn *c, unsigned *client, unsigned *upstream);
/* For the audit record: method, path, status (0: none), and whether the value was put in. */
void tlsconn_audit(const struct conn *c, struct audit_event *e);
/* Whether the request went to the host (an allowed connection's record is then written). */
bool tlsconn_was_sent(const struct conn *c);
void tlsconn_free(struct conn *c);

/* proxy_proto.c: the protocols. Each returns 0 (go on, or wait for more) or -1 (closed). */
int proto_head(struct conn *c);			 /* new bytes in c->head during CONN_HEAD */
int proto_connected(struct conn *c);		 /* the upstream connection succeeded */
int proto_peek(struct conn *c, bool is_timeout); /* new bytes (or the deadline) during PEEK */
void proto_deny(struct conn *c, int status);	 /* status: 403 not allowed, 502 unreachable */
int proto_response(struct conn *c); /* plain HTTP: upstream readable while is_resp_head */

#endif
