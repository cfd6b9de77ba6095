/*
** api/h_live.c: GET /api/v1/live, the Server-Sent Events stream of new values (docs/web.md),
** and api_public_ok(), the one test of what the configuration marks public.
** A stream shows the caller's tenant when it is authenticated with the read scope (or auth is
** off), else, or with public=1, the public series of the public tenant.
** Owns: per stream, struct sse (its filter copies, cursor and pending output).
** Borrows: the live feed (api/live.h).
*/
#include "api/api_int.h"
#include "api/live.h"

#include "core/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIVE_MAX_EVENTS 500 /* values per SSE event */
#define LIVE_MAX_FILTER 4096

int api_public_ok(const struct api *a, const char *type, const char *attr)
{
    size_t tl = strlen(type);
    /* "<attr>@unitCode" follows its attribute */
    const char *at = strchr(attr, '@');
    size_t al = at ? (size_t)(at - attr) : strlen(attr);
    for (uint32_t i = 0; i < a->o.npublic; i++) {
        const char *s = a->o.public_specs[i];
        const char *colon = strchr(s, ':');
        size_t sl = colon ? (size_t)(colon - s) : strlen(s);
        if (sl != tl || memcmp(s, type, tl) != 0)
            continue;
        if (!colon || live_list_has(colon + 1, attr, al))
            return 1;
    }
    return 0;
}

int api_public_filter(void *arg, const char *type, const char *attr)
{
    return api_public_ok(arg, type, attr);
}

struct sse {
    struct api *a;
    int fd; /* the connection's socket (open while MHD calls sse_read) */
    struct live_filter f;
    char tenant[64];
    char *types, *ids, *attrs; /* owned copies, NULL = any */
    uint64_t cursor;
    int hb_ms;
    int started, reset;
    struct buf out;
    size_t off;
};

static void sse_free(void *arg)
{
    struct sse *c = arg;
    live_leave(c->a->live);
    free(c->types);
    free(c->ids);
    free(c->attrs);
    buf_release(&c->out);
    free(c);
}

static long sse_read(void *arg, char *dst, size_t cap)
{
    struct sse *c = arg;
    while (c->off >= c->out.len) {
        buf_reset(&c->out);
        c->off = 0;
        if (!c->started) {
            c->started = 1;
            buf_printf(&c->out, "retry: 1000\nevent: hello\ndata: {\"boot\":\"%s\",\"now\":%lld}\n\n",
                       live_boot(c->a->live), (long long)clock_now_ms());
            if (c->reset)
                buf_puts(&c->out, "event: reset\ndata: {}\n\n");
            continue;
        }
        /* Wait in slices of at most a second, looking at the socket in between: a client that
        ** left frees its thread within a second, not at the next heartbeat's failed write. */
        enum live_rc rc = LIVE_TIMEOUT;
        for (int waited = 0; waited < c->hb_ms && rc == LIVE_TIMEOUT;) {
            int slice = VG_MIN(1000, c->hb_ms - waited);
            rc = live_read(c->a->live, &c->cursor, &c->f, slice, LIVE_MAX_EVENTS, &c->out);
            waited += slice;
            if (rc == LIVE_TIMEOUT && http_peer_gone(c->fd))
                return HTTP_STREAM_END;
        }
        switch (rc) {
        case LIVE_DATA: break;
        case LIVE_TIMEOUT:
            buf_printf(&c->out, "event: hb\ndata: {\"now\":%lld}\n\n", (long long)clock_now_ms());
            break;
        case LIVE_RESET: buf_puts(&c->out, "event: reset\ndata: {}\n\n"); break;
        case LIVE_CLOSED: return HTTP_STREAM_END;
        }
    }
    size_t n = VG_MIN(cap, c->out.len - c->off);
    memcpy(dst, c->out.p + c->off, n);
    c->off += n;
    return (long)n;
}

static char *filter_copy(struct http_req *req, const char *name)
{
    const char *v = http_arg(req, name);
    return v && *v ? vg_strdup(v) : NULL;
}

void h_live(struct api *a, struct http_req *req, struct http_resp *resp, const struct principal *p)
{
    if (!a->live || !http_streams_ok(a->http)) {
        problem(resp, 503, "live-unavailable", "Live updates unavailable",
                "live updates need one thread per connection (threads = 0)");
        return;
    }
    const char *hb = http_arg(req, "heartbeat");
    long hb_s = 15;
    if (hb) {
        char *end;
        hb_s = strtol(hb, &end, 10);
        if (*end || hb_s < 1 || hb_s > 60) {
            problem(resp, 400, "bad-query", "Bad query", "heartbeat is 1 to 60 seconds");
            return;
        }
    }
    static const char *const lists[] = {"type", "id", "attr"};
    for (size_t i = 0; i < VG_ARRAY_LEN(lists); i++) {
        const char *v = http_arg(req, lists[i]);
        if (v && strlen(v) > LIVE_MAX_FILTER) {
            problem(resp, 400, "bad-query", "Bad query", "%s= is longer than %d bytes", lists[i],
                    LIVE_MAX_FILTER);
            return;
        }
    }
    const char *pubarg = http_arg(req, "public");
    int full = (!a->o.auth || p->authenticated) &&
               (p->scope == SCOPE_READ || p->scope == SCOPE_ADMIN) &&
               !(pubarg && strcmp(pubarg, "0") != 0);
    uint64_t cursor;
    int reset;
    if (live_join(a->live, a->o.live_max_clients, http_header(req, "Last-Event-ID"), &cursor,
                  &reset)) {
        problem(resp, 503, "overloaded", "Service unavailable",
                "%u live streams are open already; retry later", a->o.live_max_clients);
        http_resp_header(resp, "Retry-After", "5");
        return;
    }
    struct sse *c = vg_calloc(1, sizeof(*c));
    c->a = a;
    c->fd = http_conn_fd(req);
    snprintf(c->tenant, sizeof(c->tenant), "%s", full ? p->tenant : a->o.public_tenant);
    c->types = filter_copy(req, "type");
    c->ids = filter_copy(req, "id");
    c->attrs = filter_copy(req, "attr");
    c->f.tenant = c->tenant;
    c->f.types = c->types;
    c->f.ids = c->ids;
    c->f.attrs = c->attrs;
    if (!full) {
        c->f.pub = api_public_filter;
        c->f.pub_arg = a;
        http_resp_header(resp, "Access-Control-Allow-Origin", "*"); /* public data: any website */
    }
    c->cursor = cursor;
    c->reset = reset;
    c->hb_ms = (int)hb_s * 1000;
    buf_init(&c->out, 0);
    resp->status = 200;
    resp->ctype = "text/event-stream";
    http_resp_header(resp, "Cache-Control", "no-store");
    http_resp_header(resp, "X-Accel-Buffering", "no");
    resp->stream.read = sse_read;
    resp->stream.free = sse_free;
    resp->stream.arg = c;
}

void h_live_metrics(struct api *a, struct buf *b)
{
    if (!a->live)
        return;
    struct live_stats ls;
    live_get_stats(a->live, &ls);
    buf_printf(b,
               "# HELP vigie_live_clients Open GET /api/v1/live streams.\n"
               "# TYPE vigie_live_clients gauge\nvigie_live_clients %llu\n"
               "# HELP vigie_live_values_total Values published to the live feed.\n"
               "# TYPE vigie_live_values_total counter\nvigie_live_values_total %llu\n"
               "# HELP vigie_live_resets_total Streams told to re-read the state (resume "
               "impossible).\n# TYPE vigie_live_resets_total counter\nvigie_live_resets_total %llu\n",
               (unsigned long long)ls.readers, (unsigned long long)ls.published,
               (unsigned long long)ls.resets);
}
