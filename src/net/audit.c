/* The audit log's encoding. Strings are escaped by jansson; each event is one write(2). */
#include "net/audit.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static json_t *event_json(const struct audit_event *e)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return json_pack("{s:f, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:I, s:I, s:I}", "time",
			 (double)now.tv_sec + (double)now.tv_nsec / 1e9, "decision",
			 e->is_allowed ? "allow" : "deny", "proto", e->proto ? e->proto : "",
			 "host", e->host ? e->host : "", "port", (int)e->port, "addr",
			 e->addr ? e->addr : "", "rule", e->rule ? e->rule : "", "reason",
			 e->reason ? e->reason : "", "bytes_up", (json_int_t)e->bytes_up,
			 "bytes_down", (json_int_t)e->bytes_down, "duration_ms",
			 (json_int_t)e->duration_ms);
}

void audit_write(struct audit *audit, const struct audit_event *event)
{
	if (event->is_allowed)
		audit->allowed++;
	else
		audit->denied++;
	if (!event->is_allowed && !audit->is_quiet) {
		/* snprintf + write, not dprintf: stdio on fd 2 would fstat and lseek it, which the
		 * proxy's seccomp filter does not allow. */
		char line[512];
		int n = snprintf(line, sizeof(line), "stockade: egress denied: %s port %u%s%s (%s)\n",
				 event->host ? event->host : "?", (unsigned)event->port,
				 event->addr && event->addr[0] ? " at " : "",
				 event->addr ? event->addr : "",
				 event->reason ? event->reason : "not allowed");
		if (n > 0)
			(void)!write(2, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	}
	if (audit->fd < 0)
		return;
	json_t *obj = event_json(event);
	char *line = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	if (!line)
		return;
	size_t len = strlen(line);
	line[len] = '\n'; /* json_dumps' NUL becomes the newline; written as one record */
	(void)!write(audit->fd, line, len + 1);
	free(line);
}
