/* Fuzzes the proxy's SOCKS5 state machine (src/net/socks5.c), feeding the input as a client
 * would, in the pieces the state machine asks for: consumed never exceeds what was given and
 * replies stay within SOCKS5_REPLY_MAX. */
#undef NDEBUG
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/socks5.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	struct socks5 s;
	size_t off = 0;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	socks5_init(&s);
	for (int steps = 0; steps < 8; steps++) {
		uint8_t reply[SOCKS5_REPLY_MAX];
		size_t consumed = 0, reply_len = 0;
		enum socks5_event ev = socks5_feed(&s, buf + off, size - off, &consumed, reply,
						   &reply_len);
		assert(consumed <= size - off && reply_len <= SOCKS5_REPLY_MAX);
		if (ev != SOCKS5_REPLY)
			break;
		off += consumed;
	}
	free(buf);
	return 0;
}
