/* The egress audit log: one JSON object per line for every decision of the proxy (allow or
 * deny, what was asked, what it resolved to, which rule decided, what a tunnel was let carry,
 * bytes each way, duration), and a readable stderr line for the first denials unless --quiet.
 * The stderr lines go to the caller's terminal outside the sandbox's counted output, so the
 * sandbox must not be able to make them long or many: AUDIT_STDERR_LINES of them at most,
 * each field at most AUDIT_FIELD_SHOWN characters and escaped, then one count at the end. */
#ifndef STOCKADE_AUDIT_H
#define STOCKADE_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUDIT_STDERR_LINES 10
#define AUDIT_FIELD_SHOWN 100

struct audit_event {
	bool is_allowed;
	const char *proto; /* "http-connect", "http", "socks5" */
	const char *host;  /* as asked (canonical), or the IP literal */
	uint16_t port;
	const char *addr;   /* the address connected to / refused, "" if none */
	const char *rule;   /* the rule that decided, "" if none matched */
	const char *reason; /* why denied, or "" */
	/* Allowed: what the connection was let carry: "tls" (a tunnel whose ClientHello named
	 * its host), "http" (requests whose Host named it), "raw" (a tunnel to a name under a
	 * /raw rule: unchecked), "ip" (a tunnel to an address: checked by the address only). */
	const char *carries;
	uint64_t bytes_up, bytes_down;
	uint64_t duration_ms;
	/* A request the proxy read inside TLS it terminated (a credential's host): its method,
	 * path and the response's status (0: none); the credential put in it, if any. Recorded
	 * only when method is set. */
	const char *method, *path;
	int status;
	/* The credential (its name, never a value) a request carried in, or whose placeholder a
	 * refused request carried; NULL: none. */
	const char *credential;
};

struct audit {
	int fd;	       /* -1: no log file */
	int stderr_fd; /* where the denial lines go (2) */
	bool is_quiet; /* no stderr line for denials */
	uint64_t allowed, denied;
	uint64_t not_shown; /* denials past AUDIT_STDERR_LINES, counted at the end */
};

/* Writes one event (a single write(2) per line, so lines never interleave). */
void audit_write(struct audit *audit, const struct audit_event *event);
/* At the proxy's end: the one line that counts the denials not shown on stderr, if any. */
void audit_finish(struct audit *audit);
/* Text the sandbox chose (a name, a reason), made safe for a terminal: printable ASCII kept,
 * backslash and every other byte as \xHH, at most max characters in all, a cut one ending in
 * "..." (so out_size >= max + 1; a smaller out lowers max). Returns out. */
const char *audit_shown(const char *in, size_t max, char *out, size_t out_size);

#endif
