/*
** store/crash_test.c: crash and disk-full tests of the engine on the fault-injecting VFS
** (store/io_fault.c). Each round opens the store, writes numbered batches from two threads while
** a third runs checkpoints and compactions, then simulates power loss at a random moment
** (IO_CRASH_RANDOM: every unsynced write is kept, dropped, torn or garbled), abandons the store
** and recovers it: every acknowledged point must be there with its value, and every point there
** must belong to a batch that was attempted (no garbage, no invented points).
** Data accumulates over the rounds of one directory, so recovery of blocks written by earlier
** rounds, compacted blocks and WAL tails all get exercised.
*/
#include "core/test.h"
#include "store/db.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define T0 1700006400000LL
#define NTHREADS 2
#define BATCH 12
#define MAXB 400   /* batches per thread per round (upper bound) */
#define ROUNDS 60
#define SIDS_PER_THREAD 2

static uint64_t g_rng = 0x5DEECE66Dull;

static uint64_t rnd(void)
{
    uint64_t z = (g_rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* Point i of batch b of thread t in round r: unique ts per (t, r, b, i); value from (sid, ts). */
static int64_t point_ts(int t, int r, int b, int i)
{
    return T0 + ((((int64_t)r * NTHREADS + t) * MAXB + b) * BATCH + i) * 1000;
}

static uint32_t point_sid(int t, int i)
{
    return (uint32_t)(1 + t * SIDS_PER_THREAD + i % SIDS_PER_THREAD);
}

static double point_val(uint32_t sid, int64_t ts)
{
    return (double)((ts / 1000) % 100003) * 0.5 + sid;
}

/* Which (t, r, b, i) a ts belongs to; returns 0 if it is not a point ts at all. */
static int point_decode(int64_t ts, int *t, int *r, int *b, int *i)
{
    if (ts < T0 || (ts - T0) % 1000)
        return 0;
    int64_t k = (ts - T0) / 1000;
    *i = (int)(k % BATCH);
    k /= BATCH;
    *b = (int)(k % MAXB);
    k /= MAXB;
    *t = (int)(k % NTHREADS);
    *r = (int)(k / NTHREADS);
    return 1;
}

struct round_state {
    struct store *s;
    int round;
    int stop; /* atomic */
    int attempted[NTHREADS];             /* batches store_write was called for */
    unsigned char acked[NTHREADS][MAXB]; /* store_write returned 0 */
};

struct worker {
    struct round_state *rs;
    int t;
};

static void *writer_main(void *arg)
{
    struct worker *w = arg;
    struct round_state *rs = w->rs;
    for (int b = 0; b < MAXB && !__atomic_load_n(&rs->stop, __ATOMIC_RELAXED); b++) {
        struct store_point p[BATCH];
        for (int i = 0; i < BATCH; i++) {
            memset(&p[i], 0, sizeof(p[i]));
            p[i].sid = point_sid(w->t, i);
            p[i].ts = point_ts(w->t, rs->round, b, i);
            p[i].v.f = point_val(p[i].sid, p[i].ts);
        }
        __atomic_store_n(&rs->attempted[w->t], b + 1, __ATOMIC_SEQ_CST);
        if (store_write(rs->s, p, BATCH) == 0)
            rs->acked[w->t][b] = 1;
    }
    return NULL;
}

static void *maint_main(void *arg)
{
    struct round_state *rs = arg;
    while (!__atomic_load_n(&rs->stop, __ATOMIC_RELAXED)) {
        store_checkpoint(rs->s);
        store_compact(rs->s);
        sleep_us(500);
    }
    return NULL;
}

/* Over all rounds so far. */
static int g_attempted[ROUNDS][NTHREADS];
static unsigned char g_acked[ROUNDS][NTHREADS][MAXB];

static struct store *open_recover(const char *dir, struct io_vfs *vfs)
{
    struct store_opts o = {.vfs = vfs,
                           .sync = WAL_SYNC_ALWAYS,
                           .head_chunk_points = 8,
                           .partition_ms = 3600000,
                           .checkpoint_wal_bytes = 1 << 20};
    struct store *s = NULL;
    if (store_open(dir, &o, &s) != 0)
        return NULL;
    for (int t = 0; t < NTHREADS; t++) {
        for (int k = 0; k < SIDS_PER_THREAD; k++)
            store_series_add(s, point_sid(t, k), (uint32_t)t, VT_F64);
    }
    struct wal_replay_report rep;
    int rc = store_recover(s, &rep);
    if (rc) {
        printf("  recover: %s\n", vg_strerror(rc));
        store_abandon(s);
        return NULL;
    }
    return s;
}

/* Check the store against everything attempted / acknowledged in rounds [0, nrounds). */
static int verify(struct store *s, int nrounds)
{
    int bad = 0;
    static unsigned char seen[ROUNDS][NTHREADS][MAXB][BATCH];
    memset(seen, 0, sizeof(seen));
    struct store_points pts;
    store_points_init(&pts);
    for (int t = 0; t < NTHREADS; t++) {
        for (int k = 0; k < SIDS_PER_THREAD; k++) {
            uint32_t sid = point_sid(t, k);
            if (store_read(s, sid, INT64_MIN, INT64_MAX, 0, &pts) != 0) {
                bad++;
                continue;
            }
            for (uint32_t j = 0; j < pts.n; j++) {
                int pt, pr, pb, pi;
                if (!point_decode(pts.ts[j], &pt, &pr, &pb, &pi) || pt != t || pr >= nrounds ||
                    pb >= g_attempted[pr][pt] || point_sid(pt, pi) != sid ||
                    pts.v[j].f != point_val(sid, pts.ts[j])) {
                    if (bad++ < 5)
                        printf("  garbage point sid %u ts %lld v %g\n", sid,
                               (long long)pts.ts[j], pts.v[j].f);
                    continue;
                }
                seen[pr][pt][pb][pi] = 1;
            }
        }
    }
    store_points_release(&pts);
    for (int r = 0; r < nrounds; r++)
        for (int t = 0; t < NTHREADS; t++)
            for (int b = 0; b < MAXB; b++) {
                if (!g_acked[r][t][b])
                    continue;
                for (int i = 0; i < BATCH; i++) {
                    if (!seen[r][t][b][i] && bad++ < 5)
                        printf("  lost acked point round %d thread %d batch %d #%d\n", r, t, b,
                               i);
                }
            }
    return bad;
}

static void test_crash_rounds(void)
{
    char *dir = test_tmpdir("crash");
    struct io_vfs *vfs = io_fault_new(12345);
    REQUIRE(vfs);
    uint64_t acked_total = 0;
    for (int r = 0; r < ROUNDS; r++) {
        struct store *s = open_recover(dir, vfs);
        REQUIRE(s);
        int bad = verify(s, r);
        CHECK_EQ_INT(bad, 0);
        if (bad)
            break;
        struct round_state rs;
        memset(&rs, 0, sizeof(rs));
        rs.s = s;
        rs.round = r;
        pthread_t th[NTHREADS + 1];
        struct worker w[NTHREADS];
        for (int t = 0; t < NTHREADS; t++) {
            w[t].rs = &rs;
            w[t].t = t;
            pthread_create(&th[t], NULL, writer_main, &w[t]);
        }
        pthread_create(&th[NTHREADS], NULL, maint_main, &rs);
        sleep_us((long)(rnd() % 8000));
        io_fault_crash(vfs, IO_CRASH_RANDOM);
        __atomic_store_n(&rs.stop, 1, __ATOMIC_RELAXED);
        for (int t = 0; t <= NTHREADS; t++)
            pthread_join(th[t], NULL);
        store_abandon(s);
        for (int t = 0; t < NTHREADS; t++) {
            g_attempted[r][t] = rs.attempted[t];
            for (int b = 0; b < MAXB; b++) {
                g_acked[r][t][b] = rs.acked[t][b];
                acked_total += rs.acked[t][b];
            }
        }
    }
    struct store *s = open_recover(dir, vfs);
    REQUIRE(s);
    CHECK_EQ_INT(verify(s, ROUNDS), 0);
    store_close(s);
    printf("  %llu acknowledged batches over %d crashes\n", (unsigned long long)acked_total,
           ROUNDS);
    CHECK(acked_total > ROUNDS);
    io_fault_free(vfs);
    test_rmrf(dir);
    free(dir);
}

static void test_disk_full(void)
{
    char *dir = test_tmpdir("full");
    struct io_vfs *vfs = io_fault_new(7);
    REQUIRE(vfs);
    memset(g_attempted, 0, sizeof(g_attempted));
    memset(g_acked, 0, sizeof(g_acked));
    struct store *s = open_recover(dir, vfs);
    REQUIRE(s);
    struct store_point p[BATCH];
    int b = 0;
    for (; b < 20; b++) {
        for (int i = 0; i < BATCH; i++) {
            memset(&p[i], 0, sizeof(p[i]));
            p[i].sid = point_sid(0, i);
            p[i].ts = point_ts(0, 0, b, i);
            p[i].v.f = point_val(p[i].sid, p[i].ts);
        }
        g_attempted[0][0] = b + 1;
        int rc = store_write(s, p, BATCH);
        CHECK_EQ_INT(rc, 0);
        g_acked[0][0][b] = rc == 0;
        if (b == 10)
            CHECK_EQ_INT(store_checkpoint(s), 0);
    }
    io_fault_set_full(vfs, 1);
    for (int k = 0; k < 3; k++, b++) {
        for (int i = 0; i < BATCH; i++) {
            p[i].ts = point_ts(0, 0, b, i);
            p[i].v.f = point_val(p[i].sid, p[i].ts);
        }
        g_attempted[0][0] = b + 1;
        CHECK_EQ_INT(store_write(s, p, BATCH), VG_EFULL);
    }
    CHECK(store_checkpoint(s) != 0);
    struct store_stats st;
    store_get_stats(s, &st);
    CHECK_EQ_INT(st.write_error, VG_EFULL);
    CHECK_EQ_INT(verify(s, 1), 0); /* reads still work */
    io_fault_set_full(vfs, 0);
    for (int k = 0; k < 5; k++, b++) {
        for (int i = 0; i < BATCH; i++) {
            p[i].ts = point_ts(0, 0, b, i);
            p[i].v.f = point_val(p[i].sid, p[i].ts);
        }
        g_attempted[0][0] = b + 1;
        int rc = store_write(s, p, BATCH);
        CHECK_EQ_INT(rc, 0);
        g_acked[0][0][b] = rc == 0;
    }
    store_get_stats(s, &st);
    CHECK_EQ_INT(st.write_error, 0);
    CHECK_EQ_INT(store_checkpoint(s), 0);
    CHECK_EQ_INT(verify(s, 1), 0);
    store_close(s);
    s = open_recover(dir, vfs);
    REQUIRE(s);
    CHECK_EQ_INT(verify(s, 1), 0);
    /* Crash right after: nothing acknowledged may be lost. */
    io_fault_crash(vfs, IO_CRASH_RANDOM);
    store_abandon(s);
    s = open_recover(dir, vfs);
    REQUIRE(s);
    CHECK_EQ_INT(verify(s, 1), 0);
    store_close(s);
    io_fault_free(vfs);
    test_rmrf(dir);
    free(dir);
}

int main(void)
{
    TEST_BEGIN("crash_test");
    if (!getenv("TMPDIR") && access("/dev/shm", W_OK) == 0)
        setenv("TMPDIR", "/dev/shm", 1);
    TEST_RUN(test_disk_full);
    memset(g_attempted, 0, sizeof(g_attempted));
    memset(g_acked, 0, sizeof(g_acked));
    TEST_RUN(test_crash_rounds);
    return TEST_END();
}
