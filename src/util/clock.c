/* See clock.h. */
#include "util/clock.h"

#include <stdio.h>
#include <time.h>

double clock_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void clock_format_utc(long long when, char *buf, size_t size)
{
	time_t t = (time_t)when;
	struct tm tm;

	if (when <= 0 || !gmtime_r(&t, &tm))
		snprintf(buf, size, "-");
	else
		strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
