/* The one monotonic clock reading of stockade's own timing (launch durations, probe deadlines,
 * doctor's total). */
#ifndef STOCKADE_CLOCK_H
#define STOCKADE_CLOCK_H

/* Milliseconds on CLOCK_MONOTONIC, with the fraction. Async-signal-safe. */
double clock_now_ms(void);

#endif
