/* The credentials layer: a value the sandbox never holds. The workload gets a random
 * placeholder in the variable NAME; the egress proxy (outside the sandbox) terminates TLS to the
 * credential's hosts and puts the real value in the named header of requests to them, and
 * nowhere else. For that the sandbox trusts a CA made for the run (its certificate added to the
 * sandbox's CA bundle; its key never enters). The value travels like a secret's: from its file
 * or variable into a sealed memfd (cli/secrets.c), read only by the proxy process. */
#ifndef STOCKADE_CREDENTIALS_H
#define STOCKADE_CREDENTIALS_H

#include <stdbool.h>
#include <stddef.h>

#include "net/proxy.h"
#include "sandbox/env.h"
#include "sandbox/mount.h"
#include "sandbox/secrets.h"
#include "spec/spec.h"
#include "util/err.h"

/* Where the sandbox finds the run's CA bundle (the system's CAs and the run's CA). The
 * variables that point clients at it: OpenSSL (curl, python, git), node, requests, curl. */
#define CREDENTIALS_BUNDLE_PATH "/etc/stockade-ca-bundle.crt"
#define CREDENTIALS_BUNDLE_VARS                                                                    \
	"SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"
/* The host's bundle, which the sandbox's curated /etc/ssl shows; replaced there by the run's. */
#define CREDENTIALS_SYSTEM_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

/* Parses one --credential (NAME=@FILE|env:VAR,host=HOST[:PORT][,host=...][,header=H]
 * [,format=F]) into *out, pointing into text. Messages name the credential, never quote the
 * source text (it may hold a value typed by mistake). Returns 0, or -1 with err. */
int credential_parse(const char *text, struct sandbox_credential *out, struct sk_err *err);
/* Adds one to spec; one of the same name is replaced (a later layer wins). */
int credential_add(struct sandbox_spec *spec, const struct sandbox_credential *credential,
		   struct sk_err *err);
/* The flag text of a credential (what credential_parse reads back), into buf. */
void credential_format(const struct sandbox_credential *credential, char *buf, size_t size);
/* The spec's credentials as a whole: each held to the grammar, names and hosts once, no clash
 * with -e or a secret's variable, and never with --network public. */
int credentials_check(const struct sandbox_spec *spec, struct sk_err *err);
/* The allow rule ("HOST:PORT") of host i of a credential, into buf. */
void credential_host_rule(const struct sandbox_credential *credential, size_t i, char *buf,
			  size_t size);

struct credentials_plan {
	size_t count;
	int helper_fd; /* stockade-tls (net/proxy_wire.h): makes the CA, is the proxy */
	int ca_fd;     /* the run's CA, key and certificate (PEM): never read here, the proxy's */
	char *ca_pem;  /* its certificate alone, for the sandbox's bundle */
	size_t ca_pem_len;
	char detail[160];
};

/* Parent, before clone, after egress_prepare and env_prepare: checks the memfds (sealed, at
 * most SANDBOX_CREDENTIAL_MAX_BYTES), has `stockade-tls ca` make the run's CA, makes a
 * placeholder per credential,
 * fills the proxy's configuration (config), sets NAME=placeholder and the bundle variables in
 * env, and adds the bundle to the mount plan (and over the curated /etc/ssl's). */
int credentials_prepare(struct credentials_plan *plan, const struct sandbox_spec *spec,
			const int *fds, struct proxy_config *config, struct mount_plan *mount,
			struct env_plan *env, struct secrets_plan *secrets, struct sk_err *err);
void credentials_plan_free(struct credentials_plan *plan);

#endif
