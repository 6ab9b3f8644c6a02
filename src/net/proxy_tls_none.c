/* The proxy's TLS side (proxy_internal.h) in the executables without OpenSSL: `stockade` and
 * stockade-serve. Their proxies never terminate TLS: a run with credentials has stockade-tls
 * as its proxy (proxy_wire.h), which links proxy_tls.c instead of this file. So no connection
 * here ever becomes CONN_TLS (credinject_for_host finds nothing in a configuration without
 * credentials), and proxy_tls_init refuses one with credentials rather than serve it plain. */
#include <errno.h>

#include "net/proxy_internal.h"
#include "net/proxy_wire.h"

int proxy_tls_init(struct proxy_tls **out, const struct proxy_config *config, struct sk_err *err)
{
	*out = NULL;
	if (config->credential_count == 0)
		return 0;
	return sk_fail(err, "proxy", ENOTSUP, NULL,
		       "credentials: this proxy has no TLS (" PROXY_WIRE_HELPER " is the one)");
}

void proxy_tls_free(struct proxy_tls *tls)
{
	(void)tls;
}

int tlsconn_start(struct conn *c)
{
	conn_deny(c, "credentials: no TLS in this proxy");
	return -1;
}

void tlsconn_on_event(struct conn *c)
{
	(void)c;
}

void tlsconn_events(const struct conn *c, unsigned *client, unsigned *upstream)
{
	(void)c;
	*client = *upstream = 0;
}

void tlsconn_audit(const struct conn *c, struct audit_event *e)
{
	(void)c;
	(void)e;
}

bool tlsconn_was_sent(const struct conn *c)
{
	(void)c;
	return false;
}

void tlsconn_free(struct conn *c)
{
	(void)c;
}
