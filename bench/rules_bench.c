/*
** bench/rules_bench.c: what rule evaluation costs the ingest (issue 6 target: < 10 % of ingest
** throughput with 10,000 active rules). Ingests the same line-protocol batches (ingest_lp, the
** path of POST /write, durable with fsync) into two fresh data directories: once with no rule,
** once with RULES threshold rules bound to the series through the same hook the server uses,
** and prints values/s for both and the relative cost. Each batch goes into both directories in
** turn (paired measurement: on a shared VM the speed of one configuration drifts by tens of
** percent within minutes, but not within the few milliseconds of a pair). `make bench-rules`.
** Two workloads:
**   rules_bench [entities=10000] [rules=10000] [points-per-entity=200] [dir=/tmp]
**     synthetic, adversarial: values uniform in 40..60, each rule raises above 55 (for 5 min):
**     a quarter of the values start a pending condition, so 42 % must be evaluated;
**   rules_bench --city FILE.lp [dir=/tmp]
**     the core benchmark's day (bench/gen.c, 10,000 sensors and 200 trucks, 19.6 M values, in
**     its batches of 10,000 lines) with one threshold rule per sensor at an operational level of
**     its kind (city_rules below).
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

/* The rules take every durable point keyed by sid (the server's hook does the same). */
static void points(void *arg, const char *tenant, const char *source, const struct store_point *p,
                   size_t n)
{
    alerts_on_points(arg, tenant, source, p, n);
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
    struct ingest_hook h = {points, NULL, NULL, e->al};
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

/* Ingest one batch into e; adds its wall and thread-CPU nanoseconds (the CPU time leaves out the
** waits for fsync and the turns of other processes). */
static void ingest_batch(struct env *e, const char *body, size_t len, int64_t *wall, int64_t *cpu)
{
    struct ingest_result res;
    int64_t t0 = clock_mono_ns(), c0 = thread_cpu_ns();
    if (ingest_lp(e->ig, "bench", "bench", body, len, LP_MS, 0, &res) || res.bad) {
        fprintf(stderr, "ingest failed: %s\n", res.first_errors);
        exit(1);
    }
    *cpu += thread_cpu_ns() - c0;
    *wall += clock_mono_ns() - t0;
}

/* The paired measurement's totals: [0] without rules, [1] with. */
struct pairs {
    int64_t wall[2], cpu[2];
    double *ratio; /* per batch: CPU time with rules / without */
    size_t nratio;
};

/* Each batch into both directories in turn (a few milliseconds apart: the same machine), the
** order alternating from one batch to the next. */
static void run_pairs(struct env *plain, struct env *ruled, char **batches, size_t *lens, int nb,
                      int parity, struct pairs *pr)
{
    pr->ratio = realloc(pr->ratio, (pr->nratio + (size_t)nb) * sizeof(*pr->ratio));
    for (int b = 0; b < nb; b++) {
        int64_t w[2] = {0, 0}, c[2] = {0, 0};
        for (int k = 0; k < 2; k++) {
            int which = (k + b + parity) % 2;
            ingest_batch(which ? ruled : plain, batches[b], lens[b], &w[which], &c[which]);
        }
        for (int k = 0; k < 2; k++) {
            pr->wall[k] += w[k];
            pr->cpu[k] += c[k];
        }
        pr->ratio[pr->nratio++] = c[0] > 0 ? (double)c[1] / (double)c[0] : 1.0;
    }
}

static void report(struct env *ruled, int nrules, double values, struct pairs *pr)
{
    qsort(pr->ratio, pr->nratio, sizeof(double), cmp_double);
    struct alerts_stats st;
    alerts_get_stats(ruled->al, &st);
    printf("ingest without rules: %.0f values/s (wall), %.0f values/s (CPU of the ingesting "
           "thread)\n", values / ((double)pr->wall[0] / 1e9), values / ((double)pr->cpu[0] / 1e9));
    printf("ingest with %d rules:  %.0f values/s (wall), %.0f values/s (CPU); %llu evaluations "
           "(%llu values settled by their band), %llu alerts raised, %llu resolved\n",
           nrules, values / ((double)pr->wall[1] / 1e9), values / ((double)pr->cpu[1] / 1e9),
           (unsigned long long)st.evaluations, (unsigned long long)st.settled,
           (unsigned long long)st.raised, (unsigned long long)st.resolved);
    printf("rule cost: %.1f %% more wall time, %.1f %% more CPU time per value; per batch, CPU "
           "with/without rules: median %.3f, quartiles %.3f..%.3f\n",
           100.0 * ((double)pr->wall[1] / (double)pr->wall[0] - 1.0),
           100.0 * ((double)pr->cpu[1] / (double)pr->cpu[0] - 1.0), pr->ratio[pr->nratio / 2],
           pr->ratio[pr->nratio / 4], pr->ratio[pr->nratio * 3 / 4]);
    free(pr->ratio);
}

static int rule_put(struct env *e, const char *json)
{
    char id[64], err[256];
    if (alerts_rule_put(e->al, "bench", json, strlen(json), 0, id, sizeof(id), err, sizeof(err))) {
        fprintf(stderr, "rule refused: %s\n", err);
        return -1;
    }
    return 0;
}

/* Synthetic: nent sensors, values uniform in 40..60, one threshold rule per sensor at 55. */
static int synthetic(int nent, int nrules, int npts, const char *base)
{
    struct env plain, ruled;
    if (env_open(&plain, base, "none") || env_open(&ruled, base, "rules")) {
        fprintf(stderr, "cannot open the data directories\n");
        return 1;
    }
    /* rules: each watches one sensor (threshold with hysteresis and a duration); a tenth also
    ** filter on a district tag */
    int64_t t_rules = clock_mono_ns();
    for (int r = 0; r < nrules; r++) {
        char json[512];
        snprintf(json, sizeof(json),
                 "{\"id\":\"r%05d\",\"kind\":\"threshold\",\"target\":{\"type\":\"sensor\","
                 "\"attr\":\"v\",\"ids\":[\"s%05d\"]%s},\"condition\":{\"op\":\">\","
                 "\"raise\":55,\"clear\":45,\"for\":\"5m\"}}",
                 r, r % nent, r % 10 ? "" : ",\"where\":{\"district\":\"75001\"}");
        if (rule_put(&ruled, json))
            return 1;
    }
    double rules_s = (double)(clock_mono_ns() - t_rules) / 1e9;
    enum { REPS = 5 };
    struct pairs pr = {{0, 0}, {0, 0}, NULL, 0};
    uint64_t total = (uint64_t)nent * (uint64_t)npts;
    for (int rep = 0; rep < REPS; rep++) {
        char **batches;
        size_t *lens;
        int nb = make_batches(nent, npts, rep, &batches, &lens);
        run_pairs(&plain, &ruled, batches, lens, nb, rep, &pr);
        free_batches(batches, lens, nb);
    }
    printf("rules_bench synthetic: %d entities x %d points (uniform in 40..60, rules raise above "
           "55), batches of 10000 lines, %d repetitions, each batch into both directories in "
           "turn; %d rules created in %.2f s\n", nent, npts, REPS, nrules, rules_s);
    report(&ruled, nrules, (double)total * REPS, &pr);
    env_close(&plain);
    env_close(&ruled);
    return 0;
}

/* The core benchmark's day (bench/gen.c: 10,000 sensors of five kinds, 200 trucks), in its
** batches of 10,000 lines, with one rule per sensor at an operational level of its kind. */
static const struct city_rule {
    const char *type, *attr, *op;
    double raise, clear;
    const char *dur;
} city_rules[] = {
    {"noise", "laeq", ">", 68, 65, "10m"},          /* road noise above the action level */
    {"air", "pm25", ">", 25, 20, "30m"},            /* a fine-particle episode */
    {"traffic", "count", ">", 50, 40, "15m"},       /* congestion */
    {"temperature", "celsius", "<", 0.5, 1.5, "1h"}, /* frost on the road */
    {"energy", "kwh", ">", 2.0, 1.8, "30m"},        /* over-consumption */
};

static int city(const char *path, const char *base)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot open (bench/gen.c writes it; see bench/README.md)\n", path);
        return 1;
    }
    struct buf data;
    buf_init(&data, 0);
    char chunk[1 << 16];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(&data, chunk, got);
    fclose(f);
    /* batches of 10,000 lines (send.py's) */
    size_t nb = 0, cap = 0, lines = 0;
    char **batches = NULL;
    size_t *lens = NULL;
    for (size_t at = 0; at < data.len;) {
        size_t end = at;
        for (int k = 0; k < 10000 && end < data.len; k++) {
            const char *nl = memchr(data.p + end, '\n', data.len - end);
            end = nl ? (size_t)(nl - data.p) + 1 : data.len;
            lines++;
        }
        if (nb == cap) {
            cap = cap ? 2 * cap : 1024;
            batches = realloc(batches, cap * sizeof(*batches));
            lens = realloc(lens, cap * sizeof(*lens));
        }
        batches[nb] = data.p + at;
        lens[nb++] = end - at;
        at = end;
    }
    struct env plain, ruled;
    if (env_open(&plain, base, "none") || env_open(&ruled, base, "rules")) {
        fprintf(stderr, "cannot open the data directories\n");
        return 1;
    }
    /* one rule per sensor, by its id: the kinds from the first day's lines */
    int64_t t_rules = clock_mono_ns();
    int nrules = 0;
    char seen[100000] = {0};
    for (size_t at = 0; at < data.len;) {
        const char *ln = data.p + at, *nl = memchr(ln, '\n', data.len - at);
        size_t len = nl ? (size_t)(nl - ln) : data.len - at;
        at += len + 1;
        const char *id = memmem(ln, len, ",id=s", 5);
        if (!id)
            continue;
        long n = strtol(id + 5, NULL, 10);
        if (n <= 0 || n >= (long)sizeof(seen) || seen[n])
            continue;
        seen[n] = 1;
        for (size_t k = 0; k < sizeof(city_rules) / sizeof(city_rules[0]); k++) {
            const struct city_rule *c = &city_rules[k];
            size_t tl = strlen(c->type);
            if (len <= tl || memcmp(ln, c->type, tl) || ln[tl] != ',')
                continue;
            char json[512];
            snprintf(json, sizeof(json),
                     "{\"id\":\"%s-s%05ld\",\"kind\":\"threshold\",\"target\":{\"type\":\"%s\","
                     "\"attr\":\"%s\",\"ids\":[\"s%05ld\"]},\"condition\":{\"op\":\"%s\","
                     "\"raise\":%g,\"clear\":%g,\"for\":\"%s\"}}",
                     c->type, n, c->type, c->attr, n, c->op, c->raise, c->clear, c->dur);
            if (rule_put(&ruled, json))
                return 1;
            nrules++;
        }
    }
    double rules_s = (double)(clock_mono_ns() - t_rules) / 1e9;
    struct pairs pr = {{0, 0}, {0, 0}, NULL, 0};
    run_pairs(&plain, &ruled, batches, lens, (int)nb, 0, &pr);
    struct store_stats ss;
    store_get_stats(ruled.st, &ss);
    printf("rules_bench city: %s: %zu lines in %zu batches of 10000 (the core benchmark's day), "
           "each batch into both directories in turn; %d rules (one per sensor) created in "
           "%.2f s\n", path, lines, nb, nrules, rules_s);
    report(&ruled, nrules, (double)ss.points_written, &pr);
    env_close(&plain);
    env_close(&ruled);
    free(batches);
    free(lens);
    buf_release(&data);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "--city"))
        return city(argv[2], argc > 3 ? argv[3] : "/tmp");
    int nent = argc > 1 ? atoi(argv[1]) : 10000;
    int nrules = argc > 2 ? atoi(argv[2]) : 10000;
    int npts = argc > 3 ? atoi(argv[3]) : 200;
    const char *base = argc > 4 ? argv[4] : "/tmp";
    if (nent < 1 || nrules < 0 || npts < 1) {
        fprintf(stderr, "usage: rules_bench [entities] [rules] [points-per-entity] [dir]\n"
                        "       rules_bench --city FILE.lp [dir]\n");
        return 2;
    }
    return synthetic(nent, nrules, npts, base);
}
