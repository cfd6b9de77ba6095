/*
** bench/alerts_bench.c: the labelled alert benchmark (issue 6, `make bench-alerts`). Generates
** the labelled city of app/incidents.c (default 1,000 sensors, 30 days, known leaks, stuck
** meters, silences, dwells at schools and PM2.5 episodes), feeds it in time order through the
** ingest path of POST /write (ingest_lp, the alert hook -> alerts_on_values) into a fresh data
** directory, calls alerts_tick with the simulated time after every window of WINDOW minutes,
** then reads every alert back (alerts_list_json) and scores each kind against the labels:
**   an alert matches an incident of its kind on the same entity when raised in
**   [start, end + GRACE]; precision = matching alerts / alerts of the kind; recall = incidents
**   with a matching alert / incidents; delay_h = median over detected incidents of (first
**   matching raisedAt - start), in hours.
** Alert times come from the data (raisedAt = the value's time), except staleness (the tick's
** time, so the simulated clock). Kinds the engine refuses still print their line (recall 0),
** with the reason on stderr. Then the forecast line: MAPE of alerts/forecast.h (24 h ahead,
** rolling origin every 24 h over the last 7 days, water and noise meters without incident)
** against the seasonal naive forecast (the same hour one week earlier).
**   alerts_bench [sensors=1000] [days=30] [window-min=5] [dir=/tmp]
** The WAL syncs in batches (WAL_SYNC_BATCH): this measures detection, not durability.
** Owns: its data directory (removed at the end).
*/
#include "alerts/alerts.h"
#include "app/incidents.h"
#include "core/clock.h"
#include "core/vg.h"
#include "ingest/ingest.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include("alerts/forecast.h")
#include "alerts/forecast.h"
#define HAVE_FORECAST 1
#endif
#endif

#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL
#define GRACE_MS (6 * HOUR_MS)
#define TENANT "bench"

struct env {
    char dir[400];
    struct meta *m;
    struct store *st;
    struct catalog *c;
    struct ingest *ig;
    struct alerts *al;
    uint64_t lines, points, bad;
};

/* The rules take every durable point keyed by sid (the server's hook does the same). */
static void points(void *arg, const char *tenant, const char *source, const struct store_point *p,
                   size_t n)
{
    alerts_on_points(arg, tenant, source, p, n);
}

static int env_open(struct env *e, const char *base)
{
    char p[1200];
    snprintf(e->dir, sizeof(e->dir), "%s/vigie-alerts-bench-%d", base, (int)getpid());
    snprintf(p, sizeof(p), "rm -rf '%s' && mkdir -p '%s'", e->dir, e->dir);
    if (system(p))
        return -1;
    struct store_opts so;
    memset(&so, 0, sizeof(so));
    so.sync = WAL_SYNC_BATCH;
    char mp[600], sd[600];
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

static int emit_ingest(void *arg, const char *body, size_t len, uint32_t nlines)
{
    struct env *e = arg;
    struct ingest_result res;
    memset(&res, 0, sizeof(res));
    int rc = ingest_lp(e->ig, TENANT, "bench", body, len, LP_MS, 0, &res);
    e->lines += res.lines;
    e->points += res.points;
    e->bad += res.bad;
    if (res.bad && e->bad == res.bad)
        fprintf(stderr, "quarantined: %s\n", res.first_errors);
    return rc;
}

/* ---- rules ----------------------------------------------------------------------------------- */

/* Scored kinds: the incident kinds, then anomaly (any incident on the same entity). */
enum { K_ANOMALY = INC_NKINDS, K_N };
static const char *kname(int k)
{
    return k == K_ANOMALY ? "anomaly" : incidents_kind_name(k);
}

struct brule {
    const char *id;
    int kind;
    const char *json; /* %s = the geofence for dwell */
};

static const struct brule rules[] = {
    {"leak", INC_LEAK,
     "{\"id\":\"leak\",\"kind\":\"nightmin\",\"severity\":\"high\",\"target\":{\"type\":"
     "\"Building\",\"attr\":\"waterConsumption\"},\"condition\":{\"from\":\"02:00\",\"to\":"
     "\"04:00\",\"nights\":2,\"learn\":7,\"window\":14,\"ratio\":0.25,\"margin\":0}}"},
    {"stuck", INC_STUCK,
     "{\"id\":\"stuck\",\"kind\":\"stuck\",\"target\":{\"type\":\"NoiseLevelObserved\","
     "\"attr\":\"LAeq\"},\"condition\":{\"repeats\":6,\"for\":\"1h\"}}"},
    {"silence-water", INC_SILENCE,
     "{\"id\":\"silence-water\",\"kind\":\"stale\",\"target\":{\"type\":\"Building\"},"
     "\"condition\":{\"after\":\"2h\"}}"},
    {"silence-noise", INC_SILENCE,
     "{\"id\":\"silence-noise\",\"kind\":\"stale\",\"target\":{\"type\":"
     "\"NoiseLevelObserved\"},\"condition\":{\"after\":\"2h\"}}"},
    {"silence-air", INC_SILENCE,
     "{\"id\":\"silence-air\",\"kind\":\"stale\",\"target\":{\"type\":\"AirQualityObserved\"},"
     "\"condition\":{\"after\":\"2h\"}}"},
    {"dwell", INC_DWELL,
     "{\"id\":\"dwell\",\"kind\":\"dwell\",\"target\":{\"type\":\"Vehicle\",\"attr\":"
     "\"location\"},\"condition\":{\"geofence\":%s,\"radius_m\":30,\"for\":\"30m\"}}"},
    {"peak", INC_PEAK,
     "{\"id\":\"peak\",\"kind\":\"threshold\",\"severity\":\"high\",\"target\":{\"type\":"
     "\"AirQualityObserved\",\"attr\":\"pm25\"},\"condition\":{\"op\":\">\",\"raise\":50,"
     "\"clear\":40,\"for\":\"1h\"}}"},
    {"anomaly-water", K_ANOMALY,
     "{\"id\":\"anomaly-water\",\"kind\":\"anomaly\",\"target\":{\"type\":\"Building\","
     "\"attr\":\"waterConsumption\"},\"condition\":{\"score\":6,\"weeks\":4}}"},
    {"anomaly-noise", K_ANOMALY,
     "{\"id\":\"anomaly-noise\",\"kind\":\"anomaly\",\"target\":{\"type\":"
     "\"NoiseLevelObserved\",\"attr\":\"LAeq\"},\"condition\":{\"score\":6,\"weeks\":4}}"},
    {"anomaly-air", K_ANOMALY,
     "{\"id\":\"anomaly-air\",\"kind\":\"anomaly\",\"target\":{\"type\":"
     "\"AirQualityObserved\",\"attr\":\"pm25\"},\"condition\":{\"score\":6,\"weeks\":4}}"},
};

static int kind_of_rule(const char *id)
{
    for (size_t i = 0; i < VG_ARRAY_LEN(rules); i++)
        if (!strcmp(rules[i].id, id))
            return rules[i].kind;
    return -1;
}

/* ---- scoring --------------------------------------------------------------------------------- */

struct balert {
    int kind;
    char entity[64];
    int64_t raised;
};

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static uint32_t read_alerts(struct env *e, struct balert **out)
{
    struct buf b;
    buf_init(&b, 0);
    struct alerts_filter f;
    memset(&f, 0, sizeof(f));
    f.limit = 100000;
    if (alerts_list_json(e->al, TENANT, &f, &b)) {
        fprintf(stderr, "cannot list the alerts\n");
        exit(1);
    }
    json_error_t je;
    json_t *j = json_loadb(b.p, b.len, 0, &je);
    buf_release(&b);
    json_t *arr = json_object_get(j, "alerts");
    size_t n = json_array_size(arr);
    struct balert *a = calloc(n ? n : 1, sizeof(*a));
    uint32_t k = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        const char *rule = json_string_value(json_object_get(o, "rule"));
        const char *ent = json_string_value(json_object_get(o, "entity"));
        const char *ra = json_string_value(json_object_get(o, "raisedAt"));
        int64_t ms = 0;
        if (!rule || !ent || !ra || clock_parse_time(ra, strlen(ra), &ms))
            continue;
        a[k].kind = kind_of_rule(rule);
        snprintf(a[k].entity, sizeof(a[k].entity), "%s", ent);
        a[k++].raised = ms;
    }
    if (json_integer_value(json_object_get(j, "total")) > (json_int_t)n)
        fprintf(stderr, "note: %lld alerts in all, only the newest %zu scored\n",
                (long long)json_integer_value(json_object_get(j, "total")), n);
    json_decref(j);
    *out = a;
    return k;
}

static int matches(int kind, const struct balert *a, const struct incident *in)
{
    if (kind != K_ANOMALY && in->kind != kind)
        return 0;
    if (kind == K_ANOMALY && in->kind == INC_DWELL)
        return 0;
    return !strcmp(a->entity, in->sensor) && a->raised >= in->start_ms &&
           a->raised <= in->end_ms + GRACE_MS;
}

static void score(int kind, const struct balert *a, uint32_t na, const struct incident *L,
                  uint32_t nl, int refused)
{
    uint32_t alerts = 0, matched = 0, incs = 0, detected = 0;
    double *delays = calloc(nl + 1, sizeof(double));
    for (uint32_t i = 0; i < na; i++) {
        if (a[i].kind != kind)
            continue;
        alerts++;
        for (uint32_t j = 0; j < nl; j++)
            if (matches(kind, &a[i], &L[j])) {
                matched++;
                break;
            }
    }
    for (uint32_t j = 0; j < nl; j++) {
        if (kind == K_ANOMALY ? L[j].kind == INC_DWELL : L[j].kind != kind)
            continue;
        incs++;
        int64_t first = INT64_MAX;
        for (uint32_t i = 0; i < na; i++)
            if (a[i].kind == kind && matches(kind, &a[i], &L[j]) && a[i].raised < first)
                first = a[i].raised;
        if (first != INT64_MAX)
            delays[detected++] = (double)(first - L[j].start_ms) / HOUR_MS;
        else if (incs - detected <= 5)
            fprintf(stderr, "  missed %s: %s from %lld for %.1f h\n", kname(kind), L[j].sensor,
                    (long long)L[j].start_ms, (double)(L[j].end_ms - L[j].start_ms) / HOUR_MS);
    }
    qsort(delays, detected, sizeof(double), cmp_double);
    double med = detected ? (detected % 2 ? delays[detected / 2]
                                          : (delays[detected / 2 - 1] + delays[detected / 2]) / 2)
                          : NAN;
    printf("%s precision=%.2f recall=%.2f delay_h=%.1f\n", kname(kind),
           alerts ? (double)matched / alerts : 0.0, incs ? (double)detected / incs : 0.0, med);
    fprintf(stderr, "  %s: %u alerts (%u matching), %u of %u incidents detected, delay max %.1f h%s\n",
            kname(kind), alerts, matched, detected, incs, detected ? delays[detected - 1] : NAN,
            refused ? " -- the engine refused this kind's rule" : "");
    free(delays);
}

/* ---- forecast -------------------------------------------------------------------------------- */

/* Hourly means of a series over [from, to): mean[h] (NAN when no value). */
static void hourly(struct incidents *g, int cls, uint32_t idx, int64_t from, int64_t to,
                   double *mean)
{
    int nh = (int)((to - from) / HOUR_MS);
    static int64_t ts[20000];
    static double v[20000], sum[2000];
    static int cnt[2000];
    for (int h = 0; h < nh; h++) {
        sum[h] = 0;
        cnt[h] = 0;
    }
    uint32_t n = incidents_series(g, cls, idx, from, to, ts, v, 20000);
    for (uint32_t i = 0; i < n; i++) {
        int h = (int)((ts[i] - from) / HOUR_MS);
        sum[h] += v[i];
        cnt[h]++;
    }
    for (int h = 0; h < nh; h++)
        mean[h] = cnt[h] ? sum[h] / cnt[h] : NAN;
}

static int has_incident(const struct incident *L, uint32_t nl, int cls, uint32_t idx)
{
    for (uint32_t j = 0; j < nl; j++)
        if (L[j].cls == cls && L[j].idx == idx)
            return 1;
    return 0;
}

static void forecast_line(struct incidents *g, const struct incident *L, uint32_t nl)
{
#ifdef HAVE_FORECAST
    int64_t end = incidents_end(g), start = incidents_start(g);
    int64_t eval0 = end - 7 * DAY_MS, hist0 = eval0 - 7 * DAY_MS;
    double err_hw = 0, err_sn = 0;
    uint64_t n_hw = 0, n_sn = 0, n_series = 0, n_sd = 0, n_origins = 0;
    static double mean[14 * 24];
    static int64_t ts[20000];
    static double v[20000];
    for (int cls = IC_WATER; cls <= IC_NOISE; cls++) {
        for (uint32_t idx = 0, used = 0; idx < incidents_count(g, cls) && used < 10; idx++) {
            if (has_incident(L, nl, cls, idx))
                continue;
            used++;
            n_series++;
            hourly(g, cls, idx, hist0, end, mean); /* [0, 168) the week before, then 7 days */
            struct hw *m = hw_new(HOUR_MS, 24, 168);
            if (!m)
                continue;
            uint32_t n = incidents_series(g, cls, idx, start, end, ts, v, 20000), i = 0;
            for (int d = 0; d < 7; d++) {
                int64_t origin = eval0 + d * DAY_MS;
                for (; i < n && ts[i] < origin; i++)
                    hw_add(m, ts[i], v[i]);
                hw_advance(m, origin);
                int64_t t_out[24];
                double point[24];
                uint32_t k = hw_forecast(m, 24, 0.8, t_out, point, NULL, NULL);
                const char *how = hw_method(m);
                n_origins++;
                n_sd += how && !strcmp(how, "similar-days");
                for (uint32_t s = 0; s < 24; s++) {
                    int64_t t = origin + (int64_t)s * HOUR_MS;
                    int h = (int)((t - hist0) / HOUR_MS);
                    double a = mean[h], naive = mean[h - 168];
                    if (isnan(a) || a == 0.0)
                        continue;
                    if (!isnan(naive)) {
                        err_sn += fabs(a - naive) / fabs(a);
                        n_sn++;
                    }
                    for (uint32_t q = 0; q < k; q++) /* the forecast step of this hour */
                        if (t_out[q] == t) {
                            err_hw += fabs(a - point[q]) / fabs(a);
                            n_hw++;
                        }
                }
            }
            hw_free(m);
        }
    }
    double mape = n_hw ? 100.0 * err_hw / n_hw : NAN, sn = n_sn ? 100.0 * err_sn / n_sn : NAN;
    printf("forecast mape=%.1f seasonal_naive_mape=%.1f improvement=%.1f%%\n", mape, sn,
           100.0 * (sn - mape) / sn);
    fprintf(stderr, "  forecast: %llu series (water, noise), 7 origins x 24 h, %llu of %llu hours "
            "forecast; similar days served %llu of %llu origins, Holt-Winters the others\n",
            (unsigned long long)n_series, (unsigned long long)n_hw, (unsigned long long)n_sn,
            (unsigned long long)n_sd, (unsigned long long)n_origins);
#else
    (void)g;
    (void)L;
    (void)nl;
    printf("forecast mape=nan seasonal_naive_mape=nan improvement=nan%%\n");
    fprintf(stderr, "  forecast: alerts/forecast.h not available in this tree\n");
#endif
}

int main(int argc, char **argv)
{
    int sensors = argc > 1 ? atoi(argv[1]) : 1000;
    int days = argc > 2 ? atoi(argv[2]) : 30;
    int win = argc > 3 ? atoi(argv[3]) : 5;
    const char *base = argc > 4 ? argv[4] : "/tmp";
    if (win < 1)
        win = 1;
    /* nightmin rules and the forecast's daily season read local time: the city is in Paris */
    setenv("TZ", "Europe/Paris", 1);
    tzset();
    int64_t t_wall = clock_mono_ns();
    struct incidents_opts io = {.sensors = sensors, .days = days};
    struct incidents *g = incidents_new(&io);
    struct env e;
    memset(&e, 0, sizeof(e));
    if (!g || env_open(&e, base)) {
        fprintf(stderr, "cannot set up (sensors >= 40, days >= 10, a writable %s)\n", base);
        return 1;
    }
    int refused[K_N] = {0};
    for (size_t r = 0; r < VG_ARRAY_LEN(rules); r++) {
        char json[8192], id[64], err[256];
        const char *gf = incidents_geofence_json(g);
        char *big = NULL;
        const char *body = rules[r].json;
        const char *hole = strstr(rules[r].json, "%s");
        if (hole) { /* the geofence goes where %s is */
            size_t cap = strlen(rules[r].json) + strlen(gf) + 1;
            big = malloc(cap);
            snprintf(big, cap, "%.*s%s%s", (int)(hole - rules[r].json), rules[r].json, gf,
                     hole + 2);
            body = big;
        } else {
            snprintf(json, sizeof(json), "%s", rules[r].json);
            body = json;
        }
        if (alerts_rule_put(e.al, TENANT, body, strlen(body), 0, id, sizeof(id), err,
                            sizeof(err))) {
            fprintf(stderr, "rule '%s' refused (kind not supported yet?): %s\n", rules[r].id, err);
            refused[rules[r].kind] = 1;
        }
        free(big);
    }
    const struct incident *L;
    uint32_t nl = incidents_labels(g, &L);
    int64_t t0 = clock_mono_ns();
    for (int64_t t = incidents_start(g); t < incidents_end(g); t += win * 60000LL) {
        int rc = incidents_generate(g, t, t + win * 60000LL, emit_ingest, &e);
        if (rc) {
            fprintf(stderr, "ingest failed: %s\n", vg_strerror(rc));
            return 1;
        }
        alerts_tick(e.al, t + win * 60000LL);
    }
    double secs = (double)(clock_mono_ns() - t0) / 1e9;
    struct balert *a;
    uint32_t na = read_alerts(&e, &a);
    printf("alerts_bench: %d sensors, %d days, %u labelled incidents, tick every %d simulated "
           "min, grace %lld h, delay = median\n", sensors, days, nl, win,
           (long long)(GRACE_MS / HOUR_MS));
    for (int k = 0; k < K_N; k++) {
        if (k == K_ANOMALY && refused[k])
            continue; /* printed only when the engine accepts anomaly rules */
        score(k, a, na, L, nl, refused[k]);
    }
    forecast_line(g, L, nl);
    struct alerts_stats st;
    alerts_get_stats(e.al, &st);
    printf("ingest: %llu lines, %llu values in %.1f s (%.0f values/s with the rules); "
           "%llu alerts raised; wall %.1f s\n",
           (unsigned long long)e.lines, (unsigned long long)e.points, secs,
           (double)e.points / secs, (unsigned long long)st.raised,
           (double)(clock_mono_ns() - t_wall) / 1e9);
    free(a);
    env_close(&e);
    incidents_free(g);
    return 0;
}
