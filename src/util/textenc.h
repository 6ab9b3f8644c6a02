/* Bytes made fit for a JSON string and back: UTF-8 repair (a sandbox's output or a file may be
 * any bytes; jansson takes only valid UTF-8) and base64 (RFC 4648, for files read or written
 * as bytes). Bounded by their inputs, allocation only for the result. */
#ifndef STOCKADE_TEXTENC_H
#define STOCKADE_TEXTENC_H

#include <stdbool.h>
#include <stddef.h>

/* in[0..len) as valid UTF-8: every byte that does not start a well-formed sequence (RFC 3629:
 * no overlong form, no surrogate, nothing past U+10FFFF, no sequence cut short) is replaced by
 * U+FFFD. A new NUL-terminated string (NUL bytes of in are kept), its length in *out_len and
 * the count of replaced bytes in *replaced (either may be NULL); NULL on ENOMEM. */
char *textenc_utf8_repair(const char *in, size_t len, size_t *out_len, size_t *replaced);

/* Of in[0..len), the length of the longest prefix that does not end inside a multi-byte
 * sequence: where to cut text at a limit without splitting a character. */
size_t textenc_utf8_cut(const char *in, size_t len);

/* in[0..len) in base64 with padding, NUL-terminated; NULL on ENOMEM. */
char *textenc_base64_encode(const unsigned char *in, size_t len);
/* Decodes base64 text (padding required, no whitespace, no other byte) into a new buffer of
 * *out_len bytes; NULL with errno EINVAL for text that is not base64, ENOMEM. */
unsigned char *textenc_base64_decode(const char *text, size_t len, size_t *out_len);

#endif
