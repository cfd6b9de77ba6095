/*
** bench/rules_bench.c: what rule evaluation costs the ingest (issue 6 target: < 10 % of ingest
** throughput with 10,000 active rules). Ingests the same line-protocol batches (ingest_lp, the
** path of POST /write, durable with fsync) into two fresh data directories: once with no rule,
** once with RULES threshold rules bound to the series through the same hook the server uses,
** and prints values/s for both and the relative cost. `make bench-rules`.
**   rules_bench [entities=10000] [rules=10000] [points-per-entity=200] [dir=/tmp]
** Owns: its data directories (removed at the end).
*/
#include "alerts/alerts.h"
#include "core/clock.h"
#include "core/vg.h"
#include "ingest/ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <unistd.h>

struct env {
    char dir[400];
    struct meta *m;
    struct store *st;
    struct catalog *c;
    struct ingest *ig;
    struct alerts *al;
};

/* The rules key their series by sid: values without names (as the server asks while no live
** feed reader nor NGSI-LD document needs them). */
static enum ingest_want wants(void *arg, const char *tenant, const char *entity, size_t elen)
{
    return alerts_active(arg) ? INGEST_WANT_VALUES : INGEST_WANT_NONE;
}

static void apply(void *arg, const char *tenant, const struct ingest_update *u, uint32_t n)
{
    alerts_on_values(arg, tenant, u, n);
}

static int env_open(struct env *e, const char *base, const char *name)
{
    char p[1200];
    snprintf(e->dir, sizeof(e->dir), "%s/vigie-rules-bench-%s-%d", base, name, (int)getpid());
    snprintf(p, sizeof(p), "rm -rf '%s' && mkdir -p '%s'", e->dir, e->dir);
    if (system(p))
        return -1;
    struct store_opts so;
    memset(&so, 0, sizeof(so));
    char mp[600], sd[600]; /* dir is < 512 */
    snprintf(mp, sizeof(mp), "%s/meta.db", e->dir);
    snprintf(sd, sizeof(sd), "%s/store", e->dir);
    if (meta_open(mp, &e->m) || store_open(sd, &so, &e->st) || catalog_open(e->m, e->st, &e->c) ||
        store_recover(e->st, NULL) || ingest_new(e->c, e->st, e->m, NULL, &e->ig) ||
        alerts_open(e->m, e->c, e->st, &e->al))
        return -1;
    struct ingest_hook h = {wants, apply, e->al};
    ingest_set_hook(e->ig, &h);
    return 0;
}

static void env_close(struct env *e)
{
    alerts_free(e->al);
    ingest_free(e->ig);
    store_close(e->st);
    catalog_free(e->c);
    meta_close(e->m);
    char p[1200];
    snprintf(p, sizeof(p), "rm -rf '%s'", e->dir);
    if (system(p))
        fprintf(stderr, "cannot remove %s\n", e->dir);
}

/* Batches of 10,000 lines: each entity's points in time order, entities interleaved; rep shifts
** the times so that every repetition writes new points. */
static int make_batches(int nent, int npts, int rep, char ***bout, size_t **lens)
{
    int per = 10000;
    uint64_t total = (uint64_t)nent * (uint64_t)npts;
    int nb = (int)((total + (uint64_t)per - 1) / (uint64_t)per);
    char **batches = calloc((size_t)nb, sizeof(*batches));
    size_t *l = calloc((size_t)nb, sizeof(*l));
    uint64_t k = 0;
    for (int b = 0; b < nb; b++) {
        struct buf out;
        buf_init(&out, 0);
        for (int i = 0; i < per && k < total; i++, k++) {
            int ent = (int)(k % (uint64_t)nent), step = (int)(k / (uint64_t)nent) + rep * npts;
            uint64_t h = (k + (uint64_t)rep * total) * 0x9E3779B97F4A7C15ULL;
            double v = 40 + (double)((h >> 40) % 200) / 10.0; /* 40..60, varying in time */
            buf_printf(&out, "sensor,id=s%05d,district=750%02d v=%.1f %lld\n", ent, ent % 20 + 1, v,
                       1700000000000LL + (long long)step * 60000);
        }
        l[b] = out.len;
        batches[b] = buf_detach(&out, &l[b]);
    }
    *bout = batches;
    *lens = l;
    return nb;
}

static void free_batches(char **batches, size_t *lens, int nb)
{
    for (int i = 0; i < nb; i++)
        free(batches[i]);
    free(batches);
    free(lens);
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static int64_t thread_cpu_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Ingest every batch; returns values/s of wall time, and in *cpu values per second of this
** thread's CPU time (the cost without the waits for fsync nor the other processes' turns). */
static double run(struct env *e, char **batches, size_t *lens, int nb, uint64_t values,
                  double *cpu)
{
    int64_t t0 = clock_mono_ns(), c0 = thread_cpu_ns();
    for (int b = 0; b < nb; b++) {
        struct ingest_result res;
        if (ingest_lp(e->ig, "bench", "bench", batches[b], lens[b], LP_MS, 0, &res) || res.bad) {
            fprintf(stderr, "ingest failed: %s\n", res.first_errors);
            exit(1);
        }
    }
    *cpu = (double)values / ((double)(thread_cpu_ns() - c0) / 1e9);
    return (double)values / ((double)(clock_mono_ns() - t0) / 1e9);
}

int main(int argc, char **argv)
{
    int nent = argc > 1 ? atoi(argv[1]) : 10000;
    int nrules = argc > 2 ? atoi(argv[2]) : 10000;
    int npts = argc > 3 ? atoi(argv[3]) : 200;
    const char *base = argc > 4 ? argv[4] : "/tmp";
    struct env plain, ruled;
    if (env_open(&plain, base, "none") || env_open(&ruled, base, "rules")) {
        fprintf(stderr, "cannot open the data directories\n");
        return 1;
    }
    /* rules: each watches one sensor (threshold with hysteresis and a duration); a tenth also
    ** filter on a district tag */
    for (int r = 0; r < nrules; r++) {
        char json[512], id[64], err[256];
        snprintf(json, sizeof(json),
                 "{\"id\":\"r%05d\",\"kind\":\"threshold\",\"target\":{\"type\":\"sensor\","
                 "\"attr\":\"v\",\"ids\":[\"s%05d\"]%s},\"condition\":{\"op\":\">\","
                 "\"raise\":55,\"clear\":45,\"for\":\"5m\"}}",
                 r, r % nent, r % 10 ? "" : ",\"where\":{\"district\":\"75001\"}");
        if (alerts_rule_put(ruled.al, "bench", json, strlen(json), 0, id, sizeof(id), err,
                            sizeof(err))) {
            fprintf(stderr, "rule refused: %s\n", err);
            return 1;
        }
    }
    /* REPS repetitions, the order alternating (the disk is busier for the second run) */
    enum { REPS = 5 };
    double a[REPS], b[REPS], ac[REPS], bc[REPS];
    uint64_t total = (uint64_t)nent * (uint64_t)npts;
    for (int rep = 0; rep < REPS; rep++) {
        char **batches;
        size_t *lens;
        int nb = make_batches(nent, npts, rep, &batches, &lens);
        if (rep % 2 == 0) {
            a[rep] = run(&plain, batches, lens, nb, total, &ac[rep]);
            b[rep] = run(&ruled, batches, lens, nb, total, &bc[rep]);
        } else {
            b[rep] = run(&ruled, batches, lens, nb, total, &bc[rep]);
            a[rep] = run(&plain, batches, lens, nb, total, &ac[rep]);
        }
        free_batches(batches, lens, nb);
    }
    qsort(a, REPS, sizeof(double), cmp_double);
    qsort(b, REPS, sizeof(double), cmp_double);
    qsort(ac, REPS, sizeof(double), cmp_double);
    qsort(bc, REPS, sizeof(double), cmp_double);
    struct alerts_stats st;
    alerts_get_stats(ruled.al, &st);
    printf("rules_bench: %d entities x %d points, batches of 10000 lines, %d repetitions "
           "(medians, min..max)\n", nent, npts, REPS);
    printf("ingest without rules: %.0f values/s (%.0f..%.0f)\n", a[REPS / 2], a[0], a[REPS - 1]);
    printf("ingest with %d rules:  %.0f values/s (%.0f..%.0f), %.1f %% slower; %llu evaluations "
           "(%llu values settled by their band), %llu alerts raised, %llu resolved\n",
           nrules, b[REPS / 2], b[0], b[REPS - 1], 100.0 * (a[REPS / 2] - b[REPS / 2]) / a[REPS / 2],
           (unsigned long long)st.evaluations, (unsigned long long)st.settled,
           (unsigned long long)st.raised,
           (unsigned long long)st.resolved);
    printf("CPU time of the ingesting thread: without rules %.0f values/s, with %d rules %.0f "
           "values/s (medians), %.1f %% more CPU per value\n",
           ac[REPS / 2], nrules, bc[REPS / 2], 100.0 * (ac[REPS / 2] / bc[REPS / 2] - 1.0));
    env_close(&plain);
    env_close(&ruled);
    return 0;
}
