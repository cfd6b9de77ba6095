/*
** meta/db.c: Vigie's metadata store on SQLite (implements meta/meta.h).
** The only file of Vigie that includes sqlite3.h. Schema and the reason for each table and
** index: docs/format/meta.md.
** Owns: the SQLite connection of <data>/meta.db, its prepared statements, the mutex that
** serialises every use of the connection, and the API-key cache (hash -> tenant, scope).
** Borrows: the rows passed to meta_commit() and meta_quarantine_add() (bound, not kept).
** Errors: SQLite result codes become VG_EFULL (SQLITE_FULL), VG_ENOMEM (SQLITE_NOMEM),
** VG_ECORRUPT (SQLITE_CORRUPT, SQLITE_NOTADB) or VG_EIO; meta never logs, the caller does.
** Thread: every function may be called from any thread. Callbacks (the *_load, *_list
** functions) run with the mutex held: they must not call back into meta.
*/
#include "meta/meta.h"
#include "core/clock.h"

#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define META_SCHEMA_VERSION 3
#define META_BUSY_TIMEOUT_MS 5000
#define META_NAME_MAX 256            /* tenant, label, source: longer is refused */
#define META_REASON_MAX 4096
#define META_RAW_MAX (16u << 20)     /* quarantined payload */
#define META_KEY_MAX 256             /* a presented API key longer than this is unknown */
#define META_KEY_RAW 32              /* secret bytes */
#define META_HASH_LEN 32             /* BLAKE2b-256 */
#define META_TAGS_MAX 64
#define APIKEY_CACHE_SLOTS 1024      /* power of two; the cache is emptied when half full */

/* Every cached statement; the SQL is in stmt_sql[] below (same order). */
enum meta_stmt {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_KV_GET,
    ST_KV_SET,
    ST_GROUP_INS,
    ST_GROUP_LOAD,
    ST_ENTITY_UPSERT,
    ST_SERIES_INS,
    ST_SERIES_LOAD,
    ST_SERIES_RETIRE,
    ST_KEY_INS,
    ST_KEY_FIND,
    ST_KEY_REVOKE,
    ST_KEY_LIST,
    ST_Q_INS,
    ST_Q_LIST,
    ST_Q_COUNT,
    ST_Q_PURGE,
    ST_Q_SCAN,
    ST_Q_DEL,
    ST_DATA_VERSION,
    ST_DOC_PUT,
    ST_DOC_DEL,
    ST_DOC_LOAD,
    ST__COUNT
};

static const char *const stmt_sql[ST__COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_KV_GET] = "SELECT val FROM kv WHERE key = ?1",
    [ST_KV_SET] = "INSERT INTO kv(key, val) VALUES (?1, ?2) "
                  "ON CONFLICT(key) DO UPDATE SET val = excluded.val",
    [ST_GROUP_INS] = "INSERT INTO groups(id, tenant, type) VALUES (?1, ?2, ?3)",
    [ST_GROUP_LOAD] = "SELECT id, tenant, type FROM groups ORDER BY id",
    [ST_ENTITY_UPSERT] = "INSERT INTO entities(tenant, id, type, tags) VALUES (?1, ?2, ?3, ?4) "
                         "ON CONFLICT(tenant, id) DO UPDATE SET type = excluded.type, "
                         "tags = excluded.tags",
    [ST_SERIES_INS] = "INSERT INTO series(sid, tenant, entity, attr, vtype, grp) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    /* Ordered like the catalogue sorts (memcmp order = SQLite's BINARY collation), so that
    ** the catalogue appends instead of inserting in the middle of its arrays. */
    [ST_SERIES_LOAD] = "SELECT s.sid, s.grp, s.vtype, s.tenant, s.entity, e.type, s.attr, e.tags "
                       "FROM series s JOIN entities e ON e.tenant = s.tenant AND e.id = s.entity "
                       "ORDER BY s.tenant, s.entity, s.attr",
    [ST_SERIES_RETIRE] = "UPDATE series SET attr = char(1) || 'retired:' || sid WHERE sid = ?1",
    [ST_KEY_INS] = "INSERT INTO api_keys(hash, tenant, scope, label, created_ms, revoked) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, 0)",
    [ST_DATA_VERSION] = "PRAGMA data_version",
    [ST_DOC_PUT] = "INSERT INTO docs(kind, tenant, id, doc) VALUES (?1, ?2, ?3, ?4) "
                   "ON CONFLICT(kind, tenant, id) DO UPDATE SET doc = excluded.doc",
    [ST_DOC_DEL] = "DELETE FROM docs WHERE kind = ?1 AND tenant = ?2 AND id = ?3",
    [ST_DOC_LOAD] = "SELECT tenant, id, doc FROM docs WHERE kind = ?1 ORDER BY tenant, id",
    [ST_KEY_FIND] = "SELECT id, tenant, scope, label FROM api_keys WHERE hash = ?1 "
                    "AND revoked = 0",
    [ST_KEY_REVOKE] = "UPDATE api_keys SET revoked = 1 WHERE id = ?1",
    [ST_KEY_LIST] = "SELECT id, tenant, label, scope, created_ms, revoked FROM api_keys "
                    "ORDER BY id",
    [ST_Q_INS] = "INSERT INTO quarantine(received_ms, tenant, source, reason, raw, format, "
                 "context) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_Q_LIST] = "SELECT id, received_ms, tenant, source, reason, raw, format, context "
                  "FROM quarantine "
                  "WHERE tenant = ?1 AND received_ms >= ?2 AND (?3 IS NULL OR source = ?3) "
                  "ORDER BY received_ms DESC, id DESC LIMIT ?4",
    [ST_Q_SCAN] = "SELECT id, received_ms, tenant, source, reason, raw, format, context "
                  "FROM quarantine WHERE id > ?1 AND (?2 IS NULL OR tenant = ?2) "
                  "AND (?3 IS NULL OR source = ?3) AND (?4 IS NULL OR format = ?4) "
                  "AND (?5 IS NULL OR id = ?5) ORDER BY id LIMIT ?6",
    [ST_Q_DEL] = "DELETE FROM quarantine WHERE id = ?1",
    [ST_Q_COUNT] = "SELECT count(*) FROM quarantine WHERE tenant = ?1",
    [ST_Q_PURGE] = "DELETE FROM quarantine WHERE received_ms < ?1",
};

/* Schema migrations: migrations[v] takes the schema from version v to v + 1. Each runs in
** its own transaction together with the update of kv.schema_version. Never edit a released
** step: append a new one. */
static const char *const migrations[META_SCHEMA_VERSION] = {
    /* v0 -> v1 */
    "CREATE TABLE groups("
    "  id INTEGER PRIMARY KEY,"
    "  tenant TEXT NOT NULL,"
    "  type TEXT NOT NULL,"
    "  UNIQUE(tenant, type));"
    "CREATE TABLE entities("
    "  tenant TEXT NOT NULL,"
    "  id TEXT NOT NULL,"
    "  type TEXT NOT NULL,"
    "  tags TEXT NOT NULL DEFAULT '{}',"
    "  PRIMARY KEY(tenant, id)) WITHOUT ROWID;"
    "CREATE TABLE series("
    "  sid INTEGER PRIMARY KEY,"
    "  tenant TEXT NOT NULL,"
    "  entity TEXT NOT NULL,"
    "  attr TEXT NOT NULL,"
    "  vtype INTEGER NOT NULL,"
    "  grp INTEGER NOT NULL REFERENCES groups(id),"
    "  UNIQUE(tenant, entity, attr),"
    "  FOREIGN KEY(tenant, entity) REFERENCES entities(tenant, id));"
    "CREATE TABLE api_keys("
    "  id INTEGER PRIMARY KEY,"
    "  hash BLOB NOT NULL UNIQUE,"
    "  tenant TEXT NOT NULL,"
    "  scope INTEGER NOT NULL,"
    "  label TEXT NOT NULL DEFAULT '',"
    "  created_ms INTEGER NOT NULL,"
    "  revoked INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE quarantine("
    "  id INTEGER PRIMARY KEY,"
    "  received_ms INTEGER NOT NULL,"
    "  tenant TEXT NOT NULL,"
    "  source TEXT NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  raw BLOB NOT NULL);"
    "CREATE INDEX quarantine_tenant_time ON quarantine(tenant, received_ms);"
    "CREATE INDEX quarantine_time ON quarantine(received_ms);",
    /* v1 -> v2: NGSI-LD documents (entities, subscriptions, user @contexts), JSON text */
    "CREATE TABLE docs("
    "  kind TEXT NOT NULL,"
    "  tenant TEXT NOT NULL,"
    "  id TEXT NOT NULL,"
    "  doc BLOB NOT NULL,"
    "  PRIMARY KEY(kind, tenant, id)) WITHOUT ROWID;",
    /* v2 -> v3: how to replay a quarantined record: format (lp, mqtt, csv, ngsi-ld) and its
    ** context (mqtt: the topic; csv: the mapping name and the header line) */
    "ALTER TABLE quarantine ADD COLUMN format TEXT NOT NULL DEFAULT 'lp';"
    "ALTER TABLE quarantine ADD COLUMN context TEXT NOT NULL DEFAULT '';",
};

struct apikey_slot {
    uint8_t hash[META_HASH_LEN];
    int used;
    enum vg_scope scope;
    char tenant[META_NAME_MAX + 1];
    char label[META_NAME_MAX + 1];
};

struct meta {
    sqlite3 *db;
    pthread_mutex_t mu;
    sqlite3_stmt *st[ST__COUNT];
    struct apikey_slot *cache; /* APIKEY_CACHE_SLOTS, open addressing on the hash */
    uint32_t ncached;
    int64_t data_version; /* PRAGMA data_version when the cache was last validated */
};

static int map_rc(int src)
{
    switch (src & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return VG_OK;
    case SQLITE_FULL:
        return VG_EFULL;
    case SQLITE_NOMEM:
        return VG_ENOMEM;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return VG_ECORRUPT;
    default:
        return VG_EIO;
    }
}

/* Get a cached statement, ready to bind (reset and bindings cleared). */
static sqlite3_stmt *stmt(struct meta *m, enum meta_stmt id)
{
    sqlite3_stmt *s = m->st[id];
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
}

/* Step a statement that returns no row; resets it. */
static int step_done(sqlite3_stmt *s)
{
    int src = sqlite3_step(s);
    sqlite3_reset(s);
    if (src == SQLITE_DONE || src == SQLITE_ROW)
        return VG_OK;
    return map_rc(src);
}

static int bind_text(sqlite3_stmt *s, int i, const char *t)
{
    return map_rc(sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC));
}

static int tx_begin(struct meta *m)
{
    return step_done(stmt(m, ST_BEGIN));
}

static int tx_commit(struct meta *m)
{
    return step_done(stmt(m, ST_COMMIT));
}

static void tx_rollback(struct meta *m);

/* End a transaction begun under m->mu: commit if rc is 0, else roll back; then unlock. */
static int tx_finish(struct meta *m, int rc)
{
    if (!rc)
        rc = tx_commit(m);
    if (rc)
        tx_rollback(m);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static void tx_rollback(struct meta *m)
{
    if (!sqlite3_get_autocommit(m->db))
        step_done(stmt(m, ST_ROLLBACK));
}

static int name_ok(const char *s, size_t max)
{
    return s && s[0] && strlen(s) <= max;
}

/* ---- open / schema ------------------------------------------------------------------------ */

static int exec_sql(sqlite3 *db, const char *sql)
{
    return map_rc(sqlite3_exec(db, sql, NULL, NULL, NULL));
}

/* PRAGMA journal_mode answers with the mode in effect: check it really is WAL. */
static int set_wal(sqlite3 *db)
{
    sqlite3_stmt *s = NULL;
    int rc = map_rc(sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &s, NULL));
    if (rc)
        goto out;
    if (sqlite3_step(s) != SQLITE_ROW) {
        rc = map_rc(sqlite3_errcode(db));
        if (!rc)
            rc = VG_EIO;
        goto out;
    }
    const unsigned char *mode = sqlite3_column_text(s, 0);
    if (!mode || strcmp((const char *)mode, "wal") != 0)
        rc = VG_EIO;
out:
    sqlite3_finalize(s);
    return rc;
}

static int schema_version(sqlite3 *db, int *v)
{
    sqlite3_stmt *s = NULL;
    int rc = map_rc(sqlite3_prepare_v2(db, "SELECT val FROM kv WHERE key = 'schema_version'", -1,
                                       &s, NULL));
    if (rc)
        goto out;
    int src = sqlite3_step(s);
    if (src == SQLITE_DONE) {
        *v = 0;
    } else if (src == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(s, 0);
        char *end = NULL;
        long n = t ? strtol((const char *)t, &end, 10) : -1;
        if (!t || *end || n < 0 || n > 1000000)
            rc = VG_ECORRUPT;
        else
            *v = (int)n;
    } else {
        rc = map_rc(src);
    }
out:
    sqlite3_finalize(s);
    return rc;
}

static int migrate(sqlite3 *db)
{
    int v = 0;
    int rc = exec_sql(db, "CREATE TABLE IF NOT EXISTS kv(key TEXT PRIMARY KEY, val TEXT NOT NULL)"
                          " WITHOUT ROWID");
    if (rc)
        return rc;
    rc = schema_version(db, &v);
    if (rc)
        return rc;
    if (v > META_SCHEMA_VERSION)
        return VG_EINVAL; /* written by a newer Vigie */
    while (v < META_SCHEMA_VERSION) {
        char set[128];
        snprintf(set, sizeof(set),
                 "INSERT INTO kv(key, val) VALUES ('schema_version', '%d') "
                 "ON CONFLICT(key) DO UPDATE SET val = excluded.val",
                 v + 1);
        rc = exec_sql(db, "BEGIN IMMEDIATE");
        if (rc)
            return rc;
        rc = exec_sql(db, migrations[v]);
        if (!rc)
            rc = exec_sql(db, set);
        if (!rc)
            rc = exec_sql(db, "COMMIT");
        if (rc) {
            if (!sqlite3_get_autocommit(db))
                sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
        v++;
    }
    return VG_OK;
}

static void meta_destroy(struct meta *m)
{
    for (int i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(m->st[i]);
    sqlite3_close(m->db);
    if (m->cache)
        sodium_memzero(m->cache, sizeof(*m->cache) * APIKEY_CACHE_SLOTS);
    free(m->cache);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

int meta_open(const char *path, struct meta **out)
{
    struct meta *m = NULL;
    int rc;
    if (!path || !out)
        return VG_EINVAL;
    if (sodium_init() < 0) /* idempotent and thread-safe; 1 = already initialised */
        return VG_EIO;
    m = vg_calloc(1, sizeof(*m));
    pthread_mutex_init(&m->mu, NULL);
    m->cache = vg_calloc(APIKEY_CACHE_SLOTS, sizeof(*m->cache));
    /* NOMUTEX: every use of the connection is under m->mu, which also keeps multi-statement
    ** transactions whole. */
    rc = map_rc(sqlite3_open_v2(path, &m->db,
                                SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                NULL));
    if (rc)
        goto out;
    sqlite3_extended_result_codes(m->db, 1);
    rc = map_rc(sqlite3_busy_timeout(m->db, META_BUSY_TIMEOUT_MS));
    if (rc)
        goto out;
    rc = set_wal(m->db);
    if (rc)
        goto out;
    /* 64 MiB of page cache: the entity documents' B-tree stays in memory, so a commit writes
    ** pages without reading them first */
    rc = exec_sql(m->db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
                         "PRAGMA cache_size=-65536;");
    if (rc)
        goto out;
    rc = migrate(m->db);
    if (rc)
        goto out;
    for (int i = 0; i < ST__COUNT; i++) {
        rc = map_rc(sqlite3_prepare_v3(m->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                       &m->st[i], NULL));
        if (rc)
            goto out;
    }
out:
    if (rc) {
        meta_destroy(m);
        return rc;
    }
    *out = m;
    return VG_OK;
}

void meta_close(struct meta *m)
{
    if (!m)
        return;
    meta_destroy(m);
}

/* ---- tags as a JSON object ---------------------------------------------------------------- */

/* Encode tags as a JSON object with sorted keys. The caller frees *out with free(3). */
static int tags_encode(const struct meta_tag *tags, uint32_t n, char **out)
{
    int rc = VG_OK;
    json_t *o = json_object();
    if (!o)
        return VG_ENOMEM;
    if (n > META_TAGS_MAX) {
        rc = VG_EINVAL;
        goto out;
    }
    for (uint32_t i = 0; i < n; i++) {
        json_t *v;
        if (!tags[i].key || !tags[i].val) {
            rc = VG_EINVAL;
            goto out;
        }
        v = json_string(tags[i].val);
        if (!v || json_object_set_new(o, tags[i].key, v) != 0) {
            rc = VG_EINVAL; /* not UTF-8 */
            goto out;
        }
    }
    *out = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    if (!*out)
        rc = VG_ENOMEM;
out:
    json_decref(o);
    return rc;
}

/* Decode a tags column. *obj owns the strings that tags[] points to. */
static int tags_decode(const char *text, json_t **obj, struct meta_tag *tags, uint32_t *n)
{
    json_error_t err;
    const char *k;
    json_t *v;
    uint32_t i = 0;
    json_t *o = json_loads(text ? text : "{}", 0, &err);
    if (!o || !json_is_object(o) || json_object_size(o) > META_TAGS_MAX) {
        json_decref(o);
        return VG_ECORRUPT;
    }
    json_object_foreach(o, k, v) {
        if (!json_is_string(v)) {
            json_decref(o);
            return VG_ECORRUPT;
        }
        tags[i].key = k;
        tags[i].val = json_string_value(v);
        i++;
    }
    *obj = o;
    *n = i;
    return VG_OK;
}

/* ---- catalogue persistence ---------------------------------------------------------------- */

int meta_groups_load(struct meta *m, meta_group_fn *fn, void *arg)
{
    int rc = VG_OK, src;
    pthread_mutex_lock(&m->mu);
    sqlite3_stmt *s = stmt(m, ST_GROUP_LOAD);
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        struct meta_group_row r;
        int64_t id = sqlite3_column_int64(s, 0);
        r.tenant = (const char *)sqlite3_column_text(s, 1);
        r.type = (const char *)sqlite3_column_text(s, 2);
        if (id <= 0 || id > UINT32_MAX || !r.tenant || !r.type) {
            rc = VG_ECORRUPT;
            goto out;
        }
        r.group = (uint32_t)id;
        rc = fn(arg, &r);
        if (rc)
            goto out;
    }
    rc = map_rc(src);
out:
    sqlite3_reset(s);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int meta_series_load(struct meta *m, meta_series_fn *fn, void *arg)
{
    int rc = VG_OK, src;
    json_t *obj = NULL;
    struct meta_tag tags[META_TAGS_MAX];
    pthread_mutex_lock(&m->mu);
    sqlite3_stmt *s = stmt(m, ST_SERIES_LOAD);
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        struct meta_series_row r;
        int64_t sid = sqlite3_column_int64(s, 0);
        int64_t grp = sqlite3_column_int64(s, 1);
        int64_t vt = sqlite3_column_int64(s, 2);
        r.tenant = (const char *)sqlite3_column_text(s, 3);
        r.entity = (const char *)sqlite3_column_text(s, 4);
        r.type = (const char *)sqlite3_column_text(s, 5);
        r.attr = (const char *)sqlite3_column_text(s, 6);
        if (sid <= 0 || sid > UINT32_MAX || grp <= 0 || grp > UINT32_MAX || vt <= VT_NONE ||
            vt > VT_GEO || !r.tenant || !r.entity || !r.type || !r.attr) {
            rc = VG_ECORRUPT;
            goto out;
        }
        r.sid = (uint32_t)sid;
        r.group = (uint32_t)grp;
        r.vt = (enum vg_vtype)vt;
        json_decref(obj);
        obj = NULL;
        rc = tags_decode((const char *)sqlite3_column_text(s, 7), &obj, tags, &r.ntags);
        if (rc)
            goto out;
        r.tags = tags;
        rc = fn(arg, &r);
        if (rc)
            goto out;
    }
    rc = map_rc(src);
out:
    json_decref(obj);
    sqlite3_reset(s);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static int commit_rows(struct meta *m, const struct meta_batch *b)
{
    int rc = VG_OK;
    for (uint32_t i = 0; i < b->ngroups; i++) {
        const struct meta_group_row *g = &b->groups[i];
        if (!g->group || !name_ok(g->tenant, META_NAME_MAX) || !g->type)
            return VG_EINVAL;
        sqlite3_stmt *s = stmt(m, ST_GROUP_INS);
        sqlite3_bind_int64(s, 1, g->group);
        bind_text(s, 2, g->tenant);
        bind_text(s, 3, g->type);
        rc = step_done(s);
        if (rc)
            return rc;
    }
    for (uint32_t i = 0; i < b->nentities; i++) {
        const struct meta_entity_row *e = &b->entities[i];
        char *tags = NULL;
        if (!e->tenant || !e->entity || !e->type)
            return VG_EINVAL;
        rc = tags_encode(e->tags, e->ntags, &tags);
        if (rc)
            return rc;
        sqlite3_stmt *s = stmt(m, ST_ENTITY_UPSERT);
        bind_text(s, 1, e->tenant);
        bind_text(s, 2, e->entity);
        bind_text(s, 3, e->type);
        bind_text(s, 4, tags);
        rc = step_done(s);
        free(tags);
        if (rc)
            return rc;
    }
    for (uint32_t i = 0; i < b->nseries; i++) {
        const struct meta_series_row *r = &b->series[i];
        if (!r->sid || !r->group || !r->tenant || !r->entity || !r->attr)
            return VG_EINVAL;
        sqlite3_stmt *s = stmt(m, ST_SERIES_INS);
        sqlite3_bind_int64(s, 1, r->sid);
        bind_text(s, 2, r->tenant);
        bind_text(s, 3, r->entity);
        bind_text(s, 4, r->attr);
        sqlite3_bind_int(s, 5, (int)r->vt);
        sqlite3_bind_int64(s, 6, r->group);
        rc = step_done(s);
        if (rc)
            return rc;
    }
    return VG_OK;
}

int meta_commit(struct meta *m, const struct meta_batch *b)
{
    int rc;
    if (!b->ngroups && !b->nentities && !b->nseries)
        return VG_OK;
    pthread_mutex_lock(&m->mu);
    rc = tx_begin(m);
    if (rc)
        goto out;
    rc = commit_rows(m, b);
    if (!rc)
        rc = tx_commit(m);
out:
    if (rc)
        tx_rollback(m);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int meta_series_retire(struct meta *m, const uint32_t *sids, uint32_t n)
{
    int rc;
    if (!n)
        return VG_OK;
    pthread_mutex_lock(&m->mu);
    rc = tx_begin(m);
    for (uint32_t i = 0; !rc && i < n; i++) {
        sqlite3_stmt *s = stmt(m, ST_SERIES_RETIRE);
        sqlite3_bind_int64(s, 1, sids[i]);
        rc = step_done(s);
    }
    return tx_finish(m, rc);
}

/* ---- API keys ----------------------------------------------------------------------------- */

static const char *const scope_names[] = {"none", "read", "write", "admin"};

const char *vg_scope_name(enum vg_scope s)
{
    if ((unsigned)s < VG_ARRAY_LEN(scope_names))
        return scope_names[s];
    return "none";
}

int vg_scope_parse(const char *s)
{
    if (!s)
        return -1;
    for (size_t i = 0; i < VG_ARRAY_LEN(scope_names); i++)
        if (strcmp(s, scope_names[i]) == 0)
            return (int)i;
    return -1;
}

static uint32_t cache_pos(const uint8_t *hash)
{
    uint32_t x;
    memcpy(&x, hash, sizeof(x)); /* the hash is uniform already */
    return x & (APIKEY_CACHE_SLOTS - 1);
}

static struct apikey_slot *cache_find(struct meta *m, const uint8_t *hash)
{
    for (uint32_t i = cache_pos(hash);; i = (i + 1) & (APIKEY_CACHE_SLOTS - 1)) {
        struct apikey_slot *sl = &m->cache[i];
        if (!sl->used)
            return NULL;
        if (sodium_memcmp(sl->hash, hash, META_HASH_LEN) == 0)
            return sl;
    }
}

static void cache_clear(struct meta *m)
{
    sodium_memzero(m->cache, sizeof(*m->cache) * APIKEY_CACHE_SLOTS);
    m->ncached = 0;
}

static void cache_put(struct meta *m, const uint8_t *hash, const char *tenant, enum vg_scope sc,
                      const char *label)
{
    if (m->ncached >= APIKEY_CACHE_SLOTS / 2)
        cache_clear(m); /* bounded: more live keys than this just means more SQLite lookups */
    uint32_t i = cache_pos(hash);
    while (m->cache[i].used)
        i = (i + 1) & (APIKEY_CACHE_SLOTS - 1);
    struct apikey_slot *sl = &m->cache[i];
    memcpy(sl->hash, hash, META_HASH_LEN);
    snprintf(sl->tenant, sizeof(sl->tenant), "%s", tenant);
    snprintf(sl->label, sizeof(sl->label), "%s", label);
    sl->scope = sc;
    sl->used = 1;
    m->ncached++;
}

static void key_hash(const char *key, size_t len, uint8_t *out)
{
    crypto_generichash(out, META_HASH_LEN, (const unsigned char *)key, len, NULL, 0);
}

int meta_apikey_create(struct meta *m, const char *tenant, enum vg_scope scope, const char *label,
                       char *key_out, size_t cap, int64_t *id_out)
{
    unsigned char secret[META_KEY_RAW];
    char key[64];
    uint8_t hash[META_HASH_LEN];
    int rc;
    if (!name_ok(tenant, META_NAME_MAX) || scope <= SCOPE_NONE || scope > SCOPE_ADMIN ||
        (label && strlen(label) > META_NAME_MAX) || !key_out)
        return VG_EINVAL;
    memcpy(key, "vg_", 3);
    randombytes_buf(secret, sizeof(secret));
    sodium_bin2base64(key + 3, sizeof(key) - 3, secret, sizeof(secret),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(secret, sizeof(secret));
    size_t klen = strlen(key);
    if (cap <= klen) {
        rc = VG_EINVAL;
        goto out;
    }
    key_hash(key, klen, hash);

    pthread_mutex_lock(&m->mu);
    sqlite3_stmt *s = stmt(m, ST_KEY_INS);
    sqlite3_bind_blob(s, 1, hash, sizeof(hash), SQLITE_STATIC);
    bind_text(s, 2, tenant);
    sqlite3_bind_int(s, 3, (int)scope);
    bind_text(s, 4, label ? label : "");
    sqlite3_bind_int64(s, 5, clock_now_ms());
    rc = step_done(s); /* autocommit: one durable statement */
    int64_t id = sqlite3_last_insert_rowid(m->db);
    pthread_mutex_unlock(&m->mu);
    if (rc)
        goto out;
    memcpy(key_out, key, klen + 1);
    if (id_out)
        *id_out = id;
out:
    sodium_memzero(key, sizeof(key));
    return rc;
}

int meta_apikey_verify(struct meta *m, const char *key, char *tenant, size_t cap,
                       enum vg_scope *scope)
{
    return meta_apikey_verify_label(m, key, tenant, cap, scope, NULL, 0);
}

int meta_apikey_verify_label(struct meta *m, const char *key, char *tenant, size_t cap,
                             enum vg_scope *scope, char *label, size_t lcap)
{
    uint8_t hash[META_HASH_LEN];
    char t[META_NAME_MAX + 1], l[META_NAME_MAX + 1] = "";
    enum vg_scope sc = SCOPE_NONE;
    int rc = VG_OK;
    size_t klen = key ? strnlen(key, META_KEY_MAX + 1) : 0;
    if (klen == 0 || klen > META_KEY_MAX)
        return VG_ENOENT;
    key_hash(key, klen, hash);

    pthread_mutex_lock(&m->mu);
    /* Another process (vigie apikey revoke) may have changed the keys: PRAGMA data_version
    ** moves whenever another connection commits, so the cache is emptied then. */
    sqlite3_stmt *dv = stmt(m, ST_DATA_VERSION);
    if (sqlite3_step(dv) == SQLITE_ROW) {
        int64_t v = sqlite3_column_int64(dv, 0);
        if (v != m->data_version) {
            cache_clear(m);
            m->data_version = v;
        }
    }
    sqlite3_reset(dv);
    struct apikey_slot *sl = cache_find(m, hash);
    if (sl) {
        sc = sl->scope;
        memcpy(t, sl->tenant, sizeof(t));
        memcpy(l, sl->label, sizeof(l));
    } else {
        sqlite3_stmt *s = stmt(m, ST_KEY_FIND);
        sqlite3_bind_blob(s, 1, hash, sizeof(hash), SQLITE_STATIC);
        int src = sqlite3_step(s);
        if (src == SQLITE_ROW) {
            const char *tt = (const char *)sqlite3_column_text(s, 1);
            int scv = sqlite3_column_int(s, 2);
            const char *ll = (const char *)sqlite3_column_text(s, 3);
            if (!tt || strlen(tt) > META_NAME_MAX || scv <= SCOPE_NONE || scv > SCOPE_ADMIN) {
                rc = VG_ECORRUPT;
            } else {
                memcpy(t, tt, strlen(tt) + 1);
                snprintf(l, sizeof(l), "%s", ll ? ll : "");
                sc = (enum vg_scope)scv;
                cache_put(m, hash, t, sc, l);
            }
        } else if (src == SQLITE_DONE) {
            rc = VG_ENOENT;
        } else {
            rc = map_rc(src);
        }
        sqlite3_reset(s);
    }
    pthread_mutex_unlock(&m->mu);
    if (rc)
        return rc;
    size_t tl = strlen(t);
    if (!tenant || cap <= tl)
        return VG_ETOOBIG;
    memcpy(tenant, t, tl + 1);
    if (scope)
        *scope = sc;
    if (label && lcap)
        snprintf(label, lcap, "%s", l);
    return VG_OK;
}

int meta_apikey_revoke(struct meta *m, int64_t id)
{
    int rc;
    pthread_mutex_lock(&m->mu);
    sqlite3_stmt *s = stmt(m, ST_KEY_REVOKE);
    sqlite3_bind_int64(s, 1, id);
    rc = step_done(s);
    if (!rc && sqlite3_changes(m->db) == 0)
        rc = VG_ENOENT;
    /* The cache does not know which entry holds this id: empty it (revocation is rare). */
    cache_clear(m);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int meta_apikey_list(struct meta *m, meta_apikey_fn *fn, void *arg)
{
    int rc = VG_OK, src;
    pthread_mutex_lock(&m->mu);
    sqlite3_stmt *s = stmt(m, ST_KEY_LIST);
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        struct meta_apikey_row r;
        r.id = sqlite3_column_int64(s, 0);
        r.tenant = (const char *)sqlite3_column_text(s, 1);
        r.label = (const char *)sqlite3_column_text(s, 2);
        r.scope = (enum vg_scope)sqlite3_column_int(s, 3);
        r.created_ms = sqlite3_column_int64(s, 4);
        r.revoked = sqlite3_column_int(s, 5) != 0;
        if (!r.tenant || !r.label) {
            rc = VG_ECORRUPT;
            goto out;
        }
        rc = fn(arg, &r);
        if (rc)
            goto out;
    }
    rc = map_rc(src);
out:
    sqlite3_reset(s);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

/* ---- quarantine --------------------------------------------------------------------------- */

int meta_quarantine_add(struct meta *m, const struct meta_quarantine_row *rows, uint32_t n)
{
    int rc = VG_OK;
    if (n == 0)
        return VG_OK;
    for (uint32_t i = 0; i < n; i++) {
        const struct meta_quarantine_row *r = &rows[i];
        if (!name_ok(r->tenant, META_NAME_MAX) || (r->source && strlen(r->source) > META_NAME_MAX)
            || (r->reason && strlen(r->reason) > META_REASON_MAX) || (!r->raw && r->raw_len)
            || (r->format && strlen(r->format) > META_NAME_MAX)
            || (r->context && strlen(r->context) > META_RAW_MAX))
            return VG_EINVAL;
        if (r->raw_len > META_RAW_MAX)
            return VG_ETOOBIG;
    }
    int64_t now = clock_now_ms();
    pthread_mutex_lock(&m->mu);
    rc = tx_begin(m);
    if (rc)
        goto out;
    for (uint32_t i = 0; i < n; i++) {
        const struct meta_quarantine_row *r = &rows[i];
        sqlite3_stmt *s = stmt(m, ST_Q_INS);
        sqlite3_bind_int64(s, 1, now);
        bind_text(s, 2, r->tenant);
        bind_text(s, 3, r->source ? r->source : "");
        bind_text(s, 4, r->reason ? r->reason : "");
        /* a NULL pointer would bind SQL NULL: an empty payload is an empty blob */
        sqlite3_bind_blob64(s, 5, r->raw_len ? r->raw : "", r->raw_len, SQLITE_STATIC);
        bind_text(s, 6, r->format ? r->format : "lp");
        bind_text(s, 7, r->context ? r->context : "");
        rc = step_done(s);
        if (rc)
            goto out;
    }
    rc = tx_commit(m);
out:
    if (rc)
        tx_rollback(m);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

/* Step s (columns id, received_ms, tenant, source, reason, raw, format, context) and give each
** row to fn; fn's non-zero return stops the scan and is returned. Resets s. Caller holds m->mu. */
static int quarantine_rows(sqlite3_stmt *s, meta_quarantine_fn *fn, void *arg)
{
    int rc = VG_OK, src;
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        struct meta_quarantine_row r;
        r.id = sqlite3_column_int64(s, 0);
        r.received_ms = sqlite3_column_int64(s, 1);
        r.tenant = (const char *)sqlite3_column_text(s, 2);
        r.source = (const char *)sqlite3_column_text(s, 3);
        r.reason = (const char *)sqlite3_column_text(s, 4);
        r.raw = sqlite3_column_blob(s, 5);
        r.raw_len = (size_t)sqlite3_column_bytes(s, 5);
        r.format = (const char *)sqlite3_column_text(s, 6);
        r.context = (const char *)sqlite3_column_text(s, 7);
        if (!r.raw)
            r.raw = "";
        if (!r.tenant || !r.source || !r.reason || !r.format || !r.context) {
            rc = VG_ECORRUPT;
            goto out;
        }
        rc = fn(arg, &r);
        if (rc)
            goto out;
    }
    rc = map_rc(src);
out:
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc;
}

int meta_quarantine_list(struct meta *m, const char *tenant, const char *source, int64_t since_ms,
                         uint32_t limit, meta_quarantine_fn *fn, void *arg)
{
    int rc;
    if (!tenant || !fn)
        return VG_EINVAL;
    pthread_mutex_lock(&m->mu);
    sqlite3_stmt *s = stmt(m, ST_Q_LIST);
    bind_text(s, 1, tenant);
    sqlite3_bind_int64(s, 2, since_ms ? since_ms : INT64_MIN);
    if (source)
        bind_text(s, 3, source);
    sqlite3_bind_int64(s, 4, limit ? limit : 1000);
    rc = quarantine_rows(s, fn, arg);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int meta_quarantine_scan(struct meta *m, const struct meta_quarantine_filter *f,
                         meta_quarantine_fn *fn, void *arg)
{
    int rc;
    if (!f || !fn)
        return VG_EINVAL;
    pthread_mutex_lock(&m->mu);
    sqlite3_stmt *s = stmt(m, ST_Q_SCAN);
    sqlite3_bind_int64(s, 1, f->after_id);
    if (f->tenant)
        bind_text(s, 2, f->tenant);
    if (f->source)
        bind_text(s, 3, f->source);
    if (f->format)
        bind_text(s, 4, f->format);
    if (f->id)
        sqlite3_bind_int64(s, 5, f->id);
    sqlite3_bind_int64(s, 6, f->limit ? f->limit : 1000);
    rc = quarantine_rows(s, fn, arg);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int meta_quarantine_delete(struct meta *m, const int64_t *ids, uint32_t n)
{
    int rc;
    if (n == 0)
        return VG_OK;
    pthread_mutex_lock(&m->mu);
    rc = tx_begin(m);
    for (uint32_t i = 0; !rc && i < n; i++) {
        sqlite3_stmt *s = stmt(m, ST_Q_DEL);
        sqlite3_bind_int64(s, 1, ids[i]);
        rc = step_done(s);
    }
    if (!rc)
        rc = tx_commit(m);
    if (rc)
        tx_rollback(m);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int meta_quarantine_count(struct meta *m, const char *tenant, uint64_t *n)
{
    int rc;
    if (!tenant || !n)
        return VG_EINVAL;
    pthread_mutex_lock(&m->mu);
    sqlite3_stmt *s = stmt(m, ST_Q_COUNT);
    bind_text(s, 1, tenant);
    int src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        *n = (uint64_t)sqlite3_column_int64(s, 0);
        rc = VG_OK;
    } else {
        rc = map_rc(src);
        if (!rc)
            rc = VG_EIO;
    }
    sqlite3_reset(s);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int meta_quarantine_purge(struct meta *m, int64_t before_ms, uint64_t *deleted)
{
    int rc;
    pthread_mutex_lock(&m->mu);
    sqlite3_stmt *s = stmt(m, ST_Q_PURGE);
    sqlite3_bind_int64(s, 1, before_ms);
    rc = step_done(s);
    uint64_t d = rc ? 0 : (uint64_t)sqlite3_changes64(m->db);
    pthread_mutex_unlock(&m->mu);
    if (!rc && deleted)
        *deleted = d;
    return rc;
}

/* ---- key/value ---------------------------------------------------------------------------- */

int meta_kv_get(struct meta *m, const char *key, char *val, size_t cap)
{
    int rc = VG_OK;
    if (!key || !val)
        return VG_EINVAL;
    pthread_mutex_lock(&m->mu);
    sqlite3_stmt *s = stmt(m, ST_KV_GET);
    bind_text(s, 1, key);
    int src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(s, 0);
        size_t n = (size_t)sqlite3_column_bytes(s, 0);
        if (!v)
            v = "";
        if (n >= cap) {
            rc = VG_ETOOBIG;
        } else {
            memcpy(val, v, n);
            val[n] = '\0';
        }
    } else if (src == SQLITE_DONE) {
        rc = VG_ENOENT;
    } else {
        rc = map_rc(src);
    }
    sqlite3_reset(s);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int meta_kv_set(struct meta *m, const char *key, const char *val)
{
    int rc;
    if (!key || !key[0] || !val)
        return VG_EINVAL;
    pthread_mutex_lock(&m->mu);
    sqlite3_stmt *s = stmt(m, ST_KV_SET);
    bind_text(s, 1, key);
    bind_text(s, 2, val);
    rc = step_done(s);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

/* ---- documents ---------------------------------------------------------------------------- */

int meta_docs_commit(struct meta *m, const struct meta_doc_op *ops, uint32_t n)
{
    int rc;
    pthread_mutex_lock(&m->mu);
    rc = tx_begin(m);
    for (uint32_t i = 0; !rc && i < n; i++) {
        const struct meta_doc_op *o = &ops[i];
        if (!name_ok(o->kind, META_NAME_MAX) || !name_ok(o->tenant, META_NAME_MAX) || !o->id ||
            !o->id[0] || o->len > META_RAW_MAX) {
            rc = VG_EINVAL;
            break;
        }
        sqlite3_stmt *s = stmt(m, o->doc ? ST_DOC_PUT : ST_DOC_DEL);
        bind_text(s, 1, o->kind);
        bind_text(s, 2, o->tenant);
        bind_text(s, 3, o->id);
        if (o->doc)
            sqlite3_bind_blob64(s, 4, o->doc, o->len, SQLITE_STATIC);
        rc = step_done(s);
    }
    return tx_finish(m, rc);
}

int meta_docs_load(struct meta *m, const char *kind, meta_doc_fn *fn, void *arg)
{
    int rc = VG_OK;
    pthread_mutex_lock(&m->mu);
    sqlite3_stmt *s = stmt(m, ST_DOC_LOAD);
    bind_text(s, 1, kind);
    int src;
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        struct meta_doc_row r = {
            (const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1),
            (const char *)sqlite3_column_blob(s, 2), (size_t)sqlite3_column_bytes(s, 2)};
        if (!r.tenant || !r.id)
            continue;
        if (!r.doc)
            r.doc = "";
        rc = fn(arg, &r);
        if (rc)
            break;
    }
    if (!rc && src != SQLITE_DONE && src != SQLITE_ROW)
        rc = map_rc(src);
    sqlite3_reset(s);
    pthread_mutex_unlock(&m->mu);
    return rc;
}
