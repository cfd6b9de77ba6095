/*
** api/h_ldmeta.c: NGSI-LD discovery and context resources (ETSI GS CIM 009):
**   GET /types[?details=true], GET /types/{type}          cl. 5.7.5-5.7.7, 6.25-6.26
**   GET /attributes[?details=true], GET /attributes/{id}  cl. 5.7.8-5.7.10, 6.27-6.28
**   POST|GET /jsonldContexts, GET|DELETE /jsonldContexts/{id}   cl. 5.13, 6.29-6.30
** User contexts are tenant-scoped, kept in the registry (ngsild/ldctx.c) and persisted as meta
** documents of kind "context" so that they survive a restart.
*/
#include "api/ngsild_int.h"

#include "core/log.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- /types and /attributes ------------------------------------------------------------------ */

struct types_acc {
    json_t *types; /* {typeIRI: {"n":N, "attrs":{attrIRI:[kinds]}}} */
};

static int types_cb(void *arg, const char *type_iri, uint64_t n, const json_t *attrs)
{
    struct types_acc *a = arg;
    json_object_set_new(a->types, type_iri,
                        json_pack("{s:I, s:O}", "n", (json_int_t)n, "attrs", attrs));
    return 0;
}

static int details_flag(struct ld_req *r)
{
    const char *d = ld_arg(r, "details");
    return d && !strcmp(d, "true");
}

static void random_urn(const char *kind, char *out, size_t cap)
{
    snprintf(out, cap, "urn:ngsi-ld:%s:%08x%08x", kind, randombytes_random(), randombytes_random());
}

void ld_types(struct ld_req *r)
{
    if (strcmp(r->req->method, "GET")) {
        ld_method_not_allowed(r, "GET");
        return;
    }
    if (!ld_tenant_check(r))
        return;
    struct types_acc acc = {json_object()};
    entstore_types(r->a->es, r->tenant, types_cb, &acc);
    const char *tiri;
    json_t *t;
    if (r->nseg == 1) {
        json_t *out;
        if (details_flag(r)) {
            out = json_array();
            json_object_foreach(acc.types, tiri, t) {
                json_t *names = json_array();
                const char *airi;
                json_t *k;
                json_object_foreach(json_object_get(t, "attrs"), airi, k)
                    json_array_append_new(names, json_string(ldctx_compact(r->ctx, airi)));
                json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:o}", "id", tiri, "type",
                                                     "EntityType", "typeName",
                                                     ldctx_compact(r->ctx, tiri), "attributeNames",
                                                     names));
            }
        } else {
            json_t *list = json_array();
            json_object_foreach(acc.types, tiri, t)
                json_array_append_new(list, json_string(ldctx_compact(r->ctx, tiri)));
            char id[96];
            random_urn("EntityTypeList", id, sizeof(id));
            out = json_pack("{s:s, s:s, s:o}", "id", id, "type", "EntityTypeList", "typeList",
                            list);
        }
        ld_send_json(r, 200, out, 1);
    } else if (r->nseg == 2) {
        const char *want = ldctx_expand(r->ctx, r->seg[1]);
        t = json_object_get(acc.types, want);
        if (!t) {
            ld_error(r, 404, "ResourceNotFound", "no entity of type '%s'", r->seg[1]);
        } else {
            json_t *details = json_array();
            const char *airi;
            json_t *k;
            json_object_foreach(json_object_get(t, "attrs"), airi, k)
                json_array_append_new(details, json_pack("{s:s, s:s, s:s, s:O}", "id", airi, "type",
                                                         "Attribute", "attributeName",
                                                         ldctx_compact(r->ctx, airi),
                                                         "attributeTypes", k));
            ld_send_json(r, 200,
                         json_pack("{s:s, s:s, s:s, s:O, s:o}", "id", want, "type",
                                   "EntityTypeInfo", "typeName", ldctx_compact(r->ctx, want),
                                   "entityCount", json_object_get(t, "n"), "attributeDetails",
                                   details),
                         1);
        }
    } else {
        ld_error(r, 404, "ResourceNotFound", "no NGSI-LD resource at '%s'", r->req->url);
    }
    json_decref(acc.types);
}

void ld_attributes(struct ld_req *r)
{
    if (strcmp(r->req->method, "GET")) {
        ld_method_not_allowed(r, "GET");
        return;
    }
    if (!ld_tenant_check(r))
        return;
    struct types_acc acc = {json_object()};
    entstore_types(r->a->es, r->tenant, types_cb, &acc);
    /* invert: {attrIRI: {"types":[typeIRI], "kinds":[...], "n": entities}} */
    json_t *attrs = json_object();
    const char *tiri;
    json_t *t;
    json_object_foreach(acc.types, tiri, t) {
        const char *airi;
        json_t *kinds;
        json_object_foreach(json_object_get(t, "attrs"), airi, kinds) {
            json_t *a = json_object_get(attrs, airi);
            if (!a) {
                a = json_pack("{s:[], s:[], s:I}", "types", "kinds", "n", (json_int_t)0);
                json_object_set_new(attrs, airi, a);
            }
            json_array_append_new(json_object_get(a, "types"),
                                  json_string(ldctx_compact(r->ctx, tiri)));
            size_t i, j;
            json_t *k, *x;
            json_array_foreach(kinds, i, k) {
                int have = 0;
                json_array_foreach(json_object_get(a, "kinds"), j, x) have |= json_equal(x, k);
                if (!have)
                    json_array_append(json_object_get(a, "kinds"), k);
            }
            json_object_set_new(a, "n", json_integer(json_integer_value(json_object_get(a, "n")) +
                                                     json_integer_value(json_object_get(t, "n"))));
        }
    }
    const char *airi;
    json_t *a;
    if (r->nseg == 1) {
        json_t *out;
        if (details_flag(r)) {
            out = json_array();
            json_object_foreach(attrs, airi, a)
                json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:O, s:O, s:O}", "id", airi,
                                                     "type", "Attribute", "attributeName",
                                                     ldctx_compact(r->ctx, airi), "attributeCount",
                                                     json_object_get(a, "n"), "attributeTypes",
                                                     json_object_get(a, "kinds"), "typeNames",
                                                     json_object_get(a, "types")));
        } else {
            json_t *list = json_array();
            json_object_foreach(attrs, airi, a)
                json_array_append_new(list, json_string(ldctx_compact(r->ctx, airi)));
            char id[96];
            random_urn("AttributeList", id, sizeof(id));
            out = json_pack("{s:s, s:s, s:o}", "id", id, "type", "AttributeList", "attributeList",
                            list);
        }
        ld_send_json(r, 200, out, 1);
    } else if (r->nseg == 2) {
        const char *want = ldctx_expand(r->ctx, r->seg[1]);
        a = json_object_get(attrs, want);
        if (!a)
            ld_error(r, 404, "ResourceNotFound", "no attribute '%s'", r->seg[1]);
        else
            ld_send_json(r, 200,
                         json_pack("{s:s, s:s, s:s, s:O, s:O, s:O}", "id", want, "type",
                                   "Attribute", "attributeName", ldctx_compact(r->ctx, want),
                                   "attributeCount", json_object_get(a, "n"), "attributeTypes",
                                   json_object_get(a, "kinds"), "typeNames",
                                   json_object_get(a, "types")),
                         1);
    } else {
        ld_error(r, 404, "ResourceNotFound", "no NGSI-LD resource at '%s'", r->req->url);
    }
    json_decref(attrs);
    json_decref(acc.types);
}

/* ---- /jsonldContexts ------------------------------------------------------------------------- */

static const char *kind_name(enum ldctx_kind k)
{
    switch (k) {
    case LDCTX_HOSTED: return "Hosted";
    case LDCTX_CACHED: return "Cached";
    case LDCTX_IMPLICIT: return "ImplicitlyCreated";
    case LDCTX_BUILTIN: return "Cached";
    }
    return "Cached";
}

struct list_ctx {
    struct ld_req *r;
    json_t *out;
    int details;
    const char *kind; /* filter, or NULL */
};

static int list_cb(void *arg, const char *id, enum ldctx_kind kind, const json_t *doc)
{
    struct list_ctx *l = arg;
    if (l->kind && strcmp(l->kind, kind_name(kind)))
        return 0;
    char url[1200];
    if (kind == LDCTX_HOSTED)
        snprintf(url, sizeof(url), LD_ROOT "jsonldContexts/%s", id);
    else
        snprintf(url, sizeof(url), "%s", id);
    if (l->details)
        json_array_append_new(l->out, json_pack("{s:s, s:s, s:s}", "URL", url, "localId", id,
                                                "kind", kind_name(kind)));
    else
        json_array_append_new(l->out, json_string(url));
    return 0;
}

void ld_contexts(struct ld_req *r)
{
    const char *m = r->req->method;
    struct ldctx_reg *reg = r->a->ldreg;
    if (r->nseg == 1 && !strcmp(m, "POST")) {
        if (!json_is_object(r->body) || !json_object_get(r->body, "@context")) {
            ld_error(r, 400, "BadRequestData", "the body must be a JSON-LD document with an "
                                               "\"@context\" member");
            return;
        }
        char id[128];
        int rc = ldctx_reg_add(reg, r->tenant, r->body, id, sizeof(id));
        if (rc) {
            ld_error(r, 400, "BadRequestData", "the context cannot be registered: %s",
                     vg_strerror(rc));
            return;
        }
        char *text = json_dumps(r->body, JSON_COMPACT);
        struct meta_doc_op op = {"context", r->tenant, id, text, text ? strlen(text) : 0};
        rc = text ? meta_docs_commit(r->a->meta, &op, 1) : VG_ENOMEM;
        free(text);
        if (rc) {
            ldctx_reg_del(reg, r->tenant, id);
            ld_error_store(r, rc);
            return;
        }
        char loc[256];
        snprintf(loc, sizeof(loc), LD_ROOT "jsonldContexts/%s", id);
        http_resp_header(r->resp, "Location", loc);
        ld_send_status(r, 201);
        return;
    }
    if (r->nseg == 1 && !strcmp(m, "GET")) {
        struct list_ctx l = {r, json_array(), details_flag(r), ld_arg(r, "kind")};
        if (l.kind && strcmp(l.kind, "Hosted") && strcmp(l.kind, "Cached") &&
            strcmp(l.kind, "ImplicitlyCreated")) {
            json_decref(l.out);
            ld_error(r, 400, "BadRequestData", "kind: expected Hosted, Cached or ImplicitlyCreated");
            return;
        }
        ldctx_reg_list(reg, r->tenant, list_cb, &l);
        r->accept = LD_ACCEPT_JSON;
        ld_send_json(r, 200, l.out, 0);
        return;
    }
    if (r->nseg == 2 && !strcmp(m, "GET")) {
        json_t *doc = NULL;
        enum ldctx_kind kind;
        if (ldctx_reg_get(reg, r->tenant, r->seg[1], &doc, &kind)) {
            ld_error(r, 404, "ResourceNotFound", "no @context '%s'", r->seg[1]);
            return;
        }
        r->accept = LD_ACCEPT_JSON;
        ld_send_json(r, 200, doc, 0);
        r->resp->ctype = "application/ld+json";
        return;
    }
    if (r->nseg == 2 && !strcmp(m, "DELETE")) {
        const char *reload = ld_arg(r, "reload");
        int rc = ldctx_reg_del(reg, r->tenant, r->seg[1]);
        if (rc == VG_EPERM) {
            /* built-in and preloaded contexts stay; reload is a no-op offline */
            if (reload && !strcmp(reload, "true"))
                ld_send_status(r, 204);
            else
                ld_error(r, 400, "BadRequestData",
                         "'%s' is built in or preloaded and cannot be deleted", r->seg[1]);
            return;
        }
        if (rc) {
            ld_error(r, 404, "ResourceNotFound", "no @context '%s'", r->seg[1]);
            return;
        }
        struct meta_doc_op op = {"context", r->tenant, r->seg[1], NULL, 0};
        rc = meta_docs_commit(r->a->meta, &op, 1);
        if (rc)
            ld_error_store(r, rc);
        else
            ld_send_status(r, 204);
        return;
    }
    ld_method_not_allowed(r, r->nseg == 1 ? "GET, POST" : "GET, DELETE");
}
