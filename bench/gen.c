/*
** bench/gen.c: deterministic workload generator for `make bench`.
** Owns: the line-protocol data file and the expected-answers JSON file it writes.
** Output: InfluxDB line protocol, ms timestamps, lines in time order. Sensors (one field per
**   line, one reading a minute, each at its own second within the minute) and GPS trucks (lat,
**   lon, load every 10 s). Values are random walks on daily cycles, rounded to the decimals a
**   real device sends. Everything derives from --seed, so every system gets the same bytes.
** Expected file: the exact answers of the benchmark queries (a), (b), (c), computed from the
**   rounded values as printed, so that bench/query.py can check each system's answers.
** Phases: bench/run.sh calls it once per phase with different --sensors/--trucks/--hours (one
**   day of a whole city; 30 days of a few hundred sensors). The target of queries (a) and (b)
**   is district 75012, or, if it has no noise sensor, the district of the first noise sensor.
** Cache: run.sh keeps generated files named after the parameters and GEN_DATA_VERSION (printed
**   by --data-version). Bump GEN_DATA_VERSION whenever a change alters the output bytes.
** Not part of the vigie program (built on its own by bench/run.sh).
*/
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GEN_DISTRICTS 20
#define GEN_TARGET_DISTRICT 12 /* 75012: the district of queries (a) and (b) */
#define GEN_DATA_VERSION 1     /* bump when the output for given parameters changes */

enum gen_kind { K_NOISE, K_AIR, K_TRAFFIC, K_TEMP, K_ENERGY, K_COUNT };

static const char *const kind_name[K_COUNT] = {"noise", "air", "traffic", "temperature",
                                               "energy"};
static const char *const kind_field[K_COUNT] = {"laeq", "pm25", "count", "celsius", "kwh"};
static const int kind_decimals[K_COUNT] = {1, 1, 0, 2, 2};
/* Cumulative share of each kind, in percent. */
static const int kind_cumul[K_COUNT] = {30, 50, 70, 85, 100};

struct sensor {
    int kind;
    int district; /* 1..20 */
    int offset;   /* second of the minute at which it reports */
    double base;  /* per-sensor level */
    double amp;   /* per-sensor daily amplitude */
    double ar;    /* AR(1) random-walk state */
    double last;
    double *hsum; /* [hours] sums of the rounded values (target district noise only) */
    int *hcnt;
};

struct truck {
    double lat, lon, heading, speed, load;
    int offset; /* second within the 10 s period */
    double last_lat, last_lon, last_load;
};

struct gen {
    uint64_t rng;
    long sensors, trucks, hours;
    int district; /* target district of queries (a) and (b), 1..20 */
    long long start_ms;
    struct sensor *s;
    struct truck *t;
    FILE *out;
    long long lines, values, truck_lines;
};

static uint64_t rng_next(struct gen *g)
{
    /* splitmix64 */
    uint64_t z = (g->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double rng_unit(struct gen *g)
{
    return (double)(rng_next(g) >> 11) * (1.0 / 9007199254740992.0);
}

static double rng_gauss(struct gen *g)
{
    double u = rng_unit(g), v = rng_unit(g);
    if (u < 1e-300)
        u = 1e-300;
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

static double round_to(double v, int decimals)
{
    static const double scale[] = {1.0, 10.0, 100.0, 1000.0, 10000.0, 100000.0, 1000000.0};
    return round(v * scale[decimals]) / scale[decimals];
}

/* Daytime activity: ~0 around 4 h, ~1 around 16 h (local hour). */
static double day_shape(double h)
{
    return 0.5 - 0.5 * cos(2.0 * M_PI * (h - 4.0) / 24.0);
}

/* Morning and evening rush hours. */
static double rush(double h)
{
    double m = (h - 8.5) / 1.5, e = (h - 18.0) / 2.0;
    return exp(-m * m) + exp(-e * e);
}

static double sensor_value(struct gen *g, struct sensor *s, double h)
{
    double v = 0.0;
    switch (s->kind) {
    case K_NOISE:
        s->ar = 0.95 * s->ar + rng_gauss(g) * 0.9;
        v = s->base + s->amp * day_shape(h) + 3.0 * rush(h) + s->ar;
        v = v < 28.0 ? 28.0 : v > 110.0 ? 110.0 : v;
        break;
    case K_AIR:
        s->ar = 0.98 * s->ar + rng_gauss(g) * 0.35;
        v = s->base + s->amp * rush(h) + s->ar;
        v = v < 0.5 ? 0.5 : v;
        break;
    case K_TRAFFIC: {
        double rate;
        s->ar = 0.9 * s->ar + rng_gauss(g) * 0.05;
        rate = s->base * (0.08 + 0.5 * day_shape(h) + 0.7 * rush(h)) * exp(s->ar);
        v = rate + rng_gauss(g) * sqrt(rate);
        v = v < 0.0 ? 0.0 : v;
        break;
    }
    case K_TEMP:
        s->ar = 0.995 * s->ar + rng_gauss(g) * 0.04;
        v = s->base + s->amp * cos(2.0 * M_PI * (h - 15.0) / 24.0) + s->ar;
        break;
    default: /* K_ENERGY: kWh consumed during the last minute */
        s->ar = 0.9 * s->ar + rng_gauss(g) * 0.03;
        v = s->base * (0.45 + 0.3 * day_shape(h) + 0.5 * exp(-pow((h - 19.5) / 2.0, 2.0))) + s->ar;
        v = v < 0.01 ? 0.01 : v;
        break;
    }
    return round_to(v, kind_decimals[s->kind]);
}

static void sensor_setup(struct gen *g, struct sensor *s)
{
    int r = (int)(rng_next(g) % 100), k = 0;
    while (k < K_COUNT - 1 && r >= kind_cumul[k])
        k++;
    s->kind = k;
    s->district = 1 + (int)(rng_next(g) % GEN_DISTRICTS);
    s->offset = (int)(rng_next(g) % 60);
    s->ar = 0.0;
    switch (k) {
    case K_NOISE: s->base = 40.0 + 15.0 * rng_unit(g); s->amp = 6.0 + 8.0 * rng_unit(g); break;
    case K_AIR: s->base = 6.0 + 10.0 * rng_unit(g); s->amp = 3.0 + 9.0 * rng_unit(g); break;
    case K_TRAFFIC: s->base = 4.0 + 40.0 * rng_unit(g); s->amp = 0.0; break;
    case K_TEMP: s->base = 5.0 + 5.0 * rng_unit(g); s->amp = 2.0 + 3.0 * rng_unit(g); break;
    default: s->base = 0.1 + 2.0 * rng_unit(g); s->amp = 0.0; break;
    }
}

static void truck_setup(struct gen *g, struct truck *t, long j)
{
    t->lat = 48.83 + 0.05 * rng_unit(g);
    t->lon = 2.27 + 0.15 * rng_unit(g);
    t->heading = 2.0 * M_PI * rng_unit(g);
    t->speed = 0.0;
    t->load = 0.0;
    t->offset = (int)(j % 10);
}

/* One 10 s step of a garbage truck: drives 5 h - 13 h local, collecting, parked otherwise. */
static void truck_step(struct gen *g, struct truck *t, double h)
{
    const double m_per_deg_lat = 111320.0, m_per_deg_lon = 73300.0; /* at 48.86 N */
    int working = h >= 5.0 && h < 13.0;
    if (working) {
        t->heading += rng_gauss(g) * 0.3;
        t->speed = 0.8 * t->speed + 0.2 * (4.0 + 4.0 * rng_unit(g));
        if (rng_unit(g) < 0.3) { /* stopped at a pick-up point */
            t->speed = 0.0;
            t->load += round(20.0 + 80.0 * rng_unit(g));
        }
        if (t->load > 9500.0)
            t->load = 0.0; /* unloaded at the incinerator */
        t->lat += t->speed * 10.0 * cos(t->heading) / m_per_deg_lat;
        t->lon += t->speed * 10.0 * sin(t->heading) / m_per_deg_lon;
        if (t->lat < 48.816 || t->lat > 48.901)
            t->heading = M_PI - t->heading;
        if (t->lon < 2.225 || t->lon > 2.469)
            t->heading = -t->heading;
        t->lat = t->lat < 48.816 ? 48.816 : t->lat > 48.901 ? 48.901 : t->lat;
        t->lon = t->lon < 2.225 ? 2.225 : t->lon > 2.469 ? 2.469 : t->lon;
    } else {
        t->speed = 0.0;
    }
}

static int emit_sensor(struct gen *g, long i, long long ts_ms, double h, long hour)
{
    struct sensor *s = &g->s[i];
    double v = sensor_value(g, s, h);
    if (fprintf(g->out, "%s,district=750%02d,id=s%05ld,kind=%s %s=%.*f %lld\n",
                kind_name[s->kind], s->district, i + 1, kind_name[s->kind],
                kind_field[s->kind], kind_decimals[s->kind], v, ts_ms) < 0)
        return -1;
    s->last = v;
    if (s->hsum) {
        s->hsum[hour] += v;
        s->hcnt[hour]++;
    }
    g->lines++;
    g->values++;
    return 0;
}

static int emit_truck(struct gen *g, long j, long long ts_ms, double h)
{
    struct truck *t = &g->t[j];
    double lat, lon;
    truck_step(g, t, h);
    /* GPS jitter of a few metres, also while parked */
    lat = round_to(t->lat + rng_gauss(g) * 0.00002, 6);
    lon = round_to(t->lon + rng_gauss(g) * 0.00003, 6);
    if (fprintf(g->out, "truck,id=t%03ld,kind=garbage lat=%.6f,lon=%.6f,load=%.0f %lld\n", j + 1,
                lat, lon, t->load, ts_ms) < 0)
        return -1;
    t->last_lat = lat;
    t->last_lon = lon;
    t->last_load = t->load;
    g->lines++;
    g->truck_lines++;
    g->values += 3;
    return 0;
}

static int write_expected(struct gen *g, const char *path, long seed)
{
    FILE *f = fopen(path, "w");
    long i, h, first = -1;
    int sep = 0, rc = -1;
    if (!f)
        return -1;
    for (i = 0; i < g->sensors && first < 0; i++)
        if (g->s[i].hsum)
            first = i;
    fprintf(f, "{\"seed\":%ld,\"sensors\":%ld,\"trucks\":%ld,\"hours\":%ld,", seed, g->sensors,
            g->trucks, g->hours);
    fprintf(f, "\"start_ms\":%lld,\"end_ms\":%lld,\"lines\":%lld,\"values\":%lld,", g->start_ms,
            g->start_ms + g->hours * 3600000LL, g->lines, g->values);
    /* Vigie stores lat+lon as one geo value: one value fewer per truck line. */
    fprintf(f, "\"values_geo\":%lld,\"district\":\"750%02d\",", g->values - g->truck_lines,
            g->district);
    fprintf(f, "\"sensor\":\"s%05ld\",\"a\":[", first + 1);
    for (h = 0; first >= 0 && h < g->hours; h++)
        fprintf(f, "%s%.17g", h ? "," : "",
                g->s[first].hcnt[h] ? g->s[first].hsum[h] / g->s[first].hcnt[h] : 0.0);
    fputs("],\"b\":{", f);
    for (i = 0; i < g->sensors; i++) {
        if (!g->s[i].hsum)
            continue;
        fprintf(f, "%s\"s%05ld\":[", sep ? "," : "", i + 1);
        sep = 1;
        for (h = 0; h < g->hours; h++)
            fprintf(f, "%s%.17g", h ? "," : "",
                    g->s[i].hcnt[h] ? g->s[i].hsum[h] / g->s[i].hcnt[h] : 0.0);
        fputc(']', f);
    }
    fputs("},\"c\":{", f);
    for (i = 0; i < g->sensors; i++)
        fprintf(f, "%s\"s%05ld\":[\"%s\",\"%s\",%.*f]", i ? "," : "", i + 1,
                kind_name[g->s[i].kind], kind_field[g->s[i].kind], kind_decimals[g->s[i].kind],
                g->s[i].last);
    fputs("},\"ct\":{", f);
    for (i = 0; i < g->trucks; i++)
        fprintf(f, "%s\"t%03ld\":[%.6f,%.6f,%.0f]", i ? "," : "", i + 1, g->t[i].last_lat,
                g->t[i].last_lon, g->t[i].last_load);
    fputs("}}\n", f);
    rc = ferror(f) ? -1 : 0;
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}

static void usage(void)
{
    fprintf(stderr, "usage: gen [--seed N] [--sensors N] [--trucks N] [--hours N]"
                    " [--start-ms MS] --out FILE.lp --expect FILE.json\n"
                    "       gen --data-version\n");
}

int main(int argc, char **argv)
{
    struct gen g;
    const char *out = NULL, *expect = NULL;
    long seed = 42, i, j, sec, nsec;
    long *by_offset = NULL, *off_start = NULL;
    int rc = 1, a;
    static char obuf[1 << 20];

    memset(&g, 0, sizeof(g));
    g.sensors = 10000;
    g.trucks = 200;
    g.hours = 24;
    g.start_ms = 1704067200000LL; /* 2024-01-01T00:00:00Z */
    if (argc == 2 && !strcmp(argv[1], "--data-version")) {
        printf("%d\n", GEN_DATA_VERSION);
        return 0;
    }
    for (a = 1; a + 1 < argc; a += 2) {
        if (!strcmp(argv[a], "--seed"))
            seed = strtol(argv[a + 1], NULL, 10);
        else if (!strcmp(argv[a], "--sensors"))
            g.sensors = strtol(argv[a + 1], NULL, 10);
        else if (!strcmp(argv[a], "--trucks"))
            g.trucks = strtol(argv[a + 1], NULL, 10);
        else if (!strcmp(argv[a], "--hours"))
            g.hours = strtol(argv[a + 1], NULL, 10);
        else if (!strcmp(argv[a], "--start-ms"))
            g.start_ms = strtoll(argv[a + 1], NULL, 10);
        else if (!strcmp(argv[a], "--out"))
            out = argv[a + 1];
        else if (!strcmp(argv[a], "--expect"))
            expect = argv[a + 1];
        else
            break;
    }
    if (a != argc || !out || !expect || g.sensors < 1 || g.sensors > 99999 || g.trucks < 0 ||
        g.trucks > 999 || g.hours < 1 || g.hours > 24 * 366) {
        usage();
        return 2;
    }
    g.rng = (uint64_t)seed * 0x2545F4914F6CDD1Dull + 1;
    g.s = calloc((size_t)g.sensors, sizeof(*g.s));
    g.t = calloc((size_t)(g.trucks ? g.trucks : 1), sizeof(*g.t));
    by_offset = calloc((size_t)g.sensors, sizeof(*by_offset));
    off_start = calloc(61, sizeof(*off_start));
    if (!g.s || !g.t || !by_offset || !off_start)
        goto out;
    for (i = 0; i < g.sensors; i++)
        sensor_setup(&g, &g.s[i]);
    /* Target district: 75012 if it has a noise sensor, else that of the first noise sensor. */
    g.district = 0;
    for (i = 0; i < g.sensors; i++) {
        if (g.s[i].kind != K_NOISE)
            continue;
        if (!g.district || g.s[i].district == GEN_TARGET_DISTRICT)
            g.district = g.s[i].district;
        if (g.district == GEN_TARGET_DISTRICT)
            break;
    }
    if (!g.district) {
        fprintf(stderr, "gen: no noise sensor among %ld sensors: use more sensors or another "
                        "seed\n", g.sensors);
        goto out;
    }
    for (i = 0; i < g.sensors; i++) {
        if (g.s[i].kind == K_NOISE && g.s[i].district == g.district) {
            g.s[i].hsum = calloc((size_t)g.hours, sizeof(double));
            g.s[i].hcnt = calloc((size_t)g.hours, sizeof(int));
            if (!g.s[i].hsum || !g.s[i].hcnt)
                goto out;
        }
        off_start[g.s[i].offset + 1]++;
    }
    for (j = 0; j < g.trucks; j++)
        truck_setup(&g, &g.t[j], j);
    /* Counting sort of the sensors by reporting second, so the output is in time order. */
    for (a = 1; a <= 60; a++)
        off_start[a] += off_start[a - 1];
    {
        long fill[60];
        for (a = 0; a < 60; a++)
            fill[a] = off_start[a];
        for (i = 0; i < g.sensors; i++)
            by_offset[fill[g.s[i].offset]++] = i;
    }
    g.out = fopen(out, "w");
    if (!g.out) {
        fprintf(stderr, "gen: %s: %s\n", out, strerror(errno));
        goto out;
    }
    setvbuf(g.out, obuf, _IOFBF, sizeof(obuf));
    nsec = g.hours * 3600;
    for (sec = 0; sec < nsec; sec++) {
        long long ts = g.start_ms + sec * 1000LL;
        double h = fmod((double)sec / 3600.0 + 1.0, 24.0); /* Paris local time in winter */
        int o = (int)(sec % 60);
        for (i = off_start[o]; i < off_start[o + 1]; i++)
            if (emit_sensor(&g, by_offset[i], ts, h, sec / 3600) != 0)
                goto out;
        for (j = sec % 10; j < g.trucks; j += 10)
            if (emit_truck(&g, j, ts, h) != 0)
                goto out;
    }
    if (fclose(g.out) != 0) {
        g.out = NULL;
        goto out;
    }
    g.out = NULL;
    if (write_expected(&g, expect, seed) != 0)
        goto out;
    printf("gen: %lld lines, %lld values (%lld with lat+lon as one geo value), %ld sensors, "
           "%ld trucks, %ld h\n",
           g.lines, g.values, g.values - g.truck_lines, g.sensors, g.trucks, g.hours);
    rc = 0;
out:
    if (rc != 0)
        fprintf(stderr, "gen: failed\n");
    if (g.out)
        fclose(g.out);
    if (g.s)
        for (i = 0; i < g.sensors; i++) {
            free(g.s[i].hsum);
            free(g.s[i].hcnt);
        }
    free(g.s);
    free(g.t);
    free(by_offset);
    free(off_start);
    return rc;
}
