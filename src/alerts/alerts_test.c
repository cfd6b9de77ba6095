/*
** alerts/alerts_test.c: the alert engine over a real meta database, catalogue and store: the
** lifecycle (raise, de-duplication, acknowledge, automatic and manual resolution), hysteresis,
** staleness by tick (per attribute and per entity), targets by tag and by area from the
** catalogue, rule replace and delete, tenants, a restart that does not raise twice, and
** concurrent evaluation.
*/
#include "alerts/alerts.h"
#include "core/clock.h"
#include "core/test.h"
#include "ingest/ingest.h"
#include "ingest/sources.h"

#include <jansson.h>

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct env {
    char *dir;
    char mpath[512], sdir[512];
    struct meta *m;
    struct store *st;
    struct catalog *c;
    struct ingest *ig;
    struct alerts *al;
};

static int env_open(struct env *e)
{
    struct store_opts so;
    memset(&so, 0, sizeof(so));
    if (!e->dir)
        e->dir = test_tmpdir("alerts");
    snprintf(e->mpath, sizeof(e->mpath), "%s/meta.db", e->dir);
    snprintf(e->sdir, sizeof(e->sdir), "%s/store", e->dir);
    if (meta_open(e->mpath, &e->m) || store_open(e->sdir, &so, &e->st) ||
        catalog_open(e->m, e->st, &e->c) || store_recover(e->st, NULL) ||
        ingest_new(e->c, e->st, e->m, NULL, &e->ig) || alerts_open(e->m, e->c, e->st, &e->al))
        return -1;
    return 0;
}

static void env_close(struct env *e)
{
    alerts_free(e->al);
    ingest_free(e->ig);
    store_close(e->st);
    catalog_free(e->c);
    meta_close(e->m);
    e->al = NULL;
    e->ig = NULL;
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

static int put(struct env *e, const char *tenant, const char *json)
{
    char id[64], err[512];
    int rc = alerts_rule_put(e->al, tenant, json, strlen(json), 0, id, sizeof(id), err, sizeof(err));
    if (rc)
        printf("  rule refused: %s\n", err);
    return rc;
}

static void val(struct env *e, const char *tenant, const char *id, const char *type,
                const char *attr, double v, int64_t ts)
{
    struct ingest_update x = {.entity = id, .type = type, .attr = attr,
        .vt = VT_F64, .v = {.f = v}, .ts = ts, .sid = 0, .source = NULL};
    alerts_on_values(e->al, tenant, &x, 1);
}

/* The alerts of tenant matching the filter state (NULL = all), as a JSON array (new ref). */
static json_t *list(struct env *e, const char *tenant, const char *state)
{
    struct alerts_filter f;
    memset(&f, 0, sizeof(f));
    f.state = state;
    struct buf b;
    buf_init(&b, 0);
    alerts_list_json(e->al, tenant, &f, &b);
    json_t *o = json_loadb(b.p, b.len, 0, NULL);
    buf_release(&b);
    json_t *a = json_incref(json_object_get(o, "alerts"));
    json_decref(o);
    return a;
}

static const char *field(json_t *arr, size_t i, const char *k)
{
    return json_string_value(json_object_get(json_array_get(arr, i), k));
}

#define PM25_RULE                                                                                  \
    "{\"id\":\"pm25\",\"kind\":\"threshold\",\"severity\":\"high\","                             \
    "\"target\":{\"type\":\"air\",\"attr\":\"pm25\"},"                                            \
    "\"condition\":{\"op\":\">\",\"raise\":50,\"clear\":40,\"for\":\"30m\"}}"

#define MIN 60000LL

static void lifecycle_with_hysteresis(void)
{
    struct env e = {0};
    REQUIRE(env_open(&e) == 0);
    CHECK(!alerts_active(e.al));
    REQUIRE(put(&e, "paris", PM25_RULE) == 0);
    CHECK(alerts_active(e.al));
    int64_t t = 1700000000000LL;
    val(&e, "paris", "a1", "air", "pm25", 55, t);
    val(&e, "paris", "a1", "air", "pm25", 60, t + 20 * MIN); /* not yet 30 min */
    json_t *l = list(&e, "paris", NULL);
    CHECK_EQ_INT((int)json_array_size(l), 0);
    json_decref(l);
    val(&e, "paris", "a1", "air", "pm25", 58, t + 30 * MIN); /* held 30 min: raise */
    val(&e, "paris", "a1", "air", "pm25", 70, t + 31 * MIN); /* still high: the same alert */
    val(&e, "paris", "a1", "air", "pm25", 45, t + 32 * MIN); /* between clear and raise: open */
    l = list(&e, "paris", "open");
    REQUIRE(json_array_size(l) == 1);
    CHECK(!strcmp(field(l, 0, "state"), "open"));
    CHECK(!strcmp(field(l, 0, "severity"), "high"));
    CHECK(!strcmp(field(l, 0, "entity"), "a1"));
    CHECK(json_real_value(json_object_get(json_array_get(l, 0), "value")) == 58);
    char id[32];
    snprintf(id, sizeof(id), "%s", field(l, 0, "id"));
    json_decref(l);
    /* acknowledge, twice: the second is refused */
    struct buf b;
    buf_init(&b, 0);
    char err[256];
    CHECK_EQ_INT(alerts_ack(e.al, "paris", id, "operator-1", "on it", &b, err, sizeof(err)), 0);
    CHECK(strstr(b.p, "\"acknowledged\"") && strstr(b.p, "operator-1") && strstr(b.p, "on it"));
    buf_reset(&b);
    CHECK_EQ_INT(alerts_ack(e.al, "paris", id, "x", NULL, &b, err, sizeof(err)), VG_EINVAL);
    CHECK_EQ_INT(alerts_ack(e.al, "lyon", id, "x", NULL, &b, err, sizeof(err)), VG_ENOENT);
    CHECK_EQ_INT(alerts_ack(e.al, "paris", "999", "x", NULL, &b, err, sizeof(err)), VG_ENOENT);
    buf_release(&b);
    /* the condition clears: resolved automatically, the acknowledgement kept */
    val(&e, "paris", "a1", "air", "pm25", 39, t + 40 * MIN);
    l = list(&e, "paris", NULL);
    REQUIRE(json_array_size(l) == 1);
    CHECK(!strcmp(field(l, 0, "state"), "resolved"));
    CHECK(!strcmp(field(l, 0, "resolvedBy"), "auto"));
    CHECK(!strcmp(field(l, 0, "acknowledgedBy"), "operator-1"));
    json_decref(l);
    /* high again: a second alert */
    val(&e, "paris", "a1", "air", "pm25", 80, t + 50 * MIN);
    val(&e, "paris", "a1", "air", "pm25", 80, t + 90 * MIN);
    l = list(&e, "paris", "open");
    CHECK_EQ_INT((int)json_array_size(l), 1);
    json_decref(l);
    struct alerts_stats st;
    alerts_get_stats(e.al, &st);
    CHECK(st.raised == 2 && st.resolved == 1 && st.open == 1 && st.rules == 1);
    env_done(&e);
}

static void restart_does_not_raise_twice(void)
{
    struct env e = {0};
    REQUIRE(env_open(&e) == 0);
    REQUIRE(put(&e, "paris", PM25_RULE) == 0);
    int64_t t = 1700000000000LL;
    val(&e, "paris", "a1", "air", "pm25", 90, t);
    val(&e, "paris", "a1", "air", "pm25", 90, t + 31 * MIN);
    json_t *l = list(&e, "paris", "open");
    REQUIRE(json_array_size(l) == 1);
    CHECK(!strcmp(field(l, 0, "raisedAt"), "2023-11-14T22:44:20.000Z"));
    json_decref(l);
    env_close(&e);
    REQUIRE(env_open(&e) == 0); /* the rule and the open alert come back from meta */
    CHECK(alerts_active(e.al));
    val(&e, "paris", "a1", "air", "pm25", 95, t + 40 * MIN);
    val(&e, "paris", "a1", "air", "pm25", 95, t + 80 * MIN);
    l = list(&e, "paris", NULL);
    CHECK_EQ_INT((int)json_array_size(l), 1); /* still the one alert */
    json_decref(l);
    val(&e, "paris", "a1", "air", "pm25", 10, t + 90 * MIN);
    l = list(&e, "paris", NULL);
    REQUIRE(json_array_size(l) == 1);
    CHECK(!strcmp(field(l, 0, "state"), "resolved"));
    CHECK(!strcmp(field(l, 0, "raisedAt"), "2023-11-14T22:44:20.000Z")); /* kept across */
    json_decref(l);
    /* and the next id continues after the loaded ones */
    val(&e, "paris", "a1", "air", "pm25", 95, t + 100 * MIN);
    val(&e, "paris", "a1", "air", "pm25", 95, t + 140 * MIN);
    l = list(&e, "paris", "open");
    REQUIRE(json_array_size(l) == 1);
    CHECK(!strcmp(field(l, 0, "id"), "2"));
    json_decref(l);
    env_done(&e);
}

static void manual_resolve_waits_for_clear(void)
{
    struct env e = {0};
    REQUIRE(env_open(&e) == 0);
    REQUIRE(put(&e, "t", "{\"id\":\"hot\",\"kind\":\"threshold\",\"target\":{\"type\":\"x\","
                         "\"attr\":\"v\"},\"condition\":{\"op\":\">\",\"raise\":10}}") == 0);
    val(&e, "t", "e", "x", "v", 11, 1000);
    json_t *l = list(&e, "t", "open");
    REQUIRE(json_array_size(l) == 1);
    struct buf b;
    buf_init(&b, 0);
    char err[128];
    CHECK_EQ_INT(alerts_resolve(e.al, "t", field(l, 0, "id"), "op", "false alarm", &b, err,
                                sizeof(err)), 0);
    json_decref(l);
    val(&e, "t", "e", "x", "v", 12, 2000); /* still above: no new alert */
    l = list(&e, "t", NULL);
    CHECK_EQ_INT((int)json_array_size(l), 1);
    CHECK(!strcmp(field(l, 0, "resolvedBy"), "op"));
    json_decref(l);
    val(&e, "t", "e", "x", "v", 5, 3000);
    val(&e, "t", "e", "x", "v", 15, 4000); /* cleared, then above again: a new alert */
    l = list(&e, "t", "open");
    CHECK_EQ_INT((int)json_array_size(l), 1);
    json_decref(l);
    buf_release(&b);
    env_done(&e);
}

static void stale_by_tick(void)
{
    struct env e = {0};
    REQUIRE(env_open(&e) == 0);
    REQUIRE(put(&e, "t", "{\"id\":\"silent\",\"kind\":\"stale\",\"target\":{\"type\":\"noise\"},"
                         "\"condition\":{\"after\":\"1h\"}}") == 0);
    REQUIRE(put(&e, "t", "{\"id\":\"silent-laeq\",\"kind\":\"stale\",\"target\":{\"type\":"
                         "\"noise\",\"attr\":\"LAeq\"},\"condition\":{\"after\":\"2h\"}}") == 0);
    int64_t t = 1700000000000LL;
    val(&e, "t", "n1", "noise", "LAeq", 60, t);
    val(&e, "t", "n1", "noise", "LAmax", 70, t);
    val(&e, "t", "n2", "noise", "LAeq", 60, t + 50 * MIN);
    alerts_tick(e.al, t + 59 * MIN);
    json_t *l = list(&e, "t", NULL);
    CHECK_EQ_INT((int)json_array_size(l), 0);
    json_decref(l);
    alerts_tick(e.al, t + 61 * MIN); /* n1 silent for an hour: one alert for the entity */
    alerts_tick(e.al, t + 62 * MIN);
    l = list(&e, "t", "open");
    REQUIRE(json_array_size(l) == 1);
    CHECK(!strcmp(field(l, 0, "entity"), "n1") && !strcmp(field(l, 0, "rule"), "silent"));
    CHECK(!strcmp(field(l, 0, "attr"), ""));
    json_decref(l);
    alerts_tick(e.al, t + 121 * MIN); /* n2 too, and n1's LAeq for 2 h */
    l = list(&e, "t", "open");
    CHECK_EQ_INT((int)json_array_size(l), 3);
    json_decref(l);
    val(&e, "t", "n1", "noise", "LAmax", 71, t + 122 * MIN); /* n1 is back (not its LAeq) */
    l = list(&e, "t", "open");
    CHECK_EQ_INT((int)json_array_size(l), 2);
    json_decref(l);
    env_done(&e);
}

static void targets_by_tag_and_area(void)
{
    struct env e = {0};
    REQUIRE(env_open(&e) == 0);
    struct ingest_result res;
    const char *lp = "noise,id=n1,district=75012 LAeq=50,lat=48.848,lon=2.396 1000\n"
                     "noise,id=n2,district=75011 LAeq=50,lat=48.858,lon=2.380 1000\n"
                     "noise,id=n3,district=75012 LAeq=50,lat=48.835,lon=2.300 1000\n";
    REQUIRE(ingest_lp(e.ig, "t", "test", lp, strlen(lp), LP_MS, 1000, &res) == 0);
    /* 75012 only; around Place de la Nation only (a box that holds n1, not n3) */
    REQUIRE(put(&e, "t", "{\"id\":\"d12\",\"kind\":\"threshold\",\"target\":{\"type\":\"noise\","
                         "\"attr\":\"LAeq\",\"where\":{\"district\":\"75012\"}},\"condition\":"
                         "{\"op\":\">\",\"raise\":70}}") == 0);
    REQUIRE(put(&e, "t", "{\"id\":\"nation\",\"kind\":\"threshold\",\"target\":{\"type\":"
                         "\"noise\",\"attr\":\"LAeq\",\"area\":{\"type\":\"Polygon\","
                         "\"coordinates\":[[[2.38,48.84],[2.41,48.84],[2.41,48.86],[2.38,48.86],"
                         "[2.38,48.84]]]}},\"condition\":{\"op\":\">\",\"raise\":70}}") == 0);
    val(&e, "t", "n1", "noise", "LAeq", 80, 2000); /* 75012 and in the area: 2 alerts */
    val(&e, "t", "n2", "noise", "LAeq", 80, 2000); /* 75011, in the area: 1 */
    val(&e, "t", "n3", "noise", "LAeq", 80, 2000); /* 75012, outside: 1 */
    json_t *l = list(&e, "t", "open");
    REQUIRE(json_array_size(l) == 4);
    int n1 = 0, n2 = 0, n3 = 0;
    for (size_t i = 0; i < 4; i++) {
        const char *ent = field(l, i, "entity"), *rule = field(l, i, "rule");
        n1 += !strcmp(ent, "n1");
        n2 += !strcmp(ent, "n2") && !strcmp(rule, "nation");
        n3 += !strcmp(ent, "n3") && !strcmp(rule, "d12");
    }
    CHECK(n1 == 2 && n2 == 1 && n3 == 1);
    json_decref(l);
    env_done(&e);
}

static void rules_put_replace_delete_tenants(void)
{
    struct env e = {0};
    REQUIRE(env_open(&e) == 0);
    char id[64], err[512];
    const char *bad = "{\"id\":\"x\",\"kind\":\"threshold\",\"target\":{\"type\":\"air\"},"
                      "\"condition\":{\"op\":\">\",\"raise\":1}}"; /* no attr */
    CHECK_EQ_INT(alerts_rule_put(e.al, "t", bad, strlen(bad), 0, id, sizeof(id), err, sizeof(err)),
                 VG_EINVAL);
    CHECK(strstr(err, "attr") != NULL);
    REQUIRE(put(&e, "paris", PM25_RULE) == 0);
    CHECK_EQ_INT(put(&e, "paris", PM25_RULE), VG_EEXIST);
    CHECK_EQ_INT(put(&e, "lyon", PM25_RULE), 0); /* another tenant, the same id */
    CHECK_EQ_INT(alerts_rule_put(e.al, "paris", PM25_RULE, strlen(PM25_RULE), 1, id, sizeof(id),
                                 err, sizeof(err)), 0);
    const char *nope = "{\"id\":\"nope\",\"kind\":\"stale\",\"target\":{\"type\":\"a\"},"
                       "\"condition\":{\"after\":\"1h\"}}";
    CHECK_EQ_INT(alerts_rule_put(e.al, "paris", nope, strlen(nope), 1, id, sizeof(id), err,
                                 sizeof(err)), VG_ENOENT);
    /* lyon's value does not reach paris' rule */
    val(&e, "lyon", "a1", "air", "pm25", 99, 0);
    val(&e, "lyon", "a1", "air", "pm25", 99, 31 * MIN);
    json_t *l = list(&e, "paris", NULL);
    CHECK_EQ_INT((int)json_array_size(l), 0);
    json_decref(l);
    l = list(&e, "lyon", "open");
    CHECK_EQ_INT((int)json_array_size(l), 1);
    json_decref(l);
    /* replacing lyon's rule resolves its open alert; deleting leaves none open */
    CHECK_EQ_INT(alerts_rule_put(e.al, "lyon", PM25_RULE, strlen(PM25_RULE), 1, id, sizeof(id),
                                 err, sizeof(err)), 0);
    l = list(&e, "lyon", NULL);
    REQUIRE(json_array_size(l) == 1);
    CHECK(!strcmp(field(l, 0, "resolvedBy"), "rule changed"));
    json_decref(l);
    val(&e, "lyon", "a1", "air", "pm25", 99, 40 * MIN);
    val(&e, "lyon", "a1", "air", "pm25", 99, 80 * MIN);
    CHECK_EQ_INT(alerts_rule_delete(e.al, "lyon", "pm25"), 0);
    CHECK_EQ_INT(alerts_rule_delete(e.al, "lyon", "pm25"), VG_ENOENT);
    l = list(&e, "lyon", "open");
    CHECK_EQ_INT((int)json_array_size(l), 0);
    json_decref(l);
    val(&e, "lyon", "a1", "air", "pm25", 99, 200 * MIN); /* no rule any more: nothing */
    struct buf b;
    buf_init(&b, 0);
    alerts_rules_json(e.al, "paris", NULL, &b);
    CHECK(strstr(b.p, "\"pm25\"") != NULL);
    buf_reset(&b);
    alerts_rules_json(e.al, "lyon", NULL, &b);
    CHECK(!strcmp(b.p, "{\"rules\":[]}\n"));
    CHECK_EQ_INT(alerts_rules_json(e.al, "lyon", "pm25", &b), VG_ENOENT);
    /* many rules, deleted out of order (the last one moves into the gap): each is found by its
    ** tenant and id, before and after a restart */
    enum { MANY = 300 };
    for (int i = 0; i < MANY; i++) {
        char json[256];
        snprintf(json, sizeof(json), "{\"id\":\"r%d\",\"name\":\"rule number %d\",\"kind\":"
                 "\"stale\",\"target\":{\"type\":\"air\",\"attr\":\"pm25\"},\"condition\":"
                 "{\"after\":\"1h\"}}", i, i);
        REQUIRE(put(&e, i % 2 ? "lyon" : "paris", json) == 0);
    }
    for (int i = 0; i < MANY; i += 3) {
        char rid[16];
        snprintf(rid, sizeof(rid), "r%d", i);
        CHECK_EQ_INT(alerts_rule_delete(e.al, i % 2 ? "lyon" : "paris", rid), 0);
    }
    for (int pass = 0; pass < 2; pass++) {
        int found = 0, right = 0;
        for (int i = 0; i < MANY; i++) {
            char rid[16], name[32];
            snprintf(rid, sizeof(rid), "r%d", i);
            snprintf(name, sizeof(name), "\"rule number %d\"", i);
            buf_reset(&b);
            int rc = alerts_rules_json(e.al, i % 2 ? "lyon" : "paris", rid, &b);
            found += rc == 0;
            right += rc == (i % 3 ? 0 : VG_ENOENT) && (rc || strstr(b.p, name) != NULL);
            /* never in the other tenant */
            CHECK_EQ_INT(alerts_rules_json(e.al, i % 2 ? "paris" : "lyon", rid, &b), VG_ENOENT);
        }
        CHECK_EQ_INT(found, MANY - MANY / 3);
        CHECK_EQ_INT(right, MANY);
        env_close(&e);
        REQUIRE(env_open(&e) == 0);
    }
    buf_release(&b);
    env_done(&e);
}

struct racer {
    struct env *e;
    int k;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    char id[16];
    for (int i = 0; i < 20000; i++) {
        snprintf(id, sizeof(id), "e%d", i % 50);
        val(r->e, "t", id, "x", "v", (i / 50) % 2 ? 20 : 0, (int64_t)i * 10 + r->k);
        if (i % 1000 == 0)
            alerts_tick(r->e->al, 1700000000000LL);
    }
    return NULL;
}

static void concurrent_evaluation(void)
{
    struct env e = {0};
    REQUIRE(env_open(&e) == 0);
    REQUIRE(put(&e, "t", "{\"id\":\"hot\",\"kind\":\"threshold\",\"target\":{\"type\":\"x\","
                         "\"attr\":\"v\"},\"condition\":{\"op\":\">\",\"raise\":10}}") == 0);
    REQUIRE(put(&e, "t", "{\"id\":\"silent\",\"kind\":\"stale\",\"target\":{\"type\":\"x\"},"
                         "\"condition\":{\"after\":\"1s\"}}") == 0);
    struct racer r[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        r[i] = (struct racer){&e, i};
        REQUIRE(pthread_create(&th[i], NULL, race, &r[i]) == 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    struct alerts_stats st;
    alerts_get_stats(e.al, &st);
    /* at most one open alert per (rule, series) at any time */
    CHECK(st.open <= 100);
    CHECK(st.raised >= 50 && st.raised - st.resolved == st.open);
    CHECK(st.evaluations > 0);
    env_done(&e);
}

/* The listener hears every change once, in order, with the alert's JSON. */
struct heard {
    char events[32][16];
    int severity[32];
    int n;
};

static void hear(void *arg, const struct alerts_change *c, uint32_t n)
{
    struct heard *h = arg;
    for (uint32_t i = 0; i < n; i++)
        if (h->n < 32 && !strcmp(c[i].tenant, "paris") && !strcmp(c[i].entity, "a1") &&
            !strcmp(c[i].type, "air") && strstr(c[i].json, "\"rule\":\"pm25\"")) {
            snprintf(h->events[h->n], sizeof(h->events[0]), "%s", c[i].event);
            h->severity[h->n++] = c[i].severity;
        }
}

static void listener_escalation_flapping(void)
{
    struct env e = {0};
    REQUIRE(env_open(&e) == 0);
    struct heard h;
    memset(&h, 0, sizeof(h));
    struct alerts_listener l = {hear, &h};
    alerts_set_listener(e.al, &l);
    struct alerts_policy pol = {10 * MIN, 60 * MIN, 4};
    alerts_set_policy(e.al, &pol);
    REQUIRE(put(&e, "paris", PM25_RULE) == 0);
    int64_t t = 1700000000000LL;
    val(&e, "paris", "a1", "air", "pm25", 55, t);
    val(&e, "paris", "a1", "air", "pm25", 60, t + 30 * MIN); /* raised */
    REQUIRE(h.n == 1);
    CHECK(!strcmp(h.events[0], "raised"));
    CHECK_EQ_INT(h.severity[0], 3); /* high */
    /* nobody acknowledges: escalation after 10 min of wall clock, once per delay, to critical */
    int64_t now = clock_now_ms();
    alerts_tick(e.al, now + 5 * MIN);
    CHECK_EQ_INT(h.n, 1);
    alerts_tick(e.al, now + 11 * MIN);
    REQUIRE(h.n == 2);
    CHECK(!strcmp(h.events[1], "escalated"));
    CHECK_EQ_INT(h.severity[1], 4); /* critical */
    alerts_tick(e.al, now + 25 * MIN); /* critical already: no further escalation */
    CHECK_EQ_INT(h.n, 2);
    json_t *a = list(&e, "paris", "open");
    REQUIRE(json_array_size(a) == 1);
    CHECK(!strcmp(field(a, 0, "severity"), "critical"));
    CHECK_EQ_INT((int)json_integer_value(json_object_get(json_array_get(a, 0), "escalations")), 1);
    json_decref(a);
    /* flapping: raised at +30, cleared, raised, cleared within the hour: 4 transitions */
    val(&e, "paris", "a1", "air", "pm25", 30, t + 35 * MIN); /* clear: 2nd transition */
    CHECK(!strcmp(h.events[h.n - 1], "resolved"));
    val(&e, "paris", "a1", "air", "pm25", 55, t + 36 * MIN);
    val(&e, "paris", "a1", "air", "pm25", 56, t + 66 * MIN); /* raised again: 3rd */
    CHECK(!strcmp(h.events[h.n - 1], "raised"));
    int before = h.n;
    val(&e, "paris", "a1", "air", "pm25", 30, t + 67 * MIN); /* 4th within 60 min: flapping */
    REQUIRE(h.n == before + 1);
    CHECK(!strcmp(h.events[h.n - 1], "flapping"));
    a = list(&e, "paris", "open");
    REQUIRE(json_array_size(a) == 1); /* held open */
    CHECK(json_is_true(json_object_get(json_array_get(a, 0), "flapping")));
    json_decref(a);
    val(&e, "paris", "a1", "air", "pm25", 55, t + 68 * MIN);
    val(&e, "paris", "a1", "air", "pm25", 57, t + 98 * MIN); /* raises again: folded in */
    CHECK_EQ_INT(h.n, before + 1);
    a = list(&e, "paris", NULL);
    CHECK_EQ_INT((int)json_array_size(a), 2); /* no third alert */
    json_decref(a);
    val(&e, "paris", "a1", "air", "pm25", 20, t + 99 * MIN); /* clear, still flapping: open */
    alerts_tick(e.al, t + 120 * MIN); /* clear for 21 min only */
    a = list(&e, "paris", "open");
    CHECK_EQ_INT((int)json_array_size(a), 1);
    json_decref(a);
    alerts_tick(e.al, t + 160 * MIN); /* clear for a whole window: resolved */
    a = list(&e, "paris", "open");
    CHECK_EQ_INT((int)json_array_size(a), 0);
    json_decref(a);
    CHECK(!strcmp(h.events[h.n - 1], "resolved"));
    struct alerts_stats st;
    alerts_get_stats(e.al, &st);
    CHECK_EQ_INT((int)st.escalated, 1);
    CHECK_EQ_INT((int)st.flapping, 1);
    env_done(&e);
}

static void pos(struct env *e, const char *tenant, const char *id, const char *type, double lon,
                double lat, int64_t ts)
{
    struct ingest_update x = {.entity = id, .type = type, .attr = "location",
        .vt = VT_GEO, .v = {.f = 0}, .ts = ts, .sid = 0, .source = NULL};
    x.v.geo.lon = lon;
    x.v.geo.lat = lat;
    alerts_on_values(e->al, tenant, &x, 1);
}

#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

/* A water meter's night minimum rises (a leak from day 9, 10:00 local): raised when the second
** excess night closes, within 72 h of the start; staleness of the meter is not confused. */
static void nightmin_leak_through_engine(void)
{
    setenv("TZ", "Europe/Paris", 1);
    tzset();
    struct env e = {0};
    REQUIRE(env_open(&e) == 0);
    REQUIRE(put(&e, "t", "{\"id\":\"leak\",\"kind\":\"nightmin\",\"severity\":\"high\","
                         "\"target\":{\"type\":\"Building\",\"attr\":\"water\"},"
                         "\"condition\":{\"nights\":2,\"learn\":5}}") == 0);
    int64_t day0 = 1780264800000LL; /* 2026-06-01T00:00+02:00 (no DST change around) */
    int64_t leak = day0 + 9 * DAY + 10 * HOUR;
    for (int64_t t = day0; t < day0 + 14 * DAY; t += HOUR) {
        int h = (int)((t - day0) % DAY / HOUR);
        double v = (h >= 1 && h < 5) ? 0.10 : 1.0 + 0.1 * (h % 3);
        if (t >= leak)
            v += 0.25;
        val(&e, "t", "b1", "Building", "water", v, t);
        val(&e, "t", "b2", "Building", "water", (h >= 1 && h < 5) ? 0.2 : 2.0, t); /* no leak */
    }
    json_t *l = list(&e, "t", NULL);
    REQUIRE(json_array_size(l) == 1);
    CHECK(!strcmp(field(l, 0, "entity"), "b1") && !strcmp(field(l, 0, "kind"), "nightmin"));
    int64_t raised = 0;
    const char *ra = field(l, 0, "raisedAt");
    REQUIRE(ra && clock_parse_time(ra, strlen(ra), &raised) == 0);
    CHECK(raised > leak && raised - leak <= 72 * HOUR);
    CHECK(raised == day0 + 11 * DAY + 4 * HOUR); /* the close of the second excess night */
    json_decref(l);
    env_done(&e);
    setenv("TZ", "UTC", 1);
    tzset();
}

/* A truck parks 45 min inside a school's geofence (GPS jitter of a few metres): one dwell alert
** 30 min after arrival, resolved when it leaves; passing through raises nothing. */
static void dwell_through_engine(void)
{
    struct env e = {0};
    REQUIRE(env_open(&e) == 0);
    REQUIRE(put(&e, "t", "{\"id\":\"school\",\"kind\":\"dwell\",\"target\":{\"type\":\"Vehicle\"},"
                         "\"condition\":{\"geofence\":{\"type\":\"Polygon\",\"coordinates\":"
                         "[[[2.390,48.846],[2.394,48.846],[2.394,48.849],[2.390,48.849]]]},"
                         "\"radius_m\":30,\"for\":\"30m\"}}") == 0);
    int64_t t0 = 1780300000000LL;
    double lon, lat = 48.847;
    int64_t t = t0;
    for (int i = 0; i < 12; i++, t += MIN) /* drives in: 2.380 .. 2.391 */
        pos(&e, "t", "truck-1", "Vehicle", 2.380 + i * 0.001, lat, t);
    int64_t arrived = t;
    for (int i = 0; i < 45; i++, t += MIN) /* parked, +-3 m */
        pos(&e, "t", "truck-1", "Vehicle", 2.392 + (i % 3 - 1) * 0.00004, lat, t);
    json_t *l = list(&e, "t", "open");
    REQUIRE(json_array_size(l) == 1);
    int64_t raised = 0;
    const char *ra = field(l, 0, "raisedAt");
    REQUIRE(ra && clock_parse_time(ra, strlen(ra), &raised) == 0);
    if (!(raised >= arrived + 30 * MIN && raised <= arrived + 31 * MIN))
        printf("  raised %lld arrived %lld (+%lld min)\n", (long long)raised, (long long)arrived,
               (long long)((raised - arrived) / MIN));
    CHECK(raised >= arrived + 30 * MIN && raised <= arrived + 31 * MIN);
    CHECK(!strcmp(field(l, 0, "attr"), "location"));
    json_decref(l);
    for (lon = 2.393; lon < 2.400; lon += 0.001, t += MIN) /* leaves */
        pos(&e, "t", "truck-1", "Vehicle", lon, lat, t);
    l = list(&e, "t", "open");
    CHECK_EQ_INT((int)json_array_size(l), 0);
    json_decref(l);
    for (double x = 2.380; x < 2.400; x += 0.0005, t += MIN) /* another passes through */
        pos(&e, "t", "truck-2", "Vehicle", x, lat, t);
    l = list(&e, "t", NULL);
    CHECK_EQ_INT((int)json_array_size(l), 1);
    json_decref(l);
    env_done(&e);
}

/* Noise above 70 and a crowd above 100 in one area within 10 minutes: one alert for the area;
** one clause alone raises nothing; it resolves when a clause stops holding for a window. */
static void composite_through_engine(void)
{
    struct env e = {0};
    REQUIRE(env_open(&e) == 0);
    struct ingest_result res;
    const char *lp = "NoiseLevelObserved,id=n1 LAeq=50,lat=48.848,lon=2.396 1000\n"
                     "CrowdFlowObserved,id=c1 peopleCount=10,lat=48.849,lon=2.395 1000\n"
                     "CrowdFlowObserved,id=c2 peopleCount=10,lat=48.700,lon=2.100 1000\n";
    REQUIRE(ingest_lp(e.ig, "t", "test", lp, strlen(lp), LP_MS, 1000, &res) == 0);
    REQUIRE(put(&e, "t", "{\"id\":\"nation-crowd\",\"kind\":\"composite\",\"target\":{\"area\":"
                         "{\"type\":\"Polygon\",\"coordinates\":[[[2.38,48.84],[2.41,48.84],"
                         "[2.41,48.86],[2.38,48.86],[2.38,48.84]]]}},\"condition\":{\"all\":["
                         "{\"type\":\"NoiseLevelObserved\",\"attr\":\"LAeq\",\"op\":\">\","
                         "\"value\":70},{\"type\":\"CrowdFlowObserved\",\"attr\":\"peopleCount\","
                         "\"op\":\">\",\"value\":100}],\"window\":\"10m\"}}") == 0);
    int64_t t = 1780300000000LL;
    val(&e, "t", "n1", "NoiseLevelObserved", "LAeq", 75, t);
    val(&e, "t", "c2", "CrowdFlowObserved", "peopleCount", 500, t + MIN); /* outside the area */
    json_t *l = list(&e, "t", NULL);
    CHECK_EQ_INT((int)json_array_size(l), 0);
    json_decref(l);
    val(&e, "t", "c1", "CrowdFlowObserved", "peopleCount", 150, t + 5 * MIN);
    l = list(&e, "t", "open");
    REQUIRE(json_array_size(l) == 1);
    CHECK(!strcmp(field(l, 0, "entity"), "nation-crowd") && !strcmp(field(l, 0, "kind"),
                                                                     "composite"));
    json_decref(l);
    val(&e, "t", "c1", "CrowdFlowObserved", "peopleCount", 160, t + 8 * MIN); /* the same one */
    val(&e, "t", "n1", "NoiseLevelObserved", "LAeq", 60, t + 9 * MIN);
    alerts_tick(e.al, t + 30 * MIN); /* no noise above 70 for more than the window */
    l = list(&e, "t", "open");
    CHECK_EQ_INT((int)json_array_size(l), 0);
    json_decref(l);
    l = list(&e, "t", NULL);
    CHECK_EQ_INT((int)json_array_size(l), 1);
    json_decref(l);
    /* flapping: raised and cleared again within the window, the area's alert is held open;
    ** deleting the rule then resolves it and frees the area (the tick must not keep it) */
    struct alerts_policy pol = {0, 60 * MIN, 2};
    alerts_set_policy(e.al, &pol);
    REQUIRE(put(&e, "t", PM25_RULE) == 0); /* another rule: the engine stays active */
    val(&e, "t", "n1", "NoiseLevelObserved", "LAeq", 75, t + 40 * MIN);
    val(&e, "t", "c1", "CrowdFlowObserved", "peopleCount", 150, t + 41 * MIN);
    alerts_tick(e.al, t + 60 * MIN);
    l = list(&e, "t", "open");
    REQUIRE(json_array_size(l) == 1);
    CHECK(json_is_true(json_object_get(json_array_get(l, 0), "flapping")));
    json_decref(l);
    REQUIRE(alerts_rule_delete(e.al, "t", "nation-crowd") == 0);
    alerts_tick(e.al, t + 61 * MIN);
    alerts_tick(e.al, t + 200 * MIN);
    l = list(&e, "t", "open");
    CHECK_EQ_INT((int)json_array_size(l), 0);
    json_decref(l);
    env_done(&e);
}

/* Anomaly: three weeks of a daily pattern learned online, then a spike at a usual hour raises;
** normal days raise nothing. Forecast: a pattern whose forecast peak crosses the rule's value. */
static void anomaly_and_forecast_through_engine(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
    struct env e = {0};
    REQUIRE(env_open(&e) == 0);
    REQUIRE(put(&e, "t", "{\"id\":\"odd\",\"kind\":\"anomaly\",\"target\":{\"type\":\"Meter\","
                         "\"attr\":\"flow\"},\"condition\":{\"score\":6,\"weeks\":3}}") == 0);
    REQUIRE(put(&e, "t", "{\"id\":\"peak\",\"kind\":\"forecast\",\"target\":{\"type\":\"Air\","
                         "\"attr\":\"pm25\"},\"condition\":{\"op\":\">\",\"value\":40,"
                         "\"horizon\":\"24h\"}}") == 0);
    int64_t t0 = 1779062400000LL; /* a Monday, 00:00 UTC */
    uint64_t r = 12345;
    for (int64_t t = t0; t < t0 + 21 * DAY; t += HOUR) {
        int h = (int)((t - t0) % DAY / HOUR);
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        double noise = ((double)(r >> 11) / 9007199254740992.0 - 0.5) * 0.4;
        val(&e, "t", "m1", "Meter", "flow", 10 + 5 * sin(h * 0.2618) + noise, t);
        /* pm25: 20 at night, rising to 35 at 18:00 every day, then 45 in the third week */
        double base = t >= t0 + 14 * DAY ? 30 : 20;
        val(&e, "t", "a1", "Air", "pm25", base + 15 * exp(-(h - 18) * (h - 18) / 8.0) + noise, t);
    }
    json_t *l = list(&e, "t", NULL);
    int anomalies = 0, forecasts = 0;
    for (size_t i = 0; i < json_array_size(l); i++) {
        anomalies += !strcmp(field(l, i, "kind"), "anomaly");
        forecasts += !strcmp(field(l, i, "kind"), "forecast");
    }
    CHECK_EQ_INT(anomalies, 0);
    CHECK(forecasts >= 1); /* the third week's evening peaks reach 45 */
    json_decref(l);
    int64_t t = t0 + 21 * DAY + 10 * HOUR;
    val(&e, "t", "m1", "Meter", "flow", 40, t); /* a spike for the 10:00 hour ... */
    l = list(&e, "t", "open");
    for (size_t i = 0; i < json_array_size(l); i++) /* scored once its hour is complete */
        CHECK(strcmp(field(l, i, "kind"), "anomaly"));
    json_decref(l);
    val(&e, "t", "m1", "Meter", "flow", 10 + 5 * sin(11 * 0.2618), t + HOUR); /* ... 11:00 */
    l = list(&e, "t", "open");
    int spike = 0;
    for (size_t i = 0; i < json_array_size(l); i++)
        spike += !strcmp(field(l, i, "kind"), "anomaly") && !strcmp(field(l, i, "entity"), "m1");
    CHECK_EQ_INT(spike, 1);
    json_decref(l);
    /* the forecast API answers from the kept model */
    struct buf b;
    buf_init(&b, 0);
    CHECK_EQ_INT(alerts_forecast(e.al, "t", "a1", "pm25", 6 * HOUR, 0.9, &b), VG_ENOENT);
    buf_release(&b); /* (a1 is not in the catalogue: values were evaluated, never stored) */
    env_done(&e);
}

/* A leak rule created after the fact, and a restart: the nights are learned from the stored
** history at once (no `learn` nights of waiting), the leak the history shows is raised once,
** and after a restart it is not raised again. */
static void nightmin_learns_from_history(void)
{
    setenv("TZ", "Europe/Paris", 1);
    tzset();
    struct env e = {0};
    REQUIRE(env_open(&e) == 0);
    int64_t day0 = 1780264800000LL; /* 2026-06-01T00:00+02:00 */
    int64_t leak = day0 + 9 * DAY + 10 * HOUR;
    struct buf lp;
    buf_init(&lp, 0);
    for (int64_t t = day0; t < day0 + 12 * DAY; t += HOUR) {
        int h = (int)((t - day0) % DAY / HOUR);
        double v = ((h >= 1 && h < 5) ? 0.10 : 1.0 + 0.1 * (h % 3)) + (t >= leak ? 0.25 : 0);
        buf_printf(&lp, "Building,id=b1 water=%.3f %lld\n", v, (long long)t);
    }
    struct ingest_result res;
    REQUIRE(ingest_lp(e.ig, "t", "test", lp.p, lp.len, LP_MS, 0, &res) == 0 && res.bad == 0);
    buf_release(&lp);
    const char *rule = "{\"id\":\"leak\",\"kind\":\"nightmin\",\"target\":{\"type\":\"Building\","
                       "\"attr\":\"water\"},\"condition\":{\"nights\":2,\"learn\":5}}";
    REQUIRE(put(&e, "t", rule) == 0);
    val(&e, "t", "b1", "Building", "water", 1.35, day0 + 12 * DAY); /* the next value */
    json_t *l = list(&e, "t", "open");
    REQUIRE(json_array_size(l) == 1);
    int64_t raised = 0;
    const char *ra = field(l, 0, "raisedAt");
    REQUIRE(ra && clock_parse_time(ra, strlen(ra), &raised) == 0);
    CHECK(raised == day0 + 11 * DAY + 4 * HOUR);
    json_decref(l);
    env_close(&e);
    REQUIRE(env_open(&e) == 0); /* restart: the open alert is taken back, not raised again */
    val(&e, "t", "b1", "Building", "water", 1.35, day0 + 12 * DAY + HOUR);
    l = list(&e, "t", NULL);
    CHECK_EQ_INT((int)json_array_size(l), 1);
    CHECK(!strcmp(field(l, 0, "state"), "open"));
    json_decref(l);
    env_done(&e);
    setenv("TZ", "UTC", 1);
    tzset();
}

/* A stale rule on the source's cadence: silent for more than 3 x the declared 10 min. */
static void stale_on_source_cadence(void)
{
    struct env e = {0};
    REQUIRE(env_open(&e) == 0);
    struct sources *src;
    REQUIRE(sources_new(&src) == 0);
    REQUIRE(sources_declare(src, "meters", SOURCE_MQTT, "", "water", 10 * MIN, NULL) == 0);
    alerts_set_sources(e.al, src);
    REQUIRE(put(&e, "t", "{\"id\":\"quiet\",\"kind\":\"stale\",\"target\":{\"type\":\"Meter\","
                         "\"attr\":\"flow\"},\"condition\":{\"after\":\"cadence\",\"factor\":3}}") ==
            0);
    int64_t t0 = 1780300000000LL;
    struct ingest_update x = {.entity = "m1", .type = "Meter", .attr = "flow",
        .vt = VT_F64, .v = {.f = 1}, .ts = t0, .sid = 0, .source = "meters"};
    alerts_on_values(e.al, "t", &x, 1);
    struct ingest_update y = {.entity = "m2", .type = "Meter", .attr = "flow",
        .vt = VT_F64, .v = {.f = 1}, .ts = t0, .sid = 0, .source = "undeclared"};
    alerts_on_values(e.al, "t", &y, 1);
    alerts_tick(e.al, t0 + 29 * MIN);
    json_t *l = list(&e, "t", NULL);
    CHECK_EQ_INT((int)json_array_size(l), 0);
    json_decref(l);
    alerts_tick(e.al, t0 + 31 * MIN); /* m1: more than 30 min; m2: no cadence known */
    l = list(&e, "t", "open");
    REQUIRE(json_array_size(l) == 1);
    CHECK(!strcmp(field(l, 0, "entity"), "m1"));
    json_decref(l);
    alerts_tick(e.al, t0 + 48 * HOUR);
    l = list(&e, "t", NULL);
    CHECK_EQ_INT((int)json_array_size(l), 1);
    json_decref(l);
    env_done(&e);
    sources_free(src);
}

/* One stored point of series sid to the engine, as the ingest hook hands it (no names). */
static void point(struct env *e, const char *tenant, uint32_t sid, double v, int64_t ts)
{
    struct store_point p = {.sid = sid, .ts = ts, .v = {.f = v}};
    alerts_on_points(e->al, tenant, NULL, &p, 1);
}

/* Points keyed by sid only (the ingest hook's points): the engine finds the names and the type in
** the catalogue. Values inside a series' quiet band are settled without evaluating its rules,
** with the same outcome: an older value after settled ones is still ignored, hysteresis holds, a
** change of the rules voids the bands, evaluations count the settled values. */
static void values_by_sid_and_quiet_bands(void)
{
    struct env e = {0};
    REQUIRE(env_open(&e) == 0);
    uint32_t sid = 0;
    REQUIRE(catalog_resolve(e.c, "t", 1, "air", 3, "a1", 2, NULL, 0, "pm25", 4, VT_F64, &sid) ==
            VG_OK);
    REQUIRE(catalog_sync(e.c) == VG_OK);
    REQUIRE(put(&e, "t", PM25_RULE) == 0);
    int64_t t = 1700000000000LL;
    struct {
        double v;
        int64_t at;
    } seq[] = {
        {30, 0},                  /* first sight: names from the catalogue, evaluated */
        {35, MIN},                /* inside (-inf, 50]: settled */
        {32, 2 * MIN},            /* settled */
        {60, 90 * 1000},          /* older than the newest settled value: ignored */
        {55, 3 * MIN},            /* pending from 3 min */
        {58, 31 * MIN + 30000},   /* 28.5 min held (from 90 s it would be 30): nothing */
        {59, 33 * MIN},           /* 30 min held: raised */
        {45, 34 * MIN},           /* raised, inside (40, +inf): settled, stays open */
        {41, 35 * MIN},           /* settled */
    };
    for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
        point(&e, "t", sid, seq[i].v, t + seq[i].at);
        json_t *l = list(&e, "t", "open");
        int want_open = i >= 6;
        CHECK_EQ_INT((int)json_array_size(l), want_open);
        if (want_open && json_array_size(l) == 1) {
            CHECK(!strcmp(field(l, 0, "entity"), "a1"));
            CHECK(json_real_value(json_object_get(json_array_get(l, 0), "value")) == 59);
        }
        json_decref(l);
    }
    struct alerts_stats st;
    alerts_get_stats(e.al, &st);
    CHECK(st.evaluations == 9); /* one rule, nine values: settled ones count */
    CHECK(st.settled == 4);     /* 35, 32 (not raised); 45, 41 (raised, not clearing) */
    /* the same series by names (sid 0, as an NGSI-LD change): older than the settled 41 at
    ** 35 min, so ignored although under the clear level */
    val(&e, "t", "a1", "air", "pm25", 39, t + 34 * MIN + 30000);
    json_t *l0 = list(&e, "t", "open");
    CHECK_EQ_INT((int)json_array_size(l0), 1);
    json_decref(l0);
    /* clears under 40, evaluated (outside the band) */
    point(&e, "t", sid, 39, t + 36 * MIN);
    json_t *l = list(&e, "t", "open");
    CHECK_EQ_INT((int)json_array_size(l), 0);
    json_decref(l);
    /* a new rule voids the bands: 30 was quiet for pm25, it raises low25 at once */
    REQUIRE(put(&e, "t",
                "{\"id\":\"low25\",\"kind\":\"threshold\",\"target\":{\"type\":\"air\","
                "\"attr\":\"pm25\"},\"condition\":{\"op\":\">\",\"raise\":25}}") == 0);
    point(&e, "t", sid, 30, t + 37 * MIN);
    l = list(&e, "t", "open");
    REQUIRE(json_array_size(l) == 1);
    CHECK(!strcmp(field(l, 0, "rule"), "low25"));
    json_decref(l);
    /* a sid the catalogue does not know: dropped */
    point(&e, "t", sid + 1000, 99, t + 38 * MIN);
    l = list(&e, "t", "open");
    CHECK_EQ_INT((int)json_array_size(l), 1);
    json_decref(l);
    env_done(&e);
}

/* Every durable point reaches the rules through the ingest hook's points, whatever the type
** (integers read as integers, the catalogue's type), in input order within one batch: a value that
** leaves the band in the middle of a batch is evaluated, and the ones after it see the new state. */
static void hook_points(void *arg, const char *tenant, const char *source,
                        const struct store_point *p, size_t n)
{
    alerts_on_points(arg, tenant, source, p, n);
}

static void points_through_ingest_hook(void)
{
    struct env e = {0};
    REQUIRE(env_open(&e) == 0);
    struct ingest_hook h = {hook_points, NULL, NULL, e.al};
    ingest_set_hook(e.ig, &h);
    REQUIRE(put(&e, "t", "{\"id\":\"crowd\",\"kind\":\"threshold\",\"target\":{\"type\":"
                         "\"square\",\"attr\":\"people\"},\"condition\":{\"op\":\">\","
                         "\"raise\":100,\"clear\":80}}") == 0);
    struct ingest_result res;
    /* people=...i: integers; s1 crosses 100 at 2000 and back under 80 at 4000; s2 stays low */
    const char *lp = "square,id=s1 people=50i 1000\n"
                     "square,id=s2 people=10i 1000\n"
                     "square,id=s1 people=120i 2000\n"
                     "square,id=s1 people=90i 3000\n"
                     "square,id=s2 people=20i 3000\n"
                     "square,id=s1 people=70i 4000\n"
                     "square,id=s1 people=130i 5000\n";
    REQUIRE(ingest_lp(e.ig, "t", "test", lp, strlen(lp), LP_MS, 0, &res) == 0 && res.bad == 0);
    json_t *l = list(&e, "t", NULL);
    REQUIRE(json_array_size(l) == 2); /* raised at 2000, resolved at 4000; raised at 5000 */
    int open = 0, resolved = 0;
    for (size_t i = 0; i < 2; i++) {
        CHECK(!strcmp(field(l, i, "entity"), "s1"));
        open += !strcmp(field(l, i, "state"), "open");
        resolved += !strcmp(field(l, i, "state"), "resolved");
        if (!strcmp(field(l, i, "state"), "open"))
            CHECK(json_real_value(json_object_get(json_array_get(l, i), "value")) == 130);
    }
    CHECK(open == 1 && resolved == 1);
    json_decref(l);
    struct alerts_stats st;
    alerts_get_stats(e.al, &st);
    CHECK(st.evaluations == 7);
    CHECK(st.settled == 2); /* s1 at 3000 (raised, 90 does not clear); s2 at 3000 */
    /* positions no rule watches are settled too; an alert still takes the entity's latest
    ** position, from the store */
    REQUIRE(put(&e, "t", "{\"id\":\"heavy\",\"kind\":\"threshold\",\"target\":{\"type\":"
                         "\"truck\",\"attr\":\"load\"},\"condition\":{\"op\":\">\","
                         "\"raise\":500}}") == 0);
    const char *trucks[2] = {"truck,id=t1 load=100,lat=48.80,lon=2.30 1000\n"
                             "truck,id=t1 load=200,lat=48.81,lon=2.31 2000\n"
                             "truck,id=t1 load=300,lat=48.83,lon=2.33 3000\n",
                             "truck,id=t1 load=900,lat=48.85,lon=2.35 4000\n"};
    alerts_get_stats(e.al, &st);
    uint64_t settled0 = st.settled;
    for (int k = 0; k < 2; k++)
        REQUIRE(ingest_lp(e.ig, "t", "test", trucks[k], strlen(trucks[k]), LP_MS, 0, &res) == 0 &&
                res.bad == 0);
    alerts_get_stats(e.al, &st);
    CHECK(st.settled - settled0 == 5); /* loads at 2000, 3000; positions at 2000, 3000, 4000 */
    l = list(&e, "t", "open");
    json_t *heavy = NULL;
    for (size_t i = 0; i < json_array_size(l); i++)
        if (!strcmp(field(l, i, "rule"), "heavy"))
            heavy = json_array_get(l, i);
    REQUIRE(heavy != NULL);
    json_t *loc = json_object_get(heavy, "location");
    CHECK(json_real_value(json_array_get(loc, 0)) == 2.35 &&
          json_real_value(json_array_get(loc, 1)) == 48.85);
    json_decref(l);
    /* a stale rule created once a sensor is silent: its silence counts from its last stored
    ** value (the tick binds the series again after the change of rules) */
    const char *quiet = "noise,id=q1 LAeq=50 1000\nnoise,id=q2 LAeq=50 1000\n";
    REQUIRE(ingest_lp(e.ig, "t", "test", quiet, strlen(quiet), LP_MS, 0, &res) == 0);
    REQUIRE(put(&e, "t", "{\"id\":\"mute\",\"kind\":\"stale\",\"target\":{\"type\":"
                         "\"noise\",\"attr\":\"LAeq\",\"ids\":[\"q1\"]},\"condition\":"
                         "{\"after\":\"1h\"}}") == 0);
    alerts_tick(e.al, 1000 + 59 * MIN);
    l = list(&e, "t", "open");
    int muted = 0;
    for (size_t i = 0; i < json_array_size(l); i++)
        muted += !strcmp(field(l, i, "rule"), "mute");
    CHECK_EQ_INT(muted, 0);
    json_decref(l);
    alerts_tick(e.al, 1000 + 61 * MIN);
    l = list(&e, "t", "open");
    for (size_t i = 0; i < json_array_size(l); i++)
        if (!strcmp(field(l, i, "rule"), "mute")) {
            muted++;
            CHECK(!strcmp(field(l, i, "entity"), "q1"));
        }
    CHECK_EQ_INT(muted, 1);
    json_decref(l);
    /* after a restart, q1's next value clears that alert (the value that binds the series
    ** again must not be taken for an old one) */
    env_close(&e);
    REQUIRE(env_open(&e) == 0);
    h.arg = e.al;
    ingest_set_hook(e.ig, &h);
    char line[128];
    snprintf(line, sizeof(line), "noise,id=q1 LAeq=51 %d\n", 1000 + 120 * (int)MIN);
    REQUIRE(ingest_lp(e.ig, "t", "test", line, strlen(line), LP_MS, 0, &res) == 0);
    l = list(&e, "t", "open");
    muted = 0;
    for (size_t i = 0; i < json_array_size(l); i++)
        muted += !strcmp(field(l, i, "rule"), "mute");
    CHECK_EQ_INT(muted, 0);
    json_decref(l);
    /* a stale rule on a string attribute: its values keep it alive */
    REQUIRE(put(&e, "t", "{\"id\":\"mute-status\",\"kind\":\"stale\",\"target\":{\"type\":"
                         "\"dev\",\"attr\":\"status\"},\"condition\":{\"after\":\"1h\"}}") == 0);
    for (int k = 0; k <= 12; k++) {
        snprintf(line, sizeof(line), "dev,id=d1 status=\"ok\" %d\n", 1000 + k * 10 * (int)MIN);
        REQUIRE(ingest_lp(e.ig, "t", "test", line, strlen(line), LP_MS, 0, &res) == 0 &&
                res.bad == 0);
        alerts_tick(e.al, 1000 + k * 10 * (int)MIN + MIN);
    }
    l = list(&e, "t", NULL);
    int status = 0;
    for (size_t i = 0; i < json_array_size(l); i++)
        status += !strcmp(field(l, i, "rule"), "mute-status");
    CHECK_EQ_INT(status, 0);
    json_decref(l);
    alerts_tick(e.al, 1000 + 120 * (int)MIN + 61 * MIN); /* silent for an hour: raised */
    l = list(&e, "t", "open");
    for (size_t i = 0; i < json_array_size(l); i++)
        status += !strcmp(field(l, i, "rule"), "mute-status");
    CHECK_EQ_INT(status, 1);
    json_decref(l);
    env_done(&e);
}

int main(void)
{
    TEST_BEGIN("alerts");
    TEST_RUN(lifecycle_with_hysteresis);
    TEST_RUN(values_by_sid_and_quiet_bands);
    TEST_RUN(points_through_ingest_hook);
    TEST_RUN(restart_does_not_raise_twice);
    TEST_RUN(manual_resolve_waits_for_clear);
    TEST_RUN(stale_by_tick);
    TEST_RUN(targets_by_tag_and_area);
    TEST_RUN(rules_put_replace_delete_tenants);
    TEST_RUN(concurrent_evaluation);
    TEST_RUN(listener_escalation_flapping);
    TEST_RUN(nightmin_leak_through_engine);
    TEST_RUN(nightmin_learns_from_history);
    TEST_RUN(stale_on_source_cadence);
    TEST_RUN(dwell_through_engine);
    TEST_RUN(composite_through_engine);
    TEST_RUN(anomaly_and_forecast_through_engine);
    return TEST_END();
}
