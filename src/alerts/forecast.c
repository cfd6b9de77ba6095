/*
** alerts/forecast.c: additive double-seasonal Holt-Winters without trend, fitted incrementally
** (one update per completed step), with a small grid of smoothing parameters run in parallel,
** and similar-days medians competing with them (sd_point).
** Owns: one heap block per model (raw step ring, candidates' states, residual rings).
** Method and formulas: docs/forecast.md.
**
** Error-correction form, for a completed step t with value y (p1, p2 = season slots of t):
**     f = l + d[p1] + w[p2]          one-step forecast made at t-1
**     e = y - f
**     l += alpha * e;  d[p1] += gamma1 * e;  w[p2] += gamma2 * e
** (Taylor's recurrences with gamma = gamma_taylor * (1 - alpha)). A missing step is filled with
** its one-step forecast, so e = 0 and no state moves: time only passes.
**
** Life of a model:
**     EMPTY --first value--> FILLING --2*s1 steps [try_init daily]--> DAILY
**     DAILY --2*s2 steps [try_init weekly]--> DAILY + WEEKLY: all candidates compete on their
**           recent s1-step-ahead (one day ahead) squared error; the best serves [select_best]
**     any --gap > 2 * ring steps [reset]--> EMPTY
*/
#include "alerts/forecast.h"

#include "core/clock.h"
#include "core/vg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NCAND_D 3              /* daily-only Holt-Winters candidates */
#define NCAND_W 6              /* daily + weekly Holt-Winters candidates */
#define NCAND_HW (NCAND_D + NCAND_W)
#define NCAND_SD 4             /* similar-days candidates (local daily season only) */
#define NCAND (NCAND_HW + NCAND_SD)
#define SD_DAYS 21             /* similar days look back this many days (the raw ring) */
#define SWITCH_MARGIN 0.95     /* a challenger's score must be below this times the server's */
#define DEFAULT_CAND 1         /* served before any candidate has a score */
#define NTRACK 10              /* horizons whose served residuals are tracked */
#define TRACK_MIN_N 24         /* residuals before a horizon's variance is trusted */
/* Running means use weight max(1/n, lambda): a plain mean at first, then exponential with a
** memory of about 1/lambda steps: score 4 days, mse1 7 days, tracked variances 14 days (in s1
** units). */

/* (alpha, gamma1, gamma2), error-correction form. */
static const double GRID[NCAND_HW][3] = {
    {0.02, 0.03, 0}, {0.15, 0.15, 0}, {0.40, 0.20, 0},
    {0.01, 0.03, 0.03}, {0.03, 0.20, 0.25}, {0.12, 0.05, 0.05},
    {0.12, 0.20, 0.25}, {0.35, 0.05, 0.05}, {0.35, 0.20, 0.25},
};

/* Similar days: the forecast of a step is the median of the same local hour on the previous
** days of the same kind, within SD_DAYS. */
enum sd_mode {
    SD_ALL,      /* every day alike */
    SD_WORKWEEK, /* Monday-Friday, and Saturday-Sunday */
    SD_DAYTYPE,  /* Monday-Friday, Saturday, Sunday */
    SD_WEEKDAY,  /* the same day of the week only (at most 3 weeks) */
};

struct cand {
    int sd;     /* 1 = similar days (mode below), 0 = Holt-Winters (alpha, g1, g2) */
    enum sd_mode mode;
    double alpha, g1, g2;
    int weekly; /* has the weekly season (similar days: tells days apart) */
    int live;   /* initialised */
    double level;
    double *d;    /* [s1] daily season by slot */
    double *w;    /* [s2] weekly season by slot (weekly candidates only) */
    double *ring; /* [s1] forecast of step k made at k - s1, at k mod s1 (NaN: none) */
    double mse1;  /* running mean of squared one-step errors (replay included) */
    uint32_t n1;
    double score; /* running mean of e_s1^2 (s1-step-ahead errors): the selection criterion */
    uint32_t nsc;
};

struct track {
    uint32_t h;
    double *ring; /* [h] served forecast of step k made at k - h, at k mod h (NaN: none) */
    double var;   /* running mean of squared h-step residuals */
    uint32_t n;
};

struct hw {
    int64_t step_ms;
    uint32_t s1, s2;
    int local;        /* season slots from local time (s1 steps == one day) */
    int has_open;     /* the open step accumulates values */
    int64_t open_k;
    double open_sum;
    uint32_t open_n;
    int has_done;     /* some step was completed */
    int64_t done_k;   /* last completed step */
    uint64_t nseen;   /* completed steps since (re)start */
    uint32_t rcap;    /* raw ring: completed step means (NaN = missing), at k mod rcap */
    double *raw;
    double *scratch;  /* [max(s1, s2)] counts during initialisation */
    uint32_t ntrack;
    struct track tr[NTRACK];
    struct cand c[NCAND];
    int best;         /* served candidate, -1 = none */
    int sd_ok;        /* similar-days candidates run (local daily season) */
    int sd_weekly;    /* ... and those telling days of the week apart (s2 == 7 s1) */
    int64_t gap_max;  /* a silence of more steps restarts the model */
    double lam_score, lam_mse, lam_var;
    size_t bytes;
    double *block;
};

static uint32_t umod(int64_t a, uint32_t m)
{
    int64_t r = a % (int64_t)m;
    return (uint32_t)(r < 0 ? r + m : r);
}

static void ewma(double *acc, uint32_t *n, double x, double lam)
{
    if (*n < UINT32_MAX)
        (*n)++;
    double wgt = 1.0 / (double)*n;
    if (wgt < lam)
        wgt = lam;
    *acc += wgt * (x - *acc);
}

/* Season index of step k: the step's position on the local clock when s1 steps make a day. */
static int64_t season_index(const struct hw *m, int64_t k)
{
    if (!m->local)
        return k;
    int64_t ms = k * m->step_ms;
    return clock_floor_div(ms + clock_local_offset_ms(ms), m->step_ms);
}

/* Season slots of step k. */
static void slots(const struct hw *m, int64_t k, uint32_t *p1, uint32_t *p2)
{
    int64_t idx = season_index(m, k);
    *p1 = umod(idx, m->s1);
    *p2 = m->s2 ? umod(idx, m->s2) : 0;
}

static double cand_point(const struct cand *c, uint32_t p1, uint32_t p2)
{
    return c->level + c->d[p1] + (c->weekly ? c->w[p2] : 0.0);
}

static double raw_at(const struct hw *m, int64_t k)
{
    return m->raw[umod(k, m->rcap)];
}

/* Do at least half of the last n completed steps (ending at done_k) have a value? The condition
** for starting candidates from them. */
static int half_covered(const struct hw *m, uint64_t n)
{
    uint64_t have = 0;
    for (int64_t k = m->done_k - (int64_t)n + 1; k <= m->done_k; k++)
        have += !isnan(raw_at(m, k));
    return 2 * have >= n;
}

static int sd_enabled(const struct hw *m, enum sd_mode mode)
{
    return mode == SD_ALL ? m->sd_ok : m->sd_weekly;
}

/* Kind of a local day (days since 1970-01-01, a Thursday) under a similar-days mode. */
static int day_kind(enum sd_mode mode, int64_t day)
{
    int wd = (int)umod(day + 3, 7); /* 0 = Monday */
    switch (mode) {
    case SD_ALL:
        return 0;
    case SD_WORKWEEK:
        return wd >= 5;
    case SD_DAYTYPE:
        return wd < 5 ? 0 : wd - 4;
    case SD_WEEKDAY:
        return wd;
    }
    return 0;
}

/* Similar-days forecast of step kt from the steps up to `known`: the median of the values at
** the same local hour on the previous days of the same kind still in the raw ring (at most
** SD_DAYS days from the first one known at `known`, so that far horizons still see whole
** weeks; 3 for SD_WEEKDAY). NaN when there is none. The step one day before kt is
** kt - s1 on the UTC grid, moved by the offset change when a DST change lies in between. */
static double sd_median(const struct hw *m, enum sd_mode mode, int64_t kt, int64_t known)
{
    double v[SD_DAYS];
    uint32_t n = 0, want = mode == SD_WEEKDAY ? 3 : SD_DAYS;
    int64_t j0 = kt > known ? (kt - known + m->s1 - 1) / m->s1 : 1; /* first day known */
    if (j0 < 1)
        j0 = 1;
    int64_t off_t = clock_local_offset_ms(kt * m->step_ms);
    int64_t far = kt - (j0 + SD_DAYS) * (int64_t)m->s1;
    int dst = clock_local_offset_ms(far * m->step_ms) != off_t;
    int64_t day = clock_floor_div(season_index(m, kt), m->s1);
    int kind = day_kind(mode, day);
    for (int64_t j = j0 - 1 > 0 ? j0 - 1 : 1; j < j0 + SD_DAYS && n < want; j++) {
        int64_t kk = kt - j * m->s1;
        if (dst) {
            int64_t d = off_t - clock_local_offset_ms(kk * m->step_ms);
            if (d % m->step_ms == 0)
                kk += d / m->step_ms;
        }
        if (kk > known)
            continue;
        if (kk <= m->done_k - (int64_t)m->rcap)
            break; /* left the raw ring */
        if (day_kind(mode, day - j) != kind)
            continue;
        double y = raw_at(m, kk);
        if (isnan(y))
            continue;
        uint32_t i = n++; /* insertion sort: n <= SD_DAYS */
        for (; i > 0 && v[i - 1] > y; i--)
            v[i] = v[i - 1];
        v[i] = y;
    }
    if (!n)
        return NAN;
    return n & 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The candidate's forecast of step kt; when no day of its kind has a value there, the median of
** all days, then the newest value known (NaN only before any value). */
static double sd_point(const struct hw *m, const struct cand *c, int64_t kt, int64_t known)
{
    double f = sd_median(m, c->mode, kt, known);
    if (isnan(f) && c->mode != SD_ALL)
        f = sd_median(m, SD_ALL, kt, known);
    for (int64_t k = known; isnan(f) && k > m->done_k - (int64_t)m->rcap && k > known - m->s1;
         k--)
        f = raw_at(m, k);
    return f;
}

/* Forecast of step kt by candidate c from the steps up to `known` (<= done_k). Holt-Winters
** states stand at done_k, so for them known is always done_k. */
static double cand_forecast(const struct hw *m, const struct cand *c, int64_t kt, int64_t known)
{
    if (c->sd) {
        double f = sd_point(m, c, kt, known);
        if (!isnan(f))
            return f;
        /* nothing in the ring for that hour (a long silence): the best Holt-Winters candidate,
        ** whose states never hold NaN */
        const struct cand *h = NULL;
        for (int i = 0; i < NCAND_HW; i++)
            if (m->c[i].live == 1 && (!h || m->c[i].score < h->score))
                h = &m->c[i];
        if (!h)
            return NAN;
        c = h;
    }
    uint32_t p1, p2;
    slots(m, kt, &p1, &p2);
    return cand_point(c, p1, p2);
}

static uint64_t gcd64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Variance ratio var(h-step error) / var(one-step error) of the model:
** 1 + sum_{j=1}^{h-1} (alpha + gamma1 [s1 | j] + gamma2 [s2 | j])^2, in closed form. */
static double theo_ratio(const struct hw *m, const struct cand *c, uint32_t h)
{
    if (h <= 1 || c->sd) /* similar days: the error does not grow with the horizon */
        return 1.0;
    double a = c->alpha, n = (double)(h - 1);
    double n1 = (double)((h - 1) / m->s1), n2 = 0, n12 = 0;
    if (c->weekly && m->s2) {
        uint64_t l = (uint64_t)m->s1 / gcd64(m->s1, m->s2) * m->s2;
        n2 = (double)((h - 1) / m->s2);
        n12 = (double)((uint64_t)(h - 1) / l);
    }
    double g2 = c->weekly ? c->g2 : 0.0;
    double s = n * a * a;
    s += (n1 - n12) * ((a + c->g1) * (a + c->g1) - a * a);
    s += (n2 - n12) * ((a + g2) * (a + g2) - a * a);
    s += n12 * ((a + c->g1 + g2) * (a + c->g1 + g2) - a * a);
    return 1.0 + s;
}

static void reset(struct hw *m)
{
    m->has_open = 0;
    m->has_done = 0;
    m->nseen = 0;
    m->best = -1;
    for (uint32_t i = 0; i < m->rcap; i++)
        m->raw[i] = NAN;
    for (uint32_t t = 0; t < m->ntrack; t++) {
        for (uint32_t i = 0; i < m->tr[t].h; i++)
            m->tr[t].ring[i] = NAN;
        m->tr[t].var = 0;
        m->tr[t].n = 0;
    }
    for (int i = 0; i < NCAND; i++) {
        struct cand *c = &m->c[i];
        if (!c->ring) {
            c->live = -1; /* not for this model's seasons: never used */
            continue;
        }
        c->live = 0;
        c->level = 0;
        c->mse1 = c->score = 0;
        c->n1 = c->nsc = 0;
        for (uint32_t j = 0; j < m->s1; j++)
            c->ring[j] = NAN;
        if (c->sd)
            continue;
        for (uint32_t j = 0; j < m->s1; j++)
            c->d[j] = 0;
        if (c->weekly)
            for (uint32_t j = 0; j < m->s2; j++)
                c->w[j] = 0;
    }
}

struct hw *hw_new(int64_t step_ms, uint32_t season1, uint32_t season2)
{
    if (step_ms <= 0 || season1 < 2 || season1 > HW_MAX_SEASON || season2 > HW_MAX_SEASON)
        return NULL;
    if (season2 != 0 && season2 <= season1)
        return NULL;
    if ((int64_t)season1 > INT64_MAX / step_ms / 16)
        return NULL;
    struct hw *m = vg_calloc(1, sizeof(*m));
    m->step_ms = step_ms;
    m->s1 = season1;
    m->s2 = season2;
    m->local = (int64_t)season1 * step_ms == 86400000LL;
    m->gap_max = 2 * (int64_t)(season2 ? 2 * season2 : 2 * season1);
    /* Similar days need a local day, and a week of s2 steps to tell days apart. */
    m->sd_ok = m->local;
    m->sd_weekly = m->local && season2 == 7 * season1;
    m->rcap = season2 ? 2 * season2 : 2 * season1;
    if (m->sd_ok && m->rcap < SD_DAYS * season1)
        m->rcap = SD_DAYS * season1;

    /* Tracked horizons: 1, 2, 3, 6, s1/2, s1, 2 s1, 3 s1, 5 s1, 7 s1 (sorted, distinct). */
    uint32_t hs[NTRACK] = {1, 2, 3, 6, season1 / 2, season1, 2 * season1, 3 * season1,
                           5 * season1, 7 * season1};
    uint32_t nt = 0;
    for (int i = 0; i < NTRACK; i++) {
        if (hs[i] == 0 || (nt > 0 && hs[i] <= m->tr[nt - 1].h))
            continue;
        m->tr[nt++].h = hs[i];
    }
    m->ntrack = nt;

    int ncand = season2 ? NCAND_HW : NCAND_D;
    size_t nd = m->rcap + (season1 > season2 ? season1 : season2);
    for (uint32_t t = 0; t < nt; t++)
        nd += m->tr[t].h;
    for (int i = 0; i < ncand; i++)
        nd += 2 * (size_t)season1 + (i >= NCAND_D ? season2 : 0);
    for (int i = 0; i < NCAND_SD; i++)
        if (sd_enabled(m, (enum sd_mode)i))
            nd += season1;
    m->block = vg_malloc(nd * sizeof(double));
    m->bytes = sizeof(*m) + nd * sizeof(double);

    double *p = m->block;
    m->raw = p;
    p += m->rcap;
    m->scratch = p;
    p += (season1 > season2 ? season1 : season2);
    for (uint32_t t = 0; t < nt; t++) {
        m->tr[t].ring = p;
        p += m->tr[t].h;
    }
    for (int i = 0; i < NCAND; i++) {
        struct cand *c = &m->c[i];
        if (i >= NCAND_HW) { /* similar days: a ring of day-ahead forecasts, nothing else */
            c->sd = 1;
            c->mode = (enum sd_mode)(i - NCAND_HW);
            c->weekly = c->mode != SD_ALL;
            if (sd_enabled(m, c->mode)) {
                c->ring = p;
                p += season1;
            }
            continue;
        }
        c->alpha = GRID[i][0];
        c->g1 = GRID[i][1];
        c->g2 = GRID[i][2];
        c->weekly = i >= NCAND_D;
        if (i >= ncand) {
            c->live = -1; /* never used: no weekly season */
            continue;
        }
        c->d = p;
        p += season1;
        c->ring = p;
        p += season1;
        if (c->weekly) {
            c->w = p;
            p += season2;
        }
    }
    VG_ASSERT((size_t)(p - m->block) == nd);
    m->lam_score = 1.0 / (4.0 * season1);
    m->lam_mse = 1.0 / (7.0 * season1);
    m->lam_var = 1.0 / (14.0 * season1);
    reset(m);
    return m;
}

void hw_free(struct hw *m)
{
    if (!m)
        return;
    free(m->block);
    free(m);
}

size_t hw_memory(const struct hw *m)
{
    return m ? m->bytes : 0;
}

/* Weekly profile from the last n = 2 * s2 steps (first->d already holds the daily profile).
** r = y - (mean of its week) - d[p1]; per weekly slot q: rbar[q] = mean of r (two values), split
** into the mean G of its group of s1 slots (the day of week, 2 * s1 values: precise) and the
** hour-of-week deviation u[q] = rbar[q] - G, which is mostly noise when the two weeks disagree:
** u is shrunk by max(0, 1 - noise / total) (James-Stein), noise = pooled within-slot variance
** / count. w[q] = G + shrink * u, centred. Scratch: the counts and the w arrays of the two next
** weekly candidates (not live yet, overwritten after). */
static void init_weekly(struct hw *m, struct cand *first, int64_t k0, uint32_t n)
{
    double *cnt = m->scratch, *sum = first->w;
    double *sq = m->c[NCAND_D + 1].w, *u = m->c[NCAND_D + 2].w;
    for (uint32_t j = 0; j < m->s2; j++)
        cnt[j] = sum[j] = sq[j] = 0;
    for (uint32_t c0 = 0; c0 < n; c0 += m->s2) {
        uint32_t c1 = VG_MIN(n, c0 + m->s2);
        double s = 0;
        uint32_t cn = 0;
        for (uint32_t i = c0; i < c1; i++) {
            double y = raw_at(m, k0 + i);
            if (!isnan(y)) {
                s += y;
                cn++;
            }
        }
        if (!cn)
            continue;
        double mean = s / cn;
        for (uint32_t i = c0; i < c1; i++) {
            double y = raw_at(m, k0 + i);
            if (isnan(y))
                continue;
            uint32_t p1, p2;
            slots(m, k0 + i, &p1, &p2);
            double r = y - mean - first->d[p1];
            sum[p2] += r;
            sq[p2] += r * r;
            cnt[p2] += 1;
        }
    }
    double within = 0, dof = 0;
    for (uint32_t q = 0; q < m->s2; q++) {
        if (cnt[q] <= 0)
            continue;
        double mean = sum[q] / cnt[q];
        within += sq[q] - cnt[q] * mean * mean;
        dof += cnt[q] - 1;
        sum[q] = mean;
    }
    double noise_var = dof > 0 ? within / dof : 0; /* variance of one r */
    double tot = 0, noise = 0;
    for (uint32_t g0 = 0; g0 < m->s2; g0 += m->s1) {
        uint32_t g1 = VG_MIN(m->s2, g0 + m->s1);
        double gs = 0;
        uint32_t gn = 0;
        for (uint32_t q = g0; q < g1; q++)
            if (cnt[q] > 0) {
                gs += sum[q];
                gn++;
            }
        double g = gn ? gs / gn : 0;
        for (uint32_t q = g0; q < g1; q++) {
            u[q] = cnt[q] > 0 ? sum[q] - g : 0;
            if (cnt[q] > 0) {
                tot += u[q] * u[q];
                noise += noise_var / cnt[q];
            }
            sum[q] = g; /* G, for every slot of the group */
        }
    }
    double shrink = tot > 0 ? 1 - noise / tot : 0;
    if (shrink < 0)
        shrink = 0;
    double wm = 0;
    for (uint32_t q = 0; q < m->s2; q++) {
        sum[q] += shrink * u[q];
        wm += sum[q];
    }
    for (uint32_t q = 0; q < m->s2; q++)
        sum[q] -= wm / m->s2;
}

/* Initialise the daily (weekly = 0) or the weekly candidates from the last n completed steps
** (ending at done_k), then replay those steps through the update equations. Needs at least
** half of the steps with a value; else nothing happens (tried again s1 steps later). */
static void try_init(struct hw *m, int weekly, uint32_t n)
{
    int64_t k0 = m->done_k - n + 1;
    if (!half_covered(m, n))
        return;

    /* Daily profile: mean deviation of each slot from the mean of its s1-step chunk. */
    double *cnt = m->scratch;
    struct cand *first = NULL;
    for (int i = 0; i < NCAND_HW; i++)
        if (m->c[i].live == 0 && m->c[i].weekly == weekly) {
            first = &m->c[i];
            break;
        }
    if (!first)
        return;
    double level0 = NAN;
    for (uint32_t j = 0; j < m->s1; j++) {
        first->d[j] = 0;
        cnt[j] = 0;
    }
    for (uint32_t c0 = 0; c0 < n; c0 += m->s1) {
        uint32_t c1 = VG_MIN(n, c0 + m->s1);
        double sum = 0;
        uint32_t cn = 0;
        for (uint32_t i = c0; i < c1; i++) {
            double y = raw_at(m, k0 + i);
            if (!isnan(y)) {
                sum += y;
                cn++;
            }
        }
        if (!cn)
            continue;
        double mean = sum / cn;
        for (uint32_t i = c0; i < c1; i++) {
            double y = raw_at(m, k0 + i);
            if (isnan(y))
                continue;
            uint32_t p1, p2;
            slots(m, k0 + i, &p1, &p2);
            first->d[p1] += y - mean;
            cnt[p1] += 1;
        }
    }
    double dm = 0;
    uint32_t dn = 0;
    for (uint32_t j = 0; j < m->s1; j++)
        if (cnt[j] > 0) {
            first->d[j] /= cnt[j];
            dm += first->d[j];
            dn++;
        }
    for (uint32_t j = 0; j < m->s1; j++)
        if (cnt[j] > 0)
            first->d[j] -= dm / dn;

    /* The level starts at the mean of the first chunk (day or week) with values. */
    uint32_t chunk = weekly ? m->s2 : m->s1;
    for (uint32_t c0 = 0; c0 < n && isnan(level0); c0 += chunk) {
        uint32_t c1 = VG_MIN(n, c0 + chunk);
        double sum = 0;
        uint32_t cn = 0;
        for (uint32_t i = c0; i < c1; i++) {
            double y = raw_at(m, k0 + i);
            if (!isnan(y)) {
                sum += y;
                cn++;
            }
        }
        if (cn)
            level0 = sum / cn;
    }
    if (weekly)
        init_weekly(m, first, k0, n);
    for (int i = 0; i < NCAND_HW; i++) {
        struct cand *c = &m->c[i];
        if (c->live != 0 || c->weekly != weekly)
            continue;
        c->level = level0;
        if (c != first) {
            memcpy(c->d, first->d, m->s1 * sizeof(double));
            if (weekly)
                memcpy(c->w, first->w, m->s2 * sizeof(double));
        }
        c->mse1 = 0;
        c->n1 = 0;
    }
    /* Replay: the states reach done_k; one-step errors seed mse1 (in-sample), and the s1-step
    ** forecasts of the last s1 replayed steps fill the ring, so that scoring starts at once. */
    for (int i = 0; i < NCAND_HW; i++) {
        struct cand *c = &m->c[i];
        if (c->live == 0 && c->weekly == weekly)
            for (uint32_t j = 0; j < m->s1; j++)
                c->ring[j] = NAN;
    }
    for (uint32_t i = 0; i < n; i++) {
        double y = raw_at(m, k0 + i);
        uint32_t p1, p2, q1, q2;
        slots(m, k0 + i, &p1, &p2);
        slots(m, k0 + i + m->s1, &q1, &q2);
        for (int j = 0; j < NCAND_HW; j++) {
            struct cand *c = &m->c[j];
            if (c->live != 0 || c->weekly != weekly)
                continue;
            if (!isnan(y)) {
                double e = y - cand_point(c, p1, p2);
                ewma(&c->mse1, &c->n1, e * e, m->lam_mse);
                c->level += c->alpha * e;
                c->d[p1] += c->g1 * e;
                if (weekly)
                    c->w[p2] += c->g2 * e;
            }
            if (i + m->s1 >= n)
                c->ring[umod(k0 + i, m->s1)] = cand_point(c, q1, q2);
        }
    }
    for (int i = 0; i < NCAND_HW; i++) {
        struct cand *c = &m->c[i];
        if (c->live != 0 || c->weekly != weekly)
            continue;
        c->score = 0;
        c->nsc = 0;
        c->live = 1;
    }
}

/* The live candidate with the lowest score serves; a scored candidate keeps serving until
** another one is better by SWITCH_MARGIN, so that two close ones do not take turns (each
** change of method empties the residual tracks). */
static void select_best(struct hw *m)
{
    int best = -1;
    double bs = INFINITY;
    for (int i = 0; i < NCAND; i++) {
        const struct cand *c = &m->c[i];
        if (c->live == 1 && c->nsc >= m->s1 && c->score < bs) {
            bs = c->score;
            best = i;
        }
    }
    int cur = m->best;
    if (best >= 0 && cur >= 0 && cur != best && m->c[cur].live == 1 &&
        m->c[cur].nsc >= m->s1 && !(bs < SWITCH_MARGIN * m->c[cur].score))
        best = cur;
    if (best < 0 && m->c[DEFAULT_CAND].live == 1)
        best = DEFAULT_CAND;
    for (int i = 0; best < 0 && i < NCAND; i++)
        if (m->c[i].live == 1)
            best = i;
    m->best = best;
}

/* Steps a similar-days candidate needs before it runs: two days, or a week to know each kind
** of day (two for the same day of the week). */
static uint64_t sd_start(const struct hw *m, const struct cand *c)
{
    return c->mode == SD_ALL ? 2ull * m->s1 : c->mode == SD_WEEKDAY ? 2ull * m->s2 : m->s2;
}

/* Start a similar-days candidate at done_k if at least half of its sd_start steps have a value
** (else tried again s1 steps later): its day-ahead forecasts of the last s1 steps (from the data
** each one had) fill the ring, so that scoring starts at once. */
static void sd_go_live(struct hw *m, struct cand *c)
{
    uint64_t n = sd_start(m, c);
    if (m->nseen < n || (m->nseen - n) % m->s1 || !half_covered(m, n))
        return;
    for (int64_t i = m->done_k - m->s1 + 1; i <= m->done_k; i++)
        c->ring[umod(i, m->s1)] = sd_point(m, c, i + m->s1, i);
    c->mse1 = c->score = 0;
    c->n1 = c->nsc = 0;
    c->live = 1;
}

/* Step k is complete with mean y (NaN = missing). */
static void complete_step(struct hw *m, int64_t k, double y)
{
    m->raw[umod(k, m->rcap)] = y;
    m->nseen++;
    m->done_k = k;
    m->has_done = 1;
    int have = !isnan(y);

    /* Residuals of the served forecasts made h steps ago. */
    for (uint32_t t = 0; t < m->ntrack; t++) {
        struct track *tr = &m->tr[t];
        double f = tr->ring[umod(k, tr->h)];
        if (have && !isnan(f))
            ewma(&tr->var, &tr->n, (y - f) * (y - f), m->lam_var);
    }

    uint32_t p1, p2, q1, q2;
    slots(m, k, &p1, &p2);
    slots(m, k + m->s1, &q1, &q2);
    for (int i = 0; i < NCAND; i++) {
        struct cand *c = &m->c[i];
        if (c->live != 1)
            continue;
        uint32_t r = umod(k, m->s1);
        if (c->sd) {
            if (have) {
                double e = y - sd_point(m, c, k, k - 1), fs = c->ring[r];
                if (!isnan(e))
                    ewma(&c->mse1, &c->n1, e * e, m->lam_mse);
                if (!isnan(fs))
                    ewma(&c->score, &c->nsc, fabs(y - fs), m->lam_score);
            }
            c->ring[r] = sd_point(m, c, k + m->s1, k);
            continue;
        }
        if (have) {
            double e = y - cand_point(c, p1, p2);
            ewma(&c->mse1, &c->n1, e * e, m->lam_mse);
            double fs = c->ring[r];
            if (!isnan(fs)) {
                double es = y - fs;
                ewma(&c->score, &c->nsc, fabs(es), m->lam_score);
            }
            c->level += c->alpha * e;
            c->d[p1] += c->g1 * e;
            if (c->weekly)
                c->w[p2] += c->g2 * e;
        }
        c->ring[r] = cand_point(c, q1, q2);
    }

    if (m->nseen >= 2ull * m->s1 && (m->nseen - 2ull * m->s1) % m->s1 == 0 &&
        m->c[0].live == 0)
        try_init(m, 0, 2 * m->s1);
    if (m->s2 && m->nseen >= 2ull * m->s2 && (m->nseen - 2ull * m->s2) % m->s1 == 0 &&
        m->c[NCAND_D].live == 0)
        try_init(m, 1, 2 * m->s2);
    for (int i = NCAND_HW; i < NCAND; i++)
        if (m->c[i].live == 0)
            sd_go_live(m, &m->c[i]);
    int was = m->best;
    select_best(m);
    if (m->best >= 0 && m->best != was &&
        (was < 0 || (m->c[m->best].weekly && !m->c[was].weekly) ||
         m->c[m->best].sd != m->c[was].sd)) {
        /* a daily model's residuals (no weekday effect) say nothing of a weekly one's, nor
        ** Holt-Winters' of similar days' */
        for (uint32_t t = 0; t < m->ntrack; t++) {
            for (uint32_t i = 0; i < m->tr[t].h; i++)
                m->tr[t].ring[i] = NAN;
            m->tr[t].var = 0;
            m->tr[t].n = 0;
        }
    }

    for (uint32_t t = 0; t < m->ntrack; t++) {
        struct track *tr = &m->tr[t];
        double f = NAN;
        if (m->best >= 0)
            f = cand_forecast(m, &m->c[m->best], k + tr->h, k);
        tr->ring[umod(k, tr->h)] = f;
    }
}

/* Complete the open step and mark every step before k_new as missing. */
static void close_until(struct hw *m, int64_t k_new)
{
    int64_t from;
    if (m->has_open) {
        complete_step(m, m->open_k, m->open_sum / m->open_n);
        m->has_open = 0;
        from = m->open_k + 1;
    } else if (m->has_done) {
        from = m->done_k + 1;
    } else {
        return;
    }
    /* After a silence of more than two raw rings (4 weeks hourly) the states are stale and the
    ** per-step catch-up would be long: start afresh. */
    if (k_new - from > m->gap_max) {
        reset(m);
        return;
    }
    for (int64_t k = from; k < k_new; k++)
        complete_step(m, k, NAN);
}

void hw_add(struct hw *m, int64_t ts_ms, double v)
{
    if (!m || !isfinite(v))
        return;
    int64_t k = clock_floor_div(ts_ms, m->step_ms);
    if (m->has_open && k == m->open_k) {
        m->open_sum += v;
        m->open_n++;
        return;
    }
    if (m->has_open && k < m->open_k)
        return;
    if (!m->has_open && m->has_done && k <= m->done_k)
        return;
    close_until(m, k);
    m->has_open = 1;
    m->open_k = k;
    m->open_sum = v;
    m->open_n = 1;
}

void hw_advance(struct hw *m, int64_t now_ms)
{
    if (!m)
        return;
    int64_t k_now = clock_floor_div(now_ms, m->step_ms);
    if ((m->has_open && m->open_k < k_now) ||
        (!m->has_open && m->has_done && m->done_k + 1 < k_now))
        close_until(m, k_now);
}

int hw_ready(const struct hw *m)
{
    return m && m->best >= 0;
}

int hw_weekly(const struct hw *m)
{
    return m && m->best >= 0 && m->c[m->best].weekly;
}

const char *hw_method(const struct hw *m)
{
    if (!hw_ready(m))
        return NULL;
    return m->c[m->best].sd ? "similar-days" : "holt-winters";
}

const char *hw_seasons(const struct hw *m)
{
    static const char *const sd_names[NCAND_SD] = {"all-days", "weekdays+weekend",
                                                   "weekdays+saturday+sunday", "day-of-week"};
    if (!hw_ready(m))
        return NULL;
    const struct cand *c = &m->c[m->best];
    if (c->sd)
        return sd_names[c->mode];
    return c->weekly ? "daily+weekly" : "daily";
}

int64_t hw_next_ts(const struct hw *m)
{
    return m && m->has_done ? (m->done_k + 1) * m->step_ms : 0;
}

int hw_params(const struct hw *m, double *alpha, double *gamma1, double *gamma2)
{
    if (!hw_ready(m))
        return VG_ENOENT;
    const struct cand *c = &m->c[m->best];
    if (c->sd)
        return VG_ENOENT;
    if (alpha)
        *alpha = c->alpha;
    if (gamma1)
        *gamma1 = c->g1;
    if (gamma2)
        *gamma2 = c->weekly ? c->g2 : 0.0;
    return VG_OK;
}

/* Variance of the h-step error: interpolated between the tracked horizons whose residuals are
** trusted, scaled by the model's theoretical ratio outside them, theoretical when none is. */
static double var_h(const struct hw *m, const struct cand *c, uint32_t h)
{
    const struct track *a = NULL, *b = NULL;
    for (uint32_t t = 0; t < m->ntrack; t++) {
        const struct track *tr = &m->tr[t];
        if (tr->n < TRACK_MIN_N)
            continue;
        if (tr->h <= h)
            a = tr;
        if (tr->h >= h && !b)
            b = tr;
    }
    if (a && b) {
        if (a->h == b->h)
            return a->var;
        double f = (double)(h - a->h) / (double)(b->h - a->h);
        return a->var + f * (b->var - a->var);
    }
    if (a)
        return a->var * theo_ratio(m, c, h) / theo_ratio(m, c, a->h);
    if (b)
        return b->var * theo_ratio(m, c, h) / theo_ratio(m, c, b->h);
    return c->mse1 * theo_ratio(m, c, h);
}

uint32_t hw_forecast(const struct hw *m, uint32_t nsteps, double level, int64_t *t_out,
                     double *point, double *lo, double *hi)
{
    if (!hw_ready(m) || !point || nsteps == 0 || !(level > 0 && level < 1))
        return 0;
    const struct cand *c = &m->c[m->best];
    double z = hw_norm_quantile(0.5 + level / 2);
    for (uint32_t i = 0; i < nsteps; i++) {
        int64_t k = m->done_k + 1 + i;
        double f = cand_forecast(m, c, k, m->done_k);
        point[i] = f;
        if (t_out)
            t_out[i] = k * m->step_ms;
        if (lo || hi) {
            double sd = sqrt(var_h(m, c, i + 1));
            if (lo)
                lo[i] = f - z * sd;
            if (hi)
                hi[i] = f + z * sd;
        }
    }
    return nsteps;
}

/* Acklam's rational approximation, refined by one Halley step on erfc. */
double hw_norm_quantile(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                               2.445134137142996e+00, 3.754408661907416e+00};
    if (!(p > 0 && p < 1))
        return isnan(p) ? NAN : (p <= 0 ? -INFINITY : INFINITY);
    double x, q, r;
    if (p < 0.02425) {
        q = sqrt(-2 * log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else if (p <= 1 - 0.02425) {
        q = p - 0.5;
        r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    } else {
        q = sqrt(-2 * log(1 - p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    double e = 0.5 * erfc(-x / sqrt(2)) - p;
    double u = e * sqrt(2 * M_PI) * exp(x * x / 2);
    return x - u / (1 + x * u / 2);
}
