/* A file tree as a byte stream, for `stockade cp HOSTPATH NAME:/path`: the caller's side writes
 * its host tree into a pipe, and a process inside the sandbox (confined like any exec) unpacks
 * it there; no host process ever writes into the sandbox or resolves a path in it.
 *
 * The stream: "SKCP1" NUL, the top entry's name NUL, then records: type ('d' directory, 'f'
 * file, 'l' symlink, 'e' end), mode (4 bytes), path length (4), size (8), all little-endian,
 * then the path (relative to the top, "" for the top itself) and size bytes (a file's content
 * or a link's target). */
#ifndef STOCKADE_TREESTREAM_H
#define STOCKADE_TREESTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct treestream_stats {
	uint64_t files, dirs, symlinks, bytes, skipped;
};

/* Writes the host path src (a file, a directory and everything below it, or a symlink, never
 * followed below the top) into out_fd. Special files are skipped and counted. */
int treestream_write(const char *src, int out_fd, struct treestream_stats *stats,
		     struct sk_err *err);
/* Writes one regular file, size bytes read from fd (zeros if it ends early), as a stream whose
 * top is that file under name (`stockade cp - NAME:/path`: the bytes of stdin). */
int treestream_write_file(int fd, uint64_t size, const char *name, uint32_t mode, int out_fd,
			  struct sk_err *err);

/* The stream of one regular file named name (no '/') holding len bytes of data. */
int treestream_write_bytes(const char *name, uint32_t mode, const void *data, size_t len,
			   int out_fd, struct sk_err *err);

/* Reads a stream from in_fd and makes it at dst, as `cp -r` would: inside dst when dst is an
 * existing directory (under the stream's top name), else as dst itself. Every path of the
 * stream must be relative and free of "." and ".." components; entries are made relative to
 * the top's directory fd and never through a symlink (an existing file is replaced, an
 * existing directory reused). */
int treestream_read(int in_fd, const char *dst, struct treestream_stats *stats, struct sk_err *err);

#endif
