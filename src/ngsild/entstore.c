/*
** ngsild/entstore.c: the NGSI-LD entity store (see entstore.h for the contract).
**
** Memory layout, per tenant (struct tenant):
**   map    id -> struct slot (chained hash table, power-of-two buckets)
**   all    every slot, in a vector (swap-remove; slot->all_pos is its index)
**   tlists one vector of slots per type IRI (slot->tpos[i] is its index in the list of its
**          i-th type), so that a query by type touches only that type's entities
**   geo    spatial index of the "location" GeoProperty, keyed by the slot's address
** A slot's document is an immutable jansson value: a change builds a new one and swaps the
** pointer under the tenant's write lock; readers take a reference under the read lock.
**
** A change of (tenant, id) holds the stripe lock hash(tenant, id) % NSTRIPES for its whole
** computation, so two changes of one entity never interleave, while changes of different
** entities compute in parallel. Only the pointer swap and the index updates take the tenant lock.
**
** Durability: each change enqueues its JSON text; one commit thread writes everything queued
** in one SQLite transaction (synchronous=FULL) and wakes the waiters: group commit. A batch
** returns only once its documents are committed and its history points are in the WAL.
*/
#include "ngsild/entstore.h"

#include "core/clock.h"
#include "core/log.h"
#include "ngsild/entity.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSTRIPES 256
#define MAX_ID 1024
#define DOC_KIND "entity"

struct slot {
    struct slot *next;  /* hash chain */
    char *id;
    uint32_t hash;
    json_t *doc;        /* stored form; owned reference */
    uint64_t seq;       /* creation order, for stable geo results */
    uint32_t all_pos;
    uint32_t ntypes;
    struct tlist **tl;  /* the lists this slot is in */
    uint32_t *tpos;
    int in_geo;
    int dead;           /* doc is a tombstone (see is_tomb) */
};

struct tlist {
    char *type;
    struct slot **v;
    uint32_t n, cap;
};

struct tenant {
    char *name;
    pthread_rwlock_t lock;
    struct slot **buckets;
    uint32_t nbuckets, count, dead; /* slots, and tombstones among them */
    struct slot **all;
    uint32_t nall, capall;
    struct tlist **tls;
    uint32_t ntls, captls;
    struct geo_index *geo;
    /* line-protocol entities (see lp_list) */
    pthread_mutex_t lp_mu;
    struct lp_ent *lp;
    uint32_t nlp;
    uint64_t lp_gen;
    int lp_valid;
};

/* The waiter of a batch: woken once, when its last document is committed (a broadcast to
** every waiting request at every commit would wake dozens of threads for nothing). */
struct waiter {
    pthread_cond_t cv;
    uint32_t left; /* documents not committed yet (under qmu) */
};

struct pending {
    struct pending *next;
    const char *tenant, *id;
    char *text;        /* JSON, or NULL for a delete */
    size_t len;
    int done, rc;
    struct waiter *w;
};

struct hist_point {
    char *id, *type, *attr;
    enum vg_vtype vt;
    int64_t ts;
    union vg_val v;    /* VT_STR: v.s.p owned */
};

struct change_rec {
    char *id;
    json_t *old, *new_; /* for rollback */
    struct pending p;
};

struct entstore_batch {
    struct entstore *es;
    struct tenant *t;
    char tenant[64];
    struct change_rec *ch;
    uint32_t nch, capch;
    struct hist_point *hp;
    uint32_t nhp, caphp;
    int no_history;
};

struct entstore {
    struct meta *meta;
    struct store *st;
    struct catalog *cat;
    pthread_rwlock_t tlock; /* the tenants array */
    struct tenant **tenants;
    uint32_t ntenants, captenants;
    pthread_mutex_t stripes[NSTRIPES];
    uint64_t seq;
    /* commit queue */
    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    struct pending *qhead, **qtail;
    int stopping;
    pthread_t thread;
    int thread_running;
    entstore_observer_fn *observer;
    void *observer_arg;
    /* stats */
    uint64_t changes, commits, history_points, history_skipped;
    /* The documents ever stored, as two bits per (tenant, id) hash (seen_bits): bits are set
    ** when a document is first installed and never cleared. entstore_has_doc, asked for every
    ** line the ingest stores, answers "no" from them without a lock or a lookup when a bit is
    ** missing. A document installed meanwhile may be missed, as if asked just before. */
    _Atomic uint64_t *seen;
};

/* 8 KB, so that it stays in the cache (256 KB cost a cache miss a line): under 1 % of false
** "maybe" up to 3,000 documents, 7 % at 10,000, 36 % at 30,000 (a full filter only costs the
** hashing) */
#define SEEN_BITS (1u << 16)

struct lp_ent {
    char *id;
    char *type; /* catalogue type (a local name) */
};


static void lp_free(struct lp_ent *v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        free(v[i].id);
        free(v[i].type);
    }
    free(v);
}

/* Forget the cached list (an id became a document or a tombstone). */
static void lp_invalidate(struct tenant *t)
{
    pthread_mutex_lock(&t->lp_mu);
    t->lp_valid = 0;
    pthread_mutex_unlock(&t->lp_mu);
}

/* ---- small helpers ---------------------------------------------------------------------------- */

/* A deleted entity keeps a tombstone document {"id", "@deleted": time}: it hides what the
** catalogue still holds of the entity (its history), so that a deleted entity is not
** synthesised again from its series. Re-creating the entity replaces the tombstone. */
static int is_tomb(const json_t *d)
{
    return d && json_object_get(d, "@deleted") != NULL;
}

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* The two bits of (tenant, id) in es->seen. */
static void seen_bits(const char *tenant, uint32_t id_hash, uint32_t bit[2])
{
    uint64_t x = ((uint64_t)hash_str(tenant) << 32 | id_hash) * 0x9E3779B97F4A7C15ULL;
    bit[0] = (uint32_t)(x >> 48);                    /* 16 bits */
    bit[1] = (uint32_t)(x >> 16) & (SEEN_BITS - 1);
}

static void seen_add(struct entstore *es, const char *tenant, uint32_t id_hash)
{
    uint32_t bit[2];
    seen_bits(tenant, id_hash, bit);
    for (int i = 0; i < 2; i++)
        atomic_fetch_or_explicit(&es->seen[bit[i] / 64], 1ULL << (bit[i] % 64),
                                 memory_order_relaxed);
}

static int seen_maybe(struct entstore *es, const char *tenant, uint32_t id_hash)
{
    uint32_t bit[2];
    seen_bits(tenant, id_hash, bit);
    for (int i = 0; i < 2; i++)
        if (!(atomic_load_explicit(&es->seen[bit[i] / 64], memory_order_relaxed) &
              (1ULL << (bit[i] % 64))))
            return 0;
    return 1;
}

const char *entstore_local_name(const char *iri)
{
    const char *s = iri, *p;
    for (p = iri; *p; p++)
        if ((*p == '/' || *p == '#') && p[1])
            s = p + 1;
    return s;
}

/* ---- tenants -------------------------------------------------------------------------------- */

static struct tenant *tenant_find(struct entstore *es, const char *name)
{
    struct tenant *t = NULL;
    pthread_rwlock_rdlock(&es->tlock);
    for (uint32_t i = 0; i < es->ntenants; i++)
        if (strcmp(es->tenants[i]->name, name) == 0) {
            t = es->tenants[i];
            break;
        }
    pthread_rwlock_unlock(&es->tlock);
    return t;
}

static struct tenant *tenant_get(struct entstore *es, const char *name)
{
    struct tenant *t = tenant_find(es, name);
    if (t)
        return t;
    pthread_rwlock_wrlock(&es->tlock);
    for (uint32_t i = 0; i < es->ntenants; i++)
        if (strcmp(es->tenants[i]->name, name) == 0) {
            t = es->tenants[i];
            goto out;
        }
    t = vg_calloc(1, sizeof(*t));
    t->name = vg_strdup(name);
    pthread_rwlock_init(&t->lock, NULL);
    pthread_mutex_init(&t->lp_mu, NULL);
    t->nbuckets = 1024;
    t->buckets = vg_calloc(t->nbuckets, sizeof(*t->buckets));
    t->geo = geo_index_new();
    if (es->ntenants == es->captenants) {
        es->captenants = es->captenants ? es->captenants * 2 : 8;
        es->tenants = vg_realloc(es->tenants, es->captenants * sizeof(*es->tenants));
    }
    es->tenants[es->ntenants++] = t;
out:
    pthread_rwlock_unlock(&es->tlock);
    return t;
}

static void tenant_free(struct tenant *t)
{
    for (uint32_t i = 0; i < t->nall; i++) {
        struct slot *s = t->all[i];
        json_decref(s->doc);
        free(s->id);
        free(s->tl);
        free(s->tpos);
        free(s);
    }
    for (uint32_t i = 0; i < t->ntls; i++) {
        free(t->tls[i]->type);
        free(t->tls[i]->v);
        free(t->tls[i]);
    }
    free(t->tls);
    free(t->all);
    free(t->buckets);
    geo_index_free(t->geo);
    lp_free(t->lp, t->nlp);
    pthread_mutex_destroy(&t->lp_mu);
    pthread_rwlock_destroy(&t->lock);
    free(t->name);
    free(t);
}

/* ---- the slot map and indexes (tenant write lock held) ------------------------------------- */

static struct slot *map_find(struct tenant *t, const char *id, uint32_t h)
{
    for (struct slot *s = t->buckets[h & (t->nbuckets - 1)]; s; s = s->next)
        if (s->hash == h && strcmp(s->id, id) == 0)
            return s;
    return NULL;
}

static void map_grow(struct tenant *t)
{
    uint32_t nb = t->nbuckets * 2;
    struct slot **b = vg_calloc(nb, sizeof(*b));
    for (uint32_t i = 0; i < t->nbuckets; i++) {
        struct slot *s = t->buckets[i];
        while (s) {
            struct slot *n = s->next;
            s->next = b[s->hash & (nb - 1)];
            b[s->hash & (nb - 1)] = s;
            s = n;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
}

static struct tlist *tlist_get(struct tenant *t, const char *type, int create)
{
    for (uint32_t i = 0; i < t->ntls; i++)
        if (strcmp(t->tls[i]->type, type) == 0)
            return t->tls[i];
    if (!create)
        return NULL;
    if (t->ntls == t->captls) {
        t->captls = t->captls ? t->captls * 2 : 16;
        t->tls = vg_realloc(t->tls, t->captls * sizeof(*t->tls));
    }
    struct tlist *l = vg_calloc(1, sizeof(*l));
    l->type = vg_strdup(type);
    t->tls[t->ntls++] = l;
    return l;
}

static void index_remove(struct tenant *t, struct slot *s)
{
    if (s->dead) {
        t->dead--;
        s->dead = 0;
    }
    for (uint32_t i = 0; i < s->ntypes; i++) {
        struct tlist *l = s->tl[i];
        uint32_t pos = s->tpos[i];
        struct slot *last = l->v[--l->n];
        if (last != s) {
            l->v[pos] = last;
            for (uint32_t j = 0; j < last->ntypes; j++)
                if (last->tl[j] == l) {
                    last->tpos[j] = pos;
                    break;
                }
        }
    }
    s->ntypes = 0;
    if (s->in_geo) {
        geo_index_del(t->geo, (uint64_t)(uintptr_t)s);
        s->in_geo = 0;
    }
}

static void index_add(struct tenant *t, struct slot *s)
{
    s->dead = is_tomb(s->doc);
    if (s->dead) {
        t->dead++;
        return;
    }
    json_t *types = json_object_get(s->doc, "type");
    size_t n = json_is_array(types) ? json_array_size(types) : 0;
    free(s->tl);
    free(s->tpos);
    s->tl = n ? vg_calloc(n, sizeof(*s->tl)) : NULL;
    s->tpos = n ? vg_calloc(n, sizeof(*s->tpos)) : NULL;
    s->ntypes = 0;
    for (size_t i = 0; i < n; i++) {
        const char *ty = json_string_value(json_array_get(types, i));
        if (!ty)
            continue;
        struct tlist *l = tlist_get(t, ty, 1);
        int dup = 0;
        for (uint32_t j = 0; j < s->ntypes; j++)
            dup |= s->tl[j] == l;
        if (dup)
            continue;
        if (l->n == l->cap) {
            l->cap = l->cap ? l->cap * 2 : 64;
            l->v = vg_realloc(l->v, l->cap * sizeof(*l->v));
        }
        s->tl[s->ntypes] = l;
        s->tpos[s->ntypes] = l->n;
        s->ntypes++;
        l->v[l->n++] = s;
    }
    const json_t *loc = entity_attr_default(s->doc, ENTSTORE_LOCATION_IRI);
    const char *kind = loc ? json_string_value(json_object_get(loc, "type")) : NULL;
    const json_t *g = kind && !strcmp(kind, "GeoProperty") ? json_object_get(loc, "value") : NULL;
    if (g && json_is_object(g)) {
        struct geo_shape *shape = NULL;
        char err[128];
        if (geo_parse_json(g, &shape, err, sizeof(err)) == 0) {
            double b[4];
            geo_bbox(shape, b);
            geo_index_put(t->geo, (uint64_t)(uintptr_t)s, b);
            s->in_geo = 1;
            geo_free(shape);
        }
    }
}

/* Install doc (a reference the function takes over; NULL = delete) as the state of id.
** Returns the previous document (a reference the caller owns) or NULL. */
static json_t *install(struct entstore *es, struct tenant *t, const char *id, json_t *doc)
{
    uint32_t h = hash_str(id);
    json_t *old = NULL;
    pthread_rwlock_wrlock(&t->lock);
    struct slot *s = map_find(t, id, h);
    if (s) {
        old = s->doc;
        index_remove(t, s);
        if (doc) {
            s->doc = doc;
            index_add(t, s);
        } else {
            /* unlink from the hash chain and from `all` */
            struct slot **pp = &t->buckets[h & (t->nbuckets - 1)];
            while (*pp != s)
                pp = &(*pp)->next;
            *pp = s->next;
            struct slot *last = t->all[--t->nall];
            if (last != s) {
                t->all[s->all_pos] = last;
                last->all_pos = s->all_pos;
            }
            t->count--;
            free(s->id);
            free(s->tl);
            free(s->tpos);
            free(s);
        }
    } else if (doc) {
        seen_add(es, t->name, h);
        s = vg_calloc(1, sizeof(*s));
        s->id = vg_strdup(id);
        s->hash = h;
        s->doc = doc;
        s->seq = __atomic_add_fetch(&es->seq, 1, __ATOMIC_RELAXED);
        s->next = t->buckets[h & (t->nbuckets - 1)];
        t->buckets[h & (t->nbuckets - 1)] = s;
        if (t->nall == t->capall) {
            t->capall = t->capall ? t->capall * 2 : 1024;
            t->all = vg_realloc(t->all, t->capall * sizeof(*t->all));
        }
        s->all_pos = t->nall;
        t->all[t->nall++] = s;
        lp_invalidate(t); /* the id may have been a line-protocol entity */
        t->count++;
        if (t->count > t->nbuckets)
            map_grow(t);
        index_add(t, s);
    }
    pthread_rwlock_unlock(&t->lock);
    return old;
}

/* ---- commit thread ------------------------------------------------------------------------- */

#define COMMIT_MAX 4096

static void *commit_main(void *arg)
{
    struct entstore *es = arg;
    struct meta_doc_op *ops = vg_calloc(COMMIT_MAX, sizeof(*ops));
    struct pending **ps = vg_calloc(COMMIT_MAX, sizeof(*ps));
    pthread_mutex_lock(&es->qmu);
    for (;;) {
        while (!es->qhead && !es->stopping)
            pthread_cond_wait(&es->qcv, &es->qmu);
        if (!es->qhead && es->stopping)
            break;
        uint32_t n = 0;
        while (es->qhead && n < COMMIT_MAX) {
            struct pending *p = es->qhead;
            es->qhead = p->next;
            ps[n] = p;
            ops[n] = (struct meta_doc_op){DOC_KIND, p->tenant, p->id, p->text, p->len};
            n++;
        }
        if (!es->qhead)
            es->qtail = &es->qhead;
        pthread_mutex_unlock(&es->qmu);
        int rc = meta_docs_commit(es->meta, ops, n);
        if (rc)
            log_error("entity store: commit of %u documents failed: %s", n, vg_strerror(rc));
        pthread_mutex_lock(&es->qmu);
        es->commits++;
        for (uint32_t i = 0; i < n; i++) {
            struct waiter *w = ps[i]->w;
            ps[i]->rc = rc;
            ps[i]->done = 1; /* ps[i] may be freed as soon as its waiter runs: read w first */
            if (--w->left == 0)
                pthread_cond_signal(&w->cv);
        }
    }
    pthread_mutex_unlock(&es->qmu);
    free(ops);
    free(ps);
    return NULL;
}

/* ---- open / free ----------------------------------------------------------------------------- */

static int load_one(void *arg, const struct meta_doc_row *row)
{
    struct entstore *es = arg;
    json_error_t jerr;
    json_t *doc = json_loadb(row->doc, row->len, 0, &jerr);
    if (!doc || !json_is_object(doc)) {
        log_error("entity store: document %s/%s is not valid JSON (%s); skipped", row->tenant,
                  row->id, jerr.text);
        json_decref(doc);
        return 0;
    }
    struct tenant *t = tenant_get(es, row->tenant);
    json_decref(install(es, t, row->id, doc));
    return 0;
}

int entstore_open(struct meta *m, struct store *st, struct catalog *cat, struct entstore **out)
{
    struct entstore *es = vg_calloc(1, sizeof(*es));
    es->seen = vg_calloc(SEEN_BITS / 64, sizeof(*es->seen));
    es->meta = m;
    es->st = st;
    es->cat = cat;
    pthread_rwlock_init(&es->tlock, NULL);
    for (int i = 0; i < NSTRIPES; i++)
        pthread_mutex_init(&es->stripes[i], NULL);
    pthread_mutex_init(&es->qmu, NULL);
    pthread_cond_init(&es->qcv, NULL);
    es->qtail = &es->qhead;
    int rc = meta_docs_load(m, DOC_KIND, load_one, es);
    if (rc)
        goto fail;
    if (pthread_create(&es->thread, NULL, commit_main, es)) {
        rc = VG_EIO;
        goto fail;
    }
    es->thread_running = 1;
    *out = es;
    return 0;
fail:
    entstore_free(es);
    return rc;
}

void entstore_free(struct entstore *es)
{
    if (!es)
        return;
    if (es->thread_running) {
        pthread_mutex_lock(&es->qmu);
        es->stopping = 1;
        pthread_cond_signal(&es->qcv);
        pthread_mutex_unlock(&es->qmu);
        pthread_join(es->thread, NULL);
    }
    for (uint32_t i = 0; i < es->ntenants; i++)
        tenant_free(es->tenants[i]);
    free(es->tenants);
    for (int i = 0; i < NSTRIPES; i++)
        pthread_mutex_destroy(&es->stripes[i]);
    pthread_mutex_destroy(&es->qmu);
    pthread_cond_destroy(&es->qcv);
    pthread_rwlock_destroy(&es->tlock);
    free((void *)es->seen);
    free(es);
}

/* ---- synthesised entities (line protocol) ----------------------------------------------------- */

struct synth_series {
    uint32_t sid;
    enum vg_vtype vt;
    char attr[260];
    char type[260];
};

struct synth_ctx {
    struct synth_series *v;
    uint32_t n, cap;
};

static int synth_collect(void *arg, const struct catalog_series *cs)
{
    struct synth_ctx *c = arg;
    if (c->n == c->cap) {
        if (c->cap >= ENTITY_MAX_ATTRS)
            return 0;
        c->cap = c->cap ? c->cap * 2 : 16;
        c->v = vg_realloc(c->v, c->cap * sizeof(*c->v));
    }
    struct synth_series *s = &c->v[c->n++];
    s->sid = cs->sid;
    s->vt = cs->vt;
    snprintf(s->attr, sizeof(s->attr), "%s", cs->attr);
    snprintf(s->type, sizeof(s->type), "%s", cs->type);
    return 0;
}

json_t *entstore_value_json(enum vg_vtype vt, const union vg_val *v)
{
    switch (vt) {
    case VT_F64:
        return isfinite(v->f) ? json_real(v->f) : NULL;
    case VT_I64:
        return json_integer(v->i);
    case VT_BOOL:
        return json_boolean(v->i);
    case VT_STR:
        if (v->s.len && v->s.p[0] == ENTSTORE_JSON_MARK) {
            json_t *j = json_loadb(v->s.p + 1, v->s.len - 1, JSON_DECODE_ANY, NULL);
            if (j)
                return j;
        }
        return json_stringn(v->s.p, v->s.len);
    case VT_GEO:
        return json_pack("{s:s, s:[f,f]}", "type", "Point", "coordinates", v->geo.lon, v->geo.lat);
    default:
        return NULL;
    }
}

/* Build the stored form of a line-protocol entity from the latest point of each series, or
** NULL if the catalogue has no series for it. */
static json_t *synth(struct entstore *es, const char *tenant, const char *id)
{
    if (!catalog_entity_exists(es->cat, tenant, id)) /* the common case of a new entity: a hash
                                                        lookup, no ordered selection */
        return NULL;
    struct synth_ctx c = {0};
    struct catalog_sel sel = {tenant, NULL, id, NULL, NULL, 0};
    catalog_select(es->cat, &sel, synth_collect, &c);
    if (!c.n) {
        free(c.v);
        return NULL;
    }
    char tiri[600];
    snprintf(tiri, sizeof(tiri), "%s%s", LDCTX_DEFAULT_VOCAB, c.v[0].type);
    int64_t newest = 0;
    json_t *attrs = json_object();
    for (uint32_t i = 0; i < c.n; i++) {
        const char *name = c.v[i].attr;
        if (strchr(name, '#') || strchr(name, '@')) /* datasetId instances and unit codes of
                                                       NGSI-LD entities */
            continue;
        int64_t ts;
        union vg_val v;
        if (store_latest(es->st, c.v[i].sid, &ts, &v))
            continue;
        const char *kind = c.v[i].vt == VT_GEO ? "GeoProperty" : "Property";
        json_t *val = entstore_value_json(c.v[i].vt, &v);
        if (!val)
            continue;
        char at[32];
        clock_format_rfc3339(ts, at, sizeof(at));
        if (ts > newest)
            newest = ts;
        char airi[600];
        if (strcmp(name, "location") == 0 && c.v[i].vt == VT_GEO)
            snprintf(airi, sizeof(airi), "%s", ENTSTORE_LOCATION_IRI);
        else
            snprintf(airi, sizeof(airi), "%s%s", LDCTX_DEFAULT_VOCAB, name);
        json_t *inst = json_pack("{s:s, s:o, s:s}", "type", kind, "value", val, "observedAt", at);
        json_object_set_new(attrs, airi, json_pack("[o]", inst));
    }
    /* Unit codes written by the gateways as "<attr>@unitCode" string series (the latest). */
    size_t sl = strlen(ENTSTORE_UNIT_SUFFIX);
    for (uint32_t i = 0; i < c.n; i++) {
        const char *name = c.v[i].attr;
        size_t nl = strlen(name);
        if (c.v[i].vt != VT_STR || nl <= sl || strcmp(name + nl - sl, ENTSTORE_UNIT_SUFFIX) ||
            memchr(name, '#', nl))
            continue;
        char airi[600];
        snprintf(airi, sizeof(airi), "%s%.*s", LDCTX_DEFAULT_VOCAB, (int)(nl - sl), name);
        json_t *inst = json_array_get(json_object_get(attrs, airi), 0);
        int64_t ts;
        union vg_val v;
        if (inst && !store_latest(es->st, c.v[i].sid, &ts, &v) && v.s.len && v.s.len < 64)
            json_object_set_new(inst, "unitCode", json_stringn(v.s.p, v.s.len));
    }
    free(c.v);
    char at[32];
    clock_format_rfc3339(newest, at, sizeof(at));
    return json_pack("{s:s, s:[s], s:s, s:s, s:o}", "id", id, "type", tiri, "createdAt", at,
                     "modifiedAt", at, "attrs", attrs);
}

/* ---- reads ---------------------------------------------------------------------------------- */

static json_t *doc_get(struct tenant *t, const char *id)
{
    json_t *d = NULL;
    uint32_t h = hash_str(id);
    pthread_rwlock_rdlock(&t->lock);
    struct slot *s = map_find(t, id, h);
    if (s)
        d = json_incref(s->doc);
    pthread_rwlock_unlock(&t->lock);
    return d;
}

int entstore_get(struct entstore *es, const char *tenant, const char *id, json_t **out)
{
    struct tenant *t = tenant_find(es, tenant);
    json_t *d = t ? doc_get(t, id) : NULL;
    if (is_tomb(d)) {
        json_decref(d);
        return VG_ENOENT;
    }
    if (!d)
        d = synth(es, tenant, id);
    if (!d)
        return VG_ENOENT;
    *out = d;
    return 0;
}

int entstore_has_doc(struct entstore *es, const char *tenant, const char *id)
{
    if (!seen_maybe(es, tenant, hash_str(id)))
        return 0;
    struct tenant *t = tenant_find(es, tenant);
    json_t *d = t ? doc_get(t, id) : NULL;
    int live = d && !is_tomb(d);
    json_decref(d);
    return live;
}

int entstore_tenant_exists(struct entstore *es, const char *tenant)
{
    if (strcmp(tenant, "default") == 0)
        return 1;
    struct tenant *t = tenant_find(es, tenant);
    if (t)
        return 1;
    return catalog_tenant_exists(es->cat, tenant) > 0;
}

/* ---- changes -------------------------------------------------------------------------------- */

struct entstore_batch *entstore_batch_new(struct entstore *es, const char *tenant)
{
    struct entstore_batch *b = vg_calloc(1, sizeof(*b));
    b->es = es;
    snprintf(b->tenant, sizeof(b->tenant), "%s", tenant);
    return b;
}

static void hist_add(struct entstore_batch *b, const char *id, const char *type_local,
                     const char *attr, enum vg_vtype vt, int64_t ts, const union vg_val *v)
{
    if (b->nhp == b->caphp) {
        b->caphp = b->caphp ? b->caphp * 2 : 64;
        b->hp = vg_realloc(b->hp, b->caphp * sizeof(*b->hp));
    }
    struct hist_point *p = &b->hp[b->nhp++];
    p->id = vg_strdup(id);
    p->type = vg_strdup(type_local);
    p->attr = vg_strdup(attr);
    p->vt = vt;
    p->ts = ts;
    p->v = *v;
    if (vt == VT_STR) {
        char *c = vg_malloc(v->s.len + 1);
        memcpy(c, v->s.p, v->s.len);
        c[v->s.len] = '\0';
        p->v.s.p = c;
    }
}

/* The value of one instance as a history point; 0 if it has none. */
static int instance_point(const json_t *inst, enum vg_vtype *vt, union vg_val *v, char **tmp)
{
    const char *kind = json_string_value(json_object_get(inst, "type"));
    const json_t *val = NULL;
    *tmp = NULL;
    if (!kind)
        return 0;
    if (!strcmp(kind, "Property") || !strcmp(kind, "GeoProperty"))
        val = json_object_get(inst, "value");
    else if (!strcmp(kind, "Relationship"))
        val = json_object_get(inst, "object");
    else if (!strcmp(kind, "LanguageProperty"))
        val = json_object_get(inst, "languageMap");
    else if (!strcmp(kind, "ListProperty"))
        val = json_object_get(inst, "valueList");
    else if (!strcmp(kind, "JsonProperty"))
        val = json_object_get(inst, "json");
    else if (!strcmp(kind, "VocabProperty"))
        val = json_object_get(inst, "vocab");
    else if (!strcmp(kind, "ListRelationship"))
        val = json_object_get(inst, "objectList");
    if (!val)
        return 0;
    if (json_is_number(val) && !strcmp(kind, "Property")) {
        *vt = VT_F64;
        v->f = json_number_value(val);
        return 1;
    }
    if (json_is_boolean(val) && !strcmp(kind, "Property")) {
        *vt = VT_BOOL;
        v->i = json_is_true(val);
        return 1;
    }
    if (json_is_string(val) && strcmp(kind, "JsonProperty")) {
        *vt = VT_STR;
        v->s.p = json_string_value(val);
        v->s.len = (uint32_t)json_string_length(val);
        return 1;
    }
    if (!strcmp(kind, "GeoProperty") && json_is_object(val)) {
        const char *gt = json_string_value(json_object_get(val, "type"));
        json_t *c = json_object_get(val, "coordinates");
        if (gt && !strcmp(gt, "Point") && json_array_size(c) >= 2 &&
            json_is_number(json_array_get(c, 0)) && json_is_number(json_array_get(c, 1))) {
            *vt = VT_GEO;
            v->geo.lon = json_number_value(json_array_get(c, 0));
            v->geo.lat = json_number_value(json_array_get(c, 1));
            return 1;
        }
    }
    char *text = json_dumps(val, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text)
        return 0;
    size_t n = strlen(text);
    char *t = vg_malloc(n + 2);
    t[0] = ENTSTORE_JSON_MARK;
    memcpy(t + 1, text, n + 1);
    free(text);
    *tmp = t;
    *vt = VT_STR;
    v->s.p = t;
    v->s.len = (uint32_t)(n + 1);
    return 1;
}

static int64_t instance_time(const json_t *inst, int64_t now)
{
    const char *at = json_string_value(json_object_get(inst, "observedAt"));
    int64_t ms;
    if (at && clock_parse_time(at, strlen(at), &ms) == 0)
        return ms;
    return now;
}

void entstore_series_name(const char *iri, const char *dataset_id, char *out, size_t cap)
{
    if (dataset_id)
        snprintf(out, cap, "%s#%s", entstore_local_name(iri), dataset_id);
    else
        snprintf(out, cap, "%s", entstore_local_name(iri));
}

static const json_t *find_instance(const json_t *cur, const char *iri, const json_t *inst)
{
    const json_t *arr = cur ? json_object_get(json_object_get(cur, "attrs"), iri) : NULL;
    const char *ds = json_string_value(json_object_get(inst, "datasetId"));
    size_t i;
    const json_t *c;
    json_array_foreach(arr, i, c) {
        const char *cds = json_string_value(json_object_get(c, "datasetId"));
        if ((!ds && !cds) || (ds && cds && !strcmp(ds, cds)))
            return c;
    }
    return NULL;
}

/* History points for every instance of next that is new or differs from cur. */
/* History points for every instance of attrs (the "attrs" member of a stored form) that is new
** or differs from cur (NULL: every instance). */
static void history_add(struct entstore_batch *b, const char *id, const char *type_iri,
                        const json_t *cur, const json_t *attrs, int64_t now, int appending)
{
    if (!type_iri)
        return;
    const char *type_local = entstore_local_name(type_iri);
    const char *iri;
    json_t *arr;
    json_object_foreach((json_t *)attrs, iri, arr) {
        size_t i;
        json_t *inst;
        json_array_foreach(arr, i, inst) {
            const json_t *old = cur ? find_instance(cur, iri, inst) : NULL;
            if (old && json_equal((json_t *)old, inst))
                continue;
            enum vg_vtype vt;
            union vg_val v;
            char *tmp;
            if (!instance_point(inst, &vt, &v, &tmp))
                continue;
            char name[600];
            entstore_series_name(iri, json_string_value(json_object_get(inst, "datasetId")), name,
                                 sizeof(name));
            int64_t at = instance_time(inst, now);
            hist_add(b, id, type_local, name, vt, at, &v);
            free(tmp);
            /* Unit codes are recorded where they change (see ENTSTORE_UNIT_SUFFIX): a change of
            ** an instance's unit writes the old unit at the old instant and the new one at the
            ** new instant; instances given without a current state (temporal appends) write
            ** theirs. Most attributes never change unit and get no unit series at all. */
            const char *unit = json_string_value(json_object_get(inst, "unitCode"));
            const char *old_unit = old ? json_string_value(json_object_get(old, "unitCode")) : NULL;
            strncat(name, ENTSTORE_UNIT_SUFFIX, sizeof(name) - strlen(name) - 1);
            union vg_val u;
            if (old && (unit ? !old_unit || strcmp(unit, old_unit) : old_unit != NULL)) {
                u.s.p = old_unit ? old_unit : "";
                u.s.len = (uint32_t)strlen(u.s.p);
                hist_add(b, id, type_local, name, VT_STR, instance_time(old, now), &u);
                u.s.p = unit ? unit : "";
                u.s.len = (uint32_t)strlen(u.s.p);
                hist_add(b, id, type_local, name, VT_STR, at, &u);
            } else if (appending && unit) {
                u.s.p = unit;
                u.s.len = (uint32_t)strlen(unit);
                hist_add(b, id, type_local, name, VT_STR, at, &u);
            }
        }
    }
}

int entstore_change(struct entstore_batch *b, const char *id, entstore_change_fn *fn, void *arg)
{
    struct entstore *es = b->es;
    if (!id || !id[0] || strlen(id) > MAX_ID)
        return VG_EINVAL;
    if (!b->t)
        b->t = tenant_get(es, b->tenant);
    struct tenant *t = b->t;
    uint32_t h = hash_str(id) ^ hash_str(b->tenant);
    pthread_mutex_t *mu = &es->stripes[h % NSTRIPES];
    pthread_mutex_lock(mu);
    json_t *cur = doc_get(t, id);
    int synth_ = 0;
    json_t *next = NULL;
    if (is_tomb(cur)) {
        json_decref(cur);
        cur = NULL;
    } else if (!cur) {
        cur = synth(es, b->tenant, id);
        synth_ = cur != NULL;
    }
    int rc = fn(arg, cur, synth_, &next);
    if (rc) {
        pthread_mutex_unlock(mu);
        json_decref(cur);
        return rc;
    }
    if (!next && !cur) { /* deleting what does not exist */
        pthread_mutex_unlock(mu);
        return 0;
    }
    if (!next) { /* delete: a tombstone hides the series the entity leaves behind */
        char at[32];
        clock_format_rfc3339(clock_now_ms(), at, sizeof(at));
        next = json_pack("{s:s, s:s}", "id", id, "@deleted", at);
    }
    char *text = json_dumps(next, JSON_COMPACT);
    if (!text) {
        pthread_mutex_unlock(mu);
        json_decref(cur);
        json_decref(next);
        return VG_ENOMEM;
    }
    if (!is_tomb(next) && !b->no_history)
        history_add(b, id, json_string_value(json_array_get(json_object_get(next, "type"), 0)),
                    synth_ ? NULL : cur, json_object_get(next, "attrs"), clock_now_ms(), 0);
    json_t *prev = install(es, t, id, json_incref(next));
    json_decref(prev);
    if (b->nch == b->capch) {
        b->capch = b->capch ? b->capch * 2 : 8;
        b->ch = vg_realloc(b->ch, b->capch * sizeof(*b->ch));
        /* pending nodes moved: nothing was enqueued yet (enqueue happens in finish) */
    }
    struct change_rec *c = &b->ch[b->nch++];
    c->id = vg_strdup(id);
    c->old = synth_ ? NULL : cur;
    if (synth_)
        json_decref(cur);
    c->new_ = next;
    memset(&c->p, 0, sizeof(c->p));
    c->p.tenant = t->name;
    c->p.id = c->id;
    c->p.text = text;
    c->p.len = strlen(text);
    pthread_mutex_unlock(mu);
    __atomic_add_fetch(&es->changes, 1, __ATOMIC_RELAXED);
    return 0;
}

static int history_write(struct entstore_batch *b)
{
    struct entstore *es = b->es;
    if (!b->nhp)
        return 0;
    struct store_point *pts = vg_calloc(b->nhp, sizeof(*pts));
    uint32_t n = 0;
    int rc = 0;
    for (uint32_t i = 0; i < b->nhp; i++) {
        struct hist_point *p = &b->hp[i];
        uint32_t sid;
        int r = catalog_resolve(es->cat, b->tenant, strlen(b->tenant), p->type, strlen(p->type),
                                p->id, strlen(p->id), NULL, 0, p->attr, strlen(p->attr), p->vt,
                                &sid);
        if (r) { /* another value type than the series has, or a name over the limits */
            __atomic_add_fetch(&es->history_skipped, 1, __ATOMIC_RELAXED);
            continue;
        }
        pts[n].sid = sid;
        pts[n].ts = p->ts;
        pts[n].v = p->v;
        n++;
    }
    if (n) {
        rc = catalog_sync(es->cat);
        if (!rc)
            rc = store_write(es->st, pts, n);
        if (!rc)
            __atomic_add_fetch(&es->history_points, n, __ATOMIC_RELAXED);
    }
    free(pts);
    return rc;
}

int entstore_batch_finish(struct entstore_batch *b)
{
    struct entstore *es = b->es;
    /* the documents' commit (SQLite fsync) and the history's (WAL fsync) run in parallel */
    struct waiter w;
    pthread_cond_init(&w.cv, NULL);
    w.left = b->nch;
    pthread_mutex_lock(&es->qmu); /* one lock and one wake-up for the whole batch */
    for (uint32_t i = 0; i < b->nch; i++) {
        struct pending *p = &b->ch[i].p;
        p->w = &w;
        p->next = NULL;
        p->done = 0;
        p->rc = 0;
        *es->qtail = p;
        es->qtail = &p->next;
    }
    if (b->nch)
        pthread_cond_signal(&es->qcv);
    pthread_mutex_unlock(&es->qmu);
    int rc = history_write(b);
    pthread_mutex_lock(&es->qmu);
    while (w.left)
        pthread_cond_wait(&w.cv, &es->qmu);
    pthread_mutex_unlock(&es->qmu);
    pthread_cond_destroy(&w.cv);
    for (uint32_t i = 0; i < b->nch; i++) {
        struct change_rec *c = &b->ch[i];
        if (!c->p.rc && !rc && es->observer)
            es->observer(es->observer_arg, b->tenant, c->id, is_tomb(c->old) ? NULL : c->old,
                         is_tomb(c->new_) ? NULL : c->new_);
        if (c->p.rc) {
            if (!rc)
                rc = c->p.rc;
            /* roll back the memory state if nobody changed it since */
            uint32_t h = hash_str(c->id) ^ hash_str(b->tenant);
            pthread_mutex_t *mu = &es->stripes[h % NSTRIPES];
            pthread_mutex_lock(mu);
            json_t *now = doc_get(b->t, c->id);
            if (now == c->new_)
                json_decref(install(es, b->t, c->id, c->old ? json_incref(c->old) : NULL));
            json_decref(now);
            pthread_mutex_unlock(mu);
        }
        json_decref(c->old);
        json_decref(c->new_);
        free(c->p.text);
        free(c->id);
    }
    for (uint32_t i = 0; i < b->nhp; i++) {
        free(b->hp[i].id);
        free(b->hp[i].type);
        free(b->hp[i].attr);
        if (b->hp[i].vt == VT_STR)
            free((char *)b->hp[i].v.s.p);
    }
    free(b->hp);
    free(b->ch);
    free(b);
    return rc;
}

void entstore_batch_no_history(struct entstore_batch *b)
{
    b->no_history = 1;
}

struct latest_arg {
    const struct entstore_latest *l;
    uint32_t n;
};

/* entstore_change_fn of entstore_apply_latest: VG_EEXIST when nothing is newer. */
static int latest_fn(void *arg, const json_t *cur, int synth_, json_t **next)
{
    const struct latest_arg *a = arg;
    if (!cur || synth_)
        return VG_ENOENT; /* no document: the entity is the line-protocol view already */
    json_t *doc = json_deep_copy(cur);
    json_t *attrs = json_object_get(doc, "attrs");
    char now[32], at[32], iri[600];
    clock_format_rfc3339(clock_now_ms(), now, sizeof(now));
    int changed = 0;
    for (uint32_t i = 0; i < a->n; i++) {
        const struct entstore_latest *l = &a->l[i];
        json_t *val = entstore_value_json(l->vt, &l->v);
        if (!val)
            continue;
        int geo = l->vt == VT_GEO && !strcmp(l->attr, "location");
        /* the attribute whose local name is the field's (its series), whatever its context */
        json_t *arr = NULL, *x, *inst = NULL;
        const char *key;
        json_object_foreach(attrs, key, x)
            if (!strcmp(entstore_local_name(key), l->attr))
                arr = x;
        size_t k;
        json_array_foreach(arr, k, x)
            if (!json_object_get(x, "datasetId"))
                inst = x;
        const char *kind = json_string_value(json_object_get(inst, "type"));
        if (inst && ((kind && strcmp(kind, "Property") && strcmp(kind, "GeoProperty")) ||
                     instance_time(inst, INT64_MIN) > l->ts)) { /* not a value, or newer */
            json_decref(val);
            continue;
        }
        if (geo)
            snprintf(iri, sizeof(iri), "%s", ENTSTORE_LOCATION_IRI);
        else
            snprintf(iri, sizeof(iri), "%s%s", LDCTX_DEFAULT_VOCAB, l->attr);
        if (!inst) {
            inst = json_pack("{s:s, s:s}", "type", geo ? "GeoProperty" : "Property", "createdAt",
                             now);
            if (!arr) {
                arr = json_array();
                json_object_set_new(attrs, iri, arr);
            }
            json_array_append_new(arr, inst);
        }
        clock_format_rfc3339(l->ts, at, sizeof(at));
        json_object_set_new(inst, "value", val);
        json_object_set_new(inst, "observedAt", json_string(at));
        json_object_set_new(inst, "modifiedAt", json_string(now));
        changed = 1;
    }
    if (!changed) {
        json_decref(doc);
        return VG_EEXIST;
    }
    json_object_set_new(doc, "modifiedAt", json_string(now));
    *next = doc;
    return 0;
}

int entstore_apply_latest(struct entstore_batch *b, const char *id,
                          const struct entstore_latest *l, uint32_t n)
{
    struct latest_arg a = {l, n};
    int rc = entstore_change(b, id, latest_fn, &a);
    return rc == VG_EEXIST || rc == VG_ENOENT ? 0 : rc;
}

void entstore_set_observer(struct entstore *es, entstore_observer_fn *fn, void *arg)
{
    es->observer = fn;
    es->observer_arg = arg;
}

int entstore_history_append(struct entstore *es, const char *tenant, const char *id,
                            const char *type_iri, const json_t *attrs, uint64_t *points)
{
    struct entstore_batch *b = entstore_batch_new(es, tenant);
    history_add(b, id, type_iri, NULL, attrs, clock_now_ms(), 1);
    uint64_t n = b->nhp;
    int rc = entstore_batch_finish(b);
    if (!rc && points)
        *points = n;
    return rc;
}

/* ---- queries -------------------------------------------------------------------------------- */

struct scan_state {
    const struct entstore_scan *s;
    entstore_row_fn *row;
    void *rarg;
    uint64_t matched;
    int want_total;
    int stop, rc;
};

/* Offer one candidate; returns 1 when the scan can stop. */
static int offer(struct scan_state *st, const json_t *e)
{
    if (st->s->match && !st->s->match(st->s->arg, e))
        return 0;
    uint64_t k = st->matched++;
    if (k >= st->s->offset && k < st->s->offset + st->s->limit) {
        int rc = st->row(st->rarg, e);
        if (rc) {
            st->rc = rc;
            st->stop = 1;
            return 1;
        }
    }
    if (!st->want_total && st->matched >= st->s->offset + st->s->limit) {
        st->stop = 1;
        return 1;
    }
    return 0;
}

static int slot_seq_cmp(const void *a, const void *b)
{
    const struct slot *x = *(struct slot *const *)a, *y = *(struct slot *const *)b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

struct geo_collect {
    struct slot **v;
    uint32_t n, cap;
};

static int geo_collect_one(void *arg, uint64_t handle)
{
    struct geo_collect *g = arg;
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 256;
        g->v = vg_realloc(g->v, g->cap * sizeof(*g->v));
    }
    g->v[g->n++] = (struct slot *)(uintptr_t)handle;
    return 0;
}

/* Is the slot's entity of an earlier candidate type than index ti (already offered)? */
static int seen_earlier_type(const struct slot *sl, const struct entstore_scan *s, uint32_t ti)
{
    for (uint32_t k = 0; k < ti; k++)
        for (uint32_t j = 0; j < sl->ntypes; j++)
            if (strcmp(sl->tl[j]->type, s->types[k]) == 0)
                return 1;
    return 0;
}

static void scan_docs(struct tenant *t, const struct entstore_scan *s, struct scan_state *st)
{
    if (s->ids) {
        for (uint32_t i = 0; i < s->nids && !st->stop; i++) {
            int dup = 0;
            for (uint32_t k = 0; k < i && !dup; k++)
                dup = strcmp(s->ids[k], s->ids[i]) == 0;
            struct slot *sl = dup ? NULL : map_find(t, s->ids[i], hash_str(s->ids[i]));
            if (!sl || sl->dead)
                continue;
            if (s->types) {
                int ok = 0;
                for (uint32_t k = 0; k < s->ntypes && !ok; k++)
                    ok = entity_has_type(sl->doc, s->types[k]);
                if (!ok)
                    continue;
            }
            offer(st, sl->doc);
        }
        return;
    }
    if (s->bbox) {
        struct geo_collect g = {0};
        geo_index_search(t->geo, s->bbox, geo_collect_one, &g);
        if (g.n > 1)
            qsort(g.v, g.n, sizeof(*g.v), slot_seq_cmp);
        for (uint32_t i = 0; i < g.n && !st->stop; i++) {
            struct slot *sl = g.v[i];
            if (s->types) {
                int ok = 0;
                for (uint32_t k = 0; k < s->ntypes && !ok; k++)
                    ok = entity_has_type(sl->doc, s->types[k]);
                if (!ok)
                    continue;
            }
            offer(st, sl->doc);
        }
        free(g.v);
        return;
    }
    if (s->types) {
        for (uint32_t ti = 0; ti < s->ntypes && !st->stop; ti++) {
            struct tlist *l = tlist_get(t, s->types[ti], 0);
            for (uint32_t i = 0; l && i < l->n && !st->stop; i++) {
                if (ti && seen_earlier_type(l->v[i], s, ti))
                    continue;
                offer(st, l->v[i]->doc);
            }
        }
        return;
    }
    for (uint32_t i = 0; i < t->nall && !st->stop; i++)
        if (!t->all[i]->dead)
            offer(st, t->all[i]->doc);
}

/* Line-protocol entities: the catalogue's entities that have no document (nor tombstone) here.
** The list is cached per tenant and rebuilt only when the catalogue gained entities
** (catalog_entity_generation), so queries do not walk the catalogue each time. */

struct lp_build {
    struct tenant *t;
    struct lp_ent *v;
    uint32_t n, cap;
};

static int lp_build_one(void *arg, const char *entity, const char *type)
{
    struct lp_build *b = arg;
    if (map_find(b->t, entity, hash_str(entity)))
        return 0;
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 256;
        b->v = vg_realloc(b->v, b->cap * sizeof(*b->v));
    }
    b->v[b->n].id = vg_strdup(entity);
    b->v[b->n].type = vg_strdup(type);
    b->n++;
    return 0;
}

static int lp_cmp(const void *a, const void *b)
{
    return strcmp(((const struct lp_ent *)a)->id, ((const struct lp_ent *)b)->id);
}


/* A snapshot of the tenant's line-protocol entities (the caller frees it with lp_free). */
static struct lp_ent *lp_list(struct entstore *es, struct tenant *t, uint32_t *n)
{
    uint64_t gen = catalog_entity_generation(es->cat);
    pthread_mutex_lock(&t->lp_mu);
    if (!t->lp_valid || t->lp_gen != gen) {
        struct lp_build b = {t, NULL, 0, 0};
        pthread_rwlock_rdlock(&t->lock);
        catalog_entities(es->cat, t->name, lp_build_one, &b);
        pthread_rwlock_unlock(&t->lock);
        if (b.n > 1)
            qsort(b.v, b.n, sizeof(*b.v), lp_cmp);
        lp_free(t->lp, t->nlp);
        t->lp = b.v;
        t->nlp = b.n;
        t->lp_gen = gen;
        t->lp_valid = 1;
    }
    struct lp_ent *copy = t->nlp ? vg_malloc(t->nlp * sizeof(*copy)) : NULL;
    for (uint32_t i = 0; i < t->nlp; i++) {
        copy[i].id = vg_strdup(t->lp[i].id);
        copy[i].type = vg_strdup(t->lp[i].type);
    }
    *n = t->nlp;
    pthread_mutex_unlock(&t->lp_mu);
    return copy;
}


static int lp_type_wanted(const struct lp_ent *le, const struct entstore_scan *s)
{
    if (!s->types)
        return 1;
    size_t vl = strlen(LDCTX_DEFAULT_VOCAB); /* line-protocol types live in the default vocab */
    for (uint32_t k = 0; k < s->ntypes; k++)
        if (!strncmp(s->types[k], LDCTX_DEFAULT_VOCAB, vl) && !strcmp(s->types[k] + vl, le->type))
            return 1;
    return 0;
}

static void scan_lp(struct entstore *es, struct tenant *t, const char *tenant,
                    const struct entstore_scan *s, struct scan_state *st)
{
    uint32_t n = 0;
    struct lp_ent *v = lp_list(es, t, &n);
    if (s->ids) { /* in the order of the ids given, each once */
        for (uint32_t i = 0; i < s->nids && !st->stop; i++) {
            int dup = 0;
            for (uint32_t k = 0; k < i && !dup; k++)
                dup = strcmp(s->ids[k], s->ids[i]) == 0;
            struct lp_ent key = {(char *)s->ids[i], NULL};
            struct lp_ent *le = dup || !n ? NULL : bsearch(&key, v, n, sizeof(*v), lp_cmp);
            if (!le || !lp_type_wanted(le, s))
                continue;
            json_t *e = synth(es, tenant, le->id);
            if (e)
                offer(st, e);
            json_decref(e);
        }
    } else {
        for (uint32_t i = 0; i < n && !st->stop; i++) {
            if (!lp_type_wanted(&v[i], s))
                continue;
            json_t *e = synth(es, tenant, v[i].id);
            if (e)
                offer(st, e);
            json_decref(e);
        }
    }
    lp_free(v, n);
}

int entstore_scan(struct entstore *es, const char *tenant, const struct entstore_scan *s,
                  entstore_row_fn *row, void *rarg, uint64_t *total)
{
    struct scan_state st = {s, row, rarg, 0, total != NULL, 0, 0};
    struct tenant *t = tenant_find(es, tenant);
    if (t) {
        pthread_rwlock_rdlock(&t->lock);
        scan_docs(t, s, &st);
        pthread_rwlock_unlock(&t->lock);
    }
    /* Line-protocol entities have no "location" document in the geo index: a geo query by bbox
    ** alone also scans them (their location is their latest geo point). */
    if (!st.stop && !t && catalog_tenant_exists(es->cat, tenant))
        t = tenant_get(es, tenant);
    if (!st.stop && t)
        scan_lp(es, t, tenant, s, &st);
    if (total)
        *total = st.matched;
    return st.rc;
}

/* ---- types and attributes ------------------------------------------------------------------ */

static void types_add(json_t *acc, const char *type, const json_t *e)
{
    json_t *ty = json_object_get(acc, type);
    if (!ty) {
        ty = json_pack("{s:I, s:{}}", "n", (json_int_t)0, "attrs");
        json_object_set_new(acc, type, ty);
    }
    json_object_set_new(ty, "n", json_integer(json_integer_value(json_object_get(ty, "n")) + 1));
    json_t *attrs = json_object_get(ty, "attrs");
    const char *iri;
    json_t *arr;
    json_object_foreach(json_object_get(e, "attrs"), iri, arr) {
        json_t *kinds = json_object_get(attrs, iri);
        if (!kinds) {
            kinds = json_array();
            json_object_set_new(attrs, iri, kinds);
        }
        size_t i;
        json_t *inst;
        json_array_foreach(arr, i, inst) {
            json_t *k = json_object_get(inst, "type");
            size_t j;
            json_t *x;
            int have = 0;
            json_array_foreach(kinds, j, x) have |= json_equal(x, k);
            if (!have && k)
                json_array_append(kinds, k);
        }
    }
}

int entstore_types(struct entstore *es, const char *tenant, entstore_type_fn *fn, void *arg)
{
    json_t *acc = json_object();
    struct tenant *t = tenant_find(es, tenant);
    if (t) {
        pthread_rwlock_rdlock(&t->lock);
        for (uint32_t i = 0; i < t->nall; i++) {
            if (t->all[i]->dead)
                continue;
            json_t *types = json_object_get(t->all[i]->doc, "type");
            size_t k;
            json_t *ty;
            json_array_foreach(types, k, ty) if (json_is_string(ty))
                types_add(acc, json_string_value(ty), t->all[i]->doc);
        }
        pthread_rwlock_unlock(&t->lock);
    }
    if (!t && catalog_tenant_exists(es->cat, tenant))
        t = tenant_get(es, tenant);
    uint32_t n = 0;
    struct lp_ent *v = t ? lp_list(es, t, &n) : NULL;
    for (uint32_t i = 0; i < n; i++) {
        json_t *e = synth(es, tenant, v[i].id);
        if (e)
            types_add(acc, json_string_value(json_array_get(json_object_get(e, "type"), 0)), e);
        json_decref(e);
    }
    lp_free(v, n);
    int rc = 0;
    const char *type;
    json_t *ty;
    json_object_foreach(acc, type, ty) {
        rc = fn(arg, type, (uint64_t)json_integer_value(json_object_get(ty, "n")),
                json_object_get(ty, "attrs"));
        if (rc)
            break;
    }
    json_decref(acc);
    return rc;
}

void entstore_get_stats(struct entstore *es, struct entstore_stats *st)
{
    memset(st, 0, sizeof(*st));
    pthread_rwlock_rdlock(&es->tlock);
    for (uint32_t i = 0; i < es->ntenants; i++) {
        pthread_rwlock_rdlock(&es->tenants[i]->lock);
        st->entities += es->tenants[i]->count - es->tenants[i]->dead;
        pthread_rwlock_unlock(&es->tenants[i]->lock);
    }
    pthread_rwlock_unlock(&es->tlock);
    st->changes = __atomic_load_n(&es->changes, __ATOMIC_RELAXED);
    pthread_mutex_lock(&es->qmu);
    st->commits = es->commits;
    pthread_mutex_unlock(&es->qmu);
    st->history_points = __atomic_load_n(&es->history_points, __ATOMIC_RELAXED);
    st->history_skipped = __atomic_load_n(&es->history_skipped, __ATOMIC_RELAXED);
}
