/*
** bench/codec_bench.c: micro-benchmark of the column codec (store/chunk.c). Not run by tests.
** Build (from the repository root): gcc -std=c11 -D_GNU_SOURCE -O2 -Isrc -pthread
**     -o /tmp/codec_bench bench/codec_bench.c src/store/chunk.c src/store/value.c
**     src/core/buf.c src/core/crc32c.c src/core/vg.c src/core/log.c -lm
** Prints, per data set of one 1440-point day: bytes/value (frame included), encode and decode
** speed in M points/s (best of several timed rounds).
*/
#include "core/buf.h"
#include "store/chunk.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N 1440

static uint64_t g_rng = 42;

static uint64_t rnd(void)
{
    uint64_t z = (g_rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void run(const char *name, enum vg_vtype vt, const int64_t *ts, const union vg_val *v)
{
    struct buf b;
    int64_t ots[N];
    union vg_val ov[N];
    uint32_t n = 0;
    buf_init(&b, 0);
    if (chunk_encode(vt, ts, v, N, &b) != VG_OK) {
        printf("%s: encode failed\n", name);
        return;
    }
    double best_enc = 1e9, best_dec = 1e9;
    for (int round = 0; round < 7; round++) {
        int reps = 300;
        double t0 = now();
        for (int r = 0; r < reps; r++) {
            buf_reset(&b);
            if (chunk_encode(vt, ts, v, N, &b) != VG_OK)
                abort();
        }
        double t1 = now();
        for (int r = 0; r < reps; r++) {
            if (chunk_decode(b.p, b.len, ots, ov, N, &n) != VG_OK)
                abort();
        }
        double t2 = now();
        best_enc = fmin(best_enc, (t1 - t0) / reps);
        best_dec = fmin(best_dec, (t2 - t1) / reps);
    }
    printf("%-34s %6.3f bytes/value  encode %7.1f M/s  decode %7.1f M/s\n", name,
           (double)b.len / N, N / best_enc / 1e6, N / best_dec / 1e6);
    buf_release(&b);
}

int main(void)
{
    static int64_t ts[N];
    static union vg_val v[N];
    int64_t t0 = 1767225600000; /* 2026-01-01 */
    for (int i = 0; i < N; i++)
        ts[i] = t0 + (int64_t)i * 60000;

    double x = 600;
    for (int i = 0; i < N; i++) { /* noise: 60 dB +-5, one decimal, random walk */
        x += (double)((int64_t)(rnd() % 11) - 5);
        x = fmin(650, fmax(550, x));
        v[i].f = x / 10;
    }
    run("noise 1-decimal random walk", VT_F64, ts, v);

    for (int i = 0; i < N; i++) /* cumulative counter 0..300 over the day */
        v[i].f = (double)(i * 300 / N);
    run("counter cumulative 0..300 (F64)", VT_F64, ts, v);
    for (int i = 0; i < N; i++) /* per-minute counts, uniformly random */
        v[i].f = (double)(rnd() % 301);
    run("counts random 0..300 (F64)", VT_F64, ts, v);

    for (int i = 0; i < N; i++) /* temperature, 2 decimals, slow */
        v[i].f = round((12.0 + 6.0 * sin(i * 6.2831853 / N) + (double)(rnd() % 5) * 0.01) * 100) /
                 100;
    run("temperature 2 decimals", VT_F64, ts, v);

    double lat = 48.856613, lon = 2.352222;
    for (int i = 0; i < N; i++) { /* GPS, 6 decimals, a truck along a street every 10 s */
        ts[i] = t0 + (int64_t)i * 10000;
        lat += (double)(rnd() % 40) * 1e-6;
        lon += (double)(rnd() % 25) * 1e-6;
        v[i].geo.lat = round(lat * 1e6) / 1e6;
        v[i].geo.lon = round(lon * 1e6) / 1e6;
    }
    run("GPS lat/lon 6 decimals (GEO)", VT_GEO, ts, v);

    for (int i = 0; i < N; i++) {
        v[i].f = (double)(rnd() >> 11) / 9007199254740992.0 * 100.0;
    }
    run("random doubles (raw fallback)", VT_F64, ts, v);

    x = 20.0;
    for (int i = 0; i < N; i++) { /* float32 readings widened to double: the XOR path */
        x += (double)((int64_t)(rnd() % 7) - 3) * 0.013;
        v[i].f = (double)(float)x;
    }
    run("float32-widened readings (XOR)", VT_F64, ts, v);
    for (int i = 0; i < N; i++) /* smooth full-precision doubles: XOR */
        v[i].f = 20.0 + sin(i / 50.0);
    run("smooth full-precision (XOR)", VT_F64, ts, v);

    for (int i = 0; i < N; i++) /* jittered timestamps: the delta-of-delta path */
        ts[i] = t0 + (int64_t)i * 60000 + (int64_t)(rnd() % 200);
    for (int i = 0; i < N; i++)
        v[i].i = (int64_t)(rnd() % 1000);
    run("I64 random 0..999, jittered ts", VT_I64, ts, v);
    return 0;
}
