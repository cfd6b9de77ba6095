/*
** meta/catalog.c: the series catalogue in memory (implements meta/catalog.h).
** Owns: the intern table and its string slabs, the tenants (each with its entity table, its
** groups by type and its series sorted by (entity, attr)), the global series hash table
** keyed by (tenant, entity, attr), the lists of rows not yet persisted, and two locks.
** Borrows: struct meta (rows are persisted by catalog_sync through meta_commit) and
** struct store (every series is declared with store_series_add).
**
** Hot path: catalog_resolve() of an existing series takes the read lock, hashes the three
** names (a 64-bit multiply-fold hash over 16-byte blocks, seeded per catalogue), probes the
** open-addressing table and compares the entity's type and tags; it never allocates. Any
** creation or tag change retakes the lock in write mode and re-checks (another thread may
** have done it meanwhile).
** Durability: creations are queued; catalog_sync() swaps the queue out under the write lock
** and commits it in one SQLite transaction. sync_mu serialises the syncs so that a sync that
** starts after a resolve returned cannot return 0 before that resolve's rows are committed
** (an earlier sync still holding them finishes first, or puts them back on failure).
** Lock order: sync_mu, then lock; store_series_add() is called under lock (the store never
** calls the catalogue). A catalog_select() callback runs under the read lock: it may call the
** read-only functions, never catalog_resolve() or catalog_sync() (self-deadlock).
** Thread: every function is thread-safe.
*/
#include "meta/catalog.h"

#include "core/utf8.h"
#include "core/clock.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAT_NAME_MAX 256
#define CAT_TAGS_MAX 64
#define CAT_GROUPS_MAX (1u << 24) /* group ids are dense from 1; bigger ones on disk are corrupt */
#define SLAB_SIZE (64u * 1024u)

/* ---- hashing ------------------------------------------------------------------------------ */

#define H0 0x9e3779b97f4a7c15ull
#define H1 0xbf58476d1ce4e5b9ull
#define H2 0x94d049bb133111ebull

static inline uint64_t rd64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static inline uint64_t rd32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/* 64x64 -> 128 multiply, folded. The secret seed is in every second operand so that an input
** cannot zero it on purpose. */
static inline uint64_t mix(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t hash_bytes(uint64_t h, uint64_t seed, const char *p, size_t n)
{
    uint64_t a, b;
    h = mix(h ^ n ^ H0, seed ^ H1);
    while (n > 16) {
        h = mix(rd64(p) ^ h ^ H1, rd64(p + 8) ^ seed ^ H2);
        p += 16;
        n -= 16;
    }
    if (n >= 8) {
        a = rd64(p);
        b = rd64(p + n - 8);
    } else if (n >= 4) {
        a = rd32(p);
        b = rd32(p + n - 4);
    } else if (n > 0) {
        a = ((uint64_t)(uint8_t)p[0] << 16) | ((uint64_t)(uint8_t)p[n >> 1] << 8) |
            (uint8_t)p[n - 1];
        b = 0;
    } else {
        a = b = 0;
    }
    return mix(a ^ h ^ H1, b ^ seed ^ H2);
}

/* Equality of short byte strings, inline: names are mostly under 64 bytes and a call to
** memcmp per name costs as much as the rest of a lookup. */
static inline int bytes_eq(const char *a, uint32_t al, const char *b, size_t bl)
{
    if (al != bl)
        return 0;
    while (bl >= 8) {
        if (rd64(a) != rd64(b))
            return 0;
        a += 8;
        b += 8;
        bl -= 8;
    }
    if (bl >= 4)
        return rd32(a) == rd32(b) && rd32(a + bl - 4) == rd32(b + bl - 4);
    for (size_t i = 0; i < bl; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

static int bytes_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c)
        return c;
    return al < bl ? -1 : al > bl;
}

/* ---- records ------------------------------------------------------------------------------ */

struct cat_tenant;

struct cat_group {
    uint32_t id;
    struct cat_tenant *t;
    const char *type; /* interned */
    uint32_t typelen;
    int pending;
    struct cat_series **v; /* this type's series: v[0..sorted) sorted by (entity, attr),
                              v[sorted..n) appended since (see vec_settle) */
    uint32_t n, cap, sorted;
};

struct cat_entity {
    const char *id; /* interned */
    uint32_t idlen;
    struct cat_tenant *t;
    struct cat_group *group; /* the entity's type is group->type */
    struct vg_tag *tags;     /* sorted by key; one block with the strings; NULL if none */
    uint32_t ntags;
    int pending;
};

/* A lookup reads the slot, this record (entity id inline, tags mirrored from the entity) and
** the tag block: the tenant, group and attr strings are shared and stay in cache. */
struct cat_series {
    uint32_t sid;
    enum vg_vtype vt;
    uint16_t el, al;
    int pending;
    struct cat_tenant *t;
    struct cat_group *g; /* the entity's group (its type never changes) */
    struct cat_entity *e;
    const struct vg_tag *tags; /* == e->tags, kept in step by entity_retag() */
    uint32_t ntags;
    const char *an; /* interned */
    char en[];      /* copy of the entity id, NUL-terminated */
};

/* Open addressing map from an interned string to a pointer (k == NULL marks a free slot). */
struct smap_slot {
    uint64_t h;
    const char *k;
    uint32_t klen;
    void *v;
};
struct smap {
    struct smap_slot *slots;
    uint32_t mask, n;
};

struct cat_tenant {
    const char *name; /* interned */
    uint32_t len;
    struct smap entities; /* id -> struct cat_entity */
    struct smap groups;   /* type -> struct cat_group */
    struct cat_series **v; /* every series of the tenant, same layout as cat_group.v */
    uint32_t n, cap, sorted;
};

struct ser_slot {
    uint64_t h;
    struct cat_series *s;
};

struct ptrvec {
    void **v;
    uint32_t n, cap;
};

struct slab {
    struct slab *next;
    uint32_t used;
    char mem[SLAB_SIZE];
};

struct catalog {
    struct meta *m;
    struct store *st;
    pthread_rwlock_t lock;
    pthread_mutex_t sync_mu;
    uint64_t seed;
    struct smap interned; /* string -> itself */
    struct slab *slabs;
    struct smap tenants;  /* name -> struct cat_tenant */
    struct ser_slot *ser; /* (tenant, entity, attr) -> series */
    uint32_t ser_mask, nseries;
    struct cat_series **by_sid; /* sid -> live series (NULL: none, or retired) */
    uint32_t cap_sid;
    struct cat_group **groups; /* by id; [0] unused */
    uint32_t groups_cap, max_group;
    uint32_t max_sid;
    uint64_t nentities;
    struct ptrvec pend_groups, pend_entities, pend_series;
    struct ptrvec retired; /* series out of every index (catalog_retire), freed at the end */
    uint64_t nretired;     /* retired series, these and those loaded retired */
    /* catalog_sync's fast path: dirty = something is pending, syncing = a sync is committing
    ** (seq_cst atomics; see catalog_sync) */
    int dirty, syncing;
};

static void ptrvec_push(struct ptrvec *pv, void *p)
{
    if (pv->n == pv->cap) {
        pv->cap = pv->cap ? pv->cap * 2 : 16;
        pv->v = vg_realloc(pv->v, pv->cap * sizeof(*pv->v));
    }
    pv->v[pv->n++] = p;
}

static void smap_init(struct smap *m, uint32_t cap)
{
    m->slots = vg_calloc(cap, sizeof(*m->slots));
    m->mask = cap - 1;
    m->n = 0;
}

static void *smap_get(const struct smap *m, uint64_t h, const char *k, size_t klen)
{
    for (uint32_t i = (uint32_t)h & m->mask;; i = (i + 1) & m->mask) {
        const struct smap_slot *sl = &m->slots[i];
        if (!sl->k)
            return NULL;
        if (sl->h == h && bytes_eq(sl->k, sl->klen, k, klen))
            return sl->v;
    }
}

static void smap_insert_slot(struct smap_slot *slots, uint32_t mask, const struct smap_slot *x)
{
    uint32_t i = (uint32_t)x->h & mask;
    while (slots[i].k)
        i = (i + 1) & mask;
    slots[i] = *x;
}

/* k must outlive the map (interned). The key must not be present. */
static void smap_put(struct smap *m, uint64_t h, const char *k, uint32_t klen, void *v)
{
    if ((m->n + 1) * 2 > m->mask + 1) {
        uint32_t ncap = (m->mask + 1) * 2;
        struct smap_slot *ns = vg_calloc(ncap, sizeof(*ns));
        for (uint32_t i = 0; i <= m->mask; i++)
            if (m->slots[i].k)
                smap_insert_slot(ns, ncap - 1, &m->slots[i]);
        free(m->slots);
        m->slots = ns;
        m->mask = ncap - 1;
    }
    struct smap_slot x = {h, k, klen, v};
    smap_insert_slot(m->slots, m->mask, &x);
    m->n++;
}

static uint64_t shash(const struct catalog *c, const char *p, size_t n)
{
    return hash_bytes(0, c->seed, p, n);
}

/* Intern p[0..n) (NUL-terminated copy, never freed before catalog_free). */
static const char *intern(struct catalog *c, const char *p, size_t n)
{
    uint64_t h = shash(c, p, n);
    const char *s = smap_get(&c->interned, h, p, n);
    if (s)
        return s;
    VG_ASSERT(n < SLAB_SIZE);
    if (!c->slabs || c->slabs->used + n + 1 > SLAB_SIZE) {
        struct slab *sb = vg_malloc(sizeof(*sb));
        sb->next = c->slabs;
        sb->used = 0;
        c->slabs = sb;
    }
    char *d = c->slabs->mem + c->slabs->used;
    memcpy(d, p, n);
    d[n] = '\0';
    c->slabs->used += (uint32_t)n + 1;
    smap_put(&c->interned, h, d, (uint32_t)n, d);
    return d;
}

static inline uint64_t key_hash(const struct catalog *c, const char *t, size_t tl, const char *e,
                                size_t el, const char *a, size_t al)
{
    uint64_t h = hash_bytes(0, c->seed, t, tl);
    h = hash_bytes(h, c->seed, e, el);
    return hash_bytes(h, c->seed, a, al);
}

static struct cat_series *series_find(const struct catalog *c, uint64_t h, const char *t,
                                      size_t tl, const char *e, size_t el, const char *a,
                                      size_t al)
{
    for (uint32_t i = (uint32_t)h & c->ser_mask;; i = (i + 1) & c->ser_mask) {
        const struct ser_slot *sl = &c->ser[i];
        if (!sl->s)
            return NULL;
        if (sl->h == h) {
            struct cat_series *s = sl->s;
            if (bytes_eq(s->en, s->el, e, el) && bytes_eq(s->an, s->al, a, al) &&
                bytes_eq(s->t->name, s->t->len, t, tl))
                return s;
        }
    }
}

static void series_table_put(struct catalog *c, uint64_t h, struct cat_series *s)
{
    if ((c->nseries + 1) * 2 > c->ser_mask + 1) {
        uint32_t ncap = (c->ser_mask + 1) * 2;
        struct ser_slot *ns = vg_calloc(ncap, sizeof(*ns));
        for (uint32_t i = 0; i <= c->ser_mask; i++) {
            if (!c->ser[i].s)
                continue;
            uint32_t j = (uint32_t)c->ser[i].h & (ncap - 1);
            while (ns[j].s)
                j = (j + 1) & (ncap - 1);
            ns[j] = c->ser[i];
        }
        free(c->ser);
        c->ser = ns;
        c->ser_mask = ncap - 1;
    }
    uint32_t i = (uint32_t)h & c->ser_mask;
    while (c->ser[i].s)
        i = (i + 1) & c->ser_mask;
    c->ser[i].h = h;
    c->ser[i].s = s;
    c->nseries++;
}

/* Order of catalog_select: entity id, then attribute (bytes, like SQLite's BINARY). */
static int series_cmp(const struct cat_series *a, const char *en, size_t el, const char *an,
                      size_t al)
{
    int r = bytes_cmp(a->en, a->el, en, el);
    return r ? r : bytes_cmp(a->an, a->al, an, al);
}

/* First index whose series is >= (en, an); an == NULL: first of entity en. */
static uint32_t sorted_lower(struct cat_series *const *v, uint32_t n, const char *en, size_t el,
                             const char *an, size_t al)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int r = an ? series_cmp(v[mid], en, el, an, al) : bytes_cmp(v[mid]->en, v[mid]->el, en, el);
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Append s. While everything arrives in order (loading: rows come sorted) the vector stays
** sorted; otherwise s joins the unsorted tail, sorted and merged by vec_settle() before the next
** ordered read: inserting in the middle at once would move O(n) pointers per new series, which
** dominates when an NGSI-LD batch creates thousands of series among hundreds of thousands. */
static void sorted_insert(struct cat_series ***vp, uint32_t *n, uint32_t *cap, uint32_t *sorted,
                          struct cat_series *s)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *vp = vg_realloc(*vp, *cap * sizeof(**vp));
    }
    struct cat_series **v = *vp;
    int in_order = *n == 0 || series_cmp(v[*n - 1], s->en, s->el, s->an, s->al) < 0;
    v[(*n)++] = s;
    if (in_order && *sorted == *n - 1)
        *sorted = *n;
}

static int series_qcmp(const void *a, const void *b)
{
    const struct cat_series *x = *(struct cat_series *const *)a;
    const struct cat_series *y = *(struct cat_series *const *)b;
    return series_cmp(x, y->en, y->el, y->an, y->al);
}

/* Sort the tail v[sorted..n) and merge it into the sorted prefix (write lock held). */
static void vec_settle(struct cat_series **v, uint32_t n, uint32_t *sorted)
{
    uint32_t k = *sorted;
    if (k == n)
        return;
    qsort(v + k, n - k, sizeof(*v), series_qcmp);
    if (k > 0 && series_qcmp(&v[k - 1], &v[k]) > 0) {
        struct cat_series **tmp = vg_malloc((size_t)n * sizeof(*tmp));
        uint32_t i = 0, j = k, o = 0;
        while (i < k && j < n)
            tmp[o++] = series_qcmp(&v[i], &v[j]) <= 0 ? v[i++] : v[j++];
        while (i < k)
            tmp[o++] = v[i++];
        while (j < n)
            tmp[o++] = v[j++];
        memcpy(v, tmp, (size_t)n * sizeof(*v));
        free(tmp);
    }
    *sorted = n;
}

/* Is the tenant's vector (and the group's, if any) fully sorted? */
static int settled(const struct cat_tenant *t, const struct cat_group *g)
{
    return t->sorted == t->n && (!g || g->sorted == g->n);
}

/* ---- validation and tags ------------------------------------------------------------------ */


/* A name: 1..256 bytes of UTF-8 without control characters (so no NUL). A tag value may be
** empty. */
static int name_valid(const char *p, size_t n, int allow_empty)
{
    if (n == 0)
        return allow_empty;
    if (!p || n > CAT_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)p[i];
        if (b < 0x20 || b == 0x7f)
            return 0;
    }
    return utf8_valid((const unsigned char *)p, n);
}

/* Index of key in sorted tags, or -1. */
static int tag_find(const struct vg_tag *tags, uint32_t n, const char *k, size_t kl)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int r = bytes_cmp(tags[mid].key, tags[mid].klen, k, kl);
        if (r == 0)
            return (int)mid;
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Same set of (key, value) pairs? No allocation: each given tag marks the stored tag it
** matches; a duplicate in the input marks the same bit twice and makes the sets differ (the
** slow path then normalises it). */
static int tags_same(const struct cat_series *s, const struct vg_tag *tags, uint32_t n)
{
    uint64_t seen = 0;
    if (n != s->ntags)
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        int j = -1;
        if (n <= 8) { /* a linear scan beats the binary search's ordered compares */
            for (uint32_t k = 0; k < n; k++) {
                if (bytes_eq(s->tags[k].key, s->tags[k].klen, tags[i].key, tags[i].klen)) {
                    j = (int)k;
                    break;
                }
            }
        } else {
            j = tag_find(s->tags, s->ntags, tags[i].key, tags[i].klen);
        }
        if (j < 0 || !bytes_eq(s->tags[j].val, s->tags[j].vlen, tags[i].val, tags[i].vlen))
            return 0;
        seen |= 1ull << j;
    }
    return n == 0 || seen == (n == 64 ? ~0ull : (1ull << n) - 1);
}

static int tag_cmp(const void *a, const void *b)
{
    const struct vg_tag *x = a, *y = b;
    int r = bytes_cmp(x->key, x->klen, y->key, y->klen);
    return r ? r : bytes_cmp(x->val, x->vlen, y->val, y->vlen);
}

/* Validate, sort and de-duplicate tags into out[] (capacity CAT_TAGS_MAX; the pointers still
** borrow the caller's bytes). A key given twice with two values is invalid. */
static int tags_normalize(const struct vg_tag *tags, uint32_t n, struct vg_tag *out,
                          uint32_t *nout)
{
    uint32_t k = 0;
    if (n > CAT_TAGS_MAX || (n && !tags))
        return VG_EINVAL;
    for (uint32_t i = 0; i < n; i++) {
        if (!name_valid(tags[i].key, tags[i].klen, 0) ||
            !name_valid(tags[i].val, tags[i].vlen, 1))
            return VG_EINVAL;
        out[i] = tags[i];
        if (!out[i].vlen)
            out[i].val = "";
    }
    if (n > 1)
        qsort(out, n, sizeof(*out), tag_cmp);
    for (uint32_t i = 0; i < n; i++) {
        if (k && bytes_eq(out[k - 1].key, out[k - 1].klen, out[i].key, out[i].klen)) {
            if (!bytes_eq(out[k - 1].val, out[k - 1].vlen, out[i].val, out[i].vlen))
                return VG_EINVAL;
            continue;
        }
        out[k++] = out[i];
    }
    *nout = k;
    return VG_OK;
}

/* Equal normalised sets? */
static int tags_equal_norm(const struct cat_entity *e, const struct vg_tag *t, uint32_t n)
{
    if (n != e->ntags)
        return 0;
    for (uint32_t i = 0; i < n; i++)
        if (!bytes_eq(e->tags[i].key, e->tags[i].klen, t[i].key, t[i].klen) ||
            !bytes_eq(e->tags[i].val, e->tags[i].vlen, t[i].val, t[i].vlen))
            return 0;
    return 1;
}

/* Replace the entity's tags by a copy of the normalised t[0..n): one block, array first. */
static void entity_set_tags(struct cat_entity *e, const struct vg_tag *t, uint32_t n)
{
    size_t sz = n * sizeof(struct vg_tag);
    free(e->tags);
    e->tags = NULL;
    e->ntags = 0;
    if (!n)
        return;
    for (uint32_t i = 0; i < n; i++)
        sz += (size_t)t[i].klen + t[i].vlen + 2;
    struct vg_tag *nt = vg_malloc(sz);
    char *p = (char *)(nt + n);
    for (uint32_t i = 0; i < n; i++) {
        nt[i].key = p;
        nt[i].klen = t[i].klen;
        memcpy(p, t[i].key, t[i].klen);
        p[t[i].klen] = '\0';
        p += t[i].klen + 1;
        nt[i].val = p;
        nt[i].vlen = t[i].vlen;
        memcpy(p, t[i].val, t[i].vlen);
        p[t[i].vlen] = '\0';
        p += t[i].vlen + 1;
    }
    e->tags = nt;
    e->ntags = n;
}

/* ---- creation (write lock held) ----------------------------------------------------------- */

static struct cat_tenant *tenant_get(struct catalog *c, const char *p, size_t n)
{
    return smap_get(&c->tenants, shash(c, p, n), p, n);
}

static struct cat_tenant *tenant_get_or_add(struct catalog *c, const char *p, size_t n)
{
    struct cat_tenant *t = tenant_get(c, p, n);
    if (t)
        return t;
    t = vg_calloc(1, sizeof(*t));
    t->name = intern(c, p, n);
    t->len = (uint32_t)n;
    smap_init(&t->entities, 64);
    smap_init(&t->groups, 8);
    smap_put(&c->tenants, shash(c, p, n), t->name, t->len, t);
    return t;
}

static struct cat_group *group_add(struct catalog *c, struct cat_tenant *t, uint32_t id,
                                   const char *type, size_t typelen)
{
    struct cat_group *g = vg_calloc(1, sizeof(*g));
    g->id = id;
    g->t = t;
    g->type = intern(c, type, typelen);
    g->typelen = (uint32_t)typelen;
    smap_put(&t->groups, shash(c, type, typelen), g->type, g->typelen, g);
    if (id >= c->groups_cap) {
        uint32_t ncap = c->groups_cap ? c->groups_cap : 16;
        while (ncap <= id)
            ncap *= 2;
        c->groups = vg_realloc(c->groups, ncap * sizeof(*c->groups));
        memset(c->groups + c->groups_cap, 0, (ncap - c->groups_cap) * sizeof(*c->groups));
        c->groups_cap = ncap;
    }
    c->groups[id] = g;
    if (id > c->max_group)
        c->max_group = id;
    return g;
}

static struct cat_entity *entity_add(struct catalog *c, struct cat_tenant *t, const char *id,
                                     size_t idlen, struct cat_group *g)
{
    struct cat_entity *e = vg_calloc(1, sizeof(*e));
    e->id = intern(c, id, idlen);
    e->idlen = (uint32_t)idlen;
    e->t = t;
    e->group = g;
    smap_put(&t->entities, shash(c, id, idlen), e->id, e->idlen, e);
    c->nentities++;
    return e;
}

static struct cat_series *series_add(struct catalog *c, uint64_t h, struct cat_entity *e,
                                     uint32_t sid, const char *attr, size_t alen,
                                     enum vg_vtype vt)
{
    struct cat_series *s = vg_calloc(1, sizeof(*s) + e->idlen + 1);
    s->sid = sid;
    s->vt = vt;
    s->t = e->t;
    s->g = e->group;
    s->e = e;
    s->tags = e->tags;
    s->ntags = e->ntags;
    memcpy(s->en, e->id, e->idlen + 1);
    s->el = (uint16_t)e->idlen;
    s->an = intern(c, attr, alen);
    s->al = (uint16_t)alen;
    series_table_put(c, h, s);
    if (sid >= c->cap_sid) {
        uint32_t ncap = c->cap_sid ? c->cap_sid : 1024;
        while (ncap <= sid && ncap < (1u << 31))
            ncap *= 2;
        if (ncap > sid) {
            c->by_sid = vg_realloc(c->by_sid, (size_t)ncap * sizeof(*c->by_sid));
            memset(c->by_sid + c->cap_sid, 0, (size_t)(ncap - c->cap_sid) * sizeof(*c->by_sid));
            c->cap_sid = ncap;
        }
    }
    if (sid < c->cap_sid)
        c->by_sid[sid] = s;
    sorted_insert(&e->t->v, &e->t->n, &e->t->cap, &e->t->sorted, s);
    sorted_insert(&e->group->v, &e->group->n, &e->group->cap, &e->group->sorted, s);
    if (sid > c->max_sid)
        c->max_sid = sid;
    return s;
}

/* Replace the tags of an entity that has series, and mirror them into each series. */
static void entity_retag(struct cat_entity *e, const struct vg_tag *t, uint32_t n)
{
    struct cat_tenant *tn = e->t;
    entity_set_tags(e, t, n);
    vec_settle(tn->v, tn->n, &tn->sorted);
    for (uint32_t i = sorted_lower(tn->v, tn->n, e->id, e->idlen, NULL, 0);
         i < tn->n && tn->v[i]->e == e; i++) {
        tn->v[i]->tags = e->tags;
        tn->v[i]->ntags = e->ntags;
    }
}

static void queue_entity(struct catalog *c, struct cat_entity *e)
{
    if (!e->pending) {
        e->pending = 1;
        ptrvec_push(&c->pend_entities, e);
        __atomic_store_n(&c->dirty, 1, __ATOMIC_SEQ_CST);
    }
}

/* ---- open / free -------------------------------------------------------------------------- */

static int load_group(void *arg, const struct meta_group_row *r)
{
    struct catalog *c = arg;
    size_t tl = strlen(r->tenant), yl = strlen(r->type);
    if (r->group == 0 || r->group >= CAT_GROUPS_MAX || !name_valid(r->tenant, tl, 0) ||
        !name_valid(r->type, yl, 0))
        return VG_ECORRUPT;
    struct cat_tenant *t = tenant_get_or_add(c, r->tenant, tl);
    if (smap_get(&t->groups, shash(c, r->type, yl), r->type, yl) ||
        (r->group < c->groups_cap && c->groups[r->group]))
        return VG_ECORRUPT;
    group_add(c, t, r->group, r->type, yl);
    return VG_OK;
}

static int load_series(void *arg, const struct meta_series_row *r)
{
    struct catalog *c = arg;
    struct vg_tag in[CAT_TAGS_MAX], norm[CAT_TAGS_MAX];
    uint32_t nn = 0;
    size_t tl = strlen(r->tenant), el = strlen(r->entity), yl = strlen(r->type);
    size_t al = strlen(r->attr);
    int rc;
    if (strncmp(r->attr, META_RETIRED_PREFIX, strlen(META_RETIRED_PREFIX)) == 0) {
        /* retired: only the store hears of it (old WAL records may still name the sid) */
        if (r->group >= c->groups_cap || !c->groups[r->group])
            return VG_ECORRUPT;
        if (r->sid > c->max_sid)
            c->max_sid = r->sid;
        c->nretired++;
        return store_series_add(c->st, r->sid, r->group, r->vt);
    }
    if (!name_valid(r->tenant, tl, 0) || !name_valid(r->entity, el, 0) ||
        !name_valid(r->type, yl, 0) || !name_valid(r->attr, al, 0) || r->ntags > CAT_TAGS_MAX ||
        r->group >= c->groups_cap || !c->groups[r->group])
        return VG_ECORRUPT;
    struct cat_group *g = c->groups[r->group];
    if (!bytes_eq(g->t->name, g->t->len, r->tenant, tl) || !bytes_eq(g->type, g->typelen, r->type, yl))
        return VG_ECORRUPT;
    uint64_t h = key_hash(c, r->tenant, tl, r->entity, el, r->attr, al);
    if (series_find(c, h, r->tenant, tl, r->entity, el, r->attr, al))
        return VG_ECORRUPT;
    struct cat_entity *e = smap_get(&g->t->entities, shash(c, r->entity, el), r->entity, el);
    if (e && e->group != g)
        return VG_ECORRUPT;
    if (!e) {
        for (uint32_t i = 0; i < r->ntags; i++) {
            in[i].key = r->tags[i].key;
            in[i].klen = (uint32_t)strlen(r->tags[i].key);
            in[i].val = r->tags[i].val;
            in[i].vlen = (uint32_t)strlen(r->tags[i].val);
        }
        if (tags_normalize(in, r->ntags, norm, &nn))
            return VG_ECORRUPT;
    }
    rc = store_series_add(c->st, r->sid, r->group, r->vt);
    if (rc)
        return rc;
    if (!e) {
        e = entity_add(c, g->t, r->entity, el, g);
        entity_set_tags(e, norm, nn);
    }
    series_add(c, h, e, r->sid, r->attr, al, r->vt);
    return VG_OK;
}

int catalog_open(struct meta *m, struct store *st, struct catalog **out)
{
    int rc;
    struct catalog *c = vg_calloc(1, sizeof(*c));
    c->m = m;
    c->st = st;
    /* Default (reader-preferring) kind: a select callback that takes the read lock again
    ** (catalog_group, catalog_tenant_exists) cannot deadlock behind a waiting writer. Read
    ** sections are tens of nanoseconds, so a creation is not starved in practice. */
    pthread_rwlock_init(&c->lock, NULL);
    pthread_mutex_init(&c->sync_mu, NULL);
    c->seed = mix((uint64_t)clock_mono_ns() ^ H2, (uint64_t)(uintptr_t)c ^ H0) | 1;
    smap_init(&c->interned, 1024);
    smap_init(&c->tenants, 16);
    c->ser = vg_calloc(1024, sizeof(*c->ser));
    c->ser_mask = 1023;
    rc = meta_groups_load(m, load_group, c);
    if (rc)
        goto out;
    rc = meta_series_load(m, load_series, c);
out:
    if (rc) {
        catalog_free(c);
        return rc;
    }
    *out = c;
    return VG_OK;
}

void catalog_free(struct catalog *c)
{
    if (!c)
        return;
    for (uint32_t i = 0; i <= c->ser_mask; i++)
        free(c->ser[i].s);
    free(c->ser);
    free(c->by_sid);
    for (uint32_t i = 0; i <= c->tenants.mask; i++) {
        struct cat_tenant *t = c->tenants.slots[i].v;
        if (!c->tenants.slots[i].k)
            continue;
        for (uint32_t j = 0; j <= t->entities.mask; j++) {
            struct cat_entity *e = t->entities.slots[j].v;
            if (t->entities.slots[j].k) {
                free(e->tags);
                free(e);
            }
        }
        free(t->entities.slots);
        free(t->groups.slots);
        free(t->v);
        free(t);
    }
    free(c->tenants.slots);
    for (uint32_t i = 0; i < c->groups_cap; i++) {
        if (c->groups[i]) {
            free(c->groups[i]->v);
            free(c->groups[i]);
        }
    }
    free(c->groups);
    free(c->interned.slots);
    while (c->slabs) {
        struct slab *sb = c->slabs;
        c->slabs = sb->next;
        free(sb);
    }
    free(c->pend_groups.v);
    free(c->pend_entities.v);
    free(c->pend_series.v);
    for (uint32_t i = 0; i < c->retired.n; i++)
        free(c->retired.v[i]);
    free(c->retired.v);
    pthread_rwlock_destroy(&c->lock);
    pthread_mutex_destroy(&c->sync_mu);
    free(c);
}

/* ---- resolve ------------------------------------------------------------------------------ */

/* Write-locked part of catalog_resolve: re-check, validate, create or re-tag. */
static int resolve_slow(struct catalog *c, uint64_t h, const char *tenant, size_t tlen,
                        const char *type, size_t typelen, const char *entity, size_t elen,
                        const struct vg_tag *tags, uint32_t ntags, const char *attr, size_t alen,
                        enum vg_vtype vt, uint32_t *sid)
{
    struct vg_tag norm[CAT_TAGS_MAX];
    uint32_t nn = 0;
    int rc = VG_OK;
    pthread_rwlock_wrlock(&c->lock);
    struct cat_series *s = series_find(c, h, tenant, tlen, entity, elen, attr, alen);
    if (s) {
        struct cat_entity *e = s->e;
        if (s->vt != vt || !bytes_eq(e->group->type, e->group->typelen, type, typelen)) {
            rc = VG_ETYPE;
            goto out;
        }
        rc = tags_normalize(tags, ntags, norm, &nn);
        if (rc)
            goto out;
        if (!tags_equal_norm(e, norm, nn)) {
            entity_retag(e, norm, nn);
            queue_entity(c, e);
        }
        *sid = s->sid;
        goto out;
    }

    /* A new series: validate everything before changing anything. */
    if (!name_valid(tenant, tlen, 0) || !name_valid(type, typelen, 0) ||
        !name_valid(entity, elen, 0) || !name_valid(attr, alen, 0) || vt <= VT_NONE ||
        vt > VT_GEO) {
        rc = VG_EINVAL;
        goto out;
    }
    rc = tags_normalize(tags, ntags, norm, &nn);
    if (rc)
        goto out;
    if (c->max_sid == UINT32_MAX) {
        rc = VG_ETOOBIG;
        goto out;
    }
    struct cat_tenant *t = tenant_get(c, tenant, tlen);
    struct cat_entity *e = NULL;
    struct cat_group *g = NULL;
    if (t) {
        e = smap_get(&t->entities, shash(c, entity, elen), entity, elen);
        g = smap_get(&t->groups, shash(c, type, typelen), type, typelen);
    }
    if (e && !bytes_eq(e->group->type, e->group->typelen, type, typelen)) {
        rc = VG_ETYPE; /* the entity exists with another type */
        goto out;
    }
    uint32_t gid = g ? g->id : c->max_group + 1;
    if (gid >= CAT_GROUPS_MAX) {
        rc = VG_ETOOBIG;
        goto out;
    }
    uint32_t nsid = c->max_sid + 1;
    rc = store_series_add(c->st, nsid, gid, vt);
    if (rc)
        goto out;

    /* Declared in the store: apply in memory and queue for catalog_sync(). */
    if (!t)
        t = tenant_get_or_add(c, tenant, tlen);
    if (!g) {
        g = group_add(c, t, gid, type, typelen);
        g->pending = 1;
        ptrvec_push(&c->pend_groups, g);
        __atomic_store_n(&c->dirty, 1, __ATOMIC_SEQ_CST);
    }
    if (!e) {
        e = entity_add(c, t, entity, elen, g);
        entity_set_tags(e, norm, nn);
        queue_entity(c, e);
    } else if (!tags_equal_norm(e, norm, nn)) {
        entity_retag(e, norm, nn);
        queue_entity(c, e);
    }
    s = series_add(c, h, e, nsid, attr, alen, vt);
    s->pending = 1;
    ptrvec_push(&c->pend_series, s);
    __atomic_store_n(&c->dirty, 1, __ATOMIC_SEQ_CST);
    *sid = nsid;
out:
    pthread_rwlock_unlock(&c->lock);
    return rc;
}

int catalog_resolve(struct catalog *c, const char *tenant, size_t tlen, const char *type,
                    size_t typelen, const char *entity, size_t elen, const struct vg_tag *tags,
                    uint32_t ntags, const char *attr, size_t alen, enum vg_vtype vt,
                    uint32_t *sid)
{
    int rc = VG_OK, slow = 0;
    if (!tenant || !type || !entity || !attr || !sid || tlen == 0 || typelen == 0 || elen == 0 ||
        alen == 0 || tlen > CAT_NAME_MAX || typelen > CAT_NAME_MAX || elen > CAT_NAME_MAX ||
        alen > CAT_NAME_MAX || ntags > CAT_TAGS_MAX || (ntags && !tags))
        return VG_EINVAL;
    uint64_t h = key_hash(c, tenant, tlen, entity, elen, attr, alen);
    pthread_rwlock_rdlock(&c->lock);
    const struct cat_series *s = series_find(c, h, tenant, tlen, entity, elen, attr, alen);
    if (!s) {
        slow = 1;
    } else if (s->vt != vt || !bytes_eq(s->g->type, s->g->typelen, type, typelen)) {
        rc = VG_ETYPE;
    } else if (tags_same(s, tags, ntags)) {
        *sid = s->sid;
    } else {
        slow = 1;
    }
    pthread_rwlock_unlock(&c->lock);
    if (!slow)
        return rc;
    return resolve_slow(c, h, tenant, tlen, type, typelen, entity, elen, tags, ntags, attr, alen,
                        vt, sid);
}

/* ---- sync --------------------------------------------------------------------------------- */

int catalog_sync(struct catalog *c)
{
    struct ptrvec pg = {0}, pe = {0}, ps = {0};
    struct meta_group_row *gr = NULL;
    struct meta_entity_row *er = NULL;
    struct meta_series_row *sr = NULL;
    struct meta_tag *tg = NULL;
    char *strs = NULL;
    int rc = VG_OK;

    /* Fast path, taken by nearly every write: nothing pending and no sync committing, so every
    ** series this thread resolved is durable already. A sync in flight (syncing = 1 is set
    ** before dirty is cleared) may hold this thread's rows: then wait for it below. */
    if (!__atomic_load_n(&c->dirty, __ATOMIC_SEQ_CST) &&
        !__atomic_load_n(&c->syncing, __ATOMIC_SEQ_CST))
        return VG_OK;
    pthread_mutex_lock(&c->sync_mu);
    __atomic_store_n(&c->syncing, 1, __ATOMIC_SEQ_CST);
    pthread_rwlock_wrlock(&c->lock);
    __atomic_store_n(&c->dirty, 0, __ATOMIC_SEQ_CST);
    pg = c->pend_groups;
    pe = c->pend_entities;
    ps = c->pend_series;
    memset(&c->pend_groups, 0, sizeof(c->pend_groups));
    memset(&c->pend_entities, 0, sizeof(c->pend_entities));
    memset(&c->pend_series, 0, sizeof(c->pend_series));
    if (!pg.n && !pe.n && !ps.n) {
        pthread_rwlock_unlock(&c->lock);
        goto out;
    }
    /* Build the rows now: names are interned (stable), but tags may be replaced as soon as the
    ** lock is released, so they are copied. */
    gr = vg_calloc(pg.n, sizeof(*gr));
    er = vg_calloc(pe.n, sizeof(*er));
    sr = vg_calloc(ps.n, sizeof(*sr));
    size_t ntg = 0, nstr = 0;
    for (uint32_t i = 0; i < pe.n; i++) {
        struct cat_entity *e = pe.v[i];
        ntg += e->ntags;
        for (uint32_t j = 0; j < e->ntags; j++)
            nstr += (size_t)e->tags[j].klen + e->tags[j].vlen + 2;
    }
    tg = vg_calloc(ntg, sizeof(*tg));
    strs = vg_malloc(nstr);
    size_t ti = 0, so = 0;
    for (uint32_t i = 0; i < pg.n; i++) {
        struct cat_group *g = pg.v[i];
        g->pending = 0;
        gr[i].group = g->id;
        gr[i].tenant = g->t->name;
        gr[i].type = g->type;
    }
    for (uint32_t i = 0; i < pe.n; i++) {
        struct cat_entity *e = pe.v[i];
        e->pending = 0;
        er[i].tenant = e->t->name;
        er[i].entity = e->id;
        er[i].type = e->group->type;
        er[i].tags = tg + ti;
        er[i].ntags = e->ntags;
        for (uint32_t j = 0; j < e->ntags; j++) {
            const struct vg_tag *t = &e->tags[j];
            memcpy(strs + so, t->key, t->klen + 1);
            tg[ti].key = strs + so;
            so += t->klen + 1;
            memcpy(strs + so, t->val, t->vlen + 1);
            tg[ti].val = strs + so;
            so += t->vlen + 1;
            ti++;
        }
    }
    for (uint32_t i = 0; i < ps.n; i++) {
        struct cat_series *s = ps.v[i];
        s->pending = 0;
        sr[i].sid = s->sid;
        sr[i].group = s->g->id;
        sr[i].vt = s->vt;
        sr[i].tenant = s->t->name;
        sr[i].entity = s->e->id;
        sr[i].type = s->g->type;
        sr[i].attr = s->an;
    }
    pthread_rwlock_unlock(&c->lock);

    struct meta_batch b = {gr, pg.n, er, pe.n, sr, ps.n};
    rc = meta_commit(c->m, &b);
    if (rc) {
        /* Put the rows back for the next sync. An entity queued again meanwhile has newer tags
        ** and is already pending. */
        pthread_rwlock_wrlock(&c->lock);
        for (uint32_t i = 0; i < pg.n; i++) {
            struct cat_group *g = pg.v[i];
            if (!g->pending) {
                g->pending = 1;
                ptrvec_push(&c->pend_groups, g);
                __atomic_store_n(&c->dirty, 1, __ATOMIC_SEQ_CST);
            }
        }
        for (uint32_t i = 0; i < pe.n; i++)
            queue_entity(c, pe.v[i]);
        for (uint32_t i = 0; i < ps.n; i++) {
            struct cat_series *s = ps.v[i];
            if (!s->pending) {
                s->pending = 1;
                ptrvec_push(&c->pend_series, s);
                __atomic_store_n(&c->dirty, 1, __ATOMIC_SEQ_CST);
            }
        }
        pthread_rwlock_unlock(&c->lock);
    }
out:
    __atomic_store_n(&c->syncing, 0, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&c->sync_mu);
    free(gr);
    free(er);
    free(sr);
    free(tg);
    free(strs);
    free(pg.v);
    free(pe.v);
    free(ps.v);
    return rc;
}

/* ---- retire ------------------------------------------------------------------------------- */

/* Remove s from the open-addressing table: backward-shift deletion keeps every probe chain
** unbroken (no tombstones). */
static void series_table_del(struct catalog *c, const struct cat_series *s)
{
    uint32_t mask = c->ser_mask, i;
    uint64_t h = key_hash(c, s->t->name, s->t->len, s->en, s->el, s->an, s->al);
    for (i = (uint32_t)h & mask; c->ser[i].s != s; i = (i + 1) & mask)
        VG_ASSERT(c->ser[i].s != NULL);
    c->ser[i].s = NULL;
    for (uint32_t j = (i + 1) & mask; c->ser[j].s; j = (j + 1) & mask) {
        uint32_t home = (uint32_t)c->ser[j].h & mask;
        /* the entry at j may move to the hole at i unless its home lies cyclically in (i, j] */
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            c->ser[i] = c->ser[j];
            c->ser[j].s = NULL;
            i = j;
        }
    }
    c->nseries--;
}

static void vec_remove(struct cat_series **v, uint32_t *n, uint32_t *sorted,
                       const struct cat_series *s)
{
    for (uint32_t i = 0; i < *n; i++) {
        if (v[i] != s)
            continue;
        memmove(v + i, v + i + 1, (size_t)(*n - i - 1) * sizeof(*v));
        (*n)--;
        if (i < *sorted)
            (*sorted)--;
        return;
    }
}

int catalog_retire(struct catalog *c, const char *tenant, const char *entity,
                   catalog_attr_pred *want, void *arg, uint32_t *nretired)
{
    size_t tl = strlen(tenant), el = strlen(entity);
    uint32_t *sids = NULL, n = 0, cap = 0;
    struct cat_series **hit = NULL;
    int rc = catalog_sync(c); /* most series durable first: their rows are then updated */
    *nretired = 0;
    if (rc)
        return rc;
    pthread_mutex_lock(&c->sync_mu); /* no sync in flight: `pending` is exact below */
    pthread_rwlock_wrlock(&c->lock);
    struct cat_tenant *t = tenant_get(c, tenant, tl);
    if (t) {
        vec_settle(t->v, t->n, &t->sorted);
        for (uint32_t i = sorted_lower(t->v, t->n, entity, el, NULL, 0);
             i < t->n && bytes_eq(t->v[i]->en, t->v[i]->el, entity, el); i++) {
            if (want && !want(arg, t->v[i]->an))
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                sids = vg_realloc(sids, cap * sizeof(*sids));
                hit = vg_realloc(hit, cap * sizeof(*hit));
            }
            hit[n] = t->v[i];
            sids[n++] = t->v[i]->sid;
        }
    }
    /* Rows already in SQLite are renamed now; a pending row is written renamed by the next
    ** catalog_sync (it takes s->an, set to the marker below). */
    uint32_t ndur = 0;
    for (uint32_t i = 0; i < n; i++)
        if (!hit[i]->pending)
            sids[ndur++] = hit[i]->sid;
    rc = meta_series_retire(c->m, sids, ndur);
    if (!rc) {
        char marker[48];
        for (uint32_t i = 0; i < n; i++) {
            struct cat_series *s = hit[i];
            series_table_del(c, s);
            if (s->sid < c->cap_sid)
                c->by_sid[s->sid] = NULL;
            vec_remove(t->v, &t->n, &t->sorted, s);
            vec_remove(s->g->v, &s->g->n, &s->g->sorted, s);
            int ml = snprintf(marker, sizeof(marker), META_RETIRED_PREFIX "%u", s->sid);
            s->an = intern(c, marker, (size_t)ml);
            s->al = (uint16_t)ml;
            ptrvec_push(&c->retired, s);
            c->nretired++;
        }
        *nretired = n;
    }
    pthread_rwlock_unlock(&c->lock);
    pthread_mutex_unlock(&c->sync_mu);
    free(sids);
    free(hit);
    return rc;
}

/* ---- select ------------------------------------------------------------------------------- */

/* What callers see of a series (strings borrowed: valid under the catalogue's lock). */
static void series_view(const struct cat_series *s, struct catalog_series *cs)
{
    *cs = (struct catalog_series){
        .sid = s->sid,
        .group = s->g->id,
        .vt = s->vt,
        .tenant = s->t->name,
        .entity = s->en,
        .type = s->g->type,
        .attr = s->an,
        .tags = s->tags,
        .ntags = s->ntags,
    };
}

static int where_match(const struct cat_entity *e, const struct vg_tag *w, uint32_t nw)
{
    for (uint32_t i = 0; i < nw; i++) {
        int j = tag_find(e->tags, e->ntags, w[i].key, w[i].klen);
        if (j < 0 || !bytes_eq(e->tags[j].val, e->tags[j].vlen, w[i].val, w[i].vlen))
            return 0;
    }
    return 1;
}

int catalog_select(struct catalog *c, const struct catalog_sel *sel, catalog_series_fn *fn,
                   void *arg)
{
    int rc = VG_OK;
    if (!sel || !sel->tenant || !fn || (sel->nwhere && !sel->where))
        return VG_EINVAL;
    size_t el = sel->entity ? strlen(sel->entity) : 0;
    size_t al = sel->attr ? strlen(sel->attr) : 0;
    size_t yl = sel->type ? strlen(sel->type) : 0;
    pthread_rwlock_rdlock(&c->lock);
    struct cat_tenant *t = tenant_get(c, sel->tenant, strlen(sel->tenant));
    if (!t)
        goto out;
    struct cat_group *g = NULL;
    if (sel->type) {
        g = smap_get(&t->groups, shash(c, sel->type, yl), sel->type, yl);
        if (!g)
            goto out;
    }
    if (!settled(t, g)) {
        /* series were created out of order since the last read: sort them in, then select
        ** under the write lock (tenants and groups are never freed while the catalogue is) */
        pthread_rwlock_unlock(&c->lock);
        pthread_rwlock_wrlock(&c->lock);
        vec_settle(t->v, t->n, &t->sorted);
        if (g)
            vec_settle(g->v, g->n, &g->sorted);
    }
    struct cat_series **v = g ? g->v : t->v;
    uint32_t n = g ? g->n : t->n, i = 0;
    if (sel->entity)
        i = sorted_lower(v, n, sel->entity, el, NULL, 0);
    const struct cat_entity *last = NULL;
    int last_ok = 0;
    for (; i < n; i++) {
        const struct cat_series *s = v[i];
        if (sel->entity && !bytes_eq(s->en, s->el, sel->entity, el))
            break; /* sorted: past the entity */
        if (sel->attr && !bytes_eq(s->an, s->al, sel->attr, al))
            continue;
        if (s->e != last) {
            last = s->e;
            last_ok = where_match(s->e, sel->where, sel->nwhere);
        }
        if (!last_ok)
            continue;
        struct catalog_series cs;
        series_view(s, &cs);
        rc = fn(arg, &cs);
        if (rc)
            goto out;
    }
out:
    pthread_rwlock_unlock(&c->lock);
    return rc;
}

/* ---- small queries ------------------------------------------------------------------------ */

int catalog_series_get(struct catalog *c, uint32_t sid, catalog_series_fn *fn, void *arg)
{
    pthread_rwlock_rdlock(&c->lock);
    const struct cat_series *s = sid < c->cap_sid ? c->by_sid[sid] : NULL;
    int rc = VG_ENOENT;
    if (s) {
        struct catalog_series cs;
        series_view(s, &cs);
        rc = fn(arg, &cs);
    }
    pthread_rwlock_unlock(&c->lock);
    return rc;
}

int catalog_entities(struct catalog *c, const char *tenant, catalog_entity_fn *fn, void *arg)
{
    int rc = VG_OK;
    if (!tenant || !fn)
        return VG_EINVAL;
    pthread_rwlock_rdlock(&c->lock);
    struct cat_tenant *t = tenant_get(c, tenant, strlen(tenant));
    for (uint32_t i = 0; t && i <= t->entities.mask; i++) {
        const struct smap_slot *sl = &t->entities.slots[i];
        if (!sl->k)
            continue;
        const struct cat_entity *e = sl->v;
        rc = fn(arg, e->id, e->group->type);
        if (rc)
            break;
    }
    pthread_rwlock_unlock(&c->lock);
    return rc;
}

int catalog_entity_exists(struct catalog *c, const char *tenant, const char *entity)
{
    if (!tenant || !entity)
        return 0;
    size_t el = strlen(entity);
    pthread_rwlock_rdlock(&c->lock);
    struct cat_tenant *t = tenant_get(c, tenant, strlen(tenant));
    int yes = t && smap_get(&t->entities, shash(c, entity, el), entity, el) != NULL;
    pthread_rwlock_unlock(&c->lock);
    return yes;
}

uint64_t catalog_entity_generation(struct catalog *c)
{
    pthread_rwlock_rdlock(&c->lock);
    uint64_t n = c->nentities;
    pthread_rwlock_unlock(&c->lock);
    return n;
}

int catalog_group(struct catalog *c, const char *tenant, const char *type, uint32_t *group)
{
    int rc = VG_ENOENT;
    if (!tenant || !type || !group)
        return VG_EINVAL;
    size_t yl = strlen(type);
    pthread_rwlock_rdlock(&c->lock);
    struct cat_tenant *t = tenant_get(c, tenant, strlen(tenant));
    struct cat_group *g = t ? smap_get(&t->groups, shash(c, type, yl), type, yl) : NULL;
    if (g) {
        *group = g->id;
        rc = VG_OK;
    }
    pthread_rwlock_unlock(&c->lock);
    return rc;
}

int catalog_tenant_exists(struct catalog *c, const char *tenant)
{
    if (!tenant)
        return 0;
    pthread_rwlock_rdlock(&c->lock);
    struct cat_tenant *t = tenant_get(c, tenant, strlen(tenant));
    int yes = t && t->n > 0;
    pthread_rwlock_unlock(&c->lock);
    return yes;
}

void catalog_get_stats(struct catalog *c, struct catalog_stats *st)
{
    pthread_rwlock_rdlock(&c->lock);
    st->series = c->nseries;
    st->entities = c->nentities;
    st->retired = c->nretired;
    st->groups = 0;
    for (uint32_t i = 1; i < c->groups_cap; i++)
        st->groups += c->groups[i] != NULL;
    st->tenants = c->tenants.n;
    pthread_rwlock_unlock(&c->lock);
}
