/* `stockade reserve status|release`: the disk reserve kept for recovering a full disk. Neither
 * command re-creates the reserve: main() does not run reserve_ensure() before them. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "store/reserve.h"

#define MIB (1ull << 20)

static int status(struct sk_err *err)
{
	struct reserve_state state;

	if (reserve_status(&state, err) < 0)
		return -1;
	printf("path: %s\n", state.path);
	if (state.exists)
		printf("reserve: %llu MiB allocated of %llu MiB\n",
		       (unsigned long long)(state.allocated_bytes / MIB),
		       (unsigned long long)(RESERVE_BYTES / MIB));
	else
		printf("reserve: released (re-created by the next stockade command once %llu MiB "
		       "are free)\n",
		       (unsigned long long)(2 * RESERVE_BYTES / MIB));
	printf("free: %llu MiB\n", (unsigned long long)(state.free_bytes / MIB));
	return 0;
}

static int release(struct sk_err *err)
{
	uint64_t freed;

	if (reserve_release(&freed, err) < 0)
		return -1;
	if (freed == 0)
		printf("no reserve to release\n");
	else
		printf("released %llu MiB; free space now, then stockade re-creates the reserve "
		       "once %llu MiB are free\n",
		       (unsigned long long)(freed / MIB),
		       (unsigned long long)(2 * RESERVE_BYTES / MIB));
	return 0;
}

int cli_reserve(int argc, char **argv, struct sk_err *err)
{
	if (argc == 2 && strcmp(argv[1], "status") == 0)
		return status(err);
	if (argc == 2 && strcmp(argv[1], "release") == 0)
		return release(err);
	return sk_fail(err, "cli", 0, "usage: stockade reserve status|release",
		       "reserve: unknown subcommand or wrong arguments");
}
