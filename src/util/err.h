/* The one error type of stockade: filled once where a failure happens, printed once by main().
 * Functions that can fail return 0 or -1 and take `struct sk_err *err` last. The child after
 * clone fills the same structure with async-signal-safe copies and sends it to the parent. */
#ifndef STOCKADE_ERR_H
#define STOCKADE_ERR_H

#include <stddef.h>

struct sk_err {
	char layer[24]; /* which layer or subsystem failed: "seccomp", "mount", "cli", ... */
	char op[384];	/* the failing operation, with its path: "mount(tmpfs on /tmp)" */
	int errnum;	/* errno seen, 0 when the failure has none (a bad flag, say) */
	char hint[768]; /* what the operator can do about it; may be empty */
	int exit_code;	/* exit status main() should use: 125 unless set otherwise */
};

/* Parent side (may format): fills err and returns -1. */
int sk_fail(struct sk_err *err, const char *layer, int errnum, const char *hint, const char *fmt,
	    ...) __attribute__((format(printf, 5, 6)));

/* Async-signal-safe: usable in the child after clone. `op` and `path` are joined as "op path";
 * either may be NULL. Returns -1. */
int sk_fail_safe(struct sk_err *err, const char *layer, int errnum, const char *op,
		 const char *path, const char *hint);

/* Both always return -1; the macros make that visible where they are called, so that the
 * compiler and the static analyzers (clang-tidy's clang-analyzer-*) follow `return sk_fail()`
 * as a failure instead of assuming any int (which made them report uninitialized outputs on
 * paths that cannot happen). The definitions are written `int (sk_fail)(...)`. */
#define sk_fail(...)                                                                               \
	({                                                                                         \
		(void)(sk_fail)(__VA_ARGS__);                                                      \
		-1;                                                                                \
	})
#define sk_fail_safe(...)                                                                          \
	({                                                                                         \
		(void)(sk_fail_safe)(__VA_ARGS__);                                                 \
		-1;                                                                                \
	})

/* Async-signal-safe bounded copy and append; always NUL-terminates, returns the length. */
size_t sk_strlcpy(char *dst, const char *src, size_t size);
size_t sk_strlcat(char *dst, const char *src, size_t size);
/* Async-signal-safe decimal formatting of an unsigned value into buf; returns buf. */
char *sk_utoa(unsigned long long value, char *buf, size_t size);

/* "LAYER: OP: ERRNO-TEXT (HINT)" as one line into line; its length. */
size_t sk_format(const struct sk_err *err, char *line, size_t size);
/* Prints "stockade: LAYER: OP: ERRNO-TEXT (HINT)" as one line on stderr. */
void sk_err_print(const struct sk_err *err);

#endif
