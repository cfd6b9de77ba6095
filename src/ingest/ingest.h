/*
** ingest/ingest.h: from parsed input to stored points. One entry point per payload format; each
** maps records to series through the catalogue, quarantines what fails validation, writes the
** rest to the store in one atomic batch and returns once it is durable.
** Owns: struct ingest (counters) and the per-call scratch arrays.
** Borrows: catalog, store, meta (quarantine).
** Thread: any thread; calls run in parallel.
*/
#ifndef VG_INGEST_INGEST_H
#define VG_INGEST_INGEST_H

#include "ingest/lineproto.h"
#include "meta/catalog.h"
#include "meta/meta.h"
#include "store/db.h"

struct ingest;

/* A string field "<attr>@unitCode" carries the UN/CEFACT unit code of attribute attr (written
** by the imports and the MQTT decoders; NGSI-LD shows it as the attribute's unitCode). */
#define INGEST_UNIT_SUFFIX "@unitCode"

struct ingest_lp_opts {
    /* Tag keys tried in order for the entity id; default {"id","entity_id","sensor","device"}. */
    const char *const *id_tags;
    uint32_t nid_tags;
};

int ingest_new(struct catalog *cat, struct store *st, struct meta *m,
               const struct ingest_lp_opts *opts, struct ingest **out);
void ingest_free(struct ingest *ig);

struct ingest_result {
    uint64_t lines;        /* non-empty lines seen */
    uint64_t points;       /* values stored */
    uint64_t bad;          /* lines quarantined */
    int store_rc;          /* 0, or the store/catalogue error that made the batch fail */
    char first_errors[1024]; /* "line 3: reason; line 9: reason" (first few bad lines) */
};

/* Ingest a line-protocol body for tenant. source names the peer for the quarantine and logs
** (e.g. "http:127.0.0.1 key 12"). Returns 0 if every good line is durable (bad lines, if any,
** are quarantined and counted in res->bad); otherwise the store/catalogue error (nothing of the
** batch is acknowledged). now_ms is used for lines without a timestamp. */
int ingest_lp(struct ingest *ig, const char *tenant, const char *source, const char *body,
              size_t len, enum lp_precision prec, int64_t now_ms, struct ingest_result *res);

/* The ingest's hook, for the layers above that follow the data (all three optional):
** - points: every point of a batch once it is durable, keyed by the store's series id, in input
**   order (the rules key their per-series state by sid and find names by sid, e.g.
**   catalog_series_get, on first sight): nothing is copied, nothing is asked per line;
** - wants/apply: values with their names, for a layer that keeps a current state by name (live
**   feed, NGSI-LD documents). `wants` is asked once per line whose entity has an id tag (it must
**   be cheap: a hash lookup); the values of the lines it wanted go to `apply` once the batch is
**   durable, in input order, after `points`.
** Neither may fail the batch (they log their own errors). Strings are valid during the call
** only. */
struct ingest_update { /* 64 bytes: one cache line (a batch hands over one per value) */
    const char *entity, *type, *attr; /* attr "location" for lat/lon (VT_GEO) */
    union vg_val v;
    int64_t ts;
    const char *source; /* the source that delivered it (ingest/sources.h; NULL = unknown) */
    uint32_t sid; /* the store's series id (0 = not known, e.g. an NGSI-LD change): consumers may
                     key per-series state by it instead of by names */
    enum vg_vtype vt;
};
struct ingest_hook {
    void (*points)(void *arg, const char *tenant, const char *source, const struct store_point *p,
                   size_t n);
    int (*wants)(void *arg, const char *tenant, const char *entity, size_t elen);
    void (*apply)(void *arg, const char *tenant, const struct ingest_update *u, uint32_t n);
    void *arg;
};
/* The tag that names the entity id in line protocol (the first of the configured id tags). */
const char *ingest_id_tag(const struct ingest *ig);

/* Set before the first ingest call (not synchronised with running calls). */
void ingest_set_hook(struct ingest *ig, const struct ingest_hook *h);
/* Validate every point (Smart Data Models schemas and operator rules) before it is mapped: a
** line with a failing value is quarantined whole with the validator's reason. Borrowed; set
** before the first ingest call. NULL = no validation. */
struct validator;
void ingest_set_validator(struct ingest *ig, struct validator *v);

struct ingest_stats {
    uint64_t requests, lines, points, bad_lines, failed_batches;
};
void ingest_get_stats(struct ingest *ig, struct ingest_stats *st);

#endif
