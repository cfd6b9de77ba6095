/*
** api/router.c: api_handle(), the entry of every HTTP request: route lookup, the one call to
** auth_authorize(), then the handler. Route table below is the whole HTTP surface of Vigie.
*/
#include "api/api_int.h"

#include "api/session.h"
#include "core/clock.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct route {
    const char *method;
    const char *path;
    enum vg_scope scope; /* SCOPE_NONE: public */
    api_handler_fn *fn;
};

static const struct route routes[] = {
    {"GET", "/health", SCOPE_NONE, h_health},
    {"GET", "/ping", SCOPE_NONE, h_ping},
    {"HEAD", "/ping", SCOPE_NONE, h_ping},
    {"GET", "/", SCOPE_NONE, h_index},
    {"GET", "/metrics", SCOPE_ADMIN, h_metrics},
    {"POST", "/write", SCOPE_WRITE, h_write},
    {"POST", "/api/v2/write", SCOPE_WRITE, h_write},
    {"POST", "/query", SCOPE_WRITE, h_influxql}, /* InfluxDB 1.x: CREATE DATABASE */
    {"GET", "/query", SCOPE_READ, h_influxql},   /* InfluxDB 1.x: SHOW DATABASES */
    {"GET", "/api/v1/query", SCOPE_READ, h_query},
    {"GET", "/api/v1/latest", SCOPE_READ, h_latest},
    {"GET", "/api/v1/quarantine", SCOPE_READ, h_quarantine},
    {"POST", "/api/v1/imports", SCOPE_WRITE, h_imports},
    {"GET", "/api/v1/sources", SCOPE_READ, h_sources},
    {"POST", "/api/v1/quarantine/replay", SCOPE_ADMIN, h_quarantine_replay},
    /* web application (docs/web.md): public routes whose handlers widen what they show for an
    ** authenticated caller (auth_authorize takes credentials on public routes when presented) */
    {"GET", "/api/v1/live", SCOPE_NONE, h_live},
    {"GET", "/api/v1/public/latest", SCOPE_NONE, h_public_latest},
    {"GET", "/api/v1/public/query", SCOPE_NONE, h_public_query},
    {"GET", "/api/v1/ui/config", SCOPE_NONE, h_ui_config},
    {"POST", "/api/v1/session", SCOPE_NONE, h_session_open},
    {"DELETE", "/api/v1/session", SCOPE_NONE, h_session_close},
    /* rules and alerts (docs/alerts.md) */
    {"GET", "/api/v1/rules", SCOPE_READ, h_rules},
    {"POST", "/api/v1/rules", SCOPE_WRITE, h_rules},
    {"GET", "/api/v1/alerts", SCOPE_READ, h_alerts},
    {"GET", "/api/v1/forecast", SCOPE_READ, h_forecast},
};

/* /api/v1/rules/{id} and /api/v1/alerts/{id}/ack|resolve */
static const struct route rule_get = {"GET", "/api/v1/rules/", SCOPE_READ, h_rule_item};
static const struct route rule_put = {"PUT", "/api/v1/rules/", SCOPE_WRITE, h_rule_item};
static const struct route rule_delete = {"DELETE", "/api/v1/rules/", SCOPE_WRITE, h_rule_item};
static const struct route alert_post = {"POST", "/api/v1/alerts/", SCOPE_WRITE, h_alert_action};

/* The web application's files: /assets/... and the display pages /display/... */
static const struct route asset_get = {"GET", "/assets/", SCOPE_NONE, h_asset};
static const struct route asset_head = {"HEAD", "/assets/", SCOPE_NONE, h_asset};

/* Every path under /ngsi-ld/v1/ goes to h_ngsild(), which dispatches by resource; reads need
** the read scope, every other method the write scope. */
static const struct route ngsild_read = {"GET", "/ngsi-ld/v1/", SCOPE_READ, h_ngsild};
static const struct route ngsild_write = {"*", "/ngsi-ld/v1/", SCOPE_WRITE, h_ngsild};

struct api *api_new(const struct api_opts *o, struct store *st, struct catalog *cat,
                    struct meta *m, struct ingest *ig)
{
    struct api *a = vg_calloc(1, sizeof(*a));
    a->o = *o;
    if (!a->o.default_tenant)
        a->o.default_tenant = "default";
    if (!a->o.max_decoded_body)
        a->o.max_decoded_body = 128u << 20;
    if (!a->o.max_series)
        a->o.max_series = 100000;
    if (!a->o.max_points)
        a->o.max_points = 5000000;
    if (!a->o.max_inflight)
        a->o.max_inflight = 1ull << 30;
    a->st = st;
    a->cat = cat;
    a->meta = m;
    a->ig = ig;
    if (!a->o.public_tenant)
        a->o.public_tenant = a->o.default_tenant;
    if (!a->o.live_max_clients)
        a->o.live_max_clients = 256;
    if (!a->o.npublic)
        a->o.public_specs = NULL;
    else { /* copies: the caller's array may not outlive this call */
        char **pub = vg_calloc(a->o.npublic, sizeof(*pub));
        for (uint32_t i = 0; i < a->o.npublic; i++)
            pub[i] = vg_strdup(o->public_specs[i]);
        a->o.public_specs = (const char *const *)pub;
    }
    a->sessions = sessions_new();
    a->started_ms = clock_now_ms();
    return a;
}

void api_free(struct api *a)
{
    if (!a)
        return;
    sessions_free(a->sessions);
    if (a->o.npublic) { /* api_new's copies */
        for (uint32_t i = 0; i < a->o.npublic; i++)
            free((char *)a->o.public_specs[i]);
        free((void *)a->o.public_specs);
    }
    free(a);
}

void api_set_live(struct api *a, struct live *lv)
{
    a->live = lv;
}

void api_set_notify(struct api *a, struct notify *n)
{
    a->notify = n;
}

void api_set_alerts(struct api *a, struct alerts *al)
{
    a->alerts = al;
}

void api_set_ngsild(struct api *a, struct ldctx_reg *reg, struct entstore *es)
{
    a->ldreg = reg;
    a->es = es;
}

void api_set_subs(struct api *a, struct subs *subs)
{
    a->subs = subs;
}

void api_set_sources(struct api *a, struct sources *reg)
{
    a->sources = reg;
}

void api_set_replay(struct api *a, api_replay_fn *fn, void *arg)
{
    a->replay = fn;
    a->replay_arg = arg;
}

int api_admit(struct api *a, size_t len, struct http_resp *resp)
{
    uint64_t before = atomic_fetch_add(&a->inflight_bytes, len);
    if (before == 0 || before + len <= a->o.max_inflight)
        return VG_OK; /* one request alone is always admitted (max-body bounds it) */
    atomic_fetch_sub(&a->inflight_bytes, len);
    atomic_fetch_add(&a->overloaded, 1);
    problem(resp, 503, "overloaded", "Service unavailable",
            "the store is busy with %llu bytes of writes; nothing of this request was "
            "stored, retry after the delay",
            (unsigned long long)before);
    http_resp_header(resp, "Retry-After", "1");
    return VG_EAGAIN;
}

void api_release(struct api *a, size_t len)
{
    atomic_fetch_sub(&a->inflight_bytes, len);
}

void api_set_http(struct api *a, struct http_server *h)
{
    __atomic_store_n(&a->http, h, __ATOMIC_RELEASE); /* read by h_metrics in HTTP threads */
}

/* The early decision, on the headers only (net/http.c calls it before reading any body byte):
** route lookup, the one call to auth_authorize(), and the body-size check from Content-Length.
** Returns 1 when resp holds the answer. */
int api_early(void *arg, struct http_req *req, struct http_resp *resp)
{
    struct api *a = arg;
    const struct route *r = NULL;
    int path_known = 0;
    char allow[64] = "";
    if (strncmp(req->url, "/ngsi-ld/v1/", 12) == 0 && a->es) {
        int read = !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD");
        r = read ? &ngsild_read : &ngsild_write;
        path_known = 1;
    }
    if (!r && (strncmp(req->url, "/assets/", 8) == 0 || strcmp(req->url, "/display") == 0 ||
               strncmp(req->url, "/display/", 9) == 0 || strcmp(req->url, "/widget-demo.html") == 0)) {
        path_known = 1;
        snprintf(allow, sizeof(allow), "GET, HEAD");
        if (!strcmp(req->method, "GET"))
            r = &asset_get;
        else if (!strcmp(req->method, "HEAD"))
            r = &asset_head;
    }
    if (!r && strncmp(req->url, "/api/v1/rules/", 14) == 0 && req->url[14]) {
        path_known = 1;
        snprintf(allow, sizeof(allow), "GET, PUT, DELETE");
        r = !strcmp(req->method, "GET")   ? &rule_get
            : !strcmp(req->method, "PUT") ? &rule_put
            : !strcmp(req->method, "DELETE") ? &rule_delete
                                             : NULL;
    }
    if (!r && strncmp(req->url, "/api/v1/alerts/", 15) == 0 && req->url[15]) {
        path_known = 1;
        snprintf(allow, sizeof(allow), "POST");
        r = !strcmp(req->method, "POST") ? &alert_post : NULL;
    }
    for (size_t i = 0; !r && i < VG_ARRAY_LEN(routes); i++) {
        if (strcmp(routes[i].path, req->url) != 0)
            continue;
        path_known = 1;
        if (strlen(allow) + strlen(routes[i].method) + 3 < sizeof(allow))
            snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), "%s%s",
                     allow[0] ? ", " : "", routes[i].method);
        if (strcmp(routes[i].method, req->method) == 0 && !r)
            r = &routes[i];
    }
    if (!r) {
        if (path_known) {
            problem(resp, 405, "method-not-allowed", "Method not allowed",
                    "%s is not allowed on %s", req->method, req->url);
            http_resp_header(resp, "Allow", allow);
        } else {
            problem(resp, 404, "not-found", "Not found", "no resource at '%s'", req->url);
        }
        return 1;
    }
    struct principal p;
    if (auth_authorize(a, req, r->scope, &p, resp))
        return 1;
    const char *cl = http_header(req, "Content-Length");
    if (cl) {
        char *end;
        unsigned long long n = strtoull(cl, &end, 10);
        if (*end || n > req->body.cap_max) {
            problem(resp, 413, "body-too-large", "Request body too large",
                    "the body exceeds the limit of %zu bytes; send smaller batches",
                    req->body.cap_max);
            return 1;
        }
    }
    req->route = r;
    req->scope = (int)p.scope;
    req->authenticated = p.authenticated;
    snprintf(req->key_label, sizeof(req->key_label), "%s", p.key_label);
    return 0;
}

void api_handle(void *arg, struct http_req *req, struct http_resp *resp)
{
    struct api *a = arg;
    const struct route *r = req->route;
    if (!r) { /* api_early always runs first; a missing route is a wiring bug */
        problem(resp, 500, "internal", "Internal error", "request not routed");
        return;
    }
    if (req->body_too_big) {
        problem(resp, 413, "body-too-large", "Request body too large",
                "the body exceeds the limit of %zu bytes; send smaller batches", req->body.cap_max);
        return;
    }
    /* The principal decided by auth_authorize() in api_early(), carried by the request. */
    struct principal p;
    memset(&p, 0, sizeof(p));
    snprintf(p.tenant, sizeof(p.tenant), "%s", req->tenant);
    p.scope = (enum vg_scope)req->scope;
    p.authenticated = req->authenticated;
    snprintf(p.key_label, sizeof(p.key_label), "%s", req->key_label);
    r->fn(a, req, resp, &p);
}
