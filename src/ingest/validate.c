/*
** ingest/validate.c: schema + operator-rule validation of points and entities.
**
** Rules: validator_add_rule_json parses rules into heap objects owned by v->rules (never freed
** before validator_free, never modified once added), then publishes a new snapshot (hash of
** (type, attribute) -> matching rules, hash of type -> tenants) with an atomic store. Readers
** load the snapshot pointer and take no lock. A replaced snapshot may still be in use by a
** reader, so it is kept on v->retired until validator_free: adding rules one call at a time
** costs O(rules) memory per call (add them as one array where possible).
**
** Rate state: a sharded open-addressing table keyed by (tenant, entity, attribute), only for
** series that a max_rate rule covers. Shard = top bits of the key hash; each shard has its own
** mutex and holds at most max_series / VALIDATOR_SHARDS entries; a full shard is cleared
** (every series in it starts over, its next point passes the rate check) instead of running an
** LRU list on the hot path.
**
** Owns: rules, snapshots, the rate state. Borrows: the schema set.
*/
#include "ingest/validate.h"

#include "core/vg.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RULE_STR_MAX 256  /* bytes of tenant, type, attribute, name */
#define RULE_UNITS_MAX 64 /* unit codes per rule */
#define UNIT_LEN_MAX 16   /* bytes of one unit code */

struct rule {
    char *name, *tenant, *type, *attr;
    int has_min, has_max, has_rate;
    double min, max, max_rate;
    char **units;
    uint32_t nunits;
    char *units_text; /* "2N, GQ" for messages */
};

struct rslot {
    uint64_t hash;
    const char *type, *attr;
    const struct rule **rules;
    uint32_t n;
};

struct rtslot {
    uint64_t hash;
    const char *type;
    int any_tenant;
    const char **tenants;
    uint32_t n;
};

struct rsnap {
    struct rslot *slots;
    uint32_t mask;
    struct rtslot *tslots;
    uint32_t tmask;
    struct rsnap *retired_next;
};

struct sent {
    uint64_t hash;
    char *key; /* tenant '\0' entity '\0' attr; NULL: empty slot */
    uint32_t lt, le, la;
    int64_t ts;
    double val;
};

struct shard {
    pthread_mutex_t mu;
    struct sent *slots;
    uint32_t cap, n;
};

/* one shard per cache line pair: the mutexes of neighbouring shards do not share a line */
union shard_pad {
    struct shard s;
    char pad[128];
};

struct validator {
    const struct schema_set *schemas;
    pthread_mutex_t wmu; /* writers of rules */
    struct rule **rules;
    size_t nrules, caprules;
    _Atomic(struct rsnap *) snap;
    struct rsnap *retired;
    uint32_t shard_max;
    atomic_ullong cleared;
    union shard_pad shards[VALIDATOR_SHARDS];
};

static uint64_t fnv(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

#define FNV0 1469598103934665603ull

static uint64_t pair_hash(const char *type, const char *attr)
{
    uint64_t h = fnv(FNV0, type, strlen(type));
    h = fnv(h, "\x1f", 1);
    return fnv(h, attr, strlen(attr));
}

static void fmt_num(double d, char *buf, size_t cap)
{
    union vg_val v;
    v.f = d;
    schema_fmt_value(VT_F64, &v, buf, cap);
}

/* ------------------------------------------------------------------------------------------ */
/* Rules                                                                                       */

static void rule_free(struct rule *r)
{
    if (!r)
        return;
    free(r->name);
    free(r->tenant);
    free(r->type);
    free(r->attr);
    for (uint32_t i = 0; i < r->nunits; i++)
        free(r->units[i]);
    free(r->units);
    free(r->units_text);
    free(r);
}

static int rule_str(const json_t *o, const char *key, int required, char **out, char *msg,
                    size_t cap)
{
    const json_t *v = json_object_get(o, key);
    size_t n;
    if (!v) {
        if (required) {
            vg_putf(msg, cap, "'%s' is required", key);
            return -1;
        }
        return 0;
    }
    n = json_is_string(v) ? json_string_length(v) : 0;
    if (n == 0 || n > RULE_STR_MAX || strlen(json_string_value(v)) != n) {
        vg_putf(msg, cap, "'%s' must be a non-empty string of at most %d bytes", key, RULE_STR_MAX);
        return -1;
    }
    *out = vg_strdup(json_string_value(v));
    return 0;
}

static int rule_num(const json_t *o, const char *key, int *has, double *out, char *msg, size_t cap)
{
    const json_t *v = json_object_get(o, key);
    if (!v)
        return 0;
    if (!json_is_number(v) || !isfinite(json_number_value(v))) {
        vg_putf(msg, cap, "'%s' must be a number", key);
        return -1;
    }
    *has = 1;
    *out = json_number_value(v);
    return 0;
}

static int unit_code_ok(const char *s, size_t n)
{
    if (n == 0 || n > UNIT_LEN_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* Parse one rule object. 0 and *out, or -1 with msg (without the rule's name). */
static int rule_parse(const json_t *o, struct rule **out, char *msg, size_t cap)
{
    static const char *const allowed[] = {"tenant", "type", "attribute", "min", "max",
                                          "units", "max_rate", "name", "description"};
    struct rule *r;
    const char *k;
    json_t *v;
    if (!json_is_object(o)) {
        vg_putf(msg, cap, "a rule must be an object");
        return -1;
    }
    json_object_foreach((json_t *)o, k, v)
    {
        size_t i;
        for (i = 0; i < VG_ARRAY_LEN(allowed); i++)
            if (!strcmp(k, allowed[i]))
                break;
        if (i == VG_ARRAY_LEN(allowed)) {
            vg_putf(msg, cap,
                    "unknown member '%.64s' (allowed: tenant, type, attribute, min, max, units, "
                    "max_rate, name, description)",
                    k);
            return -1;
        }
    }
    r = vg_calloc(1, sizeof(*r));
    if (rule_str(o, "type", 1, &r->type, msg, cap) ||
        rule_str(o, "attribute", 1, &r->attr, msg, cap) ||
        rule_str(o, "tenant", 0, &r->tenant, msg, cap) ||
        rule_str(o, "name", 0, &r->name, msg, cap) ||
        rule_num(o, "min", &r->has_min, &r->min, msg, cap) ||
        rule_num(o, "max", &r->has_max, &r->max, msg, cap) ||
        rule_num(o, "max_rate", &r->has_rate, &r->max_rate, msg, cap))
        goto fail;
    v = json_object_get(o, "description");
    if (v && !json_is_string(v)) {
        vg_putf(msg, cap, "'description' must be a string");
        goto fail;
    }
    if (r->has_min && r->has_max && r->min > r->max) {
        vg_putf(msg, cap, "'min' is above 'max'");
        goto fail;
    }
    if (r->has_rate && !(r->max_rate > 0)) {
        vg_putf(msg, cap, "'max_rate' must be above 0 (absolute change per second)");
        goto fail;
    }
    v = json_object_get(o, "units");
    if (v) {
        size_t i, n = json_array_size(v), len = 0;
        json_t *e;
        if (!json_is_array(v) || n == 0 || n > RULE_UNITS_MAX) {
            vg_putf(msg, cap, "'units' must be a non-empty array of at most %d unit codes",
                    RULE_UNITS_MAX);
            goto fail;
        }
        r->units = vg_calloc(n, sizeof(*r->units));
        json_array_foreach(v, i, e)
        {
            if (!json_is_string(e) || !unit_code_ok(json_string_value(e), json_string_length(e))) {
                vg_putf(msg, cap,
                        "'units' item %zu must be a UN/CEFACT code (letters, digits, '-', '_'; "
                        "at most %d)",
                        i, UNIT_LEN_MAX);
                goto fail;
            }
            r->units[r->nunits++] = vg_strdup(json_string_value(e));
            len += json_string_length(e) + 2;
        }
        r->units_text = vg_calloc(1, len + 1);
        for (uint32_t u = 0; u < r->nunits; u++) {
            if (u)
                strcat(r->units_text, ", ");
            strcat(r->units_text, r->units[u]);
        }
    }
    if (!r->has_min && !r->has_max && !r->has_rate && !r->nunits) {
        vg_putf(msg, cap, "the rule checks nothing (give min, max, units or max_rate)");
        goto fail;
    }
    if (!r->name) {
        size_t n = strlen(r->type) + strlen(r->attr) + 2;
        r->name = vg_malloc(n);
        snprintf(r->name, n, "%s.%s", r->type, r->attr);
    }
    *out = r;
    return 0;
fail:
    rule_free(r);
    return -1;
}

static void snap_free(struct rsnap *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; i <= s->mask; i++)
        free(s->slots[i].rules);
    for (uint32_t i = 0; i <= s->tmask; i++)
        free(s->tslots[i].tenants);
    free(s->slots);
    free(s->tslots);
    free(s);
}

static struct rsnap *snap_build(struct rule *const *rules, size_t n)
{
    struct rsnap *s = vg_calloc(1, sizeof(*s));
    uint32_t cap = 16;
    while (cap < n * 2 + 2)
        cap *= 2;
    s->slots = vg_calloc(cap, sizeof(*s->slots));
    s->mask = cap - 1;
    s->tslots = vg_calloc(cap, sizeof(*s->tslots));
    s->tmask = cap - 1;
    for (size_t i = 0; i < n; i++) {
        const struct rule *r = rules[i];
        uint64_t h = pair_hash(r->type, r->attr), th = fnv(FNV0, r->type, strlen(r->type));
        struct rslot *sl;
        struct rtslot *ts;
        uint32_t j;
        for (j = (uint32_t)h & s->mask; s->slots[j].rules; j = (j + 1) & s->mask)
            if (s->slots[j].hash == h && !strcmp(s->slots[j].type, r->type) &&
                !strcmp(s->slots[j].attr, r->attr))
                break;
        sl = &s->slots[j];
        sl->hash = h;
        sl->type = r->type;
        sl->attr = r->attr;
        sl->rules = vg_realloc(sl->rules, (sl->n + 1) * sizeof(*sl->rules));
        sl->rules[sl->n++] = r;
        for (j = (uint32_t)th & s->tmask; s->tslots[j].type; j = (j + 1) & s->tmask)
            if (s->tslots[j].hash == th && !strcmp(s->tslots[j].type, r->type))
                break;
        ts = &s->tslots[j];
        ts->hash = th;
        ts->type = r->type;
        if (!r->tenant) {
            ts->any_tenant = 1;
        } else {
            uint32_t k;
            for (k = 0; k < ts->n; k++)
                if (!strcmp(ts->tenants[k], r->tenant))
                    break;
            if (k == ts->n) {
                ts->tenants = vg_realloc(ts->tenants, (ts->n + 1) * sizeof(*ts->tenants));
                ts->tenants[ts->n++] = r->tenant;
            }
        }
    }
    return s;
}

static const struct rslot *snap_find(const struct rsnap *s, const char *type, const char *attr)
{
    uint64_t h = pair_hash(type, attr);
    for (uint32_t j = (uint32_t)h & s->mask;; j = (j + 1) & s->mask) {
        const struct rslot *sl = &s->slots[j];
        if (!sl->rules)
            return NULL;
        if (sl->hash == h && !strcmp(sl->type, type) && !strcmp(sl->attr, attr))
            return sl;
    }
}

static const struct rtslot *snap_type(const struct rsnap *s, const char *type)
{
    uint64_t h = fnv(FNV0, type, strlen(type));
    for (uint32_t j = (uint32_t)h & s->tmask;; j = (j + 1) & s->tmask) {
        const struct rtslot *ts = &s->tslots[j];
        if (!ts->type)
            return NULL;
        if (ts->hash == h && !strcmp(ts->type, type))
            return ts;
    }
}

int validator_add_rule_json(struct validator *v, const json_t *rule, char *err, size_t cap)
{
    size_t n = json_is_array(rule) ? json_array_size(rule) : 1;
    struct rule **add;
    struct rsnap *s, *old;
    int rc = 0;
    vg_putf(err, cap, "%s", "");
    if (!rule || (json_is_array(rule) && n == 0)) {
        vg_putf(err, cap, "no rule");
        return VG_EINVAL;
    }
    pthread_mutex_lock(&v->wmu);
    if (v->nrules + n > VALIDATOR_MAX_RULES) {
        vg_putf(err, cap, "more than %d rules", VALIDATOR_MAX_RULES);
        pthread_mutex_unlock(&v->wmu);
        return VG_ETOOBIG;
    }
    add = vg_calloc(n, sizeof(*add));
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_is_array(rule) ? json_array_get(rule, i) : rule;
        const json_t *nm = json_is_object(o) ? json_object_get(o, "name") : NULL;
        char msg[256];
        if (rule_parse(o, &add[i], msg, sizeof(msg))) {
            if (json_is_string(nm))
                vg_putf(err, cap, "rule %zu ('%.64s'): %s", i + 1, json_string_value(nm), msg);
            else
                vg_putf(err, cap, "rule %zu: %s", i + 1, msg);
            rc = VG_EINVAL;
            break;
        }
    }
    if (rc) {
        for (size_t i = 0; i < n; i++)
            rule_free(add[i]);
        free(add);
        pthread_mutex_unlock(&v->wmu);
        return rc;
    }
    if (v->nrules + n > v->caprules) {
        v->caprules = (v->nrules + n) * 2;
        v->rules = vg_realloc(v->rules, v->caprules * sizeof(*v->rules));
    }
    memcpy(v->rules + v->nrules, add, n * sizeof(*add));
    v->nrules += n;
    free(add);
    s = snap_build(v->rules, v->nrules);
    old = atomic_exchange_explicit(&v->snap, s, memory_order_acq_rel);
    if (old) {
        old->retired_next = v->retired;
        v->retired = old;
    }
    pthread_mutex_unlock(&v->wmu);
    return 0;
}

size_t validator_rule_count(const struct validator *v)
{
    struct validator *w = (struct validator *)v;
    size_t n;
    pthread_mutex_lock(&w->wmu);
    n = w->nrules;
    pthread_mutex_unlock(&w->wmu);
    return n;
}

/* ------------------------------------------------------------------------------------------ */
/* Lifecycle                                                                                   */

int validator_new(const struct schema_set *schemas, struct validator **out)
{
    struct validator *v = vg_calloc(1, sizeof(*v));
    v->schemas = schemas;
    pthread_mutex_init(&v->wmu, NULL);
    atomic_init(&v->snap, NULL);
    atomic_init(&v->cleared, 0);
    for (int i = 0; i < VALIDATOR_SHARDS; i++)
        pthread_mutex_init(&v->shards[i].s.mu, NULL);
    validator_set_max_series(v, VALIDATOR_MAX_SERIES);
    *out = v;
    return 0;
}

static void shard_clear(struct shard *sh)
{
    for (uint32_t i = 0; i < sh->cap; i++)
        free(sh->slots[i].key);
    if (sh->cap)
        memset(sh->slots, 0, sh->cap * sizeof(*sh->slots));
    sh->n = 0;
}

void validator_free(struct validator *v)
{
    if (!v)
        return;
    for (int i = 0; i < VALIDATOR_SHARDS; i++) {
        shard_clear(&v->shards[i].s);
        free(v->shards[i].s.slots);
        pthread_mutex_destroy(&v->shards[i].s.mu);
    }
    snap_free(atomic_load(&v->snap));
    while (v->retired) {
        struct rsnap *n = v->retired->retired_next;
        snap_free(v->retired);
        v->retired = n;
    }
    for (size_t i = 0; i < v->nrules; i++)
        rule_free(v->rules[i]);
    free(v->rules);
    pthread_mutex_destroy(&v->wmu);
    free(v);
}

void validator_set_max_series(struct validator *v, size_t n)
{
    if (n < VALIDATOR_SHARDS)
        n = VALIDATOR_SHARDS;
    if (n > (size_t)UINT32_MAX)
        n = UINT32_MAX;
    v->shard_max = (uint32_t)(n / VALIDATOR_SHARDS);
}

int validator_has_checks(const struct validator *v, const char *tenant, const char *type)
{
    const struct rsnap *s;
    const struct rtslot *ts;
    if (!v || !type)
        return 0;
    if (schema_has_type(v->schemas, type))
        return 1;
    s = atomic_load_explicit(&((struct validator *)v)->snap, memory_order_acquire);
    if (!s || !(ts = snap_type(s, type)))
        return 0;
    if (ts->any_tenant)
        return 1;
    for (uint32_t i = 0; tenant && i < ts->n; i++)
        if (!strcmp(ts->tenants[i], tenant))
            return 1;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Rate state                                                                                  */

static int sent_eq(const struct sent *e, uint64_t h, const char *t, size_t lt, const char *en,
                   size_t le, const char *a, size_t la)
{
    return e->hash == h && e->lt == lt && e->le == le && e->la == la &&
           !memcmp(e->key, t, lt) && !memcmp(e->key + lt + 1, en, le) &&
           !memcmp(e->key + lt + le + 2, a, la);
}

static void shard_grow(struct shard *sh)
{
    uint32_t ncap = sh->cap ? sh->cap * 2 : 16;
    struct sent *ns = vg_calloc(ncap, sizeof(*ns));
    for (uint32_t i = 0; i < sh->cap; i++) {
        uint32_t j;
        if (!sh->slots[i].key)
            continue;
        for (j = (uint32_t)sh->slots[i].hash & (ncap - 1); ns[j].key; j = (j + 1) & (ncap - 1))
            ;
        ns[j] = sh->slots[i];
    }
    free(sh->slots);
    sh->slots = ns;
    sh->cap = ncap;
}

/* The entry of the series, or NULL (*slot = where to insert it). Shard locked. */
static struct sent *shard_find(struct shard *sh, uint64_t h, const char *t, size_t lt,
                               const char *en, size_t le, const char *a, size_t la, uint32_t *slot)
{
    uint32_t j;
    if (!sh->cap)
        shard_grow(sh);
    for (j = (uint32_t)h & (sh->cap - 1); sh->slots[j].key; j = (j + 1) & (sh->cap - 1))
        if (sent_eq(&sh->slots[j], h, t, lt, en, le, a, la))
            return &sh->slots[j];
    *slot = j;
    return NULL;
}

static int rule_applies(const struct rule *r, const char *tenant)
{
    return !r->tenant || (tenant && !strcmp(r->tenant, tenant));
}

static int rate_check(struct validator *v, const struct rslot *sl, const char *tenant,
                      const char *entity, const char *attr, double x, int64_t ts, char *why,
                      size_t cap)
{
    const char *t = tenant ? tenant : "";
    size_t lt = strlen(t), le = strlen(entity), la = strlen(attr);
    uint64_t h = fnv(fnv(fnv(fnv(fnv(FNV0, t, lt), "\x1f", 1), entity, le), "\x1f", 1), attr, la);
    struct shard *sh = &v->shards[h >> 58].s; /* 64 shards: top 6 bits */
    struct sent *e;
    uint32_t slot = 0;
    int rc = 0;
    pthread_mutex_lock(&sh->mu);
    e = shard_find(sh, h, t, lt, entity, le, attr, la, &slot);
    if (e) {
        if (ts > e->ts) {
            double dt = (double)(ts - e->ts) / 1000.0, change = fabs(x - e->val);
            for (uint32_t i = 0; i < sl->n && !rc; i++) {
                const struct rule *r = sl->rules[i];
                if (!r->has_rate || !rule_applies(r, tenant) || !(change / dt > r->max_rate))
                    continue;
                {
                    char c[48], d[48], m[48];
                    fmt_num(change, c, sizeof(c));
                    fmt_num(dt, d, sizeof(d));
                    fmt_num(r->max_rate, m, sizeof(m));
                    vg_putf(why, cap, "%s changed by %s in %s s (rule '%s': at most %s/s)", attr, c,
                            d, r->name, m);
                    rc = VG_EINVAL;
                }
            }
            if (!rc) {
                e->ts = ts;
                e->val = x;
            }
        }
    } else {
        if (sh->n >= v->shard_max) {
            shard_clear(sh);
            atomic_fetch_add_explicit(&v->cleared, 1, memory_order_relaxed);
        }
        if ((sh->n + 1) * 4 > sh->cap * 3)
            shard_grow(sh);
        shard_find(sh, h, t, lt, entity, le, attr, la, &slot);
        e = &sh->slots[slot];
        e->hash = h;
        e->lt = (uint32_t)lt;
        e->le = (uint32_t)le;
        e->la = (uint32_t)la;
        e->key = vg_malloc(lt + le + la + 3);
        memcpy(e->key, t, lt + 1);
        memcpy(e->key + lt + 1, entity, le + 1);
        memcpy(e->key + lt + le + 2, attr, la + 1);
        e->ts = ts;
        e->val = x;
        sh->n++;
    }
    pthread_mutex_unlock(&sh->mu);
    return rc;
}

size_t validator_series_count(struct validator *v)
{
    size_t n = 0;
    for (int i = 0; i < VALIDATOR_SHARDS; i++) {
        pthread_mutex_lock(&v->shards[i].s.mu);
        n += v->shards[i].s.n;
        pthread_mutex_unlock(&v->shards[i].s.mu);
    }
    return n;
}

uint64_t validator_series_cleared(struct validator *v)
{
    return atomic_load(&v->cleared);
}

/* ------------------------------------------------------------------------------------------ */
/* Checks                                                                                      */

/* Range and unit rules of slot for a value (numeric: x valid). 0, or VG_EINVAL with why.
** *rate = 1 when a rate rule applies. */
static int rules_check(const struct rslot *sl, const char *tenant, const char *attr,
                       enum vg_vtype vt, const union vg_val *val, const char *unit, int *rate,
                       char *why, size_t cap)
{
    char b[48], vtext[96];
    int numeric = vt == VT_F64 || vt == VT_I64;
    double x = vt == VT_F64 ? val->f : vt == VT_I64 ? (double)val->i : 0;
    /* the value is formatted only for a message: this runs for every point */
#define VTEXT schema_fmt_value(vt, val, vtext, sizeof(vtext))
    for (uint32_t i = 0; i < sl->n; i++) {
        const struct rule *r = sl->rules[i];
        if (!rule_applies(r, tenant))
            continue;
        if (numeric && (r->has_min || r->has_max || r->has_rate) && !isfinite(x)) {
            vg_putf(why, cap, "%s = %s is not a finite number (rule '%s')", attr, VTEXT, r->name);
            return VG_EINVAL;
        }
        if (numeric && r->has_min && x < r->min) {
            fmt_num(r->min, b, sizeof(b));
            vg_putf(why, cap, "%s = %s breaks rule '%s' (min %s)", attr, VTEXT, r->name, b);
            return VG_EINVAL;
        }
        if (numeric && r->has_max && x > r->max) {
            fmt_num(r->max, b, sizeof(b));
            vg_putf(why, cap, "%s = %s breaks rule '%s' (max %s)", attr, VTEXT, r->name, b);
            return VG_EINVAL;
        }
        if (unit && r->nunits) {
            uint32_t u;
            for (u = 0; u < r->nunits; u++)
                if (!strcmp(r->units[u], unit))
                    break;
            if (u == r->nunits) {
                vg_putf(why, cap, "unit '%.32s' not allowed for %s (rule '%s': %s)", unit, attr,
                        r->name, r->units_text);
                return VG_EINVAL;
            }
        }
        if (numeric && r->has_rate)
            *rate = 1;
    }
    return 0;
#undef VTEXT
}

int validator_check(struct validator *v, const char *tenant, const char *type, const char *entity,
                    const char *attr, enum vg_vtype vt, const union vg_val *val, int64_t ts_ms,
                    const char *unit, char *why, size_t cap)
{
    const struct rsnap *s;
    const struct rslot *sl;
    int rate = 0, rc;
    if (why && cap)
        why[0] = '\0';
    if (!v || !type || !attr)
        return 0;
    if (v->schemas) {
        rc = schema_validate_value(v->schemas, type, attr, vt, val, why, cap);
        if (rc == VG_EINVAL)
            return rc;
    }
    s = atomic_load_explicit(&v->snap, memory_order_acquire);
    if (!s || !(sl = snap_find(s, type, attr)))
        return 0;
    rc = rules_check(sl, tenant, attr, vt, val, unit, &rate, why, cap);
    if (rc || !rate || !entity)
        return rc;
    return rate_check(v, sl, tenant, entity, attr, vt == VT_F64 ? val->f : (double)val->i, ts_ms,
                      why, cap);
}

int validator_check_entity(struct validator *v, const char *tenant, const char *type,
                           const json_t *kv, char *why, size_t cap)
{
    const struct rsnap *s;
    const char *k;
    json_t *val;
    int rc;
    if (why && cap)
        why[0] = '\0';
    if (!v || !type)
        return 0;
    if (v->schemas) {
        rc = schema_validate_entity(v->schemas, type, kv, why, cap);
        if (rc == VG_EINVAL)
            return rc;
    }
    s = atomic_load_explicit(&v->snap, memory_order_acquire);
    if (!s || !json_is_object(kv) || !snap_type(s, type))
        return 0;
    json_object_foreach((json_t *)kv, k, val)
    {
        const struct rslot *sl;
        union vg_val pv;
        int rate = 0;
        if (!json_is_number(val) || !(sl = snap_find(s, type, k)))
            continue;
        if (json_is_integer(val))
            pv.i = (int64_t)json_integer_value(val);
        else
            pv.f = json_real_value(val);
        rc = rules_check(sl, tenant, k, json_is_integer(val) ? VT_I64 : VT_F64, &pv, NULL, &rate,
                         why, cap);
        if (rc)
            return rc;
    }
    return 0;
}
