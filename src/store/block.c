/*
** store/block.c: immutable block files (see block.h, format in docs/format/block.md).
** Writing: block_writer_open creates <seq>.tmp, chunks are streamed into it (buffered), the
** index + footer go last, then fsync; block_writer_commit renames to <seq>.blk and fsyncs the
** directory, so a block is either complete under its final name or absent (a leftover .tmp is
** removed at recovery). Loading maps the file and checks the whole-file CRC once and parses
** every hour-summary record once; chunk CRCs are checked again by chunk_decode on every read,
** summary CRCs by block_hsum_decode.
** Hour summaries (format version 2): block_writer_add folds each numeric chunk's points per
** UTC hour with block_hsum_fold and writes the record right after the chunk.
*/
#include "store/block.h"

#include "core/crc32c.h"
#include "store/chunk.h"
#include "store/store_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_MAGIC "VGBLOCK1"
#define BLOCK_END_MAGIC "VGBLKEND"
#define BLOCK_VERSION 2u
#define HDR_LEN 32u
#define ENTRY_LEN_V1 36u
#define ENTRY_LEN 48u /* v2: v1 entry + summary offset u64 + summary length u32 */
#define FOOTER_LEN 24u
#define SUM_MAGIC 0xA5u
#define SUM_VERSION 1u
#define SUM_HDR_LEN 8u
/* Largest hour record: 3 varints (10 bytes each) + 4 values (9 bytes max) + 2 doubles. */
#define SUM_REC_MAX (3u * 10u + 4u * 10u + 16u)
#define F64_RAW_TAG 7u
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
    uint32_t ver = get32(b->map + 8);
    uint32_t elen = ver == 1 ? ENTRY_LEN_V1 : ENTRY_LEN;
    if (ixoff < HDR_LEN || ixoff > len - FOOTER_LEN ||
        (len - FOOTER_LEN - ixoff) != (uint64_t)cnt * elen)
        goto out;
    if (crc32c(0, b->map, len - FOOTER_LEN) != crc)
        goto out;
    if ((ver != 1 && ver != BLOCK_VERSION) || get32(b->map + 12) != group ||
        (int64_t)get64(b->map + 16) != pstart || get64(b->map + 24) != seq)
        goto out;
    b->ix = vg_malloc((size_t)(cnt ? cnt : 1) * sizeof(*b->ix));
    for (uint32_t i = 0; i < cnt; i++) {
        const uint8_t *e = b->map + ixoff + (uint64_t)i * elen;
        struct block_entry *x = &b->ix[i];
        x->sid = get32(e);
        x->n = get32(e + 4);
        x->min_ts = (int64_t)get64(e + 8);
        x->max_ts = (int64_t)get64(e + 16);
        x->off = get64(e + 24);
        x->len = get32(e + 32);
        x->soff = ver == 1 ? 0 : get64(e + 36);
        x->slen = ver == 1 ? 0 : get32(e + 44);
        if (x->n == 0 || x->min_ts > x->max_ts || x->off < HDR_LEN || x->off > ixoff ||
            x->len > ixoff - x->off || x->len < 4)
            goto out;
        if (x->slen) {
            uint32_t nh = 0, cap = 0;
            if (x->soff < HDR_LEN || x->soff > ixoff || x->slen > ixoff - x->soff ||
                x->slen < SUM_HDR_LEN + 4 || b->map[x->soff + 2] != b->map[x->off + 2])
                goto out;
            /* Parse it once (nothing kept: the hour range is empty). */
            if (block_hsum_decode(b, x, 0, 0, NULL, &nh, &cap))
                goto out;
        } else if (x->soff) {
            goto out;
        }
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

/* ---- hour summaries ---------------------------------------------------------------------- */

void block_hsum_fold(enum vg_vtype vt, const int64_t *ts, const union vg_val *v, uint32_t n,
                     struct block_hsum *h)
{
    double sum = 0, sumsq = 0, mn = INFINITY, mx = -INFINITY;
    if (vt == VT_F64) {
        for (uint32_t q = 0; q < n; q++) {
            double x = v[q].f;
            sum += x;
            sumsq += x * x;
            mn = x < mn ? x : mn;
            mx = x > mx ? x : mx;
        }
        h->first = v[0].f;
        h->last = v[n - 1].f;
    } else {
        for (uint32_t q = 0; q < n; q++) {
            double x = (double)v[q].i;
            sum += x;
            sumsq += x * x;
            mn = x < mn ? x : mn;
            mx = x > mx ? x : mx;
        }
        h->first = (double)v[0].i;
        h->last = (double)v[n - 1].i;
    }
    h->hour = store__align_down(ts[0], BLOCK_HOUR_MS);
    h->count = n;
    h->sum = sum;
    h->sumsq = sumsq;
    h->min = mn;
    h->max = mx;
    h->first_ts = ts[0];
    h->last_ts = ts[n - 1];
}

static const double p10[7] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};

/* A double as a varint tag: zz(k) << 3 | d when x is exactly k / 10^d (d < 7, bit for bit),
** else the tag 7 followed by the 8 raw bytes. Sensor values are mostly short decimals. */
static uint8_t *put_f64v(uint8_t *p, double x)
{
    for (uint32_t d = 0; d < 7; d++) {
        double y = x * p10[d];
        if (!(fabs(y) < 9.0e15)) /* also NaN and Inf */
            break;
        int64_t k = (int64_t)y;
        if ((double)k != y)
            continue;
        double back = (double)k / p10[d];
        if (memcmp(&back, &x, sizeof(x)) == 0)
            return store__put_varint(p, store__zigzag(k) << 3 | d);
    }
    p = store__put_varint(p, F64_RAW_TAG);
    uint64_t bits;
    memcpy(&bits, &x, sizeof(bits));
    put64(p, bits);
    return p + 8;
}

static void put_raw(uint8_t **p, double x)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof(bits));
    put64(*p, bits);
    *p += 8;
}

/* Encode the hour record of points [0, n) of one hour; prev is the previous record's last_ts
** (the chunk's min_ts for the first). Returns the end of the record (at most SUM_REC_MAX). */
static uint8_t *hsum_put(uint8_t *p, enum vg_vtype vt, const int64_t *ts, const union vg_val *v,
                         uint32_t n, int64_t prev)
{
    struct block_hsum h;
    block_hsum_fold(vt, ts, v, n, &h);
    p = store__put_varint(p, (uint64_t)h.first_ts - (uint64_t)prev);
    p = store__put_varint(p, (uint64_t)h.last_ts - (uint64_t)h.first_ts);
    p = store__put_varint(p, n - 1);
    if (vt == VT_F64) {
        p = put_f64v(p, h.first);
        if (n > 1) {
            p = put_f64v(p, h.last);
            p = put_f64v(p, h.min);
            p = put_f64v(p, h.max);
        }
    } else {
        /* Integers: conversion to double is monotonic, so (double)min(i) == min((double)i). */
        int64_t mn = v[0].i, mx = v[0].i;
        for (uint32_t q = 1; q < n; q++) {
            mn = v[q].i < mn ? v[q].i : mn;
            mx = v[q].i > mx ? v[q].i : mx;
        }
        p = store__put_varint(p, store__zigzag(v[0].i));
        if (n > 1) {
            p = store__put_varint(p, store__zigzag(v[n - 1].i));
            p = store__put_varint(p, store__zigzag(mn));
            p = store__put_varint(p, store__zigzag(mx));
        }
    }
    if (n > 1) {
        put_raw(&p, h.sum);
        put_raw(&p, h.sumsq);
    }
    return p;
}

/* Encode the summary record of a chunk's n points into out (reset first); *nh = its hours. */
static int hsum_encode(struct buf *out, enum vg_vtype vt, const int64_t *ts, const union vg_val *v,
                       uint32_t n, uint32_t *nh)
{
    uint8_t rec[SUM_REC_MAX];
    uint8_t h[SUM_HDR_LEN] = {SUM_MAGIC, SUM_VERSION, (uint8_t)vt, 0};
    uint32_t k = 0;
    buf_reset(out);
    int rc = buf_append(out, h, sizeof(h));
    int64_t prev = ts[0];
    for (uint32_t a = 0; a < n && !rc;) {
        int64_t hend = store__sat_add(store__align_down(ts[a], BLOCK_HOUR_MS), BLOCK_HOUR_MS);
        uint32_t b = a + 1;
        while (b < n && ts[b] < hend)
            b++;
        uint8_t *e = hsum_put(rec, vt, ts + a, v + a, b - a, prev);
        rc = buf_append(out, rec, (size_t)(e - rec));
        prev = ts[b - 1];
        k++;
        a = b;
    }
    if (rc)
        return rc;
    put32((uint8_t *)out->p + 4, k);
    uint8_t c[4];
    put32(c, crc32c(0, out->p, out->len));
    *nh = k;
    return buf_append(out, c, sizeof(c));
}

struct rd {
    const uint8_t *p, *end;
    int bad;
};

static uint64_t rd_varint(struct rd *r)
{
    uint64_t v = 0;
    size_t k = store__get_varint(r->p, (size_t)(r->end - r->p), &v);
    if (!k) {
        r->bad = 1;
        return 0;
    }
    r->p += k;
    return v;
}

static double rd_raw(struct rd *r)
{
    double x = 0;
    if (r->end - r->p < 8) {
        r->bad = 1;
        return x;
    }
    uint64_t bits = get64(r->p);
    memcpy(&x, &bits, sizeof(x));
    r->p += 8;
    return x;
}

static double rd_val(struct rd *r, enum vg_vtype vt, union vg_val *raw)
{
    uint64_t t = rd_varint(r);
    if (vt != VT_F64) {
        raw->i = store__unzigzag(t);
        return (double)raw->i;
    }
    if ((t & 7) == F64_RAW_TAG) {
        if (t != F64_RAW_TAG)
            r->bad = 1;
        raw->f = rd_raw(r);
    } else {
        raw->f = (double)store__unzigzag(t >> 3) / p10[t & 7];
    }
    return raw->f;
}

int block_hsum_decode(const struct block *b, const struct block_entry *e, int64_t lo, int64_t hi,
                      struct block_hsum **arr, uint32_t *n, uint32_t *cap)
{
    const uint8_t *p = b->map + e->soff;
    uint32_t len = e->slen;
    if (len < SUM_HDR_LEN + 4 || p[0] != SUM_MAGIC || p[1] != SUM_VERSION || p[3] != 0 ||
        (p[2] != VT_F64 && p[2] != VT_I64 && p[2] != VT_BOOL))
        return VG_ECORRUPT;
    if (crc32c(0, p, len - 4) != get32(p + len - 4))
        return VG_ECORRUPT;
    enum vg_vtype vt = (enum vg_vtype)p[2];
    uint32_t nh = get32(p + 4);
    if (nh == 0 || nh > e->n)
        return VG_ECORRUPT;
    struct rd r = {p + SUM_HDR_LEN, p + len - 4, 0};
    uint64_t total = 0;
    int64_t prev = e->min_ts, prev_hour = 0;
    for (uint32_t k = 0; k < nh && !r.bad; k++) {
        struct block_hsum h;
        uint64_t d0 = rd_varint(&r), span = rd_varint(&r), c1 = rd_varint(&r);
        uint64_t room = (uint64_t)e->max_ts - (uint64_t)prev;
        if (r.bad || d0 > room || span > room - d0 || (k == 0) != (d0 == 0) || c1 > span ||
            c1 >= (uint64_t)e->n - total)
            return VG_ECORRUPT;
        h.first_ts = (int64_t)((uint64_t)prev + d0);
        h.last_ts = (int64_t)((uint64_t)h.first_ts + span);
        h.hour = store__align_down(h.first_ts, BLOCK_HOUR_MS);
        if (store__align_down(h.last_ts, BLOCK_HOUR_MS) != h.hour || (k && h.hour <= prev_hour))
            return VG_ECORRUPT;
        union vg_val first, tmp;
        rd_val(&r, vt, &first);
        if (c1 == 0) {
            block_hsum_fold(vt, &h.first_ts, &first, 1, &h);
        } else {
            h.count = c1 + 1;
            h.first = vt == VT_F64 ? first.f : (double)first.i;
            h.last = rd_val(&r, vt, &tmp);
            h.min = rd_val(&r, vt, &tmp);
            h.max = rd_val(&r, vt, &tmp);
            h.sum = rd_raw(&r);
            h.sumsq = rd_raw(&r);
        }
        total += c1 + 1;
        prev = h.last_ts;
        prev_hour = h.hour;
        if (!r.bad && h.hour >= lo && h.hour < hi) {
            if (*n == *cap) {
                *cap = *cap ? *cap * 2 : 64;
                *arr = vg_realloc(*arr, (size_t)*cap * sizeof(**arr));
            }
            (*arr)[(*n)++] = h;
        }
    }
    if (r.bad || r.p != r.end || total != e->n || prev != e->max_ts)
        return VG_ECORRUPT;
    return VG_OK;
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
    struct buf enc, sum;
    buf_init(&enc, 0);
    buf_init(&sum, 0);
    int numeric = vt == VT_F64 || vt == VT_I64 || vt == VT_BOOL;
    VG_ASSERT(w->nix == 0 || sid >= w->last_sid);
    w->last_sid = sid;
    for (uint32_t i = 0; i < n;) {
        uint32_t k = VG_MIN(n - i, BLOCK_CHUNK_POINTS);
        if (k < n - i) {
            /* Cut at the last hour boundary inside the window, if there is one. */
            int64_t hb = store__align_down(ts[i + k], BLOCK_HOUR_MS);
            if (ts[i] < hb) {
                uint32_t lo = 1, hi = k;
                while (lo < hi) {
                    uint32_t mid = lo + (hi - lo) / 2;
                    if (ts[i + mid] < hb)
                        lo = mid + 1;
                    else
                        hi = mid;
                }
                k = lo;
            }
        }
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
        e->soff = 0;
        e->slen = 0;
        rc = writer_put(w, enc.p, enc.len);
        if (rc)
            goto out;
        if (numeric) {
            uint32_t nh = 0;
            rc = hsum_encode(&sum, vt, ts + i, v + i, k, &nh);
            if (rc)
                goto out;
            if ((uint64_t)k >= (uint64_t)nh * BLOCK_SUM_MIN_PPH) {
                e->soff = w->off;
                e->slen = (uint32_t)sum.len;
                rc = writer_put(w, sum.p, sum.len);
                if (rc)
                    goto out;
            }
        }
        i += k;
    }
out:
    buf_release(&enc);
    buf_release(&sum);
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
        put64(e + 36, x->soff);
        put32(e + 44, x->slen);
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
