/*
** alerts/forecast_test.c: double-seasonal Holt-Winters: argument checks, a synthetic daily +
** weekly series sampled irregularly (10 min with jitter and gaps) scored against the seasonal
** naive forecasts (one week and one day earlier) at 24 h and 72 h, interval coverage, a level
** shift, ignored values, daily-only operation, long-gap restart, DST alignment, the normal
** quantile, and (figures only) the real Airparif PA13 2018 hourly NO2 / O3 series.
*/
#include "alerts/forecast.h"
#include "core/test.h"
#include "core/vg.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIN_MS 60000LL
#define HOUR_MS 3600000LL
#define DAY_MS (24 * HOUR_MS)
#define WEEK_H 168
#define T0 1767571200000LL /* 2026-01-05 00:00 UTC, a Monday */

static void set_tz(const char *tz)
{
    setenv("TZ", tz, 1);
    tzset();
}

/* splitmix64 + Box-Muller: deterministic noise. */
static uint64_t rng_state;
static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static double rng_unif(void)
{
    return ((rng_next() >> 11) + 0.5) / 9007199254740992.0;
}
static double rng_gauss(void)
{
    double u = rng_unif(), v = rng_unif();
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/* Daily + weekly pattern (hour of week h, Monday 00:00 = 0), always > 15. */
static double pattern(int64_t hour)
{
    int hw = (int)(hour % WEEK_H), hd = hw % 24, day = hw / 24;
    double daily = 15 * sin(2 * M_PI * (hd - 8) / 24.0) + 8 * exp(-0.5 * (hd - 8) * (hd - 8));
    double weekly = day >= 5 ? -12 : 2.0 * day;
    return 50 + daily + weekly;
}

struct sample {
    int64_t ts;
    double v;
};

/* A series: raw samples (time order) and the hourly means (NaN where no sample). */
struct series {
    int64_t t0;
    uint32_t hours;
    struct sample *s;
    uint32_t ns;
    double *y;
};

static void series_free(struct series *sr)
{
    free(sr->s);
    free(sr->y);
}

static void series_hourly_means(struct series *sr)
{
    double *sum = calloc(sr->hours, sizeof(double));
    uint32_t *cnt = calloc(sr->hours, sizeof(uint32_t));
    for (uint32_t i = 0; i < sr->ns; i++) {
        int64_t h = (sr->s[i].ts - sr->t0) / HOUR_MS;
        if (h >= 0 && h < sr->hours) {
            sum[h] += sr->s[i].v;
            cnt[h]++;
        }
    }
    sr->y = malloc(sr->hours * sizeof(double));
    for (uint32_t h = 0; h < sr->hours; h++)
        sr->y[h] = cnt[h] ? sum[h] / cnt[h] : NAN;
    free(sum);
    free(cnt);
}

/* Samples every 10 min +- 4 min, noise sd per sample, level shift of `shift` from hour
** shift_at, no samples in [g0, g1) and [g2, g3). */
static void synth(struct series *sr, uint32_t hours, double sd, double shift, uint32_t shift_at,
                  int gaps)
{
    memset(sr, 0, sizeof(*sr));
    rng_state = 42;
    sr->t0 = T0;
    sr->hours = hours;
    sr->s = malloc((size_t)hours * 6 * sizeof(struct sample));
    for (uint32_t h = 0; h < hours; h++) {
        if (gaps && ((h >= 200 && h < 206) || (h >= 500 && h < 530) || h == 700))
            continue;
        for (int j = 0; j < 6; j++) {
            int64_t ts = T0 + h * HOUR_MS + j * 10 * MIN_MS + 5 * MIN_MS +
                         (int64_t)((rng_unif() - 0.5) * 8 * MIN_MS);
            double v = pattern(h) + sd * rng_gauss() + (h >= shift_at ? shift : 0);
            sr->s[sr->ns].ts = ts;
            sr->s[sr->ns].v = v;
            sr->ns++;
        }
    }
    series_hourly_means(sr);
}

#define NH 2
static const uint32_t HORIZONS[NH] = {24, 72};

struct acc {
    double ape, sape, ae;
    uint32_t n, nape;
};

static void acc_add(struct acc *a, double f, double y)
{
    a->ae += fabs(f - y);
    if (fabs(f) + fabs(y) > 0)
        a->sape += 2 * fabs(f - y) / (fabs(f) + fabs(y));
    if (y > 0) {
        a->ape += fabs(f - y) / y;
        a->nape++;
    }
    a->n++;
}
static double mape(const struct acc *a)
{
    return a->nape ? 100 * a->ape / a->nape : NAN;
}
static double smape(const struct acc *a)
{
    return a->n ? 100 * a->sape / a->n : NAN;
}
static double mae(const struct acc *a)
{
    return a->n ? a->ae / a->n : NAN;
}

struct eval {
    struct acc hw[NH], snw[NH], snd[NH]; /* HW, seasonal naive week, seasonal naive day */
    uint32_t in95[NH], in80[NH];
    int weekly_at_end;
    size_t mem_before, mem_after;
};

/* Feed sr hour by hour; after each hour (from hour eval_from), forecast 72 h and score the
** 24 h and 72 h ahead values against the seasonal naive ones, on the targets all three have. */
static void evaluate(const struct series *sr, uint32_t eval_from, struct eval *ev)
{
    memset(ev, 0, sizeof(*ev));
    struct hw *m = hw_new(HOUR_MS, 24, 168);
    ev->mem_before = hw_memory(m);
    double *f[NH], *lo95[NH], *hi95[NH], *lo80[NH], *hi80[NH];
    for (int i = 0; i < NH; i++) {
        f[i] = malloc(sr->hours * sizeof(double));
        lo95[i] = malloc(sr->hours * sizeof(double));
        hi95[i] = malloc(sr->hours * sizeof(double));
        lo80[i] = malloc(sr->hours * sizeof(double));
        hi80[i] = malloc(sr->hours * sizeof(double));
        for (uint32_t h = 0; h < sr->hours; h++)
            f[i][h] = NAN;
    }
    double pt[72], lo[72], hi[72], lo8[72], hi8[72];
    int64_t tt[72];
    uint32_t si = 0;
    for (uint32_t h = 0; h < sr->hours; h++) {
        int64_t end = sr->t0 + (int64_t)(h + 1) * HOUR_MS;
        while (si < sr->ns && sr->s[si].ts < end) {
            hw_add(m, sr->s[si].ts, sr->s[si].v);
            si++;
        }
        hw_advance(m, end);
        if (h < eval_from || !hw_ready(m))
            continue;
        if (hw_forecast(m, 72, 0.95, tt, pt, lo, hi) != 72 ||
            hw_forecast(m, 72, 0.8, NULL, pt, lo8, hi8) != 72) {
            CHECK(0);
            break;
        }
        CHECK(tt[0] == end);
        for (int i = 0; i < NH; i++) {
            uint32_t tg = h + HORIZONS[i];
            if (tg >= sr->hours)
                continue;
            f[i][tg] = pt[HORIZONS[i] - 1];
            lo95[i][tg] = lo[HORIZONS[i] - 1];
            hi95[i][tg] = hi[HORIZONS[i] - 1];
            lo80[i][tg] = lo8[HORIZONS[i] - 1];
            hi80[i][tg] = hi8[HORIZONS[i] - 1];
        }
    }
    ev->weekly_at_end = hw_weekly(m);
    ev->mem_after = hw_memory(m);
    for (int i = 0; i < NH; i++) {
        uint32_t hz = HORIZONS[i];
        for (uint32_t tg = WEEK_H; tg < sr->hours; tg++) {
            double y = sr->y[tg], fw = sr->y[tg - WEEK_H];
            /* seasonal naive with a daily season: the last value at the same hour of day
            ** known at the origin tg - hz: y[tg - 24 * ceil(hz / 24)] */
            double fd = sr->y[tg - 24 * ((hz + 23) / 24)];
            if (isnan(f[i][tg]) || isnan(y) || isnan(fw) || isnan(fd))
                continue;
            acc_add(&ev->hw[i], f[i][tg], y);
            acc_add(&ev->snw[i], fw, y);
            acc_add(&ev->snd[i], fd, y);
            ev->in95[i] += y >= lo95[i][tg] && y <= hi95[i][tg];
            ev->in80[i] += y >= lo80[i][tg] && y <= hi80[i][tg];
        }
        free(f[i]);
        free(lo95[i]);
        free(hi95[i]);
        free(lo80[i]);
        free(hi80[i]);
    }
    hw_free(m);
}

static void print_eval(const char *name, const struct eval *ev)
{
    for (int i = 0; i < NH; i++) {
        printf("  %s h=%uh n=%u: MAPE hw %.2f%% snaive-week %.2f%% snaive-day %.2f%% | sMAPE hw "
               "%.2f%% week %.2f%% day %.2f%% | MAE hw %.2f week %.2f day %.2f | cover95 %.1f%% "
               "cover80 %.1f%%\n",
               name, HORIZONS[i], ev->hw[i].n, mape(&ev->hw[i]), mape(&ev->snw[i]),
               mape(&ev->snd[i]), smape(&ev->hw[i]), smape(&ev->snw[i]), smape(&ev->snd[i]),
               mae(&ev->hw[i]), mae(&ev->snw[i]), mae(&ev->snd[i]),
               100.0 * ev->in95[i] / ev->hw[i].n, 100.0 * ev->in80[i] / ev->hw[i].n);
    }
}

static void test_args(void)
{
    CHECK(hw_new(0, 24, 168) == NULL);
    CHECK(hw_new(-1, 24, 168) == NULL);
    CHECK(hw_new(HOUR_MS, 1, 0) == NULL);
    CHECK(hw_new(HOUR_MS, 24, 24) == NULL);
    CHECK(hw_new(HOUR_MS, 24, 12) == NULL);
    CHECK(hw_new(HOUR_MS, HW_MAX_SEASON + 1, 0) == NULL);
    hw_free(NULL);
    struct hw *m = hw_new(HOUR_MS, 24, 168);
    REQUIRE(m);
    double p[4];
    CHECK(!hw_ready(m));
    CHECK_EQ_INT(hw_forecast(m, 4, 0.95, NULL, p, NULL, NULL), 0);
    CHECK_EQ_INT(hw_next_ts(m), 0);
    CHECK_EQ_INT(hw_params(m, NULL, NULL, NULL), VG_ENOENT);
    for (int h = 0; h < 24 * 3; h++)
        hw_add(m, T0 + h * HOUR_MS, 10 + h % 24);
    hw_advance(m, T0 + 72 * HOUR_MS);
    REQUIRE(hw_ready(m));
    CHECK_EQ_INT(hw_forecast(m, 4, 0.0, NULL, p, NULL, NULL), 0);
    CHECK_EQ_INT(hw_forecast(m, 4, 1.0, NULL, p, NULL, NULL), 0);
    CHECK_EQ_INT(hw_forecast(m, 4, NAN, NULL, p, NULL, NULL), 0);
    CHECK_EQ_INT(hw_forecast(m, 0, 0.9, NULL, p, NULL, NULL), 0);
    CHECK_EQ_INT(hw_forecast(m, 4, 0.9, NULL, NULL, NULL, NULL), 0);
    CHECK_EQ_INT(hw_forecast(m, 4, 0.9, NULL, p, NULL, NULL), 4);
    /* a noiseless daily profile is reproduced */
    for (int i = 0; i < 4; i++)
        CHECK(fabs(p[i] - (10 + i)) < 0.5);
    hw_free(m);
}

static void test_quantile(void)
{
    CHECK(fabs(hw_norm_quantile(0.975) - 1.959963985) < 1e-7);
    CHECK(fabs(hw_norm_quantile(0.9) - 1.281551566) < 1e-7);
    CHECK(fabs(hw_norm_quantile(0.5)) < 1e-9);
    CHECK(fabs(hw_norm_quantile(0.001) + 3.090232306) < 1e-7);
    CHECK(isinf(hw_norm_quantile(1.0)));
}

static void test_synthetic(void)
{
    set_tz("UTC");
    struct series sr;
    synth(&sr, 5 * WEEK_H, 6.0, 0, UINT32_MAX, 1);
    struct eval ev;
    evaluate(&sr, 2 * WEEK_H + 24, &ev);
    print_eval("synthetic", &ev);
    for (int i = 0; i < NH; i++) {
        CHECK(ev.hw[i].n > 300);
        CHECK(mape(&ev.hw[i]) <= 0.8 * mape(&ev.snw[i]));
        CHECK(mape(&ev.hw[i]) <= 0.8 * mape(&ev.snd[i]));
        double c95 = (double)ev.in95[i] / ev.hw[i].n, c80 = (double)ev.in80[i] / ev.hw[i].n;
        CHECK(c95 >= 0.90 && c95 <= 0.99);
        CHECK(c80 >= 0.65 && c80 <= 0.92);
    }
    CHECK(ev.weekly_at_end);
    CHECK(ev.mem_before == ev.mem_after);
    CHECK(ev.mem_before < 32 * 1024);
    printf("  memory per series (24, 168): %zu bytes\n", ev.mem_before);
    series_free(&sr);
}

/* +30 from day 21: three days later the 24 h-ahead forecasts follow the new level. */
static void test_level_shift(void)
{
    set_tz("UTC");
    struct series sr;
    uint32_t shift_at = 21 * 24 + 10;
    synth(&sr, 5 * WEEK_H, 6.0, 30, shift_at, 0);
    struct hw *m = hw_new(HOUR_MS, 24, 168);
    double pt[24];
    double err_before = 0, err_after = 0;
    uint32_t nb = 0, na = 0, si = 0;
    for (uint32_t h = 0; h < sr.hours; h++) {
        int64_t end = sr.t0 + (int64_t)(h + 1) * HOUR_MS;
        while (si < sr.ns && sr.s[si].ts < end) {
            hw_add(m, sr.s[si].ts, sr.s[si].v);
            si++;
        }
        hw_advance(m, end);
        if (h + 24 >= sr.hours || hw_forecast(m, 24, 0.95, NULL, pt, NULL, NULL) != 24)
            continue;
        /* 24 h ahead against the noiseless truth */
        double truth = pattern(h + 24) + (h + 24 >= shift_at ? 30 : 0);
        double e = fabs(pt[23] - truth);
        if (h >= 15 * 24 && h + 24 < shift_at) {
            err_before += e;
            nb++;
        }
        if (h >= shift_at + 3 * 24 && h < shift_at + 5 * 24) {
            err_after += e;
            na++;
        }
    }
    REQUIRE(nb > 0 && na > 0);
    err_before /= nb;
    err_after /= na;
    printf("  level shift +30: mean |error| 24h ahead before %.2f, 3 to 5 days after %.2f\n",
           err_before, err_after);
    CHECK(err_after < 5.0);
    CHECK(err_after < 3 * err_before + 1);
    /* beyond the last tracked horizon (168) the interval keeps widening */
    enum { LONG = 400 };
    double *lp = malloc(3 * LONG * sizeof(double)), *ll = lp + LONG, *lh = lp + 2 * LONG;
    CHECK_EQ_INT(hw_forecast(m, LONG, 0.95, NULL, lp, ll, lh), LONG);
    for (int i = 0; i < LONG; i++)
        CHECK(isfinite(ll[i]) && isfinite(lh[i]) && ll[i] < lp[i] && lp[i] < lh[i]);
    CHECK(lh[399] - ll[399] > lh[167] - ll[167]);
    CHECK(lh[167] - ll[167] >= lh[0] - ll[0]);
    free(lp);
    hw_free(m);
    series_free(&sr);
}

/* NaN, infinities, values older than the open step and a past hw_advance change nothing. */
static void test_ignored(void)
{
    set_tz("UTC");
    struct hw *a = hw_new(HOUR_MS, 24, 168), *b = hw_new(HOUR_MS, 24, 168);
    rng_state = 7;
    for (int h = 0; h < 16 * 24; h++) {
        for (int j = 0; j < 3; j++) {
            int64_t ts = T0 + h * HOUR_MS + j * 20 * MIN_MS;
            double v = pattern(h) + 3 * rng_gauss();
            hw_add(a, ts, v);
            hw_add(b, ts, v);
            hw_add(b, ts, NAN);
            hw_add(b, ts + 1, INFINITY);
            hw_add(b, ts, -INFINITY);
            if (h > 0)
                hw_add(b, ts - HOUR_MS, 1e9); /* previous step: already completed */
            hw_advance(b, ts - 2 * HOUR_MS);
        }
    }
    hw_advance(a, T0 + 16 * DAY_MS);
    hw_advance(b, T0 + 16 * DAY_MS);
    hw_add(b, T0 + 16 * DAY_MS - 1, 1e9); /* the last completed step */
    REQUIRE(hw_ready(a) && hw_ready(b));
    CHECK(hw_next_ts(a) == T0 + 16 * DAY_MS);
    CHECK(hw_next_ts(b) == T0 + 16 * DAY_MS);
    double pa[48], pb[48], la[48], lb[48];
    CHECK_EQ_INT(hw_forecast(a, 48, 0.95, NULL, pa, la, NULL), 48);
    CHECK_EQ_INT(hw_forecast(b, 48, 0.95, NULL, pb, lb, NULL), 48);
    CHECK(memcmp(pa, pb, sizeof(pa)) == 0);
    CHECK(memcmp(la, lb, sizeof(la)) == 0);
    hw_free(a);
    hw_free(b);
}

/* s2 = 0 (daily only) works; a weekly model serves the daily candidates before two weeks. */
static void test_daily_only(void)
{
    set_tz("UTC");
    struct hw *d = hw_new(HOUR_MS, 24, 0), *w = hw_new(HOUR_MS, 24, 168);
    CHECK(hw_memory(d) < hw_memory(w));
    double pt[24], lo[24], hi[24];
    rng_state = 9;
    for (int h = 0; h < 10 * 24; h++) {
        double v = 40 + 10 * sin(2 * M_PI * (h % 24) / 24.0) + rng_gauss();
        hw_add(d, T0 + h * HOUR_MS, v);
        hw_add(w, T0 + h * HOUR_MS, v);
        if (h == 2 * 24 - 1) {
            CHECK(!hw_ready(d)); /* step 47 still open */
        }
        if (h == 2 * 24) {
            CHECK(hw_ready(d));
            CHECK(hw_ready(w));
        }
    }
    hw_advance(d, T0 + 10 * DAY_MS);
    hw_advance(w, T0 + 10 * DAY_MS);
    CHECK(hw_ready(d) && !hw_weekly(d));
    CHECK(hw_ready(w) && !hw_weekly(w));
    /* every day alike: Holt-Winters without its weekly season, or all days as similar days */
    const char *how = hw_method(w), *seasons = hw_seasons(w);
    REQUIRE(how && seasons);
    if (!strcmp(how, "holt-winters")) {
        double g2 = -1;
        CHECK_EQ_INT(hw_params(w, NULL, NULL, &g2), VG_OK);
        CHECK(g2 == 0.0);
        CHECK(!strcmp(seasons, "daily"));
    } else {
        CHECK(!strcmp(how, "similar-days"));
        CHECK(!strcmp(seasons, "all-days"));
        CHECK_EQ_INT(hw_params(w, NULL, NULL, NULL), VG_ENOENT);
    }
    CHECK_EQ_INT(hw_forecast(d, 24, 0.95, NULL, pt, lo, hi), 24);
    for (int i = 0; i < 24; i++) {
        double truth = 40 + 10 * sin(2 * M_PI * i / 24.0);
        CHECK(fabs(pt[i] - truth) < 2.0);
        CHECK(lo[i] < pt[i] && pt[i] < hi[i]);
        CHECK(hi[i] - lo[i] > 2.0 && hi[i] - lo[i] < 10.0); /* 2 * 1.96 * sd(1) ~ 4 */
    }
    hw_free(d);
    hw_free(w);
}

/* Irregular steps: 15 min steps with a daily season of 96 (local slots) and no weekly. A long
** silence restarts the model. */
static void test_gap_restart(void)
{
    set_tz("UTC");
    int64_t step = 15 * MIN_MS;
    struct hw *m = hw_new(step, 96, 0);
    REQUIRE(m);
    for (int i = 0; i < 3 * 96; i++)
        hw_add(m, T0 + i * step, 5 + (i % 96) / 10.0);
    hw_advance(m, T0 + 3 * 96 * step);
    CHECK(hw_ready(m));
    /* a 3-hour gap: missing steps do not move the states, still ready */
    int64_t t1 = T0 + (3 * 96 + 12) * step;
    hw_add(m, t1, 5 + 12 / 10.0);
    hw_advance(m, t1 + step);
    CHECK(hw_ready(m));
    double p[2];
    CHECK_EQ_INT(hw_forecast(m, 2, 0.8, NULL, p, NULL, NULL), 2);
    CHECK(fabs(p[0] - (5 + 13 / 10.0)) < 0.3);
    /* silence of 10 days (> 2 * 2 * 96 steps): restart */
    int64_t t2 = t1 + 10 * DAY_MS;
    hw_add(m, t2, 1);
    CHECK(!hw_ready(m));
    hw_advance(m, t2 + 3 * DAY_MS);
    CHECK(!hw_ready(m)); /* only one value since the restart: not enough */
    hw_free(m);
}

/* TZ=Europe/Paris: a peak at 08:00 local; after the spring DST change (2026-03-29) the
** forecast peak is still at 08:00 local (06:00 UTC instead of 07:00 UTC). */
static void test_dst(void)
{
    set_tz("Europe/Paris");
    struct hw *m = hw_new(HOUR_MS, 24, 168);
    int64_t start = 1773014400000LL; /* 2026-03-09 00:00 UTC */
    int64_t dst = 1774746000000LL;   /* 2026-03-29 01:00 UTC */
    int64_t stop = dst + 5 * DAY_MS;
    rng_state = 11;
    for (int64_t t = start; t < stop; t += HOUR_MS) {
        time_t s = (time_t)(t / 1000);
        struct tm tm;
        localtime_r(&s, &tm);
        hw_add(m, t + 60000, (tm.tm_hour == 8 ? 100 : 20) + rng_gauss());
    }
    hw_advance(m, stop);
    REQUIRE(hw_ready(m));
    double pt[24];
    int64_t tt[24];
    CHECK_EQ_INT(hw_forecast(m, 24, 0.95, tt, pt, NULL, NULL), 24);
    int best = 0;
    for (int i = 1; i < 24; i++)
        if (pt[i] > pt[best])
            best = i;
    time_t s = (time_t)(tt[best] / 1000);
    struct tm tm;
    localtime_r(&s, &tm);
    CHECK_EQ_INT(tm.tm_hour, 8);
    CHECK_EQ_INT((tt[best] / HOUR_MS) % 24, 6);
    CHECK(pt[best] > 80);
    hw_free(m);
    set_tz("UTC");
}

/* Water-meter-like data (Europe/Paris, 5 weeks across the spring DST change): a working-day and
** a weekend profile, 6 % noise, and rare large night spikes (someone up at night). Similar days
** serve (working days pooled apart from weekends), beat the week-naive forecast by more than
** 20 %, and keep the evening peak at 20:00 local after the DST change, although most of the
** pooled days are from before it. */
static double water_like(int64_t t, int *local_hour)
{
    time_t s = (time_t)(t / 1000);
    struct tm tm;
    localtime_r(&s, &tm);
    double h = tm.tm_hour;
    int weekend = tm.tm_wday == 0 || tm.tm_wday == 6;
    double v = weekend ? 0.1 + 0.5 * exp(-0.5 * (h - 10) * (h - 10) / 2.0) +
                             0.6 * exp(-0.5 * (h - 20) * (h - 20) / 3.0)
                       : 0.1 + 0.55 * exp(-0.5 * (h - 7) * (h - 7)) +
                             0.3 * (h >= 9 && h <= 17) + 0.7 * exp(-0.5 * (h - 20) * (h - 20) / 2.0);
    v *= 1 + 0.06 * rng_gauss();
    if (h < 5 && rng_unif() < 0.05)
        v += 0.2 + 0.8 * rng_unif();
    if (local_hour)
        *local_hour = tm.tm_hour;
    return v;
}

static void test_similar_days(void)
{
    set_tz("Europe/Paris");
    rng_state = 5;
    int64_t start = 1772406000000LL; /* 2026-03-01 23:00 UTC: Monday 2 March, 00:00 local */
    uint32_t hours = 5 * WEEK_H, eval_from = 3 * WEEK_H;
    double *y = malloc(hours * sizeof(double)), *f = malloc(hours * sizeof(double));
    REQUIRE(y && f);
    for (uint32_t h = 0; h < hours; h++) {
        y[h] = water_like(start + (int64_t)h * HOUR_MS, NULL);
        f[h] = NAN;
    }
    struct hw *m = hw_new(HOUR_MS, 24, 168);
    REQUIRE(m);
    for (uint32_t h = 0; h < hours; h++) {
        hw_add(m, start + (int64_t)h * HOUR_MS + 1000, y[h]);
        hw_advance(m, start + (int64_t)(h + 1) * HOUR_MS);
        double pt[24];
        if (h + 24 < hours && h + 1 >= eval_from &&
            hw_forecast(m, 24, 0.9, NULL, pt, NULL, NULL) == 24)
            f[h + 24] = pt[23];
    }
    double e_m = 0, e_n = 0;
    uint32_t n = 0;
    for (uint32_t h = eval_from + 24; h < hours; h++) {
        if (isnan(f[h]))
            continue;
        e_m += fabs(y[h] - f[h]) / y[h];
        e_n += fabs(y[h] - y[h - WEEK_H]) / y[h];
        n++;
    }
    CHECK(n > 300);
    printf("  water-like, 24 h ahead: MAPE %.2f %% (%s, %s), week-naive %.2f %%\n",
           100 * e_m / n, hw_method(m), hw_seasons(m), 100 * e_n / n);
    CHECK(e_m < 0.8 * e_n);
    REQUIRE(hw_method(m));
    CHECK(!strcmp(hw_method(m), "similar-days"));
    CHECK(!strcmp(hw_seasons(m), "weekdays+weekend") ||
          !strcmp(hw_seasons(m), "weekdays+saturday+sunday"));
    /* the next day is a working day: its evening peak at 20:00 local (18:00 UTC in summer) */
    double pt[24];
    int64_t tt[24];
    REQUIRE(hw_forecast(m, 24, 0.9, tt, pt, NULL, NULL) == 24);
    int best = 0;
    for (int i = 1; i < 24; i++)
        if (pt[i] > pt[best])
            best = i;
    int lh = -1;
    water_like(tt[best], &lh);
    CHECK_EQ_INT(lh, 20);
    CHECK_EQ_INT((tt[best] / HOUR_MS) % 24, 18);
    /* 30 days ahead, then after 23 silent days (out of the raw ring, not yet a restart):
    ** finite points (similar days have nothing to pool; Holt-Winters stands in) */
    double far[720];
    REQUIRE(hw_forecast(m, 720, 0.9, NULL, far, NULL, NULL) == 720);
    int finite = 1;
    for (int i = 0; i < 720; i++)
        finite &= isfinite(far[i]);
    CHECK(finite);
    hw_advance(m, start + (int64_t)hours * HOUR_MS + 23 * DAY_MS);
    REQUIRE(hw_forecast(m, 72, 0.9, NULL, far, NULL, NULL) == 72);
    for (int i = 0; i < 72; i++)
        finite &= isfinite(far[i]);
    CHECK(finite);
    hw_free(m);
    free(y);
    free(f);
    set_tz("UTC");
}

/* Airparif PA13 (Paris 13e) 2018: "dd/mm/yyyy;hour 1..24;NO2;O3", hour-ending, assumed UTC+1
** (365 * 24 rows: no DST days, so a fixed offset). Column col = 2 (NO2) or 3 (O3). */
static int load_pa13(const char *path, int col, struct series *sr)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    memset(sr, 0, sizeof(*sr));
    sr->hours = 366 * 24;
    sr->s = calloc(sr->hours, sizeof(struct sample));
    char line[256];
    int first = 1;
    while (fgets(line, sizeof(line), f)) {
        int dd, mm, yy, hh;
        char c2[32], c3[32];
        if (sscanf(line, "%d/%d/%d;%d;%31[^;];%31[^;\r\n]", &dd, &mm, &yy, &hh, c2, c3) != 6)
            continue;
        struct tm tm = {.tm_year = yy - 1900, .tm_mon = mm - 1, .tm_mday = dd};
        int64_t ts = (int64_t)timegm(&tm) * 1000 + (hh - 1) * HOUR_MS - HOUR_MS;
        if (first) {
            sr->t0 = ts;
            first = 0;
        }
        char *end;
        const char *txt = col == 2 ? c2 : c3;
        double v = strtod(txt, &end);
        if (end == txt)
            continue;
        if (sr->ns < sr->hours && ts >= sr->t0) {
            sr->s[sr->ns].ts = ts + 30 * MIN_MS;
            sr->s[sr->ns].v = v;
            sr->ns++;
        }
    }
    fclose(f);
    if (sr->ns == 0) {
        free(sr->s);
        return -1;
    }
    sr->hours = (uint32_t)((sr->s[sr->ns - 1].ts - sr->t0) / HOUR_MS + 1);
    series_hourly_means(sr);
    return 0;
}

static void test_real_pa13(void)
{
    set_tz("Europe/Paris");
    const char *path = "../shared/data/air_quality_occitanie_paris/PA13_2018.csv";
    static const char *names[] = {"PA13 NO2 2018", "PA13 O3 2018"};
    for (int col = 2; col <= 3; col++) {
        struct series sr;
        if (load_pa13(path, col, &sr) != 0) {
            printf("  %s: skipped (%s not readable)\n", names[col - 2], path);
            return;
        }
        uint32_t missing = 0;
        for (uint32_t h = 0; h < sr.hours; h++)
            missing += isnan(sr.y[h]);
        printf("  %s: %u hours, %u missing\n", names[col - 2], sr.hours, missing);
        CHECK(sr.hours > 5 * WEEK_H);
        struct eval ev;
        evaluate(&sr, 3 * WEEK_H, &ev);
        print_eval(names[col - 2], &ev);
        for (int i = 0; i < NH; i++) {
            CHECK(ev.hw[i].n > 5000);
            /* not a target on real data; only a gross failure (a bug) fails the test */
            CHECK(mae(&ev.hw[i]) < 1.5 * mae(&ev.snw[i]));
            CHECK(ev.in95[i] > 0.7 * ev.hw[i].n);
        }
        series_free(&sr);
    }
    set_tz("UTC");
}

int main(void)
{
    TEST_BEGIN("forecast_test");
    TEST_RUN(test_args);
    TEST_RUN(test_quantile);
    TEST_RUN(test_synthetic);
    TEST_RUN(test_level_shift);
    TEST_RUN(test_ignored);
    TEST_RUN(test_daily_only);
    TEST_RUN(test_gap_restart);
    TEST_RUN(test_dst);
    TEST_RUN(test_similar_days);
    TEST_RUN(test_real_pa13);
    return TEST_END();
}
