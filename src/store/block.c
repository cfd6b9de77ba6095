/*
** store/block.c: immutable block files (see block.h, format in docs/format/block.md).
** Writing: block_writer_open creates <seq>.tmp, chunks are streamed into it (buffered), the
** index + footer go last, then fsync; block_writer_commit renames to <seq>.blk and fsyncs the
** directory, so a block is either complete under its final name or absent (a leftover .tmp is
** removed at recovery). Loading maps the file and checks the whole-file CRC once; chunk CRCs are
** checked again by chunk_decode on every read.
*/
#include "store/block.h"

#include "core/crc32c.h"
#include "store/chunk.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_MAGIC "VGBLOCK1"
#define BLOCK_END_MAGIC "VGBLKEND"
#define BLOCK_VERSION 1u
#define HDR_LEN 32u
#define ENTRY_LEN 36u
#define FOOTER_LEN 24u
#define PEND_FLUSH (1u << 20)

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}
static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static char *path_join(const char *dir, uint64_t seq, const char *suffix)
{
    size_t n = strlen(dir) + 40;
    char *p = vg_malloc(n);
    snprintf(p, n, "%s/%020" PRIu64 "%s", dir, seq, suffix);
    return p;
}

int block_parse_name(const char *name, const char *suffix, uint64_t *seq)
{
    size_t n = strlen(name), sl = strlen(suffix);
    if (n <= sl || n - sl > 20 || strcmp(name + n - sl, suffix) != 0)
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n - sl; i++) {
        if (name[i] < '0' || name[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(name[i] - '0');
    }
    *seq = v;
    return 1;
}

void block_free(struct block *b)
{
    if (!b)
        return;
    if (b->map)
        io_unmap(b->f, b->map, b->maplen);
    if (b->f)
        io_close(b->f);
    free(b->ix);
    free(b->path);
    free(b);
}

int block_load(struct io_vfs *vfs, const char *path, uint32_t group, int64_t pstart, uint64_t seq,
               struct block **out)
{
    struct block *b = vg_calloc(1, sizeof(*b));
    int rc = io_open(vfs, path, IO_RDONLY, &b->f);
    if (rc) {
        b->f = NULL;
        goto out;
    }
    const void *m = NULL;
    size_t len = 0;
    rc = io_map(b->f, &m, &len);
    if (rc)
        goto out;
    b->map = m;
    b->maplen = len;
    b->size = len;
    rc = VG_ECORRUPT;
    if (len < HDR_LEN + FOOTER_LEN)
        goto out;
    const uint8_t *ft = b->map + len - FOOTER_LEN;
    if (memcmp(ft + 16, BLOCK_END_MAGIC, 8) != 0 || memcmp(b->map, BLOCK_MAGIC, 8) != 0)
        goto out;
    uint64_t ixoff = get64(ft);
    uint32_t cnt = get32(ft + 8);
    uint32_t crc = get32(ft + 12);
    if (ixoff < HDR_LEN || ixoff > len - FOOTER_LEN ||
        (len - FOOTER_LEN - ixoff) != (uint64_t)cnt * ENTRY_LEN)
        goto out;
    if (crc32c(0, b->map, len - FOOTER_LEN) != crc)
        goto out;
    if (get32(b->map + 8) != BLOCK_VERSION || get32(b->map + 12) != group ||
        (int64_t)get64(b->map + 16) != pstart || get64(b->map + 24) != seq)
        goto out;
    b->ix = vg_malloc((size_t)(cnt ? cnt : 1) * sizeof(*b->ix));
    for (uint32_t i = 0; i < cnt; i++) {
        const uint8_t *e = b->map + ixoff + (uint64_t)i * ENTRY_LEN;
        struct block_entry *x = &b->ix[i];
        x->sid = get32(e);
        x->n = get32(e + 4);
        x->min_ts = (int64_t)get64(e + 8);
        x->max_ts = (int64_t)get64(e + 16);
        x->off = get64(e + 24);
        x->len = get32(e + 32);
        if (x->n == 0 || x->min_ts > x->max_ts || x->off < HDR_LEN || x->off > ixoff ||
            x->len > ixoff - x->off)
            goto out;
        if (i && (x->sid < b->ix[i - 1].sid ||
                  (x->sid == b->ix[i - 1].sid && x->min_ts <= b->ix[i - 1].max_ts)))
            goto out;
    }
    b->nix = cnt;
    b->group = group;
    b->pstart = pstart;
    b->seq = seq;
    b->path = vg_strdup(path);
    *out = b;
    b = NULL;
    rc = VG_OK;
out:
    block_free(b);
    return rc;
}

uint32_t block_find(const struct block *b, uint32_t sid)
{
    uint32_t lo = 0, hi = b->nix;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (b->ix[mid].sid < sid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void writer_release(struct block_writer *w)
{
    if (w->f)
        io_close(w->f);
    w->f = NULL;
    free(w->tmp_path);
    free(w->path);
    free(w->dir);
    free(w->ix);
    buf_release(&w->pend);
    w->tmp_path = w->path = w->dir = NULL;
    w->ix = NULL;
}

static int writer_flush(struct block_writer *w)
{
    int rc = VG_OK;
    if (!w->pend.len)
        return rc;
    rc = io_pwrite(w->f, w->pend.p, w->pend.len, w->off - w->pend.len);
    buf_reset(&w->pend);
    return rc;
}

static int writer_put(struct block_writer *w, const void *p, size_t n)
{
    int rc = buf_append(&w->pend, p, n);
    if (rc)
        return rc;
    w->crc = crc32c(w->crc, p, n);
    w->off += n;
    if (w->pend.len >= PEND_FLUSH)
        rc = writer_flush(w);
    return rc;
}

int block_writer_open(struct block_writer *w, struct io_vfs *vfs, const char *dir, uint32_t group,
                      int64_t pstart, uint64_t seq)
{
    memset(w, 0, sizeof(*w));
    buf_init(&w->pend, 0);
    w->vfs = vfs;
    w->dir = vg_strdup(dir);
    w->tmp_path = path_join(dir, seq, ".tmp");
    w->path = path_join(dir, seq, ".blk");
    w->group = group;
    w->pstart = pstart;
    w->seq = seq;
    uint8_t h[HDR_LEN];
    memcpy(h, BLOCK_MAGIC, 8);
    put32(h + 8, BLOCK_VERSION);
    put32(h + 12, group);
    put64(h + 16, (uint64_t)pstart);
    put64(h + 24, seq);
    int rc = io_open(vfs, w->tmp_path, IO_CREATE | IO_TRUNC, &w->f);
    if (rc) {
        w->f = NULL;
        goto out;
    }
    rc = writer_put(w, h, sizeof(h));
out:
    if (rc)
        block_writer_abort(w);
    return rc;
}

int block_writer_add(struct block_writer *w, uint32_t sid, enum vg_vtype vt, const int64_t *ts,
                     const union vg_val *v, uint32_t n)
{
    int rc = VG_OK;
    struct buf enc;
    buf_init(&enc, 0);
    VG_ASSERT(w->nix == 0 || sid >= w->last_sid);
    w->last_sid = sid;
    for (uint32_t i = 0; i < n;) {
        uint32_t k = VG_MIN(n - i, BLOCK_CHUNK_POINTS);
        buf_reset(&enc);
        rc = chunk_encode(vt, ts + i, v + i, k, &enc);
        if (rc)
            goto out;
        if (w->nix == w->ixcap) {
            w->ixcap = w->ixcap ? w->ixcap * 2 : 64;
            w->ix = vg_realloc(w->ix, (size_t)w->ixcap * sizeof(*w->ix));
        }
        struct block_entry *e = &w->ix[w->nix++];
        e->sid = sid;
        e->n = k;
        e->min_ts = ts[i];
        e->max_ts = ts[i + k - 1];
        e->off = w->off;
        e->len = (uint32_t)enc.len;
        rc = writer_put(w, enc.p, enc.len);
        if (rc)
            goto out;
        i += k;
    }
out:
    buf_release(&enc);
    return rc;
}

int block_writer_finish(struct block_writer *w)
{
    uint64_t ixoff = w->off;
    uint8_t e[ENTRY_LEN];
    int rc = VG_OK;
    for (uint32_t i = 0; i < w->nix; i++) {
        const struct block_entry *x = &w->ix[i];
        put32(e, x->sid);
        put32(e + 4, x->n);
        put64(e + 8, (uint64_t)x->min_ts);
        put64(e + 16, (uint64_t)x->max_ts);
        put64(e + 24, x->off);
        put32(e + 32, x->len);
        rc = writer_put(w, e, sizeof(e));
        if (rc)
            goto out;
    }
    rc = writer_flush(w);
    if (rc)
        goto out;
    /* The CRC covers the whole file before the footer (accumulated by writer_put). */
    uint32_t crc = w->crc;
    uint8_t ft[FOOTER_LEN];
    put64(ft, ixoff);
    put32(ft + 8, w->nix);
    put32(ft + 12, crc);
    memcpy(ft + 16, BLOCK_END_MAGIC, 8);
    rc = writer_put(w, ft, sizeof(ft));
    if (!rc)
        rc = writer_flush(w);
    if (!rc)
        rc = io_sync(w->f);
out:
    return rc;
}

int block_writer_commit(struct block_writer *w, struct block **out)
{
    int rc = io_close(w->f);
    w->f = NULL;
    if (rc)
        goto out;
    rc = io_rename(w->vfs, w->tmp_path, w->path);
    if (rc)
        goto out;
    rc = io_sync_dir(w->vfs, w->dir);
    if (rc)
        goto out;
    rc = block_load(w->vfs, w->path, w->group, w->pstart, w->seq, out);
out:
    writer_release(w);
    return rc;
}

void block_writer_abort(struct block_writer *w)
{
    if (w->f) {
        io_close(w->f);
        w->f = NULL;
    }
    if (w->tmp_path)
        io_unlink(w->vfs, w->tmp_path);
    writer_release(w);
}
