/* The egress audit log: one JSON object per line for every decision of the proxy (allow or
 * deny, what was asked, what it resolved to, which rule decided, bytes each way, duration),
 * and one readable stderr line per denial unless --quiet. */
#ifndef STOCKADE_AUDIT_H
#define STOCKADE_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

struct audit_event {
	bool is_allowed;
	const char *proto;  /* "http-connect", "http", "socks5" */
	const char *host;   /* as asked (canonical), or the IP literal */
	uint16_t port;
	const char *addr;   /* the address connected to / refused, "" if none */
	const char *rule;   /* the rule that decided, "" if none matched */
	const char *reason; /* why denied, or "" */
	uint64_t bytes_up, bytes_down;
	uint64_t duration_ms;
};

struct audit {
	int fd;		/* -1: no log file */
	bool is_quiet;	/* no stderr line for denials */
	uint64_t allowed, denied;
};

/* Writes one event (a single write(2) per line, so lines never interleave). */
void audit_write(struct audit *audit, const struct audit_event *event);

#endif
