/* SOCKS5 server side (RFC 1928): NO AUTH only (the listener is reachable only from inside the
 * sandbox), CONNECT only (no BIND, no UDP ASSOCIATE: no inbound and no UDP path), every
 * DOMAINNAME canonicalized like any other host before the policy sees it. */
#include "net/socks5.h"

#include <netinet/in.h>
#include <string.h>

#define SOCKS5_VERSION 5
#define METHOD_NO_AUTH 0x00
#define METHOD_NONE_ACCEPTABLE 0xff
#define CMD_CONNECT 1
#define ATYP_IPV4 1
#define ATYP_DOMAINNAME 3
#define ATYP_IPV6 4

void socks5_init(struct socks5 *s)
{
	memset(s, 0, sizeof(*s));
	s->state = SOCKS5_STATE_GREETING;
}

static enum socks5_event fail(struct socks5 *s, enum socks5_reply_code code, bool has_reply,
			      const char *reason, uint8_t *reply, size_t *reply_len)
{
	s->state = SOCKS5_STATE_FAILED;
	s->reason = reason;
	*reply_len = has_reply ? socks5_build_reply(code, NULL, 0, reply) : 0;
	return SOCKS5_FAIL;
}

/* VER NMETHODS METHODS... */
static enum socks5_event feed_greeting(struct socks5 *s, const uint8_t *p, size_t len,
				       size_t *consumed, uint8_t *reply, size_t *reply_len)
{
	size_t methods;

	if (len >= 1 && p[0] != SOCKS5_VERSION)
		return fail(s, 0, false, "not SOCKS version 5", reply, reply_len);
	if (len < 2)
		return SOCKS5_NEED_MORE;
	methods = p[1];
	if (len < 2 + methods)
		return SOCKS5_NEED_MORE;
	reply[0] = SOCKS5_VERSION;
	reply[1] = METHOD_NONE_ACCEPTABLE;
	*reply_len = 2;
	if (!memchr(p + 2, METHOD_NO_AUTH, methods)) {
		s->state = SOCKS5_STATE_FAILED;
		s->reason = "client does not offer the no-authentication method";
		return SOCKS5_FAIL;
	}
	reply[1] = METHOD_NO_AUTH;
	*consumed = 2 + methods;
	s->state = SOCKS5_STATE_REQUEST;
	return SOCKS5_REPLY;
}

/* The length of DST.ADDR for the request in p, 0 when it cannot be known yet. */
static size_t address_len(const uint8_t *p, size_t len)
{
	if (p[3] == ATYP_IPV4)
		return 4;
	if (p[3] == ATYP_IPV6)
		return 16;
	return len >= 5 ? 1 + (size_t)p[4] : 0;
}

static enum socks5_event set_address(struct socks5 *s, const uint8_t *addr, uint8_t *reply,
				     size_t *reply_len)
{
	struct sk_err err = {0};

	if (s->atyp == ATYP_DOMAINNAME) {
		if (addr[0] == 0)
			return fail(s, SOCKS5_GENERAL_FAILURE, true, "empty domain name", reply,
				    reply_len);
		if (hostmatch_parse_host((const char *)addr + 1, addr[0], &s->host, &err) < 0)
			return fail(s, SOCKS5_NOT_ALLOWED, true, "invalid host name", reply,
				    reply_len);
		return SOCKS5_REQUEST;
	}
	s->host.is_ip = true;
	s->host.ip.family = s->atyp == ATYP_IPV4 ? AF_INET : AF_INET6;
	memcpy(s->host.ip.bytes, addr, s->atyp == ATYP_IPV4 ? 4 : 16);
	if (s->atyp == ATYP_IPV6) { /* ::ffff:a.b.c.d is the IPv4 address: one spelling */
		struct sockaddr_in6 sa = {.sin6_family = AF_INET6};
		memcpy(&sa.sin6_addr, addr, 16);
		netaddr_from_sockaddr((const struct sockaddr *)&sa, sizeof(sa), &s->host.ip, NULL);
	}
	netaddr_format(&s->host.ip, s->host.text, sizeof(s->host.text));
	return SOCKS5_REQUEST;
}

/* VER CMD RSV ATYP DST.ADDR DST.PORT */
static enum socks5_event feed_request(struct socks5 *s, const uint8_t *p, size_t len,
				      size_t *consumed, uint8_t *reply, size_t *reply_len)
{
	size_t addr_len, total;

	if (len >= 1 && p[0] != SOCKS5_VERSION)
		return fail(s, SOCKS5_GENERAL_FAILURE, true, "not SOCKS version 5", reply,
			    reply_len);
	if (len >= 2 && p[1] != CMD_CONNECT)
		return fail(s, SOCKS5_COMMAND_NOT_SUPPORTED, true, "only CONNECT is supported",
			    reply, reply_len);
	if (len >= 3 && p[2] != 0)
		return fail(s, SOCKS5_GENERAL_FAILURE, true, "reserved byte is not zero", reply,
			    reply_len);
	if (len < 4)
		return SOCKS5_NEED_MORE;
	if (p[3] != ATYP_IPV4 && p[3] != ATYP_IPV6 && p[3] != ATYP_DOMAINNAME)
		return fail(s, SOCKS5_ATYP_NOT_SUPPORTED, true, "unknown address type", reply,
			    reply_len);
	addr_len = address_len(p, len);
	if (addr_len == 0)
		return SOCKS5_NEED_MORE;
	total = 4 + addr_len + 2;
	if (len < total)
		return SOCKS5_NEED_MORE;
	memset(&s->host, 0, sizeof(s->host));
	s->atyp = p[3];
	s->port = (uint16_t)(p[total - 2] << 8 | p[total - 1]);
	if (s->port == 0)
		return fail(s, SOCKS5_NOT_ALLOWED, true, "port 0", reply, reply_len);
	if (set_address(s, p + 4, reply, reply_len) != SOCKS5_REQUEST)
		return SOCKS5_FAIL;
	*consumed = total;
	s->state = SOCKS5_STATE_READY;
	return SOCKS5_REQUEST;
}

enum socks5_event socks5_feed(struct socks5 *s, const char *buf, size_t len, size_t *consumed,
			      uint8_t *reply, size_t *reply_len)
{
	const uint8_t *p = (const uint8_t *)buf;

	*consumed = 0;
	*reply_len = 0;
	switch (s->state) {
	case SOCKS5_STATE_GREETING:
		return feed_greeting(s, p, len, consumed, reply, reply_len);
	case SOCKS5_STATE_REQUEST:
		return feed_request(s, p, len, consumed, reply, reply_len);
	case SOCKS5_STATE_READY:
	case SOCKS5_STATE_FAILED:
		break;
	}
	s->state = SOCKS5_STATE_FAILED;
	s->reason = "negotiation already finished";
	return SOCKS5_FAIL;
}

size_t socks5_build_reply(enum socks5_reply_code code, const struct sockaddr *bound,
			  socklen_t bound_len, uint8_t out[SOCKS5_REPLY_MAX])
{
	struct netaddr addr = {.family = AF_INET};
	uint16_t port = 0;
	size_t addr_len;

	if (bound && netaddr_from_sockaddr(bound, bound_len, &addr, &port) < 0) {
		memset(&addr, 0, sizeof(addr));
		addr.family = AF_INET;
		port = 0;
	}
	addr_len = addr.family == AF_INET ? 4 : 16;
	out[0] = SOCKS5_VERSION;
	out[1] = (uint8_t)code;
	out[2] = 0;
	out[3] = addr.family == AF_INET ? ATYP_IPV4 : ATYP_IPV6;
	memcpy(out + 4, addr.bytes, addr_len);
	out[4 + addr_len] = (uint8_t)(port >> 8);
	out[5 + addr_len] = (uint8_t)(port & 0xff);
	return 6 + addr_len;
}
