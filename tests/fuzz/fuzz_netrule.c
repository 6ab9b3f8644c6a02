/* Fuzzes the egress policy's parsers (src/net/hostmatch.c, addrpolicy.c): host names, host
 * fields, IP literals, CIDRs and --allow-net rules, with their contracts: a canonical name
 * canonicalizes to itself; a parsed address formats to a literal that parses back equal; an
 * accepted rule, re-parsed from its own canonical text, is the same rule. */
#undef NDEBUG
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "net/addrpolicy.h"
#include "net/hostmatch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	char name[HOSTMATCH_NAME_MAX + 1], again[HOSTMATCH_NAME_MAX + 1], buf[64];
	struct sk_err err = {0};
	struct netaddr addr, back;
	struct nethost host;
	struct netrule rule, rule2;
	struct cidr net;

	if (hostmatch_canonicalize(text, size, name, sizeof(name), &err) == 0) {
		assert(hostmatch_canonicalize(name, strlen(name), again, sizeof(again), &err) == 0);
		assert(strcmp(name, again) == 0);
	}
	if (netaddr_parse(text, size, &addr) == 0) {
		netaddr_format(&addr, buf, sizeof(buf));
		assert(netaddr_parse(buf, strlen(buf), &back) == 0 && netaddr_equal(&addr, &back));
	}
	(void)hostmatch_parse_host(text, size, &host, &err);
	(void)cidr_parse(text, size, &net, &err);
	for (int is_deny = 0; is_deny < 2; is_deny++) {
		if (netrule_parse(text, size, is_deny, &rule, &err) != 0)
			continue;
		assert(netrule_parse(rule.text, strlen(rule.text), is_deny, &rule2, &err) == 0);
		assert(rule2.kind == rule.kind && rule2.port == rule.port &&
		       rule2.is_raw == rule.is_raw && strcmp(rule2.text, rule.text) == 0);
	}
	return 0;
}
