/* IP addresses and networks: strict literal parsing, canonical text, CIDR networks. Pure
 * functions over caller buffers; every parser takes (buf, len) so that it can be fuzzed. */
#ifndef STOCKADE_NETADDR_H
#define STOCKADE_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "util/err.h"

#define NETADDR_TEXT_MAX 46 /* INET6_ADDRSTRLEN */

/* An IP address in network byte order. IPv4-mapped IPv6 (::ffff:a.b.c.d) never appears here:
 * the parsers turn it into the IPv4 address, so that one address has one spelling. */
struct netaddr {
	sa_family_t family; /* AF_INET or AF_INET6 */
	uint8_t bytes[16];  /* IPv4 uses the first 4 */
};

/* Strict IP literal: IPv4 as four decimal octets without leading zeros, or IPv6 text without
 * brackets or zone id. IPv4-mapped IPv6 becomes IPv4. Returns 0, or -1 (not an address). */
int netaddr_parse(const char *in, size_t len, struct netaddr *out);
/* Canonical text (inet_ntop form, IPv6 lower case and compressed) into buf >= 46 bytes. */
void netaddr_format(const struct netaddr *addr, char *buf, size_t size);
/* From a sockaddr_in/sockaddr_in6 (mapped addresses become IPv4); port in host order. */
int netaddr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct netaddr *out,
			  uint16_t *port);
bool netaddr_equal(const struct netaddr *a, const struct netaddr *b);

/* A port: 1-65535, decimal, no sign, no leading zero. Returns 0, or -1. */
int netaddr_parse_port(const char *in, size_t len, uint16_t *port);

/* IPv4-mapped IPv6 (::ffff:a.b.c.d) becomes that IPv4 address; anything else is left alone. */
void netaddr_unmap(struct netaddr *addr);

/* An IP network. IPv4-mapped IPv6 prefixes (::ffff:0:0/96 and longer) are stored as IPv4. */
struct cidr {
	struct netaddr addr; /* host bits are zero */
	unsigned prefix_len; /* 0..32 or 0..128 */
};
bool cidr_contains(const struct cidr *net, const struct netaddr *addr);

/* "ADDR/N": ADDR a strict IPv4 or unbracketed IPv6 literal (no zone id), N decimal without
 * leading zeros, <= 32 or <= 128. Host bits must be zero ("10.1.0.0/8" is refused, with the
 * network it probably meant in the message). "::ffff:a.b.c.d/N" (N >= 96) becomes IPv4. */
int cidr_parse(const char *text, size_t len, struct cidr *out, struct sk_err *err);

#endif
