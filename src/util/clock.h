/* The one monotonic clock reading of stockade's own timing (launch durations, probe deadlines,
 * doctor's total), and how a time of the store is shown. */
#ifndef STOCKADE_CLOCK_H
#define STOCKADE_CLOCK_H

#include <stddef.h>

/* Milliseconds on CLOCK_MONOTONIC, with the fraction. Async-signal-safe. */
double clock_now_ms(void);

/* Seconds since the epoch as "2026-12-04T22:24:06Z" (UTC) into buf; "-" when 0 or unknown. */
void clock_format_utc(long long when, char *buf, size_t size);

#endif
