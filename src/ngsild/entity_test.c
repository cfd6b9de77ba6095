/*
** ngsild/entity_test.c: unit tests of ngsild/entity.c: parsing every attribute kind in normalized
** and concise input, rendering round trips (normalized, concise lossless, keyValues), the update
** algorithms, error reporting, and every Smart Data Models example under ../shared/datamodels.
*/
#include "core/test.h"
#include "ngsild/entity.h"
#include "ngsild/ldctx.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>

#define NOW "2024-05-01T10:00:00.000Z"
#define LATER "2024-05-02T11:00:00.000Z"
#define V LDCTX_DEFAULT_VOCAB
/* A string member, or "" (so that a missing member fails a check instead of crashing). */
#define SV(j) (json_string_value(j) ? json_string_value(j) : "")

static struct ldctx_reg *g_reg;
static struct ldctx *g_ctx;

static json_t *js(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    if (!j)
        printf("  bad test JSON: %s: %s\n", err.text, text);
    return j;
}

/* Copy without system members (createdAt/modifiedAt at every level). */
static json_t *strip(const json_t *v)
{
    json_t *c = json_deep_copy(v);
    json_object_del(c, "createdAt");
    json_object_del(c, "modifiedAt");
    const char *k;
    json_t *arr, *x;
    size_t i;
    json_object_foreach (json_object_get(c, "attrs"), k, arr) {
        json_array_foreach (arr, i, x) {
            json_t *s = strip(x);
            json_array_set_new(arr, i, s);
        }
    }
    json_object_foreach (json_object_get(c, "subs"), k, x) {
        json_object_set_new(json_object_get(c, "subs"), k, strip(x));
    }
    return c;
}

static int eq_nosys(const json_t *a, const json_t *b)
{
    json_t *x = strip(a), *y = strip(b);
    int r = json_equal(x, y);
    if (!r) {
        char *s1 = json_dumps(x, JSON_SORT_KEYS | JSON_COMPACT);
        char *s2 = json_dumps(y, JSON_SORT_KEYS | JSON_COMPACT);
        printf("  differ:\n    %s\n    %s\n", s1, s2);
        free(s1);
        free(s2);
    }
    json_decref(x);
    json_decref(y);
    return r;
}

static json_t *parse_ok(const json_t *body, enum entity_parse_mode mode, int null_ok)
{
    json_t *out = NULL;
    struct entity_err e;
    int rc = entity_parse(body, mode, g_ctx, NULL, null_ok, NOW, &out, &e);
    if (rc) {
        printf("  parse failed: %s: %s\n", e.member, e.detail);
        return NULL;
    }
    return out;
}

static json_t *parse_text(const char *text, enum entity_parse_mode mode, int null_ok)
{
    json_t *b = js(text);
    json_t *r = b ? parse_ok(b, mode, null_ok) : NULL;
    json_decref(b);
    return r;
}

static json_t *render(const json_t *st, enum entity_format f)
{
    struct entity_render_opts o = {.format = f};
    return entity_render(st, g_ctx, &o);
}

/* Parse expecting failure; returns 1 if it failed with member == want_member. */
static int parse_fails(const char *text, enum entity_parse_mode mode, int null_ok,
                       const char *want_member)
{
    json_t *b = js(text);
    json_t *out = NULL;
    struct entity_err e;
    int rc =
        entity_parse(b, mode, g_ctx, mode == ENTITY_ATTR ? V "a" : NULL, null_ok, NOW, &out, &e);
    json_decref(b);
    if (rc == VG_OK) {
        printf("  unexpectedly parsed: %s\n", text);
        json_decref(out);
        return 0;
    }
    if (rc != VG_EINVAL || !e.detail[0])
        return 0;
    if (want_member && strcmp(e.member, want_member) != 0) {
        printf("  member '%s' (detail '%s'), wanted '%s'\n", e.member, e.detail, want_member);
        return 0;
    }
    return 1;
}

static const json_t *inst0(const json_t *st, const char *iri)
{
    return json_array_get(json_object_get(json_object_get(st, "attrs"), iri), 0);
}

static const char *ALL_KINDS =
    "{\"id\":\"urn:ngsi-ld:T:1\",\"type\":\"T\",\"scope\":\"/a/b\","
    "\"@context\":\"https://example.org/ctx.jsonld\","
    "\"createdAt\":\"1999-01-01T00:00:00Z\","
    "\"temperature\":{\"type\":\"Property\",\"value\":21.5,\"unitCode\":\"CEL\","
    "  \"observedAt\":\"2024-01-01T00:00:00Z\","
    "  \"accuracy\":{\"type\":\"Property\",\"value\":0.5},"
    "  \"sensor\":{\"type\":\"Relationship\",\"object\":\"urn:ngsi-ld:Sensor:9\"}},"
    "\"plain\":{\"type\":\"Property\",\"value\":\"hello\"},"
    "\"compound\":{\"type\":\"Property\",\"value\":{\"value\":1,\"type\":\"X\"}},"
    "\"arr\":{\"type\":\"Property\",\"value\":[1,2,3]},"
    "\"arrobj\":{\"type\":\"Property\",\"value\":[{\"type\":\"Property\",\"value\":1}]},"
    "\"geoAsProp\":{\"type\":\"Property\",\"value\":{\"type\":\"Point\",\"coordinates\":[1,2]}},"
    "\"dt\":{\"type\":\"Property\",\"value\":{\"@type\":\"DateTime\",\"@value\":\"2016-03-15T11:00:"
    "00Z\"}},"
    "\"owner\":{\"type\":\"Relationship\",\"object\":[\"urn:a:1\",\"urn:a:2\"],\"objectType\":"
    "\"Person\"},"
    "\"location\":{\"type\":\"GeoProperty\",\"value\":{\"type\":\"Polygon\",\"coordinates\":[[[0,0]"
    ",[1,0],[1,1],[0,0]]]}},"
    "\"area\":{\"type\":\"GeoProperty\",\"value\":\"{\\\"type\\\":\\\"Point\\\","
    "\\\"coordinates\\\":[5,6]}\"},"
    "\"name\":{\"type\":\"LanguageProperty\",\"languageMap\":{\"fr\":\"Gare\",\"en\":\"Station\"}},"
    "\"list\":{\"type\":\"ListProperty\",\"valueList\":[1,\"a\",{\"b\":2}]},"
    "\"blob\":{\"type\":\"JsonProperty\",\"json\":{\"kind\":\"Property\",\"x\":[null]}},"
    "\"cat\":{\"type\":\"VocabProperty\",\"vocab\":[\"Good\",\"urn:v:Bad\"]},"
    "\"cat1\":{\"type\":\"VocabProperty\",\"vocab\":\"Good\"},"
    "\"rels\":{\"type\":\"ListRelationship\",\"objectList\":[{\"object\":\"urn:a:1\"},\"urn:a:2\"]}"
    ","
    "\"speed\":[{\"type\":\"Property\",\"value\":10},"
    "  {\"type\":\"Property\",\"value\":11,\"datasetId\":\"urn:ds:gps\"},"
    "  {\"value\":12,\"datasetId\":\"urn:ds:radar\",\"observedAt\":\"2024-01-01T00:00:00+01:00\"}]"
    "}";

static void t_parse_kinds(void)
{
    json_t *st = parse_text(ALL_KINDS, ENTITY_FULL, 0);
    REQUIRE(st);
    CHECK(strcmp(SV(json_object_get(st, "id")), "urn:ngsi-ld:T:1") == 0);
    json_t *types = json_object_get(st, "type");
    CHECK(json_array_size(types) == 1);
    CHECK(strcmp(SV(json_array_get(types, 0)), V "T") == 0);
    CHECK(strcmp(SV(json_array_get(json_object_get(st, "scope"), 0)), "/a/b") == 0);
    CHECK(strcmp(SV(json_object_get(st, "createdAt")), NOW) == 0);
    const json_t *t = inst0(st, V "temperature");
    REQUIRE(t);
    CHECK(json_real_value(json_object_get(t, "value")) == 21.5);
    CHECK(strcmp(SV(json_object_get(t, "unitCode")), "CEL") == 0);
    CHECK(strcmp(SV(json_object_get(t, "createdAt")), NOW) == 0);
    const json_t *subs = json_object_get(t, "subs");
    CHECK(json_object_get(subs, V "accuracy") != NULL);
    CHECK(strcmp(SV(json_object_get(json_object_get(subs, V "sensor"), "type")), "Relationship") ==
          0);
    CHECK(json_object_get(json_object_get(st, "attrs"), LDCTX_NGSILD_NS "location") ||
          json_object_get(json_object_get(st, "attrs"), V "location"));
    const json_t *area = inst0(st, V "area");
    CHECK(json_is_object(json_object_get(area, "value")));
    const json_t *cat = inst0(st, V "cat");
    CHECK(strcmp(SV(json_array_get(json_object_get(cat, "vocab"), 0)), V "Good") == 0);
    CHECK(strcmp(SV(json_array_get(json_object_get(cat, "vocab"), 1)), "urn:v:Bad") == 0);
    const json_t *rels = inst0(st, V "rels");
    CHECK(strcmp(
              SV(json_object_get(json_array_get(json_object_get(rels, "objectList"), 1), "object")),
              "urn:a:2") == 0);
    CHECK(strcmp(SV(json_object_get(inst0(st, V "owner"), "objectType")), V "Person") == 0);
    CHECK(json_array_size(json_object_get(json_object_get(st, "attrs"), V "speed")) == 3);
    CHECK(strcmp(SV(json_object_get(inst0(st, V "geoAsProp"), "type")), "Property") == 0);
    json_decref(st);
}

static void t_roundtrip_normalized_concise(void)
{
    json_t *st = parse_text(ALL_KINDS, ENTITY_FULL, 0);
    REQUIRE(st);
    for (int f = 0; f < 2; f++) {
        json_t *r = render(st, f == 0 ? ENTITY_NORMALIZED : ENTITY_CONCISE);
        json_t *back = parse_ok(r, ENTITY_FULL, 0);
        CHECK(back && eq_nosys(st, back));
        json_decref(back);
        json_decref(r);
    }
    /* with sysAttrs too: the system members are ignored on input */
    struct entity_render_opts o = {.format = ENTITY_CONCISE, .sys_attrs = 1};
    json_t *r = entity_render(st, g_ctx, &o);
    CHECK(json_object_get(r, "createdAt") != NULL);
    json_t *back = parse_ok(r, ENTITY_FULL, 0);
    CHECK(back && eq_nosys(st, back));
    json_decref(back);
    json_decref(r);
    json_decref(st);
}

static void t_render_shapes(void)
{
    json_t *st = parse_text(ALL_KINDS, ENTITY_FULL, 0);
    REQUIRE(st);
    json_t *n = render(st, ENTITY_NORMALIZED);
    CHECK(strcmp(SV(json_object_get(n, "type")), "T") == 0);
    CHECK(strcmp(SV(json_object_get(n, "scope")), "/a/b") == 0);
    CHECK(json_object_get(n, "createdAt") == NULL);
    json_t *temp = json_object_get(n, "temperature");
    CHECK(strcmp(SV(json_object_get(temp, "type")), "Property") == 0);
    CHECK(json_object_get(temp, "createdAt") == NULL);
    CHECK(json_object_get(temp, "subs") == NULL);
    CHECK(json_is_object(json_object_get(temp, "accuracy")));
    CHECK(json_is_array(json_object_get(n, "speed")));
    CHECK(strcmp(SV(json_object_get(json_object_get(n, "owner"), "objectType")), "Person") == 0);
    CHECK(strcmp(SV(json_array_get(json_object_get(json_object_get(n, "cat"), "vocab"), 0)),
                 "Good") == 0);
    json_decref(n);

    json_t *c = render(st, ENTITY_CONCISE);
    CHECK(json_is_string(json_object_get(c, "plain")));
    CHECK(json_object_get(json_object_get(c, "temperature"), "type") == NULL);
    CHECK(json_real_value(json_object_get(json_object_get(c, "temperature"), "value")) == 21.5);
    CHECK(json_is_real(json_object_get(json_object_get(c, "temperature"), "accuracy")));
    json_t *own = json_object_get(c, "owner");
    CHECK(json_object_get(own, "type") == NULL && json_is_array(json_object_get(own, "object")));
    /* bare geometry for the GeoProperty; a Property holding a geometry keeps its type */
    CHECK(strcmp(SV(json_object_get(json_object_get(c, "location"), "type")), "Polygon") == 0);
    CHECK(strcmp(SV(json_object_get(json_object_get(c, "geoAsProp"), "type")), "Property") == 0);
    /* compound value holding "value": wrapped */
    CHECK(json_is_object(json_object_get(json_object_get(c, "compound"), "value")));
    CHECK(json_object_get(json_object_get(c, "name"), "languageMap") != NULL);
    json_decref(c);

    json_t *k = render(st, ENTITY_SIMPLIFIED);
    CHECK(json_real_value(json_object_get(k, "temperature")) == 21.5);
    CHECK(json_is_array(json_object_get(k, "owner")));
    CHECK(strcmp(SV(json_object_get(json_object_get(k, "name"), "fr")), "Gare") == 0);
    CHECK(strcmp(SV(json_array_get(json_object_get(k, "rels"), 1)), "urn:a:2") == 0);
    CHECK(strcmp(SV(json_object_get(k, "cat1")), "Good") == 0);
    CHECK(json_array_size(json_object_get(k, "speed")) == 3);
    CHECK(json_is_array(json_object_get(json_object_get(k, "blob"), "x")));
    CHECK(strcmp(SV(json_object_get(json_object_get(k, "location"), "type")), "Polygon") == 0);
    json_decref(k);
    /* keyValues output is a valid (concise) payload, and rendering it again is stable (minus the
    ** two compound values that keyValues cannot tell from attributes) */
    json_object_del(json_object_get(st, "attrs"), V "compound");
    json_object_del(json_object_get(st, "attrs"), V "arrobj");
    k = render(st, ENTITY_SIMPLIFIED);
    json_t *back = parse_ok(k, ENTITY_FULL, 0);
    REQUIRE(back);
    json_t *k2 = render(back, ENTITY_SIMPLIFIED);
    CHECK(json_equal(k, k2));
    json_decref(k2);
    json_decref(back);
    json_decref(k);
    json_decref(st);
}

static void t_concise_input(void)
{
    /* JsonProperty json:null is not a value */
    CHECK(parse_fails("{\"id\":\"urn:x:1\",\"type\":\"A\",\"j\":{\"json\":null}}", ENTITY_FULL, 0,
                      "j.json"));
    json_t *st;
    st = parse_text(
        "{\"id\":\"urn:x:1\",\"type\":[\"A\",\"B\",\"A\"],\"n\":3,\"s\":\"txt\",\"b\":true,"
        "\"a\":[1,2],\"o\":{\"street\":\"x\"},\"pa\":{\"type\":\"PostalAddress\",\"x\":1},"
        "\"loc\":{\"type\":\"Point\",\"coordinates\":[1,2]},"
        "\"r\":{\"object\":\"urn:y:1\"},\"l\":{\"languageMap\":{\"en\":\"x\"}},"
        "\"v\":{\"value\":5,\"unitCode\":\"MTR\",\"sub\":7},"
        "\"vl\":{\"valueList\":[1]},\"ol\":{\"objectList\":[\"urn:z:1\"]},\"j\":{\"json\":{}},"
        "\"vo\":{\"vocab\":\"term\"},\"g\":{\"value\":{\"type\":\"Point\",\"coordinates\":[3,4]}}}",
        ENTITY_FULL, 0);
    REQUIRE(st);
    CHECK(json_array_size(json_object_get(st, "type")) == 2);
    struct {
        const char *name, *type;
    } want[] = {{"n", "Property"},      {"s", "Property"},       {"b", "Property"},
                {"a", "Property"},      {"o", "Property"},       {"pa", "Property"},
                {"loc", "GeoProperty"}, {"r", "Relationship"},   {"l", "LanguageProperty"},
                {"v", "Property"},      {"vl", "ListProperty"},  {"ol", "ListRelationship"},
                {"j", "JsonProperty"},  {"vo", "VocabProperty"}, {"g", "GeoProperty"}};
    for (size_t i = 0; i < VG_ARRAY_LEN(want); i++) {
        char iri[128];
        snprintf(iri, sizeof(iri), V "%s", want[i].name);
        const json_t *in = inst0(st, iri);
        CHECK(in && strcmp(SV(json_object_get(in, "type")), want[i].type) == 0);
        if (!in || strcmp(SV(json_object_get(in, "type")), want[i].type))
            printf("  attr %s\n", want[i].name);
    }
    const json_t *v = inst0(st, V "v");
    CHECK(json_integer_value(
              json_object_get(json_object_get(json_object_get(v, "subs"), V "sub"), "value")) == 7);
    CHECK(strcmp(SV(json_object_get(json_object_get(inst0(st, V "pa"), "value"), "type")),
                 "PostalAddress") == 0);
    json_decref(st);
}

static void t_errors(void)
{
    CHECK(parse_fails("{\"type\":\"T\"}", ENTITY_FULL, 0, "id"));
    CHECK(parse_fails("{\"id\":\"not a uri\",\"type\":\"T\"}", ENTITY_FULL, 0, "id"));
    CHECK(parse_fails("{\"id\":\"nocolon\",\"type\":\"T\"}", ENTITY_FULL, 0, "id"));
    CHECK(parse_fails("{\"id\":\"urn:a:1\"}", ENTITY_FULL, 0, "type"));
    CHECK(parse_fails("{\"id\":\"urn:a:1\",\"type\":3}", ENTITY_FULL, 0, "type"));
    CHECK(parse_fails("{\"id\":\"urn:a:1\",\"type\":\"T\",\"location\":{\"type\":\"Geoproperty\","
                      "\"value\":{\"type\":\"Point\",\"coordinates\":[1,2]}}}",
                      ENTITY_FULL, 0, "location.type"));
    CHECK(parse_fails("{\"id\":\"urn:a:1\",\"type\":\"T\",\"p\":{\"type\":\"Property\",\"value\":1,"
                      "\"observedAt\":\"yesterday\"}}",
                      ENTITY_FULL, 0, "p.observedAt"));
    CHECK(parse_fails("{\"id\":\"urn:a:1\",\"type\":\"T\",\"p\":{\"value\":1,"
                      "\"observedAt\":\"2024-01-01T10:00:00\"}}",
                      ENTITY_FULL, 0, "p.observedAt"));
    CHECK(parse_fails("{\"id\":\"urn:a:1\",\"type\":\"T\",\"p\":{\"value\":1,"
                      "\"observedAt\":\"2024-02-30T10:00:00Z\"}}",
                      ENTITY_FULL, 0, "p.observedAt"));
    CHECK(parse_fails("{\"id\":\"urn:a:1\",\"type\":\"T\",\"p\":{\"type\":\"Property\",\"value\":1,"
                      "\"observedAt\":\"2024-01-01\"}}",
                      ENTITY_FULL, 0, "p.observedAt"));
    CHECK(parse_fails("{\"id\":\"urn:a:1\",\"type\":\"T\",\"p\":null}", ENTITY_FULL, 0, "p"));
    CHECK(parse_fails(
        "{\"id\":\"urn:a:1\",\"type\":\"T\",\"p\":{\"type\":\"Property\",\"value\":null}}",
        ENTITY_FULL, 0, "p.value"));
    CHECK(parse_fails("{\"id\":\"urn:a:1\",\"type\":\"T\",\"p\":\"urn:ngsi-ld:null\"}", ENTITY_FULL,
                      0, "p"));
    CHECK(parse_fails("{\"id\":\"urn:a:1\",\"type\":\"T\",\"p\":{\"type\":\"Property\"}}",
                      ENTITY_FULL, 0, "p"));
    CHECK(
        parse_fails("{\"id\":\"urn:a:1\",\"type\":\"T\",\"p\":[{\"type\":\"Property\",\"value\":1},"
                    "{\"type\":\"Property\",\"value\":2}]}",
                    ENTITY_FULL, 0, "p[1]"));
    CHECK(parse_fails(
        "{\"id\":\"urn:a:1\",\"type\":\"T\",\"p\":[{\"value\":1,\"datasetId\":\"urn:d:1\"},"
        "{\"value\":2,\"datasetId\":\"urn:d:1\"}]}",
        ENTITY_FULL, 0, "p[1]"));
    CHECK(
        parse_fails("{\"id\":\"urn:a:1\",\"type\":\"T\",\"p\":{\"value\":1,\"datasetId\":\"x y\"}}",
                    ENTITY_FULL, 0, "p.datasetId"));
    CHECK(parse_fails("{\"id\":\"urn:a:1\",\"type\":\"T\",\"a<b\":1}", ENTITY_FULL, 0, "a<b"));
    CHECK(parse_fails("{\"id\":\"urn:a:1\",\"type\":\"T\",\"a=b\":1}", ENTITY_FULL, 0, "a=b"));
    CHECK(parse_fails("{\"id\":\"urn:a:1\",\"type\":\"T\",\"\":1}", ENTITY_FULL, 0, ""));
    CHECK(parse_fails(
        "{\"id\":\"urn:a:1\",\"type\":\"T\",\"r\":{\"type\":\"Relationship\",\"object\":\"x\"}}",
        ENTITY_FULL, 0, "r.object"));
    CHECK(parse_fails("{\"id\":\"urn:a:1\",\"type\":\"T\",\"g\":{\"type\":\"GeoProperty\","
                      "\"value\":{\"type\":\"Point\","
                      "\"coordinates\":[\"a\",1]}}}",
                      ENTITY_FULL, 0, "g.value"));
    CHECK(parse_fails(
        "{\"id\":\"urn:a:1\",\"type\":\"T\",\"g\":{\"type\":\"GeoProperty\",\"value\":\"nope\"}}",
        ENTITY_FULL, 0, "g.value"));
    CHECK(parse_fails(
        "{\"id\":\"urn:a:1\",\"type\":\"T\",\"g\":{\"type\":\"Point\",\"coordinates\":[[1,2]]}}",
        ENTITY_FULL, 0, "g"));
    CHECK(parse_fails("{\"id\":\"urn:a:1\",\"type\":\"T\",\"l\":{\"type\":\"LanguageProperty\","
                      "\"languageMap\":{\"en\":3}}}",
                      ENTITY_FULL, 0, "l.languageMap"));
    CHECK(parse_fails(
        "{\"id\":\"urn:a:1\",\"type\":\"T\",\"l\":{\"type\":\"ListProperty\",\"valueList\":3}}",
        ENTITY_FULL, 0, "l.valueList"));
    CHECK(parse_fails("{\"id\":\"urn:a:1\",\"type\":\"T\",\"l\":{\"type\":\"ListRelationship\","
                      "\"objectList\":[{\"object\":\"bad\"}]}}",
                      ENTITY_FULL, 0, "l.objectList"));
    CHECK(parse_fails(
        "{\"id\":\"urn:a:1\",\"type\":\"T\",\"v\":{\"type\":\"VocabProperty\",\"vocab\":3}}",
        ENTITY_FULL, 0, "v.vocab"));
    CHECK(parse_fails("{\"id\":\"urn:a:1\",\"type\":\"T\",\"p\":{\"type\":\"Property\",\"value\":1,"
                      "\"object\":\"urn:a:2\"}}",
                      ENTITY_FULL, 0, "p.object"));
    CHECK(parse_fails("{\"id\":\"urn:a:1\",\"type\":\"T\",\"p\":{\"type\":\"Property\",\"value\":1,"
                      "\"unitCode\":5}}",
                      ENTITY_FULL, 0, "p.unitCode"));
    CHECK(parse_fails("{\"id\":\"urn:a:1\",\"type\":\"T\",\"p\":{\"type\":\"Property\",\"value\":1,"
                      "\"sub\":{\"type\":\"Property\",\"value\":null}}}",
                      ENTITY_FULL, 0, "p.sub.value"));
    CHECK(parse_fails("{\"id\":\"urn:a:1\",\"type\":\"T\",\"scope\":\"noslash\"}", ENTITY_FULL, 0,
                      "scope"));
    CHECK(parse_fails(
        "{\"id\":\"urn:a:1\",\"type\":\"T\",\"p\":{\"type\":\"Relationship\",\"value\":1}}",
        ENTITY_FULL, 0, "p"));
    CHECK(parse_fails("[1,2]", ENTITY_FULL, 0, ""));
    CHECK(parse_fails("{\"type\":\"Property\"}", ENTITY_ATTR, 0, "a"));
    /* nesting depth */
    char deep[400] = "{\"id\":\"urn:a:1\",\"type\":\"T\",\"p\":";
    for (int i = 0; i < 40; i++)
        strcat(deep, "[");
    for (int i = 0; i < 40; i++)
        strcat(deep, "]");
    strcat(deep, "}");
    CHECK(parse_fails(deep, ENTITY_FULL, 0, NULL));
    /* @id / @type synonyms; fragment without id */
    json_t *st = parse_text("{\"@id\":\"urn:a:1\",\"@type\":\"T\"}", ENTITY_FULL, 0);
    CHECK(st && strcmp(SV(json_object_get(st, "id")), "urn:a:1") == 0);
    json_decref(st);
    st = parse_text("{\"p\":1}", ENTITY_FRAGMENT, 0);
    CHECK(st && json_object_get(st, "id") == NULL && inst0(st, V "p"));
    json_decref(st);
    CHECK(entity_uri_valid("did:consumpoint:EN04"));
    CHECK(entity_uri_valid("urn:ngsi-ld::wastecontainer-Osuna-100"));
    CHECK(!entity_uri_valid("urn:"));
    CHECK(!entity_uri_valid(":x"));
    CHECK(!entity_uri_valid("1a:x"));
    CHECK(!entity_uri_valid("urn:a b"));
}

static void t_null_ok(void)
{
    json_t *f =
        parse_text("{\"a\":null,\"b\":\"urn:ngsi-ld:null\",\"c\":{\"type\":\"Relationship\","
                   "\"object\":\"urn:ngsi-ld:null\"},\"d\":{\"value\":\"urn:ngsi-ld:null\","
                   "\"datasetId\":\"urn:d:1\"}}",
                   ENTITY_FRAGMENT, 1);
    REQUIRE(f);
    const char *names[] = {V "a", V "b", V "c", V "d"};
    for (int i = 0; i < 4; i++) {
        const json_t *in = inst0(f, names[i]);
        CHECK(in && strcmp(SV(json_object_get(in, "value")), "urn:ngsi-ld:null") == 0);
        CHECK(in && strcmp(SV(json_object_get(in, "type")), "Property") == 0);
    }
    CHECK(strcmp(SV(json_object_get(inst0(f, V "d"), "datasetId")), "urn:d:1") == 0);
    json_decref(f);
    json_t *out = NULL;
    json_t *nul = json_null();
    CHECK(entity_parse(nul, ENTITY_ATTR, g_ctx, V "x", 1, NOW, &out, NULL) == VG_OK);
    CHECK(out && strcmp(SV(json_object_get(inst0(out, V "x"), "value")), "urn:ngsi-ld:null") == 0);
    json_decref(out);
    out = NULL;
    struct entity_err e;
    CHECK(entity_parse(nul, ENTITY_ATTR, g_ctx, V "x", 0, NOW, &out, &e) == VG_EINVAL);
    CHECK(out == NULL && strcmp(e.member, "x") == 0);
}

/* Values that a naive concise rendering would read back as something else. */
static void t_concise_tricky(void)
{
    static const char *const attrs[] = {
        "{\"type\":\"Property\",\"value\":{\"object\":\"urn:x:1\"}}",
        "{\"type\":\"Property\",\"value\":{\"languageMap\":{\"en\":\"x\"}}}",
        "{\"type\":\"Property\",\"value\":[{\"value\":1}]}",
        "{\"type\":\"Property\",\"value\":[{\"datasetId\":\"urn:d:1\"}]}",
        "{\"type\":\"Property\",\"value\":{\"type\":\"Point\",\"coordinates\":[1,2]}}",
        "{\"type\":\"Property\",\"value\":{\"type\":\"Relationship\",\"object\":\"urn:a:1\"}}",
        "{\"type\":\"Property\",\"value\":{}}",
        "{\"type\":\"Property\",\"value\":[]}",
        "{\"type\":\"Property\",\"value\":false}",
        "{\"type\":\"Property\",\"value\":\"urn:ngsi-ld:x\"}",
        "{\"type\":\"Property\",\"value\":1,\"datasetId\":\"urn:d:1\"}",
        "[{\"type\":\"Property\",\"value\":1},{\"type\":\"GeoProperty\",\"datasetId\":\"urn:d:1\","
        "\"value\":{\"type\":\"Point\",\"coordinates\":[1,2]}},{\"type\":\"Property\","
        "\"datasetId\":"
        "\"urn:d:2\",\"value\":{\"type\":\"Point\",\"coordinates\":[1,2]}}]",
        "{\"type\":\"GeoProperty\",\"value\":{\"type\":\"GeometryCollection\",\"geometries\":[]},"
        "\"observedAt\":\"2024-01-01T00:00:00Z\"}",
        "{\"type\":\"JsonProperty\",\"json\":{\"value\":1}}",
        "{\"type\":\"LanguageProperty\",\"languageMap\":{\"@none\":[\"a\",\"b\"]}}",
        "{\"type\":\"ListRelationship\",\"objectList\":[],\"objectType\":\"X\"}",
        "{\"type\":\"Property\",\"value\":1,\"sub\":{\"type\":\"Property\",\"value\":{\"value\":2}}"
        "}",
    };
    for (size_t i = 0; i < VG_ARRAY_LEN(attrs); i++) {
        char text[1024];
        snprintf(text, sizeof(text), "{\"id\":\"urn:a:1\",\"type\":\"T\",\"x\":%s}", attrs[i]);
        json_t *st = parse_text(text, ENTITY_FULL, 0);
        CHECK(st != NULL);
        if (!st)
            continue;
        for (int f = 0; f < 2; f++) {
            json_t *r = render(st, f ? ENTITY_CONCISE : ENTITY_NORMALIZED);
            json_t *back = parse_ok(r, ENTITY_FULL, 0);
            CHECK(back && eq_nosys(st, back));
            json_decref(back);
            json_decref(r);
        }
        json_decref(st);
    }
    /* ENTITY_ATTR: an ld+json body with @context, and an array of instances */
    json_t *b = js("{\"value\":3,\"@context\":\"https://x.org/c\"}");
    json_t *out = NULL;
    CHECK(entity_parse(b, ENTITY_ATTR, g_ctx, V "x", 0, NOW, &out, NULL) == VG_OK);
    CHECK(out && json_object_get(inst0(out, V "x"), "subs") == NULL);
    json_decref(out);
    json_decref(b);
    b = js("[{\"value\":3},{\"value\":4,\"datasetId\":\"urn:d:1\"}]");
    out = NULL;
    CHECK(entity_parse(b, ENTITY_ATTR, g_ctx, V "x", 0, NOW, &out, NULL) == VG_OK);
    CHECK(out && json_array_size(json_object_get(json_object_get(out, "attrs"), V "x")) == 2);
    json_decref(out);
    json_decref(b);
}

static void t_limits(void)
{
    /* name length */
    char name[600];
    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    json_t *b = json_pack("{s:s,s:s,s:i}", "id", "urn:a:1", "type", "T", name, 1);
    json_t *out = NULL;
    struct entity_err e;
    CHECK(entity_parse(b, ENTITY_FULL, g_ctx, NULL, 0, NOW, &out, &e) == VG_EINVAL && !out);
    json_decref(b);
    /* attribute count */
    b = json_pack("{s:s,s:s}", "id", "urn:a:1", "type", "T");
    for (int i = 0; i <= ENTITY_MAX_ATTRS; i++) {
        char k[32];
        snprintf(k, sizeof(k), "a%d", i);
        json_object_set_new(b, k, json_integer(i));
    }
    CHECK(entity_parse(b, ENTITY_FULL, g_ctx, NULL, 0, NOW, &out, &e) == VG_EINVAL && !out);
    CHECK(strcmp(e.member, "a1024") == 0);
    json_object_del(b, "a1024");
    CHECK(entity_parse(b, ENTITY_FULL, g_ctx, NULL, 0, NOW, &out, &e) == VG_OK);
    json_decref(out);
    json_decref(b);
    /* datasetIds per attribute */
    json_t *arr = json_array();
    for (int i = 0; i < 65; i++) {
        char ds[32];
        snprintf(ds, sizeof(ds), "urn:d:%d", i);
        json_array_append_new(arr, json_pack("{s:i,s:s}", "value", i, "datasetId", ds));
    }
    out = NULL;
    CHECK(entity_parse(arr, ENTITY_ATTR, g_ctx, V "x", 0, NOW, &out, &e) == VG_EINVAL && !out);
    json_array_remove(arr, 0);
    CHECK(entity_parse(arr, ENTITY_ATTR, g_ctx, V "x", 0, NOW, &out, &e) == VG_OK);
    /* the result of an update shares nothing with its input */
    json_t *cur = parse_text("{\"id\":\"urn:a:1\",\"type\":\"T\",\"v\":{\"value\":{\"k\":[1]}}}",
                             ENTITY_FULL, 0);
    REQUIRE(cur && out);
    json_t *snap = json_deep_copy(cur);
    json_t *o2 = NULL;
    CHECK(entity_apply(cur, out, ENTITY_APPEND, LATER, NULL, NULL, &o2) == VG_OK);
    json_t *val = json_object_get(json_object_get(inst0(o2, V "v"), "value"), "k");
    json_array_append_new(val, json_integer(2));
    CHECK(json_equal(cur, snap));
    /* growing past 64 instances through updates is refused */
    json_t *o3 = NULL;
    json_t *one =
        parse_text("{\"x\":{\"value\":1,\"datasetId\":\"urn:d:new\"}}", ENTITY_FRAGMENT, 0);
    CHECK(entity_apply(o2, one, ENTITY_APPEND, LATER, NULL, NULL, &o3) == VG_ETOOBIG && !o3);
    /* rendering shares nothing mutable with the stored entity */
    json_t *r = render(cur, ENTITY_NORMALIZED);
    json_array_append_new(json_object_get(json_object_get(json_object_get(r, "v"), "value"), "k"),
                          json_integer(3));
    CHECK(json_equal(cur, snap));
    json_decref(r);
    json_decref(one);
    json_decref(o2);
    json_decref(snap);
    json_decref(cur);
    json_decref(out);
    json_decref(arr);
}

static json_t *base_entity(void)
{
    return parse_text("{\"id\":\"urn:e:1\",\"type\":\"T\",\"a\":{\"value\":1,\"unitCode\":\"C\","
                      "\"observedAt\":\"2024-01-01T00:00:00Z\",\"s1\":{\"value\":\"x\"},"
                      "\"s2\":{\"value\":\"y\"}},"
                      "\"m\":[{\"value\":1},{\"value\":2,\"datasetId\":\"urn:d:2\"}],"
                      "\"r\":{\"object\":\"urn:o:1\"}}",
                      ENTITY_FULL, 0);
}

static json_t *apply(const json_t *cur, const char *frag, enum entity_op op, int null_ok,
                     json_t *upd, json_t *nupd, int *rc)
{
    json_t *f = parse_text(frag, ENTITY_FRAGMENT, null_ok);
    json_t *out = NULL;
    *rc = f ? entity_apply(cur, f, op, LATER, upd, nupd, &out) : -100;
    json_decref(f);
    return out;
}

static void t_append_update(void)
{
    json_t *cur = base_entity();
    REQUIRE(cur);
    json_t *snapshot = json_deep_copy(cur);
    json_t *upd = json_array(), *nupd = json_array();
    int rc;
    json_t *o = apply(cur,
                      "{\"type\":\"U\",\"a\":5,\"n\":{\"value\":9},"
                      "\"m\":{\"value\":3,\"datasetId\":\"urn:d:3\"}}",
                      ENTITY_APPEND, 0, upd, nupd, &rc);
    REQUIRE(rc == VG_OK && o);
    CHECK(json_equal(cur, snapshot)); /* cur untouched */
    CHECK(json_array_size(json_object_get(o, "type")) == 2);
    const json_t *a = inst0(o, V "a");
    CHECK(json_integer_value(json_object_get(a, "value")) == 5);
    CHECK(json_object_get(a, "unitCode") == NULL); /* append replaces */
    CHECK(strcmp(SV(json_object_get(a, "createdAt")), NOW) == 0);
    CHECK(strcmp(SV(json_object_get(a, "modifiedAt")), LATER) == 0);
    CHECK(strcmp(SV(json_object_get(o, "modifiedAt")), LATER) == 0);
    CHECK(strcmp(SV(json_object_get(o, "createdAt")), NOW) == 0);
    CHECK(json_array_size(json_object_get(json_object_get(o, "attrs"), V "m")) == 3);
    CHECK(json_array_size(upd) == 3 && json_array_size(nupd) == 0);
    json_decref(o);

    /* noOverwrite */
    json_array_clear(upd);
    o = apply(cur, "{\"a\":5,\"n\":7,\"m\":{\"value\":4,\"datasetId\":\"urn:d:2\"}}",
              ENTITY_APPEND_NOOVERWRITE, 0, upd, nupd, &rc);
    REQUIRE(rc == VG_OK && o);
    CHECK(json_integer_value(json_object_get(inst0(o, V "a"), "value")) == 1);
    CHECK(json_integer_value(json_object_get(inst0(o, V "n"), "value")) == 7);
    CHECK(json_array_size(upd) == 1 && json_array_size(nupd) == 2);
    CHECK(strcmp(SV(json_object_get(json_array_get(nupd, 0), "attributeName")), V "a") == 0);
    json_decref(o);

    /* update: only existing */
    json_array_clear(upd);
    json_array_clear(nupd);
    o = apply(cur,
              "{\"a\":6,\"zz\":1,\"m\":[{\"value\":8,\"datasetId\":\"urn:d:2\"},"
              "{\"value\":8,\"datasetId\":\"urn:d:9\"}]}",
              ENTITY_UPDATE, 0, upd, nupd, &rc);
    REQUIRE(rc == VG_OK && o);
    CHECK(json_integer_value(json_object_get(inst0(o, V "a"), "value")) == 6);
    CHECK(json_object_get(json_object_get(o, "attrs"), V "zz") == NULL);
    const json_t *m = json_object_get(json_object_get(o, "attrs"), V "m");
    CHECK(json_array_size(m) == 2);
    CHECK(json_integer_value(json_object_get(json_array_get(m, 1), "value")) == 8);
    CHECK(json_integer_value(json_object_get(json_array_get(m, 0), "value")) == 1);
    CHECK(json_array_size(upd) == 2 && json_array_size(nupd) == 2);
    json_decref(o);

    /* fragment id must match */
    json_t *f = parse_text("{\"id\":\"urn:e:2\",\"a\":1}", ENTITY_FRAGMENT, 0);
    o = NULL;
    CHECK(entity_apply(cur, f, ENTITY_APPEND, LATER, NULL, NULL, &o) == VG_EINVAL && !o);
    json_decref(f);
    json_decref(upd);
    json_decref(nupd);
    json_decref(snapshot);
    json_decref(cur);
}

static void t_merge(void)
{
    json_t *cur = base_entity();
    REQUIRE(cur);
    json_t *upd = json_array();
    int rc;
    json_t *o = apply(cur,
                      "{\"type\":\"T2\",\"a\":{\"value\":2,\"s1\":{\"value\":\"x2\"},"
                      "\"s2\":null,\"s3\":4},\"r\":null,\"m\":{\"value\":\"urn:ngsi-ld:null\","
                      "\"datasetId\":\"urn:d:2\"},\"new\":{\"object\":\"urn:o:2\"}}",
                      ENTITY_MERGE, 1, upd, NULL, &rc);
    REQUIRE(rc == VG_OK && o);
    CHECK(json_array_size(json_object_get(o, "type")) == 2);
    const json_t *a = inst0(o, V "a");
    CHECK(json_integer_value(json_object_get(a, "value")) == 2);
    CHECK(strcmp(SV(json_object_get(a, "unitCode")), "C") == 0);
    CHECK(strcmp(SV(json_object_get(a, "observedAt")), "2024-01-01T00:00:00Z") == 0);
    CHECK(strcmp(SV(json_object_get(a, "createdAt")), NOW) == 0);
    CHECK(strcmp(SV(json_object_get(a, "modifiedAt")), LATER) == 0);
    const json_t *subs = json_object_get(a, "subs");
    CHECK(strcmp(SV(json_object_get(json_object_get(subs, V "s1"), "value")), "x2") == 0);
    CHECK(json_object_get(subs, V "s2") == NULL);
    CHECK(json_integer_value(json_object_get(json_object_get(subs, V "s3"), "value")) == 4);
    CHECK(json_object_get(json_object_get(o, "attrs"), V "r") == NULL);
    const json_t *m = json_object_get(json_object_get(o, "attrs"), V "m");
    CHECK(json_array_size(m) == 1 && json_object_get(json_array_get(m, 0), "datasetId") == NULL);
    CHECK(strcmp(SV(json_object_get(inst0(o, V "new"), "object")), "urn:o:2") == 0);
    CHECK(json_array_size(upd) == 4);
    json_decref(o);
    /* kind change through merge */
    o = apply(cur, "{\"a\":{\"type\":\"Relationship\",\"object\":\"urn:o:3\"}}", ENTITY_MERGE, 1,
              NULL, NULL, &rc);
    REQUIRE(rc == VG_OK && o);
    a = inst0(o, V "a");
    CHECK(json_object_get(a, "value") == NULL && json_object_get(a, "object") != NULL);
    CHECK(strcmp(SV(json_object_get(a, "type")), "Relationship") == 0);
    json_decref(o);
    json_decref(upd);
    json_decref(cur);
}

static void t_partial_replace_delete(void)
{
    json_t *cur = base_entity();
    REQUIRE(cur);
    json_t *f = NULL, *o = NULL;
    json_t *b = js("{\"value\":10,\"observedAt\":\"2024-02-02T00:00:00Z\"}");
    CHECK(entity_parse(b, ENTITY_ATTR, g_ctx, V "a", 1, NOW, &f, NULL) == VG_OK);
    CHECK(entity_apply(cur, f, ENTITY_PARTIAL, LATER, NULL, NULL, &o) == VG_OK);
    const json_t *a = inst0(o, V "a");
    CHECK(json_integer_value(json_object_get(a, "value")) == 10);
    CHECK(strcmp(SV(json_object_get(a, "unitCode")), "C") == 0);
    CHECK(json_object_size(json_object_get(a, "subs")) == 2);
    json_decref(o);
    o = NULL;
    json_decref(f);
    f = NULL;
    /* partial on a missing attribute */
    CHECK(entity_parse(b, ENTITY_ATTR, g_ctx, V "nope", 1, NOW, &f, NULL) == VG_OK);
    CHECK(entity_apply(cur, f, ENTITY_PARTIAL, LATER, NULL, NULL, &o) == VG_ENOENT && !o);
    CHECK(entity_apply(cur, f, ENTITY_REPLACE_ATTR, LATER, NULL, NULL, &o) == VG_ENOENT && !o);
    json_decref(f);
    f = NULL;
    /* replace attribute: sub-attributes and unitCode gone, createdAt kept */
    CHECK(entity_parse(b, ENTITY_ATTR, g_ctx, V "a", 0, NOW, &f, NULL) == VG_OK);
    CHECK(entity_apply(cur, f, ENTITY_REPLACE_ATTR, LATER, NULL, NULL, &o) == VG_OK);
    a = inst0(o, V "a");
    CHECK(json_object_get(a, "unitCode") == NULL && json_object_get(a, "subs") == NULL);
    CHECK(strcmp(SV(json_object_get(a, "createdAt")), NOW) == 0);
    json_decref(o);
    o = NULL;
    json_decref(f);
    json_decref(b);
    /* replace entity */
    f = parse_text("{\"id\":\"urn:e:1\",\"type\":\"Z\",\"only\":1}", ENTITY_FULL, 0);
    REQUIRE(f);
    CHECK(entity_apply(cur, f, ENTITY_REPLACE, LATER, NULL, NULL, &o) == VG_OK);
    CHECK(json_object_size(json_object_get(o, "attrs")) == 1 && inst0(o, V "only"));
    CHECK(strcmp(SV(json_array_get(json_object_get(o, "type"), 0)), V "Z") == 0);
    CHECK(json_array_size(json_object_get(o, "type")) == 1);
    CHECK(strcmp(SV(json_object_get(o, "createdAt")), NOW) == 0);
    CHECK(strcmp(SV(json_object_get(o, "modifiedAt")), LATER) == 0);
    json_decref(o);
    o = NULL;
    json_decref(f);
    /* delete */
    CHECK(entity_attr_delete(cur, V "m", "urn:d:2", 0, LATER, &o) == VG_OK);
    CHECK(json_array_size(json_object_get(json_object_get(o, "attrs"), V "m")) == 1);
    json_decref(o);
    o = NULL;
    CHECK(entity_attr_delete(cur, V "m", NULL, 0, LATER, &o) == VG_OK);
    CHECK(json_object_get(json_array_get(json_object_get(json_object_get(o, "attrs"), V "m"), 0),
                          "datasetId") != NULL);
    json_decref(o);
    o = NULL;
    CHECK(entity_attr_delete(cur, V "m", NULL, 1, LATER, &o) == VG_OK);
    CHECK(json_object_get(json_object_get(o, "attrs"), V "m") == NULL);
    json_decref(o);
    o = NULL;
    CHECK(entity_attr_delete(cur, V "m", "urn:d:404", 0, LATER, &o) == VG_ENOENT && !o);
    CHECK(entity_attr_delete(cur, V "zz", NULL, 1, LATER, &o) == VG_ENOENT && !o);
    CHECK(entity_attr_delete(cur, V "r", NULL, 0, LATER, &o) == VG_OK);
    CHECK(json_object_get(json_object_get(o, "attrs"), V "r") == NULL);
    json_decref(o);
    /* helpers */
    CHECK(entity_has_type(cur, V "T") && !entity_has_type(cur, V "U"));
    CHECK(json_integer_value(json_object_get(entity_attr_default(cur, V "m"), "value")) == 1);
    CHECK(entity_attr_default(cur, V "zz") == NULL);
    json_decref(cur);
}

static void t_render_options(void)
{
    json_t *st = parse_text(ALL_KINDS, ENTITY_FULL, 0);
    REQUIRE(st);
    /* lang */
    struct entity_render_opts o = {.format = ENTITY_NORMALIZED, .lang = "de,en"};
    json_t *r = entity_render(st, g_ctx, &o);
    json_t *n = json_object_get(r, "name");
    CHECK(strcmp(SV(json_object_get(n, "type")), "Property") == 0);
    CHECK(strcmp(SV(json_object_get(n, "value")), "Station") == 0);
    CHECK(strcmp(SV(json_object_get(n, "lang")), "en") == 0);
    json_decref(r);
    o.format = ENTITY_SIMPLIFIED;
    o.lang = "FR";
    r = entity_render(st, g_ctx, &o);
    CHECK(strcmp(SV(json_object_get(r, "name")), "Gare") == 0);
    json_decref(r);
    o.lang = "*";
    r = entity_render(st, g_ctx, &o);
    CHECK(json_is_string(json_object_get(r, "name")));
    json_decref(r);
    /* pick / omit / datasetId / sysAttrs / context */
    json_t *pick = json_pack("[s,s,s]", "id", V "temperature", V "speed");
    struct entity_render_opts p = {.format = ENTITY_NORMALIZED, .pick = pick};
    r = entity_render(st, g_ctx, &p);
    CHECK(json_object_size(r) == 3 && json_object_get(r, "type") == NULL);
    json_decref(r);
    json_t *omit = json_pack("[s,s]", "type", V "temperature");
    struct entity_render_opts q = {.format = ENTITY_NORMALIZED,
                                   .omit = omit,
                                   .dataset_id = "urn:ds:gps",
                                   .sys_attrs = 1,
                                   .with_context = 1};
    r = entity_render(st, g_ctx, &q);
    CHECK(json_object_get(r, "type") == NULL && json_object_get(r, "temperature") == NULL);
    CHECK(json_object_get(r, "id") != NULL);
    CHECK(json_is_object(json_object_get(r, "speed")));
    CHECK(json_integer_value(json_object_get(json_object_get(r, "speed"), "value")) == 11);
    CHECK(json_object_get(r, "plain") == NULL);
    CHECK(json_object_get(r, "createdAt") != NULL);
    CHECK(strcmp(SV(json_object_get(r, "@context")), LDCTX_CORE_URL) == 0);
    json_decref(r);
    q.dataset_id = "@none";
    q.omit = NULL;
    r = entity_render(st, g_ctx, &q);
    CHECK(json_integer_value(json_object_get(json_object_get(r, "speed"), "value")) == 10);
    CHECK(json_is_string(json_object_get(json_object_get(r, "plain"), "modifiedAt")));
    json_decref(r);
    /* feature */
    json_t *ctxv = json_string("https://example.org/c.jsonld");
    struct entity_render_opts fo = {
        .format = ENTITY_SIMPLIFIED, .with_context = 1, .context_value = ctxv};
    r = entity_render_feature(st, g_ctx, &fo, NULL);
    CHECK(strcmp(SV(json_object_get(r, "type")), "Feature") == 0);
    CHECK(strcmp(SV(json_object_get(r, "id")), "urn:ngsi-ld:T:1") == 0);
    CHECK(strcmp(SV(json_object_get(json_object_get(r, "geometry"), "type")), "Polygon") == 0);
    json_t *props = json_object_get(r, "properties");
    CHECK(json_object_get(props, "id") == NULL && json_object_get(props, "@context") == NULL);
    CHECK(strcmp(SV(json_object_get(props, "type")), "T") == 0);
    CHECK(json_real_value(json_object_get(props, "temperature")) == 21.5);
    CHECK(json_equal(json_object_get(r, "@context"), ctxv));
    json_decref(r);
    r = entity_render_feature(st, g_ctx, &fo, V "nogeo");
    CHECK(json_is_null(json_object_get(r, "geometry")));
    json_decref(r);
    json_decref(ctxv);
    json_decref(pick);
    json_decref(omit);
    json_decref(st);
}

/* Every official example: parse, render normalized and keyValues, parse again. */
static void t_datamodels(void)
{
    const char *root = "../shared/datamodels";
    DIR *d = opendir(root);
    REQUIRE(d);
    struct dirent *de;
    int parsed = 0, failed_expected = 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || de->d_name[0] == '_' || strchr(de->d_name, '.'))
            continue;
        for (int kv = 0; kv < 2; kv++) {
            char path[512];
            snprintf(path, sizeof(path), "%s/%s/%s", root, de->d_name,
                     kv ? "example.jsonld" : "example-normalized.jsonld");
            json_error_t jerr;
            json_t *body = json_load_file(path, 0, &jerr);
            if (!body) {
                int expected = kv && strcmp(de->d_name, "PointOfInterest") == 0;
                CHECK(expected || errno == ENOENT);
                if (!expected && errno != ENOENT)
                    printf("  %s: %s\n", path, jerr.text);
                failed_expected += expected;
                continue;
            }
            json_t *st = NULL;
            struct entity_err e;
            int rc = entity_parse(body, ENTITY_FULL, g_ctx, NULL, 0, NOW, &st, &e);
            /* Documented: "Geoproperty". Not in NOTES.md: WaterObserved's normalized example
            ** has a Relationship whose object is a date, not a URI. */
            if (!kv && strcmp(de->d_name, "ConsumptionPoint") == 0) {
                /* It also writes "values" for address (not in NOTES.md), which comes first. */
                CHECK(rc == VG_EINVAL && strcmp(e.member, "address") == 0);
                failed_expected += rc == VG_EINVAL;
                json_object_del(body, "address");
                json_t *st2 = NULL;
                rc = entity_parse(body, ENTITY_FULL, g_ctx, NULL, 0, NOW, &st2, &e);
                CHECK(rc == VG_EINVAL && strcmp(e.member, "location.type") == 0 &&
                      strstr(e.detail, "Geoproperty"));
                json_decref(st2);
                json_decref(st);
                json_decref(body);
                continue;
            }
            if (!kv && strcmp(de->d_name, "WaterObserved") == 0) {
                CHECK(rc == VG_EINVAL && strcmp(e.member, "dateObserved.object") == 0);
                failed_expected += rc == VG_EINVAL;
                json_decref(body);
                continue;
            }
            CHECK(rc == VG_OK);
            if (rc) {
                printf("  %s: %s: %s\n", path, e.member, e.detail);
                json_decref(body);
                continue;
            }
            parsed++;
            for (int f = 0; f < 3; f++) {
                enum entity_format fmt =
                    f == 0 ? ENTITY_NORMALIZED : (f == 1 ? ENTITY_CONCISE : ENTITY_SIMPLIFIED);
                json_t *r = render(st, fmt);
                json_t *back = parse_ok(r, ENTITY_FULL, 0);
                CHECK(back != NULL);
                if (back && (fmt != ENTITY_SIMPLIFIED || kv)) {
                    if (!eq_nosys(st, back))
                        CHECK(!printf("  %s format %d\n", path, f));
                } else if (back) {
                    json_t *r2 = render(back, ENTITY_SIMPLIFIED);
                    CHECK(json_equal(r, r2));
                    json_decref(r2);
                }
                json_decref(back);
                json_decref(r);
            }
            json_decref(st);
            json_decref(body);
        }
    }
    closedir(d);
    printf("  datamodels: %d parsed, %d expected failures\n", parsed, failed_expected);
    CHECK(parsed >= 45);
    CHECK_EQ_INT(failed_expected, 3);
}

int main(void)
{
    TEST_BEGIN("entity");
    if (ldctx_reg_new(&g_reg) != VG_OK)
        return 2;
    g_ctx = ldctx_core(g_reg);
    TEST_RUN(t_parse_kinds);
    TEST_RUN(t_roundtrip_normalized_concise);
    TEST_RUN(t_render_shapes);
    TEST_RUN(t_concise_input);
    TEST_RUN(t_concise_tricky);
    TEST_RUN(t_errors);
    TEST_RUN(t_limits);
    TEST_RUN(t_null_ok);
    TEST_RUN(t_append_update);
    TEST_RUN(t_merge);
    TEST_RUN(t_partial_replace_delete);
    TEST_RUN(t_render_options);
    TEST_RUN(t_datamodels);
    ldctx_release(g_ctx);
    ldctx_reg_free(g_reg);
    return TEST_END();
}
