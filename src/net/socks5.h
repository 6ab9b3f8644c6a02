/* The egress proxy's SOCKS5 server side (RFC 1928) as a state machine over a byte buffer:
 * greeting (NO AUTH only), then one CONNECT request (DOMAINNAME, IPv4, IPv6), and the reply
 * builder. No I/O: the caller feeds what it has read and writes what it is told to. */
#ifndef STOCKADE_SOCKS5_H
#define STOCKADE_SOCKS5_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net/hostmatch.h"

#define SOCKS5_REPLY_MAX 22 /* the longest reply: IPv6 bound address */

enum socks5_reply_code {
	SOCKS5_SUCCEEDED = 0x00,
	SOCKS5_GENERAL_FAILURE = 0x01,
	SOCKS5_NOT_ALLOWED = 0x02, /* connection not allowed by ruleset */
	SOCKS5_NETWORK_UNREACHABLE = 0x03,
	SOCKS5_HOST_UNREACHABLE = 0x04,
	SOCKS5_CONNECTION_REFUSED = 0x05,
	SOCKS5_TTL_EXPIRED = 0x06,
	SOCKS5_COMMAND_NOT_SUPPORTED = 0x07,
	SOCKS5_ATYP_NOT_SUPPORTED = 0x08,
};

enum socks5_state {
	SOCKS5_STATE_GREETING,
	SOCKS5_STATE_REQUEST,
	SOCKS5_STATE_READY, /* the request is parsed: the caller connects and replies */
	SOCKS5_STATE_FAILED,
};

enum socks5_event {
	SOCKS5_NEED_MORE, /* nothing consumed: read more, feed the whole buffer again */
	SOCKS5_REPLY,	  /* write reply, drop *consumed bytes, feed the rest again */
	SOCKS5_REQUEST,	  /* state READY: s->host/s->port hold the target; bytes after
			   * *consumed are early data for the tunnel */
	SOCKS5_FAIL,	  /* write reply if reply_len > 0, then close; s->reason says why */
};

struct socks5 {
	enum socks5_state state;
	uint8_t atyp;	     /* 1 IPv4, 3 DOMAINNAME, 4 IPv6 */
	struct nethost host; /* canonical; an IP in a DOMAINNAME becomes is_ip */
	uint16_t port;
	const char *reason; /* static text for the audit log, on FAIL */
};

void socks5_init(struct socks5 *s);

/* Advances the state machine over buf (the unconsumed bytes read so far). reply must have room
 * for SOCKS5_REPLY_MAX bytes; *reply_len is 0 when there is nothing to write. */
enum socks5_event socks5_feed(struct socks5 *s, const char *buf, size_t len, size_t *consumed,
			      uint8_t *reply, size_t *reply_len);

/* The reply to a request: code, and the bound address (the proxy's local address of the
 * upstream socket on success; NULL gives 0.0.0.0:0). Returns the length (10 or 22). */
size_t socks5_build_reply(enum socks5_reply_code code, const struct sockaddr *bound,
			  socklen_t bound_len, uint8_t out[SOCKS5_REPLY_MAX]);

#endif
