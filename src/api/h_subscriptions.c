/*
** api/h_subscriptions.c: NGSI-LD /subscriptions (ETSI GS CIM 009 cl. 5.8, 6.10-6.11):
**   POST   /ngsi-ld/v1/subscriptions          create: 201 + Location; 409 AlreadyExists
**   GET    /ngsi-ld/v1/subscriptions          list: limit, offset, count (NGSILD-Results-Count)
**   GET    /ngsi-ld/v1/subscriptions/{id}     one: 404 ResourceNotFound
**   PATCH  /ngsi-ld/v1/subscriptions/{id}     merge the fragment: 204
**   DELETE /ngsi-ld/v1/subscriptions/{id}     204
** Names are expanded with the request's @context at creation and compacted with the request's
** @context in responses. The work is done by ngsild/subs.c; this file maps HTTP to it.
** Borrows: r->a->subs (NULL when the server runs without subscriptions: 501).
*/
#include "api/ngsild_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    if (!*s || *s == '-' || *s == '+')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || v > max)
        return -1;
    *out = v;
    return 0;
}

static void map_error(struct ld_req *r, int rc, const char *id, const char *err)
{
    if (rc == VG_EINVAL)
        ld_error(r, 400, "BadRequestData", "%s", err);
    else if (rc == VG_EEXIST)
        ld_error(r, 409, "AlreadyExists", "subscription '%s' already exists", id);
    else if (rc == VG_ENOENT)
        ld_error(r, 404, "ResourceNotFound", "no subscription '%s'", id);
    else if (rc == VG_ETOOBIG)
        ld_error(r, 403, "OperationNotSupported", "at most %d subscriptions per tenant",
                 SUBS_MAX_PER_TENANT);
    else
        ld_error_store(r, rc);
}

static void sub_create(struct ld_req *r)
{
    char id[1100] = "", err[512] = "";
    if (!json_is_object(r->body)) {
        ld_error(r, 400, "BadRequestData", "the body must be a Subscription object");
        return;
    }
    int rc = subs_create(r->a->subs, r->tenant, r->body, r->ctx, r->ctx_value, id, sizeof(id),
                         err, sizeof(err));
    if (rc) {
        const char *bid = json_string_value(json_object_get(r->body, "id"));
        map_error(r, rc, bid ? bid : "", err);
        return;
    }
    char loc[1200];
    snprintf(loc, sizeof(loc), LD_ROOT "subscriptions/%s", id);
    ld_send_status(r, 201);
    http_resp_header(r->resp, "Location", loc);
}

static void sub_list(struct ld_req *r)
{
    enum entity_format fmt;
    int sys_attrs, flags, count = 0;
    if (ld_options(r, &fmt, &sys_attrs, &flags))
        return;
    uint64_t limit = LD_DEFAULT_LIMIT, offset = 0, total = 0;
    const char *l = ld_arg(r, "limit"), *o = ld_arg(r, "offset"), *c = ld_arg(r, "count");
    if (c && !strcmp(c, "true"))
        count = 1;
    else if (c && strcmp(c, "false")) {
        ld_error(r, 400, "BadRequestData", "count: expected true or false");
        return;
    }
    if (l && parse_u64(l, UINT32_MAX, &limit)) {
        ld_error(r, 400, "BadRequestData", "limit: expected a non-negative integer");
        return;
    }
    if (o && parse_u64(o, UINT32_MAX, &offset)) {
        ld_error(r, 400, "BadRequestData", "offset: expected a non-negative integer");
        return;
    }
    if (limit > LD_MAX_LIMIT) {
        ld_error(r, 403, "TooManyResults", "limit: at most %d subscriptions per page",
                 LD_MAX_LIMIT);
        return;
    }
    if (limit == 0 && !count) {
        ld_error(r, 400, "BadRequestData", "limit=0 is only allowed with count=true");
        return;
    }
    json_t *a = NULL;
    subs_list(r->a->subs, r->tenant, r->ctx, sys_attrs, offset, limit, &a, &total);
    if (count) {
        char n[32];
        snprintf(n, sizeof(n), "%llu", (unsigned long long)total);
        http_resp_header(r->resp, "NGSILD-Results-Count", n);
    }
    ld_send_json(r, 200, a, 1);
}

static void sub_one(struct ld_req *r, const char *id)
{
    char err[512] = "";
    int rc;
    if (!entity_uri_valid(id)) {
        ld_error(r, 400, "BadRequestData", "'%s' is not a valid subscription id (a URI)", id);
        return;
    }
    if (!strcmp(r->req->method, "GET")) {
        enum entity_format fmt;
        int sys_attrs, flags;
        json_t *out = NULL;
        if (ld_options(r, &fmt, &sys_attrs, &flags))
            return;
        rc = subs_get(r->a->subs, r->tenant, id, r->ctx, sys_attrs, &out);
        if (rc)
            map_error(r, rc, id, err);
        else
            ld_send_json(r, 200, out, 1);
    } else if (!strcmp(r->req->method, "PATCH")) {
        if (!json_is_object(r->body)) {
            ld_error(r, 400, "BadRequestData", "the body must be a JSON object (a Subscription "
                     "fragment)");
            return;
        }
        rc = subs_update(r->a->subs, r->tenant, id, r->body, r->ctx, err, sizeof(err));
        if (rc)
            map_error(r, rc, id, err);
        else
            ld_send_status(r, 204);
    } else if (!strcmp(r->req->method, "DELETE")) {
        rc = subs_delete(r->a->subs, r->tenant, id);
        if (rc)
            map_error(r, rc, id, err);
        else
            ld_send_status(r, 204);
    } else {
        ld_method_not_allowed(r, "GET, PATCH, DELETE");
    }
}

void ld_subscriptions(struct ld_req *r)
{
    if (!r->a->subs) {
        ld_error(r, 501, "OperationNotSupported", "subscriptions are not enabled on this server");
        return;
    }
    if (r->nseg == 1) {
        if (!strcmp(r->req->method, "POST"))
            sub_create(r);
        else if (!strcmp(r->req->method, "GET"))
            sub_list(r);
        else
            ld_method_not_allowed(r, "GET, POST");
    } else if (r->nseg == 2) {
        sub_one(r, r->seg[1]);
    } else {
        ld_error(r, 404, "ResourceNotFound", "no NGSI-LD resource at '%s'", r->req->url);
    }
}
