/* Unit tests for src/cli/srt.c and srt_net.c: sandbox-runtime's settings as a stockade spec.
 * The network rules are checked by meaning, not only by text: srt's own matching (transcribed
 * below from its domain-pattern.js and filterNetworkRequest) and stockade's matcher
 * (net/hostmatch.c, on the translated rules) decide a grid of hosts and ports, and must agree
 * but where the notes say stockade is stricter. Every other field: its warning or its error,
 * at its place. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/srt.h"
#include "net/hostmatch.h"
#include "net/netaddr.h"

/* ---- helpers ---- */

#define FS_NONE "\"filesystem\": {\"denyRead\": [], \"allowWrite\": [], \"denyWrite\": []}"
#define NET_NONE "\"network\": {\"allowedDomains\": [], \"deniedDomains\": []}"

static struct srt_notes notes;

static json_t *translate(const char *text)
{
	return srt_translate(text, strlen(text), &notes);
}

static const char *notes_text(void)
{
	static char out[16384];

	out[0] = '\0';
	for (size_t i = 0; i < notes.count; i++) {
		char line[800];
		snprintf(line, sizeof(line), "%d:%d %s %s: %s\n", notes.list[i].pos.line,
			 notes.list[i].pos.col, notes.list[i].path,
			 notes.list[i].is_error ? "error" : "warning", notes.list[i].text);
		strncat(out, line, sizeof(out) - strlen(out) - 1);
	}
	return out;
}

/* The note at path of that kind whose text has words; fails the test when there is none. */
static const struct srt_note *expect_note(const char *path, bool is_error, const char *words)
{
	for (size_t i = 0; i < notes.count; i++)
		if (strcmp(notes.list[i].path, path) == 0 && notes.list[i].is_error == is_error &&
		    strstr(notes.list[i].text, words))
			return &notes.list[i];
	fail_msg("no %s at %s with \"%s\"; the notes:\n%s", is_error ? "error" : "warning", path,
		 words, notes_text());
	return NULL;
}

static size_t count_notes(bool is_error)
{
	size_t n = 0;

	for (size_t i = 0; i < notes.count; i++)
		n += notes.list[i].is_error == is_error;
	return n;
}

/* The rules of a translated document's network (kind: "allow" or "deny"), joined by ' '. */
static const char *rules_of(const json_t *doc, const char *kind)
{
	static char out[4096];
	const json_t *list = json_object_get(json_object_get(doc, "network"), kind);
	size_t i;
	json_t *item;

	out[0] = '\0';
	json_array_foreach(list, i, item)
	{
		if (i)
			strncat(out, " ", sizeof(out) - strlen(out) - 1);
		strncat(out, json_string_value(item), sizeof(out) - strlen(out) - 1);
	}
	return out;
}

/* ---- the network, by meaning ---- */

/* srt's matchesDomainPatternWithPort, for the patterns of these tests: "[v6]", "HOST:PORT",
 * "*", "*.suffix" (never an IP), else the name itself, case-insensitive. */
static bool srt_matches(const char *host, unsigned port, const char *pattern)
{
	char hp[128];
	unsigned pp = 0;
	const char *colon;
	struct netaddr addr;

	if (pattern[0] == '[') {
		const char *close = strchr(pattern, ']');
		snprintf(hp, sizeof(hp), "%.*s", (int)(close - pattern - 1), pattern + 1);
		if (close[1] == ':')
			pp = (unsigned)atoi(close + 2);
	} else if ((colon = strchr(pattern, ':'))) {
		snprintf(hp, sizeof(hp), "%.*s", (int)(colon - pattern), pattern);
		pp = (unsigned)atoi(colon + 1);
	} else {
		snprintf(hp, sizeof(hp), "%s", pattern);
	}
	if (pp && pp != port)
		return false;
	if (strcmp(hp, "*") == 0)
		return true;
	if (strncmp(hp, "*.", 2) == 0) {
		size_t hl = strlen(host), sl = strlen(hp + 1);
		if (netaddr_parse(host, strlen(host), &addr) == 0)
			return false;
		return hl > sl && strcasecmp(host + hl - sl, hp + 1) == 0;
	}
	return strcasecmp(host, hp) == 0;
}

/* filterNetworkRequest: deny first, then allow, else deny. */
static bool srt_allows(const char *host, unsigned port, const char *const *allow,
		       const char *const *deny)
{
	for (; *deny; deny++)
		if (srt_matches(host, port, *deny))
			return false;
	for (; *allow; allow++)
		if (srt_matches(host, port, *allow))
			return true;
	return false;
}

/* What the translation promises: srt's decision, where an allow entry without a port counts
 * for 443 and 80 only (the warning says so). */
static bool promised(const char *host, unsigned port, const char *const *allow,
		     const char *const *deny)
{
	for (const char *const *d = deny; *d; d++)
		if (srt_matches(host, port, *d))
			return false;
	for (; *allow; allow++) {
		bool has_port = strchr(*allow, ':') && (*allow)[0] != '[';
		has_port |= (*allow)[0] == '[' && strstr(*allow, "]:");
		if (srt_matches(host, port, *allow) && (has_port || port == 80 || port == 443))
			return true;
	}
	return false;
}

static bool stockade_allows(const json_t *doc, const char *host, unsigned port)
{
	static struct netpolicy policy;
	struct sk_err err = {0};
	struct netaddr addr;
	const char *kinds[] = {"allow", "deny"};
	size_t i;
	json_t *item;

	netpolicy_init(&policy);
	for (size_t k = 0; k < 2; k++)
		json_array_foreach(json_object_get(json_object_get(doc, "network"), kinds[k]), i,
				   item)
		{
			const char *text = json_string_value(item);
			assert_int_equal(netpolicy_add(&policy, text, strlen(text), k == 1, &err),
					 0);
		}
	if (netaddr_parse(host, strlen(host), &addr) == 0)
		return netpolicy_check_ip(&policy, &addr, (uint16_t)port, NULL) == NETVERDICT_ALLOW;
	return netpolicy_check_name(&policy, host, (uint16_t)port, NULL) == NETVERDICT_ALLOW;
}

static void test_rules_mean_what_srt_means(void **state)
{
	static const struct {
		const char *allow[8], *deny[8];
	} configs[] = {
	    {{"example.com", "*.example.com:8443", "other.test:22", "127.0.0.1:3000", "[::1]"},
	     {"*.a.example.com", "example.com:80"}},
	    {{"*.example.com", "other.test", "10.1.2.3"}, {"example.com", "*:443"}},
	    {{"example.com", "Sub.Example.com", "127.0.0.1", "[2001:db8::1]:8443"},
	     {"*:80", "127.0.0.1:443", "x.other.test"}},
	    {{"*.example.com:443", "x.other.test"}, {"*"}},
	};
	static const char *const hosts[] = {"example.com",
					    "a.example.com",
					    "b.a.example.com",
					    "sub.example.com",
					    "badexample.com",
					    "example.com.evil.test",
					    "other.test",
					    "x.other.test",
					    "127.0.0.1",
					    "10.1.2.3",
					    "::1",
					    "2001:db8::1"};
	static const unsigned ports[] = {22, 80, 443, 3000, 8443};
	(void)state;

	for (size_t c = 0; c < sizeof(configs) / sizeof(configs[0]); c++) {
		char text[2048] = "{" FS_NONE ", \"network\": {\"allowedDomains\": [";
		for (size_t k = 0; k < 2; k++) {
			const char *const *list = k ? configs[c].deny : configs[c].allow;
			if (k)
				strcat(text, "], \"deniedDomains\": [");
			for (size_t i = 0; list[i]; i++)
				sprintf(text + strlen(text), "%s\"%s\"", i ? ", " : "", list[i]);
		}
		strcat(text, "]}}");
		json_t *doc = translate(text);
		if (!doc)
			fail_msg("%s\n%s", text, notes_text());
		for (size_t h = 0; h < sizeof(hosts) / sizeof(hosts[0]); h++)
			for (size_t p = 0; p < sizeof(ports) / sizeof(ports[0]); p++) {
				bool srt = srt_allows(hosts[h], ports[p], configs[c].allow,
						      configs[c].deny);
				bool want =
				    promised(hosts[h], ports[p], configs[c].allow, configs[c].deny);
				bool got = stockade_allows(doc, hosts[h], ports[p]);
				if (got != want || (got && !srt))
					fail_msg("config %zu, %s port %u: srt %d, promised %d, "
						 "stockade %d\nrules: allow %s; deny %s",
						 c, hosts[h], ports[p], srt, want, got,
						 rules_of(doc, "allow"), rules_of(doc, "deny"));
			}
		json_decref(doc);
	}
}

static void test_ports_made_explicit(void **state)
{
	json_t *doc;
	(void)state;

	/* srt's README recipe "Allow GitHub access": every entry without a port */
	doc = translate("{\"network\": {\"allowedDomains\": [\"github.com\", \"*.github.com\", "
			"\"lfs.github.com\", \"api.github.com\"], \"deniedDomains\": []}, " FS_NONE
			"}");
	assert_non_null(doc);
	assert_string_equal(rules_of(doc, "allow"),
			    "github.com:443 github.com:80 *.github.com:443 *.github.com:80 "
			    "lfs.github.com:443 lfs.github.com:80 api.github.com:443 "
			    "api.github.com:80");
	assert_string_equal(rules_of(doc, "deny"), "");
	expect_note("network.allowedDomains", false,
		    "4 entries without a port, which srt lets reach every port: stockade's rules "
		    "name ports 443 and 80");
	expect_note("network.allowedDomains", false, "refused unless an IP rule allows");
	json_decref(doc);
	/* a port given is the port; one rule each however often it is asked for; no port
	 * warning without a portless entry; the tunnel check named for a port that is not web */
	doc = translate(
	    "{\"network\": {\"allowedDomains\": [\"a.test:8443\", \"A.test:8443\", "
	    "\"b.test:443\", \"[::1]:22\"], \"deniedDomains\": [\"c.a.test\"]}, " FS_NONE "}");
	assert_non_null(doc);
	assert_string_equal(rules_of(doc, "allow"), "a.test:8443 b.test:443 [::1]:22");
	assert_string_equal(rules_of(doc, "deny"), "c.a.test");
	expect_note("network.allowedDomains[0]", false, "write \"a.test:8443/raw\"");
	for (size_t i = 0; i < notes.count; i++)
		assert_null(strstr(notes.list[i].text, "without a port"));
	json_decref(doc);
	/* "*" denies everything: no network at all, and the deny rules with it */
	doc = translate("{\"network\": {\"allowedDomains\": [\"a.test\"], \"deniedDomains\": "
			"[\"*\", \"b.test\"]}, " FS_NONE "}");
	assert_non_null(doc);
	assert_null(json_object_get(doc, "network"));
	json_decref(doc);
	/* nothing allowed: no network, even with deny rules stockade could not write */
	doc =
	    translate("{\"network\": {\"allowedDomains\": [], \"deniedDomains\": [\"exa "
		      "mple.test\"], \"deniedResolvedAddresses\": [\"10.0.0.0/8\"]}, " FS_NONE "}");
	assert_non_null(doc);
	assert_null(json_object_get(doc, "network"));
	json_decref(doc);
}

static void test_resolved_addresses(void **state)
{
	json_t *doc;
	(void)state;

	doc = translate("{\"network\": {\"allowedDomains\": [\"a.test:443\", \"10.9.9.9:443\"], "
			"\"deniedDomains\": [], \"deniedResolvedAddresses\": [\"10.0.0.0/8\", "
			"\"fc00::/7\", \"::ffff:192.168.0.0/112\", \"172.16.1.1/12\", "
			"\"169.254.1.1\"]}, " FS_NONE "}");
	if (!doc)
		fail_msg("%s", notes_text());
	/* networks as srt reads them: mapped IPv4 as IPv4, host bits ignored */
	assert_string_equal(rules_of(doc, "deny"),
			    "10.0.0.0/8 [fc00::/7] 192.168.0.0/16 172.16.0.0/12 169.254.1.1/32");
	expect_note("network.allowedDomains[1]", false, "also refuse this address");
	json_decref(doc);
	assert_null(translate("{\"network\": {\"allowedDomains\": [\"a.test\"], "
			      "\"deniedDomains\": [], \"deniedResolvedAddresses\": "
			      "[\"10.0.0.0/33\", \"[::1]\", \"::ffff:1.2.3.4/64\"]}, " FS_NONE
			      "}"));
	expect_note("network.deniedResolvedAddresses[0]", true, "srt refuses this entry");
	expect_note("network.deniedResolvedAddresses[1]", true, "srt refuses this entry");
	expect_note("network.deniedResolvedAddresses[2]", true, "srt refuses this entry");
}

/* ---- every other field ---- */

struct case_note {
	const char *text; /* the document */
	const char *path; /* the note's place */
	bool is_error;
	const char *words;
};

static void check_cases(const struct case_note *cases, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		json_t *doc = translate(cases[i].text);
		if ((doc != NULL) == cases[i].is_error)
			fail_msg("case %zu: %s: expected %s\n%s", i, cases[i].text,
				 cases[i].is_error ? "no document" : "a document", notes_text());
		if (cases[i].is_error)
			assert_true(notes.errors > 0);
		expect_note(cases[i].path, cases[i].is_error, cases[i].words);
		json_decref(doc);
	}
}

/* Permissions srt grants and stockade does not: a warning, and still a document. */
static void test_dropped_permissions_warn(void **state)
{
	static const struct case_note cases[] = {
	    {"{\"network\": {\"allowedDomains\": [], \"deniedDomains\": [], \"allowUnixSockets\": "
	     "[\"/var/run/docker.sock\"]}, " FS_NONE "}",
	     "network.allowUnixSockets", false, "no unix socket of the host is reachable"},
	    {"{\"network\": {\"allowedDomains\": [], \"deniedDomains\": [], "
	     "\"allowAllUnixSockets\": true}, " FS_NONE "}",
	     "network.allowAllUnixSockets", false, "no unix socket of the host"},
	    {"{\"network\": {\"allowedDomains\": [], \"deniedDomains\": [], \"allowLocalBinding\": "
	     "true}, " FS_NONE "}",
	     "network.allowLocalBinding", false, "a loopback of its own"},
	    {"{\"network\": {\"allowedDomains\": [\"*.github.io\"], \"deniedDomains\": "
	     "[]}, " FS_NONE "}",
	     "network.allowedDomains[0]", false, "\"*.github.io\" is not carried over"},
	    {"{\"network\": {\"allowedDomains\": [], \"deniedDomains\": [], \"tlsTerminate\": "
	     "{\"excludeDomains\": []}}, " FS_NONE "}",
	     "network.tlsTerminate", false, "does not terminate TLS"},
	    {"{\"network\": {\"allowedDomains\": [], \"deniedDomains\": [], "
	     "\"deniedDomainReasons\": "
	     "{\"x.test\": \"no\"}}, " FS_NONE "}",
	     "network.deniedDomainReasons", false, "their own reason"},
	    {"{" NET_NONE ", \"filesystem\": {\"denyRead\": [], \"allowWrite\": [\".\", \"/tmp\"], "
	     "\"denyWrite\": []}}",
	     "filesystem.allowWrite", false, "nothing of the host is writable"},
	    {"{" NET_NONE ", \"filesystem\": {\"denyRead\": [\"/home\"], \"allowRead\": [\".\"], "
	     "\"allowWrite\": [], \"denyWrite\": []}}",
	     "filesystem.allowRead", false, "volume import"},
	    {"{" NET_NONE ", \"filesystem\": {\"denyRead\": [], \"allowWrite\": [], "
	     "\"denyWrite\": [\".env\"]}}",
	     "filesystem.denyWrite", false, "holds without a rule"},
	    {"{" NET_NONE ", \"filesystem\": {\"denyRead\": [\"/usr\"], \"allowWrite\": [], "
	     "\"denyWrite\": [], \"disabled\": true}}",
	     "filesystem.disabled", false, "whole file system"},
	    {"{" NET_NONE ", \"filesystem\": {\"denyRead\": [], \"allowWrite\": [], "
	     "\"denyWrite\": [], \"allowGitConfig\": true}}",
	     "filesystem.allowGitConfig", false, ".git/config"},
	    {"{" NET_NONE ", " FS_NONE ", \"enableWeakerNestedSandbox\": true}",
	     "enableWeakerNestedSandbox", false, "no weaker mode"},
	    {"{" NET_NONE ", " FS_NONE ", \"ignoreViolations\": {\"*\": [\"/usr/bin\"]}}",
	     "ignoreViolations", false, "--audit"},
	    {"{" NET_NONE ", " FS_NONE ", \"mandatoryDenySearchDepth\": 5}",
	     "mandatoryDenySearchDepth", false, "stay unwritable"},
	    {"{" NET_NONE ", " FS_NONE ", \"bwrapPath\": \"/usr/bin/bwrap\"}", "bwrapPath", false,
	     "srt's own helper"},
	    {"{" NET_NONE ", " FS_NONE ", \"credentials\": {\"envVars\": [{\"name\": \"GH_TOKEN\", "
	     "\"mode\": \"mask\"}]}}",
	     "credentials", false, "injects no credential"},
	    {"{" NET_NONE ", " FS_NONE ", \"git\": {\"safeDirectories\": [\"/src\"]}}", "git",
	     false, "no git configuration"},
	};
	(void)state;
	check_cases(cases, sizeof(cases) / sizeof(cases[0]));
	/* the defaults and the equivalents say nothing */
	json_t *doc = translate("{" NET_NONE ", " FS_NONE ", \"enableWeakerNestedSandbox\": false, "
				"\"allowPty\": true, \"credentials\": {\"envVars\": [{\"name\": "
				"\"AWS_SECRET\", \"mode\": \"deny\"}], \"files\": [{\"path\": "
				"\"~/.aws/credentials\", \"mode\": \"deny\"}]}}");
	assert_non_null(doc);
	assert_int_equal(notes.count, 1); /* the read model, said at filesystem.denyRead */
	expect_note("filesystem.denyRead", false, "system tree");
	json_decref(doc);
}

/* Restrictions stockade cannot express, fields it does not know, files srt refuses: an error,
 * no document. */
static void test_lost_restrictions_are_errors(void **state)
{
	static const struct case_note cases[] = {
	    /* unknown, at every level */
	    {"{" NET_NONE ", " FS_NONE ", \"allowEverything\": false}", "allowEverything", true,
	     "unknown srt field"},
	    {"{\"network\": {\"allowedDomains\": [], \"deniedDomains\": [], \"blockPorts\": "
	     "[25]}, " FS_NONE "}",
	     "network.blockPorts", true, "unknown srt field"},
	    {"{" NET_NONE ", \"filesystem\": {\"denyRead\": [], \"allowWrite\": [], \"denyWrite\": "
	     "[], \"denyExec\": [\"/usr/bin/curl\"]}}",
	     "filesystem.denyExec", true, "unknown srt field"},
	    {"{" NET_NONE ", " FS_NONE ", \"credentials\": {\"injectHosts\": []}}",
	     "credentials.injectHosts", true, "unknown srt field"},
	    {"{\"network\": {\"allowedDomains\": [], \"deniedDomains\": [], \"tlsTerminate\": "
	     "{\"denyMethods\": [\"POST\"]}}, " FS_NONE "}",
	     "network.tlsTerminate.denyMethods", true, "unknown srt field"},
	    /* reads srt denies of what stockade shows */
	    {"{" NET_NONE
	     ", \"filesystem\": {\"denyRead\": [\"/etc/ssl/private\"], \"allowWrite\": "
	     "[], \"denyWrite\": []}}",
	     "filesystem.denyRead[0]", true, "shows the host's /etc/ssl"},
	    {"{" NET_NONE
	     ", \"filesystem\": {\"denyRead\": [\"/usr/lib/**/*.key\"], \"allowWrite\": "
	     "[], \"denyWrite\": []}}",
	     "filesystem.denyRead[0]", true, "shows the host's /usr"},
	    {"{" NET_NONE ", \"filesystem\": {\"denyRead\": [\"/proc/cpuinfo\"], \"allowWrite\": "
	     "[], \"denyWrite\": []}}",
	     "filesystem.denyRead[0]", true, "a /proc of its own"},
	    {"{" NET_NONE ", \"filesystem\": {\"denyRead\": [\"/\"], \"allowRead\": [\"/usr\"], "
	     "\"allowWrite\": [], \"denyWrite\": []}}",
	     "filesystem.denyRead[0]", true, "shows the host's /bin"},
	    {"{" NET_NONE ", \"filesystem\": {\"denyRead\": [\"/usr/share/x\"], \"allowRead\": "
	     "[\"/usr\"], \"allowWrite\": [], \"denyWrite\": []}}",
	     "filesystem.denyRead[0]", true, "\"/usr/share/x\" cannot be hidden"},
	    {"{" NET_NONE ", " FS_NONE ", \"credentials\": {\"files\": [{\"path\": "
	     "\"/etc/ssl/private/k.pem\", \"mode\": \"deny\"}]}}",
	     "credentials.files[0]", true, "shows the host's /etc/ssl"},
	    {"{" NET_NONE ", " FS_NONE ", \"credentials\": {\"envVars\": [{\"name\": \"LANG\", "
	     "\"mode\": \"deny\"}]}}",
	     "credentials.envVars[0]", true, "passes the caller's LANG"},
	    /* deny rules stockade cannot write, with something allowed */
	    {"{\"network\": {\"allowedDomains\": [\"a.test\"], \"deniedDomains\": [\"b_c.a.tes "
	     "t\"]}, " FS_NONE "}",
	     "network.deniedDomains[0]", true, "cannot be written as a stockade rule"},
	    /* another proxy's filter */
	    {"{\"network\": {\"allowedDomains\": [], \"deniedDomains\": [], \"httpProxyPort\": "
	     "8080}, " FS_NONE "}",
	     "network.httpProxyPort", true, "cannot be carried over"},
	    {"{\"network\": {\"allowedDomains\": [], \"deniedDomains\": [], \"parentProxy\": "
	     "{\"http\": \"http://proxy.corp:3128\"}}, " FS_NONE "}",
	     "network.parentProxy", true, "cannot be carried over"},
	    {"{\"network\": {\"allowedDomains\": [], \"deniedDomains\": [], \"mitmProxy\": "
	     "{\"socketPath\": \"/tmp/m.sock\", \"domains\": [\"a.test\"]}}, " FS_NONE "}",
	     "network.mitmProxy", true, "cannot be carried over"},
	    /* what srt itself refuses */
	    {"{\"network\": {\"allowedDomains\": [\"*.com\"], \"deniedDomains\": []}, " FS_NONE "}",
	     "network.allowedDomains[0]", true, "srt refuses this entry"},
	    {"{\"network\": {\"allowedDomains\": [\"*\"], \"deniedDomains\": []}, " FS_NONE "}",
	     "network.allowedDomains[0]", true, "srt refuses this entry"},
	    {"{\"network\": {\"allowedDomains\": [\"2001:db8::1:443\"], \"deniedDomains\": "
	     "[]}, " FS_NONE "}",
	     "network.allowedDomains[0]", true, "must be in brackets"},
	    {"{\"network\": {\"allowedDomains\": [\"https://a.test\"], \"deniedDomains\": "
	     "[]}, " FS_NONE "}",
	     "network.allowedDomains[0]", true, "srt refuses this entry"},
	    {"{\"network\": {\"allowedDomains\": [\"a.test:0\"], \"deniedDomains\": []}, " FS_NONE
	     "}",
	     "network.allowedDomains[0]", true, "not a port"},
	    {"{\"network\": {\"allowedDomains\": [], \"deniedDomains\": [1]}, " FS_NONE "}",
	     "network.deniedDomains[0]", true, "expected a string"},
	    {"{\"network\": {\"allowedDomains\": []}, " FS_NONE "}", "network", true,
	     "deniedDomains: missing"},
	    {"{\"network\": {\"allowedDomains\": null, \"deniedDomains\": []}, " FS_NONE "}",
	     "network.allowedDomains", true, "expected a list of strings"},
	    {"{" FS_NONE "}", "", true, "network: missing"},
	    {"{" NET_NONE ", " FS_NONE ", \"allowPty\": \"yes\"}", "allowPty", true,
	     "expected true or false"},
	    /* not JSON, or not srt's shape */
	    {"{\"network\": {", "", true, "not valid JSON"},
	    {"[]", "", true, "expected an object"},
	    {"{" NET_NONE ", " FS_NONE ", " NET_NONE "}", "", true, "duplicate object key"},
	};
	(void)state;
	check_cases(cases, sizeof(cases) / sizeof(cases[0]));
	/* srt's own deny of "/" leaves /proc and /dev; allowRead that covers every system path
	 * stockade shows lifts it; the workspace recipe denies nothing stockade shows */
	json_t *doc = translate("{" NET_NONE ", \"filesystem\": {\"denyRead\": [\"/\"], "
				"\"allowRead\": [\"/usr\", \"/bin\", \"/sbin\", \"/lib\", "
				"\"/lib32\", \"/lib64\", \"/libx32\", \"/etc\"], \"allowWrite\": "
				"[], \"denyWrite\": []}}");
	if (!doc)
		fail_msg("%s", notes_text());
	json_decref(doc);
	doc = translate("{" NET_NONE ", \"filesystem\": {\"denyRead\": [\"/home\", \"~/.ssh\", "
			"\"**/.env\", \"./secrets\", \"/etc/shadow\", \"/usr2\", \"/tmp\"], "
			"\"allowRead\": [\".\"], \"allowWrite\": [\".\"], \"denyWrite\": []}}");
	if (!doc)
		fail_msg("%s", notes_text());
	assert_int_equal(count_notes(true), 0);
	json_decref(doc);
	/* with the filesystem disabled srt enforces no path rule: nothing to lose */
	doc = translate("{" NET_NONE ", \"filesystem\": {\"disabled\": true, \"denyRead\": "
			"[\"/usr\"], \"allowWrite\": [], \"denyWrite\": []}, \"credentials\": "
			"{\"files\": [{\"path\": \"/etc/ssl/x\", \"mode\": \"deny\"}]}}");
	assert_non_null(doc);
	json_decref(doc);
}

/* Places: line and column of each note, in the order of the text. */
static void test_places(void **state)
{
	static const char text[] =
	    "{\n"
	    "  \"network\": {\n"
	    "    \"allowedDomains\": [\"a.test\"],\n"
	    "    \"deniedDomains\": [],\n"
	    "    \"allowLocalBinding\": true\n"
	    "  },\n"
	    "  \"filesystem\": {\"denyRead\": [\"/etc\"], \"allowWrite\": [],\n"
	    "                 \"denyWrite\": []},\n"
	    "  \"seccomp\": {\"applyPath\": \"/x\"}\n"
	    "}\n";
	const struct srt_note *n;
	(void)state;

	assert_null(translate(text));
	n = expect_note("network.allowedDomains", false, "without a port");
	assert_int_equal(n->pos.line, 3);
	assert_int_equal(n->pos.col, 5);
	n = expect_note("network.allowLocalBinding", false, "loopback");
	assert_int_equal(n->pos.line, 5);
	assert_int_equal(n->pos.col, 5);
	n = expect_note("filesystem.denyRead[0]", true, "\"/etc\" cannot be hidden");
	assert_int_equal(n->pos.line, 7);
	assert_int_equal(n->pos.col, 31);
	n = expect_note("seccomp", false, "built-in filter");
	assert_int_equal(n->pos.line, 9);
	for (size_t i = 1; i < notes.count; i++)
		assert_true(notes.list[i - 1].pos.line < notes.list[i].pos.line ||
			    (notes.list[i - 1].pos.line == notes.list[i].pos.line &&
			     notes.list[i - 1].pos.col <= notes.list[i].pos.col));
	/* a syntax error: jansson's place */
	assert_null(translate("{\n  \"network\": {,\n}"));
	assert_int_equal(notes.count, 1);
	assert_int_equal(notes.list[0].pos.line, 2);
	assert_int_equal(notes.list[0].pos.col, 15);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rules_mean_what_srt_means),
	    cmocka_unit_test(test_ports_made_explicit),
	    cmocka_unit_test(test_resolved_addresses),
	    cmocka_unit_test(test_dropped_permissions_warn),
	    cmocka_unit_test(test_lost_restrictions_are_errors),
	    cmocka_unit_test(test_places),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
