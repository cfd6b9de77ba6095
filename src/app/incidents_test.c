/*
** app/incidents_test.c: the labelled incident generator (app/incidents.c). Determinism (same
** seed -> same bytes; any split of a window -> the same lines), the labels against the data
** (a leak raises the night minima, a silence has no point, a stuck meter repeats one value, a
** peak stays above 50, a dwell stands within 30 m inside a school), the absence of the same
** patterns outside the labels, and the counts per kind. Every line is read back with the real
** line-protocol parser.
*/
#include "app/incidents.h"

#include "core/buf.h"
#include "core/test.h"
#include "ingest/lineproto.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>

#define MIN_MS 60000LL
#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL

static int sink_emit(void *arg, const char *body, size_t len, uint32_t nlines)
{
    uint32_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += body[i] == '\n';
    if (n != nlines || !len || body[len - 1] != '\n')
        return VG_EINVAL;
    return buf_append(arg, body, len);
}

static int gen(struct incidents *g, int64_t a, int64_t b, struct buf *out)
{
    return incidents_generate(g, a, b, sink_emit, out);
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* The lines of text, sorted (modifies text: newlines become NULs). */
static char **sorted_lines(char *text, size_t len, size_t *n)
{
    size_t cnt = 0;
    for (size_t i = 0; i < len; i++)
        cnt += text[i] == '\n';
    char **v = malloc((cnt + 1) * sizeof(*v));
    size_t k = 0;
    for (char *p = text; p < text + len;) {
        char *e = memchr(p, '\n', (size_t)(text + len - p));
        *e = '\0';
        v[k++] = p;
        p = e + 1;
    }
    qsort(v, k, sizeof(*v), cmp_str);
    *n = k;
    return v;
}

static void test_deterministic(void)
{
    struct incidents_opts o = {.seed = 7, .days = 12, .sensors = 200};
    struct incidents *g1 = incidents_new(&o), *g2 = incidents_new(&o);
    REQUIRE(g1 && g2);
    int64_t a = incidents_start(g1) + 3 * DAY_MS + 5 * HOUR_MS, b = a + 30 * HOUR_MS;
    struct buf x, y, z;
    buf_init(&x, 0);
    buf_init(&y, 0);
    buf_init(&z, 0);
    REQUIRE(gen(g1, a, b, &x) == 0 && gen(g2, a, b, &y) == 0);
    CHECK(x.len > 100000 && x.len == y.len && !memcmp(x.p, y.p, x.len));
    /* split anywhere, in another order of calls: the same set of lines */
    int64_t cut[] = {a, a + 7 * MIN_MS + 13001, a + 2 * HOUR_MS, a + 9 * HOUR_MS + 29999,
                     a + 20 * HOUR_MS + 1, b};
    for (int i = (int)VG_ARRAY_LEN(cut) - 2; i >= 0; i--)
        REQUIRE(gen(g2, cut[i], cut[i + 1], &z) == 0);
    CHECK_EQ_INT(z.len, x.len);
    size_t nx, nz;
    char **lx = sorted_lines(x.p, x.len, &nx), **lz = sorted_lines(z.p, z.len, &nz);
    CHECK_EQ_INT(nx, nz);
    size_t diff = 0;
    for (size_t i = 0; i < nx && i < nz; i++)
        diff += strcmp(lx[i], lz[i]) != 0;
    CHECK_EQ_INT(diff, 0);
    free(lx);
    free(lz);
    /* another seed: other data */
    struct incidents_opts o3 = o;
    o3.seed = 8;
    struct incidents *g3 = incidents_new(&o3);
    buf_reset(&y);
    REQUIRE(gen(g3, a, b, &y) == 0);
    CHECK(y.len != x.len || memcmp(x.p, y.p, x.len));
    buf_release(&x);
    buf_release(&y);
    buf_release(&z);
    incidents_free(g1);
    incidents_free(g2);
    incidents_free(g3);
    CHECK(incidents_new(&(struct incidents_opts){.days = 3}) == NULL);
}

static void test_counts(void)
{
    struct incidents *g = incidents_new(NULL);
    REQUIRE(g);
    const struct incident *L;
    uint32_t n = incidents_labels(g, &L), cnt[INC_NKINDS] = {0};
    for (uint32_t i = 0; i < n; i++) {
        cnt[L[i].kind]++;
        CHECK(L[i].start_ms >= incidents_start(g) && L[i].end_ms <= incidents_end(g));
        CHECK(L[i].start_ms < L[i].end_ms);
        CHECK(!strcmp(L[i].sensor, incidents_sensor_id(g, L[i].cls, L[i].idx)));
        if (i)
            CHECK(L[i - 1].start_ms <= L[i].start_ms);
        for (uint32_t j = 0; j < i; j++) /* one incident per sensor at most */
            CHECK(strcmp(L[i].sensor, L[j].sensor));
    }
    CHECK_EQ_INT(incidents_count(g, IC_WATER), 300);
    CHECK_EQ_INT(incidents_count(g, IC_NOISE), 300);
    CHECK_EQ_INT(incidents_count(g, IC_AIR), 200);
    CHECK_EQ_INT(incidents_count(g, IC_VEHICLE), 200);
    CHECK_EQ_INT(cnt[INC_LEAK], 30);
    CHECK_EQ_INT(cnt[INC_STUCK], 25);
    CHECK_EQ_INT(cnt[INC_SILENCE], 30);
    CHECK_EQ_INT(cnt[INC_DWELL], 30);
    CHECK_EQ_INT(cnt[INC_PEAK], 20);
    CHECK(!strcmp(incidents_kind_name(INC_DWELL), "dwell"));
    CHECK(!strcmp(incidents_sensor_id(g, IC_NOISE, 0), "urn:ngsi-ld:NoiseLevelObserved:nm-0001"));
    /* the geofence is GeoJSON with one rectangle per school, and the centres are inside */
    json_error_t je;
    json_t *j = json_loads(incidents_geofence_json(g), 0, &je);
    REQUIRE(j);
    CHECK(!strcmp(json_string_value(json_object_get(j, "type")), "MultiPolygon"));
    json_t *c = json_object_get(j, "coordinates");
    CHECK_EQ_INT(json_array_size(c), 40);
    for (size_t s = 0; s < json_array_size(c); s++) {
        json_t *ring = json_array_get(json_array_get(c, s), 0);
        CHECK_EQ_INT(json_array_size(ring), 5);
        double lon = (json_number_value(json_array_get(json_array_get(ring, 0), 0)) +
                      json_number_value(json_array_get(json_array_get(ring, 2), 0))) / 2;
        double lat = (json_number_value(json_array_get(json_array_get(ring, 0), 1)) +
                      json_number_value(json_array_get(json_array_get(ring, 2), 1))) / 2;
        CHECK_EQ_INT(incidents_school_at(g, lat, lon), (int)s);
        CHECK_EQ_INT(incidents_school_at(g, lat + 0.001, lon), -1); /* 111 m north */
    }
    json_decref(j);
    incidents_free(g);
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Night minima (02:00-04:00 Paris winter time = 01:00-03:00 UTC) of one water meter, per night
** in [from, to). Returns the number of nights. */
static int night_minima(struct incidents *g, uint32_t idx, int64_t from, int64_t to, double *out)
{
    static int64_t ts[2000];
    static double v[2000];
    int k = 0;
    for (int64_t d = from; d + DAY_MS <= to + DAY_MS && d < to; d += DAY_MS) {
        uint32_t n = incidents_series(g, IC_WATER, idx, d + HOUR_MS, d + 3 * HOUR_MS, ts, v, 2000);
        if (!n)
            continue;
        double m = v[0];
        for (uint32_t i = 1; i < n; i++)
            m = fmin(m, v[i]);
        out[k++] = m;
    }
    return k;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n ? v[n / 2] : NAN;
}

static void test_leaks(void)
{
    struct incidents *g = incidents_new(NULL);
    REQUIRE(g);
    const struct incident *L;
    uint32_t n = incidents_labels(g, &L), leaks = 0;
    int64_t s0 = incidents_start(g), e0 = incidents_end(g);
    double before[40], after[40], lo = 1e9, hi = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (L[i].kind != INC_LEAK)
            continue;
        leaks++;
        int64_t d0 = s0 + (L[i].start_ms - s0) / DAY_MS * DAY_MS; /* the day it starts */
        CHECK(L[i].start_ms >= s0 + 7 * DAY_MS && L[i].end_ms == e0);
        int nb = night_minima(g, L[i].idx, s0, d0, before);
        int na = night_minima(g, L[i].idx, d0 + DAY_MS, e0, after);
        REQUIRE(nb >= 7 && na >= 2);
        double r = median(after, na) / median(before, nb);
        lo = fmin(lo, r);
        hi = fmax(hi, r);
        CHECK(r > 1.2); /* at least +30 % of the night flow, within the noise */
    }
    CHECK_EQ_INT(leaks, 30);
    CHECK(hi > 2.5); /* the big ones triple the night flow */
    printf("  leaks: night minimum after / before: %.2f .. %.2f\n", lo, hi);
    /* meters without a leak keep their night level */
    for (uint32_t w = 0; w < incidents_count(g, IC_WATER); w += 7) {
        const char *id = incidents_sensor_id(g, IC_WATER, w);
        int has = 0;
        for (uint32_t i = 0; i < n; i++)
            has |= !strcmp(L[i].sensor, id);
        if (has)
            continue;
        int nb = night_minima(g, w, s0, s0 + 15 * DAY_MS, before);
        int na = night_minima(g, w, s0 + 15 * DAY_MS, e0, after);
        double r = median(after, na) / median(before, nb);
        CHECK(r > 0.85 && r < 1.15);
    }
    incidents_free(g);
}

static int64_t ts_buf[50000];
static double v_buf[50000];

static void test_scalar_labels(void)
{
    struct incidents *g = incidents_new(NULL);
    REQUIRE(g);
    const struct incident *L;
    uint32_t n = incidents_labels(g, &L);
    int64_t s0 = incidents_start(g), e0 = incidents_end(g);
    uint32_t seen[INC_NKINDS] = {0};
    for (uint32_t i = 0; i < n; i++) {
        const struct incident *in = &L[i];
        uint32_t m;
        switch (in->kind) {
        case INC_SILENCE:
            CHECK_EQ_INT(incidents_series(g, in->cls, in->idx, in->start_ms, in->end_ms, ts_buf,
                                          v_buf, 50000), 0);
            CHECK(incidents_series(g, in->cls, in->idx, in->start_ms - 2 * HOUR_MS, in->start_ms,
                                   ts_buf, v_buf, 50000) > 0);
            CHECK(in->end_ms + 2 * HOUR_MS > e0 ||
                  incidents_series(g, in->cls, in->idx, in->end_ms, in->end_ms + 2 * HOUR_MS,
                                   ts_buf, v_buf, 50000) > 0);
            CHECK(in->end_ms - in->start_ms >= 3 * HOUR_MS);
            seen[in->kind]++;
            break;
        case INC_STUCK:
            m = incidents_series(g, in->cls, in->idx, in->start_ms, in->end_ms, ts_buf, v_buf,
                                 50000);
            CHECK(m >= 18); /* 3 h at 10 min */
            for (uint32_t k = 1; k < m; k++)
                CHECK(v_buf[k] == v_buf[0]);
            seen[in->kind]++;
            break;
        case INC_PEAK:
            m = incidents_series(g, in->cls, in->idx, in->start_ms, in->end_ms, ts_buf, v_buf,
                                 50000);
            CHECK(m >= 3);
            for (uint32_t k = 0; k < m; k++)
                CHECK(v_buf[k] > 50.0 && v_buf[k] < 120.0);
            seen[in->kind]++;
            break;
        }
    }
    CHECK_EQ_INT(seen[INC_SILENCE], 30);
    CHECK_EQ_INT(seen[INC_STUCK], 25);
    CHECK_EQ_INT(seen[INC_PEAK], 20);
    /* outside the labels: no 6 equal noise readings in a row, no 2 PM2.5 readings above 50 in a
    ** row (single saturated glitches of 999.9 exist), no gap of 3 h */
    uint32_t glitches = 0, unlabelled_runs = 0, gaps = 0;
    for (int cls = IC_WATER; cls <= IC_AIR; cls++) {
        for (uint32_t s = 0; s < incidents_count(g, cls); s++) {
            const struct incident *in = NULL;
            for (uint32_t i = 0; i < n; i++)
                if (L[i].cls == cls && L[i].idx == s)
                    in = &L[i];
            uint32_t m = incidents_series(g, cls, s, s0, e0, ts_buf, v_buf, 50000);
            int run = 1, high = 0;
            for (uint32_t k = 0; k < m; k++) {
                int inside = in && ts_buf[k] >= in->start_ms && ts_buf[k] < in->end_ms;
                if (k && ts_buf[k] - ts_buf[k - 1] >= 3 * HOUR_MS &&
                    !(in && in->kind == INC_SILENCE))
                    gaps++;
                if (cls == IC_NOISE) {
                    run = k && v_buf[k] == v_buf[k - 1] ? run + 1 : 1;
                    if (run >= 6 && !inside)
                        unlabelled_runs++;
                }
                if (cls == IC_AIR) {
                    glitches += v_buf[k] == 999.9;
                    high = v_buf[k] > 50.0 && v_buf[k] != 999.9 ? high + 1 : 0;
                    if (high >= 2 && !inside)
                        unlabelled_runs++;
                }
            }
        }
    }
    CHECK_EQ_INT(unlabelled_runs, 0);
    CHECK_EQ_INT(gaps, 0);
    CHECK(glitches > 5);
    incidents_free(g);
}

/* Vehicle fixes of a window, per vehicle, from the generated lines. */
struct fixes {
    uint32_t nveh;
    struct fix {
        int64_t ts;
        double lat, lon;
    } *f[200];
    uint32_t n[200], cap[200];
};

static void collect(struct fixes *fx, const char *text, size_t len)
{
    struct lp_parser *ps = malloc(sizeof(*ps));
    struct lp_line *ln = malloc(sizeof(*ln));
    char err[200];
    lp_init(ps, text, len);
    int r;
    while ((r = lp_next(ps, ln, err, sizeof(err))) != 0) {
        CHECK(r > 0);
        if (r < 0 || ln->mlen != 7 || memcmp(ln->meas, "Vehicle", 7))
            continue;
        unsigned v = 0;
        for (uint32_t t = 0; t < ln->ntags; t++)
            if (ln->tags[t].klen == 2 && !memcmp(ln->tags[t].key, "id", 2))
                for (uint32_t c = ln->tags[t].vlen - 4; c < ln->tags[t].vlen; c++)
                    v = v * 10 + (unsigned)(ln->tags[t].val[c] - '0'); /* not sscanf: strlen */
        double lat = NAN, lon = NAN;
        for (uint32_t f = 0; f < ln->nfields; f++) {
            if (ln->fields[f].klen == 3 && !memcmp(ln->fields[f].key, "lat", 3))
                lat = ln->fields[f].v.f;
            if (ln->fields[f].klen == 3 && !memcmp(ln->fields[f].key, "lon", 3))
                lon = ln->fields[f].v.f;
        }
        REQUIRE(v >= 1 && v <= 200 && !isnan(lat) && !isnan(lon));
        v--;
        if (fx->n[v] == fx->cap[v]) {
            fx->cap[v] = fx->cap[v] ? 2 * fx->cap[v] : 1024;
            fx->f[v] = realloc(fx->f[v], fx->cap[v] * sizeof(struct fix));
        }
        CHECK(fx->n[v] == 0 || fx->f[v][fx->n[v] - 1].ts < ln->ts);
        fx->f[v][fx->n[v]++] = (struct fix){ln->ts, lat, lon};
    }
    free(ln);
    free(ps);
}

static double dist_m(double lat1, double lon1, double lat2, double lon2)
{
    return hypot((lat2 - lat1) * 111320.0, (lon2 - lon1) * 73300.0);
}

static void test_dwell(void)
{
    struct incidents *g = incidents_new(NULL);
    REQUIRE(g);
    const struct incident *L;
    uint32_t n = incidents_labels(g, &L), dwells = 0;
    /* every labelled dwell: 40..90 min within 30 m of its first fix, inside a school */
    for (uint32_t i = 0; i < n; i++) {
        if (L[i].kind != INC_DWELL)
            continue;
        dwells++;
        int64_t len = L[i].end_ms - L[i].start_ms;
        CHECK(len >= 40 * MIN_MS && len <= 90 * MIN_MS);
        struct buf b;
        buf_init(&b, 0);
        REQUIRE(gen(g, L[i].start_ms, L[i].end_ms, &b) == 0);
        struct fixes *fx = calloc(1, sizeof(*fx));
        collect(fx, b.p, b.len);
        uint32_t v = L[i].idx, k;
        CHECK(fx->n[v] >= 19); /* a fix every 2 min */
        for (k = 0; k < fx->n[v]; k++) {
            CHECK(dist_m(fx->f[v][0].lat, fx->f[v][0].lon, fx->f[v][k].lat, fx->f[v][k].lon) < 30);
            CHECK(incidents_school_at(g, fx->f[v][k].lat, fx->f[v][k].lon) >= 0);
        }
        for (k = 0; k < 200; k++)
            free(fx->f[k]);
        free(fx);
        buf_release(&b);
    }
    CHECK_EQ_INT(dwells, 30);
    /* one working week of every vehicle: stationary runs (fixes within 30 m of the run's first)
    ** inside a school last under 10 min unless labelled; long stops elsewhere exist */
    int64_t s0 = incidents_start(g);
    struct buf b;
    buf_init(&b, 0);
    REQUIRE(gen(g, s0 + 7 * DAY_MS, s0 + 12 * DAY_MS, &b) == 0);
    struct fixes *fx = calloc(1, sizeof(*fx));
    collect(fx, b.p, b.len);
    uint32_t short_school = 0, long_school = 0, long_else = 0, labelled = 0;
    for (uint32_t v = 0; v < 200; v++) {
        for (uint32_t k = 0; k < fx->n[v];) {
            uint32_t e = k + 1;
            while (e < fx->n[v] &&
                   dist_m(fx->f[v][k].lat, fx->f[v][k].lon, fx->f[v][e].lat, fx->f[v][e].lon) < 30)
                e++;
            int64_t dur = fx->f[v][e - 1].ts - fx->f[v][k].ts;
            int school = incidents_school_at(g, fx->f[v][k].lat, fx->f[v][k].lon) >= 0;
            if (school && dur >= 2 * MIN_MS && dur < 10 * MIN_MS)
                short_school++;
            if (!school && dur >= 30 * MIN_MS)
                long_else++;
            if (school && dur >= 30 * MIN_MS) {
                int lab = 0;
                for (uint32_t i = 0; i < n; i++)
                    lab |= L[i].kind == INC_DWELL && L[i].idx == v &&
                           fx->f[v][k].ts >= L[i].start_ms && fx->f[v][k].ts < L[i].end_ms;
                if (lab)
                    labelled++;
                else
                    long_school++;
            }
            k = e;
        }
        free(fx->f[v]);
    }
    printf("  vehicles, 5 days: %u short school stops, %u long stops elsewhere, %u labelled "
           "dwells\n", short_school, long_else, labelled);
    CHECK(short_school > 50);
    CHECK(long_else > 900); /* lunch breaks (1,000); nights: the depot's last fix to the next */
    CHECK_EQ_INT(long_school, 0);
    free(fx);
    buf_release(&b);
    incidents_free(g);
}

int main(void)
{
    TEST_BEGIN("incidents_test");
    TEST_RUN(test_deterministic);
    TEST_RUN(test_counts);
    TEST_RUN(test_leaks);
    TEST_RUN(test_scalar_labels);
    TEST_RUN(test_dwell);
    return TEST_END();
}
