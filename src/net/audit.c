/* The audit log's encoding. Strings are escaped by jansson; each event is one write(2). The
 * stderr lines are bounded (see audit.h): written with snprintf + write, not dprintf, since
 * stdio on fd 2 would fstat and lseek it, which the proxy's seccomp filter does not allow. */
#include "net/audit.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static json_t *event_json(const struct audit_event *e)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return json_pack("{s:f, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "time",
			 (double)now.tv_sec + (double)now.tv_nsec / 1e9, "decision",
			 e->is_allowed ? "allow" : "deny", "proto", e->proto ? e->proto : "",
			 "host", e->host ? e->host : "", "port", (int)e->port, "addr",
			 e->addr ? e->addr : "", "rule", e->rule ? e->rule : "", "reason",
			 e->reason ? e->reason : "", "carries", e->carries ? e->carries : "",
			 "bytes_up", (json_int_t)e->bytes_up, "bytes_down",
			 (json_int_t)e->bytes_down, "duration_ms", (json_int_t)e->duration_ms);
}

static bool is_shown_plain(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '\\';
}

const char *audit_shown(const char *in, size_t max, char *out, size_t out_size)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0, whole = 0, budget;
	const char *p;

	if (out_size == 0)
		return out;
	if (max > out_size - 1)
		max = out_size - 1;
	for (p = in; p && *p && whole <= max; p++)
		whole += is_shown_plain((unsigned char)*p) ? 1 : 4;
	/* Too long: what fits with "..." after it, whole characters and escapes only. */
	budget = whole <= max ? max : (max >= 3 ? max - 3 : max);
	for (p = in; p && *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (n + (is_shown_plain(c) ? 1 : 4) > budget)
			break;
		if (is_shown_plain(c)) {
			out[n++] = (char)c;
			continue;
		}
		/* Escape sequences, newlines (a forged second line), bytes a terminal could
		 * read as UTF-8 or C1 controls: never raw. */
		out[n++] = '\\';
		out[n++] = 'x';
		out[n++] = hex[c >> 4];
		out[n++] = hex[c & 0xf];
	}
	if (whole > max && max >= 3) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
	return out;
}

/* The readable line of a denial; the first AUDIT_STDERR_LINES only (the rest are counted:
 * a workload making denied connections in a loop must not flood the caller's terminal). */
static void denial_line(struct audit *audit, const struct audit_event *e)
{
	char host[AUDIT_FIELD_SHOWN + 1], reason[AUDIT_FIELD_SHOWN + 1];
	char addr[AUDIT_FIELD_SHOWN + 1], line[512];

	if (audit->denied > AUDIT_STDERR_LINES) {
		audit->not_shown++;
		return;
	}
	int n = snprintf(
	    line, sizeof(line), "stockade: egress denied: %s port %u%s%s (%s)\n",
	    e->host && e->host[0] ? audit_shown(e->host, AUDIT_FIELD_SHOWN, host, sizeof(host))
				  : "?",
	    (unsigned)e->port, e->addr && e->addr[0] ? " at " : "",
	    audit_shown(e->addr, AUDIT_FIELD_SHOWN, addr, sizeof(addr)),
	    e->reason ? audit_shown(e->reason, AUDIT_FIELD_SHOWN, reason, sizeof(reason))
		      : "not allowed");
	if (n > 0)
		(void)!write(audit->stderr_fd, line,
			     (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

void audit_write(struct audit *audit, const struct audit_event *event)
{
	if (event->is_allowed)
		audit->allowed++;
	else
		audit->denied++;
	if (!event->is_allowed && !audit->is_quiet)
		denial_line(audit, event);
	if (audit->fd < 0)
		return;
	json_t *obj = event_json(event);
	if (obj && event->method) {
		json_object_set_new(obj, "method", json_string(event->method));
		json_object_set_new(obj, "path", json_string(event->path ? event->path : ""));
		json_object_set_new(obj, "status", json_integer(event->status));
	}
	if (obj && event->credential)
		json_object_set_new(obj, "credential", json_string(event->credential));
	char *line = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	if (!line)
		return;
	size_t len = strlen(line);
	line[len] = '\n'; /* json_dumps' NUL becomes the newline; written as one record */
	(void)!write(audit->fd, line, len + 1);
	free(line);
}

void audit_finish(struct audit *audit)
{
	char line[160];
	int n;

	if (audit->not_shown == 0)
		return;
	n = snprintf(line, sizeof(line), "stockade: egress: %llu more denials not shown, %s\n",
		     (unsigned long long)audit->not_shown,
		     audit->fd >= 0 ? "all are in the --audit file" : "see --audit FILE");
	if (n > 0 && (size_t)n < sizeof(line))
		(void)!write(audit->stderr_fd, line, (size_t)n);
}
