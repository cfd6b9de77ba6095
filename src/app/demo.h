/*
** app/demo.h: the demo city. Generates a believable city around Place de la Nation (Paris 12e)
** and feeds it through the same ingest path as POST /write (ingest_lp), so the demo exercises
** exactly what a real deployment runs. Seven days of backfill on first start, then real time.
** Also loads the real open-data samples (Paris traffic counts, Paris and Occitanie air quality,
** Madrid noise) from a directory when present.
** Owns: the generator thread and its state.
** Borrows: struct ingest and struct meta (a kv flag records that the backfill was done).
*/
#ifndef VG_APP_DEMO_H
#define VG_APP_DEMO_H

#include "ingest/ingest.h"
#include "meta/meta.h"

struct demo;

struct demo_opts {
    const char *tenant;      /* default "demo" */
    const char *samples_dir; /* e.g. "../shared/data"; NULL or missing = skip real samples */
    int backfill_days;       /* default 7 */
    int realtime;            /* 1: keep generating live data every 10 s until demo_stop */
    uint64_t seed;           /* deterministic generator seed, default 42 */
    /* The instant (ms) the injected incidents are placed around (docs/demo.md "Injected
    ** incidents"): a water leak from 3 days before, a noise meter stuck around it, a PM2.5 episode
    ** the afternoon before, a truck waiting 45 min at a school gate every working morning.
    ** demo_generate: 0 = no injected incident. demo_start: 0 = the time of the first start in this
    ** data directory (kept in kv demo.anchor.<tenant>, so restarts keep the same incidents);
    ** -1 = none. */
    int64_t incidents_at;
    /* demo_start: called once by the demo's thread when the backfill is in (or stopped), e.g.
    ** to start what judges data by the wall clock (the alerts' staleness tick). NULL = none. */
    void (*backfilled)(void *arg);
    void *backfilled_arg;
};

/* Receives one batch of line-protocol text: '\n'-terminated lines, timestamps in ms. body is
** valid only during the call. A non-zero return stops the generator and is returned by it. */
typedef int demo_emit_fn(void *arg, const char *body, size_t len, uint32_t nlines);

/* The pure generator behind demo_start (additive; for tests and tools). Emits every point of the
** demo city with from_ms <= ts < to_ms in batches of about 5,000 lines, hour by hour, each
** series in time order. Same seed and window -> same bytes; any split of a window yields the
** same set of lines. Only o->seed (o NULL or seed 0 = 42) and o->incidents_at are read. Returns 0
** or the emitter's non-zero result. */
int demo_generate(const struct demo_opts *o, int64_t from_ms, int64_t to_ms, demo_emit_fn *emit,
                  void *arg);

/* The rules that catch the demo's incidents, plus a few city rules: {"rules":[...]} in the
** format of POST /api/v1/rules (docs/alerts.md), one object per rule. A static string. */
const char *demo_rules_json(void);

/* Start the demo: backfill (if not already done in this data directory) and real-time generation
** run in a background thread; returns at once. On error *out is unchanged. */
int demo_start(struct ingest *ig, struct meta *m, const struct demo_opts *opts, struct demo **out);
/* Block until the backfill is finished (tests, `vigie demo --backfill-only`). Returns its result. */
int demo_wait_backfill(struct demo *d);
/* Stop the thread and free. NULL is a no-op. */
void demo_stop(struct demo *d);

#endif
