/*
** ngsild/entstore_test.c: unit tests of the entity store over a real meta database and a real
** time-series store: changes, reads, scans (type lists, geo index, ids), durability across a
** reopen, history points, line-protocol entities synthesised from the catalogue, concurrency.
*/
#include "core/test.h"
#include "ngsild/entity.h"
#include "ngsild/entstore.h"

#include <pthread.h>

struct env {
    char *dir;
    char mpath[512], sdir[512];
    struct meta *m;
    struct store *st;
    struct catalog *c;
    struct entstore *es;
};

static int env_open(struct env *e)
{
    struct store_opts so;
    memset(&so, 0, sizeof(so));
    if (!e->dir)
        e->dir = test_tmpdir("entstore");
    snprintf(e->mpath, sizeof(e->mpath), "%s/meta.db", e->dir);
    snprintf(e->sdir, sizeof(e->sdir), "%s/store", e->dir);
    if (meta_open(e->mpath, &e->m) || store_open(e->sdir, &so, &e->st) ||
        catalog_open(e->m, e->st, &e->c) || store_recover(e->st, NULL) ||
        entstore_open(e->m, e->st, e->c, &e->es))
        return -1;
    return 0;
}

static void env_close(struct env *e)
{
    entstore_free(e->es);
    store_close(e->st);
    catalog_free(e->c);
    meta_close(e->m);
    e->es = NULL;
    e->st = NULL;
    e->c = NULL;
    e->m = NULL;
}

static void env_done(struct env *e)
{
    env_close(e);
    test_rmrf(e->dir);
    free(e->dir);
    e->dir = NULL;
}

#define VOCAB "https://uri.etsi.org/ngsi-ld/default-context/"

/* A stored-form entity of type T with temperature t at lon/lat. */
static json_t *mk(const char *id, const char *type, double t, double lon, double lat,
                  const char *at)
{
    return json_pack("{s:s, s:[s], s:s, s:s, s:{s:[{s:s, s:f, s:s}], s:[{s:s, s:{s:s, s:[f,f]}}]}}",
                     "id", id, "type", type, "createdAt", at, "modifiedAt", at, "attrs",
                     VOCAB "temperature", "type", "Property", "value", t, "observedAt", at,
                     "https://uri.etsi.org/ngsi-ld/location", "type", "GeoProperty", "value",
                     "type", "Point", "coordinates", lon, lat);
}

struct put_arg {
    json_t *doc;
    int seen_cur;
};

static int put_fn(void *arg, const json_t *cur, int synth, json_t **next)
{
    struct put_arg *p = arg;
    p->seen_cur = cur != NULL;
    *next = p->doc ? json_incref(p->doc) : NULL;
    return 0;
}

static int refuse_fn(void *arg, const json_t *cur, int synth, json_t **next)
{
    return VG_EEXIST;
}

static int put(struct entstore *es, const char *tenant, const char *id, json_t *doc)
{
    struct put_arg p = {doc, 0};
    struct entstore_batch *b = entstore_batch_new(es, tenant);
    int rc = entstore_change(b, id, put_fn, &p);
    int rc2 = entstore_batch_finish(b);
    json_decref(doc);
    return rc ? rc : rc2;
}

static int count_row(void *arg, const json_t *e)
{
    (*(int *)arg)++;
    return 0;
}

static void test_change_get_delete_reopen(void)
{
    struct env e = {0};
    REQUIRE(env_open(&e) == 0);
    CHECK_EQ_INT(put(e.es, "t1", "urn:a", mk("urn:a", VOCAB "T", 21.5, 2.39, 48.84,
                                             "2026-01-01T00:00:00.000Z")), 0);
    CHECK_EQ_INT(put(e.es, "t1", "urn:b", mk("urn:b", VOCAB "U", 10, 2.30, 48.86,
                                             "2026-01-01T00:00:00.000Z")), 0);
    json_t *got = NULL;
    CHECK_EQ_INT(entstore_get(e.es, "t1", "urn:a", &got), 0);
    CHECK(got && !strcmp(json_string_value(json_object_get(got, "id")), "urn:a"));
    json_decref(got);
    got = NULL;
    CHECK_EQ_INT(entstore_get(e.es, "t2", "urn:a", &got), VG_ENOENT); /* tenant isolation */
    CHECK(entstore_has_doc(e.es, "t1", "urn:b"));
    CHECK(!entstore_has_doc(e.es, "t2", "urn:b"));
    CHECK(entstore_tenant_exists(e.es, "t1"));
    CHECK(!entstore_tenant_exists(e.es, "nobody"));
    /* an error from the change function changes nothing */
    struct entstore_batch *b = entstore_batch_new(e.es, "t1");
    CHECK_EQ_INT(entstore_change(b, "urn:a", refuse_fn, NULL), VG_EEXIST);
    CHECK_EQ_INT(entstore_batch_finish(b), 0);
    CHECK(entstore_has_doc(e.es, "t1", "urn:a"));
    /* delete */
    CHECK_EQ_INT(put(e.es, "t1", "urn:b", NULL), 0);
    CHECK(!entstore_has_doc(e.es, "t1", "urn:b"));
    /* durable: reopen */
    env_close(&e);
    REQUIRE(env_open(&e) == 0);
    CHECK(entstore_has_doc(e.es, "t1", "urn:a"));
    CHECK(!entstore_has_doc(e.es, "t1", "urn:b"));
    struct entstore_stats st;
    entstore_get_stats(e.es, &st);
    CHECK_EQ_INT(st.entities, 1);
    /* many documents: each is found (the lock-free filter never says no to a stored one), in
    ** its tenant only, and so is a deleted one stored again */
    enum { MANY = 2000 };
    char id[32];
    for (int i = 0; i < MANY; i++) {
        snprintf(id, sizeof(id), "urn:m%d", i);
        REQUIRE(put(e.es, i % 2 ? "t1" : "t3", id, mk(id, VOCAB "T", i, 2.3, 48.8,
                                                      "2026-01-01T00:00:00.000Z")) == 0);
    }
    CHECK_EQ_INT(put(e.es, "t1", "urn:b", mk("urn:b", VOCAB "U", 1, 2.30, 48.86,
                                             "2026-01-02T00:00:00.000Z")), 0);
    for (int pass = 0; pass < 2; pass++) {
        int found = 0, elsewhere = 0;
        for (int i = 0; i < MANY; i++) {
            snprintf(id, sizeof(id), "urn:m%d", i);
            found += entstore_has_doc(e.es, i % 2 ? "t1" : "t3", id);
            elsewhere += entstore_has_doc(e.es, i % 2 ? "t3" : "t1", id);
        }
        CHECK_EQ_INT(found, MANY);
        CHECK_EQ_INT(elsewhere, 0);
        CHECK(entstore_has_doc(e.es, "t1", "urn:b"));
        env_close(&e);
        REQUIRE(env_open(&e) == 0);
    }
    env_done(&e);
}

static void test_scan_types_ids_geo_paging(void)
{
    struct env e = {0};
    REQUIRE(env_open(&e) == 0);
    char id[64];
    for (int i = 0; i < 300; i++) {
        snprintf(id, sizeof(id), "urn:e:%03d", i);
        /* 200 of type A on a line eastwards, 100 of type B */
        CHECK_EQ_INT(put(e.es, "t", id, mk(id, i < 200 ? VOCAB "A" : VOCAB "B", i, 2.0 + i * 0.001,
                                           48.0, "2026-01-01T00:00:00.000Z")), 0);
    }
    const char *ta[] = {VOCAB "A"};
    struct entstore_scan s = {0};
    s.types = ta;
    s.ntypes = 1;
    s.limit = 50;
    int n = 0;
    uint64_t total = 0;
    CHECK_EQ_INT(entstore_scan(e.es, "t", &s, count_row, &n, &total), 0);
    CHECK_EQ_INT(n, 50);
    CHECK_EQ_INT(total, 200);
    s.offset = 190;
    n = 0;
    CHECK_EQ_INT(entstore_scan(e.es, "t", &s, count_row, &n, &total), 0);
    CHECK_EQ_INT(n, 10);
    /* two candidate types: each entity once */
    const char *tab[] = {VOCAB "A", VOCAB "B", VOCAB "A"};
    s.types = tab;
    s.ntypes = 3;
    s.offset = 0;
    s.limit = 1000;
    n = 0;
    CHECK_EQ_INT(entstore_scan(e.es, "t", &s, count_row, &n, &total), 0);
    CHECK_EQ_INT(n, 300);
    /* ids, with a duplicate and an unknown one */
    const char *ids[] = {"urn:e:005", "urn:e:250", "urn:e:005", "urn:nope"};
    memset(&s, 0, sizeof(s));
    s.ids = ids;
    s.nids = 4;
    s.limit = 100;
    n = 0;
    CHECK_EQ_INT(entstore_scan(e.es, "t", &s, count_row, &n, &total), 0);
    CHECK_EQ_INT(n, 2);
    /* geo box around lon 2.05..2.0595 -> entities 50..59 */
    double box[4] = {2.0495, 47.9, 2.0595, 48.1};
    memset(&s, 0, sizeof(s));
    s.bbox = box;
    s.limit = 1000;
    n = 0;
    CHECK_EQ_INT(entstore_scan(e.es, "t", &s, count_row, &n, &total), 0);
    CHECK_EQ_INT(n, 10);
    /* a moved entity leaves its old cell */
    CHECK_EQ_INT(put(e.es, "t", "urn:e:055", mk("urn:e:055", VOCAB "A", 1, 3.0, 45.0,
                                                "2026-01-01T00:00:00.000Z")), 0);
    n = 0;
    CHECK_EQ_INT(entstore_scan(e.es, "t", &s, count_row, &n, &total), 0);
    CHECK_EQ_INT(n, 9);
    /* type change moves the entity between lists */
    CHECK_EQ_INT(put(e.es, "t", "urn:e:000", mk("urn:e:000", VOCAB "B", 1, 2.0, 48.0,
                                                "2026-01-01T00:00:00.000Z")), 0);
    memset(&s, 0, sizeof(s));
    s.types = ta;
    s.ntypes = 1;
    s.limit = 1000;
    n = 0;
    CHECK_EQ_INT(entstore_scan(e.es, "t", &s, count_row, &n, &total), 0);
    CHECK_EQ_INT(n, 199);
    env_done(&e);
}

static void test_history_and_line_protocol_entities(void)
{
    struct env e = {0};
    REQUIRE(env_open(&e) == 0);
    CHECK_EQ_INT(put(e.es, "t", "urn:h", mk("urn:h", VOCAB "Sensor", 20, 2.3, 48.8,
                                            "2026-01-01T00:00:00.000Z")), 0);
    CHECK_EQ_INT(put(e.es, "t", "urn:h", mk("urn:h", VOCAB "Sensor", 22, 2.3, 48.8,
                                            "2026-01-01T01:00:00.000Z")), 0);
    /* the same state again adds nothing */
    CHECK_EQ_INT(put(e.es, "t", "urn:h", mk("urn:h", VOCAB "Sensor", 22, 2.3, 48.8,
                                            "2026-01-01T01:00:00.000Z")), 0);
    uint32_t sid = 0;
    CHECK_EQ_INT(catalog_resolve(e.c, "t", 1, "Sensor", 6, "urn:h", 5, NULL, 0, "temperature", 11,
                                 VT_F64, &sid), 0);
    struct store_points pts;
    store_points_init(&pts);
    CHECK_EQ_INT(store_read(e.st, sid, 0, INT64_MAX / 2, 0, &pts), 0);
    CHECK_EQ_INT(pts.n, 2);
    if (pts.n == 2) {
        CHECK(pts.v[0].f == 20 && pts.v[1].f == 22);
        CHECK_EQ_INT(pts.ts[1] - pts.ts[0], 3600000);
    }
    store_points_release(&pts);

    /* a line-protocol entity: series in the catalogue, no document */
    uint32_t s2 = 0, s3 = 0;
    CHECK_EQ_INT(catalog_resolve(e.c, "t", 1, "Noise", 5, "urn:lp", 6, NULL, 0, "LAeq", 4, VT_F64,
                                 &s2), 0);
    CHECK_EQ_INT(catalog_resolve(e.c, "t", 1, "Noise", 5, "urn:lp", 6, NULL, 0, "location", 8,
                                 VT_GEO, &s3), 0);
    CHECK_EQ_INT(catalog_sync(e.c), 0);
    struct store_point p[2] = {{s2, 1000, {.f = 55.5}}, {s3, 1000, {.f = 0}}};
    p[1].v.geo.lat = 48.85;
    p[1].v.geo.lon = 2.35;
    CHECK_EQ_INT(store_write(e.st, p, 2), 0);
    json_t *got = NULL;
    CHECK_EQ_INT(entstore_get(e.es, "t", "urn:lp", &got), 0);
    CHECK(entity_has_type(got, VOCAB "Noise"));
    const json_t *la = entity_attr_default(got, VOCAB "LAeq");
    CHECK(la && json_real_value(json_object_get(la, "value")) == 55.5);
    const json_t *loc = entity_attr_default(got, "https://uri.etsi.org/ngsi-ld/location");
    CHECK(loc && !strcmp(json_string_value(json_object_get(loc, "type")), "GeoProperty"));
    json_decref(got);
    CHECK(!entstore_has_doc(e.es, "t", "urn:lp"));
    /* found by a type scan */
    const char *ty[] = {VOCAB "Noise"};
    struct entstore_scan s = {0};
    s.types = ty;
    s.ntypes = 1;
    s.limit = 10;
    int n = 0;
    uint64_t total = 0;
    CHECK_EQ_INT(entstore_scan(e.es, "t", &s, count_row, &n, &total), 0);
    CHECK_EQ_INT(n, 1);
    CHECK(entstore_tenant_exists(e.es, "t"));
    env_done(&e);
}

/* A deleted entity stays deleted although its history remains in the catalogue, across a
** reopen; creating it again works. */
static void test_delete_tombstone(void)
{
    struct env e = {0};
    REQUIRE(env_open(&e) == 0);
    CHECK_EQ_INT(put(e.es, "t", "urn:d", mk("urn:d", VOCAB "Sensor", 20, 2.3, 48.8,
                                            "2026-01-01T00:00:00.000Z")), 0);
    CHECK_EQ_INT(put(e.es, "t", "urn:d", NULL), 0);
    json_t *got = NULL;
    CHECK_EQ_INT(entstore_get(e.es, "t", "urn:d", &got), VG_ENOENT);
    CHECK(!entstore_has_doc(e.es, "t", "urn:d"));
    const char *ty[] = {VOCAB "Sensor"};
    struct entstore_scan s = {0};
    s.types = ty;
    s.ntypes = 1;
    s.limit = 10;
    int n = 0;
    uint64_t total = 0;
    CHECK_EQ_INT(entstore_scan(e.es, "t", &s, count_row, &n, &total), 0);
    CHECK_EQ_INT(n, 0);
    struct entstore_stats st;
    entstore_get_stats(e.es, &st);
    CHECK_EQ_INT(st.entities, 0);
    env_close(&e);
    REQUIRE(env_open(&e) == 0);
    CHECK_EQ_INT(entstore_get(e.es, "t", "urn:d", &got), VG_ENOENT);
    n = 0;
    memset(&s, 0, sizeof(s));
    s.limit = 10;
    CHECK_EQ_INT(entstore_scan(e.es, "t", &s, count_row, &n, &total), 0);
    CHECK_EQ_INT(n, 0);
    struct put_arg p = {NULL, 0};
    p.doc = mk("urn:d", VOCAB "Sensor", 25, 2.3, 48.8, "2026-01-02T00:00:00.000Z");
    struct entstore_batch *b = entstore_batch_new(e.es, "t");
    CHECK_EQ_INT(entstore_change(b, "urn:d", put_fn, &p), 0);
    CHECK_EQ_INT(entstore_batch_finish(b), 0);
    CHECK(!p.seen_cur); /* the tombstone is not an entity */
    json_decref(p.doc);
    CHECK_EQ_INT(entstore_get(e.es, "t", "urn:d", &got), 0);
    json_decref(got);
    env_done(&e);
}

static json_t *mk_unit(const char *id, double v, const char *unit, const char *at)
{
    json_t *e = mk(id, VOCAB "Sensor", v, 2.3, 48.8, at);
    json_t *inst = json_array_get(json_object_get(json_object_get(e, "attrs"),
                                                  VOCAB "temperature"), 0);
    if (unit)
        json_object_set_new(inst, "unitCode", json_string(unit));
    return e;
}

static int unit_points(struct env *e, const char *id, struct store_points *pts)
{
    uint32_t sid;
    int rc = catalog_resolve(e->c, "t", 1, "Sensor", 6, id, strlen(id), NULL, 0,
                             "temperature@unitCode", 20, VT_STR, &sid);
    if (rc)
        return -1;
    store_read(e->st, sid, 0, INT64_MAX / 2, 0, pts);
    return (int)pts->n;
}

/* Unit codes are recorded where they change: none while the unit stays the same, the old unit
** at the old instant and the new one at the new instant when it changes. */
static void test_unit_changes(void)
{
    struct env e = {0};
    REQUIRE(env_open(&e) == 0);
    CHECK_EQ_INT(put(e.es, "t", "urn:u", mk_unit("urn:u", 20, "CEL", "2026-01-01T00:00:00.000Z")), 0);
    CHECK_EQ_INT(put(e.es, "t", "urn:u", mk_unit("urn:u", 21, "CEL", "2026-01-01T01:00:00.000Z")), 0);
    struct store_points pts;
    store_points_init(&pts);
    CHECK_EQ_INT(unit_points(&e, "urn:u", &pts), 0); /* created empty by the lookup: no change */
    CHECK_EQ_INT(put(e.es, "t", "urn:u", mk_unit("urn:u", 70, "FAH", "2026-01-01T02:00:00.000Z")), 0);
    CHECK_EQ_INT(put(e.es, "t", "urn:u", mk_unit("urn:u", 71, NULL, "2026-01-01T03:00:00.000Z")), 0);
    CHECK_EQ_INT(unit_points(&e, "urn:u", &pts), 3);
    if (pts.n == 3) {
        CHECK(pts.v[0].s.len == 3 && !memcmp(pts.v[0].s.p, "CEL", 3));
        CHECK(pts.v[1].s.len == 3 && !memcmp(pts.v[1].s.p, "FAH", 3));
        CHECK(pts.v[2].s.len == 0); /* the unit was dropped */
        CHECK_EQ_INT(pts.ts[1] - pts.ts[0], 3600000);
    }
    store_points_release(&pts);
    env_done(&e);
}

struct race {
    struct entstore *es;
    int thread;
};

static int incr_fn(void *arg, const json_t *cur, int synth, json_t **next)
{
    json_t *n = cur ? json_deep_copy(cur) : json_pack("{s:s, s:[s], s:i}", "id", "urn:ctr",
                                                       "type", VOCAB "C", "n", 0);
    json_object_set_new(n, "n", json_integer(json_integer_value(json_object_get(n, "n")) + 1));
    *next = n;
    return 0;
}

static void *race_main(void *arg)
{
    struct race *r = arg;
    for (int i = 0; i < 200; i++) {
        struct entstore_batch *b = entstore_batch_new(r->es, "t");
        entstore_change(b, "urn:ctr", incr_fn, NULL);
        entstore_batch_finish(b);
    }
    return NULL;
}

/* Concurrent read-modify-write of one entity: no update is lost (the stripe lock). */
static void test_concurrent_changes(void)
{
    struct env e = {0};
    REQUIRE(env_open(&e) == 0);
    pthread_t th[4];
    struct race r[4];
    for (int i = 0; i < 4; i++) {
        r[i] = (struct race){e.es, i};
        pthread_create(&th[i], NULL, race_main, &r[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    json_t *got = NULL;
    CHECK_EQ_INT(entstore_get(e.es, "t", "urn:ctr", &got), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(got, "n")), 800);
    json_decref(got);
    struct entstore_stats st;
    entstore_get_stats(e.es, &st);
    CHECK(st.commits < st.changes); /* group commit shared transactions */
    env_done(&e);
}

int main(void)
{
    TEST_BEGIN("entstore");
    TEST_RUN(test_change_get_delete_reopen);
    TEST_RUN(test_scan_types_ids_geo_paging);
    TEST_RUN(test_history_and_line_protocol_entities);
    TEST_RUN(test_concurrent_changes);
    TEST_RUN(test_delete_tombstone);
    TEST_RUN(test_unit_changes);
    return TEST_END();
}
