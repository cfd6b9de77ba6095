/*
** app/demo.c: the demo city (docs/demo.md). A pure generator, demo_generate(), writes
** line protocol for every entity of the city over a time window; demo_start() runs it in a
** thread that feeds ingest_lp: the real samples first (app/demo_samples.c), then 7 days of
** backfill, then every 10 s the points that fell due since the previous tick.
** Every value is a pure function of (seed, entity, timestamp): random numbers come from a
** counter-based hash, never from a stream, so a window split in any way yields the same points
** and the real-time ticks continue the backfill seamlessly. The only state is a cache of the
** daily routes of the trucks and cars, themselves pure functions of (seed, vehicle, day).
** Injected incidents (o->incidents_at, docs/demo.md "Injected incidents"): a leak, a stuck noise
** meter, a PM2.5 episode placed relative to that instant, and a truck that waits 45 min at a
** school gate every working morning; with incidents_at = 0 none of them exists. The rules that
** catch them are demo_rules_json().
** Owns: struct demo (thread, counters) and, per demo_generate call, struct gen (entity tables,
** route caches, the batch writer).
** Borrows: struct ingest and struct meta (kv keys demo.samples_done, demo.backfill_done and
** demo.until.<tenant>).
** Thread: demo_generate on any thread; the demo thread is the only caller of ingest_lp here.
*/
#include "app/demo.h"

#include "app/demo_samples.h"
#include "core/clock.h"
#include "core/detrand.h"
#include "core/log.h"
#include "core/vg.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define SEC_MS 1000LL
#define MIN_MS 60000LL
#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL

#define N_NOISE 20
#define N_AIR 10
#define N_CAM 8
#define N_BLD 4
#define N_HEAT 1200
#define N_TRUCK 20
#define BINS_PER_TRUCK 15
#define N_BIN (N_TRUCK * BINS_PER_TRUCK)
#define N_CAR 30
#define N_LIFT 5
#define N_POOL 4

#define NATION_LAT 48.84833
#define NATION_LON 2.39583
#define DEPOT_LAT 48.82150 /* waste depot and incinerator on the Seine, Paris 13e edge */
#define DEPOT_LON 2.39850
#define M_PER_DEG_LAT 111320.0
#define M_PER_DEG_LON 73300.0 /* at 48.85 N */

/* The school of the injected dwell: its gate, and the rectangle (about 66 x 66 m) that
** demo_rules_json() gives as the geofence. */
#define SCHOOL_LAT 48.84520
#define SCHOOL_LON 2.38480
#define SCHOOL_DLAT 0.00030
#define SCHOOL_DLON 0.00045
#define INC_LEAK_BLD 3     /* mediatheque-12 */
#define INC_LEAK_M3 0.012  /* m³ per 15 min (48 L/h), about 1.7 x its night flow */
#define INC_STUCK_NOISE 6  /* nation-07 */
#define INC_TRUCK 6        /* truck-07 */
#define INC_SCHOOL_MIN 45

#define PLAN_MAX 420
#define PLAN_SLOTS 4
#define TICK_MS (10 * SEC_MS)

/* Salts: one per random stream. Never renumber (changes every generated value). */
enum salt {
    S_LAYOUT = 1, S_PHASE, S_NOISE_SLOW, S_NOISE_WHITE, S_NOISE_SPIKE, S_NOISE_GLITCH, S_LAMAX,
    S_AIR_SLOW, S_AIR_WHITE, S_AIR_GLITCH, S_PMBG, S_CAM, S_CAM_GLITCH, S_BLD, S_HEAT,
    S_HEAT_GLITCH, S_BIN, S_BIN_GLITCH, S_TRUCK, S_WP, S_CAR, S_CAR_PM, S_LIFT, S_POOL,
    S_TSYN, S_TFAST, S_HUM, S_WIND, S_RAIN,
    /* fault schedules */
    F_NOISE_STUCK = 100, F_AIR_SILENT, F_CAM_SILENT, F_HEAT_SILENT, F_HEAT_FAIL = 110,
    F_BIN_SILENT, F_TRUCK_GPS = 120, F_LIFT = 130,
};

/* ---- Europe/Paris local time and daily profiles ---------------------------------------------- */

struct lt {
    int64_t day;   /* local days since 1970-01-01 */
    int wday;      /* 0 = Monday .. 6 = Sunday */
    double hour;   /* local hour, [0, 24) */
    int doy;       /* day of year, 0-based */
    int dom, mon;  /* day of month 1..31, month 1..12 */
};

static void ltime(int64_t t, struct lt *o)
{
    int64_t l = t + demo__cet_offset_ms(t);
    int64_t y;
    unsigned m, d;
    o->day = clock_floor_div(l, DAY_MS);
    o->hour = (double)(l - o->day * DAY_MS) / (double)HOUR_MS;
    o->wday = (int)(((o->day + 3) % 7 + 7) % 7);
    clock_civil_from_days(o->day, &y, &m, &d);
    o->doy = (int)(o->day - clock_days_from_civil(y, 1, 1));
    o->dom = (int)d;
    o->mon = (int)m;
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

/* 1 between hours a and b, with smooth edges of half-width w. */
static double bump(double h, double a, double b, double w)
{
    return sstep(a - w, a + w, h) * (1.0 - sstep(b - w, b + w, h));
}

static double peak(double h, double c, double s)
{
    double d = (h - c) / s;
    return exp(-0.5 * d * d);
}

/* Road traffic, 0..1: rush hours on working days, later and flatter at weekends, nightlife in
** the first hours of Saturday and Sunday. */
static double traffic(const struct lt *l)
{
    double h = l->hour, v;
    if (l->wday <= 4) {
        v = 0.05 + 0.5 * bump(h, 6.5, 21.0, 1.0) + 0.45 * peak(h, 8.5, 1.0) +
            0.42 * peak(h, 18.0, 1.3);
        if (l->wday == 4)
            v += 0.12 * bump(h, 20.0, 25.0, 1.0);
    } else if (l->wday == 5) {
        v = 0.1 + 0.5 * bump(h, 9.5, 23.0, 1.2) + 0.15 * peak(h, 16.0, 2.5) +
            0.2 * bump(h, -1.0, 2.5, 0.8);
    } else {
        v = 0.08 + 0.38 * bump(h, 10.0, 21.0, 1.5) + 0.2 * bump(h, -1.0, 3.0, 0.8);
    }
    return v > 1.0 ? 1.0 : v;
}

static double season_cos(const struct lt *l) /* 1 mid-January, -1 mid-July */
{
    return cos(2.0 * M_PI * (l->doy - 15) / 365.25);
}

/* ---- generator state ------------------------------------------------------------------------- */

struct ent {
    char id[72];
    char name[64];
    char district[8];
    const char *xk; /* one extra static tag */
    char xv[40];
    double lat, lon;
    double a, b;    /* per-entity constants (offsets, scales) */
    int64_t phase;  /* ms, whole seconds, < period */
};

enum seg_kind { SEG_PARK, SEG_DRIVE, SEG_STOP };

struct seg {
    int64_t t0, t1;
    double lat0, lon0, lat1, lon1;
    double c0, c1; /* cargo (kg) at t0 and t1 */
    double speed;  /* km/h while driving */
    int kind;
};

struct plan {
    int64_t day; /* local day; INT64_MIN = empty slot */
    int nseg;
    int64_t end; /* no point at or after end (end of shift) */
    int64_t visit[BINS_PER_TRUCK]; /* when each bin of the round was emptied; 0 = not visited */
    struct seg seg[PLAN_MAX];
};

struct gen {
    uint64_t seed;
    int64_t anchor;     /* o->incidents_at; 0 = no injected incident */
    int64_t anchor_day; /* its local day */
    struct demo_lpw w;
    struct ent noise[N_NOISE], air[N_AIR], cam[N_CAM], bld[N_BLD], heat[N_HEAT], bin[N_BIN],
        truck[N_TRUCK], car[N_CAR], lift[N_LIFT], pool[N_POOL], wx;
    double sector[N_TRUCK][2];
    double car_work[N_CAR][2];
    struct plan tplan[N_TRUCK][PLAN_SLOTS];
    int tnext[N_TRUCK];
    struct plan cplan[N_CAR];
    struct plan scratch;
};

/* Streets around Place de la Nation, by bearing from its centre (degrees, clockwise from N). */
static const struct {
    int bearing;
    const char *name;
} nation_streets[] = {
    {0, "avenue Philippe-Auguste"}, {30, "boulevard de Charonne"}, {60, "avenue de Taillebourg"},
    {90, "avenue du Trone"},        {125, "avenue de Saint-Mande"}, {165, "avenue du Bel-Air"},
    {200, "avenue Dorian"},         {235, "boulevard Diderot"},
    {270, "rue du Faubourg Saint-Antoine"}, {310, "boulevard Voltaire"},
};

static const char *street_at(double bearing)
{
    int best = 0;
    double bd = 1e9;
    for (size_t i = 0; i < VG_ARRAY_LEN(nation_streets); i++) {
        double d = fabs(fmod(bearing - nation_streets[i].bearing + 540.0, 360.0) - 180.0);
        if (d < bd) {
            bd = d;
            best = (int)i;
        }
    }
    return nation_streets[best].name;
}

static const struct {
    const char *slug, *name;
    double lat, lon, size;
} buildings[N_BLD] = {
    {"mairie-12", "Mairie du 12e", 48.8405, 2.3880, 1.0},
    {"mairie-11", "Mairie du 11e", 48.8575, 2.3794, 0.9},
    {"mairie-20", "Mairie du 20e", 48.8650, 2.3990, 0.8},
    {"mediatheque-12", "Mediatheque Helene Berr", 48.8432, 2.4003, 0.5},
};

static const struct {
    const char *slug, *name;
    double lat, lon;
    int capacity;
} pools[N_POOL] = {
    {"roger-le-gall", "Piscine Roger Le Gall", 48.8447, 2.4132, 350},
    {"reuilly", "Piscine Reuilly", 48.8408, 2.3925, 220},
    {"georges-rigal", "Piscine Georges Rigal", 48.8558, 2.3925, 250},
    {"yves-blanc", "Piscine Yves Blanc", 48.8639, 2.3794, 120},
};

static int64_t phase_of(const struct gen *g, uint64_t salt, int i, int64_t period)
{
    return (int64_t)(det_hash(g->seed, S_PHASE, salt, (uint64_t)i) % (uint64_t)(period / SEC_MS)) *
           SEC_MS;
}

static void ent_set(struct ent *e, const char *type, const char *slug, double lat, double lon)
{
    snprintf(e->id, sizeof(e->id), "urn:ngsi-ld:%s:%s", type, slug);
    e->lat = lat;
    e->lon = lon;
    snprintf(e->district, sizeof(e->district), "750%02d", demo__district_of(lat, lon) % 100);
}

/* Random point within +-dlat, +-dlon of (lat, lon). */
static void jitter(uint64_t h, double lat, double lon, double dlat, double dlon, double *olat,
                   double *olon)
{
    *olat = lat + (det_u01(det_mix64(h)) * 2.0 - 1.0) * dlat;
    *olon = lon + (det_u01(det_mix64(h ^ 0x5555)) * 2.0 - 1.0) * dlon;
}

static void layout(struct gen *g)
{
    uint64_t s = g->seed;
    char slug[32];
    for (int i = 0; i < N_NOISE; i++) {
        struct ent *e = &g->noise[i];
        double brg = i * 18.0 + det_u01(det_hash(s, S_LAYOUT, 1, (uint64_t)i)) * 10.0;
        double r = 100.0 + 80.0 * det_u01(det_hash(s, S_LAYOUT, 2, (uint64_t)i));
        snprintf(slug, sizeof(slug), "nation-%02d", i + 1);
        ent_set(e, "NoiseLevelObserved", slug,
                NATION_LAT + r * cos(brg * M_PI / 180) / M_PER_DEG_LAT,
                NATION_LON + r * sin(brg * M_PI / 180) / M_PER_DEG_LON);
        snprintf(e->name, sizeof(e->name), "Nation %02d, %s", i + 1, street_at(brg));
        e->a = -2.0 + 4.0 * det_u01(det_hash(s, S_LAYOUT, 3, (uint64_t)i)); /* dB offset */
        e->phase = phase_of(g, 1, i, MIN_MS);
    }
    for (int i = 0; i < N_AIR; i++) {
        struct ent *e = &g->air[i];
        double brg = i * 36.0 + 15.0 * det_u01(det_hash(s, S_LAYOUT, 4, (uint64_t)i));
        double r = 80.0 + 170.0 * det_u01(det_hash(s, S_LAYOUT, 5, (uint64_t)i));
        snprintf(slug, sizeof(slug), "nation-%02d", i + 1);
        ent_set(e, "AirQualityObserved", slug,
                NATION_LAT + r * cos(brg * M_PI / 180) / M_PER_DEG_LAT,
                NATION_LON + r * sin(brg * M_PI / 180) / M_PER_DEG_LON);
        snprintf(e->name, sizeof(e->name), "Nation air %02d, %s", i + 1, street_at(brg));
        e->a = 0.7 + 0.6 * det_u01(det_hash(s, S_LAYOUT, 6, (uint64_t)i)); /* traffic exposure */
        e->phase = phase_of(g, 2, i, MIN_MS);
    }
    for (int i = 0; i < N_CAM; i++) {
        struct ent *e = &g->cam[i];
        double brg = i * 45.0 + 10.0;
        snprintf(slug, sizeof(slug), "nation-cam-%02d", i + 1);
        ent_set(e, "TrafficFlowObserved", slug,
                NATION_LAT + 140.0 * cos(brg * M_PI / 180) / M_PER_DEG_LAT,
                NATION_LON + 140.0 * sin(brg * M_PI / 180) / M_PER_DEG_LON);
        snprintf(e->name, sizeof(e->name), "Nation camera %02d, %s", i + 1, street_at(brg));
        e->a = 0.5 + 0.8 * det_u01(det_hash(s, S_LAYOUT, 7, (uint64_t)i)); /* approach size */
        e->phase = phase_of(g, 3, i, 5 * MIN_MS);
    }
    for (int i = 0; i < N_BLD; i++) {
        struct ent *e = &g->bld[i];
        ent_set(e, "Building", buildings[i].slug, buildings[i].lat, buildings[i].lon);
        snprintf(e->name, sizeof(e->name), "%s", buildings[i].name);
        e->a = buildings[i].size;
        e->phase = phase_of(g, 4, i, 15 * MIN_MS);
    }
    for (int i = 0; i < N_HEAT; i++) {
        struct ent *e = &g->heat[i];
        int arr = 1 + (int)(det_hash(s, S_LAYOUT, 8, (uint64_t)i) % 20);
        double clat, clon, lat, lon;
        demo__district_center(arr, &clat, &clon);
        jitter(det_hash(s, S_LAYOUT, 9, (uint64_t)i), clat, clon, 0.006, 0.009, &lat, &lon);
        snprintf(slug, sizeof(slug), "hp-%04d", i + 1);
        ent_set(e, "HeatingPlant", slug, lat, lon);
        snprintf(e->district, sizeof(e->district), "750%02d", arr);
        e->xk = "building";
        snprintf(e->xv, sizeof(e->xv), "Residence %02d-%04d", arr, i + 1);
        e->a = -3.0 + 6.0 * det_u01(det_hash(s, S_LAYOUT, 10, (uint64_t)i)); /* curve offset */
        e->phase = phase_of(g, 5, i, 15 * MIN_MS);
    }
    for (int k = 0; k < N_TRUCK; k++) {
        int r = k / 5, c = k % 5;
        g->sector[k][0] = NATION_LAT + (r - 1.5) * 0.0085;
        g->sector[k][1] = NATION_LON + (c - 2) * 0.0125;
        struct ent *e = &g->truck[k];
        snprintf(slug, sizeof(slug), "truck-%02d", k + 1);
        ent_set(e, "Vehicle", slug, DEPOT_LAT, DEPOT_LON);
        snprintf(e->name, sizeof(e->name), "Collection truck %02d", k + 1);
        e->xk = "vehicleType";
        snprintf(e->xv, sizeof(e->xv), "lorry");
        e->phase = phase_of(g, 6, k, 10 * SEC_MS);
    }
    for (int i = 0; i < N_BIN; i++) {
        struct ent *e = &g->bin[i];
        int k = i / BINS_PER_TRUCK;
        double lat, lon;
        jitter(det_hash(s, S_LAYOUT, 11, (uint64_t)i), g->sector[k][0], g->sector[k][1], 0.0035,
               0.0052, &lat, &lon);
        snprintf(slug, sizeof(slug), "bin-%03d", i + 1);
        ent_set(e, "WasteContainer", slug, lat, lon);
        e->xk = "route";
        snprintf(e->xv, sizeof(e->xv), "truck-%02d", k + 1);
        e->a = 0.03 + 0.025 * det_u01(det_hash(s, S_LAYOUT, 12, (uint64_t)i)); /* fill per activity-h */
        e->phase = phase_of(g, 7, i, HOUR_MS);
    }
    for (int i = 0; i < N_CAR; i++) {
        struct ent *e = &g->car[i];
        double clat, clon, lat, lon;
        demo__district_center(1 + (int)(det_hash(s, S_LAYOUT, 13, (uint64_t)i) % 20), &clat, &clon);
        jitter(det_hash(s, S_LAYOUT, 14, (uint64_t)i), clat, clon, 0.006, 0.009, &lat, &lon);
        snprintf(slug, sizeof(slug), "car-%02d", i + 1);
        ent_set(e, "Vehicle", slug, lat, lon);
        snprintf(e->name, sizeof(e->name), "Sensor car %02d", i + 1);
        e->xk = "vehicleType";
        snprintf(e->xv, sizeof(e->xv), "car");
        demo__district_center(1 + (int)(det_hash(s, S_LAYOUT, 15, (uint64_t)i) % 20), &clat, &clon);
        jitter(det_hash(s, S_LAYOUT, 16, (uint64_t)i), clat, clon, 0.006, 0.009, &g->car_work[i][0],
               &g->car_work[i][1]);
        e->phase = phase_of(g, 8, i, 30 * SEC_MS);
    }
    for (int i = 0; i < N_LIFT; i++) {
        struct ent *e = &g->lift[i];
        double lat, lon;
        jitter(det_hash(s, S_LAYOUT, 17, (uint64_t)i), 48.8725, 2.3900, 0.006, 0.009, &lat, &lon);
        snprintf(slug, sizeof(slug), "lift-%02d", i + 1);
        ent_set(e, "Elevator", slug, lat, lon);
        snprintf(e->name, sizeof(e->name), "Public lift %02d", i + 1);
        e->phase = phase_of(g, 9, i, 5 * MIN_MS);
    }
    for (int i = 0; i < N_POOL; i++) {
        struct ent *e = &g->pool[i];
        ent_set(e, "SwimmingPool", pools[i].slug, pools[i].lat, pools[i].lon);
        snprintf(e->name, sizeof(e->name), "%s", pools[i].name);
        e->a = pools[i].capacity;
        e->phase = phase_of(g, 10, i, 15 * MIN_MS);
    }
    ent_set(&g->wx, "WeatherObserved", "paris-montsouris", 48.8222, 2.3378);
    snprintf(g->wx.name, sizeof(g->wx.name), "Paris Montsouris");
    g->wx.phase = 0;
}

static struct gen *gen_new(uint64_t seed)
{
    struct gen *g = vg_calloc(1, sizeof(*g));
    g->seed = seed;
    for (int k = 0; k < N_TRUCK; k++)
        for (int j = 0; j < PLAN_SLOTS; j++)
            g->tplan[k][j].day = INT64_MIN;
    for (int k = 0; k < N_CAR; k++)
        g->cplan[k].day = INT64_MIN;
    layout(g);
    return g;
}

/* ---- shared signals -------------------------------------------------------------------------- */

static double temp_out(const struct gen *g, int64_t t, const struct lt *l)
{
    double sc = season_cos(l);
    double mean = 12.3 - 7.8 * sc;
    double amp = 3.0 + 0.9 * (1.0 - sc);
    double diurnal = -amp * cos(2.0 * M_PI * (l->hour - 3.5) / 24.0);
    return mean + diurnal + 3.0 * det_vnoise(g->seed, S_TSYN, 0, t, 20 * HOUR_MS) +
           0.6 * det_vnoise(g->seed, S_TFAST, 0, t, 2 * HOUR_MS);
}

/* Rain in mm per 10 min: showers in about one 3-hour block out of six. */
static double rain(const struct gen *g, int64_t t)
{
    int64_t blk = clock_floor_div(t, 3 * HOUR_MS);
    uint64_t h = det_hash(g->seed, S_RAIN, 0, (uint64_t)blk);
    if (det_u01(h) >= 0.17)
        return 0.0;
    double f = (double)(t - blk * 3 * HOUR_MS) / (3.0 * HOUR_MS);
    double v = 1.2 * det_u01(det_mix64(h)) * sin(M_PI * f) *
               (0.5 + 0.5 * det_vnoise(g->seed, S_RAIN, 1, t, 20 * MIN_MS));
    return v > 0.0 ? v : 0.0;
}

static double pm_background(const struct gen *g, int64_t t, const struct lt *l)
{
    double v = 10.0 + 4.0 * det_vnoise(g->seed, S_PMBG, 0, t, 30 * HOUR_MS) +
               3.0 * (season_cos(l) + 1.0) / 2.0 + 1.5 * peak(l->hour, 21.0, 3.0);
    return v < 3.0 ? 3.0 : v;
}

/* Is entity idx inside a fault window of this schedule? Each UTC day, with probability prob,
** one entity out of n (drawn from the seed) is hit from a random instant for min_h..max_h. */
struct fwin {
    int64_t t0, t1;
};

static int fault_at(const struct gen *g, int salt, int n, double prob, double min_h, double max_h,
                    int idx, int64_t t, struct fwin *w)
{
    int64_t day = clock_floor_div(t, DAY_MS);
    int64_t back = (int64_t)ceil(max_h / 24.0);
    for (int64_t d = day - back; d <= day; d++) {
        if (det_u01(det_hash(g->seed, (uint64_t)salt, (uint64_t)d, 0)) >= prob)
            continue;
        if ((int)(det_hash(g->seed, (uint64_t)salt, (uint64_t)d, 1) % (uint64_t)n) != idx)
            continue;
        int64_t t0 = d * DAY_MS +
                     (int64_t)(det_u01(det_hash(g->seed, (uint64_t)salt, (uint64_t)d, 2)) * 1440) * MIN_MS;
        double dur = min_h + (max_h - min_h) * det_u01(det_hash(g->seed, (uint64_t)salt, (uint64_t)d, 3));
        int64_t t1 = t0 + (int64_t)(dur * 60) * MIN_MS;
        if (t >= t0 && t < t1) {
            if (w) {
                w->t0 = t0;
                w->t1 = t1;
            }
            return 1;
        }
    }
    return 0;
}

static int64_t first_slot(int64_t a, int64_t period, int64_t phase)
{
    return clock_floor_div(a - phase + period - 1, period) * period + phase;
}

/* Static entities repeat their location once per UTC day (first reading of the day). */
static int first_of_day(int64_t t, int64_t period)
{
    return t - clock_floor_div(t, DAY_MS) * DAY_MS < period;
}

static void line_head(struct gen *g, const char *meas, const struct ent *e, const char *kind)
{
    demo__lpw_begin(&g->w, meas);
    demo__lpw_tag(&g->w, "id", e->id);
    demo__lpw_tag(&g->w, "district", e->district);
    demo__lpw_tag(&g->w, "kind", kind);
    demo__lpw_tag(&g->w, "name", e->name);
    if (e->xk)
        demo__lpw_tag(&g->w, e->xk, e->xv);
}

static int64_t count_of(double mean, uint64_t h)
{
    if (mean < 0.0)
        mean = 0.0;
    double v = mean + sqrt(mean + 1.0) * det_gauss(h);
    return v < 0.0 ? 0 : llround(v);
}

/* ---- Place de la Nation: noise, air, cameras ------------------------------------------------- */

static double noise_laeq(const struct gen *g, int i, int64_t t)
{
    struct lt l;
    ltime(t, &l);
    return 54.0 + 17.0 * traffic(&l) + g->noise[i].a +
           1.3 * det_vnoise(g->seed, S_NOISE_SLOW, (uint64_t)i, t, 20 * MIN_MS) +
           0.8 * det_gauss(det_hash(g->seed, S_NOISE_WHITE, (uint64_t)i, (uint64_t)t));
}

/* Injected: nation-07 stuck from 90 min before the anchor to 150 min after it (so a stuck alert
** is already open when the demo starts, and clears in real time). */
static int inc_noise_stuck(const struct gen *g, int i, int64_t t, struct fwin *w)
{
    if (!g->anchor || i != INC_STUCK_NOISE)
        return 0;
    w->t0 = first_slot(g->anchor - 90 * MIN_MS, MIN_MS, g->noise[i].phase);
    w->t1 = g->anchor + 150 * MIN_MS;
    return t >= w->t0 && t < w->t1;
}

static void gen_noise(struct gen *g, int64_t a, int64_t b)
{
    for (int i = 0; i < N_NOISE; i++) {
        const struct ent *e = &g->noise[i];
        for (int64_t t = first_slot(a, MIN_MS, e->phase); t < b; t += MIN_MS) {
            struct fwin fw;
            double laeq, lamax;
            if (inc_noise_stuck(g, i, t, &fw) ||
                fault_at(g, F_NOISE_STUCK, N_NOISE, 0.7, 2, 6, i, t, &fw)) {
                /* stuck: repeats the reading taken when the fault began */
                laeq = noise_laeq(g, i, fw.t0);
                lamax = laeq + 7.0;
            } else {
                laeq = noise_laeq(g, i, t);
                lamax = laeq + 7.0 + 3.0 * fabs(det_gauss(det_hash(g->seed, S_LAMAX, (uint64_t)i,
                                                           (uint64_t)t)));
                uint64_t hs = det_hash(g->seed, S_NOISE_SPIKE, (uint64_t)i, (uint64_t)t);
                if (det_u01(hs) < 0.002) { /* horn, siren, motorbike */
                    laeq += 8.0 + 10.0 * det_u01(det_mix64(hs));
                    lamax += 18.0 + 12.0 * det_u01(det_mix64(hs + 1));
                }
                if (det_u01(det_hash(g->seed, S_NOISE_GLITCH, (uint64_t)i, (uint64_t)t)) < 0.0002)
                    laeq = lamax = 0.0; /* glitch: the meter reports zero */
            }
            line_head(g, "NoiseLevelObserved", e, "noise");
            demo__lpw_f64(&g->w, "LAeq", laeq, 1);
            demo__lpw_f64(&g->w, "LAmax", lamax, 1);
            if (first_of_day(t, MIN_MS))
                demo__lpw_geo(&g->w, e->lat, e->lon);
            demo__lpw_end(&g->w, t);
        }
    }
}

/* Injected: a PM2.5 episode on nation-03 and nation-04 the afternoon before the anchor's day,
** above 50 from 14:00 to 19:00 local (62 and 70 µg/m³), with ramps of 1 h. Returns the weight of
** the episode at t (0..1) and its level. */
static double inc_pm_episode(const struct gen *g, int i, int64_t t, double *level)
{
    if (!g->anchor || (i != 2 && i != 3))
        return 0.0;
    int64_t t0 = local_day_start(g->anchor_day - 1) + 14 * HOUR_MS, t1 = t0 + 5 * HOUR_MS;
    *level = i == 2 ? 62.0 : 70.0;
    if (t >= t0 && t < t1)
        return 1.0;
    if (t >= t0 - HOUR_MS && t < t0)
        return 1.0 - (double)(t0 - t) / HOUR_MS;
    if (t >= t1 && t < t1 + HOUR_MS)
        return 1.0 - (double)(t - t1) / HOUR_MS;
    return 0.0;
}

static void gen_air(struct gen *g, int64_t a, int64_t b)
{
    for (int i = 0; i < N_AIR; i++) {
        const struct ent *e = &g->air[i];
        for (int64_t t = first_slot(a, MIN_MS, e->phase); t < b; t += MIN_MS) {
            double level = 0.0, ep = inc_pm_episode(g, i, t, &level);
            if (ep == 0.0 && fault_at(g, F_AIR_SILENT, N_AIR, 0.8, 3, 8, i, t, NULL))
                continue; /* silent: a gap (never during the injected episode) */
            struct lt l;
            ltime(t, &l);
            double tp = traffic(&l);
            uint64_t hw = det_hash(g->seed, S_AIR_WHITE, (uint64_t)i, (uint64_t)t);
            double slow = det_vnoise(g->seed, S_AIR_SLOW, (uint64_t)i, t, HOUR_MS);
            double pm25 = pm_background(g, t, &l) + 7.0 * tp * e->a + 1.2 * det_gauss(hw);
            double pm10 = pm25 * 1.45 + 3.0 + 1.5 * det_gauss(det_mix64(hw));
            double no2 = 18.0 + 48.0 * tp * e->a + 6.0 * slow + 3.0 * det_gauss(det_mix64(hw + 1));
            pm25 = fmax(pm25, 0.5);
            pm10 = fmax(pm10, pm25);
            no2 = fmax(no2, 1.0);
            if (ep >= 1.0) /* the plateau stays above 50 whatever the noise */
                pm25 = fmax(level + 2.5 * det_gauss(det_mix64(hw + 2)), 52.0);
            else if (ep > 0.0)
                pm25 += (fmin(level, 49.0) - pm25) * ep;
            if (ep > 0.0)
                pm10 = fmax(pm25 * 1.45 + 3.0 + 1.5 * det_gauss(det_mix64(hw)), pm25);
            else if (det_u01(det_hash(g->seed, S_AIR_GLITCH, (uint64_t)i, (uint64_t)t)) < 0.0002)
                pm25 = 999.9; /* glitch: saturated optical counter */
            line_head(g, "AirQualityObserved", e, "air");
            demo__lpw_f64(&g->w, "pm25", pm25, 1);
            demo__lpw_f64(&g->w, "pm10", pm10, 1);
            demo__lpw_f64(&g->w, "no2", no2, 1);
            if (first_of_day(t, MIN_MS))
                demo__lpw_geo(&g->w, e->lat, e->lon);
            demo__lpw_end(&g->w, t);
        }
    }
}

static void gen_cam(struct gen *g, int64_t a, int64_t b)
{
    const int64_t P = 5 * MIN_MS;
    for (int i = 0; i < N_CAM; i++) {
        const struct ent *e = &g->cam[i];
        for (int64_t t = first_slot(a, P, e->phase); t < b; t += P) {
            if (fault_at(g, F_CAM_SILENT, N_CAM, 0.4, 1, 3, i, t, NULL))
                continue;
            struct lt l;
            ltime(t, &l);
            double h = l.hour, tp = traffic(&l), sc = e->a, bikes, peds, deliv;
            if (l.wday <= 4) {
                bikes = 0.08 + 0.3 * bump(h, 7, 21, 1) + 0.7 * peak(h, 8.6, 0.8) +
                        0.6 * peak(h, 18.2, 1.0);
                peds = 0.05 + 0.45 * bump(h, 7.5, 22, 1) + 0.35 * peak(h, 12.8, 1.0) +
                       0.3 * peak(h, 18.3, 1.2);
                deliv = 0.2 * tp + bump(h, 5.5, 12.0, 1.0);
            } else {
                bikes = 0.08 + 0.45 * bump(h, 10, 19, 1.5);
                peds = 0.06 + 0.6 * bump(h, 10, 20.5, 1.5) + 0.2 * peak(h, 16, 2);
                deliv = 0.3 * tp;
            }
            uint64_t hc = det_hash(g->seed, S_CAM, (uint64_t)i, (uint64_t)t);
            int64_t cars = count_of(150.0 * sc * tp, hc);
            if (det_u01(det_hash(g->seed, S_CAM_GLITCH, (uint64_t)i, (uint64_t)t)) < 0.00025)
                cars = 65535; /* glitch: counter overflow */
            line_head(g, "TrafficFlowObserved", e, "mobility");
            demo__lpw_i64(&g->w, "pedestrians", count_of(200.0 * sc * peds, det_mix64(hc + 1)));
            demo__lpw_i64(&g->w, "bikes", count_of(55.0 * sc * bikes, det_mix64(hc + 2)));
            demo__lpw_i64(&g->w, "motorbikes", count_of(28.0 * sc * tp, det_mix64(hc + 3)));
            demo__lpw_i64(&g->w, "cars", cars);
            demo__lpw_i64(&g->w, "heavyVehicles", count_of(14.0 * sc * deliv, det_mix64(hc + 4)));
            if (first_of_day(t, P))
                demo__lpw_geo(&g->w, e->lat, e->lon);
            demo__lpw_end(&g->w, t);
        }
    }
}

/* ---- buildings and heating plants ------------------------------------------------------------ */

static void gen_bld(struct gen *g, int64_t a, int64_t b)
{
    const int64_t P = 15 * MIN_MS;
    for (int i = 0; i < N_BLD; i++) {
        const struct ent *e = &g->bld[i];
        for (int64_t t = first_slot(a, P, e->phase); t < b; t += P) {
            struct lt l;
            ltime(t, &l);
            double h = l.hour, occ, s = e->a;
            int heat_on;
            if (l.wday <= 4) {
                occ = 0.9 * bump(h, 8.5, 18.5, 0.7) * (1.0 - 0.3 * peak(h, 12.8, 0.6));
                heat_on = h >= 6.0 && h < 19.0;
            } else if (l.wday == 5 && i < 3) { /* town halls: Saturday weddings */
                occ = 0.3 * bump(h, 9.5, 12.5, 0.5);
                heat_on = h >= 8.0 && h < 13.0;
            } else {
                occ = 0.0;
                heat_on = 0;
            }
            uint64_t hb = det_hash(g->seed, S_BLD, (uint64_t)i, (uint64_t)t);
            double tout = temp_out(g, t, &l);
            double demand = fmax(0.0, 17.0 - tout) / 15.0;
            double elec = s * (6.0 + 40.0 * occ) * (1.0 + 0.06 * det_gauss(hb));
            double gas = s * (heat_on ? 1.0 + 6.0 * demand : 0.3 * demand) *
                         (1.0 + 0.05 * det_gauss(det_mix64(hb)));
            double water = s * (0.02 + 0.6 * occ) * (1.0 + 0.2 * det_gauss(det_mix64(hb + 1)));
            if (g->anchor && i == INC_LEAK_BLD &&
                t >= local_day_start(g->anchor_day - 3) + 10 * HOUR_MS)
                water += INC_LEAK_M3; /* injected leak, from 10:00 three days before the anchor */
            double tin = heat_on ? 20.5 + 0.8 * occ : 17.5 + 0.1 * tout;
            if (tout > 22.0)
                tin = 22.0 + (tout - 22.0) * 0.4;
            tin += 0.2 * det_gauss(det_mix64(hb + 2));
            double co2 = 420.0 + 650.0 * occ + 25.0 * det_gauss(det_mix64(hb + 3));
            line_head(g, "Building", e, "energy");
            demo__lpw_f64(&g->w, "electricityConsumption", fmax(elec, 0.5), 2);
            demo__lpw_f64(&g->w, "gasConsumption", fmax(gas, 0.0), 3);
            demo__lpw_f64(&g->w, "waterConsumption", fmax(water, 0.0), 3);
            demo__lpw_f64(&g->w, "temperature", tin, 1);
            demo__lpw_f64(&g->w, "co2", fmax(co2, 380.0), 0);
            if (first_of_day(t, P))
                demo__lpw_geo(&g->w, e->lat, e->lon);
            demo__lpw_end(&g->w, t);
        }
    }
}

static void gen_heat(struct gen *g, int64_t a, int64_t b)
{
    const int64_t P = 15 * MIN_MS;
    for (int i = 0; i < N_HEAT; i++) {
        const struct ent *e = &g->heat[i];
        for (int64_t t = first_slot(a, P, e->phase); t < b; t += P) {
            int silent = 0;
            for (int k = 0; k < 3 && !silent; k++)
                silent = fault_at(g, F_HEAT_SILENT + k, N_HEAT, 0.9, 4, 20, i, t, NULL);
            if (silent)
                continue;
            struct lt l;
            ltime(t, &l);
            uint64_t hh = det_hash(g->seed, S_HEAT, (uint64_t)i, (uint64_t)t);
            double tout = temp_out(g, t, &l);
            double supply = 30.0 + 1.6 * (20.0 - tout);
            supply = supply < 38.0 ? 38.0 : supply > 80.0 ? 80.0 : supply;
            if (l.hour >= 22.0 || l.hour < 5.0)
                supply -= 6.0; /* night setback */
            supply += e->a + 0.5 * det_gauss(hh);
            if (fault_at(g, F_HEAT_FAIL, N_HEAT, 0.5, 6, 30, i, t, NULL))
                supply = 18.0 + 0.2 * tout + 0.3 * det_gauss(hh); /* burner failure */
            if (det_u01(det_hash(g->seed, S_HEAT_GLITCH, (uint64_t)i, (uint64_t)t)) < 0.00005)
                supply = -127.0; /* glitch: probe disconnected */
            double hum = 50.0 +
                         8.0 * det_vnoise(g->seed, S_HEAT, (uint64_t)i + 100000, t, 6 * HOUR_MS) +
                         1.0 * det_gauss(det_mix64(hh));
            hum = hum < 20.0 ? 20.0 : hum > 95.0 ? 95.0 : hum;
            line_head(g, "HeatingPlant", e, "energy");
            demo__lpw_f64(&g->w, "supplyTemperature", supply, 1);
            demo__lpw_f64(&g->w, "humidity", hum, 1);
            if (first_of_day(t, P))
                demo__lpw_geo(&g->w, e->lat, e->lon);
            demo__lpw_end(&g->w, t);
        }
    }
}

/* ---- routes of the trucks and cars ----------------------------------------------------------- */

struct pb {
    struct plan *p;
    int64_t t, limit;
    double lat, lon, cargo;
};

static void pb_push(struct pb *b, int kind, int64_t dur, double lat1, double lon1, double c1,
                    double speed)
{
    struct plan *p = b->p;
    if (dur <= 0 || p->nseg >= PLAN_MAX || b->t >= b->limit) {
        b->t += dur > 0 ? dur : 0;
        return;
    }
    struct seg *s = &p->seg[p->nseg++];
    s->t0 = b->t;
    s->t1 = b->t + dur;
    s->lat0 = b->lat;
    s->lon0 = b->lon;
    s->lat1 = lat1;
    s->lon1 = lon1;
    s->c0 = b->cargo;
    s->c1 = c1;
    s->speed = speed;
    s->kind = kind;
    b->t = s->t1;
    b->lat = lat1;
    b->lon = lon1;
    b->cargo = c1;
}

/* Straight leg along one axis at kmh; then the builder stands at (lat, lon). */
static void pb_leg(struct pb *b, double lat, double lon, double kmh)
{
    double m = fabs(lat - b->lat) * M_PER_DEG_LAT + fabs(lon - b->lon) * M_PER_DEG_LON;
    int64_t dur = (int64_t)(m / (kmh / 3.6) * 1000.0);
    if (dur < SEC_MS) {
        b->lat = lat;
        b->lon = lon;
        return;
    }
    pb_push(b, SEG_DRIVE, dur, lat, lon, b->cargo, kmh);
}

/* Drive "along the streets": east-west first, then north-south. */
static void pb_drive(struct pb *b, double lat, double lon, double kmh)
{
    pb_leg(b, b->lat, lon, kmh);
    pb_leg(b, lat, lon, kmh);
}

static void pb_stop(struct pb *b, int64_t dur, double c1)
{
    pb_push(b, SEG_STOP, dur, b->lat, b->lon, c1, 0.0);
}

static double bin_activity(int64_t t)
{
    struct lt l;
    ltime(t, &l);
    double w = l.wday == 5 ? 1.2 : l.wday == 6 ? 1.1 : 1.0;
    return w * (0.15 + 0.85 * bump(l.hour, 7.5, 22.5, 1.2));
}

/* Fill level of bin bi at t if it was emptied at t0 (unclamped). */
static double bin_fill_since(const struct gen *g, int bi, int64_t t0, int64_t t)
{
    double sum = 0.0;
    for (int64_t x = t0; x < t; x += HOUR_MS) {
        int64_t dt = t - x < HOUR_MS ? t - x : HOUR_MS;
        sum += bin_activity(x + dt / 2) * (double)dt / (double)HOUR_MS;
    }
    return g->bin[bi].a * sum;
}

/* Daily round of truck k on local day lday: 06:00-14:00 shift, from the depot through its
** sector, 6 street stops (ordinary bins) before each of its 15 connected bins, then back to the
** depot to unload. With cargo, the weight picked at each connected bin follows the bin's fill,
** which depends on when it was emptied the previous working day (timing only: no recursion). */
static void truck_plan(struct gen *g, int k, int64_t lday, struct plan *p, int with_cargo)
{
    uint64_t s = g->seed;
    int64_t prev_visit[BINS_PER_TRUCK];
    memset(p->visit, 0, sizeof(p->visit));
    p->day = lday;
    p->nseg = 0;
    p->end = 0;
    int wday = (int)(((lday + 3) % 7 + 7) % 7);
    if (wday == 6)
        return; /* no collection on Sundays */
    memset(prev_visit, 0, sizeof(prev_visit));
    if (with_cargo) {
        for (int64_t d = lday - 1; d >= lday - 3; d--) {
            truck_plan(g, k, d, &g->scratch, 0);
            if (g->scratch.end) {
                memcpy(prev_visit, g->scratch.visit, sizeof(prev_visit));
                break;
            }
        }
    }
    int64_t ds = local_day_start(lday);
    struct pb b = {p, ds + 6 * HOUR_MS, ds + 14 * HOUR_MS, DEPOT_LAT, DEPOT_LON, 0.0};
    p->end = b.limit;
    pb_stop(&b, (int64_t)(det_hash(s, S_TRUCK, (uint64_t)k, (uint64_t)lday) % 900) * SEC_MS, 0.0);
    if (g->anchor && k == INC_TRUCK) { /* injected: waits at the school gate every morning */
        pb_drive(&b, SCHOOL_LAT, SCHOOL_LON, 20.0);
        pb_stop(&b, INC_SCHOOL_MIN * MIN_MS, 0.0);
    }
    int rev = (int)(lday & 1);
    for (int j = 0; j < BINS_PER_TRUCK; j++) {
        int jj = rev ? BINS_PER_TRUCK - 1 - j : j;
        int bi = k * BINS_PER_TRUCK + jj;
        for (int w = 0; w < 6; w++) {
            uint64_t hw = det_hash(s, S_WP, (uint64_t)(k * 1000 + jj * 10 + w), (uint64_t)lday);
            double lat, lon;
            jitter(hw, g->sector[k][0], g->sector[k][1], 0.0035, 0.0052, &lat, &lon);
            pb_drive(&b, lat, lon, 12.0 + 8.0 * det_u01(det_mix64(hw + 1)));
            pb_stop(&b, 40 * SEC_MS, b.cargo + 45.0 + 30.0 * det_u01(det_mix64(hw + 2)));
        }
        pb_drive(&b, g->bin[bi].lat, g->bin[bi].lon, 15.0);
        double fill = 0.0;
        if (with_cargo) {
            int64_t t0 = prev_visit[jj] ? prev_visit[jj] : b.t - 36 * HOUR_MS;
            fill = fmin(1.0, bin_fill_since(g, bi, t0, b.t));
        }
        pb_stop(&b, 150 * SEC_MS, b.cargo + 110.0 * fill);
        if (b.t < b.limit)
            p->visit[jj] = b.t;
    }
    pb_drive(&b, DEPOT_LAT, DEPOT_LON, 25.0);
    pb_stop(&b, 20 * MIN_MS, 0.0); /* unload */
    if (b.t < b.limit)
        pb_push(&b, SEG_PARK, b.limit - b.t, DEPOT_LAT, DEPOT_LON, 0.0, 0.0);
}

static const struct plan *truck_plan_get(struct gen *g, int k, int64_t lday)
{
    for (int j = 0; j < PLAN_SLOTS; j++)
        if (g->tplan[k][j].day == lday)
            return &g->tplan[k][j];
    struct plan *p = &g->tplan[k][g->tnext[k]];
    g->tnext[k] = (g->tnext[k] + 1) % PLAN_SLOTS;
    truck_plan(g, k, lday, p, 1);
    return p;
}

/* Car trips of local day lday: commutes on working days (and sometimes an errand at lunch),
** one or two outings at weekends. Only the driving segments exist. */
static void car_plan(struct gen *g, int c, int64_t lday, struct plan *p)
{
    uint64_t s = g->seed;
    p->day = lday;
    p->nseg = 0;
    p->end = INT64_MAX;
    int wday = (int)(((lday + 3) % 7 + 7) % 7);
    int64_t ds = local_day_start(lday);
    double home[2] = {g->car[c].lat, g->car[c].lon};
    double work[2] = {g->car_work[c][0], g->car_work[c][1]};
    double from[6][2], to[6][2];
    int64_t start[6];
    int n = 0;
    uint64_t h = det_hash(s, S_CAR, (uint64_t)c, (uint64_t)lday);
    if (wday <= 4) {
        start[n] = ds + (int64_t)((7.25 + 1.5 * det_u01(det_mix64(h + 1))) * HOUR_MS);
        memcpy(from[n], home, sizeof(home));
        memcpy(to[n++], work, sizeof(work));
        if (det_u01(det_mix64(h + 2)) < 0.4) {
            double e[2];
            jitter(det_mix64(h + 3), work[0], work[1], 0.012, 0.018, &e[0], &e[1]);
            start[n] = ds + (int64_t)((12.0 + 2.0 * det_u01(det_mix64(h + 4))) * HOUR_MS);
            memcpy(from[n], work, sizeof(work));
            memcpy(to[n++], e, sizeof(e));
            start[n] = start[n - 1] + 75 * MIN_MS;
            memcpy(from[n], e, sizeof(e));
            memcpy(to[n++], work, sizeof(work));
        }
        start[n] = ds + (int64_t)((17.0 + 2.0 * det_u01(det_mix64(h + 5))) * HOUR_MS);
        memcpy(from[n], work, sizeof(work));
        memcpy(to[n++], home, sizeof(home));
    } else {
        int outings = 1 + (int)(det_mix64(h + 6) % 2);
        for (int o = 0; o < outings; o++) {
            double e[2], dl, dn;
            demo__district_center(1 + (int)(det_mix64(h + 7 + (uint64_t)o) % 20), &dl, &dn);
            jitter(det_mix64(h + 9 + (uint64_t)o), dl, dn, 0.006, 0.009, &e[0], &e[1]);
            start[n] = ds + (int64_t)((10.0 + 3.0 * o + 2.5 * det_u01(det_mix64(h + 11 + (uint64_t)o))) *
                                      HOUR_MS);
            memcpy(from[n], home, sizeof(home));
            memcpy(to[n++], e, sizeof(e));
            start[n] = start[n - 1] + (int64_t)((1.0 + det_u01(det_mix64(h + 13 + (uint64_t)o))) *
                                                HOUR_MS);
            memcpy(from[n], e, sizeof(e));
            memcpy(to[n++], home, sizeof(home));
        }
    }
    struct pb b = {p, 0, INT64_MAX, 0, 0, 0};
    for (int i = 0; i < n; i++) {
        if (start[i] < b.t + 10 * MIN_MS)
            start[i] = b.t + 10 * MIN_MS;
        b.t = start[i];
        b.lat = from[i][0];
        b.lon = from[i][1];
        for (int w = 1; w <= 3; w++) { /* two waypoints off the straight line, then arrive */
            double f = w / 3.0, lat = from[i][0] + (to[i][0] - from[i][0]) * f,
                   lon = from[i][1] + (to[i][1] - from[i][1]) * f;
            uint64_t hw = det_mix64(h + 100 + (uint64_t)(i * 10 + w));
            if (w < 3)
                jitter(hw, lat, lon, 0.002, 0.003, &lat, &lon);
            pb_drive(&b, lat, lon, 16.0 + 14.0 * det_u01(det_mix64(hw + 1)));
        }
    }
}

static const struct plan *car_plan_get(struct gen *g, int c, int64_t lday)
{
    if (g->cplan[c].day != lday)
        car_plan(g, c, lday, &g->cplan[c]);
    return &g->cplan[c];
}

/* Segment of p covering t, or NULL. */
static const struct seg *plan_seg(const struct plan *p, int64_t t)
{
    int lo = 0, hi = p->nseg - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const struct seg *s = &p->seg[mid];
        if (t < s->t0)
            hi = mid - 1;
        else if (t >= s->t1)
            lo = mid + 1;
        else
            return s;
    }
    return NULL;
}

static void seg_at(const struct seg *s, int64_t t, double *lat, double *lon, double *cargo)
{
    double f = (double)(t - s->t0) / (double)(s->t1 - s->t0);
    *lat = s->lat0 + (s->lat1 - s->lat0) * f;
    *lon = s->lon0 + (s->lon1 - s->lon0) * f;
    *cargo = s->c0 + (s->c1 - s->c0) * f;
}

/* ---- waste: bins and trucks ------------------------------------------------------------------ */

static int64_t bin_last_emptied(struct gen *g, int bi, int64_t t)
{
    int k = bi / BINS_PER_TRUCK, jj = bi % BINS_PER_TRUCK;
    struct lt l;
    ltime(t, &l);
    for (int64_t d = l.day; d >= l.day - 3; d--) {
        const struct plan *p = truck_plan_get(g, k, d);
        if (p->visit[jj] && p->visit[jj] <= t)
            return p->visit[jj];
    }
    return t - 72 * HOUR_MS;
}

static void gen_bins(struct gen *g, int64_t a, int64_t b)
{
    for (int i = 0; i < N_BIN; i++) {
        const struct ent *e = &g->bin[i];
        for (int64_t t = first_slot(a, HOUR_MS, e->phase); t < b; t += HOUR_MS) {
            int silent = fault_at(g, F_BIN_SILENT, N_BIN, 0.8, 12, 36, i, t, NULL) ||
                         fault_at(g, F_BIN_SILENT + 1, N_BIN, 0.8, 12, 36, i, t, NULL);
            if (silent)
                continue;
            uint64_t hb = det_hash(g->seed, S_BIN, (uint64_t)i, (uint64_t)t);
            double fill = bin_fill_since(g, i, bin_last_emptied(g, i, t), t);
            fill = fmin(1.0, fill) + 0.015 * det_gauss(hb);
            fill = fill < 0.0 ? 0.0 : fill > 1.0 ? 1.0 : fill;
            if (det_u01(det_hash(g->seed, S_BIN_GLITCH, (uint64_t)i, (uint64_t)t)) < 0.0005)
                fill = 0.0; /* glitch: echo from the lid */
            line_head(g, "WasteContainer", e, "waste");
            demo__lpw_f64(&g->w, "fillingLevel", fill, 2);
            if (first_of_day(t, HOUR_MS))
                demo__lpw_geo(&g->w, e->lat, e->lon);
            demo__lpw_end(&g->w, t);
        }
    }
}

static void gen_trucks(struct gen *g, int64_t a, int64_t b)
{
    const int64_t P = 10 * SEC_MS;
    for (int k = 0; k < N_TRUCK; k++) {
        const struct ent *e = &g->truck[k];
        for (int64_t t = first_slot(a, P, e->phase); t < b; t += P) {
            struct lt l;
            ltime(t, &l);
            if (l.hour < 6.0 || l.hour >= 14.0 || l.wday == 6) {
                /* off shift: jump to the next 06:00 (or the end of the window) */
                int64_t next = local_day_start(l.day + (l.hour >= 6.0 ? 1 : 0)) + 6 * HOUR_MS;
                if (next <= t)
                    continue;
                t = first_slot(next, P, e->phase) - P;
                continue;
            }
            const struct plan *p = truck_plan_get(g, k, l.day);
            if (!p->nseg || t >= p->end)
                continue;
            if (fault_at(g, F_TRUCK_GPS, N_TRUCK, 0.6, 0.25, 0.5, k, t, NULL))
                continue; /* GPS lost */
            const struct seg *s = plan_seg(p, t);
            if (!s)
                s = &p->seg[p->nseg - 1];
            double lat, lon, cargo, speed = 0.0;
            seg_at(s, t < s->t1 ? t : s->t1, &lat, &lon, &cargo);
            uint64_t hv = det_hash(g->seed, S_TRUCK, (uint64_t)k + 1000, (uint64_t)t);
            if (s->kind == SEG_DRIVE)
                speed = fmax(3.0, s->speed + 1.5 * det_gauss(hv));
            line_head(g, "Vehicle", e, "waste");
            demo__lpw_geo(&g->w, lat + 0.00001 * det_gauss(det_mix64(hv)),
                          lon + 0.00001 * det_gauss(det_mix64(hv + 1)));
            demo__lpw_f64(&g->w, "speed", speed, 1);
            if (cargo >= 0.5) /* written in whole kg; the model says exclusiveMinimum 0 */
                demo__lpw_f64(&g->w, "cargoWeight", cargo, 0);
            demo__lpw_end(&g->w, t);
        }
    }
}

static void gen_cars(struct gen *g, int64_t a, int64_t b)
{
    const int64_t P = 30 * SEC_MS;
    for (int c = 0; c < N_CAR; c++) {
        const struct ent *e = &g->car[c];
        for (int64_t t = first_slot(a, P, e->phase); t < b; t += P) {
            struct lt l;
            ltime(t, &l);
            const struct plan *p = car_plan_get(g, c, l.day);
            const struct seg *s = plan_seg(p, t);
            if (!s || s->kind != SEG_DRIVE)
                continue;
            double lat, lon, unused;
            seg_at(s, t, &lat, &lon, &unused);
            uint64_t hv = det_hash(g->seed, S_CAR_PM, (uint64_t)c, (uint64_t)t);
            double pm = pm_background(g, t, &l) + 6.0 * traffic(&l) + 2.0 * det_gauss(hv);
            pm = fmax(pm, 1.0);
            if (det_u01(det_mix64(hv + 7)) < 0.0002)
                pm = 999.9;
            line_head(g, "Vehicle", e, "air");
            demo__lpw_geo(&g->w, lat, lon);
            demo__lpw_f64(&g->w, "pm25", pm, 1);
            demo__lpw_f64(&g->w, "speed", s->speed, 1);
            demo__lpw_end(&g->w, t);
        }
    }
}

/* ---- lifts, pools, weather ------------------------------------------------------------------- */

/* Fault episode of lift i on local day d: 1 and [t0, t1) with probability 0.25. */
static int lift_fault(const struct gen *g, int i, int64_t d, int64_t *t0, int64_t *t1)
{
    uint64_t h = det_hash(g->seed, F_LIFT, (uint64_t)i, (uint64_t)d);
    if (det_u01(h) >= 0.25)
        return 0;
    *t0 = local_day_start(d) + (int64_t)((6.0 + 16.0 * det_u01(det_mix64(h))) * 60) * MIN_MS;
    *t1 = *t0 + (int64_t)((0.5 + 3.5 * det_u01(det_mix64(h + 1))) * 60) * MIN_MS;
    return 1;
}

static void gen_lifts(struct gen *g, int64_t a, int64_t b)
{
    const int64_t P = 5 * MIN_MS;
    for (int i = 0; i < N_LIFT; i++) {
        const struct ent *e = &g->lift[i];
        for (int64_t t = first_slot(a, P, e->phase); t < b; t += P) {
            struct lt l;
            ltime(t, &l);
            const char *status = "working";
            int64_t faults = 0, t0, t1;
            for (int64_t d = l.day - l.dom + 1; d <= l.day; d++) {
                if (lift_fault(g, i, d, &t0, &t1) && t0 <= t) {
                    faults++;
                    if (t < t1)
                        status = "fault";
                }
            }
            if (lift_fault(g, i, l.day - 1, &t0, &t1) && t < t1)
                status = "fault"; /* an episode that began yesterday evening */
            if (l.wday == i % 5 && l.hour >= 9.0 && l.hour < 10.5 && strcmp(status, "fault"))
                status = "maintenance";
            line_head(g, "Elevator", e, "mobility");
            demo__lpw_str(&g->w, "status", status);
            demo__lpw_i64(&g->w, "faults", faults);
            if (first_of_day(t, P))
                demo__lpw_geo(&g->w, e->lat, e->lon);
            demo__lpw_end(&g->w, t);
        }
    }
}

static void gen_pools(struct gen *g, int64_t a, int64_t b)
{
    const int64_t P = 15 * MIN_MS;
    for (int i = 0; i < N_POOL; i++) {
        const struct ent *e = &g->pool[i];
        for (int64_t t = first_slot(a, P, e->phase); t < b; t += P) {
            struct lt l;
            ltime(t, &l);
            double h = l.hour, f;
            int open;
            if (i == 1 && l.wday == 0)
                open = 0; /* Reuilly is closed on Mondays */
            else if (l.wday <= 4)
                open = h >= 7.0 && h < 22.0;
            else
                open = h >= 8.0 && h < (l.wday == 5 ? 19.0 : 18.0);
            if (l.wday <= 4)
                f = 0.1 + 0.25 * peak(h, 7.8, 0.6) + 0.45 * peak(h, 12.8, 0.8) +
                    0.65 * peak(h, 18.8, 1.2);
            else
                f = 0.15 + 0.6 * bump(h, 10.0, 17.5, 1.2) + 0.15 * peak(h, 15.0, 1.5);
            int64_t occ = 0;
            if (open) {
                occ = llround(e->a * f *
                              (1.0 + 0.12 * det_gauss(det_hash(g->seed, S_POOL, (uint64_t)i, (uint64_t)t))));
                occ = occ < 0 ? 0 : occ > (int64_t)e->a ? (int64_t)e->a : occ;
            }
            line_head(g, "SwimmingPool", e, "sport");
            demo__lpw_i64(&g->w, "occupancy", occ);
            if (first_of_day(t, P))
                demo__lpw_geo(&g->w, e->lat, e->lon);
            demo__lpw_end(&g->w, t);
        }
    }
}

static void gen_weather(struct gen *g, int64_t a, int64_t b)
{
    const int64_t P = 10 * MIN_MS;
    const struct ent *e = &g->wx;
    for (int64_t t = first_slot(a, P, e->phase); t < b; t += P) {
        struct lt l;
        ltime(t, &l);
        double temp = temp_out(g, t, &l), mean = 12.3 - 7.8 * season_cos(&l), r = rain(g, t);
        double hum = 78.0 - 2.2 * (temp - mean) + 8.0 * det_vnoise(g->seed, S_HUM, 0, t, 12 * HOUR_MS) +
                     (r > 0.0 ? 12.0 : 0.0);
        hum = hum < 25.0 ? 25.0 : hum > 100.0 ? 100.0 : hum;
        double wind = 3.5 + 2.2 * det_vnoise(g->seed, S_WIND, 0, t, 9 * HOUR_MS) +
                      0.6 * det_gauss(det_hash(g->seed, S_WIND, 1, (uint64_t)t));
        line_head(g, "WeatherObserved", e, "weather");
        demo__lpw_f64(&g->w, "temperature", temp, 1);
        demo__lpw_f64(&g->w, "humidity", hum, 0);
        demo__lpw_f64(&g->w, "windSpeed", fmax(wind, 0.0), 1);
        demo__lpw_f64(&g->w, "precipitation", r, 2);
        if (first_of_day(t, P))
            demo__lpw_geo(&g->w, e->lat, e->lon);
        demo__lpw_end(&g->w, t);
    }
}

int demo_generate(const struct demo_opts *o, int64_t from_ms, int64_t to_ms, demo_emit_fn *emit,
                  void *arg)
{
    uint64_t seed = (o && o->seed) ? o->seed : 42;
    int rc = VG_OK;
    if (!emit)
        return VG_EINVAL;
    if (to_ms <= from_ms)
        return VG_OK;
    struct gen *g = gen_new(seed);
    if (o && o->incidents_at > 0) {
        struct lt la;
        ltime(o->incidents_at, &la);
        g->anchor = o->incidents_at;
        g->anchor_day = la.day;
    }
    demo__lpw_init(&g->w, emit, arg);
    for (int64_t a = from_ms, b; a < to_ms && !rc; a = b) {
        b = clock_floor_div(a, HOUR_MS) * HOUR_MS + HOUR_MS;
        if (b > to_ms)
            b = to_ms;
        gen_noise(g, a, b);
        gen_air(g, a, b);
        gen_cam(g, a, b);
        gen_bld(g, a, b);
        gen_heat(g, a, b);
        gen_bins(g, a, b);
        gen_trucks(g, a, b);
        gen_cars(g, a, b);
        gen_lifts(g, a, b);
        gen_pools(g, a, b);
        gen_weather(g, a, b);
        rc = g->w.rc;
    }
    if (!rc)
        rc = demo__lpw_flush(&g->w);
    demo__lpw_release(&g->w);
    free(g);
    return rc;
}

/* ---- the demo's rules ------------------------------------------------------------------------ */

/* One rule per injected incident (water-leak, noise-stuck, school-dwell, pm25-episode; the leak's
** baseline learns 4 nights since the backfill has 7 days), and city rules: noise above 80 dB(A)
** for 10 min, silences of 2 h of the Nation sensors (by id: the real samples share their types and
** are old, so a rule by type would call them all silent) and of the heating plants, heating supply
** below 25 °C for 1 h (the burner failures). The geofence is the school's rectangle (SCHOOL_*). */
static const char demo_rules[] =
    "{\"rules\":[{\"id\":\"water-leak\",\"name\":\"Suspected water leak\","
    "\"kind\":\"nightmin\",\"severity\":\"high\","
    "\"message\":\"{entity}: night water flow {value} m3 per 15 min above its usual level "
    "for 2 nights (suspected leak)\","
    "\"target\":{\"type\":\"Building\",\"attr\":\"waterConsumption\"},"
    "\"condition\":{\"from\":\"02:00\",\"to\":\"04:00\",\"nights\":2,\"learn\":4,\"window\":7,"
    "\"ratio\":0.5,\"margin\":0}},"
    "{\"id\":\"noise-stuck\",\"name\":\"Noise meter stuck\",\"kind\":\"stuck\","
    "\"severity\":\"medium\",\"target\":{\"type\":\"NoiseLevelObserved\",\"attr\":\"LAeq\"},"
    "\"condition\":{\"repeats\":30,\"for\":\"30m\"}},"
    "{\"id\":\"school-dwell\",\"name\":\"Vehicle waiting at a school gate\",\"kind\":\"dwell\","
    "\"severity\":\"medium\",\"target\":{\"type\":\"Vehicle\",\"attr\":\"location\"},"
    "\"condition\":{\"geofence\":{\"type\":\"MultiPolygon\",\"coordinates\":[[[[2.38435,"
    "48.84490],[2.38525,48.84490],[2.38525,48.84550],[2.38435,48.84550],[2.38435,48.84490]]]]},"
    "\"radius_m\":30,\"for\":\"30m\"}},"
    "{\"id\":\"pm25-episode\",\"name\":\"PM2.5 episode\",\"kind\":\"threshold\","
    "\"severity\":\"high\",\"target\":{\"type\":\"AirQualityObserved\",\"attr\":\"pm25\"},"
    "\"condition\":{\"op\":\">\",\"raise\":50,\"clear\":40,\"for\":\"1h\"}},"
    "{\"id\":\"noise-high\",\"name\":\"Noise above 80 dB(A)\",\"kind\":\"threshold\","
    "\"severity\":\"medium\",\"target\":{\"type\":\"NoiseLevelObserved\",\"attr\":\"LAeq\"},"
    "\"condition\":{\"op\":\">\",\"raise\":80,\"clear\":75,\"for\":\"10m\"}},"
    "{\"id\":\"silence-noise\",\"name\":\"Noise meter silent\",\"kind\":\"stale\","
    "\"severity\":\"low\",\"target\":{\"ids\":[\"urn:ngsi-ld:NoiseLevelObserved:nation-01\","
    "\"urn:ngsi-ld:NoiseLevelObserved:nation-02\",\"urn:ngsi-ld:NoiseLevelObserved:nation-03\","
    "\"urn:ngsi-ld:NoiseLevelObserved:nation-04\",\"urn:ngsi-ld:NoiseLevelObserved:nation-05\","
    "\"urn:ngsi-ld:NoiseLevelObserved:nation-06\",\"urn:ngsi-ld:NoiseLevelObserved:nation-07\","
    "\"urn:ngsi-ld:NoiseLevelObserved:nation-08\",\"urn:ngsi-ld:NoiseLevelObserved:nation-09\","
    "\"urn:ngsi-ld:NoiseLevelObserved:nation-10\",\"urn:ngsi-ld:NoiseLevelObserved:nation-11\","
    "\"urn:ngsi-ld:NoiseLevelObserved:nation-12\",\"urn:ngsi-ld:NoiseLevelObserved:nation-13\","
    "\"urn:ngsi-ld:NoiseLevelObserved:nation-14\",\"urn:ngsi-ld:NoiseLevelObserved:nation-15\","
    "\"urn:ngsi-ld:NoiseLevelObserved:nation-16\",\"urn:ngsi-ld:NoiseLevelObserved:nation-17\","
    "\"urn:ngsi-ld:NoiseLevelObserved:nation-18\",\"urn:ngsi-ld:NoiseLevelObserved:nation-19\","
    "\"urn:ngsi-ld:NoiseLevelObserved:nation-20\"]},\"condition\":{\"after\":\"2h\"}},"
    "{\"id\":\"silence-air\",\"name\":\"Air sensor silent\",\"kind\":\"stale\","
    "\"severity\":\"low\",\"target\":{\"ids\":[\"urn:ngsi-ld:AirQualityObserved:nation-01\","
    "\"urn:ngsi-ld:AirQualityObserved:nation-02\",\"urn:ngsi-ld:AirQualityObserved:nation-03\","
    "\"urn:ngsi-ld:AirQualityObserved:nation-04\",\"urn:ngsi-ld:AirQualityObserved:nation-05\","
    "\"urn:ngsi-ld:AirQualityObserved:nation-06\",\"urn:ngsi-ld:AirQualityObserved:nation-07\","
    "\"urn:ngsi-ld:AirQualityObserved:nation-08\",\"urn:ngsi-ld:AirQualityObserved:nation-09\","
    "\"urn:ngsi-ld:AirQualityObserved:nation-10\"]},\"condition\":{\"after\":\"2h\"}},"
    "{\"id\":\"silence-cameras\",\"name\":\"Traffic camera silent\",\"kind\":\"stale\","
    "\"severity\":\"low\","
    "\"target\":{\"ids\":[\"urn:ngsi-ld:TrafficFlowObserved:nation-cam-01\","
    "\"urn:ngsi-ld:TrafficFlowObserved:nation-cam-02\","
    "\"urn:ngsi-ld:TrafficFlowObserved:nation-cam-03\","
    "\"urn:ngsi-ld:TrafficFlowObserved:nation-cam-04\","
    "\"urn:ngsi-ld:TrafficFlowObserved:nation-cam-05\","
    "\"urn:ngsi-ld:TrafficFlowObserved:nation-cam-06\","
    "\"urn:ngsi-ld:TrafficFlowObserved:nation-cam-07\","
    "\"urn:ngsi-ld:TrafficFlowObserved:nation-cam-08\"]},\"condition\":{\"after\":\"2h\"}},"
    "{\"id\":\"silence-heating\",\"name\":\"Heating plant silent\",\"kind\":\"stale\","
    "\"severity\":\"low\",\"target\":{\"type\":\"HeatingPlant\"},"
    "\"condition\":{\"after\":\"2h\"}},"
    "{\"id\":\"heating-failure\",\"name\":\"Heating supply too cold\",\"kind\":\"threshold\","
    "\"severity\":\"high\",\"target\":{\"type\":\"HeatingPlant\","
    "\"attr\":\"supplyTemperature\"},\"condition\":{\"op\":\"<\",\"raise\":25,\"clear\":32,"
    "\"for\":\"1h\"}},"
    "{\"id\":\"pm25-forecast\",\"name\":\"PM2.5 above 30 expected\",\"kind\":\"forecast\","
    "\"severity\":\"medium\",\"message\":\"{entity}: PM2.5 expected above {threshold} "
    "µg/m³ at {at} (peak {value})\","
    "\"target\":{\"type\":\"AirQualityObserved\",\"attr\":\"pm25\",\"ids\":["
    "\"urn:ngsi-ld:AirQualityObserved:nation-01\",\"urn:ngsi-ld:AirQualityObserved:nation-02\","
    "\"urn:ngsi-ld:AirQualityObserved:nation-03\",\"urn:ngsi-ld:AirQualityObserved:nation-04\","
    "\"urn:ngsi-ld:AirQualityObserved:nation-05\",\"urn:ngsi-ld:AirQualityObserved:nation-06\","
    "\"urn:ngsi-ld:AirQualityObserved:nation-07\",\"urn:ngsi-ld:AirQualityObserved:nation-08\","
    "\"urn:ngsi-ld:AirQualityObserved:nation-09\",\"urn:ngsi-ld:AirQualityObserved:nation-10\"]},"
    "\"condition\":{\"op\":\">\",\"value\":30,\"horizon\":\"24h\"}}]}";

const char *demo_rules_json(void)
{
    return demo_rules;
}

/* ---- the demo thread ------------------------------------------------------------------------- */

struct demo {
    struct ingest *ig;
    struct meta *m;
    char *tenant;
    char *samples_dir; /* NULL = none */
    int backfill_days;
    int realtime;
    uint64_t seed;
    int64_t incidents_at; /* the option: 0 = kv or now, -1 = none */
    void (*backfilled)(void *arg); /* demo_opts.backfilled */
    void *backfilled_arg;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;              /* under mu */
    int backfill_finished; /* under mu */
    int backfill_rc;       /* under mu */
    /* demo thread only */
    uint64_t lines, points, bad, next_progress;
    int in_backfill, warned;
};

static int stop_requested(struct demo *d)
{
    pthread_mutex_lock(&d->mu);
    int s = d->stop;
    pthread_mutex_unlock(&d->mu);
    return s;
}

static int emit_ingest(void *arg, const char *body, size_t len, uint32_t nlines)
{
    struct demo *d = arg;
    struct ingest_result res;
    if (stop_requested(d))
        return VG_ECLOSED;
    memset(&res, 0, sizeof(res));
    int rc = ingest_lp(d->ig, d->tenant, "demo", body, len, LP_MS, clock_now_ms(), &res);
    d->lines += res.lines;
    d->points += res.points;
    d->bad += res.bad;
    if (res.bad && d->warned < 3) {
        d->warned++;
        log_warn("demo: %llu of %u lines quarantined for tenant '%s': %s",
                 (unsigned long long)res.bad, nlines, d->tenant, res.first_errors);
    }
    if (rc) {
        log_error("demo: cannot ingest a batch of %u lines for tenant '%s': %s", nlines,
                  d->tenant, vg_strerror(rc));
        return rc;
    }
    if (d->in_backfill && d->points >= d->next_progress) {
        log_info("demo backfill: %.1f M values so far", (double)d->points / 1e6);
        d->next_progress += 1000000;
    }
    return VG_OK;
}

/* The kv value is a comma-separated list of tenants. */
static int kv_list_has(struct meta *m, const char *key, const char *tenant)
{
    char val[1024];
    if (meta_kv_get(m, key, val, sizeof(val)))
        return 0;
    size_t n = strlen(tenant);
    for (const char *p = val; *p;) {
        const char *c = strchr(p, ',');
        size_t l = c ? (size_t)(c - p) : strlen(p);
        if (l == n && !memcmp(p, tenant, n))
            return 1;
        if (!c)
            break;
        p = c + 1;
    }
    return 0;
}

static void kv_list_add(struct meta *m, const char *key, const char *tenant)
{
    char val[1024] = "", nv[1100];
    if (kv_list_has(m, key, tenant))
        return;
    if (meta_kv_get(m, key, val, sizeof(val)))
        val[0] = '\0';
    int n = snprintf(nv, sizeof(nv), "%s%s%s", val, val[0] ? "," : "", tenant);
    if (n < 0 || (size_t)n >= 1024) {
        log_warn("demo: kv '%s' is full, tenant '%s' not recorded", key, tenant);
        return;
    }
    int rc = meta_kv_set(m, key, nv);
    if (rc)
        log_warn("demo: cannot record kv '%s': %s", key, vg_strerror(rc));
}

static void kv_set_until(struct demo *d, int64_t t)
{
    char key[300], val[32];
    snprintf(key, sizeof(key), "demo.until.%s", d->tenant);
    snprintf(val, sizeof(val), "%lld", (long long)t);
    int rc = meta_kv_set(d->m, key, val);
    if (rc)
        log_warn("demo: cannot record kv '%s': %s", key, vg_strerror(rc));
}

/* The injected incidents' anchor: the option, else kv demo.anchor.<tenant>, else now (recorded,
** so that a restart keeps the incidents where the first backfill put them). */
static int64_t incidents_anchor(struct demo *d, int64_t now)
{
    char key[300], val[32];
    long long u = 0;
    if (d->incidents_at)
        return d->incidents_at < 0 ? 0 : d->incidents_at;
    snprintf(key, sizeof(key), "demo.anchor.%s", d->tenant);
    if (!meta_kv_get(d->m, key, val, sizeof(val)) && sscanf(val, "%lld", &u) == 1 && u > 0)
        return u;
    snprintf(val, sizeof(val), "%lld", (long long)now);
    int rc = meta_kv_set(d->m, key, val);
    if (rc)
        log_warn("demo: cannot record kv '%s': %s", key, vg_strerror(rc));
    return now;
}

static void finish_backfill(struct demo *d, int rc)
{
    pthread_mutex_lock(&d->mu);
    d->backfill_finished = 1;
    d->backfill_rc = rc;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

static void *demo_main(void *arg)
{
    struct demo *d = arg;
    struct demo_opts o;
    struct stat sb;
    int rc;
    memset(&o, 0, sizeof(o));
    o.seed = d->seed;

    if (d->samples_dir && stat(d->samples_dir, &sb) == 0 && S_ISDIR(sb.st_mode) &&
        !kv_list_has(d->m, "demo.samples_done", d->tenant)) {
        uint64_t v = 0;
        rc = demo__samples_load_dir(d->samples_dir, emit_ingest, d, &v);
        if (!rc) {
            log_info("demo samples: %llu values from '%s' for tenant '%s'",
                     (unsigned long long)v, d->samples_dir, d->tenant);
            kv_list_add(d->m, "demo.samples_done", d->tenant);
        } else {
            log_warn("demo samples: stopped: %s", vg_strerror(rc));
        }
    } else if (d->samples_dir) {
        log_info("demo samples: '%s' skipped (missing or already loaded)", d->samples_dir);
    }

    int64_t now = clock_now_ms();
    int64_t oldest = now - (int64_t)d->backfill_days * DAY_MS;
    o.incidents_at = incidents_anchor(d, now);
    int64_t from = oldest;
    if (kv_list_has(d->m, "demo.backfill_done", d->tenant)) {
        char key[300], val[32];
        long long u = 0;
        snprintf(key, sizeof(key), "demo.until.%s", d->tenant);
        from = now;
        if (!meta_kv_get(d->m, key, val, sizeof(val)) && sscanf(val, "%lld", &u) == 1)
            from = u < oldest ? oldest : u > now ? now : u;
        log_info("demo backfill: already done for tenant '%s', catching up %.1f min",
                 d->tenant, (double)(now - from) / MIN_MS);
    } else {
        log_info("demo backfill: %d days for tenant '%s' (seed %llu)", d->backfill_days,
                 d->tenant, (unsigned long long)d->seed);
    }
    int64_t t0 = clock_mono_ns();
    uint64_t p0 = d->points;
    d->in_backfill = 1;
    d->next_progress = d->points + 1000000;
    rc = demo_generate(&o, from, now, emit_ingest, d);
    d->in_backfill = 0;
    double secs = (double)(clock_mono_ns() - t0) / 1e9;
    if (!rc) {
        log_info("demo backfill: %.2f M values in %.1f s (%llu lines, %llu quarantined)",
                 (double)(d->points - p0) / 1e6, secs, (unsigned long long)d->lines,
                 (unsigned long long)d->bad);
        kv_list_add(d->m, "demo.backfill_done", d->tenant);
        kv_set_until(d, now);
    } else if (rc != VG_ECLOSED) {
        log_error("demo backfill failed for tenant '%s': %s", d->tenant, vg_strerror(rc));
    }
    finish_backfill(d, rc);
    if (d->backfilled)
        d->backfilled(d->backfilled_arg);

    int64_t last = now;
    int ticks = 0;
    pthread_mutex_lock(&d->mu);
    while (d->realtime && !d->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += TICK_MS / SEC_MS;
        while (!d->stop && pthread_cond_timedwait(&d->cv, &d->mu, &ts) == 0)
            ;
        if (d->stop)
            break;
        pthread_mutex_unlock(&d->mu);
        int64_t t = clock_now_ms();
        if (t > last) {
            rc = demo_generate(&o, last, t, emit_ingest, d);
            /* A failed tick is dropped, not retried: part of it may be stored already. */
            last = t;
            if (!rc && ++ticks % 6 == 0)
                kv_set_until(d, last);
        }
        pthread_mutex_lock(&d->mu);
    }
    pthread_mutex_unlock(&d->mu);
    if (d->realtime && ticks)
        kv_set_until(d, last);
    return NULL;
}

int demo_start(struct ingest *ig, struct meta *m, const struct demo_opts *opts, struct demo **out)
{
    pthread_condattr_t ca;
    if (!ig || !m || !out)
        return VG_EINVAL;
    struct demo *d = vg_calloc(1, sizeof(*d));
    d->ig = ig;
    d->m = m;
    d->tenant = vg_strdup(opts && opts->tenant && *opts->tenant ? opts->tenant : "demo");
    if (opts && opts->samples_dir && *opts->samples_dir)
        d->samples_dir = vg_strdup(opts->samples_dir);
    d->backfill_days = opts && opts->backfill_days > 0 ? opts->backfill_days : 7;
    d->realtime = opts ? opts->realtime : 0;
    d->seed = opts && opts->seed ? opts->seed : 42;
    d->incidents_at = opts ? opts->incidents_at : 0;
    d->backfilled = opts ? opts->backfilled : NULL;
    d->backfilled_arg = opts ? opts->backfilled_arg : NULL;
    pthread_mutex_init(&d->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&d->th, NULL, demo_main, d) != 0) {
        log_error("demo: cannot start the generator thread");
        pthread_cond_destroy(&d->cv);
        pthread_mutex_destroy(&d->mu);
        free(d->samples_dir);
        free(d->tenant);
        free(d);
        return VG_ENOMEM;
    }
    log_info("demo: started for tenant '%s'%s", d->tenant,
             d->realtime ? ", real time every 10 s" : "");
    *out = d;
    return VG_OK;
}

int demo_wait_backfill(struct demo *d)
{
    pthread_mutex_lock(&d->mu);
    while (!d->backfill_finished)
        pthread_cond_wait(&d->cv, &d->mu);
    int rc = d->backfill_rc;
    pthread_mutex_unlock(&d->mu);
    return rc;
}

void demo_stop(struct demo *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    d->stop = 1;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->th, NULL);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d->samples_dir);
    free(d->tenant);
    free(d);
}
