/* The disk reserve: $STOCKADE_HOME/.reserve, 64 MiB allocated on the state directory's file
 * system, so that an operator whose disk a sandbox filled can get room back at once with
 * `stockade reserve release` (an unlink, which needs no free space). */
#ifndef STOCKADE_RESERVE_H
#define STOCKADE_RESERVE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define RESERVE_BYTES (64ull << 20)
#define RESERVE_FILE ".reserve"

/* On every start of stockade. One fstatat when the reserve is whole; otherwise re-creates it
 * (fallocate, else zeros) or tops it up. Hysteresis: a missing reserve is not re-created while
 * free space is below twice its size, so a recovering disk is not eaten again at once. Never
 * fails the command: when it did not do its job, `why` holds one sentence (else ""). */
void reserve_ensure(char *why, size_t why_size);

struct reserve_state {
	char path[PATH_MAX];
	bool exists;
	uint64_t allocated_bytes; /* st_blocks of the file */
	uint64_t free_bytes;	  /* available to us on its file system */
};

int reserve_status(struct reserve_state *state, struct sk_err *err);
/* After an ENOSPC: true when the state directory's file system is what is full (less free than
 * the reserve), so releasing the reserve would help. ENOSPC also means "too many namespaces",
 * "quota exceeded" or "full elsewhere", where the hint would mislead. */
bool reserve_would_help(void);
/* Unlinks the reserve; *freed is what it held (0 if it was not there). */
int reserve_release(uint64_t *freed, struct sk_err *err);

#endif
