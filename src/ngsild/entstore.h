/*
** ngsild/entstore.h: the NGSI-LD entity store. Current state of every entity of every tenant, in
** memory (the stored form of ngsild/entity.h) and durable in SQLite (meta docs of kind "entity"),
** with group commit; and the bridge to the time-series engine:
**   - every attribute instance a change creates or modifies appends one point to the history of
**     its series (catalog entity = entity id, type = local name of the first type, attribute =
**     local name of the attribute IRI, "#<datasetId>" appended for non-default instances;
**     time = observedAt, else the receipt time; unit codes where they change in the series
**     "<attribute>@unitCode");
**   - an entity written only through line protocol (it has series in the catalogue but no
**     document) is visible as an NGSI-LD entity synthesised from the latest value of each series
**     (type and attributes in the default @vocab, observedAt = time of the latest point).
** Owns: per tenant, the id hash table, the per-type lists, the spatial index of "location";
** the commit queue and its thread.
** Borrows: meta (documents), catalog and store (history).
** Thread: all functions are thread-safe. Changes of one entity are serialised (striped locks);
** readers never wait for a change being computed, only for the pointer swap.
*/
#ifndef VG_NGSILD_ENTSTORE_H
#define VG_NGSILD_ENTSTORE_H

#include "ingest/ingest.h"
#include "meta/catalog.h"
#include "meta/meta.h"
#include "ngsild/geo.h"
#include "store/db.h"

#include <jansson.h>

struct entstore;

/* IRI of the default geo-property, the one the spatial index covers. */
#define ENTSTORE_LOCATION_IRI "https://uri.etsi.org/ngsi-ld/location"
/* Unit codes over time: the string series named after the attribute's series with this suffix
** holds the unit from each of its points on ("" = none), written only where the unit changes
** (and for instances appended through the temporal API). The unit of an instance at t is the
** last point at or before t, else the first point; with no such series, the current unit. */
#define ENTSTORE_UNIT_SUFFIX INGEST_UNIT_SUFFIX
/* History values that are JSON (objects, arrays, non-Point geometries) are stored as strings
** starting with this byte, then the JSON text. */
#define ENTSTORE_JSON_MARK '\x1e'

/* Load every entity document from m. On error *out is unchanged. */
int entstore_open(struct meta *m, struct store *st, struct catalog *cat, struct entstore **out);
/* Stop the commit thread (after committing what is queued) and free. NULL is a no-op. */
void entstore_free(struct entstore *es);

/* Current stored form of (tenant, id): a new reference in *out (json_decref it); synthesised for
** line-protocol entities. VG_ENOENT if none. */
int entstore_get(struct entstore *es, const char *tenant, const char *id, json_t **out);
/* Is id a document entity (created through NGSI-LD)? */
int entstore_has_doc(struct entstore *es, const char *tenant, const char *id);
/* Does the tenant exist (any entity, document or series)? "default" always exists. */
int entstore_tenant_exists(struct entstore *es, const char *tenant);

/* ---- changes ---------------------------------------------------------------------------------
** A change computes the next state of one entity from its current one. Changes are collected in
** a batch; entstore_batch_finish() writes their history points (one store write) and waits
** until their documents are committed (one SQLite transaction shared with concurrent batches).
** The new state is visible to readers as soon as entstore_change() returns. */
struct entstore_batch;
/* fn receives the current document (NULL if the entity has no document; synthesised entities
** are passed as cur with *synth = 1) and returns 0 with *next = a new reference (the new state)
** or NULL (delete), or an error code (nothing changes; the code is returned by entstore_change).
** fn runs with the entity's stripe lock held: it must not call entstore functions. */
typedef int entstore_change_fn(void *arg, const json_t *cur, int synth, json_t **next);

struct entstore_batch *entstore_batch_new(struct entstore *es, const char *tenant);
/* The changes of this batch record no history (their points are stored already). */
void entstore_batch_no_history(struct entstore_batch *b);
/* Apply one change. Returns 0, fn's error, or VG_EINVAL for a bad id. */
int entstore_change(struct entstore_batch *b, const char *id, entstore_change_fn *fn, void *arg);
/* Make the batch durable (history + documents) and free it. Returns 0 or the first error (the
** in-memory state of failed documents is rolled back). */
int entstore_batch_finish(struct entstore_batch *b);

/* Observer of committed changes (the subscription engine): called once per change of a batch,
** after the batch is durable, in the thread that finished it. old/new are the stored forms
** before and after (NULL: did not exist / deleted; a line-protocol entity counts as absent).
** The references are borrowed for the call. Set once, before serving. */
typedef void entstore_observer_fn(void *arg, const char *tenant, const char *id,
                                  const json_t *old, const json_t *new_);
void entstore_set_observer(struct entstore *es, entstore_observer_fn *fn, void *arg);

/* Line protocol stored these values for entity id: where id is a document entity, queue in b
** (a batch with entstore_batch_no_history: the points are in the store already) the change that
** makes them its current values: the default instance of the attribute of the same local name
** (a new default-vocabulary Property, or "location" GeoProperty, if it has none), unless the
** document holds a newer observedAt. Durable, and seen by subscriptions, once b is finished.
** 0 if id has no document or nothing is newer. */
struct entstore_latest {
    const char *attr;
    enum vg_vtype vt;
    union vg_val v;
    int64_t ts;
};
int entstore_apply_latest(struct entstore_batch *b, const char *id,
                          const struct entstore_latest *l, uint32_t n);

/* Append history points only (temporal API: POST /temporal/entities/{id}/attrs): instances is
** the "attrs" member of a stored-form fragment; each instance with observedAt gives one point.
** type_iri names the entity type for new series. Durable on return. */
int entstore_history_append(struct entstore *es, const char *tenant, const char *id,
                            const char *type_iri, const json_t *attrs, uint64_t *points);

/* ---- queries --------------------------------------------------------------------------------- */
struct entstore_scan {
    const char *const *ids;   /* candidate ids (exact), or NULL */
    uint32_t nids;
    const char *const *types; /* candidate type IRIs (an entity with any of them), or NULL */
    uint32_t ntypes;
    const double *bbox;       /* candidate box for "location" (geo index), or NULL */
    int (*match)(void *arg, const json_t *e); /* final filter, NULL = all */
    void *arg;
    uint64_t offset, limit;   /* the page; limit 0 = count only */
};
/* Calls row() for each entity of the page (the reference is borrowed during the call), in a
** stable order; *total receives the number of matches (may be NULL: then the scan stops after
** the page). row runs under the tenant's read lock: it must not call entstore functions. */
typedef int entstore_row_fn(void *arg, const json_t *e);
int entstore_scan(struct entstore *es, const char *tenant, const struct entstore_scan *s,
                  entstore_row_fn *row, void *rarg, uint64_t *total);

/* Types and attributes in use by a tenant (documents and line-protocol entities). fn receives a
** type IRI and, for each, the attribute IRIs and their instance kinds (JSON array of strings). */
typedef int entstore_type_fn(void *arg, const char *type_iri, uint64_t entities,
                             const json_t *attrs /* {attrIRI: ["Property",...]} */);
int entstore_types(struct entstore *es, const char *tenant, entstore_type_fn *fn, void *arg);

/* The history series of an attribute instance: the local name of the attribute IRI, with
** "#<datasetId>" for a non-default instance. Written to out (truncated to cap). */
void entstore_series_name(const char *iri, const char *dataset_id, char *out, size_t cap);
/* A history value as JSON (a new reference): numbers, booleans, strings, Points as GeoJSON,
** JSON-marked strings parsed back. NULL for a non-finite float or an unknown type. */
json_t *entstore_value_json(enum vg_vtype vt, const union vg_val *v);

/* Local name of an IRI: the part after the last '/' or '#' (the whole string if none). */
const char *entstore_local_name(const char *iri);

struct entstore_stats {
    uint64_t entities, changes, commits, history_points, history_skipped;
};
void entstore_get_stats(struct entstore *es, struct entstore_stats *st);

#endif
