/* Fuzzes the -v grammar (src/store/volume.c): any input is either refused with a message or
 * gives a volume whose guest path is absolute. */
#undef NDEBUG
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spec/spec.h"
#include "store/volume.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct sandbox_volume vol;
	struct sk_err err = {0};

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	memset(&vol, 0, sizeof(vol));
	if (volume_parse_spec(text, &vol, &err) == 0)
		assert(vol.guest[0] == '/');
	else
		assert(err.op[0] != '\0');
	free(text);
	return 0;
}
