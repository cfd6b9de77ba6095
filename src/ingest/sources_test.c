/*
** ingest/sources_test.c: unit tests of the source registry (ingest/sources.c): declaration,
** self-registration, bindings, counters from many threads, stale after the cadence, tenant
** filtering, the SOURCES_MAX bound.
** Owns: nothing beyond its local registries.
*/
#include "ingest/sources.h"

#include "core/test.h"
#include "core/vg.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct seen {
    char names[8][64];
    struct source_info info[8];
    int n;
};

static int collect(void *arg, const struct source_info *si)
{
    struct seen *s = arg;
    if (s->n < 8) {
        snprintf(s->names[s->n], 64, "%s", si->name);
        s->info[s->n] = *si;
    }
    s->n++;
    return 0;
}

static void test_declare_and_get(void)
{
    struct sources *r;
    struct source *a, *b;
    REQUIRE(sources_new(&r) == 0);
    CHECK_EQ_INT(sources_declare(r, "noise", SOURCE_MQTT, "paris", "Environment", 900000, &a), 0);
    CHECK_EQ_INT(sources_declare(r, "noise", SOURCE_MQTT, "paris", "x", 0, NULL), VG_EEXIST);
    CHECK_EQ_INT(sources_declare(r, "", SOURCE_MQTT, "paris", "x", 0, NULL), VG_EINVAL);
    CHECK_EQ_INT(sources_declare(r, "bad\nname", SOURCE_MQTT, "paris", "x", 0, NULL), VG_EINVAL);
    CHECK(sources_get(r, "noise", SOURCE_HTTP, "lyon") == a); /* found: kind/tenant unchanged */
    b = sources_get(r, "key:velo", SOURCE_HTTP, "paris");
    CHECK(b && b != a);
    CHECK(sources_get(r, "key:velo", SOURCE_HTTP, "paris") == b);
    CHECK(strcmp(source_name(b), "key:velo") == 0);
    struct seen s = {0};
    CHECK_EQ_INT(sources_list(r, NULL, 0, collect, &s), 0);
    CHECK_EQ_INT(s.n, 2);
    CHECK(strcmp(s.names[0], "key:velo") == 0 && strcmp(s.names[1], "noise") == 0); /* sorted */
    CHECK(s.info[1].kind == SOURCE_MQTT && strcmp(s.info[1].tenant, "paris") == 0);
    CHECK(strcmp(s.info[1].owner, "Environment") == 0 && s.info[1].cadence_ms == 900000);
    CHECK_EQ_INT(s.info[0].connected, -1);
    memset(&s, 0, sizeof(s));
    sources_get(r, "lyon-src", SOURCE_HTTP, "lyon");
    CHECK_EQ_INT(sources_list(r, "lyon", 0, collect, &s), 0); /* tenants see only theirs */
    CHECK_EQ_INT(s.n, 1);
    CHECK(strcmp(s.names[0], "lyon-src") == 0);
    sources_free(r);
}

static void test_bindings(void)
{
    struct sources *r;
    char out[128];
    REQUIRE(sources_new(&r) == 0);
    CHECK_EQ_INT(sources_bind(r, "key:velo", "partner-velo"), 0);
    CHECK_EQ_INT(sources_bind(r, "", "x"), VG_EINVAL);
    sources_resolve(r, "key:velo", "key:velo", out, sizeof(out));
    CHECK(strcmp(out, "partner-velo") == 0);
    sources_resolve(r, "key:other", "key:other", out, sizeof(out));
    CHECK(strcmp(out, "key:other") == 0);
    sources_resolve(NULL, "key:velo", "http", out, sizeof(out));
    CHECK(strcmp(out, "http") == 0);
    sources_free(r);
}

static void test_counters_stale_error(void)
{
    struct sources *r;
    struct source *a;
    REQUIRE(sources_new(&r) == 0);
    REQUIRE(sources_declare(r, "meter", SOURCE_MQTT, "t", "Water", 60000, &a) == 0);
    struct seen s = {0};
    int64_t created = 0;
    sources_list(r, NULL, 0, collect, &s);
    created = s.info[0].created_ms;
    /* never seen: stale once the cadence has passed since the registry learnt of it */
    memset(&s, 0, sizeof(s));
    sources_list(r, NULL, created + 59000, collect, &s);
    CHECK(!s.info[0].stale);
    memset(&s, 0, sizeof(s));
    sources_list(r, NULL, created + 61000, collect, &s);
    CHECK(s.info[0].stale);
    source_seen(a, 2, 5, 1, created + 100000);
    source_error(a, "bad payload", created + 100001);
    source_set_connected(a, 1);
    memset(&s, 0, sizeof(s));
    sources_list(r, NULL, created + 150000, collect, &s);
    CHECK(!s.info[0].stale);
    CHECK_EQ_INT(s.info[0].received, 2);
    CHECK_EQ_INT(s.info[0].stored, 5);
    CHECK_EQ_INT(s.info[0].quarantined, 1);
    CHECK_EQ_INT(s.info[0].errors, 1);
    CHECK(strcmp(s.info[0].last_error, "bad payload") == 0);
    CHECK_EQ_INT(s.info[0].last_seen_ms, created + 100000);
    CHECK_EQ_INT(s.info[0].connected, 1);
    memset(&s, 0, sizeof(s));
    sources_list(r, NULL, created + 160001, collect, &s);
    CHECK(s.info[0].stale);
    sources_free(r);
}

static struct sources *g_r;
static void *hammer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20000; i++) {
        char name[32];
        snprintf(name, sizeof(name), "s%d", i % 50);
        struct source *s = sources_get(g_r, name, SOURCE_HTTP, "t");
        source_seen(s, 1, 2, 0, i);
        if (i % 1000 == 0)
            source_error(s, "e", i);
    }
    return NULL;
}

static void test_threads_and_bound(void)
{
    REQUIRE(sources_new(&g_r) == 0);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, hammer, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    struct seen s = {0};
    sources_list(g_r, NULL, 0, collect, &s);
    CHECK_EQ_INT(s.n, 50);
    uint64_t total = 0;
    for (int i = 0; i < 8; i++)
        total += s.info[i].received;
    CHECK_EQ_INT(total, 8 * 4 * 20000 / 50);
    sources_free(g_r);
    /* bounded: SOURCES_MAX, then NULL (callers count nothing) */
    struct sources *r;
    REQUIRE(sources_new(&r) == 0);
    char name[32];
    int made = 0;
    for (int i = 0; i < SOURCES_MAX + 10; i++) {
        snprintf(name, sizeof(name), "n%05d", i);
        made += sources_get(r, name, SOURCE_HTTP, "t") != NULL;
    }
    CHECK_EQ_INT(made, SOURCES_MAX);
    source_seen(NULL, 1, 1, 1, 1); /* NULL-safe */
    source_error(NULL, "x", 1);
    sources_free(r);
}

int main(void)
{
    TEST_BEGIN("sources");
    TEST_RUN(test_declare_and_get);
    TEST_RUN(test_bindings);
    TEST_RUN(test_counters_stale_error);
    TEST_RUN(test_threads_and_bound);
    return TEST_END();
}
