/* UTF-8 repair and base64 (see textenc.h). */
#include "util/textenc.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char REPLACEMENT[] = "\xEF\xBF\xBD"; /* U+FFFD */

/* The length of the well-formed sequence at p (at most n bytes there), or 0 (Unicode's table
 * 3-7 of well-formed byte sequences). */
static size_t sequence_length(const unsigned char *p, size_t n)
{
	unsigned char lo = 0x80, hi = 0xBF;
	size_t len;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		len = 2;
	else if (p[0] >= 0xE0 && p[0] <= 0xEF)
		len = 3;
	else if (p[0] >= 0xF0 && p[0] <= 0xF4)
		len = 4;
	else
		return 0;
	/* The second byte's range excludes overlong forms, surrogates and > U+10FFFF. */
	if (p[0] == 0xE0)
		lo = 0xA0;
	else if (p[0] == 0xED)
		hi = 0x9F;
	else if (p[0] == 0xF0)
		lo = 0x90;
	else if (p[0] == 0xF4)
		hi = 0x8F;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return len;
}

char *textenc_utf8_repair(const char *in, size_t len, size_t *out_len, size_t *replaced)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t at = 0, bad = 0;
	char *out;

	if (len > (SIZE_MAX - 1) / 3)
		return NULL;
	out = malloc(len * 3 + 1); /* each byte at worst one U+FFFD */
	if (!out)
		return NULL;
	for (size_t i = 0; i < len;) {
		size_t n = sequence_length(p + i, len - i);
		if (n == 0) {
			memcpy(out + at, REPLACEMENT, 3);
			at += 3;
			bad++;
			i++;
			continue;
		}
		memcpy(out + at, p + i, n);
		at += n;
		i += n;
	}
	out[at] = '\0';
	if (out_len)
		*out_len = at;
	if (replaced)
		*replaced = bad;
	return out;
}

size_t textenc_utf8_cut(const char *in, size_t len)
{
	const unsigned char *p = (const unsigned char *)in;

	/* The last byte that is not a continuation, among the last four: a lead whose sequence
	 * needs more bytes than there are after it is where to cut. */
	for (size_t back = 1; back <= 4 && back <= len; back++) {
		unsigned char c = p[len - back];
		if ((c & 0xC0) == 0x80)
			continue;
		size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
		return need > back ? len - back : len;
	}
	return len; /* only continuation bytes at the end: nothing of ours to keep whole */
}

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *textenc_base64_encode(const unsigned char *in, size_t len)
{
	size_t at = 0;
	char *out;

	if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
		return NULL;
	out = malloc((len + 2) / 3 * 4 + 1);
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[at++] = ALPHABET[v >> 18 & 63];
		out[at++] = ALPHABET[v >> 12 & 63];
		out[at++] = i + 1 < len ? ALPHABET[v >> 6 & 63] : '=';
		out[at++] = i + 2 < len ? ALPHABET[v & 63] : '=';
	}
	out[at] = '\0';
	return out;
}

static int base64_value(char c)
{
	const char *at = c ? strchr(ALPHABET, c) : NULL;

	return at ? (int)(at - ALPHABET) : -1;
}

unsigned char *textenc_base64_decode(const char *text, size_t len, size_t *out_len)
{
	size_t at = 0;
	unsigned char *out;

	if (len % 4 != 0) {
		errno = EINVAL;
		return NULL;
	}
	out = malloc(len / 4 * 3 + 1);
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 4) {
		bool is_last = i + 4 == len;
		int pad = is_last ? (text[i + 3] == '=') + (text[i + 2] == '=') : 0;
		int v[4];
		for (int k = 0; k < 4; k++)
			v[k] = k >= 4 - pad ? 0 : base64_value(text[i + (size_t)k]);
		/* "x=y=" and bits set under the padding are not canonical base64: refused. */
		if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0 ||
		    (pad == 1 && text[i + 2] == '=') || (pad == 2 && (v[1] & 15)) ||
		    (pad == 1 && (v[2] & 3))) {
			free(out);
			errno = EINVAL;
			return NULL;
		}
		uint32_t bits = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
				(uint32_t)v[3];
		out[at++] = (unsigned char)(bits >> 16);
		if (pad < 2)
			out[at++] = (unsigned char)(bits >> 8);
		if (pad < 1)
			out[at++] = (unsigned char)bits;
	}
	*out_len = at;
	return out;
}
