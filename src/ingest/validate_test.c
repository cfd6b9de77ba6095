/*
** ingest/validate_test.c: unit tests of point and entity validation (ingest/validate.c): rule
** parsing and its errors, range and unit rules (tenant-specific and not), schema before rules,
** rate of change (ordering, out-of-order and same-time points, state moving only on accepted
** points), threads checking while rules are added, the bound on tracked series, and a timing
** line (printed, not asserted).
** Owns: nothing beyond its local objects.
*/
#include "ingest/validate.h"

#include "core/clock.h"
#include "core/test.h"
#include "core/vg.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *js(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        printf("  bad test JSON '%s': %s\n", text, e.text);
    return j;
}

static int add(struct validator *v, const char *rule, char *err, size_t cap)
{
    json_t *j = js(rule);
    int rc = j ? validator_add_rule_json(v, j, err, cap) : -100;
    json_decref(j);
    return rc;
}

static int chk(struct validator *v, const char *tenant, const char *type, const char *entity,
               const char *attr, double x, int64_t ts, const char *unit, char *why, size_t cap)
{
    union vg_val val;
    val.f = x;
    return validator_check(v, tenant, type, entity, attr, VT_F64, &val, ts, unit, why, cap);
}

#define NOISE "{\"type\":\"NoiseLevelObserved\",\"attribute\":\"LAeq\",\"name\":\"noise range\","

static void test_rule_parse(void)
{
    static const struct {
        const char *rule, *msg;
    } bad[] = {
        {"[1]", "rule 1: a rule must be an object"},
        {"{\"attribute\":\"a\",\"max\":1}", "rule 1: 'type' is required"},
        {"{\"type\":\"T\",\"max\":1}", "rule 1: 'attribute' is required"},
        {"{\"type\":\"\",\"attribute\":\"a\",\"max\":1}", "rule 1: 'type' must be a non-empty"},
        {"{\"type\":\"T\",\"attribute\":\"a\",\"tenant\":5,\"max\":1}", "rule 1: 'tenant' must be"},
        {"{\"type\":\"T\",\"attribute\":\"a\",\"maxx\":1}", "rule 1: unknown member 'maxx'"},
        {"{\"type\":\"T\",\"attribute\":\"a\",\"name\":\"r\",\"min\":5,\"max\":1}",
         "rule 1 ('r'): 'min' is above 'max'"},
        {"{\"type\":\"T\",\"attribute\":\"a\",\"min\":\"5\"}", "rule 1: 'min' must be a number"},
        {"{\"type\":\"T\",\"attribute\":\"a\",\"max_rate\":0}",
         "rule 1: 'max_rate' must be above 0"},
        {"{\"type\":\"T\",\"attribute\":\"a\",\"max_rate\":-2}",
         "rule 1: 'max_rate' must be above 0"},
        {"{\"type\":\"T\",\"attribute\":\"a\",\"units\":[]}",
         "rule 1: 'units' must be a non-empty"},
        {"{\"type\":\"T\",\"attribute\":\"a\",\"units\":\"2N\"}", "rule 1: 'units' must be"},
        {"{\"type\":\"T\",\"attribute\":\"a\",\"units\":[\"2N\",\"a b\"]}",
         "rule 1: 'units' item 1 must be"},
        {"{\"type\":\"T\",\"attribute\":\"a\"}", "rule 1: the rule checks nothing"},
        {"{\"type\":\"T\",\"attribute\":\"a\",\"name\":3,\"max\":1}", "rule 1: 'name' must be"},
        {"{\"type\":\"T\",\"attribute\":\"a\",\"max\":1,\"description\":1}",
         "rule 1: 'description' must be a string"},
        {"[{\"type\":\"T\",\"attribute\":\"a\",\"max\":1},{\"type\":\"T\",\"attribute\":\"b\"}]",
         "rule 2: the rule checks nothing"},
        {"[]", "no rule"},
    };
    struct validator *v;
    char err[256];
    REQUIRE(validator_new(NULL, &v) == 0);
    for (size_t i = 0; i < VG_ARRAY_LEN(bad); i++) {
        int rc = add(v, bad[i].rule, err, sizeof(err));
        CHECK_EQ_INT(rc, VG_EINVAL);
        if (strncmp(err, bad[i].msg, strlen(bad[i].msg)) != 0) {
            printf("  %s: '%s', want '%s...'\n", bad[i].rule, err, bad[i].msg);
            CHECK(0);
        }
    }
    CHECK_EQ_INT(validator_rule_count(v), 0); /* the array with a bad rule added nothing */
    CHECK_EQ_INT(add(v, NOISE "\"min\":20,\"max\":140,\"units\":[\"2N\"],\"max_rate\":5.0}", err,
                     sizeof(err)),
                 0);
    CHECK(err[0] == '\0');
    CHECK_EQ_INT(add(v, "[{\"type\":\"T\",\"attribute\":\"a\",\"max\":1},{\"type\":\"T\","
                        "\"attribute\":\"b\",\"min\":-1,\"tenant\":\"paris\","
                        "\"description\":\"x\"}]",
                     err, sizeof(err)),
                 0);
    CHECK_EQ_INT(validator_rule_count(v), 3);
    validator_free(v);
    validator_free(NULL);
}

static void test_range_units(void)
{
    struct validator *v;
    char err[256], why[256];
    union vg_val s;
    REQUIRE(validator_new(NULL, &v) == 0);
    REQUIRE(add(v, NOISE "\"min\":20,\"max\":140,\"units\":[\"2N\"]}", err, sizeof(err)) == 0);
    REQUIRE(add(v, "{\"tenant\":\"paris\",\"type\":\"NoiseLevelObserved\",\"attribute\":\"LAeq\","
                   "\"max\":100,\"units\":[\"2N\",\"DB\"]}",
                err, sizeof(err)) == 0);
    CHECK_EQ_INT(chk(v, "lyon", "NoiseLevelObserved", "e1", "LAeq", 100, 0, "2N", why,
                     sizeof(why)),
                 0);
    CHECK(why[0] == '\0');
    CHECK_EQ_INT(chk(v, "lyon", "NoiseLevelObserved", "e1", "LAeq", 190, 0, NULL, why,
                     sizeof(why)),
                 VG_EINVAL);
    CHECK(!strcmp(why, "LAeq = 190 breaks rule 'noise range' (max 140)"));
    CHECK_EQ_INT(chk(v, "lyon", "NoiseLevelObserved", "e1", "LAeq", 19.5, 0, NULL, why,
                     sizeof(why)),
                 VG_EINVAL);
    CHECK(!strcmp(why, "LAeq = 19.5 breaks rule 'noise range' (min 20)"));
    CHECK_EQ_INT(chk(v, "lyon", "NoiseLevelObserved", "e1", "LAeq", 60, 0, "GQ", why,
                     sizeof(why)),
                 VG_EINVAL);
    CHECK(!strcmp(why, "unit 'GQ' not allowed for LAeq (rule 'noise range': 2N)"));
    /* the paris rule: stricter max, and its own unit list */
    CHECK_EQ_INT(chk(v, "paris", "NoiseLevelObserved", "e1", "LAeq", 120, 0, NULL, why,
                     sizeof(why)),
                 VG_EINVAL);
    CHECK(!strcmp(why, "LAeq = 120 breaks rule 'NoiseLevelObserved.LAeq' (max 100)"));
    CHECK_EQ_INT(chk(v, "paris", "NoiseLevelObserved", "e1", "LAeq", 60, 0, "DB", why,
                     sizeof(why)),
                 VG_EINVAL); /* 'noise range' applies to paris too and only allows 2N */
    CHECK(strstr(why, "rule 'noise range'") != NULL);
    CHECK_EQ_INT(chk(v, NULL, "NoiseLevelObserved", "e1", "LAeq", 120, 0, NULL, why, sizeof(why)),
                 0);
    /* other attributes and types are not concerned; unknown unit passes */
    CHECK_EQ_INT(chk(v, "lyon", "NoiseLevelObserved", "e1", "LAmax", 500, 0, "GQ", why,
                     sizeof(why)),
                 0);
    CHECK_EQ_INT(chk(v, "lyon", "Other", "e1", "LAeq", 500, 0, NULL, why, sizeof(why)), 0);
    /* integers, non-numeric values, non-finite values */
    s.i = 141;
    CHECK_EQ_INT(validator_check(v, "lyon", "NoiseLevelObserved", "e1", "LAeq", VT_I64, &s, 0,
                                 NULL, why, sizeof(why)),
                 VG_EINVAL);
    CHECK(!strcmp(why, "LAeq = 141 breaks rule 'noise range' (max 140)"));
    s.s.p = "loud";
    s.s.len = 4;
    CHECK_EQ_INT(validator_check(v, "lyon", "NoiseLevelObserved", "e1", "LAeq", VT_STR, &s, 0,
                                 NULL, why, sizeof(why)),
                 0);
    CHECK_EQ_INT(chk(v, "lyon", "NoiseLevelObserved", "e1", "LAeq", NAN, 0, NULL, why,
                     sizeof(why)),
                 VG_EINVAL);
    CHECK(!strcmp(why, "LAeq = nan is not a finite number (rule 'noise range')"));
    /* has_checks */
    CHECK_EQ_INT(validator_has_checks(v, "lyon", "NoiseLevelObserved"), 1);
    CHECK_EQ_INT(validator_has_checks(v, NULL, "NoiseLevelObserved"), 1);
    CHECK_EQ_INT(validator_has_checks(v, "lyon", "Other"), 0);
    REQUIRE(add(v, "{\"tenant\":\"paris\",\"type\":\"Other\",\"attribute\":\"x\",\"max\":1}", err,
                sizeof(err)) == 0);
    CHECK_EQ_INT(validator_has_checks(v, "paris", "Other"), 1);
    CHECK_EQ_INT(validator_has_checks(v, "lyon", "Other"), 0);
    CHECK_EQ_INT(validator_has_checks(v, NULL, "Other"), 0);
    validator_free(v);
}

/* The schema is checked before the rules; check_entity does both. */
static void test_schema_and_rules(void)
{
    struct schema_set *set;
    struct validator *v;
    char err[256], why[256];
    json_t *sch = js("{\"type\":\"object\",\"required\":[\"id\"],\"properties\":{\"LAeq\":{"
                     "\"type\":\"number\",\"maximum\":150},\"sonometerClass\":{\"enum\":[\"0\","
                     "\"1\",\"2\"]}}}"),
           *kv;
    union vg_val s;
    REQUIRE(sch);
    REQUIRE(schema_compile_json(sch, "NoiseLevelObserved", NULL, &set, err, sizeof(err)) == 0);
    REQUIRE(validator_new(set, &v) == 0);
    REQUIRE(add(v, NOISE "\"max\":140}", err, sizeof(err)) == 0);
    CHECK_EQ_INT(chk(v, "t", "NoiseLevelObserved", "e", "LAeq", 190, 0, NULL, why, sizeof(why)),
                 VG_EINVAL);
    CHECK(!strcmp(why, "LAeq = 190 is above the schema maximum 150 (NoiseLevelObserved schema)"));
    CHECK_EQ_INT(chk(v, "t", "NoiseLevelObserved", "e", "LAeq", 145, 0, NULL, why, sizeof(why)),
                 VG_EINVAL);
    CHECK(!strcmp(why, "LAeq = 145 breaks rule 'noise range' (max 140)"));
    CHECK_EQ_INT(chk(v, "t", "NoiseLevelObserved", "e", "LAeq", 70, 0, NULL, why, sizeof(why)), 0);
    s.s.p = "3";
    s.s.len = 1;
    CHECK_EQ_INT(validator_check(v, "t", "NoiseLevelObserved", "e", "sonometerClass", VT_STR, &s,
                                 0, NULL, why, sizeof(why)),
                 VG_EINVAL);
    CHECK_EQ_INT(validator_has_checks(v, "t", "NoiseLevelObserved"), 1);
    CHECK_EQ_INT(validator_has_checks(v, "t", "Nothing"), 0);

    kv = js("{\"id\":\"urn:ngsi-ld:NoiseLevelObserved:1\",\"LAeq\":145,\"note\":\"x\"}");
    CHECK_EQ_INT(validator_check_entity(v, "t", "NoiseLevelObserved", kv, why, sizeof(why)),
                 VG_EINVAL);
    CHECK(!strcmp(why, "LAeq = 145 breaks rule 'noise range' (max 140)"));
    json_object_set_new(kv, "LAeq", json_integer(190));
    CHECK_EQ_INT(validator_check_entity(v, "t", "NoiseLevelObserved", kv, why, sizeof(why)),
                 VG_EINVAL);
    CHECK(!strcmp(why, "/LAeq: 190 is above maximum 150"));
    json_object_set_new(kv, "LAeq", json_real(60.5));
    CHECK_EQ_INT(validator_check_entity(v, "t", "NoiseLevelObserved", kv, why, sizeof(why)), 0);
    json_object_del(kv, "id");
    CHECK_EQ_INT(validator_check_entity(v, "t", "NoiseLevelObserved", kv, why, sizeof(why)),
                 VG_EINVAL);
    CHECK(!strcmp(why, "missing required property 'id'"));
    /* a type without schema or rule passes */
    CHECK_EQ_INT(validator_check_entity(v, "t", "Nothing", kv, why, sizeof(why)), 0);
    json_decref(kv);
    validator_free(v);
    schema_set_free(set);
    json_decref(sch);
}

static void test_rate(void)
{
    struct validator *v;
    char err[256], why[256];
    const char *T = "NoiseLevelObserved";
    union vg_val iv;
    REQUIRE(validator_new(NULL, &v) == 0);
    REQUIRE(add(v, NOISE "\"max\":140,\"max_rate\":5.0}", err, sizeof(err)) == 0);
    CHECK_EQ_INT(chk(v, "p", T, "s1", "LAeq", 50, 0, NULL, why, sizeof(why)), 0); /* first */
    CHECK_EQ_INT(chk(v, "p", T, "s1", "LAeq", 54, 1000, NULL, why, sizeof(why)), 0);
    CHECK_EQ_INT(chk(v, "p", T, "s1", "LAeq", 134, 2000, NULL, why, sizeof(why)), VG_EINVAL);
    CHECK(!strcmp(why, "LAeq changed by 80 in 1 s (rule 'noise range': at most 5/s)"));
    /* the rejected point did not move the state: 58 at 3 s is compared with 54 at 1 s */
    CHECK_EQ_INT(chk(v, "p", T, "s1", "LAeq", 58, 3000, NULL, why, sizeof(why)), 0);
    /* older and same-time points are not rate-checked and do not move the state */
    CHECK_EQ_INT(chk(v, "p", T, "s1", "LAeq", 130, 500, NULL, why, sizeof(why)), 0);
    CHECK_EQ_INT(chk(v, "p", T, "s1", "LAeq", 0, 3000, NULL, why, sizeof(why)), 0);
    CHECK_EQ_INT(chk(v, "p", T, "s1", "LAeq", 60, 4000, NULL, why, sizeof(why)), 0);
    CHECK_EQ_INT(chk(v, "p", T, "s1", "LAeq", 66, 5000, NULL, why, sizeof(why)), VG_EINVAL);
    CHECK(!strcmp(why, "LAeq changed by 6 in 1 s (rule 'noise range': at most 5/s)"));
    /* a point rejected by the range rule leaves the state too */
    CHECK_EQ_INT(chk(v, "p", T, "s1", "LAeq", 150, 6000, NULL, why, sizeof(why)), VG_EINVAL);
    CHECK(strstr(why, "(max 140)") != NULL);
    CHECK_EQ_INT(chk(v, "p", T, "s1", "LAeq", 62, 7000, NULL, why, sizeof(why)), 0);
    /* exactly at the limit passes; sub-second intervals */
    CHECK_EQ_INT(chk(v, "p", T, "s1", "LAeq", 67, 8000, NULL, why, sizeof(why)), 0);
    CHECK_EQ_INT(chk(v, "p", T, "s1", "LAeq", 68, 8100, NULL, why, sizeof(why)), VG_EINVAL);
    CHECK(!strcmp(why, "LAeq changed by 1 in 0.1 s (rule 'noise range': at most 5/s)"));
    CHECK_EQ_INT(chk(v, "p", T, "s1", "LAeq", 67.4, 8100, NULL, why, sizeof(why)), 0);
    /* series are (tenant, entity, attribute): each starts fresh */
    CHECK_EQ_INT(chk(v, "q", T, "s1", "LAeq", 130, 9000, NULL, why, sizeof(why)), 0);
    CHECK_EQ_INT(chk(v, "p", T, "s2", "LAeq", 130, 9000, NULL, why, sizeof(why)), 0);
    CHECK_EQ_INT(chk(v, NULL, T, "s1", "LAeq", 130, 9000, NULL, why, sizeof(why)), 0);
    CHECK_EQ_INT(validator_series_count(v), 4);
    /* integers; no entity: no rate check */
    iv.i = 131;
    CHECK_EQ_INT(validator_check(v, "q", T, "s1", "LAeq", VT_I64, &iv, 9500, NULL, why,
                                 sizeof(why)),
                 0);
    iv.i = 100;
    CHECK_EQ_INT(validator_check(v, "q", T, "s1", "LAeq", VT_I64, &iv, 10000, NULL, why,
                                 sizeof(why)),
                 VG_EINVAL);
    CHECK(!strcmp(why, "LAeq changed by 31 in 0.5 s (rule 'noise range': at most 5/s)"));
    CHECK_EQ_INT(chk(v, "p", T, NULL, "LAeq", 0, 0, NULL, why, sizeof(why)), 0);
    CHECK_EQ_INT(chk(v, "p", T, NULL, "LAeq", 100, 1, NULL, why, sizeof(why)), 0);
    /* an attribute without a rate rule keeps no state */
    REQUIRE(add(v, "{\"type\":\"NoiseLevelObserved\",\"attribute\":\"LAmax\",\"max\":200}", err,
                sizeof(err)) == 0);
    CHECK_EQ_INT(chk(v, "p", T, "s1", "LAmax", 50, 0, NULL, why, sizeof(why)), 0);
    CHECK_EQ_INT(validator_series_count(v), 4);
    validator_free(v);
}

#define NTHREADS 8
#define NENT 50
#define NPOINTS 200

struct tharg {
    struct validator *v;
    int id;
    long rejected, accepted, wrong;
};

/* Each thread owns NENT series: value j at j s, except every 10th point jumps by 100 (above the
** rate); the jump is rejected and the next point passes against the last accepted one. */
static void *hammer(void *p)
{
    struct tharg *a = p;
    char why[256], ent[32];
    for (int j = 0; j < NPOINTS; j++) {
        for (int e = 0; e < NENT; e++) {
            double x = j % 10 == 9 ? j + 100 : j;
            int rc;
            snprintf(ent, sizeof(ent), "t%d-e%d", a->id, e);
            rc = chk(a->v, "city", "Meter", ent, "flow", x, (int64_t)j * 1000, NULL, why,
                     sizeof(why));
            if (rc == 0)
                a->accepted++;
            else
                a->rejected++;
            if ((rc != 0) != (j % 10 == 9))
                a->wrong++;
        }
    }
    return NULL;
}

static void *add_rules(void *p)
{
    struct validator *v = p;
    char rule[160], err[128];
    for (int i = 0; i < 200; i++) {
        snprintf(rule, sizeof(rule), "{\"type\":\"Other%d\",\"attribute\":\"a\",\"max\":%d}", i, i);
        if (add(v, rule, err, sizeof(err)) != 0)
            return (void *)1;
    }
    return NULL;
}

static void test_threads(void)
{
    struct validator *v;
    pthread_t th[NTHREADS], wr;
    struct tharg a[NTHREADS];
    char err[128];
    long rej = 0, acc = 0, wrong = 0;
    void *wrc = NULL;
    REQUIRE(validator_new(NULL, &v) == 0);
    REQUIRE(add(v, "{\"type\":\"Meter\",\"attribute\":\"flow\",\"min\":0,\"max_rate\":5}", err,
                sizeof(err)) == 0);
    REQUIRE(pthread_create(&wr, NULL, add_rules, v) == 0);
    for (int i = 0; i < NTHREADS; i++) {
        memset(&a[i], 0, sizeof(a[i]));
        a[i].v = v;
        a[i].id = i;
        REQUIRE(pthread_create(&th[i], NULL, hammer, &a[i]) == 0);
    }
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        rej += a[i].rejected;
        acc += a[i].accepted;
        wrong += a[i].wrong;
    }
    pthread_join(wr, &wrc);
    CHECK(wrc == NULL);
    CHECK_EQ_INT(wrong, 0);
    CHECK_EQ_INT(rej, (long)NTHREADS * NENT * (NPOINTS / 10));
    CHECK_EQ_INT(acc + rej, (long)NTHREADS * NENT * NPOINTS);
    CHECK_EQ_INT(validator_series_count(v), NTHREADS * NENT);
    CHECK_EQ_INT(validator_rule_count(v), 201);
    CHECK_EQ_INT(validator_has_checks(v, "x", "Other199"), 1);
    validator_free(v);
}

/* At most max_series series are tracked; a full shard is cleared and its series start over. */
static void test_bound(void)
{
    struct validator *v;
    char err[128], why[256], ent[32];
    size_t peak = 0;
    REQUIRE(validator_new(NULL, &v) == 0);
    validator_set_max_series(v, VALIDATOR_SHARDS * 4);
    REQUIRE(add(v, "{\"type\":\"Meter\",\"attribute\":\"flow\",\"max_rate\":1}", err,
                sizeof(err)) == 0);
    for (int i = 0; i < 5000; i++) {
        snprintf(ent, sizeof(ent), "e%d", i);
        CHECK_EQ_INT(chk(v, "c", "Meter", ent, "flow", 0, 0, NULL, why, sizeof(why)), 0);
        if (i % 97 == 0 && validator_series_count(v) > peak)
            peak = validator_series_count(v);
    }
    CHECK(peak <= VALIDATOR_SHARDS * 4);
    CHECK(validator_series_count(v) <= VALIDATOR_SHARDS * 4);
    CHECK(validator_series_cleared(v) >= (5000 - VALIDATOR_SHARDS * 4) / 4);
    /* the newest series is still tracked: a jump is rejected */
    CHECK_EQ_INT(chk(v, "c", "Meter", "e4999", "flow", 100, 1000, NULL, why, sizeof(why)),
                 VG_EINVAL);
    /* too small a bound is raised to one series per shard */
    validator_set_max_series(v, 1);
    validator_free(v);
}

static void test_timing(void)
{
    struct schema_set *set;
    struct validator *v;
    char err[2048], why[256];
    union vg_val x;
    long n = 1000000, bad = 0;
    int64_t t0, t1, t2, t3;
    REQUIRE(schema_set_load("../shared/datamodels", &set, err, sizeof(err)) == 0);
    REQUIRE(validator_new(set, &v) == 0);
    REQUIRE(add(v, NOISE "\"min\":0,\"max\":140,\"units\":[\"2N\"],\"max_rate\":1000}", err,
                sizeof(err)) == 0);
    t0 = clock_mono_ns();
    for (long i = 0; i < n; i++) {
        x.f = 60 + (double)(i % 7);
        bad += validator_check(v, "paris", "NoiseLevelObserved", "urn:ngsi-ld:N:1", "LAeq",
                               VT_F64, &x, i * 1000, "2N", why, sizeof(why)) != 0;
    }
    t1 = clock_mono_ns();
    for (long i = 0; i < n; i++) {
        x.f = 60 + (double)(i % 7);
        bad += validator_check(v, "paris", "NoiseLevelObserved", "urn:ngsi-ld:N:1", "LAS", VT_F64,
                               &x, i * 1000, NULL, why, sizeof(why)) != 0;
    }
    t2 = clock_mono_ns();
    for (long i = 0; i < n; i++)
        bad += !validator_has_checks(v, "paris", "NoiseLevelObserved");
    t3 = clock_mono_ns();
    CHECK_EQ_INT(bad, 0);
    printf("  validator_check: %.1f ns/call with schema+range+unit+rate, %.1f ns/call schema only; "
           "has_checks %.1f ns/call\n",
           (double)(t1 - t0) / (double)n, (double)(t2 - t1) / (double)n,
           (double)(t3 - t2) / (double)n);
    validator_free(v);
    schema_set_free(set);
}

int main(void)
{
    TEST_BEGIN("validate_test");
    TEST_RUN(test_rule_parse);
    TEST_RUN(test_range_units);
    TEST_RUN(test_schema_and_rules);
    TEST_RUN(test_rate);
    TEST_RUN(test_threads);
    TEST_RUN(test_bound);
    TEST_RUN(test_timing);
    return TEST_END();
}
