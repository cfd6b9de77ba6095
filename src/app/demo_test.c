/*
** app/demo_test.c: the demo generator (demo_generate) and the real-sample loaders.
** Needs no server: the generator writes into a buffer through its emit callback, and every
** line is checked with the real line-protocol parser (ingest/lineproto.c). The sample cases
** read ../shared/data (or $VIGIE_SAMPLES_DIR) and are skipped, with a note, when it is absent.
*/
#include "app/demo.h"

#include "alerts/alerts.h"
#include "app/demo_samples.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/test.h"
#include "ingest/lineproto.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <sys/stat.h>

#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL

/* Monday 2024-03-04 00:00 Europe/Paris (UTC+1). */
static const int64_t MONDAY = 1709506800000LL;

struct sink {
    struct buf b;
    uint64_t lines, batches;
    uint32_t max_batch;
};

static int sink_emit(void *arg, const char *body, size_t len, uint32_t nlines)
{
    struct sink *s = arg;
    uint32_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += body[i] == '\n';
    if (n != nlines || len == 0 || body[len - 1] != '\n')
        return VG_EINVAL; /* the batch must hold exactly nlines complete lines */
    s->lines += nlines;
    s->batches++;
    if (nlines > s->max_batch)
        s->max_batch = nlines;
    return buf_append(&s->b, body, len);
}

static void sink_init(struct sink *s)
{
    memset(s, 0, sizeof(*s));
    buf_init(&s->b, 0);
}

static int gen(uint64_t seed, int64_t from, int64_t to, struct sink *s)
{
    struct demo_opts o;
    memset(&o, 0, sizeof(o));
    o.seed = seed;
    sink_init(s);
    return demo_generate(&o, from, to, sink_emit, s);
}

/* ---- scanning the generated text with the real parser ---------------------------------------- */

typedef void line_fn(void *arg, const struct lp_line *ln);

/* Parse every line with lp_next and hand the good ones to fn. Returns the bad-line count;
** the first error goes to stdout. */
static uint64_t scan(const char *text, size_t len, line_fn *fn, void *arg)
{
    struct lp_parser *ps = malloc(sizeof(*ps));
    struct lp_line *ln = malloc(sizeof(*ln));
    char err[200];
    uint64_t bad = 0;
    lp_init(ps, text ? text : "", text ? len : 0);
    for (;;) {
        int r = lp_next(ps, ln, err, sizeof(err));
        if (r == 0)
            break;
        if (r < 0) {
            if (!bad++)
                printf("  first bad line: %s: %.*s\n", err,
                       (int)(ln->raw_len > 120 ? 120 : ln->raw_len), ln->raw);
            continue;
        }
        fn(arg, ln);
    }
    free(ln);
    free(ps);
    return bad;
}

static int meas_is(const struct lp_line *ln, const char *m)
{
    return ln->mlen == strlen(m) && !memcmp(ln->meas, m, ln->mlen);
}

static void line_id(const struct lp_line *ln, char *out, size_t cap)
{
    out[0] = '\0';
    for (uint32_t t = 0; t < ln->ntags; t++)
        if (ln->tags[t].klen == 2 && !memcmp(ln->tags[t].key, "id", 2))
            snprintf(out, cap, "%.*s", (int)ln->tags[t].vlen, ln->tags[t].val);
}

static const struct lp_field *field(const struct lp_line *ln, const char *key)
{
    size_t n = strlen(key);
    for (uint32_t f = 0; f < ln->nfields; f++)
        if (ln->fields[f].klen == n && !memcmp(ln->fields[f].key, key, n))
            return &ln->fields[f];
    return NULL;
}

/* Numeric value of field key (ints widened), or NAN. */
static double fval(const struct lp_line *ln, const char *key)
{
    const struct lp_field *f = field(ln, key);
    if (!f)
        return NAN;
    return f->vt == VT_F64 ? f->v.f : f->vt == VT_I64 ? (double)f->v.i : NAN;
}

static double hours_since(const struct lp_line *ln, int64_t t0)
{
    return (double)(ln->ts - t0) / HOUR_MS;
}

/* Distinct ids of one measurement (ids containing sub, if set). */
struct ids {
    const char *meas, *sub;
    char (*seen)[80];
    size_t n;
    uint64_t lines;
};

static void ids_fn(void *arg, const struct lp_line *ln)
{
    struct ids *s = arg;
    char id[80];
    if (!meas_is(ln, s->meas))
        return;
    line_id(ln, id, sizeof(id));
    if (s->sub && !strstr(id, s->sub))
        return;
    s->lines++;
    for (size_t j = s->n; j-- > 0;)
        if (!strcmp(s->seen[j], id))
            return;
    if (s->n < 2000)
        snprintf(s->seen[s->n++], sizeof(s->seen[0]), "%s", id);
}

static size_t distinct_ids(const struct sink *k, const char *meas, const char *sub,
                           uint64_t *lines)
{
    struct ids s = {meas, sub, calloc(2000, 80), 0, 0};
    scan(k->b.p, k->b.len, ids_fn, &s);
    free(s.seen);
    if (lines)
        *lines = s.lines;
    return s.n;
}

/* One generated Monday, shared by several cases (generation is the slow part). */
static struct sink day;
static int day_rc = -1;

static void need_day(void)
{
    if (day_rc == -1)
        day_rc = gen(42, MONDAY, MONDAY + DAY_MS, &day);
}

/* ---- cases ----------------------------------------------------------------------------------- */

static void test_deterministic(void)
{
    struct sink a, b, c, d1, d2;
    int64_t t0 = MONDAY + 8 * HOUR_MS;
    REQUIRE(gen(42, t0, t0 + HOUR_MS, &a) == 0);
    REQUIRE(gen(42, t0, t0 + HOUR_MS, &b) == 0);
    REQUIRE(gen(7, t0, t0 + HOUR_MS, &c) == 0);
    CHECK(a.b.len > 100000);
    CHECK(a.b.len == b.b.len && !memcmp(a.b.p, b.b.p, a.b.len));
    CHECK(a.b.len != c.b.len || memcmp(a.b.p, c.b.p, a.b.len));
    CHECK(a.max_batch <= DEMO_BATCH_LINES && a.batches >= 2);
    /* The same hour generated in two pieces (as the 10 s real-time ticks do) gives the same
    ** set of lines: compare an order-independent checksum of the lines. */
    REQUIRE(gen(42, t0, t0 + 1234567, &d1) == 0);
    REQUIRE(gen(42, t0 + 1234567, t0 + HOUR_MS, &d2) == 0);
    CHECK(d1.lines + d2.lines == a.lines);
    CHECK(d1.b.len + d2.b.len == a.b.len);
    uint64_t sum_a = 0, sum_d = 0;
    struct buf *bs[3] = {&a.b, &d1.b, &d2.b};
    for (int k = 0; k < 3; k++) {
        const char *p = bs[k]->p, *e = p + bs[k]->len;
        while (p < e) {
            const char *nl = memchr(p, '\n', (size_t)(e - p));
            uint64_t h = 1469598103934665603ULL;
            for (const char *q = p; q < nl; q++)
                h = (h ^ (uint8_t)*q) * 1099511628211ULL;
            h ^= h >> 29;
            if (k == 0)
                sum_a += h * 0x9e3779b97f4a7c15ULL;
            else
                sum_d += h * 0x9e3779b97f4a7c15ULL;
            p = nl + 1;
        }
    }
    CHECK(sum_a == sum_d);
    buf_release(&a.b);
    buf_release(&b.b);
    buf_release(&c.b);
    buf_release(&d1.b);
    buf_release(&d2.b);
}

struct valid {
    uint64_t n, nots, outside, badid, intcounts, geo_half, values;
};

static void valid_fn(void *arg, const struct lp_line *ln)
{
    struct valid *v = arg;
    char id[80], pre[64];
    v->n++;
    if (!ln->has_ts)
        v->nots++;
    else if (ln->ts < MONDAY || ln->ts >= MONDAY + DAY_MS)
        v->outside++;
    if (meas_is(ln, "TrafficFlowObserved") && field(ln, "cars") && field(ln, "cars")->vt != VT_I64)
        v->intcounts++;
    if (!field(ln, "lat") != !field(ln, "lon"))
        v->geo_half++;
    line_id(ln, id, sizeof(id));
    snprintf(pre, sizeof(pre), "urn:ngsi-ld:%.*s:", (int)ln->mlen, ln->meas);
    v->badid += strncmp(id, pre, strlen(pre)) != 0;
    v->values += ln->nfields - (field(ln, "lon") ? 1 : 0);
}

static void test_lines_valid(void)
{
    struct valid v;
    memset(&v, 0, sizeof(v));
    need_day();
    REQUIRE(day_rc == 0);
    CHECK_EQ_INT(scan(day.b.p, day.b.len, valid_fn, &v), 0);
    CHECK_EQ_INT(v.n, day.lines);
    CHECK_EQ_INT(v.nots, 0);
    CHECK_EQ_INT(v.outside, 0);
    CHECK_EQ_INT(v.intcounts, 0);
    CHECK_EQ_INT(v.geo_half, 0);
    CHECK_EQ_INT(v.badid, 0); /* every id is an NGSI-LD URN of its measurement */
    /* one day holds about 1/7 of the 3-6 M values of the backfill */
    printf("  one weekday: %llu lines, %llu values\n", (unsigned long long)v.n,
           (unsigned long long)v.values);
    CHECK(v.values > 3000000 / 7 && v.values < 6000000 / 7);
}

static void test_entity_counts(void)
{
    struct sink h;
    uint64_t lines;
    int64_t t0 = MONDAY + 8 * HOUR_MS; /* 09:00-10:00 local: trucks on shift, commuters */
    REQUIRE(gen(42, t0, t0 + HOUR_MS, &h) == 0);
    CHECK_EQ_INT(distinct_ids(&h, "NoiseLevelObserved", NULL, NULL), 20);
    CHECK(distinct_ids(&h, "AirQualityObserved", NULL, NULL) >= 9);
    CHECK(distinct_ids(&h, "TrafficFlowObserved", NULL, NULL) >= 7);
    CHECK_EQ_INT(distinct_ids(&h, "Building", NULL, NULL), 4);
    CHECK(distinct_ids(&h, "HeatingPlant", NULL, NULL) >= 1195);
    CHECK(distinct_ids(&h, "WasteContainer", NULL, NULL) >= 296);
    CHECK(distinct_ids(&h, "Vehicle", "truck-", &lines) >= 19);
    CHECK(lines >= 19 * 360 - 200 && lines <= 20 * 360); /* a GPS fix every 10 s */
    CHECK(distinct_ids(&h, "Vehicle", "car-", NULL) >= 5);
    CHECK_EQ_INT(distinct_ids(&h, "Elevator", NULL, NULL), 5);
    CHECK_EQ_INT(distinct_ids(&h, "SwimmingPool", NULL, NULL), 4);
    CHECK_EQ_INT(distinct_ids(&h, "WeatherObserved", NULL, NULL), 1);
    CHECK_EQ_INT(distinct_ids(&h, "NoiseLevelObserved", "nation-01", &lines), 1);
    CHECK_EQ_INT(lines, 60); /* one LAeq a minute */
    buf_release(&h.b);

    need_day();
    REQUIRE(day_rc == 0);
    CHECK_EQ_INT(distinct_ids(&day, "NoiseLevelObserved", NULL, NULL), 20);
    CHECK_EQ_INT(distinct_ids(&day, "AirQualityObserved", NULL, NULL), 10);
    CHECK_EQ_INT(distinct_ids(&day, "TrafficFlowObserved", NULL, NULL), 8);
    CHECK_EQ_INT(distinct_ids(&day, "HeatingPlant", NULL, &lines), 1200);
    CHECK(lines > 1200 * 96 * 9 / 10 && lines <= 1200 * 96); /* every 15 min, minus gaps */
    CHECK(distinct_ids(&day, "WasteContainer", NULL, NULL) >= 298);
    CHECK_EQ_INT(distinct_ids(&day, "Vehicle", "truck-", NULL), 20);
    CHECK_EQ_INT(distinct_ids(&day, "Vehicle", "car-", NULL), 30);
}

struct ranges {
    uint64_t n, odd, glitch;
    char first_odd[160];
};

static void ranges_fn(void *arg, const struct lp_line *ln)
{
    struct ranges *r = arg;
    double v;
    int odd = 0;
    r->n++;
    if (meas_is(ln, "NoiseLevelObserved")) {
        v = fval(ln, "LAeq");
        if (v == 0.0)
            r->glitch++;
        else
            odd = !(v >= 40 && v <= 100) || !(fval(ln, "LAmax") >= v);
    } else if (meas_is(ln, "AirQualityObserved")) {
        v = fval(ln, "pm25");
        if (v == 999.9)
            r->glitch++;
        else
            odd = !(v > 0 && v < 150) || !(fval(ln, "no2") > 0 && fval(ln, "no2") < 250) ||
                  !(fval(ln, "pm10") >= v);
    } else if (meas_is(ln, "HeatingPlant")) {
        v = fval(ln, "supplyTemperature");
        if (v == -127.0)
            r->glitch++;
        else
            odd = !(v >= 10 && v <= 90) || !(fval(ln, "humidity") >= 20);
    } else if (meas_is(ln, "WasteContainer")) {
        v = fval(ln, "fillingLevel");
        odd = !(v >= 0.0 && v <= 1.0);
    } else if (meas_is(ln, "WeatherObserved")) {
        odd = !(fval(ln, "temperature") > -15 && fval(ln, "temperature") < 40) ||
              !(fval(ln, "precipitation") >= 0) || !(fval(ln, "windSpeed") >= 0);
    } else if (meas_is(ln, "SwimmingPool")) {
        odd = !(fval(ln, "occupancy") >= 0 && fval(ln, "occupancy") <= 350);
    } else if (meas_is(ln, "Building")) {
        odd = !(fval(ln, "co2") >= 380 && fval(ln, "co2") < 2000) ||
              !(fval(ln, "temperature") > 10 && fval(ln, "temperature") < 30) ||
              !(fval(ln, "electricityConsumption") > 0);
    } else if (meas_is(ln, "Elevator")) {
        const struct lp_field *f = field(ln, "status");
        odd = !f || f->vt != VT_STR ||
              (!(f->v.s.len == 7 && !memcmp(f->v.s.p, "working", 7)) &&
               !(f->v.s.len == 5 && !memcmp(f->v.s.p, "fault", 5)) &&
               !(f->v.s.len == 11 && !memcmp(f->v.s.p, "maintenance", 11)));
    } else if (meas_is(ln, "TrafficFlowObserved")) {
        v = fval(ln, "cars");
        if (v == 65535)
            r->glitch++;
        else
            odd = !(v >= 0 && v < 1000) || !(fval(ln, "pedestrians") >= 0);
    } else if (meas_is(ln, "Vehicle")) {
        v = fval(ln, "speed");
        odd = !(v >= 0 && v < 60);
    }
    if (odd && !r->odd++)
        snprintf(r->first_odd, sizeof(r->first_odd), "%.*s", (int)VG_MIN(ln->raw_len, 150),
                 ln->raw);
}

static void test_ranges(void)
{
    struct ranges r;
    memset(&r, 0, sizeof(r));
    need_day();
    REQUIRE(day_rc == 0);
    scan(day.b.p, day.b.len, ranges_fn, &r);
    CHECK_EQ_INT(r.odd, 0);
    if (r.odd)
        printf("  first implausible line: %s\n", r.first_odd);
    /* outliers exist but stay rare */
    CHECK(r.glitch > 0 && r.glitch * 1000 < r.n);
}

struct avg {
    int64_t t0;
    double h0, h1, sum;
    uint64_t n, trucks;
};

static void avg_fn(void *arg, const struct lp_line *ln)
{
    struct avg *a = arg;
    double h = hours_since(ln, a->t0), v = fval(ln, "LAeq");
    if (meas_is(ln, "NoiseLevelObserved") && h >= a->h0 && h < a->h1 && v > 0) {
        a->sum += v;
        a->n++;
    }
    if (meas_is(ln, "Vehicle") && field(ln, "speed"))
        a->trucks++;
}

/* Average LAeq over local hours [h0, h1) after t0. */
static double avg_laeq(const struct sink *s, int64_t t0, double h0, double h1, uint64_t *trucks)
{
    struct avg a = {t0, h0, h1, 0, 0, 0};
    scan(s->b.p, s->b.len, avg_fn, &a);
    if (trucks)
        *trucks = a.trucks;
    return a.n ? a.sum / (double)a.n : NAN;
}

static void test_daily_cycle(void)
{
    need_day();
    REQUIRE(day_rc == 0);
    double night = avg_laeq(&day, MONDAY, 2, 5, NULL), rush = avg_laeq(&day, MONDAY, 8, 9.5, NULL),
           evening = avg_laeq(&day, MONDAY, 17.5, 19, NULL);
    printf("  LAeq night %.1f, morning rush %.1f, evening rush %.1f dB(A)\n", night, rush,
           evening);
    CHECK(night > 50 && night < 60);
    CHECK(rush > 66 && rush < 75);
    CHECK(rush - night > 10);
    CHECK(evening - night > 10);
    /* Sunday morning is quieter than a working day's rush, and the trucks stay at the depot */
    struct sink s;
    uint64_t trucks = 1;
    int64_t sunday = MONDAY - DAY_MS;
    REQUIRE(gen(42, sunday + 8 * HOUR_MS, sunday + 9 * HOUR_MS + HOUR_MS / 2, &s) == 0);
    double sun = avg_laeq(&s, sunday, 8, 9.5, &trucks);
    printf("  LAeq Sunday 08:00-09:30 %.1f dB(A)\n", sun);
    CHECK(rush - sun > 4);
    CHECK_EQ_INT(trucks, 0);
    buf_release(&s.b);
}

struct truck {
    char id[80];
    double plat, plon, pc, maxc;
    int64_t pts, moved, outside, off_shift, resets, back, prev_ts;
};

static void truck_fn(void *arg, const struct lp_line *ln)
{
    struct truck *t = arg;
    char id[80];
    if (!meas_is(ln, "Vehicle"))
        return;
    line_id(ln, id, sizeof(id));
    if (strcmp(id, t->id))
        return;
    double lat = fval(ln, "lat"), lon = fval(ln, "lon"), c = fval(ln, "cargoWeight");
    if (isnan(c))
        c = 0.0; /* an empty truck sends no cargoWeight (exclusiveMinimum 0 in the model) */
    double h = hours_since(ln, MONDAY);
    t->pts++;
    t->off_shift += h < 6.0 || h >= 14.0;
    t->outside += !(lat > 48.815 && lat < 48.903 && lon > 2.224 && lon < 2.470);
    if (t->pts > 1 && (lat != t->plat || lon != t->plon))
        t->moved++;
    t->back += t->pts > 1 && ln->ts <= t->prev_ts;
    if (c > t->maxc)
        t->maxc = c;
    if (t->pc > 0 && c == 0 && t->maxc > 1000)
        t->resets++; /* back to empty after a loaded round */
    t->pc = c;
    t->plat = lat;
    t->plon = lon;
    t->prev_ts = ln->ts;
}

static void test_trucks_move(void)
{
    need_day();
    REQUIRE(day_rc == 0);
    for (int k = 1; k <= 20; k++) {
        struct truck t;
        memset(&t, 0, sizeof(t));
        snprintf(t.id, sizeof(t.id), "urn:ngsi-ld:Vehicle:truck-%02d", k);
        scan(day.b.p, day.b.len, truck_fn, &t);
        CHECK(t.pts > 2000); /* 10 s fixes over an 8 h shift, minus a GPS gap */
        CHECK(t.moved * 10 > t.pts * 8); /* consecutive fixes differ */
        CHECK_EQ_INT(t.outside, 0);
        CHECK_EQ_INT(t.off_shift, 0);
        CHECK_EQ_INT(t.back, 0);
        CHECK(t.maxc > 3000 && t.maxc < 15000); /* kg picked up along the round */
        CHECK_EQ_INT(t.resets, 1);              /* unloaded once at the depot */
        CHECK(t.pc == 0.0);                     /* empty at the end of the shift */
    }
}

struct faults {
    double prev[20];
    int64_t run[20], prev_ts[1200];
    int64_t best_run, best_gap;
};

static void faults_fn(void *arg, const struct lp_line *ln)
{
    struct faults *f = arg;
    char id[80];
    int noise = meas_is(ln, "NoiseLevelObserved");
    if (!noise && !meas_is(ln, "HeatingPlant"))
        return;
    line_id(ln, id, sizeof(id));
    const char *dash = strrchr(id, '-');
    int i = dash ? atoi(dash + 1) - 1 : -1;
    if (i < 0 || i >= (noise ? 20 : 1200))
        return;
    if (noise) {
        double v = fval(ln, "LAeq");
        f->run[i] = v == f->prev[i] ? f->run[i] + 1 : 0;
        f->prev[i] = v;
        if (f->run[i] > f->best_run)
            f->best_run = f->run[i];
    } else {
        if (f->prev_ts[i] && ln->ts - f->prev_ts[i] > f->best_gap)
            f->best_gap = ln->ts - f->prev_ts[i];
        f->prev_ts[i] = ln->ts;
    }
}

static void test_faults(void)
{
    /* Within the day: a noise meter stuck for hours (identical readings) and heating plants
    ** silent for hours (gaps), both drawn from the seed. */
    struct faults f;
    memset(&f, 0, sizeof(f));
    need_day();
    REQUIRE(day_rc == 0);
    scan(day.b.p, day.b.len, faults_fn, &f);
    printf("  longest stuck run %lld min, longest heating-plant gap %.1f h\n",
           (long long)f.best_run, (double)f.best_gap / HOUR_MS);
    CHECK(f.best_run >= 100);
    CHECK(f.best_gap >= 3 * HOUR_MS);
}

/* ---- CSV reader and loaders ------------------------------------------------------------------ */

static char *write_tmp(const char *dir, const char *name, const char *content, size_t len)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return NULL;
    fwrite(content, 1, len, f);
    fclose(f);
    return strdup(path);
}

struct one {
    uint64_t n;
    char id[80];
    double no2, pm10, lat, lon;
};

static void one_fn(void *arg, const struct lp_line *ln)
{
    struct one *o = arg;
    o->n++;
    line_id(ln, o->id, sizeof(o->id));
    o->no2 = fval(ln, "no2");
    o->pm10 = fval(ln, "pm10");
    o->lat = fval(ln, "lat");
    o->lon = fval(ln, "lon");
}

static void test_csv_edge_cases(void)
{
    char *dir = test_tmpdir("demo");
    struct sink s;
    struct demo_lpw w;
    struct demo_sample_stats st;
    /* BOM, CRLF, a units row, "n/d", a bad date, a bad number, a quoted field with the
    ** separator, an empty line, and a last line without newline. */
    static const char pa13[] = "\xEF\xBB\xBF" "date;heure;NO2;O3\r\n"
                               ";;microg/m3;microg/m3\r\n"
                               "01/01/2018;1;9;73\r\n"
                               "\"01/01/2018\";\"2\";\"1;0\";74\r\n"
                               "01/01/2018;3;n/d;n/d\r\n"
                               "\r\n"
                               "32/01/2018;4;9;73\r\n"
                               "01/01/2018;5;abc;73\r\n"
                               "01/01/2018;24;10;70";
    char *path = write_tmp(dir, "pa13.csv", pa13, sizeof(pa13) - 1);
    REQUIRE(path);
    sink_init(&s);
    demo__lpw_init(&w, sink_emit, &s);
    CHECK(demo__samples_pa13(path, &w, &st) == 0);
    CHECK(demo__lpw_flush(&w) == 0);
    CHECK_EQ_INT(st.rows, 6);
    CHECK_EQ_INT(st.bad, 3); /* "1;0", day 32, "abc" */
    CHECK_EQ_INT(st.empty, 1);
    CHECK_EQ_INT(st.lines, 2);
    CHECK_EQ_INT(st.values, 5); /* 2 x (no2, o3) + the location */
    /* hour 1 of 01/01/2018 in UTC+1 = 2017-12-31T23:00Z; hour 24 = 2018-01-01T22:00Z */
    CHECK(strstr(s.b.p ? s.b.p : "", " 1514761200000\n") != NULL);
    CHECK(strstr(s.b.p ? s.b.p : "", " 1514844000000\n") != NULL);
    demo__lpw_release(&w);
    buf_release(&s.b);
    free(path);

    /* Occitanie layout: quoted name holding the separator and a doubled quote; an unknown
    ** pollutant; an unterminated quote at the end. */
    static const char occ[] =
        "\xEF\xBB\xBFX,Y,nom_com,insee_com,nom_station,code_station,typologie,influence,"
        "nom_poll,valeur,date_debut,statut_valid\n"
        "1.4,43.6,TOULOUSE,31555,\"Toulouse, \"\"Berthelot\"\"\",FR50030,Urbaine,Fond,NO2,21.5,"
        "2020-03-16T19:00:00.000Z,t\n"
        "1.4,43.6,TOULOUSE,31555,x,FR50030,Urbaine,Fond,PM10,12,2020-03-16T19:00:00.000Z,t\n"
        "1.4,43.6,TOULOUSE,31555,x,FR50030,Urbaine,Fond,XX9,12,2020-03-16T19:00:00.000Z,t\n"
        "1.4,43.6,TOULOUSE,31555,\"x,FR50030";
    path = write_tmp(dir, "occ.csv", occ, sizeof(occ) - 1);
    REQUIRE(path);
    sink_init(&s);
    demo__lpw_init(&w, sink_emit, &s);
    CHECK(demo__samples_occitanie(path, &w, &st) == 0);
    CHECK(demo__lpw_flush(&w) == 0);
    CHECK_EQ_INT(st.rows, 4);
    CHECK_EQ_INT(st.bad, 2);
    CHECK_EQ_INT(st.lines, 1); /* NO2 and PM10 of the same hour pivot into one line */
    CHECK_EQ_INT(st.entities, 1);
    struct one o;
    memset(&o, 0, sizeof(o));
    CHECK_EQ_INT(scan(s.b.p, s.b.len, one_fn, &o), 0);
    REQUIRE(o.n == 1);
    CHECK(!strcmp(o.id, "urn:ngsi-ld:AirQualityObserved:FR50030"));
    CHECK(o.no2 == 21.5 && o.pm10 == 12.0);
    CHECK(o.lat == 43.6 && o.lon == 1.4);
    CHECK(strstr(s.b.p, "name=Toulouse\\,\\ \"Berthelot\"") != NULL);
    demo__lpw_release(&w);
    buf_release(&s.b);
    free(path);

    CHECK(demo__samples_pa13("/nonexistent/demo.csv", &w, &st) == VG_ENOENT);
    test_rmrf(dir);
    free(dir);
}

static const char *samples_dir(void)
{
    const char *d = getenv("VIGIE_SAMPLES_DIR");
    struct stat sb;
    if (!d)
        d = "../shared/data";
    return stat(d, &sb) == 0 && S_ISDIR(sb.st_mode) ? d : NULL;
}

struct order {
    uint64_t n, back;
    char prev[80];
    int64_t prev_ts;
};

static void order_fn(void *arg, const struct lp_line *ln)
{
    struct order *o = arg;
    char id[80];
    line_id(ln, id, sizeof(id));
    o->n++;
    o->back += !strcmp(id, o->prev) && ln->ts <= o->prev_ts;
    snprintf(o->prev, sizeof(o->prev), "%s", id);
    o->prev_ts = ln->ts;
}

/* Load one file and check its counts and that every line parses. */
static void check_sample(int which, const char *dir, uint64_t rows, uint64_t bad, uint64_t empty,
                         uint64_t ents, uint64_t lines, uint64_t values)
{
    char a[1024], b[1024];
    struct sink s;
    struct demo_lpw w;
    struct demo_sample_stats st;
    int rc;
    sink_init(&s);
    demo__lpw_init(&w, sink_emit, &s);
    switch (which) {
    case 0:
        snprintf(a, sizeof(a), "%s/paris_comptages_routiers/"
                 "comptages-routiers-permanents-washington.head2000.csv", dir);
        rc = demo__samples_paris_traffic(a, &w, &st);
        break;
    case 1:
        snprintf(a, sizeof(a), "%s/air_quality_occitanie_paris/"
                 "Mesure_72h_Region_Occitanie_Polluants_Principaux.csv", dir);
        rc = demo__samples_occitanie(a, &w, &st);
        break;
    case 2:
        snprintf(a, sizeof(a), "%s/air_quality_occitanie_paris/PA13_2018.csv", dir);
        rc = demo__samples_pa13(a, &w, &st);
        break;
    default:
        snprintf(a, sizeof(a), "%s/madrid_noise/RuidoDiario2021Original.csv", dir);
        snprintf(b, sizeof(b), "%s/madrid_noise/EstacionesMedidaOriginal.csv", dir);
        rc = demo__samples_madrid_noise(a, b, &w, &st);
        break;
    }
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(demo__lpw_flush(&w), 0);
    CHECK_EQ_INT(st.rows, rows);
    CHECK_EQ_INT(st.bad, bad);
    CHECK_EQ_INT(st.empty, empty);
    CHECK_EQ_INT(st.entities, ents);
    CHECK_EQ_INT(st.lines, lines);
    CHECK_EQ_INT(st.values, values);
    struct order o;
    memset(&o, 0, sizeof(o));
    CHECK_EQ_INT(scan(s.b.p, s.b.len, order_fn, &o), 0);
    CHECK_EQ_INT(o.n, lines);
    CHECK_EQ_INT(o.back, 0); /* each series in time order (the store appends in order) */
    if (which == 3) { /* names converted from ISO-8859-1: "Ramon y Cajal" with an o-acute */
        CHECK(strstr(s.b.p, "name=Ram\xc3\xb3" "n\\ y\\ Cajal") != NULL);
        CHECK(strstr(s.b.p, "laeq_N=") != NULL);
    }
    if (which == 0) /* 2024-01-04T22:00:00+01:00 */
        CHECK(strstr(s.b.p, "intensity=1034i,occupancy=0.228633") != NULL &&
              strstr(s.b.p, " 1704402000000\n") != NULL);
    demo__lpw_release(&w);
    buf_release(&s.b);
}

static void test_real_samples(void)
{
    const char *dir = samples_dir();
    if (!dir) {
        printf("  skipped: ../shared/data not found (set VIGIE_SAMPLES_DIR)\n");
        return;
    }
    /* rows, bad, empty (no value), entities, lines, values (+1 location per entity) */
    check_sample(0, dir, 2000, 0, 154, 1, 1846, 1846 + 1806 + 1846 + 1);
    /* Occitanie: 175 negative concentrations (NO 156, SO2 14, H2S 5) left out as empty */
    check_sample(1, dir, 9627, 0, 175, 42, 2934, 9627 - 175 + 42);
    check_sample(2, dir, 8760, 0, 92, 1, 8668, 16964 + 1);
    check_sample(3, dir, 3587, 0, 0, 30, 900, 3587 * 6 + 30);
}

/* ---- injected incidents (o->incidents_at) ---------------------------------------------------- */

/* The anchor of the cases below: Thursday 2024-03-07 10:00 Europe/Paris. */
static const int64_t ANCHOR = 1709506800000LL + 3 * DAY_MS + 10 * HOUR_MS;
#define MIN_MS 60000LL

static int gen_inc(int64_t at, int64_t from, int64_t to, struct sink *s)
{
    struct demo_opts o;
    memset(&o, 0, sizeof(o));
    o.seed = 42;
    o.incidents_at = at;
    sink_init(s);
    return demo_generate(&o, from, to, sink_emit, s);
}

/* The values of one field of one entity, in time order. */
struct series {
    const char *meas, *id, *field;
    int64_t ts[20000];
    double v[20000], lat[20000], lon[20000];
    uint32_t n;
};

static void series_fn(void *arg, const struct lp_line *ln)
{
    struct series *s = arg;
    char id[80];
    if (!meas_is(ln, s->meas))
        return;
    line_id(ln, id, sizeof(id));
    if (strcmp(id, s->id) || s->n >= 20000)
        return;
    s->ts[s->n] = ln->ts;
    s->v[s->n] = s->field ? fval(ln, s->field) : NAN;
    s->lat[s->n] = fval(ln, "lat");
    s->lon[s->n++] = fval(ln, "lon");
}

static struct series *series_of(const struct sink *k, const char *meas, const char *id,
                                const char *field)
{
    struct series *s = calloc(1, sizeof(*s));
    s->meas = meas;
    s->id = id;
    s->field = field;
    scan(k->b.p, k->b.len, series_fn, s);
    return s;
}

static int cmp_dbl(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static void test_incident_leak(void)
{
    /* mediatheque-12 leaks 0.012 m³ per 15 min from Monday 10:00: the nights (02:00-04:00
    ** local, UTC+1 in March) of Friday..Monday are unchanged, those of Tuesday..Thursday carry
    ** the leak on every reading, and their minima stand far above the learned level. */
    double pre[8], post[8];
    int npre = 0, npost = 0;
    for (int d = -3; d <= 3; d++) {
        int64_t n0 = MONDAY + d * DAY_MS + 2 * HOUR_MS;
        struct sink a, b;
        REQUIRE(gen_inc(ANCHOR, n0, n0 + 2 * HOUR_MS, &a) == 0);
        REQUIRE(gen_inc(0, n0, n0 + 2 * HOUR_MS, &b) == 0);
        const char *id = "urn:ngsi-ld:Building:mediatheque-12";
        struct series *x = series_of(&a, "Building", id, "waterConsumption");
        struct series *y = series_of(&b, "Building", id, "waterConsumption");
        CHECK_EQ_INT(x->n, 8);
        CHECK_EQ_INT(y->n, 8);
        double mn = 1e9;
        for (uint32_t i = 0; i < x->n && i < y->n; i++) {
            double diff = x->v[i] - y->v[i];
            if (d <= 0)
                CHECK(diff == 0.0);
            else
                CHECK(diff > 0.0105 && diff < 0.0135);
            mn = fmin(mn, x->v[i]);
        }
        if (d <= 0)
            pre[npre++] = mn;
        else
            post[npost++] = mn;
        free(x);
        free(y);
        buf_release(&a.b);
        buf_release(&b.b);
    }
    qsort(pre, (size_t)npre, sizeof(double), cmp_dbl);
    double level = (pre[npre / 2 - 1] + pre[npre / 2]) / 2 * 1.5; /* the rule: ratio 0.5 */
    printf("  leak: night minima before %.3f..%.3f, level %.3f, with the leak %.3f %.3f %.3f\n",
           pre[0], pre[npre - 1], level, post[0], post[1], post[2]);
    for (int i = 0; i < npost; i++)
        CHECK(post[i] > level);
}

static void test_incident_stuck(void)
{
    struct sink a, b;
    REQUIRE(gen_inc(ANCHOR, ANCHOR - 2 * HOUR_MS, ANCHOR + 3 * HOUR_MS, &a) == 0);
    REQUIRE(gen_inc(0, ANCHOR - 2 * HOUR_MS, ANCHOR + 3 * HOUR_MS, &b) == 0);
    const char *id = "urn:ngsi-ld:NoiseLevelObserved:nation-07";
    struct series *x = series_of(&a, "NoiseLevelObserved", id, "LAeq");
    struct series *y = series_of(&b, "NoiseLevelObserved", id, "LAeq");
    uint32_t same = 0, changes = 0, first = UINT32_MAX;
    for (uint32_t i = 0; i < x->n; i++) {
        if (x->ts[i] < ANCHOR - 89 * MIN_MS || x->ts[i] >= ANCHOR + 149 * MIN_MS)
            continue;
        if (first == UINT32_MAX)
            first = i;
        same += x->v[i] == x->v[first];
    }
    for (uint32_t i = 1; i < y->n; i++)
        changes += y->v[i] != y->v[i - 1];
    CHECK(same >= 237); /* one reading a minute for 238 min */
    CHECK(changes > 200); /* the same meter without the incident */
    CHECK(x->ts[0] < ANCHOR - 95 * MIN_MS && x->v[0] != x->v[first]);
    free(x);
    free(y);
    buf_release(&a.b);
    buf_release(&b.b);
}

static double meters(double lat1, double lon1, double lat2, double lon2)
{
    return hypot((lat2 - lat1) * 111320.0, (lon2 - lon1) * 73300.0);
}

/* The longest run of consecutive stationary fixes (speed 0) inside the school's rectangle: its
** span (ms) and the largest distance from its first fix. */
static int64_t school_run(const struct series *s, double *spread)
{
    int64_t best = 0;
    *spread = 0;
    for (uint32_t i = 0; i < s->n;) {
        uint32_t e = i;
        double sp = 0;
        while (e < s->n && s->v[e] == 0.0 && fabs(s->lat[e] - 48.84520) <= 0.00030 &&
               fabs(s->lon[e] - 2.38480) <= 0.00045) {
            sp = fmax(sp, meters(s->lat[i], s->lon[i], s->lat[e], s->lon[e]));
            e++;
        }
        if (e > i && s->ts[e - 1] - s->ts[i] > best) {
            best = s->ts[e - 1] - s->ts[i];
            *spread = sp;
        }
        i = e > i ? e : i + 1;
    }
    return best;
}

static void test_incident_truck(void)
{
    /* truck-07 waits 45 min at the school gate every working morning (the anchor's Thursday and
    ** the Monday before it alike), within a few metres; without incidents it never stops there */
    int64_t days[2] = {MONDAY, MONDAY + 3 * DAY_MS};
    for (int d = 0; d < 2; d++) {
        struct sink a, b;
        REQUIRE(gen_inc(ANCHOR, days[d] + 6 * HOUR_MS, days[d] + 9 * HOUR_MS, &a) == 0);
        REQUIRE(gen_inc(0, days[d] + 6 * HOUR_MS, days[d] + 9 * HOUR_MS, &b) == 0);
        const char *id = "urn:ngsi-ld:Vehicle:truck-07";
        struct series *x = series_of(&a, "Vehicle", id, "speed");
        struct series *y = series_of(&b, "Vehicle", id, "speed");
        double spread;
        int64_t run = school_run(x, &spread);
        printf("  truck-07 at the school gate: %.1f min, within %.1f m\n", (double)run / MIN_MS,
               spread);
        CHECK(run >= 44 * MIN_MS && run <= 46 * MIN_MS);
        CHECK(spread < 30.0);
        CHECK(school_run(y, &spread) < 5 * MIN_MS);
        free(x);
        free(y);
        buf_release(&a.b);
        buf_release(&b.b);
    }
}

static void test_incident_pm25(void)
{
    /* the afternoon before the anchor (Wednesday 14:00-19:00 local = 13:00-18:00 UTC) */
    int64_t t0 = MONDAY + 2 * DAY_MS + 14 * HOUR_MS;
    struct sink a, b;
    REQUIRE(gen_inc(ANCHOR, t0 - 2 * HOUR_MS, t0 + 7 * HOUR_MS, &a) == 0);
    REQUIRE(gen_inc(0, t0 - 2 * HOUR_MS, t0 + 7 * HOUR_MS, &b) == 0);
    const char *ids[3] = {"urn:ngsi-ld:AirQualityObserved:nation-03",
                          "urn:ngsi-ld:AirQualityObserved:nation-04",
                          "urn:ngsi-ld:AirQualityObserved:nation-05"};
    for (int k = 0; k < 3; k++) {
        struct series *x = series_of(&a, "AirQualityObserved", ids[k], "pm25");
        struct series *y = series_of(&b, "AirQualityObserved", ids[k], "pm25");
        uint32_t above = 0, in = 0, plain_above = 0;
        for (uint32_t i = 0; i < x->n; i++) {
            if (x->ts[i] >= t0 && x->ts[i] < t0 + 5 * HOUR_MS) {
                in++;
                above += x->v[i] > 50.0;
            }
        }
        for (uint32_t i = 0; i < y->n; i++)
            plain_above += y->v[i] > 50.0 && y->v[i] != 999.9;
        if (k < 2) {
            CHECK_EQ_INT(in, 300); /* one reading a minute, never silent during the episode */
            CHECK_EQ_INT(above, 300);
        } else {
            CHECK_EQ_INT(above, 0); /* only two sensors */
        }
        CHECK_EQ_INT(plain_above, 0);
        free(x);
        free(y);
    }
    buf_release(&a.b);
    buf_release(&b.b);
    /* same anchor, same bytes */
    struct sink c, d;
    REQUIRE(gen_inc(ANCHOR, t0, t0 + HOUR_MS, &c) == 0);
    REQUIRE(gen_inc(ANCHOR, t0, t0 + HOUR_MS, &d) == 0);
    CHECK(c.b.len == d.b.len && !memcmp(c.b.p, d.b.p, c.b.len));
    buf_release(&c.b);
    buf_release(&d.b);
}

static void test_rules_json(void)
{
    /* demo_rules_json parses, and the engine accepts each of its rules */
    json_error_t je;
    json_t *j = json_loads(demo_rules_json(), 0, &je);
    REQUIRE(j);
    json_t *arr = json_object_get(j, "rules");
    CHECK(json_array_size(arr) >= 8);
    char *dir = test_tmpdir("demo-rules");
    char mp[600], sd[600];
    snprintf(mp, sizeof(mp), "%s/meta.db", dir);
    snprintf(sd, sizeof(sd), "%s/store", dir);
    struct meta *m = NULL;
    struct store *st = NULL;
    struct catalog *c = NULL;
    struct alerts *al = NULL;
    struct store_opts so;
    memset(&so, 0, sizeof(so));
    REQUIRE(!meta_open(mp, &m) && !store_open(sd, &so, &st) && !catalog_open(m, st, &c) &&
            !store_recover(st, NULL) && !alerts_open(m, c, st, &al));
    const char *want[] = {"water-leak", "noise-stuck", "school-dwell", "pm25-episode"};
    int found = 0;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        char *one = json_dumps(json_array_get(arr, i), JSON_COMPACT);
        char id[64], err[256] = "";
        int rc = alerts_rule_put(al, "default", one, strlen(one), 0, id, sizeof(id), err,
                                 sizeof(err));
        if (rc)
            printf("  rule %zu refused: %s\n", i, err);
        CHECK_EQ_INT(rc, 0);
        for (size_t w = 0; w < VG_ARRAY_LEN(want); w++)
            found += !rc && !strcmp(id, want[w]);
        free(one);
    }
    CHECK_EQ_INT(found, 4);
    alerts_free(al);
    store_close(st);
    catalog_free(c);
    meta_close(m);
    json_decref(j);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    free(dir);
}

int main(void)
{
    TEST_BEGIN("demo");
    TEST_RUN(test_deterministic);
    TEST_RUN(test_lines_valid);
    TEST_RUN(test_entity_counts);
    TEST_RUN(test_ranges);
    TEST_RUN(test_daily_cycle);
    TEST_RUN(test_trucks_move);
    TEST_RUN(test_faults);
    TEST_RUN(test_csv_edge_cases);
    TEST_RUN(test_real_samples);
    TEST_RUN(test_incident_leak);
    TEST_RUN(test_incident_stuck);
    TEST_RUN(test_incident_truck);
    TEST_RUN(test_incident_pm25);
    TEST_RUN(test_rules_json);
    buf_release(&day.b);
    return TEST_END();
}
