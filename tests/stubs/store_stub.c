/*
** tests/stubs/store_stub.c: a stand-in for store/db.c so that src/meta/catalog_test.c can be
** built before (or without) the real engine:
**   gcc ... src/meta/catalog_test.c src/meta/catalog.c src/meta/db.c tests/stubs/store_stub.c
** Only what catalog_test.c calls: store_open, store_series_add, store_recover, store_close.
** store_series_add has the real contract (idempotent for the same vt, VG_ETYPE for another vt)
** and records each declared series. Not part of vigie: the Makefile links the real store.
*/
#include "store/db.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct stub_series {
    uint32_t sid, group;
    enum vg_vtype vt;
};

struct store {
    pthread_mutex_t mu;
    struct stub_series *v; /* indexed by sid */
    uint32_t n, cap;
    uint64_t calls;
};

int store_open(const char *dir, const struct store_opts *opts, struct store **out)
{
    struct store *s = vg_calloc(1, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    *out = s;
    return VG_OK;
}

int store_series_add(struct store *s, uint32_t sid, uint32_t group, enum vg_vtype vt)
{
    int rc = VG_OK;
    pthread_mutex_lock(&s->mu);
    s->calls++;
    if (sid < s->cap && s->v[sid].vt != VT_NONE) {
        rc = s->v[sid].vt == vt ? VG_OK : VG_ETYPE;
        goto out;
    }
    if (sid >= s->cap) {
        uint32_t ncap = s->cap ? s->cap : 64;
        while (ncap <= sid)
            ncap *= 2;
        s->v = vg_realloc(s->v, ncap * sizeof(*s->v));
        memset(s->v + s->cap, 0, (ncap - s->cap) * sizeof(*s->v));
        s->cap = ncap;
    }
    s->v[sid].sid = sid;
    s->v[sid].group = group;
    s->v[sid].vt = vt;
    s->n++;
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int store_recover(struct store *s, struct wal_replay_report *rep)
{
    return VG_OK;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    free(s->v);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
