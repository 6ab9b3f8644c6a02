/* Where things are in a JSON text: the line and column where a path's value (or its key)
 * starts, and the path of the key that ends at a given byte. jansson keeps no positions of
 * the values it parsed, so a spec error found after parsing asks here, and only then: a valid
 * document is never scanned twice. Tolerant of any input (it is fuzzed with the parser). */
#ifndef STOCKADE_JSONPOS_H
#define STOCKADE_JSONPOS_H

#include <stdbool.h>
#include <stddef.h>

/* One step of a path: an object member (key non-NULL, NUL-terminated) or an array element. */
struct jsonpos_seg {
	const char *key;
	size_t index;
};

/* 1-based; a column counts characters (UTF-8 sequences), as jansson's error columns do. */
struct jsonpos {
	int line, col;
};

#define JSONPOS_MAX_DEPTH 16

/* The position of the value at path (depth segments; 0: the document itself), or of its key
 * when want_key and the last segment is a key. Returns 0, or -1 when the text has no such
 * path. */
int jsonpos_find(const char *text, size_t len, const struct jsonpos_seg *path, size_t depth,
		 bool want_key, struct jsonpos *out);

/* The object key whose closing quote is the byte before `end` (jansson's error position for a
 * duplicate key): its path written as "network.allow" into path_buf, and the key's position.
 * Returns 0, or -1 when no key ends there. */
int jsonpos_key_ending_at(const char *text, size_t len, size_t end, char *path_buf,
			  size_t path_size, struct jsonpos *out);

/* Writes a path as "network.allow[2]" (keys' unprintable bytes as '?'); returns path_buf. */
char *jsonpos_format(const struct jsonpos_seg *path, size_t depth, char *path_buf,
		     size_t path_size);

#endif
