/* sandbox-runtime's settings (srt: Anthropic's @anthropic-ai/sandbox-runtime, the JSON file of
 * `srt --settings FILE`) translated into a stockade spec document, for `stockade policy
 * import-srt`. Every srt field is either translated exactly, or dropped with a note: a warning
 * when it is a permission srt would grant and stockade does not (stockade is stricter), an
 * error when it is a restriction stockade cannot express, or a field whose meaning is unknown
 * here. docs/spec.md, "import-srt", has the table. */
#ifndef STOCKADE_CLI_SRT_H
#define STOCKADE_CLI_SRT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "spec/jsonpos.h"

#define SRT_NOTES_MAX 100 /* the rest are counted */

/* One thing said about the settings file, at a place in it. */
struct srt_note {
	bool is_error;
	struct jsonpos pos; /* 0:0 when unknown */
	char path[160];	    /* "network.allowedDomains[2]"; "" for the document itself */
	char text[512];	    /* what stockade does instead, and why */
};

struct srt_notes {
	struct srt_note list[SRT_NOTES_MAX];
	size_t count;	/* in list, in the order of the text */
	size_t dropped; /* past SRT_NOTES_MAX */
	size_t errors;	/* counted whether kept or dropped */
};

/* Translates the settings text (len bytes, srt's JSON) into a new stockade spec document,
 * {"stockade": 1} with the network rules that match srt's; notes gets every warning and error
 * (zeroed here). Returns the document (a new reference), or NULL when there was an error: not
 * JSON, a file srt itself would refuse, an unknown field, a restriction that would be lost. */
json_t *srt_translate(const char *text, size_t len, struct srt_notes *notes);

#endif
