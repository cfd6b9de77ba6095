/*
** ngsild/subs_test.c: unit tests of ngsild/subs.c: payload validation (precise errors, name
** expansion), matching of changes (entity selectors, triggers, watchedAttributes, q, geoQ,
** expiry, pause), throttling arithmetic, and the durable queue (a notification to a dead
** endpoint survives a close/open and goes away with its subscription). Entities are fakes in the
** stored form of ngsild/entity.h.
*/
#include "core/clock.h"
#include "core/test.h"
#include "meta/meta.h"
#include "ngsild/ldctx.h"
#include "ngsild/subs.h"

#include <time.h>
#include <unistd.h>

#define V LDCTX_DEFAULT_VOCAB

static struct ldctx_reg *reg;
static struct ldctx *core;

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    if (!v)
        printf("bad test JSON: %s: %s\n", text, e.text);
    return v;
}

/* A stored entity of type T with temperature (and humidity when hum >= 0). */
static json_t *ent(const char *id, const char *type, double temp, double hum)
{
    json_t *e = json_pack("{s:s, s:[s], s:s, s:s, s:{s:[{s:s, s:f}]}}", "id", id, "type",
                          type, "createdAt", "2024-01-01T00:00:00.000Z", "modifiedAt",
                          "2024-01-01T00:00:00.000Z", "attrs", V "temperature", "type", "Property",
                          "value", temp);
    if (hum >= 0)
        json_object_set_new(json_object_get(e, "attrs"), V "humidity",
                            json_pack("[{s:s, s:f}]", "type", "Property", "value", hum));
    return e;
}

static json_t *parse_ok(const char *text)
{
    json_t *body = J(text), *out = NULL;
    char err[256] = "";
    int rc = subs_parse(body, core, clock_now_ms(), &out, err, sizeof(err));
    if (rc)
        printf("  unexpected error: %s\n", err);
    json_decref(body);
    return out;
}

static int parse_err(const char *text, const char *member)
{
    json_t *body = J(text), *out = NULL;
    char err[256] = "";
    int rc = subs_parse(body, core, clock_now_ms(), &out, err, sizeof(err));
    json_decref(body);
    json_decref(out);
    if (rc != VG_EINVAL || !strstr(err, member)) {
        printf("  %s -> rc %d err '%s' (want '%s')\n", text, rc, err, member);
        return 0;
    }
    return 1;
}

#define EP "\"notification\":{\"endpoint\":{\"uri\":\"http://127.0.0.1:9/n\"}}"

static void test_validation_errors(void)
{
    CHECK(parse_err("[]", "JSON object"));
    CHECK(parse_err("{\"entities\":[{\"type\":\"T\"}]," EP "}", "type"));
    CHECK(parse_err("{\"type\":\"Subscription\"," EP "}", "entities"));
    CHECK(parse_err("{\"type\":\"Subscription\",\"entities\":[{\"type\":\"T\"}]}", "notification"));
    CHECK(parse_err("{\"type\":\"Subscription\",\"id\":\"x y\",\"entities\":[{\"type\":"
                    "\"T\"}]," EP "}", "id"));
    CHECK(parse_err("{\"type\":\"Subscription\",\"entities\":[{\"id\":\"urn:a:b\"}]," EP "}",
                    "entities[0].type"));
    CHECK(parse_err("{\"type\":\"Subscription\",\"entities\":[{\"type\":\"T\"},{\"type\":\"T\","
                    "\"idPattern\":\"[\"}]," EP "}", "entities[1].idPattern"));
    CHECK(parse_err("{\"type\":\"Subscription\",\"watchedAttributes\":[\"a\",\"\"]," EP "}",
                    "watchedAttributes[1]"));
    CHECK(parse_err("{\"type\":\"Subscription\",\"entities\":[{\"type\":\"T\"}],"
                    "\"q\":\"(a>1\"," EP "}",
                    "q"));
    CHECK(parse_err("{\"type\":\"Subscription\",\"entities\":[{\"type\":\"T\"}],\"geoQ\":{"
                    "\"geometry\":\"Point\",\"coordinates\":[200,1],\"georel\":\"within\"}," EP "}",
                    "geoQ"));
    CHECK(parse_err("{\"type\":\"Subscription\",\"entities\":[{\"type\":\"T\"}],\"notification\":"
                    "{\"endpoint\":{\"uri\":\"mqtt://broker\"}}}", "notification.endpoint.uri"));
    CHECK(parse_err("{\"type\":\"Subscription\",\"entities\":[{\"type\":\"T\"}],\"notification\":"
                    "{\"endpoint\":{\"uri\":\"http://\"}}}", "notification.endpoint.uri"));
    CHECK(parse_err("{\"type\":\"Subscription\",\"entities\":[{\"type\":\"T\"}],\"notification\":"
                    "{\"format\":\"x\",\"endpoint\":{\"uri\":\"http://h/\"}}}",
                    "notification.format"));
    CHECK(parse_err("{\"type\":\"Subscription\",\"entities\":[{\"type\":\"T\"}],\"notification\":"
                    "{\"endpoint\":{\"uri\":\"http://h/\",\"receiverInfo\":[{\"key\":\"A\","
                    "\"value\":\"x\\r\\ny\"}]}}}", "receiverInfo[0].value"));
    CHECK(parse_err("{\"type\":\"Subscription\",\"entities\":[{\"type\":\"T\"}],"
                    "\"throttling\":-2," EP "}",
                    "throttling"));
    CHECK(parse_err("{\"type\":\"Subscription\",\"entities\":[{\"type\":\"T\"}],\"expiresAt\":"
                    "\"2000-01-01T00:00:00Z\"," EP "}", "expiresAt"));
    CHECK(parse_err("{\"type\":\"Subscription\",\"watchedAttributes\":[\"a\"],\"timeInterval\":5,"
                    EP "}", "timeInterval"));
    CHECK(parse_err("{\"type\":\"Subscription\",\"entities\":[{\"type\":\"T\"}],"
                    "\"notificationTrigger\":[\"entityCreated\",\"x\"]," EP "}",
                    "notificationTrigger[1]"));
    /* a name that fits as given but not once expanded (the stored form must reload) */
    char big[1400];
    int n = snprintf(big, sizeof(big), "{\"type\":\"Subscription\",\"watchedAttributes\":[\"");
    memset(big + n, 'a', 1000);
    snprintf(big + n + 1000, sizeof(big) - (size_t)n - 1000, "\"]," EP "}");
    CHECK(parse_err(big, "watchedAttributes[0]"));
}

static void test_validation_expands(void)
{
    json_t *d = parse_ok("{\"type\":\"Subscription\",\"id\":\"urn:ngsi-ld:Subscription:1\","
                         "\"entities\":[{\"type\":\"Room\",\"idPattern\":\"^urn:r:.*\"}],"
                         "\"watchedAttributes\":[\"temperature\"],\"status\":\"failed\","
                         "\"expiresAt\":\"2999-01-01T01:00:00+01:00\","
                         "\"notification\":{\"attributes\":[\"temperature\"],\"format\":"
                         "\"keyValues\",\"timesSent\":5,\"endpoint\":{\"uri\":"
                         "\"mqtt://127.0.0.1:1883/a/b\",\"notifierInfo\":[{\"key\":\"MQTT-QoS\","
                         "\"value\":\"1\"}]}}}");
    REQUIRE(d);
    CHECK(!strcmp(json_string_value(json_object_get(json_array_get(json_object_get(d, "entities"),
                                                                   0), "type")), V "Room"));
    CHECK(!strcmp(json_string_value(json_array_get(json_object_get(d, "watchedAttributes"), 0)),
                  V "temperature"));
    json_t *n = json_object_get(d, "notification");
    CHECK(!strcmp(json_string_value(json_array_get(json_object_get(n, "attributes"), 0)),
                  V "temperature"));
    CHECK(json_object_get(n, "timesSent") == NULL);   /* read-only members dropped */
    CHECK(json_object_get(d, "status") == NULL);
    CHECK(!strcmp(json_string_value(json_object_get(d, "expiresAt")), "2999-01-01T00:00:00.000Z"));
    json_decref(d);
}

static int m(const json_t *doc, const json_t *old, const json_t *new_)
{
    return subs_match(doc, core, old, new_, clock_now_ms());
}

static void test_match_selectors_triggers(void)
{
    json_t *d = parse_ok("{\"type\":\"Subscription\",\"id\":\"urn:s:1\",\"entities\":[{\"type\":"
                         "\"Room\",\"idPattern\":\"^urn:room:\"},{\"type\":\"Hall\",\"id\":"
                         "\"urn:hall:1\"}]," EP "}");
    REQUIRE(d);
    json_t *r1 = ent("urn:room:1", V "Room", 20, -1), *r2 = ent("urn:room:1", V "Room", 21, -1);
    json_t *other = ent("urn:x:1", V "Room", 20, -1), *h1 = ent("urn:hall:1", V "Hall", 1, -1);
    json_t *h2 = ent("urn:hall:2", V "Hall", 1, -1), *w = ent("urn:room:9", V "Wall", 1, -1);
    CHECK(m(d, NULL, r1) == 1);       /* entityCreated (default) */
    CHECK(m(d, r1, r2) == 1);         /* attributeUpdated */
    CHECK(m(d, r1, r1) == 0);         /* nothing changed */
    CHECK(m(d, r1, NULL) == 0);       /* entityDeleted is not a default trigger */
    CHECK(m(d, NULL, other) == 0);    /* idPattern */
    CHECK(m(d, NULL, h1) == 1);       /* id */
    CHECK(m(d, NULL, h2) == 0);
    CHECK(m(d, NULL, w) == 0);        /* type */
    json_decref(d);

    d = parse_ok("{\"type\":\"Subscription\",\"entities\":[{\"type\":\"Room\"}],"
                 "\"notificationTrigger\":[\"entityDeleted\",\"attributeDeleted\"]," EP "}");
    REQUIRE(d);
    json_object_set_new(d, "id", json_string("urn:s:2"));
    json_t *rh = ent("urn:room:1", V "Room", 20, 50);
    CHECK(m(d, NULL, r1) == 0);
    CHECK(m(d, r1, r2) == 0);
    CHECK(m(d, r1, NULL) == 1);
    CHECK(m(d, rh, r1) == 1);         /* humidity deleted */
    CHECK(m(d, r1, rh) == 0);         /* humidity created */
    json_decref(d);

    d = parse_ok("{\"type\":\"Subscription\",\"id\":\"urn:s:3\",\"entities\":[{\"type\":\"Room\"}],"
                 "\"notificationTrigger\":[\"attributeCreated\"]," EP "}");
    REQUIRE(d);
    CHECK(m(d, r1, rh) == 1);
    CHECK(m(d, r1, r2) == 0);
    CHECK(m(d, NULL, r1) == 0);
    json_decref(d);
    json_decref(r1);
    json_decref(r2);
    json_decref(rh);
    json_decref(other);
    json_decref(h1);
    json_decref(h2);
    json_decref(w);
}

static void test_match_watched_q_geo(void)
{
    json_t *d = parse_ok("{\"type\":\"Subscription\",\"id\":\"urn:s:4\",\"watchedAttributes\":"
                         "[\"humidity\"]," EP "}");
    REQUIRE(d);
    json_t *a = ent("urn:room:1", V "Room", 20, -1), *b = ent("urn:room:1", V "Room", 25, -1);
    json_t *c = ent("urn:room:1", V "Room", 25, 40), *e = ent("urn:room:1", V "Room", 25, 45);
    CHECK(m(d, NULL, a) == 0); /* created without a watched attribute */
    CHECK(m(d, NULL, c) == 1);
    CHECK(m(d, a, b) == 0);    /* only temperature changed */
    CHECK(m(d, b, c) == 1);    /* humidity created */
    CHECK(m(d, c, e) == 1);    /* humidity updated */
    json_decref(d);

    d = parse_ok("{\"type\":\"Subscription\",\"id\":\"urn:s:5\",\"entities\":[{\"type\":\"Room\"}],"
                 "\"q\":\"temperature>=25;humidity<42\"," EP "}");
    REQUIRE(d);
    json_t *ra = ent("urn:room:1", V "Room", 20, 40), *rb = ent("urn:room:1", V "Room", 26, 40);
    json_t *rc = ent("urn:room:1", V "Room", 26, 50);
    CHECK(m(d, NULL, ra) == 0);
    CHECK(m(d, ra, rb) == 1);  /* q on the new state */
    CHECK(m(d, rb, rc) == 0);
    json_decref(d);

    d = parse_ok("{\"type\":\"Subscription\",\"id\":\"urn:s:6\",\"entities\":[{\"type\":\"Room\"}],"
                 "\"geoQ\":{\"geometry\":\"Polygon\",\"coordinates\":[[[2,48],[3,48],[3,49],[2,49],"
                 "[2,48]]],\"georel\":\"within\"}," EP "}");
    REQUIRE(d);
    json_t *in = ent("urn:room:1", V "Room", 1, -1), *out = ent("urn:room:2", V "Room", 1, -1);
    json_object_set_new(json_object_get(in, "attrs"), "https://uri.etsi.org/ngsi-ld/location",
                        J("[{\"type\":\"GeoProperty\",\"value\":{\"type\":\"Point\","
                          "\"coordinates\":[2.5,48.5]}}]"));
    json_object_set_new(json_object_get(out, "attrs"), "https://uri.etsi.org/ngsi-ld/location",
                        J("[{\"type\":\"GeoProperty\",\"value\":{\"type\":\"Point\","
                          "\"coordinates\":[5,48.5]}}]"));
    CHECK(m(d, NULL, in) == 1);
    CHECK(m(d, NULL, out) == 0);
    CHECK(m(d, NULL, a) == 0); /* no location */
    json_decref(d);

    /* paused and expired subscriptions never match */
    d = parse_ok("{\"type\":\"Subscription\",\"id\":\"urn:s:7\",\"entities\":[{\"type\":\"Room\"}],"
                 "\"isActive\":false," EP "}");
    REQUIRE(d);
    CHECK(m(d, NULL, a) == 0);
    json_object_set_new(d, "isActive", json_true());
    CHECK(m(d, NULL, a) == 1);
    CHECK(subs_match(d, core, NULL, a, clock_now_ms()) == 1);
    json_object_set_new(d, "expiresAt", json_string("2020-01-01T00:00:00Z"));
    CHECK(m(d, NULL, a) == 0);
    json_decref(d);
    json_t *bad = J("{\"type\":\"Subscription\"}");
    CHECK(subs_match(bad, core, NULL, a, 0) == VG_EINVAL);
    json_decref(bad);
    json_t *objs[] = {a, b, c, e, ra, rb, rc, in, out};
    for (size_t i = 0; i < VG_ARRAY_LEN(objs); i++)
        json_decref(objs[i]);
}

static void test_throttle_math(void)
{
    CHECK_EQ_INT(subs_throttle_due(0, 5000, 1000), 0);          /* never sent */
    CHECK_EQ_INT(subs_throttle_due(10000, 0, 10001), 0);        /* no throttling */
    CHECK_EQ_INT(subs_throttle_due(10000, 5000, 12000), 15000); /* inside the window */
    CHECK_EQ_INT(subs_throttle_due(10000, 5000, 14999), 15000);
    CHECK_EQ_INT(subs_throttle_due(10000, 5000, 15000), 0);     /* window over */
    CHECK_EQ_INT(subs_throttle_due(10000, 5000, 99999), 0);
}

static uint32_t ndocs;
static int count_doc(void *arg, const struct meta_doc_row *row)
{
    ndocs++;
    return 0;
}

static uint32_t count_kind(struct meta *mt, const char *kind)
{
    ndocs = 0;
    meta_docs_load(mt, kind, count_doc, NULL);
    return ndocs;
}

static void test_durable_queue(void)
{
    char *dir = test_tmpdir("subs");
    char path[600];
    snprintf(path, sizeof(path), "%s/meta.db", dir);
    struct meta *mt = NULL;
    struct subs *s = NULL;
    REQUIRE(meta_open(path, &mt) == 0);
    REQUIRE(subs_open(mt, reg, &s) == 0);
    /* a port where nothing listens: the notification stays queued */
    int fd_port = 1; /* tcp port 1 (tcpmux) is closed on test hosts */
    char body[512], id[128], err[256];
    snprintf(body, sizeof(body), "{\"type\":\"Subscription\",\"id\":\"urn:s:d\",\"entities\":"
             "[{\"type\":\"Room\"}],\"notification\":{\"endpoint\":{\"uri\":"
             "\"http://127.0.0.1:%d/n\"}}}", fd_port);
    json_t *b = J(body);
    CHECK(subs_create(s, "t1", b, core, NULL, id, sizeof(id), err, sizeof(err)) == 0);
    CHECK(!strcmp(id, "urn:s:d"));
    CHECK(subs_create(s, "t1", b, core, NULL, id, sizeof(id), err, sizeof(err)) == VG_EEXIST);
    CHECK(subs_create(s, "t2", b, core, NULL, id, sizeof(id), err, sizeof(err)) == 0);
    json_decref(b);
    json_t *r = ent("urn:room:1", V "Room", 20, -1);
    subs_on_change(s, "t1", "urn:room:1", NULL, r);
    json_decref(r);
    struct subs_stats st;
    subs_get_stats(s, &st);
    for (int i = 0; i < 200 && !st.failed; i++) { /* the first attempt fails at once */
        usleep(10000);
        subs_get_stats(s, &st);
    }
    CHECK(st.failed >= 1);
    CHECK_EQ_INT(st.subscriptions, 2);
    CHECK_EQ_INT(st.queued, 1);
    subs_free(s);
    s = NULL;
    CHECK_EQ_INT(count_kind(mt, "subscription"), 2);
    CHECK_EQ_INT(count_kind(mt, "notification"), 1);

    REQUIRE(subs_open(mt, reg, &s) == 0);
    subs_get_stats(s, &st);
    CHECK_EQ_INT(st.subscriptions, 2);
    CHECK_EQ_INT(st.queued, 1);
    json_t *v = NULL;
    CHECK(subs_get(s, "t1", "urn:s:d", core, 0, &v) == 0);
    json_t *n = json_object_get(v, "notification");
    CHECK(json_integer_value(json_object_get(n, "timesSent")) == 1);
    CHECK(json_is_string(json_object_get(n, "status")) &&
          !strcmp(json_string_value(json_object_get(n, "status")), "failed"));
    CHECK(!strcmp(json_string_value(json_object_get(json_array_get(json_object_get(v, "entities"),
                                                                   0), "type")), "Room"));
    json_decref(v);
    CHECK(subs_get(s, "t3", "urn:s:d", core, 0, &v) == VG_ENOENT);
    json_t *frag = J("{\"isActive\":false}");
    CHECK(subs_update(s, "t2", "urn:s:d", frag, core, err, sizeof(err)) == 0);
    json_decref(frag);
    CHECK(subs_get(s, "t2", "urn:s:d", core, 0, &v) == 0);
    CHECK(!strcmp(json_string_value(json_object_get(v, "status")), "paused"));
    json_decref(v);
    CHECK(subs_delete(s, "t1", "urn:s:d") == 0);
    CHECK(subs_delete(s, "t1", "urn:s:d") == VG_ENOENT);
    subs_get_stats(s, &st);
    CHECK_EQ_INT(st.subscriptions, 1);
    /* the in-flight notification (if a worker holds it) is dropped by the worker: wait */
    for (int i = 0; i < 100 && st.queued; i++) {
        usleep(20000);
        subs_get_stats(s, &st);
    }
    CHECK_EQ_INT(st.queued, 0);
    subs_free(s);
    CHECK_EQ_INT(count_kind(mt, "subscription"), 1);
    CHECK_EQ_INT(count_kind(mt, "notification"), 0);
    meta_close(mt);
    test_rmrf(dir);
    free(dir);
}

int main(void)
{
    TEST_BEGIN("subs");
    if (ldctx_reg_new(&reg))
        return 2;
    core = ldctx_core(reg);
    TEST_RUN(test_validation_errors);
    TEST_RUN(test_validation_expands);
    TEST_RUN(test_match_selectors_triggers);
    TEST_RUN(test_match_watched_q_geo);
    TEST_RUN(test_throttle_math);
    TEST_RUN(test_durable_queue);
    ldctx_release(core);
    ldctx_reg_free(reg);
    return TEST_END();
}
