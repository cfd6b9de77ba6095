/*
** meta/meta.h: Vigie's metadata store on SQLite (meta/db.c is the only file that includes
** sqlite3.h). Tables: entities, series, groups (retention), api_keys, quarantine, docs (NGSI-LD).
** Owns: the SQLite connection of <data>/meta.db and its lock.
** Durability: WAL journal with synchronous=FULL, so a committed row survives power loss.
** Thread: every function may be called from any thread (one connection behind a mutex).
*/
#ifndef VG_META_META_H
#define VG_META_META_H

#include "core/vg.h"
#include "store/value.h"

#include <stdint.h>

struct meta;

/* Open or create <path> and migrate the schema. On error *out is unchanged. */
int meta_open(const char *path, struct meta **out);
void meta_close(struct meta *m);

/* ---- catalogue persistence (used by meta/catalog.c only) ---------------------------------- */
struct meta_tag {
    const char *key;
    const char *val;
};

struct meta_series_row {
    uint32_t sid;
    uint32_t group;
    enum vg_vtype vt;
    const char *tenant, *entity, *type, *attr;
    const struct meta_tag *tags; /* the entity's tags */
    uint32_t ntags;
};
/* Rows are valid only during the callback. Non-zero return stops and is returned. */
typedef int meta_series_fn(void *arg, const struct meta_series_row *row);
int meta_series_load(struct meta *m, meta_series_fn *fn, void *arg);

struct meta_group_row {
    uint32_t group;
    const char *tenant, *type;
};
typedef int meta_group_fn(void *arg, const struct meta_group_row *row);
int meta_groups_load(struct meta *m, meta_group_fn *fn, void *arg);

/* Persist in ONE transaction: new groups, new or re-tagged entities, new series.
** All arrays may be empty. Returns 0 once committed (durable). */
struct meta_entity_row {
    const char *tenant, *entity, *type;
    const struct meta_tag *tags;
    uint32_t ntags;
};
struct meta_batch {
    const struct meta_group_row *groups;
    uint32_t ngroups;
    const struct meta_entity_row *entities; /* insert or replace (type, tags) */
    uint32_t nentities;
    const struct meta_series_row *series;   /* tags ignored here */
    uint32_t nseries;
};
int meta_commit(struct meta *m, const struct meta_batch *b);

/* Retire series in one transaction: each row stays (its sid, type and group, so that the
** store still knows the sid when it replays old WAL records) but leaves every name: its attr
** becomes META_RETIRED_PREFIX "<sid>", which no valid name can equal. */
#define META_RETIRED_PREFIX "\x01retired:"
int meta_series_retire(struct meta *m, const uint32_t *sids, uint32_t n);

/* ---- API keys ------------------------------------------------------------------------------ */
enum vg_scope { SCOPE_NONE = 0, SCOPE_READ = 1, SCOPE_WRITE = 2, SCOPE_ADMIN = 3 };
const char *vg_scope_name(enum vg_scope s);
int vg_scope_parse(const char *s); /* -1 if unknown */

/* Create a key: a random 256-bit secret "vg_<43 base64url chars>" written to key_out (cap >= 64).
** Only its BLAKE2b-256 hash is stored. The caller shows the key once and never logs it. */
int meta_apikey_create(struct meta *m, const char *tenant, enum vg_scope scope, const char *label,
                       char *key_out, size_t cap, int64_t *id_out);
/* Look up a presented key. On success fills tenant (cap bytes) and scope; VG_ENOENT if unknown
** or revoked. Constant-time with respect to the secret (lookup by hash). */
int meta_apikey_verify(struct meta *m, const char *key, char *tenant, size_t cap,
                       enum vg_scope *scope);
/* Same, also giving the key's label (label may be NULL). */
int meta_apikey_verify_label(struct meta *m, const char *key, char *tenant, size_t cap,
                             enum vg_scope *scope, char *label, size_t lcap);
int meta_apikey_revoke(struct meta *m, int64_t id);
struct meta_apikey_row {
    int64_t id;
    const char *tenant, *label;
    enum vg_scope scope;
    int64_t created_ms;
    int revoked;
};
typedef int meta_apikey_fn(void *arg, const struct meta_apikey_row *row);
int meta_apikey_list(struct meta *m, meta_apikey_fn *fn, void *arg);

/* ---- quarantine: input that failed validation, kept with its reason ---------------------- */
struct meta_quarantine_row {
    int64_t id;
    int64_t received_ms;
    const char *tenant, *source, *reason;
    const char *raw;
    size_t raw_len;
    /* How to replay it (vigie quarantine replay): format "lp" (a line-protocol line; the
    ** default when NULL), "mqtt" (a message payload; context = its topic, source = the source
    ** whose decoder applies), "csv" (a row; context = "MAPPING\nHEADER LINE"). */
    const char *format, *context;
};
/* Insert n rows in one durable transaction (id and received_ms of the rows are ignored;
** received_ms = now). */
int meta_quarantine_add(struct meta *m, const struct meta_quarantine_row *rows, uint32_t n);
/* Newest first. tenant required; source may be NULL; since_ms 0 = all; limit 0 = 1000. */
typedef int meta_quarantine_fn(void *arg, const struct meta_quarantine_row *row);
int meta_quarantine_list(struct meta *m, const char *tenant, const char *source, int64_t since_ms,
                         uint32_t limit, meta_quarantine_fn *fn, void *arg);
int meta_quarantine_count(struct meta *m, const char *tenant, uint64_t *n);
/* Oldest first (by id), for replay: rows with id > after_id matching every non-NULL member
** (id 0 = any; limit 0 = 1000). */
struct meta_quarantine_filter {
    const char *tenant, *source, *format;
    int64_t id, after_id;
    uint32_t limit;
};
int meta_quarantine_scan(struct meta *m, const struct meta_quarantine_filter *f,
                         meta_quarantine_fn *fn, void *arg);
/* Delete rows by id in one durable transaction (ids that do not exist are ignored). */
int meta_quarantine_delete(struct meta *m, const int64_t *ids, uint32_t n);
/* Delete rows received before before_ms; *deleted receives the count (may be NULL). */
int meta_quarantine_purge(struct meta *m, int64_t before_ms, uint64_t *deleted);

/* ---- documents: NGSI-LD entities, subscriptions, user @contexts (JSON text) -------------- */
/* kind is "entity", "subscription", "context"... doc NULL deletes (kind, tenant, id). */
struct meta_doc_op {
    const char *kind, *tenant, *id;
    const char *doc;
    size_t len;
};
/* Apply ops in ONE durable transaction (all or nothing). */
int meta_docs_commit(struct meta *m, const struct meta_doc_op *ops, uint32_t n);
struct meta_doc_row {
    const char *tenant, *id;
    const char *doc;
    size_t len;
};
/* Every document of kind, ordered by (tenant, id). Rows valid during the callback only. */
typedef int meta_doc_fn(void *arg, const struct meta_doc_row *row);
int meta_docs_load(struct meta *m, const char *kind, meta_doc_fn *fn, void *arg);

/* ---- key/value settings (server id, schema version, ...) ---------------------------------- */
int meta_kv_get(struct meta *m, const char *key, char *val, size_t cap);
int meta_kv_set(struct meta *m, const char *key, const char *val);

#endif
