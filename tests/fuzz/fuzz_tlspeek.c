/* Fuzzes the TLS ClientHello reader (src/net/tlspeek.c): bounded reads, an SNI that is always
 * a canonical host name, and "not TLS" only for what does not start as a handshake record. */
#undef NDEBUG
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/hostmatch.h"
#include "net/tlspeek.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	char sni[HOSTMATCH_NAME_MAX + 1], again[HOSTMATCH_NAME_MAX + 1];
	struct sk_err err = {0};

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	enum tlspeek_status status = tlspeek_sni(buf, size, sni, sizeof(sni), NULL);
	if (status == TLSPEEK_SNI) {
		assert(hostmatch_canonicalize(sni, strlen(sni), again, sizeof(again), &err) == 0);
		assert(strcmp(sni, again) == 0);
	}
	/* "Another protocol" only for what does not begin as a handshake record: anything
	 * TLS-shaped that fails is BAD_TLS, which the proxy refuses. */
	if (status == TLSPEEK_NOT_TLS)
		assert(size > 0 && (uint8_t)buf[0] != 0x16);
	if (status != TLSPEEK_SNI)
		assert(sni[0] == '\0');
	free(buf);
	return 0;
}
