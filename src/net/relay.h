/* Moving bytes between a sandbox connection and its upstream, both ways, with splice(2)
 * through a pipe per direction: the bytes never enter the proxy's memory and no buffer grows
 * with the size of a transfer. Half-close is carried over (EOF on one side shuts the other
 * side's write half once everything before it was delivered). */
#ifndef STOCKADE_RELAY_H
#define STOCKADE_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RELAY_PENDING_MAX 16384

struct relay_dir {
	int from, to;		/* sockets (not owned) */
	int pipe[2];		/* owned */
	size_t in_pipe;		/* bytes waiting in the pipe */
	size_t pending_len, pending_off;
	bool is_from_eof;	/* `from` said EOF */
	bool is_done;		/* EOF delivered: `to` was shut down for writing */
	uint64_t bytes;		/* delivered to `to` */
	char pending[RELAY_PENDING_MAX]; /* bytes read before the relay began, sent first (last:
					  * relay_open clears everything before it) */
};

/* Sets up a direction (makes its pipe). Returns 0 or -errno. */
int relay_open(struct relay_dir *d, int from, int to);
void relay_close(struct relay_dir *d);
/* Queues bytes to send before the spliced stream (what the proxy already read). */
int relay_push(struct relay_dir *d, const void *data, size_t len);
/* Moves what it can without blocking. Returns 0 when it would block or is done, -errno on a
 * socket error (the connection should be torn down). */
int relay_pump(struct relay_dir *d);
/* What the direction waits for now (for the epoll interest of its two sockets). */
bool relay_wants_read(const struct relay_dir *d);
bool relay_wants_write(const struct relay_dir *d);

#endif
