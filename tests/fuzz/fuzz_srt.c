/* Fuzzes `stockade policy import-srt` (src/cli/srt.c, srt_net.c) on any bytes: srt's settings
 * parsed, walked and translated. Checked: a document comes back exactly when no error was
 * noted; its rules are ones stockade's own rule parser takes, within a spec's limits; every
 * note has a kind's words and a real place (or none). */
#define _GNU_SOURCE
#undef NDEBUG /* the checks below are the point */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cli/srt.h"
#include "net/hostmatch.h"
#include "spec/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct srt_notes notes;

static void check_rules(const json_t *list, bool is_deny)
{
	struct netrule rule;
	struct sk_err err;
	size_t i;
	json_t *item;

	assert(json_array_size(list) <= SANDBOX_MAX_NET_RULES);
	json_array_foreach(list, i, item)
	{
		const char *text = json_string_value(item);
		assert(text && netrule_parse(text, strlen(text), is_deny, &rule, &err) == 0);
		assert(strcmp(rule.text, text) == 0); /* written in its canonical spelling */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc = srt_translate((const char *)data, size, &notes);
	int lines = 1;

	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	assert((doc != NULL) == (notes.errors == 0));
	assert(notes.count <= SRT_NOTES_MAX);
	for (size_t i = 0; i < notes.count; i++) {
		const struct srt_note *n = &notes.list[i];
		assert(n->text[0] != '\0' && strlen(n->path) < sizeof(n->path));
		assert((n->pos.line == 0 && n->pos.col == 0) ||
		       (n->pos.line >= 1 && n->pos.line <= lines && n->pos.col >= 1));
	}
	if (doc) {
		const json_t *network = json_object_get(doc, "network");
		assert(json_integer_value(json_object_get(doc, "stockade")) == 1);
		check_rules(json_object_get(network, "allow"), false);
		check_rules(json_object_get(network, "deny"), true);
		assert(!network || json_array_size(json_object_get(network, "allow")) > 0);
		json_decref(doc);
	}
	return 0;
}
