/* runtime/clock.h — the JIT's clocks.
 *
 * od_clock_ns(): CLOCK_MONOTONIC in nanoseconds, for what is reported (compile times, the
 * heap trims, the age of a forked child).
 *
 * od_clock_ticks(): the cheapest monotonic counter, for time that is measured often and only
 * weighed against itself or converted now and then: the compile policy's rent, two reads per
 * interpreted frame of rented code and two per frame such a frame calls (65,000 reads in
 * email_parse). It is the CPU's time-stamp counter when cpuid says it is invariant (it runs
 * at a constant rate in every power state: the kernel's own condition for using it as the
 * clock), else od_clock_ns() itself. The vDSO's clock_gettime reads the same counter and
 * scales it, about 35 ns a read on this project's machines against a few for rdtsc.
 * A difference of two reads may be taken on different CPUs; callers clamp it at 0.
 *
 * od_clock_ticks_to_ns() / od_clock_ns_to_ticks(): the counter's rate, measured against
 * CLOCK_MONOTONIC from od_clock_init() (module import) to the first conversion made at least
 * OD_CLOCK_CALIBRATE_NS later, then fixed; a conversion before that measures over what has
 * elapsed so far (1 when ticks are nanoseconds). */
#ifndef OD_RUNTIME_CLOCK_H
#define OD_RUNTIME_CLOCK_H

#include <stdint.h>
#include <time.h>
#include <x86intrin.h>

extern int od_clock_tsc; /* 1: od_clock_ticks() reads the time-stamp counter */

static inline uint64_t od_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t od_clock_ticks(void)
{
    return od_clock_tsc ? (uint64_t)__rdtsc() : od_clock_ns();
}

/* ticks elapsed from `t0` to `t1`, 0 if the counter went backwards (another CPU's) */
static inline uint64_t od_clock_ticks_between(uint64_t t0, uint64_t t1)
{
    return t1 > t0 ? t1 - t0 : 0;
}

void od_clock_init(void);
uint64_t od_clock_ticks_to_ns(uint64_t ticks);
uint64_t od_clock_ns_to_ticks(uint64_t ns);

#endif
