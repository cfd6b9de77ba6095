/*
** app/incidents.c: the labelled city of the alert benchmark (app/incidents.h, docs/demo.md
** "Labelled incidents"). Sensors are laid out and incidents drawn once in incidents_new; then
** every point is a pure function of (seed, sensor, timestamp): random numbers come from a
** counter-based hash (splitmix64 finaliser, as in app/demo.c), smooth variations from value
** noise between hashed knots. The only state used while generating is a one-day route cache per
** vehicle, itself a pure function of (seed, vehicle, day).
** Each sensor carries at most one incident, so a label never overlaps another on one sensor.
** Owns: struct incidents (sensor tables, labels, school polygons, the geofence JSON, route
** caches) and, per incidents_generate call, a line-protocol writer (app/demo_samples.h).
** Thread: none (see the header).
*/
#include "app/incidents.h"

#include "app/demo_samples.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/detrand.h"
#include "core/vg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC_MS 1000LL
#define MIN_MS 60000LL
#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL
#define M_PER_DEG_LAT 111320.0
#define M_PER_DEG_LON 73300.0 /* at 48.85 N */

#define N_SCHOOL 40
#define N_DEPOT 4
#define VPLAN_MAX 80
#define SCHOOL_HALF_LAT_M 35.0 /* a school's rectangle: 90 m east-west, 70 m north-south */
#define SCHOOL_HALF_LON_M 45.0

#define P_WATER HOUR_MS
#define P_NOISE (10 * MIN_MS)
#define P_AIR HOUR_MS
#define P_VEH (30 * SEC_MS)
#define STOP_EVERY 4 /* while stopped a vehicle reports every 4th slot (2 min) */

/* Salts: one per random stream. Never renumber (changes every generated value). */
enum salt {
    S_LAYOUT = 1, S_PHASE, S_PICK, S_INC, S_WATER, S_WNIGHT, S_NOISE_SLOW, S_NOISE_WHITE,
    S_PMBG, S_PMLOC, S_PMWHITE, S_PMGLITCH, S_VDAY, S_VSTOP, S_VGPS, S_SCHOOL,
};

static const double depots[N_DEPOT][2] = {
    {48.8215, 2.3985}, /* on the Seine, Paris 13e edge */
    {48.8990, 2.3700}, /* Porte de la Villette */
    {48.8350, 2.2700}, /* Issy, Porte de Sevres */
    {48.8660, 2.4150}, /* Porte de Bagnolet */
};

static int64_t first_slot(int64_t a, int64_t period, int64_t phase)
{
    return clock_floor_div(a - phase + period - 1, period) * period + phase;
}

/* ---- local time (Europe/Paris) and profiles -------------------------------------------------- */

struct lt {
    int64_t day; /* local days since 1970-01-01 */
    int wday;    /* 0 = Monday */
    double hour;
};

static void ltime(int64_t t, struct lt *o)
{
    int64_t l = t + demo__cet_offset_ms(t);
    o->day = clock_floor_div(l, DAY_MS);
    o->hour = (double)(l - o->day * DAY_MS) / (double)HOUR_MS;
    o->wday = (int)(((o->day + 3) % 7 + 7) % 7);
}

static int64_t local_day_start(int64_t lday)
{
    return demo__cet_local_to_utc(lday * DAY_MS);
}

static double sstep(double a, double b, double x)
{
    if (x <= a)
        return 0.0;
    if (x >= b)
        return 1.0;
    double t = (x - a) / (b - a);
    return t * t * (3.0 - 2.0 * t);
}

static double bump(double h, double a, double b, double w)
{
    return sstep(a - w, a + w, h) * (1.0 - sstep(b - w, b + w, h));
}

static double peak(double h, double c, double s)
{
    double d = (h - c) / s;
    return exp(-0.5 * d * d);
}

static double traffic(const struct lt *l)
{
    double h = l->hour;
    if (l->wday <= 4)
        return 0.05 + 0.5 * bump(h, 6.5, 21.0, 1.0) + 0.45 * peak(h, 8.5, 1.0) +
               0.42 * peak(h, 18.0, 1.3);
    return 0.08 + 0.4 * bump(h, 10.0, 22.0, 1.5);
}

/* Household water use relative to the night flow of 0.1 (x the meter's size, m³/h): morning and
** evening peaks, a daytime plateau; later mornings at weekends. */
static double water_profile(const struct lt *l)
{
    double h = l->hour;
    if (l->wday <= 4)
        return 0.10 + 0.55 * peak(h, 7.3, 1.1) + 0.30 * bump(h, 9.0, 17.0, 1.0) +
               0.25 * peak(h, 12.5, 1.0) + 0.65 * peak(h, 20.0, 1.6);
    return 0.10 + 0.50 * peak(h, 9.5, 1.5) + 0.35 * bump(h, 11.0, 19.0, 1.5) +
           0.60 * peak(h, 20.0, 1.8);
}

/* The value a reader of the line protocol gets back: v printed with dec decimals. */
static double rounded(double v, int dec)
{
    char s[64];
    if (v == 0.0)
        v = 0.0;
    snprintf(s, sizeof(s), "%.*f", dec, v);
    return strtod(s, NULL);
}

static double dist_m(double lat1, double lon1, double lat2, double lon2)
{
    return hypot((lat2 - lat1) * M_PER_DEG_LAT, (lon2 - lon1) * M_PER_DEG_LON);
}

/* ---- state ----------------------------------------------------------------------------------- */

struct sensor {
    char id[64];
    double lat, lon;
    double a;      /* water: size (m³/h scale); noise: dB offset; air: traffic exposure */
    int64_t phase; /* ms, whole seconds, < period */
    int inc;       /* index in labels, -1 = none */
    double leak;   /* water: extra flow during the leak (m³/h) */
    double level;  /* air: plateau level of the peak (µg/m³) */
};

enum vseg_kind { VS_DRIVE, VS_STOP };

struct vseg {
    int64_t t0, t1;
    double lat0, lon0, lat1, lon1;
    double speed;
    int kind;
};

struct vplan {
    int64_t day; /* local day; INT64_MIN = empty */
    int n;
    struct vseg s[VPLAN_MAX];
};

struct incidents {
    uint64_t seed;
    int64_t start, end;
    int days;
    uint32_t n[IC_NCLASSES];
    struct sensor *sen[IC_NCLASSES];
    double school[N_SCHOOL][2];
    struct incident *labels;
    uint32_t nlabels;
    int64_t *vinc_day; /* per vehicle: local day of its dwell incident, INT64_MIN = none */
    struct vplan *vplan;
    char *geofence;
    struct demo_lpw w;
};

static const char *const class_type[IC_NCLASSES] = {"Building", "NoiseLevelObserved",
                                                     "AirQualityObserved", "Vehicle"};
static const char *const class_kind[IC_NCLASSES] = {"water", "noise", "air", "fleet"};
static const char *const class_slug[IC_NCLASSES] = {"wm", "nm", "aq", "veh"};
static const int64_t class_period[IC_NCLASSES] = {P_WATER, P_NOISE, P_AIR, P_VEH};

const char *incidents_kind_name(int kind)
{
    static const char *const names[INC_NKINDS] = {"leak", "stuck", "silence", "dwell", "peak"};
    return kind >= 0 && kind < INC_NKINDS ? names[kind] : "?";
}

int64_t incidents_start(const struct incidents *g)
{
    return g->start;
}

int64_t incidents_end(const struct incidents *g)
{
    return g->end;
}

uint32_t incidents_labels(const struct incidents *g, const struct incident **out)
{
    *out = g->labels;
    return g->nlabels;
}

uint32_t incidents_count(const struct incidents *g, int cls)
{
    return cls >= 0 && cls < IC_NCLASSES ? g->n[cls] : 0;
}

const char *incidents_sensor_id(const struct incidents *g, int cls, uint32_t idx)
{
    if (cls < 0 || cls >= IC_NCLASSES || idx >= g->n[cls])
        return NULL;
    return g->sen[cls][idx].id;
}

const char *incidents_geofence_json(const struct incidents *g)
{
    return g->geofence;
}

int incidents_school_at(const struct incidents *g, double lat, double lon)
{
    for (int s = 0; s < N_SCHOOL; s++)
        if (fabs(lat - g->school[s][0]) * M_PER_DEG_LAT <= SCHOOL_HALF_LAT_M &&
            fabs(lon - g->school[s][1]) * M_PER_DEG_LON <= SCHOOL_HALF_LON_M)
            return s;
    return -1;
}

static double near_school_m(const struct incidents *g, double lat, double lon)
{
    double best = 1e12;
    for (int s = 0; s < N_SCHOOL; s++) {
        double d = dist_m(lat, lon, g->school[s][0], g->school[s][1]);
        if (d < best)
            best = d;
    }
    return best;
}

/* A point of the city box (lat 48.815..48.895, lon 2.26..2.42) from h. */
static void city_point(uint64_t h, double *lat, double *lon)
{
    *lat = 48.815 + 0.080 * det_u01(det_mix64(h));
    *lon = 2.26 + 0.16 * det_u01(det_mix64(h ^ 0x5555));
}

static void layout(struct incidents *g)
{
    for (int s = 0, tries = 0; s < N_SCHOOL; tries++) {
        double lat, lon;
        city_point(det_hash(g->seed, S_SCHOOL, (uint64_t)tries, 0), &lat, &lon);
        int ok = tries > 4000; /* never loops forever, whatever the seed */
        if (!ok) {
            ok = 1;
            for (int j = 0; j < s && ok; j++)
                ok = dist_m(lat, lon, g->school[j][0], g->school[j][1]) >= 600.0;
            for (int d = 0; d < N_DEPOT && ok; d++)
                ok = dist_m(lat, lon, depots[d][0], depots[d][1]) >= 500.0;
        }
        if (ok) {
            g->school[s][0] = lat;
            g->school[s][1] = lon;
            s++;
        }
    }
    for (int c = 0; c < IC_NCLASSES; c++) {
        g->sen[c] = vg_calloc(g->n[c], sizeof(struct sensor));
        for (uint32_t i = 0; i < g->n[c]; i++) {
            struct sensor *e = &g->sen[c][i];
            snprintf(e->id, sizeof(e->id), "urn:ngsi-ld:%s:%s-%04u", class_type[c], class_slug[c],
                     i + 1);
            city_point(det_hash(g->seed, S_LAYOUT, (uint64_t)c, i), &e->lat, &e->lon);
            double u = det_u01(det_hash(g->seed, S_LAYOUT, (uint64_t)c + 10, i));
            e->a = c == IC_WATER ? 0.4 + 2.6 * u : c == IC_NOISE ? -3.0 + 6.0 * u : 0.6 + 0.8 * u;
            e->phase = (int64_t)(det_hash(g->seed, S_PHASE, (uint64_t)c, i) %
                                 (uint64_t)(class_period[c] / SEC_MS)) * SEC_MS;
            e->inc = -1;
        }
    }
    struct buf b;
    buf_init(&b, 0);
    buf_puts(&b, "{\"type\":\"MultiPolygon\",\"coordinates\":[");
    for (int s = 0; s < N_SCHOOL; s++) {
        double dl = SCHOOL_HALF_LAT_M / M_PER_DEG_LAT, dn = SCHOOL_HALF_LON_M / M_PER_DEG_LON;
        double la = g->school[s][0], lo = g->school[s][1];
        buf_printf(&b,
                   "%s[[[%.6f,%.6f],[%.6f,%.6f],[%.6f,%.6f],[%.6f,%.6f],[%.6f,%.6f]]]",
                   s ? "," : "", lo - dn, la - dl, lo + dn, la - dl, lo + dn, la + dl, lo - dn,
                   la + dl, lo - dn, la - dl);
    }
    buf_puts(&b, "]}");
    size_t len;
    g->geofence = buf_detach(&b, &len);
}

/* ---- vehicle routes -------------------------------------------------------------------------- */

struct vb {
    struct vplan *p;
    int64_t t;
    double lat, lon;
};

static void vb_push(struct vb *b, int kind, int64_t dur, double lat1, double lon1, double speed)
{
    if (dur <= 0 || b->p->n >= VPLAN_MAX)
        return;
    struct vseg *s = &b->p->s[b->p->n++];
    s->t0 = b->t;
    s->t1 = b->t + dur;
    s->lat0 = b->lat;
    s->lon0 = b->lon;
    s->lat1 = lat1;
    s->lon1 = lon1;
    s->speed = speed;
    s->kind = kind;
    b->t = s->t1;
    b->lat = lat1;
    b->lon = lon1;
}

static void vb_drive(struct vb *b, double lat, double lon, double kmh)
{
    double m = dist_m(b->lat, b->lon, lat, lon);
    int64_t dur = (int64_t)(m / (kmh / 3.6)) * SEC_MS;
    if (dur < SEC_MS) {
        b->lat = lat;
        b->lon = lon;
        return;
    }
    vb_push(b, VS_DRIVE, dur, lat, lon, kmh);
}

static void vb_stop(struct vb *b, int64_t dur)
{
    vb_push(b, VS_STOP, dur, b->lat, b->lon, 0.0);
}

/* A delivery stop: odd stops lie 80..150 m from a school (so that routes pass near schools),
** others anywhere at least 150 m from every school; never inside a school polygon. */
static void stop_point(const struct incidents *g, uint64_t h, int odd, double *lat, double *lon)
{
    for (uint64_t k = 0;; k++) {
        uint64_t hk = det_mix64(h + k * 0x9e37);
        if (odd) {
            int s = (int)(hk % N_SCHOOL);
            double r = 80.0 + 70.0 * det_u01(det_mix64(hk + 1)), b = 2.0 * M_PI * det_u01(det_mix64(hk + 2));
            *lat = g->school[s][0] + r * cos(b) / M_PER_DEG_LAT;
            *lon = g->school[s][1] + r * sin(b) / M_PER_DEG_LON;
            if (near_school_m(g, *lat, *lon) >= 75.0 || k > 50)
                return;
        } else {
            city_point(hk, lat, lon);
            if (near_school_m(g, *lat, *lon) >= 150.0 || k > 50)
                return;
        }
    }
}

/* The gate of school s: within 10 m of its centre, inside its polygon. */
static void school_gate(const struct incidents *g, int s, uint64_t h, double *lat, double *lon)
{
    *lat = g->school[s][0] + (det_u01(det_mix64(h)) * 2.0 - 1.0) * 7.0 / M_PER_DEG_LAT;
    *lon = g->school[s][1] + (det_u01(det_mix64(h + 1)) * 2.0 - 1.0) * 7.0 / M_PER_DEG_LON;
}

/* Route of vehicle v on local day lday (Monday..Friday; empty at weekends): leaves its depot at
** 07:00-08:00, 8..14 delivery stops of 3..15 min, a lunch break of 30..60 min at the stop in the
** middle, on some days a short stop (3..8 min) at a school gate, and on its incident day a stop
** of 40..90 min at a school gate after the second delivery; then back to the depot. */
static void vplan_build(const struct incidents *g, uint32_t v, int64_t lday, struct vplan *p)
{
    p->day = lday;
    p->n = 0;
    int wday = (int)(((lday + 3) % 7 + 7) % 7);
    if (wday >= 5)
        return;
    uint64_t h = det_hash(g->seed, S_VDAY, v, (uint64_t)lday);
    const double *dep = depots[v % N_DEPOT];
    int64_t leave = local_day_start(lday) + (int64_t)(3600.0 * (7.0 + det_u01(det_mix64(h + 1)))) * SEC_MS;
    struct vb b = {p, leave, dep[0], dep[1]};
    vb_stop(&b, 2 * MIN_MS);
    int nst = 8 + (int)(det_mix64(h + 2) % 7);
    int short_at = det_u01(det_mix64(h + 3)) < 0.35 ? 1 + (int)(det_mix64(h + 4) % (uint64_t)(nst - 1)) : -1;
    int inc = g->vinc_day[v] == lday;
    for (int j = 0; j < nst; j++) {
        uint64_t hj = det_hash(g->seed, S_VSTOP, (uint64_t)v * 1000 + (uint64_t)j, (uint64_t)lday);
        double lat, lon, kmh = 18.0 + 14.0 * det_u01(det_mix64(hj + 1));
        if (inc && j == 2) {
            int s = (int)(det_mix64(hj + 2) % N_SCHOOL);
            school_gate(g, s, hj + 3, &lat, &lon);
            vb_drive(&b, lat, lon, kmh);
            vb_stop(&b, (int64_t)(40 + det_mix64(hj + 4) % 51) * MIN_MS);
        }
        if (j == short_at) {
            int s = (int)(det_mix64(hj + 5) % N_SCHOOL);
            school_gate(g, s, hj + 6, &lat, &lon);
            vb_drive(&b, lat, lon, kmh);
            vb_stop(&b, (int64_t)(180 + det_mix64(hj + 7) % 301) * SEC_MS);
        }
        stop_point(g, det_mix64(hj + 8), j & 1, &lat, &lon);
        vb_drive(&b, lat, lon, kmh);
        int64_t dur = (int64_t)(180 + det_mix64(hj + 9) % 721) * SEC_MS;
        if (j == nst / 2)
            dur += (int64_t)(30 + det_mix64(hj + 10) % 31) * MIN_MS; /* lunch */
        vb_stop(&b, dur);
    }
    vb_drive(&b, dep[0], dep[1], 25.0);
    vb_stop(&b, 2 * MIN_MS);
}

static const struct vplan *vplan_get(struct incidents *g, uint32_t v, int64_t lday)
{
    if (g->vplan[v].day != lday)
        vplan_build(g, v, lday, &g->vplan[v]);
    return &g->vplan[v];
}

static const struct vseg *vseg_at(const struct vplan *p, int64_t t)
{
    int lo = 0, hi = p->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (t < p->s[mid].t0)
            hi = mid - 1;
        else if (t >= p->s[mid].t1)
            lo = mid + 1;
        else
            return &p->s[mid];
    }
    return NULL;
}

/* ---- incidents ------------------------------------------------------------------------------- */

static uint64_t gcd(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* The k-th sensor of a seeded permutation of n (k < n): distinct sensors for distinct k. */
static uint32_t pick(const struct incidents *g, int cls, uint32_t k, uint32_t n)
{
    static const uint64_t primes[] = {7919, 104729, 1299709, 15485863};
    uint64_t a = 1;
    for (size_t i = 0; i < VG_ARRAY_LEN(primes); i++)
        if (gcd(primes[i], n) == 1) {
            a = primes[i];
            break;
        }
    uint64_t b = det_hash(g->seed, S_PICK, (uint64_t)cls, 0) % n;
    return (uint32_t)((a * k + b) % n);
}

static struct incident *add_label(struct incidents *g, int kind, int cls, uint32_t idx,
                                  int64_t t0, int64_t t1)
{
    struct incident *in = &g->labels[g->nlabels++];
    in->kind = kind;
    in->cls = cls;
    in->idx = idx;
    snprintf(in->sensor, sizeof(in->sensor), "%s", g->sen[cls][idx].id);
    in->start_ms = t0;
    in->end_ms = t1;
    return in;
}

static double uinc(const struct incidents *g, int kind, uint32_t k, int what)
{
    return det_u01(det_hash(g->seed, S_INC, (uint64_t)kind * 100000 + k, (uint64_t)what));
}

static int label_cmp(const void *x, const void *y)
{
    const struct incident *a = x, *b = y;
    if (a->start_ms != b->start_ms)
        return a->start_ms < b->start_ms ? -1 : 1;
    return strcmp(a->sensor, b->sensor);
}

static void draw(struct incidents *g)
{
    uint32_t nw = g->n[IC_WATER], nn = g->n[IC_NOISE], na = g->n[IC_AIR], nv = g->n[IC_VEHICLE];
    uint32_t cnt[IC_NCLASSES][2] = {{nw / 10, nw / 30 ? nw / 30 : 1},
                                    {nn / 12, nn / 30 ? nn / 30 : 1},
                                    {na / 10, na / 20 ? na / 20 : 1},
                                    {nv * 3 / 20, 0}};
    int first_kind[IC_NCLASSES] = {INC_LEAK, INC_STUCK, INC_PEAK, INC_DWELL};
    uint32_t total = 0;
    for (int c = 0; c < IC_NCLASSES; c++)
        total += cnt[c][0] + cnt[c][1];
    g->labels = vg_calloc(total ? total : 1, sizeof(struct incident));
    int days = g->days;
    for (int c = 0; c < IC_NCLASSES; c++) {
        for (uint32_t k = 0; k < cnt[c][0] + cnt[c][1]; k++) {
            uint32_t idx = pick(g, c, k, g->n[c]);
            int kind = k < cnt[c][0] ? first_kind[c] : INC_SILENCE;
            uint32_t key = (uint32_t)c * 10000 + k;
            double u0 = uinc(g, kind, key, 0), u1 = uinc(g, kind, key, 1);
            struct sensor *e = &g->sen[c][idx];
            int64_t t0, t1;
            struct lt l;
            switch (kind) {
            case INC_LEAK: /* after a week of normal nights; to the end of the data */
                t0 = g->start + (7 * 24 + (int64_t)(u0 * (days - 10) * 24)) * HOUR_MS;
                e->leak = (0.3 + 1.7 * u1) * 0.1 * e->a;
                add_label(g, kind, c, idx, t0, g->end);
                break;
            case INC_STUCK:
                t0 = g->start + DAY_MS + (int64_t)(u0 * (days - 2) * 1440) * MIN_MS;
                t1 = t0 + (int64_t)((3.0 + 9.0 * u1) * 60) * MIN_MS;
                add_label(g, kind, c, idx, t0, t1);
                break;
            case INC_SILENCE:
                t0 = g->start + DAY_MS + (int64_t)(u0 * (days - 3) * 1440) * MIN_MS;
                t1 = t0 + (int64_t)((3.0 + 21.0 * u1) * 60) * MIN_MS;
                add_label(g, kind, c, idx, t0, t1);
                break;
            case INC_PEAK: { /* plateau from 09:00-16:00 local, 3..8 h */
                ltime(g->start, &l);
                int64_t d = l.day + 1 + (int64_t)(u0 * (days - 2));
                t0 = local_day_start(d) + (int64_t)((9.0 + 7.0 * u1) * 60) * MIN_MS;
                t1 = t0 + (int64_t)((3.0 + 5.0 * uinc(g, kind, key, 2)) * 60) * MIN_MS;
                e->level = 60.0 + 30.0 * uinc(g, kind, key, 3);
                add_label(g, kind, c, idx, t0, t1);
                break;
            }
            case INC_DWELL: { /* a working day from the third day on */
                ltime(g->start, &l);
                int64_t d = l.day + 2 + (int64_t)(u0 * (days - 4));
                while ((((d + 3) % 7 + 7) % 7) >= 5)
                    d++;
                g->vinc_day[idx] = d;
                vplan_build(g, idx, d, &g->vplan[idx]);
                /* the long stop after the second delivery: the first stop of 40 min or more */
                for (int s = 0; s < g->vplan[idx].n; s++) {
                    const struct vseg *sg = &g->vplan[idx].s[s];
                    if (sg->kind == VS_STOP && sg->t1 - sg->t0 >= 40 * MIN_MS &&
                        incidents_school_at(g, sg->lat0, sg->lon0) >= 0) {
                        add_label(g, kind, c, idx, sg->t0, sg->t1);
                        break;
                    }
                }
                break;
            }
            }
        }
    }
    qsort(g->labels, g->nlabels, sizeof(struct incident), label_cmp);
    for (uint32_t i = 0; i < g->nlabels; i++)
        g->sen[g->labels[i].cls][g->labels[i].idx].inc = (int)i;
}

struct incidents *incidents_new(const struct incidents_opts *o)
{
    int days = o && o->days ? o->days : 30;
    int n = o && o->sensors ? o->sensors : 1000;
    if (days < 10 || days > 366 || n < 40 || n > 1000000)
        return NULL;
    struct incidents *g = vg_calloc(1, sizeof(*g));
    g->seed = o && o->seed ? o->seed : 42;
    g->start = o && o->start_ms ? o->start_ms : INCIDENTS_DEFAULT_START;
    g->days = days;
    g->end = g->start + (int64_t)days * DAY_MS;
    g->n[IC_WATER] = (uint32_t)n * 3 / 10;
    g->n[IC_NOISE] = (uint32_t)n * 3 / 10;
    g->n[IC_AIR] = (uint32_t)n * 2 / 10;
    g->n[IC_VEHICLE] = (uint32_t)n - g->n[IC_WATER] - g->n[IC_NOISE] - g->n[IC_AIR];
    layout(g);
    g->vinc_day = vg_calloc(g->n[IC_VEHICLE], sizeof(int64_t));
    g->vplan = vg_calloc(g->n[IC_VEHICLE], sizeof(struct vplan));
    for (uint32_t v = 0; v < g->n[IC_VEHICLE]; v++) {
        g->vinc_day[v] = INT64_MIN;
        g->vplan[v].day = INT64_MIN;
    }
    draw(g);
    return g;
}

void incidents_free(struct incidents *g)
{
    if (!g)
        return;
    for (int c = 0; c < IC_NCLASSES; c++)
        free(g->sen[c]);
    free(g->labels);
    free(g->vinc_day);
    free(g->vplan);
    free(g->geofence);
    free(g);
}

/* ---- values ---------------------------------------------------------------------------------- */

static const struct incident *inc_of(const struct incidents *g, const struct sensor *e, int kind,
                                     int64_t t)
{
    if (e->inc < 0)
        return NULL;
    const struct incident *in = &g->labels[e->inc];
    return in->kind == kind && t >= in->start_ms && t < in->end_ms ? in : NULL;
}

static double water_raw(const struct incidents *g, uint32_t i, int64_t t)
{
    const struct sensor *e = &g->sen[IC_WATER][i];
    struct lt l;
    ltime(t, &l);
    uint64_t h = det_hash(g->seed, S_WATER, i, (uint64_t)t);
    double v = e->a * water_profile(&l) * (1.0 + 0.06 * det_gauss(h)) + 0.004 * e->a * det_gauss(det_mix64(h));
    uint64_t hn = det_hash(g->seed, S_WNIGHT, i, (uint64_t)t);
    if (l.hour < 5.0 && det_u01(hn) < 0.03)
        v += e->a * (0.05 + 0.25 * det_u01(det_mix64(hn))); /* someone up at night */
    if (inc_of(g, e, INC_LEAK, t))
        v += e->leak;
    return rounded(fmax(v, 0.0), 3);
}

static double noise_raw(const struct incidents *g, uint32_t i, int64_t t)
{
    const struct sensor *e = &g->sen[IC_NOISE][i];
    struct lt l;
    ltime(t, &l);
    double v = 52.0 + 18.0 * traffic(&l) + e->a +
               1.5 * det_vnoise(g->seed, S_NOISE_SLOW, i, t, 2 * HOUR_MS) +
               1.0 * det_gauss(det_hash(g->seed, S_NOISE_WHITE, i, (uint64_t)t));
    return rounded(v, 1);
}

static double noise_val(const struct incidents *g, uint32_t i, int64_t t)
{
    const struct incident *in = inc_of(g, &g->sen[IC_NOISE][i], INC_STUCK, t);
    if (in) /* stuck: repeats its first reading of the window */
        return noise_raw(g, i, first_slot(in->start_ms, P_NOISE, g->sen[IC_NOISE][i].phase));
    return noise_raw(g, i, t);
}

static double air_val(const struct incidents *g, uint32_t i, int64_t t)
{
    const struct sensor *e = &g->sen[IC_AIR][i];
    struct lt l;
    ltime(t, &l);
    double v = 8.0 + 4.0 * det_vnoise(g->seed, S_PMBG, 0, t, 30 * HOUR_MS) +
               3.0 * det_vnoise(g->seed, S_PMLOC, i, t, 12 * HOUR_MS) + 7.0 * traffic(&l) * e->a +
               1.5 * det_gauss(det_hash(g->seed, S_PMWHITE, i, (uint64_t)t));
    v = fmax(v, 1.0);
    if (e->inc >= 0 && g->labels[e->inc].kind == INC_PEAK) {
        const struct incident *in = &g->labels[e->inc];
        double f = 0.0;
        if (t >= in->start_ms && t < in->end_ms)
            f = 1.0;
        else if (t >= in->start_ms - HOUR_MS && t < in->start_ms)
            f = 1.0 - (double)(in->start_ms - t) / HOUR_MS;
        else if (t >= in->end_ms && t < in->end_ms + HOUR_MS)
            f = 1.0 - (double)(t - in->end_ms) / HOUR_MS;
        if (f >= 1.0)
            v = fmax(e->level + 2.5 * det_gauss(det_mix64(det_hash(g->seed, S_PMWHITE, i, (uint64_t)t))), 52.0);
        else if (f > 0.0)
            v = v + (fmin(e->level, 49.0) - v) * f; /* the ramps stay at or below 49 */
        return rounded(v, 1);
    }
    if (det_u01(det_hash(g->seed, S_PMGLITCH, i, (uint64_t)t)) < 0.0003)
        v = 999.9; /* glitch: one saturated reading */
    return rounded(v, 1);
}

/* The value of scalar sensor i at slot t; returns 0 when it sends nothing (silence). */
static int scalar_at(const struct incidents *g, int cls, uint32_t i, int64_t t, double *v)
{
    if (inc_of(g, &g->sen[cls][i], INC_SILENCE, t))
        return 0;
    *v = cls == IC_WATER ? water_raw(g, i, t) : cls == IC_NOISE ? noise_val(g, i, t)
                                                                : air_val(g, i, t);
    return 1;
}

uint32_t incidents_series(struct incidents *g, int cls, uint32_t idx, int64_t from_ms,
                          int64_t to_ms, int64_t *ts, double *v, uint32_t cap)
{
    uint32_t n = 0;
    if (cls < 0 || cls > IC_AIR || idx >= g->n[cls])
        return 0;
    from_ms = from_ms < g->start ? g->start : from_ms;
    to_ms = to_ms > g->end ? g->end : to_ms;
    int64_t p = class_period[cls];
    for (int64_t t = first_slot(from_ms, p, g->sen[cls][idx].phase); t < to_ms && n < cap;
         t += p) {
        double x;
        if (!scalar_at(g, cls, idx, t, &x))
            continue;
        ts[n] = t;
        v[n++] = x;
    }
    return n;
}

/* ---- emission -------------------------------------------------------------------------------- */

static void head(struct incidents *g, int cls, const struct sensor *e)
{
    demo__lpw_begin(&g->w, class_type[cls]);
    demo__lpw_tag(&g->w, "id", e->id);
    demo__lpw_tag(&g->w, "kind", class_kind[cls]);
}

static void gen_scalar(struct incidents *g, int cls, int64_t a, int64_t b)
{
    static const char *const attr[3] = {"waterConsumption", "LAeq", "pm25"};
    static const int dec[3] = {3, 1, 1};
    int64_t p = class_period[cls];
    for (uint32_t i = 0; i < g->n[cls]; i++) {
        const struct sensor *e = &g->sen[cls][i];
        for (int64_t t = first_slot(a, p, e->phase); t < b; t += p) {
            double v;
            if (!scalar_at(g, cls, i, t, &v))
                continue;
            head(g, cls, e);
            demo__lpw_f64(&g->w, attr[cls], v, dec[cls]);
            if (t - clock_floor_div(t, DAY_MS) * DAY_MS < p) /* location once per UTC day */
                demo__lpw_geo(&g->w, e->lat, e->lon);
            demo__lpw_end(&g->w, t);
        }
    }
}

static void gen_vehicles(struct incidents *g, int64_t a, int64_t b)
{
    for (uint32_t v = 0; v < g->n[IC_VEHICLE]; v++) {
        const struct sensor *e = &g->sen[IC_VEHICLE][v];
        for (int64_t t = first_slot(a, P_VEH, e->phase); t < b; t += P_VEH) {
            struct lt l;
            ltime(t, &l);
            const struct vplan *p = vplan_get(g, v, l.day);
            if (!p->n || t >= p->s[p->n - 1].t1) { /* parked: to the next local day */
                t = first_slot(local_day_start(l.day + 1), P_VEH, e->phase) - P_VEH;
                continue;
            }
            if (t < p->s[0].t0) {
                t = first_slot(p->s[0].t0, P_VEH, e->phase) - P_VEH;
                continue;
            }
            const struct vseg *s = vseg_at(p, t);
            if (!s)
                continue;
            if (s->kind == VS_STOP && clock_floor_div(t - e->phase, P_VEH) % STOP_EVERY != 0)
                continue;
            double f = (double)(t - s->t0) / (double)(s->t1 - s->t0);
            double lat = s->lat0 + (s->lat1 - s->lat0) * f, lon = s->lon0 + (s->lon1 - s->lon0) * f;
            uint64_t h = det_hash(g->seed, S_VGPS, v, (uint64_t)t);
            lat += 3.0 * det_gauss(h) / M_PER_DEG_LAT; /* GPS noise, 3 m */
            lon += 3.0 * det_gauss(det_mix64(h)) / M_PER_DEG_LON;
            head(g, IC_VEHICLE, e);
            demo__lpw_geo(&g->w, lat, lon);
            demo__lpw_f64(&g->w, "speed",
                          s->kind == VS_DRIVE ? fmax(3.0, s->speed + 2.0 * det_gauss(det_mix64(h + 1)))
                                              : 0.0,
                          1);
            demo__lpw_end(&g->w, t);
        }
    }
}

int incidents_generate(struct incidents *g, int64_t from_ms, int64_t to_ms, demo_emit_fn *emit,
                       void *arg)
{
    int rc = VG_OK;
    if (!g || !emit)
        return VG_EINVAL;
    from_ms = from_ms < g->start ? g->start : from_ms;
    to_ms = to_ms > g->end ? g->end : to_ms;
    if (to_ms <= from_ms)
        return VG_OK;
    demo__lpw_init(&g->w, emit, arg);
    for (int64_t a = from_ms, b; a < to_ms && !rc; a = b) {
        b = clock_floor_div(a, HOUR_MS) * HOUR_MS + HOUR_MS;
        if (b > to_ms)
            b = to_ms;
        gen_scalar(g, IC_WATER, a, b);
        gen_scalar(g, IC_NOISE, a, b);
        gen_scalar(g, IC_AIR, a, b);
        gen_vehicles(g, a, b);
        rc = g->w.rc;
    }
    if (!rc)
        rc = demo__lpw_flush(&g->w);
    demo__lpw_release(&g->w);
    return rc;
}
