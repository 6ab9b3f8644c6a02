/* The request layer of `stockade serve` that needs no HTTP server, so that it can be fuzzed
 * alone (tests/fuzz/fuzz_serve_request.c): a URL into a route, and an exec's JSON body into the
 * request PID 1 gets (struct service_body). */
#ifndef STOCKADE_SERVE_PARSE_H
#define STOCKADE_SERVE_PARSE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sandbox/service.h"
#include "store/box.h"

enum serve_route_kind {
	ROUTE_NONE,   /* no such route: 404 */
	ROUTE_NO_BOX, /* /v1/sandboxes/{not a name}: 404 "no such sandbox" */
	ROUTE_BOXES,  /* /v1/sandboxes */
	ROUTE_BOX,    /* /v1/sandboxes/{name} */
	ROUTE_EXECS,  /* /v1/sandboxes/{name}/exec */
	ROUTE_EXEC,   /* /v1/sandboxes/{name}/exec/{id} */
	ROUTE_FILES,  /* /v1/sandboxes/{name}/files */
	ROUTE_RUN,    /* /v1/run */
};

#define SERVE_EXEC_ID_LEN 32 /* hex digits */

struct serve_route {
	enum serve_route_kind kind;
	char name[BOX_NAME_MAX + 1]; /* a valid sandbox name (box_check_name) */
	char id[SERVE_EXEC_ID_LEN + 1];
};

/* url (the path, without the query) into r. Never fails: an unknown path is ROUTE_NONE. */
void serve_route_parse(const char *url, struct serve_route *r);

/* An exec's body, parsed. Strings point into the JSON document (argv, workdir) or into
 * env_text (KEY=VALUE entries); input is the decoded stdin. serve_exec_request_free frees
 * what was allocated. */
struct serve_exec_request {
	struct service_body body;
	char *env_text;
	double timeout_s; /* 0: none */
	uint64_t output_cap;
	unsigned char *input; /* NULL: stdin is /dev/null */
	size_t input_len;
};

/* Parses req into out; max_output is the largest max_output_bytes allowed, default_output the
 * one used when the body has none. 0, or -1 with one line in message (a 400's text). */
int serve_exec_parse(const json_t *req, uint64_t default_output, uint64_t max_output,
		     struct serve_exec_request *out, char *message, size_t size);
void serve_exec_request_free(struct serve_exec_request *out);

#endif
