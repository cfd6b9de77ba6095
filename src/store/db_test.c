/*
** store/db_test.c: tests of the storage engine (store/db.h): every value type through write,
** read, aggregate and latest; out-of-order and late points; last-write-wins for duplicate
** (sid, ts) across raw buffer, head chunks, blocks and compaction; reopen; checkpoint,
** compaction and retention on disk; clipping and limits; corrupt blocks; head memory; a
** property test against a reference model over thousands of random operations; and the
** block hour summaries: aggregates against a brute-force fold of a reference model (random
** every and unaligned ranges, overlapping blocks, head data in the same hours, NaN/Inf, I64 and
** BOOL, chunks split inside an hour), bit-identical results whichever storage answers, the
** summary records themselves, and loading a version 1 block (no summaries).
*/
#include "core/crc32c.h"
#include "core/test.h"
#include "store/block.h"
#include "store/chunk.h"
#include "store/db.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DAY 86400000LL
#define HOUR 3600000LL
#define MIN 60000LL
#define T0 1700006400000LL /* 2023-11-15T00:00:00Z, day aligned */

static uint64_t g_rng = 0x2545F4914F6CDD1Dull;

static uint64_t rnd(void)
{
    uint64_t z = (g_rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rnd_below(uint64_t n)
{
    return n ? rnd() % n : 0;
}

static struct store *open_store(const char *dir, const struct store_opts *o)
{
    struct store *s = NULL;
    int rc = store_open(dir, o, &s);
    if (rc) {
        printf("  store_open: %s\n", vg_strerror(rc));
        return NULL;
    }
    return s;
}

static int recover(struct store *s)
{
    struct wal_replay_report rep;
    memset(&rep, 0, sizeof(rep));
    return store_recover(s, &rep);
}

static struct store_point pf(uint32_t sid, int64_t ts, double f)
{
    struct store_point p;
    memset(&p, 0, sizeof(p));
    p.sid = sid;
    p.ts = ts;
    p.v.f = f;
    return p;
}

static struct store_point pi(uint32_t sid, int64_t ts, int64_t i)
{
    struct store_point p;
    memset(&p, 0, sizeof(p));
    p.sid = sid;
    p.ts = ts;
    p.v.i = i;
    return p;
}

static struct store_point ps(uint32_t sid, int64_t ts, const char *str)
{
    struct store_point p;
    memset(&p, 0, sizeof(p));
    p.sid = sid;
    p.ts = ts;
    p.v.s.p = str;
    p.v.s.len = (uint32_t)strlen(str);
    return p;
}

static int count_files(const char *dir, const char *suffix)
{
    /* Recursive count of files ending in suffix (only for test assertions). */
    int n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[1024];
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            n += count_files(p, suffix);
        else {
            size_t l = strlen(e->d_name), sl = strlen(suffix);
            if (l >= sl && strcmp(e->d_name + l - sl, suffix) == 0)
                n++;
        }
    }
    closedir(d);
    return n;
}

static void test_types(void)
{
    char *dir = test_tmpdir("db-types");
    struct store_opts o = {.sync = WAL_SYNC_BATCH};
    for (int round = 0; round < 2; round++) {
        struct store *s = open_store(dir, &o);
        REQUIRE(s);
        CHECK_EQ_INT(store_series_add(s, 1, 7, VT_F64), 0);
        CHECK_EQ_INT(store_series_add(s, 2, 7, VT_I64), 0);
        CHECK_EQ_INT(store_series_add(s, 3, 7, VT_BOOL), 0);
        CHECK_EQ_INT(store_series_add(s, 4, 7, VT_STR), 0);
        CHECK_EQ_INT(store_series_add(s, 5, 7, VT_GEO), 0);
        CHECK_EQ_INT(store_series_add(s, 5, 7, VT_GEO), 0);
        CHECK_EQ_INT(store_series_add(s, 5, 7, VT_F64), VG_ETYPE);
        CHECK_EQ_INT(recover(s), 0);
        if (round == 0) {
            struct store_point p[50];
            static const char *words[] = {"open", "closed", "", "h\xc3\xa9llo", "open"};
            for (int i = 0; i < 10; i++) {
                p[i] = pf(1, T0 + i * MIN, i * 1.5 - 3);
                p[10 + i] = pi(2, T0 + i * MIN, (int64_t)i * -1000000007LL);
                p[20 + i] = pi(3, T0 + i * MIN, i % 3 == 0 ? 5 : 0); /* nonzero -> 1 */
                p[30 + i] = ps(4, T0 + i * MIN, words[i % 5]);
                p[40 + i] = pf(5, T0 + i * MIN, 0);
                p[40 + i].v.geo.lat = 48.8 + i * 0.001;
                p[40 + i].v.geo.lon = 2.39 - i * 0.001;
            }
            CHECK_EQ_INT(store_write(s, p, 50), 0);
        }
        struct store_points pts;
        store_points_init(&pts);
        REQUIRE(store_read(s, 1, T0, T0 + DAY, 0, &pts) == 0);
        CHECK_EQ_INT(pts.n, 10);
        CHECK_EQ_INT(pts.vt, VT_F64);
        for (uint32_t i = 0; i < pts.n; i++) {
            CHECK(pts.ts[i] == T0 + (int64_t)i * MIN);
            CHECK(pts.v[i].f == i * 1.5 - 3);
        }
        REQUIRE(store_read(s, 2, T0, T0 + DAY, 0, &pts) == 0);
        CHECK_EQ_INT(pts.n, 10);
        for (uint32_t i = 0; i < pts.n; i++)
            CHECK(pts.v[i].i == (int64_t)i * -1000000007LL);
        REQUIRE(store_read(s, 3, T0, T0 + DAY, 0, &pts) == 0);
        CHECK_EQ_INT(pts.n, 10);
        for (uint32_t i = 0; i < pts.n; i++)
            CHECK_EQ_INT(pts.v[i].i, i % 3 == 0);
        REQUIRE(store_read(s, 4, T0, T0 + DAY, 0, &pts) == 0);
        CHECK_EQ_INT(pts.n, 10);
        static const char *words2[] = {"open", "closed", "", "h\xc3\xa9llo", "open"};
        for (uint32_t i = 0; i < pts.n; i++) {
            CHECK_EQ_INT(pts.v[i].s.len, strlen(words2[i % 5]));
            CHECK(memcmp(pts.v[i].s.p, words2[i % 5], pts.v[i].s.len) == 0);
        }
        REQUIRE(store_read(s, 5, T0, T0 + DAY, 0, &pts) == 0);
        CHECK_EQ_INT(pts.n, 10);
        for (uint32_t i = 0; i < pts.n; i++) {
            CHECK(pts.v[i].geo.lat == 48.8 + i * 0.001);
            CHECK(pts.v[i].geo.lon == 2.39 - i * 0.001);
        }
        store_points_release(&pts);

        int64_t ts;
        union vg_val v;
        CHECK_EQ_INT(store_latest(s, 1, &ts, &v), 0);
        CHECK(ts == T0 + 9 * MIN && v.f == 9 * 1.5 - 3);
        CHECK_EQ_INT(store_latest(s, 4, &ts, &v), 0);
        CHECK(v.s.len == 4 && memcmp(v.s.p, "open", 4) == 0);
        CHECK_EQ_INT(store_latest(s, 5, &ts, &v), 0);
        CHECK(v.geo.lat == 48.8 + 9 * 0.001);

        struct store_bucket b[2];
        REQUIRE(store_bucket_count(T0, T0 + 10 * MIN, 5 * MIN) == 2);
        CHECK_EQ_INT(store_aggregate(s, 2, T0, T0 + 10 * MIN, 5 * MIN, b, 2), 0);
        CHECK_EQ_INT(b[0].count, 5);
        CHECK(b[0].sum == -1000000007.0 * 10);
        CHECK(b[1].first == -1000000007.0 * 5 && b[1].last == -1000000007.0 * 9);
        CHECK_EQ_INT(store_aggregate(s, 3, T0, T0 + 10 * MIN, 5 * MIN, b, 2), 0);
        CHECK(b[0].sum == 2 && b[1].sum == 2); /* i = 0, 3 | 6, 9 */
        CHECK_EQ_INT(store_aggregate(s, 4, T0, T0 + 10 * MIN, 5 * MIN, b, 2), 0);
        CHECK(b[0].count == 5 && b[0].first_ts == T0 && b[1].last_ts == T0 + 9 * MIN);
        CHECK_EQ_INT(store_aggregate(s, 5, T0, T0 + 10 * MIN, 5 * MIN, b, 2), 0);
        CHECK(b[1].count == 5);
        store_close(s);
    }
    test_rmrf(dir);
    free(dir);
}

static void test_aggregate_math(void)
{
    char *dir = test_tmpdir("db-agg");
    struct store_opts o = {.sync = WAL_SYNC_BATCH, .head_chunk_points = 100};
    struct store *s = open_store(dir, &o);
    REQUIRE(s);
    REQUIRE(store_series_add(s, 9, 1, VT_F64) == 0);
    REQUIRE(recover(s) == 0);
    struct store_point p[1440];
    for (int i = 0; i < 1440; i++)
        p[i] = pf(9, T0 + i * MIN, (double)(i % 60));
    REQUIRE(store_write(s, p, 1440) == 0);
    for (int pass = 0; pass < 2; pass++) {
        uint32_t nb = store_bucket_count(T0, T0 + DAY, HOUR);
        REQUIRE(nb == 24);
        struct store_bucket b[24];
        REQUIRE(store_aggregate(s, 9, T0, T0 + DAY, HOUR, b, nb) == 0);
        for (int k = 0; k < 24; k++) {
            CHECK(b[k].start == T0 + k * HOUR);
            CHECK_EQ_INT(b[k].count, 60);
            CHECK(store_bucket_value(&b[k], AGG_AVG) == 29.5);
            CHECK(store_bucket_value(&b[k], AGG_MIN) == 0);
            CHECK(store_bucket_value(&b[k], AGG_MAX) == 59);
            CHECK(store_bucket_value(&b[k], AGG_SUM) == 1770);
            CHECK(store_bucket_value(&b[k], AGG_COUNT) == 60);
            CHECK(store_bucket_value(&b[k], AGG_FIRST) == 0);
            CHECK(store_bucket_value(&b[k], AGG_LAST) == 59);
            /* population stddev of 0..59 = sqrt((60^2-1)/12) */
            CHECK(fabs(store_bucket_value(&b[k], AGG_STDDEV) - sqrt((3600.0 - 1) / 12)) < 1e-9);
        }
        /* Unaligned from: bucket 0 starts at the aligned hour but holds only points >= from. */
        REQUIRE(store_bucket_count(T0 + 30 * MIN, T0 + 2 * HOUR, HOUR) == 2);
        REQUIRE(store_aggregate(s, 9, T0 + 30 * MIN, T0 + 2 * HOUR, HOUR, b, 2) == 0);
        CHECK(b[0].start == T0);
        CHECK_EQ_INT(b[0].count, 30);
        CHECK(b[0].first == 30);
        /* Empty bucket -> NaN; merge. */
        struct store_bucket e = {.start = 0};
        CHECK(isnan(store_bucket_value(&e, AGG_AVG)));
        CHECK(store_bucket_value(&e, AGG_COUNT) == 0);
        struct store_bucket m = b[0];
        store_bucket_merge(&m, &b[1]);
        CHECK_EQ_INT(m.count, 90);
        CHECK(m.first == 30 && m.last == 59 && m.max == 59 && m.min == 0);
        CHECK(store_aggregate(s, 9, T0, T0 + DAY, HOUR, b, 3) == VG_EINVAL);
        CHECK(store_aggregate(s, 99, T0, T0 + DAY, HOUR, b, 24) == VG_ENOENT);
        CHECK(store_checkpoint(s) == 0);
    }
    CHECK(store_agg_parse("avg") == AGG_AVG && store_agg_parse("stddev") == AGG_STDDEV);
    CHECK(store_agg_parse("nope") == -1);
    CHECK(store_bucket_count(-90, 30, 60) == 3);
    store_close(s);
    test_rmrf(dir);
    free(dir);
}

static void test_unknown_sid(void)
{
    char *dir = test_tmpdir("db-enoent");
    struct store_opts o = {.sync = WAL_SYNC_BATCH};
    struct store *s = open_store(dir, &o);
    REQUIRE(s);
    REQUIRE(store_series_add(s, 1, 1, VT_F64) == 0);
    REQUIRE(recover(s) == 0);
    struct store_point p[2] = {pf(1, T0, 1.0), pf(2, T0, 2.0)};
    CHECK_EQ_INT(store_write(s, p, 2), VG_ENOENT);
    struct store_points pts;
    store_points_init(&pts);
    CHECK_EQ_INT(store_read(s, 1, 0, INT64_MAX, 0, &pts), 0);
    CHECK_EQ_INT(pts.n, 0); /* nothing of the batch was written */
    CHECK_EQ_INT(store_read(s, 2, 0, INT64_MAX, 0, &pts), VG_ENOENT);
    int64_t ts;
    union vg_val v;
    CHECK_EQ_INT(store_latest(s, 1, &ts, &v), VG_ENOENT);
    CHECK_EQ_INT(store_latest(s, 2, &ts, &v), VG_ENOENT);
    store_points_release(&pts);
    store_close(s);
    /* WAL must not hold the rejected batch: reopen, read. */
    s = open_store(dir, &o);
    REQUIRE(s);
    REQUIRE(store_series_add(s, 1, 1, VT_F64) == 0);
    CHECK_EQ_INT(recover(s), 0);
    store_points_init(&pts);
    CHECK_EQ_INT(store_read(s, 1, 0, INT64_MAX, 0, &pts), 0);
    CHECK_EQ_INT(pts.n, 0);
    store_points_release(&pts);
    store_close(s);
    CHECK(store_write(NULL, NULL, 0) == 0);
    test_rmrf(dir);
    free(dir);
}

static double read_one(struct store *s, uint32_t sid, int64_t ts, int *found)
{
    struct store_points pts;
    store_points_init(&pts);
    double r = NAN;
    *found = 0;
    if (store_read(s, sid, ts, ts + 1, 0, &pts) == 0 && pts.n == 1) {
        *found = 1;
        r = pts.v[0].f;
    }
    store_points_release(&pts);
    return r;
}

static void test_duplicates_everywhere(void)
{
    char *dir = test_tmpdir("db-dup");
    struct store_opts o = {.sync = WAL_SYNC_BATCH, .head_chunk_points = 4};
    struct store *s = open_store(dir, &o);
    REQUIRE(s);
    REQUIRE(store_series_add(s, 1, 1, VT_F64) == 0);
    REQUIRE(recover(s) == 0);
    int found;
    /* v1 -> block A */
    struct store_point p[8];
    for (int i = 0; i < 8; i++)
        p[i] = pf(1, T0 + i * MIN, 100 + i);
    REQUIRE(store_write(s, p, 8) == 0);
    REQUIRE(store_checkpoint(s) == 0);
    /* v2 for ts 2..5 -> block B */
    for (int i = 2; i < 6; i++)
        p[i - 2] = pf(1, T0 + i * MIN, 200 + i);
    REQUIRE(store_write(s, p, 4) == 0);
    REQUIRE(store_checkpoint(s) == 0);
    struct store_stats st;
    store_get_stats(s, &st);
    CHECK_EQ_INT(st.blocks, 2);
    CHECK(read_one(s, 1, T0 + 3 * MIN, &found) == 203 && found);
    CHECK(read_one(s, 1, T0 + 1 * MIN, &found) == 101 && found);
    /* v3 for ts 4, 5 into a sealed head chunk (4 points seal), v4 for ts 5 in the raw buffer */
    p[0] = pf(1, T0 + 4 * MIN, 304);
    p[1] = pf(1, T0 + 5 * MIN, 305);
    p[2] = pf(1, T0 + 20 * MIN, 320);
    p[3] = pf(1, T0 + 21 * MIN, 321);
    REQUIRE(store_write(s, p, 4) == 0);
    p[0] = pf(1, T0 + 5 * MIN, 405);
    p[1] = pf(1, T0 + 5 * MIN, 406); /* same batch twice: the later one wins */
    REQUIRE(store_write(s, p, 2) == 0);
    CHECK(read_one(s, 1, T0 + 4 * MIN, &found) == 304 && found);
    CHECK(read_one(s, 1, T0 + 5 * MIN, &found) == 406 && found);
    CHECK(read_one(s, 1, T0 + 3 * MIN, &found) == 203 && found);
    struct store_points pts;
    store_points_init(&pts);
    REQUIRE(store_read(s, 1, T0, T0 + DAY, 0, &pts) == 0);
    CHECK_EQ_INT(pts.n, 10);
    for (uint32_t i = 1; i < pts.n; i++)
        CHECK(pts.ts[i] > pts.ts[i - 1]);
    /* Compaction keeps the newest block's value. */
    REQUIRE(store_compact(s) == 0);
    store_get_stats(s, &st);
    CHECK_EQ_INT(st.blocks, 1);
    CHECK_EQ_INT(st.compactions, 1);
    CHECK(read_one(s, 1, T0 + 3 * MIN, &found) == 203 && found);
    CHECK(read_one(s, 1, T0 + 5 * MIN, &found) == 406 && found);
    REQUIRE(store_checkpoint(s) == 0);
    REQUIRE(store_compact(s) == 0);
    CHECK(read_one(s, 1, T0 + 4 * MIN, &found) == 304 && found);
    CHECK(read_one(s, 1, T0 + 5 * MIN, &found) == 406 && found);
    CHECK(read_one(s, 1, T0 + 7 * MIN, &found) == 107 && found);
    int64_t ts;
    union vg_val v;
    CHECK(store_latest(s, 1, &ts, &v) == 0 && ts == T0 + 21 * MIN && v.f == 321);
    store_close(s);
    s = open_store(dir, &o);
    REQUIRE(s);
    REQUIRE(store_series_add(s, 1, 1, VT_F64) == 0);
    REQUIRE(recover(s) == 0);
    CHECK(read_one(s, 1, T0 + 5 * MIN, &found) == 406 && found);
    CHECK(store_latest(s, 1, &ts, &v) == 0 && ts == T0 + 21 * MIN && v.f == 321);
    REQUIRE(store_read(s, 1, T0, T0 + DAY, 0, &pts) == 0);
    CHECK_EQ_INT(pts.n, 10);
    store_points_release(&pts);
    store_close(s);
    test_rmrf(dir);
    free(dir);
}

static void test_out_of_order_late(void)
{
    char *dir = test_tmpdir("db-ooo");
    struct store_opts o = {.sync = WAL_SYNC_BATCH, .head_chunk_points = 16};
    struct store *s = open_store(dir, &o);
    REQUIRE(s);
    REQUIRE(store_series_add(s, 3, 1, VT_I64) == 0);
    REQUIRE(recover(s) == 0);
    /* Current day in shuffled order, then points two days old. */
    enum { N = 500 };
    int idx[N];
    for (int i = 0; i < N; i++)
        idx[i] = i;
    for (int i = N - 1; i > 0; i--) {
        int j = (int)rnd_below((uint64_t)i + 1);
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    int64_t base = T0 + 2 * DAY;
    for (int i = 0; i < N; i += 25) {
        struct store_point p[25];
        for (int k = 0; k < 25; k++)
            p[k] = pi(3, base + idx[i + k] * MIN, idx[i + k]);
        REQUIRE(store_write(s, p, 25) == 0);
    }
    struct store_point late[3] = {pi(3, T0 + 5, -5), pi(3, T0 + 1, -1), pi(3, T0 + DAY + 7, -7)};
    REQUIRE(store_write(s, late, 3) == 0);
    for (int pass = 0; pass < 3; pass++) {
        struct store_points pts;
        store_points_init(&pts);
        REQUIRE(store_read(s, 3, 0, INT64_MAX, 0, &pts) == 0);
        REQUIRE(pts.n == N + 3);
        CHECK(pts.ts[0] == T0 + 1 && pts.v[0].i == -1);
        CHECK(pts.ts[1] == T0 + 5 && pts.v[1].i == -5);
        CHECK(pts.ts[2] == T0 + DAY + 7 && pts.v[2].i == -7);
        for (int i = 0; i < N; i++)
            CHECK(pts.ts[3 + i] == base + i * MIN && pts.v[3 + i].i == i);
        store_points_release(&pts);
        int64_t ts;
        union vg_val v;
        CHECK(store_latest(s, 3, &ts, &v) == 0 && ts == base + (N - 1) * MIN && v.i == N - 1);
        if (pass == 0) {
            REQUIRE(store_checkpoint(s) == 0);
            struct store_stats st;
            store_get_stats(s, &st);
            CHECK_EQ_INT(st.partitions, 3);
            CHECK_EQ_INT(st.head_points, 0);
        } else if (pass == 1) {
            store_close(s);
            s = open_store(dir, &o);
            REQUIRE(s);
            REQUIRE(store_series_add(s, 3, 1, VT_I64) == 0);
            REQUIRE(recover(s) == 0);
        }
    }
    store_close(s);
    test_rmrf(dir);
    free(dir);
}

static void test_clip_limit(void)
{
    char *dir = test_tmpdir("db-clip");
    struct store_opts o = {.sync = WAL_SYNC_BATCH, .head_chunk_points = 32, .partition_ms = HOUR};
    struct store *s = open_store(dir, &o);
    REQUIRE(s);
    REQUIRE(store_series_add(s, 1, 1, VT_F64) == 0);
    REQUIRE(recover(s) == 0);
    struct store_point p[300];
    for (int i = 0; i < 300; i++)
        p[i] = pf(1, T0 + i * MIN, i);
    REQUIRE(store_write(s, p, 150) == 0);
    REQUIRE(store_checkpoint(s) == 0);
    REQUIRE(store_write(s, p + 150, 150) == 0); /* blocks + head chunks + raw */
    struct store_points pts;
    store_points_init(&pts);
    for (int k = 0; k < 200; k++) {
        int a = (int)rnd_below(320) - 10, b = a + (int)rnd_below(200);
        uint32_t lim = (uint32_t)rnd_below(3) == 0 ? (uint32_t)rnd_below(50) : 0;
        REQUIRE(store_read(s, 1, T0 + a * MIN, T0 + b * MIN, lim, &pts) == 0);
        int lo = a < 0 ? 0 : a, hi = b > 300 ? 300 : b;
        int want = hi > lo ? hi - lo : 0;
        if (lim && want > (int)lim)
            want = (int)lim;
        CHECK_EQ_INT(pts.n, want);
        for (uint32_t i = 0; i < pts.n; i++)
            CHECK(pts.ts[i] == T0 + (lo + (int)i) * MIN && pts.v[i].f == lo + (int)i);
    }
    /* Boundaries: from inclusive, to exclusive. */
    REQUIRE(store_read(s, 1, T0 + 60 * MIN, T0 + 120 * MIN, 0, &pts) == 0);
    CHECK(pts.n == 60 && pts.ts[0] == T0 + 60 * MIN && pts.ts[59] == T0 + 119 * MIN);
    REQUIRE(store_read(s, 1, T0 + 5, T0 + 4, 0, &pts) == 0);
    CHECK_EQ_INT(pts.n, 0);
    store_points_release(&pts);
    /* A range strictly between two raw head points, into a fresh result (no buffer yet). */
    store_points_init(&pts);
    REQUIRE(store_read(s, 1, T0 + 299 * MIN - MIN / 2, T0 + 299 * MIN, 0, &pts) == 0);
    CHECK_EQ_INT(pts.n, 0);
    store_points_release(&pts);
    store_close(s);
    test_rmrf(dir);
    free(dir);
}

static void test_checkpoint_compact_retention(void)
{
    char *dir = test_tmpdir("db-ret");
    struct store_opts o = {.sync = WAL_SYNC_BATCH, .head_chunk_points = 64};
    struct store *s = open_store(dir, &o);
    REQUIRE(s);
    REQUIRE(store_series_add(s, 1, 10, VT_F64) == 0);
    REQUIRE(store_series_add(s, 2, 20, VT_F64) == 0); /* group 20: no retention */
    REQUIRE(recover(s) == 0);
    /* 5 days, 2 checkpoints per day -> 2 blocks per partition. */
    for (int d = 0; d < 5; d++) {
        for (int half = 0; half < 2; half++) {
            struct store_point p[240];
            int n = 0;
            for (int i = 0; i < 120; i++) {
                int64_t ts = T0 + d * DAY + half * 12 * HOUR + i * 6 * MIN;
                p[n++] = pf(1, ts, d * 1000 + i);
                p[n++] = pf(2, ts, -(d * 1000 + i));
            }
            REQUIRE(store_write(s, p, (size_t)n) == 0);
            REQUIRE(store_checkpoint(s) == 0);
        }
    }
    struct store_stats st;
    store_get_stats(s, &st);
    CHECK_EQ_INT(st.partitions, 10);
    CHECK_EQ_INT(st.blocks, 20);
    CHECK_EQ_INT(st.head_points, 0);
    CHECK_EQ_INT(count_files(dir, ".blk"), 20);
    REQUIRE(store_maintain(s, T0) == 0); /* compaction only: no retention set yet */
    store_get_stats(s, &st);
    CHECK_EQ_INT(st.blocks, 10);
    CHECK_EQ_INT(st.compactions, 10);
    CHECK_EQ_INT(count_files(dir, ".blk"), 10);
    /* Retention 2 days at now = T0 + 5 days + 1h: partitions of days 0..2 end <= cutoff. */
    REQUIRE(store_set_retention(s, 10, 2 * DAY) == 0);
    struct store_point late = pf(1, T0 + 1 * DAY + 5, 42); /* head data of an expired day */
    REQUIRE(store_write(s, &late, 1) == 0);
    REQUIRE(store_maintain(s, T0 + 5 * DAY + HOUR) == 0);
    store_get_stats(s, &st);
    CHECK_EQ_INT(st.partitions_dropped, 3);
    CHECK_EQ_INT(st.partitions, 7);
    CHECK_EQ_INT(count_files(dir, ".blk"), 7);
    struct store_points pts;
    store_points_init(&pts);
    REQUIRE(store_read(s, 1, 0, INT64_MAX, 0, &pts) == 0);
    CHECK_EQ_INT(pts.n, 2 * 240);
    CHECK(pts.n && pts.ts[0] == T0 + 3 * DAY);
    REQUIRE(store_read(s, 2, 0, INT64_MAX, 0, &pts) == 0);
    CHECK_EQ_INT(pts.n, 5 * 240);
    int64_t ts;
    union vg_val v;
    CHECK(store_latest(s, 1, &ts, &v) == 0 && ts == T0 + 4 * DAY + 12 * HOUR + 119 * 6 * MIN);
    store_close(s);
    s = open_store(dir, &o);
    REQUIRE(s);
    REQUIRE(store_series_add(s, 1, 10, VT_F64) == 0);
    REQUIRE(store_series_add(s, 2, 20, VT_F64) == 0);
    REQUIRE(recover(s) == 0);
    REQUIRE(store_read(s, 1, 0, INT64_MAX, 0, &pts) == 0);
    CHECK_EQ_INT(pts.n, 2 * 240);
    REQUIRE(store_read(s, 2, 0, INT64_MAX, 0, &pts) == 0);
    CHECK_EQ_INT(pts.n, 5 * 240);
    store_points_release(&pts);
    store_close(s);
    test_rmrf(dir);
    free(dir);
}

static void test_corrupt_block(void)
{
    char *dir = test_tmpdir("db-corrupt");
    struct store_opts o = {.sync = WAL_SYNC_BATCH};
    struct store *s = open_store(dir, &o);
    REQUIRE(s);
    REQUIRE(store_series_add(s, 1, 1, VT_F64) == 0);
    REQUIRE(recover(s) == 0);
    struct store_point p[2] = {pf(1, T0, 1), pf(1, T0 + 2 * DAY, 2)};
    REQUIRE(store_write(s, p, 2) == 0);
    store_close(s);
    /* Flip a byte in the first day's block and leave a stray temp file. */
    char path[1024];
    snprintf(path, sizeof(path), "%s/part/1/%lld", dir, (long long)T0);
    DIR *d = opendir(path);
    REQUIRE(d);
    struct dirent *e;
    char blk[1400] = "";
    while ((e = readdir(d))) {
        if (strstr(e->d_name, ".blk"))
            snprintf(blk, sizeof(blk), "%s/%s", path, e->d_name);
    }
    closedir(d);
    REQUIRE(blk[0]);
    FILE *f = fopen(blk, "r+b");
    REQUIRE(f);
    fseek(f, 40, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 40, SEEK_SET);
    fputc(c ^ 0x55, f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/part/1/%lld/00000000000000000099.tmp", dir, (long long)T0);
    f = fopen(path, "wb");
    REQUIRE(f);
    fputs("junk", f);
    fclose(f);
    s = open_store(dir, &o);
    REQUIRE(s);
    REQUIRE(store_series_add(s, 1, 1, VT_F64) == 0);
    CHECK_EQ_INT(recover(s), 0);
    struct store_points pts;
    store_points_init(&pts);
    REQUIRE(store_read(s, 1, 0, INT64_MAX, 0, &pts) == 0);
    CHECK_EQ_INT(pts.n, 1);
    CHECK(pts.n == 1 && pts.v[0].f == 2);
    store_points_release(&pts);
    CHECK_EQ_INT(count_files(dir, ".corrupt"), 1);
    struct store_stats st;
    store_get_stats(s, &st);
    CHECK_EQ_INT(st.corrupt_blocks, 1);
    CHECK_EQ_INT(count_files(dir, ".tmp"), 0);
    store_close(s);
    test_rmrf(dir);
    free(dir);
}

static void test_head_memory(void)
{
    /* 1,000 series x 1,440 in-order points: the head must stay compact (well under 100 MB for
    ** 10,000 series means < ~7 bytes per point including the raw buffers). */
    char *dir = test_tmpdir("db-mem");
    struct store_opts o = {.sync = WAL_SYNC_BATCH, .checkpoint_wal_bytes = (uint64_t)1 << 40};
    struct store *s = open_store(dir, &o);
    REQUIRE(s);
    enum { NS = 1000, NP = 1440 };
    for (uint32_t i = 0; i < NS; i++)
        REQUIRE(store_series_add(s, i + 1, 1, VT_F64) == 0);
    REQUIRE(recover(s) == 0);
    struct store_point *p = malloc(NS * sizeof(*p));
    for (int t = 0; t < NP; t++) {
        for (uint32_t i = 0; i < NS; i++)
            p[i] = pf(i + 1, T0 + t * MIN, round((20 + (double)((i * 7 + t) % 50) / 10) * 10) / 10);
        REQUIRE(store_write(s, p, NS) == 0);
    }
    free(p);
    struct store_stats st;
    store_get_stats(s, &st);
    CHECK_EQ_INT(st.head_points, (uint64_t)NS * NP);
    double bpp = (double)st.head_bytes / (double)(NS * NP);
    printf("  head: %.2f bytes/point\n", bpp);
    CHECK(bpp < 6.0);
    store_close(s);
    test_rmrf(dir);
    free(dir);
}

/* ---- property test against a reference model -------------------------------------------- */

#define PNS 5
#define PRANGE 2000 /* ts step 7 min around T0 (about 10 days): many duplicates */

struct ref {
    uint8_t has[PRANGE];
    int64_t val[PRANGE];
};

static int64_t pts_of(int k)
{
    return T0 + ((int64_t)k - PRANGE / 2) * 7 * MIN;
}

static void prop_reopen(struct store **s, const char *dir, const struct store_opts *o, int clean)
{
    if (clean)
        store_close(*s);
    else
        store_abandon(*s);
    *s = open_store(dir, o);
    if (!*s)
        return;
    for (uint32_t sid = 1; sid <= PNS; sid++)
        store_series_add(*s, sid, sid % 2, sid == PNS ? VT_STR : VT_I64);
    if (recover(*s) != 0)
        printf("  recover failed\n");
}

static void test_property(void)
{
    char *dir = test_tmpdir("db-prop");
    struct store_opts o = {.sync = WAL_SYNC_BATCH,
                           .head_chunk_points = 8,
                           .partition_ms = 2 * DAY,
                           .checkpoint_wal_bytes = 20000};
    struct store *s = open_store(dir, &o);
    REQUIRE(s);
    for (uint32_t sid = 1; sid <= PNS; sid++)
        REQUIRE(store_series_add(s, sid, sid % 2, sid == PNS ? VT_STR : VT_I64) == 0);
    REQUIRE(recover(s) == 0);
    static struct ref ref[PNS + 1];
    memset(ref, 0, sizeof(ref));
    static const char *strs[] = {"a", "bb", "ccc", "", "dddd", "eeeee", "zz"};
    struct store_points pts;
    store_points_init(&pts);
    int reads = 0;
    for (int op = 0; op < 4000 && s; op++) {
        uint64_t r = rnd_below(1000);
        if (r < 600) {
            struct store_point p[40];
            int n = 1 + (int)rnd_below(40);
            int hot = (int)rnd_below(PRANGE); /* mostly near one spot, some anywhere */
            for (int i = 0; i < n; i++) {
                uint32_t sid = 1 + (uint32_t)rnd_below(PNS);
                int k = rnd_below(4) ? (hot + (int)rnd_below(60)) % PRANGE : (int)rnd_below(PRANGE);
                int64_t v = (int64_t)(rnd() >> 20) - (1LL << 42);
                if (sid == PNS)
                    p[i] = ps(sid, pts_of(k), strs[(uint64_t)v % 7]);
                else
                    p[i] = pi(sid, pts_of(k), v);
                ref[sid].has[k] = 1;
                ref[sid].val[k] = sid == PNS ? (int64_t)((uint64_t)v % 7) : v;
            }
            if (store_write(s, p, (size_t)n) != 0) {
                CHECK(0);
                break;
            }
        } else if (r < 925) {
            uint32_t sid = 1 + (uint32_t)rnd_below(PNS);
            int a = (int)rnd_below(PRANGE), b = a + (int)rnd_below(PRANGE / 2);
            if (rnd_below(10) == 0) {
                a = 0;
                b = PRANGE;
            }
            REQUIRE(store_read(s, sid, pts_of(a), pts_of(b), 0, &pts) == 0);
            reads++;
            uint32_t j = 0;
            int bad = 0;
            for (int k = a; k < b && k < PRANGE; k++) {
                if (!ref[sid].has[k])
                    continue;
                if (j >= pts.n || pts.ts[j] != pts_of(k)) {
                    bad = 1;
                    break;
                }
                if (sid == PNS) {
                    const char *w = strs[ref[sid].val[k]];
                    if (pts.v[j].s.len != strlen(w) || memcmp(pts.v[j].s.p, w, strlen(w)) != 0)
                        bad = 1;
                } else if (pts.v[j].i != ref[sid].val[k]) {
                    bad = 1;
                }
                j++;
            }
            if (j != pts.n)
                bad = 1;
            if (bad) {
                printf("  mismatch at op %d sid %u range [%d,%d)\n", op, sid, a, b);
                CHECK(0);
                break;
            }
            /* aggregate over the same range in 1-hour buckets: count and sum */
            if (sid != PNS && b > a) {
                uint32_t nb = store_bucket_count(pts_of(a), pts_of(b), HOUR);
                struct store_bucket *bk = malloc(nb * sizeof(*bk));
                REQUIRE(store_aggregate(s, sid, pts_of(a), pts_of(b), HOUR, bk, nb) == 0);
                uint64_t cnt = 0;
                double sum = 0, want = 0;
                for (uint32_t i = 0; i < nb; i++) {
                    cnt += bk[i].count;
                    sum += bk[i].sum;
                }
                for (uint32_t i = 0; i < pts.n; i++)
                    want += (double)pts.v[i].i;
                CHECK_EQ_INT(cnt, pts.n);
                CHECK(fabs(sum - want) <= 1e-6 * (fabs(want) + 1) * 64);
                free(bk);
            }
            int64_t lts;
            union vg_val lv;
            int last = -1;
            for (int k = PRANGE - 1; k >= 0 && last < 0; k--)
                if (ref[sid].has[k])
                    last = k;
            int lrc = store_latest(s, sid, &lts, &lv);
            if (last < 0)
                CHECK_EQ_INT(lrc, VG_ENOENT);
            else {
                CHECK(lrc == 0 && lts == pts_of(last));
                if (sid != PNS)
                    CHECK(lv.i == ref[sid].val[last]);
            }
        } else if (r < 950) {
            CHECK_EQ_INT(store_checkpoint(s), 0);
        } else if (r < 975) {
            CHECK_EQ_INT(store_maintain(s, T0), 0);
        } else if (r < 988) {
            prop_reopen(&s, dir, &o, 1);
        } else {
            prop_reopen(&s, dir, &o, 0);
        }
    }
    CHECK(reads > 500);
    store_points_release(&pts);
    store_close(s);
    test_rmrf(dir);
    free(dir);
}

static void test_lifecycle(void)
{
    char *dir = test_tmpdir("db-life");
    struct store_opts o = {.sync = WAL_SYNC_ALWAYS, .background = 1,
                           .checkpoint_wal_bytes = 4096};
    struct store *s = open_store(dir, &o);
    REQUIRE(s);
    REQUIRE(store_series_add(s, 1, 1, VT_F64) == 0);
    struct store_point p = pf(1, T0, 1);
    CHECK_EQ_INT(store_write(s, &p, 1), VG_EPERM); /* before recover */
    REQUIRE(recover(s) == 0);
    CHECK_EQ_INT(recover(s), VG_EINVAL);
    for (int i = 0; i < 400; i++) {
        p = pf(1, T0 + i * 1000, i);
        REQUIRE(store_write(s, &p, 1) == 0);
    }
    /* The background thread checkpoints once the WAL passes 4 KiB. */
    struct store_stats st;
    for (int i = 0; i < 250; i++) {
        store_get_stats(s, &st);
        if (st.checkpoints)
            break;
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    if (st.checkpoints < 1)
        printf("  no checkpoint: wal %llu bytes, write_error %d\n",
               (unsigned long long)st.wal.size_on_disk, st.write_error);
    CHECK(st.checkpoints >= 1);
    CHECK_EQ_INT(st.points_written, 400);
    CHECK_EQ_INT(st.write_batches, 400);
    CHECK(st.wal.syncs >= 1);
    store_close(s);
    o.background = 0;
    s = open_store(dir, &o);
    REQUIRE(s);
    REQUIRE(store_series_add(s, 1, 1, VT_F64) == 0);
    REQUIRE(recover(s) == 0);
    struct store_points pts;
    store_points_init(&pts);
    REQUIRE(store_read(s, 1, 0, INT64_MAX, 0, &pts) == 0);
    CHECK_EQ_INT(pts.n, 400);
    store_points_release(&pts);
    store_get_stats(s, &st);
    CHECK(st.disk_bytes > 0 && st.blocks >= 1);
    store_close(s);
    test_rmrf(dir);
    free(dir);
}


/* ---- concurrency: writers, readers and maintenance at once ------------------------------ */

struct conc {
    struct store *s;
    int stop; /* atomic */
    int bad;  /* atomic */
};

static void *conc_writer(void *arg)
{
    struct conc *c = arg;
    uint64_t st = (uint64_t)(uintptr_t)&c ^ 0x9E3779B97F4A7C15ull; /* per-thread generator */
    for (int b = 0; b < 300; b++) {
        struct store_point p[20];
        for (int i = 0; i < 20; i++) {
            st = st * 6364136223846793005ull + 1442695040888963407ull;
            int64_t ts = T0 + (int64_t)((st >> 33) % 5000) * 1000; /* overwrites, any order */
            p[i] = pf(1 + (uint32_t)(i % 3), ts, (double)(ts / 1000 % 977));
        }
        if (store_write(c->s, p, 20) != 0)
            __atomic_fetch_add(&c->bad, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void *conc_reader(void *arg)
{
    struct conc *c = arg;
    struct store_points pts;
    store_points_init(&pts);
    while (!__atomic_load_n(&c->stop, __ATOMIC_RELAXED)) {
        for (uint32_t sid = 1; sid <= 3; sid++) {
            if (store_read(c->s, sid, T0, T0 + 5000 * 1000, 0, &pts) != 0) {
                __atomic_fetch_add(&c->bad, 1, __ATOMIC_RELAXED);
                continue;
            }
            for (uint32_t i = 0; i < pts.n; i++) {
                double want = (double)(pts.ts[i] / 1000 % 977);
                if ((i && pts.ts[i] <= pts.ts[i - 1]) || pts.v[i].f != want)
                    __atomic_fetch_add(&c->bad, 1, __ATOMIC_RELAXED);
            }
            struct store_bucket b[2];
            if (store_aggregate(c->s, sid, T0, T0 + 2 * HOUR, HOUR, b, 2) != 0)
                __atomic_fetch_add(&c->bad, 1, __ATOMIC_RELAXED);
            int64_t ts;
            union vg_val v;
            store_latest(c->s, sid, &ts, &v);
        }
    }
    store_points_release(&pts);
    return NULL;
}

static void *conc_maint(void *arg)
{
    struct conc *c = arg;
    while (!__atomic_load_n(&c->stop, __ATOMIC_RELAXED)) {
        if (store_checkpoint(c->s) != 0 || store_maintain(c->s, T0) != 0)
            __atomic_fetch_add(&c->bad, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void test_concurrency(void)
{
    char *dir = test_tmpdir("db-conc");
    struct store_opts o = {.sync = WAL_SYNC_BATCH, .head_chunk_points = 16, .partition_ms = HOUR};
    struct store *s = open_store(dir, &o);
    REQUIRE(s);
    for (uint32_t sid = 1; sid <= 3; sid++)
        REQUIRE(store_series_add(s, sid, 1, VT_F64) == 0);
    REQUIRE(recover(s) == 0);
    struct conc c = {.s = s};
    pthread_t w[2], r[2], m;
    for (int i = 0; i < 2; i++) {
        pthread_create(&w[i], NULL, conc_writer, &c);
        pthread_create(&r[i], NULL, conc_reader, &c);
    }
    pthread_create(&m, NULL, conc_maint, &c);
    for (int i = 0; i < 2; i++)
        pthread_join(w[i], NULL);
    __atomic_store_n(&c.stop, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < 2; i++)
        pthread_join(r[i], NULL);
    pthread_join(m, NULL);
    CHECK_EQ_INT(c.bad, 0);
    struct store_stats st;
    store_get_stats(s, &st);
    CHECK_EQ_INT(st.points_written, 2 * 300 * 20);
    store_close(s);
    test_rmrf(dir);
    free(dir);
}


/* ---- hour summaries ------------------------------------------------------------------------ */

#define SNS 4 /* series 1 F64, 2 I64, 3 BOOL, 4 F64 dense (chunks split, an hour > 8192 points) */

struct wlog {
    struct store_point *p;
    size_t n, cap;
};

static void wlog_add(struct wlog *l, struct store_point p)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4096;
        l->p = realloc(l->p, l->cap * sizeof(*l->p));
    }
    l->p[l->n++] = p;
}

static int cmp_pt(const void *a, const void *b)
{
    const struct store_point *x = a, *y = b;
    if (x->sid != y->sid)
        return x->sid < y->sid ? -1 : 1;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return 0;
}

/* The model: every write in order; model_build makes the sorted newest-wins view. */
struct model {
    struct store_point *p; /* sorted by (sid, ts), unique */
    size_t n;
};

static void model_build(const struct wlog *l, int64_t drop_before, struct model *m)
{
    free(m->p);
    size_t n = l->n;
    struct store_point *t = malloc((n ? n : 1) * sizeof(*t));
    size_t *ix = malloc((n ? n : 1) * sizeof(*ix));
    memcpy(t, l->p, n * sizeof(*t));
    for (size_t i = 0; i < n; i++)
        ix[i] = i;
    struct packed {
        struct store_point p;
        size_t i;
    } *pk = malloc((n ? n : 1) * sizeof(*pk));
    for (size_t i = 0; i < n; i++) {
        pk[i].p = t[i];
        pk[i].i = ix[i];
    }
    qsort(pk, n, sizeof(*pk), cmp_pt); /* ties resolved below by scanning for the max index */
    m->p = malloc((n ? n : 1) * sizeof(*m->p));
    m->n = 0;
    for (size_t a = 0; a < n;) {
        size_t b = a + 1, best = a;
        while (b < n && pk[b].p.sid == pk[a].p.sid && pk[b].p.ts == pk[a].p.ts) {
            if (pk[b].i > pk[best].i)
                best = b;
            b++;
        }
        if (pk[best].p.ts >= drop_before)
            m->p[m->n++] = pk[best].p;
        a = b;
    }
    free(pk);
    free(ix);
    free(t);
}

static int same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof(a)) == 0 || (isnan(a) && isnan(b));
}

static int close_to(double got, double want, double scale)
{
    if (isnan(want))
        return isnan(got);
    if (isinf(want))
        return got == want;
    return fabs(got - want) <= 1e-9 * scale + 1e-300;
}

/* Brute force: sequential fold of the model points of sid in each bucket; compare. */
static int check_agg(const struct model *m, uint32_t sid, enum vg_vtype vt, int64_t from,
                     int64_t to, int64_t every, const struct store_bucket *b, uint32_t nb)
{
    int bad = 0;
    int64_t start = from - (((from % every) + every) % every);
    for (uint32_t k = 0; k < nb && !bad; k++) {
        int64_t bs = start + (int64_t)k * every, be = bs + every;
        if (bs < from)
            bs = from;
        if (be > to)
            be = to;
        uint64_t cnt = 0;
        double sum = 0, sq = 0, sabs = 0, mn = INFINITY, mx = -INFINITY, first = 0, last = 0;
        int64_t fts = 0, lts = 0;
        size_t lo = 0, hi = m->n; /* first model point >= (sid, bs) */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (m->p[mid].sid < sid || (m->p[mid].sid == sid && m->p[mid].ts < bs))
                lo = mid + 1;
            else
                hi = mid;
        }
        for (size_t i = lo; i < m->n && m->p[i].sid == sid && m->p[i].ts < be; i++) {
            const struct store_point *p = &m->p[i];
            double x = vt == VT_F64 ? p->v.f : (double)p->v.i;
            if (!cnt) {
                first = x;
                fts = p->ts;
            }
            last = x;
            lts = p->ts;
            cnt++;
            sum += x;
            sq += x * x;
            sabs += fabs(x);
            mn = x < mn ? x : mn;
            mx = x > mx ? x : mx;
        }
        const struct store_bucket *q = &b[k];
        bad = q->count != cnt || q->start != start + (int64_t)k * every;
        if (!bad && cnt) {
            bad = q->first_ts != fts || q->last_ts != lts || !same_bits(q->first, first) ||
                  !same_bits(q->last, last) || !same_bits(q->min, mn) || !same_bits(q->max, mx) ||
                  !close_to(q->sum, sum, sabs) || !close_to(q->sumsq, sq, sq);
        }
        if (bad)
            printf("  sid %u every %lld from %lld to %lld bucket %u: count %llu/%llu sum %.17g/%.17g"
                   " min %g/%g max %g/%g first %g/%g\n",
                   sid, (long long)every, (long long)(from - T0), (long long)(to - T0), k,
                   (unsigned long long)q->count, (unsigned long long)cnt, q->sum, sum, q->min, mn,
                   q->max, mx, q->first, first);
    }
    return !bad;
}

static double rnd_f64(void)
{
    uint64_t r = rnd_below(1000);
    if (r < 10)
        return NAN;
    if (r < 14)
        return r & 1 ? INFINITY : -INFINITY;
    if (r < 20)
        return -0.0;
    if (r < 40)
        return (double)(rnd() >> 11) / 9007199254740992.0 * 1e6; /* not a short decimal */
    if (r < 45)
        return 1e300; /* sumsq overflows */
    return (double)((int64_t)rnd_below(4000) - 2000) / 10;
}

static int64_t rnd_i64(void)
{
    if (rnd_below(50) == 0)
        return rnd_below(2) ? INT64_MAX / 2 + (int64_t)rnd_below(1000) : INT64_MIN / 2;
    return (int64_t)rnd_below(2000000) - 1000000;
}

static struct store_point rnd_point(uint32_t sid, int64_t ts)
{
    if (sid == 2)
        return pi(sid, ts, rnd_i64());
    if (sid == 3)
        return pi(sid, ts, (int64_t)rnd_below(2));
    return pf(sid, ts, rnd_f64());
}

static const enum vg_vtype svt[SNS + 1] = {VT_NONE, VT_F64, VT_I64, VT_BOOL, VT_F64};

/* Shuffle and write l->p[a..n) in batches. */
static int write_log(struct store *s, struct wlog *l, size_t a)
{
    for (size_t i = l->n; i > a + 1; i--) {
        size_t j = a + (size_t)rnd_below(i - a);
        struct store_point t = l->p[i - 1];
        l->p[i - 1] = l->p[j];
        l->p[j] = t;
    }
    /* The log now holds the write order (the model's newest-wins follows it). */
    for (size_t i = a; i < l->n; i += 500) {
        size_t n = l->n - i < 500 ? l->n - i : 500;
        if (store_write(s, l->p + i, n))
            return 0;
    }
    return 1;
}

#define NQ 60
struct qry {
    int64_t from, to, every;
};

/* Run the queries on every series, check them against the model; keep results in res. */
static int run_queries(struct store *s, const struct model *m, const struct qry *q,
                       struct store_bucket **res, uint32_t *nres)
{
    int ok = 1;
    for (int i = 0; i < NQ; i++) {
        uint32_t nb = store_bucket_count(q[i].from, q[i].to, q[i].every);
        for (uint32_t sid = 1; sid <= SNS; sid++) {
            struct store_bucket **r = &res[i * SNS + sid - 1];
            free(*r);
            *r = calloc(nb ? nb : 1, sizeof(**r));
            nres[i * SNS + sid - 1] = nb;
            if (store_aggregate(s, sid, q[i].from, q[i].to, q[i].every, *r, nb) != 0 ||
                !check_agg(m, sid, svt[sid], q[i].from, q[i].to, q[i].every, *r, nb))
                ok = 0;
        }
    }
    return ok;
}

static int same_results(struct store_bucket **a, struct store_bucket **b, const uint32_t *n)
{
    for (int i = 0; i < NQ * SNS; i++) {
        for (uint32_t k = 0; k < n[i]; k++) {
            const struct store_bucket *x = &a[i][k], *y = &b[i][k];
            if (x->count != y->count || x->first_ts != y->first_ts || x->last_ts != y->last_ts ||
                !same_bits(x->sum, y->sum) || !same_bits(x->sumsq, y->sumsq) ||
                !same_bits(x->min, y->min) || !same_bits(x->max, y->max) ||
                !same_bits(x->first, y->first) || !same_bits(x->last, y->last)) {
                printf("  query %d series %d bucket %u differs: sum %.17g/%.17g\n", i / SNS,
                       i % SNS + 1, k, x->sum, y->sum);
                return 0;
            }
        }
    }
    return 1;
}

static void test_summaries(void)
{
    char *dir = test_tmpdir("db-sum");
    struct store_opts o = {.sync = WAL_SYNC_BATCH, .head_chunk_points = 64};
    struct store *s = open_store(dir, &o);
    REQUIRE(s);
    for (uint32_t sid = 1; sid <= SNS; sid++)
        REQUIRE(store_series_add(s, sid, 1, svt[sid]) == 0);
    REQUIRE(recover(s) == 0);
    struct wlog l = {0};
    struct model m = {0};
    /* Three days; per hour: empty, sparse (3 points) or dense (~60 at random ms). */
    for (uint32_t sid = 1; sid <= 3; sid++) {
        for (int h = 0; h < 72; h++) {
            uint64_t kind = rnd_below(10);
            int n = kind == 0 ? 0 : kind == 1 ? 3 : 40 + (int)rnd_below(40);
            for (int i = 0; i < n; i++)
                wlog_add(&l, rnd_point(sid, T0 + h * HOUR + (int64_t)rnd_below(HOUR)));
        }
    }
    /* Series 4: every 2 s over day 0 (chunks split at hour boundaries), and 9000 points in hour
    ** 3 of day 1 (one hour over BLOCK_CHUNK_POINTS: split inside the hour). */
    for (int64_t t = 0; t < DAY; t += 2000)
        wlog_add(&l, pf(4, T0 + t, (double)(t % 7000) / 10));
    for (int i = 0; i < 9000; i++)
        wlog_add(&l, pf(4, T0 + DAY + 3 * HOUR + i * 400, (double)(i % 100)));
    REQUIRE(write_log(s, &l, 0));
    model_build(&l, INT64_MIN, &m);

    struct qry q[NQ];
    static const int64_t everies[] = {HOUR, 2 * HOUR, DAY, 15 * MIN, 3 * HOUR, 6 * HOUR};
    for (int i = 0; i < NQ; i++) {
        q[i].every = everies[rnd_below(VG_ARRAY_LEN(everies))];
        q[i].from = T0 - HOUR + (int64_t)rnd_below(3 * DAY);
        q[i].to = q[i].from + 1 + (int64_t)rnd_below(3 * DAY);
        if (i < 6) { /* some exactly aligned */
            q[i].from = T0 + (i % 3) * DAY;
            q[i].to = q[i].from + DAY;
        }
    }
    static struct store_bucket *r0[NQ * SNS], *r1[NQ * SNS];
    static uint32_t nr[NQ * SNS];
    /* 1. Head only (no summary) vs 2. blocks with summaries: bit-identical. */
    CHECK(run_queries(s, &m, q, r0, nr));
    REQUIRE(store_checkpoint(s) == 0);
    CHECK(run_queries(s, &m, q, r1, nr));
    CHECK(same_results(r0, r1, nr));

    /* 3. Out-of-order writes after the checkpoint: a second block overlapping the first
    ** (overwrites and new points in a few hours), then head data (raw and sealed chunks) in
    ** other hours of the same days. */
    for (int round = 0; round < 2; round++) {
        size_t a = l.n;
        for (int k = 0; k < 6; k++) {
            uint32_t sid = 1 + (uint32_t)rnd_below(SNS);
            int64_t h = T0 + (int64_t)rnd_below(72) * HOUR;
            for (int i = 0; i < 50; i++) {
                int64_t ts = h + (int64_t)rnd_below(HOUR);
                if (i % 3 == 0) { /* overwrite an existing point when there is one */
                    size_t j = (size_t)rnd_below(m.n);
                    if (m.p[j].sid == sid)
                        ts = m.p[j].ts;
                }
                wlog_add(&l, rnd_point(sid, ts));
            }
        }
        REQUIRE(write_log(s, &l, a));
        model_build(&l, INT64_MIN, &m);
        CHECK(run_queries(s, &m, q, r0, nr));
        if (round == 0)
            REQUIRE(store_checkpoint(s) == 0); /* second block per partition */
    }
    /* 4. Checkpoint (third blocks), compaction (one block each): same bits every time. */
    REQUIRE(store_checkpoint(s) == 0);
    CHECK(run_queries(s, &m, q, r1, nr));
    CHECK(same_results(r0, r1, nr));
    REQUIRE(store_compact(s) == 0);
    CHECK(run_queries(s, &m, q, r0, nr));
    CHECK(same_results(r0, r1, nr));
    /* 5. Reopen (summaries parsed at load). */
    store_close(s);
    s = open_store(dir, &o);
    REQUIRE(s);
    for (uint32_t sid = 1; sid <= SNS; sid++)
        REQUIRE(store_series_add(s, sid, 1, svt[sid]) == 0);
    REQUIRE(recover(s) == 0);
    CHECK(run_queries(s, &m, q, r1, nr));
    CHECK(same_results(r0, r1, nr));
    /* 6. Retention drops day 0 (blocks and head). */
    size_t a = l.n;
    for (int i = 0; i < 40; i++)
        wlog_add(&l, rnd_point(1 + (uint32_t)rnd_below(3), T0 + (int64_t)rnd_below(3 * DAY)));
    REQUIRE(write_log(s, &l, a));
    REQUIRE(store_set_retention(s, 1, DAY) == 0);
    REQUIRE(store_maintain(s, T0 + 2 * DAY + HOUR) == 0);
    model_build(&l, T0 + DAY, &m);
    CHECK(run_queries(s, &m, q, r0, nr));
    REQUIRE(store_checkpoint(s) == 0);
    REQUIRE(store_compact(s) == 0);
    CHECK(run_queries(s, &m, q, r1, nr));
    CHECK(same_results(r0, r1, nr));
    store_close(s);
    for (int i = 0; i < NQ * SNS; i++) {
        free(r0[i]);
        free(r1[i]);
        r0[i] = r1[i] = NULL;
    }
    free(l.p);
    free(m.p);
    test_rmrf(dir);
    free(dir);
}

/* The summary records of a block: one per numeric chunk (enough points per hour), hours that
** match a fold of the points, corrupt bytes refused. */
static void test_summary_records(void)
{
    char *dir = test_tmpdir("db-sumrec");
    struct io_vfs *vfs = io_posix();
    struct block_writer w;
    REQUIRE(block_writer_open(&w, vfs, dir, 7, T0, 3) == 0);
    enum { N = 20000 };
    static int64_t ts[N];
    static union vg_val v[N];
    for (int i = 0; i < N; i++) { /* 1 point / 3 s, values with NaN: 16.6 hours */
        ts[i] = T0 + i * 3000LL;
        v[i].f = i % 97 == 0 ? NAN : (double)(i % 13) / 4;
    }
    REQUIRE(block_writer_add(&w, 1, VT_F64, ts, v, N) == 0);
    REQUIRE(block_writer_add(&w, 2, VT_I64, ts, v, 2) == 0);  /* too sparse: no summary */
    REQUIRE(block_writer_add(&w, 3, VT_STR, ts, v, 0) == 0);  /* nothing */
    REQUIRE(block_writer_finish(&w) == 0);
    struct block *b = NULL;
    REQUIRE(block_writer_commit(&w, &b) == 0);
    CHECK_EQ_INT(b->nix, 4); /* 20000 points: 8192 -> cut at hours: 6 h + 6 h + rest */
    uint32_t tot = 0;
    for (uint32_t i = 0; i < b->nix; i++) {
        const struct block_entry *e = &b->ix[i];
        if (e->sid != 1) {
            CHECK(e->slen == 0);
            continue;
        }
        CHECK(e->slen != 0);
        CHECK(e->n <= BLOCK_CHUNK_POINTS);
        if (i + 1 < b->nix && b->ix[i + 1].sid == 1) /* chunks end at an hour boundary */
            CHECK((b->ix[i + 1].min_ts - T0) % HOUR == 0);
        struct block_hsum *h = NULL;
        uint32_t nh = 0, cap = 0;
        REQUIRE(block_hsum_decode(b, e, INT64_MIN, INT64_MAX, &h, &nh, &cap) == 0);
        for (uint32_t k = 0; k < nh; k++) {
            uint32_t a = (uint32_t)((h[k].first_ts - T0) / 3000);
            struct block_hsum f;
            block_hsum_fold(VT_F64, ts + a, v + a, (uint32_t)h[k].count, &f);
            CHECK(memcmp(&f, &h[k], sizeof(f)) == 0);
            CHECK(h[k].hour == T0 + (int64_t)(a / 1200) * HOUR);
            tot += (uint32_t)h[k].count;
        }
        free(h);
    }
    CHECK_EQ_INT(tot, N);
    block_free(b);
    /* Flip a byte inside the first summary: the whole-file CRC and the record's CRC. */
    char path[1200];
    snprintf(path, sizeof(path), "%s/00000000000000000003.blk", dir);
    REQUIRE(block_load(vfs, path, 7, T0, 3, &b) == 0);
    uint64_t soff = b->ix[0].soff;
    block_free(b);
    FILE *f = fopen(path, "r+b");
    REQUIRE(f);
    fseek(f, (long)soff + 12, SEEK_SET);
    int c = fgetc(f);
    fseek(f, (long)soff + 12, SEEK_SET);
    fputc(c ^ 0x10, f);
    fclose(f);
    b = NULL;
    CHECK(block_load(vfs, path, 7, T0, 3, &b) == VG_ECORRUPT && b == NULL);
    test_rmrf(dir);
    free(dir);
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A version 1 block (no summaries, 36-byte entries) still loads and answers aggregates. */
static void test_block_v1(void)
{
    char *dir = test_tmpdir("db-v1");
    char path[1200];
    snprintf(path, sizeof(path), "%s/part", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/part/1", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/part/1/%lld", dir, (long long)T0);
    mkdir(path, 0755);
    enum { N = 600 };
    int64_t ts[N];
    union vg_val v[N];
    for (int i = 0; i < N; i++) {
        ts[i] = T0 + i * 30000LL; /* 5 hours */
        v[i].f = (double)i;
    }
    struct buf file;
    buf_init(&file, 0);
    uint8_t h[32];
    memcpy(h, "VGBLOCK1", 8);
    put_le(h + 8, 1, 4);
    put_le(h + 12, 1, 4);
    put_le(h + 16, (uint64_t)T0, 8);
    put_le(h + 24, 5, 8);
    REQUIRE(buf_append(&file, h, 32) == 0);
    REQUIRE(chunk_encode(VT_F64, ts, v, N, &file) == 0);
    uint64_t ixoff = file.len;
    uint8_t e[36];
    put_le(e, 1, 4);
    put_le(e + 4, N, 4);
    put_le(e + 8, (uint64_t)ts[0], 8);
    put_le(e + 16, (uint64_t)ts[N - 1], 8);
    put_le(e + 24, 32, 8);
    put_le(e + 32, ixoff - 32, 4);
    REQUIRE(buf_append(&file, e, 36) == 0);
    uint8_t ft[24];
    put_le(ft, ixoff, 8);
    put_le(ft + 8, 1, 4);
    put_le(ft + 12, crc32c(0, file.p, file.len), 4);
    memcpy(ft + 16, "VGBLKEND", 8);
    REQUIRE(buf_append(&file, ft, 24) == 0);
    snprintf(path, sizeof(path), "%s/part/1/%lld/00000000000000000005.blk", dir, (long long)T0);
    FILE *f = fopen(path, "wb");
    REQUIRE(f);
    CHECK(fwrite(file.p, 1, file.len, f) == file.len);
    fclose(f);
    buf_release(&file);
    struct store_opts o = {.sync = WAL_SYNC_BATCH};
    struct store *s = open_store(dir, &o);
    REQUIRE(s);
    REQUIRE(store_series_add(s, 1, 1, VT_F64) == 0);
    REQUIRE(recover(s) == 0);
    struct store_bucket b[24];
    REQUIRE(store_aggregate(s, 1, T0, T0 + DAY, HOUR, b, 24) == 0);
    for (int k = 0; k < 5; k++) {
        CHECK_EQ_INT(b[k].count, 120);
        CHECK(b[k].first == 120.0 * k && b[k].last == 120.0 * k + 119);
    }
    CHECK_EQ_INT(b[5].count, 0);
    /* A new write + compaction rewrites it as a version 3 block with summaries. */
    struct store_point p = pf(1, T0 + 20 * HOUR, 1);
    REQUIRE(store_write(s, &p, 1) == 0);
    REQUIRE(store_checkpoint(s) == 0);
    REQUIRE(store_compact(s) == 0);
    struct store_bucket c[24];
    REQUIRE(store_aggregate(s, 1, T0, T0 + DAY, HOUR, c, 24) == 0);
    CHECK(memcmp(b, c, 20 * sizeof(*b)) == 0);
    CHECK_EQ_INT(c[20].count, 1);
    CHECK_EQ_INT(count_files(dir, ".blk"), 1);
    store_close(s);
    test_rmrf(dir);
    free(dir);
}

int main(void)
{
    TEST_BEGIN("db_test");
    /* Durability is the crash test's business: run on tmpfs when there is one, so thousands of
    ** fsyncs of the property test cost nothing. */
    if (!getenv("TMPDIR") && access("/dev/shm", W_OK) == 0)
        setenv("TMPDIR", "/dev/shm", 1);
    TEST_RUN(test_types);
    TEST_RUN(test_aggregate_math);
    TEST_RUN(test_unknown_sid);
    TEST_RUN(test_duplicates_everywhere);
    TEST_RUN(test_out_of_order_late);
    TEST_RUN(test_clip_limit);
    TEST_RUN(test_checkpoint_compact_retention);
    TEST_RUN(test_corrupt_block);
    TEST_RUN(test_head_memory);
    TEST_RUN(test_property);
    TEST_RUN(test_lifecycle);
    TEST_RUN(test_concurrency);
    TEST_RUN(test_summaries);
    TEST_RUN(test_summary_records);
    TEST_RUN(test_block_v1);
    return TEST_END();
}
