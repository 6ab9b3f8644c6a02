/* Fuzzes the exec request body (service_body_parse in src/sandbox/service.c), which the
 * supervisor parses from a client of its control socket and PID 1 parses again. Checked: a
 * parse that succeeds points only inside the buffer, has a non-empty argv[0] and a NULL after
 * the last argument, env entries of the form KEY=VALUE, and builds back (service_body_build)
 * into exactly the same bytes. */
#undef NDEBUG /* the checks below are the point */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/service.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool inside(const char *p, const char *buf, size_t size)
{
	return p >= buf && p < buf + size && memchr(p, '\0', (size_t)(buf + size - p));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[SERVICE_BODY_MAX], again[SERVICE_BODY_MAX];
	static struct service_body body;

	if (size > sizeof(buf))
		return 0;
	memcpy(buf, data, size);
	if (service_body_parse(buf, size, &body) < 0)
		return 0;
	assert(body.argc > 0 && body.argc <= SERVICE_MAX_ARGS && body.argv[body.argc] == NULL);
	assert(body.argv[0][0] != '\0');
	for (size_t i = 0; i < body.argc; i++)
		assert(inside(body.argv[i], buf, size));
	for (size_t i = 0; i < body.env_count; i++)
		assert(inside(body.env[i], buf, size) && strchr(body.env[i], '='));
	assert(!body.workdir || inside(body.workdir, buf, size));
	long len = service_body_build(again, sizeof(again), &body);
	assert(len == (long)size && memcmp(again, data, size) == 0);
	return 0;
}
