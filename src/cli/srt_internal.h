/* The parts of the srt translation (srt.h) shared by its files: srt.c walks the document,
 * the filesystem and the credentials and writes the spec; srt_net.c turns srt's network
 * patterns into stockade's rules. Not an interface for anything else. */
#ifndef STOCKADE_CLI_SRT_INTERNAL_H
#define STOCKADE_CLI_SRT_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cli/srt.h"
#include "net/netaddr.h"

#define SRT_RESOLVED_MAX 64

/* Where the walk is in the document, for the notes' places. */
struct srt_walk {
	const char *text;
	size_t len;
	struct srt_notes *notes;
	struct jsonpos_seg path[JSONPOS_MAX_DEPTH];
	size_t depth;
};

/* What the walk has found so far. */
struct srt_found {
	json_t *allow, *deny;			/* stockade rules, canonical text, each once */
	bool is_deny_all;			/* deniedDomains "*": srt allows nothing */
	uint8_t denied_ports[65536 / 8];	/* deniedDomains "*:PORT", a bit per port */
	struct cidr resolved[SRT_RESOLVED_MAX]; /* deniedResolvedAddresses */
	size_t resolved_count;
	bool is_fs_disabled;	  /* filesystem.disabled: srt enforces no path rule */
	const json_t *allow_read; /* filesystem.allowRead, the carve-outs of denyRead */
};

enum srt_action {
	SRT_OWN,	/* translated (or checked) by its section's own code */
	SRT_SAME,	/* a boolean stockade's behaviour already matches, whatever its value */
	SRT_SAME_ANY,	/* known, and said with its object (any value) */
	SRT_WARN_TRUE,	/* a permission when true: not carried over, a warning */
	SRT_WARN_SET,	/* a permission, or srt's own machinery, when set: a warning */
	SRT_REFUSE_SET, /* when set, a restriction or a filter stockade cannot carry over */
};

struct srt_key {
	const char *key;
	enum srt_action action;
	bool is_required; /* srt refuses a file without it */
	const char *why;  /* what stockade does instead, and why */
};

/* The walk's place: a key or an index deeper, and back. */
void srt_push_key(struct srt_walk *w, const char *key);
void srt_push_index(struct srt_walk *w, size_t index);
void srt_pop(struct srt_walk *w);
/* A note at the walk's place: the value's position, or its key's with want_key. */
void srt_note(struct srt_walk *w, bool is_error, bool want_key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Every key of an object against its table: unknown ones refused, the simple actions taken,
 * missing required ones refused; SRT_OWN keys are left to the caller. */
void srt_walk_keys(struct srt_walk *w, const json_t *object, const struct srt_key *keys,
		   size_t count);
/* The value at key when it is a list of strings; NULL (and an error) when it is something
 * else (null included), NULL alone when it is absent. */
const json_t *srt_strings_at(struct srt_walk *w, const json_t *object, const char *key);

/* The network section (srt_net.c): f->allow and f->deny filled with stockade rules. */
void srt_walk_network(struct srt_walk *w, const json_t *network, struct srt_found *f);

#endif
