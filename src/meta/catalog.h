/*
** meta/catalog.h: the series catalogue in memory, backed by meta (SQLite).
** Maps (tenant, entity id, attribute) -> sid, keeps each entity's type and tags, assigns
** retention groups per (tenant, entity type), and selects series for queries.
** Tenant isolation lives here: every lookup and selection is scoped by one tenant.
** Owns: the hash tables, the interned strings, the list of rows not yet persisted.
** Borrows: struct meta and struct store (declares every series in the store).
** Thread: all functions are thread-safe (a rwlock: lookups share, creations exclude).
*/
#ifndef VG_META_CATALOG_H
#define VG_META_CATALOG_H

#include "meta/meta.h"
#include "store/db.h"

struct catalog;

/* Load every group and series from m and declare them in st (store_series_add). Call before
** store_recover(). On error *out is unchanged. */
int catalog_open(struct meta *m, struct store *st, struct catalog **out);
void catalog_free(struct catalog *c);

struct vg_tag {
    const char *key;
    uint32_t klen;
    const char *val;
    uint32_t vlen;
};

/* Return the sid of (tenant, entity, attr), creating the entity, the group and the series as
** needed (in memory at once, declared in the store, persisted by the next catalog_sync()).
** type and tags describe the entity: a changed tag set replaces the stored one.
** VG_ETYPE if the series exists with another value type; VG_EINVAL for empty/oversized names
** (limits: 256 bytes per name, 64 tags). Strings are (ptr, len) and copied. */
int catalog_resolve(struct catalog *c, const char *tenant, size_t tlen, const char *type,
                    size_t typelen, const char *entity, size_t elen, const struct vg_tag *tags,
                    uint32_t ntags, const char *attr, size_t alen, enum vg_vtype vt,
                    uint32_t *sid);

/* Persist every pending creation in one SQLite transaction. Must return 0 before a WAL record
** referencing a new sid is written. */
int catalog_sync(struct catalog *c);

struct catalog_series {
    uint32_t sid;
    uint32_t group;
    enum vg_vtype vt;
    const char *tenant, *entity, *type, *attr;
    const struct vg_tag *tags;
    uint32_t ntags;
};

/* Selection: tenant is required; other members NULL/0 mean "any". where[] tags must all match. */
struct catalog_sel {
    const char *tenant;
    const char *type;
    const char *entity;
    const char *attr;
    const struct vg_tag *where;
    uint32_t nwhere;
};
/* Calls fn for each matching series (under the read lock: do not call catalog_resolve from fn).
** Order: by entity id then attribute. Non-zero return stops and is returned. */
typedef int catalog_series_fn(void *arg, const struct catalog_series *cs);
int catalog_select(struct catalog *c, const struct catalog_sel *sel, catalog_series_fn *fn,
                   void *arg);

/* Calls fn with the live series sid (under the read lock: do not call back into the catalogue),
** and returns what fn returns; VG_ENOENT if sid names no series, or a retired one. An index
** lookup: consumers that key their state by sid (the ingest hook's updates without names) find
** the names here on first sight. */
int catalog_series_get(struct catalog *c, uint32_t sid, catalog_series_fn *fn, void *arg);

/* Calls fn for every entity of tenant with its type, in no particular order (under the read
** lock: do not call back into the catalogue). Non-zero return stops and is returned. */
typedef int catalog_entity_fn(void *arg, const char *entity, const char *type);
int catalog_entities(struct catalog *c, const char *tenant, catalog_entity_fn *fn, void *arg);
/* Does the catalogue know (tenant, entity)? A hash lookup (no ordered scan). */
int catalog_entity_exists(struct catalog *c, const char *tenant, const char *entity);
/* Grows by one with every entity added to the catalogue (entities are never removed): a cheap
** "has anything changed" check for caches of the entity list. */
uint64_t catalog_entity_generation(struct catalog *c);

/* Retire the series of (tenant, entity) whose attribute name `want` accepts (want NULL: all
** of them): they leave every lookup and selection at once, and catalog_resolve() of the same
** name creates a new series, so their points are gone from every query while new ones start
** afresh. Durable on return (one SQLite transaction). The points stay in the store until their
** partition expires (they are unreachable: a retired sid is never reused). *nretired = count.
** `want` runs under the write lock: it must not call back into the catalogue. */
typedef int catalog_attr_pred(void *arg, const char *attr);
int catalog_retire(struct catalog *c, const char *tenant, const char *entity,
                   catalog_attr_pred *want, void *arg, uint32_t *nretired);

/* Group of (tenant, type) or VG_ENOENT. */
int catalog_group(struct catalog *c, const char *tenant, const char *type, uint32_t *group);
/* Does this tenant own any series? (NGSI-LD NonexistentTenant later) */
int catalog_tenant_exists(struct catalog *c, const char *tenant);

struct catalog_stats {
    uint64_t series, entities, groups, tenants, retired;
};
void catalog_get_stats(struct catalog *c, struct catalog_stats *st);

#endif
