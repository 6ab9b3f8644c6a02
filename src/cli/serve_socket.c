/* `stockade serve`'s ways in and who may use them. The unix socket: 0660 from birth (umask,
 * never a later chmod), in a directory of the daemon's own that nobody else can write, every
 * connection's peer checked with SO_PEERCRED against the allowed uids and gids. TCP
 * (--listen): loopback only, every request with the bearer token of --token-file, compared in
 * constant time. */
#define _GNU_SOURCE
#include "cli/serve_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/err.h"
#include "util/parse.h"

/* ---- the socket ---- */

/* The socket's directory: made 0755 when missing; then it must be a directory (no link) of
 * ours that nobody else can write, so nobody else can replace the socket. */
static int socket_dir(const char *path, struct sk_err *err)
{
	char copy[PATH_MAX];
	struct stat st;
	const char *dir;

	sk_strlcpy(copy, path, sizeof(copy));
	dir = dirname(copy);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return sk_fail(err, "serve", errno, NULL, "mkdir %.200s", dir);
	if (lstat(dir, &st) < 0)
		return sk_fail(err, "serve", errno, NULL, "stat %.200s", dir);
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
		return sk_fail(err, "serve", EPERM,
			       "the socket's directory must be the daemon's own, writable by it "
			       "alone",
			       "refusing socket directory %.200s", dir);
	return 0;
}

int serve_socket_listen(struct serve *s, struct sk_err *err)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd, rc;
	mode_t old;

	if (socket_dir(s->socket_path, err) < 0)
		return -1;
	sk_strlcpy(addr.sun_path, s->socket_path, sizeof(addr.sun_path));
	/* A socket left by a daemon that died is replaced; a live one is not. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
		close(fd);
		return sk_fail(err, "serve", EADDRINUSE, "stop it first, or give another --socket",
			       "a stockade serve already listens on %.200s", s->socket_path);
	}
	if (fd >= 0)
		close(fd);
	struct stat st;
	if (lstat(s->socket_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return sk_fail(err, "serve", EEXIST, "remove it, or give another --socket",
				       "%.200s exists and is not a socket", s->socket_path);
		(void)unlink(s->socket_path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return sk_fail(err, "serve", errno, NULL, "socket");
	/* 0660 from the moment it exists: the umask, not a chmod after bind. */
	old = umask(0117);
	rc = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old);
	if (rc < 0 || listen(fd, 128) < 0) {
		rc = errno;
		close(fd);
		return sk_fail(err, "serve", rc, NULL, "bind %.200s", s->socket_path);
	}
	s->listen_fd = fd;
	return 0;
}

/* ---- TCP on loopback (--listen, --token-file) ---- */

/* The token: a regular file of ours that nobody else can read, one line of 16 to 255
 * printable characters. */
static int read_token(struct serve *s, struct sk_err *err)
{
	int fd = open(s->token_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	ssize_t n;

	if (fd < 0)
		return sk_fail(err, "serve", errno, NULL, "open --token-file %.200s",
			       s->token_path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077)) {
		close(fd);
		return sk_fail(err, "serve", EPERM, "chmod 600 it; it must be the daemon's own",
			       "--token-file %.200s is readable by others or not ours",
			       s->token_path);
	}
	n = read(fd, s->token, sizeof(s->token) - 1);
	close(fd);
	if (n < 0)
		return sk_fail(err, "serve", errno, NULL, "read --token-file");
	while (n > 0 && (s->token[n - 1] == '\n' || s->token[n - 1] == '\r'))
		n--;
	s->token[n] = '\0';
	for (ssize_t i = 0; i < n; i++)
		if (s->token[i] <= ' ' || s->token[i] > '~')
			n = -1;
	if (n < 16)
		return sk_fail(err, "serve", 0, "e.g. head -c 32 /dev/urandom | base64 > FILE",
			       "--token-file: one line of 16 to 255 printable characters");
	s->token_len = (size_t)n;
	return 0;
}

/* 127.0.0.1:PORT or [::1]:PORT only: the daemon is never reachable from another host. */
int serve_tcp_listen(struct serve *s, struct sk_err *err)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char host[64];
	const char *colon = strrchr(s->listen_addr, ':');
	uint64_t port;
	int fd, one = 1;

	if (read_token(s, err) < 0)
		return -1;
	memset(&ss, 0, sizeof(ss));
	if (!colon || (size_t)(colon - s->listen_addr) >= sizeof(host) ||
	    parse_uint(colon + 1, 1, 65535, &port) < 0)
		return serve_usage_error(err, "--listen takes 127.0.0.1:PORT or [::1]:PORT");
	memcpy(host, s->listen_addr, (size_t)(colon - s->listen_addr));
	host[colon - s->listen_addr] = '\0';
	if (strcmp(host, "127.0.0.1") == 0) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*in);
	} else if (strcmp(host, "[::1]") == 0) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		in6->sin6_addr = in6addr_loopback;
		len = sizeof(*in6);
	} else {
		return serve_usage_error(err,
					 "--listen takes a loopback address only: 127.0.0.1:PORT "
					 "or [::1]:PORT");
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return sk_fail(err, "serve", errno, NULL, "socket");
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 128) < 0) {
		int saved = errno;
		close(fd);
		return sk_fail(err, "serve", saved, NULL, "listen on %.100s", s->listen_addr);
	}
	s->tcp_fd = fd;
	return 0;
}

/* Over TCP: "Authorization: Bearer TOKEN", compared in constant time (every byte looked at,
 * whatever matches, so the time says nothing of how much of a guess was right). */
static bool token_allowed(struct serve *s, struct MHD_Connection *conn)
{
	const char *given =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	static const char scheme[] = "Bearer ";
	unsigned char diff = 0;
	size_t len;

	if (!given || strncmp(given, scheme, sizeof(scheme) - 1) != 0)
		return false;
	given += sizeof(scheme) - 1;
	len = strlen(given);
	diff |= (unsigned char)(len != s->token_len);
	for (size_t i = 0; i < s->token_len; i++)
		diff |= (unsigned char)(s->token[i] ^ (i < len ? given[i] : 0));
	return diff == 0;
}

/* Whether a connection came in over TCP (--listen) rather than the unix socket. */
static bool is_tcp(int fd)
{
	struct sockaddr_storage ss = {.ss_family = AF_UNIX};
	socklen_t len = sizeof(ss);

	return getsockname(fd, (struct sockaddr *)&ss, &len) == 0 && ss.ss_family != AF_UNIX;
}

/* Whether the connection's peer is one we serve: its uid, or its gid or one of its groups. */
static bool peer_allowed(struct serve *s, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	gid_t groups[256];
	socklen_t groups_len = sizeof(groups);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	/* root can read this daemon's memory anyway: refusing it would protect nothing. */
	if (cred.uid == 0)
		return true;
	for (size_t i = 0; i < s->uid_count; i++)
		if (cred.uid == s->uids[i])
			return true;
	if (s->gid_count == 0)
		return false;
	size_t count = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &groups_len) == 0
			   ? groups_len / sizeof(gid_t)
			   : 0;
	for (size_t i = 0; i < s->gid_count; i++) {
		if (cred.gid == s->gids[i])
			return true;
		for (size_t j = 0; j < count; j++)
			if (groups[j] == s->gids[i])
				return true;
	}
	return false;
}
/* Who is asking (the first call of a request, before anything of it is acted on): over the
 * unix socket, the peer's credentials; over TCP, the bearer token. */
enum serve_peer serve_peer_check(struct serve *s, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

	if (!info)
		return PEER_REFUSED;
	if (is_tcp(info->connect_fd))
		return token_allowed(s, conn) ? PEER_ALLOWED : PEER_NO_TOKEN;
	return peer_allowed(s, info->connect_fd) ? PEER_ALLOWED : PEER_REFUSED;
}
