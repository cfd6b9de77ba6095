/*
** store/block.c: immutable block files (see block.h, format in docs/format/block.md).
** Writing: block_writer_open creates <seq>.tmp, chunks are streamed into it (buffered), the
** index + footer go last, then fsync; block_writer_commit renames to <seq>.blk and fsyncs the
** directory, so a block is either complete under its final name or absent (a leftover .tmp is
** removed at recovery). Loading maps the file and checks the whole-file CRC once and parses
** every hour-summary record once; chunk CRCs are checked again by chunk_decode on every read,
** summary CRCs by block_hsum_decode.
** Hour summaries (format version 3): block_writer_add folds each numeric chunk's points per
** UTC hour with block_hsum_fold and writes the record (a compact bit stream of deltas vs the
** previous hour and of exact integer sums of decimal-scaled values) right after the chunk.
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
#define BLOCK_VERSION 3u /* 2 (48-byte entries, summary record version 1) is refused */
#define HDR_LEN 32u
#define ENTRY_LEN_V1 36u
#define ENTRY_LEN 40u /* v3: v1 entry + summary length u32 (the summary follows the chunk) */
#define FOOTER_LEN 24u
#define SUM_MAGIC 0xA5u
#define SUM_VERSION 2u
#define SUM_HDR_LEN 8u
#define SUM_MAX_SCALE 6u           /* largest decimal scale d (values k / 10^d) */
#define SUM_KMAX (INT64_C(1) << 23) /* |k| bound of scaled values: sums of squares fit 63 bits */
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
        x->slen = ver == 1 ? 0 : get32(e + 36);
        x->soff = x->slen ? x->off + x->len : 0;
        if (x->n == 0 || x->min_ts > x->max_ts || x->off < HDR_LEN || x->off > ixoff ||
            x->len > ixoff - x->off || x->len < 4)
            goto out;
        if (x->slen) {
            uint32_t nh = 0, cap = 0;
            if (x->soff > ixoff || x->slen > ixoff - x->soff ||
                x->slen < SUM_HDR_LEN + 4 || b->map[x->soff + 2] != b->map[x->off + 2])
                goto out;
            /* Parse it once (nothing kept: the hour range is empty). */
            if (block_hsum_decode(b, x, 0, 0, NULL, &nh, &cap))
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

/* ---- hour-summary record body: an adaptive bit stream (docs/format/block.md) ------------- */

static const double p10[SUM_MAX_SCALE + 1] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
static const double p10sq[SUM_MAX_SCALE + 1] = {1, 1e2, 1e4, 1e6, 1e8, 1e10, 1e12};

/* Fields coded with their own adaptive order (see sum_code). */
enum { F_CNT, F_DF, F_SPAN, F_FIRST, F_LAST, F_MIN, F_MAX, F_S, F_SULP, F_V, F_QULP, F_NUM };

/* Order of the code of a field: floor(log2) of a running mean of its last values (x16). */
static uint32_t sum_order(uint64_t ema16)
{
    uint64_t m = ema16 >> 4;
    return m ? 63u - (uint32_t)__builtin_clzll(m) : 0u;
}
static void sum_learn(uint64_t *ema16, uint64_t u)
{
    uint64_t c = u > (1ull << 58) ? (1ull << 58) : u;
    *ema16 = *ema16 - (*ema16 >> 2) + c * 4;
}

struct bw {
    struct buf *b;
    uint64_t acc;
    uint32_t n;
    int rc;
};

static void bw_put(struct bw *w, uint64_t v, uint32_t cnt) /* cnt <= 32 */
{
    if (!cnt)
        return;
    w->acc |= (v & ((1ull << cnt) - 1)) << w->n;
    w->n += cnt;
    while (w->n >= 8) {
        uint8_t c = (uint8_t)w->acc;
        if (!w->rc)
            w->rc = buf_append(w->b, &c, 1);
        w->acc >>= 8;
        w->n -= 8;
    }
}
static void bw_put64(struct bw *w, uint64_t v)
{
    bw_put(w, v, 32);
    bw_put(w, v >> 32, 32);
}

/* u with order k: n = bit length of u >> k as n zero bits and a one bit, then the n - 1 bits
** of u >> k below its top bit, then the k low bits of u. */
static void bw_code(struct bw *w, uint64_t *ema16, uint64_t u)
{
    uint32_t k = sum_order(*ema16);
    uint64_t q = u >> k;
    uint32_t n = q ? 64u - (uint32_t)__builtin_clzll(q) : 0u;
    for (uint32_t z = n; z > 0;) {
        uint32_t c = z > 32 ? 32 : z;
        bw_put(w, 0, c);
        z -= c;
    }
    bw_put(w, 1, 1);
    if (n > 1) {
        bw_put(w, q, n - 1 > 32 ? 32 : n - 1);
        if (n - 1 > 32)
            bw_put(w, q >> 32, n - 33);
    }
    if (k) {
        bw_put(w, u, k > 32 ? 32 : k);
        if (k > 32)
            bw_put(w, u >> 32, k - 32);
    }
    sum_learn(ema16, u);
}

struct br {
    const uint8_t *p, *end;
    uint64_t acc;
    uint32_t n;
    int bad;
};

static uint64_t br_get(struct br *r, uint32_t cnt) /* cnt <= 32 */
{
    if (!cnt)
        return 0;
    while (r->n < cnt) {
        if (r->p == r->end) {
            r->bad = 1;
            return 0;
        }
        r->acc |= (uint64_t)*r->p++ << r->n;
        r->n += 8;
    }
    uint64_t v = r->acc & ((1ull << cnt) - 1);
    r->acc >>= cnt;
    r->n -= cnt;
    return v;
}
static uint64_t br_get64(struct br *r)
{
    uint64_t lo = br_get(r, 32);
    return lo | br_get(r, 32) << 32;
}

static uint64_t br_code(struct br *r, uint64_t *ema16)
{
    uint32_t k = sum_order(*ema16), n = 0;
    while (!r->bad && br_get(r, 1) == 0) {
        if (++n > 64) {
            r->bad = 1;
            return 0;
        }
    }
    uint64_t q = 0;
    if (n) {
        uint32_t lo = n - 1;
        q = br_get(r, lo > 32 ? 32 : lo);
        if (lo > 32)
            q |= br_get(r, lo - 32) << 32;
        q |= 1ull << lo;
    }
    if (k && n + k > 64) { /* q << k would lose bits: never written */
        r->bad = 1;
        return 0;
    }
    uint64_t u = q << k;
    if (k) {
        u |= br_get(r, k > 32 ? 32 : k);
        if (k > 32)
            u |= br_get(r, k - 32) << 32;
    }
    sum_learn(ema16, u);
    return u;
}

/* x == k / 10^d bit for bit with |k| <= SUM_KMAX? */
static int f64_scaled(double x, uint32_t d, int64_t *k)
{
    double y = x * p10[d];
    if (!(fabs(y) <= (double)SUM_KMAX + 0.5)) /* also NaN and Inf */
        return 0;
    int64_t c = llround(y);
    double back = (double)c / p10[d];
    if (memcmp(&back, &x, sizeof(x)) != 0 || c > SUM_KMAX || c < -SUM_KMAX)
        return 0;
    *k = c;
    return 1;
}

static int val_scaled(enum vg_vtype vt, union vg_val v, uint32_t d, int64_t *k)
{
    if (vt == VT_F64)
        return f64_scaled(v.f, d, k);
    if (v.i > SUM_KMAX || v.i < -SUM_KMAX)
        return 0;
    *k = v.i;
    return 1;
}

static union vg_val val_of(enum vg_vtype vt, int64_t k, uint32_t d)
{
    union vg_val v;
    if (vt == VT_F64)
        v.f = (double)k / p10[d];
    else
        v.i = k;
    return v;
}

static double dbl_of(enum vg_vtype vt, union vg_val v)
{
    return vt == VT_F64 ? v.f : (double)v.i;
}

static uint64_t dbits(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof(u));
    return u;
}
static double bitsd(uint64_t u)
{
    double x;
    memcpy(&x, &u, sizeof(x));
    return x;
}

/* Coder state shared by writer and reader: previous hour's count, last ts and scaled last
** value, and the adaptive orders. */
struct sum_st {
    uint64_t ema[F_NUM];
    uint64_t pcount;
    int64_t pts, pk;
};

/* Code the hour of points [0, n) of a chunk whose scale is d. */
static void hsum_put(struct bw *w, struct sum_st *st, enum vg_vtype vt, const int64_t *ts,
                     const union vg_val *v, uint32_t n, uint32_t d, uint64_t step, int first)
{
    struct block_hsum h;
    block_hsum_fold(vt, ts, v, n, &h);
    uint64_t df = (uint64_t)h.first_ts - (uint64_t)st->pts;
    uint64_t span = (uint64_t)h.last_ts - (uint64_t)h.first_ts;
    uint64_t rspan = span - (uint64_t)(n - 1) * step;
    int reg = !first && n == st->pcount && df == step && rspan == 0;
    bw_put(w, (uint64_t)reg, 1);
    if (!reg) {
        bw_code(w, &st->ema[F_CNT], store__zigzag((int64_t)((uint64_t)n - st->pcount)));
        if (!first)
            bw_code(w, &st->ema[F_DF], store__zigzag((int64_t)(df - step)));
        bw_code(w, &st->ema[F_SPAN], store__zigzag((int64_t)rspan));
    }
    st->pcount = n;
    st->pts = h.last_ts;
    int64_t kf = 0, kl = 0, kmin = 0, kmax = 0, s = 0;
    uint64_t q = 0;
    int scaled = 1;
    for (uint32_t i = 0; i < n && scaled; i++) {
        int64_t k = 0;
        scaled = val_scaled(vt, v[i], d, &k);
        kl = k;
        if (i == 0)
            kf = kmin = kmax = k;
        kmin = k < kmin ? k : kmin;
        kmax = k > kmax ? k : kmax;
        s += k;
        q += (uint64_t)(k * k);
    }
    bw_put(w, (uint64_t)scaled, 1);
    if (!scaled) {
        if (vt == VT_F64) {
            bw_put64(w, dbits(h.first));
            if (n > 1) {
                bw_put64(w, dbits(h.last));
                bw_put64(w, dbits(h.min));
                bw_put64(w, dbits(h.max));
            }
        } else {
            int64_t mn = v[0].i, mx = v[0].i;
            for (uint32_t i = 1; i < n; i++) {
                mn = v[i].i < mn ? v[i].i : mn;
                mx = v[i].i > mx ? v[i].i : mx;
            }
            bw_put64(w, (uint64_t)v[0].i);
            if (n > 1) {
                bw_put64(w, (uint64_t)v[n - 1].i);
                bw_put64(w, (uint64_t)mn);
                bw_put64(w, (uint64_t)mx);
            }
        }
        if (n > 1) {
            bw_put64(w, dbits(h.sum));
            bw_put64(w, dbits(h.sumsq));
        }
        return;
    }
    bw_code(w, &st->ema[F_FIRST], store__zigzag(kf - st->pk));
    st->pk = kl;
    if (n == 1)
        return;
    bw_code(w, &st->ema[F_LAST], store__zigzag(kl - kf));
    bw_code(w, &st->ema[F_MIN], (uint64_t)((kf < kl ? kf : kl) - kmin));
    bw_code(w, &st->ema[F_MAX], (uint64_t)(kmax - (kf > kl ? kf : kl)));
    int64_t m = s / (int64_t)n;
    uint64_t var = 0;
    for (uint32_t i = 0; i < n; i++) {
        int64_t k = 0;
        val_scaled(vt, v[i], d, &k);
        var += (uint64_t)((k - m) * (k - m));
    }
    bw_code(w, &st->ema[F_S], store__zigzag(s - (int64_t)n * (kmin + kmax) / 2));
    bw_code(w, &st->ema[F_SULP],
            store__zigzag((int64_t)(dbits(h.sum) - dbits((double)s / p10[d]))));
    bw_code(w, &st->ema[F_V], var);
    bw_code(w, &st->ema[F_QULP],
            store__zigzag((int64_t)(dbits(h.sumsq) - dbits((double)(int64_t)q / p10sq[d]))));
}

/* Decimal scale of a chunk: the smallest d that holds every value that has one. */
static uint32_t chunk_scale(enum vg_vtype vt, const union vg_val *v, uint32_t n)
{
    uint32_t d = 0;
    int64_t k;
    if (vt != VT_F64)
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        if (f64_scaled(v[i].f, d, &k))
            continue;
        for (uint32_t e = d + 1; e <= SUM_MAX_SCALE; e++) {
            if (f64_scaled(v[i].f, e, &k)) {
                d = e;
                break;
            }
        }
    }
    return d;
}

/* Encode the summary record of a chunk's n points into out (reset first); *nh = its hours. */
static int hsum_encode(struct buf *out, enum vg_vtype vt, const int64_t *ts, const union vg_val *v,
                       uint32_t n, uint32_t *nh)
{
    uint8_t h[SUM_HDR_LEN + 20] = {SUM_MAGIC, SUM_VERSION, (uint8_t)vt, 0};
    uint32_t k = 0, d = chunk_scale(vt, v, n);
    uint64_t step = n > 1 ? (uint64_t)ts[1] - (uint64_t)ts[0] : 0;
    buf_reset(out);
    uint8_t *e = store__put_varint(h + SUM_HDR_LEN, step);
    *e++ = (uint8_t)d;
    int rc = buf_append(out, h, (size_t)(e - h));
    struct bw w = {out, 0, 0, rc};
    struct sum_st st;
    memset(&st, 0, sizeof(st));
    st.pts = ts[0];
    for (uint32_t a = 0; a < n && !w.rc;) {
        int64_t hend = store__sat_add(store__align_down(ts[a], BLOCK_HOUR_MS), BLOCK_HOUR_MS);
        uint32_t b = a + 1;
        while (b < n && ts[b] < hend)
            b++;
        hsum_put(&w, &st, vt, ts + a, v + a, b - a, d, step, k == 0);
        k++;
        a = b;
    }
    bw_put(&w, 0, 7); /* pad to a byte */
    rc = w.rc;
    if (rc)
        return rc;
    put32((uint8_t *)out->p + 4, k);
    uint8_t c[4];
    put32(c, crc32c(0, out->p, out->len));
    *nh = k;
    return buf_append(out, c, sizeof(c));
}

/* Read a scaled value k' = base + delta, refusing |k'| > SUM_KMAX. */
static int64_t rd_k(struct br *r, uint64_t base, uint64_t delta)
{
    int64_t k = (int64_t)(base + delta);
    if (k > SUM_KMAX || k < -SUM_KMAX)
        r->bad = 1;
    return k;
}

int block_hsum_decode(const struct block *b, const struct block_entry *e, int64_t lo, int64_t hi,
                      struct block_hsum **arr, uint32_t *n, uint32_t *cap)
{
    const uint8_t *p = b->map + e->soff;
    uint32_t len = e->slen;
    if (len < SUM_HDR_LEN + 6 || p[0] != SUM_MAGIC || p[1] != SUM_VERSION || p[3] != 0 ||
        (p[2] != VT_F64 && p[2] != VT_I64 && p[2] != VT_BOOL))
        return VG_ECORRUPT;
    if (crc32c(0, p, len - 4) != get32(p + len - 4))
        return VG_ECORRUPT;
    enum vg_vtype vt = (enum vg_vtype)p[2];
    uint32_t nh = get32(p + 4);
    if (nh == 0 || nh > e->n)
        return VG_ECORRUPT;
    uint64_t step = 0;
    size_t vl = store__get_varint(p + SUM_HDR_LEN, len - SUM_HDR_LEN - 4, &step);
    if (!vl || SUM_HDR_LEN + vl + 1 > len - 4)
        return VG_ECORRUPT;
    uint32_t d = p[SUM_HDR_LEN + vl];
    if (d > SUM_MAX_SCALE || (vt != VT_F64 && d != 0))
        return VG_ECORRUPT;
    struct br r = {p + SUM_HDR_LEN + vl + 1, p + len - 4, 0, 0, 0};
    struct sum_st st;
    memset(&st, 0, sizeof(st));
    st.pts = e->min_ts;
    uint64_t total = 0;
    int64_t prev_hour = 0;
    for (uint32_t k = 0; k < nh && !r.bad; k++) {
        struct block_hsum h;
        uint64_t c = st.pcount, df = k ? step : 0, span = (c - 1) * step;
        if (!br_get(&r, 1)) {
            c = st.pcount + (uint64_t)store__unzigzag(br_code(&r, &st.ema[F_CNT]));
            if (k)
                df = step + (uint64_t)store__unzigzag(br_code(&r, &st.ema[F_DF]));
            span = (c - 1) * step + (uint64_t)store__unzigzag(br_code(&r, &st.ema[F_SPAN]));
        } else if (k == 0) {
            return VG_ECORRUPT;
        }
        uint64_t room = (uint64_t)e->max_ts - (uint64_t)st.pts;
        if (r.bad || df > room || span > room - df || (k == 0) != (df == 0) || c == 0 ||
            c - 1 > span || c > (uint64_t)e->n - total)
            return VG_ECORRUPT;
        h.first_ts = (int64_t)((uint64_t)st.pts + df);
        h.last_ts = (int64_t)((uint64_t)h.first_ts + span);
        h.hour = store__align_down(h.first_ts, BLOCK_HOUR_MS);
        if (store__align_down(h.last_ts, BLOCK_HOUR_MS) != h.hour || (k && h.hour <= prev_hour))
            return VG_ECORRUPT;
        st.pcount = c;
        st.pts = h.last_ts;
        if (!br_get(&r, 1)) { /* raw */
            union vg_val f;
            f.i = (int64_t)br_get64(&r);
            if (c == 1) {
                block_hsum_fold(vt, &h.first_ts, &f, 1, &h);
            } else {
                union vg_val l, mn, mx;
                l.i = (int64_t)br_get64(&r);
                mn.i = (int64_t)br_get64(&r);
                mx.i = (int64_t)br_get64(&r);
                h.count = c;
                h.first = dbl_of(vt, f);
                h.last = dbl_of(vt, l);
                h.min = dbl_of(vt, mn);
                h.max = dbl_of(vt, mx);
                h.sum = bitsd(br_get64(&r));
                h.sumsq = bitsd(br_get64(&r));
            }
        } else {
            int64_t kf = rd_k(&r, (uint64_t)st.pk,
                              (uint64_t)store__unzigzag(br_code(&r, &st.ema[F_FIRST])));
            union vg_val f = val_of(vt, kf, d);
            if (c == 1) {
                st.pk = kf;
                block_hsum_fold(vt, &h.first_ts, &f, 1, &h);
            } else {
                int64_t kl = rd_k(&r, (uint64_t)kf,
                                  (uint64_t)store__unzigzag(br_code(&r, &st.ema[F_LAST])));
                st.pk = kl;
                uint64_t gmin = br_code(&r, &st.ema[F_MIN]), gmax = br_code(&r, &st.ema[F_MAX]);
                if (gmin > 2u * SUM_KMAX || gmax > 2u * SUM_KMAX)
                    r.bad = 1;
                int64_t kmin = rd_k(&r, (uint64_t)(kf < kl ? kf : kl), (uint64_t)0 - gmin);
                int64_t kmax = rd_k(&r, (uint64_t)(kf > kl ? kf : kl), gmax);
                if (r.bad)
                    return VG_ECORRUPT;
                int64_t s = (int64_t)((uint64_t)((int64_t)c * (kmin + kmax) / 2) +
                                      (uint64_t)store__unzigzag(br_code(&r, &st.ema[F_S])));
                if (r.bad || s > (int64_t)c * SUM_KMAX || s < -(int64_t)c * SUM_KMAX)
                    return VG_ECORRUPT;
                uint64_t sulp = (uint64_t)store__unzigzag(br_code(&r, &st.ema[F_SULP]));
                uint64_t var = br_code(&r, &st.ema[F_V]);
                uint64_t qulp = (uint64_t)store__unzigzag(br_code(&r, &st.ema[F_QULP]));
                int64_t m = s / (int64_t)c;
                /* q = sum k^2 = sum (k - m)^2 + 2 m s - c m^2 (mod 2^64: exact when valid) */
                uint64_t q = var + 2u * (uint64_t)m * (uint64_t)s - c * (uint64_t)m * (uint64_t)m;
                h.count = c;
                h.first = dbl_of(vt, f);
                h.last = dbl_of(vt, val_of(vt, kl, d));
                h.min = dbl_of(vt, val_of(vt, kmin, d));
                h.max = dbl_of(vt, val_of(vt, kmax, d));
                h.sum = bitsd(dbits((double)s / p10[d]) + sulp);
                h.sumsq = bitsd(dbits((double)(int64_t)q / p10sq[d]) + qulp);
            }
        }
        total += c;
        prev_hour = h.hour;
        if (!r.bad && h.hour >= lo && h.hour < hi) {
            if (*n == *cap) {
                *cap = *cap ? *cap * 2 : 64;
                *arr = vg_realloc(*arr, (size_t)*cap * sizeof(**arr));
            }
            (*arr)[(*n)++] = h;
        }
    }
    /* Only zero padding bits (fewer than 8) may follow the last hour. */
    if (r.bad || r.p != r.end || r.acc != 0 || total != e->n || st.pts != e->max_ts)
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
        put32(e + 36, x->slen);
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
