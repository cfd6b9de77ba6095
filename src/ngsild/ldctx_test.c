/*
** ngsild/ldctx_test.c: unit tests for ngsild/ldctx.c (registry, resolution, expansion, cache).
** Needs the Smart Data Models contexts at ../shared/datamodels/_shared/contexts relative to the
** working directory (the repository root); their absence is a failure, not a skip.
*/
#include "core/test.h"
#include "ngsild/ldctx.h"

#include <dirent.h>
#include <pthread.h>

#define SDM_DIR "../shared/datamodels/_shared/contexts"
#define NS "https://uri.etsi.org/ngsi-ld/"
#define VOCAB "https://uri.etsi.org/ngsi-ld/default-context/"

static int streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

static struct ldctx *resolve_text(struct ldctx_reg *r, const char *tenant, const char *text,
                                  int *rc, char *err, size_t cap)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
    struct ldctx *c = NULL;
    if (!v) {
        printf("  bad test JSON: %s\n", jerr.text);
        *rc = 99;
        return NULL;
    }
    err[0] = 0;
    *rc = ldctx_resolve(r, tenant, v, &c, err, cap);
    json_decref(v);
    return c;
}

static void test_core_expand(void)
{
    struct ldctx_reg *r;
    REQUIRE(ldctx_reg_new(&r) == VG_OK);
    struct ldctx *c = ldctx_core(r);
    CHECK(streq(ldctx_expand(c, "value"), NS "hasValue"));
    CHECK(streq(ldctx_expand(c, "object"), NS "hasObject"));
    CHECK(streq(ldctx_expand(c, "objectList"), NS "hasObjectList"));
    CHECK(streq(ldctx_expand(c, "languageMap"), NS "hasLanguageMap"));
    CHECK(streq(ldctx_expand(c, "valueList"), NS "hasValueList"));
    CHECK(streq(ldctx_expand(c, "json"), NS "hasJSON"));
    CHECK(streq(ldctx_expand(c, "vocab"), NS "hasVocab"));
    CHECK(streq(ldctx_expand(c, "observedAt"), NS "observedAt"));
    CHECK(streq(ldctx_expand(c, "location"), NS "location"));
    CHECK(streq(ldctx_expand(c, "unitCode"), NS "unitCode"));
    CHECK(streq(ldctx_expand(c, "Property"), NS "Property"));
    CHECK(streq(ldctx_expand(c, "Relationship"), NS "Relationship"));
    CHECK(streq(ldctx_expand(c, "GeoProperty"), NS "GeoProperty"));
    CHECK(streq(ldctx_expand(c, "ListRelationship"), NS "ListRelationship"));
    CHECK(streq(ldctx_expand(c, "containedBy"), NS "isContainedBy"));
    CHECK(streq(ldctx_expand(c, "Point"), "https://purl.org/geojson/vocab#Point"));
    CHECK(streq(ldctx_expand(c, "bbox"), "https://purl.org/geojson/vocab#bbox"));
    CHECK(streq(ldctx_expand(c, "description"), "http://purl.org/dc/terms/description"));
    CHECK(streq(ldctx_expand(c, "attributeCount"), VOCAB "attributeCount"));
    CHECK(streq(ldctx_expand(c, "id"), "@id"));
    CHECK(streq(ldctx_expand(c, "type"), "@type"));
    /* not defined: @vocab, compact IRIs, absolute IRIs */
    CHECK(streq(ldctx_expand(c, "temperature"), VOCAB "temperature"));
    CHECK(streq(ldctx_expand(c, "ngsi-ld:foo"), NS "foo"));
    CHECK(streq(ldctx_expand(c, "geojson:foo"), "https://purl.org/geojson/vocab#foo"));
    CHECK(streq(ldctx_expand(c, "urn:ngsi-ld:Thing:1"), "urn:ngsi-ld:Thing:1"));
    CHECK(streq(ldctx_expand(c, "http://example.org/a"), "http://example.org/a"));
    CHECK(streq(ldctx_expand(c, "1a:b"), VOCAB "1a:b"));
    CHECK(streq(ldctx_expand(c, "ngsi-ld://x"), "ngsi-ld://x"));
    /* same pointer on repeated calls, for computed expansions too */
    CHECK(ldctx_expand(c, "temperature") == ldctx_expand(c, "temperature"));
    CHECK(ldctx_expand(c, "value") == ldctx_expand(c, "value"));

    CHECK(streq(ldctx_compact(c, NS "hasValue"), "value"));
    CHECK(streq(ldctx_compact(c, NS "hasObject"), "object"));
    CHECK(streq(ldctx_compact(c, NS "observedAt"), "observedAt"));
    CHECK(streq(ldctx_compact(c, VOCAB "temperature"), "temperature"));
    CHECK(streq(ldctx_compact(c, NS "foo"), "ngsi-ld:foo"));
    CHECK(streq(ldctx_compact(c, "https://purl.org/geojson/vocab#bbox"), "bbox"));
    CHECK(streq(ldctx_compact(c, "https://purl.org/geojson/vocab#zz"), "geojson:zz"));
    CHECK(streq(ldctx_compact(c, "http://example.org/a"), "http://example.org/a"));
    CHECK(streq(ldctx_compact(c, "@id"), "id"));
    CHECK(streq(ldctx_compact(c, VOCAB "a:b"), "ngsi-ld:default-context/a:b"));
    CHECK(streq(ldctx_expand(c, "ngsi-ld:default-context/a:b"), VOCAB "a:b"));
    CHECK(ldctx_compact(c, VOCAB "temperature") == ldctx_compact(c, VOCAB "temperature"));

    CHECK(streq(ldctx_term_type(c, "object"), "@id"));
    CHECK(streq(ldctx_term_type(c, "observedAt"), NS "DateTime"));
    CHECK(streq(ldctx_term_type(c, "typeName"), "@vocab"));
    CHECK(streq(ldctx_term_type(c, "json"), "@json"));
    CHECK(ldctx_term_type(c, "value") == NULL);
    CHECK(ldctx_term_type(c, "nosuchterm") == NULL);
    CHECK(streq(ldctx_term_container(c, "coordinates"), "@list"));
    CHECK(streq(ldctx_term_container(c, "languageMap"), "@language"));
    CHECK(ldctx_term_container(c, "value") == NULL);

    /* every core URL is the same built-in context */
    const char *urls[] = {
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.3.jsonld",
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.6.jsonld",
        LDCTX_CORE_URL,
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld",
    };
    for (size_t i = 0; i < VG_ARRAY_LEN(urls); i++) {
        struct ldctx *x = NULL;
        char err[256];
        CHECK(ldctx_is_core_url(urls[i]));
        CHECK(ldctx_resolve_url(r, "t", urls[i], &x, err, sizeof(err)) == VG_OK);
        CHECK(x == c);
        ldctx_release(x);
        json_t *doc = NULL;
        enum ldctx_kind kind = 0;
        CHECK(ldctx_reg_get(r, NULL, urls[i], &doc, &kind) == VG_OK);
        CHECK(kind == LDCTX_BUILTIN);
        CHECK(json_is_object(json_object_get(doc, "@context")));
        json_decref(doc);
    }
    CHECK(!ldctx_is_core_url("https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v2.0.jsonld"));
    struct ldctx *x = NULL;
    char err[64];
    CHECK(ldctx_resolve(r, "t", NULL, &x, err, sizeof(err)) == VG_OK && x == c);
    ldctx_release(x);
    ldctx_release(c);
    ldctx_reg_free(r);
}

/* compact(expand(t)) == t for every term of the core text itself. */
static void test_core_roundtrip(void)
{
    struct ldctx_reg *r;
    json_error_t jerr;
    json_t *doc = json_loads(ldctx_core_text(), 0, &jerr);
    REQUIRE(doc);
    REQUIRE(ldctx_reg_new(&r) == VG_OK);
    struct ldctx *c = ldctx_core(r);
    const char *term;
    json_t *v;
    int n = 0;
    json_object_foreach(json_object_get(doc, "@context"), term, v) {
        if (term[0] == '@')
            continue;
        const char *iri = ldctx_expand(c, term);
        CHECK(strcmp(iri, term) != 0);
        if (!streq(ldctx_compact(c, iri), term))
            printf("  core term %s -> %s -> %s\n", term, iri, ldctx_compact(c, iri));
        CHECK(streq(ldctx_compact(c, iri), term));
        n++;
    }
    CHECK(n > 150);
    ldctx_release(c);
    ldctx_reg_free(r);
    json_decref(doc);
}

static void test_sdm(void)
{
    struct ldctx_reg *r;
    char err[512] = "";
    uint32_t n = 0;
    REQUIRE(ldctx_reg_new(&r) == VG_OK);
    int rc = ldctx_reg_load_sdm(r, SDM_DIR, &n, err, sizeof(err));
    if (rc)
        printf("  %s\n", err);
    REQUIRE(rc == VG_OK);
    CHECK(n >= 15);

    const char *env[] = {
        "https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/"
        "context.jsonld",
        "https://smart-data-models.github.io/dataModel.Environment/context.jsonld",
    };
    struct ldctx *first = NULL;
    for (size_t i = 0; i < 2; i++) {
        struct ldctx *c = NULL;
        REQUIRE(ldctx_resolve_url(r, NULL, env[i], &c, err, sizeof(err)) == VG_OK);
        /* the file defines "no2", not "NO2" */
        CHECK(streq(ldctx_expand(c, "no2"), "https://smartdatamodels.org/dataModel.Environment/no2"));
        CHECK(streq(ldctx_expand(c, "NO2"), VOCAB "NO2"));
        CHECK(streq(ldctx_expand(c, "AirQualityObserved"),
                    "https://smartdatamodels.org/dataModel.Environment/AirQualityObserved"));
        CHECK(streq(ldctx_expand(c, "location"), NS "location"));
        CHECK(streq(ldctx_expand(c, "value"), NS "hasValue"));
        CHECK(streq(ldctx_compact(c, "https://smartdatamodels.org/dataModel.Environment/no2"),
                    "no2"));
        json_t *doc = NULL;
        enum ldctx_kind kind = 0;
        CHECK(ldctx_reg_get(r, "any", env[i], &doc, &kind) == VG_OK && kind == LDCTX_CACHED);
        json_decref(doc);
        if (i == 0)
            first = c;
        else
            ldctx_release(c);
    }
    ldctx_release(first);

    /* round trip for every term of every subject context, under the raw.githubusercontent URL */
    DIR *d = opendir(SDM_DIR);
    REQUIRE(d);
    struct dirent *de;
    int files = 0, terms = 0;
    while ((de = readdir(d))) {
        char subj[256], path[1024], url[512];
        if (sscanf(de->d_name, "dataModel.%255[^.].context.jsonld", subj) != 1)
            continue;
        snprintf(path, sizeof(path), "%s/%s", SDM_DIR, de->d_name);
        snprintf(url, sizeof(url),
                 "https://raw.githubusercontent.com/smart-data-models/dataModel.%s/master/"
                 "context.jsonld",
                 subj);
        json_error_t jerr;
        json_t *doc = json_load_file(path, 0, &jerr);
        CHECK(doc != NULL);
        struct ldctx *c = NULL;
        CHECK(ldctx_resolve_url(r, NULL, url, &c, err, sizeof(err)) == VG_OK);
        if (!doc || !c) {
            json_decref(doc);
            continue;
        }
        const char *term;
        json_t *v;
        json_object_foreach(json_object_get(doc, "@context"), term, v) {
            if (term[0] == '@')
                continue;
            const char *iri = ldctx_expand(c, term);
            if (!streq(ldctx_compact(c, iri), term)) {
                printf("  %s: %s -> %s -> %s\n", subj, term, iri, ldctx_compact(c, iri));
                CHECK(0);
            }
            if (json_is_string(v) && json_string_value(v)[0] != '@' &&
                strncmp(json_string_value(v), "ngsi-ld:", 8) != 0)
                CHECK(streq(iri, json_string_value(v)));
            terms++;
        }
        files++;
        ldctx_release(c);
        json_decref(doc);
    }
    closedir(d);
    CHECK(files >= 15);
    CHECK(terms > 1000);
    ldctx_reg_free(r);
}

static void test_unknown_url(void)
{
    struct ldctx_reg *r;
    struct ldctx *c = NULL;
    char err[512] = "";
    REQUIRE(ldctx_reg_new(&r) == VG_OK);
    const char *u = "https://example.org/nowhere/context.jsonld";
    CHECK(ldctx_resolve_url(r, NULL, u, &c, err, sizeof(err)) == VG_ENOENT);
    CHECK(c == NULL);
    CHECK(strstr(err, u) != NULL);
    CHECK(strstr(err, "is not available") != NULL);
    int rc;
    c = resolve_text(r, NULL, "[{\"a\":\"http://a/\"}, \"https://example.org/other.jsonld\"]", &rc,
                     err, sizeof(err));
    CHECK(rc == VG_ENOENT && c == NULL);
    CHECK(strstr(err, "https://example.org/other.jsonld") != NULL);
    json_t *doc = NULL;
    CHECK(ldctx_reg_get(r, NULL, u, &doc, NULL) == VG_ENOENT);
    ldctx_reg_free(r);
}

static void test_manifest(void)
{
    struct ldctx_reg *r;
    char err[512] = "";
    char *dir = test_tmpdir("ldctx");
    REQUIRE(ldctx_reg_new(&r) == VG_OK);
    write_file(dir, "a.jsonld",
               "{\"@context\": {\"ex\": \"http://example.org/\", \"speed\": \"ex:speed\"}}");
    write_file(dir, "b.jsonld",
               "{\"@context\": [\"http://ctx.test/a\", {\"speed\": \"http://other.org/speed\"}]}");
    write_file(dir, "core.jsonld", "{\"@context\": {\"value\": \"http://evil/\"}}");
    write_file(dir, "manifest.tsv",
               "# preloaded contexts\n"
               "\n"
               "http://ctx.test/a\ta.jsonld\r\n"
               "http://ctx.test/b\tb.jsonld\n"
               "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.6.jsonld\tcore.jsonld\n");
    int rc = ldctx_reg_load_manifest(r, dir, err, sizeof(err));
    if (rc)
        printf("  %s\n", err);
    CHECK(rc == VG_OK);
    struct ldctx *c = NULL;
    REQUIRE(ldctx_resolve_url(r, "x", "http://ctx.test/a", &c, err, sizeof(err)) == VG_OK);
    CHECK(streq(ldctx_expand(c, "speed"), "http://example.org/speed"));
    CHECK(streq(ldctx_expand(c, "ex:dir"), "http://example.org/dir"));
    CHECK(streq(ldctx_compact(c, "http://example.org/speed"), "speed"));
    CHECK(streq(ldctx_compact(c, "http://example.org/heading"), "ex:heading"));
    ldctx_release(c);
    /* b includes a, then overrides speed; the ex prefix is still there */
    REQUIRE(ldctx_resolve_url(r, "x", "http://ctx.test/b", &c, err, sizeof(err)) == VG_OK);
    CHECK(streq(ldctx_expand(c, "speed"), "http://other.org/speed"));
    CHECK(streq(ldctx_expand(c, "ex:speed"), "http://example.org/speed"));
    ldctx_release(c);
    /* a core URL in the manifest does not replace the built-in core */
    c = ldctx_core(r);
    CHECK(streq(ldctx_expand(c, "value"), NS "hasValue"));
    ldctx_release(c);
    json_t *doc = NULL;
    enum ldctx_kind kind = 0;
    CHECK(ldctx_reg_get(r, NULL, "http://ctx.test/a", &doc, &kind) == VG_OK);
    CHECK(kind == LDCTX_CACHED);
    json_decref(doc);

    /* errors name the file and line */
    write_file(dir, "manifest.tsv", "http://ctx.test/c\ta.jsonld\nhttp://ctx.test/d\tnope.jsonld\n");
    CHECK(ldctx_reg_load_manifest(r, dir, err, sizeof(err)) == VG_ENOENT);
    CHECK(strstr(err, "manifest.tsv:2") != NULL);
    write_file(dir, "manifest.tsv", "just-a-url\n");
    CHECK(ldctx_reg_load_manifest(r, dir, err, sizeof(err)) == VG_EINVAL);
    CHECK(strstr(err, "manifest.tsv:1") != NULL);
    write_file(dir, "bad.jsonld", "{\"@context\": 42}");
    write_file(dir, "manifest.tsv", "http://ctx.test/e\tbad.jsonld\n");
    CHECK(ldctx_reg_load_manifest(r, dir, err, sizeof(err)) == VG_EINVAL);
    write_file(dir, "nocontext.jsonld", "{\"a\": 1}");
    write_file(dir, "manifest.tsv", "http://ctx.test/e\tnocontext.jsonld\n");
    CHECK(ldctx_reg_load_manifest(r, dir, err, sizeof(err)) == VG_EINVAL);
    CHECK(ldctx_reg_load_manifest(r, "/nonexistent/dir", err, sizeof(err)) == VG_ENOENT);
    ldctx_reg_free(r);
    test_rmrf(dir);
    free(dir);
}

static void test_nested_and_cycles(void)
{
    struct ldctx_reg *r;
    char err[512] = "";
    char *dir = test_tmpdir("ldctx");
    char manifest[8192] = "", name[64], text[512];
    REQUIRE(ldctx_reg_new(&r) == VG_OK);
    /* chain: c0 -> c1 -> ... -> c11, each defining t<i> */
    for (int i = 0; i < 12; i++) {
        snprintf(name, sizeof(name), "c%d.jsonld", i);
        if (i < 11)
            snprintf(text, sizeof(text),
                     "{\"@context\": [\"http://ctx.test/c%d\", {\"t%d\": \"http://t/%d\"}]}", i + 1,
                     i, i);
        else
            snprintf(text, sizeof(text), "{\"@context\": {\"t%d\": \"http://t/%d\"}}", i, i);
        write_file(dir, name, text);
        size_t len = strlen(manifest);
        snprintf(manifest + len, sizeof(manifest) - len, "http://ctx.test/c%d\tc%d.jsonld\n", i, i);
    }
    write_file(dir, "x.jsonld", "{\"@context\": [\"http://ctx.test/y\", {\"x\": \"http://x/\"}]}");
    write_file(dir, "y.jsonld", "{\"@context\": {\"@context\": 1, \"y\": \"http://y/\"}}");
    write_file(dir, "p.jsonld", "{\"@context\": [\"http://ctx.test/q\"]}");
    write_file(dir, "q.jsonld", "{\"@context\": \"http://ctx.test/p\"}");
    size_t len = strlen(manifest);
    snprintf(manifest + len, sizeof(manifest) - len,
             "http://ctx.test/x\tx.jsonld\nhttp://ctx.test/y\ty.jsonld\n"
             "http://ctx.test/p\tp.jsonld\nhttp://ctx.test/q\tq.jsonld\n");
    write_file(dir, "manifest.tsv", manifest);
    REQUIRE(ldctx_reg_load_manifest(r, dir, err, sizeof(err)) == VG_OK);

    struct ldctx *c = NULL;
    /* c4 reaches c11: 8 documents deep */
    CHECK(ldctx_resolve_url(r, NULL, "http://ctx.test/c4", &c, err, sizeof(err)) == VG_OK);
    if (c) {
        CHECK(streq(ldctx_expand(c, "t4"), "http://t/4"));
        CHECK(streq(ldctx_expand(c, "t11"), "http://t/11"));
        ldctx_release(c);
        c = NULL;
    }
    /* c3 would need 9 */
    CHECK(ldctx_resolve_url(r, NULL, "http://ctx.test/c3", &c, err, sizeof(err)) == VG_EINVAL);
    CHECK(c == NULL && strstr(err, "deeper") != NULL);
    CHECK(ldctx_resolve_url(r, NULL, "http://ctx.test/x", &c, err, sizeof(err)) == VG_OK);
    if (c) {
        CHECK(streq(ldctx_expand(c, "y"), "http://y/"));
        ldctx_release(c);
        c = NULL;
    }
    CHECK(ldctx_resolve_url(r, NULL, "http://ctx.test/p", &c, err, sizeof(err)) == VG_EINVAL);
    CHECK(c == NULL && strstr(err, "includes itself") != NULL);
    /* the same document twice (not a cycle) is fine */
    int rc;
    c = resolve_text(r, NULL, "[\"http://ctx.test/c10\", \"http://ctx.test/c10\"]", &rc, err,
                     sizeof(err));
    CHECK(rc == VG_OK && c != NULL);
    ldctx_release(c);
    ldctx_reg_free(r);
    test_rmrf(dir);
    free(dir);
}

static void test_override_order(void)
{
    struct ldctx_reg *r;
    char err[512] = "";
    int rc;
    REQUIRE(ldctx_reg_new(&r) == VG_OK);
    struct ldctx *c = resolve_text(
        r, NULL,
        "[{\"value\": \"http://evil/value\", \"location\": null, \"foo\": \"http://a/foo\","
        "  \"ex\": \"http://example.org/\", \"temp\": \"ex:temperature\","
        "  \"a2\": \"http://x/1\", \"a1\": \"http://x/1\", \"abc\": \"http://x/1\","
        "  \"rel\": {\"@id\": \"ex:rel\", \"@type\": \"@id\"}, \"noid\": {\"@type\": \"@id\"},"
        "  \"@version\": 1.1, \"@protected\": true, \"@language\": \"en\","
        "  \"scoped\": {\"@id\": \"ex:scoped\", \"@context\": {\"inner\": \"http://inner/\"}}},"
        " {\"foo\": null, \"ex\": \"http://other.org/\"},"
        " \"https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld\"]",
        &rc, err, sizeof(err));
    if (rc)
        printf("  %s\n", err);
    REQUIRE(rc == VG_OK && c);
    CHECK(streq(ldctx_expand(c, "value"), NS "hasValue"));    /* core wins */
    CHECK(streq(ldctx_expand(c, "location"), NS "location")); /* core terms cannot be undefined */
    CHECK(streq(ldctx_expand(c, "foo"), VOCAB "foo"));        /* null un-defines */
    CHECK(streq(ldctx_expand(c, "temp"), "http://example.org/temperature")); /* definition time */
    CHECK(streq(ldctx_expand(c, "ex:x"), "http://other.org/x"));
    CHECK(streq(ldctx_compact(c, "http://x/1"), "a1"));
    CHECK(streq(ldctx_expand(c, "rel"), "http://example.org/rel"));
    CHECK(streq(ldctx_term_type(c, "rel"), "@id"));
    CHECK(streq(ldctx_expand(c, "noid"), VOCAB "noid"));
    CHECK(streq(ldctx_expand(c, "scoped"), "http://example.org/scoped"));
    CHECK(streq(ldctx_expand(c, "inner"), VOCAB "inner"));
    CHECK(streq(ldctx_compact(c, "http://other.org/zz"), "ex:zz"));
    ldctx_release(c);

    /* a user @vocab shapes the user's own terms; the core's @vocab is the final one */
    c = resolve_text(r, NULL, "{\"@vocab\": \"http://v.org/\", \"bar\": {\"@type\": \"@id\"},"
                              " \"baz\": \"qux\"}",
                     &rc, err, sizeof(err));
    REQUIRE(rc == VG_OK && c);
    CHECK(streq(ldctx_expand(c, "bar"), "http://v.org/bar"));
    CHECK(streq(ldctx_expand(c, "baz"), "http://v.org/qux"));
    CHECK(streq(ldctx_expand(c, "other"), VOCAB "other"));
    CHECK(streq(ldctx_compact(c, "http://v.org/bar"), "bar"));
    ldctx_release(c);

    /* null resets what came before it */
    c = resolve_text(r, NULL, "[{\"foo\": \"http://a/foo\"}, null, {\"bar\": \"http://a/bar\"}]",
                     &rc, err, sizeof(err));
    REQUIRE(rc == VG_OK && c);
    CHECK(streq(ldctx_expand(c, "foo"), VOCAB "foo"));
    CHECK(streq(ldctx_expand(c, "bar"), "http://a/bar"));
    ldctx_release(c);
    ldctx_reg_free(r);
}

static void test_malformed(void)
{
    struct ldctx_reg *r;
    char err[512];
    int rc;
    REQUIRE(ldctx_reg_new(&r) == VG_OK);
    const char *bad[] = {
        "42",
        "true",
        "[[\"http://a\"]]",
        "[{\"a\": \"http://a/\"}, 3]",
        "{\"a\": 5}",
        "{\"a\": [\"http://a\"]}",
        "{\"a\": {\"@id\": 5}}",
        "{\"a\": {\"@type\": true}}",
        "{\"a\": {\"@container\": 1}}",
        "{\"a\": {\"@prefix\": \"yes\"}}",
        "{\"@vocab\": 5}",
        "{\"a\": \"b\", \"b\": \"a\"}",
        "{\"a\": \"b:x\", \"b\": \"a:y\"}",
        "{\"\": \"http://a/\"}",
    };
    for (size_t i = 0; i < VG_ARRAY_LEN(bad); i++) {
        struct ldctx *c = resolve_text(r, NULL, bad[i], &rc, err, sizeof(err));
        if (rc != VG_EINVAL)
            printf("  accepted: %s\n", bad[i]);
        CHECK(rc == VG_EINVAL);
        CHECK(c == NULL);
        CHECK(err[0] != 0);
    }
    /* an unknown keyword-like value is ignored, not an error */
    struct ldctx *c = resolve_text(r, NULL, "{\"a\": \"@whatever\"}", &rc, err, sizeof(err));
    CHECK(rc == VG_OK && c && streq(ldctx_expand(c, "a"), VOCAB "a"));
    ldctx_release(c);
    ldctx_reg_free(r);
}

struct list_acc {
    int builtin, cached, hosted;
};

static int list_cb(void *arg, const char *id, enum ldctx_kind kind, const json_t *doc)
{
    struct list_acc *a = arg;
    if (!id || !json_object_get(doc, "@context"))
        return VG_EINVAL;
    if (kind == LDCTX_BUILTIN)
        a->builtin++;
    else if (kind == LDCTX_CACHED)
        a->cached++;
    else if (kind == LDCTX_HOSTED)
        a->hosted++;
    return 0;
}

static void test_user_docs(void)
{
    struct ldctx_reg *r;
    char id[96], id2[96], err[512];
    REQUIRE(ldctx_reg_new(&r) == VG_OK);
    json_t *doc = json_pack("{s:{s:s, s:s}}", "@context", "speed", "http://example.org/speed",
                            "ex", "http://example.org/");
    REQUIRE(doc);
    REQUIRE(ldctx_reg_add(r, "A", doc, id, sizeof(id)) == VG_OK);
    CHECK(strncmp(id, "urn:ngsi-ld:jsonldContext:", 26) == 0);
    CHECK(strlen(id) == 26 + 32);
    REQUIRE(ldctx_reg_add(r, "A", doc, id2, sizeof(id2)) == VG_OK);
    CHECK(strcmp(id, id2) == 0);
    CHECK(ldctx_reg_add(r, "A", doc, id2, 10) == VG_EINVAL);

    json_t *got = NULL;
    enum ldctx_kind kind = 0;
    CHECK(ldctx_reg_get(r, "A", id, &got, &kind) == VG_OK);
    CHECK(kind == LDCTX_HOSTED && json_equal(got, doc));
    json_decref(got);
    CHECK(ldctx_reg_get(r, "B", id, &got, &kind) == VG_ENOENT);
    CHECK(ldctx_reg_get(r, NULL, id, &got, &kind) == VG_ENOENT);

    struct ldctx *c = NULL;
    REQUIRE(ldctx_resolve_url(r, "A", id, &c, err, sizeof(err)) == VG_OK);
    CHECK(streq(ldctx_expand(c, "speed"), "http://example.org/speed"));
    ldctx_release(c);
    c = NULL;
    char url[256];
    snprintf(url, sizeof(url), "http://localhost:8080/ngsi-ld/v1/jsonldContexts/%s", id);
    CHECK(ldctx_resolve_url(r, "A", url, &c, err, sizeof(err)) == VG_OK);
    ldctx_release(c);
    c = NULL;
    snprintf(url, sizeof(url),
             "http://h/ngsi-ld/v1/jsonldContexts/urn%%3Angsi-ld%%3AjsonldContext%%3A%s", id + 26);
    CHECK(ldctx_resolve_url(r, "A", url, &c, err, sizeof(err)) == VG_OK);
    ldctx_release(c);
    c = NULL;
    CHECK(ldctx_resolve_url(r, "B", id, &c, err, sizeof(err)) == VG_ENOENT);
    CHECK(c == NULL && strstr(err, id) != NULL);

    struct list_acc acc = {0};
    CHECK(ldctx_reg_list(r, "A", list_cb, &acc) == VG_OK);
    CHECK(acc.builtin == 1 && acc.hosted == 1);
    memset(&acc, 0, sizeof(acc));
    CHECK(ldctx_reg_list(r, "B", list_cb, &acc) == VG_OK);
    CHECK(acc.builtin == 1 && acc.hosted == 0);

    CHECK(ldctx_reg_del(r, "B", id) == VG_ENOENT);
    CHECK(ldctx_reg_del(r, "A", LDCTX_CORE_URL) == VG_EPERM);
    CHECK(ldctx_reg_del(r, "A", "urn:ngsi-ld:jsonldContext:none") == VG_ENOENT);
    CHECK(ldctx_reg_del(r, "A", id) == VG_OK);
    CHECK(ldctx_reg_get(r, "A", id, &got, &kind) == VG_ENOENT);
    CHECK(ldctx_resolve_url(r, "A", id, &c, err, sizeof(err)) == VG_ENOENT);

    /* malformed and oversized documents */
    json_t *bad = json_pack("{s:i}", "@context", 5);
    CHECK(ldctx_reg_add(r, "A", bad, id2, sizeof(id2)) == VG_EINVAL);
    json_decref(bad);
    bad = json_pack("{s:s}", "x", "y");
    CHECK(ldctx_reg_add(r, "A", bad, id2, sizeof(id2)) == VG_EINVAL);
    json_decref(bad);
    char *big = malloc((1u << 20) + 16);
    memset(big, 'a', (1u << 20) + 15);
    big[(1u << 20) + 15] = 0;
    bad = json_pack("{s:{s:s}}", "@context", "t", big);
    CHECK(ldctx_reg_add(r, "A", bad, id2, sizeof(id2)) == VG_ETOOBIG);
    json_decref(bad);
    free(big);

    /* at most 10,000 documents per tenant */
    int rc = VG_OK, added = 0;
    for (int i = 0; i < 10001 && rc == VG_OK; i++) {
        json_t *d = json_pack("{s:{s:i}}", "@context", "@version", i);
        rc = ldctx_reg_add(r, "full", d, id2, sizeof(id2));
        json_decref(d);
        if (rc == VG_OK)
            added++;
    }
    CHECK(rc == VG_EFULL);
    CHECK_EQ_INT(added, 10000);
    CHECK(ldctx_reg_add(r, "other", doc, id2, sizeof(id2)) == VG_OK);
    json_decref(doc);
    ldctx_reg_free(r);
}

static void test_cache(void)
{
    struct ldctx_reg *r;
    char err[512], id[96];
    int rc;
    REQUIRE(ldctx_reg_new(&r) == VG_OK);
    struct ldctx *a = resolve_text(r, "T", "{\"x\": \"http://x/\", \"y\": \"http://y/\"}", &rc,
                                   err, sizeof(err));
    struct ldctx *b = resolve_text(r, "T", "{\"y\": \"http://y/\", \"x\": \"http://x/\"}", &rc,
                                   err, sizeof(err));
    struct ldctx *o = resolve_text(r, "U", "{\"x\": \"http://x/\", \"y\": \"http://y/\"}", &rc,
                                   err, sizeof(err));
    CHECK(a && a == b);
    CHECK(o && o != a);
    ldctx_release(a);
    ldctx_release(b);
    ldctx_release(o);

    json_t *doc = json_pack("{s:{s:s}}", "@context", "speed", "http://example.org/speed");
    REQUIRE(ldctx_reg_add(r, "T", doc, id, sizeof(id)) == VG_OK);
    json_decref(doc);
    REQUIRE(ldctx_resolve_url(r, "T", id, &a, err, sizeof(err)) == VG_OK);
    REQUIRE(ldctx_resolve_url(r, "T", id, &b, err, sizeof(err)) == VG_OK);
    CHECK(a == b);
    ldctx_release(b);
    CHECK(ldctx_reg_del(r, "T", id) == VG_OK);
    /* the held context stays usable after its document is gone */
    CHECK(streq(ldctx_expand(a, "speed"), "http://example.org/speed"));
    ldctx_release(a);
    CHECK(ldctx_resolve_url(r, "T", id, &a, err, sizeof(err)) == VG_ENOENT);

    /* bounded: 600 distinct contexts, the first one is evicted (a new pointer next time) */
    struct ldctx *first = resolve_text(r, "T", "{\"k0\": \"http://k/0\"}", &rc, err, sizeof(err));
    REQUIRE(first);
    for (int i = 1; i < 600; i++) {
        char text[64];
        snprintf(text, sizeof(text), "{\"k%d\": \"http://k/%d\"}", i, i);
        struct ldctx *c = resolve_text(r, "T", text, &rc, err, sizeof(err));
        CHECK(rc == VG_OK);
        ldctx_release(c);
    }
    struct ldctx *again = resolve_text(r, "T", "{\"k0\": \"http://k/0\"}", &rc, err, sizeof(err));
    CHECK(again && again != first);
    CHECK(streq(ldctx_expand(again, "k0"), "http://k/0"));
    ldctx_release(again);
    ldctx_release(first);

    /* a context whose memo overflows is retired: the next resolve builds a fresh one */
    struct ldctx *core = ldctx_core(r);
    const char *keep = ldctx_expand(core, "u0");
    char term[32];
    for (int i = 0; i < 70000; i++) {
        snprintf(term, sizeof(term), "u%d", i);
        const char *x = ldctx_expand(core, term);
        if (strncmp(x, VOCAB, strlen(VOCAB)) != 0 || strcmp(x + strlen(VOCAB), term) != 0) {
            CHECK(0);
            break;
        }
    }
    CHECK(streq(keep, VOCAB "u0"));
    CHECK(streq(ldctx_expand(core, "u69999"), VOCAB "u69999"));
    struct ldctx *core2 = ldctx_core(r);
    CHECK(core2 != core);
    CHECK(streq(ldctx_expand(core2, "value"), NS "hasValue"));
    struct ldctx *core3 = ldctx_core(r);
    CHECK(core3 == core2);
    ldctx_release(core3);
    ldctx_release(core2);
    ldctx_release(core);
    ldctx_reg_free(r);
}

struct thr {
    struct ldctx_reg *r;
    int id;
    int bad;
};

static void *thr_main(void *arg)
{
    struct thr *t = arg;
    char err[256], term[64], want[128];
    for (int round = 0; round < 200; round++) {
        struct ldctx *c = NULL;
        json_t *v = json_pack("[{s:s}, s]", "ex", "http://example.org/",
                              "https://smart-data-models.github.io/dataModel.Weather/context.jsonld");
        if (ldctx_resolve(t->r, "T", v, &c, err, sizeof(err)) != VG_OK) {
            t->bad++;
            json_decref(v);
            continue;
        }
        json_decref(v);
        for (int i = 0; i < 50; i++) {
            snprintf(term, sizeof(term), "attr%d", (round * 50 + i + t->id * 7) % 3000);
            snprintf(want, sizeof(want), VOCAB "%s", term);
            const char *x = ldctx_expand(c, term);
            if (!streq(x, want) || !streq(ldctx_compact(c, x), term))
                t->bad++;
            snprintf(term, sizeof(term), "ex:p%d", i);
            snprintf(want, sizeof(want), "http://example.org/p%d", i);
            if (!streq(ldctx_expand(c, term), want) || !streq(ldctx_compact(c, want), term))
                t->bad++;
            if (!streq(ldctx_expand(c, "value"), NS "hasValue"))
                t->bad++;
        }
        ldctx_release(c);
    }
    return NULL;
}

static void test_concurrent(void)
{
    struct ldctx_reg *r;
    char err[512];
    REQUIRE(ldctx_reg_new(&r) == VG_OK);
    REQUIRE(ldctx_reg_load_sdm(r, SDM_DIR, NULL, err, sizeof(err)) == VG_OK);
    pthread_t th[4];
    struct thr t[4];
    for (int i = 0; i < 4; i++) {
        t[i] = (struct thr){r, i, 0};
        REQUIRE(pthread_create(&th[i], NULL, thr_main, &t[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(t[i].bad, 0);
    }
    ldctx_reg_free(r);
}

int main(void)
{
    TEST_BEGIN("ldctx");
    TEST_RUN(test_core_expand);
    TEST_RUN(test_core_roundtrip);
    TEST_RUN(test_sdm);
    TEST_RUN(test_unknown_url);
    TEST_RUN(test_manifest);
    TEST_RUN(test_nested_and_cycles);
    TEST_RUN(test_override_order);
    TEST_RUN(test_malformed);
    TEST_RUN(test_user_docs);
    TEST_RUN(test_cache);
    TEST_RUN(test_concurrent);
    return TEST_END();
}
