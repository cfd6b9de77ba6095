/*
** api/h_entities.c: NGSI-LD /entities and /entities/{id}[/attrs[/{attrId}]] (ETSI GS CIM 009
** cl. 5.6 and 5.7, 6.4 to 6.7), and the entity query shared with /entityOperations/query and the
** temporal API: id, idPattern, type (type selection), attrs, q, scopeQ, geo-query, pick/omit,
** limit/offset/count with NGSILD-Results-Count and paging Link headers.
*/
#include "api/ngsild_int.h"

#include "core/log.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the entity query --------------------------------------------------------------------- */

/* Type selection (cl. 4.17): "A,B" or "A|B" = any of; "A;B" = all of; parentheses group one
** level ("(A;B)|C"). Result: DNF, an array of arrays of expanded type IRIs. */
static json_t *parse_types(struct ld_req *r, const char *s, char *err, size_t cap)
{
    json_t *dnf = json_array();
    json_t *conj = json_array();
    char name[512];
    size_t n = 0;
    int depth = 0;
    for (const char *p = s;; p++) {
        char c = *p;
        if (c == '(' || c == ')') {
            depth += c == '(' ? 1 : -1;
            if (depth < 0 || depth > 1) {
                snprintf(err, cap, "type: unbalanced or nested parentheses");
                goto fail;
            }
            continue;
        }
        if (c == ',' || c == '|' || c == ';' || c == '\0') {
            if (!n) {
                snprintf(err, cap, "type: empty type name in '%s'", s);
                goto fail;
            }
            name[n] = '\0';
            json_array_append_new(conj, json_string(ldctx_expand(r->ctx, name)));
            n = 0;
            if (c != ';') {
                json_array_append_new(dnf, conj);
                conj = json_array();
            }
            if (c == '\0')
                break;
            continue;
        }
        if ((unsigned char)c <= ' ' || c == '"' || c == '<' || c == '>' || n + 1 >= sizeof(name)) {
            snprintf(err, cap, "type: invalid character or name too long in '%s'", s);
            goto fail;
        }
        name[n++] = c;
    }
    json_decref(conj);
    if (depth) {
        snprintf(err, cap, "type: unbalanced parentheses");
        json_decref(dnf);
        return NULL;
    }
    return dnf;
fail:
    json_decref(conj);
    json_decref(dnf);
    return NULL;
}

static int types_match(const json_t *dnf, const json_t *e)
{
    size_t i, j;
    json_t *conj, *t;
    json_array_foreach(dnf, i, conj) {
        int all = 1;
        json_array_foreach(conj, j, t) all &= entity_has_type(e, json_string_value(t));
        if (all)
            return 1;
    }
    return 0;
}

static json_t *csv_strings(const char *s)
{
    json_t *a = json_array();
    while (s && *s) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n)
            json_array_append_new(a, json_stringn(s, n));
        s = e ? e + 1 : NULL;
    }
    return a;
}

/* Query members come from the query string (GET) or from a Query body (POST .../query). */
struct qsrc {
    struct ld_req *r;
    const json_t *body;
    char tmp[8][2048];
};

static const char *qget(struct qsrc *s, const char *name, int slot)
{
    if (!s->body)
        return ld_arg(s->r, name);
    const json_t *v = json_object_get(s->body, name);
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_array(v)) { /* attrs: ["a","b"] -> "a,b" */
        size_t i, n = 0;
        json_t *x;
        s->tmp[slot][0] = '\0';
        json_array_foreach(v, i, x) {
            const char *t = json_string_value(x);
            if (!t)
                continue;
            n += (size_t)snprintf(s->tmp[slot] + n, sizeof(s->tmp[slot]) - n, "%s%s", i ? "," : "",
                                  t);
            if (n >= sizeof(s->tmp[slot]))
                break;
        }
        return s->tmp[slot];
    }
    return NULL;
}

int ld_query_parse(struct ld_req *r, struct ld_query *q, const json_t *body_query)
{
    memset(q, 0, sizeof(*q));
    struct qsrc src = {r, body_query, {{0}}};
    char err[512] = "";
    const char *ids = NULL, *idp = NULL, *type = NULL;
    const char *georel = NULL, *geometry = NULL, *coords = NULL, *geoprop = NULL;
    char *coords_text = NULL; /* coordinates given as JSON in a Query body */
    if (body_query) {
        const json_t *ents = json_object_get(body_query, "entities");
        if (ents && !json_is_array(ents)) {
            ld_error(r, 400, "BadRequestData", "entities: expected an array of EntitySelector");
            return -1;
        }
        /* several selectors: an entity matching any of them is selected */
        size_t i;
        json_t *js;
        if (json_array_size(ents) > LD_MAX_SELECTORS) {
            ld_error(r, 400, "BadRequestData", "entities: at most %d selectors",
                     LD_MAX_SELECTORS);
            return -1;
        }
        json_array_foreach(ents, i, js) {
            struct ld_selector *sl = &q->sel[q->nsel++];
            const char *ip = json_string_value(json_object_get(js, "idPattern"));
            const char *ty = json_string_value(json_object_get(js, "type"));
            sl->id = json_string_value(json_object_get(js, "id"));
            if (!json_is_object(js) || (!sl->id && !ip && !ty)) {
                ld_error(r, 400, "BadRequestData",
                         "entities[%zu]: an EntitySelector needs id, idPattern or type", i);
                goto fail;
            }
            if (sl->id && !entity_uri_valid(sl->id)) {
                ld_error(r, 400, "BadRequestData", "entities[%zu].id: '%s' is not a valid URI", i,
                         sl->id);
                goto fail;
            }
            if (ip) {
                sl->id_pattern = vg_calloc(1, sizeof(*sl->id_pattern));
                if (q_regex_compile(sl->id_pattern, ip, err, sizeof(err))) {
                    free(sl->id_pattern);
                    sl->id_pattern = NULL;
                    ld_error(r, 400, "BadRequestData", "entities[%zu].idPattern: %s", i, err);
                    goto fail;
                }
            }
            if (ty && !(sl->types = parse_types(r, ty, err, sizeof(err)))) {
                ld_error(r, 400, "BadRequestData", "entities[%zu].%s", i, err);
                goto fail;
            }
        }
        const json_t *gq = json_object_get(body_query, "geoQ");
        if (gq) {
            georel = json_string_value(json_object_get(gq, "georel"));
            geometry = json_string_value(json_object_get(gq, "geometry"));
            geoprop = json_string_value(json_object_get(gq, "geoproperty"));
            const json_t *c = json_object_get(gq, "coordinates");
            if (json_is_string(c))
                coords = json_string_value(c);
            else if (c)
                coords = coords_text = json_dumps(c, JSON_COMPACT | JSON_ENCODE_ANY);
        }
    } else {
        ids = ld_arg(r, "id");
        idp = ld_arg(r, "idPattern");
        type = ld_arg(r, "type");
        georel = ld_arg(r, "georel");
        geometry = ld_arg(r, "geometry");
        coords = ld_arg(r, "coordinates");
        geoprop = ld_arg(r, "geoproperty");
    }
    const char *attrs = qget(&src, "attrs", 0);
    const char *qs = qget(&src, "q", 1);
    const char *scopeq = qget(&src, "scopeQ", 2);

    if (ids) {
        q->ids = csv_strings(ids);
        size_t i;
        json_t *x;
        json_array_foreach(q->ids, i, x) if (!entity_uri_valid(json_string_value(x)))
        {
            ld_error(r, 400, "BadRequestData", "id: '%s' is not a valid URI", json_string_value(x));
            goto fail;
        }
        if (json_array_size(q->ids) > 1000) {
            ld_error(r, 400, "BadRequestData", "id: at most 1000 ids per query");
            goto fail;
        }
    }
    if (idp) {
        q->id_pattern = vg_calloc(1, sizeof(*q->id_pattern));
        if (q_regex_compile(q->id_pattern, idp, err, sizeof(err))) {
            free(q->id_pattern);
            q->id_pattern = NULL;
            ld_error(r, 400, "BadRequestData", "idPattern: %s", err);
            goto fail;
        }
    }
    if (type && strcmp(type, "*") != 0) {
        q->types = parse_types(r, type, err, sizeof(err));
        if (!q->types) {
            ld_error(r, 400, "BadRequestData", "%s", err);
            goto fail;
        }
    }
    if (attrs && *attrs)
        q->attrs = ld_name_list(r, attrs, 1);
    if (qs && *qs) {
        if (q_parse(qs, strlen(qs), ld_q_expand, r->ctx, &q->q, err, sizeof(err))) {
            ld_error(r, 400, "BadRequestData", "%s", err);
            goto fail;
        }
    }
    if (scopeq && *scopeq) {
        if (scopeq_parse(scopeq, strlen(scopeq), &q->scopeq, err, sizeof(err))) {
            ld_error(r, 400, "BadRequestData", "%s", err);
            goto fail;
        }
    }
    if (georel || geometry || coords) {
        if (!georel || !geometry || !coords) {
            ld_error(r, 400, "BadRequestData",
                     "a geo-query needs georel, geometry and coordinates together");
            goto fail;
        }
        if (georel_parse(georel, &q->georel, err, sizeof(err))) {
            ld_error(r, 400, "BadRequestData", "georel: %s", err);
            goto fail;
        }
        if (geo_parse_query(geometry, coords, &q->geom, err, sizeof(err))) {
            ld_error(r, 400, "BadRequestData", "geometry/coordinates: %s", err);
            goto fail;
        }
        q->geoprop = ldctx_expand(r->ctx, geoprop && *geoprop ? geoprop : "location");
    }
    free(coords_text);
    return 0;
fail:
    free(coords_text);
    ld_query_release(q);
    return -1;
}

void ld_query_release(struct ld_query *q)
{
    for (int i = 0; i < q->nsel; i++) {
        if (q->sel[i].id_pattern) {
            regfree(q->sel[i].id_pattern);
            free(q->sel[i].id_pattern);
        }
        json_decref(q->sel[i].types);
    }
    json_decref(q->ids);
    if (q->id_pattern) {
        regfree(q->id_pattern);
        free(q->id_pattern);
    }
    json_decref(q->types);
    q_free(q->q);
    scopeq_free(q->scopeq);
    geo_free(q->geom);
    json_decref(q->attrs);
    memset(q, 0, sizeof(*q));
}

static int selector_match(const struct ld_selector *sl, const json_t *e)
{
    const char *id = json_string_value(json_object_get(e, "id"));
    if (sl->id && strcmp(sl->id, id))
        return 0;
    if (sl->id_pattern && regexec(sl->id_pattern, id, 0, NULL, 0))
        return 0;
    return !sl->types || types_match(sl->types, e);
}

int ld_query_has_filter(const struct ld_query *q)
{
    return q->nsel || q->ids || q->id_pattern || q->types || q->attrs || q->q || q->geom ||
           q->scopeq;
}

int ld_query_match(void *arg, const json_t *e)
{
    const struct ld_query *q = arg;
    if (q->nsel) {
        int any = 0;
        for (int i = 0; i < q->nsel && !any; i++)
            any = selector_match(&q->sel[i], e);
        if (!any)
            return 0;
    }
    if (q->id_pattern &&
        regexec(q->id_pattern, json_string_value(json_object_get(e, "id")), 0, NULL, 0))
        return 0;
    if (q->types && !types_match(q->types, e))
        return 0;
    if (q->attrs) {
        const json_t *attrs = json_object_get(e, "attrs");
        size_t i;
        json_t *a;
        int any = 0;
        json_array_foreach(q->attrs, i, a) any |= json_object_get(attrs, json_string_value(a)) != NULL;
        if (!any)
            return 0;
    }
    if (q->q && !q_match(q->q, e))
        return 0;
    if (q->scopeq && !scopeq_match(q->scopeq, json_object_get(e, "scope")))
        return 0;
    if (q->geom) {
        const json_t *inst = entity_attr_default(e, q->geoprop);
        const char *kind = inst ? json_string_value(json_object_get(inst, "type")) : NULL;
        /* only a GeoProperty is a geometry (cl. 4.10): a Property holding GeoJSON is not */
        const json_t *g = kind && !strcmp(kind, "GeoProperty") ? json_object_get(inst, "value")
                                                               : NULL;
        struct geo_shape *shape = NULL;
        char err[64];
        if (!g || geo_parse_json(g, &shape, err, sizeof(err)))
            return 0;
        int ok = geo_match(&q->georel, q->geom, shape);
        geo_free(shape);
        if (!ok)
            return 0;
    }
    return 1;
}

void ld_query_hints(const struct ld_query *q, struct ld_scan_hints *h, struct entstore_scan *s)
{
    memset(s, 0, sizeof(*s));
    if (q->ids) {
        size_t i;
        json_t *x;
        json_array_foreach(q->ids, i, x) if (i < VG_ARRAY_LEN(h->ids)) h->ids[s->nids++] =
            json_string_value(x);
        s->ids = h->ids;
    }
    if (q->types) {
        /* candidates: every type named (an entity matching a conjunction has its first type) */
        size_t i;
        json_t *conj;
        int ok = 1;
        json_array_foreach(q->types, i, conj) {
            if (s->ntypes == VG_ARRAY_LEN(h->types)) {
                ok = 0;
                break;
            }
            h->types[s->ntypes++] = json_string_value(json_array_get(conj, 0));
        }
        if (ok)
            s->types = h->types;
        else
            s->ntypes = 0;
    }
    if (q->geom && q->georel.op != GEOREL_DISJOINT && q->geoprop &&
        !strcmp(q->geoprop, ENTSTORE_LOCATION_IRI)) {
        geo_search_bbox(&q->georel, q->geom, h->bbox);
        s->bbox = h->bbox;
    }
    if (q->nsel) { /* candidates: every selector names an id, or every one a type */
        int all_ids = 1, all_types = 1;
        for (int i = 0; i < q->nsel; i++) {
            all_ids &= q->sel[i].id != NULL;
            all_types &= q->sel[i].types != NULL;
        }
        if (all_ids) {
            for (int i = 0; i < q->nsel; i++)
                h->ids[s->nids++] = q->sel[i].id;
            s->ids = h->ids;
        } else if (all_types) {
            size_t i, n = 0;
            json_t *conj;
            for (int k = 0; k < q->nsel; k++)
                n += json_array_size(q->sel[k].types);
            for (int k = 0; k < q->nsel && n <= VG_ARRAY_LEN(h->types); k++)
                json_array_foreach(q->sel[k].types, i, conj)
                    h->types[s->ntypes++] = json_string_value(json_array_get(conj, 0));
            if (s->ntypes)
                s->types = h->types; /* else too many types for hints: scan everything */
        }
    }
    s->match = ld_query_match;
    s->arg = (void *)q;
}

/* ---- rendering ------------------------------------------------------------------------------ */

struct render_ctx {
    struct ld_req *r;
    struct entity_render_opts o;
    json_t *pick, *omit;
    const char *geoprop;
    json_t *out; /* array */
    uint64_t rows, page; /* rows offered, rows to render */
    json_t *attrs_proj; /* deprecated attrs= projection */
};

static int render_setup(struct ld_req *r, struct render_ctx *rc, const json_t *body_query)
{
    memset(rc, 0, sizeof(*rc));
    rc->r = r;
    int flags;
    if (ld_options(r, &rc->o.format, &rc->o.sys_attrs, &flags))
        return -1;
    const char *pick = ld_arg(r, "pick"), *omit = ld_arg(r, "omit"), *attrs = ld_arg(r, "attrs");
    if (pick && omit) {
        ld_error(r, 400, "BadRequestData", "pick and omit exclude each other");
        return -1;
    }
    if (pick)
        rc->pick = ld_name_list(r, pick, 1);
    if (omit)
        rc->omit = ld_name_list(r, omit, 1);
    const json_t *battrs = body_query ? json_object_get(body_query, "attrs") : NULL;
    if (json_is_array(battrs) && !pick) { /* a Query body's attrs: same as attrs= */
        rc->pick = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(battrs, i, x) if (json_is_string(x))
            json_array_append_new(rc->pick,
                                  json_string(ldctx_expand(r->ctx, json_string_value(x))));
        attrs = NULL;
        json_array_append_new(rc->pick, json_string("id"));
        json_array_append_new(rc->pick, json_string("type"));
        json_array_append_new(rc->pick, json_string("scope"));
    }
    if (attrs && !pick) { /* attrs = the attributes to return, plus id and type */
        rc->pick = ld_name_list(r, attrs, 1);
        json_array_append_new(rc->pick, json_string("id"));
        json_array_append_new(rc->pick, json_string("type"));
        json_array_append_new(rc->pick, json_string("scope"));
    }
    rc->o.pick = rc->pick;
    rc->o.omit = rc->omit;
    rc->o.lang = ld_arg(r, "lang");
    rc->o.dataset_id = ld_arg(r, "datasetId");
    const char *gp = ld_arg(r, "geometryProperty");
    rc->geoprop = ldctx_expand(r->ctx, gp && *gp ? gp : "location");
    rc->out = json_array();
    return 0;
}

static void render_release(struct render_ctx *rc)
{
    json_decref(rc->pick);
    json_decref(rc->omit);
    json_decref(rc->out);
}

static json_t *render_one(struct render_ctx *rc, const json_t *e)
{
    if (rc->r->accept == LD_ACCEPT_GEO)
        return entity_render_feature(e, rc->r->ctx, &rc->o, rc->geoprop);
    return entity_render(e, rc->r->ctx, &rc->o);
}

static int render_row(void *arg, const json_t *e)
{
    struct render_ctx *rc = arg;
    if (rc->rows++ >= rc->page) /* the look-ahead row: there is a next page */
        return 0;
    json_t *x = render_one(rc, e);
    if (x)
        json_array_append_new(rc->out, x);
    return 0;
}

/* ---- GET /entities ---------------------------------------------------------------------------- */

struct url_ctx {
    struct buf *b;
    int n;
};

static void url_enc(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ':' || c == ',')
            buf_putc(b, (char)c);
        else {
            buf_putc(b, '%');
            buf_putc(b, hex[c >> 4]);
            buf_putc(b, hex[c & 15]);
        }
    }
}

static void url_arg(void *arg, const char *name, const char *value)
{
    struct url_ctx *u = arg;
    if (!strcmp(name, "offset") || !strcmp(name, "limit"))
        return;
    buf_putc(u->b, u->n++ ? '&' : '?');
    url_enc(u->b, name);
    buf_putc(u->b, '=');
    url_enc(u->b, value);
}

static void page_link(struct ld_req *r, const char *rel, uint64_t limit, uint64_t offset)
{
    struct buf b;
    buf_init(&b, 16384);
    buf_putc(&b, '<');
    buf_puts(&b, r->req->url);
    struct url_ctx u = {&b, 0};
    http_args_all(r->req, url_arg, &u);
    buf_printf(&b, "%climit=%llu&offset=%llu>; rel=\"%s\"; type=\"application/ld+json\"",
               u.n ? '&' : '?', (unsigned long long)limit, (unsigned long long)offset, rel);
    http_resp_header(r->resp, "Link", b.p);
    buf_release(&b);
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Paging parameters; answers 400/403 and returns -1 on error. */
static int ld_paging(struct ld_req *r, const json_t *body, uint64_t *limit, uint64_t *offset,
                     int *count)
{
    const char *l = ld_arg(r, "limit"), *o = ld_arg(r, "offset"), *c = ld_arg(r, "count");
    *limit = LD_DEFAULT_LIMIT;
    *offset = 0;
    *count = 0;
    (void)body;
    if (c) {
        if (!strcmp(c, "true"))
            *count = 1;
        else if (strcmp(c, "false")) {
            ld_error(r, 400, "BadRequestData", "count: expected true or false");
            return -1;
        }
    }
    if (l && parse_u64(l, UINT32_MAX, limit)) {
        ld_error(r, 400, "BadRequestData", "limit: expected a non-negative integer");
        return -1;
    }
    if (o && parse_u64(o, UINT32_MAX, offset)) {
        ld_error(r, 400, "BadRequestData", "offset: expected a non-negative integer");
        return -1;
    }
    if (*limit > LD_MAX_LIMIT) {
        ld_error(r, 403, "TooManyResults", "limit: at most %d entities per page", LD_MAX_LIMIT);
        return -1;
    }
    if (*limit == 0 && !*count) {
        ld_error(r, 400, "BadRequestData", "limit=0 is only allowed with count=true");
        return -1;
    }
    return 0;
}

void ld_query_answer(struct ld_req *r, const json_t *body_query)
{
    struct ld_query q;
    struct render_ctx rc;
    uint64_t limit, offset;
    int count;
    if (!ld_tenant_check(r))
        return;
    if (ld_paging(r, body_query, &limit, &offset, &count))
        return;
    if (ld_query_parse(r, &q, body_query))
        return;
    const char *local = ld_arg(r, "local");
    if (!ld_query_has_filter(&q) &&
        !(local && !strcmp(local, "true")) && !(ld_arg(r, "type") && !strcmp(ld_arg(r, "type"), "*"))) {
        ld_error(r, 400, "BadRequestData",
                 "a query needs at least one of id, idPattern, type, attrs, q or a geo-query "
                 "(or local=true)");
        ld_query_release(&q);
        return;
    }
    if (render_setup(r, &rc, body_query)) {
        ld_query_release(&q);
        return;
    }
    struct ld_scan_hints h;
    struct entstore_scan s;
    ld_query_hints(&q, &h, &s);
    s.offset = offset;
    /* one more than the page tells whether a next page exists without counting everything */
    s.limit = limit + 1;
    rc.page = limit;
    uint64_t total = 0;
    int rc_ = entstore_scan(r->a->es, r->tenant, &s, render_row, &rc, count ? &total : NULL);
    if (rc_) {
        ld_error_store(r, rc_);
        goto out;
    }
    if (count) {
        char n[32];
        snprintf(n, sizeof(n), "%llu", (unsigned long long)total);
        http_resp_header(r->resp, "NGSILD-Results-Count", n);
    }
    if (offset > 0 && limit > 0)
        page_link(r, "prev", limit, offset > limit ? offset - limit : 0);
    if (limit > 0 && (count ? offset + limit < total : rc.rows > limit))
        page_link(r, "next", limit, offset + limit);
    if (r->accept == LD_ACCEPT_GEO) {
        json_t *fc = json_pack("{s:s, s:O}", "type", "FeatureCollection", "features", rc.out);
        json_object_set_new(fc, "@context", ld_context_value(r));
        ld_send_json(r, 200, fc, 0);
    } else {
        ld_send_json(r, 200, json_incref(rc.out), 1);
    }
out:
    render_release(&rc);
    ld_query_release(&q);
}

/* ---- changes -------------------------------------------------------------------------------- */

struct change_arg {
    struct ld_req *r;
    json_t *frag;          /* parsed stored-form payload */
    enum entity_op op;
    json_t *updated, *not_updated;
    const char *attr_iri;  /* attribute delete */
    const char *dataset_id;
    int delete_all;
    int create;            /* create: fail if it exists */
    int upsert_replace;    /* upsert without options=update: replace */
};

static int change_fn(void *arg, const json_t *cur, int synth, json_t **next)
{
    struct change_arg *c = arg;
    if (c->create) {
        if (cur && !synth)
            return VG_EEXIST;
        *next = json_incref(c->frag);
        return 0;
    }
    if (c->upsert_replace && (!cur || synth)) {
        *next = json_incref(c->frag);
        return 0;
    }
    if (!cur)
        return VG_ENOENT;
    if (c->attr_iri && !c->frag)
        return entity_attr_delete(cur, c->attr_iri, c->dataset_id, c->delete_all, c->r->now, next);
    if (!c->frag) { /* delete the entity */
        *next = NULL;
        return 0;
    }
    return entity_apply(cur, c->frag, c->op, c->r->now, c->updated, c->not_updated, next);
}

/* Apply one change and make it durable; returns the error code. */
static int change_one(struct ld_req *r, const char *id, struct change_arg *c)
{
    struct entstore_batch *b = entstore_batch_new(r->a->es, r->tenant);
    int rc = entstore_change(b, id, change_fn, c);
    int rc2 = entstore_batch_finish(b);
    return rc ? rc : rc2;
}

int ld_entity_delete(struct ld_req *r, const char *id)
{
    struct change_arg c = {.r = r}; /* no fragment: delete */
    return change_one(r, id, &c);
}

static void answer_change_error(struct ld_req *r, int rc, const char *id)
{
    if (rc == VG_ENOENT)
        ld_error(r, 404, "ResourceNotFound", "entity '%s' not found%s", id,
                 r->nseg >= 4 ? " (or it has no such attribute)" : "");
    else if (rc == VG_EEXIST)
        ld_error(r, 409, "AlreadyExists", "entity '%s' already exists", id);
    else if (rc == VG_EINVAL)
        ld_error(r, 400, "BadRequestData", "the change is not valid for entity '%s'", id);
    else
        ld_error_store(r, rc);
}

static const char *body_id(const json_t *body)
{
    const char *id = json_string_value(json_object_get(body, "id"));
    return id ? id : json_string_value(json_object_get(body, "@id"));
}

static void entity_create(struct ld_req *r)
{
    struct entity_err e = {{0}, {0}};
    json_t *frag = NULL;
    if (!json_is_object(r->body)) {
        ld_error(r, 400, "BadRequestData", "the body must be a JSON object (one entity)");
        return;
    }
    if (entity_parse(r->body, ENTITY_FULL, r->ctx, NULL, 0, r->now, &frag, &e)) {
        ld_error_entity(r, &e);
        return;
    }
    const char *id = json_string_value(json_object_get(frag, "id"));
    struct change_arg c = {.r = r, .frag = frag, .create = 1};
    int rc = change_one(r, id, &c);
    if (rc) {
        answer_change_error(r, rc, id);
    } else {
        char loc[1200];
        snprintf(loc, sizeof(loc), LD_ROOT "entities/%s", id);
        http_resp_header(r->resp, "Location", loc);
        ld_send_status(r, 201);
    }
    json_decref(frag);
}

static void entity_retrieve(struct ld_req *r, const char *id)
{
    if (!ld_tenant_check(r))
        return;
    if (!entity_uri_valid(id)) {
        ld_error(r, 400, "BadRequestData", "'%s' is not a valid entity id (a URI)", id);
        return;
    }
    struct render_ctx rc;
    if (render_setup(r, &rc, NULL))
        return;
    json_t *e = NULL;
    int rc_ = entstore_get(r->a->es, r->tenant, id, &e);
    const char *type = ld_arg(r, "type");
    if (!rc_ && type && *type) {
        char err[256];
        json_t *dnf = parse_types(r, type, err, sizeof(err));
        if (!dnf) {
            ld_error(r, 400, "BadRequestData", "%s", err);
            json_decref(e);
            render_release(&rc);
            return;
        }
        if (!types_match(dnf, e))
            rc_ = VG_ENOENT;
        json_decref(dnf);
    }
    if (rc_) {
        ld_error(r, 404, "ResourceNotFound", "entity '%s' not found", id);
    } else {
        json_t *out = render_one(&rc, e);
        if (r->accept == LD_ACCEPT_GEO) {
            json_object_set_new(out, "@context", ld_context_value(r));
            ld_send_json(r, 200, out, 0);
        } else {
            ld_send_json(r, 200, out, 1);
        }
    }
    json_decref(e);
    render_release(&rc);
}

/* Parse a fragment body for the attrs/merge/replace operations. */
static json_t *parse_fragment(struct ld_req *r, const char *id, enum entity_parse_mode mode,
                              const char *attr_iri, int null_ok)
{
    struct entity_err e = {{0}, {0}};
    json_t *frag = NULL;
    if (!json_is_object(r->body) && !(mode == ENTITY_ATTR && json_is_array(r->body))) {
        ld_error(r, 400, "BadRequestData", "the body must be a JSON object");
        return NULL;
    }
    const char *bid = mode == ENTITY_ATTR ? NULL : body_id(r->body);
    if (bid && strcmp(bid, id) != 0) {
        ld_error(r, 400, "BadRequestData", "id: the body names '%s', the URL '%s'", bid, id);
        return NULL;
    }
    if (entity_parse(r->body, mode, r->ctx, attr_iri, null_ok, r->now, &frag, &e)) {
        ld_error_entity(r, &e);
        return NULL;
    }
    return frag;
}

/* 204 if everything was updated, else 207 with the UpdateResult (names compacted). */
static void answer_update_result(struct ld_req *r, json_t *updated, json_t *not_updated)
{
    if (json_array_size(not_updated) == 0) {
        ld_send_status(r, 204);
        return;
    }
    json_t *u = json_array(), *nu = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(updated, i, x) json_array_append_new(
        u, json_string(ldctx_compact(r->ctx, json_string_value(x))));
    json_array_foreach(not_updated, i, x) {
        const char *name = json_string_value(json_object_get(x, "attributeName"));
        json_t *y = json_deep_copy(x);
        if (name)
            json_object_set_new(y, "attributeName", json_string(ldctx_compact(r->ctx, name)));
        json_array_append_new(nu, y);
    }
    json_t *res = json_pack("{s:o, s:o}", "updated", u, "notUpdated", nu);
    r->accept = LD_ACCEPT_JSON;
    ld_send_json(r, 207, res, 0);
}

static void entity_change_answer(struct ld_req *r, const char *id, struct change_arg *c,
                                 int result_doc)
{
    c->updated = json_array();
    c->not_updated = json_array();
    int rc = change_one(r, id, c);
    if (rc)
        answer_change_error(r, rc, id);
    else if (result_doc)
        answer_update_result(r, c->updated, c->not_updated);
    else
        ld_send_status(r, 204);
    json_decref(c->updated);
    json_decref(c->not_updated);
}

static void entity_one(struct ld_req *r)
{
    const char *id = r->seg[1];
    const char *m = r->req->method;
    if (!strcmp(m, "GET")) {
        entity_retrieve(r, id);
        return;
    }
    if (!entity_uri_valid(id)) {
        ld_error(r, 400, "BadRequestData", "'%s' is not a valid entity id (a URI)", id);
        return;
    }
    struct change_arg c = {.r = r};
    if (!strcmp(m, "DELETE")) {
        int rc = ld_entity_delete(r, id);
        if (rc)
            answer_change_error(r, rc, id);
        else
            ld_send_status(r, 204);
        return;
    }
    if (!strcmp(m, "PATCH") || !strcmp(m, "PUT")) {
        int merge = !strcmp(m, "PATCH");
        c.frag = parse_fragment(r, id, merge ? ENTITY_FRAGMENT : ENTITY_FULL, NULL, merge);
        if (!c.frag)
            return;
        c.op = merge ? ENTITY_MERGE : ENTITY_REPLACE;
        entity_change_answer(r, id, &c, 0);
        json_decref(c.frag);
        return;
    }
    ld_method_not_allowed(r, "GET, PATCH, PUT, DELETE");
}

static void entity_attrs(struct ld_req *r)
{
    const char *id = r->seg[1];
    const char *m = r->req->method;
    if (!entity_uri_valid(id)) {
        ld_error(r, 400, "BadRequestData", "'%s' is not a valid entity id (a URI)", id);
        return;
    }
    enum entity_format f;
    int sys, flags;
    if (ld_options(r, &f, &sys, &flags))
        return;
    struct change_arg c = {.r = r};
    if (r->nseg == 3) { /* /entities/{id}/attrs */
        if (strcmp(m, "POST") && strcmp(m, "PATCH")) {
            ld_method_not_allowed(r, "POST, PATCH");
            return;
        }
        c.frag = parse_fragment(r, id, ENTITY_FRAGMENT, NULL, 0);
        if (!c.frag)
            return;
        if (!strcmp(m, "POST"))
            c.op = (flags & LD_OPT_NOOVERWRITE) ? ENTITY_APPEND_NOOVERWRITE : ENTITY_APPEND;
        else
            c.op = ENTITY_UPDATE;
        entity_change_answer(r, id, &c, 1);
        json_decref(c.frag);
        return;
    }
    /* /entities/{id}/attrs/{attrId} */
    const char *attr_iri = ldctx_expand(r->ctx, r->seg[3]);
    if (!strcmp(m, "DELETE")) {
        const char *da = ld_arg(r, "deleteAll");
        c.attr_iri = attr_iri;
        c.dataset_id = ld_arg(r, "datasetId");
        c.delete_all = da && !strcmp(da, "true");
        int rc = change_one(r, id, &c);
        if (rc)
            answer_change_error(r, rc, id);
        else
            ld_send_status(r, 204);
        return;
    }
    if (!strcmp(m, "PATCH") || !strcmp(m, "PUT")) {
        int patch = !strcmp(m, "PATCH");
        c.frag = parse_fragment(r, id, ENTITY_ATTR, attr_iri, patch);
        if (!c.frag)
            return;
        c.op = patch ? ENTITY_PARTIAL : ENTITY_REPLACE_ATTR;
        entity_change_answer(r, id, &c, 0);
        json_decref(c.frag);
        return;
    }
    ld_method_not_allowed(r, "PATCH, PUT, DELETE");
}

/* DELETE /entities (V1.9 cl. 5.6.21, purge): every entity the query selects (the same filters
** as GET, at least one required), at most PURGE_MAX per request; 204. */
#define PURGE_MAX 100000

struct purge_ids {
    char **v;
    uint32_t n;
};

static int purge_collect(void *arg, const json_t *e)
{
    struct purge_ids *p = arg;
    p->v[p->n++] = vg_strdup(json_string_value(json_object_get(e, "id")));
    return 0;
}

static void entities_purge(struct ld_req *r)
{
    struct ld_query q;
    if (!ld_tenant_check(r) || ld_query_parse(r, &q, NULL))
        return;
    if (!ld_query_has_filter(&q)) {
        ld_error(r, 400, "BadRequestData",
                 "purging needs at least one of id, idPattern, type, attrs, q, scopeQ or a "
                 "geo-query");
        ld_query_release(&q);
        return;
    }
    struct ld_scan_hints h;
    struct entstore_scan s;
    ld_query_hints(&q, &h, &s);
    s.limit = PURGE_MAX;
    struct purge_ids ids = {vg_calloc(PURGE_MAX, sizeof(char *)), 0};
    int rc = entstore_scan(r->a->es, r->tenant, &s, purge_collect, &ids, NULL);
    struct entstore_batch *b = entstore_batch_new(r->a->es, r->tenant);
    struct change_arg c = {.r = r}; /* no fragment: delete */
    for (uint32_t i = 0; !rc && i < ids.n; i++) {
        int rc1 = entstore_change(b, ids.v[i], change_fn, &c);
        if (rc1 && rc1 != VG_ENOENT) /* deleted meanwhile: fine */
            rc = rc1;
    }
    int rc2 = entstore_batch_finish(b);
    if (!rc)
        rc = rc2;
    if (rc)
        ld_error_store(r, rc);
    else
        ld_send_status(r, 204);
    for (uint32_t i = 0; i < ids.n; i++)
        free(ids.v[i]);
    free(ids.v);
    ld_query_release(&q);
}

void ld_entities(struct ld_req *r)
{
    const char *m = r->req->method;
    if (r->nseg == 1) {
        if (!strcmp(m, "GET"))
            ld_query_answer(r, NULL);
        else if (!strcmp(m, "POST"))
            entity_create(r);
        else if (!strcmp(m, "DELETE"))
            entities_purge(r);
        else
            ld_method_not_allowed(r, "GET, POST, DELETE");
        return;
    }
    if (r->nseg == 2) {
        entity_one(r);
        return;
    }
    if ((r->nseg == 3 || r->nseg == 4) && !strcmp(r->seg[2], "attrs")) {
        entity_attrs(r);
        return;
    }
    ld_error(r, 404, "ResourceNotFound", "no NGSI-LD resource at '%s'", r->req->url);
}
