/*
** bench/engine_bench.c: in-process benchmark of the storage engine (store/db.h), no HTTP.
** Measures: store_write throughput of 10,000-point F64 batches (one point for each of 10,000
** series, 1-minute steps, 1-decimal random-walk sensor values) with WAL_SYNC_BATCH and
** WAL_SYNC_ALWAYS; head memory after a day; bytes per value on disk after store_close; and
** aggregation latency from blocks: hourly average over a day of 1 series, 100 series and 164
** series (the "every noise sensor of one district" query), and over 30 days of one series
** (a separate store holding 30 days of 1-minute points for 8 series).
** Build (standalone):
**   gcc -std=c11 -D_GNU_SOURCE -O2 -Isrc -pthread -o engine_bench bench/engine_bench.c
**       src/store/{db,head,block,chunk,io,io_posix,io_fault,wal,value}.c
**       src/core/{buf,clock,crc32c,log,vg}.c -lm
** Usage: engine_bench [dir] [series] [minutes] [skip-always]  (dir default $TMPDIR or /tmp;
**        skip-always 1 skips the WAL_SYNC_ALWAYS append phase)
*/
#include "core/clock.h"
#include "store/db.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1700006400000LL
#define MIN 60000LL
#define HOUR 3600000LL
#define DAY 86400000LL

static uint64_t g_rng = 42;

static uint64_t rnd(void)
{
    uint64_t z = (g_rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double now_s(void)
{
    return (double)clock_mono_ns() / 1e9;
}

static struct store *open_store(const char *dir, enum wal_sync_policy pol, uint32_t nseries)
{
    struct store_opts o = {.sync = pol};
    struct store *s = NULL;
    int rc = store_open(dir, &o, &s);
    if (rc) {
        fprintf(stderr, "store_open '%s': %s\n", dir, vg_strerror(rc));
        exit(1);
    }
    for (uint32_t i = 0; i < nseries; i++)
        store_series_add(s, i + 1, 1, VT_F64);
    rc = store_recover(s, NULL);
    if (rc) {
        fprintf(stderr, "store_recover: %s\n", vg_strerror(rc));
        exit(1);
    }
    return s;
}

/* Average wall time in ms of one store_aggregate of every sid in [sid0, sid0 + nsid) over
** [from, to) hourly (a query = nsid aggregates), over reps queries. */
static double agg_ms(struct store *s, uint32_t sid0, uint32_t nsid, int64_t from, int64_t to,
                     int reps, double *sink)
{
    uint32_t nb = store_bucket_count(from, to, HOUR);
    struct store_bucket *b = calloc(nb, sizeof(*b));
    double t = now_s();
    for (int r = 0; r < reps; r++) {
        for (uint32_t k = 0; k < nsid; k++) {
            int rc = store_aggregate(s, sid0 + k, from, to, HOUR, b, nb);
            if (rc) {
                fprintf(stderr, "store_aggregate: %s\n", vg_strerror(rc));
                exit(1);
            }
            *sink += store_bucket_value(&b[nb / 2], AGG_AVG);
        }
    }
    t = (now_s() - t) / reps * 1e3;
    free(b);
    return t;
}

/* Write minutes [m0, m1) for every series; returns seconds spent in store_write. */
static double write_minutes(struct store *s, uint32_t nseries, int m0, int m1, double *walk)
{
    struct store_point *p = calloc(nseries, sizeof(*p));
    double spent = 0;
    for (int m = m0; m < m1; m++) {
        for (uint32_t i = 0; i < nseries; i++) {
            int step = (int)(rnd() % 3) - 1;
            walk[i] += step * 0.1;
            p[i].sid = i + 1;
            p[i].ts = T0 + m * MIN;
            p[i].v.f = round(walk[i] * 10) / 10;
        }
        double t = now_s();
        int rc = store_write(s, p, nseries);
        spent += now_s() - t;
        if (rc) {
            fprintf(stderr, "store_write: %s\n", vg_strerror(rc));
            exit(1);
        }
    }
    free(p);
    return spent;
}

int main(int argc, char **argv)
{
    const char *base = argc > 1 ? argv[1] : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    uint32_t ns = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 10000;
    int minutes = argc > 3 ? atoi(argv[3]) : 1440;
    char dir[512], cmd[600];
    snprintf(dir, sizeof(dir), "%s/vigie-engine-bench-%d", base, (int)(rnd() % 100000));
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    uint32_t nw = ns < 8 ? 8 : ns;
    double *walk = malloc(nw * sizeof(*walk));
    for (uint32_t i = 0; i < nw; i++)
        walk[i] = 15 + (double)(rnd() % 100) / 10;

    /* 1. WAL_SYNC_BATCH: a full day, then close (final checkpoint). */
    if (system(cmd) != 0)
        return 1;
    struct store *s = open_store(dir, WAL_SYNC_BATCH, ns);
    double t = write_minutes(s, ns, 0, minutes, walk);
    uint64_t nv = (uint64_t)ns * (uint64_t)minutes;
    printf("append WAL_SYNC_BATCH : %llu values in %.3f s = %.2f M values/s\n",
           (unsigned long long)nv, t, (double)nv / t / 1e6);
    struct store_stats st;
    store_get_stats(s, &st);
    printf("head after %d min     : %llu points, %.1f MB (%.2f bytes/point)\n", minutes,
           (unsigned long long)st.head_points, (double)st.head_bytes / 1e6,
           (double)st.head_bytes / (double)(st.head_points ? st.head_points : 1));
    double tc = now_s();
    store_close(s);
    printf("store_close           : %.3f s (final checkpoint)\n", now_s() - tc);

    s = open_store(dir, WAL_SYNC_BATCH, ns);
    store_get_stats(s, &st);
    uint64_t block_bytes = st.disk_bytes - st.wal.size_on_disk;
    printf("on disk after close   : %llu bytes in %llu blocks, %llu chunks = %.3f bytes/value\n",
           (unsigned long long)block_bytes, (unsigned long long)st.blocks,
           (unsigned long long)st.chunks, (double)block_bytes / (double)nv);

    /* 2. Aggregation from blocks: hourly average of one day. */
    double sink = 0;
    uint32_t n100 = ns < 100 ? ns : 100, n164 = ns < 164 ? ns : 164;
    int reps = 2000;
    printf("aggregate 1 series    : %.2f us (hourly avg over %d points)\n",
           agg_ms(s, 1, 1, T0, T0 + DAY, reps, &sink) * 1e3, minutes);
    printf("aggregate %3u series  : %.3f ms\n", n100, agg_ms(s, 1, n100, T0, T0 + DAY, 50, &sink));
    printf("aggregate %3u series  : %.3f ms (%u x %d points)\n", n164,
           agg_ms(s, 1, n164, T0, T0 + DAY, 50, &sink), n164, minutes);
    struct store_points pts;
    store_points_init(&pts);
    double ta = now_s();
    for (int r = 0; r < reps; r++)
        store_read(s, 1 + (uint32_t)(r % ns), T0, T0 + DAY, 0, &pts);
    printf("read 1 series day     : %.2f us (%u points)\n", (now_s() - ta) / reps * 1e6, pts.n);
    store_points_release(&pts);
    store_close(s);

    /* 3. One series over 30 days (8 series written so the blocks are not single-series). */
    if (system(cmd) != 0)
        return 1;
    s = open_store(dir, WAL_SYNC_BATCH, 8);
    write_minutes(s, 8, 0, 30 * 1440, walk);
    store_close(s);
    s = open_store(dir, WAL_SYNC_BATCH, 8);
    printf("aggregate 1 series 30d: %.2f us (hourly avg over %d points)\n",
           agg_ms(s, 1, 1, T0, T0 + 30 * DAY, 500, &sink) * 1e3, 30 * 1440);
    store_close(s);

    /* 4. WAL_SYNC_ALWAYS: fewer batches (each waits for fdatasync). */
    if (system(cmd) != 0)
        return 1;
    s = open_store(dir, WAL_SYNC_ALWAYS, ns);
    int am = minutes < 200 ? minutes : 200;
    t = write_minutes(s, ns, 0, am, walk);
    nv = (uint64_t)ns * (uint64_t)am;
    printf("append WAL_SYNC_ALWAYS: %llu values in %.3f s = %.2f M values/s (%.2f ms/batch)\n",
           (unsigned long long)nv, t, (double)nv / t / 1e6, t / am * 1e3);
    store_close(s);
    if (system(cmd) != 0)
        return 1;
    free(walk);
    return sink == 12345.678 ? 2 : 0;
}
