/*
** ngsild/ldctx.c: JSON-LD @context registry, resolution, and term expansion/compaction.
** Owns: struct ldctx_reg (context documents by URL or id, the core context, the cache of resolved
** contexts) and struct ldctx (an active context: term -> IRI map, IRI -> term map, memo caches).
** Borrows: nothing past a call; documents given to ldctx_reg_add are deep-copied.
** Thread: every entry point is thread-safe. Locks, always taken in this order:
**   reg->lock (rwlock: documents) -> reg->cache_mu (resolved cache) ; reg->core_mu alone ;
**   ldctx->mu (rwlock: memo caches of one context) alone.
**
** Resolution follows the JSON-LD 1.1 context processing algorithm, reduced to what NGSI-LD needs
** (term -> IRI, @type, @container, @vocab, null to undefine), with three deliberate choices:
**  - the core context is applied LAST, whatever the user wrote, so its terms always win (a user
**    context listing a core URL explicitly is fine: the URL is skipped, core comes at the end);
**  - as in JSON-LD the last @vocab wins, and since the core comes last its @vocab
**    (LDCTX_DEFAULT_VOCAB) is the vocabulary of every resolved context: a user @vocab only affects
**    the IRIs of the terms defined after it inside the user's own contexts;
**  - scoped contexts, @protected, @version, @language, @base, @import and @reverse terms are
**    ignored (no NGSI-LD attribute name depends on them).
** Terms are resolved when their context object is processed (a later redefinition of a prefix does
** not change terms already defined), as JSON-LD does. Nested URL references go through the
** registry only (never the network), at most DEPTH_MAX deep; a cycle is VG_EINVAL.
**
** Memory bounds: a document is at most DOC_MAX bytes (canonical JSON); at most USER_DOCS_MAX
** HOSTED documents per tenant; a resolve dereferences at most REFS_MAX documents and processes at
** most DEFS_MAX term definitions; CACHE_MAX resolved contexts are cached (oldest evicted). The memo
** caches of one struct ldctx hold at most MEMO_MAX entries each; past that, results go to a spill
** list freed with the context and the context is "retired": the registry stops handing it out
** (the next resolve of the same @context builds a fresh one), so a client sending endless new
** attribute names grows only the contexts that live requests still hold.
*/
#include "ngsild/ldctx.h"

#include <dirent.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DOC_MAX (1u << 20)
#define USER_DOCS_MAX 10000u
#define DEPTH_MAX 8
#define REFS_MAX 256u
#define DEFS_MAX 200000u
#define CACHE_MAX 512u
#define MEMO_MAX 65536u
#define MANIFEST_LINE_MAX 8192
#define ID_PREFIX "urn:ngsi-ld:jsonldContext:"
#define ID_HASH_BYTES 16

/* ldctx_core.c: the i-th URL of the core context, NULL past the end. */
const char *ldctx__core_url(size_t i);

/* ---- string hash map (open addressing, linear probing, SipHash with a per-registry key) ---- */

struct smap_ent {
    char *key; /* owned; NULL marks an empty slot */
    void *val;
    uint64_t h;
};

struct smap {
    struct smap_ent *v;
    size_t cap; /* 0 or a power of two */
    size_t n;
    unsigned char k[crypto_shorthash_KEYBYTES];
};

static void smap_init(struct smap *m, const unsigned char *k)
{
    memset(m, 0, sizeof(*m));
    memcpy(m->k, k, sizeof(m->k));
}

static uint64_t smap_hash(const struct smap *m, const char *key)
{
    unsigned char out[crypto_shorthash_BYTES];
    uint64_t h;
    crypto_shorthash(out, (const unsigned char *)key, strlen(key), m->k);
    memcpy(&h, out, sizeof(h));
    return h;
}

static struct smap_ent *smap_find(const struct smap *m, const char *key)
{
    if (m->n == 0)
        return NULL;
    uint64_t h = smap_hash(m, key);
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        struct smap_ent *e = &m->v[i];
        if (!e->key)
            return NULL;
        if (e->h == h && strcmp(e->key, key) == 0)
            return e;
    }
}

static void *smap_get(const struct smap *m, const char *key)
{
    struct smap_ent *e = smap_find(m, key);
    return e ? e->val : NULL;
}

static void smap_grow(struct smap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    struct smap_ent *nv = vg_calloc(ncap, sizeof(*nv));
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->v[i].key)
            continue;
        size_t j = (size_t)m->v[i].h & (ncap - 1);
        while (nv[j].key)
            j = (j + 1) & (ncap - 1);
        nv[j] = m->v[i];
    }
    free(m->v);
    m->v = nv;
    m->cap = ncap;
}

/* Map key (copied) to val. Returns the value it replaces, NULL if key was new. */
static void *smap_put(struct smap *m, const char *key, void *val)
{
    if ((m->n + 1) * 4 > m->cap * 3)
        smap_grow(m);
    uint64_t h = smap_hash(m, key);
    size_t mask = m->cap - 1;
    size_t i = (size_t)h & mask;
    for (; m->v[i].key; i = (i + 1) & mask) {
        if (m->v[i].h == h && strcmp(m->v[i].key, key) == 0) {
            void *old = m->v[i].val;
            m->v[i].val = val;
            return old;
        }
    }
    m->v[i].key = vg_strdup(key);
    m->v[i].val = val;
    m->v[i].h = h;
    m->n++;
    return NULL;
}

/* Remove key; returns its value (NULL if absent). Backward-shift deletion keeps probes short. */
static void *smap_del(struct smap *m, const char *key)
{
    struct smap_ent *e = smap_find(m, key);
    if (!e)
        return NULL;
    void *val = e->val;
    free(e->key);
    size_t mask = m->cap - 1;
    size_t i = (size_t)(e - m->v);
    for (size_t j = (i + 1) & mask; m->v[j].key; j = (j + 1) & mask) {
        size_t home = (size_t)m->v[j].h & mask;
        /* the entry at j may move to the hole at i unless its home lies cyclically in (i, j] */
        int stays = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            m->v[i] = m->v[j];
            i = j;
        }
    }
    m->v[i].key = NULL;
    m->v[i].val = NULL;
    m->n--;
    return val;
}

static void smap_release(struct smap *m, void (*fn)(void *))
{
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->v[i].key)
            continue;
        if (fn)
            fn(m->v[i].val);
        free(m->v[i].key);
    }
    free(m->v);
    m->v = NULL;
    m->cap = m->n = 0;
}

/* ---- small helpers ---- */

static int fail(char *err, size_t cap, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t cap, int rc, const char *fmt, ...)
{
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static char *concat(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = vg_malloc(la + lb + 1);
    memcpy(s, a, la);
    memcpy(s + la, b, lb + 1);
    return s;
}

static int starts_with(const char *s, const char *prefix, size_t plen)
{
    return strncmp(s, prefix, plen) == 0;
}

/* RFC 3986 scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
static int is_scheme(const char *s, size_t n)
{
    if (n == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return 0;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

static int is_keyword(const char *s)
{
    static const char *const kw[] = {"@base",    "@container", "@context", "@direction", "@graph",
                                     "@id",      "@import",    "@included", "@index",    "@json",
                                     "@language", "@list",     "@nest",    "@none",      "@prefix",
                                     "@propagate", "@protected", "@reverse", "@set",     "@type",
                                     "@value",   "@version",   "@vocab"};
    for (size_t i = 0; i < VG_ARRAY_LEN(kw); i++)
        if (strcmp(s, kw[i]) == 0)
            return 1;
    return 0;
}

/* Key of a tenant-scoped entry: "<len>:<tenant><id>" (unambiguous whatever the tenant holds). */
static char *tenant_key(const char *tenant, const char *id)
{
    if (!tenant)
        tenant = "";
    size_t lt = strlen(tenant), li = strlen(id);
    char *k = vg_malloc(lt + li + 24);
    snprintf(k, lt + li + 24, "%zu:%s%s", lt, tenant, id);
    return k;
}

/* ---- the active context ---- */

struct ldterm {
    char *iri;       /* absolute IRI or keyword; NULL: the term was mapped to null (undefined) */
    char *type;      /* "@id", "@vocab", "@json", "@none" or an expanded IRI; NULL if none */
    char *container; /* "@list" etc., several joined by ','; NULL if none */
    bool prefix;     /* usable as the prefix of a compact IRI (JSON-LD 1.1 prefix flag) */
};

struct prefix {
    const char *term; /* key of the terms map */
    const char *iri;
    size_t len;
};

struct spill {
    struct spill *next;
    char *s;
};

struct ldctx {
    atomic_int refs;
    atomic_int retired; /* a memo cache overflowed: the registry stops handing this one out */
    struct smap terms;  /* term -> struct ldterm (immutable after resolve) */
    struct smap rev;    /* IRI -> best term (const char *, a key of terms) */
    char *vocab;
    struct prefix *pfx; /* prefix terms, longest IRI first */
    size_t npfx;
    pthread_rwlock_t mu; /* guards xmemo, cmemo, spill */
    struct smap xmemo;   /* term -> char * computed expansion */
    struct smap cmemo;   /* IRI -> char * computed compaction */
    struct spill *spill;
};

static void term_free(void *p)
{
    struct ldterm *t = p;
    if (!t)
        return;
    free(t->iri);
    free(t->type);
    free(t->container);
    free(t);
}

static void ctx_free(struct ldctx *c)
{
    smap_release(&c->terms, term_free);
    smap_release(&c->rev, NULL);
    smap_release(&c->xmemo, free);
    smap_release(&c->cmemo, free);
    while (c->spill) {
        struct spill *s = c->spill;
        c->spill = s->next;
        free(s->s);
        free(s);
    }
    pthread_rwlock_destroy(&c->mu);
    free(c->pfx);
    free(c->vocab);
    free(c);
}

void ldctx_retain(struct ldctx *c)
{
    if (c)
        atomic_fetch_add(&c->refs, 1);
}

void ldctx_release(struct ldctx *c)
{
    if (c && atomic_fetch_sub(&c->refs, 1) == 1)
        ctx_free(c);
}

/* ---- the registry ---- */

struct ldoc {
    char *id;      /* URL (global documents) or urn:ngsi-ld:jsonldContext:<hex> (HOSTED) */
    char *tenant;  /* owner of a HOSTED document; NULL for global ones */
    enum ldctx_kind kind;
    json_t *doc;   /* the whole document, holding "@context" */
    bool alias;    /* another URL of the core context: gettable, not listed */
};

struct cslot {
    char *key;       /* owned copy; NULL: free slot */
    struct ldctx *ctx; /* one reference held by the cache */
};

struct ldctx_reg {
    pthread_rwlock_t lock;
    struct smap docs;   /* URL -> struct ldoc (BUILTIN, CACHED) */
    struct smap hosted; /* tenant_key(tenant, id) -> struct ldoc (HOSTED) */
    struct smap counts; /* tenant -> (uintptr_t) number of HOSTED documents */
    atomic_uint gen;    /* bumped when a document is removed or replaced */
    json_t *core_doc;
    pthread_mutex_t core_mu;
    struct ldctx *core;
    pthread_mutex_t cache_mu;
    struct smap cache;  /* tenant_key(tenant, canonical @context) -> (uintptr_t) slot index + 1 */
    struct cslot ring[CACHE_MAX]; /* FIFO: oldest at head */
    size_t head, nring;
    unsigned char hk[crypto_shorthash_KEYBYTES];
};

static void doc_free(void *p)
{
    struct ldoc *d = p;
    if (!d)
        return;
    json_decref(d->doc);
    free(d->id);
    free(d->tenant);
    free(d);
}

/* ---- building an active context ---- */

struct build {
    struct ldctx_reg *r;
    const char *tenant;
    struct smap terms; /* term -> struct ldterm */
    char *vocab;
    bool dry; /* validation only: URL references are not followed */
    const char *stack[DEPTH_MAX + 1];
    int nstack;
    unsigned nrefs, ndefs;
    char *err;
    size_t cap;
};

/* One term definition of the context object being processed. */
struct pend {
    const char *term;
    const json_t *val;
    int state; /* 0 to do, 1 in progress, 2 done */
};

struct local {
    struct pend *p;
    size_t n;
    struct smap idx; /* term -> (uintptr_t) index + 1 */
};

static int define(struct build *b, struct local *l, size_t i, int depth);

static struct ldterm *local_term(struct build *b, struct local *l, const char *term, int depth,
                                 int *rc)
{
    *rc = 0;
    if (l) {
        uintptr_t k = (uintptr_t)smap_get(&l->idx, term);
        if (k && l->p[k - 1].state != 2) {
            *rc = define(b, l, k - 1, depth + 1);
            if (*rc)
                return NULL;
        }
    }
    return smap_get(&b->terms, term);
}

/* IRI expansion of a value inside a context (vocab-relative), JSON-LD 1.1 section 5.2.
** self: the term being defined (a term mapping to itself is @vocab-relative). */
static int expand_def(struct build *b, struct local *l, const char *value, const char *self,
                      int depth, char **out)
{
    int rc;
    const char *colon = strchr(value, ':');
    if (value[0] == '@') {
        *out = vg_strdup(value);
        return 0;
    }
    if (colon) {
        size_t plen = (size_t)(colon - value);
        if ((plen == 1 && value[0] == '_') || starts_with(colon + 1, "//", 2)) {
            *out = vg_strdup(value);
            return 0;
        }
        char *prefix = vg_strndup(value, plen);
        struct ldterm *t = local_term(b, l, prefix, depth, &rc);
        free(prefix);
        if (rc)
            return rc;
        if (t && t->iri && t->prefix && t->iri[0] != '@')
            *out = concat(t->iri, colon + 1);
        else if (is_scheme(value, plen))
            *out = vg_strdup(value);
        else
            *out = concat(b->vocab ? b->vocab : LDCTX_DEFAULT_VOCAB, value);
        return 0;
    }
    if (!self || strcmp(value, self) != 0) {
        struct ldterm *t = local_term(b, l, value, depth, &rc);
        if (rc)
            return rc;
        if (t && t->iri) {
            *out = vg_strdup(t->iri);
            return 0;
        }
    }
    /* No @vocab yet: the core's, which every resolved context ends with, rather than an error. */
    *out = concat(b->vocab ? b->vocab : LDCTX_DEFAULT_VOCAB, value);
    return 0;
}

static int define(struct build *b, struct local *l, size_t i, int depth)
{
    struct pend *p = &l->p[i];
    const char *term = p->term;
    const json_t *v = p->val;
    const char *raw = NULL;
    struct ldterm *t = NULL;
    int simple = json_is_string(v);
    int rc = 0;

    if (p->state == 2)
        return 0;
    if (p->state == 1 || depth > 64)
        return fail(b->err, b->cap, VG_EINVAL, "cyclic IRI mapping for term '%.200s'", term);
    p->state = 1;
    t = vg_calloc(1, sizeof(*t));
    if (json_is_null(v))
        goto done;
    if (json_is_string(v)) {
        raw = json_string_value(v);
    } else {
        const json_t *id = json_object_get(v, "@id");
        const json_t *ty = json_object_get(v, "@type");
        const json_t *co = json_object_get(v, "@container");
        const json_t *px = json_object_get(v, "@prefix");
        if (json_object_get(v, "@reverse")) {
            /* reverse properties never name an NGSI-LD attribute: leave the term as it was */
            p->state = 2;
            goto out;
        }
        if (id && json_is_null(id))
            goto done;
        if (id && !json_is_string(id)) {
            rc = fail(b->err, b->cap, VG_EINVAL, "term '%.200s': @id must be a string", term);
            goto out;
        }
        raw = id ? json_string_value(id) : NULL;
        if (ty && !json_is_string(ty)) {
            rc = fail(b->err, b->cap, VG_EINVAL, "term '%.200s': @type must be a string", term);
            goto out;
        }
        if (ty) {
            rc = expand_def(b, l, json_string_value(ty), NULL, depth, &t->type);
            if (rc)
                goto out;
        }
        if (co && json_is_string(co)) {
            t->container = vg_strdup(json_string_value(co));
        } else if (co && json_is_array(co)) {
            size_t k, len = 0;
            const json_t *e;
            json_array_foreach(co, k, e) {
                if (!json_is_string(e))
                    break;
                len += strlen(json_string_value(e)) + 1;
            }
            if (k != json_array_size(co)) {
                rc = fail(b->err, b->cap, VG_EINVAL, "term '%.200s': bad @container", term);
                goto out;
            }
            t->container = vg_calloc(1, len + 1);
            json_array_foreach(co, k, e) {
                if (k)
                    strcat(t->container, ",");
                strcat(t->container, json_string_value(e));
            }
        } else if (co && !json_is_null(co)) {
            rc = fail(b->err, b->cap, VG_EINVAL, "term '%.200s': bad @container", term);
            goto out;
        }
        if (px && !json_is_boolean(px)) {
            rc = fail(b->err, b->cap, VG_EINVAL, "term '%.200s': @prefix must be a boolean", term);
            goto out;
        }
        if (px)
            t->prefix = json_is_true(px);
    }
    if (raw && raw[0] == '@' && !is_keyword(raw)) {
        /* JSON-LD 1.1: "@" followed by anything else is reserved; the definition is ignored */
        p->state = 2;
        goto out;
    }
    if (raw)
        rc = expand_def(b, l, raw, term, depth, &t->iri);
    else
        rc = expand_def(b, l, term, term, depth, &t->iri);
    if (rc)
        goto out;
    if (simple && !strchr(term, ':') && !strchr(term, '/') && t->iri[0] != '@') {
        char last = t->iri[0] ? t->iri[strlen(t->iri) - 1] : 0;
        t->prefix = last && strchr(":/?#[]@", last) != NULL;
    }
done:
    term_free(smap_put(&b->terms, term, t));
    t = NULL;
    p->state = 2;
out:
    term_free(t);
    return rc;
}

static int process(struct build *b, const json_t *v, int depth);

static int process_object(struct build *b, const json_t *obj)
{
    struct local l = {0};
    const char *key;
    const json_t *val;
    int rc = 0;

    const json_t *vocab = json_object_get(obj, "@vocab");
    if (vocab) {
        if (json_is_null(vocab)) {
            free(b->vocab);
            b->vocab = NULL;
        } else if (json_is_string(vocab)) {
            char *nv = NULL;
            rc = expand_def(b, NULL, json_string_value(vocab), NULL, 0, &nv);
            if (rc)
                return rc;
            free(b->vocab);
            b->vocab = nv;
        } else {
            return fail(b->err, b->cap, VG_EINVAL, "@vocab must be a string or null");
        }
    }
    smap_init(&l.idx, b->r->hk);
    l.p = vg_calloc(json_object_size(obj) + 1, sizeof(*l.p));
    json_object_foreach((json_t *)obj, key, val) {
        if (key[0] == '@')
            continue; /* @vocab done above; @version, @protected, @language... ignored */
        if (key[0] == 0) {
            rc = fail(b->err, b->cap, VG_EINVAL, "empty term in @context");
            goto out;
        }
        if (!json_is_string(val) && !json_is_null(val) && !json_is_object(val)) {
            rc = fail(b->err, b->cap, VG_EINVAL,
                      "term '%.200s': definition must be a string, an object or null", key);
            goto out;
        }
        if (++b->ndefs > DEFS_MAX) {
            rc = fail(b->err, b->cap, VG_EINVAL, "@context defines more than %u terms", DEFS_MAX);
            goto out;
        }
        l.p[l.n].term = key;
        l.p[l.n].val = val;
        smap_put(&l.idx, key, (void *)(uintptr_t)(l.n + 1));
        l.n++;
    }
    for (size_t i = 0; i < l.n && !rc; i++)
        rc = define(b, &l, i, 0);
out:
    smap_release(&l.idx, NULL);
    free(l.p);
    return rc;
}

static struct ldoc *doc_find(struct ldctx_reg *r, const char *tenant, const char *url);

static int process_url(struct build *b, const char *url, int depth)
{
    struct ldoc *d;
    const json_t *ctx;
    int rc;

    if (ldctx_is_core_url(url) || b->dry)
        return 0; /* the core is applied last anyway */
    if (depth >= DEPTH_MAX)
        return fail(b->err, b->cap, VG_EINVAL, "@context references nest deeper than %d levels",
                    DEPTH_MAX);
    for (int i = 0; i < b->nstack; i++)
        if (strcmp(b->stack[i], url) == 0)
            return fail(b->err, b->cap, VG_EINVAL, "context %.300s includes itself", url);
    if (++b->nrefs > REFS_MAX)
        return fail(b->err, b->cap, VG_EINVAL, "@context references more than %u documents",
                    REFS_MAX);
    d = doc_find(b->r, b->tenant, url);
    if (!d)
        return fail(b->err, b->cap, VG_ENOENT,
                    "context %.300s is not available (not built in and not registered; register "
                    "it through /jsonldContexts or --contexts)",
                    url);
    ctx = json_object_get(d->doc, "@context");
    b->stack[b->nstack++] = url;
    rc = process(b, ctx, depth + 1);
    b->nstack--;
    return rc;
}

static int process(struct build *b, const json_t *v, int depth)
{
    size_t i;
    const json_t *e;
    int rc;

    switch (json_typeof(v)) {
    case JSON_NULL:
        /* null resets the active context (the core still comes last) */
        smap_release(&b->terms, term_free);
        smap_init(&b->terms, b->r->hk);
        free(b->vocab);
        b->vocab = NULL;
        return 0;
    case JSON_STRING:
        return process_url(b, json_string_value(v), depth);
    case JSON_OBJECT:
        return process_object(b, v);
    case JSON_ARRAY:
        json_array_foreach(v, i, e) {
            if (json_is_array(e))
                return fail(b->err, b->cap, VG_EINVAL, "@context arrays cannot nest");
            rc = process(b, e, depth);
            if (rc)
                return rc;
        }
        return 0;
    default:
        return fail(b->err, b->cap, VG_EINVAL,
                    "@context must be a URL, an object, an array of those, or null");
    }
}

static int pfx_cmp(const void *a, const void *b)
{
    const struct prefix *x = a, *y = b;
    if (x->len != y->len)
        return x->len > y->len ? -1 : 1;
    size_t lx = strlen(x->term), ly = strlen(y->term);
    if (lx != ly)
        return lx < ly ? -1 : 1;
    return strcmp(x->term, y->term);
}

/* Shorter term first, ties broken by lexical order. */
static int term_better(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    return la != lb ? la < lb : strcmp(a, b) < 0;
}

/* Resolve value (NULL: none) then the core into a new context (one reference) in *out. */
static int build_ctx(struct ldctx_reg *r, const char *tenant, const json_t *value,
                     struct ldctx **out, char *err, size_t cap)
{
    struct build b = {.r = r, .tenant = tenant, .err = err, .cap = cap};
    struct ldctx *c = NULL;
    int rc = 0;

    smap_init(&b.terms, r->hk);
    if (value) {
        rc = process(&b, value, 0);
        if (rc)
            goto out;
    }
    rc = process_object(&b, json_object_get(r->core_doc, "@context"));
    if (rc)
        goto out;

    c = vg_calloc(1, sizeof(*c));
    atomic_init(&c->refs, 1);
    atomic_init(&c->retired, 0);
    pthread_rwlock_init(&c->mu, NULL);
    c->terms = b.terms;
    smap_init(&b.terms, r->hk);
    c->vocab = b.vocab;
    b.vocab = NULL;
    smap_init(&c->rev, r->hk);
    smap_init(&c->xmemo, r->hk);
    smap_init(&c->cmemo, r->hk);
    c->pfx = vg_calloc(c->terms.n + 1, sizeof(*c->pfx));
    for (size_t i = 0; i < c->terms.cap; i++) {
        const char *term = c->terms.v[i].key;
        struct ldterm *t = c->terms.v[i].val;
        if (!term || !t->iri)
            continue;
        const char *cur = smap_get(&c->rev, t->iri);
        if (!cur || term_better(term, cur))
            smap_put(&c->rev, t->iri, (void *)term);
        if (t->prefix && t->iri[0] != '@')
            c->pfx[c->npfx++] = (struct prefix){term, t->iri, strlen(t->iri)};
    }
    qsort(c->pfx, c->npfx, sizeof(*c->pfx), pfx_cmp);
    *out = c;
out:
    smap_release(&b.terms, term_free);
    free(b.vocab);
    return rc;
}

/* Structural check of a document's @context, without following URLs. */
static int validate_ctx(struct ldctx_reg *r, const json_t *value, char *err, size_t cap)
{
    struct build b = {.r = r, .dry = true, .err = err, .cap = cap};
    smap_init(&b.terms, r->hk);
    int rc = process(&b, value, 0);
    smap_release(&b.terms, term_free);
    free(b.vocab);
    return rc;
}

/* ---- expansion and compaction ---- */

static char *expand_compute(struct ldctx *c, const char *term)
{
    const char *vocab = c->vocab ? c->vocab : LDCTX_DEFAULT_VOCAB;
    const char *colon = strchr(term, ':');
    if (colon) {
        size_t plen = (size_t)(colon - term);
        if ((plen == 1 && term[0] == '_') || starts_with(colon + 1, "//", 2))
            return vg_strdup(term);
        char *prefix = vg_strndup(term, plen);
        struct ldterm *t = smap_get(&c->terms, prefix);
        free(prefix);
        if (t && t->iri && t->prefix && t->iri[0] != '@')
            return concat(t->iri, colon + 1);
        if (is_scheme(term, plen))
            return vg_strdup(term);
    }
    return concat(vocab, term);
}

/* Does cand expand back to iri? */
static int expands_to(struct ldctx *c, const char *cand, const char *iri)
{
    struct ldterm *t = smap_get(&c->terms, cand);
    if (t && t->iri)
        return strcmp(t->iri, iri) == 0;
    char *x = expand_compute(c, cand);
    int ok = strcmp(x, iri) == 0;
    free(x);
    return ok;
}

static char *compact_compute(struct ldctx *c, const char *iri)
{
    if (c->vocab) {
        size_t vl = strlen(c->vocab);
        if (starts_with(iri, c->vocab, vl) && iri[vl] && expands_to(c, iri + vl, iri))
            return vg_strdup(iri + vl);
    }
    for (size_t i = 0; i < c->npfx; i++) {
        const struct prefix *p = &c->pfx[i];
        if (!starts_with(iri, p->iri, p->len) || !iri[p->len])
            continue;
        size_t lt = strlen(p->term), ls = strlen(iri + p->len);
        char *cand = vg_malloc(lt + ls + 2);
        memcpy(cand, p->term, lt);
        cand[lt] = ':';
        memcpy(cand + lt + 1, iri + p->len, ls + 1);
        if (expands_to(c, cand, iri))
            return cand;
        free(cand);
    }
    return vg_strdup(iri);
}

static const char *memo(struct ldctx *c, struct smap *m, const char *key,
                        char *(*fn)(struct ldctx *, const char *))
{
    pthread_rwlock_rdlock(&c->mu);
    const char *v = smap_get(m, key);
    pthread_rwlock_unlock(&c->mu);
    if (v)
        return v;
    char *s = fn(c, key);
    pthread_rwlock_wrlock(&c->mu);
    v = smap_get(m, key);
    if (v) {
        free(s);
    } else if (m->n < MEMO_MAX) {
        smap_put(m, key, s);
        v = s;
    } else {
        struct spill *sp = vg_malloc(sizeof(*sp));
        sp->s = s;
        sp->next = c->spill;
        c->spill = sp;
        atomic_store(&c->retired, 1);
        v = s;
    }
    pthread_rwlock_unlock(&c->mu);
    return v;
}

const char *ldctx_expand(struct ldctx *c, const char *term)
{
    struct ldterm *t = smap_get(&c->terms, term);
    if (t && t->iri)
        return t->iri;
    return memo(c, &c->xmemo, term, expand_compute);
}

const char *ldctx_compact(struct ldctx *c, const char *iri)
{
    const char *t = smap_get(&c->rev, iri);
    if (t)
        return t;
    return memo(c, &c->cmemo, iri, compact_compute);
}

const char *ldctx_term_type(struct ldctx *c, const char *term)
{
    struct ldterm *t = smap_get(&c->terms, term);
    return t && t->iri ? t->type : NULL;
}

const char *ldctx_term_container(struct ldctx *c, const char *term)
{
    struct ldterm *t = smap_get(&c->terms, term);
    return t && t->iri ? t->container : NULL;
}

/* ---- registry ---- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A HOSTED document by id, or by the URL Vigie serves it at (.../jsonldContexts/<id>, the id
** possibly percent-encoded). Caller holds r->lock. */
static struct ldoc *hosted_find(struct ldctx_reg *r, const char *tenant, const char *id)
{
    char *k = tenant_key(tenant, id);
    struct ldoc *d = smap_get(&r->hosted, k);
    free(k);
    if (d)
        return d;
    const char *p = strstr(id, "/jsonldContexts/");
    if (!p)
        return NULL;
    p += strlen("/jsonldContexts/");
    char dec[128];
    size_t n = 0;
    for (; *p && n < sizeof(dec) - 1; n++) {
        if (p[0] == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
            dec[n] = (char)(hexval(p[1]) * 16 + hexval(p[2]));
            p += 3;
        } else if (*p == '?' || *p == '#') {
            break;
        } else {
            dec[n] = *p++;
        }
    }
    dec[n] = 0;
    if (!starts_with(dec, ID_PREFIX, strlen(ID_PREFIX)))
        return NULL;
    k = tenant_key(tenant, dec);
    d = smap_get(&r->hosted, k);
    free(k);
    return d;
}

static struct ldoc *doc_find(struct ldctx_reg *r, const char *tenant, const char *url)
{
    struct ldoc *d = smap_get(&r->docs, url);
    return d ? d : hosted_find(r, tenant, url);
}

static void cache_clear(struct ldctx_reg *r)
{
    pthread_mutex_lock(&r->cache_mu);
    for (size_t i = 0; i < CACHE_MAX; i++) {
        free(r->ring[i].key);
        ldctx_release(r->ring[i].ctx);
        r->ring[i].key = NULL;
        r->ring[i].ctx = NULL;
    }
    smap_release(&r->cache, NULL);
    smap_init(&r->cache, r->hk);
    r->head = r->nring = 0;
    pthread_mutex_unlock(&r->cache_mu);
}

/* Register a global document under url (r->lock held for writing). Built-in URLs are kept. */
static void global_put(struct ldctx_reg *r, const char *url, enum ldctx_kind kind, json_t *doc,
                       bool alias)
{
    struct ldoc *old = smap_get(&r->docs, url);
    if (old && old->kind == LDCTX_BUILTIN && kind != LDCTX_BUILTIN)
        return;
    struct ldoc *d = vg_calloc(1, sizeof(*d));
    d->id = vg_strdup(url);
    d->kind = kind;
    d->doc = json_incref(doc);
    d->alias = alias;
    doc_free(smap_put(&r->docs, url, d));
    if (old)
        atomic_fetch_add(&r->gen, 1);
}

int ldctx_reg_new(struct ldctx_reg **out)
{
    struct ldctx_reg *r;
    json_error_t jerr;
    char err[256];

    if (sodium_init() < 0)
        return VG_EIO;
    r = vg_calloc(1, sizeof(*r));
    randombytes_buf(r->hk, sizeof(r->hk));
    pthread_rwlock_init(&r->lock, NULL);
    pthread_mutex_init(&r->core_mu, NULL);
    pthread_mutex_init(&r->cache_mu, NULL);
    atomic_init(&r->gen, 0);
    smap_init(&r->docs, r->hk);
    smap_init(&r->hosted, r->hk);
    smap_init(&r->counts, r->hk);
    smap_init(&r->cache, r->hk);
    r->core_doc = json_loads(ldctx_core_text(), 0, &jerr);
    if (!r->core_doc)
        VG_BUG("built-in core context does not parse");
    for (size_t i = 0; ldctx__core_url(i); i++) {
        const char *u = ldctx__core_url(i);
        global_put(r, u, LDCTX_BUILTIN, r->core_doc, strcmp(u, LDCTX_CORE_URL) != 0);
    }
    if (build_ctx(r, NULL, NULL, &r->core, err, sizeof(err)))
        VG_BUG("built-in core context does not resolve");
    *out = r;
    return VG_OK;
}

void ldctx_reg_free(struct ldctx_reg *r)
{
    if (!r)
        return;
    cache_clear(r);
    smap_release(&r->cache, NULL);
    ldctx_release(r->core);
    smap_release(&r->docs, doc_free);
    smap_release(&r->hosted, doc_free);
    smap_release(&r->counts, NULL);
    json_decref(r->core_doc);
    pthread_mutex_destroy(&r->cache_mu);
    pthread_mutex_destroy(&r->core_mu);
    pthread_rwlock_destroy(&r->lock);
    free(r);
}

/* Load one context document file: at most DOC_MAX bytes, an object with a valid "@context". */
static int load_doc_file(struct ldctx_reg *r, const char *path, json_t **out, char *err, size_t cap)
{
    struct stat st;
    json_error_t jerr;
    json_t *doc;
    int rc;

    if (stat(path, &st) != 0)
        return fail(err, cap, VG_ENOENT, "cannot open context file '%s'", path);
    if (!S_ISREG(st.st_mode))
        return fail(err, cap, VG_EINVAL, "context file '%s' is not a regular file", path);
    if ((uint64_t)st.st_size > DOC_MAX)
        return fail(err, cap, VG_EINVAL, "context file '%s' is larger than 1 MiB", path);
    doc = json_load_file(path, 0, &jerr);
    if (!doc)
        return fail(err, cap, VG_EINVAL, "context file '%s' line %d: %s", path, jerr.line,
                    jerr.text);
    if (!json_is_object(doc) || !json_object_get(doc, "@context")) {
        json_decref(doc);
        return fail(err, cap, VG_EINVAL, "context file '%s' has no \"@context\" member", path);
    }
    char why[200] = "";
    rc = validate_ctx(r, json_object_get(doc, "@context"), why, sizeof(why));
    if (rc) {
        json_decref(doc);
        return fail(err, cap, VG_EINVAL, "context file '%s': %s", path, why);
    }
    *out = doc;
    return VG_OK;
}

int ldctx_reg_load_manifest(struct ldctx_reg *r, const char *dir, char *err, size_t cap)
{
    char path[4096];
    char line[MANIFEST_LINE_MAX];
    int lineno = 0, rc = VG_OK;
    FILE *f;

    snprintf(path, sizeof(path), "%s/manifest.tsv", dir);
    f = fopen(path, "r");
    if (!f)
        return fail(err, cap, VG_ENOENT, "cannot open '%s'", path);
    while (fgets(line, sizeof(line), f)) {
        size_t len = strlen(line);
        lineno++;
        if (len == sizeof(line) - 1 && line[len - 1] != '\n' && !feof(f)) {
            rc = fail(err, cap, VG_EINVAL, "%s:%d: line too long", path, lineno);
            goto out;
        }
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        if (len == 0 || line[0] == '#')
            continue;
        char *tab = strchr(line, '\t');
        if (!tab || tab == line || !tab[1] || strchr(tab + 1, '\t')) {
            rc = fail(err, cap, VG_EINVAL, "%s:%d: expected URL<TAB>FILE", path, lineno);
            goto out;
        }
        *tab = 0;
        char file[4096 + MANIFEST_LINE_MAX];
        if (tab[1] == '/')
            snprintf(file, sizeof(file), "%s", tab + 1);
        else
            snprintf(file, sizeof(file), "%s/%s", dir, tab + 1);
        json_t *doc = NULL;
        char why[512];
        rc = load_doc_file(r, file, &doc, why, sizeof(why));
        if (rc) {
            rc = fail(err, cap, rc, "%s:%d: %s", path, lineno, why);
            goto out;
        }
        if (!ldctx_is_core_url(line)) {
            pthread_rwlock_wrlock(&r->lock);
            global_put(r, line, LDCTX_CACHED, doc, false);
            pthread_rwlock_unlock(&r->lock);
        }
        json_decref(doc);
    }
    if (ferror(f))
        rc = fail(err, cap, VG_EIO, "cannot read '%s'", path);
out:
    fclose(f);
    cache_clear(r);
    return rc;
}

int ldctx_reg_load_sdm(struct ldctx_reg *r, const char *dir, uint32_t *n, char *err, size_t cap)
{
    static const char pre[] = "dataModel.", suf[] = ".context.jsonld";
    DIR *d = opendir(dir);
    struct dirent *de;
    uint32_t count = 0;
    int rc = VG_OK;

    if (!d)
        return fail(err, cap, VG_ENOENT, "cannot open directory '%s'", dir);
    while ((de = readdir(d))) {
        const char *name = de->d_name;
        size_t len = strlen(name);
        if (len <= strlen(pre) + strlen(suf) || !starts_with(name, pre, strlen(pre)) ||
            strcmp(name + len - strlen(suf), suf) != 0)
            continue;
        const char *subj = name + strlen(pre);
        size_t slen = len - strlen(pre) - strlen(suf);
        int ok = slen < 128;
        for (size_t i = 0; i < slen && ok; i++)
            ok = is_scheme(&subj[i], 1) || (subj[i] >= '0' && subj[i] <= '9') ||
                 subj[i] == '_' || subj[i] == '-';
        if (!ok)
            continue;
        char path[4096], u1[512], u2[512];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        json_t *doc = NULL;
        rc = load_doc_file(r, path, &doc, err, cap);
        if (rc)
            goto out;
        snprintf(u1, sizeof(u1),
                 "https://raw.githubusercontent.com/smart-data-models/dataModel.%.*s/master/"
                 "context.jsonld",
                 (int)slen, subj);
        snprintf(u2, sizeof(u2), "https://smart-data-models.github.io/dataModel.%.*s/context.jsonld",
                 (int)slen, subj);
        pthread_rwlock_wrlock(&r->lock);
        global_put(r, u1, LDCTX_CACHED, doc, false);
        global_put(r, u2, LDCTX_CACHED, doc, false);
        pthread_rwlock_unlock(&r->lock);
        json_decref(doc);
        count++;
    }
out:
    closedir(d);
    cache_clear(r);
    if (n)
        *n = count;
    return rc;
}

int ldctx_reg_add(struct ldctx_reg *r, const char *tenant, const json_t *doc, char *id_out,
                  size_t cap)
{
    unsigned char h[ID_HASH_BYTES];
    char id[sizeof(ID_PREFIX) + 2 * ID_HASH_BYTES];
    char *text = NULL, *key = NULL;
    int rc = VG_OK;

    if (!doc || !json_is_object(doc) || !json_object_get(doc, "@context"))
        return VG_EINVAL;
    text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text)
        return VG_EINVAL;
    if (strlen(text) > DOC_MAX) {
        rc = VG_ETOOBIG;
        goto out;
    }
    rc = validate_ctx(r, json_object_get(doc, "@context"), NULL, 0);
    if (rc)
        goto out;
    crypto_generichash(h, sizeof(h), (const unsigned char *)text, strlen(text), NULL, 0);
    memcpy(id, ID_PREFIX, strlen(ID_PREFIX));
    sodium_bin2hex(id + strlen(ID_PREFIX), 2 * ID_HASH_BYTES + 1, h, sizeof(h));
    if (!id_out || cap < strlen(id) + 1) {
        rc = VG_EINVAL;
        goto out;
    }
    key = tenant_key(tenant, id);
    pthread_rwlock_wrlock(&r->lock);
    if (!smap_get(&r->hosted, key)) {
        const char *tn = tenant ? tenant : "";
        uintptr_t cnt = (uintptr_t)smap_get(&r->counts, tn);
        if (cnt >= USER_DOCS_MAX) {
            rc = VG_EFULL;
        } else {
            struct ldoc *d = vg_calloc(1, sizeof(*d));
            d->id = vg_strdup(id);
            d->tenant = vg_strdup(tn);
            d->kind = LDCTX_HOSTED;
            d->doc = json_deep_copy(doc);
            smap_put(&r->hosted, key, d);
            smap_put(&r->counts, tn, (void *)(cnt + 1));
        }
    }
    pthread_rwlock_unlock(&r->lock);
    if (rc == VG_OK)
        memcpy(id_out, id, strlen(id) + 1);
out:
    free(key);
    free(text);
    return rc;
}

int ldctx_reg_get(struct ldctx_reg *r, const char *tenant, const char *id_or_url, json_t **doc,
                  enum ldctx_kind *kind)
{
    int rc = VG_ENOENT;
    if (!id_or_url)
        return VG_EINVAL;
    pthread_rwlock_rdlock(&r->lock);
    struct ldoc *d = doc_find(r, tenant, id_or_url);
    if (d) {
        if (doc)
            *doc = json_incref(d->doc);
        if (kind)
            *kind = d->kind;
        rc = VG_OK;
    }
    pthread_rwlock_unlock(&r->lock);
    return rc;
}

int ldctx_reg_del(struct ldctx_reg *r, const char *tenant, const char *id)
{
    int rc;
    if (!id)
        return VG_EINVAL;
    pthread_rwlock_wrlock(&r->lock);
    struct ldoc *d = hosted_find(r, tenant, id);
    if (d) {
        char *key = tenant_key(d->tenant, d->id);
        uintptr_t cnt = (uintptr_t)smap_get(&r->counts, d->tenant);
        if (cnt > 1)
            smap_put(&r->counts, d->tenant, (void *)(cnt - 1));
        else
            smap_del(&r->counts, d->tenant);
        doc_free(smap_del(&r->hosted, key));
        free(key);
        atomic_fetch_add(&r->gen, 1);
        rc = VG_OK;
    } else {
        rc = smap_get(&r->docs, id) ? VG_EPERM : VG_ENOENT;
    }
    pthread_rwlock_unlock(&r->lock);
    if (rc == VG_OK)
        cache_clear(r);
    return rc;
}

static int ldoc_cmp(const void *a, const void *b)
{
    const struct ldoc *x = *(const struct ldoc *const *)a, *y = *(const struct ldoc *const *)b;
    if (x->kind != y->kind)
        return x->kind > y->kind ? -1 : 1; /* built-in first, then cached, then hosted */
    return strcmp(x->id, y->id);
}

int ldctx_reg_list(struct ldctx_reg *r, const char *tenant, ldctx_list_fn *fn, void *arg)
{
    const char *tn = tenant ? tenant : "";
    size_t n = 0;
    int rc = VG_OK;

    pthread_rwlock_rdlock(&r->lock);
    struct ldoc **all = vg_calloc(r->docs.n + r->hosted.n + 1, sizeof(*all));
    for (size_t i = 0; i < r->docs.cap; i++) {
        struct ldoc *d = r->docs.v[i].val;
        if (r->docs.v[i].key && !d->alias)
            all[n++] = d;
    }
    for (size_t i = 0; i < r->hosted.cap; i++) {
        struct ldoc *d = r->hosted.v[i].val;
        if (r->hosted.v[i].key && strcmp(d->tenant, tn) == 0)
            all[n++] = d;
    }
    qsort(all, n, sizeof(*all), ldoc_cmp);
    for (size_t i = 0; i < n && rc == VG_OK; i++)
        rc = fn(arg, all[i]->id, all[i]->kind, all[i]->doc);
    pthread_rwlock_unlock(&r->lock);
    free(all);
    return rc;
}

/* ---- resolution with the cache ---- */

struct ldctx *ldctx_core(struct ldctx_reg *r)
{
    struct ldctx *c;
    char err[128];

    pthread_mutex_lock(&r->core_mu);
    if (atomic_load(&r->core->retired)) {
        struct ldctx *fresh = NULL;
        if (build_ctx(r, NULL, NULL, &fresh, err, sizeof(err)) == VG_OK) {
            ldctx_release(r->core);
            r->core = fresh;
        }
    }
    c = r->core;
    ldctx_retain(c);
    pthread_mutex_unlock(&r->core_mu);
    return c;
}

/* Cache insert (cache_mu held): key -> c, evicting the oldest entry when full.
** Returns the context to hand out (an already cached live one wins, keeping pointers stable). */
static struct ldctx *cache_put(struct ldctx_reg *r, const char *key, struct ldctx *c)
{
    uintptr_t slot = (uintptr_t)smap_get(&r->cache, key);
    if (slot) {
        struct cslot *s = &r->ring[slot - 1];
        if (!atomic_load(&s->ctx->retired)) {
            ldctx_release(c);
            ldctx_retain(s->ctx);
            return s->ctx;
        }
        ldctx_release(s->ctx);
        s->ctx = c;
        ldctx_retain(c);
        return c;
    }
    if (r->nring == CACHE_MAX) {
        struct cslot *old = &r->ring[r->head];
        smap_del(&r->cache, old->key);
        free(old->key);
        ldctx_release(old->ctx);
        old->key = NULL;
        old->ctx = NULL;
        r->head = (r->head + 1) % CACHE_MAX;
        r->nring--;
    }
    size_t pos = (r->head + r->nring) % CACHE_MAX;
    r->ring[pos].key = vg_strdup(key);
    r->ring[pos].ctx = c;
    ldctx_retain(c);
    r->nring++;
    smap_put(&r->cache, key, (void *)(pos + 1));
    return c;
}

int ldctx_resolve(struct ldctx_reg *r, const char *tenant, const json_t *context,
                  struct ldctx **out, char *err, size_t cap)
{
    char *text = NULL, *key = NULL;
    struct ldctx *c = NULL;
    unsigned gen;
    int rc = VG_OK;

    if (!context || (json_is_string(context) && ldctx_is_core_url(json_string_value(context)))) {
        *out = ldctx_core(r);
        return VG_OK;
    }
    text = json_dumps(context, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (!text)
        return fail(err, cap, VG_EINVAL, "@context cannot be serialized");
    if (strlen(text) > DOC_MAX) {
        rc = fail(err, cap, VG_EINVAL, "@context is larger than 1 MiB");
        goto out;
    }
    key = tenant_key(tenant, text);

    pthread_mutex_lock(&r->cache_mu);
    uintptr_t slot = (uintptr_t)smap_get(&r->cache, key);
    if (slot && !atomic_load(&r->ring[slot - 1].ctx->retired)) {
        c = r->ring[slot - 1].ctx;
        ldctx_retain(c);
    }
    pthread_mutex_unlock(&r->cache_mu);
    if (c)
        goto done;

    pthread_rwlock_rdlock(&r->lock);
    gen = atomic_load(&r->gen);
    rc = build_ctx(r, tenant, context, &c, err, cap);
    pthread_rwlock_unlock(&r->lock);
    if (rc)
        goto out;
    pthread_mutex_lock(&r->cache_mu);
    if (gen == atomic_load(&r->gen))
        c = cache_put(r, key, c);
    pthread_mutex_unlock(&r->cache_mu);
done:
    *out = c;
out:
    free(key);
    free(text);
    return rc;
}

int ldctx_resolve_url(struct ldctx_reg *r, const char *tenant, const char *url, struct ldctx **out,
                      char *err, size_t cap)
{
    if (!url)
        return fail(err, cap, VG_EINVAL, "no context URL");
    if (ldctx_is_core_url(url)) {
        *out = ldctx_core(r);
        return VG_OK;
    }
    json_t *s = json_string(url);
    if (!s)
        return fail(err, cap, VG_EINVAL, "context URL is not valid UTF-8");
    int rc = ldctx_resolve(r, tenant, s, out, err, cap);
    json_decref(s);
    return rc;
}
