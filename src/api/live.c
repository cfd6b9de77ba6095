/*
** api/live.c: the live feed's ring of recent events and its readers (see live.h).
** Each event is one allocation: a header, then the NUL-terminated tenant, entity, type and
** attribute, then the event's JSON array text [id,type,attr,ts,value], written once at publish
** time so that a hundred readers only copy bytes.
*/
#include "api/live.h"

#include "api/api_int.h"

#include "core/clock.h"
#include "core/vg.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

struct live_ev {
    int alert; /* an alert's change (event: alert), else a value (event: m) */
    const char *tenant, *entity, *type, *attr;
    const char *json;
    uint32_t jlen;
    /* strings follow */
};

struct live {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct live_ev **ring; /* cap slots; event seq s lives in ring[s & (cap - 1)] */
    uint64_t cap;
    uint64_t head;         /* seq of the next event; events [head - cap, head) are held */
    int closed;
    atomic_uint readers;
    atomic_uint_fast64_t published, resets;
    char boot[17];
};

struct live *live_new(uint32_t capacity)
{
    struct live *lv = vg_calloc(1, sizeof(*lv));
    uint64_t cap = 1024;
    uint32_t want = capacity ? capacity : 65536;
    while (cap < want && cap < (1u << 24))
        cap <<= 1;
    lv->cap = cap;
    lv->ring = vg_calloc(cap, sizeof(*lv->ring));
    lv->head = 1;
    pthread_mutex_init(&lv->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&lv->cv, &ca);
    pthread_condattr_destroy(&ca);
    uint64_t r;
    randombytes_buf(&r, sizeof(r));
    snprintf(lv->boot, sizeof(lv->boot), "%016llx", (unsigned long long)r);
    return lv;
}

void live_free(struct live *lv)
{
    if (!lv)
        return;
    for (uint64_t i = 0; i < lv->cap; i++)
        free(lv->ring[i]);
    free(lv->ring);
    pthread_cond_destroy(&lv->cv);
    pthread_mutex_destroy(&lv->mu);
    free(lv);
}

void live_close(struct live *lv)
{
    pthread_mutex_lock(&lv->mu);
    lv->closed = 1;
    pthread_cond_broadcast(&lv->cv);
    pthread_mutex_unlock(&lv->mu);
}

int live_active(const struct live *lv)
{
    return lv && atomic_load(&((struct live *)lv)->readers) > 0;
}

const char *live_boot(const struct live *lv)
{
    return lv->boot;
}

/* One allocation: the header, the NUL-terminated strings, then the event's JSON. */
static struct live_ev *event_alloc(int alert, const char *tenant, const char *entity,
                                   const char *type, const char *attr, const struct buf *json)
{
    size_t lt = strlen(tenant) + 1, le = strlen(entity) + 1, ly = strlen(type) + 1,
           la = strlen(attr) + 1;
    struct live_ev *e = vg_malloc(sizeof(*e) + lt + le + ly + la + json->len + 1);
    e->alert = alert;
    char *s = (char *)(e + 1);
    e->tenant = memcpy(s, tenant, lt);
    s += lt;
    e->entity = memcpy(s, entity, le);
    s += le;
    e->type = memcpy(s, type, ly);
    s += ly;
    e->attr = memcpy(s, attr, la);
    s += la;
    memcpy(s, json->p, json->len);
    s[json->len] = '\0';
    e->json = s;
    e->jlen = (uint32_t)json->len;
    return e;
}

static struct live_ev *event_new(const char *tenant, const struct ingest_update *p,
                                 struct buf *scratch)
{
    buf_reset(scratch);
    buf_putc(scratch, '[');
    buf_json_str(scratch, p->entity, strlen(p->entity));
    buf_putc(scratch, ',');
    buf_json_str(scratch, p->type, strlen(p->type));
    buf_putc(scratch, ',');
    buf_json_str(scratch, p->attr, strlen(p->attr));
    buf_putc(scratch, ',');
    buf_i64(scratch, p->ts);
    buf_putc(scratch, ',');
    api_value_json(scratch, p->vt, &p->v);
    buf_putc(scratch, ']');
    return event_alloc(0, tenant, p->entity, p->type, p->attr, scratch);
}

/* Put n events in the ring (taking them), wake the readers, free what they pushed out. */
static void ring_push(struct live *lv, struct live_ev **evs, uint32_t n)
{
    pthread_mutex_lock(&lv->mu);
    for (uint32_t i = 0; i < n; i++) {
        struct live_ev **slot = &lv->ring[lv->head & (lv->cap - 1)];
        struct live_ev *old = *slot;
        *slot = evs[i];
        evs[i] = old; /* freed below, outside the lock */
        lv->head++;
    }
    pthread_cond_broadcast(&lv->cv);
    pthread_mutex_unlock(&lv->mu);
    for (uint32_t i = 0; i < n; i++)
        free(evs[i]);
}

void live_publish(struct live *lv, const char *tenant, const struct ingest_update *p, uint32_t n)
{
    if (!lv || !n)
        return;
    /* Build the events outside the lock; swap them in under it. */
    struct live_ev **evs = vg_malloc(n * sizeof(*evs));
    struct buf scratch;
    buf_init(&scratch, 0);
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++)
        if (p[i].entity) /* values without names: taken while nobody watched (lp_wants) */
            evs[m++] = event_new(tenant, &p[i], &scratch);
    buf_release(&scratch);
    if (m)
        ring_push(lv, evs, m);
    free(evs);
    atomic_fetch_add(&lv->published, m);
}

void live_publish_alert(struct live *lv, const char *tenant, const char *entity,
                        const char *type, const char *event, const char *alert_json)
{
    if (!lv)
        return;
    struct buf d;
    buf_init(&d, 0);
    buf_puts(&d, "{\"event\":");
    buf_json_str(&d, event, strlen(event));
    buf_puts(&d, ",\"alert\":");
    buf_puts(&d, alert_json);
    buf_putc(&d, '}');
    struct live_ev *e = event_alloc(1, tenant, entity, type, "", &d);
    buf_release(&d);
    ring_push(lv, &e, 1);
}

int live_join(struct live *lv, uint32_t max, const char *last_event_id, uint64_t *cursor,
              int *reset)
{
    unsigned before = atomic_fetch_add(&lv->readers, 1);
    if (max && before >= max) {
        atomic_fetch_sub(&lv->readers, 1);
        return VG_EAGAIN;
    }
    *reset = 0;
    pthread_mutex_lock(&lv->mu);
    *cursor = lv->head;
    if (last_event_id && *last_event_id) {
        const char *dash = strchr(last_event_id, '-');
        char *end = NULL;
        unsigned long long seq = dash ? strtoull(dash + 1, &end, 10) : 0;
        int same_boot = dash && (size_t)(dash - last_event_id) == strlen(lv->boot) &&
                        memcmp(last_event_id, lv->boot, strlen(lv->boot)) == 0;
        if (same_boot && end && !*end && seq >= 1 && seq < lv->head &&
            lv->head - (seq + 1) <= lv->cap)
            *cursor = seq + 1;
        else
            *reset = 1;
    }
    pthread_mutex_unlock(&lv->mu);
    if (*reset)
        atomic_fetch_add(&lv->resets, 1);
    return VG_OK;
}

void live_leave(struct live *lv)
{
    atomic_fetch_sub(&lv->readers, 1);
}

int live_list_has(const char *list, const char *name, size_t n)
{
    for (const char *p = list;;) {
        const char *c = strchr(p, ',');
        size_t l = c ? (size_t)(c - p) : strlen(p);
        if (l == n && memcmp(p, name, n) == 0)
            return 1;
        if (!c)
            return 0;
        p = c + 1;
    }
}

/* Is name in the comma-separated list? (NULL or "" = any) */
static int in_list(const char *list, const char *name)
{
    return !list || !*list || live_list_has(list, name, strlen(name));
}

static int passes(const struct live_filter *f, const struct live_ev *e)
{
    if (e->alert) /* alerts: never public; filtered by type and id only */
        return !f->pub && strcmp(e->tenant, f->tenant) == 0 && in_list(f->types, e->type) &&
               in_list(f->ids, e->entity);
    return strcmp(e->tenant, f->tenant) == 0 && in_list(f->types, e->type) &&
           in_list(f->ids, e->entity) && in_list(f->attrs, e->attr) &&
           (!f->pub || f->pub(f->pub_arg, e->type, e->attr));
}

enum live_rc live_read(struct live *lv, uint64_t *cursor, const struct live_filter *f,
                       int timeout_ms, uint32_t max_events, struct buf *out)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&lv->mu);
    for (;;) {
        if (lv->closed) {
            pthread_mutex_unlock(&lv->mu);
            return LIVE_CLOSED;
        }
        if (lv->head - *cursor > lv->cap) {
            *cursor = lv->head;
            pthread_mutex_unlock(&lv->mu);
            atomic_fetch_add(&lv->resets, 1);
            return LIVE_RESET;
        }
        uint32_t found = 0;
        size_t mark = out->len;
        while (*cursor < lv->head && found < max_events) {
            const struct live_ev *e = lv->ring[*cursor & (lv->cap - 1)];
            if (!passes(f, e)) {
                (*cursor)++;
                continue;
            }
            if (e->alert) { /* an event of its own, after the values before it */
                if (found)
                    break;
                (*cursor)++;
                buf_puts(out, "event: alert\ndata: ");
                buf_append(out, e->json, e->jlen);
                buf_printf(out, "\nid: %s-%llu\n\n", lv->boot,
                           (unsigned long long)(*cursor - 1));
                pthread_mutex_unlock(&lv->mu);
                return LIVE_DATA;
            }
            (*cursor)++;
            if (found == 0)
                buf_puts(out, "event: m\ndata: [");
            else
                buf_putc(out, ',');
            buf_append(out, e->json, e->jlen);
            found++;
        }
        if (found) {
            buf_printf(out, "]\nid: %s-%llu\n\n", lv->boot, (unsigned long long)(*cursor - 1));
            pthread_mutex_unlock(&lv->mu);
            return LIVE_DATA;
        }
        out->len = mark;
        if (*cursor < lv->head)
            continue; /* the cap was reached on events filtered out: look further */
        if (pthread_cond_timedwait(&lv->cv, &lv->mu, &until) != 0 && *cursor == lv->head &&
            !lv->closed) {
            pthread_mutex_unlock(&lv->mu);
            return LIVE_TIMEOUT;
        }
    }
}

void live_get_stats(struct live *lv, struct live_stats *st)
{
    st->published = atomic_load(&lv->published);
    st->readers = atomic_load(&lv->readers);
    st->resets = atomic_load(&lv->resets);
}
