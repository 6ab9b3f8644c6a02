/* Profiles: named partial specs (docs/spec.md, "Profiles"). The built-in ones are JSON text
 * compiled into the binary and parsed like any file; an operator's are NAME.json in
 * $STOCKADE_HOME/profiles or /etc/stockade/profiles, read only when they are the caller's or
 * root's and nobody else can change them. A built-in name always means the built-in. */
#ifndef STOCKADE_PROFILE_H
#define STOCKADE_PROFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

#define PROFILE_NAME_MAX 64
#define PROFILE_SYSTEM_DIR "/etc/stockade/profiles"

struct profile_builtin {
	const char *name;
	const char *summary; /* one line, for `stockade policy profiles` */
	const char *text;    /* the JSON document */
};

extern const struct profile_builtin profile_builtins[];
extern const size_t profile_builtin_count;

/* The directories searched after the built-ins, in order: the caller's, then the system's. */
struct profile_dirs {
	char user[512]; /* "" when $STOCKADE_HOME cannot be named */
	char system[256];
};
void profile_dirs_default(struct profile_dirs *dirs);

/* A profile found: its text and where it came from. */
struct profile_text {
	char *text; /* malloc'd, NUL-terminated */
	size_t len;
	char origin[600]; /* "built-in" or the file's path */
	bool is_builtin;
};

/* 1-64 of A-Z a-z 0-9 _ -, starting with a letter or digit. Returns 0 or -1 with err. */
int profile_check_name(const char *name, struct sk_err *err);

/* Finds NAME: a built-in, else DIR/NAME.json in dirs->user, else in dirs->system. A file that
 * exists but is not safe to read (a symlink, not a regular file, owned by someone other than
 * the caller or root, writable by group or others, in a directory that is) is refused, not
 * skipped. Returns 0, or -1 with err. */
int profile_load(const char *name, const struct profile_dirs *dirs, struct profile_text *out,
		 struct sk_err *err);
void profile_text_free(struct profile_text *text);

/* Every profile there is, for listing: the built-ins, then each NAME.json of the user and
 * system directories in name order. status is NULL when the profile can be used, else why not
 * (refused, or shadowed). Calls fn once per profile. */
typedef void (*profile_list_fn)(void *ctx, const char *name, const char *origin,
				const char *summary, const char *status);
void profile_list(const struct profile_dirs *dirs, profile_list_fn fn, void *ctx);

#endif
