/* Credentials in requests, as the egress proxy applies them (proxy.h, struct proxy_credential):
 * which credential a host has, where a placeholder shows up, and the request head rewritten
 * with the real value in the named header and nowhere else. Pure functions over buffers, so
 * that they can be tested and fuzzed alone. */
#ifndef STOCKADE_CREDINJECT_H
#define STOCKADE_CREDINJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/httpreq.h"
#include "net/proxy.h"

/* The credential whose hosts include the canonical name host on port, or NULL. */
const struct proxy_credential *credinject_for_host(const struct proxy_config *config,
						   const char *host, uint16_t port);

/* The first credential whose placeholder occurs in buf[0, len) (case-insensitively: a client
 * may fold the case of a header it forwards), or NULL. */
const struct proxy_credential *credinject_find_placeholder(const struct proxy_config *config,
							   const char *buf, size_t len);

enum credinject_status {
	CREDINJECT_NONE,      /* no header of that name carries the placeholder: copied as is */
	CREDINJECT_DONE,      /* every such header now carries the value */
	CREDINJECT_BAD_SHAPE, /* the header carries the placeholder, but not as prefix{}suffix */
	CREDINJECT_TOO_LARGE, /* out_size is too small */
};

/* head[0, head_len) is a request head as the proxy sends it upstream, req its parse (its
 * spans index head). Writes to out the same head with each header named credential->header
 * whose value is exactly prefix + placeholder + suffix given the value prefix + value +
 * suffix; *out_len its length. Room for any head: head_len + HTTPREQ_HEADERS_MAX * value_len. */
enum credinject_status credinject_apply(const struct proxy_credential *credential,
					const char *value, size_t value_len, const char *head,
					size_t head_len, const struct httpreq *req, char *out,
					size_t out_size, size_t *out_len);

/* Whether value[0, len) may go in a header as it is: visible ASCII, spaces and tabs inside,
 * no CR, LF, NUL or other control byte (a request split in two is another request). */
bool credinject_value_is_valid(const char *value, size_t len);

#endif
