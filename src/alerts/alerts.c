/*
** alerts/alerts.c: the alert engine (see alerts.h).
** A series is (tenant, entity, attribute), or (tenant, entity, "") for the rules that watch a
** whole entity (staleness with no attribute). Each series holds its bindings: the rules whose
** target it matches, each with its evaluation state and its open alert. Bindings are computed
** when the series is first seen after a change of the rule set (generation), from the entity's
** tags and latest location; a binding of a rule that did not change keeps its state.
*/
#include "alerts/alerts.h"

#include "alerts/baseline.h"
#include "alerts/forecast.h"
#include "alerts/rule.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/vg.h"
#include "ingest/sources.h"

#include <jansson.h>

#include <math.h>
#include <stddef.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum alert_state { AS_OPEN = 0, AS_ACKED = 1, AS_RESOLVED = 2 };
static const char *const state_names[] = {"open", "acknowledged", "resolved"};

struct arule {
    char tenant[64];
    struct rule r;
    char *json;       /* canonical JSON (rule_to_json), owned */
    uint64_t version; /* changes on replace: bindings of an older version start afresh */
    /* composite: the newest time each clause held on some entity of the area, and the rule's
    ** own series (entity = the rule's id, at the area's centre) with its one binding */
    int64_t last_true[RULE_MAX_CLAUSES];
    struct series *area;
};

struct alert {
    int64_t id;
    char tenant[64];
    char rule[64];
    char kind[16];
    int severity;
    char *entity, *type, *attr, *message;
    double value;
    enum alert_state state;
    int64_t raised_at, updated_at, acked_at, resolved_at;
    int64_t created_at;   /* wall clock when raised (raised_at is the data's time) */
    int64_t escalated_at; /* last escalation (0 = never) */
    uint32_t escalations; /* severity levels added because nobody acknowledged */
    int flapping;         /* raised and cleared too often: held open until stable */
    int has_loc;          /* the entity's position when raised */
    double lonlat[2];
    char *acked_by, *resolved_by, *comment;
};

struct binding { /* cache-line aligned (vg_calloc_aligned), a multiple of 64 bytes long */
    /* first what a value's evaluation reads: a copy of the rule's core and the state */
    _Alignas(64) struct rule_core core; /* 64 bytes: the first cache line */
    float quiet[2][2];     /* threshold: the values that change nothing, [st.active][lo, hi]
                              (binding_quiet); in the second line, with st's head */
    struct rule_state st;
    struct arule *rule;
    uint64_t version;
    struct alert *open; /* the open (or acknowledged) alert of this binding, or NULL */
    struct flap *flap;  /* times of its recent transitions (allocated at the first one) */
    int64_t fc_step;    /* forecast rules: the model's step last checked */
};

_Static_assert(offsetof(struct binding, quiet) == 64 &&
                   offsetof(struct binding, st) + offsetof(struct rule_state, last_value) +
                           sizeof(double) <= 128,
               "a value's evaluation reads the first two cache lines of its binding");

/* Flapping: the last FLAP_MAX transitions of a binding, in a ring. */
#define FLAP_MAX 16
struct flap {
    int64_t at[FLAP_MAX];
    uint32_t n; /* transitions recorded so far (the ring holds the last FLAP_MAX) */
};

struct series { /* cache-line aligned (vg_calloc_aligned) */
    /* first what a value's evaluation reads (one cache line) */
    _Alignas(64) uint64_t gen; /* rule-set generation of the bindings */
    struct binding *b;
    uint32_t nb;
    int unit;             /* a unit code series ("attr@unit"): not evaluated */
    uint32_t sid;         /* the store's series id (0 = not known yet) */
    enum vg_vtype vt;     /* the type of its values, known with sid (VT_NONE before) */
    struct hw *hw;        /* its forecasting model, once asked for (fed by every value) */
    struct baseline *bl;  /* its hour-of-week baseline, while an anomaly rule watches it */
    int64_t an_hour;      /* anomaly rules score hourly means: the hour being summed */
    double an_sum;
    uint32_t an_n;
    struct series *whole; /* the entity-level series (attribute ""), once looked up */
    char *tenant, *entity, *type, *attr; /* owned */
    int has_loc;
    double lonlat[2];     /* the last position the engine saw (positions nothing watches are
                             settled by their band: entity_position reads the store) */
    uint32_t loc_sid;     /* the store series of the entity's location (0 = not known) */
    int in_tick;          /* in the tick's list (tick_add) */
    int is_area;          /* a composite rule's area (owned by the rule, not in slots) */
};

_Static_assert(offsetof(struct series, bl) + sizeof(void *) <= 64,
               "a value's evaluation reads the first cache line of its series");

#define FC_STEP_MS 3600000LL               /* forecasts: hourly steps */
#define FC_HISTORY_MS (8 * 7 * 86400000LL) /* a model starts from 8 weeks of history */
#define FC_MAX_MODELS 4096                 /* kept models (20 KB each) */

struct alerts {
    struct meta *meta;
    struct catalog *cat;
    struct store *st;
    pthread_mutex_t mu;
    struct arule **rules;
    uint32_t nrules, caprules;
    /* rules by (tenant, id): open addressing on key_hash, rules[] index + 1 (0 = free);
    ** rebuilt after a delete (which moves the last rule) */
    uint32_t *by_id;
    uint32_t capby_id;
    int by_id_dirty;
    uint32_t entity_rules; /* rules watching a whole entity (attribute "") */
    uint32_t composite_rules;
    /* the series the tick visits: those with a rule the clock moves (stale, nightmin, dwell)
    ** or a flapping alert; rebuilt by the first tick after a change of rules (tick_gen) */
    struct series **ticking;
    uint32_t nticking, capticking;
    uint64_t tick_gen;
    /* candidate rules of a series, sorted by key: "tenant\x1f<entity id>" for rules that list
    ** ids, "tenant\x1f\x1e<type>" for the others (every rule has ids or a type) */
    struct ridx {
        char *key;
        uint32_t order; /* the rule's place in rules[]: bindings keep the rules' order */
        struct arule *rule;
    } *idx;
    uint32_t nidx;
    int idx_dirty;
    uint64_t gen, version;
    /* series: open addressing on the key tenant\x1f entity\x1f attr */
    struct series **slots;
    uint32_t nseries, capslots;
    /* the same series by the store's series id (struct ingest_update.sid): the ingest's values
    ** reach their series by an index, with no hashing or comparison of names */
    struct series **by_sid;
    uint32_t capsid;
    /* Quiet bands, by sid like by_sid (capsid entries): a value inside its series' band changes
    ** no state of the series' rules but their newest time, so it is settled here without
    ** reading the series (quiet_update says which series have one). Reset when the rules
    ** change (quiet_gen != gen). */
    struct quiet {
        float lo, hi;  /* the band [lo, hi]; empty (lo > hi) = evaluate every value */
        uint32_t nb;   /* the series' bindings (the evaluations a settled value counts) */
        enum vg_vtype vt; /* the series' value type (valid while the band is not empty) */
        const struct binding *b; /* the series' bindings when last evaluated (only fetched
                                    ahead: it may be stale) */
        int64_t ts;    /* the newest settled value's time (INT64_MIN: none since the last
                          evaluation) */
    } *quiet;
    uint64_t quiet_gen;
    struct alert **alerts; /* every alert, in id order */
    uint32_t nalerts, capalerts;
    int64_t next_id;
    /* alert documents changed under the mutex, written in one transaction by flush() */
    struct meta_doc_op *pend;
    char (*pend_ids)[24];
    struct alerts_change *pend_chg; /* each change as announced (event NULL = not announced);
                                       its json text is the document's, its alert owned */
    uint32_t npend, cappend;
    /* changes to announce once the mutex is released (flush_unlock), in order; json and
    ** alert owned */
    struct alerts_change *notes;
    uint32_t nnotes, capnotes;
    struct alerts_listener listener;
    pthread_mutex_t deliver_mu; /* one announcer at a time: changes are announced in order */
    struct alerts_policy policy;
    uint32_t open_lo; /* alerts[] below this index are all resolved */
    uint32_t nmodels; /* series with a forecasting model (alerts_active while any) */
    struct sources *sources; /* declared cadences, for stale rules "after":"cadence" (or NULL) */
    uint32_t cadence_rules;  /* how many such rules (the lookup is skipped while none) */
    pthread_t thread;
    int running, stopping;
    pthread_cond_t cv;
    uint32_t tick_ms;
    atomic_uint_fast64_t evaluations, raised, resolved, escalated, flapping, settled;
};

/* ---- small helpers ---------------------------------------------------------------------------- */

static uint64_t key_hash(const char *t, const char *e, const char *a)
{
    uint64_t h = 1469598103934665603ULL;
    const char *parts[3] = {t, e, a};
    for (int i = 0; i < 3; i++) {
        for (const unsigned char *p = (const unsigned char *)parts[i]; *p; p++)
            h = (h ^ *p) * 1099511628211ULL;
        h = (h ^ 0x1f) * 1099511628211ULL;
    }
    return h;
}

static void rfc3339(int64_t ms, char *out, size_t cap)
{
    if (clock_format_rfc3339(ms, out, cap) <= 0)
        snprintf(out, cap, "%lld", (long long)ms);
}

static void set_time(json_t *o, const char *k, int64_t ms)
{
    if (!ms)
        return;
    char t[40];
    rfc3339(ms, t, sizeof(t));
    json_object_set_new(o, k, json_string(t));
}

static int64_t get_time(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    int64_t ms = 0;
    if (s && clock_parse_time(s, strlen(s), &ms))
        ms = 0;
    return ms;
}

static char *dup_or_null(const char *s)
{
    return s ? vg_strdup(s) : NULL;
}

static json_t *alert_json(const struct alert *a)
{
    json_t *o = json_object();
    char id[24];
    snprintf(id, sizeof(id), "%lld", (long long)a->id);
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "rule", json_string(a->rule));
    json_object_set_new(o, "kind", json_string(a->kind));
    json_object_set_new(o, "severity", json_string(rule_severity_name(a->severity)));
    json_object_set_new(o, "state", json_string(state_names[a->state]));
    json_object_set_new(o, "entity", json_string(a->entity));
    json_object_set_new(o, "type", json_string(a->type));
    json_object_set_new(o, "attr", json_string(a->attr));
    json_object_set_new(o, "value", isfinite(a->value) ? json_real(a->value) : json_null());
    json_object_set_new(o, "message", json_string(a->message));
    if (a->has_loc)
        json_object_set_new(o, "location",
                            json_pack("[f,f]", a->lonlat[0], a->lonlat[1]));
    set_time(o, "raisedAt", a->raised_at);
    set_time(o, "updatedAt", a->updated_at);
    set_time(o, "acknowledgedAt", a->acked_at);
    if (a->acked_by)
        json_object_set_new(o, "acknowledgedBy", json_string(a->acked_by));
    set_time(o, "createdAt", a->created_at);
    if (a->escalations) {
        set_time(o, "escalatedAt", a->escalated_at);
        json_object_set_new(o, "escalations", json_integer(a->escalations));
    }
    if (a->flapping)
        json_object_set_new(o, "flapping", json_true());
    set_time(o, "resolvedAt", a->resolved_at);
    if (a->resolved_by)
        json_object_set_new(o, "resolvedBy", json_string(a->resolved_by));
    if (a->comment)
        json_object_set_new(o, "comment", json_string(a->comment));
    return o;
}

static void alert_free(struct alert *a)
{
    if (!a)
        return;
    free(a->entity);
    free(a->type);
    free(a->attr);
    free(a->message);
    free(a->acked_by);
    free(a->resolved_by);
    free(a->comment);
    free(a);
}

/* Queue one alert's document (meta document "alert", id zero-padded: load order = id order);
** flush() writes what a call queued in one transaction (one fsync, however many alerts). */
static void alert_store(struct alerts *al, const struct alert *a, const char *event)
{
    json_t *o = alert_json(a);
    char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(12));
    if (al->npend == al->cappend) {
        al->cappend = al->cappend ? al->cappend * 2 : 16;
        al->pend = vg_realloc(al->pend, al->cappend * sizeof(*al->pend));
        al->pend_ids = vg_realloc(al->pend_ids, al->cappend * sizeof(*al->pend_ids));
        al->pend_chg = vg_realloc(al->pend_chg, al->cappend * sizeof(*al->pend_chg));
        for (uint32_t i = 0; i < al->npend; i++) /* ids moved with the array */
            al->pend[i].id = al->pend_ids[i];
    }
    snprintf(al->pend_ids[al->npend], sizeof(al->pend_ids[0]), "%012lld", (long long)a->id);
    al->pend[al->npend] = (struct meta_doc_op){"alert", a->tenant, al->pend_ids[al->npend], text,
                                               strlen(text)};
    /* the alert's strings live as long as the engine; the rest is copied now */
    al->pend_chg[al->npend] = (struct alerts_change){a->tenant, event, a->entity, a->type, text, o,
                                                     a->severity, a->has_loc,
                                                     {a->lonlat[0], a->lonlat[1]}};
    al->npend++;
}

/* An alert resolved (by the engine: "auto", "rule changed", ...; or by hand), queued and
** counted. */
static void mark_resolved(struct alerts *al, struct alert *a, const char *by, int64_t now)
{
    a->state = AS_RESOLVED;
    a->resolved_at = a->updated_at = now;
    free(a->resolved_by);
    a->resolved_by = vg_strdup(by);
    alert_store(al, a, "resolved");
    atomic_fetch_add(&al->resolved, 1);
}

/* Write the queued alert documents (under the mutex: in the order of the changes). The tenant
** strings are the alerts' own, which live as long as the engine. */
static int flush(struct alerts *al)
{
    if (!al->npend)
        return VG_OK;
    int rc = meta_docs_commit(al->meta, al->pend, al->npend);
    if (rc)
        log_error("alerts: cannot store %u alert changes: %s", al->npend, vg_strerror(rc));
    for (uint32_t i = 0; i < al->npend; i++) {
        struct alerts_change *c = &al->pend_chg[i];
        if (!al->listener.fn || !c->event) {
            free((char *)c->json);
            json_decref((json_t *)c->alert);
            continue;
        }
        if (al->nnotes == al->capnotes) {
            al->capnotes = al->capnotes ? al->capnotes * 2 : 16;
            al->notes = vg_realloc(al->notes, al->capnotes * sizeof(*al->notes));
        }
        al->notes[al->nnotes++] = *c;
    }
    al->npend = 0;
    return rc;
}

static void changes_free(struct alerts_change *c, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        free((char *)c[i].json);
        json_decref((json_t *)c[i].alert);
    }
    free(c);
}

/* flush(), release the mutex, then announce the changes to the listener (outside the engine's
** mutex: the listener may write entities, publish, queue notifications). */
static int flush_unlock(struct alerts *al)
{
    int rc = flush(al);
    struct alerts_change *notes = al->notes;
    uint32_t n = al->nnotes;
    al->notes = NULL;
    al->nnotes = al->capnotes = 0;
    if (!n) {
        pthread_mutex_unlock(&al->mu);
        return rc;
    }
    struct alerts_listener l = al->listener;
    pthread_mutex_lock(&al->deliver_mu); /* before releasing mu: the order of the changes */
    pthread_mutex_unlock(&al->mu);
    l.fn(l.arg, notes, n);
    pthread_mutex_unlock(&al->deliver_mu);
    changes_free(notes, n);
    return rc;
}

static void alerts_push(struct alerts *al, struct alert *a)
{
    if (al->nalerts == al->capalerts) {
        al->capalerts = al->capalerts ? al->capalerts * 2 : 64;
        al->alerts = vg_realloc(al->alerts, al->capalerts * sizeof(*al->alerts));
    }
    al->alerts[al->nalerts++] = a;
    if (a->id >= al->next_id)
        al->next_id = a->id + 1;
}

static struct alert *alert_find(struct alerts *al, const char *tenant, int64_t id)
{
    uint32_t lo = 0, hi = al->nalerts; /* ids grow with the array */
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (al->alerts[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < al->nalerts && al->alerts[lo]->id == id && !strcmp(al->alerts[lo]->tenant, tenant))
        return al->alerts[lo];
    return NULL;
}

/* ---- rules ------------------------------------------------------------------------------------ */

static void series_free(struct series *s)
{
    if (!s)
        return;
    free(s->tenant);
    free(s->entity);
    free(s->type);
    free(s->attr);
    for (uint32_t k = 0; k < s->nb; k++)
        free(s->b[k].flap);
    free(s->b);
    hw_free(s->hw);
    baseline_free(s->bl);
    free(s);
}

static void arule_free(struct arule *ar)
{
    rule_release(&ar->r);
    free(ar->json);
    series_free(ar->area);
    free(ar);
}

/* Put rules[i] in the by-id table (which has room). */
static void by_id_put(struct alerts *al, uint32_t i)
{
    uint32_t mask = al->capby_id - 1;
    uint32_t j = (uint32_t)key_hash(al->rules[i]->tenant, al->rules[i]->r.id, "") & mask;
    while (al->by_id[j])
        j = (j + 1) & mask;
    al->by_id[j] = i + 1;
}

/* The by-id table for the current rules, at most half full. */
static void by_id_build(struct alerts *al)
{
    uint32_t cap = 64;
    while (cap < 2 * al->nrules + 2)
        cap *= 2;
    free(al->by_id);
    al->by_id = vg_calloc(cap, sizeof(*al->by_id));
    al->capby_id = cap;
    for (uint32_t i = 0; i < al->nrules; i++)
        by_id_put(al, i);
    al->by_id_dirty = 0;
}

/* rules[nrules - 1] was just appended. */
static void by_id_add(struct alerts *al)
{
    if (al->by_id_dirty || 2 * al->nrules + 2 > al->capby_id)
        by_id_build(al);
    else
        by_id_put(al, al->nrules - 1);
}

/* A new rule (its tenant and id not among the rules). */
static void rules_append(struct alerts *al, struct arule *ar)
{
    if (al->nrules == al->caprules) {
        al->caprules = al->caprules ? al->caprules * 2 : 16;
        al->rules = vg_realloc(al->rules, al->caprules * sizeof(*al->rules));
    }
    al->rules[al->nrules++] = ar;
    by_id_add(al);
}

static struct arule *rule_find(struct alerts *al, const char *tenant, const char *id, uint32_t *at)
{
    if (al->by_id_dirty || !al->by_id)
        by_id_build(al);
    uint32_t mask = al->capby_id - 1;
    for (uint32_t j = (uint32_t)key_hash(tenant, id, "") & mask; al->by_id[j]; j = (j + 1) & mask) {
        struct arule *ar = al->rules[al->by_id[j] - 1];
        if (!strcmp(ar->r.id, id) && !strcmp(ar->tenant, tenant)) {
            if (at)
                *at = al->by_id[j] - 1;
            return ar;
        }
    }
    return NULL;
}

static int ridx_cmp(const void *x, const void *y)
{
    const struct ridx *a = x, *b = y;
    int c = strcmp(a->key, b->key);
    return c ? c : (a->order > b->order) - (a->order < b->order);
}

static void idx_add(struct alerts *al, uint32_t *cap, const char *tenant, const char *sep,
                    const char *name, uint32_t order, struct arule *ar)
{
    if (al->nidx == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        al->idx = vg_realloc(al->idx, *cap * sizeof(*al->idx));
    }
    size_t n = strlen(tenant) + strlen(sep) + strlen(name) + 1;
    char *k = vg_malloc(n);
    snprintf(k, n, "%s%s%s", tenant, sep, name);
    al->idx[al->nidx++] = (struct ridx){k, order, ar};
}

static void idx_free(struct alerts *al)
{
    for (uint32_t i = 0; i < al->nidx; i++)
        free(al->idx[i].key);
    free(al->idx);
    al->idx = NULL;
    al->nidx = 0;
}

/* Rebuild the candidate index (lazily, at the first binding after a change of the rules: a
** thousand rules created one by one rebuild it once). */
static void idx_build(struct alerts *al)
{
    idx_free(al);
    uint32_t cap = 0;
    for (uint32_t i = 0; i < al->nrules; i++) {
        struct arule *ar = al->rules[i];
        if (ar->r.nids)
            for (uint32_t k = 0; k < ar->r.nids; k++)
                idx_add(al, &cap, ar->tenant, "\x1f", ar->r.ids[k], i, ar);
        else if (ar->r.kind == RULE_COMPOSITE) /* fed by the types of its clauses */
            for (uint32_t k = 0; k < ar->r.nclauses; k++)
                idx_add(al, &cap, ar->tenant, "\x1f\x1e", ar->r.clauses[k].type, i, ar);
        else
            idx_add(al, &cap, ar->tenant, "\x1f\x1e", ar->r.type, i, ar);
    }
    if (al->nidx)
        qsort(al->idx, al->nidx, sizeof(*al->idx), ridx_cmp);
    al->idx_dirty = 0;
}

/* After a change of the rules: counts, a new generation (every series rebinds when next seen). */
/* ar joins (sign 1) or leaves (-1) the rules: the counts that switch work on or off. */
static void rule_count(struct alerts *al, const struct arule *ar, int sign)
{
    al->cadence_rules += (uint32_t)(sign * (ar->r.cadence_factor > 0));
    al->entity_rules += (uint32_t)(sign * (ar->r.attr[0] == '\0' && ar->r.kind != RULE_COMPOSITE));
    al->composite_rules += (uint32_t)(sign * (ar->r.kind == RULE_COMPOSITE));
}

/* The rules changed: every series binds again when it next sees a value. */
static void rules_changed(struct alerts *al)
{
    al->idx_dirty = 1;
    al->gen++;
}

/* The index entries of key: [*lo, *hi). */
static void idx_range(const struct alerts *al, const char *key, uint32_t *lo, uint32_t *hi)
{
    uint32_t a = 0, b = al->nidx;
    while (a < b) {
        uint32_t m = (a + b) / 2;
        if (strcmp(al->idx[m].key, key) < 0)
            a = m + 1;
        else
            b = m;
    }
    *lo = a;
    while (b < al->nidx && !strcmp(al->idx[b].key, key))
        b++;
    *hi = a < b ? b : a;
}

/* Resolve, as the engine, every open alert of a rule (it changed or went away). */
static void resolve_rule_alerts(struct alerts *al, const struct arule *ar, const char *why,
                                int64_t now)
{
    for (uint32_t i = 0; i < al->capslots; i++) {
        struct series *s = al->slots[i];
        if (!s)
            continue;
        for (uint32_t k = 0; k < s->nb; k++) {
            struct binding *b = &s->b[k];
            if (b->rule != ar)
                continue;
            if (b->open) {
                mark_resolved(al, b->open, why, now);
                b->open = NULL;
            }
            b->rule = NULL; /* dropped at the next rebinding */
        }
    }
    /* open alerts of this rule whose series was not seen since the start */
    for (uint32_t i = 0; i < al->nalerts; i++) {
        struct alert *a = al->alerts[i];
        if (a->state != AS_RESOLVED && !strcmp(a->tenant, ar->tenant) && !strcmp(a->rule, ar->r.id))
            mark_resolved(al, a, why, now);
    }
}

int alerts_rule_put(struct alerts *al, const char *tenant, const char *json, size_t len,
                    int replace, char *id_out, size_t idcap, char *err, size_t errcap)
{
    struct arule *ar = vg_calloc(1, sizeof(*ar));
    if (rule_parse(json, len, &ar->r, err, errcap)) {
        free(ar);
        return VG_EINVAL;
    }
    snprintf(ar->tenant, sizeof(ar->tenant), "%s", tenant);
    ar->json = rule_to_json(&ar->r);
    vg_putf(id_out, idcap, "%s", ar->r.id);
    pthread_mutex_lock(&al->mu);
    uint32_t at = 0;
    struct arule *old = rule_find(al, tenant, ar->r.id, &at);
    int rc = VG_OK;
    if (old && !replace)
        rc = vg_errf(err, errcap, VG_EEXIST, "rule '%s' exists already; PUT replaces it",
                     ar->r.id);
    else if (!old && replace)
        rc = vg_errf(err, errcap, VG_ENOENT, "no rule '%s'", ar->r.id);
    if (!rc) {
        struct meta_doc_op op = {"rule", tenant, ar->r.id, ar->json, strlen(ar->json)};
        rc = meta_docs_commit(al->meta, &op, 1);
        if (rc)
            vg_putf(err, errcap, "cannot store the rule: %s", vg_strerror(rc));
    }
    if (rc) {
        pthread_mutex_unlock(&al->mu);
        arule_free(ar);
        return rc;
    }
    ar->version = ++al->version;
    if (old) {
        resolve_rule_alerts(al, old, "rule changed", clock_now_ms());
        flush(al);
        al->rules[at] = ar; /* same tenant and id: the by-id table holds */
        rule_count(al, old, -1);
        arule_free(old);
    } else {
        rules_append(al, ar);
    }
    rule_count(al, ar, 1);
    rules_changed(al);
    flush_unlock(al); /* announces the alerts the replaced rule resolved */
    return VG_OK;
}

int alerts_rule_ensure(struct alerts *al, const char *tenant, const char *json, size_t len,
                       int *changed, char *err, size_t errcap)
{
    struct rule r;
    if (rule_parse(json, len, &r, err, errcap))
        return VG_EINVAL;
    char *canon = rule_to_json(&r);
    pthread_mutex_lock(&al->mu);
    struct arule *old = rule_find(al, tenant, r.id, NULL);
    int same = old && !strcmp(old->json, canon);
    pthread_mutex_unlock(&al->mu);
    rule_release(&r);
    *changed = same ? 0 : old ? 2 : 1;
    int rc = VG_OK;
    if (!same) { /* a concurrent API change in between: the configuration wins */
        char id[64];
        rc = alerts_rule_put(al, tenant, canon, strlen(canon), old != NULL, id, sizeof(id), err,
                             errcap);
    }
    free(canon);
    return rc;
}

int alerts_rule_delete(struct alerts *al, const char *tenant, const char *id)
{
    pthread_mutex_lock(&al->mu);
    uint32_t at;
    struct arule *ar = rule_find(al, tenant, id, &at);
    if (!ar) {
        pthread_mutex_unlock(&al->mu);
        return VG_ENOENT;
    }
    struct meta_doc_op op = {"rule", tenant, id, NULL, 0};
    int rc = meta_docs_commit(al->meta, &op, 1);
    if (!rc) {
        resolve_rule_alerts(al, ar, "rule deleted", clock_now_ms());
        flush(al);
        al->rules[at] = al->rules[--al->nrules];
        al->by_id_dirty = 1;
        rule_count(al, ar, -1);
        arule_free(ar);
        rules_changed(al);
    }
    flush_unlock(al);
    return rc;
}

int alerts_rules_json(struct alerts *al, const char *tenant, const char *id, struct buf *out)
{
    pthread_mutex_lock(&al->mu);
    int rc = VG_OK;
    if (id) {
        struct arule *ar = rule_find(al, tenant, id, NULL);
        if (ar)
            buf_puts(out, ar->json);
        else
            rc = VG_ENOENT;
    } else {
        buf_puts(out, "{\"rules\":[");
        int first = 1;
        for (uint32_t i = 0; i < al->nrules; i++) {
            if (strcmp(al->rules[i]->tenant, tenant))
                continue;
            if (!first)
                buf_putc(out, ',');
            first = 0;
            buf_puts(out, al->rules[i]->json);
        }
        buf_puts(out, "]}");
    }
    pthread_mutex_unlock(&al->mu);
    if (!rc)
        buf_putc(out, '\n');
    return rc;
}

int alerts_active(const struct alerts *al)
{
    return al && (__atomic_load_n(&al->nrules, __ATOMIC_RELAXED) > 0 ||
                  __atomic_load_n(&al->nmodels, __ATOMIC_RELAXED) > 0);
}

/* ---- series and bindings ---------------------------------------------------------------------- */

static struct series *series_get(struct alerts *al, const char *tenant, const char *entity,
                                 const char *type, const char *attr)
{
    if ((al->nseries + 1) * 2 > al->capslots) { /* grow: keep the load under one half */
        uint32_t ncap = al->capslots ? al->capslots * 2 : 1024;
        struct series **ns = vg_calloc(ncap, sizeof(*ns));
        for (uint32_t i = 0; i < al->capslots; i++) {
            struct series *s = al->slots[i];
            if (!s)
                continue;
            uint32_t j = (uint32_t)key_hash(s->tenant, s->entity, s->attr) & (ncap - 1);
            while (ns[j])
                j = (j + 1) & (ncap - 1);
            ns[j] = s;
        }
        free(al->slots);
        al->slots = ns;
        al->capslots = ncap;
    }
    uint32_t j = (uint32_t)key_hash(tenant, entity, attr) & (al->capslots - 1);
    for (; al->slots[j]; j = (j + 1) & (al->capslots - 1)) {
        struct series *s = al->slots[j];
        if (!strcmp(s->entity, entity) && !strcmp(s->attr, attr) && !strcmp(s->tenant, tenant))
            return s;
    }
    struct series *s = vg_calloc_aligned(_Alignof(struct series), sizeof(*s));
    s->tenant = vg_strdup(tenant);
    s->entity = vg_strdup(entity);
    s->type = vg_strdup(type);
    s->attr = vg_strdup(attr);
    s->unit = strchr(attr, '@') != NULL;
    al->slots[j] = s;
    al->nseries++;
    return s;
}

/* ---- quiet bands ---- */

/* A value as the rules see it: numbers and booleans; NaN for the other types. */
static double value_number(enum vg_vtype vt, const union vg_val *v)
{
    switch (vt) {
    case VT_F64: return v->f;
    case VT_I64:
    case VT_BOOL: return (double)v->i;
    default: return NAN;
    }
}

static int quiet_holds(const struct quiet *q, double x)
{
    return x >= (double)q->lo && x <= (double)q->hi; /* NaN: never */
}

/* An empty band (every value is evaluated); the settled time is kept for quiet_sync. */
static void quiet_close(struct quiet *q)
{
    q->lo = INFINITY;
    q->hi = -INFINITY;
    q->nb = 0;
}

/* The float nearest x that is >= x (up) or <= x (down): a band in floats never reaches past the
** exact bound. */
static float float_toward(double x, int up)
{
    float f = (float)x;
    if (up ? (double)f < x : (double)f > x)
        f = nextafterf(f, up ? INFINITY : -INFINITY);
    return f;
}

/* A threshold binding's bands, for quiet_update: not raised, the condition does not hold;
** raised, it does not clear. */
static void binding_quiet(struct binding *b)
{
    const struct rule_core *c = &b->core;
    if (c->kind != RULE_THRESHOLD)
        return;
    int below = c->op == '<';
    float *off = b->quiet[0], *on = b->quiet[1];
    off[0] = below ? float_toward(c->raise, 1) : -INFINITY; /* '<': v >= raise */
    off[1] = below ? INFINITY : float_toward(c->raise, 0);  /* '>': v <= raise */
    on[0] = below ? -INFINITY : nextafterf(float_toward(c->clear, 0), INFINITY); /* v > clear */
    on[1] = below ? nextafterf(float_toward(c->clear, 1), -INFINITY) : INFINITY; /* v < clear */
}

/* After s was evaluated: its band, if every rule of s is a threshold rule that is not pending
** (then a value changes nothing as long as the condition does not start to hold, or, raised, as
** long as it does not clear), s feeds no model, and no rule watches its whole entity. A series
** without rules gets the whole line. */
static void quiet_update(struct alerts *al, struct series *s)
{
    if (!s->sid || s->sid >= al->capsid)
        return;
    struct quiet *q = &al->quiet[s->sid];
    quiet_close(q);
    q->b = s->b;
    if (s->hw || s->bl || /* s->gen is current: s was just evaluated */
        (al->entity_rules && (!s->whole || s->whole->gen != al->gen || s->whole->nb)))
        return;
    if (s->vt != VT_F64 && s->vt != VT_I64 && s->vt != VT_BOOL) {
        if (!s->nb) { /* positions, strings: every value, while no rule watches them */
            q->lo = -INFINITY;
            q->hi = INFINITY;
            q->nb = 0;
            q->vt = s->vt;
        }
        return;
    }
    if (s->unit)
        return;
    float lo = -INFINITY, hi = INFINITY;
    for (uint32_t k = 0; k < s->nb; k++) {
        const struct binding *b = &s->b[k];
        if (b->core.kind != RULE_THRESHOLD || b->st.pending)
            return;
        const float *band = b->quiet[b->st.active != 0];
        lo = band[0] > lo ? band[0] : lo;
        hi = band[1] < hi ? band[1] : hi;
    }
    q->lo = lo;
    q->hi = hi;
    q->nb = s->nb;
    q->vt = s->vt;
}

/* Does q settle v, a value of its series? Numbers and booleans: inside the band; positions and
** strings: whenever the band is not empty (nothing watches them). */
static int quiet_covers(const struct quiet *q, const union vg_val *v)
{
    if (q->vt == VT_GEO || q->vt == VT_STR)
        return q->lo <= q->hi;
    return quiet_holds(q, value_number(q->vt, v));
}

/* Would p's series band settle p? 1 also when p's sid is unknown to the engine (nothing to
** fetch ahead then). */
static int quiet_settles(const struct alerts *al, const struct store_point *p)
{
    if (p->sid >= al->capsid || !al->by_sid[p->sid])
        return 1;
    return quiet_covers(&al->quiet[p->sid], &p->v);
}

/* Before s is evaluated: values settled by its band were newer than what its rules saw last.
** By s->sid, not the value's: a value by names (sid 0, an NGSI-LD change) reaches s too. */
static void quiet_sync(struct alerts *al, struct series *s)
{
    uint32_t sid = s->sid;
    if (!sid || sid >= al->capsid || al->quiet[sid].ts == INT64_MIN)
        return;
    int64_t ts = al->quiet[sid].ts;
    for (uint32_t k = 0; k < s->nb; k++)
        if (s->b[k].st.has_last && s->b[k].st.last_ts < ts)
            s->b[k].st.last_ts = ts;
    al->quiet[sid].ts = INT64_MIN;
}

/* s is the store's series sid, of values of type vt: index it (by_sid, quiet). */
static void series_index(struct alerts *al, struct series *s, uint32_t sid, enum vg_vtype vt)
{
    s->sid = sid;
    s->vt = vt;
    if (sid >= (1u << 28)) /* sids are dense from 1 */
        return;
    if (sid >= al->capsid) {
        uint32_t ncap = al->capsid ? al->capsid : 1024;
        while (ncap <= sid)
            ncap *= 2;
        al->by_sid = vg_realloc(al->by_sid, ncap * sizeof(*al->by_sid));
        memset(al->by_sid + al->capsid, 0, (ncap - al->capsid) * sizeof(*al->by_sid));
        al->quiet = vg_realloc(al->quiet, ncap * sizeof(*al->quiet));
        for (uint32_t i = al->capsid; i < ncap; i++) {
            quiet_close(&al->quiet[i]);
            al->quiet[i].ts = INT64_MIN;
            al->quiet[i].vt = VT_NONE;
            al->quiet[i].b = NULL;
        }
        al->capsid = ncap;
    }
    al->by_sid[sid] = s;
}

struct names_of {
    struct alerts *al;
    const char *tenant;
    struct series *s;
    enum vg_vtype vt;
};

static int series_from_catalog(void *arg, const struct catalog_series *cs)
{
    struct names_of *n = arg;
    if (strcmp(cs->tenant, n->tenant))
        return VG_ENOENT;
    n->s = series_get(n->al, cs->tenant, cs->entity, cs->type, cs->attr);
    n->vt = cs->vt;
    return VG_OK;
}

/* The series of store series sid: from the index, else by its names in the catalogue (first
** sight). NULL when sid is not in the catalogue (retired while its value was on the way) or
** belongs to another tenant. */
static struct series *series_by_sid(struct alerts *al, const char *tenant, uint32_t sid)
{
    if (sid < al->capsid && al->by_sid[sid])
        return al->by_sid[sid];
    struct names_of n = {al, tenant, NULL, VT_NONE};
    if (!sid || !al->cat || catalog_series_get(al->cat, sid, series_from_catalog, &n) != VG_OK)
        return NULL;
    series_index(al, n.s, sid, n.vt);
    return n.s;
}

/* The series of a value with names (and a sid when it was stored). */
static struct series *series_of(struct alerts *al, const char *tenant,
                                const struct ingest_update *u)
{
    if (u->sid < al->capsid && al->by_sid[u->sid])
        return al->by_sid[u->sid];
    struct series *s = series_get(al, tenant, u->entity, u->type, u->attr);
    if (u->sid)
        series_index(al, s, u->sid, u->vt);
    return s;
}

/* The entity-level series of s's entity (for the rules that watch a whole entity). */
static struct series *series_whole(struct alerts *al, struct series *s)
{
    if (!s->attr[0])
        return s;
    if (!s->whole)
        s->whole = series_get(al, s->tenant, s->entity, s->type, "");
    return s->whole;
}

/* The hourly means of series sid over [to - span, to) (to rounded down to the hour), in time
** order, to fn. Outside the engine's mutex or not: it only reads the store. */
static void history_hourly(struct alerts *al, uint32_t sid, int64_t end, int64_t span,
                           void (*fn)(void *model, int64_t ts, double v), void *model)
{
    int64_t to = end - end % FC_STEP_MS, from = to - span;
    uint32_t nb = store_bucket_count(from, to, FC_STEP_MS);
    struct store_bucket *b = vg_calloc(nb, sizeof(*b));
    if (!store_aggregate(al->st, sid, from, to, FC_STEP_MS, b, nb))
        for (uint32_t i = 0; i < nb; i++)
            if (b[i].count)
                fn(model, b[i].start, store_bucket_value(&b[i], AGG_AVG));
    free(b);
}

static void feed_hw(void *m, int64_t ts, double v)
{
    hw_add(m, ts, v);
}

static void feed_baseline(void *bl, int64_t ts, double v)
{
    baseline_add(bl, ts, v);
}

/* A forecasting model fed with the series' last FC_HISTORY_MS. */
static struct hw *model_from_history(struct alerts *al, uint32_t sid, int64_t now)
{
    struct hw *m = hw_new(FC_STEP_MS, 24, 168);
    history_hourly(al, sid, now, FC_HISTORY_MS, feed_hw, m);
    return m;
}

/* A baseline fed with the series' last `weeks` weeks before `end`. */
static struct baseline *baseline_from_history(struct alerts *al, uint32_t sid, uint32_t weeks,
                                              int64_t end)
{
    struct baseline *bl = baseline_new(weeks);
    history_hourly(al, sid, end, weeks * 7 * 86400000LL, feed_baseline, bl);
    return bl;
}

struct fc_find {
    uint32_t sid;
    enum vg_vtype vt;
    char type[160];
};

static int fc_row(void *arg, const struct catalog_series *cs)
{
    struct fc_find *f = arg;
    f->sid = cs->sid;
    f->vt = cs->vt;
    snprintf(f->type, sizeof(f->type), "%s", cs->type);
    return 1;
}

/* The store's series id of s (looked up in the catalogue once), 0 if none. */
static uint32_t series_sid(struct alerts *al, struct series *s)
{
    if (!s->sid && s->attr[0]) {
        struct fc_find f = {0, VT_F64, ""};
        struct catalog_sel sel = {s->tenant, NULL, s->entity, s->attr, NULL, 0};
        catalog_select(al->cat, &sel, fc_row, &f);
        s->sid = f.sid;
    }
    return s->sid;
}

/* After binding: the models the bound rules need, started from the series' history up to its
** newest stored point (so that a replayed past is read as of its own time): a baseline for
** anomaly rules, a forecasting model for forecast rules. Under the mutex (reads the store once
** per series and rule set). */
static void prepare_models(struct alerts *al, struct series *s)
{
    uint32_t weeks = 0;
    int forecast = 0;
    for (uint32_t k = 0; k < s->nb; k++) {
        const struct rule *r = &s->b[k].rule->r;
        if (r->kind == RULE_ANOMALY && r->weeks > weeks)
            weeks = r->weeks;
        forecast |= r->kind == RULE_FORECAST;
    }
    if (!weeks && s->bl) {
        baseline_free(s->bl);
        s->bl = NULL;
    }
    if ((!weeks || s->bl) && (!forecast || s->hw))
        return;
    uint32_t sid = series_sid(al, s); /* 0: not stored (yet): the models start empty */
    int64_t end, ts;
    union vg_val v;
    end = !sid || store_latest(al->st, sid, &ts, &v) ? clock_now_ms() : ts;
    if (weeks && !s->bl)
        s->bl = sid ? baseline_from_history(al, sid, weeks, end) : baseline_new(weeks);
    if (forecast && !s->hw && al->nmodels < FC_MAX_MODELS) {
        s->hw = sid ? model_from_history(al, sid, end) : hw_new(FC_STEP_MS, 24, 168);
        __atomic_add_fetch(&al->nmodels, 1, __ATOMIC_RELAXED);
    }
}

static void transition(struct alerts *al, struct series *s, struct binding *b, enum rule_event ev,
                       int64_t t);

/* A night-minimum rule newly bound to s (a new rule, or a restart) learns its nights from the
** stored history instead of waiting `learn` nights: the series' points of the last window + 2
** days go through its state machine, transitions ignored. A leak the history shows is raised
** once the binding is made (bind). */
static void replay_nights(struct alerts *al, struct series *s, struct binding *b)
{
    uint32_t sid = series_sid(al, s);
    int64_t newest;
    union vg_val last;
    if (!sid || store_latest(al->st, sid, &newest, &last))
        return;
    struct store_points pts;
    store_points_init(&pts);
    int64_t from = newest - (int64_t)(b->rule->r.window + 2) * 86400000LL;
    if (!store_read(al->st, sid, from, newest + 1, 100000, &pts) &&
        (pts.vt == VT_F64 || pts.vt == VT_I64))
        for (uint32_t i = 0; i < pts.n; i++)
            rule_on_value(&b->rule->r, &b->st, pts.ts[i],
                          pts.vt == VT_F64 ? pts.v[i].f : (double)pts.v[i].i);
    store_points_release(&pts);
}

struct entity_info {
    struct vg_tag tags[64];
    uint32_t ntags;
    char buf[4096]; /* the tag strings */
    size_t used;
    uint32_t loc_sid;
    int has_loc_sid;
};

static int info_row(void *arg, const struct catalog_series *cs)
{
    struct entity_info *in = arg;
    if (in->ntags == 0 && cs->ntags) {
        for (uint32_t i = 0; i < cs->ntags && i < 64; i++) {
            size_t need = cs->tags[i].klen + cs->tags[i].vlen;
            if (in->used + need > sizeof(in->buf))
                break;
            char *k = in->buf + in->used;
            memcpy(k, cs->tags[i].key, cs->tags[i].klen);
            char *v = k + cs->tags[i].klen;
            memcpy(v, cs->tags[i].val, cs->tags[i].vlen);
            in->used += need;
            in->tags[in->ntags++] = (struct vg_tag){k, cs->tags[i].klen, v, cs->tags[i].vlen};
        }
    }
    if (cs->vt == VT_GEO && !strcmp(cs->attr, "location")) {
        in->loc_sid = cs->sid;
        in->has_loc_sid = 1;
    }
    return 0;
}

/* The latest stored position of location series loc into lonlat; 0 if none. */
static int stored_position(struct alerts *al, uint32_t loc, double lonlat[2])
{
    int64_t ts;
    union vg_val v;
    if (store_latest(al->st, loc, &ts, &v))
        return 0;
    lonlat[0] = v.geo.lon;
    lonlat[1] = v.geo.lat;
    return 1;
}

/* Does the tick have work on s: a rule the clock moves, or a flapping alert to end? */
static int series_ticks(const struct series *s)
{
    for (uint32_t k = 0; k < s->nb; k++) {
        enum rule_kind kind = s->b[k].core.kind;
        if (kind == RULE_STALE || kind == RULE_NIGHTMIN || kind == RULE_DWELL ||
            (s->b[k].open && s->b[k].open->flapping))
            return 1;
    }
    return 0;
}

static void tick_add(struct alerts *al, struct series *s)
{
    if (s->in_tick || s->is_area) /* areas: the tick's composite loop */
        return;
    if (al->nticking == al->capticking) {
        al->capticking = al->capticking ? 2 * al->capticking : 64;
        al->ticking = vg_realloc(al->ticking, al->capticking * sizeof(*al->ticking));
    }
    al->ticking[al->nticking++] = s;
    s->in_tick = 1;
}

/* (Re)compute the bindings of s for the current rule set; kept states survive for rules that
** did not change. Open alerts loaded at start are attached to their binding, active. */
static void bind(struct alerts *al, struct series *s)
{
    struct entity_info in;
    memset(&in, 0, sizeof(in));
    struct catalog_sel sel = {s->tenant, NULL, s->entity, NULL, NULL, 0};
    catalog_select(al->cat, &sel, info_row, &in);
    if (in.has_loc_sid) { /* where the entity is now (its settled positions bypass s) */
        s->loc_sid = in.loc_sid;
        if (stored_position(al, in.loc_sid, s->lonlat))
            s->has_loc = 1;
    }
    struct binding *nb = NULL;
    uint32_t n = 0, capn = 0;
    /* the candidates: rules listing this entity's id, then rules of its type */
    if (al->idx_dirty)
        idx_build(al);
    char key[600];
    uint32_t r[2][2];
    snprintf(key, sizeof(key), "%s\x1f%s", s->tenant, s->entity);
    idx_range(al, key, &r[0][0], &r[0][1]);
    snprintf(key, sizeof(key), "%s\x1f\x1e%s", s->tenant, s->type);
    idx_range(al, key, &r[1][0], &r[1][1]);
    for (int part = 0; part < 2; part++)
    for (uint32_t i = r[part][0]; i < r[part][1]; i++) {
        struct arule *ar = al->idx[i].rule;
        int dup = 0; /* an id listed twice */
        for (uint32_t k = 0; k < n && !dup; k++)
            dup = nb[k].rule == ar;
        if (dup)
            continue;
        int entity_level = ar->r.attr[0] == '\0' && ar->r.kind != RULE_COMPOSITE;
        if (entity_level != (s->attr[0] == '\0'))
            continue;
        if (!rule_matches(&ar->r, s->type, s->entity, s->attr, in.tags, in.ntags,
                          s->has_loc ? s->lonlat : NULL))
            continue;
        if (n == capn) { /* bindings are cache-line aligned: no realloc */
            capn = capn ? 2 * capn : 1;
            struct binding *g = vg_calloc_aligned(_Alignof(struct binding), capn * sizeof(*g));
            if (n)
                memcpy(g, nb, n * sizeof(*g));
            free(nb);
            nb = g;
        }
        struct binding *b = &nb[n++];
        memset(b, 0, sizeof(*b));
        b->rule = ar;
        b->version = ar->version;
        b->core = ar->r.core;
        binding_quiet(b);
        for (uint32_t k = 0; k < s->nb; k++) /* the same rule, unchanged: keep its state */
            if (s->b[k].rule == ar && s->b[k].version == ar->version) {
                *b = s->b[k];
                break;
            }
        if (ar->r.kind == RULE_NIGHTMIN && !b->st.has_last)
            replay_nights(al, s, b);
        if (!b->open && ar->r.kind != RULE_COMPOSITE) { /* left open by a previous run */
            for (uint32_t k = al->nalerts; k-- > 0;) {
                struct alert *a = al->alerts[k];
                if (a->state != AS_RESOLVED && !strcmp(a->rule, ar->r.id) &&
                    !strcmp(a->tenant, s->tenant) && !strcmp(a->entity, s->entity) &&
                    !strcmp(a->attr, s->attr)) {
                    b->open = a;
                    b->st.active = 1;
                    b->st.raised_at = a->raised_at;
                    b->st.trigger_value = a->value;
                    break;
                }
            }
        }
        if (ar->r.kind == RULE_STALE && !b->st.has_last && !b->st.active && s->sid) {
            /* a series silent since before the rule: its silence counts from its last value
            ** (not when an alert is open: the value being evaluated must clear it) */
            int64_t ts;
            union vg_val v;
            if (!store_latest(al->st, s->sid, &ts, &v)) {
                double x = value_number(s->vt, &v);
                b->st.has_last = 1;
                b->st.last_ts = ts;
                b->st.last_value = isnan(x) ? 0 : x;
            }
        }
    }
    for (uint32_t k = 0; k < s->nb; k++) { /* flapping records of bindings not kept */
        int kept = 0;
        for (uint32_t j = 0; j < n && !kept; j++)
            kept = nb[j].flap == s->b[k].flap;
        if (!kept)
            free(s->b[k].flap);
    }
    free(s->b);
    s->b = nb;
    s->nb = n;
    s->gen = al->gen;
    prepare_models(al, s);
    for (uint32_t k = 0; k < s->nb; k++) /* a leak the replayed history shows, not raised yet */
        if (s->b[k].core.kind == RULE_NIGHTMIN && s->b[k].st.active && !s->b[k].open)
            transition(al, s, &s->b[k], RULE_RAISE, s->b[k].st.raised_at);
    if (series_ticks(s))
        tick_add(al, s);
}

/* Where s's entity is now: its latest stored position (the positions a band settles do not
** reach the engine), else the last one the engine saw, or an area series' centre. 0: none. */
static int entity_position(struct alerts *al, struct series *s, double lonlat[2])
{
    struct series *w = series_whole(al, s);
    uint32_t loc = s->loc_sid ? s->loc_sid : w->loc_sid;
    if (loc && stored_position(al, loc, lonlat))
        return 1;
    const struct series *x = s->has_loc ? s : w;
    if (!x->has_loc)
        return 0;
    memcpy(lonlat, x->lonlat, 2 * sizeof(double));
    return 1;
}

/* Record a transition of b at t; returns the number of transitions within the flapping window
** (this one included). */
static uint32_t flap_note(struct alerts *al, struct binding *b, int64_t t)
{
    if (!b->flap)
        b->flap = vg_calloc(1, sizeof(*b->flap));
    struct flap *f = b->flap;
    f->at[f->n++ % FLAP_MAX] = t;
    uint32_t held = f->n < FLAP_MAX ? f->n : FLAP_MAX, in = 0;
    for (uint32_t i = 0; i < held; i++)
        in += t - f->at[i] <= al->policy.flap_window_ms;
    return in;
}

/* A binding's transition at t (the value's time, or the tick's): raise a new alert or resolve
** its open one. A binding that changes state flap_count times within flap_window_ms is flapping:
** its alert stays open (marked "flapping", announced once) and new raisings fold into it, until
** the condition has stayed clear for a whole window (alerts_tick resolves it then). */
static void transition(struct alerts *al, struct series *s, struct binding *b, enum rule_event ev,
                       int64_t t)
{
    int64_t now = clock_now_ms();
    uint32_t recent = al->policy.flap_count ? flap_note(al, b, t) : 0;
    if (ev == RULE_RAISE && b->open) { /* held open by flapping: fold in */
        struct alert *a = b->open;
        a->value = b->st.trigger_value;
        a->updated_at = now;
        alert_store(al, a, NULL);
    } else if (ev == RULE_RAISE) {
        struct alert *a = vg_calloc(1, sizeof(*a));
        a->id = al->next_id;
        snprintf(a->tenant, sizeof(a->tenant), "%s", s->tenant);
        snprintf(a->rule, sizeof(a->rule), "%s", b->rule->r.id);
        snprintf(a->kind, sizeof(a->kind), "%s", rule_kind_name(b->rule->r.kind));
        a->severity = b->rule->r.severity;
        a->entity = vg_strdup(s->entity);
        a->type = vg_strdup(s->type);
        a->attr = vg_strdup(s->attr);
        char msg[600];
        rule_message(&b->rule->r, &b->st, s->entity, s->attr, msg, sizeof(msg));
        a->message = vg_strdup(msg);
        a->value = b->st.trigger_value;
        a->has_loc = entity_position(al, s, a->lonlat);
        a->raised_at = b->st.raised_at ? b->st.raised_at : t;
        a->created_at = a->updated_at = now;
        a->state = AS_OPEN;
        alerts_push(al, a);
        b->open = a;
        alert_store(al, a, "raised");
        atomic_fetch_add(&al->raised, 1);
    } else if (ev == RULE_CLEAR && b->open) {
        struct alert *a = b->open;
        if (al->policy.flap_count && recent >= al->policy.flap_count) {
            if (!a->flapping) {
                a->flapping = 1;
                tick_add(al, s); /* the tick ends it */
                a->updated_at = now;
                alert_store(al, a, "flapping");
                atomic_fetch_add(&al->flapping, 1);
            }
            return;
        }
        mark_resolved(al, a, "auto", now);
        b->open = NULL;
    }
}

/* Forecast rules: once per completed step of the model, does the forecast cross the rule's
** value within its horizon? */
static enum rule_event forecast_check(struct series *s, struct binding *b, int64_t ts)
{
    if (!s->hw || !hw_ready(s->hw) || hw_next_ts(s->hw) == b->fc_step)
        return RULE_NONE;
    b->fc_step = hw_next_ts(s->hw);
    const struct rule *r = &b->rule->r;
    uint32_t n = (uint32_t)VG_MIN((r->horizon_ms + FC_STEP_MS - 1) / FC_STEP_MS, 24 * 31);
    int64_t t[24 * 31];
    double pt[24 * 31], lo[24 * 31], hi[24 * 31];
    n = hw_forecast(s->hw, n, 0.95, t, pt, lo, hi);
    int above = r->op == RULE_OP_GT || r->op == RULE_OP_GE;
    const double *x = !r->upper ? pt : above ? hi : lo;
    int crosses = 0;
    int64_t at = 0;
    double peak = NAN;
    for (uint32_t i = 0; i < n; i++) {
        if (!crosses && rule_op_holds(r->op, x[i], r->raise)) {
            crosses = 1;
            at = t[i];
        }
        if (isnan(peak) || (above ? x[i] > peak : x[i] < peak))
            peak = x[i];
    }
    return rule_on_forecast(r, &b->st, ts, crosses, at, peak);
}

/* The series of a composite rule: the area's own (entity = the rule's id, at the area's centre),
** not in the hash, with its one binding; an alert it left open is taken back. */
static struct series *area_series(struct alerts *al, struct arule *ar)
{
    if (ar->area)
        return ar->area;
    struct series *s = vg_calloc_aligned(_Alignof(struct series), sizeof(*s));
    s->is_area = 1;
    s->tenant = vg_strdup(ar->tenant);
    s->entity = vg_strdup(ar->r.id);
    s->type = vg_strdup("Area");
    s->attr = vg_strdup("");
    for (uint32_t i = 0; i < ar->r.npoly; i++) { /* the mean of the vertices */
        s->lonlat[0] += ar->r.poly[2 * i] / ar->r.npoly;
        s->lonlat[1] += ar->r.poly[2 * i + 1] / ar->r.npoly;
    }
    s->has_loc = ar->r.npoly > 0;
    s->b = vg_calloc_aligned(_Alignof(struct binding), sizeof(*s->b));
    s->nb = 1;
    s->b[0].rule = ar;
    s->b[0].version = ar->version;
    s->b[0].core = ar->r.core;
    for (uint32_t k = al->nalerts; k-- > 0;) {
        struct alert *a = al->alerts[k];
        if (a->state != AS_RESOLVED && !strcmp(a->rule, ar->r.id) &&
            !strcmp(a->tenant, ar->tenant) && !strcmp(a->entity, ar->r.id)) {
            s->b[0].open = a;
            s->b[0].st.active = 1;
            s->b[0].st.raised_at = a->raised_at;
            s->b[0].st.trigger_value = a->value;
            break;
        }
    }
    ar->area = s;
    return s;
}

/* Composite rules: a value of one of the clauses' series in the area. */
static void composite_feed(struct alerts *al, struct series *s, struct arule *ar, int64_t ts,
                           double v)
{
    const struct rule *r = &ar->r;
    for (int i = rule_clause_index(r, s->type, s->attr, 0); i >= 0;
         i = rule_clause_index(r, s->type, s->attr, i + 1))
        if (rule_clause_holds(&r->clauses[i], v) && ts > ar->last_true[i])
            ar->last_true[i] = ts;
    struct series *as = area_series(al, ar);
    enum rule_event ev = rule_on_composite(r, &as->b[0].st, ts, ar->last_true);
    if (ev)
        transition(al, as, &as->b[0], ev, ts);
}

/* Stale rules "after":"cadence": the delay from the cadence of the value's source (0 = unknown:
** the delay stays as it was). */
static void cadence_apply(struct binding *b, int64_t cadence)
{
    if (cadence > 0 && b->core.kind == RULE_STALE && b->rule->r.cadence_factor > 0)
        b->core.after_ms = (int64_t)(b->rule->r.cadence_factor * (double)cadence);
}

/* Evaluate the value on s's rules; returns the number of evaluations. cadence: the declared
** cadence of the source that delivered the value (0 = unknown): stale rules "after":"cadence"
** take their delay from it. */
static uint32_t eval(struct alerts *al, struct series *s, int64_t ts, double v, int64_t cadence)
{
    if (s->gen != al->gen)
        bind(al, s);
    if (s->hw)
        hw_add(s->hw, ts, v);
    /* anomaly rules score the mean of each completed hour (the baseline's own granularity: a
    ** raw value would be compared with the spread of hourly means) */
    int hour_scored = 0;
    double hour_mean = 0, hour_score = NAN;
    int64_t hour_ts = 0;
    if (s->bl) {
        int64_t h = clock_floor_div(ts, FC_STEP_MS);
        if (s->an_n && h > s->an_hour) {
            hour_mean = s->an_sum / s->an_n;
            hour_ts = s->an_hour * FC_STEP_MS;
            double median, mad;
            hour_scored = !baseline_score(s->bl, hour_ts, hour_mean, &hour_score, &median, &mad);
        }
        if (!s->an_n || h > s->an_hour) {
            s->an_hour = h;
            s->an_sum = 0;
            s->an_n = 0;
        }
        if (h == s->an_hour && isfinite(v)) {
            s->an_sum += v;
            s->an_n++;
        }
    }
    for (uint32_t k = 0; k < s->nb; k++) {
        struct binding *b = &s->b[k];
        enum rule_event ev;
        cadence_apply(b, cadence);
        if (b->core.kind <= RULE_RATE) { /* threshold, stale, stuck, rate: the copy suffices */
            ev = rule_on_core(&b->core, &b->st, ts, v);
            if (ev)
                transition(al, s, b, ev, ts);
            continue;
        }
        const struct rule *r = &b->rule->r;
        switch (r->kind) {
        case RULE_ANOMALY: /* the hour just completed, against the baseline before it enters */
            ev = hour_scored ? rule_on_score(r, &b->st, hour_ts, hour_mean, hour_score)
                             : RULE_NONE;
            break;
        case RULE_FORECAST:
            ev = forecast_check(s, b, ts);
            break;
        case RULE_COMPOSITE:
            composite_feed(al, s, b->rule, ts, v);
            ev = RULE_NONE;
            break;
        default:
            ev = rule_on_value(r, &b->st, ts, v);
        }
        if (ev)
            transition(al, s, b, ev, ts);
    }
    if (s->bl)
        baseline_add(s->bl, ts, v);
    return s->nb;
}

/* A position of s's entity (s: its "location" series): dwell rules. */
static uint32_t eval_position(struct alerts *al, struct series *s, int64_t ts, double lon,
                              double lat, int64_t cadence)
{
    if (s->gen != al->gen)
        bind(al, s);
    s->lonlat[0] = lon;
    s->lonlat[1] = lat;
    s->has_loc = 1;
    for (uint32_t k = 0; k < s->nb; k++) {
        struct binding *b = &s->b[k];
        const struct rule *r = &b->rule->r;
        cadence_apply(b, cadence);
        enum rule_event ev = r->kind == RULE_STALE ? rule_on_value(r, &b->st, ts, 0) /* alive */
                                                    : rule_on_position(r, &b->st, ts, lon, lat);
        if (ev)
            transition(al, s, b, ev, ts);
    }
    return s->nb;
}

/* Under the mutex, before a batch of values: a change of rules voids every band. */
static void values_begin(struct alerts *al)
{
    pthread_mutex_lock(&al->mu);
    if (al->quiet_gen != al->gen) {
        for (uint32_t i = 0; i < al->capsid; i++)
            quiet_close(&al->quiet[i]);
        al->quiet_gen = al->gen;
    }
}

/* The cadence declared for source (stale rules "after":"cadence"), 0 if none or no such rule. */
static int64_t source_cadence(struct alerts *al, const char *source)
{
    return al->cadence_rules && al->sources && source ? sources_cadence(al->sources, source) : 0;
}

/* A value of s that is not a number (a string): only its stale rules see it, as a sign of life. */
static uint32_t eval_alive(struct alerts *al, struct series *s, int64_t ts, int64_t cadence)
{
    if (s->gen != al->gen)
        bind(al, s);
    uint32_t n = 0;
    for (uint32_t k = 0; k < s->nb; k++) {
        struct binding *b = &s->b[k];
        if (b->core.kind != RULE_STALE)
            continue;
        cadence_apply(b, cadence);
        enum rule_event ev = rule_on_core(&b->core, &b->st, ts, 0);
        if (ev)
            transition(al, s, b, ev, ts);
        n++;
    }
    return n;
}

/* Evaluates value u of series s (its band did not settle it); returns the evaluations. */
static uint64_t eval_value(struct alerts *al, struct series *s, const struct ingest_update *u,
                           int64_t cadence)
{
    uint64_t evals = 0;
    switch (u->vt) {
    case VT_F64:
    case VT_I64:
    case VT_BOOL: break;
    case VT_GEO: {
        /* dwell rules; later bindings (area rules) see where the entity is now */
        quiet_sync(al, s);
        evals += eval_position(al, s, u->ts, u->v.geo.lon, u->v.geo.lat, cadence);
        struct series *w = series_whole(al, s);
        w->lonlat[0] = u->v.geo.lon;
        w->lonlat[1] = u->v.geo.lat;
        w->has_loc = 1;
        if (s->sid)
            s->loc_sid = w->loc_sid = s->sid;
        if (al->entity_rules) /* a position proves the entity alive (staleness) */
            evals += eval(al, w, u->ts, 0, cadence);
        quiet_update(al, s);
        return evals;
    }
    default: /* a string value proves the series (its stale rules) and the entity alive */
        quiet_sync(al, s);
        evals += eval_alive(al, s, u->ts, cadence);
        if (al->entity_rules)
            evals += eval(al, series_whole(al, s), u->ts, 0, cadence);
        quiet_update(al, s);
        return evals;
    }
    if (s->unit) /* unit codes */
        return evals;
    double x = value_number(u->vt, &u->v);
    quiet_sync(al, s);
    evals += eval(al, s, u->ts, x, cadence);
    if (al->entity_rules)
        evals += eval(al, series_whole(al, s), u->ts, x, cadence);
    quiet_update(al, s);
    return evals;
}

void alerts_on_points(struct alerts *al, const char *tenant, const char *source,
                      const struct store_point *p, size_t n)
{
    if (!alerts_active(al))
        return;
    uint64_t evals = 0, settled = 0;
    values_begin(al);
    int64_t cadence = source_cadence(al, source);
    /* A batch visits many series once each, whose series and bindings are not in the cache: for
    ** the values their band will not settle (as far as it can tell now), fetch the series and
    ** its bindings' first two lines AHEAD values ahead. */
    enum { AHEAD = 32 };
    for (size_t i = 0; i < n; i++) {
        if (i + AHEAD < n && !quiet_settles(al, &p[i + AHEAD])) {
            uint32_t fs = p[i + AHEAD].sid; /* < capsid: quiet_settles */
            const struct binding *fb = al->quiet[fs].b;
            __builtin_prefetch(al->by_sid[fs]);
            if (fb) {
                __builtin_prefetch(fb);
                __builtin_prefetch((const char *)fb + 64);
            }
        }
        uint32_t sid = p[i].sid;
        if (sid < al->capsid) { /* settled by the series' quiet band */
            struct quiet *q = &al->quiet[sid];
            if (quiet_covers(q, &p[i].v)) {
                if (p[i].ts > q->ts)
                    q->ts = p[i].ts;
                evals += q->nb;
                settled++;
                continue;
            }
        }
        struct series *s = series_by_sid(al, tenant, sid);
        if (!s) /* retired while its value was on the way */
            continue;
        struct ingest_update u = {.v = p[i].v, .ts = p[i].ts, .sid = sid, .vt = s->vt,
                                  .source = source};
        evals += eval_value(al, s, &u, cadence);
    }
    flush_unlock(al);
    atomic_fetch_add(&al->evaluations, evals);
    atomic_fetch_add(&al->settled, settled);
}

void alerts_on_values(struct alerts *al, const char *tenant, const struct ingest_update *v,
                      uint32_t n)
{
    if (!alerts_active(al))
        return;
    uint64_t evals = 0;
    values_begin(al);
    const char *source = NULL; /* the cadence of the values' source, looked up when it changes */
    int64_t cadence = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (v[i].source != source) {
            source = v[i].source;
            cadence = source_cadence(al, source);
        }
        evals += eval_value(al, series_of(al, tenant, &v[i]), &v[i], cadence);
    }
    flush_unlock(al);
    atomic_fetch_add(&al->evaluations, evals);
}

/* Open alerts nobody acknowledged for escalate_after_ms go up one severity level, and again
** after each further delay, up to critical ("escalated"). */
static void escalate(struct alerts *al, int64_t now)
{
    int64_t d = al->policy.escalate_after_ms;
    while (al->open_lo < al->nalerts && al->alerts[al->open_lo]->state == AS_RESOLVED)
        al->open_lo++;
    if (d <= 0)
        return;
    for (uint32_t i = al->open_lo; i < al->nalerts; i++) {
        struct alert *a = al->alerts[i];
        if (a->state != AS_OPEN || a->severity >= SEV_CRITICAL ||
            now - a->created_at < d * (int64_t)(a->escalations + 1))
            continue;
        a->severity++;
        a->escalations++;
        a->escalated_at = a->updated_at = now;
        alert_store(al, a, "escalated");
        atomic_fetch_add(&al->escalated, 1);
    }
}

/* A flapping alert of b clear for a whole window is over. */
static void flap_end(struct alerts *al, struct binding *b, int64_t now_ms)
{
    struct alert *a = b->open;
    if (a && a->flapping && !b->st.active && b->flap &&
        now_ms - b->flap->at[(b->flap->n - 1) % FLAP_MAX] >= al->policy.flap_window_ms) {
        mark_resolved(al, a, "auto", clock_now_ms());
        b->open = NULL;
    }
}

void alerts_tick(struct alerts *al, int64_t now_ms)
{
    if (!alerts_active(al))
        return;
    pthread_mutex_lock(&al->mu);
    if (al->tick_gen != al->gen) { /* the rules changed: every series binds again (a new stale
                                      rule watches the silent ones too), the list with them */
        for (uint32_t j = 0; j < al->nticking; j++)
            al->ticking[j]->in_tick = 0;
        al->nticking = 0;
        /* a copy: binding may add series (an alert's whole-entity series) and move slots */
        uint32_t ns = 0, cap = al->capslots;
        struct series **all = vg_malloc((cap ? cap : 1) * sizeof(*all));
        for (uint32_t i = 0; i < cap; i++)
            if (al->slots[i])
                all[ns++] = al->slots[i];
        for (uint32_t i = 0; i < ns; i++) {
            struct series *s = all[i];
            if (s->gen != al->gen)
                bind(al, s); /* adds s if it ticks */
            else if (series_ticks(s))
                tick_add(al, s);
        }
        free(all);
        al->tick_gen = al->gen;
    }
    for (uint32_t j = 0; j < al->nticking; j++) {
        struct series *s = al->ticking[j];
        for (uint32_t k = 0; k < s->nb; k++) {
            struct binding *b = &s->b[k];
            flap_end(al, b, now_ms);
            enum rule_kind kind = b->core.kind;
            if (kind != RULE_STALE && kind != RULE_NIGHTMIN && kind != RULE_DWELL)
                continue;
            enum rule_event ev = kind == RULE_STALE ? rule_on_tick_core(&b->core, &b->st, now_ms)
                                                    : rule_on_tick(&b->rule->r, &b->st, now_ms);
            if (ev)
                transition(al, s, b, ev, now_ms);
        }
    }
    for (uint32_t i = 0; al->composite_rules && i < al->nrules; i++) { /* composites: a clause
                                                                           that stopped holding */
        struct arule *ar = al->rules[i];
        if (ar->r.kind != RULE_COMPOSITE || !ar->area)
            continue;
        struct binding *b = &ar->area->b[0];
        flap_end(al, b, now_ms);
        enum rule_event ev = rule_on_composite(&ar->r, &b->st, now_ms, ar->last_true);
        if (ev)
            transition(al, ar->area, b, ev, now_ms);
    }
    escalate(al, now_ms);
    flush_unlock(al);
}

/* ---- forecasts -------------------------------------------------------------------------------- */

int alerts_forecast(struct alerts *al, const char *tenant, const char *entity, const char *attr,
                    int64_t horizon_ms, double level, struct buf *out)
{
    struct fc_find f = {0, VT_F64, ""};
    struct catalog_sel sel = {tenant, NULL, entity, attr, NULL, 0};
    catalog_select(al->cat, &sel, fc_row, &f);
    if (!f.sid)
        return VG_ENOENT;
    if (f.vt != VT_F64 && f.vt != VT_I64)
        return VG_ETYPE;
    int64_t now = clock_now_ms();
    pthread_mutex_lock(&al->mu);
    struct ingest_update u = {.entity = entity, .type = f.type, .attr = attr,
        .vt = f.vt, .v = {.f = 0}, .ts = now, .sid = f.sid, .source = NULL};
    struct series *s = series_of(al, tenant, &u);
    int cached = s->hw != NULL;
    pthread_mutex_unlock(&al->mu);
    struct hw *fresh = NULL;
    if (!cached) /* the first request: from the history, then kept up to date by each value */
        fresh = model_from_history(al, f.sid, now);
    pthread_mutex_lock(&al->mu);
    if (fresh && !s->hw && al->nmodels < FC_MAX_MODELS) {
        s->hw = fresh;
        fresh = NULL;
        if (s->sid && s->sid < al->capsid) /* every value feeds the model from now on */
            quiet_close(&al->quiet[s->sid]);
        __atomic_add_fetch(&al->nmodels, 1, __ATOMIC_RELAXED);
    }
    struct hw *m = s->hw ? s->hw : fresh; /* beyond FC_MAX_MODELS: this request's own */
    hw_advance(m, now - now % FC_STEP_MS);
    uint32_t n = (uint32_t)((horizon_ms + FC_STEP_MS - 1) / FC_STEP_MS);
    int64_t *t = vg_malloc(n * sizeof(*t));
    double *pt = vg_malloc(n * 3 * sizeof(*pt)), *lo = pt + n, *hi = pt + 2 * n;
    uint32_t got = hw_forecast(m, n, level, t, pt, lo, hi);
    const char *method = hw_method(m), *seasons = hw_seasons(m); /* static strings */
    pthread_mutex_unlock(&al->mu);
    hw_free(fresh);
    buf_puts(out, "{\"id\":");
    buf_json_str(out, entity, strlen(entity));
    buf_puts(out, ",\"attr\":");
    buf_json_str(out, attr, strlen(attr));
    buf_printf(out, ",\"model\":\"%s\",\"seasons\":\"%s\",\"step\":\"1h\","
                    "\"level\":%g,\"points\":[",
               method ? method : "holt-winters", seasons ? seasons : "daily", level);
    for (uint32_t i = 0; i < got; i++) {
        char ts[40];
        clock_format_rfc3339(t[i], ts, sizeof(ts));
        buf_printf(out, "%s{\"at\":\"%s\",\"value\":%.6g,\"lower\":%.6g,\"upper\":%.6g}",
                   i ? "," : "", ts, pt[i], lo[i], hi[i]);
    }
    buf_putc(out, ']');
    if (!got)
        buf_puts(out, ",\"reason\":\"not enough history: a forecast needs two days of hourly "
                      "values (two weeks for the weekly season)\"");
    buf_puts(out, "}\n");
    free(t);
    free(pt);
    return VG_OK;
}

/* ---- alerts ----------------------------------------------------------------------------------- */

int alerts_list_json(struct alerts *al, const char *tenant, const struct alerts_filter *f,
                     struct buf *out)
{
    uint32_t limit = f->limit ? f->limit : 1000;
    json_t *arr = json_array();
    uint64_t total = 0;
    pthread_mutex_lock(&al->mu);
    for (uint32_t i = al->nalerts; i-- > 0;) {
        const struct alert *a = al->alerts[i];
        if (strcmp(a->tenant, tenant))
            continue;
        if (f->state) {
            int open = a->state != AS_RESOLVED;
            if (!strcmp(f->state, "open") ? !open : strcmp(f->state, state_names[a->state]))
                continue;
        }
        if (f->severity && strcmp(f->severity, rule_severity_name(a->severity)))
            continue;
        if (f->type && strcmp(f->type, a->type))
            continue;
        if (f->rule && strcmp(f->rule, a->rule))
            continue;
        if (f->since && a->raised_at < f->since)
            continue;
        if (total++ < limit)
            json_array_append_new(arr, alert_json(a));
    }
    pthread_mutex_unlock(&al->mu);
    json_t *o = json_object();
    json_object_set_new(o, "total", json_integer((json_int_t)total));
    json_object_set_new(o, "alerts", arr);
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(12));
    json_decref(o);
    buf_puts(out, s);
    buf_putc(out, '\n');
    free(s);
    return VG_OK;
}

static int by_hand(struct alerts *al, const char *tenant, const char *id, const char *by,
                   const char *comment, int resolve, struct buf *out, char *err, size_t errcap)
{
    char *end;
    long long n = strtoll(id, &end, 10);
    if (*end || n <= 0)
        return vg_errf(err, errcap, VG_ENOENT, "no alert '%s'", id);
    pthread_mutex_lock(&al->mu);
    struct alert *a = alert_find(al, tenant, n);
    int rc = VG_OK;
    if (!a)
        rc = vg_errf(err, errcap, VG_ENOENT, "no alert '%s'", id);
    else if (a->state == AS_RESOLVED)
        rc = vg_errf(err, errcap, VG_EINVAL, "alert %s is resolved already", id);
    else if (!resolve && a->state == AS_ACKED)
        rc = vg_errf(err, errcap, VG_EINVAL, "alert %s is acknowledged already", id);
    if (!rc) {
        int64_t now = clock_now_ms();
        if (comment) { /* before the change is stored and announced */
            free(a->comment);
            a->comment = vg_strdup(comment);
        }
        if (resolve) {
            mark_resolved(al, a, by, now);
            /* the binding keeps its state active: no new alert until the condition clears */
            for (uint32_t i = 0; i < al->capslots; i++) {
                struct series *s = al->slots[i];
                for (uint32_t k = 0; s && k < s->nb; k++)
                    if (s->b[k].open == a)
                        s->b[k].open = NULL;
            }
        } else {
            a->state = AS_ACKED;
            a->acked_at = now;
            free(a->acked_by);
            a->acked_by = vg_strdup(by);
            a->updated_at = now;
            alert_store(al, a, "acknowledged");
        }
        buf_puts(out, al->pend_chg[al->npend - 1].json); /* the document just queued */
        buf_putc(out, '\n');
        rc = flush_unlock(al);
        if (rc)
            vg_putf(err, errcap, "cannot store the alert: %s", vg_strerror(rc));
        return rc;
    }
    pthread_mutex_unlock(&al->mu);
    return rc;
}

int alerts_ack(struct alerts *al, const char *tenant, const char *id, const char *by,
               const char *comment, struct buf *out, char *err, size_t errcap)
{
    return by_hand(al, tenant, id, by, comment, 0, out, err, errcap);
}

int alerts_resolve(struct alerts *al, const char *tenant, const char *id, const char *by,
                   const char *comment, struct buf *out, char *err, size_t errcap)
{
    return by_hand(al, tenant, id, by, comment, 1, out, err, errcap);
}

void alerts_get_stats(struct alerts *al, struct alerts_stats *st)
{
    pthread_mutex_lock(&al->mu);
    st->rules = al->nrules;
    st->open = 0;
    for (uint32_t i = 0; i < al->nalerts; i++)
        st->open += al->alerts[i]->state != AS_RESOLVED;
    pthread_mutex_unlock(&al->mu);
    st->raised = atomic_load(&al->raised);
    st->resolved = atomic_load(&al->resolved);
    st->evaluations = atomic_load(&al->evaluations);
    st->settled = atomic_load(&al->settled);
    st->escalated = atomic_load(&al->escalated);
    st->flapping = atomic_load(&al->flapping);
}

/* ---- life cycle ------------------------------------------------------------------------------- */

static int load_rule(void *arg, const struct meta_doc_row *row)
{
    struct alerts *al = arg;
    struct arule *ar = vg_calloc(1, sizeof(*ar));
    char err[256];
    if (rule_parse(row->doc, row->len, &ar->r, err, sizeof(err))) {
        log_error("alerts: stored rule '%s' of tenant '%s' is refused (%s); it is not evaluated",
                  row->id, row->tenant, err);
        free(ar);
        return 0;
    }
    snprintf(ar->tenant, sizeof(ar->tenant), "%s", row->tenant);
    ar->json = rule_to_json(&ar->r);
    ar->version = ++al->version;
    rules_append(al, ar);
    rule_count(al, ar, 1);
    return 0;
}

static int load_alert(void *arg, const struct meta_doc_row *row)
{
    struct alerts *al = arg;
    json_t *o = json_loadb(row->doc, row->len, 0, NULL);
    const char *id = json_string_value(json_object_get(o, "id"));
    if (!o || !id) {
        log_error("alerts: stored alert '%s' is unreadable; skipped", row->id);
        json_decref(o);
        return 0;
    }
    struct alert *a = vg_calloc(1, sizeof(*a));
    a->id = strtoll(id, NULL, 10);
    snprintf(a->tenant, sizeof(a->tenant), "%s", row->tenant);
    snprintf(a->rule, sizeof(a->rule), "%s", json_string_value(json_object_get(o, "rule")) ?: "");
    snprintf(a->kind, sizeof(a->kind), "%s", json_string_value(json_object_get(o, "kind")) ?: "");
    const char *sev = json_string_value(json_object_get(o, "severity"));
    for (int s = SEV_INFORMATIONAL; s <= SEV_CRITICAL; s++)
        if (sev && !strcmp(sev, rule_severity_name(s)))
            a->severity = s;
    const char *state = json_string_value(json_object_get(o, "state")) ?: "resolved";
    a->state = !strcmp(state, "open") ? AS_OPEN : !strcmp(state, "acknowledged") ? AS_ACKED
                                                                                 : AS_RESOLVED;
    a->entity = vg_strdup(json_string_value(json_object_get(o, "entity")) ?: "");
    a->type = vg_strdup(json_string_value(json_object_get(o, "type")) ?: "");
    a->attr = vg_strdup(json_string_value(json_object_get(o, "attr")) ?: "");
    a->message = vg_strdup(json_string_value(json_object_get(o, "message")) ?: "");
    const json_t *val = json_object_get(o, "value");
    a->value = json_is_number(val) ? json_number_value(val) : NAN;
    a->raised_at = get_time(o, "raisedAt");
    a->updated_at = get_time(o, "updatedAt");
    a->acked_at = get_time(o, "acknowledgedAt");
    a->resolved_at = get_time(o, "resolvedAt");
    a->created_at = get_time(o, "createdAt");
    a->escalated_at = get_time(o, "escalatedAt");
    a->escalations = (uint32_t)json_integer_value(json_object_get(o, "escalations"));
    a->flapping = json_is_true(json_object_get(o, "flapping"));
    const json_t *loc = json_object_get(o, "location");
    if (json_array_size(loc) == 2) {
        a->has_loc = 1;
        a->lonlat[0] = json_number_value(json_array_get(loc, 0));
        a->lonlat[1] = json_number_value(json_array_get(loc, 1));
    }
    a->acked_by = dup_or_null(json_string_value(json_object_get(o, "acknowledgedBy")));
    a->resolved_by = dup_or_null(json_string_value(json_object_get(o, "resolvedBy")));
    a->comment = dup_or_null(json_string_value(json_object_get(o, "comment")));
    json_decref(o);
    alerts_push(al, a);
    return 0;
}

static int alert_cmp(const void *x, const void *y)
{
    int64_t a = (*(struct alert *const *)x)->id, b = (*(struct alert *const *)y)->id;
    return (a > b) - (a < b);
}

void alerts_set_listener(struct alerts *al, const struct alerts_listener *l)
{
    pthread_mutex_lock(&al->mu);
    al->listener = *l;
    pthread_mutex_unlock(&al->mu);
}

void alerts_set_sources(struct alerts *al, struct sources *src)
{
    pthread_mutex_lock(&al->mu);
    al->sources = src;
    pthread_mutex_unlock(&al->mu);
}

void alerts_set_policy(struct alerts *al, const struct alerts_policy *p)
{
    pthread_mutex_lock(&al->mu);
    al->policy = *p;
    if (al->policy.flap_count > FLAP_MAX)
        al->policy.flap_count = FLAP_MAX;
    pthread_mutex_unlock(&al->mu);
}

int alerts_open(struct meta *m, struct catalog *cat, struct store *st, struct alerts **out)
{
    struct alerts *al = vg_calloc(1, sizeof(*al));
    al->policy = (struct alerts_policy){ALERTS_ESCALATE_MS, ALERTS_FLAP_WINDOW_MS,
                                        ALERTS_FLAP_COUNT};
    pthread_mutex_init(&al->deliver_mu, NULL);
    al->meta = m;
    al->cat = cat;
    al->st = st;
    al->next_id = 1;
    pthread_mutex_init(&al->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&al->cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = meta_docs_load(m, "rule", load_rule, al);
    if (!rc)
        rc = meta_docs_load(m, "alert", load_alert, al);
    if (rc) {
        alerts_free(al);
        return rc;
    }
    /* documents come in (tenant, id) order: one id order for the lookups */
    if (al->nalerts)
        qsort(al->alerts, al->nalerts, sizeof(*al->alerts), alert_cmp);
    rules_changed(al);
    *out = al;
    return VG_OK;
}

static void *tick_main(void *arg)
{
    struct alerts *al = arg;
    pthread_mutex_lock(&al->mu);
    while (!al->stopping) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        t.tv_sec += al->tick_ms / 1000;
        t.tv_nsec += (long)(al->tick_ms % 1000) * 1000000L;
        if (t.tv_nsec >= 1000000000L) {
            t.tv_sec++;
            t.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&al->cv, &al->mu, &t);
        if (al->stopping)
            break;
        pthread_mutex_unlock(&al->mu);
        alerts_tick(al, clock_now_ms());
        pthread_mutex_lock(&al->mu);
    }
    pthread_mutex_unlock(&al->mu);
    return NULL;
}

int alerts_start(struct alerts *al, uint32_t tick_ms)
{
    al->tick_ms = tick_ms ? tick_ms : 1000;
    if (pthread_create(&al->thread, NULL, tick_main, al))
        return VG_EIO;
    al->running = 1;
    return VG_OK;
}

void alerts_free(struct alerts *al)
{
    if (!al)
        return;
    if (al->running) {
        pthread_mutex_lock(&al->mu);
        al->stopping = 1;
        pthread_cond_broadcast(&al->cv);
        pthread_mutex_unlock(&al->mu);
        pthread_join(al->thread, NULL);
    }
    for (uint32_t i = 0; i < al->capslots; i++)
        series_free(al->slots[i]);
    free(al->slots);
    free(al->by_sid);
    free(al->quiet);
    flush(al);
    free(al->pend);
    free(al->pend_ids);
    free(al->pend_chg);
    changes_free(al->notes, al->nnotes);
    for (uint32_t i = 0; i < al->nrules; i++)
        arule_free(al->rules[i]);
    free(al->rules);
    free(al->by_id);
    free(al->ticking);
    idx_free(al);
    for (uint32_t i = 0; i < al->nalerts; i++)
        alert_free(al->alerts[i]);
    free(al->alerts);
    pthread_cond_destroy(&al->cv);
    pthread_mutex_destroy(&al->mu);
    pthread_mutex_destroy(&al->deliver_mu);
    free(al);
}
