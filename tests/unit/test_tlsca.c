/* Unit tests for src/net/tlsca.c: the run's CA vouches for the credentials' exact hosts and
 * nothing else, as OpenSSL's verifier reads its name constraints — a leaf for another name, or
 * for any IP address (a constraint of DNS names alone leaves addresses unconstrained), fails
 * them; the leaves the proxy presents verify. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "net/tlsca.h"

static struct tlsca *ca;
static X509 *ca_cert;

static int setup(void **state)
{
	static struct proxy_credential credential;
	struct sk_err err = {0};
	char *pem = NULL;
	size_t len = 0;
	BIO *bio;

	(void)state;
	memset(&credential, 0, sizeof(credential));
	strcpy(credential.name, "TOKEN");
	strcpy(credential.hosts[0].name, "api.test");
	credential.hosts[0].port = 443;
	credential.host_count = 1;
	assert_int_equal(tlsca_create(&ca, &credential, 1, &err), 0);
	assert_int_equal(tlsca_cert_pem(ca, &pem, &len, &err), 0);
	bio = BIO_new_mem_buf(pem, (int)len);
	ca_cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	free(pem);
	assert_non_null(ca_cert);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	X509_free(ca_cert);
	tlsca_free(ca);
	return 0;
}

/* What the CA's name constraints say of a certificate whose only SAN is `san` (checking
 * names needs no signature: this is the verifier's own check of the chain's names). */
static int constraints_verdict(const char *san)
{
	NAME_CONSTRAINTS *nc = X509_get_ext_d2i(ca_cert, NID_name_constraints, NULL, NULL);
	X509 *leaf = X509_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int verdict;

	assert_non_null(nc);
	assert_non_null(leaf);
	X509V3_set_ctx(&ctx, ca_cert, leaf, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(leaf, ext, -1), 1);
	X509_get_extension_flags(leaf); /* parses the SAN into the X509, where the check reads */
	verdict = NAME_CONSTRAINTS_check(leaf, nc);
	X509_EXTENSION_free(ext);
	X509_free(leaf);
	NAME_CONSTRAINTS_free(nc);
	return verdict;
}

static void test_constraints_permit_only_the_hosts(void **state)
{
	(void)state;
	assert_int_equal(constraints_verdict("DNS:api.test"), X509_V_OK);
	assert_int_not_equal(constraints_verdict("DNS:evil.test"), X509_V_OK);
	assert_int_not_equal(constraints_verdict("DNS:test"), X509_V_OK);
}

static void test_constraints_refuse_every_address(void **state)
{
	(void)state;
	assert_int_not_equal(constraints_verdict("IP:1.2.3.4"), X509_V_OK);
	assert_int_not_equal(constraints_verdict("IP:127.0.0.1"), X509_V_OK);
	assert_int_not_equal(constraints_verdict("IP:::1"), X509_V_OK);
	assert_int_not_equal(constraints_verdict("IP:2001:db8::1"), X509_V_OK);
	assert_int_not_equal(constraints_verdict("DNS:api.test,IP:10.0.0.1"), X509_V_OK);
}

/* The leaf the proxy presents for the host verifies against the CA alone, by name. */
static void test_leaf_verifies(void **state)
{
	struct sk_err err = {0};
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509 *leaf = NULL;

	(void)state;
	assert_int_equal(tlsca_leaf(ca, "api.test", &leaf, &err), 0);
	assert_int_equal(X509_STORE_add_cert(store, ca_cert), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, leaf, NULL), 1);
	assert_int_equal(X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx), "api.test", 0),
			 1);
	assert_int_equal(X509_verify_cert(ctx), 1);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(leaf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_constraints_permit_only_the_hosts, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_constraints_refuse_every_address, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_leaf_verifies, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
