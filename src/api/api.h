/*
** api/api.h: the HTTP API of Vigie: routing, authorisation, problem documents and the handlers
** (one file per resource: h_write.c, h_query.c, h_system.c, h_quarantine.c).
** Owns: struct api (borrowed pointers to the lower layers, the auth cache, counters).
** Every request enters through api_handle() (the net/http handler), which calls auth_authorize()
** exactly once before any handler runs: the single authorisation point of the server.
** Thread: api_handle runs in many HTTP threads at once.
*/
#ifndef VG_API_API_H
#define VG_API_API_H

#include "ingest/ingest.h"
#include "meta/catalog.h"
#include "meta/meta.h"
#include "net/http.h"
#include "store/db.h"

struct api;

struct api_opts {
    int auth;               /* 1: API keys required (serve default); 0: open (demo on loopback) */
    const char *default_tenant; /* tenant when auth is off and no NGSILD-Tenant header: "default" */
    size_t max_decoded_body; /* gzip-decoded body cap (default 256 MiB) */
    uint32_t max_series;    /* per query (default 100000) */
    uint64_t max_points;    /* per query response (default 5,000,000) */
    const char *mappings_dir; /* import mappings: DIR/NAME.json (POST /api/v1/imports) */
    uint64_t max_inflight;  /* bytes of write bodies stored at once; beyond: 503 (default 1 GiB) */
    /* web application and public data (docs/web.md) */
    const char *const *public_specs; /* "TYPE" or "TYPE:attr,attr": what anyone may read (copied) */
    uint32_t npublic;
    const char *public_tenant;  /* tenant of the public data (default: default_tenant) */
    const char *web_dir;        /* serve the web application from DIR instead of the binary */
    const char *tiles;          /* raster tile URL template for the maps, or NULL */
    const char *tiles_attribution;
    uint32_t live_max_clients;  /* concurrent GET /api/v1/live streams (default 256) */
};

struct api *api_new(const struct api_opts *o, struct store *st, struct catalog *cat,
                    struct meta *m, struct ingest *ig);
void api_free(struct api *a);
/* Give the API the live feed of new values (borrowed): GET /api/v1/live. */
struct live;
void api_set_live(struct api *a, struct live *lv);
/* Give the API the alert engine (borrowed): /api/v1/rules, /api/v1/alerts. */
struct alerts;
void api_set_alerts(struct api *a, struct alerts *al);
/* And its notification receivers (borrowed), for /metrics. */
struct notify;
void api_set_notify(struct api *a, struct notify *n);
/* Is (type, attribute) marked public by the configuration? */
int api_public_ok(const struct api *a, const char *type, const char *attr);
/* Give the API the running server (for /metrics); may be NULL. */
void api_set_http(struct api *a, struct http_server *h);

/* Give the API the NGSI-LD context registry and entity store (both borrowed). */
struct ldctx_reg;
struct entstore;
void api_set_ngsild(struct api *a, struct ldctx_reg *reg, struct entstore *es);
struct subs;
void api_set_subs(struct api *a, struct subs *subs);
/* Give the API the source registry (borrowed): GET /api/v1/sources, /metrics, counters. */
struct sources;
void api_set_sources(struct api *a, struct sources *reg);
/* Quarantine replay for POST /api/v1/quarantine/replay (the app layer runs it: it knows the
** gateway and the mappings). Returns 0 or a store error; counts and first errors in out. */
struct api_replay_req {
    const char *tenant, *source, *mapping; /* source, mapping: NULL = any / stored reference */
    int64_t id;                            /* 0 = every row */
};
struct api_replay_res {
    uint64_t replayed, stored, quarantined, skipped;
    char first_errors[1024];
};
typedef int api_replay_fn(void *arg, const struct api_replay_req *rq, struct api_replay_res *out);
void api_set_replay(struct api *a, api_replay_fn *fn, void *arg);

/* The net/http early function (headers only): routing and the one authorisation call. */
int api_early(void *arg, struct http_req *req, struct http_resp *resp);
/* The net/http handler (body complete). */
void api_handle(void *arg, struct http_req *req, struct http_resp *resp);

/* ---- query execution, shared by GET /api/v1/query and `vigie query` ---------------------- */
struct query_params {
    const char *tenant;
    const char *type, *id, *attr;
    struct vg_tag where[16];
    uint32_t nwhere;
    int64_t from, to;  /* [from, to) in ms */
    int agg;           /* -1 raw, else enum store_agg */
    int64_t every;     /* bucket width ms (agg only) */
    uint32_t limit;    /* raw points per series, 0 = max_points */
    int by_entity;     /* latest: one object per entity ("by=entity") instead of per series */
    /* optional final filter on each selected series (public data); NULL = every series */
    int (*keep)(void *arg, const char *type, const char *attr);
    void *keep_arg;
};
/* Where query parameters come from: the HTTP query string, or `vigie query` flags. */
struct query_source {
    const char *(*get)(void *ctx, const char *name); /* the value, or NULL if absent */
    void (*each)(void *ctx, const char *name, void (*fn)(void *arg, const char *v), void *arg);
    void *ctx;
};
/* The one parser of query parameters (type, id, attr, where, from, to, agg, every, limit) and
** of their defaults. where[] keys are copied into keys[16][128]; q points into src's strings.
** Returns 0, or VG_EINVAL with the reason in err. */
int query_params_parse(const struct query_source *src, const char *tenant, int64_t now,
                       struct query_params *q, char keys[][128], char *err, size_t cap);
/* Parse "1h", "15m", "30s", "500ms", "2d", "1w" into ms. Returns 0 or VG_EINVAL. */
int query_parse_duration(const char *s, int64_t *ms);
/* Run the query, appending the JSON answer to out. On error, err names the problem (for a 400). */
int query_run(struct store *st, struct catalog *cat, const struct query_params *q,
              uint32_t max_series, uint64_t max_points, struct buf *out, char *err, size_t cap);
/* Latest value of every selected series (id/attr/type/where as in query_params). */
int query_latest(struct store *st, struct catalog *cat, const struct query_params *q,
                 uint32_t max_series, struct buf *out, char *err, size_t cap);

/* Tenant names: 1..63 chars of [A-Za-z0-9_-] (request headers, keys, the rules file). */
int auth_tenant_valid(const char *t);

#endif
