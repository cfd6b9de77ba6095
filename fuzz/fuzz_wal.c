/*
** fuzz/fuzz_wal.c: libFuzzer target for the WAL reader (store/wal.c wal_replay).
** The input becomes one or two segment files in a private directory (under /dev/shm when it
** exists, so the fsyncs of recovery are cheap), then wal_open + wal_replay run on it.
** First input byte = mode: 0 prepend a valid segment header to the rest; 1 use the rest raw as
** the segment; 2 split the rest in two segments, each with a valid header, the second named
** after the end of the first (multi-segment recovery).
** Checks: no crash; every replayed record is byte-exact a frame of the input with a valid
** CRC-32C; a second recovery of the cut log reports no damage and the same records.
*/
#include "core/crc32c.h"
#include "store/wal.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HDR 24

static char g_dir[256];

struct seg {
    uint64_t first;
    const uint8_t *p;
    size_t len;
};

struct ctx {
    struct seg segs[2];
    int nseg;
    uint64_t records;
};

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void make_hdr(uint8_t *h, uint64_t first)
{
    uint32_t v[2] = {0x4C574756u, 1};
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 4; k++)
            h[i * 4 + k] = (uint8_t)(v[i] >> (8 * k));
    for (int k = 0; k < 8; k++)
        h[8 + k] = (uint8_t)(first >> (8 * k));
    memset(h + 16, 0, 4);
    uint32_t c = crc32c(0, h, 20);
    for (int k = 0; k < 4; k++)
        h[20 + k] = (uint8_t)(c >> (8 * k));
}

/* The record ending at lsn must be a frame of the input with a valid CRC. */
static int check_cb(void *arg, uint64_t lsn, const void *rec, size_t len)
{
    struct ctx *c = arg;
    for (int i = c->nseg - 1; i >= 0; i--) {
        const struct seg *s = &c->segs[i];
        if (lsn <= s->first)
            continue;
        uint64_t end = HDR + (lsn - s->first);
        if (end > s->len || end < HDR + 8 + len)
            abort();
        const uint8_t *f = s->p + (end - len - 8);
        if (le32(f) != len || memcmp(f + 8, rec, len) != 0)
            abort();
        if (crc32c(crc32c(0, f, 4), f + 8, len) != le32(f + 4))
            abort();
        c->records++;
        return 0;
    }
    abort();
}

static int write_seg(uint64_t first, const uint8_t *p, size_t n)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/%016" PRIx64 ".wal", g_dir, first);
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    if (n > 0 && fwrite(p, 1, n, f) != n) {
        fclose(f);
        return -1;
    }
    fclose(f);
    return 0;
}

static int unlink_cb(void *arg, const char *name)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s", g_dir, name);
    unlink(path);
    return 0;
}

static void clean_dir(void)
{
    (void)io_list(io_posix(), g_dir, unlink_cb, NULL);
}

static void remove_dir(void)
{
    clean_dir();
    rmdir(g_dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wal_opts opts = {.max_record = 1 << 16, .segment_bytes = 1 << 20};
    struct wal_replay_report rep, rep2;
    struct ctx c, c2;
    uint8_t *a = NULL, *b = NULL;
    struct wal *w = NULL;
    int mode;

    if (g_dir[0] == '\0') {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(g_dir, sizeof(g_dir), "%s/fuzz_wal.%d", base, (int)getpid());
        if (io_mkdir(io_posix(), g_dir) != 0)
            abort();
        atexit(remove_dir);
    }
    if (size < 1 || size > (1 << 20))
        return 0;
    mode = data[0] % 3;
    data++;
    size--;
    clean_dir();
    memset(&c, 0, sizeof(c));
    if (mode == 1) {
        c.segs[0] = (struct seg){0, data, size};
        c.nseg = 1;
        if (write_seg(0, data, size))
            abort();
    } else {
        size_t split = mode == 2 && size >= 2 ? (size_t)(data[0] | data[1] << 8) % size : size;
        a = malloc(HDR + split + 1);
        make_hdr(a, 0);
        memcpy(a + HDR, data, split);
        c.segs[0] = (struct seg){0, a, HDR + split};
        c.nseg = 1;
        if (write_seg(0, a, HDR + split))
            abort();
        if (mode == 2) {
            uint64_t first = split;
            b = malloc(HDR + (size - split) + 1);
            make_hdr(b, first);
            memcpy(b + HDR, data + split, size - split);
            c.segs[1] = (struct seg){first, b, HDR + size - split};
            c.nseg = 2;
            if (write_seg(first, b, HDR + size - split))
                abort();
        }
    }
    if (wal_open(io_posix(), g_dir, &opts, &w) != 0)
        abort();
    if (wal_replay(w, check_cb, &c, &rep) != 0)
        abort();
    if (rep.records != c.records)
        abort();
    wal_close(w);

    /* Recovery is idempotent: the cut log is clean and holds the same records. */
    c2 = c;
    c2.records = 0;
    if (wal_open(io_posix(), g_dir, &opts, &w) != 0)
        abort();
    if (wal_replay(w, check_cb, &c2, &rep2) != 0)
        abort();
    if (rep2.damaged || rep2.records != rep.records || rep2.bytes != rep.bytes)
        abort();
    wal_close(w);
    free(a);
    free(b);
    return 0;
}
