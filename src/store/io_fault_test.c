/*
** store/io_fault_test.c: unit tests of the storage VFS backends: io_posix (errno mapping, EINTR
** and short-write loops through a normal file, mmap, readdir) and io_fault (held writes until
** sync, crash modes, disk full, nth failure, thread safety).
*/
#include "store/io.h"

#include "core/test.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void path_in(char *out, size_t cap, const char *dir, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static long real_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Read the real file (not through the fault layer). */
static size_t real_read(const char *path, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t n = 0;
    if (f) {
        n = fread(buf, 1, cap, f);
        fclose(f);
    }
    return n;
}

struct names {
    int n;
    int saw_a, saw_b;
};

static int names_cb(void *arg, const char *name)
{
    struct names *nm = arg;
    nm->n++;
    if (strcmp(name, "a") == 0)
        nm->saw_a = 1;
    if (strcmp(name, "b") == 0)
        nm->saw_b = 1;
    return 0;
}

static int stop_cb(void *arg, const char *name)
{
    (*(int *)arg)++;
    return 1;
}

static int fail_cb(void *arg, const char *name)
{
    return VG_ECORRUPT;
}

static void test_posix_basics(void)
{
    char *dir = test_tmpdir("io-posix");
    struct io_vfs *vfs = io_posix();
    struct io_file *f = NULL, *g = NULL;
    char a[600], b[600], sub[600];
    uint8_t buf[64];
    size_t got = 0;
    uint64_t size = 0;

    path_in(a, sizeof(a), dir, "a");
    path_in(b, sizeof(b), dir, "b");
    CHECK_EQ_INT(io_open(vfs, a, 0, &f), VG_ENOENT);
    CHECK_EQ_INT(io_exists(vfs, a), 0);
    REQUIRE(io_open(vfs, a, IO_CREATE, &f) == 0);
    CHECK_EQ_INT(io_exists(vfs, a), 1);
    CHECK_EQ_INT(io_open(vfs, a, IO_CREATE | IO_EXCL, &g), VG_EEXIST);
    CHECK_EQ_INT(io_pwrite(f, "hello world", 11, 0), 0);
    CHECK_EQ_INT(io_pwrite(f, "HELLO", 5, 20), 0);
    CHECK_EQ_INT(io_sync(f), 0);
    CHECK_EQ_INT(io_size(f, &size), 0);
    CHECK_EQ_INT(size, 25);
    CHECK_EQ_INT(io_pread(f, buf, sizeof(buf), 0, &got), 0);
    CHECK_EQ_INT(got, 25);
    CHECK(memcmp(buf, "hello world", 11) == 0 && buf[11] == 0 && memcmp(buf + 20, "HELLO", 5) == 0);
    CHECK_EQ_INT(io_pread(f, buf, 10, 100, &got), 0);
    CHECK_EQ_INT(got, 0);

    const void *m = NULL;
    size_t mlen = 0;
    CHECK_EQ_INT(io_map(f, &m, &mlen), 0);
    CHECK_EQ_INT(mlen, 25);
    CHECK(m != NULL && memcmp(m, "hello", 5) == 0);
    io_unmap(f, m, mlen);
    CHECK_EQ_INT(io_truncate(f, 0), 0);
    CHECK_EQ_INT(io_map(f, &m, &mlen), 0);
    CHECK(m == NULL && mlen == 0);
    CHECK_EQ_INT(io_close(f), 0);

    /* Read-only handles cannot write; the error maps to VG_EIO. */
    REQUIRE(io_open(vfs, a, IO_RDONLY, &f) == 0);
    CHECK_EQ_INT(io_pwrite(f, "x", 1, 0), VG_EIO);
    io_close(f);

    CHECK_EQ_INT(io_rename(vfs, a, b), 0);
    CHECK_EQ_INT(io_exists(vfs, a), 0);
    CHECK_EQ_INT(io_rename(vfs, a, b), VG_ENOENT);
    REQUIRE(io_open(vfs, a, IO_CREATE | IO_TRUNC, &f) == 0);
    io_close(f);
    struct names nm = {0, 0, 0};
    CHECK_EQ_INT(io_list(vfs, dir, names_cb, &nm), 0);
    CHECK(nm.n == 2 && nm.saw_a && nm.saw_b);
    int calls = 0;
    CHECK_EQ_INT(io_list(vfs, dir, stop_cb, &calls), 0);
    CHECK_EQ_INT(calls, 1);
    CHECK_EQ_INT(io_list(vfs, dir, fail_cb, NULL), VG_ECORRUPT);
    path_in(sub, sizeof(sub), dir, "nope");
    CHECK_EQ_INT(io_list(vfs, sub, names_cb, &nm), VG_ENOENT);
    CHECK_EQ_INT(io_mkdir(vfs, sub), 0);
    CHECK_EQ_INT(io_mkdir(vfs, sub), 0); /* exists: fine */
    CHECK_EQ_INT(io_mkdir(vfs, a), VG_EEXIST);
    CHECK_EQ_INT(io_sync_dir(vfs, dir), 0);
    CHECK_EQ_INT(io_unlink(vfs, a), 0);
    CHECK_EQ_INT(io_unlink(vfs, a), VG_ENOENT);
    CHECK_EQ_INT(io_close(NULL), 0);
    test_rmrf(dir);
    free(dir);
}

/* ENOSPC -> VG_EFULL, through the real errno path. */
static void test_posix_enospc(void)
{
    struct io_file *f = NULL;
    if (access("/dev/full", W_OK) != 0)
        return; /* not on this system: nothing to check */
    REQUIRE(io_open(io_posix(), "/dev/full", 0, &f) == 0);
    CHECK_EQ_INT(io_pwrite(f, "abc", 3, 0), VG_EFULL);
    io_close(f);
}

static void test_fault_held_until_sync(void)
{
    char *dir = test_tmpdir("io-fault");
    struct io_vfs *vfs = io_fault_new(1);
    struct io_file *f = NULL, *g = NULL;
    char a[600];
    uint8_t buf[64], raw[64];
    size_t got = 0;
    uint64_t size = 0;

    path_in(a, sizeof(a), dir, "a");
    REQUIRE(io_open(vfs, a, IO_CREATE, &f) == 0);
    CHECK_EQ_INT(io_pwrite(f, "0123456789", 10, 0), 0);
    CHECK_EQ_INT(io_pwrite(f, "abc", 3, 4), 0); /* overlaps: later wins */
    CHECK_EQ_INT(io_pwrite(f, "Z", 1, 15), 0);  /* a gap reads as zeros */
    CHECK_EQ_INT(io_fault_writes(vfs), 3);
    CHECK_EQ_INT(real_size(a), 0); /* nothing reached the disk */
    CHECK_EQ_INT(io_size(f, &size), 0);
    CHECK_EQ_INT(size, 16);
    CHECK_EQ_INT(io_pread(f, buf, sizeof(buf), 0, &got), 0);
    CHECK_EQ_INT(got, 16);
    CHECK(memcmp(buf, "0123abc789\0\0\0\0\0Z", 16) == 0);
    /* Another handle on the same file sees the held writes (one page cache per file). */
    REQUIRE(io_open(vfs, a, IO_RDONLY, &g) == 0);
    CHECK_EQ_INT(io_pread(g, buf, 4, 3, &got), 0);
    CHECK(got == 4 && memcmp(buf, "3abc", 4) == 0);
    const void *m = NULL;
    size_t mlen = 0;
    CHECK_EQ_INT(io_map(g, &m, &mlen), 0);
    CHECK(mlen == 16 && m != NULL && memcmp(m, "0123abc", 7) == 0);
    io_unmap(g, m, mlen);
    CHECK_EQ_INT(io_pwrite(g, "x", 1, 0), VG_EIO); /* read-only handle */
    io_close(g);

    CHECK_EQ_INT(io_sync(f), 0);
    CHECK_EQ_INT(io_fault_syncs(vfs), 1);
    CHECK_EQ_INT(real_size(a), 16);
    CHECK_EQ_INT(real_read(a, raw, sizeof(raw)), 16);
    CHECK(memcmp(raw, "0123abc789\0\0\0\0\0Z", 16) == 0);

    /* Truncate clips held writes. */
    CHECK_EQ_INT(io_pwrite(f, "TAILTAIL", 8, 12), 0);
    CHECK_EQ_INT(io_truncate(f, 14), 0);
    CHECK_EQ_INT(io_size(f, &size), 0);
    CHECK_EQ_INT(size, 14);
    CHECK_EQ_INT(io_pread(f, buf, sizeof(buf), 10, &got), 0);
    CHECK(got == 4 && memcmp(buf, "\0\0TA", 4) == 0);
    CHECK_EQ_INT(io_sync(f), 0);
    CHECK_EQ_INT(real_size(a), 14);

    /* Held writes survive close (page cache) and die with DROP. */
    CHECK_EQ_INT(io_pwrite(f, "LOST", 4, 0), 0);
    io_close(f);
    REQUIRE(io_open(vfs, a, 0, &f) == 0);
    CHECK_EQ_INT(io_pread(f, buf, 4, 0, &got), 0);
    CHECK(memcmp(buf, "LOST", 4) == 0);
    io_close(f);
    io_fault_crash(vfs, IO_CRASH_DROP);
    CHECK_EQ_INT(real_read(a, raw, 4), 4);
    CHECK(memcmp(raw, "0123", 4) == 0);
    io_fault_free(vfs);
    test_rmrf(dir);
    free(dir);
}

static void test_fault_crash_drop_keep(void)
{
    char *dir = test_tmpdir("io-crash");
    struct io_vfs *vfs = io_fault_new(2);
    struct io_file *f = NULL;
    char a[600], b[600];
    uint8_t buf[16], raw[16];
    size_t got;
    uint64_t size;

    path_in(a, sizeof(a), dir, "a");
    path_in(b, sizeof(b), dir, "b");
    REQUIRE(io_open(vfs, a, IO_CREATE, &f) == 0);
    CHECK_EQ_INT(io_pwrite(f, "durable", 7, 0), 0);
    CHECK_EQ_INT(io_sync(f), 0);
    CHECK_EQ_INT(io_pwrite(f, "lost", 4, 7), 0);
    io_fault_crash(vfs, IO_CRASH_DROP);
    /* The handle is dead: every call fails with EIO, close frees it. */
    CHECK_EQ_INT(io_pread(f, buf, 4, 0, &got), VG_EIO);
    CHECK_EQ_INT(io_pwrite(f, "x", 1, 0), VG_EIO);
    CHECK_EQ_INT(io_sync(f), VG_EIO);
    CHECK_EQ_INT(io_size(f, &size), VG_EIO);
    CHECK_EQ_INT(io_truncate(f, 0), VG_EIO);
    CHECK_EQ_INT(io_close(f), 0);
    CHECK_EQ_INT(real_size(a), 7);

    REQUIRE(io_open(vfs, b, IO_CREATE, &f) == 0);
    CHECK_EQ_INT(io_pwrite(f, "kept", 4, 0), 0);
    io_fault_crash(vfs, IO_CRASH_KEEP);
    io_close(f);
    CHECK_EQ_INT(real_read(b, raw, sizeof(raw)), 4);
    CHECK(memcmp(raw, "kept", 4) == 0);

    /* Unlinked with held writes: the crash does not bring it back. Renamed: sync follows. */
    REQUIRE(io_open(vfs, a, 0, &f) == 0);
    CHECK_EQ_INT(io_pwrite(f, "zz", 2, 0), 0);
    io_close(f);
    CHECK_EQ_INT(io_unlink(vfs, a), 0);
    io_fault_crash(vfs, IO_CRASH_KEEP);
    CHECK_EQ_INT(io_exists(vfs, a), 0);
    REQUIRE(io_open(vfs, b, 0, &f) == 0);
    CHECK_EQ_INT(io_pwrite(f, "KE", 2, 0), 0);
    CHECK_EQ_INT(io_rename(vfs, b, a), 0);
    CHECK_EQ_INT(io_sync(f), 0);
    io_close(f);
    CHECK_EQ_INT(real_read(a, raw, sizeof(raw)), 4);
    CHECK(memcmp(raw, "KEpt", 4) == 0);
    io_fault_free(vfs);
    test_rmrf(dir);
    free(dir);
}

/* RANDOM: over many writes every fate occurs, and the same seed gives the same disk. */
static void random_crash(uint64_t seed, const char *path, int counts[4])
{
    enum { W = 200, L = 64 };
    struct io_vfs *vfs = io_fault_new(seed);
    struct io_file *f = NULL;
    static uint8_t raw[W * L];
    uint8_t pat[L];
    size_t n;

    unlink(path);
    REQUIRE(io_open(vfs, path, IO_CREATE, &f) == 0);
    memset(pat, 0xEE, sizeof(pat));
    CHECK_EQ_INT(io_pwrite(f, pat, 1, W * L - 1), 0); /* fix the size: drops read as zeros */
    CHECK_EQ_INT(io_sync(f), 0);
    for (int i = 0; i < W; i++) {
        for (int k = 0; k < L; k++)
            pat[k] = (uint8_t)(i + k + 1) | 1; /* never zero */
        CHECK_EQ_INT(io_pwrite(f, pat, L, (uint64_t)i * L), 0);
    }
    io_fault_crash(vfs, IO_CRASH_RANDOM);
    io_close(f);
    io_fault_free(vfs);
    n = real_read(path, raw, sizeof(raw));
    CHECK_EQ_INT(n, W * L);
    for (int i = 0; i < W; i++) {
        const uint8_t *r = raw + (size_t)i * L;
        int same = 0, zeros = 0;
        for (int k = 0; k < L - (i == W - 1); k++) {
            uint8_t want = (uint8_t)(i + k + 1) | 1;
            same += r[k] == want;
            zeros += r[k] == 0;
        }
        int len = L - (i == W - 1);
        if (same == len)
            counts[0]++; /* kept */
        else if (zeros == len)
            counts[1]++; /* dropped */
        else if (same + zeros == len)
            counts[2]++; /* torn: a prefix */
        else
            counts[3]++; /* garbled */
    }
}

static void test_fault_crash_random(void)
{
    char *dir = test_tmpdir("io-rand");
    char a[600];
    uint8_t *x = malloc(200 * 64), *y = malloc(200 * 64);
    int c1[4] = {0}, c2[4] = {0};

    path_in(a, sizeof(a), dir, "a");
    random_crash(42, a, c1);
    CHECK_EQ_INT(real_read(a, x, 200 * 64), 200 * 64);
    random_crash(42, a, c2);
    CHECK_EQ_INT(real_read(a, y, 200 * 64), 200 * 64);
    CHECK(memcmp(x, y, 200 * 64) == 0);
    for (int i = 0; i < 4; i++) {
        CHECK(c1[i] > 10); /* each fate about 1/4 of 200 */
        CHECK_EQ_INT(c1[i], c2[i]);
    }
    free(x);
    free(y);
    test_rmrf(dir);
    free(dir);
}

static void test_fault_full_and_nth(void)
{
    char *dir = test_tmpdir("io-full");
    struct io_vfs *vfs = io_fault_new(3);
    struct io_file *f = NULL;
    char a[600];

    path_in(a, sizeof(a), dir, "a");
    REQUIRE(io_open(vfs, a, IO_CREATE, &f) == 0);
    io_fault_set_full(vfs, 1);
    CHECK_EQ_INT(io_pwrite(f, "abc", 3, 0), VG_EFULL);
    CHECK_EQ_INT(io_sync(f), VG_EFULL);
    CHECK_EQ_INT(io_pwrite(f, "abc", 3, 0), VG_EFULL);
    io_fault_set_full(vfs, 0);
    CHECK_EQ_INT(io_pwrite(f, "abc", 3, 0), 0);
    CHECK_EQ_INT(io_sync(f), 0);
    CHECK_EQ_INT(real_size(a), 3);

    io_fault_fail_nth(vfs, 3, VG_EIO);
    CHECK_EQ_INT(io_pwrite(f, "d", 1, 3), 0); /* 1 */
    CHECK_EQ_INT(io_pwrite(f, "e", 1, 4), 0); /* 2 */
    CHECK_EQ_INT(io_sync(f), VG_EIO);         /* 3: fails, applies nothing */
    CHECK_EQ_INT(real_size(a), 3);
    CHECK_EQ_INT(io_sync(f), 0); /* 4: works, the held writes are still there */
    CHECK_EQ_INT(real_size(a), 5);
    io_fault_fail_nth(vfs, 1, VG_EFULL);
    CHECK_EQ_INT(io_pwrite(f, "f", 1, 5), VG_EFULL); /* a failed pwrite holds nothing */
    CHECK_EQ_INT(io_sync(f), 0);
    CHECK_EQ_INT(real_size(a), 5);
    io_fault_fail_nth(vfs, 2, VG_EIO);
    io_fault_fail_nth(vfs, 0, 0); /* disabled */
    CHECK_EQ_INT(io_pwrite(f, "f", 1, 5), 0);
    CHECK_EQ_INT(io_sync(f), 0);
    io_close(f);
    io_fault_free(vfs);
    test_rmrf(dir);
    free(dir);
}

struct th_arg {
    struct io_vfs *vfs;
    char path[600];
    int id, errors;
};

static void *th_main(void *p)
{
    struct th_arg *a = p;
    struct io_file *f = NULL;
    uint8_t buf[100];
    if (io_open(a->vfs, a->path, IO_CREATE | IO_TRUNC, &f) != 0) {
        a->errors++;
        return NULL;
    }
    for (int i = 0; i < 200; i++) {
        memset(buf, a->id * 31 + i, sizeof(buf));
        if (io_pwrite(f, buf, sizeof(buf), (uint64_t)i * sizeof(buf)) != 0)
            a->errors++;
        if (i % 20 == 19 && io_sync(f) != 0)
            a->errors++;
    }
    io_close(f);
    return NULL;
}

static void test_fault_threads(void)
{
    char *dir = test_tmpdir("io-th");
    struct io_vfs *vfs = io_fault_new(4);
    struct th_arg args[4];
    pthread_t th[4];

    for (int t = 0; t < 4; t++) {
        args[t].vfs = vfs;
        args[t].id = t;
        args[t].errors = 0;
        snprintf(args[t].path, sizeof(args[t].path), "%s/f%d", dir, t);
        pthread_create(&th[t], NULL, th_main, &args[t]);
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        CHECK_EQ_INT(args[t].errors, 0);
    }
    CHECK_EQ_INT(io_fault_writes(vfs), 800);
    CHECK_EQ_INT(io_fault_syncs(vfs), 40);
    for (int t = 0; t < 4; t++) {
        static uint8_t raw[20000];
        CHECK_EQ_INT(real_read(args[t].path, raw, sizeof(raw)), 20000);
        CHECK(raw[199 * 100] == (uint8_t)(t * 31 + 199));
    }
    io_fault_free(vfs);
    test_rmrf(dir);
    free(dir);
}

int main(void)
{
    TEST_BEGIN("io_fault_test");
    TEST_RUN(test_posix_basics);
    TEST_RUN(test_posix_enospc);
    TEST_RUN(test_fault_held_until_sync);
    TEST_RUN(test_fault_crash_drop_keep);
    TEST_RUN(test_fault_crash_random);
    TEST_RUN(test_fault_full_and_nth);
    TEST_RUN(test_fault_threads);
    return TEST_END();
}
