/*
** alerts/baseline_test.c: hour-of-week baseline: arguments, scores of normal points and of a
** spike on a periodic noisy series, too little history (VG_ENOENT), slot alignment across both
** DST changes of 2026 in Europe/Paris, flat series (no division by zero), hourly aggregation,
** ignored values and the W-week window.
*/
#include "alerts/baseline.h"
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
#define WEEK_MS (7 * DAY_MS)
#define T0 1767571200000LL /* 2026-01-05 00:00 UTC, a Monday */

static void set_tz(const char *tz)
{
    setenv("TZ", tz, 1);
    tzset();
}

static uint64_t rng_state;
static double rng_unif(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return ((z >> 11) + 0.5) / 9007199254740992.0;
}
static double rng_gauss(void)
{
    double u = rng_unif(), v = rng_unif();
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

static double periodic(int64_t ts)
{
    int64_t h = (ts - T0) / HOUR_MS;
    int hd = (int)(h % 24), day = (int)((h / 24) % 7);
    return 50 + 20 * sin(2 * M_PI * hd / 24.0) + (day >= 5 ? -10 : 0);
}

static int local_hour_of(int64_t ts)
{
    time_t t = (time_t)(ts / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    return tm.tm_hour;
}

static void test_args(void)
{
    CHECK(baseline_new(0) == NULL);
    CHECK(baseline_new(BASELINE_MAX_WEEKS + 1) == NULL);
    baseline_free(NULL);
    struct baseline *b = baseline_new(BASELINE_MAX_WEEKS);
    REQUIRE(b);
    CHECK(baseline_memory(b) >= BASELINE_SLOTS * BASELINE_MAX_WEEKS * sizeof(float));
    CHECK(baseline_memory(b) < 8 * 1024);
    double s;
    CHECK_EQ_INT(baseline_score(b, T0, 1.0, &s, NULL, NULL), VG_ENOENT);
    CHECK_EQ_INT(baseline_score(b, T0, NAN, &s, NULL, NULL), VG_EINVAL);
    CHECK_EQ_INT(baseline_score(NULL, T0, 1.0, &s, NULL, NULL), VG_EINVAL);
    baseline_free(b);
}

/* 6 weeks of hourly values (noise sd 2), then one more week scored point by point. */
static void test_periodic(void)
{
    set_tz("UTC");
    struct baseline *b = baseline_new(6);
    size_t mem = baseline_memory(b);
    rng_state = 1;
    int64_t t;
    for (t = T0; t < T0 + 6 * WEEK_MS; t += HOUR_MS)
        baseline_add(b, t + 10 * MIN_MS, periodic(t) + 2 * rng_gauss());
    uint32_t n = 0, below3 = 0, spikes_high = 0, nspikes = 0;
    double worst = 0;
    for (; t < T0 + 7 * WEEK_MS; t += HOUR_MS) {
        double v = periodic(t) + 2 * rng_gauss(), s, med, mad;
        REQUIRE(baseline_score(b, t + 10 * MIN_MS, v, &s, &med, &mad) == VG_OK);
        CHECK(fabs(med - periodic(t)) < 3);
        n++;
        below3 += s < 3;
        if (s > worst)
            worst = s;
        if ((t / HOUR_MS) % 13 == 0) { /* spike of +25 (12 sd): scored, not added */
            double ss;
            REQUIRE(baseline_score(b, t + 20 * MIN_MS, v + 25, &ss, NULL, NULL) == VG_OK);
            nspikes++;
            spikes_high += ss > 6;
        }
        baseline_add(b, t + 10 * MIN_MS, v);
    }
    printf("  normal points: %u/%u score < 3 (max %.2f); spikes: %u/%u score > 6\n", below3, n,
           worst, spikes_high, nspikes);
    CHECK(below3 >= 0.95 * n);
    CHECK(spikes_high == nspikes);
    CHECK(baseline_memory(b) == mem);
    baseline_free(b);
}

/* A slot needs two earlier weeks; the week of the point itself does not count. */
static void test_min_history(void)
{
    set_tz("UTC");
    struct baseline *b = baseline_new(4);
    double s, med;
    for (int64_t t = T0; t < T0 + WEEK_MS; t += HOUR_MS)
        baseline_add(b, t, 10);
    CHECK_EQ_INT(baseline_score(b, T0 + WEEK_MS + 5 * HOUR_MS, 10, &s, NULL, NULL), VG_ENOENT);
    /* same week as the history: excluded */
    CHECK_EQ_INT(baseline_score(b, T0 + 5 * HOUR_MS, 10, &s, NULL, NULL), VG_ENOENT);
    for (int64_t t = T0 + WEEK_MS; t < T0 + 2 * WEEK_MS; t += HOUR_MS)
        if ((t - T0) / HOUR_MS % 168 != 30) /* slot 30 (Tuesday 06:00) misses week 2 */
            baseline_add(b, t, 12);
    baseline_add(b, T0 + 2 * WEEK_MS, 12); /* closes the last hour of week 2 */
    CHECK_EQ_INT(baseline_score(b, T0 + 2 * WEEK_MS + 5 * HOUR_MS, 11, &s, &med, NULL), VG_OK);
    CHECK(fabs(med - 11) < 1e-9);
    CHECK_EQ_INT(baseline_score(b, T0 + 2 * WEEK_MS + 30 * HOUR_MS, 11, &s, NULL, NULL),
                 VG_ENOENT);
    /* the last hour of week 2 is still open in b: it counts for Sunday 23:00 of week 3 */
    struct baseline *c = baseline_new(4);
    for (int64_t t = T0; t < T0 + 2 * WEEK_MS; t += HOUR_MS)
        baseline_add(c, t, 7);
    CHECK_EQ_INT(baseline_score(c, T0 + 3 * WEEK_MS - HOUR_MS, 7, &s, &med, NULL), VG_OK);
    CHECK(med == 7);
    /* history older than W weeks is forgotten: week 4 sees weeks 0-3, week 5 only 1-4 */
    CHECK_EQ_INT(baseline_score(c, T0 + 5 * WEEK_MS - HOUR_MS, 7, &s, NULL, NULL), VG_OK);
    CHECK_EQ_INT(baseline_score(c, T0 + 5 * WEEK_MS, 7, &s, NULL, NULL), VG_ENOENT);
    baseline_free(b);
    baseline_free(c);
}

/* Several values per hour are averaged; NaN, infinities and late values are ignored. */
static void test_aggregation(void)
{
    set_tz("UTC");
    struct baseline *b = baseline_new(3);
    for (int w = 0; w < 2; w++)
        for (int h = 0; h < 168; h++) {
            int64_t t = T0 + w * WEEK_MS + h * HOUR_MS;
            baseline_add(b, t + 1 * MIN_MS, 10);
            baseline_add(b, t + 2 * MIN_MS, NAN);
            baseline_add(b, t + 3 * MIN_MS, INFINITY);
            baseline_add(b, t + 30 * MIN_MS, 20 + w * 10); /* week means 15 and 20 */
            if (h > 0)
                baseline_add(b, t - 10 * MIN_MS, 1e6); /* previous hour: closed, ignored */
        }
    baseline_add(b, T0 + 2 * WEEK_MS, 0);
    double s, med, mad;
    CHECK_EQ_INT(baseline_score(b, T0 + 2 * WEEK_MS + 50 * HOUR_MS, 17.5, &s, &med, &mad), VG_OK);
    CHECK(fabs(med - 17.5) < 1e-6);
    CHECK(fabs(mad - 2.5) < 1e-6);
    CHECK(fabs(s) < 1e-9);
    baseline_free(b);
}

/* Flat series: MAD = 0; the score stays finite thanks to the floor. */
static void test_flat(void)
{
    set_tz("UTC");
    struct baseline *b = baseline_new(4), *z = baseline_new(4);
    for (int64_t t = T0; t < T0 + 3 * WEEK_MS; t += HOUR_MS) {
        baseline_add(b, t, 20);
        baseline_add(z, t, 0);
    }
    double s, med, mad;
    int64_t t = T0 + 3 * WEEK_MS + 3 * HOUR_MS;
    CHECK_EQ_INT(baseline_score(b, t, 20, &s, &med, &mad), VG_OK);
    CHECK(s == 0 && med == 20 && mad == 0);
    CHECK_EQ_INT(baseline_score(b, t, 21, &s, NULL, NULL), VG_OK);
    CHECK(isfinite(s) && fabs(s - 1 / (0.01 * 20)) < 1e-9); /* floor 1 % of the median */
    CHECK_EQ_INT(baseline_score(z, t, 0, &s, NULL, NULL), VG_OK);
    CHECK(s == 0);
    CHECK_EQ_INT(baseline_score(z, t, 1, &s, NULL, NULL), VG_OK);
    CHECK(isfinite(s) && s > 1e5); /* any change of an always-zero series is an anomaly */
    baseline_free(b);
    baseline_free(z);
}

/* Europe/Paris, last Sundays of March and October 2026: a value of 100 at 08:00 local (20
** otherwise). After each change, 100 at 08:00 local is normal and 100 at 07:00 or 09:00 local
** is not, although 08:00 local moved by one hour in UTC. */
static void dst_case(int64_t change_ms, const char *name)
{
    struct baseline *b = baseline_new(4);
    rng_state = 3;
    int64_t from = change_ms - 4 * WEEK_MS - 9 * HOUR_MS, to = change_ms + 2 * WEEK_MS;
    uint32_t n8 = 0, ok8 = 0, n7 = 0, high7 = 0;
    for (int64_t t = from; t < to; t += 30 * MIN_MS) {
        int lh = local_hour_of(t);
        double v = (lh == 8 ? 100 : 20) + rng_gauss();
        if (t >= change_ms + DAY_MS && (t / (30 * MIN_MS)) % 2 == 0) {
            double s, med;
            if (lh == 8 && baseline_score(b, t, 100, &s, &med, NULL) == VG_OK) {
                n8++;
                ok8 += s < 3 && fabs(med - 100) < 3;
            }
            if ((lh == 7 || lh == 9) && baseline_score(b, t, 100, &s, &med, NULL) == VG_OK) {
                n7++;
                high7 += s > 6 && fabs(med - 20) < 3;
            }
        }
        baseline_add(b, t, v);
    }
    printf("  %s: 08:00 local normal %u/%u, 07:00/09:00 local anomalous %u/%u\n", name, ok8, n8,
           high7, n7);
    CHECK(n8 >= 12 && ok8 == n8);
    CHECK(n7 >= 24 && high7 == n7);
    baseline_free(b);
}

static void test_dst(void)
{
    set_tz("Europe/Paris");
    dst_case(1774746000000LL, "2026-03-29 (CET->CEST)"); /* 01:00 UTC */
    dst_case(1792890000000LL, "2026-10-25 (CEST->CET)"); /* 01:00 UTC */
    /* the repeated hour 02:00-03:00 of 2026-10-25 is one slot: one mean of both hours (40 in
    ** CEST, 80 in CET: 60, as on the Sundays before) */
    struct baseline *b = baseline_new(2);
    int64_t sun = 1792890000000LL - 2 * HOUR_MS; /* 2026-10-24 23:00 UTC = 01:00 CEST */
    for (int w = -2; w <= 0; w++)
        for (int64_t t = sun + w * WEEK_MS; t < sun + w * WEEK_MS + 6 * HOUR_MS;
             t += 30 * MIN_MS) {
            time_t tt = (time_t)(t / 1000);
            struct tm tm;
            localtime_r(&tt, &tm);
            double v = tm.tm_hour != 2 ? 5 : w < 0 ? 60 : tm.tm_isdst > 0 ? 40 : 80;
            baseline_add(b, t, v);
        }
    double s, med;
    int64_t next = sun + WEEK_MS + 2 * HOUR_MS; /* 2026-11-01 01:00 UTC = 02:00 CET */
    CHECK_EQ_INT(local_hour_of(next), 2);
    CHECK_EQ_INT(baseline_score(b, next, 60, &s, &med, NULL), VG_OK);
    CHECK(fabs(med - 60) < 1e-6);
    CHECK(s < 1e-6);
    baseline_free(b);
    set_tz("UTC");
}

int main(void)
{
    TEST_BEGIN("baseline_test");
    TEST_RUN(test_args);
    TEST_RUN(test_periodic);
    TEST_RUN(test_min_history);
    TEST_RUN(test_aggregation);
    TEST_RUN(test_flat);
    TEST_RUN(test_dst);
    return TEST_END();
}
