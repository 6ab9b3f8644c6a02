/* Output shared by the subcommands: a JSON document on stdout (doctor --json, volume ls --json,
 * volume inspect). */
#include "cli/cli.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

int cli_print_json(json_t *value, int flags, const char *layer, struct sk_err *err)
{
	char *text = value ? json_dumps(value, JSON_INDENT(2) | flags) : NULL;

	json_decref(value);
	if (!text)
		return sk_fail(err, layer, ENOMEM, NULL, "encoding JSON");
	printf("%s\n", text);
	free(text);
	return 0;
}
