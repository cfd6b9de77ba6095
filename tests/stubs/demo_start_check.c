/*
** tests/stubs/demo_start_check.c: runs demo_start against the stubs (7-day backfill, samples)
** and prints what the stub ingest received. Manual check, not part of the build.
*/
#include "app/demo.h"
#include "core/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

extern unsigned long long demo_stub_lines, demo_stub_calls;

int main(int argc, char **argv)
{
    struct demo_opts o = {0};
    struct demo *d;
    o.samples_dir = argc > 1 ? argv[1] : NULL;
    o.backfill_days = argc > 2 ? atoi(argv[2]) : 7;
    o.realtime = 1;
    int64_t t0 = clock_mono_ns();
    if (demo_start((struct ingest *)1, (struct meta *)1, &o, &d))
        return 1;
    int rc = demo_wait_backfill(d);
    printf("backfill rc %d: %llu lines in %llu batches, %.2f s\n", rc, demo_stub_lines,
           demo_stub_calls, (double)(clock_mono_ns() - t0) / 1e9);
    unsigned long long l0 = demo_stub_lines;
    struct timespec ts = {12, 0};
    nanosleep(&ts, NULL);
    printf("after one tick: %llu more lines\n", demo_stub_lines - l0);
    demo_stop(d);
    /* second start: the backfill is recorded as done, only the catch-up is generated */
    l0 = demo_stub_lines;
    o.realtime = 0;
    if (demo_start((struct ingest *)1, (struct meta *)1, &o, &d))
        return 1;
    rc = demo_wait_backfill(d);
    demo_stop(d);
    printf("restart rc %d: %llu lines (catch-up only)\n", rc, demo_stub_lines - l0);
    return 0;
}
