/* tg_clock.h - the two clocks the slow path and the tools read, in ns.
 *
 * Wall time (CLOCK_REALTIME) dates what is recorded and shown; monotonic time
 * (CLOCK_MONOTONIC) measures intervals and schedules timers. The workers use the TSC
 * instead (dp_loop_clock_ns). Safe from any thread.
 */
#ifndef TG_CLOCK_H
#define TG_CLOCK_H

#include <stdint.h>
#include <time.h>

/* The wall-clock time, ns since the epoch. */
static inline uint64_t tg_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Monotonic time, ns since an arbitrary start. */
static inline uint64_t tg_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
