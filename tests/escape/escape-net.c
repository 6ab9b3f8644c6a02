/* escape-net: network egress techniques (docs/THREATS.md "Network egress") that
 * tests/helpers/try-syscall has no probe for: TCP and UDP to servers the runner started on
 * the host (its loopback and its own address), a raw socket, the host's abstract and path
 * unix sockets. A connection that succeeds sends a marker the host server records.
 *
 * Usage: escape-net KIND:LABEL=ARG ...  with KIND one of
 *   tcp=ADDR:PORT  tcp6=ADDR6,PORT  udp=ADDR:PORT  raw=-  unix_abstract=NAME  unix_path=PATH
 * Output: one line per probe (probe_common.h). Built -static: fed through stdin. */
#include "probe_common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
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

int main(int argc, char **argv)
{
	static const struct probe_kind kinds[] = {
	    {"tcp", try_tcp4}, {"tcp6", try_tcp6}, {"udp", try_udp}, {"raw", try_raw},
	    {"unix_abstract", try_unix_abstract}, {"unix_path", try_unix_path},
	};

	return probe_dispatch(kinds, sizeof(kinds) / sizeof(kinds[0]), argc, argv, "escape-net");
}
