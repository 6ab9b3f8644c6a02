/* A sandbox spec as a JSON document (docs/spec.md): a policy file, a profile, later the API's
 * request body. Parsed with jansson (duplicate keys refused), checked for shape (unknown keys,
 * types, the version), then applied field by field as the `stockade run` flag each field
 * matches: the caller's function gets the flag's name and its value as text, so a value is
 * checked by the one parser the flag uses, whichever door it came through. */
#ifndef STOCKADE_SPEC_DOC_H
#define STOCKADE_SPEC_DOC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "spec/jsonpos.h"
#include "util/err.h"

#define SPEC_VERSION 1
#define SPEC_TEXT_MAX (1u << 20) /* a spec is small; a bigger file is refused */
#define SPEC_ISSUES_MAX 100	 /* per run of `policy check`; the rest are counted */

/* One problem found in a document. err.op reads "NAME:LINE:COL: PATH: what" and err.hint says
 * what is expected; pos is 0:0 when the place is unknown. */
struct spec_issue {
	struct jsonpos pos;
	char path[128]; /* the value's JSON path ("limits.memory"), "" for none */
	struct sk_err err;
};

struct spec_issues {
	struct spec_issue *list;
	size_t count, dropped;
};

/* Sorts the issues from index `from` on by position (stable): the order a reader meets them. */
void spec_issues_sort(struct spec_issues *issues, size_t from);
void spec_issues_free(struct spec_issues *issues);
/* A problem that has no place in a document (a file that cannot be read): err as it is. */
void spec_issues_add(struct spec_issues *issues, const struct sk_err *err);

struct spec_doc {
	char name[160]; /* for messages: the file as named, "-" (stdin), "profile NAME" */
	char *text;	/* owned; kept to find the position of a later error */
	size_t len;
	json_t *root;
	const char *profile; /* "profile": the name, or NULL */
	char **argv;	     /* "command", NULL-terminated, or NULL (absent, null or invalid) */
	bool has_command;    /* the document says "command", null included */
};

/* Reads a document: "-" is stdin; otherwise a regular file, a pipe or a socket (so that
 * `--policy <(...)` works), at most SPEC_TEXT_MAX bytes. *text is malloc'd, NUL-terminated. */
int spec_read_path(const char *path, char **text, size_t *len, struct sk_err *err);
/* The same from an open fd (not closed). */
int spec_read_fd(int fd, const char *name, char **text, size_t *len, struct sk_err *err);

/* Parses text (taken over: spec_doc_free frees it, and must be called whatever this returns)
 * and checks its shape: syntax, duplicate keys, unknown keys, types, the version, "profile"
 * (not in a profile) and "command". Every problem is added to issues. Returns 0 when the
 * document can be applied (its fields of the right type; issues may have been added), -1 when
 * it cannot be (not JSON, or not an object). */
int spec_doc_load(struct spec_doc *doc, const char *name, char *text, size_t len, bool is_profile,
		  struct spec_issues *issues);

enum spec_apply_kind {
	SPEC_SET,   /* the flag with this value (NULL for a flag that takes none) */
	SPEC_RESET, /* the field's built-in default: JSON null (for a list: empty), or false */
};

/* Gets every value of a document in turn: flag is the `stockade run` long option the field
 * matches ("memory", "allow-net"), called once per element of a list. Returns 0, or -1 with
 * err filled as for that flag. */
typedef int (*spec_apply_fn)(void *ctx, const char *flag, enum spec_apply_kind kind,
			     const char *text, struct sk_err *err);

/* Applies every field of a loaded document in a fixed order (not the document's): lists
 * append, scalars replace, null resets; network.mode after the rules, so a document's own
 * mode wins over what its rules imply. A value refused by fn becomes an issue with the
 * field's path and position; the walk goes on. Returns 0 when no value was refused. */
int spec_doc_apply(const struct spec_doc *doc, spec_apply_fn fn, void *ctx,
		   struct spec_issues *issues);

void spec_doc_free(struct spec_doc *doc);

/* A problem at a path of the document (the value's position, or its key's with want_key):
 * added to issues as "NAME:LINE:COL: PATH: " and what->op. */
void spec_doc_issue(const struct spec_doc *doc, struct spec_issues *issues,
		    const struct jsonpos_seg *path, size_t depth, bool want_key,
		    const struct sk_err *what);

/* The fields a document may have, in the order they are applied (show, tests, docs). */
enum spec_field_type {
	SPEC_STRING, /* a string */
	SPEC_BOOL,   /* true or false */
	SPEC_INT,    /* an integer */
	SPEC_SIZE,   /* "512m", or an integer: bytes */
	SPEC_NUMBER, /* "0.5", "30s", or a number */
	SPEC_LIST,   /* an array of strings: the flag once per element */
};

struct spec_field {
	const char *section; /* NULL: top level; "network", "limits", "require" */
	const char *key;
	const char *flag; /* the `stockade run` long option it matches */
	enum spec_field_type type;
};

extern const struct spec_field spec_fields[];
extern const size_t spec_field_count;

#endif
