/* File descriptor hygiene shared by the sandbox's PID 1 and the proxy process, and the one
 * write-it-all loop. */
#ifndef STOCKADE_FDS_H
#define STOCKADE_FDS_H

#include <stddef.h>
#include <sys/types.h>

/* Closes every fd from 3 up except those in keep (sorted here, in place). Async-signal-safe:
 * close_range(2) over the gaps. Returns 0, or -1 with errno. */
int fds_close_except(int *keep, int count);

/* Writes all of buf, retrying on EINTR and short writes. Async-signal-safe. Returns 0, or -1
 * with errno (EIO when the file takes no more). */
int fds_write_all(int fd, const void *buf, size_t len);
/* Reads until EOF or `len` bytes, retrying on EINTR. Returns how many, or -1 with errno. */
ssize_t fds_read_all(int fd, void *buf, size_t len);

/* A pipe (O_CLOEXEC) with both ends moved to fds of min and above, out of the way of a spawn
 * that places its child's fds at 3, 4, ... (the tie of run -d --tie-fd). 0, or -1 (errno). */
int fds_pipe_high(int fds[2], int min);

#endif
