/*
** store/wal_test.c: unit tests of store/wal.c: round trips, group commit from several threads,
** torn tails at every byte, bit flips, crashes through io_fault (drop/keep/random), a full disk,
** EIO at every nth operation, rotation and truncation, the batch policy, committed fixtures.
*/
#include "store/wal.h"

#include "core/crc32c.h"
#include "core/test.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HDR 24
#define MAXREC 4096

/* ---- helpers ------------------------------------------------------------------------------- */

struct seen {
    size_t n, cap;
    uint64_t *lsn;
    size_t *len;
    uint8_t **data;
};

static int seen_cb(void *arg, uint64_t lsn, const void *rec, size_t len)
{
    struct seen *s = arg;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->lsn = realloc(s->lsn, s->cap * sizeof(*s->lsn));
        s->len = realloc(s->len, s->cap * sizeof(*s->len));
        s->data = realloc(s->data, s->cap * sizeof(*s->data));
    }
    s->lsn[s->n] = lsn;
    s->len[s->n] = len;
    s->data[s->n] = malloc(len ? len : 1);
    if (len)
        memcpy(s->data[s->n], rec, len);
    s->n++;
    return 0;
}

static void seen_free(struct seen *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->data[i]);
    free(s->lsn);
    free(s->len);
    free(s->data);
    memset(s, 0, sizeof(*s));
}

/* Record i: a 12-byte header (magic, index, length) then bytes derived from i. */
static size_t make_rec(uint8_t *buf, uint32_t i, size_t len)
{
    if (len < 12)
        len = 12;
    memcpy(buf, "REC!", 4);
    memcpy(buf + 4, &i, 4);
    uint32_t l32 = (uint32_t)len;
    memcpy(buf + 8, &l32, 4);
    for (size_t k = 12; k < len; k++)
        buf[k] = (uint8_t)(i * 131 + k * 7);
    return len;
}

/* Index of a record made by make_rec, or -1 if the bytes are not exactly such a record. */
static long rec_index(const uint8_t *buf, size_t len)
{
    uint32_t i, l32;
    if (len < 12 || memcmp(buf, "REC!", 4) != 0)
        return -1;
    memcpy(&i, buf + 4, 4);
    memcpy(&l32, buf + 8, 4);
    if (l32 != len)
        return -1;
    for (size_t k = 12; k < len; k++)
        if (buf[k] != (uint8_t)(i * 131 + k * 7))
            return -1;
    return (long)i;
}

static int replay_dir(struct io_vfs *vfs, const char *dir, const struct wal_opts *o,
                      struct seen *s, struct wal_replay_report *rep)
{
    struct wal *w = NULL;
    int rc = wal_open(vfs, dir, o, &w);
    if (rc)
        return rc;
    rc = wal_replay(w, seen_cb, s, rep);
    wal_close(w);
    return rc;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    long n = file_size(path);
    uint8_t *b;
    if (f == NULL || n < 0) {
        if (f)
            fclose(f);
        return NULL;
    }
    b = malloc((size_t)n + 1);
    *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

static int write_file(const char *path, const void *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t n = fwrite(p, 1, len, f);
    fclose(f);
    return n == len ? 0 : -1;
}

static const char *seg0(const char *dir, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/0000000000000000.wal", dir);
    return buf;
}

/* Write n records of the sizes given by size_of(i) and sync after each; returns end LSN. */
static uint64_t fill(struct wal *w, uint32_t from, uint32_t n, size_t (*size_of)(uint32_t),
                     uint64_t *lsns)
{
    uint8_t *buf = malloc(400000);
    uint64_t lsn = 0;
    for (uint32_t i = from; i < from + n; i++) {
        size_t len = make_rec(buf, i, size_of(i));
        CHECK_EQ_INT(wal_append(w, buf, len, &lsn), 0);
        if (lsns)
            lsns[i - from] = lsn;
    }
    CHECK_EQ_INT(wal_sync(w, lsn), 0);
    free(buf);
    return lsn;
}

static size_t size_small(uint32_t i)
{
    return 12 + (i * 7) % 40;
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_roundtrip_sizes(void)
{
    static const size_t sizes[] = {0, 1, 2, 3, 7, 8, 9, 63, 64, 65, 1000, 4095, 4096, 4097,
                                   65536, 100000, 250000, 262144, 300000};
    char *dir = test_tmpdir("wal-rt");
    struct wal *w = NULL;
    uint8_t *buf = malloc(300000);
    uint64_t lsns[VG_ARRAY_LEN(sizes)], lsn = 0, prev = 0;
    struct seen s = {0};
    struct wal_replay_report rep;

    REQUIRE(wal_open(io_posix(), dir, NULL, &w) == 0);
    CHECK_EQ_INT(wal_replay(w, seen_cb, &s, &rep), 0);
    CHECK_EQ_INT(rep.records, 0);
    CHECK_EQ_INT(rep.damaged, 0);
    for (size_t i = 0; i < VG_ARRAY_LEN(sizes); i++) {
        for (size_t k = 0; k < sizes[i]; k++)
            buf[k] = (uint8_t)(i + k * 13);
        CHECK_EQ_INT(wal_append(w, buf, sizes[i], &lsn), 0);
        CHECK(lsn == prev + 8 + sizes[i]);
        prev = lsns[i] = lsn;
        if (i % 3 == 0)
            CHECK_EQ_INT(wal_sync(w, lsn), 0);
    }
    CHECK_EQ_INT(wal_sync(w, lsn), 0);
    CHECK_EQ_INT(wal_sync(w, 0), 0);
    struct wal_stats st;
    wal_get_stats(w, &st);
    CHECK_EQ_INT(st.records, VG_ARRAY_LEN(sizes));
    CHECK(st.syncs >= 1);
    CHECK(st.sync_hist[11] == st.syncs);
    CHECK_EQ_INT(st.segments, 1);
    CHECK_EQ_INT(st.size_on_disk, HDR + lsn);
    wal_close(w);

    char p[600];
    CHECK_EQ_INT(file_size(seg0(dir, p, sizeof(p))), (long)(HDR + lsn));
    CHECK_EQ_INT(replay_dir(io_posix(), dir, NULL, &s, &rep), 0);
    CHECK_EQ_INT(rep.damaged, 0);
    CHECK_EQ_INT(rep.records, VG_ARRAY_LEN(sizes));
    CHECK_EQ_INT(rep.bytes, lsn);
    REQUIRE(s.n == VG_ARRAY_LEN(sizes));
    for (size_t i = 0; i < s.n; i++) {
        CHECK_EQ_INT(s.len[i], sizes[i]);
        CHECK(s.lsn[i] == lsns[i]);
        for (size_t k = 0; k < sizes[i]; k++) {
            if (s.data[i][k] != (uint8_t)(i + k * 13)) {
                CHECK(!"payload differs");
                break;
            }
        }
    }
    seen_free(&s);
    free(buf);
    test_rmrf(dir);
    free(dir);
}

/* Appends continue after the last record, in the same segment, across reopen. */
static void test_reopen_append(void)
{
    char *dir = test_tmpdir("wal-reopen");
    struct wal *w = NULL;
    struct seen s = {0};
    struct wal_replay_report rep;
    uint64_t end1, end2;

    REQUIRE(wal_open(io_posix(), dir, NULL, &w) == 0);
    end1 = fill(w, 0, 10, size_small, NULL); /* no replay: appends recover lazily */
    wal_close(w);
    REQUIRE(wal_open(io_posix(), dir, NULL, &w) == 0);
    CHECK_EQ_INT(wal_replay(w, seen_cb, &s, &rep), 0);
    CHECK_EQ_INT(s.n, 10);
    CHECK_EQ_INT(wal_replay(w, seen_cb, &s, &rep), VG_EINVAL); /* only once */
    end2 = fill(w, 10, 5, size_small, NULL);
    CHECK(end2 > end1);
    wal_close(w);
    /* Reopen without replay and append: must not clobber the existing records. */
    REQUIRE(wal_open(io_posix(), dir, NULL, &w) == 0);
    fill(w, 15, 5, size_small, NULL);
    wal_close(w);
    seen_free(&s);
    CHECK_EQ_INT(replay_dir(io_posix(), dir, NULL, &s, &rep), 0);
    CHECK_EQ_INT(rep.damaged, 0);
    REQUIRE(s.n == 20);
    for (size_t i = 0; i < s.n; i++)
        CHECK_EQ_INT(rec_index(s.data[i], s.len[i]), (long)i);
    CHECK(s.lsn[9] == end1 && s.lsn[14] == end2);
    seen_free(&s);
    test_rmrf(dir);
    free(dir);
}

static void test_empty_and_missing_dir(void)
{
    char *dir = test_tmpdir("wal-empty");
    char sub[600];
    struct seen s = {0};
    struct wal_replay_report rep;
    struct wal *w = NULL;

    snprintf(sub, sizeof(sub), "%s/not/yet", dir);
    CHECK(wal_open(io_posix(), sub, NULL, &w) != 0); /* parent missing: an error, not a crash */
    snprintf(sub, sizeof(sub), "%s/wal", dir);
    CHECK_EQ_INT(replay_dir(io_posix(), sub, NULL, &s, &rep), 0); /* created */
    CHECK_EQ_INT(rep.records, 0);
    CHECK_EQ_INT(rep.damaged, 0);
    /* Foreign files are ignored. */
    char junk[700];
    snprintf(junk, sizeof(junk), "%s/README", sub);
    CHECK_EQ_INT(write_file(junk, "x", 1), 0);
    CHECK_EQ_INT(replay_dir(io_posix(), sub, NULL, &s, &rep), 0);
    CHECK_EQ_INT(s.n, 0);
    /* Too big records are refused. */
    struct wal_opts o = {.max_record = 100};
    uint8_t buf[200] = {0};
    uint64_t lsn = 0;
    REQUIRE(wal_open(io_posix(), sub, &o, &w) == 0);
    CHECK_EQ_INT(wal_append(w, buf, 101, &lsn), VG_ETOOBIG);
    CHECK_EQ_INT(wal_append(w, buf, 100, &lsn), 0);
    CHECK_EQ_INT(lsn, 108);
    CHECK_EQ_INT(wal_sync(w, UINT64_MAX), 0);
    wal_close(w);
    test_rmrf(dir);
    free(dir);
}

struct gc_arg {
    struct wal *w;
    uint32_t tid, n;
    int errors;
};

static void *gc_thread(void *p)
{
    struct gc_arg *a = p;
    uint8_t buf[600];
    for (uint32_t k = 0; k < a->n; k++) {
        uint32_t id = a->tid << 16 | k;
        size_t len = make_rec(buf, id, 20 + (id * 11) % 500);
        uint64_t lsn;
        if (wal_append(a->w, buf, len, &lsn) != 0 || wal_sync(a->w, lsn) != 0)
            a->errors++;
    }
    return NULL;
}

static void test_group_commit_threads(void)
{
    enum { T = 4, N = 300 };
    char *dir = test_tmpdir("wal-gc");
    struct wal *w = NULL;
    struct wal_opts o = {.segment_bytes = 64 * 1024};
    pthread_t th[T];
    struct gc_arg args[T];
    struct seen s = {0};
    struct wal_replay_report rep;
    struct wal_stats st;

    REQUIRE(wal_open(io_posix(), dir, &o, &w) == 0);
    CHECK_EQ_INT(wal_replay(w, NULL, NULL, &rep), 0);
    for (int t = 0; t < T; t++) {
        args[t] = (struct gc_arg){w, (uint32_t)t, N, 0};
        pthread_create(&th[t], NULL, gc_thread, &args[t]);
    }
    for (int t = 0; t < T; t++) {
        pthread_join(th[t], NULL);
        CHECK_EQ_INT(args[t].errors, 0);
    }
    wal_get_stats(w, &st);
    CHECK_EQ_INT(st.records, T * N);
    CHECK(st.segments > 1);
    wal_close(w);

    CHECK_EQ_INT(replay_dir(io_posix(), dir, &o, &s, &rep), 0);
    CHECK_EQ_INT(rep.damaged, 0);
    REQUIRE(s.n == T * N);
    uint32_t next[T] = {0};
    for (size_t i = 0; i < s.n; i++) {
        long id = rec_index(s.data[i], s.len[i]);
        REQUIRE(id >= 0);
        uint32_t t = (uint32_t)id >> 16, k = (uint32_t)id & 0xffff;
        REQUIRE(t < T);
        CHECK_EQ_INT(k, next[t]); /* each thread's records exactly once, in its order */
        next[t] = k + 1;
        if (i > 0)
            CHECK(s.lsn[i] > s.lsn[i - 1]);
    }
    for (int t = 0; t < T; t++)
        CHECK_EQ_INT(next[t], N);
    seen_free(&s);
    test_rmrf(dir);
    free(dir);
}

/* Cut the only segment at every byte offset inside its last 3 records. */
static void test_truncate_every_offset(void)
{
    enum { N = 12 };
    char *src = test_tmpdir("wal-cut-src");
    char *dir = test_tmpdir("wal-cut");
    char p[600], q[600];
    struct wal *w = NULL;
    uint64_t lsns[N];
    uint8_t *orig;
    size_t olen = 0;

    REQUIRE(wal_open(io_posix(), src, NULL, &w) == 0);
    fill(w, 0, N, size_small, lsns);
    wal_close(w);
    orig = read_file(seg0(src, p, sizeof(p)), &olen);
    REQUIRE(orig != NULL && olen == HDR + lsns[N - 1]);

    uint64_t from = HDR + lsns[N - 4]; /* start of record N-3 */
    for (uint64_t cut = from; cut < olen; cut++) {
        struct seen s = {0};
        struct wal_replay_report rep;
        size_t complete = 0;
        while (complete < N && HDR + lsns[complete] <= cut)
            complete++;
        seg0(dir, q, sizeof(q));
        REQUIRE(write_file(q, orig, (size_t)cut) == 0);
        CHECK_EQ_INT(replay_dir(io_posix(), dir, NULL, &s, &rep), 0);
        CHECK_EQ_INT(s.n, complete);
        CHECK_EQ_INT(rep.records, complete);
        uint64_t good = complete ? HDR + lsns[complete - 1] : HDR;
        CHECK_EQ_INT(rep.cut_bytes, cut - good);
        CHECK_EQ_INT(rep.damaged, cut != good);
        CHECK_EQ_INT(file_size(q), (long)good);
        if (cut != good && strstr(rep.detail, "segment '0000000000000000.wal' offset ") == NULL)
            CHECK(!"detail names segment and offset");
        for (size_t i = 0; i < s.n; i++)
            CHECK_EQ_INT(rec_index(s.data[i], s.len[i]), (long)i);
        seen_free(&s);
        /* Every few cuts: appends continue after the last good record. */
        if (cut % 17 == 0) {
            uint8_t b[64];
            uint64_t lsn;
            REQUIRE(wal_open(io_posix(), dir, NULL, &w) == 0);
            CHECK_EQ_INT(wal_replay(w, NULL, NULL, &rep), 0);
            CHECK_EQ_INT(rep.damaged, 0);
            size_t len = make_rec(b, 999, 30);
            CHECK_EQ_INT(wal_append(w, b, len, &lsn), 0);
            CHECK_EQ_INT(lsn, good - HDR + 8 + len);
            CHECK_EQ_INT(wal_sync(w, lsn), 0);
            wal_close(w);
            CHECK_EQ_INT(replay_dir(io_posix(), dir, NULL, &s, &rep), 0);
            CHECK_EQ_INT(s.n, complete + 1);
            if (s.n == complete + 1)
                CHECK_EQ_INT(rec_index(s.data[complete], s.len[complete]), 999);
            seen_free(&s);
        }
    }
    free(orig);
    test_rmrf(src);
    test_rmrf(dir);
    free(src);
    free(dir);
}

/* Flip every bit of the last 2 records: detected, cut there, earlier records kept. */
static void test_bit_flips(void)
{
    enum { N = 8 };
    char *src = test_tmpdir("wal-flip-src");
    char *dir = test_tmpdir("wal-flip");
    char p[600], q[600];
    struct wal *w = NULL;
    uint64_t lsns[N];
    uint8_t *orig;
    size_t olen = 0;

    REQUIRE(wal_open(io_posix(), src, NULL, &w) == 0);
    fill(w, 0, N, size_small, lsns);
    wal_close(w);
    orig = read_file(seg0(src, p, sizeof(p)), &olen);
    REQUIRE(orig != NULL);
    seg0(dir, q, sizeof(q));
    for (uint64_t byte = HDR + lsns[N - 3]; byte < olen; byte++) {
        for (int bit = 0; bit < 8; bit++) {
            struct seen s = {0};
            struct wal_replay_report rep;
            size_t victim = 0;
            while (HDR + lsns[victim] <= byte)
                victim++;
            orig[byte] ^= (uint8_t)(1u << bit);
            REQUIRE(write_file(q, orig, olen) == 0);
            orig[byte] ^= (uint8_t)(1u << bit);
            CHECK_EQ_INT(replay_dir(io_posix(), dir, NULL, &s, &rep), 0);
            CHECK_EQ_INT(s.n, victim);
            CHECK_EQ_INT(rep.damaged, 1);
            uint64_t good = victim ? HDR + lsns[victim - 1] : HDR;
            CHECK_EQ_INT(file_size(q), (long)good);
            CHECK_EQ_INT(rep.cut_bytes, olen - good);
            seen_free(&s);
        }
    }
    /* A flipped header bit cuts the whole segment (nothing before it to keep). */
    for (int b = 0; b < HDR * 8; b += 5) {
        struct seen s = {0};
        struct wal_replay_report rep;
        orig[b / 8] ^= (uint8_t)(1u << (b % 8));
        REQUIRE(write_file(q, orig, olen) == 0);
        orig[b / 8] ^= (uint8_t)(1u << (b % 8));
        CHECK_EQ_INT(replay_dir(io_posix(), dir, NULL, &s, &rep), 0);
        CHECK_EQ_INT(s.n, 0);
        CHECK_EQ_INT(rep.damaged, 1);
        CHECK(strstr(rep.detail, "bad segment header") != NULL);
        CHECK_EQ_INT(file_size(q), -1);
        seen_free(&s);
    }
    free(orig);
    test_rmrf(src);
    test_rmrf(dir);
    free(src);
    free(dir);
}

/* Damage in a middle segment: later segments are removed too; appends go on from the cut. */
static void test_cut_removes_later_segments(void)
{
    char *dir = test_tmpdir("wal-multi");
    struct wal_opts o = {.segment_bytes = 512};
    struct wal *w = NULL;
    struct seen s = {0};
    struct wal_replay_report rep;
    uint64_t lsns[60];
    struct wal_stats st;
    char p[600];

    REQUIRE(wal_open(io_posix(), dir, &o, &w) == 0);
    fill(w, 0, 60, size_small, lsns);
    wal_get_stats(w, &st);
    wal_close(w);
    REQUIRE(st.segments >= 4);
    /* Corrupt the last byte of the second segment. The second segment's name is the LSN right
    ** after the first segment's last record; find it by scanning the record ends. */
    uint64_t second = 0;
    for (int i = 0; i < 60 && second == 0; i++) {
        snprintf(p, sizeof(p), "%s/%016" PRIx64 ".wal", dir, lsns[i]);
        if (access(p, F_OK) == 0)
            second = lsns[i];
    }
    REQUIRE(second != 0);
    size_t len = 0;
    uint8_t *b = read_file(p, &len);
    REQUIRE(b != NULL && len > HDR);
    b[len - 1] ^= 0x40;
    REQUIRE(write_file(p, b, len) == 0);
    free(b);
    size_t expect = 0;
    while (lsns[expect] < second + (len - HDR))
        expect++; /* records that end before the damaged last record of segment 2 */
    CHECK_EQ_INT(replay_dir(io_posix(), dir, &o, &s, &rep), 0);
    CHECK_EQ_INT(s.n, expect);
    CHECK_EQ_INT(rep.damaged, 1);
    CHECK(strstr(rep.detail, "crc mismatch") != NULL);
    seen_free(&s);
    /* Reopen: only two segments left, appends continue after the last good record. */
    REQUIRE(wal_open(io_posix(), dir, &o, &w) == 0);
    CHECK_EQ_INT(wal_replay(w, seen_cb, &s, &rep), 0);
    CHECK_EQ_INT(rep.damaged, 0);
    wal_get_stats(w, &st);
    CHECK_EQ_INT(st.segments, 2);
    fill(w, 500, 3, size_small, NULL);
    wal_close(w);
    seen_free(&s);
    CHECK_EQ_INT(replay_dir(io_posix(), dir, &o, &s, &rep), 0);
    CHECK_EQ_INT(rep.damaged, 0);
    REQUIRE(s.n == expect + 3);
    CHECK_EQ_INT(rec_index(s.data[expect], s.len[expect]), 500);
    seen_free(&s);
    test_rmrf(dir);
    free(dir);
}

/* Crash through io_fault: every record acknowledged by wal_sync survives; nothing else but
** appended records (as a prefix of the append order) appears. */
static void crash_round(enum io_crash_mode mode, uint64_t seed, uint64_t seg_bytes)
{
    enum { N = 120 };
    char *dir = test_tmpdir("wal-crash");
    struct io_vfs *vfs = io_fault_new(seed);
    struct wal_opts o = {.segment_bytes = seg_bytes};
    struct wal *w = NULL;
    struct seen s = {0};
    struct wal_replay_report rep;
    uint8_t buf[600];
    size_t acked = 0;
    uint64_t lsn;

    REQUIRE(wal_open(vfs, dir, &o, &w) == 0);
    CHECK_EQ_INT(wal_replay(w, NULL, NULL, &rep), 0);
    for (uint32_t i = 0; i < N; i++) {
        size_t len = make_rec(buf, i, 12 + (i * 37 + seed) % 300);
        CHECK_EQ_INT(wal_append(w, buf, len, &lsn), 0);
        if (i % 4 == 3 && i < N - 10) {
            CHECK_EQ_INT(wal_sync(w, lsn), 0);
            acked = i + 1;
        }
    }
    io_fault_crash(vfs, mode);
    wal_close(w); /* its final sync fails on the dead file: must not hang or crash */

    CHECK_EQ_INT(replay_dir(vfs, dir, &o, &s, &rep), 0);
    CHECK(s.n >= acked);
    for (size_t i = 0; i < s.n; i++)
        CHECK_EQ_INT(rec_index(s.data[i], s.len[i]), (long)i);
    if (mode == IO_CRASH_DROP)
        CHECK_EQ_INT(s.n, acked);
    seen_free(&s);
    /* Recovery is idempotent and appends work after it. */
    REQUIRE(wal_open(vfs, dir, &o, &w) == 0);
    CHECK_EQ_INT(wal_replay(w, seen_cb, &s, &rep), 0);
    CHECK_EQ_INT(rep.damaged, 0);
    size_t before = s.n;
    fill(w, (uint32_t)before, 3, size_small, NULL);
    wal_close(w);
    seen_free(&s);
    CHECK_EQ_INT(replay_dir(vfs, dir, &o, &s, &rep), 0);
    CHECK_EQ_INT(s.n, before + 3);
    for (size_t i = 0; i < s.n; i++)
        CHECK_EQ_INT(rec_index(s.data[i], s.len[i]), (long)i);
    seen_free(&s);
    io_fault_free(vfs);
    test_rmrf(dir);
    free(dir);
}

static void test_crash_drop(void)
{
    crash_round(IO_CRASH_DROP, 1, 0);
    crash_round(IO_CRASH_DROP, 2, 2048);
}

static void test_crash_keep(void)
{
    crash_round(IO_CRASH_KEEP, 3, 0);
    crash_round(IO_CRASH_KEEP, 4, 2048);
}

static void test_crash_random(void)
{
    for (uint64_t seed = 10; seed < 40; seed++)
        crash_round(IO_CRASH_RANDOM, seed, seed % 2 ? 1500 : 0);
}

/* Unsynced but written bytes (back-pressure / batch) are at the mercy of the crash mode. */
static void test_crash_unsynced_written(void)
{
    char *dir = test_tmpdir("wal-crash-w");
    struct io_vfs *vfs = io_fault_new(7);
    struct wal_opts o = {.policy = WAL_SYNC_BATCH, .batch_ms = 60000};
    struct wal *w = NULL;
    struct seen s = {0};
    struct wal_replay_report rep;
    uint8_t buf[64];
    uint64_t lsn;

    REQUIRE(wal_open(vfs, dir, &o, &w) == 0);
    CHECK_EQ_INT(wal_replay(w, NULL, NULL, &rep), 0);
    uint64_t syncs = 0;
    for (uint32_t i = 0; i < 5; i++) {
        size_t len = make_rec(buf, i, 40);
        CHECK_EQ_INT(wal_append(w, buf, len, &lsn), 0);
        if (i == 0) {
            CHECK_EQ_INT(wal_sync(w, lsn), 0); /* creates the segment (header is synced) */
            syncs = io_fault_syncs(vfs);
        }
    }
    CHECK_EQ_INT(wal_sync(w, lsn), 0); /* batch: written, not synced */
    CHECK_EQ_INT(io_fault_syncs(vfs), syncs);
    io_fault_crash(vfs, IO_CRASH_KEEP);
    wal_close(w);
    CHECK_EQ_INT(replay_dir(vfs, dir, NULL, &s, &rep), 0);
    CHECK_EQ_INT(s.n, 5); /* kill -9 semantics: the OS had them */
    seen_free(&s);
    io_fault_free(vfs);
    test_rmrf(dir);
    free(dir);
}

static void test_enospc(void)
{
    char *dir = test_tmpdir("wal-full");
    struct io_vfs *vfs = io_fault_new(1);
    struct wal *w = NULL;
    struct seen s = {0};
    struct wal_replay_report rep;
    uint8_t buf[300];
    uint64_t a, b, b2, c;
    size_t len;

    REQUIRE(wal_open(vfs, dir, NULL, &w) == 0);
    CHECK_EQ_INT(wal_replay(w, NULL, NULL, &rep), 0);
    len = make_rec(buf, 0, 100);
    CHECK_EQ_INT(wal_append(w, buf, len, &a), 0);
    CHECK_EQ_INT(wal_sync(w, a), 0);
    io_fault_set_full(vfs, 1);
    len = make_rec(buf, 1, 200);
    CHECK_EQ_INT(wal_append(w, buf, len, &b), 0);
    len = make_rec(buf, 2, 50);
    CHECK_EQ_INT(wal_append(w, buf, len, &b2), 0);
    CHECK_EQ_INT(wal_sync(w, b), VG_EFULL);
    CHECK_EQ_INT(wal_sync(w, a), 0); /* already durable */
    len = make_rec(buf, 99, 50);
    CHECK_EQ_INT(wal_append(w, buf, len, &c), VG_EFULL); /* sticky: nothing grows */
    CHECK_EQ_INT(wal_sync(w, b2), VG_EFULL);              /* retried, still full */
    CHECK_EQ_INT(wal_append(w, buf, len, &c), VG_EFULL);
    io_fault_set_full(vfs, 0);
    CHECK_EQ_INT(wal_sync(w, b), 0); /* heals: writes b and b2 */
    len = make_rec(buf, 3, 70);
    CHECK_EQ_INT(wal_append(w, buf, len, &c), 0);
    CHECK(c > b2);
    CHECK_EQ_INT(wal_sync(w, c), 0);
    wal_close(w);
    CHECK_EQ_INT(replay_dir(vfs, dir, NULL, &s, &rep), 0);
    CHECK_EQ_INT(rep.damaged, 0);
    REQUIRE(s.n == 4);
    for (size_t i = 0; i < s.n; i++)
        CHECK_EQ_INT(rec_index(s.data[i], s.len[i]), (long)i);
    CHECK(s.lsn[1] == b && s.lsn[2] == b2 && s.lsn[3] == c);
    seen_free(&s);
    io_fault_free(vfs);
    test_rmrf(dir);
    free(dir);
}

/* After a failed round, the retry first truncates the segment back to the last good offset:
** the failed bytes are gone from the file even if the retry itself fails. */
static void test_truncate_back(void)
{
    char *dir = test_tmpdir("wal-tback");
    struct io_vfs *vfs = io_fault_new(9);
    struct wal *w = NULL;
    struct seen s = {0};
    struct wal_replay_report rep;
    uint8_t buf[100];
    uint64_t a, b;
    size_t len;

    REQUIRE(wal_open(vfs, dir, NULL, &w) == 0);
    CHECK_EQ_INT(wal_replay(w, NULL, NULL, &rep), 0);
    len = make_rec(buf, 0, 40);
    CHECK_EQ_INT(wal_append(w, buf, len, &a), 0);
    CHECK_EQ_INT(wal_sync(w, a), 0);
    len = make_rec(buf, 1, 40);
    CHECK_EQ_INT(wal_append(w, buf, len, &b), 0);
    io_fault_fail_nth(vfs, 2, VG_EIO); /* the pwrite works, the fdatasync fails */
    CHECK_EQ_INT(wal_sync(w, b), VG_EIO);
    io_fault_set_full(vfs, 1);
    CHECK_EQ_INT(wal_sync(w, b), VG_EFULL); /* truncated back, then the rewrite fails */
    io_fault_crash(vfs, IO_CRASH_KEEP);     /* whatever is still held reaches the disk */
    wal_close(w);
    io_fault_set_full(vfs, 0);
    CHECK_EQ_INT(replay_dir(vfs, dir, NULL, &s, &rep), 0);
    CHECK_EQ_INT(rep.damaged, 0);
    CHECK_EQ_INT(s.n, 1); /* record 1 was never acknowledged and its bytes were cut back */
    seen_free(&s);
    io_fault_free(vfs);
    test_rmrf(dir);
    free(dir);
}

/* Several threads waiting on one failing round all get the error; a retry heals. */
struct full_arg {
    struct wal *w;
    uint32_t id;
    int rc_sync;
    uint64_t lsn;
};

static void *full_thread(void *p)
{
    struct full_arg *a = p;
    uint8_t buf[100];
    size_t len = make_rec(buf, a->id, 60);
    if (wal_append(a->w, buf, len, &a->lsn) != 0) {
        a->rc_sync = 1;
        return NULL;
    }
    a->rc_sync = wal_sync(a->w, a->lsn);
    return NULL;
}

static void test_enospc_threads(void)
{
    char *dir = test_tmpdir("wal-full-t");
    struct io_vfs *vfs = io_fault_new(1);
    struct wal *w = NULL;
    struct seen s = {0};
    struct wal_replay_report rep;
    struct full_arg args[4];
    pthread_t th[4];

    REQUIRE(wal_open(vfs, dir, NULL, &w) == 0);
    CHECK_EQ_INT(wal_replay(w, NULL, NULL, &rep), 0);
    io_fault_set_full(vfs, 1);
    for (int t = 0; t < 4; t++) {
        args[t] = (struct full_arg){w, (uint32_t)t, 0, 0};
        pthread_create(&th[t], NULL, full_thread, &args[t]);
    }
    int failed = 0;
    for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        if (args[t].rc_sync == VG_EFULL || args[t].rc_sync == 1)
            failed++;
    }
    CHECK_EQ_INT(failed, 4);
    io_fault_set_full(vfs, 0);
    CHECK_EQ_INT(wal_sync(w, UINT64_MAX), 0);
    wal_close(w);
    CHECK_EQ_INT(replay_dir(vfs, dir, NULL, &s, &rep), 0);
    int appended = 0;
    for (int t = 0; t < 4; t++)
        appended += args[t].rc_sync == VG_EFULL;
    CHECK_EQ_INT(s.n, (size_t)appended); /* every accepted record exactly once */
    CHECK(appended >= 1);
    seen_free(&s);
    io_fault_free(vfs);
    test_rmrf(dir);
    free(dir);
}

/* Fail the nth pwrite/sync with EIO for every n a short workload reaches; keep retrying until
** the log heals, then check every record is there exactly once, in order. */
static void test_fail_nth_eio(void)
{
    for (uint64_t nth = 1; nth <= 40; nth++) {
        char *dir = test_tmpdir("wal-nth");
        struct io_vfs *vfs = io_fault_new(nth);
        struct wal_opts o = {.segment_bytes = 700};
        struct wal *w = NULL;
        struct seen s = {0};
        struct wal_replay_report rep;
        uint8_t buf[200];
        uint32_t next = 0;
        int failures = 0;

        REQUIRE(wal_open(vfs, dir, &o, &w) == 0);
        CHECK_EQ_INT(wal_replay(w, NULL, NULL, &rep), 0);
        io_fault_fail_nth(vfs, nth, VG_EIO);
        for (int round = 0; round < 12; round++) {
            uint64_t lsn = 0;
            for (int k = 0; k < 3; k++) {
                size_t len = make_rec(buf, next, 12 + (next * 29) % 150);
                int rc = wal_append(w, buf, len, &lsn);
                if (rc == 0)
                    next++;
                else
                    CHECK_EQ_INT(rc, VG_EIO);
            }
            int rc = wal_sync(w, UINT64_MAX);
            if (rc) {
                CHECK_EQ_INT(rc, VG_EIO);
                failures++;
            }
        }
        CHECK_EQ_INT(wal_sync(w, UINT64_MAX), 0);
        CHECK(failures <= 1);
        wal_close(w);
        CHECK_EQ_INT(replay_dir(vfs, dir, &o, &s, &rep), 0);
        CHECK_EQ_INT(rep.damaged, 0);
        CHECK_EQ_INT(s.n, next);
        for (size_t i = 0; i < s.n; i++)
            CHECK_EQ_INT(rec_index(s.data[i], s.len[i]), (long)i);
        seen_free(&s);
        io_fault_free(vfs);
        test_rmrf(dir);
        free(dir);
    }
}

static int count_segments(const char *dir)
{
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "ls '%s' | grep -c '\\.wal$'", dir);
    FILE *f = popen(cmd, "r");
    int n = -1;
    if (f) {
        if (fscanf(f, "%d", &n) != 1)
            n = -1;
        pclose(f);
    }
    return n;
}

static void test_rotation_truncate_before(void)
{
    char *dir = test_tmpdir("wal-rot");
    struct wal_opts o = {.segment_bytes = 1024};
    struct wal *w = NULL;
    struct seen s = {0};
    struct wal_replay_report rep;
    struct wal_stats st;
    uint64_t lsns[100], rot, rot2;

    REQUIRE(wal_open(io_posix(), dir, &o, &w) == 0);
    CHECK_EQ_INT(wal_replay(w, NULL, NULL, &rep), 0);
    fill(w, 0, 100, size_small, lsns);
    wal_get_stats(w, &st);
    CHECK(st.segments >= 3);
    CHECK_EQ_INT(count_segments(dir), (int)st.segments);
    CHECK_EQ_INT(st.size_on_disk, lsns[99] + st.segments * HDR);
    /* No segment grows past segment_bytes by more than one record. */
    uint32_t nseg = st.segments;

    CHECK_EQ_INT(wal_rotate(w, &rot), 0);
    CHECK(rot == lsns[99]);
    CHECK_EQ_INT(wal_rotate(w, &rot2), 0); /* empty segment: no new one */
    CHECK(rot2 == rot);
    wal_get_stats(w, &st);
    CHECK_EQ_INT(st.segments, nseg + 1);
    /* Truncating before a mid LSN keeps the segment holding it. */
    CHECK_EQ_INT(wal_truncate_before(w, lsns[50]), 0);
    wal_get_stats(w, &st);
    CHECK(st.segments > 1 && st.segments < nseg + 1);
    fill(w, 100, 5, size_small, NULL);
    wal_close(w);
    CHECK_EQ_INT(replay_dir(io_posix(), dir, &o, &s, &rep), 0);
    CHECK_EQ_INT(rep.damaged, 0);
    REQUIRE(s.n > 5);
    long first = rec_index(s.data[0], s.len[0]);
    CHECK(first > 0 && first <= 50);
    for (size_t i = 0; i < s.n; i++)
        CHECK_EQ_INT(rec_index(s.data[i], s.len[i]), first + (long)i);
    seen_free(&s);

    REQUIRE(wal_open(io_posix(), dir, &o, &w) == 0);
    CHECK_EQ_INT(wal_replay(w, NULL, NULL, &rep), 0);
    CHECK_EQ_INT(wal_truncate_before(w, rot), 0);
    wal_get_stats(w, &st);
    CHECK_EQ_INT(st.segments, 1);
    CHECK_EQ_INT(count_segments(dir), 1);
    wal_close(w);
    CHECK_EQ_INT(replay_dir(io_posix(), dir, &o, &s, &rep), 0);
    REQUIRE(s.n == 5);
    CHECK_EQ_INT(rec_index(s.data[0], s.len[0]), 100);
    CHECK(s.lsn[0] > rot);
    seen_free(&s);
    test_rmrf(dir);
    free(dir);
}

static int stop_after_3(void *arg, uint64_t lsn, const void *rec, size_t len)
{
    return ++*(int *)arg == 3 ? 7 : 0;
}

/* A callback's non-zero return stops the callbacks; recovery still finds the real end. */
static void test_replay_stop(void)
{
    char *dir = test_tmpdir("wal-stop");
    struct wal *w = NULL;
    struct seen s = {0};
    struct wal_replay_report rep;
    int calls = 0;

    REQUIRE(wal_open(io_posix(), dir, NULL, &w) == 0);
    fill(w, 0, 10, size_small, NULL);
    wal_close(w);
    REQUIRE(wal_open(io_posix(), dir, NULL, &w) == 0);
    CHECK_EQ_INT(wal_replay(w, stop_after_3, &calls, &rep), 7);
    CHECK_EQ_INT(calls, 3);
    CHECK_EQ_INT(rep.records, 10);
    fill(w, 10, 2, size_small, NULL);
    wal_close(w);
    CHECK_EQ_INT(replay_dir(io_posix(), dir, NULL, &s, &rep), 0);
    REQUIRE(s.n == 12);
    for (size_t i = 0; i < s.n; i++)
        CHECK_EQ_INT(rec_index(s.data[i], s.len[i]), (long)i);
    seen_free(&s);
    test_rmrf(dir);
    free(dir);
}

/* A missing middle segment is a gap: the log is cut there. */
static void test_segment_gap(void)
{
    char *dir = test_tmpdir("wal-gap");
    struct wal_opts o = {.segment_bytes = 512};
    struct wal *w = NULL;
    struct seen s = {0};
    struct wal_replay_report rep;
    uint64_t lsns[60];
    char p[600];
    int found = 0;
    size_t expect = 0;

    REQUIRE(wal_open(io_posix(), dir, &o, &w) == 0);
    fill(w, 0, 60, size_small, lsns);
    wal_close(w);
    for (int i = 0; i < 60 && found < 2; i++) {
        snprintf(p, sizeof(p), "%s/%016" PRIx64 ".wal", dir, lsns[i]);
        if (access(p, F_OK) == 0 && ++found == 1)
            expect = (size_t)i + 1; /* records in the first segment */
    }
    REQUIRE(found == 2);
    REQUIRE(unlink(p) == 0); /* remove the third segment */
    CHECK_EQ_INT(replay_dir(io_posix(), dir, &o, &s, &rep), 0);
    CHECK_EQ_INT(rep.damaged, 1);
    CHECK(strstr(rep.detail, "does not follow") != NULL);
    CHECK(s.n > expect);
    CHECK_EQ_INT(count_segments(dir), 2);
    seen_free(&s);
    test_rmrf(dir);
    free(dir);
}

static void test_batch_policy(void)
{
    char *dir = test_tmpdir("wal-batch");
    struct io_vfs *vfs = io_fault_new(5);
    struct wal_opts o = {.policy = WAL_SYNC_BATCH, .batch_ms = 20};
    struct wal *w = NULL;
    struct seen s = {0};
    struct wal_replay_report rep;
    uint8_t buf[100];
    uint64_t lsn = 0;

    REQUIRE(wal_open(vfs, dir, &o, &w) == 0);
    CHECK_EQ_INT(wal_replay(w, NULL, NULL, &rep), 0);
    for (uint32_t i = 0; i < 10; i++) {
        size_t len = make_rec(buf, i, 50);
        CHECK_EQ_INT(wal_append(w, buf, len, &lsn), 0);
        CHECK_EQ_INT(wal_sync(w, lsn), 0);
    }
    /* The batch thread makes them durable within a few batch_ms. */
    struct timespec ts = {0, 150 * 1000000L};
    nanosleep(&ts, NULL);
    struct wal_stats st;
    wal_get_stats(w, &st);
    CHECK(st.syncs >= 2); /* header + at least one batch */
    io_fault_crash(vfs, IO_CRASH_DROP);
    wal_close(w);
    CHECK_EQ_INT(replay_dir(vfs, dir, NULL, &s, &rep), 0);
    CHECK_EQ_INT(s.n, 10);
    seen_free(&s);
    io_fault_free(vfs);
    test_rmrf(dir);
    free(dir);
}

/* Fixtures committed under tests/fixtures/wal (see the README there). */
static const char *fixture_dir(void)
{
    static const char *cands[] = {"tests/fixtures/wal", "../tests/fixtures/wal",
                                  "../../tests/fixtures/wal", "../../../tests/fixtures/wal"};
    static char buf[1024];
    const char *src = getenv("VIGIE_SRCDIR");
    if (src != NULL) {
        snprintf(buf, sizeof(buf), "%s/tests/fixtures/wal", src);
        return buf;
    }
    for (size_t i = 0; i < VG_ARRAY_LEN(cands); i++)
        if (access(cands[i], F_OK) == 0)
            return cands[i];
    return NULL;
}

static void fixture_case(const char *file, size_t want_records, int want_damaged,
                         const char *want_detail)
{
    const char *fx = fixture_dir();
    char *dir = test_tmpdir("wal-fx");
    char p[1200], q[600];
    struct seen s = {0};
    struct wal_replay_report rep;
    size_t len = 0;
    uint8_t *b;

    REQUIRE(fx != NULL);
    snprintf(p, sizeof(p), "%s/%s", fx, file);
    b = read_file(p, &len);
    REQUIRE(b != NULL);
    REQUIRE(write_file(seg0(dir, q, sizeof(q)), b, len) == 0);
    free(b);
    CHECK_EQ_INT(replay_dir(io_posix(), dir, NULL, &s, &rep), 0);
    CHECK_EQ_INT(s.n, want_records);
    CHECK_EQ_INT(rep.damaged, want_damaged);
    if (want_detail != NULL && strcmp(rep.detail, want_detail) != 0) {
        printf("  detail: %s\n", rep.detail);
        CHECK(!"detail");
    }
    static const char *names[] = {"alpha", "bravo", "charlie"};
    for (size_t i = 0; i < s.n && i < 3; i++)
        CHECK(s.len[i] == strlen(names[i]) && memcmp(s.data[i], names[i], s.len[i]) == 0);
    seen_free(&s);
    test_rmrf(dir);
    free(dir);
}

static void test_fixtures(void)
{
    fixture_case("valid.wal", 3, 0, "");
    fixture_case("truncated.wal", 2, 1,
                 "segment '0000000000000000.wal' offset 50: record length 7 beyond end of file");
    fixture_case("bad_crc.wal", 1, 1, "segment '0000000000000000.wal' offset 37: crc mismatch");
    fixture_case("bad_header.wal", 0, 1,
                 "segment '0000000000000000.wal' offset 0: bad segment header");
}

int main(void)
{
    TEST_BEGIN("wal_test");
    TEST_RUN(test_roundtrip_sizes);
    TEST_RUN(test_reopen_append);
    TEST_RUN(test_empty_and_missing_dir);
    TEST_RUN(test_group_commit_threads);
    TEST_RUN(test_truncate_every_offset);
    TEST_RUN(test_bit_flips);
    TEST_RUN(test_cut_removes_later_segments);
    TEST_RUN(test_crash_drop);
    TEST_RUN(test_crash_keep);
    TEST_RUN(test_crash_random);
    TEST_RUN(test_crash_unsynced_written);
    TEST_RUN(test_enospc);
    TEST_RUN(test_truncate_back);
    TEST_RUN(test_enospc_threads);
    TEST_RUN(test_fail_nth_eio);
    TEST_RUN(test_rotation_truncate_before);
    TEST_RUN(test_batch_policy);
    TEST_RUN(test_replay_stop);
    TEST_RUN(test_segment_gap);
    TEST_RUN(test_fixtures);
    return TEST_END();
}
