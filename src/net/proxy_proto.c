/* What the proxy's clients ask and how they are answered: HTTP CONNECT and plain HTTP
 * forwarding on one port, SOCKS5 on the other, and the look at a tunnel's first message
 * (tunnelpeek.c) that lets a tunnel to a named host carry only TLS or HTTP naming it. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "net/httpreq.h"
#include "net/proxy_internal.h"
#include "net/tunnelpeek.h"

/* Drops the first `n` bytes of the client's buffer (what a parser consumed). */
static void head_consume(struct conn *c, size_t n)
{
	memmove(c->head, c->head + n, c->head_len - n);
	c->head_len -= n;
}

static void http_answer(struct conn *c, int status, const char *text, const char *reason)
{
	char response[512];
	int n = snprintf(response, sizeof(response),
			 "HTTP/1.1 %d %s\r\nX-Stockade-Denied: %s\r\nContent-Type: text/plain\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\nstockade: %s\n",
			 status, text, reason, strlen(reason) + 11, reason);

	if (n > 0 && (size_t)n < sizeof(response))
		(void)conn_send(c, response, (size_t)n);
}

void proto_deny(struct conn *c, int status)
{
	const char *reason = c->reason ? c->reason : "not allowed";
	uint8_t reply[SOCKS5_REPLY_MAX];

	if (c->state == CONN_PEEK || c->state == CONN_RELAY || c->state == CONN_TLS)
		return; /* the tunnel was answered already: closing is the only answer (inside
			 * TLS the proxy answered itself, proxy_tls.c) */
	if (c->is_socks) {
		size_t n = socks5_build_reply(
		    status == 403 ? SOCKS5_NOT_ALLOWED : SOCKS5_HOST_UNREACHABLE, NULL, 0, reply);
		(void)conn_send(c, reply, n);
		return;
	}
	http_answer(c, status, status == 403 ? "Forbidden" : "Bad Gateway", reason);
}

/* Answers an HTTP request the proxy refuses and records the denial; returns -1. */
static int http_refuse(struct conn *c, int status, const char *text, const char *reason)
{
	c->reason = reason;
	http_answer(c, status, text, reason);
	conn_deny(c, reason);
	return -1;
}

/* A plain HTTP request (forwarded, or inside a tunnel) goes upstream alone: its head rebuilt
 * (httpreq_build_upstream) and exactly its body after it; the response says
 * "Connection: close". Returns 0, or -1 when refused (answered and denied). */
static int forward_setup(struct conn *c, const struct httpreq *req)
{
	c->is_forward = true;
	if (req->is_chunked) /* forwarding exactly one request needs its length */
		return http_refuse(c, 411, "Length Required",
				   "chunked request bodies are not supported: send Content-Length");
	c->body_len = req->has_content_length ? req->content_length : 0;
	size_t size = PROXY_HEAD_MAX + 512; /* enough for any head httpreq accepts */
	c->upstream_head = malloc(size);
	if (!c->upstream_head || httpreq_build_upstream(c->head, req, c->upstream_head, size,
							&c->upstream_head_len) < 0) {
		conn_deny(c, "request too large to forward");
		return -1;
	}
	return 0;
}

static int http_head(struct conn *c)
{
	struct httpreq req;

	switch (httpreq_parse(c->head, c->head_len, &req)) {
	case HTTPREQ_NEED_MORE:
		return 0;
	case HTTPREQ_BAD:
		return http_refuse(c, req.status_code, "Bad Request", req.reason);
	case HTTPREQ_COMPLETE:
		break;
	}
	c->host = req.host;
	c->port = req.port;
	/* The head and whatever came with it: a plain request or a CONNECT carrying a
	 * placeholder is going where no credential is put in. */
	if (conn_refuse_placeholder(c, c->head, c->head_len))
		return -1;
	if (req.kind == HTTPREQ_FORWARD) {
		c->proto = "http";
		c->carries = "http";
		if (forward_setup(c, &req) < 0)
			return -1;
	} else {
		c->proto = "http-connect";
	}
	head_consume(c, req.head_len); /* what follows is the body or early tunnel data */
	conn_request(c);
	return 0;
}

static int socks_head(struct conn *c)
{
	for (;;) {
		uint8_t reply[SOCKS5_REPLY_MAX];
		size_t consumed = 0, reply_len = 0;

		switch (
		    socks5_feed(&c->socks, c->head, c->head_len, &consumed, reply, &reply_len)) {
		case SOCKS5_NEED_MORE:
			return 0;
		case SOCKS5_REPLY:
			if (conn_send(c, reply, reply_len) < 0) {
				conn_close(c);
				return -1;
			}
			head_consume(c, consumed);
			continue;
		case SOCKS5_FAIL:
			if (reply_len)
				(void)conn_send(c, reply, reply_len);
			c->state = CONN_PEEK; /* answered: conn_deny must not answer again */
			conn_deny(c, c->socks.reason ? c->socks.reason : "bad SOCKS5 request");
			return -1;
		case SOCKS5_REQUEST:
			c->host = c->socks.host;
			c->port = c->socks.port;
			head_consume(c, consumed);
			conn_request(c);
			return 0;
		}
	}
}

int proto_head(struct conn *c)
{
	int rc = conn_read_head(c);

	if (rc < 0) {
		conn_close(c);
		return -1;
	}
	if (rc == 0)
		return 0;
	return c->is_socks ? socks_head(c) : http_head(c);
}

int proto_connected(struct conn *c)
{
	static const char established[] = "HTTP/1.1 200 Connection established\r\n\r\n";

	if (c->is_forward) {
		conn_start_relay(c);
		return 0;
	}
	if (c->is_socks) {
		struct sockaddr_storage bound;
		socklen_t len = sizeof(bound);
		uint8_t reply[SOCKS5_REPLY_MAX];
		size_t n;
		if (getsockname(c->upstream, (struct sockaddr *)&bound, &len) < 0)
			len = 0;
		n = socks5_build_reply(SOCKS5_SUCCEEDED, len ? (struct sockaddr *)&bound : NULL,
				       len, reply);
		if (conn_send(c, reply, n) < 0) {
			conn_close(c);
			return -1;
		}
	} else if (conn_send(c, established, sizeof(established) - 1) < 0) {
		conn_close(c);
		return -1;
	}
	if (c->credential)
		return tlsconn_start(c) < 0 ? -1 : 0; /* terminated: proxy_tls.c */
	if (c->host.is_ip || c->is_raw) {
		/* An address was checked by itself: it is where the tunnel goes, whatever it
		 * carries. A /raw rule is the caller's explicit opt-in for a name. */
		c->carries = c->is_raw ? "raw" : "ip";
		conn_start_relay(c);
		return 0;
	}
	c->state = CONN_PEEK;
	c->deadline_ms = proxy_now_ms() + c->proxy->config->peek_timeout_ms;
	if (c->head_len)
		return proto_peek(c, false) < 0 ? -1 : 0;
	return 0;
}

/* The status line's text for the answers to HTTP inside a tunnel. */
static const char *status_text(int status)
{
	switch (status) {
	case 408:
		return "Request Timeout";
	case 411:
		return "Length Required";
	case 414:
		return "URI Too Long";
	case 431:
		return "Request Header Fields Too Large";
	case 501:
		return "Not Implemented";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Bad Request";
	}
}

/* Plain HTTP inside a tunnel to a named host: later requests on a raw tunnel could name any
 * virtual host at the checked address, so it is handled like a forwarded request — its Host
 * named the tunnel's host (tunnelpeek), it goes upstream alone, and the response ends the
 * connection. Returns 0 (relaying) or -1 (refused). */
static int tunneled_http(struct conn *c, struct tunnelpeek *peek)
{
	if (conn_refuse_placeholder(c, c->head, c->head_len))
		return -1;
	head_consume(c, peek->skip); /* the empty lines before it: the request is rebuilt */
	if (forward_setup(c, &peek->req) < 0)
		return -1;
	head_consume(c, peek->req.head_len);
	conn_start_relay(c);
	return 0;
}

/* A tunnel to a named host (proto_connected relays the others at once): nothing the client
 * sends reaches the server, and nothing the server sends reaches the client (its socket is
 * not even polled in CONN_PEEK), until tunnelpeek has read the client's first message as TLS
 * or HTTP naming the tunnel's host. Anything else — another name, no name, another protocol,
 * silence until the deadline — is refused: the server could route on what the policy never
 * saw. */
int proto_peek(struct conn *c, bool is_timeout)
{
	struct tunnelpeek peek;
	bool is_final;

	if (!is_timeout) {
		int rc = conn_read_head(c);
		if (rc < 0 && c->head_len < PROXY_HEAD_MAX) {
			conn_close(c);
			return -1;
		}
	}
	is_final = is_timeout || c->head_len >= PROXY_HEAD_MAX;
	switch (tunnelpeek_classify(c->head, c->head_len, &c->host, c->port, is_final, &peek)) {
	case TUNNELPEEK_NEED_MORE:
		return 0;
	case TUNNELPEEK_TLS:
		c->carries = "tls";
		conn_start_relay(c);
		return 0;
	case TUNNELPEEK_HTTP:
		c->carries = "http";
		return tunneled_http(c, &peek);
	case TUNNELPEEK_REFUSE:
		break;
	}
	if (peek.http_status)
		return http_refuse(c, peek.http_status, status_text(peek.http_status), peek.reason);
	conn_deny(c, peek.reason);
	return -1;
}

/* Plain HTTP: reads the response head from upstream and queues it for the client rewritten
 * (httpreq_rewrite_response: "Connection: close", no hop-by-hop fields), then the body
 * bytes read with it; the relay splices the rest. Interim 1xx heads go on as they come. */
int proto_response(struct conn *c)
{
	size_t queued_from = c->resp_out_len;
	const char *failure = NULL;
	ssize_t n;

	if (!relay_pending_done(&c->down))
		return 0; /* an interim head is still going out: read on once it is sent */
	n = recv(c->upstream, c->resp + c->resp_len, PROXY_HEAD_MAX - c->resp_len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		failure = "upstream closed the connection before a response";
	else
		c->resp_len += (size_t)n;
	while (!failure && c->is_resp_head) {
		struct httpreq resp;
		size_t written = 0;
		enum httpreq_status status = httpreq_rewrite_response(
		    c->resp + c->resp_off, c->resp_len - c->resp_off, c->resp_out + c->resp_out_len,
		    PROXY_HEAD_MAX + 64 - c->resp_out_len, &written, &resp);
		if (status == HTTPREQ_NEED_MORE && c->resp_len < PROXY_HEAD_MAX)
			break;
		if (status != HTTPREQ_COMPLETE) {
			failure = status == HTTPREQ_BAD ? resp.reason : "response head too large";
			break;
		}
		c->resp_off += resp.head_len;
		c->resp_out_len += written;
		c->is_resp_head = resp.status_code < 200 && resp.status_code != 101;
	}
	if (failure) {
		c->reason = failure;
		if (!c->has_resp_sent)
			http_answer(c, 502, "Bad Gateway", failure);
		conn_close(c);
		return -1;
	}
	if ((c->resp_out_len > queued_from &&
	     relay_push(&c->down, c->resp_out + queued_from, c->resp_out_len - queued_from) < 0) ||
	    (!c->is_resp_head && c->resp_len > c->resp_off &&
	     relay_push(&c->down, c->resp + c->resp_off, c->resp_len - c->resp_off) < 0)) {
		conn_close(c);
		return -1;
	}
	c->has_resp_sent = c->has_resp_sent || c->resp_out_len > 0;
	return 0;
}
