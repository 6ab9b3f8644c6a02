/* A line diff of two texts in memory, written as unified-diff hunks: Myers' O(ND) algorithm in
 * linear space (the middle snake, split and recurse), with a bound on its work after which the
 * rest is written as a plain replacement (still a correct diff, not a minimal one). */
#ifndef STOCKADE_LINEDIFF_H
#define STOCKADE_LINEDIFF_H

#include <stddef.h>
#include <stdio.h>

struct linediff_counts {
	size_t added, removed; /* lines */
};

/* Writes to out the hunks ("@@ -l,s +l,s @@" and their lines, `context` unchanged lines
 * around each change) that turn a[0..a_len) into b[0..b_len); nothing when they are equal.
 * A line ends after '\n'; a last line without one is followed by "\ No newline at end of
 * file", as diff -u writes it. counts may be NULL. 0, or -1 with errno (ENOMEM, a write
 * error of out). */
int linediff_unified(const char *a, size_t a_len, const char *b, size_t b_len, unsigned context,
		     FILE *out, struct linediff_counts *counts);

#endif
