/* The error type: formatting on the parent side, async-signal-safe filling in the child, and
 * the single place where an error becomes a line on stderr. */
#include "util/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

size_t sk_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = 0;

	if (size == 0)
		return 0;
	while (src && src[n] && n + 1 < size) {
		dst[n] = src[n];
		n++;
	}
	dst[n] = '\0';
	return n;
}

size_t sk_strlcat(char *dst, const char *src, size_t size)
{
	size_t used = 0;

	while (used < size && dst[used])
		used++;
	if (used >= size)
		return used;
	return used + sk_strlcpy(dst + used, src, size - used);
}

char *sk_utoa(unsigned long long value, char *buf, size_t size)
{
	char tmp[24];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + value % 10);
		value /= 10;
	} while (value && n < sizeof(tmp));
	if (size == 0)
		return buf;
	size_t i = 0;
	while (n > 0 && i + 1 < size)
		buf[i++] = tmp[--n];
	buf[i] = '\0';
	return buf;
}

static void sk_err_reset(struct sk_err *err, const char *layer, int errnum, const char *hint)
{
	sk_strlcpy(err->layer, layer, sizeof(err->layer));
	sk_strlcpy(err->hint, hint ? hint : "", sizeof(err->hint));
	err->op[0] = '\0';
	err->errnum = errnum;
	if (err->exit_code == 0)
		err->exit_code = 125;
}

int(sk_fail)(struct sk_err *err, const char *layer, int errnum, const char *hint, const char *fmt,
	     ...)
{
	va_list ap;

	sk_err_reset(err, layer, errnum, hint);
	va_start(ap, fmt);
	vsnprintf(err->op, sizeof(err->op), fmt, ap);
	va_end(ap);
	return -1;
}

int(sk_fail_safe)(struct sk_err *err, const char *layer, int errnum, const char *op,
		  const char *path, const char *hint)
{
	sk_err_reset(err, layer, errnum, hint);
	if (op)
		sk_strlcpy(err->op, op, sizeof(err->op));
	if (op && path)
		sk_strlcat(err->op, " ", sizeof(err->op));
	if (path)
		sk_strlcat(err->op, path, sizeof(err->op));
	return -1;
}

size_t sk_format(const struct sk_err *err, char *line, size_t size)
{
	int n;

	n = snprintf(line, size, "%s: %s", err->layer[0] ? err->layer : "error", err->op);
	if (err->errnum && n > 0 && (size_t)n < size)
		n += snprintf(line + n, size - (size_t)n, ": %s", strerror(err->errnum));
	if (err->hint[0] && n > 0 && (size_t)n < size)
		snprintf(line + n, size - (size_t)n, " (%s)", err->hint);
	/* One line, whatever the parts contained. */
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return strlen(line);
}

void sk_err_print(const struct sk_err *err)
{
	char line[1200];

	sk_format(err, line, sizeof(line));
	fprintf(stderr, "stockade: %s\n", line);
}
