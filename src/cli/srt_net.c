/* srt's network patterns (srt.h) as stockade's --allow-net/--deny-net rules. srt's grammar
 * and matching are @anthropic-ai/sandbox-runtime 0.0.78's: sandbox-config.js
 * isValidDomainPattern, domain-pattern.js splitDomainPatternPort and matchesDomainPattern
 * ("*.example.com" is any strict subdomain, another name itself only, case-insensitive),
 * sandbox-manager.js filterNetworkRequest (deny first, then allow; a pattern without a port
 * matches every port), address.js parseAddressRange. Every rule goes through
 * net/hostmatch.c's own parser before it is written, so what is written is what runs. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/srt_internal.h"
#include "net/hostmatch.h"
#include "spec/spec.h"
#include "util/macros.h"

static const char external_proxy[] =
    "stockade's own proxy applies the rules and connects to the destination directly, so what "
    "that other proxy would refuse could be reached";

static const char no_unix_socket[] =
    "no unix socket of the host is reachable in stockade: it mounts none of the host's paths "
    "(/var/run/docker.sock and the like)";

static const struct srt_key network_keys[] = {
    {"allowedDomains", SRT_OWN, true, NULL},
    {"deniedDomains", SRT_OWN, true, NULL},
    {"deniedResolvedAddresses", SRT_OWN, false, NULL},
    {"deniedDomainReasons", SRT_WARN_SET, false,
     "stockade's denials give their own reason, on stderr and in --audit"},
    {"strictAllowlist", SRT_SAME, false, NULL},
    {"allowUnixSockets", SRT_WARN_SET, false, no_unix_socket},
    {"allowAllUnixSockets", SRT_WARN_TRUE, false, no_unix_socket},
    {"allowLocalBinding", SRT_WARN_TRUE, false,
     "the sandbox has a loopback of its own: its servers bind there and are reachable from "
     "inside only, not from the host"},
    {"allowMachLookup", SRT_WARN_SET, false, "macOS only"},
    {"httpProxyPort", SRT_REFUSE_SET, false, external_proxy},
    {"socksProxyPort", SRT_REFUSE_SET, false, external_proxy},
    {"mitmProxy", SRT_REFUSE_SET, false, external_proxy},
    {"parentProxy", SRT_REFUSE_SET, false, external_proxy},
    {"filterRequest", SRT_REFUSE_SET, false,
     "a library callback, which a settings file cannot hold (srt refuses it too)"},
    {"tlsTerminate", SRT_WARN_SET, false,
     "stockade does not terminate TLS: a tunnel reaches the destination end to end, checked "
     "for its SNI, and no CA is added to the sandbox"},
};

/* tlsTerminate is dropped whole; a field inside it this table does not know could be a filter
 * of the decrypted requests, which would be lost with it. */
static const struct srt_key tls_terminate_keys[] = {
    {"caCertPath", SRT_SAME_ANY, false, NULL},
    {"caKeyPath", SRT_SAME_ANY, false, NULL},
    {"excludeDomains", SRT_SAME_ANY, false, NULL},
    {"extraCaCertPaths", SRT_SAME_ANY, false, NULL},
};

struct srt_pattern {
	char host[300]; /* a name, *.name, an IPv4 literal, an IPv6 literal (no brackets) */
	bool is_v6;	/* given in brackets */
	bool is_any;	/* "*" (deniedDomains only) */
	uint16_t port;	/* 0: every port */
};

/* srt's port suffix: 1-65535, no sign, no leading zero. */
static bool srt_port(const char *text, uint16_t *port)
{
	size_t len = strlen(text);
	unsigned value = 0;

	if (len == 0 || len > 5 || text[0] < '1' || text[0] > '9')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (text[i] < '0' || text[i] > '9')
			return false;
		value = value * 10 + (unsigned)(text[i] - '0');
	}
	if (value > 65535)
		return false;
	*port = (uint16_t)value;
	return true;
}

/* srt's host patterns (isValidDomainPattern): localhost; *.a.b; a name with a dot. */
static const char *srt_host_check(const char *host, bool is_deny, bool *is_any)
{
	size_t len = strlen(host);

	if (is_deny && strcmp(host, "*") == 0) {
		*is_any = true;
		return NULL;
	}
	if (strstr(host, "://") || strchr(host, '/') || strchr(host, ':'))
		return "a host pattern has no scheme, path or second colon";
	if (strcmp(host, "localhost") == 0)
		return NULL;
	if (strncmp(host, "*.", 2) == 0) {
		const char *domain = host + 2;
		if (!strchr(domain, '.') || domain[0] == '.' || host[len - 1] == '.' ||
		    strstr(domain, ".."))
			return "a wildcard is *.DOMAIN.TLD (srt refuses one as broad as *.com)";
		return NULL;
	}
	if (strchr(host, '*'))
		return "a wildcard is only a leading *.";
	if (!strchr(host, '.') || host[0] == '.' || host[len - 1] == '.')
		return "a host is localhost or has a dot inside";
	return NULL;
}

/* An entry of allowedDomains or deniedDomains as srt reads it (splitDomainPatternPort): NULL,
 * or why srt refuses it. */
static const char *srt_pattern_parse(const char *text, bool is_deny, struct srt_pattern *p)
{
	const char *colon;
	size_t host_len;
	struct in6_addr v6;
	struct in_addr v4;

	memset(p, 0, sizeof(*p));
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		size_t inner;
		if (!close)
			return "an IPv6 literal is [ADDRESS] or [ADDRESS]:PORT";
		if (close[1] && (close[1] != ':' || !srt_port(close + 2, &p->port)))
			return "after ']' comes nothing or :PORT (1-65535)";
		inner = strcspn(text + 1, "%]"); /* srt drops a zone id */
		if (inner >= sizeof(p->host))
			return "not an IPv6 address";
		memcpy(p->host, text + 1, inner);
		/* srt reads "[1.2.3.4]" as 1.2.3.4 (its brackets only delimit) */
		if (inet_pton(AF_INET, p->host, &v4) == 1)
			return NULL;
		if (inet_pton(AF_INET6, p->host, &v6) != 1)
			return "not an IP address";
		p->is_v6 = true;
		return NULL;
	}
	colon = strchr(text, ':');
	if (colon && strchr(colon + 1, ':'))
		return "an IPv6 literal must be in brackets ([::1], [::1]:443)";
	if (colon && !srt_port(colon + 1, &p->port))
		return "the part after ':' is not a port (1-65535)";
	host_len = colon ? (size_t)(colon - text) : strlen(text);
	if (host_len >= sizeof(p->host))
		return "too long for a host";
	memcpy(p->host, text, host_len);
	return srt_host_check(p->host, is_deny, &p->is_any);
}

/* The stockade rule for a pattern and one port (0: none), parsed by the rule parser itself:
 * 0 with rule filled, or -1 with err saying why stockade refuses it. */
static int rule_for(const struct srt_pattern *p, uint16_t port, bool is_deny, struct netrule *rule,
		    struct sk_err *err)
{
	char text[sizeof(p->host) + 16];

	if (port)
		snprintf(text, sizeof(text), p->is_v6 ? "[%s]:%u" : "%s:%u", p->host, port);
	else
		snprintf(text, sizeof(text), p->is_v6 ? "[%s]" : "%s", p->host);
	return netrule_parse(text, strlen(text), is_deny, rule, err);
}

static void add_unique(json_t *list, const char *text)
{
	size_t i;
	json_t *item;

	json_array_foreach(list, i, item)
	{
		if (strcmp(json_string_value(item), text) == 0)
			return;
	}
	json_array_append_new(list, json_string(text));
}

/* deniedDomains "*" and "*:PORT", before any allow rule is written: they take out of the
 * allow rules what srt would deny (stockade has no such rule: every allow rule it writes
 * names its port, so leaving one out is the exact translation). */
static void scan_deny_all(const json_t *list, struct srt_found *f)
{
	struct srt_pattern p;
	size_t i;
	json_t *item;

	json_array_foreach(list, i, item)
	{
		if (srt_pattern_parse(json_string_value(item), true, &p) || !p.is_any)
			continue;
		if (p.port == 0)
			f->is_deny_all = true;
		else
			f->denied_ports[p.port / 8] |= (uint8_t)(1u << (p.port % 8));
	}
}

/* deniedDomains: deny rules (no port: every port, as in srt). A deny stockade cannot write is
 * an error when the translation allows anything: dropping it would allow what srt refuses.
 * With nothing allowed there is no network to deny. */
static void walk_denied(struct srt_walk *w, const json_t *list, struct srt_found *f)
{
	bool is_open = json_array_size(f->allow) > 0;
	struct srt_pattern p;
	struct netrule rule;
	struct sk_err err;
	const char *why;
	size_t i;
	json_t *item;

	json_array_foreach(list, i, item)
	{
		srt_push_index(w, i);
		memset(&err, 0, sizeof(err));
		why = srt_pattern_parse(json_string_value(item), true, &p);
		if (why)
			srt_note(w, true, false, "srt refuses this entry: %s", why);
		else if (!p.is_any && rule_for(&p, p.port, true, &rule, &err) == 0)
			add_unique(f->deny, rule.text);
		else if (!p.is_any && is_open) /* "*" and "*:PORT": scan_deny_all */
			srt_note(w, true, false, "\"%s\" cannot be written as a stockade rule: %s",
				 json_string_value(item), err.op);
		srt_pop(w);
	}
}

/* srt's address ranges (address.js parseAddressRange): ADDRESS or ADDRESS/N, an IPv4-mapped
 * IPv6 range read as IPv4 (its N less 96), host bits ignored (a subnet match compares the
 * prefix only). Returns 0 with net filled, or -1. */
static int srt_range_parse(const char *text, struct cidr *net)
{
	char addr[64];
	const char *slash = strchr(text, '/');
	size_t addr_len = strcspn(text, "%/");
	unsigned prefix, max;

	if (addr_len == 0 || addr_len >= sizeof(addr))
		return -1;
	memcpy(addr, text, addr_len);
	addr[addr_len] = '\0';
	memset(net, 0, sizeof(*net));
	if (netaddr_parse(addr, addr_len, &net->addr) < 0)
		return -1;
	max = net->addr.family == AF_INET && !strchr(addr, ':') ? 32 : 128;
	prefix = max;
	if (slash) {
		/* srt: 1-3 digits, at most the family's width */
		size_t digits = strlen(slash + 1);
		if (digits == 0 || digits > 3 || strspn(slash + 1, "0123456789") != digits)
			return -1;
		prefix = (unsigned)atoi(slash + 1);
		if (prefix > max)
			return -1;
	}
	if (net->addr.family == AF_INET && max == 128) { /* ::ffff:a.b.c.d, now IPv4 */
		if (prefix < 96)
			return -1;
		prefix -= 96;
	}
	net->prefix_len = prefix;
	for (unsigned bit = prefix; bit < (net->addr.family == AF_INET ? 32u : 128u); bit++)
		net->addr.bytes[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
	return 0;
}

/* deniedResolvedAddresses, before any allow rule is written (allow_entry compares). */
static void scan_resolved(const json_t *list, struct srt_found *f)
{
	struct cidr net;
	size_t i;
	json_t *item;

	json_array_foreach(list, i, item)
	{
		if (srt_range_parse(json_string_value(item), &net) == 0 &&
		    f->resolved_count < SRT_RESOLVED_MAX)
			f->resolved[f->resolved_count++] = net;
	}
}

/* deniedResolvedAddresses: deny rules on those networks. stockade checks a deny rule against
 * every address it would connect to, the addresses a name resolves to among them, as srt
 * does; it also checks it against an IP literal the sandbox asks for, which srt does not
 * (only its allow rules would admit that literal: see allow_entry). */
static void walk_resolved(struct srt_walk *w, const json_t *list, struct srt_found *f)
{
	char text[NETADDR_TEXT_MAX + 8], addr[NETADDR_TEXT_MAX];
	struct netrule rule;
	struct sk_err err;
	struct cidr net;
	size_t i;
	json_t *item;

	json_array_foreach(list, i, item)
	{
		srt_push_index(w, i);
		memset(&err, 0, sizeof(err));
		if (srt_range_parse(json_string_value(item), &net) < 0) {
			srt_note(w, true, false,
				 "srt refuses this entry: an IP address or a CIDR range, IPv6 "
				 "without brackets");
		} else {
			netaddr_format(&net.addr, addr, sizeof(addr));
			snprintf(text, sizeof(text), "%s/%u", addr, net.prefix_len);
			if (netrule_parse(text, strlen(text), true, &rule, &err) == 0)
				add_unique(f->deny, rule.text);
			else if (json_array_size(f->allow) > 0)
				srt_note(w, true, false, "cannot be written as a stockade rule: %s",
					 err.op);
		}
		srt_pop(w);
	}
}

static bool is_port_denied(const struct srt_found *f, uint16_t port)
{
	return f->is_deny_all || (f->denied_ports[port / 8] & (1u << (port % 8)));
}

/* An allowed address inside a deniedResolvedAddresses range: srt lets the sandbox reach it by
 * its literal, stockade's deny rule does not. */
static const struct cidr *resolved_overlap(const struct srt_found *f, const struct netrule *rule)
{
	if (rule->kind != NETRULE_IP && rule->kind != NETRULE_CIDR)
		return NULL;
	for (size_t i = 0; i < f->resolved_count; i++)
		if (cidr_contains(&f->resolved[i], &rule->net.addr))
			return &f->resolved[i];
	return NULL;
}

/* One allowedDomains entry: a rule per port, with the warnings of what stockade is stricter
 * about. Returns whether it gave a name rule. */
static bool allow_entry(struct srt_walk *w, const char *entry, const struct srt_pattern *p,
			struct srt_found *f)
{
	/* An entry without a port allows every port in srt; stockade's rule without one means
	 * 443 and 80, so they are written out, and the warning says the rest are not. */
	const uint16_t ports[2] = {p->port ? p->port : 443, p->port ? 0 : 80};
	struct netrule rule;
	struct sk_err err;
	bool is_name = false;

	memset(&rule, 0, sizeof(rule));
	for (size_t i = 0; i < 2 && ports[i]; i++) {
		if (is_port_denied(f, ports[i]))
			continue; /* srt's "*" or "*:PORT" deny would refuse it: exact */
		memset(&err, 0, sizeof(err));
		if (rule_for(p, ports[i], false, &rule, &err) < 0) {
			srt_note(
			    w, false, false,
			    "\"%s\" is not carried over: stockade refuses the rule (%s), so what "
			    "it allows stays refused",
			    entry, err.op);
			return false;
		}
		add_unique(f->allow, rule.text);
		is_name = rule.kind == NETRULE_NAME || rule.kind == NETRULE_WILDCARD;
		if (resolved_overlap(f, &rule))
			srt_note(w, false, false,
				 "\"%s\": stockade's deny rules from deniedResolvedAddresses also "
				 "refuse this address asked for by its literal, which srt allows",
				 entry);
	}
	if (is_name && p->port && p->port != 80 && p->port != 443)
		srt_note(
		    w, false, false,
		    "\"%s\": a tunnel to a name carries only TLS or HTTP naming that host in "
		    "stockade (srt relays anything); for SSH or another protocol write \"%s/raw\" "
		    "in network.allow",
		    entry, rule.text);
	return is_name;
}

static void walk_allowed(struct srt_walk *w, const json_t *list, struct srt_found *f)
{
	struct srt_pattern p;
	const char *why;
	size_t i, portless = 0;
	bool has_name = false;
	json_t *item;

	json_array_foreach(list, i, item)
	{
		srt_push_index(w, i);
		why = srt_pattern_parse(json_string_value(item), false, &p);
		if (why) {
			srt_note(w, true, false, "srt refuses this entry: %s", why);
		} else {
			portless += p.port == 0;
			has_name |= allow_entry(w, json_string_value(item), &p, f);
		}
		srt_pop(w);
	}
	if (portless)
		srt_note(
		    w, false, true,
		    "%zu entr%s without a port, which srt lets reach every port: stockade's rules "
		    "name ports 443 and 80 (add HOST:PORT to network.allow for others)",
		    portless, portless == 1 ? "y" : "ies");
	if (has_name)
		srt_note(
		    w, false, true,
		    "stockade's proxy is stricter for names than srt's: a tunnel must carry TLS or "
		    "HTTP naming its host, and a name that resolves to a private address (RFC "
		    "1918, CGNAT, unique-local) is refused unless an IP rule allows that address");
}

void srt_walk_network(struct srt_walk *w, const json_t *network, struct srt_found *f)
{
	const json_t *list, *denied, *resolved;

	if (!json_is_object(network)) {
		srt_note(w, true, false, "expected an object (srt refuses anything else)");
		return;
	}
	srt_walk_keys(w, network, network_keys, ARRAY_SIZE(network_keys));
	if (json_is_object(json_object_get(network, "tlsTerminate"))) {
		srt_push_key(w, "tlsTerminate");
		srt_walk_keys(w, json_object_get(network, "tlsTerminate"), tls_terminate_keys,
			      ARRAY_SIZE(tls_terminate_keys));
		srt_pop(w);
	}
	denied = srt_strings_at(w, network, "deniedDomains");
	resolved = srt_strings_at(w, network, "deniedResolvedAddresses");
	/* What the denials take out of the allow rules first; then the allow rules, which decide
	 * whether there is a network for the deny rules to apply to. */
	scan_deny_all(denied, f);
	scan_resolved(resolved, f);
	if ((list = srt_strings_at(w, network, "allowedDomains"))) {
		srt_push_key(w, "allowedDomains");
		walk_allowed(w, list, f);
		if (json_array_size(f->allow) > SANDBOX_MAX_NET_RULES)
			srt_note(w, true, true,
				 "%zu stockade rules, more than the %d allow rules a spec may hold",
				 json_array_size(f->allow), SANDBOX_MAX_NET_RULES);
		srt_pop(w);
	}
	if (denied) {
		srt_push_key(w, "deniedDomains");
		walk_denied(w, denied, f);
		srt_pop(w);
	}
	if (resolved) {
		srt_push_key(w, "deniedResolvedAddresses");
		walk_resolved(w, resolved, f);
		srt_pop(w);
	}
	if (json_array_size(f->allow) > 0 && json_array_size(f->deny) > SANDBOX_MAX_NET_RULES) {
		srt_push_key(w, "deniedDomains");
		srt_note(w, true, true, "%zu stockade deny rules, more than the %d a spec may hold",
			 json_array_size(f->deny), SANDBOX_MAX_NET_RULES);
		srt_pop(w);
	}
}
