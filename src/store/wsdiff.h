/* A workspace's changes (store/workspace.h): what the sandbox's overlay upper layer holds,
 * compared with the host directory it was made over. Reads only what the sandbox changed
 * (the upper layer, and the host entries at the same paths), never the rest of the tree.
 *
 * Everything in upper/ is the sandbox's: it is walked with directory fds (O_NOFOLLOW, one
 * component at a time), its names are printed escaped, and its overlay marks are read only
 * for what they are (a whiteout, an opaque directory); a redirect or a metacopy file, which
 * would point at other data, is listed as refused rather than followed. */
#ifndef STOCKADE_WSDIFF_H
#define STOCKADE_WSDIFF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "store/volume.h"
#include "store/workspace.h"
#include "util/err.h"

/* Text files larger than this are shown as binary by --patch. */
#define WSDIFF_TEXT_MAX (1u << 20)

enum wsdiff_kind {
	WSDIFF_ADDED,
	WSDIFF_MODIFIED, /* content (or a link's target) differs; the mode may too */
	WSDIFF_DELETED,
	WSDIFF_RENAMED, /* a deleted regular file and an added one with the same content */
	WSDIFF_MODE,	/* only the permission bits */
	WSDIFF_TYPE,	/* a file became a directory, a link... */
};

struct wsdiff_change {
	enum wsdiff_kind kind;
	char *path;	   /* relative to DIR ("a/b"); a rename's new path */
	char *from;	   /* a rename's old path, else NULL */
	mode_t old_mode;   /* the host entry's st_mode (type and permissions), 0 if none */
	mode_t new_mode;   /* the upper entry's, 0 for a deletion */
	uint64_t old_size; /* regular files */
	uint64_t new_size;
	char *target;	      /* a new symlink's text, else NULL */
	const char *refusal;  /* why apply refuses it, else NULL */
	const char *conflict; /* set by apply's check: why the host side changed, else NULL */
};

struct wsdiff_list {
	struct wsdiff_change *items; /* sorted by path: a directory before what is in it */
	size_t count, cap;
};

struct wsdiff_summary {
	size_t by_kind[6], refused;
};

/* An open workspace: its volume (locked), its record, the upper layer and the host directory
 * (checked to be the one recorded, by device and inode). */
struct wsdiff_workspace {
	char name[WORKSPACE_NAME_MAX + 1];
	struct volume_store store;
	struct volume_handle volume;
	struct workspace_meta meta;
	int upper_fd, host_fd;
};

/* Opens workspace `name` (the volume WORKSPACE_VOLUME_PREFIX name): with is_exclusive, only if
 * no sandbox uses it (EBUSY otherwise), and no sandbox can start on it until wsdiff_close.
 * Refusals are one line, layer "workspace"; err->exit_code stays 0 (125). */
int wsdiff_open(const char *name, bool is_exclusive, struct wsdiff_workspace *ws,
		struct sk_err *err);
/* Releases it; with should_remove, the workspace's volume is removed too. */
void wsdiff_close(struct wsdiff_workspace *ws, bool should_remove);

/* The changes of upper_fd over host_fd. With is_copy (upper holds a whole copy of the tree,
 * not an overlay layer), every host entry missing from it is a deletion. */
int wsdiff_scan(int upper_fd, int host_fd, bool is_copy, struct wsdiff_list *list,
		struct sk_err *err);
void wsdiff_free(struct wsdiff_list *list);
void wsdiff_summarize(const struct wsdiff_list *list, struct wsdiff_summary *summary);

/* "added", "modified"... and the letter of --stat ("A", "M", "D", "R", "m", "T"). */
const char *wsdiff_kind_name(enum wsdiff_kind kind);
const char *wsdiff_kind_letter(enum wsdiff_kind kind);
/* "file", "dir", "symlink", "fifo", "socket", "char-device", "block-device", or "none" for 0. */
const char *wsdiff_type_name(mode_t mode);

/* prefix+path for a terminal or a patch header, quoted as git quotes a path: as it is when it
 * holds only printable ASCII other than '"' and '\\'; else in double quotes with C escapes
 * (\n, \t, \", \\, \ooo for other bytes), so no control character reaches the output. */
void wsdiff_quote(const char *prefix, const char *path, char *out, size_t size);

/* --stat: one line per change ("M path", "R old -> new", "m path 0644 -> 0755", ...), a
 * refusal after its change, then a summary line. */
void wsdiff_print_stat(FILE *out, const struct wsdiff_list *list);
/* --patch: a git-style unified diff of the text files (git apply and patch -p1 take it in
 * DIR), "Binary files ... differ" for the others, a "# " note for what a patch cannot carry
 * (directories, refused entries). */
int wsdiff_print_patch(FILE *out, const struct wsdiff_list *list, int upper_fd, int host_fd,
		       struct sk_err *err);

/* path opened beneath dir_fd (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV), flags | O_NOFOLLOW | O_CLOEXEC; "" is dir_fd
 * itself. -1 with errno. */
int wsdiff_open_beneath(int dir_fd, const char *path, int flags);

#endif
