/*
** api/h_query.c: GET /api/v1/query and GET /api/v1/latest, and query_run()/query_latest()
** which `vigie query` shares. Parameters (docs/api.md):
**   type, id, attr         selection (all optional for latest; query needs type or id)
**   where=TAG:VALUE        entity tag filter, repeatable (all must match)
**   from, to               RFC 3339 or epoch ms; [from, to). Defaults: to = now + 1 day,
**                          from = to - 1 day with agg, the beginning of time without
**   agg, every             downsampling: avg min max sum count first last stddev; every = 1h ...
**   limit                  raw points per series (default and cap: the server's max points)
** Answer: {"series":[{"id","type","attr","tags":{},"points":[[ts_ms,value],...]}]}
*/
#include "api/api_int.h"

#include "core/clock.h"
#include "ngsild/entstore.h"

#include <jansson.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int query_parse_duration(const char *s, int64_t *ms)
{
    int64_t v;
    if (clock_parse_duration(s, &v) || v < 1)
        return VG_EINVAL;
    *ms = v;
    return VG_OK;
}

static int json_text_valid(const char *p, size_t n)
{
    json_t *j = json_loadb(p, n, JSON_DECODE_ANY, NULL);
    json_decref(j);
    return j != NULL;
}

void api_value_json(struct buf *b, enum vg_vtype vt, const union vg_val *v)
{
    switch (vt) {
    case VT_F64: buf_json_double(b, v->f); break;
    case VT_I64: buf_i64(b, v->i); break;
    case VT_BOOL: buf_puts(b, v->i ? "true" : "false"); break;
    case VT_STR:
        /* a compound NGSI-LD value is stored as a marked JSON text: answer the JSON itself */
        if (v->s.len > 1 && v->s.p[0] == ENTSTORE_JSON_MARK && json_text_valid(v->s.p + 1,
                                                                                v->s.len - 1))
            buf_append(b, v->s.p + 1, v->s.len - 1);
        else /* (a line-protocol string may start with the same byte: it stays a string) */
            buf_json_str(b, v->s.p, v->s.len);
        break;
    case VT_GEO:
        buf_puts(b, "{\"lat\":");
        buf_json_double(b, v->geo.lat);
        buf_puts(b, ",\"lon\":");
        buf_json_double(b, v->geo.lon);
        buf_putc(b, '}');
        break;
    default: buf_puts(b, "null");
    }
}

/* ,"tags":{...} of a series' entity */
static void json_tags(struct buf *b, const struct catalog_series *cs)
{
    buf_puts(b, ",\"tags\":{");
    for (uint32_t i = 0; i < cs->ntags; i++) {
        if (i)
            buf_putc(b, ',');
        buf_json_str(b, cs->tags[i].key, cs->tags[i].klen);
        buf_putc(b, ':');
        buf_json_str(b, cs->tags[i].val, cs->tags[i].vlen);
    }
    buf_putc(b, '}');
}

static void json_series_head(struct buf *b, const struct catalog_series *cs, int first)
{
    buf_puts(b, first ? "{\"id\":" : ",{\"id\":");
    buf_json_str(b, cs->entity, strlen(cs->entity));
    buf_puts(b, ",\"type\":");
    buf_json_str(b, cs->type, strlen(cs->type));
    buf_puts(b, ",\"attr\":");
    buf_json_str(b, cs->attr, strlen(cs->attr));
    json_tags(b, cs);
}

struct run_ctx {
    struct store *st;
    const struct query_params *q;
    struct buf *out;
    uint32_t nseries, max_series;
    uint64_t npoints, max_points;
    struct store_points pts;
    struct store_bucket *buckets;
    uint32_t nb;
    int rc;
    char *err;
    size_t cap;
};

static int run_one(void *arg, const struct catalog_series *cs)
{
    struct run_ctx *c = arg;
    const struct query_params *q = c->q;
    struct buf *b = c->out;
    if (q->keep && !q->keep(q->keep_arg, cs->type, cs->attr))
        return 0;
    if (++c->nseries > c->max_series) {
        snprintf(c->err, c->cap, "the selection has more than %u series; narrow it",
                 c->max_series);
        return c->rc = VG_ETOOBIG;
    }
    json_series_head(b, cs, c->nseries == 1);
    buf_puts(b, ",\"points\":[");
    if (q->agg >= 0) {
        int rc = store_aggregate(c->st, cs->sid, q->from, q->to, q->every, c->buckets, c->nb);
        if (rc && rc != VG_ENOENT) {
            snprintf(c->err, c->cap, "cannot read series: %s", vg_strerror(rc));
            return c->rc = rc;
        }
        uint64_t nonempty = 0;
        for (uint32_t i = 0; !rc && i < c->nb; i++)
            nonempty += c->buckets[i].count != 0;
        if (c->npoints + nonempty > c->max_points) {
            snprintf(c->err, c->cap,
                     "the answer would hold more than %llu points; use a larger every, a shorter "
                     "range or a narrower selection",
                     (unsigned long long)c->max_points);
            return c->rc = VG_ETOOBIG;
        }
        int first = 1;
        for (uint32_t i = 0; !rc && i < c->nb; i++) {
            const struct store_bucket *bk = &c->buckets[i];
            if (bk->count == 0)
                continue;
            buf_puts(b, first ? "[" : ",[");
            first = 0;
            buf_i64(b, bk->start);
            buf_putc(b, ',');
            double v = store_bucket_value(bk, (enum store_agg)q->agg);
            if (q->agg == AGG_COUNT)
                buf_u64(b, bk->count);
            else
                buf_json_double(b, v);
            buf_putc(b, ']');
            c->npoints++;
        }
    } else {
        uint64_t left = c->max_points - c->npoints;
        uint32_t limit = q->limit ? q->limit : (uint32_t)VG_MIN(left + 1, (uint64_t)UINT32_MAX);
        int rc = store_read(c->st, cs->sid, q->from, q->to, limit, &c->pts);
        if (rc && rc != VG_ENOENT) {
            snprintf(c->err, c->cap, "cannot read series: %s", vg_strerror(rc));
            return c->rc = rc;
        }
        if (!rc && c->npoints + c->pts.n > c->max_points) {
            snprintf(c->err, c->cap,
                     "the answer would hold more than %llu points; use agg/every, a shorter "
                     "range or limit",
                     (unsigned long long)c->max_points);
            return c->rc = VG_ETOOBIG;
        }
        for (uint32_t i = 0; !rc && i < c->pts.n; i++) {
            buf_puts(b, i ? ",[" : "[");
            buf_i64(b, c->pts.ts[i]);
            buf_putc(b, ',');
            api_value_json(b, c->pts.vt, &c->pts.v[i]);
            buf_putc(b, ']');
        }
        if (!rc)
            c->npoints += c->pts.n;
    }
    buf_puts(b, "]}");
    return 0;
}

int query_run(struct store *st, struct catalog *cat, const struct query_params *q,
              uint32_t max_series, uint64_t max_points, struct buf *out, char *err, size_t cap)
{
    struct run_ctx c;
    memset(&c, 0, sizeof(c));
    c.st = st;
    c.q = q;
    c.out = out;
    c.max_series = max_series;
    c.max_points = max_points;
    c.err = err;
    c.cap = cap;
    store_points_init(&c.pts);
    if (q->agg >= 0) {
        if (q->every <= 0) {
            snprintf(err, cap, "agg needs every (for example every=1h)");
            return VG_EINVAL;
        }
        uint64_t nb = store_bucket_count(q->from, q->to, q->every);
        if (nb == 0 || nb > 100000) {
            snprintf(err, cap, "from/to/every give %llu buckets per series (1 to 100000 allowed)",
                     (unsigned long long)nb);
            return VG_EINVAL;
        }
        c.nb = (uint32_t)nb;
        c.buckets = vg_calloc(nb, sizeof(*c.buckets));
    }
    struct catalog_sel sel = {q->tenant, q->type, q->id, q->attr, q->where, q->nwhere};
    buf_puts(out, "{\"series\":[");
    int rc = catalog_select(cat, &sel, run_one, &c);
    buf_puts(out, "]}\n");
    free(c.buckets);
    store_points_release(&c.pts);
    if (rc && !c.rc)
        snprintf(err, cap, "selection failed: %s", vg_strerror(rc));
    return rc;
}

struct latest_ctx {
    const struct query_params *q;
    struct store *st;
    struct buf *out;
    uint32_t n, max_series;
    char *err;
    size_t cap;
    char entity[300]; /* by_entity: the entity whose object is open ("" = none) */
};

/* by=entity: {"id","type","tags":{},"values":{"attr":[ts,value],...}} per entity; the catalogue
** gives the series in entity order, so one object is open at a time. */
static void latest_entity_value(struct latest_ctx *c, const struct catalog_series *cs, int64_t ts,
                                const union vg_val *v)
{
    struct buf *b = c->out;
    if (strcmp(c->entity, cs->entity) != 0) {
        if (c->entity[0])
            buf_puts(b, "}},");
        snprintf(c->entity, sizeof(c->entity), "%s", cs->entity);
        buf_puts(b, "{\"id\":");
        buf_json_str(b, cs->entity, strlen(cs->entity));
        buf_puts(b, ",\"type\":");
        buf_json_str(b, cs->type, strlen(cs->type));
        json_tags(b, cs);
        buf_puts(b, ",\"values\":{");
    } else {
        buf_putc(b, ',');
    }
    buf_json_str(b, cs->attr, strlen(cs->attr));
    buf_puts(b, ":[");
    buf_i64(b, ts);
    buf_putc(b, ',');
    api_value_json(b, cs->vt, v);
    buf_putc(b, ']');
}

static int latest_one(void *arg, const struct catalog_series *cs)
{
    struct latest_ctx *c = arg;
    if (c->q->keep && !c->q->keep(c->q->keep_arg, cs->type, cs->attr))
        return 0;
    int64_t ts;
    union vg_val v;
    if (store_latest(c->st, cs->sid, &ts, &v))
        return 0; /* no point yet */
    if (++c->n > c->max_series) {
        snprintf(c->err, c->cap, "the selection has more than %u series; narrow it",
                 c->max_series);
        return VG_ETOOBIG;
    }
    if (c->q->by_entity) {
        latest_entity_value(c, cs, ts, &v);
        return 0;
    }
    json_series_head(c->out, cs, c->n == 1);
    buf_puts(c->out, ",\"ts\":");
    buf_i64(c->out, ts);
    buf_puts(c->out, ",\"value\":");
    api_value_json(c->out, cs->vt, &v);
    buf_putc(c->out, '}');
    return 0;
}

int query_latest(struct store *st, struct catalog *cat, const struct query_params *q,
                 uint32_t max_series, struct buf *out, char *err, size_t cap)
{
    struct latest_ctx c = {q, st, out, 0, max_series, err, cap, ""};
    struct catalog_sel sel = {q->tenant, q->type, q->id, q->attr, q->where, q->nwhere};
    buf_puts(out, q->by_entity ? "{\"entities\":[" : "{\"series\":[");
    int rc = catalog_select(cat, &sel, latest_one, &c);
    if (q->by_entity && c.entity[0])
        buf_puts(out, "}}");
    buf_puts(out, "]}\n");
    return rc;
}

static void add_where(void *arg, const char *value)
{
    struct query_params *q = arg;
    const char *colon = strchr(value, ':');
    if (q->nwhere >= VG_ARRAY_LEN(q->where)) {
        q->nwhere = UINT32_MAX; /* flag: too many */
        return;
    }
    if (q->nwhere == UINT32_MAX)
        return;
    struct vg_tag *t = &q->where[q->nwhere++];
    if (!colon) {
        t->key = NULL; /* flagged as malformed below */
        return;
    }
    t->key = value;
    t->klen = (uint32_t)(colon - value);
    t->val = colon + 1;
    t->vlen = (uint32_t)strlen(colon + 1);
}

int query_params_parse(const struct query_source *src, const char *tenant, int64_t now,
                       struct query_params *q, char keys[][128], char *err, size_t cap)
{
    memset(q, 0, sizeof(*q));
    q->tenant = tenant;
    q->type = src->get(src->ctx, "type");
    q->id = src->get(src->ctx, "id");
    q->attr = src->get(src->ctx, "attr");
    q->agg = -1;
    src->each(src->ctx, "where", add_where, q);
    if (q->nwhere == UINT32_MAX) {
        snprintf(err, cap, "at most %zu where= filters",
                VG_ARRAY_LEN(q->where));
        return VG_EINVAL;
    }
    for (uint32_t i = 0; i < q->nwhere; i++) {
        struct vg_tag *t = &q->where[i];
        if (!t->key || t->klen == 0 || t->klen >= 128) {
            snprintf(err, cap, "where= takes TAG:VALUE");
            return VG_EINVAL;
        }
        /* The catalogue compares NUL-terminated keys: copy the key part. */
        memcpy(keys[i], t->key, t->klen);
        keys[i][t->klen] = '\0';
        t->key = keys[i];
    }
    const char *s;
    if ((s = src->get(src->ctx, "agg"))) {
        q->agg = store_agg_parse(s);
        if (q->agg < 0) {
            snprintf(err, cap, "agg '%s' is not one of avg, min, max, sum, count, first, last, stddev", s);
            return VG_EINVAL;
        }
        s = src->get(src->ctx, "every");
        if (!s || query_parse_duration(s, &q->every)) {
            snprintf(err, cap, "agg needs every=<duration> such as 1h, 15m, 1d (got '%s')", s ? s : "");
            return VG_EINVAL;
        }
    } else if ((s = src->get(src->ctx, "every"))) {
        snprintf(err, cap, "every needs agg");
        return VG_EINVAL;
    }
    /* Defaults: raw reads everything up to a day ahead (clock skew of senders); an aggregate
    ** covers the last day up to now. */
    q->to = q->agg >= 0 ? now + 1 : now + 86400000;
    q->from = -((int64_t)1 << 60); /* with agg and no from: to - 1 day, below */
    if ((s = src->get(src->ctx, "to")) && clock_parse_time(s, strlen(s), &q->to)) {
        snprintf(err, cap, "to '%s' is neither RFC 3339 nor epoch ms", s);
        return VG_EINVAL;
    }
    if (q->to > ((int64_t)1 << 60) || q->to < -((int64_t)1 << 60)) {
        snprintf(err, cap, "to is out of range");
        return VG_EINVAL;
    }
    if ((s = src->get(src->ctx, "from"))) {
        if (clock_parse_time(s, strlen(s), &q->from)) {
            snprintf(err, cap, "from '%s' is neither RFC 3339 nor epoch ms", s);
            return VG_EINVAL;
        }
    } else if (q->agg >= 0) {
        q->from = q->to - 86400000;
    }
    const int64_t lim = (int64_t)1 << 60; /* keeps from/to arithmetic far from overflow */
    if (q->from < -lim)
        q->from = -lim;
    if (q->to > lim)
        q->to = lim;
    if (q->from >= q->to) {
        snprintf(err, cap, "from must be before to");
        return VG_EINVAL;
    }
    if ((s = src->get(src->ctx, "limit"))) {
        char *end;
        long long l = strtoll(s, &end, 10);
        if (*end || l <= 0 || l > 100000000) {
            snprintf(err, cap, "limit must be a positive integer");
            return VG_EINVAL;
        }
        q->limit = (uint32_t)l;
    }
    if ((s = src->get(src->ctx, "by"))) {
        if (strcmp(s, "entity") != 0) {
            snprintf(err, cap, "by takes 'entity'");
            return VG_EINVAL;
        }
        q->by_entity = 1;
    }
    return VG_OK;
}

/* Query parameters of an HTTP request. */
static const char *req_get(void *ctx, const char *name)
{
    return http_arg(ctx, name);
}

static void req_each(void *ctx, const char *name, void (*fn)(void *arg, const char *v), void *arg)
{
    http_args(ctx, name, fn, arg);
}

/* Parse the parameters; on error fills resp with a 400 problem and returns VG_EINVAL. public:
** the public tenant and only the series the configuration marks public, whoever asks. */
static int parse_params(struct api *a, struct http_req *req, struct http_resp *resp,
                        const struct principal *p, int public, struct query_params *q,
                        char keys[][128])
{
    struct query_source src = {req_get, req_each, req};
    char err[256];
    const char *tenant = public ? a->o.public_tenant : p->tenant;
    if (query_params_parse(&src, tenant, clock_now_ms(), q, keys, err, sizeof(err))) {
        problem(resp, 400, "bad-query", "Bad query", "%s", err);
        return VG_EINVAL;
    }
    if (public) {
        q->keep = api_public_filter;
        q->keep_arg = a;
    }
    return VG_OK;
}


/* GET /api/v1/query, and GET /api/v1/public/query (public = 1: the public tenant, public series
** only, whoever asks). */
static void query_answer(struct api *a, struct http_req *req, struct http_resp *resp,
                         const struct principal *p, int public)
{
    struct query_params q;
    char keys[16][128];
    char err[256] = "";
    if (parse_params(a, req, resp, p, public, &q, keys))
        return;
    if (!q.type && !q.id) {
        problem(resp, 400, "bad-query", "Bad query", "query needs type= or id=");
        return;
    }
    int rc = query_run(a->st, a->cat, &q, a->o.max_series, a->o.max_points, &resp->body, err,
                       sizeof(err));
    if (rc) {
        problem(resp, rc == VG_ETOOBIG || rc == VG_EINVAL ? 400 : 500,
                rc == VG_ETOOBIG ? "too-large" : rc == VG_EINVAL ? "bad-query" : "internal",
                "Query failed", "%s", err);
        return;
    }
    resp->status = 200;
    resp->ctype = "application/json";
}

void h_query(struct api *a, struct http_req *req, struct http_resp *resp, const struct principal *p)
{
    query_answer(a, req, resp, p, 0);
}

void h_public_query(struct api *a, struct http_req *req, struct http_resp *resp,
                    const struct principal *p)
{
    query_answer(a, req, resp, p, 1);
    http_resp_header(resp, "Access-Control-Allow-Origin", "*"); /* public data: any website */
}

static void latest_answer(struct api *a, struct http_req *req, struct http_resp *resp,
                          const struct principal *p, int public)
{
    struct query_params q;
    char keys[16][128];
    char err[256] = "";
    if (parse_params(a, req, resp, p, public, &q, keys))
        return;
    int rc = query_latest(a->st, a->cat, &q, a->o.max_series, &resp->body, err, sizeof(err));
    if (rc) {
        problem(resp, rc == VG_ETOOBIG ? 400 : 500, rc == VG_ETOOBIG ? "too-large" : "internal",
                "Query failed", "%s", err[0] ? err : vg_strerror(rc));
        return;
    }
    resp->status = 200;
    resp->ctype = "application/json";
}

void h_latest(struct api *a, struct http_req *req, struct http_resp *resp, const struct principal *p)
{
    latest_answer(a, req, resp, p, 0);
}

void h_public_latest(struct api *a, struct http_req *req, struct http_resp *resp,
                     const struct principal *p)
{
    latest_answer(a, req, resp, p, 1);
    http_resp_header(resp, "Access-Control-Allow-Origin", "*"); /* public data: any website */
}
