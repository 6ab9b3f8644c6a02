/* Credentials in requests (see credinject.h). */
#define _GNU_SOURCE
#include "net/credinject.h"

#include <string.h>
#include <strings.h>

const struct proxy_credential *credinject_for_host(const struct proxy_credential *credentials,
						   size_t count, const char *host, uint16_t port)
{
	for (size_t i = 0; i < count; i++) {
		const struct proxy_credential *c = &credentials[i];
		for (size_t h = 0; h < c->host_count; h++)
			if (c->hosts[h].port == port && strcmp(c->hosts[h].name, host) == 0)
				return c;
	}
	return NULL;
}

static bool contains_nocase(const char *buf, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	for (size_t i = 0; n && i + n <= len; i++)
		if (strncasecmp(buf + i, needle, n) == 0)
			return true;
	return false;
}

const struct proxy_credential *
credinject_find_placeholder(const struct proxy_credential *credentials, size_t count,
			    const char *buf, size_t len)
{
	for (size_t i = 0; i < count; i++)
		if (contains_nocase(buf, len, credentials[i].placeholder))
			return &credentials[i];
	return NULL;
}

static bool span_is(const char *buf, struct httpreq_span span, const char *text)
{
	return span.len == strlen(text) && strncasecmp(buf + span.offset, text, span.len) == 0;
}

/* Whether the value span is exactly prefix + placeholder + suffix. */
static bool has_shape(const struct proxy_credential *c, const char *head, struct httpreq_span v)
{
	size_t p = strlen(c->prefix), m = strlen(c->placeholder), s = strlen(c->suffix);
	const char *at = head + v.offset;

	return v.len == p + m + s && memcmp(at, c->prefix, p) == 0 &&
	       memcmp(at + p, c->placeholder, m) == 0 && memcmp(at + p + m, c->suffix, s) == 0;
}

static bool put(char *out, size_t size, size_t *len, const char *data, size_t n)
{
	if (size - *len < n)
		return false;
	memcpy(out + *len, data, n);
	*len += n;
	return true;
}

enum credinject_status credinject_apply(const struct proxy_credential *c, const char *value,
					size_t value_len, const char *head, size_t head_len,
					const struct httpreq *req, char *out, size_t out_size,
					size_t *out_len)
{
	enum credinject_status status = CREDINJECT_NONE;
	size_t from = 0, len = 0;

	for (size_t i = 0; i < req->header_count; i++) {
		struct httpreq_span v = req->headers[i].value;
		if (!span_is(head, req->headers[i].name, c->header) ||
		    !contains_nocase(head + v.offset, v.len, c->placeholder))
			continue;
		if (!has_shape(c, head, v))
			return CREDINJECT_BAD_SHAPE;
		/* Everything up to the value as it was, then prefix + value + suffix. */
		if (!put(out, out_size, &len, head + from, v.offset - from) ||
		    !put(out, out_size, &len, c->prefix, strlen(c->prefix)) ||
		    !put(out, out_size, &len, value, value_len) ||
		    !put(out, out_size, &len, c->suffix, strlen(c->suffix)))
			return CREDINJECT_TOO_LARGE;
		from = v.offset + v.len;
		status = CREDINJECT_DONE;
	}
	if (!put(out, out_size, &len, head + from, head_len - from))
		return CREDINJECT_TOO_LARGE;
	*out_len = len;
	return status;
}

bool credinject_value_is_valid(const char *value, size_t len)
{
	if (len == 0 || value[0] == ' ' || value[0] == '\t' || value[len - 1] == ' ' ||
	    value[len - 1] == '\t')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)value[i];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return false;
	}
	return true;
}
