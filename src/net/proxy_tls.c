/* Credentials in the egress proxy: a tunnel to a credential's host is terminated. The proxy
 * answers the sandbox's TLS as that host (a leaf certificate of the run's CA, tlsca.h), reads
 * one HTTP/1.x request, puts the real value where the named header carries the placeholder
 * (credinject.h), opens TLS to the host itself — verified against the host's trust store (or
 * --ca-file), with SNI and a hostname check — sends the request with "Connection: close", and
 * relays the response back. One request per connection, like plain HTTP forwarding: every
 * request is read and checked. Non-blocking OpenSSL over the connection's two sockets; each
 * event runs the connection's pump until nothing moves, and what each TLS object last waited
 * for is the epoll interest of its socket. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "net/credinject.h"
#include "net/httpreq.h"
#include "net/proxy_internal.h"
#include "net/tlsca.h"
#include "spec/spec.h"

#define TLS_CHUNK 16384
#define DOWN_SIZE (2 * PROXY_HEAD_MAX + 64 + TLS_CHUNK)
#define UPSTREAM_HEAD_SIZE (HTTPREQ_HEAD_MAX + 512)

struct tls_server {
	const struct proxy_credential *credential;
	const char *host;
	uint16_t port;
	SSL_CTX *ctx;
};

struct proxy_tls {
	SSL_CTX *upstream;
	struct tls_server servers[PROXY_MAX_CREDENTIALS * PROXY_CREDENTIAL_MAX_HOSTS];
	size_t server_count;
	/* The real values, only in this process's memory (non-dumpable, no core). */
	char *values[PROXY_MAX_CREDENTIALS];
	size_t value_lens[PROXY_MAX_CREDENTIALS];
};

enum tls_phase {
	TLS_ACCEPT,  /* the handshake with the sandbox's client */
	TLS_REQUEST, /* reading its request head */
	TLS_CONNECT, /* the handshake with the host */
	TLS_RELAY,   /* the request (head, body) up, the response down */
};

struct tlsconn {
	SSL *client, *upstream;
	enum tls_phase phase;
	bool wants[2][2]; /* [client, upstream][read, write]: what the last attempt waited for */
	/* Up: the head as sent (it holds the value: wiped once sent), then body chunks. */
	char *head_out;
	size_t head_out_len;
	char up[TLS_CHUNK];
	const char *up_data;
	size_t up_len, up_off;
	uint64_t body_left;
	bool is_client_eof;
	/* Down: the response head read (resp), then what goes to the client (down). */
	bool is_resp_head;
	char *resp;
	size_t resp_len, resp_off;
	char *down;
	size_t down_len, down_off;
	bool is_upstream_eof, is_clean_eof;
	/* For the audit record. */
	char method[24];
	char path[256];
	int status;
	bool is_injected, has_request;
	uint64_t bytes_up, bytes_down;
	char reason[320];
};

enum io { IO_MOVED, IO_BLOCKED, IO_EOF, IO_ERROR };

/* ---- the proxy's contexts, before it confines itself ---- */

static int tls_fail(struct sk_err *err, const char *what)
{
	char text[160];

	ERR_error_string_n(ERR_get_error(), text, sizeof(text));
	ERR_clear_error();
	return sk_fail(err, "proxy", 0, NULL, "credentials: %s: %s", what, text);
}

/* The value from its memfd, read here in the proxy process only. One trailing newline (a file
 * written with echo) is dropped; a value that could split the header line is refused. */
static int read_value(struct proxy_tls *tls, size_t i, const struct proxy_credential *c,
		      struct sk_err *err)
{
	struct stat st;
	size_t done = 0, len;
	char *value;

	if (fstat(c->value_fd, &st) < 0 || st.st_size <= 0 ||
	    st.st_size > SANDBOX_CREDENTIAL_MAX_BYTES)
		return sk_fail(err, "proxy", EINVAL, NULL, "credential %s: unreadable value",
			       c->name);
	len = (size_t)st.st_size;
	value = malloc(len + 1);
	if (!value)
		return sk_fail(err, "proxy", ENOMEM, NULL, "credential %s", c->name);
	while (done < len) {
		ssize_t n = pread(c->value_fd, value + done, len - done, (off_t)done);
		if (n <= 0) {
			free(value);
			return sk_fail(err, "proxy", n < 0 ? errno : EIO, NULL,
				       "credential %s: read its value", c->name);
		}
		done += (size_t)n;
	}
	if (len && value[len - 1] == '\n')
		len--;
	if (len && value[len - 1] == '\r')
		len--;
	if (!credinject_value_is_valid(value, len)) {
		explicit_bzero(value, len);
		free(value);
		return sk_fail(
		    err, "proxy", EINVAL,
		    "a header value is visible ASCII, with no control byte or line break "
		    "inside",
		    "credential %s: its value cannot go in a header", c->name);
	}
	tls->values[i] = value;
	tls->value_lens[i] = len;
	return 0;
}

/* The client asked for h2 and http/1.1 maybe: only HTTP/1.x is read here. */
static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *out_len,
		       const unsigned char *in, unsigned in_len, void *arg)
{
	static const unsigned char http11[] = "\x08http/1.1";
	unsigned char *selected;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&selected, out_len, http11, sizeof(http11) - 1, in, in_len) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = selected;
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *new_ctx(const SSL_METHOD *method)
{
	SSL_CTX *ctx = SSL_CTX_new(method);

	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				  SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return ctx;
}

static int add_server(struct proxy_tls *tls, const struct proxy_config *config,
		      const struct proxy_credential *c, size_t h, struct sk_err *err)
{
	struct tls_server *s = &tls->servers[tls->server_count];
	X509 *leaf = NULL;

	if (tlsca_leaf(config->ca, c->hosts[h].name, &leaf, err) < 0)
		return -1;
	s->ctx = new_ctx(TLS_server_method());
	if (!s->ctx || SSL_CTX_use_certificate(s->ctx, leaf) != 1 ||
	    SSL_CTX_use_PrivateKey(s->ctx, tlsca_leaf_key(config->ca)) != 1 ||
	    SSL_CTX_check_private_key(s->ctx) != 1) {
		X509_free(leaf);
		return tls_fail(err, "a server context");
	}
	X509_free(leaf);
	SSL_CTX_set_num_tickets(s->ctx, 0); /* nothing to resume: one request per connection */
	SSL_CTX_set_alpn_select_cb(s->ctx, select_alpn, NULL);
	s->credential = c;
	s->host = c->hosts[h].name;
	s->port = c->hosts[h].port;
	tls->server_count++;
	return 0;
}

/* The upstreams' trust: --ca-file, else OpenSSL's default file ($SSL_CERT_FILE or the
 * distribution's bundle), loaded whole now: after the proxy confines itself it opens no
 * path, so no lookup in a certificate directory could happen later. */
static int load_trust(struct proxy_tls *tls, const struct proxy_config *config, struct sk_err *err)
{
	const char *env = getenv(X509_get_default_cert_file_env());
	const char *file = config->ca_file ? config->ca_file
			   : env && env[0] ? env
					   : X509_get_default_cert_file();

	tls->upstream = new_ctx(TLS_client_method());
	if (!tls->upstream)
		return tls_fail(err, "the upstream context");
	SSL_CTX_set_verify(tls->upstream, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_load_verify_file(tls->upstream, file) != 1) {
		ERR_clear_error();
		return sk_fail(err, "proxy", 0,
			       config->ca_file ? "--ca-file takes a PEM file of CA certificates"
					       : "give the CAs to trust with --ca-file",
			       "credentials: cannot load the trust store %.200s", file);
	}
	static const unsigned char http11[] = "\x08http/1.1";
	SSL_CTX_set_alpn_protos(tls->upstream, http11, sizeof(http11) - 1);
	return 0;
}

int proxy_tls_init(struct proxy_tls **out, const struct proxy_config *config, struct sk_err *err)
{
	struct proxy_tls *tls;
	int rc = 0;

	*out = NULL;
	if (config->credential_count == 0)
		return 0;
	tls = calloc(1, sizeof(*tls));
	if (!tls)
		return sk_fail(err, "proxy", ENOMEM, NULL, "credentials");
	for (size_t i = 0; i < config->credential_count && rc == 0; i++)
		rc = read_value(tls, i, &config->credentials[i], err);
	/* The memfds are not needed again: the values are in this process now. */
	for (size_t i = 0; i < config->credential_count; i++)
		close(config->credentials[i].value_fd);
	if (rc == 0 && (!config->ca || OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG, NULL) != 1))
		rc = sk_fail(err, "proxy", EINVAL, NULL, "credentials: no CA");
	if (rc == 0)
		rc = load_trust(tls, config, err);
	for (size_t i = 0; i < config->credential_count && rc == 0; i++)
		for (size_t h = 0; h < config->credentials[i].host_count && rc == 0; h++)
			rc = add_server(tls, config, &config->credentials[i], h, err);
	if (rc < 0) {
		proxy_tls_free(tls);
		return -1;
	}
	*out = tls;
	return 0;
}

void proxy_tls_free(struct proxy_tls *tls)
{
	if (!tls)
		return;
	for (size_t i = 0; i < PROXY_MAX_CREDENTIALS; i++)
		if (tls->values[i]) {
			explicit_bzero(tls->values[i], tls->value_lens[i]);
			free(tls->values[i]);
		}
	for (size_t i = 0; i < tls->server_count; i++)
		SSL_CTX_free(tls->servers[i].ctx);
	SSL_CTX_free(tls->upstream);
	free(tls);
}

/* ---- a connection ---- */

static const struct tls_server *server_for(const struct proxy_tls *tls, const struct conn *c)
{
	for (size_t i = 0; i < tls->server_count; i++)
		if (tls->servers[i].port == c->port &&
		    strcmp(tls->servers[i].host, c->host.text) == 0)
			return &tls->servers[i];
	return NULL;
}

static size_t credential_index(const struct conn *c)
{
	return (size_t)(c->credential - c->proxy->config->credentials);
}

/* What one SSL call came to; a wait is recorded as the socket's interest. */
static enum io io_result(struct tlsconn *t, SSL *ssl, int rc)
{
	int side = ssl == t->client ? 0 : 1;

	if (rc > 0)
		return IO_MOVED;
	switch (SSL_get_error(ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		t->wants[side][0] = true;
		return IO_BLOCKED;
	case SSL_ERROR_WANT_WRITE:
		t->wants[side][1] = true;
		return IO_BLOCKED;
	case SSL_ERROR_ZERO_RETURN:
		return IO_EOF;
	default:
		ERR_clear_error();
		return IO_ERROR;
	}
}

/* An answer of the proxy's own inside the client's TLS (best effort: it is small), then
 * close_notify; the caller refuses the connection. */
static void answer_in_tls(struct conn *c, int status, const char *text, const char *reason)
{
	char response[512];
	int n = snprintf(response, sizeof(response),
			 "HTTP/1.1 %d %s\r\nX-Stockade-Denied: %s\r\nContent-Type: text/plain\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\nstockade: %s\n",
			 status, text, reason, strlen(reason) + 11, reason);

	if (n > 0 && (size_t)n < sizeof(response) && SSL_write(c->tls->client, response, n) > 0)
		SSL_shutdown(c->tls->client);
	ERR_clear_error();
}

static int refuse(struct conn *c, int status, const char *text, const char *reason)
{
	struct tlsconn *t = c->tls;

	if (reason != t->reason)
		snprintf(t->reason, sizeof(t->reason), "%s", reason);
	answer_in_tls(c, status, text, t->reason);
	if (t->phase == TLS_RELAY) {
		/* The request went, the value in it: conn_close writes the allowed record, saying
		 * why it ended. A denial beside it would claim the credential never left. */
		c->allow_reason = t->reason;
		conn_close(c);
		return -1;
	}
	if (status == 502)
		c->reason = t->reason; /* conn_deny answers nothing more in CONN_TLS */
	conn_deny(c, t->reason);
	return -1;
}

static int start_handshake(struct conn *c)
{
	struct tlsconn *t = c->tls;
	const struct tls_server *server = server_for(c->proxy->tls, c);

	t->client = server ? SSL_new(server->ctx) : NULL;
	if (!t->client || SSL_set_fd(t->client, c->client) != 1) {
		conn_deny(c, "the proxy could not set up TLS for a credential's host");
		return -1;
	}
	SSL_set_accept_state(t->client);
	return 0;
}

/* The handshake with the sandbox's client, as the tunnel's host. */
static enum io do_accept(struct conn *c)
{
	struct tlsconn *t = c->tls;
	enum io io = io_result(t, t->client, SSL_do_handshake(t->client));
	const char *sni;

	if (io == IO_BLOCKED)
		return io;
	if (io != IO_MOVED) {
		conn_deny(c, "TLS handshake with the client failed (does it trust the run's CA?)");
		return IO_ERROR;
	}
	/* The name it asked for must be the tunnel's: a request meant for another name would
	 * get this host's credential. */
	sni = SSL_get_servername(t->client, TLSEXT_NAMETYPE_host_name);
	if (sni && strcasecmp(sni, c->host.text) != 0) {
		refuse(c, 421, "Misdirected Request", "TLS server name is not the tunnel's host");
		return IO_ERROR;
	}
	t->phase = TLS_REQUEST;
	return IO_MOVED;
}

static void note_request(struct tlsconn *t, const char *head, const struct httpreq *req)
{
	snprintf(t->method, sizeof(t->method), "%.*s", (int)req->method.len,
		 head + req->method.offset);
	snprintf(t->path, sizeof(t->path), "%.*s", (int)req->target.len, head + req->target.offset);
	t->has_request = true;
}

/* The head as it goes upstream: rebuilt (no hop-by-hop fields, Connection: close), then the
 * value put in the named header. Returns 0, or -1 when refused. */
static int build_head(struct conn *c, const struct httpreq *req)
{
	struct tlsconn *t = c->tls;
	const struct proxy_tls *tls = c->proxy->tls;
	size_t i = credential_index(c), built_len = 0, size;
	char *built = malloc(UPSTREAM_HEAD_SIZE);
	struct httpreq parsed;
	enum credinject_status status;

	if (!built ||
	    httpreq_build_upstream(c->head, req, built, UPSTREAM_HEAD_SIZE, &built_len) < 0 ||
	    httpreq_parse_https(built, built_len, &c->host, c->port, &parsed) != HTTPREQ_COMPLETE) {
		free(built);
		return refuse(c, 431, "Request Header Fields Too Large", "request too large");
	}
	size = built_len + parsed.header_count * tls->value_lens[i];
	t->head_out = malloc(size);
	status = t->head_out
		     ? credinject_apply(c->credential, tls->values[i], tls->value_lens[i], built,
					built_len, &parsed, t->head_out, size, &t->head_out_len)
		     : CREDINJECT_TOO_LARGE;
	free(built);
	if (status == CREDINJECT_BAD_SHAPE) {
		snprintf(
		    t->reason, sizeof(t->reason),
		    "the %.64s header carries the placeholder of %.64s, but not as '%.60s{}%.60s'",
		    c->credential->header, c->credential->name, c->credential->prefix,
		    c->credential->suffix);
		return refuse(c, 403, "Forbidden", t->reason);
	}
	if (status == CREDINJECT_TOO_LARGE)
		return refuse(c, 431, "Request Header Fields Too Large", "request too large");
	t->is_injected = status == CREDINJECT_DONE;
	return 0;
}

/* A complete request head from the client: checked, rebuilt with the value, its early body
 * bytes queued; then the handshake with the host. Returns 0, or -1 when refused. */
static int take_request(struct conn *c, const struct httpreq *req)
{
	struct tlsconn *t = c->tls;
	const struct proxy_credential *other;
	size_t early;

	note_request(t, c->head, req);
	/* TRACE asks the server to send the request back, headers and all (Apache's default
	 * answers it; TRACK is IIS's): with the value put in, the workload reads it in the body.
	 * RFC 9110 9.3.8: a client must not send credentials in one. Any case: a lenient server
	 * may take "trace" for TRACE. */
	if (strcasecmp(t->method, "TRACE") == 0 || strcasecmp(t->method, "TRACK") == 0)
		return refuse(c, 405, "Method Not Allowed",
			      "TRACE would send the credential back: not sent to its host");
	if (req->is_chunked)
		return refuse(c, 411, "Length Required",
			      "chunked request bodies are not supported: send Content-Length");
	/* Another credential's placeholder is on its way to a host it does not belong to. Each
	 * other credential is looked for on its own: this host's placeholder found first must
	 * not hide another's later in the head. */
	for (size_t i = 0; i < c->proxy->config->credential_count; i++) {
		other = &c->proxy->config->credentials[i];
		if (other == c->credential ||
		    !credinject_find_placeholder(other, 1, c->head, c->head_len))
			continue;
		c->placeholder_seen = other;
		return refuse(c, 403, "Forbidden",
			      "the request carries the placeholder of a credential of other hosts");
	}
	if (build_head(c, req) < 0)
		return -1;
	t->body_left = req->has_content_length ? req->content_length : 0;
	early = c->head_len - req->head_len;
	if (early > t->body_left)
		early = (size_t)t->body_left; /* nothing pipelined behind the body goes up */
	memcpy(t->up, c->head + req->head_len, early);
	t->up_data = t->up;
	t->up_len = early;
	t->up_off = 0;
	t->body_left -= early;
	t->upstream = SSL_new(c->proxy->tls->upstream);
	if (!t->upstream || SSL_set_fd(t->upstream, c->upstream) != 1 ||
	    SSL_set_tlsext_host_name(t->upstream, c->host.text) != 1 ||
	    SSL_set1_host(t->upstream, c->host.text) != 1)
		return refuse(c, 502, "Bad Gateway", "the proxy could not set up TLS upstream");
	SSL_set_hostflags(t->upstream, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	SSL_set_connect_state(t->upstream);
	t->phase = TLS_CONNECT;
	return 0;
}

/* SSL_read's count, kept apart from io_result for the callers that need it. */
static enum io read_into(struct tlsconn *t, SSL *ssl, char *buf, size_t size, size_t *got)
{
	int n = SSL_read(ssl, buf, (int)(size > INT32_MAX ? INT32_MAX : size));
	enum io io = io_result(t, ssl, n);

	*got = io == IO_MOVED ? (size_t)n : 0;
	return io;
}

static enum io write_from(struct tlsconn *t, SSL *ssl, const char *buf, size_t len, size_t *sent)
{
	int n = SSL_write(ssl, buf, (int)(len > INT32_MAX ? INT32_MAX : len));
	enum io io = io_result(t, ssl, n);

	*sent = io == IO_MOVED ? (size_t)n : 0;
	return io;
}

static enum io step_request(struct conn *c)
{
	struct tlsconn *t = c->tls;
	struct httpreq req;
	size_t got = 0;
	enum io io;

	if (c->head_len >= PROXY_HEAD_MAX) {
		refuse(c, 431, "Request Header Fields Too Large", "request head too large");
		return IO_ERROR;
	}
	io = read_into(t, t->client, c->head + c->head_len, PROXY_HEAD_MAX - c->head_len, &got);
	if (io == IO_EOF || io == IO_ERROR) {
		conn_close(c); /* the client left before a request: nothing was sent anywhere */
		return IO_ERROR;
	}
	if (io == IO_BLOCKED)
		return io;
	c->head_len += got;
	switch (httpreq_parse_https(c->head, c->head_len, &c->host, c->port, &req)) {
	case HTTPREQ_NEED_MORE:
		return IO_MOVED;
	case HTTPREQ_BAD:
		refuse(c, req.status_code, "Bad Request", req.reason);
		return IO_ERROR;
	case HTTPREQ_COMPLETE:
		break;
	}
	return take_request(c, &req) < 0 ? IO_ERROR : IO_MOVED;
}

static enum io step_connect(struct conn *c)
{
	struct tlsconn *t = c->tls;
	enum io io = io_result(t, t->upstream, SSL_do_handshake(t->upstream));
	long verify;

	if (io == IO_BLOCKED)
		return io;
	if (io == IO_MOVED) {
		t->phase = TLS_RELAY;
		t->is_resp_head = true;
		c->deadline_ms = proxy_now_ms() + c->proxy->config->idle_timeout_ms;
		return IO_MOVED;
	}
	/* Not the host's certificate (untrusted, expired, another name) or no TLS at all: the
	 * request never left, and the client is told why. */
	verify = SSL_get_verify_result(t->upstream);
	if (verify != X509_V_OK)
		snprintf(t->reason, sizeof(t->reason), "upstream certificate refused: %s",
			 X509_verify_cert_error_string(verify));
	else
		snprintf(t->reason, sizeof(t->reason), "TLS handshake with the upstream failed");
	refuse(c, 502, "Bad Gateway", t->reason);
	return IO_ERROR;
}

/* Up: the head (wiped once sent: it holds the value), then exactly the body. */
static enum io pump_up(struct conn *c)
{
	struct tlsconn *t = c->tls;
	size_t n = 0;
	enum io io;

	if (t->head_out) {
		io = write_from(t, t->upstream, t->head_out + t->up_off,
				t->head_out_len - t->up_off, &n);
		if (io != IO_MOVED)
			return io;
		t->up_off += n;
		if (t->up_off == t->head_out_len) {
			explicit_bzero(t->head_out, t->head_out_len);
			free(t->head_out);
			t->head_out = NULL;
			t->up_off = 0;
		}
		return IO_MOVED;
	}
	if (t->up_off < t->up_len) {
		io = write_from(t, t->upstream, t->up_data + t->up_off, t->up_len - t->up_off, &n);
		if (io == IO_MOVED) {
			t->up_off += n;
			t->bytes_up += n;
		}
		return io;
	}
	if (t->body_left == 0 || t->is_client_eof)
		return IO_BLOCKED; /* nothing more goes up: the client is not read again */
	io = read_into(t, t->client, t->up,
		       t->body_left < sizeof(t->up) ? (size_t)t->body_left : sizeof(t->up), &n);
	if (io == IO_EOF || io == IO_ERROR) {
		t->is_client_eof = true;
		return IO_ERROR; /* a body cut short: the request is not complete */
	}
	if (io == IO_MOVED) {
		t->up_data = t->up;
		t->up_len = n;
		t->up_off = 0;
		t->body_left -= n;
	}
	return io;
}

/* The response head, rewritten (httpreq_rewrite_response: Connection: close, no hop-by-hop
 * fields), then what came with it; interim 1xx heads go on as they come. */
static enum io take_response(struct conn *c)
{
	struct tlsconn *t = c->tls;

	while (t->is_resp_head) {
		struct httpreq resp;
		size_t written = 0;
		enum httpreq_status status = httpreq_rewrite_response(
		    t->resp + t->resp_off, t->resp_len - t->resp_off, t->down + t->down_len,
		    DOWN_SIZE - t->down_len, &written, &resp);
		if (status == HTTPREQ_NEED_MORE && t->resp_len < PROXY_HEAD_MAX)
			return IO_MOVED;
		if (status != HTTPREQ_COMPLETE) {
			snprintf(t->reason, sizeof(t->reason), "%s",
				 status == HTTPREQ_BAD ? resp.reason : "response head too large");
			refuse(c, 502, "Bad Gateway", t->reason);
			return IO_ERROR;
		}
		t->resp_off += resp.head_len;
		t->down_len += written;
		t->status = resp.status_code;
		t->is_resp_head = resp.status_code < 200;
	}
	memcpy(t->down + t->down_len, t->resp + t->resp_off, t->resp_len - t->resp_off);
	t->down_len += t->resp_len - t->resp_off;
	free(t->resp);
	t->resp = NULL;
	return IO_MOVED;
}

/* Down: the response, until the host ends it (its Connection: close). */
static enum io pump_down(struct conn *c)
{
	struct tlsconn *t = c->tls;
	size_t n = 0;
	enum io io;

	if (t->down_off < t->down_len) {
		io = write_from(t, t->client, t->down + t->down_off, t->down_len - t->down_off, &n);
		if (io == IO_MOVED) {
			t->down_off += n;
			t->bytes_down += n;
			if (t->down_off == t->down_len)
				t->down_off = t->down_len = 0;
		}
		return io;
	}
	if (t->is_upstream_eof)
		return IO_BLOCKED;
	if (t->is_resp_head) {
		if (!t->resp && !(t->resp = malloc(PROXY_HEAD_MAX)))
			return IO_ERROR;
		io = read_into(t, t->upstream, t->resp + t->resp_len, PROXY_HEAD_MAX - t->resp_len,
			       &n);
		if (io == IO_MOVED) {
			t->resp_len += n;
			return take_response(c);
		}
	} else {
		io = read_into(t, t->upstream, t->down, TLS_CHUNK, &n);
		if (io == IO_MOVED)
			t->down_len = n;
	}
	if (io == IO_EOF || io == IO_ERROR) {
		t->is_upstream_eof = true;
		t->is_clean_eof = io == IO_EOF;
		if (t->is_resp_head) {
			refuse(c, 502, "Bad Gateway",
			       "upstream closed the connection before a response");
			return IO_ERROR;
		}
		return IO_MOVED;
	}
	return io;
}

/* The response is all sent: close_notify when the host ended cleanly; a host that just went
 * away leaves the client an unclean end too, so it can tell a cut response. */
static void finish(struct conn *c)
{
	if (c->tls->is_clean_eof)
		SSL_shutdown(c->tls->client);
	ERR_clear_error();
	conn_close(c);
}

static enum io step_relay(struct conn *c)
{
	struct tlsconn *t = c->tls;
	enum io up = pump_up(c), down;

	if (up == IO_ERROR) {
		conn_close(c);
		return IO_ERROR;
	}
	down = c->is_closed ? IO_ERROR : pump_down(c);
	if (down == IO_ERROR) {
		if (!c->is_closed)
			conn_close(c);
		return IO_ERROR;
	}
	if (t->is_upstream_eof && t->down_off == t->down_len && !t->is_resp_head) {
		finish(c);
		return IO_ERROR; /* done: nothing more to pump */
	}
	return up == IO_MOVED || down == IO_MOVED ? IO_MOVED : IO_BLOCKED;
}

static void pump(struct conn *c)
{
	struct tlsconn *t = c->tls;
	enum io io;

	do {
		memset(t->wants, 0, sizeof(t->wants));
		switch (t->phase) {
		case TLS_ACCEPT:
			io = do_accept(c);
			break;
		case TLS_REQUEST:
			io = step_request(c);
			break;
		case TLS_CONNECT:
			io = step_connect(c);
			break;
		default:
			io = step_relay(c);
			break;
		}
	} while (io == IO_MOVED && !c->is_closed);
	if (c->is_closed)
		return;
	if (t->phase == TLS_RELAY)
		c->deadline_ms = proxy_now_ms() + c->proxy->config->idle_timeout_ms;
	conn_update_events(c);
}

int tlsconn_start(struct conn *c)
{
	if (c->head_len) {
		/* TLS bytes sent before the tunnel was answered: a client may not assume the
		 * answer, and the handshake reads the socket, not this buffer. */
		conn_deny(c, "the client sent data before the tunnel was answered");
		return -1;
	}
	c->tls = calloc(1, sizeof(*c->tls));
	if (c->tls)
		c->tls->down = malloc(DOWN_SIZE);
	if (!c->tls || !c->tls->down) {
		conn_deny(c, "the proxy is out of memory");
		return -1;
	}
	c->state = CONN_TLS;
	c->carries = "terminated";
	c->deadline_ms = proxy_now_ms() + c->proxy->config->connect_timeout_ms;
	if (start_handshake(c) < 0)
		return -1;
	pump(c);
	return c->is_closed ? -1 : 0;
}

void tlsconn_on_event(struct conn *c)
{
	pump(c);
}

void tlsconn_events(const struct conn *c, unsigned *client, unsigned *upstream)
{
	const struct tlsconn *t = c->tls;

	*client = (t->wants[0][0] ? EPOLLIN : 0) | (t->wants[0][1] ? EPOLLOUT : 0);
	*upstream = (t->wants[1][0] ? EPOLLIN : 0) | (t->wants[1][1] ? EPOLLOUT : 0);
	/* Before the handshake with the host its socket is connected and idle. */
}

void tlsconn_audit(const struct conn *c, struct audit_event *e)
{
	const struct tlsconn *t = c->tls;

	if (!t || !t->has_request)
		return;
	e->method = t->method;
	e->path = t->path;
	e->status = t->status;
	e->bytes_up = t->bytes_up;
	e->bytes_down = t->bytes_down;
	if (t->is_injected)
		e->credential = c->credential->name;
}

bool tlsconn_was_sent(const struct conn *c)
{
	return c->tls && c->tls->phase == TLS_RELAY;
}

void tlsconn_free(struct conn *c)
{
	struct tlsconn *t = c->tls;

	if (!t)
		return;
	SSL_free(t->client);
	SSL_free(t->upstream);
	if (t->head_out) {
		explicit_bzero(t->head_out, t->head_out_len);
		free(t->head_out);
	}
	free(t->resp);
	free(t->down);
	free(t);
	c->tls = NULL;
}
