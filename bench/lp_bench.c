/*
** bench/lp_bench.c: micro-benchmark of the line protocol parser (ingest/lineproto.c) alone.
** Builds an in-memory body of typical lines, parses it repeatedly on one core and prints lines/s,
** field values/s and MB/s per line shape.
** Build with the project flags plus bench/lp_bench.c, src/ingest/lineproto.c and the src/core
** sources (see docs/internals/lineproto.md), then run: lp_bench [seconds-per-case].
** Owns: the generated bodies.
*/
#include "ingest/lineproto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NLINES 200000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Deterministic xorshift so runs are comparable. */
static unsigned long long rng_state = 88172645463325252ull;
static unsigned long long rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static char *gen_body(int shape, size_t *len)
{
    size_t cap = (size_t)NLINES * 200, n = 0;
    char *b = malloc(cap);
    long long ts = 1700000000000000000ll;
    int i;

    if (!b)
        exit(2);
    for (i = 0; i < NLINES; i++) {
        int w;
        ts += 1000000000ll;
        if (shape == 0)
            w = snprintf(b + n, cap - n,
                         "noise,id=nation-%02d,kind=noise,district=750%02d laeq=%d.%d %lld\n",
                         (int)(rnd() % 100), (int)(rnd() % 20), 30 + (int)(rnd() % 60),
                         (int)(rnd() % 10), ts);
        else
            w = snprintf(b + n, cap - n,
                         "air,id=station-%03d,kind=air,district=750%02d "
                         "no2=%d.%d,pm10=%d.%02d,pm25=%d.%d,o3=%di %lld\n",
                         (int)(rnd() % 1000), (int)(rnd() % 20), (int)(rnd() % 200),
                         (int)(rnd() % 10), (int)(rnd() % 100), (int)(rnd() % 100),
                         (int)(rnd() % 80), (int)(rnd() % 10), (int)(rnd() % 300), ts);
        n += (size_t)w;
    }
    *len = n;
    return b;
}

static void run(const char *name, int shape, double secs)
{
    size_t len;
    char *body = gen_body(shape, &len);
    struct lp_parser *ps = malloc(sizeof(*ps));
    struct lp_line *ln = malloc(sizeof(*ln));
    char err[256];
    unsigned long long lines = 0, fields = 0, bytes = 0;
    double sink = 0, t0, t1, best = 0;
    int round;

    if (!ps || !ln)
        exit(2);
    /* several rounds, keep the best rate (least disturbed by other processes) */
    for (round = 0; round < 5; round++) {
        unsigned long long rl = 0, rf = 0, rb = 0;
        t0 = now_s();
        do {
            int rc;
            lp_init(ps, body, len);
            while ((rc = lp_next(ps, ln, err, sizeof(err))) != 0) {
                if (rc < 0) {
                    fprintf(stderr, "unexpected error: %s\n", err);
                    exit(1);
                }
                rl++;
                rf += ln->nfields;
                sink += ln->fields[0].v.f + (double)ln->ts;
            }
            rb += len;
            t1 = now_s();
        } while (t1 - t0 < secs / 5);
        if (rf / (t1 - t0) > best) {
            best = rf / (t1 - t0);
            lines = rl;
            fields = rf;
            bytes = rb;
        }
    }
    {
        double lps = best / (double)fields * (double)lines;
        printf("%-8s %6.1f M lines/s  %6.1f M fields/s  %6.0f MB/s  %5.1f ns/line\n", name,
               lps / 1e6, best / 1e6, lps * ((double)bytes / (double)lines) / 1e6, 1e9 / lps);
    }
    if (sink == 42.0)
        printf("-\n");
    free(body);
    free(ps);
    free(ln);
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 2.0;
    printf("line protocol parser, one core, best of 5 rounds:\n");
    run("1-field", 0, secs);
    run("4-field", 1, secs);
    return 0;
}
