/* The run's certificate authority, for the credentials' hosts (net/tlsterm.h): an EC P-256 key
 * and a self-signed CA certificate made in memory for one run (or one long-lived sandbox), whose
 * name constraints permit only those hosts, and the leaf certificates the proxy presents to the
 * sandbox, one per exact host name (SAN dNSName). All by OpenSSL, in stockade-tls only
 * (net/proxy_wire.h); the keys never leave its processes but in the memfd that goes from the
 * one that makes the CA to the proxy: the sandbox gets only the CA's certificate. */
#ifndef STOCKADE_TLSCA_H
#define STOCKADE_TLSCA_H

#include <stddef.h>

#include "net/credinject.h"
#include "util/err.h"

/* How long the certificates are valid: an hour back (clocks differ a little), this far on. A
 * long-lived sandbox older than that needs a restart for its credentials. */
#define TLSCA_VALID_DAYS 30

struct tlsca;
struct x509_st;
struct evp_pkey_st;

/* Makes the CA for count credentials (their hosts are its name constraints). Returns 0, or -1
 * with err (layer "credentials"). */
int tlsca_create(struct tlsca **out, const struct proxy_credential *credentials, size_t count,
		 struct sk_err *err);
/* stockade-tls ca: the CA's key and certificate (PEM) into key_fd, the certificate alone into
 * cert_fd. 0, or -1 with err. */
int tlsca_write(const struct tlsca *ca, int key_fd, int cert_fd, struct sk_err *err);
/* stockade-tls proxy: the CA from what tlsca_write put in key_fd (read from its start). 0, or
 * -1 with err. */
int tlsca_read(struct tlsca **out, int key_fd, struct sk_err *err);
/* The CA's certificate as PEM (allocated, *len bytes). */
int tlsca_cert_pem(const struct tlsca *ca, char **pem, size_t *len, struct sk_err *err);
/* A leaf certificate for the exact name host, signed by the CA, for tlsca_leaf_key() (made with
 * the first leaf). */
int tlsca_leaf(struct tlsca *ca, const char *host, struct x509_st **cert, struct sk_err *err);
struct evp_pkey_st *tlsca_leaf_key(const struct tlsca *ca);
void tlsca_free(struct tlsca *ca);

#endif
