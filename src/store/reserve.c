/* The disk reserve. Kept cheap on the common path (one fstatat: `stockade run` start-up is
 * measured against bubblewrap), repaired on the slow path, never a reason for a command to fail:
 * a missing reserve is a warning, not a broken sandbox. */
#define _GNU_SOURCE
#include "store/reserve.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "util/paths.h"

#define MIB (1ull << 20)

static bool is_whole(const struct stat *st)
{
	return S_ISREG(st->st_mode) && st->st_uid == geteuid() &&
	       (uint64_t)st->st_blocks * 512 >= RESERVE_BYTES;
}

/* fallocate where the file system has it; zeros where it does not (the blocks are then written,
 * which also allocates them). */
static int allocate(int fd)
{
	static const char zeros[1 << 16];

	if (fallocate(fd, 0, 0, (off_t)RESERVE_BYTES) == 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != ENOSYS)
		return -1;
	for (uint64_t off = 0; off < RESERVE_BYTES; off += sizeof(zeros)) {
		ssize_t n = pwrite(fd, zeros, sizeof(zeros), (off_t)off);
		if (n < 0 && errno == EINTR) {
			off -= sizeof(zeros);
			continue;
		}
		if (n != (ssize_t)sizeof(zeros))
			return -1;
	}
	return 0;
}

static uint64_t free_bytes(int dir_fd)
{
	struct statvfs vfs;

	return fstatvfs(dir_fd, &vfs) == 0 ? (uint64_t)vfs.f_bavail * vfs.f_frsize : 0;
}

/* A new file under a temporary name, renamed into place once whole. */
static int recreate(int home_fd, char *why, size_t why_size)
{
	char tmp[64];
	uint64_t avail = free_bytes(home_fd);
	int fd;

	if (avail < 2 * RESERVE_BYTES) {
		snprintf(why, why_size,
			 "not re-created: %llu MiB free, below %llu MiB (twice its size); it comes "
			 "back by itself once space is freed",
			 (unsigned long long)(avail / MIB),
			 (unsigned long long)(2 * RESERVE_BYTES / MIB));
		return -1;
	}
	snprintf(tmp, sizeof(tmp), RESERVE_FILE ".%d", (int)getpid());
	fd = openat(home_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || allocate(fd) < 0 || renameat(home_fd, tmp, home_fd, RESERVE_FILE) < 0) {
		snprintf(why, why_size, "could not create %s: %s", RESERVE_FILE, strerror(errno));
		if (fd >= 0)
			unlinkat(home_fd, tmp, 0);
	}
	if (fd >= 0)
		close(fd);
	return 0;
}

static void repair(char *why, size_t why_size)
{
	char home[PATH_MAX];
	struct sk_err err;
	struct stat st;
	int home_fd, fd;

	memset(&err, 0, sizeof(err));
	if (paths_ensure_home(home, sizeof(home), &err) < 0)
		return; /* the command itself will say what is wrong with the state directory */
	home_fd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (home_fd < 0)
		return;
	if (fstatat(home_fd, RESERVE_FILE, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		recreate(home_fd, why, why_size);
	} else if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		snprintf(why, why_size, "%s/%s is not a regular file of yours; remove it", home,
			 RESERVE_FILE);
	} else {
		/* Shrunk (truncated, or sparse): allocate what is missing. */
		fd = openat(home_fd, RESERVE_FILE, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || allocate(fd) < 0)
			snprintf(why, why_size, "could not top up %s: %s", RESERVE_FILE,
				 strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	close(home_fd);
}

void reserve_ensure(char *why, size_t why_size)
{
	char home[PATH_MAX], path[PATH_MAX + 16];
	struct sk_err err;
	struct stat st;

	why[0] = '\0';
	memset(&err, 0, sizeof(err));
	if (paths_home(home, sizeof(home), &err) < 0)
		return;
	snprintf(path, sizeof(path), "%s/" RESERVE_FILE, home);
	/* The common case: whole, and this is all it costs. */
	if (fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && is_whole(&st))
		return;
	repair(why, why_size);
}

int reserve_status(struct reserve_state *state, struct sk_err *err)
{
	char home[PATH_MAX];
	struct stat st;
	int home_fd;

	memset(state, 0, sizeof(*state));
	if (paths_ensure_home(home, sizeof(home), err) < 0)
		return -1;
	snprintf(state->path, sizeof(state->path), "%.4000s/" RESERVE_FILE, home);
	home_fd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (home_fd < 0)
		return sk_fail(err, "reserve", errno, NULL, "open %s", home);
	state->free_bytes = free_bytes(home_fd);
	if (fstatat(home_fd, RESERVE_FILE, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
		state->exists = true;
		state->allocated_bytes = (uint64_t)st.st_blocks * 512;
	}
	close(home_fd);
	return 0;
}

bool reserve_would_help(void)
{
	char home[PATH_MAX];
	struct sk_err err;
	struct statvfs vfs;

	memset(&err, 0, sizeof(err));
	return paths_home(home, sizeof(home), &err) == 0 && statvfs(home, &vfs) == 0 &&
	       (uint64_t)vfs.f_bavail * vfs.f_frsize < RESERVE_BYTES;
}

int reserve_release(uint64_t *freed, struct sk_err *err)
{
	struct reserve_state state;

	*freed = 0;
	if (reserve_status(&state, err) < 0)
		return -1;
	if (!state.exists)
		return 0;
	/* unlink needs no free blocks: this works on a full disk. */
	if (unlink(state.path) < 0 && errno != ENOENT)
		return sk_fail(err, "reserve", errno, NULL, "unlink %s", state.path);
	*freed = state.allocated_bytes;
	return 0;
}
