/* Fuzzes the check on what a tunnel to a named host carries (src/net/tunnelpeek.c): bounded
 * reads; nothing let through but a ClientHello whose SNI is the tunnel's host or an HTTP/1.x
 * request whose Host is (after CRLFs only), whose head fits the input and can be forwarded;
 * every refusal has a reason (and an HTTP answer only in 4xx/5xx); the deadline always
 * decides, and only turns "need more" into a refusal. */
#undef NDEBUG
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/tlspeek.h"
#include "net/tunnelpeek.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1); /* exact size: a read past it is an ASan report */
	static char out[HTTPREQ_HEAD_MAX + 512];
	static struct nethost host;
	char sni[HOSTMATCH_NAME_MAX + 1];
	struct tunnelpeek peek, final;
	size_t out_len = 0;

	if (!buf)
		return 0;
	if (!host.text[0]) {
		struct sk_err err = {0};
		assert(hostmatch_parse_host("example.com", 11, &host, &err) == 0);
	}
	memcpy(buf, data, size);
	enum tunnelpeek_verdict verdict = tunnelpeek_classify(buf, size, &host, 80, false, &peek);
	enum tunnelpeek_verdict at_deadline =
	    tunnelpeek_classify(buf, size, &host, 80, true, &final);
	assert(at_deadline != TUNNELPEEK_NEED_MORE);
	assert(verdict == TUNNELPEEK_NEED_MORE ? at_deadline == TUNNELPEEK_REFUSE
					       : at_deadline == verdict);
	if (verdict == TUNNELPEEK_TLS) {
		assert(tlspeek_sni(buf, size, sni, sizeof(sni), NULL) == TLSPEEK_SNI);
		assert(strcmp(sni, "example.com") == 0);
	}
	if (verdict == TUNNELPEEK_HTTP && size > 0) { /* an empty input is never HTTP */
		assert(peek.skip % 2 == 0 && peek.skip + peek.req.head_len <= size);
		for (size_t i = 0; i < peek.skip; i += 2)
			assert(buf[i] == '\r' && buf[i + 1] == '\n');
		assert(peek.req.kind == HTTPREQ_ORIGIN && peek.req.has_host_header);
		assert(strcmp(peek.req.host.text, "example.com") == 0 && peek.req.port == 80);
		assert(httpreq_build_upstream(buf + peek.skip, &peek.req, out, sizeof(out),
					      &out_len) == 0 &&
		       out_len <= sizeof(out));
	}
	if (at_deadline == TUNNELPEEK_REFUSE) {
		assert(final.reason && final.reason[0]);
		assert(final.http_status == 0 ||
		       (final.http_status >= 400 && final.http_status < 600));
	}
	free(buf);
	return 0;
}
