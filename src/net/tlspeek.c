/* TLS ClientHello reader (RFC 8446 section 4.1.2, RFC 6066 section 3): the record layer is
 * undone into a bounded buffer (a ClientHello may be split across records, as evasion tools
 * do on purpose), then the hello is walked field by field with every length checked against
 * what encloses it. Only the host_name matters; everything else is checked and skipped. */
#include "net/tlspeek.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define RECORD_HANDSHAKE 0x16
#define RECORD_HEADER_LEN 5
#define RECORD_MAX 16384 /* 2^14: a plaintext record's limit */
#define HANDSHAKE_CLIENT_HELLO 1
#define HANDSHAKE_HEADER_LEN 4
#define EXT_SERVER_NAME 0
#define EXT_ENCRYPTED_CLIENT_HELLO 0xfe0d /* RFC 9849 (draft-ietf-tls-esni) */
#define EXT_ENCRYPTED_SERVER_NAME 0xffce  /* the ESNI draft that preceded it */
#define NAME_TYPE_HOST_NAME 0

struct reader {
	const uint8_t *p;
	size_t len, pos;
	bool is_bad;
};

static const uint8_t *take(struct reader *r, size_t n)
{
	const uint8_t *at;

	if (r->is_bad || r->len - r->pos < n) {
		r->is_bad = true;
		return NULL;
	}
	at = r->p + r->pos;
	r->pos += n;
	return at;
}

static unsigned get_u8(struct reader *r)
{
	const uint8_t *at = take(r, 1);
	return at ? at[0] : 0;
}

static unsigned get_u16(struct reader *r)
{
	const uint8_t *at = take(r, 2);
	return at ? (unsigned)at[0] << 8 | at[1] : 0;
}

/* A sub-reader over the next n bytes; r moves past them. */
static struct reader sub(struct reader *r, size_t n)
{
	const uint8_t *at = take(r, n);
	struct reader s = {at, at ? n : 0, 0, at == NULL};
	return s;
}

static enum tlspeek_status not_tls(const char **reason, const char *why)
{
	if (reason)
		*reason = why;
	return TLSPEEK_NOT_TLS;
}

static bool is_record_version(unsigned major, unsigned minor)
{
	return major == 3 && minor >= 1 && minor <= 3;
}

/* Copies the handshake bytes of consecutive handshake records into hs until the first
 * handshake message is complete. */
static enum tlspeek_status reassemble(const uint8_t *p, size_t len, uint8_t *hs, size_t *hs_len,
				      const char **reason)
{
	size_t pos = 0, have = 0;

	for (;;) {
		size_t avail = len - pos, record_len;
		if (avail >= 1 && p[pos] != RECORD_HANDSHAKE)
			return not_tls(reason, "not a TLS handshake record");
		if (avail >= 3 && !is_record_version(p[pos + 1], p[pos + 2]))
			return not_tls(reason, "unknown TLS record version");
		if (avail < RECORD_HEADER_LEN)
			return TLSPEEK_NEED_MORE;
		record_len = (size_t)p[pos + 3] << 8 | p[pos + 4];
		if (record_len == 0 || record_len > RECORD_MAX)
			return not_tls(reason, "bad TLS record length");
		if (have + record_len > HANDSHAKE_HEADER_LEN + TLSPEEK_HELLO_MAX)
			return not_tls(reason, "ClientHello too large");
		if (avail - RECORD_HEADER_LEN < record_len)
			return TLSPEEK_NEED_MORE;
		memcpy(hs + have, p + pos + RECORD_HEADER_LEN, record_len);
		have += record_len;
		pos += RECORD_HEADER_LEN + record_len;
		if (have < HANDSHAKE_HEADER_LEN)
			continue;
		if (hs[0] != HANDSHAKE_CLIENT_HELLO)
			return not_tls(reason, "first handshake message is not a ClientHello");
		size_t msg_len = (size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3];
		if (msg_len > TLSPEEK_HELLO_MAX)
			return not_tls(reason, "ClientHello too large");
		if (have > HANDSHAKE_HEADER_LEN + msg_len)
			return not_tls(reason, "data after the ClientHello in its record");
		if (have == HANDSHAKE_HEADER_LEN + msg_len) {
			*hs_len = have;
			return TLSPEEK_NO_SNI; /* complete; the caller reads it */
		}
	}
}

/* server_name extension: a list holding at most one host_name. */
static enum tlspeek_status read_server_name(struct reader ext, char *sni, size_t sni_size,
					    const char **reason)
{
	struct sk_err err = {0};
	struct reader list = sub(&ext, get_u16(&ext));
	bool has_host_name = false;

	if (ext.is_bad || ext.pos != ext.len || list.len == 0)
		return not_tls(reason, "malformed server_name extension");
	while (!list.is_bad && list.pos < list.len) {
		unsigned type = get_u8(&list);
		struct reader name = sub(&list, get_u16(&list));
		if (list.is_bad)
			break;
		if (type != NAME_TYPE_HOST_NAME)
			continue;
		if (has_host_name)
			return not_tls(reason, "two host names in server_name");
		has_host_name = true;
		if (name.len == 0 ||
		    hostmatch_canonicalize((const char *)name.p, name.len, sni, sni_size, &err) < 0)
			return not_tls(reason, "server_name is not a valid host name");
	}
	if (list.is_bad)
		return not_tls(reason, "malformed server_name list");
	return has_host_name ? TLSPEEK_SNI : TLSPEEK_NO_SNI;
}

static enum tlspeek_status read_extensions(struct reader *hello, char *sni, size_t sni_size,
					   const char **reason)
{
	enum tlspeek_status status = TLSPEEK_NO_SNI;
	bool has_server_name = false;
	struct reader list;

	if (hello->pos == hello->len) /* TLS 1.0-1.2 allow a hello without extensions */
		return TLSPEEK_NO_SNI;
	list = sub(hello, get_u16(hello));
	if (hello->is_bad || hello->pos != hello->len)
		return not_tls(reason, "malformed extensions length");
	while (list.pos < list.len) {
		unsigned type = get_u16(&list);
		struct reader ext = sub(&list, get_u16(&list));
		if (list.is_bad)
			return not_tls(reason, "malformed extension");
		if (type == EXT_ENCRYPTED_CLIENT_HELLO || type == EXT_ENCRYPTED_SERVER_NAME) {
			if (reason)
				*reason = "TLS Encrypted Client Hello hides the server name";
			return TLSPEEK_ECH;
		}
		if (type != EXT_SERVER_NAME)
			continue;
		if (has_server_name)
			return not_tls(reason, "two server_name extensions");
		has_server_name = true;
		status = read_server_name(ext, sni, sni_size, reason);
		if (status == TLSPEEK_NOT_TLS)
			return status;
		/* Read on: an ECH extension after server_name still hides the real name. */
	}
	return status;
}

static enum tlspeek_status read_hello(const uint8_t *body, size_t len, char *sni, size_t sni_size,
				      const char **reason)
{
	struct reader hello = {body, len, 0, false};
	unsigned major = get_u8(&hello), minor = get_u8(&hello);
	size_t session_id_len, suites_len, compression_len;

	if (hello.is_bad || major != 3 || minor < 1 || minor > 3)
		return not_tls(reason, "unknown ClientHello version");
	take(&hello, 32); /* random */
	session_id_len = get_u8(&hello);
	if (session_id_len > 32)
		return not_tls(reason, "session id longer than 32 bytes");
	take(&hello, session_id_len);
	suites_len = get_u16(&hello);
	if (suites_len < 2 || suites_len % 2 != 0)
		return not_tls(reason, "malformed cipher suites");
	take(&hello, suites_len);
	compression_len = get_u8(&hello);
	if (compression_len < 1)
		return not_tls(reason, "no compression methods");
	take(&hello, compression_len);
	if (hello.is_bad)
		return not_tls(reason, "truncated ClientHello");
	return read_extensions(&hello, sni, sni_size, reason);
}

enum tlspeek_status tlspeek_sni(const char *buf, size_t len, char *sni, size_t sni_size,
				const char **reason)
{
	uint8_t hs[HANDSHAKE_HEADER_LEN + TLSPEEK_HELLO_MAX];
	size_t hs_len = 0;
	enum tlspeek_status status;

	if (reason)
		*reason = NULL;
	if (sni_size > 0)
		sni[0] = '\0';
	status = reassemble((const uint8_t *)buf, len, hs, &hs_len, reason);
	if (status == TLSPEEK_NEED_MORE)
		return status;
	if (status == TLSPEEK_NO_SNI)
		status = read_hello(hs + HANDSHAKE_HEADER_LEN, hs_len - HANDSHAKE_HEADER_LEN, sni,
				    sni_size, reason);
	if (status != TLSPEEK_SNI && sni_size > 0)
		sni[0] = '\0';
	/* Whatever failed inside something that began as a handshake record is bad TLS, not
	 * another protocol: a lenient server could still take it. */
	if (status == TLSPEEK_NOT_TLS && len > 0 && (uint8_t)buf[0] == RECORD_HANDSHAKE)
		return TLSPEEK_BAD_TLS;
	return status;
}
