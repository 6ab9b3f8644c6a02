/* Host-side file operations on trees a sandbox could have touched: open a volume directory
 * exactly one level below its store root, copy trees in and out (import/export), remove them.
 * Every step is relative to a directory fd opened without following symlinks, so a link the
 * sandbox planted (or swaps in while we work) is never followed (runc CVE-2021-30465,
 * Flatpak CVE-2024-42472; docs/THREATS.md "Mounts and paths"). */
#ifndef STOCKADE_SAFEPATH_H
#define STOCKADE_SAFEPATH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"

/* Opens root_fd/name, where name is one path component, with openat2 RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV, and checks what it got: a
 * directory, owned by owner, on root_fd's device. O_DIRECTORY|O_CLOEXEC plus extra_flags
 * (O_RDONLY or O_PATH). Returns the fd, or -1 with err. */
int safepath_open_dir(int root_fd, const char *name, uid_t owner, int extra_flags,
		      struct sk_err *err);

/* 0 when name is a single, ordinary path component (not empty, ".", "..", no '/'). */
int safepath_check_component(const char *name);
/* parent_fd/name, a directory of the store: created 0700 if missing, and refused (EPERM) unless
 * it is a directory (no symlink) owned by us that nobody else can enter. Errors in `layer`. */
int safepath_private_dir(int parent_fd, const char *name, const char *layer, struct sk_err *err);

/* What a copy does with a symbolic link it meets (export's --links; import keeps them all). */
enum safepath_links {
	SAFEPATH_LINKS_KEEP, /* every link recreated as it is (its target is never resolved) */
	SAFEPATH_LINKS_SAFE, /* only links that cannot lead out of the copy (safepath_link_escapes)
			      */
	SAFEPATH_LINKS_SKIP, /* none */
};

/* Why a link at link_path (relative to the top of the copied tree, e.g. "d/x") whose text is
 * target could lead out of the tree once copied, or NULL when it cannot. Purely lexical, never
 * resolved, so a tree that changes meanwhile cannot fool it. A link stays inside when its
 * target is relative, made of '..' components first and names after (no '..' after a name),
 * with no more '..' than the link's directory is deep. Why that is enough: each '..' then goes
 * up through the link's own real parent directories, and a name only goes down, into a real
 * directory or through another link that passed the same rule from its own position, so no
 * chain of links can climb. A '..' after a name is refused because the name may be a link
 * (`b -> .` makes `b/../x` climb while looking one level deep). */
const char *safepath_link_escapes(const char *link_path, const char *target);

/* How to copy: owner for every created entry when chown_uid is not -1 (import as root), what
 * to do with links, and who hears of each link left out (may be NULL). */
struct safepath_copy_opts {
	uid_t chown_uid;
	gid_t chown_gid;
	enum safepath_links links;
	void (*on_skipped_link)(void *arg, const char *path, const char *target, const char *why);
	void *arg;
};

/* What a copy did; special files (devices, fifos, sockets) are skipped and counted, and so are
 * the links opts->links left out. */
struct safepath_copy_stats {
	uint64_t files, dirs, symlinks, bytes, reflinked, skipped, links_skipped;
	char first_skipped[256]; /* path relative to the source root */
};

/* Copies the contents of directory src_fd into directory dst_fd: modes (without set-id bits)
 * and times preserved, symlinks copied as symlinks (never followed) as opts->links says,
 * special files skipped. Nothing in dst is written through a symlink: files are created with
 * O_EXCL|O_NOFOLLOW (an existing non-directory entry is unlinked first, also where a link is
 * left out), directories opened with O_NOFOLLOW. Uses FICLONE when the file system can, else
 * copy_file_range, else read/write. */
int safepath_copy_tree(int src_fd, int dst_fd, const struct safepath_copy_opts *opts,
		       struct safepath_copy_stats *stats, struct sk_err *err);

/* Removes everything inside directory dir_fd, never following a symlink: entries are unlinked
 * relative to directory fds opened with O_NOFOLLOW. Directories the caller cannot read or
 * write (a sandbox may chmod 000) are given u+rwx first, on the opened inode. */
int safepath_empty_dir(int dir_fd, struct sk_err *err);

/* Removes parent_fd/name and everything below it (safepath_empty_dir, then rmdir). A name that
 * is not a directory (or was swapped for a symlink) is unlinked itself, never its target. */
int safepath_remove_tree(int parent_fd, const char *name, struct sk_err *err);

/* Bytes allocated on disk below dir_fd (st_blocks), never following a symlink. */
uint64_t safepath_disk_usage(int dir_fd);

#endif
