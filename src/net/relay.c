/* splice(2) relay, one direction at a time: from -> pipe -> to, non-blocking. */
#define _GNU_SOURCE
#include "net/relay.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RELAY_PIPE_SIZE (256 * 1024)
#define RELAY_CHUNK (256 * 1024)

int relay_open(struct relay_dir *d, int from, int to)
{
	memset(d, 0, sizeof(*d));
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
	if (len == 0)
		return 0;
	if (d->segment_next == d->segment_count)
		d->segment_count = d->segment_next = 0; /* all sent: the slots are free again */
	if (d->segment_count >= RELAY_SEGMENTS)
		return -ENOBUFS;
	d->segments[d->segment_count].data = data;
	d->segments[d->segment_count].len = len;
	d->segment_count++;
	return 0;
}

bool relay_pending_done(const struct relay_dir *d)
{
	return d->segment_next >= d->segment_count;
}

/* Returns 1 when every queued byte is sent, 0 when `to` would block, -errno on error. */
static int flush_pending(struct relay_dir *d)
{
	while (d->segment_next < d->segment_count) {
		const char *data = d->segments[d->segment_next].data;
		size_t len = d->segments[d->segment_next].len;
		ssize_t n = send(d->to, data + d->segment_off, len - d->segment_off, MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		d->segment_off += (size_t)n;
		d->bytes += (uint64_t)n;
		if (d->segment_off == len) {
			d->segment_next++;
			d->segment_off = 0;
		}
	}
	return 1;
}

int relay_flush(struct relay_dir *d)
{
	int rc = flush_pending(d);

	return rc < 0 ? rc : 0;
}

/* from -> pipe: returns 0, or -errno. */
static int fill(struct relay_dir *d)
{
	while (!d->is_from_eof) {
		size_t want = RELAY_CHUNK;
		if (d->from_limit) {
			if (d->from_read >= d->from_limit) {
				d->is_from_eof = true;
				break;
			}
			if (d->from_limit - d->from_read < want)
				want = (size_t)(d->from_limit - d->from_read);
		}
		ssize_t n = splice(d->from, NULL, d->pipe[1], NULL, want,
				   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		if (n == 0) {
			d->is_from_eof = true;
			break;
		}
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		d->in_pipe += (size_t)n;
		d->from_read += (uint64_t)n;
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
		bool is_at_limit = d->from_limit && d->from_read >= d->from_limit;
		if (!(is_at_limit && d->is_limit_silent))
			shutdown(d->to, SHUT_WR);
		d->is_done = true;
	}
	return 0;
}

bool relay_wants_read(const struct relay_dir *d)
{
	return !d->is_from_eof && relay_pending_done(d);
}

bool relay_wants_write(const struct relay_dir *d)
{
	return !d->is_done && (d->in_pipe > 0 || !relay_pending_done(d));
}
