/* The egress proxy as a process: the listening sockets the sandbox's PID 1 makes for it, how
 * it starts (forked, or stockade-tls exec'd for credentials: proxy_wire.h), drops privileges
 * and confines itself, serves (proxy.c's loop) and stops with its counts. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/proxy.h"
#include "net/proxy_harden.h"
#include "net/proxy_internal.h"
#include "net/proxy_wire.h"
#include "util/fds.h"
#include "util/macros.h"

/* ---- in the sandbox's PID 1 ---- */

static int listen_on(uint16_t port, struct sk_err *err)
{
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1;

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return sk_fail_safe(err, "proxy", errno, "socket for the proxy", NULL, NULL);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 1024) < 0) {
		int saved = errno;
		close(fd);
		return sk_fail_safe(err, "proxy", saved, "bind/listen 127.0.0.1 port",
				    port == PROXY_HTTP_PORT ? STRINGIFY(PROXY_HTTP_PORT)
							    : STRINGIFY(PROXY_SOCKS_PORT),
				    NULL);
	}
	return fd;
}

int proxy_listen(int fds[2], struct sk_err *err)
{
	fds[0] = listen_on(PROXY_HTTP_PORT, err);
	if (fds[0] < 0)
		return -1;
	fds[1] = listen_on(PROXY_SOCKS_PORT, err);
	if (fds[1] < 0) {
		close(fds[0]);
		return -1;
	}
	return 0;
}

/* ---- the process ---- */

/* Drops what the proxy does not need: as root it becomes nobody (it only connects out and
 * reads nothing after start), no new privileges, no core dumps. */
static int proxy_drop_privileges(void)
{
	if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
			       setresuid(65534, 65534, 65534) < 0))
		return -1;
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0
		   ? -1
		   : 0;
}

/* The ports an allow rule lets the proxy connect to (a rule without one: 80 and 443), and
 * the resolver's TCP ports; each once. max leaves room for two ports of every rule. */
static size_t confine_ports(const struct proxy_config *config, struct dns *dns, uint16_t *ports,
			    size_t max)
{
	size_t count = dns_tcp_ports(dns, ports, max - 2 * NETPOLICY_MAX_RULES), unique = 0;

	for (size_t i = 0; i < config->policy.rule_count; i++) {
		const struct netrule *rule = &config->policy.rules[i];
		if (rule->is_deny)
			continue;
		ports[count++] = rule->port ? rule->port : 80;
		if (!rule->port)
			ports[count++] = 443;
	}
	for (size_t i = 0; i < count; i++) {
		size_t k = 0;
		while (k < unique && ports[k] != ports[i])
			k++;
		if (k == unique)
			ports[unique++] = ports[i];
	}
	return unique;
}

/* Last step before serving: Landlock, then seccomp (which denies the Landlock calls). The
 * seeding of jansson's hash (it reads /dev/urandom on first use) comes first: after this,
 * no path can be opened. */
static int proxy_confine(const struct proxy_config *config, struct dns *dns, struct sk_err *err)
{
	uint16_t ports[PROXY_HARDEN_MAX_PORTS];
	size_t count = confine_ports(config, dns, ports, PROXY_HARDEN_MAX_PORTS);

	json_object_seed(0);
	if (config->landlock_abi > 0 && proxy_landlock(config->landlock_abi, ports, count, err) < 0)
		return -1;
	return proxy_seccomp(err); /* its program is built in: always there */
}

static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int proxy_process(const struct proxy_config *config, int http_fd, int socks_fd, int control_fd,
		  int ready_fd, int stats_fd)
{
	struct proxy p = {
	    .config = config,
	    .audit = {.fd = config->audit_fd, .stderr_fd = 2, .is_quiet = config->is_quiet}};
	struct sk_err err = {0};
	char line[64];
	int rc;

	signal(SIGPIPE, SIG_IGN);
	/* Before the credentials' values are read (proxy_tls_init): no moment in which a host
	 * process of the same uid could read them from /proc/PID/mem. Set again after the uid
	 * change (proxy_drop_privileges), which resets it. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		sk_fail(&err, "proxy", errno, NULL, "prctl(PR_SET_DUMPABLE)");
		(void)!write(ready_fd, &err, sizeof(err));
		return 1;
	}
	raise_fd_limit();
	p.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (p.epoll_fd < 0 ||
	    dns_init(&p.dns, config->dns_server, config->hosts_file, proxy_on_dns_watch, &p, &err) <
		0 ||
	    proxy_tls_init(&p.tls, config, &err) < 0 || proxy_drop_privileges() < 0 ||
	    proxy_confine(config, p.dns, &err) < 0) {
		if (!err.layer[0])
			sk_fail(&err, "proxy", errno, NULL, "starting the egress proxy");
		(void)!write(ready_fd, &err, sizeof(err));
		return 1;
	}
	(void)!write(ready_fd, "", 1); /* ready */
	close(ready_fd);
	rc = proxy_loop(&p, http_fd, socks_fd, control_fd);
	audit_finish(&p.audit); /* before the counts: the parent prints nothing before them */
	snprintf(line, sizeof(line), "allowed %llu denied %llu\n",
		 (unsigned long long)p.audit.allowed, (unsigned long long)p.audit.denied);
	(void)!write(stats_fd, line, strlen(line));
	dns_free(p.dns);
	proxy_tls_free(p.tls);
	return rc < 0 ? 1 : 0;
}

/* Closes both ends of every pipe made so far (-1 marks one not made); returns rc. */
static int close_pipes(int *const ends[], size_t count, int rc)
{
	for (size_t i = 0; i < count; i++)
		for (int j = 0; j < 2; j++)
			if (ends[i][j] >= 0)
				close(ends[i][j]);
	return rc;
}

/* With credentials the proxy is stockade-tls (net/proxy_wire.h): its configuration and the
 * numbers of the descriptors it serves go in the wire, a memfd. Returns it, or -1 with err;
 * with none, -2 (the forked child serves itself). */
static int make_wire(const struct proxy_config *config, int http_fd, int socks_fd,
		     const int control[2], const int ready[2], const int stats[2],
		     struct sk_err *err)
{
	struct proxy_wire *wire;
	int fd;

	if (config->credential_count == 0)
		return -2;
	wire = calloc(1, sizeof(*wire));
	if (!wire)
		return sk_fail(err, "proxy", ENOMEM, NULL, "the proxy's configuration");
	wire->http_fd = http_fd;
	wire->socks_fd = socks_fd;
	wire->control_fd = control[0];
	wire->ready_fd = ready[1];
	wire->stats_fd = stats[1];
	wire->ca_key_fd = config->ca_fd;
	wire->ca_cert_fd = -1;
	fd = proxy_wire_create(wire, config, true, err);
	free(wire);
	return fd;
}

int proxy_spawn(const struct proxy_config *config, int http_fd, int socks_fd,
		struct proxy_handle *handle, struct sk_err *err)
{
	int control[2], ready[2], stats[2], wire_fd;

	int *const ends[] = {control, ready, stats};
	const size_t count = sizeof(ends) / sizeof(ends[0]);

	for (size_t i = 0; i < count; i++)
		ends[i][0] = ends[i][1] = -1;
	for (size_t i = 0; i < count; i++)
		if (pipe2(ends[i], O_CLOEXEC) < 0)
			return close_pipes(ends, count,
					   sk_fail(err, "proxy", errno, NULL, "pipe2"));
	wire_fd = make_wire(config, http_fd, socks_fd, control, ready, stats, err);
	if (wire_fd == -1)
		return close_pipes(ends, count, -1);
	handle->pid = fork();
	if (handle->pid < 0) {
		if (wire_fd >= 0)
			close(wire_fd);
		return close_pipes(ends, count,
				   sk_fail(err, "proxy", errno, NULL, "fork the egress proxy"));
	}
	if (handle->pid == 0) {
		int keep[9 + PROXY_MAX_CREDENTIALS] = {http_fd,	 socks_fd, control[0],
						       ready[1], stats[1], config->audit_fd};
		int keep_count = 6;
		struct sk_err child_err = {0};
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		/* The credentials' memfds: read by proxy_tls_init, here and nowhere else. */
		for (size_t i = 0; i < config->credential_count; i++)
			keep[keep_count++] = config->credentials[i].value_fd;
		if (wire_fd >= 0) {
			keep[keep_count++] = wire_fd;
			keep[keep_count++] = config->ca_fd;
			keep[keep_count++] = config->helper_fd;
			proxy_wire_exec(config->helper_fd, "proxy", wire_fd, keep, keep_count,
					&child_err);
			(void)!write(ready[1], &child_err, sizeof(child_err));
			_exit(1);
		}
		/* Nothing of the supervisor's: not the sandbox's socket, pidfd, signalfd or pipes.
		 */
		fds_close_except(keep, keep_count);
		_exit(proxy_process(config, http_fd, socks_fd, control[0], ready[1], stats[1]));
	}
	if (wire_fd >= 0)
		close(wire_fd);
	close(control[0]);
	close(ready[1]);
	close(stats[1]);
	/* The listening sockets live only in the proxy: if it dies, they close. */
	close(http_fd);
	close(socks_fd);
	handle->control_fd = control[1];
	handle->stats_fd = stats[0];
	int rc = proxy_wire_answer(ready[0], &handle->pid, "the egress proxy", err);
	close(ready[0]);
	if (rc == 0)
		return 0;
	if (handle->pid > 0) {
		proxy_stop(handle, NULL);
	} else { /* reaped by proxy_wire_answer */
		close(handle->control_fd);
		close(handle->stats_fd);
	}
	return -1;
}

void proxy_stop(struct proxy_handle *handle, struct proxy_stats *stats)
{
	char line[64] = {0};
	unsigned long long allowed = 0, denied = 0;

	if (handle->pid <= 0)
		return;
	close(handle->control_fd);
	if (read(handle->stats_fd, line, sizeof(line) - 1) > 0)
		sscanf(line, "allowed %llu denied %llu", &allowed, &denied);
	close(handle->stats_fd);
	int status = 0;
	while (waitpid(handle->pid, &status, 0) < 0 && errno == EINTR)
		;
	handle->pid = 0;
	if (stats) {
		stats->allowed = allowed;
		stats->denied = denied;
		stats->term_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
		stats->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
	}
}
