/*
** api/h_sources.c: GET /api/v1/sources: the source registry of the caller's tenant (every
** tenant for an admin key with ?tenant=*): name, kind, owner, cadence, counters, last seen,
** last error, stale, connected (MQTT).
** Answer: {"sources":[{...}]} in name order.
*/
#include "api/api_int.h"

#include "core/clock.h"
#include "ingest/sources.h"

#include <string.h>

static void time_member(struct buf *b, const char *name, int64_t ms)
{
    char ts[40];
    if (!ms) {
        buf_printf(b, ",\"%s\":null", name);
        return;
    }
    clock_format_rfc3339(ms, ts, sizeof(ts));
    buf_printf(b, ",\"%s\":\"%s\"", name, ts);
}

static int emit(void *arg, const struct source_info *si)
{
    struct buf *b = arg;
    if (b->p[b->len - 1] != '[')
        buf_putc(b, ',');
    buf_puts(b, "{\"name\":");
    buf_json_str(b, si->name, strlen(si->name));
    buf_printf(b, ",\"kind\":\"%s\",\"tenant\":", source_kind_name(si->kind));
    buf_json_str(b, si->tenant, strlen(si->tenant));
    buf_puts(b, ",\"owner\":");
    buf_json_str(b, si->owner, strlen(si->owner));
    if (si->cadence_ms)
        buf_printf(b, ",\"cadence_s\":%lld", (long long)(si->cadence_ms / 1000));
    else
        buf_puts(b, ",\"cadence_s\":null");
    buf_printf(b, ",\"received\":%llu,\"stored\":%llu,\"quarantined\":%llu,\"errors\":%llu",
               (unsigned long long)si->received, (unsigned long long)si->stored,
               (unsigned long long)si->quarantined, (unsigned long long)si->errors);
    time_member(b, "last_seen", si->last_seen_ms);
    time_member(b, "last_error_at", si->last_error_ms);
    buf_puts(b, ",\"last_error\":");
    if (si->last_error[0])
        buf_json_str(b, si->last_error, strlen(si->last_error));
    else
        buf_puts(b, "null");
    buf_printf(b, ",\"stale\":%s", si->stale ? "true" : "false");
    if (si->connected >= 0)
        buf_printf(b, ",\"connected\":%s", si->connected ? "true" : "false");
    buf_putc(b, '}');
    return 0;
}

void h_sources(struct api *a, struct http_req *req, struct http_resp *resp,
               const struct principal *p)
{
    const char *t = http_arg(req, "tenant");
    const char *tenant = p->tenant;
    if (t && !strcmp(t, "*")) {
        if (p->scope < SCOPE_ADMIN) {
            problem(resp, 403, "forbidden", "Forbidden",
                    "listing the sources of every tenant needs an admin key");
            return;
        }
        tenant = NULL;
    }
    struct buf *b = &resp->body;
    buf_puts(b, "{\"sources\":[");
    if (a->sources)
        sources_list(a->sources, tenant, clock_now_ms(), emit, b);
    buf_puts(b, "]}\n");
    resp->status = 200;
    resp->ctype = "application/json";
}

/* Prometheus lines of the registry (GET /metrics, admin). */
struct metrics_ctx {
    struct buf *b;
    int field;
};

static void label(struct buf *b, const struct source_info *si)
{
    buf_puts(b, "{source=\"");
    for (const char *c = si->name; *c; c++) { /* Prometheus label escaping */
        if (*c == '"' || *c == '\\')
            buf_putc(b, '\\');
        if (*c == '\n')
            buf_puts(b, "\\n");
        else
            buf_putc(b, *c);
    }
    buf_printf(b, "\",kind=\"%s\"}", source_kind_name(si->kind));
}

static int metric_line(void *arg, const struct source_info *si)
{
    struct metrics_ctx *c = arg;
    const char *names[] = {"vigie_source_received_total", "vigie_source_stored_total",
                           "vigie_source_quarantined_total", "vigie_source_errors_total",
                           "vigie_source_last_seen_seconds", "vigie_source_stale"};
    uint64_t v[] = {si->received, si->stored, si->quarantined, si->errors,
                    (uint64_t)(si->last_seen_ms / 1000), (uint64_t)si->stale};
    buf_puts(c->b, names[c->field]);
    label(c->b, si);
    buf_printf(c->b, " %llu\n", (unsigned long long)v[c->field]);
    return 0;
}

void h_sources_metrics(struct api *a, struct buf *b)
{
    static const char *const help[][3] = {
        {"vigie_source_received_total", "counter", "Messages, requests or files received."},
        {"vigie_source_stored_total", "counter", "Records stored."},
        {"vigie_source_quarantined_total", "counter", "Records quarantined."},
        {"vigie_source_errors_total", "counter", "Errors (connection, store, bad records)."},
        {"vigie_source_last_seen_seconds", "gauge", "When data last arrived (Unix time)."},
        {"vigie_source_stale", "gauge", "1 when silent for longer than the expected cadence."},
    };
    if (!a->sources)
        return;
    int64_t now = clock_now_ms();
    for (int f = 0; f < 6; f++) {
        buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", help[f][0], help[f][2], help[f][0],
                   help[f][1]);
        struct metrics_ctx c = {b, f};
        sources_list(a->sources, NULL, now, metric_line, &c);
    }
}
