/* `workspace apply`: a workspace's changes (wsdiff.h) written into its host directory.
 *
 * The workspace is taken exclusively (no sandbox runs on it meanwhile, none can start); the
 * host directory is the caller's and may change under us, so every write goes through a
 * directory fd opened beneath it with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS (a link planted
 * on the way is never followed, the open fails), each file or link is made under a temporary
 * name in its own directory (O_CREAT|O_EXCL|O_NOFOLLOW) and renamed into place, and a
 * deletion unlinks beneath the opened parent, never through a link.
 *
 * Refused, one line each and nothing applied (unless should_skip_refused): the entries
 * wsdiff refuses (links leading out, devices, fifos, sockets, set-id bits, overlay redirects
 * and metacopy files) and conflicts: a host entry at a changed path whose ctime is at or
 * after the workspace's start (changed or created on the host since). A file the host removed
 * after the start leaves no entry to tell: if the sandbox changed it, apply brings it back. */
#ifndef STOCKADE_WSAPPLY_H
#define STOCKADE_WSAPPLY_H

#include <stdbool.h>
#include <stdio.h>

#include "store/wsdiff.h"
#include "util/err.h"

struct workspace_apply_opts {
	bool is_dry_run;	  /* list what would be done, change nothing */
	bool should_skip_refused; /* apply the rest when some changes are refused */
	bool should_keep;	  /* keep the workspace after a complete apply */
	/* Each refused or conflicting change (c->refusal or c->conflict says why); may be NULL. */
	void (*on_refused)(void *arg, const struct wsdiff_change *c);
	/* The change list before anything is written (dry run: the changes that would be made,
	 * refused ones included, marked); may be NULL. */
	void (*on_changes)(void *arg, const struct wsdiff_list *list);
	void *arg;
};

struct workspace_apply_stats {
	size_t changes;	  /* listed */
	size_t applied;	  /* written into the directory */
	size_t refused;	  /* refused entries, and the entries below a refused directory */
	size_t conflicts; /* host entries changed since the start */
	bool was_removed; /* the workspace went after a complete apply */
};

/* Applies workspace `name` as opts say. 0 when done (or with nothing refused, or all refused
 * skipped); -1 with err when refused (nothing written: exit 125), in use (EBUSY), or a write
 * failed (then the workspace stays, and err says how many changes were written). */
int workspace_apply(const char *name, const struct workspace_apply_opts *opts,
		    struct workspace_apply_stats *out, struct sk_err *err);

/* The --stat text of a list (wsdiff_print_stat), for `run --apply-on-success`. */
void workspace_print_stat(FILE *out, const struct wsdiff_list *list);

#endif
