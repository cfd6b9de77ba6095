/*
** api/h_quarantine.c: GET /api/v1/quarantine: what was refused, with its reason, newest first.
** Parameters: source (exact), since (RFC 3339 or epoch ms), limit (default 100, max 10000).
** Answer: {"total":N,"items":[{"id","received","source","reason","raw"}]}
** POST /api/v1/quarantine/replay?source=&id=&mapping= (admin): the rows again through the
** ingest path, on the running server (docs/sources.md).
** Answer: {"replayed","stored","quarantined","skipped","errors"}
*/
#include "api/api_int.h"

#include "core/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUARANTINE_MAX_RESPONSE (16u << 20) /* bytes: the listing stops there ("truncated") */
#define QUARANTINE_MAX_RAW (64u << 10)       /* raw bytes shown per item */

struct list_ctx {
    struct buf *b;
    int truncated;
};

static int emit(void *arg, const struct meta_quarantine_row *r)
{
    struct list_ctx *c = arg;
    struct buf *b = c->b;
    if (b->len > QUARANTINE_MAX_RESPONSE) {
        c->truncated = 1;
        return 1; /* stop */
    }
    char ts[40];
    if (b->p[b->len - 1] != '[')
        buf_putc(b, ',');
    clock_format_rfc3339(r->received_ms, ts, sizeof(ts));
    buf_printf(b, "{\"id\":%lld,\"received\":\"%s\",\"source\":", (long long)r->id, ts);
    buf_json_str(b, r->source, strlen(r->source));
    buf_puts(b, ",\"reason\":");
    buf_json_str(b, r->reason, strlen(r->reason));
    buf_puts(b, ",\"raw\":");
    buf_json_str(b, r->raw, VG_MIN(r->raw_len, (size_t)QUARANTINE_MAX_RAW));
    if (r->raw_len > QUARANTINE_MAX_RAW)
        buf_printf(b, ",\"raw_bytes\":%zu,\"raw_truncated\":true", r->raw_len);
    buf_putc(b, '}');
    return 0;
}

void h_quarantine(struct api *a, struct http_req *req, struct http_resp *resp,
                  const struct principal *p)
{
    const char *source = http_arg(req, "source");
    const char *s;
    int64_t since = 0;
    uint32_t limit = 100;
    if ((s = http_arg(req, "since")) && clock_parse_time(s, strlen(s), &since)) {
        problem(resp, 400, "bad-query", "Bad query", "since '%s' is neither RFC 3339 nor epoch ms",
                s);
        return;
    }
    if ((s = http_arg(req, "limit"))) {
        char *end;
        long l = strtol(s, &end, 10);
        if (*end || l <= 0 || l > 10000) {
            problem(resp, 400, "bad-query", "Bad query", "limit must be 1..10000");
            return;
        }
        limit = (uint32_t)l;
    }
    uint64_t total = 0;
    int rc = meta_quarantine_count(a->meta, p->tenant, &total);
    struct buf *b = &resp->body;
    buf_printf(b, "{\"total\":%llu,\"items\":[", (unsigned long long)total);
    struct list_ctx lc = {b, 0};
    if (!rc)
        rc = meta_quarantine_list(a->meta, p->tenant, source, since, limit, emit, &lc);
    if (rc == 1 && lc.truncated)
        rc = 0;
    if (rc) {
        problem(resp, 500, "internal", "Internal error", "cannot read the quarantine: %s",
                vg_strerror(rc));
        return;
    }
    buf_printf(b, "]%s}\n", lc.truncated ? ",\"truncated\":true" : "");
    resp->status = 200;
    resp->ctype = "application/json";
}

void h_quarantine_replay(struct api *a, struct http_req *req, struct http_resp *resp,
                         const struct principal *p)
{
    struct api_replay_req rq = {p->tenant, http_arg(req, "source"), NULL, 0};
    const char *s = http_arg(req, "id");
    const char *m = http_arg(req, "mapping");
    if (s) {
        char *end;
        long long id = strtoll(s, &end, 10);
        if (*end || id <= 0) {
            problem(resp, 400, "bad-query", "Bad query", "id must be a quarantine row id");
            return;
        }
        rq.id = id;
    }
    char path[1200];
    if (m) { /* a mapping of the server's mappings directory, by name */
        if (api_mapping_path(a, m, path, sizeof(path))) {
            problem(resp, 400, "bad-query", "Bad query", "mapping: the name of a mapping of "
                                                         "the server's mappings directory");
            return;
        }
        rq.mapping = path;
    }
    if (!a->replay) {
        problem(resp, 503, "unavailable", "Service unavailable", "replay is not available");
        return;
    }
    struct api_replay_res r;
    memset(&r, 0, sizeof(r));
    int rc = a->replay(a->replay_arg, &rq, &r);
    if (rc) {
        problem(resp, rc == VG_EFULL ? 507 : 500, rc == VG_EFULL ? "insufficient-storage"
                                                                 : "internal",
                rc == VG_EFULL ? "Insufficient storage" : "Internal error",
                "replay stopped after %llu rows: %s; the other rows stay in the quarantine",
                (unsigned long long)r.replayed, vg_strerror(rc));
        return;
    }
    struct buf *b = &resp->body;
    buf_printf(b, "{\"replayed\":%llu,\"stored\":%llu,\"quarantined\":%llu,\"skipped\":%llu,"
                  "\"errors\":",
               (unsigned long long)r.replayed, (unsigned long long)r.stored,
               (unsigned long long)r.quarantined, (unsigned long long)r.skipped);
    buf_json_str(b, r.first_errors, strlen(r.first_errors));
    buf_puts(b, "}\n");
    resp->status = 200;
    resp->ctype = "application/json";
}
