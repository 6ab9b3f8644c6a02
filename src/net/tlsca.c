/* The run's CA (see tlsca.h). Key generation, certificate building and signing are OpenSSL's;
 * this file only says what goes in the certificates. */
#include "net/tlsca.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "util/fds.h"

struct tlsca {
	EVP_PKEY *key;	    /* the CA's */
	X509 *cert;	    /* self-signed */
	EVP_PKEY *leaf_key; /* one key for every leaf of the run, made with the first */
};

static int ssl_fail(struct sk_err *err, const char *what)
{
	char text[160];

	ERR_error_string_n(ERR_get_error(), text, sizeof(text));
	ERR_clear_error();
	return sk_fail(err, "credentials", 0, NULL, "%s: %s", what, text);
}

/* OpenSSL without its configuration file: nothing read from the host's /etc and no provider
 * loaded from disk (the default provider is built into the static library). */
static int ssl_init(struct sk_err *err)
{
	if (OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG, NULL) != 1)
		return ssl_fail(err, "OpenSSL initialisation");
	return 0;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -1;
	int rc = X509_add_ext(cert, ext, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(ext);
	return rc;
}

/* A certificate with a random serial, valid from an hour ago for TLSCA_VALID_DAYS. */
static X509 *new_cert(const char *common_name, EVP_PKEY *key)
{
	unsigned char serial[16];
	X509 *cert = X509_new();
	X509_NAME *name = cert ? X509_get_subject_name(cert) : NULL;
	BIGNUM *bn = NULL;

	if (!cert || RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	serial[0] &= 0x7f; /* positive */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) ||
	    X509_set_version(cert, X509_VERSION_3) != 1 ||
	    !X509_gmtime_adj(X509_getm_notBefore(cert), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(cert), 86400L * TLSCA_VALID_DAYS) ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)common_name,
				       -1, -1, 0) != 1 ||
	    X509_set_pubkey(cert, key) != 1)
		goto fail;
	BN_free(bn);
	return cert;
fail:
	BN_free(bn);
	X509_free(cert);
	return NULL;
}

/* "permitted;DNS:a,permitted;DNS:b" and every IPv4 and IPv6 address excluded: a certificate
 * this CA signs for any other name fails verification, so the CA is worth nothing beyond the
 * credentials' hosts even if it leaked. The exclusions are needed: constraints of one name type
 * leave the others free, and a leaf for https://1.2.3.4 (an iPAddress SAN) would verify. */
static int name_constraints(const struct proxy_credential *credentials, size_t count, char *out,
			    size_t size)
{
	size_t n = 0;

	out[0] = '\0';
	n += (size_t)snprintf(out, size,
			      "critical,excluded;IP:0.0.0.0/0.0.0.0,"
			      "excluded;IP:0:0:0:0:0:0:0:0/0:0:0:0:0:0:0:0");
	for (size_t i = 0; i < count; i++)
		for (size_t h = 0; h < credentials[i].host_count && n < size; h++)
			n += (size_t)snprintf(out + n, size - n, ",permitted;DNS:%s",
					      credentials[i].hosts[h].name);
	return n < size ? 0 : -1;
}

int tlsca_create(struct tlsca **out, const struct proxy_credential *credentials, size_t count,
		 struct sk_err *err)
{
	struct tlsca *ca = calloc(1, sizeof(*ca));
	char constraints[128 + PROXY_MAX_CREDENTIALS * PROXY_CREDENTIAL_MAX_HOSTS *
				   (HOSTMATCH_NAME_MAX + 16)];
	char common_name[64];
	unsigned char tag[4];

	*out = NULL;
	if (!ca)
		return sk_fail(err, "credentials", ENOMEM, NULL, "the run's CA");
	if (ssl_init(err) < 0)
		goto fail_quiet;
	ca->key = EVP_EC_gen("P-256");
	if (!ca->key) {
		ssl_fail(err, "EC key generation");
		goto fail_quiet;
	}
	if (RAND_bytes(tag, sizeof(tag)) != 1)
		goto fail;
	snprintf(common_name, sizeof(common_name), "stockade run CA %02x%02x%02x%02x", tag[0],
		 tag[1], tag[2], tag[3]);
	ca->cert = new_cert(common_name, ca->key);
	if (!ca->cert || X509_set_issuer_name(ca->cert, X509_get_subject_name(ca->cert)) != 1 ||
	    name_constraints(credentials, count, constraints, sizeof(constraints)) < 0 ||
	    add_ext(ca->cert, ca->cert, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") < 0 ||
	    add_ext(ca->cert, ca->cert, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
	    add_ext(ca->cert, ca->cert, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(ca->cert, ca->cert, NID_name_constraints, constraints) < 0 ||
	    X509_sign(ca->cert, ca->key, EVP_sha256()) <= 0)
		goto fail;
	*out = ca;
	return 0;
fail:
	ssl_fail(err, "the run's CA certificate");
fail_quiet:
	tlsca_free(ca);
	return -1;
}

int tlsca_cert_pem(const struct tlsca *ca, char **pem, size_t *len, struct sk_err *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long n;

	if (!bio || PEM_write_bio_X509(bio, ca->cert) != 1) {
		BIO_free(bio);
		return ssl_fail(err, "PEM of the run's CA");
	}
	n = BIO_get_mem_data(bio, &data);
	*pem = n > 0 ? malloc((size_t)n) : NULL;
	if (!*pem) {
		BIO_free(bio);
		return sk_fail(err, "credentials", ENOMEM, NULL, "PEM of the run's CA");
	}
	memcpy(*pem, data, (size_t)n);
	*len = (size_t)n;
	BIO_free(bio);
	return 0;
}

int tlsca_leaf(struct tlsca *ca, const char *host, X509 **cert, struct sk_err *err)
{
	char san[HOSTMATCH_NAME_MAX + 8];
	X509 *leaf;

	/* Made with the first leaf: `stockade-tls ca`, which makes none, never needs it. */
	if (!ca->leaf_key && !(ca->leaf_key = EVP_EC_gen("P-256")))
		return ssl_fail(err, "EC key generation");
	leaf = new_cert(host, ca->leaf_key);

	snprintf(san, sizeof(san), "DNS:%s", host);
	if (!leaf || X509_set_issuer_name(leaf, X509_get_subject_name(ca->cert)) != 1 ||
	    add_ext(leaf, ca->cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(leaf, ca->cert, NID_key_usage, "critical,digitalSignature") < 0 ||
	    add_ext(leaf, ca->cert, NID_ext_key_usage, "serverAuth") < 0 ||
	    add_ext(leaf, ca->cert, NID_authority_key_identifier, "keyid:always") < 0 ||
	    add_ext(leaf, ca->cert, NID_subject_alt_name, san) < 0 ||
	    X509_sign(leaf, ca->key, EVP_sha256()) <= 0) {
		X509_free(leaf);
		return ssl_fail(err, "a leaf certificate");
	}
	*cert = leaf;
	return 0;
}

EVP_PKEY *tlsca_leaf_key(const struct tlsca *ca)
{
	return ca->leaf_key;
}

/* All of a memory BIO into fd. */
static int bio_to_fd(BIO *bio, int fd)
{
	char *data;
	long n = BIO_get_mem_data(bio, &data);

	return n > 0 && fds_write_all(fd, data, (size_t)n) == 0 ? 0 : -1;
}

int tlsca_write(const struct tlsca *ca, int key_fd, int cert_fd, struct sk_err *err)
{
	BIO *secret = BIO_new(BIO_s_mem()), *public = BIO_new(BIO_s_mem());
	int rc = -1;

	if (secret && public &&
	    PEM_write_bio_PrivateKey(secret, ca->key, NULL, NULL, 0, NULL, NULL) == 1 &&
	    PEM_write_bio_X509(secret, ca->cert) == 1 && PEM_write_bio_X509(public, ca->cert) == 1)
		rc = bio_to_fd(secret, key_fd) == 0 && bio_to_fd(public, cert_fd) == 0
			 ? 0
			 : sk_fail(err, "credentials", errno, NULL, "writing the run's CA");
	else
		ssl_fail(err, "PEM of the run's CA");
	BIO_free_all(secret); /* a memory BIO's free clears nothing: the key stays in freed
			       * memory of a process that exits next (stockade-tls ca) */
	BIO_free_all(public);
	return rc;
}

int tlsca_read(struct tlsca **out, int key_fd, struct sk_err *err)
{
	struct tlsca *ca = calloc(1, sizeof(*ca));
	BIO *bio = NULL;
	char buf[16384];
	ssize_t n = pread(key_fd, buf, sizeof(buf), 0);

	*out = NULL;
	if (!ca)
		return sk_fail(err, "credentials", ENOMEM, NULL, "the run's CA");
	if (n <= 0 || (size_t)n == sizeof(buf) || ssl_init(err) < 0) {
		if (!err->layer[0])
			sk_fail(err, "credentials", errno, NULL, "reading the run's CA");
		goto fail;
	}
	bio = BIO_new_mem_buf(buf, (int)n);
	if (!bio || !(ca->key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) ||
	    !(ca->cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) ||
	    X509_check_private_key(ca->cert, ca->key) != 1) {
		ssl_fail(err, "the run's CA");
		goto fail;
	}
	BIO_free(bio);
	OPENSSL_cleanse(buf, sizeof(buf));
	*out = ca;
	return 0;
fail:
	BIO_free(bio);
	OPENSSL_cleanse(buf, sizeof(buf));
	tlsca_free(ca);
	return -1;
}

void tlsca_free(struct tlsca *ca)
{
	if (!ca)
		return;
	EVP_PKEY_free(ca->key);
	EVP_PKEY_free(ca->leaf_key);
	X509_free(ca->cert);
	free(ca);
}
