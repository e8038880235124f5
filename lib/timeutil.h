/* timeutil: clocks and sleeps, in milliseconds. */
#ifndef MTM_TIMEUTIL_H
#define MTM_TIMEUTIL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* CLOCK_MONOTONIC, for intervals and deadlines. */
int64_t mtm_mono_ms(void);
/* CLOCK_MONOTONIC in microseconds, for request timings. */
int64_t mtm_mono_us(void);
/* CLOCK_REALTIME, for timestamps. */
int64_t mtm_wall_ms(void);
/*
 * Sleeps for ms, waking early once *stop becomes true (checked every 50 ms).
 * Returns true if it was woken by stop. stop may be NULL.
 */
bool mtm_sleep_ms(int64_t ms, const atomic_bool *stop);

#endif
