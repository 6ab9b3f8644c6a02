/* Base64 (RFC 4648, standard alphabet, with padding), for the API's bytes in JSON. */
#ifndef STOCKADE_BASE64_H
#define STOCKADE_BASE64_H

#include <stdbool.h>
#include <stddef.h>

/* The encoded length of n bytes, without the NUL. */
size_t base64_encoded_len(size_t n);
/* Encodes n bytes of in into out (base64_encoded_len(n) + 1 bytes, NUL-terminated). */
void base64_encode(const void *in, size_t n, char *out);
/* Decodes len characters of in (padding required, no whitespace) into out, which has room
 * for len / 4 * 3 bytes; the decoded length, or -1 when in is not canonical base64. */
long base64_decode(const char *in, size_t len, unsigned char *out);
/* Whether n bytes are valid UTF-8 (no overlong forms, no surrogates, at most U+10FFFF). */
bool utf8_is_valid(const unsigned char *s, size_t n);

#endif
