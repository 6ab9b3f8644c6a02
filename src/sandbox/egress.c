/* The egress layer (see egress.h). The proxy sockets are made by the child because a socket
 * belongs to the network namespace it was created in: made inside, they accept the sandbox's
 * connections; served from outside, the proxy's own connections leave from the host's
 * namespace. The sandbox holds no copy of them once they are handed over. */
#include "sandbox/egress.h"

#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/addrpolicy.h"
#include "sandbox/credentials.h"
#include "sandbox/sync.h"
#include "util/macros.h"

#define CONNECT_TIMEOUT_MS 10000
#define IDLE_TIMEOUT_MS 300000
#define PEEK_TIMEOUT_MS 1000
/* What the workload reaches without the proxy: its own loopback. */
#define NO_PROXY "localhost,127.0.0.1,::1"

/* The rules were checked with the spec (spec_check.c); a failure here is not expected. */
static int add_rules(struct netpolicy *policy, const char *const *texts, size_t count, bool is_deny,
		     struct sk_err *err)
{
	for (size_t i = 0; i < count; i++)
		if (netpolicy_add(policy, texts[i], strlen(texts[i]), is_deny, err) < 0)
			return -1;
	return 0;
}

/* The host's own addresses are forbidden targets like loopback (a service listening on the
 * host's LAN address is the host). */
static int add_host_addresses(struct netpolicy *policy, struct sk_err *err)
{
	struct ifaddrs *list, *ifa;

	if (getifaddrs(&list) < 0)
		return sk_fail(err, "proxy", errno, NULL, "getifaddrs");
	for (ifa = list; ifa; ifa = ifa->ifa_next) {
		if (!ifa->ifa_addr ||
		    (ifa->ifa_addr->sa_family != AF_INET && ifa->ifa_addr->sa_family != AF_INET6))
			continue;
		socklen_t len = ifa->ifa_addr->sa_family == AF_INET ? sizeof(struct sockaddr_in)
								    : sizeof(struct sockaddr_in6);
		struct sk_err ignored = {0};
		if (ifa->ifa_flags & IFF_LOOPBACK)
			continue; /* covered by the loopback ranges, which say so in the audit */
		addrpolicy_add_host_address(policy, ifa->ifa_addr, len, &ignored);
	}
	freeifaddrs(list);
	return 0;
}

static int set_proxy_env(struct env_plan *env, struct sk_err *err)
{
	static const char http[] = "http://" PROXY_ADDRESS ":" STRINGIFY(PROXY_HTTP_PORT);
	static const char socks[] = "socks5h://" PROXY_ADDRESS ":" STRINGIFY(PROXY_SOCKS_PORT);
	static const struct {
		const char *name, *value;
	} vars[] = {
	    {"HTTP_PROXY", http},   {"HTTPS_PROXY", http},  {"http_proxy", http},
	    {"https_proxy", http},  {"ALL_PROXY", socks},   {"all_proxy", socks},
	    {"NO_PROXY", NO_PROXY}, {"no_proxy", NO_PROXY},
	};

	for (size_t i = 0; i < ARRAY_SIZE(vars); i++)
		if (env_set(env, vars[i].name, vars[i].value, err) < 0)
			return -1;
	return 0;
}

/* --network public is the rules ":80" and ":443" (every host on those ports) added after the
 * caller's, so that a rule naming the host decides first and is the one audited. The
 * checks on addresses are the same as for named hosts: nothing but public addresses. */
static const char *const public_ports[] = {SANDBOX_PUBLIC_PORTS};

int egress_rules_add(struct netpolicy *policy, const struct sandbox_spec *spec, struct sk_err *err)
{
	if (add_rules(policy, spec->allow_net, spec->allow_net_count, false, err) < 0 ||
	    add_rules(policy, spec->deny_net, spec->deny_net_count, true, err) < 0)
		return -1;
	/* Each credential's host is an allow rule of its own (HOST:PORT); a deny rule over it
	 * still wins, as for any other. */
	for (size_t i = 0; i < spec->credential_count; i++)
		for (size_t h = 0; h < spec->credentials[i].host_count; h++) {
			char rule[HOSTMATCH_NAME_MAX + 8];
			credential_host_rule(&spec->credentials[i], h, rule, sizeof(rule));
			if (netpolicy_add(policy, rule, strlen(rule), false, err) < 0)
				return -1;
		}
	if (spec_network_is_public(spec))
		return add_rules(policy, public_ports, ARRAY_SIZE(public_ports), false, err);
	return 0;
}

int egress_prepare(struct egress_plan *plan, const struct sandbox_spec *spec, int audit_fd,
		   int landlock_abi, struct env_plan *env, struct sk_err *err)
{
	struct proxy_config *c;

	memset(plan, 0, sizeof(*plan));
	plan->handle.pid = -1;
	if (!spec_has_network(spec)) {
		snprintf(plan->detail, sizeof(plan->detail), "none: own namespace, loopback only");
		return 0;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return sk_fail(err, "proxy", ENOMEM, NULL, "egress policy");
	plan->config = c;
	plan->is_enabled = true;
	c->audit_fd = -1;
	netpolicy_init(&c->policy);
	if (egress_rules_add(&c->policy, spec, err) < 0 ||
	    add_host_addresses(&c->policy, err) < 0 || set_proxy_env(env, err) < 0)
		return -1;
	c->dns_server = spec->dns_server;
	c->hosts_file = spec->hosts_file;
	c->is_quiet = spec->is_quiet;
	c->connect_timeout_ms = CONNECT_TIMEOUT_MS;
	c->idle_timeout_ms = IDLE_TIMEOUT_MS;
	c->peek_timeout_ms = PEEK_TIMEOUT_MS;
	/* The proxy confines itself with the layers the sandbox gets (net/proxy_harden.h);
	 * seccomp's program is built in, so it always has that one. */
	c->landlock_abi = landlock_abi;
	if (spec->audit_path) {
		/* Opened and checked by the CLI before anything ran (cli/run.c: a regular file,
		 * never through a symlink); the proxy gets a copy of its own. */
		c->audit_fd = audit_fd >= 0 ? fcntl(audit_fd, F_DUPFD_CLOEXEC, 3) : -1;
		if (c->audit_fd < 0)
			return sk_fail(err, "proxy", audit_fd >= 0 ? errno : EBADF, NULL,
				       "--audit %s was not opened", spec->audit_path);
	}
	snprintf(plan->detail, sizeof(plan->detail),
		 "%s: %zu allow and %zu deny rules through the proxy at " PROXY_ADDRESS ":%d "
		 "(HTTP) and :%d (SOCKS5)",
		 spec_network_is_public(spec) ? "public (any public address on 80, 443 and "
						":PORT rules)"
					      : "allowlist",
		 spec->allow_net_count, spec->deny_net_count, PROXY_HTTP_PORT, PROXY_SOCKS_PORT);
	return 0;
}

int egress_apply(const struct egress_plan *plan, int sync_fd, struct sk_err *err)
{
	struct sync_msg msg;
	int fds[2];

	if (!plan->is_enabled)
		return 0;
	if (proxy_listen(fds, err) < 0)
		return -1;
	memset(&msg, 0, sizeof(msg));
	msg.kind = SYNC_PROXY;
	int rc = sync_send_fds(sync_fd, &msg, fds, 2);
	close(fds[0]);
	close(fds[1]);
	if (rc < 0)
		return sk_fail_safe(err, "proxy", errno, "hand the proxy sockets over", NULL, NULL);
	/* The command must not start before the proxy serves: wait for the parent's word. */
	if (sync_recv(sync_fd, &msg) != 1 || msg.kind != SYNC_GO)
		return sk_fail_safe(err, "proxy", EPIPE, "wait for the proxy", NULL, NULL);
	return 0;
}

int egress_from_parent(struct egress_plan *plan, int fds[2], int sync_fd, struct sk_err *err)
{
	struct sync_msg go;

	if (!plan->is_enabled || fds[0] < 0 || fds[1] < 0) {
		for (int i = 0; i < 2; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		return sk_fail(err, "proxy", EPROTO, NULL, "unexpected proxy sockets");
	}
	if (proxy_spawn(plan->config, fds[0], fds[1], &plan->handle, err) < 0)
		return -1;
	memset(&go, 0, sizeof(go));
	go.kind = SYNC_GO;
	if (sync_send(sync_fd, &go) < 0)
		return sk_fail(err, "proxy", errno, NULL, "tell the sandbox the proxy is ready");
	return 0;
}

void egress_finish(struct egress_plan *plan, struct sandbox_result *result,
		   struct run_report *report)
{
	struct proxy_stats stats = {0, 0, 0, 0};
	char died[160] = "";

	if (plan->handle.pid > 0)
		proxy_stop(&plan->handle, &stats);
	result->egress_allowed = stats.allowed;
	result->egress_denied = stats.denied;
	/* The sandbox lost its egress when the proxy died (never gained any): say so, since the
	 * workload only saw refused connections. */
	if (stats.term_signal || stats.exit_code) {
		if (stats.term_signal)
			snprintf(died, sizeof(died), "the egress proxy died during the run: %s%s",
				 strsignal(stats.term_signal),
				 stats.term_signal == SIGSYS
				     ? " (a system call outside its seccomp allow-list)"
				     : "");
		else
			snprintf(died, sizeof(died),
				 "the egress proxy died during the run: exit status %d",
				 stats.exit_code);
		fprintf(stderr, "stockade: network: %s\n", died);
	}
	report_layer(report, "network", true, false, died[0] ? died : plan->detail);
}

void egress_plan_free(struct egress_plan *plan)
{
	if (plan->handle.pid > 0)
		proxy_stop(&plan->handle, NULL);
	if (plan->config && plan->config->audit_fd >= 0)
		close(plan->config->audit_fd);
	free(plan->config);
	plan->config = NULL;
}
