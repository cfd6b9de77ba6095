/*
** api/ngsild_int.h: private to the NGSI-LD handlers of api/ (h_ngsild.c: dispatch, content
** negotiation, @context resolution, errors; h_entities.c, h_entityops.c, h_ldmeta.c,
** h_temporal.c: the resources). ETSI GS CIM 009 V1.8/1.9, checklist in docs/ngsi-ld.md.
*/
#ifndef VG_API_NGSILD_INT_H
#define VG_API_NGSILD_INT_H

#include "api/api_int.h"
#include "ngsild/entity.h"
#include "ngsild/entstore.h"
#include "ngsild/geo.h"
#include "ngsild/ldctx.h"
#include "ngsild/qlang.h"
#include "ngsild/subs.h"

#include <jansson.h>
#include <regex.h>

#define LD_ROOT "/ngsi-ld/v1/"
#define LD_ERR_BASE "https://uri.etsi.org/ngsi-ld/errors/"
#define LD_DEFAULT_LIMIT 20
#define LD_MAX_LIMIT 1000
#define LD_MAX_SEGS 8

enum ld_accept { LD_ACCEPT_JSON, LD_ACCEPT_LD, LD_ACCEPT_GEO };

/* One NGSI-LD request, built by h_ngsild() before the resource handler runs. */
struct ld_req {
    struct api *a;
    struct http_req *req;
    struct http_resp *resp;
    const struct principal *p;
    const char *tenant;
    int tenant_given;        /* NGSILD-Tenant header present */
    const char *seg[LD_MAX_SEGS]; /* path segments after /ngsi-ld/v1/ (point into segbuf) */
    int nseg;
    char segbuf[4096];
    struct ldctx *ctx;       /* the active @context (always set; core when none given) */
    json_t *ctx_value;       /* the @context as given (URL string, object or array), or NULL */
    json_t *body;            /* parsed body, or NULL */
    int ld_body;             /* body was application/ld+json */
    enum ld_accept accept;
    char now[32];            /* RFC 3339 receipt time */
    int64_t now_ms;
};

/* NGSI-LD problem details (application/json): type LD_ERR_BASE + type. */
void ld_error(struct ld_req *r, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Answer 405 with the Allow header. */
void ld_method_not_allowed(struct ld_req *r, const char *allow);
/* Map an entity parse error. */
void ld_error_entity(struct ld_req *r, const struct entity_err *e);
/* Map a Vigie error code from the entity store (507 disk full, 500...). */
void ld_error_store(struct ld_req *r, int rc);
/* A JSON body: Content-Type from the negotiation; adds the Link header or "@context". */
void ld_send_json(struct ld_req *r, int status, json_t *body /* reference taken */,
                  int add_context);
/* The caller wrote the JSON body into r->resp->body itself (with "@context" members when
** r->accept is LD): set status, Content-Type and, for application/json, the Link header. */
void ld_send_prepared(struct ld_req *r, int status, int add_context);
/* Response without body. */
void ld_send_status(struct ld_req *r, int status);
/* The JSON @context value to echo (ctx_value, or the core URL string). New reference. */
json_t *ld_context_value(struct ld_req *r);
/* Does the tenant exist? Answers NonexistentTenant and returns 0 if not (reads only). */
int ld_tenant_check(struct ld_req *r);
/* Query parameter helpers. */
const char *ld_arg(struct ld_req *r, const char *name);
/* "options" and "format": format (normalized/concise/simplified) and sysAttrs; returns 0 or
** answers 400 and returns -1. extra receives other recognised options (bit flags below). */
enum { LD_OPT_NOOVERWRITE = 1, LD_OPT_UPDATE = 2, LD_OPT_REPLACE = 4, LD_OPT_TEMPORAL = 8,
       LD_OPT_AGGREGATED = 16 };
int ld_options(struct ld_req *r, enum entity_format *fmt, int *sys_attrs, int *flags);
/* Split a comma list into a new JSON array of strings, expanding each with the context unless
** literal (id/type/scope kept). */
json_t *ld_name_list(struct ld_req *r, const char *csv, int expand);
/* The expand callback for q_parse. */
const char *ld_q_expand(void *ctx, const char *term);

/* Resource handlers. */
void ld_entities(struct ld_req *r);
void ld_entity_ops(struct ld_req *r);
void ld_types(struct ld_req *r);
void ld_attributes(struct ld_req *r);
void ld_contexts(struct ld_req *r);
void ld_temporal(struct ld_req *r);
/* Delete the current state of entity id (h_entities.c); VG_ENOENT if it has none. */
int ld_entity_delete(struct ld_req *r, const char *id);
void ld_subscriptions(struct ld_req *r);

/* Entity query shared by GET /entities, POST /entityOperations/query and the temporal query:
** parameters from the query string or from a Query body. */
#define LD_MAX_SELECTORS 64
/* One EntitySelector of a Query body: the members given must all match. */
struct ld_selector {
    const char *id;          /* borrowed from the body, or NULL */
    regex_t *id_pattern;
    json_t *types;           /* DNF as below, or NULL */
};
struct ld_query {
    struct ld_selector sel[LD_MAX_SELECTORS]; /* Query body "entities": any selector matches */
    int nsel;
    json_t *ids;             /* array of strings or NULL */
    regex_t *id_pattern;
    json_t *types;           /* DNF: array of arrays of type IRIs, or NULL */
    struct qexpr *q;
    struct scopeq *scopeq;
    struct georel georel;
    struct geo_shape *geom;
    const char *geoprop;     /* expanded IRI */
    json_t *attrs;           /* expanded attribute IRIs (deprecated attrs=): entity must have one */
};
/* Parse from the request; answers 400 and returns -1 on error. */
int ld_query_parse(struct ld_req *r, struct ld_query *q, const json_t *body_query);
void ld_query_release(struct ld_query *q);
/* Run a query (GET /entities, POST /entityOperations/query) and answer. */
void ld_query_answer(struct ld_req *r, const json_t *body_query);
int ld_query_match(void *arg, const json_t *e);
/* Does the query filter anything (id, idPattern, type, attrs, q, scopeQ, geo, selectors)? */
int ld_query_has_filter(const struct ld_query *q);
/* Fill the entstore scan hints from q (arrays live as long as q and hold). */
struct ld_scan_hints {
    const char *types[64];
    const char *ids[1024];
    double bbox[4];
};
void ld_query_hints(const struct ld_query *q, struct ld_scan_hints *h, struct entstore_scan *s);

#endif
