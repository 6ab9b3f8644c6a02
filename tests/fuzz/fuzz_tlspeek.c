/* Fuzzes the TLS ClientHello reader (src/net/tlspeek.c): bounded reads, and an SNI that is
 * always a canonical host name. */
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
	if (tlspeek_sni(buf, size, sni, sizeof(sni), NULL) == TLSPEEK_SNI) {
		assert(hostmatch_canonicalize(sni, strlen(sni), again, sizeof(again), &err) == 0);
		assert(strcmp(sni, again) == 0);
	}
	free(buf);
	return 0;
}
