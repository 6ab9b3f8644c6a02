/* Egress policy on names: one canonical spelling per host (names and IP literals), the
 * --allow-net / --deny-net grammar, and the matcher where deny wins and an address is never
 * matched against a name suffix. See docs/THREATS.md, "Network egress". */
#include "net/hostmatch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "util/macros.h"

#define LAYER "netpolicy"

/* A printable, bounded copy of outside text for an error message. */
static const char *printable(const char *in, size_t len, char *buf, size_t size)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n + 4 < size; i++)
		buf[n++] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?';
	buf[n] = '\0';
	if (len > n)
		sk_strlcat(buf, "...", size);
	return buf;
}

static int name_fail(struct sk_err *err, const char *in, size_t len, const char *why)
{
	char shown[80];

	return sk_fail(err, LAYER, 0, NULL, "host name \"%s\": %s",
		       printable(in, len, shown, sizeof(shown)), why);
}

/* Letters, digits, hyphen; and underscore, which real hosts carry (legacy S3 buckets, some
 * CDNs) and which means nothing to the resolver or to libc's address parsing. */
static bool is_label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f');
}

/* inet_aton() and getaddrinfo() read "127.1", "0x7f.1", "017700000001" and "2130706433" as
 * IPv4 addresses: a name whose last label is a decimal or 0x-hex number is one of those (no
 * top-level domain is numeric, RFC 3696 section 2). `label` is already lower case. */
static bool is_numeric_label(const char *label, size_t len)
{
	size_t i = 0;

	if (len >= 2 && label[0] == '0' && label[1] == 'x') {
		for (i = 2; i < len && is_hex(label[i]); i++)
			;
		return i == len;
	}
	for (i = 0; i < len && is_digit(label[i]); i++)
		;
	return i == len;
}

static const char *check_label(const char *label, size_t len)
{
	if (len == 0)
		return "empty label";
	if (len > HOSTMATCH_LABEL_MAX)
		return "label longer than 63 characters";
	if (label[0] == '-' || label[len - 1] == '-')
		return "label starts or ends with a hyphen";
	return NULL;
}

int hostmatch_canonicalize(const char *in, size_t len, char *out, size_t out_size,
			   struct sk_err *err)
{
	size_t start = 0;
	const char *why;

	if (len > 0 && in[len - 1] == '.')
		len--; /* the root label: "example.com." is "example.com" */
	if (len == 0)
		return name_fail(err, in, len, "empty name");
	if (len > HOSTMATCH_NAME_MAX)
		return name_fail(err, in, len, "longer than 253 characters");
	if (out_size <= len)
		return name_fail(err, in, len, "no room for the canonical name");
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		if (c != '.' && !is_label_char(c))
			return name_fail(
			    err, in, len,
			    "only ASCII letters, digits, '-', '_' and '.' are allowed");
		out[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
	}
	out[len] = '\0';
	for (size_t i = 0; i <= len; i++) {
		if (i < len && out[i] != '.')
			continue;
		why = check_label(out + start, i - start);
		if (why)
			return name_fail(err, in, len, why);
		if (i == len && is_numeric_label(out + start, i - start))
			return name_fail(err, in, len,
					 "numeric last label: an IP address in a form the "
					 "resolver would accept; write it as a.b.c.d");
		start = i + 1;
	}
	return 0;
}

static int host_from_ip(const char *in, size_t len, bool is_bracketed, struct nethost *out,
			struct sk_err *err)
{
	if (memchr(in, '%', len))
		return name_fail(err, in, len, "IPv6 zone ids are not allowed");
	if (netaddr_parse(in, len, &out->ip) < 0 || (is_bracketed && !memchr(in, ':', len)))
		return name_fail(err, in, len, "not a valid IP address");
	out->is_ip = true;
	netaddr_format(&out->ip, out->text, sizeof(out->text));
	return 0;
}

bool hostmatch_is_host_service(const char *canonical)
{
	return strcmp(canonical, HOSTMATCH_HOST_SERVICE) == 0;
}

int hostmatch_parse_host(const char *in, size_t len, struct nethost *out, struct sk_err *err)
{
	memset(out, 0, sizeof(*out));
	if (len >= 2 && in[0] == '[' && in[len - 1] == ']')
		return host_from_ip(in + 1, len - 2, true, out, err);
	if (memchr(in, ':', len) || memchr(in, '%', len))
		return host_from_ip(in, len, false, out, err);
	if (netaddr_parse(in, len, &out->ip) == 0) {
		out->is_ip = true;
		netaddr_format(&out->ip, out->text, sizeof(out->text));
		return 0;
	}
	return hostmatch_canonicalize(in, len, out->text, sizeof(out->text), err);
}

/* Suffixes under which anyone can get a name: the common multi-label public suffixes of the
 * ICANN section, and hosting domains where anyone gets a subdomain that runs their own code
 * or serves their own files (an allow of "*.herokuapp.com" is an allow of every attacker's
 * app there). Not the whole Public Suffix List (10,000 entries that change): this catches
 * the mistakes people make; single-label suffixes are refused by the label count. */
static const char *const public_suffixes[] = {
    "co.uk",
    "org.uk",
    "me.uk",
    "ac.uk",
    "gov.uk",
    "ltd.uk",
    "plc.uk",
    "net.uk",
    "sch.uk",
    "com.au",
    "net.au",
    "org.au",
    "edu.au",
    "gov.au",
    "id.au",
    "co.nz",
    "net.nz",
    "org.nz",
    "co.jp",
    "ne.jp",
    "or.jp",
    "ac.jp",
    "go.jp",
    "co.kr",
    "or.kr",
    "com.cn",
    "net.cn",
    "org.cn",
    "gov.cn",
    "com.tw",
    "com.hk",
    "com.sg",
    "com.my",
    "co.in",
    "net.in",
    "org.in",
    "co.id",
    "co.za",
    "co.il",
    "com.br",
    "net.br",
    "org.br",
    "com.mx",
    "com.ar",
    "com.tr",
    "com.ua",
    "co.th",
    "com.vn",
    "com.pl",
    "com.es",
    "co.at",
    "or.at",
    "com.ru",
    "co.uk.com",
    "uk.com",
    "us.com",
    "eu.com",
    "github.io",
    "gitlab.io",
    "githubusercontent.com",
    "herokuapp.com",
    "vercel.app",
    "netlify.app",
    "pages.dev",
    "workers.dev",
    "web.app",
    "firebaseapp.com",
    "appspot.com",
    "azurewebsites.net",
    "cloudapp.net",
    "cloudfront.net",
    "amazonaws.com",
    "s3.amazonaws.com",
    "blogspot.com",
    "ngrok.io",
    "ngrok-free.app",
    "ngrok.app",
    "trycloudflare.com",
    "glitch.me",
    "repl.co",
    "surge.sh",
    "onrender.com",
    "fly.dev",
    "up.railway.app",
    "deno.dev",
    "duckdns.org",
    "no-ip.org",
    "readthedocs.io",
};

static bool is_public_suffix(const char *suffix)
{
	for (size_t i = 0; i < ARRAY_SIZE(public_suffixes); i++)
		if (strcmp(suffix, public_suffixes[i]) == 0)
			return true;
	return false;
}

static int rule_fail(struct sk_err *err, const struct netrule *rule, const char *in, size_t len,
		     const char *why)
{
	char shown[80];

	return sk_fail(err, LAYER, 0, NULL, "--%s-net %s: %s", rule->is_deny ? "deny" : "allow",
		       printable(in, len, shown, sizeof(shown)), why);
}

/* Whether `name` is below `suffix` by whole labels ("a.example.com" under "example.com"). */
static bool name_is_under(const char *name, const char *suffix)
{
	size_t name_len = strlen(name), suffix_len = strlen(suffix);

	return name_len >= suffix_len + 2 && name[name_len - suffix_len - 1] == '.' &&
	       strcmp(name + name_len - suffix_len, suffix) == 0;
}

static int parse_wildcard(const char *in, size_t len, struct netrule *rule, struct sk_err *err)
{
	size_t labels = 1;

	if (len == 1)
		return rule_fail(
		    err, rule, in, len,
		    "a bare '*' allows everything; name hosts, or use --network public "
		    "(ports: \":PORT\")");
	if (len < 3 || in[1] != '.')
		return rule_fail(err, rule, in, len, "a wildcard must be written \"*.SUFFIX\"");
	if (memchr(in + 1, '*', len - 1))
		return rule_fail(err, rule, in, len, "only one leading \"*.\" is allowed");
	if (hostmatch_canonicalize(in + 2, len - 2, rule->host, sizeof(rule->host), err) < 0)
		return -1;
	for (const char *p = rule->host; *p; p++)
		labels += *p == '.';
	if (!rule->is_deny && (labels < 2 || is_public_suffix(rule->host)))
		return rule_fail(err, rule, in, len,
				 "a wildcard over a public suffix allows anyone's hosts; name "
				 "a registered domain (\"*.example.com\")");
	if (!rule->is_deny && name_is_under(HOSTMATCH_HOST_SERVICE, rule->host))
		return rule_fail(err, rule, in, len,
				 "no wildcard reaches the host's services: name one with its port, "
				 "e.g. " HOSTMATCH_HOST_SERVICE ":11434");
	rule->kind = NETRULE_WILDCARD;
	return 0;
}

static int parse_cidr_rule(const char *in, size_t len, struct netrule *rule, struct sk_err *err)
{
	if (cidr_parse(in, len, &rule->net, err) < 0)
		return -1;
	/* An allow CIDR also lifts the forbidden ranges (loopback, metadata) it contains:
	 * 0.0.0.0/0 or ::/1 is "allow everything" in another spelling. */
	if (!rule->is_deny && rule->net.prefix_len < 8)
		return rule_fail(err, rule, in, len, "an allowed network must be /8 or narrower");
	rule->kind = NETRULE_CIDR;
	return 0;
}

static int parse_rule_host(const char *in, size_t len, bool is_bracketed, struct netrule *rule,
			   struct sk_err *err)
{
	struct nethost host;

	if (len == 0)
		return rule_fail(err, rule, in, len, "empty host");
	if (is_bracketed && !memchr(in, ':', len))
		return rule_fail(err, rule, in, len, "brackets are for IPv6 only");
	if (memchr(in, '/', len))
		return parse_cidr_rule(in, len, rule, err);
	if (in[0] == '*')
		return parse_wildcard(in, len, rule, err);
	if (hostmatch_parse_host(in, len, &host, err) < 0)
		return -1;
	if (!host.is_ip) {
		/* The host's services are one port each, named by the caller: a rule without
		 * one would otherwise mean 80 and 443 of the host's loopback. */
		if (!rule->is_deny && !rule->port && hostmatch_is_host_service(host.text))
			return rule_fail(err, rule, in, len,
					 "the host's services are reached one port at a time: "
					 "name it, e.g. " HOSTMATCH_HOST_SERVICE ":11434");
		rule->kind = NETRULE_NAME;
		memcpy(rule->host, host.text, sizeof(rule->host));
		return 0;
	}
	rule->kind = NETRULE_IP;
	rule->net.addr = host.ip;
	rule->net.prefix_len = host.ip.family == AF_INET ? 32 : 128;
	return 0;
}

static void rule_format(struct netrule *rule)
{
	char host[HOSTMATCH_NAME_MAX + 8];
	char addr[NETADDR_TEXT_MAX];
	bool is_v6 = rule->kind >= NETRULE_IP && rule->net.addr.family == AF_INET6;

	netaddr_format(&rule->net.addr, addr, sizeof(addr));
	if (rule->kind == NETRULE_PORT)
		host[0] = '\0';
	else if (rule->kind == NETRULE_NAME)
		snprintf(host, sizeof(host), "%s", rule->host);
	else if (rule->kind == NETRULE_WILDCARD)
		snprintf(host, sizeof(host), "*.%s", rule->host);
	else if (rule->kind == NETRULE_IP)
		snprintf(host, sizeof(host), is_v6 ? "[%s]" : "%s", addr);
	else
		snprintf(host, sizeof(host), is_v6 ? "[%s/%u]" : "%s/%u", addr,
			 rule->net.prefix_len);
	if (rule->port)
		snprintf(rule->text, sizeof(rule->text), "%s:%u%s", host, rule->port,
			 rule->is_raw ? "/raw" : "");
	else
		snprintf(rule->text, sizeof(rule->text), "%s", host);
}

/* "/raw" ends the rule: what must hold for it. Only a name has something a tunnel's content
 * could contradict; an explicit port keeps the opt-in as narrow as the protocol it is for
 * (a rule without one allows 80 and 443, which carry TLS and HTTP, always checked). */
static int check_raw(const char *text, size_t len, const struct netrule *rule, struct sk_err *err)
{
	if (rule->is_deny)
		return rule_fail(err, rule, text, len, "/raw is for --allow-net rules only");
	if (rule->kind == NETRULE_IP || rule->kind == NETRULE_CIDR || rule->kind == NETRULE_PORT)
		return rule_fail(err, rule, text, len,
				 "/raw is for host names: a tunnel to an IP address or network is "
				 "never checked for a name anyway, and one to any host is never "
				 "unchecked");
	if (!rule->port)
		return rule_fail(
		    err, rule, text, len,
		    "/raw needs an explicit port (HOST:PORT/raw), e.g. db.example.com:5432/raw");
	return 0;
}

int netrule_parse(const char *text, size_t len, bool is_deny, struct netrule *rule,
		  struct sk_err *err)
{
	const char *host = text, *colon, *slash;
	size_t host_len, whole_len = len; /* errors show the rule as given, "/raw" included */
	bool is_bracketed = false;

	memset(rule, 0, sizeof(*rule));
	rule->is_deny = is_deny;
	if (len >= 4 && memcmp(text + len - 4, "/raw", 4) == 0) {
		rule->is_raw = true;
		len -= 4;
	}
	host_len = len;
	if (len > 0 && text[0] == '[') {
		const char *close = memchr(text, ']', len);
		if (!close)
			return rule_fail(err, rule, text, whole_len, "missing ']'");
		host = text + 1;
		host_len = (size_t)(close - host);
		colon = close + 1 < text + len ? close + 1 : NULL;
		if (colon && *colon != ':')
			return rule_fail(err, rule, text, whole_len, "unexpected text after ']'");
		is_bracketed = true;
	} else {
		colon = memchr(text, ':', len);
		if (colon && memchr(colon + 1, ':', len - (size_t)(colon + 1 - text)))
			colon = NULL; /* bare IPv6: no port (write [ADDR]:PORT for one) */
		if (colon)
			host_len = (size_t)(colon - text);
	}
	slash = colon ? memchr(colon, '/', len - (size_t)(colon - text)) : NULL;
	if (slash)
		return rule_fail(err, rule, text, whole_len,
				 "unknown option after the port: the only one is /raw");
	if (colon &&
	    netaddr_parse_port(colon + 1, len - (size_t)(colon + 1 - text), &rule->port) < 0)
		return rule_fail(err, rule, text, whole_len,
				 "the port must be a number from 1 to 65535");
	if (host_len == 0 && colon && !is_bracketed)
		rule->kind = NETRULE_PORT; /* ":PORT" */
	else if (parse_rule_host(host, host_len, is_bracketed, rule, err) < 0)
		return -1;
	if (rule->is_raw && check_raw(text, whole_len, rule, err) < 0)
		return -1;
	rule_format(rule);
	return 0;
}

bool netrule_port_matches(const struct netrule *rule, uint16_t port)
{
	if (rule->port)
		return rule->port == port;
	return rule->is_deny || port == 80 || port == 443;
}

static bool name_matches(const struct netrule *rule, const char *name)
{
	/* The host's services: only the exact rule with its port lets one through (the
	 * parser refuses the other allow rules that could name it; this holds regardless). */
	bool is_exact_only = !rule->is_deny && hostmatch_is_host_service(name);

	if (rule->kind == NETRULE_NAME)
		return strcmp(rule->host, name) == 0;
	if (rule->kind == NETRULE_PORT)
		return !is_exact_only;
	/* Whole labels only: "a.example.com" but not "badexample.com" nor "example.com". */
	return rule->kind == NETRULE_WILDCARD && !is_exact_only && name_is_under(name, rule->host);
}

bool netrule_matches_addr(const struct netrule *rule, const struct netaddr *addr, uint16_t port)
{
	if (rule->kind != NETRULE_IP && rule->kind != NETRULE_CIDR)
		return false;
	return netrule_port_matches(rule, port) && cidr_contains(&rule->net, addr);
}

bool netrule_matches_host(const struct netrule *rule, const struct nethost *host, uint16_t port)
{
	if (host->is_ip && rule->kind == NETRULE_PORT)
		return netrule_port_matches(rule, port);
	if (host->is_ip)
		return netrule_matches_addr(rule, &host->ip, port);
	return netrule_port_matches(rule, port) && name_matches(rule, host->text);
}

void netpolicy_init(struct netpolicy *policy)
{
	memset(policy, 0, sizeof(*policy));
}

int netpolicy_add(struct netpolicy *policy, const char *text, size_t len, bool is_deny,
		  struct sk_err *err)
{
	if (policy->rule_count >= NETPOLICY_MAX_RULES)
		return sk_fail(err, LAYER, 0, "use CIDRs or wildcards to shorten the list",
			       "more than %d --allow-net/--deny-net rules", NETPOLICY_MAX_RULES);
	if (netrule_parse(text, len, is_deny, &policy->rules[policy->rule_count], err) < 0)
		return -1;
	policy->rule_count++;
	return 0;
}

/* Which of two matching allow rules decides: a /raw one (the caller named that port's
 * protocol as one that cannot be checked), then one naming the host (its text is the audit
 * record's), then a port rule. */
static int allow_rank(const struct netrule *rule)
{
	return rule->is_raw ? 2 : rule->kind != NETRULE_PORT;
}

static enum netverdict verdict_for(const struct netpolicy *policy, const struct nethost *host,
				   uint16_t port, const struct netrule **matched)
{
	const struct netrule *allow = NULL;

	if (matched)
		*matched = NULL;
	for (size_t i = 0; i < policy->rule_count; i++) {
		const struct netrule *rule = &policy->rules[i];
		if (!netrule_matches_host(rule, host, port))
			continue;
		if (rule->is_deny) {
			if (matched)
				*matched = rule;
			return NETVERDICT_DENY_RULE;
		}
		if (!allow || allow_rank(rule) > allow_rank(allow))
			allow = rule;
	}
	if (matched)
		*matched = allow;
	return allow ? NETVERDICT_ALLOW : NETVERDICT_DENY_NO_RULE;
}

enum netverdict netpolicy_check_name(const struct netpolicy *policy, const char *canonical_host,
				     uint16_t port, const struct netrule **matched)
{
	struct nethost host = {.is_ip = false};
	struct sk_err err = {0};
	size_t len = strnlen(canonical_host, sizeof(host.text));

	/* Only a string that is already its own canonical name is matched as a name. */
	if (matched)
		*matched = NULL;
	if (hostmatch_canonicalize(canonical_host, len, host.text, sizeof(host.text), &err) < 0 ||
	    strcmp(host.text, canonical_host) != 0)
		return NETVERDICT_DENY_NO_RULE;
	return verdict_for(policy, &host, port, matched);
}

enum netverdict netpolicy_check_ip(const struct netpolicy *policy, const struct netaddr *addr,
				   uint16_t port, const struct netrule **matched)
{
	struct nethost host = {.is_ip = true, .ip = *addr};

	netaddr_unmap(&host.ip);
	return verdict_for(policy, &host, port, matched);
}

enum netverdict netpolicy_check_host(const struct netpolicy *policy, const struct nethost *host,
				     uint16_t port, const struct netrule **matched)
{
	if (host->is_ip)
		return netpolicy_check_ip(policy, &host->ip, port, matched);
	return netpolicy_check_name(policy, host->text, port, matched);
}

const char *netverdict_name(enum netverdict verdict)
{
	switch (verdict) {
	case NETVERDICT_ALLOW:
		return "allow";
	case NETVERDICT_DENY_RULE:
		return "deny-rule";
	case NETVERDICT_DENY_NO_RULE:
		return "deny-no-rule";
	}
	return "?";
}
