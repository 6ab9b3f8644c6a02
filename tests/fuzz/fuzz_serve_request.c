/* Fuzzes the request layer of `stockade serve` that takes a client's bytes before anything
 * runs (src/cli/serve_parse.c): the URL's route and an exec's JSON body. The input is a URL,
 * a newline, then the body. Checked: a route names a valid sandbox (and a 32-hex-digit exec id)
 * exactly when it should; a body that parses gives a request PID 1 accepts as it is: built and
 * parsed again by service_body_parse (what the sandbox runs), it has the same arguments,
 * workdir and environment, and the output cap is within the bounds given. */
#undef NDEBUG /* the checks below are the point */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/serve_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_route(const char *url)
{
	struct serve_route r;

	serve_route_parse(url, &r);
	bool has_name = r.kind == ROUTE_BOX || r.kind == ROUTE_EXECS || r.kind == ROUTE_EXEC ||
			r.kind == ROUTE_FILES;
	assert(!has_name || (box_check_name(r.name) == 0 && strstr(url, r.name)));
	assert(r.kind != ROUTE_EXEC || strlen(r.id) == SERVE_EXEC_ID_LEN);
	assert(r.kind == ROUTE_EXEC || r.id[0] == '\0');
}

static void check_body(const char *text, size_t len)
{
	static char buf[SERVICE_BODY_MAX];
	static struct service_body again;
	struct serve_exec_request req;
	char message[300];
	json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);

	if (!doc)
		return;
	if (serve_exec_parse(doc, 4096, 65536, &req, message, sizeof(message)) == 0) {
		assert(req.output_cap <= 65536);
		assert(req.body.argc > 0 && req.body.argv[0][0]);
		long n = service_body_build(buf, sizeof(buf), &req.body);
		assert(n > 0);
		if (service_body_parse(buf, (size_t)n, &again) == 0) {
			assert(again.argc == req.body.argc);
			for (size_t i = 0; i < again.argc; i++)
				assert(strcmp(again.argv[i], req.body.argv[i]) == 0);
			assert(again.env_count == req.body.env_count);
			for (size_t i = 0; i < again.env_count; i++)
				assert(strcmp(again.env[i], req.body.env[i]) == 0);
			assert(!req.body.workdir || strcmp(again.workdir, req.body.workdir) == 0);
		}
	} else {
		assert(message[0]);
	}
	serve_exec_request_free(&req);
	json_decref(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t url_len = nl ? (size_t)(nl - data) : size;
	char *url = malloc(url_len + 1);

	if (!url)
		return 0;
	memcpy(url, data, url_len);
	url[url_len] = '\0';
	check_route(url);
	free(url);
	if (nl)
		check_body((const char *)nl + 1, size - url_len - 1);
	return 0;
}
