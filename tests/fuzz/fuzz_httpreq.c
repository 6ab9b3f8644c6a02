/* Fuzzes the proxy's HTTP request-head parser, the upstream head builder and the response-head
 * rewriter (src/net/httpreq.c): no read outside the buffer, a complete head never longer than
 * the input, a forwarded head that fits the documented bound, and a rewritten response head
 * within its bound (head_len + 19) that says "Connection: close" when it is final. */
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
	/* The same bytes as a request inside a tunnel to example.com:80. */
	static struct nethost tunnel_host;
	if (!tunnel_host.text[0]) {
		struct sk_err err = {0};
		assert(hostmatch_parse_host("example.com", 11, &tunnel_host, &err) == 0);
	}
	status = httpreq_parse_tunneled(buf, size, &tunnel_host, 80, &req);
	if (status == HTTPREQ_COMPLETE) {
		assert(req.head_len <= size && req.kind == HTTPREQ_ORIGIN && req.has_host_header);
		assert(strcmp(req.host.text, "example.com") == 0 && req.port == 80);
		assert(httpreq_build_upstream(buf, &req, out, sizeof(out), &out_len) == 0 &&
		       out_len <= sizeof(out));
	}
	if (status == HTTPREQ_BAD)
		assert(req.status_code >= 400 && req.status_code < 600 && req.reason);
	status = httpreq_rewrite_response(buf, size, out, sizeof(out), &out_len, &req);
	if (status == HTTPREQ_COMPLETE) {
		assert(req.head_len <= size && out_len <= req.head_len + 19);
		assert(out_len >= 4 && memcmp(out + out_len - 4, "\r\n\r\n", 4) == 0);
		if (req.status_code >= 200)
			assert(out_len >= 21 &&
			       memcmp(out + out_len - 21, "Connection: close\r\n\r\n", 21) == 0);
	}
	if (status == HTTPREQ_BAD)
		assert(req.status_code == 502 && req.reason);
	free(buf);
	return 0;
}
