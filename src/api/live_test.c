/*
** api/live_test.c: the live feed's ring: events in order with their JSON, filters (tenant, type,
** id, attribute lists, public predicate), resume after a Last-Event-ID, reset when a reader
** falls more than the ring behind or names another boot, the readers limit, close waking a
** blocked reader, and a publisher thread racing readers with no value lost or reordered.
*/
#include "api/live.h"
#include "core/test.h"

#include <jansson.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A value with its tenant (live_publish takes one tenant per call). */
struct tpoint {
    const char *tenant;
    struct ingest_update u;
};

static struct tpoint pt(const char *tenant, const char *id, const char *type, const char *attr,
                        double v, int64_t ts)
{
    struct tpoint p = {tenant, {.entity = id, .type = type, .attr = attr, .vt = VT_F64, .v = {.f = v}, .ts = ts}};
    return p;
}

/* Publish in order: one live_publish per run of values of the same tenant. */
static void publish(struct live *lv, const struct tpoint *p, uint32_t n)
{
    struct ingest_update u[64];
    for (uint32_t i = 0; i < n;) {
        uint32_t k = 0;
        const char *t = p[i].tenant;
        while (i < n && k < 64 && !strcmp(p[i].tenant, t))
            u[k++] = p[i++].u;
        live_publish(lv, t, u, k);
    }
}

/* The data array of the one "m" event in b (a new reference), and its id in idout. */
static json_t *event_data(const struct buf *b, char *idout, size_t cap)
{
    const char *d = memmem(b->p, b->len, "data: ", 6);
    const char *id = memmem(b->p, b->len, "\nid: ", 5);
    if (!d || !id)
        return NULL;
    const char *nl = memchr(d, '\n', (size_t)(b->p + b->len - d));
    snprintf(idout, cap, "%.*s", (int)strcspn(id + 5, "\n"), id + 5);
    return json_loadb(d + 6, (size_t)(nl - d - 6), 0, NULL);
}

static void publishes_in_order_with_json(void)
{
    struct live *lv = live_new(0);
    uint64_t cur;
    int reset;
    REQUIRE(live_join(lv, 0, NULL, &cur, &reset) == 0);
    CHECK_EQ_INT(reset, 0);
    CHECK(live_active(lv));
    struct tpoint p[3] = {pt("t", "n1", "noise", "LAeq", 63.5, 1000),
                          pt("t", "n2", "noise", "LAeq", 70, 1001),
                          {"t",
                           {.entity = "truck", .type = "Vehicle", .attr = "location",
                            .vt = VT_GEO, .v = {.f = 0}, .ts = 1002}}};
    p[2].u.v.geo.lat = 48.5;
    p[2].u.v.geo.lon = 2.25;
    publish(lv, p, 3);
    struct live_filter f = {.tenant = "t"};
    struct buf b;
    buf_init(&b, 0);
    CHECK_EQ_INT(live_read(lv, &cur, &f, 100, 500, &b), LIVE_DATA);
    char id[64];
    json_t *a = event_data(&b, id, sizeof(id));
    REQUIRE(a);
    CHECK_EQ_INT((int)json_array_size(a), 3);
    CHECK(strcmp(json_string_value(json_array_get(json_array_get(a, 0), 0)), "n1") == 0);
    CHECK(json_real_value(json_array_get(json_array_get(a, 0), 4)) == 63.5);
    CHECK(json_integer_value(json_array_get(json_array_get(a, 1), 3)) == 1001);
    json_t *geo = json_array_get(json_array_get(a, 2), 4);
    CHECK(json_real_value(json_object_get(geo, "lat")) == 48.5);
    char want[64];
    snprintf(want, sizeof(want), "%s-3", live_boot(lv));
    CHECK(strcmp(id, want) == 0);
    json_decref(a);
    buf_reset(&b);
    CHECK_EQ_INT(live_read(lv, &cur, &f, 50, 500, &b), LIVE_TIMEOUT);
    CHECK_EQ_INT((int)b.len, 0);
    live_leave(lv);
    CHECK(!live_active(lv));
    buf_release(&b);
    live_close(lv);
    live_free(lv);
}

static int any_public(void *arg, const char *type, const char *attr)
{
    (void)arg;
    (void)type;
    (void)attr;
    return 1;
}

/* Alert changes: an event of their own after the values before them, never to public readers,
** filtered by tenant, type and id. */
static void alert_events(void)
{
    struct live *lv = live_new(0);
    uint64_t cur, pubcur;
    int reset;
    REQUIRE(live_join(lv, 0, NULL, &cur, &reset) == 0);
    REQUIRE(live_join(lv, 0, NULL, &pubcur, &reset) == 0);
    struct tpoint p[2] = {pt("t", "n1", "noise", "LAeq", 81, 1000),
                          pt("t", "n1", "noise", "LAeq", 82, 1001)};
    publish(lv, p, 1);
    live_publish_alert(lv, "t", "n1", "noise", "raised", "{\"id\":\"7\",\"severity\":\"high\"}");
    live_publish_alert(lv, "other", "n1", "noise", "raised", "{\"id\":\"8\"}");
    publish(lv, p + 1, 1);
    struct live_filter f = {.tenant = "t"};
    struct buf b;
    buf_init(&b, 0);
    CHECK_EQ_INT(live_read(lv, &cur, &f, 100, 500, &b), LIVE_DATA);
    CHECK(strncmp(b.p, "event: m\n", 9) == 0 && strstr(b.p, "[\"n1\"") && !strstr(b.p, "alert"));
    buf_reset(&b);
    CHECK_EQ_INT(live_read(lv, &cur, &f, 100, 500, &b), LIVE_DATA);
    char want[200];
    snprintf(want, sizeof(want),
             "event: alert\ndata: {\"event\":\"raised\",\"alert\":{\"id\":\"7\",\"severity\":"
             "\"high\"}}\nid: %s-2\n\n",
             live_boot(lv));
    CHECK(strcmp(b.p ? b.p : "", want) == 0);
    buf_reset(&b);
    CHECK_EQ_INT(live_read(lv, &cur, &f, 100, 500, &b), LIVE_DATA); /* the other tenant's: no */
    CHECK(strncmp(b.p, "event: m\n", 9) == 0 && strstr(b.p, "82"));
    /* a public reader and a reader of another type never see the alert */
    struct live_filter pf = {.tenant = "t", .pub = any_public};
    buf_reset(&b);
    CHECK_EQ_INT(live_read(lv, &pubcur, &pf, 100, 500, &b), LIVE_DATA); /* both values */
    CHECK(!strstr(b.p, "alert") && strstr(b.p, "81") && strstr(b.p, "82"));
    buf_reset(&b);
    CHECK_EQ_INT(live_read(lv, &pubcur, &pf, 50, 500, &b), LIVE_TIMEOUT);
    uint64_t c3 = 1;
    struct live_filter tf = {.tenant = "t", .types = "Vehicle"};
    buf_reset(&b);
    CHECK_EQ_INT(live_read(lv, &c3, &tf, 50, 500, &b), LIVE_TIMEOUT);
    live_leave(lv);
    live_leave(lv);
    buf_release(&b);
    live_close(lv);
    live_free(lv);
}

static int only_laeq(void *arg, const char *type, const char *attr)
{
    (void)arg;
    return strcmp(type, "noise") == 0 && strcmp(attr, "LAeq") == 0;
}

static void filters(void)
{
    struct live *lv = live_new(0);
    uint64_t c0;
    int reset;
    REQUIRE(live_join(lv, 0, NULL, &c0, &reset) == 0);
    struct tpoint p[] = {
        pt("a", "n1", "noise", "LAeq", 1, 1), pt("b", "n1", "noise", "LAeq", 2, 1),
        pt("a", "n1", "noise", "LAmax", 3, 1), pt("a", "x1", "air", "pm25", 4, 1),
        pt("a", "n22", "noise", "LAeq", 5, 1), pt("a", "n2", "noise", "LAeq", 6, 1),
    };
    publish(lv, p, 6);
    struct {
        struct live_filter f;
        int n;
        double first;
    } cases[] = {
        {{.tenant = "a"}, 5, 1},
        {{.tenant = "b"}, 1, 2},
        {{.tenant = "a", .types = "air"}, 1, 4},
        {{.tenant = "a", .types = "air,noise", .attrs = "pm25,LAmax"}, 2, 3},
        {{.tenant = "a", .ids = "n2,n1"}, 3, 1}, /* n22 is not n2 */
        {{.tenant = "a", .pub = only_laeq}, 3, 1},
        {{.tenant = "a", .ids = "n"}, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t cur = c0;
        struct buf b;
        buf_init(&b, 0);
        enum live_rc rc = live_read(lv, &cur, &cases[i].f, 20, 500, &b);
        if (cases[i].n == 0) {
            CHECK_EQ_INT(rc, LIVE_TIMEOUT);
        } else {
            CHECK_EQ_INT(rc, LIVE_DATA);
            char id[64];
            json_t *a = event_data(&b, id, sizeof(id));
            REQUIRE(a);
            CHECK_EQ_INT((int)json_array_size(a), cases[i].n);
            CHECK(json_number_value(json_array_get(json_array_get(a, 0), 4)) == cases[i].first);
            json_decref(a);
        }
        CHECK(cur == c0 + 6);
        buf_release(&b);
    }
    live_leave(lv);
    live_close(lv);
    live_free(lv);
}

static void resume_and_reset(void)
{
    struct live *lv = live_new(1024);
    uint64_t cur;
    int reset;
    REQUIRE(live_join(lv, 0, NULL, &cur, &reset) == 0);
    for (int i = 0; i < 10; i++) {
        struct tpoint p = pt("t", "e", "ty", "v", i, i);
        publish(lv, &p, 1);
    }
    char id[64];
    snprintf(id, sizeof(id), "%s-4", live_boot(lv)); /* the client saw events 1..4 */
    uint64_t c2;
    REQUIRE(live_join(lv, 0, id, &c2, &reset) == 0);
    CHECK_EQ_INT(reset, 0);
    struct live_filter f = {.tenant = "t"};
    struct buf b;
    buf_init(&b, 0);
    CHECK_EQ_INT(live_read(lv, &c2, &f, 20, 500, &b), LIVE_DATA);
    char got[64];
    json_t *a = event_data(&b, got, sizeof(got));
    REQUIRE(a);
    CHECK_EQ_INT((int)json_array_size(a), 6);
    CHECK(json_number_value(json_array_get(json_array_get(a, 0), 4)) == 4); /* value of seq 5 */
    json_decref(a);
    /* another boot, garbage, the future: reset */
    const char *bad[] = {"0123456789abcdef-3", "nonsense", "", "x-"};
    for (size_t i = 0; i < 4; i++) {
        uint64_t c3;
        REQUIRE(live_join(lv, 0, bad[i], &c3, &reset) == 0);
        CHECK_EQ_INT(reset, bad[i][0] != '\0');
        live_leave(lv);
    }
    snprintf(id, sizeof(id), "%s-99", live_boot(lv));
    uint64_t c4;
    REQUIRE(live_join(lv, 0, id, &c4, &reset) == 0);
    CHECK_EQ_INT(reset, 1);
    live_leave(lv);
    /* fall more than the ring (1024) behind: reset, then live again from now */
    uint64_t slow = c2;
    for (int i = 0; i < 1100; i++) {
        struct tpoint p = pt("t", "e", "ty", "v", i, i);
        publish(lv, &p, 1);
    }
    buf_reset(&b);
    CHECK_EQ_INT(live_read(lv, &slow, &f, 20, 500, &b), LIVE_RESET);
    CHECK_EQ_INT(live_read(lv, &slow, &f, 20, 500, &b), LIVE_TIMEOUT);
    /* a resume id older than the ring: reset */
    snprintf(id, sizeof(id), "%s-5", live_boot(lv));
    REQUIRE(live_join(lv, 0, id, &c4, &reset) == 0);
    CHECK_EQ_INT(reset, 1);
    live_leave(lv);
    buf_release(&b);
    live_leave(lv);
    live_leave(lv);
    live_close(lv);
    live_free(lv);
}

static void readers_limit(void)
{
    struct live *lv = live_new(0);
    uint64_t c;
    int r;
    CHECK_EQ_INT(live_join(lv, 2, NULL, &c, &r), 0);
    CHECK_EQ_INT(live_join(lv, 2, NULL, &c, &r), 0);
    CHECK_EQ_INT(live_join(lv, 2, NULL, &c, &r), VG_EAGAIN);
    live_leave(lv);
    CHECK_EQ_INT(live_join(lv, 2, NULL, &c, &r), 0);
    live_leave(lv);
    live_leave(lv);
    CHECK(!live_active(lv));
    live_close(lv);
    live_free(lv);
}

struct blocked {
    struct live *lv;
    enum live_rc rc;
};

static void *block_reader(void *arg)
{
    struct blocked *b = arg;
    uint64_t c;
    int r;
    live_join(b->lv, 0, NULL, &c, &r);
    struct live_filter f = {.tenant = "t"};
    struct buf out;
    buf_init(&out, 0);
    b->rc = live_read(b->lv, &c, &f, 60000, 10, &out);
    buf_release(&out);
    live_leave(b->lv);
    return NULL;
}

static void close_wakes_readers(void)
{
    struct blocked b = {live_new(0), LIVE_DATA};
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, block_reader, &b) == 0);
    usleep(50000);
    live_close(b.lv);
    pthread_join(th, NULL); /* would hang for 60 s if close did not wake it */
    CHECK_EQ_INT(b.rc, LIVE_CLOSED);
    live_free(b.lv);
}

#define RACE_N 200000

static void *publisher(void *arg)
{
    struct live *lv = arg;
    for (int i = 0; i < RACE_N;) {
        struct tpoint p[50];
        int n = 0;
        for (; n < 50 && i < RACE_N; n++, i++) {
            p[n] = pt("t", "e", i % 3 ? "a" : "b", "v", i, i);
        }
        publish(lv, p, (uint32_t)n);
        if (i % 5000 == 0)
            usleep(100);
    }
    return NULL;
}

struct race_reader {
    struct live *lv;
    const char *types;
    long seen, bad_order, resets;
};

static void *race_read(void *arg)
{
    struct race_reader *r = arg;
    uint64_t c = 1; /* from the first event */
    struct live_filter f = {.tenant = "t", .types = r->types};
    struct buf b;
    buf_init(&b, 0);
    double last = -1;
    for (;;) {
        buf_reset(&b);
        enum live_rc rc = live_read(r->lv, &c, &f, 300, 500, &b);
        if (rc == LIVE_TIMEOUT || rc == LIVE_CLOSED)
            break;
        if (rc == LIVE_RESET) {
            r->resets++;
            continue;
        }
        char id[64];
        json_t *a = event_data(&b, id, sizeof(id));
        for (size_t i = 0; i < json_array_size(a); i++) {
            double v = json_number_value(json_array_get(json_array_get(a, i), 4));
            if (v <= last)
                r->bad_order++;
            last = v;
            r->seen++;
        }
        json_decref(a);
    }
    buf_release(&b);
    return NULL;
}

static void publisher_races_readers(void)
{
    struct live *lv = live_new(1u << 20); /* holds the whole run: no reader may lose a value */
    uint64_t c;
    int r;
    live_join(lv, 0, NULL, &c, &r);
    struct race_reader rr[3] = {{lv, NULL, 0, 0, 0}, {lv, "a", 0, 0, 0}, {lv, "b", 0, 0, 0}};
    pthread_t pub, th[3];
    for (int i = 0; i < 3; i++)
        REQUIRE(pthread_create(&th[i], NULL, race_read, &rr[i]) == 0);
    REQUIRE(pthread_create(&pub, NULL, publisher, lv) == 0);
    pthread_join(pub, NULL);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    long nb = (RACE_N + 2) / 3, na = RACE_N - nb;
    CHECK(rr[0].seen == RACE_N);
    CHECK(rr[1].seen == na);
    CHECK(rr[2].seen == nb);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT((int)rr[i].bad_order, 0);
        CHECK_EQ_INT((int)rr[i].resets, 0);
    }
    struct live_stats st;
    live_get_stats(lv, &st);
    CHECK(st.published == RACE_N);
    live_leave(lv);
    live_close(lv);
    live_free(lv);
}

int main(void)
{
    TEST_BEGIN("live");
    TEST_RUN(publishes_in_order_with_json);
    TEST_RUN(filters);
    TEST_RUN(resume_and_reset);
    TEST_RUN(readers_limit);
    TEST_RUN(close_wakes_readers);
    TEST_RUN(publisher_races_readers);
    TEST_RUN(alert_events);
    return TEST_END();
}
