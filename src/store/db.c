/*
** store/db.c: the time-series engine (contract in store/db.h).
** Owns: struct store: the series table (sid -> head_series), the retention groups and their
** partitions (each a list of loaded blocks ordered by seq), the WAL handle, the store lock, the
** maintenance lock and thread. Formats: WAL records below, blocks in docs/format/block.md.
**
** WAL record (one store_write batch; opaque to wal.c which frames and checksums it):
**     u8 type = 1 | varint count | count x point
**     point = varint sid | varint zigzag(ts - previous ts, first vs 0) | value
**     value by the series type: F64 8 bytes LE bits | I64 varint zigzag | BOOL u8 0/1 |
**                               STR varint len + bytes | GEO 2 x 8 bytes LE bits (lat, lon)
**
** Where a (sid, ts) can live, newest first: head raw buffer > head chunks (higher generation
** first) > blocks of its partition (higher seq first). Every read gathers the overlapping
** sources into "runs" in oldest-to-newest order and merges them so the newest wins.
** Aggregation with `every` a multiple of one hour (aggregate_hours) folds every UTC hour on its
** own and merges the hours in order; an hour lying inside [from, to) that only one block chunk
** touches is taken from that chunk's stored hour summary instead (docs/format/block.md), which
** gives the same bits as decoding it.
**
** Locks: `lock` (rwlock, writer-preferring) protects the series table, the heads, the groups and
** the loaded blocks. Readers hold it shared for the whole read, so a block removed from a
** partition under the exclusive lock is never in use and can be freed right after. `mlock`
** serialises checkpoint, compaction and retention (the only code that creates or removes blocks
** and frees head chunks), so a checkpoint can encode frozen head chunks without the store lock
** while store_write keeps appending.
**
** Checkpoint state machine of a series' head chunks:
**     live --[checkpoint_locked: seal raw, nfrozen = nch]--> frozen
**     frozen --[all blocks committed: head_series_drop_chunks]--> gone (now in blocks)
**     frozen --[any failure: nfrozen = 0]--> live (retried by the next checkpoint)
**
** Write path (store_write): under the exclusive lock: look up every sid (VG_ENOENT before
** anything is logged), encode the record, wal_append, apply to the head; then wal_sync(lsn)
** outside the lock, so concurrent writers share one fdatasync (group commit). A failed
** wal_append applies nothing; a failed wal_sync returns the error with the points already in
** the head but unacknowledged (a retry rewrites the same values).
**
** Maintenance (store_maintain; with opts.background a thread runs it every 2 s, or at once when
** a write pushes the WAL past checkpoint_wal_bytes): checkpoint if due, then compaction of
** every partition with more than one block, then retention.
**
** NEEDSWORK: each loaded block keeps its io_file open (io.h does not promise a mapping survives
** close), so the process needs one descriptor per block: about groups x retained partitions.
** NEEDSWORK: after a crash, WAL records of data already dropped by retention are replayed into
** the head again; the next maintenance pass drops them again.
**
** Thread: every public function is thread-safe; the maintenance thread calls store_maintain.
*/
#include "store/db.h"

#include "core/clock.h"
#include "store/block.h"
#include "store/chunk.h"
#include "store/head.h"
#include "store/store_int.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CKPT_IDLE_NS (10ll * 1000000000)      /* no write for 10 s: checkpoint */
#define CKPT_INTERVAL_NS (900ll * 1000000000) /* at least every 15 min when there is data */

#define REC_BATCH 1
#define MAX_STR_LEN (1u << 20)
#define PATH_CAP 1024

struct part {
    int64_t start;
    struct block **b; /* ascending seq */
    uint32_t nb, cap;
};

struct group {
    uint32_t id;
    int64_t keep_ms;
    struct part *parts; /* ascending start */
    uint32_t np, cap;
};

struct store {
    char *dir;
    struct io_vfs *vfs;
    struct store_opts o;
    struct wal *wal;
    pthread_rwlock_t lock;
    pthread_mutex_t mlock;

    struct head_series **ser; /* dense, in declaration order */
    size_t nser, sercap;
    struct head_series **htab; /* open addressing on sid, NULL = empty */
    size_t hcap;
    struct group **groups; /* ascending id */
    uint32_t ngroups, gcap;

    struct head_strs strs;
    struct head_scratch sc;
    struct buf rec;
    struct head_series **pser; /* per-point series of the current write */
    size_t pcap;

    uint64_t next_seq;
    uint64_t wal_since_ckpt;
    int64_t last_write_ns;  /* monotonic time of the last store_write (under lock) */
    int64_t last_ckpt_ns;   /* monotonic time of the last checkpoint attempt */
    int recovered, closed;

    uint64_t points_written, write_batches, checkpoints, compactions, partitions_dropped;
    uint64_t corrupt_blocks;
    int write_error;

    pthread_t thread;
    int thread_on, stop, kick; /* stop, kick: under cvm */
    pthread_mutex_t cvm;
    pthread_cond_t cv;
};

static void *maint_main(void *arg);

/* ---- series table ---------------------------------------------------------------------- */

static size_t sid_slot(uint32_t sid, size_t cap)
{
    return (size_t)((sid * 2654435761u) ^ (sid >> 16)) & (cap - 1);
}

static struct head_series *series_get(const struct store *s, uint32_t sid)
{
    if (!s->hcap)
        return NULL;
    for (size_t i = sid_slot(sid, s->hcap);; i = (i + 1) & (s->hcap - 1)) {
        struct head_series *hs = s->htab[i];
        if (!hs || hs->sid == sid)
            return hs;
    }
}

static void htab_put(struct head_series **tab, size_t cap, struct head_series *hs)
{
    size_t i = sid_slot(hs->sid, cap);
    while (tab[i])
        i = (i + 1) & (cap - 1);
    tab[i] = hs;
}

static struct group *group_get(struct store *s, uint32_t id, int create)
{
    uint32_t lo = 0, hi = s->ngroups;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->groups[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < s->ngroups && s->groups[lo]->id == id)
        return s->groups[lo];
    if (!create)
        return NULL;
    if (s->ngroups == s->gcap) {
        s->gcap = s->gcap ? s->gcap * 2 : 8;
        s->groups = vg_realloc(s->groups, s->gcap * sizeof(*s->groups));
    }
    memmove(s->groups + lo + 1, s->groups + lo, (s->ngroups - lo) * sizeof(*s->groups));
    struct group *g = vg_calloc(1, sizeof(*g));
    g->id = id;
    s->groups[lo] = g;
    s->ngroups++;
    return g;
}

/* First partition of g whose end is after t. */
static uint32_t part_lower(const struct store *s, const struct group *g, int64_t t)
{
    uint32_t lo = 0, hi = g->np;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (store__sat_add(g->parts[mid].start, s->o.partition_ms) <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct part *part_get(struct group *g, int64_t start, int create)
{
    uint32_t lo = 0, hi = g->np;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (g->parts[mid].start < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < g->np && g->parts[lo].start == start)
        return &g->parts[lo];
    if (!create)
        return NULL;
    if (g->np == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 8;
        g->parts = vg_realloc(g->parts, g->cap * sizeof(*g->parts));
    }
    memmove(g->parts + lo + 1, g->parts + lo, (g->np - lo) * sizeof(*g->parts));
    memset(&g->parts[lo], 0, sizeof(g->parts[lo]));
    g->parts[lo].start = start;
    g->np++;
    return &g->parts[lo];
}

/* Insert b keeping ascending seq. */
static void part_add_block(struct part *p, struct block *b)
{
    if (p->nb == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 4;
        p->b = vg_realloc(p->b, p->cap * sizeof(*p->b));
    }
    uint32_t i = p->nb;
    while (i > 0 && p->b[i - 1]->seq > b->seq) {
        p->b[i] = p->b[i - 1];
        i--;
    }
    p->b[i] = b;
    p->nb++;
}

static void part_dir(const struct store *s, uint32_t group, int64_t start, char *out, size_t cap)
{
    snprintf(out, cap, "%s/part/%" PRIu32 "/%" PRId64, s->dir, group, start);
}

/* ---- gather: collect runs from chunks / raw, merge newest-wins ------------------------------ */

struct run {
    uint32_t off, n;
};

struct gather {
    int64_t *ts;
    union vg_val *v;
    uint32_t n, cap;
    struct run *runs;
    uint32_t nr, rcap;
    int64_t *t2[2];
    union vg_val *v2[2];
    uint32_t cap2;
    /* Result after gather_merge. */
    const int64_t *ots;
    const union vg_val *ov;
    uint32_t on;
    int64_t from, to;
};

static void gather_init(struct gather *g, int64_t from, int64_t to)
{
    memset(g, 0, sizeof(*g));
    g->from = from;
    g->to = to;
}

static void gather_release(struct gather *g)
{
    free(g->ts);
    free(g->v);
    free(g->runs);
    for (int i = 0; i < 2; i++) {
        free(g->t2[i]);
        free(g->v2[i]);
    }
    memset(g, 0, sizeof(*g));
}

static void gather_reserve(struct gather *g, uint32_t more)
{
    if (g->n + more <= g->cap)
        return;
    uint32_t nc = g->cap ? g->cap : 256;
    while (nc < g->n + more)
        nc *= 2;
    g->ts = vg_realloc(g->ts, (size_t)nc * sizeof(*g->ts));
    g->v = vg_realloc(g->v, (size_t)nc * sizeof(*g->v));
    g->cap = nc;
}

static uint32_t lower_ts(const int64_t *ts, uint32_t n, int64_t t)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (ts[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The n points just written at g->n: clip to [from, to) and record a run. */
static void gather_commit(struct gather *g, uint32_t n)
{
    int64_t *ts = g->ts + g->n;
    uint32_t a = 0, b = n;
    if (n && ts[0] < g->from)
        a = lower_ts(ts, n, g->from);
    if (n && ts[n - 1] >= g->to)
        b = lower_ts(ts, n, g->to);
    if (b <= a)
        return;
    if (a) {
        memmove(ts, ts + a, (size_t)(b - a) * sizeof(*ts));
        memmove(g->v + g->n, g->v + g->n + a, (size_t)(b - a) * sizeof(*g->v));
    }
    if (g->nr == g->rcap) {
        g->rcap = g->rcap ? g->rcap * 2 : 16;
        g->runs = vg_realloc(g->runs, g->rcap * sizeof(*g->runs));
    }
    g->runs[g->nr].off = g->n;
    g->runs[g->nr].n = b - a;
    g->nr++;
    g->n += b - a;
}

static int gather_chunk(struct gather *g, const void *p, size_t len, uint32_t n)
{
    gather_reserve(g, n);
    uint32_t got = 0;
    int rc = chunk_decode(p, len, g->ts + g->n, g->v + g->n, n, &got);
    if (rc)
        return rc;
    gather_commit(g, got);
    return VG_OK;
}

/* Like gather_chunk, but leave out the points with ulo <= ts < uhi (answered from summaries). */
static int gather_chunk_cut(struct gather *g, const void *p, size_t len, uint32_t n, int64_t ulo,
                            int64_t uhi)
{
    gather_reserve(g, n);
    uint32_t got = 0;
    int rc = chunk_decode(p, len, g->ts + g->n, g->v + g->n, n, &got);
    if (rc)
        return rc;
    int64_t *ts = g->ts + g->n;
    union vg_val *v = g->v + g->n;
    uint32_t a = lower_ts(ts, got, ulo), b = lower_ts(ts, got, uhi);
    if (b > a) {
        memmove(ts + a, ts + b, (size_t)(got - b) * sizeof(*ts));
        memmove(v + a, v + b, (size_t)(got - b) * sizeof(*v));
        got -= b - a;
    }
    gather_commit(g, got);
    return VG_OK;
}

static void gather_raw(struct gather *g, const struct head_series *hs)
{
    if (!hs->rn || hs->rts[0] >= g->to || hs->rts[hs->rn - 1] < g->from)
        return;
    uint32_t a = lower_ts(hs->rts, hs->rn, g->from);
    uint32_t b = lower_ts(hs->rts, hs->rn, g->to);
    if (b == a) /* the range falls between two points: nothing (and g->ts may be NULL) */
        return;
    gather_reserve(g, b - a);
    memcpy(g->ts + g->n, hs->rts + a, (size_t)(b - a) * sizeof(int64_t));
    for (uint32_t i = a; i < b; i++)
        head_series_raw_get(hs, i, &g->v[g->n + i - a]);
    gather_commit(g, b - a);
}

/* Merge the runs (later runs win for equal ts) into the result view g->ots/ov/on. */
static void gather_merge(struct gather *g)
{
    g->ots = g->ts;
    g->ov = g->v;
    g->on = g->n;
    int sorted = 1;
    for (uint32_t i = 1; i < g->nr && sorted; i++) {
        const struct run *a = &g->runs[i - 1], *b = &g->runs[i];
        if (g->ts[b->off] <= g->ts[a->off + a->n - 1])
            sorted = 0;
    }
    if (sorted)
        return;
    if (g->cap2 < g->n) {
        for (int i = 0; i < 2; i++) {
            g->t2[i] = vg_realloc(g->t2[i], (size_t)g->n * sizeof(int64_t));
            g->v2[i] = vg_realloc(g->v2[i], (size_t)g->n * sizeof(union vg_val));
        }
        g->cap2 = g->n;
    }
    const int64_t *at = g->ts + g->runs[0].off;
    const union vg_val *av = g->v + g->runs[0].off;
    uint32_t an = g->runs[0].n;
    int cur = 0;
    for (uint32_t r = 1; r < g->nr; r++) {
        const int64_t *bt = g->ts + g->runs[r].off;
        const union vg_val *bv = g->v + g->runs[r].off;
        uint32_t bn = g->runs[r].n;
        int64_t *ot = g->t2[cur];
        union vg_val *ovv = g->v2[cur];
        uint32_t i = 0, j = 0, k = 0;
        while (i < an && j < bn) {
            if (at[i] < bt[j]) {
                ot[k] = at[i];
                ovv[k++] = av[i++];
            } else {
                if (at[i] == bt[j])
                    i++;
                ot[k] = bt[j];
                ovv[k++] = bv[j++];
            }
        }
        while (i < an) {
            ot[k] = at[i];
            ovv[k++] = av[i++];
        }
        while (j < bn) {
            ot[k] = bt[j];
            ovv[k++] = bv[j++];
        }
        at = ot;
        av = ovv;
        an = k;
        cur ^= 1;
    }
    g->ots = at;
    g->ov = av;
    g->on = an;
}

/* A block chunk of a series overlapping a read, in gather order (partition, block seq, ts). */
struct bsrc {
    const struct block *b;
    const struct block_entry *e;
    int64_t ulo, uhi; /* hours [ulo, uhi) answered by its hour summaries; none if ulo >= uhi */
};

struct bsrcs {
    struct bsrc *v;
    uint32_t n, cap;
};

/* The block chunks of hs overlapping [from, to), oldest source first. Store lock held. */
static void collect_blocks(const struct store *s, const struct head_series *hs, int64_t from,
                           int64_t to, struct bsrcs *out)
{
    out->n = 0;
    struct group *grp = group_get((struct store *)s, hs->group, 0);
    if (!grp)
        return;
    for (uint32_t pi = part_lower(s, grp, from); pi < grp->np; pi++) {
        const struct part *p = &grp->parts[pi];
        if (p->start >= to)
            break;
        for (uint32_t bi = 0; bi < p->nb; bi++) {
            const struct block *b = p->b[bi];
            for (uint32_t i = block_find(b, hs->sid); i < b->nix && b->ix[i].sid == hs->sid; i++) {
                const struct block_entry *e = &b->ix[i];
                if (e->max_ts < from || e->min_ts >= to)
                    continue;
                if (out->n == out->cap) {
                    out->cap = out->cap ? out->cap * 2 : 16;
                    out->v = vg_realloc(out->v, out->cap * sizeof(*out->v));
                }
                struct bsrc *x = &out->v[out->n++];
                x->b = b;
                x->e = e;
                x->ulo = x->uhi = 0;
            }
        }
    }
}

/* Gather the sources of hs over [g->from, g->to): the block chunks bs (except the hours each
** answers from its summaries), then the head chunks, then the raw buffer; merge newest-wins.
** Store lock held (shared or exclusive). */
static int gather_sources(const struct head_series *hs, const struct bsrcs *bs, struct gather *g)
{
    int rc = VG_OK;
    for (uint32_t i = 0; i < bs->n; i++) {
        const struct bsrc *x = &bs->v[i];
        const uint8_t *p = block_chunk(x->b, x->e);
        if (x->ulo < x->uhi) {
            /* Only the points outside [ulo, uhi) are needed: maybe none. */
            if (VG_MAX(x->e->min_ts, g->from) >= x->ulo && VG_MIN(x->e->max_ts, g->to - 1) < x->uhi)
                continue;
            rc = gather_chunk_cut(g, p, x->e->len, x->e->n, x->ulo, x->uhi);
        } else {
            rc = gather_chunk(g, p, x->e->len, x->e->n);
        }
        if (rc)
            goto out;
    }
    for (uint32_t i = 0; i < hs->nch; i++) {
        const struct head_chunk *c = &hs->ch[i];
        if (c->max_ts < g->from || c->min_ts >= g->to)
            continue;
        rc = gather_chunk(g, c->data, c->len, c->n);
        if (rc)
            goto out;
    }
    gather_raw(g, hs);
    gather_merge(g);
out:
    return rc;
}

/* Gather every source of hs over [g->from, g->to). Store lock held (shared or exclusive). */
static int gather_series(const struct store *s, const struct head_series *hs, struct gather *g)
{
    struct bsrcs bs;
    memset(&bs, 0, sizeof(bs));
    collect_blocks(s, hs, g->from, g->to, &bs);
    int rc = gather_sources(hs, &bs, g);
    free(bs.v);
    return rc;
}

/* Recompute hs's latest point from every source. Store lock held exclusively. */
static int latest_recompute(struct store *s, struct head_series *hs)
{
    int have = 0;
    int64_t m = INT64_MIN;
    if (hs->rn) {
        have = 1;
        m = hs->rts[hs->rn - 1];
    }
    for (uint32_t i = 0; i < hs->nch; i++) {
        if (!have || hs->ch[i].max_ts > m)
            m = hs->ch[i].max_ts;
        have = 1;
    }
    struct group *grp = group_get(s, hs->group, 0);
    for (uint32_t pi = grp ? grp->np : 0; pi-- > 0;) {
        const struct part *p = &grp->parts[pi];
        int found = 0;
        for (uint32_t bi = 0; bi < p->nb; bi++) {
            const struct block *b = p->b[bi];
            for (uint32_t i = block_find(b, hs->sid); i < b->nix && b->ix[i].sid == hs->sid; i++) {
                found = 1;
                if (!have || b->ix[i].max_ts > m)
                    m = b->ix[i].max_ts;
                have = 1;
            }
        }
        if (found)
            break;
    }
    hs->has_last = 0;
    if (!have)
        return VG_OK;
    struct gather g;
    gather_init(&g, m, m == INT64_MAX ? INT64_MAX : m + 1);
    if (m == INT64_MAX)
        g.from = INT64_MAX - 1;
    int rc = gather_series(s, hs, &g);
    if (!rc && g.on) {
        union vg_val v = g.ov[g.on - 1];
        if (hs->vt == VT_STR)
            v.s.p = head_strs_intern(&s->strs, v.s.p, v.s.len)->s;
        hs->has_last = 1;
        hs->last_ts = g.ots[g.on - 1];
        hs->last_v = v;
    }
    gather_release(&g);
    return rc;
}

/* ---- open / series / recover ------------------------------------------------------------ */

int store_open(const char *dir, const struct store_opts *opts, struct store **out)
{
    int rc = VG_OK;
    char path[PATH_CAP];
    struct store *s = NULL;
    if (!dir || !*dir || strlen(dir) > PATH_CAP - 64 || !out)
        return VG_EINVAL;
    s = vg_calloc(1, sizeof(*s));
    s->last_ckpt_ns = s->last_write_ns = clock_mono_ns();
    if (opts)
        s->o = *opts;
    if (!s->o.vfs)
        s->o.vfs = io_posix();
    if (!s->o.batch_ms)
        s->o.batch_ms = 200;
    if (s->o.partition_ms <= 0)
        s->o.partition_ms = 86400000;
    if (!s->o.checkpoint_wal_bytes)
        s->o.checkpoint_wal_bytes = 256u << 20;
    if (!s->o.head_chunk_points)
        s->o.head_chunk_points = 256;
    s->vfs = s->o.vfs;
    s->dir = vg_strdup(dir);
    s->next_seq = 1;
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&s->lock, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_mutex_init(&s->mlock, NULL);
    pthread_mutex_init(&s->cvm, NULL);
    pthread_cond_init(&s->cv, NULL);
    head_strs_init(&s->strs);
    head_scratch_init(&s->sc);
    buf_init(&s->rec, 0);

    rc = io_mkdir(s->vfs, dir);
    if (rc)
        goto out;
    snprintf(path, sizeof(path), "%s/part", dir);
    rc = io_mkdir(s->vfs, path);
    if (rc)
        goto out;
    snprintf(path, sizeof(path), "%s/wal", dir);
    rc = io_mkdir(s->vfs, path);
    if (rc)
        goto out;
    struct wal_opts wo = {.policy = s->o.sync, .batch_ms = s->o.batch_ms};
    rc = wal_open(s->vfs, path, &wo, &s->wal);
    if (rc) {
        s->wal = NULL;
        goto out;
    }
    *out = s;
    s = NULL;
out:
    if (s)
        store_abandon(s);
    return rc;
}

int store_series_add(struct store *s, uint32_t sid, uint32_t group, enum vg_vtype vt)
{
    int rc = VG_OK;
    if (vt < VT_F64 || vt > VT_GEO)
        return VG_EINVAL;
    pthread_rwlock_wrlock(&s->lock);
    struct head_series *hs = series_get(s, sid);
    if (hs) {
        if (hs->vt != vt)
            rc = VG_ETYPE;
        else if (hs->group != group)
            rc = VG_EEXIST;
        goto out;
    }
    if ((s->nser + 1) * 2 > s->hcap) {
        size_t nc = s->hcap ? s->hcap * 2 : 1024;
        struct head_series **nt = vg_calloc(nc, sizeof(*nt));
        for (size_t i = 0; i < s->nser; i++)
            htab_put(nt, nc, s->ser[i]);
        free(s->htab);
        s->htab = nt;
        s->hcap = nc;
    }
    if (s->nser == s->sercap) {
        s->sercap = s->sercap ? s->sercap * 2 : 256;
        s->ser = vg_realloc(s->ser, s->sercap * sizeof(*s->ser));
    }
    hs = vg_malloc(sizeof(*hs));
    head_series_init(hs, sid, group, vt);
    s->ser[s->nser++] = hs;
    htab_put(s->htab, s->hcap, hs);
    group_get(s, group, 1);
    if (s->recovered)
        rc = latest_recompute(s, hs); /* blocks may already hold data of a re-declared sid */
out:
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

/* Apply one point to the head (store lock held exclusively). */
static void head_apply(struct store *s, struct head_series *hs, int64_t ts, union vg_val v)
{
    if (hs->vt == VT_STR)
        v.s.p = head_strs_intern(&s->strs, v.s.p, v.s.len)->s;
    else if (hs->vt == VT_BOOL)
        v.i = v.i != 0;
    int rc = head_series_insert(hs, ts, &v, s->o.head_chunk_points, &s->sc);
    /* Sealing only fails on a codec bug; the point then stays in the raw buffer. */
    (void)NEVER(rc != 0);
}

struct rec_point {
    uint32_t sid;
    int64_t ts;
    union vg_val v;
};

/* Decode one WAL record and apply it. Returns VG_ECORRUPT on bad bytes or an unknown sid. */
static int replay_fn(void *arg, uint64_t lsn, const void *rec, size_t len)
{
    struct store *s = arg;
    const uint8_t *p = rec, *end = p + len;
    uint64_t cnt, x;
    size_t k;
    int64_t prev = 0;
    VG_UNUSED(lsn);
    if (len < 1 || p[0] != REC_BATCH)
        return VG_ECORRUPT;
    p++;
    if (!(k = store__get_varint(p, (size_t)(end - p), &cnt)))
        return VG_ECORRUPT;
    p += k;
    for (uint64_t i = 0; i < cnt; i++) {
        if (!(k = store__get_varint(p, (size_t)(end - p), &x)) || x > UINT32_MAX)
            return VG_ECORRUPT;
        p += k;
        struct head_series *hs = series_get(s, (uint32_t)x);
        if (!hs)
            return VG_ECORRUPT;
        if (!(k = store__get_varint(p, (size_t)(end - p), &x)))
            return VG_ECORRUPT;
        p += k;
        int64_t ts = (int64_t)((uint64_t)prev + (uint64_t)store__unzigzag(x));
        prev = ts;
        union vg_val v;
        memset(&v, 0, sizeof(v));
        size_t left = (size_t)(end - p);
        switch (hs->vt) {
        case VT_F64:
            if (left < 8)
                return VG_ECORRUPT;
            memcpy(&v.f, p, 8);
            p += 8;
            break;
        case VT_I64:
            if (!(k = store__get_varint(p, left, &x)))
                return VG_ECORRUPT;
            v.i = store__unzigzag(x);
            p += k;
            break;
        case VT_BOOL:
            if (left < 1 || p[0] > 1)
                return VG_ECORRUPT;
            v.i = *p++;
            break;
        case VT_STR:
            if (!(k = store__get_varint(p, left, &x)) || x > MAX_STR_LEN || x > left - k)
                return VG_ECORRUPT;
            v.s.p = (const char *)p + k;
            v.s.len = (uint32_t)x;
            p += k + x;
            break;
        case VT_GEO:
            if (left < 16)
                return VG_ECORRUPT;
            memcpy(&v.geo.lat, p, 8);
            memcpy(&v.geo.lon, p + 8, 8);
            p += 16;
            break;
        default:
            return VG_ECORRUPT;
        }
        head_apply(s, hs, ts, v);
    }
    if (p != end)
        return VG_ECORRUPT;
    s->wal_since_ckpt += len;
    return VG_OK;
}

struct name_list {
    char **v;
    size_t n, cap;
};

static int name_collect(void *arg, const char *name)
{
    struct name_list *l = arg;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = vg_realloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = vg_strdup(name);
    return 0;
}

static void name_list_release(struct name_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static int parse_i64(const char *p, int64_t *out)
{
    char *end;
    if (!*p || (*p != '-' && (*p < '0' || *p > '9')))
        return 0;
    long long v = strtoll(p, &end, 10);
    if (*end)
        return 0;
    *out = v;
    return 1;
}

/* Load every block of part/<group>/<start>/ (store lock held exclusively). */
static int load_partition(struct store *s, uint32_t gid, int64_t start)
{
    char dir[PATH_CAP], path[PATH_CAP + 64], bad[PATH_CAP + 80];
    struct name_list files = {0};
    int rc;
    part_dir(s, gid, start, dir, sizeof(dir));
    rc = io_list(s->vfs, dir, name_collect, &files);
    if (rc)
        goto out;
    for (size_t i = 0; i < files.n; i++) {
        uint64_t seq;
        snprintf(path, sizeof(path), "%s/%s", dir, files.v[i]);
        if (block_parse_name(files.v[i], ".tmp", &seq)) {
            io_unlink(s->vfs, path); /* an unfinished checkpoint or compaction */
            continue;
        }
        if (block_parse_name(files.v[i], ".blk.corrupt", &seq) && seq >= s->next_seq)
            s->next_seq = seq + 1; /* never reuse the seq of a quarantined block */
        if (!block_parse_name(files.v[i], ".blk", &seq))
            continue;
        if (seq >= s->next_seq)
            s->next_seq = seq + 1;
        struct block *b = NULL;
        rc = block_load(s->vfs, path, gid, start, seq, &b);
        if (rc == VG_ECORRUPT) {
            snprintf(bad, sizeof(bad), "%s.corrupt", path);
            rc = io_rename(s->vfs, path, bad);
            s->corrupt_blocks++;
            if (rc)
                goto out;
            continue;
        }
        if (rc)
            goto out;
        part_add_block(part_get(group_get(s, gid, 1), start, 1), b);
    }
out:
    name_list_release(&files);
    return rc;
}

static int load_blocks(struct store *s)
{
    char path[PATH_CAP];
    struct name_list gl = {0}, pl = {0};
    int rc;
    snprintf(path, sizeof(path), "%s/part", s->dir);
    rc = io_list(s->vfs, path, name_collect, &gl);
    if (rc)
        goto out;
    for (size_t i = 0; i < gl.n; i++) {
        int64_t gid, start;
        if (!parse_i64(gl.v[i], &gid) || gid < 0 || gid > UINT32_MAX)
            continue;
        snprintf(path, sizeof(path), "%s/part/%s", s->dir, gl.v[i]);
        name_list_release(&pl);
        rc = io_list(s->vfs, path, name_collect, &pl);
        if (rc)
            goto out;
        for (size_t j = 0; j < pl.n; j++) {
            if (!parse_i64(pl.v[j], &start))
                continue;
            rc = load_partition(s, (uint32_t)gid, start);
            if (rc)
                goto out;
        }
    }
out:
    name_list_release(&gl);
    name_list_release(&pl);
    return rc;
}

int store_recover(struct store *s, struct wal_replay_report *rep)
{
    int rc;
    pthread_mutex_lock(&s->mlock);
    pthread_rwlock_wrlock(&s->lock);
    if (s->recovered) {
        rc = VG_EINVAL;
        goto out;
    }
    rc = load_blocks(s);
    if (rc)
        goto out;
    for (size_t i = 0; i < s->nser; i++) {
        rc = latest_recompute(s, s->ser[i]);
        if (rc)
            goto out;
    }
    rc = wal_replay(s->wal, replay_fn, s, rep);
    if (rc)
        goto out;
    s->recovered = 1;
out:
    pthread_rwlock_unlock(&s->lock);
    pthread_mutex_unlock(&s->mlock);
    if (!rc && s->o.background) {
        s->thread_on = 1;
        if (pthread_create(&s->thread, NULL, maint_main, s) != 0)
            s->thread_on = 0;
    }
    return rc;
}

/* ---- write -------------------------------------------------------------------------------- */

static int encode_batch(struct store *s, const struct store_point *p, size_t n)
{
    size_t need = 1 + 10;
    for (size_t i = 0; i < n; i++) {
        enum vg_vtype vt = s->pser[i]->vt;
        need += 5 + 10 + (vt == VT_GEO ? 16 : vt == VT_STR ? 5 + (size_t)p[i].v.s.len : 10);
    }
    buf_reset(&s->rec);
    int rc = buf_reserve(&s->rec, need);
    if (rc)
        return rc;
    uint8_t *o = (uint8_t *)s->rec.p;
    *o++ = REC_BATCH;
    o = store__put_varint(o, n);
    int64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        o = store__put_varint(o, p[i].sid);
        o = store__put_varint(o, store__zigzag((int64_t)((uint64_t)p[i].ts - (uint64_t)prev)));
        prev = p[i].ts;
        switch (s->pser[i]->vt) {
        case VT_F64:
            memcpy(o, &p[i].v.f, 8);
            o += 8;
            break;
        case VT_I64:
            o = store__put_varint(o, store__zigzag(p[i].v.i));
            break;
        case VT_BOOL:
            *o++ = p[i].v.i != 0;
            break;
        case VT_STR:
            o = store__put_varint(o, p[i].v.s.len);
            if (p[i].v.s.len)
                memcpy(o, p[i].v.s.p, p[i].v.s.len);
            o += p[i].v.s.len;
            break;
        default:
            memcpy(o, &p[i].v.geo.lat, 8);
            memcpy(o + 8, &p[i].v.geo.lon, 8);
            o += 16;
            break;
        }
    }
    s->rec.len = (size_t)(o - (uint8_t *)s->rec.p);
    return VG_OK;
}

int store_write(struct store *s, const struct store_point *p, size_t n)
{
    int rc = VG_OK;
    uint64_t lsn = 0;
    int wake = 0;
    if (!n)
        return VG_OK;
    if (!p)
        return VG_EINVAL;
    pthread_rwlock_wrlock(&s->lock);
    if (s->closed) {
        rc = VG_ECLOSED;
        goto unlock;
    }
    if (!s->recovered) {
        rc = VG_EPERM;
        goto unlock;
    }
    if (s->pcap < n) {
        free(s->pser);
        s->pcap = n;
        s->pser = vg_malloc(n * sizeof(*s->pser));
    }
    struct head_series *last = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!last || last->sid != p[i].sid)
            last = series_get(s, p[i].sid);
        if (!last) {
            rc = VG_ENOENT;
            goto unlock;
        }
        if (last->vt == VT_STR && (p[i].v.s.len > MAX_STR_LEN || (!p[i].v.s.p && p[i].v.s.len))) {
            rc = VG_EINVAL;
            goto unlock;
        }
        s->pser[i] = last;
    }
    rc = encode_batch(s, p, n);
    if (rc)
        goto unlock;
    rc = wal_append(s->wal, s->rec.p, s->rec.len, &lsn);
    if (rc == VG_EFULL || rc == VG_EIO) {
        /* Sticky error of an earlier failed sync: retry writing what is pending (the disk may
        ** have room again), then append once more. */
        if (wal_sync(s->wal, UINT64_MAX) == VG_OK)
            rc = wal_append(s->wal, s->rec.p, s->rec.len, &lsn);
    }
    if (rc) {
        __atomic_store_n(&s->write_error, rc, __ATOMIC_RELAXED);
        goto unlock;
    }
    for (size_t i = 0; i < n; i++)
        head_apply(s, s->pser[i], p[i].ts, p[i].v);
    s->points_written += n;
    s->write_batches++;
    s->wal_since_ckpt += s->rec.len;
    s->last_write_ns = clock_mono_ns();
    wake = s->thread_on && s->wal_since_ckpt >= s->o.checkpoint_wal_bytes;
unlock:
    pthread_rwlock_unlock(&s->lock);
    if (rc)
        return rc;
    if (wake) {
        pthread_mutex_lock(&s->cvm);
        s->kick = 1;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->cvm);
    }
    rc = wal_sync(s->wal, lsn);
    __atomic_store_n(&s->write_error, rc, __ATOMIC_RELAXED);
    return rc;
}

/* ---- read / aggregate / latest ------------------------------------------------------------ */

void store_points_init(struct store_points *pts)
{
    memset(pts, 0, sizeof(*pts));
    buf_init(&pts->strs, 0);
}

void store_points_release(struct store_points *pts)
{
    free(pts->ts);
    free(pts->v);
    buf_release(&pts->strs);
    store_points_init(pts);
}

int store_read(struct store *s, uint32_t sid, int64_t from, int64_t to, uint32_t limit,
               struct store_points *pts)
{
    int rc = VG_OK;
    struct gather g;
    gather_init(&g, from, to);
    pts->n = 0;
    buf_reset(&pts->strs);
    pthread_rwlock_rdlock(&s->lock);
    struct head_series *hs = series_get(s, sid);
    if (!hs) {
        rc = VG_ENOENT;
        goto out;
    }
    pts->vt = hs->vt;
    if (from >= to)
        goto out;
    rc = gather_series(s, hs, &g);
    if (rc)
        goto out;
    uint32_t n = g.on;
    if (limit && n > limit)
        n = limit;
    if (pts->cap < n) {
        pts->ts = vg_realloc(pts->ts, (size_t)n * sizeof(*pts->ts));
        pts->v = vg_realloc(pts->v, (size_t)n * sizeof(*pts->v));
        pts->cap = n;
    }
    if (n) {
        memcpy(pts->ts, g.ots, (size_t)n * sizeof(*pts->ts));
        memcpy(pts->v, g.ov, (size_t)n * sizeof(*pts->v));
    }
    if (hs->vt == VT_STR) {
        /* Copy the strings (they point into chunks and the intern table); offsets first, since
        ** strs may move while it grows. */
        for (uint32_t i = 0; i < n; i++) {
            size_t off = pts->strs.len;
            rc = buf_append(&pts->strs, pts->v[i].s.p, pts->v[i].s.len);
            if (!rc)
                rc = buf_putc(&pts->strs, '\0');
            if (rc)
                goto out;
            pts->v[i].s.p = (const char *)(uintptr_t)off;
        }
        for (uint32_t i = 0; i < n; i++)
            pts->v[i].s.p = pts->strs.p + (uintptr_t)pts->v[i].s.p;
    }
    pts->n = n;
out:
    pthread_rwlock_unlock(&s->lock);
    gather_release(&g);
    return rc;
}

int store_agg_parse(const char *name)
{
    static const char *const names[] = {"avg", "min", "max", "sum", "count", "first", "last",
                                        "stddev"};
    if (!name)
        return -1;
    for (size_t i = 0; i < VG_ARRAY_LEN(names); i++) {
        if (strcmp(name, names[i]) == 0)
            return (int)i;
    }
    if (strcmp(name, "mean") == 0)
        return AGG_AVG;
    return -1;
}

double store_bucket_value(const struct store_bucket *b, enum store_agg agg)
{
    if (agg == AGG_COUNT)
        return (double)b->count;
    if (!b->count)
        return NAN;
    switch (agg) {
    case AGG_AVG:
        return b->sum / (double)b->count;
    case AGG_MIN:
        return b->min;
    case AGG_MAX:
        return b->max;
    case AGG_SUM:
        return b->sum;
    case AGG_FIRST:
        return b->first;
    case AGG_LAST:
        return b->last;
    case AGG_STDDEV: {
        double m = b->sum / (double)b->count;
        double var = b->sumsq / (double)b->count - m * m;
        return var > 0 ? sqrt(var) : 0.0;
    }
    default:
        return NAN;
    }
}

void store_bucket_merge(struct store_bucket *a, const struct store_bucket *b)
{
    if (!b->count)
        return;
    if (!a->count) {
        int64_t start = a->start;
        *a = *b;
        a->start = start;
        return;
    }
    a->sum += b->sum;
    a->sumsq += b->sumsq;
    if (b->min < a->min)
        a->min = b->min;
    if (b->max > a->max)
        a->max = b->max;
    if (b->first_ts < a->first_ts) {
        a->first_ts = b->first_ts;
        a->first = b->first;
    }
    if (b->last_ts >= a->last_ts) {
        a->last_ts = b->last_ts;
        a->last = b->last;
    }
    a->count += b->count;
}

uint32_t store_bucket_count(int64_t from, int64_t to, int64_t every)
{
    if (every <= 0 || to <= from)
        return 0;
    int64_t start = store__align_down(from, every);
    uint64_t span = (uint64_t)to - (uint64_t)start;
    uint64_t nb = span / (uint64_t)every + (span % (uint64_t)every != 0);
    return nb > UINT32_MAX ? UINT32_MAX : (uint32_t)nb;
}

static void bucket_add(struct store_bucket *bk, const struct block_hsum *h)
{
    struct store_bucket x;
    x.start = bk->start;
    x.count = h->count;
    x.sum = h->sum;
    x.sumsq = h->sumsq;
    x.min = h->min;
    x.max = h->max;
    x.first = h->first;
    x.last = h->last;
    x.first_ts = h->first_ts;
    x.last_ts = h->last_ts;
    store_bucket_merge(bk, &x);
}

/* Start of the first whole hour at or after t (saturating). */
static int64_t hour_up(int64_t t)
{
    int64_t d = store__align_down(t, BLOCK_HOUR_MS);
    return d == t ? t : store__sat_add(d, BLOCK_HOUR_MS);
}

/* Hours [lo, hi) touched by the interval [a, b] clipped to [from, to) (a <= b, overlapping). */
struct hspan {
    int64_t lo, hi;
};

static struct hspan hspan_of(int64_t a, int64_t b, int64_t from, int64_t to)
{
    struct hspan h;
    h.lo = store__align_down(VG_MAX(a, from), BLOCK_HOUR_MS);
    h.hi = store__sat_add(store__align_down(VG_MIN(b, to - 1), BLOCK_HOUR_MS), BLOCK_HOUR_MS);
    return h;
}

static int cmp_hsum(const void *a, const void *b)
{
    const struct block_hsum *x = a, *y = b;
    return x->hour < y->hour ? -1 : x->hour > y->hour;
}

/* Aggregation of a numeric series with every a multiple of an hour (bucket starts are then
** whole hours). Every bucket is the merge, in ascending hour order, of one summary per UTC hour
** holding points (block_hsum_fold of that hour's points inside [from, to)), so the result does
** not depend on where a summary comes from: a block's stored hour summary is used for an hour
** that lies entirely inside [from, to) and that no other source of the series (another block
** chunk, a head chunk, the raw buffer) touches, judged by the sources' [min_ts, max_ts];
** every other hour is decoded, merged newest-wins and folded. Store lock held. */
static int aggregate_hours(const struct store *s, const struct head_series *hs, int64_t from,
                           int64_t to, int64_t every, int64_t start, struct store_bucket *out)
{
    int rc = VG_OK;
    struct bsrcs bs;
    struct gather g;
    struct hspan *sp = NULL;
    struct block_hsum *hv = NULL;
    uint32_t nsp = 0, nh = 0, hcap = 0;
    memset(&bs, 0, sizeof(bs));
    gather_init(&g, from, to);
    collect_blocks(s, hs, from, to, &bs);
    int any_sum = 0;
    for (uint32_t i = 0; i < bs.n && !any_sum; i++)
        any_sum = bs.v[i].e->slen != 0;
    int64_t qlo = hour_up(from), qhi = store__align_down(to, BLOCK_HOUR_MS);
    if (any_sum && qlo < qhi) {
        /* Hour spans of every source: the block chunks first (same index as bs.v). */
        sp = vg_malloc(((size_t)bs.n + hs->nch + 1) * sizeof(*sp));
        for (uint32_t i = 0; i < bs.n; i++)
            sp[nsp++] = hspan_of(bs.v[i].e->min_ts, bs.v[i].e->max_ts, from, to);
        for (uint32_t i = 0; i < hs->nch; i++) {
            const struct head_chunk *c = &hs->ch[i];
            if (c->max_ts >= from && c->min_ts < to)
                sp[nsp++] = hspan_of(c->min_ts, c->max_ts, from, to);
        }
        uint32_t ra = lower_ts(hs->rts, hs->rn, from), rb = lower_ts(hs->rts, hs->rn, to);
        if (rb > ra)
            sp[nsp++] = hspan_of(hs->rts[ra], hs->rts[rb - 1], from, to);
        for (uint32_t i = 0; i < bs.n; i++) {
            struct bsrc *x = &bs.v[i];
            if (!x->e->slen)
                continue;
            int64_t lo = VG_MAX(qlo, sp[i].lo), hi = VG_MIN(qhi, sp[i].hi);
            /* Remove the hours other sources touch, keeping one contiguous range (the larger
            ** side when a source sits in the middle: the rest is decoded). */
            for (uint32_t j = 0; j < nsp && lo < hi; j++) {
                if (j == i || sp[j].hi <= lo || sp[j].lo >= hi)
                    continue;
                if (sp[j].lo <= lo)
                    lo = sp[j].hi;
                else if (sp[j].hi >= hi)
                    hi = sp[j].lo;
                else if (sp[j].lo - lo >= hi - sp[j].hi)
                    hi = sp[j].lo;
                else
                    lo = sp[j].hi;
            }
            if (lo >= hi)
                continue;
            x->ulo = lo;
            x->uhi = hi;
            rc = block_hsum_decode(x->b, x->e, lo, hi, &hv, &nh, &hcap);
            if (rc)
                goto out;
        }
        /* Usable ranges are disjoint; blocks of a partition come by seq, not time. */
        for (uint32_t i = 1; i < nh; i++) {
            if (hv[i].hour < hv[i - 1].hour) {
                qsort(hv, nh, sizeof(*hv), cmp_hsum);
                break;
            }
        }
    }
    rc = gather_sources(hs, &bs, &g);
    if (rc)
        goto out;
    /* Fold the two ascending streams (decoded points, stored hours) hour by hour. */
    uint64_t w = (uint64_t)every;
    for (uint32_t i = 0, j = 0; i < g.on || j < nh;) {
        struct block_hsum h;
        int64_t ph = i < g.on ? store__align_down(g.ots[i], BLOCK_HOUR_MS) : INT64_MAX;
        if (j < nh && (i >= g.on || hv[j].hour < ph)) {
            h = hv[j++];
        } else {
            int64_t hend = store__sat_add(ph, BLOCK_HOUR_MS);
            uint32_t q = i + 1;
            while (q < g.on && g.ots[q] < hend)
                q++;
            block_hsum_fold(hs->vt, g.ots + i, g.ov + i, q - i, &h);
            i = q;
        }
        uint32_t k = (uint32_t)(((uint64_t)h.first_ts - (uint64_t)start) / w);
        bucket_add(&out[k], &h);
    }
out:
    free(bs.v);
    free(sp);
    free(hv);
    gather_release(&g);
    return rc;
}

int store_aggregate(struct store *s, uint32_t sid, int64_t from, int64_t to, int64_t every,
                    struct store_bucket *out, uint32_t nb)
{
    int rc = VG_OK;
    struct gather g;
    if (every <= 0 || nb != store_bucket_count(from, to, every) || (nb && !out))
        return VG_EINVAL;
    int64_t start = store__align_down(from, every);
    for (uint32_t k = 0; k < nb; k++) {
        memset(&out[k], 0, sizeof(out[k]));
        out[k].start = store__sat_add(start, (int64_t)k * every);
        out[k].min = INFINITY;
        out[k].max = -INFINITY;
    }
    gather_init(&g, from, to);
    pthread_rwlock_rdlock(&s->lock);
    struct head_series *hs = series_get(s, sid);
    if (!hs) {
        rc = VG_ENOENT;
        goto out;
    }
    if (!nb)
        goto out;
    enum vg_vtype vt = hs->vt;
    int numeric = vt == VT_F64 || vt == VT_I64 || vt == VT_BOOL;
    if (numeric && every % BLOCK_HOUR_MS == 0) {
        rc = aggregate_hours(s, hs, from, to, every, start, out);
        goto out;
    }
    rc = gather_series(s, hs, &g);
    if (rc)
        goto out;
    /* Points are sorted: fold each bucket's run. */
    for (uint32_t i = 0; i < g.on;) {
        uint32_t k = (uint32_t)(((uint64_t)g.ots[i] - (uint64_t)start) / (uint64_t)every);
        int64_t bend = store__sat_add(out[k].start, every);
        uint32_t j = i + 1;
        while (j < g.on && g.ots[j] < bend)
            j++;
        struct store_bucket *bk = &out[k];
        if (numeric) {
            struct block_hsum h;
            block_hsum_fold(vt, g.ots + i, g.ov + i, j - i, &h);
            bucket_add(bk, &h);
        } else {
            bk->count = j - i;
            bk->first_ts = g.ots[i];
            bk->last_ts = g.ots[j - 1];
        }
        i = j;
    }
out:
    pthread_rwlock_unlock(&s->lock);
    gather_release(&g);
    return rc;
}

int store_latest(struct store *s, uint32_t sid, int64_t *ts, union vg_val *v)
{
    int rc = VG_OK;
    pthread_rwlock_rdlock(&s->lock);
    struct head_series *hs = series_get(s, sid);
    if (!hs || !hs->has_last) {
        rc = VG_ENOENT;
        goto out;
    }
    if (ts)
        *ts = hs->last_ts;
    if (v)
        *v = hs->last_v;
out:
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int store_set_retention(struct store *s, uint32_t group, int64_t keep_ms)
{
    if (keep_ms < 0)
        return VG_EINVAL;
    pthread_rwlock_wrlock(&s->lock);
    group_get(s, group, 1)->keep_ms = keep_ms;
    pthread_rwlock_unlock(&s->lock);
    return VG_OK;
}

/* ---- checkpoint --------------------------------------------------------------------------- */

struct ckpt_series {
    struct head_series *hs;
    uint32_t first, n; /* its frozen chunks: snap[first .. first+n) */
};

struct ckpt_writer {
    uint32_t group;
    int64_t pstart;
    struct block_writer w;
    int open;
    struct block *done;
};

static int cmp_ckpt_series(const void *a, const void *b)
{
    const struct ckpt_series *x = a, *y = b;
    return x->hs->sid < y->hs->sid ? -1 : x->hs->sid > y->hs->sid;
}

/* mkdir path and, if it was new, fsync its parent so the entry is durable. */
static int mkdir_durable(struct store *s, const char *path)
{
    if (io_exists(s->vfs, path))
        return VG_OK;
    int rc = io_mkdir(s->vfs, path);
    if (rc)
        return rc;
    char parent[PATH_CAP];
    snprintf(parent, sizeof(parent), "%s", path);
    char *sl = strrchr(parent, '/');
    if (sl) {
        *sl = '\0';
        rc = io_sync_dir(s->vfs, parent);
    }
    return rc;
}

static int open_writer(struct store *s, struct ckpt_writer *cw, uint32_t group, int64_t pstart)
{
    char dir[PATH_CAP];
    cw->group = group;
    cw->pstart = pstart;
    cw->open = 0;
    cw->done = NULL;
    snprintf(dir, sizeof(dir), "%s/part/%" PRIu32, s->dir, group);
    int rc = mkdir_durable(s, dir);
    if (rc)
        return rc;
    part_dir(s, group, pstart, dir, sizeof(dir));
    rc = mkdir_durable(s, dir);
    if (rc)
        return rc;
    rc = block_writer_open(&cw->w, s->vfs, dir, group, pstart, s->next_seq++);
    if (!rc)
        cw->open = 1;
    return rc;
}

/* Finish and commit every writer; install committed blocks. On failure the remaining writers
** are aborted; blocks already committed are still installed (they are valid and durable). */
static int commit_writers(struct store *s, struct ckpt_writer *cws, uint32_t ncw, int rc)
{
    for (uint32_t i = 0; i < ncw; i++) {
        if (!cws[i].open)
            continue;
        if (!rc)
            rc = block_writer_finish(&cws[i].w);
        if (!rc) {
            cws[i].open = 0;
            rc = block_writer_commit(&cws[i].w, &cws[i].done);
            if (rc)
                cws[i].done = NULL;
        } else {
            cws[i].open = 0;
            block_writer_abort(&cws[i].w);
        }
    }
    return rc;
}

static int checkpoint_locked(struct store *s)
{
    int rc = VG_OK;
    uint64_t lsn = 0;
    struct ckpt_series *cs = NULL;
    struct head_chunk *snap = NULL;
    size_t ncs = 0, nsnap = 0;
    struct ckpt_writer *cws = NULL;
    uint32_t ncw = 0, cwcap = 0;
    struct gather g;
    gather_init(&g, INT64_MIN, INT64_MAX);

    if (!s->recovered) { /* set under mlock, which we hold */
        rc = VG_EPERM;
        goto out;
    }
    /* Rotate before freezing, outside the store lock (the rotation fsyncs): every record before
    ** lsn was appended and applied inside a store_write lock section that ended before we get
    ** the lock below, so it is frozen. Records after lsn that also get frozen are merely
    ** replayed again after a crash (same values; the head wins). */
    rc = wal_rotate(s->wal, &lsn);
    if (rc)
        goto out;
    pthread_rwlock_wrlock(&s->lock);
    uint64_t since = s->wal_since_ckpt;
    s->wal_since_ckpt = 0;
    cs = vg_malloc((s->nser ? s->nser : 1) * sizeof(*cs));
    size_t snapcap = 0;
    for (size_t i = 0; i < s->nser; i++) {
        struct head_series *hs = s->ser[i];
        int src = head_series_seal(hs, &s->sc);
        (void)NEVER(src != 0);
        if (!hs->nch)
            continue;
        hs->nfrozen = hs->nch;
        if (nsnap + hs->nch > snapcap) {
            snapcap = (nsnap + hs->nch) * 2;
            snap = vg_realloc(snap, snapcap * sizeof(*snap));
        }
        memcpy(snap + nsnap, hs->ch, hs->nch * sizeof(*snap));
        cs[ncs].hs = hs;
        cs[ncs].first = (uint32_t)nsnap;
        cs[ncs].n = hs->nch;
        ncs++;
        nsnap += hs->nch;
    }
    pthread_rwlock_unlock(&s->lock);

    qsort(cs, ncs, sizeof(*cs), cmp_ckpt_series);
    for (size_t i = 0; i < ncs && !rc; i++) {
        struct head_series *hs = cs[i].hs;
        gather_release(&g);
        gather_init(&g, INT64_MIN, INT64_MAX);
        for (uint32_t j = 0; j < cs[i].n && !rc; j++) {
            const struct head_chunk *c = &snap[cs[i].first + j];
            rc = gather_chunk(&g, c->data, c->len, c->n);
        }
        if (rc)
            break;
        gather_merge(&g);
        for (uint32_t a = 0; a < g.on && !rc;) {
            int64_t pstart = store__align_down(g.ots[a], s->o.partition_ms);
            int64_t pend = store__sat_add(pstart, s->o.partition_ms);
            uint32_t b = a + lower_ts(g.ots + a, g.on - a, pend);
            if (b == a)
                b = g.on; /* last partition of the int64 range */
            struct ckpt_writer *cw = NULL;
            for (uint32_t k = 0; k < ncw; k++) {
                if (cws[k].group == hs->group && cws[k].pstart == pstart)
                    cw = &cws[k];
            }
            if (!cw) {
                if (ncw == cwcap) {
                    cwcap = cwcap ? cwcap * 2 : 8;
                    cws = vg_realloc(cws, cwcap * sizeof(*cws));
                }
                cw = &cws[ncw++];
                rc = open_writer(s, cw, hs->group, pstart);
                if (rc)
                    break;
            }
            rc = block_writer_add(&cw->w, hs->sid, hs->vt, g.ots + a, g.ov + a, b - a);
            a = b;
        }
    }
    rc = commit_writers(s, cws, ncw, rc);

    pthread_rwlock_wrlock(&s->lock);
    for (uint32_t k = 0; k < ncw; k++) {
        if (cws[k].done)
            part_add_block(part_get(group_get(s, cws[k].group, 1), cws[k].pstart, 1), cws[k].done);
    }
    for (size_t i = 0; i < ncs; i++) {
        if (!rc)
            head_series_drop_chunks(cs[i].hs, cs[i].n);
        cs[i].hs->nfrozen = 0;
    }
    if (!rc)
        s->checkpoints++;
    else
        s->wal_since_ckpt += since; /* keep a failed checkpoint due */
    pthread_rwlock_unlock(&s->lock);
    if (!rc)
        rc = wal_truncate_before(s->wal, lsn);
out:
    gather_release(&g);
    free(cs);
    free(snap);
    free(cws);
    return rc;
}

int store_checkpoint(struct store *s)
{
    pthread_mutex_lock(&s->mlock);
    int rc = checkpoint_locked(s);
    pthread_mutex_unlock(&s->mlock);
    return rc;
}

/* ---- compaction --------------------------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Merge the blocks olds[0..n) (ascending seq) of one partition into one new block. */
static int compact_part(struct store *s, uint32_t gid, int64_t pstart, struct block **olds,
                        uint32_t n)
{
    int rc = VG_OK;
    uint32_t *sids = NULL;
    size_t nsids = 0, tot = 0;
    struct ckpt_writer cw;
    struct gather g;
    memset(&cw, 0, sizeof(cw));
    gather_init(&g, INT64_MIN, INT64_MAX);
    for (uint32_t i = 0; i < n; i++)
        tot += olds[i]->nix;
    sids = vg_malloc((tot ? tot : 1) * sizeof(*sids));
    for (uint32_t i = 0; i < n; i++) {
        for (uint32_t j = 0; j < olds[i]->nix; j++)
            sids[nsids++] = olds[i]->ix[j].sid;
    }
    qsort(sids, nsids, sizeof(*sids), cmp_u32);
    rc = open_writer(s, &cw, gid, pstart);
    if (rc)
        goto out;
    for (size_t i = 0; i < nsids && !rc; i++) {
        if (i && sids[i] == sids[i - 1])
            continue;
        gather_release(&g);
        gather_init(&g, INT64_MIN, INT64_MAX);
        enum vg_vtype vt = VT_NONE;
        for (uint32_t bi = 0; bi < n && !rc; bi++) {
            const struct block *b = olds[bi];
            for (uint32_t k = block_find(b, sids[i]); k < b->nix && b->ix[k].sid == sids[i];
                 k++) {
                const struct block_entry *e = &b->ix[k];
                struct chunk_info ci;
                if (vt == VT_NONE) {
                    rc = chunk_info(block_chunk(b, e), e->len, &ci);
                    if (rc)
                        break;
                    vt = ci.vt;
                }
                rc = gather_chunk(&g, block_chunk(b, e), e->len, e->n);
                if (rc)
                    break;
            }
        }
        if (rc)
            break;
        gather_merge(&g);
        if (g.on)
            rc = block_writer_add(&cw.w, sids[i], vt, g.ots, g.ov, g.on);
    }
    rc = commit_writers(s, &cw, 1, rc);
    if (rc)
        goto out;
    pthread_rwlock_wrlock(&s->lock);
    struct part *p = part_get(group_get(s, gid, 1), pstart, 1);
    uint32_t k = 0;
    for (uint32_t i = 0; i < p->nb; i++) {
        int old = 0;
        for (uint32_t j = 0; j < n; j++)
            old |= p->b[i] == olds[j];
        if (!old)
            p->b[k++] = p->b[i];
    }
    p->nb = k;
    part_add_block(p, cw.done);
    s->compactions++;
    pthread_rwlock_unlock(&s->lock);
    /* No reader can hold the old blocks now: unlink and free them. */
    for (uint32_t j = 0; j < n; j++) {
        io_unlink(s->vfs, olds[j]->path);
        block_free(olds[j]);
    }
    char dir[PATH_CAP];
    part_dir(s, gid, pstart, dir, sizeof(dir));
    rc = io_sync_dir(s->vfs, dir);
out:
    gather_release(&g);
    free(sids);
    return rc;
}

static int compact_locked(struct store *s)
{
    int rc = VG_OK;
    for (;;) {
        uint32_t gid = 0, n = 0;
        int64_t pstart = 0;
        struct block **olds = NULL;
        pthread_rwlock_rdlock(&s->lock);
        for (uint32_t gi = 0; gi < s->ngroups && !olds; gi++) {
            struct group *g = s->groups[gi];
            for (uint32_t pi = 0; pi < g->np && !olds; pi++) {
                if (g->parts[pi].nb < 2)
                    continue;
                gid = g->id;
                pstart = g->parts[pi].start;
                n = g->parts[pi].nb;
                olds = vg_malloc(n * sizeof(*olds));
                memcpy(olds, g->parts[pi].b, n * sizeof(*olds));
            }
        }
        pthread_rwlock_unlock(&s->lock);
        if (!olds)
            break;
        rc = compact_part(s, gid, pstart, olds, n);
        free(olds);
        if (rc)
            break;
    }
    return rc;
}

int store_compact(struct store *s)
{
    pthread_mutex_lock(&s->mlock);
    int rc = compact_locked(s);
    pthread_mutex_unlock(&s->mlock);
    return rc;
}

/* ---- retention ---------------------------------------------------------------------------- */

/* Drop head points with ts < before (store lock held exclusively). */
static int head_drop_before(struct store *s, struct head_series *hs, int64_t before)
{
    int rc = VG_OK;
    int any = hs->rn && hs->rts[0] < before;
    for (uint32_t i = 0; i < hs->nch && !any; i++)
        any = hs->ch[i].min_ts < before;
    if (!any)
        return VG_OK;
    struct gather g;
    struct buf enc;
    gather_init(&g, before, INT64_MAX);
    buf_init(&enc, 0);
    /* Only the head: gather chunks and raw directly. */
    for (uint32_t i = 0; i < hs->nch && !rc; i++)
        rc = gather_chunk(&g, hs->ch[i].data, hs->ch[i].len, hs->ch[i].n);
    if (rc)
        goto out;
    gather_raw(&g, hs);
    gather_merge(&g);
    /* Encode the survivors before releasing anything (their strings may point into chunks). */
    struct head_chunk *nc = NULL;
    uint32_t nn = 0;
    for (uint32_t a = 0; a < g.on;) {
        uint32_t k = VG_MIN(g.on - a, BLOCK_CHUNK_POINTS);
        buf_reset(&enc);
        rc = chunk_encode(hs->vt, g.ots + a, g.ov + a, k, &enc);
        if (rc)
            break;
        nc = vg_realloc(nc, (nn + 1) * sizeof(*nc));
        nc[nn].data = vg_malloc(enc.len);
        memcpy(nc[nn].data, enc.p, enc.len);
        nc[nn].len = (uint32_t)enc.len;
        nc[nn].n = k;
        nc[nn].min_ts = g.ots[a];
        nc[nn].max_ts = g.ots[a + k - 1];
        nn++;
        a += k;
    }
    if (!rc) {
        uint32_t gen = hs->next_gen;
        head_series_release(hs);
        hs->next_gen = gen;
        for (uint32_t i = 0; i < nn; i++)
            head_series_add_chunk(hs, nc[i].data, nc[i].len, nc[i].n, nc[i].min_ts,
                                  nc[i].max_ts);
    } else {
        for (uint32_t i = 0; i < nn; i++)
            free(nc[i].data);
    }
    free(nc);
out:
    buf_release(&enc);
    gather_release(&g);
    return rc;
}

static int retention_locked(struct store *s, int64_t now)
{
    int rc = VG_OK;
    struct part *dropped = NULL;
    uint32_t *dgid = NULL;
    uint32_t nd = 0;
    pthread_rwlock_wrlock(&s->lock);
    for (uint32_t gi = 0; gi < s->ngroups; gi++) {
        struct group *g = s->groups[gi];
        if (g->keep_ms <= 0)
            continue;
        int64_t cutoff = store__sat_add(now, -g->keep_ms);
        uint32_t k = 0;
        while (k < g->np && store__sat_add(g->parts[k].start, s->o.partition_ms) <= cutoff)
            k++;
        if (!k)
            continue;
        dropped = vg_realloc(dropped, (nd + k) * sizeof(*dropped));
        dgid = vg_realloc(dgid, (nd + k) * sizeof(*dgid));
        memcpy(dropped + nd, g->parts, k * sizeof(*dropped));
        for (uint32_t i = 0; i < k; i++)
            dgid[nd + i] = g->id;
        nd += k;
        memmove(g->parts, g->parts + k, (g->np - k) * sizeof(*g->parts));
        g->np -= k;
    }
    /* Head points of expired partitions: ts below the start of the partition holding cutoff. */
    for (size_t i = 0; i < s->nser; i++) {
        struct head_series *hs = s->ser[i];
        struct group *g = group_get(s, hs->group, 0);
        if (!g || g->keep_ms <= 0)
            continue;
        int64_t before =
            store__align_down(store__sat_add(now, -g->keep_ms), s->o.partition_ms);
        int r2 = head_drop_before(s, hs, before);
        if (!rc)
            rc = r2;
        if (hs->has_last && hs->last_ts < before) {
            r2 = latest_recompute(s, hs);
            if (!rc)
                rc = r2;
        }
    }
    s->partitions_dropped += nd;
    pthread_rwlock_unlock(&s->lock);
    for (uint32_t i = 0; i < nd; i++) {
        char dir[PATH_CAP];
        for (uint32_t j = 0; j < dropped[i].nb; j++) {
            int r2 = io_unlink(s->vfs, dropped[i].b[j]->path);
            if (!rc && r2 && r2 != VG_ENOENT)
                rc = r2;
            block_free(dropped[i].b[j]);
        }
        free(dropped[i].b);
        part_dir(s, dgid[i], dropped[i].start, dir, sizeof(dir));
        /* NEEDSWORK: io.h has no rmdir; the empty directory goes away only if the backend's
        ** unlink accepts directories. Recovery skips empty partition directories. */
        io_unlink(s->vfs, dir);
        snprintf(dir, sizeof(dir), "%s/part/%" PRIu32, s->dir, dgid[i]);
        io_sync_dir(s->vfs, dir);
    }
    free(dropped);
    free(dgid);
    return rc;
}

int store_maintain(struct store *s, int64_t now_ms)
{
    int rc = VG_OK, r2;
    pthread_mutex_lock(&s->mlock);
    if (!s->recovered) {
        rc = VG_EPERM;
        goto out;
    }
    /* A checkpoint is due when the WAL is large, when writes have paused for a while (the
    ** head then goes to blocks, where hour summaries serve aggregates and recovery is short),
    ** or when the last checkpoint is old (bounds recovery time under constant load). */
    int64_t mono = clock_mono_ns();
    pthread_rwlock_rdlock(&s->lock);
    int due = s->wal_since_ckpt >= s->o.checkpoint_wal_bytes ||
              (s->wal_since_ckpt > 0 && (mono - s->last_write_ns > CKPT_IDLE_NS ||
                                         mono - s->last_ckpt_ns > CKPT_INTERVAL_NS));
    pthread_rwlock_unlock(&s->lock);
    if (due) {
        s->last_ckpt_ns = mono;
        rc = checkpoint_locked(s);
    }
    r2 = compact_locked(s);
    if (!rc)
        rc = r2;
    r2 = retention_locked(s, now_ms);
    if (!rc)
        rc = r2;
out:
    pthread_mutex_unlock(&s->mlock);
    return rc;
}

static void *maint_main(void *arg)
{
    struct store *s = arg;
    pthread_mutex_lock(&s->cvm);
    while (!s->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 2;
        while (!s->stop && !s->kick) {
            if (pthread_cond_timedwait(&s->cv, &s->cvm, &ts) != 0)
                break; /* timed out: the periodic pass */
        }
        s->kick = 0;
        if (s->stop)
            break;
        pthread_mutex_unlock(&s->cvm);
        /* A failed pass leaves its work due; the next pass retries it. */
        (void)store_maintain(s, clock_now_ms());
        pthread_mutex_lock(&s->cvm);
    }
    pthread_mutex_unlock(&s->cvm);
    return NULL;
}

/* ---- stats / close ------------------------------------------------------------------------ */

void store_get_stats(struct store *s, struct store_stats *st)
{
    memset(st, 0, sizeof(*st));
    pthread_rwlock_rdlock(&s->lock);
    st->series = s->nser;
    st->points_written = s->points_written;
    st->write_batches = s->write_batches;
    for (size_t i = 0; i < s->nser; i++) {
        st->head_points += head_series_points(s->ser[i]);
        st->head_bytes += head_series_bytes(s->ser[i]);
    }
    st->head_bytes += s->strs.bytes + s->hcap * sizeof(*s->htab);
    for (uint32_t gi = 0; gi < s->ngroups; gi++) {
        const struct group *g = s->groups[gi];
        for (uint32_t pi = 0; pi < g->np; pi++) {
            if (!g->parts[pi].nb)
                continue;
            st->partitions++;
            for (uint32_t bi = 0; bi < g->parts[pi].nb; bi++) {
                const struct block *b = g->parts[pi].b[bi];
                st->blocks++;
                st->chunks += b->nix;
                st->disk_bytes += b->size;
            }
        }
    }
    st->checkpoints = s->checkpoints;
    st->compactions = s->compactions;
    st->partitions_dropped = s->partitions_dropped;
    st->corrupt_blocks = s->corrupt_blocks;
    st->write_error = __atomic_load_n(&s->write_error, __ATOMIC_RELAXED);
    pthread_rwlock_unlock(&s->lock);
    if (s->wal)
        wal_get_stats(s->wal, &st->wal);
    st->disk_bytes += st->wal.size_on_disk;
}

static void stop_thread(struct store *s)
{
    if (!s->thread_on)
        return;
    pthread_mutex_lock(&s->cvm);
    s->stop = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->cvm);
    pthread_join(s->thread, NULL);
    s->thread_on = 0;
}

static void free_all(struct store *s)
{
    wal_close(s->wal);
    for (size_t i = 0; i < s->nser; i++) {
        head_series_release(s->ser[i]);
        free(s->ser[i]);
    }
    free(s->ser);
    free(s->htab);
    for (uint32_t gi = 0; gi < s->ngroups; gi++) {
        struct group *g = s->groups[gi];
        for (uint32_t pi = 0; pi < g->np; pi++) {
            for (uint32_t bi = 0; bi < g->parts[pi].nb; bi++)
                block_free(g->parts[pi].b[bi]);
            free(g->parts[pi].b);
        }
        free(g->parts);
        free(g);
    }
    free(s->groups);
    head_strs_release(&s->strs);
    head_scratch_release(&s->sc);
    buf_release(&s->rec);
    free(s->pser);
    pthread_rwlock_destroy(&s->lock);
    pthread_mutex_destroy(&s->mlock);
    pthread_mutex_destroy(&s->cvm);
    pthread_cond_destroy(&s->cv);
    free(s->dir);
    free(s);
}

void store_close(struct store *s)
{
    if (!s)
        return;
    pthread_rwlock_wrlock(&s->lock);
    s->closed = 1;
    pthread_rwlock_unlock(&s->lock);
    stop_thread(s);
    if (s->recovered)
        store_checkpoint(s); /* on failure the WAL still holds everything */
    free_all(s);
}

void store_abandon(struct store *s)
{
    if (!s)
        return;
    pthread_rwlock_wrlock(&s->lock);
    s->closed = 1;
    pthread_rwlock_unlock(&s->lock);
    stop_thread(s);
    free_all(s);
}
