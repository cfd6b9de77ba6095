/*
** api/h_alerts.c: rules and alerts over HTTP (docs/alerts.md):
**   GET|POST /api/v1/rules, GET|PUT|DELETE /api/v1/rules/{id},
**   GET /api/v1/alerts?state=&severity=&type=&rule=&since=&limit=,
**   POST /api/v1/alerts/{id}/ack and /resolve with an optional {"comment":"..."},
**   GET /api/v1/forecast?id=&attr=&horizon=&level=.
** The engine (alerts/alerts.h) does the work; this file maps requests and errors.
*/
#include "api/api_int.h"

#include "alerts/alerts.h"
#include "alerts/notify.h"
#include "core/clock.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ready(struct api *a, struct http_resp *resp)
{
    if (a->alerts)
        return 1;
    problem(resp, 503, "alerts-unavailable", "Alerts unavailable", "the alert engine is not running");
    return 0;
}

static void answer_json(struct http_resp *resp, int status)
{
    resp->status = status;
    resp->ctype = "application/json";
}

void h_rules(struct api *a, struct http_req *req, struct http_resp *resp, const struct principal *p)
{
    if (!ready(a, resp))
        return;
    if (!strcmp(req->method, "GET")) {
        alerts_rules_json(a->alerts, p->tenant, NULL, &resp->body);
        answer_json(resp, 200);
        return;
    }
    char id[64], err[512];
    int rc = alerts_rule_put(a->alerts, p->tenant, req->body.p ? req->body.p : "", req->body.len, 0,
                             id, sizeof(id), err, sizeof(err));
    if (rc == VG_EINVAL || rc == VG_EEXIST) {
        problem(resp, rc == VG_EEXIST ? 409 : 400, rc == VG_EEXIST ? "conflict" : "bad-rule",
                rc == VG_EEXIST ? "Rule exists" : "Invalid rule", "%s", err);
        return;
    }
    if (rc) {
        problem(resp, 500, "internal", "Internal error", "%s", err);
        return;
    }
    char loc[128];
    snprintf(loc, sizeof(loc), "/api/v1/rules/%s", id);
    http_resp_header(resp, "Location", loc);
    alerts_rules_json(a->alerts, p->tenant, id, &resp->body);
    answer_json(resp, 201);
}

void h_rule_item(struct api *a, struct http_req *req, struct http_resp *resp,
                 const struct principal *p)
{
    if (!ready(a, resp))
        return;
    const char *id = req->url + strlen("/api/v1/rules/");
    if (!strcmp(req->method, "GET")) {
        if (alerts_rules_json(a->alerts, p->tenant, id, &resp->body)) {
            problem(resp, 404, "not-found", "Not found", "no rule '%s'", id);
            return;
        }
        answer_json(resp, 200);
        return;
    }
    if (!strcmp(req->method, "DELETE")) {
        int rc = alerts_rule_delete(a->alerts, p->tenant, id);
        if (rc == VG_ENOENT)
            problem(resp, 404, "not-found", "Not found", "no rule '%s'", id);
        else if (rc)
            problem(resp, 500, "internal", "Internal error", "%s", vg_strerror(rc));
        else
            resp->status = 204;
        return;
    }
    /* PUT: the body's id must be the path's */
    json_t *o = json_loadb(req->body.p ? req->body.p : "", req->body.len, 0, NULL);
    const char *bid = json_string_value(json_object_get(o, "id"));
    int same = bid && !strcmp(bid, id);
    json_decref(o);
    if (o && !same) {
        problem(resp, 400, "bad-rule", "Invalid rule", "the rule's id must be '%s', as in the path",
                id);
        return;
    }
    char rid[64], err[512];
    int rc = alerts_rule_put(a->alerts, p->tenant, req->body.p ? req->body.p : "", req->body.len, 1,
                             rid, sizeof(rid), err, sizeof(err));
    if (rc == VG_EINVAL || rc == VG_ENOENT) {
        problem(resp, rc == VG_ENOENT ? 404 : 400, rc == VG_ENOENT ? "not-found" : "bad-rule",
                rc == VG_ENOENT ? "Not found" : "Invalid rule", "%s", err);
        return;
    }
    if (rc) {
        problem(resp, 500, "internal", "Internal error", "%s", err);
        return;
    }
    alerts_rules_json(a->alerts, p->tenant, rid, &resp->body);
    answer_json(resp, 200);
}

void h_alerts(struct api *a, struct http_req *req, struct http_resp *resp, const struct principal *p)
{
    if (!ready(a, resp))
        return;
    struct alerts_filter f;
    memset(&f, 0, sizeof(f));
    f.state = http_arg(req, "state");
    f.severity = http_arg(req, "severity");
    f.type = http_arg(req, "type");
    f.rule = http_arg(req, "rule");
    if (f.state && strcmp(f.state, "open") && strcmp(f.state, "acknowledged") &&
        strcmp(f.state, "resolved")) {
        problem(resp, 400, "bad-query", "Bad query", "state is open, acknowledged or resolved");
        return;
    }
    const char *since = http_arg(req, "since");
    if (since && clock_parse_time(since, strlen(since), &f.since)) {
        problem(resp, 400, "bad-query", "Bad query", "since is an RFC 3339 time or epoch ms");
        return;
    }
    const char *limit = http_arg(req, "limit");
    if (limit) {
        char *end;
        long l = strtol(limit, &end, 10);
        if (*end || l < 1 || l > 100000) {
            problem(resp, 400, "bad-query", "Bad query", "limit is 1 to 100000");
            return;
        }
        f.limit = (uint32_t)l;
    }
    alerts_list_json(a->alerts, p->tenant, &f, &resp->body);
    answer_json(resp, 200);
}

void h_alert_action(struct api *a, struct http_req *req, struct http_resp *resp,
                    const struct principal *p)
{
    if (!ready(a, resp))
        return;
    char id[32];
    const char *rest = req->url + strlen("/api/v1/alerts/");
    const char *slash = strchr(rest, '/');
    int ack = slash && !strcmp(slash, "/ack"), res = slash && !strcmp(slash, "/resolve");
    if ((!ack && !res) || (size_t)(slash - rest) >= sizeof(id)) {
        problem(resp, 404, "not-found", "Not found", "no resource at '%s' (use .../ack or .../resolve)",
                req->url);
        return;
    }
    snprintf(id, sizeof(id), "%.*s", (int)(slash - rest), rest);
    const char *comment = NULL;
    json_t *o = NULL;
    if (req->body.len) {
        o = json_loadb(req->body.p, req->body.len, 0, NULL);
        const json_t *c = json_object_get(o, "comment");
        if (!json_is_object(o) || (c && !json_is_string(c)) || json_string_length(c) > 2000) {
            json_decref(o);
            problem(resp, 400, "bad-request", "Bad request",
                    "the body is {\"comment\":\"...\"} (at most 2000 bytes) or empty");
            return;
        }
        comment = json_string_value(c);
    }
    char by[160], err[256];
    snprintf(by, sizeof(by), "%s", p->key_label[0] ? p->key_label : p->authenticated ? "api key" : "anonymous");
    int rc = ack ? alerts_ack(a->alerts, p->tenant, id, by, comment, &resp->body, err, sizeof(err))
                 : alerts_resolve(a->alerts, p->tenant, id, by, comment, &resp->body, err, sizeof(err));
    json_decref(o);
    if (rc == VG_ENOENT || rc == VG_EINVAL) {
        buf_reset(&resp->body);
        problem(resp, rc == VG_ENOENT ? 404 : 409, rc == VG_ENOENT ? "not-found" : "conflict",
                rc == VG_ENOENT ? "Not found" : "Conflict", "%s", err);
        return;
    }
    if (rc) {
        buf_reset(&resp->body);
        problem(resp, 500, "internal", "Internal error", "%s", err);
        return;
    }
    answer_json(resp, 200);
}

void h_alerts_metrics(struct api *a, struct buf *b)
{
    if (!a->alerts)
        return;
    struct alerts_stats st;
    alerts_get_stats(a->alerts, &st);
    buf_printf(b,
               "# HELP vigie_rules Alert rules.\n# TYPE vigie_rules gauge\nvigie_rules %llu\n"
               "# HELP vigie_alerts_open Alerts open or acknowledged.\n# TYPE vigie_alerts_open gauge\n"
               "vigie_alerts_open %llu\n"
               "# HELP vigie_alerts_raised_total Alerts raised.\n# TYPE vigie_alerts_raised_total counter\n"
               "vigie_alerts_raised_total %llu\n"
               "# HELP vigie_alerts_resolved_total Alerts resolved (automatically or by hand).\n"
               "# TYPE vigie_alerts_resolved_total counter\nvigie_alerts_resolved_total %llu\n"
               "# HELP vigie_rule_evaluations_total Rule evaluations on new values.\n"
               "# TYPE vigie_rule_evaluations_total counter\nvigie_rule_evaluations_total %llu\n"
               "# HELP vigie_rule_values_settled_total Values settled by their series' quiet band "
               "(no rule state could change).\n"
               "# TYPE vigie_rule_values_settled_total counter\n"
               "vigie_rule_values_settled_total %llu\n",
               (unsigned long long)st.rules, (unsigned long long)st.open,
               (unsigned long long)st.raised, (unsigned long long)st.resolved,
               (unsigned long long)st.evaluations, (unsigned long long)st.settled);
    buf_printf(b,
               "# HELP vigie_alerts_escalated_total Escalations of unacknowledged alerts.\n"
               "# TYPE vigie_alerts_escalated_total counter\nvigie_alerts_escalated_total %llu\n"
               "# HELP vigie_alerts_flapping_total Alerts held open because they flapped.\n"
               "# TYPE vigie_alerts_flapping_total counter\nvigie_alerts_flapping_total %llu\n",
               (unsigned long long)st.escalated, (unsigned long long)st.flapping);
    if (a->notify)
        notify_metrics(a->notify, b);
}

/* GET /api/v1/forecast?id=&attr=&horizon=72h&level=0.95 */
void h_forecast(struct api *a, struct http_req *req, struct http_resp *resp,
                const struct principal *p)
{
    if (!ready(a, resp))
        return;
    const char *id = http_arg(req, "id"), *attr = http_arg(req, "attr");
    const char *horizon = http_arg(req, "horizon"), *level = http_arg(req, "level");
    if (!id || !*id || !attr || !*attr) {
        problem(resp, 400, "bad-query", "Bad query", "id and attr are required");
        return;
    }
    int64_t h = 24 * 3600000LL;
    if (horizon && (clock_parse_duration(horizon, &h) || h < 3600000LL || h > 14 * 86400000LL)) {
        problem(resp, 400, "bad-query", "Bad query", "horizon is a duration from 1h to 14d");
        return;
    }
    double lv = 0.95;
    if (level) {
        char *end;
        lv = strtod(level, &end);
        if (*end || !(lv >= 0.5 && lv <= 0.999)) {
            problem(resp, 400, "bad-query", "Bad query", "level is a probability from 0.5 to 0.999");
            return;
        }
    }
    int rc = alerts_forecast(a->alerts, p->tenant, id, attr, h, lv, &resp->body);
    if (rc == VG_ENOENT)
        problem(resp, 404, "not-found", "Not found", "no series '%s' '%s'", id, attr);
    else if (rc == VG_ETYPE)
        problem(resp, 400, "bad-query", "Bad query", "'%s' of '%s' is not numeric", attr, id);
    else if (rc)
        problem(resp, 500, "internal", "Internal error", "%s", vg_strerror(rc));
    else
        answer_json(resp, 200);
}
