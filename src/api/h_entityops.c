/*
** api/h_entityops.c: NGSI-LD batch operations, POST /entityOperations/{create, upsert, update,
** delete, merge} (ETSI GS CIM 009 cl. 5.6.7 to 5.6.10, 6.14 to 6.18, 6.31) and
** POST /entityOperations/query (cl. 6.23).
** Every entity of a batch is validated and applied on its own; the whole batch shares one
** durable commit (one SQLite transaction for the documents, one WAL record for the history).
** Answers: create 201 + [ids]; upsert 201 + [created ids] or 204; update/delete/merge 204; any
** failure -> 207 + BatchOperationResult {"success": [ids], "errors": [{"entityId", "error"}]}.
*/
#include "api/ngsild_int.h"

#include <stdio.h>
#include <string.h>

#define BATCH_MAX 10000 /* entities per batch request */

enum batch_kind { B_CREATE, B_UPSERT, B_UPDATE, B_DELETE, B_MERGE };

struct batch_arg {
    struct ld_req *r;
    enum batch_kind kind;
    int flags;
    json_t *frag;
    int created; /* set by the change when the entity did not exist */
};

static int batch_fn(void *arg, const json_t *cur, int synth, json_t **next)
{
    struct batch_arg *b = arg;
    int exists = cur && !synth;
    switch (b->kind) {
    case B_CREATE:
        if (exists)
            return VG_EEXIST;
        *next = json_incref(b->frag);
        b->created = 1;
        return 0;
    case B_UPSERT:
        if (!cur) {
            *next = json_incref(b->frag);
            b->created = 1;
            return 0;
        }
        return entity_apply(cur, b->frag, (b->flags & LD_OPT_UPDATE) ? ENTITY_APPEND
                                                                     : ENTITY_REPLACE,
                            b->r->now, NULL, NULL, next);
    case B_UPDATE:
        if (!cur)
            return VG_ENOENT;
        return entity_apply(cur, b->frag, (b->flags & LD_OPT_NOOVERWRITE)
                                              ? ENTITY_APPEND_NOOVERWRITE
                                              : ENTITY_APPEND,
                            b->r->now, NULL, NULL, next);
    case B_MERGE:
        if (!cur)
            return VG_ENOENT;
        return entity_apply(cur, b->frag, ENTITY_MERGE, b->r->now, NULL, NULL, next);
    case B_DELETE:
        if (!cur)
            return VG_ENOENT;
        *next = NULL;
        return 0;
    }
    return VG_EINVAL;
}

static json_t *problem_json(const char *type, int status, const char *detail)
{
    char t[128];
    snprintf(t, sizeof(t), LD_ERR_BASE "%s", type);
    return json_pack("{s:s, s:s, s:i, s:s}", "type", t, "title", type, "status", status, "detail",
                     detail);
}

static void add_error(json_t *errors, const char *id, const char *type, int status,
                      const char *fmt_detail)
{
    json_array_append_new(errors, json_pack("{s:s?, s:o}", "entityId", id, "error",
                                            problem_json(type, status, fmt_detail)));
}

static void batch(struct ld_req *r, enum batch_kind kind)
{
    enum entity_format f;
    int sys, flags;
    if (ld_options(r, &f, &sys, &flags))
        return;
    if (!json_is_array(r->body)) {
        ld_error(r, 400, "BadRequestData", "the body must be a JSON array");
        return;
    }
    size_t n = json_array_size(r->body);
    if (n == 0) {
        ld_error(r, 400, "BadRequestData", "the batch is empty");
        return;
    }
    if (n > BATCH_MAX) {
        ld_error(r, 413, "BadRequestData", "at most %d entities per batch", BATCH_MAX);
        return;
    }
    json_t *success = json_array(), *errors = json_array(), *created = json_array();
    struct entstore_batch *b = entstore_batch_new(r->a->es, r->tenant);
    size_t i;
    json_t *item;
    json_array_foreach(r->body, i, item) {
        struct batch_arg ba = {r, kind, flags, NULL, 0};
        const char *id;
        char detail[512];
        if (kind == B_DELETE) {
            id = json_string_value(item);
            if (!id || !entity_uri_valid(id)) {
                add_error(errors, id, "BadRequestData", 400, "expected an entity id (a URI)");
                continue;
            }
        } else {
            struct entity_err e = {{0}, {0}};
            if (!json_is_object(item)) {
                add_error(errors, NULL, "BadRequestData", 400, "expected an entity object");
                continue;
            }
            if (r->ld_body && !json_object_get(item, "@context")) {
                add_error(errors, json_string_value(json_object_get(item, "id")),
                          "BadRequestData", 400,
                          "application/ld+json: every entity must hold an @context member");
                continue;
            }
            enum entity_parse_mode mode = ENTITY_FULL;
            if (kind == B_UPDATE || kind == B_MERGE)
                mode = ENTITY_FRAGMENT;
            if (entity_parse(item, mode, r->ctx, NULL, kind == B_MERGE, r->now, &ba.frag, &e)) {
                snprintf(detail, sizeof(detail), "%s%s%s", e.member, e.member[0] ? ": " : "",
                         e.detail);
                add_error(errors, json_string_value(json_object_get(item, "id")),
                          "BadRequestData", 400, detail);
                continue;
            }
            id = json_string_value(json_object_get(item, "id"));
            if (!id)
                id = json_string_value(json_object_get(item, "@id"));
            if (!id || !entity_uri_valid(id)) {
                json_decref(ba.frag);
                add_error(errors, id, "BadRequestData", 400, "id: expected an entity id (a URI)");
                continue;
            }
        }
        int rc = entstore_change(b, id, batch_fn, &ba);
        json_decref(ba.frag);
        if (rc == VG_EEXIST) {
            add_error(errors, id, "AlreadyExists", 409, "the entity already exists");
        } else if (rc == VG_ENOENT) {
            add_error(errors, id, "ResourceNotFound", 404, "the entity does not exist");
        } else if (rc) {
            snprintf(detail, sizeof(detail), "the change is not valid: %s", vg_strerror(rc));
            add_error(errors, id, "BadRequestData", 400, detail);
        } else {
            json_array_append_new(success, json_string(id));
            if (ba.created)
                json_array_append_new(created, json_string(id));
        }
    }
    int rc = entstore_batch_finish(b);
    if (rc) {
        ld_error_store(r, rc);
    } else if (json_array_size(errors)) {
        r->accept = LD_ACCEPT_JSON;
        ld_send_json(r, 207, json_pack("{s:O, s:O}", "success", success, "errors", errors), 0);
    } else if (kind == B_CREATE) {
        r->accept = LD_ACCEPT_JSON;
        ld_send_json(r, 201, json_incref(success), 0);
    } else if (kind == B_UPSERT && json_array_size(created)) {
        r->accept = LD_ACCEPT_JSON;
        ld_send_json(r, 201, json_incref(created), 0);
    } else {
        ld_send_status(r, 204);
    }
    json_decref(success);
    json_decref(errors);
    json_decref(created);
}

void ld_entity_ops(struct ld_req *r)
{
    if (r->nseg != 2) {
        ld_error(r, 404, "ResourceNotFound", "no NGSI-LD resource at '%s'", r->req->url);
        return;
    }
    if (strcmp(r->req->method, "POST")) {
        ld_method_not_allowed(r, "POST");
        return;
    }
    const char *op = r->seg[1];
    if (!strcmp(op, "query")) {
        if (!json_is_object(r->body)) {
            ld_error(r, 400, "BadRequestData", "the body must be a Query object");
            return;
        }
        const char *t = json_string_value(json_object_get(r->body, "type"));
        if (!t || strcmp(t, "Query")) {
            ld_error(r, 400, "BadRequestData", "type: a Query body has \"type\": \"Query\"");
            return;
        }
        ld_query_answer(r, r->body);
        return;
    }
    if (!r->body) {
        ld_error(r, 400, "InvalidRequest", "this request needs a body");
        return;
    }
    if (!strcmp(op, "create"))
        batch(r, B_CREATE);
    else if (!strcmp(op, "upsert"))
        batch(r, B_UPSERT);
    else if (!strcmp(op, "update"))
        batch(r, B_UPDATE);
    else if (!strcmp(op, "delete"))
        batch(r, B_DELETE);
    else if (!strcmp(op, "merge"))
        batch(r, B_MERGE);
    else
        ld_error(r, 404, "ResourceNotFound", "no batch operation '%s'", op);
}
