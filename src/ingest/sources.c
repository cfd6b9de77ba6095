/*
** ingest/sources.c: the source registry (see sources.h).
** Owns: the table of sources (a sorted array of pointers: lookups by binary search under the
** mutex; at most SOURCES_MAX entries, each allocated once and kept until sources_free) and the
** key-label bindings.
*/
#include "ingest/sources.h"

#include "core/clock.h"
#include "core/vg.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SOURCES_MAX_BINDINGS 1024

struct source {
    char name[SOURCE_NAME_MAX + 1];
    char tenant[64];
    char owner[128];
    enum source_kind kind;
    int64_t cadence_ms;
    int64_t created_ms;
    atomic_uint_fast64_t received, stored, quarantined, errors;
    atomic_int_fast64_t last_seen_ms, last_error_ms;
    atomic_int connected;
    char last_error[256]; /* under the registry mutex */
    struct sources *reg;
};

struct binding {
    char label[128];
    char source[SOURCE_NAME_MAX + 1];
};

struct sources {
    pthread_mutex_t mu;
    struct source **tab; /* sorted by name */
    uint32_t n, cap;
    struct binding *bind;
    uint32_t nbind;
};

int sources_new(struct sources **out)
{
    struct sources *r = vg_calloc(1, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    *out = r;
    return VG_OK;
}

void sources_free(struct sources *r)
{
    if (!r)
        return;
    for (uint32_t i = 0; i < r->n; i++)
        free(r->tab[i]);
    free(r->tab);
    free(r->bind);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* Index of name in the table, or -(insertion point) - 1. Caller holds mu. */
static long find(const struct sources *r, const char *name)
{
    uint32_t lo = 0, hi = r->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(r->tab[mid]->name, name);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -(long)lo - 1;
}

static int name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > SOURCE_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return 0;
    return 1;
}

/* Insert a new source at position pos. Caller holds mu. */
static struct source *insert(struct sources *r, uint32_t pos, const char *name,
                             enum source_kind kind, const char *tenant)
{
    if (r->n == SOURCES_MAX)
        return NULL;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->tab = vg_realloc(r->tab, r->cap * sizeof(*r->tab));
    }
    struct source *s = vg_calloc(1, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s", name);
    snprintf(s->tenant, sizeof(s->tenant), "%s", tenant ? tenant : "");
    s->kind = kind;
    s->created_ms = clock_now_ms();
    atomic_store(&s->connected, -1);
    s->reg = r;
    memmove(r->tab + pos + 1, r->tab + pos, (r->n - pos) * sizeof(*r->tab));
    r->tab[pos] = s;
    r->n++;
    return s;
}

int sources_declare(struct sources *r, const char *name, enum source_kind kind,
                    const char *tenant, const char *owner, int64_t cadence_ms,
                    struct source **out)
{
    if (!name_ok(name) || cadence_ms < 0)
        return VG_EINVAL;
    pthread_mutex_lock(&r->mu);
    long i = find(r, name);
    int rc = VG_OK;
    struct source *s = NULL;
    if (i >= 0)
        rc = VG_EEXIST;
    else if (!(s = insert(r, (uint32_t)(-i - 1), name, kind, tenant)))
        rc = VG_ETOOBIG;
    else {
        snprintf(s->owner, sizeof(s->owner), "%s", owner ? owner : "");
        s->cadence_ms = cadence_ms;
    }
    pthread_mutex_unlock(&r->mu);
    if (out)
        *out = s;
    return rc;
}

struct source *sources_get(struct sources *r, const char *name, enum source_kind kind,
                           const char *tenant)
{
    if (!r || !name_ok(name))
        return NULL;
    pthread_mutex_lock(&r->mu);
    long i = find(r, name);
    struct source *s = i >= 0 ? r->tab[i] : insert(r, (uint32_t)(-i - 1), name, kind, tenant);
    pthread_mutex_unlock(&r->mu);
    return s;
}

int64_t sources_cadence(struct sources *r, const char *name)
{
    if (!r || !name)
        return 0;
    pthread_mutex_lock(&r->mu);
    long i = find(r, name);
    int64_t c = i >= 0 ? r->tab[i]->cadence_ms : 0;
    pthread_mutex_unlock(&r->mu);
    return c;
}

int sources_bind(struct sources *r, const char *key, const char *source_name)
{
    if (!key || !*key || strlen(key) >= sizeof(r->bind[0].label) || !name_ok(source_name))
        return VG_EINVAL;
    pthread_mutex_lock(&r->mu);
    int rc = VG_OK;
    if (r->nbind == SOURCES_MAX_BINDINGS) {
        rc = VG_ETOOBIG;
    } else {
        r->bind = vg_realloc(r->bind, (r->nbind + 1) * sizeof(*r->bind));
        snprintf(r->bind[r->nbind].label, sizeof(r->bind[0].label), "%s", key);
        snprintf(r->bind[r->nbind].source, sizeof(r->bind[0].source), "%s", source_name);
        r->nbind++;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

void sources_resolve(struct sources *r, const char *key, const char *fallback, char *out,
                     size_t cap)
{
    if (r && key) {
        pthread_mutex_lock(&r->mu);
        for (uint32_t i = 0; i < r->nbind; i++) {
            if (strcmp(r->bind[i].label, key) == 0) {
                snprintf(out, cap, "%s", r->bind[i].source);
                pthread_mutex_unlock(&r->mu);
                return;
            }
        }
        pthread_mutex_unlock(&r->mu);
    }
    snprintf(out, cap, "%s", fallback);
}

void source_seen(struct source *s, uint64_t received, uint64_t stored, uint64_t quarantined,
                 int64_t now_ms)
{
    if (!s)
        return;
    atomic_fetch_add(&s->received, received);
    atomic_fetch_add(&s->stored, stored);
    atomic_fetch_add(&s->quarantined, quarantined);
    atomic_store(&s->last_seen_ms, now_ms);
}

void source_error(struct source *s, const char *msg, int64_t now_ms)
{
    if (!s)
        return;
    atomic_fetch_add(&s->errors, 1);
    atomic_store(&s->last_error_ms, now_ms);
    pthread_mutex_lock(&s->reg->mu);
    snprintf(s->last_error, sizeof(s->last_error), "%s", msg);
    pthread_mutex_unlock(&s->reg->mu);
}

void source_set_connected(struct source *s, int up)
{
    if (s)
        atomic_store(&s->connected, up ? 1 : 0);
}

const char *source_name(const struct source *s)
{
    return s ? s->name : "";
}

const char *source_kind_name(enum source_kind k)
{
    switch (k) {
    case SOURCE_HTTP: return "http";
    case SOURCE_MQTT: return "mqtt";
    case SOURCE_IMPORT: return "import";
    }
    return "unknown";
}

int sources_list(struct sources *r, const char *tenant, int64_t now_ms, sources_fn *fn,
                 void *arg)
{
    int rc = 0;
    pthread_mutex_lock(&r->mu);
    for (uint32_t i = 0; i < r->n && !rc; i++) {
        struct source *s = r->tab[i];
        if (tenant && strcmp(s->tenant, tenant) != 0)
            continue;
        struct source_info si;
        si.name = s->name;
        si.tenant = s->tenant;
        si.owner = s->owner;
        si.kind = s->kind;
        si.cadence_ms = s->cadence_ms;
        si.received = atomic_load(&s->received);
        si.stored = atomic_load(&s->stored);
        si.quarantined = atomic_load(&s->quarantined);
        si.errors = atomic_load(&s->errors);
        si.last_seen_ms = atomic_load(&s->last_seen_ms);
        si.last_error_ms = atomic_load(&s->last_error_ms);
        si.created_ms = s->created_ms;
        si.connected = atomic_load(&s->connected);
        memcpy(si.last_error, s->last_error, sizeof(si.last_error));
        int64_t since = si.last_seen_ms ? si.last_seen_ms : si.created_ms;
        si.stale = s->cadence_ms > 0 && now_ms - since > s->cadence_ms;
        rc = fn(arg, &si);
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}
