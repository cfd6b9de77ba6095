/*
** api/h_ngsild.c: the entry of every request under /ngsi-ld/v1/ (ETSI GS CIM 009): path
** dispatch, content negotiation (cl. 6.3.4-6.3.6), @context resolution (cl. 6.3.5: Link header
** or "@context" member, which content type allows which), NGSI-LD problem details (cl. 6.3.2),
** and the helpers the resource handlers share (options, name lists, the entity query).
**
** Context rules implemented here:
**   GET, DELETE        @context from the Link header; none -> the core context
**   body application/json (and merge-patch+json for PATCH)
**                      @context only through Link; an "@context" member -> BadRequestData
**   body application/ld+json
**                      @context only in the body (required); a Link header -> BadRequestData
**   other Content-Type -> bare 415; a body without Content-Length (and not chunked) -> bare 411
**   Accept             application/json (default), application/ld+json, application/geo+json
**                      (entity retrieval and query only), any type; anything else -> 406
**   Responses          json: Link header to the request's context; ld+json: "@context" member;
**                      errors: application/json problem details, no Link.
** A context URL that is neither built in nor registered -> 504 LdContextNotAvailable at once
** (the status of the V1.9.1 table).
*/
#include "api/ngsild_int.h"

#include "core/clock.h"
#include "core/log.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- errors ------------------------------------------------------------------------------- */

static const struct {
    const char *type;
    const char *title;
} ld_titles[] = {
    {"InvalidRequest", "Invalid request"},
    {"BadRequestData", "Bad request data"},
    {"AlreadyExists", "Already exists"},
    {"OperationNotSupported", "Operation not supported"},
    {"ResourceNotFound", "Resource not found"},
    {"InternalError", "Internal error"},
    {"TooComplexQuery", "Too complex query"},
    {"TooManyResults", "Too many results"},
    {"LdContextNotAvailable", "JSON-LD context not available"},
    {"NoMultiTenantSupport", "No multi-tenant support"},
    {"NonexistentTenant", "Nonexistent tenant"},
};

void ld_error(struct ld_req *r, int status, const char *type, const char *fmt, ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    const char *title = type;
    for (size_t i = 0; i < VG_ARRAY_LEN(ld_titles); i++)
        if (!strcmp(ld_titles[i].type, type))
            title = ld_titles[i].title;
    struct http_resp *resp = r->resp;
    buf_reset(&resp->body);
    resp->status = status;
    resp->ctype = "application/json";
    struct buf *b = &resp->body;
    buf_puts(b, "{\"type\":\"" LD_ERR_BASE);
    buf_puts(b, type);
    buf_puts(b, "\",\"title\":");
    buf_json_str(b, title, strlen(title));
    buf_printf(b, ",\"status\":%d,\"detail\":", status);
    buf_json_str(b, detail, strlen(detail));
    buf_puts(b, "}\n");
}

void ld_error_entity(struct ld_req *r, const struct entity_err *e)
{
    if (e->member[0])
        ld_error(r, 400, "BadRequestData", "%s: %s", e->member, e->detail);
    else
        ld_error(r, 400, "BadRequestData", "%s", e->detail);
}

void ld_error_store(struct ld_req *r, int rc)
{
    if (rc == VG_EFULL) {
        ld_error(r, 507, "InternalError", "the disk is full: the change was not stored");
        http_resp_header(r->resp, "Retry-After", "30");
    } else if (rc == VG_ETOOBIG) {
        ld_error(r, 413, "BadRequestData", "a limit of the entity store was hit");
    } else {
        ld_error(r, 500, "InternalError", "the change could not be stored: %s", vg_strerror(rc));
    }
}

/* ---- responses ---------------------------------------------------------------------------- */

json_t *ld_context_value(struct ld_req *r)
{
    if (r->ctx_value)
        return json_incref(r->ctx_value);
    return json_string(LDCTX_CORE_URL);
}

static void link_header(struct ld_req *r)
{
    char link[1200];
    const char *url = json_string_value(r->ctx_value);
    snprintf(link, sizeof(link), "<%s>; rel=\"http://www.w3.org/ns/json-ld#context\"; "
             "type=\"application/ld+json\"", url ? url : LDCTX_CORE_URL);
    http_resp_header(r->resp, "Link", link);
}

static void json_to_resp(struct http_resp *resp, json_t *body)
{
    buf_reset(&resp->body);
    entity_json_write(&resp->body, body);
}

void ld_send_prepared(struct ld_req *r, int status, int add_context)
{
    struct http_resp *resp = r->resp;
    resp->status = status;
    if (r->accept == LD_ACCEPT_LD) {
        resp->ctype = "application/ld+json";
    } else {
        resp->ctype = r->accept == LD_ACCEPT_GEO ? "application/geo+json" : "application/json";
        if (add_context)
            link_header(r);
    }
}

void ld_send_json(struct ld_req *r, int status, json_t *body, int add_context)
{
    struct http_resp *resp = r->resp;
    resp->status = status;
    if (r->accept == LD_ACCEPT_LD) {
        resp->ctype = "application/ld+json";
        if (add_context && json_is_object(body) && !json_object_get(body, "@context"))
            json_object_set_new(body, "@context", ld_context_value(r));
        if (add_context && json_is_array(body)) {
            size_t i;
            json_t *e;
            json_array_foreach(body, i, e) if (json_is_object(e) &&
                                               !json_object_get(e, "@context"))
                json_object_set_new(e, "@context", ld_context_value(r));
        }
    } else {
        resp->ctype = r->accept == LD_ACCEPT_GEO ? "application/geo+json" : "application/json";
        if (add_context)
            link_header(r);
    }
    json_to_resp(resp, body);
    json_decref(body);
}

void ld_send_status(struct ld_req *r, int status)
{
    r->resp->status = status;
    r->resp->ctype = NULL;
    buf_reset(&r->resp->body);
}

int ld_tenant_check(struct ld_req *r)
{
    if (!r->tenant_given || entstore_tenant_exists(r->a->es, r->tenant))
        return 1;
    ld_error(r, 404, "NonexistentTenant", "tenant '%s' does not exist", r->tenant);
    return 0;
}

const char *ld_arg(struct ld_req *r, const char *name)
{
    return http_arg(r->req, name);
}

/* ---- options and lists --------------------------------------------------------------------- */

int ld_options(struct ld_req *r, enum entity_format *fmt, int *sys_attrs, int *flags)
{
    const char *opts = ld_arg(r, "options");
    const char *format = ld_arg(r, "format");
    *fmt = ENTITY_NORMALIZED;
    *sys_attrs = 0;
    *flags = 0;
    int nfmt = 0;
    if (opts) {
        char tmp[512];
        snprintf(tmp, sizeof(tmp), "%s", opts);
        char *save = NULL;
        for (char *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (!strcmp(t, "keyValues") || !strcmp(t, "simplified")) {
                *fmt = ENTITY_SIMPLIFIED;
                nfmt++;
            } else if (!strcmp(t, "concise")) {
                *fmt = ENTITY_CONCISE;
                nfmt++;
            } else if (!strcmp(t, "normalized")) {
                *fmt = ENTITY_NORMALIZED;
                nfmt++;
            } else if (!strcmp(t, "sysAttrs")) {
                *sys_attrs = 1;
            } else if (!strcmp(t, "noOverwrite")) {
                *flags |= LD_OPT_NOOVERWRITE;
            } else if (!strcmp(t, "update")) {
                *flags |= LD_OPT_UPDATE;
            } else if (!strcmp(t, "replace")) {
                *flags |= LD_OPT_REPLACE;
            } else if (!strcmp(t, "temporalValues")) {
                *flags |= LD_OPT_TEMPORAL;
            } else if (!strcmp(t, "aggregatedValues")) {
                *flags |= LD_OPT_AGGREGATED;
            } else {
                ld_error(r, 400, "BadRequestData", "options: unknown option '%s'", t);
                return -1;
            }
        }
    }
    if (format) {
        if (!strcmp(format, "normalized"))
            *fmt = ENTITY_NORMALIZED;
        else if (!strcmp(format, "concise"))
            *fmt = ENTITY_CONCISE;
        else if (!strcmp(format, "simplified") || !strcmp(format, "keyValues"))
            *fmt = ENTITY_SIMPLIFIED;
        else if (!strcmp(format, "temporalValues"))
            *flags |= LD_OPT_TEMPORAL;
        else if (!strcmp(format, "aggregatedValues"))
            *flags |= LD_OPT_AGGREGATED;
        else {
            ld_error(r, 400, "BadRequestData", "format: unknown representation '%s'", format);
            return -1;
        }
    }
    if (nfmt > 1) {
        ld_error(r, 400, "BadRequestData", "options: give only one representation");
        return -1;
    }
    if ((*flags & LD_OPT_TEMPORAL) && (*flags & LD_OPT_AGGREGATED)) {
        ld_error(r, 400, "BadRequestData",
                 "options: temporalValues and aggregatedValues exclude each other");
        return -1;
    }
    return 0;
}

json_t *ld_name_list(struct ld_req *r, const char *csv, int expand)
{
    json_t *a = json_array();
    const char *p = csv;
    while (p && *p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n && n < 512) {
            char name[512];
            memcpy(name, p, n);
            name[n] = '\0';
            int literal = !strcmp(name, "id") || !strcmp(name, "type") || !strcmp(name, "scope") ||
                          !strcmp(name, "@id") || !strcmp(name, "@type");
            if (literal && name[0] == '@')
                memmove(name, name + 1, n);
            json_array_append_new(a, json_string(expand && !literal ? ldctx_expand(r->ctx, name)
                                                                     : name));
        }
        p = e ? e + 1 : NULL;
    }
    return a;
}

const char *ld_q_expand(void *ctx, const char *term)
{
    return ldctx_expand((struct ldctx *)ctx, term);
}

/* ---- negotiation ------------------------------------------------------------------------------ */

/* Media type of a header value without parameters, lower-cased into out. */
static void media_type(const char *h, char *out, size_t cap)
{
    size_t n = 0;
    while (*h == ' ')
        h++;
    for (; *h && *h != ';' && *h != ' ' && n + 1 < cap; h++)
        out[n++] = (char)((*h >= 'A' && *h <= 'Z') ? *h + 32 : *h);
    out[n] = '\0';
}

/* Accept: pick the representation (returns -1 when nothing acceptable). */
static int negotiate_accept(const char *accept, int geo_ok)
{
    if (!accept || !*accept)
        return LD_ACCEPT_JSON;
    int best = -1;
    double bestq = -1;
    const char *p = accept;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char item[256];
        if (n >= sizeof(item))
            n = sizeof(item) - 1;
        memcpy(item, p, n);
        item[n] = '\0';
        char mt[128];
        media_type(item, mt, sizeof(mt));
        double q = 1.0;
        const char *qp = strstr(item, "q=");
        if (qp)
            q = strtod(qp + 2, NULL);
        int rep = -1;
        if (!strcmp(mt, "application/json") || !strcmp(mt, "*/*") || !strcmp(mt, "application/*"))
            rep = LD_ACCEPT_JSON;
        else if (!strcmp(mt, "application/ld+json"))
            rep = LD_ACCEPT_LD;
        else if (!strcmp(mt, "application/geo+json") && geo_ok)
            rep = LD_ACCEPT_GEO;
        if (rep >= 0 && q > 0 && q > bestq) {
            best = rep;
            bestq = q;
        }
        p = e ? e + 1 : p + strlen(p);
    }
    return best;
}

/* The URL inside a Link header naming a JSON-LD context; 0 if none. */
static int link_context_url(const char *link, char *url, size_t cap)
{
    if (!link)
        return 0;
    const char *lt = strchr(link, '<');
    const char *gt = lt ? strchr(lt, '>') : NULL;
    if (!lt || !gt || (size_t)(gt - lt - 1) >= cap)
        return -1;
    memcpy(url, lt + 1, (size_t)(gt - lt - 1));
    url[gt - lt - 1] = '\0';
    return 1;
}

/* Prefer (cl. 6.3.x): "ngsi-ld=1.x" is honoured for the versions this broker speaks and
** acknowledged with Preference-Applied. */
static void prefer(struct ld_req *r)
{
    const char *p = http_header(r->req, "Prefer");
    const char *v = p ? strstr(p, "ngsi-ld=") : NULL;
    if (!v)
        return;
    v += 8;
    static const char *const versions[] = {"1.3", "1.4", "1.5", "1.6", "1.7", "1.8", "1.9"};
    for (size_t i = 0; i < VG_ARRAY_LEN(versions); i++) {
        size_t n = strlen(versions[i]);
        if (!strncmp(v, versions[i], n) && (v[n] == '\0' || v[n] == ',' || v[n] == ';' ||
                                            v[n] == ' ' || (v[n] == '.' && v[n + 1] >= '0'))) {
            char applied[32];
            snprintf(applied, sizeof(applied), "ngsi-ld=%s", versions[i]);
            http_resp_header(r->resp, "Preference-Applied", applied);
            return;
        }
    }
}

/* GET /info/sourceIdentity (V1.9 cl. 5.15): who answers. The id is stable per data
** directory (meta kv "server_id", created on first use). */
static void source_identity(struct ld_req *r)
{
    if (strcmp(r->req->method, "GET")) {
        ld_method_not_allowed(r, "GET");
        return;
    }
    char id[96];
    if (meta_kv_get(r->a->meta, "server_id", id, sizeof(id)) != 0) {
        unsigned char raw[16];
        randombytes_buf(raw, sizeof(raw));
        char hex[33];
        sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
        snprintf(id, sizeof(id), "urn:ngsi-ld:ContextSource:vigie-%s", hex);
        meta_kv_set(r->a->meta, "server_id", id);
        meta_kv_get(r->a->meta, "server_id", id, sizeof(id)); /* a concurrent first call wins */
    }
    json_t *out = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id, "type",
                            "ContextSourceIdentity", "contextSourceExtras", "vigie",
                            "contextSourceAlias", "vigie", "contextSourceTimeAt", r->now);
    json_object_set_new(out, "contextSourceUptime", json_integer((json_int_t)(
                                                        (r->now_ms - r->a->started_ms) / 1000)));
    ld_send_json(r, 200, out, 1);
}

static int split_path(struct ld_req *r)
{
    const char *rest = r->req->url + strlen(LD_ROOT);
    if (strlen(rest) >= sizeof(r->segbuf))
        return -1;
    memcpy(r->segbuf, rest, strlen(rest) + 1);
    char *p = r->segbuf;
    r->nseg = 0;
    /* jsonldContexts/{id}: the id may be a URL with '/' (percent-decoded by the server) */
    int ctx_res = strncmp(p, "jsonldContexts/", 15) == 0;
    while (*p) {
        if (r->nseg == LD_MAX_SEGS)
            return -1;
        r->seg[r->nseg++] = p;
        if (ctx_res && r->nseg == 2)
            break;
        char *s = strchr(p, '/');
        if (!s)
            break;
        *s = '\0';
        p = s + 1;
        if (!*p) /* trailing slash */
            break;
    }
    return 0;
}

void h_ngsild(struct api *a, struct http_req *req, struct http_resp *resp,
              const struct principal *p)
{
    struct ld_req r;
    memset(&r, 0, sizeof(r));
    r.a = a;
    r.req = req;
    r.resp = resp;
    r.p = p;
    r.tenant = p->tenant;
    r.tenant_given = http_header(req, "NGSILD-Tenant") != NULL;
    r.now_ms = clock_now_ms();
    clock_format_rfc3339(r.now_ms, r.now, sizeof(r.now));
    if (split_path(&r) || r.nseg == 0) {
        ld_error(&r, 404, "ResourceNotFound", "no NGSI-LD resource at '%s'", req->url);
        return;
    }

    /* representation asked for */
    int geo_ok = !strcmp(r.seg[0], "entities") && !strcmp(req->method, "GET") && r.nseg <= 2;
    int acc = negotiate_accept(http_header(req, "Accept"), geo_ok);
    if (acc < 0) {
        ld_error(&r, 406, "InvalidRequest",
                 "none of the accepted media types is available: application/json, "
                 "application/ld+json%s", geo_ok ? ", application/geo+json" : "");
        return;
    }
    r.accept = (enum ld_accept)acc;

    /* body and its content type */
    int has_body_method = !strcmp(req->method, "POST") || !strcmp(req->method, "PATCH") ||
                          !strcmp(req->method, "PUT");
    char link_url[1024];
    int link = link_context_url(http_header(req, "Link"), link_url, sizeof(link_url));
    if (link < 0) {
        ld_error(&r, 400, "BadRequestData", "the Link header is malformed");
        return;
    }
    if (has_body_method && req->body.len > 0) {
        const char *ct = http_header(req, "Content-Type");
        char mt[128] = "";
        if (ct)
            media_type(ct, mt, sizeof(mt));
        int is_json = !strcmp(mt, "application/json") ||
                      (!strcmp(req->method, "PATCH") && !strcmp(mt, "application/merge-patch+json"));
        int is_ld = !strcmp(mt, "application/ld+json");
        if (!is_json && !is_ld) {
            ld_send_status(&r, 415);
            return;
        }
        if (!http_header(req, "Content-Length") && !http_header(req, "Transfer-Encoding")) {
            ld_send_status(&r, 411);
            return;
        }
        json_error_t jerr;
        r.body = json_loadb(req->body.p, req->body.len, JSON_DECODE_ANY, &jerr);
        if (!r.body) {
            ld_error(&r, 400, "InvalidRequest", "the body is not valid JSON: %s (line %d, column %d)",
                     jerr.text, jerr.line, jerr.column);
            return;
        }
        r.ld_body = is_ld;
        if (!strcmp(r.seg[0], "jsonldContexts"))
            goto dispatch; /* the body IS a context: nothing to resolve */
        json_t *inline_ctx = NULL;
        if (json_is_object(r.body))
            inline_ctx = json_object_get(r.body, "@context");
        else if (json_is_array(r.body) && json_is_object(json_array_get(r.body, 0)))
            inline_ctx = json_object_get(json_array_get(r.body, 0), "@context");
        if (is_json && inline_ctx) {
            ld_error(&r, 400, "BadRequestData",
                     "@context in a body of type application/json: send it in a Link header, "
                     "or use application/ld+json");
            goto out;
        }
        if (is_ld && link > 0) {
            ld_error(&r, 400, "BadRequestData",
                     "a Link header with a body of type application/ld+json: put the @context "
                     "in the body");
            goto out;
        }
        if (is_ld && !inline_ctx) {
            ld_error(&r, 400, "BadRequestData",
                     "a body of type application/ld+json must hold an @context member");
            goto out;
        }
        if (inline_ctx)
            r.ctx_value = json_incref(inline_ctx);
    } else if (has_body_method) {
        ld_error(&r, 400, "InvalidRequest", "this request needs a body");
        return;
    }
    const char *hosted = NULL;
    if (!r.ctx_value && link > 0) {
        r.ctx_value = json_string(link_url);
        /* a context hosted here, named by its full URL: look it up by its id */
        hosted = strstr(link_url, LD_ROOT "jsonldContexts/");
        if (hosted)
            hosted += strlen(LD_ROOT "jsonldContexts/");
    }

    char err[512] = "";
    int rc;
    if (hosted)
        rc = ldctx_resolve_url(a->ldreg, r.tenant, hosted, &r.ctx, err, sizeof(err));
    else if (r.ctx_value)
        rc = ldctx_resolve(a->ldreg, r.tenant, r.ctx_value, &r.ctx, err, sizeof(err));
    else
        rc = (r.ctx = ldctx_core(a->ldreg), 0);
    if (rc == VG_ENOENT) {
        ld_error(&r, 504, "LdContextNotAvailable", "%s", err);
        goto out;
    }
    if (rc) {
        ld_error(&r, 400, "BadRequestData", "invalid @context: %s", err);
        goto out;
    }

dispatch:
    if (!r.ctx)
        r.ctx = ldctx_core(a->ldreg);
    prefer(&r);
    if (!strcmp(r.seg[0], "entities"))
        ld_entities(&r);
    else if (!strcmp(r.seg[0], "entityOperations"))
        ld_entity_ops(&r);
    else if (!strcmp(r.seg[0], "types"))
        ld_types(&r);
    else if (!strcmp(r.seg[0], "attributes"))
        ld_attributes(&r);
    else if (!strcmp(r.seg[0], "jsonldContexts"))
        ld_contexts(&r);
    else if (!strcmp(r.seg[0], "temporal"))
        ld_temporal(&r);
    else if (!strcmp(r.seg[0], "subscriptions"))
        ld_subscriptions(&r);
    else if (!strcmp(r.seg[0], "info") && r.nseg == 2 && !strcmp(r.seg[1], "sourceIdentity"))
        source_identity(&r);
    else if (!strcmp(r.seg[0], "csourceRegistrations") ||
             !strcmp(r.seg[0], "csourceSubscriptions"))
        ld_error(&r, 501, "OperationNotSupported", "/%s is not implemented yet", r.seg[0]);
    else
        ld_error(&r, 404, "ResourceNotFound", "no NGSI-LD resource at '%s'", req->url);
out:
    if (r.ctx)
        ldctx_release(r.ctx);
    json_decref(r.ctx_value);
    json_decref(r.body);
}

void ld_method_not_allowed(struct ld_req *r, const char *allow)
{
    ld_error(r, 405, "InvalidRequest", "%s is not allowed here; allowed: %s", r->req->method, allow);
    http_resp_header(r->resp, "Allow", allow);
}
