/* Fuzzes reading a JSON run report back (the report of --report FILE, read by tests and by
 * whatever consumes it) the way stockade reads JSON: jansson with JSON_REJECT_DUPLICATES, so
 * that {"exit":0,"exit":1} cannot mean two things to two readers. Checked: what loads dumps
 * and loads again to an equal value, and a duplicate key is never accepted. */
#undef NDEBUG /* the checks below are the point */
#include <assert.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t error;
	json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &error);
	char *dumped;

	if (!root) {
		assert(error.text[0] != '\0');
		return 0;
	}
	dumped = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	if (dumped) {
		json_t *again = json_loads(dumped, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &error);

		assert(again && json_equal(root, again));
		json_decref(again);
		free(dumped);
	}
	if (json_is_object(root)) {
		/* A report's fields, read as a consumer would. */
		json_t *exit = json_object_get(root, "exit");
		json_t *layers = json_object_get(root, "layers");
		const char *key;
		json_t *value;

		if (json_is_object(exit))
			(void)json_integer_value(json_object_get(exit, "code"));
		json_object_foreach(layers, key, value)
			(void)json_is_true(json_object_get(value, "applied"));
	}
	json_decref(root);
	return 0;
}
