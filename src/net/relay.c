/* splice(2) relay, one direction at a time: from -> pipe -> to, non-blocking. */
#define _GNU_SOURCE
#include "net/relay.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RELAY_PIPE_SIZE (256 * 1024)
#define RELAY_CHUNK (256 * 1024)

int relay_open(struct relay_dir *d, int from, int to)
{
	memset(d, 0, offsetof(struct relay_dir, pending));
	d->from = from;
	d->to = to;
	if (pipe2(d->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		d->pipe[0] = d->pipe[1] = -1;
		return -errno;
	}
	/* A larger pipe moves more per splice; failure only costs throughput. */
	(void)fcntl(d->pipe[1], F_SETPIPE_SZ, RELAY_PIPE_SIZE);
	return 0;
}

void relay_close(struct relay_dir *d)
{
	for (int i = 0; i < 2; i++)
		if (d->pipe[i] >= 0)
			close(d->pipe[i]);
	d->pipe[0] = d->pipe[1] = -1;
}

int relay_push(struct relay_dir *d, const void *data, size_t len)
{
	if (len > sizeof(d->pending) - d->pending_len)
		return -ENOBUFS;
	memcpy(d->pending + d->pending_len, data, len);
	d->pending_len += len;
	return 0;
}

static int flush_pending(struct relay_dir *d)
{
	while (d->pending_off < d->pending_len) {
		ssize_t n = send(d->to, d->pending + d->pending_off, d->pending_len - d->pending_off,
				 MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		d->pending_off += (size_t)n;
		d->bytes += (uint64_t)n;
	}
	return 1; /* all sent */
}

/* from -> pipe: returns 0, or -errno. */
static int fill(struct relay_dir *d)
{
	while (!d->is_from_eof) {
		ssize_t n = splice(d->from, NULL, d->pipe[1], NULL, RELAY_CHUNK,
				   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		if (n == 0) {
			d->is_from_eof = true;
			break;
		}
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		d->in_pipe += (size_t)n;
	}
	return 0;
}

/* pipe -> to: returns 0, or -errno. */
static int drain(struct relay_dir *d)
{
	while (d->in_pipe > 0) {
		ssize_t n = splice(d->pipe[0], NULL, d->to, NULL, d->in_pipe,
				   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		d->in_pipe -= (size_t)n;
		d->bytes += (uint64_t)n;
	}
	return 0;
}

int relay_pump(struct relay_dir *d)
{
	int rc = flush_pending(d);

	if (rc <= 0 || d->is_done)
		return rc < 0 ? rc : 0;
	for (;;) {
		size_t before = d->in_pipe;
		bool was_eof = d->is_from_eof;
		if ((rc = fill(d)) < 0 || (rc = drain(d)) < 0)
			return rc;
		if (d->in_pipe == before && d->is_from_eof == was_eof)
			break; /* no progress: both ends would block */
	}
	if (d->is_from_eof && d->in_pipe == 0) {
		/* Half-close: the peer sees EOF, the other direction goes on. */
		shutdown(d->to, SHUT_WR);
		d->is_done = true;
	}
	return 0;
}

bool relay_wants_read(const struct relay_dir *d)
{
	return !d->is_from_eof && d->pending_off == d->pending_len;
}

bool relay_wants_write(const struct relay_dir *d)
{
	return !d->is_done && (d->in_pipe > 0 || d->pending_off < d->pending_len);
}
