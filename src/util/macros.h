/* Small helpers every layer writes the same way: the length of an array, a macro's value as a
 * string, and a system call retried while a signal interrupts it. */
#ifndef STOCKADE_MACROS_H
#define STOCKADE_MACROS_H

#include <errno.h>

/* The number of elements of an array (not of a pointer: sizeof would lie). */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A macro's value as a string literal: STRINGIFY(SANDBOX_DEFAULT_HOST_UID) is "10001". */
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

/* expr, a call that returns -1 and sets errno on failure, made again while it fails with
 * EINTR; its last value. Async-signal-safe when expr is (glibc's TEMP_FAILURE_RETRY, without
 * depending on _GNU_SOURCE coming first). */
#define RETRY_EINTR(expr)                                                                          \
	({                                                                                         \
		__typeof__(expr) retry_result_;                                                    \
		do                                                                                 \
			retry_result_ = (expr);                                                    \
		while (retry_result_ == -1 && errno == EINTR);                                     \
		retry_result_;                                                                     \
	})

#endif
