/* The egress proxy's HTTP/1.x request-head parser (CONNECT and absolute-form forwarding) and
 * the builder of the head sent upstream. Bounded and strict: anything two HTTP parsers could
 * read differently (bare LF, obs-fold, two framings of one body) is refused. Pure functions
 * of the buffer; the result refers to it by offsets, so the caller may move the buffer. */
#ifndef STOCKADE_HTTPREQ_H
#define STOCKADE_HTTPREQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/hostmatch.h"

#define HTTPREQ_HEAD_MAX 16384 /* request line + headers + the empty line */
#define HTTPREQ_LINE_MAX 8192  /* one line, CRLF excluded */
#define HTTPREQ_HEADERS_MAX 100

enum httpreq_status {
	HTTPREQ_NEED_MORE, /* no verdict yet: read more and call again with the whole buffer */
	HTTPREQ_COMPLETE,  /* the head is buf[0, head_len); what follows is body/tunnel data */
	HTTPREQ_BAD,	   /* answer status_code with reason, then close */
};

enum httpreq_kind {
	HTTPREQ_CONNECT, /* CONNECT host:port: a tunnel */
	HTTPREQ_FORWARD, /* METHOD http://host[:port]/path: one request forwarded */
	HTTPREQ_ORIGIN,	 /* METHOD /path inside a tunnel (httpreq_parse_tunneled) */
};

struct httpreq_span {
	uint16_t offset; /* into the buffer given to httpreq_parse */
	uint16_t len;
};

struct httpreq_header {
	struct httpreq_span name;  /* as sent */
	struct httpreq_span value; /* leading and trailing spaces/tabs trimmed */
};

struct httpreq {
	enum httpreq_kind kind;
	unsigned version_minor; /* HTTP/1.0 or HTTP/1.1 */
	struct httpreq_span method;
	struct httpreq_span target; /* the request-target as sent */
	struct httpreq_span path;   /* FORWARD: path and query; len 0 means "/" */
	bool path_needs_slash;	    /* FORWARD: target was "http://h?q": send "/?q" */
	struct nethost host;	    /* the target host, canonical */
	uint16_t port;		    /* the target port (FORWARD without one: 80) */
	bool is_https;		    /* httpreq_parse_https: a Host without a port means 443 */
	bool has_host_header;
	bool is_chunked;
	bool has_content_length;
	uint64_t content_length;
	size_t header_count;
	struct httpreq_header headers[HTTPREQ_HEADERS_MAX];
	size_t head_len;    /* COMPLETE: bytes of the head, final CRLF CRLF included */
	int status_code;    /* BAD: 400, 414, 431, 501 or 505 */
	const char *reason; /* BAD: a short static sentence for the response and the audit log */
};

/* Parses the request head at the start of buf. Call again with the grown buffer after
 * NEED_MORE; a head longer than HTTPREQ_HEAD_MAX is BAD (431), never NEED_MORE. Methods:
 * CONNECT (authority-form, port required) and GET HEAD POST PUT DELETE OPTIONS PATCH
 * (absolute-form http:// only). At most one Host (required in HTTP/1.1 forwarding), which
 * must name the target's host and port. */
enum httpreq_status httpreq_parse(const char *buf, size_t len, struct httpreq *req);

/* The same for a plain HTTP request sent inside a tunnel (CONNECT or SOCKS5) to host:port:
 * origin-form target ("/..." or "*"), any method token but CONNECT (in any case: the server,
 * not the proxy, serves the method), and a Host header, which
 * must name the tunnel's host (and its port, 80 when Host gives none) whatever the version:
 * it is what the server will route on. kind is HTTPREQ_ORIGIN; httpreq_build_upstream then
 * rebuilds it like a forwarded request. */
enum httpreq_status httpreq_parse_tunneled(const char *buf, size_t len, const struct nethost *host,
					   uint16_t port, struct httpreq *req);

/* The same for a request inside TLS that the proxy terminated (net/proxy_tls.c): a Host without
 * a port names port 443. */
enum httpreq_status httpreq_parse_https(const char *buf, size_t len, const struct nethost *host,
					uint16_t port, struct httpreq *req);

/* The head to send upstream for a FORWARD (or ORIGIN) request: origin-form target, the client's
 * headers without hop-by-hop ones (Connection and the headers it lists, Proxy-Connection,
 * Keep-Alive, Proxy-Authorization, Proxy-Authenticate, TE, Upgrade), Host added when the
 * client sent none (HTTP/1.0), and "Connection: close" (one request per upstream connection:
 * the proxy checks every request). Returns -1 when out is too small (HTTPREQ_HEAD_MAX + 512
 * always suffices). buf is the buffer httpreq_parse saw. */
int httpreq_build_upstream(const char *buf, const struct httpreq *req, char *out, size_t out_size,
			   size_t *out_len);

/* A response head from upstream (plain HTTP forwarding), rewritten for the client: the status
 * line and the headers as sent, without the hop-by-hop ones, and for a final response (not
 * 1xx) "Connection: close": the proxy carries one request per client connection, and a
 * client told nothing would send its next request into a socket about to close (RFC 9112
 * 9.6). Lines end in CRLF; obs-fold and bare CR/LF are refused. COMPLETE: resp->status_code
 * is the response's status, resp->head_len the bytes of buf that were its head, *out_len what
 * was written to out (at most head_len + 19 bytes). BAD: resp->reason (status_code 502). */
enum httpreq_status httpreq_rewrite_response(const char *buf, size_t len, char *out,
					     size_t out_size, size_t *out_len,
					     struct httpreq *resp);

#endif
