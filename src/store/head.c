/*
** store/head.c: the in-memory head (see head.h for what it owns and the priority rules).
** The raw buffer keeps ts and values in two parallel arrays so an in-order append is two stores;
** an out-of-order point is a binary search plus a memmove. Sealing hands the buffer to
** chunk_encode and frees it, so a series holds at most seal_at raw points (16 or 24 bytes each)
** and everything older lives compressed. STR values are interned store-wide: raw buffers and the
** latest value hold pointers into the intern table, never a copy.
** NEEDSWORK: interned strings are never freed before close; a series of unique strings grows it.
*/
#include "store/head.h"

#include "store/chunk.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static uint32_t str_hash(const char *p, uint32_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (uint32_t i = 0; i < len; i++) {
        h ^= (unsigned char)p[i];
        h *= 16777619u;
    }
    return h;
}

void head_strs_init(struct head_strs *t)
{
    memset(t, 0, sizeof(*t));
}

void head_strs_release(struct head_strs *t)
{
    for (size_t i = 0; i < t->cap; i++) {
        struct head_str *e = t->tab[i];
        while (e) {
            struct head_str *nx = e->next;
            free(e);
            e = nx;
        }
    }
    free(t->tab);
    memset(t, 0, sizeof(*t));
}

static void strs_grow(struct head_strs *t)
{
    size_t ncap = t->cap ? t->cap * 2 : 256;
    struct head_str **nt = vg_calloc(ncap, sizeof(*nt));
    for (size_t i = 0; i < t->cap; i++) {
        struct head_str *e = t->tab[i];
        while (e) {
            struct head_str *nx = e->next;
            size_t k = e->hash & (ncap - 1);
            e->next = nt[k];
            nt[k] = e;
            e = nx;
        }
    }
    free(t->tab);
    t->tab = nt;
    t->cap = ncap;
}

const struct head_str *head_strs_intern(struct head_strs *t, const char *p, uint32_t len)
{
    uint32_t h = str_hash(p, len);
    if (t->cap) {
        for (struct head_str *e = t->tab[h & (t->cap - 1)]; e; e = e->next) {
            if (e->hash == h && e->len == len && memcmp(e->s, p, len) == 0)
                return e;
        }
    }
    if (!t->cap || (t->n + 1) * 4 > t->cap * 3)
        strs_grow(t);
    struct head_str *e = vg_malloc(sizeof(*e) + len + 1);
    e->len = len;
    e->hash = h;
    if (len)
        memcpy(e->s, p, len);
    e->s[len] = '\0';
    size_t k = h & (t->cap - 1);
    e->next = t->tab[k];
    t->tab[k] = e;
    t->n++;
    t->bytes += sizeof(*e) + len + 1;
    return e;
}

void head_scratch_init(struct head_scratch *sc)
{
    sc->v = NULL;
    sc->cap = 0;
    buf_init(&sc->enc, 0);
}

void head_scratch_release(struct head_scratch *sc)
{
    free(sc->v);
    sc->v = NULL;
    sc->cap = 0;
    buf_release(&sc->enc);
}

void head_series_init(struct head_series *hs, uint32_t sid, uint32_t group, enum vg_vtype vt)
{
    memset(hs, 0, sizeof(*hs));
    hs->sid = sid;
    hs->group = group;
    hs->vt = vt;
    hs->esize = vt == VT_GEO ? 16 : 8;
    hs->next_gen = 1;
}

void head_series_release(struct head_series *hs)
{
    free(hs->rts);
    free(hs->rv);
    for (uint32_t i = 0; i < hs->nch; i++)
        free(hs->ch[i].data);
    free(hs->ch);
    hs->rts = NULL;
    hs->rv = NULL;
    hs->ch = NULL;
    hs->rn = hs->rcap = hs->nch = hs->chcap = hs->nfrozen = 0;
}

static void raw_put(struct head_series *hs, uint32_t i, const union vg_val *v)
{
    unsigned char *dst = hs->rv + (size_t)i * hs->esize;
    switch (hs->vt) {
    case VT_GEO:
        memcpy(dst, &v->geo, 16);
        break;
    case VT_STR: {
        /* v->s.p is the s[] member of an interned head_str: store the entry pointer. */
        const struct head_str *e =
            (const struct head_str *)(const void *)(v->s.p - offsetof(struct head_str, s));
        memcpy(dst, &e, sizeof(e));
        break;
    }
    default:
        memcpy(dst, &v->i, 8);
        break;
    }
}

void head_series_raw_get(const struct head_series *hs, uint32_t i, union vg_val *v)
{
    const unsigned char *src = hs->rv + (size_t)i * hs->esize;
    switch (hs->vt) {
    case VT_GEO:
        memcpy(&v->geo, src, 16);
        break;
    case VT_STR: {
        const struct head_str *e;
        memcpy(&e, src, sizeof(e));
        v->s.p = e->s;
        v->s.len = e->len;
        break;
    }
    default:
        memcpy(&v->i, src, 8);
        break;
    }
}

int head_series_insert(struct head_series *hs, int64_t ts, const union vg_val *v, uint32_t seal_at,
                       struct head_scratch *sc)
{
    uint32_t pos = hs->rn;
    if (hs->rn && ts <= hs->rts[hs->rn - 1]) {
        uint32_t lo = 0, hi = hs->rn;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (hs->rts[mid] < ts)
                lo = mid + 1;
            else
                hi = mid;
        }
        pos = lo;
        if (hs->rts[pos] == ts) {
            raw_put(hs, pos, v);
            goto latest;
        }
    }
    if (hs->rn == hs->rcap) {
        uint32_t nc = hs->rcap ? hs->rcap * 2 : 8;
        if (seal_at && nc > seal_at && hs->rcap < seal_at)
            nc = seal_at;
        hs->rts = vg_realloc(hs->rts, (size_t)nc * sizeof(int64_t));
        hs->rv = vg_realloc(hs->rv, (size_t)nc * hs->esize);
        hs->rcap = nc;
    }
    if (pos < hs->rn) {
        memmove(hs->rts + pos + 1, hs->rts + pos, (size_t)(hs->rn - pos) * sizeof(int64_t));
        memmove(hs->rv + (size_t)(pos + 1) * hs->esize, hs->rv + (size_t)pos * hs->esize,
                (size_t)(hs->rn - pos) * hs->esize);
    }
    hs->rts[pos] = ts;
    raw_put(hs, pos, v);
    hs->rn++;
latest:
    if (!hs->has_last || ts >= hs->last_ts) {
        hs->has_last = 1;
        hs->last_ts = ts;
        hs->last_v = *v;
    }
    if (seal_at && hs->rn >= seal_at)
        return head_series_seal(hs, sc);
    return VG_OK;
}

void head_series_add_chunk(struct head_series *hs, uint8_t *data, uint32_t len, uint32_t n,
                           int64_t min_ts, int64_t max_ts)
{
    if (hs->nch == hs->chcap) {
        hs->chcap = hs->chcap ? hs->chcap * 2 : 4;
        hs->ch = vg_realloc(hs->ch, (size_t)hs->chcap * sizeof(*hs->ch));
    }
    struct head_chunk *c = &hs->ch[hs->nch++];
    c->data = data;
    c->len = len;
    c->n = n;
    c->gen = hs->next_gen++;
    c->min_ts = min_ts;
    c->max_ts = max_ts;
}

int head_series_seal(struct head_series *hs, struct head_scratch *sc)
{
    int rc = VG_OK;
    if (!hs->rn)
        goto out;
    if (sc->cap < hs->rn) {
        free(sc->v);
        sc->cap = hs->rn;
        sc->v = vg_malloc((size_t)sc->cap * sizeof(*sc->v));
    }
    for (uint32_t i = 0; i < hs->rn; i++)
        head_series_raw_get(hs, i, &sc->v[i]);
    buf_reset(&sc->enc);
    rc = chunk_encode(hs->vt, hs->rts, sc->v, hs->rn, &sc->enc);
    if (rc)
        goto out;
    uint8_t *data = vg_malloc(sc->enc.len);
    memcpy(data, sc->enc.p, sc->enc.len);
    head_series_add_chunk(hs, data, (uint32_t)sc->enc.len, hs->rn, hs->rts[0], hs->rts[hs->rn - 1]);
    free(hs->rts);
    free(hs->rv);
    hs->rts = NULL;
    hs->rv = NULL;
    hs->rn = hs->rcap = 0;
out:
    return rc;
}

void head_series_drop_chunks(struct head_series *hs, uint32_t k)
{
    if (k > hs->nch)
        k = hs->nch;
    for (uint32_t i = 0; i < k; i++)
        free(hs->ch[i].data);
    memmove(hs->ch, hs->ch + k, (size_t)(hs->nch - k) * sizeof(*hs->ch));
    hs->nch -= k;
    hs->nfrozen = hs->nfrozen > k ? hs->nfrozen - k : 0;
}

uint64_t head_series_points(const struct head_series *hs)
{
    uint64_t n = hs->rn;
    for (uint32_t i = 0; i < hs->nch; i++)
        n += hs->ch[i].n;
    return n;
}

uint64_t head_series_bytes(const struct head_series *hs)
{
    uint64_t b = sizeof(*hs) + (uint64_t)hs->rcap * (8 + hs->esize);
    b += (uint64_t)hs->chcap * sizeof(struct head_chunk);
    for (uint32_t i = 0; i < hs->nch; i++)
        b += hs->ch[i].len;
    return b;
}
