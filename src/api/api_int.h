/*
** api/api_int.h: private to api/: struct api, the principal of a request, problem documents
** and the handler prototypes. Nothing outside api/ includes it.
*/
#ifndef VG_API_API_INT_H
#define VG_API_API_INT_H

#include "api/api.h"

#include <stdatomic.h>

struct api {
    struct api_opts o;
    struct store *st;
    struct catalog *cat;
    struct meta *meta;
    struct ingest *ig;
    struct http_server *http;
    struct ldctx_reg *ldreg;  /* NGSI-LD: contexts and entities (NULL until api_set_ngsild) */
    struct entstore *es;
    struct subs *subs;        /* NGSI-LD subscriptions (NULL until api_set_subs) */
    struct sources *sources;  /* the source registry (NULL until api_set_sources) */
    struct live *live;        /* the live feed (NULL until api_set_live) */
    struct alerts *alerts;    /* rules and alerts (NULL until api_set_alerts) */
    struct notify *notify;    /* alert notifications, for /metrics (NULL: none) */
    struct sessions *sessions; /* browser sessions (owned) */
    api_replay_fn *replay;    /* quarantine replay (NULL until api_set_replay) */
    void *replay_arg;
    int64_t started_ms;
    atomic_uint_fast64_t auth_failures;
    atomic_uint_fast64_t inflight_bytes; /* write bodies being stored (back-pressure) */
    atomic_uint_fast64_t overloaded;     /* writes refused with 503 for that reason */
};

/* Who is calling, decided by auth_authorize() once per request. */
struct principal {
    char tenant[64];
    enum vg_scope scope;
    int authenticated; /* 0 when auth is off (open mode) */
    char key_label[128]; /* the API key's label ("" when auth is off or unlabelled) */
};

/* The single authorisation function. Fills p and returns 0, or fills resp with a 401/403
** problem and returns VG_EPERM. need is the scope the route requires (SCOPE_NONE = public). */
int auth_authorize(struct api *a, struct http_req *req, enum vg_scope need, struct principal *p,
                   struct http_resp *resp);

/* RFC 7807 problem document: type "urn:vigie:problem:<slug>" (catalogue in docs/api.md). */
void problem(struct http_resp *resp, int status, const char *slug, const char *title,
             const char *detail_fmt, ...) __attribute__((format(printf, 5, 6)));
/* Same, with extra members: extra is a JSON fragment `"k":v,...` inserted verbatim (or NULL). */
void problem_ext(struct http_resp *resp, int status, const char *slug, const char *title,
                 const char *extra, const char *detail_fmt, ...)
    __attribute__((format(printf, 6, 7)));

typedef void api_handler_fn(struct api *a, struct http_req *req, struct http_resp *resp,
                            const struct principal *p);

void h_health(struct api *a, struct http_req *req, struct http_resp *resp, const struct principal *p);
void h_ping(struct api *a, struct http_req *req, struct http_resp *resp, const struct principal *p);
void h_metrics(struct api *a, struct http_req *req, struct http_resp *resp, const struct principal *p);
void h_index(struct api *a, struct http_req *req, struct http_resp *resp, const struct principal *p);
void h_write(struct api *a, struct http_req *req, struct http_resp *resp, const struct principal *p);
void h_query(struct api *a, struct http_req *req, struct http_resp *resp, const struct principal *p);
void h_latest(struct api *a, struct http_req *req, struct http_resp *resp, const struct principal *p);
void h_influxql(struct api *a, struct http_req *req, struct http_resp *resp,
                const struct principal *p);
void h_ngsild(struct api *a, struct http_req *req, struct http_resp *resp, const struct principal *p);
void h_quarantine(struct api *a, struct http_req *req, struct http_resp *resp,
                  const struct principal *p);
void h_imports(struct api *a, struct http_req *req, struct http_resp *resp,
               const struct principal *p);
void h_sources(struct api *a, struct http_req *req, struct http_resp *resp,
               const struct principal *p);
void h_live(struct api *a, struct http_req *req, struct http_resp *resp, const struct principal *p);
void h_public_latest(struct api *a, struct http_req *req, struct http_resp *resp,
                     const struct principal *p);
void h_public_query(struct api *a, struct http_req *req, struct http_resp *resp,
                    const struct principal *p);
void h_ui_config(struct api *a, struct http_req *req, struct http_resp *resp,
                 const struct principal *p);
void h_session_open(struct api *a, struct http_req *req, struct http_resp *resp,
                    const struct principal *p);
void h_session_close(struct api *a, struct http_req *req, struct http_resp *resp,
                     const struct principal *p);
void h_rules(struct api *a, struct http_req *req, struct http_resp *resp, const struct principal *p);
void h_rule_item(struct api *a, struct http_req *req, struct http_resp *resp,
                 const struct principal *p);
void h_alerts(struct api *a, struct http_req *req, struct http_resp *resp, const struct principal *p);
void h_forecast(struct api *a, struct http_req *req, struct http_resp *resp,
                const struct principal *p);
void h_alert_action(struct api *a, struct http_req *req, struct http_resp *resp,
                    const struct principal *p);
/* The alert engine's lines of GET /metrics. */
void h_alerts_metrics(struct api *a, struct buf *b);
void h_asset(struct api *a, struct http_req *req, struct http_resp *resp, const struct principal *p);
/* A stored value as JSON (the one encoding of /api/v1/query, /latest and the live feed):
** numbers, true/false, strings (a JSON-marked NGSI-LD compound as its JSON), geo {"lat","lon"}. */
void api_value_json(struct buf *b, enum vg_vtype vt, const union vg_val *v);
/* api_public_ok() in the shape of a filter callback (arg: the struct api). */
int api_public_filter(void *arg, const char *type, const char *attr);
/* The live feed's lines of GET /metrics. */
void h_live_metrics(struct api *a, struct buf *b);
/* DIR/NAME.json of the server's mappings directory for a mapping name ([A-Za-z0-9_.-], no
** ".."), or VG_EINVAL. */
int api_mapping_path(const struct api *a, const char *name, char *path, size_t cap);
void h_quarantine_replay(struct api *a, struct http_req *req, struct http_resp *resp,
                         const struct principal *p);
/* The registry's lines of GET /metrics. */
void h_sources_metrics(struct api *a, struct buf *b);
/* Back-pressure of writes: admit len more bytes (0), or fill resp with a 503 + Retry-After and
** return VG_EAGAIN when max_inflight bytes are being stored already. api_release(len) after. */
int api_admit(struct api *a, size_t len, struct http_resp *resp);
void api_release(struct api *a, size_t len);

#endif
