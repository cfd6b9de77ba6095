/*
** alerts/baseline.h: per-series seasonal baseline for anomaly detection without a rule. For each
** hour of the week in local time (168 slots, Monday 00:00 = slot 0, localtime_r and the process
** TZ) it keeps the hourly mean of each of the last W weeks, and scores a value by its robust
** distance to that history: |v - median| / max(1.4826 * b(n) * MAD, floor). Method:
** docs/forecast.md "Seasonal baseline".
** Pure: no I/O, no threads, no globals, no clock reads; memory fixed by baseline_new.
** Owns: everything it allocates (freed by baseline_free).
** Thread: none; the caller serialises calls on one struct baseline.
*/
#ifndef VG_ALERTS_BASELINE_H
#define VG_ALERTS_BASELINE_H

#include <stddef.h>
#include <stdint.h>

#define BASELINE_SLOTS 168     /* hours of a week */
#define BASELINE_MAX_WEEKS 8
#define BASELINE_MIN_WEEKS 2   /* weeks of history a slot needs before it scores */

struct baseline;

/* A baseline over the last `weeks` weeks (1..BASELINE_MAX_WEEKS; below BASELINE_MIN_WEEKS it never
** scores). NULL on a bad argument. The caller frees it with baseline_free. */
struct baseline *baseline_new(uint32_t weeks);
/* NULL is a no-op. */
void baseline_free(struct baseline *b);

/* One value, in time order: values are averaged per local hour; a value older than the local
** hour being aggregated is ignored, as are NaN and infinities. A value in a later local hour
** closes the previous hour into its slot's history. */
void baseline_add(struct baseline *b, int64_t ts_ms, double v);

/* Score v at ts_ms against the same local hour of the week in the previous weeks (at most
** `weeks` back, the week of ts_ms excluded), n values:
**     *score = |v - median| / max(1.4826 * b(n) * MAD, floor)
**     floor  = max(0.75 * 1.4826 * G, 0.01 * |median|, 1e-6)
** b(n): small-sample consistency factor of the MAD (1.2 for n = 6); G: median over the slots of
** their b(n) * MAD (the series' typical spread, so that one slot whose few weeks happen to agree
** does not claim a tiny spread). *mad is the raw MAD.
** VG_OK with the outputs set (any may be NULL); VG_ENOENT when the slot has fewer than
** BASELINE_MIN_WEEKS weeks of history (outputs untouched); VG_EINVAL on NULL b or non-finite v.
** ts_ms should not be older than the values already added (the history moves on). */
int baseline_score(const struct baseline *b, int64_t ts_ms, double v, double *score,
                   double *median, double *mad);

/* Bytes held (constant after baseline_new). */
size_t baseline_memory(const struct baseline *b);

#endif
