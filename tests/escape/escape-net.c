/* escape-net: network egress techniques (docs/THREATS.md "Network egress") that
 * tests/helpers/try-syscall has no probe for: TCP and UDP to servers the runner started on
 * the host (its loopback and its own address), a raw socket, the host's abstract and path
 * unix sockets. A connection that succeeds sends a marker the host server records. And,
 * through the egress proxy of an allowlist run, a tunnel to an allowed name that says
 * nothing past the proxy's peek time and then starts TLS for another name.
 *
 * Usage: escape-net KIND:LABEL=ARG ...  with KIND one of
 *   tcp=ADDR:PORT  tcp6=ADDR6,PORT  udp=ADDR:PORT  raw=-  unix_abstract=NAME  unix_path=PATH
 *   tunnel_connect=PROXY:PORT,HOST:PORT,SNI,WAIT_MS  tunnel_socks5=(the same)
 * Output: one line per probe (probe_common.h). Built -static: fed through stdin. */
#include "probe_common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MARKER "stockade-escape-net\n"

/* "1.2.3.4:80" or "::1,80" into a socket address; -1 if malformed. */
static int parse_addr(const char *text, int family, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[128];
	const char *sep = strrchr(text, family == AF_INET6 ? ',' : ':');

	if (!sep || (size_t)(sep - text) >= sizeof(host))
		return -1;
	memcpy(host, text, (size_t)(sep - text));
	host[sep - text] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)atoi(sep + 1));
		*len = sizeof(*a);
		return inet_pton(AF_INET6, host, &a->sin6_addr) == 1 ? 0 : -1;
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)atoi(sep + 1));
	*len = sizeof(*a);
	return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

/* Connects a stream socket and sends the marker. */
static void try_stream(const char *name, int family, const struct sockaddr *addr,
		       socklen_t len, const char *where)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		report(name, errno, "socket(%s)", where);
		return;
	}
	if (connect(fd, addr, len) < 0) {
		report(name, errno, "connect(%s)", where);
		close(fd);
		return;
	}
	ssize_t n = send(fd, MARKER, sizeof(MARKER) - 1, MSG_NOSIGNAL);
	close(fd);
	report(name, 0, "connected(%s),sent=%zd", where, n);
}

static void try_tcp(const char *name, const char *arg, int family)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (parse_addr(arg, family, &ss, &len) < 0) {
		report(name, EINVAL, "bad-address(%s)(runner-error)", arg);
		return;
	}
	try_stream(name, family, (struct sockaddr *)&ss, len, arg);
}

static void try_tcp4(const char *name, const char *arg)
{
	try_tcp(name, arg, AF_INET);
}

static void try_tcp6(const char *name, const char *arg)
{
	try_tcp(name, arg, AF_INET6);
}

/* A connected UDP socket: send, then wait up to 2 s for the server's echo. On a loopback
 * with nobody listening, the ICMP port-unreachable comes back as ECONNREFUSED. */
static void try_udp(const char *name, const char *arg)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char reply[64];
	int fd;

	if (parse_addr(arg, AF_INET, &ss, &len) < 0) {
		report(name, EINVAL, "bad-address(%s)(runner-error)", arg);
		return;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		report(name, errno, "socket(udp)");
		return;
	}
	if (connect(fd, (struct sockaddr *)&ss, len) < 0 ||
	    send(fd, MARKER, sizeof(MARKER) - 1, 0) < 0) {
		report(name, errno, "connect/send(udp,%s)", arg);
		close(fd);
		return;
	}
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int ready = poll(&p, 1, 2000);
	ssize_t n = ready > 0 ? recv(fd, reply, sizeof(reply), 0) : -1;
	int error = n < 0 ? (ready == 0 ? ETIMEDOUT : errno) : 0;

	close(fd);
	if (error)
		report(name, error, "sent-then-recv(udp,%s)", arg);
	else
		report(name, 0, "echo-received(udp,%s),bytes=%zd", arg, n);
}

/* ICMP raw socket: needs CAP_NET_RAW over the network namespace. */
static void try_raw(const char *name, const char *arg)
{
	int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);

	(void)arg;
	if (fd < 0) {
		report(name, errno, "socket(AF_INET,SOCK_RAW,ICMP)");
		return;
	}
	close(fd);
	report(name, 0, "socket(AF_INET,SOCK_RAW,ICMP)");
}

static void try_unix(const char *name, const char *arg, int is_abstract)
{
	struct sockaddr_un addr;
	size_t len = strlen(arg);

	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	if (len + 2 > sizeof(addr.sun_path)) {
		report(name, ENAMETOOLONG, "runner-error");
		return;
	}
	memcpy(addr.sun_path + (is_abstract ? 1 : 0), arg, len);
	try_stream(name, AF_UNIX, (struct sockaddr *)&addr,
		   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (is_abstract ? 1 : 0)),
		   is_abstract ? "abstract" : arg);
}

static void try_unix_abstract(const char *name, const char *arg)
{
	try_unix(name, arg, 1);
}

static void try_unix_path(const char *name, const char *arg)
{
	try_unix(name, arg, 0);
}

/* A TLS 1.2-shaped ClientHello, one record, whose server_name is sni. Returns its length. */
static size_t client_hello(unsigned char *out, const char *sni)
{
	size_t len = strlen(sni), n = 0;
	unsigned char body[400];

	/* version, random, no session id, one suite, null compression */
	body[n++] = 3, body[n++] = 3;
	memset(body + n, 0x42, 32), n += 32;
	body[n++] = 0;
	body[n++] = 0, body[n++] = 2, body[n++] = 0x13, body[n++] = 0x01;
	body[n++] = 1, body[n++] = 0;
	body[n++] = (unsigned char)((len + 9) >> 8), body[n++] = (unsigned char)(len + 9);
	body[n++] = 0, body[n++] = 0; /* server_name */
	body[n++] = (unsigned char)((len + 5) >> 8), body[n++] = (unsigned char)(len + 5);
	body[n++] = (unsigned char)((len + 3) >> 8), body[n++] = (unsigned char)(len + 3);
	body[n++] = 0; /* host_name */
	body[n++] = (unsigned char)(len >> 8), body[n++] = (unsigned char)len;
	memcpy(body + n, sni, len), n += len;
	out[0] = 0x16, out[1] = 3, out[2] = 1;
	out[3] = (unsigned char)((n + 4) >> 8), out[4] = (unsigned char)(n + 4);
	out[5] = 1, out[6] = 0, out[7] = (unsigned char)(n >> 8), out[8] = (unsigned char)n;
	memcpy(out + 9, body, n);
	return n + 9;
}

/* Reads at least `min` bytes (or up to a CRLFCRLF when min is 0) within 5 s; the count. */
static ssize_t read_answer(int fd, char *buf, size_t size, size_t min)
{
	size_t n = 0;

	while (n < size - 1) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 5000) <= 0)
			break;
		ssize_t got = recv(fd, buf + n, size - 1 - n, 0);
		if (got <= 0)
			break;
		n += (size_t)got;
		buf[n] = '\0';
		if ((min && n >= min) || (!min && strstr(buf, "\r\n\r\n")))
			break;
	}
	buf[n] = '\0';
	return (ssize_t)n;
}

/* Opens the tunnel to target ("HOST:PORT") on a connected socket; 0, or -1 when the proxy
 * did not open it (then the technique could not even be tried). */
static int open_tunnel(int fd, const char *target, int is_socks)
{
	char buf[600];
	const char *colon = strrchr(target, ':');
	size_t host_len = colon ? (size_t)(colon - target) : 0;

	if (!is_socks) {
		int n = snprintf(buf, sizeof(buf), "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n",
				 target, target);
		if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n ||
		    read_answer(fd, buf, sizeof(buf), 0) < 12)
			return -1;
		return strncmp(buf, "HTTP/1.1 200", 12) == 0 ? 0 : -1;
	}
	if (!colon || host_len > 255 || send(fd, "\x05\x01\x00", 3, MSG_NOSIGNAL) != 3 ||
	    read_answer(fd, buf, sizeof(buf), 2) != 2 || buf[0] != 5 || buf[1] != 0)
		return -1;
	unsigned port = (unsigned)atoi(colon + 1);
	unsigned char req[300] = {5, 1, 0, 3, (unsigned char)host_len};
	memcpy(req + 5, target, host_len);
	req[5 + host_len] = (unsigned char)(port >> 8), req[6 + host_len] = (unsigned char)port;
	if (send(fd, req, host_len + 7, MSG_NOSIGNAL) != (ssize_t)(host_len + 7) ||
	    read_answer(fd, buf, sizeof(buf), 10) < 10 || buf[1] != 0)
		return -1;
	return 0;
}

/* The silent-then-other-SNI technique: ARG is PROXY:PORT,TARGET_HOST:PORT,SNI,WAIT_MS. An
 * answer from the server is the escape (it read a name the policy never checked); the
 * proxy closing the tunnel is the defence (ECONNRESET, or EPIPE when the send fails). */
static void try_tunnel(const char *name, const char *arg, int is_socks)
{
	char proxy[64], target[300], sni[256], answer[128];
	unsigned char hello[600];
	unsigned wait_ms = 0;
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	if (sscanf(arg, "%63[^,],%299[^,],%255[^,],%u", proxy, target, sni, &wait_ms) != 4 ||
	    parse_addr(proxy, AF_INET, &ss, &len) < 0) {
		report(name, EINVAL, "bad-argument(%s)(runner-error)", arg);
		return;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) < 0) {
		report(name, errno, "connect(%s)", proxy);
		if (fd >= 0)
			close(fd);
		return;
	}
	if (open_tunnel(fd, target, is_socks) < 0) {
		report(name, EPROTO, "the-proxy-did-not-open-the-tunnel(%s)", target);
		close(fd);
		return;
	}
	struct timespec pause = {wait_ms / 1000, (long)(wait_ms % 1000) * 1000000L};
	nanosleep(&pause, NULL);
	size_t n = client_hello(hello, sni);
	if (send(fd, hello, n, MSG_NOSIGNAL) != (ssize_t)n) {
		report(name, errno, "send(ClientHello,sni=%s)-after-%ums-silent", sni, wait_ms);
		close(fd);
		return;
	}
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int ready = poll(&p, 1, 3000);
	ssize_t got = ready > 0 ? recv(fd, answer, sizeof(answer) - 1, 0) : -1;
	int error = got < 0 ? (ready == 0 ? ETIMEDOUT : errno) : 0;
	close(fd);
	if (got > 0) {
		answer[got] = '\0';
		report(name, 0, "the-server-answered-for-sni=%s:%s", sni, answer);
	} else if (got == 0) {
		report(name, ECONNRESET, "closed-by-the-proxy(eof)-after-%ums-silent", wait_ms);
	} else {
		report(name, error, "after-%ums-silent,sni=%s", wait_ms, sni);
	}
}

static void try_tunnel_connect(const char *name, const char *arg)
{
	try_tunnel(name, arg, 0);
}

static void try_tunnel_socks5(const char *name, const char *arg)
{
	try_tunnel(name, arg, 1);
}

int main(int argc, char **argv)
{
	static const struct probe_kind kinds[] = {
	    {"tcp", try_tcp4},
	    {"tcp6", try_tcp6},
	    {"udp", try_udp},
	    {"raw", try_raw},
	    {"unix_abstract", try_unix_abstract},
	    {"unix_path", try_unix_path},
	    {"tunnel_connect", try_tunnel_connect},
	    {"tunnel_socks5", try_tunnel_socks5},
	};

	return probe_dispatch(kinds, sizeof(kinds) / sizeof(kinds[0]), argc, argv, "escape-net");
}
