/*
** alerts/forecast.h: incremental seasonal forecasting of one series on a regular time grid
** (GET /api/v1/forecast and forecast rules). Additive double-seasonal Holt-Winters (Taylor
** 2003) in error-correction form, no trend: level + daily season (s1 steps) + weekly season
** (s2 steps, 0 = daily only). A small fixed grid of smoothing parameters runs in parallel on
** the same data, next to similar-days medians (the same local hour on the previous days of the
** same kind: all days, weekdays/weekend, ...); the candidate with the lowest recent error
** serves the forecasts. Prediction intervals come from the running variance of the served
** model's own h-step residuals.
** Method, formulas, memory and limits: docs/forecast.md.
**
** Pure: no I/O, no threads, no globals, no clock reads; all memory is allocated by hw_new and
** bounded by (s1, s2). Season positions follow local civil time (localtime_r, process TZ) when
** s1 steps make exactly one day, so that the daily profile stays on local hours across DST.
** Owns: everything it allocates (freed by hw_free).
** Thread: none; the caller serialises calls on one struct hw.
*/
#ifndef VG_ALERTS_FORECAST_H
#define VG_ALERTS_FORECAST_H

#include <stddef.h>
#include <stdint.h>

#define HW_MAX_SEASON 10080u /* s1, s2 upper bound (a week of minutes) */

struct hw;

/* A model for steps of step_ms (> 0) with a daily season of season1 steps (2..HW_MAX_SEASON)
** and a weekly season of season2 steps (0 = none, else season1 < season2 <= HW_MAX_SEASON).
** e.g. hw_new(3600000, 24, 168). NULL on bad arguments. The caller frees it with hw_free. */
struct hw *hw_new(int64_t step_ms, uint32_t season1, uint32_t season2);
/* NULL is a no-op. */
void hw_free(struct hw *m);

/* One raw value, at any time; values of one step are averaged. Values must come in time order:
** a value older than the current (open) step is ignored, NaN and infinities are ignored. A value
** in a later step completes the open step (and marks the steps in between as missing). */
void hw_add(struct hw *m, int64_t ts_ms, double v);
/* Time passes without values: complete every step that ends at or before now_ms (the steps
** without values are missing). Lets the caller forecast from "now" for a silent sensor. */
void hw_advance(struct hw *m, int64_t now_ms);
/* 1 when at least the daily model is initialised (2 * s1 completed steps with enough values). */
int hw_ready(const struct hw *m);
/* 1 when the model serving forecasts has the weekly season. */
int hw_weekly(const struct hw *m);
/* Start (ms) of the next step to forecast: the step after the last completed one; 0 if none. */
int64_t hw_next_ts(const struct hw *m);

/* Forecast nsteps steps from hw_next_ts(): t_out[i] = step start (UTC ms), point[i], and the
** central prediction interval [lo[i], hi[i]] at probability level (0 < level < 1, e.g. 0.8,
** 0.95). t_out, lo, hi may be NULL. Returns the number of steps written: nsteps, or 0 when not
** ready or on bad arguments. */
uint32_t hw_forecast(const struct hw *m, uint32_t nsteps, double level, int64_t *t_out,
                     double *point, double *lo, double *hi);

/* Method serving forecasts: "holt-winters" or "similar-days"; NULL when not ready. */
const char *hw_method(const struct hw *m);
/* Its seasons: "daily" or "daily+weekly" (Holt-Winters); "all-days", "weekdays+weekend",
** "weekdays+saturday+sunday" or "day-of-week" (the days that similar days pool); NULL when not
** ready. */
const char *hw_seasons(const struct hw *m);
/* Smoothing parameters of the Holt-Winters candidate serving forecasts (any pointer may be
** NULL). VG_ENOENT when not ready or when similar days serve. */
int hw_params(const struct hw *m, double *alpha, double *gamma1, double *gamma2);
/* Bytes held by the model (constant after hw_new). */
size_t hw_memory(const struct hw *m);

/* Standard normal quantile z with P(Z <= z) = p, 0 < p < 1 (|error| < 1e-8 after refinement). */
double hw_norm_quantile(double p);

#endif
