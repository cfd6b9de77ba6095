/*
** app/replay.c: quarantine replay (see replay.h).
** Owns: the id list of the call, one copied row at a time, the last loaded import mapping.
*/
#include "app/replay.h"

#include "core/clock.h"
#include "core/log.h"
#include "ingest/import.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLAY_MAX_ROWS 1000000 /* per call; run again for more */

struct ids {
    int64_t *v;
    uint32_t n, cap;
};

static int collect(void *arg, const struct meta_quarantine_row *r)
{
    struct ids *x = arg;
    if (x->n == REPLAY_MAX_ROWS)
        return 1;
    if (x->n == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 256;
        x->v = vg_realloc(x->v, x->cap * sizeof(*x->v));
    }
    x->v[x->n++] = r->id;
    return 0;
}

struct row {
    char *source, *format, *context, *raw;
    size_t raw_len;
    int found;
};

static int copy_row(void *arg, const struct meta_quarantine_row *r)
{
    struct row *w = arg;
    w->source = vg_strdup(r->source);
    w->format = vg_strdup(r->format);
    w->context = vg_strdup(r->context);
    w->raw = vg_malloc(r->raw_len + 1);
    memcpy(w->raw, r->raw, r->raw_len);
    w->raw[r->raw_len] = '\0';
    w->raw_len = r->raw_len;
    w->found = 1;
    return 0;
}

static void row_free(struct row *w)
{
    free(w->source);
    free(w->format);
    free(w->context);
    free(w->raw);
    memset(w, 0, sizeof(*w));
}

static void note(struct replay_result *res, int64_t id, const char *why)
{
    size_t used = strlen(res->first_errors);
    if (used + 32 < sizeof(res->first_errors) && why && *why)
        snprintf(res->first_errors + used, sizeof(res->first_errors) - used, "%s#%lld: %s",
                 used ? "; " : "", (long long)id, why);
}

struct mapping_cache {
    char ref[600];
    struct import_mapping *m;
};

static struct import_mapping *mapping_for(struct mapping_cache *mc, const char *ref, char *err,
                                          size_t cap)
{
    if (mc->m && !strcmp(mc->ref, ref))
        return mc->m;
    import_mapping_free(mc->m);
    mc->m = NULL;
    if (import_mapping_load(ref, &mc->m, err, cap))
        return NULL;
    snprintf(mc->ref, sizeof(mc->ref), "%s", ref);
    return mc->m;
}

/* Replay one row. Returns 0 (res updated, *done = row handled and to delete) or a store error. */
static int replay_row(struct vg_server *s, const struct replay_opts *o, struct mapping_cache *mc,
                      int64_t id, const struct row *w, struct replay_result *res, int *done)
{
    char err[512] = "";
    int rc = VG_OK;
    *done = 0;
    if (!strcmp(w->format, "lp")) {
        int prec = lp_precision_parse(w->context[0] ? w->context : "ns");
        struct ingest_result ir;
        rc = ingest_lp(s->ig, o->tenant, w->source, w->raw, w->raw_len,
                       (enum lp_precision)(prec < 0 ? LP_NS : prec), clock_now_ms(), &ir);
        if (!rc) {
            res->stored += ir.lines - ir.bad;
            res->quarantined += ir.bad;
            note(res, id, ir.first_errors);
            *done = 1;
        }
    } else if (!strcmp(w->format, "mqtt")) {
        if (!s->gw) {
            note(res, id, "an MQTT message: give the gateway file (--gateway)");
            res->skipped++;
            return VG_OK;
        }
        uint64_t stored = 0;
        rc = gateway_replay(s->gw, w->source, w->context, w->raw, w->raw_len, &stored, err,
                            sizeof(err));
        if (rc == VG_ENOENT) {
            note(res, id, err);
            res->skipped++;
            return VG_OK;
        }
        if (!rc) {
            res->stored += stored;
            if (!stored)
                res->quarantined++;
            note(res, id, err);
            *done = 1;
        }
    } else if (!strcmp(w->format, "csv")) {
        char ref[600];
        if (o->mapping)
            snprintf(ref, sizeof(ref), "%s", o->mapping);
        else if (import_replay_ref(w->context, ref, sizeof(ref))) {
            note(res, id, "a CSV row without its mapping: give --mapping");
            res->skipped++;
            return VG_OK;
        }
        struct import_mapping *m = mapping_for(mc, ref, err, sizeof(err));
        if (!m) {
            note(res, id, err);
            res->skipped++;
            return VG_OK;
        }
        struct import_result ir;
        rc = import_replay(s->ig, s->meta, m, o->tenant, w->source, w->context, w->raw,
                           w->raw_len, &ir, err, sizeof(err));
        if (rc == VG_EINVAL || rc == VG_ENOENT) { /* the mapping does not fit the row's file */
            note(res, id, err);
            res->skipped++;
            return VG_OK;
        }
        if (!rc) {
            res->stored += ir.stored;
            res->quarantined += ir.quarantined;
            note(res, id, ir.first_errors);
            *done = 1;
        }
    } else {
        note(res, id, "unknown format");
        res->skipped++;
        return VG_OK;
    }
    if (*done)
        res->replayed++;
    return rc;
}

int replay_run(struct vg_server *s, const struct replay_opts *o, struct replay_result *res)
{
    memset(res, 0, sizeof(*res));
    struct ids ids = {0};
    struct meta_quarantine_filter f = {o->tenant, o->source, NULL, o->id, 0, 1000};
    int rc;
    /* The rows that exist now, oldest first; new rows (failed again) come after them. */
    for (;;) {
        uint32_t before = ids.n;
        rc = meta_quarantine_scan(s->meta, &f, collect, &ids);
        if (rc == 1) /* REPLAY_MAX_ROWS */
            rc = VG_OK;
        if (rc || ids.n == before || ids.n == REPLAY_MAX_ROWS || o->id)
            break;
        f.after_id = ids.v[ids.n - 1];
    }
    struct mapping_cache mc = {"", NULL};
    for (uint32_t i = 0; !rc && i < ids.n; i++) {
        struct row w = {0};
        struct meta_quarantine_filter one = {o->tenant, NULL, NULL, ids.v[i], 0, 1};
        rc = meta_quarantine_scan(s->meta, &one, copy_row, &w);
        if (!rc && w.found) {
            int done = 0;
            rc = replay_row(s, o, &mc, ids.v[i], &w, res, &done);
            if (!rc && done)
                rc = meta_quarantine_delete(s->meta, &ids.v[i], 1);
        }
        row_free(&w);
    }
    import_mapping_free(mc.m);
    free(ids.v);
    return rc;
}
