/*
** store/chunk.c: the column codec. Encodes the points of one series into a self-checking frame
** (header, timestamp column, value column, CRC-32C) and decodes it back bit for bit.
** Owns: nothing beyond scratch memory freed before each call returns.
** Borrows: the caller's arrays during chunk_encode(); chunk_decode() returns VT_STR values that
** point into the chunk bytes.
** Format: docs/format/chunk.md (keep the two in sync: every constant below is on disk).
** Thread: pure functions, any thread.
**
** Columns (all little-endian, bit streams LSB-first):
**   ts    : TS_REGULAR (constant step, zero bytes beyond the tag) or TS_DOD (delta-of-delta
**           "int column" over the n-1 deltas).
**   int   : zigzag varint first value, then blocks of 128 deltas, each block frame-of-reference
**           coded: u8 width, zigzag varint minimum delta, width-bit residuals.
**   double: tag 0..7 = decimal scale d, followed by an int column of llround(v*10^d);
**           tag 0x10 = Gorilla XOR stream (varint byte length, then the bits);
**           tag 0x11 = raw little-endian doubles (when XOR would be larger).
**   bool  : run lengths or a bitmap, whichever is smaller.
**   str   : chunk-local dictionary, then fixed-width indices.
**   geo   : two double columns (lat then lon), maximum decimal scale 7.
*/
#include "store/chunk.h"

#include "core/crc32c.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_MAGIC 0xC5
#define CHUNK_VERSION 1
#define HDR_LEN 28
#define CRC_LEN 4
#define BLOCK 128

enum ts_enc { TS_REGULAR = 0, TS_DOD = 1 };
enum dcol_enc { DCOL_XOR = 0x10, DCOL_RAW = 0x11 };
enum bool_enc { BOOL_RLE = 0, BOOL_BITS = 1 };

#define F64_MAX_SCALE 6
#define GEO_MAX_SCALE 7

static const double g_p10[8] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7};

/* ---- byte and bit primitives ---------------------------------------------------------- */

static inline uint64_t bswap_le64(uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return __builtin_bswap64(v);
#else
    return v;
#endif
}

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return bswap_le64(v);
}

static inline void store64(uint8_t *p, uint64_t v)
{
    v = bswap_le64(v);
    memcpy(p, &v, 8);
}

static inline uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static inline void put_u64(uint8_t *p, uint64_t v)
{
    put_u32(p, (uint32_t)v);
    put_u32(p + 4, (uint32_t)(v >> 32));
}

static inline uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

static inline double bitsd(uint64_t u)
{
    double d;
    memcpy(&d, &u, 8);
    return d;
}

static inline uint64_t zz_enc(int64_t x)
{
    return ((uint64_t)x << 1) ^ (0 - ((uint64_t)x >> 63));
}

static inline int64_t zz_dec(uint64_t u)
{
    return (int64_t)((u >> 1) ^ (0 - (u & 1)));
}

/* Bits needed to hold v (0 for v == 0). */
static inline unsigned bit_width(uint64_t v)
{
    return v ? 64u - (unsigned)__builtin_clzll(v) : 0u;
}

static inline size_t put_uvarint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static inline size_t uvarint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Read a varint from p[*pos..end); at most 10 bytes, no overflow past 64 bits. */
static inline int get_uvarint(const uint8_t *p, size_t end, size_t *pos, uint64_t *v)
{
    uint64_t x = 0;
    unsigned sh = 0;
    size_t i = *pos;
    for (;;) {
        if (i >= end)
            return VG_ECORRUPT;
        uint8_t b = p[i++];
        if (sh == 63 && b > 1)
            return VG_ECORRUPT;
        x |= (uint64_t)(b & 0x7f) << sh;
        if (!(b & 0x80))
            break;
        sh += 7;
    }
    *pos = i;
    *v = x;
    return VG_OK;
}

/* Pack cnt values of w bits (each < 2^w) LSB-first into dst. dst needs ceil(cnt*w/8) + 8 bytes
** of room; returns the ceil(cnt*w/8) bytes used. */
static size_t pack_bits(uint8_t *dst, const uint64_t *v, uint32_t cnt, unsigned w)
{
    uint64_t acc = 0;
    unsigned nb = 0;
    size_t o = 0;
    if (w == 0)
        return 0;
    for (uint32_t i = 0; i < cnt; i++) {
        uint64_t x = v[i];
        acc |= x << nb;
        if (nb + w >= 64) {
            store64(dst + o, acc);
            o += 8;
            acc = nb ? x >> (64 - nb) : 0;
            nb = nb + w - 64;
        } else {
            nb += w;
        }
    }
    while (nb > 0) {
        dst[o++] = (uint8_t)acc;
        acc >>= 8;
        nb = nb > 8 ? nb - 8 : 0;
    }
    return o;
}

/* The w bits (1..64) at bit offset bit of p[0..len). Caller guarantees bit + w <= len * 8. */
static inline uint64_t get_bits(const uint8_t *p, size_t len, uint64_t bit, unsigned w)
{
    size_t o = (size_t)(bit >> 3);
    unsigned sh = (unsigned)(bit & 7);
    uint64_t x;
    if (o + 8 <= len) {
        x = load64(p + o) >> sh;
        if (sh + w > 64)
            x |= (uint64_t)p[o + 8] << (64 - sh);
    } else {
        /* Near the end: at most 8 bytes remain, so sh + w <= 64 here. */
        x = 0;
        for (size_t k = 0; o + k < len; k++)
            x |= (uint64_t)p[o + k] << (8 * k);
        x >>= sh;
    }
    return w >= 64 ? x : x & ((UINT64_C(1) << w) - 1);
}

/* Scratch output: a struct buf with no cap, written through raw pointers after a reserve. */
static uint8_t *sres(struct buf *s, size_t n)
{
    if (buf_reserve(s, n))
        return NULL;
    return (uint8_t *)s->p + s->len;
}

/* ---- int column ------------------------------------------------------------------------ */

/* Append the int column of vals[0..m), m >= 1. */
static int intcol_encode(struct buf *s, const int64_t *vals, uint32_t m)
{
    uint64_t res[BLOCK];
    size_t nblocks = ((size_t)m - 1 + BLOCK - 1) / BLOCK;
    uint8_t *p = sres(s, 10 + nblocks * 11 + ((size_t)m - 1) * 8 + 16);
    if (!p)
        return VG_ETOOBIG;
    size_t o = put_uvarint(p, zz_enc(vals[0]));
    for (uint32_t i = 1; i < m; i += BLOCK) {
        uint32_t cnt = VG_MIN(m - i, (uint32_t)BLOCK);
        int64_t mn = INT64_MAX, mx = INT64_MIN;
        for (uint32_t k = 0; k < cnt; k++) {
            int64_t d = (int64_t)((uint64_t)vals[i + k] - (uint64_t)vals[i + k - 1]);
            res[k] = (uint64_t)d;
            mn = d < mn ? d : mn;
            mx = d > mx ? d : mx;
        }
        unsigned w = bit_width((uint64_t)mx - (uint64_t)mn);
        for (uint32_t k = 0; k < cnt; k++)
            res[k] -= (uint64_t)mn;
        p[o++] = (uint8_t)w;
        o += put_uvarint(p + o, zz_enc(mn));
        o += pack_bits(p + o, res, cnt, w);
    }
    s->len += o;
    return VG_OK;
}

/* Block-wise reader of an int column at p[pos..end). */
struct icr {
    const uint8_t *p;
    size_t end, pos;
    uint64_t acc;
    uint32_t left; /* values still to yield after the first */
};

static int icr_init(struct icr *r, const uint8_t *p, size_t end, size_t pos, uint32_t m,
                    int64_t *first)
{
    uint64_t u;
    int rc = get_uvarint(p, end, &pos, &u);
    if (rc)
        return rc;
    r->p = p;
    r->end = end;
    r->pos = pos;
    r->acc = (uint64_t)zz_dec(u);
    r->left = m - 1;
    *first = zz_dec(u);
    return VG_OK;
}

/* Yield the next block (up to BLOCK values) into out; *cnt gets the count. */
static inline int icr_block(struct icr *r, uint64_t *out, uint32_t *cnt)
{
    uint32_t c = VG_MIN(r->left, (uint32_t)BLOCK);
    uint64_t base;
    if (r->pos >= r->end)
        return VG_ECORRUPT;
    unsigned w = r->p[r->pos++];
    if (w > 64)
        return VG_ECORRUPT;
    int rc = get_uvarint(r->p, r->end, &r->pos, &base);
    if (rc)
        return rc;
    base = (uint64_t)zz_dec(base);
    size_t need = (size_t)(((uint64_t)c * w + 7) / 8);
    if (need > r->end - r->pos)
        return VG_ECORRUPT;
    uint64_t acc = r->acc;
    if (w == 0) {
        for (uint32_t k = 0; k < c; k++) {
            acc += base;
            out[k] = acc;
        }
    } else {
        const uint8_t *q = r->p + r->pos;
        size_t avail = r->end - r->pos;
        uint64_t bit = 0;
        for (uint32_t k = 0; k < c; k++) {
            acc += base + get_bits(q, avail, bit, w);
            bit += w;
            out[k] = acc;
        }
    }
    r->acc = acc;
    r->pos += need;
    r->left -= c;
    *cnt = c;
    return VG_OK;
}

/* ---- double column --------------------------------------------------------------------- */

/* Is v exactly k / 10^d for an integer k (|k| <= 2^53)? Compares bits, so NaN, Inf and -0.0
** fail. The decoder computes exactly (double)k / p, so a pass here is a bit-exact round trip. */
static inline int dec_ok(double v, double p, int64_t *k)
{
    double r = v * p;
    if (!(r >= -9007199254740992.0 && r <= 9007199254740992.0))
        return 0;
    int64_t q = (int64_t)(r >= 0 ? r + 0.5 : r - 0.5);
    *k = q;
    return dbits((double)q / p) == dbits(v);
}

/* Append the Gorilla XOR stream of x[0..m) (tag, varint byte length, bits). */
static int xor_encode(struct buf *s, const double *x, uint32_t m)
{
    size_t bound = (size_t)m * 10 + 16;
    uint8_t *p = sres(s, 1 + 10 + bound);
    if (!p)
        return VG_ETOOBIG;
    uint8_t *q = malloc(bound);
    if (!q)
        return VG_ENOMEM;
    uint64_t acc = 0;
    unsigned nb = 0;
    size_t o = 0;
#define XPUT(val, w)                                                                               \
    do {                                                                                           \
        uint64_t v_ = (val);                                                                       \
        unsigned w_ = (w);                                                                         \
        acc |= v_ << nb;                                                                           \
        if (nb + w_ >= 64) {                                                                       \
            store64(q + o, acc);                                                                   \
            o += 8;                                                                                \
            acc = nb ? v_ >> (64 - nb) : 0;                                                        \
            nb = nb + w_ - 64;                                                                     \
        } else {                                                                                   \
            nb += w_;                                                                              \
        }                                                                                          \
    } while (0)
    uint64_t prev = dbits(x[0]);
    unsigned pl = 0, pt = 0;
    int have = 0;
    XPUT(prev, 64);
    for (uint32_t i = 1; i < m; i++) {
        uint64_t cur = dbits(x[i]);
        uint64_t d = cur ^ prev;
        prev = cur;
        if (d == 0) {
            XPUT(0, 1);
            continue;
        }
        unsigned lead = (unsigned)__builtin_clzll(d), trail = (unsigned)__builtin_ctzll(d);
        if (lead > 31)
            lead = 31;
        if (have && lead >= pl && trail >= pt) {
            XPUT(1, 2); /* bits 1, 0: reuse the previous window */
            XPUT(d >> pt, 64 - pl - pt);
        } else {
            unsigned mlen = 64 - lead - trail;
            XPUT(3, 2); /* bits 1, 1: new window */
            XPUT(lead, 5);
            XPUT(mlen - 1, 6);
            XPUT(d >> trail, mlen);
            pl = lead;
            pt = trail;
            have = 1;
        }
    }
#undef XPUT
    while (nb > 0) {
        q[o++] = (uint8_t)acc;
        acc >>= 8;
        nb = nb > 8 ? nb - 8 : 0;
    }
    size_t n = 0;
    p[n++] = DCOL_XOR;
    n += put_uvarint(p + n, o);
    memcpy(p + n, q, o);
    s->len += n + o;
    free(q);
    return VG_OK;
}

/* Append the double column of x[0..m): decimal-scaled ints if every value has at most maxd
** decimals, otherwise (or if smaller) the XOR stream. k is scratch for m int64. */
static int dcol_encode(struct buf *s, const double *x, uint32_t m, unsigned maxd, int64_t *k)
{
    unsigned d = 0;
    uint32_t i = 0;
    int rc;
    size_t start = s->len;
    while (i < m) {
        if (dec_ok(x[i], g_p10[d], &k[i])) {
            i++;
            continue;
        }
        /* NaN, Inf and -0.0 fail at every scale: do not retry the whole column 7 times. */
        if (!isfinite(x[i]) || dbits(x[i]) == UINT64_C(0x8000000000000000))
            d = maxd;
        if (++d > maxd)
            break;
        i = 0; /* earlier values must be rescaled at the new d */
    }
    if (d <= maxd) {
        uint8_t *p = sres(s, 1);
        if (!p)
            return VG_ETOOBIG;
        p[0] = (uint8_t)d;
        s->len++;
        rc = intcol_encode(s, k, m);
        if (rc)
            return rc;
        /* XOR costs at least 64 bits + 1 bit per further value: skip it when already smaller. */
        size_t dec_len = s->len - start;
        if (dec_len <= 1 + 1 + 8 + ((size_t)m - 1) / 8)
            return VG_OK;
        rc = xor_encode(s, x, m);
        if (rc)
            return rc;
        size_t xor_len = s->len - start - dec_len;
        if (xor_len < dec_len)
            memmove(s->p + start, s->p + start + dec_len, xor_len);
        s->len = start + VG_MIN(dec_len, xor_len);
    } else {
        rc = xor_encode(s, x, m);
        if (rc)
            return rc;
    }
    /* Incompressible (random mantissas): plain 8 bytes per value beats XOR's overhead. */
    if (s->len - start > 1 + (size_t)m * 8) {
        s->len = start;
        uint8_t *p = sres(s, 1 + (size_t)m * 8);
        if (!p)
            return VG_ETOOBIG;
        p[0] = DCOL_RAW;
        for (uint32_t j = 0; j < m; j++)
            store64(p + 1 + (size_t)j * 8, dbits(x[j]));
        s->len += 1 + (size_t)m * 8;
    }
    return VG_OK;
}

/* Decode one double column into the field at byte offset off of v[0..m). */
static int dcol_decode(const uint8_t *p, size_t end, size_t *pos, union vg_val *v, size_t off,
                       uint32_t m)
{
    size_t o = *pos;
    int rc;
#define DST(i) ((double *)((char *)&v[(i)] + off))
    if (o >= end)
        return VG_ECORRUPT;
    unsigned tag = p[o++];
    if (tag <= GEO_MAX_SCALE) {
        const double sc = g_p10[tag];
        struct icr r;
        int64_t first;
        uint64_t tmp[BLOCK];
        rc = icr_init(&r, p, end, o, m, &first);
        if (rc)
            return rc;
        *DST(0) = (double)first / sc;
        for (uint32_t i = 1; i < m;) {
            uint32_t c;
            rc = icr_block(&r, tmp, &c);
            if (rc)
                return rc;
            for (uint32_t j = 0; j < c; j++)
                *DST(i + j) = (double)(int64_t)tmp[j] / sc;
            i += c;
        }
        *pos = r.pos;
        return VG_OK;
    }
    if (tag == DCOL_RAW) {
        if ((uint64_t)m * 8 > end - o)
            return VG_ECORRUPT;
        for (uint32_t i = 0; i < m; i++)
            *DST(i) = bitsd(load64(p + o + (size_t)i * 8));
        *pos = o + (size_t)m * 8;
        return VG_OK;
    }
    if (tag != DCOL_XOR)
        return VG_ECORRUPT;
    uint64_t nbytes;
    rc = get_uvarint(p, end, &o, &nbytes);
    if (rc)
        return rc;
    if (nbytes > end - o || nbytes < 8)
        return VG_ECORRUPT;
    const uint8_t *q = p + o;
    size_t qlen = (size_t)nbytes;
    uint64_t nbits = (uint64_t)qlen * 8, bit = 0;
#define XGET(dst, w)                                                                               \
    do {                                                                                           \
        if (bit + (w) > nbits)                                                                     \
            return VG_ECORRUPT;                                                                    \
        (dst) = get_bits(q, qlen, bit, (w));                                                       \
        bit += (w);                                                                                \
    } while (0)
    uint64_t prev, b;
    unsigned pl = 0, pt = 0;
    int have = 0;
    XGET(prev, 64);
    *DST(0) = bitsd(prev);
    for (uint32_t i = 1; i < m; i++) {
        XGET(b, 1);
        if (b) {
            uint64_t mb;
            XGET(b, 1);
            if (b) {
                uint64_t lead, ml;
                XGET(lead, 5);
                XGET(ml, 6);
                unsigned mlen = (unsigned)ml + 1;
                if (lead + mlen > 64)
                    return VG_ECORRUPT;
                pl = (unsigned)lead;
                pt = 64 - pl - mlen;
                have = 1;
            } else if (!have) {
                return VG_ECORRUPT;
            }
            XGET(mb, 64 - pl - pt);
            prev ^= mb << pt;
        }
        *DST(i) = bitsd(prev);
    }
#undef XGET
#undef DST
    /* The stream must end in its last byte (padding only). */
    if ((bit + 7) / 8 != nbits / 8)
        return VG_ECORRUPT;
    *pos = o + qlen;
    return VG_OK;
}

/* ---- timestamp column ------------------------------------------------------------------ */

static int ts_encode(struct buf *s, const int64_t *ts, uint32_t n)
{
    int regular = 1;
    for (uint32_t i = 1; i < n; i++) {
        if (ts[i] <= ts[i - 1])
            return VG_EINVAL;
        if ((uint64_t)ts[i] - (uint64_t)ts[i - 1] != (uint64_t)ts[1] - (uint64_t)ts[0])
            regular = 0;
    }
    uint8_t *p = sres(s, 1);
    if (!p)
        return VG_ETOOBIG;
    if (regular) {
        p[0] = TS_REGULAR;
        s->len++;
        return VG_OK;
    }
    p[0] = TS_DOD;
    s->len++;
    int64_t *d = malloc(sizeof(*d) * (n - 1));
    if (!d)
        return VG_ENOMEM;
    for (uint32_t i = 1; i < n; i++)
        d[i - 1] = (int64_t)((uint64_t)ts[i] - (uint64_t)ts[i - 1]);
    int rc = intcol_encode(s, d, n - 1);
    free(d);
    return rc;
}

/* prev + delta as an int64, if it is strictly greater than prev (delta read as unsigned). */
static inline int ts_step(int64_t prev, uint64_t delta, int64_t *next)
{
    int64_t t = (int64_t)((uint64_t)prev + delta);
    *next = t;
    return delta != 0 && t > prev;
}

static int ts_decode(const uint8_t *p, size_t end, size_t *pos, const struct chunk_info *ci,
                     int64_t *ts)
{
    size_t o = *pos;
    uint32_t n = ci->n;
    int rc;
    if (o >= end)
        return VG_ECORRUPT;
    unsigned tag = p[o++];
    ts[0] = ci->min_ts;
    if (tag == TS_REGULAR) {
        if (n > 1) {
            uint64_t span = (uint64_t)ci->max_ts - (uint64_t)ci->min_ts;
            uint64_t step = span / (n - 1);
            if (step == 0 || step * (n - 1) != span)
                return VG_ECORRUPT;
            for (uint32_t i = 1; i < n; i++)
                ts[i] = (int64_t)((uint64_t)ci->min_ts + step * i);
        }
        *pos = o;
        return VG_OK;
    }
    if (tag != TS_DOD || n < 2)
        return VG_ECORRUPT;
    struct icr r;
    int64_t first;
    uint64_t tmp[BLOCK];
    rc = icr_init(&r, p, end, o, n - 1, &first);
    if (rc)
        return rc;
    if (!ts_step(ts[0], (uint64_t)first, &ts[1]))
        return VG_ECORRUPT;
    for (uint32_t i = 2; i < n;) {
        uint32_t c;
        rc = icr_block(&r, tmp, &c);
        if (rc)
            return rc;
        for (uint32_t j = 0; j < c; j++) {
            if (!ts_step(ts[i + j - 1], tmp[j], &ts[i + j]))
                return VG_ECORRUPT;
        }
        i += c;
    }
    if (ts[n - 1] != ci->max_ts)
        return VG_ECORRUPT;
    *pos = r.pos;
    return VG_OK;
}

/* ---- value columns --------------------------------------------------------------------- */

static int i64_encode(struct buf *s, const union vg_val *v, uint32_t n)
{
    int64_t *k = malloc(sizeof(*k) * n);
    if (!k)
        return VG_ENOMEM;
    for (uint32_t i = 0; i < n; i++)
        k[i] = v[i].i;
    int rc = intcol_encode(s, k, n);
    free(k);
    return rc;
}

static int i64_decode(const uint8_t *p, size_t end, size_t *pos, union vg_val *v, uint32_t n)
{
    struct icr r;
    int64_t first;
    uint64_t tmp[BLOCK];
    int rc = icr_init(&r, p, end, *pos, n, &first);
    if (rc)
        return rc;
    v[0].i = first;
    for (uint32_t i = 1; i < n;) {
        uint32_t c;
        rc = icr_block(&r, tmp, &c);
        if (rc)
            return rc;
        for (uint32_t j = 0; j < c; j++)
            v[i + j].i = (int64_t)tmp[j];
        i += c;
    }
    *pos = r.pos;
    return VG_OK;
}

static int f64_encode(struct buf *s, const union vg_val *v, uint32_t n, size_t off,
                      unsigned maxd)
{
    double *x = malloc(sizeof(*x) * n);
    int64_t *k = malloc(sizeof(*k) * n);
    int rc = VG_ENOMEM;
    if (!x || !k)
        goto out;
    for (uint32_t i = 0; i < n; i++)
        memcpy(&x[i], (const char *)&v[i] + off, sizeof(double));
    rc = dcol_encode(s, x, n, maxd, k);
out:
    free(x);
    free(k);
    return rc;
}

static int bool_encode(struct buf *s, const union vg_val *v, uint32_t n)
{
    size_t runs_len = 0;
    uint32_t nruns = 0, run = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (v[i].i != 0 && v[i].i != 1)
            return VG_EINVAL;
        if (i > 0 && v[i].i != v[i - 1].i) {
            runs_len += uvarint_len(run);
            nruns++;
            run = 0;
        }
        run++;
    }
    runs_len += uvarint_len(run);
    nruns++;
    size_t rle = 1 + 1 + uvarint_len(nruns) + runs_len;
    size_t bits = 1 + ((size_t)n + 7) / 8;
    uint8_t *p = sres(s, VG_MIN(rle, bits) + 8);
    if (!p)
        return VG_ETOOBIG;
    size_t o = 0;
    if (rle <= bits) {
        p[o++] = BOOL_RLE;
        p[o++] = (uint8_t)v[0].i;
        o += put_uvarint(p + o, nruns);
        run = 0;
        for (uint32_t i = 0; i < n; i++) {
            if (i > 0 && v[i].i != v[i - 1].i) {
                o += put_uvarint(p + o, run);
                run = 0;
            }
            run++;
        }
        o += put_uvarint(p + o, run);
    } else {
        p[o++] = BOOL_BITS;
        memset(p + o, 0, bits - 1);
        for (uint32_t i = 0; i < n; i++)
            p[o + i / 8] |= (uint8_t)(v[i].i << (i % 8));
        o += bits - 1;
    }
    s->len += o;
    return VG_OK;
}

static int bool_decode(const uint8_t *p, size_t end, size_t *pos, union vg_val *v, uint32_t n)
{
    size_t o = *pos;
    int rc;
    if (o >= end)
        return VG_ECORRUPT;
    unsigned tag = p[o++];
    if (tag == BOOL_BITS) {
        size_t need = ((size_t)n + 7) / 8;
        if (need > end - o)
            return VG_ECORRUPT;
        for (uint32_t i = 0; i < n; i++)
            v[i].i = (p[o + i / 8] >> (i % 8)) & 1;
        *pos = o + need;
        return VG_OK;
    }
    if (tag != BOOL_RLE || o >= end || p[o] > 1)
        return VG_ECORRUPT;
    int64_t val = p[o++];
    uint64_t nruns, run;
    rc = get_uvarint(p, end, &o, &nruns);
    if (rc)
        return rc;
    if (nruns == 0 || nruns > n)
        return VG_ECORRUPT;
    uint32_t at = 0;
    for (uint64_t r = 0; r < nruns; r++) {
        rc = get_uvarint(p, end, &o, &run);
        if (rc)
            return rc;
        if (run == 0 || run > n - at)
            return VG_ECORRUPT;
        for (uint64_t j = 0; j < run; j++)
            v[at++].i = val;
        val ^= 1;
    }
    if (at != n)
        return VG_ECORRUPT;
    *pos = o;
    return VG_OK;
}

static inline uint32_t str_hash(const char *p, uint32_t len)
{
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)p[i]) * 16777619u;
    return h;
}

static inline int str_eq(const union vg_val *a, const union vg_val *b)
{
    return a->s.len == b->s.len && (a->s.len == 0 || memcmp(a->s.p, b->s.p, a->s.len) == 0);
}

static int str_encode(struct buf *s, const union vg_val *v, uint32_t n)
{
    size_t tsize = 16;
    while (tsize < (size_t)n * 2)
        tsize *= 2;
    uint32_t *table = calloc(tsize, sizeof(*table)); /* 1 + index of the dict entry, 0 = empty */
    uint32_t *dict = malloc(sizeof(*dict) * n);      /* point index of each distinct string */
    uint64_t *idx = malloc(sizeof(*idx) * n);
    uint32_t ndict = 0;
    size_t dict_bytes = 0;
    int rc = VG_ENOMEM;
    if (!table || !dict || !idx)
        goto out;
    rc = VG_EINVAL;
    for (uint32_t i = 0; i < n; i++) {
        if (v[i].s.len && !v[i].s.p)
            goto out;
        size_t h = str_hash(v[i].s.p, v[i].s.len) & (tsize - 1);
        while (table[h] && !str_eq(&v[dict[table[h] - 1]], &v[i]))
            h = (h + 1) & (tsize - 1);
        if (!table[h]) {
            dict[ndict++] = i;
            table[h] = ndict;
            dict_bytes += 5 + (size_t)v[i].s.len;
        }
        idx[i] = table[h] - 1;
    }
    unsigned w = bit_width(ndict - 1);
    size_t packed = ((size_t)n * w + 7) / 8;
    rc = VG_ETOOBIG;
    uint8_t *p = sres(s, 5 + dict_bytes + 1 + packed + 8);
    if (!p)
        goto out;
    size_t o = put_uvarint(p, ndict);
    for (uint32_t j = 0; j < ndict; j++) {
        const union vg_val *e = &v[dict[j]];
        o += put_uvarint(p + o, e->s.len);
        if (e->s.len)
            memcpy(p + o, e->s.p, e->s.len);
        o += e->s.len;
    }
    p[o++] = (uint8_t)w;
    o += pack_bits(p + o, idx, n, w);
    s->len += o;
    rc = VG_OK;
out:
    free(table);
    free(dict);
    free(idx);
    return rc;
}

static int str_decode(const uint8_t *p, size_t end, size_t *pos, union vg_val *v, uint32_t n)
{
    size_t o = *pos;
    uint64_t ndict, len;
    int rc = get_uvarint(p, end, &o, &ndict);
    if (rc)
        return rc;
    /* Each entry takes at least one byte: this bounds the allocation by the input size. */
    if (ndict == 0 || ndict > n || ndict > end - o)
        return VG_ECORRUPT;
    size_t *eoff = malloc(sizeof(*eoff) * (size_t)ndict);
    uint32_t *elen = malloc(sizeof(*elen) * (size_t)ndict);
    rc = VG_ENOMEM;
    if (!eoff || !elen)
        goto out;
    rc = VG_ECORRUPT;
    for (uint64_t j = 0; j < ndict; j++) {
        if (get_uvarint(p, end, &o, &len))
            goto out;
        if (len > end - o || len > UINT32_MAX)
            goto out;
        eoff[j] = o;
        elen[j] = (uint32_t)len;
        o += (size_t)len;
    }
    if (o >= end)
        goto out;
    unsigned w = p[o++];
    if (w != bit_width(ndict - 1))
        goto out;
    size_t need = ((size_t)n * w + 7) / 8;
    if (need > end - o)
        goto out;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t k = w ? get_bits(p + o, end - o, (uint64_t)i * w, w) : 0;
        if (k >= ndict)
            goto out;
        v[i].s.p = (const char *)p + eoff[k];
        v[i].s.len = elen[k];
    }
    *pos = o + need;
    rc = VG_OK;
out:
    free(eoff);
    free(elen);
    return rc;
}

/* ---- frame ----------------------------------------------------------------------------- */

int chunk_encode(enum vg_vtype vt, const int64_t *ts, const union vg_val *v, uint32_t n,
                 struct buf *out)
{
    struct buf s;
    int rc = VG_EINVAL;
    buf_init(&s, 0);
    if (n == 0 || n > CHUNK_MAX_POINTS || !ts || !v || vt < VT_F64 || vt > VT_GEO)
        goto out;
    rc = VG_ETOOBIG;
    if (!sres(&s, HDR_LEN + 64))
        goto out;
    s.len = HDR_LEN;
    rc = ts_encode(&s, ts, n);
    if (rc)
        goto out;
    switch (vt) {
    case VT_F64:
        rc = f64_encode(&s, v, n, offsetof(union vg_val, f), F64_MAX_SCALE);
        break;
    case VT_I64:
        rc = i64_encode(&s, v, n);
        break;
    case VT_BOOL:
        rc = bool_encode(&s, v, n);
        break;
    case VT_STR:
        rc = str_encode(&s, v, n);
        break;
    case VT_GEO:
        rc = f64_encode(&s, v, n, offsetof(union vg_val, geo.lat), GEO_MAX_SCALE);
        if (!rc)
            rc = f64_encode(&s, v, n, offsetof(union vg_val, geo.lon), GEO_MAX_SCALE);
        break;
    default:
        rc = VG_EINVAL;
        break;
    }
    if (rc)
        goto out;
    rc = VG_ETOOBIG;
    size_t body = s.len - HDR_LEN;
    if (body > UINT32_MAX || !sres(&s, CRC_LEN))
        goto out;
    uint8_t *h = (uint8_t *)s.p;
    h[0] = CHUNK_MAGIC;
    h[1] = CHUNK_VERSION;
    h[2] = (uint8_t)vt;
    h[3] = 0;
    put_u32(h + 4, n);
    put_u64(h + 8, (uint64_t)ts[0]);
    put_u64(h + 16, (uint64_t)ts[n - 1]);
    put_u32(h + 24, (uint32_t)body);
    put_u32(h + s.len, crc32c(0, h, s.len));
    s.len += CRC_LEN;
    rc = buf_append(out, s.p, s.len);
out:
    buf_release(&s);
    return rc;
}

int chunk_info(const void *p, size_t len, struct chunk_info *ci)
{
    const uint8_t *b = p;
    if (!p || len < HDR_LEN + CRC_LEN)
        return VG_ECORRUPT;
    if (b[0] != CHUNK_MAGIC || b[1] != CHUNK_VERSION || b[3] != 0)
        return VG_ECORRUPT;
    unsigned vt = b[2];
    uint32_t n = get_u32(b + 4);
    int64_t min_ts = (int64_t)get_u64(b + 8), max_ts = (int64_t)get_u64(b + 16);
    uint64_t total = (uint64_t)HDR_LEN + get_u32(b + 24) + CRC_LEN;
    if (vt < VT_F64 || vt > VT_GEO || n == 0 || n > CHUNK_MAX_POINTS)
        return VG_ECORRUPT;
    /* Strictly increasing timestamps: n points need a span of at least n - 1. */
    if (min_ts > max_ts || (uint64_t)max_ts - (uint64_t)min_ts < n - 1u)
        return VG_ECORRUPT;
    if (n == 1 && min_ts != max_ts)
        return VG_ECORRUPT;
    if (total > len)
        return VG_ECORRUPT;
    if (crc32c(0, b, (size_t)total - CRC_LEN) != get_u32(b + total - CRC_LEN))
        return VG_ECORRUPT;
    ci->vt = (enum vg_vtype)vt;
    ci->n = n;
    ci->min_ts = min_ts;
    ci->max_ts = max_ts;
    ci->len = (size_t)total;
    return VG_OK;
}

int chunk_decode(const void *p, size_t len, int64_t *ts, union vg_val *v, uint32_t cap,
                 uint32_t *n)
{
    struct chunk_info ci;
    int rc = chunk_info(p, len, &ci);
    if (rc)
        return rc;
    if (cap < ci.n)
        return VG_ETOOBIG;
    const uint8_t *b = p;
    size_t end = ci.len - CRC_LEN, pos = HDR_LEN;
    rc = ts_decode(b, end, &pos, &ci, ts);
    if (rc)
        return rc;
    switch (ci.vt) {
    case VT_F64:
        rc = dcol_decode(b, end, &pos, v, offsetof(union vg_val, f), ci.n);
        break;
    case VT_I64:
        rc = i64_decode(b, end, &pos, v, ci.n);
        break;
    case VT_BOOL:
        rc = bool_decode(b, end, &pos, v, ci.n);
        break;
    case VT_STR:
        rc = str_decode(b, end, &pos, v, ci.n);
        break;
    case VT_GEO:
        rc = dcol_decode(b, end, &pos, v, offsetof(union vg_val, geo.lat), ci.n);
        if (!rc)
            rc = dcol_decode(b, end, &pos, v, offsetof(union vg_val, geo.lon), ci.n);
        break;
    default:
        rc = VG_ECORRUPT;
        break;
    }
    if (rc)
        return rc;
    if (pos != end)
        return VG_ECORRUPT;
    *n = ci.n;
    return VG_OK;
}
