/*
** alerts/baseline.c: hour-of-week robust baseline (median and MAD over the last W weeks).
** Owns: the per-slot rings of hourly means (float, 168 * W), freed by baseline_free.
** Method: docs/forecast.md "Seasonal baseline".
**
** Time: a value's local hour index lh = floor((ts + utc offset at ts) / 1 h), shifted so that
** Monday 00:00 local is a multiple of 168: slot = lh mod 168, week = lh div 168. An hour that
** repeats when DST ends has one lh, so both real hours merge into one mean; the hour skipped
** when DST starts has no value that week. Either way 08:00 local stays in the 08:00 slot.
**
** Ring of slot s: entry for week wk at ring[s * W + wk mod W]; last_week[s] is the newest week
** written; weeks skipped since are written as NaN, so entries are always consecutive weeks.
*/
#include "alerts/baseline.h"

#include "core/clock.h"
#include "core/vg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOUR_MS 3600000LL
#define MONDAY_SHIFT 72 /* 1970-01-01 was a Thursday: +72 h puts Monday 00:00 at 0 mod 168 */
#define MAD_K 1.4826    /* MAD of a normal sample * MAD_K = its standard deviation */
#define FLOOR_GLOBAL 0.75
#define FLOOR_REL 0.01
#define FLOOR_ABS 1e-6
#define NO_WEEK INT64_MIN

/* Small-sample consistency factors of the MAD for n = 2..9 values (Croux and Rousseeuw 1992):
** with few weeks the raw MAD underestimates the spread; n > 9: n / (n - 0.8). */
static const double MAD_SMALL_N[10] = {1, 1, 1.196, 1.495, 1.363, 1.206, 1.200, 1.140, 1.129, 1.107};

static double mad_factor(uint32_t n)
{
    return n < VG_ARRAY_LEN(MAD_SMALL_N) ? MAD_SMALL_N[n] : n / (n - 0.8);
}

struct baseline {
    uint32_t weeks;
    int has_open;
    int64_t open_lh; /* local hour being aggregated */
    double open_sum;
    uint32_t open_n;
    int64_t last_week[BASELINE_SLOTS];
    float mad[BASELINE_SLOTS]; /* MAD of each slot at its last write (NaN: < min weeks) */
    double gmad;               /* median of the slots' MADs, 0 if none */
    float *ring;
};

static uint32_t umod(int64_t a, uint32_t m)
{
    int64_t r = a % (int64_t)m;
    return (uint32_t)(r < 0 ? r + m : r);
}

static int64_t local_hour(int64_t ts_ms)
{
    return clock_floor_div(ts_ms + clock_local_offset_ms(ts_ms), HOUR_MS) + MONDAY_SHIFT;
}

struct baseline *baseline_new(uint32_t weeks)
{
    if (weeks == 0 || weeks > BASELINE_MAX_WEEKS)
        return NULL;
    struct baseline *b = vg_calloc(1, sizeof(*b));
    b->weeks = weeks;
    b->ring = vg_malloc((size_t)BASELINE_SLOTS * weeks * sizeof(float));
    for (uint32_t i = 0; i < BASELINE_SLOTS * weeks; i++)
        b->ring[i] = NAN;
    for (int s = 0; s < BASELINE_SLOTS; s++) {
        b->last_week[s] = NO_WEEK;
        b->mad[s] = NAN;
    }
    return b;
}

void baseline_free(struct baseline *b)
{
    if (!b)
        return;
    free(b->ring);
    free(b);
}

size_t baseline_memory(const struct baseline *b)
{
    return b ? sizeof(*b) + (size_t)BASELINE_SLOTS * b->weeks * sizeof(float) : 0;
}

static void sort_d(double *x, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++) {
        double v = x[i];
        uint32_t j = i;
        for (; j > 0 && x[j - 1] > v; j--)
            x[j] = x[j - 1];
        x[j] = v;
    }
}

static double median_sorted(const double *x, uint32_t n)
{
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

/* Median and MAD of x[0..n) (n >= 1; x is reordered). */
static void med_mad(double *x, uint32_t n, double *med, double *mad)
{
    sort_d(x, n);
    double m = median_sorted(x, n);
    for (uint32_t i = 0; i < n; i++)
        x[i] = fabs(x[i] - m);
    sort_d(x, n);
    *med = m;
    *mad = median_sorted(x, n);
}

/* History of slot s in weeks [wk - W, wk - 1], plus the open hour if it belongs there. */
static uint32_t history(const struct baseline *b, uint32_t s, int64_t wk,
                        double out[BASELINE_MAX_WEEKS + 1])
{
    uint32_t n = 0;
    int64_t last = b->last_week[s];
    if (last != NO_WEEK) {
        for (uint32_t j = 0; j < b->weeks; j++) {
            int64_t w = last - j;
            if (w >= wk)
                continue;
            if (w < wk - (int64_t)b->weeks)
                break;
            float v = b->ring[s * b->weeks + umod(w, b->weeks)];
            if (!isnan(v))
                out[n++] = v;
        }
    }
    if (b->has_open && b->open_n > 0 && umod(b->open_lh, BASELINE_SLOTS) == s) {
        int64_t ow = clock_floor_div(b->open_lh, BASELINE_SLOTS);
        if (ow < wk && ow >= wk - (int64_t)b->weeks && n < BASELINE_MAX_WEEKS + 1)
            out[n++] = b->open_sum / b->open_n;
    }
    return n;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The open hour is complete: write it into its slot's ring, refresh the MAD caches. */
static void commit(struct baseline *b)
{
    uint32_t s = umod(b->open_lh, BASELINE_SLOTS);
    int64_t wk = clock_floor_div(b->open_lh, BASELINE_SLOTS);
    int64_t last = b->last_week[s];
    if (last != NO_WEEK && wk <= last)
        return; /* cannot happen with increasing hours; keep the ring consistent anyway */
    if (last != NO_WEEK) {
        int64_t from = wk - last > b->weeks ? wk - b->weeks : last + 1;
        for (int64_t w = from; w < wk; w++)
            b->ring[s * b->weeks + umod(w, b->weeks)] = NAN;
    } else {
        for (uint32_t j = 0; j < b->weeks; j++)
            b->ring[s * b->weeks + j] = NAN;
    }
    b->ring[s * b->weeks + umod(wk, b->weeks)] = (float)(b->open_sum / b->open_n);
    b->last_week[s] = wk;

    double x[BASELINE_MAX_WEEKS + 1], med, mad;
    uint32_t n = 0;
    for (uint32_t j = 0; j < b->weeks; j++) {
        float v = b->ring[s * b->weeks + j];
        if (!isnan(v))
            x[n++] = v;
    }
    b->mad[s] = NAN;
    if (n >= BASELINE_MIN_WEEKS) {
        med_mad(x, n, &med, &mad);
        b->mad[s] = (float)(mad * mad_factor(n));
    }
    float all[BASELINE_SLOTS];
    uint32_t na = 0;
    for (int i = 0; i < BASELINE_SLOTS; i++)
        if (!isnan(b->mad[i]))
            all[na++] = b->mad[i];
    b->gmad = 0;
    if (na) {
        qsort(all, na, sizeof(float), cmp_float);
        b->gmad = na % 2 ? all[na / 2] : 0.5 * ((double)all[na / 2 - 1] + all[na / 2]);
    }
}

void baseline_add(struct baseline *b, int64_t ts_ms, double v)
{
    if (!b || !isfinite(v))
        return;
    int64_t lh = local_hour(ts_ms);
    if (b->has_open && lh == b->open_lh) {
        b->open_sum += v;
        b->open_n++;
        return;
    }
    if (b->has_open && lh < b->open_lh)
        return;
    if (b->has_open)
        commit(b);
    b->has_open = 1;
    b->open_lh = lh;
    b->open_sum = v;
    b->open_n = 1;
}

int baseline_score(const struct baseline *b, int64_t ts_ms, double v, double *score,
                   double *median, double *mad)
{
    if (!b || !isfinite(v))
        return VG_EINVAL;
    int64_t lh = local_hour(ts_ms);
    uint32_t s = umod(lh, BASELINE_SLOTS);
    int64_t wk = clock_floor_div(lh, BASELINE_SLOTS);
    double x[BASELINE_MAX_WEEKS + 1], med, md;
    uint32_t n = history(b, s, wk, x);
    if (n < BASELINE_MIN_WEEKS)
        return VG_ENOENT;
    med_mad(x, n, &med, &md);
    double lo = FLOOR_GLOBAL * MAD_K * b->gmad;
    if (lo < FLOOR_REL * fabs(med))
        lo = FLOOR_REL * fabs(med);
    if (lo < FLOOR_ABS)
        lo = FLOOR_ABS;
    double den = MAD_K * mad_factor(n) * md;
    if (den < lo)
        den = lo;
    if (score)
        *score = fabs(v - med) / den;
    if (median)
        *median = med;
    if (mad)
        *mad = md;
    return VG_OK;
}
