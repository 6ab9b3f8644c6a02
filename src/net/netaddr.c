/* IP addresses and networks: strict literal parsing (one spelling per address: IPv4-mapped
 * IPv6 becomes IPv4), canonical text, and CIDR networks. Used by the name policy
 * (hostmatch.c), the address policy (addrpolicy.c) and the protocol parsers. */
#include "net/netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#define LAYER "netpolicy"

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

void netaddr_unmap(struct netaddr *addr)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (addr->family == AF_INET6 && memcmp(addr->bytes, mapped, 12) == 0) {
		memmove(addr->bytes, addr->bytes + 12, 4);
		memset(addr->bytes + 4, 0, 12);
		addr->family = AF_INET;
	}
}

/* Four decimal octets 0-255, no leading zeros, no sign, nothing else. */
static int parse_ipv4(const char *in, size_t len, uint8_t out[4])
{
	size_t i = 0;

	for (int octet = 0; octet < 4; octet++) {
		unsigned v = 0;
		size_t digits = 0;
		if (octet > 0) {
			if (i >= len || in[i] != '.')
				return -1;
			i++;
		}
		for (; i < len && is_digit(in[i]) && digits < 4; i++, digits++)
			v = v * 10 + (unsigned)(in[i] - '0');
		if (digits == 0 || digits > 3 || v > 255 || (digits > 1 && in[i - digits] == '0'))
			return -1;
		out[octet] = (uint8_t)v;
	}
	return i == len ? 0 : -1;
}

/* IPv6 text: hex digits, ':' and '.' only (so no zone id, no brackets, no spaces), given
 * to inet_pton, whose embedded IPv4 part already refuses leading zeros. */
static int parse_ipv6(const char *in, size_t len, uint8_t out[16])
{
	char text[NETADDR_TEXT_MAX];

	if (len == 0 || len >= sizeof(text))
		return -1;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		if (!is_hex(c) && !(c >= 'A' && c <= 'F') && c != ':' && c != '.')
			return -1;
	}
	memcpy(text, in, len);
	text[len] = '\0';
	return inet_pton(AF_INET6, text, out) == 1 ? 0 : -1;
}

int netaddr_parse(const char *in, size_t len, struct netaddr *out)
{
	memset(out, 0, sizeof(*out));
	if (memchr(in, ':', len)) {
		if (parse_ipv6(in, len, out->bytes) < 0)
			return -1;
		out->family = AF_INET6;
		netaddr_unmap(out);
		return 0;
	}
	if (parse_ipv4(in, len, out->bytes) < 0)
		return -1;
	out->family = AF_INET;
	return 0;
}

void netaddr_format(const struct netaddr *addr, char *buf, size_t size)
{
	if (size == 0)
		return;
	if (!inet_ntop(addr->family, addr->bytes, buf, (socklen_t)size))
		buf[0] = '\0';
}

int netaddr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct netaddr *out,
			  uint16_t *port)
{
	memset(out, 0, sizeof(*out));
	if (sa && sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
		out->family = AF_INET;
		memcpy(out->bytes, &in4->sin_addr, 4);
		if (port)
			*port = ntohs(in4->sin_port);
		return 0;
	}
	if (sa && sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		out->family = AF_INET6;
		memcpy(out->bytes, &in6->sin6_addr, 16);
		netaddr_unmap(out);
		if (port)
			*port = ntohs(in6->sin6_port);
		return 0;
	}
	return -1;
}

bool netaddr_equal(const struct netaddr *a, const struct netaddr *b)
{
	size_t n = a->family == AF_INET ? 4 : 16;

	return a->family == b->family && memcmp(a->bytes, b->bytes, n) == 0;
}

bool cidr_contains(const struct cidr *net, const struct netaddr *addr)
{
	unsigned full = net->prefix_len / 8, rest = net->prefix_len % 8;

	if (net->addr.family != addr->family)
		return false;
	if (memcmp(net->addr.bytes, addr->bytes, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (net->addr.bytes[full] & mask) == (addr->bytes[full] & mask);
}

static int cidr_fail(struct sk_err *err, const char *text, size_t len, const char *why)
{
	char shown[80];
	size_t n = 0;

	for (; n < len && n + 1 < sizeof(shown); n++)
		shown[n] = (text[n] >= 0x20 && text[n] < 0x7f) ? text[n] : '?';
	shown[n] = '\0';
	return sk_fail(err, LAYER, 0, NULL, "network \"%s\": %s", shown, why);
}

/* A decimal number in [0, max] (max < 100000): digits only, no sign, no leading zero. */
static int parse_decimal(const char *in, size_t len, unsigned max, unsigned *out)
{
	unsigned v = 0;

	if (len == 0 || len > 5 || (len > 1 && in[0] == '0'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(in[i]))
			return -1;
		v = v * 10 + (unsigned)(in[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

int netaddr_parse_port(const char *in, size_t len, uint16_t *port)
{
	unsigned v;

	if (parse_decimal(in, len, 65535, &v) < 0 || v == 0)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

static bool has_host_bits(const struct cidr *net)
{
	size_t size = net->addr.family == AF_INET ? 4 : 16;

	for (unsigned bit = net->prefix_len; bit < size * 8; bit++)
		if (net->addr.bytes[bit / 8] & (0x80 >> (bit % 8)))
			return true;
	return false;
}

static void clear_host_bits(struct cidr *net)
{
	for (unsigned bit = net->prefix_len; bit < 128; bit++)
		net->addr.bytes[bit / 8] &= (uint8_t) ~(0x80 >> (bit % 8));
}

int cidr_parse(const char *text, size_t len, struct cidr *out, struct sk_err *err)
{
	const char *slash = memchr(text, '/', len);
	bool is_v6_text;
	unsigned max;

	memset(out, 0, sizeof(*out));
	if (!slash)
		return cidr_fail(err, text, len, "expected ADDRESS/PREFIX-LENGTH");
	is_v6_text = memchr(text, ':', (size_t)(slash - text)) != NULL;
	if (netaddr_parse(text, (size_t)(slash - text), &out->addr) < 0)
		return cidr_fail(err, text, len, "not a valid IP address before '/'");
	max = is_v6_text ? 128 : 32;
	if (parse_decimal(slash + 1, len - (size_t)(slash + 1 - text), max, &out->prefix_len) < 0)
		return cidr_fail(err, text, len,
				 is_v6_text ? "the prefix length must be 0-128, no leading zeros"
					    : "the prefix length must be 0-32, no leading zeros");
	if (is_v6_text && out->addr.family == AF_INET) { /* ::ffff:a.b.c.d/N */
		if (out->prefix_len < 96)
			return cidr_fail(err, text, len, "host bits are set");
		out->prefix_len -= 96;
	}
	if (has_host_bits(out)) {
		struct cidr network = *out;
		char addr[NETADDR_TEXT_MAX], hint[96];
		clear_host_bits(&network);
		netaddr_format(&network.addr, addr, sizeof(addr));
		snprintf(hint, sizeof(hint), "host bits are set (the network is %s/%u)", addr,
			 network.prefix_len);
		return cidr_fail(err, text, len, hint);
	}
	return 0;
}
