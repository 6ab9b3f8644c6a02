/* File descriptor hygiene shared by the sandbox's PID 1 and the proxy process. */
#ifndef STOCKADE_FDS_H
#define STOCKADE_FDS_H

/* Closes every fd from 3 up except those in keep (sorted here, in place). Async-signal-safe:
 * close_range(2) over the gaps. Returns 0, or -1 with errno. */
int fds_close_except(int *keep, int count);

#endif
