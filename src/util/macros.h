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

/* The smaller and the larger of two values of one type, each evaluated once. */
#define MIN(a, b)                                                                                  \
	({                                                                                         \
		__typeof__(a) min_a_ = (a);                                                        \
		__typeof__(b) min_b_ = (b);                                                        \
		min_a_ < min_b_ ? min_a_ : min_b_;                                                 \
	})
#define MAX(a, b)                                                                                  \
	({                                                                                         \
		__typeof__(a) max_a_ = (a);                                                        \
		__typeof__(b) max_b_ = (b);                                                        \
		max_a_ > max_b_ ? max_a_ : max_b_;                                                 \
	})

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
