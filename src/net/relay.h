/* Moving bytes between a sandbox connection and its upstream, both ways. A direction reads up
 * to its pipe's size into the proxy's one shared buffer and sends it on at once; what the
 * receiver cannot take yet waits in the direction's pipe and is spliced(2) out when the
 * receiver drains, and nothing more is read meanwhile (backpressure). A direction whose read
 * fills a whole chunk is a bulk transfer: its pipe grows to 1 MiB and from then on it moves
 * socket -> pipe -> socket by splice, with no copy through the proxy (bench/net: about a
 * third of the proxy's CPU per byte, 1.3x the throughput). Small exchanges keep the copy,
 * which costs them no pipe pages. No buffer grows with the size of a transfer. Half-close is
 * carried over (EOF on one side shuts the other side's write half once everything before it
 * was delivered). */
#ifndef STOCKADE_RELAY_H
#define STOCKADE_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RELAY_SEGMENTS 2

struct relay_dir {
	int from, to;	/* sockets (not owned) */
	int pipe[2];	/* owned: what `to` could not take yet */
	size_t in_pipe; /* bytes waiting in the pipe */
	size_t chunk;	/* bytes per read: at most what the pipe holds */
	bool has_grown; /* the pipe was grown for a bulk transfer (or refused) */
	/* Bytes the proxy read before the relay began, sent first. Not copied: the caller's
	 * memory must stay valid until relay_pending_done(). */
	struct {
		const char *data;
		size_t len;
	} segments[RELAY_SEGMENTS];
	int segment_count, segment_next;
	size_t segment_off;
	bool has_read_limit; /* relay_read_at_most() was called */
	uint64_t read_left;  /* then: bytes still to read from `from` */
	bool is_from_eof;    /* `from` said EOF (or the read limit was reached) */
	bool is_done;	     /* EOF delivered: `to` was shut down for writing */
	uint64_t bytes;	     /* delivered to `to` */
};

/* Sets up a direction (makes its pipe). Returns 0 or -errno. */
int relay_open(struct relay_dir *d, int from, int to);
void relay_close(struct relay_dir *d);
/* One forwarded HTTP request: read exactly `bytes` more from `from` (its body), then stop
 * reading as if it said EOF — but without shutting `to` down, since a server may take an
 * early FIN for an aborted request. 0: nothing more is read at all. */
void relay_read_at_most(struct relay_dir *d, uint64_t bytes);
/* Queues bytes to send before the spliced stream (what the proxy already read); -ENOBUFS
 * past RELAY_SEGMENTS segments not yet sent. */
int relay_push(struct relay_dir *d, const void *data, size_t len);
/* Sends what is queued (relay_push) without reading `from`: 0 (done or would block), -errno. */
int relay_flush(struct relay_dir *d);
/* Every queued byte was sent: the caller may free the memory it queued. */
bool relay_pending_done(const struct relay_dir *d);
/* Moves what it can without blocking. Returns 0 when it would block or is done, -errno on a
 * socket error (the connection should be torn down). */
int relay_pump(struct relay_dir *d);
/* What the direction waits for now (for the epoll interest of its two sockets). */
bool relay_wants_read(const struct relay_dir *d);
bool relay_wants_write(const struct relay_dir *d);

#endif
