/* A look at the first bytes of a CONNECT tunnel: the TLS ClientHello's server_name (SNI), so
 * the proxy can refuse domain fronting (a tunnel to an allowed host whose TLS asks for
 * another). Parses without copying beyond a bounded scratch buffer; no global state. */
#ifndef STOCKADE_TLSPEEK_H
#define STOCKADE_TLSPEEK_H

#include <stddef.h>

#include "net/hostmatch.h"

/* The largest ClientHello (handshake message body) accepted, and so the most the proxy needs
 * to buffer before it has a verdict: about 16 KiB of records. */
#define TLSPEEK_HELLO_MAX 16384

enum tlspeek_status {
	TLSPEEK_NEED_MORE, /* the ClientHello is not complete yet */
	TLSPEEK_NO_SNI,	   /* a well-formed ClientHello without a host_name */
	TLSPEEK_SNI,	   /* sni holds the canonical host name */
	TLSPEEK_NOT_TLS,   /* does not start with a TLS handshake record: another protocol */
	TLSPEEK_BAD_TLS,   /* starts as TLS, but is not a well-formed ClientHello within the
			    * limits: a server may still accept it, so it is never "not TLS" */
	TLSPEEK_ECH,	   /* a ClientHello with Encrypted Client Hello (or the ESNI draft):
			    * the name the server will route on is hidden from the proxy */
};

/* Reads the ClientHello at the start of buf, reassembled across handshake records. On
 * TLSPEEK_SNI, sni (>= HOSTMATCH_NAME_MAX + 1 bytes) holds the name canonicalized by
 * hostmatch_canonicalize; an SNI that is not a valid host name (an IP address, NUL, ...) is
 * TLSPEEK_BAD_TLS. *reason (may be NULL) gets a static sentence on NOT_TLS, BAD_TLS and ECH. */
enum tlspeek_status tlspeek_sni(const char *buf, size_t len, char *sni, size_t sni_size,
				const char **reason);

#endif
