/* Credentials (see credentials.h): the --credential grammar, the checks, and the parent's
 * preparation: placeholders, the run's CA and the sandbox's CA bundle, the proxy's table. The
 * value itself is never read here: it stays in its sealed memfd until the proxy process, forked
 * later, reads it (net/tlsterm.c). */
#define _GNU_SOURCE
#include "sandbox/credentials.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/hostmatch.h"
#include "net/proxy_wire.h"
#include "sandbox/secrets.h"
#include "util/macros.h"

#define CREDENTIAL_HINT                                                                            \
	"NAME=@FILE or NAME=env:VAR, then ,host=HOST[:PORT] (again for more hosts), "              \
	"[,header=NAME] [,format=TEXT with {}] [,file]"

/* ---- the grammar ---- */

static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Header fields that frame or route a request, or belong to the hop to the proxy: a value
 * put there would change what the request is, not who sends it. */
static bool is_reserved_header(const char *name, size_t len)
{
	static const char *const reserved[] = {
	    "host",    "content-length", "transfer-encoding",	"connection",	   "te",
	    "upgrade", "keep-alive",	 "proxy-authorization", "proxy-connection"};

	for (size_t i = 0; i < ARRAY_SIZE(reserved); i++)
		if (strlen(reserved[i]) == len && strncasecmp(reserved[i], name, len) == 0)
			return true;
	return false;
}

static int parse_header(struct sandbox_credential *out, const char *value, size_t len,
			struct sk_err *err)
{
	if (len == 0 || len > SANDBOX_CREDENTIAL_HEADER_MAX)
		return sk_fail(err, "cli", 0, "a header name of 1 to 64 characters",
			       "--credential %s: invalid header=", out->name);
	for (size_t i = 0; i < len; i++)
		if (!is_tchar(value[i]))
			return sk_fail(err, "cli", 0, "a header name is letters, digits and -",
				       "--credential %s: invalid header=", out->name);
	if (is_reserved_header(value, len))
		return sk_fail(err, "cli", 0, "name the header the API reads the key from",
			       "--credential %s: header=%.*s frames or routes the request",
			       out->name, (int)len, value);
	out->header = value;
	out->header_len = len;
	return 0;
}

/* Printable ASCII with exactly one "{}" (where the value goes) and no comma (the grammar's). */
static int parse_format(struct sandbox_credential *out, const char *value, size_t len,
			struct sk_err *err)
{
	const char *mark = memmem(value, len, "{}", 2);

	for (size_t i = 0; i < len; i++)
		if (value[i] < 0x20 || value[i] > 0x7e)
			return sk_fail(err, "cli", 0, "printable ASCII only",
				       "--credential %s: invalid format=", out->name);
	if (!mark || memmem(mark + 2, len - (size_t)(mark + 2 - value), "{}", 2) ||
	    len > SANDBOX_CREDENTIAL_FORMAT_MAX)
		return sk_fail(
		    err, "cli", 0, "e.g. format=Bearer {} or format={}",
		    "--credential %s: format= must hold {} once (at most 128 characters)",
		    out->name);
	out->format = value;
	out->format_len = len;
	return 0;
}

/* An exact name, with an optional port: the proxy makes a certificate for exactly it. */
static int parse_host(struct sandbox_credential *out, const char *value, size_t len,
		      struct sk_err *err)
{
	struct netrule rule;
	struct sk_err ignored = {0};

	if (out->host_count >= SANDBOX_CREDENTIAL_MAX_HOSTS)
		return sk_fail(err, "cli", 0, "at most 8 hosts", "--credential %s: too many hosts",
			       out->name);
	if (len == 0 || netrule_parse(value, len, false, &rule, &ignored) < 0 ||
	    rule.kind != NETRULE_NAME || rule.is_raw)
		return sk_fail(err, "cli", 0,
			       "an exact host name, no wildcard, address or /raw: "
			       "host=api.example.com[:PORT]",
			       "--credential %s: invalid host=%.*s", out->name,
			       (int)(len > 200 ? 200 : len), value);
	out->hosts[out->host_count].text = value;
	out->hosts[out->host_count].len = len;
	out->host_count++;
	return 0;
}

static int parse_option(struct sandbox_credential *out, const char *p, size_t len,
			struct sk_err *err)
{
	if (len >= 5 && strncmp(p, "host=", 5) == 0)
		return parse_host(out, p + 5, len - 5, err);
	if (len >= 7 && strncmp(p, "header=", 7) == 0)
		return parse_header(out, p + 7, len - 7, err);
	if (len >= 7 && strncmp(p, "format=", 7) == 0)
		return parse_format(out, p + 7, len - 7, err);
	if (len == 4 && strncmp(p, "file", 4) == 0) {
		out->is_file = true;
		return 0;
	}
	return sk_fail(err, "cli", 0, CREDENTIAL_HINT, "--credential %s: unknown option %.*s",
		       out->name, (int)(len > 40 ? 40 : len), p);
}

int credential_parse(const char *text, struct sandbox_credential *out, struct sk_err *err)
{
	const char *eq = strchr(text, '='), *src, *opts, *p;
	size_t name_len = eq ? (size_t)(eq - text) : 0;

	memset(out, 0, sizeof(*out));
	if (!eq || name_len > SANDBOX_SECRET_NAME_MAX || !env_is_valid_key(text, name_len))
		return sk_fail(err, "cli", 0,
			       "NAME is the variable that holds the placeholder inside: letters, "
			       "digits and _; " CREDENTIAL_HINT,
			       "invalid --credential: no valid NAME= before its source");
	memcpy(out->name, text, name_len);
	src = eq + 1;
	/* The options begin at the first ",host=" (one is required); a path may hold commas
	 * before it. */
	opts = strstr(src, ",host=");
	if (secret_parse_source(src, "--credential", out->name, CREDENTIAL_HINT, &out->source,
				&out->from, err) < 0)
		return -1;
	if (!opts)
		return sk_fail(err, "cli", 0, CREDENTIAL_HINT,
			       "--credential %s: host= names where the value may go; none given",
			       out->name);
	out->from_len = (size_t)(opts - out->from);
	if (out->from_len == 0 || out->from_len >= PATH_MAX)
		return sk_fail(err, "cli", 0, CREDENTIAL_HINT,
			       "--credential %s: empty or too long %s", out->name,
			       out->source == SECRET_FROM_FILE ? "file" : "variable");
	if (out->source == SECRET_FROM_ENV &&
	    (!env_is_valid_key(out->from, out->from_len) || out->from_len >= ENV_KEY_MAX))
		return sk_fail(err, "cli", 0, "names are letters, digits and _",
			       "--credential %s: invalid env: variable name", out->name);
	for (p = opts + 1;;) {
		const char *end = strchrnul(p, ',');
		if (parse_option(out, p, (size_t)(end - p), err) < 0)
			return -1;
		if (!*end)
			break;
		p = end + 1;
	}
	return 0;
}

int credential_add(struct sandbox_spec *spec, const struct sandbox_credential *credential,
		   struct sk_err *err)
{
	for (size_t i = 0; i < spec->credential_count; i++)
		if (strcmp(spec->credentials[i].name, credential->name) == 0) {
			spec->credentials[i] = *credential;
			return 0;
		}
	if (spec->credential_count >= SANDBOX_MAX_CREDENTIALS)
		return sk_fail(err, "cli", 0, "at most 8 credentials",
			       "--credential %s: too many credentials", credential->name);
	spec->credentials[spec->credential_count++] = *credential;
	/* Like --allow-net: a credential is a way out, so it implies the allowlist. */
	if (spec->network_mode == SANDBOX_NETWORK_NONE)
		spec->network_mode = SANDBOX_NETWORK_ALLOWLIST;
	return 0;
}

void credential_format(const struct sandbox_credential *c, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s=%s%.*s", c->name,
			 c->source == SECRET_FROM_FILE ? "@" : "env:", (int)c->from_len, c->from);

	for (size_t i = 0; i < c->host_count && n > 0 && (size_t)n < size; i++)
		n += snprintf(buf + n, size - (size_t)n, ",host=%.*s", (int)c->hosts[i].len,
			      c->hosts[i].text);
	if (c->header && n > 0 && (size_t)n < size)
		n += snprintf(buf + n, size - (size_t)n, ",header=%.*s", (int)c->header_len,
			      c->header);
	if (c->format && n > 0 && (size_t)n < size)
		n += snprintf(buf + n, size - (size_t)n, ",format=%.*s", (int)c->format_len,
			      c->format);
	if (c->is_file && n > 0 && (size_t)n < size)
		snprintf(buf + n, size - (size_t)n, ",file");
}

void credential_host_rule(const struct sandbox_credential *c, size_t i, char *buf, size_t size)
{
	struct netrule rule;
	struct sk_err ignored = {0};

	buf[0] = '\0';
	if (netrule_parse(c->hosts[i].text, c->hosts[i].len, false, &rule, &ignored) == 0)
		snprintf(buf, size, "%s:%u", rule.host, rule.port ? (unsigned)rule.port : 443u);
}

static bool same_key(const char *a, size_t a_len, const char *b, size_t b_len)
{
	return a_len == b_len && memcmp(a, b, a_len) == 0;
}

/* NAME is a variable inside: nothing else may set it too. */
static int check_name_clashes(const struct sandbox_spec *spec, size_t i, struct sk_err *err)
{
	const struct sandbox_credential *c = &spec->credentials[i];
	size_t len = strlen(c->name);

	for (size_t j = 0; j < i; j++)
		if (strcmp(spec->credentials[j].name, c->name) == 0)
			return sk_fail(err, "cli", 0, "each name once",
				       "--credential %s given twice", c->name);
	for (size_t j = 0; j < spec->env_add_count; j++) {
		const char *item = spec->env_add[j], *eq = strchr(item, '=');
		if (same_key(c->name, len, item, eq ? (size_t)(eq - item) : strlen(item)))
			return sk_fail(err, "cli", 0, "drop the -e",
				       "--credential %s sets the variable %s, and so does -e",
				       c->name, c->name);
	}
	for (size_t j = 0; j < spec->secret_count; j++)
		if (spec->secrets[j].env &&
		    same_key(c->name, len, spec->secrets[j].env, spec->secrets[j].env_len))
			return sk_fail(err, "cli", 0, "each variable once",
				       "--credential %s and --secret %s set the same variable",
				       c->name, spec->secrets[j].name);
	return 0;
}

/* One host:port, one credential: the proxy must know which value a request gets. */
static int check_host_clashes(const struct sandbox_spec *spec, size_t i, struct sk_err *err)
{
	const struct sandbox_credential *c = &spec->credentials[i];
	char a[HOSTMATCH_NAME_MAX + 8], b[HOSTMATCH_NAME_MAX + 8];

	for (size_t h = 0; h < c->host_count; h++) {
		credential_host_rule(c, h, a, sizeof(a));
		for (size_t j = 0; j <= i; j++)
			for (size_t k = 0; k < (j == i ? h : spec->credentials[j].host_count);
			     k++) {
				credential_host_rule(&spec->credentials[j], k, b, sizeof(b));
				if (strcmp(a, b) == 0)
					return sk_fail(err, "cli", 0, "one credential per host",
						       "--credential %s: %s is named twice",
						       c->name, a);
			}
	}
	return 0;
}

/* Credentials never meet an open network, like secrets (spec_check.c): the placeholder is
 * useless elsewhere, but the workload could still use the credential through the proxy and
 * send what it gets back anywhere. */
static int check_public(const struct sandbox_spec *spec, struct sk_err *err)
{
	if (spec->credential_count == 0 || !spec_network_is_public(spec))
		return 0;
	return sk_fail(err, "cli", 0,
		       "split it in two: the install without credentials, e.g. `stockade run "
		       "--network public -v deps:/deps -- pip install --target /deps -r req.txt`, "
		       "then the work with its credentials, e.g. `stockade run -v deps:/deps:ro "
		       "--credential API_KEY=@key.txt,host=api.example.com -- python3 agent.py`",
		       "a run that holds credentials (%s%s) cannot have the public network",
		       spec->credentials[0].name, spec->credential_count > 1 ? ", ..." : "");
}

int credentials_check(const struct sandbox_spec *spec, struct sk_err *err)
{
	struct sandbox_credential parsed;

	if (spec->credential_count > SANDBOX_MAX_CREDENTIALS)
		return sk_fail(err, "cli", 0, "at most 8 credentials", "too many credentials");
	for (size_t i = 0; i < spec->credential_count; i++) {
		char text[SANDBOX_SECRET_NAME_MAX + PATH_MAX + 4096];
		/* A spec filled another way than by credential_parse is held to the same
		 * grammar. */
		credential_format(&spec->credentials[i], text, sizeof(text));
		if (credential_parse(text, &parsed, err) < 0 ||
		    check_name_clashes(spec, i, err) < 0 || check_host_clashes(spec, i, err) < 0)
			return -1;
	}
	if (spec->ca_file && spec->ca_file[0] == '\0')
		return sk_fail(err, "cli", 0, "a PEM file of CA certificates",
			       "invalid --ca-file: empty");
	if (spec->ca_file && spec->credential_count == 0)
		return sk_fail(err, "cli", 0, "add a --credential, or drop --ca-file",
			       "--ca-file is the trust for credentials' hosts, and there is none");
	return check_public(spec, err);
}

/* ---- the parent's preparation ---- */

/* A placeholder: random, per run, and shaped so that it cannot be mistaken for anything else
 * in a request (the proxy looks for it in every request head it reads). */
static int make_placeholder(char *out, size_t size, struct sk_err *err)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char random[PROXY_PLACEHOLDER_RANDOM];
	size_t n = sizeof(PROXY_PLACEHOLDER_PREFIX) - 1;

	if (getrandom(random, sizeof(random), 0) != (ssize_t)sizeof(random))
		return sk_fail(err, "credentials", errno, NULL, "getrandom (placeholder)");
	if (size < n + 2 * sizeof(random) + 1)
		return sk_fail(err, "credentials", ENOBUFS, NULL, "placeholder");
	memcpy(out, PROXY_PLACEHOLDER_PREFIX, n);
	for (size_t i = 0; i < sizeof(random); i++) {
		out[n++] = hex[random[i] >> 4];
		out[n++] = hex[random[i] & 0xf];
	}
	out[n] = '\0';
	return 0;
}

/* Only a sealed memfd, as for a secret: it cannot change between this check and the proxy's
 * read. The size is checked; the bytes are not read here. */
static int check_value_fd(const struct sandbox_credential *c, int fd, struct sk_err *err)
{
	struct stat st;
	int seals = fd >= 0 ? fcntl(fd, F_GET_SEALS) : -1;

	if (seals < 0 || (seals & SECRETS_SEALS) != SECRETS_SEALS || fstat(fd, &st) < 0 ||
	    !S_ISREG(st.st_mode))
		return sk_fail(err, "credentials", seals < 0 ? EBADF : EINVAL, NULL,
			       "credential %s: not a sealed memfd", c->name);
	if (st.st_size == 0 || (uint64_t)st.st_size > SANDBOX_CREDENTIAL_MAX_BYTES)
		return sk_fail(err, "credentials", EFBIG, "a credential is 1 byte to 8 KiB",
			       "credential %s: its value is empty or too large", c->name);
	return 0;
}

static void copy_text(char *dst, size_t size, const char *src, size_t len)
{
	snprintf(dst, size, "%.*s", (int)len, src);
}

static int fill_proxy_credential(const struct sandbox_credential *c, int fd,
				 struct proxy_credential *pc, struct sk_err *err)
{
	const char *format = c->format ? c->format : SANDBOX_CREDENTIAL_DEFAULT_FORMAT;
	size_t format_len = c->format ? c->format_len : strlen(format);
	const char *mark = memmem(format, format_len, "{}", 2);

	memset(pc, 0, sizeof(*pc));
	sk_strlcpy(pc->name, c->name, sizeof(pc->name));
	copy_text(pc->header, sizeof(pc->header),
		  c->header ? c->header : SANDBOX_CREDENTIAL_DEFAULT_HEADER,
		  c->header ? c->header_len : strlen(SANDBOX_CREDENTIAL_DEFAULT_HEADER));
	copy_text(pc->prefix, sizeof(pc->prefix), format, (size_t)(mark - format));
	copy_text(pc->suffix, sizeof(pc->suffix), mark + 2,
		  format_len - (size_t)(mark + 2 - format));
	for (size_t h = 0; h < c->host_count; h++) {
		struct netrule rule;
		if (netrule_parse(c->hosts[h].text, c->hosts[h].len, false, &rule, err) < 0)
			return -1;
		sk_strlcpy(pc->hosts[h].name, rule.host, sizeof(pc->hosts[h].name));
		pc->hosts[h].port = rule.port ? rule.port : 443;
	}
	pc->host_count = c->host_count;
	pc->value_fd = fd;
	return make_placeholder(pc->placeholder, sizeof(pc->placeholder), err);
}

/* The host's CA bundle (when it has one) and the run's CA after it, as one PEM file. */
static int make_bundle(const struct credentials_plan *plan, char **out, size_t *out_len,
		       struct sk_err *err)
{
	const char *pem = plan->ca_pem;
	size_t pem_len = plan->ca_pem_len, system_len = 0;
	char *bundle;
	int fd = open(CREDENTIALS_SYSTEM_BUNDLE, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;

	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < (8 << 20))
		system_len = (size_t)st.st_size;
	bundle = malloc(system_len + pem_len + 2);
	if (!bundle) {
		if (fd >= 0)
			close(fd);
		return sk_fail(err, "credentials", ENOMEM, NULL, "the CA bundle");
	}
	ssize_t n = system_len ? read(fd, bundle, system_len) : 0;
	if (fd >= 0)
		close(fd);
	system_len = n > 0 ? (size_t)n : 0;
	if (system_len && bundle[system_len - 1] != '\n')
		bundle[system_len++] = '\n';
	memcpy(bundle + system_len, pem, pem_len);
	*out = bundle;
	*out_len = system_len + pem_len;
	return 0;
}

static int add_bundle(struct credentials_plan *plan, const struct sandbox_spec *spec,
		      struct mount_plan *mount, struct env_plan *env, struct sk_err *err)
{
	static const char *const vars[] = {CREDENTIALS_BUNDLE_VARS};
	char *bundle;
	size_t len;

	if (make_bundle(plan, &bundle, &len, err) < 0)
		return -1;
	if (mount_add_file(mount, CREDENTIALS_BUNDLE_PATH, bundle, len, err) < 0)
		return -1;
	/* The curated /etc/ssl shows the host's bundle; clients that read it and no variable
	 * (OpenSSL's default paths, Go) find the run's CA there too. A --rootfs's own /etc/ssl
	 * is left as it is: the variables still point at the run's bundle. */
	if (!spec->rootfs &&
	    mount_add_overlay(mount, CREDENTIALS_BUNDLE_PATH, CREDENTIALS_SYSTEM_BUNDLE, err) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(vars); i++)
		if (env_set(env, vars[i], CREDENTIALS_BUNDLE_PATH, err) < 0)
			return -1;
	return 0;
}

int credentials_prepare(struct credentials_plan *plan, const struct sandbox_spec *spec,
			const int *fds, struct proxy_config *config, struct mount_plan *mount,
			struct env_plan *env, struct secrets_plan *secrets, struct sk_err *err)
{
	memset(plan, 0, sizeof(*plan));
	plan->helper_fd = plan->ca_fd = -1;
	if (spec->credential_count == 0)
		return 0;
	if (!fds || !config)
		return sk_fail(err, "credentials", EBADF, NULL,
			       "the credentials' values were not opened");
	for (size_t i = 0; i < spec->credential_count; i++) {
		const struct sandbox_credential *c = &spec->credentials[i];
		/* NAME is the workload's variable: stockade's own (PATH, HTTPS_PROXY, ...) stay. */
		for (size_t j = 0; j < env->count; j++)
			if (strncmp(env->envp[j], c->name, strlen(c->name)) == 0 &&
			    env->envp[j][strlen(c->name)] == '=')
				return sk_fail(err, "credentials", 0, "choose another NAME",
					       "credential %s: stockade sets %s itself", c->name,
					       c->name);
		if (check_value_fd(c, fds[i], err) < 0 ||
		    fill_proxy_credential(c, fds[i], &config->credentials[i], err) < 0 ||
		    env_set(env, c->name, config->credentials[i].placeholder, err) < 0)
			return -1;
		/* ,file: the placeholder (never the value) as SANDBOX_SECRETS_DIR/NAME too. */
		if (c->is_file &&
		    secrets_add_text(secrets, c->name, config->credentials[i].placeholder, err) < 0)
			return -1;
		config->credential_count++;
		plan->count++;
	}
	config->ca_file = spec->ca_file;
	/* stockade-tls is found now, before anything is made, and the same file (by its fd)
	 * makes the CA here and serves as the proxy later. */
	plan->helper_fd = proxy_wire_helper_open(err);
	if (plan->helper_fd < 0 ||
	    proxy_wire_ca(plan->helper_fd, config, &plan->ca_fd, &plan->ca_pem, &plan->ca_pem_len,
			  err) < 0 ||
	    add_bundle(plan, spec, mount, env, err) < 0)
		return -1;
	config->helper_fd = plan->helper_fd;
	config->ca_fd = plan->ca_fd;
	snprintf(plan->detail, sizeof(plan->detail),
		 "%zu as placeholders; the proxy terminates TLS to their hosts with a CA of the "
		 "run's own",
		 plan->count);
	return 0;
}

void credentials_plan_free(struct credentials_plan *plan)
{
	if (plan->count == 0) /* never prepared, or nothing to free */
		return;
	if (plan->helper_fd >= 0)
		close(plan->helper_fd);
	if (plan->ca_fd >= 0)
		close(plan->ca_fd);
	free(plan->ca_pem);
	plan->helper_fd = plan->ca_fd = -1;
	plan->ca_pem = NULL;
}
