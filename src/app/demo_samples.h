/*
** app/demo_samples.h: private to app/. Two things shared by the demo generator (app/demo.c)
** and the real open-data loaders (app/demo_samples.c):
**   - struct demo_lpw, a line-protocol batch writer that escapes names, counts lines and values
**     and hands ~5,000-line batches to a demo_emit_fn;
**   - the loaders for the real sample files (Paris traffic counts, Occitanie and Airparif air
**     quality, Madrid noise), each written against a small CSV reader (quotes, BOM, CRLF).
** Owns: the writer's buffer; each loader owns its file image and its pivot table for the call.
** Thread: any; no shared state.
** See docs/demo.md for the mapping of every file to entities and attributes.
*/
#ifndef VG_APP_DEMO_SAMPLES_H
#define VG_APP_DEMO_SAMPLES_H

#include "app/demo.h"
#include "core/buf.h"

#include <stdint.h>

#define DEMO_BATCH_LINES 5000

struct demo_lpw {
    struct buf b;
    uint32_t nlines;       /* lines in the pending batch */
    uint32_t batch_lines;  /* flush threshold (DEMO_BATCH_LINES) */
    size_t line_off;       /* where the current line starts in b */
    int nfields;           /* fields written on the current line */
    int nvalues;           /* values on the current line (lat+lon count once) */
    uint64_t lines, values; /* totals, including the pending batch */
    demo_emit_fn *emit;
    void *arg;
    int rc;                /* first non-zero emit result; sticky, later batches are dropped */
};

/* The writer borrows emit/arg; release with demo__lpw_release (which does not flush). */
void demo__lpw_init(struct demo_lpw *w, demo_emit_fn *emit, void *arg);
void demo__lpw_release(struct demo_lpw *w);
/* Start a line with its measurement; then tags, then fields, then demo__lpw_end. */
void demo__lpw_begin(struct demo_lpw *w, const char *meas);
/* Empty or NULL values are skipped (line protocol has no empty tag values). */
void demo__lpw_tag(struct demo_lpw *w, const char *key, const char *val);
void demo__lpw_f64(struct demo_lpw *w, const char *key, double v, int decimals);
void demo__lpw_i64(struct demo_lpw *w, const char *key, int64_t v);
void demo__lpw_str(struct demo_lpw *w, const char *key, const char *val);
/* Two fields lat and lon (6 decimals): the ingest layer stores them as one geo value. */
void demo__lpw_geo(struct demo_lpw *w, double lat, double lon);
/* End the line with its timestamp (ms). A line without fields is dropped. Flushes when the batch
** is full. Returns w->rc. */
int demo__lpw_end(struct demo_lpw *w, int64_t ts_ms);
/* Hand the pending batch to emit (no-op when empty). Returns w->rc. */
int demo__lpw_flush(struct demo_lpw *w);

/* ---- Paris geography and time (approximate, see docs/demo.md) ------------------------------- */
/* Arrondissement (1..20) whose centroid is nearest to the point. */
int demo__district_of(double lat, double lon);
/* Approximate centroid of arrondissement arr (1..20; anything else gives the 12e). */
void demo__district_center(int arr, double *lat, double *lon);
/* UTC offset of Europe/Paris (= Europe/Madrid) at utc_ms under the EU rule: +2 h from the last
** Sunday of March 01:00 UTC to the last Sunday of October 01:00 UTC, +1 h otherwise. */
int64_t demo__cet_offset_ms(int64_t utc_ms);
/* Local wall-clock ms (as if UTC) to UTC ms; the skipped and repeated hours resolve to the
** offset in force one hour before. */
int64_t demo__cet_local_to_utc(int64_t local_ms);

/* ---- real samples ---------------------------------------------------------------------------- */
struct demo_sample_stats {
    uint64_t rows;     /* data rows read (header and unit rows excluded) */
    uint64_t bad;      /* rows that could not be parsed (skipped) */
    uint64_t empty;    /* rows parsed but holding no value (e.g. "n/d" everywhere) */
    uint64_t entities; /* distinct entities emitted */
    uint64_t lines;    /* line-protocol lines emitted */
    uint64_t values;   /* values emitted (a lat/lon pair counts as one) */
};

/* Each loader parses one file, writes its lines through w (not flushed) and fills *st.
** Returns 0, VG_ENOENT if the file is missing, VG_EIO/VG_ETOOBIG if it cannot be read, or
** w->rc if the emitter failed. Bad rows do not fail the call: they are counted in st->bad. */
int demo__samples_paris_traffic(const char *path, struct demo_lpw *w, struct demo_sample_stats *st);
int demo__samples_occitanie(const char *path, struct demo_lpw *w, struct demo_sample_stats *st);
int demo__samples_pa13(const char *path, struct demo_lpw *w, struct demo_sample_stats *st);
int demo__samples_madrid_noise(const char *noise_path, const char *stations_path,
                               struct demo_lpw *w, struct demo_sample_stats *st);

/* Load every known file under dir (missing ones are skipped), one log_info summary per file;
** batches go to emit. Returns 0 or the first emitter error. *values_out (may be NULL) receives
** the number of values emitted. */
int demo__samples_load_dir(const char *dir, demo_emit_fn *emit, void *arg, uint64_t *values_out);

#endif
