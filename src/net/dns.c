/* The proxy's resolver: a hosts file (the operator's, or /etc/hosts) first, then DNS with
 * c-ares, driven by the proxy's epoll loop through c-ares' socket-state callback. No search
 * domains: a name is resolved exactly as the policy saw it. */
#include "net/dns.h"

#include <arpa/inet.h>
#include <ares.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#define HOSTS_MAX (1 << 20)

struct dns {
	ares_channel channel;
	char *hosts; /* the hosts file's text, NUL-terminated */
	dns_watch watch;
	void *loop;
	unsigned open_sockets; /* c-ares' sockets now open, at most DNS_MAX_SOCKETS */
};

struct query {
	dns_callback cb;
	void *arg;
};

static void on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns *dns = data;

	if (!readable && !writable && dns->open_sockets > 0) /* c-ares closes it */
		dns->open_sockets--;
	dns->watch(dns->loop, fd, readable, writable);
}

/* c-ares asks before it uses a new socket; a non-zero answer closes it and fails the query
 * that wanted it. */
static int on_socket_open(ares_socket_t fd, int type, void *data)
{
	struct dns *dns = data;

	(void)fd;
	(void)type;
	if (dns->open_sockets >= DNS_MAX_SOCKETS)
		return -1;
	dns->open_sockets++;
	return 0;
}

void dns_cancel_all(struct dns *dns)
{
	ares_cancel(dns->channel);
}

static char *read_text(const char *path, struct sk_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *text;
	ssize_t n;

	if (fd < 0) {
		sk_fail(err, "proxy", errno, "--hosts-file names a readable file", "open %s", path);
		return NULL;
	}
	if (fstat(fd, &st) < 0 || st.st_size > HOSTS_MAX ||
	    !(text = malloc((size_t)st.st_size + 1))) {
		close(fd);
		sk_fail(err, "proxy", EFBIG, NULL, "hosts file %s", path);
		return NULL;
	}
	n = read(fd, text, (size_t)st.st_size);
	close(fd);
	if (n < 0) {
		free(text);
		sk_fail(err, "proxy", errno, NULL, "read %s", path);
		return NULL;
	}
	text[n] = '\0';
	return text;
}

int dns_init(struct dns **out, const char *server, const char *hosts_file, dns_watch watch,
	     void *loop, struct sk_err *err)
{
	struct ares_options opts;
	struct dns *dns = calloc(1, sizeof(*dns));
	int rc;

	if (!dns)
		return sk_fail(err, "proxy", ENOMEM, NULL, "resolver");
	dns->watch = watch;
	dns->loop = loop;
	dns->hosts = read_text(hosts_file ? hosts_file : "/etc/hosts", err);
	if (!dns->hosts && hosts_file) {
		free(dns);
		return -1;
	}
	if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
		dns_free(dns);
		return sk_fail(err, "proxy", 0, NULL, "ares_library_init");
	}
	memset(&opts, 0, sizeof(opts));
	opts.sock_state_cb = on_sock_state;
	opts.sock_state_cb_data = dns;
	opts.flags = ARES_FLAG_NOSEARCH;
	opts.lookups = (char *)"b"; /* DNS only: the hosts file is ours (above) */
	rc = ares_init_options(&dns->channel, &opts,
			       ARES_OPT_SOCK_STATE_CB | ARES_OPT_FLAGS | ARES_OPT_LOOKUPS);
	if (rc != ARES_SUCCESS) {
		dns_free(dns);
		return sk_fail(err, "proxy", 0, "check /etc/resolv.conf or pass --dns-server",
			       "ares_init_options: %s", ares_strerror(rc));
	}
	ares_set_socket_callback(dns->channel, on_socket_open, dns);
	if (server && (rc = ares_set_servers_ports_csv(dns->channel, server)) != ARES_SUCCESS) {
		dns_free(dns);
		return sk_fail(err, "proxy", 0, "--dns-server takes IP or IP:PORT",
			       "--dns-server %.64s: %s", server, ares_strerror(rc));
	}
	*out = dns;
	return 0;
}

size_t dns_tcp_ports(struct dns *dns, uint16_t *ports, size_t max)
{
	struct ares_addr_port_node *servers = NULL;
	size_t count = 0;

	if (ares_get_servers_ports(dns->channel, &servers) != ARES_SUCCESS)
		return 0;
	for (struct ares_addr_port_node *s = servers; s && count < max; s = s->next)
		ports[count++] = s->tcp_port ? (uint16_t)s->tcp_port : 53;
	ares_free_data(servers);
	return count;
}

void dns_free(struct dns *dns)
{
	if (!dns)
		return;
	if (dns->channel)
		ares_destroy(dns->channel); /* pending callbacks run with ARES_EDESTRUCTION */
	free(dns->hosts);
	free(dns);
}

/* One hosts-file line: "ADDRESS NAME [ALIAS...]  # comment". */
static int hosts_line(char *line, const char *name, struct sockaddr_storage *addr)
{
	char *save = NULL, *ip, *word;

	line[strcspn(line, "#")] = '\0';
	ip = strtok_r(line, " \t", &save);
	if (!ip)
		return 0;
	while ((word = strtok_r(NULL, " \t", &save)) != NULL) {
		if (strcasecmp(word, name) != 0)
			continue;
		struct sockaddr_in *in4 = (struct sockaddr_in *)addr;
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)addr;
		memset(addr, 0, sizeof(*addr));
		if (inet_pton(AF_INET, ip, &in4->sin_addr) == 1) {
			in4->sin_family = AF_INET;
			return 1;
		}
		if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
			in6->sin6_family = AF_INET6;
			return 1;
		}
		return 0;
	}
	return 0;
}

int dns_hosts_lookup(const char *text, const char *name, struct sockaddr_storage *addrs, int max)
{
	char line[1024];
	int count = 0;

	while (text && *text && count < max) {
		size_t len = strcspn(text, "\n");
		if (len < sizeof(line)) {
			memcpy(line, text, len);
			line[len] = '\0';
			count += hosts_line(line, name, &addrs[count]);
		}
		text += len + (text[len] == '\n');
	}
	return count;
}

static void on_addrinfo(void *arg, int status, int timeouts, struct ares_addrinfo *result)
{
	struct query *q = arg;
	struct dns_answer answer;

	(void)timeouts;
	memset(&answer, 0, sizeof(answer));
	if (status == ARES_SUCCESS && result) {
		for (struct ares_addrinfo_node *n = result->nodes;
		     n && answer.count < DNS_MAX_ADDRS; n = n->ai_next) {
			if (n->ai_family != AF_INET && n->ai_family != AF_INET6)
				continue;
			memcpy(&answer.addrs[answer.count++], n->ai_addr, n->ai_addrlen);
		}
	}
	answer.status = answer.count > 0 ? 0 : -1;
	answer.reason = status == ARES_SUCCESS ? "no address" : ares_strerror(status);
	if (result)
		ares_freeaddrinfo(result);
	q->cb(q->arg, &answer);
	free(q);
}

void dns_resolve(struct dns *dns, const char *name, dns_callback cb, void *arg)
{
	struct ares_addrinfo_hints hints;
	struct dns_answer answer;
	struct query *q;

	memset(&answer, 0, sizeof(answer));
	answer.count = dns_hosts_lookup(dns->hosts, name, answer.addrs, DNS_MAX_ADDRS);
	if (answer.count > 0) {
		cb(arg, &answer);
		return;
	}
	q = malloc(sizeof(*q));
	if (!q) {
		answer.status = -1;
		answer.reason = "out of memory";
		cb(arg, &answer);
		return;
	}
	q->cb = cb;
	q->arg = arg;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	ares_getaddrinfo(dns->channel, name, NULL, &hints, on_addrinfo, q);
}

void dns_process(struct dns *dns, int fd, unsigned events)
{
	ares_socket_t rfd = ARES_SOCKET_BAD, wfd = ARES_SOCKET_BAD;

	if (fd >= 0 && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		rfd = fd;
	if (fd >= 0 && (events & EPOLLOUT))
		wfd = fd;
	ares_process_fd(dns->channel, rfd, wfd);
}

int dns_timeout_ms(struct dns *dns)
{
	struct timeval tv, *next = ares_timeout(dns->channel, NULL, &tv);

	if (!next)
		return -1;
	return (int)(next->tv_sec * 1000 + (next->tv_usec + 999) / 1000);
}
