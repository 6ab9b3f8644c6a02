/* Fuzzes what a model sends `stockade mcp` for a tool (src/cli/mcp_tools.c's argument checks,
 * with src/util/textenc.c): any bytes as the arguments of every tool, with two profiles
 * allowed. Checked: arguments accepted fit the tool's own inputSchema (every key one of its
 * properties, each value of its type, a name that cannot be an option, an absolute path, a
 * profile among the allowed, no NUL where the value goes into argv); refused ones get an
 * error result with words. And the bytes themselves: repaired into valid UTF-8 (jansson
 * takes it), cut between characters, and through base64 and back unchanged. */
#undef NDEBUG /* the checks below are the point */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/mcp_internal.h"
#include "store/box.h"
#include "util/textenc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool has_nul(const json_t *s)
{
	return strlen(json_string_value(s)) != json_string_length(s);
}

/* One accepted value against its property's schema (as tools/list gives it). */
static void check_value(const json_t *prop, const json_t *value, const struct mcp_options *o)
{
	const char *type = json_string_value(json_object_get(prop, "type"));
	const char *pattern = json_string_value(json_object_get(prop, "pattern"));
	json_t *allowed = json_object_get(prop, "enum"), *item;
	const char *key;
	size_t i;

	if (strcmp(type, "string") == 0) {
		assert(json_is_string(value));
		if (pattern && strcmp(pattern, "^/") == 0)
			assert(json_string_value(value)[0] == '/' && !has_nul(value));
		else if (pattern) /* a sandbox's name */
			assert(box_check_name(json_string_value(value)) == 0 && !has_nul(value));
	} else if (strcmp(type, "boolean") == 0) {
		assert(json_is_boolean(value));
	} else if (strcmp(type, "number") == 0) {
		assert(json_is_number(value) && json_number_value(value) > 0 &&
		       json_number_value(value) * 1000.0 <= (double)o->max_timeout_ms);
	} else if (strcmp(type, "array") == 0) {
		assert(json_array_size(value) >= 1 && json_array_size(value) <= MCP_ARGV_MAX);
		json_array_foreach(value, i, item)
		{
			assert(json_is_string(item) && !has_nul(item));
		}
	} else {
		assert(strcmp(type, "object") == 0 && json_object_size(value) <= MCP_ENV_MAX);
		json_object_foreach((json_t *)value, key, item)
		{
			assert(*key && !strchr(key, '=') && json_is_string(item) && !has_nul(item));
		}
	}
	if (allowed) {
		bool is_listed = false;
		json_array_foreach(allowed, i, item)
		{
			is_listed |= json_equal(item, (json_t *)value);
		}
		assert(is_listed);
	}
}

static void check_tool(struct mcp_session *s, const json_t *tool, json_t *args)
{
	const json_t *props = json_object_get(json_object_get(tool, "inputSchema"), "properties");
	struct mcp_call c;
	const char *key;
	json_t *value;

	memset(&c, 0, sizeof(c));
	c.tool = mcp_tool_find(json_string_value(json_object_get(tool, "name")));
	c.args = args;
	assert(c.tool);
	if (!mcp_tool_check_args(s, &c)) {
		json_t *text = json_object_get(
		    json_array_get(json_object_get(c.result, "content"), 0), "text");
		assert(json_is_true(json_object_get(c.result, "isError")));
		assert(json_string_length(text) > 0);
		json_decref(c.result);
		return;
	}
	assert(!c.result);
	json_object_foreach(args, key, value)
	{
		const json_t *prop = json_object_get(props, key);
		const struct mcp_field *f = c.tool->fields;
		assert(prop);
		check_value(prop, value, s->opts);
		while (f->name && strcmp(f->name, key) != 0)
			f++;
		assert(f->name);
		/* Only stdin and content (memfds) may hold a NUL: all else goes into argv. */
		if (json_is_string(value) && f->type != MCP_TEXT)
			assert(!has_nul(value));
	}
}

static void check_bytes(const char *bytes, size_t size)
{
	size_t len, replaced, cut = textenc_utf8_cut(bytes, size), back_len;
	char *text = textenc_utf8_repair(bytes, size, &len, &replaced);
	json_t *string = json_stringn(text, len);

	assert(string && cut <= size && size - cut <= 3);
	json_decref(string);
	free(text);
	char *b64 = textenc_base64_encode((const unsigned char *)bytes, size);
	unsigned char *back = textenc_base64_decode(b64, strlen(b64), &back_len);
	assert(back && back_len == size && memcmp(back, bytes, size) == 0);
	free(b64);
	free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mcp_options o = {.allowed = {"strict", "build"},
				       .allowed_count = 2,
				       .max_timeout_ms = 600000,
				       .output_cap = 4096,
				       .max_sandboxes = 8};
	static struct mcp_session s = {.opts = &o, .protocol = "2025-06-18"};
	char *bytes = malloc(size ? size : 1);
	json_t *args, *tools, *tool;
	size_t i;

	memcpy(bytes, data, size);
	check_bytes(bytes, size);
	args = json_loadb(bytes, size, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
	if (json_is_object(args)) {
		tools = mcp_tools_list(&s);
		json_array_foreach(tools, i, tool)
		{
			check_tool(&s, tool, args);
		}
		json_decref(tools);
	}
	json_decref(args);
	free(bytes);
	return 0;
}
