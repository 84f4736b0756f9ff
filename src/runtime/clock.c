/* runtime/clock.c — the time-stamp counter's invariance and rate (clock.h). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 (other files get it from Python.h) */
#include "clock.h"

/* glibc (2.33 and later) has read cpuid once at start-up and answers from what it kept:
 * every cpuid instruction traps to the hypervisor in a virtual machine (3.5 us each on this
 * project's machines; __get_cpuid runs two per leaf asked), and every process pays this. */
#if defined(__has_include)
#if __has_include(<sys/platform/x86.h>)
#include <sys/platform/x86.h>
#define OD_HAVE_GLIBC_CPU_FEATURES 1
#endif
#endif
#ifndef OD_HAVE_GLIBC_CPU_FEATURES
#include <cpuid.h>
#endif

int od_clock_tsc;

#define OD_CLOCK_CALIBRATE_NS 5000000u
static uint64_t start_ticks, start_ns;
static double ticks_per_ns = 1.0;
static int rate_fixed = 1;

void od_clock_init(void)
{
    if (start_ns)
        return;
#ifdef OD_HAVE_GLIBC_CPU_FEATURES
    int invariant = CPU_FEATURE_PRESENT(INVARIANT_TSC);
#else
    unsigned eax, ebx, ecx, edx;
    /* CPUID 0x80000007, EDX bit 8: invariant TSC */
    int invariant = __get_cpuid(0x80000000u, &eax, &ebx, &ecx, &edx) && eax >= 0x80000007u
                    && __get_cpuid(0x80000007u, &eax, &ebx, &ecx, &edx) && (edx & (1u << 8));
#endif
    if (invariant) {
        od_clock_tsc = 1;
        rate_fixed = 0;
    }
    start_ticks = od_clock_ticks();
    start_ns = od_clock_ns();
}

/* ticks per nanosecond: measured since od_clock_init, fixed once that spans long enough */
static double rate(void)
{
    if (rate_fixed)
        return ticks_per_ns;
    uint64_t t = od_clock_ticks(), ns = od_clock_ns();
    if (ns <= start_ns || t <= start_ticks)
        return ticks_per_ns;
    ticks_per_ns = (double)(t - start_ticks) / (double)(ns - start_ns);
    rate_fixed = ns - start_ns >= OD_CLOCK_CALIBRATE_NS;
    return ticks_per_ns;
}

uint64_t od_clock_ticks_to_ns(uint64_t ticks)
{
    return od_clock_tsc ? (uint64_t)((double)ticks / rate()) : ticks;
}

uint64_t od_clock_ns_to_ticks(uint64_t ns)
{
    return od_clock_tsc ? (uint64_t)((double)ns * rate()) : ns;
}
