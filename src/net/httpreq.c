/* HTTP/1.x request heads for the egress proxy (RFC 9110, 9112), read strictly: the proxy and
 * the origin must never disagree about where a request ends or which host it is for, so
 * every ambiguity request smuggling relies on is refused rather than interpreted. */
#include "net/httpreq.h"

#include <string.h>

#include "util/macros.h"

static enum httpreq_status bad(struct httpreq *req, int status_code, const char *reason)
{
	req->status_code = status_code;
	req->reason = reason;
	return HTTPREQ_BAD;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

/* RFC 9110 tchar. */
static bool is_tchar(char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_token(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!is_tchar(p[i]))
			return false;
	return len > 0;
}

static bool span_equals_nocase(const char *buf, struct httpreq_span span, const char *word)
{
	size_t n = strlen(word);

	if (span.len != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(buf[span.offset + i]) != word[i])
			return false;
	return true;
}

static struct httpreq_span span(size_t offset, size_t len)
{
	return (struct httpreq_span){(uint16_t)offset, (uint16_t)len};
}

static const char *const methods[] = {"GET",	"HEAD",	 "POST",    "PUT",
				      "DELETE", "PATCH", "OPTIONS", "CONNECT"};

static bool is_known_method(const char *p, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(methods); i++)
		if (strlen(methods[i]) == len && memcmp(methods[i], p, len) == 0)
			return true;
	return false;
}

/* "host[:port]" with host a name, IPv4 or [IPv6]; *port is left alone when none is given. */
static int parse_authority(const char *p, size_t len, struct nethost *host, uint16_t *port,
			   bool *has_port)
{
	struct sk_err err = {0};
	size_t host_len = len;

	*has_port = false;
	if (len > 0 && p[0] == '[') {
		const char *close = memchr(p, ']', len);
		if (!close)
			return -1;
		host_len = (size_t)(close - p) + 1;
		if (host_len < len && p[host_len] != ':')
			return -1;
	} else {
		const char *colon = memchr(p, ':', len);
		if (colon)
			host_len = (size_t)(colon - p);
	}
	if (host_len == 0 || hostmatch_parse_host(p, host_len, host, &err) < 0)
		return -1;
	if (host_len < len) {
		if (netaddr_parse_port(p + host_len + 1, len - host_len - 1, port) < 0)
			return -1;
		*has_port = true;
	}
	return 0;
}

static bool starts_with_nocase(const char *p, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	if (len < n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(p[i]) != prefix[i])
			return false;
	return true;
}

/* http://authority[/path][?query] */
static enum httpreq_status parse_absolute_form(const char *buf, struct httpreq *req)
{
	const char *t = buf + req->target.offset;
	size_t len = req->target.len, auth_len = 0;
	bool has_port;

	if (starts_with_nocase(t, len, "https://"))
		return bad(req, 400, "https:// targets are not forwarded: use CONNECT");
	if (!starts_with_nocase(t, len, "http://"))
		return bad(req, 400, "a proxy request needs an http:// target");
	if (memchr(t, '#', len))
		return bad(req, 400, "fragment in request target");
	t += 7;
	len -= 7;
	while (auth_len < len && t[auth_len] != '/' && t[auth_len] != '?')
		auth_len++;
	if (memchr(t, '@', auth_len))
		return bad(req, 400, "user information in request target");
	req->port = 80;
	if (parse_authority(t, auth_len, &req->host, &req->port, &has_port) < 0)
		return bad(req, 400, "invalid host or port in request target");
	req->path = span((size_t)(t + auth_len - buf), len - auth_len);
	req->path_needs_slash = auth_len < len && t[auth_len] == '?';
	return HTTPREQ_COMPLETE;
}

static enum httpreq_status parse_target(const char *buf, struct httpreq *req)
{
	bool has_port;

	for (size_t i = 0; i < req->target.len; i++) {
		char c = buf[req->target.offset + i];
		if (c < 0x21 || c > 0x7e)
			return bad(req, 400, "invalid character in request target");
	}
	if (req->kind == HTTPREQ_FORWARD)
		return parse_absolute_form(buf, req);
	if (req->kind == HTTPREQ_ORIGIN) {
		const char *t = buf + req->target.offset;
		bool is_asterisk = req->target.len == 1 && t[0] == '*' &&
				   span_equals_nocase(buf, req->method, "options");
		if (t[0] != '/' && !is_asterisk)
			return bad(req, 400,
				   "a request inside a tunnel needs an origin-form target");
		if (memchr(t, '#', req->target.len))
			return bad(req, 400, "fragment in request target");
		req->path = req->target;
		return HTTPREQ_COMPLETE;
	}
	if (parse_authority(buf + req->target.offset, req->target.len, &req->host, &req->port,
			    &has_port) < 0 ||
	    !has_port)
		return bad(req, 400, "CONNECT needs host:port");
	return HTTPREQ_COMPLETE;
}

/* METHOD SP request-target SP HTTP/1.x, single spaces. */
static enum httpreq_status parse_request_line(const char *buf, size_t len, struct httpreq *req)
{
	const char *sp1 = memchr(buf, ' ', len), *sp2, *version;
	size_t version_len;

	if (req->kind == HTTPREQ_ORIGIN) {
		/* Inside a tunnel the server, not the proxy, serves the method: any token goes
		 * (the Host is what is checked) — but never one a lenient server could take for
		 * a CONNECT of its own. */
		if (!sp1 || sp1 == buf || !is_token(buf, (size_t)(sp1 - buf)))
			return bad(req, 400, "malformed request line");
		req->method = span(0, (size_t)(sp1 - buf));
		if (span_equals_nocase(buf, req->method, "connect"))
			return bad(req, 400, "CONNECT inside a tunnel");
	} else if (!sp1 || !is_known_method(buf, (size_t)(sp1 - buf))) {
		return bad(req, 501, "method not supported by the proxy");
	}
	req->method = span(0, (size_t)(sp1 - buf));
	bool is_connect = sp1 - buf == 7 && memcmp(buf, "CONNECT", 7) == 0;
	if (req->kind != HTTPREQ_ORIGIN)
		req->kind = is_connect ? HTTPREQ_CONNECT : HTTPREQ_FORWARD;
	sp2 = memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - buf));
	if (!sp2 || sp2 == sp1 + 1)
		return bad(req, 400, "malformed request line");
	req->target = span((size_t)(sp1 + 1 - buf), (size_t)(sp2 - sp1 - 1));
	version = sp2 + 1;
	version_len = len - (size_t)(version - buf);
	if (version_len == 8 && memcmp(version, "HTTP/1.1", 8) == 0)
		req->version_minor = 1;
	else if (version_len == 8 && memcmp(version, "HTTP/1.0", 8) == 0)
		req->version_minor = 0;
	else if (version_len == 8 && memcmp(version, "HTTP/", 5) == 0 && is_digit(version[5]) &&
		 version[6] == '.' && is_digit(version[7]))
		return bad(req, 505, "only HTTP/1.0 and HTTP/1.1 are supported");
	else
		return bad(req, 400, "malformed request line");
	return parse_target(buf, req);
}

static enum httpreq_status parse_content_length(const char *buf, struct httpreq *req,
						struct httpreq_span value)
{
	uint64_t v = 0;

	if (req->has_content_length)
		return bad(req, 400, "more than one Content-Length");
	if (value.len == 0 || value.len > 18)
		return bad(req, 400, "invalid Content-Length");
	for (size_t i = 0; i < value.len; i++) {
		char c = buf[value.offset + i];
		if (!is_digit(c))
			return bad(req, 400, "invalid Content-Length");
		v = v * 10 + (uint64_t)(c - '0');
	}
	req->has_content_length = true;
	req->content_length = v;
	return HTTPREQ_COMPLETE;
}

/* Connection: a comma-separated list of tokens. Listing a header that frames the message or
 * names the host would have the next hop drop it: refused. */
static enum httpreq_status check_connection(const char *buf, struct httpreq *req,
					    struct httpreq_span value)
{
	size_t i = 0;

	while (i < value.len) {
		size_t start = i;
		while (i < value.len && is_tchar(buf[value.offset + i]))
			i++;
		struct httpreq_span token = span(value.offset + start, i - start);
		if (token.len == 0)
			return bad(req, 400, "malformed Connection header");
		if (span_equals_nocase(buf, token, "host") ||
		    span_equals_nocase(buf, token, "content-length") ||
		    span_equals_nocase(buf, token, "transfer-encoding"))
			return bad(req, 400, "Connection lists a framing or Host header");
		while (i < value.len &&
		       (buf[value.offset + i] == ' ' || buf[value.offset + i] == '\t'))
			i++;
		if (i < value.len && buf[value.offset + i] != ',')
			return bad(req, 400, "malformed Connection header");
		if (i < value.len)
			i++;
		while (i < value.len &&
		       (buf[value.offset + i] == ' ' || buf[value.offset + i] == '\t'))
			i++;
	}
	return HTTPREQ_COMPLETE;
}

static enum httpreq_status check_host_header(const char *buf, struct httpreq *req,
					     struct httpreq_span value)
{
	struct nethost host;
	uint16_t port = req->kind == HTTPREQ_CONNECT ? req->port : req->is_https ? 443 : 80;
	bool has_port;

	if (req->has_host_header)
		return bad(req, 400, "more than one Host header");
	req->has_host_header = true;
	if (parse_authority(buf + value.offset, value.len, &host, &port, &has_port) < 0)
		return bad(req, 400, "invalid Host header");
	if (host.is_ip != req->host.is_ip || strcmp(host.text, req->host.text) != 0 ||
	    port != req->port)
		return bad(req, 400, "Host header does not match the request target");
	return HTTPREQ_COMPLETE;
}

static enum httpreq_status check_header(const char *buf, struct httpreq *req,
					const struct httpreq_header *h)
{
	if (span_equals_nocase(buf, h->name, "host"))
		return check_host_header(buf, req, h->value);
	if (span_equals_nocase(buf, h->name, "content-length"))
		return parse_content_length(buf, req, h->value);
	if (span_equals_nocase(buf, h->name, "connection"))
		return check_connection(buf, req, h->value);
	if (span_equals_nocase(buf, h->name, "transfer-encoding")) {
		if (req->is_chunked)
			return bad(req, 400, "more than one Transfer-Encoding");
		if (!span_equals_nocase(buf, h->value, "chunked"))
			return bad(req, 501, "only Transfer-Encoding: chunked is supported");
		req->is_chunked = true;
	}
	return HTTPREQ_COMPLETE;
}

/* name ":" OWS value OWS; the line has no CR, LF or NUL (checked by the line scanner). Adds
 * the field to req->headers; a malformed one is BAD with bad_status (400 for a request, 502
 * for a response from upstream). */
static enum httpreq_status split_header_line(const char *buf, size_t start, size_t end,
					     struct httpreq *req, int bad_status)
{
	struct httpreq_header *h;
	size_t i = start, value_end = end;

	if (buf[start] == ' ' || buf[start] == '\t')
		return bad(req, bad_status, "obsolete line folding");
	if (req->header_count >= HTTPREQ_HEADERS_MAX)
		return bad(req, bad_status == 400 ? 431 : bad_status, "too many header fields");
	while (i < end && is_tchar(buf[i]))
		i++;
	if (i == start || i == end || buf[i] != ':')
		return bad(req, bad_status, "malformed header field");
	h = &req->headers[req->header_count++];
	h->name = span(start, i - start);
	for (i++; i < end && (buf[i] == ' ' || buf[i] == '\t'); i++)
		;
	while (value_end > i && (buf[value_end - 1] == ' ' || buf[value_end - 1] == '\t'))
		value_end--;
	h->value = span(i, value_end - i);
	return HTTPREQ_COMPLETE;
}

static enum httpreq_status parse_header_line(const char *buf, size_t start, size_t end,
					     struct httpreq *req)
{
	enum httpreq_status status = split_header_line(buf, start, end, req, 400);

	return status == HTTPREQ_COMPLETE
		   ? check_header(buf, req, &req->headers[req->header_count - 1])
		   : status;
}

/* Framing and Host rules that need every header. */
static enum httpreq_status check_head(struct httpreq *req)
{
	if (req->is_chunked && req->has_content_length)
		return bad(req, 400, "both Transfer-Encoding and Content-Length");
	if (req->is_chunked && req->version_minor == 0)
		return bad(req, 400, "Transfer-Encoding in an HTTP/1.0 request");
	if (req->kind == HTTPREQ_CONNECT && (req->is_chunked || req->content_length > 0))
		return bad(req, 400, "CONNECT with a body");
	if (req->kind == HTTPREQ_FORWARD && req->version_minor == 1 && !req->has_host_header)
		return bad(req, 400, "missing Host header");
	if (req->kind == HTTPREQ_ORIGIN && !req->has_host_header)
		return bad(req, 400, "a request inside a tunnel needs a Host header");
	return HTTPREQ_COMPLETE;
}

/* The end of the line starting at `start`: the index of its CR, or NEED_MORE/BAD. Bytes are
 * checked as they are scanned, so garbage is refused before the line is complete. */
static enum httpreq_status scan_line(const char *buf, size_t limit, size_t start,
				     struct httpreq *req, size_t *cr)
{
	bool is_request_line = start == 0;

	for (size_t i = start; i < limit; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (i - start > HTTPREQ_LINE_MAX)
			return is_request_line ? bad(req, 414, "request line too long")
					       : bad(req, 431, "header line too long");
		if (c == '\r') {
			if (i + 1 == limit)
				return HTTPREQ_NEED_MORE;
			if (buf[i + 1] != '\n')
				return bad(req, 400, "bare CR");
			*cr = i;
			return HTTPREQ_COMPLETE;
		}
		if (c == '\n')
			return bad(req, 400, "bare LF line ending");
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return bad(req, 400, "control character in request head");
		if (is_request_line && c >= 0x80)
			return bad(req, 400, "non-ASCII byte in request line");
	}
	if (limit - start > HTTPREQ_LINE_MAX)
		return is_request_line ? bad(req, 414, "request line too long")
				       : bad(req, 431, "header line too long");
	return HTTPREQ_NEED_MORE;
}

/* While the request line is incomplete, refuse early what can never become a method: one of
 * the proxy's (upper case, 8 letters at most), or inside a tunnel any token. */
static enum httpreq_status check_partial_method(const char *buf, size_t len, struct httpreq *req)
{
	size_t i = 0;

	if (req->kind == HTTPREQ_ORIGIN) {
		while (i < len && is_tchar(buf[i]))
			i++;
		return i < len && (buf[i] != ' ' || i == 0)
			   ? bad(req, 400, "malformed request line")
			   : HTTPREQ_NEED_MORE;
	}
	while (i < len && buf[i] >= 'A' && buf[i] <= 'Z' && i < 8)
		i++;
	if (i < len && buf[i] != ' ')
		return bad(req, 501, "method not supported by the proxy");
	return HTTPREQ_NEED_MORE;
}

/* Both parsers; req->kind, host and port are preset for a tunneled request. */
static enum httpreq_status parse_head(const char *buf, size_t len, struct httpreq *req)
{
	size_t limit = len < HTTPREQ_HEAD_MAX ? len : HTTPREQ_HEAD_MAX, start = 0, cr = 0;
	enum httpreq_status status;

	for (;;) {
		status = scan_line(buf, limit, start, req, &cr);
		if (status == HTTPREQ_NEED_MORE && start == 0)
			status = check_partial_method(buf, limit, req);
		if (status == HTTPREQ_NEED_MORE && len >= HTTPREQ_HEAD_MAX)
			return bad(req, 431, "request head too large");
		if (status != HTTPREQ_COMPLETE)
			return status;
		if (start == 0)
			status = parse_request_line(buf, cr, req);
		else if (cr == start)
			break;
		else
			status = parse_header_line(buf, start, cr, req);
		if (status != HTTPREQ_COMPLETE)
			return status;
		start = cr + 2;
	}
	req->head_len = cr + 2;
	return check_head(req);
}

enum httpreq_status httpreq_parse(const char *buf, size_t len, struct httpreq *req)
{
	memset(req, 0, sizeof(*req));
	return parse_head(buf, len, req);
}

enum httpreq_status httpreq_parse_tunneled(const char *buf, size_t len, const struct nethost *host,
					   uint16_t port, struct httpreq *req)
{
	memset(req, 0, sizeof(*req));
	req->kind = HTTPREQ_ORIGIN;
	req->host = *host;
	req->port = port;
	return parse_head(buf, len, req);
}

enum httpreq_status httpreq_parse_https(const char *buf, size_t len, const struct nethost *host,
					uint16_t port, struct httpreq *req)
{
	memset(req, 0, sizeof(*req));
	req->kind = HTTPREQ_ORIGIN;
	req->is_https = true;
	req->host = *host;
	req->port = port;
	return parse_head(buf, len, req);
}

/* Upstream output with a bound. */
struct out {
	char *buf;
	size_t size, len;
	bool overflow;
};

static void put(struct out *o, const char *p, size_t n)
{
	if (o->overflow || o->size - o->len < n) {
		o->overflow = true;
		return;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static bool is_listed_in_connection(const char *buf, const struct httpreq *req,
				    struct httpreq_span name)
{
	for (size_t h = 0; h < req->header_count; h++) {
		struct httpreq_span value = req->headers[h].value;
		if (!span_equals_nocase(buf, req->headers[h].name, "connection"))
			continue;
		for (size_t i = 0; i < value.len;) {
			size_t start = i;
			while (i < value.len && is_tchar(buf[value.offset + i]))
				i++;
			struct httpreq_span token = span(value.offset + start, i - start);
			if (token.len == name.len) {
				size_t k = 0;
				while (k < name.len &&
				       lower(buf[token.offset + k]) == lower(buf[name.offset + k]))
					k++;
				if (k == name.len)
					return true;
			}
			while (i < value.len && !is_tchar(buf[value.offset + i]))
				i++;
		}
	}
	return false;
}

static bool is_hop_by_hop(const char *buf, const struct httpreq *req, struct httpreq_span name)
{
	static const char *const names[] = {"connection",
					    "proxy-connection",
					    "keep-alive",
					    "proxy-authorization",
					    "proxy-authenticate",
					    "te",
					    "upgrade"};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (span_equals_nocase(buf, name, names[i]))
			return true;
	return is_listed_in_connection(buf, req, name);
}

static void put_host_header(struct out *o, const struct httpreq *req)
{
	char port[8];
	bool is_v6 = req->host.is_ip && req->host.ip.family == AF_INET6;

	puts_(o, is_v6 ? "Host: [" : "Host: ");
	puts_(o, req->host.text);
	puts_(o, is_v6 ? "]" : "");
	if (req->port != (req->is_https ? 443 : 80)) {
		puts_(o, ":");
		puts_(o, sk_utoa(req->port, port, sizeof(port)));
	}
	puts_(o, "\r\n");
}

int httpreq_build_upstream(const char *buf, const struct httpreq *req, char *out, size_t out_size,
			   size_t *out_len)
{
	struct out o = {out, out_size, 0, false};

	if (req->kind == HTTPREQ_CONNECT)
		return -1;
	put(&o, buf + req->method.offset, req->method.len);
	puts_(&o, req->path.len == 0 || req->path_needs_slash ? " /" : " ");
	put(&o, buf + req->path.offset, req->path.len);
	puts_(&o, req->version_minor ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n");
	for (size_t i = 0; i < req->header_count; i++) {
		const struct httpreq_header *h = &req->headers[i];
		if (is_hop_by_hop(buf, req, h->name))
			continue;
		put(&o, buf + h->name.offset, h->name.len);
		puts_(&o, ": ");
		put(&o, buf + h->value.offset, h->value.len);
		puts_(&o, "\r\n");
	}
	if (!req->has_host_header)
		put_host_header(&o, req);
	puts_(&o, "Connection: close\r\n\r\n");
	if (o.overflow)
		return -1;
	*out_len = o.len;
	return 0;
}

/* "HTTP/1.x SP 3DIGIT [SP reason]": the status line of a response from upstream. */
static enum httpreq_status parse_status_line(const char *buf, size_t len, struct httpreq *resp)
{
	if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || (buf[7] != '0' && buf[7] != '1') ||
	    buf[8] != ' ' || !is_digit(buf[9]) || !is_digit(buf[10]) || !is_digit(buf[11]) ||
	    (len > 12 && buf[12] != ' '))
		return bad(resp, 502, "malformed status line");
	resp->version_minor = (unsigned)(buf[7] - '0');
	resp->status_code = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	if (resp->status_code < 100)
		return bad(resp, 502, "malformed status line");
	return HTTPREQ_COMPLETE;
}

enum httpreq_status httpreq_rewrite_response(const char *buf, size_t len, char *out,
					     size_t out_size, size_t *out_len, struct httpreq *resp)
{
	size_t limit = len < HTTPREQ_HEAD_MAX ? len : HTTPREQ_HEAD_MAX, start = 0, cr = 0;
	size_t status_end = 0;
	struct out o = {out, out_size, 0, false};
	enum httpreq_status status;

	memset(resp, 0, sizeof(*resp));
	for (;;) {
		status = scan_line(buf, limit, start, resp, &cr);
		if (status == HTTPREQ_NEED_MORE && len >= HTTPREQ_HEAD_MAX)
			return bad(resp, 502, "response head too large");
		if (status != HTTPREQ_COMPLETE)
			return status == HTTPREQ_BAD ? bad(resp, 502, resp->reason) : status;
		if (start == 0) {
			status = parse_status_line(buf, cr, resp);
			status_end = cr + 2;
		} else if (cr == start) {
			break;
		} else {
			status = split_header_line(buf, start, cr, resp, 502);
		}
		if (status != HTTPREQ_COMPLETE)
			return status;
		start = cr + 2;
	}
	resp->head_len = cr + 2;
	/* The status line and every end-to-end header as sent, in order. */
	put(&o, buf, status_end);
	for (size_t i = 0; i < resp->header_count; i++) {
		const struct httpreq_header *h = &resp->headers[i];
		if (is_hop_by_hop(buf, resp, h->name))
			continue;
		size_t line_end = h->value.offset + h->value.len;
		while (buf[line_end] != '\r') /* trailing spaces of the value, as sent */
			line_end++;
		put(&o, buf + h->name.offset, line_end + 2 - h->name.offset);
	}
	/* An interim response (100 Continue, 103 Early Hints) is followed by the final one on
	 * the same connection; only the final one ends it. */
	if (resp->status_code >= 200 || resp->status_code == 101)
		puts_(&o, "Connection: close\r\n");
	puts_(&o, "\r\n");
	if (o.overflow)
		return bad(resp, 502, "response head too large");
	*out_len = o.len;
	return HTTPREQ_COMPLETE;
}
