/* Credentials in requests, as the egress proxy applies them (struct proxy_credential, below):
 * which credential a host has, where a placeholder shows up, and the request head rewritten
 * with the real value in the named header and nowhere else. Pure functions over buffers, so
 * that they can be tested and fuzzed alone. */
#ifndef STOCKADE_CREDINJECT_H
#define STOCKADE_CREDINJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/hostmatch.h"
#include "net/httpreq.h"

/* A credential as the proxy applies it (sandbox/credentials.h): for requests to one of its
 * hosts, a value of `header` equal to prefix + placeholder + suffix becomes prefix + the real
 * value + suffix; the placeholder anywhere else the proxy can see refuses the request. */
#define PROXY_MAX_CREDENTIALS 8
#define PROXY_CREDENTIAL_MAX_HOSTS 8
#define PROXY_PLACEHOLDER_PREFIX "stockade-placeholder-"
#define PROXY_PLACEHOLDER_RANDOM 20 /* bytes of getrandom, in hex */
#define PROXY_PLACEHOLDER_MAX 64

struct proxy_credential {
	char name[72];
	char header[72];
	char prefix[136], suffix[136];
	struct {
		char name[HOSTMATCH_NAME_MAX + 1];
		uint16_t port;
	} hosts[PROXY_CREDENTIAL_MAX_HOSTS];
	size_t host_count;
	char placeholder[PROXY_PLACEHOLDER_MAX];
	/* The value's sealed memfd: read by the proxy process after it forked (the parent never
	 * reads it), then closed. */
	int value_fd;
};

/* The credential whose hosts include the canonical name host on port, or NULL. */
const struct proxy_credential *credinject_for_host(const struct proxy_credential *credentials,
						   size_t count, const char *host, uint16_t port);

/* The first credential whose placeholder occurs in buf[0, len) (case-insensitively: a client
 * may fold the case of a header it forwards), or NULL. */
const struct proxy_credential *
credinject_find_placeholder(const struct proxy_credential *credentials, size_t count,
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
