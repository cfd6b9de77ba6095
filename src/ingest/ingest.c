/*
** ingest/ingest.c: line protocol -> catalogue -> store, with quarantine of bad lines.
** Owns: struct ingest (counters) and, per call, the point array and the quarantine rows.
** Borrows: catalog, store, meta.
**
** Mapping (docs/api.md, "Line protocol"):
**   measurement        -> entity type
**   tag id_tags[0..]   -> entity id (first present of id, entity_id, sensor, device);
**                         otherwise the series key "measurement,tag=v,..." is the entity id
**   other tags         -> entity tags (indexed properties, used by where=)
**   each field         -> one attribute (series)
**   fields lat + lon   -> one geo attribute "location" (both floats, in range)
** Lines without a timestamp take now_ms. A line is bad when it does not parse, when an attribute
** changes type, or when names break the catalogue's limits: it is quarantined with its reason
** and the rest of the batch is stored.
** Thread: any thread; counters are atomics.
*/
#include "ingest/ingest.h"

#include "core/buf.h"
#include "core/log.h"
#include "core/utf8.h"
#include "ingest/validate.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INGEST_MAX_ID_TAGS 8
#define INGEST_FIRST_ERRORS 5
#define INGEST_MAX_POINTS 2000000 /* values per request: bounds memory per request */

static const char *const default_id_tags[] = {"id", "entity_id", "sensor", "device"};

struct ingest {
    struct catalog *cat;
    struct store *st;
    struct meta *meta;
    const char *id_tags[INGEST_MAX_ID_TAGS];
    uint32_t nid_tags;
    struct ingest_hook hook;
    struct validator *val;
    atomic_uint_fast64_t requests, lines, points, bad_lines, failed_batches;
};

int ingest_new(struct catalog *cat, struct store *st, struct meta *m,
               const struct ingest_lp_opts *opts, struct ingest **out)
{
    struct ingest *ig = vg_calloc(1, sizeof(*ig));
    ig->cat = cat;
    ig->st = st;
    ig->meta = m;
    const char *const *tags = default_id_tags;
    uint32_t n = VG_ARRAY_LEN(default_id_tags);
    if (opts && opts->nid_tags) {
        tags = opts->id_tags;
        n = opts->nid_tags;
    }
    if (n > INGEST_MAX_ID_TAGS) {
        free(ig);
        return VG_EINVAL;
    }
    for (uint32_t i = 0; i < n; i++)
        ig->id_tags[i] = vg_strdup(tags[i]);
    ig->nid_tags = n;
    *out = ig;
    return VG_OK;
}

const char *ingest_id_tag(const struct ingest *ig)
{
    return ig->id_tags[0];
}

void ingest_set_hook(struct ingest *ig, const struct ingest_hook *h)
{
    ig->hook = *h;
}

void ingest_set_validator(struct ingest *ig, struct validator *v)
{
    ig->val = v;
}

/* Validation of a line's values (schemas, operator rules). Returns 0 or VG_EINVAL with why. */
static int validate_line(struct ingest *ig, const char *tenant, const struct lp_line *ln,
                         const struct lp_field *lat, const struct lp_field *lon, const char *eid,
                         size_t elen, int64_t ts, char *why, size_t whycap)
{
    char type[256], entity[1024], attr[256], unit[64];
    if (!ig->val || ln->mlen >= sizeof(type) || elen >= sizeof(entity))
        return VG_OK; /* longer names are refused by the catalogue anyway */
    memcpy(type, ln->meas, ln->mlen);
    type[ln->mlen] = '\0';
    if (!validator_has_checks(ig->val, tenant, type))
        return VG_OK;
    memcpy(entity, eid, elen);
    entity[elen] = '\0';
    for (uint32_t f = 0; f < ln->nfields; f++) {
        const struct lp_field *fl = &ln->fields[f];
        if (fl == lat || fl == lon || fl->klen >= sizeof(attr) || memchr(fl->key, '@', fl->klen))
            continue; /* the location (range-checked by the mapping), unit fields */
        memcpy(attr, fl->key, fl->klen);
        attr[fl->klen] = '\0';
        /* The unit of this value when the same line carries it ("<attr>@unitCode"). */
        const char *u = NULL;
        for (uint32_t g = 0; g < ln->nfields; g++) {
            const struct lp_field *ul = &ln->fields[g];
            if (ul->vt == VT_STR && ul->klen == fl->klen + sizeof(INGEST_UNIT_SUFFIX) - 1 &&
                !memcmp(ul->key, fl->key, fl->klen) &&
                !memcmp(ul->key + fl->klen, INGEST_UNIT_SUFFIX,
                        sizeof(INGEST_UNIT_SUFFIX) - 1) && ul->v.s.len < sizeof(unit)) {
                memcpy(unit, ul->v.s.p, ul->v.s.len);
                unit[ul->v.s.len] = '\0';
                u = unit;
            }
        }
        int rc = validator_check(ig->val, tenant, type, entity, attr, fl->vt, &fl->v, ts, u, why,
                                 whycap);
        if (rc)
            return rc;
    }
    return VG_OK;
}

void ingest_free(struct ingest *ig)
{
    if (!ig)
        return;
    for (uint32_t i = 0; i < ig->nid_tags; i++)
        free((char *)ig->id_tags[i]);
    free(ig);
}

void ingest_get_stats(struct ingest *ig, struct ingest_stats *st)
{
    st->requests = atomic_load(&ig->requests);
    st->lines = atomic_load(&ig->lines);
    st->points = atomic_load(&ig->points);
    st->bad_lines = atomic_load(&ig->bad_lines);
    st->failed_batches = atomic_load(&ig->failed_batches);
}

_Static_assert(sizeof(struct ingest_update) <= 64, "an update fits one cache line");

/* Per-call state: points to write, bad lines to quarantine. */
struct batch {
    struct store_point *pts;
    size_t npts, cap;
    struct meta_quarantine_row *bad;
    uint32_t nbad, badcap;
    char **reasons; /* owned copies, parallel to bad */
    struct ingest_update *upd; /* for the hook's apply: values borrowed; names in `names`
                                  (below): until batch_fix_names, entity, type and attr hold
                                  their offsets there + 1 */
    uint32_t nupd, capupd;
    struct buf names;          /* NUL-terminated names of the updates, one arena per call */
    /* the previous line's type and field names in the arena: consecutive lines of one
    ** measurement reuse them instead of copying them again */
    struct name_ref { uint32_t off, len; } prev_type, prev_keys[16];
    struct ingest_result *res;
    uint32_t body_lines;       /* a guess of the lines of the request body */
    const char *source;        /* the caller's source name, for the hook's updates */
};

/* Copy a name into the arena; returns its offset. */
static uint32_t batch_name(struct batch *b, const char *p, size_t n)
{
    uint32_t off = (uint32_t)b->names.len;
    buf_append(&b->names, p, n);
    buf_putc(&b->names, '\0');
    return off;
}

/* batch_name, unless ref already holds the same name (then ref's offset); ref is updated. */
static uint32_t batch_name_reuse(struct batch *b, struct name_ref *ref, const char *p, size_t n)
{
    if (ref->len == n + 1 && !memcmp(b->names.p + ref->off, p, n))
        return ref->off;
    ref->off = batch_name(b, p, n);
    ref->len = (uint32_t)n + 1; /* 0 = unset */
    return ref->off;
}

/* An update for the hook's apply; its names are arena offsets (+ 1, in the pointers) until
** batch_fix_names. One allocation per batch, not three per value: apply sees every value while
** a live stream watches. */
static void batch_add_update(struct batch *b, uint32_t eoff, uint32_t toff, uint32_t aoff,
                             enum vg_vtype vt, const struct store_point *p)
{
    if (b->nupd == b->capupd) {
        /* first time: room for a value per line of the body (guessed from its length), so that
        ** a large batch does not regrow its arrays a dozen times */
        b->capupd = b->capupd ? b->capupd * 2 : VG_MAX(16u, b->body_lines);
        b->upd = vg_realloc(b->upd, b->capupd * sizeof(*b->upd));
    }
    struct ingest_update *u = &b->upd[b->nupd++];
    u->entity = (const char *)(uintptr_t)(eoff + 1u);
    u->type = (const char *)(uintptr_t)(toff + 1u);
    u->attr = (const char *)(uintptr_t)(aoff + 1u);
    u->vt = vt;
    u->v = p->v;
    u->ts = p->ts;
    u->sid = p->sid;
    u->source = b->source;
}

/* The arena does not move any more: point the updates' names into it. */
static const char *name_at(const struct batch *b, const char *off1)
{
    return b->names.p + ((uintptr_t)off1 - 1u);
}

static void batch_fix_names(struct batch *b)
{
    for (uint32_t i = 0; i < b->nupd; i++) {
        struct ingest_update *u = &b->upd[i];
        u->entity = name_at(b, u->entity);
        u->type = name_at(b, u->type);
        u->attr = name_at(b, u->attr);
    }
}

static void batch_add_point(struct batch *b, uint32_t sid, int64_t ts, union vg_val v)
{
    if (b->npts == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 4096;
        b->pts = vg_realloc(b->pts, b->cap * sizeof(*b->pts));
    }
    struct store_point *p = &b->pts[b->npts++];
    p->sid = sid;
    p->ts = ts;
    p->v = v;
}

static void batch_add_bad(struct batch *b, const char *tenant, const char *source,
                          const struct lp_line *ln, const char *reason)
{
    struct ingest_result *res = b->res;
    res->bad++;
    size_t used = strlen(res->first_errors);
    if (res->bad <= INGEST_FIRST_ERRORS && used + 16 < sizeof(res->first_errors))
        snprintf(res->first_errors + used, sizeof(res->first_errors) - used, "%sline %u: %s",
                 used ? "; " : "", ln->lineno, reason);
    if (b->nbad == b->badcap) {
        b->badcap = b->badcap ? b->badcap * 2 : 16;
        b->bad = vg_realloc(b->bad, b->badcap * sizeof(*b->bad));
        b->reasons = vg_realloc(b->reasons, b->badcap * sizeof(*b->reasons));
    }
    struct meta_quarantine_row *q = &b->bad[b->nbad];
    memset(q, 0, sizeof(*q));
    q->tenant = tenant;
    q->source = source;
    b->reasons[b->nbad] = vg_strdup(reason);
    q->reason = b->reasons[b->nbad];
    q->raw = ln->raw;
    q->raw_len = ln->raw_len;
    b->nbad++;
}

static void batch_release(struct batch *b)
{
    free(b->upd);
    buf_release(&b->names);
    for (uint32_t i = 0; i < b->nbad; i++)
        free(b->reasons[i]);
    free(b->reasons);
    free(b->bad);
    free(b->pts);
}

/* Find the entity id among the tags; returns the tag index or -1. */
static int find_id_tag(const struct ingest *ig, const struct lp_line *ln)
{
    for (uint32_t k = 0; k < ig->nid_tags; k++) {
        size_t kl = strlen(ig->id_tags[k]);
        for (uint32_t t = 0; t < ln->ntags; t++)
            if (ln->tags[t].klen == kl && memcmp(ln->tags[t].key, ig->id_tags[k], kl) == 0)
                return (int)t;
    }
    return -1;
}


static int is_field(const struct lp_field *f, const char *name)
{
    size_t n = strlen(name);
    return f->klen == n && memcmp(f->key, name, n) == 0;
}

/* Map one parsed line to points. Returns 0, or a reason string for quarantine via *why. */
static int map_line(struct ingest *ig, const char *tenant, const struct lp_line *ln, int64_t ts,
                    struct batch *b, char *why, size_t whycap)
{
    struct vg_tag tags[LP_MAX_TAGS];
    uint32_t ntags = 0;
    const char *eid;
    size_t elen;
    char keybuf[1024];
    int idt = find_id_tag(ig, ln);
    for (uint32_t t = 0; t < ln->ntags; t++)
        if ((int)t != idt)
            tags[ntags++] = ln->tags[t];
    if (idt >= 0) {
        eid = ln->tags[idt].val;
        elen = ln->tags[idt].vlen;
    } else {
        /* No id tag: the series key (measurement + tags as written) names the entity. */
        struct buf k;
        buf_init(&k, sizeof(keybuf) - 1);
        int rc = buf_append(&k, ln->meas, ln->mlen);
        for (uint32_t t = 0; !rc && t < ln->ntags; t++) {
            rc = buf_putc(&k, ',');
            if (!rc)
                rc = buf_append(&k, ln->tags[t].key, ln->tags[t].klen);
            if (!rc)
                rc = buf_putc(&k, '=');
            if (!rc)
                rc = buf_append(&k, ln->tags[t].val, ln->tags[t].vlen);
        }
        if (rc) {
            buf_release(&k);
            snprintf(why, whycap, "series key longer than %zu bytes and no id tag",
                     sizeof(keybuf) - 1);
            return VG_EINVAL;
        }
        memcpy(keybuf, k.p, k.len);
        elen = k.len;
        buf_release(&k);
        eid = keybuf;
    }

    const struct lp_field *lat = NULL, *lon = NULL;
    for (uint32_t f = 0; f < ln->nfields; f++) {
        if (ln->fields[f].vt == VT_F64 && is_field(&ln->fields[f], "lat"))
            lat = &ln->fields[f];
        else if (ln->fields[f].vt == VT_F64 && is_field(&ln->fields[f], "lon"))
            lon = &ln->fields[f];
    }
    if (lat && lon) {
        double la = lat->v.f, lo = lon->v.f;
        if (!(la >= -90 && la <= 90 && lo >= -180 && lo <= 180)) {
            snprintf(why, whycap, "lat/lon out of range (%g, %g)", la, lo);
            return VG_EINVAL;
        }
    } else {
        lat = lon = NULL;
    }

    if (validate_line(ig, tenant, ln, lat, lon, eid, elen, ts, why, whycap))
        return VG_EINVAL;
    size_t mark = b->npts;
    for (uint32_t f = 0; f < ln->nfields; f++) {
        const struct lp_field *fl = &ln->fields[f];
        if (fl == lat || fl == lon)
            continue;
        if (fl->vt == VT_STR && !utf8_valid((const unsigned char *)fl->v.s.p, fl->v.s.len)) {
            b->npts = mark;
            snprintf(why, whycap, "string value of field '%.*s' is not valid UTF-8",
                     (int)VG_MIN(fl->klen, 200u), fl->key);
            return VG_EINVAL;
        }
        uint32_t sid;
        int rc = catalog_resolve(ig->cat, tenant, strlen(tenant), ln->meas, ln->mlen, eid, elen,
                                 tags, ntags, fl->key, fl->klen, fl->vt, &sid);
        if (rc) {
            b->npts = mark;
            if (rc == VG_ETYPE)
                snprintf(why, whycap,
                         "type conflict: entity '%.*s' exists with another type than '%.*s', or "
                         "its attribute '%.*s' stores another value type than %s",
                         (int)VG_MIN(elen, 200u), eid, (int)VG_MIN(ln->mlen, 100u), ln->meas,
                         (int)VG_MIN(fl->klen, 200u), fl->key, vg_vtype_name(fl->vt));
            else
                snprintf(why, whycap, "cannot map field '%.*s': %s", (int)VG_MIN(fl->klen, 200u),
                         fl->key, vg_strerror(rc));
            return rc;
        }
        batch_add_point(b, sid, ts, fl->v);
    }
    if (lat) {
        uint32_t sid;
        int rc = catalog_resolve(ig->cat, tenant, strlen(tenant), ln->meas, ln->mlen, eid, elen,
                                 tags, ntags, "location", 8, VT_GEO, &sid);
        if (rc) {
            b->npts = mark;
            snprintf(why, whycap, "cannot map lat/lon to 'location': %s", vg_strerror(rc));
            return rc;
        }
        union vg_val v;
        v.geo.lat = lat->v.f;
        v.geo.lon = lon->v.f;
        batch_add_point(b, sid, ts, v);
    }
    /* The line is mapped: its values with their names, if the hook's apply wants them (field
    ** order, then location). */
    if (idt >= 0 && ig->hook.wants && ig->hook.wants(ig->hook.arg, tenant, eid, elen)) {
        size_t i = mark;
        uint32_t eo = batch_name(b, eid, elen);
        uint32_t to = batch_name_reuse(b, &b->prev_type, ln->meas, ln->mlen);
        for (uint32_t f = 0; f < ln->nfields; f++) {
            const struct lp_field *fl = &ln->fields[f];
            if (fl == lat || fl == lon)
                continue;
            uint32_t ao = f < VG_ARRAY_LEN(b->prev_keys)
                              ? batch_name_reuse(b, &b->prev_keys[f], fl->key, fl->klen)
                              : batch_name(b, fl->key, fl->klen);
            batch_add_update(b, eo, to, ao, fl->vt, &b->pts[i++]);
        }
        if (lat)
            batch_add_update(b, eo, to, batch_name(b, "location", 8), VT_GEO, &b->pts[i]);
    }
    return VG_OK;
}

int ingest_lp(struct ingest *ig, const char *tenant, const char *source, const char *body,
              size_t len, enum lp_precision prec, int64_t now_ms, struct ingest_result *res)
{
    struct lp_parser *ps = vg_malloc(sizeof(*ps));
    struct lp_line *ln = vg_malloc(sizeof(*ln));
    struct batch b;
    char err[256];
    int rc = VG_OK;

    memset(res, 0, sizeof(*res));
    memset(&b, 0, sizeof(b));
    buf_init(&b.names, 0);
    b.res = res;
    b.source = source;
    /* the hook's arrays start at a guess of the lines of the body (batch_add_update) */
    b.body_lines = (uint32_t)VG_MIN(len / 40, (size_t)INGEST_MAX_POINTS);
    atomic_fetch_add(&ig->requests, 1);
    lp_init(ps, body, len);
    for (;;) {
        int r = lp_next(ps, ln, err, sizeof(err));
        if (r == 0)
            break;
        res->lines++;
        if (r < 0) {
            batch_add_bad(&b, tenant, source, ln, err);
            continue;
        }
        if (b.npts + ln->nfields > INGEST_MAX_POINTS) {
            snprintf(res->first_errors, sizeof(res->first_errors),
                     "more than %d values in one request; send smaller batches",
                     INGEST_MAX_POINTS);
            rc = VG_ETOOBIG;
            goto out;
        }
        int64_t ts = ln->has_ts ? lp_ts_to_ms(ln->ts, prec) : now_ms;
        if (map_line(ig, tenant, ln, ts, &b, err, sizeof(err)))
            batch_add_bad(&b, tenant, source, ln, err);
    }
    /* Good points first, then the rejects: the batch is acknowledged only once both are
    ** durable, and a batch refused by the store (disk full) leaves no quarantine rows behind
    ** to be duplicated when the client retries it. */
    if (b.npts) {
        rc = catalog_sync(ig->cat);
        if (rc)
            goto out;
        rc = store_write(ig->st, b.pts, b.npts);
        if (rc)
            goto out;
    }
    if (b.nbad) {
        static const char *const precs[] = {"ns", "us", "ms", "s"};
        for (uint32_t i = 0; i < b.nbad; i++) { /* replay reads the timestamps the same way */
            b.bad[i].format = "lp";
            b.bad[i].context = precs[prec];
        }
        rc = meta_quarantine_add(ig->meta, b.bad, b.nbad);
        if (rc)
            goto out;
    }
    res->points = b.npts;
    if (b.npts && ig->hook.points)
        ig->hook.points(ig->hook.arg, tenant, source, b.pts, b.npts);
    if (b.nupd && ig->hook.apply) {
        batch_fix_names(&b);
        ig->hook.apply(ig->hook.arg, tenant, b.upd, b.nupd);
    }
out:
    res->store_rc = rc;
    atomic_fetch_add(&ig->lines, res->lines);
    atomic_fetch_add(&ig->bad_lines, res->bad);
    if (rc)
        atomic_fetch_add(&ig->failed_batches, 1);
    else
        atomic_fetch_add(&ig->points, res->points);
    batch_release(&b);
    free(ln);
    free(ps);
    return rc;
}
