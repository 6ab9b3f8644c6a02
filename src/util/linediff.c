/* Line diff (linediff.h). The edit script is two arrays of marks: a line of a deleted, a line
 * of b inserted; the unmarked lines of both match one to one, in order (a longest common
 * subsequence). Myers' bisection finds a point on a shortest edit path in O((N+M)D) time and
 * O(N+M) space; the two halves are solved the same way. Its work is bounded (LINEDIFF_BUDGET
 * steps): past it, what is left becomes "delete these, insert those", so a hostile pair of
 * files costs at most that much. */
#define _GNU_SOURCE
#include "util/linediff.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Steps of the bisection's inner loops over the whole diff: ~0.1 s of work. */
#define LINEDIFF_BUDGET 100000000ull

struct line {
	const char *start;
	size_t len; /* with its '\n', if it has one */
	uint64_t hash;
};

struct text {
	struct line *lines;
	long count;
};

struct diff_ctx {
	const struct line *a, *b;
	bool *is_deleted, *is_inserted;
	long *v1, *v2; /* the forward and backward furthest reaches, 2 * (N + M) + 4 each */
	uint64_t budget;
};

static uint64_t hash_bytes(const char *p, size_t len)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
	return h;
}

static int split_lines(const char *s, size_t len, struct text *t)
{
	long count = 0, n = 0;

	for (size_t i = 0; i < len; i++)
		count += s[i] == '\n';
	count += len > 0 && s[len - 1] != '\n';
	t->count = count;
	t->lines = calloc((size_t)count + 1, sizeof(*t->lines));
	if (!t->lines)
		return -1;
	for (size_t start = 0; start < len; n++) {
		const char *nl = memchr(s + start, '\n', len - start);
		size_t end = nl ? (size_t)(nl - s) + 1 : len;

		t->lines[n] =
		    (struct line){s + start, end - start, hash_bytes(s + start, end - start)};
		start = end;
	}
	return 0;
}

static bool same_line(const struct line *x, const struct line *y)
{
	return x->hash == y->hash && x->len == y->len && memcmp(x->start, y->start, x->len) == 0;
}

static void mark_rest(struct diff_ctx *ctx, long a_lo, long a_hi, long b_lo, long b_hi)
{
	for (long i = a_lo; i < a_hi; i++)
		ctx->is_deleted[i] = true;
	for (long j = b_lo; j < b_hi; j++)
		ctx->is_inserted[j] = true;
}

static bool spend(struct diff_ctx *ctx, uint64_t steps)
{
	if (ctx->budget < steps) {
		ctx->budget = 0;
		return false;
	}
	ctx->budget -= steps;
	return true;
}

/* One forward step of the bisection on diagonal k (d edits so far); the reach it ends at. */
static long forward(struct diff_ctx *ctx, const struct line *a, const struct line *b, long n,
		    long m, long *v, long off, long k, long d)
{
	long x = (k == -d || (k != d && v[off + k - 1] < v[off + k + 1])) ? v[off + k + 1]
									  : v[off + k - 1] + 1;
	long y = x - k, start = x;

	while (x < n && y < m && same_line(&a[x], &b[y]))
		x++, y++;
	(void)spend(ctx, (uint64_t)(x - start) + 1);
	v[off + k] = x;
	return x;
}

/* The same from the ends of both ranges backwards. */
static long backward(struct diff_ctx *ctx, const struct line *a, const struct line *b, long n,
		     long m, long *v, long off, long k, long d)
{
	long x = (k == -d || (k != d && v[off + k - 1] < v[off + k + 1])) ? v[off + k + 1]
									  : v[off + k - 1] + 1;
	long y = x - k, start = x;

	while (x < n && y < m && same_line(&a[n - x - 1], &b[m - y - 1]))
		x++, y++;
	(void)spend(ctx, (uint64_t)(x - start) + 1);
	v[off + k] = x;
	return x;
}

/* A point (*x, *y), relative to the ranges, on a shortest edit path of a[0..n) -> b[0..m)
 * (both non-empty, first and last lines differing): where the forward and backward searches
 * first overlap. false when there is none to find (nothing in common) or the budget ran out. */
static bool bisect(struct diff_ctx *ctx, const struct line *a, long n, const struct line *b, long m,
		   long *x_out, long *y_out)
{
	long max_d = (n + m + 1) / 2, off = max_d + 1, delta = n - m;
	long *v1 = ctx->v1, *v2 = ctx->v2;
	bool is_odd = (delta & 1) != 0;
	long k1_start = 0, k1_end = 0, k2_start = 0, k2_end = 0;

	for (long i = 0; i < 2 * off + 1; i++)
		v1[i] = v2[i] = -1;
	v1[off + 1] = v2[off + 1] = 0;
	for (long d = 0; d < max_d; d++) {
		if (ctx->budget == 0)
			return false;
		for (long k = -d + k1_start; k <= d - k1_end; k += 2) {
			long x = forward(ctx, a, b, n, m, v1, off, k, d), y = x - k;
			long k2 = delta - k;
			if (x > n) {
				k1_end += 2;
			} else if (y > m) {
				k1_start += 2;
			} else if (is_odd && k2 >= -d && k2 <= d && v2[off + k2] != -1 &&
				   x >= n - v2[off + k2]) {
				*x_out = x, *y_out = y;
				return true;
			}
		}
		for (long k = -d + k2_start; k <= d - k2_end; k += 2) {
			long x2 = backward(ctx, a, b, n, m, v2, off, k, d), y2 = x2 - k;
			long k1 = delta - k;
			if (x2 > n) {
				k2_end += 2;
			} else if (y2 > m) {
				k2_start += 2;
			} else if (!is_odd && k1 >= -d && k1 <= d && v1[off + k1] != -1 &&
				   v1[off + k1] >= n - x2) {
				*x_out = v1[off + k1];
				*y_out = v1[off + k1] - k1;
				return true;
			}
		}
	}
	return false;
}

static void diff_range(struct diff_ctx *ctx, long a_lo, long a_hi, long b_lo, long b_hi)
{
	long x, y;

	while (a_lo < a_hi && b_lo < b_hi && same_line(&ctx->a[a_lo], &ctx->b[b_lo]))
		a_lo++, b_lo++;
	while (a_lo < a_hi && b_lo < b_hi && same_line(&ctx->a[a_hi - 1], &ctx->b[b_hi - 1]))
		a_hi--, b_hi--;
	if (a_lo == a_hi || b_lo == b_hi ||
	    !bisect(ctx, ctx->a + a_lo, a_hi - a_lo, ctx->b + b_lo, b_hi - b_lo, &x, &y)) {
		mark_rest(ctx, a_lo, a_hi, b_lo, b_hi);
		return;
	}
	x += a_lo, y += b_lo;
	/* A split at either end would be the same problem again. */
	if ((x == a_lo && y == b_lo) || (x == a_hi && y == b_hi)) {
		mark_rest(ctx, a_lo, a_hi, b_lo, b_hi);
		return;
	}
	diff_range(ctx, a_lo, x, b_lo, y);
	diff_range(ctx, x, a_hi, y, b_hi);
}

/* A run of changes: a[i1..i2) deleted, b[j1..j2) inserted, equal lines before it. */
struct block {
	long i1, i2, j1, j2;
};

static size_t find_blocks(const struct diff_ctx *ctx, long n, long m, struct block *blocks)
{
	long i = 0, j = 0;
	size_t count = 0;

	while (i < n || j < m) {
		if (i < n && j < m && !ctx->is_deleted[i] && !ctx->is_inserted[j]) {
			i++, j++;
			continue;
		}
		struct block *bl = &blocks[count++];
		bl->i1 = i, bl->j1 = j;
		while (i < n && ctx->is_deleted[i])
			i++;
		while (j < m && ctx->is_inserted[j])
			j++;
		/* The marks always pair up; a side left over is written as changed, never lost. */
		if (i == bl->i1 && j == bl->j1)
			i < n ? i++ : j++;
		bl->i2 = i, bl->j2 = j;
	}
	return count;
}

static void put_line(FILE *out, char prefix, const struct line *line)
{
	fputc(prefix, out);
	fwrite(line->start, 1, line->len, out);
	if (line->len == 0 || line->start[line->len - 1] != '\n')
		fputs("\n\\ No newline at end of file\n", out);
}

static void put_range(FILE *out, char sign, long start, long len)
{
	if (len == 1)
		fprintf(out, "%c%ld", sign, start + 1);
	else
		fprintf(out, "%c%ld,%ld", sign, len == 0 ? start : start + 1, len);
}

static void write_hunk(FILE *out, const struct text *ta, const struct text *tb,
		       const struct block *first, const struct block *last, long context)
{
	long a_start = first->i1 > context ? first->i1 - context : 0;
	long a_end = last->i2 + context < ta->count ? last->i2 + context : ta->count;
	long b_start = first->j1 - (first->i1 - a_start);
	long b_end = last->j2 + (a_end - last->i2);
	long i = a_start;

	fputs("@@ ", out);
	put_range(out, '-', a_start, a_end - a_start);
	fputc(' ', out);
	put_range(out, '+', b_start, b_end - b_start);
	fputs(" @@\n", out);
	for (const struct block *bl = first; bl <= last; bl++) {
		for (; i < bl->i1; i++)
			put_line(out, ' ', &ta->lines[i]);
		for (; i < bl->i2; i++)
			put_line(out, '-', &ta->lines[i]);
		for (long j = bl->j1; j < bl->j2; j++)
			put_line(out, '+', &tb->lines[j]);
	}
	for (; i < a_end; i++)
		put_line(out, ' ', &ta->lines[i]);
}

static void write_hunks(FILE *out, const struct text *ta, const struct text *tb,
			const struct block *blocks, size_t count, long context)
{
	for (size_t first = 0; first < count;) {
		size_t last = first;
		/* Changes closer than twice the context share a hunk. */
		while (last + 1 < count && blocks[last + 1].i1 - blocks[last].i2 <= 2 * context)
			last++;
		write_hunk(out, ta, tb, &blocks[first], &blocks[last], context);
		first = last + 1;
	}
}

int linediff_unified(const char *a, size_t a_len, const char *b, size_t b_len, unsigned context,
		     FILE *out, struct linediff_counts *counts)
{
	struct text ta = {0}, tb = {0};
	struct diff_ctx ctx = {.budget = LINEDIFF_BUDGET};
	struct block *blocks = NULL;
	int rc = -1;

	if (split_lines(a, a_len, &ta) < 0 || split_lines(b, b_len, &tb) < 0)
		goto out;
	size_t span = 2 * (size_t)(ta.count + tb.count) + 8;
	ctx.a = ta.lines, ctx.b = tb.lines;
	ctx.is_deleted = calloc((size_t)ta.count + 1, sizeof(bool));
	ctx.is_inserted = calloc((size_t)tb.count + 1, sizeof(bool));
	ctx.v1 = calloc(span, sizeof(long));
	ctx.v2 = calloc(span, sizeof(long));
	blocks = calloc((size_t)(ta.count + tb.count) + 1, sizeof(*blocks));
	if (!ctx.is_deleted || !ctx.is_inserted || !ctx.v1 || !ctx.v2 || !blocks)
		goto out;
	diff_range(&ctx, 0, ta.count, 0, tb.count);
	if (counts) {
		*counts = (struct linediff_counts){0, 0};
		for (long i = 0; i < ta.count; i++)
			counts->removed += ctx.is_deleted[i];
		for (long j = 0; j < tb.count; j++)
			counts->added += ctx.is_inserted[j];
	}
	write_hunks(out, &ta, &tb, blocks, find_blocks(&ctx, ta.count, tb.count, blocks),
		    (long)context);
	rc = ferror(out) ? -1 : 0;
	if (rc < 0)
		errno = EIO;
out:
	if (rc < 0 && errno == 0)
		errno = ENOMEM;
	free(ta.lines);
	free(tb.lines);
	free(ctx.is_deleted);
	free(ctx.is_inserted);
	free(ctx.v1);
	free(ctx.v2);
	free(blocks);
	return rc;
}
