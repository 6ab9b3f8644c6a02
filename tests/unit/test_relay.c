/* Unit tests for src/net/relay.c: the relay between socket pairs moves every byte in order,
 * flushes pending bytes first, carries half-close, grows the pipe of a bulk direction, and
 * stops reading while the receiver is full (nothing grows with the transfer). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/relay.h"

#define TOTAL (8u << 20)

struct writer {
	int fd;
	size_t total;
};

static void *write_all(void *arg)
{
	struct writer *w = arg;
	unsigned char buf[65536];
	size_t done = 0;

	while (done < w->total) {
		size_t n = sizeof(buf) < w->total - done ? sizeof(buf) : w->total - done;
		for (size_t i = 0; i < n; i++)
			buf[i] = (unsigned char)((done + i) * 7 + 3);
		ssize_t k = write(w->fd, buf, n);
		if (k <= 0)
			break;
		done += (size_t)k;
	}
	shutdown(w->fd, SHUT_WR);
	return NULL;
}

static void nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* client <-> [a | relay | b] <-> server */
static void test_bulk_in_order_with_half_close(void **state)
{
	int client[2], server[2];
	struct relay_dir up;
	struct writer w;
	pthread_t thread;
	size_t got = 0;
	unsigned char buf[65536];
	bool is_eof = false;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, client), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, server), 0);
	nonblock(client[1]);
	nonblock(server[0]);
	assert_int_equal(relay_open(&up, client[1], server[0]), 0);
	assert_int_equal(relay_push(&up, "HEAD", 4), 0);
	w.fd = client[0];
	w.total = TOTAL;
	pthread_create(&thread, NULL, write_all, &w);
	nonblock(server[1]);
	while (!is_eof) {
		struct pollfd fds[2] = {{client[1], POLLIN, 0}, {server[0], POLLOUT, 0}};
		poll(fds, 2, 100);
		assert_int_equal(relay_pump(&up), 0);
		for (;;) {
			ssize_t n = read(server[1], buf, sizeof(buf));
			if (n == 0) {
				is_eof = true;
				break;
			}
			if (n < 0)
				break;
			for (ssize_t i = 0; i < n; i++) {
				size_t pos = got + (size_t)i;
				unsigned char want = pos < 4 ? (unsigned char)"HEAD"[pos]
							     : (unsigned char)((pos - 4) * 7 + 3);
				if (buf[i] != want)
					fail_msg("byte %zu: %u != %u", pos, buf[i], want);
			}
			got += (size_t)n;
		}
	}
	pthread_join(thread, NULL);
	assert_int_equal(got, TOTAL + 4);
	assert_int_equal(up.bytes, TOTAL + 4);
	assert_true(up.is_done);
	assert_true(up.has_grown); /* 8 MiB in a row is a bulk transfer */
	assert_false(relay_wants_read(&up));
	assert_false(relay_wants_write(&up));
	relay_close(&up);
	close(client[0]);
	close(client[1]);
	close(server[0]);
	close(server[1]);
}

static void test_pending_segments(void **state)
{
	struct relay_dir d;
	static const char a[] = "first", b[] = "second";
	int in[2], out[2];
	char got[32] = {0};

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, in), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, out), 0);
	nonblock(in[1]);
	assert_int_equal(relay_open(&d, in[1], out[0]), 0);
	assert_true(relay_pending_done(&d));
	assert_int_equal(relay_push(&d, a, 5), 0);
	assert_int_equal(relay_push(&d, "", 0), 0); /* nothing: no segment used */
	assert_int_equal(relay_push(&d, b, 6), 0);
	assert_int_equal(relay_push(&d, a, 1), -ENOBUFS);
	assert_false(relay_pending_done(&d));
	assert_true(relay_wants_write(&d));
	assert_false(relay_wants_read(&d));
	assert_int_equal(relay_pump(&d), 0);
	assert_true(relay_pending_done(&d));
	assert_true(relay_wants_read(&d));
	assert_int_equal(read(out[1], got, sizeof(got)), 11);
	assert_string_equal(got, "firstsecond");
	/* Once sent, the slots are free again (an interim HTTP head, then the final one). */
	assert_int_equal(relay_push(&d, a, 5), 0);
	assert_int_equal(relay_push(&d, b, 6), 0);
	assert_int_equal(relay_pump(&d), 0);
	assert_int_equal(read(out[1], got, sizeof(got)), 11);
	relay_close(&d);
	for (int i = 0; i < 2; i++) {
		close(in[i]);
		close(out[i]);
	}
}

/* A receiver that reads nothing: the relay holds at most one read's worth (in the pipe), stops
 * asking to read, and leaves the rest in the sender's socket; once the receiver reads, every
 * byte arrives in order. */
static void test_backpressure(void **state)
{
	int in[2], out[2];
	struct relay_dir d;
	unsigned char buf[65536];
	size_t sent = 0, got = 0;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, in), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, out), 0);
	nonblock(in[0]);
	nonblock(in[1]);
	nonblock(out[0]);
	nonblock(out[1]);
	assert_int_equal(relay_open(&d, in[1], out[0]), 0);
	for (int round = 0; round < 64; round++) {
		for (;;) { /* the sender writes until its socket is full */
			for (size_t i = 0; i < sizeof(buf); i++)
				buf[i] = (unsigned char)((sent + i) % 251);
			ssize_t n = write(in[0], buf, sizeof(buf));
			if (n <= 0)
				break;
			sent += (size_t)n;
		}
		assert_int_equal(relay_pump(&d), 0);
	}
	assert_true(d.in_pipe > 0 && d.in_pipe <= d.chunk);
	assert_false(relay_wants_read(&d)); /* a level-triggered EPOLLIN would spin */
	assert_true(relay_wants_write(&d));
	int queued = 0;
	assert_int_equal(ioctl(in[1], FIONREAD, &queued), 0);
	assert_true(queued > 0); /* left with the sender */
	shutdown(in[0], SHUT_WR);
	while (!d.is_done) {
		assert_int_equal(relay_pump(&d), 0);
		ssize_t n = read(out[1], buf, sizeof(buf));
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != (unsigned char)((got + (size_t)i) % 251))
				fail_msg("byte %zu out of order", got + (size_t)i);
		got += n > 0 ? (size_t)n : 0;
	}
	for (ssize_t n; (n = read(out[1], buf, sizeof(buf))) > 0;)
		got += (size_t)n;
	assert_int_equal(got, sent);
	assert_int_equal(d.bytes, sent);
	relay_close(&d);
	for (int i = 0; i < 2; i++) {
		close(in[i]);
		close(out[i]);
	}
}

/* One forwarded request: exactly its body goes upstream, nothing pipelined behind it, and the
 * server sees no FIN (it could take one for an aborted request). */
static void test_read_at_most(void **state)
{
	static const size_t limits[] = {5, 0};
	(void)state;
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		int client[2], server[2];
		struct relay_dir up;
		char buf[64];

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, client), 0);
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, server), 0);
		nonblock(client[1]);
		nonblock(server[0]);
		assert_int_equal(relay_open(&up, client[1], server[0]), 0);
		relay_read_at_most(&up, limits[i]);
		assert_int_equal(write(client[0], "bodyXGET /next", 14), 14);
		assert_int_equal(relay_pump(&up), 0);
		assert_true(up.is_done);
		assert_false(relay_wants_read(&up));
		ssize_t n = recv(server[1], buf, sizeof(buf), MSG_DONTWAIT);
		if (limits[i] == 0) {
			assert_int_equal(n, -1); /* nothing, and no EOF either */
			assert_int_equal(errno, EAGAIN);
		} else {
			assert_int_equal(n, 5);
			assert_memory_equal(buf, "bodyX", 5);
			assert_int_equal(recv(server[1], buf, sizeof(buf), MSG_DONTWAIT), -1);
			assert_int_equal(errno, EAGAIN); /* no FIN after the body */
		}
		/* What the client pipelined stays unread in its socket. */
		assert_int_equal(recv(client[1], buf, sizeof(buf), MSG_DONTWAIT),
				 (ssize_t)(14 - limits[i]));
		relay_close(&up);
		close(client[0]);
		close(client[1]);
		close(server[0]);
		close(server[1]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bulk_in_order_with_half_close),
		cmocka_unit_test(test_pending_segments),
		cmocka_unit_test(test_backpressure),
		cmocka_unit_test(test_read_at_most),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
