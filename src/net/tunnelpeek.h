/* What a tunnel (HTTP CONNECT or SOCKS5) to a named host may carry: its client's first message
 * must be positively identified before a byte of it reaches the server — a TLS ClientHello
 * whose SNI is the tunnel's host, or an HTTP/1.x request (by the request-line grammar, after
 * optional empty lines) whose Host is. Everything else is refused: another name, no name,
 * another protocol, and a client that says nothing before the deadline. A pure function of
 * the bytes, so it can be tested case by case and fuzzed. */
#ifndef STOCKADE_TUNNELPEEK_H
#define STOCKADE_TUNNELPEEK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/hostmatch.h"
#include "net/httpreq.h"

enum tunnelpeek_verdict {
	TUNNELPEEK_NEED_MORE, /* no verdict yet (never when is_final) */
	TUNNELPEEK_TLS,	      /* a whole ClientHello whose SNI is the tunnel's host */
	TUNNELPEEK_HTTP,      /* a whole request head whose Host is the tunnel's host and port */
	TUNNELPEEK_REFUSE,    /* anything else: reason (and http_status) say why */
};

struct tunnelpeek {
	const char *reason; /* REFUSE: a short static sentence for the audit log */
	int http_status;    /* REFUSE of what was an HTTP request: answer it with this; else 0 */
	size_t skip;	    /* HTTP: the empty lines (CRLFs) before the request line */
	struct httpreq req; /* HTTP: the request, parsed from buf + skip (offsets from there) */
};

/* The verdict on the first bytes a client sent into a tunnel to host:port (a name, not an
 * address: an address has no name to check). is_final: no more bytes will be waited for
 * (the peek's deadline passed or its buffer is full), so what is still incomplete — nothing
 * at all included — is refused. */
enum tunnelpeek_verdict tunnelpeek_classify(const char *buf, size_t len, const struct nethost *host,
					    uint16_t port, bool is_final, struct tunnelpeek *out);

#endif
