/* The check on what a tunnel to a named host carries (see tunnelpeek.h). The server at the
 * checked address may host other names (virtual hosts, a CDN's customers) and routes on the
 * name the client's first message gives: so the proxy lets through only a first message it
 * can read that name in, and only that name. Not a list of what to refuse, which a method it
 * did not know, a lower-case one, an empty line first or an SSLv2 hello slipped past. */
#include "net/tunnelpeek.h"

#include <string.h>

#include "net/tlspeek.h"

#define TLS_HANDSHAKE_RECORD 0x16

/* Kept under the stderr line's 100-character limit for a reason (audit.c). */
#define REASON_SILENT                                                                              \
	"client sent nothing before the peek deadline (other protocols: HOST:PORT/raw)"
#define REASON_OTHER                                                                               \
	"neither a TLS ClientHello nor an HTTP/1.x request (other protocols: HOST:PORT/raw)"

static enum tunnelpeek_verdict refuse(struct tunnelpeek *out, const char *reason, int http_status)
{
	out->reason = reason;
	out->http_status = http_status;
	return TUNNELPEEK_REFUSE;
}

/* RFC 9110 tchar. */
static bool is_tchar(char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

enum line_shape { LINE_NO, LINE_PREFIX, LINE_YES };

/* RFC 9112 section 3: request-line = method SP request-target SP HTTP-version CRLF, with
 * method a token and HTTP-version "HTTP/" DIGIT "." DIGIT. A prefix of one is LINE_PREFIX.
 * The grammar, not a list of methods: a server serves whatever token it likes. */
static enum line_shape request_line_shape(const char *p, size_t len)
{
	static const char version[] = "HTTP/9.9\r\n"; /* '9': any digit */
	size_t i = 0, start = 0;

	while (i < len && is_tchar(p[i]))
		i++;
	if (i == len)
		return LINE_PREFIX;
	if (i == start || p[i++] != ' ')
		return LINE_NO;
	for (start = i; i < len && p[i] > 0x20 && p[i] < 0x7f; i++)
		;
	if (i == len)
		return LINE_PREFIX;
	if (i == start || p[i++] != ' ')
		return LINE_NO;
	for (size_t k = 0; k < sizeof(version) - 1; k++, i++) {
		if (i == len)
			return LINE_PREFIX;
		bool is_match = version[k] == '9' ? p[i] >= '0' && p[i] <= '9' : p[i] == version[k];
		if (!is_match)
			return LINE_NO;
	}
	return LINE_YES;
}

/* The empty lines a server skips before a request line (RFC 9112 section 2.2): CRLFs only, a
 * bare CR or LF is not one. *is_partial: the buffer ends inside one. */
static size_t empty_lines(const char *p, size_t len, bool *is_partial)
{
	size_t i = 0;

	while (i + 1 < len && p[i] == '\r' && p[i + 1] == '\n')
		i += 2;
	*is_partial = i + 1 == len && p[i] == '\r';
	return i;
}

static enum tunnelpeek_verdict classify_tls(const char *buf, size_t len, const struct nethost *host,
					    bool is_final, struct tunnelpeek *out)
{
	char sni[HOSTMATCH_NAME_MAX + 1];

	switch (tlspeek_sni(buf, len, sni, sizeof(sni), NULL)) {
	case TLSPEEK_SNI:
		return strcmp(sni, host->text) == 0
			   ? TUNNELPEEK_TLS
			   : refuse(
				 out,
				 "TLS SNI names another host than the tunnel's (domain fronting)",
				 0);
	case TLSPEEK_NO_SNI:
		/* Whatever answers would route on what the policy never saw (the Host inside
		 * TLS): the fronting case again. */
		return refuse(out, "TLS without SNI to a named host", 0);
	case TLSPEEK_ECH:
		return refuse(
		    out, "TLS Encrypted Client Hello hides the server name from the policy", 0);
	case TLSPEEK_NEED_MORE:
		return is_final ? refuse(out, "incomplete TLS ClientHello", 0)
				: TUNNELPEEK_NEED_MORE;
	case TLSPEEK_BAD_TLS:
	case TLSPEEK_NOT_TLS: /* cannot be: buf starts with a handshake record's type */
		break;
	}
	return refuse(out, "malformed or oversized TLS ClientHello", 0);
}

static enum tunnelpeek_verdict classify_http(const char *buf, size_t len,
					     const struct nethost *host, uint16_t port,
					     bool is_final, struct tunnelpeek *out)
{
	switch (request_line_shape(buf, len)) {
	case LINE_NO:
		return refuse(out, REASON_OTHER, 0);
	case LINE_PREFIX:
		return is_final ? refuse(out, "incomplete HTTP request inside a tunnel", 408)
				: TUNNELPEEK_NEED_MORE;
	case LINE_YES:
		break;
	}
	/* An HTTP request from here on: refusals are answered in HTTP. */
	switch (httpreq_parse_tunneled(buf, len, host, port, &out->req)) {
	case HTTPREQ_NEED_MORE:
		return is_final ? refuse(out, "incomplete HTTP request inside a tunnel", 408)
				: TUNNELPEEK_NEED_MORE;
	case HTTPREQ_BAD:
		return refuse(out, out->req.reason, out->req.status_code);
	case HTTPREQ_COMPLETE:
		break;
	}
	return TUNNELPEEK_HTTP;
}

enum tunnelpeek_verdict tunnelpeek_classify(const char *buf, size_t len, const struct nethost *host,
					    uint16_t port, bool is_final, struct tunnelpeek *out)
{
	bool is_partial;
	size_t skip = empty_lines(buf, len, &is_partial);
	unsigned char first = skip < len ? (unsigned char)buf[skip] : 0;

	memset(out, 0, sizeof(*out));
	out->skip = skip;
	if (len == 0)
		/* Silence is not a protocol the proxy can check: a server-speaks-first service,
		 * or a client waiting to send what it likes once the peek gave up. */
		return is_final ? refuse(out, REASON_SILENT, 0) : TUNNELPEEK_NEED_MORE;
	if (skip == len || is_partial)
		return is_final ? refuse(out, "incomplete HTTP request inside a tunnel", 408)
				: TUNNELPEEK_NEED_MORE;
	if (skip == 0 && first == TLS_HANDSHAKE_RECORD)
		return classify_tls(buf, len, host, is_final, out);
	if (skip == 0 && first >= 0x80 && (len < 3 || buf[2] == 1))
		/* A two-byte SSLv2 record header, message type 1: an SSLv2-format ClientHello,
		 * which has no extensions, so no SNI. */
		return refuse(out, "SSLv2-format ClientHello (it carries no server name)", 0);
	if (!is_tchar((char)first))
		return refuse(out, REASON_OTHER, 0);
	return classify_http(buf + skip, len - skip, host, port, is_final, out);
}
