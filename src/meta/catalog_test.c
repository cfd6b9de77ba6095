/*
** meta/catalog_test.c: unit tests of meta/catalog.c over a real meta (SQLite) database.
** Relies only on the documented behaviour of store_series_add (idempotent for the same vt,
** VG_ETYPE for another vt), so it runs against the real store or tests/stubs/store_stub.c.
*/
#include "core/clock.h"
#include "core/test.h"
#include "meta/catalog.h"

#include <pthread.h>

struct env {
    char *mdir, *sdir;
    char path[512];
    struct meta *m;
    struct store *st;
    struct catalog *c;
};

/* Open meta (in e->mdir, created if NULL), a fresh store and the catalogue. */
static int env_open(struct env *e)
{
    struct store_opts so;
    memset(&so, 0, sizeof(so));
    so.background = 0;
    if (!e->mdir)
        e->mdir = test_tmpdir("catm");
    e->sdir = test_tmpdir("cats");
    snprintf(e->path, sizeof(e->path), "%s/meta.db", e->mdir);
    if (meta_open(e->path, &e->m) != 0)
        return -1;
    if (store_open(e->sdir, &so, &e->st) != 0)
        return -2;
    if (catalog_open(e->m, e->st, &e->c) != 0)
        return -3;
    if (store_recover(e->st, NULL) != 0)
        return -4;
    return 0;
}

/* Close everything but keep the meta directory (for a reopen). */
static void env_close(struct env *e)
{
    catalog_free(e->c);
    store_close(e->st);
    meta_close(e->m);
    e->c = NULL;
    e->st = NULL;
    e->m = NULL;
    test_rmrf(e->sdir);
    free(e->sdir);
    e->sdir = NULL;
}

static void env_done(struct env *e)
{
    env_close(e);
    test_rmrf(e->mdir);
    free(e->mdir);
    e->mdir = NULL;
}

static struct vg_tag tag(const char *k, const char *v)
{
    struct vg_tag t = {k, (uint32_t)strlen(k), v, (uint32_t)strlen(v)};
    return t;
}

static int resolve(struct catalog *c, const char *tenant, const char *type, const char *ent,
                   const struct vg_tag *tags, uint32_t ntags, const char *attr, enum vg_vtype vt,
                   uint32_t *sid)
{
    return catalog_resolve(c, tenant, strlen(tenant), type, strlen(type), ent, strlen(ent), tags,
                           ntags, attr, strlen(attr), vt, sid);
}

/* Selection results, flattened to "entity.attr[sid]{k=v,...}" lines. */
struct sel_out {
    int n;
    char text[4096];
    uint32_t sid[64];
    int stop_at;
};

static int on_sel(void *arg, const struct catalog_series *cs)
{
    struct sel_out *o = arg;
    size_t l = strlen(o->text);
    snprintf(o->text + l, sizeof(o->text) - l, "%s.%s{", cs->entity, cs->attr);
    for (uint32_t i = 0; i < cs->ntags; i++) {
        l = strlen(o->text);
        snprintf(o->text + l, sizeof(o->text) - l, "%s%s=%s", i ? "," : "", cs->tags[i].key,
                 cs->tags[i].val);
    }
    l = strlen(o->text);
    snprintf(o->text + l, sizeof(o->text) - l, "} ");
    if (o->n < 64)
        o->sid[o->n] = cs->sid;
    o->n++;
    if (o->stop_at && o->n == o->stop_at)
        return 5;
    return 0;
}

static int select_text(struct catalog *c, const char *tenant, const char *type, const char *ent,
                       const char *attr, const struct vg_tag *where, uint32_t nwhere,
                       struct sel_out *o)
{
    struct catalog_sel sel = {tenant, type, ent, attr, where, nwhere};
    memset(o, 0, sizeof(*o));
    return catalog_select(c, &sel, on_sel, o);
}

static void test_resolve_creates(void)
{
    struct env e = {0};
    uint32_t sid = 0, g = 0;
    struct vg_tag t[] = {tag("district", "Nord")};
    REQUIRE(env_open(&e) == 0);
    CHECK_EQ_INT(catalog_tenant_exists(e.c, "lyon"), 0);
    CHECK_EQ_INT(resolve(e.c, "lyon", "Sensor", "s1", t, 1, "temp", VT_F64, &sid), 0);
    CHECK_EQ_INT(sid, 1);
    sid = 0;
    CHECK_EQ_INT(resolve(e.c, "lyon", "Sensor", "s1", t, 1, "temp", VT_F64, &sid), 0);
    CHECK_EQ_INT(sid, 1);
    CHECK_EQ_INT(resolve(e.c, "lyon", "Sensor", "s1", t, 1, "hum", VT_I64, &sid), 0);
    CHECK_EQ_INT(sid, 2);
    CHECK_EQ_INT(resolve(e.c, "lyon", "Sensor", "s2", NULL, 0, "temp", VT_F64, &sid), 0);
    CHECK_EQ_INT(sid, 3);
    CHECK_EQ_INT(resolve(e.c, "lyon", "Meter", "m1", NULL, 0, "kwh", VT_F64, &sid), 0);
    CHECK_EQ_INT(sid, 4);
    CHECK_EQ_INT(catalog_group(e.c, "lyon", "Sensor", &g), 0);
    CHECK_EQ_INT(g, 1);
    CHECK_EQ_INT(catalog_group(e.c, "lyon", "Meter", &g), 0);
    CHECK_EQ_INT(g, 2);
    CHECK_EQ_INT(catalog_group(e.c, "lyon", "Nothing", &g), VG_ENOENT);
    CHECK_EQ_INT(catalog_tenant_exists(e.c, "lyon"), 1);
    CHECK_EQ_INT(catalog_tenant_exists(e.c, "paris"), 0);
    struct catalog_stats cs;
    catalog_get_stats(e.c, &cs);
    CHECK_EQ_INT(cs.series, 4);
    CHECK_EQ_INT(cs.entities, 3);
    CHECK_EQ_INT(cs.groups, 2);
    CHECK_EQ_INT(cs.tenants, 1);
    /* declared in the store with its type */
    CHECK_EQ_INT(store_series_add(e.st, 1, 1, VT_I64), VG_ETYPE);
    CHECK_EQ_INT(store_series_add(e.st, 2, 1, VT_I64), 0);
    CHECK_EQ_INT(store_series_add(e.st, 4, 2, VT_BOOL), VG_ETYPE);
    CHECK_EQ_INT(catalog_sync(e.c), 0);
    CHECK_EQ_INT(catalog_sync(e.c), 0); /* nothing pending */
    env_done(&e);
}

static void test_persistence(void)
{
    struct env e = {0};
    uint32_t sid = 0, g = 0;
    struct vg_tag t1[] = {tag("district", "Nord"), tag("zone", "A")};
    struct vg_tag t2[] = {tag("district", "Sud")};
    struct sel_out *o = calloc(1, sizeof(*o));
    REQUIRE(env_open(&e) == 0);
    CHECK_EQ_INT(resolve(e.c, "lyon", "Sensor", "s1", t1, 2, "temp", VT_F64, &sid), 0);
    CHECK_EQ_INT(resolve(e.c, "lyon", "Sensor", "s2", t2, 1, "temp", VT_F64, &sid), 0);
    CHECK_EQ_INT(resolve(e.c, "lyon", "Meter", "m1", NULL, 0, "state", VT_STR, &sid), 0);
    CHECK_EQ_INT(resolve(e.c, "paris", "Sensor", "s1", NULL, 0, "temp", VT_GEO, &sid), 0);
    CHECK_EQ_INT(sid, 4);
    CHECK_EQ_INT(catalog_sync(e.c), 0);
    CHECK_EQ_INT(resolve(e.c, "lyon", "Sensor", "s1", t1, 2, "hum", VT_BOOL, &sid), 0);
    CHECK_EQ_INT(sid, 5);
    CHECK_EQ_INT(catalog_sync(e.c), 0);
    env_close(&e);

    REQUIRE(env_open(&e) == 0);
    struct catalog_stats cs;
    catalog_get_stats(e.c, &cs);
    CHECK_EQ_INT(cs.series, 5);
    CHECK_EQ_INT(cs.entities, 4);
    CHECK_EQ_INT(cs.groups, 3);
    CHECK_EQ_INT(cs.tenants, 2);
    CHECK_EQ_INT(catalog_group(e.c, "lyon", "Sensor", &g), 0);
    CHECK_EQ_INT(g, 1);
    CHECK_EQ_INT(catalog_group(e.c, "lyon", "Meter", &g), 0);
    CHECK_EQ_INT(g, 2);
    CHECK_EQ_INT(catalog_group(e.c, "paris", "Sensor", &g), 0);
    CHECK_EQ_INT(g, 3);
    /* the fresh store got every series with its type and group */
    CHECK_EQ_INT(store_series_add(e.st, 1, 1, VT_I64), VG_ETYPE);
    CHECK_EQ_INT(store_series_add(e.st, 3, 2, VT_F64), VG_ETYPE);
    CHECK_EQ_INT(store_series_add(e.st, 4, 3, VT_GEO), 0);
    CHECK_EQ_INT(store_series_add(e.st, 5, 1, VT_F64), VG_ETYPE);
    /* same sids again (tags given in another order are the same set) */
    struct vg_tag t1r[] = {tag("zone", "A"), tag("district", "Nord")};
    CHECK_EQ_INT(resolve(e.c, "lyon", "Sensor", "s1", t1r, 2, "temp", VT_F64, &sid), 0);
    CHECK_EQ_INT(sid, 1);
    CHECK_EQ_INT(resolve(e.c, "lyon", "Sensor", "s1", t1, 2, "hum", VT_BOOL, &sid), 0);
    CHECK_EQ_INT(sid, 5);
    CHECK_EQ_INT(resolve(e.c, "paris", "Sensor", "s1", NULL, 0, "temp", VT_GEO, &sid), 0);
    CHECK_EQ_INT(sid, 4);
    CHECK_EQ_INT(select_text(e.c, "lyon", NULL, NULL, NULL, NULL, 0, o), 0);
    CHECK(strcmp(o->text, "m1.state{} s1.hum{district=Nord,zone=A} s1.temp{district=Nord,zone=A} "
                          "s2.temp{district=Sud} ") == 0);
    /* next sid continues after the max */
    CHECK_EQ_INT(resolve(e.c, "lyon", "Meter", "m2", NULL, 0, "state", VT_STR, &sid), 0);
    CHECK_EQ_INT(sid, 6);
    CHECK_EQ_INT(resolve(e.c, "lyon", "Light", "l1", NULL, 0, "on", VT_BOOL, &sid), 0);
    CHECK_EQ_INT(catalog_group(e.c, "lyon", "Light", &g), 0);
    CHECK_EQ_INT(g, 4);
    free(o);
    env_done(&e);
}

static void test_tenant_isolation(void)
{
    struct env e = {0};
    uint32_t a = 0, b = 0, ga = 0, gb = 0;
    struct sel_out *o = calloc(1, sizeof(*o));
    REQUIRE(env_open(&e) == 0);
    struct vg_tag ta[] = {tag("owner", "A")};
    struct vg_tag tb[] = {tag("owner", "B")};
    CHECK_EQ_INT(resolve(e.c, "A", "Sensor", "s1", ta, 1, "temp", VT_F64, &a), 0);
    CHECK_EQ_INT(resolve(e.c, "B", "Sensor", "s1", tb, 1, "temp", VT_F64, &b), 0);
    CHECK(a != b);
    /* a prefix-shifted key must not alias: ("AB","c") vs ("A","Bc") */
    uint32_t x = 0, y = 0;
    CHECK_EQ_INT(resolve(e.c, "AB", "T", "c", NULL, 0, "v", VT_F64, &x), 0);
    CHECK_EQ_INT(resolve(e.c, "A", "T", "Bc", NULL, 0, "v", VT_F64, &y), 0);
    CHECK(x != y);
    CHECK_EQ_INT(catalog_group(e.c, "A", "Sensor", &ga), 0);
    CHECK_EQ_INT(catalog_group(e.c, "B", "Sensor", &gb), 0);
    CHECK(ga != gb);
    /* the same entity id has its own type and tags in each tenant */
    uint32_t z = 0;
    CHECK_EQ_INT(resolve(e.c, "B", "Other", "s2", NULL, 0, "temp", VT_I64, &z), 0);
    CHECK_EQ_INT(resolve(e.c, "A", "Sensor", "s2", NULL, 0, "temp", VT_F64, &z), 0);

    CHECK_EQ_INT(select_text(e.c, "A", NULL, NULL, NULL, NULL, 0, o), 0);
    CHECK_EQ_INT(o->n, 3);
    CHECK(strcmp(o->text, "Bc.v{} s1.temp{owner=A} s2.temp{} ") == 0);
    CHECK_EQ_INT(select_text(e.c, "A", NULL, "s1", NULL, NULL, 0, o), 0);
    CHECK_EQ_INT(o->n, 1);
    CHECK_EQ_INT(o->sid[0], a);
    CHECK_EQ_INT(select_text(e.c, "B", "Sensor", NULL, NULL, NULL, 0, o), 0);
    CHECK_EQ_INT(o->n, 1);
    CHECK_EQ_INT(o->sid[0], b);
    CHECK_EQ_INT(select_text(e.c, "A", NULL, NULL, NULL, tb, 1, o), 0);
    CHECK_EQ_INT(o->n, 0);
    CHECK_EQ_INT(select_text(e.c, "C", NULL, NULL, NULL, NULL, 0, o), 0);
    CHECK_EQ_INT(o->n, 0);
    CHECK_EQ_INT(catalog_sync(e.c), 0);
    env_close(&e);

    REQUIRE(env_open(&e) == 0);
    CHECK_EQ_INT(select_text(e.c, "B", NULL, NULL, NULL, NULL, 0, o), 0);
    CHECK(strcmp(o->text, "s1.temp{owner=B} s2.temp{} ") == 0);
    CHECK_EQ_INT(resolve(e.c, "B", "Sensor", "s1", tb, 1, "temp", VT_F64, &x), 0);
    CHECK_EQ_INT(x, b);
    free(o);
    env_done(&e);
}

static void test_type_conflict(void)
{
    struct env e = {0};
    uint32_t sid = 0, s2 = 0;
    struct sel_out *o = calloc(1, sizeof(*o));
    struct vg_tag t1[] = {tag("k", "1")};
    struct vg_tag t2[] = {tag("k", "2")};
    REQUIRE(env_open(&e) == 0);
    CHECK_EQ_INT(resolve(e.c, "lyon", "Sensor", "s1", t1, 1, "temp", VT_F64, &sid), 0);
    s2 = 777;
    CHECK_EQ_INT(resolve(e.c, "lyon", "Sensor", "s1", t2, 1, "temp", VT_I64, &s2), VG_ETYPE);
    CHECK_EQ_INT(s2, 777);
    /* no change made: tags kept */
    CHECK_EQ_INT(select_text(e.c, "lyon", NULL, NULL, NULL, NULL, 0, o), 0);
    CHECK(strcmp(o->text, "s1.temp{k=1} ") == 0);
    /* the entity exists with another type: for an existing and for a new attribute */
    CHECK_EQ_INT(resolve(e.c, "lyon", "Meter", "s1", t1, 1, "temp", VT_F64, &s2), VG_ETYPE);
    CHECK_EQ_INT(resolve(e.c, "lyon", "Meter", "s1", t1, 1, "other", VT_F64, &s2), VG_ETYPE);
    struct catalog_stats cs;
    catalog_get_stats(e.c, &cs);
    CHECK_EQ_INT(cs.series, 1);
    CHECK_EQ_INT(cs.groups, 1);
    CHECK_EQ_INT(resolve(e.c, "lyon", "Sensor", "s1", t1, 1, "temp", VT_F64, &s2), 0);
    CHECK_EQ_INT(s2, sid);
    free(o);
    env_done(&e);
}

static void test_tag_update(void)
{
    struct env e = {0};
    uint32_t sid = 0, s = 0;
    struct sel_out *o = calloc(1, sizeof(*o));
    struct vg_tag ta[] = {tag("district", "Nord"), tag("zone", "A")};
    struct vg_tag tb[] = {tag("district", "Sud")};
    struct vg_tag dup_same[] = {tag("district", "Sud"), tag("district", "Sud")};
    struct vg_tag dup_diff[] = {tag("district", "Sud"), tag("district", "Est")};
    struct vg_tag half[] = {tag("district", "Nord"), tag("district", "Nord")};
    REQUIRE(env_open(&e) == 0);
    CHECK_EQ_INT(resolve(e.c, "lyon", "Sensor", "s1", ta, 2, "temp", VT_F64, &sid), 0);
    CHECK_EQ_INT(resolve(e.c, "lyon", "Sensor", "s1", ta, 2, "hum", VT_F64, &s), 0);
    CHECK_EQ_INT(catalog_sync(e.c), 0);
    CHECK_EQ_INT(resolve(e.c, "lyon", "Sensor", "s1", tb, 1, "temp", VT_F64, &s), 0);
    CHECK_EQ_INT(s, sid);
    CHECK_EQ_INT(select_text(e.c, "lyon", NULL, NULL, NULL, NULL, 0, o), 0);
    CHECK(strcmp(o->text, "s1.hum{district=Sud} s1.temp{district=Sud} ") == 0);
    /* a repeated identical pair is the same set; two values for one key are invalid */
    CHECK_EQ_INT(resolve(e.c, "lyon", "Sensor", "s1", dup_same, 2, "temp", VT_F64, &s), 0);
    CHECK_EQ_INT(resolve(e.c, "lyon", "Sensor", "s1", dup_diff, 2, "temp", VT_F64, &s), VG_EINVAL);
    /* same count, every pair found, but not the same set: {district=Nord} != ta */
    CHECK_EQ_INT(resolve(e.c, "lyon", "Sensor", "s1", ta, 2, "temp", VT_F64, &s), 0);
    CHECK_EQ_INT(resolve(e.c, "lyon", "Sensor", "s1", half, 2, "temp", VT_F64, &s), 0);
    CHECK_EQ_INT(select_text(e.c, "lyon", NULL, "s1", "temp", NULL, 0, o), 0);
    CHECK(strcmp(o->text, "s1.temp{district=Nord} ") == 0);
    CHECK_EQ_INT(resolve(e.c, "lyon", "Sensor", "s1", tb, 1, "temp", VT_F64, &s), 0);
    /* all tags removed, then set again: persisted as the last state */
    CHECK_EQ_INT(resolve(e.c, "lyon", "Sensor", "s1", NULL, 0, "temp", VT_F64, &s), 0);
    CHECK_EQ_INT(select_text(e.c, "lyon", NULL, NULL, NULL, NULL, 0, o), 0);
    CHECK(strcmp(o->text, "s1.hum{} s1.temp{} ") == 0);
    CHECK_EQ_INT(resolve(e.c, "lyon", "Sensor", "s1", tb, 1, "temp", VT_F64, &s), 0);
    CHECK_EQ_INT(catalog_sync(e.c), 0);
    env_close(&e);
    REQUIRE(env_open(&e) == 0);
    CHECK_EQ_INT(select_text(e.c, "lyon", NULL, NULL, NULL, NULL, 0, o), 0);
    CHECK(strcmp(o->text, "s1.hum{district=Sud} s1.temp{district=Sud} ") == 0);
    free(o);
    env_done(&e);
}

static void test_select(void)
{
    struct env e = {0};
    uint32_t sid = 0;
    struct sel_out *o = calloc(1, sizeof(*o));
    struct vg_tag n1[] = {tag("district", "Nord"), tag("kind", "air")};
    struct vg_tag n2[] = {tag("district", "Nord"), tag("kind", "noise")};
    struct vg_tag s1[] = {tag("district", "Sud"), tag("kind", "air")};
    REQUIRE(env_open(&e) == 0);
    /* created out of order */
    CHECK_EQ_INT(resolve(e.c, "t", "Sensor", "e3", s1, 2, "z", VT_F64, &sid), 0);
    CHECK_EQ_INT(resolve(e.c, "t", "Sensor", "e1", n1, 2, "z", VT_F64, &sid), 0);
    CHECK_EQ_INT(resolve(e.c, "t", "Meter", "e2", n2, 2, "b", VT_F64, &sid), 0);
    CHECK_EQ_INT(resolve(e.c, "t", "Sensor", "e1", n1, 2, "a", VT_F64, &sid), 0);
    CHECK_EQ_INT(resolve(e.c, "t", "Sensor", "e3", s1, 2, "a", VT_F64, &sid), 0);
    CHECK_EQ_INT(resolve(e.c, "t", "Meter", "e2", n2, 2, "a", VT_F64, &sid), 0);
    CHECK_EQ_INT(resolve(e.c, "t", "Sensor", "e10", n1, 2, "a", VT_F64, &sid), 0);

    CHECK_EQ_INT(select_text(e.c, "t", NULL, NULL, NULL, NULL, 0, o), 0);
    CHECK_EQ_INT(o->n, 7);
    CHECK(strcmp(o->text, "e1.a{district=Nord,kind=air} e1.z{district=Nord,kind=air} "
                          "e10.a{district=Nord,kind=air} e2.a{district=Nord,kind=noise} "
                          "e2.b{district=Nord,kind=noise} e3.a{district=Sud,kind=air} "
                          "e3.z{district=Sud,kind=air} ") == 0);
    CHECK_EQ_INT(select_text(e.c, "t", "Meter", NULL, NULL, NULL, 0, o), 0);
    CHECK(strcmp(o->text, "e2.a{district=Nord,kind=noise} e2.b{district=Nord,kind=noise} ") == 0);
    CHECK_EQ_INT(select_text(e.c, "t", NULL, NULL, "a", NULL, 0, o), 0);
    CHECK_EQ_INT(o->n, 4);
    CHECK_EQ_INT(select_text(e.c, "t", NULL, "e1", NULL, NULL, 0, o), 0);
    CHECK(strcmp(o->text, "e1.a{district=Nord,kind=air} e1.z{district=Nord,kind=air} ") == 0);
    CHECK_EQ_INT(select_text(e.c, "t", "Meter", "e1", NULL, NULL, 0, o), 0);
    CHECK_EQ_INT(o->n, 0);
    CHECK_EQ_INT(select_text(e.c, "t", NULL, "e", NULL, NULL, 0, o), 0);
    CHECK_EQ_INT(o->n, 0);
    CHECK_EQ_INT(select_text(e.c, "t", "Sensor", "e3", "z", NULL, 0, o), 0);
    CHECK(strcmp(o->text, "e3.z{district=Sud,kind=air} ") == 0);

    struct vg_tag w1[] = {tag("district", "Nord")};
    struct vg_tag w2[] = {tag("kind", "air"), tag("district", "Nord")};
    struct vg_tag w3[] = {tag("district", "Nord"), tag("missing", "x")};
    struct vg_tag w4[] = {tag("district", "Nor")};
    CHECK_EQ_INT(select_text(e.c, "t", NULL, NULL, NULL, w1, 1, o), 0);
    CHECK_EQ_INT(o->n, 5);
    CHECK_EQ_INT(select_text(e.c, "t", NULL, NULL, NULL, w2, 2, o), 0);
    CHECK(strcmp(o->text, "e1.a{district=Nord,kind=air} e1.z{district=Nord,kind=air} "
                          "e10.a{district=Nord,kind=air} ") == 0);
    CHECK_EQ_INT(select_text(e.c, "t", "Sensor", NULL, "a", w2, 2, o), 0);
    CHECK_EQ_INT(o->n, 2);
    CHECK_EQ_INT(select_text(e.c, "t", NULL, NULL, NULL, w3, 2, o), 0);
    CHECK_EQ_INT(o->n, 0);
    CHECK_EQ_INT(select_text(e.c, "t", NULL, NULL, NULL, w4, 1, o), 0);
    CHECK_EQ_INT(o->n, 0);
    CHECK_EQ_INT(select_text(e.c, "t", "Nope", NULL, NULL, NULL, 0, o), 0);
    CHECK_EQ_INT(o->n, 0);

    /* callback stop, tenant required */
    memset(o, 0, sizeof(*o));
    o->stop_at = 2;
    struct catalog_sel sel = {"t", NULL, NULL, NULL, NULL, 0};
    CHECK_EQ_INT(catalog_select(e.c, &sel, on_sel, o), 5);
    CHECK_EQ_INT(o->n, 2);
    struct catalog_sel nosel = {NULL, NULL, NULL, NULL, NULL, 0};
    CHECK_EQ_INT(catalog_select(e.c, &nosel, on_sel, o), VG_EINVAL);
    free(o);
    env_done(&e);
}

static void test_invalid_names(void)
{
    struct env e = {0};
    uint32_t sid = 0;
    char big[300];
    memset(big, 'x', sizeof(big));
    REQUIRE(env_open(&e) == 0);
    struct catalog *c = e.c;
    CHECK_EQ_INT(catalog_resolve(c, "", 0, "T", 1, "e", 1, NULL, 0, "a", 1, VT_F64, &sid),
                 VG_EINVAL);
    CHECK_EQ_INT(catalog_resolve(c, "t", 1, "", 0, "e", 1, NULL, 0, "a", 1, VT_F64, &sid),
                 VG_EINVAL);
    CHECK_EQ_INT(catalog_resolve(c, "t", 1, "T", 1, "", 0, NULL, 0, "a", 1, VT_F64, &sid),
                 VG_EINVAL);
    CHECK_EQ_INT(catalog_resolve(c, "t", 1, "T", 1, "e", 1, NULL, 0, "", 0, VT_F64, &sid),
                 VG_EINVAL);
    CHECK_EQ_INT(catalog_resolve(c, "t", 1, "T", 1, big, 257, NULL, 0, "a", 1, VT_F64, &sid),
                 VG_EINVAL);
    CHECK_EQ_INT(catalog_resolve(c, "t", 1, "T", 1, "e", 1, NULL, 0, big, 257, VT_F64, &sid),
                 VG_EINVAL);
    CHECK_EQ_INT(catalog_resolve(c, "t", 1, "T", 1, "e\0f", 3, NULL, 0, "a", 1, VT_F64, &sid),
                 VG_EINVAL);
    CHECK_EQ_INT(catalog_resolve(c, "t", 1, "T", 1, "e\nf", 3, NULL, 0, "a", 1, VT_F64, &sid),
                 VG_EINVAL);
    CHECK_EQ_INT(catalog_resolve(c, "t", 1, "T", 1, "e\xff", 2, NULL, 0, "a", 1, VT_F64, &sid),
                 VG_EINVAL);
    CHECK_EQ_INT(catalog_resolve(c, "t", 1, "T", 1, "e", 1, NULL, 0, "a", 1, VT_NONE, &sid),
                 VG_EINVAL);
    CHECK_EQ_INT(catalog_resolve(c, "t", 1, "T", 1, "e", 1, NULL, 0, "a", 1, (enum vg_vtype)9,
                                 &sid),
                 VG_EINVAL);
    struct vg_tag bad1[] = {tag("", "v")};
    struct vg_tag bad2[] = {{"k\x01", 2, "v", 1}};
    struct vg_tag bad3[] = {{"k", 1, big, 257}};
    CHECK_EQ_INT(resolve(c, "t", "T", "e", bad1, 1, "a", VT_F64, &sid), VG_EINVAL);
    CHECK_EQ_INT(resolve(c, "t", "T", "e", bad2, 1, "a", VT_F64, &sid), VG_EINVAL);
    CHECK_EQ_INT(resolve(c, "t", "T", "e", bad3, 1, "a", VT_F64, &sid), VG_EINVAL);
    struct vg_tag many[65];
    char keys[65][16];
    for (int i = 0; i < 65; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        many[i] = tag(keys[i], "v");
    }
    CHECK_EQ_INT(resolve(c, "t", "T", "e", many, 65, "a", VT_F64, &sid), VG_EINVAL);
    struct catalog_stats cs;
    catalog_get_stats(c, &cs);
    CHECK_EQ_INT(cs.series, 0);
    CHECK_EQ_INT(cs.entities, 0);
    CHECK_EQ_INT(cs.groups, 0);

    /* limits are inclusive: 256-byte names, 64 tags, empty tag values, UTF-8 */
    CHECK_EQ_INT(catalog_resolve(c, "t", 1, "T", 1, big, 256, many, 64, big, 256, VT_F64, &sid), 0);
    CHECK_EQ_INT(sid, 1);
    CHECK_EQ_INT(catalog_resolve(c, "t", 1, "T", 1, big, 256, many, 64, big, 256, VT_F64, &sid), 0);
    CHECK_EQ_INT(sid, 1);
    struct vg_tag ev[] = {tag("note", "")};
    CHECK_EQ_INT(resolve(c, "t", "T", "caf\xc3\xa9", ev, 1, "a", VT_F64, &sid), 0);
    CHECK_EQ_INT(sid, 2);
    CHECK_EQ_INT(catalog_sync(c), 0);
    env_close(&e);
    REQUIRE(env_open(&e) == 0);
    CHECK_EQ_INT(catalog_resolve(e.c, "t", 1, "T", 1, big, 256, many, 64, big, 256, VT_F64, &sid),
                 0);
    CHECK_EQ_INT(sid, 1);
    CHECK_EQ_INT(resolve(e.c, "t", "T", "caf\xc3\xa9", ev, 1, "a", VT_F64, &sid), 0);
    CHECK_EQ_INT(sid, 2);
    catalog_get_stats(e.c, &cs);
    CHECK_EQ_INT(cs.series, 2);
    env_done(&e);
}

/* A sync whose commit fails keeps the rows pending (and returns the error each time). */
static int count_rows(void *arg, const struct meta_series_row *r)
{
    (*(int *)arg)++;
    return 0;
}

static void test_sync_failure(void)
{
    struct env e = {0};
    uint32_t sid = 0;
    struct meta *m2 = NULL;
    REQUIRE(env_open(&e) == 0);
    CHECK_EQ_INT(resolve(e.c, "t", "T", "e1", NULL, 0, "a", VT_F64, &sid), 0);
    CHECK_EQ_INT(catalog_sync(e.c), 0);
    /* another writer takes sid 2 behind the catalogue's back */
    REQUIRE(meta_open(e.path, &m2) == 0);
    struct meta_series_row r = {2, 1, VT_F64, "t", "e1", "T", "intruder", NULL, 0};
    struct meta_batch b = {NULL, 0, NULL, 0, &r, 1};
    CHECK_EQ_INT(meta_commit(m2, &b), 0);
    CHECK_EQ_INT(resolve(e.c, "t", "T", "e2", NULL, 0, "a", VT_F64, &sid), 0);
    CHECK_EQ_INT(sid, 2);
    CHECK(catalog_sync(e.c) < 0);
    CHECK(catalog_sync(e.c) < 0); /* still pending */
    int n = 0;
    CHECK_EQ_INT(meta_series_load(m2, count_rows, &n), 0);
    CHECK_EQ_INT(n, 2); /* e2 (entity and series) rolled back */
    meta_close(m2);
    env_done(&e);
}

/* ---- retire ------------------------------------------------------------------------------- */

/* want: accept only the attribute named by arg */
static int pred_eq(void *arg, const char *attr)
{
    return strcmp(attr, (const char *)arg) == 0;
}

/* want: accept nothing, but record every name it was shown ("a|b|...") */
struct pred_log {
    char text[512];
    int calls;
};

static int pred_log(void *arg, const char *attr)
{
    struct pred_log *p = arg;
    size_t l = strlen(p->text);
    snprintf(p->text + l, sizeof(p->text) - l, "%s|", attr);
    p->calls++;
    return 0;
}

static void test_retire_basic(void)
{
    struct env e = {0};
    uint32_t sa = 0, sb = 0, sc1 = 0, sc2 = 0, se2 = 0, su = 0, s = 0, n = 99, g = 0;
    struct sel_out *o = calloc(1, sizeof(*o));
    struct vg_tag tg[] = {tag("district", "Nord")};
    REQUIRE(env_open(&e) == 0);
    CHECK_EQ_INT(resolve(e.c, "t", "T", "e1", tg, 1, "a", VT_F64, &sa), 0);
    CHECK_EQ_INT(resolve(e.c, "t", "T", "e1", tg, 1, "b", VT_I64, &sb), 0);
    CHECK_EQ_INT(resolve(e.c, "t", "T", "e1", tg, 1, "c#x", VT_F64, &sc1), 0);
    CHECK_EQ_INT(resolve(e.c, "t", "T", "e1", tg, 1, "c@unitCode", VT_STR, &sc2), 0);
    CHECK_EQ_INT(resolve(e.c, "t", "T", "e2", NULL, 0, "a", VT_F64, &se2), 0);
    CHECK_EQ_INT(resolve(e.c, "u", "T", "e1", NULL, 0, "a", VT_F64, &su), 0);
    uint32_t maxsid = VG_MAX(VG_MAX(VG_MAX(sa, sb), VG_MAX(sc1, sc2)), VG_MAX(se2, su));
    CHECK_EQ_INT(maxsid, 6);

    /* the predicate is shown exactly the attributes of (t, e1), each once */
    struct pred_log pl;
    memset(&pl, 0, sizeof(pl));
    pl.text[0] = '|';
    CHECK_EQ_INT(catalog_retire(e.c, "t", "e1", pred_log, &pl, &n), 0);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(pl.calls, 4);
    CHECK(strstr(pl.text, "|a|") && strstr(pl.text, "|b|") && strstr(pl.text, "|c#x|") &&
          strstr(pl.text, "|c@unitCode|"));

    n = 99;
    CHECK_EQ_INT(catalog_retire(e.c, "t", "e1", pred_eq, (void *)"a", &n), 0);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(select_text(e.c, "t", NULL, "e1", NULL, NULL, 0, o), 0);
    CHECK(strcmp(o->text, "e1.b{district=Nord} e1.c#x{district=Nord} "
                          "e1.c@unitCode{district=Nord} ") == 0);
    CHECK_EQ_INT(o->n, 3);
    CHECK_EQ_INT(o->sid[0], sb);
    CHECK_EQ_INT(o->sid[1], sc1);
    CHECK_EQ_INT(o->sid[2], sc2);
    /* gone from every selection: by tenant, by type (group vector), by attribute */
    CHECK_EQ_INT(select_text(e.c, "t", NULL, NULL, NULL, NULL, 0, o), 0);
    CHECK(strcmp(o->text, "e1.b{district=Nord} e1.c#x{district=Nord} "
                          "e1.c@unitCode{district=Nord} e2.a{} ") == 0);
    CHECK_EQ_INT(select_text(e.c, "t", "T", NULL, NULL, NULL, 0, o), 0);
    CHECK_EQ_INT(o->n, 4);
    CHECK_EQ_INT(select_text(e.c, "t", NULL, NULL, "a", NULL, 0, o), 0);
    CHECK(strcmp(o->text, "e2.a{} ") == 0);
    CHECK_EQ_INT(select_text(e.c, "t", NULL, "e1", "a", NULL, 0, o), 0);
    CHECK_EQ_INT(o->n, 0);
    struct catalog_stats cs;
    catalog_get_stats(e.c, &cs);
    CHECK_EQ_INT(cs.retired, 1);
    CHECK_EQ_INT(cs.series, 5);
    CHECK_EQ_INT(cs.entities, 3);

    /* the others keep their sids */
    CHECK_EQ_INT(resolve(e.c, "t", "T", "e2", NULL, 0, "a", VT_F64, &s), 0);
    CHECK_EQ_INT(s, se2);
    CHECK_EQ_INT(resolve(e.c, "u", "T", "e1", NULL, 0, "a", VT_F64, &s), 0);
    CHECK_EQ_INT(s, su);
    CHECK_EQ_INT(resolve(e.c, "t", "T", "e1", tg, 1, "b", VT_I64, &s), 0);
    CHECK_EQ_INT(s, sb);
    /* the retired name is created afresh, with a sid never used */
    CHECK_EQ_INT(resolve(e.c, "t", "T", "e1", tg, 1, "a", VT_F64, &s), 0);
    CHECK(s != sa);
    CHECK(s > maxsid);
    uint32_t sa2 = s;
    CHECK_EQ_INT(resolve(e.c, "t", "T", "e1", tg, 1, "a", VT_F64, &s), 0);
    CHECK_EQ_INT(s, sa2);
    CHECK_EQ_INT(select_text(e.c, "t", NULL, "e1", NULL, NULL, 0, o), 0);
    CHECK_EQ_INT(o->n, 4);
    CHECK_EQ_INT(o->sid[0], sa2);
    CHECK_EQ_INT(catalog_group(e.c, "t", "T", &g), 0);
    /* the retired sid stays declared in the store with its type */
    CHECK_EQ_INT(store_series_add(e.st, sa, g, VT_I64), VG_ETYPE);
    CHECK_EQ_INT(store_series_add(e.st, sa, g, VT_F64), 0);

    /* want == NULL: every remaining series of (t, e1), nothing else */
    CHECK_EQ_INT(catalog_retire(e.c, "t", "e1", NULL, NULL, &n), 0);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(select_text(e.c, "t", NULL, "e1", NULL, NULL, 0, o), 0);
    CHECK_EQ_INT(o->n, 0);
    CHECK_EQ_INT(select_text(e.c, "t", NULL, NULL, NULL, NULL, 0, o), 0);
    CHECK(strcmp(o->text, "e2.a{} ") == 0);
    CHECK_EQ_INT(select_text(e.c, "u", NULL, NULL, NULL, NULL, 0, o), 0);
    CHECK(strcmp(o->text, "e1.a{} ") == 0);
    CHECK_EQ_INT(catalog_tenant_exists(e.c, "t"), 1);
    CHECK_EQ_INT(catalog_entity_exists(e.c, "t", "e1"), 1); /* entities are never removed */
    catalog_get_stats(e.c, &cs);
    CHECK_EQ_INT(cs.retired, 5);
    CHECK_EQ_INT(cs.series, 2);

    /* nothing to retire: unknown tenant, unknown entity, a prefix of an entity, a
    ** predicate that accepts nothing, an entity already emptied */
    n = 99;
    CHECK_EQ_INT(catalog_retire(e.c, "zz", "e1", NULL, NULL, &n), 0);
    CHECK_EQ_INT(n, 0);
    n = 99;
    CHECK_EQ_INT(catalog_retire(e.c, "t", "nope", NULL, NULL, &n), 0);
    CHECK_EQ_INT(n, 0);
    n = 99;
    CHECK_EQ_INT(catalog_retire(e.c, "t", "e", NULL, NULL, &n), 0);
    CHECK_EQ_INT(n, 0);
    n = 99;
    CHECK_EQ_INT(catalog_retire(e.c, "t", "e22", NULL, NULL, &n), 0);
    CHECK_EQ_INT(n, 0);
    n = 99;
    CHECK_EQ_INT(catalog_retire(e.c, "u", "e1", pred_eq, (void *)"zzz", &n), 0);
    CHECK_EQ_INT(n, 0);
    n = 99;
    CHECK_EQ_INT(catalog_retire(e.c, "t", "e1", NULL, NULL, &n), 0);
    CHECK_EQ_INT(n, 0);
    catalog_get_stats(e.c, &cs);
    CHECK_EQ_INT(cs.retired, 5);
    CHECK_EQ_INT(cs.series, 2);
    CHECK_EQ_INT(resolve(e.c, "u", "T", "e1", NULL, 0, "a", VT_F64, &s), 0);
    CHECK_EQ_INT(s, su);
    CHECK_EQ_INT(resolve(e.c, "t", "T", "e2", NULL, 0, "a", VT_F64, &s), 0);
    CHECK_EQ_INT(s, se2);
    /* the retired (t, e1, b) is new again: its vt may differ */
    CHECK_EQ_INT(resolve(e.c, "t", "T", "e1", tg, 1, "b", VT_STR, &s), 0);
    CHECK(s > sa2);
    free(o);
    env_done(&e);
}

static void test_retire_reopen(void)
{
    struct env e = {0};
    uint32_t sa = 0, sb = 0, sc = 0, se2 = 0, se3 = 0, s = 0, n = 0, g = 0;
    struct sel_out *o = calloc(1, sizeof(*o));
    REQUIRE(env_open(&e) == 0);
    CHECK_EQ_INT(resolve(e.c, "t", "T", "e1", NULL, 0, "a", VT_F64, &sa), 0);
    CHECK_EQ_INT(resolve(e.c, "t", "T", "e1", NULL, 0, "b", VT_F64, &sb), 0);
    CHECK_EQ_INT(resolve(e.c, "t", "T", "e2", NULL, 0, "a", VT_I64, &se2), 0);
    CHECK_EQ_INT(resolve(e.c, "t", "T", "e3", NULL, 0, "a", VT_BOOL, &se3), 0);
    CHECK_EQ_INT(catalog_sync(e.c), 0);
    /* created but not synced: retired right after catalog_resolve; it holds the highest sid */
    CHECK_EQ_INT(resolve(e.c, "t", "T", "e1", NULL, 0, "c", VT_STR, &sc), 0);
    CHECK_EQ_INT(sc, 5);
    CHECK_EQ_INT(catalog_retire(e.c, "t", "e1", pred_eq, (void *)"a", &n), 0); /* synced */
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(catalog_retire(e.c, "t", "e1", pred_eq, (void *)"c", &n), 0); /* pending */
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(catalog_retire(e.c, "t", "e3", NULL, NULL, &n), 0); /* the whole entity */
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(catalog_group(e.c, "t", "T", &g), 0);
    env_close(&e); /* no catalog_sync: catalog_retire is durable on return */

    REQUIRE(env_open(&e) == 0);
    struct catalog_stats cs;
    catalog_get_stats(e.c, &cs);
    CHECK_EQ_INT(cs.retired, 3);
    CHECK_EQ_INT(cs.series, 2);
    CHECK_EQ_INT(select_text(e.c, "t", NULL, NULL, NULL, NULL, 0, o), 0);
    CHECK(strcmp(o->text, "e1.b{} e2.a{} ") == 0);
    CHECK_EQ_INT(o->n, 2);
    CHECK_EQ_INT(o->sid[0], sb);
    CHECK_EQ_INT(o->sid[1], se2);
    CHECK_EQ_INT(select_text(e.c, "t", "T", NULL, NULL, NULL, 0, o), 0);
    CHECK_EQ_INT(o->n, 2);
    /* the fresh store was told of the retired sids too, with their types (a WAL record
    ** naming them replays) */
    CHECK_EQ_INT(store_series_add(e.st, sa, g, VT_I64), VG_ETYPE);
    CHECK_EQ_INT(store_series_add(e.st, sc, g, VT_F64), VG_ETYPE);
    CHECK_EQ_INT(store_series_add(e.st, se3, g, VT_F64), VG_ETYPE);
    CHECK_EQ_INT(store_series_add(e.st, sa, g, VT_F64), 0);
    CHECK_EQ_INT(store_series_add(e.st, sc, g, VT_STR), 0);
    CHECK_EQ_INT(store_series_add(e.st, se3, g, VT_BOOL), 0);
    /* live names keep their sids; retired ones get sids never used (sc was the max) */
    CHECK_EQ_INT(resolve(e.c, "t", "T", "e1", NULL, 0, "b", VT_F64, &s), 0);
    CHECK_EQ_INT(s, sb);
    CHECK_EQ_INT(resolve(e.c, "t", "T", "e2", NULL, 0, "a", VT_I64, &s), 0);
    CHECK_EQ_INT(s, se2);
    uint32_t nc = 0, na = 0, n3 = 0;
    CHECK_EQ_INT(resolve(e.c, "t", "T", "e1", NULL, 0, "c", VT_STR, &nc), 0);
    CHECK_EQ_INT(nc, sc + 1);
    CHECK_EQ_INT(resolve(e.c, "t", "T", "e1", NULL, 0, "a", VT_F64, &na), 0);
    CHECK_EQ_INT(na, sc + 2);
    /* e3 had only retired series: it comes back (tags and all) */
    struct vg_tag tg[] = {tag("k", "v")};
    CHECK_EQ_INT(resolve(e.c, "t", "T", "e3", tg, 1, "a", VT_BOOL, &n3), 0);
    CHECK_EQ_INT(n3, sc + 3);
    CHECK_EQ_INT(catalog_sync(e.c), 0);
    /* retire again in this session, then reopen once more */
    CHECK_EQ_INT(catalog_retire(e.c, "t", "e1", pred_eq, (void *)"b", &n), 0);
    CHECK_EQ_INT(n, 1);
    catalog_get_stats(e.c, &cs);
    CHECK_EQ_INT(cs.retired, 4);
    env_close(&e);

    REQUIRE(env_open(&e) == 0);
    catalog_get_stats(e.c, &cs);
    CHECK_EQ_INT(cs.retired, 4);
    CHECK_EQ_INT(cs.series, 4);
    CHECK_EQ_INT(select_text(e.c, "t", NULL, NULL, NULL, NULL, 0, o), 0);
    CHECK(strcmp(o->text, "e1.a{} e1.c{} e2.a{} e3.a{k=v} ") == 0);
    CHECK_EQ_INT(o->n, 4);
    CHECK_EQ_INT(o->sid[0], na);
    CHECK_EQ_INT(o->sid[1], nc);
    CHECK_EQ_INT(o->sid[2], se2);
    CHECK_EQ_INT(o->sid[3], n3);
    CHECK_EQ_INT(store_series_add(e.st, sb, g, VT_I64), VG_ETYPE);
    CHECK_EQ_INT(resolve(e.c, "t", "T", "e1", NULL, 0, "b", VT_F64, &s), 0);
    CHECK_EQ_INT(s, n3 + 1);
    free(o);
    env_done(&e);
}

/* Randomised: RP_ENTS entities x RP_ATTRS attributes of one tenant, retired and re-created
** in rounds; after each round every live name resolves to its sid (no entry lost by the
** table's backward-shift deletion) and a selection lists exactly the live set, in order. */
#define RP_ENTS 200
#define RP_ATTRS 10
#define RP_NAMES (RP_ENTS * RP_ATTRS)
#define RP_ROUNDS 40
#define RP_TRIALS 12
#define RP_SMALL_ENTS 51

static uint64_t rp_state;
static uint32_t rp_rand(void)
{
    rp_state ^= rp_state << 13;
    rp_state ^= rp_state >> 7;
    rp_state ^= rp_state << 17;
    return (uint32_t)(rp_state >> 11);
}

struct rp_model {
    int nnames;             /* names in use: nents * RP_ATTRS <= RP_NAMES */
    uint32_t sid[RP_NAMES]; /* 0: retired (or never created) */
    uint32_t max_sid;
    uint64_t retired;
    int bad_pred;
};

struct rp_pred {
    struct rp_model *m;
    int ent;
    uint32_t mask;
};

static int rp_want(void *arg, const char *attr)
{
    struct rp_pred *p = arg;
    int a = -1;
    if (sscanf(attr, "x%d", &a) != 1 || a < 0 || a >= RP_ATTRS ||
        p->m->sid[p->ent * RP_ATTRS + a] == 0)
        p->m->bad_pred++; /* shown a name that is not a live attribute of this entity */
    return a >= 0 && a < RP_ATTRS && ((p->mask >> a) & 1);
}

static const char *rp_type(int ent)
{
    return ent % 2 ? "Odd" : "Even";
}

struct rp_check {
    const struct rp_model *m;
    int pos; /* next live name expected */
    int only_parity; /* -1: all */
    int bad;
};

static int rp_next(const struct rp_check *k, int from)
{
    for (int i = from; i < k->m->nnames; i++)
        if (k->m->sid[i] && (k->only_parity < 0 || (i / RP_ATTRS) % 2 == k->only_parity))
            return i;
    return k->m->nnames;
}

static int rp_on_sel(void *arg, const struct catalog_series *cs)
{
    struct rp_check *k = arg;
    char en[16], an[16];
    int i = rp_next(k, k->pos);
    if (i == k->m->nnames) {
        k->bad++;
        return 0;
    }
    snprintf(en, sizeof(en), "e%03d", i / RP_ATTRS);
    snprintf(an, sizeof(an), "x%02d", i % RP_ATTRS);
    if (strcmp(cs->entity, en) != 0 || strcmp(cs->attr, an) != 0 || cs->sid != k->m->sid[i] ||
        strcmp(cs->tenant, "p") != 0 || strcmp(cs->type, rp_type(i / RP_ATTRS)) != 0) {
        if (k->bad++ < 3)
            printf("  select: got %s.%s[%u], want %s.%s[%u]\n", cs->entity, cs->attr, cs->sid,
                   en, an, k->m->sid[i]);
    }
    k->pos = i + 1;
    return 0;
}

/* 0 if the catalogue agrees with the model. */
static int rp_verify(struct catalog *c, const struct rp_model *m)
{
    char en[16], an[16];
    int bad = 0;
    uint64_t live = 0;
    for (int i = 0; i < m->nnames; i++) {
        if (!m->sid[i])
            continue;
        live++;
        uint32_t s = 0;
        snprintf(en, sizeof(en), "e%03d", i / RP_ATTRS);
        snprintf(an, sizeof(an), "x%02d", i % RP_ATTRS);
        int rc = resolve(c, "p", rp_type(i / RP_ATTRS), en, NULL, 0, an, VT_F64, &s);
        if (rc != 0 || s != m->sid[i]) {
            if (bad++ < 3)
                printf("  resolve %s.%s: rc %d sid %u, want %u\n", en, an, rc, s, m->sid[i]);
        }
    }
    for (int par = -1; par <= 1; par++) {
        struct rp_check k = {m, 0, par, 0};
        struct catalog_sel sel = {"p", par < 0 ? NULL : (par ? "Odd" : "Even"), NULL, NULL,
                                  NULL, 0};
        if (catalog_select(c, &sel, rp_on_sel, &k) != 0)
            bad++;
        if (rp_next(&k, k.pos) != m->nnames) /* a live name not listed */
            k.bad++;
        bad += k.bad;
    }
    struct catalog_stats cs;
    catalog_get_stats(c, &cs);
    if (cs.series != live || cs.retired != m->retired) {
        printf("  stats: series %llu retired %llu, want %llu %llu\n",
               (unsigned long long)cs.series, (unsigned long long)cs.retired,
               (unsigned long long)live, (unsigned long long)m->retired);
        bad++;
    }
    return bad;
}

/* Create (or re-create) name i; 0 if the sid is the expected one. */
static int rp_create(struct catalog *c, struct rp_model *m, int i)
{
    char en[16], an[16];
    uint32_t s = 0;
    snprintf(en, sizeof(en), "e%03d", i / RP_ATTRS);
    snprintf(an, sizeof(an), "x%02d", i % RP_ATTRS);
    if (resolve(c, "p", rp_type(i / RP_ATTRS), en, NULL, 0, an, VT_F64, &s) != 0)
        return 1;
    if (m->sid[i])
        return s != m->sid[i];
    if (s <= m->max_sid)
        return 1; /* a sid used before */
    m->sid[i] = m->max_sid = s;
    return 0;
}

/* One catalogue: create every name, then RP_ROUNDS rounds of retire + re-create + verify. */
static int rp_trial(struct rp_model *m, int *perm, int nents)
{
    int nn = nents * RP_ATTRS;
    struct env e = {0};
    int bad = 0;
    if (env_open(&e) != 0)
        return 1;
    /* every name, created in a random order (unsorted vector tails, scattered table) */
    memset(m, 0, sizeof(*m));
    m->nnames = nn;
    for (int i = 0; i < nn; i++)
        perm[i] = i;
    for (int i = nn - 1; i > 0; i--) {
        int j = (int)(rp_rand() % (uint32_t)(i + 1)), x = perm[i];
        perm[i] = perm[j];
        perm[j] = x;
    }
    for (int i = 0; i < nn; i++)
        bad += rp_create(e.c, m, perm[i]);
    bad += rp_verify(e.c, m);
    for (int round = 0; round < RP_ROUNDS && !bad; round++) {
        int nent = 1 + (int)(rp_rand() % 40);
        for (int k = 0; k < nent; k++) {
            struct rp_pred p = {m, (int)(rp_rand() % (uint32_t)nents),
                                rp_rand() & ((1u << RP_ATTRS) - 1)};
            int all = rp_rand() % 5 == 0;
            uint32_t want = 0, got = 0;
            if (all)
                p.mask = (1u << RP_ATTRS) - 1;
            for (int a = 0; a < RP_ATTRS; a++)
                want += m->sid[p.ent * RP_ATTRS + a] && ((p.mask >> a) & 1);
            char en[16];
            snprintf(en, sizeof(en), "e%03d", p.ent);
            int rc = catalog_retire(e.c, "p", en, all ? NULL : rp_want, &p, &got);
            if (rc != 0 || got != want) {
                printf("  round %d retire %s mask %03x: rc %d n %u, want %u\n", round, en,
                       p.mask, rc, got, want);
                bad++;
            }
            for (int a = 0; a < RP_ATTRS; a++)
                if ((p.mask >> a) & 1)
                    m->sid[p.ent * RP_ATTRS + a] = 0;
            m->retired += want;
        }
        /* re-create most retired names (with new sids) so that the table stays about half
        ** full and its clusters long, and look some live ones up; sometimes synced */
        int from = (int)(rp_rand() % (uint32_t)nn);
        for (int k = 0; k < nn; k++) {
            int i = perm[(from + k) % nn];
            if (!m->sid[i] ? rp_rand() % 4 != 0 : rp_rand() % 8 == 0)
                bad += rp_create(e.c, m, i);
        }
        if (rp_rand() % 2 && catalog_sync(e.c) != 0)
            bad++;
        int v = rp_verify(e.c, m);
        if (v)
            printf("  round %d: %d mismatches\n", round, v);
        bad += v + m->bad_pred;
        m->bad_pred = 0;
    }
    /* and the same after a reopen */
    if (!bad) {
        if (catalog_sync(e.c) != 0)
            bad++;
        env_close(&e);
        if (env_open(&e) != 0)
            return bad + 1;
        bad += rp_verify(e.c, m);
    }
    env_done(&e);
    return bad;
}

static void test_retire_property(void)
{
    struct rp_model *m = malloc(sizeof(*m));
    int *perm = calloc(RP_NAMES, sizeof(*perm));
    rp_state = 0x9e3779b97f4a7c15ull;
    /* The table layout depends on each catalogue's hash seed, and a deletion whose probe
    ** chain wraps past the table's end is rare among 2000 series (table of 4096 slots): after
    ** the full-size catalogues, smaller ones (510 series, 1024 slots) make it likely. */
    for (int trial = 0; trial < RP_TRIALS; trial++) {
        int bad = rp_trial(m, perm, trial < 2 ? RP_ENTS : RP_SMALL_ENTS);
        if (bad)
            printf("  trial %d: %d errors\n", trial, bad);
        CHECK_EQ_INT(bad, 0);
    }
    free(perm);
    free(m);
}

/* ---- concurrency -------------------------------------------------------------------------- */

#define CONC_KEYS 3000
#define CONC_THREADS 4

struct conc {
    struct catalog *c;
    struct meta *m2; /* second connection to check durability */
    int idx;
    uint32_t sid[CONC_KEYS];
    int errors;
    int not_durable;
};

struct find_sid {
    uint32_t sid;
    int found;
};

static int on_find(void *arg, const struct meta_series_row *r)
{
    struct find_sid *f = arg;
    if (r->sid == f->sid)
        f->found = 1;
    return 0;
}

static void conc_key(int k, char *ent, size_t ecap, char *attr, size_t acap, const char **tenant)
{
    snprintf(ent, ecap, "urn:ngsi-ld:Sensor:%d", k / 3);
    snprintf(attr, acap, "attr%d", k % 3);
    *tenant = ((k / 3) % 2) ? "lyon" : "paris";
}

static void *conc_run(void *arg)
{
    struct conc *t = arg;
    char ent[64], attr[32], dist[16];
    const char *tenant;
    for (int j = 0; j < CONC_KEYS; j++) {
        /* each thread walks the keys in its own order */
        int k = (int)(((long)j * 7919 + (long)t->idx * 997) % CONC_KEYS);
        conc_key(k, ent, sizeof(ent), attr, sizeof(attr), &tenant);
        snprintf(dist, sizeof(dist), "d%d", (k / 3) % 5);
        struct vg_tag tg[] = {tag("district", dist)};
        uint32_t sid = 0;
        if (resolve(t->c, tenant, "Sensor", ent, tg, 1, attr, VT_F64, &sid) != 0) {
            t->errors++;
            continue;
        }
        t->sid[k] = sid;
        if (j % 250 == 249) {
            if (catalog_sync(t->c) != 0) {
                t->errors++;
                continue;
            }
            /* the sid this thread just got is in the database now */
            struct find_sid f = {sid, 0};
            if (meta_series_load(t->m2, on_find, &f) != 0 || !f.found)
                t->not_durable++;
        }
    }
    return NULL;
}

struct by_sid_out {
    char text[256];
    uint32_t sid;
};

static int by_sid_fn(void *arg, const struct catalog_series *cs)
{
    struct by_sid_out *o = arg;
    snprintf(o->text, sizeof(o->text), "%s/%s/%s/%s %s", cs->tenant, cs->type, cs->entity,
             cs->attr, vg_vtype_name(cs->vt));
    o->sid = cs->sid;
    return 7;
}

/* catalog_series_get: a series' names by its sid, for live series only; after a reopen too. */
static void test_series_by_sid(void)
{
    struct env e = {0};
    uint32_t a = 0, b = 0, c = 0, n = 0;
    struct by_sid_out o;
    REQUIRE(env_open(&e) == 0);
    CHECK_EQ_INT(catalog_series_get(e.c, 1, by_sid_fn, &o), VG_ENOENT); /* empty */
    CHECK_EQ_INT(resolve(e.c, "t", "Meter", "m1", NULL, 0, "flow", VT_F64, &a), 0);
    CHECK_EQ_INT(resolve(e.c, "u", "Air", "a9", NULL, 0, "pm25", VT_I64, &b), 0);
    CHECK_EQ_INT(resolve(e.c, "t", "Meter", "m1", NULL, 0, "old", VT_F64, &c), 0);
    CHECK_EQ_INT(catalog_series_get(e.c, b, by_sid_fn, &o), 7); /* fn's return */
    CHECK(!strcmp(o.text, "u/Air/a9/pm25 int"));
    CHECK_EQ_INT(o.sid, b);
    CHECK_EQ_INT(catalog_sync(e.c), 0);
    CHECK_EQ_INT(catalog_retire(e.c, "t", "m1", pred_eq, (void *)"old", &n), 0);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(catalog_series_get(e.c, c, by_sid_fn, &o), VG_ENOENT); /* retired */
    CHECK_EQ_INT(catalog_series_get(e.c, 0, by_sid_fn, &o), VG_ENOENT);
    CHECK_EQ_INT(catalog_series_get(e.c, 1u << 30, by_sid_fn, &o), VG_ENOENT);
    env_close(&e);
    REQUIRE(env_open(&e) == 0); /* loaded from SQLite */
    CHECK_EQ_INT(catalog_series_get(e.c, a, by_sid_fn, &o), 7);
    CHECK(!strcmp(o.text, "t/Meter/m1/flow float"));
    CHECK_EQ_INT(catalog_series_get(e.c, c, by_sid_fn, &o), VG_ENOENT);
    env_done(&e);
}

static void test_concurrent_resolve(void)
{
    struct env e = {0};
    struct conc *t = calloc(CONC_THREADS, sizeof(*t));
    pthread_t th[CONC_THREADS];
    struct meta *m2 = NULL;
    REQUIRE(env_open(&e) == 0);
    REQUIRE(meta_open(e.path, &m2) == 0);
    for (int i = 0; i < CONC_THREADS; i++) {
        t[i].c = e.c;
        t[i].m2 = m2;
        t[i].idx = i;
        pthread_create(&th[i], NULL, conc_run, &t[i]);
    }
    for (int i = 0; i < CONC_THREADS; i++)
        pthread_join(th[i], NULL);
    uint8_t *seen = calloc(CONC_KEYS + 1, 1);
    for (int i = 0; i < CONC_THREADS; i++) {
        CHECK_EQ_INT(t[i].errors, 0);
        CHECK_EQ_INT(t[i].not_durable, 0);
    }
    int dup = 0, bad = 0;
    for (int k = 0; k < CONC_KEYS; k++) {
        uint32_t s = t[0].sid[k];
        for (int i = 1; i < CONC_THREADS; i++)
            bad += t[i].sid[k] != s;
        if (s == 0 || s > CONC_KEYS)
            bad++;
        else
            dup += seen[s]++ != 0;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(dup, 0);
    struct catalog_stats cs;
    catalog_get_stats(e.c, &cs);
    CHECK_EQ_INT(cs.series, CONC_KEYS);
    CHECK_EQ_INT(cs.entities, CONC_KEYS / 3);
    CHECK_EQ_INT(cs.groups, 2);
    CHECK_EQ_INT(catalog_sync(e.c), 0);
    meta_close(m2);
    env_close(&e);

    REQUIRE(env_open(&e) == 0);
    catalog_get_stats(e.c, &cs);
    CHECK_EQ_INT(cs.series, CONC_KEYS);
    char ent[64], attr[32], dist[16];
    const char *tenant;
    int mismatch = 0;
    for (int k = 0; k < CONC_KEYS; k++) {
        conc_key(k, ent, sizeof(ent), attr, sizeof(attr), &tenant);
        snprintf(dist, sizeof(dist), "d%d", (k / 3) % 5);
        struct vg_tag tg[] = {tag("district", dist)};
        uint32_t sid = 0;
        if (resolve(e.c, tenant, "Sensor", ent, tg, 1, attr, VT_F64, &sid) != 0 ||
            sid != t[0].sid[k])
            mismatch++;
    }
    CHECK_EQ_INT(mismatch, 0);
    catalog_get_stats(e.c, &cs);
    CHECK_EQ_INT(cs.series, CONC_KEYS);
    free(seen);
    free(t);
    env_done(&e);
}

/* ---- performance -------------------------------------------------------------------------- */

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || !defined(__OPTIMIZE__)
#define PERF_REPORT_ONLY 1 /* instrumented or unoptimised build: fewer rounds, no bounds */
#define PERF_ITERS 100000
#else
#define PERF_REPORT_ONLY 0
#define PERF_ITERS 1000000
#endif
#define PERF_ENTITIES 3000
#define PERF_ATTRS 4
#define PERF_TYPES 4
#define PERF_DISTRICTS 10

static const char *const perf_attrs[PERF_ATTRS] = {"temperature", "humidity", "no2", "pm10"};
static const char *const perf_types[PERF_TYPES] = {"AirQualityObserved", "WeatherObserved",
                                                   "NoiseLevelObserved", "TrafficFlowObserved"};

static int count_cb(void *arg, const struct catalog_series *cs)
{
    (*(uint64_t *)arg) += cs->sid;
    return 0;
}

static void perf_key(int i, char *ent, size_t cap, char *dist, size_t dcap)
{
    snprintf(ent, cap, "urn:ngsi-ld:%s:lyon-%06d", perf_types[i % PERF_TYPES], i);
    snprintf(dist, dcap, "district-%d", (i / PERF_TYPES) % PERF_DISTRICTS);
}

static void test_perf(void)
{
    struct env e = {0};
    char ent[96], dist[32];
    uint32_t sid = 0;
    REQUIRE(env_open(&e) == 0);
    int64_t t0 = clock_mono_ns();
    for (int i = 0; i < PERF_ENTITIES; i++) {
        perf_key(i, ent, sizeof(ent), dist, sizeof(dist));
        struct vg_tag tg[] = {tag("district", dist), tag("operator", "metropole")};
        for (int a = 0; a < PERF_ATTRS; a++)
            REQUIRE(resolve(e.c, "lyon", perf_types[i % PERF_TYPES], ent, tg, 2, perf_attrs[a],
                            VT_F64, &sid) == 0);
    }
    int64_t t1 = clock_mono_ns();
    CHECK_EQ_INT(catalog_sync(e.c), 0);
    int64_t t2 = clock_mono_ns();
    /* another tenant of the same size, so that the tables are not trivially small */
    for (int i = 0; i < PERF_ENTITIES; i++) {
        perf_key(i, ent, sizeof(ent), dist, sizeof(dist));
        struct vg_tag tg[] = {tag("district", dist)};
        for (int a = 0; a < PERF_ATTRS; a++)
            REQUIRE(resolve(e.c, "grenoble", perf_types[i % PERF_TYPES], ent, tg, 1,
                            perf_attrs[a], VT_F64, &sid) == 0);
    }

    /* Lookups of existing series in a scrambled order, with the key strings prepared
    ** beforehand (as the ingest thread has them after parsing). Timed in chunks and the
    ** fastest chunk kept, so that a loaded machine preempting the test does not count. */
    struct perf_keys {
        char ent[96], dist[32];
        uint32_t elen, dlen;
    } *pk = calloc(PERF_ENTITIES, sizeof(*pk));
    for (int i = 0; i < PERF_ENTITIES; i++) {
        perf_key(i, pk[i].ent, sizeof(pk[i].ent), pk[i].dist, sizeof(pk[i].dist));
        pk[i].elen = (uint32_t)strlen(pk[i].ent);
        pk[i].dlen = (uint32_t)strlen(pk[i].dist);
    }
    uint32_t tlen[PERF_TYPES], alen[PERF_ATTRS];
    for (int i = 0; i < PERF_TYPES; i++)
        tlen[i] = (uint32_t)strlen(perf_types[i]);
    for (int i = 0; i < PERF_ATTRS; i++)
        alen[i] = (uint32_t)strlen(perf_attrs[i]);
    const int chunk = 10000;
    uint64_t acc = 0;
    int64_t best = INT64_MAX;
    for (int round = 0; round < PERF_ITERS / chunk; round++) {
        int64_t a0 = clock_mono_ns();
        for (int j = round * chunk; j < (round + 1) * chunk; j++) {
            int i = (int)(((long)j * 7919) % PERF_ENTITIES);
            struct vg_tag tg[] = {{"district", 8, pk[i].dist, pk[i].dlen},
                                  {"operator", 8, "metropole", 9}};
            int a = j % PERF_ATTRS, ty = i % PERF_TYPES;
            if (catalog_resolve(e.c, "lyon", 4, perf_types[ty], tlen[ty], pk[i].ent, pk[i].elen,
                                tg, 2, perf_attrs[a], alen[a], VT_F64, &sid) != 0)
                break;
            acc += sid;
        }
        int64_t a1 = clock_mono_ns();
        if (a1 - a0 < best)
            best = a1 - a0;
    }
    double per = (double)best / chunk;
    free(pk);

    struct catalog_sel all = {"lyon", NULL, NULL, NULL, NULL, 0};
    struct vg_tag w[] = {tag("district", "district-3")};
    struct catalog_sel one = {"lyon", "WeatherObserved", NULL, NULL, w, 1};
    int64_t sel_all = INT64_MAX, sel_one = INT64_MAX;
    uint64_t sum = 0;
    for (int r = 0; r < 20; r++) {
        int64_t s0 = clock_mono_ns();
        CHECK_EQ_INT(catalog_select(e.c, &all, count_cb, &sum), 0);
        int64_t s1 = clock_mono_ns();
        CHECK_EQ_INT(catalog_select(e.c, &one, count_cb, &sum), 0);
        int64_t s2 = clock_mono_ns();
        sel_all = VG_MIN(sel_all, s1 - s0);
        sel_one = VG_MIN(sel_one, s2 - s1);
    }
    struct sel_out *o = calloc(1, sizeof(*o));
    struct catalog_sel oneq = one;
    CHECK_EQ_INT(catalog_select(e.c, &oneq, on_sel, o), 0);
    /* 3000 entities / 4 types = 750 of this type, 75 of them in district-3, 4 attrs each */
    CHECK_EQ_INT(o->n, 300);
    all.tenant = "grenoble";
    memset(o, 0, sizeof(*o));
    CHECK_EQ_INT(catalog_select(e.c, &all, count_cb, &sum), 0);
    printf("  perf: create %d series %.0f ns each, sync %.1f ms; resolve existing %.1f ns; "
           "select all (%d) %.1f us; select one type+district %.1f us\n",
           PERF_ENTITIES * PERF_ATTRS, (double)(t1 - t0) / (PERF_ENTITIES * PERF_ATTRS),
           (double)(t2 - t1) / 1e6, per, PERF_ENTITIES * PERF_ATTRS, (double)sel_all / 1e3,
           (double)sel_one / 1e3);
    CHECK(acc > 0);
    if (!PERF_REPORT_ONLY) {
        /* the targets are 100 ns, 2 ms and 100 us; slack for a loaded 2-core CI machine */
        CHECK(per < 300.0);
        CHECK(sel_all < 6000000);
        CHECK(sel_one < 300000);
    }
    free(o);
    env_done(&e);
}

int main(void)
{
    TEST_BEGIN("catalog");
    TEST_RUN(test_resolve_creates);
    TEST_RUN(test_series_by_sid);
    TEST_RUN(test_persistence);
    TEST_RUN(test_tenant_isolation);
    TEST_RUN(test_type_conflict);
    TEST_RUN(test_tag_update);
    TEST_RUN(test_select);
    TEST_RUN(test_invalid_names);
    TEST_RUN(test_sync_failure);
    TEST_RUN(test_retire_basic);
    TEST_RUN(test_retire_reopen);
    TEST_RUN(test_retire_property);
    TEST_RUN(test_concurrent_resolve);
    TEST_RUN(test_perf);
    return TEST_END();
}
